//! BI integrations: the [`BiHandler`], the kinds ([`BiKind`]), the
//! tolerant response types [`Integration`] and [`IntegrationList`], and
//! (feature `as-code`) integrations as code: a [`Desired`] set read from a
//! file, the [`Plan`] that brings the server to it, and [`Plan::apply`].
//!
//! Datafold does not document what its BI endpoints return, so the response
//! types accept any well-formed JSON, offer typed accessors for the fields
//! known to exist, and keep the raw JSON for everything else.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::client::Client;
use crate::error::Result;
use crate::secret::Redactor;
use crate::transport::{finish, success_with_json_or_nothing};

#[cfg(feature = "as-code")]
mod apply;
#[cfg(feature = "as-code")]
mod as_code_error;
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub mod bounded;
#[cfg(feature = "as-code")]
mod compare;
#[cfg(feature = "as-code")]
mod desired;
#[cfg(feature = "schema")]
mod fields;
mod kind;
#[cfg(feature = "as-code")]
mod locate;
#[cfg(feature = "as-code")]
mod plan;
#[cfg(feature = "as-code")]
mod secret_ref;
#[cfg(feature = "as-code")]
mod state;

#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use apply::{Applied, ApplyOptions, ApplyReport, Outcome, CREATE_ATTEMPTS};
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use as_code_error::{AsCodeError, Problem};
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use compare::PlanOptions;
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use desired::{Desired, DesiredEntry, EntryKey, MAX_DESIRED_FILE_BYTES};
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use fields::{config_schema, kind_fields, resolve_schema, KindField};
pub use kind::{BiKind, ConfigVisitor, IntegrationConfig, KindConfig, TypedConfig, UnknownBiKind};
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use plan::{
    Action, Change, FieldChange, Plan, Rotation, SavedPlanHeader, SecretsNote, Shown,
    MAX_SAVED_PLAN_BYTES, PLAN_FORMAT_VERSION, SENSITIVE,
};
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use secret_ref::SecretRef;
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub use state::{SecretState, STATE_FORMAT};

/// The line (from 1) of the top-level `field` of a YAML (or, with `json`,
/// JSON) mapping, for messages about a configuration file; `None` when the
/// text does not parse or has no such field.
///
/// ```
/// let text = "name: a\nindexing_corn: '0 * * * *'\n";
/// assert_eq!(datafold_sdk::bi::line_of_field(text, false, "indexing_corn"), Some(2));
/// ```
#[cfg(feature = "as-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "as-code")))]
pub fn line_of_field(text: &str, json: bool, field: &str) -> Option<usize> {
    let format = if json {
        locate::Format::Json
    } else {
        locate::Format::Yaml
    };
    locate::line_of(text, format, &[locate::Step::Key(field.to_owned())])
}

/// A BI integration as the server returned it.
///
/// Datafold documents no response body for its BI endpoints. Every answer
/// that is an integration carries its integer `id` (the spec's
/// `BiIntegration` requires it, declared in `openapi/deviations.yaml`), so
/// [`Integration::id`] is a plain `i64`; an answer without one is not an
/// integration and fails to read. Everything else is optional: the other
/// accessors return `None` when a field is absent or has another type, and
/// [`Integration::raw`] gives the whole JSON.
#[derive(Clone, PartialEq)]
pub struct Integration {
    id: i64,
    raw: Value,
}

impl Integration {
    /// Wrap a JSON value; `None` unless it is an object with an integer `id`.
    pub fn from_raw(raw: Value) -> Option<Self> {
        let id = raw.get("id")?.as_i64()?;
        Some(Self { id, raw })
    }

    /// The integration's id (the `bi_datasource_id` of other calls).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The display name.
    pub fn name(&self) -> Option<&str> {
        self.raw.get("name")?.as_str()
    }

    /// The kind as the server spelled it (the `type` field).
    pub fn type_name(&self) -> Option<&str> {
        self.raw.get("type")?.as_str()
    }

    /// The kind, when the server's `type` field names a known one.
    pub fn kind(&self) -> Option<BiKind> {
        self.type_name()?.parse().ok()
    }

    /// The configuration, typed by its kind: `None` when the kind is not
    /// one [`BiKind`] names, or the answer lacks a field the kind requires.
    /// Secrets, which Datafold never returns, are
    /// [withheld](crate::Secret::is_withheld).
    ///
    /// ```
    /// use datafold_sdk::bi::{Integration, TypedConfig};
    ///
    /// let answer = serde_json::json!({
    ///     "id": 4, "type": "tableau", "name": "dashboards",
    ///     "server_url": "https://tableau.example.com", "site_id": "analytics",
    ///     "token_name": "datafold"
    /// });
    /// let integration = Integration::from_raw(answer).unwrap();
    /// match integration.typed() {
    ///     Some(TypedConfig::Tableau(tableau)) => {
    ///         assert_eq!(tableau.site_id, "analytics");
    ///         assert!(tableau.token_value.is_withheld());
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn typed(&self) -> Option<TypedConfig> {
        self.kind()?.typed(&self.raw)
    }

    /// The indexing schedule (cron syntax).
    pub fn indexing_cron(&self) -> Option<&str> {
        self.raw.get("indexing_cron")?.as_str()
    }

    /// Any field, by name.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.raw.get(field)
    }

    /// The JSON as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The JSON as received, by value.
    pub fn into_raw(self) -> Value {
        self.raw
    }
}

impl fmt::Debug for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Integration({})", crate::secret::redact_json(&self.raw))
    }
}

impl Serialize for Integration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Integration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_raw(Value::deserialize(deserializer)?).ok_or_else(|| {
            serde::de::Error::custom("expected a BI integration: an object with an integer `id`")
        })
    }
}

/// The answer of the list call: the integrations, plus the raw JSON.
///
/// Accepts a JSON array, or an object holding the array under `integrations`,
/// `items`, `data` or `results`.
#[derive(Clone, PartialEq, Default)]
pub struct IntegrationList {
    items: Vec<Integration>,
    raw: Value,
}

impl IntegrationList {
    /// The integrations.
    pub fn items(&self) -> &[Integration] {
        &self.items
    }

    /// The JSON as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// How many integrations there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The integrations in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Integration> {
        self.items.iter()
    }
}

impl IntoIterator for IntegrationList {
    type Item = Integration;
    type IntoIter = std::vec::IntoIter<Integration>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a IntegrationList {
    type Item = &'a Integration;
    type IntoIter = std::slice::Iter<'a, Integration>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Debug for IntegrationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl Serialize for IntegrationList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IntegrationList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let array = match &raw {
            Value::Array(items) => items,
            Value::Object(map) => ["integrations", "items", "data", "results"]
                .iter()
                .find_map(|key| map.get(*key).and_then(Value::as_array))
                .ok_or_else(|| {
                    serde::de::Error::custom(
                        "expected a list of integrations: an array, or an object with an \
                         `integrations`, `items`, `data` or `results` array",
                    )
                })?,
            _ => return Err(serde::de::Error::custom("expected a list of integrations")),
        };
        let items = array
            .iter()
            .enumerate()
            .map(|(i, item)| {
                Integration::from_raw(item.clone()).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "item {} of the list of integrations has no integer `id`",
                        i + 1
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { items, raw })
    }
}

/// BI-integration calls; get one with [`Client::bi`].
///
/// ```no_run
/// # async fn demo() -> Result<(), datafold_sdk::Error> {
/// use datafold_sdk::types::TableauDataSourceConfig;
///
/// let client = datafold_sdk::Client::from_env()?;
/// let config = TableauDataSourceConfig::builder()
///     .server_url("https://tableau.example.com")
///     .site_id("analytics")
///     .token_name("datafold")
///     .token_value("personal-access-token");
/// let created = client.bi().create(config).await?;
/// client.bi().sync(created.id()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BiHandler<'a> {
    client: &'a Client,
}

impl<'a> BiHandler<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Every integration of the organization (`GET /api/v1/lineage/bi/`).
    pub async fn list(&self) -> Result<IntegrationList> {
        let sent = self.client.api().list_integrations().send().await;
        finish(sent, self.client.redactor()).await
    }

    /// One integration (`GET /api/v1/lineage/bi/{id}/`).
    pub async fn get(&self, id: i64) -> Result<Integration> {
        let api = self.client.api();
        let sent = api.get_integration().bi_datasource_id(id).send().await;
        finish(sent, self.client.redactor()).await
    }

    /// Create an integration; the configuration's type picks the kind
    /// (`POST /api/v1/lineage/bi/<kind>/`).
    pub async fn create<C: IntegrationConfig>(&self, config: C) -> Result<Integration> {
        let redactor = self.redactor_for(&config);
        finish(config.create(self.client.api()).await, &redactor).await
    }

    /// Replace an integration's configuration (`PUT
    /// /api/v1/lineage/bi/<kind>/{id}/`). The server keeps the kind of an
    /// integration; `config` must be of the same kind.
    pub async fn update<C: IntegrationConfig>(&self, id: i64, config: C) -> Result<Integration> {
        let redactor = self.redactor_for(&config);
        finish(config.update(self.client.api(), id).await, &redactor).await
    }

    /// What errors about sending `config` must not show: the API key and
    /// the configuration's secrets.
    fn redactor_for<C: IntegrationConfig>(&self, config: &C) -> Redactor {
        let mut redactor = self.client.redactor().clone();
        config.add_secrets_to(&mut redactor);
        redactor
    }

    /// Delete an integration (`DELETE /api/v1/lineage/bi/{id}/`). Returns
    /// the integration when the server answers with it; `None` when it
    /// answers with nothing (a 204, an empty body) or with other JSON.
    ///
    /// # Errors
    /// [`crate::Error::Decode`] for a success whose body is not JSON (a
    /// proxy's HTML page): whether the integration was removed is unknown,
    /// so look it up with [`BiHandler::get`].
    pub async fn remove(&self, id: i64) -> Result<Option<Integration>> {
        let result = self
            .client
            .api()
            .remove_integration()
            .bi_datasource_id(id)
            .send()
            .await;
        self.maybe_integration(result).await
    }

    /// Start an unscheduled synchronization (`GET
    /// /api/v1/lineage/bi/{id}/sync/`).
    /// Returns the integration when the server answers with it; `None`
    /// when the sync was accepted with nothing or with other JSON. A
    /// success whose body is not JSON is [`crate::Error::Decode`].
    pub async fn sync(&self, id: i64) -> Result<Option<Integration>> {
        let api = self.client.api();
        let sent = api.sync_integration().bi_datasource_id(id).send().await;
        self.maybe_integration(sent).await
    }

    /// A success whose body is not an integration (a 204, an empty body, a
    /// status object) is still a success: `None`. A success whose body is
    /// not JSON at all (a proxy's HTML page) is [`crate::Error::Decode`]:
    /// it does not say the server acted.
    async fn maybe_integration(
        &self,
        sent: std::result::Result<
            crate::generated::ResponseValue<Integration>,
            crate::generated::Error<crate::error::ErrorBody>,
        >,
    ) -> Result<Option<Integration>> {
        success_with_json_or_nothing(sent, self.client.redactor()).await
    }
}

/// An object with an integer `id`; any other field is allowed.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Integration {
    fn schema_name() -> String {
        "BiIntegration".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, ObjectValidation, SchemaObject};
        let id = SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..Default::default()
        };
        SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            object: Some(Box::new(ObjectValidation {
                properties: [("id".to_owned(), id.into())].into_iter().collect(),
                required: ["id".to_owned()].into_iter().collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

/// Any JSON: Datafold does not document the shape.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for IntegrationList {
    fn schema_name() -> String {
        "BiIntegrationList".to_owned()
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        Value::json_schema(generator)
    }
}
