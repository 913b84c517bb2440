//! `metadata.managedFields`: reading and writing the entries, and recording which fields a
//! non-apply write (create, update, patch) took over.

use super::Gvk;
use super::fieldset::{self, Element, FieldSet, Path};
use super::schema::apply_type;
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

/// Writes `entries` into `object`'s `metadata.managedFields`: empty entries dropped, sorted as
/// the server sorts them (apply entries first, then by time, manager, API version and
/// subresource), the key removed when nothing is left.
pub(crate) fn write(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
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
    // the stored object's carry over.
    let mut entries = read(new);
    if entries.is_empty() {
        entries = old.map(read).unwrap_or_default();
    }
    if entries.is_empty() && old.is_some() {
        // An object nobody tracked stays untracked until its first apply (which then gives
        // its fields to "before-first-apply"), as the real server's skip-non-applied manager does.
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

    #[test]
    fn server_owned_paths() {
        let f = |s: &str| Element::Field(s.into());
        assert!(server_owned(&[f("metadata"), f("resourceVersion")]));
        assert!(server_owned(&[f("kind")]));
        assert!(!server_owned(&[f("metadata"), f("labels"), f("name")]));
        assert!(!server_owned(&[f("spec"), f("kind")]));
    }
}
