//! The Jaeger query HTTP API (as Jaeger 1.57 answers it) over a [`TraceSource`].
//!
//! Endpoints (also under the `/jaeger/ui` prefix, as astronomy-shop serves them):
//! `/api/services`, `/api/services/{service}/operations`, `/api/operations?service=`,
//! `/api/traces?service=&operation=&tag=&tags=&start=&end=&limit=&minDuration=&maxDuration=`
//! and `/api/traces/{traceID}`. Every answer is the envelope
//! `{"data": ..., "total": n, "limit": 0, "offset": 0, "errors": null}`; traces carry a
//! `processes` map (`p1`, `p2`, ...) that spans refer to by `processID`.
//!
//! As in Jaeger, `lookback` is a UI parameter that the server ignores: without `start` the search
//! covers the last 48 hours, without `end` it ends now, and `limit` defaults to 100.

use super::http::Params;
pub use super::traces::normalize_trace_id;
use super::traces::{Process, Span, Tag, TagValue, Trace, TraceSource};
use super::window::TimeWindow;
use crate::clock::SharedClock;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// How far back a search without `start` looks (Jaeger's default query lookback).
pub const DEFAULT_SEARCH_LOOKBACK_US: i64 = 48 * 3600 * 1_000_000;

/// The default number of traces a search returns.
pub const DEFAULT_LIMIT: i64 = 100;

#[derive(Clone)]
struct JaegerState {
    source: Arc<dyn TraceSource>,
    clock: SharedClock,
}

/// The Jaeger query API router over `source`.
pub fn router(source: Arc<dyn TraceSource>, clock: SharedClock) -> Router {
    let api = Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations_legacy))
        .route("/api/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(get_trace))
        .with_state(JaegerState { source, clock });
    Router::new()
        .merge(api.clone())
        .nest("/jaeger/ui", api)
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
}

/// Serialises like Go's `encoding/json` (HTML characters escaped).
fn go_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn envelope(data: Value, total: usize) -> Response {
    let body = json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        go_json(&body),
    )
        .into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    let body = json!({
        "data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": status.as_u16(), "msg": msg}],
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        go_json(&body),
    )
        .into_response()
}

async fn services(State(st): State<JaegerState>) -> Response {
    let s = st.source.services();
    let n = s.len();
    envelope(json!(s), n)
}

async fn operations_legacy(State(st): State<JaegerState>, Path(service): Path<String>) -> Response {
    let names: BTreeSet<String> = st
        .source
        .operations(&service)
        .into_iter()
        .map(|o| o.name)
        .collect();
    let n = names.len();
    envelope(json!(names.into_iter().collect::<Vec<_>>()), n)
}

async fn operations(State(st): State<JaegerState>, uri: Uri) -> Response {
    let p = Params::from_request(&uri, &HeaderMap::new(), &Bytes::new());
    let service = p.get("service").unwrap_or("");
    if service.is_empty() {
        return error(StatusCode::BAD_REQUEST, "parameter 'service' is required");
    }
    let kind = p.get("spanKind").unwrap_or("");
    let ops: Vec<Value> = st
        .source
        .operations(service)
        .into_iter()
        .filter(|o| kind.is_empty() || o.span_kind == kind)
        .map(|o| json!({"name": o.name, "spanKind": o.span_kind}))
        .collect();
    let n = ops.len();
    envelope(Value::Array(ops), n)
}

fn canonical(id: &str) -> String {
    normalize_trace_id(id).unwrap_or_else(|_| id.to_string())
}

fn tag_json(t: &Tag) -> Value {
    let (ty, v) = match &t.value {
        TagValue::String(s) => ("string", json!(s)),
        TagValue::Bool(b) => ("bool", json!(b)),
        TagValue::Int64(i) => ("int64", json!(i)),
        TagValue::Float64(f) => ("float64", json!(f)),
    };
    json!({"key": t.key, "type": ty, "value": v})
}

fn span_json(s: &Span, pid: &str) -> Value {
    let mut m = Map::new();
    m.insert("traceID".into(), json!(canonical(&s.trace_id)));
    m.insert("spanID".into(), json!(s.span_id));
    if s.flags != 0 {
        m.insert("flags".into(), json!(s.flags));
    }
    m.insert("operationName".into(), json!(s.operation_name));
    m.insert(
        "references".into(),
        Value::Array(
            s.references
                .iter()
                .map(|r| json!({"refType": r.ref_type.as_str(), "traceID": canonical(&r.trace_id), "spanID": r.span_id}))
                .collect(),
        ),
    );
    m.insert("startTime".into(), json!(s.start_time_us));
    m.insert("duration".into(), json!(s.duration_us));
    m.insert(
        "tags".into(),
        Value::Array(s.tags.iter().map(tag_json).collect()),
    );
    m.insert(
        "logs".into(),
        Value::Array(
            s.logs
                .iter()
                .map(|l| json!({"timestamp": l.timestamp_us, "fields": l.fields.iter().map(tag_json).collect::<Vec<_>>()}))
                .collect(),
        ),
    );
    m.insert("processID".into(), json!(pid));
    m.insert("warnings".into(), Value::Null);
    Value::Object(m)
}

/// A trace as the Jaeger UI JSON model writes it, with its `processes` map.
pub fn trace_json(t: &Trace) -> Value {
    let mut procs: Vec<&Process> = Vec::new();
    let mut spans = Vec::with_capacity(t.spans.len());
    for s in &t.spans {
        let idx = match procs.iter().position(|p| **p == s.process) {
            Some(i) => i,
            None => {
                procs.push(&s.process);
                procs.len() - 1
            }
        };
        spans.push(span_json(s, &format!("p{}", idx + 1)));
    }
    // Go writes map keys sorted as strings (p1, p10, p2, ...).
    let processes: BTreeMap<String, Value> = procs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("p{}", i + 1),
                json!({"serviceName": p.service_name, "tags": p.tags.iter().map(tag_json).collect::<Vec<_>>()}),
            )
        })
        .collect();
    let mut m = Map::new();
    m.insert("traceID".into(), json!(canonical(&t.trace_id)));
    m.insert("spans".into(), Value::Array(spans));
    m.insert(
        "processes".into(),
        Value::Object(processes.into_iter().collect()),
    );
    m.insert("warnings".into(), Value::Null);
    Value::Object(m)
}

/// Parses a Go duration (`1.5ms`, `100us`, `2s`, `1h30m`) into microseconds.
pub fn parse_go_duration_us(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => {
                return Err(format!(
                    "time: unknown unit {:?} in duration {s:?}",
                    &rest[..unit_len]
                ));
            }
        };
        total_ns += n * mult;
        rest = &rest[unit_len..];
    }
    let us = (total_ns / 1000.0) as i64;
    Ok(if neg { -us } else { us })
}

/// What a trace search asks for.
struct SearchQuery {
    service: String,
    operation: String,
    tags: BTreeMap<String, String>,
    start_us: i64,
    end_us: i64,
    limit: i64,
    min_duration_us: i64,
    max_duration_us: i64,
    trace_ids: Vec<String>,
}

fn parse_search(p: &Params, now_us: i64) -> Result<SearchQuery, String> {
    let time = |name: &str, default: i64| -> Result<i64, String> {
        match p.get(name).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| format!("unable to parse param '{name}': strconv.ParseInt: parsing {v:?}: invalid syntax")),
        }
    };
    let start_us = time("start", now_us - DEFAULT_SEARCH_LOOKBACK_US)?;
    let end_us = time("end", now_us)?;
    let mut tags = BTreeMap::new();
    for t in p.all("tag") {
        match t.split_once(':') {
            Some((k, v)) => {
                tags.insert(k.to_string(), v.to_string());
            }
            None => {
                return Err(format!(
                    "malformed 'tag' parameter, expecting key:value, received: {t}"
                ));
            }
        }
    }
    for t in p.all("tags") {
        let m: BTreeMap<String, String> = serde_json::from_str(t)
            .map_err(|e| format!("malformed 'tags' parameter, cannot unmarshal JSON: {e}"))?;
        tags.extend(m);
    }
    let limit = match p.get("limit").filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<i32>()
            .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?
            as i64,
    };
    let dur = |name: &str| -> Result<i64, String> {
        match p.get(name).filter(|s| !s.is_empty()) {
            None => Ok(0),
            Some(v) => {
                parse_go_duration_us(v).map_err(|e| format!("unable to parse param '{name}': {e}"))
            }
        }
    };
    let min_duration_us = dur("minDuration")?;
    let max_duration_us = dur("maxDuration")?;
    let mut trace_ids = Vec::new();
    for id in p.all("traceID") {
        trace_ids
            .push(normalize_trace_id(id).map_err(|e| format!("cannot parse traceID param: {e}"))?);
    }
    let service = p.get("service").unwrap_or("").to_string();
    if trace_ids.is_empty() && service.is_empty() {
        return Err("parameter 'service' is required".into());
    }
    if min_duration_us != 0 && max_duration_us != 0 && max_duration_us < min_duration_us {
        return Err("'maxDuration' should be greater than 'minDuration'".into());
    }
    Ok(SearchQuery {
        service,
        operation: p.get("operation").unwrap_or("").to_string(),
        tags,
        start_us,
        end_us,
        limit,
        min_duration_us,
        max_duration_us,
        trace_ids,
    })
}

/// Whether one span satisfies the search (Jaeger's per-span rule).
fn span_matches(s: &Span, q: &SearchQuery) -> bool {
    if s.process.service_name != q.service {
        return false;
    }
    if !q.operation.is_empty() && s.operation_name != q.operation {
        return false;
    }
    if q.min_duration_us != 0 && s.duration_us < q.min_duration_us {
        return false;
    }
    if q.max_duration_us != 0 && s.duration_us > q.max_duration_us {
        return false;
    }
    if s.start_time_us < q.start_us || s.start_time_us > q.end_us {
        return false;
    }
    q.tags.iter().all(|(k, v)| {
        let all = s
            .tags
            .iter()
            .chain(s.process.tags.iter())
            .chain(s.logs.iter().flat_map(|l| l.fields.iter()));
        all.clone()
            .any(|t| &t.key == k && &t.value.as_search_string() == v)
    })
}

fn ms_window(start_us: i64, end_us: i64) -> TimeWindow {
    TimeWindow::new(start_us.div_euclid(1000), (end_us + 999).div_euclid(1000))
}

async fn search(State(st): State<JaegerState>, uri: Uri) -> Response {
    let p = Params::from_request(&uri, &HeaderMap::new(), &Bytes::new());
    let now_us = st.clock.now().as_microsecond();
    let q = match parse_search(&p, now_us) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let source = st.source.clone();
    let traces = tokio::task::spawn_blocking(move || {
        if !q.trace_ids.is_empty() {
            return q
                .trace_ids
                .iter()
                .filter_map(|id| source.trace(id))
                .collect::<Vec<_>>();
        }
        let mut found: Vec<Trace> = source
            .traces(ms_window(q.start_us, q.end_us))
            .into_iter()
            .filter(|t| t.spans.iter().any(|s| span_matches(s, &q)))
            .collect();
        // Newest first, then by id, so that a limit keeps the most recent traces.
        found.sort_by(|a, b| {
            b.start_us()
                .cmp(&a.start_us())
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        let mut seen = HashMap::new();
        found.retain(|t| seen.insert(canonical(&t.trace_id), ()).is_none());
        if q.limit > 0 {
            found.truncate(q.limit as usize);
        }
        found
    })
    .await
    .unwrap_or_default();
    let data: Vec<Value> = traces.iter().map(trace_json).collect();
    envelope(Value::Array(data), 0)
}

async fn get_trace(State(st): State<JaegerState>, Path(trace_id): Path<String>) -> Response {
    let id = match normalize_trace_id(&trace_id) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let source = st.source.clone();
    let found = tokio::task::spawn_blocking(move || source.trace(&id))
        .await
        .ok()
        .flatten();
    match found {
        Some(t) => envelope(Value::Array(vec![trace_json(&t)]), 0),
        None => error(StatusCode::NOT_FOUND, "trace not found"),
    }
}
