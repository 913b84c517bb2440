//! Who may do what (admin and agent kubeconfigs, `auth can-i`, `auth whoami`, the agent's
//! hidden namespace and fault objects) and the real error messages for bad requests.

mod common;

use common::TestCluster;

const AGENT: &str = "system:serviceaccount:aiopslab:agent";

async fn cluster_with_hidden_things() -> TestCluster {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    t.kubectl_stdin(
        &["apply", "-f", "-"],
        include_str!("data/podchaos-crd.yaml"),
    )
    .await
    .ok();
    let hidden = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: aiopslab-system\n---\n\
        apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: oracle\n  namespace: aiopslab-system\n---\n\
        apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: visible\n  namespace: default\n---\n\
        apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata:\n  name: kill\n  namespace: default\n\
        spec:\n  action: pod-kill\n  mode: one\n";
    t.kubectl_stdin(&["apply", "-f", "-"], hidden).await.ok();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_and_can_i_tell_the_truth() {
    let t = cluster_with_hidden_things().await;
    let admin = t.kubectl(&["auth", "whoami"]).await.ok();
    assert_eq!(
        admin,
        "ATTRIBUTE   VALUE\nUsername    kubernetes-admin\nGroups      [system:masters system:authenticated]\n"
    );
    let agent = t.agent(&["auth", "whoami"]).await.ok();
    assert!(
        agent.contains(&format!("Username   {AGENT}")) || agent.contains(AGENT),
        "{agent}"
    );

    for args in [
        &["auth", "can-i", "*", "*"][..],
        &["auth", "can-i", "get", "podchaos.chaos-mesh.org"],
        &[
            "auth",
            "can-i",
            "list",
            "configmaps",
            "-n",
            "aiopslab-system",
        ],
    ] {
        assert_eq!(t.kubectl(args).await.ok(), "yes\n", "{args:?}");
    }
    assert_eq!(
        t.agent(&["auth", "can-i", "list", "pods"]).await.ok(),
        "yes\n"
    );
    assert_eq!(
        t.agent(&["auth", "can-i", "create", "pods/exec", "-n", "default"])
            .await
            .ok(),
        "yes\n"
    );
    for args in [
        &[
            "auth",
            "can-i",
            "list",
            "configmaps",
            "-n",
            "aiopslab-system",
        ][..],
        &["auth", "can-i", "get", "podchaos.chaos-mesh.org"],
        &[
            "auth",
            "can-i",
            "create",
            "podchaos.chaos-mesh.org",
            "-n",
            "default",
        ],
    ] {
        let no = t.agent(args).await;
        assert_eq!((no.code, no.stdout.as_str()), (1, "no\n"), "{args:?}");
    }
    let rules = t.agent(&["auth", "can-i", "--list"]).await.ok();
    assert!(rules.contains("*.apps"), "{rules}");
    assert!(!rules.contains("chaos-mesh.org"), "{rules}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_cannot_see_hidden_namespaces_or_fault_objects() {
    let t = cluster_with_hidden_things().await;
    let refused = t.agent(&["get", "cm", "-n", "aiopslab-system"]).await;
    assert_eq!(refused.code, 1);
    assert_eq!(
        refused.stderr,
        format!(
            "Error from server (Forbidden): configmaps is forbidden: User \"{AGENT}\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"aiopslab-system\"\n"
        )
    );
    let named = t
        .agent(&["get", "cm", "oracle", "-n", "aiopslab-system"])
        .await;
    assert_eq!(
        named.stderr,
        format!(
            "Error from server (Forbidden): configmaps \"oracle\" is forbidden: User \"{AGENT}\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"aiopslab-system\"\n"
        )
    );
    let all = t.agent(&["get", "cm", "-A", "-o", "name"]).await.ok();
    assert!(all.contains("configmap/visible"), "{all}");
    assert!(!all.contains("oracle"), "{all}");
    let namespaces = t.agent(&["get", "ns", "-o", "name"]).await.ok();
    assert!(namespaces.contains("namespace/default"), "{namespaces}");
    assert!(!namespaces.contains("aiopslab-system"), "{namespaces}");
    let admin_namespaces = t.kubectl(&["get", "ns", "-o", "name"]).await.ok();
    assert!(admin_namespaces.contains("namespace/aiopslab-system"));

    // Fault objects: not discoverable, not listable, their CRDs invisible.
    let resources = t.agent(&["api-resources"]).await.ok();
    assert!(!resources.contains("chaos"), "{resources}");
    assert!(
        t.kubectl(&["api-resources"])
            .await
            .ok()
            .contains("podchaos")
    );
    let crds = t.agent(&["get", "crd"]).await;
    assert_eq!(crds.stderr, "No resources found\n");
    let raw = t
        .agent(&[
            "get",
            "--raw",
            "/apis/chaos-mesh.org/v1alpha1/namespaces/default/podchaos",
        ])
        .await;
    assert_eq!(raw.code, 1);
    assert_eq!(
        raw.stderr,
        format!(
            "Error from server (Forbidden): podchaos.chaos-mesh.org is forbidden: User \"{AGENT}\" cannot list resource \"podchaos\" in API group \"chaos-mesh.org\" in the namespace \"default\"\n"
        )
    );
    let typed = t.agent(&["get", "podchaos", "-A"]).await;
    assert_eq!(
        typed.stderr,
        "error: the server doesn't have a resource type \"podchaos\"\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_real_errors_and_the_server_keeps_serving() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let serving = || async {
        t.kubectl(&["get", "ns", "default", "-o", "name"])
            .await
            .ok()
    };

    let unknown = t.kubectl(&["get", "foo"]).await;
    assert_eq!(
        unknown.stderr,
        "error: the server doesn't have a resource type \"foo\"\n"
    );

    let malformed = t
        .kubectl_stdin(
            &[
                "create",
                "--raw",
                "/api/v1/namespaces/default/configmaps",
                "-f",
                "-",
            ],
            "{\"kind\":",
        )
        .await;
    assert_eq!(malformed.code, 1);
    assert_eq!(
        malformed.stderr,
        "Error from server (BadRequest): couldn't get version/kind; json parse error: unexpected end of JSON input\n"
    );
    assert_eq!(serving().await, "namespace/default\n");

    t.kubectl(&["create", "cm", "c1", "--from-literal=a=1"])
        .await
        .ok();
    let stale = t.kubectl(&["get", "cm", "c1", "-o", "json"]).await.ok();
    t.kubectl(&["patch", "cm", "c1", "-p", r#"{"data":{"a":"2"}}"#])
        .await
        .ok();
    let conflict = t.kubectl_stdin(&["replace", "-f", "-"], &stale).await;
    assert_eq!(
        conflict.stderr,
        "Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"c1\": the object has been modified; please apply your changes to the latest version and try again\n"
    );

    let bad_cm = t.kubectl(&["create", "cm", "Bad_Name"]).await;
    assert_eq!(
        bad_cm.stderr,
        "error: failed to create configmap: ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"
    );
    let bad_svc = t
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  ports:\n  - port: 80\n",
        )
        .await;
    assert_eq!(
        bad_svc.stderr,
        "The Service \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')\n"
    );

    let huge = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    let too_big = t.kubectl_stdin(&["create", "-f", "-"], &huge).await;
    assert_eq!(
        too_big.stderr,
        "Error from server (RequestEntityTooLarge): error when creating \"STDIN\": Request entity too large: limit is 3145728\n"
    );

    let missing_ns = t.kubectl(&["create", "cm", "x", "-n", "nowhere"]).await;
    assert_eq!(
        missing_ns.stderr,
        "error: failed to create configmap: namespaces \"nowhere\" not found\n"
    );

    let mismatch = t
        .kubectl_stdin(
            &[
                "create",
                "--raw",
                "/api/v1/namespaces/default/configmaps",
                "-f",
                "-",
            ],
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m","namespace":"other"}}"#,
        )
        .await;
    assert_eq!(
        mismatch.stderr,
        "Error from server (BadRequest): the namespace of the provided object does not match the namespace sent on the request\n"
    );
    assert_eq!(serving().await, "namespace/default\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_unauthorized() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let text = std::fs::read_to_string(t.cluster.admin_kubeconfig_path()).expect("kubeconfig");
    let bad = text.replace(t.cluster.admin_token(), "not-a-token");
    let path = t.dir.path().join("bad.kubeconfig");
    std::fs::write(&path, bad).expect("write");
    let out = t.kubectl_as(&path, &["get", "ns"], None).await;
    assert_eq!(out.code, 1);
    // Discovery fails first; client-go words the 401 of an aggregated discovery request so.
    assert!(
        out.stderr.ends_with(
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"
        ),
        "{}",
        out.stderr
    );
    let raw = t
        .kubectl_as(&path, &["get", "--raw", "/api/v1/namespaces"], None)
        .await;
    assert_eq!(
        raw.stderr,
        "error: You must be logged in to the server (Unauthorized)\n"
    );
}
