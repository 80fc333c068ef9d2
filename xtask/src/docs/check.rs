//! `docs check`: builds the docs' view of each operation from the snapshots,
//! compares it with the spec, and applies the declared deviations.
//!
//! **Newest page wins.** Pages describing the same operation (method and path)
//! are versions of one another, even under different slugs (the Power BI PUT
//! was `rename-a-power-bi-integration`, then `update-a-power-bi-integration`).
//! They are ordered by format era (resolved before openapi-3.1), then version
//! number, then the manifest's fetch time, then file name; the last is the newest.
//!
//! **Precedence between sources**, per aspect of an operation (identity,
//! parameters, body, responses): the newest page first, because pages are
//! versioned and so known to be current; then whole OpenAPI documents (in
//! file-name order), which carry no date but describe everything; then
//! rendered pages, which carry the least. A lower source fills in only what
//! the higher ones lack (a resolved page has no operationId or tags; the
//! published document does), or replaces a thinner reading (examples-only).
//! Whatever a lower source says that contradicts the result is printed as a
//! note (not drift: the spec cannot follow two docs at once).
//!
//! **Scope.** Every operation of the spec, and every operation of a page or a
//! rendered page, is compared. Operations that appear only in whole OpenAPI
//! documents are compared only when their path is under deviations.yaml's
//! `scope.paths` (Datafold's document describes 47 paths; this SDK covers 17).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::deviations::{self, Deviations};
use super::diff::{self, Difference};
use super::model::{OpKey, Operation};
use super::snapshots::{self, PageId, Source, SourceKind};
use super::{openapi, Exit};

/// What to compare.
#[derive(Clone, Debug)]
pub struct Options {
    /// The snapshot directory.
    pub snapshots: PathBuf,
    /// The spec.
    pub spec: PathBuf,
    /// The deviations file.
    pub deviations: PathBuf,
    /// Also report what changed between versions of each page.
    pub all_versions: bool,
}

/// One difference between the docs and the spec.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The operation.
    pub operation: OpKey,
    /// `operation` for a whole operation on one side only, else the diff's field name.
    pub field: String,
    /// What the docs have; `None`: missing in the docs.
    pub docs: Option<Value>,
    /// What the spec has; `None`: missing in the spec.
    pub spec: Option<Value>,
    /// The deviation (number, reason) that declares it, if any.
    pub declared: Option<(usize, String)>,
    /// For an operation on one side only: a near match on the other side.
    pub hint: Option<String>,
}

/// A declaration that matches no drift.
#[derive(Clone, Debug)]
pub struct Stale {
    /// The deviation's number in the file.
    pub number: usize,
    /// The operation it no longer matches.
    pub operation: OpKey,
    /// `field (docs: .., spec: ..)`.
    pub what: String,
}

/// A lower-precedence source that disagrees with the docs' view.
#[derive(Clone, Debug)]
pub struct Note {
    /// The operation.
    pub operation: OpKey,
    /// The disagreeing source.
    pub source: String,
    /// The difference: left is that source, right is the docs' view.
    pub difference: Difference,
}

/// What changed from one version of a page to the next.
#[derive(Clone, Debug)]
pub struct Step {
    /// The operation.
    pub operation: OpKey,
    /// `slug/version (format)` of the older page.
    pub from: String,
    /// `slug/version (format)` of the newer page.
    pub to: String,
    /// Top-level body field counts, older and newer.
    pub body_fields: (usize, usize),
    /// Left is the older page, right the newer.
    pub changes: Vec<Difference>,
}

/// Everything the report prints.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Input files that could not be read or interpreted (exit 2).
    pub errors: Vec<String>,
    /// Snapshot files read, by kind: (pages, documents, rendered).
    pub counts: (usize, usize, usize),
    /// Files recognised as not being snapshots.
    pub skipped: Vec<(String, &'static str)>,
    /// Operations only in whole documents and outside the scope.
    pub out_of_scope: usize,
    /// Operations compared, with the docs sources that built each one's view.
    pub compared: Vec<(OpKey, Vec<String>)>,
    /// Findings, declared or not, grouped by operation.
    pub findings: Vec<Finding>,
    /// Stale declarations.
    pub stale: Vec<Stale>,
    /// Disagreements among the docs' own sources.
    pub notes: Vec<Note>,
    /// Page history (`--all-versions`).
    pub history: Vec<Step>,
}

impl Outcome {
    /// 2 on unreadable input, 1 on undeclared drift or a stale declaration, else 0.
    pub fn exit(&self) -> Exit {
        if !self.errors.is_empty() {
            Exit::BadInput
        } else if self.undeclared().count() > 0 || !self.stale.is_empty() {
            Exit::Drift
        } else {
            Exit::Ok
        }
    }

    /// Findings no deviation declares.
    pub fn undeclared(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.declared.is_none())
    }
}

/// Runs the comparison.
pub fn run(options: &Options) -> Outcome {
    let mut outcome = Outcome::default();
    let spec = snapshots::read_document(&options.spec)
        .and_then(|doc| openapi::operations(&doc))
        .map_err(|e| format!("spec {}: {e}", options.spec.display()));
    let deviations = deviations::load(&options.deviations);
    let loaded = snapshots::load(&options.snapshots);
    outcome.errors.extend(spec.as_ref().err().cloned());
    outcome.errors.extend(deviations.as_ref().err().cloned());
    outcome.errors.extend(
        loaded
            .errors
            .iter()
            .map(|e| format!("{}: {e}", options.snapshots.display())),
    );
    outcome.skipped = loaded.skipped.clone();
    for source in &loaded.sources {
        match source.kind {
            SourceKind::Page(_) => outcome.counts.0 += 1,
            SourceKind::Document => outcome.counts.1 += 1,
            SourceKind::Rendered => outcome.counts.2 += 1,
        }
    }
    if loaded.sources.is_empty() && loaded.errors.is_empty() {
        outcome.errors.push(format!(
            "{}: no snapshots found",
            options.snapshots.display()
        ));
    }
    let (Ok(spec), Ok(deviations)) = (spec, deviations) else {
        return outcome;
    };
    if !outcome.errors.is_empty() {
        return outcome;
    }

    let by_operation = group(&loaded.sources, &deviations, &mut outcome.out_of_scope);
    let spec: BTreeMap<OpKey, Operation> =
        spec.into_iter().map(|op| (op.key.clone(), op)).collect();
    let keys: BTreeSet<&OpKey> = by_operation.keys().chain(spec.keys()).collect();
    let docs_only: Vec<&OpKey> = by_operation
        .keys()
        .filter(|k| !spec.contains_key(*k))
        .collect();
    let spec_only: Vec<&OpKey> = spec
        .keys()
        .filter(|k| !by_operation.contains_key(*k))
        .collect();
    for key in keys {
        let docs = by_operation.get(key).map(|sources| {
            let (view, used) = docs_view(sources);
            if options.all_versions {
                outcome.history.extend(history(key, sources));
            }
            outcome.notes.extend(notes(key, sources, &view));
            outcome.compared.push((key.clone(), used));
            view
        });
        match (docs, spec.get(key)) {
            (Some(docs), Some(spec)) => {
                for d in diff::operations(&docs, spec) {
                    outcome
                        .findings
                        .push(finding(key, d.field, d.left, d.right));
                }
            }
            (Some(_), None) => {
                let hint = near_match(key, &spec_only).map(|k| format!("the spec has {k}"));
                outcome.findings.push(Finding {
                    hint,
                    ..finding(key, "operation".into(), Some("present".into()), None)
                });
            }
            (None, Some(_)) => {
                let hint = near_match(key, &docs_only).map(|k| format!("the docs have {k}"));
                outcome.findings.push(Finding {
                    hint,
                    ..finding(key, "operation".into(), None, Some("present".into()))
                });
            }
            (None, None) => {}
        }
    }
    declare(&mut outcome, &deviations);
    outcome
}

fn finding(operation: &OpKey, field: String, docs: Option<Value>, spec: Option<Value>) -> Finding {
    Finding {
        operation: operation.clone(),
        field,
        docs,
        spec,
        declared: None,
        hint: None,
    }
}

/// Marks declared findings and lists stale declarations.
fn declare(outcome: &mut Outcome, deviations: &Deviations) {
    for finding in &mut outcome.findings {
        finding.declared = deviations
            .entries
            .iter()
            .find(|d| {
                d.matches(
                    &finding.operation,
                    &finding.field,
                    finding.docs.as_ref(),
                    finding.spec.as_ref(),
                )
            })
            .map(|d| (d.number, d.reason.clone()));
    }
    for deviation in &deviations.entries {
        for operation in &deviation.operations {
            let used = outcome.findings.iter().any(|f| {
                &f.operation == operation
                    && deviation.matches(operation, &f.field, f.docs.as_ref(), f.spec.as_ref())
            });
            if !used {
                outcome.stale.push(Stale {
                    number: deviation.number,
                    operation: operation.clone(),
                    what: deviation.describe(),
                });
            }
        }
    }
}

/// A documented operation and the source it came from.
type Described<'a> = (&'a Source, &'a Operation);

/// Every documented operation in scope, with its sources.
fn group<'a>(
    sources: &'a [Source],
    deviations: &Deviations,
    out_of_scope: &mut usize,
) -> BTreeMap<OpKey, Vec<Described<'a>>> {
    let mut grouped: BTreeMap<OpKey, Vec<Described>> = BTreeMap::new();
    let mut ignored = BTreeSet::new();
    for source in sources {
        for operation in &source.operations {
            if source.kind == SourceKind::Document && !deviations.in_scope(&operation.key.path) {
                ignored.insert(&operation.key);
                continue;
            }
            grouped
                .entry(operation.key.clone())
                .or_default()
                .push((source, operation));
        }
    }
    *out_of_scope = ignored
        .iter()
        .filter(|k| !grouped.contains_key(**k))
        .count();
    grouped
}

/// Pages of one operation, oldest first.
fn pages<'a>(sources: &[Described<'a>]) -> Vec<(&'a PageId, Described<'a>)> {
    let mut pages: Vec<_> = sources
        .iter()
        .filter_map(|&(source, op)| match &source.kind {
            SourceKind::Page(id) => Some((id, (source, op))),
            _ => None,
        })
        .collect();
    pages.sort_by(|(a, (fa, _)), (b, (fb, _))| {
        (a.format, a.version, &a.fetched_at, &fa.file).cmp(&(
            b.format,
            b.version,
            &b.fetched_at,
            &fb.file,
        ))
    });
    pages
}

/// The sources in precedence order: newest page, documents, rendered pages.
fn ranked<'a>(sources: &[Described<'a>]) -> Vec<Described<'a>> {
    let mut ranked: Vec<Described> = pages(sources).last().map(|(_, d)| *d).into_iter().collect();
    for kind in [SourceKind::Document, SourceKind::Rendered] {
        ranked.extend(sources.iter().filter(|(s, _)| s.kind == kind));
    }
    ranked
}

/// The docs' view of one operation, and the files it was built from.
fn docs_view(sources: &[Described]) -> (Operation, Vec<String>) {
    let ranked = ranked(sources);
    let mut view = ranked[0].1.clone();
    let mut used = vec![ranked[0].0.file.clone()];
    for (source, op) in &ranked[1..] {
        let mut contributed = false;
        if !view.carried.identity && op.carried.identity {
            view.carried.identity = true;
            view.operation_id = op.operation_id.clone();
            view.tags = op.tags.clone();
            contributed = true;
        }
        if op.carried.parameters > view.carried.parameters {
            view.carried.parameters = op.carried.parameters;
            view.parameters = op.parameters.clone();
            contributed = true;
        }
        if op.carried.body > view.carried.body {
            view.carried.body = op.carried.body;
            view.body = op.body.clone();
            contributed = true;
        }
        if op.carried.responses > view.carried.responses {
            view.carried.responses = op.carried.responses;
            view.responses = op.responses.clone();
            contributed = true;
        }
        if contributed {
            used.push(source.file.clone());
        }
    }
    (view, used)
}

/// Where documents or rendered pages contradict the docs' view.
fn notes(key: &OpKey, sources: &[Described], view: &Operation) -> Vec<Note> {
    let ranked = ranked(sources);
    let mut notes = Vec::new();
    for (source, op) in ranked.iter().skip(1) {
        for difference in diff::operations(op, view) {
            notes.push(Note {
                operation: key.clone(),
                source: source.file.clone(),
                difference,
            });
        }
    }
    notes
}

/// What changed between consecutive versions of the operation's pages.
fn history(key: &OpKey, sources: &[Described]) -> Vec<Step> {
    let pages = pages(sources);
    let label = |id: &PageId| format!("{}/{} ({})", id.slug, id.version, id.format.name());
    pages
        .windows(2)
        .map(|pair| {
            let ((old_id, (_, old)), (new_id, (_, new))) = (&pair[0], &pair[1]);
            Step {
                operation: key.clone(),
                from: label(old_id),
                to: label(new_id),
                body_fields: (old.body_field_count(), new.body_field_count()),
                changes: diff::operations(old, new),
            }
        })
        .collect()
}

/// An operation on the other side that is probably the same one, moved: same path
/// with another method, or the same method with the path's trailing slash changed.
fn near_match<'a>(key: &OpKey, others: &[&'a OpKey]) -> Option<&'a OpKey> {
    let bare = key.path.trim_end_matches('/');
    let same_path = others
        .iter()
        .find(|o| o.path == key.path && o.method != key.method);
    let slash = others.iter().find(|o| {
        o.method == key.method && o.path != key.path && o.path.trim_end_matches('/') == bare
    });
    same_path.or(slash).copied()
}
