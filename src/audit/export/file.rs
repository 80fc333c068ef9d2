//! [`AuditExport::write_to_file`]: an export into a file that is resumable,
//! bound to its checkpoint, and written by the rules of [`crate::safe_file`].
//!
//! `FILE` is written as `FILE.partial`, with a [`FileCheckpoint`] in
//! `FILE.checkpoint` after each window, and renamed to `FILE` once complete:
//! a crash never leaves a half file under the final name. Every path is
//! checked before the first request.
//!
//! With the `compress` feature the file can be compressed
//! (`AuditExport::write_compressed_to_file`): a gzip member or zstd frame
//! ends at each checkpoint, so the bytes a checkpoint vouches for are a
//! complete stream, and a resume cuts the file back to them and appends new
//! frames.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::checkpoint::mismatch;
use super::output_file::{held, tail_sha256, Compression, OutputFile, Unreadable};
use super::write::{header, output};
use super::{AuditExport, ExportFormat, ExportSummary, FileCheckpoint};
use crate::error::{CheckpointRefusal, Error, Result};
use crate::safe_file;
/// What [`AuditExport::write_to_file`] does when an earlier run into the same
/// file was interrupted, leaving `FILE.partial` or `FILE.checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfInterrupted {
    /// Refuse with [`Error::Checkpoint`] ([`CheckpointRefusal::Interrupted`]):
    /// an interrupted export is never discarded unasked.
    #[default]
    Refuse,
    /// Continue it: its checkpoint must be as it was saved (its seal
    /// matches), belong to this export (host, range, window, overlap,
    /// format) and match the partial file, or nothing is written. A partial
    /// file without its checkpoint is refused
    /// ([`CheckpointRefusal::NoCheckpoint`]) and left as it is: nothing
    /// vouches for it. With neither, it starts afresh.
    Resume,
    /// Discard the partial file and checkpoint, and start over.
    Restart,
}

/// The files of an export into `FILE`: `FILE.partial` while it runs, its
/// checkpoint `FILE.checkpoint`, and `FILE` once it is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    output: PathBuf,
    partial: PathBuf,
    checkpoint: PathBuf,
}

impl ExportFiles {
    /// The files of an export into `output`.
    pub fn new(output: impl Into<PathBuf>) -> Self {
        let output = output.into();
        let with_suffix = |suffix: &str| {
            let mut name = output.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            output.with_file_name(name)
        };
        Self {
            partial: with_suffix(".partial"),
            checkpoint: with_suffix(".checkpoint"),
            output,
        }
    }

    /// `FILE`, the complete export.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// `FILE.partial`, the export while it runs.
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// `FILE.checkpoint`, how far the partial export got.
    pub fn checkpoint(&self) -> &Path {
        &self.checkpoint
    }

    /// Whether an interrupted run left anything at the partial or the
    /// checkpoint name (a link or other file included).
    pub fn interrupted(&self) -> bool {
        [&self.partial, &self.checkpoint]
            .iter()
            .any(|path| std::fs::symlink_metadata(path).is_ok())
    }

    /// The checkpoint of an interrupted run, if there is one.
    ///
    /// # Errors
    /// As [`FileCheckpoint::load`].
    pub fn load_checkpoint(&self) -> Result<Option<FileCheckpoint>> {
        FileCheckpoint::load(&self.checkpoint)
    }
}

impl AuditExport {
    /// Export into the file at `path`, resumably and safely.
    ///
    /// The export is written to `path.partial`, with a [`FileCheckpoint`] in
    /// `path.checkpoint` saved after each window (once its records are synced
    /// to disk), and renamed to `path` when complete; the checkpoint is then
    /// removed. What happens when an interrupted run left those files is
    /// `if_interrupted`'s choice ([`IfInterrupted`]).
    ///
    /// Before the first request, every path is checked by the rules of
    /// [`crate::safe_file`]: no symbolic link, no directory, device or FIFO,
    /// no read-only `path` (a writable one keeps its permissions when it is
    /// replaced). A resumed checkpoint must be sealed as it was saved (no
    /// field edited or damaged), belong to this export (host, range, window,
    /// overlap, format, compression) and vouch for the partial file as it is (its length,
    /// the SHA-256 of its last 64 KiB, and as many records before that point
    /// as it counts); only then is the file cut back to what it vouches for.
    /// A run that fails before its first window completes removes its
    /// partial file.
    ///
    /// The file is written as it is, whatever its name; with the `compress`
    /// feature, `AuditExport::write_compressed_to_file` compresses it.
    ///
    /// # Errors
    /// [`Error::UnsafeFile`] for a path that is not safe to write;
    /// [`Error::Checkpoint`] when interrupted files are in the way or do not
    /// match (naming the field); otherwise as [`AuditExport::write_to`].
    pub async fn write_to_file(
        self,
        format: ExportFormat,
        path: &Path,
        if_interrupted: IfInterrupted,
    ) -> Result<ExportSummary> {
        self.write_file(format, Compression::None, path, if_interrupted)
            .await
    }

    /// [`AuditExport::write_to_file`], compressed: a gzip member or zstd
    /// frame ends at each checkpoint, so that a resume cuts the file back to
    /// a complete stream and appends new frames. The checkpoint records the
    /// compression, and a resume with another is refused
    /// ([`CheckpointRefusal::Mismatch`] on `output_compression`). The name
    /// of `path` is not checked against the compression
    /// ([`Compression::suffix`] gives the usual one).
    /// [`ExportSummary::bytes`] counts compressed bytes.
    ///
    /// # Errors
    /// As [`AuditExport::write_to_file`].
    #[cfg(feature = "compress")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compress")))]
    pub async fn write_compressed_to_file(
        self,
        format: ExportFormat,
        compression: Compression,
        path: &Path,
        if_interrupted: IfInterrupted,
    ) -> Result<ExportSummary> {
        self.write_file(format, compression, path, if_interrupted)
            .await
    }

    async fn write_file(
        self,
        format: ExportFormat,
        compression: Compression,
        path: &Path,
        if_interrupted: IfInterrupted,
    ) -> Result<ExportSummary> {
        self.validate()?;
        safe_file::file_name(path)?;
        let files = ExportFiles::new(path);
        // Every name is checked before anything is touched or requested.
        safe_file::check_target(&files.output)?;
        let partial_there = safe_file::check_target(&files.partial)?.is_some();
        let checkpoint_there = safe_file::check_target(&files.checkpoint)?.is_some();
        let saved = match if_interrupted {
            _ if !partial_there && !checkpoint_there => None,
            IfInterrupted::Refuse => {
                return Err(Error::Checkpoint {
                    refusal: CheckpointRefusal::Interrupted,
                    problem: format!(
                        "an interrupted export of {} exists ({} and its checkpoint {})",
                        files.output.display(),
                        files.partial.display(),
                        files.checkpoint.display()
                    ),
                })
            }
            IfInterrupted::Restart => None,
            IfInterrupted::Resume => match files.load_checkpoint()? {
                // What the partial file holds is vouched for by nothing: it
                // is neither continued nor removed.
                None if partial_there => {
                    return Err(Error::Checkpoint {
                        refusal: CheckpointRefusal::NoCheckpoint,
                        problem: format!(
                            "{} has no checkpoint ({} is missing), so the interrupted export \
                             cannot be resumed",
                            files.partial.display(),
                            files.checkpoint.display()
                        ),
                    })
                }
                saved => saved,
            },
        };
        let (export, file, already) = match saved {
            Some(saved) => self.reopen(&files, format, compression, saved, partial_there)?,
            None => {
                // The checkpoint goes first: a partial file alone vouches for nothing.
                safe_file::remove(&files.checkpoint)?;
                safe_file::remove(&files.partial)?;
                let file = safe_file::create_new(&files.partial)?;
                (self, file, 0)
            }
        };

        // A flag, not a Cell: the future stays Send.
        let vouched = AtomicBool::new(export.resume.is_some());
        let cleanup = RemoveUnvouched {
            partial: &files.partial,
            vouched: &vouched,
        };
        let writer = OutputFile::new(file, compression).map_err(|e| {
            output(
                &format!("start compressing into {}", files.partial.display()),
                e,
            )
        })?;
        let (mut summary, writer) = export
            .write_with(format, writer, already, |writer, checkpoint, _| {
                let mut writer = writer.lock();
                let file = writer
                    .end_frame()
                    .map_err(|e| output("write the end of the window", e))?;
                file.sync_data().map_err(|e| output("sync", e))?;
                // The file's length: compressed bytes, when it is compressed.
                let bytes = file.metadata().map_err(|e| output("inspect", e))?.len();
                let output_tail_sha256 =
                    tail_sha256(file, bytes).map_err(|e| output("read back the end", e))?;
                FileCheckpoint {
                    export: checkpoint,
                    output_format: format,
                    output_compression: compression.name().to_owned(),
                    output_bytes: bytes,
                    output_tail_sha256,
                }
                .save(&files.checkpoint)?;
                vouched.store(true, Ordering::Relaxed);
                Ok(())
            })
            .await?;
        let file = writer.into_file().map_err(|e| output("flush", e))?;
        summary.bytes = file
            .metadata()
            .map_err(|e| output(&format!("inspect {}", files.partial.display()), e))?
            .len();
        safe_file::move_into_place(&file, &files.partial, &files.output)?;
        // The partial name is free again; it is not this run's to remove.
        vouched.store(true, Ordering::Relaxed);
        drop(cleanup);
        safe_file::remove(&files.checkpoint)?;
        safe_file::sync_dir(safe_file::parent_dir(&files.output))
            .map_err(|e| output("sync the directory", e))?;
        Ok(summary)
    }

    /// The export `saved` continues, with the partial file open at the end of
    /// what `saved` vouches for, once everything about them matches.
    fn reopen(
        mut self,
        files: &ExportFiles,
        format: ExportFormat,
        compression: Compression,
        saved: FileCheckpoint,
        partial_there: bool,
    ) -> Result<(Self, File, u64)> {
        let source = format!("the checkpoint {}", files.checkpoint.display());
        self.check_checkpoint(&saved.export, &source)?;
        if saved.output_format != format {
            return Err(mismatch(
                "output_format",
                format!(
                    "{source} is for another export: its output_format is {}, this export's is {}",
                    format_name(saved.output_format),
                    format_name(format)
                ),
            ));
        }
        if saved.output_compression != compression.name() {
            return Err(mismatch(
                "output_compression",
                format!(
                    "{source} is for another export: its output_compression is {}, this \
                     export's is {}",
                    saved.output_compression,
                    compression.name()
                ),
            ));
        }
        let bytes = saved.output_bytes;
        let partial = files.partial.display();
        if !partial_there {
            return Err(mismatch(
                "output_bytes",
                format!(
                    "{source} vouches for {bytes} bytes (output_bytes) of {partial}, which does \
                     not exist"
                ),
            ));
        }
        let mut file = safe_file::open_to_update(&files.partial)?;
        let len = file
            .metadata()
            .map_err(|e| output(&format!("inspect {partial}"), e))?
            .len();
        if len < bytes {
            return Err(mismatch(
                "output_bytes",
                format!(
                    "{partial} has {len} bytes, fewer than the {bytes} {source} vouches for \
                     (output_bytes): the file was changed since"
                ),
            ));
        }
        let digest =
            tail_sha256(&file, bytes).map_err(|e| output(&format!("read {partial}"), e))?;
        if digest != saved.output_tail_sha256 {
            return Err(mismatch(
                "output_tail_sha256",
                format!(
                    "the output {source} vouches for is not what {partial} holds (its \
                     output_tail_sha256 differs): the file was changed since"
                ),
            ));
        }
        // The whole prefix, not only its digested tail, holds the records
        // the checkpoint counts.
        let held = match held(&file, bytes, format, compression) {
            Ok(held) => held,
            Err(Unreadable::File(e)) => return Err(output(&format!("read {partial}"), e)),
            Err(Unreadable::Compressed(e)) => {
                return Err(mismatch(
                    "output_bytes",
                    format!(
                        "the {bytes} bytes of {partial} {source} vouches for (output_bytes) do \
                         not decompress as {}: {e}; the file was changed since",
                        compression.name()
                    ),
                ))
            }
        };
        let header = header(format).len() as u64;
        let records_done = saved.export.records_done;
        if held.bytes < header {
            return Err(mismatch(
                "output_bytes",
                format!(
                    "{source} does not add up: the output it vouches for has {} bytes \
                     (output_bytes, decompressed), fewer than the format's header",
                    held.bytes
                ),
            ));
        }
        if (records_done == 0) != (held.bytes == header) {
            return Err(mismatch(
                "records_done",
                format!(
                    "{source} does not add up: its records_done is {records_done} with {} bytes \
                     of records (output_bytes)",
                    held.bytes - header
                ),
            ));
        }
        if held.records != records_done {
            return Err(mismatch(
                "records_done",
                format!(
                    "{partial} holds {} records in the {bytes} bytes {source} vouches for, but \
                     its records_done is {records_done}: the file or the checkpoint was changed \
                     since",
                    held.records
                ),
            ));
        }
        // Only now is anything changed: the bytes of the unfinished window go.
        file.set_len(bytes)
            .map_err(|e| output(&format!("cut {partial} back to its checkpoint"), e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| output(&format!("seek in {partial}"), e))?;
        self.resume = Some(saved.export);
        Ok((self, file, bytes))
    }
}
/// The format as a checkpoint names it.
fn format_name(format: ExportFormat) -> String {
    serde_json::to_value(format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{format:?}"))
}

/// Removes the partial file of a run that ends (fails, or is dropped) before
/// any checkpoint vouches for it: such a file holds no completed window.
struct RemoveUnvouched<'a> {
    partial: &'a Path,
    vouched: &'a AtomicBool,
}

impl Drop for RemoveUnvouched<'_> {
    fn drop(&mut self) {
        if !self.vouched.load(Ordering::Relaxed) {
            let _ = safe_file::remove(self.partial);
        }
    }
}
