//! `datafold bi list|get|sync|remove|create|update|schema`.

use std::io::{BufRead, IsTerminal, Read};

use clap::{Subcommand, ValueEnum};
use datafold_sdk::bi::Integration;
use datafold_sdk::{types, Client, SECRET_FIELDS};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bi_config::{CreateKind, KindFlags, UpdateKind};
use crate::output;
use crate::{CliResult, Failure, Global};

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
    /// Replace an integration's configuration (all required fields again)
    #[command(subcommand)]
    Update(UpdateKind),
    /// Print the JSON Schema of a kind's configuration (for --from-file)
    Schema {
        /// The kind
        #[arg(value_enum)]
        kind: Kind,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dbt,
    Hightouch,
    Looker,
    Mode,
    Powerbi,
    Tableau,
}

pub async fn run(command: BiCommand, global: &Global) -> CliResult {
    match command {
        // The only subcommand that needs no key: answered without a client.
        BiCommand::Schema { kind } => output::json_as_is(&schema(kind)),
        other => run_with(other, &global.client()?).await,
    }
}

async fn run_with(command: BiCommand, client: &Client) -> CliResult {
    let bi = client.bi();
    match command {
        BiCommand::Schema { kind } => output::json_as_is(&schema(kind)),
        BiCommand::List { format } => {
            let list = bi.list().await?;
            match format {
                ListFormat::Json => output::json(list.raw()),
                ListFormat::Table => {
                    let cell = |v: Option<&str>| v.unwrap_or("-").to_owned();
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|i| {
                            let id = i.id().map_or("-".into(), |id| id.to_string());
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
        BiCommand::Sync { id } => print(&bi.sync(id).await?),
        BiCommand::Remove { id, yes } => {
            if !yes && !confirm(id)? {
                return Err(Failure::other(format!(
                    "not removed: integration {id} stays, as answered at the prompt"
                )));
            }
            print(&bi.remove(id).await?)
        }
        BiCommand::Create(kind) => print(&create(client, kind).await?),
        BiCommand::Update(kind) => print(&update(client, kind).await?),
    }
}

fn print(integration: &Integration) -> CliResult {
    output::json(integration.raw())
}

/// Ask on the terminal; refuse without one (scripts pass --yes).
fn confirm(id: i64) -> CliResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "refusing to remove integration {id} without --yes (stdin is not a terminal)"
        )));
    }
    output::prompt(&format!("Remove integration {id}? [y/N] "));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(1024)
        .read_line(&mut answer)
        .map_err(|e| Failure::other(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The flags' JSON as the kind's typed configuration; what is missing or of
/// the wrong type is named with the flag that sets it. The secrets in it are
/// masked in all output from here on.
fn config<T: DeserializeOwned>(flags: &impl KindFlags) -> CliResult<T> {
    let body: Value = flags.body()?;
    output::hide_secrets_of(&body);
    // serde's messages quote wrong values; a secret must never be quoted.
    for field in SECRET_FIELDS {
        if body
            .get(field)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(Failure::input(format!(
                "{field} must be a string (quote it in the file)"
            )));
        }
    }
    serde_json::from_value(body.clone()).map_err(|e| {
        let text = e.to_string();
        if let Some(field) = text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            return Failure::input(format!(
                "incomplete configuration: {text}{}",
                how_to_set(field)
            ));
        }
        match wrong_field::<T>(&body) {
            Some((field, why)) => Failure::input(format!(
                "invalid configuration: {field}: {why}{}",
                how_to_set(&field)
            )),
            None => Failure::input(format!("invalid configuration: {text}")),
        }
    })
}

/// The first field that is wrong by itself, and serde's reason. serde names
/// a missing field but not a mistyped one, so each field is tried alone: a
/// good one fails only for the fields it lacks.
fn wrong_field<T: DeserializeOwned>(body: &Value) -> Option<(String, String)> {
    body.as_object()?.iter().find_map(|(field, value)| {
        let alone = Value::Object(Map::from_iter([(field.clone(), value.clone())]));
        let why = serde_json::from_value::<T>(alone).err()?.to_string();
        (!why.starts_with("missing field")).then(|| (field.clone(), why))
    })
}

fn how_to_set(field: &str) -> String {
    let flag = field.replace('_', "-");
    if SECRET_FIELDS.contains(&field) {
        format!(" (pass it with --{flag}-env VAR, --{flag}-file PATH or --{flag}-stdin, or in --from-file)")
    } else {
        format!(" (set it with --{flag}, or in --from-file)")
    }
}

async fn create(client: &Client, kind: CreateKind) -> CliResult<Integration> {
    let bi = client.bi();
    let created = match kind {
        CreateKind::Dbt(f) => bi.create(config::<types::DbtDataSourceConfig>(&f)?).await,
        CreateKind::Hightouch(f) => {
            bi.create(config::<types::HighTouchDataSourceConfig>(&f)?)
                .await
        }
        CreateKind::Looker(f) => {
            bi.create(config::<types::LookerDataSourceConfig>(&f)?)
                .await
        }
        CreateKind::Mode(f) => bi.create(config::<types::ModeDataSourceConfig>(&f)?).await,
        CreateKind::Powerbi(f) => {
            bi.create(config::<types::PowerBiDataSourceConfig>(&f)?)
                .await
        }
        CreateKind::Tableau(f) => {
            bi.create(config::<types::TableauDataSourceConfig>(&f)?)
                .await
        }
    };
    Ok(created?)
}

async fn update(client: &Client, kind: UpdateKind) -> CliResult<Integration> {
    let bi = client.bi();
    let updated = match kind {
        UpdateKind::Dbt(f) => {
            bi.update(f.id, config::<types::DbtDataSourceConfig>(&f.config)?)
                .await
        }
        UpdateKind::Hightouch(f) => {
            bi.update(f.id, config::<types::HighTouchDataSourceConfig>(&f.config)?)
                .await
        }
        UpdateKind::Looker(f) => {
            bi.update(f.id, config::<types::LookerDataSourceConfig>(&f.config)?)
                .await
        }
        UpdateKind::Mode(f) => {
            bi.update(f.id, config::<types::ModeDataSourceConfig>(&f.config)?)
                .await
        }
        UpdateKind::Powerbi(f) => {
            bi.update(f.id, config::<types::PowerBiDataSourceConfig>(&f.config)?)
                .await
        }
        UpdateKind::Tableau(f) => {
            bi.update(f.id, config::<types::TableauDataSourceConfig>(&f.config)?)
                .await
        }
    };
    Ok(updated?)
}

fn schema(kind: Kind) -> schemars::schema::RootSchema {
    match kind {
        Kind::Dbt => schemars::schema_for!(types::DbtDataSourceConfig),
        Kind::Hightouch => schemars::schema_for!(types::HighTouchDataSourceConfig),
        Kind::Looker => schemars::schema_for!(types::LookerDataSourceConfig),
        Kind::Mode => schemars::schema_for!(types::ModeDataSourceConfig),
        Kind::Powerbi => schemars::schema_for!(types::PowerBiDataSourceConfig),
        Kind::Tableau => schemars::schema_for!(types::TableauDataSourceConfig),
    }
}
