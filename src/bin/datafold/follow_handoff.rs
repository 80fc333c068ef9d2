//! `follow --after-export FILE`: take over from a finished
//! `audit-logs export --output FILE` with no gap and no repeat.
//!
//! The export's records are read back (JSON lines, plain, `.gz` or `.zst`),
//! each checked to be an audit-log record. The newest timestamp among them
//! becomes the follow's start, and the `event_uuid`s of the records within
//! the lag before it are taken as passed on: the first poll reads from that
//! start less the lag, and writes only what the export does not hold,
//! records committed late around its end among them. Nothing in the file is
//! trusted beyond that: a line that is not a record, a file that is not
//! regular, an export that has not finished (its `.partial` or checkpoint
//! is there) are refused (exit 5).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, Utc};
use datafold_sdk::audit::export::ExportFiles;
use datafold_sdk::compress::{decoder, Compression};
use datafold_sdk::safe_file;
use serde::Deserialize;

use crate::{CliError, CliResult};

/// The longest line read: an export's record is at most 16 MiB.
const MAX_LINE: usize = 17 << 20;
/// The most records within the lag of the export's end that are taken over
/// (they go into the state file, which has a cap).
const MAX_IDS: usize = 2_000_000;

/// Where a follow after an export starts.
#[derive(Debug)]
pub struct Handoff {
    /// The newest timestamp in the export.
    pub since: DateTime<Utc>,
    /// The records within the lag before it.
    pub passed_on: Vec<(String, DateTime<Utc>)>,
    /// Records in the export.
    pub records: u64,
}

#[derive(Deserialize)]
struct Key<'a> {
    #[serde(borrow)]
    event_uuid: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    timestamp: std::borrow::Cow<'a, str>,
}

/// Read the export at `path` for a follow with `lag`.
pub fn read(path: &Path, lag: std::time::Duration) -> CliResult<Handoff> {
    let refuse = |why: String| {
        CliError::input(format!(
            "--after-export {} cannot be used: {why}",
            path.display()
        ))
    };
    let files = ExportFiles::new(path);
    if files.interrupted() {
        return Err(refuse(
            "the export has not finished (its .partial file or checkpoint is there); finish it \
             with `audit-logs export --resume` first"
                .into(),
        ));
    }
    let file = safe_file::open_to_read(path)?;
    let compression = Compression::from_path_suffix(path).unwrap_or(Compression::None);
    let reader = decoder(file, compression).map_err(|e| refuse(format!("{e}")))?;
    let lag = chrono::Duration::from_std(lag).unwrap_or(chrono::Duration::MAX);
    let mut lines = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    let mut newest: Option<DateTime<Utc>> = None;
    let mut near_end: Vec<(String, DateTime<Utc>)> = Vec::new();
    let mut records = 0u64;
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        let n = read_line(&mut lines, &mut line)
            .map_err(|e| refuse(format!("reading line {number} failed: {e}")))?;
        if n == 0 {
            break;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let key: Key<'_> = serde_json::from_slice(text).map_err(|e| {
            let hint = if number == 1 && text.first() != Some(&b'{') {
                " (give an export written with --format jsonl, the default)"
            } else {
                ""
            };
            refuse(format!(
                "line {number} is not an audit-log record ({e}){hint}"
            ))
        })?;
        let at = datafold_sdk::audit::parse_timestamp(&key.timestamp).map_err(|e| {
            refuse(format!(
                "line {number}: the record's timestamp cannot be read ({e})"
            ))
        })?;
        records += 1;
        if newest.is_none_or(|n| at > n) {
            newest = Some(at);
        }
        let floor = newest.and_then(|n| n.checked_sub_signed(lag));
        if floor.is_none_or(|f| at >= f) {
            near_end.push((key.event_uuid.into_owned(), at));
        }
        if near_end.len() > MAX_IDS {
            // Forget what the newest record has left behind the lag.
            if let Some(floor) = floor {
                near_end.retain(|(_, t)| *t >= floor);
            }
            if near_end.len() > MAX_IDS {
                return Err(refuse(format!(
                    "more than {MAX_IDS} of its records lie within --lag of its end; follow \
                     with a shorter --lag"
                )));
            }
        }
    }
    let Some(since) = newest else {
        return Err(refuse(
            "it holds no record to go on from; start the follow with --since TIME, the \
             export's end"
                .into(),
        ));
    };
    if let Some(floor) = since.checked_sub_signed(lag) {
        near_end.retain(|(_, t)| *t >= floor);
    }
    Ok(Handoff {
        since,
        passed_on: near_end,
        records,
    })
}

/// One line into `line` (its break included), refusing lines longer than
/// [`MAX_LINE`]; 0 at the end.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut taken = reader.by_ref().take(MAX_LINE as u64 + 1);
    let n = taken.read_until(b'\n', line)?;
    if n > MAX_LINE {
        return Err(std::io::Error::other(format!(
            "a line is longer than {} MiB",
            MAX_LINE >> 20
        )));
    }
    Ok(n)
}
