//! Who is calling and what they may do.
//!
//! The virtual cluster knows two identities, each with its own bearer token written into its
//! own kubeconfig:
//! - the **admin** (`kubernetes-admin`, group `system:masters`): the orchestrator, fault
//!   injectors and people; everything is allowed;
//! - the **agent** (`system:serviceaccount:aiopslab:agent`): the AIOps agent under test; it may
//!   do everything except touching what the benchmark hides from it.
//!
//! A third kind of caller holds a token issued through the TokenRequest API
//! (`kubectl create token`, a real-cluster agent credential): a ServiceAccount
//! ([`Identity::service_account`], [`Role::ServiceAccount`]) whose every request is decided by
//! RBAC over the stored Roles, ClusterRoles and bindings (see `crate::api::rbac`); the
//! [`Policy`] hides nothing from it and lists are not filtered, as on a real cluster.
//!
//! What is hidden from the agent ([`Policy`]):
//! - every resource of a hidden API group (`chaos-mesh.org` by default: the fault objects);
//! - everything in a hidden namespace (`aiopslab-system` by default: the orchestrator's);
//! - the CustomResourceDefinitions of hidden groups.
//!
//! Requests for hidden things are refused with `403 Forbidden` and the real RBAC message.
//!
//! **Deviation from RBAC:** real RBAC cannot filter a list, so an agent with cluster-wide list
//! rights would see objects of hidden namespaces in `kubectl get pods -A`. The virtual cluster
//! instead *filters* cluster-wide lists and watches for the agent: objects in hidden
//! namespaces, the hidden namespaces themselves, CRDs of hidden groups and Events about objects
//! of hidden groups are left out, as if they did not exist. A real cluster reaches the same
//! effect with namespace-scoped RoleBindings.
//!
//! ```
//! use aiopslab_sim::auth::{Attributes, Identity, Policy};
//! let policy = Policy::default();
//! let agent = Identity::agent();
//! let list_hidden = Attributes::resource("list", "", "pods", Some("aiopslab-system"), None);
//! assert_eq!(
//!     policy.authorize(&agent, &list_hidden).unwrap_err(),
//!     "pods is forbidden: User \"system:serviceaccount:aiopslab:agent\" cannot list resource \"pods\" in API group \"\" in the namespace \"aiopslab-system\""
//! );
//! assert!(policy.authorize(&Identity::admin(), &list_hidden).is_ok());
//! ```

use serde_json::{Value, json};
use std::collections::HashMap;

/// The kind of caller, which decides the rules that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything is allowed.
    Admin,
    /// Everything except what the [`Policy`] hides.
    Agent,
    /// A ServiceAccount token issued through the TokenRequest API: decided by RBAC over the
    /// stored Roles, ClusterRoles and their bindings (the API layer evaluates them; the
    /// [`Policy`] alone refuses everything to this role).
    ServiceAccount,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name, as `kubectl auth whoami` prints it.
    pub username: String,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Which rules apply.
    pub role: Role,
}

/// The admin's user name.
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The agent's user name (a service account of the `aiopslab` namespace).
pub const AGENT_USER: &str = "system:serviceaccount:aiopslab:agent";

impl Identity {
    /// The cluster administrator (`kubernetes-admin`, `system:masters`).
    pub fn admin() -> Self {
        Identity {
            username: ADMIN_USER.to_string(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            role: Role::Admin,
        }
    }

    /// The agent under test, a service account.
    pub fn agent() -> Self {
        Identity {
            username: AGENT_USER.to_string(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:aiopslab".into(),
                "system:authenticated".into(),
            ],
            role: Role::Agent,
        }
    }

    /// Whether this caller may do everything.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// A ServiceAccount as its issued tokens authenticate it: user
    /// `system:serviceaccount:<namespace>:<name>`, groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<namespace>` and `system:authenticated`, decided by RBAC.
    ///
    /// ```
    /// use aiopslab_sim::auth::{Identity, Role};
    /// let sa = Identity::service_account("app", "bot");
    /// assert_eq!(sa.username, "system:serviceaccount:app:bot");
    /// assert_eq!(sa.role, Role::ServiceAccount);
    /// ```
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Identity {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            role: Role::ServiceAccount,
        }
    }

    /// Whether the [`Policy`]'s hiding applies to this caller (the built-in agent only).
    fn is_restricted_agent(&self) -> bool {
        self.role == Role::Agent
    }

    /// The `userInfo` of a `SelfSubjectReview` status.
    pub fn user_info(&self) -> Value {
        let mut info = json!({"username": self.username, "groups": self.groups});
        if self.role == Role::Agent {
            info["extra"] =
                json!({"authentication.kubernetes.io/credential-id": ["JTI=aiopslab-agent"]});
        }
        info
    }
}

/// Maps bearer tokens to identities.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    tokens: HashMap<String, Identity>,
}

impl Authenticator {
    /// An authenticator that knows no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `token` for `identity`.
    pub fn insert(&mut self, token: impl Into<String>, identity: Identity) {
        self.tokens.insert(token.into(), identity);
    }

    /// The identity of an `Authorization` header value (`Bearer <token>`), if the token is known.
    ///
    /// ```
    /// use aiopslab_sim::auth::{Authenticator, Identity};
    /// let mut auth = Authenticator::new();
    /// auth.insert("t0k", Identity::admin());
    /// assert!(auth.authenticate(Some("Bearer t0k")).unwrap().is_admin());
    /// assert!(auth.authenticate(Some("Bearer nope")).is_none());
    /// assert!(auth.authenticate(None).is_none());
    /// ```
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<&Identity> {
        let header = authorization?.trim();
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.tokens.get(token.trim())
    }
}

/// What a request wants to do, as RBAC sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// API group (`""` for core).
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
    /// Subresource (`""` for none).
    pub subresource: &'a str,
    /// Namespace of the request (`None`: cluster scope or all namespaces).
    pub namespace: Option<&'a str>,
    /// Object name, when the request names one.
    pub name: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// Attributes of a request on a resource (no subresource).
    pub fn resource(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Self {
        Attributes {
            verb,
            group,
            resource,
            subresource: "",
            namespace,
            name,
        }
    }
}

/// What the agent may not see. The admin is never restricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Namespaces the agent may not touch (and does not see in lists).
    pub hidden_namespaces: Vec<String>,
    /// API groups the agent may not touch (and does not see in discovery).
    pub hidden_groups: Vec<String>,
}

impl Default for Policy {
    /// Hides the `aiopslab-system` namespace and the `chaos-mesh.org` group.
    fn default() -> Self {
        Policy {
            hidden_namespaces: vec!["aiopslab-system".into()],
            hidden_groups: vec!["chaos-mesh.org".into()],
        }
    }
}

impl Policy {
    /// Whether `group` is hidden from `who`.
    pub fn hides_group(&self, who: &Identity, group: &str) -> bool {
        who.is_restricted_agent() && self.hidden_groups.iter().any(|g| g == group)
    }

    /// Whether the namespace `ns` is hidden from `who`.
    pub fn hides_namespace(&self, who: &Identity, ns: &str) -> bool {
        who.is_restricted_agent() && self.hidden_namespaces.iter().any(|n| n == ns)
    }

    /// Allows or refuses a request; the error is the real server's `Forbidden` message.
    ///
    /// A [`Role::ServiceAccount`] caller is always refused here: only RBAC over the stored
    /// objects can allow it, which the API layer evaluates instead of calling this.
    pub fn authorize(&self, who: &Identity, attrs: &Attributes<'_>) -> Result<(), String> {
        match who.role {
            Role::Admin => return Ok(()),
            Role::ServiceAccount => return Err(forbidden_message(who, attrs)),
            Role::Agent => {}
        }
        let ns_hidden = attrs
            .namespace
            .is_some_and(|ns| self.hides_namespace(who, ns))
            || (attrs.group.is_empty()
                && attrs.resource == "namespaces"
                && attrs.name.is_some_and(|n| self.hides_namespace(who, n)));
        if self.hides_group(who, attrs.group) || ns_hidden {
            return Err(forbidden_message(who, attrs));
        }
        Ok(())
    }

    /// Whether an object stays visible to `who` in a list or watch of `group`/`resource`.
    ///
    /// See the module documentation: lists are filtered instead of refused.
    pub fn visible(&self, who: &Identity, group: &str, resource: &str, obj: &Value) -> bool {
        if !who.is_restricted_agent() {
            // RBAC refuses a list rather than filtering it.
            return true;
        }
        let meta_str = |field: &str| {
            obj.get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
        };
        if let Some(ns) = meta_str("namespace")
            && self.hides_namespace(who, ns)
        {
            return false;
        }
        match (group, resource) {
            ("", "namespaces") => !meta_str("name").is_some_and(|n| self.hides_namespace(who, n)),
            ("apiextensions.k8s.io", "customresourcedefinitions") => !obj
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .is_some_and(|g| self.hides_group(who, g)),
            ("", "events") | ("events.k8s.io", "events") => {
                let about = obj
                    .pointer("/involvedObject/apiVersion")
                    .or_else(|| obj.pointer("/regarding/apiVersion"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let about_group = about.split_once('/').map(|(g, _)| g).unwrap_or("");
                let about_ns = obj
                    .pointer("/involvedObject/namespace")
                    .or_else(|| obj.pointer("/regarding/namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                !self.hides_group(who, about_group) && !self.hides_namespace(who, about_ns)
            }
            _ => true,
        }
    }

    /// The `resourceRules` of a `SelfSubjectRulesReview` for `who` in `namespace`, given the
    /// groups the cluster serves.
    pub fn resource_rules(&self, who: &Identity, namespace: &str, groups: &[String]) -> Value {
        let review_rules = json!([
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
            {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
             "resources": ["selfsubjectreviews"]},
        ]);
        if who.is_admin() {
            let mut rules = vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})];
            rules.extend(review_rules.as_array().cloned().unwrap_or_default());
            return Value::Array(rules);
        }
        if who.role == Role::ServiceAccount {
            // Its rules come from RBAC, which the API layer lists.
            return review_rules;
        }
        let mut rules = Vec::new();
        if !self.hides_namespace(who, namespace) {
            let visible: Vec<&String> = groups
                .iter()
                .filter(|g| !self.hides_group(who, g))
                .collect();
            rules.push(json!({"verbs": ["*"], "apiGroups": visible, "resources": ["*"]}));
        }
        rules.extend(review_rules.as_array().cloned().unwrap_or_default());
        Value::Array(rules)
    }

    /// The `nonResourceRules` of a `SelfSubjectRulesReview` for `who`.
    pub fn non_resource_rules(&self, who: &Identity) -> Value {
        if who.is_admin() {
            json!([{"verbs": ["*"], "nonResourceURLs": ["*"]}])
        } else {
            json!([
                {"verbs": ["get"], "nonResourceURLs": [
                    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                    "/openapi/*", "/readyz", "/version", "/version/"]}
            ])
        }
    }
}

/// The real RBAC refusal: `pods "x" is forbidden: User "u" cannot get resource "pods" in API
/// group "" in the namespace "ns"`.
pub fn forbidden_message(who: &Identity, attrs: &Attributes<'_>) -> String {
    let full_resource = if attrs.subresource.is_empty() {
        attrs.resource.to_string()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    // The subject names the resource only; the subresource appears in the reason.
    let qualified = if attrs.group.is_empty() {
        attrs.resource.to_string()
    } else {
        format!("{}.{}", attrs.resource, attrs.group)
    };
    let subject = match attrs.name {
        Some(name) if !name.is_empty() => format!("{qualified} \"{name}\""),
        _ => qualified,
    };
    let scope = match attrs.namespace {
        Some(ns) if !ns.is_empty() => format!("in the namespace \"{ns}\""),
        _ => "at the cluster scope".to_string(),
    };
    format!(
        "{subject} is forbidden: User \"{}\" cannot {} resource \"{full_resource}\" in API group \"{}\" {scope}",
        who.username, attrs.verb, attrs.group
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_is_refused_hidden_groups_and_namespaces() {
        let p = Policy::default();
        let agent = Identity::agent();
        let get_chaos = Attributes::resource(
            "get",
            "chaos-mesh.org",
            "podchaos",
            Some("default"),
            Some("kill"),
        );
        assert_eq!(
            p.authorize(&agent, &get_chaos).unwrap_err(),
            "podchaos.chaos-mesh.org \"kill\" is forbidden: User \"system:serviceaccount:aiopslab:agent\" cannot get resource \"podchaos\" in API group \"chaos-mesh.org\" in the namespace \"default\""
        );
        let list_all_chaos = Attributes::resource("list", "chaos-mesh.org", "podchaos", None, None);
        assert!(
            p.authorize(&agent, &list_all_chaos)
                .unwrap_err()
                .ends_with("at the cluster scope")
        );
        let get_ns = Attributes::resource("get", "", "namespaces", None, Some("aiopslab-system"));
        assert!(p.authorize(&agent, &get_ns).is_err());
        let exec = Attributes {
            verb: "create",
            group: "",
            resource: "pods",
            subresource: "exec",
            namespace: Some("aiopslab-system"),
            name: Some("p"),
        };
        assert!(
            p.authorize(&agent, &exec)
                .unwrap_err()
                .starts_with("pods \"p\" is forbidden: User \"system:serviceaccount:aiopslab:agent\" cannot create resource \"pods/exec\"")
        );
        let ok = Attributes::resource("list", "", "pods", Some("default"), None);
        assert!(p.authorize(&agent, &ok).is_ok());
        assert!(p.authorize(&Identity::admin(), &get_chaos).is_ok());
    }

    #[test]
    fn lists_are_filtered_for_the_agent() {
        let p = Policy::default();
        let agent = Identity::agent();
        let hidden_pod = json!({"metadata": {"name": "x", "namespace": "aiopslab-system"}});
        assert!(!p.visible(&agent, "", "pods", &hidden_pod));
        assert!(p.visible(&Identity::admin(), "", "pods", &hidden_pod));
        let ns = json!({"metadata": {"name": "aiopslab-system"}});
        assert!(!p.visible(&agent, "", "namespaces", &ns));
        let crd = json!({"metadata": {"name": "podchaos.chaos-mesh.org"}, "spec": {"group": "chaos-mesh.org"}});
        assert!(!p.visible(
            &agent,
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &crd
        ));
        let ev = json!({"metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos"}});
        assert!(!p.visible(&agent, "", "events", &ev));
        let pod_ev = json!({"metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod"}});
        assert!(p.visible(&agent, "", "events", &pod_ev));
    }

    #[test]
    fn rules_review_lists_visible_groups_only() {
        let p = Policy::default();
        let groups = vec!["".to_string(), "apps".into(), "chaos-mesh.org".into()];
        let rules = p.resource_rules(&Identity::agent(), "default", &groups);
        assert_eq!(rules[0]["apiGroups"], json!(["", "apps"]));
        let hidden = p.resource_rules(&Identity::agent(), "aiopslab-system", &groups);
        assert_eq!(hidden.as_array().unwrap().len(), 2);
        assert_eq!(
            p.resource_rules(&Identity::admin(), "x", &groups)[0]["apiGroups"],
            json!(["*"])
        );
    }
}
