//! Running a [`MockServer`] as a process of its own: what `datafold-mock` and
//! `datafold mock serve` print.

use std::io::Write;
use std::time::Duration;

use super::MockServer;

impl MockServer {
    /// Print where the server listens, as shell lines a user can paste; the
    /// API key only when the server made it up (printing it is the point).
    pub fn announce(&self, key_was_generated: bool) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "datafold-mock listening on {}", self.url());
        let _ = writeln!(out, "  export DATAFOLD_HOST={}", self.url());
        if key_was_generated {
            let _ = writeln!(out, "  export DATAFOLD_API_KEY={}", self.api_key());
        } else {
            let _ = writeln!(out, "  (API key as given with --api-key)");
        }
        let _ = out.flush();
    }

    /// Print a line per request on stderr (nothing when `quiet`) until the
    /// process is killed; the server runs on its own thread meanwhile.
    pub fn print_requests_forever(&self, quiet: bool) -> ! {
        let mut printed = 0;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if quiet {
                continue;
            }
            let log = self.request_log();
            let mut err = std::io::stderr().lock();
            for record in log.iter().skip(printed) {
                let status = record.status.map_or("reset".to_owned(), |s| s.to_string());
                let fault = record
                    .fault
                    .map(|f| format!(" [fault {f}]"))
                    .unwrap_or_default();
                let applied = if record.applied { " (applied)" } else { "" };
                let _ = writeln!(
                    err,
                    "{} {} -> {status}{applied}{fault}",
                    record.method, record.path
                );
                for violation in &record.spec_violations {
                    let _ = writeln!(err, "  spec violation: {violation}");
                }
            }
            printed = log.len();
        }
    }
}
