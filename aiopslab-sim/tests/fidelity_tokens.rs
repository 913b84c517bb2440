//! ServiceAccount tokens from the TokenRequest API, authorised by RBAC over the stored Roles,
//! ClusterRoles and bindings: `kubectl create token`, `kubectl auth can-i` with such a token,
//! the real Forbidden messages, and the real-cluster agent credentials of aiopslab-k8s
//! (`create_agent_credentials` / `revoke_agent_access`) end to end.

mod common;

use aiopslab_k8s::{AgentAccessSpec, Cluster, ClusterTarget};
use common::{Run, TestCluster};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes a kubeconfig for `token` against the test cluster.
fn token_kubeconfig(t: &TestCluster, name: &str, token: &str) -> PathBuf {
    let path = t.dir.path().join(format!("{name}.kubeconfig"));
    let text = aiopslab_sim::cluster::kubeconfig_yaml(
        &t.cluster.url(),
        &t.cluster.ca_pem(),
        name,
        name,
        token,
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

async fn as_user(t: &TestCluster, kubeconfig: &Path, args: &[&str]) -> Run {
    t.kubectl_as(kubeconfig, args, None).await
}

/// `kubectl auth can-i` prints `yes` (exit 0) or `no` (exit 1).
async fn can_i(t: &TestCluster, kubeconfig: &Path, args: &[&str]) -> bool {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    let run = as_user(t, kubeconfig, &full).await;
    match (run.code, run.stdout.trim()) {
        (0, "yes") => true,
        (1, "no") => false,
        other => panic!("kubectl auth can-i {args:?}: {other:?} {}", run.stderr),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_is_authorised_by_rbac() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    for args in [
        vec!["create", "namespace", "app"],
        vec!["create", "serviceaccount", "bot", "-n", "app"],
        vec![
            "create",
            "role",
            "reader",
            "-n",
            "app",
            "--verb=get,list,watch",
            "--resource=pods,pods/log,configmaps",
        ],
        vec![
            "create",
            "role",
            "one-secret",
            "-n",
            "app",
            "--verb=get",
            "--resource=secrets",
            "--resource-name=allowed",
        ],
        vec![
            "create",
            "rolebinding",
            "bot-reads",
            "-n",
            "app",
            "--role=reader",
            "--serviceaccount=app:bot",
        ],
        vec![
            "create",
            "rolebinding",
            "bot-secret",
            "-n",
            "app",
            "--role=one-secret",
            "--serviceaccount=app:bot",
        ],
        vec![
            "create",
            "clusterrole",
            "node-reader",
            "--verb=get,list",
            "--resource=nodes",
        ],
        vec![
            "create",
            "clusterrolebinding",
            "bot-nodes",
            "--clusterrole=node-reader",
            "--serviceaccount=app:bot",
        ],
        vec![
            "create",
            "configmap",
            "cfg",
            "-n",
            "app",
            "--from-literal=a=1",
        ],
        vec![
            "create",
            "configmap",
            "cfg",
            "-n",
            "default",
            "--from-literal=a=1",
        ],
    ] {
        t.kubectl(&args).await.ok();
    }
    let token = t
        .kubectl(&["create", "token", "bot", "-n", "app", "--duration=20m"])
        .await
        .ok();
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT-shaped token: {token}");
    let bot = token_kubeconfig(&t, "bot", token);

    let whoami = as_user(
        &t,
        &bot,
        &["auth", "whoami", "-o", "jsonpath={.status.userInfo}"],
    )
    .await
    .ok();
    assert!(
        whoami.contains("\"username\":\"system:serviceaccount:app:bot\""),
        "{whoami}"
    );
    for group in [
        "system:serviceaccounts",
        "system:serviceaccounts:app",
        "system:authenticated",
    ] {
        assert!(whoami.contains(&format!("\"{group}\"")), "{whoami}");
    }

    assert!(can_i(&t, &bot, &["list", "pods", "-n", "app"]).await);
    assert!(can_i(&t, &bot, &["get", "pods", "--subresource=log", "-n", "app"]).await);
    assert!(
        !can_i(
            &t,
            &bot,
            &["create", "pods", "--subresource=exec", "-n", "app"]
        )
        .await
    );
    assert!(!can_i(&t, &bot, &["delete", "pods", "-n", "app"]).await);
    assert!(!can_i(&t, &bot, &["list", "pods", "-n", "default"]).await);
    assert!(can_i(&t, &bot, &["get", "secret/allowed", "-n", "app"]).await);
    assert!(!can_i(&t, &bot, &["get", "secret/other", "-n", "app"]).await);
    assert!(can_i(&t, &bot, &["list", "nodes"]).await);
    assert!(!can_i(&t, &bot, &["delete", "nodes"]).await);
    assert!(!can_i(&t, &bot, &["list", "deployments.apps", "-n", "app"]).await);
    let list = as_user(&t, &bot, &["auth", "can-i", "--list", "-n", "app"])
        .await
        .ok();
    assert!(list.contains("pods/log"), "{list}");

    // Allowed requests work; refused ones carry the real Forbidden message.
    assert_eq!(
        as_user(&t, &bot, &["get", "cm", "cfg", "-n", "app", "-o", "name"])
            .await
            .ok(),
        "configmap/cfg\n"
    );
    let refused = as_user(&t, &bot, &["get", "cm", "cfg", "-n", "default"]).await;
    assert_eq!(refused.code, 1);
    assert_eq!(
        refused.stderr.trim(),
        "Error from server (Forbidden): configmaps \"cfg\" is forbidden: User \"system:serviceaccount:app:bot\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    let refused = as_user(&t, &bot, &["delete", "cm", "cfg", "-n", "app"]).await;
    assert!(
        refused.stderr.contains("configmaps \"cfg\" is forbidden: User \"system:serviceaccount:app:bot\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"app\""),
        "{}",
        refused.stderr
    );
    let refused = as_user(&t, &bot, &["get", "deployments", "-n", "app"]).await;
    assert!(
        refused.stderr.contains("deployments.apps is forbidden: User \"system:serviceaccount:app:bot\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"app\""),
        "{}",
        refused.stderr
    );

    // Rules are read at each request: a new binding takes effect at once.
    t.kubectl(&[
        "create",
        "rolebinding",
        "bot-edits",
        "-n",
        "app",
        "--clusterrole=cluster-admin",
        "--serviceaccount=app:bot",
    ])
    .await
    .ok();
    assert!(can_i(&t, &bot, &["delete", "pods", "-n", "app"]).await);
    assert!(!can_i(&t, &bot, &["delete", "pods", "-n", "default"]).await);

    // Too short a lifetime is refused as the real server refuses it.
    let short = t
        .kubectl(&["create", "token", "bot", "-n", "app", "--duration=1m"])
        .await;
    assert!(
        short
            .stderr
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        short.stderr
    );
    let missing = t.kubectl(&["create", "token", "nobody", "-n", "app"]).await;
    assert!(
        missing
            .stderr
            .contains("serviceaccounts \"nobody\" not found"),
        "{}",
        missing.stderr
    );

    // Deleting the ServiceAccount invalidates its tokens.
    t.kubectl(&["delete", "serviceaccount", "bot", "-n", "app"])
        .await
        .ok();
    let gone = as_user(&t, &bot, &["get", "cm", "-n", "app"]).await;
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("Unauthorized"), "{}", gone.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiopslab_k8s_agent_credentials_end_to_end() {
    for var in [
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
    ] {
        // SAFETY: set before any client of this test binary reads the environment; the
        // other test of this binary does not read it either.
        unsafe { std::env::remove_var(var) };
    }
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let admin = Cluster::connect(&ClusterTarget::new(t.cluster.admin_kubeconfig_path()))
        .await
        .expect("admin connects");
    for ns in ["app-a", "app-b", "other"] {
        admin.ensure_namespace(ns).await.expect("namespace");
    }
    // Chaos Mesh's kind, so that kubectl resolves its group.
    t.kubectl_stdin(
        &["apply", "-f", "-"],
        include_str!("data/podchaos-crd.yaml"),
    )
    .await
    .ok();
    for ns in ["app-a", "other"] {
        t.kubectl(&["create", "configmap", "cfg", "-n", ns, "--from-literal=a=1"])
            .await
            .ok();
    }
    let spec = AgentAccessSpec::new("run-9", "agent-home", ["app-a", "app-b"]);
    let path = t.dir.path().join("agent-run-9.kubeconfig");
    let grant = admin
        .create_agent_credentials(&spec, Duration::from_secs(7200), &path)
        .await
        .expect("credentials on the virtual cluster");
    assert_eq!(grant.namespaces, ["app-a", "app-b"]);

    // The agent connects with its own kubeconfig and works in its namespaces only.
    let agent = Cluster::connect(&ClusterTarget::new(&path))
        .await
        .expect("agent connects");
    assert_eq!(agent.default_namespace(), "app-a");
    assert_eq!(
        as_user(&t, &path, &["get", "cm", "cfg", "-o", "name"])
            .await
            .ok(),
        "configmap/cfg\n"
    );
    assert!(can_i(&t, &path, &["create", "deployments.apps", "-n", "app-b"]).await);
    assert!(
        can_i(
            &t,
            &path,
            &["get", "pods", "--subresource=log", "-n", "app-a"]
        )
        .await
    );
    assert!(
        can_i(
            &t,
            &path,
            &["create", "pods", "--subresource=exec", "-n", "app-a"]
        )
        .await
    );
    assert!(can_i(&t, &path, &["list", "nodes"]).await);
    // Cluster-wide, only the ClusterRole's read rights apply. (Asked in the namespace, as
    // kubectl asks by default, the namespaced Role's wildcard answers yes, as real RBAC does.)
    assert!(!can_i(&t, &path, &["delete", "nodes", "--all-namespaces"]).await);
    let refused = as_user(
        &t,
        &path,
        &["delete", "node", "kind-worker", "--dry-run=server"],
    )
    .await;
    assert!(
        refused.stderr.contains("nodes \"kind-worker\" is forbidden: User \"system:serviceaccount:agent-home:aiopslab-agent\" cannot delete resource \"nodes\" in API group \"\" at the cluster scope"),
        "{}",
        refused.stderr
    );
    assert!(!can_i(&t, &path, &["list", "pods", "-n", "other"]).await);
    assert!(
        !can_i(
            &t,
            &path,
            &["list", "podchaos.chaos-mesh.org", "-n", "app-a"]
        )
        .await
    );
    let refused = as_user(&t, &path, &["get", "cm", "-n", "other"]).await;
    assert_eq!(
        refused.stderr.trim(),
        "Error from server (Forbidden): configmaps is forbidden: User \"system:serviceaccount:agent-home:aiopslab-agent\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""
    );
    let who = as_user(
        &t,
        &path,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    )
    .await
    .ok();
    assert_eq!(who, "system:serviceaccount:agent-home:aiopslab-agent");

    // Revoking the run removes the ServiceAccount: the token stops working.
    admin.revoke_agent_access("run-9").await.expect("revoke");
    let revoked = as_user(&t, &path, &["get", "cm"]).await;
    assert_eq!(revoked.code, 1);
    assert!(
        revoked.stderr.contains("Unauthorized"),
        "{}",
        revoked.stderr
    );
}
