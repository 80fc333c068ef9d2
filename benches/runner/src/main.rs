//! `datafold-bench`: the SDK against a hand-written reqwest client, on the
//! embedded mock server. Run it through `cargo xtask bench`, which builds it
//! in release mode, adds the build-time comparison and checks the targets.
//!
//! ```text
//! datafold-bench [--quick] [audit_decode] [small_call] [small_call_instructions] [export]
//!                [adaptive_windows] [export_vs_raw] [follow]
//! ```
//!
//! Prints details as it goes and one result line per figure (see
//! `xtask/src/bench/lines.rs`). `--quick` runs each figure at a tenth of its
//! size, to try the harness; its numbers are not the benchmark's. Exit codes:
//! 0 measured, 1 a figure failed, 2 a bad command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod audit_decode;
mod export;
mod feed;
mod follow;
// The figures' names, shared with the xtask, which passes them on.
#[path = "../../../xtask/src/bench/figures.rs"]
mod figures;
mod handwritten;
// The result-line format, shared with the xtask; only the xtask reads lines back.
#[allow(dead_code)]
#[path = "../../../xtask/src/bench/lines.rs"]
mod lines;
mod samples;
mod small_call;

use figures::Figure;
use handwritten::BoxError;
use lines::Line;

/// The API key of every mock the bench starts.
const KEY: &str = "datafold-bench-key";

// The size of each figure and how many runs it takes.
const AUDIT_EVENTS: u64 = 100_000;
const AUDIT_RUNS: usize = 7;
const SMALL_CALLS: usize = 2_000;
const COUNTED_CALLS: usize = 1_000;
const EXPORT_EVENTS: u64 = 1_000_000;
const EXPORT_RUNS: usize = 3;
const DENSE_HOUR_EVENTS: u64 = 1_000_000;
const VS_RAW_EVENTS: u64 = 1_000_000;
const VS_RAW_RUNS: usize = 3;
const FOLLOW_SECS: u64 = 90;

/// The SDK against a hand-written reqwest client, on the embedded mock; run
/// it through `cargo xtask bench`
#[derive(Parser, Debug)]
#[command(name = "datafold-bench", args_conflicts_with_subcommands = true)]
struct Cli {
    /// A tenth of each size, to try the harness (not the benchmark's figures)
    #[arg(long)]
    quick: bool,
    /// The figures to measure
    #[arg(
        value_name = "FIGURE",
        value_enum,
        default_values_t = Figure::value_variants().to_vec()
    )]
    figures: Vec<Figure>,
    #[command(subcommand)]
    child: Option<Child>,
}

/// This program started again by a figure, to be measured from outside.
#[derive(Subcommand, Debug)]
enum Child {
    /// Export one window to OUT, print `done <records> <bytes> <seconds>`,
    /// then wait for stdin to close
    #[command(hide = true)]
    ExportChild {
        #[arg(value_enum)]
        mode: export::Mode,
        url: String,
        out: PathBuf,
    },
    /// Make CALLS get_integration calls through ARM against a new mock
    /// (for `small_call_instructions`, which counts them under callgrind)
    #[command(hide = true)]
    CallsChild {
        #[arg(value_enum)]
        arm: small_call::Arm,
        calls: usize,
    },
}

/// Print a result line as soon as it is measured.
fn report(line: Line) {
    println!("{line}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(child) = cli.child {
        let done = match child {
            Child::ExportChild { mode, url, out } => export::child(mode, &url, &out),
            Child::CallsChild { arm, calls } => small_call::child(arm, calls),
        };
        return match done {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    for figure in cli.figures {
        if let Err(e) = run(figure, cli.quick) {
            eprintln!("datafold-bench: {figure} failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn run(figure: Figure, quick: bool) -> Result<(), BoxError> {
    let scale = if quick { 10 } else { 1 };
    // The in-process figures use one runtime thread for the client; the mock
    // serves from a thread of its own, so on two cores each has one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match figure {
        Figure::AuditDecode => runtime.block_on(audit_decode::run(
            AUDIT_EVENTS / scale,
            AUDIT_RUNS.min(if quick { 5 } else { usize::MAX }),
        )),
        Figure::SmallCall => runtime.block_on(small_call::run(SMALL_CALLS / scale as usize)),
        Figure::SmallCallInstructions => small_call::instructions(COUNTED_CALLS / scale as usize),
        Figure::Export => export::run(EXPORT_EVENTS / scale, if quick { 1 } else { EXPORT_RUNS }),
        Figure::AdaptiveWindows => {
            runtime.block_on(feed::adaptive_windows(DENSE_HOUR_EVENTS / scale))
        }
        Figure::ExportVsRaw => runtime.block_on(feed::export_vs_raw(
            VS_RAW_EVENTS / scale,
            if quick { 1 } else { VS_RAW_RUNS },
        )),
        Figure::Follow => follow::run(FOLLOW_SECS / scale),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{export::Mode, Child, Cli, Figure};

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn figures_default_to_all_and_the_child_is_a_subcommand() {
        let all = Cli::try_parse_from(["datafold-bench", "--quick"]).unwrap();
        assert_eq!(
            all.figures,
            [
                Figure::AuditDecode,
                Figure::SmallCall,
                Figure::SmallCallInstructions,
                Figure::Export,
                Figure::AdaptiveWindows,
                Figure::ExportVsRaw,
                Figure::Follow
            ]
        );
        assert!(all.quick && all.child.is_none());
        let one = Cli::try_parse_from(["datafold-bench", "small_call"]).unwrap();
        assert_eq!(one.figures, [Figure::SmallCall]);
        assert!(Cli::try_parse_from(["datafold-bench", "audit-decode"]).is_err());
        let child = Cli::try_parse_from([
            "datafold-bench",
            "export-child",
            "naive",
            "http://127.0.0.1:1",
            "out.jsonl",
        ])
        .unwrap();
        assert!(matches!(
            child.child,
            Some(Child::ExportChild {
                mode: Mode::Naive,
                ..
            })
        ));
        let calls = Cli::try_parse_from(["datafold-bench", "calls-child", "raw", "20"]).unwrap();
        assert!(matches!(
            calls.child,
            Some(Child::CallsChild {
                arm: super::small_call::Arm::Raw,
                calls: 20
            })
        ));
    }
}
