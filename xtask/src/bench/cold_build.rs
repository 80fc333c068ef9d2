//! `build`: how long a cold `cargo build --release` of the SDK library (default
//! features) takes next to a crate that depends only on what a hand-written
//! client needs — reqwest (`json`, `query`, `stream`, `rustls`), serde with
//! derive, serde_json, tokio with `time` — and whose library is the bench's
//! hand-written client (`benches/runner/src/handwritten.rs`).
//!
//! Each build gets an empty target directory, so every crate is compiled from
//! source. The registry stays warm: crates are downloaded before the clock
//! starts (`cargo fetch`), so the figures are compile time, not network time.
//! Both builds resolve against a copy of the root `Cargo.lock`, so they compile
//! the same versions. `--timings` leaves cargo's per-crate report next to each
//! build.
//!
//! Wall time is the target's measure, but on a shared machine it moves with
//! whatever else runs; the CPU time of the whole build (cargo, rustc, the C
//! compiler of aws-lc-sys: every process it waited for) moves much less, so
//! it is printed too. Builds run in pairs (`--build-runs`, three by default),
//! each pair back to back and in alternating order, and each figure is the
//! median pair's: one pair's ratio moved by ±0.15 from one run to the next.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::cargo;
use super::lines::Line;

/// The scratch crate: a library of the hand-written client and nothing else.
fn bare_manifest(handwritten: &Path) -> String {
    format!(
        r#"[package]
name = "bare-client"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[lib]
path = "{}"

[dependencies]
reqwest = {{ version = "0.13.5", default-features = false, features = ["json", "query", "stream", "rustls"] }}
serde = {{ version = "1.0.226", features = ["derive"] }}
serde_json = "1.0.150"
tokio = {{ version = "1.47", default-features = false, features = ["time"] }}
"#,
        handwritten.display()
    )
}

/// Time `runs` pairs of cold builds; their result lines (medians).
pub fn run(root: &Path, bench_target: &Path, runs: usize) -> Result<Vec<Line>, String> {
    let bare = bench_target.join("bare-crate");
    std::fs::create_dir_all(&bare).map_err(|e| format!("create {}: {e}", bare.display()))?;
    let handwritten = root.join("benches/runner/src/handwritten.rs");
    std::fs::write(bare.join("Cargo.toml"), bare_manifest(&handwritten))
        .map_err(|e| format!("write the scratch crate's Cargo.toml: {e}"))?;
    std::fs::copy(root.join("Cargo.lock"), bare.join("Cargo.lock"))
        .map_err(|e| format!("copy Cargo.lock into the scratch crate: {e}"))?;

    let sdk_manifest = root.join("Cargo.toml");
    let bare_manifest = bare.join("Cargo.toml");
    for manifest in [&sdk_manifest, &bare_manifest] {
        let mut fetch = cargo();
        fetch.arg("fetch").arg("--manifest-path").arg(manifest);
        run_cargo(fetch, "cargo fetch")?;
    }
    eprintln!(
        "build: registry cache warm (fetched beforehand, not timed); each build starts from an empty target dir"
    );

    // Each pair of builds runs back to back, in alternating order, so that
    // the load of the moment weighs on both; the median pair's ratio is the
    // figure, and every pair is printed.
    let mut pairs: Vec<Pair> = Vec::with_capacity(runs);
    for round in 0..runs {
        let mut bare = None;
        let mut sdk = None;
        let order: [bool; 2] = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_bare in order {
            if is_bare {
                bare = Some(cold_build(
                    &bare_manifest,
                    &[],
                    &bench_target.join("cold-bare"),
                )?);
            } else {
                sdk = Some(cold_build(
                    &sdk_manifest,
                    &["--package", "datafold-sdk"],
                    &bench_target.join("cold-sdk"),
                )?);
            }
        }
        let (Some(bare), Some(sdk)) = (bare, sdk) else {
            unreachable!("both builds ran");
        };
        let pair = Pair { bare, sdk };
        eprintln!(
            "build {}/{runs}: bare crate (reqwest + serde + serde_json + tokio) {:.1} s wall, {:.1} s CPU; \
             datafold-sdk (default features) {:.1} s wall, {:.1} s CPU; ratio {:.3}, CPU {:.3}",
            round + 1,
            pair.bare.0,
            pair.bare.1,
            pair.sdk.0,
            pair.sdk.1,
            pair.ratio(),
            pair.cpu_ratio(),
        );
        pairs.push(pair);
    }
    eprintln!(
        "build: per-crate timings of the last pair in {}/cargo-timings/ and {}/cargo-timings/",
        bench_target.join("cold-sdk").display(),
        bench_target.join("cold-bare").display()
    );
    let median_of = |value: fn(&Pair) -> f64| median(pairs.iter().map(value).collect());
    Ok(vec![
        Line::figure("cold_build_sdk", median_of(|p| p.sdk.0), "s"),
        Line::figure("cold_build_bare", median_of(|p| p.bare.0), "s"),
        Line::ratio("cold_build_cpu", "sdk/bare", median_of(Pair::cpu_ratio)),
        Line::ratio("cold_build", "sdk/bare", median_of(Pair::ratio)),
    ])
}

/// One bare build and one SDK build, back to back: (wall, CPU) seconds each.
struct Pair {
    bare: (f64, f64),
    sdk: (f64, f64),
}

impl Pair {
    fn ratio(&self) -> f64 {
        self.sdk.0 / self.bare.0
    }

    fn cpu_ratio(&self) -> f64 {
        self.sdk.1 / self.bare.1
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Wall and CPU seconds for `cargo build --release --lib` of `manifest` in an
/// emptied `target_dir`.
fn cold_build(manifest: &Path, extra: &[&str], target_dir: &Path) -> Result<(f64, f64), String> {
    if target_dir.exists() {
        std::fs::remove_dir_all(target_dir)
            .map_err(|e| format!("empty {}: {e}", target_dir.display()))?;
    }
    let mut build = cargo();
    build
        .args(["build", "--release", "--lib", "--timings", "--quiet"])
        .args(extra)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    let cpu_before = children_cpu_secs();
    let started = Instant::now();
    run_cargo(build, "cargo build")?;
    let wall = started.elapsed().as_secs_f64();
    Ok((wall, children_cpu_secs() - cpu_before))
}

/// CPU seconds (user + system) of every child this process has waited for,
/// and of their waited-for descendants: `cutime` and `cstime` of
/// `/proc/self/stat`, in the kernel's fixed USER_HZ of 100 ticks a second.
/// NaN off Linux.
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    children_cpu_from_stat(&stat).unwrap_or(f64::NAN)
}

fn children_cpu_from_stat(stat: &str) -> Option<f64> {
    // Fields after the parenthesised command name, which may hold spaces:
    // state is field 3, cutime 16 and cstime 17.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((ticks(16)? + ticks(17)?) as f64 / 100.0)
}

fn run_cargo(mut command: Command, what: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status}): {command:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{bare_manifest, children_cpu_from_stat, median};

    #[test]
    fn the_figure_is_the_middle_pair() {
        assert_eq!(median(vec![1.4, 1.1, 1.2]), 1.2);
        assert_eq!(median(vec![1.4, 1.0]), 1.2);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn children_cpu_is_read_after_the_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime cutime cstime ...
        let stat = "4242 (x task) S 1 4242 4242 0 -1 4194560 10 20 0 0 7 3 12345 655 20 0 1";
        assert_eq!(children_cpu_from_stat(stat), Some(130.0));
        assert_eq!(children_cpu_from_stat("garbage"), None);
    }

    #[test]
    fn the_scratch_crate_is_its_own_workspace_with_the_sdks_http_features() {
        let manifest = bare_manifest("/repo/benches/runner/src/handwritten.rs".as_ref());
        assert!(manifest.contains("\n[workspace]\n"));
        assert!(manifest.contains(r#"path = "/repo/benches/runner/src/handwritten.rs""#));
        assert!(manifest.contains(r#"features = ["json", "query", "stream", "rustls"]"#));
        assert!(manifest.contains(r#"features = ["time"]"#));
    }
}
