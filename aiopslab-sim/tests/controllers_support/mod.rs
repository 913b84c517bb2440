//! Shared helpers for the controller tests: a bootstrapped store driven by a manual clock.
#![allow(dead_code)]

use aiopslab_sim::admission::{Operation, admit};
use aiopslab_sim::clock::ManualClock;
use aiopslab_sim::controllers::{self, Handle, Options, Topology};
use aiopslab_sim::resources::ResourceKey;
use aiopslab_sim::selector::LabelSelector;
use aiopslab_sim::store::Store;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::sync::Arc;

/// A virtual cluster without the HTTP layer.
pub struct Sim {
    pub store: Arc<Store>,
    pub clock: ManualClock,
    pub handle: Handle,
}

pub fn key(group: &str, plural: &str) -> ResourceKey {
    ResourceKey::new(group, plural)
}

impl Sim {
    /// A kind-like cluster with its system pods up, and a `test` namespace.
    pub async fn new(seed: u64) -> Sim {
        Self::with_options(seed, |o| o).await
    }

    pub async fn with_options(seed: u64, f: impl FnOnce(Options) -> Options) -> Sim {
        let clock = ManualClock::at("2026-01-01T00:00:00Z".parse().unwrap());
        let store = Arc::new(Store::new(seed, Arc::new(clock.clone())));
        controllers::bootstrap(&store, &Topology::default());
        let handle = controllers::start(store.clone(), f(Options::manual(clock.clone())));
        let sim = Sim {
            store,
            clock,
            handle,
        };
        sim.advance(30).await;
        sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test"}}))
            .await;
        sim.advance(1).await;
        sim
    }

    /// Creates an object through admission, as the API server does.
    pub async fn create(&self, mut obj: Value) -> Value {
        let (rtype, ns) = self.rtype_of(&obj);
        admit(&self.store, &rtype, Operation::Create, &mut obj, None)
            .unwrap_or_else(|e| panic!("admission refused: {e}"));
        let created = self.store.create(&rtype.key(), &ns, obj).unwrap();
        self.handle.settle().await;
        created
    }

    /// Changes an object through admission (`f` edits the current object).
    pub async fn update(
        &self,
        group: &str,
        plural: &str,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Value {
        let k = key(group, plural);
        let old = self.store.get(&k, ns, name).unwrap();
        let mut new = old.clone();
        f(&mut new);
        let rtype = self.store.catalogue().by_key(&k).unwrap().clone();
        admit(&self.store, &rtype, Operation::Update, &mut new, Some(&old))
            .unwrap_or_else(|e| panic!("admission refused: {e}"));
        let updated = self.store.update(&k, ns, name, new).unwrap();
        self.handle.settle().await;
        updated
    }

    fn rtype_of(&self, obj: &Value) -> (aiopslab_sim::resources::ResourceType, String) {
        let api = obj["apiVersion"].as_str().unwrap();
        let kind = obj["kind"].as_str().unwrap();
        let rtype = self.store.catalogue().by_kind(api, kind).unwrap().clone();
        let ns = if rtype.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("test")
                .to_string()
        } else {
            String::new()
        };
        (rtype, ns)
    }

    /// Creates a namespaced object in `test` unless it names another namespace.
    pub async fn apply(&self, mut obj: Value) -> Value {
        if obj["metadata"]["namespace"].is_null() {
            obj["metadata"]["namespace"] = json!("test");
        }
        self.create(obj).await
    }

    /// Moves the manual clock forward, firing every timer on the way.
    pub async fn advance(&self, secs: i64) {
        self.handle.advance(SignedDuration::from_secs(secs)).await;
    }

    /// Moves the manual clock forward by milliseconds.
    pub async fn advance_ms(&self, ms: i64) {
        self.handle.advance(SignedDuration::from_millis(ms)).await;
    }

    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.store.get(&key(group, plural), ns, name).ok()
    }

    pub fn list(&self, group: &str, plural: &str, ns: &str) -> Vec<Value> {
        self.store
            .list(&key(group, plural), Some(ns))
            .0
            .iter()
            .map(|v| (**v).clone())
            .collect()
    }

    /// Pods in `ns` matching a label selector (`app=web`).
    pub fn pods(&self, ns: &str, selector: &str) -> Vec<Value> {
        let sel = LabelSelector::parse(selector).unwrap();
        self.list("", "pods", ns)
            .into_iter()
            .filter(|p| sel.matches_object(p))
            .collect()
    }

    /// Events about the object `name` in `ns`: (reason, message, count).
    pub fn events(&self, ns: &str, name: &str) -> Vec<(String, String, i64)> {
        self.list("", "events", ns)
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .map(|e| {
                (
                    e["reason"].as_str().unwrap_or_default().to_string(),
                    e["message"].as_str().unwrap_or_default().to_string(),
                    e["count"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    }
}

/// A Deployment of `replicas` pods of `image` labelled `app=<name>`.
pub fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 80, "name": "http"}]}]},
            },
        },
    })
}

/// The pod's `kubectl get pods` STATUS as the usual reasons go.
pub fn pod_state(pod: &Value) -> String {
    let cs = &pod["status"]["containerStatuses"][0];
    if let Some(r) = cs["state"]["waiting"]["reason"].as_str() {
        return r.to_string();
    }
    if let Some(r) = cs["state"]["terminated"]["reason"].as_str() {
        return r.to_string();
    }
    if cs["state"]["running"].is_object() {
        return "Running".into();
    }
    pod["status"]["phase"].as_str().unwrap_or("").to_string()
}
