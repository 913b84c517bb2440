//! RBAC evaluation over the stored `rbac.authorization.k8s.io` objects, for callers with a
//! ServiceAccount token ([`crate::auth::Role::ServiceAccount`]).
//!
//! As the real RBAC authorizer: a request is allowed when a rule of a role bound to the caller
//! covers it. ClusterRoleBindings apply everywhere; RoleBindings only to requests in their
//! namespace, with their Role (same namespace) or ClusterRole. Subjects match by `User` name,
//! `Group` (the caller's groups) or `ServiceAccount` (name and namespace, the binding's
//! namespace when the subject names none). A rule covers a request when its `verbs`,
//! `apiGroups` and `resources` contain the request's (`"*"` matches all; a resource is
//! `pods`, or `pods/log` for a subresource, and `*/log` matches any resource's `log`) and, when
//! it lists `resourceNames`, the request names one of them. Non-resource requests match
//! `nonResourceURLs` (exact, or a prefix ending in `*`).
//!
//! The default ClusterRoles every cluster has bound to `system:authenticated` are built in,
//! since the virtual cluster does not store them: `system:basic-user` (self reviews),
//! `system:discovery` and `system:public-info-viewer` (discovery, health, version). A
//! reference to a ClusterRole `cluster-admin` that is not stored resolves to the real one's
//! rules. Aggregated ClusterRoles are not aggregated.
//!
//! ```
//! use aiopslab_sim::api::rbac::rule_allows;
//! use aiopslab_sim::auth::Attributes;
//! use serde_json::json;
//! let rule = json!({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]});
//! let logs = Attributes { verb: "get", group: "", resource: "pods", subresource: "log",
//!     namespace: Some("app"), name: Some("web-0") };
//! assert!(rule_allows(&rule, &logs));
//! let exec = Attributes { subresource: "exec", verb: "create", ..logs.clone() };
//! assert!(!rule_allows(&rule, &exec));
//! ```

use crate::auth::{Attributes, Identity, forbidden_message};
use crate::resources::ResourceKey;
use crate::store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The built-in default ClusterRoles bound to `system:authenticated` on every cluster, with
/// their rules.
fn default_roles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "system:basic-user",
            json!([
                {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                 "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
                 "resources": ["selfsubjectreviews"]},
            ]),
        ),
        (
            "system:discovery",
            json!([
                {"verbs": ["get"], "nonResourceURLs": [
                    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                    "/openapi/*", "/readyz", "/version", "/version/"]},
            ]),
        ),
        (
            "system:public-info-viewer",
            json!([
                {"verbs": ["get"], "nonResourceURLs": [
                    "/healthz", "/livez", "/readyz", "/version", "/version/"]},
            ]),
        ),
    ]
}

/// The rules of the real `cluster-admin` ClusterRole.
fn cluster_admin_rules() -> Value {
    json!([
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ])
}

fn strings<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn contains_or_all(value: &Value, key: &str, wanted: &str) -> bool {
    strings(value, key).any(|s| s == "*" || s == wanted)
}

/// Whether one `PolicyRule` (JSON) covers a resource request, as the real `RuleAllows`.
pub fn rule_allows(rule: &Value, attrs: &Attributes<'_>) -> bool {
    if !contains_or_all(rule, "verbs", attrs.verb)
        || !contains_or_all(rule, "apiGroups", attrs.group)
    {
        return false;
    }
    let combined = if attrs.subresource.is_empty() {
        attrs.resource.to_string()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let resource_ok = strings(rule, "resources").any(|r| {
        r == "*"
            || r == combined
            || (!attrs.subresource.is_empty() && r.strip_prefix("*/") == Some(attrs.subresource))
    });
    if !resource_ok {
        return false;
    }
    let mut names = strings(rule, "resourceNames").peekable();
    if names.peek().is_none() {
        return true;
    }
    let wanted = attrs.name.unwrap_or("");
    !wanted.is_empty() && names.any(|n| n == wanted)
}

/// Whether one `PolicyRule` covers a non-resource request (`GET /healthz`).
pub fn non_resource_rule_allows(rule: &Value, verb: &str, path: &str) -> bool {
    contains_or_all(rule, "verbs", verb)
        && strings(rule, "nonResourceURLs").any(|u| {
            u == "*" || u == path || u.strip_suffix('*').is_some_and(|p| path.starts_with(p))
        })
}

/// Whether a binding's subject is `who`. `binding_namespace` defaults a ServiceAccount
/// subject's namespace (RoleBindings only).
fn subject_matches(subject: &Value, who: &Identity, binding_namespace: &str) -> bool {
    let text = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    match text("kind") {
        "User" => text("name") == who.username,
        "Group" => who.groups.iter().any(|g| g == text("name")),
        "ServiceAccount" => {
            let ns = match text("namespace") {
                "" => binding_namespace,
                ns => ns,
            };
            !ns.is_empty() && who.username == format!("system:serviceaccount:{ns}:{}", text("name"))
        }
        _ => false,
    }
}

/// How the real authorizer names a subject in its reasons: `ServiceAccount "name/ns"`.
fn describe_subject(subject: &Value, binding_namespace: &str) -> String {
    let text = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    let kind = text("kind");
    if kind == "ServiceAccount" {
        let ns = match text("namespace") {
            "" => binding_namespace,
            ns => ns,
        };
        format!("{kind} \"{}/{ns}\"", text("name"))
    } else {
        format!("{kind} \"{}\"", text("name"))
    }
}

/// A set of rules that applies to the caller and where it comes from.
struct Grant {
    /// `ClusterRoleBinding "b" of ClusterRole "r" to ServiceAccount "sa/ns"`.
    source: String,
    rules: Value,
}

/// The rules of the role a binding refers to (`None` when it does not exist).
fn role_rules(store: &Store, role_ref: &Value, binding_namespace: &str) -> Option<Value> {
    let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let stored = match kind {
        "ClusterRole" => store.get_arc(&ResourceKey::new(RBAC_GROUP, "clusterroles"), "", name),
        "Role" if !binding_namespace.is_empty() => store.get_arc(
            &ResourceKey::new(RBAC_GROUP, "roles"),
            binding_namespace,
            name,
        ),
        _ => return None,
    };
    match stored {
        Ok(role) => Some(role.get("rules").cloned().unwrap_or_else(|| json!([]))),
        Err(_) if kind == "ClusterRole" && name == "cluster-admin" => Some(cluster_admin_rules()),
        Err(_) => None,
    }
}

/// The grants of the bindings in `bindings` whose subjects include `who`.
fn grants_of(
    store: &Store,
    who: &Identity,
    bindings: &[Arc<Value>],
    kind: &str,
    out: &mut Vec<Grant>,
) {
    for binding in bindings {
        let name = binding
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = binding
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(subject) = binding
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| subject_matches(s, who, ns))
        else {
            continue;
        };
        let Some(role_ref) = binding.get("roleRef") else {
            continue;
        };
        let Some(rules) = role_rules(store, role_ref, ns) else {
            continue;
        };
        let shown = if ns.is_empty() {
            name.to_string()
        } else {
            format!("{name}/{ns}")
        };
        out.push(Grant {
            source: format!(
                "{kind} \"{shown}\" of {} \"{}\" to {}",
                role_ref.get("kind").and_then(Value::as_str).unwrap_or(""),
                role_ref.get("name").and_then(Value::as_str).unwrap_or(""),
                describe_subject(subject, ns)
            ),
            rules,
        });
    }
}

/// Every grant that applies to `who` for a request in `namespace` (`None`: cluster scope):
/// the built-in defaults, the ClusterRoleBindings, then the RoleBindings of the namespace.
fn grants(store: &Store, who: &Identity, namespace: Option<&str>) -> Vec<Grant> {
    let mut out = Vec::new();
    if who.groups.iter().any(|g| g == "system:authenticated") {
        for (role, rules) in default_roles() {
            out.push(Grant {
                source: format!(
                    "ClusterRoleBinding \"{role}\" of ClusterRole \"{role}\" to Group \"system:authenticated\""
                ),
                rules,
            });
        }
    }
    let (cluster_bindings, _) =
        store.list(&ResourceKey::new(RBAC_GROUP, "clusterrolebindings"), None);
    grants_of(
        store,
        who,
        &cluster_bindings,
        "ClusterRoleBinding",
        &mut out,
    );
    if let Some(ns) = namespace.filter(|ns| !ns.is_empty()) {
        let (bindings, _) = store.list(&ResourceKey::new(RBAC_GROUP, "rolebindings"), Some(ns));
        grants_of(store, who, &bindings, "RoleBinding", &mut out);
    }
    out
}

fn rules_of(grant: &Grant) -> impl Iterator<Item = &Value> {
    grant.rules.as_array().into_iter().flatten()
}

/// Decides a resource request: `Ok(reason)` (`RBAC: allowed by ...`) or `Err` with the real
/// `Forbidden` message.
pub fn authorize(store: &Store, who: &Identity, attrs: &Attributes<'_>) -> Result<String, String> {
    for grant in grants(store, who, attrs.namespace) {
        if rules_of(&grant).any(|rule| rule_allows(rule, attrs)) {
            return Ok(format!("RBAC: allowed by {}", grant.source));
        }
    }
    Err(forbidden_message(who, attrs))
}

/// Decides a non-resource request (`get /healthz`): the reason when allowed.
pub fn authorize_non_resource(
    store: &Store,
    who: &Identity,
    verb: &str,
    path: &str,
) -> Option<String> {
    grants(store, who, None).into_iter().find_map(|grant| {
        rules_of(&grant)
            .any(|rule| non_resource_rule_allows(rule, verb, path))
            .then(|| format!("RBAC: allowed by {}", grant.source))
    })
}

/// The `resourceRules` and `nonResourceRules` of a `SelfSubjectRulesReview` in `namespace`:
/// every rule of every grant, in the real server's shape.
pub fn rules_review(store: &Store, who: &Identity, namespace: &str) -> (Value, Value) {
    let ns = (!namespace.is_empty()).then_some(namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    let pick = |rule: &Value, keys: &[&str]| {
        let mut out = serde_json::Map::new();
        for key in keys {
            if let Some(v) = rule
                .get(*key)
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                out.insert((*key).to_string(), v.clone());
            }
        }
        if !out.contains_key("verbs") {
            out.insert("verbs".into(), json!([]));
        }
        Value::Object(out)
    };
    for grant in grants(store, who, ns) {
        for rule in rules_of(&grant) {
            if rule
                .get("nonResourceURLs")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                non_resource_rules.push(pick(rule, &["verbs", "nonResourceURLs"]));
            } else {
                resource_rules.push(pick(
                    rule,
                    &["verbs", "apiGroups", "resources", "resourceNames"],
                ));
            }
        }
    }
    (
        Value::Array(resource_rules),
        Value::Array(non_resource_rules),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::WallClock;

    fn attrs<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        sub: &'a str,
        ns: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            group,
            resource,
            subresource: sub,
            namespace: ns,
            name,
        }
    }

    #[test]
    fn rules_match_like_rbac() {
        let all = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
        assert!(rule_allows(
            &all,
            &attrs("create", "", "pods", "exec", Some("a"), Some("p"))
        ));
        let scale = json!({"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]});
        assert!(rule_allows(
            &scale,
            &attrs(
                "update",
                "apps",
                "deployments",
                "scale",
                Some("a"),
                Some("d")
            )
        ));
        assert!(!rule_allows(
            &scale,
            &attrs("update", "apps", "deployments", "", Some("a"), Some("d"))
        ));
        let named = json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"],
            "resourceNames": ["cfg"]});
        assert!(rule_allows(
            &named,
            &attrs("get", "", "configmaps", "", Some("a"), Some("cfg"))
        ));
        assert!(!rule_allows(
            &named,
            &attrs("get", "", "configmaps", "", Some("a"), Some("other"))
        ));
        assert!(!rule_allows(
            &named,
            &attrs("list", "", "configmaps", "", Some("a"), None)
        ));
        let pods = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
        assert!(!rule_allows(
            &pods,
            &attrs("get", "", "pods", "log", Some("a"), Some("p"))
        ));
        assert!(!rule_allows(
            &pods,
            &attrs("get", "apps", "pods", "", Some("a"), Some("p"))
        ));
        assert!(!rule_allows(
            &pods,
            &attrs("delete", "", "pods", "", Some("a"), Some("p"))
        ));
        assert!(non_resource_rule_allows(
            &json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}),
            "get",
            "/apis/apps"
        ));
    }

    #[test]
    fn bindings_grant_in_their_scope() {
        let store = Store::new(1, Arc::new(WallClock));
        let put = |plural: &str, ns: &str, obj: Value| {
            store
                .create(&ResourceKey::new(RBAC_GROUP, plural), ns, obj)
                .expect("stored");
        };
        put(
            "roles",
            "app",
            json!({"metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]}),
        );
        put(
            "rolebindings",
            "app",
            json!({"metadata": {"name": "bot-reads"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
        );
        put(
            "clusterroles",
            "",
            json!({"metadata": {"name": "nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]}),
        );
        put(
            "clusterrolebindings",
            "",
            json!({"metadata": {"name": "bots-nodes"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "nodes"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:app"}]}),
        );
        let bot = Identity::service_account("app", "bot");
        assert_eq!(
            authorize(&store, &bot, &attrs("get", "", "pods", "log", Some("app"), Some("p"))),
            Ok("RBAC: allowed by RoleBinding \"bot-reads/app\" of Role \"reader\" to ServiceAccount \"bot/app\"".to_string())
        );
        assert_eq!(
            authorize(&store, &bot, &attrs("list", "", "pods", "", Some("other"), None)),
            Err("pods is forbidden: User \"system:serviceaccount:app:bot\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\"".to_string())
        );
        assert!(authorize(&store, &bot, &attrs("list", "", "nodes", "", None, None)).is_ok());
        assert!(
            authorize(
                &store,
                &bot,
                &attrs("delete", "", "nodes", "", None, Some("n"))
            )
            .is_err()
        );
        // A ServiceAccount of the same name elsewhere gets nothing from the RoleBinding.
        let other = Identity::service_account("elsewhere", "bot");
        assert!(
            authorize(
                &store,
                &other,
                &attrs("get", "", "pods", "", Some("app"), Some("p"))
            )
            .is_err()
        );
        // Self reviews and discovery come from the built-in defaults.
        assert!(
            authorize(
                &store,
                &other,
                &attrs(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "",
                    None,
                    None
                )
            )
            .is_ok()
        );
        assert!(authorize_non_resource(&store, &other, "get", "/apis/apps/v1").is_some());
        assert!(authorize_non_resource(&store, &other, "get", "/metrics").is_none());
        let (rules, non_resource) = rules_review(&store, &bot, "app");
        assert!(
            rules
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["resources"] == json!(["pods", "pods/log"]))
        );
        assert!(!non_resource.as_array().unwrap().is_empty());
    }
}
