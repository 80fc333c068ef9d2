//! Reads the older Mintlify "resolved" page format: one operation shaped
//! `paths: {path, method, request: {parameters, body}, response}`, with
//! schemas in `schemaArray`s, `requiredProperties`, `refIdentifier` and
//! `type: any`. It carries no operationId and no tags.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Body, Carried, Depth, OpKey, Operation, Parameter, Response};
use super::schema::Resolver;

/// Whether the page's YAML is in the resolved format.
pub fn is_resolved(doc: &Value) -> bool {
    let paths = doc.get("paths");
    paths
        .and_then(|p| p.get("path"))
        .is_some_and(Value::is_string)
        && paths
            .and_then(|p| p.get("method"))
            .is_some_and(Value::is_string)
}

/// The page's operation.
pub fn operation(doc: &Value) -> Result<Operation, String> {
    let resolver = Resolver::new(doc);
    let paths = doc.get("paths").ok_or("no `paths`")?;
    let text = |key: &str| {
        paths
            .get(key)
            .and_then(Value::as_str)
            .ok_or(format!("no `paths.{key}`"))
    };
    let key = OpKey::new(text("method")?, text("path")?);
    let mut operation = Operation::empty(key);
    operation.carried = Carried {
        identity: false,
        parameters: Depth::Full,
        body: Depth::Full,
        responses: Depth::Full,
    };
    let request = paths.get("request");

    if let Some(by_location) = request
        .and_then(|r| r.get("parameters"))
        .and_then(Value::as_object)
    {
        for (location, parameters) in by_location {
            let Some(parameters) = parameters.as_object() else {
                continue;
            };
            for (name, parameter) in parameters {
                let entries = parameter
                    .get("schema")
                    .and_then(Value::as_array)
                    .ok_or(format!("parameter {name} has no `schema` list"))?;
                let required = entries
                    .iter()
                    .any(|e| e.get("required").and_then(Value::as_bool) == Some(true));
                let schema = resolver
                    .alternatives(entries)
                    .map_err(|e| format!("parameter {name}: {e}"))?;
                operation.parameters.insert(
                    name.clone(),
                    Parameter {
                        location: location.clone(),
                        required,
                        schema,
                    },
                );
            }
        }
    }

    if let Some(body) = request
        .and_then(|r| r.get("body"))
        .and_then(Value::as_object)
    {
        let chosen = body
            .get_key_value("application/json")
            .or_else(|| body.iter().next());
        if let Some((media_type, media)) = chosen {
            let (schema, required) =
                schema_array(&resolver, media).map_err(|e| format!("request body: {e}"))?;
            operation.body = Some(Body {
                media_type: media_type.clone(),
                required,
                schema: schema.ok_or("the request body has no `schemaArray`")?,
            });
        }
    }

    let responses = paths
        .get("response")
        .and_then(Value::as_object)
        .ok_or("no `paths.response`")?;
    operation.responses = responses
        .iter()
        .map(|(status, by_media)| {
            let media = by_media.as_object().and_then(|m| {
                m.get("application/json")
                    .or_else(|| m.values().find(|v| v.is_object()))
            });
            let schema = match media {
                Some(media) => {
                    schema_array(&resolver, media)
                        .map_err(|e| format!("response {status}: {e}"))?
                        .0
                }
                None => None,
            };
            Ok((status.clone(), Response { schema }))
        })
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(operation)
}

/// The schema of a media entry's `schemaArray`, and whether an entry says `required: true`.
fn schema_array(
    resolver: &Resolver,
    media: &Value,
) -> Result<(Option<super::model::Schema>, bool), String> {
    let Some(entries) = media.get("schemaArray").and_then(Value::as_array) else {
        return Ok((None, false));
    };
    let required = entries
        .iter()
        .any(|e| e.get("required").and_then(Value::as_bool) == Some(true));
    Ok((Some(resolver.alternatives(entries)?), required))
}
