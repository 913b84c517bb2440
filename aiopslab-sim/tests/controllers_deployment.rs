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

fn replica_sets(sim: &Sim) -> Vec<(String, i64, String)> {
    let mut out: Vec<(String, i64, String)> = sim
        .list("apps", "replicasets", "test")
        .into_iter()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap().to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.2.cmp(&b.2));
    out
}

#[tokio::test]
async fn rolling_update_replaces_pods_within_surge_and_revisions_follow() {
    let sim = Sim::new(4).await;
    sim.apply(deployment("web", "nginx:1.25", 3)).await;
    sim.advance(10).await;
    let first = replica_sets(&sim)[0].0.clone();
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    })
    .await;
    // maxSurge 25% of 3 rounds up to 1, maxUnavailable rounds down to 0: one extra pod.
    let total = sim.pods("test", "app=web").len();
    assert_eq!(total, 4, "one surge pod");
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["status"], "True");
    sim.advance(60).await;
    let rss = replica_sets(&sim);
    assert_eq!(rss.len(), 2);
    assert_eq!(
        (rss[0].0.as_str(), rss[0].1, rss[0].2.as_str()),
        (first.as_str(), 0, "1")
    );
    assert_eq!((rss[1].1, rss[1].2.as_str()), (3, "2"));
    let pods = sim.pods("test", "app=web");
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(p["spec"]["containers"][0]["image"], "nginx:1.27");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
    }
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(d["status"]["updatedReplicas"], 3);
    assert_eq!(d["status"]["replicas"], 3);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    assert!(d["status"]["unavailableReplicas"].is_null());
    let msgs: Vec<String> = sim.events("test", "web").into_iter().map(|e| e.1).collect();
    let new = &rss[1].0;
    assert!(
        msgs.contains(&format!("Scaled up replica set {new} from 0 to 1")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&format!("Scaled down replica set {first} from 3 to 2")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&format!("Scaled down replica set {first} from 1 to 0")),
        "{msgs:?}"
    );
}

#[tokio::test]
async fn rollout_restart_and_undo() {
    let sim = Sim::new(5).await;
    sim.apply(deployment("web", "nginx:1.25", 2)).await;
    sim.advance(10).await;
    let before: Vec<String> = sim
        .pods("test", "app=web")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    // kubectl rollout restart.
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:01:00Z"});
    })
    .await;
    sim.advance(60).await;
    let after: Vec<String> = sim
        .pods("test", "app=web")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "{before:?} {after:?}"
    );
    // kubectl rollout undo: the template of revision 1, without its hash label.
    let rss = replica_sets(&sim);
    assert_eq!(
        rss.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        vec!["1", "2"]
    );
    let rev1 = sim.get("apps", "replicasets", "test", &rss[0].0).unwrap();
    let mut template = rev1["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    // kubectl's typed client sends `creationTimestamp: null`; it still matches revision 1.
    template["metadata"]["creationTimestamp"] = serde_json::Value::Null;
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["template"] = template
    })
    .await;
    sim.advance(60).await;
    let rs1 = sim.get("apps", "replicasets", "test", &rss[0].0).unwrap();
    assert_eq!(rs1["spec"]["replicas"], 2);
    assert_eq!(
        rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        sim.list("apps", "replicasets", "test").len(),
        2,
        "no third ReplicaSet"
    );
}

#[tokio::test]
async fn recreate_strategy_stops_old_pods_first() {
    let sim = Sim::new(6).await;
    let mut d = deployment("db", "nginx:1.25", 2);
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    sim.apply(d).await;
    sim.advance(10).await;
    sim.update("apps", "deployments", "test", "db", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    })
    .await;
    // Old pods are terminating and no new one exists yet.
    let pods = sim.pods("test", "app=db");
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.25")
    );
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["deletionTimestamp"].is_string())
    );
    sim.advance(30).await;
    let pods = sim.pods("test", "app=db");
    if pods.len() != 2 {
        for rs in sim.list("apps", "replicasets", "test") {
            eprintln!(
                "{} {} {}",
                rs["metadata"]["name"], rs["spec"]["replicas"], rs["status"]
            );
        }
        for p in &pods {
            eprintln!("{} {}", p["metadata"]["name"], p["status"]);
        }
        eprintln!("{:#?}", sim.events("test", "db"));
    }
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.27")
    );
}

#[tokio::test]
async fn paused_deployments_do_not_roll_out() {
    let sim = Sim::new(7).await;
    sim.apply(deployment("web", "nginx:1.25", 1)).await;
    sim.advance(10).await;
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["paused"] = json!(true);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    })
    .await;
    sim.advance(30).await;
    assert_eq!(sim.list("apps", "replicasets", "test").len(), 1);
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    let p = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(
        (p["status"].as_str(), p["reason"].as_str()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["paused"] = json!(false)
    })
    .await;
    sim.advance(30).await;
    assert_eq!(sim.list("apps", "replicasets", "test").len(), 2);
}

#[tokio::test]
async fn stuck_rollouts_exceed_their_progress_deadline() {
    let sim = Sim::new(8).await;
    let mut d = deployment("broken", "nosuch/image:1", 1);
    d["spec"]["progressDeadlineSeconds"] = json!(60);
    sim.apply(d).await;
    sim.advance(30).await;
    let cond = |sim: &Sim| {
        let d = sim.get("apps", "deployments", "test", "broken").unwrap();
        d["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Progressing")
            .unwrap()
            .clone()
    };
    assert_eq!(cond(&sim)["status"], "True");
    sim.advance(60).await;
    let c = cond(&sim);
    let rs = sim.list("apps", "replicasets", "test")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    assert_eq!(
        c["message"],
        format!("ReplicaSet \"{rs}\" has timed out progressing.")
    );
    let d = sim.get("apps", "deployments", "test", "broken").unwrap();
    assert_eq!(d["status"]["unavailableReplicas"], 1);
    let available = d["status"]["conditions"][0].clone();
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");
}

#[tokio::test]
async fn wall_clock_clusters_come_up_in_well_under_a_second() {
    use aiopslab_sim::admission::{Operation, admit};
    use aiopslab_sim::clock::WallClock;
    use aiopslab_sim::controllers::{self, Options, Topology};
    use aiopslab_sim::store::Store;
    use std::sync::Arc;
    let started = std::time::Instant::now();
    let store = Arc::new(Store::new(1, Arc::new(WallClock)));
    controllers::bootstrap(&store, &Topology::default());
    let handle = controllers::start(store.clone(), Options::default());
    let mut d = deployment("web", "nginx:1.25", 2);
    d["metadata"]["namespace"] = json!("default");
    let rtype = store
        .catalogue()
        .by_kind("apps/v1", "Deployment")
        .unwrap()
        .clone();
    admit(&store, &rtype, Operation::Create, &mut d, None).unwrap();
    store
        .create(
            &controllers_support::key("apps", "deployments"),
            "default",
            d,
        )
        .unwrap();
    handle
        .run_until_quiet(std::time::Duration::from_secs(5))
        .await;
    let d = store
        .get(
            &controllers_support::key("apps", "deployments"),
            "default",
            "web",
        )
        .unwrap();
    assert_eq!(d["status"]["availableReplicas"], 2, "{:#}", d["status"]);
    let coredns = store
        .get(
            &controllers_support::key("apps", "deployments"),
            "kube-system",
            "coredns",
        )
        .unwrap();
    assert_eq!(coredns["status"]["readyReplicas"], 2);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
