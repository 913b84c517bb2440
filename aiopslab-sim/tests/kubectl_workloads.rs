//! The real kubectl against a virtual cluster with its controllers: rollouts, scaling, logs,
//! exec, top, describe, deletes that wait for the kubelet, and drains.

mod common;

use common::TestCluster;

const APP: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
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
"#;

fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn running_app() -> TestCluster {
    let t = TestCluster::start().await;
    t.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    let status = t
        .kubectl(&[
            "rollout",
            "status",
            "deploy/web",
            "-n",
            "demo",
            "--timeout=60s",
        ])
        .await
        .ok();
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    t
}

async fn first_pod(t: &TestCluster) -> String {
    let names = t
        .kubectl(&["get", "pods", "-n", "demo", "-l", "app=web", "-o", "name"])
        .await
        .ok();
    names.lines().next().expect("a pod").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_roll_out_scale_and_roll_back() {
    let t = running_app().await;
    let pods = squash(&t.kubectl(&["get", "pods", "-n", "demo"]).await.ok());
    assert_eq!(pods.lines().count(), 3, "{pods}");
    assert!(
        pods.lines().skip(1).all(|l| l.contains(" 1/1 Running 0 ")),
        "{pods}"
    );

    assert_eq!(
        t.kubectl(&["scale", "deploy/web", "-n", "demo", "--replicas=3"])
            .await
            .ok(),
        "deployment.apps/web scaled\n"
    );
    t.kubectl(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s",
    ])
    .await
    .ok();
    let ready = t
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .await
        .ok();
    assert_eq!(ready, "3");

    t.kubectl(&["set", "image", "deploy/web", "web=nginx:1.26", "-n", "demo"])
        .await
        .ok();
    t.kubectl(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s",
    ])
    .await
    .ok();
    let history = squash(
        &t.kubectl(&["rollout", "history", "deploy/web", "-n", "demo"])
            .await
            .ok(),
    );
    assert!(
        history.contains("REVISION CHANGE-CAUSE\n1 <none>\n2 <none>"),
        "{history}"
    );
    assert_eq!(
        t.kubectl(&["rollout", "undo", "deploy/web", "-n", "demo"])
            .await
            .ok(),
        "deployment.apps/web rolled back\n"
    );
    t.kubectl(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s",
    ])
    .await
    .ok();
    let image = t
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
    assert_eq!(image, "nginx:1.25");
    let endpoints = t
        .kubectl(&[
            "get",
            "endpoints",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.subsets[0].addresses[*].ip}",
        ])
        .await
        .ok();
    assert_eq!(endpoints.split(' ').count(), 3, "{endpoints}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_exec_and_top() {
    let t = running_app().await;
    let pod = first_pod(&t).await;
    let logs = t.kubectl(&["logs", "-n", "demo", &pod]).await.ok();
    assert!(logs.lines().count() > 1, "{logs}");
    let tail = t
        .kubectl(&["logs", "-n", "demo", &pod, "--tail=1"])
        .await
        .ok();
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert!(logs.ends_with(&tail));

    let exec = t
        .kubectl(&[
            "exec",
            "-n",
            "demo",
            &pod,
            "--",
            "sh",
            "-c",
            "echo hello; exit 3",
        ])
        .await;
    assert_eq!(exec.code, 3);
    assert_eq!(exec.stdout, "hello\n");
    assert_eq!(exec.stderr, "command terminated with exit code 3\n");
    let piped = t
        .kubectl_stdin(
            &["exec", "-i", "-n", "demo", &pod, "--", "cat"],
            "through stdin\n",
        )
        .await
        .ok();
    assert_eq!(piped, "through stdin\n");
    let bad = t
        .kubectl(&["exec", "-n", "demo", &pod, "-c", "nope", "--", "true"])
        .await;
    assert_eq!(bad.code, 1);
    let name = pod.trim_start_matches("pod/");
    assert!(
        bad.stderr
            .contains(&format!("container nope is not valid for pod {name}")),
        "{}",
        bad.stderr
    );

    let top_nodes = squash(&t.kubectl(&["top", "nodes"]).await.ok());
    assert!(
        top_nodes
            .starts_with("NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)\nkind-control-plane "),
        "{top_nodes}"
    );
    assert_eq!(top_nodes.lines().count(), 4, "{top_nodes}");
    let top_pods = squash(&t.kubectl(&["top", "pods", "-n", "demo"]).await.ok());
    assert!(
        top_pods.starts_with("NAME CPU(cores) MEMORY(bytes)\nweb-"),
        "{top_pods}"
    );
    assert_eq!(top_pods.lines().count(), 3, "{top_pods}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_streams_until_the_client_leaves() {
    let t = running_app().await;
    let pod = first_pod(&t).await;
    let mut child = tokio::process::Command::new(common::KUBECTL)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", t.dir.path().join("home"))
        .arg("--kubeconfig")
        .arg(t.cluster.admin_kubeconfig_path())
        .args(["logs", "-f", "-n", "demo", &pod, "--tail=2"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl logs -f");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // Still streaming: the container runs.
    assert!(child.try_wait().expect("status").is_none());
    child.start_kill().ok();
    let out = child.wait_with_output().await.expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_wait_for_the_kubelet_and_pods_come_back() {
    let t = running_app().await;
    let pod = first_pod(&t).await;
    let name = pod.trim_start_matches("pod/").to_string();
    assert_eq!(
        t.kubectl(&["delete", "-n", "demo", &pod]).await.ok(),
        format!("pod \"{name}\" deleted\n")
    );
    let gone = t.kubectl(&["get", "-n", "demo", &pod]).await;
    assert_eq!(
        gone.stderr,
        format!("Error from server (NotFound): pods \"{name}\" not found\n")
    );
    t.kubectl(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s",
    ])
    .await
    .ok();
    let waited = t
        .kubectl(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=web",
            "-n",
            "demo",
            "--timeout=60s",
        ])
        .await
        .ok();
    assert_eq!(waited.lines().count(), 2, "{waited}");

    let describe = t
        .kubectl(&["describe", "deploy", "web", "-n", "demo"])
        .await
        .ok();
    assert!(
        describe.contains(
            "Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable"
        ),
        "{describe}"
    );
    let events = t.kubectl(&["get", "events", "-n", "demo"]).await.ok();
    assert!(events.contains("Scheduled"), "{events}");

    let drained = t
        .kubectl(&[
            "drain",
            "kind-worker",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ])
        .await
        .ok();
    assert!(drained.contains("node/kind-worker cordoned"), "{drained}");
    assert!(drained.ends_with("node/kind-worker drained\n"), "{drained}");
    let nodes = squash(&t.kubectl(&["get", "nodes"]).await.ok());
    assert!(
        nodes.contains("kind-worker Ready,SchedulingDisabled <none>"),
        "{nodes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_works_on_visible_pods_only() {
    let t = running_app().await;
    let hidden = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: aiopslab-system\n---\n\
        apiVersion: v1\nkind: Pod\nmetadata:\n  name: oracle\n  namespace: aiopslab-system\n\
        spec:\n  containers:\n  - name: c\n    image: busybox\n    command: [sleep, \"3600\"]\n";
    t.kubectl_stdin(&["apply", "-f", "-"], hidden).await.ok();
    let pod = first_pod(&t).await;
    assert_eq!(
        t.agent(&["exec", "-n", "demo", &pod, "--", "echo", "ok"])
            .await
            .ok(),
        "ok\n"
    );
    let logs = t.agent(&["logs", "-n", "aiopslab-system", "oracle"]).await;
    assert_eq!(
        logs.stderr,
        "Error from server (Forbidden): pods \"oracle\" is forbidden: User \"system:serviceaccount:aiopslab:agent\" cannot get resource \"pods\" in API group \"\" in the namespace \"aiopslab-system\"\n"
    );
    let all = t.agent(&["get", "pods", "-A", "-o", "name"]).await.ok();
    assert!(!all.contains("oracle"), "{all}");
    assert!(all.contains("pod/web-"), "{all}");
    let top = t.agent(&["top", "pods", "-A"]).await.ok();
    assert!(!top.contains("aiopslab-system"), "{top}");
}
