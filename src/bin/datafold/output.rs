//! What the CLI prints: tables that fit the terminal, JSON, messages and the
//! progress line on stderr. Everything shown passes through here, so here
//! secrets are masked (the values of secret fields, the API key, the secrets
//! read for this command) and, on the terminal, control characters from the
//! server are escaped: tables and messages show `\x1b`, never a raw escape
//! sequence. JSON stays exact (it escapes control characters itself).
//! Writes to a closed pipe end quietly (`| head` is normal); other write
//! errors are reported, never a panic.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Instant;

use datafold_sdk::audit::export::ExportProgress;
use datafold_sdk::secret::Redactor;
use datafold_sdk::Secret;

use crate::{CliError, CliResult};

/// The secrets this run knows, masked in everything it prints.
static SHOWN: LazyLock<Mutex<Redactor>> = LazyLock::new(|| Mutex::new(Redactor::new()));

fn redactor() -> MutexGuard<'static, Redactor> {
    // A panic elsewhere cannot leave a redactor half updated.
    SHOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Mask `secret` (the API key, a secret read from a flag) in all output.
pub fn hide(secret: &Secret) {
    redactor().add(secret);
}

/// Mask the values of the secret fields of `json` (a request body about to
/// be sent) in all output.
pub fn hide_secrets_of(json: &serde_json::Value) {
    redactor().add_secrets_of(json);
}

/// `text` fit for the terminal: secrets masked, every control character
/// (C0, DEL, C1) escaped. For table cells.
pub fn terminal_text(text: &str) -> String {
    escape_controls(&redactor().text(text), false).into_owned()
}

/// `text` with secrets masked, nothing escaped (for JSON, which escapes
/// the rest).
pub fn masked_text(text: &str) -> String {
    redactor().text(text).into_owned()
}

/// A message fit for stderr: like [`terminal_text`], but line breaks kept.
pub fn message_text(text: &str) -> String {
    escape_controls(&redactor().text(text), true).into_owned()
}

/// `\x1b` for ESC and so on; `keep_newlines` leaves `\n` alone.
fn escape_controls(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !(keep_newlines && c == '\n');
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            // Control characters are all below U+00A0: two hex digits.
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A line on stderr (secrets masked, control characters escaped); a stderr
/// that cannot be written to is ignored, there is nowhere else to say it.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{}", message_text(text));
}

/// Text on stderr without a line break (a prompt).
pub fn prompt(text: &str) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{}", message_text(text)).and_then(|()| err.flush());
}

/// Ask `question` (ending in `[y/N] `) on stderr and read the answer from
/// stdin: yes only for `y` or `yes`. Callers check first that stdin is a
/// terminal (a script passes `--yes` instead).
pub fn ask_yes(question: &str) -> CliResult<bool> {
    use std::io::{BufRead, Read};
    prompt(question);
    let mut answer = String::new();
    io::stdin()
        .lock()
        .take(1024)
        .read_line(&mut answer)
        .map_err(|e| CliError::other(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Write `text` to stdout; a closed pipe is not an error.
pub fn stdout(text: &str) -> CliResult {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(CliError::other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Pretty JSON and a newline on stdout, secrets masked: for data from the
/// server.
pub fn json(value: &impl serde::Serialize) -> CliResult {
    let shown = redactor().json(&serde_json::to_value(value).map_err(cannot_format)?);
    json_as_is(&shown)
}

/// A pretty JSON array of `items` on stdout, secrets masked, written one
/// item at a time (the same text as [`json`] of the whole list, without a
/// second copy of it in memory).
pub fn json_array<T: serde::Serialize>(items: &[T]) -> CliResult {
    if items.is_empty() {
        return stdout("[]\n");
    }
    let mut text = String::from("[\n");
    for (i, item) in items.iter().enumerate() {
        let shown = redactor().json(&serde_json::to_value(item).map_err(cannot_format)?);
        let pretty = serde_json::to_string_pretty(&shown).map_err(cannot_format)?;
        for line in pretty.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        if i + 1 < items.len() {
            text.pop();
            text.push_str(",\n");
        }
        // Written in pieces: the whole array never sits in memory as text.
        if text.len() >= 1 << 16 || i + 1 == items.len() {
            if i + 1 == items.len() {
                text.push_str("]\n");
            }
            stdout(&text)?;
            text.clear();
        }
    }
    Ok(())
}

/// Pretty JSON and a newline on stdout, as it is: for documents the CLI
/// makes itself (a schema names secret fields but holds no secret).
pub fn json_as_is(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(cannot_format)?;
    stdout(&(text + "\n"))
}

fn cannot_format(error: serde_json::Error) -> CliError {
    CliError::other(format!("cannot format JSON: {error}"))
}

/// Columns of text, the last ones cut with `…` to fit the terminal; cells
/// are shown as [`terminal_text`], and measured that way.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> CliResult {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| terminal_text(cell)).collect())
        .collect();
    let width = terminal_width();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Narrow the last column first (it holds the longest, least scanned
    // text), then the widest of the others, until the table fits.
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    let last = widths.len().saturating_sub(1);
    while total(&widths) > width {
        let widest = if widths[last] > 16 {
            last
        } else {
            match widths.iter().copied().enumerate().max_by_key(|&(_, w)| w) {
                Some((i, w)) if w > 8 => i,
                _ => break,
            }
        };
        widths[widest] -= 1;
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells.zip(&widths).map(|(c, &w)| fit(c, w)).collect();
        text.push_str(parts.join("  ").trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    stdout(&text)
}

fn fit(cell: &str, width: usize) -> String {
    let count = cell.chars().count();
    if count <= width {
        format!("{cell:<width$}")
    } else {
        let cut: String = cell.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `$COLUMNS`, else the terminal's width, else 100.
fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return columns;
    }
    // Portable, and already in the tree through clap's `wrap_help`.
    terminal_size::terminal_size_of(io::stdout())
        .map(|(width, _)| usize::from(width.0))
        .filter(|&width| width > 0)
        .unwrap_or(100)
}

/// What is left of an export's range at the pace of this run, which has run
/// `elapsed` seconds: unknown until this run has done part of the range, and
/// none once all of it is done.
fn time_left(progress: &ExportProgress, elapsed: f64) -> Option<std::time::Duration> {
    let done_now = progress
        .range_secs_done
        .checked_sub(progress.range_secs_done_before)
        .filter(|&done| done > 0)?;
    let left = progress
        .range_secs
        .checked_sub(progress.range_secs_done)
        .filter(|&left| left > 0)?;
    std::time::Duration::try_from_secs_f64(elapsed / done_now as f64 * left as f64).ok()
}

/// A one-line progress display on stderr, drawn only when stderr is a
/// terminal and not `--quiet`.
pub struct Progress {
    enabled: bool,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && io::stderr().is_terminal(),
            started: Instant::now(),
            last_draw: None,
        }
    }

    /// Redraw (at most ten times a second, always when `force`). A resumed
    /// export shows the whole output (windows and events of earlier runs
    /// included), its rate this run's, and an ETA for what is left of the
    /// range at this run's pace.
    pub fn update(&mut self, progress: &ExportProgress, force: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .last_draw
                .is_some_and(|t| now - t < std::time::Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(now);
        let elapsed = (now - self.started).as_secs_f64().max(0.001);
        let rate = progress.records as f64 / elapsed;
        let eta = time_left(progress, elapsed)
            .map(|left| format!(", ETA {}", crate::time::human(left)))
            .unwrap_or_default();
        let ExportProgress {
            windows_done,
            windows_total,
            records_total,
            ..
        } = progress;
        let _ = write!(
            io::stderr().lock(),
            "\r\x1b[2Kwindows {windows_done}/{windows_total}, {records_total} events, {rate:.0}/s{eta}"
        );
    }

    /// Clear the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_export_counts_its_time_left_at_this_run_s_pace() {
        let progress = ExportProgress {
            windows_done: 3,
            windows_total: 4,
            records: 100,
            records_total: 600,
            range_secs: 4000,
            // Half the range was done before; this run did a quarter in 10 s.
            range_secs_done_before: 2000,
            range_secs_done: 3000,
        };
        assert_eq!(
            time_left(&progress, 10.0),
            Some(std::time::Duration::from_secs(10))
        );
        let started = ExportProgress {
            range_secs_done: 2000,
            ..progress
        };
        assert_eq!(time_left(&started, 10.0), None, "no pace yet");
        let finished = ExportProgress {
            range_secs_done: 4000,
            ..progress
        };
        assert_eq!(time_left(&finished, 10.0), None, "nothing left");
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(
            escape_controls("a\u{1b}[31mb\u{7}\u{7f}\u{9b}\tc\nd", false),
            "a\\x1b[31mb\\x07\\x7f\\x9b\\x09c\\x0ad"
        );
        assert_eq!(escape_controls("line\nnext\r", true), "line\nnext\\x0d");
        assert!(matches!(
            escape_controls("plain é ü", false),
            Cow::Borrowed(_)
        ));
    }
}
