//! Derived cAdvisor metrics: PromQL over a virtual cluster driven by a manual clock agrees with
//! the kubelet's usage (`kubectl top`), restarts start new series, deleted pods' series stop,
//! a baseline exists before the deploy, results are deterministic, and windows compute fast.

mod controllers_support;

use aiopslab_sim::controllers::behavior::{
    Catalog, ContainerBehavior, ImageInfo, RunPlan, StartContext,
};
use aiopslab_sim::telemetry::derive::{ClusterTelemetry, DeriveConfig};
use aiopslab_sim::telemetry::promql::{Engine, QueryResult};
use aiopslab_sim::telemetry::{LabelMatcher, MetricSource, TimeWindow};
use controllers_support::Sim;
use serde_json::{Value, json};
use std::sync::Arc;

const MIB: u64 = 1024 * 1024;

/// A steady web server: 250 millicores, 64 MiB.
struct Web;
impl ContainerBehavior for Web {
    fn info(&self) -> ImageInfo {
        ImageInfo::distroless(10_000_000).with_entrypoint(&["/web"])
    }
    fn start(&self, _: &StartContext<'_>) -> RunPlan {
        RunPlan::forever()
            .log(0.0, "web: listening on :8080")
            .every(30.0, &["web: GET /healthz 200"])
            .using(250.0, 64 * MIB)
    }
}

/// Runs for 40 s, then crashes.
struct Flaky;
impl ContainerBehavior for Flaky {
    fn info(&self) -> ImageInfo {
        ImageInfo::distroless(5_000_000).with_entrypoint(&["/flaky"])
    }
    fn start(&self, _: &StartContext<'_>) -> RunPlan {
        RunPlan::exits(40.0, 2)
            .log(0.0, "flaky: starting")
            .log(39.0, "flaky: fatal: lost the database")
            .using(100.0, 16 * MIB)
    }
}

fn catalog() -> Catalog {
    let mut c = Catalog::builtin();
    c.register("example.com/web:1", Arc::new(Web));
    c.register("example.com/flaky:1", Arc::new(Flaky));
    c
}

struct Env {
    sim: Sim,
    telemetry: ClusterTelemetry,
}

impl Env {
    async fn new(seed: u64) -> Env {
        let sim = Sim::with_options(seed, |o| o.with_catalog(catalog())).await;
        let telemetry = ClusterTelemetry::for_cluster(
            sim.store.clone(),
            Some(&sim.handle),
            DeriveConfig::new(seed),
        );
        sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}))
            .await;
        Env { sim, telemetry }
    }

    fn now_ms(&self) -> i64 {
        self.sim.clock_now_ms()
    }

    fn metrics(&self) -> Arc<dyn MetricSource> {
        self.telemetry.sources().metrics
    }

    fn instant(&self, q: &str) -> Vec<(Value, f64)> {
        let m = self.metrics();
        let res = Engine::new(m.as_ref())
            .instant(q, self.now_ms())
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        match res {
            QueryResult::Vector(v) => v
                .into_iter()
                .map(|e| {
                    let labels: serde_json::Map<String, Value> = e
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), json!(l.value)))
                        .collect();
                    (Value::Object(labels), e.sample.v)
                })
                .collect(),
            other => panic!("{q}: not a vector: {other:?}"),
        }
    }
}

trait ClockMs {
    fn clock_now_ms(&self) -> i64;
}
impl ClockMs for Sim {
    fn clock_now_ms(&self) -> i64 {
        use aiopslab_sim::clock::Clock;
        self.clock.now().as_millisecond()
    }
}

fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "x"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image,
                    "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"cpu": "500m"}}}]},
            },
        },
    })
}

#[tokio::test]
async fn cpu_rate_and_memory_agree_with_kubectl_top() {
    let env = Env::new(7).await;
    env.sim
        .create(deployment("web", "example.com/web:1", 3))
        .await;
    env.sim.advance(600).await;

    let top = env.sim.handle.metrics().pods(Some("x"));
    assert_eq!(top.len(), 3, "three running pods");

    let rates = env.instant(
        r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="x", container!=""}[5m]))"#,
    );
    assert_eq!(rates.len(), 3, "{rates:?}");
    for (labels, v) in &rates {
        let pod = labels["pod"].as_str().unwrap();
        let t = top
            .iter()
            .find(|p| p.name == pod)
            .expect("pod in kubectl top");
        let top_cores = t.containers[0].cpu_nanocores as f64 / 1e9;
        // Both follow the same per-minute wobble (0.9 .. 1.1) around 250m.
        assert!((v - 0.25).abs() < 0.25 * 0.1, "{pod}: rate {v}");
        assert!(
            (v - top_cores).abs() < 0.25 * 0.2,
            "{pod}: rate {v} vs top {top_cores}"
        );
    }

    // The 1-minute rate averages the last minute; kubectl top shows this minute.
    let one_min = env
        .instant(r#"rate(container_cpu_usage_seconds_total{namespace="x", container="web"}[1m])"#);
    assert_eq!(one_min.len(), 3);

    let ws = env.instant(r#"container_memory_working_set_bytes{namespace="x", container="web"}"#);
    assert_eq!(ws.len(), 3);
    for (labels, v) in &ws {
        let pod = labels["pod"].as_str().unwrap();
        let t = top.iter().find(|p| p.name == pod).unwrap();
        assert_eq!(
            *v as u64, t.containers[0].memory_bytes,
            "{pod}: working set equals kubectl top"
        );
        assert_eq!(labels["job"], "kubernetes-cadvisor");
        assert_eq!(labels["instance"], labels["kubernetes_io_hostname"]);
        assert_eq!(labels["image"], "example.com/web:1");
        assert!(
            labels["id"].as_str().unwrap().contains("/cri-containerd-"),
            "{labels}"
        );
        assert_eq!(labels["name"].as_str().unwrap().len(), 64);
    }
    // usage >= working set >= rss; limits and shares from the spec.
    let usage = env.instant(r#"container_memory_usage_bytes{namespace="x", container="web"}"#);
    let rss = env.instant(r#"container_memory_rss{namespace="x", container="web"}"#);
    for ((u, w), r) in usage.iter().zip(&ws).zip(&rss) {
        assert!(u.1 >= w.1 && w.1 >= r.1, "{} {} {}", u.1, w.1, r.1);
    }
    let quota = env.instant(r#"container_spec_cpu_quota{namespace="x", container="web"}"#);
    assert!(quota.iter().all(|(_, v)| *v == 50_000.0), "{quota:?}");
    let shares = env.instant(r#"container_spec_cpu_shares{namespace="x", container="web"}"#);
    assert!(shares.iter().all(|(_, v)| *v == 204.0), "{shares:?}");

    // Pod cgroup, sandbox and container series per pod, as on a kind node.
    let per_pod =
        env.instant(r#"count by (pod) (container_memory_working_set_bytes{namespace="x"})"#);
    assert!(per_pod.iter().all(|(_, v)| *v == 3.0), "{per_pod:?}");
    // A sample does not depend on the window asked for.
    let now = env.now_ms();
    let sel = [
        LabelMatcher::equal("__name__", "container_cpu_usage_seconds_total"),
        LabelMatcher::equal("namespace", "x"),
    ];
    let wide = env
        .metrics()
        .select(&sel, TimeWindow::new(now - 600_000, now));
    let narrow = env
        .metrics()
        .select(&sel, TimeWindow::new(now - 170_000, now));
    assert_eq!(wide.len(), narrow.len());
    for (w, n) in wide.iter().zip(&narrow) {
        assert_eq!(w.labels, n.labels);
        assert_eq!(
            &w.samples[w.samples.len() - n.samples.len()..],
            &n.samples[..]
        );
    }
    // Every node is up, with its capacity.
    let nodes = env.sim.list("", "nodes", "").len();
    let up = env.instant(r#"up{job="kubernetes-cadvisor"}"#);
    assert_eq!(up.len(), nodes);
    assert!(
        up.iter()
            .all(|(l, v)| *v == 1.0 && l["instance"] == l["kubernetes_io_hostname"])
    );
    let cores = env.instant("machine_cpu_cores");
    assert!(cores.iter().all(|(_, v)| *v >= 1.0), "{cores:?}");
    let net = env.instant(
        r#"rate(container_network_receive_bytes_total{namespace="x", interface="eth0"}[5m])"#,
    );
    assert_eq!(net.len(), 3);
    assert!(net.iter().all(|(_, v)| *v > 0.0));
}

#[tokio::test]
async fn crash_loops_restart_series_and_reset_counters() {
    let env = Env::new(8).await;
    // The app is deployed first; the crash-looping pod comes later (as a fault's replacement
    // pod does), so it is not part of the back-dated initial deploy.
    env.sim
        .create(deployment("web", "example.com/web:1", 1))
        .await;
    env.sim.advance(660).await;
    env.sim
        .create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "flaky", "namespace": "x"},
            "spec": {"containers": [{"name": "flaky", "image": "example.com/flaky:1"}]}}))
        .await;
    env.sim.advance(600).await;
    let pod = env.sim.get("", "pods", "x", "flaky").unwrap();
    let restarts = pod["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap();
    assert!(restarts >= 4, "restarts {restarts}");

    let now = env.now_ms();
    let m = env.metrics();
    let sel = [
        LabelMatcher::equal("__name__", "container_cpu_usage_seconds_total"),
        LabelMatcher::equal("pod", "flaky"),
        LabelMatcher::equal("container", "flaky"),
    ];
    let series = m.select(&sel, TimeWindow::new(now - 600_000, now));
    // Every run that lived through a scrape is its own series (a new container id).
    assert!(
        series.len() as i64 >= restarts,
        "{} series for {restarts} restarts",
        series.len()
    );
    let names: std::collections::BTreeSet<&str> = series
        .iter()
        .map(|s| s.labels.get("name").unwrap())
        .collect();
    assert_eq!(names.len(), series.len());
    for s in &series {
        assert!(
            s.samples.len() <= 3,
            "a 40 s run is scraped at most 3 times"
        );
        assert!(
            s.samples[0].v < 4.1,
            "each run starts from zero: {:?}",
            s.samples
        );
    }
    // The recorder kept the pod's readiness flapping and every run.
    let st = env.telemetry.timeline().snapshot();
    let rec = st.pod_at("x", "flaky", now).expect("recorded");
    assert!(
        rec.readiness.len() >= 2 * restarts as usize,
        "{:?}",
        rec.readiness
    );
    assert_eq!(rec.runs.len() as i64, restarts + 1);
    assert!(
        rec.runs
            .windows(2)
            .all(|w| w[0].ended_ms.unwrap() <= w[1].started_ms)
    );
    assert_eq!(rec.phases.last().unwrap().1, "Running");
    // Summed over container ids, the counter drops at every restart.
    let q = r#"resets(sum without (id, name) (container_cpu_usage_seconds_total{pod="flaky", container="flaky"})[10m:15s])"#;
    let resets = env.instant(q);
    assert_eq!(resets.len(), 1);
    assert!(resets[0].1 >= 3.0, "resets {}", resets[0].1);
    // The pod cgroup lives on: one series, never reset.
    let q = r#"resets(container_cpu_usage_seconds_total{pod="flaky", container=""}[10m])"#;
    let pod_resets = env.instant(q);
    assert_eq!(
        pod_resets.len(),
        2,
        "pod cgroup and sandbox: {pod_resets:?}"
    );
    assert!(pod_resets.iter().all(|(_, v)| *v == 0.0));
}

#[tokio::test]
async fn deleted_pods_series_stop() {
    let env = Env::new(9).await;
    env.sim
        .create(deployment("web", "example.com/web:1", 2))
        .await;
    env.sim.advance(120).await;
    let pods = env.sim.list("", "pods", "x");
    let victim = pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    env.sim
        .store
        .delete(
            &controllers_support::key("", "pods"),
            "x",
            &victim,
            Some(0),
            None,
            None,
        )
        .unwrap();
    env.sim.handle.settle().await;
    let deleted_at = env.now_ms();
    env.sim.advance(600).await;
    let now = env.now_ms();
    let m = env.metrics();
    let sel = [
        LabelMatcher::equal("__name__", "container_memory_working_set_bytes"),
        LabelMatcher::equal("pod", &victim),
    ];
    let series = m.select(&sel, TimeWindow::new(now - 900_000, now));
    assert_eq!(series.len(), 3, "pod cgroup, sandbox, container");
    for s in &series {
        let last = s.samples.last().unwrap().t;
        assert!(
            last <= deleted_at,
            "sample at {last} after the deletion at {deleted_at}"
        );
    }
    // Nothing of it in the last 5 minutes; the replacement pod is there.
    let recent = m.select(&sel, TimeWindow::new(now - 300_000, now));
    assert!(recent.is_empty(), "{recent:?}");
    let live =
        env.instant(r#"count(container_memory_working_set_bytes{namespace="x", container="web"})"#);
    assert_eq!(live[0].1, 2.0);
}

#[tokio::test]
async fn baseline_exists_thirty_minutes_before_the_deploy() {
    let env = Env::new(10).await;
    let deploy = env.now_ms();
    env.sim
        .create(deployment("web", "example.com/web:1", 2))
        .await;
    env.sim.advance(300).await;
    let m = env.metrics();
    let sel = [
        LabelMatcher::equal("__name__", "container_cpu_usage_seconds_total"),
        LabelMatcher::equal("namespace", "x"),
        LabelMatcher::equal("container", "web"),
    ];
    let series = m.select(&sel, TimeWindow::new(deploy - 40 * 60_000, env.now_ms()));
    assert_eq!(series.len(), 2);
    for s in &series {
        let first = s.samples[0];
        assert!(
            first.t <= deploy - 30 * 60_000 + 15_000,
            "first sample {} vs deploy {deploy}",
            first.t
        );
        assert!(
            first.t >= deploy - 30 * 60_000 - 1_000,
            "no history before the baseline"
        );
        // A counter that started with the baseline and never reset.
        assert!(first.v < 4.0);
        assert!(s.samples.windows(2).all(|w| w[1].v >= w[0].v));
        let last = s.samples.last().unwrap();
        let hours = (last.t - first.t) as f64 / 1000.0;
        assert!((last.v - first.v - 0.25 * hours).abs() < 0.25 * hours * 0.1);
    }
    // The baseline reads like normal operation in PromQL too.
    let m2 = env.metrics();
    let at = deploy - 20 * 60_000;
    let r = Engine::new(m2.as_ref())
        .instant(
            r#"sum(rate(container_cpu_usage_seconds_total{namespace="x", container="web"}[5m]))"#,
            at,
        )
        .unwrap();
    let QueryResult::Vector(v) = r else { panic!() };
    assert!((v[0].sample.v - 0.5).abs() < 0.05, "{v:?}");
    // kube-system has a baseline too (its deploy is the cluster's bootstrap).
    let sys = [
        LabelMatcher::equal("__name__", "container_memory_working_set_bytes"),
        LabelMatcher::equal("namespace", "kube-system"),
        LabelMatcher::equal("container", "etcd"),
    ];
    let s = m.select(
        &sys,
        TimeWindow::new(deploy - 31 * 60_000, deploy - 29 * 60_000),
    );
    assert_eq!(s.len(), 1, "{s:?}");
}

async fn scripted(seed: u64) -> Vec<String> {
    let env = Env::new(seed).await;
    env.sim
        .create(deployment("web", "example.com/web:1", 2))
        .await;
    env.sim
        .create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "flaky", "namespace": "x"},
            "spec": {"containers": [{"name": "flaky", "image": "example.com/flaky:1"}]}}))
        .await;
    env.sim.advance(400).await;
    let m = env.metrics();
    let e = Engine::new(m.as_ref());
    let now = env.now_ms();
    [
        r#"rate(container_cpu_usage_seconds_total{namespace="x"}[2m])"#,
        r#"container_memory_working_set_bytes{namespace="x"}"#,
        r#"container_network_transmit_packets_total"#,
    ]
    .iter()
    .map(|q| {
        let r = e.range(q, now - 600_000, now, 15_000).unwrap();
        aiopslab_sim::telemetry::prometheus::render_result(&r)
    })
    .collect()
}

#[tokio::test]
async fn same_seed_same_answers() {
    let a = scripted(21).await;
    let b = scripted(21).await;
    assert_eq!(a, b);
    let c = scripted(22).await;
    assert_ne!(a, c, "another seed gives other pod names and numbers");
}

#[tokio::test]
async fn thirty_pods_thirty_minutes_compute_fast() {
    let env = Env::new(11).await;
    for i in 0..10 {
        env.sim
            .create(deployment(&format!("svc{i}"), "example.com/web:1", 3))
            .await;
    }
    env.sim.advance(1800).await;
    let now = env.now_ms();
    let m = env.metrics();
    let sel = [LabelMatcher::equal("namespace", "x")];
    let t0 = std::time::Instant::now();
    let all = m.select(&sel, TimeWindow::new(now - 1_800_000, now));
    let every_series = t0.elapsed();
    let samples: usize = all.iter().map(|s| s.samples.len()).sum();
    let t1 = std::time::Instant::now();
    let r = Engine::new(m.as_ref())
        .range(
            r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="x", container!=""}[1m]))"#,
            now - 1_800_000,
            now,
            15_000,
        )
        .unwrap();
    let promql = t1.elapsed();
    let QueryResult::Matrix(rows) = r else {
        panic!()
    };
    assert_eq!(rows.len(), 30);
    eprintln!(
        "30 pods, 30 min: every series ({} series, {samples} samples) in {every_series:?}; rate range query in {promql:?}",
        all.len()
    );
    // Debug build on a shared machine: generous bound; the release figure is far lower.
    assert!(every_series.as_millis() < 1000, "{every_series:?}");
    assert!(promql.as_millis() < 1000, "{promql:?}");
}
