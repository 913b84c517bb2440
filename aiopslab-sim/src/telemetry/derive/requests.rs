//! The hook through which simulated requests reach telemetry: [`RequestLog`].
//!
//! Whoever simulates a request through the applications (the wrk2 workload, a `curl` run by
//! `kubectl exec`, a probe) records its outcome here as a [`RecordedRequest`]: a tree of spans
//! (service, operation, pod, times, outcome, tags) and the log lines it made containers print.
//! The log is attached to the cluster's store, so any layer reaches it without wiring:
//!
//! ```
//! use aiopslab_sim::clock::WallClock;
//! use aiopslab_sim::store::Store;
//! use aiopslab_sim::telemetry::derive::{RecordedRequest, RecordedSpan, RequestLog, SpanKind};
//! use std::sync::Arc;
//!
//! let store = Store::new(1, Arc::new(WallClock));
//! let log = store.extension::<RequestLog>();
//! let root = RecordedSpan {
//!     service: "frontend".into(),
//!     operation: "HTTP GET /hotels".into(),
//!     kind: SpanKind::Server,
//!     start_us: 1_767_225_600_000_000,
//!     duration_us: 2_500,
//!     namespace: "test-hotel-reservation".into(),
//!     pod: "frontend-6b8b8b8f9d-x2x7q".into(),
//!     status_code: Some(200),
//!     protocol: "http".into(),
//!     ..RecordedSpan::default()
//! };
//! log.record(RecordedRequest { sampled: true, spans: vec![root], logs: vec![] });
//! assert_eq!(log.recorded(), 1);
//! ```
//!
//! What is kept, all bounded: the sampled requests as traces (the newest
//! [`RequestLimits::max_traces`]), their log lines (the newest [`RequestLimits::max_logs`]),
//! and, for every request sampled or not, per-scrape-interval aggregates: calls between
//! workloads (count, failures, latency histogram) and the bytes each pod sent and received.
//! Traces, logs and metrics are built from these when asked.

use super::compact::{CLog, CSpan, Fnv, Interner, StoredRequest, Str};
use crate::telemetry::traces::{SpanLog, Tag};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, MutexGuard};

/// The role of a span (Jaeger's `span.kind` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum SpanKind {
    /// Handles a request (`server`).
    #[default]
    Server,
    /// Makes a call (`client`).
    Client,
    /// Neither (no `span.kind` tag).
    Internal,
    /// Sends a message (`producer`).
    Producer,
    /// Receives a message (`consumer`).
    Consumer,
}

impl SpanKind {
    /// The `span.kind` tag value (`""` for internal spans).
    pub fn as_str(&self) -> &'static str {
        match self {
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Internal => "",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// One span of a simulated request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedSpan {
    /// Index of the parent span in [`RecordedRequest::spans`] (`None` for the root).
    pub parent: Option<usize>,
    /// The Jaeger service name (`frontend`, `compose-post-service`, `nginx-web-server`).
    pub service: String,
    /// The operation (`HTTP GET /hotels`, `/geo.Geo/Nearby`, `compose_post_client`).
    pub operation: String,
    /// Server, client, ...
    pub kind: SpanKind,
    /// Start, Unix microseconds.
    pub start_us: i64,
    /// Duration in microseconds.
    pub duration_us: i64,
    /// Namespace of the pod that made the span.
    pub namespace: String,
    /// The pod that made the span (`""` when unknown, e.g. the workload client).
    pub pod: String,
    /// That pod's IP (process tag `ip`), if known.
    pub pod_ip: String,
    /// Tags the span with `error=true`.
    pub error: bool,
    /// Tags the span with `http.status_code`.
    pub status_code: Option<i64>,
    /// Whether the operation failed, for the request metrics, whatever the tracer tagged (a
    /// tracer may leave failed spans untagged). `error` also counts as failed.
    pub failed: bool,
    /// More span tags (`http.method`, `component`, `response_code`, ...), in order.
    pub tags: Vec<Tag>,
    /// More process tags (`jaeger.version`, ...); `hostname` and `ip` are added from the pod.
    pub process_tags: Vec<Tag>,
    /// Span logs (error events).
    pub logs: Vec<SpanLog>,
    /// Client spans: the Service or host dialled (`geo`, `mongodb-rate`); used as the
    /// destination of calls to untraced backends.
    pub peer_service: String,
    /// `http`, `grpc`, `thrift`, `mongodb`, `memcached`, `redis`, `tcp` (the destination's
    /// protocol, as the request metrics label it).
    pub protocol: String,
    /// Request size in bytes (0: a typical size for the protocol).
    pub request_bytes: u64,
    /// Response size in bytes (0: a typical size for the protocol).
    pub response_bytes: u64,
}

/// One log line a request made a container print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedLog {
    /// When, Unix ms.
    pub time_ms: i64,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The line, without a trailing newline.
    pub message: String,
}

/// One simulated request: its spans (parents before children is not required) and log lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedRequest {
    /// Whether the tracer sampled it: unsampled requests count in the metrics but leave no
    /// trace (Social Network samples 1 % at nginx).
    pub sampled: bool,
    /// The spans.
    pub spans: Vec<RecordedSpan>,
    /// Log lines it caused.
    pub logs: Vec<RecordedLog>,
}

impl RecordedRequest {
    /// The earliest span start (µs), or 0.
    pub fn start_us(&self) -> i64 {
        self.spans.iter().map(|s| s.start_us).min().unwrap_or(0)
    }
}

/// Bounds of a [`RequestLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Sampled requests kept as traces (oldest dropped first).
    pub max_traces: usize,
    /// At most this many traces are kept per second of start time (the first ones recorded);
    /// the others still count in the metrics.
    pub max_traces_per_second: usize,
    /// Request log lines kept (oldest dropped first).
    pub max_logs: usize,
    /// Aggregation interval (the scrape interval), ms.
    pub bucket_ms: i64,
    /// Aggregate intervals kept per series before the oldest are folded into a total.
    pub max_buckets: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_traces: 10_000,
            max_traces_per_second: 25,
            max_logs: 200_000,
            bucket_ms: 15_000,
            max_buckets: 5_760,
        }
    }
}

/// Istio's default request-duration buckets (milliseconds).
pub const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Who called whom, as the request metrics label it (raw names; workloads are resolved when
/// the metrics are computed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CallKey {
    /// `destination` (measured by the server) or `source` (a call to an untraced backend).
    pub reporter: &'static str,
    /// Caller namespace (`""`: outside the mesh).
    pub src_namespace: Str,
    /// Caller pod (`""`: unknown).
    pub src_pod: Str,
    /// Caller service (`""`: unknown).
    pub src_service: Str,
    /// Callee namespace.
    pub dst_namespace: Str,
    /// Callee pod (`""`: unknown, e.g. an untraced database).
    pub dst_pod: Str,
    /// Callee service (the traced service, or the host dialled).
    pub dst_service: Str,
    /// Protocol.
    pub protocol: Str,
    /// Response code (`200`, `500`, `0` for a connection failure).
    pub code: Str,
}

/// Counts of one call series in one interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallAgg {
    /// Requests.
    pub count: u64,
    /// Sum of durations, ms.
    pub sum_ms: f64,
    /// Per duration bucket (not cumulative).
    pub buckets: [u64; DURATION_BUCKETS_MS.len()],
}

impl CallAgg {
    fn add(&mut self, other: &CallAgg) {
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }
}

/// A series of per-interval aggregates with a folded total of the dropped oldest ones.
#[derive(Debug, Clone, Default)]
pub struct Buckets<T> {
    /// Everything before the first kept interval.
    pub folded: T,
    /// Interval start (ms) -> aggregate.
    pub by_start: BTreeMap<i64, T>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub seed: u64,
    pub limits: RequestLimits,
    pub seq: u64,
    /// (start µs, seq) -> request, sampled ones only.
    pub traces: BTreeMap<(i64, u64), Arc<StoredRequest>>,
    /// seq -> start µs, for lookups by id.
    pub by_seq: HashMap<u64, i64>,
    /// service -> (operation, span kind) seen.
    pub operations: BTreeMap<Str, BTreeSet<(Str, &'static str)>>,
    /// (time ms, seq, index) -> line.
    pub logs: BTreeMap<(i64, u64, usize), CLog>,
    pub calls: BTreeMap<CallKey, Buckets<CallAgg>>,
    /// (namespace, pod) -> per interval [rx bytes, tx bytes, rx packets, tx packets].
    pub traffic: HashMap<(Str, Str), Buckets<[f64; 4]>, BuildHasherDefault<Fnv>>,
    pub strings: Interner,
    /// The earliest and latest span starts seen (µs).
    pub span_range: Option<(i64, i64)>,
}

/// Records simulated requests for traces, request metrics, pod traffic and request logs.
///
/// Attached to a store with [`Store::extension`](crate::store::Store::extension); see the
/// module documentation.
#[derive(Debug, Default)]
pub struct RequestLog {
    inner: Mutex<Inner>,
}

fn typical_sizes(protocol: &str) -> (u64, u64) {
    match protocol {
        "http" => (420, 1_850),
        "grpc" => (180, 960),
        "thrift" => (310, 120),
        "mongodb" => (260, 1_300),
        "memcached" => (90, 640),
        "redis" => (110, 380),
        _ => (200, 400),
    }
}

fn packets(bytes: u64) -> f64 {
    (bytes.div_ceil(1448) + 1) as f64
}

fn bucket_of(t_ms: i64, width: i64) -> i64 {
    t_ms.div_euclid(width.max(1)) * width.max(1)
}

fn add_to<T: Clone + Default>(
    b: &mut Buckets<T>,
    at: i64,
    max: usize,
    f: impl FnOnce(&mut T),
    fold: impl Fn(&mut T, &T),
) {
    f(b.by_start.entry(at).or_default());
    while b.by_start.len() > max.max(1) {
        if let Some((_, oldest)) = b.by_start.pop_first() {
            fold(&mut b.folded, &oldest);
        }
    }
}

impl RequestLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the seed (trace and span ids) and the bounds. Call before recording.
    pub fn configure(&self, seed: u64, limits: RequestLimits) {
        let mut g = self.lock();
        g.seed = seed;
        g.limits = limits;
    }

    /// Requests recorded so far (sampled or not).
    pub fn recorded(&self) -> u64 {
        self.lock().seq
    }

    /// Traces currently kept.
    pub fn traces_kept(&self) -> usize {
        self.lock().traces.len()
    }

    /// Records one request.
    pub fn record(&self, request: RecordedRequest) {
        let mut g = self.lock();
        let g = &mut *g;
        let seq = g.seq;
        g.seq += 1;
        let limits = g.limits;
        aggregate(g, &request, limits);
        for (i, l) in request.logs.iter().enumerate() {
            let line = CLog::of(l, &mut g.strings);
            g.logs.insert((l.time_ms, seq, i), line);
        }
        while g.logs.len() > limits.max_logs {
            g.logs.pop_first();
        }
        if !request.sampled || request.spans.is_empty() {
            return;
        }
        let start = request.start_us();
        let sec = start.div_euclid(1_000_000) * 1_000_000;
        let in_second = g
            .traces
            .range((sec, 0)..(sec.saturating_add(1_000_000), 0))
            .count();
        if in_second >= limits.max_traces_per_second {
            return;
        }
        let spans: Box<[CSpan]> = request
            .spans
            .iter()
            .map(|s| CSpan::of(s, &mut g.strings))
            .collect();
        for s in spans.iter() {
            let ops = g.operations.entry(s.service.clone()).or_default();
            let op = (s.operation.clone(), s.kind.as_str());
            if !ops.contains(&op) {
                ops.insert(op);
            }
            let (lo, hi) = g.span_range.unwrap_or((s.start_us, s.start_us));
            g.span_range = Some((lo.min(s.start_us), hi.max(s.start_us)));
        }
        g.by_seq.insert(seq, start);
        g.traces.insert(
            (start, seq),
            Arc::new(StoredRequest {
                seq,
                start_us: start,
                spans,
            }),
        );
        while g.traces.len() > limits.max_traces {
            if let Some(((_, old), _)) = g.traces.pop_first() {
                g.by_seq.remove(&old);
            }
        }
    }

    /// The lines requests made one container print in `[from_ms, to_ms]`, in time order, for
    /// whoever shows a container's log (`kubectl logs` can merge them with the run's own lines).
    pub fn container_lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<(i64, String)> {
        if to_ms < from_ms {
            return Vec::new();
        }
        let g = self.lock();
        g.logs
            .range((from_ms, 0, 0)..=(to_ms, u64::MAX, usize::MAX))
            .filter(|(_, l)| {
                &*l.namespace == namespace && &*l.pod == pod && &*l.container == container
            })
            .map(|((t, _, _), l)| (*t, l.message.to_string()))
            .collect()
    }

    /// Records several requests.
    pub fn record_all(&self, requests: impl IntoIterator<Item = RecordedRequest>) {
        for r in requests {
            self.record(r);
        }
    }
}

/// Adds a request's calls and traffic to the aggregates.
fn aggregate(g: &mut Inner, req: &RecordedRequest, limits: RequestLimits) {
    let spans = &req.spans;
    let has_server_child = |i: usize| {
        spans.iter().any(|c| {
            c.parent == Some(i) && c.kind == SpanKind::Server && c.service != spans[i].service
        })
    };
    // Each span's strings, shared once.
    let names: Vec<[Str; 5]> = spans
        .iter()
        .map(|s| {
            [
                g.strings.get(&s.namespace),
                g.strings.get(&s.pod),
                g.strings.get(&s.service),
                g.strings.get(&s.protocol),
                g.strings.get(if s.peer_service.is_empty() {
                    &s.operation
                } else {
                    &s.peer_service
                }),
            ]
        })
        .collect();
    let empty = g.strings.get("");
    let (ok, err) = (g.strings.get("200"), g.strings.get("500"));
    for (i, s) in spans.iter().enumerate() {
        let failed = s.failed || s.error;
        let code: Str = match s.status_code {
            Some(200) => ok.clone(),
            Some(500) => err.clone(),
            Some(c) => g.strings.get(&c.to_string()),
            None if failed => err.clone(),
            None => ok.clone(),
        };
        let parent = s.parent.and_then(|p| spans.get(p));
        let [ns, pod, svc, proto, peer] = &names[i];
        let key = match s.kind {
            SpanKind::Server | SpanKind::Consumer => {
                let caller_i = s.parent.filter(|p| {
                    spans
                        .get(*p)
                        .is_some_and(|c| c.kind == SpanKind::Client || c.kind == SpanKind::Producer)
                });
                let caller_parent = caller_i
                    .and_then(|c| spans[c].parent)
                    .filter(|p| *p < spans.len());
                // Same-service server spans nested in a server span (nginx's location span)
                // are not calls.
                if parent.is_some_and(|p| p.service == s.service) && caller_i.is_none() {
                    None
                } else {
                    let c = caller_i.map(|c| &names[c]);
                    let src_service = c
                        .map(|c| c[2].clone())
                        .or_else(|| caller_parent.map(|p| names[p][2].clone()))
                        .unwrap_or_else(|| empty.clone());
                    let protocol = if s.protocol.is_empty() {
                        c.map(|c| c[3].clone()).unwrap_or_else(|| empty.clone())
                    } else {
                        proto.clone()
                    };
                    Some(CallKey {
                        reporter: "destination",
                        src_namespace: c.map(|c| c[0].clone()).unwrap_or_else(|| empty.clone()),
                        src_pod: c.map(|c| c[1].clone()).unwrap_or_else(|| empty.clone()),
                        src_service,
                        dst_namespace: ns.clone(),
                        dst_pod: pod.clone(),
                        dst_service: svc.clone(),
                        protocol,
                        code,
                    })
                }
            }
            SpanKind::Client | SpanKind::Producer if !has_server_child(i) => Some(CallKey {
                reporter: "source",
                src_namespace: ns.clone(),
                src_pod: pod.clone(),
                src_service: svc.clone(),
                dst_namespace: ns.clone(),
                dst_pod: empty.clone(),
                dst_service: peer.clone(),
                protocol: proto.clone(),
                code,
            }),
            _ => None,
        };
        let at = bucket_of(
            (s.start_us + s.duration_us).div_euclid(1000),
            limits.bucket_ms,
        );
        if let Some(key) = key {
            let ms = s.duration_us.max(0) as f64 / 1000.0;
            let b = DURATION_BUCKETS_MS.partition_point(|le| *le < ms);
            add_to(
                g.calls.entry(key).or_default(),
                at,
                limits.max_buckets,
                |a| {
                    a.count += 1;
                    a.sum_ms += ms;
                    if b < a.buckets.len() {
                        a.buckets[b] += 1;
                    }
                },
                |acc, old| acc.add(old),
            );
        }
        // Bytes on the pod's interface: a server receives the request and sends the reply; a
        // client the other way round. Nested same-pod spans move nothing.
        if s.pod.is_empty() || parent.is_some_and(|p| p.pod == s.pod && s.kind == SpanKind::Server)
        {
            continue;
        }
        let (dq, dr) = typical_sizes(&s.protocol);
        let req_b = if s.request_bytes > 0 {
            s.request_bytes
        } else {
            dq
        };
        let resp_b = if s.response_bytes > 0 {
            s.response_bytes
        } else {
            dr
        };
        let (rx, tx) = match s.kind {
            SpanKind::Server | SpanKind::Consumer => (req_b, resp_b),
            SpanKind::Client | SpanKind::Producer => (resp_b, req_b),
            SpanKind::Internal => continue,
        };
        let row = [rx as f64, tx as f64, packets(rx), packets(tx)];
        let pod_key = (ns.clone(), pod.clone());
        add_to(
            g.traffic.entry(pod_key).or_default(),
            bucket_of(s.start_us.div_euclid(1000), limits.bucket_ms),
            limits.max_buckets,
            |a| {
                for k in 0..4 {
                    a[k] += row[k];
                }
            },
            |acc, old| {
                for k in 0..4 {
                    acc[k] += old[k];
                }
            },
        );
    }
}

impl Inner {
    /// Cumulative traffic `[rx, tx, rx packets, tx packets]` of a pod at each of `times`
    /// (sorted): every interval that starts before the instant counts whole.
    pub fn traffic_at(&self, namespace: &str, pod: &str, times: &[i64]) -> Vec<[f64; 4]> {
        let key: (Str, Str) = (Arc::from(namespace), Arc::from(pod));
        let Some(b) = self.traffic.get(&key) else {
            return vec![[0.0; 4]; times.len()];
        };
        let mut out = Vec::with_capacity(times.len());
        let mut acc = b.folded;
        let mut it = b.by_start.iter().peekable();
        for &t in times {
            while let Some((start, row)) = it.peek() {
                if **start < t {
                    for k in 0..4 {
                        acc[k] += row[k];
                    }
                    it.next();
                } else {
                    break;
                }
            }
            out.push(acc);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(parent: Option<usize>, svc: &str, kind: SpanKind, pod: &str) -> RecordedSpan {
        RecordedSpan {
            parent,
            service: svc.into(),
            operation: format!("{svc}-op"),
            kind,
            start_us: 1_000_000,
            duration_us: 2_000,
            namespace: "ns".into(),
            pod: pod.into(),
            protocol: "grpc".into(),
            ..RecordedSpan::default()
        }
    }

    #[test]
    fn calls_and_traffic_are_aggregated() {
        let log = RequestLog::new();
        let mut mc = span(Some(1), "b", SpanKind::Client, "b-1");
        mc.peer_service = "memcached-b".into();
        mc.protocol = "memcached".into();
        let req = RecordedRequest {
            sampled: false,
            spans: vec![
                span(None, "a", SpanKind::Server, "a-1"),
                span(Some(0), "a", SpanKind::Client, "a-1"),
                span(Some(1), "b", SpanKind::Server, "b-1"),
                mc,
            ],
            logs: vec![],
        };
        log.record(req.clone());
        log.record(req);
        let g = log.lock();
        assert_eq!(g.traces.len(), 0, "unsampled requests leave no trace");
        let keys: Vec<(&str, &str, &str)> = g
            .calls
            .keys()
            .map(|k| (k.reporter, &*k.src_service, &*k.dst_service))
            .collect();
        assert_eq!(
            keys,
            [
                ("destination", "", "a"),
                ("destination", "a", "b"),
                ("source", "b", "memcached-b"),
            ]
        );
        let agg = &g.calls.values().next().unwrap().by_start[&0];
        assert_eq!(agg.count, 2);
        assert_eq!(agg.buckets[2], 2, "2 ms falls in the 5 ms bucket");
        let t = g.traffic_at("ns", "a-1", &[0, 15_000]);
        assert_eq!(t[0], [0.0; 4]);
        assert!(t[1][0] > 0.0 && t[1][1] > 0.0);
    }

    #[test]
    fn container_lines_are_per_container_and_window() {
        let log = RequestLog::new();
        let line = |t: i64, pod: &str, msg: &str| RecordedLog {
            time_ms: t,
            namespace: "ns".into(),
            pod: pod.into(),
            container: "c".into(),
            message: msg.into(),
        };
        log.record(RecordedRequest {
            sampled: false,
            spans: vec![],
            logs: vec![
                line(10, "a", "one"),
                line(20, "b", "other"),
                line(30, "a", "two"),
            ],
        });
        log.record(RecordedRequest {
            sampled: false,
            spans: vec![],
            logs: vec![line(5, "a", "zero")],
        });
        assert_eq!(
            log.container_lines("ns", "a", "c", 0, 30),
            [
                (5, "zero".to_string()),
                (10, "one".into()),
                (30, "two".into())
            ]
        );
        assert_eq!(log.container_lines("ns", "a", "c", 11, 29), []);
        assert!(log.container_lines("ns", "a", "other", 0, 99).is_empty());
    }

    #[test]
    fn bounds_hold() {
        let log = RequestLog::new();
        log.configure(
            1,
            RequestLimits {
                max_traces: 3,
                max_traces_per_second: 10,
                max_logs: 2,
                bucket_ms: 15_000,
                max_buckets: 2,
            },
        );
        for i in 0..10 {
            let mut s = span(None, "a", SpanKind::Server, "a-1");
            s.start_us = i * 20_000_000;
            log.record(RecordedRequest {
                sampled: true,
                spans: vec![s],
                logs: vec![RecordedLog {
                    time_ms: i * 20_000,
                    ..RecordedLog::default()
                }],
            });
        }
        let g = log.lock();
        assert_eq!(g.traces.len(), 3);
        assert_eq!(g.logs.len(), 2);
        let b = g.calls.values().next().unwrap();
        assert_eq!(b.by_start.len(), 2);
        assert_eq!(b.folded.count, 8);
    }
}
