//! [`SecretState`]: an optional local file of salted hashes of the secrets
//! an apply sent, so that a later plan can tell a rotated secret from an
//! unchanged one without storing any secret. Datafold never returns
//! secrets, so without it a plan cannot see a rotation at all.
//!
//! The file is JSON:
//!
//! ```json
//! {
//!   "format": "datafold-bi-secret-state",
//!   "version": 1,
//!   "host": "https://app.datafold.com",
//!   "file": "integrations.yaml",
//!   "salt": "9f0c…",
//!   "secrets": {"17": {"client_secret": "3b1d…"}}
//! }
//! ```
//!
//! Each digest is SHA-256 of the salt, the integration's id, the field's
//! name and the value, each length-prefixed; the salt is drawn once, when
//! the file is created. A file belongs to one API host and one desired-state
//! file: one whose `host` or `file` differs is refused, so a state made for
//! staging never vouches for production. The hashes still allow guessing a
//! weak secret offline: keep the file where the secrets themselves could
//! be kept (not in a public repository). It is written through
//! [`crate::safe_file`] (atomically, never through a link).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::as_code_error::AsCodeError;
use crate::Secret;

/// The `format` field of every state file.
pub const STATE_FORMAT: &str = "datafold-bi-secret-state";

/// The largest state file read.
const MAX_STATE_BYTES: u64 = 4 << 20;

/// Salted hashes of the secrets last sent, per integration id and field.
#[derive(Debug, Clone)]
pub struct SecretState {
    path: PathBuf,
    file: StateFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    version: u32,
    host: String,
    file: String,
    salt: String,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
}

impl SecretState {
    /// Open the state at `path` for the API `host` and the desired-state
    /// file named `file`, or start an empty one if `path` does not exist
    /// (nothing is written until [`SecretState::save`]).
    ///
    /// # Errors
    /// [`AsCodeError::State`] when the file cannot be read, is not a state
    /// file, or belongs to another host or file.
    pub fn open(path: &Path, host: &str, file: &str) -> Result<Self, AsCodeError> {
        let shown = path.display();
        let host = host.trim_end_matches('/').to_owned();
        if !path.exists() && path.symlink_metadata().is_err() {
            let file = StateFile {
                format: STATE_FORMAT.to_owned(),
                version: 1,
                host,
                file: file.to_owned(),
                salt: fresh_salt(),
                secrets: BTreeMap::new(),
            };
            return Ok(Self {
                path: path.to_path_buf(),
                file,
            });
        }
        let bytes = crate::safe_file::read_capped(path, MAX_STATE_BYTES)
            .map_err(|e| AsCodeError::State(format!("cannot read the state file: {e}")))?;
        let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
            AsCodeError::State(format!(
                "{shown} is not a secret state file ({e}); give --state a new path or remove it"
            ))
        })?;
        if state.format != STATE_FORMAT || state.version != 1 || state.salt.len() < 32 {
            return Err(AsCodeError::State(format!(
                "{shown} is not a version 1 {STATE_FORMAT} file; give --state a new path"
            )));
        }
        if state.host != host {
            return Err(AsCodeError::State(format!(
                "{shown} belongs to host {}, not {host}; use one state file per host and file",
                state.host
            )));
        }
        if state.file != file {
            return Err(AsCodeError::State(format!(
                "{shown} belongs to the file {}, not {file}; use one state file per host and file",
                state.file
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: state,
        })
    }

    /// Whether `secret` is what was last sent as `field` of integration
    /// `id`; `None` when nothing was recorded.
    pub fn matches(&self, id: i64, field: &str, secret: &Secret) -> Option<bool> {
        let recorded = self.file.secrets.get(&id.to_string())?.get(field)?;
        Some(*recorded == self.digest(id, field, secret))
    }

    /// Remember that `secret` was sent as `field` of integration `id`.
    pub fn record(&mut self, id: i64, field: &str, secret: &Secret) {
        let digest = self.digest(id, field, secret);
        self.file
            .secrets
            .entry(id.to_string())
            .or_default()
            .insert(field.to_owned(), digest);
    }

    /// Forget integration `id` (it was deleted).
    pub fn forget(&mut self, id: i64) {
        self.file.secrets.remove(&id.to_string());
    }

    /// Write the state to its file, atomically.
    ///
    /// # Errors
    /// [`AsCodeError::State`] when it cannot be written.
    pub fn save(&self) -> Result<(), AsCodeError> {
        let mut text = serde_json::to_vec_pretty(&self.file)
            .map_err(|e| AsCodeError::State(format!("cannot encode the state: {e}")))?;
        text.push(b'\n');
        crate::safe_file::write_atomically(&self.path, &text)
            .map_err(|e| AsCodeError::State(format!("cannot write the state file: {e}")))
    }

    fn digest(&self, id: i64, field: &str, secret: &Secret) -> String {
        let mut hasher = Sha256::new();
        let id = id.to_string();
        for part in [
            self.file.salt.as_bytes(),
            id.as_bytes(),
            field.as_bytes(),
            secret.expose().as_bytes(),
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        format!("{:x}", hasher.finalize())
    }
}

/// 32 bytes, hex-encoded, from the standard library's per-process random
/// hasher keys, the clock and the process id, stirred through SHA-256. The
/// salt only needs to differ between state files, not to stay secret.
fn fresh_salt() -> String {
    let mut hasher = Sha256::new();
    for _ in 0..4 {
        let mut random = std::collections::hash_map::RandomState::new().build_hasher();
        random.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        random.write_u32(std::process::id());
        hasher.update(random.finish().to_be_bytes());
    }
    format!("{:x}", hasher.finalize())
}
