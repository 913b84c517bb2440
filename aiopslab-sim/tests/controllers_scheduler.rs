//! The scheduler: placement rules and FailedScheduling worded as kube-scheduler words it.

mod controllers_support;

use controllers_support::{Sim, deployment, pod_state};
use serde_json::json;

fn scheduled_condition(p: &serde_json::Value) -> serde_json::Value {
    p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .unwrap()
        .clone()
}

#[tokio::test]
async fn unmatched_node_selector_leaves_pods_pending() {
    let sim = Sim::new(21).await;
    let mut d = deployment("user-service", "nginx:1.25", 1);
    d["spec"]["template"]["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": "extra-node"});
    sim.apply(d).await;
    sim.advance(5).await;
    let pods = sim.pods("test", "app=user-service");
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(p["spec"]["nodeName"].is_null());
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let cond = scheduled_condition(p);
    assert_eq!(
        (
            cond["status"].as_str(),
            cond["reason"].as_str(),
            cond["message"].as_str()
        ),
        (Some("False"), Some("Unschedulable"), Some(expected))
    );
    let name = p["metadata"]["name"].as_str().unwrap();
    let events = sim.events("test", name);
    assert_eq!(
        events,
        vec![("FailedScheduling".to_string(), expected.to_string(), 1)]
    );
    // Removing the selector rolls out pods that run.
    sim.update("apps", "deployments", "test", "user-service", |d| {
        d["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("nodeSelector");
    })
    .await;
    sim.advance(30).await;
    let pods = sim.pods("test", "app=user-service");
    assert_eq!(pods.len(), 1, "the pending pod was replaced");
    assert_eq!(pod_state(&pods[0]), "Running");
    let d = sim
        .get("apps", "deployments", "test", "user-service")
        .unwrap();
    assert_eq!(d["status"]["availableReplicas"], 1);
}

#[tokio::test]
async fn resources_taints_and_cordons() {
    let sim = Sim::new(22).await;
    let mut big = deployment("big", "nginx:1.25", 1);
    big["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "100"}});
    sim.apply(big).await;
    sim.advance(2).await;
    let p = &sim.pods("test", "app=big")[0];
    assert_eq!(
        scheduled_condition(p)["message"],
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
    // Cordon both workers: new pods cannot go anywhere.
    for n in ["kind-worker", "kind-worker2"] {
        sim.update("", "nodes", "", n, |o| {
            o["spec"]["unschedulable"] = json!(true)
        })
        .await;
    }
    sim.apply(deployment("small", "nginx:1.25", 1)).await;
    sim.advance(2).await;
    let p = &sim.pods("test", "app=small")[0];
    assert_eq!(
        scheduled_condition(p)["message"],
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    // Uncordon one: the pending pod is retried and lands there.
    sim.update("", "nodes", "", "kind-worker2", |o| {
        o["spec"].as_object_mut().unwrap().remove("unschedulable");
    })
    .await;
    sim.advance(5).await;
    let p = &sim.pods("test", "app=small")[0];
    assert_eq!(p["spec"]["nodeName"], "kind-worker2");
    assert_eq!(pod_state(p), "Running");
    let events = sim.events("test", p["metadata"]["name"].as_str().unwrap());
    assert_eq!(events[0].0, "FailedScheduling");
    assert_eq!(
        events[1].1,
        format!(
            "Successfully assigned test/{} to kind-worker2",
            p["metadata"]["name"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn replicas_spread_over_workers_and_tolerations_reach_the_control_plane() {
    let sim = Sim::new(23).await;
    sim.apply(deployment("web", "nginx:1.25", 2)).await;
    sim.advance(5).await;
    let mut nodes: Vec<String> = sim
        .pods("test", "app=web")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, vec!["kind-worker", "kind-worker2"]);
    let mut cp = deployment("cp", "nginx:1.25", 1);
    cp["spec"]["template"]["spec"]["nodeSelector"] =
        json!({"node-role.kubernetes.io/control-plane": ""});
    cp["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]);
    sim.apply(cp).await;
    sim.advance(5).await;
    assert_eq!(
        sim.pods("test", "app=cp")[0]["spec"]["nodeName"],
        "kind-control-plane"
    );
    // Labelling a node lets a waiting pod in.
    let mut ssd = deployment("ssd", "nginx:1.25", 1);
    ssd["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    sim.apply(ssd).await;
    sim.advance(2).await;
    assert!(sim.pods("test", "app=ssd")[0]["spec"]["nodeName"].is_null());
    sim.update("", "nodes", "", "kind-worker", |n| {
        n["metadata"]["labels"]["disk"] = json!("ssd")
    })
    .await;
    sim.advance(5).await;
    assert_eq!(
        sim.pods("test", "app=ssd")[0]["spec"]["nodeName"],
        "kind-worker"
    );
}
