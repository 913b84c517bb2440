//! The applications' internal state, attached to the cluster's store ([`World::of`]).
//!
//! What Kubernetes objects do not hold but the applications do: each running container's view
//! of itself (which profile it runs, the addresses it read from its configuration, the ports
//! it listens on and since when), the contents of every MongoDB data directory (users, roles,
//! collections), and the service catalogue of each Consul agent. Faults and fixes change this
//! state through the same interfaces a real cluster offers (a `mongo` shell run by `kubectl
//! exec`, a restarted container); symptoms are read from it.
//!
//! Every change bumps [`World::version`], so that routing snapshots built from the store and
//! this state can be cached per (store resource version, world version).

use super::mongo::data::MongoData;
use super::net::{NetworkChaos, Routing};
use crate::store::Store;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// A container of a pod, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
}

impl RunKey {
    /// A key.
    pub fn new(namespace: &str, pod: &str, container: &str) -> Self {
        RunKey {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
        }
    }
}

/// A dependency as a run resolved it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDep {
    /// Host to dial (empty for discovery-based dependencies).
    pub host: String,
    /// Port to dial.
    pub port: u16,
    /// Service-discovery name, for dependencies found through a registry.
    pub consul: Option<String>,
}

/// TLS mode of a mongod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `disabled`.
    Disabled,
    /// `allowTLS`.
    Allow,
    /// `preferTLS`.
    Prefer,
    /// `requireTLS`.
    Require,
}

impl TlsMode {
    /// Parses `requireTLS` / `requireSSL` / `disabled` ...
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s {
            "disabled" => Some(TlsMode::Disabled),
            "allowTLS" | "allowSSL" => Some(TlsMode::Allow),
            "preferTLS" | "preferSSL" => Some(TlsMode::Prefer),
            "requireTLS" | "requireSSL" => Some(TlsMode::Require),
            _ => None,
        }
    }

    /// The name mongod prints.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Allow => "allowTLS",
            TlsMode::Prefer => "preferTLS",
            TlsMode::Require => "requireTLS",
        }
    }
}

/// How a running mongod is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongodRun {
    /// Access control (`--auth`, `security.authorization: enabled`).
    pub auth: bool,
    /// TLS mode.
    pub tls: TlsMode,
    /// The data directory's key in [`World`].
    pub data_key: String,
    /// The port.
    pub port: u16,
}

/// What one run of a container is, as the engine started it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The pod's uid (a new pod with the same name is another run).
    pub pod_uid: String,
    /// The container's restart count at this run.
    pub restart_count: i64,
    /// The profile it runs.
    pub profile: String,
    /// The image.
    pub image: String,
    /// When it started.
    pub started: Timestamp,
    /// The pod IP.
    pub pod_ip: String,
    /// Ports it listens on, with the time it started listening.
    pub listen: Vec<(u16, Timestamp)>,
    /// Dependencies as resolved from its configuration.
    pub deps: BTreeMap<String, ResolvedDep>,
    /// The tracer's sampling ratio.
    pub sample_ratio: f64,
    /// When the run exits on its own, if it does.
    pub exits_at: Option<Timestamp>,
    /// For mongod: its configuration.
    pub mongod: Option<MongodRun>,
    /// Variables of the run (hostname, uuid, ...), for request-time templates.
    pub vars: BTreeMap<String, String>,
    /// Where the startup waits, if it does: (step index, offset in seconds since the start).
    pub blocked: Option<(usize, f64)>,
}

impl RunInfo {
    /// Whether it accepts connections on `port` at `at`.
    pub fn listens(&self, port: u16, at: Timestamp) -> bool {
        self.exits_at.is_none_or(|e| at < e)
            && self
                .listen
                .iter()
                .any(|(p, since)| *p == port && *since <= at)
    }

    /// The identity of the run (`ns/pod/container#restarts`), e.g. a Consul agent's catalogue.
    pub fn id(&self, key: &RunKey) -> String {
        format!(
            "{}/{}/{}#{}@{}",
            key.namespace, key.pod, key.container, self.restart_count, self.pod_uid
        )
    }
}

/// A service registered in a Consul agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulEntry {
    /// Service name (`srv-geo`).
    pub name: String,
    /// Registration id (a UUID).
    pub id: String,
    /// Address (the registering pod's IP).
    pub address: String,
    /// Port.
    pub port: u16,
}

#[derive(Default)]
struct Inner {
    runs: BTreeMap<RunKey, Arc<RunInfo>>,
    mongo: BTreeMap<String, MongoData>,
    consul: BTreeMap<String, Vec<ConsulEntry>>,
}

/// The applications' state of one cluster.
#[derive(Default)]
pub struct World {
    inner: Mutex<Inner>,
    version: AtomicU64,
    chaos: RwLock<Option<Arc<dyn NetworkChaos>>>,
    routing: Mutex<Option<(u64, u64, Arc<Routing>)>>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("version", &self.version())
            .finish()
    }
}

impl World {
    /// The state attached to `store` (created empty on first use).
    pub fn of(store: &Store) -> Arc<World> {
        store.extension::<World>()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// Changes so far (a counter).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// The current run of a container, as the engine last recorded it.
    pub fn run(&self, key: &RunKey) -> Option<Arc<RunInfo>> {
        self.lock().runs.get(key).cloned()
    }

    /// Every recorded run.
    pub fn runs(&self) -> Vec<(RunKey, Arc<RunInfo>)> {
        self.lock()
            .runs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Records (or replaces) the run of a container.
    pub fn set_run(&self, key: RunKey, info: RunInfo) {
        self.lock().runs.insert(key, Arc::new(info));
        self.bump();
    }

    /// A copy of a data directory, if mongod ever used it.
    pub fn mongo(&self, data_key: &str) -> Option<MongoData> {
        self.lock().mongo.get(data_key).cloned()
    }

    /// Changes a data directory (created empty when missing).
    pub fn with_mongo<R>(&self, data_key: &str, f: impl FnOnce(&mut MongoData) -> R) -> R {
        let r = {
            let mut inner = self.lock();
            let data = inner.mongo.entry(data_key.to_string()).or_default();
            f(data)
        };
        self.bump();
        r
    }

    /// Registers a service in the catalogue of a Consul agent run.
    pub fn consul_register(&self, catalog: &str, entry: ConsulEntry) {
        self.lock()
            .consul
            .entry(catalog.to_string())
            .or_default()
            .push(entry);
        self.bump();
    }

    /// The instances of `name` in a Consul agent's catalogue (registrations never expire:
    /// the services register without health checks).
    pub fn consul_instances(&self, catalog: &str, name: &str) -> Vec<ConsulEntry> {
        self.lock()
            .consul
            .get(catalog)
            .map(|v| v.iter().filter(|e| e.name == name).cloned().collect())
            .unwrap_or_default()
    }

    /// Installs the network chaos hook (`None`: a healthy network).
    pub fn set_network_chaos(&self, chaos: Option<Arc<dyn NetworkChaos>>) {
        *self.chaos.write().unwrap_or_else(|e| e.into_inner()) = chaos;
        self.bump();
    }

    /// The installed network chaos hook.
    pub fn network_chaos(&self) -> Option<Arc<dyn NetworkChaos>> {
        self.chaos.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The routing snapshot for the store's current state, built once per change.
    pub fn routing(&self, store: &Store) -> Arc<Routing> {
        let rv = store.resource_version();
        let wv = self.version();
        let mut cache = self.routing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((r, w, snap)) = cache.as_ref()
            && *r == rv
            && *w == wv
        {
            return snap.clone();
        }
        let snap = Arc::new(Routing::build(store, self));
        *cache = Some((rv, wv, snap.clone()));
        snap
    }
}
