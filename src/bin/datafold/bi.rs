//! `datafold bi list|get|sync|remove|create|update|schema|plan|apply|export`.

use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Subcommand, ValueEnum};
use datafold_sdk::bi::{BiKind, ConfigVisitor, Integration, KindConfig};
use datafold_sdk::{Client, Secret};
use serde_json::{Map, Value};

use crate::bi_code;
use crate::bi_fields::{self, how_to_set, Shape};
use crate::bi_flags::{self, ConfigFlags, CreateKind, UpdateKind};
use crate::output;
use crate::{CliError, CliResult, Global};

#[derive(Subcommand, Debug)]
pub enum BiCommand {
    /// List every integration
    List {
        /// Output format
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show one integration as JSON
    Get {
        /// The integration's id
        id: i64,
    },
    /// Start an unscheduled sync
    Sync {
        /// The integration's id
        id: i64,
    },
    /// Delete an integration (asks first; answering no removes nothing and exits 1)
    Remove {
        /// The integration's id
        id: i64,
        /// Do not ask for confirmation (needed when stdin is not a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Create an integration of a kind
    #[command(subcommand)]
    Create(CreateKind),
    /// Change an integration: `update <ID> [FLAGS]`; fields not given stay as they are
    #[command(subcommand)]
    Update(UpdateKind),
    /// Print the JSON Schema of a kind's configuration (for --from-file), or of a whole -f file
    Schema {
        /// The kind
        #[arg(value_parser = kind_parser(), required_unless_present = "file")]
        kind: Option<BiKind>,
        /// The schema of a whole `bi plan|apply -f` file instead (for editors)
        #[arg(long, conflicts_with = "kind")]
        file: bool,
    },
    /// Compare a file of integrations with the server; exit 10 when changes are pending
    Plan(bi_code::PlanArgs),
    /// Make the server match a file of integrations (asks first)
    Apply(bi_code::ApplyArgs),
    /// Write the server's integrations as a file for plan and apply
    Export(bi_code::ExportArgs),
}

/// A kind's name, one of those [`BiKind`] knows.
fn kind_parser() -> impl TypedValueParser<Value = BiKind> {
    PossibleValuesParser::new(BiKind::ALL.map(BiKind::as_str))
        .try_map(|name| name.parse::<BiKind>())
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

pub async fn run(command: BiCommand, global: &Global) -> CliResult {
    match command {
        // The only subcommand that needs no key: answered without a client.
        BiCommand::Schema { kind, file } => schema(kind, file),
        other => run_with(other, &global.client()?).await,
    }
}

async fn run_with(command: BiCommand, client: &Client) -> CliResult {
    let bi = client.bi();
    match command {
        BiCommand::Schema { kind, file } => schema(kind, file),
        BiCommand::Plan(args) => bi_code::plan(args, client).await,
        BiCommand::Apply(args) => bi_code::apply(args, client).await,
        BiCommand::Export(args) => bi_code::export(args, client).await,
        BiCommand::List { format } => {
            let list = bi.list().await?;
            match format {
                ListFormat::Json => output::json(list.raw()),
                ListFormat::Table => {
                    let cell = |v: Option<&str>| v.unwrap_or("-").to_owned();
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|i| {
                            let id = i.id().to_string();
                            vec![
                                id,
                                cell(i.type_name()),
                                cell(i.name()),
                                cell(i.indexing_cron()),
                            ]
                        })
                        .collect();
                    output::table(&["ID", "KIND", "NAME", "SCHEDULE"], &rows)
                }
            }
        }
        BiCommand::Get { id } => print(&bi.get(id).await?),
        BiCommand::Sync { id } => match bi.sync(id).await? {
            Some(integration) => print(&integration),
            None => {
                output::note(&format!("started a sync of integration {id}"));
                Ok(())
            }
        },
        BiCommand::Remove { id, yes } => {
            if !yes && !confirm(id)? {
                return Err(CliError::other(format!(
                    "not removed: integration {id} stays, as answered at the prompt"
                )));
            }
            match bi.remove(id).await? {
                Some(integration) => print(&integration),
                None => {
                    output::note(&format!("removed integration {id}"));
                    Ok(())
                }
            }
        }
        BiCommand::Create(CreateKind(flags)) => {
            let kind = flags.kind;
            let send = SendConfig {
                client,
                flags,
                current: None,
            };
            print(&kind.visit_config(send).await?)
        }
        BiCommand::Update(UpdateKind::Kind(flags)) => {
            let id = flags.id.unwrap_or_default();
            let current = bi.get(id).await?;
            if current.kind() != Some(flags.kind) {
                return Err(CliError::input(format!(
                    "integration {id} is a {} integration, not {}; run `datafold bi update {id}` \
                     (the kind is read from the server)",
                    current.type_name().unwrap_or("unknown"),
                    flags.kind
                )));
            }
            update(client, flags, current).await
        }
        BiCommand::Update(UpdateKind::ById { id, args }) => {
            let current = bi.get(id).await?;
            let kind = current.kind().ok_or_else(|| {
                CliError::other(format!(
                    "integration {id} is of a kind this version does not know ({}); \
                     update it with a newer datafold",
                    current.type_name().unwrap_or("no type")
                ))
            })?;
            let flags = match bi_flags::flags_for_update(kind, id, &args) {
                Ok(flags) => flags,
                // `bi update <ID> --help`: the kind's flags, on stdout.
                Err(e) if !e.use_stderr() => return output::stdout(&e.render().to_string()),
                Err(e) => {
                    let text = e.render().to_string();
                    let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
                    return Err(CliError::usage(format!("bi update {id} ({kind}): {text}")));
                }
            };
            update(client, flags, current).await
        }
    }
}

fn schema(kind: Option<BiKind>, file: bool) -> CliResult {
    match kind {
        Some(kind) if !file => output::json_as_is(&bi_flags::schema(kind)),
        _ => output::json_as_is(&bi_code::file_schema()),
    }
}

/// Send the update: the integration's current fields, with those given on
/// top.
async fn update(client: &Client, flags: ConfigFlags, current: Integration) -> CliResult {
    let kind = flags.kind;
    let send = SendConfig {
        client,
        flags,
        current: Some(current),
    };
    print(&kind.visit_config(send).await?)
}

fn print(integration: &Integration) -> CliResult {
    output::json(integration.raw())
}

/// Ask on the terminal; refuse without one (scripts pass --yes).
fn confirm(id: i64) -> CliResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to remove integration {id} without --yes (stdin is not a terminal)"
        )));
    }
    output::ask_yes(&format!("Remove integration {id}? [y/N] "))
}

/// Sends a configuration of the kind visited: a create, or an update when
/// the flags name an integration.
struct SendConfig<'a> {
    client: &'a Client,
    flags: ConfigFlags,
    /// For an update: the integration as it is now.
    current: Option<Integration>,
}

impl<'a> ConfigVisitor for SendConfig<'a> {
    type Output = Pin<Box<dyn Future<Output = CliResult<Integration>> + 'a>>;

    fn visit<C: KindConfig>(self) -> Self::Output {
        Box::pin(async move {
            let config = config::<C>(&self.flags, self.current.as_ref())?;
            let bi = self.client.bi();
            Ok(match self.flags.id {
                Some(id) => bi.update(id, config).await?,
                None => bi.create(config).await?,
            })
        })
    }
}

/// The flags' JSON as the kind's typed configuration; what is missing or of
/// the wrong type is named with the flag that sets it. The secrets in it are
/// masked in all output from here on.
fn config<C: KindConfig>(flags: &ConfigFlags, current: Option<&Integration>) -> CliResult<C> {
    let fields = &flags.fields;
    // An update starts from the integration's current fields: what is not
    // given stays as it is. The server never returns secrets.
    let mut body: Map<String, Value> = current
        .map(|current| {
            fields
                .iter()
                .filter(|f| f.shape != Shape::Secret)
                .filter_map(|f| Some((f.name.clone(), current.get(&f.name)?.clone())))
                .filter(|(_, value)| !value.is_null())
                .collect()
        })
        .unwrap_or_default();
    body.extend(flags.body()?);
    if let Some(id) = flags.id {
        let missing = fields
            .iter()
            .find(|f| f.shape == Shape::Secret && f.required && !body.contains_key(&f.name));
        let unsent: Vec<&str> = fields
            .iter()
            .filter(|f| f.shape == Shape::Secret && !f.required && !body.contains_key(&f.name))
            .map(|f| f.name.as_str())
            .collect();
        if !unsent.is_empty() && missing.is_none() {
            output::note(&format!(
                "note: {} not given: the update is sent without it (Datafold never returns \
                 secrets, so the current value cannot be kept for you)",
                unsent.join(", ")
            ));
        }
        if let Some(secret) = missing {
            return Err(CliError::input(format!(
                "the API requires `{name}` in every update of a {kind} integration, and Datafold \
                 never returns it, so it must be given again for integration {id}{how}",
                name = secret.name,
                kind = flags.kind,
                how = how_to_set(fields, &secret.name)
            )));
        }
    }
    for field in fields.iter().filter(|f| f.shape == Shape::Secret) {
        if let Some(Value::String(secret)) = body.get(&field.name) {
            output::hide(&Secret::new(secret.clone()));
        }
    }
    let body = Value::Object(body);
    output::hide_secrets_of(&body);
    if let Value::Object(map) = &body {
        bi_fields::check(fields, map)?;
    }
    serde_json::from_value(body.clone()).map_err(|e| {
        let text = e.to_string();
        match wrong_field::<C>(&body) {
            Some((field, why)) => CliError::input(format!(
                "invalid configuration: {field}: {why}{}",
                how_to_set(fields, &field)
            )),
            None => CliError::input(format!("invalid configuration: {text}")),
        }
    })
}

/// The first field that is wrong by itself, and serde's reason. serde names
/// a missing field but not a mistyped one, so each field is tried alone: a
/// good one fails only for the fields it lacks.
fn wrong_field<C: KindConfig>(body: &Value) -> Option<(String, String)> {
    body.as_object()?.iter().find_map(|(field, value)| {
        let alone = Value::Object(Map::from_iter([(field.clone(), value.clone())]));
        let why = serde_json::from_value::<C>(alone).err()?.to_string();
        (!why.starts_with("missing field")).then(|| (field.clone(), why))
    })
}
