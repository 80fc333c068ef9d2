//! Which snapshots testify about an operation, and where they disagree.
//!
//! A witness is a snapshot the check holds the spec to: the newest page of an
//! operation (pages of the same method and path are versions of one page, even
//! under different slugs; ordered by format era, version, fetch time, file
//! name), the newest version of each whole OpenAPI document, and every
//! rendered page. Older versions are history, never witnesses.

use std::collections::BTreeMap;

use serde_json::Value;

use super::diff::{self, Place, Root};
use super::fix::SpecEdit;
use super::model::{OpKey, Operation};
use super::snapshots::{Source, SourceKind, VersionId};

/// A snapshot file the spec is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// Path relative to the snapshot directory.
    pub file: String,
    /// `page`, `document` or `rendered`: what deviations.yaml's `witness:` may name.
    pub kind: &'static str,
}

/// One contradiction between a witness and the spec.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The operation.
    pub operation: OpKey,
    /// `operation` for a whole operation on one side only, else the diff's field name.
    pub field: String,
    /// Where, structurally.
    pub place: Place,
    /// What the witness has; `None`: missing in the witness.
    pub docs: Option<Value>,
    /// What the spec has; `None`: missing in the spec.
    pub spec: Option<Value>,
    /// The witness; `None` for a spec operation no snapshot describes.
    pub witness: Option<Witness>,
    /// Whether other witnesses say something else about this field.
    pub disputed: bool,
    /// The deviation (number, reason) that declares it, if any.
    pub declared: Option<(usize, String)>,
    /// For an operation on one side only: a near match on the other side.
    pub hint: Option<String>,
    /// The edits to the spec that make it say what the witness says.
    pub fix: Vec<SpecEdit>,
}

/// Witnesses of one operation that say different things about one field.
#[derive(Clone, Debug)]
pub struct Disagreement {
    /// The operation.
    pub operation: OpKey,
    /// The field.
    pub field: String,
    /// Each witness involved (file) and what it says.
    pub says: Vec<(String, Testimony)>,
    /// What the spec has.
    pub spec: Option<Value>,
}

impl Witness {
    fn of(source: &Source) -> Witness {
        let kind = match source.kind {
            SourceKind::Page(..) => "page",
            SourceKind::Document(_) => "document",
            SourceKind::Rendered => "rendered",
        };
        Witness {
            file: source.file.clone(),
            kind,
        }
    }
}

/// What one witness says about a disputed field.
#[derive(Clone, Debug, PartialEq)]
pub enum Testimony {
    /// This value.
    Has(Value),
    /// It lacks the field (or operation).
    Lacks,
    /// The same as the spec.
    AsTheSpec,
}

/// A documented operation and the snapshot it came from.
pub type Described<'a> = (&'a Source, &'a Operation);

/// Every documented operation in scope with the snapshots describing it; older
/// document versions are left out. Counts the operations only documents describe
/// outside the scope.
pub fn group<'a>(
    sources: &'a [Source],
    in_scope: &dyn Fn(&str) -> bool,
    out_of_scope: &mut usize,
) -> BTreeMap<OpKey, Vec<Described<'a>>> {
    let mut grouped: BTreeMap<OpKey, Vec<Described>> = BTreeMap::new();
    let mut ignored = Vec::new();
    for source in sources.iter().filter(|s| is_current(s, sources)) {
        for operation in &source.operations {
            if matches!(source.kind, SourceKind::Document(_)) && !in_scope(&operation.key.path) {
                ignored.push(&operation.key);
                continue;
            }
            grouped
                .entry(operation.key.clone())
                .or_default()
                .push((source, operation));
        }
    }
    ignored.sort();
    ignored.dedup();
    *out_of_scope = ignored
        .iter()
        .filter(|k| !grouped.contains_key(**k))
        .count();
    grouped
}

/// The newest version of every whole document.
pub fn current_documents(sources: &[Source]) -> Vec<Witness> {
    sources
        .iter()
        .filter(|s| matches!(s.kind, SourceKind::Document(_)) && is_current(s, sources))
        .map(Witness::of)
        .collect()
}

/// Whether no newer version of the same document exists (pages are ordered per operation).
fn is_current(source: &Source, sources: &[Source]) -> bool {
    let SourceKind::Document(Some(id)) = &source.kind else {
        return true;
    };
    let order = |id: &VersionId, file: &str| (id.version, id.fetched_at.clone(), file.to_string());
    !sources.iter().any(|other| match &other.kind {
        SourceKind::Document(Some(other_id)) => {
            other_id.slug == id.slug && order(other_id, &other.file) > order(id, &source.file)
        }
        _ => false,
    })
}

/// Pages of one operation, oldest first, labelled `slug/version (format)`.
pub fn pages<'a>(sources: &[Described<'a>]) -> Vec<(String, &'a Operation)> {
    let mut pages: Vec<_> = sources
        .iter()
        .filter_map(|&(source, op)| match &source.kind {
            SourceKind::Page(format, id) => Some((*format, id, &source.file, op)),
            _ => None,
        })
        .collect();
    pages.sort_by(|(fa, a, file_a, _), (fb, b, file_b, _)| {
        (fa, a.version, &a.fetched_at, file_a).cmp(&(fb, b.version, &b.fetched_at, file_b))
    });
    pages
        .into_iter()
        .map(|(format, id, _, op)| {
            (
                format!("{}/{} ({})", id.slug, id.version, format.name()),
                op,
            )
        })
        .collect()
}

/// The witnesses of one operation: its newest page, then documents, then rendered pages.
pub fn of<'a>(sources: &[Described<'a>]) -> Vec<(Witness, &'a Operation)> {
    let newest_page = sources
        .iter()
        .filter(|(s, _)| matches!(s.kind, SourceKind::Page(..)))
        .max_by(|(a, _), (b, _)| page_order(a).cmp(&page_order(b)));
    let mut witnesses: Vec<(Witness, &Operation)> = newest_page
        .map(|(source, op)| (Witness::of(source), *op))
        .into_iter()
        .collect();
    for document_first in [true, false] {
        witnesses.extend(
            sources
                .iter()
                .filter(|(s, _)| match s.kind {
                    SourceKind::Document(_) => document_first,
                    SourceKind::Rendered => !document_first,
                    SourceKind::Page(..) => false,
                })
                .map(|(source, op)| (Witness::of(source), *op)),
        );
    }
    witnesses
}

fn page_order(source: &Source) -> impl Ord + '_ {
    match &source.kind {
        SourceKind::Page(format, id) => {
            Some((*format, id.version, id.fetched_at.clone(), &source.file))
        }
        _ => None,
    }
}

/// Fields of one operation on which its witnesses say different things, once
/// per field, with what each involved witness says. `found` holds the
/// operation's findings, which tell what each witness says where it is not the spec.
pub fn disagreements(
    key: &OpKey,
    witnesses: &[(Witness, &Operation)],
    found: &[Finding],
) -> Vec<Disagreement> {
    let add =
        |field: String, witness: usize, by_field: &mut Vec<(String, Vec<usize>)>| match by_field
            .iter_mut()
            .find(|(f, _)| *f == field)
        {
            Some((_, list)) if list.contains(&witness) => {}
            Some((_, list)) => list.push(witness),
            None => by_field.push((field, vec![witness])),
        };
    let mut by_field: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (_, left)) in witnesses.iter().enumerate() {
        for (j, (_, right)) in witnesses.iter().enumerate().skip(i + 1) {
            for difference in diff::operations(left, right) {
                add(difference.field.clone(), i, &mut by_field);
                add(difference.field, j, &mut by_field);
            }
        }
    }
    let mut out = Vec::new();
    for (field, indices) in by_field {
        let says: Vec<(String, Testimony)> = indices
            .iter()
            .map(|&i| {
                let witness = &witnesses[i].0;
                (witness.file.clone(), testimony(found, witness, &field))
            })
            .collect();
        if says.iter().all(|(_, t)| *t == Testimony::AsTheSpec) {
            continue;
        }
        out.push(Disagreement {
            operation: key.clone(),
            spec: spec_value(found, &field),
            field,
            says,
        });
    }
    // Documents that lack the operation disagree with the witnesses that describe it.
    let lacking: Vec<&Finding> = found
        .iter()
        .filter(|f| f.place.root == Root::Operation && f.docs.is_none() && f.witness.is_some())
        .collect();
    if !lacking.is_empty() && !witnesses.is_empty() {
        let mut says: Vec<(String, Testimony)> = witnesses
            .iter()
            .map(|(w, _)| (w.file.clone(), Testimony::AsTheSpec))
            .collect();
        says.extend(
            lacking
                .iter()
                .filter_map(|f| f.witness.as_ref())
                .map(|w| (w.file.clone(), Testimony::Lacks)),
        );
        out.push(Disagreement {
            operation: key.clone(),
            field: "operation".to_string(),
            says,
            spec: Some("present".into()),
        });
    }
    out
}

fn testimony(found: &[Finding], witness: &Witness, field: &str) -> Testimony {
    match found
        .iter()
        .find(|f| f.field == field && f.witness.as_ref() == Some(witness))
    {
        Some(finding) => finding
            .docs
            .clone()
            .map_or(Testimony::Lacks, Testimony::Has),
        None => Testimony::AsTheSpec,
    }
}

fn spec_value(found: &[Finding], field: &str) -> Option<Value> {
    found
        .iter()
        .filter(|f| f.field == field)
        .find_map(|f| f.spec.clone())
}
