//! Defaults and validation applied to every write, as the real API server's defaulting,
//! admission plugins and validation do.
//!
//! [`admit`] is called by the HTTP layer (and by the controllers for the objects they create)
//! before an object is stored. It fills in what the real server fills in, so that
//! `kubectl get -o yaml` looks like a real cluster's output (pod defaults, the service account
//! token volume, default tolerations, ClusterIP and NodePort allocation, namespace finalizers,
//! ...), and refuses what the real server refuses, with the real messages (a Deployment whose
//! selector does not match its template, a Pod spec change, a ClusterIP change, content in a
//! terminating namespace, ...).
//!
//! ```
//! use aiopslab_sim::admission::{admit, Operation};
//! use aiopslab_sim::{clock::WallClock, store::Store};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! let store = Store::new(1, Arc::new(WallClock));
//! aiopslab_sim::controllers::bootstrap(&store, &Default::default());
//! let rtype = store.catalogue().by_kind("apps/v1", "Deployment").unwrap().clone();
//! let mut bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "geo", "namespace": "default"},
//!     "spec": {"selector": {"matchLabels": {"app": "geo"}},
//!              "template": {"metadata": {"labels": {"app": "other"}},
//!                           "spec": {"containers": [{"name": "geo", "image": "geo:1"}]}}}});
//! let err = admit(&store, &rtype, Operation::Create, &mut bad, None).unwrap_err();
//! assert_eq!(err.code, 422);
//! assert!(err.to_string().contains("`selector` does not match template `labels`"));
//! ```

mod field;
mod objects;
mod pod;
mod service;
mod workloads;

pub use field::{FieldError, FieldErrorKind};

use crate::controllers::util::{is_deleting, sd};
use crate::resources::ResourceType;
use crate::store::Store;
use serde_json::{Value, json};

pub(crate) use objects::{base64_decode, base64_encode};

/// The kind of write being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A new object (`POST`).
    Create,
    /// A change to an existing object (`PUT` or `PATCH`).
    Update,
}

/// Why a write was refused; carries what the HTTP layer needs for the `Status` response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AdmissionError {
    /// HTTP status code (422, 403, 404, 400, 409).
    pub code: u16,
    /// The `Status.reason` (`Invalid`, `Forbidden`, `NotFound`, `BadRequest`, `AlreadyExists`).
    pub reason: String,
    /// The `Status.message`, worded as the real API server words it.
    pub message: String,
    /// The `Status.details` (`name`, `group`, `kind`, `causes`), when the real server sends them.
    pub details: Option<Box<Value>>,
}

impl AdmissionError {
    /// 422 Invalid with field causes: `Deployment.apps "geo" is invalid: spec.selector: ...`.
    pub fn invalid(rtype: &ResourceType, name: &str, errors: Vec<FieldError>) -> Self {
        let qualified = if rtype.group.is_empty() {
            rtype.kind.clone()
        } else {
            format!("{}.{}", rtype.kind, rtype.group)
        };
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let joined = if texts.len() == 1 {
            texts[0].clone()
        } else {
            format!("[{}]", texts.join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
            .collect();
        AdmissionError {
            code: 422,
            reason: "Invalid".into(),
            message: format!("{qualified} {name:?} is invalid: {joined}"),
            details: Some(Box::new(json!({
                "name": name, "group": rtype.group, "kind": rtype.kind, "causes": causes,
            }))),
        }
    }

    /// 403 Forbidden: `pods "x" is forbidden: <why>`.
    pub fn forbidden(rtype: &ResourceType, name: &str, why: &str) -> Self {
        AdmissionError {
            code: 403,
            reason: "Forbidden".into(),
            message: format!("{} {name:?} is forbidden: {why}", qualified_plural(rtype)),
            details: Some(Box::new(
                json!({"name": name, "group": rtype.group, "kind": rtype.plural}),
            )),
        }
    }

    /// 404 NotFound: `namespaces "x" not found`.
    pub fn not_found(resource: &str, name: &str) -> Self {
        AdmissionError {
            code: 404,
            reason: "NotFound".into(),
            message: format!("{resource} {name:?} not found"),
            details: Some(Box::new(json!({"name": name, "kind": resource}))),
        }
    }

    /// 400 BadRequest with a plain message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        AdmissionError {
            code: 400,
            reason: "BadRequest".into(),
            message: message.into(),
            details: None,
        }
    }

    /// The `meta.k8s.io/v1` `Status` object the API server answers with.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = (**d).clone();
        }
        status
    }
}

/// `pods`, `deployments.apps`: the resource as Forbidden messages name it.
fn qualified_plural(rtype: &ResourceType) -> String {
    if rtype.group.is_empty() {
        rtype.plural.clone()
    } else {
        format!("{}.{}", rtype.plural, rtype.group)
    }
}

/// Defaults and validates `obj` before it is stored.
///
/// `rtype` is the kind being written, `old` the stored object for an update; for namespaced
/// kinds `obj.metadata.namespace` must be the request's namespace. On success `obj`
/// carries the defaults the real API server adds (and, on create, a new `metadata.uid` that the
/// store keeps). Writes to custom resources and kinds without rules pass through unchanged
/// apart from the namespace checks.
pub fn admit(
    store: &Store,
    rtype: &ResourceType,
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<(), AdmissionError> {
    if !obj.is_object() {
        return Err(AdmissionError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let name = sd(obj, "/metadata/name").to_string();
    if op == Operation::Create {
        if rtype.namespaced {
            namespace_lifecycle(store, rtype, obj, &name)?;
        }
        // The server owns the uid; drawing it here lets defaulting use it (Job selectors).
        obj["metadata"]["uid"] = json!(store.new_uid());
    }
    let mut errors = Vec::new();
    if op == Operation::Create && !rtype.custom {
        field::validate_name(rtype, obj, &mut errors);
    }
    match (rtype.group.as_str(), rtype.kind.as_str()) {
        ("", "Pod") => pod::admit_pod(store, op, obj, old, &mut errors)?,
        ("", "Service") => service::admit_service(store, op, obj, old, &mut errors),
        ("", "Namespace") => objects::namespace(obj),
        ("", "Secret") => objects::secret(obj, &mut errors),
        ("", "PersistentVolumeClaim") => objects::pvc(store, op, obj, old, &mut errors),
        ("", "PersistentVolume") => objects::pv(op, obj),
        ("", "ServiceAccount") | ("", "ConfigMap") => {}
        ("apps", "Deployment") => workloads::deployment(obj, old, &mut errors),
        ("apps", "ReplicaSet") => workloads::replicaset(obj, old, &mut errors),
        ("apps", "StatefulSet") => workloads::statefulset(obj, old, &mut errors),
        ("apps", "DaemonSet") => workloads::daemonset(obj, old, &mut errors),
        ("batch", "Job") => workloads::job(op, obj, old, &mut errors),
        ("batch", "CronJob") => workloads::cronjob(obj, &mut errors),
        ("autoscaling", "HorizontalPodAutoscaler") => objects::horizontal_pod_autoscaler(obj),
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        let shown = if name.is_empty() {
            sd(obj, "/metadata/generateName").to_string()
        } else {
            name
        };
        Err(AdmissionError::invalid(rtype, &shown, errors))
    }
}

/// The NamespaceLifecycle plugin: no content in a namespace that is missing or terminating.
fn namespace_lifecycle(
    store: &Store,
    rtype: &ResourceType,
    obj: &Value,
    name: &str,
) -> Result<(), AdmissionError> {
    let ns = sd(obj, "/metadata/namespace");
    if ns.is_empty() {
        return Ok(());
    }
    let namespaces = crate::controllers::util::keys::namespaces();
    match store.get_arc(&namespaces, "", ns) {
        Err(_) => Err(AdmissionError::not_found("namespaces", ns)),
        Ok(namespace) if is_deleting(&namespace) => Err(AdmissionError::forbidden(
            rtype,
            name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        )),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
