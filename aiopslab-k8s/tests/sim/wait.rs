//! Readiness waits: fail fast with the reason, time out with what is pending, Jobs.

use crate::common::{Sim, deployment};
use aiopslab_k8s::{ApplyOptions, K8sError, Problem, WaitOptions};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;
use std::time::{Duration, Instant};

fn problem(err: K8sError) -> Problem {
    match err {
        K8sError::NotReady { problem, .. } => *problem,
        other => panic!("expected a NotReady problem, got: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_fails_fast_naming_the_image() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let text = deployment("web", "doesnotexist/nope:1", 1, json!({}), json!({}));
    cluster
        .apply_yaml("web.yaml", &text, &ApplyOptions::into_namespace("pull"))
        .await
        .expect("apply");
    let started = Instant::now();
    let err = cluster
        .wait_namespace_ready("pull", WaitOptions::new(Duration::from_secs(120)))
        .await
        .expect_err("cannot pull");
    assert!(started.elapsed() < Duration::from_secs(60), "fails fast");
    let text = err.to_string();
    match problem(err) {
        Problem::ImagePull {
            image,
            reason,
            container,
            message,
            ..
        } => {
            assert_eq!(image, "doesnotexist/nope:1");
            assert_eq!(container, "web");
            assert!(
                reason == "ErrImagePull" || reason == "ImagePullBackOff",
                "{reason}"
            );
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(text.starts_with("namespace pull: pod web-"), "{text}");
    assert!(
        text.contains("cannot pull image \"doesnotexist/nope:1\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_fails_fast_with_the_last_log_lines() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let text = deployment("crasher", "aiopslab/crash", 1, json!({}), json!({}));
    cluster
        .apply_yaml("crash.yaml", &text, &ApplyOptions::into_namespace("crash"))
        .await
        .expect("apply");
    let err = cluster
        .wait_namespace_ready("crash", WaitOptions::new(Duration::from_secs(120)))
        .await
        .expect_err("crash loop");
    let text = err.to_string();
    match problem(err) {
        Problem::CrashLoop {
            container,
            restarts,
            exit_code,
            logs,
            ..
        } => {
            assert_eq!(container, "crasher");
            assert!(restarts >= 1, "{restarts}");
            assert_eq!(exit_code, Some(1));
            assert_eq!(
                logs.last().map(String::as_str),
                Some("panic: simulated crash: the configuration is invalid"),
                "{logs:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("keeps crashing (CrashLoopBackOff"), "{text}");
    assert!(text.contains("\n    panic: simulated crash"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_fails_fast_with_the_schedulers_message() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let text = deployment(
        "geo",
        "nginx",
        1,
        json!({"nodeSelector": {"kubernetes.io/hostname": "extra-node"}}),
        json!({}),
    );
    cluster
        .apply_yaml("geo.yaml", &text, &ApplyOptions::into_namespace("sched"))
        .await
        .expect("apply");
    let err = cluster
        .wait_namespace_ready("sched", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect_err("unschedulable");
    match problem(err) {
        Problem::Unschedulable { pod, message } => {
            assert!(pod.starts_with("geo-"), "{pod}");
            assert!(message.contains("nodes are available"), "{message}");
            assert!(
                message.contains("didn't match Pod's node affinity/selector"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_cannot_be_provisioned_fails_with_its_events() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                 "resources": {"requests": {"storage": "1Gi"}}}
    })
    .to_string();
    let app = deployment(
        "db",
        "nginx",
        1,
        json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}),
        json!({}),
    );
    cluster
        .apply_yaml(
            "db.yaml",
            &format!("{claim}\n---\n{app}"),
            &ApplyOptions::into_namespace("pvc"),
        )
        .await
        .expect("apply");
    let err = cluster
        .wait_namespace_ready("pvc", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect_err("claim pending");
    let text = err.to_string();
    match problem(err) {
        Problem::ClaimPending { claim, events, .. } => {
            assert_eq!(claim, "data");
            assert!(
                events.iter().any(|e| e.starts_with("Warning ")),
                "{events:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        text.contains("PersistentVolumeClaim data stays Pending"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_lists_what_is_not_ready_and_readiness_follows_state() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    // Never ready: the readiness probe runs `cat /tmp/ready`, a file nothing writes.
    let text = deployment(
        "gate",
        "busybox",
        1,
        json!({}),
        json!({
            "command": ["sh", "-c", "sleep 3600"],
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
        }),
    );
    cluster
        .apply_yaml("gate.yaml", &text, &ApplyOptions::into_namespace("gate"))
        .await
        .expect("apply");
    let started = Instant::now();
    let err = cluster
        .wait_namespace_ready("gate", WaitOptions::new(Duration::from_secs(2)))
        .await
        .expect_err("never ready by itself");
    assert!(started.elapsed() < Duration::from_secs(4));
    match &err {
        K8sError::WaitTimeout {
            what,
            secs,
            waiting_for,
        } => {
            assert_eq!(what, "namespace gate to be ready");
            assert_eq!(*secs, 2);
            assert!(
                waiting_for.iter().any(|w| w.starts_with("pod gate-")),
                "{waiting_for:?}"
            );
            assert!(
                waiting_for
                    .iter()
                    .any(|w| w.starts_with("deployment gate: 0/1 available")),
                "{waiting_for:?}"
            );
        }
        other => panic!("{other}"),
    }

    // Fixing the state (the probe) rolls out a pod that becomes ready.
    let patch: json_patch::Patch = serde_json::from_value(json!([{
        "op": "replace",
        "path": "/spec/template/spec/containers/0/readinessProbe/exec/command",
        "value": ["true"]
    }]))
    .expect("patch");
    cluster
        .json_patch::<Deployment>("gate", "gate", patch)
        .await
        .expect("patch the probe");
    let progress = cluster
        .wait_deployment_ready("gate", "gate", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("ready once the probe passes");
    assert_eq!((progress.pods_ready, progress.pods_total), (1, 1));
}

fn job(name: &str, script: &str) -> String {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]
        }}}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_complete_or_fail_with_the_reason() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let text = format!(
        "{}\n---\n{}",
        job("ok", "echo done"),
        job("bad", "echo failing; exit 3")
    );
    cluster
        .apply_yaml("jobs.yaml", &text, &ApplyOptions::into_namespace("jobs"))
        .await
        .expect("apply");
    let done = cluster
        .wait_job_complete("jobs", "ok", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("completes");
    assert_eq!(done.status.and_then(|s| s.succeeded), Some(1));
    let pods = cluster
        .list_pods("jobs", "job-name=ok")
        .await
        .expect("pods");
    let log = cluster
        .logs(
            "jobs",
            pods[0].metadata.name.as_deref().unwrap(),
            &Default::default(),
        )
        .await
        .expect("logs");
    assert_eq!(log, "done\n");

    let err = cluster
        .wait_job_complete("jobs", "bad", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect_err("fails");
    match problem(err) {
        Problem::JobFailed { job, reason, .. } => {
            assert_eq!(job, "bad");
            assert_eq!(reason, "BackoffLimitExceeded");
        }
        other => panic!("{other:?}"),
    }

    // Finished Job pods do not keep a namespace from being ready.
    cluster
        .wait_namespace_ready("jobs", WaitOptions::new(Duration::from_secs(10)))
        .await
        .expect("nothing to wait for");
}
