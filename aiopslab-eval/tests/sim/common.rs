//! A virtual cluster per test, addressed only through the kubeconfig files it writes.

use aiopslab_eval::oracle::SettleOptions;
use aiopslab_k8s::{ApplyOptions, Cluster, ClusterTarget, WaitOptions};
use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};
use serde_json::{Value, json};
use std::sync::Once;
use std::time::Duration;

static ISOLATE: Once = Once::new();

/// Removes the ambient kubeconfig and in-cluster variables, so nothing can fall back to
/// them.
fn isolate() {
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

/// A running virtual cluster, its temp dir and a client through the admin kubeconfig.
pub struct Sim {
    pub cluster: Cluster,
    _sim: VirtualCluster,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// Starts a cluster (seed 1) and connects through its admin kubeconfig.
    pub async fn start() -> Sim {
        isolate();
        let dir = tempfile::tempdir().expect("temp dir");
        let sim = VirtualCluster::start(ClusterConfig::new(dir.path().join("kube")).with_seed(1))
            .await
            .expect("virtual cluster starts");
        let cluster = Cluster::connect(&ClusterTarget::new(sim.admin_kubeconfig_path()))
            .await
            .expect("connects");
        Sim {
            cluster,
            _sim: sim,
            _dir: dir,
        }
    }

    /// Applies a manifest (JSON text) into `namespace`, creating it.
    pub async fn apply(&self, namespace: &str, manifest: &str) {
        self.cluster
            .apply_yaml(
                "test.yaml",
                manifest,
                &ApplyOptions::into_namespace(namespace),
            )
            .await
            .expect("apply");
    }

    /// Waits until everything in `namespace` is ready.
    pub async fn ready(&self, namespace: &str) {
        self.cluster
            .wait_namespace_ready(namespace, WaitOptions::new(Duration::from_secs(60)))
            .await
            .expect("namespace ready");
    }
}

/// Settling fit for tests: a short quiet period, a generous time limit.
pub fn quick() -> SettleOptions {
    SettleOptions::new(Duration::from_millis(700), Duration::from_secs(60))
}

/// A Deployment running `image` with `replicas` pods labelled `app=<name>`; `pod_extra` is
/// merged into the pod spec.
pub fn deployment(name: &str, image: &str, replicas: i32, pod_extra: Value) -> String {
    let mut pod = json!({"containers": [{"name": name, "image": image}]});
    if let (Some(target), Value::Object(extra)) = (pod.as_object_mut(), pod_extra) {
        target.extend(extra);
    }
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

/// A Service `name` selecting `app=<name>` on port 9090 with the given targetPort.
pub fn service(name: &str, target_port: i32) -> String {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "9090", "port": 9090, "targetPort": target_port}]
        }
    })
    .to_string()
}
