//! Waiting for a namespace to settle before it is judged.
//!
//! Right after an agent's fix the cluster is still moving: controllers roll out new pods,
//! old ones terminate, a crash-looping container waits out its back-off before it runs
//! again (and may now succeed). Judging at once would fail fixes that work. [`settle`]
//! watches the namespace's Pods, Deployments, ReplicaSets and StatefulSets and returns when
//!
//! 1. every controller has observed its object's latest generation and every ReplicaSet has
//!    the pods it wants, no pod is terminating and no container is being created;
//! 2. every container that was in `CrashLoopBackOff` when settling began has restarted once
//!    (its back-off played out; disable with [`SettleOptions::await_crash_loop_restart`]);
//! 3. nothing has changed for [`SettleOptions::quiet`];
//!
//! or at [`SettleOptions::timeout`], reporting what was still moving. Nothing polls: the
//! wait reacts to watch events and one timer.

use crate::error::OracleError;
use aiopslab_k8s::Cluster;
use futures::stream::{BoxStream, StreamExt, select_all};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait for a namespace to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleOptions {
    /// How long nothing may change before the namespace counts as settled (default 5 s).
    pub quiet: Duration,
    /// The time limit (default 120 s). The kubelet's crash-loop back-off grows to 5 minutes
    /// on a real cluster; raise the limit to always see the next restart there.
    pub timeout: Duration,
    /// Whether containers in `CrashLoopBackOff` at the start must restart once before the
    /// namespace counts as settled (default true).
    pub await_crash_loop_restart: bool,
}

impl Default for SettleOptions {
    fn default() -> Self {
        SettleOptions {
            quiet: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            await_crash_loop_restart: true,
        }
    }
}

impl SettleOptions {
    /// The defaults with another quiet period and time limit.
    pub fn new(quiet: Duration, timeout: Duration) -> Self {
        SettleOptions {
            quiet,
            timeout,
            ..SettleOptions::default()
        }
    }
}

/// How settling went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleReport {
    /// Whether the namespace settled within the time limit.
    pub settled: bool,
    /// How long the wait took.
    pub waited: Duration,
    /// How many changes were seen.
    pub changes: usize,
    /// What was still moving when the time limit was reached (empty when settled).
    pub pending: Vec<String>,
}

impl SettleReport {
    /// One line: `settled after 3.2 s (4 changes)` or `still moving after 120.0 s: ...`.
    pub fn summary(&self) -> String {
        let secs = self.waited.as_secs_f64();
        if self.settled {
            format!("settled after {secs:.1} s ({} changes)", self.changes)
        } else {
            format!(
                "still moving after {secs:.1} s: {}",
                self.pending.join("; ")
            )
        }
    }
}

impl fmt::Display for SettleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// A watch cache of one kind: the objects by name, and whether the first list is in.
struct Cache<K> {
    items: BTreeMap<String, K>,
    buffer: Option<BTreeMap<String, K>>,
    synced: bool,
}

fn name_of<K: Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

fn versions<K: Resource>(items: &BTreeMap<String, K>) -> Vec<(&String, Option<&String>)> {
    items
        .iter()
        .map(|(n, o)| (n, o.meta().resource_version.as_ref()))
        .collect()
}

impl<K: Resource> Cache<K> {
    fn new() -> Self {
        Cache {
            items: BTreeMap::new(),
            buffer: None,
            synced: false,
        }
    }

    /// Applies a watch event; returns whether it is a change (not part of a first list).
    fn apply(&mut self, event: watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Init => {
                self.buffer = Some(BTreeMap::new());
                false
            }
            watcher::Event::InitApply(o) => {
                let target = self.buffer.as_mut().unwrap_or(&mut self.items);
                target.insert(name_of(&o), o);
                false
            }
            watcher::Event::InitDone => {
                let was_synced = self.synced;
                self.synced = true;
                match self.buffer.take() {
                    Some(fresh) => {
                        // A re-list after a dropped watch is a change only if it differs.
                        let changed = was_synced && versions(&fresh) != versions(&self.items);
                        self.items = fresh;
                        changed
                    }
                    None => false,
                }
            }
            watcher::Event::Apply(o) => {
                self.items.insert(name_of(&o), o);
                self.synced
            }
            watcher::Event::Delete(o) => {
                self.items.remove(&name_of(&o));
                self.synced
            }
        }
    }
}

/// One item of the merged watch streams.
enum Item {
    Pod(watcher::Event<Pod>),
    Deployment(watcher::Event<Deployment>),
    ReplicaSet(watcher::Event<ReplicaSet>),
    StatefulSet(watcher::Event<StatefulSet>),
    Failed(&'static str, watcher::Error),
}

/// What the settle wait knows about the namespace.
struct View {
    pods: Cache<Pod>,
    deployments: Cache<Deployment>,
    replicasets: Cache<ReplicaSet>,
    statefulsets: Cache<StatefulSet>,
}

/// `(pod, container)` → restart count, for containers in CrashLoopBackOff.
type CrashLoops = BTreeMap<(String, String), i32>;

fn unobserved(
    kind: &str,
    name: &str,
    generation: Option<i64>,
    observed: Option<i64>,
) -> Option<String> {
    let generation = generation.unwrap_or(0);
    let observed = observed.unwrap_or(0);
    (observed < generation).then(|| {
        format!("{kind} {name}: its controller has not observed generation {generation} yet")
    })
}

impl View {
    fn new() -> Self {
        View {
            pods: Cache::new(),
            deployments: Cache::new(),
            replicasets: Cache::new(),
            statefulsets: Cache::new(),
        }
    }

    fn synced(&self) -> bool {
        self.pods.synced
            && self.deployments.synced
            && self.replicasets.synced
            && self.statefulsets.synced
    }

    fn apply(&mut self, item: Item) -> bool {
        match item {
            Item::Pod(e) => self.pods.apply(e),
            Item::Deployment(e) => self.deployments.apply(e),
            Item::ReplicaSet(e) => self.replicasets.apply(e),
            Item::StatefulSet(e) => self.statefulsets.apply(e),
            Item::Failed(..) => false,
        }
    }

    /// The containers in CrashLoopBackOff now, with their restart counts.
    fn crash_loops(&self) -> CrashLoops {
        let mut out = CrashLoops::new();
        for (pod, p) in &self.pods.items {
            for s in p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_deref())
                .unwrap_or(&[])
            {
                let waiting = s.state.as_ref().and_then(|st| st.waiting.as_ref());
                if waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff") {
                    out.insert((pod.clone(), s.name.clone()), s.restart_count);
                }
            }
        }
        out
    }

    /// What is still in transition.
    fn pending(&self, crash_loops: &CrashLoops) -> Vec<String> {
        let mut out = Vec::new();
        for (name, d) in &self.deployments.items {
            out.extend(unobserved(
                "deployment",
                name,
                d.metadata.generation,
                d.status.as_ref().and_then(|s| s.observed_generation),
            ));
        }
        for (name, s) in &self.statefulsets.items {
            out.extend(unobserved(
                "statefulset",
                name,
                s.metadata.generation,
                s.status.as_ref().and_then(|s| s.observed_generation),
            ));
        }
        for (name, rs) in &self.replicasets.items {
            let observed = unobserved(
                "replicaset",
                name,
                rs.metadata.generation,
                rs.status.as_ref().and_then(|s| s.observed_generation),
            );
            if let Some(o) = observed {
                out.push(o);
                continue;
            }
            let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let have = rs.status.as_ref().map(|s| s.replicas).unwrap_or(0);
            if want != have {
                out.push(format!("replicaset {name}: {have} of {want} pods"));
            }
        }
        for (name, p) in &self.pods.items {
            if p.metadata.deletion_timestamp.is_some() {
                out.push(format!("pod {name} is terminating"));
                continue;
            }
            let status = p.status.as_ref();
            let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
            let statuses = status
                .and_then(|s| s.container_statuses.as_deref())
                .unwrap_or(&[]);
            let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
            if scheduled && statuses.is_empty() && phase == "Pending" {
                out.push(format!("pod {name} is starting"));
                continue;
            }
            for s in statuses {
                let reason = s
                    .state
                    .as_ref()
                    .and_then(|st| st.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref());
                if matches!(reason, Some("ContainerCreating" | "PodInitializing")) {
                    out.push(format!("pod {name}: container {} is being created", s.name));
                }
            }
        }
        for ((pod, container), restarts) in crash_loops {
            let still = self.pods.items.get(pod).and_then(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_deref())
                    .unwrap_or(&[])
                    .iter()
                    .find(|s| &s.name == container)
            });
            if let Some(s) = still {
                let waiting = s
                    .state
                    .as_ref()
                    .and_then(|st| st.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref());
                if s.restart_count == *restarts && waiting == Some("CrashLoopBackOff") {
                    out.push(format!(
                        "pod {pod}: container {container} is in CrashLoopBackOff; waiting for its next restart"
                    ));
                }
            }
        }
        out
    }
}

/// Whether a watch error will not go away by retrying (no rights, no such resource).
fn fatal_code(error: &watcher::Error) -> Option<u16> {
    let code = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return None,
    };
    matches!(code, 401 | 403 | 404).then_some(code)
}

fn watch<K>(
    cluster: &Cluster,
    namespace: &str,
    what: &'static str,
    wrap: fn(watcher::Event<K>) -> Item,
) -> BoxStream<'static, Item>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + fmt::Debug
        + Send
        + 'static,
{
    watcher::watcher(cluster.api::<K>(namespace), watcher::Config::default())
        .default_backoff()
        .map(move |r| match r {
            Ok(e) => wrap(e),
            Err(e) => Item::Failed(what, e),
        })
        .boxed()
}

/// Waits for `namespace` to settle (see the module docs). A namespace that does not settle
/// in time is not an error: the report says what was still moving. Errors are watches that
/// cannot work (no rights) or that end.
pub async fn settle(
    cluster: &Cluster,
    namespace: &str,
    options: &SettleOptions,
) -> Result<SettleReport, OracleError> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let mut stream = select_all([
        watch::<Pod>(cluster, namespace, "pods", Item::Pod),
        watch::<Deployment>(cluster, namespace, "deployments", Item::Deployment),
        watch::<ReplicaSet>(cluster, namespace, "replicasets", Item::ReplicaSet),
        watch::<StatefulSet>(cluster, namespace, "statefulsets", Item::StatefulSet),
    ]);
    let mut view = View::new();
    let mut crash_loops = CrashLoops::new();
    let mut first_sync = true;
    let mut last_change = started;
    let mut changes = 0usize;
    loop {
        let synced = view.synced();
        let pending = if synced {
            view.pending(&crash_loops)
        } else {
            vec![format!(
                "the first list of objects in namespace {namespace}"
            )]
        };
        let wake = if pending.is_empty() {
            (last_change + options.quiet).min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            item = stream.next() => match item {
                None => {
                    return Err(OracleError::Watch {
                        what: format!("namespace {namespace}"),
                        code: 0,
                        message: "the watch stream ended".into(),
                    });
                }
                Some(Item::Failed(what, error)) => {
                    if let Some(code) = fatal_code(&error) {
                        return Err(OracleError::Watch {
                            what: format!("{what} in namespace {namespace}"),
                            code,
                            message: error.to_string(),
                        });
                    }
                    tracing::debug!(%error, what, namespace, "watch error; retrying");
                }
                Some(item) => {
                    if view.apply(item) {
                        changes += 1;
                        last_change = Instant::now();
                    }
                    if first_sync && view.synced() {
                        first_sync = false;
                        if options.await_crash_loop_restart {
                            crash_loops = view.crash_loops();
                        }
                        last_change = Instant::now();
                    }
                }
            },
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                let settled = pending.is_empty() && now >= last_change + options.quiet;
                if settled || now >= deadline {
                    let pending = if settled {
                        Vec::new()
                    } else if pending.is_empty() {
                        vec![format!(
                            "objects kept changing ({changes} changes, the last {:.1} s ago)",
                            (now - last_change).as_secs_f64()
                        )]
                    } else {
                        pending
                    };
                    return Ok(SettleReport {
                        settled,
                        waited: now - started,
                        changes,
                        pending,
                    });
                }
            }
        }
    }
}
