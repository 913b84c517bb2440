//! The timeline recorder: the cluster changes that telemetry is derived from, with their times.
//!
//! It follows the store's events (event-driven: a task that sleeps until the store broadcasts,
//! plus a catch-up from the store's event history before every query, so that a query always
//! sees every change made before it). For each pod incarnation (namespace, name, uid) it keeps
//! its node, IP, QoS class, owner, container resources, when it was created, became Ready,
//! finished and was deleted, its phase and readiness changes, and every container run
//! (container id, image, start, end, exit, restart number, CPU/memory usage over time and what
//! the run prints, copied from the kubelet). Namespaces, nodes, Services and Endpoints are kept
//! as well.
//!
//! Memory is bounded: pods deleted longer than the retention ago are forgotten, at most
//! [`DeriveConfig::max_pods`] pod incarnations and [`DeriveConfig::max_runs_per_container`] runs
//! per container are kept, and Service/Endpoints histories are capped.

use super::DeriveConfig;
use crate::controllers::behavior::{ImageRef, RunPlan, Usage};
use crate::controllers::kubelet::{Instance, Shared, Term};
use crate::controllers::util::{arr, bytes, cpu_millis, int, parse_time, sd};
use crate::store::{EventType, Store, WatchEvent};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// At most this many changes are kept per Service or Endpoints object.
const MAX_SERVICE_CHANGES: usize = 256;
/// The first runs of a container that are never evicted (the baseline may need them).
const KEEP_FIRST_RUNS: usize = 4;
/// At most this many phase or readiness changes are kept per pod.
pub const MAX_TRANSITIONS: usize = 64;

/// A pod incarnation: namespace, name, uid.
pub type PodKey = (String, String, String);

/// Resources and kind of one container of a pod spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The image as written in the spec.
    pub image: String,
    /// CPU request in millicores (0: none).
    pub cpu_request_m: i64,
    /// CPU limit in millicores (0: none).
    pub cpu_limit_m: i64,
    /// Memory request in bytes (0: none).
    pub memory_request: i64,
    /// Memory limit in bytes (0: none).
    pub memory_limit: i64,
}

/// What a run printed: the kubelet's plan for it, enough to regenerate its log lines.
#[derive(Debug, Clone)]
pub struct LogPlan {
    /// When the run started.
    pub started: Timestamp,
    /// Simulated-to-clock time factor.
    pub scale: f64,
    /// The plan (log lines, periodic lines, exit).
    pub plan: Arc<RunPlan>,
    /// How the run ended (planned or happened).
    pub(crate) end: Option<(Timestamp, Term)>,
    /// Whether the end happened.
    pub ended: bool,
}

impl LogPlan {
    fn of(inst: &Instance) -> Self {
        LogPlan {
            started: inst.started,
            scale: inst.scale,
            plan: Arc::new(inst.plan.clone()),
            end: inst.end.clone(),
            ended: inst.ended,
        }
    }

    /// An `Instance` the kubelet's log renderer accepts (no files: logs do not need them).
    pub(crate) fn instance(&self, plan: RunPlan) -> Instance {
        Instance {
            id: String::new(),
            started: self.started,
            plan,
            end: self.end.clone(),
            ended: self.ended,
            ready_at: None,
            overlay: BTreeMap::new(),
            scale: self.scale,
            files: BTreeMap::new(),
            argv: Vec::new(),
            recheck_at: None,
        }
    }
}

/// One run of a container (one container id).
#[derive(Debug, Clone)]
pub struct RunRec {
    /// The container's name.
    pub container: String,
    /// The container id (64 hex digits).
    pub id: String,
    /// The image as the runtime reports it (`docker.io/library/nginx:latest`).
    pub image: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The restart number (0 for the first run).
    pub restart: i64,
    /// Start, Unix ms.
    pub started_ms: i64,
    /// End, Unix ms, once it has ended.
    pub ended_ms: Option<i64>,
    /// Exit code and reason, once it has ended.
    pub exit: Option<(i32, String)>,
    /// The runtime could not start it (no process ever ran).
    pub start_error: bool,
    /// CPU/memory use over the run: `(from_ms, usage)`.
    pub usage: Vec<(i64, Usage)>,
    /// What it prints, when known from the kubelet.
    pub log: Option<LogPlan>,
}

/// Everything recorded about one pod incarnation.
#[derive(Debug, Clone)]
pub struct PodRec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// Node it was bound to (empty while unscheduled).
    pub node: String,
    /// Pod IP (empty until the sandbox is up).
    pub ip: String,
    /// QoS class (`BestEffort`, `Burstable`, `Guaranteed`).
    pub qos: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Controlling owner: kind and name.
    pub owner: Option<(String, String)>,
    /// Whether its containers restart always (long-running workloads).
    pub restart_always: bool,
    /// Container resources, init containers first.
    pub containers: Vec<ContainerSpec>,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// When the kubelet started it (sandbox), Unix ms.
    pub started_ms: Option<i64>,
    /// When it first became Ready, Unix ms.
    pub ready_ms: Option<i64>,
    /// When it finished (phase Succeeded/Failed), Unix ms.
    pub finished_ms: Option<i64>,
    /// When it was removed from the store, Unix ms.
    pub deleted_ms: Option<i64>,
    /// Container runs in start order.
    pub runs: Vec<RunRec>,
    /// Phase changes `(Unix ms, phase)` as they were seen (the latest [`MAX_TRANSITIONS`]).
    pub phases: Vec<(i64, String)>,
    /// Ready condition changes `(Unix ms, ready)` at their `lastTransitionTime`.
    pub readiness: Vec<(i64, bool)>,
}

impl PodRec {
    /// When its cgroup ends (deletion or completion), if it has.
    pub fn end_ms(&self) -> Option<i64> {
        match (self.finished_ms, self.deleted_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The workload it belongs to: the Deployment of its ReplicaSet, its StatefulSet,
    /// DaemonSet or Job, or the pod itself.
    pub fn workload(&self) -> String {
        match &self.owner {
            Some((kind, name)) if kind == "ReplicaSet" => {
                match self.labels.get("pod-template-hash") {
                    Some(h) => name
                        .strip_suffix(&format!("-{h}"))
                        .unwrap_or(name)
                        .to_string(),
                    None => name.clone(),
                }
            }
            Some((_, name)) => name.clone(),
            None => self.name.clone(),
        }
    }

    /// The spec of container `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerSpec> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// A node as cAdvisor labels its series.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRec {
    /// Node name.
    pub name: String,
    /// InternalIP.
    pub ip: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// CPU capacity in cores.
    pub cpu_cores: f64,
    /// Memory capacity in bytes.
    pub memory_bytes: f64,
    /// When it was created, Unix ms.
    pub created_ms: i64,
    /// When it was deleted, Unix ms.
    pub deleted_ms: Option<i64>,
}

/// One recorded state of a Service or its Endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceChange {
    /// When it was seen, Unix ms.
    pub at_ms: i64,
    /// `None` when the object was deleted.
    pub state: Option<ServiceState>,
}

/// The parts of a Service and its Endpoints that routing depends on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceState {
    /// The label selector.
    pub selector: BTreeMap<String, String>,
    /// `(port, targetPort)` as written.
    pub ports: Vec<(i64, String)>,
    /// Ready endpoint addresses `ip` (Endpoints objects only).
    pub ready: Vec<String>,
    /// Not-ready endpoint addresses (Endpoints objects only).
    pub not_ready: Vec<String>,
}

/// The recorded history.
#[derive(Debug, Default, Clone)]
pub struct State {
    last_rv: u64,
    /// Pod incarnations.
    pub pods: BTreeMap<PodKey, PodRec>,
    uid_index: HashMap<String, PodKey>,
    /// Creation times (Unix ms) of each incarnation of each namespace.
    pub namespaces: BTreeMap<String, Vec<i64>>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeRec>,
    /// Service changes by (namespace, name).
    pub services: BTreeMap<(String, String), Vec<ServiceChange>>,
    /// Endpoints changes by (namespace, name).
    pub endpoints: BTreeMap<(String, String), Vec<ServiceChange>>,
}

impl State {
    /// The pod incarnation with this uid.
    pub fn pod_by_uid(&self, uid: &str) -> Option<&PodRec> {
        self.uid_index.get(uid).and_then(|k| self.pods.get(k))
    }

    /// The incarnation of `namespace/name` alive at `t_ms` (or the latest one before it).
    pub fn pod_at(&self, namespace: &str, name: &str, t_ms: i64) -> Option<&PodRec> {
        let lo = (namespace.to_string(), name.to_string(), String::new());
        self.pods
            .range(lo..)
            .take_while(|(k, _)| k.0 == namespace && k.1 == name)
            .map(|(_, p)| p)
            .filter(|p| p.created_ms <= t_ms)
            .max_by_key(|p| p.created_ms)
    }

    /// The creation time of the namespace incarnation that `t_ms` falls in.
    pub fn namespace_epoch(&self, namespace: &str, t_ms: i64) -> i64 {
        self.namespaces
            .get(namespace)
            .and_then(|v| v.iter().rev().find(|c| **c <= t_ms).copied())
            .unwrap_or(i64::MIN)
    }
}

/// The recorder. Cheap to query; see the module documentation.
pub struct Timeline {
    store: Arc<Store>,
    kubelet: Option<Arc<Shared>>,
    config: DeriveConfig,
    state: Mutex<State>,
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn time_ms(v: &Value, ptr: &str) -> Option<i64> {
    parse_time(v.pointer(ptr)).map(ms)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn container_id(status: &Value) -> Option<String> {
    let id = sd(status, "/containerID");
    let id = id.split_once("://").map(|(_, i)| i).unwrap_or(id);
    (!id.is_empty()).then(|| id.to_string())
}

impl Timeline {
    /// A recorder of `store` (and the kubelet's runs when given), filled with the current state.
    pub(crate) fn new(
        store: Arc<Store>,
        kubelet: Option<Arc<Shared>>,
        config: DeriveConfig,
    ) -> Self {
        let tl = Timeline {
            store,
            kubelet,
            config,
            state: Mutex::new(State::default()),
        };
        {
            let mut st = tl.lock();
            tl.relist(&mut st);
        }
        tl
    }

    /// The store recorded.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &DeriveConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> i64 {
        ms(self.store.clock().now())
    }

    /// Brings the record up to date with the store and the kubelet, and returns it locked.
    pub fn current(&self) -> MutexGuard<'_, State> {
        let mut st = self.lock();
        self.catch_up(&mut st);
        self.sync_kubelet(&mut st, None);
        self.evict(&mut st);
        st
    }

    /// Brings the record up to date and returns a copy, so that long computations do not hold
    /// the recorder up (plans are shared, so the copy is cheap).
    pub fn snapshot(&self) -> State {
        self.current().clone()
    }

    /// Records one store event (from the live broadcast).
    pub fn on_event(&self, ev: &WatchEvent) {
        let mut st = self.lock();
        if ev.resource_version <= st.last_rv {
            return;
        }
        if ev.resource_version > st.last_rv + 1 {
            // Something was missed: replay from the store's history first.
            self.catch_up(&mut st);
            if ev.resource_version <= st.last_rv {
                return;
            }
        }
        self.ingest(&mut st, ev);
        st.last_rv = ev.resource_version;
    }

    /// Replays the store's events since the last one recorded (a relist when they are gone).
    pub fn catch_up_now(&self) {
        let mut st = self.lock();
        self.catch_up(&mut st);
    }

    fn catch_up(&self, st: &mut State) {
        let current = self.store.resource_version();
        if current <= st.last_rv {
            return;
        }
        match self.store.watch_from(Some(st.last_rv)) {
            Ok(start) => {
                for ev in &start.backlog {
                    if ev.resource_version > st.last_rv {
                        self.ingest(st, ev);
                        st.last_rv = ev.resource_version;
                    }
                }
                st.last_rv = st.last_rv.max(start.resource_version);
            }
            Err(_) => self.relist(st),
        }
    }

    /// Reads the current objects (start, or after the store's history was compacted).
    fn relist(&self, st: &mut State) {
        let rv = self.store.resource_version();
        let now = self.now_ms();
        for ns in self.store.list(&keys::namespaces(), None).0 {
            self.namespace_seen(st, &ns);
        }
        for n in self.store.list(&keys::nodes(), None).0 {
            self.node_seen(st, &n, false);
        }
        for s in self.store.list(&keys::services(), None).0 {
            self.service_seen(st, &s, false, false, now);
        }
        for e in self.store.list(&keys::endpoints(), None).0 {
            self.service_seen(st, &e, true, false, now);
        }
        let pods = self.store.list(&keys::pods(), None).0;
        let live: std::collections::HashSet<String> = pods
            .iter()
            .map(|p| sd(p, "/metadata/uid").to_string())
            .collect();
        for p in &pods {
            self.pod_seen(st, p, false);
        }
        // Pods that went away while nobody was looking: deleted now.
        for rec in st.pods.values_mut() {
            if rec.deleted_ms.is_none() && !live.contains(&rec.uid) {
                close_pod(rec, now);
            }
        }
        st.last_rv = st.last_rv.max(rv);
    }

    fn ingest(&self, st: &mut State, ev: &WatchEvent) {
        let deleted = ev.event_type == EventType::Deleted;
        let r = &ev.resource;
        if r.group.is_empty() {
            match r.plural.as_str() {
                "pods" => self.pod_seen(st, &ev.object, deleted),
                "namespaces" if !deleted => self.namespace_seen(st, &ev.object),
                "nodes" => self.node_seen(st, &ev.object, deleted),
                "services" => {
                    let now = self.now_ms();
                    self.service_seen(st, &ev.object, false, deleted, now)
                }
                "endpoints" => {
                    let now = self.now_ms();
                    self.service_seen(st, &ev.object, true, deleted, now)
                }
                _ => {}
            }
        }
    }

    fn namespace_seen(&self, st: &mut State, ns: &Value) {
        let name = sd(ns, "/metadata/name").to_string();
        let Some(created) = time_ms(ns, "/metadata/creationTimestamp") else {
            return;
        };
        let v = st.namespaces.entry(name).or_default();
        if !v.contains(&created) {
            v.push(created);
            v.sort_unstable();
        }
    }

    fn node_seen(&self, st: &mut State, n: &Value, deleted: bool) {
        let name = sd(n, "/metadata/name").to_string();
        if deleted {
            // Keep what it was: past series still name it.
            let now = self.now_ms();
            if let Some(rec) = st.nodes.get_mut(&name) {
                rec.deleted_ms.get_or_insert(now);
            }
            return;
        }
        let ip = arr(n, "/status/addresses")
            .iter()
            .find(|a| sd(a, "/type") == "InternalIP")
            .map(|a| sd(a, "/address").to_string())
            .unwrap_or_default();
        let capacity = |k: &str| n.pointer(&format!("/status/capacity/{k}"));
        let rec = NodeRec {
            name: name.clone(),
            ip,
            labels: string_map(n.pointer("/metadata/labels")),
            cpu_cores: capacity("cpu").map(cpu_millis).unwrap_or(0) as f64 / 1000.0,
            memory_bytes: capacity("memory").map(bytes).unwrap_or(0) as f64,
            created_ms: time_ms(n, "/metadata/creationTimestamp").unwrap_or_else(|| self.now_ms()),
            deleted_ms: None,
        };
        st.nodes.insert(name, rec);
    }

    fn service_seen(&self, st: &mut State, obj: &Value, endpoints: bool, deleted: bool, now: i64) {
        let key = (
            sd(obj, "/metadata/namespace").to_string(),
            sd(obj, "/metadata/name").to_string(),
        );
        let state = (!deleted).then(|| {
            if endpoints {
                let mut s = ServiceState::default();
                for subset in arr(obj, "/subsets") {
                    for a in arr(subset, "/addresses") {
                        s.ready.push(sd(a, "/ip").to_string());
                    }
                    for a in arr(subset, "/notReadyAddresses") {
                        s.not_ready.push(sd(a, "/ip").to_string());
                    }
                    for p in arr(subset, "/ports") {
                        s.ports.push((int(p, "/port").unwrap_or(0), String::new()));
                    }
                }
                s
            } else {
                ServiceState {
                    selector: string_map(obj.pointer("/spec/selector")),
                    ports: arr(obj, "/spec/ports")
                        .iter()
                        .map(|p| {
                            let target = match p.get("targetPort") {
                                Some(Value::String(s)) => s.clone(),
                                Some(v) => v.to_string(),
                                None => String::new(),
                            };
                            (int(p, "/port").unwrap_or(0), target)
                        })
                        .collect(),
                    ..ServiceState::default()
                }
            }
        });
        let map = if endpoints {
            &mut st.endpoints
        } else {
            &mut st.services
        };
        let hist = map.entry(key).or_default();
        if hist.last().map(|c| &c.state) == Some(&state) {
            return;
        }
        hist.push(ServiceChange { at_ms: now, state });
        if hist.len() > MAX_SERVICE_CHANGES {
            hist.remove(0);
        }
    }

    fn pod_seen(&self, st: &mut State, pod: &Value, deleted: bool) {
        let uid = sd(pod, "/metadata/uid").to_string();
        if uid.is_empty() {
            return;
        }
        let key: PodKey = (
            sd(pod, "/metadata/namespace").to_string(),
            sd(pod, "/metadata/name").to_string(),
            uid.clone(),
        );
        let now = self.now_ms();
        if !st.pods.contains_key(&key) {
            let created = time_ms(pod, "/metadata/creationTimestamp").unwrap_or(now);
            st.pods.insert(key.clone(), new_pod(&key, created));
            st.uid_index.insert(uid, key.clone());
        }
        let Some(rec) = st.pods.get_mut(&key) else {
            return;
        };
        update_from_object(rec, pod, now);
        self.sync_pod_from_kubelet(rec, now);
        if deleted && rec.deleted_ms.is_none() {
            // Removed now, or (when every run had already ended: a graceful deletion) as soon
            // as the last one ended after the deletion was asked for.
            let asked = time_ms(pod, "/metadata/deletionTimestamp").unwrap_or(now);
            let last_end = rec
                .runs
                .iter()
                .map(|r| r.ended_ms)
                .collect::<Option<Vec<_>>>();
            let at = match last_end {
                Some(ends) if !ends.is_empty() => {
                    ends.into_iter().max().unwrap_or(now).max(asked).min(now)
                }
                _ => now,
            };
            close_pod(rec, at);
        }
    }

    /// Copies runs, times and plans from the kubelet: for one pod, or every pod it knows.
    fn sync_kubelet(&self, st: &mut State, only: Option<&PodKey>) {
        let Some(kubelet) = &self.kubelet else {
            return;
        };
        let now = self.now_ms();
        let ks = kubelet.lock();
        for ((ns, name), krec) in &ks.pods {
            let key: PodKey = (ns.clone(), name.clone(), krec.uid.clone());
            if only.is_some_and(|o| o != &key) {
                continue;
            }
            if let Some(rec) = st.pods.get_mut(&key)
                && rec.deleted_ms.is_none()
            {
                copy_kubelet_record(rec, krec, now);
            }
        }
    }

    fn sync_pod_from_kubelet(&self, rec: &mut PodRec, now: i64) {
        let Some(kubelet) = &self.kubelet else {
            return;
        };
        let ks = kubelet.lock();
        if let Some(krec) = ks.pods.get(&(rec.namespace.clone(), rec.name.clone()))
            && krec.uid == rec.uid
        {
            copy_kubelet_record(rec, krec, now);
        }
    }

    fn evict(&self, st: &mut State) {
        let now = self.now_ms();
        let horizon = now - self.config.retention_ms;
        let old: Vec<PodKey> = st
            .pods
            .iter()
            .filter(|(_, p)| p.deleted_ms.is_some_and(|d| d < horizon))
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            st.pods.remove(&k);
            st.uid_index.remove(&k.2);
        }
        if st.pods.len() > self.config.max_pods {
            let mut gone: Vec<(i64, PodKey)> = st
                .pods
                .iter()
                .filter_map(|(k, p)| p.deleted_ms.map(|d| (d, k.clone())))
                .collect();
            gone.sort();
            let excess = st.pods.len() - self.config.max_pods;
            for (_, k) in gone.into_iter().take(excess) {
                st.pods.remove(&k);
                st.uid_index.remove(&k.2);
            }
        }
        let cap = self.config.max_runs_per_container.max(KEEP_FIRST_RUNS + 1);
        for p in st.pods.values_mut() {
            trim_runs(&mut p.runs, cap);
        }
    }
}

/// The resource keys the recorder follows.
mod keys {
    use crate::resources::ResourceKey;
    pub fn pods() -> ResourceKey {
        ResourceKey::new("", "pods")
    }
    pub fn nodes() -> ResourceKey {
        ResourceKey::new("", "nodes")
    }
    pub fn namespaces() -> ResourceKey {
        ResourceKey::new("", "namespaces")
    }
    pub fn services() -> ResourceKey {
        ResourceKey::new("", "services")
    }
    pub fn endpoints() -> ResourceKey {
        ResourceKey::new("", "endpoints")
    }
}

fn new_pod(key: &PodKey, created: i64) -> PodRec {
    PodRec {
        namespace: key.0.clone(),
        name: key.1.clone(),
        uid: key.2.clone(),
        node: String::new(),
        ip: String::new(),
        qos: String::new(),
        labels: BTreeMap::new(),
        owner: None,
        restart_always: true,
        containers: Vec::new(),
        created_ms: created,
        started_ms: None,
        ready_ms: None,
        finished_ms: None,
        deleted_ms: None,
        runs: Vec::new(),
        phases: Vec::new(),
        readiness: Vec::new(),
    }
}

fn container_specs(pod: &Value) -> Vec<ContainerSpec> {
    let mut out = Vec::new();
    for (list, init) in [("/spec/initContainers", true), ("/spec/containers", false)] {
        for c in arr(pod, list) {
            let q = |p: &str| c.pointer(p);
            out.push(ContainerSpec {
                name: sd(c, "/name").to_string(),
                init,
                image: sd(c, "/image").to_string(),
                cpu_request_m: q("/resources/requests/cpu").map(cpu_millis).unwrap_or(0),
                cpu_limit_m: q("/resources/limits/cpu").map(cpu_millis).unwrap_or(0),
                memory_request: q("/resources/requests/memory").map(bytes).unwrap_or(0),
                memory_limit: q("/resources/limits/memory").map(bytes).unwrap_or(0),
            });
        }
    }
    out
}

/// Applies what the pod object says: placement, labels, readiness, completion, and the runs its
/// container statuses show (second precision; the kubelet's copy refines them).
fn update_from_object(rec: &mut PodRec, pod: &Value, now: i64) {
    let node = sd(pod, "/spec/nodeName");
    if !node.is_empty() {
        rec.node = node.to_string();
    }
    let ip = sd(pod, "/status/podIP");
    if !ip.is_empty() {
        rec.ip = ip.to_string();
    }
    let qos = sd(pod, "/status/qosClass");
    if !qos.is_empty() {
        rec.qos = qos.to_string();
    }
    rec.labels = string_map(pod.pointer("/metadata/labels"));
    rec.owner = arr(pod, "/metadata/ownerReferences")
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|o| (sd(o, "/kind").to_string(), sd(o, "/name").to_string()));
    rec.restart_always = matches!(sd(pod, "/spec/restartPolicy"), "" | "Always");
    if rec.containers.is_empty() {
        rec.containers = container_specs(pod);
    }
    if rec.started_ms.is_none() {
        rec.started_ms = time_ms(pod, "/status/startTime");
    }
    let phase = sd(pod, "/status/phase");
    if !phase.is_empty() && rec.phases.last().is_none_or(|(_, p)| p != phase) {
        push_bounded(&mut rec.phases, (now, phase.to_string()));
    }
    if let Some(c) = arr(pod, "/status/conditions")
        .iter()
        .find(|c| sd(c, "/type") == "Ready")
    {
        let ready = sd(c, "/status") == "True";
        if rec.readiness.last().is_none_or(|(_, r)| *r != ready) {
            let at = time_ms(c, "/lastTransitionTime").unwrap_or(now);
            push_bounded(&mut rec.readiness, (at, ready));
        }
    }
    if rec.ready_ms.is_none()
        && let Some(c) = arr(pod, "/status/conditions")
            .iter()
            .find(|c| sd(c, "/type") == "Ready" && sd(c, "/status") == "True")
    {
        rec.ready_ms = time_ms(c, "/lastTransitionTime").or(Some(rec.created_ms));
    }
    for (list, init) in [
        ("/status/initContainerStatuses", true),
        ("/status/containerStatuses", false),
    ] {
        for cs in arr(pod, list) {
            runs_from_status(rec, cs, init);
        }
    }
    if rec.finished_ms.is_none() && matches!(sd(pod, "/status/phase"), "Succeeded" | "Failed") {
        let last = rec.runs.iter().filter_map(|r| r.ended_ms).max();
        rec.finished_ms = Some(last.unwrap_or(rec.created_ms));
    }
}

fn runs_from_status(rec: &mut PodRec, cs: &Value, init: bool) {
    let name = sd(cs, "/name").to_string();
    let image = sd(cs, "/image").to_string();
    let restart = int(cs, "/restartCount").unwrap_or(0);
    let current = container_id(cs);
    // The previous run (lastState.terminated) carries its own id.
    if let Some(t) = cs.pointer("/lastState/terminated")
        && let Some(id) = container_id(t)
        && Some(&id) != current.as_ref()
    {
        let started = time_ms(t, "/startedAt");
        let finished = time_ms(t, "/finishedAt");
        if let (Some(s), Some(f)) = (started, finished)
            && sd(t, "/startedAt") != "1970-01-01T00:00:00Z"
        {
            let exit = (
                int(t, "/exitCode").unwrap_or(0) as i32,
                sd(t, "/reason").to_string(),
            );
            upsert_status_run(
                rec,
                &name,
                &id,
                &image,
                init,
                (restart - 1).max(0),
                s,
                Some((f, exit)),
            );
        }
    }
    let Some(id) = current else {
        return;
    };
    if let Some(s) = time_ms(cs, "/state/running/startedAt") {
        upsert_status_run(rec, &name, &id, &image, init, restart, s, None);
    } else if let Some(t) = cs.pointer("/state/terminated") {
        let started = time_ms(t, "/startedAt");
        let finished = time_ms(t, "/finishedAt");
        let start_error = sd(t, "/reason") == "StartError";
        if let (Some(s), Some(f)) = (started, finished) {
            let exit = (
                int(t, "/exitCode").unwrap_or(0) as i32,
                sd(t, "/reason").to_string(),
            );
            let s = if start_error { f } else { s };
            upsert_status_run(rec, &name, &id, &image, init, restart, s, Some((f, exit)));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn upsert_status_run(
    rec: &mut PodRec,
    container: &str,
    id: &str,
    image: &str,
    init: bool,
    restart: i64,
    started: i64,
    end: Option<(i64, (i32, String))>,
) {
    if let Some(r) = rec.runs.iter_mut().find(|r| r.id == id) {
        if r.ended_ms.is_none()
            && let Some((f, exit)) = end
        {
            r.start_error = exit.1 == "StartError";
            r.ended_ms = Some(f.max(r.started_ms));
            r.exit = Some(exit);
        }
        return;
    }
    let start_error = end.as_ref().is_some_and(|(_, e)| e.1 == "StartError");
    let run = RunRec {
        container: container.to_string(),
        id: id.to_string(),
        image: if image.is_empty() {
            String::new()
        } else {
            ImageRef::parse(image).to_string()
        },
        init,
        restart,
        started_ms: started,
        ended_ms: end.as_ref().map(|(f, _)| (*f).max(started)),
        exit: end.map(|(_, e)| e),
        start_error,
        usage: vec![(started, Usage::default())],
        log: None,
    };
    insert_run(rec, run);
}

fn insert_run(rec: &mut PodRec, run: RunRec) {
    let pos = rec
        .runs
        .partition_point(|r| (r.started_ms, &r.id) <= (run.started_ms, &run.id));
    rec.runs.insert(pos, run);
}

/// Copies the kubelet's view of a pod: start time, IP, and its current and previous runs with
/// precise times, usage and log plans.
fn copy_kubelet_record(rec: &mut PodRec, krec: &crate::controllers::kubelet::PodRecord, now: i64) {
    rec.started_ms = Some(ms(krec.start_time));
    if !krec.node.is_empty() {
        rec.node = krec.node.clone();
    }
    if let Some(ip) = &krec.ip {
        rec.ip = ip.clone();
    }
    for c in &krec.ctrs {
        let image = ImageRef::parse(&c.image).to_string();
        let insts = [(c.previous.as_ref(), 1), (c.current.as_ref(), 0)];
        for (inst, back) in insts {
            let Some(inst) = inst else {
                continue;
            };
            let started = ms(inst.started);
            let start_error = inst
                .end
                .as_ref()
                .is_some_and(|(_, t)| t.reason == "StartError");
            let ended = inst.ended_at().map(ms);
            let exit = if inst.ended {
                inst.end.as_ref().map(|(_, t)| (t.code, t.reason.clone()))
            } else {
                None
            };
            let restart = (c.restart_count - back).max(0);
            match rec.runs.iter_mut().find(|r| r.id == inst.id) {
                Some(r) => {
                    // The kubelet's times are exact; status times are whole seconds.
                    if r.started_ms != started {
                        r.started_ms = started;
                        if let Some(first) = r.usage.first_mut() {
                            first.0 = started;
                        }
                    }
                    if ended.is_some() {
                        r.ended_ms = ended;
                        r.exit = exit;
                    }
                    r.start_error = start_error;
                    let last = r.usage.last().map(|(_, u)| *u);
                    if last != Some(inst.plan.usage) {
                        if r.usage.len() == 1 && r.usage[0].1 == Usage::default() {
                            r.usage[0].1 = inst.plan.usage;
                        } else {
                            let from = now.max(started);
                            r.usage.retain(|(f, _)| *f < from);
                            r.usage.push((from, inst.plan.usage));
                        }
                    }
                    let stale = r.log.as_ref().is_none_or(|l| {
                        *l.plan != inst.plan || l.ended != inst.ended || l.started != inst.started
                    });
                    if stale {
                        r.log = Some(LogPlan::of(inst));
                    }
                }
                None => {
                    let run = RunRec {
                        container: c.name.clone(),
                        id: inst.id.clone(),
                        image: image.clone(),
                        init: c.init,
                        restart,
                        started_ms: started,
                        ended_ms: ended,
                        exit,
                        start_error,
                        usage: vec![(started, inst.plan.usage)],
                        log: Some(LogPlan::of(inst)),
                    };
                    // Sort position may change with the exact start time.
                    insert_run(rec, run);
                }
            }
        }
    }
    rec.runs
        .sort_by(|a, b| (a.started_ms, &a.id).cmp(&(b.started_ms, &b.id)));
}

fn push_bounded<T>(v: &mut Vec<T>, item: T) {
    v.push(item);
    if v.len() > MAX_TRANSITIONS {
        v.remove(0);
    }
}

/// Marks a pod removed at `at`: open runs end then.
fn close_pod(rec: &mut PodRec, at: i64) {
    let last_end = rec.runs.iter().filter_map(|r| r.ended_ms).max();
    let at = at.max(last_end.unwrap_or(i64::MIN)).max(rec.created_ms);
    rec.deleted_ms = Some(at);
    for r in &mut rec.runs {
        if r.ended_ms.is_none() {
            r.ended_ms = Some(at.max(r.started_ms));
        }
    }
}

/// Keeps the first few and the latest runs of each container, at most `cap` per container.
fn trim_runs(runs: &mut Vec<RunRec>, cap: usize) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in runs.iter() {
        *counts.entry(r.container.as_str()).or_default() += 1;
    }
    let over: Vec<(String, usize)> = counts
        .into_iter()
        .filter(|(_, n)| *n > cap)
        .map(|(c, n)| (c.to_string(), n - cap))
        .collect();
    for (name, mut excess) in over {
        let mut seen = 0usize;
        runs.retain(|r| {
            if r.container != name {
                return true;
            }
            seen += 1;
            if seen > KEEP_FIRST_RUNS && excess > 0 {
                excess -= 1;
                return false;
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &str, id: &str, start: i64) -> RunRec {
        RunRec {
            container: c.into(),
            id: id.into(),
            image: String::new(),
            init: false,
            restart: 0,
            started_ms: start,
            ended_ms: Some(start + 1),
            exit: None,
            start_error: false,
            usage: vec![],
            log: None,
        }
    }

    #[test]
    fn trimming_keeps_first_and_latest() {
        let mut runs: Vec<RunRec> = (0..20).map(|i| run("a", &format!("{i}"), i)).collect();
        runs.push(run("b", "b0", 0));
        trim_runs(&mut runs, 8);
        let ids: Vec<&str> = runs
            .iter()
            .filter(|r| r.container == "a")
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(ids, ["0", "1", "2", "3", "16", "17", "18", "19"]);
        assert!(runs.iter().any(|r| r.id == "b0"));
    }

    #[test]
    fn workload_names() {
        let mut p = new_pod(&("ns".into(), "geo-84fbc958c7-x".into(), "u".into()), 0);
        p.owner = Some(("ReplicaSet".into(), "geo-84fbc958c7".into()));
        p.labels
            .insert("pod-template-hash".into(), "84fbc958c7".into());
        assert_eq!(p.workload(), "geo");
        p.owner = Some(("StatefulSet".into(), "db".into()));
        assert_eq!(p.workload(), "db");
        p.owner = None;
        assert_eq!(p.workload(), "geo-84fbc958c7-x");
    }
}
