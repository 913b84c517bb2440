//! Discovery: `/version`, `/api`, `/apis`, `/apis/{group}`, the resource lists of each
//! group-version, and aggregated discovery (`apidiscovery.k8s.io/v2`), which kubectl 1.32 and
//! kube-rs ask for first.
//!
//! Groups hidden from the caller (see [`crate::auth::Policy`]) are left out everywhere.

use crate::auth::{Identity, Policy};
use crate::resources::{Catalogue, ResourceType};
use serde_json::{Map, Value, json};

/// The Kubernetes version the virtual cluster reports (`kubectl version`): a kind v1.33 node,
/// matching the `v1_33` feature of k8s-openapi. kubectl 1.32 is within the supported skew.
pub const SERVER_VERSION: &str = "v1.33.1";

/// The `/version` document.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": SERVER_VERSION,
        "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
        "gitTreeState": "clean",
        "buildDate": "2025-05-15T08:19:08Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// What a subresource looks like in discovery: its kind (with group/version when it differs
/// from the parent's) and verbs.
struct SubInfo {
    group: &'static str,
    version: &'static str,
    kind: Option<&'static str>,
    verbs: &'static [&'static str],
}

fn subresource_info(parent: &ResourceType, sub: &str) -> SubInfo {
    let own = |verbs| SubInfo {
        group: "",
        version: "",
        kind: None,
        verbs,
    };
    let other = |kind, verbs| SubInfo {
        group: "",
        version: "",
        kind: Some(kind),
        verbs,
    };
    match sub {
        "status" => own(&["get", "patch", "update"]),
        "scale" => SubInfo {
            group: "autoscaling",
            version: "v1",
            kind: Some("Scale"),
            verbs: &["get", "patch", "update"],
        },
        "log" => own(&["get"]),
        "exec" => other("PodExecOptions", &["create", "get"]),
        "attach" => other("PodAttachOptions", &["create", "get"]),
        "portforward" => other("PodPortForwardOptions", &["create", "get"]),
        "binding" => other("Binding", &["create"]),
        "eviction" => SubInfo {
            group: "policy",
            version: "v1",
            kind: Some("Eviction"),
            verbs: &["create"],
        },
        "ephemeralcontainers" | "resize" => own(&["get", "patch", "update"]),
        "finalize" => own(&["update"]),
        "token" => SubInfo {
            group: "authentication.k8s.io",
            version: "v1",
            kind: Some("TokenRequest"),
            verbs: &["create"],
        },
        "proxy" => other(
            match parent.kind.as_str() {
                "Node" => "NodeProxyOptions",
                "Service" => "ServiceProxyOptions",
                _ => "PodProxyOptions",
            },
            &["create", "delete", "get", "patch", "update"],
        ),
        _ => own(&["get"]),
    }
}

/// The types of one group-version visible to `who`.
fn visible_types<'a>(
    cat: &'a Catalogue,
    policy: &Policy,
    who: &Identity,
    group: &str,
    version: &str,
) -> Vec<&'a ResourceType> {
    if policy.hides_group(who, group) {
        return Vec::new();
    }
    cat.types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect()
}

/// The groups (with versions) visible to `who`, core excluded.
fn visible_groups(cat: &Catalogue, policy: &Policy, who: &Identity) -> Vec<(String, Vec<String>)> {
    cat.groups()
        .into_iter()
        .filter(|(g, _)| !policy.hides_group(who, g))
        .collect()
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or_else(|| json!({}));
    json!({"name": group, "versions": vs, "preferredVersion": preferred})
}

/// `/apis`.
pub fn group_list(cat: &Catalogue, policy: &Policy, who: &Identity) -> Value {
    let groups: Vec<Value> = visible_groups(cat, policy, who)
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, or `None` when the group is not served (or hidden).
pub fn group(cat: &Catalogue, policy: &Policy, who: &Identity, name: &str) -> Option<Value> {
    let (g, vs) = visible_groups(cat, policy, who)
        .into_iter()
        .find(|(g, _)| g == name)?;
    let mut doc = group_json(&g, &vs);
    let obj = doc.as_object_mut()?;
    let mut out = Map::new();
    out.insert("kind".into(), json!("APIGroup"));
    out.insert("apiVersion".into(), json!("v1"));
    out.append(obj);
    Some(Value::Object(out))
}

/// `/api/v1` or `/apis/{group}/{version}`, or `None` when not served (or hidden).
pub fn resource_list(
    cat: &Catalogue,
    policy: &Policy,
    who: &Identity,
    group: &str,
    version: &str,
) -> Option<Value> {
    let types = visible_types(cat, policy, who, group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in &types {
        let mut r = Map::new();
        r.insert("name".into(), json!(t.plural));
        r.insert("singularName".into(), json!(t.singular));
        r.insert("namespaced".into(), json!(t.namespaced));
        r.insert("kind".into(), json!(t.kind));
        r.insert("verbs".into(), json!(t.verbs));
        if !t.short_names.is_empty() {
            r.insert("shortNames".into(), json!(t.short_names));
        }
        if !t.categories.is_empty() {
            r.insert("categories".into(), json!(t.categories));
        }
        resources.push(Value::Object(r));
        for sub in &t.subresources {
            let info = subresource_info(t, sub);
            let mut r = Map::new();
            r.insert("name".into(), json!(format!("{}/{}", t.plural, sub)));
            r.insert("singularName".into(), json!(""));
            r.insert("namespaced".into(), json!(t.namespaced));
            if !info.group.is_empty() {
                r.insert("group".into(), json!(info.group));
                r.insert("version".into(), json!(info.version));
            }
            r.insert("kind".into(), json!(info.kind.unwrap_or(&t.kind)));
            r.insert("verbs".into(), json!(info.verbs));
            resources.push(Value::Object(r));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn aggregated_version(types: &[&ResourceType], version: &str) -> Value {
    let resources: Vec<Value> = types
        .iter()
        .map(|t| {
            let mut r = Map::new();
            r.insert("resource".into(), json!(t.plural));
            r.insert(
                "responseKind".into(),
                json!({"group": "", "version": "", "kind": t.kind}),
            );
            r.insert(
                "scope".into(),
                json!(if t.namespaced {
                    "Namespaced"
                } else {
                    "Cluster"
                }),
            );
            r.insert("singularResource".into(), json!(t.singular));
            r.insert("verbs".into(), json!(t.verbs));
            if !t.short_names.is_empty() {
                r.insert("shortNames".into(), json!(t.short_names));
            }
            if !t.categories.is_empty() {
                r.insert("categories".into(), json!(t.categories));
            }
            if !t.subresources.is_empty() {
                let subs: Vec<Value> = t
                    .subresources
                    .iter()
                    .map(|s| {
                        let info = subresource_info(t, s);
                        json!({
                            "subresource": s,
                            "responseKind": {"group": info.group, "version": info.version,
                                             "kind": info.kind.unwrap_or(&t.kind)},
                            "verbs": info.verbs,
                        })
                    })
                    .collect();
                r.insert("subresources".into(), Value::Array(subs));
            }
            Value::Object(r)
        })
        .collect();
    json!({"version": version, "resources": resources, "freshness": "Current"})
}

/// Aggregated discovery for `/api` (`core == true`) or `/apis`.
pub fn aggregated(
    cat: &Catalogue,
    policy: &Policy,
    who: &Identity,
    core: bool,
    api_version: &str,
) -> Value {
    let mut items = Vec::new();
    if core {
        let types = visible_types(cat, policy, who, "", "v1");
        items.push(json!({
            "metadata": {"creationTimestamp": null},
            "versions": [aggregated_version(&types, "v1")]
        }));
    } else {
        for (g, vs) in visible_groups(cat, policy, who) {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| aggregated_version(&visible_types(cat, policy, who, &g, v), v))
                .collect();
            items.push(json!({
                "metadata": {"name": g, "creationTimestamp": null},
                "versions": versions
            }));
        }
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_list_has_subresources() {
        let cat = Catalogue::default();
        let p = Policy::default();
        let doc = resource_list(&cat, &p, &Identity::admin(), "apps", "v1").unwrap();
        let res = doc["resources"].as_array().unwrap();
        let scale = res
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        let deploy = res.iter().find(|r| r["name"] == "deployments").unwrap();
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert!(resource_list(&cat, &p, &Identity::admin(), "nope", "v1").is_none());
    }

    #[test]
    fn hidden_groups_are_not_discovered_by_the_agent() {
        let mut cat = Catalogue::default();
        cat.add_crd(
            &json!({"spec": {"group": "chaos-mesh.org", "scope": "Namespaced",
            "names": {"kind": "PodChaos", "plural": "podchaos"},
            "versions": [{"name": "v1alpha1", "served": true}]}}),
        )
        .unwrap();
        let p = Policy::default();
        let has = |doc: &Value| doc.to_string().contains("chaos-mesh.org");
        assert!(has(&group_list(&cat, &p, &Identity::admin())));
        assert!(!has(&group_list(&cat, &p, &Identity::agent())));
        assert!(!has(&aggregated(&cat, &p, &Identity::agent(), false, "v2")));
        assert!(has(&aggregated(&cat, &p, &Identity::admin(), false, "v2")));
        assert!(
            resource_list(&cat, &p, &Identity::agent(), "chaos-mesh.org", "v1alpha1").is_none()
        );
    }

    #[test]
    fn aggregated_core_group() {
        let cat = Catalogue::default();
        let doc = aggregated(&cat, &Policy::default(), &Identity::admin(), true, "v2");
        let pods = doc["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .cloned()
            .unwrap();
        assert_eq!(pods["scope"], "Namespaced");
        assert!(
            pods["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["subresource"] == "log")
        );
    }
}
