//! Peak memory of a large audit-log export: 1,000,000 events from one window,
//! streamed to a JSON Lines file, with the peak resident set size printed.
//!
//! ```sh
//! cargo run --release --example export_rss            # 1,000,000 events
//! cargo run --release --example export_rss -- 200000  # another count
//! ```
//!
//! The mock server runs in a child process (this program, started again with
//! `--serve`), so the figure is the exporting process's alone. Linux only: the
//! peak is read from `VmHWM` in `/proc/self/status`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use datafold_sdk::audit::export::{ExportFormat, IfInterrupted};
use datafold_sdk::chrono::{self, TimeZone, Utc};
use datafold_sdk::mock::MockServer;

const KEY: &str = "export-rss-example-key";

fn window_end() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 1, 0, 0).unwrap()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let events = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        return serve(events);
    }
    let events: u64 = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("not an event count: {n}"))?,
        None => 1_000_000,
    };

    let mut child = Command::new(std::env::current_exe()?)
        .args(["--serve", &events.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut url = String::new();
    BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut url)?;
    let url = url.trim().to_owned();
    if url.is_empty() {
        return Err("the mock server did not start".into());
    }

    let out =
        std::env::temp_dir().join(format!("datafold-export-rss-{}.jsonl", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let summary = runtime.block_on(async {
        let client = datafold_sdk::Client::builder()
            .api_key(KEY)
            .host(&url)
            .build()?;
        client
            .audit_logs()
            .between(window_end() - chrono::Duration::hours(1), window_end())
            .window(Duration::from_secs(3600))
            .write_to_file(ExportFormat::JsonLines, &out, IfInterrupted::Restart)
            .await
    })?;
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&out);
    drop(child.stdin.take());
    let _ = child.wait();

    let peak_kib = peak_rss_kib().ok_or("cannot read VmHWM from /proc/self/status (Linux only)")?;
    println!(
        "events exported: {} (of {events} seeded) in {} window(s)",
        summary.records, summary.windows
    );
    println!(
        "output: {:.1} MiB of JSON Lines",
        summary.bytes as f64 / 1048576.0
    );
    println!(
        "time: {:.2} s ({:.0} events/s)",
        elapsed.as_secs_f64(),
        summary.records as f64 / elapsed.as_secs_f64()
    );
    println!("peak RSS: {:.1} MiB", peak_kib as f64 / 1024.0);
    if summary.records != events {
        return Err(format!("exported {} of {events} events", summary.records).into());
    }
    Ok(())
}

/// The child: a mock server with `events` seeded in the hour before
/// `window_end()`, until the parent closes our stdin.
fn serve(events: u64) -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder()
        .api_key(KEY)
        .seed_events(events)
        .seed_window(window_end(), Duration::from_secs(3600))
        .start()?;
    println!("{}", server.url());
    std::io::stdout().flush()?;
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 {}
    Ok(())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
