//! The control loop: one task that turns store events and due timers into work items and
//! runs the controllers one item at a time, in a deterministic order.

use super::events::Recorder;
use super::util::{self, controller_ref, is_deleting, keys, name, namespace, sd};
use super::{Options, kubelet};
use crate::admission::{self, Operation};
use crate::resources::ResourceKey;
use crate::selector::LabelSelector;
use crate::store::{EventType, Store, WatchEvent};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// One unit of controller work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Work {
    /// Namespace finalization, default service account and root CA config map.
    Namespace(String),
    /// A Deployment.
    Deployment(String, String),
    /// A ReplicaSet.
    ReplicaSet(String, String),
    /// A StatefulSet.
    StatefulSet(String, String),
    /// A DaemonSet.
    DaemonSet(String, String),
    /// A Job.
    Job(String, String),
    /// A CronJob.
    CronJob(String, String),
    /// Endpoints and EndpointSlices of a Service.
    Service(String, String),
    /// Scheduling of a pod.
    Schedule(String, String),
    /// The kubelet's view of a pod.
    Pod(String, String),
    /// Binding and protection of a claim.
    Pvc(String, String),
    /// A PersistentVolume's phase and reclaim.
    Pv(String),
    /// Garbage collection of the dependents of a removed owner (uid, namespace).
    Orphans(String, String),
    /// Orphan / foreground deletion finalizers on an object being deleted.
    Finalize(ResourceKey, String, String),
    /// Pods left on a node that no longer exists.
    NodeGone(String),
    /// The status of the ResourceQuotas of a namespace.
    Quota(String),
}

/// A FIFO of unique work items.
#[derive(Default)]
pub(crate) struct Queue {
    items: VecDeque<Work>,
    queued: HashSet<Work>,
}

impl Queue {
    pub(crate) fn push(&mut self, w: Work) {
        if self.queued.insert(w.clone()) {
            self.items.push_back(w);
        }
    }

    fn pop(&mut self) -> Option<Work> {
        let w = self.items.pop_front()?;
        self.queued.remove(&w);
        Some(w)
    }
}

/// Work items due at given instants (the earliest request per item wins).
#[derive(Default)]
pub(crate) struct Timers {
    by_time: BTreeMap<(i128, u64), Work>,
    due: HashMap<Work, (i128, u64)>,
    seq: u64,
}

impl Timers {
    fn insert(&mut self, at: Timestamp, w: Work) {
        let nanos = at.as_nanosecond();
        if let Some(existing) = self.due.get(&w) {
            if existing.0 <= nanos {
                return;
            }
            self.by_time.remove(existing);
        }
        self.seq += 1;
        let key = (nanos, self.seq);
        self.by_time.insert(key, w.clone());
        self.due.insert(w, key);
    }

    fn next(&self) -> Option<Timestamp> {
        self.by_time
            .keys()
            .next()
            .and_then(|(n, _)| Timestamp::from_nanosecond(*n).ok())
    }

    fn pop_due(&mut self, now: Timestamp) -> Option<Work> {
        let (&key, _) = self.by_time.iter().next()?;
        if key.0 > now.as_nanosecond() {
            return None;
        }
        let w = self.by_time.remove(&key)?;
        self.due.remove(&w);
        Some(w)
    }
}

/// Everything the controllers share.
pub(crate) struct Ctx {
    /// The object store.
    pub store: Arc<Store>,
    /// The options the loops were started with.
    pub opts: Options,
    /// The event recorder (aggregates repeats).
    pub recorder: Recorder,
    /// Pending work.
    pub queue: Queue,
    /// Delayed work.
    pub timers: Timers,
    /// Delayed work that only repeats a steady observation (periodic probes that keep finding
    /// the same): it runs on time, but a caller waiting for the cluster to settle does not
    /// wait for it.
    pub background: Timers,
    /// The kubelet's state, shared with `logs` / `exec`.
    pub kubelet: Arc<kubelet::Shared>,
    /// Pods the scheduler could not place (retried when the cluster changes).
    pub unschedulable: BTreeSet<(String, String)>,
    /// The scheduler's memory of recent failures.
    pub scheduler: super::scheduler::SchedulerState,
}

impl Ctx {
    /// The store clock's current time.
    pub fn now(&self) -> Timestamp {
        self.store.clock().now()
    }

    /// The current time as Kubernetes writes it.
    pub fn now_str(&self) -> String {
        self.store.now_rfc3339()
    }

    /// The real delay for a simulated duration (scaled by `time_scale`).
    pub fn scaled(&self, d: SignedDuration) -> SignedDuration {
        let scale = if self.opts.time_scale.is_finite() && self.opts.time_scale > 0.0 {
            self.opts.time_scale
        } else {
            1.0
        };
        SignedDuration::from_nanos((d.as_nanos() as f64 * scale) as i64)
    }

    /// The instant a simulated duration from now falls on.
    pub fn after(&self, d: SignedDuration) -> Timestamp {
        let now = self.now();
        now.checked_add(self.scaled(d)).unwrap_or(now)
    }

    /// Queues work.
    pub fn enqueue(&mut self, w: Work) {
        self.queue.push(w);
    }

    /// Queues work at an instant.
    pub fn enqueue_at(&mut self, w: Work, at: Timestamp) {
        if at <= self.now() {
            self.queue.push(w);
        } else {
            self.timers.insert(at, w);
        }
    }

    /// Queues background work at an instant (see [`Ctx::background`]).
    pub fn enqueue_background_at(&mut self, w: Work, at: Timestamp) {
        if at <= self.now() {
            self.queue.push(w);
        } else {
            self.background.insert(at, w);
        }
    }

    /// When the next timer of either kind is due.
    fn next_any_timer(&self) -> Option<Timestamp> {
        match (self.timers.next(), self.background.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Creates an object as the API server would: admission (defaults, uid) then the store.
    pub fn create(&mut self, key: &ResourceKey, ns: &str, mut obj: Value) -> Result<Value, String> {
        let rtype =
            self.store.catalogue().by_key(key).cloned().ok_or_else(|| {
                format!("the server could not find the requested resource ({key})")
            })?;
        if rtype.namespaced {
            obj["metadata"]["namespace"] = Value::String(ns.to_string());
        }
        admission::admit(&self.store, &rtype, Operation::Create, &mut obj, None)
            .map_err(|e| e.to_string())?;
        self.store
            .create(key, if rtype.namespaced { ns } else { "" }, obj)
            .map_err(|e| e.to_string())
    }

    /// Records a core/v1 Event about `obj`.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        obj: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
        host: Option<&str>,
        field_path: Option<&str>,
    ) {
        let now = self.now();
        self.recorder.record(
            &self.store,
            now,
            obj,
            warning,
            reason,
            message,
            component,
            host,
            field_path,
        );
    }

    /// Deletes a pod the way a controller does (the pod's own grace period).
    pub fn delete_pod(&mut self, pod: &Value) -> Result<(), String> {
        let grace = super::pod_delete_grace(pod, None);
        match self.store.delete(
            &keys::pods(),
            namespace(pod),
            name(pod),
            Some(grace),
            None,
            None,
        ) {
            Ok(_) | Err(crate::store::StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Commands from the [`super::Handle`].
pub(crate) enum Command {
    Settle(oneshot::Sender<()>),
    /// The next timer of either kind.
    NextTimer(oneshot::Sender<Option<Timestamp>>),
    /// The next timer that is not background work.
    NextForegroundTimer(oneshot::Sender<Option<Timestamp>>),
    Kill {
        namespace: String,
        pod: String,
        container: Option<String>,
        exit_code: i32,
        reply: oneshot::Sender<Result<(), crate::runtime::RuntimeError>>,
    },
    Stop,
}

/// Whether the event's object is a controller-owned kind, and which work its owner needs.
fn owner_work(obj: &Value) -> Option<Work> {
    let r = controller_ref(obj)?;
    let ns = namespace(obj).to_string();
    let owner = sd(r, "/name").to_string();
    match sd(r, "/kind") {
        "ReplicaSet" => Some(Work::ReplicaSet(ns, owner)),
        "Deployment" => Some(Work::Deployment(ns, owner)),
        "StatefulSet" => Some(Work::StatefulSet(ns, owner)),
        "DaemonSet" => Some(Work::DaemonSet(ns, owner)),
        "Job" => Some(Work::Job(ns, owner)),
        "CronJob" => Some(Work::CronJob(ns, owner)),
        _ => None,
    }
}

fn selector_matches(owner: &Value, obj: &Value) -> bool {
    LabelSelector::from_object(owner.pointer("/spec/selector"))
        .map(|s| !s.is_empty() && s.matches_object(obj))
        .unwrap_or(false)
}

impl Ctx {
    fn enqueue_all(
        &mut self,
        key: &ResourceKey,
        ns: Option<&str>,
        make: fn(String, String) -> Work,
    ) {
        let (items, _) = self.store.list(key, ns);
        for o in items {
            self.queue
                .push(make(namespace(&o).to_string(), name(&o).to_string()));
        }
    }

    /// Queues every object of every controlled kind (at start and after a lagged watch).
    pub(crate) fn resync_all(&mut self) {
        let (namespaces, _) = self.store.list(&keys::namespaces(), None);
        for ns in namespaces {
            self.queue.push(Work::Namespace(name(&ns).to_string()));
        }
        self.enqueue_all(&keys::deployments(), None, Work::Deployment);
        self.enqueue_all(&keys::replicasets(), None, Work::ReplicaSet);
        self.enqueue_all(&keys::statefulsets(), None, Work::StatefulSet);
        self.enqueue_all(&keys::daemonsets(), None, Work::DaemonSet);
        self.enqueue_all(&keys::jobs(), None, Work::Job);
        self.enqueue_all(&keys::cronjobs(), None, Work::CronJob);
        self.enqueue_all(&keys::services(), None, Work::Service);
        self.enqueue_all(&keys::pvcs(), None, Work::Pvc);
        let (quotas, _) = self.store.list(&super::quota::quotas(), None);
        for q in quotas {
            self.queue.push(Work::Quota(namespace(&q).to_string()));
        }
        let (pvs, _) = self.store.list(&keys::pvs(), None);
        for pv in pvs {
            self.queue.push(Work::Pv(name(&pv).to_string()));
        }
        let (pods, _) = self.store.list(&keys::pods(), None);
        for p in pods {
            let (ns, n) = (namespace(&p).to_string(), name(&p).to_string());
            if sd(&p, "/spec/nodeName").is_empty() {
                self.queue.push(Work::Schedule(ns, n));
            } else {
                self.queue.push(Work::Pod(ns, n));
            }
        }
    }

    /// Retries the pods the scheduler could not place.
    pub(crate) fn retry_unschedulable(&mut self) {
        let pending: Vec<(String, String)> = self.unschedulable.iter().cloned().collect();
        for (ns, n) in pending {
            self.queue.push(Work::Schedule(ns, n));
        }
    }

    fn services_of(&mut self, ns: &str) {
        self.enqueue_all(&keys::services(), Some(ns), Work::Service);
    }

    /// Turns one store event into work.
    pub(crate) fn route(&mut self, ev: &WatchEvent) {
        let obj = &*ev.object;
        let ns = ev.namespace.clone();
        let n = name(obj).to_string();
        let key = &ev.resource;
        let deleted = ev.event_type == EventType::Deleted;
        match (key.group.as_str(), key.plural.as_str()) {
            ("", "pods") => self.route_pod(obj, &ns, &n, deleted),
            ("apps", "replicasets") => {
                self.queue.push(Work::ReplicaSet(ns.clone(), n.clone()));
                match owner_work(obj) {
                    Some(w) => self.queue.push(w),
                    None if !deleted => {
                        let (deps, _) = self.store.list(&keys::deployments(), Some(&ns));
                        for d in deps.iter().filter(|d| selector_matches(d, obj)) {
                            self.queue
                                .push(Work::Deployment(ns.clone(), name(d).to_string()));
                        }
                    }
                    None => {}
                }
            }
            ("apps", "deployments") => self.queue.push(Work::Deployment(ns.clone(), n.clone())),
            ("apps", "statefulsets") => self.queue.push(Work::StatefulSet(ns.clone(), n.clone())),
            ("apps", "daemonsets") => self.queue.push(Work::DaemonSet(ns.clone(), n.clone())),
            ("apps", "controllerrevisions") => {
                if let Some(w) = owner_work(obj) {
                    self.queue.push(w);
                }
            }
            ("batch", "jobs") => {
                self.queue.push(Work::Job(ns.clone(), n.clone()));
                if let Some(w) = owner_work(obj) {
                    self.queue.push(w);
                }
            }
            ("batch", "cronjobs") => self.queue.push(Work::CronJob(ns.clone(), n.clone())),
            ("", "services") => self.queue.push(Work::Service(ns.clone(), n.clone())),
            ("", "endpoints") => self.queue.push(Work::Service(ns.clone(), n.clone())),
            ("discovery.k8s.io", "endpointslices") => {
                let svc = sd(obj, "/metadata/labels/kubernetes.io~1service-name");
                if !svc.is_empty() {
                    self.queue.push(Work::Service(ns.clone(), svc.to_string()));
                }
            }
            ("", "nodes") => {
                self.enqueue_all(&keys::daemonsets(), None, Work::DaemonSet);
                self.retry_unschedulable();
                if deleted {
                    self.queue.push(Work::NodeGone(n.clone()));
                }
            }
            ("", "namespaces") => self.queue.push(Work::Namespace(n.clone())),
            ("", "persistentvolumeclaims") => {
                self.queue.push(Work::Pvc(ns.clone(), n.clone()));
                let volume = sd(obj, "/spec/volumeName");
                if !volume.is_empty() {
                    self.queue.push(Work::Pv(volume.to_string()));
                }
                // Pods waiting for this claim.
                let (pods, _) = self.store.list(&keys::pods(), Some(&ns));
                for p in pods.iter().filter(|p| uses_claim(p, &n)) {
                    let pn = name(p).to_string();
                    if sd(p, "/spec/nodeName").is_empty() {
                        self.queue.push(Work::Schedule(ns.clone(), pn));
                    } else {
                        self.queue.push(Work::Pod(ns.clone(), pn));
                    }
                }
            }
            ("", "persistentvolumes") => {
                self.queue.push(Work::Pv(n.clone()));
                let claim_ns = sd(obj, "/spec/claimRef/namespace");
                let claim = sd(obj, "/spec/claimRef/name");
                if !claim.is_empty() {
                    self.queue
                        .push(Work::Pvc(claim_ns.to_string(), claim.to_string()));
                }
                // Pending claims may bind to a new volume.
                self.enqueue_all(&keys::pvcs(), None, Work::Pvc);
            }
            ("", "configmaps") | ("", "secrets") => {
                // Pods waiting for a volume source.
                let (pods, _) = self.store.list(&keys::pods(), Some(&ns));
                for p in pods.iter() {
                    if !sd(p, "/spec/nodeName").is_empty() && sd(p, "/status/phase") == "Pending" {
                        self.queue.push(Work::Pod(ns.clone(), name(p).to_string()));
                    }
                }
            }
            _ => {}
        }
        // Quota usage: what changes in a namespace with quotas may change it.
        let churn = matches!(key.plural.as_str(), "events" | "leases");
        if !churn && (key.plural == "resourcequotas" || super::quota::has_quotas(self, &ns)) {
            self.queue.push(Work::Quota(ns.clone()));
        }
        // Garbage collection (events and leases own nothing).
        if matches!(key.plural.as_str(), "events" | "leases") {
        } else if deleted {
            let uid = util::uid(obj).to_string();
            if !uid.is_empty() {
                self.queue.push(Work::Orphans(uid, ns.clone()));
            }
        } else if is_deleting(obj) {
            let fins = util::arr(obj, "/metadata/finalizers");
            if fins
                .iter()
                .any(|f| f == "orphan" || f == "foregroundDeletion")
            {
                self.queue
                    .push(Work::Finalize(key.clone(), ns.clone(), n.clone()));
            }
        }
        // A dependent going away may complete an owner's foreground deletion.
        if deleted {
            for r in util::arr(obj, "/metadata/ownerReferences") {
                let kind = sd(r, "/kind");
                let api = sd(r, "/apiVersion");
                let owner_key = self
                    .store
                    .catalogue()
                    .by_kind(api, kind)
                    .map(|t| (t.key(), t.namespaced));
                if let Some((k, namespaced)) = owner_key {
                    let owner_ns = if namespaced {
                        ns.clone()
                    } else {
                        String::new()
                    };
                    if let Ok(owner) = self.store.get_arc(&k, &owner_ns, sd(r, "/name"))
                        && is_deleting(&owner)
                    {
                        self.queue
                            .push(Work::Finalize(k, owner_ns, sd(r, "/name").to_string()));
                    }
                }
            }
        }
        // Namespace finalization waits for its content.
        if !ns.is_empty()
            && key.plural != "events"
            && let Ok(nsobj) = self.store.get_arc(&keys::namespaces(), "", &ns)
            && is_deleting(&nsobj)
        {
            self.queue.push(Work::Namespace(ns));
        }
    }

    fn route_pod(&mut self, pod: &Value, ns: &str, n: &str, deleted: bool) {
        let node = sd(pod, "/spec/nodeName");
        if deleted {
            self.queue.push(Work::Pod(ns.to_string(), n.to_string()));
            self.unschedulable.remove(&(ns.to_string(), n.to_string()));
            self.retry_unschedulable();
            for c in util::arr(pod, "/spec/volumes") {
                let claim = sd(c, "/persistentVolumeClaim/claimName");
                if !claim.is_empty() {
                    self.queue
                        .push(Work::Pvc(ns.to_string(), claim.to_string()));
                }
            }
        } else if node.is_empty() {
            if is_deleting(pod) {
                self.queue.push(Work::Pod(ns.to_string(), n.to_string()));
            } else {
                self.queue
                    .push(Work::Schedule(ns.to_string(), n.to_string()));
            }
        } else {
            self.queue.push(Work::Pod(ns.to_string(), n.to_string()));
            let phase = sd(pod, "/status/phase");
            if matches!(phase, "Succeeded" | "Failed") || is_deleting(pod) {
                self.retry_unschedulable();
            }
        }
        if deleted
            && let Some(Work::ReplicaSet(rs_ns, rs_name)) = owner_work(pod)
            && let Ok(rs) = self.store.get_arc(&keys::replicasets(), &rs_ns, &rs_name)
            && let Some(w) = owner_work(&rs)
        {
            // A Recreate rollout waits for the old pods to be gone.
            self.queue.push(w);
        }
        match owner_work(pod) {
            Some(w) => self.queue.push(w),
            None if !deleted => {
                for (k, make) in [
                    (
                        keys::replicasets(),
                        Work::ReplicaSet as fn(String, String) -> Work,
                    ),
                    (keys::statefulsets(), Work::StatefulSet),
                    (keys::daemonsets(), Work::DaemonSet),
                ] {
                    let (owners, _) = self.store.list(&k, Some(ns));
                    for o in owners.iter().filter(|o| selector_matches(o, pod)) {
                        self.queue.push(make(ns.to_string(), name(o).to_string()));
                    }
                }
            }
            None => {}
        }
        self.services_of(ns);
    }

    /// Runs one work item.
    fn process(&mut self, w: Work) {
        match w {
            Work::Namespace(n) => super::namespace::reconcile(self, &n),
            Work::Deployment(ns, n) => super::deployment::reconcile(self, &ns, &n),
            Work::ReplicaSet(ns, n) => super::replicaset::reconcile(self, &ns, &n),
            Work::StatefulSet(ns, n) => super::statefulset::reconcile(self, &ns, &n),
            Work::DaemonSet(ns, n) => super::daemonset::reconcile(self, &ns, &n),
            Work::Job(ns, n) => super::job::reconcile(self, &ns, &n),
            Work::CronJob(ns, n) => super::job::reconcile_cronjob(self, &ns, &n),
            Work::Service(ns, n) => super::endpoints::reconcile(self, &ns, &n),
            Work::Schedule(ns, n) => super::scheduler::reconcile(self, &ns, &n),
            Work::Pod(ns, n) => kubelet::reconcile(self, &ns, &n),
            Work::Pvc(ns, n) => super::volume::reconcile_claim(self, &ns, &n),
            Work::Pv(n) => super::volume::reconcile_volume(self, &n),
            Work::Orphans(uid, ns) => super::gc::collect_orphans(self, &uid, &ns),
            Work::Finalize(k, ns, n) => super::gc::finalize(self, &k, &ns, &n),
            Work::NodeGone(n) => super::gc::node_gone(self, &n),
            Work::Quota(ns) => super::quota::reconcile(self, &ns),
        }
    }
}

/// Whether a pod mounts the claim `claim`.
pub(crate) fn uses_claim(pod: &Value, claim: &str) -> bool {
    util::arr(pod, "/spec/volumes")
        .iter()
        .any(|v| sd(v, "/persistentVolumeClaim/claimName") == claim)
}

/// How many work items one settle may run before it gives up (a controller bug guard).
const SETTLE_BUDGET: u64 = 2_000_000;

/// The manager task.
pub(crate) async fn run(
    mut ctx: Ctx,
    mut events: broadcast::Receiver<Arc<WatchEvent>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    auto_timers: bool,
) {
    ctx.resync_all();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut processed: u64 = 0;
    loop {
        // Events already sent.
        loop {
            match events.try_recv() {
                Ok(ev) => ctx.route(&ev),
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Lagged(_)) => ctx.resync_all(),
                Err(broadcast::error::TryRecvError::Closed) => return,
            }
        }
        // Due timers.
        let now = ctx.now();
        while let Some(w) = ctx.timers.pop_due(now) {
            ctx.queue.push(w);
        }
        while let Some(w) = ctx.background.pop_due(now) {
            ctx.queue.push(w);
        }
        if let Some(w) = ctx.queue.pop() {
            ctx.process(w);
            processed += 1;
            if processed.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
            if processed > SETTLE_BUDGET && !waiters.is_empty() {
                tracing::warn!("controllers did not settle after {SETTLE_BUDGET} work items");
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
            continue;
        }
        processed = 0;
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        let sleep_for = if auto_timers {
            ctx.next_any_timer().map(|t| {
                let d = t.duration_since(ctx.now());
                std::time::Duration::try_from(d)
                    .unwrap_or(std::time::Duration::ZERO)
                    .max(std::time::Duration::from_millis(1))
            })
        } else {
            None
        };
        let sleep = async {
            match sleep_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => ctx.route(&ev),
                Err(broadcast::error::RecvError::Lagged(_)) => ctx.resync_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            cmd = commands.recv() => match cmd {
                Some(Command::Settle(tx)) => waiters.push(tx),
                Some(Command::NextTimer(tx)) => { let _ = tx.send(ctx.next_any_timer()); }
                Some(Command::NextForegroundTimer(tx)) => { let _ = tx.send(ctx.timers.next()); }
                Some(Command::Kill { namespace, pod, container, exit_code, reply }) => {
                    let r = kubelet::kill(&mut ctx, &namespace, &pod, container.as_deref(), exit_code);
                    let _ = reply.send(r);
                }
                Some(Command::Stop) | None => return,
            },
            _ = sleep => {}
        }
    }
}
