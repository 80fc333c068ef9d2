//! BI integrations as code through the SDK alone: `Desired`,
//! `client.bi().plan()`, the `Plan` value and `plan.apply()`, against the
//! embedded mock.

#![cfg(feature = "as-code")]

mod mock_support;

use datafold_sdk::bi::{
    Action, ApplyOptions, AsCodeError, Desired, PlanOptions, Rotation, SecretState,
};
use mock_support as support;

const SECRET: &str = "sdk-looker-secret-51c0e2";

fn desired(base_url: &str) -> Desired {
    // Read by the plan; every test of this binary sets the same value.
    std::env::set_var("SDK_AS_CODE_LOOKER_SECRET", SECRET);
    let text = format!(
        "integrations:\n  - name: Looker (prod)\n    kind: looker\n    base_url: {base_url}\n    client_id: c\n    client_secret: ${{env:SDK_AS_CODE_LOOKER_SECRET}}\n    repo_id: 4\n  - name: dbt\n    kind: dbt\n    ci_config_id: 2\n"
    );
    Desired::from_yaml_str(&text, "inline.yaml").unwrap()
}

#[tokio::test]
async fn plan_then_apply_then_an_empty_plan_and_no_secret_in_debug_or_json() {
    let server = support::start();
    let client = support::client(&server);
    let wanted = desired("https://l.example.com");

    let plan = client.bi().plan(&wanted).await.unwrap();
    assert_eq!(plan.count(Action::Create), 2);
    assert!(plan.has_changes());
    let shown = format!("{plan:?} {plan} {}", serde_json::to_string(&plan).unwrap());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("(sensitive)"));

    let report = plan.apply(&client).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(!format!("{report:?}").contains(SECRET));
    assert_eq!(server.stored_integrations().len(), 2);

    let again = client.bi().plan(&wanted).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    assert_eq!(again.count(Action::Unchanged), 2);
}

#[tokio::test]
async fn a_create_whose_response_was_lost_is_found_by_name_not_created_again() {
    let server = support::start();
    let client = support::client(&server);
    // The create went through, but its caller never learnt it.
    client
        .bi()
        .create(
            support::looker("Looker (prod)")
                .repo_id(4)
                .client_id("c")
                .base_url("https://l.example.com"),
        )
        .await
        .unwrap();
    let plan = client
        .bi()
        .plan(&desired("https://l.example.com"))
        .await
        .unwrap();
    let looker = &plan.changes()[0];
    assert_eq!(looker.action, Action::Unchanged, "{plan}");
    assert_eq!(looker.id, Some(1));
    plan.apply(&client).await.unwrap();
    assert_eq!(
        server.stored_integrations().len(),
        2,
        "only dbt was created"
    );
}

#[tokio::test]
async fn a_replace_is_refused_unless_allowed_and_prune_deletes() {
    let server = support::start();
    let client = support::client(&server);
    client
        .bi()
        .plan(&desired("https://a.example.com"))
        .await
        .unwrap()
        .apply(&client)
        .await
        .unwrap();
    client.bi().create(support::dbt("hand made")).await.unwrap();

    let plan = client
        .bi()
        .plan_with(
            &desired("https://b.example.com"),
            PlanOptions {
                prune: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(plan.count(Action::Replace), 1, "{plan}");
    assert_eq!(plan.count(Action::Delete), 1, "{plan}");
    let refused = plan.apply(&client).await.unwrap_err();
    assert!(
        matches!(refused, AsCodeError::ReplaceNotAllowed(_)),
        "{refused}"
    );
    assert_eq!(server.stored_integrations().len(), 3, "nothing was changed");

    let options = ApplyOptions {
        allow_replace: true,
        state: None,
    };
    let report = plan.apply_with(&client, options).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    let stored = server.stored_integrations();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .values()
        .any(|c| c["base_url"] == "https://b.example.com"));
}

#[tokio::test]
async fn the_state_file_holds_no_secret_and_belongs_to_one_host_and_file() {
    let server = support::start();
    let client = support::client(&server);
    let dir = std::env::temp_dir().join(format!("datafold-sdk-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let wanted = desired("https://l.example.com");

    let mut state = SecretState::open(&path, client.host(), "bi.yaml").unwrap();
    let plan = client.bi().plan(&wanted).await.unwrap();
    let options = ApplyOptions {
        allow_replace: false,
        state: Some(&mut state),
    };
    plan.apply_with(&client, options).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SECRET), "{text}");

    let state = SecretState::open(&path, client.host(), "bi.yaml").unwrap();
    let options = PlanOptions {
        prune: false,
        state: Some(&state),
        ..PlanOptions::default()
    };
    let plan = client.bi().plan_with(&wanted, options).await.unwrap();
    assert_eq!(plan.changes()[0].secrets.rotation, Rotation::Unchanged);

    let other_file = SecretState::open(&path, client.host(), "other.yaml").unwrap_err();
    assert!(
        other_file
            .to_string()
            .contains("belongs to the file bi.yaml"),
        "{other_file}"
    );
    let other_host = SecretState::open(&path, "https://app.datafold.com", "bi.yaml").unwrap_err();
    assert!(
        other_host.to_string().contains("belongs to host"),
        "{other_host}"
    );
}

#[tokio::test]
async fn a_pin_claims_its_integration_before_any_name_does() {
    let server = support::start();
    let client = support::client(&server);
    let made = client.bi().create(support::dbt("shared")).await.unwrap();
    let id = made.id();
    // The name entry comes first in the file, but the pin owns integration `id`.
    let text = format!(
        "integrations:\n  - name: shared\n    kind: dbt\n    ci_config_id: 7\n  - id: {id}\n    kind: dbt\n    name: shared\n    ci_config_id: 7\n"
    );
    let wanted = Desired::from_yaml_str(&text, "inline.yaml").unwrap();
    let plan = client.bi().plan(&wanted).await.unwrap();
    let actions: Vec<(Action, Option<i64>)> =
        plan.changes().iter().map(|c| (c.action, c.id)).collect();
    assert_eq!(
        actions,
        [(Action::Create, None), (Action::Unchanged, Some(id))],
        "{plan}"
    );
}

#[tokio::test]
async fn a_plan_made_without_reading_secrets_is_shown_but_never_applied() {
    let server = support::start();
    let client = support::client(&server);
    let text = "integrations:\n  - name: Looker\n    kind: looker\n    base_url: https://l.example.com\n    client_id: c\n    client_secret: ${env:SDK_AS_CODE_NEVER_SET_7f3a}\n    repo_id: 4\n";
    let wanted = Desired::from_yaml_str(text, "inline.yaml").unwrap();
    assert!(matches!(
        client.bi().plan(&wanted).await,
        Err(AsCodeError::Secret(_))
    ));
    let options = PlanOptions {
        skip_secrets: true,
        ..PlanOptions::default()
    };
    let plan = client.bi().plan_with(&wanted, options).await.unwrap();
    assert_eq!(plan.count(Action::Create), 1);
    assert!(
        plan.to_string().contains("client_secret: (sensitive)"),
        "{plan}"
    );
    let refused = plan.apply(&client).await.unwrap_err();
    assert!(matches!(refused, AsCodeError::Secret(_)), "{refused}");
    assert!(server.stored_integrations().is_empty(), "nothing was sent");
}
