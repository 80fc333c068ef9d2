//! Shared by the mock's end-to-end tests: a mock that checks its own responses
//! against the spec, a valid configuration of every BI kind, raw requests for
//! what the typed client cannot send, and the spec-conformance assertion every
//! test ends with.

#![allow(dead_code)]

use datafold_sdk::mock::{MockServer, MockServerBuilder};
use datafold_sdk::types::{self, builder};
use datafold_sdk::Client;
use serde_json::Value;

/// The key the tests' servers accept, and its owner.
pub const KEY: &str = "e2e-test-key";
pub const OWNER: &str = "owner@example.com";
/// The six kinds with the spec's required fields of each, as the mock's
/// paths name them.
pub const REQUIRED: [(&str, &[&str]); 6] = [
    ("dbt", &["ci_config_id"]),
    ("hightouch", &["bindings", "token"]),
    (
        "looker",
        &["base_url", "client_id", "client_secret", "repo_id"],
    ),
    ("mode", &["password", "token"]),
    ("powerbi", &[]),
    (
        "tableau",
        &["server_url", "site_id", "token_name", "token_value"],
    ),
];
/// Secret values the configurations below send; no response may contain one.
pub const SECRETS: [&str; 7] = [
    "hightouch-token-SECRET",
    "looker-client-secret-SECRET",
    "mode-token-SECRET",
    "mode-password-SECRET",
    "powerbi-client-secret-SECRET",
    "tableau-token-value-SECRET",
    KEY,
];

/// A mock that checks every response against the spec, with a fixed seed.
pub fn builder() -> MockServerBuilder {
    MockServer::builder()
        .api_key_for(KEY, OWNER)
        .seed(42)
        .seed_events(50)
        .check_responses(true)
}

pub fn start() -> MockServer {
    builder().start().expect("the mock server starts")
}

pub fn client(server: &MockServer) -> Client {
    server.client().expect("a client for the mock builds")
}

/// Every response the server sent fits the spec's schema for its operation
/// and status, and the check did run (at least one request was checked).
/// The counts cover every request, so nothing escapes the log's bound; the
/// records kept show which responses broke the spec.
pub fn assert_spec_clean(server: &MockServer) {
    let counts = server.request_counts();
    assert!(counts.total > 0, "no requests were made");
    let bad: Vec<_> = server
        .request_log()
        .into_iter()
        .filter(|r| !r.spec_violations.is_empty())
        .collect();
    assert!(
        counts.with_spec_violations == 0,
        "{} responses break openapi/datafold.yaml; the latest: {bad:#?}",
        counts.with_spec_violations
    );
}

pub fn dbt(name: &str) -> builder::DbtDataSourceConfig {
    types::DbtDataSourceConfig::builder()
        .name(name)
        .ci_config_id(7)
}

pub fn hightouch(name: &str) -> builder::HightouchDataSourceConfig {
    let binding = types::DataSourceBinding {
        remote_id: "model-1".to_owned(),
        bound_ids: vec![1, 2],
    };
    types::HightouchDataSourceConfig::builder()
        .name(name)
        .bindings(vec![binding])
        .token("hightouch-token-SECRET")
        .workspace("ws")
}

pub fn looker(name: &str) -> builder::LookerDataSourceConfig {
    types::LookerDataSourceConfig::builder()
        .name(name)
        .base_url("https://looker.example.com")
        .client_id("looker-client")
        .client_secret("looker-client-secret-SECRET")
        .repo_id(3)
}

pub fn mode(name: &str) -> builder::ModeDataSourceConfig {
    types::ModeDataSourceConfig::builder()
        .name(name)
        .token("mode-token-SECRET")
        .password("mode-password-SECRET")
        .workspace("analytics")
}

pub fn powerbi(name: &str) -> builder::PowerBiDataSourceConfig {
    types::PowerBiDataSourceConfig::builder()
        .name(name)
        .auth_type(types::PowerBiAuthType::ServicePrincipal)
        .client_id("pbi-client")
        .client_secret("powerbi-client-secret-SECRET")
        .tenant_id("tenant")
}

pub fn tableau(name: &str) -> builder::TableauDataSourceConfig {
    types::TableauDataSourceConfig::builder()
        .name(name)
        .server_url("https://tableau.example.com")
        .site_id("site")
        .token_name("tok")
        .token_value("tableau-token-value-SECRET")
}

/// One operation of openapi/datafold.yaml, as a raw request needs it.
#[derive(Debug, Clone)]
pub struct SpecOperation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/api/v1/lineage/bi/{bi_datasource_id}/`.
    pub path: String,
    pub operation_id: String,
    /// Whether the spec requires a JSON request body.
    pub body_required: bool,
}

/// The operations of openapi/datafold.yaml, read from the JSON copy that
/// build.rs writes next to the generated client: the document the crate is
/// built from, read here independently of the mock's own reading of it.
pub fn spec_operations() -> Vec<SpecOperation> {
    let doc: Value = serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/datafold.json")))
        .expect("build.rs writes the spec as JSON");
    let paths = doc["paths"].as_object().expect("the spec has paths");
    let mut operations = Vec::new();
    for (path, methods) in paths {
        let methods = methods.as_object().expect("a path item is an object");
        for (method, operation) in methods {
            let Some(operation_id) = operation["operationId"].as_str() else {
                continue; // path-level `parameters`, not an operation
            };
            operations.push(SpecOperation {
                method: method.to_uppercase(),
                path: path.clone(),
                operation_id: operation_id.to_owned(),
                body_required: operation["requestBody"]["required"] == true,
            });
        }
    }
    operations
}

/// A valid JSON body of `kind`, for raw requests.
pub fn valid_body(kind: &str) -> Value {
    match kind {
        "dbt" => json_of(types::DbtDataSourceConfig::try_from(dbt("raw"))),
        "hightouch" => json_of(types::HightouchDataSourceConfig::try_from(hightouch("raw"))),
        "looker" => json_of(types::LookerDataSourceConfig::try_from(looker("raw"))),
        "mode" => json_of(types::ModeDataSourceConfig::try_from(mode("raw"))),
        "powerbi" => json_of(types::PowerBiDataSourceConfig::try_from(powerbi("raw"))),
        "tableau" => json_of(types::TableauDataSourceConfig::try_from(tableau("raw"))),
        other => panic!("unknown kind {other}"),
    }
}

fn json_of<T: serde::Serialize, E: std::fmt::Debug>(config: Result<T, E>) -> Value {
    let config = config.expect("the test configuration is complete");
    serde_json::to_value(config).expect("a configuration serializes")
}

/// A plain HTTP client for requests the typed client cannot make (no
/// redirects followed, no retries).
pub fn raw() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain reqwest client builds")
}

/// Send a raw request with the test key; returns status, headers and JSON body
/// (`Value::Null` for an empty or non-JSON body).
pub async fn send(
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = raw()
        .request(method, format!("{}{path}", server.url()))
        .header("Authorization", format!("Key {KEY}"));
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body arrives");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}
