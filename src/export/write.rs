//! Writers for an export: JSON Lines, CSV and a JSON array, streamed to any
//! `Write`, with checkpoints saved only after the window's records are flushed
//! (and, for files, synced to disk).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use futures_util::StreamExt;

use super::{AuditExport, Checkpoint, ExportEvent, ExportProgress};

/// Records between progress reports.
const PROGRESS_EVERY: u64 = 4096;
use crate::error::{Error, Result};
use crate::generated::types::AuditLogs;

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON object per line, the record as the API returned it.
    JsonLines,
    /// A header row, then one row per record; `payload` as a JSON string.
    Csv,
    /// One JSON array of records (closed when the export finishes).
    Json,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Windows completed in this run.
    pub windows: usize,
    /// Records written in this run.
    pub records: u64,
    /// Bytes of output in all, earlier runs included.
    pub bytes: u64,
    /// Records written in this run although their timestamp placed them
    /// outside the window that returned them (see [`ExportStream::misplaced`](super::ExportStream::misplaced)).
    pub misplaced: u64,
    /// Records returned in this run with a timestamp outside the export's
    /// range, not written (see [`ExportStream::out_of_range`](super::ExportStream::out_of_range)).
    pub out_of_range: u64,
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
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
];

impl AuditExport {
    /// Stream the export into `writer`. With `checkpoint`, the checkpoint is
    /// saved after each window, once its records are flushed; start with
    /// [`AuditExport::resume_from`] to continue an earlier run (and give it a
    /// writer positioned where that run's checkpoint says).
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
        checkpoint: Option<&Path>,
    ) -> Result<ExportSummary> {
        self.write_with(format, writer, checkpoint, |_| Ok(()))
            .await
    }

    /// [`AuditExport::write_to`], calling `make_durable` on the writer after
    /// each window is flushed and before its checkpoint is saved, so that a
    /// checkpoint never claims bytes a crash could lose.
    async fn write_with<W: Write>(
        self,
        format: ExportFormat,
        writer: W,
        checkpoint: Option<&Path>,
        make_durable: impl Fn(&W) -> io::Result<()>,
    ) -> Result<ExportSummary> {
        if let Some(saved) = &self.resume {
            check_format(saved, format)?;
        }
        let already = self
            .resume
            .as_ref()
            .and_then(|c| c.output_bytes)
            .unwrap_or(0);
        let records_before = self.resume.as_ref().map_or(0, |c| c.records_done);
        let progress = self.progress.clone();
        let report = |windows_done: usize, windows_total: usize, records: u64| {
            if let Some(progress) = &progress {
                (progress.0)(&ExportProgress {
                    windows_done,
                    windows_total,
                    records,
                });
            }
        };
        // Planned before anything is written: bad parameters leave no output.
        let mut events = self.events()?;
        let out = Counting {
            inner: writer,
            bytes: already,
        };
        let mut sink = match format {
            ExportFormat::JsonLines => Sink::Json(out),
            ExportFormat::Json => {
                let mut out = out;
                if already == 0 {
                    out.write_all(b"[\n").map_err(|e| output("write", e))?;
                }
                Sink::JsonArray {
                    out,
                    first: records_before == 0,
                }
            }
            ExportFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                if already == 0 {
                    csv.write_record(CSV_COLUMNS).map_err(csv_error)?;
                }
                Sink::Csv(Box::new(csv))
            }
        };
        let mut summary = ExportSummary {
            bytes: already,
            ..ExportSummary::default()
        };
        let windows_total = events.windows();
        let mut windows_done = events.windows_done();
        report(windows_done, windows_total, 0);
        while let Some(event) = events.next().await {
            match event? {
                ExportEvent::Record(record) => {
                    sink.write(&record)?;
                    summary.records += 1;
                    if summary.records.is_multiple_of(PROGRESS_EVERY) {
                        report(windows_done, windows_total, summary.records);
                    }
                }
                ExportEvent::WindowDone(mut done) => {
                    summary.windows += 1;
                    summary.bytes = sink.flush()?;
                    make_durable(sink.writer()).map_err(|e| output("sync", e))?;
                    done.output_bytes = Some(summary.bytes);
                    done.output_format = Some(format);
                    if let Some(path) = checkpoint {
                        done.save(path)?;
                    }
                    windows_done = done.windows_done;
                    report(windows_done, windows_total, summary.records);
                }
            }
        }
        summary.bytes = sink.finish()?;
        summary.misplaced = events.misplaced();
        summary.out_of_range = events.out_of_range();
        Ok(summary)
    }

    /// Export into the file at `path`. With a `checkpoint` path that holds a
    /// checkpoint of this export, the file is cut back to what that
    /// checkpoint covers and the export continues from there; otherwise the
    /// file is written from scratch.
    ///
    /// # Errors
    /// As [`AuditExport::write_to`], plus [`Error::InvalidConfig`] for a
    /// checkpoint of another export.
    pub async fn write_to_file(
        self,
        format: ExportFormat,
        path: &Path,
        checkpoint: Option<&Path>,
    ) -> Result<ExportSummary> {
        self.validate()?;
        let saved = match checkpoint {
            Some(c) => Checkpoint::load(c)?,
            None => None,
        };
        let (export, file) = match saved {
            Some(saved) => {
                // Every check before the file is touched.
                check_format(&saved, format)?;
                let keep = saved.output_bytes.unwrap_or(0);
                let export = self.resume_from(saved)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| output(&format!("reopen {} to resume", path.display()), e))?;
                let len = file.metadata().map_err(|e| output("inspect", e))?.len();
                if len < keep {
                    return Err(Error::InvalidConfig {
                        message: format!(
                            "{} has {len} bytes but its checkpoint counts {keep}: the file was \
                             changed; delete the checkpoint to start over",
                            path.display()
                        ),
                    });
                }
                file.set_len(keep)
                    .map_err(|e| output("cut the output back to the checkpoint", e))?;
                io::Seek::seek(&mut file, io::SeekFrom::End(0)).map_err(|e| output("seek", e))?;
                (export, file)
            }
            None => {
                let file = File::create(path)
                    .map_err(|e| output(&format!("create {}", path.display()), e))?;
                (self, file)
            }
        };
        let writer = io::BufWriter::with_capacity(64 * 1024, file);
        export
            .write_with(format, writer, checkpoint, |w| w.get_ref().sync_data())
            .await
    }
}

/// A checkpoint is only good for output of the format it was written in.
fn check_format(saved: &Checkpoint, format: ExportFormat) -> Result<()> {
    match saved.output_format {
        Some(saved_format) if saved_format != format => Err(Error::InvalidConfig {
            message: format!(
                "the checkpoint is for {saved_format:?} output, not {format:?}; resume in the \
                 same format, or delete the checkpoint to start over"
            ),
        }),
        _ => Ok(()),
    }
}

fn csv_row(r: &AuditLogs) -> [String; 17] {
    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    [
        r.timestamp.clone(),
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
    ]
}

/// Where records go, in their format.
enum Sink<W: Write> {
    Json(Counting<W>),
    JsonArray { out: Counting<W>, first: bool },
    Csv(Box<csv::Writer<Counting<W>>>),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, record: &AuditLogs) -> Result<()> {
        match self {
            Sink::Json(out) => {
                serde_json::to_writer(&mut *out, record)
                    .map_err(|e| output("write a record", e.into()))?;
                out.write_all(b"\n")
                    .map_err(|e| output("write a record", e))
            }
            Sink::JsonArray { out, first } => {
                if !std::mem::replace(first, false) {
                    out.write_all(b",\n")
                        .map_err(|e| output("write a record", e))?;
                }
                serde_json::to_writer(&mut *out, record)
                    .map_err(|e| output("write a record", e.into()))
            }
            Sink::Csv(csv) => csv.write_record(csv_row(record)).map_err(csv_error),
        }
    }

    /// The writer underneath.
    fn writer(&self) -> &W {
        match self {
            Sink::Json(out) | Sink::JsonArray { out, .. } => &out.inner,
            Sink::Csv(csv) => &csv.get_ref().inner,
        }
    }

    /// Close the format (the JSON array's bracket) and flush.
    fn finish(&mut self) -> Result<u64> {
        if let Sink::JsonArray { out, .. } = self {
            out.write_all(b"\n]\n").map_err(|e| output("write", e))?;
        }
        self.flush()
    }

    /// Flush everything to the writer; the bytes written in all.
    fn flush(&mut self) -> Result<u64> {
        match self {
            Sink::Json(out) | Sink::JsonArray { out, .. } => {
                out.flush().map_err(|e| output("flush", e))?;
                Ok(out.bytes)
            }
            Sink::Csv(csv) => {
                csv.flush().map_err(|e| output("flush", e))?;
                Ok(csv.get_ref().bytes)
            }
        }
    }
}

fn csv_error(error: csv::Error) -> Error {
    output("format CSV", io::Error::other(error))
}

fn output(what: &str, error: io::Error) -> Error {
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

    // serde_json writes a record in many small pieces; hand each straight to
    // the inner writer's own `write_all` rather than std's looping default.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
