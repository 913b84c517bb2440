//! The agent's restricted credentials on a real cluster.
//!
//! A ServiceAccount, a Role and RoleBinding in each namespace the agent may act in, and a
//! ClusterRole/ClusterRoleBinding that only reads nodes and namespaces; a token for the
//! ServiceAccount from the TokenRequest API; and a kubeconfig with that token. Everything
//! carries `aiopslab.dev/run=<run id>`, so [`Cluster::revoke_agent_access`] finds and removes
//! it at the end of the run. Fault objects (Chaos Mesh) are in no rule: the agent cannot see
//! them.
//!
//! ```no_run
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> aiopslab_k8s::Result<()> {
//! use aiopslab_k8s::AgentAccessSpec;
//! use std::time::Duration;
//! let spec = AgentAccessSpec::new("run-42", "aiopslab-system", ["test-hotel-reservation"]);
//! let grant = cluster
//!     .create_agent_credentials(&spec, Duration::from_secs(7200), "/tmp/agent.kubeconfig".as_ref())
//!     .await?;
//! // ... the agent's episode ...
//! cluster.revoke_agent_access(&grant.run_id).await?;
//! # Ok(()) }
//! ```

use crate::connect::{Cluster, FIELD_MANAGER, RUN_LABEL};
use crate::error::{K8sError, Result};
use base64::Engine;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

/// The name of the Role and RoleBinding in each namespace the agent may act in.
pub const AGENT_ROLE: &str = "aiopslab-agent";

/// What the agent may do.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAccessSpec {
    /// The run id (a label value: letters, digits, `-`, `_`, `.`, at most 63).
    pub run_id: String,
    /// The ServiceAccount's name (default `aiopslab-agent`).
    pub service_account: String,
    /// Where the ServiceAccount lives (created when missing).
    pub home_namespace: String,
    /// The namespaces the agent may act in.
    pub namespaces: Vec<String>,
    /// The rules of the Role in each of those namespaces (default [`default_agent_rules`]).
    pub rules: Vec<PolicyRule>,
}

impl AgentAccessSpec {
    /// The default rules in `namespaces`, for run `run_id`, with the ServiceAccount in
    /// `home_namespace`.
    pub fn new<I, S>(run_id: &str, home_namespace: &str, namespaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AgentAccessSpec {
            run_id: run_id.to_string(),
            service_account: AGENT_ROLE.to_string(),
            home_namespace: home_namespace.to_string(),
            namespaces: namespaces.into_iter().map(Into::into).collect(),
            rules: default_agent_rules(),
        }
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// What an agent needs to diagnose and mitigate inside its namespaces: everything on the
/// core workload APIs, reading events and metrics. No rule names Chaos Mesh's group.
pub fn default_agent_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &[
                "",
                "apps",
                "batch",
                "autoscaling",
                "policy",
                "networking.k8s.io",
                "discovery.k8s.io",
            ],
            &["*"],
            &["*"],
        ),
        rule(
            &["events.k8s.io", "metrics.k8s.io"],
            &["*"],
            &["get", "list", "watch"],
        ),
    ]
}

/// The read-only cluster-wide rules: nodes and namespaces (and node metrics).
fn cluster_read_rules() -> Vec<PolicyRule> {
    vec![
        rule(&[""], &["nodes", "namespaces"], &["get", "list", "watch"]),
        rule(&["metrics.k8s.io"], &["nodes"], &["get", "list"]),
    ]
}

/// What [`Cluster::grant_agent_access`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentGrant {
    /// The run id (label value).
    pub run_id: String,
    /// The ServiceAccount.
    pub service_account: String,
    /// Its namespace.
    pub home_namespace: String,
    /// The namespaces with a Role and RoleBinding.
    pub namespaces: Vec<String>,
    /// The ClusterRole and ClusterRoleBinding name.
    pub cluster_role: String,
}

/// Checks that `run_id` can be a label value.
fn check_run_id(run_id: &str) -> Result<()> {
    let ok_chars = run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ok_ends = run_id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && run_id
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if run_id.len() <= 63 && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(K8sError::InvalidArgument(format!(
            "run id {run_id:?} cannot be a label value: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )))
    }
}

/// The ClusterRole name of a run (`aiopslab-agent-<run id>`, lower case).
fn cluster_role_name(run_id: &str) -> String {
    format!("{AGENT_ROLE}-{}", run_id.to_lowercase().replace('_', "-"))
}

fn meta(name: &str, namespace: Option<&str>, run_id: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(BTreeMap::from([(
            RUN_LABEL.to_string(),
            run_id.to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

impl Cluster {
    async fn apply_in<K>(&self, api: Api<K>, object: &K) -> Result<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let kind = K::kind(&());
        let ns = object
            .meta()
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        self.call(
            format!("apply {kind} {ns}{name}"),
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            ),
        )
        .await
    }

    /// Creates (or updates) the ServiceAccount, Roles, RoleBindings, ClusterRole and
    /// ClusterRoleBinding of the agent, all labelled with the run id. Idempotent.
    pub async fn grant_agent_access(&self, spec: &AgentAccessSpec) -> Result<AgentGrant> {
        check_run_id(&spec.run_id)?;
        if spec.namespaces.is_empty() {
            return Err(K8sError::InvalidArgument(
                "the agent needs at least one namespace to act in".into(),
            ));
        }
        let run = spec.run_id.as_str();
        let labelled = self.clone().with_run_id(run);
        labelled.ensure_namespace(&spec.home_namespace).await?;
        let sa = ServiceAccount {
            metadata: meta(&spec.service_account, Some(&spec.home_namespace), run),
            ..ServiceAccount::default()
        };
        self.apply_in(self.api::<ServiceAccount>(&spec.home_namespace), &sa)
            .await?;
        let subject = Subject {
            kind: "ServiceAccount".into(),
            name: spec.service_account.clone(),
            namespace: Some(spec.home_namespace.clone()),
            ..Subject::default()
        };
        for ns in &spec.namespaces {
            let role = Role {
                metadata: meta(AGENT_ROLE, Some(ns), run),
                rules: Some(spec.rules.clone()),
            };
            self.apply_in(self.api::<Role>(ns), &role).await?;
            let binding = RoleBinding {
                metadata: meta(AGENT_ROLE, Some(ns), run),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: AGENT_ROLE.into(),
                },
                subjects: Some(vec![subject.clone()]),
            };
            self.apply_in(self.api::<RoleBinding>(ns), &binding).await?;
        }
        let cluster_role = cluster_role_name(run);
        let role = ClusterRole {
            metadata: meta(&cluster_role, None, run),
            rules: Some(cluster_read_rules()),
            ..ClusterRole::default()
        };
        self.apply_in(self.api_all::<ClusterRole>(), &role).await?;
        let binding = ClusterRoleBinding {
            metadata: meta(&cluster_role, None, run),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: cluster_role.clone(),
            },
            subjects: Some(vec![subject]),
        };
        self.apply_in(self.api_all::<ClusterRoleBinding>(), &binding)
            .await?;
        Ok(AgentGrant {
            run_id: run.to_string(),
            service_account: spec.service_account.clone(),
            home_namespace: spec.home_namespace.clone(),
            namespaces: spec.namespaces.clone(),
            cluster_role,
        })
    }

    /// A bearer token for the agent's ServiceAccount from the TokenRequest API, valid for
    /// `ttl` (the server may shorten it).
    pub async fn request_agent_token(&self, grant: &AgentGrant, ttl: Duration) -> Result<String> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(ttl.as_secs().max(600) as i64),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let api = self.api::<ServiceAccount>(&grant.home_namespace);
        let answer: TokenRequest = self
            .call(
                format!(
                    "request a token for serviceaccount {}/{}",
                    grant.home_namespace, grant.service_account
                ),
                api.create_subresource(
                    "token",
                    &grant.service_account,
                    &PostParams::default(),
                    &request,
                ),
            )
            .await?;
        answer
            .status
            .map(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| K8sError::Api {
                action: "request a token".into(),
                code: 0,
                reason: String::new(),
                message: "the server answered without a token".into(),
            })
    }

    /// A kubeconfig (YAML) for the agent: this cluster's server and CA, the token as the
    /// user, the first granted namespace as the default.
    pub fn agent_kubeconfig_yaml(&self, grant: &AgentGrant, token: &str) -> Result<String> {
        let entry = self.cluster_entry();
        let mut cluster = serde_json::Map::new();
        cluster.insert(
            "server".into(),
            json!(
                entry
                    .server
                    .clone()
                    .unwrap_or_else(|| self.server_url().to_string())
            ),
        );
        if let Some(data) = &entry.certificate_authority_data {
            cluster.insert("certificate-authority-data".into(), json!(data));
        } else if let Some(file) = &entry.certificate_authority {
            let pem = std::fs::read(file).map_err(|source| K8sError::Io {
                path: file.into(),
                source,
            })?;
            cluster.insert(
                "certificate-authority-data".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(pem)),
            );
        }
        if entry.insecure_skip_tls_verify == Some(true) {
            cluster.insert("insecure-skip-tls-verify".into(), json!(true));
        }
        if let Some(name) = &entry.tls_server_name {
            cluster.insert("tls-server-name".into(), json!(name));
        }
        if let Some(proxy) = &entry.proxy_url {
            cluster.insert("proxy-url".into(), json!(proxy));
        }
        let context = format!("aiopslab-agent-{}", grant.run_id);
        let namespace = grant.namespaces.first().cloned().unwrap_or_default();
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {
                "cluster": context, "user": context, "namespace": namespace
            }}],
            "current-context": context,
            "preferences": {},
        });
        serde_saphyr::to_string(&doc).map_err(|e| {
            K8sError::InvalidArgument(format!("cannot write the agent kubeconfig: {e}"))
        })
    }

    /// Writes [`Cluster::agent_kubeconfig_yaml`] to `path` (mode 0600).
    pub fn write_agent_kubeconfig(
        &self,
        grant: &AgentGrant,
        token: &str,
        path: &Path,
    ) -> Result<()> {
        let text = self.agent_kubeconfig_yaml(grant, token)?;
        let io = |source| K8sError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(())
    }

    /// Grants access, requests a token valid for `ttl` and writes the agent's kubeconfig.
    pub async fn create_agent_credentials(
        &self,
        spec: &AgentAccessSpec,
        ttl: Duration,
        kubeconfig: &Path,
    ) -> Result<AgentGrant> {
        let grant = self.grant_agent_access(spec).await?;
        let token = self.request_agent_token(&grant, ttl).await?;
        self.write_agent_kubeconfig(&grant, &token, kubeconfig)?;
        Ok(grant)
    }

    /// Deletes every ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding
    /// labelled with the run id, in any namespace. Returns how many were deleted;
    /// idempotent. (Namespaces of the run are left alone: see [`Cluster::cleanup_run`].)
    pub async fn revoke_agent_access(&self, run_id: &str) -> Result<usize> {
        check_run_id(run_id)?;
        let selector = format!("{RUN_LABEL}={run_id}");
        let mut deleted = 0;
        let client = self.client();
        let all = |_: &str| -> Api<ClusterRoleBinding> { Api::all(client.clone()) };
        deleted += self.delete_labelled(&selector, all).await?;
        let all = |_: &str| -> Api<ClusterRole> { Api::all(client.clone()) };
        deleted += self.delete_labelled(&selector, all).await?;
        let ns = |n: &str| -> Api<RoleBinding> { Api::namespaced(client.clone(), n) };
        deleted += self.delete_labelled(&selector, ns).await?;
        let ns = |n: &str| -> Api<Role> { Api::namespaced(client.clone(), n) };
        deleted += self.delete_labelled(&selector, ns).await?;
        let ns = |n: &str| -> Api<ServiceAccount> { Api::namespaced(client.clone(), n) };
        deleted += self.delete_labelled(&selector, ns).await?;
        Ok(deleted)
    }

    /// Revokes the agent's access and deletes (waiting, at most `timeout` each) every
    /// namespace labelled with the run id. Returns how many objects were deleted.
    pub async fn cleanup_run(&self, run_id: &str, timeout: Duration) -> Result<usize> {
        let mut deleted = self.revoke_agent_access(run_id).await?;
        let selector = format!("{RUN_LABEL}={run_id}");
        let namespaces = self
            .call(
                format!("list namespaces with {selector}"),
                Api::<k8s_openapi::api::core::v1::Namespace>::all(self.client())
                    .list(&ListParams::default().labels(&selector)),
            )
            .await?;
        for ns in namespaces.items {
            if let Some(name) = ns.metadata.name
                && self.delete_namespace(&name, timeout).await?
            {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes every object of kind `K` matching `selector`; `api_for(namespace)` gives the
    /// API to delete one object with (the namespace is empty for cluster-scoped kinds).
    async fn delete_labelled<K>(
        &self,
        selector: &str,
        api_for: impl Fn(&str) -> Api<K>,
    ) -> Result<usize>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        let kind = K::kind(&()).to_string();
        let list = self
            .call(
                format!("list {kind} with {selector}"),
                Api::<K>::all(self.client()).list(&ListParams::default().labels(selector)),
            )
            .await?;
        let mut deleted = 0;
        for item in list.items {
            let name = item.meta().name.clone().unwrap_or_default();
            let api = api_for(item.meta().namespace.as_deref().unwrap_or_default());
            match self
                .call(
                    format!("delete {kind} {name}"),
                    api.delete(&name, &DeleteParams::background()),
                )
                .await
            {
                Ok(_) => deleted += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_must_be_label_values() {
        assert!(check_run_id("run-42").is_ok());
        assert!(check_run_id("Run_1.a").is_ok());
        assert!(check_run_id("").is_err());
        assert!(check_run_id("-x").is_err());
        assert!(check_run_id("a b").is_err());
        assert!(check_run_id(&"a".repeat(64)).is_err());
        assert_eq!(cluster_role_name("Run_1"), "aiopslab-agent-run-1");
    }

    #[test]
    fn default_rules_leave_out_chaos_mesh() {
        for r in default_agent_rules() {
            assert!(
                !r.api_groups
                    .unwrap_or_default()
                    .iter()
                    .any(|g| g == "*" || g.contains("chaos-mesh"))
            );
        }
    }
}
