//! Prints a `docs check` [`Outcome`] for people (`--format text`) or programs
//! (`--format json`). Both carry the same findings, each naming its witness,
//! and for each the spec edit that makes the spec follow the witness; text
//! adds the deviations.yaml entry that would declare it instead, and the
//! command to re-run.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::check::{Disagreement, Finding, Options, Outcome};
use super::diff::Difference;
use super::model::plain;
use super::witnesses::Testimony;
use super::Exit;

/// Shows a finding value: defaults as JSON (so `""` stays visible), the rest plainly.
fn show(field: &str, value: &Value) -> String {
    if field.ends_with(".default") {
        value.to_string()
    } else {
        plain(value)
    }
}

/// One report line for a finding, naming its witness, e.g.
/// `PUT /x body.tenant_id: in pages/x/2.md (string, nullable), missing in spec`.
pub fn finding_line(finding: &Finding) -> String {
    let op = &finding.operation;
    let witness = finding.witness.as_ref().map_or("docs", |w| w.file.as_str());
    let mut line = if finding.field == "operation" {
        match finding.docs {
            Some(_) => format!("{op}: in {witness}, missing in spec"),
            None => format!("{op}: in spec, missing in {witness}"),
        }
    } else {
        sides(
            &format!("{op} {}", finding.field),
            &finding.field,
            finding.docs.as_ref(),
            finding.spec.as_ref(),
            (witness, "spec"),
        )
    };
    if let Some(hint) = &finding.hint {
        let _ = write!(line, " ({hint}: method or path changed?)");
    }
    line
}

fn sides(
    subject: &str,
    field: &str,
    left: Option<&Value>,
    right: Option<&Value>,
    names: (&str, &str),
) -> String {
    let (l, r) = names;
    match (left, right) {
        (Some(a), Some(b)) => format!(
            "{subject}: {l} has {}, {r} has {}",
            show(field, a),
            show(field, b)
        ),
        (Some(a), None) => format!("{subject}: in {l} ({}), missing in {r}", show(field, a)),
        (None, Some(b)) => format!("{subject}: in {r} ({}), missing in {l}", show(field, b)),
        (None, None) => format!("{subject}: missing on both sides"),
    }
}

fn change_line(change: &Difference) -> String {
    let field = &change.field;
    match (&change.left, &change.right) {
        (None, Some(new)) => format!("+ {field} ({})", show(field, new)),
        (Some(old), None) => format!("- {field} ({})", show(field, old)),
        (Some(old), Some(new)) => {
            format!("~ {field}: {} -> {}", show(field, old), show(field, new))
        }
        (None, None) => format!("? {field}"),
    }
}

/// The command that re-runs this check.
fn command(options: &Options) -> String {
    format!(
        "cargo xtask docs check --snapshots {} --spec {} --deviations {}",
        options.snapshots.display(),
        options.spec.display(),
        options.deviations.display()
    )
}

/// The human report.
pub fn text(outcome: &Outcome, options: &Options) -> String {
    let mut out = String::new();
    let deviations = options.deviations.display();
    let _ = writeln!(
        out,
        "docs check: {} against {}",
        options.spec.display(),
        options.snapshots.display()
    );
    if !outcome.errors.is_empty() {
        for error in &outcome.errors {
            let _ = writeln!(out, "error: {error}");
        }
        let _ = writeln!(
            out,
            "\nunreadable input: fix or remove the files above (a snapshot folder holds .md pages, .txt rendered pages, \
             .json/.yaml OpenAPI documents and a MANIFEST.json), then run `{}`",
            command(options)
        );
        return out;
    }
    let (pages, documents, rendered) = outcome.counts;
    let _ = writeln!(
        out,
        "read {pages} pages, {documents} OpenAPI documents, {rendered} rendered pages"
    );
    for (file, what) in &outcome.skipped {
        let _ = writeln!(out, "not a snapshot: {file} ({what})");
    }
    if outcome.out_of_scope > 0 {
        let _ = writeln!(out, "ignored {} operations found only in OpenAPI documents, outside scope.paths of {deviations}", outcome.out_of_scope);
    }

    for (operation, witnesses) in &outcome.compared {
        let lines: Vec<String> = outcome
            .undeclared()
            .filter(|f| &f.operation == operation)
            .map(finding_line)
            .collect();
        if !lines.is_empty() {
            let _ = writeln!(out, "\n{operation}  (witnesses: {})", witnesses.join(", "));
            for line in lines {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let spec_only: Vec<String> = outcome
        .undeclared()
        .filter(|f| !outcome.compared.iter().any(|(k, _)| k == &f.operation))
        .map(finding_line)
        .collect();
    if !spec_only.is_empty() {
        let _ = writeln!(out, "\nnot in any snapshot");
        for line in spec_only {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !outcome.stale.is_empty() {
        let _ = writeln!(
            out,
            "\nstale deviations in {deviations} (declared, but no such difference exists):"
        );
        for stale in &outcome.stale {
            let _ = writeln!(
                out,
                "  deviation #{} {} {}",
                stale.number, stale.operation, stale.what
            );
        }
    }
    if !outcome.disagreements.is_empty() {
        let _ = writeln!(
            out,
            "\nwitnesses that disagree (the spec can follow only one; a deviation with `witness:` declares the one it does not follow):"
        );
        for disagreement in &outcome.disagreements {
            let _ = writeln!(out, "  {}", disagreement_line(disagreement));
        }
    }
    if !outcome.history.is_empty() {
        let _ = writeln!(out, "\npage history (oldest to newest):");
        for step in &outcome.history {
            let (before, after) = step.body_fields;
            let _ = writeln!(
                out,
                "  {}: {} -> {}: body fields {before} -> {after}",
                step.operation, step.from, step.to
            );
            if step.changes.is_empty() {
                let _ = writeln!(out, "    (no change in the compared facts)");
            }
            for change in &step.changes {
                let _ = writeln!(out, "    {}", change_line(change));
            }
        }
    }

    let declared = outcome.findings.len() - outcome.undeclared().count();
    let undeclared = outcome.undeclared().count();
    let compared = outcome.compared.len();
    let _ = writeln!(out);
    if outcome.exit() == Exit::Ok {
        let _ = writeln!(out, "ok: no undeclared differences in {compared} operations ({declared} declared in {deviations})");
        return out;
    }
    let _ = writeln!(
        out,
        "drift: {undeclared} undeclared differences and {} stale deviations in {compared} operations ({declared} declared in {deviations})",
        outcome.stale.len()
    );
    if undeclared > 0 {
        let _ = writeln!(
            out,
            "fix: for each difference, either make {spec} follow the docs (put the YAML at the JSON pointer, \
             replacing what is there), or, if the difference is intended, declare it in {deviations} \
             (give each entry a one-line reason):",
            spec = options.spec.display()
        );
        // Witnesses that say the same thing share one fix.
        let mut groups: Vec<Vec<&Finding>> = Vec::new();
        for finding in outcome.undeclared() {
            let same = |other: &&Finding| {
                other.operation == finding.operation
                    && other.field == finding.field
                    && other.docs == finding.docs
                    && other.spec == finding.spec
                    && other.fix == finding.fix
            };
            match groups
                .iter_mut()
                .find(|group| group.first().is_some_and(same))
            {
                Some(group) => group.push(finding),
                None => groups.push(vec![finding]),
            }
        }
        for group in groups {
            let first = group[0];
            let witnesses: Vec<&str> = group
                .iter()
                .map(|f| {
                    f.witness
                        .as_ref()
                        .map_or("no snapshot", |w| w.file.as_str())
                })
                .collect();
            let _ = writeln!(
                out,
                "\n{} {} ({}):",
                first.operation,
                first.field,
                witnesses.join(", ")
            );
            let _ = write!(
                out,
                "{}",
                spec_edits(first, &options.spec.display().to_string())
            );
            let _ = writeln!(out, "  or declare it in {deviations}:");
            if first.disputed {
                for finding in &group {
                    let _ = write!(out, "{}", snippet(finding));
                }
            } else {
                let _ = write!(out, "{}", snippet(first));
            }
        }
    }
    if !outcome.stale.is_empty() {
        let _ = writeln!(out, "fix: remove the stale deviations (or their operation from `operations:`) from {deviations}");
    }
    let _ = writeln!(out, "then run: {}", command(options));
    out
}

/// A deviations.yaml entry that would declare the finding; scoped to its
/// witness when other witnesses say something else.
fn snippet(finding: &Finding) -> String {
    let yaml = |v: &Option<Value>| v.as_ref().map_or("~".to_string(), Value::to_string);
    let witness = match (&finding.witness, finding.disputed) {
        (Some(witness), true) => format!("    witness: {}\n", witness.file),
        _ => String::new(),
    };
    format!(
        "  - operation: {}\n    field: {}\n    docs: {}\n    spec: {}\n{witness}    reason: <why the spec differs, one line>\n",
        finding.operation,
        finding.field,
        yaml(&finding.docs),
        yaml(&finding.spec)
    )
}

/// The spec edits that make the spec follow the finding's witness.
fn spec_edits(finding: &Finding, spec: &str) -> String {
    if finding.fix.is_empty() {
        return format!("  edit {spec} by hand (no single place in it holds this)\n");
    }
    let mut out = format!("  make {spec} follow it:\n");
    for edit in &finding.fix {
        match edit.yaml() {
            Some(yaml) => {
                let _ = writeln!(out, "    put at {}:", edit.pointer);
                for line in yaml.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            None => {
                let _ = writeln!(out, "    remove {}", edit.pointer);
            }
        }
    }
    out
}

/// `PUT /x body.count.type: a.json has number; b.md has integer (as the spec)`.
fn disagreement_line(disagreement: &Disagreement) -> String {
    let field = &disagreement.field;
    let spec = disagreement.spec.as_ref();
    let says: Vec<String> = disagreement
        .says
        .iter()
        .map(|(file, testimony)| match (testimony, spec) {
            (Testimony::Has(value), _) => format!("{file} has {}", show(field, value)),
            (Testimony::Lacks, _) => format!("{file} lacks it"),
            (Testimony::AsTheSpec, Some(value)) => {
                format!("{file} has {} (as the spec)", show(field, value))
            }
            (Testimony::AsTheSpec, None) => format!("{file} lacks it (as the spec)"),
        })
        .collect();
    format!("{} {field}: {}", disagreement.operation, says.join("; "))
}

/// The machine report: the same findings as data.
pub fn json(outcome: &Outcome, options: &Options) -> String {
    let findings: Vec<Value> = outcome
        .findings
        .iter()
        .map(|f| {
            json!({
                "operation": f.operation.to_string(),
                "field": f.field,
                "docs": f.docs,
                "spec": f.spec,
                "witness": f.witness.as_ref().map(|w| &w.file),
                "witness_kind": f.witness.as_ref().map(|w| w.kind),
                "disputed": f.disputed,
                "declared": f.declared.is_some(),
                "deviation": f.declared.as_ref().map(|(n, _)| n),
                "reason": f.declared.as_ref().map(|(_, r)| r),
                "text": finding_line(f),
                "spec_fix": f.fix.iter().map(|e| json!({"pointer": e.pointer, "yaml": e.yaml(), "remove": e.value.is_none()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let change = |d: &Difference| json!({"field": d.field, "before": d.left, "after": d.right});
    let report = json!({
        "spec": options.spec.display().to_string(),
        "snapshots": options.snapshots.display().to_string(),
        "deviations": options.deviations.display().to_string(),
        "exit_code": outcome.exit().code(),
        "errors": outcome.errors,
        "inputs": {
            "pages": outcome.counts.0,
            "documents": outcome.counts.1,
            "rendered": outcome.counts.2,
            "not_snapshots": outcome.skipped.iter().map(|(f, w)| json!({"file": f, "what": w})).collect::<Vec<_>>(),
            "out_of_scope_operations": outcome.out_of_scope,
        },
        "operations": outcome.compared.iter().map(|(k, s)| json!({"operation": k.to_string(), "witnesses": s})).collect::<Vec<_>>(),
        "findings": findings,
        "stale_deviations": outcome.stale.iter().map(|s| json!({"deviation": s.number, "operation": s.operation.to_string(), "what": s.what})).collect::<Vec<_>>(),
        "disagreements": outcome.disagreements.iter().map(disagreement_json).collect::<Vec<_>>(),
        "history": outcome.history.iter().map(|s| json!({"operation": s.operation.to_string(), "from": s.from, "to": s.to, "body_fields": [s.body_fields.0, s.body_fields.1], "changes": s.changes.iter().map(change).collect::<Vec<_>>()})).collect::<Vec<_>>(),
    });
    let mut text =
        serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn disagreement_json(disagreement: &Disagreement) -> Value {
    let says: Vec<Value> = disagreement
        .says
        .iter()
        .map(|(file, testimony)| match testimony {
            Testimony::Has(value) => json!({"witness": file, "has": value, "as_the_spec": false}),
            Testimony::Lacks => json!({"witness": file, "has": null, "as_the_spec": false}),
            Testimony::AsTheSpec => {
                json!({"witness": file, "has": disagreement.spec, "as_the_spec": true})
            }
        })
        .collect();
    json!({
        "operation": disagreement.operation.to_string(),
        "field": disagreement.field,
        "spec": disagreement.spec,
        "witnesses": says,
        "text": disagreement_line(disagreement),
    })
}
