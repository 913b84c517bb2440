//! Human-readable durations and ages, with the rounding rules of Kubernetes' apimachinery
//! (`k8s.io/apimachinery/pkg/util/duration`), which every AGE column uses.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Formats a duration the way `kubectl get` prints ages: about two significant figures.
///
/// The rules are those of apimachinery's `HumanDuration`: seconds up to `119s`, then
/// minutes and seconds up to ten minutes (`3m5s`, `5m`), minutes up to three hours (`150m`),
/// hours and minutes up to eight hours (`7h30m`), hours up to two days (`47h`), days and hours
/// up to eight days (`2d3h`), days up to two years (`400d`), years and days up to eight years
/// (`3y45d`), then years (`9y`). A negative duration of less than two seconds (a little clock
/// skew) is `0s`; anything more negative is `<invalid>`.
///
/// ```
/// use aiopslab_sim::table::human_duration;
/// use jiff::SignedDuration;
/// assert_eq!(human_duration(SignedDuration::from_secs(45)), "45s");
/// assert_eq!(human_duration(SignedDuration::from_secs(185)), "3m5s");
/// assert_eq!(human_duration(SignedDuration::from_hours(51)), "2d3h");
/// assert_eq!(human_duration(SignedDuration::from_secs(-5)), "<invalid>");
/// ```
pub fn human_duration(d: SignedDuration) -> String {
    // Whole seconds, truncated toward zero as Go's int(d.Seconds()) does.
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{h}h", hours / 24);
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{dy}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

/// Formats a duration with one unit only (`45s`, `12m`, `5h`, `3d`, `2y`), as apimachinery's
/// `ShortHumanDuration` does; the same clock-skew rule as [`human_duration`] applies.
///
/// ```
/// use aiopslab_sim::table::short_human_duration;
/// use jiff::SignedDuration;
/// assert_eq!(short_human_duration(SignedDuration::from_secs(185)), "3m");
/// ```
pub fn short_human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 24 {
        return format!("{hours}h");
    }
    if hours < 24 * 365 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", hours / 24 / 365)
}

/// How long ago `timestamp` (an RFC 3339 string such as a `creationTimestamp`) was, as printed
/// in AGE columns; `<unknown>` when the timestamp is missing, empty or unreadable.
///
/// ```
/// use aiopslab_sim::table::age;
/// let now = "2026-01-01T00:10:00Z".parse().unwrap();
/// assert_eq!(age(now, Some("2026-01-01T00:00:00Z")), "10m");
/// assert_eq!(age(now, None), "<unknown>");
/// ```
pub fn age(now: Timestamp, timestamp: Option<&str>) -> String {
    match timestamp.and_then(parse_time) {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

/// Parses an RFC 3339 time (`metav1.Time` or `metav1.MicroTime`); `None` for empty or bad text.
pub(super) fn parse_time(text: &str) -> Option<Timestamp> {
    if text.is_empty() {
        return None;
    }
    text.parse::<Timestamp>().ok()
}

/// Reads a JSON timestamp field; `None` when it is absent, null, empty or unreadable.
pub(super) fn time_of(value: Option<&Value>) -> Option<Timestamp> {
    value.and_then(Value::as_str).and_then(parse_time)
}

/// The server's `translateTimestampSince`: the age of a JSON timestamp field.
pub(super) fn since(now: Timestamp, value: Option<&Value>) -> String {
    age(now, value.and_then(Value::as_str))
}

/// The age of an already parsed instant, `<unknown>` for none.
pub(super) fn since_time(now: Timestamp, t: Option<Timestamp>) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    #[test]
    fn human_duration_follows_the_apimachinery_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (45, "45s"),
            (59, "59s"),
            (60, "60s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (185, "3m5s"),
            (312, "5m12s"),
            (599, "9m59s"),
            (600, "10m"),
            (659, "10m"),
            (3600, "60m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (7 * 3600 + 59 * 60 + 59, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 3599, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (400 * 86400, "400d"),
            (2 * 365 * 86400 - 1, "729d"),
            (2 * 365 * 86400, "2y"),
            (3 * 365 * 86400 + 45 * 86400, "3y45d"),
            (4 * 365 * 86400, "4y"),
            (8 * 365 * 86400, "8y"),
            (9 * 365 * 86400 + 100 * 86400, "9y"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(secs(*s)), *want, "{s}s");
        }
    }

    #[test]
    fn human_duration_tolerates_small_skew_and_rejects_large() {
        assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
        assert_eq!(human_duration(secs(-1)), "0s");
        assert_eq!(human_duration(secs(-2)), "<invalid>");
        assert_eq!(human_duration(secs(-86400 * 400)), "<invalid>");
        assert_eq!(human_duration(SignedDuration::MIN), "<invalid>");
        assert_eq!(human_duration(SignedDuration::MAX), "292471208677y");
        // Sub-second parts are dropped, not rounded.
        assert_eq!(human_duration(SignedDuration::from_millis(119_999)), "119s");
    }

    #[test]
    fn short_human_duration_uses_one_unit() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86399, "23h"),
            (86400, "1d"),
            (365 * 86400, "1y"),
        ];
        for (s, want) in cases {
            assert_eq!(short_human_duration(secs(*s)), *want, "{s}s");
        }
    }

    #[test]
    fn ages_read_rfc3339_and_micro_times() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        assert_eq!(age(now, Some("2026-01-01T00:59:15Z")), "45s");
        assert_eq!(age(now, Some("2026-01-01T00:59:15.123456Z")), "44s");
        assert_eq!(age(now, Some("")), "<unknown>");
        assert_eq!(age(now, Some("yesterday")), "<unknown>");
        assert_eq!(age(now, Some("2026-01-01T01:00:30Z")), "<invalid>");
        assert_eq!(since(now, Some(&Value::Null)), "<unknown>");
    }
}
