//! Resource use of pods and nodes, as metrics-server reports it (`metrics.k8s.io/v1beta1`),
//! for `kubectl top`.
//!
//! Usage comes from each running container's behaviour ([`Usage`](super::behavior::Usage)),
//! with a small deterministic wobble per minute so that successive samples differ as real ones
//! do. A node's usage is the sum of its pods plus the node's own overhead.
//!
//! ```no_run
//! # async fn demo(handle: &aiopslab_sim::controllers::Handle) {
//! let metrics = handle.metrics();
//! let list = metrics.pod_metrics_list(Some("default"));
//! assert_eq!(list["kind"], "PodMetricsList");
//! # }
//! ```

use super::kubelet::{Shared, Stage};
use super::util::{fmt_time, fnv64, keys, name};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;

/// CPU and memory of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMetrics {
    /// The container's name.
    pub name: String,
    /// CPU in nanocores.
    pub cpu_nanocores: u64,
    /// Working-set memory in bytes.
    pub memory_bytes: u64,
}

/// Usage of one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodMetrics {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// The pod's labels.
    pub labels: Value,
    /// When the sample was taken.
    pub timestamp: Timestamp,
    /// Per running container.
    pub containers: Vec<ContainerMetrics>,
}

/// Usage of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeMetrics {
    /// Node name.
    pub name: String,
    /// The node's labels.
    pub labels: Value,
    /// When the sample was taken.
    pub timestamp: Timestamp,
    /// CPU in nanocores.
    pub cpu_nanocores: u64,
    /// Working-set memory in bytes.
    pub memory_bytes: u64,
}

/// Node overhead: the kubelet, containerd and the system slice.
const NODE_CPU_NANOS: u64 = 95_000_000;
const NODE_MEMORY: u64 = 640 * 1024 * 1024;
/// The sampling window metrics-server reports.
const WINDOW: &str = "15.012s";

/// Access to current resource use.
#[derive(Clone)]
pub struct Metrics {
    kubelet: Arc<Shared>,
}

fn wobble(seed: &str, minute: i64) -> f64 {
    let h = fnv64(format!("{seed}/{minute}").as_bytes());
    // 0.9 .. 1.1
    0.9 + (h % 2001) as f64 / 10_000.0
}

fn cpu_text(nanos: u64) -> String {
    format!("{nanos}n")
}

fn memory_text(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

impl Metrics {
    pub(crate) fn new(kubelet: Arc<Shared>) -> Self {
        Metrics { kubelet }
    }

    /// Usage of the running pods, in one namespace or all, sorted by namespace and name.
    pub fn pods(&self, namespace: Option<&str>) -> Vec<PodMetrics> {
        let now = self.kubelet.store.clock().now();
        let minute = now.as_second().div_euclid(60);
        let state = self.kubelet.lock();
        let mut out = Vec::new();
        for ((ns, pod), rec) in &state.pods {
            if namespace.is_some_and(|n| n != ns) {
                continue;
            }
            let containers: Vec<ContainerMetrics> = rec
                .ctrs
                .iter()
                .filter(|c| matches!(c.stage, Stage::Running))
                .filter_map(|c| {
                    let inst = c.current.as_ref().filter(|i| !i.ended)?;
                    if inst
                        .end
                        .as_ref()
                        .is_some_and(|(_, t)| t.reason == "StartError")
                    {
                        return None;
                    }
                    let u = inst.plan.usage;
                    let w = wobble(&format!("{}/{}", rec.uid, c.name), minute);
                    let mem_w = 1.0 + (w - 1.0) / 4.0;
                    Some(ContainerMetrics {
                        name: c.name.clone(),
                        cpu_nanocores: (u.cpu_millicores * 1e6 * w).max(0.0) as u64,
                        memory_bytes: (u.memory_bytes as f64 * mem_w) as u64,
                    })
                })
                .collect();
            if containers.is_empty() {
                continue;
            }
            out.push(PodMetrics {
                namespace: ns.clone(),
                name: pod.clone(),
                labels: rec.labels.clone(),
                timestamp: now,
                containers,
            });
        }
        out
    }

    /// Usage of every node, sorted by name.
    pub fn nodes(&self) -> Vec<NodeMetrics> {
        let now = self.kubelet.store.clock().now();
        let minute = now.as_second().div_euclid(60);
        let pods = self.pods(None);
        let node_of: std::collections::BTreeMap<(String, String), String> = {
            let state = self.kubelet.lock();
            state
                .pods
                .iter()
                .map(|(k, r)| (k.clone(), r.node.clone()))
                .collect()
        };
        let (nodes, _) = self.kubelet.store.list(&keys::nodes(), None);
        nodes
            .iter()
            .map(|n| {
                let node = name(n).to_string();
                let (mut cpu, mut mem) = (0u64, 0u64);
                for p in &pods {
                    if node_of.get(&(p.namespace.clone(), p.name.clone())) == Some(&node) {
                        for c in &p.containers {
                            cpu += c.cpu_nanocores;
                            mem += c.memory_bytes;
                        }
                    }
                }
                let w = wobble(&node, minute);
                NodeMetrics {
                    name: node,
                    labels: n.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                    timestamp: now,
                    cpu_nanocores: cpu + (NODE_CPU_NANOS as f64 * w) as u64,
                    memory_bytes: mem + NODE_MEMORY,
                }
            })
            .collect()
    }

    /// A `PodMetrics` object.
    pub fn pod_metrics_json(m: &PodMetrics) -> Value {
        json!({
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": m.name,
                "namespace": m.namespace,
                "creationTimestamp": fmt_time(m.timestamp),
                "labels": m.labels,
            },
            "timestamp": fmt_time(m.timestamp),
            "window": WINDOW,
            "containers": m.containers.iter().map(|c| json!({
                "name": c.name,
                "usage": {"cpu": cpu_text(c.cpu_nanocores), "memory": memory_text(c.memory_bytes)},
            })).collect::<Vec<_>>(),
        })
    }

    /// A `NodeMetrics` object.
    pub fn node_metrics_json(m: &NodeMetrics) -> Value {
        json!({
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": m.name,
                "creationTimestamp": fmt_time(m.timestamp),
                "labels": m.labels,
            },
            "timestamp": fmt_time(m.timestamp),
            "window": "20.04s",
            "usage": {"cpu": cpu_text(m.cpu_nanocores), "memory": memory_text(m.memory_bytes)},
        })
    }

    /// `GET /apis/metrics.k8s.io/v1beta1/[namespaces/{ns}/]pods`.
    pub fn pod_metrics_list(&self, namespace: Option<&str>) -> Value {
        json!({
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": self.pods(namespace).iter().map(Self::pod_metrics_json).collect::<Vec<_>>(),
        })
    }

    /// `GET /apis/metrics.k8s.io/v1beta1/nodes`.
    pub fn node_metrics_list(&self) -> Value {
        json!({
            "kind": "NodeMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": self.nodes().iter().map(Self::node_metrics_json).collect::<Vec<_>>(),
        })
    }

    /// One pod's metrics, if it has running containers.
    pub fn pod(&self, namespace: &str, pod: &str) -> Option<PodMetrics> {
        self.pods(Some(namespace))
            .into_iter()
            .find(|p| p.name == pod)
    }

    /// One node's metrics.
    pub fn node(&self, node: &str) -> Option<NodeMetrics> {
        self.nodes().into_iter().find(|n| n.name == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wobble_stays_close() {
        for m in 0..100 {
            let w = wobble("pod/c", m);
            assert!((0.9..=1.1).contains(&w));
        }
        assert_eq!(wobble("a", 1), wobble("a", 1));
    }

    #[test]
    fn quantity_texts() {
        assert_eq!(cpu_text(1_500_000), "1500000n");
        assert_eq!(memory_text(2048), "2Ki");
    }
}
