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
pub mod lines;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use lines::Line;

const USAGE: &str = "\
usage: cargo xtask bench [--build] [--quick] [FIGURE...]

Builds benches/runner in release mode and runs it against the embedded mock:
  audit_decode   one 100,000-event audit-log response, SDK vs hand-written client
  small_call     2,000 get_integration round trips, SDK vs raw reqwest
  export         1,000,000 events to JSON Lines in a child: peak RSS, events/s,
                 streaming export vs one buffered GET
  build          (only with --build or by name) cold release build of the SDK
                 vs a crate of reqwest + serde + tokio alone

--build   also run `build` (two cold release builds: several minutes)
--quick   a tenth of each size, to try the harness (not benchmark figures)

Without FIGURE: audit_decode, small_call and export. Ends with the targets
and one `figure <name> <value> <unit>` / `ratio <name> <a>/<b> <value>` line
per result. Exit 0: measured (missed targets are reported, not failed),
1: a build or measurement failed, 2: bad arguments.";

const RUNTIME_FIGURES: [&str; 3] = ["audit_decode", "small_call", "export"];

/// The targets: the line's name, the most it may be, and its unit.
const TARGETS: [(&str, f64, &str); 4] = [
    ("audit_decode", 1.05, "sdk/handwritten"),
    ("small_call", 1.10, "sdk/raw"),
    ("export_rss", 64.0, "MiB"),
    ("cold_build", 1.3, "sdk/bare"),
];

/// What to run.
#[derive(Debug, PartialEq)]
struct Options {
    figures: Vec<String>,
    build: bool,
    quick: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        figures: Vec::new(),
        build: false,
        quick: false,
    };
    for arg in args {
        match arg.as_str() {
            "help" | "--help" | "-h" => return Ok(None),
            "--build" => options.build = true,
            "--quick" => options.quick = true,
            "build" => options.build = true,
            figure if RUNTIME_FIGURES.contains(&figure) => options.figures.push(figure.to_owned()),
            other => return Err(format!("unknown bench argument `{other}`")),
        }
    }
    let only_build = options.figures.is_empty() && args.iter().any(|a| a == "build");
    if options.figures.is_empty() && !only_build {
        options.figures = RUNTIME_FIGURES.map(String::from).to_vec();
    }
    Ok(Some(options))
}

/// Runs `bench <args>`.
pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
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
        command.args(&options.figures);
        if options.quick {
            command.arg("--quick");
        }
        results.extend(run_streaming(command, "datafold-bench")?);
    }
    if options.build {
        results.extend(cold_build::run(&root, &target)?);
    }
    Ok(results)
}

/// Build `benches/runner` in release mode; its executable.
fn build_runner(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let runner = root.join("benches/runner");
    // The runner links the SDK with exactly the versions the root lock pins.
    std::fs::copy(root.join("Cargo.lock"), runner.join("Cargo.lock"))
        .map_err(|e| format!("copy Cargo.lock into benches/runner: {e}"))?;
    let started = Instant::now();
    let status = cargo()
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(runner.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building benches/runner failed ({status}); \
             see cargo's messages above, or run `cargo build --release --manifest-path benches/runner/Cargo.toml`"
        ));
    }
    eprintln!(
        "bench: datafold-bench built (release) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(target.join("release").join("datafold-bench"))
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
                "{name:<13} {:>8.3} {unit:<16} target <= {limit}  {verdict}",
                line.value()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{lines::Line, parse, target_report, Options};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_runs_the_runtime_figures_and_not_the_build() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(options.figures, ["audit_decode", "small_call", "export"]);
        assert!(!options.build && !options.quick);
        let options = parse(&args(&["--build"])).unwrap().unwrap();
        assert_eq!(options.figures.len(), 3);
        assert!(options.build);
    }

    #[test]
    fn figures_can_be_chosen_and_build_alone_runs_nothing_else() {
        assert_eq!(
            parse(&args(&["small_call", "--quick"])).unwrap(),
            Some(Options {
                figures: vec!["small_call".into()],
                build: false,
                quick: true
            })
        );
        assert_eq!(
            parse(&args(&["build"])).unwrap(),
            Some(Options {
                figures: vec![],
                build: true,
                quick: false
            })
        );
        assert!(parse(&args(&["audit-decode"])).is_err());
    }

    #[test]
    fn targets_are_judged_from_the_result_lines() {
        let results = [
            Line::figure("export_rss", 12.5, "MiB"),
            Line::ratio("small_call", "sdk/raw", 1.12),
            Line::ratio("audit_decode_in_memory", "sdk/handwritten", 2.0),
            Line::ratio("audit_decode", "sdk/handwritten", 1.01),
        ];
        let report = target_report(&results);
        assert_eq!(report.len(), 3, "{report:#?}");
        assert!(report[0].starts_with("audit_decode ") && report[0].ends_with(" met"));
        assert!(report[1].starts_with("small_call ") && report[1].ends_with("MISSED"));
        assert!(report[2].starts_with("export_rss ") && report[2].ends_with(" met"));
    }
}
