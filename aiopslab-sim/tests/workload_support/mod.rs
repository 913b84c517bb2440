//! Shared helpers of the `workload_*` tests: a manual-clock cluster whose catalogue has the
//! application images and `deathstarbench/wrk2-client`, and AIOpsLab's wrk2 objects.
#![allow(dead_code)]

use aiopslab_sim::admission::{Operation, admit};
use aiopslab_sim::apps;
use aiopslab_sim::clock::ManualClock;
use aiopslab_sim::controllers::{self, Handle, Options, Topology};
use aiopslab_sim::resources::ResourceKey;
use aiopslab_sim::runtime::LogOptions;
use aiopslab_sim::store::Store;
use aiopslab_sim::workload;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Sim {
    pub store: Arc<Store>,
    pub handle: Handle,
    pub clock: ManualClock,
}

pub fn key(group: &str, plural: &str) -> ResourceKey {
    ResourceKey::new(group, plural)
}

/// The catalogue the tests run: built-in and application images plus wrk2.
pub fn catalog() -> controllers::behavior::Catalog {
    let mut c = apps::catalog();
    workload::register(&mut c);
    c
}

impl Sim {
    /// A cluster with real-length delays (time scale 1) on a manual clock.
    pub async fn new(seed: u64) -> Sim {
        Sim::with_scale(seed, 1.0).await
    }

    /// A cluster whose controllers run simulated delays at `scale` of clock time.
    pub async fn with_scale(seed: u64, scale: f64) -> Sim {
        let clock = ManualClock::at("2026-09-15T12:30:00Z".parse().unwrap());
        let store = Arc::new(Store::new(seed, Arc::new(clock.clone())));
        controllers::bootstrap(&store, &Topology::default());
        let options = Options::manual(clock.clone())
            .with_catalog(catalog())
            .with_time_scale(scale);
        let handle = controllers::start(store.clone(), options);
        let sim = Sim {
            store,
            handle,
            clock,
        };
        sim.advance(30).await;
        sim
    }

    /// Creates an object through admission, as the API server does.
    pub async fn create(&self, mut obj: Value) -> Value {
        let api = obj["apiVersion"].as_str().unwrap().to_string();
        let kind = obj["kind"].as_str().unwrap().to_string();
        let rtype = self.store.catalogue().by_kind(&api, &kind).unwrap().clone();
        let ns = if rtype.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        admit(&self.store, &rtype, Operation::Create, &mut obj, None)
            .unwrap_or_else(|e| panic!("admission refused: {e}"));
        let created = self.store.create(&rtype.key(), &ns, obj).unwrap();
        self.handle.settle().await;
        created
    }

    /// Changes an object through admission.
    pub async fn update(&self, k: ResourceKey, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
        let old = self.store.get(&k, ns, name).unwrap();
        let mut new = old.clone();
        f(&mut new);
        let rtype = self.store.catalogue().by_key(&k).unwrap().clone();
        admit(&self.store, &rtype, Operation::Update, &mut new, Some(&old))
            .unwrap_or_else(|e| panic!("admission refused: {e}"));
        self.store.update(&k, ns, name, new).unwrap();
        self.handle.settle().await;
    }

    pub async fn advance(&self, secs: i64) {
        self.handle.advance(SignedDuration::from_secs(secs)).await;
    }

    pub async fn advance_ms(&self, ms: i64) {
        self.handle.advance(SignedDuration::from_millis(ms)).await;
    }

    /// Deploys an application as AIOpsLab does and waits until it is ready and its services
    /// have started.
    pub async fn deploy(&self, app: &str) -> String {
        self.handle.settle().await;
        let d = apps::deploy::deploy(&self.store, app, None).expect("deploy");
        apps::deploy::wait_ready(
            &self.handle,
            &self.store,
            &d.namespace,
            SignedDuration::from_secs(300),
        )
        .await
        .expect("ready");
        self.advance(30).await;
        d.namespace
    }

    /// Sets a Deployment's replicas.
    pub async fn scale(&self, ns: &str, deployment: &str, replicas: i64) {
        self.update(key("apps", "deployments"), ns, deployment, |d| {
            d["spec"]["replicas"] = json!(replicas)
        })
        .await;
    }

    /// A Namespace.
    pub async fn namespace(&self, name: &str) {
        self.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .await;
    }

    /// An nginx Deployment `web` with `replicas` pods and its Service on port 80, in `ns`.
    pub async fn nginx(&self, ns: &str, replicas: i64) {
        self.create(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                           "ports": [{"containerPort": 80}]}]}}}
        }))
        .await;
        self.service(ns, "web", "web", 80, 80).await;
    }

    /// A Service selecting `app=<app>`.
    pub async fn service(&self, ns: &str, name: &str, app: &str, port: i64, target: i64) {
        self.create(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": app},
                     "ports": [{"port": port, "targetPort": target, "protocol": "TCP"}]}
        }))
        .await;
    }

    pub fn cluster_ip(&self, ns: &str, svc: &str) -> String {
        let s = self.store.get(&key("", "services"), ns, svc).unwrap();
        s["spec"]["clusterIP"].as_str().unwrap().to_string()
    }

    /// AIOpsLab's ConfigMap and Job (as `aiopslab-workload` renders them) running `args`.
    pub async fn wrk2(&self, script_name: &str, script: &str, args: &[&str]) {
        self.create(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "wrk2-payload-script", "namespace": "default"},
            "data": {script_name: script}
        }))
        .await;
        self.create(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "wrk2-job", "namespace": "default"},
            "spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "wrk2", "image": "deathstarbench/wrk2-client:latest",
                    "args": args,
                    "volumeMounts": [{"name": "wrk2-scripts",
                                      "mountPath": format!("/scripts/{script_name}"),
                                      "subPath": script_name}]
                }],
                "volumes": [{"name": "wrk2-scripts", "configMap": {"name": "wrk2-payload-script"}}]
            }}}
        }))
        .await;
    }

    /// The wrk2 Job's pods, oldest first (a failed pod is retried).
    pub fn wrk2_pods(&self) -> Vec<Value> {
        let (pods, _) = self.store.list(&key("", "pods"), Some("default"));
        let mut found: Vec<Value> = pods
            .iter()
            .filter(|p| p["metadata"]["labels"]["job-name"] == "wrk2-job")
            .map(|p| (**p).clone())
            .collect();
        found.sort_by_key(|p| {
            (
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        });
        found
    }

    /// The wrk2 Job's first pod.
    pub fn wrk2_pod(&self) -> Value {
        self.wrk2_pods().into_iter().next().expect("a wrk2 pod")
    }

    pub async fn logs(&self, ns: &str, pod: &str) -> String {
        self.handle
            .runtime()
            .logs(ns, pod, &LogOptions::default())
            .await
            .unwrap_or_else(|e| format!("<logs error: {e}>"))
    }

    /// The wrk2 pod's log.
    pub async fn wrk2_log(&self) -> String {
        let pod = self.wrk2_pod();
        self.logs("default", pod["metadata"]["name"].as_str().unwrap())
            .await
    }

    /// The Job's status.
    pub fn job_status(&self) -> Value {
        self.store
            .get(&key("batch", "jobs"), "default", "wrk2-job")
            .unwrap()["status"]
            .clone()
    }
}

/// AIOpsLab's argv for a problem (`rate 10, exp, 2 connections, <secs> s, 2 threads`).
pub fn aiopslab_args(script: &str, url: &str, secs: u64) -> Vec<String> {
    [
        "wrk",
        "-D",
        "exp",
        "-t",
        "2",
        "-c",
        "2",
        "-d",
        &format!("{secs}s"),
        "-L",
        "-s",
        &format!("/scripts/{script}"),
        url,
        "-R",
        "10",
        "--latency",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A number from the report line that starts with `prefix` (first word after it).
pub fn number_after(log: &str, prefix: &str) -> Option<f64> {
    log.lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|w| w.trim_end_matches(',').parse().ok())
}

/// `(connect, read, write, timeout)` from the `Socket errors` line (zeros without one).
pub fn socket_errors(log: &str) -> [u64; 4] {
    let Some(line) = log.lines().find(|l| l.contains("Socket errors:")) else {
        return [0; 4];
    };
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    [nums[0], nums[1], nums[2], nums[3]]
}

/// Completed requests from `N requests in T, X read`.
pub fn requests(log: &str) -> u64 {
    log.lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in:\n{log}"))
}
