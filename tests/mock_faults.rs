//! Fault injection: with a fixed seed, the injected statuses, resets and
//! truncated bodies occur at the configured rates, and the request log says
//! which requests reached the handler.

mod mock_support;

use std::collections::BTreeMap;

use datafold_sdk::mock::{Fault, Faults, MockServer};
use mock_support as support;

/// Within `tolerance` of `rate` (absolute): three standard deviations of a
/// binomial draw at these sample sizes.
fn assert_rate(what: &str, count: usize, total: usize, rate: f64, tolerance: f64) {
    let measured = count as f64 / total as f64;
    eprintln!("{what}: measured {measured:.4} ({count}/{total}), configured {rate}");
    assert!(
        (measured - rate).abs() <= tolerance,
        "{what}: measured {measured:.4} ({count}/{total}), configured {rate}"
    );
}

fn faulty(faults: Faults) -> MockServer {
    MockServer::builder()
        .api_key(support::KEY)
        .seed_events(0)
        .faults(faults)
        .start()
        .expect("starts")
}

#[tokio::test]
async fn injected_statuses_occur_at_the_configured_rates() {
    let faults = Faults::new()
        .seed(7)
        .rate(Fault::RateLimited, 0.10)
        .rate(Fault::InternalError, 0.05)
        .rate(Fault::BadGateway, 0.05)
        .rate(Fault::Unavailable, 0.05)
        .retry_after_secs(3);
    let server = faulty(faults);
    let url = format!("{}/api/v1/lineage/bi/", server.url());
    let raw = support::raw();
    let total = 2000;
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    for _ in 0..total {
        let response = raw
            .get(&url)
            .header("Authorization", format!("Key {}", support::KEY))
            .send()
            .await
            .expect("status faults still answer");
        let status = response.status().as_u16();
        if status == 429 || status == 503 {
            assert_eq!(response.headers()["retry-after"], "3");
        }
        *seen.entry(status).or_default() += 1;
    }
    let count = |s: u16| seen.get(&s).copied().unwrap_or_default();
    assert_rate("429", count(429), total, 0.10, 0.02);
    assert_rate("500", count(500), total, 0.05, 0.015);
    assert_rate("502", count(502), total, 0.05, 0.015);
    assert_rate("503", count(503), total, 0.05, 0.015);
    assert_rate("200", count(200), total, 0.75, 0.03);
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        [200, 429, 500, 502, 503]
    );

    // The log agrees with what the client saw, and none of these ran the handler.
    let log = server.request_log();
    assert_eq!(log.len(), total);
    let logged_429 = log
        .iter()
        .filter(|r| r.fault == Some(Fault::RateLimited))
        .count();
    assert_eq!(logged_429, count(429));
    assert!(log
        .iter()
        .filter(|r| r.fault.is_some())
        .all(|r| r.operation.is_none() && !r.applied));
}

#[tokio::test]
async fn resets_and_truncated_bodies_occur_at_the_configured_rates() {
    let faults = Faults::new()
        .seed(11)
        .rate(Fault::ResetBeforeHandler, 0.1)
        .rate(Fault::ResetAfterHandler, 0.1)
        .rate(Fault::TruncatedBody, 0.1);
    let server = faulty(faults);
    let url = format!("{}/api/v1/lineage/bi/dbt/", server.url());
    let body = support::valid_body("dbt").to_string();
    let total = 600;
    let (mut ok, mut no_answer, mut cut) = (0, 0, 0);
    // A fresh connection each time: a reset must not poison the next request.
    let raw = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for _ in 0..total {
        let sent = raw
            .post(&url)
            .header("Authorization", format!("Key {}", support::KEY))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await;
        let Ok(response) = sent else {
            no_answer += 1;
            continue;
        };
        assert_eq!(response.status(), 200);
        match response.text().await {
            Ok(text) => {
                serde_json::from_str::<serde_json::Value>(&text).expect("a whole body is JSON");
                ok += 1;
            }
            Err(_) => cut += 1,
        }
    }
    assert_eq!(ok + no_answer + cut, total);
    assert_rate("reset (before + after)", no_answer, total, 0.2, 0.05);
    assert_rate("truncated", cut, total, 0.1, 0.037);

    let log = server.request_log();
    let of = |f: Fault| log.iter().filter(|r| r.fault == Some(f)).count();
    assert_eq!(
        of(Fault::ResetBeforeHandler) + of(Fault::ResetAfterHandler),
        no_answer
    );
    assert_eq!(of(Fault::TruncatedBody), cut);
    assert!(log.iter().filter(|r| r.status.is_none()).all(|r| matches!(
        r.fault,
        Some(Fault::ResetBeforeHandler | Fault::ResetAfterHandler)
    )));
    // How many creates really happened: the answered ones, the cut ones and
    // the ones reset after the handler, but not those reset before it.
    let applied = log.iter().filter(|r| r.applied).count();
    assert_eq!(applied, ok + cut + of(Fault::ResetAfterHandler));
    assert_eq!(server.stored_integrations().len(), applied);
    assert!(of(Fault::ResetBeforeHandler) > 0 && of(Fault::ResetAfterHandler) > 0);
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let faults = Faults::new()
        .seed(3)
        .rate(Fault::RateLimited, 0.3)
        .rate(Fault::InternalError, 0.2);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = faulty(faults.clone());
        let url = format!("{}/api/v1/lineage/bi/", server.url());
        for _ in 0..40 {
            let _ = support::raw().get(&url).send().await.expect("an answer");
        }
        runs.push(
            server
                .request_log()
                .iter()
                .map(|r| (r.seq, r.fault))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|(_, f)| f.is_some()));
}

#[tokio::test]
async fn a_truncated_audit_stream_breaks_off_mid_body() {
    let server = MockServer::builder()
        .api_key(support::KEY)
        .seed_events(5_000)
        .faults(Faults::new().rate(Fault::TruncatedBody, 1.0))
        .start()
        .expect("starts");
    let response = support::raw()
        .get(format!("{}/api/v1/audit_logs", server.url()))
        .header("Authorization", format!("Key {}", support::KEY))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), 200);
    let error = response.bytes().await.expect_err("the body breaks off");
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let log = server.request_log();
    assert_eq!(
        (log[0].status, log[0].fault),
        (Some(200), Some(Fault::TruncatedBody))
    );
}

#[test]
fn rates_that_cannot_be_met_are_refused_at_start() {
    let too_much = Faults::new()
        .rate(Fault::BadGateway, 0.7)
        .rate(Fault::Unavailable, 0.4);
    let error = MockServer::builder()
        .faults(too_much)
        .start()
        .expect_err("rates add up to 1.1");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("must not exceed 1"), "{error}");
    assert_eq!("reset-after".parse::<Fault>(), Ok(Fault::ResetAfterHandler));
    assert!("teapot".parse::<Fault>().is_err());
}

/// A user guessing `Fault::ServiceUnavailable` finds the real names in the
/// README's mock section: every variant is listed there.
#[test]
fn the_readme_names_every_fault() {
    let readme = include_str!("../README.md");
    for fault in datafold_sdk::mock::Fault::ALL {
        let name = format!("`{fault:?}`");
        assert!(readme.contains(&name), "README.md does not list {name}");
    }
}
