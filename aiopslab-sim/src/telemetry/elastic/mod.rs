//! The Elasticsearch search API (as Elasticsearch 8 answers it) over a [`LogSource`], with one
//! `logstash-YYYY.MM.DD` index per UTC day of the source's retention window.
//!
//! Endpoints: `GET /`, `GET /_cat/indices[/<pattern>]` (text, `?v`, `?h=`, `?format=json`),
//! `GET|HEAD /<index>`, `GET|POST /<index>/_search` and `/_search` (query DSL in
//! [`query`], `sort`, `size`, `from`, `_source`, `track_total_hits`, `scroll`),
//! `GET|POST /_search/scroll`, `DELETE /_search/scroll`, `GET|POST /<index>/_count`.
//! Index expressions accept comma lists, `*` wildcards and `_all`. Every answer carries
//! `X-Elastic-Product: Elasticsearch`, which the official clients require.

mod error;
pub mod query;

pub use error::EsError;

use crate::clock::SharedClock;
use crate::telemetry::http::parse_form;
use crate::telemetry::logs::{LogDocument, LogSource, lookup};
use crate::telemetry::window::TimeWindow;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use query::{DocRef, Query, parse_query};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The Elasticsearch version reported by `GET /`.
pub const ES_VERSION: &str = "8.5.1";

/// The default and maximum result window (`index.max_result_window`).
pub const MAX_RESULT_WINDOW: usize = 10_000;

const DAY_MS: i64 = 86_400_000;

#[derive(Clone)]
struct EsState {
    source: Arc<dyn LogSource>,
    clock: SharedClock,
    scrolls: Arc<Mutex<Scrolls>>,
}

#[derive(Default)]
struct Scrolls {
    next: u64,
    open: BTreeMap<u64, ScrollCtx>,
}

struct ScrollCtx {
    hits: Vec<Value>,
    pos: usize,
    size: usize,
    keep_alive_ms: i64,
    expires_ms: i64,
    total: Option<Value>,
    max_score: Value,
    shards: usize,
}

/// The Elasticsearch router over `source`.
pub fn router(source: Arc<dyn LogSource>, clock: SharedClock) -> Router {
    let state = EsState {
        source,
        clock,
        scrolls: Arc::new(Mutex::new(Scrolls::default())),
    };
    Router::new()
        .route("/", get(info).head(|| async { StatusCode::OK }))
        .route("/_search", get(search_all).post(search_all))
        .route("/_count", get(count_all).post(count_all))
        .route(
            "/_search/scroll",
            get(scroll).post(scroll).delete(clear_scroll),
        )
        .route(
            "/_search/scroll/{id}",
            get(scroll_by_path)
                .post(scroll_by_path)
                .delete(clear_scroll_by_path),
        )
        .route("/_cat/indices", get(cat_all))
        .route("/_cat/indices/{index}", get(cat_some))
        .route("/{index}", get(get_index).head(head_index))
        .route("/{index}/_search", get(search_index).post(search_index))
        .route("/{index}/_count", get(count_index).post(count_index))
        .fallback(no_handler)
        .layer(axum::middleware::from_fn(product_header))
        .with_state(state)
}

/// Adds `X-Elastic-Product` and answers in the compatible-with media type when asked for it.
async fn product_header(req: Request, next: Next) -> Response {
    let compat = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("compatible-with=8"));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    let is_json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if compat && is_json {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.elasticsearch+json;compatible-with=8"),
        );
    }
    resp
}

fn json_resp(status: u16, v: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(v).unwrap_or_default(),
    )
        .into_response()
}

fn err_resp(e: &EsError) -> Response {
    json_resp(e.status, &e.body())
}

async fn no_handler(method: Method, uri: Uri) -> Response {
    json_resp(
        400,
        &json!({"error": format!("no handler found for uri [{}] and method [{}]", uri.path(), method)}),
    )
}

/// A short deterministic id: 15 bytes of two FNV-1a hashes in URL-safe base64 (20 characters).
fn short_id(parts: &[&[u8]]) -> String {
    let mut out = [0u8; 16];
    for (seed, chunk) in [
        (0xcbf2_9ce4_8422_2325u64, 0usize),
        (0x8422_2325_cbf2_9ce4u64, 8usize),
    ] {
        let mut h = seed;
        for p in parts {
            for b in p.iter().chain([0xffu8].iter()) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        out[chunk..chunk + 8].copy_from_slice(&h.to_be_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&out[..15])
}

/// One daily index.
#[derive(Debug, Clone)]
struct Index {
    name: String,
    window: TimeWindow,
}

/// The daily index name of a time: `logstash-YYYY.MM.DD` (UTC).
pub fn index_name(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => format!("logstash-{}", t.strftime("%Y.%m.%d")),
        Err(_) => "logstash-1970.01.01".into(),
    }
}

fn all_indices(st: &EsState) -> Vec<Index> {
    let r = st.source.retention();
    if r.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let mut day = r.start.div_euclid(DAY_MS);
    let last = r.end.div_euclid(DAY_MS);
    while day <= last && out.len() < 10_000 {
        let start = day * DAY_MS;
        out.push(Index {
            name: index_name(start),
            window: TimeWindow::new(start, start + DAY_MS - 1),
        });
        day += 1;
    }
    out
}

fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(pos) => rest = &rest[pos + p.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Resolves an index expression (comma list, wildcards, `_all`) to indices, sorted by name.
fn resolve(st: &EsState, expr: &str) -> Result<Vec<Index>, EsError> {
    let all = all_indices(st);
    let mut picked: BTreeMap<String, Index> = BTreeMap::new();
    for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "_all" || part == "*" {
            picked.extend(all.iter().map(|i| (i.name.clone(), i.clone())));
        } else if part.contains('*') {
            picked.extend(
                all.iter()
                    .filter(|i| wildcard(part, &i.name))
                    .map(|i| (i.name.clone(), i.clone())),
            );
        } else {
            match all.iter().find(|i| i.name == part) {
                Some(i) => {
                    picked.insert(i.name.clone(), i.clone());
                }
                None => return Err(EsError::index_not_found(part)),
            }
        }
    }
    Ok(picked.into_values().collect())
}

/// The documents of an index inside `[lo, hi]`, each with its deterministic `_id`.
fn index_docs(st: &EsState, idx: &Index, lo: i64, hi: i64) -> Vec<(String, LogDocument)> {
    let w = idx.window.intersect(&TimeWindow::new(lo, hi));
    if w.is_empty() {
        return vec![];
    }
    let docs = st.source.documents(w);
    let mut seen: HashMap<String, u32> = HashMap::new();
    docs.into_iter()
        .map(|d| {
            let body = serde_json::to_string(&d.source).unwrap_or_default();
            let ts = d.timestamp_ms.to_be_bytes();
            let base = short_id(&[&ts, body.as_bytes()]);
            let n = seen.entry(base.clone()).or_insert(0);
            let id = if *n == 0 {
                base
            } else {
                short_id(&[&ts, body.as_bytes(), &n.to_be_bytes()])
            };
            *n += 1;
            (id, d)
        })
        .collect()
}

async fn info(State(st): State<EsState>) -> Response {
    let _ = &st;
    json_resp(
        200,
        &json!({
            "name": "elasticsearch-master-0",
            "cluster_name": "elasticsearch",
            "cluster_uuid": "YWlvcHNsYWItc2ltLWVz",
            "version": {
                "number": ES_VERSION,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "c1310c45fc534583afe2c1c03046491efba2bba2",
                "build_date": "2022-11-09T21:02:20.169855900Z",
                "build_snapshot": false,
                "lucene_version": "9.4.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "You Know, for Search"
        }),
    )
}

/// Query-string parameters as a map (last value wins).
fn qparams(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(parse_form)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, EsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(EsError::new(
            400,
            "parsing_exception",
            "Unknown key for a VALUE_STRING in [body].".into(),
        )),
        Err(e) => Err(EsError::new(
            400,
            "x_content_parse_exception",
            format!(
                "[{}:{}] failed to parse the request body: {e}",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// Parses an Elasticsearch time value (`15s`, `1m`, `500ms`) into ms.
fn parse_time_value(s: &str, setting: &str) -> Result<i64, EsError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad_time(s, setting))?;
    let mult = match unit {
        "nanos" => return Ok(n / 1_000_000),
        "micros" => return Ok(n / 1000),
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        _ => return Err(bad_time(s, setting)),
    };
    Ok(n * mult)
}

fn bad_time(s: &str, setting: &str) -> EsError {
    EsError::new(
        400,
        "illegal_argument_exception",
        format!(
            "failed to parse setting [{setting}] with value [{s}] as a time value: unit is missing or unrecognized"
        ),
    )
}

/// A sort key: field and direction.
#[derive(Debug, Clone)]
struct SortSpec {
    field: String,
    desc: bool,
    unmapped: bool,
}

fn parse_sort(v: &Value) -> Result<Vec<SortSpec>, EsError> {
    let one = |field: &str, order: Option<&Value>| -> Result<SortSpec, EsError> {
        let (dir, unmapped) = match order {
            None => (None, false),
            Some(Value::String(s)) => (Some(s.as_str()), false),
            Some(Value::Object(o)) => (
                o.get("order").and_then(Value::as_str),
                o.contains_key("unmapped_type"),
            ),
            Some(_) => {
                return Err(EsError::new(
                    400,
                    "parsing_exception",
                    format!("malformed sort for [{field}]"),
                ));
            }
        };
        let desc = match dir {
            None => field == "_score",
            Some(d) if d.eq_ignore_ascii_case("desc") => true,
            Some(d) if d.eq_ignore_ascii_case("asc") => false,
            Some(d) => {
                return Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!("Unknown SortOrder [{d}]"),
                ));
            }
        };
        Ok(SortSpec {
            field: field.to_string(),
            desc,
            unmapped,
        })
    };
    match v {
        Value::String(s) => Ok(vec![one(s, None)?]),
        Value::Object(o) => o.iter().map(|(k, v)| one(k, Some(v))).collect(),
        Value::Array(a) => {
            let mut out = Vec::new();
            for e in a {
                out.extend(parse_sort(e)?);
            }
            Ok(out)
        }
        _ => Err(EsError::new(
            400,
            "parsing_exception",
            "malformed sort".into(),
        )),
    }
}

fn parse_sort_param(s: &str) -> Vec<SortSpec> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (f, dir) = match p.rsplit_once(':') {
                Some((f, d)) if d == "asc" || d == "desc" => (f, Some(d)),
                _ => (p, None),
            };
            SortSpec {
                field: f.to_string(),
                desc: dir == Some("desc") || (dir.is_none() && f == "_score"),
                unmapped: false,
            }
        })
        .collect()
}

/// What `_source` to return.
#[derive(Debug, Clone, Default)]
struct SourceFilter {
    disabled: bool,
    includes: Vec<String>,
    excludes: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

fn parse_source_filter(v: &Value) -> SourceFilter {
    match v {
        Value::Bool(b) => SourceFilter {
            disabled: !b,
            ..Default::default()
        },
        Value::Object(o) => SourceFilter {
            disabled: false,
            includes: o
                .get("includes")
                .or_else(|| o.get("include"))
                .map(strings)
                .unwrap_or_default(),
            excludes: o
                .get("excludes")
                .or_else(|| o.get("exclude"))
                .map(strings)
                .unwrap_or_default(),
        },
        other => SourceFilter {
            disabled: false,
            includes: strings(other),
            excludes: vec![],
        },
    }
}

fn filter_source(obj: &Map<String, Value>, f: &SourceFilter, prefix: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if f.excludes.iter().any(|p| wildcard(p, &path)) {
            continue;
        }
        let included = f.includes.is_empty() || f.includes.iter().any(|p| wildcard(p, &path));
        if included && f.excludes.is_empty() {
            out.insert(k.clone(), v.clone());
        } else if let Value::Object(inner) = v {
            let deeper = f.includes.is_empty()
                || included
                || f.includes
                    .iter()
                    .any(|p| p.starts_with(&format!("{path}.")) || p.contains('*'));
            if deeper {
                let sub_filter = if included {
                    SourceFilter {
                        disabled: false,
                        includes: vec![],
                        excludes: f.excludes.clone(),
                    }
                } else {
                    f.clone()
                };
                let sub = filter_source(inner, &sub_filter, &path);
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
            }
        } else if included {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// How totals are tracked.
#[derive(Debug, Clone, Copy)]
enum TrackTotal {
    Off,
    UpTo(usize),
    Exact,
}

/// A parsed search request.
struct SearchRequest {
    query: Query,
    size: usize,
    from: usize,
    sort: Vec<SortSpec>,
    source: SourceFilter,
    track: TrackTotal,
    scroll_ms: Option<i64>,
}

fn usize_param(v: &Value, name: &str) -> Result<usize, EsError> {
    match v {
        Value::Number(n) => n.as_u64().map(|x| x as usize).ok_or_else(|| {
            EsError::new(
                400,
                "illegal_argument_exception",
                format!("[{name}] parameter cannot be negative, found [{n}]"),
            )
        }),
        Value::String(s) => s.parse().map_err(|_| {
            EsError::new(
                400,
                "illegal_argument_exception",
                format!("failed to parse [{name}] value [{s}]"),
            )
        }),
        _ => Err(EsError::new(
            400,
            "parsing_exception",
            format!("[{name}] must be a number"),
        )),
    }
}

fn parse_search_request(
    params: &HashMap<String, String>,
    body: &Map<String, Value>,
) -> Result<SearchRequest, EsError> {
    let mut req = SearchRequest {
        query: Query::MatchAll,
        size: 10,
        from: 0,
        sort: vec![],
        source: SourceFilter::default(),
        track: TrackTotal::UpTo(MAX_RESULT_WINDOW),
        scroll_ms: None,
    };
    for (k, v) in body {
        match k.as_str() {
            "query" => req.query = query::parse_query(v)?,
            "size" => req.size = usize_param(v, "size")?,
            "from" => req.from = usize_param(v, "from")?,
            "sort" => req.sort = parse_sort(v)?,
            "_source" => req.source = parse_source_filter(v),
            "track_total_hits" => {
                req.track = match v {
                    Value::Bool(true) => TrackTotal::Exact,
                    Value::Bool(false) => TrackTotal::Off,
                    other => TrackTotal::UpTo(usize_param(other, "track_total_hits")?),
                }
            }
            "timeout"
            | "track_scores"
            | "version"
            | "seq_no_primary_term"
            | "explain"
            | "stored_fields"
            | "min_score" => {}
            "aggs" | "aggregations" | "search_after" | "highlight" | "collapse" | "suggest"
            | "pit" | "runtime_mappings" | "fields" | "docvalue_fields" | "script_fields"
            | "rescore" | "post_filter" => {
                return Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "[{k}] is not supported by the virtual cluster's Elasticsearch (supported: query, size, from, sort, _source, track_total_hits, scroll)"
                    ),
                ));
            }
            other => {
                return Err(EsError::new(
                    400,
                    "parsing_exception",
                    format!("Unknown key for a START_OBJECT in [{other}]."),
                ));
            }
        }
    }
    if let Some(s) = params.get("size") {
        req.size = usize_param(&Value::String(s.clone()), "size")?;
    }
    if let Some(s) = params.get("from") {
        req.from = usize_param(&Value::String(s.clone()), "from")?;
    }
    if let Some(s) = params.get("sort") {
        req.sort = parse_sort_param(s);
    }
    if let Some(s) = params.get("_source") {
        req.source = match s.as_str() {
            "false" => SourceFilter {
                disabled: true,
                ..Default::default()
            },
            "true" => SourceFilter::default(),
            other => parse_source_filter(&Value::String(other.into())),
        };
    }
    if let Some(s) = params.get("_source_includes") {
        req.source.includes = strings(&Value::String(s.clone()));
    }
    if let Some(s) = params.get("_source_excludes") {
        req.source.excludes = strings(&Value::String(s.clone()));
    }
    if let Some(s) = params.get("track_total_hits") {
        req.track = match s.as_str() {
            "true" => TrackTotal::Exact,
            "false" => TrackTotal::Off,
            n => TrackTotal::UpTo(usize_param(&Value::String(n.into()), "track_total_hits")?),
        };
    }
    if let Some(q) = params.get("q") {
        req.query = query_string_lite(q)?;
    }
    if let Some(s) = params.get("scroll") {
        req.scroll_ms = Some(parse_time_value(s, "scroll")?);
    }
    Ok(req)
}

/// The `q=` URL parameter: `field:value` terms joined by spaces (all must match), or `*`.
fn query_string_lite(q: &str) -> Result<Query, EsError> {
    let mut must = Vec::new();
    for part in q.split_whitespace().filter(|p| *p != "AND") {
        if part == "*" || part == "*:*" {
            continue;
        }
        match part.split_once(':') {
            Some((f, v)) => must.push(Query::Match {
                field: f.to_string(),
                query: v.trim_matches('"').to_string(),
                and: true,
            }),
            None => {
                return Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "q=[{q}]: the virtual cluster's Elasticsearch only supports field:value terms in q"
                    ),
                ));
            }
        }
    }
    Ok(if must.is_empty() {
        Query::MatchAll
    } else {
        Query::Bool {
            must,
            filter: vec![],
            should: vec![],
            must_not: vec![],
            minimum_should_match: None,
        }
    })
}

/// One matched document.
struct Hit {
    index: String,
    id: String,
    doc: LogDocument,
    order: usize,
}

/// A comparable sort value.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortVal {
    Num(f64),
    Str(String),
    Missing,
}

impl SortVal {
    fn json(&self, date: bool) -> Value {
        match self {
            SortVal::Num(x) if date => json!(*x as i64),
            SortVal::Num(x) if x.fract() == 0.0 && x.abs() < 9e15 => json!(*x as i64),
            SortVal::Num(x) => json!(x),
            SortVal::Str(s) => json!(s),
            SortVal::Missing => Value::Null,
        }
    }
}

fn sort_value(h: &Hit, spec: &SortSpec) -> Result<SortVal, EsError> {
    match spec.field.as_str() {
        "_doc" => return Ok(SortVal::Num(h.order as f64)),
        "_score" => return Ok(SortVal::Num(1.0)),
        "@timestamp" => return Ok(SortVal::Num(h.doc.timestamp_ms as f64)),
        _ => {}
    }
    let (path, keyword) = match spec.field.strip_suffix(".keyword") {
        Some(base) => (base, true),
        None => (spec.field.as_str(), false),
    };
    let v = lookup(&h.doc.source, path);
    Ok(match v {
        None | Some(Value::Null) => SortVal::Missing,
        Some(Value::Number(n)) => SortVal::Num(n.as_f64().unwrap_or(0.0)),
        Some(Value::Bool(b)) => SortVal::Num(if *b { 1.0 } else { 0.0 }),
        Some(Value::String(s)) if keyword => SortVal::Str(s.clone()),
        Some(Value::String(_)) => {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!(
                    "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                ),
            )
            .in_search());
        }
        Some(other) => SortVal::Str(other.to_string()),
    })
}

/// A hit with its sort key.
type Ranked = (Hit, Vec<SortVal>);

/// Runs a search: the matching hits in order, plus how many shards (indices) were searched.
fn run_query(
    st: &EsState,
    indices: &[Index],
    q: &Query,
    sort: &[SortSpec],
) -> Result<(Vec<Ranked>, usize), EsError> {
    let now = st.clock.now().as_millisecond();
    let (lo, hi) = q.time_bounds(now);
    let mut hits = Vec::new();
    let mut order = 0usize;
    for idx in indices {
        for (id, doc) in index_docs(st, idx, lo, hi) {
            let m = q
                .matches(
                    &DocRef {
                        id: &id,
                        source: &doc.source,
                    },
                    now,
                )
                .map_err(EsError::in_search)?;
            if m {
                hits.push(Hit {
                    index: idx.name.clone(),
                    id,
                    doc,
                    order,
                });
            }
            order += 1;
        }
    }
    for spec in sort {
        let special = matches!(spec.field.as_str(), "_doc" | "_score" | "@timestamp");
        let base = spec.field.strip_suffix(".keyword").unwrap_or(&spec.field);
        if !special
            && !spec.unmapped
            && !hits.is_empty()
            && !hits.iter().any(|h| lookup(&h.doc.source, base).is_some())
        {
            return Err(EsError::new(
                400,
                "query_shard_exception",
                format!("No mapping found for [{}] in order to sort on", spec.field),
            )
            .in_search());
        }
    }
    let mut keyed = Vec::with_capacity(hits.len());
    for h in hits {
        let mut key = Vec::with_capacity(sort.len());
        for spec in sort {
            key.push(sort_value(&h, spec)?);
        }
        keyed.push((h, key));
    }
    if !sort.is_empty() {
        keyed.sort_by(|(a, ka), (b, kb)| {
            for (i, spec) in sort.iter().enumerate() {
                let (x, y) = (&ka[i], &kb[i]);
                let ord = match (x, y) {
                    (SortVal::Missing, SortVal::Missing) => std::cmp::Ordering::Equal,
                    (SortVal::Missing, _) => std::cmp::Ordering::Greater,
                    (_, SortVal::Missing) => std::cmp::Ordering::Less,
                    _ => {
                        let o = x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal);
                        if spec.desc { o.reverse() } else { o }
                    }
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            a.order.cmp(&b.order)
        });
    }
    Ok((keyed, indices.len()))
}

fn is_filter_only(q: &Query) -> bool {
    matches!(q, Query::Bool { must, should, .. } if must.is_empty() && should.is_empty())
}

fn render_hit(
    h: &Hit,
    key: &[SortVal],
    sort: &[SortSpec],
    src: &SourceFilter,
    score: f64,
) -> Value {
    let mut m = Map::new();
    m.insert("_index".into(), json!(h.index));
    m.insert("_id".into(), json!(h.id));
    m.insert(
        "_score".into(),
        if sort.is_empty() {
            json!(score)
        } else {
            Value::Null
        },
    );
    if !src.disabled {
        let body = if src.includes.is_empty() && src.excludes.is_empty() {
            h.doc.source.clone()
        } else {
            filter_source(&h.doc.source, src, "")
        };
        m.insert("_source".into(), Value::Object(body));
    }
    if !sort.is_empty() {
        m.insert(
            "sort".into(),
            Value::Array(
                key.iter()
                    .zip(sort)
                    .map(|(k, s)| k.json(s.field == "@timestamp"))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

fn shards(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

fn total_json(total: usize, track: TrackTotal) -> Option<Value> {
    match track {
        TrackTotal::Off => None,
        TrackTotal::Exact => Some(json!({"value": total, "relation": "eq"})),
        TrackTotal::UpTo(n) if total > n => Some(json!({"value": n, "relation": "gte"})),
        TrackTotal::UpTo(_) => Some(json!({"value": total, "relation": "eq"})),
    }
}

fn search_body(
    scroll_id: Option<String>,
    shard_count: usize,
    total: Option<Value>,
    max_score: Value,
    hits: Vec<Value>,
) -> Value {
    let mut m = Map::new();
    if let Some(id) = scroll_id {
        m.insert("_scroll_id".into(), json!(id));
    }
    m.insert("took".into(), json!(1));
    m.insert("timed_out".into(), json!(false));
    m.insert("_shards".into(), shards(shard_count));
    let mut h = Map::new();
    if let Some(t) = total {
        h.insert("total".into(), t);
    }
    h.insert("max_score".into(), max_score);
    h.insert("hits".into(), Value::Array(hits));
    m.insert("hits".into(), Value::Object(h));
    Value::Object(m)
}

fn scroll_id_text(n: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("aiopslab-sim-scroll:{n}"))
}

fn parse_scroll_id(s: &str) -> Option<u64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("aiopslab-sim-scroll:")?
        .parse()
        .ok()
}

fn do_search(st: &EsState, index_expr: &str, uri: &Uri, body: &Bytes) -> Result<Value, EsError> {
    let params = qparams(uri);
    let body = parse_body(body)?;
    let req = parse_search_request(&params, &body)?;
    let indices = resolve(st, index_expr)?;
    if req.scroll_ms.is_some() {
        if req.from > 0 {
            return Err(EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: using [from] is not allowed in a scroll context;".into(),
            ));
        }
        if req.size > MAX_RESULT_WINDOW {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!("Batch size is too large, size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", req.size),
            )
            .in_search());
        }
    } else if req.from + req.size > MAX_RESULT_WINDOW {
        return Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!("Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", req.from + req.size),
        )
        .in_search());
    }
    let (hits, shard_count) = run_query(st, &indices, &req.query, &req.sort)?;
    let total = hits.len();
    let score = if is_filter_only(&req.query) { 0.0 } else { 1.0 };
    let max_score = if req.sort.is_empty() && total > 0 {
        json!(score)
    } else {
        Value::Null
    };
    let total_v = total_json(total, req.track);
    match req.scroll_ms {
        None => {
            let page: Vec<Value> = hits
                .iter()
                .skip(req.from)
                .take(req.size)
                .map(|(h, k)| render_hit(h, k, &req.sort, &req.source, score))
                .collect();
            Ok(search_body(None, shard_count, total_v, max_score, page))
        }
        Some(keep) => {
            let rendered: Vec<Value> = hits
                .iter()
                .map(|(h, k)| render_hit(h, k, &req.sort, &req.source, score))
                .collect();
            let now = st.clock.now().as_millisecond();
            let mut scrolls = st.scrolls.lock().unwrap_or_else(|e| e.into_inner());
            scrolls.open.retain(|_, c| c.expires_ms >= now);
            scrolls.next += 1;
            let n = scrolls.next;
            let first: Vec<Value> = rendered.iter().take(req.size).cloned().collect();
            scrolls.open.insert(
                n,
                ScrollCtx {
                    pos: first.len(),
                    hits: rendered,
                    size: req.size,
                    keep_alive_ms: keep,
                    expires_ms: now + keep,
                    total: total_v.clone(),
                    max_score: max_score.clone(),
                    shards: shard_count,
                },
            );
            Ok(search_body(
                Some(scroll_id_text(n)),
                shard_count,
                total_v,
                max_score,
                first,
            ))
        }
    }
}

async fn search_all(State(st): State<EsState>, uri: Uri, body: Bytes) -> Response {
    search_impl(st, "_all".into(), uri, body).await
}

async fn search_index(
    State(st): State<EsState>,
    Path(index): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    search_impl(st, index, uri, body).await
}

async fn search_impl(st: EsState, index: String, uri: Uri, body: Bytes) -> Response {
    let res = tokio::task::spawn_blocking(move || do_search(&st, &index, &uri, &body)).await;
    match res {
        Ok(Ok(v)) => json_resp(200, &v),
        Ok(Err(e)) => err_resp(&e),
        Err(_) => err_resp(&EsError::new(500, "exception", "search failed".into())),
    }
}

fn missing_context(n: u64) -> EsError {
    EsError::new(
        404,
        "search_context_missing_exception",
        format!("No search context found for id [{n}]"),
    )
    .in_search()
}

fn continue_scroll(st: &EsState, id: &str, keep: Option<i64>) -> Result<Value, EsError> {
    let n = parse_scroll_id(id).ok_or_else(|| {
        EsError::new(
            400,
            "illegal_argument_exception",
            "Cannot parse scroll id".into(),
        )
    })?;
    let now = st.clock.now().as_millisecond();
    let mut scrolls = st.scrolls.lock().unwrap_or_else(|e| e.into_inner());
    scrolls.open.retain(|_, c| c.expires_ms >= now);
    let ctx = scrolls.open.get_mut(&n).ok_or_else(|| missing_context(n))?;
    if let Some(k) = keep {
        ctx.keep_alive_ms = k;
    }
    ctx.expires_ms = now + ctx.keep_alive_ms;
    let page: Vec<Value> = ctx
        .hits
        .iter()
        .skip(ctx.pos)
        .take(ctx.size)
        .cloned()
        .collect();
    ctx.pos += page.len();
    Ok(search_body(
        Some(scroll_id_text(n)),
        ctx.shards,
        ctx.total.clone(),
        ctx.max_score.clone(),
        page,
    ))
}

fn scroll_request(
    uri: &Uri,
    body: &Bytes,
    path_id: Option<String>,
) -> Result<(String, Option<i64>), EsError> {
    let params = qparams(uri);
    let b = parse_body(body)?;
    let id = path_id
        .or_else(|| {
            b.get("scroll_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| params.get("scroll_id").cloned())
        .ok_or_else(|| {
            EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: scrollId is missing;".into(),
            )
        })?;
    let keep = match b
        .get("scroll")
        .and_then(Value::as_str)
        .or(params.get("scroll").map(|s| s.as_str()))
    {
        Some(s) => Some(parse_time_value(s, "scroll")?),
        None => None,
    };
    Ok((id, keep))
}

async fn scroll(State(st): State<EsState>, uri: Uri, body: Bytes) -> Response {
    match scroll_request(&uri, &body, None).and_then(|(id, keep)| continue_scroll(&st, &id, keep)) {
        Ok(v) => json_resp(200, &v),
        Err(e) => err_resp(&e),
    }
}

async fn scroll_by_path(
    State(st): State<EsState>,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    match scroll_request(&uri, &body, Some(id))
        .and_then(|(id, keep)| continue_scroll(&st, &id, keep))
    {
        Ok(v) => json_resp(200, &v),
        Err(e) => err_resp(&e),
    }
}

fn clear(st: &EsState, ids: Vec<String>) -> Response {
    let mut scrolls = st.scrolls.lock().unwrap_or_else(|e| e.into_inner());
    let mut freed = 0;
    if ids.iter().any(|i| i == "_all") {
        freed = scrolls.open.len();
        scrolls.open.clear();
    } else {
        for id in &ids {
            match parse_scroll_id(id) {
                Some(n) => {
                    if scrolls.open.remove(&n).is_some() {
                        freed += 1;
                    }
                }
                None => {
                    return err_resp(&EsError::new(
                        400,
                        "illegal_argument_exception",
                        "Cannot parse scroll id".into(),
                    ));
                }
            }
        }
    }
    json_resp(
        if freed == 0 { 404 } else { 200 },
        &json!({"succeeded": true, "num_freed": freed}),
    )
}

async fn clear_scroll(State(st): State<EsState>, uri: Uri, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return err_resp(&e),
    };
    let mut ids = b.get("scroll_id").map(strings).unwrap_or_default();
    if let Some(p) = qparams(&uri).get("scroll_id") {
        ids.extend(p.split(',').map(str::to_string));
    }
    clear(&st, ids)
}

async fn clear_scroll_by_path(State(st): State<EsState>, Path(id): Path<String>) -> Response {
    clear(&st, id.split(',').map(str::to_string).collect())
}

fn do_count(st: &EsState, index_expr: &str, uri: &Uri, body: &Bytes) -> Result<Value, EsError> {
    let body = parse_body(body)?;
    let mut q = Query::MatchAll;
    for (k, v) in &body {
        match k.as_str() {
            "query" => q = parse_query(v)?,
            other => {
                return Err(EsError::new(
                    400,
                    "parsing_exception",
                    format!("request does not support [{other}]"),
                ));
            }
        }
    }
    if let Some(s) = qparams(uri).get("q") {
        q = query_string_lite(s)?;
    }
    let indices = resolve(st, index_expr)?;
    let (hits, n) = run_query(st, &indices, &q, &[])?;
    Ok(json!({"count": hits.len(), "_shards": shards(n)}))
}

async fn count_all(State(st): State<EsState>, uri: Uri, body: Bytes) -> Response {
    count_impl(st, "_all".into(), uri, body).await
}

async fn count_index(
    State(st): State<EsState>,
    Path(index): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    count_impl(st, index, uri, body).await
}

async fn count_impl(st: EsState, index: String, uri: Uri, body: Bytes) -> Response {
    match tokio::task::spawn_blocking(move || do_count(&st, &index, &uri, &body)).await {
        Ok(Ok(v)) => json_resp(200, &v),
        Ok(Err(e)) => err_resp(&e),
        Err(_) => err_resp(&EsError::new(500, "exception", "count failed".into())),
    }
}

/// The dynamic mapping logstash documents get: text + keyword for strings, `date` for `@timestamp`.
fn mapping_of(docs: &[(String, LogDocument)]) -> Value {
    fn merge(props: &mut BTreeMap<String, Value>, obj: &Map<String, Value>, top: bool) {
        for (k, v) in obj {
            let m = match v {
                _ if top && k == "@timestamp" => json!({"type": "date"}),
                Value::Object(inner) => {
                    let mut sub = match props.remove(k) {
                        Some(Value::Object(existing)) => existing
                            .get("properties")
                            .and_then(Value::as_object)
                            .map(|p| p.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
                            .unwrap_or_default(),
                        _ => BTreeMap::new(),
                    };
                    merge(&mut sub, inner, false);
                    json!({"properties": sub})
                }
                Value::Array(a) => match a.first() {
                    Some(Value::Number(n)) if n.is_f64() => json!({"type": "float"}),
                    Some(Value::Number(_)) => json!({"type": "long"}),
                    Some(Value::Bool(_)) => json!({"type": "boolean"}),
                    _ => {
                        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
                    }
                },
                Value::Number(n) if n.is_f64() => json!({"type": "float"}),
                Value::Number(_) => json!({"type": "long"}),
                Value::Bool(_) => json!({"type": "boolean"}),
                _ => {
                    json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
                }
            };
            if !props.contains_key(k) {
                props.insert(k.clone(), m);
            }
        }
    }
    let mut props = BTreeMap::new();
    for (_, d) in docs {
        merge(&mut props, &d.source, true);
    }
    json!({"properties": props})
}

fn index_uuid(name: &str) -> String {
    let mut id = short_id(&[name.as_bytes()]);
    id.truncate(22);
    id
}

fn index_description(st: &EsState, idx: &Index) -> Value {
    let docs = index_docs(st, idx, idx.window.start, idx.window.end);
    json!({
        "aliases": {},
        "mappings": mapping_of(&docs),
        "settings": {"index": {
            "routing": {"allocation": {"include": {"_tier_preference": "data_content"}}},
            "number_of_shards": "1",
            "provided_name": idx.name,
            "creation_date": idx.window.start.to_string(),
            "number_of_replicas": "1",
            "uuid": index_uuid(&idx.name),
            "version": {"created": "8050199"}
        }}
    })
}

async fn get_index(State(st): State<EsState>, Path(index): Path<String>) -> Response {
    let res = tokio::task::spawn_blocking(move || -> Result<Value, EsError> {
        let indices = resolve(&st, &index)?;
        let mut out = Map::new();
        for i in &indices {
            out.insert(i.name.clone(), index_description(&st, i));
        }
        Ok(Value::Object(out))
    })
    .await;
    match res {
        Ok(Ok(v)) => json_resp(200, &v),
        Ok(Err(e)) => err_resp(&e),
        Err(_) => err_resp(&EsError::new(
            500,
            "exception",
            "index lookup failed".into(),
        )),
    }
}

async fn head_index(State(st): State<EsState>, Path(index): Path<String>) -> Response {
    match resolve(&st, &index) {
        Ok(v) if !v.is_empty() => StatusCode::OK.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn human_bytes(n: usize) -> String {
    let units = [
        ("b", 1.0),
        ("kb", 1024.0),
        ("mb", 1024.0 * 1024.0),
        ("gb", 1024.0 * 1024.0 * 1024.0),
    ];
    let x = n as f64;
    let (unit, div) = units
        .iter()
        .rev()
        .find(|(_, d)| x >= *d)
        .copied()
        .unwrap_or(("b", 1.0));
    if unit == "b" {
        return format!("{n}b");
    }
    let v = (x / div * 10.0).round() / 10.0;
    if v.fract() == 0.0 {
        format!("{}{unit}", v as i64)
    } else {
        format!("{v:.1}{unit}")
    }
}

const CAT_COLUMNS: &[&str] = &[
    "health",
    "status",
    "index",
    "uuid",
    "pri",
    "rep",
    "docs.count",
    "docs.deleted",
    "store.size",
    "pri.store.size",
];

fn cat_rows(st: &EsState, indices: &[Index]) -> Vec<BTreeMap<&'static str, String>> {
    indices
        .iter()
        .map(|i| {
            let docs = index_docs(st, i, i.window.start, i.window.end);
            let bytes: usize = docs
                .iter()
                .map(|(_, d)| {
                    serde_json::to_string(&d.source)
                        .map(|s| s.len())
                        .unwrap_or(0)
                })
                .sum();
            let mut r = BTreeMap::new();
            r.insert("health", "yellow".to_string());
            r.insert("status", "open".to_string());
            r.insert("index", i.name.clone());
            r.insert("uuid", index_uuid(&i.name));
            r.insert("pri", "1".to_string());
            r.insert("rep", "1".to_string());
            r.insert("docs.count", docs.len().to_string());
            r.insert("docs.deleted", "0".to_string());
            r.insert("store.size", human_bytes(bytes));
            r.insert("pri.store.size", human_bytes(bytes));
            r
        })
        .collect()
}

fn cat_impl(st: &EsState, expr: &str, uri: &Uri) -> Result<Response, EsError> {
    let params = qparams(uri);
    let indices = resolve(st, expr)?;
    let mut rows = cat_rows(st, &indices);
    let cols: Vec<&str> = match params.get("h") {
        Some(h) => h
            .split(',')
            .filter_map(|c| CAT_COLUMNS.iter().find(|x| **x == c.trim()).copied())
            .collect(),
        None => CAT_COLUMNS.to_vec(),
    };
    if let Some(s) = params.get("s") {
        let (col, desc) = match s.split_once(':') {
            Some((c, d)) => (c.to_string(), d == "desc"),
            None => (s.clone(), false),
        };
        rows.sort_by(|a, b| {
            let (x, y) = (a.get(col.as_str()), b.get(col.as_str()));
            let o = match (
                x.and_then(|v| v.parse::<f64>().ok()),
                y.and_then(|v| v.parse::<f64>().ok()),
            ) {
                (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
                _ => x.cmp(&y),
            };
            if desc { o.reverse() } else { o }
        });
    }
    if params.get("format").is_some_and(|f| f == "json") {
        let arr: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for c in &cols {
                    m.insert(
                        (*c).to_string(),
                        json!(r.get(c).cloned().unwrap_or_default()),
                    );
                }
                Value::Object(m)
            })
            .collect();
        return Ok(json_resp(200, &Value::Array(arr)));
    }
    let verbose = params.contains_key("v") && params.get("v").is_none_or(|v| v != "false");
    let mut table: Vec<Vec<String>> = Vec::new();
    if verbose {
        table.push(cols.iter().map(|c| c.to_string()).collect());
    }
    for r in &rows {
        table.push(
            cols.iter()
                .map(|c| r.get(c).cloned().unwrap_or_default())
                .collect(),
        );
    }
    let numeric = |c: &str| {
        matches!(
            c,
            "pri" | "rep" | "docs.count" | "docs.deleted" | "store.size" | "pri.store.size"
        )
    };
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if numeric(cols[i]) {
                    format!("{cell:>w$}", w = widths[i])
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        text.push_str(cells.join(" ").trim_end());
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], text).into_response())
}

async fn cat_all(State(st): State<EsState>, uri: Uri) -> Response {
    cat_or_error(st, "_all".into(), uri).await
}

async fn cat_some(State(st): State<EsState>, Path(index): Path<String>, uri: Uri) -> Response {
    cat_or_error(st, index, uri).await
}

async fn cat_or_error(st: EsState, index: String, uri: Uri) -> Response {
    match tokio::task::spawn_blocking(move || cat_impl(&st, &index, &uri)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => err_resp(&e),
        Err(_) => err_resp(&EsError::new(500, "exception", "cat failed".into())),
    }
}
