//! The Prometheus text exposition format (0.0.4) of the latest sample of every series, so that
//! a real Prometheus can scrape the virtual cluster in real time.

use super::labels::METRIC_NAME;
use super::metrics::{MetricKind, MetricSource};
use super::promql::format_value;
use super::window::TimeWindow;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value for the text format (backslash, double quote, newline).
fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Renders every series' latest sample at or before `now` (within `lookback` ms) as text,
/// grouped in families sorted by metric name, each with its `# TYPE` line. Series without a
/// metric name are skipped. Timestamps are left out, so the scraper stamps its scrape time.
///
/// ```
/// use aiopslab_sim::telemetry::{InMemoryMetrics, Labels, exposition::render};
/// let m = InMemoryMetrics::new();
/// m.counter(Labels::new([("__name__", "req_total"), ("pod", "a")]), [(0, 1.0), (15_000, 3.0)]);
/// assert_eq!(render(&m, 20_000, 300_000), "# TYPE req_total counter\nreq_total{pod=\"a\"} 3\n");
/// ```
pub fn render(source: &dyn MetricSource, now: i64, lookback: i64) -> String {
    let series = source.select(&[], TimeWindow::new(now - lookback, now));
    let mut families: BTreeMap<String, (MetricKind, Vec<String>)> = BTreeMap::new();
    for s in series {
        let Some(name) = s.labels.metric_name().map(str::to_string) else {
            continue;
        };
        let Some(last) = s.samples.last() else {
            continue;
        };
        let mut line = name.clone();
        let labels: Vec<String> = s
            .labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .map(|l| format!("{}=\"{}\"", l.name, escape_label_value(&l.value)))
            .collect();
        if !labels.is_empty() {
            line.push('{');
            line.push_str(&labels.join(","));
            line.push('}');
        }
        line.push(' ');
        line.push_str(&format_value(last.v));
        families
            .entry(name)
            .or_insert((s.kind, Vec::new()))
            .1
            .push(line);
    }
    let mut out = String::new();
    for (name, (kind, mut lines)) in families {
        lines.sort();
        let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}
