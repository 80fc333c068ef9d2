//! `adaptive_windows` and `export_vs_raw`: how many requests and how large a
//! response the export's windows sized by density take, and what the
//! export costs over copying the bytes.
//!
//! - `export_requests_sparse_year`: 5,000 events spread over 365 days,
//!   exported with the defaults; the requests it sent.
//! - `export_largest_response`: 1,000,000 events in one hour of a day,
//!   the day exported with the defaults (a 64 MiB bound); the most bytes of
//!   body read from one response.
//! - `export_vs_raw`: the export of that hour into a JSON Lines file, against
//!   one reqwest request for the same range whose body is streamed into a
//!   file unparsed; same mock, runs alternating, median wall times.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use datafold_sdk::audit::export::{ExportFormat, ExportSummary, IfInterrupted};
use datafold_sdk::mock::MockServer;
use futures_util::StreamExt;

use crate::handwritten::BoxError;
use crate::lines::Line;
use crate::samples::{client_and_mock_cpu, median, order};
use crate::{report, KEY};

const MIB: f64 = 1_048_576.0;

fn year_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn mock(events: u64, end: DateTime<Utc>, span: Duration) -> Result<MockServer, BoxError> {
    Ok(MockServer::builder()
        .api_key(KEY)
        .seed_events(events)
        .seed_window(end, span)
        .start()?)
}

fn client(server: &MockServer) -> Result<datafold_sdk::Client, BoxError> {
    Ok(datafold_sdk::Client::builder()
        .api_key(KEY)
        .host(server.url())
        .build()?)
}

fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("datafold-bench-{}-{name}", std::process::id()))
}

async fn export_file(
    client: &datafold_sdk::Client,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &Path,
) -> Result<ExportSummary, BoxError> {
    let summary = client
        .audit_logs()
        .between(start, end)
        .write_to_file(ExportFormat::JsonLines, out, IfInterrupted::Restart)
        .await?;
    Ok(summary)
}

/// `export_requests_sparse_year` and `export_largest_response`.
pub async fn adaptive_windows(dense_events: u64) -> Result<(), BoxError> {
    let start = year_end() - chrono::Duration::days(365);
    let server = mock(5_000, year_end(), Duration::from_secs(365 * 86_400))?;
    let out = scratch("sparse.jsonl");
    let summary = export_file(&client(&server)?, start, year_end(), &out).await?;
    let _ = std::fs::remove_file(&out);
    println!(
        "adaptive windows: 5000 events over 365 days: {} records in {} requests (the mock \
         logged {}), largest response {:.3} MiB",
        summary.records,
        summary.requests,
        server.request_log().len(),
        summary.largest_response_bytes as f64 / MIB
    );
    if summary.records != 5_000 {
        return Err(format!(
            "the sparse export wrote {} of 5000 records",
            summary.records
        )
        .into());
    }
    report(Line::figure(
        "export_requests_sparse_year",
        summary.requests as f64,
        "requests",
    ));

    // The dense hour is 12:00 to 13:00 of the day exported.
    let day = year_end() - chrono::Duration::days(1);
    let server = mock(
        dense_events,
        day + chrono::Duration::hours(13),
        Duration::from_secs(3600),
    )?;
    let out = scratch("dense.jsonl");
    let started = Instant::now();
    let summary = export_file(&client(&server)?, day, year_end(), &out).await?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&out);
    println!(
        "adaptive windows: {dense_events} events in one hour of a day: {} records, {:.1} MiB \
         written in {secs:.2} s, {} requests, largest response {:.1} MiB (bound 64 MiB)",
        summary.records,
        summary.bytes as f64 / MIB,
        summary.requests,
        summary.largest_response_bytes as f64 / MIB
    );
    if summary.records != dense_events {
        return Err(format!(
            "the dense export wrote {} of {dense_events} records",
            summary.records
        )
        .into());
    }
    report(Line::figure(
        "export_largest_response",
        summary.largest_response_bytes as f64 / MIB,
        "MiB",
    ));
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Arm {
    Export,
    Raw,
}

/// `export_vs_raw`: `events` in one hour, `runs` per arm.
pub async fn export_vs_raw(events: u64, runs: usize) -> Result<(), BoxError> {
    let end = year_end();
    let start = end - chrono::Duration::hours(1);
    let server = mock(events, end, Duration::from_secs(3600))?;
    let sdk = client(&server)?;
    let raw = reqwest::Client::new();
    println!("export_vs_raw: {events} events in one hour, {runs} runs per arm, alternating");
    let mut times: [Vec<f64>; 2] = Default::default();
    for round in 0..runs {
        for arm in order(&[Arm::Export, Arm::Raw], round) {
            let out = scratch("vs-raw.out");
            let (cpu_before, mock_before) = client_and_mock_cpu();
            let started = Instant::now();
            let (what, bytes) = match arm {
                Arm::Export => {
                    let summary = export_file(&sdk, start, end, &out).await?;
                    if summary.records != events {
                        return Err(
                            format!("the export wrote {} of {events}", summary.records).into()
                        );
                    }
                    (
                        format!("export ({} requests)", summary.requests),
                        summary.bytes,
                    )
                }
                Arm::Raw => (
                    "raw copy".to_owned(),
                    raw_copy(&raw, &server, start, end, &out).await?,
                ),
            };
            let secs = started.elapsed().as_secs_f64();
            let (cpu_after, mock_after) = client_and_mock_cpu();
            let _ = std::fs::remove_file(&out);
            println!(
                "  {what:<24} {:.1} MiB in {secs:.2} s, CPU client {:.2} s, mock {:.2} s",
                bytes as f64 / MIB,
                cpu_after - cpu_before,
                mock_after - mock_before
            );
            times[arm as usize].push(secs);
        }
    }
    let (export, raw) = (median(&times[0]), median(&times[1]));
    report(Line::ratio("export_vs_raw", "export/raw", export / raw));
    Ok(())
}

/// One request for `[start, end]`, its body streamed into `out` unparsed;
/// the bytes written.
async fn raw_copy(
    client: &reqwest::Client,
    server: &MockServer,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &Path,
) -> Result<u64, BoxError> {
    let response = client
        .get(format!("{}/api/v1/audit_logs", server.url()))
        .header("authorization", format!("Key {KEY}"))
        .json(&serde_json::json!({"start_date": start, "end_date": end}))
        .send()
        .await?
        .error_for_status()?;
    let mut file = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(out)?);
    let mut body = response.bytes_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        file.write_all(&chunk)?;
    }
    file.flush()?;
    file.get_ref().sync_data()?;
    Ok(bytes)
}
