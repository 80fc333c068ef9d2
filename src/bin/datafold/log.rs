//! Log lines on stderr, one per `tracing` event, without pulling in a
//! subscriber crate: an RFC 3339 time (UTC, milliseconds), the level, the
//! message and its fields, as text or as one JSON object a line
//! (`--log-format`). Secrets are masked; in text, control characters are
//! escaped (a field may carry server data).
//!
//! Two sources: this tool's own events (`audit-logs follow` logs its
//! lifecycle this way), shown from INFO by default, from DEBUG with `-v`
//! and ERROR only with `-q`; and the SDK's (requests, retries), shown only
//! with `-v` (INFO) or `-vv` (DEBUG).
//!
//! The subscriber also counts the SDK's retries (its documented WARN event
//! per retry), shown or not, for `follow`'s metrics.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    // Variants carry no doc comments: clap would list them as long help
    // and turn every `--help` into the long layout.
    // `TIME LEVEL message key=value`
    #[default]
    Text,
    // One JSON object a line: `timestamp`, `level`, `message`, the fields.
    Json,
}

/// Retries of SDK requests seen so far (shown or not).
static RETRIES: AtomicU64 = AtomicU64::new(0);
/// Whether this run logs its messages as log lines (`follow` does), so that
/// the last error is a log line too.
static LINES: AtomicBool = AtomicBool::new(false);

/// The SDK's message for each retry (see `datafold_sdk::retry`).
const RETRY_MESSAGE: &str = "retrying Datafold request";

/// Retries of SDK requests in this run.
pub fn retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

/// From now on, the error this run ends with is a log line.
pub fn use_lines() {
    LINES.store(true, Ordering::Relaxed);
}

/// Whether the run's messages are log lines.
pub fn uses_lines() -> bool {
    LINES.load(Ordering::Relaxed)
}

/// Install the stderr logger.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let (own, sdk) = match (quiet, verbose) {
        (true, _) => (Level::ERROR, None),
        (false, 0) => (Level::INFO, None),
        (false, 1) => (Level::DEBUG, Some(Level::INFO)),
        _ => (Level::DEBUG, Some(Level::DEBUG)),
    };
    let _ = tracing::subscriber::set_global_default(Stderr { own, sdk, format });
}

struct Stderr {
    /// The most detailed level shown of this tool's events.
    own: Level,
    /// Of the SDK's, if any.
    sdk: Option<Level>,
    format: LogFormat,
}

/// Whether `target` is this tool's (the binary crate is `datafold`).
fn is_own(target: &str) -> bool {
    target == "datafold" || target.starts_with("datafold::")
}

fn is_sdk(target: &str) -> bool {
    target == "datafold_sdk" || target.starts_with("datafold_sdk::")
}

impl Stderr {
    fn shown(&self, metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        if is_own(target) {
            *metadata.level() <= self.own
        } else if is_sdk(target) {
            self.sdk.is_some_and(|max| *metadata.level() <= max)
        } else {
            false
        }
    }
}

/// An event's message and fields, in order.
#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, Value)>,
}

enum Value {
    Text(String),
    Number(String),
    Bool(bool),
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields
            .push((field.name(), Value::Number(value.to_string())));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields
            .push((field.name(), Value::Number(value.to_string())));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.push((field.name(), Value::Bool(value)));
    }
}

impl Fields {
    fn text(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.fields.push((field.name(), Value::Text(value)));
        }
    }
}

/// The time of a line: RFC 3339, UTC, milliseconds.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An event's fields as one line, without its line break.
fn line(format: LogFormat, time: &str, level: Level, fields: &Fields) -> String {
    match format {
        LogFormat::Text => {
            let mut line = format!("{time} {level:>5} {}", fields.message);
            for (name, value) in &fields.fields {
                match value {
                    Value::Text(text) if needs_quotes(text) => {
                        let _ = write!(line, " {name}={text:?}");
                    }
                    Value::Text(text) | Value::Number(text) => {
                        let _ = write!(line, " {name}={text}");
                    }
                    Value::Bool(b) => {
                        let _ = write!(line, " {name}={b}");
                    }
                }
            }
            crate::output::terminal_text(&line)
        }
        LogFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert("timestamp".into(), time.into());
            object.insert("level".into(), level.as_str().into());
            object.insert("message".into(), masked(&fields.message).into());
            for (name, value) in &fields.fields {
                let value = match value {
                    Value::Text(text) => masked(text).into(),
                    Value::Number(n) => {
                        serde_json::from_str(n).unwrap_or_else(|_| n.clone().into())
                    }
                    Value::Bool(b) => (*b).into(),
                };
                // The line's own keys come first and stay.
                object.entry(*name).or_insert(value);
            }
            serde_json::Value::Object(object).to_string()
        }
    }
}

/// A value is quoted in text when it would not read as one word.
fn needs_quotes(text: &str) -> bool {
    text.is_empty() || text.contains([' ', '"', '='])
}

/// `text` with the run's secrets masked (JSON escapes the rest).
fn masked(text: &str) -> String {
    crate::output::masked_text(text)
}

/// The last error of a run that logs lines, as a line at ERROR (never
/// hidden, `-q` included).
pub fn final_error(format: LogFormat, message: &str) {
    let fields = Fields {
        message: message.to_owned(),
        fields: Vec::new(),
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        line(format, &now(), Level::ERROR, &fields)
    );
}

impl Subscriber for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // The SDK's warnings are always seen, for the count of retries.
        self.shown(metadata) || (is_sdk(metadata.target()) && *metadata.level() == Level::WARN)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        if is_sdk(metadata.target())
            && *metadata.level() == Level::WARN
            && fields.message == RETRY_MESSAGE
        {
            RETRIES.fetch_add(1, Ordering::Relaxed);
        }
        if !self.shown(metadata) {
            return;
        }
        let line = line(self.format, &now(), *metadata.level(), &fields);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Renders every event into a shared list, at a fixed time.
    struct Capture(Arc<Mutex<Vec<String>>>, LogFormat);

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
                let time = "2026-12-06T10:00:00.000Z";
                let mut fields = Fields::default();
                event.record(&mut fields);
                lines.push(line(self.1, time, *event.metadata().level(), &fields));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn capture(format: LogFormat, emit: impl FnOnce()) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Capture(lines.clone(), format), emit);
        let lines = lines.lock().unwrap();
        lines.clone()
    }

    #[test]
    fn log_lines_escape_server_data() {
        let lines = capture(LogFormat::Text, || {
            let location = "https://evil.example/\u{1b}]0;owned\u{7}";
            tracing::warn!(location = %location, "redirect\r\nfaked line");
        });
        assert_eq!(
            lines.as_slice(),
            [
                r"2026-12-06T10:00:00.000Z  WARN redirect\x0d\x0afaked line location=https://evil.example/\x1b]0;owned\x07"
            ]
        );
    }

    #[test]
    fn json_lines_are_one_object_each_with_typed_fields() {
        let lines = capture(LogFormat::Json, || {
            tracing::info!(
                file = "audit-000001.jsonl",
                records = 12u64,
                "file closed\nx"
            );
        });
        assert_eq!(lines.len(), 1);
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["timestamp"], "2026-12-06T10:00:00.000Z");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["message"], "file closed\nx");
        assert_eq!(value["file"], "audit-000001.jsonl");
        assert_eq!(value["records"], 12);
    }

    #[test]
    fn text_values_with_spaces_are_quoted() {
        let lines = capture(LogFormat::Text, || {
            tracing::info!(reason = "a poll failed", n = 3u64, "stopped");
        });
        assert_eq!(
            lines.as_slice(),
            [r#"2026-12-06T10:00:00.000Z  INFO stopped reason="a poll failed" n=3"#]
        );
    }
}
