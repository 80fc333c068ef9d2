//! Reduces a JSON schema, as written in any of the snapshot formats or the spec,
//! to a [`Schema`] of the normalised model.
//!
//! One function handles every dialect because the dialects overlap: 3.0's
//! `nullable`, 3.1's `anyOf [X, null]` and `type: [X, 'null']`, the resolved
//! format's `allOf: [{...}]` wrappers, `requiredProperties`, `refIdentifier`
//! and `type: any`. `$ref`s are JSON pointers into the document the schema came
//! from (`#/components/schemas/X`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::model::{Kind, ObjectShape, Schema};

/// Schemas nest this deep at most; deeper means a `$ref` cycle.
const MAX_DEPTH: usize = 40;

/// Resolves `$ref`s against one document while normalising its schemas.
pub struct Resolver<'a> {
    root: &'a Value,
}

impl<'a> Resolver<'a> {
    /// A resolver for references inside `root` (an OpenAPI document or a resolved page).
    pub fn new(root: &'a Value) -> Resolver<'a> {
        Resolver { root }
    }

    /// Follows a local reference such as `#/components/responses/Integration`.
    pub fn follow(&self, reference: &str) -> Result<&'a Value, String> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("`$ref: {reference}` is not a reference inside this document")
        })?;
        self.root
            .pointer(pointer)
            .ok_or_else(|| format!("`$ref: {reference}` points at nothing"))
    }

    /// Follows `value` while it is a `{$ref: ...}` object; returns the target.
    pub fn deref(&self, mut value: &'a Value) -> Result<&'a Value, String> {
        for _ in 0..MAX_DEPTH {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => value = self.follow(reference)?,
                None => return Ok(value),
            }
        }
        Err("`$ref` chain too long (a cycle?)".to_string())
    }

    /// Normalises one schema.
    pub fn schema(&self, value: &Value) -> Result<Schema, String> {
        self.normalise(value, 0)
    }

    /// Normalises a list of alternatives, such as the resolved format's `schemaArray`:
    /// `type: 'null'` entries make the result nullable.
    pub fn alternatives(&self, values: &[Value]) -> Result<Schema, String> {
        self.one_of(values, 0)
    }

    fn normalise(&self, value: &Value, depth: usize) -> Result<Schema, String> {
        if depth > MAX_DEPTH {
            return Err("schema nested too deeply (a `$ref` cycle?)".to_string());
        }
        let object = match value {
            Value::Object(object) => object,
            Value::Bool(true) => return Ok(Schema::of(Kind::Any)),
            other => return Err(format!("expected a schema object, found `{other}`")),
        };

        // What composition (`$ref`, `allOf`, `anyOf`, `oneOf`) contributes.
        let mut composed: Option<Schema> = None;
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let mut target = self.normalise(self.follow(reference)?, depth + 1)?;
            target.name = reference.rsplit('/').next().map(str::to_string);
            composed = Some(target);
        }
        if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
            for part in parts {
                let part = self.normalise(part, depth + 1)?;
                composed = Some(match composed {
                    None => part,
                    Some(so_far) => merge_all_of(so_far, part),
                });
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = object.get(key).and_then(Value::as_array) {
                let alternative = self.one_of(branches, depth + 1)?;
                composed = Some(match composed {
                    None => alternative,
                    Some(so_far) => merge_all_of(so_far, alternative),
                });
            }
        }

        let own = self.own_facts(object, depth)?;
        Ok(match composed {
            None => own
                .unwrap_or_else(|| Schema::of(Kind::Any))
                .with_facts_from(object),
            Some(composed) => match own {
                // A typed schema that also composes: the composition refines it.
                Some(own) => merge_all_of(own, composed).with_facts_from(object),
                None => {
                    let name = composed.name.clone();
                    let mut schema = composed.with_facts_from(object);
                    // Keep the component name over a wrapper's title ("Data").
                    if name.is_some() {
                        schema.name = name;
                    }
                    schema
                }
            },
        })
    }

    /// The shape given by the object's own `type`, `properties` and `items`;
    /// `None` when it has none of them.
    fn own_facts(
        &self,
        object: &Map<String, Value>,
        depth: usize,
    ) -> Result<Option<Schema>, String> {
        let mut nullable = false;
        let type_names: Vec<String> = match object.get("type") {
            None => Vec::new(),
            Some(Value::String(name)) => vec![name.clone()],
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(str::to_string)
                        .ok_or("`type` list holds a non-string")
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("`type` is `{other}`, not a name")),
        };
        let mut kinds = Vec::new();
        for name in &type_names {
            match name.as_str() {
                "null" if type_names.len() > 1 => nullable = true,
                "null" => kinds.push(Kind::Null),
                "any" => kinds.push(Kind::Any),
                "array" => kinds.push(Kind::Array(Box::new(self.items(object, depth)?))),
                "object" => kinds.push(Kind::Object(self.properties(object, depth)?)),
                "string" | "integer" | "number" | "boolean" => {
                    kinds.push(Kind::Scalar(name.clone()))
                }
                other => return Err(format!("unknown schema type `{other}`")),
            }
        }
        if kinds.is_empty() {
            if object.contains_key("properties") || object.contains_key("requiredProperties") {
                kinds.push(Kind::Object(self.properties(object, depth)?));
            } else if object.contains_key("items") {
                kinds.push(Kind::Array(Box::new(self.items(object, depth)?)));
            } else if let Some(first) = object
                .get("enum")
                .and_then(Value::as_array)
                .and_then(|v| v.first())
            {
                kinds.push(Kind::Scalar(json_type(first).to_string()));
            } else {
                return Ok(None);
            }
        }
        let kind = if kinds.len() == 1 {
            kinds.remove(0)
        } else {
            Kind::Union(kinds.into_iter().map(Schema::of).collect())
        };
        let mut schema = Schema::of(kind);
        schema.nullable = nullable;
        Ok(Some(schema))
    }

    fn items(&self, object: &Map<String, Value>, depth: usize) -> Result<Schema, String> {
        match object.get("items") {
            Some(items) => self
                .normalise(items, depth + 1)
                .map_err(|e| format!("items: {e}")),
            None => Ok(Schema::of(Kind::Any)),
        }
    }

    fn properties(&self, object: &Map<String, Value>, depth: usize) -> Result<ObjectShape, String> {
        let mut properties = BTreeMap::new();
        if let Some(map) = object.get("properties").and_then(Value::as_object) {
            for (name, property) in map {
                let schema = self
                    .normalise(property, depth + 1)
                    .map_err(|e| format!("{name}: {e}"))?;
                properties.insert(name.clone(), schema);
            }
        }
        // 3.x lists required properties in `required`; the resolved format in
        // `requiredProperties` (its `required: true` marks a required body instead).
        let mut required = BTreeSet::new();
        for key in ["required", "requiredProperties"] {
            if let Some(names) = object.get(key).and_then(Value::as_array) {
                required.extend(names.iter().filter_map(Value::as_str).map(str::to_string));
            }
        }
        Ok(ObjectShape {
            properties,
            required,
        })
    }

    fn one_of(&self, branches: &[Value], depth: usize) -> Result<Schema, String> {
        let mut nullable = false;
        let mut rest = Vec::new();
        for branch in branches {
            let schema = self.normalise(branch, depth + 1)?;
            if schema.kind == Kind::Null {
                nullable = true;
            } else {
                nullable |= schema.nullable;
                rest.push(schema);
            }
        }
        let mut schema = match rest.len() {
            0 => Schema::of(Kind::Null),
            1 => rest.remove(0),
            _ => Schema::of(Kind::Union(rest)),
        };
        schema.nullable |= nullable;
        Ok(schema)
    }
}

impl Schema {
    /// Applies the facts written next to the shape: `nullable`, `format`, `default`,
    /// `enum`, `writeOnly`, and a name from `refIdentifier` or `title`.
    fn with_facts_from(mut self, object: &Map<String, Value>) -> Schema {
        if object.get("nullable").and_then(Value::as_bool) == Some(true) {
            self.nullable = true;
        }
        if let Some(format) = object.get("format").and_then(Value::as_str) {
            self.format = Some(format.to_string());
        }
        if let Some(default) = object.get("default") {
            self.default = Some(default.clone());
        }
        if let Some(values) = object.get("enum").and_then(Value::as_array) {
            if values.iter().any(Value::is_null) {
                self.nullable = true;
            }
            self.enum_values = Some(values.iter().filter(|v| !v.is_null()).cloned().collect());
        }
        if object.get("writeOnly").and_then(Value::as_bool) == Some(true) {
            self.write_only = true;
        }
        let reference = object.get("refIdentifier").and_then(Value::as_str);
        if let Some(name) = reference.and_then(|r| r.rsplit('/').next()) {
            self.name = Some(name.to_string());
        } else if let Some(title) = object.get("title").and_then(Value::as_str) {
            self.name.get_or_insert_with(|| title.to_string());
        }
        self
    }
}

/// Merges two `allOf` parts: shapes combine, facts accumulate.
fn merge_all_of(mut left: Schema, right: Schema) -> Schema {
    left.kind = match (left.kind, right.kind) {
        (Kind::Object(mut a), Kind::Object(b)) => {
            a.properties.extend(b.properties);
            a.required.extend(b.required);
            Kind::Object(a)
        }
        (Kind::Any | Kind::Unknown, other) => other,
        (kind, _) => kind,
    };
    left.nullable |= right.nullable;
    left.write_only |= right.write_only;
    left.format = left.format.or(right.format);
    left.default = left.default.or(right.default);
    left.enum_values = left.enum_values.or(right.enum_values);
    left.name = right.name.or(left.name);
    left
}

/// The JSON type of a value, as a schema type name.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
