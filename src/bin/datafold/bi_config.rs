//! The flags of `bi create|update <kind>`: one per documented field, secrets
//! only from an environment variable, a file or stdin (never a plain flag
//! value, which would end up in shell history), or all of it from
//! `--from-file`.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

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
    /// Read the configuration from a YAML or JSON file; flags override it
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

fn read_secret(
    field: &str,
    env: Option<&str>,
    file: Option<&PathBuf>,
    stdin: bool,
) -> CliResult<Option<String>> {
    let value = if let Some(var) = env {
        std::env::var(var).map_err(|_| {
            Failure::input(format!("{field}: environment variable {var} is not set"))
        })?
    } else if let Some(path) = file {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("{field}: cannot read {}: {e}", path.display())))?
    } else if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::input(format!("{field}: cannot read stdin: {e}")))?;
        text
    } else {
        return Ok(None);
    };
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(Failure::input(format!("{field}: the secret is empty")));
    }
    Ok(Some(value))
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
        Some(path) => read_config_file(path)?,
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

fn read_config_file(path: &PathBuf) -> CliResult<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: Value = if is_json {
        serde_json::from_str(&text)
            .map_err(|e| Failure::input(format!("{}: not valid JSON: {e}", path.display())))?
    } else {
        serde_yaml_ng::from_str(&text)
            .map_err(|e| Failure::input(format!("{}: not valid YAML: {e}", path.display())))?
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Failure::input(format!(
            "{}: the configuration must be a mapping of fields",
            path.display()
        ))),
    }
}
