//! `datafold-mock`: the embedded mock server as a standalone process, for
//! builds with the `mock-cli` feature but without the whole `datafold` CLI.
//!
//! ```text
//! cargo run --features mock-cli --bin datafold-mock -- --port 8080 --api-key KEY --seed-events 10000
//! ```
//!
//! Prints its URL (and the API key when it made one up), then one line per
//! request on stderr until it is killed. Its flags are those of
//! `datafold mock serve` ([`flags`]). Exit codes: 0 never (it serves until
//! killed), 1 when it cannot start, 2 for a bad command line.

mod flags;
// Durations as `datafold` takes them (`--late-max 2s`): the same parser, so
// the same words are accepted. The file also parses points in time, which
// this binary does not need.
#[allow(dead_code)]
#[path = "../datafold/time.rs"]
mod time;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use flags::{MockFlags, NotServed};

const AFTER_HELP: &str = "\
Examples:
  datafold-mock --port 8080 --fault 429=0.1 --fault reset=0.02 --fault-seed 7
  datafold-mock --live-rate 20/s --late-share 0.1 --late-max 2m

Exit codes: 1 the server cannot start, 2 a bad command line.";

/// Serve an in-memory Datafold API (audit logs, BI integrations) on
/// 127.0.0.1 until killed
#[derive(Parser, Debug)]
#[command(name = "datafold-mock", after_help = AFTER_HELP, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    mock: MockFlags,
    // The same words as `datafold --quiet`, the flag `mock serve` takes.
    /// Print nothing on stderr but errors
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return refuse(&error),
    };
    match cli.mock.serve(cli.quiet) {
        Ok(never) => match never {},
        Err(NotServed::Usage(message)) => {
            let _ = writeln!(
                std::io::stderr(),
                "datafold-mock: {message}\n\nFor more information, try '--help'."
            );
            ExitCode::from(2)
        }
        Err(NotServed::CannotStart(e)) => {
            let _ = writeln!(
                std::io::stderr(),
                "datafold-mock: cannot start the server: {e}"
            );
            ExitCode::from(1)
        }
    }
}

/// `--help` on stdout (exit 0); anything else clap refused on stderr, in
/// this binary's `datafold-mock: ` form (exit 2). A closed or full stdout or
/// stderr is no reason to panic.
fn refuse(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    let _ = write!(std::io::stderr(), "datafold-mock: {message}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
