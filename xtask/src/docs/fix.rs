//! The edit that makes the spec say what a witness says, in the spec's terms:
//! a JSON pointer into `openapi/datafold.yaml` and the 3.0-dialect YAML to put
//! there (replacing what is there), or a pointer whose value to remove.
//!
//! The pointer follows the spec's own structure: a body field lives in the
//! component the body's `$ref` names (`/components/schemas/GadgetConfig/
//! properties/count`), found through `$ref`, `allOf`, `anyOf` and `oneOf`.
//! An edit to a component changes every operation using it, as it does in
//! the docs, which are built from components too.

use serde_json::{json, Value};

use super::diff::{Aspect, Difference, Root, Step};
use super::model::{Depth, Kind, ObjectShape, OpKey, Operation, Schema};
use super::pointers::{array_at, deref, deref_pointer, escape, find, locate, spec_has_property};
use super::render;

/// One edit to the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecEdit {
    /// A JSON pointer into the spec.
    pub pointer: String,
    /// What to put there; `None`: remove what is there.
    pub value: Option<Value>,
}

impl SpecEdit {
    fn put(pointer: String, value: Value) -> SpecEdit {
        SpecEdit {
            pointer,
            value: Some(value),
        }
    }

    fn remove(pointer: String) -> SpecEdit {
        SpecEdit {
            pointer,
            value: None,
        }
    }

    /// The value as YAML (3.0 dialect), or `None` for a removal.
    pub fn yaml(&self) -> Option<String> {
        let value = self.value.as_ref()?;
        Some(serde_yaml_ng::to_string(value).unwrap_or_else(|_| format!("{value}\n")))
    }
}

/// The edits that make the spec follow the witness on this difference (left:
/// the witness, right: the spec); empty when the place cannot be found in the spec.
pub fn suggest(
    spec: &Value,
    key: &OpKey,
    spec_op: Option<&Operation>,
    witness_op: Option<&Operation>,
    difference: &Difference,
) -> Vec<SpecEdit> {
    let path = format!("/paths/{}", escape(&key.path));
    let at = format!("{path}/{}", key.method.to_ascii_lowercase());
    let place = &difference.place;
    let edits = match &place.root {
        Root::Operation => Some(match witness_op {
            Some(op) if spec.pointer(&path).is_some() => {
                vec![SpecEdit::put(at, render::operation(spec, op))]
            }
            Some(op) => vec![SpecEdit::put(
                path,
                json!({ key.method.to_ascii_lowercase(): render::operation(spec, op) }),
            )],
            None => {
                let methods = spec
                    .pointer(&path)
                    .and_then(Value::as_object)
                    .map_or(0, |m| {
                        m.keys()
                            .filter(|k| *k != "parameters" && *k != "summary")
                            .count()
                    });
                vec![SpecEdit::remove(if methods > 1 { at } else { path })]
            }
        }),
        Root::OperationId => Some(vec![match &difference.left {
            Some(id) => SpecEdit::put(format!("{at}/operationId"), id.clone()),
            None => SpecEdit::remove(format!("{at}/operationId")),
        }]),
        Root::Tags => difference
            .left
            .clone()
            .map(|tags| vec![SpecEdit::put(format!("{at}/tags"), tags)]),
        Root::Parameter(name) => parameter(spec, &path, &at, name, witness_op, difference),
        Root::Body => body(spec, &at, spec_op, witness_op, difference),
        Root::Response(status) => response(spec, &at, status, witness_op, difference),
    };
    edits.unwrap_or_default()
}

fn parameter(
    spec: &Value,
    path: &str,
    at: &str,
    name: &str,
    witness_op: Option<&Operation>,
    difference: &Difference,
) -> Option<Vec<SpecEdit>> {
    let witness = witness_op.and_then(|op| op.parameters.get(name));
    // Where the spec lists it: the operation's parameters, else the path's.
    let lists = [format!("{at}/parameters"), format!("{path}/parameters")];
    let found = lists.iter().find_map(|list| {
        let items = spec.pointer(list)?.as_array()?;
        let index = items
            .iter()
            .position(|p| deref(spec, p).get("name").and_then(Value::as_str) == Some(name))?;
        Some((list.clone(), index))
    });
    if difference.aspect.is_none() && difference.place.steps.is_empty() {
        return Some(match (witness, found) {
            (Some(witness), _) => {
                let mut items = array_at(spec, &lists[0]);
                items.push(render::parameter(spec, name, witness));
                vec![SpecEdit::put(lists[0].clone(), Value::Array(items))]
            }
            (None, Some((list, index))) => {
                let mut items = array_at(spec, &list);
                items.remove(index);
                vec![if items.is_empty() {
                    SpecEdit::remove(list)
                } else {
                    SpecEdit::put(list, Value::Array(items))
                }]
            }
            (None, None) => return None,
        });
    }
    let (list, index) = found?;
    let pointer = deref_pointer(spec, &format!("{list}/{index}"))?;
    let witness = witness?;
    match difference.aspect {
        Some(Aspect::In) if difference.place.steps.is_empty() => Some(vec![SpecEdit::put(
            format!("{pointer}/in"),
            json!(witness.location),
        )]),
        Some(Aspect::Required) if difference.place.steps.is_empty() => Some(vec![SpecEdit::put(
            format!("{pointer}/required"),
            json!(witness.required),
        )]),
        _ => in_schema(
            spec,
            &format!("{pointer}/schema"),
            &witness.schema,
            witness_op.map_or(Depth::Full, |op| op.carried.parameters),
            difference,
        ),
    }
}

fn body(
    spec: &Value,
    at: &str,
    spec_op: Option<&Operation>,
    witness_op: Option<&Operation>,
    difference: &Difference,
) -> Option<Vec<SpecEdit>> {
    let witness = witness_op.and_then(|op| op.body.as_ref());
    let pointer = format!("{at}/requestBody");
    let top = difference.place.steps.is_empty();
    match (difference.aspect, witness) {
        (None, Some(witness)) if top => {
            return Some(vec![SpecEdit::put(pointer, render::body(spec, witness))])
        }
        (None, None) if top => return Some(vec![SpecEdit::remove(pointer)]),
        _ => {}
    }
    let witness = witness?;
    let pointer = deref_pointer(spec, &pointer)?;
    let media = spec_op?.body.as_ref()?.media_type.clone();
    let content = format!("{pointer}/content/{}", escape(&media));
    match difference.aspect {
        Some(Aspect::MediaType) => Some(vec![SpecEdit::put(
            format!("{pointer}/content"),
            json!({ witness.media_type.clone(): spec.pointer(&content)? }),
        )]),
        Some(Aspect::Required) if top => Some(vec![SpecEdit::put(
            format!("{pointer}/required"),
            json!(witness.required),
        )]),
        _ => in_schema(
            spec,
            &format!("{content}/schema"),
            &witness.schema,
            witness_op.map_or(Depth::Full, |op| op.carried.body),
            difference,
        ),
    }
}

fn response(
    spec: &Value,
    at: &str,
    status: &str,
    witness_op: Option<&Operation>,
    difference: &Difference,
) -> Option<Vec<SpecEdit>> {
    let witness = witness_op.and_then(|op| op.responses.get(status));
    let pointer = format!("{at}/responses/{}", escape(status));
    match (difference.aspect, witness) {
        (None, Some(witness)) => {
            return Some(vec![SpecEdit::put(
                pointer,
                render::response(spec, status, witness),
            )])
        }
        (None, None) => return Some(vec![SpecEdit::remove(pointer)]),
        // Typed on one side only: the operation gets its own response object,
        // so a response component other operations share is left alone.
        (Some(Aspect::Schema), Some(witness)) => {
            let mut response = deref(spec, spec.pointer(&pointer)?).clone();
            let object = response.as_object_mut()?;
            match &witness.schema {
                Some(schema) => {
                    let schema = render::schema(spec, schema);
                    object.insert(
                        "content".into(),
                        json!({"application/json": {"schema": schema}}),
                    );
                }
                None => {
                    object.remove("content");
                }
            }
            return Some(vec![SpecEdit::put(pointer, response)]);
        }
        _ => {}
    }
    let witness_schema = witness?.schema.as_ref()?;
    let resolved = deref_pointer(spec, &pointer)?;
    let content = spec.pointer(&format!("{resolved}/content"))?.as_object()?;
    let media = if content.contains_key("application/json") {
        "application/json"
    } else {
        content.keys().next()?
    };
    in_schema(
        spec,
        &format!("{resolved}/content/{}/schema", escape(media)),
        witness_schema,
        witness_op.map_or(Depth::Full, |op| op.carried.responses),
        difference,
    )
}

/// Edits inside a schema: `schema_at` points at the root schema (body, parameter,
/// response content), `witness` is the witness's schema there.
fn in_schema(
    spec: &Value,
    schema_at: &str,
    witness: &Schema,
    depth: Depth,
    difference: &Difference,
) -> Option<Vec<SpecEdit>> {
    let steps = &difference.place.steps;
    let here = walk(witness, steps);
    match difference.aspect {
        None => {
            let (Step::Property(name), parent_steps) = steps.split_last()? else {
                return None;
            };
            let parent = locate(spec, schema_at, parent_steps)?;
            let witness_parent = object(walk(witness, parent_steps)?);
            property_presence(spec, &parent, name, here, witness_parent, depth)
        }
        Some(Aspect::Required) => {
            let (Step::Property(name), parent_steps) = steps.split_last()? else {
                return None;
            };
            let parent = locate(spec, schema_at, parent_steps)?;
            let container = find(spec, &parent, 0, &|v| {
                v.pointer(&format!("/properties/{}", escape(name)))
                    .is_some()
            })?;
            let wanted = object(walk(witness, parent_steps)?)?
                .required
                .contains(name);
            Some(vec![required_list(spec, &container, name, wanted)])
        }
        Some(aspect) => {
            let pointer = locate(spec, schema_at, steps)?;
            Some(vec![fact(spec, &pointer, aspect, here?, depth)?])
        }
    }
}

fn property_presence(
    spec: &Value,
    parent: &str,
    name: &str,
    witness: Option<&Schema>,
    witness_parent: Option<&ObjectShape>,
    depth: Depth,
) -> Option<Vec<SpecEdit>> {
    let property = |container: &str| format!("{container}/properties/{}", escape(name));
    match witness {
        Some(schema) => {
            let container = find(spec, parent, 0, &|v| v.get("properties").is_some())
                .or_else(|| {
                    find(spec, parent, 0, &|v| {
                        v.get("type") == Some(&json!("object"))
                    })
                })
                .unwrap_or_else(|| parent.to_string());
            let mut edits = vec![SpecEdit::put(
                property(&container),
                render::schema(spec, schema),
            )];
            let required =
                depth == Depth::Full && witness_parent.is_some_and(|p| p.required.contains(name));
            if required {
                edits.push(required_list(spec, &container, name, true));
            }
            Some(edits)
        }
        None => {
            let container = find(spec, parent, 0, &|v| spec_has_property(v, name))?;
            let mut edits = vec![SpecEdit::remove(property(&container))];
            let listed = spec
                .pointer(&format!("{container}/required"))
                .and_then(Value::as_array)
                .is_some_and(|list| list.contains(&json!(name)));
            if listed {
                edits.push(required_list(spec, &container, name, false));
            }
            Some(edits)
        }
    }
}

/// The container's `required` list with `name` added or taken out.
fn required_list(spec: &Value, container: &str, name: &str, wanted: bool) -> SpecEdit {
    let pointer = format!("{container}/required");
    let mut list = array_at(spec, &pointer);
    list.retain(|n| n != name);
    if wanted {
        list.push(json!(name));
    }
    if list.is_empty() {
        SpecEdit::remove(pointer)
    } else {
        SpecEdit::put(pointer, Value::Array(list))
    }
}

/// Replaces the schema at `pointer` (or the part of it holding the fact) with a
/// copy that says what the witness says.
fn fact(
    spec: &Value,
    pointer: &str,
    aspect: Aspect,
    witness: &Schema,
    depth: Depth,
) -> Option<SpecEdit> {
    let raw = spec.pointer(pointer)?;
    if aspect == Aspect::Type {
        let mut schema = render::schema(spec, witness);
        if let (Some(new), Some(old)) = (schema.as_object_mut(), raw.as_object()) {
            let mut keep = vec!["title", "description"];
            // An example shows no nullability: keep what the spec says.
            if depth == Depth::Examples {
                keep.push("nullable");
            }
            for key in keep {
                if let Some(value) = old.get(key) {
                    new.insert(key.to_string(), value.clone());
                }
            }
        }
        return Some(SpecEdit::put(pointer.to_string(), schema));
    }
    let (key, value) = match aspect {
        Aspect::Format => ("format", witness.format.clone().map(Value::from)),
        Aspect::Default => ("default", witness.default.clone()),
        Aspect::Enum => ("enum", witness.enum_values.clone().map(Value::Array)),
        Aspect::WriteOnly => ("writeOnly", witness.write_only.then_some(json!(true))),
        Aspect::Nullable => ("nullable", witness.nullable.then_some(json!(true))),
        _ => return None,
    };
    // Format and enum belong to the shape, which may be a referenced component;
    // a nullable component is made non-nullable where it says so.
    let holder = match aspect {
        Aspect::Format | Aspect::Enum => find(spec, pointer, 0, &|v| v.get(key).is_some())
            .or_else(|| find(spec, pointer, 0, &|v| v.get("type").is_some())),
        Aspect::Nullable if value.is_none() => find(spec, pointer, 0, &|v| {
            v.get("nullable") == Some(&json!(true))
        }),
        _ => None,
    }
    .unwrap_or_else(|| pointer.to_string());
    let mut schema = spec.pointer(&holder)?.as_object()?.clone();
    // 3.0 ignores siblings of `$ref`: wrap it in `allOf` to add a fact next to it.
    if let Some(reference) = schema.remove("$ref") {
        schema.insert("allOf".into(), json!([{ "$ref": reference }]));
    }
    match value {
        Some(value) => schema.insert(key.to_string(), value),
        None => schema.remove(key),
    };
    Some(SpecEdit::put(holder, Value::Object(schema)))
}

/// The witness's schema at `steps` below `schema`.
fn walk<'a>(schema: &'a Schema, steps: &[Step]) -> Option<&'a Schema> {
    steps
        .iter()
        .try_fold(schema, |schema, step| match (step, &schema.kind) {
            (Step::Property(name), Kind::Object(object)) => object.properties.get(name),
            (Step::Items, Kind::Array(items)) => Some(items.as_ref()),
            _ => None,
        })
}

fn object(schema: &Schema) -> Option<&ObjectShape> {
    match &schema.kind {
        Kind::Object(object) => Some(object),
        _ => None,
    }
}
