//! A virtual cluster per test, addressed only through the kubeconfig files it writes.

use aiopslab_k8s::{Cluster, ClusterTarget};
use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Once;

static ISOLATE: Once = Once::new();

/// Removes the ambient kubeconfig and in-cluster variables, so nothing can fall back to
/// them.
pub fn isolate() {
    ISOLATE.call_once(|| {
        for var in [
            "KUBECONFIG",
            "KUBERNETES_SERVICE_HOST",
            "KUBERNETES_SERVICE_PORT",
        ] {
            // SAFETY: done once, before any test of this binary builds a client; nothing
            // else in the process writes the environment.
            unsafe { std::env::remove_var(var) };
        }
    });
}

/// A running virtual cluster and its temp dir.
pub struct Sim {
    pub cluster: VirtualCluster,
    pub dir: tempfile::TempDir,
}

impl Sim {
    /// Starts a cluster with seed 1 writing its kubeconfigs into a fresh temp dir.
    pub async fn start() -> Sim {
        isolate();
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster =
            VirtualCluster::start(ClusterConfig::new(dir.path().join("kube")).with_seed(1))
                .await
                .expect("virtual cluster starts");
        Sim { cluster, dir }
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig(&self) -> PathBuf {
        self.cluster.admin_kubeconfig_path().to_path_buf()
    }

    /// The value of the first `key:` line of the admin kubeconfig (`server`, `token`).
    pub fn kubeconfig_value(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.kubeconfig()).expect("read kubeconfig");
        let prefix = format!("{key}: ");
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in the kubeconfig"))
            .to_string()
    }

    /// Connects through the admin kubeconfig.
    pub async fn connect(&self) -> Cluster {
        Cluster::connect(&ClusterTarget::new(self.kubeconfig()))
            .await
            .expect("connects")
    }
}

/// A Deployment (as JSON text, which is YAML) running `image` with `replicas` pods labelled
/// `app=<name>`; `pod_extra` is merged into the pod spec and `container_extra` into the
/// container.
pub fn deployment(
    name: &str,
    image: &str,
    replicas: i32,
    pod_extra: Value,
    container_extra: Value,
) -> String {
    let mut container = json!({"name": name, "image": image});
    merge(&mut container, container_extra);
    let mut pod = json!({"containers": [container]});
    merge(&mut pod, pod_extra);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}
        }
    })
    .to_string()
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(add)) = (into.as_object_mut(), extra) {
        target.extend(add);
    }
}
