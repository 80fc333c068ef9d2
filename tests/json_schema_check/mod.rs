//! A JSON Schema (draft 7) check of the keywords `datafold bi schema
//! --file` uses, for tests; any other keyword fails the test rather than
//! being ignored, so the check never passes by not looking.

use serde_json::Value;

const ANNOTATIONS: [&str; 7] = [
    "$schema",
    "title",
    "description",
    "default",
    "format",
    "writeOnly",
    "definitions",
];

pub fn validate(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(schema) = schema.as_object() else {
        return if schema == &Value::Bool(false) {
            vec![format!("{at}: not allowed")]
        } else {
            errors
        };
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .unwrap()
                    .strip_prefix("#/definitions/")
                    .unwrap();
                errors.extend(validate(root, &root["definitions"][name], value, at));
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t],
                    other => other
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                        .collect(),
                };
                let fits = types.iter().any(|t| match *t {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    other => panic!("unknown type {other}"),
                });
                if !fits {
                    errors.push(format!("{at}: not of type {rule}"));
                }
            }
            "properties" => {
                if let Some(map) = value.as_object() {
                    for (key, sub) in rule.as_object().unwrap() {
                        if let Some(v) = map.get(key) {
                            errors.extend(validate(root, sub, v, &format!("{at}.{key}")));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let (Some(map), Some(known)) = (value.as_object(), schema.get("properties")) {
                    for key in map.keys().filter(|k| known.get(k.as_str()).is_none()) {
                        if rule == &Value::Bool(false) {
                            errors.push(format!("{at}.{key}: unknown property"));
                        }
                    }
                }
            }
            "required" => {
                if let Some(map) = value.as_object() {
                    for key in rule.as_array().unwrap() {
                        if !map.contains_key(key.as_str().unwrap()) {
                            errors.push(format!("{at}: missing {key}"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    errors.extend(validate(root, rule, item, &format!("{at}[{i}]")));
                }
            }
            "oneOf" | "anyOf" | "allOf" => {
                let passing = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| validate(root, s, value, at).is_empty())
                    .count();
                let total = rule.as_array().unwrap().len();
                let ok = match keyword.as_str() {
                    "oneOf" => passing == 1,
                    "anyOf" => passing >= 1,
                    _ => passing == total,
                };
                if !ok {
                    errors.push(format!("{at}: {passing} of {keyword} match"));
                }
            }
            "const" => {
                if value != rule {
                    errors.push(format!("{at}: not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: not one of {rule}"));
                }
            }
            "minimum" => {
                if value.as_f64().is_some_and(|v| v < rule.as_f64().unwrap()) {
                    errors.push(format!("{at}: below {rule}"));
                }
            }
            "pattern" => {
                // The one pattern the schema uses: a secret reference.
                assert_eq!(rule, r"^\$\{(env:[A-Za-z0-9_]+|file:.+)\}$");
                let text = value.as_str().unwrap_or("");
                let inner = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'));
                let fits = inner.is_some_and(|i| {
                    i.strip_prefix("env:").is_some_and(|v| {
                        !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    }) || i.strip_prefix("file:").is_some_and(|p| !p.is_empty())
                });
                if value.is_string() && !fits {
                    errors.push(format!("{at}: does not match {rule}"));
                }
            }
            other => panic!("the check does not know the keyword {other}"),
        }
    }
    errors
}
