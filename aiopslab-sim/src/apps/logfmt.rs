//! Time placeholders of log lines, rendered at a given instant: the same names the kubelet
//! renders for container logs (see [`LogLine`](crate::controllers::behavior::LogLine)), for
//! lines the request flow emits.
//!
//! ```
//! use aiopslab_sim::apps::logfmt::render_time;
//! let t: jiff::Timestamp = "2026-09-15T13:19:22.5Z".parse().unwrap();
//! assert_eq!(render_time("{nginx_time} [error]", t), "2026/09/15 13:19:22 [error]");
//! assert_eq!(render_time("[{boost_time}] <error>", t), "[2026-Sep-15 13:19:22.500000] <error>");
//! ```

use jiff::{Timestamp, tz::TimeZone};

/// Replaces `{ts}`, `{time}`, `{nginx_time}`, `{klog_time}`, `{boost_time}`, `{ctime}`,
/// `{mongo_time}`, `{redis_time}` and `{epoch}` with `t`.
pub fn render_time(text: &str, t: Timestamp) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let z = t.to_zoned(TimeZone::UTC);
    let mut out = text.to_string();
    let pairs: [(&str, &str); 9] = [
        ("{ts}", "%Y-%m-%dT%H:%M:%S%.9fZ"),
        ("{time}", "%Y-%m-%dT%H:%M:%SZ"),
        ("{nginx_time}", "%Y/%m/%d %H:%M:%S"),
        ("{klog_time}", "%m%d %H:%M:%S%.6f"),
        ("{boost_time}", "%Y-%b-%d %H:%M:%S%.6f"),
        ("{ctime}", "%a %b %e %H:%M:%S %Y"),
        ("{mongo_time}", "%Y-%m-%dT%H:%M:%S%.3f+00:00"),
        ("{redis_time}", "%d %b %Y %H:%M:%S%.3f"),
        ("{epoch}", "%s%.6f"),
    ];
    for (key, fmt) in pairs {
        if out.contains(key) {
            out = out.replace(key, &z.strftime(fmt).to_string());
        }
    }
    out
}
