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

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

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
        let kind = self.kind.map_or("?".to_owned(), |k| k.to_string());
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        let id = self.id.map(|id| format!(" (id {id})")).unwrap_or_default();
        format!("{kind}{name}{id}")
    }
}

/// What it takes to bring the server to a [`Desired`](super::Desired) set.
/// Inspect it ([`Plan::changes`], `Display` for people, `Serialize` for
/// machines), then carry it out with [`Plan::apply`](Plan::apply).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The desired-state file's name.
    pub source: String,
    /// The API host compared with.
    pub host: String,
    /// Every integration of the file and of the server.
    pub changes: Vec<Change>,
    /// Whether a secret state was compared with (without one, no rotation
    /// is tracked and removed entries are only "unmanaged").
    pub state: bool,
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
                let tracked = match &change.secrets.rotation {
                    Rotation::NotTracked if self.state => " (rotation tracked from this apply on)",
                    Rotation::NotTracked => " (rotation not tracked: no state file)",
                    Rotation::Unchanged => " (unchanged since the last apply)",
                    Rotation::Changed(_) => " (rotated)",
                };
                writeln!(
                    f,
                    "      secrets sent: {}{tracked}",
                    change.secrets.fields.join(", ")
                )?;
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
