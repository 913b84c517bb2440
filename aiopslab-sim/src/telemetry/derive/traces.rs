//! [`DerivedTraces`]: the [`TraceSource`] of a virtual cluster — Jaeger traces of the sampled
//! requests in the [`RequestLog`].
//!
//! Ids are deterministic: a trace id is a hash of the seed and the request's number (16 hex
//! digits, as the Jaeger Go and C++ clients make them), the root span's id equals the trace id
//! (as those clients do), other span ids hash the trace id and the span's index. Each span gets
//! `span.kind` (unless internal), the tags the recorder gave, `http.status_code` and
//! `error=true` when set; its process has the service name and `hostname` (pod name) and `ip`
//! (pod IP) tags plus any others recorded.

use super::compact::StoredRequest;
use super::hash::mix;
use super::requests::{Inner, RequestLog};
use crate::clock::SharedClock;
use crate::telemetry::traces::{
    Operation, Process, RefType, Span, SpanRef, Tag, Trace, TraceSource, normalize_trace_id,
};
use crate::telemetry::window::TimeWindow;
use std::sync::Arc;

/// How far before a window a trace may start and still have a span inside it.
const MAX_TRACE_SPREAD_US: i64 = 15 * 60 * 1_000_000;

/// Traces derived from recorded requests.
pub struct DerivedTraces {
    requests: Arc<RequestLog>,
    clock: SharedClock,
}

fn trace_id(seed: u64, seq: u64) -> u64 {
    mix(seed ^ mix(seq.wrapping_add(1))) | 1
}

fn span_id(trace: u64, index: usize, root: bool) -> u64 {
    if root {
        trace
    } else {
        mix(trace ^ mix(index as u64 + 0x9e37_79b9)) | 1
    }
}

/// Converts one stored request into a Jaeger trace.
pub(crate) fn to_trace(seed: u64, stored: &StoredRequest) -> Trace {
    let tid = trace_id(seed, stored.seq);
    let tid_hex = format!("{tid:016x}");
    let root = stored.spans.iter().position(|s| s.parent.is_none());
    let ids: Vec<u64> = (0..stored.spans.len())
        .map(|i| span_id(tid, i, Some(i) == root))
        .collect();
    let spans = stored
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut tags = Vec::with_capacity(s.tags.len() + 3);
            if !s.kind.as_str().is_empty() && !s.tags.iter().any(|t| &*t.key == "span.kind") {
                tags.push(Tag::string("span.kind", s.kind.as_str()));
            }
            tags.extend(s.tags.iter().map(|t| t.tag()));
            if let Some(code) = s.status_code
                && !tags.iter().any(|t| t.key == "http.status_code")
            {
                tags.push(Tag::int("http.status_code", code));
            }
            if s.error && !tags.iter().any(|t| t.key == "error") {
                tags.push(Tag::bool("error", true));
            }
            let mut ptags = Vec::new();
            if !s.pod.is_empty() && !s.process_tags.iter().any(|t| &*t.key == "hostname") {
                ptags.push(Tag::string("hostname", &s.pod));
            }
            if !s.pod_ip.is_empty() && !s.process_tags.iter().any(|t| &*t.key == "ip") {
                ptags.push(Tag::string("ip", &s.pod_ip));
            }
            ptags.extend(s.process_tags.iter().map(|t| t.tag()));
            let references = s
                .parent
                .and_then(|p| ids.get(p as usize))
                .map(|pid| {
                    vec![SpanRef {
                        ref_type: RefType::ChildOf,
                        trace_id: tid_hex.clone(),
                        span_id: format!("{pid:016x}"),
                    }]
                })
                .unwrap_or_default();
            Span {
                trace_id: tid_hex.clone(),
                span_id: format!("{:016x}", ids[i]),
                operation_name: s.operation.to_string(),
                references,
                start_time_us: s.start_us,
                duration_us: s.duration_us.max(0),
                tags,
                logs: s.logs.to_vec(),
                process: Process {
                    service_name: s.service.to_string(),
                    tags: ptags,
                },
                flags: 1,
            }
        })
        .collect();
    Trace {
        trace_id: tid_hex,
        spans,
    }
}

impl DerivedTraces {
    /// Traces of `requests`, never later than `clock`'s now.
    pub fn new(requests: Arc<RequestLog>, clock: SharedClock) -> Self {
        DerivedTraces { requests, clock }
    }

    fn now_us(&self) -> i64 {
        self.clock.now().as_microsecond()
    }

    fn visible<'a>(
        &self,
        g: &'a Inner,
        lo_us: i64,
        hi_us: i64,
    ) -> impl Iterator<Item = &'a Arc<StoredRequest>> {
        let now = self.now_us();
        let hi = hi_us.min(now);
        g.traces
            .range((lo_us.saturating_sub(MAX_TRACE_SPREAD_US), 0)..=(hi, u64::MAX))
            .map(|(_, r)| r)
            .filter(move |r| {
                r.spans
                    .iter()
                    .any(|s| s.start_us >= lo_us && s.start_us <= hi)
            })
    }
}

impl TraceSource for DerivedTraces {
    fn traces(&self, window: TimeWindow) -> Vec<Trace> {
        let g = self.requests.lock();
        let lo = window.start.saturating_mul(1000);
        let hi = window.end.saturating_mul(1000).saturating_add(999);
        self.visible(&g, lo, hi)
            .map(|r| to_trace(g.seed, r))
            .collect()
    }

    fn retention(&self) -> TimeWindow {
        let g = self.requests.lock();
        let now_ms = self.now_us().div_euclid(1000);
        match g.span_range {
            Some((lo, hi)) => TimeWindow::new(lo.div_euclid(1000), hi.div_euclid(1000).min(now_ms)),
            None => TimeWindow::new(i64::MAX, i64::MIN),
        }
    }

    fn services(&self) -> Vec<String> {
        self.requests
            .lock()
            .operations
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    fn operations(&self, service: &str) -> Vec<Operation> {
        let g = self.requests.lock();
        g.operations
            .get(service)
            .map(|ops| {
                ops.iter()
                    .map(|(name, kind)| Operation {
                        name: name.to_string(),
                        span_kind: kind.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn trace(&self, id: &str) -> Option<Trace> {
        let want = normalize_trace_id(id).ok()?;
        let g = self.requests.lock();
        let now = self.now_us();
        g.traces
            .values()
            .find(|r| format!("{:016x}", trace_id(g.seed, r.seq)) == want && r.start_us <= now)
            .map(|r| to_trace(g.seed, r))
    }
}
