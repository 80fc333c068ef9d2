//! Secret fields (`format: password` in the spec) on the command line: only
//! from an environment variable, a file or stdin — never as a flag's value,
//! which would end up in shell history and process listings.

use std::io::Read;
use std::path::PathBuf;

use datafold_sdk::Secret;

use crate::config_file::{read_text, TextError};
use crate::{output, CliError, CliResult};

/// The longest secret read from a file or stdin.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Where a secret field's value comes from: `--<flag>-env VAR`,
/// `--<flag>-file PATH` or `--<flag>-stdin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable of this name.
    Env(String),
    /// The file at this path.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// The secret `field` (set with `--<flag>-…`) from `source`, masked in
/// all output from here on. Messages never repeat what was given: a secret
/// pasted where a variable name or a path belongs must not end up on the
/// screen.
pub fn read(field: &str, flag: &str, source: &SecretSource) -> CliResult<String> {
    let value = match source {
        SecretSource::Env(var) => match std::env::var_os(var) {
            None => {
                return Err(CliError::input(format!(
                    "{field}: --{flag}-env names an environment variable that is not set \
                     (give the variable's name, not the secret)"
                )))
            }
            Some(value) => value.into_string().map_err(|_| {
                CliError::input(format!(
                    "{field}: the variable --{flag}-env names does not hold UTF-8 text"
                ))
            })?,
        },
        SecretSource::File(path) => {
            let what = format!("the file --{flag}-file names (give its path, not the secret)");
            let file = std::fs::File::open(path)
                .map_err(|e| CliError::input(format!("{field}: cannot open {what}: {e}")))?;
            read_capped(field, &what, file)?
        }
        SecretSource::Stdin => read_capped(field, "stdin", std::io::stdin().lock())?,
    };
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(CliError::input(format!("{field}: the secret is empty")));
    }
    output::hide(&Secret::new(value.clone()));
    Ok(value)
}

/// At most [`MAX_SECRET_BYTES`] of text from `source`.
fn read_capped(field: &str, what: &str, source: impl Read) -> CliResult<String> {
    read_text(source, MAX_SECRET_BYTES).map_err(|e| match e {
        TextError::Read(e) => CliError::input(format!("{field}: cannot read {what}: {e}")),
        TextError::TooLong => CliError::input(format!(
            "{field}: {what} holds more than 64 KiB; it should hold only the secret"
        )),
        TextError::NotUtf8 => CliError::input(format!("{field}: {what} does not hold UTF-8 text")),
    })
}
