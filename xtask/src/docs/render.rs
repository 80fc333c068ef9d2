//! Writes the normalised model back as OpenAPI 3.0 (the spec's dialect), for
//! the spec edits `docs check` suggests: nullability as `nullable: true` (next
//! to `allOf: [$ref]` for a reference), never 3.1's `anyOf` with `null`.
//!
//! A named schema whose shape equals the spec's component of the same name is
//! written as a `$ref` to it, so a suggested edit reuses the spec's types
//! instead of inlining copies of them.

use serde_json::{json, Map, Value};

use super::diff::{self, Place, Root};
use super::model::{Body, Kind, OpKey, Operation, Parameter, Response, Schema};
use super::schema::Resolver;

/// A schema in 3.0 dialect.
pub fn schema(spec: &Value, schema: &Schema) -> Value {
    if let Some(reference) = same_component(spec, schema) {
        return if schema.nullable {
            json!({"nullable": true, "allOf": [{"$ref": reference}]})
        } else {
            json!({ "$ref": reference })
        };
    }
    let mut out = Map::new();
    match &schema.kind {
        Kind::Unknown | Kind::Any => {}
        Kind::Null => {
            out.insert("enum".into(), json!([null]));
        }
        Kind::Scalar(name) => {
            out.insert("type".into(), json!(name));
        }
        Kind::Array(items) => {
            out.insert("type".into(), json!("array"));
            out.insert("items".into(), self::schema(spec, items));
        }
        Kind::Object(object) => {
            out.insert("type".into(), json!("object"));
            if !object.required.is_empty() {
                out.insert("required".into(), json!(object.required));
            }
            let properties: Map<String, Value> = object
                .properties
                .iter()
                .map(|(name, property)| (name.clone(), self::schema(spec, property)))
                .collect();
            if !properties.is_empty() {
                out.insert("properties".into(), Value::Object(properties));
            }
        }
        Kind::Union(variants) => {
            let variants: Vec<Value> = variants.iter().map(|v| self::schema(spec, v)).collect();
            out.insert("anyOf".into(), Value::Array(variants));
        }
    }
    if let Some(format) = &schema.format {
        out.insert("format".into(), json!(format));
    }
    if schema.nullable || schema.kind == Kind::Null {
        out.insert("nullable".into(), json!(true));
    }
    if let Some(default) = &schema.default {
        out.insert("default".into(), default.clone());
    }
    if let Some(values) = &schema.enum_values {
        out.insert("enum".into(), Value::Array(values.clone()));
    }
    if schema.write_only {
        out.insert("writeOnly".into(), json!(true));
    }
    Value::Object(out)
}

/// `#/components/schemas/<name>` when the spec has a component of the schema's
/// name with the same shape (nullability aside).
fn same_component(spec: &Value, schema: &Schema) -> Option<String> {
    let name = schema.name.as_deref()?;
    let reference = format!("#/components/schemas/{name}");
    spec.pointer(&reference[1..])?;
    let mut component = Resolver::new(spec)
        .schema(&json!({ "$ref": reference }))
        .ok()?;
    let mut wanted = schema.clone();
    component.nullable = false;
    wanted.nullable = false;
    diff::schemas(&Place::at(Root::Body), &wanted, &component)
        .is_empty()
        .then_some(reference)
}

/// A whole operation in 3.0 dialect; an operation whose source has no
/// operationId gets one made from its method and path.
pub fn operation(spec: &Value, operation: &Operation) -> Value {
    let mut out = Map::new();
    let operation_id = operation
        .operation_id
        .clone()
        .unwrap_or_else(|| made_up_operation_id(&operation.key));
    out.insert("operationId".into(), json!(operation_id));
    if !operation.tags.is_empty() {
        out.insert("tags".into(), json!(operation.tags));
    }
    let mut parameters: Vec<Value> = operation
        .parameters
        .iter()
        .map(|(name, p)| parameter(spec, name, p))
        .collect();
    // 3.0 requires every `{name}` of the path to be declared; a source without
    // parameters (a rendered page) leaves them to the template, typed as text.
    for name in path_template_names(&operation.key.path) {
        if !operation.parameters.contains_key(name) {
            parameters.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
    }
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = &operation.body {
        out.insert("requestBody".into(), self::body(spec, body));
    }
    let responses: Map<String, Value> = operation
        .responses
        .iter()
        .map(|(status, r)| (status.clone(), response(spec, status, r)))
        .collect();
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

/// The `{name}`s of a path template.
fn path_template_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn made_up_operation_id(key: &OpKey) -> String {
    let words: Vec<&str> = key
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!("{}_{}", key.method.to_ascii_lowercase(), words.join("_"))
}

/// A parameter object.
pub fn parameter(spec: &Value, name: &str, parameter: &Parameter) -> Value {
    let mut out =
        json!({"name": name, "in": parameter.location, "schema": schema(spec, &parameter.schema)});
    if parameter.required {
        out["required"] = json!(true);
    }
    out
}

/// A request body object.
pub fn body(spec: &Value, body: &Body) -> Value {
    let mut out =
        json!({"content": {body.media_type.clone(): {"schema": schema(spec, &body.schema)}}});
    if body.required {
        out["required"] = json!(true);
    }
    out
}

/// A response object; 3.0 requires a description, so a plain one is made from the status.
pub fn response(spec: &Value, status: &str, response: &Response) -> Value {
    let mut out = json!({ "description": describe_status(status) });
    if let Some(schema) = &response.schema {
        out["content"] = json!({"application/json": {"schema": self::schema(spec, schema)}});
    }
    out
}

fn describe_status(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No Content",
        "400" => "Bad Request",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "Not Found",
        "409" => "Conflict",
        "422" => "Validation Error",
        "429" => "Too Many Requests",
        _ => "Response",
    }
}
