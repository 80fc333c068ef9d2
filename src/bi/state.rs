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
//!   "version": 2,
//!   "host": "https://app.datafold.com",
//!   "file": "integrations.yaml",
//!   "salt": "9f0c…",
//!   "secrets": {"17": {"client_secret": "3b1d…"}},
//!   "managed": {"17": "looker \"Looker (prod)\""}
//! }
//! ```
//!
//! Each digest is SHA-256 of the salt, the integration's id, the field's
//! name and the value, each length-prefixed; the salt is drawn once, when
//! the file is created. A file belongs to one API host and one desired-state
//! file: one whose `host` or `file` differs is refused, so a state made for
//! staging never vouches for production. The hashes still allow guessing a
//! weak secret offline: keep the file where the secrets themselves could
//! be kept (not in a public repository).
//!
//! `managed` lists the integrations an apply of the file has created,
//! updated or found in step: one that is later missing from the file is a
//! pending delete (exit 10, deleted by the next apply without `prune`),
//! while an integration never managed stays "unmanaged".
//!
//! It is written through [`crate::safe_file`] (atomically, never through a
//! link).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use crate::sha256::Sha256;
use serde::{Deserialize, Serialize};

use super::as_code_error::AsCodeError;
use crate::Secret;

/// The `format` field of every state file.
pub const STATE_FORMAT: &str = "datafold-bi-secret-state";

/// The `version` written: 2 added the managed ids (version 1 is read).
const STATE_VERSION: u32 = 2;

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
    /// The integrations an apply of the file created, updated, replaced or
    /// found unchanged, by id (version 2): one of them missing from the
    /// file later is a pending delete.
    #[serde(default)]
    managed: BTreeMap<String, String>,
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
                version: STATE_VERSION,
                host,
                file: file.to_owned(),
                salt: fresh_salt(),
                secrets: BTreeMap::new(),
                managed: BTreeMap::new(),
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
        if state.format != STATE_FORMAT
            || !(1..=STATE_VERSION).contains(&state.version)
            || state.salt.len() < 32
        {
            return Err(AsCodeError::State(format!(
                "{shown} is not a version 1 or {STATE_VERSION} {STATE_FORMAT} file; give --state a new path"
            )));
        }
        let mut state = state;
        // A version 1 file tracked no managed ids; it is written as version 2.
        state.version = STATE_VERSION;
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

    /// Forget integration `id` (it was deleted): its secrets, and that the
    /// file manages it.
    pub fn forget(&mut self, id: i64) {
        self.file.secrets.remove(&id.to_string());
        self.file.managed.remove(&id.to_string());
    }

    /// Remember that the file manages integration `id` (`label` is for
    /// people reading the state).
    pub fn manage(&mut self, id: i64, label: &str) {
        self.file.managed.insert(id.to_string(), label.to_owned());
    }

    /// Whether an apply of the file has managed integration `id`: missing
    /// from the file, it is deleted without `prune`.
    pub fn is_managed(&self, id: i64) -> bool {
        self.file.managed.contains_key(&id.to_string())
    }

    /// Whether anything was recorded for `field` of integration `id`.
    pub fn has_record(&self, id: i64, field: &str) -> bool {
        self.file
            .secrets
            .get(&id.to_string())
            .is_some_and(|fields| fields.contains_key(field))
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
            hasher.update(&(part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize_hex()
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
        hasher.update(&random.finish().to_be_bytes());
    }
    hasher.finalize_hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("datafold-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("bi.state.json")
    }

    #[test]
    fn a_version_1_state_is_read_and_saved_as_version_2_with_managed_ids() {
        let path = scratch("v1");
        let salt = "ab".repeat(32);
        let v1 = format!(
            r#"{{"format":"{STATE_FORMAT}","version":1,"host":"https://h","file":"bi.yaml","salt":"{salt}","secrets":{{"3":{{"token":"00"}}}}}}"#
        );
        std::fs::write(&path, v1).unwrap();
        let mut state = SecretState::open(&path, "https://h/", "bi.yaml").unwrap();
        assert!(state.has_record(3, "token"));
        assert!(!state.is_managed(3), "version 1 tracked no managed ids");
        state.manage(3, "mode \"Mode\"");
        state.save().unwrap();
        let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(saved["version"], 2);
        assert_eq!(saved["managed"]["3"], "mode \"Mode\"");
        let mut reopened = SecretState::open(&path, "https://h", "bi.yaml").unwrap();
        assert!(reopened.is_managed(3));
        reopened.forget(3);
        assert!(!reopened.is_managed(3) && !reopened.has_record(3, "token"));
    }

    #[test]
    fn a_future_version_is_refused() {
        let path = scratch("v3");
        let salt = "ab".repeat(32);
        let v3 = format!(
            r#"{{"format":"{STATE_FORMAT}","version":3,"host":"https://h","file":"bi.yaml","salt":"{salt}","secrets":{{}}}}"#
        );
        std::fs::write(&path, v3).unwrap();
        let error = SecretState::open(&path, "https://h", "bi.yaml").unwrap_err();
        assert!(error.to_string().contains("version 1 or 2"), "{error}");
    }
}
