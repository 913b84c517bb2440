//! The Prometheus HTTP API (as Prometheus 2.47 answers it) over a [`MetricSource`].
//!
//! Endpoints: `/api/v1/query` and `/api/v1/query_range` (GET and POST form), `/api/v1/series`,
//! `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/status/buildinfo`, `/-/healthy`,
//! `/-/ready` and `/metrics` (text exposition of the latest samples). Successes are
//! `{"status":"success","data":...}`; failures are
//! `{"status":"error","errorType":"bad_data","error":"..."}` with Prometheus' HTTP codes.

use super::exposition;
use super::http::{Params, json_str};
use super::labels::{LabelMatcher, Labels, is_valid_label_name};
use super::metrics::MetricSource;
use super::promql::{
    self, DEFAULT_LOOKBACK_MS, Engine, QueryError, QueryResult, format_timestamp, format_value,
};
use super::window::TimeWindow;
use crate::clock::SharedClock;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The Prometheus version the API reports (the one AIOpsLab deploys).
pub const PROMETHEUS_VERSION: &str = "2.47.2";

/// Shared state of the Prometheus endpoints.
#[derive(Clone)]
struct PromState {
    source: Arc<dyn MetricSource>,
    clock: SharedClock,
}

/// The Prometheus API router over `source`; "now" comes from `clock`.
pub fn router(source: Arc<dyn MetricSource>, clock: SharedClock) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route(
            "/-/healthy",
            get(|| async { text_ok("Prometheus Server is Healthy.\n") }),
        )
        .route(
            "/-/ready",
            get(|| async { text_ok("Prometheus Server is Ready.\n") }),
        )
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(PromState { source, clock })
}

fn text_ok(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn success(data: &str) -> Response {
    json_response(
        StatusCode::OK,
        format!("{{\"status\":\"success\",\"data\":{data}}}"),
    )
}

fn error(e: &QueryError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        format!(
            "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":{}}}",
            e.error_type(),
            json_str(&e.to_string())
        ),
    )
}

fn bad(msg: String) -> QueryError {
    QueryError::BadData(msg)
}

/// Parses a Prometheus time parameter: float Unix seconds or RFC 3339; milliseconds out.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        return Ok((f * 1000.0).round() as i64);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    Err(format!("cannot parse {s:?} to a valid timestamp"))
}

/// Parses a Prometheus duration parameter: float seconds or `1h30m`-style; milliseconds out.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms.abs() > 9.2e15 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms.round() as i64);
    }
    parse_prom_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// Prometheus' duration syntax (`5m`, `1h30m`, `250ms`, `2d`, `1w`, `1y`).
fn parse_prom_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn now_ms(st: &PromState) -> i64 {
    st.clock.now().as_millisecond()
}

fn params(uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Params {
    Params::from_request(uri, headers, body)
}

async fn query(State(st): State<PromState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let p = params(&uri, &headers, &body);
    let time = match p.get("time").filter(|s| !s.is_empty()) {
        None => now_ms(&st),
        Some(s) => match parse_time(s) {
            Ok(t) => t,
            Err(e) => {
                return error(&bad(format!(
                    "invalid parameter \"time\": Invalid time value for 'time': {e}"
                )));
            }
        },
    };
    let q = p.get("query").unwrap_or("").to_string();
    let source = st.source.clone();
    let res =
        tokio::task::spawn_blocking(move || Engine::new(source.as_ref()).instant(&q, time)).await;
    match res {
        Ok(Ok(r)) => success(&render_result(&r)),
        Ok(Err(e)) => error(&e),
        Err(_) => error(&QueryError::Execution("query evaluation panicked".into())),
    }
}

async fn query_range(
    State(st): State<PromState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&uri, &headers, &body);
    let start = match parse_time(p.get("start").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return error(&bad(format!("invalid parameter \"start\": {e}"))),
    };
    let end = match parse_time(p.get("end").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return error(&bad(format!("invalid parameter \"end\": {e}"))),
    };
    if end < start {
        return error(&bad(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    let step = match parse_duration(p.get("step").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return error(&bad(format!("invalid parameter \"step\": {e}"))),
    };
    if step <= 0 {
        return error(&bad(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    let q = p.get("query").unwrap_or("").to_string();
    let source = st.source.clone();
    let res = tokio::task::spawn_blocking(move || {
        Engine::new(source.as_ref()).range(&q, start, end, step)
    })
    .await;
    match res {
        Ok(Ok(r)) => success(&render_result(&r)),
        Ok(Err(e)) => error(&e),
        Err(_) => error(&QueryError::Execution("query evaluation panicked".into())),
    }
}

/// The `data` object of a query answer: `{"resultType":...,"result":...}`.
pub fn render_result(r: &QueryResult) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"resultType\":\"");
    out.push_str(r.result_type());
    out.push_str("\",\"result\":");
    match r {
        QueryResult::Scalar(s) => point(&mut out, s.t, &format_value(s.v)),
        QueryResult::String(t, s) => {
            out.push('[');
            out.push_str(&format_timestamp(*t));
            out.push(',');
            out.push_str(&json_str(s));
            out.push(']');
        }
        QueryResult::Vector(v) => {
            out.push('[');
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_json(&mut out, &e.labels);
                out.push_str(",\"value\":");
                point(&mut out, e.sample.t, &format_value(e.sample.v));
                out.push('}');
            }
            out.push(']');
        }
        QueryResult::Matrix(m) => {
            out.push('[');
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels_json(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, p) in s.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(&mut out, p.t, &format_value(p.v));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

fn point(out: &mut String, t: i64, v: &str) {
    out.push('[');
    out.push_str(&format_timestamp(t));
    out.push_str(",\"");
    out.push_str(v);
    out.push_str("\"]");
}

fn labels_json(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_str(&l.name));
        out.push(':');
        out.push_str(&json_str(&l.value));
    }
    out.push('}');
}

/// Parses `match[]` selectors into matcher groups (one per selector and `or` branch).
fn parse_matchers(values: &[&str]) -> Result<Vec<Vec<LabelMatcher>>, QueryError> {
    let mut groups = Vec::new();
    for v in values {
        let expr = promql_parser::parser::parse(v)
            .map_err(|e| bad(format!("invalid parameter \"match[]\": {e}")))?;
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            return Err(bad(format!(
                "invalid parameter \"match[]\": {v:?} is not a series selector (expected e.g. up{{job=\"x\"}})"
            )));
        };
        // Reuse the engine's conversion through a tiny query: the selector's groups.
        groups.extend(promql::selector_matchers(&vs));
    }
    Ok(groups)
}

/// The time window of `start`/`end` parameters (all time when absent).
fn window_param(p: &Params) -> Result<TimeWindow, QueryError> {
    let start = match p.get("start").filter(|s| !s.is_empty()) {
        None => i64::MIN / 4,
        Some(s) => parse_time(s).map_err(|e| bad(format!("invalid parameter \"start\": {e}")))?,
    };
    let end = match p.get("end").filter(|s| !s.is_empty()) {
        None => i64::MAX / 4,
        Some(s) => parse_time(s).map_err(|e| bad(format!("invalid parameter \"end\": {e}")))?,
    };
    Ok(TimeWindow::new(start, end))
}

/// The label sets of every series matching any group (all series when there is no group).
fn matching_series(
    st: &PromState,
    groups: &[Vec<LabelMatcher>],
    w: TimeWindow,
) -> BTreeSet<Labels> {
    let mut out = BTreeSet::new();
    if groups.is_empty() {
        out.extend(st.source.series_labels(&[], w).into_iter().map(|(l, _)| l));
    }
    for g in groups {
        out.extend(st.source.series_labels(g, w).into_iter().map(|(l, _)| l));
    }
    out
}

async fn series(
    State(st): State<PromState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&uri, &headers, &body);
    let m = p.all("match[]");
    if m.is_empty() {
        return error(&bad("no match[] parameter provided".into()));
    }
    let groups = match parse_matchers(&m) {
        Ok(g) => g,
        Err(e) => return error(&e),
    };
    let w = match window_param(&p) {
        Ok(w) => w,
        Err(e) => return error(&e),
    };
    let set = matching_series(&st, &groups, w);
    let mut out = String::from("[");
    for (i, l) in set.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        labels_json(&mut out, l);
    }
    out.push(']');
    success(&out)
}

fn string_array(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| json_str(&s)).collect();
    format!("[{}]", v.join(","))
}

async fn labels(
    State(st): State<PromState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(&uri, &headers, &body);
    let groups = match parse_matchers(&p.all("match[]")) {
        Ok(g) => g,
        Err(e) => return error(&e),
    };
    let w = match window_param(&p) {
        Ok(w) => w,
        Err(e) => return error(&e),
    };
    let names: BTreeSet<String> = matching_series(&st, &groups, w)
        .iter()
        .flat_map(|l| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>())
        .collect();
    success(&string_array(names))
}

async fn label_values(
    State(st): State<PromState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let p = params(&uri, &headers, &Bytes::new());
    if !is_valid_label_name(&name) {
        return error(&bad(format!("invalid label name: {name:?}")));
    }
    let groups = match parse_matchers(&p.all("match[]")) {
        Ok(g) => g,
        Err(e) => return error(&e),
    };
    let w = match window_param(&p) {
        Ok(w) => w,
        Err(e) => return error(&e),
    };
    let values: BTreeSet<String> = matching_series(&st, &groups, w)
        .iter()
        .filter_map(|l| l.get(&name).map(str::to_string))
        .collect();
    success(&string_array(values))
}

async fn buildinfo() -> Response {
    success(&format!(
        "{{\"version\":\"{PROMETHEUS_VERSION}\",\"revision\":\"aiopslab-sim\",\"branch\":\"HEAD\",\"buildUser\":\"aiopslab-sim\",\"buildDate\":\"20231012-16:18:09\",\"goVersion\":\"go1.21.3\"}}"
    ))
}

async fn metrics(State(st): State<PromState>) -> Response {
    let now = now_ms(&st);
    let source = st.source.clone();
    let body = tokio::task::spawn_blocking(move || {
        exposition::render(source.as_ref(), now, DEFAULT_LOOKBACK_MS)
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response()
}
