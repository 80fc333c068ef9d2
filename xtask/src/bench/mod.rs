//! `cargo xtask bench`: the SDK against a hand-written reqwest + serde_json
//! client, on the embedded mock server, in one run.
//!
//! The measurements live in `benches/runner` (the `datafold-bench` binary, a
//! workspace of its own so that no other `cargo xtask` compiles the SDK). This
//! task copies the root `Cargo.lock` into it, builds it in release mode, runs
//! it, optionally times cold builds ([`cold_build`]), and ends with the
//! targets and every result line ([`lines`]). Results and their analysis are
//! recorded in `BENCHMARKS.md`.
//!
//! Exit codes: 0 everything was measured (a missed target is reported, not
//! failed), 1 a build or a measurement failed, 2 bad arguments.

mod cold_build;
pub mod figures;
pub mod lines;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, ValueEnum};

use figures::Figure;
use lines::Line;

const AFTER_HELP: &str = "\
Builds benches/runner in release mode and runs it against the embedded mock. Ends with the
targets and one `figure <name> <value> <unit>` / `ratio <name> <a>/<b> <value>` line per result.

Exit codes: 0 measured (a missed target is reported, not failed), 1 a build or a measurement
failed, 2 bad arguments.";

/// The name that runs the cold-build figure, which the xtask measures itself.
const BUILD: &str = "build";
/// `cargo xtask bench help`: this task's help, as `--help`.
const HELP: &str = "help";

/// The targets: the line's name, the most it may be, and its unit.
const TARGETS: [(&str, f64, &str); 9] = [
    ("audit_decode", 1.05, "sdk/handwritten"),
    ("small_call", 1.10, "sdk/raw"),
    ("export_rss", 64.0, "MiB"),
    ("export_requests_sparse_year", 50.0, "requests"),
    ("export_largest_response", 64.0, "MiB"),
    ("export_vs_raw", 1.5, "export/raw"),
    ("follow_rss", 64.0, "MiB"),
    // The poll interval the figure runs with (1 s), plus a second.
    ("follow_latency_p99", 2.0, "s"),
    ("cold_build", 1.3, "sdk/bare"),
];

/// `cargo xtask bench [--build] [--quick] [FIGURE...]`.
#[derive(Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct BenchArgs {
    /// Also run `build` (pairs of cold release builds: several minutes each)
    #[arg(long)]
    build: bool,
    /// A tenth of each size, to try the harness (not benchmark figures)
    #[arg(long)]
    quick: bool,
    /// Pairs of cold builds for `build`, in alternating order; the ratio is
    /// the median pair's [default: 3, 1 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    build_runs: Option<u32>,
    /// The figures to measure; `build` alone runs only the build
    #[arg(
        value_name = "FIGURE",
        value_parser = figure_names(),
        default_values_t = Figure::value_variants().iter().map(Figure::to_string)
    )]
    figures: Vec<String>,
}

/// The runner's figures, `build`, and (hidden) `help`, which prints this
/// task's help as it always did.
fn figure_names() -> PossibleValuesParser {
    let runner = Figure::value_variants()
        .iter()
        .filter_map(ValueEnum::to_possible_value);
    let own = [
        PossibleValue::new(BUILD).help(
            "Cold release build of the SDK vs a crate of reqwest + serde + tokio alone \
             (several minutes)",
        ),
        PossibleValue::new(HELP).hide(true),
    ];
    PossibleValuesParser::new(runner.chain(own))
}

/// What to run.
#[derive(Debug, PartialEq)]
struct Options {
    figures: Vec<Figure>,
    build: bool,
    quick: bool,
    /// Pairs of cold builds.
    build_runs: usize,
}

impl BenchArgs {
    /// What to run; `None` for `help`.
    fn options(self) -> Option<Options> {
        let mut options = Options {
            figures: Vec::new(),
            build: self.build,
            quick: self.quick,
            build_runs: match (self.build_runs, self.quick) {
                (Some(runs), _) => runs as usize,
                (None, true) => 1,
                (None, false) => 3,
            },
        };
        for name in &self.figures {
            match name.as_str() {
                HELP => return None,
                BUILD => options.build = true,
                // clap accepted only the names `figure_names` lists.
                figure => options.figures.extend(Figure::from_str(figure, false).ok()),
            }
        }
        Some(options)
    }
}

/// Runs `bench <args>`.
pub fn run(args: BenchArgs) -> ExitCode {
    let Some(options) = args.options() else {
        return crate::print_help(&["bench"]);
    };
    let started = Instant::now();
    match measure(&options) {
        Ok(results) => {
            summarize(&results, options.quick);
            eprintln!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// The repository root (the xtask lives in `<root>/xtask`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Where the bench builds: `bench/` under the workspace's target directory,
/// so it never waits for the lock of an ordinary build.
fn bench_target_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_relative() {
        root.join(target)
    } else {
        target
    };
    target.join("bench")
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn measure(options: &Options) -> Result<Vec<Line>, String> {
    let root = repo_root();
    let target = bench_target_dir(&root);
    println!("machine: {}", machine());
    let mut results = Vec::new();
    if !options.figures.is_empty() {
        let runner = build_runner(&root, &target)?;
        let mut command = Command::new(&runner);
        if options.figures.contains(&Figure::Follow) {
            command.env("DATAFOLD_BENCH_CLI", build_cli(&root, &target)?);
        }
        command.args(options.figures.iter().map(Figure::to_string));
        if options.quick {
            command.arg("--quick");
        }
        results.extend(run_streaming(command, "datafold-bench")?);
    }
    if options.build {
        results.extend(cold_build::run(&root, &target, options.build_runs)?);
    }
    Ok(results)
}

/// Build `benches/runner` in release mode; its executable.
fn build_runner(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let runner = root.join("benches/runner");
    // The runner links the SDK with exactly the versions the root lock pins.
    std::fs::copy(root.join("Cargo.lock"), runner.join("Cargo.lock"))
        .map_err(|e| format!("copy Cargo.lock into benches/runner: {e}"))?;
    release_build(
        &runner.join("Cargo.toml"),
        &[],
        target,
        "datafold-bench",
        "or run `cargo build --release --manifest-path benches/runner/Cargo.toml`",
    )
}

/// Build the `datafold` binary in release mode (for `follow`); its path.
fn build_cli(root: &Path, target: &Path) -> Result<PathBuf, String> {
    release_build(
        &root.join("Cargo.toml"),
        &["--features", "cli", "--bin", "datafold"],
        target,
        "datafold",
        "or run `cargo build --release --features cli --bin datafold`",
    )
}

/// `cargo build --release` of `manifest` with `args` into `target`; the
/// path of `binary`. A failure's message ends with `by_hand`.
fn release_build(
    manifest: &Path,
    args: &[&str],
    target: &Path,
    binary: &str,
    by_hand: &str,
) -> Result<PathBuf, String> {
    let started = Instant::now();
    let status = cargo()
        .args(["build", "--release", "--quiet"])
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {binary} failed ({status}); see cargo's messages above, {by_hand}"
        ));
    }
    eprintln!(
        "bench: {binary} built (release) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(target.join("release").join(binary))
}

/// Cores, CPU, memory, toolchain and load: what the figures depend on.
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown CPU", |l| l.trim_start_matches([' ', '\t', ':']));
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(|| "?".to_owned(), |kb| format!("{:.1}", kb / 1048576.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let load: Vec<String> = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .map(String::from)
        .collect();
    format!(
        "{cores} cores, {cpu}, {memory_gib} GiB RAM, {rustc}, load average {}",
        load.join(" ")
    )
}

/// Run `command`, passing its output through as it comes; its result lines.
fn run_streaming(mut command: Command, what: &str) -> Result<Vec<Line>, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let mut results = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading {what}'s output: {e}"))?;
            println!("{line}");
            results.extend(Line::parse(&line));
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {what}: {e}"))?;
    if !status.success() {
        return Err(format!("{what} failed ({status}); its message is above"));
    }
    Ok(results)
}

/// Whether each target is met, then every result line, last.
fn summarize(results: &[Line], quick: bool) {
    println!();
    if quick {
        println!("--quick: smaller sizes, not the benchmark's figures");
    }
    println!("targets:");
    for line in target_report(results) {
        println!("  {line}");
    }
    println!();
    for line in results {
        println!("{line}");
    }
}

/// One line per target with a result: measured value, limit, met or missed.
fn target_report(results: &[Line]) -> Vec<String> {
    TARGETS
        .iter()
        .filter_map(|(name, limit, unit)| {
            let line = results.iter().find(|l| l.name() == *name)?;
            let verdict = if line.value() <= *limit {
                "met"
            } else {
                "MISSED"
            };
            Some(format!(
                "{name:<27} {:>8.3} {unit:<16} target <= {limit}  {verdict}",
                line.value()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{figures::Figure, lines::Line, target_report, Options};
    use crate::{Cli, Task};

    /// What `cargo xtask bench <args>` runs; `None` for help.
    fn parse(args: &[&str]) -> Result<Option<Options>, clap::Error> {
        let argv = ["xtask", "bench"].iter().chain(args);
        match Cli::try_parse_from(argv)?.task {
            Some(Task::Bench(args)) => Ok(args.options()),
            other => panic!("not the bench task: {other:?}"),
        }
    }

    #[test]
    fn default_runs_the_runtime_figures_and_not_the_build() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(
            options.figures,
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
        assert!(!options.build && !options.quick);
        let options = parse(&["--build"]).unwrap().unwrap();
        assert_eq!(options.figures.len(), 7);
        assert!(options.build);
    }

    #[test]
    fn figures_can_be_chosen_and_build_alone_runs_nothing_else() {
        assert_eq!(
            parse(&["small_call", "--quick"]).unwrap(),
            Some(Options {
                figures: vec![Figure::SmallCall],
                build: false,
                quick: true,
                build_runs: 1,
            })
        );
        assert_eq!(
            parse(&["build"]).unwrap(),
            Some(Options {
                figures: vec![],
                build: true,
                quick: false,
                build_runs: 3,
            })
        );
        assert_eq!(
            parse(&["build", "--build-runs", "5"])
                .unwrap()
                .unwrap()
                .build_runs,
            5
        );
        assert!(parse(&["build", "--build-runs", "0"]).is_err());
        assert_eq!(parse(&["help"]).unwrap(), None);
        assert!(parse(&["audit-decode"]).is_err());
    }

    #[test]
    fn targets_are_judged_from_the_result_lines() {
        let results = [
            Line::figure("export_rss", 12.5, "MiB"),
            Line::ratio("small_call", "sdk/raw", 1.12),
            Line::ratio("audit_decode_in_memory", "sdk/handwritten", 2.0),
            Line::ratio("audit_decode", "sdk/handwritten", 1.01),
            Line::figure("export_requests_sparse_year", 51.0, "requests"),
            Line::ratio("export_vs_raw", "export/raw", 1.2),
        ];
        let report = target_report(&results);
        assert_eq!(report.len(), 5, "{report:#?}");
        assert!(report[0].starts_with("audit_decode ") && report[0].ends_with(" met"));
        assert!(report[1].starts_with("small_call ") && report[1].ends_with("MISSED"));
        assert!(report[2].starts_with("export_rss ") && report[2].ends_with(" met"));
        assert!(
            report[3].starts_with("export_requests_sparse_year ") && report[3].ends_with("MISSED")
        );
        assert!(report[4].starts_with("export_vs_raw ") && report[4].ends_with(" met"));
    }
}
