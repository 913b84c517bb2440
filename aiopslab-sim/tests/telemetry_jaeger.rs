//! The Jaeger query API of the virtual cluster: envelopes, processes maps, search filters and
//! errors, as Jaeger 1.57 answers them (and as AIOpsLab's TraceAPI reads them).

use aiopslab_sim::clock::{ManualClock, SharedClock};
use aiopslab_sim::telemetry::server::start_jaeger;
use aiopslab_sim::telemetry::{InMemoryTraces, Process, RefType, Span, SpanRef, Tag, Trace};
use serde_json::Value;
use std::sync::Arc;

/// 2026-01-01T00:00:00Z in µs.
const T0_US: i64 = 1_767_225_600_000_000;

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn process(service: &str, pod: &str) -> Process {
    Process {
        service_name: service.into(),
        tags: vec![
            Tag::string("hostname", pod),
            Tag::string("jaeger.version", "Go-2.30.0"),
        ],
    }
}

// One argument per span field keeps the fixtures readable.
#[allow(clippy::too_many_arguments)]
fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    op: &str,
    p: &Process,
    start: i64,
    dur: i64,
    tags: Vec<Tag>,
) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: id.into(),
        operation_name: op.into(),
        references: parent
            .map(|pid| {
                vec![SpanRef {
                    ref_type: RefType::ChildOf,
                    trace_id: trace.into(),
                    span_id: pid.into(),
                }]
            })
            .unwrap_or_default(),
        start_time_us: start,
        duration_us: dur,
        tags,
        logs: vec![],
        process: p.clone(),
        flags: 1,
    }
}

/// Two hotel-reservation traces: a successful `GET /hotels` and a failing one (geo down).
fn traces() -> Arc<InMemoryTraces> {
    let fe = process("frontend", "frontend-1");
    let search = process("search", "search-1");
    let geo = process("geo", "geo-1");
    let t = InMemoryTraces::new();
    let ok = "00000000000000000000000000000abc";
    t.add(Trace {
        trace_id: ok.into(),
        spans: vec![
            span(
                ok,
                "0000000000000001",
                None,
                "HTTP GET /hotels",
                &fe,
                T0_US,
                5000,
                vec![
                    Tag::string("span.kind", "server"),
                    Tag::int("http.status_code", 200),
                ],
            ),
            span(
                ok,
                "0000000000000002",
                Some("0000000000000001"),
                "/search.Search/Nearby",
                &fe,
                T0_US + 100,
                4000,
                vec![Tag::string("span.kind", "client")],
            ),
            span(
                ok,
                "0000000000000003",
                Some("0000000000000002"),
                "/search.Search/Nearby",
                &search,
                T0_US + 200,
                3500,
                vec![Tag::string("span.kind", "server")],
            ),
            span(
                ok,
                "0000000000000004",
                Some("0000000000000003"),
                "/geo.Geo/Nearby",
                &geo,
                T0_US + 300,
                1000,
                vec![Tag::string("span.kind", "server")],
            ),
        ],
    });
    let bad = "def";
    t.add(Trace {
        trace_id: bad.into(),
        spans: vec![
            span(
                bad,
                "0000000000000011",
                None,
                "HTTP GET /hotels",
                &fe,
                T0_US + 60_000_000,
                9000,
                vec![
                    Tag::string("span.kind", "server"),
                    Tag::int("http.status_code", 500),
                    Tag::bool("error", true),
                ],
            ),
            span(
                bad,
                "0000000000000012",
                Some("0000000000000011"),
                "/search.Search/Nearby",
                &fe,
                T0_US + 60_000_100,
                8000,
                vec![Tag::string("span.kind", "client"), Tag::bool("error", true)],
            ),
        ],
    });
    Arc::new(t)
}

async fn start() -> aiopslab_sim::telemetry::ServerHandle {
    install_crypto();
    let clock: SharedClock = Arc::new(ManualClock::at(
        jiff::Timestamp::from_microsecond(T0_US + 600_000_000).unwrap(),
    ));
    start_jaeger(traces(), clock).await.unwrap()
}

async fn get(url: &str) -> (u16, Value, String) {
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test]
async fn services_and_operations() {
    let srv = start().await;
    let (status, _, body) = get(&format!("{}/api/services", srv.url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"data":["frontend","geo","search"],"total":3,"limit":0,"offset":0,"errors":null}"#
    );
    let (_, _, body) = get(&format!("{}/api/services/frontend/operations", srv.url())).await;
    assert_eq!(
        body,
        r#"{"data":["/search.Search/Nearby","HTTP GET /hotels"],"total":2,"limit":0,"offset":0,"errors":null}"#
    );
    let (_, v, _) = get(&format!(
        "{}/api/operations?service=frontend&spanKind=server",
        srv.url()
    ))
    .await;
    assert_eq!(
        v["data"],
        serde_json::json!([{"name": "HTTP GET /hotels", "spanKind": "server"}])
    );
    assert_eq!(v["total"], 1);
    let (status, _, body) = get(&format!("{}/api/operations", srv.url())).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}"#
    );
    // The astronomy-shop base path works too.
    let (status, v, _) = get(&format!("{}/jaeger/ui/api/services", srv.url())).await;
    assert_eq!((status, v["total"].as_u64()), (200, Some(3)));
    srv.stop().await;
}

#[tokio::test]
async fn trace_search_shape_matches_jaeger() {
    let srv = start().await;
    // AIOpsLab's call: service + lookback (ignored by the server; start defaults to 48 h ago).
    let (status, v, _) = get(&format!(
        "{}/api/traces?service=frontend&lookback=600s",
        srv.url()
    ))
    .await;
    assert_eq!(status, 200);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(
        (
            v["total"].as_u64(),
            v["limit"].as_u64(),
            v["offset"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert!(v["errors"].is_null());
    // Newest first; trace ids in Jaeger's canonical 16-digit form.
    assert_eq!(data[0]["traceID"], "0000000000000def");
    let ok = &data[1];
    assert_eq!(ok["traceID"], "0000000000000abc");
    let spans = ok["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    let s = &spans[1];
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "traceID",
            "spanID",
            "flags",
            "operationName",
            "references",
            "startTime",
            "duration",
            "tags",
            "logs",
            "processID",
            "warnings"
        ]
    );
    assert_eq!(
        s["references"],
        serde_json::json!([{"refType": "CHILD_OF", "traceID": "0000000000000abc", "spanID": "0000000000000001"}])
    );
    assert_eq!(s["startTime"], T0_US + 100);
    assert_eq!(s["duration"], 4000);
    // Processes: p1 frontend, p2 search, p3 geo, in order of first appearance.
    assert_eq!(spans[0]["processID"], "p1");
    assert_eq!(spans[2]["processID"], "p2");
    assert_eq!(spans[3]["processID"], "p3");
    assert_eq!(ok["processes"]["p3"]["serviceName"], "geo");
    assert_eq!(
        ok["processes"]["p1"]["tags"][0],
        serde_json::json!({"key": "hostname", "type": "string", "value": "frontend-1"})
    );
    assert_eq!(
        spans[0]["tags"][1],
        serde_json::json!({"key": "http.status_code", "type": "int64", "value": 200})
    );
    let bad = &data[0]["spans"][0]["tags"];
    assert!(
        bad.as_array()
            .unwrap()
            .contains(&serde_json::json!({"key": "error", "type": "bool", "value": true}))
    );
    srv.stop().await;
}

#[tokio::test]
async fn trace_search_filters() {
    let srv = start().await;
    let u = srv.url();
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceID"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v, _) = get(&format!("{u}/api/traces?service=geo")).await;
    assert_eq!(ids(&v), vec!["0000000000000abc"]);
    let (_, v, _) = get(&format!(
        "{u}/api/traces?service=frontend&tags=%7B%22error%22%3A%22true%22%7D"
    ))
    .await;
    assert_eq!(ids(&v), vec!["0000000000000def"]);
    let (_, v, _) = get(&format!(
        "{u}/api/traces?service=frontend&tag=http.status_code:200"
    ))
    .await;
    assert_eq!(ids(&v), vec!["0000000000000abc"]);
    let (_, v, _) = get(&format!(
        "{u}/api/traces?service=frontend&minDuration=8.5ms"
    ))
    .await;
    assert_eq!(ids(&v), vec!["0000000000000def"]);
    let (_, v, _) = get(&format!(
        "{u}/api/traces?service=frontend&maxDuration=5ms&operation=HTTP%20GET%20%2Fhotels"
    ))
    .await;
    assert_eq!(ids(&v), vec!["0000000000000abc"]);
    let (_, v, _) = get(&format!("{u}/api/traces?service=frontend&limit=1")).await;
    assert_eq!(ids(&v), vec!["0000000000000def"]);
    let start = T0_US + 30_000_000;
    let (_, v, _) = get(&format!(
        "{u}/api/traces?service=frontend&start={start}&end={}",
        T0_US + 120_000_000
    ))
    .await;
    assert_eq!(ids(&v), vec!["0000000000000def"]);
    let (_, v, _) = get(&format!("{u}/api/traces?service=unknown")).await;
    assert_eq!(v["data"], serde_json::json!([]));
    let (status, _, body) = get(&format!("{u}/api/traces?service=frontend&tag=error")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("malformed 'tag' parameter, expecting key:value, received: error"),
        "{body}"
    );
    let (status, _, body) = get(&format!(
        "{u}/api/traces?service=frontend&minDuration=10ms&maxDuration=1ms"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("'maxDuration' should be greater than 'minDuration'"),
        "{body}"
    );
    let (status, _, body) = get(&format!("{u}/api/traces")).await;
    assert_eq!(status, 400);
    assert!(body.contains("parameter 'service' is required"));
    srv.stop().await;
}

#[tokio::test]
async fn trace_by_id() {
    let srv = start().await;
    let u = srv.url();
    for id in [
        "abc",
        "0000000000000abc",
        "00000000000000000000000000000abc",
    ] {
        let (status, v, _) = get(&format!("{u}/api/traces/{id}")).await;
        assert_eq!(status, 200, "{id}");
        assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 4);
    }
    let (status, _, body) = get(&format!("{u}/api/traces/123")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}"#
    );
    let (status, _, body) = get(&format!("{u}/api/traces/xyz")).await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid syntax"), "{body}");
    // Same data, same bytes.
    let a = get(&format!("{u}/api/traces?service=frontend")).await.2;
    let b = get(&format!("{u}/api/traces?service=frontend")).await.2;
    assert_eq!(a, b);
    srv.stop().await;
}
