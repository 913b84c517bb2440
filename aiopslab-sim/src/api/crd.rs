//! CustomResourceDefinitions: validation and status on write, and serving their kinds.
//!
//! A CRD written through the API is validated (name = `<plural>.<group>`, names, scope, one
//! storage version with a schema), gets the status the real apiextensions controllers give it
//! (`NamesAccepted` and `Established` true, `acceptedNames`, `storedVersions`) so that
//! `kubectl wait --for condition=established` returns at once, and its kinds are added to the
//! catalogue in the same request. Deleting a CRD deletes its objects and stops serving them.
//! CRDs written to the store directly (bootstrap, controllers) are picked up by
//! [`sync_catalogue`].

use super::status::{ApiError, ApiResult, Cause};
use crate::resources::{ResourceKey, ResourceType};
use crate::store::{EventType, Store};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const GROUP: &str = "apiextensions.k8s.io";

/// Whether `rtype` is `customresourcedefinitions.apiextensions.k8s.io`.
pub(crate) fn is_crd(rtype: &ResourceType) -> bool {
    rtype.group == GROUP && rtype.plural == "customresourcedefinitions"
}

/// The key of the CRD collection.
pub(crate) fn crd_key() -> ResourceKey {
    ResourceKey::new(GROUP, "customresourcedefinitions")
}

fn text<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn cause(reason: &str, field: &str, message: String) -> Cause {
    Cause {
        reason: reason.into(),
        message,
        field: field.into(),
    }
}

/// Validates a CRD and fills in its defaults and status. `old` is the stored CRD on update.
pub(crate) fn prepare(store: &Store, crd: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    let name = text(crd, "/metadata/name").to_string();
    let group = text(crd, "/spec/group").to_string();
    let plural = text(crd, "/spec/names/plural").to_string();
    let kind = text(crd, "/spec/names/kind").to_string();
    let scope = text(crd, "/spec/scope").to_string();
    let mut causes = Vec::new();
    let required = |field: &str| cause("FieldValueRequired", field, "Required value".into());
    if group.is_empty() {
        causes.push(required("spec.group"));
    }
    if plural.is_empty() {
        causes.push(required("spec.names.plural"));
    }
    if kind.is_empty() {
        causes.push(required("spec.names.kind"));
    }
    if !matches!(scope.as_str(), "Namespaced" | "Cluster") {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: \"null\": must have exactly one version marked as storage version"
                .into(),
        ));
    }
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .collect();
    if !versions.is_empty() && storage.len() != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {}: must have exactly one version marked as storage version",
                serde_json::to_string(&versions).unwrap_or_default()
            ),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v.pointer("/schema/openAPIV3Schema").is_none() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required".into(),
            ));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "CustomResourceDefinition",
            GROUP,
            &name,
            causes,
        ));
    }
    // Defaults the real server fills in.
    if let Some(names) = crd
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
    {
        names
            .entry("singular")
            .or_insert_with(|| json!(kind.to_ascii_lowercase()));
        names
            .entry("listKind")
            .or_insert_with(|| json!(format!("{kind}List")));
    }
    if let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) {
        spec.entry("conversion")
            .or_insert_with(|| json!({"strategy": "None"}));
    }
    // Status: names accepted and established, as the apiextensions controllers set them.
    let now = store.now_rfc3339();
    let old_time = |ty: &str| {
        old.and_then(|o| o.pointer("/status/conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let mut stored_versions: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(sv) = storage.first().and_then(|v| v.get("name")).cloned()
        && !stored_versions.contains(&sv)
    {
        stored_versions.push(sv);
    }
    let accepted = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let status = json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": old_time("NamesAccepted"),
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": old_time("Established"),
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "acceptedNames": accepted,
        "storedVersions": stored_versions,
    });
    if let Some(map) = crd.as_object_mut() {
        map.insert("status".into(), status);
    }
    Ok(())
}

/// Serves the kinds of a stored CRD.
pub(crate) fn register(store: &Store, crd: &Value) {
    if let Err(e) = store.catalogue_mut().add_crd(crd) {
        tracing::warn!(crd = text(crd, "/metadata/name"), "CRD not served: {e}");
    }
}

/// Stops serving a CRD's kinds and deletes their objects.
pub(crate) fn unregister(store: &Store, crd: &Value) {
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let key = ResourceKey::new(group, plural);
    let (objects, _) = store.list(&key, None);
    for obj in objects {
        let ns = text(&obj, "/metadata/namespace");
        let name = text(&obj, "/metadata/name");
        let _ = store.remove(&key, ns, name);
    }
    store.catalogue_mut().remove_crd(group, plural);
}

/// Keeps the catalogue in step with CRDs written to the store by anyone (not only the API):
/// registers every CRD stored now, then follows CRD events until the store goes away.
pub async fn sync_catalogue(store: Arc<Store>) {
    let mut events = store.subscribe();
    let (existing, _) = store.list(&crd_key(), None);
    for crd in existing {
        register(&store, &crd);
    }
    let key = crd_key();
    loop {
        match events.recv().await {
            Ok(ev) if ev.resource == key => match ev.event_type {
                EventType::Added | EventType::Modified => {
                    if ev.object.pointer("/metadata/deletionTimestamp").is_none() {
                        register(&store, &ev.object);
                    }
                }
                EventType::Deleted => {
                    let group = text(&ev.object, "/spec/group");
                    let plural = text(&ev.object, "/spec/names/plural");
                    store.catalogue_mut().remove_crd(group, plural);
                }
            },
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let (existing, _) = store.list(&crd_key(), None);
                for crd in existing {
                    register(&store, &crd);
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The CRD object that defines `rtype`, if it is a custom resource.
pub(crate) fn definition_of(store: &Store, rtype: &ResourceType) -> Option<Arc<Value>> {
    if !rtype.custom {
        return None;
    }
    store
        .get_arc(&crd_key(), "", &format!("{}.{}", rtype.plural, rtype.group))
        .ok()
}

/// The `openAPIV3Schema` of a version of a CRD.
pub(crate) fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// The scale subresource paths of a CRD version: (spec replicas, status replicas, selector).
pub(crate) fn scale_paths(crd: &Value, version: &str) -> Option<(String, String, Option<String>)> {
    let v = crd
        .pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?;
    let scale = v.pointer("/subresources/scale")?;
    let path = |f: &str| scale.get(f).and_then(Value::as_str).map(str::to_string);
    Some((
        path("specReplicasPath")?,
        path("statusReplicasPath")?,
        path("labelSelectorPath"),
    ))
}

/// Converts a `.spec.replicas` style path to a JSON pointer.
pub(crate) fn dotted_to_pointer(path: &str) -> String {
    let mut out = String::new();
    for part in path.trim_start_matches('.').split('.') {
        out.push('/');
        out.push_str(part);
    }
    out
}

/// Sets `value` at a JSON pointer, creating objects on the way.
pub(crate) fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert(p.to_string(), value);
            return;
        }
        cur = map.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store() -> Store {
        Store::new(
            1,
            Arc::new(ManualClock::at("2026-01-01T00:00:00Z".parse().unwrap())),
        )
    }

    fn podchaos() -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "podchaos.chaos-mesh.org"},
            "spec": {"group": "chaos-mesh.org", "scope": "Namespaced",
                "names": {"kind": "PodChaos", "plural": "podchaos"},
                "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    }

    #[test]
    fn established_on_create() {
        let s = store();
        let mut crd = podchaos();
        prepare(&s, &mut crd, None).unwrap();
        assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1alpha1"]));
        assert_eq!(crd["spec"]["names"]["listKind"], "PodChaosList");
    }

    #[test]
    fn name_must_match() {
        let s = store();
        let mut crd = podchaos();
        crd["metadata"]["name"] = json!("chaos");
        let e = prepare(&s, &mut crd, None).unwrap_err();
        assert_eq!(
            e.message,
            "CustomResourceDefinition.apiextensions.k8s.io \"chaos\" is invalid: metadata.name: Invalid value: \"chaos\": must be spec.names.plural+\".\"+spec.group"
        );
    }

    #[test]
    fn pointers() {
        let mut v = json!({});
        set_pointer(&mut v, &dotted_to_pointer(".spec.replicas"), json!(3));
        assert_eq!(v, json!({"spec": {"replicas": 3}}));
    }
}
