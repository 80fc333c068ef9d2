//! `datafold-bench`: the SDK against a hand-written reqwest client, on the
//! embedded mock server. Run it through `cargo xtask bench`, which builds it
//! in release mode, adds the build-time comparison and checks the targets.
//!
//! ```text
//! datafold-bench [--quick] [audit_decode] [small_call] [export]
//! ```
//!
//! Prints details as it goes and one result line per figure (see
//! `xtask/src/bench/lines.rs`). `--quick` runs each figure at a tenth of its
//! size, to try the harness; its numbers are not the benchmark's.

use std::process::ExitCode;

mod audit_decode;
mod export;
mod handwritten;
// The result-line format, shared with the xtask; only the xtask reads lines back.
#[allow(dead_code)]
#[path = "../../../xtask/src/bench/lines.rs"]
mod lines;
mod samples;
mod small_call;

use handwritten::BoxError;
use lines::Line;

/// The API key of every mock the bench starts.
const KEY: &str = "datafold-bench-key";

// The size of each figure and how many runs it takes.
const AUDIT_EVENTS: u64 = 100_000;
const AUDIT_RUNS: usize = 7;
const SMALL_CALLS: usize = 2_000;
const EXPORT_EVENTS: u64 = 1_000_000;
const EXPORT_RUNS: usize = 3;

const FIGURES: [&str; 3] = ["audit_decode", "small_call", "export"];

/// Print a result line as soon as it is measured.
fn report(line: Line) {
    println!("{line}");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("export-child") {
        return match export::child(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let quick = args.iter().any(|a| a == "--quick");
    let mut chosen: Vec<&str> = Vec::new();
    for arg in args.iter().filter(|a| *a != "--quick") {
        match FIGURES.iter().find(|f| *f == arg) {
            Some(figure) => chosen.push(figure),
            None => {
                eprintln!(
                    "datafold-bench: unknown figure {arg:?}; choose from {}",
                    FIGURES.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = FIGURES.to_vec();
    }
    for figure in chosen {
        if let Err(e) = run(figure, quick) {
            eprintln!("datafold-bench: {figure} failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn run(figure: &str, quick: bool) -> Result<(), BoxError> {
    let scale = if quick { 10 } else { 1 };
    // The in-process figures use one runtime thread for the client; the mock
    // serves from a thread of its own, so on two cores each has one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match figure {
        "audit_decode" => runtime.block_on(audit_decode::run(
            AUDIT_EVENTS / scale,
            AUDIT_RUNS.min(if quick { 5 } else { usize::MAX }),
        )),
        "small_call" => runtime.block_on(small_call::run(SMALL_CALLS / scale as usize)),
        _ => export::run(EXPORT_EVENTS / scale, if quick { 1 } else { EXPORT_RUNS }),
    }
}
