//! `metrics.k8s.io/v1beta1` (`kubectl top nodes`, `kubectl top pods`), as metrics-server
//! serves it.
//!
//! The numbers come from a [`MetricsSource`] (the kubelet of the virtual cluster). Without one
//! the API answers `503 ServiceUnavailable`, as a cluster whose metrics-server is down does.

use super::context::Ctx;
use super::read::Filters;
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult};
use crate::resources::{ResourceKey, ResourceType};
use axum::response::Response;
use serde_json::{Value, json};

/// CPU and memory in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU in nanocores (1 core = 1e9).
    pub cpu_nanocores: u64,
    /// Memory (working set) in bytes.
    pub memory_bytes: u64,
}

impl Usage {
    /// The `usage` map metrics-server writes (`{"cpu": "1234n", "memory": "2048Ki"}`).
    pub fn to_json(self) -> Value {
        json!({
            "cpu": format!("{}n", self.cpu_nanocores),
            "memory": format!("{}Ki", self.memory_bytes / 1024),
        })
    }
}

/// Where resource usage comes from; implemented by the kubelet of the virtual cluster.
pub trait MetricsSource: Send + Sync {
    /// The usage of a node, or `None` when it has no metrics (not ready).
    fn node_usage(&self, node: &str) -> Option<Usage>;
    /// The usage of each container of a pod, or `None` when the pod has no metrics (not
    /// running).
    fn pod_usage(&self, namespace: &str, pod: &str) -> Option<Vec<(String, Usage)>>;
}

/// The sampling window metrics-server reports.
const WINDOW: &str = "20.043s";

fn unavailable(rtype: &ResourceType, verb: &str) -> ApiError {
    let mut e = ApiError::new(
        503,
        "ServiceUnavailable",
        format!(
            "the server is currently unable to handle the request ({verb} {}.{})",
            rtype.plural, rtype.group
        ),
    );
    e.retry_after = None;
    e
}

/// `GET` on `nodes` or `pods` of `metrics.k8s.io`.
pub(crate) fn handle(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
    verb: &str,
) -> ApiResult<Response> {
    if !matches!(verb, "get" | "list") {
        return Err(ApiError::method_not_allowed());
    }
    let source = ctx
        .state
        .metrics()
        .ok_or_else(|| unavailable(rtype, verb))?;
    let now = ctx.store().now_rfc3339();
    let nodes = rtype.plural == "nodes";
    let target = if nodes {
        ResourceKey::new("", "nodes")
    } else {
        ResourceKey::new("", "pods")
    };
    let filters = Filters::parse(ctx, rtype)?;
    let (objects, rv) = ctx.store().list(&target, rp.namespace.as_deref());
    let policy = ctx.state.policy();
    let mut items = Vec::new();
    for obj in objects {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if rp.name.as_deref().is_some_and(|n| n != name)
            || !filters.matches(&obj)
            || !policy.visible(&ctx.user, "", &target.plural, &obj)
        {
            continue;
        }
        let mut meta = json!({"name": name, "creationTimestamp": now});
        if let Some(labels) = obj.pointer("/metadata/labels") {
            meta["labels"] = labels.clone();
        }
        if nodes {
            if let Some(u) = source.node_usage(name) {
                items.push(json!({"metadata": meta, "timestamp": now, "window": WINDOW, "usage": u.to_json()}));
            }
        } else if let Some(containers) = source.pod_usage(ns, name) {
            meta["namespace"] = json!(ns);
            let cs: Vec<Value> = containers
                .into_iter()
                .map(|(c, u)| json!({"name": c, "usage": u.to_json()}))
                .collect();
            items.push(
                json!({"metadata": meta, "timestamp": now, "window": WINDOW, "containers": cs}),
            );
        }
    }
    let kind = rtype.kind.clone();
    if let Some(name) = &rp.name {
        let Some(mut item) = items.pop() else {
            let shown = match &rp.namespace {
                Some(ns) if !nodes => format!("{ns}/{name}"),
                _ => name.clone(),
            };
            return Err(ApiError::new(
                404,
                "NotFound",
                format!(
                    "{}.metrics.k8s.io \"{shown}\" not found",
                    kind.to_ascii_lowercase()
                ),
            )
            .with_details(name, "metrics.k8s.io", &rtype.plural));
        };
        if let Some(map) = item.as_object_mut() {
            let mut out = serde_json::Map::new();
            out.insert("kind".into(), json!(kind));
            out.insert("apiVersion".into(), json!("metrics.k8s.io/v1beta1"));
            out.append(map);
            return Ok(ctx.json(200, &Value::Object(out)));
        }
    }
    Ok(ctx.json(
        200,
        &json!({
            "kind": format!("{kind}List"),
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"resourceVersion": rv.to_string()},
            "items": items,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_written_like_metrics_server() {
        let u = Usage {
            cpu_nanocores: 1_500_000,
            memory_bytes: 64 * 1024 * 1024,
        };
        assert_eq!(u.to_json(), json!({"cpu": "1500000n", "memory": "65536Ki"}));
    }
}
