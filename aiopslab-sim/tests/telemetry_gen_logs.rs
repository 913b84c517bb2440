//! Derived logs: every container line the kubelet knows (all pods, all restarts, deleted pods)
//! as logstash documents with the fields AIOpsLab's LogAPI reads, served through the
//! Elasticsearch API; request log lines from the request log; periodic lines in the baseline.

mod controllers_support;

use aiopslab_sim::clock::Clock;
use aiopslab_sim::controllers::behavior::{
    Catalog, ContainerBehavior, ImageInfo, RunPlan, StartContext,
};
use aiopslab_sim::runtime::LogOptions;
use aiopslab_sim::telemetry::derive::{
    ClusterTelemetry, DeriveConfig, RecordedLog, RecordedRequest, RequestLog,
};
use aiopslab_sim::telemetry::{TelemetryServers, TimeWindow};
use controllers_support::Sim;
use serde_json::{Value, json};
use std::sync::Arc;

struct Web;
impl ContainerBehavior for Web {
    fn info(&self) -> ImageInfo {
        ImageInfo::distroless(10_000_000).with_entrypoint(&["/web"])
    }
    fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
        RunPlan::forever()
            .log(0.0, format!("web {}: listening on :8080", ctx.pod_name))
            .log(2.5, "{ts} web: ready")
            .every(60.0, &["web: tick even", "web: tick odd"])
            .using(50.0, 32 << 20)
    }
}

struct Flaky;
impl ContainerBehavior for Flaky {
    fn info(&self) -> ImageInfo {
        ImageInfo::distroless(5_000_000).with_entrypoint(&["/flaky"])
    }
    fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
        RunPlan::exits(5.0, 1)
            .log(0.0, format!("flaky: attempt {}", ctx.restart_count))
            .log(4.0, "flaky: fatal: cannot reach the database")
    }
}

async fn env(seed: u64) -> (Sim, ClusterTelemetry) {
    let mut c = Catalog::builtin();
    c.register("example.com/web:1", Arc::new(Web));
    c.register("example.com/flaky:1", Arc::new(Flaky));
    let sim = Sim::with_options(seed, |o| o.with_catalog(c)).await;
    let t = ClusterTelemetry::for_cluster(
        sim.store.clone(),
        Some(&sim.handle),
        DeriveConfig::new(seed),
    );
    (sim, t)
}

fn pod(name: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "test"},
           "spec": {"containers": [{"name": name, "image": image}]}})
}

fn now_ms(sim: &Sim) -> i64 {
    sim.clock.now().as_millisecond()
}

fn messages(docs: &[aiopslab_sim::telemetry::LogDocument], pod: &str) -> Vec<String> {
    docs.iter()
        .filter(|d| d.source["kubernetes"]["pod"]["name"] == pod)
        .map(|d| d.source["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn documents_match_kubectl_logs_and_carry_logstash_fields() {
    let (sim, t) = env(31).await;
    let created = now_ms(&sim);
    sim.apply(pod("web", "example.com/web:1")).await;
    sim.advance(200).await;
    let logs = t.sources().logs;
    // Since the pod was created (before that, the baseline has its periodic lines).
    let docs = logs.documents(TimeWindow::new(created, now_ms(&sim)));
    let web: Vec<_> = docs
        .iter()
        .filter(|d| d.source["kubernetes"]["pod"]["name"] == "web")
        .collect();
    // kubectl logs --timestamps shows the same lines at the same instants (ms precision).
    let text = sim
        .handle
        .runtime()
        .logs(
            "test",
            "web",
            &LogOptions {
                timestamps: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let lines: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let (ts, msg) = l.split_once(' ').unwrap();
            (ts[..23].to_string() + "Z", msg.to_string())
        })
        .collect();
    assert_eq!(web.len(), lines.len(), "{text}");
    for (d, (ts, msg)) in web.iter().zip(&lines) {
        assert_eq!(d.source["message"], msg.as_str());
        assert_eq!(d.source["@timestamp"], ts.as_str());
    }
    assert!(lines.iter().any(|(_, m)| m == "web: tick odd"), "{text}");
    let d = web[0];
    assert_eq!(d.source["kubernetes"]["namespace"], "test");
    assert_eq!(d.source["kubernetes"]["container"]["name"], "web");
    assert_eq!(d.source["kubernetes"]["node"]["name"], "kind-worker");
    assert!(
        d.source["message"]
            .as_str()
            .unwrap()
            .starts_with("web web: listening")
    );
    // System pods log too (kindnet prints every 10 s).
    assert!(
        docs.iter()
            .any(|d| d.source["kubernetes"]["namespace"] == "kube-system")
    );
    // Documents come in time order.
    assert!(
        docs.windows(2)
            .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms)
    );
}

#[tokio::test]
async fn every_restart_and_deleted_pods_stay_searchable() {
    let (sim, t) = env(32).await;
    // Part of the initial deploy (not the pod under test): the namespace's first pod.
    sim.apply(pod("web", "example.com/web:1")).await;
    sim.advance(700).await;
    sim.apply(pod("flaky", "example.com/flaky:1")).await;
    sim.advance(400).await;
    let p = sim.get("", "pods", "test", "flaky").unwrap();
    let restarts = p["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap();
    assert!(restarts >= 4, "{restarts}");
    sim.store
        .delete(
            &controllers_support::key("", "pods"),
            "test",
            "flaky",
            Some(0),
            None,
            None,
        )
        .unwrap();
    sim.handle.settle().await;
    sim.advance(60).await;
    let docs = t.sources().logs.documents(TimeWindow::new(0, now_ms(&sim)));
    let m = messages(&docs, "flaky");
    // kubectl keeps only the current and previous runs; the log pipeline kept them all.
    for k in 0..=restarts {
        assert!(
            m.contains(&format!("flaky: attempt {k}")),
            "attempt {k} in {m:?}"
        );
    }
    assert_eq!(
        m.iter()
            .filter(|l| l.as_str() == "flaky: fatal: cannot reach the database")
            .count() as i64,
        restarts + 1
    );
}

#[tokio::test]
async fn baseline_has_periodic_lines_and_requests_add_theirs() {
    let (sim, t) = env(33).await;
    let deploy = now_ms(&sim);
    sim.apply(pod("web", "example.com/web:1")).await;
    sim.advance(120).await;
    let logs = t.sources().logs;
    let before = logs.documents(TimeWindow::new(deploy - 31 * 60_000, deploy - 1));
    let m = messages(&before, "web");
    assert!(
        (29..=31).contains(&m.len()),
        "a tick a minute over the baseline: {m:?}"
    );
    assert!(m.iter().all(|l| l.starts_with("web: tick")));
    assert!(
        !m.iter().any(|l| l.contains("listening")),
        "start-up lines keep their time"
    );
    assert!(logs.retention().start <= deploy - 30 * 60_000);

    // A request that made the pod print.
    let log = sim.store.extension::<RequestLog>();
    let at = now_ms(&sim) - 5_000;
    log.record(RecordedRequest {
        sampled: false,
        spans: vec![],
        logs: vec![RecordedLog {
            time_ms: at,
            namespace: "test".into(),
            pod: "web".into(),
            container: "web".into(),
            message: "web: GET /hotels 500 geo unavailable".into(),
        }],
    });
    // Future lines stay hidden until the clock reaches them.
    log.record(RecordedRequest {
        sampled: false,
        spans: vec![],
        logs: vec![RecordedLog {
            time_ms: now_ms(&sim) + 60_000,
            namespace: "test".into(),
            pod: "web".into(),
            container: "web".into(),
            message: "web: not yet".into(),
        }],
    });
    let docs = logs.documents(TimeWindow::new(at - 1, i64::MAX / 4));
    let hit: Vec<_> = docs
        .iter()
        .filter(|d| d.source["message"] == "web: GET /hotels 500 geo unavailable")
        .collect();
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].source["kubernetes"]["node"]["name"], "kind-worker");
    assert!(!docs.iter().any(|d| d.source["message"] == "web: not yet"));
}

#[tokio::test]
async fn aiopslab_log_query_through_elasticsearch() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (sim, t) = env(34).await;
    sim.apply(pod("web", "example.com/web:1")).await;
    sim.advance(300).await;
    let servers = TelemetryServers::start(t.sources(), sim.store.clock().clone())
        .await
        .unwrap();
    let now = sim.clock.now();
    let lo = now.checked_sub(jiff::SignedDuration::from_mins(5)).unwrap();
    let fmt = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({
        "size": 7500,
        "query": {"range": {"@timestamp": {"gte": fmt(lo), "lte": fmt(now)}}},
        "sort": [{"@timestamp": {"order": "asc"}}]
    });
    let url = format!("{}/logstash-*/_search", servers.urls().elasticsearch);
    let v: Value = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hits = v["hits"]["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{v}");
    for h in hits {
        let s = &h["_source"];
        // LogAPI's columns: timestamp/date, pod_name, container_name, namespace, node_name, message.
        for path in [
            "/@timestamp",
            "/kubernetes/pod/name",
            "/kubernetes/container/name",
            "/kubernetes/namespace",
            "/kubernetes/node/name",
            "/message",
        ] {
            assert!(
                s.pointer(path).is_some_and(|x| x.is_string()),
                "{path} in {s}"
            );
        }
        assert_eq!(h["_index"], "logstash-2026.01.01");
    }
    let ticks = hits
        .iter()
        .filter(|h| h["_source"]["kubernetes"]["pod"]["name"] == "web")
        .filter(|h| {
            h["_source"]["message"]
                .as_str()
                .unwrap()
                .starts_with("web: tick")
        })
        .count();
    assert!((4..=6).contains(&ticks), "{ticks}");
    servers.stop().await;
}
