//! `datafold`: Datafold's audit logs and BI integrations from the terminal.
//!
//! Built on the public SDK only. Machine output goes to stdout, progress and
//! errors to stderr; see `datafold --help` for the exit codes.

mod audit;
mod bi;
mod bi_code;
mod bi_fields;
mod bi_flags;
mod cli_error;
mod config_file;
mod follow;
mod follow_handoff;
mod follow_hooks;
mod follow_metrics;
mod follow_output;
mod log;
mod mock;
mod output;
mod secret_input;
mod time;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use datafold_sdk::{Client, ClientBuilder, RetryPolicy, Secret};

pub use cli_error::{CliError, CliResult, Invocation, EXIT_CODES};

/// Datafold's audit logs and BI integrations from the terminal.
#[derive(Parser, Debug)]
#[command(name = "datafold", version, after_help = EXIT_CODES, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct Global {
    // Help text as an attribute: rustdoc would flag the bare URL in a doc comment.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "API base URL [default: $DATAFOLD_HOST or https://app.datafold.com]"
    )]
    host: Option<String>,
    /// Environment variable holding the API key
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = "DATAFOLD_API_KEY"
    )]
    api_key_env: String,
    /// Give up after this long without progress, e.g. 30s or 2m [default: 60s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = time::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Retries of failed idempotent calls [default: 2]
    #[arg(long, global = true, value_name = "N")]
    retries: Option<u32>,
    /// More log lines on stderr (-v: polls, requests, retries; -vv: more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log lines as `TIME LEVEL message key=value` text or JSON objects
    #[arg(long, global = true, value_name = "HOW", value_enum, default_value_t = log::LogFormat::Text)]
    log_format: log::LogFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read and export the organization's audit logs
    #[command(subcommand)]
    AuditLogs(audit::AuditCommand),
    /// Manage BI integrations
    #[command(subcommand)]
    Bi(bi::BiCommand),
    /// Run the embedded mock Datafold server
    #[command(subcommand)]
    Mock(mock::MockCommand),
    /// Print shell completions
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.global.verbose, cli.global.quiet, cli.global.log_format);
    let invocation = cli.global.invocation();
    let log_format = cli.global.log_format;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let failure = CliError::other(format!("cannot start the async runtime: {e}"));
            return fail(&failure, &invocation, log_format);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure, &invocation, log_format),
    }
}

/// Say why on stderr (secrets masked, control characters escaped) and exit.
fn fail(failure: &CliError, invocation: &Invocation, log_format: log::LogFormat) -> ExitCode {
    let (code, message) = failure.render(invocation);
    // An exit code that reports a result (`bi plan`'s changes pending).
    if !message.is_empty() {
        if log::uses_lines() {
            log::final_error(log_format, &message);
        } else {
            output::note(&format!("error: {message}"));
        }
    }
    ExitCode::from(code)
}

async fn run(cli: Cli) -> CliResult {
    let global = cli.global;
    match cli.command {
        Command::AuditLogs(command) => audit::run(command, &global).await,
        Command::Bi(command) => bi::run(command, &global).await,
        Command::Mock(command) => mock::run(command, &global),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "datafold", &mut script);
            output::stdout(&String::from_utf8_lossy(&script))
        }
    }
}

impl Global {
    /// The API key and the variable it came from (or should have): the
    /// variable `--api-key-env` names; for the default name, the older
    /// `DATAFOLD_APIKEY` when that one is unset, as in Datafold's own tooling.
    fn api_key(&self) -> (String, Option<String>) {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(key) = read(&self.api_key_env) {
            return (self.api_key_env.clone(), Some(key));
        }
        let fallback = datafold_sdk::API_KEY_FALLBACK_VAR;
        if self.api_key_env == datafold_sdk::API_KEY_VAR {
            if let Some(key) = read(fallback) {
                return (fallback.to_owned(), Some(key));
            }
        }
        (self.api_key_env.clone(), None)
    }

    /// What error messages need to know about this run.
    fn invocation(&self) -> Invocation {
        let (key_var, _) = self.api_key();
        let host = self
            .host
            .clone()
            .or_else(|| std::env::var(datafold_sdk::HOST_VAR).ok())
            .unwrap_or_else(|| datafold_sdk::DEFAULT_HOST.to_owned());
        Invocation {
            key_var_is_default: self.api_key_env == datafold_sdk::API_KEY_VAR,
            key_var,
            timeout: self.timeout,
            host,
        }
    }

    /// A client from the environment and these options. The API key is
    /// masked in everything the CLI prints from here on.
    fn client(&self) -> CliResult<Client> {
        let mut builder = ClientBuilder::from_env_lookup(|name| {
            (name == datafold_sdk::HOST_VAR)
                .then(|| std::env::var(name).ok())
                .flatten()
        });
        if let (_, Some(key)) = self.api_key() {
            let key = Secret::new(key);
            output::hide(&key);
            builder = builder.api_key(key);
        }
        if let Some(host) = &self.host {
            builder = builder.host(host);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(retries) = self.retries {
            builder = builder.retry_policy(RetryPolicy::default().max_retries(retries));
        }
        Ok(builder.build()?)
    }
}
