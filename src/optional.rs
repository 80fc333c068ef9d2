//! [`IntoOptional`]: what an optional field of a generated builder takes.

use std::convert::Infallible;
use std::fmt;

use crate::Secret;

/// A value for an optional field of a generated builder: the value itself,
/// or an `Option` of it.
///
/// build.rs gives every optional field of the generated builders (the
/// `types::builder` configurations and the operations' optional bodies) this
/// bound in place of progenitor's `TryInto<Option<T>>`, so a field is set the
/// way it is written, without `Some(…)`; `None` (or an `Option` in hand)
/// still works.
///
/// ```
/// use datafold_sdk::types::{builder, DbtDataSourceConfig};
///
/// let config: DbtDataSourceConfig = DbtDataSourceConfig::builder()
///     .ci_config_id(7)
///     .name("dbt")
///     .indexing_cron(None)
///     .try_into()
///     .unwrap();
/// assert_eq!(config.name.as_deref(), Some("dbt"));
/// assert_eq!(config.indexing_cron, None);
///
/// let schedule: Option<String> = Some("0 * * * *".into());
/// let _: builder::DbtDataSourceConfig = DbtDataSourceConfig::builder().indexing_cron(schedule);
/// ```
///
/// An `Option` must hold the field's own type: `Some("dbt")` is an
/// `Option<&str>` and does not compile (a `None` would not know its type).
/// Write the value without `Some`, or `Some(String::from("dbt"))`.
///
/// ```compile_fail
/// use datafold_sdk::types::DbtDataSourceConfig;
///
/// let _ = DbtDataSourceConfig::builder().name(Some("dbt"));
/// ```
#[diagnostic::on_unimplemented(
    message = "an optional field of type `{T}` cannot be set from `{Self}`",
    label = "expected a `{T}`, what converts to one (`&str` for text), or an `Option<{T}>`",
    note = "an `Option` must hold the field's own type: write the value without `Some(…)`, \
            or `Some(String::from(…))` for text"
)]
pub trait IntoOptional<T> {
    /// Why the value cannot be converted; the builder reports it when the
    /// configuration is built.
    type Error: fmt::Display;

    /// The field's value: `Some` to set it, `None` to leave it out.
    ///
    /// # Errors
    /// When the value does not convert (none of the conversions here fail).
    fn into_optional(self) -> Result<Option<T>, Self::Error>;
}

/// The value itself sets the field.
impl<T> IntoOptional<T> for T {
    type Error = Infallible;

    fn into_optional(self) -> Result<Option<T>, Infallible> {
        Ok(Some(self))
    }
}

/// An `Option` is taken as it is: `None` leaves the field out.
impl<T> IntoOptional<T> for Option<T> {
    type Error = Infallible;

    fn into_optional(self) -> Result<Option<T>, Infallible> {
        Ok(self)
    }
}

/// Text fields take string slices and references, like the required ones.
macro_rules! from_text {
    ($($target:ty => $($source:ty),+;)+) => {$($(
        impl IntoOptional<$target> for $source {
            type Error = Infallible;

            fn into_optional(self) -> Result<Option<$target>, Infallible> {
                Ok(Some(<$target>::from(self)))
            }
        }
    )+)+};
}

from_text! {
    String => &str, &String, Box<str>;
    Secret => &str, &String, String;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<T, V: IntoOptional<T>>(value: V) -> Option<T> {
        value.into_optional().ok().flatten()
    }

    #[test]
    fn values_and_options_set_or_clear_a_field() {
        assert_eq!(set::<String, _>("a"), Some("a".to_owned()));
        assert_eq!(set::<String, _>(&"b".to_owned()), Some("b".to_owned()));
        assert_eq!(set::<String, _>(None), None);
        assert_eq!(set::<i64, _>(7), Some(7));
        assert_eq!(set::<i64, _>(Some(8)), Some(8));
        assert_eq!(
            set::<Secret, _>("s").map(|s| s.expose().to_owned()),
            Some("s".to_owned())
        );
    }
}
