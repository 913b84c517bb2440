//! Endpoints and EndpointSlices of Services with a selector: the addresses of the matching
//! pods, ready or not, with each Service port's `targetPort` resolved against the pod's
//! container ports (by number, or by name).

use super::manager::Ctx;
use super::replicaset::ready_since;
use super::util::{arr, is_deleting, keys, name, s, sd, uid};
use crate::selector::LabelSelector;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// A resolved port: (name, port, protocol).
type Port = (String, i64, String);

/// Resolves each Service port against a pod; ports that do not resolve are left out.
fn resolve_ports(svc: &Value, pod: &Value) -> Vec<Port> {
    let mut out = Vec::new();
    for p in arr(svc, "/spec/ports") {
        let pname = s(p, "/name").unwrap_or_default().to_string();
        let proto = s(p, "/protocol").unwrap_or("TCP").to_string();
        let target = p.get("targetPort").cloned().unwrap_or(Value::Null);
        let port = match &target {
            Value::Number(n) => n.as_i64(),
            Value::String(named) => match named.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => arr(pod, "/spec/containers")
                    .iter()
                    .flat_map(|c| arr(c, "/ports").iter())
                    .find(|cp| {
                        sd(cp, "/name") == named && s(cp, "/protocol").unwrap_or("TCP") == proto
                    })
                    .and_then(|cp| cp.get("containerPort").and_then(Value::as_i64)),
            },
            _ => p.get("port").and_then(Value::as_i64),
        };
        if let Some(port) = port {
            out.push((pname, port, proto));
        }
    }
    out.sort();
    out
}

/// Ports as Endpoints write them (an empty name is left out) or as EndpointSlices write them
/// (the name is always there, `""` for an unnamed port: kubectl dereferences it).
fn ports_json(ports: &[Port], slice: bool) -> Vec<Value> {
    ports
        .iter()
        .map(|(n, p, proto)| {
            let mut v = json!({"port": p, "protocol": proto});
            if slice || !n.is_empty() {
                v["name"] = json!(n);
            }
            v
        })
        .collect()
}

fn target_ref(pod: &Value) -> Value {
    json!({
        "kind": "Pod",
        "name": name(pod),
        "namespace": super::util::namespace(pod),
        "uid": uid(pod),
    })
}

/// Reconciles the endpoints of one Service.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, svc_name: &str) {
    let svc = match ctx.store.get(&keys::services(), ns, svc_name) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctx
                .store
                .delete(&keys::endpoints(), ns, svc_name, None, None, None);
            return;
        }
    };
    let selector_map = svc
        .pointer("/spec/selector")
        .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()));
    if selector_map.is_none() || sd(&svc, "/spec/type") == "ExternalName" || is_deleting(&svc) {
        return;
    }
    let selector = LabelSelector::from_map(selector_map);
    let publish_not_ready = svc
        .pointer("/spec/publishNotReadyAddresses")
        .and_then(Value::as_bool)
        == Some(true);
    let (pods, _) = ctx.store.list(&keys::pods(), Some(ns));
    // Subsets for Endpoints, grouped by resolved ports.
    let mut subsets: BTreeMap<Vec<Port>, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    // Endpoints for slices, grouped the same way.
    let mut slices: BTreeMap<Vec<Port>, Vec<Value>> = BTreeMap::new();
    for pod in pods.iter() {
        let ip = sd(pod, "/status/podIP");
        if ip.is_empty()
            || !selector.matches_object(pod)
            || matches!(sd(pod, "/status/phase"), "Succeeded" | "Failed")
        {
            continue;
        }
        let ports = resolve_ports(&svc, pod);
        let ready = ready_since(pod).is_some();
        let terminating = is_deleting(pod);
        let node = sd(pod, "/spec/nodeName");
        let mut slice_ep = json!({
            "addresses": [ip],
            "conditions": {
                "ready": (ready || publish_not_ready) && !terminating,
                "serving": ready || publish_not_ready,
                "terminating": terminating,
            },
            "targetRef": target_ref(pod),
        });
        if !node.is_empty() {
            slice_ep["nodeName"] = json!(node);
        }
        slices.entry(ports.clone()).or_default().push(slice_ep);
        if (terminating && !publish_not_ready)
            || (ports.is_empty() && !arr(&svc, "/spec/ports").is_empty())
        {
            continue;
        }
        let mut addr = json!({"ip": ip, "targetRef": target_ref(pod)});
        if !node.is_empty() {
            addr["nodeName"] = json!(node);
        }
        if sd(pod, "/spec/subdomain") == svc_name && !sd(pod, "/spec/hostname").is_empty() {
            addr["hostname"] = json!(sd(pod, "/spec/hostname"));
        }
        let entry = subsets.entry(ports).or_default();
        if ready || publish_not_ready {
            entry.0.push(addr);
        } else {
            entry.1.push(addr);
        }
    }
    let mut subset_list = Vec::new();
    for (ports, (mut ready, mut not_ready)) in subsets {
        ready.sort_by(|a, b| sd(a, "/ip").cmp(sd(b, "/ip")));
        not_ready.sort_by(|a, b| sd(a, "/ip").cmp(sd(b, "/ip")));
        let mut sub = json!({"ports": ports_json(&ports, false)});
        if !ready.is_empty() {
            sub["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            sub["notReadyAddresses"] = json!(not_ready);
        }
        subset_list.push(sub);
    }
    let labels = svc
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    write_endpoints(ctx, ns, svc_name, &labels, subset_list);
    write_slices(ctx, &svc, ns, svc_name, &labels, slices);
}

fn write_endpoints(ctx: &mut Ctx, ns: &str, svc_name: &str, labels: &Value, subsets: Vec<Value>) {
    match ctx.store.get_arc(&keys::endpoints(), ns, svc_name) {
        Ok(_) => {
            let _ = ctx.store.modify(&keys::endpoints(), ns, svc_name, |o| {
                o["metadata"]["labels"] = labels.clone();
                match o.as_object_mut() {
                    Some(m) if subsets.is_empty() => {
                        m.remove("subsets");
                    }
                    Some(m) => {
                        m.insert("subsets".into(), json!(subsets));
                    }
                    None => {}
                }
                Ok(())
            });
        }
        Err(_) => {
            let mut ep = json!({
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": svc_name, "labels": labels},
            });
            if !subsets.is_empty() {
                ep["subsets"] = json!(subsets);
            }
            let _ = ctx.create(&keys::endpoints(), ns, ep);
        }
    }
}

fn write_slices(
    ctx: &mut Ctx,
    svc: &Value,
    ns: &str,
    svc_name: &str,
    svc_labels: &Value,
    mut groups: BTreeMap<Vec<Port>, Vec<Value>>,
) {
    let (all, _) = ctx.store.list(&keys::endpointslices(), Some(ns));
    let mut existing: Vec<String> = all
        .iter()
        .filter(|s| {
            sd(s, "/metadata/labels/kubernetes.io~1service-name") == svc_name
                && sd(
                    s,
                    "/metadata/labels/endpointslice.kubernetes.io~1managed-by",
                ) == MANAGED_BY
        })
        .map(|s| name(s).to_string())
        .collect();
    existing.sort();
    if groups.is_empty() {
        // A placeholder slice with the service's ports and no endpoints.
        groups.insert(Vec::new(), Vec::new());
    }
    let mut labels: Map<String, Value> = svc_labels.as_object().cloned().unwrap_or_default();
    labels.insert("kubernetes.io/service-name".into(), json!(svc_name));
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        json!(MANAGED_BY),
    );
    let mut names = existing.into_iter();
    for (ports, mut endpoints) in groups {
        endpoints.sort_by(|a, b| sd(a, "/targetRef/name").cmp(sd(b, "/targetRef/name")));
        let endpoints_value = if endpoints.is_empty() {
            Value::Null
        } else {
            json!(endpoints)
        };
        let ports_value = if ports.is_empty() {
            Value::Null
        } else {
            json!(ports_json(&ports, true))
        };
        match names.next() {
            Some(existing_name) => {
                let _ = ctx
                    .store
                    .modify(&keys::endpointslices(), ns, &existing_name, |o| {
                        o["metadata"]["labels"] = json!(labels);
                        o["endpoints"] = endpoints_value.clone();
                        o["ports"] = ports_value.clone();
                        Ok(())
                    });
            }
            None => {
                let slice = json!({
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "generateName": format!("{svc_name}-"),
                        "labels": labels,
                        "ownerReferences": [{
                            "apiVersion": "v1", "kind": "Service", "name": svc_name,
                            "uid": uid(svc), "controller": true, "blockOwnerDeletion": true,
                        }],
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints_value,
                    "ports": ports_value,
                });
                let _ = ctx.create(&keys::endpointslices(), ns, slice);
            }
        }
    }
    for extra in names {
        let _ = ctx
            .store
            .delete(&keys::endpointslices(), ns, &extra, None, None, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_numeric_target_ports() {
        let svc = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
            {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9100},
        ]}});
        let pod = json!({"spec": {"containers": [{"ports": [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]}]}});
        assert_eq!(
            resolve_ports(&svc, &pod),
            vec![
                ("http".to_string(), 8080, "TCP".to_string()),
                ("metrics".to_string(), 9100, "TCP".to_string())
            ]
        );
        let other = json!({"spec": {"containers": [{"ports": []}]}});
        assert_eq!(resolve_ports(&svc, &other).len(), 1);
    }
}
