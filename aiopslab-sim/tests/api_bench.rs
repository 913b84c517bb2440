//! Throughput and latency of the API server over HTTPS, as a client sees them:
//! `cargo test -p aiopslab-sim --test api_bench -- --ignored --nocapture`.
//!
//! Prints startup time, writes/s and reads/s with concurrent kube-rs clients, and the latency
//! of a 30-pod `Table` list (what `kubectl get pods` asks for) and of `kubectl get pods`
//! itself. Numbers depend on the build profile (debug builds are several times slower).

mod common;

use common::TestCluster;
use futures::future::join_all;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::{Client, Config, config::KubeConfigOptions, config::Kubeconfig};
use serde_json::json;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;

async fn client(t: &TestCluster) -> Client {
    let kc = Kubeconfig::read_from(t.cluster.admin_kubeconfig_path()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn cm(name: String) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"bench": "yes"}},
        "data": {"k": "v".repeat(64)}}),
    )
    .expect("configmap")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn api_throughput_and_latency() {
    let started = Instant::now();
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let startup = started.elapsed();
    // Each client has its own connection pool, as separate callers would.
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(client(&t).await);
    }

    let per_client = 400;
    let begin = Instant::now();
    join_all(clients.iter().enumerate().map(|(c, client)| {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        async move {
            for i in 0..per_client {
                api.create(&PostParams::default(), &cm(format!("cm-{c}-{i}")))
                    .await
                    .expect("create");
            }
        }
    }))
    .await;
    let writes = (CLIENTS * per_client) as f64 / begin.elapsed().as_secs_f64();

    let per_client = 1500;
    let begin = Instant::now();
    join_all(clients.iter().enumerate().map(|(c, client)| {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        async move {
            for i in 0..per_client {
                api.get(&format!("cm-{c}-{}", i % 400)).await.expect("get");
            }
        }
    }))
    .await;
    let reads = (CLIENTS * per_client) as f64 / begin.elapsed().as_secs_f64();

    // 30 pods and their Table, as `kubectl get pods` asks for it.
    let pods = aiopslab_sim::resources::ResourceKey::new("", "pods");
    for i in 0..30 {
        t.cluster
            .store()
            .create(&pods, "default", json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("geo-{i}"), "labels": {"app": "geo"}},
                "spec": {"nodeName": "kind-worker", "containers": [{"name": "geo", "image": "geo:1"}]},
                "status": {"phase": "Running", "podIP": format!("10.244.1.{i}"),
                    "containerStatuses": [{"name": "geo", "ready": true, "restartCount": 0,
                        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}}))
            .expect("pod");
    }
    let runs = 200;
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let req = http::Request::get("/api/v1/namespaces/default/pods?limit=500")
            .header(
                "Accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())
            .expect("request");
        let begin = Instant::now();
        let body = clients[0].request_text(req).await.expect("table");
        latencies.push(begin.elapsed());
        assert!(body.contains("\"kind\":\"Table\""));
    }
    latencies.sort();
    let median = latencies[runs / 2];
    let p99 = latencies[runs * 99 / 100];

    let begin = Instant::now();
    let out = t.kubectl(&["get", "pods"]).await.ok();
    let kubectl = begin.elapsed();
    assert_eq!(out.lines().count(), 31);

    println!("startup: {:.1} ms", ms(startup));
    println!("writes/s ({CLIENTS} clients): {writes:.0}");
    println!("reads/s ({CLIENTS} clients): {reads:.0}");
    println!(
        "30-pod Table list: median {:.2} ms, p99 {:.2} ms",
        ms(median),
        ms(p99)
    );
    println!(
        "kubectl get pods (process start included): {:.0} ms",
        ms(kubectl)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The handlers alone (no TLS, no client): what the server costs per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn handler_cost_without_transport() {
    use aiopslab_sim::api::{ApiState, router};
    use aiopslab_sim::auth::{Authenticator, Identity, Policy};
    use std::sync::Arc;
    use tower::ServiceExt;
    let store = Arc::new(aiopslab_sim::store::Store::new(
        1,
        Arc::new(aiopslab_sim::clock::WallClock),
    ));
    let ns = aiopslab_sim::resources::ResourceKey::new("", "namespaces");
    store
        .create(&ns, "", json!({"metadata": {"name": "default"}}))
        .expect("ns");
    let mut auth = Authenticator::new();
    auth.insert("t", Identity::admin());
    let app = router(ApiState::new(store, auth, Policy::default(), "127.0.0.1:1"));
    let n = 4000;
    let begin = Instant::now();
    for i in 0..n {
        let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}")}, "data": {"k": "v"}}))
        .expect("json");
        let req = http::Request::post("/api/v1/namespaces/default/configmaps")
            .header("Authorization", "Bearer t")
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from(body))
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status(), 201);
    }
    let writes = n as f64 / begin.elapsed().as_secs_f64();
    let begin = Instant::now();
    for i in 0..n {
        let req = http::Request::get(format!("/api/v1/namespaces/default/configmaps/cm-{i}"))
            .header("Authorization", "Bearer t")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status(), 200);
        let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
    }
    let reads = n as f64 / begin.elapsed().as_secs_f64();
    println!("handler only, one caller: writes/s {writes:.0}, reads/s {reads:.0}");
}
