//! The flags of `bi create|update <kind>`: one per documented field, secrets
//! only from an environment variable, a file or stdin (never a plain flag
//! value, which would end up in shell history), or all of it from
//! `--from-file` (read within limits: see [`crate::config_file`]).

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::config_file::{read_text, TextError};
use crate::{CliResult, Failure};

/// Flags every kind has.
#[derive(Args, Debug)]
pub struct Common {
    /// Display name
    #[arg(long)]
    name: Option<String>,
    /// Indexing schedule (cron syntax)
    #[arg(long, value_name = "CRON")]
    indexing_cron: Option<String>,
    /// Read the configuration from a YAML or JSON file (at most 1 MiB, 64 levels deep); flags override it
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
}

/// `--<name>-env VAR`, `--<name>-file PATH`, `--<name>-stdin`.
macro_rules! secret_args {
    ($struct:ident, $field:literal, $env:ident, $file:ident, $stdin:ident) => {
        #[derive(Args, Debug)]
        pub struct $struct {
            #[arg(long, value_name = "VAR", group = $field, help = concat!("Read ", $field, " from this environment variable"))]
            $env: Option<String>,
            #[arg(long, value_name = "PATH", group = $field, help = concat!("Read ", $field, " from this file"))]
            $file: Option<PathBuf>,
            #[arg(long, group = $field, help = concat!("Read ", $field, " from stdin"))]
            $stdin: bool,
        }

        impl $struct {
            fn read(&self) -> CliResult<Option<String>> {
                read_secret($field, self.$env.as_deref(), self.$file.as_ref(), self.$stdin)
            }
        }
    };
}

secret_args!(TokenSecret, "token", token_env, token_file, token_stdin);
secret_args!(
    PasswordSecret,
    "password",
    password_env,
    password_file,
    password_stdin
);
secret_args!(
    ClientSecret,
    "client_secret",
    client_secret_env,
    client_secret_file,
    client_secret_stdin
);
secret_args!(
    TokenValueSecret,
    "token_value",
    token_value_env,
    token_value_file,
    token_value_stdin
);

/// The longest secret read from a file or stdin.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// The secret `field` from `--<flag>-env`, `-file` or `-stdin`. Messages
/// never repeat what was given: a secret pasted where a variable name or a
/// path belongs must not end up on the screen.
fn read_secret(
    field: &str,
    env: Option<&str>,
    file: Option<&PathBuf>,
    stdin: bool,
) -> CliResult<Option<String>> {
    let flag = field.replace('_', "-");
    let value = if let Some(var) = env {
        match std::env::var_os(var) {
            None => {
                return Err(Failure::input(format!(
                    "{field}: --{flag}-env names an environment variable that is not set \
                     (give the variable's name, not the secret)"
                )))
            }
            Some(value) => value.into_string().map_err(|_| {
                Failure::input(format!(
                    "{field}: the variable --{flag}-env names does not hold UTF-8 text"
                ))
            })?,
        }
    } else if let Some(path) = file {
        let what = format!("the file --{flag}-file names (give its path, not the secret)");
        read_capped(
            field,
            &what,
            std::fs::File::open(path)
                .map_err(|e| Failure::input(format!("{field}: cannot open {what}: {e}")))?,
        )?
    } else if stdin {
        read_capped(field, "stdin", std::io::stdin().lock())?
    } else {
        return Ok(None);
    };
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(Failure::input(format!("{field}: the secret is empty")));
    }
    Ok(Some(value))
}

/// At most [`MAX_SECRET_BYTES`] of text from `source`.
fn read_capped(field: &str, what: &str, source: impl Read) -> CliResult<String> {
    read_text(source, MAX_SECRET_BYTES).map_err(|e| match e {
        TextError::Read(e) => Failure::input(format!("{field}: cannot read {what}: {e}")),
        TextError::TooLong => Failure::input(format!(
            "{field}: {what} holds more than 64 KiB; it should hold only the secret"
        )),
        TextError::NotUtf8 => Failure::input(format!("{field}: {what} does not hold UTF-8 text")),
    })
}

#[derive(Args, Debug)]
pub struct Dbt {
    /// dbt CI configuration id
    #[arg(long, value_name = "ID")]
    ci_config_id: Option<i64>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct Hightouch {
    /// Binding as REMOTE_ID=ID,ID… (repeatable)
    #[arg(long, value_name = "BINDING", value_parser = parse_binding)]
    binding: Vec<Value>,
    /// Hightouch workspace
    #[arg(long)]
    workspace: Option<String>,
    #[command(flatten)]
    token: TokenSecret,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct Looker {
    /// Looker base URL
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Looker API client id
    #[arg(long)]
    client_id: Option<String>,
    /// Datafold repository id
    #[arg(long, value_name = "ID")]
    repo_id: Option<i64>,
    /// Looker project id (repeatable)
    #[arg(long = "project-id", value_name = "ID")]
    project_ids: Vec<String>,
    /// Binding as REMOTE_ID=ID,ID… (repeatable)
    #[arg(long, value_name = "BINDING", value_parser = parse_binding)]
    binding: Vec<Value>,
    #[command(flatten)]
    client_secret: ClientSecret,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct Mode {
    /// Mode workspace
    #[arg(long)]
    workspace: Option<String>,
    #[command(flatten)]
    token: TokenSecret,
    #[command(flatten)]
    password: PasswordSecret,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct PowerBi {
    /// How Datafold signs in
    #[arg(long, value_parser = ["delegated", "service_principal"])]
    auth_type: Option<String>,
    /// Azure application (client) id
    #[arg(long)]
    client_id: Option<String>,
    /// Azure tenant id
    #[arg(long)]
    tenant_id: Option<String>,
    #[command(flatten)]
    client_secret: ClientSecret,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct Tableau {
    /// Tableau server URL
    #[arg(long, value_name = "URL")]
    server_url: Option<String>,
    /// Tableau site id
    #[arg(long)]
    site_id: Option<String>,
    /// Personal access token name
    #[arg(long)]
    token_name: Option<String>,
    #[command(flatten)]
    token_value: TokenValueSecret,
    #[command(flatten)]
    common: Common,
}

/// `bi create <kind>`.
#[derive(Subcommand, Debug)]
pub enum CreateKind {
    /// dbt
    Dbt(Dbt),
    /// Hightouch
    Hightouch(Hightouch),
    /// Looker
    Looker(Looker),
    /// Mode Analytics
    Mode(Mode),
    /// Power BI
    Powerbi(PowerBi),
    /// Tableau
    Tableau(Tableau),
}

/// `bi update <kind> <ID>`.
#[derive(Subcommand, Debug)]
pub enum UpdateKind {
    /// dbt
    Dbt(WithId<Dbt>),
    /// Hightouch
    Hightouch(WithId<Hightouch>),
    /// Looker
    Looker(WithId<Looker>),
    /// Mode Analytics
    Mode(WithId<Mode>),
    /// Power BI
    Powerbi(WithId<PowerBi>),
    /// Tableau
    Tableau(WithId<Tableau>),
}

/// A kind's flags after the integration's id.
#[derive(Args, Debug)]
pub struct WithId<T: Args> {
    /// The integration's id
    pub id: i64,
    #[command(flatten)]
    pub config: T,
}

/// The request body a kind's flags describe.
pub trait KindFlags {
    /// The body as JSON: `--from-file`, then the flags on top.
    fn body(&self) -> CliResult<Value>;
}

fn base(common: &Common) -> CliResult<Map<String, Value>> {
    let mut body = match &common.from_file {
        Some(path) => crate::config_file::read(path)?,
        None => Map::new(),
    };
    set(&mut body, "name", common.name.clone().map(Value::from));
    set(
        &mut body,
        "indexing_cron",
        common.indexing_cron.clone().map(Value::from),
    );
    Ok(body)
}

fn set(body: &mut Map<String, Value>, field: &str, value: Option<Value>) {
    if let Some(value) = value {
        body.insert(field.to_owned(), value);
    }
}

fn list(values: &[impl Clone + Into<Value>]) -> Option<Value> {
    (!values.is_empty()).then(|| Value::Array(values.iter().cloned().map(Into::into).collect()))
}

impl KindFlags for Dbt {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(
            &mut body,
            "ci_config_id",
            self.ci_config_id.map(Value::from),
        );
        Ok(Value::Object(body))
    }
}

impl KindFlags for Hightouch {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(&mut body, "bindings", list(&self.binding));
        // `bindings` is required; no --binding means none.
        body.entry("bindings").or_insert_with(|| json!([]));
        set(
            &mut body,
            "workspace",
            self.workspace.clone().map(Value::from),
        );
        set(&mut body, "token", self.token.read()?.map(Value::from));
        Ok(Value::Object(body))
    }
}

impl KindFlags for Looker {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(
            &mut body,
            "base_url",
            self.base_url.clone().map(Value::from),
        );
        set(
            &mut body,
            "client_id",
            self.client_id.clone().map(Value::from),
        );
        set(&mut body, "repo_id", self.repo_id.map(Value::from));
        set(&mut body, "project_ids", list(&self.project_ids));
        set(&mut body, "bindings", list(&self.binding));
        set(
            &mut body,
            "client_secret",
            self.client_secret.read()?.map(Value::from),
        );
        Ok(Value::Object(body))
    }
}

impl KindFlags for Mode {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(
            &mut body,
            "workspace",
            self.workspace.clone().map(Value::from),
        );
        set(&mut body, "token", self.token.read()?.map(Value::from));
        set(
            &mut body,
            "password",
            self.password.read()?.map(Value::from),
        );
        Ok(Value::Object(body))
    }
}

impl KindFlags for PowerBi {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(
            &mut body,
            "auth_type",
            self.auth_type.clone().map(Value::from),
        );
        set(
            &mut body,
            "client_id",
            self.client_id.clone().map(Value::from),
        );
        set(
            &mut body,
            "tenant_id",
            self.tenant_id.clone().map(Value::from),
        );
        set(
            &mut body,
            "client_secret",
            self.client_secret.read()?.map(Value::from),
        );
        Ok(Value::Object(body))
    }
}

impl KindFlags for Tableau {
    fn body(&self) -> CliResult<Value> {
        let mut body = base(&self.common)?;
        set(
            &mut body,
            "server_url",
            self.server_url.clone().map(Value::from),
        );
        set(&mut body, "site_id", self.site_id.clone().map(Value::from));
        set(
            &mut body,
            "token_name",
            self.token_name.clone().map(Value::from),
        );
        set(
            &mut body,
            "token_value",
            self.token_value.read()?.map(Value::from),
        );
        Ok(Value::Object(body))
    }
}

/// `REMOTE_ID=1,2,3` → `{"remoteId": "REMOTE_ID", "boundIds": [1, 2, 3]}`.
fn parse_binding(text: &str) -> Result<Value, String> {
    let (remote, ids) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write a binding as REMOTE_ID=ID,ID…"))?;
    let ids = ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|id| {
            id.trim()
                .parse::<i64>()
                .map_err(|_| format!("{text:?}: {id:?} is not an integer id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"remoteId": remote, "boundIds": ids}))
}
