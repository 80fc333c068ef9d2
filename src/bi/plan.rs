//! [`Plan`]: what it takes to bring the server to a
//! [`Desired`](super::Desired) set, from
//! [`BiHandler::plan`](super::BiHandler::plan): each integration as create,
//! update, replace, delete, unmanaged or unchanged, with its changed fields.
//!
//! The rules:
//! - An entry finds its integration by its `id:` pin, or else by name (two
//!   integrations of one name are a conflict: pin one). A create whose
//!   response was lost is found by its name on the next plan.
//! - Fields are compared after the spec's defaults are filled in on both
//!   sides; an empty list, an empty string and no value are the same.
//! - Secrets are never returned by Datafold, so they cannot be compared:
//!   every create, update and replace sends them, and the plan says so. With
//!   a [`SecretState`](super::SecretState) a changed secret (a rotation) is detected and planned
//!   as a change; without one it goes unnoticed until something else changes.
//! - A change that Datafold's update cannot make (anything but the schedule
//!   for the kinds whose docs say "It can only update the schedule", see
//!   [`BiKind::updates_only_schedule`]) is a replace: delete, then create,
//!   under a new id.
//! - Integrations not in the file are unmanaged, or deleted with `prune`.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::as_code_error::AsCodeError;
use super::BiKind;
use crate::Secret;

/// What a plan does with one integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Not on the server: created.
    Create,
    /// Changed in place (`PUT`), same id.
    Update,
    /// Deleted and created again (new id): a change the update cannot make.
    Replace,
    /// On the server, not in the file, and `prune` was asked for.
    Delete,
    /// On the server, not in the file: left alone.
    Unmanaged,
    /// Already as the file says.
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

impl Action {
    /// Whether `apply` would call the API for it.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Replace | Action::Delete
        )
    }

    fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Unmanaged => "?",
            Action::Unchanged => "=",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Unmanaged => "unmanaged",
            Action::Unchanged => "unchanged",
        }
    }
}

/// A value as a plan shows it: the value, or `(sensitive)` for a secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A value that is not secret (`null` when absent).
    Value(Value),
    /// A secret: neither its value nor a hash is ever shown.
    Sensitive,
}

/// What a plan prints in place of a secret.
pub const SENSITIVE: &str = "(sensitive)";

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Value(value) => value.serialize(serializer),
            Shown::Sensitive => serializer.serialize_str(SENSITIVE),
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Value(value) => write!(f, "{value}"),
            Shown::Sensitive => f.write_str(SENSITIVE),
        }
    }
}

/// One changed field: old → new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field's name.
    pub field: String,
    /// The value on the server (`null` for a create).
    pub old: Shown,
    /// The value the file asks for (`null` for a delete).
    pub new: Shown,
    /// Whether the field is a secret.
    pub sensitive: bool,
}

/// What the plan knows about an integration's secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// No state file, or nothing recorded for this integration: a rotated
    /// secret cannot be told from an unchanged one.
    NotTracked,
    /// The state file holds the hashes of these very secrets.
    Unchanged,
    /// These secrets differ from what was last sent.
    Changed(Vec<String>),
}

/// The secrets of a change: which are sent, and whether they rotated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretsNote {
    /// The entry's secret fields.
    pub fields: Vec<String>,
    /// Whether applying sends them (every create, update and replace does).
    pub sent: bool,
    /// What the state file says.
    pub rotation: Rotation,
}

/// One integration in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// What is done.
    pub action: Action,
    /// The kind (the server's, for unmanaged and deleted integrations it
    /// does not know, `None`).
    pub kind: Option<BiKind>,
    /// The name (as the file gives it, or the server's).
    pub name: Option<String>,
    /// The integration's id on the server, `None` for a create.
    pub id: Option<i64>,
    /// The line of the entry in the file, if any.
    pub line: Option<usize>,
    /// The fields that change (for a create, every field given).
    pub fields: Vec<FieldChange>,
    /// The entry's secrets.
    pub secrets: SecretsNote,
    /// Why a replace is one, or why an integration is unmanaged.
    pub reason: Option<String>,
    #[serde(skip)]
    pub(super) outgoing: Option<Outgoing>,
}

/// What a create or update sends: the body and the resolved secrets, kept
/// apart so that only [`Secret`]'s redacting `Debug` ever sees them.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    pub(super) body: Map<String, Value>,
    pub(super) secrets: Vec<(String, Secret)>,
}

impl Outgoing {
    /// The body with the secrets in it, for the typed configuration.
    pub(super) fn full_body(&self) -> Value {
        let mut body = self.body.clone();
        for (field, secret) in &self.secrets {
            body.insert(field.clone(), Value::from(secret.expose()));
        }
        Value::Object(body)
    }
}

impl Change {
    /// `looker "Looker (prod)" (id 3)`.
    pub fn label(&self) -> String {
        let id = self.id.map(|id| format!(" (id {id})")).unwrap_or_default();
        format!("{}{id}", self.kind_and_name())
    }

    /// `looker "Looker (prod)"`: the label without the id, as the state
    /// names a managed integration.
    pub(super) fn kind_and_name(&self) -> String {
        let kind = self.kind.map_or("?".to_owned(), |k| k.to_string());
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        format!("{kind}{name}")
    }
}

/// What it takes to bring the server to a [`Desired`](super::Desired) set.
/// Inspect it ([`Plan::changes`], `Display` for people, `Serialize` for
/// machines), then carry it out with [`Plan::apply`](Plan::apply).
///
/// Its JSON (`bi plan --format json`, `bi plan -o`) is versioned by
/// `format_version` ([`PLAN_FORMAT_VERSION`]); a saved plan is checked
/// against a fresh one with [`Plan::check_saved`] before it is applied.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The version of this JSON layout, [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The desired-state file's name.
    pub source: String,
    /// The API host compared with.
    pub host: String,
    /// Every integration of the file and of the server.
    pub changes: Vec<Change>,
    /// Whether a secret state was compared with (without one, no rotation
    /// is tracked and removed entries are only "unmanaged").
    pub state: bool,
    /// Whether integrations not in the file are deleted.
    pub prune: bool,
    /// The entries whose secrets are sent whatever the state says
    /// ([`PlanOptions::rotate`](super::PlanOptions::rotate)).
    pub rotate: Vec<String>,
    /// The SHA-256 of the desired-state file the plan was made from.
    pub file_digest: String,
    /// The SHA-256 of what the plan read of the server: each integration's
    /// id, type, name and the fields a plan compares, in id order.
    pub server_digest: String,
    /// Whether the secrets were read (not with
    /// [`PlanOptions::skip_secrets`](super::PlanOptions::skip_secrets)):
    /// only then can the plan be applied.
    #[serde(skip)]
    pub(super) secrets_read: bool,
}

/// The `format_version` of a [`Plan`]'s JSON. It changes when a field is
/// removed or changes meaning; fields may be added within a version.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// The largest saved plan read back.
pub const MAX_SAVED_PLAN_BYTES: u64 = 16 << 20;

/// SHA-256 of `bytes`, in lower-case hex.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    crate::sha256::Sha256::hex(bytes)
}

/// The parts of a saved plan that are checked against a fresh one.
#[derive(Debug, Deserialize)]
struct SavedPlan {
    source: String,
    host: String,
    state: bool,
    prune: bool,
    #[serde(default)]
    rotate: Vec<String>,
    file_digest: String,
    server_digest: String,
    changes: Value,
}

impl Plan {
    /// Every integration of the file and of the server, file order first.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Whether applying would call the API (a create, update, replace or
    /// delete): what the CLI's "changes pending" exit code reports.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change())
    }

    /// Read a saved plan's JSON (as `bi plan -o` writes it) far enough to
    /// make the fresh plan it must equal: the file it was made from,
    /// whether it was pruned, which entries rotate and whether a state was used.
    ///
    /// # Errors
    /// [`AsCodeError::SavedPlan`] for anything but a plan of this
    /// `format_version`.
    pub fn read_saved(json: &[u8]) -> Result<SavedPlanHeader, AsCodeError> {
        let saved = parse_saved(json)?;
        Ok(SavedPlanHeader {
            host: saved.host,
            source: saved.source,
            state: saved.state,
            prune: saved.prune,
            rotate: saved.rotate,
        })
    }

    /// Check that this fresh plan is the saved one (`json`): the same
    /// host, the same file, the same server and the same changes. Apply
    /// this plan only when it returns `Ok`.
    ///
    /// # Errors
    /// [`AsCodeError::SavedPlan`] saying what moved since the plan was
    /// saved.
    pub fn check_saved(&self, json: &[u8]) -> Result<(), AsCodeError> {
        let saved = parse_saved(json)?;
        let refuse = |why: String| Err(AsCodeError::SavedPlan(why));
        if saved.host.trim_end_matches('/') != self.host.trim_end_matches('/') {
            return refuse(format!(
                "the plan was made against {}, not {}",
                saved.host, self.host
            ));
        }
        if saved.file_digest != self.file_digest {
            return refuse(format!(
                "{} changed since the plan was made; make a new plan",
                self.source
            ));
        }
        if saved.server_digest != self.server_digest {
            return refuse(
                "the server's integrations changed since the plan was made; make a new plan"
                    .to_owned(),
            );
        }
        let fresh = serde_json::to_value(&self.changes)
            .map_err(|e| AsCodeError::SavedPlan(format!("cannot encode the plan: {e}")))?;
        if fresh != saved.changes {
            return refuse(
                "the changes differ from the saved plan's (a secret or the state moved); \
                 make a new plan"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// The labels of the plan's replaces, which [`Plan::apply_with`]
    /// carries out only when allowed.
    pub fn replace_labels(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Replace)
            .map(Change::label)
            .collect()
    }

    /// How many changes of `action` the plan holds.
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Plan for {} against {}:", self.source, self.host)?;
        for change in self
            .changes
            .iter()
            .filter(|c| c.action != Action::Unchanged)
        {
            write!(
                f,
                "  {} {} {}",
                change.action.symbol(),
                change.action.verb(),
                change.label()
            )?;
            match &change.reason {
                Some(reason) => writeln!(f, ": {reason}")?,
                None => writeln!(f)?,
            }
            for field in &change.fields {
                match change.action {
                    Action::Create => writeln!(f, "      {}: {}", field.field, field.new)?,
                    _ => writeln!(f, "      {}: {} -> {}", field.field, field.old, field.new)?,
                }
            }
            if change.secrets.sent && !change.secrets.fields.is_empty() {
                let shown: Vec<String> = change
                    .secrets
                    .fields
                    .iter()
                    .map(|field| {
                        let tracked = match &change.secrets.rotation {
                            Rotation::Changed(rotated) if rotated.contains(field) => " (rotated)",
                            Rotation::Changed(_) | Rotation::Unchanged => {
                                " (unchanged since the last apply)"
                            }
                            Rotation::NotTracked if self.state => {
                                " (rotation tracked from this apply on)"
                            }
                            Rotation::NotTracked => " (rotation not tracked: no state file)",
                        };
                        format!("{field}{tracked}")
                    })
                    .collect();
                writeln!(f, "      secrets sent: {}", shown.join(", "))?;
            }
        }
        writeln!(
            f,
            "Plan: {} to create, {} to update, {} to replace, {} to delete; {} unchanged, {} unmanaged.",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Replace),
            self.count(Action::Delete),
            self.count(Action::Unchanged),
            self.count(Action::Unmanaged),
        )?;
        let untracked: Vec<String> = self
            .changes
            .iter()
            .filter(|c| {
                c.action == Action::Unchanged
                    && !c.secrets.fields.is_empty()
                    && c.secrets.rotation == Rotation::NotTracked
            })
            .map(|c| format!("{} {}", c.label(), c.secrets.fields.join(", ")))
            .collect();
        if !untracked.is_empty() && self.state {
            writeln!(
                f,
                "Rotation not tracked yet (the state has no record; the next apply records them): {}.",
                untracked.join("; ")
            )?;
        } else if !untracked.is_empty() {
            writeln!(
                f,
                "Secrets of unchanged integrations were not compared (Datafold never returns \
                 them); a state file (--state) detects rotated secrets."
            )?;
        }
        Ok(())
    }
}

/// What a saved plan was made from, to make the fresh plan it is checked
/// against ([`Plan::read_saved`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlanHeader {
    /// The API host the plan was made against.
    pub host: String,
    /// The desired-state file, as it was named when the plan was made.
    pub source: String,
    /// Whether a state file was used (one must be given again).
    pub state: bool,
    /// Whether integrations not in the file were to be deleted.
    pub prune: bool,
    /// The entries whose secrets were to be sent whatever the state says.
    pub rotate: Vec<String>,
}

fn parse_saved(json: &[u8]) -> Result<SavedPlan, AsCodeError> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| AsCodeError::SavedPlan(format!("not a saved plan (not JSON: {e})")))?;
    match value.get("format_version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(PLAN_FORMAT_VERSION) => {}
        Some(v) => {
            return Err(AsCodeError::SavedPlan(format!(
                "a plan of format_version {v}; this version reads {PLAN_FORMAT_VERSION}"
            )))
        }
        None => {
            return Err(AsCodeError::SavedPlan(
                "not a saved plan (no format_version)".to_owned(),
            ))
        }
    }
    serde_json::from_value(value)
        .map_err(|e| AsCodeError::SavedPlan(format!("not a saved plan ({e})")))
}
