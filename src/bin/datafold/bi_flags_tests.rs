//! The spec drives the flags: a field added to a copy of
//! `openapi/datafold.yaml` becomes a flag (a secret, its three flags), is
//! checked in `--from-file`, and lands in the body; and for every kind, the
//! spec's schema and the generated type's JSON Schema (what the command line
//! reads, and what `bi schema` prints) give the same fields.

use clap::error::ErrorKind;
use serde_json::{json, Value};

use super::*;
use crate::bi_fields::check;

const SPEC: &str = include_str!("../../../openapi/datafold.yaml");

/// The spec as JSON.
fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).unwrap()
}

/// The name of `kind`'s configuration schema in the spec: the request body
/// of its create operation (`POST /api/v1/lineage/bi/<kind>/`).
fn spec_schema_name(spec: &Value, kind: BiKind) -> String {
    let path = format!("/api/v1/lineage/bi/{}/", kind.as_str());
    let reference = spec["paths"][path.as_str()]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a POST with a $ref body"));
    reference
        .strip_prefix("#/components/schemas/")
        .unwrap()
        .to_owned()
}

fn longs(command: &Command) -> Vec<String> {
    command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

#[test]
fn the_spec_and_the_generated_schema_give_every_kind_the_same_fields() {
    let spec = spec();
    for kind in BiKind::ALL {
        let name = spec_schema_name(&spec, kind);
        let from_spec = fields_of(&spec["components"]["schemas"][name.as_str()], &spec);
        assert!(!from_spec.is_empty(), "{kind}: no fields in {name}");
        assert_eq!(from_spec, kind_fields(kind), "{kind} ({name})");
    }
}

#[test]
fn every_field_of_every_kind_has_its_flags_and_no_secret_a_value_flag() {
    let spec = spec();
    for kind in BiKind::ALL {
        let name = spec_schema_name(&spec, kind);
        let properties = spec["components"]["schemas"][name.as_str()]["properties"]
            .as_object()
            .unwrap();
        let fields = kind_fields(kind);
        assert_eq!(fields.len(), properties.len(), "{kind}");
        let longs = longs(&kind_command(kind, &fields, false));
        // Read straight from the spec, not from what the builder made of it.
        for (property, schema) in properties {
            let field = fields.iter().find(|f| &f.name == property).unwrap();
            let flag = field.flag.as_deref().unwrap();
            if schema["format"] == "password" {
                for suffix in ["env", "file", "stdin"] {
                    assert!(
                        longs.contains(&format!("{flag}-{suffix}")),
                        "{kind}: {flag}"
                    );
                }
                assert!(
                    !longs.contains(&flag.to_owned()),
                    "{kind}: --{flag} takes a secret"
                );
            } else {
                assert!(longs.contains(&flag.to_owned()), "{kind}: --{flag}");
            }
        }
    }
}

/// A copy of the spec with two more fields in Looker's configuration: a
/// required integer and a secret.
fn spec_with_new_fields() -> Value {
    let mut spec = spec();
    let looker = &mut spec["components"]["schemas"]["LookerDataSourceConfig"];
    looker["properties"]["warehouse_id"] = json!({"title": "Warehouse Id", "type": "integer"});
    looker["properties"]["signing_key"] = json!({
        "title": "Signing Key", "type": "string", "format": "password", "writeOnly": true
    });
    looker["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("warehouse_id"));
    spec
}

fn new_looker_fields() -> Vec<Field> {
    let spec = spec_with_new_fields();
    fields_of(
        &spec["components"]["schemas"]["LookerDataSourceConfig"],
        &spec,
    )
}

#[test]
fn a_field_added_to_the_spec_becomes_a_flag_and_a_secret_gets_its_trio() {
    let fields = new_looker_fields();
    let command = kind_command(BiKind::Looker, &fields, false);
    let longs = longs(&command);
    assert!(longs.contains(&"warehouse-id".to_owned()), "{longs:?}");
    for flag in ["signing-key-env", "signing-key-file", "signing-key-stdin"] {
        assert!(longs.contains(&flag.to_owned()), "{longs:?}");
    }
    assert!(!longs.contains(&"signing-key".to_owned()), "{longs:?}");
    // The flags that were there stay.
    for flag in [
        "base-url",
        "project-id",
        "binding",
        "client-secret-env",
        "name",
    ] {
        assert!(longs.contains(&flag.to_owned()), "{longs:?}");
    }

    // A secret's value is never taken from the command line itself.
    let refused = command
        .clone()
        .try_get_matches_from(["looker", "--signing-key", "s3cr3t"])
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::UnknownArgument);
    assert!(!refused.to_string().contains("s3cr3t"), "{refused}");

    // The new flags land in the body; the secret is read from the variable.
    let var = format!("DATAFOLD_TEST_SIGNING_KEY_{}", std::process::id());
    std::env::set_var(&var, "key-from-env\n");
    let matches = command
        .try_get_matches_from(["looker", "--warehouse-id", "9", "--signing-key-env", &var])
        .unwrap();
    let flags = ConfigFlags::from_matches(BiKind::Looker, fields.clone(), &matches);
    let body = flags.body().unwrap();
    assert_eq!(body["warehouse_id"], 9);
    assert_eq!(body["signing_key"], "key-from-env");
}

/// The message of a refused configuration, which exits 5 (rejected input).
fn refusal(checked: CliResult<()>) -> String {
    let invocation = crate::Invocation {
        key_var: "DATAFOLD_API_KEY".into(),
        key_var_is_default: true,
        timeout: None,
        host: "http://127.0.0.1:9".into(),
    };
    let (code, message) = checked.unwrap_err().render(&invocation);
    assert_eq!(code, 5, "{message}");
    message
}

#[test]
fn a_field_added_to_the_spec_is_checked_in_the_file_with_its_flag_named() {
    let fields = new_looker_fields();
    let complete = json!({
        "base_url": "https://l", "client_id": "c", "repo_id": 1,
        "client_secret": "s", "warehouse_id": 9, "signing_key": "k"
    });
    let complete = complete.as_object().unwrap().clone();
    check(&fields, &complete).unwrap();

    let mut missing = complete.clone();
    missing.remove("warehouse_id");
    let message = refusal(check(&fields, &missing));
    assert!(
        message.contains("missing field `warehouse_id`") && message.contains("--warehouse-id"),
        "{message}"
    );

    let mut mistyped = complete.clone();
    mistyped.insert("warehouse_id".into(), json!("nine"));
    let message = refusal(check(&fields, &mistyped));
    assert!(
        message.contains("warehouse_id: expected an integer") && message.contains("--warehouse-id"),
        "{message}"
    );

    // A secret that is not a string is refused without quoting it.
    let mut unquoted = complete;
    unquoted.insert("signing_key".into(), json!(20240917));
    let message = refusal(check(&fields, &unquoted));
    assert!(
        message.contains("signing_key must be a string") && !message.contains("20240917"),
        "{message}"
    );
}

#[test]
fn a_field_whose_flag_is_taken_is_left_to_the_file() {
    let mut spec = spec();
    let dbt = &mut spec["components"]["schemas"]["DbtDataSourceConfig"];
    dbt["properties"]["timeout"] = json!({"type": "integer"});
    let fields = fields_of(&spec["components"]["schemas"]["DbtDataSourceConfig"], &spec);
    let timeout = fields.iter().find(|f| f.name == "timeout").unwrap();
    assert_eq!(timeout.flag, None, "--timeout is the global option");
    // The command still builds (clap would panic on a duplicate in debug).
    kind_command(BiKind::Dbt, &fields, true).debug_assert();
}
