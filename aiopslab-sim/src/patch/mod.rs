//! JSON patch, JSON merge patch, strategic merge patch and server-side apply.
//!
//! Pure functions over the JSON objects the store keeps; no I/O. The HTTP layer turns a `PATCH`
//! request into a [`PatchKind`] with [`PatchKind::from_request`] (which answers the 415s and
//! 422s the real server answers before looking at the object), then calls [`apply_patch`] with
//! the stored object and stores what comes back.
//!
//! ```
//! use aiopslab_sim::patch::{Gvk, PatchKind, apply_patch};
//! use serde_json::json;
//!
//! let live = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web"},
//!     "spec": {"template": {"spec": {"containers": [
//!         {"name": "web", "image": "nginx:1.25"},
//!         {"name": "sidecar", "image": "busybox"}
//!     ]}}}
//! });
//! let gvk = Gvk::new("apps", "v1", "Deployment");
//! let kind = PatchKind::from_request("application/strategic-merge-patch+json", None, None, &gvk)?;
//! let body = br#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}"#;
//! let patched = apply_patch(Some(&live), &kind, body, &gvk, "2024-05-01T10:00:00Z")?;
//! assert_eq!(patched["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26");
//! assert_eq!(patched["spec"]["template"]["spec"]["containers"][1]["name"], "sidecar");
//! # Ok::<(), aiopslab_sim::patch::PatchError>(())
//! ```
//!
//! What the caller still owns: server fields (`uid`, `resourceVersion`, `generation`, ...) must
//! be restored or checked after a JSON or merge patch, which can change anything; the result is
//! not validated against the kind's schema; and non-apply writes should be passed to
//! [`record_update`] so that server-side apply sees who owns what (that is how an apply
//! conflicts with `kubectl-client-side-apply` or `kubectl-edit`). kubectl's server-side apply
//! may first send a JSON patch that rewrites `metadata.managedFields` (its migration from
//! client-side apply); [`record_update`] keeps managed fields a request sets explicitly.

mod apply;
mod error;
mod fieldset;
mod json;
mod managed;
mod schema;
mod strategic;

pub use error::{PatchError, StatusCause};

use serde_json::Value;

/// `application/json-patch+json`: RFC 6902 JSON patch.
pub const JSON_PATCH: &str = "application/json-patch+json";
/// `application/merge-patch+json`: RFC 7396 JSON merge patch.
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// `application/strategic-merge-patch+json`: Kubernetes strategic merge patch.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// `application/apply-patch+yaml`: server-side apply (YAML or JSON body).
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// The patch types a built-in kind accepts, in the order the real server lists them.
const BUILTIN_PATCH_TYPES: &[&str] = &[JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH];
/// The patch types a custom resource accepts (no strategic merge patch).
const CUSTOM_PATCH_TYPES: &[&str] = &[JSON_PATCH, MERGE_PATCH, APPLY_PATCH];

/// Most bytes a field manager name may have.
const MAX_FIELD_MANAGER_LEN: usize = 128;

/// Group, version and kind of the object being patched, and the subresource the request is for.
///
/// ```
/// use aiopslab_sim::patch::Gvk;
/// assert_eq!(Gvk::new("", "v1", "Pod").api_version(), "v1");
/// assert_eq!(Gvk::new("apps", "v1", "Deployment").api_version(), "apps/v1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gvk<'a> {
    /// API group, `""` for the core group.
    pub group: &'a str,
    /// API version (`v1`).
    pub version: &'a str,
    /// Kind (`Deployment`).
    pub kind: &'a str,
    /// `Some("status")` for a request to the status subresource, `None` for the object itself.
    pub subresource: Option<&'a str>,
}

impl<'a> Gvk<'a> {
    /// The object itself (no subresource).
    pub const fn new(group: &'a str, version: &'a str, kind: &'a str) -> Self {
        Gvk {
            group,
            version,
            kind,
            subresource: None,
        }
    }

    /// The same kind, through a subresource (`"status"`).
    pub const fn with_subresource(self, subresource: &'a str) -> Self {
        Gvk {
            subresource: Some(subresource),
            ..self
        }
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The patch type named by a request's `Content-Type`, without the apply parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// Reads a `Content-Type` header (parameters such as `; charset=utf-8` are ignored);
    /// `None` for anything that is not a patch type.
    ///
    /// ```
    /// use aiopslab_sim::patch::PatchType;
    /// assert_eq!(
    ///     PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
    ///     Some(PatchType::Merge)
    /// );
    /// assert_eq!(PatchType::from_content_type("application/json"), None);
    /// ```
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            JSON_PATCH => Some(PatchType::Json),
            MERGE_PATCH => Some(PatchType::Merge),
            STRATEGIC_MERGE_PATCH => Some(PatchType::StrategicMerge),
            APPLY_PATCH => Some(PatchType::Apply),
            _ => None,
        }
    }

    /// The media type (`application/json-patch+json`, ...).
    pub fn media_type(self) -> &'static str {
        match self {
            PatchType::Json => JSON_PATCH,
            PatchType::Merge => MERGE_PATCH,
            PatchType::StrategicMerge => STRATEGIC_MERGE_PATCH,
            PatchType::Apply => APPLY_PATCH,
        }
    }
}

/// A patch to apply: its type, and for server-side apply the field manager and `force`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 6902 JSON patch.
    Json,
    /// RFC 7396 JSON merge patch.
    Merge,
    /// Kubernetes strategic merge patch (built-in kinds only).
    StrategicMerge,
    /// Server-side apply.
    Apply {
        /// The `fieldManager` query parameter (required).
        field_manager: String,
        /// The `force` query parameter: take over fields other managers own.
        force: bool,
    },
}

impl PatchKind {
    /// Builds the patch of a request from its `Content-Type` and its `fieldManager` and `force`
    /// query parameters, answering what the real server answers before it reads the object:
    ///
    /// - 415 for a content type that is no patch type, or a strategic merge patch for a kind
    ///   with no Go type (a custom resource), listing the types the kind accepts;
    /// - 422 for an apply without `fieldManager`, `force` on another patch type, or a field
    ///   manager longer than 128 bytes.
    ///
    /// ```
    /// use aiopslab_sim::patch::{Gvk, PatchKind};
    /// let chaos = Gvk::new("chaos-mesh.org", "v1alpha1", "PodChaos");
    /// let error = PatchKind::from_request("application/strategic-merge-patch+json", None, None, &chaos)
    ///     .unwrap_err();
    /// assert_eq!(error.code(), 415);
    /// ```
    pub fn from_request(
        content_type: &str,
        field_manager: Option<&str>,
        force: Option<bool>,
        gvk: &Gvk<'_>,
    ) -> Result<PatchKind, PatchError> {
        let accepted = accepted_patch_types(gvk.group, gvk.kind);
        let patch_type = PatchType::from_content_type(content_type)
            .filter(|patch_type| accepted.contains(&patch_type.media_type()))
            .ok_or_else(|| PatchError::unsupported_media_type(accepted))?;
        let manager = field_manager.unwrap_or_default();
        let mut causes = Vec::new();
        if patch_type == PatchType::Apply {
            if manager.is_empty() {
                causes.push(StatusCause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: is required for apply patch".into(),
                    field: "fieldManager".into(),
                });
            }
        } else if force.is_some() {
            causes.push(StatusCause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: may not be specified for non-apply patch".into(),
                field: "force".into(),
            });
        }
        if manager.len() > MAX_FIELD_MANAGER_LEN {
            causes.push(StatusCause {
                reason: "FieldValueTooLong".into(),
                message: format!("Too long: may not be more than {MAX_FIELD_MANAGER_LEN} bytes"),
                field: "fieldManager".into(),
            });
        }
        if !causes.is_empty() {
            let summary: Vec<String> = causes
                .iter()
                .map(|cause| format!("{}: {}", cause.field, cause.message))
                .collect();
            let message = if summary.len() == 1 {
                summary.join("")
            } else {
                format!("[{}]", summary.join(", "))
            };
            return Err(PatchError::Invalid {
                message: format!("PatchOptions.meta.k8s.io \"\" is invalid: {message}"),
                group: "meta.k8s.io".into(),
                kind: "PatchOptions".into(),
                name: String::new(),
                causes,
            });
        }
        Ok(match patch_type {
            PatchType::Json => PatchKind::Json,
            PatchType::Merge => PatchKind::Merge,
            PatchType::StrategicMerge => PatchKind::StrategicMerge,
            PatchType::Apply => PatchKind::Apply {
                field_manager: manager.to_string(),
                force: force.unwrap_or(false),
            },
        })
    }

    /// The patch type, without the apply parameters.
    pub fn patch_type(&self) -> PatchType {
        match self {
            PatchKind::Json => PatchType::Json,
            PatchKind::Merge => PatchType::Merge,
            PatchKind::StrategicMerge => PatchType::StrategicMerge,
            PatchKind::Apply { .. } => PatchType::Apply,
        }
    }
}

/// Whether the kind takes strategic merge patches: every built-in kind does, custom resources
/// do not (the real server answers 415 for them).
///
/// ```
/// use aiopslab_sim::patch::strategic_merge_supported;
/// assert!(strategic_merge_supported("apps", "Deployment"));
/// assert!(strategic_merge_supported("", "ConfigMap"));
/// assert!(!strategic_merge_supported("chaos-mesh.org", "NetworkChaos"));
/// ```
pub fn strategic_merge_supported(group: &str, kind: &str) -> bool {
    schema::root_type(group, kind).is_some()
}

/// The patch media types the kind accepts, in the order the real server lists them in its 415.
pub fn accepted_patch_types(group: &str, kind: &str) -> &'static [&'static str] {
    if strategic_merge_supported(group, kind) {
        BUILTIN_PATCH_TYPES
    } else {
        CUSTOM_PATCH_TYPES
    }
}

/// Applies a patch to the stored object `live` and returns the new object; `live` itself is
/// never changed.
///
/// - `live` is `None` when the object does not exist; only server-side apply accepts that (it
///   returns the object to create, with its `managedFields`); other kinds answer 400 (the HTTP
///   layer should have answered 404 already).
/// - `gvk` is the kind of the object (and the subresource of the request).
/// - `now` is the current time in RFC 3339 (`2024-05-01T10:00:00Z`), used for `managedFields`.
///
/// JSON, merge and strategic merge patches leave `managedFields` as they are; pass the result to
/// [`record_update`] to track the writer. Server-side apply updates them itself.
pub fn apply_patch(
    live: Option<&Value>,
    kind: &PatchKind,
    body: &[u8],
    gvk: &Gvk<'_>,
    now: &str,
) -> Result<Value, PatchError> {
    if let PatchKind::Apply {
        field_manager,
        force,
    } = kind
    {
        return apply::server_side_apply(live, body, gvk, field_manager, *force, now);
    }
    let Some(live) = live else {
        return Err(PatchError::bad_request(
            "there is no object to patch; only server-side apply (application/apply-patch+yaml) \
             can create one",
        ));
    };
    match kind {
        PatchKind::Json => json::apply_json_patch(live, body),
        PatchKind::Merge => json::apply_merge_patch(live, body),
        PatchKind::StrategicMerge => {
            let Some(ty) = schema::root_type(gvk.group, gvk.kind) else {
                return Err(PatchError::unsupported_media_type(CUSTOM_PATCH_TYPES));
            };
            strategic::apply_strategic_merge_patch(live, body, ty)
        }
        PatchKind::Apply { .. } => Err(PatchError::bad_request("unreachable: apply handled above")),
    }
}

/// Records in `new`'s `metadata.managedFields` what a create, update or non-apply patch by
/// `manager` changed, as the real server's field manager does: the manager's `Update` entry
/// gains the fields it added or changed, every other entry loses them, and fields that were
/// removed leave every entry.
///
/// `old` is the stored object (`None` for a create); `new` is the object about to be stored. If
/// `new` carries `managedFields` of its own they are the starting point (that is how clients edit
/// or reset them); otherwise `old`'s are. An object that was stored without `managedFields` stays
/// without them until its first server-side apply.
///
/// ```
/// use aiopslab_sim::patch::{Gvk, record_update};
/// use serde_json::json;
/// let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
///                     "metadata": {"name": "cfg"}, "data": {"a": "1"}});
/// record_update(None, &mut cm, &Gvk::new("", "v1", "ConfigMap"), "kubectl-create", "2024-05-01T10:00:00Z");
/// assert_eq!(cm["metadata"]["managedFields"][0]["manager"], "kubectl-create");
/// assert_eq!(cm["metadata"]["managedFields"][0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
/// ```
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    gvk: &Gvk<'_>,
    manager: &str,
    now: &str,
) {
    managed::record_update(old, new, gvk, manager, now);
}

/// Rewrites the `metadata.managedFields` a client sent on create in the server's form
/// (entries it can read, re-encoded, empty ones dropped, in the server's order), as the real
/// server stores them.
///
/// ```
/// use aiopslab_sim::patch::normalize_managed_fields;
/// use serde_json::json;
/// let mut cm = json!({"metadata": {"name": "cfg", "managedFields": [
///     {"manager": "b", "operation": "Update", "fieldsV1": {"f:data": {"f:x": {}}}},
///     {"manager": "a", "operation": "Apply", "fieldsV1": {"f:data": {"f:y": {}}}},
///     {"manager": "c", "operation": "Update", "fieldsV1": {}}]}});
/// normalize_managed_fields(&mut cm);
/// let list = cm["metadata"]["managedFields"].as_array().unwrap();
/// assert_eq!(list.len(), 2);
/// assert_eq!(list[0]["manager"], "a");
/// assert_eq!(list[1]["fieldsType"], "FieldsV1");
/// ```
pub fn normalize_managed_fields(object: &mut Value) {
    if object.pointer("/metadata/managedFields").is_some() {
        let entries = managed::read(object);
        managed::write(object, entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: &str = "2024-05-01T10:00:00Z";

    fn deploy() -> Gvk<'static> {
        Gvk::new("apps", "v1", "Deployment")
    }

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json; charset=utf-8",
                Some(PatchType::StrategicMerge),
            ),
            ("Application/Apply-Patch+YAML", Some(PatchType::Apply)),
            ("application/json", None),
            ("", None),
        ];
        for (content_type, want) in cases {
            assert_eq!(
                PatchType::from_content_type(content_type),
                want,
                "{content_type}"
            );
            if let Some(patch_type) = want {
                assert_eq!(
                    PatchType::from_content_type(patch_type.media_type()),
                    Some(patch_type)
                );
            }
        }
    }

    #[test]
    fn strategic_merge_on_a_custom_resource_is_415() {
        let chaos = Gvk::new("chaos-mesh.org", "v1alpha1", "NetworkChaos");
        let error = PatchKind::from_request(STRATEGIC_MERGE_PATCH, None, None, &chaos)
            .expect_err("not for CRDs");
        assert_eq!(error.code(), 415);
        assert_eq!(error.reason(), "UnsupportedMediaType");
        assert_eq!(
            error.message(),
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml"
        );
        // Even if the caller skips from_request.
        let live = json!({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos"});
        let error = apply_patch(Some(&live), &PatchKind::StrategicMerge, b"{}", &chaos, NOW)
            .expect_err("not for CRDs");
        assert_eq!(error.code(), 415);

        let error = PatchKind::from_request("text/plain", None, None, &deploy()).expect_err("415");
        assert!(error.message().ends_with(
            "application/json-patch+json, application/merge-patch+json, \
             application/strategic-merge-patch+json, application/apply-patch+yaml"
        ));
    }

    #[test]
    fn merge_patch_on_a_custom_resource() {
        let chaos = Gvk::new("chaos-mesh.org", "v1alpha1", "NetworkChaos");
        let live = json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"name": "delay"},
            "spec": {"action": "delay", "delay": {"latency": "10ms", "jitter": "1ms"}, "selector": {"namespaces": ["a", "b"]}}
        });
        let kind = PatchKind::from_request(MERGE_PATCH, Some("kubectl-patch"), None, &chaos)
            .expect("merge patch is fine");
        let body = br#"{"spec":{"delay":{"latency":"100ms","jitter":null},"selector":{"namespaces":["c"]}}}"#;
        let patched = apply_patch(Some(&live), &kind, body, &chaos, NOW).expect("applies");
        assert_eq!(patched["spec"]["delay"], json!({"latency": "100ms"}));
        assert_eq!(patched["spec"]["selector"]["namespaces"], json!(["c"]));
        assert_eq!(patched["spec"]["action"], "delay");
    }

    #[test]
    fn patch_options_validation() {
        let error = PatchKind::from_request(APPLY_PATCH, None, Some(true), &deploy())
            .expect_err("apply needs a manager");
        assert_eq!(error.code(), 422);
        assert_eq!(
            error.message(),
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required \
             for apply patch"
        );
        assert_eq!(error.to_status()["details"]["kind"], "PatchOptions");
        let error = PatchKind::from_request(MERGE_PATCH, None, Some(false), &deploy())
            .expect_err("force is apply-only");
        assert_eq!(
            error.message(),
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified \
             for non-apply patch"
        );
        let long = "m".repeat(129);
        let error = PatchKind::from_request(JSON_PATCH, Some(&long), None, &deploy())
            .expect_err("too long");
        assert_eq!(error.causes()[0].reason, "FieldValueTooLong");
        assert_eq!(
            PatchKind::from_request(APPLY_PATCH, Some("kubectl"), Some(true), &deploy()),
            Ok(PatchKind::Apply {
                field_manager: "kubectl".into(),
                force: true
            })
        );
        assert_eq!(
            PatchKind::from_request(APPLY_PATCH, Some("kubectl"), None, &deploy())
                .map(|kind| kind.patch_type()),
            Ok(PatchType::Apply)
        );
    }

    #[test]
    fn only_apply_creates() {
        for kind in [PatchKind::Json, PatchKind::Merge, PatchKind::StrategicMerge] {
            let error = apply_patch(None, &kind, b"{}", &deploy(), NOW).expect_err("no object");
            assert_eq!(error.code(), 400);
        }
        let apply = PatchKind::Apply {
            field_manager: "kubectl".into(),
            force: false,
        };
        let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1}}"#;
        let created = apply_patch(None, &apply, body, &deploy(), NOW).expect("creates");
        assert_eq!(
            created["metadata"]["managedFields"][0]["manager"],
            "kubectl"
        );
    }

    #[test]
    fn kubectl_flow_create_then_patch_then_apply() {
        // kubectl create (tracked), kubectl patch (SMP, tracked), kubectl apply --server-side.
        let gvk = deploy();
        let mut live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
        });
        record_update(None, &mut live, &gvk, "kubectl-create", NOW);
        let smp = br#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}"#;
        let mut patched =
            apply_patch(Some(&live), &PatchKind::StrategicMerge, smp, &gvk, NOW).expect("patch");
        record_update(
            Some(&live),
            &mut patched,
            &gvk,
            "kubectl-patch",
            "2024-05-01T10:05:00Z",
        );
        let apply = PatchKind::Apply {
            field_manager: "kubectl".into(),
            force: false,
        };
        let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
            "spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}"#;
        let error = apply_patch(Some(&patched), &apply, body, &gvk, NOW).expect_err("conflict");
        assert_eq!(
            error.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using apps/v1 at \
             2024-05-01T10:05:00Z: .spec.template.spec.containers[name=\"web\"].image"
        );
        let forced = PatchKind::Apply {
            field_manager: "kubectl".into(),
            force: true,
        };
        let applied = apply_patch(Some(&patched), &forced, body, &gvk, NOW).expect("forced");
        assert_eq!(
            applied["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.27"
        );
        assert_eq!(applied["spec"]["replicas"], 1);
    }

    #[test]
    fn managed_fields_rewritten_by_a_patch_are_kept() {
        // kubectl's migration from client-side to server-side apply: a JSON patch hands the
        // client-side-apply manager's fields to "kubectl" before the first server-side apply.
        let gvk = deploy();
        let mut live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1}
        });
        record_update(None, &mut live, &gvk, "kubectl-client-side-apply", NOW);
        let mut entry = live["metadata"]["managedFields"][0].clone();
        entry["manager"] = json!("kubectl");
        entry["operation"] = json!("Apply");
        let body = serde_json::to_vec(&json!([
            {"op": "replace", "path": "/metadata/managedFields", "value": [entry]}
        ]))
        .expect("serialises");
        let mut migrated =
            apply_patch(Some(&live), &PatchKind::Json, &body, &gvk, NOW).expect("patches");
        record_update(Some(&live), &mut migrated, &gvk, "kubectl", NOW);
        assert_eq!(
            migrated["metadata"]["managedFields"][0]["manager"],
            "kubectl"
        );
        assert_eq!(
            migrated["metadata"]["managedFields"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );

        let apply = PatchKind::Apply {
            field_manager: "kubectl".into(),
            force: false,
        };
        let config = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":4}}"#;
        let applied = apply_patch(Some(&migrated), &apply, config, &gvk, NOW)
            .expect("kubectl owns replicas now: no conflict");
        assert_eq!(applied["spec"]["replicas"], 4);
        // Applying the same configuration again changes nothing.
        let again = apply_patch(Some(&applied), &apply, config, &gvk, NOW).expect("idempotent");
        assert_eq!(again, applied);
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "apiVersion",
                "kind",
                "metadata",
                "name",
                "namespace",
                "labels",
                "finalizers",
                "ownerReferences",
                "uid",
                "managedFields",
                "manager",
                "operation",
                "fieldsV1",
                "f:spec",
                "k:{\"name\":\"a\"}",
                "v:\"x\"",
                "i:0",
                ".",
                "spec",
                "template",
                "containers",
                "initContainers",
                "env",
                "ports",
                "containerPort",
                "port",
                "status",
                "conditions",
                "type",
                "$patch",
                "$retainKeys",
                "$setElementOrder/containers",
                "$setElementOrder/finalizers",
                "$deleteFromPrimitiveList/finalizers",
                "$deleteFromPrimitiveList",
                "$setElementOrder",
                "volumes",
                "image",
            ])
            .prop_map(str::to_string),
            "[a-z$/]{0,5}",
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            prop::sample::select(vec![
                "a", "x", "delete", "replace", "merge", "Apply", "Update"
            ])
            .prop_map(Value::from),
            arb_key().prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 80, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((arb_key(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn gvks() -> Vec<Gvk<'static>> {
        vec![
            deploy(),
            Gvk::new("", "v1", "Pod"),
            Gvk::new("", "v1", "Service"),
            Gvk::new("batch", "v1", "CronJob"),
            Gvk::new("chaos-mesh.org", "v1alpha1", "PodChaos"),
            deploy().with_subresource("status"),
        ]
    }

    fn kinds() -> Vec<PatchKind> {
        vec![
            PatchKind::Json,
            PatchKind::Merge,
            PatchKind::StrategicMerge,
            PatchKind::Apply {
                field_manager: "m".into(),
                force: false,
            },
            PatchKind::Apply {
                field_manager: "before-first-apply".into(),
                force: true,
            },
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn no_patch_panics_on_arbitrary_json(live in arb_json(), patch in arb_json(), wrap in any::<bool>()) {
            // Half the time, make the patch look like an apply body for a Deployment so that
            // server-side apply gets past its identity checks.
            let patch = match (wrap, patch) {
                (true, Value::Object(mut map)) => {
                    map.insert("apiVersion".into(), json!("apps/v1"));
                    map.insert("kind".into(), json!("Deployment"));
                    Value::Object(map)
                }
                (_, other) => other,
            };
            let body = serde_json::to_vec(&patch).expect("serialises");
            for gvk in gvks() {
                for kind in kinds() {
                    let _ = apply_patch(Some(&live), &kind, &body, &gvk, NOW);
                    let _ = apply_patch(None, &kind, &body, &gvk, NOW);
                }
                let mut new = patch.clone();
                record_update(Some(&live), &mut new, &gvk, "m", NOW);
                let mut new = live.clone();
                record_update(None, &mut new, &gvk, "m", NOW);
            }
        }

        #[test]
        fn stored_managed_fields_are_always_in_the_servers_form(
            steps in prop::collection::vec(
                (0usize..3, prop::collection::btree_map("[abc]", "[xy]", 0..3), any::<bool>()),
                1..6,
            )
        ) {
            // Applies and updates by a few managers, in any order: whatever the write path
            // keeps of the previous list must be exactly what encoding it afresh gives.
            let gvk = Gvk::new("", "v1", "ConfigMap");
            let mut live: Option<Value> = None;
            for (who, data, force) in steps {
                let manager = ["one", "two", "kubectl"][who];
                let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "cfg"}, "data": data});
                let write = || -> Option<Value> {
                    if manager == "kubectl" {
                        let mut next = config.clone();
                        if let Some(l) = &live {
                            next["metadata"]["managedFields"] =
                                l["metadata"]["managedFields"].clone();
                        }
                        record_update(live.as_ref(), &mut next, &gvk, manager, NOW);
                        Some(next)
                    } else {
                        let kind = PatchKind::Apply { field_manager: manager.into(), force };
                        let body = serde_json::to_vec(&config).expect("json");
                        apply_patch(live.as_ref(), &kind, &body, &gvk, NOW).ok()
                    }
                };
                let (Some(next), fresh) = (write(), managed::with_fresh_encoding(write)) else {
                    continue;
                };
                prop_assert_eq!(Some(&next), fresh.as_ref(), "kept JSON differs from a fresh encoding");
                let mut normalized = next.clone();
                normalize_managed_fields(&mut normalized);
                prop_assert_eq!(&normalized, &next);
                live = Some(next);
            }
        }

        #[test]
        fn no_patch_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
            for kind in kinds() {
                let _ = apply_patch(Some(&live), &kind, &body, &deploy(), NOW);
            }
        }

        #[test]
        fn empty_patches_change_nothing(live in arb_json()) {
            if live.is_object() {
                for (kind, body) in [
                    (PatchKind::Json, &b"[]"[..]),
                    (PatchKind::Merge, b"{}"),
                    (PatchKind::StrategicMerge, b"{}"),
                ] {
                    let patched = apply_patch(Some(&live), &kind, body, &deploy(), NOW);
                    prop_assert_eq!(patched, Ok(live.clone()));
                }
            }
        }
    }
}
