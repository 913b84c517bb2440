//! The real kubectl against the virtual cluster: manifests, every printer, discovery,
//! explain, labels, patches, deletes, watches, dry runs and server-side apply.

mod common;

use common::TestCluster;

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
  labels: {tier: config}
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
"#;

/// Collapses runs of spaces, so table assertions do not depend on column widths.
fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn with_manifest() -> TestCluster {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let out = t.kubectl_stdin(&["apply", "-f", "-"], MANIFEST).await.ok();
    assert_eq!(
        out,
        "namespace/demo created\nconfigmap/cfg created\ndeployment.apps/web created\nservice/web created\n"
    );
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_is_idempotent_and_get_prints_every_format() {
    let t = with_manifest().await;
    let again = t.kubectl_stdin(&["apply", "-f", "-"], MANIFEST).await.ok();
    assert_eq!(
        again,
        "namespace/demo unchanged\nconfigmap/cfg unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\n"
    );

    let wide = squash(
        &t.kubectl(&["get", "deploy", "-n", "demo", "-o", "wide"])
            .await
            .ok(),
    );
    assert!(
        wide.starts_with(
            "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR\nweb 0/2 0 0 "
        ),
        "{wide}"
    );
    assert!(wide.ends_with("web nginx:1.25 app=web"), "{wide}");

    let labels = squash(
        &t.kubectl(&["get", "cm", "cfg", "-n", "demo", "--show-labels"])
            .await
            .ok(),
    );
    assert!(
        labels.starts_with("NAME DATA AGE LABELS\ncfg 1 "),
        "{labels}"
    );
    assert!(labels.ends_with("tier=config"), "{labels}");

    let yaml = t
        .kubectl(&["get", "cm", "cfg", "-n", "demo", "-o", "yaml"])
        .await
        .ok();
    assert!(
        yaml.starts_with("apiVersion: v1\ndata:\n  a: \"1\"\nkind: ConfigMap\n"),
        "{yaml}"
    );
    assert!(yaml.contains("  resourceVersion: \""), "{yaml}");

    let json: serde_json::Value = serde_json::from_str(
        &t.kubectl(&["get", "svc", "web", "-n", "demo", "-o", "json"])
            .await
            .ok(),
    )
    .expect("kubectl prints JSON");
    assert_eq!(json["spec"]["ports"][0]["port"], 80);
    assert!(
        json["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96."))
    );

    let jsonpath = t
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await
        .ok();
    assert_eq!(jsonpath, "nginx:1.25");

    let names = t
        .kubectl(&["get", "deploy,svc,cm", "-n", "demo", "-o", "name"])
        .await
        .ok();
    assert_eq!(names, "deployment.apps/web\nservice/web\nconfigmap/cfg\n");

    let all = squash(&t.kubectl(&["get", "all", "-n", "demo"]).await.ok());
    assert!(all.contains("service/web ClusterIP 10.96."), "{all}");
    assert!(all.contains("deployment.apps/web 0/2 0 0"), "{all}");

    let none = t.kubectl(&["get", "pods", "-n", "nowhere"]).await;
    assert_eq!(none.code, 0);
    assert_eq!(none.stderr, "No resources found in nowhere namespace.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_versions_and_explain() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let resources = squash(&t.kubectl(&["api-resources"]).await.ok());
    assert!(
        resources.starts_with("NAME SHORTNAMES APIVERSION NAMESPACED KIND\n"),
        "{resources}"
    );
    for row in [
        "pods po v1 true Pod",
        "deployments deploy apps/v1 true Deployment",
        "customresourcedefinitions crd,crds apiextensions.k8s.io/v1 false CustomResourceDefinition",
        "nodes no v1 false Node",
    ] {
        assert!(resources.contains(row), "missing {row:?} in\n{resources}");
    }
    let wide = squash(
        &t.kubectl(&["api-resources", "-o", "wide", "--api-group=apps"])
            .await
            .ok(),
    );
    assert!(
        wide.contains("deployments deploy apps/v1 true Deployment create,delete,deletecollection,get,list,patch,update,watch all"),
        "{wide}"
    );
    let versions = t.kubectl(&["api-versions"]).await.ok();
    for v in [
        "apps/v1\n",
        "batch/v1\n",
        "v1\n",
        "metrics.k8s.io/v1beta1\n",
    ] {
        assert!(versions.contains(v), "{versions}");
    }
    let version = t.kubectl(&["version"]).await.ok();
    assert!(version.contains("Server Version: v1.33.1"), "{version}");

    let explain = t.kubectl(&["explain", "pod.spec.containers"]).await.ok();
    assert!(
        explain.starts_with("KIND:       Pod\nVERSION:    v1\n\nFIELD: containers <[]Container>"),
        "{explain}"
    );
    assert!(
        explain.contains("List of containers belonging to the pod."),
        "{explain}"
    );
    assert!(explain.contains("  image\t<string>"), "{explain}");
    let deploy = t
        .kubectl(&["explain", "deployment.spec.replicas"])
        .await
        .ok();
    assert!(deploy.contains("GROUP:      apps"), "{deploy}");
    assert!(deploy.contains("Number of desired pods."), "{deploy}");
    let missing = t.kubectl(&["explain", "pod.spec.nope"]).await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("field \"nope\" does not exist"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_annotate_patch_and_delete() {
    let t = with_manifest().await;
    assert_eq!(
        t.kubectl(&["label", "cm", "cfg", "-n", "demo", "env=prod"])
            .await
            .ok(),
        "configmap/cfg labeled\n"
    );
    assert_eq!(
        t.kubectl(&["annotate", "cm", "cfg", "-n", "demo", "owner=sre"])
            .await
            .ok(),
        "configmap/cfg annotated\n"
    );
    assert_eq!(
        t.kubectl(&[
            "patch",
            "cm",
            "cfg",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"data":{"b":"2"}}"#
        ])
        .await
        .ok(),
        "configmap/cfg patched\n"
    );
    assert_eq!(
        t.kubectl(&[
            "patch",
            "cm",
            "cfg",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/c","value":"3"}]"#
        ])
        .await
        .ok(),
        "configmap/cfg patched\n"
    );
    t.kubectl(&[
        "patch",
        "deploy",
        "web",
        "-n",
        "demo",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}"#,
    ])
    .await
    .ok();
    let cm = t
        .kubectl(&[
            "get",
            "cm",
            "cfg",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data} {.metadata.labels.env} {.metadata.annotations.owner}",
        ])
        .await
        .ok();
    assert_eq!(cm, r#"{"a":"1","b":"2","c":"3"} prod sre"#);
    let image = t
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image} {.metadata.generation}",
        ])
        .await
        .ok();
    assert_eq!(image, "nginx:1.26 2");
    // A no-op patch says so.
    assert_eq!(
        t.kubectl(&[
            "patch",
            "cm",
            "cfg",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            r#"{"data":{"b":"2"}}"#
        ])
        .await
        .ok(),
        "configmap/cfg patched (no change)\n"
    );
    assert_eq!(
        t.kubectl(&["delete", "cm", "cfg", "-n", "demo"]).await.ok(),
        "configmap \"cfg\" deleted\n"
    );
    let gone = t.kubectl(&["get", "cm", "cfg", "-n", "demo"]).await;
    assert_eq!(gone.code, 1);
    assert_eq!(
        gone.stderr,
        "Error from server (NotFound): configmaps \"cfg\" not found\n"
    );
    let svc = t
        .kubectl(&["delete", "-n", "demo", "svc/web", "deploy/web"])
        .await
        .ok();
    assert_eq!(
        svc,
        "service \"web\" deleted\ndeployment.apps \"web\" deleted\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_subcommands_send_protobuf_and_work() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    assert_eq!(
        t.kubectl(&["create", "configmap", "app", "--from-literal=k=v"])
            .await
            .ok(),
        "configmap/app created\n"
    );
    assert_eq!(
        t.kubectl(&[
            "create",
            "deployment",
            "api",
            "--image=busybox",
            "--replicas=3",
            "--port=8080"
        ])
        .await
        .ok(),
        "deployment.apps/api created\n"
    );
    assert_eq!(
        t.kubectl(&[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=s3cret"
        ])
        .await
        .ok(),
        "secret/creds created\n"
    );
    assert_eq!(
        t.kubectl(&["create", "service", "clusterip", "api", "--tcp=80:8080"])
            .await
            .ok(),
        "service/api created\n"
    );
    let d = t
        .kubectl(&["get", "deploy", "api", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}"])
        .await
        .ok();
    assert_eq!(d, "3 8080 api");
    let secret = t
        .kubectl(&["get", "secret", "creds", "-o", "jsonpath={.data.password}"])
        .await
        .ok();
    assert_eq!(secret, "czNjcmV0");
    let port = t
        .kubectl(&[
            "get",
            "svc",
            "api",
            "-o",
            "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort}",
        ])
        .await
        .ok();
    assert_eq!(port, "80:8080");
    let dry = t
        .kubectl(&[
            "create",
            "configmap",
            "preview",
            "--dry-run=server",
            "-o",
            "jsonpath={.metadata.name}",
        ])
        .await
        .ok();
    assert_eq!(dry, "preview");
    assert_eq!(t.kubectl(&["get", "cm", "preview"]).await.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_and_conflicts() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n";
    assert_eq!(
        t.kubectl_stdin(&["apply", "--server-side", "-f", "-"], cm)
            .await
            .ok(),
        "configmap/ssa serverside-applied\n"
    );
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"2\"\n";
    let conflict = t
        .kubectl_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            other,
        )
        .await;
    assert_eq!(conflict.code, 1);
    assert!(
        conflict
            .stderr
            .contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.a"),
        "{}",
        conflict.stderr
    );
    t.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        other,
    )
    .await
    .ok();
    assert_eq!(
        t.kubectl(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"])
            .await
            .ok(),
        "2"
    );
    let managers = t
        .kubectl(&[
            "get",
            "cm",
            "ssa",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await
        .ok();
    assert!(managers.contains("other"), "{managers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_changes_as_they_happen() {
    let t = with_manifest().await;
    let watch = {
        let kubeconfig = t.cluster.admin_kubeconfig_path().to_path_buf();
        let home = t.dir.path().join("home");
        tokio::process::Command::new(common::KUBECTL)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("KUBECACHEDIR", home.join("cache"))
            .args(["--kubeconfig"])
            .arg(&kubeconfig)
            .args(["get", "cm", "-n", "demo", "-w", "--output-watch-events"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl -w runs")
    };
    // Give the watch a moment to list and start watching, then change things.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    t.kubectl(&["create", "cm", "w1", "-n", "demo"]).await.ok();
    t.kubectl(&["label", "cm", "w1", "-n", "demo", "x=y"])
        .await
        .ok();
    t.kubectl(&["delete", "cm", "w1", "-n", "demo"]).await.ok();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let mut child = watch;
    child.start_kill().ok();
    let out = child.wait_with_output().await.expect("output");
    let text = squash(&String::from_utf8_lossy(&out.stdout));
    let events: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>())
        .map(|v| if v.len() == 2 { v[0] } else { "" })
        .collect();
    assert!(
        text.starts_with("EVENT NAME DATA AGE\nADDED cfg 1 "),
        "{text}"
    );
    assert_eq!(events[2..], ["ADDED", "MODIFIED", "DELETED"], "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_after_their_crd() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let crd = include_str!("data/podchaos-crd.yaml");
    t.kubectl_stdin(&["apply", "-f", "-"], crd).await.ok();
    let established = t
        .kubectl(&[
            "wait",
            "--for",
            "condition=established",
            "crd/podchaos.chaos-mesh.org",
            "--timeout=10s",
        ])
        .await
        .ok();
    assert_eq!(
        established,
        "customresourcedefinition.apiextensions.k8s.io/podchaos.chaos-mesh.org condition met\n"
    );
    let chaos = "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata:\n  name: kill\n  namespace: default\nspec:\n  action: pod-kill\n  mode: one\n  selector:\n    labelSelectors: {app: web}\n";
    assert_eq!(
        t.kubectl_stdin(&["apply", "-f", "-"], chaos).await.ok(),
        "podchaos.chaos-mesh.org/kill created\n"
    );
    let table = squash(&t.kubectl(&["get", "podchaos"]).await.ok());
    assert!(
        table.starts_with("NAME ACTION AGE\nkill pod-kill "),
        "{table}"
    );
    let explain = t.kubectl(&["explain", "podchaos.spec.action"]).await.ok();
    assert!(
        explain.contains("Action defines the specific pod chaos action."),
        "{explain}"
    );
    let smp = t
        .kubectl(&[
            "patch",
            "podchaos",
            "kill",
            "-p",
            r#"{"spec":{"mode":"all"}}"#,
        ])
        .await;
    assert_eq!(smp.code, 1);
    assert!(
        smp.stderr
            .contains("application/strategic-merge-patch+json is not supported"),
        "{}",
        smp.stderr
    );
    t.kubectl(&[
        "patch",
        "podchaos",
        "kill",
        "--type=merge",
        "-p",
        r#"{"spec":{"mode":"all"}}"#,
    ])
    .await
    .ok();
    assert_eq!(
        t.kubectl(&["get", "podchaos", "kill", "-o", "jsonpath={.spec.mode}"])
            .await
            .ok(),
        "all"
    );
    let unknown = t
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &chaos.replace("mode: one", "mode: one\n  bogus: 1"),
        )
        .await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("strict decoding error: unknown field \"spec.bogus\""),
        "{}",
        unknown.stderr
    );
    // Deleting the CRD stops serving the kind (kubectl's discovery cache still knows it, so it
    // asks and gets the server's 404, as against a real cluster).
    t.kubectl(&["delete", "crd", "podchaos.chaos-mesh.org"])
        .await
        .ok();
    let gone = t.kubectl(&["get", "podchaos"]).await;
    assert_eq!(gone.code, 1);
    assert_eq!(
        gone.stderr,
        "Error from server (NotFound): Unable to list \"chaos-mesh.org/v1alpha1, Resource=podchaos\": the server could not find the requested resource\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_of_a_list_and_list_item_removal() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"a": "1"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}, "data": {"b": "2"}}]}"#;
    assert_eq!(
        t.kubectl_stdin(&["apply", "-f", "-"], list).await.ok(),
        "configmap/one created\nconfigmap/two created\n"
    );
    let bad = list.replace(r#""data": {"b": "2"}"#, r#""data": {"b": "2"}, "bogus": 1"#);
    let refused = t.kubectl_stdin(&["apply", "-f", "-"], &bad).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("strict decoding error: unknown field \"bogus\""),
        "{}",
        refused.stderr
    );

    // Client-side apply computes a strategic merge patch that removes what the manifest drops.
    let two = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: two\nspec:\n  selector:\n    matchLabels: {app: two}\n  template:\n    metadata:\n      labels: {app: two}\n    spec:\n      containers:\n      - name: a\n        image: nginx\n        env: [{name: X, value: \"1\"}, {name: Y, value: \"2\"}]\n      - name: b\n        image: busybox\n";
    t.kubectl_stdin(&["apply", "-f", "-"], two).await.ok();
    let one = two
        .replace(", {name: Y, value: \"2\"}", "")
        .replace("      - name: b\n        image: busybox\n", "");
    assert_eq!(
        t.kubectl_stdin(&["apply", "-f", "-"], &one).await.ok(),
        "deployment.apps/two configured\n"
    );
    let got = t
        .kubectl(&["get", "deploy", "two", "-o", "jsonpath={.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].env}"])
        .await
        .ok();
    assert_eq!(got, r#"a [{"name":"X","value":"1"}]"#);
}

/// `/usr/bin/kubectl` dispatches to the kubectl matching the server (1.33); kubectl 1.32, the
/// version the project targets, is checked directly when it is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_32_works_too() {
    const K132: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";
    if !std::path::Path::new(K132).exists() {
        eprintln!("{K132} not installed; skipped");
        return;
    }
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let applied = t
        .kubectl_binary(K132, &["apply", "-f", "-"], Some(MANIFEST))
        .await
        .ok();
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert_eq!(
        t.kubectl_binary(K132, &["create", "cm", "x", "--from-literal=a=b"], None)
            .await
            .ok(),
        "configmap/x created\n"
    );
    let whoami = t.kubectl_binary(K132, &["auth", "whoami"], None).await.ok();
    assert!(whoami.contains("kubernetes-admin"), "{whoami}");
    let explain = t
        .kubectl_binary(K132, &["explain", "deployment.spec.strategy"], None)
        .await
        .ok();
    assert!(
        explain.contains("FIELD: strategy <DeploymentStrategy>"),
        "{explain}"
    );
    let table = squash(
        &t.kubectl_binary(K132, &["get", "svc", "-n", "demo"], None)
            .await
            .ok(),
    );
    assert!(
        table.starts_with("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE\nweb ClusterIP 10.96."),
        "{table}"
    );
}
