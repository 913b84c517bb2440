//! Deployments, ReplicaSets, the scheduler and the kubelet together.

mod controllers_support;

use controllers_support::{Sim, deployment, pod_state};
use serde_json::json;

#[tokio::test]
async fn bootstrap_brings_up_kind_system_pods() {
    let sim = Sim::new(1).await;
    let nodes = sim
        .store
        .list(&controllers_support::key("", "nodes"), None)
        .0;
    let names: Vec<&str> = nodes
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["kind-control-plane", "kind-worker", "kind-worker2"]
    );
    let coredns = sim
        .get("apps", "deployments", "kube-system", "coredns")
        .unwrap();
    assert_eq!(
        coredns["status"]["readyReplicas"], 2,
        "{:#}",
        coredns["status"]
    );
    for p in sim.list("", "pods", "kube-system") {
        assert_eq!(pod_state(&p), "Running", "{}", p["metadata"]["name"]);
    }
    // One kube-proxy and one kindnet pod per node.
    assert_eq!(sim.pods("kube-system", "k8s-app=kube-proxy").len(), 3);
    assert_eq!(sim.pods("kube-system", "app=kindnet").len(), 3);
    // Every namespace has its default service account and root CA.
    assert!(sim.get("", "serviceaccounts", "test", "default").is_some());
    assert!(
        sim.get("", "configmaps", "test", "kube-root-ca.crt")
            .is_some()
    );
    let ep = sim.get("", "endpoints", "kube-system", "kube-dns").unwrap();
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().unwrap().len(),
        2,
        "{ep:#}"
    );
}

#[tokio::test]
async fn deployment_pods_come_up_running_and_ready() {
    let sim = Sim::new(2).await;
    sim.apply(deployment("web", "nginx:1.25", 2)).await;
    let rs = sim.list("apps", "replicasets", "test");
    assert_eq!(rs.len(), 1);
    let rs_name = rs[0]["metadata"]["name"].as_str().unwrap().to_string();
    assert!(rs_name.starts_with("web-"));
    let pods = sim.pods("test", "app=web");
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(pod_state(p), "ContainerCreating");
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["name"],
            rs_name.as_str()
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert!(p["metadata"]["labels"]["pod-template-hash"].is_string());
    }
    sim.advance(10).await;
    for p in sim.pods("test", "app=web") {
        assert_eq!(pod_state(&p), "Running");
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
        assert!(
            p["status"]["podIP"]
                .as_str()
                .unwrap()
                .starts_with("10.244.")
        );
        assert!(
            p["status"]["containerStatuses"][0]["containerID"]
                .as_str()
                .unwrap()
                .starts_with("containerd://")
        );
        let name = p["metadata"]["name"].as_str().unwrap();
        let reasons: Vec<String> = sim.events("test", name).into_iter().map(|e| e.0).collect();
        assert_eq!(
            reasons,
            vec!["Scheduled", "Pulling", "Pulled", "Created", "Started"],
            "{name}"
        );
    }
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    let st = &d["status"];
    assert_eq!(
        (
            st["replicas"].as_i64(),
            st["readyReplicas"].as_i64(),
            st["availableReplicas"].as_i64(),
            st["updatedReplicas"].as_i64()
        ),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let conds = st["conditions"].as_array().unwrap();
    assert_eq!(conds[0]["type"], "Available");
    assert_eq!(conds[0]["reason"], "MinimumReplicasAvailable");
    assert_eq!(conds[1]["type"], "Progressing");
    assert_eq!(conds[1]["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        conds[1]["message"],
        format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
    );
    let events = sim.events("test", "web");
    assert_eq!(events[0].0, "ScalingReplicaSet");
    assert_eq!(
        events[0].1,
        format!("Scaled up replica set {rs_name} from 0 to 2")
    );
}

#[tokio::test]
async fn scale_up_and_down() {
    let sim = Sim::new(3).await;
    sim.apply(deployment("web", "nginx:1.25", 1)).await;
    sim.advance(10).await;
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["replicas"] = json!(3)
    })
    .await;
    sim.advance(10).await;
    assert_eq!(sim.pods("test", "app=web").len(), 3);
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    assert_eq!(d["status"]["availableReplicas"], 3);
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["replicas"] = json!(1)
    })
    .await;
    sim.advance(2).await;
    let alive: Vec<_> = sim.pods("test", "app=web");
    assert_eq!(alive.len(), 1, "terminated pods are removed");
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    assert_eq!(d["status"]["replicas"], 1);
    let msgs: Vec<String> = sim.events("test", "web").into_iter().map(|e| e.1).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Scaled up replica set web-") && m.ends_with("from 1 to 3")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.ends_with("from 3 to 1")), "{msgs:?}");
}
