//! The mock cannot drift from openapi/datafold.yaml: it serves every operation
//! the spec lists, and the validator that checks its responses (and makes its
//! 422s) rejects bodies that break the spec.

mod mock_support;

use datafold_sdk::mock::Spec;
use mock_support as support;
use reqwest::Method;
use serde_json::json;

fn spec() -> &'static Spec {
    Spec::get().expect("the compiled-in spec parses")
}

#[tokio::test]
async fn the_mock_serves_every_operation_the_spec_lists() {
    let server = support::start();
    let mut served = Vec::new();
    // Creates first (so there are ids), removal last.
    let mut ops: Vec<_> = spec().operations().to_vec();
    ops.sort_by_key(|op| match op.method.as_str() {
        "POST" => 0,
        "DELETE" => 2,
        _ => 1,
    });
    for op in ops {
        let kind = op
            .path
            .trim_start_matches("/api/v1/lineage/bi/")
            .split('/')
            .next()
            .unwrap_or_default();
        let id = match kind {
            "dbt" => "1",
            "hightouch" => "2",
            "looker" => "3",
            "mode" => "4",
            "powerbi" => "5",
            _ => "6",
        };
        let path = op.path.replace("{bi_datasource_id}", id);
        let body = op
            .body_schema
            .as_ref()
            .filter(|s| *s != "ApiDownloadAuditLogs")
            .map(|_| support::valid_body(kind).to_string());
        let method = Method::from_bytes(op.method.as_bytes()).expect("a method");
        let (status, _, answer) = support::send(&server, method, &path, body.as_deref()).await;
        assert_eq!(status, 200, "{} {path}: {answer}", op.method);
        served.push(op.operation_id.clone());
    }
    assert_eq!(served.len(), 17);
    support::assert_spec_clean(&server);
}

#[test]
fn response_check_rejects_bodies_that_break_the_spec() {
    let spec = spec();
    let fine = json!({"logs": [{"timestamp": "t", "event_uuid": "u", "client_ip": "i", "url": "/", "object_id": null}]});
    assert_eq!(
        spec.validate_response("get_audit_logs", 200, &fine),
        Some(vec![])
    );

    let broken = [
        json!({"logs": [{"event_uuid": "u", "client_ip": "i", "url": "/"}]}),
        json!({"logs": [{"timestamp": 1, "event_uuid": "u", "client_ip": "i", "url": "/"}]}),
        json!({"logs": [{"timestamp": "t", "event_uuid": "u", "client_ip": "i", "url": "/", "object_id": "7"}]}),
        json!({"logs": [{"timestamp": "t", "event_uuid": "u", "client_ip": "i", "url": "/", "payload": []}]}),
        json!({"logs": {}}),
        json!({}),
    ];
    for body in broken {
        let issues = spec
            .validate_response("get_audit_logs", 200, &body)
            .expect("documented");
        assert!(!issues.is_empty(), "{body} passed");
    }
    let list = spec
        .validate_response("list_integrations", 200, &json!({"id": 1}))
        .expect("documented");
    assert_eq!(list[0].kind, "list_type");
    let one = spec
        .validate_response("get_integration", 200, &json!({"id": "1", "name": 2}))
        .expect("documented");
    assert_eq!(one.len(), 2, "{one:?}");
    let error = spec.validate_response(
        "get_integration",
        422,
        &json!({"detail": [{"loc": [{}], "msg": "m"}]}),
    );
    assert_eq!(
        error.map(|issues| issues.len()),
        Some(2),
        "a bad loc item and a missing type"
    );
    assert_eq!(
        spec.validate_response("get_integration", 404, &json!({})),
        None,
        "404 is undocumented"
    );
}

#[test]
fn secrets_and_required_fields_come_from_the_spec() {
    let spec = spec();
    assert_eq!(
        spec.secret_fields("LookerDataSourceConfig"),
        ["client_secret"]
    );
    assert_eq!(
        spec.secret_fields("ModeDataSourceConfig"),
        ["password", "token"]
    );
    assert_eq!(
        spec.secret_fields("PowerBIDataSourceConfig"),
        ["client_secret"]
    );
    for (kind, required) in support::REQUIRED {
        let schema = spec
            .operations()
            .iter()
            .find(|op| op.method == "POST" && op.path == format!("/api/v1/lineage/bi/{kind}/"))
            .and_then(|op| op.body_schema.clone())
            .expect("a create operation per kind");
        let missing: Vec<String> = spec
            .validate(&schema, &json!({}))
            .into_iter()
            .map(|i| i.to_string())
            .collect();
        let expected: Vec<String> = required
            .iter()
            .map(|f| format!("{f}: Field required (missing)"))
            .collect();
        assert_eq!(missing, expected, "{kind}");
    }
}
