//! Telemetry derived from the virtual cluster's own state: the metric, trace and log sources
//! that the Prometheus, Jaeger and Elasticsearch endpoints serve for a [`VirtualCluster`].
//!
//! Nothing is generated ahead of time. A [`Timeline`] records the changes that matter as they
//! happen (pods and their container runs, namespaces, nodes, Services, Endpoints); a
//! [`RequestLog`] receives the requests the applications simulated. When a window is asked
//! for, the sources compute it from those two:
//!
//! - [`DerivedMetrics`]: cAdvisor's series, as the `kubernetes-cadvisor` job of AIOpsLab's
//!   Prometheus scrapes them every 15 s (names and labels in [`cadvisor`]): working set equals
//!   `kubectl top`, CPU seconds are its integral; and request metrics in the style of Istio
//!   ([`mesh`]);
//! - [`DerivedLogs`]: every container line the kubelet knows (all pods, all restarts, deleted
//!   pods) and every line simulated requests caused, as logstash documents;
//! - [`DerivedTraces`]: Jaeger traces of the sampled simulated requests.
//!
//! History before the episode is back-dated: see [`baseline`]. Everything is deterministic
//! for a seed: the same cluster history gives the same query results, and a sample's value does
//! not depend on the window it was asked in.
//!
//! Metric names: `container_cpu_usage_seconds_total`, `container_cpu_user_seconds_total`,
//! `container_cpu_system_seconds_total`, `container_cpu_cfs_periods_total`,
//! `container_cpu_cfs_throttled_periods_total`, `container_cpu_cfs_throttled_seconds_total`,
//! `container_cpu_load_average_10s`, `container_memory_cache`, `container_memory_usage_bytes`,
//! `container_memory_working_set_bytes`, `container_memory_rss`, `container_memory_mapped_file`,
//! `container_memory_max_usage_bytes`, `container_memory_swap`, `container_memory_failcnt`,
//! `container_spec_cpu_period`, `container_spec_cpu_quota`, `container_spec_cpu_shares`,
//! `container_spec_memory_limit_bytes`, `container_spec_memory_reservation_limit_bytes`,
//! `container_spec_memory_swap_limit_bytes`, `container_threads`, `container_threads_max`,
//! `container_network_{receive,transmit}_{bytes,packets,errors,packets_dropped}_total`
//! (`interface="eth0"`), `container_fs_{reads,writes}_bytes_total`,
//! `container_fs_{reads,writes}_total`, `container_fs_usage_bytes`, `container_fs_limit_bytes`
//! (`device`), `container_oom_events_total`, `container_last_seen`,
//! `container_start_time_seconds`; per node `up`, `machine_cpu_cores`, `machine_memory_bytes`;
//! from requests `istio_requests_total` and `istio_request_duration_milliseconds_{bucket,sum,count}`.
//!
//! Requests reach telemetry through the store's [`RequestLog`] extension:
//! `store.extension::<RequestLog>().record_outcome(&outcome, at)` for a request the flow
//! ([`crate::apps::flow`]) simulated at `at`, or [`RequestLog::record`] for hand-built ones.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<aiopslab_sim::store::Store>, handle: &aiopslab_sim::controllers::Handle) -> std::io::Result<()> {
//! use aiopslab_sim::telemetry::TelemetryServers;
//! use aiopslab_sim::telemetry::derive::{ClusterTelemetry, DeriveConfig};
//! let telemetry = ClusterTelemetry::for_cluster(store.clone(), Some(handle), DeriveConfig::new(42));
//! let servers = TelemetryServers::start(telemetry.sources(), store.clock().clone()).await?;
//! println!("{}", servers.urls());
//! # Ok(()) }
//! ```
//!
//! [`VirtualCluster`]: crate::cluster::VirtualCluster

pub mod baseline;
pub mod cadvisor;
mod compact;
mod flow;
mod hash;
pub mod logs;
pub mod mesh;
pub mod metrics;
pub mod requests;
pub mod timeline;
pub mod traces;
mod usage;

pub use logs::DerivedLogs;
pub use metrics::DerivedMetrics;
pub use requests::{
    RecordedLog, RecordedRequest, RecordedSpan, RequestLimits, RequestLog, SpanKind,
};
pub use timeline::Timeline;
pub use traces::DerivedTraces;

use super::server::TelemetrySources;
use crate::controllers::Handle;
use crate::store::Store;
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::error::RecvError;

/// Settings of the derived telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct DeriveConfig {
    /// The seed every drawn number comes from (use the cluster's seed).
    pub seed: u64,
    /// The scrape interval, ms (15 s).
    pub scrape_interval_ms: i64,
    /// How long before a namespace's deploy the baseline starts, ms (30 min; 0 disables).
    pub baseline_ms: i64,
    /// Pods created this long after a namespace's first pod still belong to its initial deploy
    /// and may be back-dated, ms (10 min).
    pub initial_window_ms: i64,
    /// How long deleted pods are remembered, ms (24 h).
    pub retention_ms: i64,
    /// At most this many pod incarnations are remembered.
    pub max_pods: usize,
    /// At most this many runs per container are remembered (the first few and the latest).
    pub max_runs_per_container: usize,
    /// Bounds of the request log.
    pub requests: RequestLimits,
}

impl DeriveConfig {
    /// Defaults with `seed`.
    pub fn new(seed: u64) -> Self {
        DeriveConfig {
            seed,
            scrape_interval_ms: 15_000,
            baseline_ms: 30 * 60_000,
            initial_window_ms: 10 * 60_000,
            retention_ms: 24 * 3_600_000,
            max_pods: 20_000,
            max_runs_per_container: 64,
            requests: RequestLimits::default(),
        }
    }
}

impl Default for DeriveConfig {
    fn default() -> Self {
        DeriveConfig::new(0)
    }
}

/// The derived telemetry of one cluster: the recorder, the request log and the three sources.
///
/// Dropping it stops the recorder's task (the sources keep answering from what was recorded,
/// catching up from the store when asked).
pub struct ClusterTelemetry {
    timeline: Arc<Timeline>,
    requests: Arc<RequestLog>,
    sources: TelemetrySources,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for ClusterTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTelemetry")
            .field("recording", &self.task.is_some())
            .finish()
    }
}

impl ClusterTelemetry {
    /// Telemetry for the cluster of `store`, with the kubelet's runs from `controllers` (without
    /// them there is no usage or log data, only object history). Starts the recorder task when
    /// called inside a tokio runtime (otherwise the sources catch up when queried). The request
    /// log is the store's [`RequestLog`] extension, configured with `config.seed`.
    pub fn for_cluster(
        store: Arc<Store>,
        controllers: Option<&Handle>,
        config: DeriveConfig,
    ) -> ClusterTelemetry {
        let requests = store.extension::<RequestLog>();
        requests.configure(config.seed, config.requests);
        // Subscribe before the first listing, so that nothing falls between them.
        let live = store.subscribe();
        let kubelet = controllers.map(|h| h.kubelet());
        let timeline = Arc::new(Timeline::new(store.clone(), kubelet, config));
        let task = tokio::runtime::Handle::try_current()
            .ok()
            .map(|rt| rt.spawn(record(Arc::downgrade(&timeline), live)));
        let clock = store.clock().clone();
        let sources = TelemetrySources {
            metrics: Arc::new(DerivedMetrics::new(timeline.clone(), requests.clone())),
            traces: Arc::new(DerivedTraces::new(requests.clone(), clock)),
            logs: Arc::new(DerivedLogs::new(timeline.clone(), requests.clone())),
        };
        ClusterTelemetry {
            timeline,
            requests,
            sources,
            task,
        }
    }

    /// The sources, for [`TelemetryServers::start`](super::TelemetryServers::start).
    pub fn sources(&self) -> TelemetrySources {
        self.sources.clone()
    }

    /// The request log (the same as `store.extension::<RequestLog>()`).
    pub fn requests(&self) -> Arc<RequestLog> {
        self.requests.clone()
    }

    /// The recorder.
    pub fn timeline(&self) -> Arc<Timeline> {
        self.timeline.clone()
    }
}

impl Drop for ClusterTelemetry {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Follows the store's events until the timeline or the store goes away. Sleeps between events.
async fn record(
    timeline: Weak<Timeline>,
    mut live: tokio::sync::broadcast::Receiver<Arc<crate::store::WatchEvent>>,
) {
    loop {
        match live.recv().await {
            Ok(ev) => match timeline.upgrade() {
                Some(t) => t.on_event(&ev),
                None => return,
            },
            Err(RecvError::Lagged(_)) => match timeline.upgrade() {
                Some(t) => t.catch_up_now(),
                None => return,
            },
            Err(RecvError::Closed) => return,
        }
    }
}
