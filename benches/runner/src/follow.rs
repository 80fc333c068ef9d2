//! `follow_rss`: a follower's resident memory over a long run of live
//! traffic, measured from outside.
//!
//! The mock serves live traffic from this process (`RATE` events a second,
//! a tenth of them committed up to 10 s late); the follower is this program
//! started again as `datafold-bench follow-child <url> <secs> <out>`: the
//! SDK's `audit_logs().follow()` with a 1 s interval and a 20 s lag, each
//! record written to a file, its state taken after every poll (as the CLI
//! saves it). The parent samples the child's `VmRSS` every few seconds; the
//! child prints `done <records> <polls>` and waits for its stdin to close,
//! so that its `VmHWM` (peak) is read while it is still alive.
//!
//! The figure is the peak; `follow_rss_growth` is the last resident set
//! sampled while following less the one at a third of the run, once the lag
//! is full: memory that grows with run time shows there.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use datafold_sdk::audit::follow::FollowEvent;
use datafold_sdk::mock::MockServer;

use crate::handwritten::BoxError;
use crate::lines::Line;
use crate::{report, KEY};

/// Live events a second.
const RATE: f64 = 1_000.0;

/// Run the figure: the child follows for `secs` seconds.
pub fn run(secs: u64) -> Result<(), BoxError> {
    let server = MockServer::builder()
        .api_key(KEY)
        .seed_events(0)
        .live_rate(RATE)
        .late_commits(0.1, Duration::from_secs(10))
        .start()?;
    println!(
        "follow: {secs} s of live traffic at {RATE} events/s ({} events), 1 s interval, 20 s lag",
        (RATE * secs as f64) as u64
    );
    let out = std::env::temp_dir().join(format!("datafold-bench-{}-follow.jsonl", std::process::id()));
    let mut child = Command::new(std::env::current_exe()?)
        .arg("follow-child")
        .arg(server.url())
        .arg(secs.to_string())
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let sample_every = Duration::from_secs((secs / 15).max(1));
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(sample_every);
        if let Some(kib) = crate::export::status_kib(&pid, "VmRSS:") {
            samples.push((started.elapsed().as_secs_f64(), kib as f64 / 1024.0));
        }
    }
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut line);
    let peak_kib = crate::export::status_kib(&pid, "VmHWM:");
    drop(child.stdin.take());
    let status = child.wait()?;
    let _ = std::fs::remove_file(&out);
    read?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let ["done", records, polls] = words.as_slice() else {
        return Err(format!("the follower failed ({status}): {line:?}").into());
    };
    let peak = peak_kib.ok_or("cannot read VmHWM from /proc (Linux only)")? as f64 / 1024.0;
    // The last sample taken while it was following (by the time it says
    // `done` the follower is gone and its memory given back).
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
    println!("  {records} records in {polls} polls; resident MiB: {}", shown.join(", "));
    report(Line::figure("follow_rss", peak, "MiB"));
    report(Line::figure("follow_rss_growth", end - third, "MiB"));
    Ok(())
}

/// The child (`follow-child <url> <secs> <out>`): follows for `secs`
/// seconds, prints `done <records> <polls>`, then waits for stdin to close.
pub fn child(url: &str, secs: u64, out: &std::path::Path) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (records, polls) = runtime.block_on(async {
        let client = datafold_sdk::Client::builder().api_key(KEY).host(url).build()?;
        let mut follower = client
            .audit_logs()
            .follow()
            .interval(Duration::from_secs(1))
            .lag(Duration::from_secs(20))
            .start()?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
        let (mut records, mut polls) = (0u64, 0u64);
        let stop = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < stop {
            let Ok(event) = tokio::time::timeout_at(stop, follower.next()).await else {
                break;
            };
            match event? {
                FollowEvent::Record(record) => {
                    file.write_all(record.json().as_bytes())?;
                    file.write_all(b"\n")?;
                    records += 1;
                }
                FollowEvent::Polled(_) => {
                    file.flush()?;
                    // What the CLI saves after each poll.
                    let state = serde_json::to_vec(&follower.state())?;
                    std::hint::black_box(state);
                    polls += 1;
                }
                FollowEvent::PollFailed { error, .. } => return Err(error.into()),
                FollowEvent::Rejected(unreadable) => {
                    return Err(format!("the mock sent an unreadable record: {unreadable:?}").into())
                }
            }
        }
        Ok::<_, BoxError>((records, polls))
    })?;
    println!("done {records} {polls}");
    let mut wait = String::new();
    let _ = std::io::stdin().read_line(&mut wait);
    Ok(())
}
