//! Running a [`MockServer`] as a process of its own: what `datafold-mock` and
//! `datafold mock serve` print.

use std::io::{self, Write};
use std::time::Duration;

use super::{MockServer, RequestLogPage};

// Both methods serve the `datafold-mock` and `datafold mock serve` command
// lines, which are crates of their own and so need them `pub`; they are
// hidden from the docs as not part of the API a test uses.
impl MockServer {
    /// Print where the server listens, as shell lines a user can paste; the
    /// API key only when the server made it up (printing it is the point);
    /// then the live traffic's rate, if any.
    #[doc(hidden)]
    pub fn announce(&self, key_was_generated: bool) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "datafold-mock listening on {}", self.url());
        let _ = writeln!(out, "  export DATAFOLD_HOST={}", self.url());
        if key_was_generated {
            let _ = writeln!(out, "  export DATAFOLD_API_KEY={}", self.api_key());
        } else {
            let _ = writeln!(out, "  (API key as given with --api-key)");
        }
        if let Some(live) = self.shared.state().live() {
            let _ = writeln!(out, "  {}", live_traffic_line(live.rate(), live.lateness()));
        }
        let _ = out.flush();
    }

    /// Print a line per request on stderr (nothing when `quiet`) until the
    /// process is killed; the server runs on its own thread meanwhile.
    ///
    /// The printing thread sleeps until a request is logged, then copies
    /// only the records it has not printed. Records the bounded log dropped
    /// before they could be printed are reported in one line.
    #[doc(hidden)]
    pub fn print_requests_forever(&self, quiet: bool) -> ! {
        if quiet {
            loop {
                std::thread::park();
            }
        }
        let capacity = self.shared.log.capacity();
        let mut cursor = 0;
        loop {
            let page = self.shared.log.wait_after(cursor);
            cursor = page.next;
            let _ = write_page(&mut std::io::stderr().lock(), &page, capacity);
        }
    }
}

/// What the announcement says of live traffic, e.g. `live traffic: 20
/// events/s, 10% committed late by up to 2s`.
fn live_traffic_line(rate: f64, (late_share, late_max): (f64, Duration)) -> String {
    let late = if late_share > 0.0 {
        // Rounded so that 0.1 reads 10%, not 10.000000000000002%.
        let percent = (late_share * 100_000.0).round() / 1000.0;
        format!(", {percent}% committed late by up to {late_max:?}")
    } else {
        String::new()
    };
    format!("live traffic: {rate} events/s{late}")
}

/// One line per record (and one per spec violation), after a line saying how
/// many records were skipped, if any.
fn write_page(out: &mut impl Write, page: &RequestLogPage, capacity: usize) -> io::Result<()> {
    if page.skipped > 0 {
        writeln!(
            out,
            "... {} requests not shown: the request log keeps the last {capacity} (--request-log-size)",
            page.skipped
        )?;
    }
    for record in &page.records {
        let status = record.status.map_or("reset".to_owned(), |s| s.to_string());
        let fault = record
            .fault
            .map(|f| format!(" [fault {f}]"))
            .unwrap_or_default();
        let applied = if record.applied { " (applied)" } else { "" };
        writeln!(
            out,
            "{} {} -> {status}{applied}{fault}",
            record.method, record.path
        )?;
        for violation in &record.spec_violations {
            writeln!(out, "  spec violation: {violation}")?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{Fault, RequestRecord};

    #[test]
    fn the_live_traffic_line_says_rate_and_lateness() {
        assert_eq!(
            live_traffic_line(20.0, (0.0, Duration::ZERO)),
            "live traffic: 20 events/s"
        );
        assert_eq!(
            live_traffic_line(0.5, (0.25, Duration::from_millis(1500))),
            "live traffic: 0.5 events/s, 25% committed late by up to 1.5s"
        );
        assert!(live_traffic_line(1.0, (0.1, Duration::from_secs(2))).contains(" 10% "));
    }

    #[test]
    fn a_page_prints_what_was_skipped_then_its_records() {
        let record = RequestRecord {
            seq: 7,
            method: "POST".into(),
            path: "/api/v1/lineage/bi/dbt/".into(),
            operation: None,
            status: None,
            applied: true,
            fault: Some(Fault::ResetAfterHandler),
            spec_violations: vec!["id: missing".into()],
        };
        let page = RequestLogPage {
            records: vec![record],
            skipped: 12,
            next: 20,
        };
        let mut out = Vec::new();
        write_page(&mut out, &page, 5).expect("writes to memory");
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("... 12 requests not shown: the request log keeps the last 5"));
        assert!(
            lines[1].starts_with("POST /api/v1/lineage/bi/dbt/ -> reset (applied) [fault "),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "  spec violation: id: missing");
    }
}
