//! Typed object helpers over kube's `Api`: get, create, patch, replace, delete with errors
//! that name the object, plus the workload verbs `kubectl rollout restart` and
//! `kubectl scale`.
//!
//! ```no_run
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> aiopslab_k8s::Result<()> {
//! use k8s_openapi::api::core::v1::Service;
//! let svc: Service = cluster.get("test-hotel-reservation", "geo").await?;
//! cluster
//!     .merge_patch::<Service>("test-hotel-reservation", "geo", &serde_json::json!({"metadata": {"labels": {"x": "y"}}}))
//!     .await?;
//! # let _ = svc; Ok(()) }
//! ```

use crate::connect::{Cluster, FIELD_MANAGER};
use crate::error::Result;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;

/// The workload kinds [`Cluster::scale`] handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

fn kind_of<K: Resource<DynamicType = ()>>() -> String {
    K::kind(&()).to_lowercase()
}

impl Cluster {
    /// A typed API for namespaced objects of kind `K` in `namespace`.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client(), namespace)
    }

    /// A typed API for cluster-scoped objects (or all namespaces) of kind `K`.
    pub fn api_all<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = ()>,
    {
        Api::all(self.client())
    }

    /// Gets a namespaced object.
    pub async fn get<K>(&self, namespace: &str, name: &str) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.call(
            format!("get {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace).get(name),
        )
        .await
    }

    /// Gets a namespaced object, or `None` when it does not exist.
    pub async fn get_opt<K>(&self, namespace: &str, name: &str) -> Result<Option<K>>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.call(
            format!("get {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace).get_opt(name),
        )
        .await
    }

    /// Creates a namespaced object.
    pub async fn create<K>(&self, namespace: &str, object: &K) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        self.call(
            format!("create {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace)
                .create(&PostParams::default(), object),
        )
        .await
    }

    /// Applies a JSON merge patch (RFC 7386) to a namespaced object.
    pub async fn merge_patch<K>(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.call(
            format!("patch {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace)
                .patch(name, &PatchParams::default(), &Patch::Merge(patch)),
        )
        .await
    }

    /// Applies a JSON patch (RFC 6902) to a namespaced object.
    pub async fn json_patch<K>(
        &self,
        namespace: &str,
        name: &str,
        patch: json_patch::Patch,
    ) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.call(
            format!("patch {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace).patch(
                name,
                &PatchParams::default(),
                &Patch::<()>::Json(patch),
            ),
        )
        .await
    }

    /// Server-side applies a typed object (field manager `aiopslab`, forced).
    pub async fn apply<K>(&self, namespace: &str, object: &K) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        self.call(
            format!("apply {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace).patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            ),
        )
        .await
    }

    /// Replaces a namespaced object (`kubectl replace`): `object` must carry the
    /// resourceVersion it was read with, or the server's conflict error comes back.
    pub async fn replace<K>(&self, namespace: &str, name: &str, object: &K) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        self.call(
            format!("replace {} {namespace}/{name}", kind_of::<K>()),
            self.api::<K>(namespace)
                .replace(name, &PostParams::default(), object),
        )
        .await
    }

    /// Deletes a namespaced object. Returns `false` when it did not exist. Does not wait.
    pub async fn delete<K>(&self, namespace: &str, name: &str) -> Result<bool>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let result = self
            .call(
                format!("delete {} {namespace}/{name}", kind_of::<K>()),
                self.api::<K>(namespace)
                    .delete(name, &DeleteParams::background()),
            )
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `kubectl rollout restart deployment NAME`: stamps the pod template with the
    /// `kubectl.kubernetes.io/restartedAt` annotation, so the Deployment rolls out new pods.
    /// Returns the updated Deployment (its new `metadata.generation`).
    pub async fn rollout_restart(&self, namespace: &str, name: &str) -> Result<Deployment> {
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": now
        }}}}});
        self.call(
            format!("restart deployment {namespace}/{name}"),
            self.api::<Deployment>(namespace).patch(
                name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            ),
        )
        .await
    }

    /// `kubectl scale --replicas=N`: sets the replicas through the `scale` subresource.
    pub async fn scale(
        &self,
        kind: ScaleKind,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<()> {
        let patch = json!({"spec": {"replicas": replicas}});
        let params = PatchParams::default();
        match kind {
            ScaleKind::Deployment => {
                self.call(
                    format!("scale deployment {namespace}/{name} to {replicas}"),
                    self.api::<Deployment>(namespace).patch_scale(
                        name,
                        &params,
                        &Patch::Merge(&patch),
                    ),
                )
                .await?;
            }
            ScaleKind::StatefulSet => {
                self.call(
                    format!("scale statefulset {namespace}/{name} to {replicas}"),
                    self.api::<StatefulSet>(namespace).patch_scale(
                        name,
                        &params,
                        &Patch::Merge(&patch),
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }
}
