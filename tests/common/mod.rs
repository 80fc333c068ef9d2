//! A one-route HTTP/1.1 server on loopback that records every request it gets
//! and answers each with the same canned reply. Just enough HTTP for the SDK's
//! requests (Content-Length bodies, one request per connection).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Captured {
    /// The value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
    pub fault: Fault,
}

/// A way for the server to misbehave after reading the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Close the connection without answering.
    Reset,
    /// Announce the full body length, send half of it, close.
    Truncate,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
            fault: Fault::None,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.into(),
            delay: Duration::ZERO,
            fault: Fault::None,
        }
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

pub struct CaptureServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CaptureServer {
    pub async fn start(reply: Reply) -> Self {
        Self::script(vec![reply]).await
    }

    /// Answer the n-th request with `replies[n]`; the last reply repeats.
    pub async fn script(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Self::serve_on(listener, replies)
    }

    /// Serve the script on a listener the test bound itself.
    pub fn serve_on(listener: TcpListener, replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty());
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let task = tokio::spawn(async move {
            let mut served = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                let reply = replies[served.min(replies.len() - 1)].clone();
                served += 1;
                tokio::spawn(async move {
                    // A client that hangs up early is not the server's problem.
                    let _ = serve(stream, &reply, &log).await;
                });
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    /// The only request received; panics if there was not exactly one.
    pub fn single(&self) -> Captured {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:?}"
        );
        requests.into_iter().next().unwrap()
    }

    /// A client for this server with a fixed test key and no retries (the
    /// retry tests configure their own).
    pub fn client(&self) -> datafold_sdk::Client {
        client_for(&self.url)
    }
}

/// A client for a test server at `url`, with the test key and no
/// retries.
pub fn client_for(url: &str) -> datafold_sdk::Client {
    datafold_sdk::Client::builder()
        .api_key(TEST_KEY)
        .host(url)
        .retry_policy(datafold_sdk::RetryPolicy::none())
        .build()
        .expect("client for a test server")
}

/// A loopback URL where nothing listens: connections are refused.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// Obviously fake key used by the tests.
pub const TEST_KEY: &str = "test-key-not-a-secret";

/// Read one request (head and a Content-Length body) from `stream`; `None`
/// when the client hangs up first.
pub async fn read_request(stream: &mut TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Captured {
        method,
        path,
        headers,
        body,
    })
}

async fn serve(mut stream: TcpStream, reply: &Reply, log: &Mutex<Vec<Captured>>) -> Option<()> {
    let request = read_request(&mut stream).await?;
    log.lock().unwrap().push(request);

    tokio::time::sleep(reply.delay).await;
    if reply.fault == Fault::Reset {
        return None;
    }
    let mut response = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
    let body = match reply.fault {
        Fault::Truncate => &reply.body[..reply.body.len() / 2],
        _ => reply.body.as_str(),
    };
    response.push_str(body);
    stream.write_all(response.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()
}
