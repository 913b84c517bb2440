//! Cluster networking as a pod sees it: DNS, Services and kube-proxy, pods listening.
//!
//! [`connect`] is the one function every connection goes through, at container start (a
//! service dialling its database) and per request (the request flow): a name resolves through
//! the pod's DNS search path (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`; anything else is
//! NXDOMAIN), a Service port is translated by kube-proxy to a ready endpoint from the
//! EndpointSlices (no such port on the Service: the packet goes nowhere and times out; no ready
//! endpoint: REJECT, "connection refused"), and the chosen pod must have a container that
//! listens on the target port at that moment (else "connection refused"). Pod IPs can be
//! dialled directly. Network chaos plugs in through [`NetworkChaos`]; with none installed the
//! network is healthy.
//!
//! The work is done on a [`Routing`] snapshot of the store and the apps' state, cached per
//! change, so that the request flow can call it hundreds of thousands of times.

use super::profile::FailKind;
use super::state::{RunInfo, RunKey, World};
use crate::controllers::util::{arr, int, keys, s, sd};
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// The cluster DNS server's address, as pods' `resolv.conf` names it.
pub const DNS_SERVER: &str = "10.96.0.10:53";

/// Where a connection comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The namespace (for the DNS search path).
    pub namespace: String,
    /// The pod's name, when the source is a pod.
    pub pod: Option<String>,
    /// The pod's IP, when known.
    pub ip: Option<String>,
}

impl Peer {
    /// A source in `namespace` that is no particular pod.
    pub fn namespace(namespace: &str) -> Self {
        Peer {
            namespace: namespace.to_string(),
            ..Peer::default()
        }
    }

    /// A pod.
    pub fn pod(namespace: &str, pod: &str, ip: &str) -> Self {
        Peer {
            namespace: namespace.to_string(),
            pod: Some(pod.to_string()),
            ip: (!ip.is_empty()).then(|| ip.to_string()),
        }
    }
}

/// A pod at the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// IP.
    pub ip: String,
    /// Labels (for chaos selectors).
    pub labels: BTreeMap<String, String>,
}

/// The Service a connection went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The ClusterIP dialled.
    pub cluster_ip: String,
    /// The Service port dialled.
    pub port: u16,
}

/// What network chaos does to a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetEffect {
    /// Extra one-way delay.
    pub delay: SignedDuration,
    /// Random variation of the delay (uniform, ±).
    pub jitter: SignedDuration,
    /// Probability that a packet is lost (0..1).
    pub loss: f64,
    /// No packet gets through: the connection times out.
    pub partition: bool,
}

impl NetEffect {
    /// Combines two effects (delays add, losses compound).
    pub fn and(self, other: NetEffect) -> NetEffect {
        NetEffect {
            delay: self.delay + other.delay,
            jitter: self.jitter + other.jitter,
            loss: 1.0 - (1.0 - self.loss) * (1.0 - other.loss),
            partition: self.partition || other.partition,
        }
    }
}

/// The hook the chaos controller fills: what the network does between two endpoints.
pub trait NetworkChaos: Send + Sync {
    /// The effect on packets from `from` to `to`'s `port` at `at`.
    fn effect(&self, from: &Peer, to: &PodRef, port: u16, at: Timestamp) -> NetEffect;
}

/// A successful connection.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Service, when the address was a Service.
    pub service: Option<ServiceRef>,
    /// The pod that accepted it.
    pub pod: PodRef,
    /// The container that listens.
    pub container: Option<String>,
    /// The port on the pod.
    pub port: u16,
    /// The run of that container, when the app engine runs it.
    pub run: Option<Arc<RunInfo>>,
    /// What network chaos does on the way.
    pub net: NetEffect,
}

impl Target {
    /// The address the client dialled (ClusterIP, or pod IP).
    pub fn dialled_ip(&self) -> &str {
        self.service
            .as_ref()
            .map(|s| s.cluster_ip.as_str())
            .unwrap_or(&self.pod.ip)
    }

    /// The key of the run that accepted the connection.
    pub fn run_key(&self) -> Option<RunKey> {
        self.container
            .as_ref()
            .map(|c| RunKey::new(&self.pod.namespace, &self.pod.name, c))
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The name does not resolve.
    NxDomain {
        /// The name asked for.
        host: String,
    },
    /// Connection refused.
    Refused {
        /// The address dialled.
        ip: String,
        /// The port dialled.
        port: u16,
    },
    /// No answer.
    Timeout {
        /// The address dialled.
        ip: String,
        /// The port dialled.
        port: u16,
    },
}

impl ConnectError {
    /// The failure kind profiles react to.
    pub fn kind(&self) -> FailKind {
        match self {
            ConnectError::NxDomain { .. } => FailKind::Nxdomain,
            ConnectError::Refused { .. } => FailKind::Refused,
            ConnectError::Timeout { .. } => FailKind::Timeout,
        }
    }

    /// The address dialled (empty for NXDOMAIN).
    pub fn ip(&self) -> &str {
        match self {
            ConnectError::NxDomain { .. } => "",
            ConnectError::Refused { ip, .. } | ConnectError::Timeout { ip, .. } => ip,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::NxDomain { host } => {
                write!(f, "dial tcp: lookup {host} on {DNS_SERVER}: no such host")
            }
            ConnectError::Refused { ip, port } => {
                write!(f, "dial tcp {ip}:{port}: connect: connection refused")
            }
            ConnectError::Timeout { ip, port } => write!(f, "dial tcp {ip}:{port}: i/o timeout"),
        }
    }
}

impl std::error::Error for ConnectError {}

#[derive(Debug, Clone)]
struct SvcPort {
    name: String,
    port: u16,
    protocol: String,
}

#[derive(Debug, Clone)]
struct SvcInfo {
    cluster_ip: Option<String>,
    headless: bool,
    ports: Vec<SvcPort>,
}

#[derive(Debug, Clone)]
struct Endpoint {
    ip: String,
    ready: bool,
    pod: Option<String>,
    /// (port name, port, protocol) of the slice.
    ports: Arc<Vec<(String, u16, String)>>,
}

#[derive(Debug, Clone)]
struct CtrInfo {
    name: String,
    /// Whether the app engine runs this container, and its current run if there is one.
    engine: bool,
    current: Option<Arc<RunInfo>>,
    /// Some(restart count) when the status says it runs.
    running: Option<i64>,
    /// The restart count in the status, and whether that run has ended.
    status: Option<(i64, bool)>,
    declared_ports: Vec<u16>,
}

#[derive(Debug, Clone)]
struct PodInfo {
    r#ref: PodRef,
    finished: bool,
    containers: Vec<CtrInfo>,
}

/// A snapshot of what routing needs: Services, endpoints, pods and the runs in them.
pub struct Routing {
    services: HashMap<(String, String), SvcInfo>,
    by_cluster_ip: HashMap<String, (String, String)>,
    endpoints: HashMap<(String, String), Vec<Endpoint>>,
    pods: HashMap<(String, String), PodInfo>,
    by_ip: HashMap<String, (String, String)>,
    runs: HashMap<RunKey, Arc<RunInfo>>,
    chaos: Option<Arc<dyn NetworkChaos>>,
}

impl fmt::Debug for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routing")
            .field("services", &self.services.len())
            .field("pods", &self.pods.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

fn port_u16(v: Option<&Value>) -> Option<u16> {
    v.and_then(Value::as_i64)
        .and_then(|p| u16::try_from(p).ok())
}

impl Routing {
    /// Builds a snapshot of the store and the apps' state now.
    pub fn build(store: &Store, world: &World) -> Routing {
        let mut services = HashMap::new();
        let mut by_cluster_ip = HashMap::new();
        for svc in store.list(&keys::services(), None).0 {
            let ns = sd(&svc, "/metadata/namespace").to_string();
            let name = sd(&svc, "/metadata/name").to_string();
            let ip = s(&svc, "/spec/clusterIP").map(str::to_string);
            let headless = ip.as_deref() == Some("None");
            let ports = arr(&svc, "/spec/ports")
                .iter()
                .filter_map(|p| {
                    Some(SvcPort {
                        name: sd(p, "/name").to_string(),
                        port: port_u16(p.get("port"))?,
                        protocol: s(p, "/protocol").unwrap_or("TCP").to_string(),
                    })
                })
                .collect();
            if let Some(ip) = ip.as_ref().filter(|ip| !ip.is_empty() && *ip != "None") {
                by_cluster_ip.insert(ip.clone(), (ns.clone(), name.clone()));
            }
            services.insert(
                (ns, name),
                SvcInfo {
                    cluster_ip: ip.filter(|ip| !ip.is_empty() && ip != "None"),
                    headless,
                    ports,
                },
            );
        }
        let mut endpoints: HashMap<(String, String), Vec<Endpoint>> = HashMap::new();
        for slice in store.list(&keys::endpointslices(), None).0 {
            let ns = sd(&slice, "/metadata/namespace").to_string();
            let svc = sd(&slice, "/metadata/labels/kubernetes.io~1service-name").to_string();
            if svc.is_empty() {
                continue;
            }
            let ports: Arc<Vec<(String, u16, String)>> = Arc::new(
                arr(&slice, "/ports")
                    .iter()
                    .filter_map(|p| {
                        Some((
                            sd(p, "/name").to_string(),
                            port_u16(p.get("port"))?,
                            s(p, "/protocol").unwrap_or("TCP").to_string(),
                        ))
                    })
                    .collect(),
            );
            let list = endpoints.entry((ns, svc)).or_default();
            for ep in arr(&slice, "/endpoints") {
                let ready = ep
                    .pointer("/conditions/ready")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                for ip in arr(ep, "/addresses") {
                    list.push(Endpoint {
                        ip: ip.as_str().unwrap_or_default().to_string(),
                        ready,
                        pod: s(ep, "/targetRef/name").map(str::to_string),
                        ports: ports.clone(),
                    });
                }
            }
        }
        for list in endpoints.values_mut() {
            list.sort_by(|a, b| a.pod.cmp(&b.pod).then(a.ip.cmp(&b.ip)));
        }
        let mut pods = HashMap::new();
        let mut by_ip: HashMap<String, (String, String)> = HashMap::new();
        for pod in store.list(&keys::pods(), None).0 {
            let ns = sd(&pod, "/metadata/namespace").to_string();
            let name = sd(&pod, "/metadata/name").to_string();
            let ip = sd(&pod, "/status/podIP").to_string();
            let finished = matches!(sd(&pod, "/status/phase"), "Succeeded" | "Failed");
            let labels = pod
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let statuses = arr(&pod, "/status/containerStatuses");
            let containers = arr(&pod, "/spec/containers")
                .iter()
                .map(|c| {
                    let cname = sd(c, "/name").to_string();
                    let st = statuses.iter().find(|st| sd(st, "/name") == cname);
                    let restarts = st.and_then(|st| int(st, "/restartCount")).unwrap_or(0);
                    let running = st
                        .filter(|st| st.pointer("/state/running").is_some())
                        .map(|_| restarts);
                    let ended = st.is_some_and(|st| st.pointer("/state/running").is_none());
                    CtrInfo {
                        name: cname,
                        engine: false,
                        current: None,
                        running,
                        status: st.map(|_| (restarts, ended)),
                        declared_ports: arr(c, "/ports")
                            .iter()
                            .filter_map(|p| port_u16(p.get("containerPort")))
                            .collect(),
                    }
                })
                .collect();
            if !ip.is_empty() && (!finished || !by_ip.contains_key(&ip)) {
                by_ip.insert(ip.clone(), (ns.clone(), name.clone()));
            }
            pods.insert(
                (ns.clone(), name.clone()),
                PodInfo {
                    r#ref: PodRef {
                        namespace: ns,
                        name,
                        uid: sd(&pod, "/metadata/uid").to_string(),
                        ip,
                        labels,
                    },
                    finished,
                    containers,
                },
            );
        }
        let runs = world.runs().into_iter().collect();
        let mut routing = Routing {
            services,
            by_cluster_ip,
            endpoints,
            pods,
            by_ip,
            runs,
            chaos: world.network_chaos(),
        };
        // Resolve each container's current run once, for connect's hot path.
        let mut resolved = Vec::new();
        for ((ns, name), pod) in &routing.pods {
            for (i, c) in pod.containers.iter().enumerate() {
                let key = RunKey::new(ns, name, &c.name);
                if routing.runs.contains_key(&key) {
                    resolved.push(((ns.clone(), name.clone()), i, routing.current_run(&key)));
                }
            }
        }
        for (pod_key, i, current) in resolved {
            if let Some(pod) = routing.pods.get_mut(&pod_key) {
                pod.containers[i].engine = true;
                pod.containers[i].current = current;
            }
        }
        routing
    }

    /// The run of a container if it is the current one (the pod and its status agree).
    pub fn current_run(&self, key: &RunKey) -> Option<Arc<RunInfo>> {
        let run = self.runs.get(key)?;
        let pod = self.pods.get(&(key.namespace.clone(), key.pod.clone()))?;
        if pod.r#ref.uid != run.pod_uid || pod.finished {
            return None;
        }
        let ctr = pod.containers.iter().find(|c| c.name == key.container)?;
        match ctr.status {
            None => Some(run.clone()),
            Some((restarts, ended)) => {
                let current =
                    restarts < run.restart_count || (restarts == run.restart_count && !ended);
                current.then(|| run.clone())
            }
        }
    }

    /// The Service `name` in `namespace`, if any, with its ClusterIP.
    pub fn service_ip(&self, namespace: &str, name: &str) -> Option<String> {
        self.services
            .get(&(namespace.to_string(), name.to_string()))
            .and_then(|s| s.cluster_ip.clone())
    }

    /// Resolves a DNS name from a namespace: `(namespace, service)`.
    fn resolve_service(&self, from_ns: &str, host: &str) -> Option<(String, String)> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut candidates = Vec::with_capacity(4);
        let dots = host.matches('.').count();
        let search = [
            format!("{host}.{from_ns}.svc.cluster.local"),
            format!("{host}.svc.cluster.local"),
            format!("{host}.cluster.local"),
        ];
        if dots >= 5 {
            candidates.push(host.clone());
            candidates.extend(search);
        } else {
            candidates.extend(search);
            candidates.push(host.clone());
        }
        for fqdn in candidates {
            let Some(rest) = fqdn.strip_suffix(".svc.cluster.local") else {
                continue;
            };
            let Some((svc, ns)) = rest.split_once('.') else {
                continue;
            };
            if ns.contains('.') {
                continue;
            }
            let key = (ns.to_string(), svc.to_string());
            if self.services.contains_key(&key) {
                return Some(key);
            }
        }
        None
    }

    /// Connects from `from` to `host:port` at `at`. `pick(n)` chooses one of `n` ready
    /// endpoints (kube-proxy picks at random).
    pub fn connect(
        &self,
        from: &Peer,
        host: &str,
        port: u16,
        at: Timestamp,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Target, ConnectError> {
        let host = host.trim();
        if matches!(host, "localhost" | "127.0.0.1" | "::1") {
            let Some(pod) = &from.pod else {
                return Err(ConnectError::Refused {
                    ip: "127.0.0.1".into(),
                    port,
                });
            };
            return self.to_pod(
                from,
                &from.namespace.clone(),
                pod,
                "127.0.0.1",
                port,
                at,
                None,
            );
        }
        if host.parse::<std::net::Ipv4Addr>().is_ok() {
            if let Some((ns, svc)) = self.by_cluster_ip.get(host) {
                return self.via_service(from, ns, svc, port, at, pick);
            }
            return match self.by_ip.get(host) {
                Some((ns, pod)) => self.to_pod(from, ns, pod, host, port, at, None),
                None => Err(ConnectError::Timeout {
                    ip: host.to_string(),
                    port,
                }),
            };
        }
        let Some((ns, svc)) = self.resolve_service(&from.namespace, host) else {
            return Err(ConnectError::NxDomain {
                host: host.to_string(),
            });
        };
        self.via_service(from, &ns, &svc, port, at, pick)
    }

    fn via_service(
        &self,
        from: &Peer,
        ns: &str,
        svc_name: &str,
        port: u16,
        at: Timestamp,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Target, ConnectError> {
        let key = (ns.to_string(), svc_name.to_string());
        let Some(svc) = self.services.get(&key) else {
            return Err(ConnectError::NxDomain {
                host: format!("{svc_name}.{ns}.svc.cluster.local"),
            });
        };
        let empty = Vec::new();
        let eps = self.endpoints.get(&key).unwrap_or(&empty);
        if svc.headless {
            // A headless Service's name resolves to the ready pods themselves.
            let ready: Vec<&Endpoint> = eps.iter().filter(|e| e.ready).collect();
            if ready.is_empty() {
                return Err(ConnectError::NxDomain {
                    host: format!("{svc_name}.{ns}.svc.cluster.local"),
                });
            }
            let ep = ready[pick(ready.len()).min(ready.len() - 1)];
            let Some(pod) = &ep.pod else {
                return Err(ConnectError::Timeout {
                    ip: ep.ip.clone(),
                    port,
                });
            };
            return self.to_pod(from, ns, pod, &ep.ip.clone(), port, at, None);
        }
        let cluster_ip = svc.cluster_ip.clone().unwrap_or_default();
        let Some(sp) = svc
            .ports
            .iter()
            .find(|p| p.port == port && p.protocol == "TCP")
        else {
            // kube-proxy has no rule for this port: nothing answers.
            return Err(ConnectError::Timeout {
                ip: cluster_ip,
                port,
            });
        };
        let ready: Vec<(&Endpoint, u16)> = eps
            .iter()
            .filter(|e| e.ready)
            .filter_map(|e| {
                e.ports
                    .iter()
                    .find(|(n, _, proto)| *n == sp.name && *proto == sp.protocol)
                    .map(|(_, p, _)| (e, *p))
            })
            .collect();
        if ready.is_empty() {
            // No endpoints: kube-proxy rejects.
            return Err(ConnectError::Refused {
                ip: cluster_ip,
                port,
            });
        }
        let (ep, target_port) = ready[pick(ready.len()).min(ready.len() - 1)];
        let service = ServiceRef {
            namespace: ns.to_string(),
            name: svc_name.to_string(),
            cluster_ip: cluster_ip.clone(),
            port,
        };
        let Some(pod) = &ep.pod else {
            return Err(ConnectError::Timeout {
                ip: cluster_ip,
                port,
            });
        };
        self.to_pod(from, ns, pod, &cluster_ip, target_port, at, Some(service))
            .map_err(|e| match e {
                // The client sees the address it dialled.
                ConnectError::Refused { .. } => ConnectError::Refused {
                    ip: cluster_ip.clone(),
                    port,
                },
                ConnectError::Timeout { .. } => ConnectError::Timeout {
                    ip: cluster_ip.clone(),
                    port,
                },
                other => other,
            })
    }

    #[allow(clippy::too_many_arguments)]
    fn to_pod(
        &self,
        from: &Peer,
        ns: &str,
        pod_name: &str,
        dialled: &str,
        port: u16,
        at: Timestamp,
        service: Option<ServiceRef>,
    ) -> Result<Target, ConnectError> {
        let refused = || ConnectError::Refused {
            ip: dialled.to_string(),
            port,
        };
        let timeout = || ConnectError::Timeout {
            ip: dialled.to_string(),
            port,
        };
        let Some(pod) = self.pods.get(&(ns.to_string(), pod_name.to_string())) else {
            return Err(timeout());
        };
        if pod.finished || pod.r#ref.ip.is_empty() {
            return Err(timeout());
        }
        let mut net = NetEffect::default();
        let same_pod = from.pod.as_deref() == Some(pod_name) && from.namespace == ns;
        if !same_pod && let Some(chaos) = &self.chaos {
            net = chaos.effect(from, &pod.r#ref, port, at);
            if net.partition || net.loss >= 1.0 {
                return Err(timeout());
            }
        }
        for c in &pod.containers {
            if c.engine {
                if let Some(run) = &c.current
                    && run.listens(port, at)
                {
                    return Ok(Target {
                        service,
                        pod: pod.r#ref.clone(),
                        container: Some(c.name.clone()),
                        port,
                        run: Some(run.clone()),
                        net,
                    });
                }
            } else if c.running.is_some()
                && (c.declared_ports.is_empty() || c.declared_ports.contains(&port))
            {
                // A container the app engine does not run: it listens on what it declares.
                return Ok(Target {
                    service,
                    pod: pod.r#ref.clone(),
                    container: Some(c.name.clone()),
                    port,
                    run: None,
                    net,
                });
            }
        }
        Err(refused())
    }

    /// The pod and container a run belongs to, if the pod is known.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodRef> {
        self.pods
            .get(&(namespace.to_string(), name.to_string()))
            .map(|p| &p.r#ref)
    }

    /// The current runs whose pod is in `namespace` (any when `None`), sorted by key.
    pub fn current_runs(&self, namespace: Option<&str>) -> Vec<(RunKey, Arc<RunInfo>)> {
        let mut out: Vec<(RunKey, Arc<RunInfo>)> = self
            .runs
            .keys()
            .filter(|k| namespace.is_none_or(|n| k.namespace == n))
            .filter_map(|k| self.current_run(k).map(|r| (k.clone(), r)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Connects from `from_namespace` to `host:port` now, on the store's current state: the
/// function containers use at start. Among several ready endpoints it picks the first.
///
/// ```
/// # use aiopslab_sim::{clock::WallClock, store::Store};
/// # use std::sync::Arc;
/// use aiopslab_sim::apps::net::{connect, ConnectError};
/// let store = Store::new(1, Arc::new(WallClock));
/// let err = connect(&store, "default", "no-such-svc", 80).unwrap_err();
/// assert!(matches!(err, ConnectError::NxDomain { .. }));
/// assert_eq!(err.to_string(), "dial tcp: lookup no-such-svc on 10.96.0.10:53: no such host");
/// ```
pub fn connect(
    store: &Store,
    from_namespace: &str,
    host: &str,
    port: u16,
) -> Result<Target, ConnectError> {
    let world = World::of(store);
    let routing = world.routing(store);
    routing.connect(
        &Peer::namespace(from_namespace),
        host,
        port,
        store.clock().now(),
        &mut |_| 0,
    )
}

/// Splits `host:port`.
pub fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (h, p) = address.rsplit_once(':')?;
    let port = p.trim().parse::<u16>().ok()?;
    Some((h.trim().to_string(), port))
}
