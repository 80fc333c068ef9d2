//! `datafold-mock`: the embedded mock server as a standalone process.
//!
//! ```text
//! cargo run --features mock --bin datafold-mock -- --port 8080 --api-key KEY --seed-events 10000
//! ```
//!
//! Prints its URL (and the API key when it made one up), then one line per
//! request on stderr until it is killed. Exit codes: 0 never (it serves until
//! killed), 1 when it cannot start, 2 for a bad command line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use datafold_sdk::mock::{parse_timeout_secs, Fault, Faults, MockServer, MockServerBuilder};

const HELP: &str = "\
datafold-mock: an in-memory Datafold API (audit logs and BI integrations) for tests and demos

USAGE:
    datafold-mock [OPTIONS]

OPTIONS:
    --port <N>             Port on 127.0.0.1 [default: any free port]
    --api-key <KEY>        Accept this API key (repeatable); without it one is generated and printed
    --seed <N>             Seed of the seeded audit history [default: 0]
    --seed-events <N>      Seeded audit events over the last 30 days [default: 100]
    --latency-ms <N>       Delay added to every response
    --fault <KIND=RATE>    Inject a fault into a fraction of requests (repeatable);
                           KIND: 429, 500, 502, 503, reset, reset-after, truncate
    --fault-seed <N>       Seed of the fault draws [default: 0]
    --retry-after <SECS>   Retry-After of injected 429s and 503s [default: 1]
    --check-responses      Check every response against the spec; report violations
    --header-timeout <SECS>
                           Close a connection that has not sent a whole request head this long
                           after connecting or after its last response [default: 10]
    --idle-timeout <SECS>  Close a connection that sends and reads nothing this long, e.g. a
                           stalled request body [default: 30]
    --max-connections <N>  Serve at most N connections at once; a new one closes the one idle
                           the longest, or waits until one closes [default: 128]
    --request-log-size <N> Keep the last N requests in the request log [default: 10000]
    --quiet                Do not print a line per request
    -h, --help             Print this help

EXAMPLE:
    datafold-mock --port 8080 --fault 429=0.1 --fault reset=0.02 --fault-seed 7
";

/// The parsed command line.
struct Options {
    builder: MockServerBuilder,
    generated_key: bool,
    quiet: bool,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            // A closed or full stdout is no reason to panic.
            let _ = std::io::stdout().write_all(HELP.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            let _ = writeln!(
                std::io::stderr(),
                "datafold-mock: {message}\nRun `datafold-mock --help` for the options."
            );
            return ExitCode::from(2);
        }
    };
    let server = match options.builder.start() {
        Ok(server) => server,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "datafold-mock: cannot start the server: {e}"
            );
            return ExitCode::from(1);
        }
    };
    server.announce(options.generated_key);
    server.print_requests_forever(options.quiet)
}

/// `Ok(None)` means `--help`.
fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut builder = MockServer::builder();
    let mut faults = Faults::new();
    let mut generated_key = true;
    let mut quiet = false;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` both work.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => builder = builder.port(number(&flag, &value(&flag)?)?),
            "--api-key" => {
                let key = value(&flag)?;
                if key.trim().is_empty() {
                    return Err("--api-key must not be empty".into());
                }
                builder = builder.api_key(key);
                generated_key = false;
            }
            "--seed" => builder = builder.seed(number(&flag, &value(&flag)?)?),
            "--seed-events" => builder = builder.seed_events(number(&flag, &value(&flag)?)?),
            "--latency-ms" => {
                faults = faults.latency(Duration::from_millis(number(&flag, &value(&flag)?)?))
            }
            "--fault-seed" => faults = faults.seed(number(&flag, &value(&flag)?)?),
            "--retry-after" => faults = faults.retry_after_secs(number(&flag, &value(&flag)?)?),
            "--fault" => {
                let (fault, rate) = Fault::parse_with_rate(&value(&flag)?)?;
                faults = faults.rate(fault, rate);
            }
            "--check-responses" => builder = builder.check_responses(true),
            "--header-timeout" => {
                builder = builder.header_read_timeout(timeout(&flag, &value(&flag)?)?)
            }
            "--idle-timeout" => builder = builder.idle_timeout(timeout(&flag, &value(&flag)?)?),
            "--max-connections" => {
                let connections: usize = number(&flag, &value(&flag)?)?;
                if connections == 0 {
                    return Err("--max-connections must be at least 1".into());
                }
                builder = builder.max_connections(connections);
            }
            "--request-log-size" => {
                builder = builder.request_log_capacity(number(&flag, &value(&flag)?)?)
            }
            "--quiet" => quiet = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    faults.check()?;
    Ok(Some(Options {
        builder: builder.faults(faults),
        generated_key,
        quiet,
    }))
}

fn timeout(flag: &str, text: &str) -> Result<Duration, String> {
    parse_timeout_secs(text).map_err(|e| format!("{flag}: {e}"))
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{flag} takes a whole number, got {text:?}"))
}
