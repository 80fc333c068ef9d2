//! The build script's behaviour on bad specs: it must fail with one message
//! naming `openapi/datafold.yaml` and the problem, never a panic backtrace.
//!
//! Runs the crate's real, already compiled build script against a copy of the
//! spec with one defect each, in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

const SPEC: &str = include_str!("../openapi/datafold.yaml");

/// The newest compiled build script of this package under the target dir.
fn build_script() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(profile_dir.join("build"))
        .expect("target/<profile>/build exists after a build")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let script = path.join("build-script-build");
            (name.starts_with("datafold-sdk-") && script.is_file()).then_some(script)
        })
        .collect();
    candidates.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    candidates
        .pop()
        .expect("the compiled build script of datafold-sdk")
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
    generated: Option<String>,
}

fn run_with_spec(name: &str, spec: &str) -> Outcome {
    let dir =
        std::env::temp_dir().join(format!("datafold-sdk-build-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("openapi")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("openapi/datafold.yaml"), spec).unwrap();
    let output = Command::new(build_script())
        .env("CARGO_MANIFEST_DIR", &dir)
        .env("OUT_DIR", dir.join("out"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let generated = std::fs::read_to_string(dir.join("out/codegen.rs")).ok();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        generated,
    }
}

fn assert_fails_with(outcome: Outcome, expected: &str) {
    assert!(!outcome.success, "the build must fail");
    let error_line = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("cargo::error="))
        .unwrap_or_else(|| panic!("no cargo::error line in {:?}", outcome.stdout));
    assert!(
        error_line.starts_with("cargo::error=openapi/datafold.yaml: "),
        "{error_line}"
    );
    assert!(
        error_line.contains(expected),
        "{error_line:?} lacks {expected:?}"
    );
    assert!(
        outcome.stderr.contains(expected),
        "stderr: {}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("panicked"),
        "panic instead of a message: {}",
        outcome.stderr
    );
    assert!(
        outcome.generated.is_none(),
        "nothing may be generated from a bad spec"
    );
}

#[test]
fn the_real_spec_generates_a_marked_client() {
    let outcome = run_with_spec("ok", SPEC);
    assert!(outcome.success, "{}", outcome.stderr);
    let code = outcome.generated.expect("codegen.rs written");
    assert!(code.starts_with("// @generated") && code.contains("DO NOT EDIT"));
    assert!(outcome
        .stdout
        .contains("cargo:rerun-if-changed=openapi/datafold.yaml"));
}

#[test]
fn an_openapi_3_1_document_is_named_as_such() {
    let spec = SPEC.replace("openapi: 3.0.3", "openapi: 3.1.0");
    assert_fails_with(
        run_with_spec("v31", &spec),
        "OpenAPI 3.1.0 is not supported",
    );
}

#[test]
fn a_duplicate_operation_id_is_named() {
    let spec = SPEC.replace(
        "operationId: list_integrations",
        "operationId: get_audit_logs",
    );
    assert_fails_with(
        run_with_spec("dup-id", &spec),
        "duplicate operationId `get_audit_logs`",
    );
}

#[test]
fn a_repeated_tag_is_refused_before_it_breaks_compilation() {
    let spec = SPEC.replacen(
        "operationId: create_powerbi_integration\n      tags: [BI]",
        "operationId: create_powerbi_integration\n      tags: [BI, BI]",
        1,
    );
    assert_ne!(spec, SPEC, "fixture edit applied");
    assert_fails_with(
        run_with_spec("dup-tag", &spec),
        "give every operation exactly one tag",
    );
}

#[test]
fn broken_yaml_reports_where() {
    let spec = SPEC.replacen("paths:\n", "paths:\n  - [unclosed\n", 1);
    assert_fails_with(run_with_spec("yaml", &spec), "not valid YAML");
}

#[test]
fn a_document_of_the_wrong_shape_is_explained() {
    let spec = SPEC.replacen("info:\n", "info: 5\nignored:\n", 1);
    assert_fails_with(
        run_with_spec("shape", &spec),
        "not a valid OpenAPI 3.0 document",
    );
}

#[test]
fn a_missing_operation_id_is_named() {
    let spec = SPEC.replacen("      operationId: sync_integration\n", "", 1);
    assert_fails_with(
        run_with_spec("no-id", &spec),
        "GET /api/v1/lineage/bi/{bi_datasource_id}/sync/ has no operationId",
    );
}
