use super::*;

fn problems(text: &str) -> Vec<Problem> {
    match Desired::from_yaml_str(text, "f.yaml") {
        Err(AsCodeError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_literal_secret_is_refused_with_its_line_and_never_quoted() {
    let text = "integrations:\n  - name: lk\n    kind: looker\n    base_url: https://l\n    client_id: c\n    repo_id: 1\n    client_secret: hunter2-literal\n";
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(7));
    assert_eq!(found[0].field.as_deref(), Some("client_secret"));
    assert!(!format!("{found:?}").contains("hunter2"));
}

#[test]
fn an_unknown_or_mistyped_field_is_refused_with_its_line() {
    let text = "integrations:\n  - name: tb\n    kind: tableau\n    server_url: https://t\n    site_id: s\n    token_name: n\n    token_value: ${env:TB}\n    indexing_corn: '0 * * * *'\n";
    let found = problems(text);
    assert_eq!(found[0].line, Some(8));
    assert!(
        found[0].message.contains("did you mean `indexing_cron`"),
        "{}",
        found[0]
    );
    let text = "integrations:\n  - name: lk\n    kind: looker\n    base_url: https://l\n    client_id: c\n    repo_id: forty\n    client_secret: ${env:X}\n";
    let found = problems(text);
    assert_eq!(
        (found[0].line, found[0].field.as_deref()),
        (Some(6), Some("repo_id"))
    );
}

#[test]
fn references_parse_and_keys_come_from_name_or_id() {
    let text = "integrations:\n  - name: d\n    kind: dbt\n    ci_config_id: 1\n  - id: 7\n    kind: mode\n    token: ${env:T}\n    password: ${file:pw.txt}\n";
    let desired = Desired::from_yaml_str(text, "f.yaml").unwrap();
    let entries = desired.entries();
    assert_eq!(entries[0].key(), &EntryKey::Name("d".into()));
    assert_eq!(entries[1].key(), &EntryKey::Id(7));
    assert_eq!(entries[1].line(), Some(5));
    assert_eq!(
        entries[1].secrets()["password"],
        SecretRef::File("pw.txt".into())
    );
    assert_eq!(
        SecretRef::parse("${env:A_B}"),
        Some(SecretRef::Env("A_B".into()))
    );
    assert_eq!(SecretRef::parse("${env:}"), None);
    assert_eq!(SecretRef::parse("plain"), None);
}

#[test]
fn an_alias_bomb_and_deep_flow_nesting_are_refused_before_they_cost_memory() {
    let mut text = format!(
        "integrations:\n  - name: &big {}\n    kind: dbt\n    ci_config_id: 1\n    tags:\n",
        "x".repeat(100_000)
    );
    for _ in 0..2_000 {
        text.push_str("      - *big\n");
    }
    let found = problems(&text);
    assert!(
        found[0].message.contains("expand beyond 4 MiB"),
        "{found:?}"
    );
    let deep = format!(
        "integrations: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let found = problems(&deep);
    assert!(found[0].message.contains("flow collections"), "{found:?}");
}

#[test]
fn a_file_of_many_problems_lists_twenty_and_counts_the_rest() {
    let mut text = String::from("integrations:\n");
    for i in 0..50 {
        text.push_str(&format!(
            "  - name: d{i}\n    kind: dbt\n    ci_config_id: x\n"
        ));
    }
    let found = problems(&text);
    assert_eq!(found.len(), 21);
    assert_eq!(found[20].message, "and 30 more problems");
    assert_eq!(found[0].line, Some(4));
}
