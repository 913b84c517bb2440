//! Deploying an application into a virtual cluster as AIOpsLab does.
//!
//! [`deploy`] creates the namespace, the objects AIOpsLab makes before the deploy
//! (create-or-replace: the MongoDB script ConfigMaps of Hotel Reservation, the `mongodb-tls`
//! Secret of Social Network), then the manifests in `aiopslab-metadata`'s order: file by file
//! as `kubectl apply -Rf` walks them (with kubectl's `last-applied-configuration` annotation),
//! or by kind across files as `helm install` orders them. Every object goes through admission,
//! as it would through the API server. [`wait_ready`] then drives the controllers until every
//! Deployment of the namespace is available, as AIOpsLab's `wait_for_ready` waits.

use crate::admission::{self, Operation};
use crate::controllers::Handle;
use crate::controllers::util::{arr, int, keys, sd};
use crate::patch::{Gvk, record_update};
use crate::resources::split_api_version;
use crate::store::{Store, StoreError};
use jiff::SignedDuration;
use serde_json::{Value, json};

/// Why a deploy failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeployError {
    /// No such application in `aiopslab-metadata`.
    #[error("unknown application {0:?}: expected hotel-reservation or social-network")]
    UnknownApp(String),
    /// A manifest file does not parse.
    #[error("{file}: {message}")]
    Parse {
        /// The file, relative to the app folder.
        file: String,
        /// What the parser said.
        message: String,
    },
    /// The API server would have rejected an object.
    #[error("{kind} {name:?} from {file} was rejected: {message}")]
    Rejected {
        /// The object's kind.
        kind: String,
        /// Its name.
        name: String,
        /// The file it comes from.
        file: String,
        /// The admission or store error.
        message: String,
    },
    /// The app did not become ready in time.
    #[error("{namespace} is not ready after {waited}: {detail}")]
    NotReady {
        /// The namespace.
        namespace: String,
        /// How long it waited (cluster time).
        waited: String,
        /// Which workloads are not ready and why.
        detail: String,
    },
}

/// What [`deploy`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The app key.
    pub app: String,
    /// The namespace.
    pub namespace: String,
    /// `(kind, name)` of every object, in creation order.
    pub objects: Vec<(String, String)>,
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn parse_docs(file: &str, text: &str) -> Result<Vec<Value>, DeployError> {
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            DeployError::Parse {
                file: file.to_string(),
                message: e.to_string(),
            }
        })?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|d| without_nulls(&d))
        .collect())
}

/// Creates (or, with `replace`, replaces) one object through admission.
fn write(
    store: &Store,
    namespace: &str,
    mut obj: Value,
    file: &str,
    manager: &str,
    last_applied: bool,
    replace: bool,
) -> Result<(String, String), DeployError> {
    let api_version = sd(&obj, "/apiVersion").to_string();
    let kind = sd(&obj, "/kind").to_string();
    let name = sd(&obj, "/metadata/name").to_string();
    let rejected = |message: String| DeployError::Rejected {
        kind: kind.clone(),
        name: name.clone(),
        file: file.to_string(),
        message,
    };
    let rtype = store
        .catalogue()
        .by_kind(&api_version, &kind)
        .cloned()
        .ok_or_else(|| rejected(format!("the server does not serve {api_version} {kind}")))?;
    if let Some(m) = obj.as_object_mut() {
        m.remove("status");
    }
    if rtype.namespaced {
        obj["metadata"]["namespace"] = json!(namespace);
    }
    if let Some(meta) = obj["metadata"].as_object_mut() {
        meta.remove("creationTimestamp");
    }
    if last_applied {
        let applied = serde_json::to_string(&obj).unwrap_or_default();
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!(format!("{applied}\n"));
    }
    let ns = if rtype.namespaced { namespace } else { "" };
    let existing = store.get(&rtype.key(), ns, &name).ok();
    if existing.is_some() && !replace {
        return Ok((kind, name));
    }
    let op = if existing.is_some() {
        Operation::Update
    } else {
        Operation::Create
    };
    if let Some(old) = &existing {
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        obj["metadata"]["uid"] = old["metadata"]["uid"].clone();
    }
    admission::admit(store, &rtype, op, &mut obj, existing.as_ref())
        .map_err(|e| rejected(e.to_string()))?;
    let (group, version) = split_api_version(&api_version);
    let gvk = Gvk::new(group, version, &kind);
    record_update(
        existing.as_ref(),
        &mut obj,
        &gvk,
        manager,
        &store.now_rfc3339(),
    );
    let result = match existing {
        Some(_) => store.update(&rtype.key(), ns, &name, obj),
        None => store.create(&rtype.key(), ns, obj),
    };
    match result {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok((kind, name)),
        Err(e) => Err(rejected(e.to_string())),
    }
}

/// Deploys `app` (key, name or namespace) into `namespace` (the app's own when `None`).
///
/// Objects that already exist are left as they are (apply is idempotent); the pre-deploy
/// objects are replaced, as AIOpsLab's create-or-replace does.
pub fn deploy(store: &Store, app: &str, namespace: Option<&str>) -> Result<Deployed, DeployError> {
    let meta = aiopslab_metadata::app(app).ok_or_else(|| DeployError::UnknownApp(app.into()))?;
    let ns = namespace.unwrap_or(meta.namespace).to_string();
    let helm = meta.method == "helm";
    let manager = if helm {
        "helm"
    } else {
        "kubectl-client-side-apply"
    };
    let mut objects = Vec::new();
    let namespace_obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    if store.get(&keys::namespaces(), "", &ns).is_err() {
        objects.push(write(
            store,
            &ns,
            namespace_obj,
            "(namespace)",
            "kubectl-create",
            false,
            false,
        )?);
    }
    for f in meta.pre_deploy {
        for doc in parse_docs(f.path, f.text)? {
            objects.push(write(
                store,
                &ns,
                doc,
                f.path,
                "kubectl-create",
                false,
                true,
            )?);
        }
    }
    let mut docs: Vec<(&str, Value)> = Vec::new();
    for f in meta.manifests {
        for doc in parse_docs(f.path, f.text)? {
            docs.push((f.path, doc));
        }
    }
    if helm && !meta.kind_order.is_empty() {
        let rank = |kind: &str| {
            meta.kind_order
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(meta.kind_order.len())
        };
        docs.sort_by_key(|(_, d)| rank(sd(d, "/kind")));
    }
    for (file, doc) in docs {
        objects.push(write(store, &ns, doc, file, manager, !helm, false)?);
    }
    if helm {
        objects.push(write(
            store,
            &ns,
            helm_release(meta, &ns, store),
            "(helm release)",
            "helm",
            false,
            false,
        )?);
    }
    Ok(Deployed {
        app: meta.key.to_string(),
        namespace: ns,
        objects,
    })
}

/// The Secret in which Helm records release revision 1. Helm's payload is its gzipped release
/// JSON; here the JSON (chart, status, namespace) is stored base64-encoded without gzip.
fn helm_release(meta: &aiopslab_metadata::App, ns: &str, store: &Store) -> Value {
    use base64::Engine;
    let release = meta
        .app_json
        .split("\"release_name\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or(meta.key)
        .to_string();
    let now = store.now_rfc3339();
    let payload = json!({
        "name": release,
        "namespace": ns,
        "version": 1,
        "info": {"first_deployed": now, "last_deployed": now, "status": "deployed",
                 "description": "Install complete"},
        "chart": {"metadata": {"name": release, "version": "0.1.0", "appVersion": "1.16.0",
                               "apiVersion": "v2", "type": "application"}},
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64.encode(payload.to_string());
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{release}.v1"),
            "labels": {"name": release, "owner": "helm", "status": "deployed", "version": "1"},
        },
        "data": {"release": b64.encode(inner)},
    })
}

/// Why the workloads of `namespace` are not ready yet, or `None` when they all are.
pub fn not_ready(store: &Store, namespace: &str) -> Option<String> {
    let (deps, _) = store.list(&keys::deployments(), Some(namespace));
    let mut waiting = Vec::new();
    for d in deps.iter() {
        let want = int(d, "/spec/replicas").unwrap_or(1);
        let ready = int(d, "/status/readyReplicas").unwrap_or(0);
        let updated = int(d, "/status/updatedReplicas").unwrap_or(0);
        if ready < want || updated < want {
            waiting.push(format!(
                "deployment {} {ready}/{want} ready",
                sd(d, "/metadata/name")
            ));
        }
    }
    let (pods, _) = store.list(&keys::pods(), Some(namespace));
    for p in pods.iter() {
        for st in arr(p, "/status/containerStatuses") {
            if let Some(reason) = st.pointer("/state/waiting/reason").and_then(Value::as_str) {
                waiting.push(format!(
                    "pod {} container {} is waiting: {reason}",
                    sd(p, "/metadata/name"),
                    sd(st, "/name")
                ));
            }
        }
    }
    if deps.is_empty() {
        waiting.push("no deployments".into());
    }
    if waiting.is_empty() {
        None
    } else {
        Some(waiting.join("; "))
    }
}

/// Drives the controllers until every Deployment of `namespace` is ready, for at most
/// `timeout` of cluster time. With a manual clock the clock is advanced; with the wall clock
/// it waits (the controllers' time scale makes that short).
pub async fn wait_ready(
    handle: &Handle,
    store: &Store,
    namespace: &str,
    timeout: SignedDuration,
) -> Result<(), DeployError> {
    let start = store.clock().now();
    let deadline = start.checked_add(timeout).unwrap_or(start);
    loop {
        handle.settle().await;
        let status = not_ready(store, namespace);
        let Some(detail) = status else {
            return Ok(());
        };
        let now = store.clock().now();
        if now >= deadline {
            return Err(DeployError::NotReady {
                namespace: namespace.to_string(),
                waited: format!("{}s", now.duration_since(start).as_secs()),
                detail,
            });
        }
        let before = store.clock().now();
        handle.advance(SignedDuration::from_millis(500)).await;
        if store.clock().now() == before {
            // The wall clock: let real time pass.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Deploys `app` into a running cluster and waits until it is ready (AIOpsLab's 300 s limit).
pub async fn deploy_and_wait(
    cluster: &crate::cluster::VirtualCluster,
    app: &str,
) -> Result<Deployed, DeployError> {
    let deployed = deploy(cluster.store(), app, None)?;
    if let Some(handle) = cluster.controllers() {
        wait_ready(
            handle,
            cluster.store(),
            &deployed.namespace,
            SignedDuration::from_secs(300),
        )
        .await?;
    }
    Ok(deployed)
}
