//! BI integrations end to end: the public client against the embedded mock,
//! every response checked against openapi/datafold.yaml.

mod mock_support;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use datafold_sdk::bi::Integration;
use datafold_sdk::{Client, Error};
use mock_support as support;
use reqwest::Method;
use serde_json::{json, Value};

/// One integration of each kind (dbt, Hightouch, Looker, Mode, Power BI,
/// Tableau), named in that order.
async fn one_of_each(bi: &datafold_sdk::bi::BiHandler<'_>, names: [&str; 6]) -> [Integration; 6] {
    let [dbt, hightouch, looker, mode, powerbi, tableau] = names;
    [
        bi.create(support::dbt(dbt)).await.expect("create dbt"),
        bi.create(support::hightouch(hightouch))
            .await
            .expect("create hightouch"),
        bi.create(support::looker(looker))
            .await
            .expect("create looker"),
        bi.create(support::mode(mode)).await.expect("create mode"),
        bi.create(support::powerbi(powerbi))
            .await
            .expect("create powerbi"),
        bi.create(support::tableau(tableau))
            .await
            .expect("create tableau"),
    ]
}

#[tokio::test]
async fn every_operation_succeeds_through_the_public_client() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();

    let created = one_of_each(&bi, ["dbt", "ht", "lk", "md", "pb", "tb"]).await;
    let kinds: Vec<_> = created
        .iter()
        .map(|i| i.type_name().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["dbt", "hightouch", "looker", "mode", "powerbi", "tableau"]
    );
    let ids: Vec<i64> = created.iter().map(|i| i.id()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);

    let updated = [
        bi.update(1, support::dbt("dbt 2"))
            .await
            .expect("update dbt"),
        bi.update(2, support::hightouch("ht 2"))
            .await
            .expect("update hightouch"),
        bi.update(3, support::looker("lk 2"))
            .await
            .expect("update looker"),
        bi.update(4, support::mode("md 2"))
            .await
            .expect("update mode"),
        bi.update(5, support::powerbi("pb 2"))
            .await
            .expect("update powerbi"),
        bi.update(6, support::tableau("tb 2"))
            .await
            .expect("update tableau"),
    ];
    for (integration, id) in updated.iter().zip(&ids) {
        assert_eq!(integration.id(), *id);
        // The docs: Hightouch, Looker, Mode and Tableau updates "can only
        // update the schedule"; the name stays.
        let renamed = matches!(integration.type_name(), Some("dbt" | "powerbi"));
        assert_eq!(
            integration.name().is_some_and(|n| n.ends_with(" 2")),
            renamed,
            "{integration:?}"
        );
    }

    let list = bi.list().await.expect("list");
    assert_eq!(list.len(), 6);
    let looker = bi.get(3).await.expect("get");
    assert_eq!(
        (looker.name(), looker.type_name()),
        (Some("lk"), Some("looker"))
    );
    assert_eq!(looker.get("repo_id"), Some(&json!(3)));
    assert_eq!(
        looker.get("project_ids"),
        Some(&json!([])),
        "the schema's default is filled in"
    );
    let synced = bi.sync(3).await.expect("sync");
    assert_eq!(synced.map(|i| i.id()), Some(3));
    let removed = bi.remove(3).await.expect("remove");
    assert_eq!(removed.map(|i| i.id()), Some(3));
    assert!(matches!(bi.get(3).await, Err(Error::NotFound(_))));
    let logs = client.audit_logs().list().send().await.expect("audit logs");
    assert_eq!(
        logs.len(),
        50 + 6 + 6 + 1 + 1,
        "seeded events plus one per change"
    );

    // All 17 operations of the spec answered 200 at least once.
    let answered: BTreeSet<String> = server
        .request_log()
        .into_iter()
        .filter(|r| r.status == Some(200))
        .filter_map(|r| r.operation)
        .collect();
    let spec_ops: BTreeSet<String> = support::spec_operations()
        .into_iter()
        .map(|op| op.operation_id)
        .collect();
    assert_eq!(spec_ops.len(), 17);
    assert_eq!(answered, spec_ops);
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn secrets_are_stored_but_never_returned() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();
    let mut seen: Vec<Value> = Vec::new();
    let mut keep = |i: Integration| seen.push(i.into_raw());
    keep(bi.create(support::hightouch("a")).await.expect("create"));
    keep(bi.create(support::looker("b")).await.expect("create"));
    keep(bi.create(support::mode("c")).await.expect("create"));
    keep(bi.create(support::powerbi("d")).await.expect("create"));
    keep(bi.create(support::tableau("e")).await.expect("create"));
    keep(bi.update(2, support::looker("b2")).await.expect("update"));
    for id in 1..=5 {
        keep(bi.get(id).await.expect("get"));
        keep(
            bi.sync(id)
                .await
                .expect("sync")
                .expect("the mock answers with it"),
        );
    }
    let list = bi.list().await.expect("list").raw().clone();
    keep(
        bi.remove(1)
            .await
            .expect("remove")
            .expect("the mock answers with it"),
    );
    seen.push(list);
    let logs = client.audit_logs().list().send().await.expect("audit logs");
    let everything = format!(
        "{} {}",
        Value::Array(seen),
        serde_json::to_string(&logs).expect("json")
    );
    for secret in support::SECRETS {
        assert!(
            !everything.contains(secret),
            "{secret} leaked into a response"
        );
    }
    for field in ["token", "password", "client_secret", "token_value"] {
        assert!(
            !everything.contains(&format!("\"{field}\"")),
            "field {field} in a response"
        );
    }

    // Stored all the same: the mock keeps what it was sent.
    let stored = server.stored_integrations();
    assert_eq!(stored[&2]["client_secret"], "looker-client-secret-SECRET");
    assert_eq!(stored[&3]["password"], "mode-password-SECRET");
    // The request log never holds the key or a body.
    let log = format!("{:?} {:?}", server.request_log(), server);
    for secret in support::SECRETS {
        assert!(
            !log.contains(secret),
            "{secret} in the request log or Debug output"
        );
    }
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn a_missing_required_field_is_a_fastapi_422_for_every_kind() {
    let server = support::start();
    let id = support::client(&server)
        .bi()
        .create(support::dbt("existing"))
        .await
        .expect("create")
        .id();
    let mut cases = 0;
    for (kind, required) in support::REQUIRED {
        for field in required {
            let mut body = support::valid_body(kind);
            body.as_object_mut().expect("an object").remove(*field);
            let expected = json!({"detail": [{"loc": ["body", field], "msg": "Field required", "type": "missing"}]});
            for (method, path) in [
                (Method::POST, format!("/api/v1/lineage/bi/{kind}/")),
                (Method::PUT, format!("/api/v1/lineage/bi/{kind}/{id}/")),
            ] {
                let (status, _, answer) =
                    support::send(&server, method.clone(), &path, Some(&body.to_string())).await;
                assert_eq!(
                    (status, &answer),
                    (422, &expected),
                    "{method} {path} without {field}"
                );
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 2 * 13, "13 required fields, each on POST and PUT");
    // Power BI requires nothing, so check its types instead.
    let bad = json!({"client_id": 5, "auth_type": "password"}).to_string();
    let (status, _, answer) = support::send(
        &server,
        Method::POST,
        "/api/v1/lineage/bi/powerbi/",
        Some(&bad),
    )
    .await;
    assert_eq!(status, 422);
    let kinds: Vec<_> = answer["detail"]
        .as_array()
        .expect("detail")
        .iter()
        .map(|d| (d["loc"].clone(), d["type"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!(["body", "auth_type"]), json!("enum")),
            (json!(["body", "client_id"]), json!("string_type"))
        ]
    );
    assert!(
        server.request_log().iter().skip(1).all(|r| !r.applied),
        "a 422 changed state"
    );
    assert_eq!(server.stored_integrations().len(), 1);
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn wrong_types_malformed_json_and_bad_ids_are_422() {
    let server = support::start();
    let looker = "/api/v1/lineage/bi/looker/";
    let mut body = support::valid_body("looker");
    body["repo_id"] = json!("three");
    body["bindings"] = json!([{"remoteId": "r"}]);
    let (status, _, answer) =
        support::send(&server, Method::POST, looker, Some(&body.to_string())).await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["detail"],
        json!([
            {"loc": ["body", "bindings", 0, "boundIds"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "repo_id"], "msg": "Input should be a valid integer, unable to parse string as an integer", "type": "int_parsing"},
        ])
    );
    let (status, _, answer) =
        support::send(&server, Method::POST, looker, Some("{\"base_url\": ")).await;
    assert_eq!(
        (status, &answer["detail"][0]["type"]),
        (422, &json!("json_invalid"))
    );
    assert_eq!(answer["detail"][0]["loc"][0], "body");
    let (status, _, answer) = support::send(&server, Method::POST, looker, None).await;
    assert_eq!(
        (status, &answer["detail"]),
        (
            422,
            &json!([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
        )
    );
    let (status, _, answer) = support::send(&server, Method::POST, looker, Some("[1]")).await;
    assert_eq!(
        (status, &answer["detail"][0]["type"]),
        (422, &json!("model_attributes_type"))
    );

    let int_error = json!([{"loc": ["path", "bi_datasource_id"], "msg": "Input should be a valid integer, unable to parse string as an integer", "type": "int_parsing"}]);
    for (method, path) in [
        (Method::GET, "/api/v1/lineage/bi/abc/"),
        (Method::DELETE, "/api/v1/lineage/bi/1.5/"),
        (Method::GET, "/api/v1/lineage/bi/x/sync/"),
        // `looker` is not an id, as FastAPI would also say.
        (Method::GET, "/api/v1/lineage/bi/looker/"),
    ] {
        let (status, _, answer) = support::send(&server, method.clone(), path, None).await;
        assert_eq!(
            (status, &answer["detail"]),
            (422, &int_error),
            "{method} {path}"
        );
    }
    let body = support::valid_body("looker").to_string();
    let (status, _, answer) = support::send(
        &server,
        Method::PUT,
        "/api/v1/lineage/bi/looker/abc/",
        Some(&body),
    )
    .await;
    assert_eq!((status, &answer["detail"]), (422, &int_error));
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn missing_or_wrong_scheme_is_401_and_an_unknown_key_403() {
    let server = support::start();
    let url = format!("{}/api/v1/lineage/bi/", server.url());
    let raw = support::raw();
    let none = raw.get(&url).send().await.expect("answer");
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.json::<Value>().await.expect("json"),
        json!({"detail": "Not authenticated"})
    );
    let bearer = raw
        .get(&url)
        .bearer_auth(support::KEY)
        .send()
        .await
        .expect("answer");
    assert_eq!(bearer.status(), 401);

    let stranger = Client::builder()
        .api_key("not-a-key")
        .host(server.url())
        .build()
        .expect("client");
    let error = stranger
        .bi()
        .list()
        .await
        .expect_err("an unknown key is refused");
    assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
    let error = stranger
        .bi()
        .create(support::looker("x"))
        .await
        .expect_err("refused");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403));
    assert!(
        !error.to_string().contains("not-a-key"),
        "the key leaked into {error}"
    );
    assert!(server.stored_integrations().is_empty());
    assert!(server.recorded_audit_events().is_empty());
}

#[tokio::test]
async fn an_unknown_id_is_404_for_get_update_remove_and_sync() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();
    let errors = [
        bi.get(99).await.expect_err("get"),
        bi.update(99, support::looker("x"))
            .await
            .expect_err("update"),
        bi.remove(99).await.expect_err("remove"),
        bi.sync(99).await.expect_err("sync"),
    ];
    for error in errors {
        assert!(matches!(error, Error::NotFound(_)), "{error:?}");
        assert_eq!(
            error
                .http_failure()
                .and_then(|f| f.detail.clone())
                .as_deref(),
            Some("BI integration 99 not found")
        );
    }
    assert!(server.recorded_audit_events().is_empty());
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn an_update_through_another_kind_is_rejected_and_changes_nothing() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();
    let id = bi
        .create(support::tableau("dashboards"))
        .await
        .expect("create")
        .id();
    let error = bi
        .update(id, support::looker("hijack"))
        .await
        .expect_err("a Looker PUT on a Tableau id");
    assert_eq!(
        error.status().map(|s| s.as_u16()),
        Some(400),
        "well-formed, but the wrong endpoint for this id"
    );
    let detail = error
        .http_failure()
        .and_then(|f| f.detail.clone())
        .expect("a detail");
    assert!(
        detail.contains("tableau") && detail.contains(&format!("/tableau/{id}/")),
        "{detail}"
    );
    let unchanged = bi.get(id).await.expect("get");
    assert_eq!(
        (unchanged.type_name(), unchanged.name()),
        (Some("tableau"), Some("dashboards"))
    );
    assert_eq!(
        server.recorded_audit_events().len(),
        1,
        "only the create is recorded"
    );
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn bi_calls_produce_the_audit_events_the_audit_endpoint_returns() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();
    let since = Utc::now() - Duration::seconds(1);
    let id = bi
        .create(support::looker("sales"))
        .await
        .expect("create")
        .id();
    bi.update(id, support::looker("sales v2"))
        .await
        .expect("update");
    bi.sync(id).await.expect("sync");
    bi.remove(id).await.expect("remove");
    let _ = bi.get(id).await.expect_err("gone");

    let logs = client
        .audit_logs()
        .list()
        .start(since)
        .send()
        .await
        .expect("audit logs");
    let summary: Vec<_> = logs
        .iter()
        .map(|l| {
            (
                l.action.as_deref(),
                l.request_type.as_deref(),
                l.object_id,
                l.user_email.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some("bi_added"),
                Some("POST"),
                Some(id),
                Some(support::OWNER)
            ),
            (
                Some("bi_modified"),
                Some("PUT"),
                Some(id),
                Some(support::OWNER)
            ),
            (
                Some("bi_synced"),
                Some("GET"),
                Some(id),
                Some(support::OWNER)
            ),
            (
                Some("bi_deleted"),
                Some("DELETE"),
                Some(id),
                Some(support::OWNER)
            ),
        ]
    );
    assert!(
        logs[0].url.ends_with("/api/v1/lineage/bi/looker/"),
        "{}",
        logs[0].url
    );
    assert!(
        logs[2]
            .url
            .ends_with(&format!("/api/v1/lineage/bi/{id}/sync/")),
        "{}",
        logs[2].url
    );
    assert!(logs
        .iter()
        .all(|l| l.client_ip == "127.0.0.1" && l.object_type.as_deref() == Some("bi_datasource")));
    assert!(logs.iter().all(|l| l.timestamp >= since));
    let uuids: BTreeSet<_> = logs.iter().map(|l| l.event_uuid.clone()).collect();
    assert_eq!(uuids.len(), 4, "event ids are unique");
    assert_eq!(logs, server.recorded_audit_events());
    let applied = server.request_log().iter().filter(|r| r.applied).count();
    assert_eq!(applied, 4);
    support::assert_spec_clean(&server);
}

#[tokio::test]
async fn a_bi_path_without_its_trailing_slash_redirects_like_fastapi() {
    let server = support::start();
    for (method, path) in [
        (Method::GET, "/api/v1/lineage/bi"),
        (Method::POST, "/api/v1/lineage/bi/looker"),
        (Method::PUT, "/api/v1/lineage/bi/tableau/4"),
        (Method::GET, "/api/v1/lineage/bi/4/sync"),
    ] {
        let (status, headers, _) = support::send(&server, method.clone(), path, None).await;
        assert_eq!(status, 307, "{method} {path}");
        let location = headers["location"].to_str().expect("ascii");
        assert_eq!(location, format!("{}{path}/", server.url()));
    }
    let (status, headers, _) =
        support::send(&server, Method::GET, "/api/v1/audit_logs/", None).await;
    assert_eq!(status, 307);
    assert!(headers["location"]
        .to_str()
        .expect("ascii")
        .ends_with("/api/v1/audit_logs"));
    let (status, _, answer) = support::send(&server, Method::GET, "/api/v1/nothing/", None).await;
    assert_eq!((status, answer), (404, json!({"detail": "Not Found"})));
    let (status, headers, _) =
        support::send(&server, Method::POST, "/api/v1/lineage/bi/", None).await;
    assert_eq!(
        (status, headers["allow"].to_str().expect("ascii")),
        (405, "GET")
    );
    assert!(server.stored_integrations().is_empty());
}

/// Datafold's docs: the Hightouch, Looker, Mode and Tableau updates "can
/// only update the schedule". The mock applies the schedule and keeps every
/// other field, the name included; dbt and Power BI take the whole body.
#[tokio::test]
async fn schedule_only_kinds_apply_only_the_schedule_on_update() {
    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();
    let looker = bi.create(support::looker("lk")).await.expect("create");
    let id = looker.id();
    let changed = support::looker("renamed")
        .base_url("https://other.looker.com")
        .indexing_cron(Some("0 5 * * *".to_owned()));
    let updated = bi.update(id, changed).await.expect("update");
    assert_eq!(updated.indexing_cron(), Some("0 5 * * *"));
    assert_eq!(updated.name(), Some("lk"));
    assert_eq!(
        updated.get("base_url"),
        Some(&json!("https://looker.example.com"))
    );
    let stored = &server.stored_integrations()[&id];
    assert_eq!(stored["client_secret"], "looker-client-secret-SECRET");

    let dbt = bi.create(support::dbt("d")).await.expect("create dbt");
    let dbt_id = dbt.id();
    let renamed = bi
        .update(dbt_id, support::dbt("d 2").ci_config_id(9))
        .await
        .expect("update dbt");
    assert_eq!(
        (renamed.name(), renamed.get("ci_config_id")),
        (Some("d 2"), Some(&json!(9)))
    );
}

/// `Integration::typed`: each kind's answer as its generated configuration
/// type, the fields the mock returns as sent, every secret withheld, and a
/// typed view sent back unchanged refused before any request.
#[tokio::test]
async fn each_kind_reads_back_typed_with_its_secrets_withheld() {
    use datafold_sdk::bi::TypedConfig;
    use datafold_sdk::types;

    let server = support::start();
    let client = support::client(&server);
    let bi = client.bi();

    let made = one_of_each(&bi, ["d", "h", "l", "m", "p", "t"]).await;
    // A placeholder in the answer is not the secret either.
    let masked = json!({"id": 9, "type": "tableau", "server_url": "u", "site_id": "s",
        "token_name": "n", "token_value": "********"});
    match Integration::from_raw(masked).unwrap().typed() {
        Some(TypedConfig::Tableau(c)) => assert!(c.token_value.is_withheld()),
        other => panic!("{other:?}"),
    }
    let mut powerbi_view = None;
    for integration in &made {
        let fetched = bi.get(integration.id()).await.unwrap();
        let typed = fetched.typed().unwrap_or_else(|| panic!("{fetched:?}"));
        assert_eq!(Some(typed.kind()), fetched.kind());
        match typed {
            TypedConfig::Dbt(c) => assert_eq!((c.ci_config_id, c.name.as_deref()), (7, Some("d"))),
            TypedConfig::Hightouch(c) => {
                assert_eq!(c.workspace.as_deref(), Some("ws"));
                assert_eq!(c.bindings[0].remote_id, "model-1");
                assert!(c.token.is_withheld());
            }
            TypedConfig::Looker(c) => {
                assert_eq!(
                    (c.base_url.as_str(), c.repo_id),
                    ("https://looker.example.com", 3)
                );
                assert!(c.client_secret.is_withheld() && c.client_secret.expose().is_empty());
                assert_eq!(
                    format!("{:?}", c.client_secret),
                    "Secret(withheld by the server)"
                );
            }
            TypedConfig::Mode(c) => {
                assert_eq!(c.workspace, "analytics");
                assert!(c.token.is_withheld() && c.password.is_withheld());
            }
            TypedConfig::PowerBi(c) => {
                assert_eq!(c.tenant_id.as_deref(), Some("tenant"));
                assert!(c.client_secret.as_ref().is_some_and(|s| s.is_withheld()));
                powerbi_view = Some(c);
            }
            TypedConfig::Tableau(c) => {
                assert_eq!(c.site_id, "site");
                assert!(c.token_value.is_withheld());
            }
            other => panic!("a kind this test does not know: {other:?}"),
        }
    }

    // Sent back as it was read, the view would blank the secret: refused.
    let view = powerbi_view.expect("the Power BI view");
    let id = made[4].id();
    let before = server.request_counts().total;
    let error = bi.update(id, view.clone()).await.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(error.to_string().contains("did not return"), "{error}");
    assert!(
        error.to_string().contains("`client_secret`"),
        "the error names the field to set: {error}"
    );
    assert_eq!(server.request_counts().total, before, "nothing was sent");
    // With the secret set again (or cleared), it goes through.
    let mut renamed: types::PowerBiDataSourceConfig = view;
    renamed.client_secret = Some("a-new-powerbi-secret".into());
    renamed.name = Some("p2".to_owned());
    bi.update(id, renamed).await.unwrap();
    let stored = &server.stored_integrations()[&id];
    assert_eq!(
        (&stored["client_secret"], &stored["name"]),
        (&json!("a-new-powerbi-secret"), &json!("p2"))
    );
}
