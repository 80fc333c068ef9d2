//! The mock's resource limits: connections that stall (in their headers, in
//! their body, or between requests) are closed after the configured timeouts;
//! a flood of idle connections does not stop a fresh client from being
//! answered, even under a low open-file limit; the request log keeps only its
//! latest records while the counts keep counting; the standalone printer
//! prints each request once, in order, and sleeps while nothing happens.

mod mock_support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafold_sdk::mock::{Fault, Faults, MockServer, MockServerBuilder};
use mock_support::KEY;

/// How long a test waits for something that should happen within a fraction
/// of it: generous, so that a loaded machine does not fail the test.
const PATIENCE: Duration = Duration::from_secs(20);

fn start(builder: MockServerBuilder) -> MockServer {
    builder
        .api_key(KEY)
        .seed_events(0)
        .start()
        .expect("the mock starts")
}

fn connect(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    stream
}

fn list_request(connection: &str) -> String {
    format!(
        "GET /api/v1/lineage/bi/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Key {KEY}\r\nConnection: {connection}\r\n\r\n"
    )
}

/// Read until the server closes the connection (EOF or reset) and return
/// when that happened, or `None` if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(Instant::now()),
        }
    }
    None
}

/// Read one complete response to a `list_request` (its headers and its
/// `Content-Length` body) and return its status line.
fn read_response(stream: &mut TcpStream) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(Instant::now() < deadline, "no complete response");
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed before the response ended: {received:?}"),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read failed: {e}"),
        }
        let text = String::from_utf8_lossy(&received);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text.lines().next().unwrap_or_default().to_owned();
            }
        }
    }
}

#[test]
fn a_connection_that_stalls_in_its_headers_is_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let server = start(
        MockServer::builder()
            .header_read_timeout(timeout)
            .idle_timeout(Duration::from_secs(60)),
    );
    let opened = Instant::now();
    let mut stream = connect(server.url());
    stream
        .write_all(b"GET /api/v1/lineage/bi/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("half a header is sent");
    let closed = closed_within(&mut stream, 10 * timeout)
        .expect("a connection stalled in its headers is closed within 10x the header timeout");
    let after = closed - opened;
    assert!(
        after >= timeout - Duration::from_millis(50),
        "closed too early: {after:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let server = start(
        MockServer::builder()
            .header_read_timeout(Duration::from_secs(60))
            .idle_timeout(timeout),
    );
    let mut stream = connect(server.url());
    stream
        .write_all(list_request("keep-alive").as_bytes())
        .expect("request sent");
    assert_eq!(read_response(&mut stream), "HTTP/1.1 200 OK");
    let answered = Instant::now();
    let closed = closed_within(&mut stream, 10 * timeout)
        .expect("an idle keep-alive connection is closed within 10x the idle timeout");
    let after = closed - answered;
    assert!(
        after >= timeout - Duration::from_millis(50),
        "closed too early: {after:?}"
    );
}

#[test]
fn a_request_body_that_stalls_is_closed_after_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let server = start(
        MockServer::builder()
            .header_read_timeout(Duration::from_secs(60))
            .idle_timeout(timeout),
    );
    let mut stream = connect(server.url());
    let head = format!(
        "POST /api/v1/lineage/bi/dbt/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Key {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ci_con"
    );
    stream
        .write_all(head.as_bytes())
        .expect("head and some body sent");
    assert!(
        closed_within(&mut stream, 10 * timeout).is_some(),
        "a connection whose body stalls is closed within 10x the idle timeout"
    );
    assert_eq!(server.request_counts().applied, 0, "nothing was created");
}

#[tokio::test]
async fn the_time_the_server_takes_does_not_count_as_idle() {
    // Latency injected by the server itself is longer than the idle timeout:
    // the request is still answered.
    let server = start(
        MockServer::builder()
            .idle_timeout(Duration::from_millis(100))
            .faults(Faults::new().latency(Duration::from_millis(400))),
    );
    let list = mock_support::client(&server).bi().list().await;
    assert!(list.is_ok(), "{list:?}");
}

/// `datafold-mock` run under `ulimit -n <files>`; killed when dropped.
struct LimitedMock {
    child: Child,
    url: String,
}

impl LimitedMock {
    fn start(files: u32, args: &[&str]) -> LimitedMock {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_datafold-mock"))
            .args(["--quiet", "--port", "0", "--api-key", KEY])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("datafold-mock starts");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("first line");
        let url = first
            .trim()
            .strip_prefix("datafold-mock listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        LimitedMock { child, url }
    }
}

impl Drop for LimitedMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open `idle` connections that send nothing, then ask for the list on a
/// fresh one: it must be answered.
fn fresh_client_is_answered_despite_idle_connections(mock: &LimitedMock, idle: usize) {
    let idlers: Vec<TcpStream> = (0..idle).map(|_| connect(&mock.url)).collect();
    let mut fresh = connect(&mock.url);
    fresh
        .write_all(list_request("close").as_bytes())
        .expect("request sent");
    assert_eq!(
        read_response(&mut fresh),
        "HTTP/1.1 200 OK",
        "a fresh client is answered while {idle} idle connections are open"
    );
    drop(idlers);
}

#[cfg(unix)]
#[test]
fn idle_connections_beyond_the_cap_do_not_starve_a_fresh_client() {
    // 24 open files: without a cap, 30 idle sockets exhaust them and the
    // mock can accept nothing more. The timeouts are long: the cap makes
    // room by closing the connections idle the longest.
    let mock = LimitedMock::start(
        24,
        &[
            "--max-connections",
            "8",
            "--header-timeout",
            "600",
            "--idle-timeout",
            "600",
        ],
    );
    fresh_client_is_answered_despite_idle_connections(&mock, 30);
}

#[cfg(unix)]
#[test]
fn running_out_of_open_files_below_the_cap_is_survived() {
    // The default cap (128) is above this open-file limit: accepting fails
    // until the connection idle the longest is closed to free a descriptor.
    let mock = LimitedMock::start(24, &["--header-timeout", "600", "--idle-timeout", "600"]);
    fresh_client_is_answered_despite_idle_connections(&mock, 30);
}

/// The standalone command lines: `datafold-mock`, and `datafold mock serve`
/// when the CLI is built.
fn standalone_commands() -> Vec<Command> {
    #[allow(unused_mut)]
    let mut commands = vec![Command::new(env!("CARGO_BIN_EXE_datafold-mock"))];
    #[cfg(feature = "cli")]
    {
        let mut serve = Command::new(env!("CARGO_BIN_EXE_datafold"));
        serve.args(["mock", "serve"]);
        commands.push(serve);
    }
    commands
}

#[test]
fn both_command_lines_take_the_limits_and_refuse_bad_values() {
    for make in 0..standalone_commands().len() {
        let command = || standalone_commands().swap_remove(make);
        for bad in [
            &["--header-timeout", "0"][..],
            &["--idle-timeout", "1e300"],
            &["--idle-timeout", "10s"],
            &["--max-connections", "0"],
            &["--request-log-size", "many"],
        ] {
            let output = command().args(bad).output().expect("runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{bad:?}: {stderr}");
            assert!(stderr.contains(bad[0]), "{bad:?} is named: {stderr}");
        }

        let mut child = command()
            .args(["--quiet", "--port", "0", "--header-timeout", "0.3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut stream = connect(&url);
        stream
            .write_all(b"GET / HTTP/1.1\r\n")
            .expect("half a header is sent");
        let closed = closed_within(&mut stream, Duration::from_secs(3));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            closed.is_some(),
            "--header-timeout 0.3 is applied ({first})"
        );
    }
}

#[tokio::test]
async fn the_request_log_keeps_the_latest_records_and_counts_them_all() {
    let server = start(MockServer::builder().request_log_capacity(50));
    let client = mock_support::client(&server);
    for _ in 0..200 {
        client.bi().list().await.expect("list");
    }
    let log = server.request_log();
    assert_eq!(log.len(), 50, "the log keeps its bound");
    let seqs: Vec<u64> = log.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (150..200).collect::<Vec<u64>>(),
        "the latest are kept"
    );
    let counts = server.request_counts();
    assert_eq!(counts.total, 200);
    assert_eq!(counts.by_status.get(&200), Some(&200));

    // A reader that saw the first 20 records learns that 130 are gone and
    // gets the 50 kept; one that is up to date gets nothing.
    let page = server.request_log_after(20);
    assert_eq!(page.skipped, 130);
    assert_eq!(page.records, log);
    assert_eq!(page.next, 200);
    let nothing = server.request_log_after(page.next);
    assert!(nothing.records.is_empty() && nothing.skipped == 0);
}

#[tokio::test]
async fn counts_cover_faults_and_resets_beyond_the_log() {
    let faults = Faults::new()
        .seed(3)
        .rate(Fault::RateLimited, 0.2)
        .rate(Fault::ResetBeforeHandler, 0.2)
        .retry_after_secs(0);
    let server = start(MockServer::builder().request_log_capacity(0).faults(faults));
    let raw = mock_support::raw();
    let url = format!("{}/api/v1/lineage/bi/", server.url());
    for _ in 0..100 {
        let _ = raw
            .get(&url)
            .header("Authorization", format!("Key {KEY}"))
            .send()
            .await;
    }
    assert!(
        server.request_log().is_empty(),
        "capacity 0 keeps no records"
    );
    let counts = server.request_counts();
    let fault = |f| counts.by_fault.get(&f).copied().unwrap_or_default();
    assert_eq!(counts.total, 100);
    assert_eq!(counts.resets, fault(Fault::ResetBeforeHandler));
    assert_eq!(
        counts.by_status.get(&429).copied().unwrap_or_default(),
        fault(Fault::RateLimited)
    );
    assert!(
        fault(Fault::RateLimited) > 5 && fault(Fault::ResetBeforeHandler) > 5,
        "{counts:?}"
    );
    let answered: u64 = counts.by_status.values().sum();
    assert_eq!(answered + counts.resets, 100);
}

/// The number of times a thread of a process went to sleep or was preempted.
#[cfg(target_os = "linux")]
fn context_switches(pid: u32, tid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .expect("/proc is readable");
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_printer_prints_each_request_once_in_order_and_sleeps_when_idle() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_datafold-mock"))
        .args(["--port", "0", "--api-key", KEY])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("datafold-mock starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    let url = first
        .trim()
        .strip_prefix("datafold-mock listening on ")
        .expect("URL line")
        .to_owned();
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let raw = mock_support::raw();
    let count = 30;
    let mut expected = Vec::new();
    for i in 1..=count {
        // Unknown ids: a 404 each, on a path of its own.
        let path = format!("/api/v1/lineage/bi/{i}/");
        let response = raw
            .get(format!("{url}{path}"))
            .header("Authorization", format!("Key {KEY}"))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 404);
        expected.push(format!("GET {path} -> 404"));
    }
    drop(raw);
    let mut printed = Vec::new();
    while printed.len() < count {
        match received.recv_timeout(PATIENCE) {
            Ok(line) => printed.push(line),
            Err(e) => panic!("{e}: printed only {printed:?}"),
        }
    }
    assert_eq!(printed, expected, "each request once, in order");

    // Idle: no line is printed again, and the printing thread (the main
    // thread) does not wake up to look.
    let pid = child.id();
    let before = context_switches(pid, pid);
    let again = received.recv_timeout(Duration::from_secs(2));
    let after = context_switches(pid, pid);
    let _ = child.kill();
    let _ = child.wait();
    assert!(again.is_err(), "printed again: {again:?}");
    assert!(
        after - before <= 2,
        "the idle printer woke up {} times in 2 s",
        after - before
    );
}
