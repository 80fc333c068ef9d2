//! The result lines of `cargo xtask bench`, one per figure:
//!
//! ```text
//! figure export_rss 11.5 MiB
//! ratio audit_decode sdk/handwritten 1.018
//! ```
//!
//! A `figure` is `<name> <value> <unit>`; a `ratio` is `<name> <a>/<b> <value>`,
//! the value of `a` divided by that of `b`. The bench runner
//! (`benches/runner`, which includes this file) writes them and the xtask
//! reads them back, so both sides share one definition of the format.

use std::fmt;

/// One result line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A measured quantity.
    Figure {
        name: String,
        value: f64,
        unit: String,
    },
    /// One measurement over another of the same kind.
    Ratio {
        name: String,
        /// What was divided by what, e.g. `sdk/handwritten`.
        over: String,
        value: f64,
    },
}

impl Line {
    /// A figure line.
    pub fn figure(name: &str, value: f64, unit: &str) -> Self {
        Line::Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        }
    }

    /// A ratio line; `over` is `<a>/<b>`.
    pub fn ratio(name: &str, over: &str, value: f64) -> Self {
        Line::Ratio {
            name: name.to_owned(),
            over: over.to_owned(),
            value,
        }
    }

    /// The line's name (`audit_decode`, `export_rss`, ...).
    pub fn name(&self) -> &str {
        match self {
            Line::Figure { name, .. } | Line::Ratio { name, .. } => name,
        }
    }

    /// The line's value.
    pub fn value(&self) -> f64 {
        match self {
            Line::Figure { value, .. } | Line::Ratio { value, .. } => *value,
        }
    }

    /// Read a result line; `None` for any other line (progress, details).
    pub fn parse(line: &str) -> Option<Line> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["figure", name, value, unit] => Some(Line::figure(name, value.parse().ok()?, unit)),
            ["ratio", name, over, value] if over.contains('/') => {
                Some(Line::ratio(name, over, value.parse().ok()?))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Figure { name, value, unit } => {
                // Enough digits to compare runs, no more: 11.5 MiB, 0.412 s,
                // 195071 events/s.
                let digits = match value.abs() {
                    v if v >= 100.0 => 0,
                    v if v >= 10.0 => 1,
                    v if v >= 1.0 => 2,
                    _ => 3,
                };
                write!(f, "figure {name} {value:.digits$} {unit}")
            }
            Line::Ratio { name, over, value } => write!(f, "ratio {name} {over} {value:.3}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn figures_print_with_digits_that_fit_their_size() {
        assert_eq!(
            Line::figure("export_rss", 11.46, "MiB").to_string(),
            "figure export_rss 11.5 MiB"
        );
        assert_eq!(
            Line::figure("export_throughput", 195_071.4, "events/s").to_string(),
            "figure export_throughput 195071 events/s"
        );
        assert_eq!(
            Line::figure("small_call_sdk", 0.0874, "ms").to_string(),
            "figure small_call_sdk 0.087 ms"
        );
        assert_eq!(
            Line::ratio("audit_decode", "sdk/handwritten", 1.01849).to_string(),
            "ratio audit_decode sdk/handwritten 1.018"
        );
    }

    #[test]
    fn printed_lines_read_back() {
        for line in [
            Line::figure("export_rss", 11.5, "MiB"),
            Line::figure("export_throughput", 195_071.0, "events/s"),
            Line::ratio("small_call", "sdk/raw", 1.042),
        ] {
            assert_eq!(Line::parse(&line.to_string()), Some(line));
        }
    }

    #[test]
    fn other_lines_are_not_results() {
        for text in [
            "",
            "audit_decode: 100000 events, 7 runs each",
            "figure export_rss eleven MiB",
            "figure export_rss 11.5",
            "ratio small_call 1.04",
            "ratio small_call sdk-raw 1.04",
            "  figure indented 1 s extra",
        ] {
            assert_eq!(Line::parse(text), None, "{text:?}");
        }
    }
}
