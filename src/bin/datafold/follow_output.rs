//! Where `audit-logs follow` writes: stdout, or a directory of files rotated
//! by size and age, optionally compressed; and the position in it that the
//! state file records.
//!
//! A file is written under a hidden name (`.audit-….jsonl.partial`, created
//! exclusively) and renamed to its final name (`audit-<seq>-<opened>.jsonl`,
//! `.gz` or `.zst` when compressed) once it is closed, so a shipper that
//! watches the directory for `audit-*.jsonl*` only ever sees complete files,
//! and the names sort by time. At each commit the compressed stream is ended
//! (a gzip member, a zstd frame), the file synced, and its length and the
//! SHA-256 of its bytes returned for the state; a restart cuts the open file
//! back to that length after checking the digest, so records written after
//! the last commit are neither lost (they are read again) nor doubled.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use datafold_sdk::compress::{Compression, FrameWriter};
use datafold_sdk::safe_file;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CliError, CliResult};

/// The largest file number: names carry it in six digits, so that they sort
/// by time. A follow that reaches it stops (a new `--output-dir` and
/// `--state` go on).
pub const MAX_SEQ: u64 = 999_999;

/// Where the records go, and how far a restart may trust them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// Standard output: nothing to check on restart.
    Stdout,
    /// A directory of rotated files.
    Files {
        /// The directory, as given.
        dir: PathBuf,
        /// `none`, `gzip` or `zstd`.
        compress: String,
        /// The sequence number of the open file, or of the next one.
        seq: u64,
        /// The open file, if one is open.
        open: Option<OpenFile>,
    },
}

/// The file being written, as of the last commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFile {
    /// Its final name (in the directory).
    pub name: String,
    /// When it was opened (it closes `--rotate-every` later).
    pub opened: DateTime<Utc>,
    /// Its committed length, in bytes.
    pub bytes: u64,
    /// SHA-256 of those bytes, in hex.
    pub sha256: String,
    /// Records in those bytes (for the log line when it closes; a state of
    /// an older datafold has none, and counts from the restart).
    #[serde(default)]
    pub records: u64,
}

/// A file that reached its final name.
#[derive(Debug, Clone)]
pub struct ClosedFile {
    /// Where it is now.
    pub path: PathBuf,
    /// Its records.
    pub records: u64,
    /// Its length, in bytes (compressed, if it is).
    pub bytes: u64,
}

/// Why writing the output failed.
pub enum OutputError {
    /// Stdout was closed by its reader (`follow | head`).
    Closed,
    /// Anything else: what to say, with an exit code.
    Failed(CliError),
}

impl From<CliError> for OutputError {
    fn from(error: CliError) -> Self {
        OutputError::Failed(error)
    }
}

impl From<datafold_sdk::Error> for OutputError {
    fn from(error: datafold_sdk::Error) -> Self {
        OutputError::Failed(error.into())
    }
}

/// Records to stdout or to rotated files.
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    Files(Box<Rotating>),
}

/// The settings of rotated files.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub max_bytes: u64,
    pub max_age: Duration,
    pub compression: Compression,
}

/// A directory of rotated files.
pub struct Rotating {
    dir: PathBuf,
    rotation: Rotation,
    seq: u64,
    open: Option<Writing>,
}

/// The open file.
struct Writing {
    name: String,
    partial: PathBuf,
    opened: DateTime<Utc>,
    records: u64,
    writer: FrameWriter<BufWriter<Hashed>>,
}

impl Writing {
    /// Write on into `hashed`, in frames of `compression`.
    fn new(
        name: String,
        partial: PathBuf,
        opened: DateTime<Utc>,
        records: u64,
        hashed: Hashed,
        compression: Compression,
    ) -> CliResult<Self> {
        let writer = FrameWriter::new(BufWriter::new(hashed), compression)
            .map_err(|e| write_failed(&partial.display().to_string(), e))?;
        Ok(Self {
            name,
            partial,
            opened,
            records,
            writer,
        })
    }
}

/// A file and what has been written to it: length and running digest.
struct Hashed {
    file: File,
    bytes: u64,
    digest: Sha256,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Output {
    /// Start writing to stdout, or into `dir` where `position` (from a state
    /// file, or `None`) says. With `stateful` (a `--state` file is kept),
    /// hidden files the state does not record are an earlier run's
    /// uncommitted output, and removed.
    pub fn open(
        dir: Option<&Path>,
        rotation: Rotation,
        position: Option<Position>,
        stateful: bool,
    ) -> CliResult<Self> {
        let Some(dir) = dir else {
            return match position {
                None | Some(Position::Stdout) => Ok(Output::Stdout(BufWriter::new(io::stdout()))),
                Some(Position::Files { dir, .. }) => Err(not_this_job(format!(
                    "it records a follow into the directory {}, not to stdout",
                    dir.display()
                ))),
            };
        };
        prepare_dir(dir)?;
        // The directory as the state records it: the same whatever the
        // working directory a run starts in.
        let canonical = std::fs::canonicalize(dir).map_err(|e| {
            CliError::other(format!(
                "cannot resolve --output-dir {}: {e}",
                dir.display()
            ))
        })?;
        let dir = canonical.as_path();
        let (seq, open) = match position {
            None => (None, None),
            Some(Position::Stdout) => {
                return Err(not_this_job(
                    "it records a follow to stdout, not into a directory".into(),
                ))
            }
            Some(Position::Files {
                dir: saved,
                compress,
                seq,
                open,
            }) => {
                if saved != dir {
                    return Err(not_this_job(format!(
                        "it records a follow into {}, not {}",
                        saved.display(),
                        dir.display()
                    )));
                }
                if compress != rotation.compression.to_string() {
                    return Err(not_this_job(format!(
                        "it records files compressed with {compress}, not {}; rerun with \
                         --compress {compress}",
                        rotation.compression
                    )));
                }
                check_saved(seq, open.as_ref(), rotation.compression)?;
                (Some(seq), open)
            }
        };
        refuse_odd_hidden(dir)?;
        let keep = open.as_ref().map(|open| partial_path(dir, &open.name));
        match seq {
            // The state was saved before any file was opened: hidden files
            // it does not record are uncommitted output of a run that
            // stopped, whose records are read again.
            Some(seq) => remove_uncommitted(dir, seq, keep.as_deref())?,
            // No state: hidden files may hold the only copy of records a
            // lost state had committed.
            None if stateful => refuse_foreign_hidden(dir)?,
            None => {}
        }
        let seq = match seq {
            Some(seq) => seq,
            None => next_free_seq(dir)?,
        };
        let mut files = Rotating {
            dir: dir.to_owned(),
            rotation,
            seq,
            open: None,
        };
        if let Some(open) = open {
            files.reopen(open)?;
        }
        Ok(Output::Files(Box::new(files)))
    }

    /// Write one record (a line of JSON).
    pub fn record(&mut self, json: &str) -> Result<(), OutputError> {
        match self {
            Output::Stdout(out) => out
                .write_all(json.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(stdout_failed),
            Output::Files(files) => files.record(json),
        }
    }

    /// Make everything written so far durable, and say where it ends.
    pub fn commit(&mut self) -> Result<Position, OutputError> {
        match self {
            Output::Stdout(out) => {
                out.flush().map_err(stdout_failed)?;
                Ok(Position::Stdout)
            }
            Output::Files(files) => files.commit(),
        }
    }

    /// Close the open file if it is due (or if `force`), after a commit;
    /// returns the new position and the file when one was closed.
    pub fn rotate(&mut self, force: bool) -> Result<Option<(Position, ClosedFile)>, OutputError> {
        match self {
            Output::Stdout(_) => Ok(None),
            Output::Files(files) => files.rotate(force),
        }
    }
}

impl Rotating {
    fn position(&self, open: Option<OpenFile>) -> Position {
        Position::Files {
            dir: self.dir.clone(),
            compress: self.rotation.compression.to_string(),
            seq: self.seq,
            open,
        }
    }

    fn record(&mut self, json: &str) -> Result<(), OutputError> {
        if self.open.is_none() {
            self.open = Some(self.create()?);
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        open.records += 1;
        open.writer
            .write_all(json.as_bytes())
            .and_then(|()| open.writer.write_all(b"\n"))
            .map_err(|e| write_failed(&open.partial.display().to_string(), e).into())
    }

    /// A new file for sequence number `self.seq`.
    fn create(&mut self) -> CliResult<Writing> {
        if self.seq > MAX_SEQ {
            return Err(CliError::other(format!(
                "--output-dir {} holds file number {MAX_SEQ}, the last one whose name sorts \
                 by time: nothing more is written there; go on with a new --output-dir and a \
                 new --state file (with --since covering the time since the last file closed)",
                self.dir.display()
            )));
        }
        let opened = Utc::now();
        let name = file_name(self.seq, opened, self.rotation.compression);
        let partial = partial_path(&self.dir, &name);
        let file = safe_file::create_new(&partial)?;
        let hashed = Hashed {
            file,
            bytes: 0,
            digest: Sha256::new(),
        };
        Writing::new(name, partial, opened, 0, hashed, self.rotation.compression)
    }

    /// Continue the file a state file left open, cut back to its commit.
    fn reopen(&mut self, saved: OpenFile) -> CliResult {
        let partial = partial_path(&self.dir, &saved.name);
        let closed = self.dir.join(&saved.name);
        let exists = |path: &Path| std::fs::symlink_metadata(path).is_ok();
        if !exists(&partial) {
            // Closed after the commit, before the state said so: under its
            // final name, or already taken away by the shipper.
            if !exists(&closed) || digest_of(&closed, saved.bytes)? == Some(saved.sha256.clone()) {
                self.seq += 1;
                return Ok(());
            }
            return Err(changed_outside(&closed));
        }
        let mut file = safe_file::open_to_update(&partial)?;
        let (digest, read) = hash_prefix(&mut file, saved.bytes)
            .map_err(|e| write_failed(&partial.display().to_string(), e))?;
        if read < saved.bytes || format!("{:x}", digest.clone().finalize()) != saved.sha256 {
            return Err(changed_outside(&partial));
        }
        file.set_len(saved.bytes)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
            .and_then(|()| file.sync_all())
            .map_err(|e| write_failed(&partial.display().to_string(), e))?;
        let hashed = Hashed {
            file,
            bytes: saved.bytes,
            digest,
        };
        let compression = self.rotation.compression;
        self.open = Some(Writing::new(
            saved.name,
            partial,
            saved.opened,
            saved.records,
            hashed,
            compression,
        )?);
        Ok(())
    }

    fn commit(&mut self) -> Result<Position, OutputError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(self.position(None));
        };
        let failed = |e: io::Error| write_failed(&open.partial.display().to_string(), e);
        open.writer.end_frame().map_err(failed)?;
        let buffered = open.writer.get_mut();
        buffered.flush().map_err(failed)?;
        let hashed = buffered.get_ref();
        hashed.file.sync_data().map_err(failed)?;
        let saved = OpenFile {
            name: open.name.clone(),
            opened: open.opened,
            bytes: hashed.bytes,
            sha256: format!("{:x}", hashed.digest.clone().finalize()),
            records: open.records,
        };
        Ok(self.position(Some(saved)))
    }

    /// After a commit: close the open file when it is full or old enough
    /// (or `force`).
    fn rotate(&mut self, force: bool) -> Result<Option<(Position, ClosedFile)>, OutputError> {
        let Some(open) = self.open.as_ref() else {
            return Ok(None);
        };
        let hashed = open.writer.get_ref().get_ref();
        let age = (Utc::now() - open.opened).to_std().unwrap_or_default();
        let due = hashed.bytes >= self.rotation.max_bytes || age >= self.rotation.max_age;
        if !(force || due) {
            return Ok(None);
        }
        let Some(open) = self.open.take() else {
            return Ok(None);
        };
        let final_name = self.dir.join(&open.name);
        let hashed = open.writer.get_ref().get_ref();
        safe_file::move_into_place(&hashed.file, &open.partial, &final_name)?;
        let closed = ClosedFile {
            path: final_name,
            records: open.records,
            bytes: hashed.bytes,
        };
        self.seq += 1;
        Ok(Some((self.position(None), closed)))
    }
}

/// The final name of file number `seq`, opened at `opened`.
fn file_name(seq: u64, opened: DateTime<Utc>, compression: Compression) -> String {
    format!(
        "audit-{seq:06}-{}.jsonl{}",
        opened.format("%Y%m%dT%H%M%SZ"),
        compression.suffix()
    )
}

/// A state's position names only what this follow would write: a file
/// number within [`MAX_SEQ`] (or just past it, once the last file closed),
/// and an open file named exactly as [`file_name`] names file `seq`, with a
/// SHA-256 digest. Anything else (a path, `..`, another pattern) is a
/// foreign state: nothing is opened, cut or moved for it.
fn check_saved(seq: u64, open: Option<&OpenFile>, compression: Compression) -> CliResult {
    if seq > MAX_SEQ + 1 || (open.is_some() && seq > MAX_SEQ) {
        return Err(not_this_job(format!(
            "it records file number {seq}, past the last this follow writes ({MAX_SEQ})"
        )));
    }
    let Some(open) = open else {
        return Ok(());
    };
    let expected = file_name(seq, open.opened, compression);
    if open.name != expected {
        return Err(not_this_job(format!(
            "it records an open file {:?}, a name this follow would not write (it would be \
             {expected:?})",
            open.name
        )));
    }
    let hex = |s: &str| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(&open.sha256) {
        return Err(not_this_job(format!(
            "its digest of {:?} is not a SHA-256 in hex",
            open.name
        )));
    }
    Ok(())
}

/// The hidden name a file is written under until it is closed.
fn partial_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.partial"))
}

/// The sequence number after the highest `audit-<seq>-…` in `dir`.
fn next_free_seq(dir: &Path) -> CliResult<u64> {
    let files = numbered_files(dir)?;
    let Some(last) = files.iter().max_by_key(|file| file.seq) else {
        return Ok(0);
    };
    if last.seq > MAX_SEQ {
        return Err(CliError::input(format!(
            "--output-dir {} holds {}, numbered past the last file number a follow writes \
             ({MAX_SEQ}): it is not a follow's file; move it away, or give another --output-dir",
            dir.display(),
            last.path.display()
        )));
    }
    Ok(last.seq + 1)
}

/// A file of a follow in its directory: `audit-<seq>-…`, or the hidden
/// `.audit-<seq>-….partial` of a file not closed yet.
struct Numbered {
    path: PathBuf,
    seq: u64,
    hidden: bool,
    /// A regular file (not a directory, link, FIFO…).
    regular: bool,
}

/// Every file of a follow in `dir`.
fn numbered_files(dir: &Path) -> CliResult<Vec<Numbered>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::other(format!("cannot read the directory {}: {e}", dir.display()))
    })?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let seq = name
            .trim_start_matches('.')
            .strip_prefix("audit-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|seq| seq.parse::<u64>().ok());
        if let Some(seq) = seq {
            files.push(Numbered {
                path: entry.path(),
                seq,
                hidden: name.starts_with(".audit-") && name.ends_with(".partial"),
                regular: entry.file_type().is_ok_and(|t| t.is_file()),
            });
        }
    }
    Ok(files)
}

/// Refuse to start a new state in a directory holding another run's hidden
/// files.
fn refuse_foreign_hidden(dir: &Path) -> CliResult {
    let hidden = hidden_files(dir)?;
    if hidden.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = hidden
        .iter()
        .take(3)
        .map(|(path, _)| path.display().to_string())
        .collect();
    Err(CliError::input(format!(
        "--output-dir {} holds files of a follow whose --state file is not there ({}{}); give \
         that follow's --state file, or move those files away",
        dir.display(),
        names.join(", "),
        if hidden.len() > 3 { ", …" } else { "" }
    )))
}

/// The hidden `.audit-<seq>-….partial` files in `dir`, with their numbers.
fn hidden_files(dir: &Path) -> CliResult<Vec<(PathBuf, u64)>> {
    let files = numbered_files(dir)?.into_iter();
    Ok(files
        .filter(|f| f.hidden)
        .map(|f| (f.path, f.seq))
        .collect())
}

/// Remove the hidden files of a run that stopped before its state recorded
/// them (numbered `seq` or later, other than `keep`): they hold only records
/// the state does not cover, which are read again.
fn remove_uncommitted(dir: &Path, seq: u64, keep: Option<&Path>) -> CliResult {
    for (path, n) in hidden_files(dir)? {
        if n >= seq && Some(path.as_path()) != keep {
            safe_file::remove(&path)?;
        }
    }
    Ok(())
}

/// Refuse a directory whose hidden follow files include one that is not a
/// regular file (a directory, a link): a follow neither writes nor removes
/// such a thing.
fn refuse_odd_hidden(dir: &Path) -> CliResult {
    match numbered_files(dir)?
        .into_iter()
        .find(|f| f.hidden && !f.regular)
    {
        None => Ok(()),
        Some(odd) => Err(CliError::input(format!(
            "--output-dir {} holds {}, which has the name of a follow's unfinished file but is \
             not a regular file (a directory or a link); move it away, or give another \
             --output-dir",
            dir.display(),
            odd.path.display()
        ))),
    }
}

/// `--output-dir` must be a directory, not a symbolic link; a missing one
/// is created (readable by this user only, like a state's directory).
/// Nothing else is created: where it cannot be a directory, nothing is left
/// behind.
pub fn prepare_dir(dir: &Path) -> CliResult {
    prepare_dir_for(dir, "--output-dir")
}

/// Check, without creating anything, that the directory of `flag` is a
/// directory, or can be created where it is missing (its parent is a
/// directory): so that a run fails at its start, not hours later.
pub fn check_dir_for(dir: &Path, flag: &str) -> CliResult {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = safe_file::parent_dir(dir);
            match std::fs::metadata(parent) {
                Ok(meta) if meta.is_dir() => Ok(()),
                _ => Err(CliError::input(format!(
                    "{flag} {}: its parent {} is not a directory; give a directory this user \
                     may write in",
                    dir.display(),
                    parent.display()
                ))),
            }
        }
        _ => prepare_dir_for(dir, flag),
    }
}

/// As [`prepare_dir`], for the directory of `flag`.
pub fn prepare_dir_for(dir: &Path, flag: &str) -> CliResult {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CliError::input(format!(
            "{flag} {} is not a directory (a symbolic link is not followed); give a \
             directory",
            dir.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_dir(dir, flag),
        Err(e) => Err(CliError::input(format!(
            "{flag} {}: {e}; give a directory this user may write in",
            dir.display()
        ))),
    }
}

fn create_dir(dir: &Path, flag: &str) -> CliResult {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        CliError::input(format!(
            "{flag} {} does not exist and cannot be created: {e}; create it, or give a \
             directory this user may write in",
            dir.display()
        ))
    })?;
    // The new directory must be the one asked for, not a link put there
    // meanwhile; its entry in its parent survives a crash.
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => safe_file::sync_dir(safe_file::parent_dir(dir)).map_err(|e| {
            CliError::other(format!(
                "cannot sync the directory of {}: {e}",
                dir.display()
            ))
        }),
        _ => Err(CliError::input(format!(
            "{flag} {} changed while it was created; give a directory",
            dir.display()
        ))),
    }
}

/// The digest of the first `bytes` bytes of the closed file at `path`, or
/// `None` when it is shorter.
fn digest_of(path: &Path, bytes: u64) -> CliResult<Option<String>> {
    let mut file = safe_file::open_to_read(path)?;
    let (digest, read) =
        hash_prefix(&mut file, bytes).map_err(|e| write_failed(&path.display().to_string(), e))?;
    Ok((read == bytes).then(|| format!("{:x}", digest.finalize())))
}

/// Hash the first `bytes` bytes of `file`: the running digest and how many
/// there were.
fn hash_prefix(file: &mut File, bytes: u64) -> io::Result<(Sha256, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut digest = Sha256::new();
    let mut reader = file.take(bytes);
    let mut buf = vec![0; 64 * 1024];
    let mut read = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok((digest, read));
        }
        digest.update(&buf[..n]);
        read += n as u64;
    }
}

fn stdout_failed(e: io::Error) -> OutputError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        OutputError::Closed
    } else {
        OutputError::Failed(write_failed("stdout", e))
    }
}

fn write_failed(what: &str, e: io::Error) -> CliError {
    CliError::other(format!(
        "cannot write {what}: {e}; {}",
        crate::cli_error::output_hint(e.kind())
    ))
}

/// A file the state records holds other bytes than it committed.
fn changed_outside(path: &Path) -> CliError {
    CliError::input(format!(
        "{} does not hold what the --state file recorded (shorter, or other bytes): it was \
         changed outside this follow; restore it, or move it away and give another --state file",
        path.display()
    ))
}

/// The state file belongs to another follow.
pub fn not_this_job(problem: String) -> CliError {
    CliError::input(format!(
        "the --state file does not belong to this follow: {problem}; rerun with that follow's \
         flags, or give another --state file"
    ))
}
