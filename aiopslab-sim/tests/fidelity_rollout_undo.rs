//! `kubectl rollout history` and `kubectl rollout undo` for StatefulSets and DaemonSets, which
//! read the ControllerRevisions their controllers write (`data` holding
//! `{"spec":{"template":{...,"$patch":"replace"}}}`) and send that data back as a strategic
//! merge patch.

mod common;

use common::TestCluster;

const APP: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: demo
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
      annotations: {tier: storage}
    spec:
      containers:
      - name: db
        image: nginx:1.25
        env:
        - {name: MODE, value: primary}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: demo
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox:1.36
        command: ["sleep", "infinity"]
"#;

fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn rolled_out(t: &TestCluster, what: &str) {
    // Exit code 0: the rollout finished within the time limit.
    t.kubectl(&["rollout", "status", what, "-n", "demo", "--timeout=90s"])
        .await
        .ok();
}

async fn jsonpath(t: &TestCluster, what: &str, path: &str) -> String {
    t.kubectl(&["get", what, "-n", "demo", "-o", &format!("jsonpath={path}")])
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_and_daemonset_roll_back() {
    let t = TestCluster::start().await;
    t.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    rolled_out(&t, "statefulset/db").await;
    rolled_out(&t, "daemonset/agent").await;

    // Each controller wrote a ControllerRevision with the template as a replace patch.
    let revisions: serde_json::Value = serde_json::from_str(
        &t.kubectl(&["get", "controllerrevisions", "-n", "demo", "-o", "json"])
            .await
            .ok(),
    )
    .expect("json");
    let mut lines: Vec<String> = revisions["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["metadata"]["ownerReferences"][0]["kind"]
                    .as_str()
                    .unwrap_or(""),
                r["revision"],
                r["data"]["spec"]["template"]["$patch"]
                    .as_str()
                    .unwrap_or("")
            )
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, ["DaemonSet 1 replace", "StatefulSet 1 replace"]);

    // A change of each template, then the rollback to the first revision.
    t.kubectl(&[
        "set",
        "image",
        "statefulset/db",
        "db=nginx:1.26",
        "-n",
        "demo",
    ])
    .await
    .ok();
    t.kubectl(&[
        "set",
        "env",
        "statefulset/db",
        "MODE=replica",
        "EXTRA=1",
        "-n",
        "demo",
    ])
    .await
    .ok();
    t.kubectl(&[
        "set",
        "image",
        "daemonset/agent",
        "agent=busybox:1.37",
        "-n",
        "demo",
    ])
    .await
    .ok();
    rolled_out(&t, "statefulset/db").await;
    rolled_out(&t, "daemonset/agent").await;
    let history = squash(
        &t.kubectl(&["rollout", "history", "daemonset/agent", "-n", "demo"])
            .await
            .ok(),
    );
    assert!(
        history.contains("REVISION CHANGE-CAUSE\n1 <none>\n2 <none>"),
        "{history}"
    );
    let first = t
        .kubectl(&[
            "rollout",
            "history",
            "statefulset/db",
            "-n",
            "demo",
            "--revision=1",
        ])
        .await
        .ok();
    assert!(first.contains("nginx:1.25"), "{first}");

    assert_eq!(
        t.kubectl(&[
            "rollout",
            "undo",
            "statefulset/db",
            "-n",
            "demo",
            "--to-revision=1"
        ])
        .await
        .ok(),
        "statefulset.apps/db rolled back\n"
    );
    assert_eq!(
        t.kubectl(&["rollout", "undo", "daemonset/agent", "-n", "demo"])
            .await
            .ok(),
        "daemonset.apps/agent rolled back\n"
    );
    // The whole template is the first one again: image, env (EXTRA gone), annotations.
    assert_eq!(
        jsonpath(
            &t,
            "statefulset/db",
            "{.spec.template.spec.containers[0].image}"
        )
        .await,
        "nginx:1.25"
    );
    assert_eq!(
        jsonpath(
            &t,
            "statefulset/db",
            "{.spec.template.spec.containers[0].env}"
        )
        .await,
        r#"[{"name":"MODE","value":"primary"}]"#
    );
    assert_eq!(
        jsonpath(
            &t,
            "statefulset/db",
            "{.spec.template.metadata.annotations.tier}"
        )
        .await,
        "storage"
    );
    assert_eq!(
        jsonpath(
            &t,
            "daemonset/agent",
            "{.spec.template.spec.containers[0].image}"
        )
        .await,
        "busybox:1.36"
    );
    assert!(
        !jsonpath(&t, "statefulset/db", "{.spec.template}")
            .await
            .contains("$patch"),
        "the directive is not stored"
    );
    rolled_out(&t, "statefulset/db").await;
    rolled_out(&t, "daemonset/agent").await;
    let pods: serde_json::Value = serde_json::from_str(
        &t.kubectl(&["get", "pods", "-n", "demo", "-o", "json"])
            .await
            .ok(),
    )
    .expect("json");
    let images: Vec<&str> = pods["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str())
        .collect();
    let images = images.join(" ");
    assert!(
        !images.contains("nginx:1.26") && !images.contains("busybox:1.37"),
        "every pod runs the old template again: {images}"
    );
    // Undoing to the revision the object already has is skipped, as kubectl reports it.
    let again = t
        .kubectl(&[
            "rollout",
            "undo",
            "daemonset/agent",
            "-n",
            "demo",
            "--to-revision=3",
        ])
        .await
        .ok();
    assert_eq!(
        again,
        "daemonset.apps/agent skipped rollback (current template already matches revision 3)\n"
    );
    // kubectl 1.32 sends the same patch: back to the previous (changed) template.
    assert_eq!(
        t.kubectl_binary(
            "/usr/lib/google-cloud-sdk/bin/kubectl.1.32",
            &["rollout", "undo", "statefulset/db", "-n", "demo"],
            None,
        )
        .await
        .ok(),
        "statefulset.apps/db rolled back\n"
    );
    assert_eq!(
        jsonpath(
            &t,
            "statefulset/db",
            "{.spec.template.spec.containers[0].image}"
        )
        .await,
        "nginx:1.26"
    );
    assert!(
        jsonpath(
            &t,
            "statefulset/db",
            "{.spec.template.spec.containers[0].env}"
        )
        .await
        .contains("EXTRA"),
    );
}
