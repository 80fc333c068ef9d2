//! The spec as the mock reads it: `openapi/datafold.yaml`, compiled in, and a
//! small validator for the JSON-Schema subset the spec uses (`type`,
//! `nullable`, `format: date-time`, `properties`, `required`, `items`, `$ref`,
//! `allOf`, `anyOf`, `enum`, `additionalProperties`).
//!
//! One validator serves both directions: request bodies (its issues become
//! FastAPI-shaped 422 bodies, with pydantic's `type` and `msg` wording) and
//! response bodies (the mock's own answers are checked against the schema the
//! spec documents for the operation and status; see
//! [`MockServerBuilder::check_responses`](super::MockServerBuilder::check_responses)).
//!
//! Known difference from pydantic: validation is strict JSON typing; pydantic's
//! lax mode would also accept e.g. `"5"` for an integer.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The spec, as build.rs reads it to generate the client.
const SPEC_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/datafold.json"));

/// One part of an issue's location: a field name or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LocItem {
    /// A field name (or `body` / `path`).
    Field(String),
    /// An array index.
    Index(usize),
}

impl From<&LocItem> for Value {
    fn from(item: &LocItem) -> Value {
        match item {
            LocItem::Field(name) => Value::from(name.as_str()),
            LocItem::Index(i) => Value::from(*i),
        }
    }
}

/// One way a JSON value fails a schema, worded like pydantic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemaIssue {
    /// Where, e.g. `["client_secret"]` or `["bindings", 0, "remoteId"]`.
    pub(crate) loc: Vec<LocItem>,
    /// What is wrong, e.g. `Field required`.
    pub(crate) msg: String,
    /// pydantic's error type, e.g. `missing`.
    pub(crate) kind: String,
}

impl SchemaIssue {
    fn new(loc: &[LocItem], kind: &str, msg: impl Into<String>) -> Self {
        Self {
            loc: loc.to_vec(),
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }

    /// The issue as one item of FastAPI's `detail` array, its location
    /// prefixed with `prefix` (`"body"` or `"path"`).
    pub(crate) fn to_detail(&self, prefix: &str) -> Value {
        let mut loc = vec![Value::from(prefix)];
        loc.extend(self.loc.iter().map(Value::from));
        serde_json::json!({ "loc": loc, "msg": self.msg, "type": self.kind })
    }
}

impl std::fmt::Display for SchemaIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path: Vec<String> = self
            .loc
            .iter()
            .map(|l| match l {
                LocItem::Field(name) => name.clone(),
                LocItem::Index(i) => i.to_string(),
            })
            .collect();
        write!(f, "{}: {} ({})", path.join("."), self.msg, self.kind)
    }
}

/// One operation of the spec: method, path template and what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation {
    /// Upper-case HTTP method.
    pub(crate) method: String,
    /// The path template, e.g. `/api/v1/lineage/bi/{bi_datasource_id}/`.
    pub(crate) path: String,
    /// The operationId.
    pub(crate) operation_id: String,
    /// The component schema of the JSON request body, if there is one.
    pub(crate) body_schema: Option<String>,
    /// Whether the request body is required.
    pub(crate) body_required: bool,
    /// The path parameters the spec types as integers.
    pub(crate) integer_params: Vec<String>,
}

/// `openapi/datafold.yaml`, parsed; get it with [`Spec::get`].
#[derive(Debug)]
pub(crate) struct Spec {
    doc: Value,
    operations: Vec<Operation>,
}

impl Spec {
    /// The compiled-in spec, parsed on first use.
    ///
    /// # Errors
    /// A message naming the problem when the spec cannot be read, which a
    /// successful build rules out (build.rs parses the same file).
    pub(crate) fn get() -> Result<&'static Spec, String> {
        static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();
        SPEC.get_or_init(Spec::parse).as_ref().map_err(Clone::clone)
    }

    fn parse() -> Result<Spec, String> {
        // build.rs writes the spec as JSON next to the generated client, so
        // the mock needs no YAML parser of its own.
        let doc: Value = serde_json::from_str(SPEC_JSON)
            .map_err(|e| format!("the spec copy in OUT_DIR is not JSON: {e}"))?;
        let mut operations = Vec::new();
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("openapi/datafold.yaml has no `paths`")?;
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Some(operation_id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                let body = op.get("requestBody");
                let body_schema = body
                    .and_then(|b| b.pointer("/content/application~1json/schema"))
                    .and_then(schema_name);
                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    operation_id: operation_id.to_owned(),
                    body_schema,
                    body_required: body
                        .and_then(|b| b.get("required"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    integer_params: op
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|p| {
                            p.get("in").and_then(Value::as_str) == Some("path")
                                && p.pointer("/schema/type").and_then(Value::as_str)
                                    == Some("integer")
                        })
                        .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
                        .collect(),
                });
            }
        }
        Ok(Spec { doc, operations })
    }

    /// Every operation of the spec.
    pub(crate) fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this operationId.
    pub(crate) fn operation(&self, operation_id: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.operation_id == operation_id)
    }

    /// The property names of a component schema whose values are secrets
    /// (`format: password` or `writeOnly: true`).
    pub(crate) fn secret_fields(&self, schema: &str) -> Vec<String> {
        self.component(schema)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter(|(_, p)| {
                        p.get("format").and_then(Value::as_str) == Some("password")
                            || p.get("writeOnly").and_then(Value::as_bool) == Some(true)
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Add the `default` of every top-level property of `schema` that `value`
    /// lacks (pydantic fills defaults in the same way).
    pub(crate) fn apply_defaults(&self, schema: &str, value: &mut Value) {
        let (Some(props), Some(object)) = (
            self.component(schema)
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object),
            value.as_object_mut(),
        ) else {
            return;
        };
        for (name, prop) in props {
            if let (Some(default), false) = (prop.get("default"), object.contains_key(name)) {
                object.insert(name.clone(), default.clone());
            }
        }
    }

    /// Check `value` against the component schema `schema`
    /// (`#/components/schemas/<schema>`); an empty list means it fits.
    pub(crate) fn validate(&self, schema: &str, value: &Value) -> Vec<SchemaIssue> {
        let mut issues = Vec::new();
        match self.component(schema) {
            Some(s) => self.check(s, value, &mut Vec::new(), &mut issues),
            None => issues.push(SchemaIssue::new(
                &[],
                "unknown_schema",
                format!("the spec has no schema {schema:?}"),
            )),
        }
        issues
    }

    /// Check a response body against what the spec documents for
    /// `operation_id` and `status`. `None` when the spec documents no JSON
    /// body for that status (e.g. a 401); otherwise the issues (empty: fits).
    pub(crate) fn validate_response(
        &self,
        operation_id: &str,
        status: u16,
        body: &Value,
    ) -> Option<Vec<SchemaIssue>> {
        let op = self.operation(operation_id)?;
        let mut response = self
            .doc
            .get("paths")?
            .get(&op.path)?
            .get(op.method.to_ascii_lowercase())?
            .get("responses")?
            .get(status.to_string())?;
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = self.resolve(reference)?;
        }
        let schema = response.pointer("/content/application~1json/schema")?;
        let mut issues = Vec::new();
        self.check(schema, body, &mut Vec::new(), &mut issues);
        Some(issues)
    }

    fn component(&self, name: &str) -> Option<&Value> {
        self.doc.get("components")?.get("schemas")?.get(name)
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        self.doc.pointer(reference.strip_prefix('#')?)
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        loc: &mut Vec<LocItem>,
        out: &mut Vec<SchemaIssue>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference) {
                Some(target) => self.check(target, value, loc, out),
                None => out.push(SchemaIssue::new(loc, "unresolved_ref", reference)),
            }
            return;
        }
        if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(part, value, loc, out);
        }
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            let fits_one = branches.iter().any(|branch| {
                let mut scratch = Vec::new();
                self.check(branch, value, &mut loc.clone(), &mut scratch);
                scratch.is_empty()
            });
            if !fits_one {
                out.push(SchemaIssue::new(
                    loc,
                    "union",
                    "Input should match one of the allowed types",
                ));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|v| format!("'{}'", v.as_str().unwrap_or_default()))
                    .collect();
                let expected = match names.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                };
                out.push(SchemaIssue::new(
                    loc,
                    "enum",
                    format!("Input should be {expected}"),
                ));
                return;
            }
        }
        let Some(ty) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        match ty {
            "string" => match value.as_str() {
                None => out.push(SchemaIssue::new(
                    loc,
                    "string_type",
                    "Input should be a valid string",
                )),
                Some(text) if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
                    if parse_date_time(text).is_none() {
                        out.push(SchemaIssue::new(
                            loc,
                            "datetime_from_date_parsing",
                            "Input should be a valid datetime or date, invalid character in year",
                        ));
                    }
                }
                Some(_) => {}
            },
            "integer" => check_integer(value, loc, out),
            "number" if !value.is_number() => out.push(SchemaIssue::new(
                loc,
                "float_type",
                "Input should be a valid number",
            )),
            "boolean" if !value.is_boolean() => out.push(SchemaIssue::new(
                loc,
                "bool_type",
                "Input should be a valid boolean",
            )),
            "array" => match value.as_array() {
                None => out.push(SchemaIssue::new(
                    loc,
                    "list_type",
                    "Input should be a valid list",
                )),
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            loc.push(LocItem::Index(i));
                            self.check(item_schema, item, loc, out);
                            loc.pop();
                        }
                    }
                }
            },
            "object" => match value.as_object() {
                None if schema.get("properties").is_some() => out.push(SchemaIssue::new(
                    loc,
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                )),
                None => out.push(SchemaIssue::new(
                    loc,
                    "dict_type",
                    "Input should be a valid dictionary",
                )),
                Some(object) => self.check_object(schema, object, loc, out),
            },
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        object: &Map<String, Value>,
        loc: &mut Vec<LocItem>,
        out: &mut Vec<SchemaIssue>,
    ) {
        let empty = Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // pydantic reports in field order; fields the schema requires but does
        // not describe come last.
        let names = props
            .keys()
            .map(String::as_str)
            .chain(required.iter().copied().filter(|r| !props.contains_key(*r)));
        for name in names {
            loc.push(LocItem::Field(name.to_owned()));
            match (object.get(name), props.get(name)) {
                (None, _) if required.contains(&name) => {
                    out.push(SchemaIssue::new(loc, "missing", "Field required"))
                }
                (Some(v), Some(prop)) => self.check(prop, v, loc, out),
                _ => {}
            }
            loc.pop();
        }
        let extras = object.iter().filter(|(k, _)| !props.contains_key(*k));
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => {
                for (name, _) in extras {
                    loc.push(LocItem::Field(name.clone()));
                    out.push(SchemaIssue::new(
                        loc,
                        "extra_forbidden",
                        "Extra inputs are not permitted",
                    ));
                    loc.pop();
                }
            }
            Some(extra_schema @ Value::Object(_)) => {
                for (name, v) in extras {
                    loc.push(LocItem::Field(name.clone()));
                    self.check(extra_schema, v, loc, out);
                    loc.pop();
                }
            }
            _ => {}
        }
    }
}

fn check_integer(value: &Value, loc: &[LocItem], out: &mut Vec<SchemaIssue>) {
    if value.is_i64() || value.is_u64() {
        return;
    }
    let issue = match value {
        Value::Number(_) => SchemaIssue::new(
            loc,
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
        ),
        Value::String(_) => SchemaIssue::new(
            loc,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        _ => SchemaIssue::new(loc, "int_type", "Input should be a valid integer"),
    };
    out.push(issue);
}

/// The component-schema name a body schema points at (`$ref`, or a nullable
/// `allOf: [$ref]` wrapper).
fn schema_name(schema: &Value) -> Option<String> {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.get("allOf")?.get(0)?.get("$ref"))?
        .as_str()?;
    reference
        .strip_prefix("#/components/schemas/")
        .map(str::to_owned)
}

/// A date-time as pydantic accepts it for a `datetime` field: RFC 3339 with
/// or without offset (none means UTC here), or a bare date (midnight).
pub(crate) fn parse_date_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests;
