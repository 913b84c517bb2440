//! Settling: converged controllers, played-out crash-loop back-offs, a quiet period, and a
//! time limit.

use crate::common::{Sim, deployment, quick};
use aiopslab_eval::oracle::{Oracle, PodsHealthy, SettleOptions, judge, settle};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_waits_for_a_fresh_rollout() {
    let sim = Sim::start().await;
    sim.apply("roll", &deployment("web", "nginx", 3, json!({})))
        .await;
    // No readiness wait: settle alone must see the rollout through.
    let report = settle(&sim.cluster, "roll", &quick())
        .await
        .expect("settle");
    assert!(report.settled, "{report}");
    assert!(report.changes > 0, "{report}");
    assert!(report.pending.is_empty());
    let v = PodsHealthy::new("roll")
        .check(&sim.cluster)
        .await
        .expect("check");
    assert!(v.passed, "{v}");
    assert_eq!(
        v.reason,
        "all 3 pods in namespace roll are running and ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_namespace_settles_after_the_quiet_period() {
    let sim = Sim::start().await;
    let options = SettleOptions::new(Duration::from_millis(300), Duration::from_secs(10));
    let report = settle(&sim.cluster, "nothing-here", &options)
        .await
        .expect("settle");
    assert!(report.settled, "{report}");
    assert_eq!(report.changes, 0);
    assert!(report.waited >= Duration::from_millis(300), "{report}");
    assert!(report.waited < Duration::from_secs(5), "{report}");
    assert!(report.summary().starts_with("settled after "), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_is_kept_and_the_verdict_says_so() {
    let sim = Sim::start().await;
    sim.apply("busy", &deployment("web", "nginx", 2, json!({})))
        .await;
    // A quiet period longer than the time limit can never be reached.
    let options = SettleOptions::new(Duration::from_secs(30), Duration::from_millis(400));
    let judgement = judge(&sim.cluster, "busy", &PodsHealthy::new("busy"), &options)
        .await
        .expect("judge");
    assert!(!judgement.settle.settled);
    assert!(
        judgement.settle.waited < Duration::from_secs(5),
        "{}",
        judgement.settle
    );
    assert!(!judgement.settle.pending.is_empty());
    assert!(
        judgement
            .verdict
            .reason
            .contains("(judged before the cluster settled: still moving after "),
        "{}",
        judgement.verdict
    );
}

async fn restarts(sim: &Sim, namespace: &str) -> (String, i32) {
    let pods = sim.cluster.list_pods(namespace, "").await.expect("pods");
    let pod: &Pod = pods.first().expect("a pod");
    let count = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .map(|c| c.restart_count)
        .unwrap_or(0);
    (pod.metadata.name.clone().unwrap_or_default(), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_back_off_is_played_out_before_judging() {
    let sim = Sim::start().await;
    sim.apply(
        "loop",
        &deployment("crasher", "aiopslab/crash", 1, json!({})),
    )
    .await;
    let first = settle(&sim.cluster, "loop", &quick())
        .await
        .expect("settle");
    assert!(first.settled, "{first}");
    let (pod, before) = restarts(&sim, "loop").await;
    assert!(before >= 1, "{pod} has restarted {before} times");

    // Settling again waits for the container's next restart: a fix made while it was
    // backing off would show in that run.
    let options = SettleOptions::new(Duration::from_millis(50), Duration::from_secs(60));
    let again = settle(&sim.cluster, "loop", &options)
        .await
        .expect("settle");
    assert!(again.settled, "{again}");
    let (same, after) = restarts(&sim, "loop").await;
    assert_eq!(same, pod);
    assert!(
        after > before,
        "restarts {before} -> {after}: the back-off was not played out"
    );
}
