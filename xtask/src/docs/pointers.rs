//! Places in the spec's own document, as JSON pointers: where a schema reached
//! by a path of properties and items is written, through `$ref`, `allOf`,
//! `anyOf` and `oneOf`. [`super::schema`] normalises schemas; this module only
//! finds where they are, so that an edit can be given in the spec's terms.

use serde_json::Value;

use super::diff::Step;

/// Schemas nest this deep at most while looking for a place; deeper means a cycle.
const MAX_DEPTH: usize = 40;

/// Whether the schema lists `name` among its own properties.
pub fn spec_has_property(value: &Value, name: &str) -> bool {
    value.get("properties").and_then(|p| p.get(name)).is_some()
}

/// The pointer of the schema reached from `start` by `steps`, through compositions.
pub fn locate(spec: &Value, start: &str, steps: &[Step]) -> Option<String> {
    let mut pointer = start.to_string();
    for step in steps {
        pointer = match step {
            Step::Property(name) => {
                let container = find(spec, &pointer, 0, &|v| spec_has_property(v, name))?;
                format!("{container}/properties/{}", escape(name))
            }
            Step::Items => {
                let container = find(spec, &pointer, 0, &|v| v.get("items").is_some())?;
                format!("{container}/items")
            }
        };
    }
    Some(pointer)
}

/// The first schema, from `pointer` through `$ref`, `allOf`, `anyOf` and `oneOf`, that satisfies `wanted`.
pub fn find(
    spec: &Value,
    pointer: &str,
    depth: usize,
    wanted: &dyn Fn(&Value) -> bool,
) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let value = spec.pointer(pointer)?;
    if wanted(value) {
        return Some(pointer.to_string());
    }
    if let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        if let Some(found) = find(spec, reference.strip_prefix('#')?, depth + 1, wanted) {
            return Some(found);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        let count = value.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        for index in 0..count {
            if let Some(found) = find(spec, &format!("{pointer}/{key}/{index}"), depth + 1, wanted)
            {
                return Some(found);
            }
        }
    }
    None
}

/// Follows `$ref`s from the value at `pointer`; returns the target's pointer.
pub fn deref_pointer(spec: &Value, pointer: &str) -> Option<String> {
    let mut pointer = pointer.to_string();
    for _ in 0..MAX_DEPTH {
        match spec.pointer(&pointer)?.get("$ref").and_then(Value::as_str) {
            Some(reference) => pointer = reference.strip_prefix('#')?.to_string(),
            None => return Some(pointer),
        }
    }
    None
}

/// The value `value` refers to (itself when it is no `$ref`).
pub fn deref<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| deref_pointer(spec, p))
        .and_then(|p| spec.pointer(&p))
        .unwrap_or(value)
}

/// The array at `pointer`, copied; empty when there is none.
pub fn array_at(spec: &Value, pointer: &str) -> Vec<Value> {
    spec.pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Escapes a JSON pointer segment (`/` as `~1`, `~` as `~0`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_pointer_segments() {
        assert_eq!(escape("/api/v1/x~y/"), "~1api~1v1~1x~0y~1");
        assert_eq!(escape("application/json"), "application~1json");
    }

    #[test]
    fn finds_a_property_through_a_reference_and_all_of() {
        let spec = json!({
            "paths": {"/x": {"put": {"requestBody": {"content": {"application/json": {"schema": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/X"}]}}}}}}},
            "components": {"schemas": {"X": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
        });
        let start = "/paths/~1x/put/requestBody/content/application~1json/schema";
        assert_eq!(
            locate(&spec, start, &[Step::Property("a".into())]).as_deref(),
            Some("/components/schemas/X/properties/a")
        );
    }
}
