//! [`CliError`]: why the CLI failed, as an exit code and a message in the
//! CLI's terms. The SDK's errors speak to programmers (builder methods,
//! `DATAFOLD_API_KEY`); [`CliError::render`] retells them with the flags and
//! variables of this run.

use std::time::Duration;

use datafold_sdk::{Error, HttpFailure};

use crate::time::flag_text;

/// The exit codes, as `datafold --help` lists them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other failure, or \"no\" at a prompt
  2  usage error
  3  auth (no key, 401, 403)
  4  not found (404)
  5  rejected input (400, 422, bad flags or config)
  6  API failure (429, 5xx, unexpected answer)
  7  network (cannot connect, timeout)
 10  changes pending (bi plan: applying would change something)
130  interrupted (Ctrl-C): rerun with --resume (follow: exits 0)";

/// Why the CLI failed.
#[derive(Debug)]
pub struct CliError(Cause);

#[derive(Debug)]
enum Cause {
    /// Found by the CLI itself, already in its terms.
    Local { code: u8, message: String },
    /// Returned by the SDK; described when printed, with the [`Invocation`].
    Sdk(Box<Error>),
    /// An SDK error that ended a run for a reason of the CLI's: its code,
    /// and the reason before its message.
    After { reason: String, error: Box<Error> },
}

/// Result of a CLI step.
pub type CliResult<T = ()> = Result<T, CliError>;

/// What a message needs to know about how the CLI was called.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The variable the API key was read from (or should have been).
    pub key_var: String,
    /// Whether that variable is `--api-key-env`'s default or its fallback.
    pub key_var_is_default: bool,
    /// `--timeout`, when given.
    pub timeout: Option<Duration>,
    /// The host as configured, for messages without a request URL.
    pub host: String,
}

impl CliError {
    /// Rejected input: bad flags or configuration (exit 5).
    pub fn input(message: impl Into<String>) -> Self {
        Self::local(5, message)
    }

    /// Something asked for does not exist (exit 4).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::local(4, message)
    }

    /// Anything else that went wrong locally, or a "no" at a prompt (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self::local(1, message)
    }

    /// The network failed us (exit 7).
    pub fn network(message: impl Into<String>) -> Self {
        Self::local(7, message)
    }

    /// Wrong use of the command line (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::local(2, message)
    }

    /// Not a failure: an exit code that reports a result (`bi plan`'s
    /// "changes pending"), with nothing printed.
    pub fn quiet(code: u8) -> Self {
        Self::local(code, "")
    }

    /// Stopped by Ctrl-C (exit 130, as a shell reports SIGINT).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::local(130, message)
    }

    /// `error` ended the run because of `reason` (which says so before the
    /// error's own message): the error's exit code.
    pub fn after(reason: impl Into<String>, error: Error) -> Self {
        Self(Cause::After {
            reason: reason.into(),
            error: Box::new(error),
        })
    }

    fn local(code: u8, message: impl Into<String>) -> Self {
        Self(Cause::Local {
            code,
            message: message.into(),
        })
    }

    /// The exit code and the message, in the terms of this `invocation`.
    pub fn render(&self, invocation: &Invocation) -> (u8, String) {
        match &self.0 {
            Cause::Local { code, message } => (*code, message.clone()),
            Cause::Sdk(error) => describe(error, invocation),
            Cause::After { reason, error } => {
                let (code, message) = describe(error, invocation);
                (code, format!("{reason}; the last failure: {message}"))
            }
        }
    }
}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        Self(Cause::Sdk(Box::new(error)))
    }
}

/// An SDK error as an exit code and a message that names flags, not methods.
fn describe(error: &Error, run: &Invocation) -> (u8, String) {
    let var = &run.key_var;
    match error {
        Error::MissingApiKey if run.key_var_is_default => (
            3,
            format!(
                "no API key: set {} (or {}) to a Datafold API key (Settings > Account in Datafold)",
                datafold_sdk::API_KEY_VAR,
                datafold_sdk::API_KEY_FALLBACK_VAR
            ),
        ),
        // The name given may be the key itself: never repeat it.
        Error::MissingApiKey => (
            3,
            "no API key: --api-key-env names an environment variable that is not set or is \
             empty; set it to a Datafold API key (give the variable's name, not the key)"
                .into(),
        ),
        Error::Unauthorized(response) => (
            3,
            format!(
                "Datafold rejected the API key in {var} ({}){}: check that {var} holds a valid, \
                 unrevoked key",
                response.status,
                detail(response)
            ),
        ),
        Error::Forbidden(response) => (
            3,
            format!(
                "Datafold refused the API key in {var} for this ({}){}: check that {var} holds \
                 the key of a user with access to this resource",
                response.status,
                detail(response)
            ),
        ),
        Error::NotFound(_) => (4, error.to_string()),
        Error::InsecureHost { host } => (
            5,
            format!(
                "refusing to send the API key over plain http to {host}: use an https:// URL in \
                 --host or DATAFOLD_HOST (the CLI has no option for plain http; it is allowed \
                 only to this machine, e.g. http://127.0.0.1:8080)"
            ),
        ),
        // What the user asked for was refused: by Datafold, or by the SDK
        // before anything was sent or written (a path that is not safe to
        // write is refused as given, like any other flag).
        Error::BadRequest(_)
        | Error::Validation { .. }
        | Error::InvalidRequest { .. }
        | Error::InvalidConfig { .. }
        | Error::UnsafeFile { .. }
        | Error::InputFile { .. }
        | Error::Checkpoint { .. } => (5, error.to_string()),
        Error::Timeout { .. } => (7, timed_out(run)),
        Error::Connection { error: inner, .. } => (7, connection_failed(error, inner, run)),
        // Writing the export (its file, its checkpoint, or stdout) failed
        // on this machine.
        Error::Output { what, error } => (
            1,
            format!(
                "writing the export failed: cannot {what}: {error}; {}",
                output_hint(error.kind())
            ),
        ),
        Error::Redirect { from, to, reason } => (
            6,
            format!(
                "Datafold's answer redirected {from} to {to}, which is not followed ({reason}): \
                 check --host or DATAFOLD_HOST; if you trust the new location, use it as --host"
            ),
        ),
        Error::ResponseTooLarge { what, limit, .. } => (
            6,
            format!(
                "Datafold's answer is too large: {what} exceeds the limit of {limit} bytes; \
                 that is more than the API describes: report it to Datafold support"
            ),
        ),
        // An answer that is not the API's: often another server at --host.
        Error::UnexpectedStatus(_) | Error::Decode { .. } => (
            6,
            format!(
                "{error}; check that --host or DATAFOLD_HOST ({}) is Datafold's API; if it is, \
                 retry later, and report it to Datafold support if it persists",
                run.host
            ),
        ),
        // A timestamp is Datafold's data: one the SDK cannot read is an
        // unexpected answer, not the user's input.
        Error::RateLimited { .. }
        | Error::Server(_)
        | Error::Inconsistent { .. }
        | Error::InvalidTimestamp { .. } => (6, error.to_string()),
        // Whatever the SDK adds: the API did not behave.
        _ => (6, error.to_string()),
    }
}

/// What to do when writing the export failed with an error of `kind`.
pub fn output_hint(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind;
    match kind {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => "free some disk space and rerun",
        ErrorKind::NotFound => "check that the directory of --output exists",
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "check that this user may write in the directory of --output"
        }
        ErrorKind::InvalidFilename => "choose a shorter --output file name",
        // Only stdout is a pipe: no --output file was given.
        ErrorKind::BrokenPipe => {
            "the program reading stdout stopped before the end; give --output FILE to keep \
             the whole export"
        }
        _ => "check the disk and the directory of --output (or wherever stdout goes), then rerun",
    }
}

fn detail(response: &HttpFailure) -> String {
    response
        .detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn timed_out(run: &Invocation) -> String {
    let limit = match run.timeout {
        Some(timeout) => format!("--timeout {}", flag_text(timeout)),
        None => format!(
            "the default --timeout of {}",
            flag_text(datafold_sdk::DEFAULT_TIMEOUT)
        ),
    };
    format!(
        "Datafold made no progress within the time allowed ({limit}): allow longer with \
         --timeout, or ask for less (a shorter --since or --start/--end range)"
    )
}

fn connection_failed(whole: &Error, error: &reqwest::Error, run: &Invocation) -> String {
    let at = error
        .url()
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|| run.host.clone());
    let cause = whole.root_cause().unwrap_or_default();
    if error.is_connect() {
        format!(
            "cannot reach Datafold at {at}: {cause}; check --host or DATAFOLD_HOST, and the network"
        )
    } else {
        format!("the connection to Datafold at {at} failed: {cause}; check the network and retry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            key_var: datafold_sdk::API_KEY_VAR.into(),
            key_var_is_default: true,
            timeout: None,
            host: "https://app.datafold.com".into(),
        }
    }

    /// A timestamp Datafold sent that cannot be read is its answer's fault,
    /// not the user's input (the CLI's own time flags are parsed by clap).
    #[test]
    fn an_unreadable_timestamp_is_an_api_failure() {
        let error = datafold_sdk::audit::parse_timestamp("yesterday-ish").unwrap_err();
        let (code, message) = CliError::from(error).render(&invocation());
        assert_eq!(code, 6, "{message}");
        assert!(message.contains("yesterday-ish"), "{message}");
    }
}
