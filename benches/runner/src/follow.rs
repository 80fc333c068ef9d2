//! `follow_rss` and `follow_latency_p50`/`p99`: the `datafold` binary's
//! `audit-logs follow`, with its metrics endpoint on, over a long run of
//! live traffic, measured from outside.
//!
//! The mock serves live traffic from this process (`RATE` events a second,
//! a tenth of them committed up to 10 s late). The follower is the release
//! `datafold` binary that `cargo xtask bench` builds and names in
//! `DATAFOLD_BENCH_CLI`: `audit-logs follow --interval 1s --lag 20s --state
//! FILE --metrics-addr 127.0.0.1:0`, records to stdout, which this process
//! reads as they come. `/metrics` is scraped at every sample, so the
//! endpoint is in use, not only open. The parent samples the child's
//! `VmRSS` every few seconds and reads `VmHWM` (the peak) before stopping it
//! with SIGTERM.
//!
//! * `follow_rss`: the peak; `follow_rss_growth`: the last resident set
//!   sampled less the one at a third of the run, once the lag is full
//!   (memory that grows with run time shows there).
//! * `follow_latency_p50`/`p99`: for each record, the time from its event's
//!   commit in the mock to the moment its line reached this process. The
//!   mock commits live event `k` at its start plus `k / RATE` (its
//!   documented schedule; late events carry an earlier timestamp but are
//!   committed on the same schedule), so the commit moment is known from
//!   the event's place in `live_audit_events()`. The start is taken as the
//!   middle of the `start()` call (it lasts well under a millisecond).
//!   Events committed in the last 5 s are left out: the run ends before
//!   their poll would. An event committed before that and never written is
//!   reported as undelivered.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafold_sdk::mock::MockServer;

use crate::handwritten::BoxError;
use crate::lines::Line;
use crate::{report, KEY};

/// Each record's `event_uuid` and when its line arrived.
type Arrivals = Vec<(String, DateTime<Utc>)>;

/// Live events a second.
const RATE: f64 = 1_000.0;
/// The poll interval the follower runs with, in seconds.
const INTERVAL_SECS: u64 = 1;
/// What latency leaves out at the end of the run.
const TAIL: Duration = Duration::from_secs(5);

/// Run the figures: the child follows for `secs` seconds.
pub fn run(secs: u64) -> Result<(), BoxError> {
    let cli = std::env::var_os("DATAFOLD_BENCH_CLI").ok_or(
        "DATAFOLD_BENCH_CLI names no datafold binary; run the figure through `cargo xtask bench follow`",
    )?;
    let before = Utc::now();
    let server = MockServer::builder()
        .api_key(KEY)
        .seed_events(0)
        .live_rate(RATE)
        .late_commits(0.1, Duration::from_secs(10))
        .start()?;
    let after = Utc::now();
    let origin = before + (after - before) / 2;
    println!(
        "follow: {secs} s of live traffic at {RATE} events/s ({} events), {INTERVAL_SECS} s interval, \
         20 s lag, the datafold binary with --metrics-addr",
        (RATE * secs as f64) as u64
    );
    let state =
        std::env::temp_dir().join(format!("datafold-bench-{}-follow.json", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let mut child = Command::new(cli)
        .env_remove("DATAFOLD_APIKEY")
        .env("DATAFOLD_API_KEY", KEY)
        .env("DATAFOLD_HOST", server.url())
        .args([
            "audit-logs",
            "follow",
            "--interval",
            &format!("{INTERVAL_SECS}s"),
        ])
        .args(["--lag", "20s", "--metrics-addr", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    // Each record's event_uuid and the moment its line arrived.
    let arrivals: Arc<Mutex<Arrivals>> = Arc::default();
    let sink = arrivals.clone();
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let at = Utc::now();
            let id = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["event_uuid"].as_str().map(str::to_owned));
            if let Some(id) = id {
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((id, at));
            }
        }
    });
    let stderr: Arc<Mutex<Vec<String>>> = Arc::default();
    let lines = stderr.clone();
    let pipe = child.stderr.take().ok_or("no child stderr")?;
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut scrapes = 0u32;
    let mut written = 0.0;
    let sample_every = Duration::from_secs((secs / 15).max(1));
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(sample_every);
        if let Some(kib) = crate::export::status_kib(&pid, "VmRSS:") {
            samples.push((started.elapsed().as_secs_f64(), kib as f64 / 1024.0));
        }
        let addr = metrics_addr(&stderr.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(body) = addr.and_then(|a| scrape(&a)) {
            scrapes += 1;
            written = sample(&body, "datafold_follow_records_written_total").unwrap_or(written);
        }
    }
    let peak_kib = crate::export::status_kib(&pid, "VmHWM:");
    let stopping = Utc::now();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait()?;
    let _ = reader.join();
    let _ = std::fs::remove_file(&state);
    server.stop_live_traffic();
    if !status.success() {
        let said = stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
        return Err(format!("the follower failed ({status}): {said}").into());
    }
    if scrapes == 0 {
        return Err("the metrics endpoint never answered".into());
    }
    let peak = peak_kib.ok_or("cannot read VmHWM from /proc (Linux only)")? as f64 / 1024.0;
    let end = samples
        .last()
        .map(|(_, mib)| *mib)
        .ok_or("cannot read VmRSS from /proc (Linux only)")?;
    let third = samples
        .iter()
        .find(|(t, _)| *t >= secs as f64 / 3.0)
        .map_or(end, |(_, mib)| *mib);
    let shown: Vec<String> = samples
        .iter()
        .map(|(t, mib)| format!("{t:.0}s {mib:.1}"))
        .collect();
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|p| p.into_inner()));
    println!(
        "  {} records read, {written} written by the last of {scrapes} scrapes of /metrics; \
         resident MiB: {}",
        arrivals.len(),
        shown.join(", ")
    );
    // Commit moments by the mock's schedule.
    let committed: HashMap<String, DateTime<Utc>> = server
        .live_audit_events()
        .into_iter()
        .enumerate()
        .map(|(k, event)| {
            let offset = chrono::Duration::microseconds((k as f64 / RATE * 1e6) as i64);
            (event.event_uuid, origin + offset)
        })
        .collect();
    let cutoff = stopping - chrono::Duration::from_std(TAIL)?;
    let mut latencies: Vec<f64> = Vec::with_capacity(arrivals.len());
    let mut delivered = std::collections::HashSet::with_capacity(arrivals.len());
    for (id, at) in &arrivals {
        let commit = committed
            .get(id)
            .ok_or("a record the mock did not commit")?;
        delivered.insert(id.as_str());
        if *commit < cutoff {
            latencies.push((*at - *commit).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
        }
    }
    let undelivered = committed
        .iter()
        .filter(|(id, at)| **at < cutoff && !delivered.contains(id.as_str()))
        .count();
    if latencies.is_empty() {
        return Err("no record was delivered".into());
    }
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "  latency over {} records: min {:.3} s, p50 {:.3} s, p99 {:.3} s, max {:.3} s; \
         {undelivered} committed more than {} s before the end and not written",
        latencies.len(),
        latencies[0],
        quantile(0.5),
        quantile(0.99),
        latencies[latencies.len() - 1],
        TAIL.as_secs()
    );
    if undelivered > 0 {
        return Err(format!("{undelivered} committed records were never written").into());
    }
    report(Line::figure("follow_rss", peak, "MiB"));
    report(Line::figure("follow_rss_growth", end - third, "MiB"));
    report(Line::figure("follow_latency_p50", quantile(0.5), "s"));
    report(Line::figure("follow_latency_p99", quantile(0.99), "s"));
    Ok(())
}

/// The metrics address in the follow's start line.
fn metrics_addr(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        let rest = line.split("metrics=http://").nth(1)?;
        Some(rest.split('/').next()?.to_owned())
    })
}

/// `GET /metrics` from `addr`: the body.
fn scrape(addr: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response.split_once("\r\n\r\n")?.1.to_owned())
}

/// The value of the sample `name` in a Prometheus exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
