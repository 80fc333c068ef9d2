//! Reads `openapi/deviations.yaml`: the declared, intentional differences
//! between the spec and the docs, and the scope of the comparison.
//!
//! ```yaml
//! version: 1
//! scope:                       # optional; without it every documented operation is compared
//!   paths: [/api/v1/audit_logs, /api/v1/lineage/bi/]
//!   reason: one line
//! deviations:
//!   - operation: GET /api/v1/lineage/bi/      # or `operations: [..]` for the same difference on several
//!     field: responses.200.schema             # as the report names it
//!     docs: any                               # omit: any value; `~`: missing in the docs
//!     spec: BiIntegrationList                 # omit: any value; `~`: missing in the spec
//!     witness: pages/list-all/2.md            # omit: every witness; else a snapshot file or a kind
//!     reason: one line
//! notes: [...]                                # free-form, ignored by the check
//! ```
//!
//! A declaration silences exactly the findings it matches; for each listed
//! operation that no finding matches, the declaration is stale. `witness`
//! narrows it to the findings of one witness: a snapshot file as the report
//! names it, or a kind (`page`, `document`, `rendered`).

use std::path::Path;

use serde_json::{Map, Value};

use super::model::{plain, OpKey};
use super::snapshots::read_document;

/// What a declaration expects on one side.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Any value (the key was omitted).
    Any,
    /// The side lacks it (`~`).
    Missing,
    /// Exactly this value.
    Value(Value),
}

impl Expect {
    /// Whether a finding's value on this side satisfies the expectation.
    pub fn accepts(&self, value: Option<&Value>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Missing => value.is_none(),
            Expect::Value(expected) => value == Some(expected),
        }
    }

    fn show(&self) -> String {
        match self {
            Expect::Any => "any".to_string(),
            Expect::Missing => "missing".to_string(),
            Expect::Value(value) => plain(value),
        }
    }
}

/// One declared deviation.
#[derive(Clone, Debug)]
pub struct Deviation {
    /// Its position in the file, from 1, for messages.
    pub number: usize,
    /// The operations it covers.
    pub operations: Vec<OpKey>,
    /// The report's field name (`operation_id`, `body.name.type`, ...).
    pub field: String,
    /// The docs side.
    pub docs: Expect,
    /// The spec side.
    pub spec: Expect,
    /// The witness file or kind it is limited to; `None`: every witness.
    pub witness: Option<String>,
    /// Why the spec differs.
    pub reason: String,
}

impl Deviation {
    /// Whether it declares this finding: `witness` is the finding's witness
    /// as (file, kind), `None` for an operation no witness describes.
    pub fn matches(
        &self,
        operation: &OpKey,
        field: &str,
        docs: Option<&Value>,
        spec: Option<&Value>,
        witness: Option<(&str, &str)>,
    ) -> bool {
        let witness_matches = match (&self.witness, witness) {
            (None, _) => true,
            (Some(scope), Some((file, kind))) => scope == file || scope == kind,
            (Some(_), None) => false,
        };
        self.field == field
            && self.operations.contains(operation)
            && self.docs.accepts(docs)
            && self.spec.accepts(spec)
            && witness_matches
    }

    /// `field (docs: x, spec: y)`, for the stale list.
    pub fn describe(&self) -> String {
        let witness = match &self.witness {
            Some(witness) => format!(", witness: {witness}"),
            None => String::new(),
        };
        format!(
            "{} (docs: {}, spec: {}{witness})",
            self.field,
            self.docs.show(),
            self.spec.show()
        )
    }
}

/// The whole file.
#[derive(Clone, Debug, Default)]
pub struct Deviations {
    /// Path prefixes of the operations compared; `None`: all.
    pub scope: Option<Vec<String>>,
    /// The declarations, in file order.
    pub entries: Vec<Deviation>,
}

impl Deviations {
    /// Whether an operation found only in a whole OpenAPI document is compared.
    pub fn in_scope(&self, path: &str) -> bool {
        let Some(prefixes) = &self.scope else {
            return true;
        };
        prefixes.iter().any(|prefix| {
            path == prefix
                || (prefix.ends_with('/') && path.starts_with(prefix.as_str()))
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// Reads and validates the file.
pub fn load(path: &Path) -> Result<Deviations, String> {
    let doc = read_document(path).map_err(|e| format!("deviations {}: {e}", path.display()))?;
    parse(&doc).map_err(|e| format!("deviations {}: {e}", path.display()))
}

fn parse(doc: &Value) -> Result<Deviations, String> {
    let top = doc
        .as_object()
        .ok_or("expected a mapping with `version` and `deviations`")?;
    only_keys(
        top,
        &["version", "scope", "deviations", "notes"],
        "the top level",
    )?;
    if top.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("`version: 1` is required (the only format this check reads)".to_string());
    }
    let scope = match top.get("scope") {
        None => None,
        Some(scope) => {
            let scope = scope
                .as_object()
                .ok_or("`scope` must be a mapping with `paths` and `reason`")?;
            only_keys(scope, &["paths", "reason"], "`scope`")?;
            one_line(scope.get("reason"), "`scope`")?;
            let paths = strings(scope.get("paths"))
                .ok_or("`scope.paths` must be a list of path prefixes")?;
            Some(paths)
        }
    };
    let list = match top.get("deviations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err("`deviations` must be a list".to_string()),
    };
    let entries = list
        .iter()
        .enumerate()
        .map(|(i, entry)| deviation(i + 1, entry).map_err(|e| format!("deviation #{}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    Ok(Deviations { scope, entries })
}

fn deviation(number: usize, entry: &Value) -> Result<Deviation, String> {
    let entry = entry.as_object().ok_or("expected a mapping")?;
    only_keys(
        entry,
        &[
            "operation",
            "operations",
            "field",
            "docs",
            "spec",
            "witness",
            "reason",
        ],
        "an entry",
    )?;
    let texts = match (entry.get("operation"), entry.get("operations")) {
        (Some(Value::String(one)), None) => vec![one.clone()],
        (None, Some(many)) => {
            strings(Some(many)).ok_or("`operations` must be a list of \"METHOD /path\"")?
        }
        _ => {
            return Err(
                "give exactly one of `operation: \"METHOD /path\"` or `operations: [...]`"
                    .to_string(),
            )
        }
    };
    let operations = texts
        .iter()
        .map(|t| OpKey::parse(t).ok_or(format!("`{t}` is not \"METHOD /path\"")))
        .collect::<Result<Vec<_>, _>>()?;
    let field = entry
        .get("field")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or("`field` is required")?
        .to_string();
    let expect = |key: &str| match entry.get(key) {
        None => Expect::Any,
        Some(Value::Null) => Expect::Missing,
        Some(value) => Expect::Value(value.clone()),
    };
    let witness = match entry.get("witness") {
        None => None,
        Some(Value::String(witness)) if !witness.trim().is_empty() => Some(witness.trim().to_string()),
        Some(_) => {
            return Err(
                "`witness` must be a snapshot file (as the report names it) or one of page, document, rendered"
                    .to_string(),
            )
        }
    };
    let reason = one_line(entry.get("reason"), "an entry")?;
    Ok(Deviation {
        number,
        operations,
        field,
        docs: expect("docs"),
        spec: expect("spec"),
        witness,
        reason,
    })
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "unknown key `{key}` in {what} (allowed: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn one_line(reason: Option<&Value>, what: &str) -> Result<String, String> {
    match reason.and_then(Value::as_str).map(str::trim) {
        Some(reason) if !reason.is_empty() && !reason.contains('\n') => Ok(reason.to_string()),
        _ => Err(format!("{what} needs a one-line `reason`")),
    }
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}
