//! `datafold bi plan|apply|export` and `bi schema --file`: BI integrations
//! as code, a thin layer over the SDK's [`Desired`], [`Plan`] and
//! [`Plan::apply_with`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use datafold_sdk::bi::{
    kind_fields, Action, ApplyOptions, ApplyReport, AsCodeError, Desired, EntryKey, Outcome, Plan,
    PlanOptions, SecretState, MAX_DESIRED_FILE_BYTES, MAX_SAVED_PLAN_BYTES,
};
use datafold_sdk::Client;
use serde_json::{json, Map, Value};

use crate::{output, CliError, CliResult};

/// The exit code of `bi plan` when applying would change something.
pub const CHANGES_PENDING: u8 = 10;

/// `bi plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The desired-state file (YAML, or JSON when it ends in .json)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Delete the integrations the file does not declare (otherwise they are "unmanaged")
    #[arg(long)]
    prune: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// A state file of salted secret hashes, to detect rotated secrets (see the README)
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Send this entry's secrets (by name, or pinned id) whatever the state says (repeatable)
    #[arg(long, value_name = "NAME")]
    rotate: Vec<String>,
    /// Also save the plan as JSON in FILE, for `bi apply FILE` after review
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `bi apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved by `bi plan -o`: apply exactly it, or refuse if anything moved
    #[arg(value_name = "PLAN", conflicts_with_all = ["file", "prune"], required_unless_present = "file")]
    saved: Option<PathBuf>,
    /// The desired-state file (YAML, or JSON when it ends in .json)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Delete the integrations the file does not declare
    #[arg(long)]
    prune: bool,
    /// Carry out replaces (delete, then create under a new id)
    #[arg(long)]
    allow_replace: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long)]
    yes: bool,
    /// A state file of salted secret hashes, updated with what was sent
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Send this entry's secrets (by name, or pinned id) whatever the state says (repeatable)
    #[arg(long, value_name = "NAME", conflicts_with = "saved")]
    rotate: Vec<String>,
    /// How to report what was done (json: one object, for CI logs)
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
}

/// `bi export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write the file here instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Only the integration of this id (repeatable): an entry to adopt
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<i64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
}

/// An SDK as-code error in the CLI's terms: API failures keep their exit
/// codes; everything else is rejected input (exit 5).
fn cli_error(error: AsCodeError) -> CliError {
    match error {
        AsCodeError::Api(error) => CliError::from(error),
        other => CliError::input(other.to_string()),
    }
}

/// The file, read and checked, its secrets resolved and masked in all
/// output from here on.
fn read_desired(path: &Path) -> CliResult<Desired> {
    let desired = Desired::from_path(path).map_err(cli_error)?;
    for entry in desired.entries() {
        for reference in entry.secrets().values() {
            if let Ok(secret) = reference.resolve(desired.base_dir()) {
                output::hide(&secret);
            }
        }
    }
    Ok(desired)
}

fn open_state(path: Option<&Path>, client: &Client, file: &Path) -> CliResult<Option<SecretState>> {
    path.map(|state| SecretState::open(state, client.host(), &file.display().to_string()))
        .transpose()
        .map_err(cli_error)
}

/// The plan of the desired `file` against the server, with the state file
/// (if given) it was made with.
async fn plan_file(
    file: &Path,
    state: Option<&Path>,
    prune: bool,
    skip_secrets: bool,
    rotate: &[String],
    client: &Client,
) -> CliResult<(Plan, Option<SecretState>, Desired)> {
    let desired = read_desired(file)?;
    let state = open_state(state, client, file)?;
    let options = PlanOptions {
        prune,
        state: state.as_ref(),
        skip_secrets,
        rotate,
    };
    let plan = client
        .bi()
        .plan_with(&desired, options)
        .await
        .map_err(cli_error)?;
    Ok((plan, state, desired))
}

pub async fn plan(args: PlanArgs, client: &Client) -> CliResult {
    // Without --state nothing compares the secrets: none need be set.
    let (plan, _, _) = plan_file(
        &args.file,
        args.state.as_deref(),
        args.prune,
        true,
        &args.rotate,
        client,
    )
    .await?;
    if let Some(path) = &args.output {
        let mut json = serde_json::to_vec_pretty(&plan)
            .map_err(|e| CliError::other(format!("cannot encode the plan: {e}")))?;
        json.push(b'\n');
        datafold_sdk::safe_file::write_atomically(path, &json).map_err(CliError::from)?;
        output::note(&format!(
            "saved the plan in {}; apply it with `datafold bi apply {}`",
            path.display(),
            path.display()
        ));
    }
    match args.format {
        PlanFormat::Json => output::json(&plan)?,
        PlanFormat::Text => output::stdout(&output::message_text(&plan.to_string()))?,
    }
    if plan.has_changes() {
        return Err(CliError::quiet(CHANGES_PENDING));
    }
    Ok(())
}

pub async fn apply(args: ApplyArgs, client: &Client) -> CliResult {
    // A saved plan names its file; the fresh plan made from it must be
    // the saved one, or nothing is done.
    let (file, prune, rotate, saved) = match (&args.saved, &args.file) {
        (Some(saved), _) => {
            let bytes = datafold_sdk::safe_file::read_capped(saved, MAX_SAVED_PLAN_BYTES)
                .map_err(CliError::from)?;
            let header = Plan::read_saved(&bytes)
                .map_err(|e| CliError::input(format!("{}: {e}", saved.display())))?;
            // Before anything is read or asked of the server.
            if header.host.trim_end_matches('/') != client.host().trim_end_matches('/') {
                return Err(CliError::input(format!(
                    "not applied, nothing was changed: {} was made against {}, not {} (--host)",
                    saved.display(),
                    header.host,
                    client.host()
                )));
            }
            match (header.state, args.state.is_some()) {
                (true, false) => {
                    return Err(CliError::usage(
                        "the plan was made with --state: give the same --state to apply it",
                    ))
                }
                (false, true) => {
                    return Err(CliError::usage(
                        "the plan was made without --state: apply it without one, or make a new plan with it",
                    ))
                }
                _ => {}
            }
            (
                PathBuf::from(header.source),
                header.prune,
                header.rotate,
                Some((saved, bytes)),
            )
        }
        (None, Some(file)) => (file.clone(), args.prune, args.rotate.clone(), None),
        (None, None) => return Err(CliError::usage("give a saved PLAN or -f FILE")),
    };
    let (plan, mut state, desired) =
        plan_file(&file, args.state.as_deref(), prune, false, &rotate, client).await?;
    if let Some((path, bytes)) = &saved {
        plan.check_saved(bytes).map_err(|e| {
            CliError::input(format!(
                "not applied, nothing was changed: {e} ({})",
                path.display()
            ))
        })?;
    }
    let json = args.format == PlanFormat::Json;
    let plan_text = output::message_text(&plan.to_string());
    if json {
        output::note(plan_text.trim_end());
    } else {
        output::stdout(&plan_text)?;
    }
    if !plan.has_changes() {
        // The state is refreshed all the same: what the file manages, and
        // the baseline of secrets nothing was recorded for.
        if let Some(state) = state.as_mut() {
            let options = ApplyOptions {
                allow_replace: false,
                state: Some(state),
            };
            plan.apply_with(client, options).await.map_err(cli_error)?;
            output::note(&format!(
                "Nothing to do; the state file {} is up to date.",
                args.state.as_deref().unwrap_or(Path::new("")).display()
            ));
        } else {
            output::note("Nothing to do.");
        }
        if json {
            output::json(&ApplyReport::default())?;
        }
        return Ok(());
    }
    // A saved plan was reviewed already: it is applied without a prompt.
    if saved.is_none() && !args.yes && !confirm(&plan)? {
        return Err(CliError::other(
            "not applied: nothing was changed, as answered at the prompt",
        ));
    }
    let options = ApplyOptions {
        allow_replace: args.allow_replace,
        state: state.as_mut(),
    };
    // The SDK refuses replaces before sending anything; the CLI says it
    // with its flag.
    let report = plan
        .apply_with(client, options)
        .await
        .map_err(|error| match error {
            AsCodeError::ReplaceNotAllowed(_) => CliError::input(format!(
                "the plan replaces {} (delete, then create under a new id); nothing was changed. \
                 Rerun with --allow-replace to allow it",
                plan.replace_labels().join(", ")
            )),
            other => cli_error(other),
        })?;
    let mut lines = String::new();
    for change in &report.changes {
        match &change.outcome {
            Outcome::Done { id } => {
                let id = id.map(|id| format!(" -> id {id}")).unwrap_or_default();
                lines.push_str(&format!("done: {} {}{id}\n", change.action, change.label));
            }
            Outcome::Failed { error } => {
                lines.push_str(&format!(
                    "NOT done: {} {}: {error}\n",
                    change.action, change.label
                ));
            }
        }
    }
    if json {
        output::json(&report)?;
    } else {
        output::stdout(&output::message_text(&lines))?;
    }
    repin_replaced(&file, &plan, &report, &desired);
    if report.is_complete() {
        return Ok(());
    }
    let failed = report.failed().count();
    Err(CliError::other(format!(
        "{failed} of {} changes failed (listed above as NOT done); the others were made. \
         Run the same apply again: it plans from the server's state and creates nothing twice",
        report.changes.len()
    )))
}

/// After a replace, point the file's `id:` pins at the new ids, so that
/// the next plan is clean without a hand edit. Only the pin's value
/// changes: comments and layout stay as they are.
fn repin_replaced(file: &Path, plan: &Plan, report: &ApplyReport, desired: &Desired) {
    let applied = plan.changes().iter().filter(|c| c.action.is_change());
    let mut moves = Vec::new();
    for (change, done) in applied.zip(&report.changes) {
        let (Action::Replace, Some(old), Outcome::Done { id: Some(new) }) =
            (change.action, change.id, &done.outcome)
        else {
            continue;
        };
        let pinned = desired
            .entries()
            .iter()
            .find(|e| e.line() == change.line && *e.key() == EntryKey::Id(old));
        if let Some(entry) = pinned {
            moves.push((entry.line().unwrap_or(1), old, *new));
        }
    }
    if moves.is_empty() {
        return;
    }
    match rewrite_pins(file, &moves) {
        Ok(done) if done.is_empty() => {}
        Ok(done) => output::note(&format!(
            "updated the replaced pins in {} ({})",
            file.display(),
            done.join(", ")
        )),
        // The changes are made: a file that cannot be rewritten is
        // reported, with what to change by hand, not an error of the apply.
        Err(why) => output::note(&format!(
            "could not update the replaced pins in {} ({why}); change them by hand: {}",
            file.display(),
            moves
                .iter()
                .map(|(line, old, new)| format!("line {line}: id {old} -> {new}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Rewrite the pins `moves` (entry line, old id, new id) in `file`; the
/// pins changed, as `line N: id OLD -> NEW`. A pin not found is a note.
fn rewrite_pins(file: &Path, moves: &[(usize, i64, i64)]) -> Result<Vec<String>, String> {
    let bytes = datafold_sdk::safe_file::read_capped(file, MAX_DESIRED_FILE_BYTES)
        .map_err(|e| e.to_string())?;
    let mut text = String::from_utf8(bytes).map_err(|_| "no longer UTF-8 text".to_owned())?;
    let mut done = Vec::new();
    for (line, old, new) in moves {
        match repin(&text, *line, *old, *new) {
            Some((changed, at)) => {
                text = changed;
                done.push(format!("line {at}: id {old} -> {new}"));
            }
            None => output::note(&format!(
                "could not find the pin `id: {old}` of the entry on line {line} of {}: \
                 change it to {new} by hand",
                file.display()
            )),
        }
    }
    if !done.is_empty() {
        datafold_sdk::safe_file::write_atomically(file, text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(done)
}

/// `text` with the first `id: OLD` (YAML) or `"id": OLD` (JSON) at or
/// after line `from` (1-based) changed to `NEW`, and that line; `None`
/// when there is no such pin.
fn repin(text: &str, from: usize, old: i64, new: i64) -> Option<(String, usize)> {
    let old = old.to_string();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        if number >= from {
            // No other entry can pin the same id, so the first pin of
            // this value from the entry's line on is the entry's.
            let body = line.trim_start();
            let body = body.strip_prefix("- ").unwrap_or(body).trim_start();
            let body = body.strip_prefix('{').unwrap_or(body).trim_start();
            let rest = body
                .strip_prefix("id:")
                .or_else(|| body.strip_prefix("\"id\":"))
                .or_else(|| body.strip_prefix("\"id\" :"));
            if let Some(rest) = rest {
                let value = rest.trim_start();
                let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
                if digits == old {
                    let start = offset + (line.len() - value.len());
                    let mut changed = String::with_capacity(text.len() + 4);
                    changed.push_str(&text[..start]);
                    changed.push_str(&new.to_string());
                    changed.push_str(&text[start + old.len()..]);
                    return Some((changed, number));
                }
            }
        }
        offset += line.len();
    }
    None
}

/// Ask on the terminal; refuse without one (scripts pass --yes).
fn confirm(plan: &Plan) -> CliResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "refusing to apply without --yes (stdin is not a terminal); nothing was changed",
        ));
    }
    let count = plan
        .changes()
        .iter()
        .filter(|c| c.action.is_change())
        .count();
    output::ask_yes(&format!("Apply these {count} changes? [y/N] "))
}

/// The environment variable an export names for a secret:
/// `DATAFOLD_BI_<NAME>_<FIELD>`, the name in capitals with `_` for anything
/// else (`Looker (prod)` gives `DATAFOLD_BI_LOOKER_PROD_CLIENT_SECRET`): a
/// replace gives the integration a new id, never a new variable. Without a
/// name of letters or digits, or with one another integration's name
/// would give too, the id is used: `DATAFOLD_BI_3_CLIENT_SECRET`.
pub fn secret_variable(id: i64, name: Option<&str>, taken: &[String], field: &str) -> String {
    let field = field.to_ascii_uppercase();
    if let Some(slug) = name.map(variable_slug).filter(|s| !s.is_empty()) {
        if taken.iter().filter(|other| **other == slug).count() == 1 {
            return format!("DATAFOLD_BI_{slug}_{field}");
        }
    }
    format!("DATAFOLD_BI_{id}_{field}")
}

/// `Looker (prod)` → `LOOKER_PROD`.
fn variable_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_uppercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_owned()
}

pub async fn export(args: ExportArgs, client: &Client) -> CliResult {
    let bi = client.bi();
    let list = bi.list().await?;
    let mut entries = Vec::new();
    let mut variables = Vec::new();
    let mut skipped = Vec::new();
    if let Some(missing) = args
        .ids
        .iter()
        .find(|id| !list.iter().any(|i| i.id() == **id))
    {
        return Err(CliError::not_found(format!(
            "there is no integration {missing}; `datafold bi list` shows their ids"
        )));
    }
    let chosen = list
        .iter()
        .filter(|item| args.ids.is_empty() || args.ids.contains(&item.id()));
    // Every integration's name, as a variable would spell it: a name two
    // integrations would share falls back to the id.
    let slugs: Vec<String> = list
        .iter()
        .filter_map(|i| i.name().map(variable_slug))
        .collect();
    for item in chosen {
        let (id, Some(kind)) = (item.id(), item.kind()) else {
            skipped.push(item.id().to_string());
            continue;
        };
        let full = bi.get(id).await?;
        let name = full.name().filter(|n| !n.trim().is_empty());
        let mut entry = serde_yaml_ng::Mapping::new();
        let mut put = |key: &str, value: Value| -> CliResult {
            let value = serde_yaml_ng::to_value(&value)
                .map_err(|e| CliError::other(format!("cannot write YAML: {e}")))?;
            entry.insert(key.into(), value);
            Ok(())
        };
        // Every entry is pinned, so that a rename in the file is an update
        // of this integration, not a create beside it.
        put("id", json!(id))?;
        put("kind", json!(kind.as_str()))?;
        if let Some(name) = name {
            put("name", json!(name))?;
        }
        for field in kind_fields(kind) {
            if field.name == "name" {
                continue;
            }
            if field.secret {
                if field.required {
                    let var = secret_variable(id, name, &slugs, &field.name);
                    put(&field.name, json!(format!("${{env:{var}}}")))?;
                    variables.push(var);
                }
                continue;
            }
            // Nothing, and the spec's default, are left out (plan reads
            // them the same way).
            match full.get(&field.name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(value) if Some(value) == field.default.as_ref() => {}
                Some(value) => put(&field.name, value.clone())?,
            }
        }
        entries.push(serde_yaml_ng::Value::Mapping(entry));
    }
    let exported = entries.len();
    let mut document = serde_yaml_ng::Mapping::new();
    document.insert(
        "integrations".into(),
        serde_yaml_ng::Value::Sequence(entries),
    );
    let body = serde_yaml_ng::to_string(&document)
        .map_err(|e| CliError::other(format!("cannot write YAML: {e}")))?;
    let mut text = format!(
        "# BI integrations of {}, exported by `datafold bi export`.\n\
         # Secrets are not returned by Datafold: set the variables named below before `bi plan`.\n",
        client.host()
    );
    text.push_str(&body);
    match &args.output {
        // An unsafe --output is refused input (exit 5), a failed write exit 1.
        Some(path) => datafold_sdk::safe_file::write_atomically(path, text.as_bytes())
            .map_err(CliError::from)?,
        None => output::stdout(&text)?,
    }
    if !skipped.is_empty() {
        output::note(&format!(
            "left out integrations {} (of a kind this version does not know)",
            skipped.join(", ")
        ));
    }
    if !variables.is_empty() {
        output::note(&format!(
            "exported {} integrations; set these variables to their secrets: {}",
            exported,
            variables.join(" ")
        ));
    }
    Ok(())
}

/// The JSON Schema of a whole desired-state file: each entry is one of
/// the kinds' configurations (from the spec's types) plus `kind` and `id`,
/// with secrets as `${env:VAR}` / `${file:PATH}` references.
pub fn file_schema() -> Value {
    let mut definitions = Map::new();
    let mut kinds = Vec::new();
    for kind in datafold_sdk::bi::BiKind::ALL {
        let mut schema = datafold_sdk::bi::config_schema(kind);
        if let Some(Value::Object(defs)) = schema.get_mut("definitions").map(Value::take) {
            definitions.extend(defs);
        }
        let mut properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for field in kind_fields(kind).into_iter().filter(|f| f.secret) {
            properties.insert(
                field.name.clone(),
                json!({
                    "type": "string",
                    "pattern": SECRET_REFERENCE_PATTERN,
                    "description": "A reference to the secret: ${env:VAR} or ${file:PATH}; never the secret itself",
                }),
            );
        }
        properties.insert("kind".into(), json!({ "const": kind.as_str() }));
        properties.insert(
            "id".into(),
            json!({ "type": "integer", "minimum": 1, "description": "Adopt the existing integration of this id" }),
        );
        let mut required = vec![json!("kind")];
        required.extend(
            schema
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
        kinds.push(json!({
            "title": kind.display_name(),
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
            "anyOf": [{ "required": ["name"] }, { "required": ["id"] }],
        }));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Datafold BI integrations (datafold bi plan|apply -f FILE)",
        "type": "object",
        "required": ["integrations"],
        "additionalProperties": false,
        "properties": {
            "$schema": { "type": "string" },
            "integrations": { "type": "array", "items": { "oneOf": kinds } },
        },
        "definitions": definitions,
    })
}

/// What a secret field of the file must match.
pub const SECRET_REFERENCE_PATTERN: &str = r"^\$\{(env:[A-Za-z0-9_]+|file:.+)\}$";

#[cfg(test)]
mod tests {
    use super::{repin, secret_variable, variable_slug};

    #[test]
    fn a_yaml_pin_changes_and_nothing_else_does() {
        let text = "integrations:\n  - name: a\n    kind: dbt\n    ci_config_id: 4\n  - id: 4 # pinned\n    kind: looker\n";
        let (changed, line) = repin(text, 5, 4, 17).unwrap();
        assert_eq!(line, 5);
        assert_eq!(changed, text.replace("- id: 4 #", "- id: 17 #"));
        assert!(repin(text, 5, 3, 17).is_none(), "no pin of that id");
        assert!(repin("  - id: 40\n", 1, 4, 17).is_none(), "40 is not 4");
    }

    #[test]
    fn a_json_pin_changes() {
        let text = "{\"integrations\": [\n  {\n    \"id\": 4,\n    \"kind\": \"looker\"\n  }\n]}\n";
        let (changed, line) = repin(text, 2, 4, 5).unwrap();
        assert_eq!(line, 3);
        assert_eq!(changed, text.replace("\"id\": 4,", "\"id\": 5,"));
    }

    #[test]
    fn variables_are_named_after_the_integration_unless_the_name_cannot_tell_them_apart() {
        let taken = vec![
            variable_slug("Looker (prod)"),
            variable_slug("Mode"),
            variable_slug("mode!"),
        ];
        assert_eq!(
            secret_variable(3, Some("Looker (prod)"), &taken, "client_secret"),
            "DATAFOLD_BI_LOOKER_PROD_CLIENT_SECRET"
        );
        assert_eq!(
            secret_variable(4, Some("Mode"), &taken, "token"),
            "DATAFOLD_BI_4_TOKEN"
        );
        assert_eq!(
            secret_variable(5, Some("(?)"), &taken, "token"),
            "DATAFOLD_BI_5_TOKEN"
        );
        assert_eq!(
            secret_variable(6, None, &taken, "token"),
            "DATAFOLD_BI_6_TOKEN"
        );
    }
}
