//! The normalised model that both sides of `docs check` are reduced to.
//!
//! Every reader (the spec, whole OpenAPI documents, Mintlify pages in the
//! "resolved" and "openapi-3.1" formats, rendered pages) produces
//! [`Operation`]s; the diff engine only ever sees this model. What is *not*
//! here is not compared: descriptions, titles, examples, servers, security.
//!
//! Nullability has one representation, [`Schema::nullable`], whatever the
//! source wrote: 3.1's `anyOf: [X, {type: 'null'}]` or `type: [X, 'null']`,
//! 3.0's `nullable: true` (also next to `allOf: [$ref]`), the resolved format's
//! `allOf` wrappers around an `anyOf`, or a `type: 'null'` entry in its
//! `schemaArray`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

/// How much a source tells about one aspect of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Depth {
    /// The source says nothing about this aspect; it is not compared.
    Absent,
    /// Field names and JSON types inferred from examples (rendered pages);
    /// only those are compared, and only what the example shows.
    Examples,
    /// Everything the model holds.
    Full,
}

/// Which aspects of an [`Operation`] its source carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carried {
    /// `operation_id` and `tags` (the resolved format and rendered pages have neither).
    pub identity: bool,
    /// Path, query, header and cookie parameters.
    pub parameters: Depth,
    /// The request body.
    pub body: Depth,
    /// Response status codes and their schemas.
    pub responses: Depth,
}

impl Carried {
    /// A source that carries everything: an OpenAPI document or an openapi-3.1 page.
    pub const FULL: Carried = Carried {
        identity: true,
        parameters: Depth::Full,
        body: Depth::Full,
        responses: Depth::Full,
    };
}

/// An operation's identity: matched across sources by method and path, never by operationId.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpKey {
    /// Path exactly as written, trailing slash included (`/api/v1/lineage/bi/`).
    pub path: String,
    /// Upper-case HTTP method.
    pub method: String,
}

impl OpKey {
    /// Builds a key, upper-casing the method.
    pub fn new(method: &str, path: &str) -> OpKey {
        OpKey {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
        }
    }

    /// Parses `"METHOD /path"`, the form deviations.yaml uses.
    pub fn parse(text: &str) -> Option<OpKey> {
        let (method, path) = text.trim().split_once(' ')?;
        let path = path.trim();
        if !path.starts_with('/') || !method.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        Some(OpKey::new(method, path))
    }
}

impl fmt::Display for OpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// One API operation, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Method and path.
    pub key: OpKey,
    /// Which of the fields below the source actually told us.
    pub carried: Carried,
    /// `operationId`, if the source has one.
    pub operation_id: Option<String>,
    /// Tags in the source's order, duplicates kept.
    pub tags: Vec<String>,
    /// Parameters by name.
    pub parameters: BTreeMap<String, Parameter>,
    /// The request body, if there is one.
    pub body: Option<Body>,
    /// Responses by status code (`"200"`, `"422"`, `"default"`).
    pub responses: BTreeMap<String, Response>,
}

impl Operation {
    /// An operation that carries nothing yet; readers fill in what they know.
    pub fn empty(key: OpKey) -> Operation {
        Operation {
            key,
            carried: Carried {
                identity: false,
                parameters: Depth::Absent,
                body: Depth::Absent,
                responses: Depth::Absent,
            },
            operation_id: None,
            tags: Vec::new(),
            parameters: BTreeMap::new(),
            body: None,
            responses: BTreeMap::new(),
        }
    }

    /// Number of top-level fields of the request body (0 without a body).
    pub fn body_field_count(&self) -> usize {
        match self.body.as_ref().map(|b| &b.schema.kind) {
            Some(Kind::Object(object)) => object.properties.len(),
            _ => 0,
        }
    }
}

/// One parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// `path`, `query`, `header` or `cookie`.
    pub location: String,
    /// Whether the parameter must be sent.
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
}

/// A request body.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// The media type compared (`application/json` when offered, else the first).
    pub media_type: String,
    /// `requestBody.required` (the resolved format's `required: true`).
    pub required: bool,
    /// The body's schema; `schema.nullable` is the body's own nullability.
    pub schema: Schema,
}

/// A response.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The schema of its JSON content; `None` when the response has no content.
    pub schema: Option<Schema>,
}

/// A normalised JSON schema: only the facts the check compares.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// The shape.
    pub kind: Kind,
    /// `format` (`date-time`, `password`, ...).
    pub format: Option<String>,
    /// Whether `null` is accepted, however the source wrote it.
    pub nullable: bool,
    /// `default`, as JSON.
    pub default: Option<Value>,
    /// `enum` values, `null` removed (it becomes `nullable`).
    pub enum_values: Option<Vec<Value>>,
    /// `writeOnly`.
    pub write_only: bool,
    /// A name for messages only (component name, `refIdentifier`, or title); never compared.
    pub name: Option<String>,
}

/// The shape of a [`Schema`].
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Not known: a `null` example value on a rendered page. Never compared.
    Unknown,
    /// Any JSON (`{}`, or the resolved format's `type: any`).
    Any,
    /// Only `null`.
    Null,
    /// `string`, `integer`, `number` or `boolean`.
    Scalar(String),
    /// An array of the item schema.
    Array(Box<Schema>),
    /// An object.
    Object(ObjectShape),
    /// One of several shapes (`anyOf`/`oneOf` with more than one non-null branch).
    Union(Vec<Schema>),
}

/// The properties of an object schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectShape {
    /// Properties by JSON name.
    pub properties: BTreeMap<String, Schema>,
    /// Names of the required properties.
    pub required: BTreeSet<String>,
}

impl Schema {
    /// A schema of the given kind with no other facts.
    pub fn of(kind: Kind) -> Schema {
        Schema {
            kind,
            format: None,
            nullable: false,
            default: None,
            enum_values: None,
            write_only: false,
            name: None,
        }
    }

    /// The JSON type compared by the `type` aspect: `string`, `array`, `object`, `any`,
    /// `string | integer`, ...
    pub fn type_name(&self) -> String {
        match &self.kind {
            Kind::Unknown => "unknown".to_string(),
            Kind::Any => "any".to_string(),
            Kind::Null => "null".to_string(),
            Kind::Scalar(name) => name.clone(),
            Kind::Array(_) => "array".to_string(),
            Kind::Object(_) => "object".to_string(),
            Kind::Union(variants) => {
                let mut names: Vec<String> = variants.iter().map(Schema::type_name).collect();
                names.sort();
                names.dedup();
                names.join(" | ")
            }
        }
    }

    /// A short human type: `array of DataSourceBinding`, `string`, `ApiGetAuditLogs`.
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Object(_) => self.name.clone().unwrap_or_else(|| "object".to_string()),
            Kind::Array(items) => match &self.name {
                Some(name) if !name.contains(' ') => name.clone(),
                _ => format!("array of {}", items.label()),
            },
            _ => self.type_name(),
        }
    }

    /// Describes the schema as a field: `string, nullable`, `string, password, required,
    /// write-only`. This text is also the value deviations.yaml matches for a field that
    /// exists on one side only.
    pub fn describe(&self, required: bool) -> String {
        let mut parts = vec![match &self.kind {
            Kind::Array(items) => format!("array of {}", items.label()),
            _ => self.type_name(),
        }];
        if let Some(format) = &self.format {
            parts.push(format.clone());
        }
        if required {
            parts.push("required".to_string());
        }
        if self.nullable {
            parts.push("nullable".to_string());
        }
        if self.write_only {
            parts.push("write-only".to_string());
        }
        if let Some(default) = &self.default {
            parts.push(format!("default {default}"));
        }
        if let Some(values) = &self.enum_values {
            parts.push(format!("enum {}", plain(&Value::Array(values.clone()))));
        }
        parts.join(", ")
    }
}

/// Shows a value the way a person writes it in YAML: strings bare, lists as `[a, b]`.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(plain).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
