//! [`DerivedLogs`]: the [`LogSource`] of a virtual cluster — every line every container printed
//! (all pods, deleted ones and every restart included, as filebeat would have shipped them),
//! plus the lines simulated requests caused, as logstash documents.
//!
//! Lines come from what the kubelet knows of each run (its plan: lines at offsets from the
//! start, periodic lines, last words) rendered by the kubelet's own renderer, so a document's
//! message and time are what `kubectl logs --timestamps` shows for the same line. Only the
//! window asked for is generated. Periodic lines of back-dated runs (see [`super::baseline`])
//! also fill the baseline.

use super::baseline;
use super::requests::RequestLog;
use super::timeline::{LogPlan, Timeline};
use crate::controllers::behavior::PeriodicLogs;
use crate::controllers::kubelet::runtime::instance_lines;
use crate::telemetry::logs::{ContainerRef, LogDocument, LogSource};
use crate::telemetry::window::TimeWindow;
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;

/// The kubelet renders at most this many periodic lines per call.
const CHUNK: i64 = 9_000;

/// Log documents derived from the cluster's history.
pub struct DerivedLogs {
    timeline: Arc<Timeline>,
    requests: Arc<RequestLog>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ms_of(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn plus_ns(t: Timestamp, ns: i128) -> Timestamp {
    let ns = ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    t.checked_add(SignedDuration::from_nanos(ns)).unwrap_or(t)
}

/// The lines of one run inside `[lo, hi]` (Unix ms), with periodic lines also produced from
/// `extend_from` when the run is back-dated.
pub(crate) fn run_lines(
    lp: &LogPlan,
    lo: i64,
    hi: i64,
    extend_from: Option<i64>,
) -> Vec<(i64, String)> {
    if hi < lo {
        return Vec::new();
    }
    let mut out = Vec::new();
    let now = ts(hi);
    // Lines at offsets, and last words.
    let mut fixed = (*lp.plan).clone();
    fixed.periodic = None;
    {
        let probe = lp.instance(fixed.clone());
        fixed.logs.retain(|l| {
            let at = ms_of(probe.at(l.offset));
            at >= lo && at <= hi
        });
    }
    let inst = lp.instance(fixed);
    for (t, line) in instance_lines(&inst, now) {
        let at = ms_of(t);
        if at >= lo && at <= hi {
            out.push((at, line));
        }
    }
    // Periodic lines, in chunks the renderer accepts.
    if let Some(p) = &lp.plan.periodic
        && !p.lines.is_empty()
    {
        let probe = lp.instance((*lp.plan).clone());
        let first = probe.at(p.first);
        let every = probe.at(p.every).duration_since(probe.started);
        let every_ns = every.as_nanos();
        if every_ns > 0 {
            let limit = match probe.ended_at() {
                Some(e) => e.min(now),
                None => now,
            };
            let from = ts(extend_from.map_or(lo, |b| lo.max(b)));
            let k_of =
                |t: Timestamp| -> i128 { t.duration_since(first).as_nanos().div_euclid(every_ns) };
            let mut k_lo = k_of(from);
            if plus_ns(first, every_ns * k_lo) < from {
                k_lo += 1;
            }
            if extend_from.is_none() {
                k_lo = k_lo.max(0);
            }
            let k_hi = k_of(limit);
            let mut k = k_lo;
            let started = probe.started;
            while k <= k_hi {
                // Repetitions before the first real one (back-dating) stop before the start.
                let end_k = (k + CHUNK as i128 - 1).min(k_hi);
                let end_k = if k < 0 { end_k.min(-1) } else { end_k };
                let shifted = shift_periodic(p, k);
                let mut plan = (*lp.plan).clone();
                plan.logs.clear();
                plan.exit = None;
                plan.periodic = Some(shifted);
                let mut chunk_inst = lp.instance(plan);
                chunk_inst.end = None;
                chunk_inst.ended = false;
                let chunk_limit = plus_ns(first, every_ns * end_k);
                for (t, line) in instance_lines(&chunk_inst, chunk_limit.min(limit)) {
                    let at = ms_of(t);
                    if at >= lo && at <= hi && (k >= 0 || t < started) {
                        out.push((at, line));
                    }
                }
                k = end_k + 1;
            }
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

/// The periodic plan whose first repetition is repetition `k` of `p`.
fn shift_periodic(p: &PeriodicLogs, k: i128) -> PeriodicLogs {
    let mut lines = p.lines.clone();
    if p.cycle && !lines.is_empty() {
        let r = k.rem_euclid(lines.len() as i128) as usize;
        lines.rotate_left(r);
    }
    let shift = (p.every.as_nanos() * k).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    PeriodicLogs {
        first: p
            .first
            .checked_add(SignedDuration::from_nanos(shift))
            .unwrap_or(p.first),
        every: p.every,
        lines,
        cycle: p.cycle,
    }
}

impl DerivedLogs {
    /// Logs of `timeline` and `requests`.
    pub fn new(timeline: Arc<Timeline>, requests: Arc<RequestLog>) -> Self {
        DerivedLogs { timeline, requests }
    }
}

impl LogSource for DerivedLogs {
    fn documents(&self, window: TimeWindow) -> Vec<LogDocument> {
        let cfg = self.timeline.config().clone();
        let now = self.timeline.store().clock().now().as_millisecond();
        let st = self.timeline.snapshot();
        let back = baseline::compute(&st, &cfg);
        let hi = window.end.min(now);
        let lo = window.start.max(back.history_start.unwrap_or(window.start));
        if hi < lo {
            return Vec::new();
        }
        let mut docs: Vec<LogDocument> = Vec::new();
        for pod in st.pods.values() {
            if pod.created_ms > hi && !back.pods.contains_key(&pod.uid) {
                continue;
            }
            let view = baseline::pod_view(pod, back.pods.get(&pod.uid).copied());
            for run in &pod.runs {
                let Some(lp) = &run.log else {
                    continue;
                };
                if run.start_error || run.ended_ms.is_some_and(|e| e < lo) {
                    continue;
                }
                let extend = view
                    .as_ref()
                    .and_then(|v| v.runs.iter().find(|r| r.run.id == run.id && r.backdated))
                    .map(|r| r.start_ms);
                if run.started_ms > hi && extend.is_none() {
                    continue;
                }
                let c = ContainerRef {
                    namespace: pod.namespace.clone(),
                    pod: pod.name.clone(),
                    container: run.container.clone(),
                    node: pod.node.clone(),
                };
                for (t, line) in run_lines(lp, lo, hi, extend) {
                    docs.push(LogDocument::container_line(t, &c, &line));
                }
            }
        }
        let log = self.requests.lock();
        for ((t, _, _), l) in log.logs.range((lo, 0, 0)..=(hi, u64::MAX, usize::MAX)) {
            let node = st
                .pod_at(&l.namespace, &l.pod, *t)
                .map(|p| p.node.clone())
                .unwrap_or_default();
            let c = ContainerRef {
                namespace: l.namespace.to_string(),
                pod: l.pod.to_string(),
                container: l.container.to_string(),
                node,
            };
            docs.push(LogDocument::container_line(*t, &c, &l.message));
        }
        docs.sort_by_key(|d| d.timestamp_ms);
        docs
    }

    fn retention(&self) -> TimeWindow {
        let cfg = self.timeline.config().clone();
        let now = self.timeline.store().clock().now().as_millisecond();
        let st = self.timeline.snapshot();
        let back = baseline::compute(&st, &cfg);
        TimeWindow::new(back.history_start.unwrap_or(now).min(now), now)
    }
}
