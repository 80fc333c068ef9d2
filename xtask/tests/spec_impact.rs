//! `cargo xtask spec impact` as a process: the report, its exit codes, and
//! the git revisions it reads (the classification itself is tested in
//! `src/spec/`).

mod sandbox;

use sandbox::xtask;

/// The real spec.
fn spec() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/datafold.yaml").to_string()
}

/// A private copy of the real spec with one edit.
fn edited(name: &str, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(spec()).expect("read the spec");
    assert_eq!(text.matches(from).count(), 1, "{from}");
    let dir = std::env::temp_dir().join(format!("xtask-spec-impact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text.replace(from, to)).expect("write the edited spec");
    path
}

/// `cargo xtask spec impact --old OLD --new NEW` and `more`.
fn impact(old: &str, new: &std::path::Path, more: &[&str]) -> sandbox::Run {
    let new = new.to_str().expect("a UTF-8 path");
    let mut args = vec!["spec", "impact", "--old", old, "--new", new];
    args.extend_from_slice(more);
    xtask(&args)
}

#[test]
fn help_lists_the_options() {
    let run = xtask(&["spec", "impact", "--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for flag in ["--base", "--old", "--new", "--format", "Exit codes"] {
        assert!(run.stdout.contains(flag), "{flag}: {}", run.stdout);
    }
}

#[test]
fn the_same_spec_reports_no_changes_and_no_bump() {
    let run = xtask(&["spec", "impact", "--old", &spec(), "--new", &spec()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\nno changes\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("semver: no bump (current version "),
        "{}",
        run.stdout
    );
}

#[test]
fn a_renamed_operation_is_reported_with_the_bump_and_the_changelog() {
    let new = edited(
        "renamed.yaml",
        "operationId: sync_integration",
        "operationId: resync_integration",
    );
    let run = impact(&spec(), &new, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("breaking for Rust callers (1):"), "{out}");
    assert!(out.contains("[Client::sync_integration()]"), "{out}");
    assert!(
        // Minor at 0.y.z, major from 1.0.0 on.
        out.contains("semver: minor bump (current version 0.")
            || out.contains("semver: major bump (current version "),
        "{out}"
    );
    assert!(
        out.contains("### Changed\n- **Breaking:** `Client::sync_integration()`"),
        "{out}"
    );

    let run = impact(&spec(), &new, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["changes"][0]["class"], "breaking_rust");
    assert_eq!(report["semver"]["bump"], "minor");
}

#[test]
fn unreadable_input_exits_1_with_a_message() {
    let bad = edited("bad.yaml", "openapi: 3.0.3", "openapi: [3.0.3");
    for args in [
        vec!["--old".to_string(), "/no/such/spec.yaml".to_string()],
        vec!["--old".to_string(), bad.display().to_string()],
        vec![
            "--base".to_string(),
            "no-such-revision-anywhere".to_string(),
        ],
    ] {
        let mut argv = vec!["spec".to_string(), "impact".to_string()];
        argv.extend(args.clone());
        let run = xtask(&argv);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

/// What CI runs: the spec at a revision of this repository (its first
/// commit holds the spec) against the working copy.
#[test]
fn a_git_revision_is_read() {
    let root = std::process::Command::new("git")
        .args(["rev-list", "--max-parents=0", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let Ok(root) = root else { return }; // no git: nothing to read
    if !root.status.success() {
        return; // not a git checkout (an unpacked tarball)
    }
    let first = String::from_utf8_lossy(&root.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let run = xtask(&["spec", "impact", "--base", &first]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("openapi/datafold.yaml at {first}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nsemver: "), "{}", run.stdout);
}
