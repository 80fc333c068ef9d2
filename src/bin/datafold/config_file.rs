//! `--from-file`: a configuration in YAML or JSON, read within limits, so a
//! broken or hostile file costs at most a few MiB and a fraction of a second:
//!
//! - the file: at most [`MAX_FILE_BYTES`] (1 MiB);
//! - nesting: at most [`MAX_DEPTH`] (64) levels;
//! - the document as built: at most [`MAX_EXPANDED_BYTES`] (4 MiB), counted
//!   while it is built, so YAML aliases (which repeat what they point to)
//!   cannot blow a small file up;
//! - YAML flow collections (`[…]`, `{…}`): the YAML scanner's work grows with
//!   the number of open ones for every token it reads, quadratically in the
//!   worst case, before any depth limit could apply. So the text is checked
//!   first: every byte counts one step per `[` or `{` before it, and a file
//!   over [`MAX_FLOW_STEPS`] is refused. Any hand-written configuration is
//!   far below it; a large one in flow style can be given as `.json`.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::{CliError, CliResult};

/// The largest configuration file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The deepest nesting of mappings and lists.
pub const MAX_DEPTH: usize = 64;
/// The largest document built: string bytes plus 8 per value.
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;
/// The YAML scanner's work allowed for flow collections (see the module docs).
pub const MAX_FLOW_STEPS: u64 = 50_000_000;

/// The mapping of fields in the YAML (or, for `.json`, JSON) file at `path`.
pub fn read(path: &Path) -> CliResult<Map<String, Value>> {
    let shown = path.display();
    let text = read_capped(path)?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let budget = Budget::default();
    let parsed = if is_json {
        let mut json = serde_json::Deserializer::from_str(&text);
        Node::root(&budget)
            .deserialize(&mut json)
            .and_then(|value| json.end().map(|()| value))
            .map_err(|e| (e.to_string(), "JSON"))
    } else {
        check_flow_collections(&text).map_err(|e| CliError::input(format!("{shown}: {e}")))?;
        Node::root(&budget)
            .deserialize(serde_yaml_ng::Deserializer::from_str(&text))
            .map_err(|e| (e.to_string(), "YAML"))
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::input(format!(
            "{shown}: the configuration must be a mapping of fields"
        ))),
        Err((error, _)) if budget.exceeded.get() => {
            Err(CliError::input(format!("{shown}: {error}")))
        }
        Err((error, format)) => Err(CliError::input(format!(
            "{shown}: not valid {format}: {error}"
        ))),
    }
}

/// The file's text, refused beyond [`MAX_FILE_BYTES`] (whatever the file
/// is: a device or a pipe is read only that far).
fn read_capped(path: &Path) -> CliResult<String> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::input(format!("cannot read {shown}: {e}")))?;
    read_text(file, MAX_FILE_BYTES).map_err(|e| match e {
        TextError::Read(e) => CliError::input(format!("cannot read {shown}: {e}")),
        TextError::TooLong => CliError::input(format!(
            "{shown} is larger than 1 MiB, the limit for a configuration file"
        )),
        TextError::NotUtf8 => CliError::input(format!("{shown} is not UTF-8 text")),
    })
}

/// Why [`read_text`] failed.
pub enum TextError {
    /// Reading failed.
    Read(std::io::Error),
    /// There was more than the cap.
    TooLong,
    /// The bytes are not UTF-8.
    NotUtf8,
}

/// At most `cap` bytes of UTF-8 text from `source` (a file, a pipe, stdin):
/// what the CLI reads from the user, never more than it can use.
pub fn read_text(source: impl Read, cap: u64) -> Result<String, TextError> {
    let mut bytes = Vec::new();
    source
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(TextError::Read)?;
    if bytes.len() as u64 > cap {
        return Err(TextError::TooLong);
    }
    String::from_utf8(bytes).map_err(|_| TextError::NotUtf8)
}

/// Refuse YAML whose flow collections would keep the scanner busy for long
/// (see the module docs). Counting every `[` and `{`, even inside strings
/// and comments, over-estimates what is open, so nothing can hide from it.
fn check_flow_collections(text: &str) -> Result<(), String> {
    let mut opened: u64 = 0;
    let mut steps: u64 = 0;
    for byte in text.bytes() {
        if matches!(byte, b'[' | b'{') {
            opened += 1;
        }
        steps += opened;
        if steps > MAX_FLOW_STEPS {
            return Err(format!(
                "too many flow collections ([ ] or {{ }}) for YAML of this size: nested \
                 deeper than {MAX_DEPTH} levels, or too many of them; write lists as \
                 `- item` lines, or give the configuration as a .json file"
            ));
        }
    }
    Ok(())
}

/// What building the document may still cost, and whether a limit was hit.
#[derive(Default)]
struct Budget {
    spent: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    fn spend<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        let spent = self.spent.get().saturating_add(bytes);
        self.spent.set(spent);
        if spent > MAX_EXPANDED_BYTES {
            return Err(self.exceed(
                "the configuration expands beyond 4 MiB (YAML aliases repeat what they \
                 point to), the limit for a configuration"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    fn exceed<E: serde::de::Error>(&self, message: String) -> E {
        self.exceeded.set(true);
        E::custom(message)
    }
}

/// A value being built `depth` containers deep, on `budget`.
#[derive(Clone, Copy)]
struct Node<'b> {
    budget: &'b Budget,
    depth: usize,
}

impl<'b> Node<'b> {
    fn root(budget: &'b Budget) -> Self {
        Self { budget, depth: 0 }
    }

    /// Open a container: its elements are one level deeper.
    fn open<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(self.budget.exceed(format!(
                "the configuration is nested deeper than {MAX_DEPTH} levels, the limit"
            )));
        }
        self.budget.spend(8)?;
        Ok(Self {
            budget: self.budget,
            depth: self.depth + 1,
        })
    }

    fn scalar<E: serde::de::Error>(self, value: Value, bytes: usize) -> Result<Value, E> {
        self.budget.spend(8 + bytes)?;
        Ok(value)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.scalar(Value::Bool(v), 0)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.scalar(Value::from(v), 0)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.scalar(Value::from(v), 0)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        // As serde_json does: a number JSON cannot hold becomes null.
        self.scalar(Value::from(v), 0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.scalar(Value::from(v), v.len())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.scalar(Value::Null, 0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut fields = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.budget))? {
            let value = map.next_value_seed(inner)?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// A mapping's key, a string, on the budget.
struct Key<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        self.0.spend(8 + v.len())?;
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Value, String> {
        check_flow_collections(text)?;
        let budget = Budget::default();
        Node::root(&budget)
            .deserialize(serde_yaml_ng::Deserializer::from_str(text))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn ordinary_configurations_read_as_before() {
        let text = "name: x\nrepo_id: 4\nproject_ids: [a, b]\nbindings:\n  - {remoteId: r, boundIds: [1, 2]}\nratio: 0.5\nflag: true\nnothing: ~\n";
        let expected: Value = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(yaml(text).unwrap(), expected);
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("a: {}1{}", "[".repeat(64), "]".repeat(64));
        assert!(yaml(&deep).unwrap_err().contains("deeper than 64"));
        let fits = format!("a: {}1{}", "[".repeat(63), "]".repeat(63));
        assert!(yaml(&fits).is_ok());
        let bomb = format!(
            "a: &x {}\nb: [{}]\n",
            "y".repeat(10_000),
            "*x, ".repeat(500)
        );
        assert!(yaml(&bomb).unwrap_err().contains("expands beyond 4 MiB"));
        let flow = format!("a: {}", "[".repeat(20_000));
        assert!(yaml(&flow).unwrap_err().contains("flow collections"));
    }
}
