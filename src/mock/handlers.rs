//! What the 17 operations do to the mock's state: BI integrations kept in
//! memory (secrets stored, never returned) and audit events recorded for
//! every change. Requests reach these functions already routed, authenticated
//! and validated against the spec (see `router.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Map, Value};

use super::audit::{self, AuditChunks, SeedHistory};
use super::live::{LiveSelection, LiveTraffic};
use super::schema::Spec;
use crate::bi::BiKind;
use crate::types::AuditLog;

/// The status of a PUT whose kind differs from the integration's: the request
/// is well-formed (so not 422) but names the wrong endpoint for this id.
pub(crate) const KIND_MISMATCH_STATUS: u16 = 400;

/// A caller, as identified by its API key.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) email: String,
}

/// One stored integration: its kind, body schema and configuration (with
/// secrets and defaults).
#[derive(Debug, Clone)]
struct Stored {
    kind: String,
    schema: String,
    config: Value,
}

/// Everything the mock remembers between requests.
#[derive(Debug)]
pub(crate) struct State {
    integrations: BTreeMap<i64, Stored>,
    next_id: i64,
    history: SeedHistory,
    recorded: Vec<(DateTime<Utc>, AuditLog)>,
    live: Option<LiveTraffic>,
    seed: u64,
}

/// A validated request, ready for its operation.
pub(crate) struct Call<'a> {
    pub(crate) operation_id: &'a str,
    /// The kind segment of a create/update path (`looker`, ...).
    pub(crate) kind: Option<&'a str>,
    pub(crate) body_schema: Option<&'a str>,
    pub(crate) id: Option<i64>,
    pub(crate) body: Option<Value>,
    pub(crate) user: User,
    pub(crate) url: String,
    pub(crate) client_ip: String,
    pub(crate) user_agent: Option<String>,
}

/// What an operation answers.
pub(crate) enum Answer {
    /// A JSON body with a status.
    Json(u16, Value),
    /// The audit-log listing, streamed.
    AuditLogs(AuditChunks),
}

impl Answer {
    fn detail(status: u16, detail: String) -> Self {
        Answer::Json(status, json!({ "detail": detail }))
    }
}

impl State {
    pub(crate) fn new(seed: u64, history: SeedHistory, live: Option<LiveTraffic>) -> Self {
        Self {
            integrations: BTreeMap::new(),
            next_id: 1,
            history,
            recorded: Vec::new(),
            live,
            seed,
        }
    }

    /// Run one operation. The flag says whether state changed.
    pub(crate) fn handle(&mut self, spec: &Spec, call: Call<'_>) -> (Answer, bool) {
        let op = call.operation_id;
        match (op, call.id) {
            ("get_audit_logs", _) => (self.audit_logs(call.body.as_ref()), false),
            ("list_integrations", _) => {
                let list: Vec<Value> = self
                    .integrations
                    .iter()
                    .map(|(id, s)| public_view(spec, *id, s))
                    .collect();
                (Answer::Json(200, Value::Array(list)), false)
            }
            (_, None) if op.starts_with("create_") => self.create(spec, call),
            (_, Some(id)) if op.starts_with("update_") => self.update(spec, id, call),
            ("get_integration", Some(id)) => match self.integrations.get(&id) {
                Some(s) => (Answer::Json(200, public_view(spec, id, s)), false),
                None => (not_found(id), false),
            },
            ("remove_integration", Some(id)) => match self.integrations.remove(&id) {
                Some(s) => {
                    let view = public_view(spec, id, &s);
                    self.record(&call, "bi_deleted", id, &s, "removed");
                    (Answer::Json(200, view), true)
                }
                None => (not_found(id), false),
            },
            ("sync_integration", Some(id)) => match self.integrations.get(&id).cloned() {
                Some(s) => {
                    let mut view = public_view(spec, id, &s);
                    if let Some(map) = view.as_object_mut() {
                        map.insert("sync_started".into(), Value::Bool(true));
                    }
                    self.record(&call, "bi_synced", id, &s, "started a sync of");
                    (Answer::Json(200, view), true)
                }
                None => (not_found(id), false),
            },
            _ => (
                Answer::detail(501, format!("the mock does not implement operation {op}")),
                false,
            ),
        }
    }

    fn create(&mut self, spec: &Spec, call: Call<'_>) -> (Answer, bool) {
        let (Some(kind), Some(schema), Some(config)) =
            (call.kind, call.body_schema, call.body.clone())
        else {
            return (
                Answer::detail(500, "create without a kind or body".into()),
                false,
            );
        };
        let id = self.next_id;
        self.next_id += 1;
        let stored = Stored {
            kind: kind.to_owned(),
            schema: schema.to_owned(),
            config,
        };
        self.store(spec, id, &call, stored, CREATED)
    }

    fn update(&mut self, spec: &Spec, id: i64, call: Call<'_>) -> (Answer, bool) {
        let (Some(kind), Some(schema), Some(config)) =
            (call.kind, call.body_schema, call.body.clone())
        else {
            return (
                Answer::detail(500, "update without a kind or body".into()),
                false,
            );
        };
        let Some(existing) = self.integrations.get(&id) else {
            return (not_found(id), false);
        };
        if existing.kind != kind {
            let detail = format!(
                "integration {id} is a {} integration, not {kind}; update it with PUT /api/v1/lineage/bi/{}/{id}/",
                existing.kind, existing.kind
            );
            return (Answer::detail(KIND_MISMATCH_STATUS, detail), false);
        }
        let config = if kind
            .parse::<BiKind>()
            .is_ok_and(BiKind::updates_only_schedule)
        {
            schedule_only_update(&existing.config, &config)
        } else {
            config
        };
        let stored = Stored {
            kind: kind.to_owned(),
            schema: schema.to_owned(),
            config,
        };
        self.store(spec, id, &call, stored, UPDATED)
    }

    /// Keep `stored` (the defaults of its schema filled in) as integration
    /// `id`, record the change in the audit log, and answer with the
    /// integration.
    fn store(
        &mut self,
        spec: &Spec,
        id: i64,
        call: &Call<'_>,
        mut stored: Stored,
        change: Change,
    ) -> (Answer, bool) {
        spec.apply_defaults(&stored.schema, &mut stored.config);
        let view = public_view(spec, id, &stored);
        self.record(call, change.action, id, &stored, change.verb);
        self.integrations.insert(id, stored);
        (Answer::Json(200, view), true)
    }

    fn audit_logs(&self, filter: Option<&Value>) -> Answer {
        let bound = |name: &str| {
            filter
                .and_then(|f| f.get(name))
                .and_then(Value::as_str)
                .and_then(super::schema::parse_date_time)
        };
        let (start, end) = (bound("start_date"), bound("end_date"));
        let seeded = self.history.range(start, end);
        let recorded = self
            .recorded
            .iter()
            .filter(|(t, _)| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e))
            .map(|(_, event)| event.clone())
            .collect();
        let live = self.live.map(|live| live.select(start, end));
        Answer::AuditLogs(AuditChunks::new(self.history, seeded, recorded, live))
    }

    fn record(&mut self, call: &Call<'_>, action: &str, id: i64, stored: &Stored, verb: &str) {
        let now = Utc::now();
        let name = stored.config.get("name").cloned().unwrap_or(Value::Null);
        let mut payload = Map::new();
        payload.insert("type".into(), Value::from(stored.kind.as_str()));
        payload.insert("name".into(), name.clone());
        let label = name.as_str().map(|n| format!(" ({n})")).unwrap_or_default();
        let n = self.recorded.len() as u64;
        let event = AuditLog {
            action: Some(action.to_owned()),
            client_ip: call.client_ip.clone(),
            event_uuid: audit::event_uuid(self.seed, n),
            is_support_user: Some(false),
            log_entry: Some(format!(
                "{} {verb} {} integration {id}{label}",
                call.user.email, stored.kind
            )),
            object_id: Some(id),
            object_type: Some("bi_datasource".to_owned()),
            payload: Some(payload),
            referer: None,
            request_type: Some(call_method(call.operation_id).to_owned()),
            source: Some("api".to_owned()),
            status: Some("success".to_owned()),
            // What the answer carries: Python's microseconds.
            timestamp: now.trunc_subsecs(6),
            url: call.url.clone(),
            user_agent: call.user_agent.clone(),
            user_email: Some(call.user.email.clone()),
            user_id: Some(call.user.id),
            extra: Default::default(),
        };
        self.recorded.push((now, event));
    }

    /// Every stored integration's full configuration, secrets included.
    pub(crate) fn stored_configs(&self) -> BTreeMap<i64, Value> {
        self.integrations
            .iter()
            .map(|(id, s)| (*id, s.config.clone()))
            .collect()
    }

    /// The events BI calls recorded, oldest first.
    pub(crate) fn recorded_events(&self) -> Vec<AuditLog> {
        self.recorded.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The seeded history.
    pub(crate) fn history(&self) -> SeedHistory {
        self.history
    }

    /// The live traffic, if any.
    pub(crate) fn live(&self) -> Option<LiveTraffic> {
        self.live
    }

    /// Every live event committed so far, lazily, in commit order.
    pub(crate) fn live_events(&self) -> Option<LiveSelection> {
        self.live.map(|live| live.select(None, None))
    }

    /// Commit no more live events.
    pub(crate) fn stop_live_traffic(&mut self) {
        if let Some(live) = self.live.as_mut() {
            live.stop();
        }
    }
}

/// What the update of a kind whose docs say "It can only update the
/// schedule" leaves: the stored configuration with the request's
/// `indexing_cron` (none when the request has none), and nothing else of the
/// request. The name is not changed either: the docs allow only the
/// schedule (see `notes` in openapi/deviations.yaml).
fn schedule_only_update(stored: &Value, request: &Value) -> Value {
    let mut kept = stored.clone();
    if let Some(map) = kept.as_object_mut() {
        let schedule = request.get("indexing_cron").cloned().unwrap_or(Value::Null);
        map.insert("indexing_cron".into(), schedule);
    }
    kept
}

fn call_method(operation_id: &str) -> &'static str {
    match operation_id {
        op if op.starts_with("create_") => "POST",
        op if op.starts_with("update_") => "PUT",
        "remove_integration" => "DELETE",
        _ => "GET",
    }
}

/// How a stored integration changed, as the audit log records it: its
/// `action`, and the verb of its log entry.
#[derive(Debug, Clone, Copy)]
struct Change {
    action: &'static str,
    verb: &'static str,
}

const CREATED: Change = Change {
    action: "bi_added",
    verb: "created",
};
const UPDATED: Change = Change {
    action: "bi_modified",
    verb: "updated",
};

fn not_found(id: i64) -> Answer {
    Answer::detail(404, format!("BI integration {id} not found"))
}

/// An integration as responses show it: id, type, name, schedule and every
/// configuration field except the secrets the spec marks.
fn public_view(spec: &Spec, id: i64, stored: &Stored) -> Value {
    let secrets = spec.secret_fields(&stored.schema);
    let mut view = Map::new();
    view.insert("id".into(), Value::from(id));
    view.insert("type".into(), Value::from(stored.kind.as_str()));
    view.insert("name".into(), Value::Null);
    view.insert("indexing_cron".into(), Value::Null);
    if let Some(config) = stored.config.as_object() {
        for (key, value) in config {
            if !secrets.contains(key) && key != "id" && key != "type" {
                view.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(view)
}
