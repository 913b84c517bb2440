//! `pods/log`: a container's log through the kubelet's [`crate::runtime::PodRuntime`].
//!
//! With `follow=true` the response streams: first what the container printed so far (with
//! `tailLines`, `sinceSeconds`, ... applied), then new lines as the container prints them,
//! until the container terminates, the pod goes away, or the client disconnects. New lines are
//! looked for when the pod changes and otherwise once a second.

use super::context::Ctx;
use super::read::fetch;
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult, Cause};
use super::watch::receiver_stream;
use crate::resources::ResourceType;
use crate::runtime::{LogOptions, PodRuntime};
use crate::store::Store;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often a followed log is re-read when nothing else happens.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "PodLogOptions",
        "",
        name,
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

/// Reads the log options of the query, validated as the real server validates them.
fn options(ctx: &Ctx, pod: &str) -> ApiResult<LogOptions> {
    let q = &ctx.query;
    let int = |k: &str| q.int(k).map_err(ApiError::bad_request);
    let o = LogOptions {
        container: q.non_empty("container").map(str::to_string),
        previous: q.flag("previous"),
        tail_lines: int("tailLines")?,
        since_seconds: int("sinceSeconds")?,
        since_time: q.non_empty("sinceTime").map(str::to_string),
        timestamps: q.flag("timestamps"),
        limit_bytes: int("limitBytes")?,
    };
    if o.since_seconds.is_some() && o.since_time.is_some() {
        return Err(invalid(
            pod,
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
        ));
    }
    if let Some(s) = o.since_seconds
        && s < 1
    {
        return Err(invalid(
            pod,
            "sinceSeconds",
            format!("Invalid value: {s}: must be greater than 0"),
        ));
    }
    if let Some(t) = o.tail_lines
        && t < 0
    {
        return Err(invalid(
            pod,
            "tailLines",
            format!("Invalid value: {t}: must be greater than or equal to 0"),
        ));
    }
    if let Some(l) = o.limit_bytes
        && l < 1
    {
        return Err(invalid(
            pod,
            "limitBytes",
            format!("Invalid value: {l}: must be greater than 0"),
        ));
    }
    if let Some(t) = &o.since_time
        && t.parse::<Timestamp>().is_err()
    {
        return Err(ApiError::bad_request(format!(
            "parsing time {t:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {t:?}"
        )));
    }
    Ok(o)
}

fn text_response(body: Body) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// `GET .../pods/{name}/log`.
pub(crate) async fn logs(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
) -> ApiResult<Response> {
    let pod = fetch(ctx, rtype, rp)?;
    let name = rp.name.clone().unwrap_or_default();
    let ns = rp.namespace.clone().unwrap_or_default();
    let opts = options(ctx, &name)?;
    let runtime = ctx.state.runtime().ok_or_else(|| {
        ApiError::internal("the kubelet of the virtual cluster is not running (no pod runtime)")
    })?;
    let text = runtime
        .logs(&ns, &name, &opts)
        .await
        .map_err(ApiError::from_runtime)?;
    if !ctx.query.flag("follow") {
        return Ok(text_response(Body::from(text)));
    }
    // Follow: keep reading the whole log (from the same starting point) and send what is new.
    let mut base = LogOptions {
        tail_lines: None,
        limit_bytes: None,
        ..opts.clone()
    };
    if let Some(s) = base.since_seconds.take() {
        let start = ctx
            .store()
            .clock()
            .now()
            .checked_sub(SignedDuration::from_secs(s))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        base.since_time = Some(start.to_string());
    }
    let container = opts
        .container
        .clone()
        .or_else(|| first_container(&pod))
        .unwrap_or_default();
    let baseline = runtime.logs(&ns, &name, &base).await.unwrap_or_default();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    let store = ctx.state.store().clone();
    tokio::spawn(follow(Follow {
        store,
        runtime,
        ns,
        name,
        container,
        opts: base,
        first: text,
        baseline,
        tx,
    }));
    Ok(text_response(Body::from_stream(receiver_stream(rx))))
}

fn first_container(pod: &Value) -> Option<String> {
    pod.pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Whether the followed container has stopped for good (or the pod is gone).
fn finished(store: &Store, ns: &str, name: &str, container: &str) -> bool {
    let pods = crate::resources::ResourceKey::new("", "pods");
    let Ok(pod) = store.get_arc(&pods, ns, name) else {
        return true;
    };
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed") {
        return true;
    }
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == container))
        .is_some_and(|c| {
            c.pointer("/state/terminated").is_some()
                && pod.pointer("/spec/restartPolicy").and_then(Value::as_str) == Some("Never")
        })
}

struct Follow {
    store: Arc<Store>,
    runtime: Arc<dyn PodRuntime>,
    ns: String,
    name: String,
    container: String,
    opts: LogOptions,
    first: String,
    baseline: String,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>,
}

async fn follow(mut f: Follow) {
    if f.tx.send(Ok(Bytes::from(f.first.clone()))).await.is_err() {
        return;
    }
    let mut events = f.store.subscribe();
    let mut tick = tokio::time::interval(FOLLOW_POLL);
    tick.tick().await;
    loop {
        // Wake up for a change of this pod, or once a second; ignore everything else.
        tokio::select! {
            _ = f.tx.closed() => return,
            _ = tick.tick() => {}
            ev = events.recv() => match ev {
                Ok(ev) => {
                    let ours = ev.resource.group.is_empty()
                        && ev.resource.plural == "pods"
                        && ev.namespace == f.ns
                        && ev.object.pointer("/metadata/name").and_then(Value::as_str)
                            == Some(f.name.as_str());
                    if !ours {
                        continue;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
        let done = finished(&f.store, &f.ns, &f.name, &f.container);
        if let Ok(full) = f.runtime.logs(&f.ns, &f.name, &f.opts).await {
            if let Some(new) = full.strip_prefix(f.baseline.as_str())
                && !new.is_empty()
                && f.tx.send(Ok(Bytes::from(new.to_string()))).await.is_err()
            {
                return;
            }
            f.baseline = full;
        }
        if done {
            return;
        }
    }
}
