//! Metric series and the [`MetricSource`] seam that the PromQL engine and `/metrics` read.
//!
//! A source is asked for the series that match a selector over a time window and computes them
//! lazily; the in-memory source serves tests and fixed data, the composite source merges several.

use super::labels::{LabelMatcher, Labels, matches_all};
use super::window::TimeWindow;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One sample: Unix milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

impl Sample {
    /// A sample at `t` ms with value `v`.
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

/// Whether a series only goes up (resets aside) or moves freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A monotonically increasing counter (a drop is a reset to zero).
    Counter,
    /// A value that can go up and down.
    Gauge,
}

impl MetricKind {
    /// The name used in the text exposition format (`counter`, `gauge`).
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// A time series: its labels (including `__name__`), its kind and samples sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The label set, metric name included.
    pub labels: Labels,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Samples in increasing time order.
    pub samples: Vec<Sample>,
}

impl Series {
    /// A series; samples are sorted by time and duplicates of a timestamp keep the first.
    pub fn new(labels: Labels, kind: MetricKind, mut samples: Vec<Sample>) -> Self {
        samples.sort_by_key(|s| s.t);
        samples.dedup_by_key(|s| s.t);
        Series {
            labels,
            kind,
            samples,
        }
    }

    /// A copy restricted to the samples inside `window`.
    pub fn clipped(&self, window: TimeWindow) -> Series {
        let lo = self.samples.partition_point(|s| s.t < window.start);
        let hi = self.samples.partition_point(|s| s.t <= window.end);
        Series {
            labels: self.labels.clone(),
            kind: self.kind,
            samples: self.samples[lo..hi.max(lo)].to_vec(),
        }
    }
}

/// Where metric series come from.
///
/// Implementations compute lazily: only the series that match and only the samples inside the
/// window asked for. Labels must be sorted ([`Labels`] guarantees it) and samples sorted by time.
pub trait MetricSource: Send + Sync {
    /// Every series matching all `matchers` (no matchers: every series) that has at least one
    /// sample inside `window`, with only the samples inside `window`.
    fn select(&self, matchers: &[LabelMatcher], window: TimeWindow) -> Vec<Series>;

    /// The label sets (and kinds) of the series [`select`](Self::select) would return.
    ///
    /// The default computes the samples and drops them; sources that can list series more
    /// cheaply should override it.
    fn series_labels(
        &self,
        matchers: &[LabelMatcher],
        window: TimeWindow,
    ) -> Vec<(Labels, MetricKind)> {
        self.select(matchers, window)
            .into_iter()
            .map(|s| (s.labels, s.kind))
            .collect()
    }
}

/// Fixed series held in memory, for tests and recorded data.
///
/// ```
/// use aiopslab_sim::telemetry::{InMemoryMetrics, Labels, MetricSource, Sample, TimeWindow};
/// let m = InMemoryMetrics::new();
/// m.counter(Labels::new([("__name__", "requests_total")]), [(0, 1.0), (15_000, 4.0)]);
/// assert_eq!(m.select(&[], TimeWindow::new(0, 10_000))[0].samples, vec![Sample::new(0, 1.0)]);
/// ```
#[derive(Debug, Default)]
pub struct InMemoryMetrics {
    series: RwLock<BTreeMap<Labels, Series>>,
}

impl InMemoryMetrics {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples to the series with `labels` (created with `kind` if new).
    pub fn add(
        &self,
        labels: Labels,
        kind: MetricKind,
        samples: impl IntoIterator<Item = (i64, f64)>,
    ) {
        let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(labels.clone())
            .or_insert_with(|| Series::new(labels, kind, Vec::new()));
        let mut all = std::mem::take(&mut entry.samples);
        all.extend(samples.into_iter().map(|(t, v)| Sample::new(t, v)));
        *entry = Series::new(entry.labels.clone(), entry.kind, all);
    }

    /// Adds counter samples.
    pub fn counter(&self, labels: Labels, samples: impl IntoIterator<Item = (i64, f64)>) {
        self.add(labels, MetricKind::Counter, samples);
    }

    /// Adds gauge samples.
    pub fn gauge(&self, labels: Labels, samples: impl IntoIterator<Item = (i64, f64)>) {
        self.add(labels, MetricKind::Gauge, samples);
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MetricSource for InMemoryMetrics {
    fn select(&self, matchers: &[LabelMatcher], window: TimeWindow) -> Vec<Series> {
        let map = self.series.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .filter(|s| matches_all(matchers, &s.labels))
            .map(|s| s.clipped(window))
            .filter(|s| !s.samples.is_empty())
            .collect()
    }
}

/// Several sources seen as one; series with equal labels are merged (the first source wins on
/// equal timestamps).
#[derive(Default, Clone)]
pub struct CompositeMetrics {
    sources: Vec<Arc<dyn MetricSource>>,
}

impl CompositeMetrics {
    /// A composite of `sources`, in priority order.
    pub fn new(sources: Vec<Arc<dyn MetricSource>>) -> Self {
        CompositeMetrics { sources }
    }

    /// Adds one more source (lowest priority).
    pub fn push(&mut self, source: Arc<dyn MetricSource>) {
        self.sources.push(source);
    }
}

impl MetricSource for CompositeMetrics {
    fn select(&self, matchers: &[LabelMatcher], window: TimeWindow) -> Vec<Series> {
        let mut merged: BTreeMap<Labels, Series> = BTreeMap::new();
        for src in &self.sources {
            for s in src.select(matchers, window) {
                match merged.get_mut(&s.labels) {
                    None => {
                        merged.insert(s.labels.clone(), s);
                    }
                    Some(existing) => {
                        let mut all = std::mem::take(&mut existing.samples);
                        all.extend(s.samples);
                        // Stable sort keeps the earlier source first on equal timestamps.
                        *existing = Series::new(existing.labels.clone(), existing.kind, all);
                    }
                }
            }
        }
        merged.into_values().collect()
    }
}
