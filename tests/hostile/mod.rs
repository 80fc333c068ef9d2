//! Loopback servers that misbehave on purpose: redirects elsewhere, silence,
//! stalls mid-body, trickles and endless bodies. Each connection's request
//! (head and a Content-Length body) is read and recorded, then the stream is
//! handed to the test's behaviour.

#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::read_request;
/// One request as it arrived (the same as the capture server records).
pub use crate::common::Captured as Request;

impl Request {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a behaviour gets for one connection.
pub struct Conn {
    /// 0 for the first connection, 1 for the next, …
    pub index: usize,
    pub request: Request,
    pub stream: TcpStream,
    /// This server's base URL, e.g. `http://127.0.0.1:4711`.
    pub url: String,
}

pub struct Hostile {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Serve every connection with `behave`.
    pub async fn start<F, Fut>(behave: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_limited(usize::MAX, behave).await
    }

    /// Serve `connections` connections, then stop listening: later
    /// connections are refused.
    pub async fn start_limited<F, Fut>(connections: usize, behave: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let base = url.clone();
        let behave = Arc::new(behave);
        let task = tokio::spawn(async move {
            let mut tasks = Vec::new();
            for index in 0..connections {
                let Ok((mut stream, _)) = listener.accept().await else {
                    break;
                };
                let (log, base, behave) = (log.clone(), base.clone(), behave.clone());
                tasks.push(tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock().unwrap().push(request.clone());
                    behave(Conn {
                        index,
                        request,
                        stream,
                        url: base,
                    })
                    .await;
                }));
            }
            drop(listener);
            for task in tasks {
                let _ = task.await;
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Write a status line and headers. With `length`, a Content-Length header;
/// without, the body runs until the connection closes.
pub async fn head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    length: Option<u64>,
) {
    let mut text = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = length {
        text.push_str(&format!("content-length: {length}\r\n"));
    }
    text.push_str("\r\n");
    let _ = stream.write_all(text.as_bytes()).await;
}

/// A whole response with a Content-Length body.
pub async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &str) {
    head(
        stream,
        status,
        &[("content-type", content_type)],
        Some(body.len() as u64),
    )
    .await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A redirect to `location`.
pub async fn redirect(stream: &mut TcpStream, status: u16, location: &str) {
    head(stream, status, &[("location", location)], Some(0)).await;
    let _ = stream.shutdown().await;
}

/// Hold the connection open and say nothing more.
pub async fn stall(stream: TcpStream) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    drop(stream);
}

/// Send `body` a few bytes at a time, `every` apart.
pub async fn trickle(stream: &mut TcpStream, body: &[u8], piece: usize, every: Duration) {
    for part in body.chunks(piece) {
        if stream.write_all(part).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
        tokio::time::sleep(every).await;
    }
    let _ = stream.shutdown().await;
}

/// Send `prefix`, then `total` bytes made of repeats of `unit`, then
/// `suffix`, generated as they go (the test never holds the whole body),
/// stopping quietly when the client hangs up.
pub async fn endless(
    stream: &mut TcpStream,
    prefix: &[u8],
    unit: &[u8],
    total: u64,
    suffix: &[u8],
) {
    if stream.write_all(prefix).await.is_err() {
        return;
    }
    let block: Vec<u8> = unit
        .iter()
        .copied()
        .cycle()
        .take(64 * 1024 / unit.len() * unit.len())
        .collect();
    let mut sent = 0u64;
    while sent < total {
        let n = block.len().min((total - sent) as usize);
        if stream.write_all(&block[..n]).await.is_err() {
            return;
        }
        sent += n as u64;
    }
    let _ = stream.write_all(suffix).await;
    let _ = stream.shutdown().await;
}

/// One audit-log record as JSON text.
pub fn record(uuid: &str, timestamp: &str) -> String {
    serde_json::json!({
        "timestamp": timestamp,
        "event_uuid": uuid,
        "client_ip": "10.0.0.1",
        "url": "/api/v1/thing",
        "action": "read",
    })
    .to_string()
}
