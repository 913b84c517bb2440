//! Reading Kubernetes manifests: multi-document YAML (or JSON) files and directories, as
//! `kubectl apply -f` / `-Rf` reads them.
//!
//! - Documents are split at `---` lines and parsed one at a time, so that an error names the
//!   file, the document number and the line.
//! - YAML 1.1 octal numbers are read as kubectl does (`defaultMode: 0644` is 420).
//! - Empty documents are skipped; `kind: List` (and `*List`) documents are expanded.
//! - Fields that describe a stored object rather than a wish are dropped (`status`,
//!   `metadata.resourceVersion`, `uid`, `creationTimestamp`, `managedFields`, ...), as are
//!   `null` values, so that the output of `kubectl get -o yaml` can be applied again.
//!
//! ```
//! use aiopslab_k8s::manifest::parse_manifests;
//! let objs = parse_manifests("app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n").unwrap();
//! assert_eq!(objs.len(), 1);
//! assert_eq!(objs[0].location(), "app.yaml, document 1 (line 1), ConfigMap a");
//! ```

use crate::error::{K8sError, Result};
use kube::core::{DynamicObject, GroupVersionKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One object read from a manifest, with where it came from.
#[derive(Debug, Clone)]
pub struct ManifestObject {
    /// The file (or the name given to a string).
    pub source: String,
    /// Document number in the file, from 1.
    pub document: usize,
    /// Item number inside a `kind: List` document, from 1.
    pub item: Option<usize>,
    /// First line of the document's content, from 1.
    pub line: usize,
    /// The object's group, version and kind.
    pub gvk: GroupVersionKind,
    /// The object.
    pub object: DynamicObject,
}

impl ManifestObject {
    /// The object's name.
    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or_default()
    }

    /// The object's namespace, when the manifest sets one.
    pub fn namespace(&self) -> Option<&str> {
        self.object.metadata.namespace.as_deref()
    }

    /// The object's `apiVersion`.
    pub fn api_version(&self) -> String {
        self.gvk.api_version()
    }

    /// `file, document N (line L), Kind name`: where to look when something is wrong.
    pub fn location(&self) -> String {
        let mut s = document_location(&self.source, self.document, self.line);
        if let Some(item) = self.item {
            s.push_str(&format!(" item {item}"));
        }
        s.push_str(&format!(", {} {}", self.gvk.kind, self.name()));
        s
    }
}

fn document_location(source: &str, document: usize, line: usize) -> String {
    format!("{source}, document {document} (line {line})")
}

/// Splits a YAML stream into documents: `(first line of content from 1, text)`. The text
/// keeps its `---` marker line and is padded with empty lines, so that parser errors carry
/// line numbers of the whole file.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let push = |start: usize, body: &mut String, docs: &mut Vec<(usize, String)>| {
        let first = body.lines().position(|l| {
            // A bare marker (`---`, `--- # comment`) is not content; `--- {a: 1}` is.
            let t = l.strip_prefix("---").unwrap_or(l).trim();
            !(t.is_empty() || t.starts_with('#') || t.starts_with('%'))
        });
        if let Some(offset) = first {
            let mut padded = "\n".repeat(start - 1);
            padded.push_str(body);
            docs.push((start + offset, padded));
        }
        body.clear();
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let is_start = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        let is_end = line == "..." || line.starts_with("... ");
        if is_start {
            push(start, &mut current, &mut docs);
            start = n;
            current.push_str(line);
            current.push('\n');
        } else if is_end {
            push(start, &mut current, &mut docs);
            start = n + 1;
        } else {
            if current.is_empty() {
                start = n;
            }
            current.push_str(line);
            current.push('\n');
        }
    }
    push(start, &mut current, &mut docs);
    docs
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options
}

/// Parses a multi-document YAML (or JSON) text; `source` names it in errors.
pub fn parse_manifests(source: &str, text: &str) -> Result<Vec<ManifestObject>> {
    let mut out = Vec::new();
    for (index, (line, doc)) in split_documents(text).into_iter().enumerate() {
        let document = index + 1;
        let value: Value =
            serde_saphyr::from_str_with_options(&doc, yaml_options()).map_err(|e| {
                K8sError::Manifest {
                    location: document_location(source, document, line),
                    message: format!("not valid YAML: {e}"),
                }
            })?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
            let Some(items) = value.get("items").and_then(Value::as_array) else {
                return Err(K8sError::Manifest {
                    location: document_location(source, document, line),
                    message: format!("a {kind} needs an `items` array"),
                });
            };
            for (i, item) in items.iter().enumerate() {
                out.push(to_object(
                    source,
                    document,
                    Some(i + 1),
                    line,
                    item.clone(),
                )?);
            }
        } else {
            out.push(to_object(source, document, None, line, value)?);
        }
    }
    Ok(out)
}

/// Removes `null` values everywhere (they mean "not set").
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

/// Metadata fields the server owns; applying them would conflict or be ignored.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "selfLink",
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Parses `apiVersion` into (group, version).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

fn to_object(
    source: &str,
    document: usize,
    item: Option<usize>,
    line: usize,
    mut value: Value,
) -> Result<ManifestObject> {
    let mut location = document_location(source, document, line);
    if let Some(item) = item {
        location.push_str(&format!(" item {item}"));
    }
    let bad = |location: &str, message: String| K8sError::Manifest {
        location: location.to_string(),
        message,
    };
    let Some(map) = value.as_object_mut() else {
        return Err(bad(
            &location,
            format!(
                "a manifest document must be a mapping with apiVersion, kind and metadata; this one is {}",
                type_name(&value)
            ),
        ));
    };
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.is_empty() {
        return Err(bad(
            &location,
            "`kind` is missing or not a string (e.g. `kind: Deployment`)".into(),
        ));
    }
    location.push_str(&format!(", {kind}"));
    if api_version.is_empty() {
        return Err(bad(
            &location,
            "`apiVersion` is missing or not a string (e.g. `apiVersion: apps/v1`)".into(),
        ));
    }
    let (group, version) = split_api_version(&api_version);
    if version.is_empty()
        || version.contains('/')
        || (api_version.contains('/') && group.is_empty())
    {
        return Err(bad(
            &location,
            format!("`apiVersion: {api_version}` is not of the form `v1` or `group/version`"),
        ));
    }
    let gvk = GroupVersionKind::gvk(group, version, &kind);
    map.remove("status");
    let Some(meta) = map.get_mut("metadata") else {
        return Err(bad(
            &location,
            "`metadata` is missing; give at least `metadata.name`".into(),
        ));
    };
    let Some(meta_map) = meta.as_object_mut() else {
        return Err(bad(
            &location,
            format!("`metadata` must be a mapping, not {}", type_name(meta)),
        ));
    };
    for key in SERVER_METADATA {
        meta_map.remove(*key);
    }
    if let Some(other) = meta_map.get("name").filter(|v| !v.is_string()) {
        return Err(bad(
            &location,
            format!("`metadata.name` must be a string, but it reads as {other}; quote it"),
        ));
    }
    let name = meta_map.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        let hint = if meta_map.contains_key("generateName") {
            "; generateName works only with create, apply needs a fixed name"
        } else {
            ""
        };
        return Err(bad(
            &location,
            format!("`metadata.name` is missing or empty{hint}"),
        ));
    }
    location.push_str(&format!(" {name}"));
    drop_nulls(&mut value);
    let object: DynamicObject = serde_json::from_value(value).map_err(|e| {
        bad(
            &location,
            format!("the object does not fit the Kubernetes object shape: {e}"),
        )
    })?;
    Ok(ManifestObject {
        source: source.to_string(),
        document,
        item,
        line,
        gvk,
        object,
    })
}

/// Reads one manifest file.
pub fn read_manifest_file(path: &Path) -> Result<Vec<ManifestObject>> {
    let text = std::fs::read_to_string(path).map_err(|source| K8sError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifests(&path.display().to_string(), &text)
}

fn is_manifest_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| K8sError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if is_manifest_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads a manifest file, or every `.yaml`, `.yml` and `.json` file under a directory
/// (recursively, in path order), like `kubectl apply -Rf`.
pub fn read_manifests(path: &Path) -> Result<Vec<ManifestObject>> {
    if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        let mut out = Vec::new();
        for file in files {
            out.extend(read_manifest_file(&file)?);
        }
        Ok(out)
    } else {
        read_manifest_file(path)
    }
}

/// The apply rank of a kind: namespaces, CRDs, configuration, storage, RBAC, services,
/// workloads, then everything else (custom resources, webhooks, ...).
pub fn apply_rank(gvk: &GroupVersionKind) -> u8 {
    match gvk.kind.as_str() {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "PriorityClass" | "ResourceQuota" | "LimitRange" | "ConfigMap" | "Secret" => 2,
        "StorageClass" | "PersistentVolume" => 3,
        "PersistentVolumeClaim" => 4,
        "ServiceAccount" | "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding" => 5,
        "Service" | "Endpoints" | "EndpointSlice" | "IngressClass" | "Ingress"
        | "NetworkPolicy" => 6,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Pod"
        | "Job"
        | "CronJob"
        | "HorizontalPodAutoscaler"
        | "PodDisruptionBudget" => 7,
        _ => 8,
    }
}

/// Sorts objects into apply order ([`apply_rank`]), keeping file order within a rank.
pub fn sort_for_apply(objects: &mut [ManifestObject]) {
    objects.sort_by_key(|o| apply_rank(&o.gvk));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "# leading comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  creationTimestamp: null\n  resourceVersion: \"12\"\nspec:\n  template:\n    spec:\n      volumes:\n      - name: v\n        configMap:\n          name: c\n          defaultMode: 0644\nstatus: {}\n";

    #[test]
    fn documents_skip_empty_ones_and_keep_lines() {
        let objs = parse_manifests("m.yaml", MULTI).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[0].location(),
            "m.yaml, document 1 (line 3), Namespace demo"
        );
        assert_eq!(
            objs[1].location(),
            "m.yaml, document 2 (line 9), Deployment web"
        );
        assert_eq!(objs[1].gvk.group, "apps");
        let data = &objs[1].object.data;
        assert_eq!(
            data["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"], 420,
            "YAML 1.1 octal like kubectl"
        );
        assert!(data.get("status").is_none());
        assert!(objs[1].object.metadata.resource_version.is_none());
        assert!(objs[1].object.metadata.creation_timestamp.is_none());
    }

    #[test]
    fn syntax_errors_name_document_and_file_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [b\n";
        let err = parse_manifests("bad.yaml", text).unwrap_err().to_string();
        assert!(
            err.starts_with("bad.yaml, document 2 (line 6): not valid YAML"),
            "{err}"
        );
        assert!(err.contains("line 9") || err.contains("line 10"), "{err}");
    }

    #[test]
    fn missing_fields_are_named() {
        let err = parse_manifests("x.yaml", "kind: ConfigMap\nmetadata:\n  name: a\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x.yaml, document 1 (line 1), ConfigMap: `apiVersion` is missing or not a string (e.g. `apiVersion: apps/v1`)"
        );
        let err = parse_manifests(
            "x.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: a-\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("generateName works only with create"), "{err}");
        let err = parse_manifests(
            "x.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: no}\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "x.yaml, document 1 (line 1), Namespace: `metadata.name` must be a string, but it reads as false; quote it"
        );
        let err = parse_manifests("x.yaml", "- a\n- b\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("this one is a list"), "{err}");
        let err = parse_manifests(
            "x.yaml",
            "apiVersion: /v1\nkind: Pod\nmetadata: {name: a}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("is not of the form"), "{err}");
    }

    #[test]
    fn lists_expand() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let objs = parse_manifests("l.yaml", text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[1].location(),
            "l.yaml, document 1 (line 1) item 2, Secret b"
        );
    }

    #[test]
    fn apply_order_is_stable_within_a_rank() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\napiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\n";
        let mut objs = parse_manifests("o.yaml", text).unwrap();
        sort_for_apply(&mut objs);
        let names: Vec<&str> = objs.iter().map(|o| o.name()).collect();
        assert_eq!(names, vec!["ns", "c2", "c1", "s", "d", "p"]);
    }

    #[test]
    fn json_documents_parse() {
        let objs = parse_manifests(
            "j.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"j\"}, \"data\": {\"k\": \"v\"}}",
        )
        .unwrap();
        assert_eq!(objs[0].object.data["data"]["k"], "v");
    }
}
