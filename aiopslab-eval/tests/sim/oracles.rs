//! Each reusable check passes on a healthy namespace and fails with a clear reason when the
//! cluster is broken the way AIOpsLab's faults break it.

use crate::common::{Sim, deployment, quick, service};
use aiopslab_eval::oracle::{
    AllOf, Baseline, BaselineAvailable, DeploymentCheck, Oracle, PodsHealthy, ServiceTargetPort,
    judge,
};
use aiopslab_k8s::ScaleKind;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_namespace_passes_every_check() {
    let sim = Sim::start().await;
    sim.apply("web", &deployment("frontend", "nginx", 2, json!({})))
        .await;
    sim.apply("web", &deployment("backend", "nginx", 1, json!({})))
        .await;
    sim.apply("web", &service("backend", 9090)).await;
    sim.ready("web").await;
    let baseline = Baseline::record(&sim.cluster, "web")
        .await
        .expect("baseline");
    assert_eq!(baseline.workloads.len(), 2);

    let oracle = AllOf::new()
        .and(PodsHealthy::new("web"))
        .and(BaselineAvailable::new(baseline))
        .and(ServiceTargetPort::new("web", "backend", 9090))
        .and(DeploymentCheck::image("web", "frontend", None, "nginx"))
        .and(DeploymentCheck::replicas("web", "frontend", 2))
        .and(DeploymentCheck::no_node_selector("web", "frontend"));
    let judgement = judge(&sim.cluster, "web", &oracle, &quick())
        .await
        .expect("judge");
    assert!(judgement.settle.settled, "{}", judgement.settle);
    assert!(judgement.verdict.passed, "{}", judgement.verdict);
    assert!(
        judgement.verdict.reason.starts_with("all 6 checks passed: all 3 pods in namespace web are running and ready; all 2 workloads of the baseline in web are present and available"),
        "{}",
        judgement.verdict.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_pod_fails() {
    let sim = Sim::start().await;
    sim.apply(
        "crash",
        &deployment("crasher", "aiopslab/crash", 1, json!({})),
    )
    .await;
    let judgement = judge(&sim.cluster, "crash", &PodsHealthy::new("crash"), &quick())
        .await
        .expect("judge");
    assert!(judgement.settle.settled, "{}", judgement.settle);
    let v = judgement.verdict;
    assert!(!v.passed);
    assert!(v.reason.starts_with("pod crasher-"), "{v}");
    assert!(
        v.reason
            .contains(": container crasher is waiting (CrashLoopBackOff after "),
        "{v}"
    );
    assert!(!v.reason.contains('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_fails() {
    let sim = Sim::start().await;
    sim.apply(
        "pull",
        &deployment("web", "doesnotexist/nope:1", 1, json!({})),
    )
    .await;
    let judgement = judge(&sim.cluster, "pull", &PodsHealthy::new("pull"), &quick())
        .await
        .expect("judge");
    let v = judgement.verdict;
    assert!(!v.passed);
    assert!(v.reason.starts_with("pod web-"), "{v}");
    assert!(
        v.reason
            .contains("container web is waiting (ImagePullBackOff")
            || v.reason.contains("container web is waiting (ErrImagePull"),
        "{v}"
    );
    assert!(v.reason.contains("doesnotexist/nope:1"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_pod_fails_unlike_in_aiopslab() {
    let sim = Sim::start().await;
    let pinned = json!({"nodeSelector": {"kubernetes.io/hostname": "extra-node"}});
    sim.apply("sched", &deployment("user-service", "nginx", 1, pinned))
        .await;
    let oracle = PodsHealthy::new("sched");
    let judgement = judge(&sim.cluster, "sched", &oracle, &quick())
        .await
        .expect("judge");
    assert!(judgement.settle.settled, "{}", judgement.settle);
    let v = judgement.verdict;
    assert!(!v.passed);
    assert!(v.reason.starts_with("pod user-service-"), "{v}");
    assert!(
        v.reason
            .contains(" is Pending: not scheduled (Unschedulable): "),
        "{v}"
    );
    assert!(
        v.reason
            .contains("didn't match Pod's node affinity/selector"),
        "{v}"
    );

    let selector = DeploymentCheck::no_node_selector("sched", "user-service")
        .check(&sim.cluster)
        .await
        .expect("check");
    assert_eq!(
        selector.reason,
        "deployment user-service has nodeSelector kubernetes.io/hostname=extra-node, expected none"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_scaled_down_deployment_fails_the_baseline() {
    let sim = Sim::start().await;
    sim.apply("app", &deployment("geo", "nginx", 1, json!({})))
        .await;
    sim.apply("app", &deployment("user", "nginx", 2, json!({})))
        .await;
    sim.ready("app").await;
    let baseline = Baseline::record(&sim.cluster, "app")
        .await
        .expect("baseline");
    let check = BaselineAvailable::new(baseline);
    assert!(check.check(&sim.cluster).await.expect("check").passed);

    sim.cluster
        .scale(ScaleKind::Deployment, "app", "user", 0)
        .await
        .expect("scale");
    let v = judge(&sim.cluster, "app", &check, &quick())
        .await
        .expect("judge")
        .verdict;
    assert!(!v.passed);
    assert_eq!(
        v.reason,
        "deployment user is scaled to 0 replicas (it had 2 before the fault)"
    );
    // Every remaining pod is healthy, so the pod check alone would pass: the baseline is
    // what catches a workload scaled away.
    assert!(
        PodsHealthy::new("app")
            .check(&sim.cluster)
            .await
            .expect("pods")
            .passed
    );

    sim.cluster
        .delete::<Deployment>("app", "geo")
        .await
        .expect("delete");
    let v = judge(&sim.cluster, "app", &check, &quick())
        .await
        .expect("judge")
        .verdict;
    assert!(!v.passed);
    assert_eq!(
        v.reason,
        "deployment geo is missing (it had 1 replica before the fault) (and 1 more workloads of the baseline in app are not back)"
    );

    // Put both back: the baseline passes again once they are available.
    sim.apply("app", &deployment("geo", "nginx", 1, json!({})))
        .await;
    sim.cluster
        .scale(ScaleKind::Deployment, "app", "user", 2)
        .await
        .expect("scale");
    let v = judge(&sim.cluster, "app", &check, &quick())
        .await
        .expect("judge")
        .verdict;
    assert!(v.passed, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_target_port_is_read_from_the_cluster() {
    let sim = Sim::start().await;
    sim.apply("svc", &service("user-service", 9999)).await;
    let check = ServiceTargetPort::new("svc", "user-service", 9090);
    let v = check.check(&sim.cluster).await.expect("check");
    assert_eq!(
        v.reason,
        "service user-service port #0 (9090) targets 9999, expected 9090"
    );
    sim.cluster
        .merge_patch::<Service>(
            "svc",
            "user-service",
            &json!({"spec": {"ports": [{"name": "9090", "port": 9090, "targetPort": 9090}]}}),
        )
        .await
        .expect("patch");
    let v = check.check(&sim.cluster).await.expect("check");
    assert!(v.passed, "{v}");
    let missing = ServiceTargetPort::new("svc", "nope", 9090)
        .check(&sim.cluster)
        .await
        .expect("check");
    assert_eq!(
        missing.reason,
        "service nope does not exist in namespace svc"
    );
}
