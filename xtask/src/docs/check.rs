//! `docs check`: compares the spec with every witness of each operation and
//! applies the declared deviations.
//!
//! **Every snapshot that carries an aspect is a witness** ([`witnesses`]): the
//! newest page of each operation (either format), the newest version of every
//! whole OpenAPI document, and every rendered page. Each witness is compared
//! with the spec on what it carries, and every contradiction is a finding
//! naming that witness. Older page versions are history (`--all-versions`).
//!
//! **Witnesses that disagree** with each other are reported once per operation
//! and field, listing what each says: the spec can follow only one of them, so
//! it drifts from the others, and a deviation scoped to a witness declares
//! which side the spec does not follow.
//!
//! **Scope.** Every operation of the spec, of a page and of a rendered page is
//! compared. Operations that appear only in whole OpenAPI documents are
//! compared only when their path is under deviations.yaml's `scope.paths`
//! (Datafold's document describes 47 paths; this SDK covers 17).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::deviations::{self, Deviations};
use super::diff::{self, Difference, Place, Root};
use super::fix;
use super::model::{OpKey, Operation};
use super::snapshots::{self, SourceKind};
use super::witnesses::{self, Witness};
pub use super::witnesses::{Disagreement, Finding};
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
    /// Operations compared, with their witnesses (files).
    pub compared: Vec<(OpKey, Vec<String>)>,
    /// Findings, declared or not, grouped by operation.
    pub findings: Vec<Finding>,
    /// Stale declarations.
    pub stale: Vec<Stale>,
    /// Fields on which witnesses disagree.
    pub disagreements: Vec<Disagreement>,
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
        .and_then(|doc| openapi::operations(&doc).map(|ops| (doc, ops)))
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
            SourceKind::Page(..) => outcome.counts.0 += 1,
            SourceKind::Document(_) => outcome.counts.1 += 1,
            SourceKind::Rendered => outcome.counts.2 += 1,
        }
    }
    if loaded.sources.is_empty() && loaded.errors.is_empty() {
        outcome.errors.push(format!(
            "{}: no snapshots found",
            options.snapshots.display()
        ));
    }
    let (Ok((spec_doc, spec)), Ok(deviations)) = (spec, deviations) else {
        return outcome;
    };
    if !outcome.errors.is_empty() {
        return outcome;
    }

    let in_scope = |path: &str| deviations.in_scope(path);
    let described = witnesses::group(&loaded.sources, &in_scope, &mut outcome.out_of_scope);
    let documents = witnesses::current_documents(&loaded.sources);
    let spec: BTreeMap<OpKey, Operation> =
        spec.into_iter().map(|op| (op.key.clone(), op)).collect();
    let keys: BTreeSet<&OpKey> = described.keys().chain(spec.keys()).collect();
    let docs_only: Vec<&OpKey> = described
        .keys()
        .filter(|k| !spec.contains_key(*k))
        .collect();
    let spec_only: Vec<&OpKey> = spec
        .keys()
        .filter(|k| !described.contains_key(*k))
        .collect();
    for key in keys {
        let spec_op = spec.get(key);
        let Some(sources) = described.get(key) else {
            if let Some(spec_op) = spec_op {
                let hint = near_match(key, &docs_only).map(|k| format!("the docs have {k}"));
                let missing = whole_operation(false);
                let mut finding = finding(key, missing, None, &spec_doc, Some(spec_op), None);
                finding.hint = hint;
                outcome.findings.push(finding);
            }
            continue;
        };
        if options.all_versions {
            outcome.history.extend(history(key, sources));
        }
        let witnesses = witnesses::of(sources);
        outcome.compared.push((
            key.clone(),
            witnesses.iter().map(|(w, _)| w.file.clone()).collect(),
        ));
        let mut found = Vec::new();
        for (witness, op) in &witnesses {
            let differences = match spec_op {
                Some(spec_op) => diff::operations(op, spec_op),
                None => vec![whole_operation(true)],
            };
            for difference in differences {
                let mut finding =
                    finding(key, difference, Some(witness), &spec_doc, spec_op, Some(op));
                if spec_op.is_none() {
                    finding.hint = near_match(key, &spec_only).map(|k| format!("the spec has {k}"));
                }
                found.push(finding);
            }
        }
        // A whole document describes every operation: lacking one of the spec's is a contradiction.
        if let Some(spec_op) = spec_op.filter(|_| in_scope(&key.path)) {
            for document in documents
                .iter()
                .filter(|d| !witnesses.iter().any(|(w, _)| w == *d))
            {
                let missing = whole_operation(false);
                found.push(finding(
                    key,
                    missing,
                    Some(document),
                    &spec_doc,
                    Some(spec_op),
                    None,
                ));
            }
        }
        let disagreements = witnesses::disagreements(key, &witnesses, &found);
        for finding in &mut found {
            finding.disputed = disagreements.iter().any(|d| d.field == finding.field);
        }
        outcome.disagreements.extend(disagreements);
        outcome.findings.extend(found);
    }
    declare(&mut outcome, &deviations);
    outcome
}

/// A whole operation on one side only: the witness's (`in_docs`) or the spec's.
fn whole_operation(in_docs: bool) -> Difference {
    let present = || Some(Value::from("present"));
    let (docs, spec) = if in_docs {
        (present(), None)
    } else {
        (None, present())
    };
    Difference::new(Place::at(Root::Operation), None, docs, spec)
}

fn finding(
    operation: &OpKey,
    difference: Difference,
    witness: Option<&Witness>,
    spec_doc: &Value,
    spec_op: Option<&Operation>,
    witness_op: Option<&Operation>,
) -> Finding {
    let fix = fix::suggest(spec_doc, operation, spec_op, witness_op, &difference);
    Finding {
        operation: operation.clone(),
        field: difference.field,
        place: difference.place,
        docs: difference.left,
        spec: difference.right,
        witness: witness.cloned(),
        disputed: false,
        declared: None,
        hint: None,
        fix,
    }
}

/// Marks declared findings and lists stale declarations.
fn declare(outcome: &mut Outcome, deviations: &Deviations) {
    let matches = |d: &deviations::Deviation, f: &Finding| {
        let witness = f.witness.as_ref().map(|w| (w.file.as_str(), w.kind));
        d.matches(
            &f.operation,
            &f.field,
            f.docs.as_ref(),
            f.spec.as_ref(),
            witness,
        )
    };
    for finding in &mut outcome.findings {
        finding.declared = deviations
            .entries
            .iter()
            .find(|d| matches(d, finding))
            .map(|d| (d.number, d.reason.clone()));
    }
    for deviation in &deviations.entries {
        for operation in &deviation.operations {
            let used = outcome
                .findings
                .iter()
                .any(|f| &f.operation == operation && matches(deviation, f));
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

/// What changed between consecutive versions of the operation's pages.
fn history(key: &OpKey, sources: &[witnesses::Described]) -> Vec<Step> {
    let pages = witnesses::pages(sources);
    pages
        .windows(2)
        .map(|pair| {
            let ((old_label, old), (new_label, new)) = (&pair[0], &pair[1]);
            Step {
                operation: key.clone(),
                from: old_label.clone(),
                to: new_label.clone(),
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
