//! The DaemonSet controller: one pod on every node the template fits (node selector, required
//! affinity, taints against the template's tolerations plus the DaemonSet defaults), pinned by
//! node affinity, rolling updates one node at a time, and the status `kubectl get ds` shows.

use super::manager::Ctx;
use super::replicaset::{claim_pods, is_active, is_available, pod_from_template, ready_since};
use super::scheduler::matches_node;
use super::statefulset::ensure_revision;
use super::util::{self, arr, int, int_or_percent, is_deleting, keys, name, owner_ref, s, sd};
use crate::selector::LabelSelector;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const COMPONENT: &str = "daemonset-controller";

/// The tolerations the DaemonSet controller adds to its pods.
fn default_tolerations(host_network: bool) -> Vec<Value> {
    let mut t = vec![
        json!({"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists"}),
        json!({"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists"}),
        json!({"effect": "NoSchedule", "key": "node.kubernetes.io/disk-pressure", "operator": "Exists"}),
        json!({"effect": "NoSchedule", "key": "node.kubernetes.io/memory-pressure", "operator": "Exists"}),
        json!({"effect": "NoSchedule", "key": "node.kubernetes.io/pid-pressure", "operator": "Exists"}),
        json!({"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable", "operator": "Exists"}),
    ];
    if host_network {
        t.push(json!({"effect": "NoSchedule", "key": "node.kubernetes.io/network-unavailable", "operator": "Exists"}));
    }
    t
}

fn tolerated(tolerations: &[Value], taint: &Value) -> bool {
    tolerations.iter().any(|t| {
        let effect = sd(t, "/effect");
        if !effect.is_empty() && effect != sd(taint, "/effect") {
            return false;
        }
        let key = sd(t, "/key");
        let op = s(t, "/operator").unwrap_or("Equal");
        if key.is_empty() {
            return op == "Exists";
        }
        key == sd(taint, "/key") && (op == "Exists" || sd(t, "/value") == sd(taint, "/value"))
    })
}

/// The node a DaemonSet pod is for (bound, or pinned by its node affinity).
fn pod_node(pod: &Value) -> String {
    let bound = sd(pod, "/spec/nodeName");
    if !bound.is_empty() {
        return bound.to_string();
    }
    arr(
        pod,
        "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    )
    .iter()
    .flat_map(|t| arr(t, "/matchFields").iter())
    .find(|f| sd(f, "/key") == "metadata.name")
    .and_then(|f| arr(f, "/values").first())
    .and_then(Value::as_str)
    .unwrap_or_default()
    .to_string()
}

/// Reconciles one DaemonSet.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, ds_name: &str) {
    let Ok(ds) = ctx.store.get(&keys::daemonsets(), ns, ds_name) else {
        return;
    };
    let Ok(selector) = LabelSelector::from_object(ds.pointer("/spec/selector")) else {
        return;
    };
    let owned = claim_pods(ctx, &ds, "apps/v1", "DaemonSet", &selector);
    let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let revision = ensure_revision(ctx, &ds, "DaemonSet", &template);
    let hash = revision
        .strip_prefix(&format!("{ds_name}-"))
        .unwrap_or(&revision)
        .to_string();
    let host_network = template
        .pointer("/spec/hostNetwork")
        .and_then(Value::as_bool)
        == Some(true);
    let mut tolerations = arr(&template, "/spec/tolerations").to_vec();
    tolerations.extend(default_tolerations(host_network));
    let (nodes, _) = ctx.store.list(&keys::nodes(), None);
    let fake_pod = json!({"spec": template.get("spec").cloned().unwrap_or(json!({}))});
    let wanted: Vec<String> = nodes
        .iter()
        .filter(|n| {
            matches_node(&fake_pod, n)
                && arr(n, "/spec/taints").iter().all(|t| {
                    !matches!(sd(t, "/effect"), "NoSchedule" | "NoExecute")
                        || tolerated(&tolerations, t)
                })
        })
        .map(|n| name(n).to_string())
        .collect();
    let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
    for p in owned.iter().filter(|p| !is_deleting(p)) {
        by_node.entry(pod_node(p)).or_default().push(p.clone());
    }
    let generation = int(&ds, "/metadata/generation").unwrap_or(1);
    if !is_deleting(&ds) {
        let max_unavailable = int_or_percent(
            ds.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable"),
            wanted.len() as i64,
            true,
            1,
        )
        .max(1);
        let mut unavailable = wanted
            .iter()
            .filter(|n| {
                by_node
                    .get(*n)
                    .is_none_or(|ps| !ps.iter().any(|p| ready_since(p).is_some()))
            })
            .count() as i64;
        for node in &wanted {
            let pods = by_node.get(node).cloned().unwrap_or_default();
            let failed: Vec<&Arc<Value>> = pods
                .iter()
                .filter(|p| matches!(sd(p, "/status/phase"), "Failed" | "Succeeded"))
                .collect();
            for p in &failed {
                delete(ctx, &ds, p);
            }
            let alive: Vec<&Arc<Value>> = pods.iter().filter(|p| is_active(p)).collect();
            if alive.is_empty() {
                create(ctx, &ds, &template, &hash, generation, node, host_network);
                continue;
            }
            for extra in alive.iter().skip(1) {
                delete(ctx, &ds, extra);
            }
            let old = sd(alive[0], "/metadata/labels/controller-revision-hash") != hash;
            let rolling = sd(&ds, "/spec/updateStrategy/type") != "OnDelete";
            if old && rolling {
                let was_ready = ready_since(alive[0]).is_some();
                if !was_ready || unavailable < max_unavailable {
                    delete(ctx, &ds, alive[0]);
                    if was_ready {
                        unavailable += 1;
                    }
                }
            }
        }
        for (node, pods) in &by_node {
            if !wanted.contains(node) {
                for p in pods {
                    delete(ctx, &ds, p);
                }
            }
        }
    }
    write_status(ctx, &ds, &wanted, &hash, generation);
}

fn delete(ctx: &mut Ctx, ds: &Value, pod: &Value) {
    if ctx.delete_pod(pod).is_ok() {
        ctx.event(
            ds,
            false,
            "SuccessfulDelete",
            &format!("Deleted pod: {}", name(pod)),
            COMPONENT,
            None,
            None,
        );
    }
}

fn create(
    ctx: &mut Ctx,
    ds: &Value,
    template: &Value,
    hash: &str,
    generation: i64,
    node: &str,
    host_network: bool,
) {
    let ns = util::namespace(ds).to_string();
    let mut pod = pod_from_template(
        template,
        Some(&format!("{}-", name(ds))),
        None,
        owner_ref(ds, "apps/v1", "DaemonSet"),
    );
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    labels["controller-revision-hash"] = json!(hash);
    labels["pod-template-generation"] = json!(generation.to_string());
    pod["metadata"]["labels"] = labels;
    pod["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    }}});
    let mut tolerations = arr(template, "/spec/tolerations").to_vec();
    for t in default_tolerations(host_network) {
        if !tolerations.contains(&t) {
            tolerations.push(t);
        }
    }
    pod["spec"]["tolerations"] = json!(tolerations);
    match ctx.create(&keys::pods(), &ns, pod) {
        Ok(created) => ctx.event(
            ds,
            false,
            "SuccessfulCreate",
            &format!("Created pod: {}", name(&created)),
            COMPONENT,
            None,
            None,
        ),
        Err(e) => ctx.event(
            ds,
            true,
            "FailedCreate",
            &format!("Error creating: {e}"),
            COMPONENT,
            None,
            None,
        ),
    }
}

fn write_status(ctx: &mut Ctx, ds: &Value, wanted: &[String], hash: &str, generation: i64) {
    let ns = util::namespace(ds).to_string();
    let ds_uid = util::uid(ds).to_string();
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let mine: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| util::controlled_by(p, &ds_uid) && is_active(p))
        .collect();
    let now = ctx.now();
    let min_ready = int(ds, "/spec/minReadySeconds").unwrap_or(0);
    let scheduled = mine
        .iter()
        .filter(|p| {
            let n = sd(p, "/spec/nodeName");
            !n.is_empty() && wanted.iter().any(|w| w == n)
        })
        .count();
    let misscheduled = mine
        .iter()
        .filter(|p| {
            let n = sd(p, "/spec/nodeName");
            !n.is_empty() && !wanted.iter().any(|w| w == n)
        })
        .count();
    let ready = mine.iter().filter(|p| ready_since(p).is_some()).count();
    let available = mine
        .iter()
        .filter(|p| is_available(p, min_ready, now))
        .count();
    let updated = mine
        .iter()
        .filter(|p| {
            sd(p, "/metadata/labels/controller-revision-hash") == hash
                && !sd(p, "/spec/nodeName").is_empty()
        })
        .count();
    let unavailable = wanted.len().saturating_sub(available);
    let _ = ctx.store.modify(&keys::daemonsets(), &ns, name(ds), |o| {
        let mut st = json!({
            "currentNumberScheduled": scheduled,
            "desiredNumberScheduled": wanted.len(),
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "observedGeneration": generation,
        });
        if available > 0 {
            st["numberAvailable"] = json!(available);
        }
        if unavailable > 0 {
            st["numberUnavailable"] = json!(unavailable);
        }
        if updated > 0 {
            st["updatedNumberScheduled"] = json!(updated);
        }
        o["status"] = st;
        Ok(())
    });
}
