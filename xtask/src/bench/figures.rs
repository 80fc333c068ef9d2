//! The figures `benches/runner` measures, by the names both command lines
//! take (`audit_decode`, `small_call`, `small_call_instructions`, `export`,
//! `adaptive_windows`, `export_vs_raw`, `follow`). The runner includes this
//! file, so the xtask and the runner accept the same names.

use std::fmt;

use clap::ValueEnum;

/// A figure the runner measures in one run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Figure {
    /// One 100,000-event audit-log response, SDK vs hand-written client
    AuditDecode,
    /// 2,000 get_integration round trips, SDK vs raw reqwest
    SmallCall,
    /// The instructions per get_integration round trip under valgrind's
    /// callgrind, SDK vs raw reqwest: the same count whatever the load
    SmallCallInstructions,
    /// 1,000,000 events to JSON Lines in a child: peak RSS, events/s,
    /// streaming export vs one buffered GET
    Export,
    /// Requests for a sparse year (5,000 events in 365 days), and the
    /// largest response read for a day with 1,000,000 events in one hour
    AdaptiveWindows,
    /// Export of 1,000,000 events in one hour to JSON Lines vs one raw
    /// streamed copy of the same range to a file
    ExportVsRaw,
    /// The datafold binary's follow (metrics endpoint on) over 90 s of live
    /// traffic at 1,000 events/s (a 20 s lag): resident memory, peak and
    /// growth, and the latency from commit to written record, p50 and p99
    Follow,
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_possible_value() {
            Some(value) => f.write_str(value.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}
