//! The Prometheus HTTP API of the virtual cluster: exact envelopes, errors, metadata endpoints,
//! `/metrics`, and compatibility with a real client crate (`prometheus-http-query`).

use aiopslab_sim::clock::{ManualClock, SharedClock};
use aiopslab_sim::telemetry::server::start_prometheus;
use aiopslab_sim::telemetry::{InMemoryMetrics, Labels, MetricSource};
use prometheus_http_query::{Client, Selector};
use std::sync::Arc;

const S: i64 = 1000;
/// 2026-01-01T00:00:00Z in ms.
const T0: i64 = 1_767_225_600_000;

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// cAdvisor-like data: two pods' CPU counters (1 and 3 cores) and memory gauges, every 15 s
/// over 30 minutes.
fn data() -> Arc<InMemoryMetrics> {
    let m = InMemoryMetrics::new();
    for (pod, cores, mem) in [("geo-1", 1.0, 100.0), ("rate-1", 3.0, 250.0)] {
        let base = [
            ("namespace", "test-hotel-reservation"),
            ("pod", pod),
            ("container", pod.split('-').next().unwrap_or("")),
            ("instance", "kind-worker"),
            ("job", "kubernetes-cadvisor"),
        ];
        let mut cpu = base.to_vec();
        cpu.push(("__name__", "container_cpu_usage_seconds_total"));
        m.counter(
            lbl(&cpu),
            (0..=120).map(|k| (T0 + k * 15 * S, k as f64 * 15.0 * cores)),
        );
        let mut mem_l = base.to_vec();
        mem_l.push(("__name__", "container_memory_usage_bytes"));
        m.gauge(
            lbl(&mem_l),
            (0..=120).map(|k| (T0 + k * 15 * S, mem + k as f64)),
        );
    }
    Arc::new(m)
}

fn clock_at(ms: i64) -> SharedClock {
    Arc::new(ManualClock::at(
        jiff::Timestamp::from_millisecond(ms).unwrap(),
    ))
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

fn enc(q: &str) -> String {
    percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn instant_query_envelope_is_exactly_prometheus() {
    install_crypto();
    let srv = start_prometheus(data(), clock_at(T0 + 1800 * S))
        .await
        .unwrap();
    let base = srv.url();
    let q = enc("sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))");
    let (status, ct, body) = get(&format!("{base}/api/v1/query?query={q}&time=1767227400")).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"geo-1"},"value":[1767227400,"1"]},{"metric":{"pod":"rate-1"},"value":[1767227400,"3"]}]}}"#
    );
    // Fractional times keep milliseconds; scalars are [time, "value"].
    let (_, _, body) = get(&format!("{base}/api/v1/query?query=1.5&time=1767227400.25")).await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1767227400.250,"1.5"]}}"#
    );
    // Without `time`, "now" comes from the cluster clock.
    let (_, _, body) = get(&format!("{base}/api/v1/query?query=time()")).await;
    assert!(body.contains(r#"[1767227400,"1767227400"]"#), "{body}");
    // A range selector in an instant query gives a matrix.
    let q = enc(r#"container_memory_usage_bytes{pod="geo-1"}[30s]"#);
    let (_, _, body) = get(&format!("{base}/api/v1/query?query={q}&time=1767227400")).await;
    assert!(body.contains(r#""resultType":"matrix""#), "{body}");
    assert!(
        body.contains(r#""values":[[1767227370,"218"],[1767227385,"219"],[1767227400,"220"]]"#),
        "{body}"
    );
    // POST with a form body works the same.
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/query"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "query={}&time=1767227400",
            enc("count(container_memory_usage_bytes)")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1767227400,"2"]}]}}"#
    );
    srv.stop().await;
}

#[tokio::test]
async fn errors_have_prometheus_types_and_codes() {
    install_crypto();
    let srv = start_prometheus(data(), clock_at(T0)).await.unwrap();
    let base = srv.url();
    let (status, _, body) = get(&format!("{base}/api/v1/query?query={}", enc("sum("))).await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#
        ),
        "{body}"
    );
    let (status, _, body) = get(&format!("{base}/api/v1/query?query=up&time=yesterday")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": Invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp"}"#
    );
    let (status, _, body) = get(&format!(
        "{base}/api/v1/query_range?query=up&start=10&end=5&step=1"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("end timestamp must not be before start time"),
        "{body}"
    );
    let (_, _, body) = get(&format!(
        "{base}/api/v1/query_range?query=up&start=0&end=5&step=0"
    ))
    .await;
    assert!(
        body.contains("zero or negative query resolution step widths"),
        "{body}"
    );
    let (_, _, body) = get(&format!(
        "{base}/api/v1/query_range?query=up&start=0&end=100000&step=1"
    ))
    .await;
    assert!(
        body.contains("exceeded maximum resolution of 11,000 points"),
        "{body}"
    );
    let (_, _, body) = get(&format!("{base}/api/v1/query_range?query=up&start=0&end=5")).await;
    assert!(
        body.contains(r#"invalid parameter \"step\": cannot parse \"\" to a valid duration"#),
        "{body}"
    );
    let (status, _, body) = get(&format!(
        "{base}/api/v1/query?query={}",
        enc("mad_over_time(up[5m])")
    ))
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("mad_over_time"), "{body}");
    let (status, _, body) = get(&format!("{base}/api/v1/series")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#
    );
    let (status, _, body) = get(&format!("{base}/api/v1/label/bad-name/values")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(r#"invalid label name: \"bad-name\""#),
        "{body}"
    );
    let (status, _, _) = get(&format!("{base}/api/v1/nope")).await;
    assert_eq!(status, 404);
    srv.stop().await;
}

#[tokio::test]
async fn range_query_series_labels_and_values() {
    install_crypto();
    let srv = start_prometheus(data(), clock_at(T0 + 1800 * S))
        .await
        .unwrap();
    let base = srv.url();
    let q = enc(r#"container_memory_usage_bytes{pod=~"geo.*"}"#);
    let (_, _, body) = get(&format!(
        "{base}/api/v1/query_range?query={q}&start=1767225600&end=1767225660&step=30s"
    ))
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"container_memory_usage_bytes","container":"geo","instance":"kind-worker","job":"kubernetes-cadvisor","namespace":"test-hotel-reservation","pod":"geo-1"},"values":[[1767225600,"100"],[1767225630,"102"],[1767225660,"104"]]}]}}"#
    );
    let (_, _, body) = get(&format!(
        "{base}/api/v1/series?match[]={}",
        enc(r#"{__name__=~"container_.*",pod="rate-1"}"#)
    ))
    .await;
    assert_eq!(body.matches("\"pod\":\"rate-1\"").count(), 2, "{body}");
    let (_, _, body) = get(&format!("{base}/api/v1/labels")).await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","container","instance","job","namespace","pod"]}"#
    );
    let (_, _, body) = get(&format!("{base}/api/v1/label/pod/values")).await;
    assert_eq!(body, r#"{"status":"success","data":["geo-1","rate-1"]}"#);
    let (_, _, body) = get(&format!(
        "{base}/api/v1/label/__name__/values?match[]={}",
        enc(r#"{pod="geo-1"}"#)
    ))
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["container_cpu_usage_seconds_total","container_memory_usage_bytes"]}"#
    );
    let (status, ct, body) = get(&format!("{base}/-/healthy")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "Prometheus Server is Healthy.\n")
    );
    assert!(ct.starts_with("text/plain"));
    let (_, _, body) = get(&format!("{base}/api/v1/status/buildinfo")).await;
    assert!(body.contains(r#""version":"2.47.2""#), "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn metrics_exposition_is_monotone_for_counters() {
    install_crypto();
    let clock = ManualClock::at(jiff::Timestamp::from_millisecond(T0 + 100 * S).unwrap());
    let shared: SharedClock = Arc::new(clock.clone());
    let srv = start_prometheus(data(), shared).await.unwrap();
    let (status, ct, first) = get(&format!("{}/metrics", srv.url())).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        first.starts_with("# TYPE container_cpu_usage_seconds_total counter\n"),
        "{first}"
    );
    // At 100 s the latest sample is at 90 s: 6 scrapes of 15 s x 3 cores.
    assert!(
        first.contains(r#"container_cpu_usage_seconds_total{container="rate",instance="kind-worker",job="kubernetes-cadvisor",namespace="test-hotel-reservation",pod="rate-1"} 270"#),
        "{first}"
    );
    assert!(first.contains("# TYPE container_memory_usage_bytes gauge\n"));
    clock.advance(jiff::SignedDuration::from_secs(60));
    let (_, _, second) = get(&format!("{}/metrics", srv.url())).await;
    let value = |text: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with("container_cpu_usage_seconds_total{") && l.contains("rate-1"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    assert!(value(&second) > value(&first));
    srv.stop().await;
}

#[tokio::test]
async fn real_client_crate_reads_our_answers() {
    install_crypto();
    let srv = start_prometheus(data(), clock_at(T0 + 1800 * S))
        .await
        .unwrap();
    let client = Client::try_from(srv.url().as_str()).unwrap();
    assert!(client.is_server_healthy().await.unwrap());
    assert!(client.is_server_ready().await.unwrap());
    let end = (T0 + 1800 * S) / 1000;
    let r = client
        .query("rate(container_cpu_usage_seconds_total[5m])")
        .at(end)
        .get()
        .await
        .unwrap();
    let v = r.data().as_vector().unwrap();
    assert_eq!(v.len(), 2);
    let rate1 = v
        .iter()
        .find(|e| e.metric().get("pod").map(String::as_str) == Some("rate-1"))
        .unwrap();
    assert_eq!(rate1.sample().value(), 3.0);
    assert_eq!(rate1.sample().timestamp(), end as f64);
    let r = client
        .query_range(
            r#"container_memory_usage_bytes{pod="geo-1"}"#,
            end - 60,
            end,
            15.0,
        )
        .get()
        .await
        .unwrap();
    let m = r.data().as_matrix().unwrap();
    assert_eq!(m[0].samples().len(), 5);
    assert_eq!(m[0].samples()[4].value(), 220.0);
    let r = client.query("vector(1) > bool 0").post().await.unwrap();
    assert_eq!(r.data().as_vector().unwrap()[0].sample().value(), 1.0);
    let sel = Selector::new()
        .metric("container_memory_usage_bytes")
        .regex_eq("pod", "rate.*");
    let series = client.series(&[sel]).unwrap().get().await.unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["pod"], "rate-1");
    let names = client.label_names().get().await.unwrap();
    assert!(names.contains(&"namespace".to_string()));
    let values = client.label_values("container").get().await.unwrap();
    assert_eq!(values, vec!["geo".to_string(), "rate".to_string()]);
    let info = client.build_information().await.unwrap();
    assert_eq!(info.version(), "2.47.2");
    match client.query("sum(").get().await {
        Err(prometheus_http_query::Error::Prometheus(e)) => assert!(e.is_bad_data()),
        other => panic!("expected a bad_data error, got {other:?}"),
    }
    srv.stop().await;
}

#[tokio::test]
async fn responses_are_byte_identical_for_the_same_data() {
    install_crypto();
    let a = start_prometheus(data(), clock_at(T0 + 1800 * S))
        .await
        .unwrap();
    let b = start_prometheus(data(), clock_at(T0 + 1800 * S))
        .await
        .unwrap();
    for path in [
        format!(
            "/api/v1/query?query={}",
            enc("topk(5, container_memory_usage_bytes)")
        ),
        format!(
            "/api/v1/query_range?query={}&start=1767225600&end=1767227400&step=15",
            enc("sum by (pod) (irate(container_cpu_usage_seconds_total[1m]))")
        ),
        "/api/v1/series?match[]=container_cpu_usage_seconds_total".to_string(),
        "/metrics".to_string(),
    ] {
        let x = get(&format!("{}{path}", a.url())).await.2;
        let y = get(&format!("{}{path}", b.url())).await.2;
        assert_eq!(x, y, "{path}");
        assert_eq!(
            x,
            get(&format!("{}{path}", a.url())).await.2,
            "{path} (repeat)"
        );
    }
}

/// `rate(x[5m])` over 30 minutes at a 15 s step for 600 series (cAdvisor-like labels, one
/// sample every 15 s): run with `cargo test -p aiopslab-sim --test telemetry_prometheus -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_rate_over_600_series() {
    let m = InMemoryMetrics::new();
    for i in 0..600 {
        let pod = format!("pod-{i}");
        let l = lbl(&[
            ("__name__", "container_cpu_usage_seconds_total"),
            ("namespace", "test-hotel-reservation"),
            ("pod", &pod),
            ("container", "app"),
            ("instance", "kind-worker"),
            ("job", "kubernetes-cadvisor"),
            ("image", "docker.io/yinfangchen/hotelreservation:latest"),
            ("id", &format!("/kubepods/burstable/pod{i}")),
        ]);
        m.counter(
            l,
            (0..=160).map(|k| (T0 + k * 15 * S, (k * (i + 1)) as f64)),
        );
    }
    let start = T0 + 600 * S;
    let end = start + 1800 * S;
    let t = std::time::Instant::now();
    let r = aiopslab_sim::telemetry::promql::Engine::new(&m)
        .range(
            "rate(container_cpu_usage_seconds_total[5m])",
            start,
            end,
            15 * S,
        )
        .unwrap();
    let took = t.elapsed();
    let aiopslab_sim::telemetry::promql::QueryResult::Matrix(s) = r else {
        panic!()
    };
    assert_eq!(s.len(), 600);
    assert_eq!(s[0].samples.len(), 121);
    let t2 = std::time::Instant::now();
    let body = aiopslab_sim::telemetry::prometheus::render_result(
        &aiopslab_sim::telemetry::promql::QueryResult::Matrix(s),
    );
    let json = t2.elapsed();
    println!(
        "rate over 600 series x 121 steps: eval {took:?}, JSON {json:?} ({} bytes); source select of everything: {} series",
        body.len(),
        m.select(&[], aiopslab_sim::telemetry::TimeWindow::new(start, end))
            .len()
    );
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
}
