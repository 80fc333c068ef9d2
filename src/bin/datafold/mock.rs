//! `datafold mock serve`: the standalone mock server, with the flags of
//! `datafold-mock`.

use std::time::Duration;

use clap::{Args, Subcommand};
use datafold_sdk::mock::{parse_timeout_secs, Fault, Faults, MockServer};

use crate::{CliResult, Failure, Global};

#[derive(Subcommand, Debug)]
pub enum MockCommand {
    /// Serve an in-memory Datafold API on 127.0.0.1 until killed
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 [default: any free port]
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Accept this API key (repeatable); without it one is generated and printed
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Seed of the seeded audit history
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Seeded audit events over the last 30 days
    #[arg(long, value_name = "N", default_value_t = 100)]
    seed_events: u64,
    /// Delay added to every response
    #[arg(long, value_name = "N")]
    latency_ms: Option<u64>,
    /// Inject a fault into a fraction of requests, e.g. 429=0.1 (repeatable);
    /// KIND: 429, 500, 502, 503, reset, reset-after, truncate
    #[arg(long = "fault", value_name = "KIND=RATE", value_parser = Fault::parse_with_rate)]
    faults: Vec<(Fault, f64)>,
    /// Seed of the fault draws
    #[arg(long, value_name = "N", default_value_t = 0)]
    fault_seed: u64,
    /// Retry-After of injected 429s and 503s, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    retry_after: u32,
    /// Check every response against the spec; report violations
    #[arg(long)]
    check_responses: bool,
    /// Close a connection that has not sent a whole request head this long
    /// after connecting or after its last response [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_timeout_secs)]
    header_timeout: Option<Duration>,
    /// Close a connection that sends and reads nothing this long, e.g. a
    /// stalled request body [default: 30]
    #[arg(long, value_name = "SECS", value_parser = parse_timeout_secs)]
    idle_timeout: Option<Duration>,
    /// Serve at most N connections at once; a new one closes the one idle the
    /// longest, or waits until one closes [default: 128]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Keep the last N requests in the request log [default: 10000]
    #[arg(long, value_name = "N")]
    request_log_size: Option<usize>,
}

pub fn run(command: MockCommand, global: &Global) -> CliResult {
    let MockCommand::Serve(args) = command;
    let mut faults = Faults::new()
        .seed(args.fault_seed)
        .retry_after_secs(args.retry_after);
    if let Some(ms) = args.latency_ms {
        faults = faults.latency(Duration::from_millis(ms));
    }
    for (fault, rate) in &args.faults {
        faults = faults.rate(*fault, *rate);
    }
    faults.check().map_err(Failure::usage)?;
    let mut builder = MockServer::builder()
        .seed(args.seed)
        .seed_events(args.seed_events)
        .faults(faults)
        .check_responses(args.check_responses)
        .port(args.port.unwrap_or(0));
    if let Some(timeout) = args.header_timeout {
        builder = builder.header_read_timeout(timeout);
    }
    if let Some(timeout) = args.idle_timeout {
        builder = builder.idle_timeout(timeout);
    }
    if let Some(connections) = args.max_connections {
        builder = builder.max_connections(connections as usize);
    }
    if let Some(records) = args.request_log_size {
        builder = builder.request_log_capacity(records);
    }
    for key in &args.api_keys {
        if key.trim().is_empty() {
            return Err(Failure::usage("--api-key must not be empty"));
        }
        builder = builder.api_key(key.as_str());
    }
    let server = builder
        .start()
        .map_err(|e| Failure::other(format!("cannot start the mock server: {e}")))?;
    server.announce(args.api_keys.is_empty());
    server.print_requests_forever(global.quiet)
}
