//! Secrets: [`Secret`], the type of the API key and of every `format: password`
//! field, and [`Redactor`], which masks secrets in whatever is about to be shown.

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

/// Whether `key` names a secret: one of [`SECRET_FIELDS`], compared without
/// case, `_` or `-` (so `clientSecret` and `API-Key` count too).
pub fn is_secret_field(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_FIELDS
        .iter()
        .any(|field| field.replace('_', "") == folded)
}

/// A copy of `value` fit to print in an error: what [`Redactor::json`] does
/// with no known values, and FastAPI's `input` (the request data a 422
/// quotes back, secrets included) is dropped.
pub(crate) fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    Redactor::new().error_json(value)
}

/// Secret values shorter than this are not searched for in text: masking
/// every `abc` in a response would hide more than it protects.
const MIN_MASKED_LEN: usize = 4;

/// Masks secrets in data about to be shown: the values of secret fields
/// ([`is_secret_field`]) wherever they appear in JSON, and the clear text of
/// known secrets (the API key, secrets just sent) wherever they appear in
/// text or JSON strings.
///
/// ```
/// use datafold_sdk::{secret::Redactor, Secret};
///
/// let redactor = Redactor::new().with_secret(&Secret::new("key-123456"));
/// let shown = redactor.json(&serde_json::json!({
///     "name": "Looker",
///     "client_secret": "s3cret",
///     "note": "called with key-123456",
/// }));
/// assert_eq!(shown["client_secret"], "[REDACTED]");
/// assert_eq!(shown["note"], "called with [REDACTED]");
/// assert_eq!(redactor.text("key-123456 leaked"), "[REDACTED] leaked");
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<Secret>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that masks secret fields by name and no known values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also mask the clear text of `secret` wherever it appears (ignored
    /// when blank or shorter than 4 characters).
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.add(secret);
        self
    }

    /// Also mask the clear text of `secret` wherever it appears.
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose().trim();
        if value.chars().count() >= MIN_MASKED_LEN && !self.values.iter().any(|s| s.0 == value) {
            self.values.push(Secret::new(value));
            // Longest first, so a secret containing another is masked whole.
            self.values.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        }
    }

    /// Also mask the values of the secret fields of `json` (e.g. a request
    /// body about to be sent), wherever they appear later.
    pub fn add_secrets_of(&mut self, json: &serde_json::Value) {
        use serde_json::Value;
        match json {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(s) if is_secret_field(key) => {
                            self.add(&Secret::new(s.as_str()))
                        }
                        other => self.add_secrets_of(other),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.add_secrets_of(item)),
            _ => {}
        }
    }

    /// Whether no value is known (only field names are masked).
    pub fn knows_no_values(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every known secret value replaced by [`REDACTED`].
    pub fn text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for secret in &self.values {
            if out.contains(secret.0.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.0.as_str(), REDACTED));
            }
        }
        out
    }

    /// A copy of `value` fit to print: the values of secret fields replaced
    /// by [`REDACTED`] (`null` stays `null`), and known secret values masked
    /// in every string and key.
    pub fn json(&self, value: &serde_json::Value) -> serde_json::Value {
        self.mask(value, false)
    }

    /// [`Redactor::json`] for an error body: FastAPI's `input` (the request
    /// data a 422 quotes back) is dropped as well.
    pub(crate) fn error_json(&self, value: &serde_json::Value) -> serde_json::Value {
        self.mask(value, true)
    }

    fn mask(&self, value: &serde_json::Value, drop_input: bool) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !(drop_input && k.as_str() == "input"))
                    .map(|(k, v)| {
                        let v = if is_secret_field(k) && !v.is_null() {
                            Value::String(REDACTED.to_owned())
                        } else {
                            self.mask(v, drop_input)
                        };
                        (self.text(k).into_owned(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.mask(v, drop_input)).collect())
            }
            Value::String(s) => Value::String(self.text(s).into_owned()),
            other => other.clone(),
        }
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
