//! `metadata.managedFields`: reading and writing the entries, and recording which fields a
//! non-apply write (create, update, patch) took over.

use super::Gvk;
use super::fieldset::{self, Element, FieldSet, Path};
use super::schema::{Ty, apply_type, field};
use serde_json::{Map, Value};

/// `metadata` fields the server sets itself, never owned by any manager (apimachinery's
/// `stripMeta`, plus the deletion markers).
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Operation name of apply entries.
pub(crate) const APPLY: &str = "Apply";
/// Operation name of create/update/patch entries.
pub(crate) const UPDATE: &str = "Update";

/// Which part of an object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole object.
    All,
    /// Everything but `status` (a kind with a status subresource, written through the main
    /// resource).
    AllButStatus,
    /// Only `status` (the status subresource).
    StatusOnly,
}

fn in_scope(path: &[Element], scope: Scope) -> bool {
    let under_status = matches!(path.first(), Some(Element::Field(name)) if name == "status");
    match scope {
        Scope::All => true,
        Scope::AllButStatus => !under_status,
        Scope::StatusOnly => under_status,
    }
}

/// Whether the server owns `path` itself (`apiVersion`, `kind`, `metadata.name`, ...).
pub(crate) fn server_owned(path: &[Element]) -> bool {
    match path {
        [Element::Field(name), ..] if name == "apiVersion" || name == "kind" => true,
        [Element::Field(meta), Element::Field(name), ..] if meta == "metadata" => {
            SERVER_METADATA.contains(&name.as_str())
        }
        _ => false,
    }
}

/// The fields of `object` a manager can own, within `scope`.
pub(crate) fn owned_fields(object: &Value, gvk: &Gvk<'_>, scope: Scope) -> FieldSet {
    let ty = apply_type(gvk.group, gvk.kind);
    fieldset::fields_of(object, ty)
        .into_iter()
        .filter(|path| !server_owned(path) && in_scope(path, scope))
        .collect()
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to `manager` doing `operation` on `subresource`.
    pub(crate) fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// Whether [`Entry::from_json`] can read `value`.
    pub(crate) fn readable(value: &Value) -> bool {
        value.is_object()
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let object = value.as_object()?;
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Some(Entry {
            manager: text("manager"),
            operation: text("operation"),
            api_version: text("apiVersion"),
            time: object
                .get("time")
                .and_then(Value::as_str)
                .map(str::to_string),
            subresource: text("subresource"),
            fields: object
                .get("fieldsV1")
                .map(fieldset::decode)
                .unwrap_or_default(),
        })
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), Value::String(self.manager.clone()));
        out.insert("operation".into(), Value::String(self.operation.clone()));
        out.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            out.insert("time".into(), Value::String(time.clone()));
        }
        out.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        out.insert("fieldsV1".into(), fieldset::encode(&self.fields));
        if !self.subresource.is_empty() {
            out.insert(
                "subresource".into(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(out)
    }

    /// How the server names this manager in conflict messages (apimachinery's `printManager`):
    /// `"kubectl"`, `"kube-controller-manager" using apps/v1 at 2024-01-01T00:00:00Z`.
    pub(crate) fn describe(&self) -> String {
        let mut out = serde_json::to_string(&self.manager).unwrap_or_default();
        if !self.subresource.is_empty() {
            out.push_str(" with subresource ");
            out.push_str(&serde_json::to_string(&self.subresource).unwrap_or_default());
        }
        if self.operation == UPDATE {
            out.push_str(" using ");
            out.push_str(&self.api_version);
            if let Some(time) = &self.time {
                out.push_str(" at ");
                out.push_str(time);
            }
        }
        out
    }
}

/// The entries of `object`'s `metadata.managedFields` (unreadable entries are skipped).
pub(crate) fn read(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// The order the server keeps entries in: apply entries first, then by time, manager, API
/// version and subresource.
fn entry_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.operation
        .cmp(&b.operation)
        .then_with(|| a.time.cmp(&b.time))
        .then_with(|| a.manager.cmp(&b.manager))
        .then_with(|| a.api_version.cmp(&b.api_version))
        .then_with(|| a.subresource.cmp(&b.subresource))
}

/// Writes `entries` into `object`'s `metadata.managedFields`: empty entries dropped, sorted as
/// the server sorts them (apply entries first, then by time, manager, API version and
/// subresource), the key removed when nothing is left.
pub(crate) fn write(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    entries.sort_by(entry_order);
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(metadata)) = root.get_mut("metadata") {
            metadata.shift_remove("managedFields");
        }
        return;
    }
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

/// Paths of `old` whose values differ in `new` (leaves only; list items are compared through
/// their fields).
fn modified(old: &Value, new: &Value, both: impl Iterator<Item = Path>) -> FieldSet {
    both.filter(|path| {
        matches!(path.last(), Some(Element::Field(_) | Element::Index(_)))
            && match (fieldset::get(old, path), fieldset::get(new, path)) {
                (Some(a), Some(b)) => !fieldset::values_equal(a, b),
                _ => false,
            }
    })
    .collect()
}

/// What changed between `old` and `new` (objects of type `ty`), as
/// `(new − old) ∪ modified(old ∩ new)` and `old − new` of their owned field sets, computed
/// only where the two differ: equal subtrees are skipped whole.
fn diff(old: &Value, new: &Value, ty: Ty) -> (FieldSet, FieldSet) {
    let mut changed = FieldSet::new();
    let mut removed = FieldSet::new();
    if let (Value::Object(old_map), Value::Object(new_map)) = (old, new) {
        diff_object(
            (old, new),
            old_map,
            new_map,
            ty,
            &mut Vec::new(),
            (&mut changed, &mut removed),
        );
    }
    changed.retain(|path| !server_owned(path));
    removed.retain(|path| !server_owned(path));
    (changed, removed)
}

fn diff_object(
    roots: (&Value, &Value),
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    ty: Ty,
    prefix: &mut Path,
    out: (&mut FieldSet, &mut FieldSet),
) {
    let (changed, removed) = out;
    let keys = old
        .keys()
        .chain(new.keys().filter(|key| !old.contains_key(*key)));
    for key in keys {
        let (old_value, new_value) = (old.get(key), new.get(key));
        if old_value == new_value {
            continue;
        }
        // Objects inside objects are only paths to their fields (descend); lists and leaves
        // are compared through their whole field sets.
        let meta = field(ty, key);
        prefix.push(Element::Field(key.clone()));
        if server_owned(prefix) {
            // Nobody owns these (resourceVersion, managedFields, ...): nothing to compare.
            prefix.pop();
            continue;
        }
        match (old_value, new_value) {
            (Some(Value::Object(o)), Some(Value::Object(n))) if !o.is_empty() && !n.is_empty() => {
                diff_object(roots, o, n, meta.ty, prefix, (&mut *changed, &mut *removed));
            }
            _ => {
                let mut old_set = FieldSet::new();
                let mut new_set = FieldSet::new();
                if let Some(v) = old_value {
                    fieldset::fields_at(v, meta, prefix, &mut old_set);
                }
                if let Some(v) = new_value {
                    fieldset::fields_at(v, meta, prefix, &mut new_set);
                }
                changed.extend(new_set.difference(&old_set).cloned());
                changed.extend(modified(
                    roots.0,
                    roots.1,
                    old_set.intersection(&new_set).cloned(),
                ));
                removed.extend(old_set.difference(&new_set).cloned());
            }
        }
        prefix.pop();
    }
}

/// See [`super::record_update`].
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    gvk: &Gvk<'_>,
    manager: &str,
    now: &str,
) {
    if !new.is_object() {
        return;
    }
    let subresource = gvk.subresource.unwrap_or_default();
    // Managed fields the client sent win (that is how they can be edited or reset); otherwise
    // the stored object's carry over. The sent list is taken out of `new` (and put back when
    // it stays as it is) so that its entries need not be copied.
    let mut sent: Vec<Value> = new
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let stored: &[Value] = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let index_entries = |list: &[Value]| -> Vec<(Entry, Option<usize>)> {
        list.iter()
            .enumerate()
            .filter_map(|(index, json)| Entry::from_json(json).map(|entry| (entry, Some(index))))
            .collect()
    };
    let mut entries = index_entries(&sent);
    let from_new = !entries.is_empty();
    if !from_new {
        entries = index_entries(stored);
    }
    // The stored list was written by the server (normalized): its entries' JSON can be kept
    // as it is. A list the client sent that differs from it is read and written again.
    let reusable = !from_new || *stored == *sent;
    if !reusable {
        for (_, json) in &mut entries {
            *json = None;
        }
    }
    if entries.is_empty() && old.is_some() {
        // An object nobody tracked stays untracked until its first apply (which then gives
        // its fields to "before-first-apply"), as the real server's skip-non-applied manager does.
        write(new, Vec::new());
        return;
    }

    let ty = apply_type(gvk.group, gvk.kind);
    let (changed, removed) = match old {
        None => (owned_fields(new, gvk, Scope::All), FieldSet::new()),
        Some(old) => diff(old, new, ty),
    };

    // Each entry keeps its JSON (not encoded again) unless its fields change.
    let mut mine = None;
    for (index, (entry, json)) in entries.iter_mut().enumerate() {
        if entry.is(manager, UPDATE, subresource) {
            mine = Some(index);
            continue;
        }
        let before = entry.fields.len();
        entry
            .fields
            .retain(|path| !changed.contains(path) && !removed.contains(path));
        if entry.fields.len() != before {
            *json = None;
        }
    }
    let previous = mine
        .and_then(|index| entries.get(index))
        .map(|(entry, _)| entry.fields.clone())
        .unwrap_or_default();
    let mut fields: FieldSet = previous.union(&changed).cloned().collect();
    fields.retain(|path| !removed.contains(path));
    if fields != previous {
        let entry = Entry {
            manager: manager.to_string(),
            operation: UPDATE.to_string(),
            api_version: gvk.api_version(),
            time: Some(now.to_string()),
            subresource: subresource.to_string(),
            fields,
        };
        match mine {
            Some(index) => entries[index] = (entry, None),
            None => entries.push((entry, None)),
        }
    }
    let source_len = if from_new { sent.len() } else { stored.len() };
    let unchanged = entries.len() == source_len
        && entries
            .iter()
            .all(|(entry, json)| json.is_some() && !entry.fields.is_empty())
        && entries
            .windows(2)
            .all(|pair| entry_order(&pair[0].0, &pair[1].0) != std::cmp::Ordering::Greater);
    #[cfg(test)]
    let unchanged = unchanged && !FRESH_ENCODING.with(|c| c.get());
    if unchanged {
        // The list is what it was, in the server's order: keep it as it is.
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            let list = if from_new { sent } else { stored.to_vec() };
            meta.insert("managedFields".into(), Value::Array(list));
        }
        return;
    }
    let entries = entries
        .into_iter()
        .map(|(entry, index)| {
            let json = index.and_then(|i| {
                if from_new {
                    sent.get_mut(i).map(std::mem::take)
                } else {
                    stored.get(i).cloned()
                }
            });
            (entry, json)
        })
        .collect();
    write_cached(new, entries);
}

#[cfg(test)]
thread_local! {
    static FRESH_ENCODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every managedFields entry encoded afresh (no JSON kept), for tests that
/// check the kept JSON against a fresh encoding.
#[cfg(test)]
pub(crate) fn with_fresh_encoding<R>(f: impl FnOnce() -> R) -> R {
    FRESH_ENCODING.with(|c| c.set(true));
    let out = f();
    FRESH_ENCODING.with(|c| c.set(false));
    out
}

/// [`write`], reusing the JSON of entries that did not change.
pub(crate) fn write_cached(object: &mut Value, mut entries: Vec<(Entry, Option<Value>)>) {
    #[cfg(test)]
    if FRESH_ENCODING.with(|c| c.get()) {
        for (_, json) in &mut entries {
            *json = None;
        }
    }
    entries.retain(|(entry, _)| !entry.fields.is_empty());
    entries.sort_by(|a, b| entry_order(&a.0, &b.0));
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(metadata)) = root.get_mut("metadata") {
            metadata.shift_remove("managedFields");
        }
        return;
    }
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert(
            "managedFields".into(),
            Value::Array(
                entries
                    .into_iter()
                    .map(|(entry, json)| json.unwrap_or_else(|| entry.to_json()))
                    .collect(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOY: Gvk<'static> = Gvk::new("apps", "v1", "Deployment");

    fn deployment(replicas: u64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "5",
                         "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    fn paths(entry: &Entry) -> Vec<String> {
        entry
            .fields
            .iter()
            .map(|path| fieldset::display(path))
            .collect()
    }

    #[test]
    fn create_gives_every_field_to_the_creator() {
        let mut created = deployment(1, "nginx");
        record_update(
            None,
            &mut created,
            &DEPLOY,
            "kubectl-create",
            "2024-01-01T00:00:00Z",
        );
        let entries = read(&created);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager, "kubectl-create");
        assert_eq!(entries[0].operation, "Update");
        assert_eq!(entries[0].api_version, "apps/v1");
        assert_eq!(
            paths(&entries[0]),
            [
                ".metadata.labels.app",
                ".spec.replicas",
                r#".spec.template.spec.containers[name="web"]"#,
                r#".spec.template.spec.containers[name="web"].image"#,
                r#".spec.template.spec.containers[name="web"].name"#,
            ]
        );
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"],
            json!({})
        );
    }

    #[test]
    fn an_update_takes_over_what_it_changed() {
        let mut old = deployment(1, "nginx");
        record_update(
            None,
            &mut old,
            &DEPLOY,
            "kubectl-create",
            "2024-01-01T00:00:00Z",
        );
        let mut new = deployment(3, "nginx");
        if let Some(meta) = new["metadata"].as_object_mut() {
            meta.insert(
                "managedFields".into(),
                old["metadata"]["managedFields"].clone(),
            );
        }
        record_update(
            Some(&old),
            &mut new,
            &DEPLOY,
            "kubectl-scale",
            "2024-01-02T00:00:00Z",
        );
        let entries = read(&new);
        let creator = entries
            .iter()
            .find(|e| e.manager == "kubectl-create")
            .expect("creator keeps the rest");
        let scaler = entries
            .iter()
            .find(|e| e.manager == "kubectl-scale")
            .expect("scaler entry");
        assert!(!paths(creator).contains(&".spec.replicas".to_string()));
        assert_eq!(paths(scaler), [".spec.replicas"]);
        assert_eq!(scaler.time.as_deref(), Some("2024-01-02T00:00:00Z"));
        // Sorted by time within Update entries.
        assert_eq!(entries[0].manager, "kubectl-create");
    }

    #[test]
    fn removed_fields_leave_every_manager() {
        let mut old = deployment(1, "nginx");
        record_update(None, &mut old, &DEPLOY, "a", "t1");
        let mut new = old.clone();
        if let Some(meta) = new["metadata"].as_object_mut() {
            meta.shift_remove("labels");
        }
        record_update(Some(&old), &mut new, &DEPLOY, "b", "t2");
        let entries = read(&new);
        assert_eq!(
            entries.len(),
            1,
            "b changed nothing it could own: {entries:?}"
        );
        assert!(!paths(&entries[0]).contains(&".metadata.labels.app".to_string()));
    }

    #[test]
    fn untracked_objects_stay_untracked_until_applied() {
        let old = deployment(1, "nginx");
        let mut new = deployment(2, "nginx");
        record_update(Some(&old), &mut new, &DEPLOY, "x", "t");
        assert!(new["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn describe_like_print_manager() {
        let mut entry = Entry {
            manager: "kubectl-client-side-apply".into(),
            operation: UPDATE.into(),
            api_version: "apps/v1".into(),
            time: Some("2024-05-01T10:00:00Z".into()),
            subresource: String::new(),
            fields: FieldSet::new(),
        };
        assert_eq!(
            entry.describe(),
            r#""kubectl-client-side-apply" using apps/v1 at 2024-05-01T10:00:00Z"#
        );
        entry.operation = APPLY.into();
        entry.subresource = "status".into();
        assert_eq!(
            entry.describe(),
            r#""kubectl-client-side-apply" with subresource "status""#
        );
    }

    /// The plain algorithm (full field sets, every entry encoded again), which the optimised
    /// `record_update` must match.
    fn reference_record_update(
        old: Option<&Value>,
        new: &mut Value,
        gvk: &Gvk<'_>,
        manager: &str,
        now: &str,
    ) {
        if !new.is_object() {
            return;
        }
        let subresource = gvk.subresource.unwrap_or_default();
        let mut entries = read(new);
        if entries.is_empty() {
            entries = old.map(read).unwrap_or_default();
        }
        if entries.is_empty() && old.is_some() {
            write(new, Vec::new());
            return;
        }
        let new_set = owned_fields(new, gvk, Scope::All);
        let (changed, removed) = match old {
            None => (new_set, FieldSet::new()),
            Some(old) => {
                let old_set = owned_fields(old, gvk, Scope::All);
                let mut changed: FieldSet = new_set.difference(&old_set).cloned().collect();
                changed.extend(modified(old, new, old_set.intersection(&new_set).cloned()));
                let removed: FieldSet = old_set.difference(&new_set).cloned().collect();
                (changed, removed)
            }
        };
        let mut mine = None;
        for (index, entry) in entries.iter_mut().enumerate() {
            if entry.is(manager, UPDATE, subresource) {
                mine = Some(index);
                continue;
            }
            entry
                .fields
                .retain(|path| !changed.contains(path) && !removed.contains(path));
        }
        let previous = mine
            .and_then(|index| entries.get(index))
            .map(|entry| entry.fields.clone())
            .unwrap_or_default();
        let mut fields: FieldSet = previous.union(&changed).cloned().collect();
        fields.retain(|path| !removed.contains(path));
        if fields != previous {
            let entry = Entry {
                manager: manager.to_string(),
                operation: UPDATE.to_string(),
                api_version: gvk.api_version(),
                time: Some(now.to_string()),
                subresource: subresource.to_string(),
                fields,
            };
            match mine {
                Some(index) => entries[index] = entry,
                None => entries.push(entry),
            }
        }
        write(new, entries);
    }

    mod equivalence {
        use super::*;
        use proptest::prelude::*;

        fn arb_deployment() -> impl Strategy<Value = Value> {
            (
                prop::option::of(0u64..4),
                prop::collection::btree_map("[ab]", "[xy]", 0..3),
                prop::collection::vec(("[cd]", "[ij]", prop::option::of(80u64..82)), 0..3),
                prop::option::of(prop::collection::vec("[pq]", 0..3)),
                prop::option::of("[uv]"),
            )
                .prop_map(|(replicas, labels, containers, finalizers, note)| {
                    let mut spec = serde_json::Map::new();
                    if let Some(r) = replicas {
                        spec.insert("replicas".into(), json!(r));
                    }
                    let containers: Vec<Value> = containers
                        .into_iter()
                        .map(|(name, image, port)| {
                            let mut c = json!({"name": name, "image": image});
                            if let Some(p) = port {
                                c["ports"] = json!([{"containerPort": p}]);
                            }
                            c
                        })
                        .collect();
                    spec.insert(
                        "template".into(),
                        json!({"spec": {"containers": containers}}),
                    );
                    let mut meta = json!({"name": "web", "labels": labels});
                    if let Some(f) = finalizers {
                        meta["finalizers"] = json!(f);
                    }
                    if let Some(n) = note {
                        meta["annotations"] = json!({"note": n});
                    }
                    json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": meta, "spec": spec})
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

            #[test]
            fn optimised_record_update_matches_the_plain_algorithm(
                first in arb_deployment(),
                second in arb_deployment(),
                third in arb_deployment(),
                send_fields in any::<bool>(),
                same_manager in any::<bool>(),
            ) {
                // Created by one manager, updated by another, then updated again.
                let mut created = first;
                record_update(None, &mut created, &DEPLOY, "creator", "t1");
                let mut expected_created = created.clone();
                expected_created["metadata"].as_object_mut().unwrap().shift_remove("managedFields");
                reference_record_update(None, &mut expected_created, &DEPLOY, "creator", "t1");
                prop_assert_eq!(&created, &expected_created);

                let mut updated = second.clone();
                if send_fields {
                    updated["metadata"]["managedFields"] = created["metadata"]["managedFields"].clone();
                }
                let mut expected = updated.clone();
                record_update(Some(&created), &mut updated, &DEPLOY, "editor", "t2");
                reference_record_update(Some(&created), &mut expected, &DEPLOY, "editor", "t2");
                prop_assert_eq!(&updated, &expected);

                let manager = if same_manager { "editor" } else { "creator" };
                let mut again = third.clone();
                let mut expected = third;
                record_update(Some(&updated), &mut again, &DEPLOY, manager, "t3");
                reference_record_update(Some(&updated), &mut expected, &DEPLOY, manager, "t3");
                prop_assert_eq!(&again, &expected);
            }
        }
    }

    #[test]
    fn server_owned_paths() {
        let f = |s: &str| Element::Field(s.into());
        assert!(server_owned(&[f("metadata"), f("resourceVersion")]));
        assert!(server_owned(&[f("kind")]));
        assert!(!server_owned(&[f("metadata"), f("labels"), f("name")]));
        assert!(!server_owned(&[f("spec"), f("kind")]));
    }
}
