//! The mock cannot drift from openapi/datafold.yaml: it serves every operation
//! the spec lists. (The validator that checks its responses and makes its
//! 422s is tested beside it, in src/mock/schema/tests.rs.)

mod mock_support;

use mock_support as support;
use reqwest::Method;

#[tokio::test]
async fn the_mock_serves_every_operation_the_spec_lists() {
    let server = support::start();
    let mut served = Vec::new();
    // Creates first (so there are ids), removal last.
    let mut ops = support::spec_operations();
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
            .body_required
            .then(|| support::valid_body(kind).to_string());
        let method = Method::from_bytes(op.method.as_bytes()).expect("a method");
        let (status, _, answer) = support::send(&server, method, &path, body.as_deref()).await;
        assert_eq!(status, 200, "{} {path}: {answer}", op.method);
        served.push(op.operation_id.clone());
    }
    assert_eq!(served.len(), 17);
    support::assert_spec_clean(&server);
}
