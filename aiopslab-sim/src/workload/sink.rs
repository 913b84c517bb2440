//! Where wrk2's requests go: the target behind the URL and what answers each request.
//!
//! [`resolve`] turns the URL's host and port into the Service (or pod) it reaches from the
//! wrk2 pod, the way the pod's DNS and kube-proxy would. Each request is then offered to the
//! [`RequestSink`]s in order; the first that knows the target answers. The application request
//! flow (`apps::flow`) is one sink; [`NetworkSink`] is the last resort, which knows only what
//! the objects say: a Service without ready endpoints refuses connections, one with ready
//! endpoints answers like a small static web server.

use super::script::HttpRequest;
use crate::controllers::util::{arr, keys, s, sd};
use crate::store::Store;
use jiff::Timestamp;
use serde_json::Value;

/// What the URL reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A Service port.
    Service {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The ClusterIP dialled.
        cluster_ip: String,
        /// The Service port.
        port: u16,
        /// Whether the Service has this port (without it kube-proxy has no rule and the
        /// connection goes nowhere).
        has_port: bool,
    },
    /// A pod IP, dialled directly.
    Pod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The port.
        port: u16,
    },
    /// An address nothing in the cluster owns.
    Nothing {
        /// The address.
        ip: String,
        /// The port.
        port: u16,
    },
}

/// Why the URL's host does not resolve (wrk2 then exits at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolvable {
    /// The host.
    pub host: String,
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

fn service_has_ip(svc: &Value, ip: &str) -> bool {
    sd(svc, "/spec/clusterIP") == ip || arr(svc, "/spec/clusterIPs").iter().any(|v| v == ip)
}

fn service_port(svc: &Value, port: u16) -> bool {
    arr(svc, "/spec/ports")
        .iter()
        .any(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(port)))
}

/// Resolves `host:port` from a pod in `namespace`: an IP is looked up among Service
/// ClusterIPs, then pod IPs; a name goes through the pod's DNS search path
/// (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`).
pub fn resolve(
    store: &Store,
    namespace: &str,
    host: &str,
    port: u16,
) -> Result<Resolved, Unresolvable> {
    let services = store.list(&keys::services(), None).0;
    let service = |svc: &Value, ip: String| Resolved::Service {
        namespace: sd(svc, "/metadata/namespace").to_string(),
        name: sd(svc, "/metadata/name").to_string(),
        cluster_ip: ip,
        port,
        has_port: service_port(svc, port),
    };
    if is_ip(host) {
        if let Some(svc) = services.iter().find(|s| service_has_ip(s, host)) {
            return Ok(service(svc, host.to_string()));
        }
        let pods = store.list(&keys::pods(), None).0;
        if let Some(pod) = pods.iter().find(|p| {
            sd(p, "/status/podIP") == host
                && !matches!(sd(p, "/status/phase"), "Succeeded" | "Failed")
        }) {
            return Ok(Resolved::Pod {
                namespace: sd(pod, "/metadata/namespace").to_string(),
                name: sd(pod, "/metadata/name").to_string(),
                port,
            });
        }
        return Ok(Resolved::Nothing {
            ip: host.to_string(),
            port,
        });
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let name = name
        .strip_suffix(".cluster.local")
        .unwrap_or(&name)
        .to_string();
    let name = name.strip_suffix(".svc").unwrap_or(&name).to_string();
    let (svc_name, svc_ns) = match name.split_once('.') {
        Some((n, ns)) if !ns.contains('.') => (n.to_string(), ns.to_string()),
        Some(_) => return Err(Unresolvable { host: host.into() }),
        None => (name.clone(), namespace.to_string()),
    };
    let found = services
        .iter()
        .find(|s| sd(s, "/metadata/name") == svc_name && sd(s, "/metadata/namespace") == svc_ns);
    match found {
        Some(svc) => {
            let ip = sd(svc, "/spec/clusterIP").to_string();
            if ip.is_empty() || ip == "None" {
                // A headless Service resolves to its pods; wrk2 takes the first.
                return Ok(Resolved::Nothing { ip, port });
            }
            Ok(service(svc, ip))
        }
        None => Err(Unresolvable { host: host.into() }),
    }
}

/// What happened to one request, as wrk2 counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response: its status, the latency in microseconds, and the bytes read (headers and
    /// body).
    Response {
        /// HTTP status.
        status: u16,
        /// Microseconds from sending to the last byte.
        latency_us: u64,
        /// Bytes read.
        bytes: u64,
    },
    /// The connection was refused (wrk2 counts a connect error).
    Refused,
    /// No answer (a timeout).
    Timeout,
    /// The connection was closed before the response (a read error).
    Reset,
}

/// One request offered to a sink.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The cluster.
    pub store: &'a Store,
    /// Where the URL points.
    pub target: &'a Resolved,
    /// The request.
    pub request: &'a HttpRequest,
    /// The wrk2 pod's namespace.
    pub client_namespace: &'a str,
    /// The wrk2 pod's IP.
    pub client_ip: &'a str,
    /// When the request is sent.
    pub at: Timestamp,
    /// A seed for this request's randomness.
    pub seed: u64,
}

/// Something that can answer wrk2's requests for some targets.
pub trait RequestSink: Send + Sync {
    /// The outcome of `delivery`, or `None` when this sink does not simulate its target (the
    /// next sink is asked).
    fn deliver(&self, delivery: &Delivery<'_>) -> Option<Outcome>;
}

/// The last resort: only what the Kubernetes objects say.
///
/// - A Service without the URL's port: the connection goes nowhere (timeout).
/// - A Service without ready endpoints: refused (kube-proxy's REJECT rule).
/// - A Service with a ready endpoint, or a running pod IP: a `200` from a small static web
///   server (nginx's welcome page: 853 bytes with headers) in 0.3 to 1.5 ms.
/// - An address nothing owns: refused, as against a closed port.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkSink;

/// Bytes of nginx's welcome page response (615 bytes of body, 238 of headers).
const STATIC_RESPONSE_BYTES: u64 = 853;

fn ready_endpoints(store: &Store, namespace: &str, service: &str) -> usize {
    let slices = store.list(&keys::endpointslices(), Some(namespace)).0;
    slices
        .iter()
        .filter(|sl| sd(sl, "/metadata/labels/kubernetes.io~1service-name") == service)
        .flat_map(|sl| arr(sl, "/endpoints").to_vec())
        .filter(|e| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false))
        .count()
}

fn pod_running(store: &Store, namespace: &str, name: &str) -> bool {
    store
        .get(&keys::pods(), namespace, name)
        .map(|p| {
            sd(&p, "/status/phase") == "Running" && s(&p, "/metadata/deletionTimestamp").is_none()
        })
        .unwrap_or(false)
}

fn static_latency_us(seed: u64) -> u64 {
    // 300 .. 1500 us, from the request's seed (splitmix64 for an even spread).
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    300 + z % 1200
}

impl RequestSink for NetworkSink {
    fn deliver(&self, d: &Delivery<'_>) -> Option<Outcome> {
        let answer = Outcome::Response {
            status: 200,
            latency_us: static_latency_us(d.seed),
            bytes: STATIC_RESPONSE_BYTES,
        };
        Some(match d.target {
            Resolved::Service {
                has_port: false, ..
            } => Outcome::Timeout,
            Resolved::Service {
                namespace, name, ..
            } => {
                if ready_endpoints(d.store, namespace, name) == 0 {
                    Outcome::Refused
                } else {
                    answer
                }
            }
            Resolved::Pod {
                namespace, name, ..
            } => {
                if pod_running(d.store, namespace, name) {
                    answer
                } else {
                    Outcome::Refused
                }
            }
            Resolved::Nothing { .. } => Outcome::Refused,
        })
    }
}
