//! [`Secret`]: the type of the API key and of every `format: password` field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `Debug` and `Display` print in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The names of the API's secret fields (its `format: password` fields) and
/// of the key itself: their values are never printed.
pub const SECRET_FIELDS: [&str; 5] = [
    "token",
    "password",
    "client_secret",
    "token_value",
    "api_key",
];

/// A copy of `value` fit to print: the values of [`SECRET_FIELDS`] are
/// replaced by [`REDACTED`], and FastAPI's `input` (the request data a 422
/// quotes back, secrets included) is dropped.
pub(crate) fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "input")
                .map(|(k, v)| {
                    let v = if SECRET_FIELDS.contains(&k.as_str()) && !v.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// A credential: an API key, token, password or client secret.
///
/// `Debug` and `Display` print [`REDACTED`], so a secret cannot leak through
/// logs, error messages or panics; serialization sends the real value, since
/// the server needs it. Read the value with [`Secret::expose`], which makes
/// every place that handles the clear text easy to find.
///
/// ```
/// use datafold_sdk::Secret;
///
/// let token = Secret::new("tok-123");
/// assert_eq!(format!("{token:?}"), "Secret([REDACTED])");
/// assert_eq!(token.to_string(), "[REDACTED]");
/// assert_eq!(token.expose(), "tok-123");
/// assert_eq!(serde_json::to_string(&token).unwrap(), "\"tok-123\"");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wrap a clear-text secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear text. Keep what you do with it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (or only white space).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self(value.clone())
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// A string of format `password`, write-only.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Secret {
    fn schema_name() -> String {
        "Secret".to_owned()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = String::json_schema(generator).into_object();
        schema.format = Some("password".to_owned());
        schema.metadata().write_only = true;
        schema.into()
    }
}
