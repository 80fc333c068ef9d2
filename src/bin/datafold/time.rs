//! Durations (`7d`, `1h30m`, `500ms`) and points in time (RFC 3339 or a
//! date) as the command line takes them.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// The longest duration the command line takes: 100 years (36,525 days).
/// Longer ones are refused rather than left to overflow later.
pub const MAX_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

/// `90s`, `15m`, `1h30m`, `7d`, `2w`, `250ms`; a bare number is seconds.
/// More than zero and at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(text));
    }
    // A bare number is seconds.
    let with_unit;
    let mut rest = if text.bytes().all(|b| b.is_ascii_digit()) {
        with_unit = format!("{text}s");
        with_unit.as_str()
    } else {
        text
    };
    let mut total_ms: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(invalid(text)),
        };
        if number.is_empty() {
            return Err(invalid(text));
        }
        // Leading zeros aside, a number this long is beyond any limit.
        let significant = number.trim_start_matches('0');
        if significant.len() > 20 {
            return Err(too_long(text));
        }
        let n: u128 = significant.parse().unwrap_or(0);
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .filter(|&ms| ms <= MAX_DURATION.as_millis())
            .ok_or_else(|| too_long(text))?;
        rest = &rest[digits + unit_len..];
    }
    if total_ms == 0 {
        return Err(format!(
            "{text:?} is zero; a duration must be more than zero"
        ));
    }
    // At most MAX_DURATION, so it fits in a u64 of milliseconds.
    Ok(Duration::from_millis(total_ms as u64))
}

fn invalid(text: &str) -> String {
    format!("{text:?} is not a duration; write e.g. 30s, 15m, 1h30m, 7d")
}

fn too_long(text: &str) -> String {
    let shown: String = text.chars().take(40).collect();
    let more = if shown.len() < text.len() { "…" } else { "" };
    format!("{shown:?}{more} is longer than 100 years, the longest duration taken")
}

/// RFC 3339 (`2026-11-01T00:00:00Z`, offsets, no offset = UTC, a space for
/// `T`) or a date (`2026-11-01`, midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    datafold_sdk::audit::parse_timestamp(text).map_err(|_| {
        format!("{text:?} is not a time; write e.g. 2026-11-01 or 2026-11-01T12:00:00Z")
    })
}

/// A duration as a flag would take it: `250ms`, `45s`, `2m30s`, `1h30m`.
pub fn flag_text(duration: Duration) -> String {
    let millis = duration.subsec_millis();
    if duration.as_secs() == 0 || (millis != 0 && duration.as_secs() < 60) {
        return format!("{}ms", duration.as_millis());
    }
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    [(h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

/// `1h 2m 3s`-style text for people.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "h", "1y", "0s", "0", "0m0s", "-1h", "1.5h", "1h 2m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("36525d").unwrap(), MAX_DURATION);
        for too_long in [
            "36526d",
            "5300w",
            "4294967295w4294967295w",
            "99999999999999999999999999999999s",
        ] {
            let error = parse_duration(too_long).unwrap_err();
            assert!(error.contains("100 years"), "{too_long}: {error}");
        }
        assert!(parse_duration(&"4294967295w".repeat(8_000)).is_err());
    }

    #[test]
    fn flag_text_reads_back() {
        for text in ["250ms", "1500ms", "45s", "2m30s", "1h", "1h30m", "60s"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&flag_text(duration)).unwrap(), duration);
        }
        assert_eq!(flag_text(Duration::from_secs(60)), "1m");
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-01").unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-01T02:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert!(parse_time("soon").is_err());
    }
}
