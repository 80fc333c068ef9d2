//! `cargo xtask docs ...`: keeps `openapi/datafold.yaml` honest against Datafold's API docs.
//!
//! * `docs check` compares the spec with docs snapshots ([`check`]), after both
//!   are reduced to one normalised model ([`model`]), and applies the declared
//!   deviations ([`deviations`]).
//! * `docs fetch` downloads fresh snapshots of the reference pages ([`fetch`]).
//!
//! Exit codes: 0 nothing undeclared differs, 1 drift (or a stale declaration),
//! 2 unreadable input, bad arguments, or (fetch) no network.

pub mod check;
pub mod deviations;
pub mod diff;
pub mod fetch;
pub mod fix;
pub mod model;
pub mod openapi;
pub mod pointers;
pub mod render;
pub mod rendered;
pub mod report;
pub mod resolved;
pub mod schema;
pub mod snapshots;
pub mod witnesses;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

/// How a docs task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nothing undeclared differs / fetched.
    Ok,
    /// Undeclared drift or a stale deviation.
    Drift,
    /// Unreadable input or no network (a bad command line exits 2 as
    /// well, from clap).
    BadInput,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Drift => 1,
            Exit::BadInput => 2,
        }
    }
}

const CHECK_EXIT_CODES: &str = "\
Exit codes: 0 no undeclared drift, 1 drift or a stale deviation, 2 unreadable input or bad
arguments.";
const FETCH_EXIT_CODES: &str = "\
Exit codes: 0 fetched, 2 the docs cannot be reached or a page or published document is missing or
unusable (nothing written), or bad arguments.";

/// Where `docs fetch` writes and `docs check` reads by default.
const SNAPSHOTS: &str = "target/datafold-docs";
/// The docs site `docs fetch` reads by default.
const DOCS_SITE: &str = "https://docs.datafold.com";

/// `cargo xtask docs [check|fetch]`.
#[derive(Args, Debug)]
#[command(
    after_help = "Options and exit codes: `cargo xtask docs check --help`, `cargo xtask docs fetch --help`."
)]
pub struct DocsArgs {
    #[command(subcommand)]
    task: Option<DocsTask>,
}

#[derive(Subcommand, Debug)]
enum DocsTask {
    /// Compare openapi/datafold.yaml with the docs snapshots under --snapshots
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Download the audit-log and BI reference pages listed in the docs' llms.txt,
    /// and the published OpenAPI documents they name, into --out: pages/SLUG/N.md,
    /// pages/NAME/N.json and pages/MANIFEST.json
    #[command(after_help = FETCH_EXIT_CODES)]
    Fetch(FetchArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The docs snapshots (where `docs fetch` writes)
    #[arg(long, value_name = "DIR", default_value_os_t = workspace_path(SNAPSHOTS))]
    snapshots: PathBuf,
    /// The spec to check
    #[arg(long, value_name = "FILE", default_value_os_t = workspace_path("openapi/datafold.yaml"))]
    spec: PathBuf,
    /// The declared deviations
    #[arg(
        long,
        value_name = "FILE",
        default_value_os_t = workspace_path("openapi/deviations.yaml")
    )]
    deviations: PathBuf,
    /// The report's format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print what changed from each version of a page to the next
    #[arg(long)]
    all_versions: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct FetchArgs {
    /// The docs site
    #[arg(long, value_name = "URL", default_value = DOCS_SITE)]
    base_url: String,
    /// Where to write the pages and documents
    #[arg(long, value_name = "DIR", default_value_os_t = workspace_path(SNAPSHOTS))]
    out: PathBuf,
}

/// Runs `docs <task>`; without a task, prints the docs tasks.
pub fn run(args: DocsArgs) -> ExitCode {
    let exit = match args.task {
        Some(DocsTask::Check(args)) => run_check(args),
        Some(DocsTask::Fetch(args)) => run_fetch(args),
        None => return crate::print_help(&["docs"]),
    };
    ExitCode::from(exit.code())
}

/// A default path inside the workspace, shown relative to the current directory when possible.
fn workspace_path(relative: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let path = root.join(relative);
    match std::env::current_dir() {
        Ok(cwd) => path
            .strip_prefix(&cwd)
            .map(Path::to_path_buf)
            .unwrap_or(path),
        Err(_) => path,
    }
}

fn run_check(args: CheckArgs) -> Exit {
    let options = check::Options {
        snapshots: args.snapshots,
        spec: args.spec,
        deviations: args.deviations,
        all_versions: args.all_versions,
    };
    let outcome = check::run(&options);
    match args.format {
        Format::Text => print!("{}", report::text(&outcome, &options)),
        Format::Json => print!("{}", report::json(&outcome, &options)),
    }
    outcome.exit()
}

fn run_fetch(args: FetchArgs) -> Exit {
    let options = fetch::Options {
        base_url: args.base_url.trim_end_matches('/').to_string(),
        out: args.out,
    };
    match fetch::run(&options) {
        Ok(summary) => {
            print!("{summary}");
            Exit::Ok
        }
        Err(message) => {
            eprintln!("error: {message}");
            Exit::BadInput
        }
    }
}
