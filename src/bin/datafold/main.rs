//! `datafold`: Datafold's audit logs and BI integrations from the terminal.
//!
//! Built on the public SDK only. Machine output goes to stdout, progress and
//! errors to stderr; see `datafold --help` for the exit codes.

mod audit;
mod bi;
mod bi_config;
mod log;
mod mock;
mod output;
mod time;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use datafold_sdk::{Client, ClientBuilder, Error, RetryPolicy};

const EXIT_CODES: &str = "\
Exit codes:
  0  success            4  not found (404)
  1  other failure      5  rejected input (400, 422, bad flags or config)
  2  usage error        6  API failure (429, 5xx, unexpected answer)
  3  auth (no key, 401, 403)   7  network (cannot connect, timeout)";

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
    /// Request timeout, e.g. 30s or 2m [default: 60s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = time::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Retries of failed idempotent calls [default: 2]
    #[arg(long, global = true, value_name = "N")]
    retries: Option<u32>,
    /// Log to stderr (-v: requests and retries, -vv: more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    quiet: bool,
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

/// Why the CLI failed, as an exit code and one or two lines for a person.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Rejected input: bad flags or configuration (exit 5).
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            code: 5,
            message: message.into(),
        }
    }

    /// Anything else that went wrong locally (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Wrong use of the command line (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::MissingApiKey | Error::Unauthorized(_) | Error::Forbidden(_) => 3,
            Error::NotFound(_) => 4,
            Error::BadRequest(_)
            | Error::Validation { .. }
            | Error::InvalidRequest { .. }
            | Error::InvalidConfig { .. }
            | Error::InsecureHost { .. } => 5,
            Error::Connection { .. } | Error::Timeout { .. } => 7,
            Error::Output { .. } => 1,
            _ => 6,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(Failure::other(format!(
                "cannot start the async runtime: {e}"
            )))
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(failure),
    }
}

fn fail(failure: Failure) -> ExitCode {
    eprintln!("error: {}", failure.message);
    ExitCode::from(failure.code)
}

async fn run(cli: Cli) -> CliResult {
    let global = cli.global;
    match cli.command {
        Command::AuditLogs(command) => audit::run(command, &global).await,
        Command::Bi(command) => bi::run(command, &global).await,
        Command::Mock(command) => mock::run(command, &global),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "datafold", &mut std::io::stdout());
            Ok(())
        }
    }
}

impl Global {
    /// A client from the environment and these options.
    fn client(&self) -> CliResult<Client> {
        let key_var = self.api_key_env.clone();
        let mut builder = ClientBuilder::from_env_lookup(|name| {
            // The key comes from --api-key-env; the fallback name applies only
            // to the default variable, as in Datafold's own tooling.
            let var = match name {
                datafold_sdk::API_KEY_VAR => key_var.as_str(),
                datafold_sdk::API_KEY_FALLBACK_VAR if key_var != datafold_sdk::API_KEY_VAR => {
                    return None
                }
                other => other,
            };
            std::env::var(var).ok()
        });
        if let Some(host) = &self.host {
            builder = builder.host(host);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(retries) = self.retries {
            builder = builder.retry_policy(RetryPolicy::default().max_retries(retries));
        }
        builder.build().map_err(|error| match error {
            Error::MissingApiKey => Failure {
                code: 3,
                message: format!(
                    "no API key: set {} to a Datafold API key (Settings > Account in Datafold)",
                    self.api_key_env
                ),
            },
            other => other.into(),
        })
    }
}
