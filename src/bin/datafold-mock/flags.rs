//! The mock server's flags: one definition for `datafold-mock` and
//! `datafold mock serve`, so that both list the same flags with the same
//! defaults, and those defaults are the SDK's own constants.
//!
//! Both binaries compile this file (`datafold` through `#[path]`), which keeps
//! clap out of the library: a test that only needs `datafold_sdk::mock` does
//! not build it.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::time::Duration;

use clap::Args;
use datafold_sdk::mock::{
    parse_late_share, parse_live_rate, parse_timeout_secs, Fault, Faults, MockServer,
    MockServerBuilder, DEFAULT_FAULT_SEED, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_LOG_CAPACITY, DEFAULT_RETRY_AFTER_SECS, DEFAULT_SEED,
    DEFAULT_SEED_EVENTS, DEFAULT_SEED_SPAN, MAX_LATE_DELAY,
};
use datafold_sdk::Secret;

/// What the standalone mock server is started with.
#[derive(Args, Debug)]
pub struct MockFlags {
    /// Port on 127.0.0.1 [default: any free port]
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Accept this API key (repeatable); without it one is generated and printed
    #[arg(long = "api-key", value_name = "KEY", value_parser = api_key)]
    api_keys: Vec<Secret>,
    /// Seed of the seeded audit history
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    seed: u64,
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED_EVENTS, help = seed_events_help())]
    seed_events: u64,
    /// Delay added to every response, in milliseconds
    #[arg(long, value_name = "N")]
    latency_ms: Option<u64>,
    #[arg(
        long = "fault",
        value_name = "KIND=RATE",
        value_parser = Fault::parse_with_rate,
        help = fault_help()
    )]
    faults: Vec<(Fault, f64)>,
    /// Seed of the fault draws
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FAULT_SEED)]
    fault_seed: u64,
    /// Retry-After of injected 429s and 503s, in seconds
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_RETRY_AFTER_SECS)]
    retry_after: u32,
    /// Check every response against the spec; report violations
    #[arg(long)]
    check_responses: bool,
    /// Close a connection that has not sent a whole request head this long
    /// after connecting or after its last response
    #[arg(
        long,
        value_name = "SECS",
        value_parser = seconds,
        default_value_t = Seconds(DEFAULT_HEADER_READ_TIMEOUT)
    )]
    header_timeout: Seconds,
    /// Close a connection that sends and reads nothing this long, e.g. a
    /// stalled request body
    #[arg(
        long,
        value_name = "SECS",
        value_parser = seconds,
        default_value_t = Seconds(DEFAULT_IDLE_TIMEOUT)
    )]
    idle_timeout: Seconds,
    /// Serve at most N connections at once; a new one closes the one idle
    /// the longest, or waits until one closes
    #[arg(
        long,
        value_name = "N",
        value_parser = at_least_one,
        default_value_t = DEFAULT_MAX_CONNECTIONS
    )]
    max_connections: usize,
    /// Keep the last N requests in the request log
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REQUEST_LOG_CAPACITY)]
    request_log_size: usize,
    /// Commit N new audit events per second while serving (N or N/s,
    /// e.g. 20/s or 0.5)
    #[arg(long, value_name = "N", value_parser = parse_live_rate)]
    live_rate: Option<f64>,
    /// Share of live events committed late, with a timestamp in the past
    /// (0 to 1)
    #[arg(long, value_name = "F", value_parser = parse_late_share, requires = "live_rate")]
    late_share: Option<f64>,
    /// Longest delay of a late event's commit after its timestamp, e.g.
    /// 500ms, 2s, 5m
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = crate::time::parse_duration,
        default_value = DEFAULT_LATE_MAX,
        requires = "late_share"
    )]
    late_max: Duration,
}

/// `--late-max` when `--late-share` is given without it.
const DEFAULT_LATE_MAX: &str = "1m";

/// Why the server is not serving.
#[derive(Debug)]
pub enum NotServed {
    /// The flags cannot be honoured together (fault rates adding up to
    /// more than 1): a bad command line.
    Usage(String),
    /// The server did not start (e.g. the port is taken).
    CannotStart(io::Error),
}

impl MockFlags {
    /// Start the server, print where it listens, then a line per request on
    /// stderr (none when `quiet`) until the process is killed: returns only
    /// when the server could not be started.
    pub fn serve(&self, quiet: bool) -> Result<Infallible, NotServed> {
        let server = self
            .builder()
            .map_err(NotServed::Usage)?
            .start()
            .map_err(NotServed::CannotStart)?;
        server.announce(self.api_keys.is_empty());
        server.print_requests_forever(quiet)
    }

    /// The server these flags describe.
    fn builder(&self) -> Result<MockServerBuilder, String> {
        let mut faults = Faults::new()
            .seed(self.fault_seed)
            .retry_after_secs(self.retry_after);
        if let Some(ms) = self.latency_ms {
            faults = faults.latency(Duration::from_millis(ms));
        }
        for (fault, rate) in &self.faults {
            faults = faults.rate(*fault, *rate);
        }
        // Checked here, not by `start`, so that bad rates are a usage error.
        faults.check()?;
        let mut builder = MockServer::builder()
            .seed(self.seed)
            .seed_events(self.seed_events)
            .faults(faults)
            .check_responses(self.check_responses)
            .header_read_timeout(self.header_timeout.0)
            .idle_timeout(self.idle_timeout.0)
            .max_connections(self.max_connections)
            .request_log_capacity(self.request_log_size);
        if let Some(port) = self.port {
            builder = builder.port(port);
        }
        if let Some(rate) = self.live_rate {
            builder = builder.live_rate(rate);
            if let Some(share) = self.late_share {
                if self.late_max > MAX_LATE_DELAY {
                    return Err(format!(
                        "--late-max must be at most {}h, got {:?}",
                        MAX_LATE_DELAY.as_secs() / 3600,
                        self.late_max
                    ));
                }
                builder = builder.late_commits(share, self.late_max);
            }
        }
        for key in &self.api_keys {
            builder = builder.api_key(key.clone());
        }
        Ok(builder)
    }
}

/// A timeout in seconds, shown the way it is typed (`10`, `0.5`): how clap
/// prints the defaults.
#[derive(Debug, Clone, Copy)]
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

fn seconds(text: &str) -> Result<Seconds, String> {
    parse_timeout_secs(text).map(Seconds)
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".into()),
    }
}

fn api_key(text: &str) -> Result<Secret, String> {
    if text.trim().is_empty() {
        Err("the API key must not be empty".into())
    } else {
        Ok(Secret::new(text))
    }
}

fn seed_events_help() -> String {
    let days = DEFAULT_SEED_SPAN.as_secs() / (24 * 3600);
    format!("Seeded audit events over the last {days} days")
}

fn fault_help() -> String {
    let kinds: Vec<&str> = Fault::ALL.iter().map(|fault| fault.as_str()).collect();
    format!(
        "Inject a fault into a fraction of requests, e.g. 429=0.1 (repeatable); KIND: {}",
        kinds.join(", ")
    )
}
