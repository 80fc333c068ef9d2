//! [`Plan::apply`]: carry a plan out, one integration at a time, and say
//! what was done and what was not.
//!
//! Each change is independent: a failure is recorded and the next change is
//! tried, so a rerun has less to do. A replace deletes first, then creates
//! (two integrations of one name would make the next plan ambiguous); if the
//! delete fails, nothing is created. A create that fails in a way that may
//! have reached the server (a reset, a 5xx) is never simply sent again: the
//! list is read and the integration looked up by its name first, and only
//! when it is not there is the create sent again (at most
//! [`CREATE_ATTEMPTS`] times). So no entry is ever created twice.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::Value;

use super::as_code_error::AsCodeError;
use super::plan::{Action, Change, Outgoing, Plan};
use super::state::SecretState;
use super::{BiKind, ConfigVisitor, Integration, KindConfig};
use crate::{Client, Error};

/// How many times apply sends one create, looking the name up in between.
pub const CREATE_ATTEMPTS: usize = 3;

/// How to apply.
#[derive(Debug, Default)]
pub struct ApplyOptions<'s> {
    /// Carry out replaces (delete plus create, new id). Without it, a plan
    /// that holds one is refused before anything is sent.
    pub allow_replace: bool,
    /// Where to record the hashes of the secrets sent (saved at the end,
    /// also after a partial failure).
    pub state: Option<&'s mut SecretState>,
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Carried out; `id` is the integration's id afterwards.
    Done {
        /// The integration's id (the new one, after a create or replace).
        id: Option<i64>,
    },
    /// Tried, and failed: nothing of it was done (for a replace whose
    /// delete went through, the old integration is gone and the new one
    /// is created by a rerun).
    Failed {
        /// Why, with secrets masked.
        error: String,
    },
}

/// One change of the plan and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// What was planned.
    pub action: Action,
    /// `looker "Looker (prod)" (id 3)`.
    pub label: String,
    /// The integration's id before (`None` for a create).
    pub previous_id: Option<i64>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What an apply did, change by change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// Every change of the plan that calls the API, in plan order.
    pub changes: Vec<Applied>,
}

impl ApplyReport {
    /// Whether every change was carried out.
    pub fn is_complete(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Done { .. }))
    }

    /// The changes that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Applied> {
        self.changes
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
    }
}

impl Plan {
    /// Carry out the plan's creates, updates and deletes; a plan with a
    /// replace is refused (see [`Plan::apply_with`]).
    ///
    /// # Errors
    /// [`AsCodeError::ReplaceNotAllowed`] before anything is sent. A failed
    /// change is not an error: see [`ApplyReport::is_complete`].
    pub async fn apply(&self, client: &Client) -> Result<ApplyReport, AsCodeError> {
        self.apply_with(client, ApplyOptions::default()).await
    }

    /// Carry out the plan with `options`.
    ///
    /// # Errors
    /// [`AsCodeError::Secret`] for a plan made with
    /// [`PlanOptions::skip_secrets`](super::PlanOptions::skip_secrets),
    /// [`AsCodeError::ReplaceNotAllowed`] when the plan holds a replace and
    /// `allow_replace` is not set (nothing is sent), and
    /// [`AsCodeError::State`] when the state cannot be saved afterwards. A
    /// failed change is not an error: see [`ApplyReport::is_complete`].
    pub async fn apply_with(
        &self,
        client: &Client,
        mut options: ApplyOptions<'_>,
    ) -> Result<ApplyReport, AsCodeError> {
        if !self.secrets_read {
            return Err(AsCodeError::Secret(
                "this plan was made without reading the secrets (PlanOptions::skip_secrets), \
                 so it cannot be applied; make it again without skip_secrets"
                    .to_owned(),
            ));
        }
        let replaces = self.replace_labels();
        if !replaces.is_empty() && !options.allow_replace {
            return Err(AsCodeError::ReplaceNotAllowed(format!(
                "the plan replaces {} (delete, then create under a new id); nothing was changed. \
                 Allow it with ApplyOptions::allow_replace",
                replaces.join(", ")
            )));
        }
        let mut report = ApplyReport::default();
        for change in self.changes.iter().filter(|c| c.action.is_change()) {
            let outcome = match apply_one(client, change, options.state.as_deref_mut()).await {
                Ok(id) => Outcome::Done { id },
                Err(error) => Outcome::Failed {
                    error: error.to_string(),
                },
            };
            report.changes.push(Applied {
                action: change.action,
                label: change.label(),
                previous_id: change.id,
                outcome,
            });
        }
        if let Some(state) = options.state {
            // Unchanged integrations are managed too, and their secrets,
            // where nothing was recorded, become the baseline a later
            // rotation is told from: the state is refreshed on every
            // apply, with or without changes.
            for change in self
                .changes
                .iter()
                .filter(|c| c.action == Action::Unchanged)
            {
                let (Some(id), Some(outgoing)) = (change.id, &change.outgoing) else {
                    continue;
                };
                state.manage(id, &change.kind_and_name());
                for (field, secret) in &outgoing.secrets {
                    if !state.has_record(id, field) {
                        state.record(id, field, secret);
                    }
                }
            }
            state.save()?;
        }
        Ok(report)
    }
}

async fn apply_one(
    client: &Client,
    change: &Change,
    mut state: Option<&mut SecretState>,
) -> Result<Option<i64>, Error> {
    let bi = client.bi();
    let kind = change.kind;
    match (change.action, &change.outgoing, kind) {
        (Action::Delete, _, _) => {
            let id = change.id.unwrap_or_default();
            remove(client, id).await?;
            if let Some(state) = state {
                state.forget(id);
            }
            Ok(None)
        }
        (Action::Update, Some(outgoing), Some(kind)) => {
            let id = change.id.unwrap_or_default();
            // The state is kept under the id that was updated.
            kind.visit_config(SendBody::new(client, outgoing, Some(id)))
                .await?;
            record(state, Some(id), change, outgoing);
            Ok(Some(id))
        }
        (Action::Create | Action::Replace, Some(outgoing), Some(kind)) => {
            if let (Action::Replace, Some(old)) = (change.action, change.id) {
                remove(client, old).await?;
                if let Some(state) = state.as_deref_mut() {
                    state.forget(old);
                }
            }
            let created = create_once(client, kind, outgoing, change.name.as_deref()).await?;
            record(state, Some(created.id()), change, outgoing);
            Ok(Some(created.id()))
        }
        _ => {
            let _ = bi;
            Ok(change.id)
        }
    }
}

/// Delete `id`; one already gone counts as deleted (a rerun after a lost
/// response).
async fn remove(client: &Client, id: i64) -> Result<(), Error> {
    match client.bi().remove(id).await {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(other) => Err(other),
    }
}

fn record(state: Option<&mut SecretState>, id: Option<i64>, change: &Change, outgoing: &Outgoing) {
    if let (Some(state), Some(id)) = (state, id) {
        state.manage(id, &change.kind_and_name());
        for (field, secret) in &outgoing.secrets {
            state.record(id, field, secret);
        }
    }
}

/// Whether a failed create may have been carried out, or may go through
/// when sent again.
fn may_be_transient(error: &Error) -> bool {
    matches!(
        error,
        Error::RateLimited { .. }
            | Error::Server(_)
            | Error::Timeout { .. }
            | Error::Connection { .. }
            | Error::Decode { .. }
            | Error::UnexpectedStatus(_)
    )
}

/// Create the integration, never twice: after a failure that may have
/// reached the server, the list is searched for `name` (and the kind)
/// before the create is sent again.
async fn create_once(
    client: &Client,
    kind: BiKind,
    outgoing: &Outgoing,
    name: Option<&str>,
) -> Result<Integration, Error> {
    let mut last = None;
    for _ in 0..CREATE_ATTEMPTS {
        match kind
            .visit_config(SendBody::new(client, outgoing, None))
            .await
        {
            Ok(created) => return Ok(created),
            Err(error) if may_be_transient(&error) => {
                let Some(name) = name else {
                    return Err(error);
                };
                // Idempotent, so retried by the transport.
                let list = client.bi().list().await?;
                let found = list
                    .iter()
                    .find(|i| i.name() == Some(name) && i.kind() == Some(kind));
                if let Some(found) = found {
                    return Ok(found.clone());
                }
                last = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| Error::InvalidRequest {
        message: "no create was attempted".to_owned(),
    }))
}

/// Sends a body as the visited kind's typed configuration: a create, or an
/// update of `id`.
struct SendBody<'a> {
    client: &'a Client,
    body: Value,
    id: Option<i64>,
}

impl<'a> SendBody<'a> {
    fn new(client: &'a Client, outgoing: &Outgoing, id: Option<i64>) -> Self {
        Self {
            client,
            body: outgoing.full_body(),
            id,
        }
    }
}

impl<'a> ConfigVisitor for SendBody<'a> {
    type Output = Pin<Box<dyn Future<Output = Result<Integration, Error>> + Send + 'a>>;

    fn visit<C: KindConfig>(self) -> Self::Output {
        Box::pin(async move {
            // The body was checked against `C` when the file was read.
            let config: C =
                serde_json::from_value(self.body).map_err(|e| Error::InvalidRequest {
                    message: format!(
                        "the configuration does not fit its kind: {}",
                        crate::secret::mask_fields_in_text(&e.to_string())
                    ),
                })?;
            let bi = self.client.bi();
            match self.id {
                Some(id) => bi.update(id, config).await,
                None => bi.create(config).await,
            }
        })
    }
}
