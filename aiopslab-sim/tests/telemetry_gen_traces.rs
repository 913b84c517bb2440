//! Derived traces and request metrics: requests recorded in the request log become Jaeger
//! traces (service and operation names, parent links, durations, `error` and
//! `http.status_code` tags) and Istio-style request series; with Hotel Reservation deployed,
//! the request flow's outcomes show a fault in traces and metrics.

mod apps_support;

use aiopslab_sim::apps::flow::{EntryRequest, simulate};
use aiopslab_sim::clock::{Clock, ManualClock};
use aiopslab_sim::store::Store;
use aiopslab_sim::telemetry::derive::{
    ClusterTelemetry, DeriveConfig, RecordedRequest, RecordedSpan, RequestLog, SpanKind,
};
use aiopslab_sim::telemetry::promql::{Engine, QueryResult};
use aiopslab_sim::telemetry::{Tag, TelemetryServers, TimeWindow};
use apps_support::Sim;
use serde_json::{Value, json};
use std::sync::Arc;

const T0_US: i64 = 1_767_225_600_000_000;

fn span(
    parent: Option<usize>,
    service: &str,
    op: &str,
    kind: SpanKind,
    start: i64,
    dur: i64,
) -> RecordedSpan {
    RecordedSpan {
        parent,
        service: service.into(),
        operation: op.into(),
        kind,
        start_us: T0_US + start,
        duration_us: dur,
        namespace: "test-hotel-reservation".into(),
        pod: format!("{service}-7d9c8b6f5-abcde"),
        pod_ip: "10.244.1.7".into(),
        protocol: "grpc".into(),
        ..RecordedSpan::default()
    }
}

/// GET /hotels: frontend -> search -> geo, failing in geo.
fn hand_built(fail: bool) -> RecordedRequest {
    let mut root = span(
        None,
        "frontend",
        "HTTP GET /hotels",
        SpanKind::Server,
        0,
        5_000,
    );
    root.protocol = "http".into();
    root.status_code = Some(if fail { 500 } else { 200 });
    root.error = fail;
    root.tags = vec![Tag::string("http.method", "GET")];
    let call = span(
        Some(0),
        "frontend",
        "/search.Search/Nearby",
        SpanKind::Client,
        200,
        4_500,
    );
    let search = span(
        Some(1),
        "search",
        "/search.Search/Nearby",
        SpanKind::Server,
        300,
        4_200,
    );
    let mut geo_call = span(
        Some(2),
        "search",
        "/geo.Geo/Nearby",
        SpanKind::Client,
        400,
        3_900,
    );
    geo_call.error = fail;
    let mut geo = span(
        Some(3),
        "geo",
        "/geo.Geo/Nearby",
        SpanKind::Server,
        500,
        3_700,
    );
    geo.failed = fail;
    RecordedRequest {
        sampled: true,
        spans: vec![root, call, search, geo_call, geo],
        logs: vec![],
    }
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn hand_built_requests_through_the_jaeger_api() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clock = ManualClock::at(jiff::Timestamp::from_microsecond(T0_US + 60_000_000).unwrap());
    let store = Arc::new(Store::new(5, Arc::new(clock.clone())));
    let t = ClusterTelemetry::for_cluster(store.clone(), None, DeriveConfig::new(5));
    let log = store.extension::<RequestLog>();
    log.record(hand_built(false));
    log.record(hand_built(true));
    let mut later = hand_built(false);
    for s in &mut later.spans {
        s.start_us += 3_600_000_000; // an hour in the future: not served yet
    }
    log.record(later);
    let servers = TelemetryServers::start(t.sources(), store.clock().clone())
        .await
        .unwrap();
    let base = servers.urls().jaeger;

    let services = get(&format!("{base}/api/services")).await;
    assert_eq!(services["data"], json!(["frontend", "geo", "search"]));
    let ops = get(&format!("{base}/api/operations?service=search")).await;
    let names: Vec<&str> = ops["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/geo.Geo/Nearby", "/search.Search/Nearby"]);

    let v = get(&format!("{base}/api/traces?service=frontend&lookback=1h")).await;
    let traces = v["data"].as_array().unwrap();
    assert_eq!(traces.len(), 2, "the future request is hidden: {v}");
    for tr in traces {
        let spans = tr["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 5);
        let by_id = |id: &str| spans.iter().find(|s| s["spanID"] == id).unwrap();
        let root = spans
            .iter()
            .find(|s| s["references"].as_array().unwrap().is_empty())
            .unwrap();
        assert_eq!(root["operationName"], "HTTP GET /hotels");
        assert_eq!(
            root["spanID"], tr["traceID"],
            "the root span id is the trace id"
        );
        assert_eq!(root["duration"], 5_000);
        let geo = spans
            .iter()
            .find(|s| tr["processes"][s["processID"].as_str().unwrap()]["serviceName"] == "geo")
            .unwrap();
        // geo's parent is search's client span, whose parent is search's server span.
        let r = &geo["references"][0];
        assert_eq!(r["refType"], "CHILD_OF");
        let parent = by_id(r["spanID"].as_str().unwrap());
        assert_eq!(parent["operationName"], "/geo.Geo/Nearby");
        assert!(
            parent["tags"]
                .as_array()
                .unwrap()
                .contains(&json!({"key": "span.kind", "type": "string", "value": "client"}))
        );
        let tags = root["tags"].as_array().unwrap();
        let code = tags
            .iter()
            .find(|t| t["key"] == "http.status_code")
            .unwrap();
        assert_eq!(code["type"], "int64");
        let failed = code["value"] == 500;
        assert_eq!(
            tags.iter()
                .any(|t| t["key"] == "error" && t["value"] == true),
            failed
        );
        let proc_tags = &tr["processes"][root["processID"].as_str().unwrap()]["tags"];
        assert!(proc_tags.as_array().unwrap().contains(
            &json!({"key": "hostname", "type": "string", "value": "frontend-7d9c8b6f5-abcde"})
        ));
    }
    let id = traces[0]["traceID"].as_str().unwrap();
    let one = get(&format!("{base}/api/traces/{id}")).await;
    assert_eq!(one["data"][0]["traceID"], id);

    // The same requests as request metrics.
    let now = store.clock().now().as_millisecond();
    let m = t.sources().metrics;
    let r = Engine::new(m.as_ref())
        .instant(r#"sum by (destination_workload, response_code) (istio_requests_total{reporter="destination"})"#, now)
        .unwrap();
    let QueryResult::Vector(v) = r else { panic!() };
    let rows: Vec<(String, String, f64)> = v
        .iter()
        .map(|e| {
            (
                e.labels.get("destination_workload").unwrap().to_string(),
                e.labels.get("response_code").unwrap().to_string(),
                e.sample.v,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("frontend".into(), "200".into(), 1.0),
            ("frontend".into(), "500".into(), 1.0),
            ("geo".into(), "200".into(), 1.0),
            ("geo".into(), "500".into(), 1.0),
            ("search".into(), "200".into(), 2.0),
        ]
    );
    let r = Engine::new(m.as_ref())
        .instant(r#"istio_request_duration_milliseconds_bucket{destination_workload="geo", response_code="200", le="5"}"#, now)
        .unwrap();
    let QueryResult::Vector(v) = r else { panic!() };
    assert_eq!(v[0].sample.v, 1.0, "3.7 ms falls under le=5");
    servers.stop().await;
}

const NS: &str = "test-hotel-reservation";

fn hotels() -> EntryRequest {
    EntryRequest::get(
        "http://localhost:5000/hotels?inDate=2015-04-09&outDate=2015-04-10&lat=38.0235&lon=-122.095",
    )
}

/// Sends `n` requests spread over the next `secs` seconds of cluster time, recording each.
async fn load(sim: &Sim, n: i64, secs: i64) {
    let log = sim.store.extension::<RequestLog>();
    let step_ms = secs * 1000 / n;
    for i in 0..n {
        let at = sim.clock.now();
        let out = simulate(&sim.store, "hotel-reservation", &hotels(), i as u64, at);
        log.record_outcome(&out, at);
        sim.handle
            .advance(jiff::SignedDuration::from_millis(step_ms))
            .await;
    }
}

fn vector(m: &dyn aiopslab_sim::telemetry::MetricSource, q: &str, at: i64) -> Vec<(String, f64)> {
    let r = Engine::new(m)
        .instant(q, at)
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let QueryResult::Vector(v) = r else {
        panic!("{q}")
    };
    v.into_iter()
        .map(|e| (e.labels.to_string(), e.sample.v))
        .collect()
}

#[tokio::test]
async fn hotel_reservation_requests_show_a_fault_in_traces_and_metrics() {
    let sim = Sim::new(41);
    let t =
        ClusterTelemetry::for_cluster(sim.store.clone(), Some(&sim.handle), DeriveConfig::new(41));
    sim.deploy("hotel-reservation").await;
    load(&sim, 60, 120).await;
    let healthy_end = sim.clock.now().as_millisecond();

    let m = t.sources().metrics;
    let ok = vector(
        m.as_ref(),
        r#"sum(increase(istio_requests_total{destination_workload="frontend", response_code="200"}[3m]))"#,
        healthy_end,
    );
    assert_eq!(ok.len(), 1);
    assert!((ok[0].1 - 60.0).abs() < 6.0, "{ok:?}");
    let ws = vector(
        m.as_ref(),
        r#"sum by (destination_workload) (istio_requests_total{reporter="destination"})"#,
        healthy_end,
    );
    let names: Vec<&str> = ws.iter().map(|(l, _)| l.as_str()).collect();
    for w in [
        "frontend",
        "search",
        "geo",
        "rate",
        "profile",
        "reservation",
    ] {
        assert!(
            names.iter().any(|l| l.contains(&format!("\"{w}\""))),
            "{w} in {names:?}"
        );
    }
    let stores = vector(
        m.as_ref(),
        r#"sum by (destination_service_name, request_protocol) (istio_requests_total{reporter="source"})"#,
        healthy_end,
    );
    assert!(
        stores.iter().any(|(l, _)| l.contains("memcached")),
        "{stores:?}"
    );

    // The fault: geo scaled to zero. Search's calls to geo fail; the front end answers 500.
    let deployments = aiopslab_sim::resources::ResourceKey::new("apps", "deployments");
    let mut geo = sim.store.get(&deployments, NS, "geo").unwrap();
    geo["spec"]["replicas"] = json!(0);
    sim.store.update(&deployments, NS, "geo", geo).unwrap();
    sim.advance(60).await;
    load(&sim, 30, 60).await;
    let now = sim.clock.now().as_millisecond();
    let bad = vector(
        m.as_ref(),
        r#"sum(increase(istio_requests_total{destination_workload="frontend", response_code=~"5.."}[1m]))"#,
        now,
    );
    assert!(bad[0].1 >= 25.0, "{bad:?}");
    // The geo pod is gone: its series have no samples after it went away.
    let geo_now = m.select(
        &[
            aiopslab_sim::telemetry::LabelMatcher::equal("__name__", "istio_requests_total"),
            aiopslab_sim::telemetry::LabelMatcher::equal("destination_workload", "geo"),
        ],
        TimeWindow::new(now - 30_000, now),
    );
    assert!(
        geo_now.is_empty(),
        "no geo pod reports any more: {geo_now:?}"
    );

    let traces = t.sources().traces;
    let recent = traces.traces(TimeWindow::new(now - 60_000, now));
    assert!(recent.len() >= 25, "{}", recent.len());
    for tr in &recent {
        let root = tr.spans.iter().find(|s| s.references.is_empty()).unwrap();
        assert_eq!(root.operation_name, "HTTP GET /hotels");
        assert!(
            root.tags.contains(&Tag::int("http.status_code", 500)),
            "{:?}",
            root.tags
        );
        assert!(root.tags.contains(&Tag::bool("error", true)));
        assert!(
            !tr.spans.iter().any(|s| s.process.service_name == "geo"),
            "geo is gone"
        );
        // Every parent is in the trace.
        for s in &tr.spans {
            if let Some(p) = s.parent_span_id() {
                assert!(tr.spans.iter().any(|x| x.span_id == p));
            }
        }
    }
    let before = traces.traces(TimeWindow::new(healthy_end - 120_000, healthy_end - 1));
    assert!(before.len() >= 55);
    assert!(
        before
            .iter()
            .any(|tr| tr.spans.iter().any(|s| s.process.service_name == "geo"))
    );

    // The front end's interface moved bytes for every request.
    let rx = vector(
        m.as_ref(),
        &format!(
            r#"sum(increase(container_network_receive_bytes_total{{namespace="{NS}", pod=~"frontend-.*"}}[2m]))"#
        ),
        healthy_end,
    );
    assert!(rx[0].1 > 60.0 * 420.0, "{rx:?}");
}

fn compose(i: u64) -> EntryRequest {
    EntryRequest::post(
        "http://localhost:8080/wrk2-api/post/compose",
        &format!(
            "username=username_{i}&user_id={i}&text=hello%20%40username_3%20http%3A%2F%2Fexample.com%2Fabc&media_ids=[\"123456789012345678\"]&media_types=[\"png\"]&post_type=0"
        ),
    )
}

#[tokio::test]
async fn social_network_compose_posts_as_thrift_calls_and_sampled_traces() {
    let sim = Sim::new(42);
    let t =
        ClusterTelemetry::for_cluster(sim.store.clone(), Some(&sim.handle), DeriveConfig::new(42));
    sim.deploy("social-network").await;
    let log = sim.store.extension::<RequestLog>();
    let mut sampled = 0;
    for i in 0..300u64 {
        let at = sim.clock.now();
        let out = simulate(&sim.store, "social-network", &compose(i), i, at);
        assert_eq!(out.status, Some(200), "{out:?}");
        sampled += usize::from(out.sampled);
        log.record_outcome(&out, at);
        sim.handle
            .advance(jiff::SignedDuration::from_millis(200))
            .await;
    }
    // The last requests are in the counters from the next scrape on.
    sim.advance(30).await;
    let now = sim.clock.now().as_millisecond();
    let m = t.sources().metrics;
    let rows = vector(
        m.as_ref(),
        r#"sum by (destination_service_name, request_protocol) (istio_requests_total{reporter="destination"})"#,
        now,
    );
    let has = |svc: &str, proto: &str| {
        rows.iter().any(|(l, v)| {
            l.contains(&format!("destination_service_name=\"{svc}\""))
                && l.contains(&format!("request_protocol=\"{proto}\""))
                && *v == 300.0
        })
    };
    // nginx's Jaeger service is nginx-web-server; its Kubernetes Service is nginx-thrift.
    assert!(has("nginx-thrift", "http"), "{rows:#?}");
    assert!(has("compose-post-service", "thrift"), "{rows:#?}");
    assert!(has("text-service", "thrift"), "{rows:#?}");
    // About 1 % of the requests were sampled at nginx, and only those are traces.
    let traces = t.sources().traces;
    let kept = traces.traces(TimeWindow::new(now - 3_600_000, now));
    assert_eq!(kept.len(), sampled);
    assert!(sampled < 20, "{sampled}");
    for tr in &kept {
        let root = tr.spans.iter().find(|s| s.references.is_empty()).unwrap();
        assert_eq!(root.process.service_name, "nginx-web-server");
        assert_eq!(root.operation_name, "/wrk2-api/post/compose");
        assert!(
            tr.spans
                .iter()
                .any(|s| s.operation_name == "compose_post_server")
        );
    }
}

async fn hotel_answers(seed: u64) -> (Vec<String>, String) {
    let sim = Sim::new(seed);
    let t = ClusterTelemetry::for_cluster(
        sim.store.clone(),
        Some(&sim.handle),
        DeriveConfig::new(seed),
    );
    sim.deploy("hotel-reservation").await;
    load(&sim, 20, 40).await;
    sim.advance(30).await;
    let now = sim.clock.now().as_millisecond();
    let traces: Vec<String> = t
        .sources()
        .traces
        .traces(TimeWindow::new(now - 600_000, now))
        .iter()
        .map(|tr| aiopslab_sim::telemetry::jaeger::trace_json(tr).to_string())
        .collect();
    let m = t.sources().metrics;
    let r = Engine::new(m.as_ref())
        .range(
            r#"sum by (destination_workload, response_code) (rate(istio_request_duration_milliseconds_sum[1m]))"#,
            now - 300_000,
            now,
            15_000,
        )
        .unwrap();
    (
        traces,
        aiopslab_sim::telemetry::prometheus::render_result(&r),
    )
}

#[tokio::test]
async fn same_seed_same_traces_and_request_metrics() {
    let a = hotel_answers(43).await;
    let b = hotel_answers(43).await;
    assert_eq!(a.0.len(), 20);
    assert_eq!(a, b);
}
