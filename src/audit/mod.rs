//! Audit logs: the [`AuditLogsHandler`], its [`ListAuditLogs`] request,
//! the loss-free [`export`] of a time range, and the [`AuditLog`] record
//! with its timestamp parsing.

#[cfg(feature = "export")]
pub(crate) mod endpoint;
#[cfg(feature = "export")]
#[cfg_attr(docsrs, doc(cfg(feature = "export")))]
pub mod export;
#[cfg(feature = "export")]
#[cfg_attr(docsrs, doc(cfg(feature = "export")))]
pub mod follow;
mod record;

use chrono::{DateTime, Utc};

#[allow(deprecated)]
pub use record::AuditLogs;
pub use record::{parse_timestamp, AuditLog};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::generated::types::ApiDownloadAuditLogs;
use crate::transport::finish;
#[cfg(feature = "export")]
use export::AuditExport;
#[cfg(feature = "export")]
use follow::Follow;

/// What to do instead when one response of audit logs is over the cap.
const TOO_LARGE_ADVICE: &str = "export the range with client.audit_logs().between(start, end), \
    which streams records in bounded memory, or raise ClientBuilder::max_response_bytes";

/// Audit-log calls; get one with [`Client::audit_logs`].
#[derive(Debug, Clone, Copy)]
pub struct AuditLogsHandler<'a> {
    client: &'a Client,
}

impl<'a> AuditLogsHandler<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Records in one response of the audit-log endpoint, optionally limited
    /// to a time range. Without `start`/`end`, every record is returned.
    ///
    /// The response is read into memory, at most
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)
    /// (64 MiB by default; beyond it, [`Error::ResponseTooLarge`]). For long
    /// ranges use [`AuditLogsHandler::between`], which streams the records.
    ///
    /// Each record's [`AuditLog::timestamp`] is a time: an answer with a
    /// record whose timestamp cannot be read (see [`parse_timestamp`]) is an
    /// [`Error::Decode`] naming the field and the value. An export
    /// ([`AuditLogsHandler::between`]) passes such a record on as the server
    /// sent it, through [`AuditExport::raw_events`] and its file outputs.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), datafold_sdk::Error> {
    /// use datafold_sdk::chrono::{Duration, Utc};
    ///
    /// let client = datafold_sdk::Client::from_env()?;
    /// let logs = client
    ///     .audit_logs()
    ///     .list()
    ///     .start(Utc::now() - Duration::hours(24))
    ///     .send()
    ///     .await?;
    /// for log in &logs {
    ///     println!("{} {:?} {:?}", log.timestamp, log.action, log.user_email);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListAuditLogs<'a> {
        ListAuditLogs {
            client: self.client,
            start: None,
            end: None,
        }
    }

    /// Export the records of `[start, end]` window by window: loss-free,
    /// resumable and in bounded memory. See [`crate::audit::export`].
    #[cfg(feature = "export")]
    #[cfg_attr(docsrs, doc(cfg(feature = "export")))]
    pub fn between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> AuditExport {
        AuditExport::new(self.client.api().clone(), start, end)
    }

    /// Follow the audit log as it grows: poll, pass each record on once,
    /// resume after a restart. See [`crate::audit::follow`].
    #[cfg(feature = "export")]
    #[cfg_attr(docsrs, doc(cfg(feature = "export")))]
    pub fn follow(&self) -> Follow {
        Follow::new(self.client.api().clone())
    }
}

/// Without the `export` feature, `between` and `follow` still resolve, to
/// methods that cannot be called: the compiler's error then names the
/// feature to turn on (the message of [`NeedsTheExportFeature`], or the
/// trait's name), instead of saying that no such method exists.
#[cfg(not(feature = "export"))]
impl<'a> AuditLogsHandler<'a> {
    #[doc(hidden)]
    pub fn between<T: NeedsTheExportFeature>(&self, start: T, end: T) -> T::Out {
        start.unavailable(end)
    }

    #[doc(hidden)]
    pub fn follow(&self) -> <Self as NeedsTheExportFeature>::Out
    where
        Self: NeedsTheExportFeature,
    {
        self.unavailable(*self)
    }
}

/// Implemented by none of the SDK's types or chrono's (and, by the orphan
/// rule, no other crate can implement it for them): the bound of the
/// stand-ins above, so that calling them is an error that says what to do.
#[cfg(not(feature = "export"))]
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "audit-log export and follow (`between`, `follow`) need the `export` feature of datafold-sdk",
    label = "needs the `export` feature",
    note = "enable it in Cargo.toml: datafold-sdk = {{ version = \"0.1\", features = [\"export\"] }}"
)]
pub trait NeedsTheExportFeature: Sized {
    /// Never produced.
    type Out;
    /// Never called.
    fn unavailable(self, other: Self) -> Self::Out;
}

/// A request for audit logs being built; see [`AuditLogsHandler::list`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct ListAuditLogs<'a> {
    client: &'a Client,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl ListAuditLogs<'_> {
    /// Only records at or after `start` (the body's `start_date`).
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// Only records up to `end` (the body's `end_date`).
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// Send the request. With neither bound set, the GET carries no body.
    pub async fn send(self) -> Result<Vec<AuditLog>> {
        let filter = (self.start.is_some() || self.end.is_some()).then_some(ApiDownloadAuditLogs {
            start_date: self.start,
            end_date: self.end,
        });
        let sent = self.client.api().get_audit_logs().body(filter).send().await;
        match finish(sent, self.client.redactor()).await {
            Ok(response) => Ok(response.logs),
            // Unlike other responses, this one has a streaming alternative.
            Err(Error::ResponseTooLarge { what, limit, .. }) => Err(Error::ResponseTooLarge {
                what,
                limit,
                advice: TOO_LARGE_ADVICE.to_owned(),
            }),
            Err(error) => Err(error),
        }
    }
}
