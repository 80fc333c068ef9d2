//! Secrets: [`Secret`], the type of the API key and of every `format: password`
//! field, and [`Redactor`], which masks secrets in whatever is about to be shown.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod fields;

#[cfg(feature = "export")]
pub(crate) use fields::is_secret_key_bytes;
pub use fields::{is_secret_field, SECRET_FIELDS};

/// What `Debug` and `Display` print in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The longest run of key characters [`mask_fields_in_text`] considers.
const MAX_TEXT_KEY: usize = 64;

/// `text` that is not JSON (an HTML page, a cut or malformed document) with
/// the values of secret fields replaced by [`REDACTED`], recognized by their
/// shape: a key that [`is_secret_field`] accepts — quoted with `"` or `'`, or
/// bare — then `:` or `=`, then the value: a quoted string (with backslash
/// escapes; one that never closes is masked to the end) or a bare token up to
/// the next `,`, `}`, `]`, `;`, `&`, `<`, quote or white space. `null` is
/// kept. Text without such a field comes back borrowed.
///
/// ```
/// use datafold_sdk::secret::mask_fields_in_text;
///
/// let body = r#"{"name": "n", "client_secret": "s3cr\"et", token: abc,}"#;
/// assert_eq!(
///     mask_fields_in_text(body),
///     r#"{"name": "n", "client_secret": "[REDACTED]", token: [REDACTED],}"#
/// );
/// assert_eq!(mask_fields_in_text("password=hunter2&user=me"), "password=[REDACTED]&user=me");
/// ```
pub fn mask_fields_in_text(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut out = String::new();
    // Bytes of `text` before `copied` are in `out` already.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if !is_key_byte(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_key_byte(bytes[at]) {
            at += 1;
        }
        if at - start > MAX_TEXT_KEY || !is_secret_field(&text[start..at]) {
            continue;
        }
        let Some((from, to)) = secret_value_after(bytes, at) else {
            continue;
        };
        out.push_str(&text[copied..from]);
        out.push_str(REDACTED);
        copied = to;
        at = to;
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

/// Where the value of a key that ends at `at` lies (the part to mask), if a
/// `:` or `=` follows the key (after its closing quote, if any).
fn secret_value_after(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    // The key's closing quote, escaped when the document sits in a string.
    if bytes.get(at) == Some(&b'\\') && matches!(bytes.get(at + 1), Some(b'"' | b'\'')) {
        at += 2;
    } else if matches!(bytes.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    at = skip_space(at);
    if !matches!(bytes.get(at), Some(b':' | b'=')) {
        return None;
    }
    at = skip_space(at + 1);
    match bytes.get(at)? {
        &quote @ (b'"' | b'\'') => Some((at + 1, string_end(bytes, at + 1, quote, false))),
        b'\\' if matches!(bytes.get(at + 1), Some(b'"' | b'\'')) => {
            let quote = bytes[at + 1];
            Some((at + 2, string_end(bytes, at + 2, quote, true)))
        }
        // An object or array: its own fields are found as the scan goes on.
        b'{' | b'[' => None,
        _ => {
            let end = bytes[at..]
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b",}];&<>\"'".contains(&b))
                .map_or(bytes.len(), |n| at + n);
            let token = &bytes[at..end];
            (!token.is_empty() && token != b"null").then_some((at, end))
        }
    }
}

/// Where a string that started at `from` ends (before its closing quote):
/// at the first `quote` not escaped by a backslash, or, when the string sits
/// escaped inside another (`escaped`), at the first `\` + `quote`; the end
/// of the text if it never closes.
fn string_end(bytes: &[u8], from: usize, quote: u8, escaped: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escaped && bytes.get(i + 1) == Some(&quote) => return i,
            b'\\' => i += 2,
            b if b == quote && !escaped => return i,
            _ => i += 1,
        }
    }
    bytes.len()
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
    /// Where the client's API key came from, for 401/403 messages.
    key_source: Option<&'static str>,
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

    /// Name where the API key came from (`DATAFOLD_API_KEY`, or the
    /// builder), for the messages of a refused key.
    pub(crate) fn with_key_source(mut self, source: &'static str) -> Self {
        self.key_source = Some(source);
        self
    }

    /// Where the API key came from, if known.
    pub(crate) fn key_source(&self) -> Option<&'static str> {
        self.key_source
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
        if value.chars().count() >= MIN_MASKED_LEN && !self.values.iter().any(|s| s.value == value)
        {
            self.values.push(Secret::new(value));
            // Longest first, so a secret containing another is masked whole.
            self.values
                .sort_by_key(|s| std::cmp::Reverse(s.value.len()));
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

    /// Whether a known secret value appears in `bytes` as they are (not
    /// behind escapes): a quick test before [`Redactor::text`].
    #[cfg(feature = "export")]
    pub(crate) fn appears_in(&self, bytes: &[u8]) -> bool {
        self.values
            .iter()
            .any(|secret| memchr::memmem::find(bytes, secret.value.as_bytes()).is_some())
    }

    /// `text` with every known secret value replaced by [`REDACTED`].
    pub fn text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for secret in &self.values {
            // Most strings (times, ids, addresses) are shorter than a key.
            if out.len() >= secret.value.len() && out.contains(secret.value.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.value.as_str(), REDACTED));
            }
        }
        out
    }

    /// A copy of `value` fit to print: the values of secret fields replaced
    /// by [`REDACTED`] (`null` stays `null`), and known secret values masked
    /// in every string and key.
    pub fn json(&self, value: &serde_json::Value) -> serde_json::Value {
        let mut shown = value.clone();
        self.mask_value(&mut shown, false);
        shown
    }

    /// Mask `text` in place: known secret values replaced by [`REDACTED`].
    /// Without known values, or without a match, nothing is copied.
    pub(crate) fn mask_string(&self, text: &mut String) {
        if let std::borrow::Cow::Owned(masked) = self.text(text) {
            *text = masked;
        }
    }

    /// What [`Redactor::json`] does, in place: for data that is masked
    /// once and never needed in clear (an exported record's `payload`).
    pub(crate) fn mask_map(&self, map: &mut serde_json::Map<String, serde_json::Value>) {
        self.mask_object(map, false);
    }

    /// [`Redactor::json`] for an error body: FastAPI's `input` (the request
    /// data a 422 quotes back) is dropped as well.
    pub(crate) fn error_json(&self, value: &serde_json::Value) -> serde_json::Value {
        let mut shown = value.clone();
        self.mask_value(&mut shown, true);
        shown
    }

    /// The one walk behind [`Redactor::json`], [`Redactor::error_json`] and
    /// [`Redactor::mask_map`].
    fn mask_value(&self, value: &mut serde_json::Value, drop_input: bool) {
        use serde_json::Value;
        match value {
            Value::Object(map) => self.mask_object(map, drop_input),
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| self.mask_value(v, drop_input)),
            Value::String(s) => self.mask_string(s),
            _ => {}
        }
    }

    fn mask_object(&self, map: &mut serde_json::Map<String, serde_json::Value>, drop_input: bool) {
        if drop_input {
            map.remove("input");
        }
        if !self.values.is_empty() && map.keys().any(|k| self.text(k) != k.as_str()) {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| (self.text(&k).into_owned(), v))
                .collect();
        }
        for (key, value) in map.iter_mut() {
            if is_secret_field(key) {
                if !value.is_null() {
                    *value = serde_json::Value::String(REDACTED.to_owned());
                }
            } else {
                self.mask_value(value, drop_input);
            }
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
pub struct Secret {
    value: String,
    /// A secret the server did not return ([`Secret::is_withheld`]).
    withheld: bool,
}

/// What stands for a withheld secret inside [`with_withheld_mark`]:
/// [`crate::bi::Integration::typed`] puts it in place of every secret the
/// server answered with, for [`Secret`]'s `Deserialize` to turn into a
/// withheld secret, and the check before sending finds the withheld ones by
/// it. Outside that scope it is an ordinary string: input a user wrote can
/// never make a secret withheld.
pub(crate) const WITHHELD_MARK: &str = "\0datafold-sdk: withheld by the server\0";

thread_local! {
    /// Whether this thread is inside [`with_withheld_mark`].
    static WITHHELD_AS_MARK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` (a synchronous serde call) with [`WITHHELD_MARK`] standing for a
/// withheld secret both ways: read as one, and written for one instead of
/// failing.
pub(crate) fn with_withheld_mark<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            WITHHELD_AS_MARK.with(|scope| scope.set(self.0));
        }
    }
    let _restore = Restore(WITHHELD_AS_MARK.with(|scope| scope.replace(true)));
    f()
}

fn withheld_as_mark() -> bool {
    WITHHELD_AS_MARK.with(std::cell::Cell::get)
}

impl Secret {
    /// Wrap a clear-text secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            withheld: false,
        }
    }

    /// The clear text. Keep what you do with it out of logs.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether the secret is empty (or only white space).
    pub fn is_blank(&self) -> bool {
        self.value.trim().is_empty()
    }

    /// Whether this stands for a secret the server did not return: the
    /// secrets of a [typed view](crate::bi::Integration::typed) of an
    /// integration. It exposes `""`, and serializing it (sending it) fails,
    /// so a configuration read from the server cannot be sent back with its
    /// secrets silently blanked.
    pub fn is_withheld(&self) -> bool {
        self.withheld
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.withheld {
            f.write_str("Secret(withheld by the server)")
        } else {
            write!(f, "Secret({REDACTED})")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self::new(value.clone())
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.withheld {
            if withheld_as_mark() {
                return serializer.serialize_str(WITHHELD_MARK);
            }
            return Err(serde::ser::Error::custom(
                "a secret the server did not return cannot be sent: this configuration \
                 comes from Integration::typed; set its secrets before sending it",
            ));
        }
        serializer.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value == WITHHELD_MARK && withheld_as_mark() {
            return Ok(Self {
                value: String::new(),
                withheld: true,
            });
        }
        Ok(Self::new(value))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sdk_can_make_a_secret_withheld() {
        // The mark, written by a user in a file or a JSON body, is just text.
        let json = serde_json::Value::from(WITHHELD_MARK);
        let secret: Secret = serde_json::from_value(json.clone()).unwrap();
        assert!(!secret.is_withheld());
        assert_eq!(serde_json::to_value(&secret).unwrap(), json);
        // Inside the SDK's scope it stands for a withheld secret, both ways;
        // outside it, a withheld secret still cannot be written.
        let withheld: Secret = with_withheld_mark(|| serde_json::from_value(json.clone())).unwrap();
        assert!(withheld.is_withheld() && withheld.expose().is_empty());
        assert_eq!(
            with_withheld_mark(|| serde_json::to_value(&withheld)).unwrap(),
            json
        );
        assert!(serde_json::to_value(&withheld).is_err());
    }

    #[test]
    fn secret_fields_are_recognized_without_case_underscores_or_dashes() {
        for key in [
            "token",
            "Token",
            "client_secret",
            "clientSecret",
            "API-Key",
            "token_value",
            // A Kelvin sign lowercases to `k`.
            "to\u{212A}en",
        ] {
            assert!(is_secret_field(key), "{key}");
        }
        for key in [
            "tokens",
            "name",
            "",
            "secret",
            "token_name",
            "passwords",
            "tökén",
        ] {
            assert!(!is_secret_field(key), "{key}");
        }
    }

    /// The byte-wise comparison of ASCII keys agrees with the Unicode one.
    #[test]
    #[cfg(feature = "export")]
    fn keys_as_bytes_are_recognized_as_keys_as_text() {
        for key in [
            "token",
            "TOKEN",
            "to_ken",
            "-token-",
            "client_secret",
            "ClientSecret",
            "client__secret__",
            "api-key",
            "apikey",
            "token_value",
            "TokenValue",
            "tokens",
            "toke",
            "t",
            "",
            "timestamp",
            "payload",
            "passwordx",
            "to\u{212A}en",
            "tökén",
            "pässword",
            "a\u{301}pi_key",
            "a_very_long_key_that_is_no_secret_field_at_all",
        ] {
            assert_eq!(
                is_secret_key_bytes(key.as_bytes()),
                is_secret_field(key),
                "{key}"
            );
        }
        assert!(!is_secret_key_bytes(b"tok\xffen"));
    }

    #[test]
    fn secret_fields_are_masked_in_text_of_any_shape() {
        for (text, masked) in [
            (
                r#"{"id": 1, "client_secret": "s-1", "token": "t-2",}"#,
                r#"{"id": 1, "client_secret": "[REDACTED]", "token": "[REDACTED]",}"#,
            ),
            (
                r#"{'password': 'p\'3', token :t-4 , "x": 1"#,
                r#"{'password': '[REDACTED]', token :[REDACTED] , "x": 1"#,
            ),
            (r#"{"token": "cut off"#, r#"{"token": "[REDACTED]"#),
            (
                r#"{"token": null, "tokens": "kept"}"#,
                r#"{"token": null, "tokens": "kept"}"#,
            ),
            (
                r#""{\"api_key\": \"k-5\", \"n\": 1}""#,
                r#""{\"api_key\": \"[REDACTED]\", \"n\": 1}""#,
            ),
            ("<p>token=abc&amp;x</p>", "<p>token=[REDACTED]&amp;x</p>"),
            ("é token: ü-secret é", "é token: [REDACTED] é"),
            (
                r#"{"token": {"password": "p"}}"#,
                r#"{"token": {"password": "[REDACTED]"}}"#,
            ),
            ("a token is needed", "a token is needed"),
            ("token:", "token:"),
        ] {
            assert_eq!(mask_fields_in_text(text), masked, "{text}");
        }
    }

    #[test]
    fn maps_are_masked_in_place_like_copies_are() {
        let redactor = Redactor::new().with_secret(&Secret::new("key-123456"));
        let value = serde_json::json!({
            "a": {"Token": "t", "n": null, "list": [{"password": 5}, "with key-123456"]},
            "key-123456": "as a key",
            "token_value": null,
        });
        let serde_json::Value::Object(mut map) = value.clone() else {
            unreachable!()
        };
        redactor.mask_map(&mut map);
        assert_eq!(serde_json::Value::Object(map), redactor.json(&value));
    }
}
