//! How a [`Plan`] is made: [`BiHandler::plan`] lists the server, finds each
//! entry's integration (by `id:` pin, else by name), and compares fields
//! and, with a [`SecretState`], secrets. The rules are in the [`super::plan`]
//! module's docs.

use std::collections::BTreeSet;

use serde_json::Value;

use super::as_code_error::AsCodeError;
use super::desired::{Desired, DesiredEntry, EntryKey};
use super::fields::kind_fields;
use super::plan::{Action, Change, FieldChange, Outgoing, Plan, Rotation, SecretsNote, Shown};
use super::state::SecretState;
use super::{BiHandler, BiKind, Integration};
use crate::Secret;

/// The unreadable secrets one message names (the rest are counted).
const MAX_UNREADABLE: usize = 20;

/// How to plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions<'s> {
    /// Delete the integrations the file does not declare (otherwise they
    /// are unmanaged).
    pub prune: bool,
    /// The hashes of the secrets last sent, to detect rotations.
    pub state: Option<&'s SecretState>,
    /// Read no secret (no variable need be set): the plan can be shown and
    /// saved, and [`Plan::apply`] refuses it. Ignored with a `state`, which
    /// compares the secrets.
    pub skip_secrets: bool,
    /// Send the secrets of these entries (by `name:`, or by the id of an
    /// `id:` pin) whatever the state says: for a secret changed outside of
    /// apply, or one the state has no record of.
    pub rotate: &'s [String],
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
        for wanted in options.rotate {
            let known = desired.entries().iter().any(|e| names(e, wanted));
            if !known {
                return Err(AsCodeError::Conflict(format!(
                    "no entry of {} is named {wanted:?} or pins id {wanted}, so it cannot be rotated",
                    desired.source_name()
                )));
            }
        }
        // Every secret that cannot be read is named at once, not one a run.
        let mut resolved = Vec::new();
        let mut unreadable = Vec::new();
        let skip_secrets = options.skip_secrets && options.state.is_none();
        for entry in desired.entries() {
            let mut secrets = Vec::new();
            for (field, reference) in entry.secrets().iter().filter(|_| !skip_secrets) {
                match reference.resolve(desired.base_dir()) {
                    Ok(secret) => secrets.push((field.clone(), secret)),
                    Err(e) => unreadable.push(format!("{} field `{field}`: {e}", entry.label())),
                }
            }
            resolved.push(secrets);
        }
        match unreadable.len() {
            0 => {}
            1 => return Err(AsCodeError::Secret(unreadable.remove(0))),
            n => {
                let mut shown: Vec<String> = unreadable.into_iter().take(MAX_UNREADABLE).collect();
                if n > MAX_UNREADABLE {
                    shown.push(format!("and {} more", n - MAX_UNREADABLE));
                }
                return Err(AsCodeError::Secret(format!(
                    "{n} secrets cannot be read:\n  {}",
                    shown.join("\n  ")
                )));
            }
        }
        let server = self.list().await?;
        // Pins claim their integrations first, so that a name never
        // matches an integration another entry pins.
        let mut claimed = BTreeSet::new();
        let mut matched: Vec<Option<&Integration>> = vec![None; desired.entries().len()];
        let pinned_first = desired
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.key(), EntryKey::Id(_)))
            .chain(
                desired
                    .entries()
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| matches!(e.key(), EntryKey::Name(_))),
            );
        for (index, entry) in pinned_first {
            if let Some(item) = find(entry, server.items(), &claimed)? {
                claimed.insert(item.id());
                matched[index] = Some(item);
            }
        }
        let mut changes = Vec::new();
        let mut fetched = Vec::new();
        let entries = desired.entries().iter().zip(resolved).zip(matched);
        for ((entry, secrets), found) in entries {
            let current = match found {
                Some(item) => {
                    // An adopted entry keeps the fields it leaves out, so
                    // all of them must be known, not only those it names.
                    let complete = if matches!(entry.key(), EntryKey::Id(_)) {
                        kind_fields(entry.kind())
                            .iter()
                            .filter(|f| !f.secret)
                            .all(|f| item.get(&f.name).is_some())
                    } else {
                        entry.config().keys().all(|k| item.get(k).is_some())
                    };
                    Some(if complete {
                        item.clone()
                    } else {
                        let full = self.get(item.id()).await?;
                        fetched.push(full.clone());
                        full
                    })
                }
                None => None,
            };
            let forced = rotates(entry, options.rotate);
            changes.push(compare(
                entry,
                secrets,
                current.as_ref(),
                options.state,
                forced,
            ));
        }
        // In id order, whatever order the server lists them in, so that a
        // saved plan's changes compare equal.
        let mut others: Vec<&Integration> = server.items().iter().collect();
        others.sort_by_key(|item| item.id());
        for item in others {
            let id = item.id();
            if claimed.contains(&id) {
                continue;
            }
            let managed = options.state.is_some_and(|state| state.is_managed(id));
            let (action, reason) = if managed {
                (
                    Action::Delete,
                    Some("removed from the file, which managed it (per the state file)".to_owned()),
                )
            } else if options.prune {
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
        // A managed delete beside a create of the same kind may be a rename
        // of an entry matched by name: say how to make it an update.
        let created: Vec<BiKind> = changes
            .iter()
            .filter(|c| c.action == Action::Create)
            .filter_map(|c| c.kind)
            .collect();
        for change in changes.iter_mut() {
            let managed_delete = change.action == Action::Delete
                && change
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("removed from the file"));
            if let (true, Some(kind), Some(id)) = (managed_delete, change.kind, change.id) {
                if created.contains(&kind) {
                    if let Some(reason) = change.reason.as_mut() {
                        reason.push_str(&format!(
                            "; if a {kind} created here is this one renamed, pin `id: {id}` in its entry to update it instead"
                        ));
                    }
                }
            }
        }
        Ok(Plan {
            format_version: super::plan::PLAN_FORMAT_VERSION,
            source: desired.source_name().to_owned(),
            host: self.client.host().to_owned(),
            changes,
            state: options.state.is_some(),
            prune: options.prune,
            rotate: options.rotate.to_vec(),
            file_digest: desired.digest().to_owned(),
            server_digest: server_digest(server.items(), &fetched),
            secrets_read: !skip_secrets,
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
            .find(|i| i.id() == *id)
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
                .filter(|i| !claimed.contains(&i.id()))
                .collect();
            match same[..] {
                [] => Ok(None),
                [one] => Ok(Some(one)),
                _ => {
                    let ids: Vec<String> = same.iter().map(|i| i.id().to_string()).collect();
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

/// Whether `entry` is one of `rotate` (by name, or by its pinned id).
fn rotates(entry: &DesiredEntry, rotate: &[String]) -> bool {
    rotate.iter().any(|wanted| names(entry, wanted))
}

/// Whether `wanted` names `entry`: its `name:`, or the id it pins.
fn names(entry: &DesiredEntry, wanted: &str) -> bool {
    entry.name() == Some(wanted)
        || matches!(entry.key(), EntryKey::Id(id) if id.to_string() == wanted)
}

/// SHA-256 over what a plan reads of the server: for each integration (the
/// list's, then those fetched whole), in id order, its id, type, name and
/// the non-secret fields of its kind. Other fields (a sync's time, say)
/// are left out, so that they do not make a saved plan stale.
fn server_digest(listed: &[Integration], fetched: &[Integration]) -> String {
    let mut seen = std::collections::BTreeMap::new();
    for item in listed.iter().chain(fetched) {
        let mut fields = std::collections::BTreeMap::new();
        for key in ["id", "type", "name"] {
            fields.insert(
                key.to_owned(),
                item.get(key).cloned().unwrap_or(Value::Null),
            );
        }
        if let Some(kind) = item.kind() {
            for field in kind_fields(kind).iter().filter(|f| !f.secret) {
                if let Some(value) = item.get(&field.name) {
                    fields.insert(field.name.clone(), value.clone());
                }
            }
        }
        // A fetched integration replaces its listed summary.
        seen.insert(item.id(), fields);
    }
    let canonical = serde_json::to_vec(&seen).unwrap_or_default();
    super::plan::sha256_hex(&canonical)
}

fn compare(
    entry: &DesiredEntry,
    secrets: Vec<(String, Secret)>,
    current: Option<&Integration>,
    state: Option<&SecretState>,
    forced: bool,
) -> Change {
    let kind = entry.kind();
    let fields = kind_fields(kind);
    // The file's secret fields, whether or not their values were read.
    let sent: Vec<String> = entry.secrets().keys().cloned().collect();
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
    let id = current.id();
    change.id = Some(id);
    if change.name.is_none() {
        change.name = current.name().map(str::to_owned);
    }
    // An adopted entry (an `id:` pin) changes only what it names: a field
    // it leaves out keeps the server's value, which its update sends back.
    let adopted = matches!(entry.key(), EntryKey::Id(_));
    for field in fields.iter().filter(|f| !f.secret) {
        if adopted && !entry.config().contains_key(&field.name) {
            if let (Some(outgoing), Some(value)) =
                (change.outgoing.as_mut(), current.get(&field.name))
            {
                if !value.is_null() {
                    outgoing.body.insert(field.name.clone(), value.clone());
                }
            }
            continue;
        }
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
            .map(|(field, secret)| {
                let matched = state.matches(id, field, secret);
                // An integration the file manages whose secret has no
                // record: the file never sent it, so it is sent now
                // rather than taken as the baseline.
                let matched = match matched {
                    None if state.is_managed(id) => Some(false),
                    other => other,
                };
                (field.clone(), matched)
            })
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
    if forced && !sent.is_empty() {
        let rotated: Vec<String> = match &change.secrets.rotation {
            Rotation::Changed(already) => already.clone(),
            _ => Vec::new(),
        };
        let more: Vec<String> = sent
            .iter()
            .filter(|f| !rotated.contains(f))
            .cloned()
            .collect();
        change.fields.extend(more.iter().map(|f| sensitive(f)));
        change.secrets.rotation = Rotation::Changed(rotated.into_iter().chain(more).collect());
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
        // The outgoing secrets stay: an apply with nothing to do records
        // them in the state as the baseline a later rotation is told from.
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
