//! Behaviour of `docs check` beyond single mutations: exit codes, unreadable
//! input, deviations (declared and stale), scope, precedence between sources,
//! page versions, and the JSON report.

mod sandbox;

use std::fs;

use sandbox::{fixtures, xtask, Edit, Sandbox};
use serde_json::Value;

const G: &str = "PUT /api/v1/lineage/bi/gadget/{gadget_id}/";

#[test]
fn all_formats_together_report_nothing_and_exit_0() {
    let sandbox = Sandbox::with("");
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("read 4 pages, 2 OpenAPI documents, 2 rendered pages"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("ok: no undeclared differences in 2 operations"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_projects_spec_compared_with_itself_reports_nothing() {
    let sandbox = Sandbox::empty();
    let spec = fixtures().join("../../../openapi/datafold.yaml");
    fs::copy(&spec, sandbox.snapshots().join("datafold.yaml")).expect("copy spec");
    let none = sandbox.dir.join("none.yaml");
    fs::write(&none, "version: 1\ndeviations: []\n").expect("write deviations");
    let run = sandbox.check(&[
        "--spec",
        spec.to_str().expect("utf-8"),
        "--deviations",
        none.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("in 17 operations"), "{}", run.stdout);
}

fn deviations(sandbox: &Sandbox, entries: &str) -> String {
    let path = sandbox.dir.join("deviations.yaml");
    fs::write(
        &path,
        format!(
            "version: 1\nscope:\n  paths: [/api/v1/]\n  reason: fixture\ndeviations:\n{entries}"
        ),
    )
    .expect("write");
    path.display().to_string()
}

#[test]
fn a_declared_deviation_silences_exactly_its_drift() {
    let sandbox = Sandbox::with("openapi-3.1");
    sandbox.apply(&Edit::Replace(
        "update-gadget/1.md",
        "operationId: update_gadget",
        "operationId: update_gadget_put",
    ));
    sandbox.apply(&Edit::Replace(
        "update-gadget/1.md",
        "        - Gadgets\n",
        "        - Gadgets\n        - gadget_changed\n",
    ));

    let undeclared = sandbox.check(&[]);
    assert_eq!(undeclared.code, 1);
    assert!(undeclared.stdout.contains(&format!(
        "{G} operation_id: update-gadget/1.md has update_gadget_put, spec has update_gadget"
    )));
    assert!(undeclared.stdout.contains(&format!(
        "{G} tags: update-gadget/1.md has [Gadgets, gadget_changed], spec has [Gadgets]"
    )));
    assert!(undeclared.stdout.contains(
        "    field: operation_id\n    docs: \"update_gadget_put\"\n    spec: \"update_gadget\"\n"
    ));

    let only_id = deviations(
        &sandbox,
        &format!("  - operation: {G}\n    field: operation_id\n    docs: update_gadget_put\n    spec: update_gadget\n    reason: shorter names\n"),
    );
    let run = sandbox.check(&["--deviations", &only_id]);
    assert_eq!(
        run.code, 1,
        "the tags drift is still undeclared:\n{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("{G} operation_id:")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("{G} tags:")), "{}", run.stdout);

    let both = deviations(
        &sandbox,
        &format!(
            "  - operation: {G}\n    field: operation_id\n    docs: update_gadget_put\n    spec: update_gadget\n    reason: shorter names\n\
             \x20 - operations:\n      - {G}\n    field: tags\n    docs: [Gadgets, gadget_changed]\n    spec: [Gadgets]\n    reason: one tag\n"
        ),
    );
    let run = sandbox.check(&["--deviations", &both]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("(2 declared in"), "{}", run.stdout);
}

#[test]
fn a_deviation_matching_no_drift_is_stale_and_fails() {
    let sandbox = Sandbox::with("openapi-3.1");
    let path = deviations(
        &sandbox,
        &format!("  - operation: {G}\n    field: body.zone.default\n    docs: eu\n    spec: ''\n    reason: regional default\n"),
    );
    let run = sandbox.check(&["--deviations", &path]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "deviation #1 {G} body.zone.default (docs: eu, spec: )"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: remove the stale deviations"),
        "{}",
        run.stdout
    );

    // The same declaration with the drift present is not stale.
    sandbox.apply(&Edit::Replace(
        "update-gadget/1.md",
        "          default: ''\n",
        "          default: eu\n",
    ));
    assert_eq!(sandbox.check(&["--deviations", &path]).code, 0);
}

#[test]
fn unreadable_input_exits_2_and_names_the_file() {
    let cases: [(&str, &str, &str); 4] = [
        ("notes.md", "# just prose\n", "notes.md: no ```yaml block"),
        ("diagram.png", "\u{89}PNG", "diagram.png: not a snapshot"),
        (
            "other.json",
            "{\"swagger\": \"2.0\"}",
            "other.json: neither an OpenAPI 3.x document",
        ),
        (
            "broken/1.md",
            "````yaml\npaths: [\n````\n",
            "broken/1.md: the yaml block does not parse",
        ),
    ];
    for (file, text, expected) in cases {
        let sandbox = Sandbox::with("openapi-3.1");
        sandbox.write(file, text);
        let run = sandbox.check(&[]);
        assert_eq!(run.code, 2, "{file}: {}", run.stdout);
        assert!(
            run.stdout.contains(expected),
            "{file}: expected `{expected}` in:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("unreadable input: fix or remove"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn a_missing_spec_bad_deviations_or_bad_arguments_exit_2() {
    let sandbox = Sandbox::with("openapi-3.1");
    let run = sandbox.check(&["--spec", "/nonexistent/spec.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("error: spec /nonexistent/spec.yaml: cannot read"),
        "{}",
        run.stdout
    );

    let no_reason = sandbox.dir.join("bad.yaml");
    fs::write(
        &no_reason,
        format!("version: 1\ndeviations:\n  - operation: {G}\n    field: tags\n"),
    )
    .expect("write");
    let run = sandbox.check(&["--deviations", no_reason.to_str().expect("utf-8")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("deviation #1: an entry needs a one-line `reason`"),
        "{}",
        run.stdout
    );

    let run = sandbox.check(&["--format", "xml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid value 'xml' for '--format")
            && run.stderr.contains("[possible values: text, json]"),
        "{}",
        run.stderr
    );
}

#[test]
fn index_and_manifest_files_are_recognised_as_not_snapshots() {
    let sandbox = Sandbox::with("openapi-3.1");
    sandbox.write("INDEX.md", "# About these snapshots\n");
    sandbox.write(
        "MANIFEST.json",
        "[{\"file\": \"update-gadget/1.md\", \"slug\": \"update-gadget\", \"version\": 1}]",
    );
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not a snapshot: INDEX.md (documentation of the folder)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not a snapshot: MANIFEST.json (manifest)"),
        "{}",
        run.stdout
    );
}

#[test]
fn json_report_carries_the_findings_as_data() {
    let sandbox = Sandbox::with("openapi-3.1");
    sandbox.apply(&Edit::Replace("update-gadget/1.md", "        zone:\n", "        tenant:\n          anyOf:\n            - type: string\n            - type: 'null'\n        zone:\n"));
    let run = sandbox.check(&["--format", "json"]);
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(report["exit_code"], 1);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["operation"], G);
    assert_eq!(findings[0]["field"], "body.tenant");
    assert_eq!(findings[0]["docs"], "string, nullable");
    assert_eq!(findings[0]["spec"], Value::Null);
    assert_eq!(findings[0]["witness"], "update-gadget/1.md");
    assert_eq!(findings[0]["witness_kind"], "page");
    assert_eq!(findings[0]["declared"], false);
    assert_eq!(
        findings[0]["text"],
        format!("{G} body.tenant: in update-gadget/1.md (string, nullable), missing in spec")
    );
    let fix = &findings[0]["spec_fix"][0];
    assert_eq!(
        fix["pointer"],
        "/components/schemas/GadgetConfig/properties/tenant"
    );
    assert_eq!(fix["yaml"], "nullable: true\ntype: string\n");
}

#[test]
fn operations_only_in_documents_are_compared_within_scope() {
    let sandbox = Sandbox::with("document-json");
    assert_eq!(
        sandbox.check(&[]).code,
        0,
        "/internal/stats is outside the fixture's scope"
    );
    let unscoped = sandbox.dir.join("unscoped.yaml");
    fs::write(&unscoped, "version: 1\ndeviations: []\n").expect("write");
    let run = sandbox.check(&["--deviations", unscoped.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("GET /internal/stats: in gadget-openapi.json, missing in spec"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_newest_version_of_a_page_is_the_one_checked() {
    let sandbox = Sandbox::with("openapi-3.1");
    let faithful =
        fs::read_to_string(sandbox.snapshots().join("update-gadget/1.md")).expect("read");
    let thinner = faithful.replace(
        "        zone:\n          default: ''\n          type: string\n",
        "",
    );
    sandbox.write("update-gadget/1.md", &thinner);
    sandbox.write("update-gadget/2.md", &faithful);
    assert_eq!(sandbox.check(&[]).code, 0, "version 2 is faithful");

    sandbox.write("update-gadget/1.md", &faithful);
    sandbox.write("update-gadget/2.md", &thinner);
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 1, "version 2 lacks zone");
    assert!(
        run.stdout.contains(&format!("{G} body.zone: in spec")),
        "{}",
        run.stdout
    );
}

#[test]
fn all_versions_shows_a_renamed_pages_body_growing() {
    // An older resolved-era page under another slug for the same operation,
    // with two of the six body fields; the openapi-3.1 page is newer.
    let sandbox = Sandbox::with("openapi-3.1");
    let resolved =
        fs::read_to_string(fixtures().join("snapshots/resolved/update-gadget/1.md")).expect("read");
    let start = resolved.find("              links:\n").expect("links");
    let end = resolved
        .find("            required: true\n            title: GadgetConfig")
        .expect("end of properties");
    let old = format!("{}{}", &resolved[..start], &resolved[end..]).replace(
        "              - count\n              - secret\n",
        "              - count\n",
    );
    sandbox.write("rename-gadget/1.md", &old);

    let run = sandbox.check(&["--all-versions"]);
    assert_eq!(run.code, 0, "the newest page is faithful:\n{}", run.stdout);
    let header = format!(
        "{G}: rename-gadget/1 (resolved) -> update-gadget/1 (openapi-3.1): body fields 2 -> 6"
    );
    assert!(run.stdout.contains(&header), "{}", run.stdout);
    for added in [
        "+ body.links (array of Link, default [])",
        "+ body.mode (string, nullable, enum [fast, careful])",
        "+ body.secret (string, password, required, write-only)",
        "+ body.zone (string, default \"\")",
    ] {
        assert!(
            run.stdout.contains(added),
            "missing `{added}`:\n{}",
            run.stdout
        );
    }
    assert!(
        !sandbox.check(&[]).stdout.contains("page history"),
        "history only with --all-versions"
    );
}

#[test]
fn a_document_witnesses_the_identity_a_resolved_page_lacks() {
    let sandbox = Sandbox::with("resolved");
    let doc = fs::read_to_string(fixtures().join("snapshots/document-json/gadget-openapi.json"))
        .expect("read");
    sandbox.write(
        "gadget-openapi.json",
        &doc.replace("\"update_gadget\"", "\"update_gadget_put\""),
    );
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "{G}  (witnesses: update-gadget/1.md, gadget-openapi.json)"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "{G} operation_id: gadget-openapi.json has update_gadget_put, spec has update_gadget"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn a_rendered_page_whose_heading_and_curl_disagree_is_unreadable() {
    let sandbox = Sandbox::with("rendered");
    sandbox.apply(&Edit::Replace(
        "update-gadget.txt",
        "--request PUT",
        "--request POST",
    ));
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("the heading shows `PUT /api/v1/lineage/bi/gadget/{gadget_id}/` but the curl example sends `POST"), "{}", run.stdout);
}

#[test]
fn help_lists_both_docs_tasks() {
    let run = xtask(&["docs", "help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("cargo xtask docs check")
            && run.stdout.contains("cargo xtask docs fetch")
    );
}
