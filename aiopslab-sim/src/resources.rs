//! The catalogue of kinds the virtual cluster serves.
//!
//! Each [`ResourceType`] says where a kind lives in the API (group, version, plural), whether it is
//! namespaced, its short names and categories (so `kubectl get po` and `kubectl get all` work),
//! the verbs it supports and its subresources. Built-in kinds are listed here; kinds defined by a
//! CustomResourceDefinition are added at run time with [`Catalogue::add_crd`].

use serde_json::Value;
use std::collections::BTreeMap;

/// Identifies a collection of objects: an API group and the plural resource name.
///
/// The core group is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// API group (`""` for core, `apps`, `chaos-mesh.org`, ...).
    pub group: String,
    /// Plural resource name (`pods`, `deployments`, `podchaos`, ...).
    pub plural: String,
}

impl ResourceKey {
    /// A key for `group` and `plural`.
    ///
    /// ```
    /// use aiopslab_sim::resources::ResourceKey;
    /// assert_eq!(ResourceKey::new("apps", "deployments").to_string(), "deployments.apps");
    /// assert_eq!(ResourceKey::new("", "pods").to_string(), "pods");
    /// ```
    pub fn new(group: &str, plural: &str) -> Self {
        ResourceKey {
            group: group.to_string(),
            plural: plural.to_string(),
        }
    }
}

impl std::fmt::Display for ResourceKey {
    /// Formats the key as Kubernetes writes it in messages: `pods`, `deployments.apps`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.plural)
        } else {
            write!(f, "{}.{}", self.plural, self.group)
        }
    }
}

/// One served kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Served (and storage) version.
    pub version: String,
    /// Kind, as in the objects' `kind` field.
    pub kind: String,
    /// Plural resource name used in URLs.
    pub plural: String,
    /// Singular resource name (lower-case kind).
    pub singular: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names (`po`, `deploy`, ...).
    pub short_names: Vec<String>,
    /// Categories (`all`, `chaos-mesh`, ...).
    pub categories: Vec<String>,
    /// Verbs the resource supports.
    pub verbs: Vec<String>,
    /// Subresources (`status`, `scale`, `log`, `exec`, ...).
    pub subresources: Vec<String>,
    /// For custom resources: the CRD's `additionalPrinterColumns` of the served version.
    pub printer_columns: Option<Vec<Value>>,
    /// Whether this kind comes from a CustomResourceDefinition.
    pub custom: bool,
}

impl ResourceType {
    /// The collection key of this type.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(&self.group, &self.plural)
    }

    /// `apiVersion` as written in objects: `v1`, `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the type has the named subresource.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Shorthand for building the built-in table.
#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    categories: &[&str],
    subresources: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        subresources: subresources.iter().map(|s| s.to_string()).collect(),
        printer_columns: None,
        custom: false,
    }
}

/// The built-in kinds, in the order discovery lists them.
fn builtins() -> Vec<ResourceType> {
    let all = &["all"][..];
    let none = &[][..];
    let mut types = vec![
        builtin("", "v1", "Binding", "bindings", true, none, none, none),
        builtin(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            &["cm"],
            none,
            none,
        ),
        builtin(
            "",
            "v1",
            "Endpoints",
            "endpoints",
            true,
            &["ep"],
            none,
            none,
        ),
        builtin("", "v1", "Event", "events", true, &["ev"], none, none),
        builtin(
            "",
            "v1",
            "LimitRange",
            "limitranges",
            true,
            &["limits"],
            none,
            none,
        ),
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            none,
            &["finalize", "status"],
        ),
        builtin(
            "",
            "v1",
            "Node",
            "nodes",
            false,
            &["no"],
            none,
            &["proxy", "status"],
        ),
        builtin(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
            &["pvc"],
            none,
            &["status"],
        ),
        builtin(
            "",
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            false,
            &["pv"],
            none,
            &["status"],
        ),
        builtin(
            "",
            "v1",
            "Pod",
            "pods",
            true,
            &["po"],
            all,
            &[
                "attach",
                "binding",
                "ephemeralcontainers",
                "eviction",
                "exec",
                "log",
                "portforward",
                "proxy",
                "status",
            ],
        ),
        builtin(
            "",
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            true,
            &["rc"],
            all,
            &["scale", "status"],
        ),
        builtin(
            "",
            "v1",
            "ResourceQuota",
            "resourcequotas",
            true,
            &["quota"],
            none,
            &["status"],
        ),
        builtin("", "v1", "Secret", "secrets", true, none, none, none),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            none,
            &["token"],
        ),
        builtin(
            "",
            "v1",
            "Service",
            "services",
            true,
            &["svc"],
            all,
            &["proxy", "status"],
        ),
        builtin(
            "apps",
            "v1",
            "ControllerRevision",
            "controllerrevisions",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            true,
            &["ds"],
            all,
            &["status"],
        ),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            true,
            &["deploy"],
            all,
            &["scale", "status"],
        ),
        builtin(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            true,
            &["rs"],
            all,
            &["scale", "status"],
        ),
        builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            true,
            &["sts"],
            all,
            &["scale", "status"],
        ),
        builtin(
            "batch",
            "v1",
            "CronJob",
            "cronjobs",
            true,
            &["cj"],
            all,
            &["status"],
        ),
        builtin("batch", "v1", "Job", "jobs", true, none, all, &["status"]),
        builtin(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            false,
            &["sc"],
            none,
            none,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            &["api-extensions"],
            &["status"],
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            true,
            &["ev"],
            none,
            none,
        ),
        builtin(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "authentication.k8s.io",
            "v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "",
            "v1",
            "PodTemplate",
            "podtemplates",
            true,
            none,
            none,
            none,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            none,
            &["status"],
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
            &["netpol"],
            none,
            none,
        ),
        builtin(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            none,
            &["status"],
        ),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            &["hpa"],
            all,
            &["status"],
        ),
        builtin(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            false,
            &["pc"],
            none,
            none,
        ),
        builtin(
            "metrics.k8s.io",
            "v1beta1",
            "NodeMetrics",
            "nodes",
            false,
            none,
            none,
            none,
        ),
        builtin(
            "metrics.k8s.io",
            "v1beta1",
            "PodMetrics",
            "pods",
            true,
            none,
            none,
            none,
        ),
    ];
    for t in &mut types {
        match (t.group.as_str(), t.plural.as_str()) {
            ("", "bindings") | ("", "pods") if t.kind == "Binding" => {
                t.verbs = vec!["create".into()]
            }
            ("authorization.k8s.io", _) | ("authentication.k8s.io", _) => {
                t.verbs = vec!["create".into()]
            }
            ("metrics.k8s.io", _) => t.verbs = vec!["get".into(), "list".into()],
            _ => {}
        }
    }
    types
}

/// The set of served kinds: the built-ins plus the custom resources defined so far.
#[derive(Debug, Clone)]
pub struct Catalogue {
    types: Vec<ResourceType>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue { types: builtins() }
    }
}

impl Catalogue {
    /// All served types, built-ins first.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `group`/`version` under `plural`.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The type for a collection key, whatever its version.
    pub fn by_key(&self, key: &ResourceKey) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == key.group && t.plural == key.plural)
    }

    /// The type of an object with this `apiVersion` and `kind`.
    ///
    /// ```
    /// use aiopslab_sim::resources::Catalogue;
    /// let cat = Catalogue::default();
    /// assert_eq!(cat.by_kind("apps/v1", "Deployment").unwrap().plural, "deployments");
    /// assert!(cat.by_kind("v1", "Deployment").is_none());
    /// ```
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The API groups with their versions, in discovery order (core group excluded).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) if !versions.contains(&t.version) => {
                    versions.push(t.version.clone())
                }
                Some(_) => {}
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        groups
    }

    /// Adds (or replaces) the types a CustomResourceDefinition defines.
    ///
    /// Returns the names of the served versions, or an error text when the CRD is malformed.
    pub fn add_crd(&mut self, crd: &Value) -> Result<Vec<String>, String> {
        let spec = crd
            .get("spec")
            .ok_or("CustomResourceDefinition has no spec")?;
        let group = str_at(spec, &["group"]).ok_or("spec.group is required")?;
        let names = spec.get("names").ok_or("spec.names is required")?;
        let plural = str_at(names, &["plural"]).ok_or("spec.names.plural is required")?;
        let kind = str_at(names, &["kind"]).ok_or("spec.names.kind is required")?;
        let singular = str_at(names, &["singular"])
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase());
        let namespaced = str_at(spec, &["scope"]) != Some("Cluster");
        let list = |field: &str| -> Vec<String> {
            names
                .get(field)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .ok_or("spec.versions is required")?;
        self.remove_crd(group, plural);
        let mut served = Vec::new();
        for v in versions {
            if v.get("served").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let Some(version) = v.get("name").and_then(Value::as_str) else {
                continue;
            };
            let mut subresources = Vec::new();
            if let Some(sub) = v.get("subresources") {
                if sub.get("status").is_some() {
                    subresources.push("status".to_string());
                }
                if sub.get("scale").is_some() {
                    subresources.push("scale".to_string());
                }
            }
            self.types.push(ResourceType {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: singular.clone(),
                namespaced,
                short_names: list("shortNames"),
                categories: list("categories"),
                verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
                subresources,
                printer_columns: v
                    .get("additionalPrinterColumns")
                    .and_then(Value::as_array)
                    .cloned(),
                custom: true,
            });
            served.push(version.to_string());
        }
        Ok(served)
    }

    /// Removes the custom types of a deleted CRD.
    pub fn remove_crd(&mut self, group: &str, plural: &str) {
        self.types
            .retain(|t| !(t.custom && t.group == group && t.plural == plural));
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (`""`, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Sorted short-name index, handy for tests and discovery.
pub fn short_name_index(cat: &Catalogue) -> BTreeMap<String, ResourceKey> {
    let mut map = BTreeMap::new();
    for t in cat.types() {
        for s in &t.short_names {
            map.entry(s.clone()).or_insert_with(|| t.key());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_and_group_lookups() {
        let cat = Catalogue::default();
        let pods = cat.by_plural("", "v1", "pods").unwrap();
        assert!(pods.namespaced && pods.has_subresource("exec") && pods.has_subresource("log"));
        assert_eq!(pods.api_version(), "v1");
        assert!(!cat.by_plural("", "v1", "nodes").unwrap().namespaced);
        assert_eq!(cat.by_kind("batch/v1", "Job").unwrap().plural, "jobs");
        let groups = cat.groups();
        assert_eq!(groups[0].0, "apps");
        assert!(
            groups
                .iter()
                .any(|(g, v)| g == "metrics.k8s.io" && v == &["v1beta1"])
        );
        assert_eq!(
            short_name_index(&cat)["deploy"],
            ResourceKey::new("apps", "deployments")
        );
    }

    #[test]
    fn crd_adds_and_removes_types() {
        let mut cat = Catalogue::default();
        let crd = json!({
            "spec": {
                "group": "chaos-mesh.org", "scope": "Namespaced",
                "names": {"kind": "PodChaos", "plural": "podchaos", "singular": "podchaos", "categories": ["chaos-mesh"]},
                "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}}}]
            }
        });
        assert_eq!(cat.add_crd(&crd).unwrap(), vec!["v1alpha1"]);
        let t = cat
            .by_plural("chaos-mesh.org", "v1alpha1", "podchaos")
            .unwrap();
        assert!(t.custom && t.namespaced && t.has_subresource("status"));
        assert_eq!(t.categories, vec!["chaos-mesh"]);
        // Re-adding replaces rather than duplicates.
        cat.add_crd(&crd).unwrap();
        assert_eq!(
            cat.types()
                .iter()
                .filter(|t| t.plural == "podchaos")
                .count(),
            1
        );
        cat.remove_crd("chaos-mesh.org", "podchaos");
        assert!(
            cat.by_plural("chaos-mesh.org", "v1alpha1", "podchaos")
                .is_none()
        );
        assert!(cat.add_crd(&json!({"spec": {}})).is_err());
    }
}
