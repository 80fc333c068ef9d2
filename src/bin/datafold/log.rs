//! `-v`/`-vv`: tracing events on stderr, one line each, without pulling in a
//! subscriber crate. Lines are shown like table cells: secrets masked and
//! control characters escaped (a field may carry server data).

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};

/// Install the stderr logger: nothing by default, WARN and INFO of this SDK
/// with `-v` (retries, requests), DEBUG with `-vv`.
pub fn init(verbose: u8, quiet: bool) {
    let max = match (quiet, verbose) {
        (true, _) | (false, 0) => return,
        (false, 1) => Level::INFO,
        _ => Level::DEBUG,
    };
    let _ = tracing::subscriber::set_global_default(Stderr { max });
}

struct Stderr {
    max: Level,
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// The event as one line for the terminal.
fn render(event: &Event<'_>) -> String {
    let mut line = Line(format!("{:>5}", event.metadata().level()));
    event.record(&mut line);
    crate::output::terminal_text(&line.0)
}

impl Subscriber for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max && metadata.target().starts_with("datafold_sdk")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let _ = writeln!(std::io::stderr().lock(), "{}", render(event));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Renders every event into a shared list.
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &Event<'_>) {
            if let Ok(mut lines) = self.0.lock() {
                lines.push(render(event));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn log_lines_escape_server_data() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Capture(lines.clone()), || {
            let location = "https://evil.example/\u{1b}]0;owned\u{7}";
            tracing::warn!(location = %location, "redirect\r\nfaked line");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(
            lines.as_slice(),
            [r" WARN redirect\x0d\x0afaked line location=https://evil.example/\x1b]0;owned\x07"]
        );
    }
}
