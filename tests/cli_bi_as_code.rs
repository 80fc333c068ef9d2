//! BI integrations as code, end to end: `datafold bi plan|apply|export`
//! and `bi schema --file` against the embedded mock. Every command's
//! stdout and stderr is searched for every secret of the test.

#![cfg(feature = "cli")]

mod cli_support;
mod json_schema_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafold_sdk::mock::{Fault, Faults, MockServer};
use serde_json::Value;

const KEY: &str = "as-code-test-key";

/// The secrets of the example file, by the variable that holds each.
const SECRETS: [(&str, &str); 6] = [
    ("HIGHTOUCH_TOKEN", "ht-token-3a8f1c-never-shown"),
    (
        "LOOKER_CLIENT_SECRET",
        "lk-client-secret-77d2e9-never-shown",
    ),
    ("MODE_TOKEN", "mode-token-5be04a-never-shown"),
    ("MODE_PASSWORD", "mode-password-c19d3f-never-shown"),
    ("POWERBI_CLIENT_SECRET", "pbi-secret-0e6b71-never-shown"),
    ("TABLEAU_TOKEN", "tableau-token-98a4d2-never-shown"),
];

/// The README's example: one integration of each kind.
const EXAMPLE: &str = r#"# yaml-language-server: $schema=bi-integrations.schema.json
integrations:
  - name: dbt Cloud (prod)
    kind: dbt
    ci_config_id: 7
    indexing_cron: "0 3 * * *"
  - name: Hightouch
    kind: hightouch
    token: ${env:HIGHTOUCH_TOKEN}
    workspace: marketing
    bindings:
      - remoteId: model-42
        boundIds: [1, 2]
  - name: Looker (prod)
    kind: looker
    base_url: https://acme.looker.com
    client_id: datafold
    client_secret: ${env:LOOKER_CLIENT_SECRET}
    repo_id: 42
    project_ids: [analytics]
    indexing_cron: "0 */6 * * *"
  - name: Mode
    kind: mode
    token: ${env:MODE_TOKEN}
    password: ${env:MODE_PASSWORD}
    workspace: acme
  - name: Power BI
    kind: powerbi
    auth_type: service_principal
    client_id: 5f0c-datafold
    client_secret: ${env:POWERBI_CLIENT_SECRET}
    tenant_id: acme.onmicrosoft.com
  - name: Tableau
    kind: tableau
    server_url: https://tableau.acme.com
    site_id: analytics
    token_name: datafold
    token_value: ${env:TABLEAU_TOKEN}
    indexing_cron: "30 2 * * *"
"#;

fn mock() -> MockServer {
    MockServer::builder().api_key(KEY).start().unwrap()
}

fn datafold(server: &MockServer) -> Command {
    let mut command = cli_support::datafold(KEY, server.url());
    for (var, value) in SECRETS {
        command.env(var, value);
    }
    command
}

/// Run, check that no secret shows, and give (exit code, stdout, stderr).
fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (var, secret) in SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "the secret in {var} leaked:\n{stdout}\n{stderr}"
        );
    }
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn bi(server: &MockServer, args: &[&str]) -> (i32, String, String) {
    run(datafold(server).arg("bi").args(args))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The stored integrations by name: (id, configuration with secrets).
fn stored(server: &MockServer) -> BTreeMap<String, (i64, Value)> {
    let mut by_name = BTreeMap::new();
    for (id, config) in server.stored_integrations() {
        let name = config["name"].as_str().unwrap_or("").to_owned();
        assert!(
            by_name.insert(name.clone(), (id, config)).is_none(),
            "two integrations named {name:?}"
        );
    }
    by_name
}

fn applied(server: &MockServer, dir: &Path) -> PathBuf {
    let file = write(dir, "bi.yaml", EXAMPLE);
    let (code, _, stderr) = bi(server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    file
}

#[test]
fn six_kinds_are_created_on_an_empty_server_and_the_next_plan_is_empty() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "six");
    let file = write(&dir, "bi.yaml", EXAMPLE);

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 10, "changes pending:\n{stdout}");
    let (_, help, _) = run(datafold(&server).arg("--help"));
    assert!(help.contains(" 10  changes pending"), "{help}");
    assert!(
        stdout.contains("Plan: 6 to create, 0 to update"),
        "{stdout}"
    );
    assert!(stdout.contains("client_secret: (sensitive)"), "{stdout}");

    let (code, stdout, stderr) = bi(&server, &["apply", "-f", path(&file), "--yes", "-vv"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("DEBUG"), "-vv logs: {stderr}");
    let integrations = stored(&server);
    assert_eq!(integrations.len(), 6);
    // The secrets were sent, read from the variables.
    assert_eq!(
        integrations["Looker (prod)"].1["client_secret"],
        "lk-client-secret-77d2e9-never-shown"
    );
    assert_eq!(
        integrations["Mode"].1["password"],
        "mode-password-c19d3f-never-shown"
    );

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0, "no changes:\n{stdout}");
    assert!(
        stdout.contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete; 6 unchanged"),
        "{stdout}"
    );
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file), "--format", "json"]);
    assert_eq!(code, 0);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let actions: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unchanged"; 6]);
}

#[test]
fn a_schedule_change_is_one_update_that_keeps_everything_else() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "schedule");
    let file = applied(&server, &dir);
    let before = stored(&server);
    let changed = EXAMPLE.replace("\"30 2 * * *\"", "\"45 4 * * *\"");
    write(&dir, "bi.yaml", &changed);

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 10);
    assert!(
        stdout.contains("Plan: 0 to create, 1 to update, 0 to replace"),
        "{stdout}"
    );
    assert!(
        stdout.contains("indexing_cron: \"30 2 * * *\" -> \"45 4 * * *\""),
        "{stdout}"
    );
    assert!(stdout.contains("secrets sent: token_value"), "{stdout}");

    server.clear_request_log();
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let writes: Vec<String> = server
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let (id, old) = &before["Tableau"];
    assert_eq!(writes, [format!("PUT /api/v1/lineage/bi/tableau/{id}/")]);
    let after = stored(&server);
    let (new_id, new) = &after["Tableau"];
    assert_eq!(new_id, id);
    assert_eq!(new["indexing_cron"], "45 4 * * *");
    for field in ["name", "server_url", "site_id", "token_name", "token_value"] {
        assert_eq!(new[field], old[field], "{field}");
    }
    let (code, _, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0);
}

#[test]
fn a_looker_base_url_change_is_a_replace_refused_without_allow_replace() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "replace");
    let file = applied(&server, &dir);
    let (old_id, _) = stored(&server)["Looker (prod)"].clone();
    write(
        &dir,
        "bi.yaml",
        &EXAMPLE.replace("https://acme.looker.com", "https://new.looker.com"),
    );

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 10);
    assert!(stdout.contains("1 to replace"), "{stdout}");
    assert!(
        stdout.contains("Looker's update can only change the schedule"),
        "{stdout}"
    );
    assert!(
        stdout.contains("base_url: \"https://acme.looker.com\" -> \"https://new.looker.com\""),
        "{stdout}"
    );

    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("--allow-replace"), "{stderr}");
    assert!(
        !stderr.contains("ApplyOptions"),
        "SDK terms in a CLI message: {stderr}"
    );
    assert_eq!(
        stored(&server)["Looker (prod)"].0,
        old_id,
        "nothing changed"
    );

    let (code, _, stderr) = bi(
        &server,
        &["apply", "-f", path(&file), "--yes", "--allow-replace"],
    );
    assert_eq!(code, 0, "{stderr}");
    let after = stored(&server);
    assert_eq!(after.len(), 6);
    let (new_id, looker) = &after["Looker (prod)"];
    assert_ne!(*new_id, old_id, "a replace gives a new id");
    assert_eq!(looker["base_url"], "https://new.looker.com");
    assert_eq!(bi(&server, &["plan", "-f", path(&file)]).0, 0);
}

#[test]
fn an_integration_left_out_is_unmanaged_and_deleted_only_with_prune() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "prune");
    let file = applied(&server, &dir);
    let without_dbt = EXAMPLE.replace(
        "  - name: dbt Cloud (prod)\n    kind: dbt\n    ci_config_id: 7\n    indexing_cron: \"0 3 * * *\"\n",
        "",
    );
    write(&dir, "bi.yaml", &without_dbt);

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0, "an unmanaged integration is no change:\n{stdout}");
    assert!(
        stdout.contains("? unmanaged dbt \"dbt Cloud (prod)\""),
        "{stdout}"
    );
    assert!(stdout.contains("--prune deletes it"), "{stdout}");
    let (code, _, _) = bi(&server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 0);
    assert_eq!(stored(&server).len(), 6);

    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file), "--prune"]);
    assert_eq!(code, 10);
    assert!(
        stdout.contains("- delete dbt \"dbt Cloud (prod)\""),
        "{stdout}"
    );
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file), "--prune", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let after = stored(&server);
    assert_eq!(after.len(), 5);
    assert!(!after.contains_key("dbt Cloud (prod)"));
}

#[test]
fn an_id_pin_adopts_a_hand_made_integration() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "pin");
    let (code, stdout, stderr) = run(datafold(&server).args([
        "bi",
        "create",
        "looker",
        "--name",
        "made by hand",
        "--base-url",
        "https://acme.looker.com",
        "--client-id",
        "datafold",
        "--repo-id",
        "42",
        "--client-secret-env",
        "LOOKER_CLIENT_SECRET",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let id = serde_json::from_str::<Value>(&stdout).unwrap()["id"]
        .as_i64()
        .unwrap();
    let pinned = format!(
        "integrations:\n  - id: {id}\n    kind: looker\n    name: made by hand\n    base_url: https://acme.looker.com\n    client_id: datafold\n    client_secret: ${{env:LOOKER_CLIENT_SECRET}}\n    repo_id: 42\n    indexing_cron: \"0 1 * * *\"\n"
    );
    let file = write(&dir, "pinned.yaml", &pinned);
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 10);
    assert!(
        stdout.contains(&format!("~ update looker \"made by hand\" (id {id})")),
        "{stdout}"
    );
    assert!(stdout.contains("0 to create"), "{stdout}");
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let after = server.stored_integrations();
    assert_eq!(after.len(), 1, "adopted, not created");
    assert_eq!(after[&id]["indexing_cron"], "0 1 * * *");
    assert_eq!(bi(&server, &["plan", "-f", path(&file)]).0, 0);
}

#[test]
fn a_literal_secret_or_an_unknown_field_is_refused_with_its_line() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "refused");
    // (file, edit of the example, what stderr must say)
    let cases: [(&str, (&str, &str), &[&str]); 3] = [
        (
            "literal.yaml",
            (
                "${env:LOOKER_CLIENT_SECRET}",
                "lk-client-secret-77d2e9-never-shown",
            ),
            &["line 18", "field `client_secret`", "${env:VAR}"],
        ),
        (
            "mistyped.yaml",
            ("indexing_cron: \"30 2", "indexing_corn: \"30 2"),
            &[
                "line 39",
                "field `indexing_corn`",
                "did you mean `indexing_cron`",
            ],
        ),
        (
            "typed.yaml",
            ("repo_id: 42", "repo_id: forty-two"),
            &["line 19", "field `repo_id`"],
        ),
    ];
    for (name, (from, to), expected) in cases {
        assert!(EXAMPLE.contains(from), "{name}: the example has {from:?}");
        let file = write(&dir, name, &EXAMPLE.replace(from, to));
        let (code, _, stderr) = bi(&server, &["plan", "-f", path(&file)]);
        assert_eq!(code, 5, "{name}: {stderr}");
        for needle in expected {
            assert!(stderr.contains(needle), "{name}: {needle:?} in {stderr}");
        }
    }
    assert!(server.stored_integrations().is_empty());
}

#[test]
fn export_then_plan_is_empty_once_the_variables_are_set() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "export");
    applied(&server, &dir);
    let exported = dir.join("exported.yaml");
    let (code, _, stderr) = bi(&server, &["export", "-o", path(&exported)]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&exported).unwrap();
    let by_name = stored(&server);
    let looker_var = "DATAFOLD_BI_LOOKER_PROD_CLIENT_SECRET";
    assert!(text.contains(&format!("${{env:{looker_var}}}")), "{text}");
    assert!(
        stderr.contains(looker_var),
        "the variables are listed: {stderr}"
    );

    // The exported variables, set to the secrets the server holds.
    let mut plan = datafold(&server);
    plan.args(["bi", "plan", "-f", path(&exported)]);
    // Named after the integrations (stable across a replace's new id).
    for (name, (_, config)) in &by_name {
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    ' '
                }
            })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("_");
        for field in ["token", "client_secret", "password", "token_value"] {
            if let Some(secret) = config.get(field).and_then(Value::as_str) {
                let var = format!("DATAFOLD_BI_{slug}_{}", field.to_ascii_uppercase());
                plan.env(var, secret);
            }
        }
    }
    let (code, stdout, stderr) = run(&mut plan);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("6 unchanged"), "{stdout}");
}

#[test]
fn apply_under_injected_faults_converges_within_three_runs_without_duplicates() {
    let faults = Faults::new()
        .seed(8)
        .rate(Fault::Unavailable, 0.15)
        .rate(Fault::RateLimited, 0.15)
        .rate(Fault::ResetBeforeHandler, 0.05)
        .rate(Fault::ResetAfterHandler, 0.05)
        .retry_after_secs(0);
    let server = MockServer::builder()
        .api_key(KEY)
        .faults(faults)
        .start()
        .unwrap();
    let dir = cli_support::scratch("as-code", "faults");
    let file = write(&dir, "bi.yaml", EXAMPLE);
    let mut converged = false;
    for _ in 0..3 {
        let (code, stdout, stderr) = run(datafold(&server).args([
            "--retries",
            "6",
            "-vv",
            "bi",
            "apply",
            "-f",
            path(&file),
            "--yes",
        ]));
        // stored() also fails on two integrations of one name.
        assert!(stored(&server).len() <= 6, "{stdout}{stderr}");
        if code == 0 {
            converged = true;
            break;
        }
    }
    assert!(converged, "apply did not converge in three runs");
    assert_eq!(stored(&server).len(), 6);
    // The runs met the case that matters: a create that was carried out
    // but whose answer was lost.
    let lost_creates = server
        .request_log()
        .into_iter()
        .filter(|r| r.fault == Some(Fault::ResetAfterHandler))
        .filter(|r| {
            r.operation
                .as_deref()
                .is_some_and(|op| op.starts_with("create_"))
        })
        .count();
    assert!(
        lost_creates >= 1,
        "no create lost its answer; pick another seed"
    );
    let (code, stdout, stderr) =
        run(datafold(&server).args(["--retries", "6", "bi", "plan", "-f", path(&file)]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_state_file_detects_a_rotated_secret_without_showing_it() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "state");
    let file = write(&dir, "bi.yaml", EXAMPLE);
    let state = dir.join("bi.state.json");
    let args = ["apply", "-f", path(&file), "--yes", "--state", path(&state)];
    assert_eq!(bi(&server, &args).0, 0);
    let saved = std::fs::read_to_string(&state).unwrap();
    for (_, secret) in SECRETS {
        assert!(!saved.contains(secret), "the state holds no secret");
    }
    let plan = ["plan", "-f", path(&file), "--state", path(&state)];
    let (code, stdout, _) = bi(&server, &plan);
    assert_eq!(code, 0, "{stdout}");

    let (code, stdout, stderr) = run(datafold(&server)
        .env("TABLEAU_TOKEN", "rotated-tableau-token-4242")
        .args(["bi"])
        .args(plan)
        .args(["--format", "json"]));
    assert_eq!(code, 10, "{stderr}");
    assert!(!stdout.contains("rotated-tableau-token-4242"));
    let plan_json: Value = serde_json::from_str(&stdout).unwrap();
    let tableau = plan_json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Tableau")
        .unwrap()
        .clone();
    assert_eq!(tableau["action"], "replace", "{tableau}");
    assert_eq!(tableau["secrets"]["rotation"]["changed"][0], "token_value");
    assert_eq!(tableau["fields"][0]["new"], "(sensitive)");

    // A state made for another host is refused.
    let other = MockServer::builder().api_key(KEY).start().unwrap();
    let (code, _, stderr) = run(datafold(&other).args(["bi"]).args(plan));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("belongs to host"), "{stderr}");
}

#[test]
fn apply_asks_for_confirmation_when_stdin_is_not_a_terminal() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "confirm");
    let file = write(&dir, "bi.yaml", EXAMPLE);
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(server.stored_integrations().is_empty());
}

#[test]
fn the_file_schema_validates_the_readme_example() {
    let server = mock();
    let (code, stdout, _) = bi(&server, &["schema", "--file"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    let mut examples = vec![EXAMPLE.to_owned()];
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## BI integrations as code")
        .nth(1)
        .expect("the README has its BI-integrations-as-code section");
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section holds a yaml block");
    assert_eq!(block, EXAMPLE, "the README shows the tested example");
    examples.push(block.to_owned());
    for example in examples {
        let document: Value = serde_yaml_ng::from_str(&example).unwrap();
        let errors = json_schema_check::validate(&schema, &schema, &document, "$");
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // And it can fail: a literal secret, an unknown field, a missing kind.
    for broken in [
        EXAMPLE.replace("${env:TABLEAU_TOKEN}", "plain-token"),
        EXAMPLE.replace("workspace: acme", "workspaces: acme"),
        EXAMPLE.replace("    kind: mode\n", ""),
    ] {
        let document: Value = serde_yaml_ng::from_str(&broken).unwrap();
        let errors = json_schema_check::validate(&schema, &schema, &document, "$");
        assert!(!errors.is_empty(), "{broken}");
    }
}

#[test]
fn bi_update_by_id_changes_the_schedule_and_keeps_the_name_and_every_other_field() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "update");
    applied(&server, &dir);
    let before = stored(&server);
    let (id, old) = before["Tableau"].clone();
    let id_text = id.to_string();

    // The API requires the secret in every update; the server never returns it.
    let (code, _, stderr) = bi(
        &server,
        &["update", &id_text, "--indexing-cron", "15 1 * * *"],
    );
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("requires `token_value`"), "{stderr}");
    assert!(stderr.contains("--token-value-env VAR"), "{stderr}");

    let (code, stdout, stderr) = bi(
        &server,
        &[
            "update",
            &id_text,
            "--indexing-cron",
            "15 1 * * *",
            "--token-value-env",
            "TABLEAU_TOKEN",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["name"],
        "Tableau"
    );
    let after = stored(&server);
    let (same_id, new) = &after["Tableau"];
    assert_eq!(*same_id, id);
    assert_eq!(new["indexing_cron"], "15 1 * * *");
    for field in ["name", "server_url", "site_id", "token_name", "token_value"] {
        assert_eq!(new[field], old[field], "{field}");
    }

    // A kind without secrets needs nothing but the change, and keeps the rest.
    let (dbt_id, dbt) = before["dbt Cloud (prod)"].clone();
    let (code, _, stderr) = bi(
        &server,
        &[
            "update",
            &dbt_id.to_string(),
            "--indexing-cron",
            "0 9 * * *",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let dbt_now = &stored(&server)["dbt Cloud (prod)"].1;
    assert_eq!(dbt_now["indexing_cron"], "0 9 * * *");
    assert_eq!(dbt_now["ci_config_id"], dbt["ci_config_id"]);

    // An optional secret not given is said to be left out.
    let pbi_id = before["Power BI"].0.to_string();
    let (code, _, stderr) = bi(
        &server,
        &["update", &pbi_id, "--indexing-cron", "0 8 * * *"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("client_secret not given"), "{stderr}");
    assert_eq!(
        stored(&server)["Power BI"].1["tenant_id"],
        "acme.onmicrosoft.com"
    );

    // The kind may still be named; it must be the integration's.
    let (code, _, stderr) = bi(
        &server,
        &[
            "update",
            "looker",
            &id_text,
            "--client-secret-env",
            "LOOKER_CLIENT_SECRET",
        ],
    );
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("is a tableau integration"), "{stderr}");
}

#[test]
fn from_file_refuses_an_unknown_or_mistyped_field_with_its_line() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "from-file");
    applied(&server, &dir);
    let dbt_id = stored(&server)["dbt Cloud (prod)"].0.to_string();
    let before = server.stored_integrations();

    let file = write(
        &dir,
        "typo.yaml",
        "name: dbt Cloud (prod)\nindexing_corn: '0 * * * *'\n",
    );
    let (code, _, stderr) = bi(&server, &["update", &dbt_id, "--from-file", path(&file)]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("typo.yaml line 2"), "{stderr}");
    assert!(stderr.contains("unknown field `indexing_corn`"), "{stderr}");
    assert!(stderr.contains("did you mean `indexing_cron`"), "{stderr}");

    let file = write(
        &dir,
        "typed.json",
        "{\n  \"name\": \"x\",\n  \"ci_config_id\": \"seven\"\n}\n",
    );
    let (code, _, stderr) = bi(&server, &["update", &dbt_id, "--from-file", path(&file)]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("typed.json line 3"), "{stderr}");
    assert!(
        stderr.contains("ci_config_id: expected an integer"),
        "{stderr}"
    );
    assert_eq!(server.stored_integrations(), before, "nothing was sent");
}

#[cfg(unix)]
#[test]
fn files_that_cannot_be_read_say_so_and_an_unsafe_export_output_is_refused_input() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "unreadable");
    // A desired-state file over its 1 MiB cap.
    let big = write(&dir, "big.yaml", &format!("# {}\n", "x".repeat(1 << 20)));
    // A ${file:...} secret that is a FIFO (never opened: it could block).
    let fifo = dir.join("secret.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let with_fifo = write(
        &dir,
        "fifo.yaml",
        &EXAMPLE.replace("${env:HIGHTOUCH_TOKEN}", "${file:secret.fifo}"),
    );
    // (With --state, which compares the secrets, so reads them.)
    let state = dir.join("state.json");
    for (file, says) in [(&big, "longer than"), (&with_fifo, "not a regular file")] {
        let (code, stdout, stderr) = bi(
            &server,
            &["plan", "-f", path(file), "--state", path(&state)],
        );
        assert_eq!(code, 5, "{stdout}{stderr}");
        assert!(
            stderr.contains("cannot read") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!stderr.contains("write"), "{stderr}");
    }

    // `bi export -o` a symbolic link: an unsafe output file, exit 5.
    let victim = write(&dir, "victim", "untouched");
    let link = dir.join("link.yaml");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let (code, _, stderr) = bi(&server, &["export", "-o", path(&link)]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
}

#[test]
fn a_replaced_pinned_entry_gets_its_new_id_in_the_file_and_the_next_plan_is_clean() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "repin");
    applied(&server, &dir);
    let (old_id, _) = stored(&server)["Looker (prod)"].clone();
    let pinned = EXAMPLE
        .replace(
            "  - name: Looker (prod)\n",
            &format!("  - name: Looker (prod)\n    # adopted by hand\n    id: {old_id}   # keep\n"),
        )
        .replace("https://acme.looker.com", "https://new.looker.com");
    let file = write(&dir, "bi.yaml", &pinned);

    let (code, _, stderr) = bi(
        &server,
        &["apply", "-f", path(&file), "--yes", "--allow-replace"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (new_id, _) = stored(&server)["Looker (prod)"].clone();
    assert_ne!(new_id, old_id);
    assert!(
        stderr.contains(&format!("id {old_id} -> {new_id}")),
        "apply says it rewrote the pin: {stderr}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        pinned.replace(
            &format!("id: {old_id}   # keep"),
            &format!("id: {new_id}   # keep")
        ),
        "only the pin's value changed"
    );
    let (code, stdout, stderr) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_managed_entry_removed_from_the_file_is_a_pending_delete_and_a_hand_made_one_survives() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "managed");
    let file = write(&dir, "bi.yaml", EXAMPLE);
    let state = dir.join("bi.state.json");
    let apply = ["apply", "-f", path(&file), "--yes", "--state", path(&state)];
    assert_eq!(bi(&server, &apply).0, 0);
    let (code, _, stderr) = bi(
        &server,
        &[
            "create",
            "dbt",
            "--ci-config-id",
            "9",
            "--name",
            "hand-made",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (mode_id, _) = stored(&server)["Mode"].clone();

    let without_mode = EXAMPLE.replace(
        "  - name: Mode\n    kind: mode\n    token: ${env:MODE_TOKEN}\n    password: ${env:MODE_PASSWORD}\n    workspace: acme\n",
        "",
    );
    assert_ne!(without_mode, EXAMPLE);
    write(&dir, "bi.yaml", &without_mode);
    let plan = ["plan", "-f", path(&file), "--state", path(&state)];
    let (code, stdout, _) = bi(&server, &plan);
    assert_eq!(
        code, 10,
        "a removed managed entry is a pending change: {stdout}"
    );
    assert!(
        stdout.contains(&format!("- delete mode \"Mode\" (id {mode_id})")),
        "{stdout}"
    );
    assert!(stdout.contains("removed from the file"), "{stdout}");
    assert!(
        !stdout.contains("pin `id:"),
        "no create beside it: {stdout}"
    );
    // Renamed rather than removed: a create beside the delete, and a hint.
    let renamed = EXAMPLE.replace("  - name: Mode\n", "  - name: Mode (renamed)\n");
    write(&dir, "bi.yaml", &renamed);
    let (code, stdout, _) = bi(&server, &plan);
    assert_eq!(code, 10, "{stdout}");
    assert!(stdout.contains(&format!("pin `id: {mode_id}`")), "{stdout}");
    write(&dir, "bi.yaml", &without_mode);
    assert!(stdout.contains("? unmanaged dbt \"hand-made\""), "{stdout}");

    // Without the state the file cannot know it managed Mode.
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0, "{stdout}");

    let (code, _, stderr) = bi(&server, &apply);
    assert_eq!(code, 0, "{stderr}");
    let after = stored(&server);
    assert!(!after.contains_key("Mode"), "deleted without --prune");
    assert!(
        after.contains_key("hand-made"),
        "never managed, so untouched"
    );
    assert_eq!(bi(&server, &plan).0, 0);
}

#[test]
fn a_no_op_apply_writes_the_state_and_a_later_rotation_shows_in_the_plan() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "noop-state");
    let file = applied(&server, &dir);
    let state = dir.join("bi.state.json");
    let (code, _, stderr) = bi(
        &server,
        &["apply", "-f", path(&file), "--yes", "--state", path(&state)],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Nothing to do"), "{stderr}");
    let saved = std::fs::read_to_string(&state).expect("a no-op apply writes the state");
    for (_, secret) in SECRETS {
        assert!(!saved.contains(secret), "the state holds no secret");
    }

    let plan = ["plan", "-f", path(&file), "--state", path(&state)];
    let (code, stdout, _) = bi(&server, &plan);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        !stdout.contains("--state"),
        "no advice to use --state when it is given: {stdout}"
    );
    let (code, stdout, stderr) = run(datafold(&server)
        .env("MODE_TOKEN", "rotated-mode-token-5151")
        .arg("bi")
        .args(plan)
        .arg("-vv"));
    assert_eq!(code, 10, "{stdout}{stderr}");
    assert!(
        !stdout.contains("rotated-mode-token-5151") && !stderr.contains("rotated-mode-token-5151")
    );
    assert!(stdout.contains("token (rotated)"), "{stdout}");
    assert!(
        stdout.contains("password (unchanged since the last apply)"),
        "only the rotated secret is said to be: {stdout}"
    );
    // Without a state, the plan says rotation is not tracked.
    let (_, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert!(
        stdout.contains("a state file (--state) detects rotated secrets"),
        "{stdout}"
    );
}

#[test]
fn every_missing_secret_variable_is_named_in_one_message() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "missing-vars");
    let file = write(&dir, "bi.yaml", EXAMPLE);
    let (code, _, stderr) = run(datafold(&server)
        .env_remove("HIGHTOUCH_TOKEN")
        .env_remove("MODE_PASSWORD")
        .env_remove("TABLEAU_TOKEN")
        .args(["bi", "apply", "-f", path(&file), "--yes"]));
    assert_eq!(code, 5, "{stderr}");
    for var in ["HIGHTOUCH_TOKEN", "MODE_PASSWORD", "TABLEAU_TOKEN"] {
        assert!(stderr.contains(var), "{var} is named: {stderr}");
    }
    assert!(stderr.contains("3 secrets cannot be read"), "{stderr}");
    assert!(!stderr.contains("MODE_TOKEN"), "{stderr}");
    assert!(server.stored_integrations().is_empty(), "nothing was sent");
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_the_server_or_the_file_moved() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "saved-plan");
    let file = applied(&server, &dir);
    let moved = EXAMPLE.replace("\"30 2 * * *\"", "\"45 4 * * *\"");
    write(&dir, "bi.yaml", &moved);
    let saved = dir.join("plan.json");

    let (code, stdout, stderr) = bi(&server, &["plan", "-f", path(&file), "-o", path(&saved)]);
    assert_eq!(code, 10, "{stdout}{stderr}");
    let text = std::fs::read_to_string(&saved).unwrap();
    for (_, secret) in SECRETS {
        assert!(!text.contains(secret), "the saved plan holds no secret");
    }
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["changes"][5]["action"], "update", "{json}");

    // Someone changes dbt's schedule by hand: the reviewed plan no longer
    // describes what apply would do, so it is refused and nothing changes.
    let dbt = stored(&server)["dbt Cloud (prod)"].0;
    let (code, _, stderr) = bi(
        &server,
        &["update", &dbt.to_string(), "--indexing-cron", "0 5 * * *"],
    );
    assert_eq!(code, 0, "{stderr}");
    let by_hand = stored(&server);
    let (code, _, stderr) = bi(&server, &["apply", path(&saved)]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("changed since the plan was made"),
        "{stderr}"
    );
    assert_eq!(stored(&server), by_hand, "nothing was changed");

    // A fresh plan of the same file, saved and applied, with a JSON report.
    let (code, _, _) = bi(&server, &["plan", "-f", path(&file), "-o", path(&saved)]);
    assert_eq!(code, 10);
    // The file moves after the review: refused too.
    write(
        &dir,
        "bi.yaml",
        &moved.replace("workspace: acme", "workspace: acme2"),
    );
    let (code, _, stderr) = bi(&server, &["apply", path(&saved)]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("bi.yaml changed since the plan was made"),
        "{stderr}"
    );
    write(&dir, "bi.yaml", &moved);

    let (code, stdout, stderr) = bi(&server, &["apply", path(&saved), "--format", "json", "-vv"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{report}");
    assert!(changes.iter().all(|c| c["outcome"] == "done"), "{report}");
    let after = stored(&server);
    assert_eq!(after["Tableau"].1["indexing_cron"], "45 4 * * *");
    assert_eq!(
        after["dbt Cloud (prod)"].1["indexing_cron"], "0 3 * * *",
        "the hand change was undone"
    );
    assert_eq!(bi(&server, &["plan", "-f", path(&file)]).0, 0);
}

#[test]
fn a_file_that_is_not_a_saved_plan_of_this_version_is_refused() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "bad-saved-plan");
    let file = applied(&server, &dir);
    let saved = dir.join("plan.json");
    assert_eq!(
        bi(&server, &["plan", "-f", path(&file), "-o", path(&saved)]).0,
        0
    );
    let good = std::fs::read_to_string(&saved).unwrap();
    for (text, expected) in [
        ("not json", "not JSON"),
        ("{}", "no format_version"),
        (
            &*good.replace("\"format_version\": 1", "\"format_version\": 2"),
            "format_version 2",
        ),
        (
            &*good.replace("\"file_digest\"", "\"other\""),
            "not a saved plan",
        ),
    ] {
        let bad = write(&dir, "bad.json", text);
        let (code, _, stderr) = bi(&server, &["apply", path(&bad)]);
        assert_eq!(code, 5, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // A plan of another host is refused before that host is asked anything.
    let other = mock();
    let (code, _, stderr) = run(datafold(&other).args(["bi", "apply", path(&saved)]));
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("was made against"), "{stderr}");
    assert!(other.request_log().is_empty(), "{:?}", other.request_log());

    let state = dir.join("bi.state.json");
    let (code, _, stderr) = bi(&server, &["apply", path(&saved), "--state", path(&state)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("made without --state"), "{stderr}");
    assert!(!state.exists());
}

#[test]
fn plan_without_state_needs_no_secret_but_apply_and_plan_with_state_do() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "no-secrets");
    let file = applied(&server, &dir);
    let without = |command: &mut Command| {
        for (var, _) in SECRETS {
            command.env_remove(var);
        }
    };
    let mut plan = datafold(&server);
    without(&mut plan);
    let (code, stdout, stderr) = run(plan.args(["bi", "plan", "-f", path(&file)]));
    assert_eq!(code, 0, "no variable is needed to plan: {stdout}{stderr}");

    let moved = EXAMPLE.replace("\"30 2 * * *\"", "\"45 4 * * *\"");
    write(&dir, "bi.yaml", &moved);
    let saved = dir.join("plan.json");
    let mut plan = datafold(&server);
    without(&mut plan);
    let (code, _, stderr) = run(plan.args(["bi", "plan", "-f", path(&file), "-o", path(&saved)]));
    assert_eq!(code, 10, "{stderr}");

    let mut apply = datafold(&server);
    without(&mut apply);
    let (code, _, stderr) = run(apply.args(["bi", "apply", path(&saved)]));
    assert_eq!(code, 5, "applying sends the secrets: {stderr}");
    assert!(stderr.contains("6 secrets cannot be read"), "{stderr}");
    // With the variables set, the plan saved without them applies.
    let (code, _, stderr) = bi(&server, &["apply", path(&saved)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stored(&server)["Tableau"].1["indexing_cron"], "45 4 * * *");

    let state = dir.join("bi.state.json");
    let mut plan = datafold(&server);
    without(&mut plan);
    let (code, _, stderr) =
        run(plan.args(["bi", "plan", "-f", path(&file), "--state", path(&state)]));
    assert_eq!(code, 5, "a state compares the secrets: {stderr}");
}

#[test]
fn an_adopted_entry_keeps_the_fields_it_leaves_out() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "adopt-partial");
    let (code, _, stderr) = bi(
        &server,
        &[
            "create",
            "dbt",
            "--ci-config-id",
            "9",
            "--name",
            "hand-made",
            "--indexing-cron",
            "0 1 * * *",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let id = stored(&server)["hand-made"].0;
    // No name, no schedule: only the CI config id is the file's.
    let file = write(
        &dir,
        "adopt.yaml",
        &format!("integrations:\n  - id: {id}\n    kind: dbt\n    ci_config_id: 9\n"),
    );
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 0, "nothing the file names differs: {stdout}");
    assert!(!stdout.contains("null"), "{stdout}");

    write(
        &dir,
        "adopt.yaml",
        &format!("integrations:\n  - id: {id}\n    kind: dbt\n    ci_config_id: 10\n"),
    );
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&file)]);
    assert_eq!(code, 10, "{stdout}");
    assert!(stdout.contains("ci_config_id: 9 -> 10"), "{stdout}");
    assert!(!stdout.contains("name:"), "{stdout}");
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&file), "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let after = &stored(&server)["hand-made"];
    assert_eq!(after.0, id);
    assert_eq!(after.1["ci_config_id"], 10);
    assert_eq!(after.1["indexing_cron"], "0 1 * * *", "kept");
    assert_eq!(bi(&server, &["plan", "-f", path(&file)]).0, 0);
}

#[test]
fn export_pins_every_id_so_a_rename_is_an_update_and_export_id_writes_one_entry() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "export-pins");
    applied(&server, &dir);
    let dbt = stored(&server)["dbt Cloud (prod)"].0;
    let (code, text, stderr) = bi(&server, &["export", "--id", &dbt.to_string()]);
    assert_eq!(code, 0, "{stderr}");
    let document: Value = serde_yaml_ng::from_str(&text).unwrap();
    let entries = document["integrations"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{text}");
    assert_eq!(entries[0]["id"], dbt);
    assert_eq!(entries[0]["kind"], "dbt");

    let renamed = write(
        &dir,
        "one.yaml",
        &text.replace("name: dbt Cloud (prod)", "name: dbt Cloud (production)"),
    );
    let (code, stdout, _) = bi(&server, &["plan", "-f", path(&renamed)]);
    assert_eq!(code, 10, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "~ update dbt \"dbt Cloud (production)\" (id {dbt})"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("0 to create"), "{stdout}");
    let (code, _, stderr) = bi(&server, &["apply", "-f", path(&renamed), "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stored(&server)["dbt Cloud (production)"].0,
        dbt,
        "renamed in place"
    );

    let (code, _, stderr) = bi(&server, &["export", "--id", "9999"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("no integration 9999"), "{stderr}");
}

#[test]
fn rotate_sends_a_secret_the_plan_cannot_see_changed() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "rotate");
    let file = applied(&server, &dir);
    let (id, _) = stored(&server)["Power BI"].clone();
    let rotated = "pbi-rotated-outside-apply-6d1e";
    let with_new = |command: &mut Command| {
        command.env("POWERBI_CLIENT_SECRET", rotated);
    };
    // Without a record, the changed secret cannot be seen: no change.
    let mut plan = datafold(&server);
    with_new(&mut plan);
    let (code, stdout, _) = run(plan.args(["bi", "plan", "-f", path(&file)]));
    assert_eq!(code, 0, "{stdout}");

    let mut plan = datafold(&server);
    with_new(&mut plan);
    let (code, stdout, _) =
        run(plan.args(["bi", "plan", "-f", path(&file), "--rotate", "Power BI"]));
    assert_eq!(code, 10, "{stdout}");
    assert!(
        stdout.contains("client_secret: (sensitive) -> (sensitive)"),
        "{stdout}"
    );
    assert!(!stdout.contains(rotated));

    let mut apply = datafold(&server);
    with_new(&mut apply);
    let state = dir.join("bi.state.json");
    let (code, stdout, stderr) = run(apply.args([
        "bi",
        "apply",
        "-f",
        path(&file),
        "--yes",
        "--rotate",
        "Power BI",
        "--state",
        path(&state),
        "-vv",
    ]));
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(!saved.contains(rotated), "the state holds no secret");
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains(rotated) && !stderr.contains(rotated));
    let (after, config) = stored(&server)["Power BI"].clone();
    assert_eq!(
        after, id,
        "Power BI's update takes the secret: rotated in place"
    );
    assert_eq!(config["client_secret"], rotated);

    let (code, _, stderr) = bi(&server, &["plan", "-f", path(&file), "--rotate", "Nope"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("\"Nope\""), "{stderr}");
}

#[test]
fn a_secret_added_to_a_managed_entry_is_sent_not_taken_as_the_baseline() {
    let server = mock();
    let dir = cli_support::scratch("as-code", "added-secret");
    let without = EXAMPLE.replace("    client_secret: ${env:POWERBI_CLIENT_SECRET}\n", "");
    assert_ne!(without, EXAMPLE);
    let file = write(&dir, "bi.yaml", &without);
    let state = dir.join("bi.state.json");
    let apply = ["apply", "-f", path(&file), "--yes", "--state", path(&state)];
    assert_eq!(bi(&server, &apply).0, 0);
    assert!(stored(&server)["Power BI"].1.get("client_secret").is_none());

    write(&dir, "bi.yaml", EXAMPLE);
    let (code, stdout, _) = bi(
        &server,
        &["plan", "-f", path(&file), "--state", path(&state)],
    );
    assert_eq!(code, 10, "the file never sent it: {stdout}");
    assert!(stdout.contains("client_secret (rotated)"), "{stdout}");
    assert_eq!(bi(&server, &apply).0, 0);
    assert_eq!(
        stored(&server)["Power BI"].1["client_secret"],
        "pbi-secret-0e6b71-never-shown"
    );
}
