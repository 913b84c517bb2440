//! Server-side apply (`application/apply-patch+yaml`).
//!
//! The applied configuration (YAML or JSON) is merged into the live object with the same schema
//! as strategic merge patch: objects field by field, keyed lists item by item, set-like lists
//! as sets, everything else replaced. Ownership is tracked per field in
//! `metadata.managedFields` (one `Apply` entry per manager):
//!
//! - a field the configuration sets that another manager owns with a different value is a
//!   conflict: 409 unless `force`, in which case the other manager loses the field;
//! - a field the manager applied before and no longer applies is removed from the object,
//!   unless another manager also owns it (then only the ownership goes);
//! - an object that has never been tracked has its current fields given to
//!   `before-first-apply` first, as the real server does.
//!
//! Through the `status` subresource only `status` is applied (the entry records
//! `subresource: status`); through the object itself, `status` is ignored for kinds that have a
//! status subresource, as the real server's reset fields do.
//!
//! Simplifications (documented so nobody relies on them): keyed lists use the single strategic
//! merge key (the real apply schema keys container ports by `containerPort` *and* `protocol`);
//! items merged into an existing keyed list keep the live order with new items appended; a
//! `resourceVersion` in the configuration is ignored rather than used as a precondition; custom
//! resources are treated as having every list atomic and no status subresource.

use super::error::{PatchError, StatusCause};
use super::fieldset::{self, Element, FieldSet, Path};
use super::managed::{self, APPLY, Entry, Scope, UPDATE};
use super::schema::{FieldMeta, ListKind, Ty, apply_type, field, has_status_subresource};
use super::{Gvk, json};
use serde_json::{Map, Value};

/// The manager the real server gives the fields of an untracked object on its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Metadata the server owns, dropped from an applied configuration.
const DROPPED_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Decodes an apply body: JSON (what kube-rs sends) or YAML (what a person might), with YAML 1.1
/// octal numbers as kubectl reads them (`0644` is 420).
pub(crate) fn decode_body(body: &[u8]) -> Result<Value, PatchError> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| PatchError::bad_request("error decoding YAML: the body is not UTF-8"))?;
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    serde_saphyr::from_str_with_options::<Value>(text, options)
        .map_err(|error| PatchError::bad_request(format!("error decoding YAML: {error}")))
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Checks the configuration and trims it to what this request may set.
fn prepare(body: &[u8], gvk: &Gvk<'_>) -> Result<(Map<String, Value>, Scope), PatchError> {
    let decoded = decode_body(body)?;
    let Value::Object(mut config) = decoded else {
        return Err(PatchError::bad_request(format!(
            "error decoding YAML: the applied configuration must be an object, not {}",
            json::json_type_name(&decoded)
        )));
    };
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if api_version != gvk.api_version() {
        return Err(PatchError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {api_version}, \
             expected: {}",
            gvk.api_version()
        )));
    }
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != gvk.kind {
        return Err(PatchError::bad_request(format!(
            "Incorrect kind specified in apply patch. Specified patch kind: {kind}, expected: {}",
            gvk.kind
        )));
    }
    match config.get_mut("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(metadata)) => {
            if metadata
                .get("managedFields")
                .is_some_and(|fields| !fields.is_null())
            {
                return Err(PatchError::bad_request(
                    "metadata.managedFields must be nil",
                ));
            }
            metadata.retain(|key, _| !DROPPED_METADATA.contains(&key.as_str()));
        }
        Some(other) => {
            return Err(PatchError::bad_request(format!(
                "error decoding YAML: metadata must be an object, not {}",
                json::json_type_name(other)
            )));
        }
    }
    let mut value = Value::Object(config);
    drop_nulls(&mut value);
    let Value::Object(mut config) = value else {
        return Err(PatchError::bad_request(
            "the applied configuration must be an object",
        ));
    };

    let scope = match gvk.subresource {
        None if has_status_subresource(gvk.group, gvk.kind) => Scope::AllButStatus,
        None => Scope::All,
        Some("status") => Scope::StatusOnly,
        Some(other) => {
            return Err(PatchError::bad_request(format!(
                "server-side apply is not supported on the {other} subresource; apply to the \
                 object itself or to its status"
            )));
        }
    };
    match scope {
        Scope::AllButStatus => {
            config.shift_remove("status");
        }
        Scope::StatusOnly => {
            config.retain(|key, _| {
                matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status")
            });
            if let Some(Value::Object(metadata)) = config.get_mut("metadata") {
                metadata.retain(|key, _| key == "name" || key == "namespace");
            }
        }
        Scope::All => {}
    }
    Ok((config, scope))
}

fn check_identity(config: &Map<String, Value>, live: &Value) -> Result<(), PatchError> {
    let identity = |object: Option<&Value>, key: &str| {
        object
            .and_then(|meta| meta.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let applied_meta = config.get("metadata");
    let live_meta = live.get("metadata");
    if let (Some(applied), Some(stored)) =
        (identity(applied_meta, "name"), identity(live_meta, "name"))
        && applied != stored
    {
        return Err(PatchError::bad_request(format!(
            "the name of the object ({applied}) does not match the name on the URL ({stored})"
        )));
    }
    if let (Some(applied), Some(stored)) = (
        identity(applied_meta, "namespace"),
        identity(live_meta, "namespace"),
    ) && applied != stored
    {
        return Err(PatchError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the \
             request",
        ));
    }
    Ok(())
}

/// See [`super::apply_patch`] with [`super::PatchKind::Apply`].
pub(crate) fn server_side_apply(
    live: Option<&Value>,
    body: &[u8],
    gvk: &Gvk<'_>,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    let (config, scope) = prepare(body, gvk)?;
    let subresource = gvk.subresource.unwrap_or_default();
    let applied = Value::Object(config);
    let applied_set = managed::owned_fields(&applied, gvk, scope);
    let my_entry = |fields: FieldSet| Entry {
        manager: manager.to_string(),
        operation: APPLY.to_string(),
        api_version: gvk.api_version(),
        time: Some(now.to_string()),
        subresource: subresource.to_string(),
        fields,
    };

    let Some(live) = live else {
        if let Some(subresource) = gvk.subresource {
            return Err(PatchError::bad_request(format!(
                "cannot apply to the {subresource} of an object that does not exist; apply the \
                 object itself first"
            )));
        }
        let mut created = applied;
        managed::write(&mut created, vec![my_entry(applied_set)]);
        return Ok(created);
    };
    let Value::Object(live_object) = live else {
        return Err(PatchError::bad_request(
            "the stored object is not a JSON object",
        ));
    };
    if let Value::Object(config) = &applied {
        check_identity(config, live)?;
    }

    let mut entries = managed::read(live);
    // Which entries still are exactly what the stored list holds (their JSON is kept rather
    // than encoded again): the index of each in that list.
    let mut kept: Vec<Option<usize>> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter(|(_, json)| Entry::readable(json))
                .map(|(index, _)| Some(index))
                .collect()
        })
        .unwrap_or_default();
    if kept.len() != entries.len() {
        kept = vec![None; entries.len()];
    }
    if entries.is_empty() {
        let fields = managed::owned_fields(live, gvk, Scope::All);
        kept.push(None);
        entries.push(Entry {
            manager: BEFORE_FIRST_APPLY.to_string(),
            operation: UPDATE.to_string(),
            api_version: gvk.api_version(),
            time: Some(now.to_string()),
            subresource: String::new(),
            fields,
        });
    }
    let mine = entries
        .iter()
        .position(|entry| entry.is(manager, APPLY, subresource));

    // Conflicts: leaves this configuration changes that someone else owns.
    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    for path in &applied_set {
        if !matches!(path.last(), Some(Element::Field(_) | Element::Index(_))) {
            continue;
        }
        let (Some(wanted), Some(current)) =
            (fieldset::get(&applied, path), fieldset::get(live, path))
        else {
            continue;
        };
        if fieldset::values_equal(wanted, current) {
            continue;
        }
        for (index, entry) in entries.iter().enumerate() {
            if Some(index) != mine && entry.fields.contains(path) {
                conflicts.push((index, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(&entries, &conflicts));
        }
        for (index, path) in &conflicts {
            if let Some(entry) = entries.get_mut(*index) {
                entry.fields.remove(path);
            }
            if let Some(k) = kept.get_mut(*index) {
                *k = None;
            }
        }
    }

    let ty = apply_type(gvk.group, gvk.kind);
    let mut merged = Value::Object(live_object.clone());
    if let (Value::Object(target), Value::Object(config)) = (&mut merged, &applied) {
        merge_object(target, config, ty);
    }

    // Fields this manager stopped applying go, unless someone else still holds them.
    let previous = mine
        .and_then(|index| entries.get(index))
        .map(|entry| entry.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = entries
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != mine)
        .flat_map(|(_, entry)| entry.fields.iter().cloned())
        .collect();
    let mut dropped: Vec<&Path> = previous.difference(&applied_set).collect();
    // Whole items first: their fields then simply are not there any more.
    dropped.sort_by_key(|path| path.len());
    for path in dropped {
        if is_item_key(path) {
            // An item's key goes with the item, never on its own.
            continue;
        }
        let still_held = others.iter().any(|other| other.starts_with(path));
        let inside_applied_leaf = (1..path.len()).any(|len| {
            let prefix = &path[..len];
            matches!(prefix.last(), Some(Element::Field(_))) && applied_set.contains(prefix)
        });
        if !still_held && !inside_applied_leaf && fieldset::remove(&mut merged, path) {
            prune_empty_parents(&mut merged, path, &applied_set, &others);
        }
    }

    let mut entry = my_entry(applied_set);
    match mine {
        Some(index) => {
            // As on the real server, the entry's time moves only when the apply changed
            // something: an unchanged object and an unchanged field set keep the old time, so
            // that re-applying the same configuration is a no-op the store can recognise.
            let previous = &entries[index];
            if previous.fields == entry.fields
                && previous.api_version == entry.api_version
                && same_but_managed_fields(live, &merged)
            {
                entry.time = previous.time.clone();
            }
            if entries[index] != entry {
                kept[index] = None;
            }
            entries[index] = entry;
        }
        None => {
            entries.push(entry);
            kept.push(None);
        }
    }
    // `merged` started as a copy of the live object: the JSON of unchanged entries is taken
    // from its list.
    let mut list: Vec<Value> = merged
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let entries = entries
        .into_iter()
        .zip(kept)
        .map(|(entry, index)| {
            let json = index.and_then(|i| list.get_mut(i).map(std::mem::take));
            (entry, json)
        })
        .collect();
    managed::write_cached(&mut merged, entries);
    Ok(merged)
}

/// Whether two objects are equal apart from `metadata.managedFields`.
fn same_but_managed_fields(a: &Value, b: &Value) -> bool {
    let (Some(a_map), Some(b_map)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if a_map.len() != b_map.len() {
        return false;
    }
    a_map.iter().all(|(key, a_value)| {
        let Some(b_value) = b_map.get(key) else {
            return false;
        };
        if key != "metadata" {
            return a_value == b_value;
        }
        match (a_value.as_object(), b_value.as_object()) {
            (Some(a_meta), Some(b_meta)) => {
                let count =
                    |m: &Map<String, Value>| m.len() - usize::from(m.contains_key("managedFields"));
                count(a_meta) == count(b_meta)
                    && a_meta
                        .iter()
                        .filter(|(k, _)| k.as_str() != "managedFields")
                        .all(|(k, v)| b_meta.get(k) == Some(v))
            }
            _ => a_value == b_value,
        }
    })
}

/// Whether `path` is the key field of a keyed list item (`...[name="x"].name`).
fn is_item_key(path: &[Element]) -> bool {
    match path {
        [.., Element::Key(json), Element::Field(name)] => {
            serde_json::from_str::<Map<String, Value>>(json)
                .is_ok_and(|keys| keys.contains_key(name))
        }
        _ => false,
    }
}

/// Removes the objects and lists a removal left empty (as Go's `omitempty` drops them), up to
/// the first one that still has content, is owned by someone, or is a list item.
fn prune_empty_parents(
    object: &mut Value,
    removed: &[Element],
    applied: &FieldSet,
    others: &FieldSet,
) {
    for len in (1..removed.len()).rev() {
        let parent = &removed[..len];
        let empty = matches!(parent.last(), Some(Element::Field(_)))
            && match fieldset::get(object, parent) {
                Some(Value::Object(map)) => map.is_empty(),
                Some(Value::Array(items)) => items.is_empty(),
                _ => false,
            }
            && !applied
                .iter()
                .chain(others.iter())
                .any(|path| path.starts_with(parent));
        if !empty || !fieldset::remove(object, parent) {
            break;
        }
    }
}

/// The 409 the server answers, worded like apimachinery's `NewConflictError`.
fn conflict_error(entries: &[Entry], conflicts: &[(usize, Path)]) -> PatchError {
    let describe = |index: usize| entries.get(index).map(Entry::describe).unwrap_or_default();
    let causes: Vec<StatusCause> = conflicts
        .iter()
        .map(|(index, path)| StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", describe(*index)),
            field: fieldset::display(path),
        })
        .collect();
    let message = if let [(index, path)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            describe(*index),
            fieldset::display(path)
        )
    } else {
        let mut managers: Vec<usize> = conflicts.iter().map(|(index, _)| *index).collect();
        managers.sort_by(|a, b| {
            let (a, b) = (&entries[*a], &entries[*b]);
            (&a.manager, &a.operation, &a.subresource).cmp(&(
                &b.manager,
                &b.operation,
                &b.subresource,
            ))
        });
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {}:", describe(manager)));
            for (index, path) in conflicts {
                if *index == manager {
                    lines.push(format!("- {}", fieldset::display(path)));
                }
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    PatchError::Conflict { message, causes }
}

/// Merges an applied configuration into the live object.
fn merge_object(live: &mut Map<String, Value>, config: &Map<String, Value>, ty: Ty) {
    for (key, wanted) in config {
        let meta = field(ty, key);
        match live.get_mut(key) {
            Some(current) => merge_value(current, wanted, meta),
            None => {
                live.insert(key.clone(), wanted.clone());
            }
        }
    }
}

fn merge_value(current: &mut Value, wanted: &Value, meta: FieldMeta) {
    match (current, wanted) {
        (Value::Object(current), Value::Object(wanted)) => merge_object(current, wanted, meta.ty),
        (Value::Array(current), Value::Array(wanted)) => match meta.list {
            ListKind::Merge(Some(key))
                if fieldset::is_keyed(current, key) && fieldset::is_keyed(wanted, key) =>
            {
                for item in wanted {
                    let element = fieldset::key_element(item, key);
                    let found = current
                        .iter()
                        .position(|candidate| fieldset::key_element(candidate, key) == element);
                    match (found, item) {
                        (Some(index), Value::Object(item)) => {
                            if let Value::Object(target) = &mut current[index] {
                                merge_object(target, item, meta.ty);
                            }
                        }
                        _ => current.push(item.clone()),
                    }
                }
            }
            ListKind::Merge(None) if fieldset::is_set(current) && fieldset::is_set(wanted) => {
                for item in wanted {
                    if !current
                        .iter()
                        .any(|have| fieldset::values_equal(have, item))
                    {
                        current.push(item.clone());
                    }
                }
            }
            _ => *current = wanted.clone(),
        },
        (current, wanted) => *current = wanted.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::managed::record_update;
    use serde_json::json;

    const DEPLOY: Gvk<'static> = Gvk::new("apps", "v1", "Deployment");
    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T11:00:00Z";

    fn config(replicas: u64, labels: Value, containers: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers}
                }
            }
        }))
        .expect("serialises")
    }

    fn nginx(image: &str) -> Value {
        json!([{"name": "nginx", "image": image}])
    }

    /// What the store would do on create: add the server fields.
    fn stored(mut object: Value) -> Value {
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.insert("uid".into(), json!("uid-1"));
            meta.insert("resourceVersion".into(), json!("1"));
            meta.insert("creationTimestamp".into(), json!(T0));
        }
        object
    }

    fn apply(
        live: Option<&Value>,
        body: &[u8],
        manager: &str,
        force: bool,
    ) -> Result<Value, PatchError> {
        server_side_apply(live, body, &DEPLOY, manager, force, T1)
    }

    fn managers(object: &Value) -> Vec<(String, String)> {
        managed::read(object)
            .into_iter()
            .map(|entry| (entry.manager, entry.operation))
            .collect()
    }

    #[test]
    fn create_returns_the_configuration_with_its_owner() {
        let created = apply(
            None,
            &config(2, json!({"app": "web"}), nginx("nginx:1.25")),
            "kubectl",
            false,
        )
        .expect("creates");
        assert_eq!(created["spec"]["replicas"], 2);
        assert_eq!(
            managers(&created),
            [("kubectl".to_string(), "Apply".to_string())]
        );
        let entry = &created["metadata"]["managedFields"][0];
        assert_eq!(entry["apiVersion"], "apps/v1");
        assert_eq!(entry["fieldsType"], "FieldsV1");
        assert_eq!(entry["time"], T1);
        assert_eq!(
            entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"],
            json!({".": {}, "f:image": {}, "f:name": {}})
        );
        assert!(entry["fieldsV1"]["f:metadata"].get("f:name").is_none());
    }

    #[test]
    fn yaml_bodies_are_accepted() {
        let yaml = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  template:\n    spec:\n      volumes:\n      - name: cfg\n        configMap:\n          name: cfg\n          defaultMode: 0644\n";
        let created = apply(None, yaml, "kubectl", false).expect("creates");
        assert_eq!(created["spec"]["replicas"], 3);
        assert_eq!(
            created["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"],
            420
        );
    }

    #[test]
    fn update_merges_and_keeps_other_fields() {
        let live = stored(
            apply(
                None,
                &config(2, json!({"app": "web"}), nginx("nginx:1.25")),
                "kubectl",
                false,
            )
            .expect("creates"),
        );
        let mut live_with_status = live.clone();
        live_with_status["status"] = json!({"readyReplicas": 2});
        live_with_status["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");

        let updated = apply(
            Some(&live_with_status),
            &config(2, json!({"app": "web"}), nginx("nginx:1.26")),
            "kubectl",
            false,
        )
        .expect("applies");
        let container = &updated["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "nginx:1.26");
        assert_eq!(
            container["imagePullPolicy"], "IfNotPresent",
            "unowned defaults stay"
        );
        assert_eq!(
            updated["status"],
            json!({"readyReplicas": 2}),
            "status is not the main resource's"
        );
        assert_eq!(updated["metadata"]["uid"], "uid-1");
        assert_eq!(updated["metadata"]["resourceVersion"], "1");
        assert_eq!(managers(&updated).len(), 1);
    }

    #[test]
    fn fields_no_longer_applied_are_removed() {
        let first = config(
            2,
            json!({"app": "web", "team": "sre"}),
            json!([
                {"name": "nginx", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "busybox"}
            ]),
        );
        let live = stored(apply(None, &first, "kubectl", false).expect("creates"));
        let second = config(
            2,
            json!({"app": "web"}),
            json!([{"name": "nginx", "image": "nginx"}]),
        );
        let updated = apply(Some(&live), &second, "kubectl", false).expect("applies");
        assert_eq!(updated["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(
            updated["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx"}])
        );
    }

    #[test]
    fn fields_another_manager_holds_survive_removal() {
        let live = stored(
            apply(
                None,
                &config(2, json!({"app": "web", "team": "sre"}), nginx("n")),
                "a",
                false,
            )
            .expect("creates"),
        );
        // Manager b applies the same label value: shared ownership.
        let b_config = serde_json::to_vec(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"team": "sre"}}
        }))
        .expect("serialises");
        let shared =
            apply(Some(&live), &b_config, "b", false).expect("no conflict on equal values");
        let updated = apply(
            Some(&shared),
            &config(2, json!({"app": "web"}), nginx("n")),
            "a",
            false,
        )
        .expect("applies");
        assert_eq!(
            updated["metadata"]["labels"],
            json!({"app": "web", "team": "sre"})
        );
    }

    #[test]
    fn conflicts_with_an_update_manager() {
        let mut live =
            serde_json::from_slice::<Value>(&config(1, json!({"app": "web"}), nginx("nginx")))
                .expect("json");
        live = stored(live);
        let mut tracked = live.clone();
        managed::write(&mut tracked, Vec::new());
        record_update(None, &mut tracked, &DEPLOY, "kubectl-client-side-apply", T0);

        let error = apply(
            Some(&tracked),
            &config(3, json!({"app": "web"}), nginx("nginx")),
            "kubectl",
            false,
        )
        .expect_err("replicas differ");
        assert_eq!(error.code(), 409);
        assert_eq!(error.reason(), "Conflict");
        assert_eq!(
            error.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using \
             apps/v1 at 2024-05-01T10:00:00Z: .spec.replicas"
        );
        assert_eq!(error.causes()[0].field, ".spec.replicas");
        assert_eq!(error.causes()[0].reason, "FieldManagerConflict");

        let error = apply(
            Some(&tracked),
            &config(3, json!({"app": "web"}), nginx("nginx:2")),
            "kubectl",
            false,
        )
        .expect_err("two fields differ");
        assert_eq!(
            error.message(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using \
             apps/v1 at 2024-05-01T10:00:00Z:\n- .spec.replicas\n- \
             .spec.template.spec.containers[name=\"nginx\"].image"
        );

        // Same values: no conflict, shared ownership.
        let shared = apply(
            Some(&tracked),
            &config(1, json!({"app": "web"}), nginx("nginx")),
            "kubectl",
            false,
        )
        .expect("equal values do not conflict");
        assert_eq!(managers(&shared).len(), 2);
    }

    #[test]
    fn force_takes_the_fields_over() {
        let mut tracked = stored(
            serde_json::from_slice::<Value>(&config(1, json!({"app": "web"}), nginx("nginx")))
                .expect("json"),
        );
        record_update(None, &mut tracked, &DEPLOY, "kubectl-client-side-apply", T0);
        let forced = apply(
            Some(&tracked),
            &config(3, json!({"app": "web"}), nginx("nginx")),
            "kubectl",
            true,
        )
        .expect("force wins");
        assert_eq!(forced["spec"]["replicas"], 3);
        let entries = managed::read(&forced);
        let old_owner = entries
            .iter()
            .find(|entry| entry.manager == "kubectl-client-side-apply")
            .expect("still owns the rest");
        assert!(!old_owner.fields.contains(&vec![
            Element::Field("spec".into()),
            Element::Field("replicas".into())
        ]));
        assert_eq!(entries[0].manager, "kubectl", "apply entries sort first");
    }

    #[test]
    fn untracked_objects_belong_to_before_first_apply() {
        let live = stored(
            serde_json::from_slice::<Value>(&config(1, json!({"app": "web"}), nginx("nginx")))
                .expect("json"),
        );
        let error = apply(
            Some(&live),
            &config(4, json!({"app": "web"}), nginx("nginx")),
            "kubectl",
            false,
        )
        .expect_err("the existing value has an owner");
        assert!(
            error
                .message()
                .contains("conflict with \"before-first-apply\" using apps/v1 at"),
            "{error}"
        );
        let same = apply(
            Some(&live),
            &config(1, json!({"app": "web"}), nginx("nginx")),
            "kubectl",
            false,
        )
        .expect("no change, no conflict");
        assert_eq!(
            managers(&same),
            [
                ("kubectl".to_string(), "Apply".to_string()),
                ("before-first-apply".to_string(), "Update".to_string())
            ]
        );
    }

    #[test]
    fn bad_bodies() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"{\"apiVersion\":\"apps/v1beta1\",\"kind\":\"Deployment\"}", "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
            (b"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\"}", "Incorrect kind specified in apply patch. Specified patch kind: StatefulSet, expected: Deployment"),
            (b"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"managedFields\":[]}}", "metadata.managedFields must be nil"),
            (b"[1, 2]", "error decoding YAML: the applied configuration must be an object, not array"),
        ];
        for (body, message) in cases {
            let error = apply(None, body, "m", false).expect_err(message);
            assert_eq!(error.code(), 400);
            assert_eq!(error.message(), message);
        }
        let error = apply(None, b"a: [", "m", false).expect_err("bad yaml");
        assert!(
            error.message().starts_with("error decoding YAML: "),
            "{error}"
        );
        let live = stored(
            serde_json::from_slice::<Value>(&config(1, json!({}), nginx("n"))).expect("json"),
        );
        let other = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"other"}}"#;
        let error = apply(Some(&live), other, "m", false).expect_err("wrong name");
        assert_eq!(
            error.message(),
            "the name of the object (other) does not match the name on the URL (web)"
        );
    }

    #[test]
    fn status_subresource_apply_touches_only_status() {
        let live = stored(
            apply(
                None,
                &config(2, json!({"app": "web"}), nginx("n")),
                "kubectl",
                false,
            )
            .expect("creates"),
        );
        let body = serde_json::to_vec(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 9},
            "status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        }))
        .expect("serialises");
        let gvk = DEPLOY.with_subresource("status");
        let updated =
            server_side_apply(Some(&live), &body, &gvk, "controller", false, T1).expect("applies");
        assert_eq!(updated["spec"]["replicas"], 2);
        assert_eq!(updated["status"]["readyReplicas"], 2);
        let entry = managed::read(&updated)
            .into_iter()
            .find(|entry| entry.manager == "controller")
            .expect("entry");
        assert_eq!(entry.subresource, "status");
        assert_eq!(
            updated["metadata"]["managedFields"][0]["fieldsV1"]["f:status"]["f:conditions"]["k:{\"type\":\"Available\"}"]
                ["f:status"],
            json!({})
        );
    }

    #[test]
    fn status_apply_needs_an_object() {
        let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"status":{}}"#;
        let gvk = DEPLOY.with_subresource("status");
        let error = server_side_apply(None, body, &gvk, "c", false, T1).expect_err("no object");
        assert_eq!(error.code(), 400);
        let gvk = DEPLOY.with_subresource("scale");
        let error = server_side_apply(None, body, &gvk, "c", false, T1).expect_err("unsupported");
        assert!(error.message().contains("scale subresource"), "{error}");
    }

    #[test]
    fn custom_resources_apply_with_a_plain_schema() {
        let gvk = Gvk::new("chaos-mesh.org", "v1alpha1", "PodChaos");
        let body = br#"{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"PodChaos","metadata":{"name":"kill"},
                       "spec":{"action":"pod-kill","selector":{"namespaces":["a"]}},"status":{"x":1}}"#;
        let created = server_side_apply(None, body, &gvk, "m", false, T1).expect("creates");
        assert_eq!(created["spec"]["selector"]["namespaces"], json!(["a"]));
        assert_eq!(
            created["status"]["x"], 1,
            "no status subresource known for CRDs"
        );
        let body = br#"{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"PodChaos","metadata":{"name":"kill"},
                       "spec":{"action":"pod-failure"}}"#;
        let updated =
            server_side_apply(Some(&created), body, &gvk, "m", false, T1).expect("applies");
        assert_eq!(updated["spec"], json!({"action": "pod-failure"}));
    }
}
