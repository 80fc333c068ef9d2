//! `cargo xtask spec impact`: what an edit of `openapi/datafold.yaml` does to
//! code built on the generated client.
//!
//! Two versions of the spec are compared (by default the spec at the last tag,
//! or `HEAD` without tags, against the working copy), reduced first to what
//! progenitor generates from them ([`model`]): operations by operationId
//! (`Client::<operation_id>()`, its parameters' builder methods, `body()`,
//! `send()`'s response type) and component schemas by name (`types::X`, with
//! the names typify gives fields and variants). Each difference is classified
//! ([`impact`]) and the report ends with the semver bump and a changelog entry.
//!
//! # Rules
//!
//! **Breaking for Rust callers** — code that compiled may not compile, or a
//! builder must now set something:
//! * an operation removed, or renamed (its operationId changed while method
//!   and path stayed: the method is renamed);
//! * a component schema removed or renamed (the same schema under a new name);
//! * a property removed or renamed (the same schema under a new name in the
//!   same object);
//! * a property or parameter added as required, or an optional one that became
//!   required;
//! * a property's Rust type changed (typify's: `T`, `Option<T>`, `Vec<T>`,
//!   `chrono::DateTime<Utc>`, `crate::Secret`, integer widths from `format`
//!   and bounds, a constrained-string newtype when `maxLength`, `minLength` or
//!   `pattern` appears or goes); a required property that became optional is
//!   breaking only when it turns `T` into `Option<T>`;
//! * a parameter's, request body's or response's Rust type changed, a request
//!   body added as required, removed, or made required or optional (`body()`
//!   takes `T` or `Option<T>`);
//! * an enum value removed, **or added**: a new variant breaks exhaustive
//!   `match`es on the generated (exhaustive) enum, which Cargo's semver
//!   reference counts as a major change; in a response, old clients also fail
//!   to decode it.
//!
//! **Breaking on the wire only** — the Rust API is unchanged, but a client
//! built from one spec and a server following the other may disagree:
//! * the path or method of an operation changed, operationId kept;
//! * a `format` changed with the same Rust type (e.g. `email` -> `uri`);
//! * a `default` changed;
//! * a validation keyword changed (`maxLength`, `minimum`, `maxItems`, ...;
//!   reported as tightened or loosened), when the Rust type stays;
//! * `nullable` changed where the Rust type stays (an optional property);
//! * a parameter moved (`in: query` -> `in: header`);
//! * a response status added or removed with the same Rust response type;
//! * any other schema keyword changed (`additionalProperties`, `writeOnly`, ...);
//! * every Rust-breaking change to a schema build.rs replaces with a
//!   hand-written type (`AuditLogs`, `BiIntegration`, `BiIntegrationList`,
//!   `HTTPValidationError`, see [`model::REPLACEMENTS`]): the generated code
//!   does not change, so the report says to check that the hand-written type
//!   follows.
//!
//! **Additive**: a new operation, a new schema, a new optional property or
//! parameter, a new optional request body, a required parameter or property
//! that became optional without changing its Rust type. A new optional field
//! is additive for code that builds values with the generated builders
//! (`types::X::builder()`); a struct literal of an all-public struct would need
//! it too, which this project does not count, as the builders are the
//! documented way.
//!
//! **No effect**: titles, descriptions, summaries, examples, `deprecated` and
//! tags (progenitor merges tags into one `Client`) change doc comments only;
//! they are listed, and left out of the changelog and the bump.
//!
//! # Semver
//!
//! Cargo's rules, with the version of the root `Cargo.toml`: a breaking change
//! bumps X in X.y.z (X >= 1), y in 0.y.z, z in 0.0.z. Additions bump y from
//! 1.0.0 on and z in 0.y.z (Cargo treats 0.y.z -> 0.y.(z+1) as compatible, so
//! additions in 0.x are patch releases). Wire-only changes leave the Rust API
//! alone and bump z, and belong in the release notes. Documentation-only
//! changes need no release.
//!
//! Exit codes: 0 the report was printed (whatever it says), 1 a spec or git
//! revision cannot be read or parsed, 2 a bad command line (clap's).

pub mod impact;
pub mod model;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use impact::{Change, Class, Section};
use model::Spec;

/// The spec, relative to the repository root (and in git revisions).
const SPEC: &str = "openapi/datafold.yaml";

const IMPACT_EXIT_CODES: &str = "\
Exit codes: 0 reported (whatever the changes), 1 a spec or revision cannot be read or parsed,
2 bad arguments.";

/// `cargo xtask spec [impact]`.
#[derive(Args, Debug)]
#[command(after_help = "Options and exit codes: `cargo xtask spec impact --help`.")]
pub struct SpecArgs {
    #[command(subcommand)]
    task: Option<SpecTask>,
}

/// The spec tasks.
#[derive(Subcommand, Debug)]
enum SpecTask {
    /// What a spec edit does to code built on the generated client: breaking,
    /// wire-only, additive, the semver bump and a changelog entry
    #[command(after_help = IMPACT_EXIT_CODES)]
    Impact(ImpactArgs),
}

/// `cargo xtask spec impact`'s options.
#[derive(Args, Debug)]
struct ImpactArgs {
    /// The git revision whose openapi/datafold.yaml is the old spec [default: the last
    /// tag (git describe --tags --abbrev=0), or HEAD when there is none]
    #[arg(long, value_name = "REV", conflicts_with = "old")]
    base: Option<String>,
    /// The old spec, from a file instead of a git revision
    #[arg(long, value_name = "FILE")]
    old: Option<PathBuf>,
    /// The new spec [default: openapi/datafold.yaml, the working copy]
    #[arg(long, value_name = "FILE")]
    new: Option<PathBuf>,
    /// The report's format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The report's format. (No doc comments on the values: clap would switch
/// `--help` to its long layout.)
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// Runs `spec <task>`; without a task, prints the spec tasks.
pub fn run(args: SpecArgs) -> ExitCode {
    match args.task {
        Some(SpecTask::Impact(args)) => match run_impact(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
        },
        None => crate::print_help(&["spec"]),
    }
}

/// The repository root (the xtask's parent folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Read both specs, compare them, and render the report.
fn run_impact(args: &ImpactArgs) -> Result<String, String> {
    let root = root();
    let (old, old_label) = match &args.old {
        Some(path) => (read_spec(path)?, path.display().to_string()),
        None => {
            let rev = match &args.base {
                Some(rev) => rev.clone(),
                None => default_base(&root),
            };
            match spec_at(&root, &rev)? {
                Some(text) => (
                    Spec::parse(&text, &format!("{SPEC} at {rev}"))?,
                    format!("{SPEC} at {rev}"),
                ),
                None => (
                    Spec::default(),
                    format!("{rev} (which has no {SPEC}: everything is new)"),
                ),
            }
        }
    };
    let new_path = args.new.clone().unwrap_or_else(|| root.join(SPEC));
    let new = read_spec(&new_path)?;
    let new_label = match &args.new {
        Some(path) => path.display().to_string(),
        None => format!("{SPEC} (working copy)"),
    };
    let version = package_version(&root.join("Cargo.toml"))?;
    let changes = impact::compare(&old, &new);
    let semver = Semver::of(&changes, &version)?;
    Ok(match args.format {
        Format::Text => text(&old_label, &new_label, &changes, &semver),
        Format::Json => format!(
            "{:#}\n",
            json_report(&old_label, &new_label, &changes, &semver)
        ),
    })
}

/// Read and parse a spec file.
fn read_spec(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Spec::parse(&text, &path.display().to_string())
}

/// Run git in the repository; its stdout, or what it said on failure.
fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        String::from_utf8(out.stdout)
            .map_err(|_| format!("git {}: output is not UTF-8", args.join(" ")))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The last tag, or `HEAD` when the history has none (a fresh clone often).
fn default_base(root: &Path) -> String {
    match git(root, &["describe", "--tags", "--abbrev=0"]) {
        Ok(tag) if !tag.trim().is_empty() => tag.trim().to_string(),
        _ => "HEAD".to_string(),
    }
}

/// The spec's text at a revision; `None` when the revision has no spec.
fn spec_at(root: &Path, rev: &str) -> Result<Option<String>, String> {
    let commit = format!("{rev}^{{commit}}");
    git(root, &["rev-parse", "--verify", "--quiet", &commit]).map_err(|e| {
        format!(
            "`{rev}` is not a git revision of {}{}",
            root.display(),
            colon(&e)
        )
    })?;
    let object = format!("{rev}:{SPEC}");
    if git(root, &["cat-file", "-e", &object]).is_err() {
        return Ok(None);
    }
    git(root, &["show", &object])
        .map(Some)
        .map_err(|e| format!("cannot read {SPEC} at {rev}: {e}"))
}

/// `: message`, or nothing for an empty message.
fn colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// The `[package]` version of a Cargo.toml.
fn package_version(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(rest) = line.strip_prefix("version") {
                if let Some(value) = rest.trim_start().strip_prefix('=') {
                    return Ok(value.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    Err(format!("{}: no version in [package]", path.display()))
}

/// The bump a set of changes calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bump {
    /// Documentation only, or nothing: no release needed.
    None,
    /// z in x.y.z.
    Patch,
    /// y in x.y.z.
    Minor,
    /// x in x.y.z.
    Major,
}

impl Bump {
    /// The bump's word in the report (`no`, `patch`, `minor`, `major`).
    fn word(self) -> &'static str {
        match self {
            Bump::None => "no",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The semver verdict: the bump, the versions, and the rule applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Semver {
    /// Which number moves.
    pub bump: Bump,
    /// The version in Cargo.toml.
    pub current: String,
    /// The version to release.
    pub next: String,
    /// The rule that gave the bump, in one sentence.
    pub rule: String,
}

impl Semver {
    /// Apply Cargo's semver rules (see the module docs) to `current`.
    pub fn of(changes: &[Change], current: &str) -> Result<Semver, String> {
        let numbers: Vec<u64> = current
            .split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|n| n.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("version `{current}` is not x.y.z"))?;
        let [x, y, z] = numbers[..] else {
            return Err(format!("version `{current}` is not x.y.z"));
        };
        let has = |class: Class| changes.iter().any(|c| c.class == class);
        let (bump, rule) = if has(Class::Rust) {
            match (x, y) {
                (1.., _) => (Bump::Major, "a breaking change bumps the major version"),
                (0, 1..) => (
                    Bump::Minor,
                    "a breaking change in 0.y.z bumps y (Cargo's semver for 0.x)",
                ),
                (0, 0) => (
                    Bump::Patch,
                    "in 0.0.z every release is breaking (Cargo's semver): bump z",
                ),
            }
        } else if has(Class::Additive) {
            match x {
                1.. => (Bump::Minor, "additions bump the minor version"),
                0 => (
                    Bump::Patch,
                    "additions in 0.y.z bump z (0.y.z -> 0.y.(z+1) is compatible in Cargo's semver)",
                ),
            }
        } else if has(Class::Wire) {
            (
                Bump::Patch,
                "wire-only changes keep the Rust API: bump z, and say so in the release notes",
            )
        } else {
            (
                Bump::None,
                "no change to the generated API (documentation at most): no release needed",
            )
        };
        let next = match bump {
            Bump::None => current.to_string(),
            Bump::Patch => format!("{x}.{y}.{}", z + 1),
            Bump::Minor => format!("{x}.{}.0", y + 1),
            Bump::Major => format!("{}.0.0", x + 1),
        };
        Ok(Semver {
            bump,
            current: current.to_string(),
            next,
            rule: rule.to_string(),
        })
    }

    /// `semver: minor bump (current version 0.1.0 from Cargo.toml -> 0.2.0)`.
    pub fn line(&self) -> String {
        format!(
            "semver: {} bump (current version {} from Cargo.toml -> {})",
            self.bump.word(),
            self.current,
            self.next
        )
    }
}

/// The human report.
fn text(old: &str, new: &str, changes: &[Change], semver: &Semver) -> String {
    let mut out = format!("spec impact: {old} -> {new}\n");
    if changes.is_empty() {
        out.push_str("\nno changes\n");
    }
    for class in [Class::Rust, Class::Wire, Class::Additive, Class::NoEffect] {
        let of_class: Vec<&Change> = changes.iter().filter(|c| c.class == class).collect();
        if of_class.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{} ({}):\n", class.heading(), of_class.len()));
        for c in of_class {
            out.push_str(&format!(
                "  {} [{}]: {}\n",
                c.spec_path, c.rust_item, c.what
            ));
        }
    }
    out.push_str(&format!("\n{}\n  rule: {}\n", semver.line(), semver.rule));
    let entry = changelog(changes);
    if entry.is_empty() {
        out.push_str("\nchangelog: nothing to add\n");
    } else {
        out.push_str("\nchangelog entry (Keep a Changelog, under ## [Unreleased]):\n\n");
        out.push_str(&entry);
    }
    out
}

/// The Keep-a-Changelog lines, by section; documentation-only changes are
/// left out.
pub fn changelog(changes: &[Change]) -> String {
    let mut out = String::new();
    for section in [Section::Changed, Section::Added, Section::Removed] {
        let lines: Vec<String> = changes
            .iter()
            .filter(|c| c.section == section && c.class != Class::NoEffect)
            .map(|c| {
                let mark = match c.class {
                    Class::Rust => "**Breaking:** ",
                    Class::Wire => "**Wire:** ",
                    _ => "",
                };
                format!(
                    "- {mark}`{}`: {} (`{}`)\n",
                    c.rust_item, c.what, c.spec_path
                )
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(section.heading());
        out.push('\n');
        lines.iter().for_each(|l| out.push_str(l));
    }
    out
}

/// The report as data (`--format json`).
fn json_report(old: &str, new: &str, changes: &[Change], semver: &Semver) -> serde_json::Value {
    json!({
        "old": old,
        "new": new,
        "changes": changes.iter().map(|c| json!({
            "class": c.class.key(),
            "section": c.section.heading().trim_start_matches("### ").to_lowercase(),
            "spec_path": c.spec_path,
            "rust_item": c.rust_item,
            "what": c.what,
        })).collect::<Vec<_>>(),
        "semver": {
            "bump": semver.bump.word(),
            "current": semver.current,
            "next": semver.next,
            "rule": semver.rule,
        },
        "changelog": changelog(changes),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::impact::{compare, Change, Class};
    use super::model::Spec;
    use super::{Bump, Semver};

    /// The real spec, parsed untyped, to seed edits into.
    fn real() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/datafold.yaml");
        let text = std::fs::read_to_string(path).expect("read openapi/datafold.yaml");
        serde_yaml_ng::from_str(&text).expect("parse openapi/datafold.yaml")
    }

    /// The changes from the real spec to the edited one.
    fn impact(edit: impl FnOnce(&mut Value)) -> Vec<Change> {
        let old = real();
        let mut new = old.clone();
        edit(&mut new);
        compare(
            &Spec::from_value(&old).expect("old"),
            &Spec::from_value(&new).expect("new"),
        )
    }

    fn bump(changes: &[Change], version: &str) -> (Bump, String) {
        let s = Semver::of(changes, version).expect("semver");
        (s.bump, s.next)
    }

    fn classes(changes: &[Change]) -> Vec<Class> {
        let mut c: Vec<Class> = changes.iter().map(|c| c.class).collect();
        c.dedup();
        c
    }

    fn schema<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
        &mut doc["components"]["schemas"][name]
    }

    #[test]
    fn identical_specs_have_no_changes() {
        let changes = impact(|_| {});
        assert_eq!(changes, []);
        assert_eq!(bump(&changes, "0.1.0"), (Bump::None, "0.1.0".into()));
    }

    #[test]
    fn a_removed_field_breaks_rust_callers() {
        let changes = impact(|doc| {
            let s = schema(doc, "TableauDataSourceConfig");
            s["properties"].as_object_mut().unwrap().remove("site_id");
            s["required"] = json!(["token_name", "token_value", "server_url"]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(
            changes[0].spec_path,
            "components.schemas.TableauDataSourceConfig.properties.site_id"
        );
        assert_eq!(
            changes[0].rust_item,
            "types::TableauDataSourceConfig::site_id"
        );
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Minor, "0.2.0".into()));
        assert_eq!(bump(&changes, "1.2.3"), (Bump::Major, "2.0.0".into()));
        assert_eq!(bump(&changes, "0.0.4"), (Bump::Patch, "0.0.5".into()));
        assert!(super::changelog(&changes).starts_with("### Removed\n- **Breaking:** "));
    }

    #[test]
    fn an_optional_field_made_required_breaks_rust_callers() {
        let changes = impact(|doc| {
            schema(doc, "DbtDataSourceConfig")["required"] = json!(["ci_config_id", "name"]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(changes[0].rust_item, "types::DbtDataSourceConfig::name");
        assert!(changes[0].what.contains("became required"), "{changes:#?}");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Minor, "0.2.0".into()));
    }

    #[test]
    fn a_new_optional_field_is_additive() {
        let changes = impact(|doc| {
            schema(doc, "PowerBIDataSourceConfig")["properties"]["workspace_id"] =
                json!({"title": "Workspace Id", "type": "string", "nullable": true});
        });
        assert_eq!(classes(&changes), [Class::Additive], "{changes:#?}");
        assert_eq!(
            changes[0].rust_item,
            "types::PowerBiDataSourceConfig::workspace_id"
        );
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Patch, "0.1.1".into()));
        assert_eq!(bump(&changes, "1.2.3"), (Bump::Minor, "1.3.0".into()));
        assert!(super::changelog(&changes).starts_with("### Added\n"));
    }

    #[test]
    fn a_renamed_operation_breaks_rust_callers() {
        let changes = impact(|doc| {
            doc["paths"]["/api/v1/audit_logs"]["get"]["operationId"] = json!("list_audit_logs");
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert_eq!(changes[0].rust_item, "Client::get_audit_logs()");
        assert!(changes[0].what.contains("Client::list_audit_logs()"));
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Minor, "0.2.0".into()));
    }

    #[test]
    fn a_removed_operation_breaks_and_a_new_one_is_additive() {
        let changes = impact(|doc| {
            let paths = doc["paths"].as_object_mut().unwrap();
            let sync = paths
                .remove("/api/v1/lineage/bi/{bi_datasource_id}/sync/")
                .unwrap();
            let mut resync = sync.clone();
            resync["get"]["operationId"] = json!("resync_integration");
            paths.insert(
                "/api/v1/lineage/bi/{bi_datasource_id}/resync/".into(),
                resync,
            );
        });
        assert_eq!(
            classes(&changes),
            [Class::Rust, Class::Additive],
            "{changes:#?}"
        );
        assert_eq!(changes[0].rust_item, "Client::sync_integration()");
        assert_eq!(changes[1].rust_item, "Client::resync_integration()");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Minor, "0.2.0".into()));
    }

    #[test]
    fn a_changed_path_is_wire_only() {
        let changes = impact(|doc| {
            let paths = doc["paths"].as_object_mut().unwrap();
            let sync = paths
                .remove("/api/v1/lineage/bi/{bi_datasource_id}/sync/")
                .unwrap();
            paths.insert("/api/v1/lineage/bi/{bi_datasource_id}/sync".into(), sync);
        });
        assert_eq!(classes(&changes), [Class::Wire], "{changes:#?}");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].rust_item, "Client::sync_integration()");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Patch, "0.1.1".into()));
        assert_eq!(bump(&changes, "1.2.3"), (Bump::Patch, "1.2.4".into()));
    }

    #[test]
    fn a_changed_type_breaks_and_a_changed_format_with_the_same_type_is_wire_only() {
        let changes = impact(|doc| {
            schema(doc, "ApiDownloadAuditLogs")["properties"]["start_date"]["format"] =
                json!("date");
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert!(
            changes[0].what.contains("chrono::NaiveDate"),
            "{changes:#?}"
        );

        let changes = impact(|doc| {
            schema(doc, "AuditLogs")["properties"]["url"]["format"] = json!("uri");
            schema(doc, "TableauDataSourceConfig")["properties"]["server_url"]["format"] =
                json!("uri");
        });
        assert_eq!(classes(&changes), [Class::Wire], "{changes:#?}");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Patch, "0.1.1".into()));
    }

    #[test]
    fn enum_values_added_or_removed_break_rust_callers() {
        let changes = impact(|doc| {
            schema(doc, "PowerBIAuthType")["enum"] = json!(["delegated", "managed_identity"]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        let items: Vec<&str> = changes.iter().map(|c| c.rust_item.as_str()).collect();
        assert_eq!(
            items,
            [
                "types::PowerBiAuthType::ManagedIdentity",
                "types::PowerBiAuthType::ServicePrincipal"
            ]
        );
    }

    #[test]
    fn a_renamed_schema_or_property_breaks_rust_callers() {
        let changes = impact(|doc| {
            let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
            let s = schemas.remove("DataSourceBinding").unwrap();
            schemas.insert("Binding".into(), s);
            let to = json!({"$ref": "#/components/schemas/Binding"});
            schemas["HightouchDataSourceConfig"]["properties"]["bindings"]["items"] = to.clone();
            schemas["LookerDataSourceConfig"]["properties"]["bindings"]["items"] = to;
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert!(changes.iter().any(
            |c| c.rust_item == "types::DataSourceBinding" && c.what.contains("types::Binding")
        ));

        let changes = impact(|doc| {
            let props = schema(doc, "DbtDataSourceConfig")["properties"]
                .as_object_mut()
                .unwrap();
            let cron = props.remove("indexing_cron").unwrap();
            props.insert("cron".into(), cron);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(changes.len(), 1);
        assert!(changes[0].what.contains("renamed"));
    }

    #[test]
    fn a_required_parameter_breaks_and_an_optional_one_is_additive() {
        let param = |required: bool| {
            json!({"name": "page_size", "in": "query", "required": required,
                   "schema": {"type": "integer"}})
        };
        let changes = impact(|doc| {
            doc["paths"]["/api/v1/audit_logs"]["get"]["parameters"] = json!([param(false)]);
        });
        assert_eq!(classes(&changes), [Class::Additive], "{changes:#?}");
        assert_eq!(
            changes[0].spec_path,
            "paths./api/v1/audit_logs.get.parameters.page_size"
        );
        assert_eq!(changes[0].rust_item, "Client::get_audit_logs().page_size()");

        let changes = impact(|doc| {
            doc["paths"]["/api/v1/audit_logs"]["get"]["parameters"] = json!([param(true)]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
    }

    #[test]
    fn a_tightened_bound_is_wire_only() {
        let changes = impact(|doc| {
            schema(doc, "DbtDataSourceConfig")["properties"]["ci_config_id"]["maximum"] =
                json!(9_223_372_036_854_775_807_i64);
        });
        assert_eq!(classes(&changes), [Class::Wire], "{changes:#?}");
        assert!(changes[0].what.contains("tightened"), "{changes:#?}");
    }

    #[test]
    fn a_replaced_schema_changes_only_the_wire() {
        let changes = impact(|doc| {
            let s = schema(doc, "AuditLogs");
            s["properties"].as_object_mut().unwrap().remove("timestamp");
            s["required"] = json!(["event_uuid", "client_ip", "url"]);
        });
        assert_eq!(classes(&changes), [Class::Wire], "{changes:#?}");
        assert_eq!(changes[0].rust_item, "types::AuditLog::timestamp");
        assert!(changes[0]
            .what
            .contains("hand-written crate::audit::AuditLog "));
    }

    #[test]
    fn a_new_required_field_breaks_rust_callers() {
        let changes = impact(|doc| {
            let s = schema(doc, "DbtDataSourceConfig");
            s["properties"]["project_id"] = json!({"type": "integer"});
            s["required"] = json!(["ci_config_id", "project_id"]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(
            changes[0].rust_item,
            "types::DbtDataSourceConfig::project_id"
        );
        assert!(changes[0].what.contains("new required property (i64;"));
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Minor, "0.2.0".into()));
    }

    #[test]
    fn a_required_field_made_optional_breaks_when_it_becomes_an_option() {
        let changes = impact(|doc| {
            schema(doc, "TableauDataSourceConfig")["required"] =
                json!(["token_name", "token_value", "server_url"]);
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert!(
            changes[0].what.contains("String -> Option<String>"),
            "{changes:#?}"
        );

        // An optional array stays a `Vec`: nothing changes for Rust callers.
        let changes = impact(|doc| {
            schema(doc, "HightouchDataSourceConfig")["required"] = json!(["token"]);
        });
        assert_eq!(classes(&changes), [Class::Additive], "{changes:#?}");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::Patch, "0.1.1".into()));
    }

    #[test]
    fn a_response_of_another_type_breaks_rust_callers() {
        let changes = impact(|doc| {
            doc["paths"]["/api/v1/lineage/bi/"]["get"]["responses"]["200"]["content"]
                ["application/json"]["schema"] = json!({"type": "array", "items":
                    {"$ref": "#/components/schemas/BiIntegration"}});
        });
        assert_eq!(classes(&changes), [Class::Rust], "{changes:#?}");
        assert_eq!(changes[0].rust_item, "Client::list_integrations().send()");
        assert!(
            changes[0]
                .what
                .contains("crate::bi::IntegrationList -> Vec<crate::bi::Integration>"),
            "{changes:#?}"
        );
    }

    #[test]
    fn description_changes_have_no_effect() {
        let changes = impact(|doc| {
            doc["paths"]["/api/v1/lineage/bi/"]["get"]["description"] = json!("Every one.");
            schema(doc, "AuditLogs")["properties"]["url"]["title"] = json!("URL");
        });
        assert_eq!(classes(&changes), [Class::NoEffect], "{changes:#?}");
        assert_eq!(bump(&changes, "0.1.0"), (Bump::None, "0.1.0".into()));
        assert_eq!(super::changelog(&changes), "");
    }

    #[test]
    fn unreadable_specs_are_errors() {
        assert!(Spec::parse("openapi: [3", "x.yaml")
            .unwrap_err()
            .contains("x.yaml"));
        assert!(Spec::parse("paths: {}", "x.yaml").is_err());
        let no_id = "openapi: 3.0.3\npaths:\n  /a:\n    get: {responses: {}}\n";
        assert!(Spec::parse(no_id, "x.yaml")
            .unwrap_err()
            .contains("operationId"));
    }

    #[test]
    fn the_version_is_read_from_the_root_manifest() {
        let root = super::root();
        let version = super::package_version(&root.join("Cargo.toml")).expect("version");
        assert_eq!(version.split('.').count(), 3, "{version}");
    }
}
