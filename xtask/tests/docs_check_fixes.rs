//! The spec edits `docs check` suggests make the spec follow the docs: for each
//! kind of change, applying every suggested edit (a JSON pointer and a YAML
//! fragment in the spec's 3.0 dialect) to a parsed copy of the fixture spec
//! makes the check on that copy pass.

mod sandbox;

use std::fs;

use sandbox::{fixtures, Edit, Sandbox};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Change {
    FieldTypeChanged,
    FieldAdded,
    FieldLostRequired,
    EnumValueAdded,
    FieldBecameNullable,
    /// A whole operation the spec lacks: the fix is the whole fragment.
    OperationAdded,
}

const ALL: [Change; 6] = [
    Change::FieldTypeChanged,
    Change::FieldAdded,
    Change::FieldLostRequired,
    Change::EnumValueAdded,
    Change::FieldBecameNullable,
    Change::OperationAdded,
];

/// The edit to a format's fixture for a change; `None` where the format cannot show it.
fn edit(format: &str, change: Change) -> Option<Edit> {
    const PAGE: &str = "update-gadget/1.md";
    const YAML: &str = "gadget-openapi.yaml";
    const RENDERED: &str = "update-gadget.txt";
    Some(match (format, change) {
        ("openapi-3.1", Change::FieldTypeChanged) => Edit::Replace(PAGE, "        count:\n          type: integer", "        count:\n          type: string"),
        ("openapi-3.1", Change::FieldAdded) => Edit::Replace(PAGE, "        zone:\n", "        color:\n          anyOf:\n            - type: string\n            - type: 'null'\n        zone:\n"),
        ("openapi-3.1", Change::FieldLostRequired) => Edit::Replace(PAGE, "      required:\n        - count\n        - secret", "      required:\n        - secret"),
        ("openapi-3.1", Change::EnumValueAdded) => Edit::Replace(PAGE, "        - fast\n        - careful\n", "        - fast\n        - careful\n        - turbo\n"),
        ("openapi-3.1", Change::FieldBecameNullable) => Edit::Replace(PAGE, "        zone:\n          default: ''\n          type: string\n", "        zone:\n          default: ''\n          type: [string, 'null']\n"),
        ("resolved", Change::FieldTypeChanged) => Edit::Replace(PAGE, "                  - type: integer\n                    title: Count", "                  - type: string\n                    title: Count"),
        ("resolved", Change::FieldAdded) => Edit::Replace(PAGE, "              zone:\n", "              color:\n                allOf:\n                  - anyOf:\n                      - type: string\n                      - type: 'null'\n              zone:\n"),
        ("resolved", Change::FieldLostRequired) => Edit::Replace(PAGE, "              - count\n              - secret", "              - secret"),
        ("resolved", Change::EnumValueAdded) => Edit::Replace(PAGE, "        - fast\n        - careful\n", "        - fast\n        - careful\n        - turbo\n"),
        ("resolved", Change::FieldBecameNullable) => Edit::Replace(PAGE, "              zone:\n                allOf:\n                  - default: ''\n                    type: string\n", "              zone:\n                allOf:\n                  - anyOf:\n                      - type: string\n                      - type: 'null'\n                    default: ''\n"),
        ("document-yaml", Change::FieldTypeChanged) => Edit::Replace(YAML, "count: {type: integer}", "count: {type: string}"),
        ("document-yaml", Change::FieldAdded) => Edit::Replace(YAML, "                zone:", "                color: {type: string, nullable: true}\n                zone:"),
        ("document-yaml", Change::FieldLostRequired) => Edit::Replace(YAML, "required: [count, secret]", "required: [secret]"),
        ("document-yaml", Change::EnumValueAdded) => Edit::Replace(YAML, "enum: [fast, careful]", "enum: [fast, careful, turbo]"),
        ("document-yaml", Change::FieldBecameNullable) => Edit::Replace(YAML, "zone: {type: string, default: ''}", "zone: {type: string, default: '', nullable: true}"),
        ("rendered", Change::FieldTypeChanged) => Edit::Replace(RENDERED, "\"count\": 123", "\"count\": \"123\""),
        ("openapi-3.1", Change::OperationAdded) => Edit::Write("delete-gadget/1.md", "# Delete a gadget\n\n````yaml delete /api/v1/lineage/bi/gadget/{gadget_id}/\nopenapi: 3.1.0\ninfo: {title: t, version: v}\npaths:\n  /api/v1/lineage/bi/gadget/{gadget_id}/:\n    delete:\n      operationId: delete_gadget\n      parameters:\n        - {in: path, name: gadget_id, required: true, schema: {type: integer}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Problem'\ncomponents:\n  schemas:\n    Problem:\n      type: object\n      properties:\n        detail: {type: string}\n````\n".to_string()),
        ("rendered", Change::OperationAdded) => Edit::Write("delete-gadget.txt", "Delete a gadget\nDELETE\n/\napi\n/\nv1\n/\nlineage\n/\nbi\n/\ngadget\n/\n{gadget_id}\n/\ncurl --request DELETE \\\n--url https://api.example.test/api/v1/lineage/bi/gadget/{gadget_id}/\n{\"deleted\": true}\nResponse\n200\n404\n".to_string()),
        ("rendered", Change::FieldAdded) => Edit::Replace(RENDERED, "\"zone\": \"\"\n", "\"zone\": \"\",\n\"color\": \"<string>\"\n"),
        _ => return None,
    })
}

/// Applies one suggested edit to the parsed spec: its YAML put at its pointer, or a removal.
fn apply(spec: &mut Value, edit: &Value) {
    let pointer = edit["pointer"].as_str().expect("pointer");
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let key = key.replace("~1", "/").replace("~0", "~");
    let parent = spec
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("the spec has nothing at {parent}"));
    let map = parent.as_object_mut().expect("edits go into mappings");
    if edit["remove"] == true {
        assert!(map.remove(&key).is_some(), "nothing to remove at {pointer}");
        return;
    }
    let yaml = edit["yaml"].as_str().expect("yaml");
    let value: Value = serde_yaml_ng::from_str(yaml)
        .unwrap_or_else(|e| panic!("the suggested YAML does not parse: {e}\n{yaml}"));
    map.insert(key, value);
}

fn spec() -> Value {
    let text = fs::read_to_string(fixtures().join("spec.yaml")).expect("read spec");
    serde_yaml_ng::from_str(&text).expect("parse spec")
}

#[test]
fn applying_the_suggested_spec_edits_makes_the_check_pass() {
    let mut covered = 0;
    for format in ["openapi-3.1", "resolved", "document-yaml", "rendered"] {
        for change in ALL {
            let Some(edit) = edit(format, change) else {
                continue;
            };
            let sandbox = Sandbox::with(format);
            sandbox.apply(&edit);
            let report = sandbox.report(&[]);
            assert_eq!(report["exit_code"], 1, "{format} {change:?}: drift first");

            let mut spec = spec();
            let mut edits = 0;
            for finding in report["findings"].as_array().expect("findings") {
                for edit in finding["spec_fix"].as_array().expect("spec_fix") {
                    apply(&mut spec, edit);
                    edits += 1;
                }
            }
            assert!(edits > 0, "{format} {change:?}: no edit suggested");
            let fixed = sandbox.dir.join("fixed-spec.yaml");
            fs::write(&fixed, serde_yaml_ng::to_string(&spec).expect("encode")).expect("write");

            let run = sandbox.check(&["--spec", fixed.to_str().expect("utf-8")]);
            assert_eq!(
                run.code, 0,
                "{format} {change:?}: the fixed spec still drifts:\n{}",
                run.stdout
            );
            covered += 1;
        }
    }
    assert_eq!(covered, 19);
}

#[test]
fn suggested_edits_use_the_3_0_dialect_and_the_specs_own_components() {
    let sandbox = Sandbox::with("openapi-3.1");
    sandbox.apply(&edit("openapi-3.1", Change::FieldAdded).expect("edit"));
    // A nullable reference to a component the spec has.
    sandbox.apply(&Edit::Replace(
        "update-gadget/1.md",
        "        zone:\n",
        "        backup_mode:\n          anyOf:\n            - $ref: '#/components/schemas/GadgetMode'\n            - type: 'null'\n        zone:\n",
    ));
    let run = sandbox.check(&[]);
    assert_eq!(run.code, 1);
    let color = "    put at /components/schemas/GadgetConfig/properties/color:\n      nullable: true\n      type: string\n";
    assert!(run.stdout.contains(color), "{}", run.stdout);
    let backup = "    put at /components/schemas/GadgetConfig/properties/backup_mode:\n      allOf:\n      - $ref: '#/components/schemas/GadgetMode'\n      nullable: true\n";
    assert!(run.stdout.contains(backup), "{}", run.stdout);
    assert!(
        !run.stdout.contains("type: 'null'"),
        "no 3.1 null branches:\n{}",
        run.stdout
    );
}
