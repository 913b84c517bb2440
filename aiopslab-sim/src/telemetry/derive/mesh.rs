//! Request metrics in the style of Istio's standard metrics, from the recorded requests.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `istio_requests_total` | counter | requests, by caller, callee and response code |
//! | `istio_request_duration_milliseconds_bucket` | counter | latency histogram (`le`, Istio's default buckets) |
//! | `istio_request_duration_milliseconds_sum` | counter | total latency, ms |
//! | `istio_request_duration_milliseconds_count` | counter | requests (same as `istio_requests_total`) |
//!
//! Labels: `reporter` (`destination` when the callee is traced and measured the call,
//! `source` for calls to untraced backends such as databases and caches),
//! `source_workload`, `source_workload_namespace`, `destination_workload`,
//! `destination_workload_namespace`, `destination_service_name` (the Kubernetes Service whose
//! selector picks the callee pod, else the traced service name or the host dialled),
//! `destination_service_namespace`, `destination_service` (FQDN), `request_protocol`,
//! `response_code` (`200`, `500`, ... `0` for a connection failure), `response_flags` (`-`),
//! `grpc_response_status` (gRPC: `0` for success, `14` for failures), and the scrape labels
//! `job="envoy-stats"`, `namespace`/`pod` of the reporting pod and `instance` (`<pod IP>:15090`).
//! Samples are cumulative at the scrape instants; a series starts with its first request and
//! stops when the reporting pod goes away. Example:
//! `sum by (destination_workload) (rate(istio_requests_total{response_code=~"5.."}[1m]))`.

use super::requests::{Buckets, CallAgg, CallKey, DURATION_BUCKETS_MS, Inner};
use super::timeline::{PodRec, State};
use crate::telemetry::labels::{LabelMatcher, matches_all};
use crate::telemetry::metrics::{MetricKind, Sample, Series};
use crate::telemetry::{Labels, METRIC_NAME};

/// `istio_requests_total`.
pub const REQUESTS_TOTAL: &str = "istio_requests_total";
/// `istio_request_duration_milliseconds_bucket`.
pub const DURATION_BUCKET: &str = "istio_request_duration_milliseconds_bucket";
/// `istio_request_duration_milliseconds_sum`.
pub const DURATION_SUM: &str = "istio_request_duration_milliseconds_sum";
/// `istio_request_duration_milliseconds_count`.
pub const DURATION_COUNT: &str = "istio_request_duration_milliseconds_count";
/// The mesh metric names.
pub const NAMES: [&str; 4] = [
    REQUESTS_TOTAL,
    DURATION_BUCKET,
    DURATION_SUM,
    DURATION_COUNT,
];

fn le_text(le: f64) -> String {
    if le.fract() == 0.0 {
        format!("{le:.0}")
    } else {
        format!("{le}")
    }
}

/// The Kubernetes Service (name) whose selector matches the pod, if any.
fn service_of(st: &State, pod: &PodRec) -> Option<String> {
    st.services
        .iter()
        .filter(|((ns, _), _)| ns == &pod.namespace)
        .filter_map(|((_, name), hist)| {
            let s = hist.last()?.state.as_ref()?;
            (!s.selector.is_empty() && s.selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
                .then(|| name.clone())
        })
        .next()
}

struct Resolved {
    labels: Vec<(String, String)>,
    end_ms: Option<i64>,
}

fn resolve(st: &State, k: &CallKey, at_ms: i64) -> Resolved {
    let src = (!k.src_pod.is_empty())
        .then(|| st.pod_at(&k.src_namespace, &k.src_pod, at_ms))
        .flatten();
    let dst = (!k.dst_pod.is_empty())
        .then(|| st.pod_at(&k.dst_namespace, &k.dst_pod, at_ms))
        .flatten();
    let unknown = || "unknown".to_string();
    let (src_wl, src_ns) = match (src, k.src_namespace.is_empty()) {
        (Some(p), _) => (p.workload(), p.namespace.clone()),
        (None, false) if !k.src_service.is_empty() => {
            (k.src_service.to_string(), k.src_namespace.to_string())
        }
        _ => (unknown(), unknown()),
    };
    let dst_wl = dst
        .map(|p| p.workload())
        .unwrap_or_else(|| k.dst_service.to_string());
    let dst_svc = dst
        .and_then(|p| service_of(st, p))
        .unwrap_or_else(|| k.dst_service.to_string());
    let reporter = if k.reporter == "destination" {
        dst
    } else {
        src
    };
    let (pod_ns, pod_name, ip) = match reporter {
        Some(p) => (p.namespace.clone(), p.name.clone(), p.ip.clone()),
        None if k.reporter == "destination" => (
            k.dst_namespace.to_string(),
            k.dst_pod.to_string(),
            String::new(),
        ),
        None => (
            k.src_namespace.to_string(),
            k.src_pod.to_string(),
            String::new(),
        ),
    };
    let mut labels = vec![
        ("reporter".to_string(), k.reporter.to_string()),
        ("source_workload".into(), src_wl),
        ("source_workload_namespace".into(), src_ns),
        ("destination_workload".into(), dst_wl),
        (
            "destination_workload_namespace".into(),
            k.dst_namespace.to_string(),
        ),
        ("destination_service_name".into(), dst_svc.clone()),
        (
            "destination_service_namespace".into(),
            k.dst_namespace.to_string(),
        ),
        (
            "destination_service".into(),
            format!("{dst_svc}.{}.svc.cluster.local", k.dst_namespace),
        ),
        ("request_protocol".into(), k.protocol.to_string()),
        ("response_code".into(), k.code.to_string()),
        ("response_flags".into(), "-".into()),
        ("job".into(), "envoy-stats".into()),
        ("namespace".into(), pod_ns),
        ("pod".into(), pod_name),
    ];
    if !ip.is_empty() {
        labels.push(("instance".into(), format!("{ip}:15090")));
    }
    if &*k.protocol == "grpc" {
        let ok = k.code.starts_with('2');
        labels.push((
            "grpc_response_status".into(),
            if ok { "0" } else { "14" }.into(),
        ));
    }
    Resolved {
        labels,
        end_ms: reporter.and_then(|p| p.end_ms()),
    }
}

/// The mesh series matching `matchers` with samples at the scrape instants in `[lo, hi]`.
pub(crate) fn series(
    st: &State,
    log: &Inner,
    matchers: &[LabelMatcher],
    lo: i64,
    hi: i64,
    interval: i64,
    with_samples: bool,
) -> Vec<Series> {
    let names: Vec<&str> = NAMES
        .iter()
        .copied()
        .filter(|n| {
            matchers
                .iter()
                .filter(|m| m.name == METRIC_NAME)
                .all(|m| m.matches_value(n))
        })
        .collect();
    if names.is_empty() || log.calls.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (key, buckets) in &log.calls {
        let Some((&first, _)) = buckets.by_start.iter().next() else {
            continue;
        };
        let first_seen = if buckets.folded.count > 0 {
            i64::MIN / 4
        } else {
            first
        };
        let r = resolve(st, key, first.max(lo));
        let start = first_seen.saturating_add(1);
        let end = r.end_ms.map_or(hi, |e| e.min(hi));
        let times = super::cadvisor::scrape_times(lo.max(start), end, interval);
        if times.is_empty() {
            continue;
        }
        let mut cum: Option<Vec<CallAgg>> = None;
        for name in &names {
            let les: Vec<Option<usize>> = if *name == DURATION_BUCKET {
                (0..=DURATION_BUCKETS_MS.len()).map(Some).collect()
            } else {
                vec![None]
            };
            for le in les {
                let mut pairs: Vec<(&str, &str)> = r
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                pairs.push((METRIC_NAME, name));
                let le_s = le.map(|i| {
                    DURATION_BUCKETS_MS
                        .get(i)
                        .map_or_else(|| "+Inf".to_string(), |v| le_text(*v))
                });
                if let Some(l) = &le_s {
                    pairs.push(("le", l));
                }
                let labels = Labels::new(pairs);
                if !matches_all(matchers, &labels) {
                    continue;
                }
                let samples = if with_samples {
                    let c = cum.get_or_insert_with(|| cumulative(buckets, &times));
                    times
                        .iter()
                        .zip(c.iter())
                        .map(|(t, a)| {
                            let v = match (*name, le) {
                                (DURATION_SUM, _) => a.sum_ms,
                                (DURATION_BUCKET, Some(i)) if i < DURATION_BUCKETS_MS.len() => {
                                    a.buckets.iter().take(i + 1).sum::<u64>() as f64
                                }
                                _ => a.count as f64,
                            };
                            Sample::new(*t, v)
                        })
                        .collect()
                } else {
                    vec![Sample::new(times[0], 0.0)]
                };
                out.push(Series::new(labels, MetricKind::Counter, samples));
            }
        }
    }
    out
}

/// Cumulative aggregates at each instant: every interval that started before it.
fn cumulative(b: &Buckets<CallAgg>, times: &[i64]) -> Vec<CallAgg> {
    let mut acc = b.folded.clone();
    let mut it = b.by_start.iter().peekable();
    let mut out = Vec::with_capacity(times.len());
    for &t in times {
        while let Some((start, agg)) = it.peek() {
            if **start < t {
                acc.count += agg.count;
                acc.sum_ms += agg.sum_ms;
                for (a, x) in acc.buckets.iter_mut().zip(agg.buckets.iter()) {
                    *a += x;
                }
                it.next();
            } else {
                break;
            }
        }
        out.push(acc.clone());
    }
    out
}
