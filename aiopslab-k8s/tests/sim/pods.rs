//! Pods and workloads: exec, logs, delete by selector, rollout restart, scale, namespaces.

use crate::common::{Sim, deployment};
use aiopslab_k8s::{
    ApplyOptions, Cluster, ExecOptions, K8sError, LogOptions, ScaleKind, WaitOptions,
};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

async fn nginx(cluster: &Cluster, ns: &str, replicas: i32) -> Vec<String> {
    let text = deployment("web", "nginx", replicas, json!({}), json!({}));
    cluster
        .apply_yaml("web.yaml", &text, &ApplyOptions::into_namespace(ns))
        .await
        .expect("apply");
    cluster
        .wait_namespace_ready(ns, WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("ready");
    pod_names(cluster, ns).await
}

async fn pod_names(cluster: &Cluster, ns: &str) -> Vec<String> {
    cluster
        .list_pods(ns, "app=web")
        .await
        .expect("pods")
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_captures_output_and_exit_codes() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let pods = nginx(&cluster, "web", 1).await;
    let pod = &pods[0];

    let out = cluster
        .exec("web", pod, &["echo", "hi"], &ExecOptions::default())
        .await
        .expect("echo");
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(out.stderr, "");
    assert_eq!(out.exit_code, 0);
    assert!(out.success());

    let out = cluster
        .exec(
            "web",
            pod,
            &["sh", "-c", "echo oops >&2; exit 3"],
            &ExecOptions::in_container("web"),
        )
        .await
        .expect("failing command still gives its output");
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stderr, "oops\n");

    let out = cluster
        .exec(
            "web",
            pod,
            &["cat"],
            &ExecOptions {
                stdin: Some(b"from stdin\n".to_vec()),
                ..ExecOptions::default()
            },
        )
        .await
        .expect("stdin");
    assert_eq!(out.stdout, "from stdin\n");

    // A program the image does not have.
    match cluster
        .exec("web", pod, &["no-such-program"], &ExecOptions::default())
        .await
    {
        Ok(out) => assert_ne!(out.exit_code, 0, "{out:?}"),
        Err(K8sError::Exec { message, .. }) => {
            assert!(message.contains("no-such-program"), "{message}")
        }
        Err(other) => panic!("{other}"),
    }

    // A container that does not exist.
    let err = cluster
        .exec("web", pod, &["true"], &ExecOptions::in_container("nope"))
        .await
        .expect_err("no such container");
    assert!(matches!(err, K8sError::Exec { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_with_tail_and_of_the_previous_run() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let pods = nginx(&cluster, "logs", 1).await;
    let all = cluster
        .logs("logs", &pods[0], &LogOptions::default())
        .await
        .expect("logs");
    assert!(
        all.contains("Configuration complete; ready for start up"),
        "{all}"
    );
    let tail = cluster
        .logs(
            "logs",
            &pods[0],
            &LogOptions {
                tail_lines: Some(2),
                ..LogOptions::default()
            },
        )
        .await
        .expect("tail");
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(all.ends_with(&tail));

    // A crashed container's previous run.
    let text = deployment("crasher", "aiopslab/crash", 1, json!({}), json!({}));
    cluster
        .apply_yaml("c.yaml", &text, &ApplyOptions::into_namespace("logs"))
        .await
        .expect("apply");
    let _ = cluster
        .wait_deployment_ready("logs", "crasher", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect_err("crash loop");
    let pod = cluster
        .list_pods("logs", "app=crasher")
        .await
        .expect("pods")[0]
        .metadata
        .name
        .clone()
        .expect("name");
    let previous = cluster
        .logs(
            "logs",
            &pod,
            &LogOptions {
                previous: true,
                container: Some("crasher".into()),
                ..LogOptions::default()
            },
        )
        .await
        .expect("previous");
    assert!(previous.contains("panic: simulated crash"), "{previous}");

    let err = cluster
        .logs("logs", "no-such-pod", &LogOptions::default())
        .await
        .expect_err("no pod");
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_replaces_every_pod() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let before: BTreeSet<String> = nginx(&cluster, "roll", 2).await.into_iter().collect();
    let d = cluster
        .rollout_restart("roll", "web")
        .await
        .expect("restart");
    let annotations = d
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    assert!(annotations.contains_key("kubectl.kubernetes.io/restartedAt"));
    cluster
        .wait_deployment_ready("roll", "web", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("rolled out");
    let after: BTreeSet<String> = pod_names(&cluster, "roll").await.into_iter().collect();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(before.is_disjoint(&after), "{before:?} vs {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_to_zero_and_back() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    nginx(&cluster, "scale", 2).await;
    cluster
        .scale(ScaleKind::Deployment, "scale", "web", 0)
        .await
        .expect("scale to 0");
    let progress = cluster
        .wait_deployment_ready("scale", "web", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("scaled down");
    assert_eq!(progress.pods_total, 0, "{progress}");
    let d: Deployment = cluster.get("scale", "web").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(0));

    cluster
        .scale(ScaleKind::Deployment, "scale", "web", 1)
        .await
        .expect("scale to 1");
    let progress = cluster
        .wait_deployment_ready("scale", "web", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("scaled up");
    assert_eq!((progress.pods_ready, progress.pods_total), (1, 1));

    let err = cluster
        .scale(ScaleKind::Deployment, "scale", "nope", 1)
        .await
        .expect_err("no such deployment");
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pods_are_replaced_and_typed_patches_apply() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let before = nginx(&cluster, "del", 2).await;
    let deleted = cluster.delete_pods("del", "app=web").await.expect("delete");
    assert_eq!(deleted, before);
    let err = cluster
        .delete_pods("del", " ")
        .await
        .expect_err("no selector");
    assert!(matches!(err, K8sError::InvalidArgument(_)), "{err}");
    cluster
        .wait_namespace_ready("del", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("replaced");
    let after = pod_names(&cluster, "del").await;
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|p| !before.contains(p)));

    // Typed helpers: merge patch, replace with a stale resourceVersion conflicts.
    let patched: Deployment = cluster
        .merge_patch(
            "del",
            "web",
            &json!({"metadata": {"labels": {"tier": "front"}}}),
        )
        .await
        .expect("patch");
    assert_eq!(patched.metadata.labels.unwrap()["tier"], "front");
    let mut stale: Deployment = cluster.get("del", "web").await.expect("get");
    let _ = cluster
        .merge_patch::<Deployment>(
            "del",
            "web",
            &json!({"metadata": {"labels": {"tier": "back"}}}),
        )
        .await
        .expect("patch");
    stale
        .metadata
        .labels
        .get_or_insert_default()
        .insert("x".into(), "y".into());
    let err = cluster
        .replace("del", "web", &stale)
        .await
        .expect_err("conflict");
    assert_eq!(err.status_code(), Some(409), "{err}");
    assert!(
        cluster
            .get_opt::<Deployment>("del", "nope")
            .await
            .expect("get_opt")
            .is_none()
    );
    assert!(
        cluster
            .delete::<Deployment>("del", "web")
            .await
            .expect("delete")
    );
    assert!(
        !cluster
            .delete::<Deployment>("del", "web")
            .await
            .expect("delete again")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_once_and_deleted_with_a_wait() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await.with_run_id("run-ns");
    assert!(cluster.ensure_namespace("temp").await.expect("create"));
    assert!(!cluster.ensure_namespace("temp").await.expect("exists"));
    nginx(&cluster, "temp", 1).await;
    assert!(
        cluster
            .delete_namespace("temp", Duration::from_secs(60))
            .await
            .expect("deleted")
    );
    assert!(!cluster.namespace_exists("temp").await.expect("get"));
    let err = cluster
        .wait_namespace_ready("temp", WaitOptions::new(Duration::from_secs(5)))
        .await
        .expect_err("a missing namespace is not ready");
    assert!(err.is_not_found(), "{err}");
    assert!(
        !cluster
            .delete_namespace("temp", Duration::from_secs(5))
            .await
            .expect("gone already")
    );
}
