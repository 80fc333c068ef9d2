//! [`SecretRef`]: how a desired-state file names a secret without holding
//! it, `${env:VAR}` or `${file:PATH}`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::as_code_error::AsCodeError;
use crate::Secret;

/// The largest file a `${file:PATH}` reference reads.
const MAX_SECRET_FILE_BYTES: u64 = 64 << 10;

/// Where a secret's value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `${env:VAR}`: the environment variable `VAR`.
    Env(String),
    /// `${file:PATH}`: the file's content, without its final line break.
    File(PathBuf),
}

impl SecretRef {
    /// `${env:VAR}` or `${file:PATH}`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
        if let Some(var) = inner.strip_prefix("env:") {
            let valid =
                !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return valid.then(|| SecretRef::Env(var.to_owned()));
        }
        let path = inner.strip_prefix("file:")?;
        (!path.is_empty()).then(|| SecretRef::File(PathBuf::from(path)))
    }

    /// The secret's value; a relative path is taken from `base_dir`.
    ///
    /// # Errors
    /// [`AsCodeError::Secret`] naming the variable or file (never a value).
    pub fn resolve(&self, base_dir: Option<&Path>) -> Result<Secret, AsCodeError> {
        match self {
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                _ => Err(AsCodeError::Secret(format!(
                    "the environment variable {var} is not set (or is empty); set it to the secret"
                ))),
            },
            SecretRef::File(path) => {
                let path = match base_dir {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.clone(),
                };
                let bytes = crate::safe_file::read_capped(&path, MAX_SECRET_FILE_BYTES)
                    .map_err(|e| AsCodeError::Secret(e.to_string()))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    AsCodeError::Secret(format!("{} is not UTF-8 text", path.display()))
                })?;
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(AsCodeError::Secret(format!("{} is empty", path.display())));
                }
                Ok(Secret::new(value))
            }
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "${{env:{var}}}"),
            SecretRef::File(path) => write!(f, "${{file:{}}}", path.display()),
        }
    }
}
