//! The oracles' pure judgements over objects as the API returns them.

use aiopslab_eval::oracle::{
    Baseline, BaselineAvailable, DeploymentCheck, PortRef, ServiceTargetPort, pod_problem,
};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

fn pod(name: &str, status: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"nodeName": "kind-worker", "containers": [{"name": "app", "image": "img"}]},
        "status": status
    }))
    .expect("pod")
}

fn running(ready: bool) -> Value {
    json!({"phase": "Running", "containerStatuses": [{
        "name": "app", "image": "img", "imageID": "", "ready": ready, "restartCount": 0,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    }]})
}

fn waiting(reason: &str, message: &str, restarts: i32) -> Value {
    json!({"phase": "Pending", "containerStatuses": [{
        "name": "app", "image": "img", "imageID": "", "ready": false, "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}}
    }]})
}

#[test]
fn pod_health_table() {
    let cases: Vec<(Pod, Option<&str>)> = vec![
        (pod("ok", running(true)), None),
        (
            pod("slow", running(false)),
            Some("pod slow: container app is running but not ready"),
        ),
        (
            pod(
                "crash",
                waiting(
                    "CrashLoopBackOff",
                    "back-off 40s restarting failed container=app",
                    3,
                ),
            ),
            Some(
                "pod crash: container app is waiting (CrashLoopBackOff after 3 restarts): back-off 40s restarting failed container=app",
            ),
        ),
        (
            pod(
                "pull",
                waiting("ImagePullBackOff", "Back-off pulling image \"nope:1\"", 0),
            ),
            Some(
                "pod pull: container app is waiting (ImagePullBackOff): Back-off pulling image \"nope:1\"",
            ),
        ),
        (
            pod("pull2", waiting("ErrImagePull", "not found", 0)),
            Some("is waiting (ErrImagePull): not found"),
        ),
        (
            pod("creating", waiting("ContainerCreating", "", 0)),
            Some("pod creating: container app is waiting (ContainerCreating)"),
        ),
        (
            pod(
                "dead",
                json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "img", "imageID": "", "ready": false, "restartCount": 1,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
            ),
            Some("pod dead: container app terminated (Error, exit code 1)"),
        ),
        (
            pod(
                "oom",
                json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "img", "imageID": "", "ready": false, "restartCount": 1,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
            ),
            Some("terminated (OOMKilled, exit code 137)"),
        ),
        (
            pod(
                "pending",
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}),
            ),
            Some(
                "pod pending is Pending: not scheduled (Unschedulable): 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
            ),
        ),
        (
            pod("fresh", json!({"phase": "Pending"})),
            Some("pod fresh is Pending: not scheduled yet"),
        ),
        (
            pod("nostatus", json!(null)),
            Some("pod nostatus is Pending: not scheduled yet"),
        ),
        (
            pod(
                "evicted",
                json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}),
            ),
            Some("pod evicted has failed (Evicted): The node was low on resource: memory."),
        ),
        (
            pod(
                "job",
                json!({"phase": "Succeeded", "containerStatuses": [{
                "name": "app", "image": "img", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
            ),
            None,
        ),
        (
            pod(
                "init",
                json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "setup", "image": "img", "imageID": "", "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}],
                "containerStatuses": [{"name": "app", "image": "img", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            Some(
                "pod init: init container setup is waiting (CrashLoopBackOff after 2 restarts): back-off",
            ),
        ),
        (
            pod(
                "inited",
                json!({"phase": "Running",
                "initContainerStatuses": [{"name": "setup", "image": "img", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                "containerStatuses": [{"name": "app", "image": "img", "imageID": "", "ready": true, "restartCount": 0,
                    "state": {"running": {}}}]}),
            ),
            None,
        ),
    ];
    for (p, want) in cases {
        let name = p.metadata.name.clone().unwrap_or_default();
        let got = pod_problem(&p);
        match (want, &got) {
            (None, None) => {}
            (Some(w), Some(g)) => assert!(g.contains(w), "{name}: {g:?} lacks {w:?}"),
            _ => panic!("{name}: expected {want:?}, got {got:?}"),
        }
        if let Some(g) = got {
            assert!(!g.contains('\n'), "{g}");
        }
    }
}

#[test]
fn terminating_pods_are_not_judged() {
    let mut p = pod("old", waiting("CrashLoopBackOff", "", 5));
    p.metadata.deletion_timestamp =
        Some(serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap());
    assert_eq!(pod_problem(&p), None);
}

#[test]
fn a_missing_container_status_fails() {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "two"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "a", "image": "i", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
    }))
    .unwrap();
    assert_eq!(
        pod_problem(&p).as_deref(),
        Some("pod two: container b has no status yet")
    );
}

fn deployment(
    name: &str,
    replicas: i32,
    available: i32,
    generation: i64,
    observed: i64,
) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "generation": generation},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "nodeSelector": {"kubernetes.io/hostname": "extra-node"},
                "containers": [
                    {"name": "hotel-reserv-profile", "image": "yinfangchen/hotelreservation:latest", "command": ["geo"]},
                    {"name": "sidecar", "image": "envoy:1", "command": ["envoy", "profile"]}
                ]}}
        },
        "status": {"observedGeneration": observed, "replicas": available, "availableReplicas": available, "updatedReplicas": available}
    }))
    .expect("deployment")
}

fn statefulset(name: &str, replicas: i32, ready: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "db"}]}}},
        "status": {"observedGeneration": 1, "replicas": ready, "readyReplicas": ready, "availableReplicas": ready}
    }))
    .expect("statefulset")
}

#[test]
fn baseline_records_and_judges_workloads() {
    let baseline = Baseline::from_objects(
        "ns",
        &[
            deployment("user", 1, 1, 1, 1),
            deployment("geo", 2, 2, 1, 1),
        ],
        &[statefulset("mongo", 1, 1)],
    );
    let names: Vec<(String, i32)> = baseline
        .workloads
        .iter()
        .map(|w| (format!("{}/{}", w.kind, w.name), w.replicas))
        .collect();
    assert_eq!(
        names,
        [
            ("deployment/geo".to_string(), 2),
            ("deployment/user".to_string(), 1),
            ("statefulset/mongo".to_string(), 1)
        ]
    );
    let json = serde_json::to_value(&baseline).unwrap();
    assert_eq!(serde_json::from_value::<Baseline>(json).unwrap(), baseline);

    let check = BaselineAvailable::new(baseline);
    let ok = check.judge(
        &[
            deployment("user", 1, 1, 1, 1),
            deployment("geo", 2, 2, 1, 1),
        ],
        &[statefulset("mongo", 1, 1)],
    );
    assert!(ok.passed, "{ok}");
    assert_eq!(
        ok.reason,
        "all 3 workloads of the baseline in ns are present and available"
    );

    let cases: Vec<(Vec<Deployment>, Vec<StatefulSet>, &str)> = vec![
        (
            vec![deployment("geo", 2, 2, 1, 1)],
            vec![statefulset("mongo", 1, 1)],
            "deployment user is missing (it had 1 replica before the fault)",
        ),
        (
            vec![
                deployment("user", 0, 0, 2, 2),
                deployment("geo", 2, 2, 1, 1),
            ],
            vec![statefulset("mongo", 1, 1)],
            "deployment user is scaled to 0 replicas (it had 1 before the fault)",
        ),
        (
            vec![
                deployment("user", 1, 1, 1, 1),
                deployment("geo", 2, 1, 1, 1),
            ],
            vec![statefulset("mongo", 1, 1)],
            "deployment geo has 1/2 replicas available",
        ),
        (
            vec![
                deployment("user", 1, 1, 3, 2),
                deployment("geo", 2, 2, 1, 1),
            ],
            vec![statefulset("mongo", 1, 1)],
            "deployment user: the controller has not yet acted on its latest change (generation 3, observed 2)",
        ),
        (
            vec![
                deployment("user", 1, 1, 1, 1),
                deployment("geo", 2, 2, 1, 1),
            ],
            vec![statefulset("mongo", 1, 0)],
            "statefulset mongo has 0/1 replica available",
        ),
        (
            vec![
                deployment("user", 1, 1, 1, 1),
                deployment("geo", 2, 2, 1, 1),
            ],
            vec![],
            "statefulset mongo is missing",
        ),
        (
            vec![],
            vec![],
            "deployment geo is missing (it had 2 replicas before the fault) (and 2 more workloads of the baseline in ns are not back)",
        ),
    ];
    for (deployments, statefulsets, want) in cases {
        let v = check.judge(&deployments, &statefulsets);
        assert!(!v.passed, "expected a failure: {want}");
        assert!(v.reason.contains(want), "{:?} lacks {want:?}", v.reason);
    }
}

fn service(ports: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "user-service"},
        "spec": {"ports": ports}
    }))
    .expect("service")
}

#[test]
fn service_target_port() {
    let check = ServiceTargetPort::new("ns", "user-service", 9090);
    let fixed = service(json!([{"name": "9090", "port": 9090, "targetPort": 9090}]));
    let v = check.judge(Some(&fixed));
    assert!(v.passed, "{v}");
    assert_eq!(v.reason, "service user-service port #0 (9090) targets 9090");

    let broken = service(json!([{"name": "9090", "port": 9090, "targetPort": 9999}]));
    let v = check.judge(Some(&broken));
    assert!(!v.passed);
    assert_eq!(
        v.reason,
        "service user-service port #0 (9090) targets 9999, expected 9090"
    );

    // An unset targetPort means the port itself.
    let defaulted = service(json!([{"port": 9090}]));
    assert!(check.judge(Some(&defaulted)).passed);

    // A name is not a number, as in AIOpsLab's comparison with an int.
    let named = service(json!([{"port": 9090, "targetPort": "9090"}]));
    let v = check.judge(Some(&named));
    assert!(!v.passed);
    assert!(v.reason.contains("targets \"9090\", expected 9090"), "{v}");

    let v = check.judge(None);
    assert_eq!(
        v.reason,
        "service user-service does not exist in namespace ns"
    );

    let v = check.judge(Some(&service(json!([]))));
    assert_eq!(
        v.reason,
        "service user-service has no port #0 (it has 0 ports)"
    );

    let by_name = ServiceTargetPort::new("ns", "user-service", 8080)
        .port(PortRef::Name("http".into()))
        .expecting(IntOrString::String("web".into()));
    let svc = service(
        json!([{"name": "thrift", "port": 9090}, {"name": "http", "port": 80, "targetPort": "web"}]),
    );
    assert!(by_name.judge(Some(&svc)).passed);
}

#[test]
fn deployment_checks() {
    let d = deployment("profile", 1, 1, 1, 1);

    let v = DeploymentCheck::command_contains("ns", "profile", "profile").judge(Some(&d));
    assert!(!v.passed);
    assert_eq!(
        v.reason,
        r#"deployment profile container hotel-reserv-profile has command ["geo"], expected a command containing "profile""#
    );
    let v = DeploymentCheck::command("ns", "profile", Some("hotel-reserv-profile"), ["geo"])
        .judge(Some(&d));
    assert!(v.passed, "{v}");
    let v = DeploymentCheck::command("ns", "profile", Some("nope"), ["geo"]).judge(Some(&d));
    assert_eq!(
        v.reason,
        "deployment profile has no container nope (it has: hotel-reserv-profile, sidecar)"
    );

    let v = DeploymentCheck::image(
        "ns",
        "profile",
        Some("hotel-reserv-profile"),
        "yinfangchen/hotelreservation:latest",
    )
    .judge(Some(&d));
    assert!(v.passed, "{v}");
    let v = DeploymentCheck::image("ns", "profile", None, "yinfangchen/hotelreservation:latest")
        .judge(Some(&d));
    assert_eq!(
        v.reason,
        r#"deployment profile container sidecar runs image "envoy:1", expected "yinfangchen/hotelreservation:latest""#
    );

    let v = DeploymentCheck::no_node_selector("ns", "profile").judge(Some(&d));
    assert_eq!(
        v.reason,
        "deployment profile has nodeSelector kubernetes.io/hostname=extra-node, expected none"
    );
    let v =
        DeploymentCheck::node_selector("ns", "profile", [("kubernetes.io/hostname", "extra-node")])
            .judge(Some(&d));
    assert!(v.passed, "{v}");

    assert!(
        DeploymentCheck::replicas("ns", "profile", 1)
            .judge(Some(&d))
            .passed
    );
    let zero = deployment("profile", 0, 0, 2, 2);
    let v = DeploymentCheck::replicas("ns", "profile", 1).judge(Some(&zero));
    assert_eq!(v.reason, "deployment profile has 0 replicas, expected 1");
    let starting = deployment("profile", 1, 0, 2, 2);
    let v = DeploymentCheck::replicas("ns", "profile", 1).judge(Some(&starting));
    assert_eq!(v.reason, "deployment profile has 0/1 replicas available");

    let v = DeploymentCheck::replicas("ns", "gone", 1).judge(None);
    assert_eq!(v.reason, "deployment gone does not exist in namespace ns");
}
