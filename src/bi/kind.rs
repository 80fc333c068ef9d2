//! The BI kinds and their configuration types, from one table: the
//! [`BiKind`] enum, its names, and the binding of each generated
//! configuration type to its kind and to its create and update operations.
//! A new kind in the spec needs one row in that table and nothing else.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Integration;
use crate::generated::{self, types, ResponseValue};
use crate::secret::Redactor;

type ApiResult<T> = std::result::Result<ResponseValue<T>, generated::Error<crate::ErrorBody>>;

/// A request body of one BI kind: the configuration type of a row of the
/// kind table below (`LookerDataSourceConfig`, …) from [`types`], or its
/// builder from [`types::builder`]. The type picks the endpoint, so a Looker configuration
/// can only go to Looker's.
pub trait IntegrationConfig: sealed::Sealed + Send + 'static {
    /// The kind this configuration belongs to.
    const KIND: BiKind;

    #[doc(hidden)]
    fn create(self, api: &generated::Client)
        -> impl Future<Output = ApiResult<Integration>> + Send;

    #[doc(hidden)]
    fn update(
        self,
        api: &generated::Client,
        id: i64,
    ) -> impl Future<Output = ApiResult<Integration>> + Send;

    /// Teach `redactor` the values of this configuration's secret fields,
    /// so that no error about the call shows them.
    #[doc(hidden)]
    fn add_secrets_to(&self, redactor: &mut Redactor);
}

/// The configuration type of a kind (not its builder), as
/// [`BiKind::visit_config`] hands it to a [`ConfigVisitor`]: it reads and
/// writes JSON and, with the `schema` feature, has a JSON Schema.
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub trait KindConfig:
    IntegrationConfig + Serialize + DeserializeOwned + schemars::JsonSchema
{
}

/// The configuration type of a kind (not its builder), as
/// [`BiKind::visit_config`] hands it to a [`ConfigVisitor`]: it reads and
/// writes JSON and, with the `schema` feature, has a JSON Schema.
#[cfg(not(feature = "schema"))]
pub trait KindConfig: IntegrationConfig + Serialize + DeserializeOwned {}

/// Work done with a kind's configuration type when the kind is known only
/// at run time (a command-line argument, a file): [`BiKind::visit_config`]
/// calls [`ConfigVisitor::visit`] with the kind's type.
///
/// ```
/// use datafold_sdk::bi::{BiKind, ConfigVisitor, KindConfig};
///
/// /// Whether a JSON document is a complete configuration of the kind.
/// struct IsComplete(serde_json::Value);
///
/// impl ConfigVisitor for IsComplete {
///     type Output = bool;
///     fn visit<C: KindConfig>(self) -> bool {
///         serde_json::from_value::<C>(self.0).is_ok()
///     }
/// }
///
/// let config = serde_json::json!({"ci_config_id": 7});
/// assert!(BiKind::Dbt.visit_config(IsComplete(config.clone())));
/// assert!(!BiKind::Looker.visit_config(IsComplete(config)));
/// ```
pub trait ConfigVisitor {
    /// What the work gives.
    type Output;

    /// Do the work with `C`, the configuration type of the kind visited.
    fn visit<C: KindConfig>(self) -> Self::Output;
}

/// Why a configuration cannot be put in a request body (a secret withheld
/// by the server, from a typed view); `None` when it can. Checked before
/// sending, so the error says what to do instead of "builder error".
fn unsendable<C: Serialize>(config: &C) -> Option<generated::Error<crate::ErrorBody>> {
    let json = match crate::secret::with_withheld_mark(|| serde_json::to_value(config)) {
        Ok(json) => json,
        Err(error) => return Some(progenitor_client::Error::InvalidRequest(error.to_string())),
    };
    let mut withheld = Vec::new();
    withheld_fields(&json, "", &mut withheld);
    if withheld.is_empty() {
        return None;
    }
    let (these, them) = match withheld.len() {
        1 => ("the secret", "it"),
        _ => ("the secrets", "them"),
    };
    Some(progenitor_client::Error::InvalidRequest(format!(
        "{these} {} of this configuration the server did not return (it comes from \
         Integration::typed): set {them} before sending it, or set an optional one to None",
        withheld
            .iter()
            .map(|field| format!("`{field}`"))
            .collect::<Vec<_>>()
            .join(", "),
    )))
}

/// The paths (`token`, `a.b`) of the withheld secrets in `json`, a
/// configuration written by [`crate::secret::with_withheld_mark`].
fn withheld_fields(json: &serde_json::Value, prefix: &str, found: &mut Vec<String>) {
    let Some(object) = json.as_object() else {
        return;
    };
    for (key, value) in object {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if value.as_str() == Some(crate::secret::WITHHELD_MARK) {
            found.push(path);
        } else {
            withheld_fields(value, &path, found);
        }
    }
}

fn invalid_config(error: types::error::ConversionError) -> generated::Error<crate::ErrorBody> {
    progenitor_client::Error::InvalidRequest(format!(
        "incomplete integration configuration: {error}"
    ))
}

mod sealed {
    pub trait Sealed {}
}

/// One row per kind: `Variant("path name", "display name", update) =>
/// ConfigType, create_operation, update_operation;`, where `update` is
/// `full` or `schedule_only` (what Datafold's docs say the update can
/// change). Defines [`BiKind`] and binds each
/// configuration type (and its builder) to its kind and operations.
macro_rules! bi_kinds {
    ($($kind:ident($path:literal, $label:literal, $scope:ident) => $ty:ident, $create:ident, $update:ident;)*) => {
        /// The kinds of BI integration Datafold supports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BiKind {
            $(
                #[doc = concat!($label, " (`/api/v1/lineage/bi/", $path, "/`).")]
                $kind,
            )*
        }

        /// An integration's configuration, typed by its kind: one variant per
        /// row of the kinds' table, holding the kind's generated configuration
        /// type. Read one from a server answer with [`Integration::typed`].
        ///
        /// Datafold never returns secrets, so each secret of a typed view is
        /// [withheld](crate::Secret::is_withheld): readable as such, and
        /// refused if the configuration is sent back before it is set.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum TypedConfig {
            $(
                #[doc = concat!("A ", $label, " integration's configuration.")]
                $kind(types::$ty),
            )*
        }

        impl TypedConfig {
            /// The configuration's kind.
            pub fn kind(&self) -> BiKind {
                match self {
                    $(TypedConfig::$kind(_) => BiKind::$kind,)*
                }
            }
        }

        impl BiKind {
            /// The typed view of a server answer of this kind; `None` when
            /// it lacks a field the kind requires (other than a secret).
            pub(crate) fn typed(self, raw: &serde_json::Value) -> Option<TypedConfig> {
                match self {
                    $(BiKind::$kind => read_typed::<types::$ty>(raw).map(TypedConfig::$kind),)*
                }
            }

            /// Every kind, in the order of the API reference.
            pub const ALL: [BiKind; [$($path),*].len()] = [$(BiKind::$kind),*];

            #[doc = concat!("The kind's name in Datafold's paths:", $(" `", $path, "`",)* ".")]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(BiKind::$kind => $path,)*
                }
            }

            /// The kind's name for people, as Datafold's documentation
            /// writes it: `Mode Analytics`, `Power BI`.
            pub fn display_name(self) -> &'static str {
                match self {
                    $(BiKind::$kind => $label,)*
                }
            }

            /// Whether Datafold's update of this kind can change only the
            /// schedule (`indexing_cron`): its docs say "It can only update
            /// the schedule" for Hightouch, Looker, Mode and Tableau. Any
            /// other change of such an integration needs a new one (a
            /// replace: delete, then create).
            pub fn updates_only_schedule(self) -> bool {
                match self {
                    $(BiKind::$kind => UpdateScope::$scope == UpdateScope::schedule_only,)*
                }
            }

            /// Call `visitor` with this kind's configuration type.
            pub fn visit_config<V: ConfigVisitor>(self, visitor: V) -> V::Output {
                match self {
                    $(BiKind::$kind => visitor.visit::<types::$ty>(),)*
                }
            }
        }

        $(
            impl KindConfig for types::$ty {}

            impl sealed::Sealed for types::$ty {}
            impl IntegrationConfig for types::$ty {
                const KIND: BiKind = BiKind::$kind;

                fn create(self, api: &generated::Client) -> impl Future<Output = ApiResult<Integration>> + Send {
                    let unsendable = unsendable(&self);
                    let request = api.$create().body(self);
                    async move {
                        match unsendable {
                            Some(error) => Err(error),
                            None => request.send().await,
                        }
                    }
                }

                fn update(self, api: &generated::Client, id: i64) -> impl Future<Output = ApiResult<Integration>> + Send {
                    let unsendable = unsendable(&self);
                    let request = api.$update().bi_datasource_id(id).body(self);
                    async move {
                        match unsendable {
                            Some(error) => Err(error),
                            None => request.send().await,
                        }
                    }
                }

                fn add_secrets_to(&self, redactor: &mut Redactor) {
                    if let Ok(json) = serde_json::to_value(self) {
                        redactor.add_secrets_of(&json);
                    }
                }
            }

            // The builder works too; a missing required field becomes an
            // `Error::InvalidRequest` naming it, and nothing is sent.
            impl sealed::Sealed for types::builder::$ty {}
            impl IntegrationConfig for types::builder::$ty {
                const KIND: BiKind = BiKind::$kind;

                fn create(self, api: &generated::Client) -> impl Future<Output = ApiResult<Integration>> + Send {
                    let config = types::$ty::try_from(self).map_err(invalid_config);
                    async move { config?.create(api).await }
                }

                fn update(self, api: &generated::Client, id: i64) -> impl Future<Output = ApiResult<Integration>> + Send {
                    let config = types::$ty::try_from(self).map_err(invalid_config);
                    async move { config?.update(api, id).await }
                }

                fn add_secrets_to(&self, redactor: &mut Redactor) {
                    // An incomplete configuration is never sent: nothing to mask.
                    if let Ok(config) = types::$ty::try_from(self.clone()) {
                        config.add_secrets_to(redactor);
                    }
                }
            }
        )*
    };
}

/// A server answer as a configuration type: every secret field becomes a
/// withheld secret (whatever the answer holds there), and unknown fields are
/// ignored.
fn read_typed<C: DeserializeOwned>(raw: &serde_json::Value) -> Option<C> {
    let mut object = raw.as_object()?.clone();
    // Whatever the server put there (nothing, `null`, `""`, `"****"`), it is
    // not the secret: every secret field is withheld.
    for field in crate::generated::PASSWORD_FIELDS {
        object.insert(
            field.to_owned(),
            serde_json::Value::from(crate::secret::WITHHELD_MARK),
        );
    }
    crate::secret::with_withheld_mark(|| serde_json::from_value(serde_json::Value::Object(object)))
        .ok()
}

/// What an update of a kind can change, as the kinds' table says it.
#[allow(non_camel_case_types)]
#[derive(PartialEq)]
enum UpdateScope {
    full,
    schedule_only,
}

bi_kinds! {
    Dbt("dbt", "dbt", full) => DbtDataSourceConfig, create_dbt_integration, update_dbt_integration;
    Hightouch("hightouch", "Hightouch", schedule_only) => HightouchDataSourceConfig, create_hightouch_integration, update_hightouch_integration;
    Looker("looker", "Looker", schedule_only) => LookerDataSourceConfig, create_looker_integration, update_looker_integration;
    Mode("mode", "Mode Analytics", schedule_only) => ModeDataSourceConfig, create_mode_integration, update_mode_integration;
    PowerBi("powerbi", "Power BI", full) => PowerBiDataSourceConfig, create_powerbi_integration, update_powerbi_integration;
    Tableau("tableau", "Tableau", schedule_only) => TableauDataSourceConfig, create_tableau_integration, update_tableau_integration;
}

impl fmt::Display for BiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its path name (`looker`), like [`BiKind::as_str`].
impl Serialize for BiKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl FromStr for BiKind {
    type Err = UnknownBiKind;

    /// Accepts the path names, case-insensitively, and `power_bi` / `power-bi`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        BiKind::ALL
            .into_iter()
            .find(|k| k.as_str() == folded)
            .ok_or_else(|| UnknownBiKind(s.to_owned()))
    }
}

/// A string that names no [`BiKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown BI kind {0:?}: expected one of {kinds}",
    kinds = BiKind::ALL.map(BiKind::as_str).join(", ")
)]
pub struct UnknownBiKind(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name_and_the_error_lists_them() {
        for kind in BiKind::ALL {
            assert_eq!(kind.as_str().parse::<BiKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!("Power-BI".parse::<BiKind>(), Ok(BiKind::PowerBi));
        let error = "sheets".parse::<BiKind>().unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown BI kind \"sheets\": expected one of dbt, hightouch, looker, mode, powerbi, tableau"
        );
    }
}
