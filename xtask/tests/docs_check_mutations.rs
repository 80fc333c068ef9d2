//! Mutation tests for `docs check`: each snapshot format's faithful fixture
//! reports nothing; each kind of change to it is reported, and only it.
//!
//! The fixtures (tests/fixtures/snapshots/<format>) describe the invented API
//! of tests/fixtures/spec.yaml. A mutation edits the docs side; the expected
//! lines are the full set of undeclared findings the check must print.

mod sandbox;

use sandbox::{Edit, Sandbox};
use serde_json::json;

const G: &str = "PUT /api/v1/lineage/bi/gadget/{gadget_id}/";
const E: &str = "GET /api/v1/events";
const PATCHED: &str = "PATCH /api/v1/lineage/bi/gadget/{gadget_id}/";
const NO_SLASH: &str = "PUT /api/v1/lineage/bi/gadget/{gadget_id}";
const DELETED: &str = "DELETE /api/v1/lineage/bi/gadget/{gadget_id}/";

/// Kinds of change; the rendered format carries only some of them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    OperationAdded,
    OperationRemoved,
    MethodChanged,
    PathChanged,
    FieldAdded,
    FieldRemoved,
    FieldRenamed,
    TypeChanged,
    ItemTypeChanged,
    FormatChanged,
    MadeOptional,
    NullableFlipped,
    EnumValueAdded,
    EnumValueRemoved,
    DefaultChanged,
    WriteOnlyDropped,
    BodyMadeOptional,
    BodyNullableFlipped,
    ParameterTypeChanged,
    ResponseStatusAdded,
    ResponseFieldTypeChanged,
}

const ALL: [Kind; 21] = [
    Kind::OperationAdded,
    Kind::OperationRemoved,
    Kind::MethodChanged,
    Kind::PathChanged,
    Kind::FieldAdded,
    Kind::FieldRemoved,
    Kind::FieldRenamed,
    Kind::TypeChanged,
    Kind::ItemTypeChanged,
    Kind::FormatChanged,
    Kind::MadeOptional,
    Kind::NullableFlipped,
    Kind::EnumValueAdded,
    Kind::EnumValueRemoved,
    Kind::DefaultChanged,
    Kind::WriteOnlyDropped,
    Kind::BodyMadeOptional,
    Kind::BodyNullableFlipped,
    Kind::ParameterTypeChanged,
    Kind::ResponseStatusAdded,
    Kind::ResponseFieldTypeChanged,
];

/// What the check must report for a kind, in a format that carries full
/// schemas; `source` and `events` are the witnesses describing the PUT and the GET,
/// `added` the one adding DELETE.
fn expected(
    kind: Kind,
    (source, events, added): (&str, &str, &str),
    examples_only: bool,
) -> Vec<String> {
    // A rendered page shows names and JSON types only.
    let nullable_string = if examples_only {
        "string"
    } else {
        "string, nullable"
    };
    let zone = if examples_only {
        "string"
    } else {
        "string, default \"\""
    };
    let moved = |docs: &str| {
        vec![
            format!(
                "{docs}: in {source}, missing in spec (the spec has {G}: method or path changed?)"
            ),
            format!(
                "{G}: in spec, missing in docs (the docs have {docs}: method or path changed?)"
            ),
        ]
    };
    let mut lines = match kind {
        Kind::OperationAdded => vec![format!("{DELETED}: in {added}, missing in spec")],
        Kind::OperationRemoved => vec![format!("{E}: in spec, missing in docs")],
        Kind::MethodChanged => moved(PATCHED),
        Kind::PathChanged => moved(NO_SLASH),
        Kind::FieldAdded => vec![format!(
            "{G} body.color: in {source} ({nullable_string}), missing in spec"
        )],
        Kind::FieldRemoved => vec![format!(
            "{G} body.zone: in spec ({zone}), missing in {source}"
        )],
        Kind::FieldRenamed => vec![
            format!("{G} body.label: in spec ({nullable_string}), missing in {source}"),
            format!("{G} body.title: in {source} ({nullable_string}), missing in spec"),
        ],
        Kind::TypeChanged => vec![format!(
            "{G} body.count.type: {source} has string, spec has integer"
        )],
        Kind::ItemTypeChanged => vec![format!(
            "{G} body.links[].weights[].type: {source} has string, spec has integer"
        )],
        Kind::FormatChanged => vec![format!(
            "{E} body.since.format: {events} has date, spec has date-time"
        )],
        Kind::MadeOptional => vec![format!(
            "{G} body.count.required: {source} has false, spec has true"
        )],
        Kind::NullableFlipped => vec![format!(
            "{G} body.label.nullable: {source} has false, spec has true"
        )],
        Kind::EnumValueAdded => vec![format!(
            "{G} body.mode.enum: {source} has [fast, careful, turbo], spec has [fast, careful]"
        )],
        Kind::EnumValueRemoved => vec![format!(
            "{G} body.mode.enum: {source} has [fast], spec has [fast, careful]"
        )],
        Kind::DefaultChanged => vec![format!(
            "{G} body.zone.default: {source} has \"eu\", spec has \"\""
        )],
        Kind::WriteOnlyDropped => vec![format!(
            "{G} body.secret.write_only: {source} has false, spec has true"
        )],
        Kind::BodyMadeOptional => vec![format!(
            "{G} body.required: {source} has false, spec has true"
        )],
        Kind::BodyNullableFlipped => {
            vec![format!(
                "{E} body.nullable: {events} has false, spec has true"
            )]
        }
        Kind::ParameterTypeChanged => vec![format!(
            "{G} parameter.gadget_id.type: {source} has string, spec has integer"
        )],
        Kind::ResponseStatusAdded => vec![format!(
            "{G} responses.404: in {source} (no content), missing in spec"
        )],
        Kind::ResponseFieldTypeChanged => {
            vec![format!(
                "{E} responses.200.events[].id.type: {events} has string, spec has integer"
            )]
        }
    };
    lines.sort();
    lines
}

/// Runs every kind `edits` can express against `format`, asserting the unmutated
/// fixture is clean and each mutation reports exactly the expected lines.
fn assert_catches(
    format: &str,
    source: (&str, &str, &str),
    examples_only: bool,
    edits: fn(Kind) -> Option<Vec<Edit>>,
) -> usize {
    let clean = Sandbox::with(format);
    let (code, lines) = clean.undeclared(&[]);
    assert_eq!(
        (code, lines),
        (0, vec![]),
        "{format}: the faithful fixture must report nothing"
    );

    let mut covered = 0;
    for kind in ALL {
        let Some(edits) = edits(kind) else { continue };
        let sandbox = Sandbox::with(format);
        for edit in &edits {
            sandbox.apply(edit);
        }
        let (code, lines) = sandbox.undeclared(&[]);
        let want = expected(kind, source, examples_only);
        assert_eq!(lines, want, "{format}: {kind:?} must be reported exactly");
        assert_eq!(code, 1, "{format}: {kind:?} must exit 1");
        // The text report prints the same lines and says how to fix them.
        let text = sandbox.check(&[]);
        for line in &want {
            assert!(
                text.stdout.contains(line.as_str()),
                "{format}: {kind:?}: text report lacks `{line}`:\n{}",
                text.stdout
            );
        }
        assert!(
            text.stdout.contains("fix: for each difference"),
            "{format}: {kind:?}: no fix instructions"
        );
        // Each finding carries the spec edit that follows the docs.
        let report = sandbox.report(&[]);
        for finding in report["findings"].as_array().expect("findings") {
            let edits = finding["spec_fix"].as_array().expect("spec_fix");
            assert!(
                !edits.is_empty(),
                "{format}: {kind:?}: no spec edit for {}",
                finding["text"]
            );
        }
        covered += 1;
    }
    covered
}

#[test]
fn resolved_pages_catch_every_kind_of_change() {
    const EV: &str = "list-events/1.md";
    const GA: &str = "update-gadget/1.md";
    let covered = assert_catches("resolved", (GA, EV, "delete-gadget/1.md"), false, |kind| {
        Some(match kind {
            Kind::OperationAdded => vec![Edit::Write(
                "delete-gadget/1.md",
                "# Delete a gadget\n\n````yaml delete /api/v1/lineage/bi/gadget/{gadget_id}/\npaths:\n  path: /api/v1/lineage/bi/gadget/{gadget_id}/\n  method: delete\n  request:\n    parameters:\n      path:\n        gadget_id:\n          schema:\n            - type: integer\n              required: true\n    body: {}\n  response:\n    '200':\n      application/json:\n        schemaArray:\n          - type: any\n````\n".to_string(),
            )],
            Kind::OperationRemoved => vec![Edit::Delete(EV)],
            Kind::MethodChanged => vec![Edit::Replace(GA, "  method: put", "  method: patch")],
            Kind::PathChanged => vec![Edit::Replace(GA, "  path: /api/v1/lineage/bi/gadget/{gadget_id}/\n", "  path: /api/v1/lineage/bi/gadget/{gadget_id}\n")],
            Kind::FieldAdded => vec![Edit::Replace(GA, "              zone:\n", "              color:\n                allOf:\n                  - anyOf:\n                      - type: string\n                      - type: 'null'\n              zone:\n")],
            Kind::FieldRemoved => vec![Edit::Replace(GA, "              zone:\n                allOf:\n                  - default: ''\n                    type: string\n", "")],
            Kind::FieldRenamed => vec![Edit::Replace(GA, "              label:\n", "              title:\n")],
            Kind::TypeChanged => vec![Edit::Replace(GA, "                  - type: integer\n                    title: Count", "                  - type: string\n                    title: Count")],
            Kind::ItemTypeChanged => vec![Edit::Replace(GA, "          items:\n            type: integer", "          items:\n            type: string")],
            Kind::FormatChanged => vec![Edit::Replace(EV, "                      - format: date-time\n                        type: string\n                      - type: 'null'\n                    title: Since", "                      - format: date\n                        type: string\n                      - type: 'null'\n                    title: Since")],
            Kind::MadeOptional => vec![Edit::Replace(GA, "              - count\n              - secret", "              - secret")],
            Kind::NullableFlipped => vec![Edit::Replace(GA, "                  - anyOf:\n                      - type: string\n                      - type: 'null'\n                    title: Label", "                  - type: string\n                    title: Label")],
            Kind::EnumValueAdded => vec![Edit::Replace(GA, "        - fast\n        - careful\n", "        - fast\n        - careful\n        - turbo\n")],
            Kind::EnumValueRemoved => vec![Edit::Replace(GA, "        - fast\n        - careful\n", "        - fast\n")],
            Kind::DefaultChanged => vec![Edit::Replace(GA, "                  - default: ''\n", "                  - default: eu\n")],
            Kind::WriteOnlyDropped => vec![Edit::Replace(GA, "                    writeOnly: true\n", "")],
            Kind::BodyMadeOptional => vec![Edit::Replace(GA, "            required: true\n            title: GadgetConfig", "            title: GadgetConfig")],
            Kind::BodyNullableFlipped => vec![Edit::Replace(EV, "          - type: 'null'\n            title: Filter\n", "")],
            Kind::ParameterTypeChanged => vec![Edit::Replace(GA, "            - type: integer\n              required: true", "            - type: string\n              required: true")],
            Kind::ResponseStatusAdded => vec![Edit::Replace(GA, "    '422':\n", "    '404': {}\n    '422':\n")],
            Kind::ResponseFieldTypeChanged => vec![Edit::Replace(EV, "        id:\n          type: integer", "        id:\n          type: string")],
        })
    });
    assert_eq!(covered, ALL.len());
}

#[test]
fn openapi_3_1_pages_catch_every_kind_of_change() {
    const EV: &str = "list-events/1.md";
    const GA: &str = "update-gadget/1.md";
    let covered = assert_catches(
        "openapi-3.1",
        (GA, EV, "delete-gadget/1.md"),
        false,
        |kind| {
            Some(match kind {
            Kind::OperationAdded => vec![Edit::Write(
                "delete-gadget/1.md",
                "# Delete a gadget\n\n````yaml delete /api/v1/lineage/bi/gadget/{gadget_id}/\nopenapi: 3.1.0\ninfo: {title: t, version: v}\npaths:\n  /api/v1/lineage/bi/gadget/{gadget_id}/:\n    delete:\n      operationId: delete_gadget\n      responses:\n        '200':\n          description: ok\n````\n".to_string(),
            )],
            Kind::OperationRemoved => vec![Edit::Delete(EV)],
            Kind::MethodChanged => vec![Edit::Replace(GA, "    put:\n", "    patch:\n")],
            Kind::PathChanged => vec![Edit::Replace(GA, "  /api/v1/lineage/bi/gadget/{gadget_id}/:\n", "  /api/v1/lineage/bi/gadget/{gadget_id}:\n")],
            Kind::FieldAdded => vec![Edit::Replace(GA, "        zone:\n", "        color:\n          anyOf:\n            - type: string\n            - type: 'null'\n        zone:\n")],
            Kind::FieldRemoved => vec![Edit::Replace(GA, "        zone:\n          default: ''\n          type: string\n", "")],
            Kind::FieldRenamed => vec![Edit::Replace(GA, "        label:\n", "        title:\n")],
            Kind::TypeChanged => vec![Edit::Replace(GA, "        count:\n          type: integer", "        count:\n          type: string")],
            Kind::ItemTypeChanged => vec![Edit::Replace(GA, "          items:\n            type: integer", "          items:\n            type: string")],
            Kind::FormatChanged => vec![Edit::Replace(EV, "        since:\n          anyOf:\n            - format: date-time", "        since:\n          anyOf:\n            - format: date")],
            Kind::MadeOptional => vec![Edit::Replace(GA, "      required:\n        - count\n        - secret", "      required:\n        - secret")],
            Kind::NullableFlipped => vec![Edit::Replace(GA, "        label:\n          anyOf:\n            - type: string\n            - type: 'null'", "        label:\n          type: string")],
            Kind::EnumValueAdded => vec![Edit::Replace(GA, "        - fast\n        - careful\n", "        - fast\n        - careful\n        - turbo\n")],
            Kind::EnumValueRemoved => vec![Edit::Replace(GA, "        - fast\n        - careful\n", "        - fast\n")],
            Kind::DefaultChanged => vec![Edit::Replace(GA, "          default: ''\n", "          default: eu\n")],
            Kind::WriteOnlyDropped => vec![Edit::Replace(GA, "              writeOnly: true\n", "")],
            Kind::BodyMadeOptional => vec![Edit::Replace(GA, "        required: true\n      responses:", "      responses:")],
            Kind::BodyNullableFlipped => vec![Edit::Replace(EV, "                - type: 'null'\n              title: Filter", "              title: Filter")],
            Kind::ParameterTypeChanged => vec![Edit::Replace(GA, "            title: Gadget id\n            type: integer", "            title: Gadget id\n            type: string")],
            Kind::ResponseStatusAdded => vec![Edit::Replace(GA, "        '422':\n", "        '404':\n          description: missing\n        '422':\n")],
            Kind::ResponseFieldTypeChanged => vec![Edit::Replace(EV, "        id:\n          type: integer", "        id:\n          type: string")],
        })
        },
    );
    assert_eq!(covered, ALL.len());
}

#[test]
fn whole_openapi_json_documents_catch_every_kind_of_change() {
    const DOC: &str = "gadget-openapi.json";
    const P: &str = "/paths/~1api~1v1~1lineage~1bi~1gadget~1{gadget_id}~1";
    const S: &str = "/components/schemas";
    let covered = assert_catches("document-json", (DOC, DOC, DOC), false, |kind| {
        let at = |suffix: &str| format!("{P}{suffix}");
        let schema = |suffix: &str| format!("{S}{suffix}");
        Some(match kind {
            Kind::OperationAdded => vec![Edit::JsonSet(
                DOC,
                at("/delete"),
                json!({"responses": {"200": {"description": "ok"}}}),
            )],
            Kind::OperationRemoved => {
                vec![Edit::JsonRemove(DOC, "/paths/~1api~1v1~1events".into())]
            }
            Kind::MethodChanged => vec![Edit::JsonMove(DOC, at("/put"), at("/patch"))],
            Kind::PathChanged => vec![Edit::JsonMove(
                DOC,
                P.into(),
                "/paths/~1api~1v1~1lineage~1bi~1gadget~1{gadget_id}".into(),
            )],
            Kind::FieldAdded => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetConfig/properties/color"),
                json!({"type": ["string", "null"]}),
            )],
            Kind::FieldRemoved => vec![Edit::JsonRemove(
                DOC,
                schema("/GadgetConfig/properties/zone"),
            )],
            Kind::FieldRenamed => vec![Edit::JsonMove(
                DOC,
                schema("/GadgetConfig/properties/label"),
                schema("/GadgetConfig/properties/title"),
            )],
            Kind::TypeChanged => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetConfig/properties/count/type"),
                json!("string"),
            )],
            Kind::ItemTypeChanged => vec![Edit::JsonSet(
                DOC,
                schema("/Link/properties/weights/items/type"),
                json!("string"),
            )],
            Kind::FormatChanged => vec![Edit::JsonSet(
                DOC,
                schema("/EventFilter/properties/since/format"),
                json!("date"),
            )],
            Kind::MadeOptional => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetConfig/required"),
                json!(["secret"]),
            )],
            Kind::NullableFlipped => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetConfig/properties/label"),
                json!({"type": "string"}),
            )],
            Kind::EnumValueAdded => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetMode/enum"),
                json!(["fast", "careful", "turbo"]),
            )],
            Kind::EnumValueRemoved => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetMode/enum"),
                json!(["fast"]),
            )],
            Kind::DefaultChanged => vec![Edit::JsonSet(
                DOC,
                schema("/GadgetConfig/properties/zone/default"),
                json!("eu"),
            )],
            Kind::WriteOnlyDropped => vec![Edit::JsonRemove(
                DOC,
                schema("/GadgetConfig/properties/secret/writeOnly"),
            )],
            Kind::BodyMadeOptional => vec![Edit::JsonRemove(DOC, at("/put/requestBody/required"))],
            Kind::BodyNullableFlipped => vec![Edit::JsonSet(
                DOC,
                "/paths/~1api~1v1~1events/get/requestBody/content/application~1json/schema".into(),
                json!({"$ref": "#/components/schemas/EventFilter"}),
            )],
            // A path-level parameter: the reader must merge it into the operation.
            Kind::ParameterTypeChanged => vec![Edit::JsonSet(
                DOC,
                at("/parameters/0/schema/type"),
                json!("string"),
            )],
            Kind::ResponseStatusAdded => vec![Edit::JsonSet(
                DOC,
                at("/put/responses/404"),
                json!({"description": "missing"}),
            )],
            Kind::ResponseFieldTypeChanged => vec![Edit::JsonSet(
                DOC,
                schema("/Event/properties/id/type"),
                json!("string"),
            )],
        })
    });
    assert_eq!(covered, ALL.len());
}

#[test]
fn whole_openapi_yaml_documents_catch_every_kind_of_change() {
    const DOC: &str = "gadget-openapi.yaml";
    let covered = assert_catches("document-yaml", (DOC, DOC, DOC), false, |kind| {
        Some(match kind {
            Kind::OperationAdded => vec![Edit::Replace(DOC, "    put:\n", "    delete:\n      responses:\n        '200':\n          description: ok\n    put:\n")],
            Kind::OperationRemoved => vec![Edit::Cut(DOC, "  /api/v1/events:\n", "  /api/v1/lineage/bi/gadget/")],
            Kind::MethodChanged => vec![Edit::Replace(DOC, "    put:\n", "    patch:\n")],
            Kind::PathChanged => vec![Edit::Replace(DOC, "  /api/v1/lineage/bi/gadget/{gadget_id}/:\n", "  /api/v1/lineage/bi/gadget/{gadget_id}:\n")],
            Kind::FieldAdded => vec![Edit::Replace(DOC, "                zone:", "                color: {type: string, nullable: true}\n                zone:")],
            Kind::FieldRemoved => vec![Edit::Replace(DOC, "                zone: {type: string, default: ''}\n", "")],
            Kind::FieldRenamed => vec![Edit::Replace(DOC, "                label:", "                title:")],
            Kind::TypeChanged => vec![Edit::Replace(DOC, "count: {type: integer}", "count: {type: string}")],
            Kind::ItemTypeChanged => vec![Edit::Replace(DOC, "weights: {type: array, items: {type: integer}}", "weights: {type: array, items: {type: string}}")],
            Kind::FormatChanged => vec![Edit::Replace(DOC, "since: {type: string, format: date-time,", "since: {type: string, format: date,")],
            Kind::MadeOptional => vec![Edit::Replace(DOC, "required: [count, secret]", "required: [secret]")],
            Kind::NullableFlipped => vec![Edit::Replace(DOC, "label: {type: string, nullable: true}", "label: {type: string}")],
            Kind::EnumValueAdded => vec![Edit::Replace(DOC, "enum: [fast, careful]", "enum: [fast, careful, turbo]")],
            Kind::EnumValueRemoved => vec![Edit::Replace(DOC, "enum: [fast, careful]", "enum: [fast]")],
            Kind::DefaultChanged => vec![Edit::Replace(DOC, "zone: {type: string, default: ''}", "zone: {type: string, default: eu}")],
            Kind::WriteOnlyDropped => vec![Edit::Replace(DOC, "format: password, writeOnly: true}", "format: password}")],
            Kind::BodyMadeOptional => vec![Edit::Replace(DOC, "      requestBody:\n        required: true\n", "      requestBody:\n")],
            Kind::BodyNullableFlipped => vec![Edit::Replace(DOC, "              type: object\n              nullable: true\n", "              type: object\n")],
            Kind::ParameterTypeChanged => vec![Edit::Replace(DOC, "schema: {type: integer}}", "schema: {type: string}}")],
            Kind::ResponseStatusAdded => vec![Edit::Replace(DOC, "              schema: {}\n", "              schema: {}\n        '404':\n          description: missing\n")],
            Kind::ResponseFieldTypeChanged => vec![Edit::Replace(DOC, "id: {type: integer}", "id: {type: string}")],
        })
    });
    assert_eq!(covered, ALL.len());
}

#[test]
fn rendered_pages_catch_every_change_they_can_show() {
    const EV: &str = "list-events.txt";
    const GA: &str = "update-gadget.txt";
    let covered = assert_catches("rendered", (GA, EV, "delete-gadget.txt"), true, |kind| {
        Some(match kind {
            Kind::OperationAdded => vec![Edit::Write(
                "delete-gadget.txt",
                "Delete a gadget\nDELETE\n/\napi\n/\nv1\n/\nlineage\n/\nbi\n/\ngadget\n/\n{gadget_id}\n/\ncurl --request DELETE \\\n--url https://api.example.test/api/v1/lineage/bi/gadget/{gadget_id}/ \\\n--header 'Authorization: <api-key>'\n\"<any>\"\nResponse\n200\n".to_string(),
            )],
            Kind::OperationRemoved => vec![Edit::Delete(EV)],
            Kind::MethodChanged => vec![
                Edit::Replace(GA, "PUT\n/\napi", "PATCH\n/\napi"),
                Edit::Replace(GA, "--request PUT", "--request PATCH"),
            ],
            Kind::PathChanged => vec![
                Edit::Replace(GA, "{gadget_id}\n/\ncurl", "{gadget_id}\ncurl"),
                Edit::Replace(GA, "{gadget_id}/ \\", "{gadget_id} \\"),
            ],
            Kind::FieldAdded => vec![Edit::Replace(GA, "\"zone\": \"\"\n", "\"zone\": \"\",\n\"color\": \"<string>\"\n")],
            Kind::FieldRemoved => vec![Edit::Replace(GA, "\"secret\": \"<string>\",\n\"zone\": \"\"\n", "\"secret\": \"<string>\"\n")],
            Kind::FieldRenamed => vec![Edit::Replace(GA, "\"label\": ", "\"title\": ")],
            Kind::TypeChanged => vec![Edit::Replace(GA, "\"count\": 123", "\"count\": \"123\"")],
            Kind::ItemTypeChanged => vec![Edit::Replace(GA, "\"weights\": [\n123\n]", "\"weights\": [\n\"x\"\n]")],
            Kind::ResponseStatusAdded => vec![Edit::Replace(GA, "Response\n200\n422\n", "Response\n200\n404\n422\n")],
            Kind::ResponseFieldTypeChanged => vec![Edit::Replace(EV, "\"id\": 123,", "\"id\": \"abc\",")],
            // Formats, required, nullable, enums, defaults, writeOnly, parameters and
            // the body's own flags are not visible on a rendered page.
            Kind::FormatChanged
            | Kind::MadeOptional
            | Kind::NullableFlipped
            | Kind::EnumValueAdded
            | Kind::EnumValueRemoved
            | Kind::DefaultChanged
            | Kind::WriteOnlyDropped
            | Kind::BodyMadeOptional
            | Kind::BodyNullableFlipped
            | Kind::ParameterTypeChanged => return None,
        })
    });
    assert_eq!(covered, 11);
}
