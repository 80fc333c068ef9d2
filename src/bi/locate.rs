//! The line of a place in a YAML or JSON document: the document is read
//! again by a visitor that walks to the place and fails there, so that the
//! parser, which knows where it is, puts its line on the failure. The checks
//! themselves work on plain JSON values; only their messages need lines.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A mapping's key.
    Key(String),
    /// A list's item, from 0.
    Index(usize),
}

/// The marker of the failure that means "found".
const HERE: &str = "\u{0}datafold-located";

/// The format of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

/// The line (from 1) of `path` in `text`: of the key, for a path that ends
/// at a key; of the item's start, for one that ends at an item.
pub(crate) fn line_of(text: &str, format: Format, path: &[Step]) -> Option<usize> {
    match format {
        Format::Json => {
            let mut json = serde_json::Deserializer::from_str(text);
            match Locate(path).deserialize(&mut json) {
                Err(e) if e.to_string().contains(HERE) => Some(e.line()),
                _ => None,
            }
        }
        Format::Yaml => {
            let yaml = serde_yaml_ng::Deserializer::from_str(text);
            match Locate(path).deserialize(yaml) {
                Err(e) if e.to_string().contains(HERE) => e.location().map(|l| l.line()),
                _ => None,
            }
        }
    }
}

struct Locate<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.0.is_empty() {
            return Err(de::Error::custom(HERE));
        }
        while let Some(key) = map.next_key::<Value>()? {
            let matches = matches!(&self.0[0], Step::Key(k) if key.as_str() == Some(k.as_str()));
            if !matches {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // Failing inside the value, not at the key: the YAML parser
            // puts the position of the node being read on the error (for
            // a key, that would be its mapping's start). A scalar value
            // sits on its key's line.
            map.next_value_seed(Locate(&self.0[1..]))?;
            return Err(de::Error::custom("not found"));
        }
        Err(de::Error::custom("not found"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.0.is_empty() {
            return Err(de::Error::custom(HERE));
        }
        let Step::Index(target) = self.0[0] else {
            return Err(de::Error::custom("not found"));
        };
        for _ in 0..target {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("not found"));
            }
        }
        seq.next_element_seed(Locate(&self.0[1..]))?;
        Err(de::Error::custom("not found"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
}

impl Locate<'_> {
    fn scalar<E: de::Error>(self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(HERE))
        } else {
            Err(E::custom("not found"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(steps: &[&str]) -> Vec<Step> {
        steps
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key((*s).to_owned()),
            })
            .collect()
    }

    #[test]
    fn finds_keys_and_items_in_yaml_and_json() {
        let yaml = "integrations:\n  - kind: dbt\n    name: a\n  - kind: looker\n    name: b\n    repo_id: x\n";
        assert_eq!(
            line_of(yaml, Format::Yaml, &path(&["integrations", "1", "repo_id"])),
            Some(6)
        );
        assert_eq!(
            line_of(yaml, Format::Yaml, &path(&["integrations", "1"])),
            Some(4)
        );
        assert_eq!(
            line_of(yaml, Format::Yaml, &path(&["integrations", "1", "nope"])),
            None
        );
        let json = "{\n \"integrations\": [\n  {\"kind\": \"dbt\"},\n  {\"kind\": \"looker\",\n   \"repo_id\": \"x\"}\n ]\n}";
        assert_eq!(
            line_of(json, Format::Json, &path(&["integrations", "1", "repo_id"])),
            Some(5)
        );
    }
}
