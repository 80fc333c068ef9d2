//! `audit_decode`: one `GET /api/v1/audit_logs` of many events, fetched and
//! decoded through the SDK and through the hand-written client — same mock,
//! same request, same bytes — plus two figures that say where the time goes:
//! fetching the body without decoding it, and decoding it from memory.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use datafold_sdk::mock::MockServer;
use datafold_sdk::types::ApiGetAuditLogs;

use crate::handwritten::{decode_audit_logs, AuditLog, BoxError, RawClient};
use crate::lines::Line;
use crate::samples::{client_and_mock_cpu, median, ms, order};
use crate::{report, KEY};

#[derive(Clone, Copy, PartialEq)]
enum Arm {
    Sdk,
    Handwritten,
    FetchOnly,
}

/// Run the figure: `events` in the response, `runs` timed fetches per arm.
pub async fn run(events: u64, runs: usize) -> Result<(), BoxError> {
    let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let server = MockServer::builder()
        .api_key(KEY)
        .seed_events(events)
        .seed_window(end, Duration::from_secs(3600))
        .start()?;
    let sdk = datafold_sdk::Client::builder()
        .api_key(KEY)
        .host(server.url())
        .build()?;
    let raw = RawClient::new(server.url(), KEY)?;

    // Warm-up, and proof that both clients decode the same records.
    let from_sdk = sdk.audit_logs().list().send().await?;
    let by_hand = raw.audit_logs().await?;
    if from_sdk.len() as u64 != events || by_hand.len() as u64 != events {
        return Err(format!(
            "expected {events} events, the SDK read {} and the hand-written client {}",
            from_sdk.len(),
            by_hand.len()
        )
        .into());
    }
    if from_sdk
        .iter()
        .zip(&by_hand)
        .any(|(sdk, hand)| as_handwritten(sdk, &hand.timestamp) != *hand)
    {
        return Err("the SDK and the hand-written client decoded different records".into());
    }
    drop((from_sdk, by_hand));
    let body = raw.audit_logs_body().await?;
    let body = body.as_ref();
    println!(
        "audit_decode: {events} events, {:.1} MiB body, {runs} runs per arm, arms rotated each round",
        body.len() as f64 / 1048576.0
    );

    let arms = [Arm::Sdk, Arm::Handwritten, Arm::FetchOnly];
    let mut times: [Vec<f64>; 3] = Default::default();
    // CPU seconds per arm: (client, mock).
    let mut cpu = [(0.0, 0.0); 3];
    for round in 0..runs {
        for arm in order(&arms, round) {
            let cpu_before = client_and_mock_cpu();
            let started = Instant::now();
            // Each arm reads the whole body; the records are dropped after
            // the clock stops, for every arm alike.
            let (read, elapsed) = match arm {
                Arm::Sdk => {
                    let logs = sdk.audit_logs().list().send().await?;
                    (logs.len() as u64, started.elapsed())
                }
                Arm::Handwritten => {
                    let logs = raw.audit_logs().await?;
                    (logs.len() as u64, started.elapsed())
                }
                Arm::FetchOnly => {
                    let body = raw.audit_logs_body().await?;
                    (body.as_ref().len() as u64, started.elapsed())
                }
            };
            let cpu_after = client_and_mock_cpu();
            let expected = match arm {
                Arm::FetchOnly => body.len() as u64,
                _ => events,
            };
            if read != expected {
                return Err(
                    format!("a run read {read}, expected {expected} (records or bytes)").into(),
                );
            }
            times[arm as usize].push(ms(elapsed));
            cpu[arm as usize].0 += cpu_after.0 - cpu_before.0;
            cpu[arm as usize].1 += cpu_after.1 - cpu_before.1;
        }
    }
    let cpu_ms = cpu.map(|(client, mock)| (client * 1e3 / runs as f64, mock * 1e3 / runs as f64));

    // Decoding alone, from the same bytes in memory.
    let mut decode: [Vec<f64>; 2] = Default::default();
    for round in 0..runs {
        for arm in order(&[Arm::Sdk, Arm::Handwritten], round) {
            let started = Instant::now();
            let (read, elapsed) = match arm {
                Arm::Sdk => {
                    let logs = serde_json::from_slice::<ApiGetAuditLogs>(body)?.logs;
                    (logs.len(), started.elapsed())
                }
                _ => {
                    let logs = decode_audit_logs(body)?;
                    (logs.len(), started.elapsed())
                }
            };
            if read as u64 != events {
                return Err(format!("decoded {read} of {events} records").into());
            }
            decode[arm as usize].push(ms(elapsed));
        }
    }

    let [sdk_ms, hand_ms, fetch_ms] = times.map(|t| median(&t));
    let [sdk_decode_ms, hand_decode_ms] = decode.map(|t| median(&t));
    for (arm, name, median_ms) in [
        (Arm::Sdk, "sdk", sdk_ms),
        (Arm::Handwritten, "handwritten", hand_ms),
        (Arm::FetchOnly, "fetch only", fetch_ms),
    ] {
        let (client, mock) = cpu_ms[arm as usize];
        println!(
            "  {name:<11}: median {median_ms:7.1} ms wall; mean CPU client {client:7.1} ms, mock {mock:7.1} ms"
        );
    }
    println!(
        "  decode from memory (medians): sdk types {sdk_decode_ms:.1} ms, handwritten struct {hand_decode_ms:.1} ms"
    );
    report(Line::figure("audit_decode_sdk", sdk_ms, "ms"));
    report(Line::figure("audit_decode_handwritten", hand_ms, "ms"));
    report(Line::figure("audit_fetch_only", fetch_ms, "ms"));
    report(Line::ratio(
        "audit_decode_in_memory",
        "sdk/handwritten",
        sdk_decode_ms / hand_decode_ms,
    ));
    report(Line::ratio(
        "audit_decode",
        "sdk/handwritten",
        sdk_ms / hand_ms,
    ));
    Ok(())
}

/// The SDK's record as the hand-written struct, field by field: if either
/// side gains or loses a field, this stops compiling. The hand-written
/// struct keeps the server's text for the time (`text`), the SDK a time: the
/// text is taken when it reads as the SDK's time, and marked otherwise.
fn as_handwritten(r: &datafold_sdk::types::AuditLog, text: &str) -> AuditLog {
    let datafold_sdk::types::AuditLog {
        action,
        client_ip,
        event_uuid,
        is_support_user,
        log_entry,
        object_id,
        object_type,
        payload,
        referer,
        request_type,
        source,
        status,
        timestamp,
        url,
        user_agent,
        user_email,
        user_id,
        // The mock sends no field the spec does not list.
        extra: _,
    } = r.clone();
    AuditLog {
        action,
        client_ip,
        event_uuid,
        is_support_user,
        log_entry,
        object_id,
        object_type,
        payload,
        referer,
        request_type,
        source,
        status,
        timestamp: match datafold_sdk::audit::parse_timestamp(text) {
            Ok(at) if at == timestamp => text.to_owned(),
            _ => format!("not {text}: {timestamp}"),
        },
        url,
        user_agent,
        user_email,
        user_id,
    }
}
