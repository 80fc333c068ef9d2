//! [`Checkpoint`]: how far an export got, saved atomically so an interrupted
//! export resumes without losing or repeating a record.

use std::fs;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state of an export after its last completed window.
///
/// Saved with [`Checkpoint::save`] (write to a temporary file, sync, rename:
/// a crash leaves either the old or the new checkpoint, never half of one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of this file.
    pub version: u32,
    /// The export's range start.
    pub start: DateTime<Utc>,
    /// The export's range end.
    pub end: DateTime<Utc>,
    /// Window length in seconds.
    pub window_secs: u64,
    /// Overlap in seconds.
    pub overlap_secs: u64,
    /// Windows completed, counted from the first.
    pub windows_done: usize,
    /// Records emitted by the completed windows.
    pub records_done: u64,
    /// Bytes the writer had written when the last window completed (for
    /// truncating a partly written output on resume), if a writer kept count.
    pub output_bytes: Option<u64>,
    /// The format of that output, if a writer recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<super::ExportFormat>,
    /// `event_uuid`s of emitted records whose timestamp could not be parsed;
    /// such records cannot be placed in a window, so they are remembered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unplaced_uuids: Vec<String>,
}

pub(crate) const VERSION: u32 = 1;

impl Checkpoint {
    /// Read a checkpoint; `Ok(None)` when the file does not exist.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the file exists but cannot be read or
    /// is not a checkpoint.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(config(format!(
                    "cannot read checkpoint {}: {e}",
                    path.display()
                )))
            }
        };
        let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            config(format!(
                "{} is not an export checkpoint ({e}); delete it to start over",
                path.display()
            ))
        })?;
        if checkpoint.version != VERSION {
            return Err(config(format!(
                "checkpoint {} has format version {}, this SDK writes {VERSION}; delete it to start over",
                path.display(),
                checkpoint.version
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Write the checkpoint atomically.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the path when it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| config(format!("cannot write checkpoint {}: {e}", path.display())))
    }
}

fn config(message: String) -> Error {
    Error::InvalidConfig { message }
}
