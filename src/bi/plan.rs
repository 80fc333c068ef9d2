//! [`Plan`]: what it takes to bring the server to a [`Desired`] set, from
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
//!   a [`SecretState`] a changed secret (a rotation) is detected and planned
//!   as a change; without one it goes unnoticed until something else changes.
//! - A change that Datafold's update cannot make (anything but the schedule
//!   for the kinds whose docs say "It can only update the schedule", see
//!   [`BiKind::updates_only_schedule`]) is a replace: delete, then create,
//!   under a new id.
//! - Integrations not in the file are unmanaged, or deleted with `prune`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::as_code_error::AsCodeError;
use super::desired::{Desired, DesiredEntry, EntryKey};
use super::fields::kind_fields;
use super::state::SecretState;
use super::{BiHandler, BiKind, Integration};
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

/// What it takes to bring the server to a [`Desired`] set. Inspect it
/// ([`Plan::changes`], `Display` for people, `Serialize` for machines), then
/// carry it out with [`Plan::apply`](Plan::apply).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The desired-state file's name.
    pub source: String,
    /// The API host compared with.
    pub host: String,
    /// Every integration of the file and of the server.
    pub changes: Vec<Change>,
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
                    Rotation::NotTracked => "",
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
        let untracked = self.changes.iter().any(|c| {
            c.action == Action::Unchanged
                && !c.secrets.fields.is_empty()
                && c.secrets.rotation == Rotation::NotTracked
        });
        if untracked {
            writeln!(
                f,
                "Secrets of unchanged integrations were not compared (Datafold never returns \
                 them); a state file (--state) detects rotated secrets."
            )?;
        }
        Ok(())
    }
}

/// How to plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions<'s> {
    /// Delete the integrations the file does not declare (otherwise they
    /// are unmanaged).
    pub prune: bool,
    /// The hashes of the secrets last sent, to detect rotations.
    pub state: Option<&'s SecretState>,
}

impl BiHandler<'_> {
    /// Compare `desired` with the server; nothing is changed.
    ///
    /// # Errors
    /// [`AsCodeError::Secret`] for a reference that cannot be resolved,
    /// [`AsCodeError::Conflict`] for a pin to a missing id or a name shared
    /// by several integrations, [`AsCodeError::Api`] when a call fails.
    pub async fn plan(&self, desired: &Desired) -> Result<Plan, AsCodeError> {
        self.plan_with(desired, PlanOptions::default()).await
    }

    /// [`BiHandler::plan`], with `prune` and a secret state.
    ///
    /// # Errors
    /// As [`BiHandler::plan`].
    pub async fn plan_with(
        &self,
        desired: &Desired,
        options: PlanOptions<'_>,
    ) -> Result<Plan, AsCodeError> {
        let mut resolved = Vec::new();
        for entry in desired.entries() {
            let mut secrets = Vec::new();
            for (field, reference) in entry.secrets() {
                let secret = reference.resolve(desired.base_dir()).map_err(|e| {
                    AsCodeError::Secret(format!("{} field `{field}`: {e}", entry.label()))
                })?;
                secrets.push((field.clone(), secret));
            }
            resolved.push(secrets);
        }
        let server = self.list().await?;
        let mut claimed = BTreeSet::new();
        let mut changes = Vec::new();
        for (entry, secrets) in desired.entries().iter().zip(resolved) {
            let found = find(entry, server.items(), &claimed)?;
            let current = match found {
                Some(item) => {
                    let id = item.id().unwrap_or_default();
                    claimed.insert(id);
                    let complete = entry.config().keys().all(|k| item.get(k).is_some());
                    Some(if complete {
                        item.clone()
                    } else {
                        self.get(id).await?
                    })
                }
                None => None,
            };
            changes.push(compare(entry, secrets, current.as_ref(), options.state));
        }
        for item in server.items() {
            let Some(id) = item.id() else { continue };
            if claimed.contains(&id) {
                continue;
            }
            let (action, reason) = if options.prune {
                (Action::Delete, None)
            } else {
                (
                    Action::Unmanaged,
                    Some("not in the file; --prune deletes it".to_owned()),
                )
            };
            changes.push(Change {
                action,
                kind: item.kind(),
                name: item.name().map(str::to_owned),
                id: Some(id),
                line: None,
                fields: Vec::new(),
                secrets: SecretsNote {
                    fields: Vec::new(),
                    sent: false,
                    rotation: Rotation::NotTracked,
                },
                reason,
                outgoing: None,
            });
        }
        Ok(Plan {
            source: desired.source_name().to_owned(),
            host: self.client.host().to_owned(),
            changes,
        })
    }
}

/// The server's integration for `entry`, if any.
fn find<'a>(
    entry: &DesiredEntry,
    items: &'a [Integration],
    claimed: &BTreeSet<i64>,
) -> Result<Option<&'a Integration>, AsCodeError> {
    let line = entry
        .line()
        .map(|l| format!(" (line {l})"))
        .unwrap_or_default();
    match entry.key() {
        EntryKey::Id(id) => items
            .iter()
            .find(|i| i.id() == Some(*id))
            .map(Some)
            .ok_or_else(|| {
                AsCodeError::Conflict(format!(
                    "{}{line} is pinned to integration {id}, which does not exist; remove the \
                     `id:` to create it, or pin an existing one (datafold bi list)",
                    entry.label()
                ))
            }),
        EntryKey::Name(name) => {
            let same: Vec<&Integration> = items
                .iter()
                .filter(|i| i.name() == Some(name.as_str()))
                .filter(|i| !i.id().is_some_and(|id| claimed.contains(&id)))
                .collect();
            match same[..] {
                [] => Ok(None),
                [one] => Ok(Some(one)),
                _ => {
                    let ids: Vec<String> = same
                        .iter()
                        .filter_map(|i| i.id())
                        .map(|i| i.to_string())
                        .collect();
                    Err(AsCodeError::Conflict(format!(
                        "{}{line}: {} integrations are named {name:?} (ids {}); pin the one to \
                         keep with `id:` and remove or rename the others",
                        entry.label(),
                        ids.len(),
                        ids.join(", ")
                    )))
                }
            }
        }
    }
}

/// `null`, `[]`, `{}` and `""` all mean "nothing".
fn normalized(value: Option<&Value>) -> Value {
    match value {
        None => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(other) => other.clone(),
    }
}

fn compare(
    entry: &DesiredEntry,
    secrets: Vec<(String, Secret)>,
    current: Option<&Integration>,
    state: Option<&SecretState>,
) -> Change {
    let kind = entry.kind();
    let fields = kind_fields(kind);
    let sent: Vec<String> = secrets.iter().map(|(f, _)| f.clone()).collect();
    let mut change = Change {
        action: Action::Create,
        kind: Some(kind),
        name: entry.name().map(str::to_owned),
        id: None,
        line: entry.line(),
        fields: Vec::new(),
        secrets: SecretsNote {
            fields: sent.clone(),
            sent: true,
            rotation: Rotation::NotTracked,
        },
        reason: None,
        outgoing: Some(Outgoing {
            body: entry.config().clone(),
            secrets: secrets.clone(),
        }),
    };
    let sensitive = |field: &str| FieldChange {
        field: field.to_owned(),
        old: Shown::Sensitive,
        new: Shown::Sensitive,
        sensitive: true,
    };
    let Some(current) = current else {
        for field in &fields {
            if field.secret {
                if sent.contains(&field.name) {
                    let mut shown = sensitive(&field.name);
                    shown.old = Shown::Value(Value::Null);
                    change.fields.push(shown);
                }
            } else if let Some(value) = entry.config().get(&field.name) {
                change.fields.push(FieldChange {
                    field: field.name.clone(),
                    old: Shown::Value(Value::Null),
                    new: Shown::Value(value.clone()),
                    sensitive: false,
                });
            }
        }
        return change;
    };
    let id = current.id().unwrap_or_default();
    change.id = Some(id);
    if change.name.is_none() {
        change.name = current.name().map(str::to_owned);
    }
    for field in fields.iter().filter(|f| !f.secret) {
        let default = field.default.as_ref();
        let wanted = normalized(entry.config().get(&field.name).or(default));
        let there = normalized(current.get(&field.name).or(default));
        if wanted != there {
            change.fields.push(FieldChange {
                field: field.name.clone(),
                old: Shown::Value(there),
                new: Shown::Value(wanted),
                sensitive: false,
            });
        }
    }
    if let Some(state) = state {
        let checks: Vec<(String, Option<bool>)> = secrets
            .iter()
            .map(|(field, secret)| (field.clone(), state.matches(id, field, secret)))
            .collect();
        let rotated: Vec<String> = checks
            .iter()
            .filter(|(_, m)| *m == Some(false))
            .map(|(f, _)| f.clone())
            .collect();
        change.secrets.rotation = if !rotated.is_empty() {
            change.fields.extend(rotated.iter().map(|f| sensitive(f)));
            Rotation::Changed(rotated)
        } else if !checks.is_empty() && checks.iter().all(|(_, m)| *m == Some(true)) {
            Rotation::Unchanged
        } else {
            Rotation::NotTracked
        };
    }
    let server_kind = current.kind();
    if server_kind != Some(kind) {
        change.action = Action::Replace;
        change.reason = Some(format!(
            "the kind changes from {} to {kind}, which needs a new integration",
            current.type_name().unwrap_or("unknown")
        ));
        return change;
    }
    if change.fields.is_empty() {
        change.action = Action::Unchanged;
        change.secrets.sent = false;
        change.outgoing = None;
        return change;
    }
    let beyond_schedule: Vec<&str> = change
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .filter(|f| *f != "indexing_cron")
        .collect();
    if kind.updates_only_schedule() && !beyond_schedule.is_empty() {
        change.action = Action::Replace;
        change.reason = Some(format!(
            "{}'s update can only change the schedule (Datafold's docs), and {} changes",
            kind.display_name(),
            beyond_schedule.join(", ")
        ));
    } else {
        change.action = Action::Update;
    }
    change
}
