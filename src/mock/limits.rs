//! What bounds the mock's resources: how long a connection may stall, how
//! many connections are served at once, how many requests the log keeps.

use std::io;
use std::time::Duration;

/// How long a connection may take to send a request's head when none is
/// configured ([`super::MockServerBuilder::header_read_timeout`]).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may make no progress when none is configured
/// ([`super::MockServerBuilder::idle_timeout`]).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest header-read or idle timeout the server accepts: 1 ms.
pub const MIN_CONNECTION_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest header-read or idle timeout the server accepts: one day.
pub const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// How many connections are served at once when no cap is configured
/// ([`super::MockServerBuilder::max_connections`]): well under the common
/// soft limit of 1,024 open files, and under 256 too.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// How many requests the request log keeps when no bound is configured
/// ([`super::MockServerBuilder::request_log_capacity`]): about 3 MB.
pub const DEFAULT_REQUEST_LOG_CAPACITY: usize = 10_000;

/// The limits a server was configured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) request_log_capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            request_log_capacity: DEFAULT_REQUEST_LOG_CAPACITY,
        }
    }
}

impl Limits {
    /// Refuse values the server cannot honour, naming the builder method.
    pub(crate) fn check(&self) -> io::Result<()> {
        let invalid = |message: String| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        let range = MIN_CONNECTION_TIMEOUT..=MAX_CONNECTION_TIMEOUT;
        for (method, timeout) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if !range.contains(&timeout) {
                return invalid(format!(
                    "MockServerBuilder::{method} must be from 1 ms to 24 hours, got {timeout:?}"
                ));
            }
        }
        if self.max_connections == 0 {
            return invalid("MockServerBuilder::max_connections must be at least 1".into());
        }
        Ok(())
    }
}

/// Parse a timeout given in seconds, e.g. `10` or `0.5`, from 0.001 to
/// 86,400 (one day): the mock's `--header-timeout` and `--idle-timeout`.
///
/// # Errors
/// The text is not a number of seconds in that range; the message says
/// what is expected.
pub fn parse_timeout_secs(text: &str) -> Result<Duration, String> {
    let expected =
        || format!("expected seconds from 0.001 to 86400 (e.g. 10 or 0.5), got {text:?}");
    let seconds: f64 = text.trim().parse().map_err(|_| expected())?;
    let timeout = Duration::try_from_secs_f64(seconds).map_err(|_| expected())?;
    if (MIN_CONNECTION_TIMEOUT..=MAX_CONNECTION_TIMEOUT).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(expected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_in_seconds_within_range() {
        assert_eq!(parse_timeout_secs("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout_secs(" 0.5 "), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "nan", "inf", "1e300", "86401", "10s", ""] {
            assert!(parse_timeout_secs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_out_of_range_are_refused_naming_the_method() {
        let zero = Limits {
            idle_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let message = zero
            .check()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("idle_timeout"), "{message}");
        let none = Limits {
            max_connections: 0,
            ..Limits::default()
        };
        assert!(none.check().is_err());
        assert!(Limits::default().check().is_ok());
    }
}
