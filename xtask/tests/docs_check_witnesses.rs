//! Every snapshot is a witness: with all fixture formats side by side, a change
//! in any one witness that contradicts the spec is drift, reported as that
//! witness's own line; a deviation scoped to a witness silences exactly that
//! line; and witnesses that disagree with each other are reported as such.

mod sandbox;

use std::fs;

use sandbox::{Edit, Sandbox};
use serde_json::{json, Value};

const G: &str = "PUT /api/v1/lineage/bi/gadget/{gadget_id}/";
const E: &str = "GET /api/v1/events";

/// One witness kind: the edit that makes it contradict the spec, and the line it must produce.
struct Case {
    kind: &'static str,
    /// Files removed first, so that this witness is the newest page.
    remove: &'static [&'static str],
    edit: Edit,
    witness: &'static str,
    line: String,
}

fn cases() -> Vec<Case> {
    let count = |witness: &str, has: &str| {
        format!("{G} body.count.type: {witness} has {has}, spec has integer")
    };
    vec![
        Case {
            kind: "newest resolved page",
            remove: &["openapi-3.1/update-gadget/1.md", "openapi-3.1/list-events/1.md"],
            edit: Edit::Replace(
                "resolved/update-gadget/1.md",
                "                  - type: integer\n                    title: Count",
                "                  - type: string\n                    title: Count",
            ),
            witness: "resolved/update-gadget/1.md",
            line: count("resolved/update-gadget/1.md", "string"),
        },
        Case {
            kind: "newest openapi-3.1 page",
            remove: &[],
            edit: Edit::Replace(
                "openapi-3.1/update-gadget/1.md",
                "        count:\n          type: integer",
                "        count:\n          type: string",
            ),
            witness: "openapi-3.1/update-gadget/1.md",
            line: count("openapi-3.1/update-gadget/1.md", "string"),
        },
        Case {
            kind: "whole document, JSON",
            remove: &[],
            edit: Edit::JsonSet(
                "document-json/gadget-openapi.json",
                "/components/schemas/GadgetConfig/properties/count/type".into(),
                json!("number"),
            ),
            witness: "document-json/gadget-openapi.json",
            line: count("document-json/gadget-openapi.json", "number"),
        },
        Case {
            kind: "whole document, YAML",
            remove: &[],
            edit: Edit::Replace(
                "document-yaml/gadget-openapi.yaml",
                "count: {type: integer}",
                "count: {type: boolean}",
            ),
            witness: "document-yaml/gadget-openapi.yaml",
            line: count("document-yaml/gadget-openapi.yaml", "boolean"),
        },
        Case {
            kind: "rendered request example",
            remove: &[],
            edit: Edit::Replace("rendered/update-gadget.txt", "\"count\": 123", "\"count\": \"123\""),
            witness: "rendered/update-gadget.txt",
            line: count("rendered/update-gadget.txt", "string"),
        },
        Case {
            kind: "rendered response example",
            remove: &[],
            edit: Edit::Replace("rendered/list-events.txt", "\"id\": 123,", "\"id\": \"abc\","),
            witness: "rendered/list-events.txt",
            line: format!(
                "{E} responses.200.events[].id.type: rendered/list-events.txt has string, spec has integer"
            ),
        },
    ]
}

/// A sandbox holding every fixture format, with the case's files removed.
fn all_formats(case: &Case) -> Sandbox {
    let sandbox = Sandbox::with("");
    for file in case.remove {
        sandbox.apply(&Edit::Delete(file));
    }
    sandbox
}

fn deviations(sandbox: &Sandbox, entries: &str) -> String {
    let path = sandbox.dir.join("deviations.yaml");
    fs::write(
        &path,
        format!(
            "version: 1\nscope:\n  paths: [/api/v1/]\n  reason: fixture\ndeviations:\n{entries}"
        ),
    )
    .expect("write deviations");
    path.display().to_string()
}

#[test]
fn each_witness_kind_alone_contradicting_the_spec_is_drift_on_its_own_line() {
    for case in cases() {
        let sandbox = all_formats(&case);
        let (code, lines) = sandbox.undeclared(&[]);
        assert_eq!(
            (code, lines),
            (0, vec![]),
            "{}: faithful before the edit",
            case.kind
        );

        sandbox.apply(&case.edit);
        let (code, lines) = sandbox.undeclared(&[]);
        assert_eq!(code, 1, "{}: a contradicting witness exits 1", case.kind);
        assert_eq!(
            lines,
            vec![case.line.clone()],
            "{}: exactly the witness's own line, no other witness's",
            case.kind
        );
        let text = sandbox.check(&[]);
        assert!(
            text.stdout.contains(&case.line),
            "{}:\n{}",
            case.kind,
            text.stdout
        );
    }
}

#[test]
fn a_deviation_scoped_to_a_witness_silences_exactly_its_line() {
    for case in cases() {
        let sandbox = all_formats(&case);
        sandbox.apply(&case.edit);
        let operation = if case.line.starts_with(E) { E } else { G };
        let field = case.line[operation.len() + 1..]
            .split(':')
            .next()
            .expect("field")
            .to_string();
        let entry = |witness: &str| {
            format!(
                "  - operation: {operation}\n    field: {field}\n    witness: {witness}\n    reason: we follow the other witnesses here\n"
            )
        };

        let own = deviations(&sandbox, &entry(case.witness));
        let run = sandbox.check(&["--deviations", &own]);
        assert_eq!(
            run.code, 0,
            "{}: its own scope silences it:\n{}",
            case.kind, run.stdout
        );
        assert!(
            run.stdout.contains("(1 declared in"),
            "{}:\n{}",
            case.kind,
            run.stdout
        );

        // Scoped to another witness, the same entry declares nothing and is stale.
        let other = if case.witness.starts_with("document-json") {
            "document-yaml/gadget-openapi.yaml"
        } else {
            "document-json/gadget-openapi.json"
        };
        let elsewhere = deviations(&sandbox, &entry(other));
        let run = sandbox.check(&["--deviations", &elsewhere]);
        assert_eq!(run.code, 1, "{}:\n{}", case.kind, run.stdout);
        assert!(
            run.stdout.contains(&case.line),
            "{}:\n{}",
            case.kind,
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!(
                "deviation #1 {operation} {field} (docs: any, spec: any, witness: {other})"
            )),
            "{}: stale:\n{}",
            case.kind,
            run.stdout
        );
    }
}

#[test]
fn a_scope_names_one_file_or_a_whole_kind() {
    // Both documents say `number`; the page and the rendered page agree with the spec.
    let sandbox = Sandbox::with("");
    sandbox.apply(&Edit::JsonSet(
        "document-json/gadget-openapi.json",
        "/components/schemas/GadgetConfig/properties/count/type".into(),
        json!("number"),
    ));
    sandbox.apply(&Edit::Replace(
        "document-yaml/gadget-openapi.yaml",
        "count: {type: integer}",
        "count: {type: number}",
    ));
    let json_line = format!(
        "{G} body.count.type: document-json/gadget-openapi.json has number, spec has integer"
    );
    let yaml_line = format!(
        "{G} body.count.type: document-yaml/gadget-openapi.yaml has number, spec has integer"
    );
    let entry = |witness: &str| {
        format!(
            "  - operation: {G}\n    field: body.count.type\n    docs: number\n    spec: integer\n    witness: {witness}\n    reason: the page is newer\n"
        )
    };

    let one_file = deviations(&sandbox, &entry("document-json/gadget-openapi.json"));
    let (code, lines) = sandbox.undeclared(&["--deviations", &one_file]);
    assert_eq!((code, lines), (1, vec![yaml_line.clone()]));

    let kind = deviations(&sandbox, &entry("document"));
    let (code, lines) = sandbox.undeclared(&["--deviations", &kind]);
    assert_eq!((code, lines), (0, vec![]));

    let (code, lines) = sandbox.undeclared(&[]);
    assert_eq!((code, lines), (1, vec![json_line, yaml_line]));
}

#[test]
fn witnesses_that_disagree_with_each_other_are_reported_once_per_field() {
    let sandbox = Sandbox::with("");
    sandbox.apply(&Edit::JsonSet(
        "document-json/gadget-openapi.json",
        "/components/schemas/GadgetConfig/properties/count/type".into(),
        json!("number"),
    ));
    let run = sandbox.check(&[]);
    assert_eq!(
        run.code, 1,
        "the spec drifts from the side it does not follow:\n{}",
        run.stdout
    );
    let disagreement = format!(
        "{G} body.count.type: openapi-3.1/update-gadget/1.md has integer (as the spec); \
         document-json/gadget-openapi.json has number; \
         document-yaml/gadget-openapi.yaml has integer (as the spec); \
         rendered/update-gadget.txt has integer (as the spec)"
    );
    assert!(
        run.stdout.contains("witnesses that disagree"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches(&disagreement).count(),
        1,
        "{}",
        run.stdout
    );
    // The suggested declaration is scoped to the witness, since others say otherwise.
    assert!(
        run.stdout
            .contains("    docs: \"number\"\n    spec: \"integer\"\n    witness: document-json/gadget-openapi.json\n"),
        "{}",
        run.stdout
    );

    let report = sandbox.report(&[]);
    let disagreements = report["disagreements"].as_array().expect("disagreements");
    assert_eq!(disagreements.len(), 1, "{disagreements:?}");
    assert_eq!(disagreements[0]["field"], "body.count.type");
    assert_eq!(disagreements[0]["spec"], "integer");
    let says: Vec<(&str, &Value, bool)> = disagreements[0]["witnesses"]
        .as_array()
        .expect("witnesses")
        .iter()
        .map(|w| {
            (
                w["witness"].as_str().expect("file"),
                &w["has"],
                w["as_the_spec"] == true,
            )
        })
        .collect();
    assert!(says.contains(&("document-json/gadget-openapi.json", &json!("number"), false)));
    assert!(says.contains(&("openapi-3.1/update-gadget/1.md", &json!("integer"), true)));
}

#[test]
fn a_document_lacking_a_spec_operation_others_describe_is_drift() {
    let sandbox = Sandbox::with("");
    sandbox.apply(&Edit::JsonRemove(
        "document-json/gadget-openapi.json",
        "/paths/~1api~1v1~1events".into(),
    ));
    let (code, lines) = sandbox.undeclared(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        lines,
        vec![format!(
            "{E}: in spec, missing in document-json/gadget-openapi.json"
        )]
    );
    let run = sandbox.check(&[]);
    assert!(
        run.stdout.contains(&format!(
            "{E} operation: openapi-3.1/list-events/1.md has present (as the spec)"
        )) && run
            .stdout
            .contains("document-json/gadget-openapi.json lacks it"),
        "{}",
        run.stdout
    );
}

#[test]
fn older_page_versions_are_history_not_witnesses() {
    // Version 1 contradicts the spec; version 2, the newest, does not.
    let sandbox = Sandbox::with("openapi-3.1");
    let faithful =
        fs::read_to_string(sandbox.snapshots().join("update-gadget/1.md")).expect("read");
    sandbox.write(
        "update-gadget/1.md",
        &faithful.replace(
            "        count:\n          type: integer",
            "        count:\n          type: string",
        ),
    );
    sandbox.write("update-gadget/2.md", &faithful);
    let (code, lines) = sandbox.undeclared(&[]);
    assert_eq!((code, lines), (0, vec![]));
}
