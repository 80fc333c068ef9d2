//! [`Connection`]: what the request pipeline and the socket of one
//! connection tell the idle watchdog and the eviction (both in
//! `connection.rs`), and whether the socket closes with a reset. Its own file
//! so that the pipeline (`server.rs`) and the sockets (`connection.rs`) both
//! use it without importing each other.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What the request pipeline and the socket tell the idle watchdog and the
/// eviction, and whether the socket should close with a reset.
pub(crate) struct Connection {
    opened: Instant,
    /// When bytes last moved either way, in milliseconds since `opened`.
    last_progress_ms: AtomicU64,
    /// Requests in a stretch the server spends on its own (injected latency).
    busy: AtomicUsize,
    /// Close with `SO_LINGER` 0, so the peer sees a reset (RST).
    pub(super) reset: AtomicBool,
    /// Closes the connection to make room for a new one.
    pub(super) evict: Notify,
    /// Whether `evict` was sent (it is sent once).
    pub(super) evicted: AtomicBool,
}

impl Connection {
    pub(super) fn new() -> Self {
        Connection {
            opened: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            reset: AtomicBool::new(false),
            evict: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    /// Hold the idle timeout off while the returned guard lives.
    pub(crate) fn busy(&self) -> Busy<'_> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// Make the socket close with a reset rather than an orderly end.
    pub(crate) fn reset_on_close(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }

    /// Bytes moved: the idle period starts again.
    pub(super) fn progressed(&self) {
        let elapsed = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_progress_ms.store(elapsed, Ordering::SeqCst);
    }

    /// Since when the connection has been idle; `None` while the server is
    /// busy with it.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_progress_ms.load(Ordering::SeqCst));
        Some(self.opened + last)
    }

    /// When the connection will have been idle for `idle`: a full period from
    /// now while the server is busy with it.
    pub(super) fn idle_deadline(&self, idle: Duration) -> Instant {
        self.idle_since()
            .map_or_else(|| Instant::now() + idle, |since| since + idle)
    }
}

/// See [`Connection::busy`].
pub(crate) struct Busy<'a>(&'a Connection);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        // The idle period starts when the server is done, not when it began.
        self.0.progressed();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}
