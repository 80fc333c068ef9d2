//! What the CLI prints: tables that fit the terminal, JSON, and the progress
//! line on stderr. Writes to a closed pipe end quietly (`| head` is normal).

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use crate::{CliResult, Failure};

/// Write `text` to stdout; a closed pipe is not an error.
pub fn stdout(text: &str) -> CliResult {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Pretty JSON and a newline on stdout.
pub fn json(value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::other(format!("cannot format JSON: {e}")))?;
    stdout(&(text + "\n"))
}

/// Columns of text, the last ones cut with `…` to fit the terminal.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> CliResult {
    let width = terminal_width();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
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
    for row in rows {
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
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the pointer we pass.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        100
    }
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

    /// Redraw (at most ten times a second, always when `force`).
    pub fn update(&mut self, windows_done: usize, windows_total: usize, records: u64, force: bool) {
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
        let rate = records as f64 / elapsed;
        let eta = (windows_done > 0 && windows_done < windows_total)
            .then(|| elapsed / windows_done as f64 * (windows_total - windows_done) as f64)
            .map(|s| {
                format!(
                    ", ETA {}",
                    crate::time::human(std::time::Duration::from_secs_f64(s))
                )
            })
            .unwrap_or_default();
        let _ = write!(
            io::stderr().lock(),
            "\r\x1b[2Kwindows {windows_done}/{windows_total}, {records} events, {rate:.0}/s{eta}"
        );
    }

    /// Clear the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let _ = write!(io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
