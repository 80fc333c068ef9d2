//! One test per operation (17): each sends the request to a local capture
//! server and checks what went over the wire — method, exact path,
//! `Authorization: Key …`, user agent, and the exact JSON body (or its absence).

mod common;

use std::future::Future;

use chrono::{TimeZone, Utc};
use common::{CaptureServer, Captured, Reply, TEST_KEY};
use datafold_sdk::types::{self, DataSourceBinding, PowerBiAuthType};
use datafold_sdk::Client;
use serde_json::{json, Value};

/// Run `call` against a server answering `reply`; return the one request.
async fn capture<T, F, Fut>(reply: Reply, call: F) -> (Captured, datafold_sdk::Result<T>)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = datafold_sdk::Result<T>>,
{
    let server = CaptureServer::start(reply).await;
    let result = call(server.client()).await;
    (server.single(), result)
}

fn integration_reply() -> Reply {
    Reply::json(200, json!({"id": 7, "name": "n", "type": "looker"}))
}

fn assert_request(request: &Captured, method: &str, path: &str, body: Option<Value>) {
    assert_eq!(request.method, method);
    assert_eq!(request.path, path);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Key {TEST_KEY}").as_str())
    );
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("datafold-sdk-rust/")),
        "user agent: {:?}",
        request.header("user-agent")
    );
    match body {
        Some(expected) => {
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert_eq!(request.json(), expected);
        }
        None => {
            assert!(
                request.body.is_empty(),
                "unexpected body {:?}",
                String::from_utf8_lossy(&request.body)
            );
            assert_eq!(request.header("content-type"), None);
        }
    }
}

fn binding() -> DataSourceBinding {
    DataSourceBinding {
        remote_id: "ws-1".into(),
        bound_ids: vec![3, 4],
    }
}

#[tokio::test]
async fn get_audit_logs_without_filter_sends_no_body() {
    let reply = Reply::json(200, json!({"logs": []}));
    let (request, result) =
        capture(reply, |c| async move { c.audit_logs().list().send().await }).await;
    assert_request(&request, "GET", "/api/v1/audit_logs", None);
    assert!(result.unwrap().is_empty());
}

#[tokio::test]
async fn get_audit_logs_with_range_sends_json_body_on_get() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 11, 2, 12, 30, 0).unwrap();
    let reply = Reply::json(
        200,
        json!({"logs": [{"timestamp": "2026-11-01 10:00:00", "event_uuid": "e1", "client_ip": "10.0.0.1", "url": "/x", "action": "create"}]}),
    );
    let (request, result) = capture(reply, |c| async move {
        c.audit_logs().list().start(start).end(end).send().await
    })
    .await;
    assert_request(
        &request,
        "GET",
        "/api/v1/audit_logs",
        Some(json!({"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-02T12:30:00Z"})),
    );
    let logs = result.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].action.as_deref(), Some("create"));
}

#[tokio::test]
async fn get_audit_logs_with_start_only_omits_end_date() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let reply = Reply::json(200, json!({"logs": []}));
    let (request, _) = capture(reply, |c| async move {
        c.audit_logs().list().start(start).send().await
    })
    .await;
    assert_request(
        &request,
        "GET",
        "/api/v1/audit_logs",
        Some(json!({"start_date": "2026-11-01T00:00:00Z"})),
    );
}

#[tokio::test]
async fn list_integrations() {
    let reply = Reply::json(
        200,
        json!([{"id": 1, "type": "mode"}, {"id": 2, "type": "tableau"}]),
    );
    let (request, result) = capture(reply, |c| async move { c.bi().list().await }).await;
    assert_request(&request, "GET", "/api/v1/lineage/bi/", None);
    let ids: Vec<_> = result.unwrap().iter().map(|i| i.id()).collect();
    assert_eq!(ids, [1, 2]);
}

#[tokio::test]
async fn create_dbt_integration() {
    let config = types::DbtDataSourceConfig::builder()
        .ci_config_id(12)
        .name("dbt prod".to_string());
    let (request, result) = capture(integration_reply(), |c| async move {
        c.bi().create(config).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/dbt/",
        Some(json!({"ci_config_id": 12, "name": "dbt prod"})),
    );
    assert_eq!(result.unwrap().id(), 7);
}

#[tokio::test]
async fn update_dbt_integration() {
    let config = types::DbtDataSourceConfig::builder()
        .ci_config_id(12)
        .indexing_cron("0 * * * *".to_string());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(41, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/dbt/41/",
        Some(json!({"ci_config_id": 12, "indexing_cron": "0 * * * *"})),
    );
}

#[tokio::test]
async fn create_hightouch_integration() {
    let config = types::HightouchDataSourceConfig::builder()
        .token("ht-token")
        .bindings(vec![binding()])
        .workspace("main".to_string());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().create(config).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/hightouch/",
        Some(
            json!({"token": "ht-token", "bindings": [{"remoteId": "ws-1", "boundIds": [3, 4]}], "workspace": "main"}),
        ),
    );
}

#[tokio::test]
async fn update_hightouch_integration() {
    let config = types::HightouchDataSourceConfig::builder()
        .token("ht-token")
        .bindings(Vec::new());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(5, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/hightouch/5/",
        Some(json!({"token": "ht-token", "bindings": []})),
    );
}

fn looker() -> types::builder::LookerDataSourceConfig {
    types::LookerDataSourceConfig::builder()
        .base_url("https://looker.example.com")
        .client_id("looker-client")
        .client_secret("looker-secret")
        .repo_id(3)
}

#[tokio::test]
async fn create_looker_integration_leaves_empty_defaults_to_the_server() {
    let config = looker().name("Looker".to_string());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().create(config).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/looker/",
        Some(json!({
            "base_url": "https://looker.example.com",
            "client_id": "looker-client",
            "client_secret": "looker-secret",
            "name": "Looker",
            "repo_id": 3
        })),
    );
}

#[tokio::test]
async fn update_looker_integration() {
    let config = looker()
        .project_ids(vec!["p1".to_string()])
        .bindings(vec![binding()]);
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(9, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/looker/9/",
        Some(json!({
            "base_url": "https://looker.example.com",
            "bindings": [{"remoteId": "ws-1", "boundIds": [3, 4]}],
            "client_id": "looker-client",
            "client_secret": "looker-secret",
            "project_ids": ["p1"],
            "repo_id": 3
        })),
    );
}

#[tokio::test]
async fn create_mode_integration_sends_workspace_default() {
    let config = types::ModeDataSourceConfig::builder()
        .token("mode-token")
        .password("mode-password");
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().create(config).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/mode/",
        Some(json!({"token": "mode-token", "password": "mode-password", "workspace": ""})),
    );
}

#[tokio::test]
async fn update_mode_integration() {
    let config = types::ModeDataSourceConfig::builder()
        .token("mode-token")
        .password("mode-password")
        .workspace("analytics")
        .indexing_cron("15 3 * * *".to_string());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(11, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/mode/11/",
        Some(
            json!({"token": "mode-token", "password": "mode-password", "workspace": "analytics", "indexing_cron": "15 3 * * *"}),
        ),
    );
}

#[tokio::test]
async fn create_powerbi_integration_with_no_fields_sends_empty_object() {
    let config = types::PowerBiDataSourceConfig::default();
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().create(config).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/powerbi/",
        Some(json!({})),
    );
}

#[tokio::test]
async fn update_powerbi_integration_with_all_six_fields() {
    let config = types::PowerBiDataSourceConfig::builder()
        .auth_type(Some(PowerBiAuthType::ServicePrincipal))
        .client_id(Some("app-id".to_string()))
        .client_secret(Some(datafold_sdk::Secret::new("pbi-secret")))
        .tenant_id(Some("tenant".to_string()))
        .name(Some("Power BI".to_string()))
        .indexing_cron(Some("0 0 * * *".to_string()));
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(13, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/powerbi/13/",
        Some(json!({
            "auth_type": "service_principal",
            "client_id": "app-id",
            "client_secret": "pbi-secret",
            "tenant_id": "tenant",
            "name": "Power BI",
            "indexing_cron": "0 0 * * *"
        })),
    );
}

fn tableau() -> types::builder::TableauDataSourceConfig {
    types::TableauDataSourceConfig::builder()
        .server_url("https://tableau.example.com")
        .site_id("site")
        .token_name("pat")
        .token_value("tableau-secret")
}

#[tokio::test]
async fn create_tableau_integration() {
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().create(tableau()).await
    })
    .await;
    assert_request(
        &request,
        "POST",
        "/api/v1/lineage/bi/tableau/",
        Some(
            json!({"server_url": "https://tableau.example.com", "site_id": "site", "token_name": "pat", "token_value": "tableau-secret"}),
        ),
    );
}

#[tokio::test]
async fn update_tableau_integration() {
    let config = tableau().name("Tableau".to_string());
    let (request, _) = capture(integration_reply(), |c| async move {
        c.bi().update(17, config).await
    })
    .await;
    assert_request(
        &request,
        "PUT",
        "/api/v1/lineage/bi/tableau/17/",
        Some(
            json!({"server_url": "https://tableau.example.com", "site_id": "site", "token_name": "pat", "token_value": "tableau-secret", "name": "Tableau"}),
        ),
    );
}

#[tokio::test]
async fn get_integration() {
    let (request, result) =
        capture(integration_reply(), |c| async move { c.bi().get(7).await }).await;
    assert_request(&request, "GET", "/api/v1/lineage/bi/7/", None);
    let integration = result.unwrap();
    assert_eq!(integration.name(), Some("n"));
    assert_eq!(integration.kind(), Some(datafold_sdk::bi::BiKind::Looker));
}

#[tokio::test]
async fn remove_integration() {
    let (request, result) = capture(Reply::json(200, json!({})), |c| async move {
        c.bi().remove(7).await
    })
    .await;
    assert_request(&request, "DELETE", "/api/v1/lineage/bi/7/", None);
    assert!(result.is_ok());
}

#[tokio::test]
async fn remove_integration_accepts_204_no_content() {
    let (request, result) = capture(
        Reply::text(204, ""),
        |c| async move { c.bi().remove(8).await },
    )
    .await;
    assert_request(&request, "DELETE", "/api/v1/lineage/bi/8/", None);
    assert_eq!(
        result.unwrap(),
        None,
        "a 204 is a removal with no integration to return"
    );
}

#[tokio::test]
async fn remove_integration_answered_with_html_is_not_a_removal() {
    // A proxy or a login page answering 200 with HTML says nothing about
    // whether the integration is gone: that must not read as removed.
    for status in [200, 202] {
        let (_, result) = capture(
            Reply::text(status, "<html><body>Sign in to continue</body></html>"),
            |c| async move { c.bi().remove(8).await },
        )
        .await;
        let error = result.expect_err("an HTML answer is not a removal");
        assert!(
            matches!(error, datafold_sdk::Error::Decode { .. }),
            "{status}: {error:?}"
        );
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status));
        assert!(error.to_string().contains("Sign in"), "{error}");
    }
}

#[tokio::test]
async fn sync_accepted_with_other_json_or_nothing_is_a_success() {
    for reply in [
        Reply::json(200, json!({"status": "started"})),
        Reply::json(202, json!(["queued"])),
        Reply::text(202, "  \n"),
    ] {
        let (_, result) = capture(reply, |c| async move { c.bi().sync(7).await }).await;
        assert_eq!(result.unwrap(), None);
    }
    let (_, result) = capture(Reply::text(200, "started"), |c| async move {
        c.bi().sync(7).await
    })
    .await;
    assert!(matches!(result, Err(datafold_sdk::Error::Decode { .. })));
}

#[tokio::test]
async fn sync_integration() {
    let (request, result) = capture(
        Reply::json(200, json!({"id": 7, "status": "started"})),
        |c| async move { c.bi().sync(7).await },
    )
    .await;
    assert_request(&request, "GET", "/api/v1/lineage/bi/7/sync/", None);
    assert_eq!(
        result.unwrap().unwrap().get("status"),
        Some(&json!("started"))
    );
}

#[tokio::test]
async fn generated_builders_are_reachable_from_the_client() {
    let server = CaptureServer::start(integration_reply()).await;
    let client = server.client();
    let response = client
        .api()
        .get_integration()
        .bi_datasource_id(99)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_request(&server.single(), "GET", "/api/v1/lineage/bi/99/", None);
}

#[tokio::test]
async fn incomplete_builder_fails_before_sending() {
    let server = CaptureServer::start(integration_reply()).await;
    let missing_secret = types::LookerDataSourceConfig::builder()
        .base_url("https://looker.example.com")
        .client_id("id")
        .repo_id(1);
    let error = server
        .client()
        .bi()
        .create(missing_secret)
        .await
        .unwrap_err();
    assert!(
        matches!(error, datafold_sdk::Error::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("client_secret"), "{error}");
    assert!(server.requests().is_empty(), "nothing may be sent");
}
