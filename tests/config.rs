//! Configuration from the environment and the builder, the refusal to send the
//! key over plain http, and redaction of every secret in Debug output.

mod common;

use std::collections::HashMap;

use common::{CaptureServer, Reply};
use datafold_sdk::types;
use datafold_sdk::{Client, ClientBuilder, Error, Secret};
use serde_json::json;

fn env(vars: &[(&str, &str)]) -> ClientBuilder {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ClientBuilder::from_env_lookup(move |name| vars.get(name).cloned())
}

const KEY: &str = "df-key-0123456789abcdef";

#[test]
fn env_defaults_to_the_public_host() {
    let client = env(&[("DATAFOLD_API_KEY", KEY)]).build().unwrap();
    assert_eq!(client.host(), "https://app.datafold.com");
}

#[test]
fn env_host_tolerates_a_trailing_slash_and_keeps_a_path_prefix() {
    let client = env(&[
        ("DATAFOLD_API_KEY", KEY),
        ("DATAFOLD_HOST", "https://datafold.internal.example/"),
    ])
    .build()
    .unwrap();
    assert_eq!(client.host(), "https://datafold.internal.example");
    let client = env(&[
        ("DATAFOLD_API_KEY", KEY),
        ("DATAFOLD_HOST", "https://proxy.example/datafold//"),
    ])
    .build()
    .unwrap();
    assert_eq!(client.host(), "https://proxy.example/datafold");
}

#[test]
fn missing_key_names_both_variables() {
    let error = env(&[("DATAFOLD_HOST", "https://app.datafold.com")])
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::MissingApiKey));
    let message = error.to_string();
    assert!(
        message.contains("DATAFOLD_API_KEY") && message.contains("DATAFOLD_APIKEY"),
        "{message}"
    );
}

#[test]
fn blank_key_counts_as_missing() {
    let error = env(&[("DATAFOLD_API_KEY", "   ")]).build().unwrap_err();
    assert!(matches!(error, Error::MissingApiKey), "{error:?}");
}

#[tokio::test]
async fn fallback_variable_is_read_when_the_main_one_is_unset() {
    let server = CaptureServer::start(Reply::json(200, json!([]))).await;
    let client = env(&[
        ("DATAFOLD_APIKEY", "fallback-key"),
        ("DATAFOLD_HOST", &server.url),
    ])
    .build()
    .unwrap();
    client.bi().list().await.unwrap();
    assert_eq!(
        server.single().header("authorization"),
        Some("Key fallback-key")
    );
}

#[tokio::test]
async fn main_variable_wins_over_the_fallback() {
    let server = CaptureServer::start(Reply::json(200, json!([]))).await;
    let client = env(&[
        ("DATAFOLD_API_KEY", "main-key"),
        ("DATAFOLD_APIKEY", "fallback-key"),
        ("DATAFOLD_HOST", &server.url),
    ])
    .build()
    .unwrap();
    client.bi().list().await.unwrap();
    assert_eq!(
        server.single().header("authorization"),
        Some("Key main-key")
    );
}

#[test]
fn host_that_is_not_a_url_is_explained() {
    for bad in [
        "app.datafold.com",
        "ftp://app.datafold.com",
        "https://",
        "https://h/?q=1",
    ] {
        let error = env(&[("DATAFOLD_API_KEY", KEY), ("DATAFOLD_HOST", bad)])
            .build()
            .unwrap_err();
        assert!(
            matches!(error, Error::InvalidConfig { .. }),
            "{bad}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("DATAFOLD_HOST"), "{bad}: {message}");
    }
}

#[test]
fn key_with_a_line_break_is_rejected_without_echoing_it() {
    let error = Client::builder()
        .api_key("abc\ndef-secret-part")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    assert!(
        !error.to_string().contains("secret-part") && !format!("{error:?}").contains("secret-part")
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    for host in [
        "http://app.datafold.com",
        "http://10.1.2.3:8000",
        "http://[2001:db8::1]",
    ] {
        let error = Client::builder()
            .api_key(KEY)
            .host(host)
            .build()
            .unwrap_err();
        assert!(
            matches!(error, Error::InsecureHost { .. }),
            "{host}: {error:?}"
        );
        assert!(error.to_string().contains("allow_insecure_http"), "{error}");
    }
}

#[test]
fn plain_http_is_allowed_on_loopback_or_when_opted_in() {
    for host in [
        "http://localhost:8080",
        "http://127.0.0.1:9",
        "http://127.5.5.5",
        "http://[::1]:80",
    ] {
        Client::builder()
            .api_key(KEY)
            .host(host)
            .build()
            .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    Client::builder()
        .api_key(KEY)
        .host("http://datafold.lan")
        .allow_insecure_http(true)
        .build()
        .unwrap();
}

#[tokio::test]
async fn builder_settings_reach_the_wire() {
    let server = CaptureServer::start(Reply::json(200, json!([]))).await;
    let client = Client::builder()
        .api_key(" spaced-key \n")
        .host(format!("{}/", server.url))
        .user_agent("my-pipeline/1.0")
        .build()
        .unwrap();
    client.bi().list().await.unwrap();
    let request = server.single();
    assert_eq!(request.header("authorization"), Some("Key spaced-key"));
    assert_eq!(request.header("user-agent"), Some("my-pipeline/1.0"));
    assert_eq!(request.path, "/api/v1/lineage/bi/");
}

// ---- redaction --------------------------------------------------------------

const SECRET: &str = "s3cr3t-VALUE-that-must-not-leak";

fn assert_redacted(what: &str, debug: String) {
    assert!(!debug.contains(SECRET), "{what} leaks the secret: {debug}");
    assert!(
        debug.contains(datafold_sdk::REDACTED),
        "{what} does not show the redaction marker: {debug}"
    );
}

#[test]
fn client_and_builder_debug_never_show_the_key() {
    let builder = Client::builder()
        .api_key(SECRET)
        .host("https://app.datafold.com");
    assert_redacted("ClientBuilder", format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_redacted("Client", format!("{client:?}"));
    assert!(
        !format!("{:?}", client.api()).contains(SECRET),
        "generated client leaks the key"
    );
    assert!(
        !format!("{:#?}", client.api()).contains(SECRET),
        "generated client leaks the key"
    );
}

#[test]
fn every_request_body_type_redacts_its_secrets() {
    let binding = types::DataSourceBinding {
        remote_id: "r".into(),
        bound_ids: vec![1],
    };
    let hightouch = types::HightouchDataSourceConfig::builder()
        .token(SECRET)
        .bindings(vec![binding]);
    let looker = types::LookerDataSourceConfig::builder()
        .base_url("https://l")
        .client_id("id")
        .client_secret(SECRET)
        .repo_id(1);
    let mode = types::ModeDataSourceConfig::builder()
        .token(SECRET)
        .password(SECRET);
    let powerbi =
        types::PowerBiDataSourceConfig::builder().client_secret(Some(Secret::new(SECRET)));
    let tableau = types::TableauDataSourceConfig::builder()
        .server_url("https://t")
        .site_id("s")
        .token_name("n")
        .token_value(SECRET);

    // Builders (what users hold while assembling a request)...
    assert_redacted("Hightouch builder", format!("{hightouch:?}"));
    assert_redacted("Looker builder", format!("{looker:?}"));
    assert_redacted("Mode builder", format!("{mode:?}"));
    assert_redacted("Power BI builder", format!("{powerbi:?}"));
    assert_redacted("Tableau builder", format!("{tableau:?}"));

    // ...and the bodies themselves, which still serialize the real value.
    let hightouch = types::HightouchDataSourceConfig::try_from(hightouch).unwrap();
    let looker = types::LookerDataSourceConfig::try_from(looker).unwrap();
    let mode = types::ModeDataSourceConfig::try_from(mode).unwrap();
    let powerbi = types::PowerBiDataSourceConfig::try_from(powerbi).unwrap();
    let tableau = types::TableauDataSourceConfig::try_from(tableau).unwrap();
    let dbt = types::DbtDataSourceConfig {
        ci_config_id: 1,
        indexing_cron: None,
        name: None,
    };
    assert_redacted("HightouchDataSourceConfig", format!("{hightouch:?}"));
    assert_redacted("LookerDataSourceConfig", format!("{looker:#?}"));
    assert_redacted("ModeDataSourceConfig", format!("{mode:?}"));
    assert_redacted("PowerBiDataSourceConfig", format!("{powerbi:?}"));
    assert_redacted("TableauDataSourceConfig", format!("{tableau:?}"));
    assert!(!format!("{dbt:?}").contains(SECRET));
    for json in [
        serde_json::to_string(&hightouch).unwrap(),
        serde_json::to_string(&looker).unwrap(),
        serde_json::to_string(&mode).unwrap(),
        serde_json::to_string(&powerbi).unwrap(),
        serde_json::to_string(&tableau).unwrap(),
    ] {
        assert!(
            json.contains(SECRET),
            "serialization must send the real secret: {json}"
        );
    }
}

#[test]
fn secret_display_is_redacted_too() {
    let secret = Secret::new(SECRET);
    assert_eq!(secret.to_string(), datafold_sdk::REDACTED);
    assert_eq!(secret.expose(), SECRET);
}

#[test]
fn integration_debug_hides_echoed_secrets() {
    let integration: datafold_sdk::bi::Integration = serde_json::from_value(
        json!({"id": 1, "token_value": SECRET, "nested": {"client_secret": SECRET}}),
    )
    .unwrap();
    assert_redacted("Integration", format!("{integration:?}"));
}

#[test]
fn a_malformed_host_never_echoes_its_password() {
    for host in [
        "http://user:SECRET-PW@[::1",
        "http://user:SECRET-PW@",
        "https://user:SECRET-PW@app.datafold.com:99999",
        "user:SECRET-PW@app.datafold.com",
        "ftp://user:SECRET-PW@app.datafold.com",
        "https://user:SECRET-PW@app.datafold.com/?q=1",
    ] {
        let error = env(&[("DATAFOLD_API_KEY", KEY), ("DATAFOLD_HOST", host)])
            .build()
            .unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("SECRET-PW"), "{host}: {shown}");
        assert!(shown.contains("DATAFOLD_HOST"), "{host}: {shown}");
    }
}
