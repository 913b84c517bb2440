//! PromQL engine semantics checked against values computed by hand from Prometheus' rules.

use aiopslab_sim::telemetry::promql::{Engine, QueryError, QueryResult};
use aiopslab_sim::telemetry::{InMemoryMetrics, Labels, Sample};

const S: i64 = 1000;

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut v: Vec<(String, String)> = vec![("__name__".into(), name.into())];
    v.extend(
        pairs
            .iter()
            .map(|(k, val)| (k.to_string(), val.to_string())),
    );
    Labels::new(v)
}

fn vector(m: &InMemoryMetrics, q: &str, t: i64) -> Vec<(String, f64)> {
    match Engine::new(m).instant(q, t) {
        Ok(QueryResult::Vector(v)) => v
            .into_iter()
            .map(|e| (e.labels.to_string(), e.sample.v))
            .collect(),
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

fn single(m: &InMemoryMetrics, q: &str, t: i64) -> f64 {
    let v = vector(m, q, t);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

/// A counter scraped every 15 s from t=10 s to t=295 s, growing 2/s from 100.
fn offset_counter() -> InMemoryMetrics {
    let m = InMemoryMetrics::new();
    m.counter(
        labels("req_total", &[("job", "api")]),
        (0..20).map(|k| ((10 + 15 * k) * S, 100.0 + 30.0 * k as f64)),
    );
    m
}

#[test]
fn rate_and_increase_extrapolate_to_the_window_edges() {
    let m = offset_counter();
    // Window [0 s, 300 s]: first sample 10 s after the start, last 5 s before the end; both gaps
    // are under 1.1 x the 15 s spacing, so the 285 s of samples extrapolate to 300 s.
    let inc = single(&m, "increase(req_total[5m])", 300 * S);
    assert!(close(inc, 570.0 * 300.0 / 285.0), "{inc}");
    let rate = single(&m, "rate(req_total[5m])", 300 * S);
    assert!(close(rate, 2.0), "{rate}");
    // Window [270 s, 330 s]: samples at 280 s and 295 s. The start gap (10 s) extrapolates fully,
    // the end gap (35 s) is over the threshold, so only half a spacing (7.5 s) is added.
    let inc = single(&m, "increase(req_total[1m])", 330 * S);
    assert!(close(inc, 30.0 * 32.5 / 15.0), "{inc}");
    let rate = single(&m, "rate(req_total[1m])", 330 * S);
    assert!(close(rate, 30.0 * 32.5 / 15.0 / 60.0), "{rate}");
    // One sample only: no result.
    assert!(vector(&m, "rate(req_total[10s])", 300 * S).is_empty());
}

#[test]
fn counter_extrapolation_stops_at_zero() {
    let m = InMemoryMetrics::new();
    m.counter(
        labels("c_total", &[]),
        [(60 * S, 2.0), (75 * S, 5.0), (90 * S, 8.0)],
    );
    // Window [30 s, 90 s]: the 30 s start gap would extrapolate below zero; the counter's zero
    // point is 10 s before the first sample, so only 10 s is added: 6 * 40 / 30.
    let inc = single(&m, "increase(c_total[1m])", 90 * S);
    assert!(close(inc, 8.0), "{inc}");
    // delta() is not a counter function: it extrapolates by half a spacing (7.5 s).
    let d = single(&m, "delta(c_total[1m])", 90 * S);
    assert!(close(d, 6.0 * 37.5 / 30.0), "{d}");
}

#[test]
fn counter_resets_are_compensated() {
    let m = InMemoryMetrics::new();
    m.counter(
        labels("c_total", &[("pod", "a")]),
        [
            (0, 10.0),
            (15 * S, 20.0),
            (30 * S, 5.0),
            (45 * S, 15.0),
            (60 * S, 25.0),
        ],
    );
    // 25 - 10 + 20 (lost at the reset) = 35 over exactly the window: no extrapolation.
    let inc = single(&m, "increase(c_total[1m])", 60 * S);
    assert!(close(inc, 35.0), "{inc}");
    assert!(close(single(&m, "rate(c_total[1m])", 60 * S), 35.0 / 60.0));
    assert!(close(single(&m, "irate(c_total[1m])", 60 * S), 10.0 / 15.0));
    // At 30 s the last two samples straddle the reset: irate takes the new value as the increase.
    assert!(close(single(&m, "irate(c_total[1m])", 30 * S), 5.0 / 15.0));
    assert!(close(single(&m, "idelta(c_total[1m])", 30 * S), -15.0));
    assert_eq!(single(&m, "resets(c_total[1m])", 60 * S), 1.0);
    assert_eq!(single(&m, "changes(c_total[1m])", 60 * S), 4.0);
}

fn cpu() -> InMemoryMetrics {
    let m = InMemoryMetrics::new();
    let series = [
        ("geo-1", "geo", "node-a", 1.0),
        ("geo-2", "geo", "node-b", 3.0),
        ("rate-1", "rate", "node-a", 5.0),
        ("frontend-1", "frontend", "node-b", 10.0),
    ];
    for (pod, svc, node, v) in series {
        m.gauge(
            labels(
                "cpu",
                &[
                    ("pod", pod),
                    ("service", svc),
                    ("instance", node),
                    ("namespace", "hotel"),
                ],
            ),
            [(0, v), (60 * S, v * 2.0)],
        );
        m.gauge(
            labels(
                "limit",
                &[("pod", pod), ("service", svc), ("namespace", "hotel")],
            ),
            [(0, 20.0)],
        );
    }
    m
}

#[test]
fn aggregations_group_by_and_without() {
    let m = cpu();
    let t = 60 * S;
    assert_eq!(
        vector(&m, "sum by (service) (cpu)", t),
        vec![
            (r#"{service="geo"}"#.to_string(), 8.0),
            (r#"{service="rate"}"#.to_string(), 10.0),
            (r#"{service="frontend"}"#.to_string(), 20.0),
        ]
    );
    assert_eq!(
        vector(&m, "sum without (pod, service) (cpu)", t),
        vec![
            (
                r#"{instance="node-a", namespace="hotel"}"#.to_string(),
                12.0
            ),
            (
                r#"{instance="node-b", namespace="hotel"}"#.to_string(),
                26.0
            ),
        ]
    );
    assert_eq!(single(&m, "sum(cpu)", t), 38.0);
    assert_eq!(single(&m, "avg(cpu)", t), 9.5);
    assert_eq!(single(&m, "max(cpu)", t), 20.0);
    assert_eq!(single(&m, "min(cpu)", t), 2.0);
    assert_eq!(single(&m, "count(cpu)", t), 4.0);
    // Quantile 0.5 of [2, 6, 10, 20]: rank 1.5 -> 6 + 0.5 * (10 - 6).
    assert_eq!(single(&m, "quantile(0.5, cpu)", t), 8.0);
    assert_eq!(single(&m, "stddev(limit)", t), 0.0);
    assert_eq!(
        vector(&m, r#"count_values("v", limit)"#, t),
        vec![(r#"{v="20"}"#.to_string(), 4.0)]
    );
}

#[test]
fn topk_and_bottomk_keep_series_labels_in_value_order() {
    let m = cpu();
    let t = 60 * S;
    let top: Vec<String> = vector(&m, "topk(2, cpu)", t)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(top.len(), 2);
    assert!(top[0].contains(r#"pod="frontend-1""#) && top[0].contains(r#"__name__="cpu""#));
    assert!(top[1].contains(r#"pod="rate-1""#));
    let bottom = vector(&m, "bottomk(1, cpu)", t);
    assert!(bottom[0].0.contains(r#"pod="geo-1""#) && bottom[0].1 == 2.0);
    let per_service = vector(&m, "topk by (service) (1, cpu)", t);
    assert_eq!(per_service.len(), 3);
}

#[test]
fn arithmetic_and_vector_matching() {
    let m = cpu();
    let t = 60 * S;
    // One-to-one matching on all labels but the name; `instance` differs, so ignore it.
    let ratio = vector(&m, "cpu / ignoring(instance) limit", t);
    assert_eq!(ratio.len(), 4);
    assert!(ratio.iter().all(|(l, _)| !l.contains("__name__")));
    assert!(
        ratio
            .iter()
            .any(|(l, v)| l == r#"{namespace="hotel", pod="geo-2", service="geo"}"# && *v == 0.3)
    );
    let on = vector(
        &m,
        "sum by (service) (cpu) / on(service) group_left sum by (service) (limit)",
        t,
    );
    assert!(on.contains(&(r#"{service="geo"}"#.to_string(), 0.2)));
    // group_left copies a label from the "one" side.
    let joined = vector(&m, "limit * on(pod) group_left(instance) (cpu * 0 + 1)", t);
    assert!(
        joined
            .iter()
            .any(|(l, v)| l.contains(r#"instance="node-b""#)
                && l.contains(r#"pod="geo-2""#)
                && *v == 20.0)
    );
    assert_eq!(single(&m, "sum(cpu) * 2 + 1", t), 77.0);
    assert_eq!(single(&m, "-sum(cpu)", t), -38.0);
    assert_eq!(single(&m, "sum(cpu) % 5", t), 3.0);
    assert_eq!(single(&m, "2 ^ 3 * sum(limit)", t), 640.0);
    match Engine::new(&m).instant("1 + 2 * 3", t).unwrap() {
        QueryResult::Scalar(s) => assert_eq!(s, Sample::new(t, 7.0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn comparisons_filter_or_return_bool() {
    let m = cpu();
    let t = 60 * S;
    let over = vector(&m, "cpu > 5", t);
    assert_eq!(over.len(), 3);
    // A filtering comparison keeps the metric name and the left value.
    assert!(
        over.iter()
            .all(|(l, v)| l.contains(r#"__name__="cpu""#) && *v > 5.0)
    );
    // Scalar on the left: the vector's value is kept.
    assert_eq!(vector(&m, "5 < cpu", t), over);
    let flags = vector(&m, "cpu > bool 5", t);
    assert_eq!(flags.len(), 4);
    assert_eq!(flags.iter().map(|(_, v)| v).sum::<f64>(), 3.0);
    assert!(flags.iter().all(|(l, _)| !l.contains("__name__")));
    assert_eq!(vector(&m, "cpu == bool cpu", t).len(), 4);
    assert_eq!(vector(&m, "cpu and ignoring(instance) limit", t).len(), 4);
    assert_eq!(vector(&m, r#"cpu unless cpu{service="geo"}"#, t).len(), 2);
    assert_eq!(vector(&m, r#"cpu{service="geo"} or cpu"#, t).len(), 4);
    match Engine::new(&m).instant("2 > bool 1", t).unwrap() {
        QueryResult::Scalar(s) => assert_eq!(s.v, 1.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn label_matchers_are_fully_anchored() {
    let m = cpu();
    let t = 60 * S;
    assert_eq!(vector(&m, r#"cpu{pod=~"geo-.*"}"#, t).len(), 2);
    // Anchored: "eo" does not match "geo-1".
    assert_eq!(vector(&m, r#"cpu{pod=~"eo"}"#, t).len(), 0);
    assert_eq!(vector(&m, r#"cpu{pod!~"geo-.*|rate-1"}"#, t).len(), 1);
    assert_eq!(vector(&m, r#"cpu{service!="geo"}"#, t).len(), 2);
    assert_eq!(
        vector(&m, r#"cpu{service="geo",instance="node-b"}"#, t).len(),
        1
    );
    // A missing label matches the empty string.
    assert_eq!(vector(&m, r#"cpu{missing=""}"#, t).len(), 4);
    assert_eq!(vector(&m, r#"{__name__=~"cpu|limit"}"#, t).len(), 8);
    assert_eq!(vector(&m, r#"{__name__="cpu", pod="geo-1"}"#, t).len(), 1);
}

#[test]
fn lookback_offset_and_at() {
    let m = InMemoryMetrics::new();
    m.gauge(labels("g", &[]), [(0, 1.0), (30 * S, 2.0)]);
    // The latest sample within 5 minutes (closed interval) is used.
    assert_eq!(single(&m, "g", 15 * S), 1.0);
    assert_eq!(single(&m, "g", 330 * S), 2.0);
    assert!(vector(&m, "g", 331 * S).is_empty());
    assert!(vector(&m, "g", -S).is_empty());
    assert_eq!(single(&m, "g offset 30s", 45 * S), 1.0);
    assert_eq!(single(&m, "g @ 10", 100 * S), 1.0);
    assert_eq!(single(&m, "g @ 40", 0), 2.0);
    assert_eq!(single(&m, "timestamp(g)", 100 * S), 30.0);
    assert_eq!(single(&m, "last_over_time(g[1m])", 45 * S), 2.0);
    assert_eq!(single(&m, "avg_over_time(g[1m])", 45 * S), 1.5);
    assert_eq!(single(&m, "max_over_time(g[1m] offset 30s)", 45 * S), 1.0);
    assert_eq!(single(&m, "count_over_time(g[1m])", 60 * S), 2.0);
    assert_eq!(single(&m, "quantile_over_time(0.5, g[1m])", 60 * S), 1.5);
    // A subquery of the gauge every 10 s over the last 30 s: values at 0, 10, 20, 30 s.
    assert_eq!(single(&m, "sum_over_time(g[30s:10s])", 30 * S), 5.0);
    // The name is kept by last_over_time and dropped by the other *_over_time functions.
    match Engine::new(&m)
        .instant("last_over_time(g[1m])", 45 * S)
        .unwrap()
    {
        QueryResult::Vector(v) => assert_eq!(v[0].labels.metric_name(), Some("g")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn range_queries_evaluate_at_each_step() {
    let m = InMemoryMetrics::new();
    m.gauge(labels("g", &[("a", "1")]), [(0, 1.0), (30 * S, 2.0)]);
    m.gauge(labels("g", &[("a", "2")]), [(0, 5.0)]);
    let r = Engine::new(&m).range("g", 0, 400 * S, 100 * S).unwrap();
    let QueryResult::Matrix(series) = r else {
        panic!("{r:?}")
    };
    assert_eq!(series.len(), 2);
    // Sorted by labels; the series vanish once their last sample is older than 5 minutes.
    assert_eq!(series[0].labels.get("a"), Some("1"));
    assert_eq!(
        series[0].samples,
        vec![
            Sample::new(0, 1.0),
            Sample::new(100 * S, 2.0),
            Sample::new(200 * S, 2.0),
            Sample::new(300 * S, 2.0)
        ]
    );
    assert_eq!(
        series[1].samples,
        vec![
            Sample::new(0, 5.0),
            Sample::new(100 * S, 5.0),
            Sample::new(200 * S, 5.0),
            Sample::new(300 * S, 5.0)
        ]
    );
    // Steps start exactly at `start` (no alignment) and stop at or before `end`.
    let QueryResult::Matrix(s) = Engine::new(&m)
        .range("sum(g)", 7 * S, 40 * S, 15 * S)
        .unwrap()
    else {
        panic!()
    };
    let times: Vec<i64> = s[0].samples.iter().map(|p| p.t).collect();
    assert_eq!(times, vec![7 * S, 22 * S, 37 * S]);
    assert_eq!(s[0].samples[2].v, 7.0);
    // A scalar expression gives one series without labels.
    let QueryResult::Matrix(s) = Engine::new(&m).range("time()", 0, 30 * S, 15 * S).unwrap() else {
        panic!()
    };
    assert!(s[0].labels.is_empty());
    assert_eq!(s[0].samples[2], Sample::new(30 * S, 30.0));
    // Counter rate over a range.
    let c = offset_counter();
    let QueryResult::Matrix(s) = Engine::new(&c)
        .range("rate(req_total[5m])", 300 * S, 300 * S, 15 * S)
        .unwrap()
    else {
        panic!()
    };
    assert!(close(s[0].samples[0].v, 2.0));
}

#[test]
fn functions_on_instant_vectors() {
    let m = cpu();
    let t = 60 * S;
    assert_eq!(single(&m, r#"abs(-cpu{pod="geo-1"})"#, t), 2.0);
    assert_eq!(single(&m, r#"clamp_max(cpu{pod="frontend-1"}, 7)"#, t), 7.0);
    assert_eq!(single(&m, r#"round(cpu{pod="geo-1"} / 3, 0.1)"#, t), 0.7);
    assert_eq!(single(&m, "scalar(sum(cpu)) + 0 * vector(1)", t), 38.0);
    let replaced = vector(
        &m,
        r#"label_replace(cpu{pod="geo-1"}, "app", "$1", "pod", "(.*)-[0-9]+")"#,
        t,
    );
    assert!(replaced[0].0.contains(r#"app="geo""#), "{replaced:?}");
    let sorted: Vec<f64> = vector(&m, "sort_desc(cpu)", t)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(sorted, vec![20.0, 10.0, 6.0, 2.0]);
    assert_eq!(
        vector(&m, r#"absent(nothing{job="x"})"#, t),
        vec![(r#"{job="x"}"#.to_string(), 1.0)]
    );
    assert!(vector(&m, "absent(cpu)", t).is_empty());
}

#[test]
fn histogram_quantile_interpolates_within_buckets() {
    let m = InMemoryMetrics::new();
    for (le, v) in [("0.1", 10.0), ("0.5", 60.0), ("1", 90.0), ("+Inf", 100.0)] {
        m.gauge(
            labels("lat_bucket", &[("le", le), ("svc", "geo")]),
            [(0, v)],
        );
    }
    // Rank 50 lies in (0.1, 0.5]: 0.1 + 0.4 * (50 - 10) / 50.
    let q = single(&m, "histogram_quantile(0.5, lat_bucket)", 0);
    assert!(close(q, 0.1 + 0.4 * 40.0 / 50.0), "{q}");
    // Rank 99 lies in the +Inf bucket: the highest finite bound.
    assert_eq!(single(&m, "histogram_quantile(0.99, lat_bucket)", 0), 1.0);
}

#[test]
fn errors_are_typed_and_name_the_construct() {
    let m = cpu();
    let e = Engine::new(&m)
        .instant("holt_winters(cpu[5m], 0.5, 0.5)", 0)
        .unwrap_err();
    assert!(
        matches!(&e, QueryError::BadData(msg) if msg.contains("holt_winters")),
        "{e}"
    );
    let e = Engine::new(&m).instant("sum(", 0).unwrap_err();
    assert!(
        matches!(&e, QueryError::BadData(msg) if msg.starts_with("invalid parameter \"query\"")),
        "{e}"
    );
    let e = Engine::new(&m).instant("limitk(1, cpu)", 0).unwrap_err();
    assert!(e.to_string().contains("limitk"), "{e}");
    let e = Engine::new(&m)
        .range("cpu[5m]", 0, 60 * S, 15 * S)
        .unwrap_err();
    assert!(e.to_string().contains("range vector"), "{e}");
    // Dropping the name makes two series identical: Prometheus refuses such a vector.
    let dup = InMemoryMetrics::new();
    dup.gauge(labels("a", &[("x", "1")]), [(0, 1.0)]);
    dup.gauge(labels("b", &[("x", "1")]), [(0, 2.0)]);
    let e = Engine::new(&dup)
        .instant(r#"abs({__name__=~"a|b"})"#, 0)
        .unwrap_err();
    assert_eq!(
        e,
        QueryError::Execution("vector cannot contain metrics with the same labelset".into())
    );
    let e = Engine::new(&dup)
        .instant(r#"{__name__=~"a|b"} + ignoring(x) {__name__=~"a|b"}"#, 0)
        .unwrap_err();
    assert!(e.to_string().contains("duplicate series"), "{e}");
}
