//! Writers for an export: JSON Lines, CSV and a JSON array, streamed to any
//! `Write`; after each window's records are flushed, a hook (the file writer's
//! checkpoint) runs.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::stream::{schema_error, RawExportStream};
use super::{AuditExport, Checkpoint, ExportProgress, RawExportEvent, RawRecord};
use crate::error::{Error, Result};
use crate::generated::types::AuditLog;

/// Records between progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON object per line: the record's bytes as the API returned
    /// them, without white space between tokens.
    JsonLines,
    /// A header row, then one row per record; `payload`, and the fields
    /// without a column of their own (`other_fields`), as JSON objects.
    Csv,
    /// One JSON array of records as [`ExportFormat::JsonLines`] writes them
    /// (closed when the export finishes).
    Json,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Windows completed in this run: checkpoints reached (the pieces of a
    /// window cut at the response bound count once, with their last).
    pub windows: usize,
    /// Records written in this run.
    pub records: u64,
    /// Records in the output: for a resumed export, those of earlier runs
    /// (its checkpoint's `records_done`) and this run's.
    pub records_total: u64,
    /// Bytes of output in all: for [`AuditExport::write_to_file`], earlier
    /// runs included, and compressed when the file is.
    pub bytes: u64,
    /// Records written in this run although their timestamp placed them
    /// outside the window that returned them (see [`ExportStream::misplaced`](super::ExportStream::misplaced)).
    pub misplaced: u64,
    /// Records returned in this run with a timestamp outside the export's
    /// range, not written (see [`ExportStream::out_of_range`](super::ExportStream::out_of_range)).
    pub out_of_range: u64,
    /// Requests sent in this run.
    pub requests: u64,
    /// The most bytes of body read from one response in this run.
    pub largest_response_bytes: u64,
}

/// The CSV columns, in order: the spec's fields, then `other_fields`, a JSON
/// object of the fields the record has beyond them (empty when none).
pub const CSV_COLUMNS: [&str; 18] = [
    "timestamp",
    "event_uuid",
    "action",
    "object_type",
    "object_id",
    "user_email",
    "user_id",
    "is_support_user",
    "request_type",
    "url",
    "client_ip",
    "status",
    "source",
    "referer",
    "user_agent",
    "log_entry",
    "payload",
    "other_fields",
];

impl AuditExport {
    /// Stream the export into `writer`.
    ///
    /// After [`AuditExport::resume_from`], `writer` is taken to hold the
    /// earlier run's output up to its checkpoint, header included: no header
    /// is written, and [`ExportSummary::bytes`] counts this run's bytes only.
    /// To save checkpoints with records of your own sink, use
    /// [`AuditExport::events`]; to write a file that can be resumed, use
    /// [`AuditExport::write_to_file`].
    ///
    /// Writes are blocking; for a slow writer, run this on a blocking-capable
    /// runtime thread.
    ///
    /// # Errors
    /// Any [`Error`] from the export, or [`Error::Output`] when writing fails.
    pub async fn write_to<W: Write>(
        self,
        format: ExportFormat,
        writer: W,
    ) -> Result<ExportSummary> {
        self.write_with(format, writer, 0, |_, _, _| Ok(()))
            .await
            .map(|(summary, _)| summary)
    }

    /// [`AuditExport::write_to`], with `already` bytes of earlier output, and
    /// `window_done` called after each window's records are flushed, with the
    /// writer (a file writer ends its compressed frame there), the window's
    /// checkpoint and the bytes written to the writer in all. The writer comes back
    /// at the end, flushed.
    pub(super) async fn write_with<W: Write>(
        self,
        format: ExportFormat,
        writer: W,
        already: u64,
        mut window_done: impl FnMut(&W, Checkpoint, u64) -> Result<()>,
    ) -> Result<(ExportSummary, W)> {
        let resumed = self.resume.is_some();
        let records_before = self.resume.as_ref().map_or(0, |c| c.records_done);
        // Progress through the range, earlier runs included.
        let start = self.start;
        let seconds_until = move |t: DateTime<Utc>| (t - start).num_seconds().max(0) as u64;
        let range_secs = seconds_until(self.end);
        let mut done_until = self.resume.as_ref().map_or(start, |c| c.done_until);
        let range_secs_done_before = seconds_until(done_until);
        let progress = self.progress.clone();
        let report =
            |windows_done: usize, windows_total: usize, records: u64, done_until: DateTime<Utc>| {
                if let Some(progress) = &progress {
                    (progress.0)(&ExportProgress {
                        windows_done,
                        windows_total,
                        records,
                        records_total: records_before + records,
                        range_secs,
                        range_secs_done: seconds_until(done_until),
                        range_secs_done_before,
                    });
                }
            };
        // Checked before anything is written: bad parameters leave no output.
        let mut events = self.raw_events()?;
        let mut out = Counting {
            inner: writer,
            bytes: already,
        };
        if !resumed {
            out.write_all(&header(format))
                .map_err(|e| output("write", e))?;
        }
        let mut sink = match format {
            ExportFormat::JsonLines => Sink::Json(out),
            ExportFormat::Json => Sink::JsonArray {
                out,
                first: records_before == 0,
            },
            ExportFormat::Csv => Sink::Csv {
                out,
                row: Vec::new(),
            },
        };
        let mut summary = ExportSummary {
            bytes: already,
            ..ExportSummary::default()
        };
        let windows_total = events.windows();
        let mut windows_done = events.windows_done();
        report(windows_done, windows_total, 0, done_until);
        while let Some(event) = events.next().await {
            match event? {
                RawExportEvent::Record(record) => {
                    sink.write(&record, &events)?;
                    summary.records += 1;
                    if summary.records.is_multiple_of(PROGRESS_EVERY) {
                        report(windows_done, windows_total, summary.records, done_until);
                    }
                }
                RawExportEvent::WindowDone(done) => {
                    summary.windows += 1;
                    summary.bytes = sink.flush()?;
                    windows_done = done.windows_done;
                    done_until = done.done_until;
                    window_done(sink.writer(), done, summary.bytes)?;
                    report(windows_done, windows_total, summary.records, done_until);
                }
            }
        }
        summary.bytes = sink.finish()?;
        summary.records_total = records_before + summary.records;
        summary.misplaced = events.misplaced();
        summary.out_of_range = events.out_of_range();
        summary.requests = events.requests();
        summary.largest_response_bytes = events.largest_response_bytes();
        Ok((summary, sink.into_inner()?))
    }
}

/// What a fresh output starts with: the CSV header row, the JSON array's
/// opening bracket. A checkpointed output is at least this long.
pub(super) fn header(format: ExportFormat) -> Vec<u8> {
    match format {
        ExportFormat::JsonLines => Vec::new(),
        ExportFormat::Json => b"[\n".to_vec(),
        ExportFormat::Csv => {
            let mut row = CSV_COLUMNS.join(",").into_bytes();
            row.push(b'\n');
            row
        }
    }
}

/// The CSV row of `r`, whose `timestamp` was `timestamp` as the server wrote
/// it: the column keeps the server's text, readable as a time or not.
fn csv_row(r: &AuditLog, timestamp: &str) -> [String; 18] {
    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    [
        timestamp.to_owned(),
        r.event_uuid.clone(),
        opt(&r.action),
        opt(&r.object_type),
        opt(&r.object_id),
        opt(&r.user_email),
        opt(&r.user_id),
        opt(&r.is_support_user),
        opt(&r.request_type),
        r.url.clone(),
        r.client_ip.clone(),
        opt(&r.status),
        opt(&r.source),
        opt(&r.referer),
        opt(&r.user_agent),
        opt(&r.log_entry),
        r.payload
            .as_ref()
            .map(|p| serde_json::Value::Object(p.clone()).to_string())
            .unwrap_or_default(),
        if r.extra.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(r.extra.clone()).to_string()
        },
    ]
}

/// Where records go, in their format.
enum Sink<W: Write> {
    Json(Counting<W>),
    JsonArray {
        out: Counting<W>,
        first: bool,
    },
    /// `row`: the row being written, kept to be reused.
    Csv {
        out: Counting<W>,
        row: Vec<u8>,
    },
}

impl<W: Write> Sink<W> {
    /// Write `record`, which `stream` just yielded (for errors).
    fn write(&mut self, record: &RawRecord, stream: &RawExportStream) -> Result<()> {
        match self {
            Sink::Json(out) => out
                .write_all(record.json().as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| output("write a record", e)),
            Sink::JsonArray { out, first } => {
                if !std::mem::replace(first, false) {
                    out.write_all(b",\n")
                        .map_err(|e| output("write a record", e))?;
                }
                out.write_all(record.json().as_bytes())
                    .map_err(|e| output("write a record", e))
            }
            Sink::Csv { out, row } => {
                let typed = record
                    .decode_for_text()
                    .map_err(|e| schema_error(stream, record, e))?;
                row.clear();
                csv_line(row, &csv_row(&typed, record.timestamp()));
                out.write_all(row).map_err(|e| output("write a record", e))
            }
        }
    }

    /// The writer underneath.
    fn writer(&self) -> &W {
        match self {
            Sink::Json(out) | Sink::JsonArray { out, .. } | Sink::Csv { out, .. } => &out.inner,
        }
    }

    /// Close the format (the JSON array's bracket) and flush.
    fn finish(&mut self) -> Result<u64> {
        if let Sink::JsonArray { out, .. } = self {
            out.write_all(b"\n]\n").map_err(|e| output("write", e))?;
        }
        self.flush()
    }

    /// The writer underneath, flushed.
    fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        match self {
            Sink::Json(out) | Sink::JsonArray { out, .. } | Sink::Csv { out, .. } => Ok(out.inner),
        }
    }

    /// Flush everything to the writer; the bytes written in all.
    fn flush(&mut self) -> Result<u64> {
        match self {
            Sink::Json(out) | Sink::JsonArray { out, .. } | Sink::Csv { out, .. } => {
                out.flush().map_err(|e| output("flush", e))?;
                Ok(out.bytes)
            }
        }
    }
}

/// `fields` as one CSV line (RFC 4180, ending in `\n`) appended to `line`:
/// a field holding a comma, a quote or a line break is quoted, its quotes
/// doubled; any other is written as it is.
fn csv_line(line: &mut Vec<u8>, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        let field = field.as_bytes();
        if field
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        {
            line.push(b'"');
            for &byte in field {
                if byte == b'"' {
                    line.push(b'"');
                }
                line.push(byte);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(field);
        }
    }
    line.push(b'\n');
}

pub(super) fn output(what: &str, error: io::Error) -> Error {
    Error::Output {
        what: what.to_owned(),
        error,
    }
}

/// A writer that counts the bytes it passes on.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    // Hand each piece straight to the inner writer's own `write_all` rather
    // than std's looping default.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_line;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be_and_read_back_as_written() {
        let fields: Vec<String> = [
            "plain",
            "",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            " spaced ",
            "{\"k\":[1,2]}",
            "ünïcödé",
        ]
        .map(String::from)
        .to_vec();
        let mut line = Vec::new();
        csv_line(&mut line, &fields);
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "plain,,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\", spaced ,\"{\"\"k\"\":[1,2]}\",ünïcödé\n"
        );
        // An independent reader gets every field back.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), fields);
    }
}
