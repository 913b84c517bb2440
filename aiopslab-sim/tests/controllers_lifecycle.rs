//! Garbage collection, namespaces, jobs, stateful sets, daemon sets, volumes, determinism.

mod controllers_support;

use controllers_support::{Sim, deployment, key, pod_state};
use serde_json::{Value, json};

#[tokio::test]
async fn deleting_a_deployment_cascades_in_the_background() {
    let sim = Sim::new(41).await;
    sim.apply(deployment("web", "nginx:1.25", 2)).await;
    sim.advance(10).await;
    sim.store
        .delete(&key("apps", "deployments"), "test", "web", None, None, None)
        .unwrap();
    sim.advance(5).await;
    assert!(sim.list("apps", "replicasets", "test").is_empty());
    assert!(sim.pods("test", "app=web").is_empty());
}

#[tokio::test]
async fn orphan_deletion_keeps_the_replica_set_and_pods() {
    let sim = Sim::new(42).await;
    sim.apply(deployment("web", "nginx:1.25", 2)).await;
    sim.advance(10).await;
    // What the API server does for propagationPolicy=Orphan.
    sim.store
        .modify(&key("apps", "deployments"), "test", "web", |d| {
            d["metadata"]["finalizers"] = json!(["orphan"]);
            Ok(())
        })
        .unwrap();
    sim.store
        .delete(&key("apps", "deployments"), "test", "web", None, None, None)
        .unwrap();
    sim.advance(5).await;
    assert!(sim.get("apps", "deployments", "test", "web").is_none());
    let rss = sim.list("apps", "replicasets", "test");
    assert_eq!(rss.len(), 1);
    assert!(
        rss[0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    );
    assert_eq!(sim.pods("test", "app=web").len(), 2);
}

#[tokio::test]
async fn foreground_deletion_waits_for_dependents() {
    let sim = Sim::new(43).await;
    sim.apply(deployment("web", "busybox", 1)).await;
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["sleep", "3600"]);
    })
    .await;
    sim.advance(30).await;
    sim.store
        .modify(&key("apps", "deployments"), "test", "web", |d| {
            d["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
            Ok(())
        })
        .unwrap();
    sim.store
        .delete(&key("apps", "deployments"), "test", "web", None, None, None)
        .unwrap();
    sim.advance(2).await;
    // `sleep` ignores SIGTERM: the pod takes its grace period, and so does the Deployment.
    let d = sim.get("apps", "deployments", "test", "web").unwrap();
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(sim.pods("test", "app=web").len(), 1);
    sim.advance(40).await;
    assert!(sim.pods("test", "app=web").is_empty());
    assert!(sim.list("apps", "replicasets", "test").is_empty());
    assert!(sim.get("apps", "deployments", "test", "web").is_none());
}

#[tokio::test]
async fn namespace_deletion_empties_and_removes_it() {
    let sim = Sim::new(44).await;
    sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}))
        .await;
    let mut d = deployment("web", "nginx:1.25", 2);
    d["metadata"]["namespace"] = json!("app");
    sim.create(d).await;
    sim.create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"},
                      "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    sim.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "app"}})).await;
    sim.advance(10).await;
    assert!(sim.get("", "serviceaccounts", "app", "default").is_some());
    sim.store
        .delete(&key("", "namespaces"), "", "app", None, None, None)
        .unwrap();
    sim.handle.settle().await;
    let ns = sim.get("", "namespaces", "", "app").unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");
    let remaining = ns["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "NamespaceContentRemaining")
        .unwrap()
        .clone();
    assert_eq!(remaining["status"], "True");
    assert!(
        remaining["message"]
            .as_str()
            .unwrap()
            .contains("pods has 2 resource instances"),
        "{remaining}"
    );
    sim.advance(10).await;
    assert!(sim.get("", "namespaces", "", "app").is_none());
    for (g, p) in [
        ("", "pods"),
        ("", "services"),
        ("", "configmaps"),
        ("apps", "replicasets"),
        ("", "events"),
        ("", "endpoints"),
    ] {
        assert!(sim.list(g, p, "app").is_empty(), "{p} left");
    }
}

fn job(name: &str, script: &str, completions: i64) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
           "spec": {"completions": completions, "backoffLimit": 1,
                    "template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "work", "image": "busybox", "command": ["sh", "-c", script]}]}}}})
}

#[tokio::test]
async fn jobs_complete_or_fail() {
    let sim = Sim::new(45).await;
    sim.apply(job("ok", "echo working; sleep 3; echo done", 2))
        .await;
    sim.apply(job("bad", "echo oops; exit 2", 1)).await;
    sim.advance(120).await;
    let ok = sim.get("batch", "jobs", "test", "ok").unwrap();
    let st = &ok["status"];
    assert_eq!(st["succeeded"], 2, "{st:#}");
    assert!(st["completionTime"].is_string());
    let types: Vec<&str> = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["SuccessCriteriaMet", "Complete"]);
    let pods = sim.pods("test", "job-name=ok");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
    assert!(pods.iter().all(|p| {
        p["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty())
    }));
    let events = sim.events("test", "ok");
    assert_eq!(
        events.iter().filter(|e| e.0 == "SuccessfulCreate").count(),
        2
    );
    assert!(
        events
            .iter()
            .any(|e| e.0 == "Completed" && e.1 == "Job completed")
    );
    let bad = sim.get("batch", "jobs", "test", "bad").unwrap();
    assert_eq!(bad["status"]["failed"], 2, "{:#}", bad["status"]);
    let failed = bad["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap()
        .clone();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
}

#[tokio::test]
async fn stateful_sets_start_in_order_with_their_volumes() {
    let sim = Sim::new(46).await;
    sim.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "nginx:1.25",
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})).await;
    sim.handle.settle().await;
    assert_eq!(sim.pods("test", "app=db").len(), 1, "db-1 waits for db-0");
    sim.advance(30).await;
    let mut names: Vec<String> = sim
        .pods("test", "app=db")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["db-0", "db-1"]);
    for p in sim.pods("test", "app=db") {
        assert_eq!(pod_state(&p), "Running");
        assert_eq!(p["spec"]["hostname"], p["metadata"]["name"]);
    }
    let pvc = sim
        .get("", "persistentvolumeclaims", "test", "data-db-0")
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert_eq!(pvc["spec"]["storageClassName"], "standard");
    let pv_name = pvc["spec"]["volumeName"].as_str().unwrap();
    assert_eq!(
        pv_name,
        format!("pvc-{}", pvc["metadata"]["uid"].as_str().unwrap())
    );
    let pv = sim.get("", "persistentvolumes", "", pv_name).unwrap();
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["claimRef"]["name"], "data-db-0");
    let node = sim.get("", "pods", "test", "db-0").unwrap()["spec"]["nodeName"].clone();
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
            [0],
        node
    );
    let sts = sim.get("apps", "statefulsets", "test", "db").unwrap();
    assert_eq!(sts["status"]["readyReplicas"], 2);
    assert_eq!(
        sts["status"]["currentRevision"],
        sts["status"]["updateRevision"]
    );
    // A rolling update replaces db-1 first.
    sim.update("apps", "statefulsets", "test", "db", |s| {
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    })
    .await;
    sim.advance(2).await;
    let db1 = sim.get("", "pods", "test", "db-1");
    assert!(db1.is_none() || db1.unwrap()["spec"]["containers"][0]["image"] == "nginx:1.27");
    assert_eq!(
        sim.get("", "pods", "test", "db-0").unwrap()["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    sim.advance(60).await;
    for p in sim.pods("test", "app=db") {
        assert_eq!(p["spec"]["containers"][0]["image"], "nginx:1.27");
    }
    // Deleting the claim while a pod uses it keeps it until the pod is gone.
    sim.store
        .delete(
            &key("", "persistentvolumeclaims"),
            "test",
            "data-db-0",
            None,
            None,
            None,
        )
        .unwrap();
    sim.advance(1).await;
    assert!(
        sim.get("", "persistentvolumeclaims", "test", "data-db-0")
            .unwrap()["metadata"]["deletionTimestamp"]
            .is_string()
    );
}

#[tokio::test]
async fn daemon_sets_run_once_per_eligible_node() {
    let sim = Sim::new(47).await;
    sim.apply(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "nginx:1.25"}]}}}})).await;
    sim.advance(10).await;
    let mut nodes: Vec<String> = sim
        .pods("test", "app=agent")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, vec!["kind-worker", "kind-worker2"]);
    let ds = sim.get("apps", "daemonsets", "test", "agent").unwrap();
    assert_eq!(ds["status"]["desiredNumberScheduled"], 2);
    assert_eq!(ds["status"]["numberReady"], 2);
}

#[tokio::test]
async fn cron_jobs_create_jobs_on_schedule() {
    let sim = Sim::new(48).await;
    sim.apply(json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "t", "image": "busybox", "command": ["date"]}]}}}}}})).await;
    sim.advance(150).await;
    let jobs = sim.list("batch", "jobs", "test");
    // Created at 00:00:31; by 00:03:01 it ran at 00:01, 00:02 and 00:03.
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    let cj = sim.get("batch", "cronjobs", "test", "tick").unwrap();
    assert!(cj["status"]["lastScheduleTime"].is_string());
}

/// What a user would see, minus nothing: with a manual clock the same seed gives the same bytes.
async fn scenario(seed: u64) -> Vec<Value> {
    let sim = Sim::new(seed).await;
    sim.apply(deployment("web", "nginx:1.25", 3)).await;
    sim.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                     "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    sim.apply(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash"},
                     "spec": {"containers": [{"name": "c", "image": "aiopslab/crash"}]}}),
    )
    .await;
    sim.advance(90).await;
    let mut out = Vec::new();
    for (g, p) in [
        ("", "pods"),
        ("", "services"),
        ("", "endpoints"),
        ("apps", "replicasets"),
        ("", "events"),
    ] {
        out.extend(sim.list(g, p, "test"));
    }
    out
}

#[tokio::test]
async fn same_seed_same_cluster() {
    let a = scenario(99).await;
    let b = scenario(99).await;
    assert_eq!(a, b);
    let c = scenario(100).await;
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_ne!(names(&a), names(&c), "another seed, other pod names");
}

#[tokio::test]
async fn static_volumes_bind_by_class_and_size_and_are_released() {
    let sim = Sim::new(49).await;
    sim.create(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "geo-pv"},
        "spec": {"storageClassName": "geo-storage", "capacity": {"storage": "1Gi"},
                 "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/volumes/geo-pv"}}}),
    )
    .await;
    sim.create(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "small"},
        "spec": {"storageClassName": "geo-storage", "capacity": {"storage": "100Mi"},
                 "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/volumes/small"}}}),
    )
    .await;
    let pv = sim.get("", "persistentvolumes", "", "geo-pv").unwrap();
    assert_eq!(pv["status"]["phase"], "Available");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    sim.apply(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "geo-pvc"},
        "spec": {"storageClassName": "geo-storage", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "500Mi"}}}}),
    )
    .await;
    let pvc = sim
        .get("", "persistentvolumeclaims", "test", "geo-pvc")
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert_eq!(pvc["spec"]["volumeName"], "geo-pv");
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    assert_eq!(
        sim.get("", "persistentvolumes", "", "small").unwrap()["status"]["phase"],
        "Available"
    );
    // A claim nothing can satisfy stays Pending.
    sim.apply(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "big"},
        "spec": {"storageClassName": "geo-storage", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "10Gi"}}}}),
    )
    .await;
    assert_eq!(
        sim.get("", "persistentvolumeclaims", "test", "big")
            .unwrap()["status"]["phase"],
        "Pending"
    );
    let reasons: Vec<String> = sim.events("test", "big").into_iter().map(|e| e.1).collect();
    assert_eq!(
        reasons,
        vec!["storageclass.storage.k8s.io \"geo-storage\" not found"]
    );
    // Deleting the bound claim releases the volume, which is retained.
    sim.store
        .delete(
            &key("", "persistentvolumeclaims"),
            "test",
            "geo-pvc",
            None,
            None,
            None,
        )
        .unwrap();
    sim.advance(1).await;
    assert!(
        sim.get("", "persistentvolumeclaims", "test", "geo-pvc")
            .is_none()
    );
    assert_eq!(
        sim.get("", "persistentvolumes", "", "geo-pv").unwrap()["status"]["phase"],
        "Released"
    );
    // A pod whose claim does not exist cannot be scheduled.
    sim.apply(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"},
        "spec": {"containers": [{"name": "db", "image": "nginx:1.25"}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "geo-pvc"}}]}})).await;
    let p = sim.get("", "pods", "test", "db").unwrap();
    let cond = p["status"]["conditions"][0].clone();
    assert_eq!(
        cond["message"],
        "0/3 nodes are available: persistentvolumeclaim \"geo-pvc\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}
