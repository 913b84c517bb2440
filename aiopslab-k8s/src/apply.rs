//! Server-side apply of manifests, with kinds resolved by (cached) API discovery.
//!
//! Objects are applied in [`crate::manifest::apply_rank`] order with field manager
//! `aiopslab` and `force`, so applying the same manifests again is a no-op and takes over
//! fields another manager set. Before anything is applied, every object is checked: its kind
//! must be served (or defined by a CRD in the same batch) and a namespace in the manifest
//! must agree with the target namespace. CRDs of the batch are waited for (`Established`)
//! before the objects that use them.
//!
//! ```no_run
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> aiopslab_k8s::Result<()> {
//! use aiopslab_k8s::ApplyOptions;
//! let applied = cluster
//!     .apply_path("metadata/hotel-reservation/manifests".as_ref(), &ApplyOptions::into_namespace("test-hotel-reservation"))
//!     .await?;
//! println!("{} objects applied", applied.len());
//! # Ok(()) }
//! ```

use crate::connect::{Cluster, FIELD_MANAGER};
use crate::error::{K8sError, Result};
use crate::manifest::{self, ManifestObject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Discovery, Scope};
use kube::runtime::{conditions, wait::await_condition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How to apply manifests.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The namespace of namespaced objects that do not name one (like `kubectl apply -n`);
    /// `None`: the cluster's default namespace.
    pub namespace: Option<String>,
    /// Create `namespace` first when it does not exist.
    pub create_namespace: bool,
    /// Extra labels for every object (the run label is added when the cluster has a run id).
    pub labels: BTreeMap<String, String>,
    /// How long to wait for CRDs of the batch to be established.
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            namespace: None,
            create_namespace: false,
            labels: BTreeMap::new(),
            crd_timeout: Duration::from_secs(30),
        }
    }
}

impl ApplyOptions {
    /// Applies namespaced objects into `namespace` (created when missing).
    pub fn into_namespace(namespace: impl Into<String>) -> Self {
        ApplyOptions {
            namespace: Some(namespace.into()),
            create_namespace: true,
            ..ApplyOptions::default()
        }
    }
}

/// One object that was applied (or deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedObject {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// The namespace, for namespaced objects.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl std::fmt::Display for AppliedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Groups every Kubernetes cluster serves; a kind missing there is misspelt, not a missing CRD.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "events.k8s.io",
];

/// A resolved object ready to apply.
struct Planned {
    source: ManifestObject,
    resource: ApiResource,
    namespace: Option<String>,
}

impl Cluster {
    /// The API discovery of the cluster, run once and cached (aggregated discovery when the
    /// server offers it).
    pub async fn discovery(&self) -> Result<Arc<Discovery>> {
        let mut cached = self.discovery.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let fresh = Arc::new(self.run_discovery().await?);
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Runs discovery again (after CRDs were installed) and caches the result.
    pub async fn refresh_discovery(&self) -> Result<Arc<Discovery>> {
        let fresh = Arc::new(self.run_discovery().await?);
        *self.discovery.lock().await = Some(fresh.clone());
        Ok(fresh)
    }

    async fn run_discovery(&self) -> Result<Discovery> {
        let aggregated = self
            .call(
                "discover the cluster's APIs",
                Discovery::new(self.client()).run_aggregated(),
            )
            .await;
        match aggregated {
            Ok(d) => Ok(d),
            Err(e) => {
                tracing::debug!(error = %e, "aggregated discovery failed; using legacy discovery");
                self.call(
                    "discover the cluster's APIs",
                    Discovery::new(self.client()).run(),
                )
                .await
            }
        }
    }

    /// Resolves a kind to its API resource (plural, scope), refreshing the discovery cache
    /// once when the kind is unknown. `None` when the cluster does not serve it.
    pub async fn resolve_kind(
        &self,
        gvk: &GroupVersionKind,
    ) -> Result<Option<(ApiResource, ApiCapabilities)>> {
        if let Some(found) = self.discovery().await?.resolve_gvk(gvk) {
            return Ok(Some(found));
        }
        Ok(self.refresh_discovery().await?.resolve_gvk(gvk))
    }

    /// A dynamic API for a resolved resource in `namespace` (`None`: cluster-wide).
    pub fn dynamic_api(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client(), ns, resource),
            None => Api::all_with(self.client(), resource),
        }
    }

    /// Reads and applies a manifest file or directory (see [`manifest::read_manifests`]).
    pub async fn apply_path(
        &self,
        path: &Path,
        options: &ApplyOptions,
    ) -> Result<Vec<AppliedObject>> {
        let objects = manifest::read_manifests(path)?;
        self.apply_objects(objects, options).await
    }

    /// Parses and applies a multi-document YAML text; `source` names it in errors.
    pub async fn apply_yaml(
        &self,
        source: &str,
        text: &str,
        options: &ApplyOptions,
    ) -> Result<Vec<AppliedObject>> {
        let objects = manifest::parse_manifests(source, text)?;
        self.apply_objects(objects, options).await
    }

    /// Applies objects in apply order. Every object is checked before the first is sent.
    pub async fn apply_objects(
        &self,
        mut objects: Vec<ManifestObject>,
        options: &ApplyOptions,
    ) -> Result<Vec<AppliedObject>> {
        manifest::sort_for_apply(&mut objects);
        let target_ns = options
            .namespace
            .clone()
            .unwrap_or_else(|| self.default_namespace().to_string());
        if options.create_namespace && options.namespace.is_some() {
            self.ensure_namespace(&target_ns).await?;
        }
        let mut labels = self.run_labels();
        labels.extend(options.labels.clone());

        // Check everything first; kinds defined by CRDs of this batch resolve after them.
        let defined_here: Vec<(String, String)> = objects
            .iter()
            .filter(|o| o.gvk.kind == "CustomResourceDefinition")
            .map(|o| {
                let spec = &o.object.data["spec"];
                (
                    spec["group"].as_str().unwrap_or_default().to_string(),
                    spec["names"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        for o in &objects {
            self.check_namespace(o, options)?;
            let later = defined_here
                .iter()
                .any(|(g, k)| *g == o.gvk.group && *k == o.gvk.kind);
            if !later && self.resolve_kind(&o.gvk).await?.is_none() {
                return Err(self.unknown_kind(o).await);
            }
        }

        let mut applied = Vec::new();
        let mut crds = Vec::new();
        for o in objects {
            if o.gvk.kind != "CustomResourceDefinition" && !crds.is_empty() {
                self.wait_crds(&std::mem::take(&mut crds), options.crd_timeout)
                    .await?;
            }
            let planned = self.plan(o, &target_ns).await?;
            let done = self.apply_one(planned, &labels).await?;
            if done.kind == "CustomResourceDefinition" {
                crds.push(done.name.clone());
            }
            applied.push(done);
        }
        if !crds.is_empty() {
            self.wait_crds(&crds, options.crd_timeout).await?;
        }
        Ok(applied)
    }

    /// Deletes the objects of manifests (like `kubectl delete -f`), in reverse apply order;
    /// objects that are gone already are skipped. Returns what was deleted. Does not wait
    /// for finalizers.
    pub async fn delete_objects(
        &self,
        mut objects: Vec<ManifestObject>,
        options: &ApplyOptions,
    ) -> Result<Vec<AppliedObject>> {
        manifest::sort_for_apply(&mut objects);
        objects.reverse();
        let target_ns = options
            .namespace
            .clone()
            .unwrap_or_else(|| self.default_namespace().to_string());
        let mut deleted = Vec::new();
        for o in objects {
            self.check_namespace(&o, options)?;
            let Some((resource, caps)) = self.resolve_kind(&o.gvk).await? else {
                continue; // Its CRD is gone: so is the object.
            };
            let namespace = (caps.scope == Scope::Namespaced)
                .then(|| o.namespace().unwrap_or(&target_ns).to_string());
            let api = self.dynamic_api(&resource, namespace.as_deref());
            let name = o.name().to_string();
            let result = self
                .call(
                    format!("delete {}", o.location()),
                    api.delete(&name, &DeleteParams::background()),
                )
                .await;
            match result {
                Ok(_) => deleted.push(AppliedObject {
                    api_version: o.api_version(),
                    kind: o.gvk.kind.clone(),
                    namespace,
                    name,
                }),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    fn check_namespace(&self, o: &ManifestObject, options: &ApplyOptions) -> Result<()> {
        if let (Some(own), Some(target)) = (o.namespace(), options.namespace.as_deref())
            && own != target
        {
            return Err(K8sError::Manifest {
                location: o.location(),
                message: format!(
                    "the manifest puts it in namespace {own:?} but it is being applied into {target:?}; remove metadata.namespace from the manifest or apply it into {own:?}"
                ),
            });
        }
        Ok(())
    }

    async fn plan(&self, o: ManifestObject, target_ns: &str) -> Result<Planned> {
        let Some((resource, caps)) = self.resolve_kind(&o.gvk).await? else {
            return Err(self.unknown_kind(&o).await);
        };
        let namespace = (caps.scope == Scope::Namespaced)
            .then(|| o.namespace().unwrap_or(target_ns).to_string());
        Ok(Planned {
            source: o,
            resource,
            namespace,
        })
    }

    async fn apply_one(
        &self,
        planned: Planned,
        labels: &BTreeMap<String, String>,
    ) -> Result<AppliedObject> {
        let Planned {
            source,
            resource,
            namespace,
        } = planned;
        let mut obj = source.object.clone();
        obj.metadata.namespace = namespace.clone();
        if !labels.is_empty() {
            obj.metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(labels.clone());
        }
        let name = source.name().to_string();
        let api = self.dynamic_api(&resource, namespace.as_deref());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let result = tokio::time::timeout(
            self.request_timeout(),
            api.patch(&name, &params, &Patch::Apply(&obj)),
        )
        .await;
        match result {
            Ok(Ok(_)) => Ok(AppliedObject {
                api_version: source.api_version(),
                kind: source.gvk.kind.clone(),
                namespace,
                name,
            }),
            Ok(Err(kube::Error::Api(status))) => Err(K8sError::Apply {
                location: source.location(),
                code: status.code,
                message: status.message.clone(),
            }),
            Ok(Err(e)) => Err(K8sError::api(format!("apply {}", source.location()), e)),
            Err(_) => Err(K8sError::Timeout {
                action: format!("apply {}", source.location()),
                server: self.server_url().to_string(),
                secs: self.request_timeout().as_secs(),
            }),
        }
    }

    async fn wait_crds(&self, names: &[String], timeout: Duration) -> Result<()> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client());
        for name in names {
            let waited = tokio::time::timeout(
                timeout,
                await_condition(api.clone(), name, conditions::is_crd_established()),
            )
            .await;
            match waited {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(K8sError::Watch {
                        action: format!("wait for CRD {name} to be established"),
                        code: 0,
                        message: e.to_string(),
                    });
                }
                Err(_) => {
                    return Err(K8sError::WaitTimeout {
                        what: format!("CRD {name} to be established"),
                        secs: timeout.as_secs(),
                        waiting_for: vec![format!(
                            "CustomResourceDefinition {name}: see its status.conditions"
                        )],
                    });
                }
            }
        }
        self.refresh_discovery().await?;
        Ok(())
    }

    /// The error for a kind the cluster does not serve, saying what is missing.
    async fn unknown_kind(&self, o: &ManifestObject) -> K8sError {
        let group = o.gvk.group.as_str();
        let served: Option<Vec<String>> = match self.discovery().await {
            Ok(d) => d
                .get(group)
                .map(|g| g.versions().map(str::to_string).collect()),
            Err(_) => None,
        };
        let hint = if BUILTIN_GROUPS.contains(&group) {
            let versions = served.map(|v| v.join(", ")).unwrap_or_default();
            format!(
                "{kind} is not a kind of the built-in group {g:?} at version {v} (it serves versions: {versions}); check the spelling of kind and apiVersion",
                kind = o.gvk.kind,
                g = group,
                v = o.gvk.version,
            )
        } else if let Some(versions) = served {
            format!(
                "the group {group} is served (versions: {}) but not kind {} at version {}; the CustomResourceDefinition for it may be missing or of another version: check `kubectl get crd | grep {group}`",
                versions.join(", "),
                o.gvk.kind,
                o.gvk.version
            )
        } else {
            format!(
                "no CustomResourceDefinition of group {group} is installed: install the CRD that defines {} (the operator or chart that provides {group}) before applying this",
                o.gvk.kind
            )
        };
        K8sError::UnknownKind {
            location: o.location(),
            api_version: o.api_version(),
            kind: o.gvk.kind.clone(),
            hint,
        }
    }
}
