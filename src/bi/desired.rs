//! [`Desired`]: the BI integrations a file declares, parsed and checked.
//!
//! The file is YAML (or JSON, a subset of YAML, or read as JSON when its
//! name ends in `.json`):
//!
//! ```yaml
//! integrations:
//!   - name: Looker (prod)          # the key: the integration's name in Datafold
//!     kind: looker
//!     base_url: https://acme.looker.com
//!     client_id: datafold
//!     client_secret: ${env:LOOKER_CLIENT_SECRET}
//!     repo_id: 42
//!     indexing_cron: "0 */6 * * *"
//!   - id: 17                       # or an id pin, which adopts an existing one
//!     kind: dbt
//!     name: dbt Cloud
//!     ci_config_id: 3
//! ```
//!
//! Each entry has `kind` and the documented fields of that kind's
//! configuration (as `datafold bi schema <kind>` prints them), and a key:
//! its `name`, or an `id:` pin. Secret fields (`format: password` in the
//! spec) take references only, `${env:VAR}` or `${file:PATH}` (a path
//! relative to the file's directory); a literal secret is refused. Unknown
//! fields and values of the wrong type are refused with their line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::as_code_error::{AsCodeError, Problem};
use super::bounded;
use super::fields::{kind_fields, KindField};
use super::locate::{line_of, Format, Step};
use super::secret_ref::SecretRef;
use super::{BiKind, ConfigVisitor, KindConfig};

/// The largest desired-state file read.
pub const MAX_DESIRED_FILE_BYTES: u64 = 1 << 20;

/// The most problems listed for one file.
const MAX_PROBLEMS: usize = 20;

/// The top-level keys of the file.
const TOP_LEVEL: [&str; 2] = ["integrations", "$schema"];

/// The BI integrations a file declares, checked against the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    entries: Vec<DesiredEntry>,
    source_name: String,
    base_dir: Option<PathBuf>,
    digest: String,
}

/// How an entry finds its integration on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKey {
    /// The integration of this name (there must be at most one).
    Name(String),
    /// The integration of this id (`id:` in the file), which the entry adopts.
    Id(i64),
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryKey::Name(name) => write!(f, "{name:?}"),
            EntryKey::Id(id) => write!(f, "id {id}"),
        }
    }
}

/// One integration of a [`Desired`] set.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredEntry {
    key: EntryKey,
    kind: BiKind,
    line: Option<usize>,
    config: Map<String, Value>,
    secrets: BTreeMap<String, SecretRef>,
}

impl DesiredEntry {
    /// How the entry finds its integration.
    pub fn key(&self) -> &EntryKey {
        &self.key
    }

    /// The kind.
    pub fn kind(&self) -> BiKind {
        self.kind
    }

    /// The name the integration should have, if the file gives one.
    pub fn name(&self) -> Option<&str> {
        self.config.get("name").and_then(Value::as_str)
    }

    /// The line (from 1) the entry starts on, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The configuration's fields other than the secrets, as written.
    pub fn config(&self) -> &Map<String, Value> {
        &self.config
    }

    /// The secret fields and where their values come from.
    pub fn secrets(&self) -> &BTreeMap<String, SecretRef> {
        &self.secrets
    }

    /// How messages name the entry.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.key)
    }
}

impl Desired {
    /// Read and check the file at `path` (at most 1 MiB; JSON when its name
    /// ends in `.json`, YAML otherwise). `${file:…}` references are taken
    /// relative to its directory.
    ///
    /// # Errors
    /// [`AsCodeError::Invalid`] for a file that cannot be read or is not a
    /// valid desired state.
    pub fn from_path(path: &Path) -> Result<Self, AsCodeError> {
        let shown = path.display().to_string();
        let unreadable = |why: String| AsCodeError::Invalid {
            source_name: shown.clone(),
            problems: vec![Problem {
                line: None,
                entry: None,
                field: None,
                message: why,
            }],
        };
        let bytes = crate::safe_file::read_capped(path, MAX_DESIRED_FILE_BYTES)
            .map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8 text".into()))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let format = if is_json { Format::Json } else { Format::Yaml };
        let mut desired = Self::parse(&text, format, &shown)?;
        desired.base_dir = Some(crate::safe_file::parent_dir(path).to_path_buf());
        Ok(desired)
    }

    /// Check a YAML (or JSON) text; `source_name` names it in messages.
    ///
    /// # Errors
    /// [`AsCodeError::Invalid`], listing every problem with its line.
    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Self, AsCodeError> {
        Self::parse(text, Format::Yaml, source_name)
    }

    /// Check a JSON text; `source_name` names it in messages.
    ///
    /// # Errors
    /// [`AsCodeError::Invalid`], listing every problem with its line.
    pub fn from_json_str(text: &str, source_name: &str) -> Result<Self, AsCodeError> {
        Self::parse(text, Format::Json, source_name)
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[DesiredEntry] {
        &self.entries
    }

    /// How messages name the file.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The SHA-256 (hex) of the text read: a saved [`Plan`](super::Plan)
    /// records it, so that a file edited since is noticed.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The directory `${file:…}` references are relative to, if any.
    pub fn base_dir(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }

    fn parse(text: &str, format: Format, source_name: &str) -> Result<Self, AsCodeError> {
        let invalid = |problems| AsCodeError::Invalid {
            source_name: source_name.to_owned(),
            problems,
        };
        let parsed: Result<Value, (Option<usize>, String)> = match format {
            Format::Json => {
                let mut json = serde_json::Deserializer::from_str(text);
                bounded::read(&mut json)
                    .and_then(|value| json.end().map(|()| value))
                    .map_err(|e| (Some(e.line()), e.to_string()))
            }
            Format::Yaml => bounded::check_flow_collections(text)
                .map_err(|message| (None, message))
                .and_then(|()| {
                    bounded::read(serde_yaml_ng::Deserializer::from_str(text))
                        .map_err(|e| (e.location().map(|l| l.line()), e.to_string()))
                }),
        };
        let document = parsed.map_err(|(line, message)| {
            invalid(vec![Problem {
                line,
                entry: None,
                field: None,
                message: format!(
                    "not valid {}: {message}",
                    if format == Format::Json {
                        "JSON"
                    } else {
                        "YAML"
                    }
                ),
            }])
        })?;
        let mut found = Vec::new();
        let entries = check_document(&document, &mut found);
        if found.is_empty() {
            return Ok(Self {
                entries: entries
                    .into_iter()
                    .map(|(index, mut entry)| {
                        let path = [Step::Key("integrations".into()), Step::Index(index)];
                        entry.line = line_of(text, format, &path);
                        entry
                    })
                    .collect(),
                source_name: source_name.to_owned(),
                base_dir: None,
                digest: super::plan::sha256_hex(text.as_bytes()),
            });
        }
        // Each line is found by reading the text again: a few are enough.
        let more = found.len().saturating_sub(MAX_PROBLEMS);
        let mut problems: Vec<Problem> = found
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|found| Problem {
                line: line_of(text, format, &found.path),
                entry: found.entry,
                field: found.field,
                message: found.message,
            })
            .collect();
        if more > 0 {
            problems.push(Problem {
                line: None,
                entry: None,
                field: None,
                message: format!("and {more} more problems"),
            });
        }
        Err(invalid(problems))
    }
}

/// A problem before its line is known.
struct Found {
    path: Vec<Step>,
    entry: Option<String>,
    field: Option<String>,
    message: String,
}

fn check_document(document: &Value, found: &mut Vec<Found>) -> Vec<(usize, DesiredEntry)> {
    let top = |key: Option<&str>, message: String| Found {
        path: key.map(|k| vec![Step::Key(k.into())]).unwrap_or_default(),
        entry: None,
        field: key.map(str::to_owned),
        message,
    };
    let Some(map) = document.as_object() else {
        found.push(top(
            None,
            "the file must be a mapping with an `integrations` list".into(),
        ));
        return Vec::new();
    };
    for key in map.keys().filter(|k| !TOP_LEVEL.contains(&k.as_str())) {
        found.push(top(
            Some(key),
            "unknown top-level key; the file holds `integrations` (and optionally `$schema`)"
                .into(),
        ));
    }
    let Some(list) = map.get("integrations").and_then(Value::as_array) else {
        let message = "the file must hold an `integrations` list".to_owned();
        found.push(top(
            map.contains_key("integrations").then_some("integrations"),
            message,
        ));
        return Vec::new();
    };
    let mut entries = Vec::new();
    let mut keys: BTreeSet<EntryKey> = BTreeSet::new();
    for (index, item) in list.iter().enumerate() {
        let before = found.len();
        if let Some(entry) = check_entry(index, item, found) {
            let path = vec![Step::Key("integrations".into()), Step::Index(index)];
            if !keys.insert(entry.key.clone()) {
                found.push(Found {
                    path,
                    entry: Some(entry.label()),
                    field: None,
                    message: format!("{} is declared twice; each key may appear once", entry.key),
                });
            } else if found.len() == before {
                entries.push((index, entry));
            }
        }
    }
    entries
}

fn check_entry(index: usize, item: &Value, found: &mut Vec<Found>) -> Option<DesiredEntry> {
    let entry_path = vec![Step::Key("integrations".into()), Step::Index(index)];
    let at = |field: Option<&str>| {
        let mut path = entry_path.clone();
        path.extend(field.map(|f| Step::Key(f.to_owned())));
        path
    };
    let Some(map) = item.as_object() else {
        found.push(Found {
            path: at(None),
            entry: Some(format!("entry {}", index + 1)),
            field: None,
            message: "an entry must be a mapping of fields".into(),
        });
        return None;
    };
    let label = match (map.get("name").and_then(Value::as_str), map.get("id")) {
        (Some(name), _) => format!("{name:?}"),
        (None, Some(id)) => format!("id {id}"),
        (None, None) => format!("entry {}", index + 1),
    };
    let mut problem = |field: Option<&str>, message: String| {
        found.push(Found {
            path: at(field),
            entry: Some(label.clone()),
            field: field.map(str::to_owned),
            message,
        })
    };
    let kinds = BiKind::ALL.map(BiKind::as_str).join(", ");
    let kind = match map.get("kind") {
        None => {
            problem(None, format!("missing `kind`: one of {kinds}"));
            return None;
        }
        Some(Value::String(name)) => match name.parse::<BiKind>() {
            Ok(kind) => kind,
            Err(_) => {
                problem(
                    Some("kind"),
                    format!("unknown kind {name:?}: one of {kinds}"),
                );
                return None;
            }
        },
        Some(_) => {
            problem(Some("kind"), format!("expected one of {kinds}"));
            return None;
        }
    };
    let id = match map.get("id") {
        None => None,
        Some(value) => match value.as_i64().filter(|id| *id > 0) {
            Some(id) => Some(id),
            None => {
                problem(
                    Some("id"),
                    "expected a positive integer (an integration's id)".into(),
                );
                return None;
            }
        },
    };
    let fields = kind_fields(kind);
    let mut config = Map::new();
    let mut secrets = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map.iter().filter(|(k, _)| *k != "kind" && *k != "id") {
        let Some(field) = fields.iter().find(|f| &f.name == name) else {
            problem(Some(name), unknown_field_message(kind, &fields, name));
            ok = false;
            continue;
        };
        if !field.secret {
            config.insert(name.clone(), value.clone());
            continue;
        }
        match value {
            Value::Null if !field.required => {}
            Value::String(text) if SecretRef::parse(text).is_some() => {
                secrets.extend(SecretRef::parse(text).map(|r| (name.clone(), r)));
            }
            _ => {
                problem(
                    Some(name),
                    "a secret field takes a reference only, `${env:VAR}` or `${file:PATH}`; \
                     move the secret out of the file (its value is not shown)"
                        .into(),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let key = match (id, config.get("name")) {
        (Some(id), _) => EntryKey::Id(id),
        (None, Some(Value::String(name))) if !name.trim().is_empty() => {
            EntryKey::Name(name.clone())
        }
        _ => {
            problem(
                None,
                "give the integration a `name` (its key in Datafold) or pin it with `id:`".into(),
            );
            return None;
        }
    };
    // The typed configuration, secrets stood in for, must read.
    let mut body = config.clone();
    for name in secrets.keys() {
        body.insert(name.clone(), Value::from("secret"));
    }
    if let Err((field, message)) = kind.visit_config(TypeCheck(Value::Object(body))) {
        problem(field.as_deref(), message);
        return None;
    }
    Some(DesiredEntry {
        key,
        kind,
        line: None,
        config,
        secrets,
    })
}

fn unknown_field_message(kind: BiKind, fields: &[KindField], name: &str) -> String {
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let close = names.iter().find(|known| similar(known, name));
    let hint = close
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default();
    format!(
        "unknown field for {kind}; {hint}its fields are {} (and `kind`, `id`)",
        names.join(", ")
    )
}

/// The same length within one, and at most two letters different in place:
/// catches `indexing_corn` and `base_ulr`.
fn similar(known: &str, typed: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), typed.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    differing + a.len().abs_diff(b.len()) <= 2
}

/// Whether a JSON body reads as the kind's typed configuration; if not,
/// the field at fault (when one is) and serde's reason.
struct TypeCheck(Value);

impl ConfigVisitor for TypeCheck {
    type Output = Result<(), (Option<String>, String)>;

    fn visit<C: KindConfig>(self) -> Self::Output {
        let Err(error) = serde_json::from_value::<C>(self.0.clone()) else {
            return Ok(());
        };
        let text = error.to_string();
        if let Some(missing) = text.strip_prefix("missing field ") {
            return Err((None, format!("missing required field {missing}")));
        }
        // serde names a missing field but not a mistyped one: each field
        // is tried alone, and a good one fails only for the fields it lacks.
        let wrong = self.0.as_object().and_then(|map| {
            map.iter().find_map(|(field, value)| {
                let alone = Value::Object(Map::from_iter([(field.clone(), value.clone())]));
                let why = serde_json::from_value::<C>(alone).err()?.to_string();
                (!why.starts_with("missing field")).then(|| (field.clone(), why))
            })
        });
        Err(match wrong {
            Some((field, why)) => (Some(field), why),
            None => (None, text),
        })
    }
}

#[cfg(test)]
#[path = "desired_tests.rs"]
mod tests;
