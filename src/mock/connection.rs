//! Connections: the accept loop with its cap on open connections (evicting
//! the connection idle the longest to make room), and one hyper HTTP/1
//! connection per socket with a header-read timeout (hyper's) and an idle
//! timeout (a watchdog on the socket's progress).

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::limits::Limits;
use super::liveness::Connection;
use super::server::{serve, Shared};

/// The first wait after a failed accept (out of file descriptors and the
/// like); it doubles up to [`LAST_ACCEPT_RETRY`] while accepting keeps
/// failing, and a connection closing ends it early.
const FIRST_ACCEPT_RETRY: Duration = Duration::from_millis(10);
const LAST_ACCEPT_RETRY: Duration = Duration::from_secs(1);
/// How long a connection must have been idle before it is closed to make
/// room for a new one (or the idle timeout, if shorter): connections busy
/// with quick requests are left alone.
const EVICTABLE_AFTER: Duration = Duration::from_secs(1);

/// Accept connections until the task is dropped, serving at most
/// `limits.max_connections` at once. A connection accepted beyond the cap (or
/// a failed accept) closes the one idle the longest (see
/// [`Open::evict_idlest`]) and waits for its place; when none is idle long
/// enough, it waits for one to close.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let open = Arc::new(Open::default());
    let evictable_after = EVICTABLE_AFTER.min(limits.idle_timeout);
    let mut retry = FIRST_ACCEPT_RETRY;
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Most likely out of file descriptors, below the cap: free one
                // the way the cap does. Retrying at once would spin while the
                // backlog is non-empty, so wait for a connection to close or
                // for the back-off, whichever comes first.
                open.evict_idlest(evictable_after);
                let _ = tokio::time::timeout(retry, open.closed.notified()).await;
                retry = (retry * 2).min(LAST_ACCEPT_RETRY);
                continue;
            }
        };
        retry = FIRST_ACCEPT_RETRY;
        // At the cap, this one socket is held (one descriptor over the cap)
        // until an open connection makes room.
        let permit = loop {
            if let Ok(permit) = slots.clone().try_acquire_owned() {
                break permit;
            }
            let wait = open.evict_idlest(evictable_after);
            if let Ok(Ok(permit)) = tokio::time::timeout(wait, slots.clone().acquire_owned()).await
            {
                break permit;
            }
        };
        next_id += 1;
        let connection = Arc::new(Connection::new());
        open.insert(next_id, connection.clone());
        let slot = Slot {
            _permit: permit,
            id: next_id,
            open: open.clone(),
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            shared.clone(),
            limits,
            connection,
            slot,
        ));
    }
}

/// The open connections, for eviction.
#[derive(Default)]
struct Open {
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    /// Notified whenever a connection closes.
    closed: Notify,
}

impl Open {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, id: u64, connection: Arc<Connection>) {
        self.connections().insert(id, connection);
    }

    /// Close the connection idle the longest, if it has been idle for at
    /// least `after` and the server is not busy with it; return how long to
    /// wait before trying again.
    fn evict_idlest(&self, after: Duration) -> Duration {
        let now = Instant::now();
        let idlest = self
            .connections()
            .values()
            .filter(|c| !c.evicted.load(Ordering::SeqCst))
            .filter_map(|c| c.idle_since().map(|since| (since, c.clone())))
            .min_by_key(|(since, _)| *since);
        match idlest {
            Some((since, connection)) if since + after <= now => {
                connection.evicted.store(true, Ordering::SeqCst);
                connection.evict.notify_one();
                // Its place comes free as soon as its task sees the signal.
                after
            }
            Some((since, _)) => (since + after).saturating_duration_since(now),
            None => after,
        }
    }
}

/// A connection's place under the cap; gives it back when dropped.
struct Slot {
    _permit: OwnedSemaphorePermit,
    id: u64,
    open: Arc<Open>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.connections().remove(&self.id);
        self.open.closed.notify_one();
    }
}

/// Serve one socket until the client closes it, a timeout or an eviction
/// closes it, or the runtime ends.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    limits: Limits,
    connection: Arc<Connection>,
    _slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        connection: connection.clone(),
    });
    let serving = connection.clone();
    let service =
        hyper::service::service_fn(move |req| serve(req, shared.clone(), peer, serving.clone()));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // A connection that ends in error (a client hanging up, an injected
    // reset, a header timeout) is the client's business; nothing to report.
    let mut http = pin!(builder.serve_connection(io, service));
    let idle = limits.idle_timeout;
    let mut watchdog = pin!(tokio::time::sleep(idle));
    let mut evicted = pin!(connection.evict.notified());
    poll_fn(|cx| {
        if http.as_mut().poll(cx).is_ready() || evicted.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        // Wakes once per idle period at most; returning drops the connection,
        // which closes the socket, mid-request if need be.
        while watchdog.as_mut().poll(cx).is_ready() {
            let deadline = connection.idle_deadline(idle);
            if deadline <= Instant::now() {
                return Poll::Ready(());
            }
            watchdog.as_mut().reset(deadline);
        }
        Poll::Pending
    })
    .await;
}

/// A TCP stream that notes each byte moved for the idle watchdog and, when
/// asked to, closes with a reset.
struct WatchedStream {
    inner: TcpStream,
    connection: Arc<Connection>,
}

impl Drop for WatchedStream {
    fn drop(&mut self) {
        if self.connection.reset.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.connection.progressed();
        }
        read
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            this.connection.progressed();
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
