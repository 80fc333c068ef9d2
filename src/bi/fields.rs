//! The fields of a kind's configuration as its JSON Schema (derived from the
//! spec through the generated type) describes them: names, which are
//! required, which are secrets (`format: password`) and their defaults. The
//! as-code file is checked against these, so a field added to the spec
//! needs no edit here.

use serde_json::{Map, Value};

use super::{BiKind, ConfigVisitor, KindConfig};

/// One field of a kind's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct KindField {
    /// The name in the JSON body, e.g. `client_secret`.
    pub name: String,
    /// Whether a configuration must hold it.
    pub required: bool,
    /// Whether the spec marks it `format: password`.
    pub secret: bool,
    /// The spec's default, if any.
    pub default: Option<Value>,
}

/// The JSON Schema of `kind`'s configuration, as JSON.
pub fn config_schema(kind: BiKind) -> Value {
    struct SchemaOf;
    impl ConfigVisitor for SchemaOf {
        type Output = Value;
        fn visit<C: KindConfig>(self) -> Value {
            // A RootSchema always serializes; `Null` would only mean "no fields".
            serde_json::to_value(schemars::schema_for!(C)).unwrap_or_default()
        }
    }
    kind.visit_config(SchemaOf)
}

/// The fields of `kind`'s configuration, in name order.
pub fn kind_fields(kind: BiKind) -> Vec<KindField> {
    let schema = config_schema(kind);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    properties
        .iter()
        .map(|(name, property)| {
            let resolved = resolve_schema(property, &schema);
            KindField {
                name: name.clone(),
                required: required.contains(&name.as_str()),
                // As the CLI's flags do: `format: password`, or a text
                // field named like a secret.
                secret: resolved.get("format").and_then(Value::as_str) == Some("password")
                    || property.get("format").and_then(Value::as_str) == Some("password")
                    || (resolved.get("type").and_then(Value::as_str) == Some("string")
                        && crate::secret::is_secret_field(name)),
                default: property
                    .get("default")
                    .or_else(|| resolved.get("default"))
                    .cloned(),
            }
        })
        .collect()
}

/// The schema a property of `root` stands for: `$ref`s followed (into the
/// JSON Schema's `definitions` or an OpenAPI document's
/// `components/schemas`), nullable forms (`anyOf: [X, {type: null}]`,
/// `allOf: [X]`) unwrapped. Bounded, so a `$ref` cycle cannot hang.
pub fn resolve_schema<'a>(mut schema: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = match reference.strip_prefix("#/definitions/") {
                Some(name) => root.get("definitions").and_then(|d| d.get(name)),
                None => reference
                    .strip_prefix("#/components/schemas/")
                    .and_then(|name| root.get("components")?.get("schemas")?.get(name)),
            };
            match target {
                Some(target) => schema = target,
                None => return schema,
            }
            continue;
        }
        let alternatives = ["anyOf", "oneOf", "allOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array));
        let mut not_null = alternatives
            .into_iter()
            .flatten()
            .filter(|alternative| !is_null_type(alternative));
        match (not_null.next(), not_null.next()) {
            (Some(only), None) => schema = only,
            _ => return schema,
        }
    }
    schema
}

/// `{type: null}` (or `{type: [null]}`): the null half of a nullable form.
fn is_null_type(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => !ts.is_empty() && ts.iter().all(|t| t == "null"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_are_the_password_fields_of_the_spec() {
        let secrets = |kind| {
            kind_fields(kind)
                .into_iter()
                .filter(|f| f.secret)
                .map(|f| f.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(secrets(BiKind::Looker), ["client_secret"]);
        assert_eq!(secrets(BiKind::Mode), ["password", "token"]);
        assert_eq!(secrets(BiKind::PowerBi), ["client_secret"]);
        assert_eq!(secrets(BiKind::Dbt), Vec::<String>::new());
        let looker = kind_fields(BiKind::Looker);
        let repo = looker.iter().find(|f| f.name == "repo_id").unwrap();
        assert!(repo.required && !repo.secret);
    }
}
