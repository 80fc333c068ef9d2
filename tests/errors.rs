//! Every error kind a user can match on, built from real HTTP exchanges with a
//! local server; timestamp parsing; tolerance of BI responses.

mod common;

use std::time::Duration;

use chrono::TimeZone;

use common::{CaptureServer, Reply, TEST_KEY};
use datafold_sdk::audit::parse_timestamp;
use datafold_sdk::{types, Client, Error};
use serde_json::{json, Value};

async fn get_error(reply: Reply) -> Error {
    let server = CaptureServer::start(reply).await;
    server.client().bi().get(1).await.unwrap_err()
}

async fn audit_list_error(reply: Reply) -> Error {
    let server = CaptureServer::start(reply).await;
    server
        .client()
        .audit_logs()
        .list()
        .send()
        .await
        .unwrap_err()
}

fn assert_no_key(error: &Error) {
    assert!(!error.to_string().contains(TEST_KEY), "{error}");
    assert!(!format!("{error:?}").contains(TEST_KEY), "{error:?}");
}

#[tokio::test]
async fn unauthorized_says_to_check_the_key_variable() {
    let error = get_error(Reply::json(401, json!({"detail": "Invalid API key"}))).await;
    assert!(matches!(error, Error::Unauthorized(_)), "{error:?}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    let message = error.to_string();
    // The key came from the builder: the message says so, not a variable.
    assert!(
        message.contains("the key given to ClientBuilder::api_key")
            && message.contains("Invalid API key")
            && !message.contains("DATAFOLD_API_KEY"),
        "{message}"
    );
    assert_no_key(&error);
}

#[tokio::test]
async fn a_refused_key_names_the_variable_it_came_from() {
    let server = CaptureServer::start(Reply::json(403, json!({"detail": "Forbidden"}))).await;
    for var in ["DATAFOLD_API_KEY", "DATAFOLD_APIKEY"] {
        let lookup = |name: &str| (name == var).then(|| TEST_KEY.to_owned());
        let client = datafold_sdk::ClientBuilder::from_env_lookup(lookup)
            .host(&server.url)
            .retry_policy(datafold_sdk::RetryPolicy::none())
            .build()
            .unwrap();
        let error = client.bi().get(1).await.unwrap_err();
        assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("check that {var} is")),
            "{message}"
        );
        assert_no_key(&error);
    }
}

#[tokio::test]
async fn bad_request_keeps_the_servers_detail() {
    let error = get_error(Reply::json(
        400,
        json!({"detail": "use the tableau endpoint"}),
    ))
    .await;
    assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    assert!(
        error.to_string().contains("use the tableau endpoint"),
        "{error}"
    );
}

#[tokio::test]
async fn transport_errors_are_described_once() {
    use std::error::Error as _;
    let url = common::refused_url();
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(url)
        .retry_policy(datafold_sdk::RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.bi().list().await.unwrap_err();
    // The cause is in the message, so it is not repeated as `source()`.
    assert!(error.source().is_none());
    assert!(
        error.to_string().contains("error sending request"),
        "{error}"
    );
}

#[tokio::test]
async fn forbidden_and_not_found_are_distinct() {
    let error = get_error(Reply::json(403, json!({"detail": "Not allowed"}))).await;
    assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
    let error = get_error(Reply::json(404, json!({"detail": "Not Found"}))).await;
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    assert_eq!(error.body_excerpt(), Some(r#"{"detail":"Not Found"}"#));
    assert!(error.to_string().contains("check the id"), "{error}");
}

fn fastapi_422() -> Reply {
    Reply::json(
        422,
        json!({"detail": [
            {"loc": ["body", "client_secret"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "bindings", 0, "boundIds"], "msg": "Input should be a valid list", "type": "list_type"}
        ]}),
    )
}

#[tokio::test]
async fn documented_422_is_rendered_field_by_field() {
    let server = CaptureServer::start(fastapi_422()).await;
    let config = types::DbtDataSourceConfig {
        ci_config_id: 1,
        indexing_cron: None,
        name: None,
    };
    let error = server.client().bi().create(config).await.unwrap_err();
    let Error::Validation {
        issues,
        more_issues,
        response,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(response.status.as_u16(), 422);
    assert_eq!(*more_issues, 0);
    assert_eq!(issues[0].to_string(), "body.client_secret: Field required");
    assert_eq!(issues[0].kind, "missing");
    assert_eq!(
        issues[1].to_string(),
        "body.bindings.0.boundIds: Input should be a valid list"
    );
    let message = error.to_string();
    assert!(
        message.contains("body.client_secret: Field required; body.bindings.0.boundIds"),
        "{message}"
    );
}

#[tokio::test]
async fn undocumented_422_is_still_a_validation_error() {
    // The list operation documents no 422; the SDK still reads FastAPI's detail.
    let server = CaptureServer::start(fastapi_422()).await;
    let error = server.client().bi().list().await.unwrap_err();
    assert_eq!(error.validation_issues().len(), 2, "{error:?}");
}

#[tokio::test]
async fn rate_limited_reads_retry_after_seconds() {
    let error =
        get_error(Reply::json(429, json!({"detail": "slow down"})).header("retry-after", "17"))
            .await;
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(17)));
    assert!(error.to_string().contains("retry after 17s"), "{error}");
    assert_eq!(error.headers().unwrap().get("retry-after").unwrap(), "17");
}

#[tokio::test]
async fn rate_limited_reads_retry_after_http_date() {
    let at = chrono::Utc::now() + chrono::Duration::seconds(120);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let error = get_error(Reply::json(429, json!({})).header("retry-after", &date)).await;
    let wait = error.retry_after().expect("retry-after parsed");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

#[tokio::test]
async fn rate_limited_without_retry_after() {
    let error = get_error(Reply::json(429, json!({}))).await;
    assert!(
        matches!(
            error,
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_cover_the_5xx_range() {
    for status in [500, 502, 503, 504] {
        let error = get_error(Reply::text(status, "upstream broke")).await;
        assert!(matches!(error, Error::Server(_)), "{status}: {error:?}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        assert!(error.to_string().contains("retry later"), "{error}");
    }
}

#[tokio::test]
async fn other_statuses_are_unexpected_with_their_body() {
    let error = get_error(Reply::text(418, "short and stout")).await;
    assert!(matches!(error, Error::UnexpectedStatus(_)), "{error:?}");
    assert!(error.to_string().contains("short and stout"), "{error}");
}

#[tokio::test]
async fn undecodable_body_keeps_a_capped_excerpt() {
    let body = format!("<html>{}</html>", "x".repeat(10_000));
    let error = audit_list_error(Reply::text(200, &body)).await;
    let Error::Decode { excerpt, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(excerpt.starts_with("<html>xxx"), "{excerpt}");
    assert!(
        excerpt.chars().count() <= 513,
        "excerpt is not capped: {} chars",
        excerpt.chars().count()
    );
    assert!(error.to_string().len() < 1_000, "message is not capped");
}

#[tokio::test]
async fn audit_log_missing_required_field_is_a_decode_error() {
    let reply = Reply::json(
        200,
        json!({"logs": [{"timestamp": "2026-01-01T00:00:00Z", "url": "/"}]}),
    );
    let error = audit_list_error(reply).await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(
        error.to_string().contains("missing field `client_ip`"),
        "{error}"
    );
}

#[tokio::test]
async fn timeout_is_its_own_kind() {
    let server =
        CaptureServer::start(Reply::json(200, json!({})).delayed(Duration::from_secs(5))).await;
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = client.bi().get(1).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("timeout"), "{error}");
}

#[tokio::test]
async fn refused_connection_is_a_connection_error() {
    let url = common::refused_url();
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(url)
        .build()
        .unwrap();
    let error = client.bi().list().await.unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert!(error.to_string().contains("DATAFOLD_HOST"), "{error}");
    assert_no_key(&error);
}

// ---- BI response tolerance ---------------------------------------------------

#[tokio::test]
async fn bi_responses_with_extra_missing_or_odd_fields_are_accepted() {
    for body in [
        json!({"id": 3, "name": "x", "type": "tableau", "indexing_cron": null, "created": "2026", "config": {"a": [1]}}),
        json!({"id": 3}),
        json!({"id": 3, "name": 5, "type": ["odd"]}),
    ] {
        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        let integration = server
            .client()
            .bi()
            .get(3)
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(integration.raw(), &body);
        assert_eq!(integration.id(), 3);
    }
    let server = CaptureServer::start(Reply::json(200, json!({"id": 3, "created": "2026"}))).await;
    let integration = server.client().bi().get(3).await.unwrap();
    assert_eq!(integration.id(), 3);
    assert_eq!(integration.name(), None);
    assert_eq!(integration.get("created"), Some(&json!("2026")));
}

#[tokio::test]
async fn an_integration_answer_without_an_integer_id_is_refused_except_by_remove_and_sync() {
    for body in [
        json!({}),
        json!({"id": "7", "token": "s3cr3t-in-body"}),
        json!([1]),
    ] {
        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        let error = server.client().bi().get(7).await.unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{body}: {error:?}");
        let text = error.to_string();
        assert!(text.contains("integer `id`"), "{body}: {text}");
        assert!(!text.contains("s3cr3t-in-body"), "{text}");

        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        let error = server.client().bi().list().await.unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{body}: {error:?}");

        // A removal or a sync that was carried out is not an error for
        // what its answer lacks: there is no integration to return.
        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        assert_eq!(
            server.client().bi().remove(7).await.unwrap(),
            None,
            "{body}"
        );
        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        assert_eq!(server.client().bi().sync(7).await.unwrap(), None, "{body}");
    }
    let server =
        CaptureServer::start(Reply::json(200, json!([{"id": 1}, {"name": "no id"}]))).await;
    let text = server.client().bi().list().await.unwrap_err().to_string();
    assert!(
        text.contains("item 2 of the list of integrations has no integer `id`"),
        "{text}"
    );
}

#[tokio::test]
async fn integration_list_accepts_an_array_or_a_wrapping_object() {
    for body in [
        json!([{"id": 1}, {"id": 2}]),
        json!({"integrations": [{"id": 1}, {"id": 2}], "total": 2}),
    ] {
        let server = CaptureServer::start(Reply::json(200, body.clone())).await;
        let list = server.client().bi().list().await.unwrap();
        assert_eq!(
            list.iter().map(|i| i.id()).collect::<Vec<_>>(),
            [1, 2],
            "{body}"
        );
        assert_eq!(list.raw(), &body);
    }
    let server = CaptureServer::start(Reply::json(200, json!("nope"))).await;
    assert!(matches!(
        server.client().bi().list().await,
        Err(Error::Decode { .. })
    ));
}

// ---- timestamps ---------------------------------------------------------------

#[test]
fn timestamps_in_every_shape_the_server_may_send() {
    let expected = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:20:30Z").unwrap();
    for text in [
        "2026-11-25T10:20:30Z",
        "2026-11-25T10:20:30+00:00",
        "2026-11-25T12:20:30+02:00",
        "2026-11-25T05:20:30-0500",
        "2026-11-25 10:20:30",
        "2026-11-25 10:20:30+00:00",
        "2026-11-25T10:20:30",
        " 2026-11-25T10:20:30Z ",
    ] {
        assert_eq!(
            parse_timestamp(text).unwrap_or_else(|e| panic!("{text}: {e}")),
            expected,
            "{text}"
        );
    }
    let fractional = parse_timestamp("2026-11-25 10:20:30.123456").unwrap();
    assert_eq!(fractional.timestamp_subsec_micros(), 123_456);
    let fractional = parse_timestamp("2026-11-25T10:20:30.5+01:00").unwrap();
    assert_eq!(fractional.timestamp_millis() % 1000, 500);
}

#[test]
fn bad_timestamps_are_errors_not_panics() {
    for text in [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-25",
        "2026-11-25T25:00:00",
        "2026-11-25 10:20:30 garbage",
        "ü€漢字ßxyz12345",
    ] {
        let error = parse_timestamp(text).unwrap_err();
        assert!(
            matches!(error, Error::InvalidTimestamp { .. }),
            "{text}: {error:?}"
        );
    }
}

/// Every form `parse_timestamp` accepts, as a list answer carries it: each
/// record's `timestamp` is the time the server meant.
#[tokio::test]
async fn audit_records_read_every_accepted_timestamp_as_a_time() {
    let sent = [
        "2026-11-25T10:20:30Z",
        "2026-11-25T10:20:30+00:00",
        "2026-11-25T12:20:30+02:00",
        "2026-11-25T05:20:30-0500",
        "2026-11-25 10:20:30",
        "2026-11-25 10:20:30+00:00",
        "2026-11-25T10:20:30",
        " 2026-11-25T10:20:30Z ",
        "2026-11-25 10:20:30.123",
        "2026-11-25T10:20:30.123456+00:00",
        "2026-11-25T11:20:30.5+01:00",
    ];
    let logs: Vec<Value> = sent
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"timestamp": t, "event_uuid": format!("e{i}"), "client_ip": "1.2.3.4", "url": "/u"}))
        .collect();
    let server = CaptureServer::start(Reply::json(200, json!({ "logs": logs }))).await;
    let read = server.client().audit_logs().list().send().await.unwrap();
    assert_eq!(read.len(), sent.len());
    let second = chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, 10, 20, 30)
        .unwrap();
    let expected = |text: &str| match text.split_once('.') {
        Some((_, fraction)) => {
            let digits: String = fraction.chars().take_while(char::is_ascii_digit).collect();
            let nanos = format!("{digits:0<9}").parse::<i64>().unwrap();
            second + chrono::Duration::nanoseconds(nanos)
        }
        None => second,
    };
    for (log, text) in read.iter().zip(sent) {
        let at: chrono::DateTime<chrono::Utc> = log.timestamp;
        assert_eq!(at, expected(text), "{text}");
    }
    // Written back as RFC 3339 in UTC, with the fractional digits it has.
    let written = |i: usize| serde_json::to_value(&read[i]).unwrap()["timestamp"].clone();
    assert_eq!(written(0), "2026-11-25T10:20:30Z");
    assert_eq!(written(8), "2026-11-25T10:20:30.123Z");
    assert_eq!(written(9), "2026-11-25T10:20:30.123456Z");
    assert_eq!(written(10), "2026-11-25T10:20:30.500Z");
}

/// A list answer with a record whose timestamp is not a time has no typed
/// view: the error names the field and the value, and says what reads it.
#[tokio::test]
async fn an_unreadable_timestamp_in_a_list_answer_is_an_error_naming_the_field() {
    let reply = Reply::json(
        200,
        json!({"logs": [
            {"timestamp": "2026-11-25 10:20:30.123", "event_uuid": "a", "client_ip": "1.2.3.4", "url": "/u"},
            {"timestamp": "not a time", "event_uuid": "b", "client_ip": "1.2.3.4", "url": "/u", "object_id": 5}
        ]}),
    );
    let server = CaptureServer::start(reply).await;
    let error = server
        .client()
        .audit_logs()
        .list()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let message = error.to_string();
    // A server that puts the API key where a value is quoted does not get it shown.
    let echo = json!({"logs": [{"timestamp": TEST_KEY, "event_uuid": TEST_KEY, "client_ip": "1", "url": "/u"}]});
    let leaked = audit_list_error(Reply::json(200, echo)).await;
    assert!(matches!(leaked, Error::Decode { .. }), "{leaked:?}");
    assert_no_key(&leaked);
    assert_no_key(&get_error(Reply::json(200, json!({"id": TEST_KEY}))).await);
    let echoed =
        CaptureServer::start(Reply::json(200, json!([{"id": 1, "name": 2}, TEST_KEY]))).await;
    assert_no_key(&echoed.client().bi().list().await.unwrap_err());
    for part in ["`timestamp`", "\"not a time\"", "raw_events()"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // A long value is clipped.
    let long = "x".repeat(500);
    let record = json!({"timestamp": long, "event_uuid": "b", "client_ip": "1", "url": "/u"});
    let error = serde_json::from_value::<datafold_sdk::types::AuditLog>(record).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("xxx…") && !message.contains(&"x".repeat(81)),
        "{message}"
    );
}

#[tokio::test]
async fn secrets_quoted_back_by_a_422_are_not_kept() {
    // pydantic v2 quotes the offending input; for a missing field that is the
    // whole body, secrets included.
    let reply = Reply::json(
        422,
        json!({"detail": [
            {"loc": ["body", "repo_id"], "msg": "Field required", "type": "missing",
             "input": {"base_url": "https://l", "client_secret": "echoed-secret-1"}},
            {"loc": ["body", "token"], "msg": "Input should be a valid string", "type": "string_type",
             "input": "echoed-secret-2"}
        ]}),
    );
    let error = get_error(reply).await;
    let shown = format!("{error} {error:?} {:?}", error.body_excerpt());
    assert!(!shown.contains("echoed-secret"), "{shown}");
    assert_eq!(
        error.validation_issues()[0].to_string(),
        "body.repo_id: Field required"
    );
}

#[test]
fn a_host_with_credentials_is_refused() {
    let error = Client::builder()
        .api_key(TEST_KEY)
        .host("https://user:hunter2@app.datafold.com")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

// ---- secrets in error bodies, causes, inconsistent answers ------------------

const SENT_SECRET: &str = "looker-secret-sent-in-this-request";

fn looker_with_secret() -> types::builder::LookerDataSourceConfig {
    types::LookerDataSourceConfig::builder()
        .base_url("https://looker.example.com")
        .client_id("looker-client")
        .client_secret(SENT_SECRET)
        .repo_id(3)
}

#[tokio::test]
async fn error_bodies_never_show_the_api_key_or_a_secret_just_sent() {
    let quoted = format!("client_secret {SENT_SECRET} with key {TEST_KEY}");
    for reply in [
        Reply::json(
            409,
            json!({"detail": format!("an integration with {quoted} exists")}),
        ),
        Reply::json(
            422,
            json!({"detail": [{"loc": ["body", "base_url"], "msg": format!("{quoted} is odd"), "type": "value_error"}]}),
        ),
        Reply::json(
            400,
            json!({"detail": "no", "echo": {"note": quoted.clone()}}),
        ),
        Reply::text(500, &format!("upstream said: {quoted}")),
        Reply::text(418, &quoted).header("x-echo", SENT_SECRET),
    ] {
        let server = CaptureServer::start(reply).await;
        let error = server
            .client()
            .bi()
            .create(looker_with_secret())
            .await
            .unwrap_err();
        let shown = format!(
            "{error} {error:?} {:?} {:?}",
            error.body_excerpt(),
            error.validation_issues()
        );
        assert!(
            !shown.contains(SENT_SECRET) && !shown.contains(TEST_KEY),
            "{shown}"
        );
        assert!(shown.contains(datafold_sdk::REDACTED), "{shown}");
    }
}

#[tokio::test]
async fn connection_errors_name_their_root_cause() {
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(common::refused_url())
        .retry_policy(datafold_sdk::RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.bi().list().await.unwrap_err();
    let message = error.to_string().to_lowercase();
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_body_that_changes_between_attempts_is_an_inconsistent_answer() {
    let logs = |uuids: [&str; 3]| {
        let records: Vec<_> = uuids
            .iter()
            .zip(["10:10", "10:20", "10:30"])
            .map(|(uuid, time)| {
                json!({"timestamp": format!("2026-11-20T{time}:00Z"), "event_uuid": uuid,
                       "client_ip": "10.0.0.1", "url": "/x", "payload": {"pad": "p".repeat(200)}})
            })
            .collect();
        json!({ "logs": records })
    };
    let server = CaptureServer::script(vec![
        Reply::json(200, logs(["a", "b", "c"])).fault(common::Fault::Truncate),
        Reply::json(200, logs(["x", "y", "z"])),
    ])
    .await;
    let client = Client::builder()
        .api_key(TEST_KEY)
        .host(&server.url)
        .retry_policy(
            datafold_sdk::RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .build()
        .unwrap();
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
        .unwrap();
    let mut records = client
        .audit_logs()
        .between(start, start + chrono::Duration::hours(1))
        .records()
        .unwrap();
    let error = loop {
        match records.next().await.expect("the export ends in an error") {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert!(
        !matches!(
            error,
            Error::InvalidRequest { .. } | Error::InvalidConfig { .. }
        ),
        "not the caller's input: {error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("changed between attempts"), "{message}");
    assert!(
        !message.contains("from its last checkpoint"),
        "no checkpoint was written for this window: {message}"
    );
    // Advice that reads the same to SDK and CLI users: no SDK calls, no
    // checkpoint the caller saved.
    assert!(message.contains("run the export again"), "{message}");
    assert!(
        !message.contains("you saved") && !message.contains("client."),
        "{message}"
    );
    assert!(matches!(error, Error::Inconsistent { .. }), "{error:?}");
}

// ---- secrets in bodies that are not JSON, statuses of bodies that are not JSON

/// Everything an error shows: message, Debug, excerpt, issues.
fn everything_shown(error: &Error) -> String {
    format!(
        "{error} {error:?} {:?} {:?}",
        error.body_excerpt(),
        error.validation_issues()
    )
}

#[tokio::test]
async fn a_malformed_success_body_never_shows_a_secret() {
    // JSON with a trailing comma, Python-style quotes, bare keys and values.
    for body in [
        r#"{"id": 1, "type": "looker", "name": "n", "client_secret": "srv-secret-77777", "token": "srv-tok-88888",}"#,
        r#"{'id': 1, 'password': 'srv-pass-\'99999', token: srv-tok-88888, "api_key" :"srv-key-\"66666"#,
    ] {
        let server = CaptureServer::start(Reply::text(200, body)).await;
        let error = server.client().bi().get(1).await.unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{error:?}");
        let shown = everything_shown(&error);
        assert!(!shown.contains("srv-"), "{shown}");
        assert!(
            !shown.contains("99999") && !shown.contains("66666"),
            "{shown}"
        );
        assert!(shown.contains(datafold_sdk::REDACTED), "{shown}");
        let excerpt = error.body_excerpt().unwrap();
        assert!(
            excerpt.starts_with("{\"id\": 1") || excerpt.starts_with("{'id': 1"),
            "{excerpt}"
        );
    }
}

#[tokio::test]
async fn a_success_body_that_does_not_decode_never_shows_the_key_or_a_secret_just_sent() {
    let echoed = format!(r#"{{"id": 9, "note": "{SENT_SECRET} by {TEST_KEY}",}}"#);
    let server = CaptureServer::start(Reply::text(200, &echoed)).await;
    let error = server
        .client()
        .bi()
        .create(looker_with_secret())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let shown = everything_shown(&error);
    assert!(
        !shown.contains(SENT_SECRET) && !shown.contains(TEST_KEY),
        "{shown}"
    );
    assert!(
        error.body_excerpt().unwrap().starts_with(r#"{"id": 9"#),
        "{shown}"
    );

    // Valid JSON of the wrong shape: the list call, and audit logs.
    let listed = json!({"integrations": 7, "note": format!("made with {TEST_KEY}")});
    let server = CaptureServer::start(Reply::json(200, listed)).await;
    let error = server.client().bi().list().await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(
        !everything_shown(&error).contains(TEST_KEY),
        "{}",
        everything_shown(&error)
    );
    let logs = json!({"logs": [{"timestamp": "2026-01-01T00:00:00Z", "user_email": TEST_KEY}]});
    let error = audit_list_error(Reply::json(200, logs)).await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(
        !everything_shown(&error).contains(TEST_KEY),
        "{}",
        everything_shown(&error)
    );
}

#[tokio::test]
async fn an_error_body_that_is_not_json_never_shows_a_secret_field() {
    for reply in [
        Reply::text(500, r#"{"detail": "boom", "token": "srv-tok-88888","#),
        Reply::text(409, "conflict: {'client_secret': 'srv-secret-77777'}"),
    ] {
        let server = CaptureServer::start(reply).await;
        let error = server.client().bi().list().await.unwrap_err();
        let shown = everything_shown(&error);
        assert!(!shown.contains("srv-"), "{shown}");
    }
}

#[tokio::test]
async fn a_422_whose_body_is_not_json_is_a_validation_error_with_its_status() {
    let page = "<html><body>422 Unprocessable Entity: token=\"srv-tok-88888\"</body></html>";
    let long_page = format!("<html>{}</html>", "<p>too long</p>".repeat(10_000));
    for body in [page.to_owned(), long_page, String::new()] {
        let server = CaptureServer::start(Reply::text(422, &body)).await;
        // A call that documents its 422 (create), and one that does not (list).
        let created = server.client().bi().create(looker_with_secret()).await;
        let listed = server.client().bi().list().await.map(drop);
        for error in [created.unwrap_err(), listed.unwrap_err()] {
            assert!(
                matches!(error, Error::Validation { .. }),
                "{}: {error:?}",
                body.len()
            );
            assert_eq!(error.status().map(|s| s.as_u16()), Some(422));
            let message = error.to_string();
            assert!(
                message.contains("422") && !message.contains("200"),
                "{message}"
            );
            assert!(message.len() < 2_000, "capped: {} bytes", message.len());
            assert!(
                !everything_shown(&error).contains("srv-tok"),
                "{}",
                everything_shown(&error)
            );
            if !body.is_empty() {
                assert!(message.contains("<html>"), "{message}");
            }
        }
    }
}
