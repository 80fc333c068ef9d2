//! The validator against the compiled-in spec: it rejects responses that
//! break the spec, and reads secrets and required fields from it.

use serde_json::json;

use super::Spec;

fn spec() -> &'static Spec {
    Spec::get().expect("the compiled-in spec parses")
}

/// The six kinds with the spec's required fields of each, as the mock's
/// paths name them.
const REQUIRED: [(&str, &[&str]); 6] = [
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
    for (kind, required) in REQUIRED {
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

/// The secret fields the SDK masks by name come from the spec (build.rs):
/// every secret property of every request body, as the validator reads the
/// spec, is one of them.
#[test]
fn every_secret_field_of_the_spec_is_masked_by_name() {
    let spec = spec();
    let mut seen = 0;
    for operation in spec.operations() {
        let Some(schema) = operation.body_schema.as_deref() else {
            continue;
        };
        for field in spec.secret_fields(schema) {
            assert!(crate::secret::is_secret_field(&field), "{schema}.{field}");
            assert!(crate::SECRET_FIELDS.contains(&field.as_str()), "{field}");
            seen += 1;
        }
    }
    assert!(
        seen >= 6,
        "the spec's BI kinds carry secrets ({seen} found)"
    );
}

/// The audit-log endpoint the export calls by hand is the spec's: a renamed
/// path or operation in `openapi/datafold.yaml` fails here, not in a user's
/// export.
#[test]
#[cfg(feature = "export")]
fn the_audit_log_endpoint_is_the_specs() {
    let endpoint = crate::audit::endpoint::AUDIT_LOGS;
    let operation = spec().operation(endpoint.operation_id).unwrap();
    assert_eq!(operation.path, endpoint.path);
    assert_eq!(operation.method.to_ascii_uppercase(), "GET");
}
