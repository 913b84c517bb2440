//! Shared helpers of the `apps_*` tests: a manual-clock cluster with the application images,
//! deploying an app, reading pods, logs and running commands in containers.
#![allow(dead_code)]

use aiopslab_sim::apps;
use aiopslab_sim::clock::ManualClock;
use aiopslab_sim::controllers::{self, Handle, Options, Topology};
use aiopslab_sim::resources::ResourceKey;
use aiopslab_sim::runtime::{ExecOutput, LogOptions};
use aiopslab_sim::store::Store;
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::Arc;

/// A store with a kind-like cluster and running controllers on a manual clock.
pub struct Sim {
    pub store: Arc<Store>,
    pub handle: Handle,
    pub clock: ManualClock,
}

pub fn pods() -> ResourceKey {
    ResourceKey::new("", "pods")
}

pub fn services() -> ResourceKey {
    ResourceKey::new("", "services")
}

pub fn deployments() -> ResourceKey {
    ResourceKey::new("apps", "deployments")
}

impl Sim {
    /// A fresh cluster (seed `seed`), controllers started.
    pub fn new(seed: u64) -> Sim {
        let clock = ManualClock::at("2026-09-15T12:30:00Z".parse().unwrap());
        let store = Arc::new(Store::new(seed, Arc::new(clock.clone())));
        controllers::bootstrap(&store, &Topology::default());
        let handle = controllers::start(
            store.clone(),
            apps::controller_options(Options::manual(clock.clone())),
        );
        Sim {
            store,
            handle,
            clock,
        }
    }

    /// Deploys an app and waits until it is ready (cluster time, at most 300 s).
    pub async fn deploy(&self, app: &str) -> apps::deploy::Deployed {
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
        // Pods are Ready as soon as they run (no probes); let the services finish starting.
        self.advance(30).await;
        d
    }

    pub async fn advance(&self, secs: i64) {
        self.handle.advance(SignedDuration::from_secs(secs)).await;
    }

    /// Pods of `ns` whose name starts with `prefix-` (the deployment's pods).
    pub fn pods_of(&self, ns: &str, deployment: &str) -> Vec<Value> {
        let (all, _) = self.store.list(&pods(), Some(ns));
        all.iter()
            .filter(|p| {
                p["metadata"]["labels"]
                    .as_object()
                    .is_some_and(|l| l.values().any(|v| v == deployment))
                    && p["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(&format!("{deployment}-")))
                    && p["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|p| (**p).clone())
            .collect()
    }

    /// The one pod of a deployment.
    pub fn pod(&self, ns: &str, deployment: &str) -> String {
        let pods = self.pods_of(ns, deployment);
        assert_eq!(pods.len(), 1, "pods of {deployment}: {:#?}", names(&pods));
        pods[0]["metadata"]["name"].as_str().unwrap().to_string()
    }

    pub async fn logs(&self, ns: &str, pod: &str) -> String {
        self.handle
            .runtime()
            .logs(ns, pod, &LogOptions::default())
            .await
            .unwrap_or_else(|e| format!("<logs error: {e}>"))
    }

    pub async fn previous_logs(&self, ns: &str, pod: &str) -> String {
        self.handle
            .runtime()
            .logs(
                ns,
                pod,
                &LogOptions {
                    previous: true,
                    ..LogOptions::default()
                },
            )
            .await
            .unwrap_or_else(|e| format!("<logs error: {e}>"))
    }

    pub async fn exec(&self, ns: &str, pod: &str, argv: &[&str]) -> ExecOutput {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.handle
            .runtime()
            .exec(ns, pod, None, &argv, None)
            .await
            .expect("exec")
    }

    pub fn pod_json(&self, ns: &str, name: &str) -> Value {
        self.store.get(&pods(), ns, name).expect("pod")
    }

    pub async fn delete_pod(&self, ns: &str, name: &str) {
        let pod = self.pod_json(ns, name);
        let grace = controllers::pod_delete_grace(&pod, None);
        self.store
            .delete(&pods(), ns, name, Some(grace), None, None)
            .expect("delete pod");
        self.handle.settle().await;
    }
}

pub fn names(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

pub fn out(o: &ExecOutput) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// A container's status in a pod.
pub fn ctr_status(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

/// Every deployment's pod runs the profile `app.json` names for it (by key or alias).
pub fn assert_profiles_match(sim: &Sim, app: &str) {
    let meta = aiopslab_metadata::app(app).expect("app");
    let json: Value = serde_json::from_str(meta.app_json).expect("app.json");
    let registry = aiopslab_sim::apps::profile::registry().expect("profiles");
    let world = aiopslab_sim::apps::World::of(&sim.store);
    let routing = world.routing(&sim.store);
    let runs = routing.current_runs(Some(meta.namespace));
    let profiles = json["Profiles"].as_object().expect("Profiles");
    assert_eq!(
        profiles.len(),
        sim.store.list(&deployments(), Some(meta.namespace)).0.len()
    );
    for (deployment, key) in profiles {
        let want = registry
            .canonical(key.as_str().unwrap())
            .unwrap_or_else(|| panic!("app.json profile {key} of {deployment} is not defined"));
        let pod = sim.pod(meta.namespace, deployment);
        let run = runs
            .iter()
            .find(|(k, _)| k.pod == pod)
            .unwrap_or_else(|| panic!("no current run in {pod}"));
        assert_eq!(run.1.profile, want, "{deployment}");
    }
}
