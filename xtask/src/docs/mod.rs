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
pub mod model;
pub mod openapi;
pub mod rendered;
pub mod report;
pub mod resolved;
pub mod schema;
pub mod snapshots;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How a docs task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nothing undeclared differs / fetched.
    Ok,
    /// Undeclared drift or a stale deviation.
    Drift,
    /// Unreadable input, bad arguments, or no network.
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

const USAGE: &str = "\
usage:
  cargo xtask docs check [--snapshots DIR] [--spec FILE] [--deviations FILE]
                         [--format text|json] [--all-versions]
  cargo xtask docs fetch [--base-url URL] [--out DIR]

docs check   compare openapi/datafold.yaml with the docs snapshots under DIR
             (default target/datafold-docs, where `docs fetch` writes);
             exit 0: no undeclared drift, 1: drift or stale deviation, 2: unreadable input
docs fetch   download the audit-log and BI reference pages listed in BASE/llms.txt
             (default https://docs.datafold.com) into DIR/pages/<slug>/<n>.md with
             DIR/pages/MANIFEST.json; exit 2 when the docs cannot be reached";

/// Runs `docs <args>`.
pub fn run(args: &[String]) -> ExitCode {
    let exit = match args.first().map(String::as_str) {
        Some("check") => run_check(&args[1..]),
        Some("fetch") => run_fetch(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(Exit::Ok)
        }
        Some(other) => Err(format!("unknown docs task `{other}`")),
    };
    match exit {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(Exit::BadInput.code())
        }
    }
}

/// Splits `--flag value` / `--flag=value` / `--switch` arguments.
struct Flags<'a> {
    args: &'a [String],
    index: usize,
}

impl<'a> Flags<'a> {
    /// The next `(flag, value)`; `value` is `None` for a switch in `switches`.
    fn next(&mut self, switches: &[&str]) -> Result<Option<(String, Option<String>)>, String> {
        let Some(arg) = self.args.get(self.index) else {
            return Ok(None);
        };
        self.index += 1;
        if !arg.starts_with("--") {
            return Err(format!("unexpected argument `{arg}`"));
        }
        if let Some((flag, value)) = arg.split_once('=') {
            return Ok(Some((flag.to_string(), Some(value.to_string()))));
        }
        if switches.contains(&arg.as_str()) {
            return Ok(Some((arg.clone(), None)));
        }
        let value = self
            .args
            .get(self.index)
            .ok_or(format!("`{arg}` needs a value"))?;
        self.index += 1;
        Ok(Some((arg.clone(), Some(value.clone()))))
    }
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

fn run_check(args: &[String]) -> Result<Exit, String> {
    let mut options = check::Options {
        snapshots: workspace_path("target/datafold-docs"),
        spec: workspace_path("openapi/datafold.yaml"),
        deviations: workspace_path("openapi/deviations.yaml"),
        all_versions: false,
    };
    let mut json = false;
    let mut flags = Flags { args, index: 0 };
    while let Some((flag, value)) = flags.next(&["--all-versions"])? {
        match (flag.as_str(), value) {
            ("--snapshots", Some(v)) => options.snapshots = v.into(),
            ("--spec", Some(v)) => options.spec = v.into(),
            ("--deviations", Some(v)) => options.deviations = v.into(),
            ("--format", Some(v)) if v == "text" => json = false,
            ("--format", Some(v)) if v == "json" => json = true,
            ("--format", Some(v)) => return Err(format!("`--format {v}`: expected text or json")),
            ("--all-versions", None) => options.all_versions = true,
            (flag, _) => return Err(format!("unknown option `{flag}` for docs check")),
        }
    }
    let outcome = check::run(&options);
    if json {
        print!("{}", report::json(&outcome, &options));
    } else {
        print!("{}", report::text(&outcome, &options));
    }
    Ok(outcome.exit())
}

fn run_fetch(args: &[String]) -> Result<Exit, String> {
    let mut options = fetch::Options {
        base_url: "https://docs.datafold.com".to_string(),
        out: workspace_path("target/datafold-docs"),
    };
    let mut flags = Flags { args, index: 0 };
    while let Some((flag, value)) = flags.next(&[])? {
        match (flag.as_str(), value) {
            ("--base-url", Some(v)) => options.base_url = v.trim_end_matches('/').to_string(),
            ("--out", Some(v)) => options.out = v.into(),
            (flag, _) => return Err(format!("unknown option `{flag}` for docs fetch")),
        }
    }
    match fetch::run(&options) {
        Ok(summary) => {
            print!("{summary}");
            Ok(Exit::Ok)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(Exit::BadInput)
        }
    }
}
