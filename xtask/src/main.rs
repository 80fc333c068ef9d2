//! Development tasks for datafold-sdk, run as `cargo xtask <task>`.
//!
//! The xtask reads `openapi/` (also at git revisions, for `spec impact`) and docs
//! snapshots; it never reads the generated code.
//! See `xtask/README.md` for the docs drift check: its normalised model, the
//! witnesses the spec is held to, the suggested fixes, and the deviations format.
//!
//! A bad command line exits 2 (clap's usage error), before any work starts.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod bench;
mod docs;
mod spec;

/// Development tasks for datafold-sdk
#[derive(Parser, Debug)]
#[command(name = "xtask", bin_name = "cargo xtask", max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    task: Option<Task>,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Compare openapi/datafold.yaml with docs snapshots, or download fresh ones
    Docs(docs::DocsArgs),
    /// The SDK against a hand-written client (see BENCHMARKS.md)
    Bench(bench::BenchArgs),
    /// What a spec edit does to code built on the generated client (breaking, wire-only, additive)
    Spec(spec::SpecArgs),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        None => print_help(&[]),
        Some(Task::Docs(args)) => docs::run(args),
        Some(Task::Bench(args)) => bench::run(args),
        Some(Task::Spec(args)) => spec::run(args),
    }
}

/// Print what `cargo xtask <task...> --help` prints; exit 0.
fn print_help(task: &[&str]) -> ExitCode {
    let argv = ["xtask"].iter().chain(task).chain(&["--help"]);
    if let Err(help) = Cli::command().try_get_matches_from(argv) {
        let _ = help.print();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
