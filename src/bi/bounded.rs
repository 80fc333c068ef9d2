//! Reading a YAML or JSON document (a desired-state file, a `--from-file`
//! configuration) within limits, so that a broken or hostile file costs at
//! most a few MiB and a fraction of a second:
//!
//! - nesting: at most [`MAX_DEPTH`] levels;
//! - the document as built: at most [`MAX_EXPANDED_BYTES`], counted while it
//!   is built (string bytes plus 8 per value), so YAML aliases, which repeat
//!   what they point to, cannot blow a small file up;
//! - YAML flow collections (`[…]`, `{…}`): the YAML scanner's work grows
//!   with the number of open ones for every token it reads, so the text is
//!   checked first (every byte counts one step per `[` or `{` before it).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The deepest nesting of mappings and lists.
pub const MAX_DEPTH: usize = 64;
/// The largest document built: string bytes plus 8 per value.
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;
/// The YAML scanner's work allowed for flow collections: every byte counts
/// one step per `[` or `{` before it.
pub const MAX_FLOW_STEPS: u64 = 50_000_000;

/// Whether the YAML scanner's work on `text`'s flow collections stays
/// within bounds; the message says what to do otherwise.
pub fn check_flow_collections(text: &str) -> Result<(), String> {
    let (mut opened, mut steps) = (0_u64, 0_u64);
    for byte in text.bytes() {
        if matches!(byte, b'[' | b'{') {
            opened += 1;
        }
        steps += opened;
        if steps > MAX_FLOW_STEPS {
            return Err(format!(
                "too many flow collections ([ ] or {{ }}) for YAML of this size: nested deeper \
                 than {MAX_DEPTH} levels, or too many of them; write lists as `- item` lines, \
                 or give the file as .json"
            ));
        }
    }
    Ok(())
}

/// Read a document into JSON within the limits: a `serde_json` or
/// `serde_yaml_ng` deserializer (check YAML text with
/// [`check_flow_collections`] first).
pub fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    let spent = Cell::new(0);
    Node {
        spent: &spent,
        depth: 0,
    }
    .deserialize(deserializer)
}

#[derive(Clone, Copy)]
struct Node<'b> {
    spent: &'b Cell<usize>,
    depth: usize,
}

impl Node<'_> {
    fn spend<E: de::Error>(self, bytes: usize) -> Result<(), E> {
        let spent = self.spent.get().saturating_add(bytes).saturating_add(8);
        self.spent.set(spent);
        if spent > MAX_EXPANDED_BYTES {
            return Err(E::custom(format!(
                "the document would expand beyond {} MiB (YAML aliases repeat what they point \
                 to); write it out without aliases",
                MAX_EXPANDED_BYTES >> 20
            )));
        }
        Ok(())
    }

    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(Self {
            depth: self.depth + 1,
            ..self
        })
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

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        self.spend(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        self.spend(0)?;
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(inner)? {
            let key = match key {
                Value::String(key) => key,
                other => other.to_string(),
            };
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Value, String> {
        check_flow_collections(text)?;
        read(serde_yaml_ng::Deserializer::from_str(text)).map_err(|e| e.to_string())
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
        assert!(yaml(&bomb).unwrap_err().contains("expand beyond 4 MiB"));
        let flow = format!("a: {}", "[".repeat(20_000));
        assert!(yaml(&flow).unwrap_err().contains("flow collections"));
    }
}
