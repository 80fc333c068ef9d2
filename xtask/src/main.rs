//! Development tasks for datafold-sdk, run as `cargo xtask <task>`.
//!
//! The xtask reads `openapi/` and docs snapshots; it never reads the generated code.
//! See `xtask/README.md` for the docs drift check: its normalised model, the
//! precedence of snapshot sources, and the deviations format.

use std::process::ExitCode;

mod bench;
mod docs;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  docs check   compare openapi/datafold.yaml with docs snapshots
  docs fetch   download fresh docs snapshots
  bench        the SDK against a hand-written client (see BENCHMARKS.md)

run `cargo xtask docs help` or `cargo xtask bench help` for options";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("docs") => docs::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some(other) => {
            eprintln!("error: unknown task `{other}`; run `cargo xtask help` for the list");
            ExitCode::from(2)
        }
    }
}
