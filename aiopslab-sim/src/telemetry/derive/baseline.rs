//! Back-dated history: a normal baseline before the episode.
//!
//! A virtual cluster deploys an application seconds before the fault is injected, while a real
//! one would have run it for a while. The rule that fills the gap, applied when telemetry is
//! computed (nothing is generated ahead of time):
//!
//! - the *deploy time* of a namespace (of each incarnation, when it is deleted and created again)
//!   is the creation time of its first pod;
//! - a pod belongs to the *initial deploy* when it was created within
//!   [`DeriveConfig::initial_window_ms`] of that deploy time, is a long-running pod (restart
//!   policy `Always`), and became Ready at least once;
//! - such a pod's first healthy state (the container runs that were alive when it first became
//!   Ready) is treated as having held since `deploy - baseline` ([`DeriveConfig::baseline_ms`],
//!   30 minutes by default), with the same pod name, uid, node and container ids. Its pod
//!   cgroup and those runs start then; runs of the pod that came before them (a start that
//!   crashed while a database was not up yet, init containers) are left out of the metrics, as
//!   they would have happened before the window a real cluster's history shows.
//!
//! Pods created later (replacements after a fault, new ReplicaSets, Job pods such as the
//! workload) are never back-dated, so every symptom keeps the time it really happened at.
//! Log lines are not moved: lines printed at start keep their times (as `kubectl logs` shows
//! them), and the periodic lines of a back-dated run are also produced over the baseline.

use super::DeriveConfig;
use super::timeline::{PodRec, RunRec, State};
use std::collections::{BTreeMap, HashMap};

/// Baseline start (Unix ms) per back-dated pod uid, and the earliest instant with history.
#[derive(Debug, Clone, Default)]
pub struct Backdating {
    /// `uid -> baseline start`.
    pub pods: HashMap<String, i64>,
    /// The earliest baseline start or pod creation: where the history begins.
    pub history_start: Option<i64>,
}

/// Decides which pods are back-dated, and from when.
pub fn compute(st: &State, config: &DeriveConfig) -> Backdating {
    // (namespace, incarnation) -> first pod creation
    let mut deploy: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for p in st.pods.values() {
        let epoch = st.namespace_epoch(&p.namespace, p.created_ms);
        let d = deploy.entry((&p.namespace, epoch)).or_insert(p.created_ms);
        *d = (*d).min(p.created_ms);
    }
    let mut out = Backdating::default();
    for p in st.pods.values() {
        let epoch = st.namespace_epoch(&p.namespace, p.created_ms);
        let Some(&d) = deploy.get(&(p.namespace.as_str(), epoch)) else {
            continue;
        };
        let start = if config.baseline_ms > 0
            && p.restart_always
            && p.ready_ms.is_some()
            && !p.node.is_empty()
            && p.created_ms <= d + config.initial_window_ms
            && !healthy_runs(p).is_empty()
        {
            let b = d - config.baseline_ms;
            out.pods.insert(p.uid.clone(), b);
            b
        } else {
            p.created_ms
        };
        out.history_start = Some(out.history_start.map_or(start, |h| h.min(start)));
    }
    out
}

/// The runs alive when the pod first became Ready (its first healthy state).
fn healthy_runs(p: &PodRec) -> Vec<&RunRec> {
    let Some(r) = p.ready_ms else {
        return Vec::new();
    };
    // Ready is written with second precision: allow for the run having started within it.
    p.runs
        .iter()
        .filter(|run| !run.init && !run.start_error)
        .filter(|run| run.started_ms <= r + 999 && run.ended_ms.is_none_or(|e| e >= r))
        .collect()
}

/// One run as the metrics show it.
#[derive(Debug, Clone, Copy)]
pub struct RunView<'a> {
    /// The run.
    pub run: &'a RunRec,
    /// When its series start (back-dated or real), Unix ms.
    pub start_ms: i64,
    /// When they end, if they have.
    pub end_ms: Option<i64>,
    /// Whether the start was moved back.
    pub backdated: bool,
}

/// One pod as the metrics show it.
#[derive(Debug, Clone)]
pub struct PodView<'a> {
    /// The pod.
    pub pod: &'a PodRec,
    /// When its cgroup series start, Unix ms.
    pub start_ms: i64,
    /// When they end, if they have.
    pub end_ms: Option<i64>,
    /// Visible runs in start order.
    pub runs: Vec<RunView<'a>>,
}

impl PodView<'_> {
    /// Whether `[start, end]` meets `[lo, hi]` (an open end counts as `hi`).
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        self.start_ms <= hi && self.end_ms.is_none_or(|e| e >= lo)
    }
}

/// The pod's series lifetimes under `backdated` (its baseline start, if any). `None` when the
/// pod never had a cgroup (never started on a node).
pub fn pod_view(p: &PodRec, backdated: Option<i64>) -> Option<PodView<'_>> {
    if p.node.is_empty() {
        return None;
    }
    let real_start = p.started_ms?;
    let visible = |r: &&RunRec| !r.start_error;
    let end_ms = p.end_ms();
    if let Some(b) = backdated {
        let healthy = healthy_runs(p);
        if let Some(cut) = healthy.iter().map(|r| r.started_ms).min() {
            let runs = p
                .runs
                .iter()
                .filter(visible)
                .filter(|r| r.started_ms >= cut)
                .map(|r| {
                    let moved = healthy.iter().any(|h| h.id == r.id);
                    RunView {
                        run: r,
                        start_ms: if moved { b } else { r.started_ms },
                        end_ms: r.ended_ms,
                        backdated: moved,
                    }
                })
                .collect();
            return Some(PodView {
                pod: p,
                start_ms: b.min(real_start),
                end_ms,
                runs,
            });
        }
    }
    let runs = p
        .runs
        .iter()
        .filter(visible)
        .map(|r| RunView {
            run: r,
            start_ms: r.started_ms,
            end_ms: r.ended_ms,
            backdated: false,
        })
        .collect();
    Some(PodView {
        pod: p,
        start_ms: real_start,
        end_ms,
        runs,
    })
}
