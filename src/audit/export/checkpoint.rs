//! [`Checkpoint`]: how far an export got, and [`FileCheckpoint`]: that plus
//! the output file it vouches for. Both are bound to their export: a resume
//! whose export or output does not match is refused, naming the field.
//!
//! A saved checkpoint is sealed: it carries a `seal`, the SHA-256 of all its
//! other fields, and one whose seal does not match is refused on load. Its
//! position (`windows_done`, `records_done`, `unplaced_uuids`) says which
//! records a resume writes again and which it skips; nothing else could tell
//! a lowered `windows_done` (records written twice) or a raised one (records
//! never written) from the real one. The seal catches edits and damage; it is
//! not a signature, and whoever can rewrite the checkpoint can rewrite the
//! output it vouches for too.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ExportFormat;
use crate::error::{CheckpointRefusal, Error, Result};
use crate::safe_file;

/// The checkpoint format this SDK reads and writes. Version 1 had no host,
/// no output digest and optional output fields; version 2 had no seal;
/// version 3 counted fixed windows and had no `done_until` (windows are
/// sized by density since); version 4 did not record the output's
/// compression. All are refused.
pub(crate) const VERSION: u32 = 5;

/// The field holding the seal (as [`Sealed`] writes it).
const SEAL: &str = "seal";

/// The largest checkpoint file read (its `unplaced_uuids` are the only part
/// that grows).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The state of an export after its last completed window, and the identity
/// of that export: a checkpoint is only good for the same host, range,
/// longest window and overlap ([`AuditExport::resume_from`](super::AuditExport::resume_from)
/// checks each).
///
/// Every field is required when a checkpoint is read: none has a default
/// that an edit could bring into play. [`Checkpoint::save`] seals the file
/// (a `seal` field, the SHA-256 of all the others) and [`Checkpoint::load`]
/// refuses one whose seal does not match; a checkpoint handed over in memory
/// ([`AuditExport::resume_from`](super::AuditExport::resume_from)) is taken
/// as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of this checkpoint (5).
    pub version: u32,
    /// The API host the export read from ([`Client::host`](crate::Client::host)).
    pub host: String,
    /// The export's range start.
    pub start: DateTime<Utc>,
    /// The export's range end.
    pub end: DateTime<Utc>,
    /// The longest window, in seconds ([`AuditExport::window`](super::AuditExport::window)).
    pub window_secs: u64,
    /// Overlap in seconds.
    pub overlap_secs: u64,
    /// Longest windows ([`AuditExport::plan`](super::AuditExport::plan))
    /// completed, counted from the first: those that end by `done_until`.
    pub windows_done: usize,
    /// Every record timestamped before this time has been emitted (and the
    /// one at the export's end, once it is reached); the export continues
    /// from here.
    pub done_until: DateTime<Utc>,
    /// Records emitted before `done_until`, by every run of the export: a
    /// resumed export counts on from its checkpoint's.
    pub records_done: u64,
    /// `event_uuid`s of emitted records whose timestamp could not be parsed;
    /// such records cannot be placed in a window, so they are remembered.
    pub unplaced_uuids: Vec<String>,
}

impl Checkpoint {
    /// Read a checkpoint saved by [`Checkpoint::save`]; `Ok(None)` when there
    /// is no file at `path`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] ([`CheckpointRefusal::Unreadable`]) when the file
    /// is not a checkpoint of this version, naming the missing or invalid
    /// field, or when it was edited or damaged (its seal does not match);
    /// [`Error::UnsafeFile`] when `path` is a symbolic link or not a regular
    /// file.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let Some(mut saved) = read_fields(path)? else {
            return Ok(None);
        };
        let checkpoint = Self::from_fields(&mut saved.fields, path)?;
        saved.check_seal(path)?;
        Ok(Some(checkpoint))
    }

    /// Write the checkpoint atomically (see [`safe_file::write_atomically`]),
    /// sealed: a crash leaves the old checkpoint or the new one, never half
    /// of one, and an edit makes it refused on load.
    ///
    /// # Errors
    /// [`Error::UnsafeFile`] when `path` is not safe to write;
    /// [`Error::Output`] naming the path when it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_json(self, path)
    }

    /// Check that this checkpoint, read from `source` (e.g. "the checkpoint
    /// x.checkpoint"), belongs to the export `expected` describes (its
    /// position fields aside), and fits its plan of `windows` windows, of
    /// which `windows_by` end by its `done_until`.
    pub(crate) fn check_belongs_to(
        &self,
        expected: &Checkpoint,
        windows: usize,
        windows_by: impl Fn(DateTime<Utc>) -> usize,
        source: &str,
    ) -> Result<()> {
        let differs = |field: &'static str, saved: String, wanted: String| {
            mismatch(
                field,
                format!(
                    "{source} is for another export: its {field} is {saved}, this export's is {wanted}"
                ),
            )
        };
        // The export's identity, field by field, as the message shows it.
        let identity = [
            ("host", self.host.clone(), expected.host.clone()),
            (
                "start",
                self.start.to_rfc3339(),
                expected.start.to_rfc3339(),
            ),
            ("end", self.end.to_rfc3339(), expected.end.to_rfc3339()),
            (
                "window_secs",
                self.window_secs.to_string(),
                expected.window_secs.to_string(),
            ),
            (
                "overlap_secs",
                self.overlap_secs.to_string(),
                expected.overlap_secs.to_string(),
            ),
        ];
        if let Some((field, saved, wanted)) = identity.into_iter().find(|(_, a, b)| a != b) {
            return Err(differs(field, saved, wanted));
        }
        if self.windows_done > windows {
            return Err(mismatch(
                "windows_done",
                format!(
                    "{source} does not fit this export: its windows_done is {}, but the export \
                     has only {windows} windows",
                    self.windows_done
                ),
            ));
        }
        if self.done_until < self.start || self.done_until > self.end {
            return Err(mismatch(
                "done_until",
                format!(
                    "{source} does not fit this export: its done_until {} lies outside the \
                     range",
                    self.done_until.to_rfc3339()
                ),
            ));
        }
        if self.windows_done != windows_by(self.done_until) {
            return Err(mismatch(
                "windows_done",
                format!(
                    "{source} does not add up: its windows_done is {}, but {} windows end by \
                     its done_until",
                    self.windows_done,
                    windows_by(self.done_until)
                ),
            ));
        }
        if self.done_until == self.start && self.records_done != 0 {
            return Err(mismatch(
                "records_done",
                format!(
                    "{source} does not add up: its records_done is {} with nothing done",
                    self.records_done
                ),
            ));
        }
        Ok(())
    }

    fn from_fields(fields: &mut Map<String, Value>, path: &Path) -> Result<Self> {
        Ok(Self {
            version: take(fields, "version", path)?,
            host: take(fields, "host", path)?,
            start: take(fields, "start", path)?,
            end: take(fields, "end", path)?,
            window_secs: take(fields, "window_secs", path)?,
            overlap_secs: take(fields, "overlap_secs", path)?,
            windows_done: take(fields, "windows_done", path)?,
            done_until: take(fields, "done_until", path)?,
            records_done: take(fields, "records_done", path)?,
            unplaced_uuids: take(fields, "unplaced_uuids", path)?,
        })
    }
}

/// The checkpoint [`AuditExport::write_to_file`](super::AuditExport::write_to_file)
/// keeps beside its partial output: where the export stood, and which output
/// that position belongs to.
///
/// It vouches for the first `output_bytes` bytes of the partial file, and
/// proves it with the SHA-256 of the last 64 KiB of them (all of them when
/// there are fewer) and with `records_done`, the records they hold: a resume
/// checks all three, and the seal ([`FileCheckpoint::load`]), before it cuts
/// the file back or writes a byte. For a compressed output these are bytes
/// of the compressed file, which ends a frame at each checkpoint: the bytes
/// vouched for are a complete stream, and its records are counted
/// decompressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// Where the export stood.
    #[serde(flatten)]
    pub export: Checkpoint,
    /// The format of the output.
    pub output_format: ExportFormat,
    /// The compression of the output: `none`, `gzip` or `zstd` (the names of
    /// `compress::Compression`, feature `compress`). An SDK built without
    /// that feature resumes only `none`.
    pub output_compression: String,
    /// Bytes of output the completed windows wrote, headers included.
    pub output_bytes: u64,
    /// Lowercase hex SHA-256 of the output's last 64 KiB before `output_bytes`
    /// (of the whole output when it is shorter).
    pub output_tail_sha256: String,
}

impl FileCheckpoint {
    /// Read a file checkpoint; `Ok(None)` when there is no file at `path`.
    ///
    /// # Errors
    /// As [`Checkpoint::load`].
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let Some(mut saved) = read_fields(path)? else {
            return Ok(None);
        };
        let fields = &mut saved.fields;
        let checkpoint = Self {
            export: Checkpoint::from_fields(fields, path)?,
            output_format: take(fields, "output_format", path)?,
            output_compression: take(fields, "output_compression", path)?,
            output_bytes: take(fields, "output_bytes", path)?,
            output_tail_sha256: take(fields, "output_tail_sha256", path)?,
        };
        saved.check_seal(path)?;
        Ok(Some(checkpoint))
    }

    /// Write the checkpoint atomically and sealed, as [`Checkpoint::save`].
    ///
    /// # Errors
    /// As [`Checkpoint::save`].
    pub fn save(&self, path: &Path) -> Result<()> {
        save_json(self, path)
    }
}

/// The lowercase hex SHA-256 of `data`.
pub(super) fn sha256_hex(data: &[u8]) -> String {
    crate::sha256::Sha256::hex(data)
}

/// The seal of a checkpoint's `fields`: the SHA-256 of every field but the
/// seal, as compact JSON with the fields in the order of their names (so
/// that neither the order in the file nor its layout matters, only values).
fn seal_of(fields: &Map<String, Value>) -> String {
    let sealed: BTreeMap<&str, &Value> = fields
        .iter()
        .filter(|(name, _)| *name != SEAL)
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    let mut data = b"datafold-sdk export checkpoint\n".to_vec();
    // Strings and numbers only (and one array of strings): cannot fail.
    data.extend(serde_json::to_vec(&sealed).unwrap_or_default());
    sha256_hex(&data)
}

fn save_json(checkpoint: &impl Serialize, path: &Path) -> Result<()> {
    let encode_error = |e: serde_json::Error| Error::Output {
        what: format!("encode the checkpoint {}", path.display()),
        error: e.into(),
    };
    let Value::Object(fields) = serde_json::to_value(checkpoint).map_err(encode_error)? else {
        return Err(encode_error(serde::ser::Error::custom(
            "a checkpoint is not a JSON object",
        )));
    };
    let sealed = Sealed {
        checkpoint,
        seal: seal_of(&fields),
    };
    let json = serde_json::to_vec_pretty(&sealed).map_err(encode_error)?;
    safe_file::write_atomically(path, &json)
}

/// A checkpoint as saved: its fields in their order, then the seal.
#[derive(Serialize)]
struct Sealed<'a, T: Serialize> {
    #[serde(flatten)]
    checkpoint: &'a T,
    seal: String,
}

/// A checkpoint as read: its fields, and the seal they call for.
struct SavedFields {
    fields: Map<String, Value>,
    seal: String,
}

impl SavedFields {
    /// Refuse the checkpoint unless its `seal` is the one its fields call for.
    /// Checked once every field has been read, so that a missing or invalid
    /// field is named rather than reported as an edit.
    fn check_seal(mut self, path: &Path) -> Result<()> {
        let saved: String = take(&mut self.fields, SEAL, path)?;
        if saved != self.seal {
            return Err(Error::Checkpoint {
                refusal: CheckpointRefusal::Unreadable,
                problem: format!(
                    "the checkpoint {} was edited or damaged: its {SEAL} does not match its \
                     other fields",
                    path.display()
                ),
            });
        }
        Ok(())
    }
}

/// The checkpoint's fields, its version checked first (so that an older
/// checkpoint says so rather than naming a field it lacks).
fn read_fields(path: &Path) -> Result<Option<SavedFields>> {
    if safe_file::check_target(path)?.is_none() {
        return Ok(None);
    }
    let bytes = safe_file::read_capped(path, MAX_FILE_BYTES)?;
    let Ok(Value::Object(fields)) = serde_json::from_slice(&bytes) else {
        return Err(unreadable(path, "it is not a JSON object".into()));
    };
    match fields.get("version").and_then(Value::as_u64) {
        Some(version) if version == u64::from(VERSION) => Ok(Some(SavedFields {
            seal: seal_of(&fields),
            fields,
        })),
        Some(version) => Err(unreadable(
            path,
            format!(
                "it has format version {version}, and this datafold-sdk reads version {VERSION} \
                 only (version {VERSION} records the output's compression and how far windows \
                 sized by density got, binds a checkpoint to its host and output, and seals it \
                 against edits); finish that export with the version of datafold-sdk that started \
                 it, or export again into a new file"
            ),
        )),
        None => Err(unreadable(path, "it has no format `version`".into())),
    }
}

/// Take the required field `name`, of type `T`.
fn take<T: DeserializeOwned>(
    fields: &mut Map<String, Value>,
    name: &str,
    path: &Path,
) -> Result<T> {
    let value = fields
        .remove(name)
        .ok_or_else(|| unreadable(path, format!("the field `{name}` is missing")))?;
    serde_json::from_value(value)
        .map_err(|e| unreadable(path, format!("the field `{name}` is invalid: {e}")))
}

fn unreadable(path: &Path, problem: String) -> Error {
    Error::Checkpoint {
        refusal: CheckpointRefusal::Unreadable,
        problem: format!(
            "the checkpoint {} cannot be used: {problem}",
            path.display()
        ),
    }
}

/// A checkpoint `field` that does not match.
pub(crate) fn mismatch(field: &'static str, problem: String) -> Error {
    Error::Checkpoint {
        refusal: CheckpointRefusal::Mismatch { field },
        problem,
    }
}
