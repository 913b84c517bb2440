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

/// The usage of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeUsage {
    /// Node name.
    pub name: String,
    /// CPU and memory.
    pub usage: Usage,
}

/// The usage of one pod, per container.
#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Per running container: name and usage.
    pub containers: Vec<(String, Usage)>,
}

/// Where resource usage comes from; implemented by the kubelet of the virtual cluster.
pub trait MetricsSource: Send + Sync {
    /// Every node that has metrics (a ready node).
    fn nodes(&self) -> Vec<NodeUsage>;
    /// Every pod that has metrics (a running pod), in one namespace or all.
    fn pods(&self, namespace: Option<&str>) -> Vec<PodUsage>;
}

impl MetricsSource for crate::controllers::metrics::Metrics {
    fn nodes(&self) -> Vec<NodeUsage> {
        crate::controllers::metrics::Metrics::nodes(self)
            .into_iter()
            .map(|n| NodeUsage {
                name: n.name,
                usage: Usage {
                    cpu_nanocores: n.cpu_nanocores,
                    memory_bytes: n.memory_bytes,
                },
            })
            .collect()
    }

    fn pods(&self, namespace: Option<&str>) -> Vec<PodUsage> {
        crate::controllers::metrics::Metrics::pods(self, namespace)
            .into_iter()
            .map(|p| PodUsage {
                namespace: p.namespace,
                name: p.name,
                containers: p
                    .containers
                    .into_iter()
                    .map(|c| {
                        (
                            c.name,
                            Usage {
                                cpu_nanocores: c.cpu_nanocores,
                                memory_bytes: c.memory_bytes,
                            },
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The sampling window metrics-server reports.
const WINDOW: &str = "15.012s";

fn unavailable(rtype: &ResourceType, verb: &str) -> ApiError {
    ApiError::new(
        503,
        "ServiceUnavailable",
        format!(
            "the server is currently unable to handle the request ({verb} {}.{})",
            rtype.plural, rtype.group
        ),
    )
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
    let policy = ctx.state.policy();
    // (namespace, name, usage JSON) of every sample, joined with the object for its labels.
    let samples: Vec<(String, String, Value)> = if nodes {
        source
            .nodes()
            .into_iter()
            .map(|n| (String::new(), n.name, json!({"usage": n.usage.to_json()})))
            .collect()
    } else {
        source
            .pods(rp.namespace.as_deref())
            .into_iter()
            .map(|p| {
                let cs: Vec<Value> = p
                    .containers
                    .into_iter()
                    .map(|(c, u)| json!({"name": c, "usage": u.to_json()}))
                    .collect();
                (p.namespace, p.name, json!({"containers": cs}))
            })
            .collect()
    };
    let (_, rv) = ctx.store().list(&target, None);
    let mut items = Vec::new();
    for (ns, name, data) in samples {
        if rp.name.as_deref().is_some_and(|n| n != name) {
            continue;
        }
        let Ok(obj) = ctx.store().get_arc(&target, &ns, &name) else {
            continue;
        };
        if !filters.matches(&obj) || !policy.visible(&ctx.user, "", &target.plural, &obj) {
            continue;
        }
        let mut meta = json!({"name": name, "creationTimestamp": now});
        if !ns.is_empty() {
            meta["namespace"] = json!(ns);
        }
        if let Some(labels) = obj.pointer("/metadata/labels") {
            meta["labels"] = labels.clone();
        }
        let mut item = json!({"metadata": meta, "timestamp": now, "window": WINDOW});
        if let (Some(m), Value::Object(d)) = (item.as_object_mut(), data) {
            m.extend(d);
        }
        items.push(item);
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
