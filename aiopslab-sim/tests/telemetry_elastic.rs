//! The Elasticsearch API of the virtual cluster: daily logstash indices, search with range,
//! term, match and sort, scroll, count, and Elasticsearch-shaped errors.

use aiopslab_sim::clock::{ManualClock, SharedClock};
use aiopslab_sim::telemetry::server::start_elasticsearch;
use aiopslab_sim::telemetry::{ContainerRef, InMemoryLogs, LogDocument, ServerHandle};
use serde_json::{Value, json};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z in ms.
const T0: i64 = 1_767_225_600_000;

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn pod(name: &str, container: &str) -> ContainerRef {
    ContainerRef {
        namespace: "test-hotel-reservation".into(),
        pod: name.into(),
        container: container.into(),
        node: "kind-worker".into(),
    }
}

/// Ten log lines from two pods, one every 30 s from 23:58 on Dec 31 to 00:02:30 on Jan 1.
fn logs() -> Arc<InMemoryLogs> {
    let l = InMemoryLogs::new();
    let geo = pod("geo-84fbc958c7-lxb9r", "hotel-reserv-geo");
    let fe = pod("frontend-5b4c9d7f8-abcde", "hotel-reserv-frontend");
    for k in 0..10 {
        let t = T0 - 120_000 + k * 30_000;
        if k % 2 == 0 {
            l.add(LogDocument::container_line(
                t,
                &geo,
                &format!("Nearby request number {k} served"),
            ));
        } else {
            l.add(LogDocument::container_line(
                t,
                &fe,
                &format!("GET /hotels failed: geo unavailable ({k})"),
            ));
        }
    }
    Arc::new(l)
}

async fn start() -> ServerHandle {
    install_crypto();
    let clock: SharedClock = Arc::new(ManualClock::at(
        jiff::Timestamp::from_millisecond(T0 + 600_000).unwrap(),
    ));
    start_elasticsearch(logs(), clock).await.unwrap()
}

async fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value, String) {
    let c = reqwest::Client::new();
    let mut req = c.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(
        r.headers().get("x-elastic-product").unwrap(),
        "Elasticsearch"
    );
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn pods(v: &Value) -> Vec<String> {
    v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            h["_source"]["kubernetes"]["pod"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn timestamps(v: &Value) -> Vec<String> {
    v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["@timestamp"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn info_indices_and_mappings() {
    let srv = start().await;
    let u = srv.url();
    let (status, v, _) = call("GET", &format!("{u}/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(v["version"]["number"], "8.5.1");
    assert_eq!(v["tagline"], "You Know, for Search");
    let (_, v, _) = call("GET", &format!("{u}/_cat/indices?format=json"), None).await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["logstash-2025.12.31", "logstash-2026.01.01"]);
    assert_eq!(v[0]["docs.count"], "4");
    assert_eq!(v[1]["docs.count"], "6");
    assert_eq!(v[0]["health"], "yellow");
    let (_, _, text) = call(
        "GET",
        &format!("{u}/_cat/indices?v&h=index,docs.count"),
        None,
    )
    .await;
    assert_eq!(
        text,
        "index               docs.count\nlogstash-2025.12.31          4\nlogstash-2026.01.01          6\n"
    );
    let (status, v, _) = call("GET", &format!("{u}/logstash-*"), None).await;
    assert_eq!(status, 200);
    let m = &v["logstash-2026.01.01"]["mappings"]["properties"];
    assert_eq!(m["@timestamp"], json!({"type": "date"}));
    assert_eq!(
        m["kubernetes"]["properties"]["pod"]["properties"]["name"]["type"],
        "text"
    );
    assert_eq!(
        m["message"]["fields"]["keyword"],
        json!({"type": "keyword", "ignore_above": 256})
    );
    let (status, v, _) = call("GET", &format!("{u}/logstash-1999.01.01"), None).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["type"], "index_not_found_exception");
    assert_eq!(
        v["error"]["root_cause"][0]["reason"],
        "no such index [logstash-1999.01.01]"
    );
    assert_eq!(v["status"], 404);
    let (_, v, _) = call("GET", &format!("{u}/nothing-*"), None).await;
    assert_eq!(v, json!({}));
    srv.stop().await;
}

#[tokio::test]
async fn aiopslab_log_extract_query() {
    let srv = start().await;
    // LogAPI.log_extract: a range on @timestamp in UTC seconds, sorted ascending, size 7500.
    let body = json!({
        "size": 7500,
        "query": {"range": {"@timestamp": {"gte": "2025-12-31T23:59:00Z", "lte": "2026-01-01T00:01:00Z"}}},
        "sort": [{"@timestamp": {"order": "asc"}}]
    });
    let (status, v, _) = call(
        "POST",
        &format!("{}/logstash-*/_search", srv.url()),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["timed_out"], false);
    assert_eq!(
        v["_shards"],
        json!({"total": 2, "successful": 2, "skipped": 0, "failed": 0})
    );
    assert_eq!(v["hits"]["total"], json!({"value": 5, "relation": "eq"}));
    assert!(v["hits"]["max_score"].is_null());
    assert_eq!(
        timestamps(&v),
        vec![
            "2025-12-31T23:59:00.000Z",
            "2025-12-31T23:59:30.000Z",
            "2026-01-01T00:00:00.000Z",
            "2026-01-01T00:00:30.000Z",
            "2026-01-01T00:01:00.000Z"
        ]
    );
    let hit = &v["hits"]["hits"][2];
    let keys: Vec<&str> = hit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["_index", "_id", "_score", "_source", "sort"]);
    assert_eq!(hit["_index"], "logstash-2026.01.01");
    assert_eq!(hit["_id"].as_str().unwrap().len(), 20);
    assert!(hit["_score"].is_null());
    assert_eq!(hit["sort"], json!([T0]));
    let src = &hit["_source"];
    assert_eq!(src["kubernetes"]["namespace"], "test-hotel-reservation");
    assert_eq!(src["kubernetes"]["container"]["name"], "hotel-reserv-geo");
    assert_eq!(src["kubernetes"]["node"]["name"], "kind-worker");
    srv.stop().await;
}

#[tokio::test]
async fn bool_term_match_and_sort() {
    let srv = start().await;
    let u = format!("{}/logstash-*/_search", srv.url());
    // Exact pod via the keyword sub-field, epoch_millis range, newest first.
    let body = json!({
        "query": {"bool": {"filter": [
            {"term": {"kubernetes.pod.name.keyword": "geo-84fbc958c7-lxb9r"}},
            {"range": {"@timestamp": {"gte": T0 - 60_000, "lt": T0 + 120_000, "format": "epoch_millis"}}}
        ]}},
        "sort": [{"@timestamp": "desc"}]
    });
    let (_, v, _) = call("POST", &u, Some(body)).await;
    assert_eq!(
        timestamps(&v),
        vec![
            "2026-01-01T00:01:00.000Z",
            "2026-01-01T00:00:00.000Z",
            "2025-12-31T23:59:00.000Z"
        ]
    );
    // A term on the analysed text field matches a token, not the whole value.
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"term": {"kubernetes.pod.name": "geo-84fbc958c7-lxb9r"}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"term": {"kubernetes.pod.name": "lxb9r"}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 5);
    // Filter-only queries score 0, others 1.
    assert_eq!(v["hits"]["max_score"], 1.0);
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"match": {"message": "GEO Unavailable"}}, "size": 2})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 5);
    assert_eq!(
        pods(&v),
        vec!["frontend-5b4c9d7f8-abcde", "frontend-5b4c9d7f8-abcde"]
    );
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"match_phrase": {"message": "request number 4"}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 1);
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"match_phrase": {"message": "number request"}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let body = json!({"query": {"bool": {
        "must": [{"terms": {"kubernetes.container.name.keyword": ["hotel-reserv-frontend", "x"]}}],
        "must_not": [{"match": {"message": "(9)"}}]
    }}, "sort": ["@timestamp"], "from": 1, "size": 2});
    let (_, v, _) = call("POST", &u, Some(body)).await;
    assert_eq!(v["hits"]["total"]["value"], 4);
    assert_eq!(
        timestamps(&v),
        vec!["2025-12-31T23:59:30.000Z", "2026-01-01T00:00:30.000Z"]
    );
    // Date math on now (the cluster clock is 10 minutes after midnight).
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"range": {"@timestamp": {"gte": "now-7m"}}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 0);
    let (_, v, _) = call(
        "POST",
        &u,
        Some(json!({"query": {"range": {"@timestamp": {"gte": "now-9m"}}}})),
    )
    .await;
    assert_eq!(v["hits"]["total"]["value"], 4);
    // URL parameters: size and sort.
    let (_, v, _) = call("GET", &format!("{u}?size=1&sort=@timestamp:desc"), None).await;
    assert_eq!(timestamps(&v), vec!["2026-01-01T00:02:30.000Z"]);
    srv.stop().await;
}

#[tokio::test]
async fn scroll_pages_through_everything_then_clears() {
    let srv = start().await;
    let u = srv.url();
    let body =
        json!({"size": 4, "query": {"match_all": {}}, "sort": [{"@timestamp": {"order": "asc"}}]});
    let (status, v, _) = call(
        "POST",
        &format!("{u}/logstash-*/_search?scroll=15s"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v.as_object().unwrap().keys().next().unwrap(), "_scroll_id");
    let id = v["_scroll_id"].as_str().unwrap().to_string();
    let mut seen = timestamps(&v);
    assert_eq!(v["hits"]["total"]["value"], 10);
    loop {
        let (status, page, _) = call(
            "POST",
            &format!("{u}/_search/scroll"),
            Some(json!({"scroll": "15s", "scroll_id": id})),
        )
        .await;
        assert_eq!(status, 200);
        let ts = timestamps(&page);
        if ts.is_empty() {
            break;
        }
        seen.extend(ts);
    }
    assert_eq!(seen.len(), 10);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    let (status, v, _) = call(
        "DELETE",
        &format!("{u}/_search/scroll"),
        Some(json!({"scroll_id": id})),
    )
    .await;
    assert_eq!(
        (status, v),
        (200, json!({"succeeded": true, "num_freed": 1}))
    );
    let (status, v, _) = call(
        "POST",
        &format!("{u}/_search/scroll"),
        Some(json!({"scroll_id": id})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        v["error"]["root_cause"][0]["type"],
        "search_context_missing_exception"
    );
    assert_eq!(v["error"]["type"], "search_phase_execution_exception");
    srv.stop().await;
}

#[tokio::test]
async fn count_and_errors() {
    let srv = start().await;
    let u = srv.url();
    let (_, v, _) = call("GET", &format!("{u}/logstash-2026.01.01/_count"), None).await;
    assert_eq!(
        v,
        json!({"count": 6, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})
    );
    let body =
        json!({"query": {"term": {"kubernetes.container.name.keyword": "hotel-reserv-geo"}}});
    let (_, v, _) = call("POST", &format!("{u}/logstash-*/_count"), Some(body)).await;
    assert_eq!(v["count"], 5);
    let (status, v, _) = call(
        "POST",
        &format!("{u}/logstash-*/_search"),
        Some(json!({"query": {"fuzzy_thing": {}}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["type"], "parsing_exception");
    assert_eq!(v["error"]["reason"], "unknown query [fuzzy_thing]");
    assert_eq!(v["error"]["root_cause"][0]["type"], "parsing_exception");
    assert_eq!(v["status"], 400);
    let (status, v, _) = call(
        "POST",
        &format!("{u}/logstash-*/_search"),
        Some(json!({"sort": [{"message": "asc"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["root_cause"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Text fields are not optimised")
    );
    let (status, v, _) = call(
        "POST",
        &format!("{u}/logstash-*/_search"),
        Some(json!({"from": 9990, "size": 20})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["root_cause"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Result window is too large")
    );
    let (status, v, _) = call("POST", &format!("{u}/missing/_search"), None).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["type"], "index_not_found_exception");
    let (status, v, _) = call(
        "POST",
        &format!("{u}/logstash-*/_search"),
        Some(json!({"query": {"range": {"@timestamp": {"gte": "not a date"}}}})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["root_cause"][0]["type"], "parse_exception");
    srv.stop().await;
}

#[tokio::test]
async fn same_data_same_bytes() {
    let a = start().await;
    let b = start().await;
    let body = json!({"size": 10, "query": {"match": {"message": "geo"}}});
    let x = call(
        "POST",
        &format!("{}/logstash-*/_search", a.url()),
        Some(body.clone()),
    )
    .await
    .2;
    let y = call(
        "POST",
        &format!("{}/logstash-*/_search", b.url()),
        Some(body),
    )
    .await
    .2;
    assert_eq!(x, y);
    a.stop().await;
    b.stop().await;
}
