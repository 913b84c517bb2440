//! Derived telemetry on the wall clock, as `aiopslab cluster up` runs it: the recorder follows
//! the controllers on a multi-threaded runtime, and the Prometheus endpoint answers with the
//! kubelet's numbers (and a back-dated baseline) right after a deploy.

use aiopslab_sim::clock::WallClock;
use aiopslab_sim::controllers::{self, Options, Topology};
use aiopslab_sim::resources::ResourceKey;
use aiopslab_sim::store::Store;
use aiopslab_sim::telemetry::TelemetryServers;
use aiopslab_sim::telemetry::derive::{ClusterTelemetry, DeriveConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

async fn query(base: &str, q: &str) -> Vec<Value> {
    let url = format!("{base}/api/v1/query");
    let v: Value = reqwest::Client::new()
        .get(&url)
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "success", "{q}: {v}");
    v["data"]["result"].as_array().unwrap().clone()
}

fn value(v: &Value) -> f64 {
    v["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_follows_a_live_cluster() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Arc::new(Store::new(3, Arc::new(WallClock)));
    controllers::bootstrap(&store, &Topology::default());
    let handle = controllers::start(store.clone(), Options::default());
    let telemetry =
        ClusterTelemetry::for_cluster(store.clone(), Some(&handle), DeriveConfig::new(3));
    let servers = TelemetryServers::start(telemetry.sources(), store.clock().clone())
        .await
        .unwrap();
    let base = servers.urls().prometheus;

    let ns = ResourceKey::new("", "namespaces");
    store
        .create(
            &ns,
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "load"}}),
        )
        .unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stress", "namespace": "load"},
        "spec": {"containers": [{"name": "stress", "image": "polinux/stress",
            "args": ["--vm", "1", "--vm-bytes", "64M"]}]}});
    let pods = ResourceKey::new("", "pods");
    let rtype = store.catalogue().by_key(&pods).unwrap().clone();
    let mut pod = pod;
    aiopslab_sim::admission::admit(
        &store,
        &rtype,
        aiopslab_sim::admission::Operation::Create,
        &mut pod,
        None,
    )
    .unwrap();
    store.create(&pods, "load", pod).unwrap();
    handle.run_until_quiet(Duration::from_secs(5)).await;

    // Running now; part of the namespace's first deploy, so it has a 30-minute baseline.
    let top = handle.metrics().pods(Some("load"));
    assert_eq!(top.len(), 1, "the pod runs");
    let mut ws = Vec::new();
    for _ in 0..50 {
        ws = query(
            &base,
            r#"container_memory_working_set_bytes{namespace="load", container="stress"}"#,
        )
        .await;
        if !ws.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ws.len(), 1);
    let want = 64.0 * 1024.0 * 1024.0;
    assert!((value(&ws[0]) - want).abs() < want * 0.03, "{ws:?}");
    assert_eq!(
        ws[0]["metric"]["instance"],
        ws[0]["metric"]["kubernetes_io_hostname"]
    );
    let rate = query(
        &base,
        r#"rate(container_cpu_usage_seconds_total{namespace="load", container="stress"}[5m])"#,
    )
    .await;
    assert_eq!(rate.len(), 1);
    assert!((value(&rate[0]) - 0.95).abs() < 0.95 * 0.1, "{rate:?}");

    // Deleting the pod ends its container series (nothing after the deletion).
    store
        .delete(&pods, "load", "stress", Some(0), None, None)
        .unwrap();
    handle.run_until_quiet(Duration::from_secs(2)).await;
    let deleted_at = jiff::Timestamp::now().as_second();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Raw samples (a range selector): none after the deletion.
    let r: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[
            (
                "query",
                r#"container_memory_working_set_bytes{namespace="load", container="stress"}[10m]"#,
            ),
            ("time", &(deleted_at + 60).to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let series = r["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{r}");
    let last = series[0]["values"].as_array().unwrap().last().unwrap()[0]
        .as_f64()
        .unwrap();
    assert!(
        last <= deleted_at as f64,
        "a sample at {last} after the deletion at {deleted_at}"
    );
    servers.stop().await;
    drop(telemetry);
}
