//! Reads the operations of an OpenAPI 3.0 or 3.1 document: the spec itself,
//! a whole published document, or the self-contained document embedded in a
//! Mintlify "openapi-3.1" page.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Body, Carried, OpKey, Operation, Parameter, Response, Schema};
use super::schema::Resolver;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Whether `value` looks like an OpenAPI 3.x document.
pub fn is_openapi(value: &Value) -> bool {
    value
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3."))
}

/// Every operation of the document, in path order.
pub fn operations(doc: &Value) -> Result<Vec<Operation>, String> {
    let resolver = Resolver::new(doc);
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the document has no `paths` object")?;
    let mut operations = Vec::new();
    for (path, item) in paths {
        let item = resolver.deref(item)?;
        let shared_parameters = item.get("parameters");
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let key = OpKey::new(method, path);
                let operation = operation(&resolver, key.clone(), op, shared_parameters)
                    .map_err(|e| format!("{key}: {e}"))?;
                operations.push(operation);
            }
        }
    }
    Ok(operations)
}

fn operation(
    resolver: &Resolver,
    key: OpKey,
    op: &Value,
    shared_parameters: Option<&Value>,
) -> Result<Operation, String> {
    let mut operation = Operation::empty(key);
    operation.carried = Carried::FULL;
    operation.operation_id = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_string);
    operation.tags = op
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();

    // Operation-level parameters override path-level ones with the same name and location.
    for list in [shared_parameters, op.get("parameters")]
        .into_iter()
        .flatten()
    {
        for parameter in list.as_array().ok_or("`parameters` is not a list")? {
            let parameter = resolver.deref(parameter)?;
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a parameter has no name")?;
            let schema = match parameter.get("schema") {
                Some(schema) => resolver
                    .schema(schema)
                    .map_err(|e| format!("parameter {name}: {e}"))?,
                None => Schema::of(super::model::Kind::Any),
            };
            operation.parameters.insert(
                name.to_string(),
                Parameter {
                    location: parameter
                        .get("in")
                        .and_then(Value::as_str)
                        .unwrap_or("query")
                        .to_string(),
                    required: parameter
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    schema,
                },
            );
        }
    }

    if let Some(body) = op.get("requestBody") {
        let body = resolver.deref(body)?;
        let (media_type, schema) = json_content(resolver, body.get("content"))?
            .ok_or("the request body has no content")?;
        operation.body = Some(Body {
            media_type,
            required: body
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            schema: schema.map_err(|e| format!("request body: {e}"))?,
        });
    }

    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .ok_or("no `responses`")?;
    operation.responses = responses
        .iter()
        .map(|(status, response)| {
            let response = resolver.deref(response)?;
            let schema = match json_content(resolver, response.get("content"))? {
                Some((_, schema)) => Some(schema.map_err(|e| format!("response {status}: {e}"))?),
                None => None,
            };
            Ok((status.clone(), Response { schema }))
        })
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(operation)
}

type Content = Option<(String, Result<Schema, String>)>;

/// Picks the JSON media type of a `content` map (else the first) and normalises its schema.
fn json_content(resolver: &Resolver, content: Option<&Value>) -> Result<Content, String> {
    let Some(content) = content.and_then(Value::as_object) else {
        return Ok(None);
    };
    let chosen = content
        .get_key_value("application/json")
        .or_else(|| content.iter().next());
    Ok(chosen.map(|(media_type, media)| {
        let schema = match media.get("schema") {
            Some(schema) => resolver.schema(schema),
            None => Ok(Schema::of(super::model::Kind::Any)),
        };
        (media_type.clone(), schema)
    }))
}
