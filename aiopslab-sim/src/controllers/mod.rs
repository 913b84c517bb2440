//! The control loops of the virtual cluster: what kube-controller-manager, kube-scheduler,
//! the kubelets and the local-path provisioner do in a kind cluster.
//!
//! - [`bootstrap`] fills a store with a kind-like cluster (nodes, system namespaces, kube-system
//!   workloads, the `kubernetes` Service, the default StorageClass).
//! - [`start`] spawns the loops on the current tokio runtime and returns a [`Handle`]. They react
//!   to store events and to timers; nothing polls. With a [`ManualClock`] (set in
//!   [`Options::manual`]) timers fire only when the clock is moved with [`Handle::advance`] (or
//!   moved by hand followed by [`Handle::settle`]), which makes tests exact and fast.
//!
//! Per controller: [`deployment`](self) (ReplicaSets named by the template hash, rolling updates
//! and Recreate, revisions, conditions), replica sets, stateful sets, daemon sets, jobs and cron
//! jobs, endpoints and endpoint slices, garbage collection (background, foreground, orphan),
//! namespaces (finalization, default service accounts, `kube-root-ca.crt`), volumes (local-path
//! provisioning and static binding), the scheduler, and the kubelet (container life cycle, logs,
//! exec, resource use). What containers do is pluggable: see [`behavior`].
//!
//! ```
//! use aiopslab_sim::clock::ManualClock;
//! use aiopslab_sim::controllers::{self, Options, Topology};
//! use aiopslab_sim::store::Store;
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let clock = ManualClock::at("2026-01-01T00:00:00Z".parse().unwrap());
//! let store = Arc::new(Store::new(7, Arc::new(clock.clone())));
//! controllers::bootstrap(&store, &Topology::default());
//! let handle = controllers::start(store.clone(), Options::manual(clock));
//! handle.advance(jiff::SignedDuration::from_secs(30)).await;
//! let coredns = store
//!     .get(&aiopslab_sim::resources::ResourceKey::new("apps", "deployments"), "kube-system", "coredns")
//!     .unwrap();
//! assert_eq!(coredns["status"]["readyReplicas"], 2);
//! # });
//! ```

pub mod behavior;
mod bootstrap;
mod daemonset;
mod deployment;
mod endpoints;
mod events;
mod gc;
mod images;
mod job;
pub(crate) mod kubelet;
mod manager;
pub mod metrics;
mod namespace;
mod quota;
mod replicaset;
mod scheduler;
mod statefulset;
pub(crate) mod util;
mod volume;

pub use bootstrap::{Topology, bootstrap};
pub use images::script_plan;

use crate::clock::{Clock, ManualClock};
use crate::runtime::PodRuntime;
use crate::store::Store;
use behavior::Catalog;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How the control loops run.
#[derive(Clone)]
pub struct Options {
    /// The images the registry has and what their containers do.
    pub catalog: Arc<Catalog>,
    /// Multiplies every simulated delay (image pulls, container starts, back-offs, probes).
    /// `1.0` is real time; the default `0.1` makes a 10 s CrashLoopBackOff last 1 s. Waiting
    /// reasons, restart counts and event messages do not change with the scale.
    pub time_scale: f64,
    /// A manual clock: timers then fire only when it is advanced (see [`Handle::advance`]).
    /// It must be the clock the store was created with.
    pub manual_clock: Option<ManualClock>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            catalog: Arc::new(Catalog::builtin()),
            time_scale: 0.1,
            manual_clock: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("catalog", &self.catalog)
            .field("time_scale", &self.time_scale)
            .field("manual_clock", &self.manual_clock.is_some())
            .finish()
    }
}

impl Options {
    /// Options for a store driven by `clock`: real-length delays (`time_scale` 1.0) that
    /// pass only when the clock is advanced.
    pub fn manual(clock: ManualClock) -> Self {
        Options {
            catalog: Arc::new(Catalog::builtin()),
            time_scale: 1.0,
            manual_clock: Some(clock),
        }
    }

    /// Replaces the image catalogue.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Arc::new(catalog);
        self
    }

    /// Sets the time scale.
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }
}

/// The grace period a pod deletion gets when the request does not say: the pod's
/// `terminationGracePeriodSeconds` (30 by default), or 0 when the pod was never scheduled or
/// has already finished, as the real API server decides.
///
/// The HTTP layer should pass this to [`Store::delete`] for pods.
pub fn pod_delete_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let unscheduled = util::sd(pod, "/spec/nodeName").is_empty();
    let finished = matches!(util::sd(pod, "/status/phase"), "Succeeded" | "Failed");
    if unscheduled || finished {
        return 0;
    }
    requested
        .or_else(|| util::int(pod, "/spec/terminationGracePeriodSeconds"))
        .unwrap_or(30)
        .max(0)
}

/// The running control loops. Dropping it stops them.
pub struct Handle {
    commands: mpsc::UnboundedSender<manager::Command>,
    kubelet: Arc<kubelet::Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    manual: Option<ManualClock>,
    clock: crate::clock::SharedClock,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("running", &self.task.is_some())
            .finish()
    }
}

/// Starts the control loops on the current tokio runtime.
///
/// The loops first reconcile everything already in the store, then follow its events.
///
/// # Panics
///
/// Panics when called outside a tokio runtime.
pub fn start(store: Arc<Store>, options: Options) -> Handle {
    let events = store.subscribe();
    let (tx, rx) = mpsc::unbounded_channel();
    let kubelet = Arc::new(kubelet::Shared::new(store.clone(), options.catalog.clone()));
    let manual = options.manual_clock.clone();
    let clock = store.clock().clone();
    let auto_timers = manual.is_none();
    let ctx = manager::Ctx {
        store,
        opts: options,
        recorder: Default::default(),
        queue: Default::default(),
        timers: Default::default(),
        background: Default::default(),
        kubelet: kubelet.clone(),
        unschedulable: Default::default(),
        scheduler: Default::default(),
    };
    let task = tokio::spawn(manager::run(ctx, events, rx, auto_timers));
    Handle {
        commands: tx,
        kubelet,
        task: Some(task),
        manual,
        clock,
    }
}

impl Handle {
    /// Processes every pending event, work item and due timer, and returns when the loops
    /// are idle. Timers that are not yet due are left for later.
    pub async fn settle(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(manager::Command::Settle(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// When the next timer is due, if any.
    pub async fn next_timer(&self) -> Option<Timestamp> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(manager::Command::NextTimer(tx)).is_err() {
            return None;
        }
        rx.await.ok().flatten()
    }

    /// Moves a manual clock forward by `by`, stopping at every timer on the way so that each
    /// transition happens at its exact time, and settles. Without a manual clock this only
    /// settles.
    pub async fn advance(&self, by: SignedDuration) {
        self.settle().await;
        let Some(clock) = &self.manual else {
            return;
        };
        let target = clock.now().checked_add(by).unwrap_or_else(|_| clock.now());
        loop {
            match self.next_timer().await {
                Some(t) if t <= target => {
                    if t > clock.now() {
                        clock.set(t);
                    }
                    self.settle().await;
                }
                _ => break,
            }
        }
        clock.set(target);
        self.settle().await;
    }

    /// When the next timer that may change something is due: periodic probes that keep
    /// finding the same result are left out.
    pub async fn next_foreground_timer(&self) -> Option<Timestamp> {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(manager::Command::NextForegroundTimer(tx))
            .is_err()
        {
            return None;
        }
        rx.await.ok().flatten()
    }

    /// Settles, then keeps running due timers for at most `max` of real time (a wall clock)
    /// while some are due within it: "wait until the cluster is quiet". Periodic probes that
    /// keep finding the same result go on running but are not waited for.
    pub async fn run_until_quiet(&self, max: std::time::Duration) {
        if self.manual.is_some() {
            self.settle().await;
            return;
        }
        let deadline = tokio::time::Instant::now() + max;
        loop {
            self.settle().await;
            let Some(next) = self.next_foreground_timer().await else {
                return;
            };
            let wait = next.duration_since(self.clock.now());
            let wait = std::time::Duration::try_from(wait).unwrap_or_default();
            let wake = tokio::time::Instant::now() + wait;
            if wake > deadline {
                return;
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Kills the current run of a container now (`container` `None`: the pod's first
    /// container) with `exit_code` (137 for SIGKILL), as Chaos Mesh's container-kill does; the
    /// kubelet restarts it according to the restart policy and the crash back-off.
    pub async fn kill_container(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        exit_code: i32,
    ) -> Result<(), crate::runtime::RuntimeError> {
        let (tx, rx) = oneshot::channel();
        let cmd = manager::Command::Kill {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: container.map(str::to_string),
            exit_code,
            reply: tx,
        };
        if self.commands.send(cmd).is_err() {
            return Err(crate::runtime::RuntimeError::Internal(
                "the controllers are stopped".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(crate::runtime::RuntimeError::Internal(
                "the controllers are stopped".into(),
            ))
        })
    }

    /// What runs in pods, for `pods/log` and `pods/exec`.
    pub fn runtime(&self) -> Arc<dyn PodRuntime> {
        self.kubelet.clone()
    }

    /// The kubelet's records (container runs, their plans and usage), for the telemetry
    /// derived from what runs.
    pub(crate) fn kubelet(&self) -> Arc<kubelet::Shared> {
        self.kubelet.clone()
    }

    /// Resource use of pods and nodes, for `metrics.k8s.io` and `kubectl top`.
    pub fn metrics(&self) -> metrics::Metrics {
        metrics::Metrics::new(self.kubelet.clone())
    }

    /// Stops the loops.
    pub fn stop(&mut self) {
        let _ = self.commands.send(manager::Command::Stop);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}
