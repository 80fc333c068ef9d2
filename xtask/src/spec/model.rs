//! The spec as the generated client sees it: operations by operationId,
//! component schemas by name, and the Rust names and types progenitor and
//! typify give them (with the settings of the SDK's `build.rs`).
//!
//! The document is read untyped (`serde_json::Value`). References to
//! `components/parameters`, `components/requestBodies` and
//! `components/responses` are inlined, since they generate no Rust item of
//! their own; references to `components/schemas` are kept, because each
//! component is a named type (`types::X`) and its changes are reported once,
//! at the component.

use std::collections::BTreeMap;

use heck::{ToPascalCase, ToSnakeCase};
use serde_json::Value;

/// The schemas build.rs replaces with hand-written types
/// (`GenerationSettings::with_replacement`), by generated type name, with the
/// path the rest of the SDK names them by. The generated code never holds
/// these types, so a change to their schema changes no generated item.
pub const REPLACEMENTS: &[(&str, &str)] = &[
    ("BiIntegration", "crate::bi::Integration"),
    ("BiIntegrationList", "crate::bi::IntegrationList"),
    ("AuditLogs", "crate::audit::AuditLog"),
    ("HttpValidationError", "crate::error::ErrorBody"),
];

/// Schemas build.rs re-exports in the generated `types` module
/// (`reexport_replacements`), by schema name: users name them `types::`
/// and the hand-written type's name (`types::AuditLog`).
const REEXPORTED: &[&str] = &["AuditLogs"];

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation, as progenitor turns it into a `Client` method.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The operationId (the method's name, in snake case).
    pub id: String,
    /// Lower-case HTTP method.
    pub method: String,
    /// The path template.
    pub path: String,
    /// The operation object, with path-level parameters merged in and
    /// `components/parameters|requestBodies|responses` references inlined.
    pub value: Value,
    /// Parameters by name (path-level ones included).
    pub params: BTreeMap<String, Value>,
}

impl Operation {
    /// Where the operation is in the spec: `paths./api/v1/x.get`.
    pub fn spec_path(&self) -> String {
        format!("paths.{}.{}", self.path, self.method)
    }

    /// The generated method: `Client::get_audit_logs()`.
    pub fn rust_item(&self) -> String {
        format!("Client::{}()", method_name(&self.id))
    }
}

/// A parsed spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// Operations by operationId.
    pub operations: BTreeMap<String, Operation>,
    /// `components/schemas` by component name.
    pub schemas: BTreeMap<String, Value>,
}

impl Spec {
    /// Parse a YAML (or JSON) OpenAPI 3.0 document; `name` says where it came
    /// from in the error.
    pub fn parse(text: &str, name: &str) -> Result<Spec, String> {
        let value: Value =
            serde_yaml_ng::from_str(text).map_err(|e| format!("{name}: not valid YAML: {e}"))?;
        Spec::from_value(&value).map_err(|e| format!("{name}: {e}"))
    }

    /// Read a document already parsed.
    pub fn from_value(doc: &Value) -> Result<Spec, String> {
        let Some(root) = doc.as_object() else {
            return Err("not an OpenAPI document (the top level is not a mapping)".into());
        };
        if !root.contains_key("openapi") {
            return Err("not an OpenAPI document (no `openapi` version field)".into());
        }
        let mut spec = Spec::default();
        if let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            spec.schemas = schemas
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        let empty = serde_json::Map::new();
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                return Err(format!("path `{path}` is not a mapping"));
            };
            let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let where_ = format!("{} {path}", method.to_uppercase());
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    return Err(format!("{where_} has no operationId"));
                };
                if let Some(first) = spec.operations.get(id) {
                    return Err(format!(
                        "duplicate operationId `{id}` on {where_} and {} {}",
                        first.method.to_uppercase(),
                        first.path
                    ));
                }
                let mut value = inline_refs(doc, op, 0)?;
                let mut params = BTreeMap::new();
                for list in [&inline_refs(doc, &shared, 0)?, &value["parameters"]] {
                    for param in list.as_array().into_iter().flatten() {
                        let Some(name) = param.get("name").and_then(Value::as_str) else {
                            return Err(format!("{where_} has a parameter without a name"));
                        };
                        params.insert(name.to_string(), param.clone());
                    }
                }
                if let Some(map) = value.as_object_mut() {
                    map.remove("parameters");
                }
                spec.operations.insert(
                    id.to_string(),
                    Operation {
                        id: id.to_string(),
                        method: method.to_string(),
                        path: path.clone(),
                        value,
                        params,
                    },
                );
            }
        }
        Ok(spec)
    }

    /// The component a `$ref` names, if it is one of `components/schemas`.
    pub fn component<'a>(&'a self, reference: &str) -> Option<(&'a str, &'a Value)> {
        let name = reference.strip_prefix("#/components/schemas/")?;
        self.schemas
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Inline every `$ref` that does not point into `components/schemas`.
fn inline_refs(doc: &Value, value: &Value, depth: usize) -> Result<Value, String> {
    if depth > 32 {
        return Err("`$ref`s nest more than 32 deep (a cycle?)".into());
    }
    Ok(match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                if !reference.starts_with("#/components/schemas/") {
                    let Some(target) = reference.strip_prefix('#').and_then(|p| doc.pointer(p))
                    else {
                        return Err(format!("`$ref: {reference}` points nowhere"));
                    };
                    return inline_refs(doc, target, depth + 1);
                }
            }
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(k.clone(), inline_refs(doc, v, depth + 1)?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| inline_refs(doc, v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// The case progenitor and typify convert a name to.
#[derive(Clone, Copy, Debug)]
pub enum Case {
    /// `UpperCamelCase`: type and variant names.
    Pascal,
    /// `snake_case`: method, builder-method and field names.
    Snake,
}

/// progenitor's and typify's `sanitize`: a name from the spec made a Rust
/// identifier (heck's case conversion, a keyword gets a trailing `_`).
pub fn sanitize(input: &str, case: Case) -> String {
    let to_case = |s: &str| match case {
        Case::Pascal => s.to_pascal_case(),
        Case::Snake => s.to_snake_case(),
    };
    let out = match input {
        "+1" => "plus1".to_string(),
        "-1" => "minus1".to_string(),
        _ => to_case(
            &input
                .replace('\'', "")
                .replace(|c: char| !(c.is_alphanumeric() || c == '_'), "-"),
        ),
    };
    let out = match out.chars().next() {
        None => to_case("x"),
        Some(c) if c.is_alphabetic() => out,
        Some(_) => format!("{}{out}", to_case("x")),
    };
    if is_keyword(&out) {
        format!("{out}_")
    } else {
        out
    }
}

/// Words typify does not accept as identifiers.
fn is_keyword(ident: &str) -> bool {
    matches!(
        ident,
        "_" | "abstract"
            | "as"
            | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "final"
            | "fn"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "override"
            | "priv"
            | "pub"
            | "ref"
            | "return"
            | "Self"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "typeof"
            | "unsafe"
            | "unsized"
            | "use"
            | "virtual"
            | "where"
            | "while"
            | "yield"
    )
}

/// The `Client` method of an operationId.
pub fn method_name(operation_id: &str) -> String {
    sanitize(operation_id, Case::Snake)
}

/// The generated type name of a component schema.
pub fn type_name(component: &str) -> String {
    sanitize(component, Case::Pascal)
}

/// The hand-written type that replaces a component, if build.rs replaces it.
pub fn replacement(component: &str) -> Option<&'static str> {
    let name = type_name(component);
    REPLACEMENTS
        .iter()
        .find(|(replaced, _)| *replaced == name)
        .map(|(_, path)| *path)
}

/// How users name a component's type: `types::X`, or the hand-written type
/// that replaces it (`types::AuditLog` for the `AuditLogs` schema, being
/// re-exported).
pub fn type_path(component: &str) -> String {
    let name = type_name(component);
    match replacement(component) {
        Some(path) if REEXPORTED.contains(&name.as_str()) => {
            format!("types::{}", path.rsplit("::").next().unwrap_or(path))
        }
        Some(path) => path.to_string(),
        None => format!("types::{name}"),
    }
}

/// Keys that only document: they change doc comments, never code.
pub const DESCRIPTIVE: &[&str] = &[
    "title",
    "description",
    "summary",
    "example",
    "examples",
    "externalDocs",
    "deprecated",
];

/// A schema without its descriptive keys, at every depth (to recognise a
/// rename: the same schema under another name).
pub fn strip_descriptive(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !DESCRIPTIVE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), strip_descriptive(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_descriptive).collect()),
        other => other.clone(),
    }
}

/// The Rust type typify generates for a schema, as users write it; inline
/// structs, enums and newtypes (named after their parent or title) are
/// written in parentheses, e.g. `(inline enum)`.
pub fn rust_type(spec: &Spec, schema: &Value) -> String {
    let inner = rust_type_not_null(spec, schema);
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) && inner != "serde_json::Value"
    {
        format!("Option<{inner}>")
    } else {
        inner
    }
}

/// [`rust_type`] without `nullable`.
fn rust_type_not_null(spec: &Spec, schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return match spec.component(reference) {
            Some((name, _)) => type_path(name),
            None => format!("(unresolved {reference})"),
        };
    }
    if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
        if all_of.len() == 1 {
            return rust_type(spec, &all_of[0]);
        }
        return "(inline struct of allOf)".into();
    }
    if schema.get("anyOf").is_some() || schema.get("oneOf").is_some() {
        return "(inline untagged enum)".into();
    }
    if schema.get("enum").is_some() {
        return "(inline enum)".into();
    }
    let format = schema.get("format").and_then(Value::as_str);
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match format {
            Some("date-time") => "chrono::DateTime<Utc>".into(),
            Some("date") => "chrono::NaiveDate".into(),
            Some("password") => "crate::Secret".into(),
            Some("uuid") => "uuid::Uuid".into(),
            Some("ip") => "std::net::IpAddr".into(),
            Some("ipv4") => "std::net::Ipv4Addr".into(),
            Some("ipv6") => "std::net::Ipv6Addr".into(),
            _ if ["maxLength", "minLength", "pattern"]
                .iter()
                .any(|k| schema.get(*k).is_some()) =>
            {
                "(constrained String newtype)".into()
            }
            _ => "String".into(),
        },
        Some("integer") => integer_type(schema),
        Some("number") => match format {
            Some("float") => "f32".into(),
            _ => "f64".into(),
        },
        Some("boolean") => "bool".into(),
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            format!("Vec<{}>", rust_type(spec, &items))
        }
        Some("object") | None if schema.get("properties").is_some() => "(inline struct)".into(),
        Some("object") => match schema.get("additionalProperties") {
            Some(extra @ Value::Object(_)) if !extra.as_object().is_some_and(|m| m.is_empty()) => {
                format!("Map<String, {}>", rust_type(spec, extra))
            }
            _ => "serde_json::Map<String, serde_json::Value>".into(),
        },
        _ => "serde_json::Value".into(),
    }
}

/// typify's integer: the format's type when the bounds fit it, else a type
/// whose bounds are exactly the schema's, else `i64`.
fn integer_type(schema: &Value) -> String {
    const FORMATS: &[(&str, &str, &str, f64, f64)] = &[
        ("int8", "i8", "NonZeroU8", i8::MIN as f64, i8::MAX as f64),
        ("uint8", "u8", "NonZeroU8", u8::MIN as f64, u8::MAX as f64),
        (
            "int16",
            "i16",
            "NonZeroU16",
            i16::MIN as f64,
            i16::MAX as f64,
        ),
        (
            "uint16",
            "u16",
            "NonZeroU16",
            u16::MIN as f64,
            u16::MAX as f64,
        ),
        ("int", "i32", "NonZeroU32", i32::MIN as f64, i32::MAX as f64),
        (
            "int32",
            "i32",
            "NonZeroU32",
            i32::MIN as f64,
            i32::MAX as f64,
        ),
        (
            "uint",
            "u32",
            "NonZeroU32",
            u32::MIN as f64,
            u32::MAX as f64,
        ),
        (
            "uint32",
            "u32",
            "NonZeroU32",
            u32::MIN as f64,
            u32::MAX as f64,
        ),
        (
            "int64",
            "i64",
            "NonZeroU64",
            i64::MIN as f64,
            i64::MAX as f64,
        ),
        (
            "uint64",
            "u64",
            "NonZeroU64",
            u64::MIN as f64,
            u64::MAX as f64,
        ),
    ];
    let num = |k: &str| schema.get(k).and_then(Value::as_f64);
    // OpenAPI 3.0's exclusive bounds are booleans beside minimum/maximum.
    let exclusive = |k: &str| schema.get(k).and_then(Value::as_bool) == Some(true);
    let mut min = num("minimum").map(|m| {
        if exclusive("exclusiveMinimum") {
            m + 1.0
        } else {
            m
        }
    });
    let mut max = num("maximum").map(|m| {
        if exclusive("exclusiveMaximum") {
            m - 1.0
        } else {
            m
        }
    });
    let multiple = schema.get("multipleOf").is_some();
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        if let Some((_, ty, nz, lo, hi)) = FORMATS.iter().find(|f| f.0 == format) {
            let fits = min.is_none_or(|m| m >= *lo) && max.is_none_or(|m| m <= *hi);
            if !multiple && fits {
                return if min == Some(1.0) { nz } else { ty }.to_string();
            }
            min = min.or(Some(*lo));
            max = max.or(Some(*hi));
        }
    }
    let same = |a: f64, b: f64| (a - b).abs() <= f64::EPSILON;
    let found = FORMATS
        .iter()
        .rev()
        .find_map(|(_, ty, nz, lo, hi)| match (min, max) {
            (None, Some(max)) => same(*hi, max).then_some(*ty),
            (Some(1.0), _) => Some(*nz),
            (Some(min), None) => same(*lo, min).then_some(*ty),
            (Some(min), Some(max)) => (same(*lo, min) && same(*hi, max)).then_some(*ty),
            (None, None) => None,
        });
    found.unwrap_or("i64").to_string()
}

/// The type of a struct field: typify makes an optional property `Option<T>`
/// unless `T` has a default of its own (an `Option`, a `Vec`, a map) or the
/// schema gives one.
pub fn field_type(spec: &Spec, schema: &Value, required: bool) -> String {
    let inner = rust_type(spec, schema);
    let intrinsic = ["Option<", "Vec<", "Map<", "serde_json::Map<"]
        .iter()
        .any(|p| inner.starts_with(p));
    if required || intrinsic || schema.get("default").is_some() {
        inner
    } else {
        format!("Option<{inner}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_progenitors() {
        assert_eq!(type_name("HTTPValidationError"), "HttpValidationError");
        assert_eq!(type_name("PowerBIAuthType"), "PowerBiAuthType");
        assert_eq!(
            type_name("HighTouchDataSourceConfig"),
            "HighTouchDataSourceConfig"
        );
        assert_eq!(method_name("get_audit_logs"), "get_audit_logs");
        assert_eq!(method_name("getAuditLogs"), "get_audit_logs");
        assert_eq!(sanitize("boundIds", Case::Snake), "bound_ids");
        assert_eq!(sanitize("type", Case::Snake), "type_");
        assert_eq!(
            sanitize("service_principal", Case::Pascal),
            "ServicePrincipal"
        );
    }

    #[test]
    fn integer_types_follow_typify() {
        let ty = |v: Value| integer_type(&v);
        assert_eq!(ty(serde_json::json!({"type": "integer"})), "i64");
        assert_eq!(
            ty(serde_json::json!({"type": "integer", "format": "int32"})),
            "i32"
        );
        assert_eq!(
            ty(serde_json::json!({"type": "integer", "minimum": 0})),
            "u64"
        );
        assert_eq!(
            ty(serde_json::json!({"type": "integer", "minimum": 5})),
            "i64"
        );
    }

    /// The replacements listed here are build.rs's.
    #[test]
    fn replacements_match_build_rs() {
        let build = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../build.rs"))
            .expect("build.rs");
        let mut found = Vec::new();
        for call in build.split(".with_replacement(").skip(1) {
            let strings: Vec<&str> = call.split('"').skip(1).step_by(2).take(2).collect();
            found.push((strings[0], strings[1]));
        }
        found.sort();
        let mut listed = REPLACEMENTS.to_vec();
        listed.sort();
        assert_eq!(found, listed);
    }
}
