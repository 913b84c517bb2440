//! The agent's credentials: RBAC objects labelled with the run, a kubeconfig, cleanup.

use crate::common::Sim;
use aiopslab_k8s::{AGENT_ROLE, AgentAccessSpec, Cluster, ClusterTarget, RUN_LABEL};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::ListParams;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_write_kubeconfig_and_revoke() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    for ns in ["app-a", "app-b"] {
        cluster.ensure_namespace(ns).await.expect("namespace");
    }
    let spec = AgentAccessSpec::new("run-7", "agent-home", ["app-a", "app-b"]);
    let grant = cluster.grant_agent_access(&spec).await.expect("grant");
    assert_eq!(grant.cluster_role, "aiopslab-agent-run-7");
    // Idempotent.
    assert_eq!(
        cluster.grant_agent_access(&spec).await.expect("again"),
        grant
    );

    let sa: ServiceAccount = cluster.get("agent-home", AGENT_ROLE).await.expect("sa");
    assert_eq!(sa.metadata.labels.unwrap()[RUN_LABEL], "run-7");
    for ns in ["app-a", "app-b"] {
        let role: Role = cluster.get(ns, AGENT_ROLE).await.expect("role");
        let groups: Vec<String> = role
            .rules
            .unwrap()
            .into_iter()
            .flat_map(|r| r.api_groups.unwrap_or_default())
            .collect();
        assert!(groups.contains(&"apps".to_string()));
        assert!(!groups.iter().any(|g| g.contains("chaos-mesh")));
        let binding: RoleBinding = cluster.get(ns, AGENT_ROLE).await.expect("binding");
        let subject = &binding.subjects.unwrap()[0];
        assert_eq!(
            (subject.name.as_str(), subject.namespace.as_deref()),
            (AGENT_ROLE, Some("agent-home"))
        );
    }
    let cr: ClusterRole = cluster
        .api_all::<ClusterRole>()
        .get("aiopslab-agent-run-7")
        .await
        .expect("cluster role");
    let rules = cr.rules.unwrap();
    assert!(rules.iter().all(|r| {
        r.verbs
            .iter()
            .all(|v| ["get", "list", "watch"].contains(&v.as_str()))
    }));

    // The virtual cluster serves the TokenRequest API (aiopslab-sim's
    // tests/fidelity_tokens.rs checks what such a token may do).
    let issued = cluster
        .request_agent_token(&grant, Duration::from_secs(3600))
        .await
        .expect("a token from the TokenRequest API");
    assert!(!issued.is_empty());

    // A kubeconfig written with a token works (the admin token stands in here).
    let token = sim.kubeconfig_value("token");
    let path = sim.dir.path().join("agent").join("agent.kubeconfig");
    cluster
        .write_agent_kubeconfig(&grant, &token, &path)
        .expect("write");
    let agent = Cluster::connect(&ClusterTarget::new(&path))
        .await
        .expect("agent connects");
    assert_eq!(agent.context(), "aiopslab-agent-run-7");
    assert_eq!(agent.default_namespace(), "app-a");
    assert_eq!(agent.server_url(), cluster.server_url());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Revoke removes everything labelled with the run, and only that.
    let removed = cluster.revoke_agent_access("run-7").await.expect("revoke");
    assert_eq!(
        removed,
        1 + 2 * 2 + 2,
        "SA, 2 x (Role, RoleBinding), ClusterRole(Binding)"
    );
    assert_eq!(
        cluster.revoke_agent_access("run-7").await.expect("again"),
        0
    );
    let selector = ListParams::default().labels(&format!("{RUN_LABEL}=run-7"));
    assert!(
        cluster
            .api_all::<ClusterRoleBinding>()
            .list(&selector)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        cluster
            .api_all::<RoleBinding>()
            .list(&selector)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        cluster.namespace_exists("app-a").await.unwrap(),
        "app namespaces stay"
    );

    // cleanup_run also deletes the namespaces the run created (the agent's home).
    assert!(cluster.namespace_exists("agent-home").await.unwrap());
    cluster
        .cleanup_run("run-7", Duration::from_secs(60))
        .await
        .expect("cleanup");
    assert!(!cluster.namespace_exists("agent-home").await.unwrap());
    assert!(cluster.namespace_exists("app-b").await.unwrap());

    let err = cluster
        .revoke_agent_access("bad id")
        .await
        .expect_err("not a label value");
    assert!(err.to_string().contains("cannot be a label value"), "{err}");
}
