//! What a BI kind's configuration holds, read from the JSON Schema of its
//! generated type (which progenitor derives from `openapi/datafold.yaml`):
//! each field's name, whether it is required, its shape, whether it is a
//! secret (`format: password`), and its flag. The flags of `bi create|update`
//! ([`crate::bi_flags`]) and the checks of a configuration before it is sent
//! ([`check`]) both come from here, so a field added to the spec needs no
//! edit of the command line.

use datafold_sdk::bi::resolve_schema as resolve;
use datafold_sdk::secret::is_secret_field;
use serde_json::{Map, Value};

use crate::{CliError, CliResult};

/// One field of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The name in the JSON body, e.g. `client_secret`.
    pub name: String,
    /// Whether the configuration must hold it.
    pub required: bool,
    /// What values it takes.
    pub shape: Shape,
    /// The spec's description, if it has one.
    pub description: Option<String>,
    /// Its flag without the dashes (`client-secret`, for a secret the stem
    /// of its three flags), or `None` when that name is taken by another
    /// flag: the field can then be set in `--from-file` only.
    pub flag: Option<String>,
}

/// The values a field takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// One value.
    Scalar(Scalar),
    /// A secret string (`format: password`).
    Secret,
    /// A list of values; its flag is repeated, once per item.
    List(Item),
    /// Anything else (an object, a union): a JSON value.
    Json,
}

/// A single value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text,
    Integer,
    Number,
    Boolean,
    /// One of these strings (an `enum`).
    Choice(Vec<String>),
}

impl Scalar {
    /// `text` as this scalar's JSON value; `None` when it is not one (a
    /// number must be finite: JSON has no NaN or infinity).
    pub fn parse(&self, text: &str) -> Option<Value> {
        match self {
            Scalar::Text => Some(Value::from(text)),
            Scalar::Integer => text.parse::<i64>().ok().map(Value::from),
            Scalar::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Scalar::Boolean => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Scalar::Choice(choices) => choices.iter().any(|c| c == text).then(|| Value::from(text)),
        }
    }
}

/// The suffixes of a secret's three flags: `--<field>-env VAR`,
/// `--<field>-file PATH`, `--<field>-stdin`.
pub const SECRET_SOURCES: [&str; 3] = ["env", "file", "stdin"];

/// An item of a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Scalar(Scalar),
    /// An object of a string and a list of values, written `KEY=V,V…`
    /// (a binding: `{"remoteId": "KEY", "boundIds": [V, V]}`).
    Keyed {
        key: String,
        list: String,
        item: Scalar,
    },
    /// Anything else: a JSON value.
    Json,
}

/// The fields of the configuration `schema` describes, required ones
/// first, each group in name order. `schema` is a JSON Schema as schemars
/// writes it (`properties`, `required`, `$ref`s into `definitions`) or an
/// OpenAPI schema object (`$ref`s into `components/schemas`); `root` is the
/// document its `$ref`s point into. `taken` lists the flag names a field
/// must not take (the command's own and the global ones).
pub fn fields(schema: &Value, root: &Value, taken: &[&str]) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, property)| {
            // A text field named like a secret is one, even where the spec
            // forgot its `format: password`: it never gets a value flag.
            let shape = match shape(property, root) {
                Shape::Scalar(Scalar::Text) if is_secret_field(name) => Shape::Secret,
                shape => shape,
            };
            Field {
                required: required.contains(&name.as_str()),
                description: description(property),
                flag: Some(flag_name(name, matches!(shape, Shape::List(_)))),
                name: name.clone(),
                shape,
            }
        })
        .collect();
    fields.sort_by(|a, b| (!a.required, &a.name).cmp(&(!b.required, &b.name)));
    let mut used: Vec<String> = taken.iter().map(|t| (*t).to_owned()).collect();
    for field in &mut fields {
        let Some(flag) = field.flag.clone() else {
            continue;
        };
        let longs = match field.shape {
            Shape::Secret => SECRET_SOURCES.map(|s| format!("{flag}-{s}")).to_vec(),
            _ => vec![flag],
        };
        if longs.iter().any(|long| used.contains(long)) {
            field.flag = None;
        } else {
            used.extend(longs);
        }
    }
    fields
}

/// `client_secret` → `client-secret`, `remoteId` → `remote-id`; a list's
/// flag names one item where the plural is a plain `s` (`project_ids` →
/// `project-id`, `bindings` → `binding`), and keeps any other plural as it
/// is (`statuses`, `aliases`: no guessing at `statuse` or `aliase`).
pub fn flag_name(name: &str, list: bool) -> String {
    let mut words = words(name);
    if list {
        if let Some(last) = words.last_mut() {
            let irregular = ["ss", "us", "is", "ses", "xes", "zes", "ches", "shes", "ies"]
                .iter()
                .any(|ending| last.ends_with(ending));
            if last.len() > 2 && last.ends_with('s') && !irregular {
                last.pop();
            }
        }
    }
    words.join("-")
}

/// A flag's value name: `REMOTE_ID` for `remote-id`.
pub fn value_name(flag: &str) -> String {
    flag.replace('-', "_").to_ascii_uppercase()
}

/// The lower-case words of a snake_case, kebab-case or camelCase name.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == ' ' {
            previous_lower = false;
            words.push(String::new());
            continue;
        }
        if c.is_uppercase() && previous_lower || words.is_empty() {
            words.push(String::new());
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        if let Some(word) = words.last_mut() {
            word.extend(c.to_lowercase());
        }
    }
    words.retain(|w| !w.is_empty());
    words
}

fn description(property: &Value) -> Option<String> {
    let text = property.get("description")?.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The schema's `type`: `["null"]` for `type: "null"`, otherwise its
/// types other than `null` (`["string", "null"]` is a nullable string).
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    }
}

fn shape(property: &Value, root: &Value) -> Shape {
    let schema = resolve(property, root);
    if schema.get("format").and_then(Value::as_str) == Some("password") {
        return Shape::Secret;
    }
    if let Some(scalar) = scalar(schema) {
        return Shape::Scalar(scalar);
    }
    if types(schema) != ["array"] {
        return Shape::Json;
    }
    let Some(items) = schema.get("items").map(|items| resolve(items, root)) else {
        return Shape::List(Item::Json);
    };
    Shape::List(match scalar(items) {
        Some(scalar) => Item::Scalar(scalar),
        None => keyed(items, root).unwrap_or(Item::Json),
    })
}

fn scalar(schema: &Value) -> Option<Scalar> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let choices: Option<Vec<String>> = values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
        return choices.map(Scalar::Choice);
    }
    match types(schema)[..] {
        ["string"] => Some(Scalar::Text),
        ["integer"] => Some(Scalar::Integer),
        ["number"] => Some(Scalar::Number),
        ["boolean"] => Some(Scalar::Boolean),
        _ => None,
    }
}

/// An object of exactly a required string and a required list of scalars.
fn keyed(schema: &Value, root: &Value) -> Option<Item> {
    let properties = schema.get("properties")?.as_object()?;
    let required = schema.get("required")?.as_array()?;
    if properties.len() != 2 || required.len() != 2 {
        return None;
    }
    let (mut key, mut list) = (None, None);
    for (name, property) in properties {
        let property = resolve(property, root);
        match (scalar(property), types(property)[..] == ["array"]) {
            (Some(Scalar::Text), _) => key = Some(name.clone()),
            (None, true) => {
                let item = scalar(resolve(property.get("items")?, root))?;
                list = Some((name.clone(), item));
            }
            _ => return None,
        }
    }
    let (list, item) = list?;
    Some(Item::Keyed {
        key: key?,
        list,
        item,
    })
}

/// Check `body` against `fields` before serde reads it, so that every
/// message names the field and the flag that sets it. Secrets come first:
/// serde's messages quote wrong values, and a secret must never be quoted.
pub fn check(fields: &[Field], body: &Map<String, Value>) -> CliResult<()> {
    for field in fields.iter().filter(|f| f.shape == Shape::Secret) {
        match body.get(&field.name) {
            Some(Value::String(_) | Value::Null) | None => {}
            Some(_) => {
                return Err(CliError::input(format!(
                    "{} must be a string (quote it in the file)",
                    field.name
                )))
            }
        }
    }
    if let Some(missing) = fields
        .iter()
        .find(|f| f.required && !body.contains_key(&f.name))
    {
        return Err(CliError::input(format!(
            "incomplete configuration: missing field `{}`{}",
            missing.name,
            how_to_set(fields, &missing.name)
        )));
    }
    for field in fields {
        let Some(value) = body.get(&field.name) else {
            continue;
        };
        if let Some(expected) = mismatch(&field.shape, value, field.required) {
            return Err(CliError::input(format!(
                "invalid configuration: {}: expected {expected}{}",
                field.name,
                how_to_set(fields, &field.name)
            )));
        }
    }
    Ok(())
}

/// What `value` should have been, if it is not of `shape`. Nested objects
/// are left to serde.
fn mismatch(shape: &Shape, value: &Value, required: bool) -> Option<String> {
    if value.is_null() && !required {
        return None;
    }
    let scalar_mismatch = |scalar: &Scalar, value: &Value| -> Option<String> {
        let fits = match scalar {
            Scalar::Text => value.is_string(),
            Scalar::Integer => value.is_i64() || value.is_u64(),
            Scalar::Number => value.is_number(),
            Scalar::Boolean => value.is_boolean(),
            Scalar::Choice(choices) => value
                .as_str()
                .is_some_and(|v| choices.iter().any(|c| c == v)),
        };
        (!fits).then(|| match scalar {
            Scalar::Text => "a string".to_owned(),
            Scalar::Integer => "an integer".to_owned(),
            Scalar::Number => "a number".to_owned(),
            Scalar::Boolean => "true or false".to_owned(),
            Scalar::Choice(choices) => format!("one of {}", choices.join(", ")),
        })
    };
    match shape {
        Shape::Scalar(scalar) => scalar_mismatch(scalar, value),
        Shape::List(item) => {
            let Some(items) = value.as_array() else {
                return Some("a list".to_owned());
            };
            let Item::Scalar(scalar) = item else {
                return None;
            };
            items
                .iter()
                .find_map(|v| scalar_mismatch(scalar, v))
                .map(|what| format!("a list of which each item is {what}"))
        }
        Shape::Secret | Shape::Json => None,
    }
}

/// Check the fields of a `--from-file` configuration (`body`, read from
/// `text` at `path`) by themselves: each must be one of `fields`, of its
/// shape. A mistyped name (`indexing_corn`) would otherwise be dropped
/// without a word. Messages give the file's line.
pub fn check_file(
    kind: &str,
    fields: &[Field],
    body: &Map<String, Value>,
    path: &std::path::Path,
    text: &str,
) -> CliResult<()> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let at = |name: &str| match datafold_sdk::bi::line_of_field(text, json, name) {
        Some(line) => format!("{} line {line}", path.display()),
        None => path.display().to_string(),
    };
    for (name, value) in body {
        let Some(field) = fields.iter().find(|f| &f.name == name) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let hint = names
                .iter()
                .find(|known| close(known, name))
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            return Err(CliError::input(format!(
                "{}: unknown field `{name}` for {kind}; {hint}its fields are {}",
                at(name),
                names.join(", ")
            )));
        };
        if field.shape == Shape::Secret {
            // Never quoted: the value is a secret.
            if !matches!(value, Value::String(_) | Value::Null) {
                return Err(CliError::input(format!(
                    "{}: {name} must be a string (quote it in the file)",
                    at(name)
                )));
            }
            continue;
        }
        if let Some(expected) = mismatch(&field.shape, value, field.required) {
            return Err(CliError::input(format!(
                "{}: invalid configuration: {name}: expected {expected}{}",
                at(name),
                how_to_set(fields, name)
            )));
        }
    }
    Ok(())
}

/// The same length within one, and at most two letters different in place.
fn close(known: &str, typed: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), typed.chars().collect());
    let length = a.len().abs_diff(b.len());
    length <= 1 && a.iter().zip(&b).filter(|(x, y)| x != y).count() + length <= 2
}

/// How a user sets `field`: its flag(s), or the file.
pub fn how_to_set(fields: &[Field], field: &str) -> String {
    let field = fields.iter().find(|f| f.name == field);
    match field.and_then(|f| Some((f, f.flag.as_deref()?))) {
        Some((field, flag)) if field.shape == Shape::Secret => format!(
            " (pass it with --{flag}-env VAR, --{flag}-file PATH or --{flag}-stdin, or in --from-file)"
        ),
        Some((_, flag)) => format!(" (set it with --{flag}, or in --from-file)"),
        None => " (set it in --from-file)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_flag_names_one_item_only_where_the_plural_is_a_plain_s() {
        assert_eq!(flag_name("project_ids", true), "project-id");
        assert_eq!(flag_name("bindings", true), "binding");
        assert_eq!(flag_name("statuses", true), "statuses");
        assert_eq!(flag_name("aliases", true), "aliases");
        assert_eq!(flag_name("status", true), "status");
        assert_eq!(flag_name("remoteId", false), "remote-id");
    }

    #[test]
    fn numbers_are_finite_and_booleans_are_words() {
        assert_eq!(Scalar::Number.parse("1.5"), Some(json!(1.5)));
        assert_eq!(Scalar::Number.parse("NaN"), None);
        assert_eq!(Scalar::Number.parse("inf"), None);
        assert_eq!(Scalar::Boolean.parse("true"), Some(json!(true)));
        assert_eq!(Scalar::Boolean.parse("yes"), None);
        assert_eq!(Scalar::Integer.parse("7"), Some(json!(7)));
    }

    #[test]
    fn a_text_field_named_like_a_secret_is_one_without_its_format() {
        let schema = json!({
            "type": "object",
            "properties": {"api_key": {"type": "string"}, "name": {"type": "string"}},
            "required": ["api_key"],
        });
        let fields = fields(&schema, &schema, &[]);
        let shape_of = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.shape.clone())
        };
        assert_eq!(shape_of("api_key"), Some(Shape::Secret));
        assert_eq!(shape_of("name"), Some(Shape::Scalar(Scalar::Text)));
    }
}
