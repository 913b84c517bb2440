//! `watch`: a stream of JSON events, one per line (`{"type":"ADDED","object":{...}}`).
//!
//! Supported: `?watch=1` and the legacy `/watch/` paths, a single object (by name), namespace,
//! label and field selectors (an object that stops matching is reported `DELETED`, one that
//! starts matching `ADDED`), `resourceVersion` (unset or `0`: the current objects first as
//! `ADDED`; a number: the changes after it, or a `410 Expired` ERROR event when it is too old),
//! `sendInitialEvents` (initial events then a bookmark annotated
//! `k8s.io/initial-events-end`), `allowWatchBookmarks` (a BOOKMARK every minute), and
//! `timeoutSeconds` (30 minutes when unset). Objects hidden from the caller never appear.
//! The Table and PartialObjectMetadata representations are applied to each event's object.

use super::context::Ctx;
use super::negotiate::{Output, negotiate};
use super::objects::{meta_str, partial_metadata, table};
use super::read::Filters;
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult};
use crate::auth::Identity;
use crate::resources::ResourceType;
use crate::store::{EventType, StoreError, WatchEvent};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// The server-side timeout of a watch that does not set `timeoutSeconds`.
const DEFAULT_TIMEOUT_SECS: u64 = 1800;
/// How often a watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// Everything the streaming task needs, detached from the request.
struct Watcher {
    rtype: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    filters: Filters,
    user: Identity,
    policy: crate::auth::Policy,
    output: Output,
    /// The rendering of Table rows needs the request (include_object) and the clock.
    table_include: Option<String>,
    clock: crate::clock::SharedClock,
    /// Keys (namespace, name) the client currently knows as matching.
    known: HashSet<(String, String)>,
    bookmarks: bool,
}

impl Watcher {
    fn in_scope(&self, ev: &WatchEvent) -> bool {
        ev.resource == self.rtype.key()
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ev.namespace == ns)
            && self
                .name
                .as_deref()
                .is_none_or(|n| meta_str(&ev.object, "name") == Some(n))
    }

    fn matches(&self, obj: &Value) -> bool {
        self.filters.matches(obj)
            && self
                .policy
                .visible(&self.user, &self.rtype.group, &self.rtype.plural, obj)
    }

    /// The event the client gets for a store event, if any.
    fn translate(&mut self, ev: &WatchEvent) -> Option<&'static str> {
        if !self.in_scope(ev) {
            return None;
        }
        let key = (
            ev.namespace.clone(),
            meta_str(&ev.object, "name").unwrap_or("").to_string(),
        );
        let matches = ev.event_type != EventType::Deleted && self.matches(&ev.object);
        let known = self.known.contains(&key);
        match (ev.event_type, matches, known) {
            (EventType::Deleted, _, _) => {
                self.known.remove(&key);
                // A filtered watch only reports deletions of objects the client has seen.
                (known || self.matches(&ev.object)).then_some("DELETED")
            }
            (_, true, true) => Some("MODIFIED"),
            (EventType::Added, true, false) => {
                self.known.insert(key);
                Some("ADDED")
            }
            (EventType::Modified, true, false) => {
                self.known.insert(key);
                Some(if self.filters.is_empty() {
                    "MODIFIED"
                } else {
                    "ADDED"
                })
            }
            (_, false, true) => {
                self.known.remove(&key);
                Some("DELETED")
            }
            (_, false, false) => None,
        }
    }

    fn render(&self, kind: &str, obj: &Value) -> Bytes {
        let object = match self.output {
            Output::Table(v) => table_row(self, obj, v),
            Output::PartialObjectMetadata(v) | Output::PartialObjectMetadataList(v) => {
                partial_metadata(obj, v)
            }
            _ => return encode_event(kind, obj),
        };
        encode_event(kind, &object)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.rtype.kind, "apiVersion": self.rtype.api_version(), "metadata": meta});
        encode_event("BOOKMARK", &obj)
    }
}

fn table_row(w: &Watcher, obj: &Value, version: &'static str) -> Value {
    let include: crate::table::IncludeObject = w
        .table_include
        .as_deref()
        .unwrap_or("")
        .parse()
        .unwrap_or_default();
    let opts = crate::table::TableOptions {
        now: w.clock.now(),
        include_object: include,
    };
    let cols: Option<Vec<crate::table::PrinterColumn>> =
        w.rtype.printer_columns.as_ref().map(|cols| {
            cols.iter()
                .filter_map(|c| serde_json::from_value(c.clone()).ok())
                .collect()
        });
    let mut t = crate::table::to_table(
        &w.rtype.group,
        &w.rtype.kind,
        std::slice::from_ref(obj),
        &opts,
        if w.rtype.custom {
            cols.as_deref()
        } else {
            None
        },
    );
    crate::table::set_list_metadata(
        &mut t,
        &json!({"resourceVersion": meta_str(obj, "resourceVersion").unwrap_or("")}),
    );
    if version != "v1" {
        t["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    }
    t
}

/// One event line.
pub(crate) fn encode_event(kind: &str, obj: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    let _ = serde_json::to_writer(&mut out, obj);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// An ERROR event carrying a `Status`.
fn error_event(e: &ApiError) -> Bytes {
    encode_event("ERROR", &e.to_status())
}

type Tx = mpsc::Sender<Result<Bytes, Infallible>>;

/// `GET` with `watch=1` (or a `/watch/` path).
pub(crate) fn watch(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    let output = match negotiate(ctx.header(header::ACCEPT), true)? {
        Output::Yaml => Output::Json,
        o => o,
    };
    // Validate the Table options before the stream starts.
    if let Output::Table(v) = output {
        table(ctx, rtype, &[], &json!({}), v)?;
    }
    let filters = Filters::parse(ctx, rtype)?;
    let timeout = ctx
        .query
        .int("timeoutSeconds")
        .map_err(ApiError::bad_request)?
        .filter(|t| *t > 0)
        .map(|t| t as u64)
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    let rv_param = ctx.query.non_empty("resourceVersion").map(str::to_string);
    let send_initial = ctx
        .query
        .get("sendInitialEvents")
        .map(|_| ctx.query.flag("sendInitialEvents"));
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    if send_initial.is_some()
        && (ctx.query.get("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks)
    {
        return Err(ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            vec![super::status::Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and resourceVersionMatch is set to NotOlderThan and allowWatchBookmarks is set to true".into(),
                field: "sendInitialEvents".into(),
            }],
        ));
    }
    let since = match rv_param.as_deref() {
        None | Some("0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {v:?}")))?,
        ),
    };
    // Initial events: for "any" resource version, or when explicitly asked for.
    let initial = send_initial.unwrap_or(since.is_none());
    let namespace = if rtype.namespaced {
        rp.namespace.clone()
    } else {
        None
    };
    let mut watcher = Watcher {
        rtype: rtype.clone(),
        namespace: namespace.clone(),
        name: rp.name.clone(),
        filters,
        user: ctx.user.clone(),
        policy: ctx.state.policy().clone(),
        output,
        table_include: ctx.query.get("includeObject").map(str::to_string),
        clock: ctx.store().clock().clone(),
        known: HashSet::new(),
        bookmarks,
    };
    let store = ctx.state.store().clone();
    let start = store.watch_from(if initial { None } else { since });
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let mut first: Vec<Bytes> = Vec::new();
    let (backlog, mut live, mut floor) = match start {
        Err(StoreError::Gone { requested, oldest }) => {
            let e = ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
            first.push(error_event(&e));
            (Vec::new(), None, 0)
        }
        Err(e) => return Err(e.into()),
        Ok(ws) => (ws.backlog, Some(ws.live), ws.resource_version),
    };
    if live.is_some() && initial {
        let (objects, rv) = store.list(&rtype.key(), namespace.as_deref());
        for obj in objects {
            if let Some(n) = &watcher.name
                && meta_str(&obj, "name") != Some(n.as_str())
            {
                continue;
            }
            if watcher.matches(&obj) {
                watcher.known.insert((
                    meta_str(&obj, "namespace").unwrap_or("").to_string(),
                    meta_str(&obj, "name").unwrap_or("").to_string(),
                ));
                first.push(watcher.render("ADDED", &obj));
            }
        }
        floor = rv;
        if send_initial == Some(true) {
            first.push(watcher.bookmark(rv, true));
        }
    } else if live.is_some() {
        // Resuming: what the client knows is what matches now, as far as the server can tell.
        let (objects, _) = store.list(&rtype.key(), namespace.as_deref());
        for obj in objects {
            if watcher.matches(&obj) {
                watcher.known.insert((
                    meta_str(&obj, "namespace").unwrap_or("").to_string(),
                    meta_str(&obj, "name").unwrap_or("").to_string(),
                ));
            }
        }
        for ev in &backlog {
            if let Some(kind) = watcher.translate(ev) {
                first.push(watcher.render(kind, &ev.object));
            }
        }
    }
    tokio::spawn(async move {
        for chunk in first {
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
        let Some(live) = live.as_mut() else {
            return;
        };
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let mut last_rv = floor;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = ticker.tick(), if watcher.bookmarks => {
                    if send(&tx, watcher.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
                ev = live.recv() => match ev {
                    Ok(ev) => {
                        if ev.resource_version <= floor {
                            continue;
                        }
                        last_rv = ev.resource_version;
                        if let Some(kind) = watcher.translate(&ev)
                            && send(&tx, watcher.render(kind, &ev.object)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let e = ApiError::expired("The resourceVersion for the provided watch is too old.");
                        let _ = send(&tx, error_event(&e)).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    let mut resp = (StatusCode::OK, Body::from_stream(receiver_stream(rx))).into_response();
    let ct = match output {
        Output::Table(_)
        | Output::PartialObjectMetadata(_)
        | Output::PartialObjectMetadataList(_) => output.content_type(),
        _ => "application/json".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

async fn send(tx: &Tx, chunk: Bytes) -> Result<(), ()> {
    tx.send(Ok(chunk)).await.map_err(|_| ())
}

/// The chunks of a channel as a body stream.
pub(crate) fn receiver_stream<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
