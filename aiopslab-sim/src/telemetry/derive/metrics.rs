//! [`DerivedMetrics`]: the [`MetricSource`] of a virtual cluster (cAdvisor series and request
//! metrics), computed when asked from the timeline and the request log.

use super::baseline::{self, PodView};
use super::cadvisor::{self, PodTraffic, Target};
use super::mesh;
use super::requests::{Inner, RequestLog};
use super::timeline::{PodRec, Timeline};
use super::usage::Checkpoints;
use crate::telemetry::labels::{LabelMatcher, matches_all};
use crate::telemetry::metrics::{MetricKind, MetricSource, Sample, Series};
use crate::telemetry::window::TimeWindow;
use crate::telemetry::{Labels, METRIC_NAME};
use std::sync::Arc;

/// Metric series derived from the cluster's history; see the module documentation of
/// [`super`] for the metric names.
pub struct DerivedMetrics {
    timeline: Arc<Timeline>,
    requests: Arc<RequestLog>,
    checkpoints: Checkpoints,
}

struct Traffic<'a>(&'a Inner);

impl PodTraffic for Traffic<'_> {
    fn cumulative(&self, pod: &PodRec, times: &[i64]) -> Vec<[f64; 4]> {
        // Requests are attributed by pod name; an older incarnation with the same name keeps
        // only what happened while it lived.
        let all = self.0.traffic_at(&pod.namespace, &pod.name, times);
        // Everything in intervals that began before the one the pod was created in.
        let width = self.0.limits.bucket_ms.max(1);
        let created = pod.created_ms.div_euclid(width) * width;
        let base = self.0.traffic_at(&pod.namespace, &pod.name, &[created]);
        let base = base.first().copied().unwrap_or([0.0; 4]);
        all.into_iter()
            .map(|row| {
                let mut r = row;
                for k in 0..4 {
                    r[k] = (r[k] - base[k]).max(0.0);
                }
                r
            })
            .collect()
    }
}

fn equal_value<'m>(
    matchers: &'m [LabelMatcher],
    name: &str,
) -> impl Iterator<Item = &'m LabelMatcher> {
    matchers.iter().filter(move |m| m.name == name)
}

impl DerivedMetrics {
    /// Series of `timeline` and `requests`.
    pub fn new(timeline: Arc<Timeline>, requests: Arc<RequestLog>) -> Self {
        DerivedMetrics {
            timeline,
            requests,
            checkpoints: Checkpoints::default(),
        }
    }

    fn collect(
        &self,
        matchers: &[LabelMatcher],
        window: TimeWindow,
        with_samples: bool,
    ) -> Vec<Series> {
        let cfg = self.timeline.config().clone();
        let now = self.timeline.store().clock().now().as_millisecond();
        let st = self.timeline.snapshot();
        let back = baseline::compute(&st, &cfg);
        let hi = window.end.min(now);
        let lo = window.start.max(back.history_start.unwrap_or(window.start));
        if hi < lo {
            return Vec::new();
        }
        let defs: Vec<&cadvisor::Def> = cadvisor::CATALOGUE
            .iter()
            .filter(|d| equal_value(matchers, METRIC_NAME).all(|m| m.matches_value(d.name)))
            .collect();
        let log = self.requests.lock();
        let traffic = Traffic(&log);
        let mut out = Vec::new();
        if !defs.is_empty() {
            for pod in st.pods.values() {
                if !equal_value(matchers, "namespace").all(|m| m.matches_value(&pod.namespace))
                    || !equal_value(matchers, "pod").all(|m| m.matches_value(&pod.name))
                {
                    continue;
                }
                let Some(view) = baseline::pod_view(pod, back.pods.get(&pod.uid).copied()) else {
                    continue;
                };
                if !view.overlaps(lo, hi) {
                    continue;
                }
                self.pod_series(
                    &view,
                    st.nodes.get(&pod.node),
                    &defs,
                    matchers,
                    lo,
                    hi,
                    with_samples,
                    &traffic,
                    &mut out,
                );
            }
        }
        node_series(
            &st,
            back.history_start.unwrap_or(lo),
            matchers,
            lo,
            hi,
            cfg.scrape_interval_ms,
            with_samples,
            &mut out,
        );
        out.extend(mesh::series(
            &st,
            &log,
            matchers,
            lo,
            hi,
            cfg.scrape_interval_ms,
            with_samples,
        ));
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn pod_series(
        &self,
        view: &PodView<'_>,
        node: Option<&super::timeline::NodeRec>,
        defs: &[&cadvisor::Def],
        matchers: &[LabelMatcher],
        lo: i64,
        hi: i64,
        with_samples: bool,
        traffic: &dyn PodTraffic,
        out: &mut Vec<Series>,
    ) {
        let cfg = self.timeline.config();
        let mut targets = vec![Target::Pod(view), Target::Pause(view)];
        targets.extend(view.runs.iter().map(|r| Target::Run(view, r)));
        for t in targets {
            let (start, end) = t.life();
            if start > hi || end.is_some_and(|e| e < lo) {
                continue;
            }
            let applicable: Vec<&&cadvisor::Def> = defs.iter().filter(|d| t.carries(d)).collect();
            if applicable.is_empty() {
                continue;
            }
            let base = cadvisor::base_labels(cfg.seed, &t, node);
            let chosen: Vec<(&cadvisor::Def, Labels)> = applicable
                .into_iter()
                .map(|d| (*d, cadvisor::labels_for(&base, d)))
                .filter(|(_, l)| matches_all(matchers, l))
                .collect();
            if chosen.is_empty() {
                continue;
            }
            if !with_samples {
                let times = cadvisor::scrape_times(
                    lo.max(start),
                    end.map_or(hi, |e| e.min(hi)),
                    cfg.scrape_interval_ms,
                );
                if let Some(first) = times.first() {
                    for (d, labels) in chosen {
                        out.push(Series::new(labels, d.kind, vec![Sample::new(*first, 0.0)]));
                    }
                }
                continue;
            }
            let values = cadvisor::compute(
                cfg.seed,
                &t,
                lo,
                hi,
                cfg.scrape_interval_ms,
                traffic,
                &self.checkpoints,
            );
            if values.times.is_empty() {
                continue;
            }
            for (d, labels) in chosen {
                let samples = cadvisor::samples(d, &values, start)
                    .into_iter()
                    .map(|(t, v)| Sample::new(t, v))
                    .collect();
                out.push(Series::new(labels, d.kind, samples));
            }
        }
    }
}

/// The node-level series: `up` (1 while the node exists), `machine_cpu_cores` and
/// `machine_memory_bytes` (its capacity), with the cAdvisor job's labels.
#[allow(clippy::too_many_arguments)]
fn node_series(
    st: &super::timeline::State,
    history_start: i64,
    matchers: &[LabelMatcher],
    lo: i64,
    hi: i64,
    interval: i64,
    with_samples: bool,
    out: &mut Vec<Series>,
) {
    let names = ["up", "machine_cpu_cores", "machine_memory_bytes"];
    if !names
        .iter()
        .any(|n| equal_value(matchers, METRIC_NAME).all(|m| m.matches_value(n)))
    {
        return;
    }
    for node in st.nodes.values() {
        let start = node.created_ms.min(history_start);
        let end = node.deleted_ms.map_or(hi, |d| d.min(hi));
        let times = cadvisor::scrape_times(lo.max(start), end, interval);
        if times.is_empty() {
            continue;
        }
        let mut base: Vec<(String, String)> = node
            .labels
            .iter()
            .map(|(k, v)| (cadvisor::sanitize(k), v.clone()))
            .collect();
        base.push(("instance".into(), node.name.clone()));
        base.push(("job".into(), cadvisor::JOB.into()));
        for (name, value) in [
            ("up", 1.0),
            ("machine_cpu_cores", node.cpu_cores),
            ("machine_memory_bytes", node.memory_bytes),
        ] {
            let mut pairs: Vec<(&str, &str)> =
                base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            pairs.push((METRIC_NAME, name));
            let labels = Labels::new(pairs);
            if !matches_all(matchers, &labels) {
                continue;
            }
            let samples = if with_samples {
                times.iter().map(|t| Sample::new(*t, value)).collect()
            } else {
                vec![Sample::new(times[0], value)]
            };
            out.push(Series::new(labels, MetricKind::Gauge, samples));
        }
    }
}

impl MetricSource for DerivedMetrics {
    fn select(&self, matchers: &[LabelMatcher], window: TimeWindow) -> Vec<Series> {
        self.collect(matchers, window, true)
    }

    fn series_labels(
        &self,
        matchers: &[LabelMatcher],
        window: TimeWindow,
    ) -> Vec<(Labels, MetricKind)> {
        self.collect(matchers, window, false)
            .into_iter()
            .map(|s| (s.labels, s.kind))
            .collect()
    }
}
