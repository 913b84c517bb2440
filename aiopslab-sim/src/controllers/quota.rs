//! The ResourceQuota controller: `status.hard` (the spec's limits) and `status.used` (what the
//! namespace holds) of every quota, kept current as pods, services, claims and other objects
//! come and go, so that `kubectl get quota` and `kubectl describe quota` show real usage.
//!
//! Usage follows the real quota evaluators: compute resources (`cpu`, `requests.cpu`,
//! `limits.memory`, `requests.ephemeral-storage`, extended resources) sum the effective
//! requests or limits of the pods that have not finished (a pod asks for the larger of its
//! containers' sum and its largest init container); `pods`, `services`,
//! `services.loadbalancers`, `services.nodeports`, `configmaps`, `secrets`,
//! `persistentvolumeclaims`, `replicationcontrollers`, `resourcequotas` and
//! `count/<resource>[.<group>]` count objects; `requests.storage` (also per storage class)
//! sums claims. The `Terminating`, `NotTerminating`, `BestEffort` and `NotBestEffort` scopes
//! select pods. Not modelled: admission refusing what would exceed a quota, and scope
//! selectors on priority classes (every pod counts).

use super::manager::Ctx;
use super::util::{arr, keys, sd};
use crate::resources::ResourceKey;
use crate::table::quantity::Quantity;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The collection key of ResourceQuotas.
pub(crate) fn quotas() -> ResourceKey {
    ResourceKey::new("", "resourcequotas")
}

/// Whether `ns` has quotas whose usage objects there may change.
pub(crate) fn has_quotas(ctx: &Ctx, ns: &str) -> bool {
    !ns.is_empty() && !ctx.store.list(&quotas(), Some(ns)).0.is_empty()
}

/// Recomputes the status of every quota in `ns`.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str) {
    let (list, _) = ctx.store.list(&quotas(), Some(ns));
    if list.is_empty() {
        return;
    }
    let pods = ctx.store.list(&keys::pods(), Some(ns)).0;
    for quota in list {
        let name = sd(&quota, "/metadata/name").to_string();
        if quota.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let status = status_of(ctx, ns, &quota, &pods);
        let _ = ctx.store.modify(&quotas(), ns, &name, |q| {
            if let Some(map) = q.as_object_mut() {
                map.insert("status".into(), status);
            }
            Ok(())
        });
    }
}

fn sorted(map: BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// The status of one quota: its hard limits and the namespace's usage of each.
fn status_of(ctx: &Ctx, ns: &str, quota: &Value, pods: &[Arc<Value>]) -> Value {
    let hard: BTreeMap<String, String> = quota
        .pointer("/spec/hard")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let canonical = Quantity::parse(&text)
                        .map(|q| q.to_string())
                        .unwrap_or(text);
                    (k.clone(), canonical)
                })
                .collect()
        })
        .unwrap_or_default();
    let scopes: Vec<&str> = arr(quota, "/spec/scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let counted: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| !matches!(sd(p, "/status/phase"), "Succeeded" | "Failed"))
        .filter(|p| scopes.iter().all(|s| pod_in_scope(p, s)))
        .collect();
    let used: BTreeMap<String, String> = hard
        .keys()
        .map(|resource| {
            let value = usage(ctx, ns, resource, &counted).unwrap_or(Quantity::ZERO);
            (resource.clone(), value.to_string())
        })
        .collect();
    json!({"hard": sorted(hard), "used": sorted(used)})
}

/// Whether a pod falls in a quota scope.
fn pod_in_scope(pod: &Value, scope: &str) -> bool {
    let terminating = pod.pointer("/spec/activeDeadlineSeconds").is_some();
    let best_effort = pod_containers(pod).all(|c| {
        ["requests", "limits"].iter().all(|k| {
            c.pointer(&format!("/resources/{k}"))
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
        })
    });
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        _ => true,
    }
}

fn pod_containers(pod: &Value) -> impl Iterator<Item = &Value> {
    arr(pod, "/spec/containers")
        .iter()
        .chain(arr(pod, "/spec/initContainers").iter())
}

/// Adds `b` to an optional running sum (the first term gives the format).
fn plus(a: Option<Quantity>, b: Quantity) -> Option<Quantity> {
    Some(match a {
        Some(a) => a.add(&b),
        None => b,
    })
}

fn quantity_at(v: &Value, pointer: &str) -> Option<Quantity> {
    match v.pointer(pointer)? {
        Value::String(s) => Quantity::parse(s),
        Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

/// What a pod asks for of `resource` under `kind` (`requests` or `limits`): the larger of its
/// containers' sum and its largest init container (plus the pod overhead).
fn pod_amount(pod: &Value, kind: &str, resource: &str) -> Option<Quantity> {
    let pointer = format!(
        "/resources/{kind}/{}",
        resource.replace('~', "~0").replace('/', "~1")
    );
    let mut sum: Option<Quantity> = None;
    for c in arr(pod, "/spec/containers") {
        if let Some(q) = quantity_at(c, &pointer) {
            sum = plus(sum, q);
        }
    }
    for c in arr(pod, "/spec/initContainers") {
        if let Some(q) = quantity_at(c, &pointer)
            && sum.is_none_or(|s| q.nanos > s.nanos)
        {
            sum = Some(match sum {
                Some(s) => Quantity {
                    nanos: q.nanos,
                    format: s.format,
                },
                None => q,
            });
        }
    }
    let overhead = quantity_at(pod, &format!("/spec/overhead/{resource}"));
    match (sum, overhead) {
        (Some(s), Some(o)) => Some(s.add(&o)),
        (s, o) => s.or(o),
    }
}

fn count(n: usize) -> Option<Quantity> {
    Some(Quantity::count(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The namespace's usage of one quota resource, `None` when nothing uses it.
fn usage(ctx: &Ctx, ns: &str, resource: &str, pods: &[&Arc<Value>]) -> Option<Quantity> {
    let objects = |plural: &str| ctx.store.list(&ResourceKey::new("", plural), Some(ns)).0;
    let sum_pods = |kind: &str, name: &str| {
        pods.iter()
            .filter_map(|p| pod_amount(p, kind, name))
            .fold(None, plus)
    };
    match resource {
        "pods" | "count/pods" => count(pods.len()),
        "services" | "count/services" => count(objects("services").len()),
        "services.loadbalancers" => count(
            objects("services")
                .iter()
                .filter(|s| sd(s, "/spec/type") == "LoadBalancer")
                .count(),
        ),
        "services.nodeports" => count(
            objects("services")
                .iter()
                .filter(|s| matches!(sd(s, "/spec/type"), "NodePort" | "LoadBalancer"))
                .map(|s| {
                    arr(s, "/spec/ports")
                        .iter()
                        .filter(|p| p.get("nodePort").is_some())
                        .count()
                })
                .sum(),
        ),
        "configmaps"
        | "secrets"
        | "persistentvolumeclaims"
        | "replicationcontrollers"
        | "resourcequotas" => count(objects(resource).len()),
        "requests.storage" => objects("persistentvolumeclaims")
            .iter()
            .filter_map(|c| quantity_at(c, "/spec/resources/requests/storage"))
            .fold(None, plus),
        "cpu" | "memory" | "ephemeral-storage" => sum_pods("requests", resource),
        _ => {
            if let Some(class) =
                resource.strip_suffix(".storageclass.storage.k8s.io/persistentvolumeclaims")
            {
                return count(claims_of_class(ctx, ns, class).len());
            }
            if let Some(class) =
                resource.strip_suffix(".storageclass.storage.k8s.io/requests.storage")
            {
                return claims_of_class(ctx, ns, class)
                    .iter()
                    .filter_map(|c| quantity_at(c, "/spec/resources/requests/storage"))
                    .fold(None, plus);
            }
            if let Some(name) = resource.strip_prefix("requests.") {
                return sum_pods("requests", name);
            }
            if let Some(name) = resource.strip_prefix("limits.") {
                return sum_pods("limits", name);
            }
            if let Some(what) = resource.strip_prefix("count/") {
                let (plural, group) = what.split_once('.').unwrap_or((what, ""));
                let key = ResourceKey::new(group, plural);
                if ctx.store.catalogue().by_key(&key).is_some() {
                    return count(ctx.store.list(&key, Some(ns)).0.len());
                }
            }
            None
        }
    }
}

fn claims_of_class(ctx: &Ctx, ns: &str, class: &str) -> Vec<Arc<Value>> {
    ctx.store
        .list(&keys::pvcs(), Some(ns))
        .0
        .into_iter()
        .filter(|c| sd(c, "/spec/storageClassName") == class)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_ask_for_the_larger_of_containers_and_init_containers() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}}},
                {"resources": {"requests": {"cpu": "150m"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "500m"}}}]}});
        assert_eq!(
            pod_amount(&pod, "requests", "cpu")
                .map(|q| q.to_string())
                .as_deref(),
            Some("500m")
        );
        assert_eq!(
            pod_amount(&pod, "requests", "memory")
                .map(|q| q.to_string())
                .as_deref(),
            Some("64Mi")
        );
        assert_eq!(
            pod_amount(&pod, "limits", "cpu")
                .map(|q| q.to_string())
                .as_deref(),
            Some("1")
        );
        assert_eq!(pod_amount(&pod, "limits", "memory"), None);
        assert!(pod_in_scope(&pod, "NotBestEffort"));
        assert!(pod_in_scope(
            &json!({"spec": {"containers": [{}]}}),
            "BestEffort"
        ));
    }
}
