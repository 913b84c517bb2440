//! The ReplicaSet controller: keeps `spec.replicas` pods matching the template, adopts and
//! releases pods by selector, and reports replicas, ready and available counts.

use super::manager::{Ctx, Work};
use super::util::{
    self, arr, controlled_by, controller_ref, int, is_deleting, keys, name, owner_ref, parse_time,
    sd,
};
use crate::resources::ResourceKey;
use crate::selector::LabelSelector;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;

/// A pod built from a template, as controllers create them.
pub(crate) fn pod_from_template(
    template: &Value,
    generate_name: Option<&str>,
    name: Option<&str>,
    owner: Value,
) -> Value {
    let mut meta = json!({"ownerReferences": [owner]});
    if let Some(g) = generate_name {
        meta["generateName"] = json!(g);
    }
    if let Some(n) = name {
        meta["name"] = json!(n);
    }
    if let Some(l) = template.pointer("/metadata/labels") {
        meta["labels"] = l.clone();
    }
    if let Some(a) = template.pointer("/metadata/annotations") {
        meta["annotations"] = a.clone();
    }
    if let Some(f) = template.pointer("/metadata/finalizers") {
        meta["finalizers"] = f.clone();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

/// Whether a pod counts as active (not finished, not being deleted).
pub(crate) fn is_active(pod: &Value) -> bool {
    !is_deleting(pod) && !matches!(sd(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// When the pod's Ready condition turned true, if it is ready.
pub(crate) fn ready_since(pod: &Value) -> Option<Timestamp> {
    arr(pod, "/status/conditions")
        .iter()
        .find(|c| sd(c, "/type") == "Ready" && sd(c, "/status") == "True")
        .map(|c| parse_time(c.get("lastTransitionTime")).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Whether the pod has been ready for `min_ready` seconds at `now`.
pub(crate) fn is_available(pod: &Value, min_ready: i64, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready <= 0 => true,
        Some(t) => t
            .checked_add(SignedDuration::from_secs(min_ready))
            .is_ok_and(|a| a <= now),
    }
}

/// Adopts orphans that match and releases owned pods that no longer match; returns the
/// pods the owner controls.
pub(crate) fn claim_pods(
    ctx: &mut Ctx,
    owner: &Value,
    api_version: &str,
    kind: &str,
    selector: &LabelSelector,
) -> Vec<Arc<Value>> {
    let ns = util::namespace(owner).to_string();
    let owner_uid = util::uid(owner).to_string();
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let mut owned = Vec::new();
    for p in pods {
        let mine = controlled_by(&p, &owner_uid);
        let matches = selector.matches_object(&p);
        if mine && !matches && !is_deleting(owner) {
            // Release.
            let _ = ctx.store.modify(&keys::pods(), &ns, name(&p), |o| {
                if let Some(refs) = o
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| sd(r, "/uid") != owner_uid);
                }
                Ok(())
            });
            continue;
        }
        if mine {
            owned.push(p);
            continue;
        }
        if matches && controller_ref(&p).is_none() && !is_deleting(&p) && !is_deleting(owner) {
            let reference = owner_ref(owner, api_version, kind);
            let adopted = ctx.store.modify(&keys::pods(), &ns, name(&p), |o| {
                let meta = util::obj_mut(o, "metadata");
                let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
                if let Some(r) = refs.as_array_mut() {
                    r.push(reference.clone());
                }
                Ok(())
            });
            if let Ok(a) = adopted {
                owned.push(Arc::new(a));
            }
        }
    }
    owned
}

/// Orders pods so that the ones to delete first come first (the real `ActivePods` ranking).
pub(crate) fn deletion_order(pods: &mut [Arc<Value>]) {
    fn phase_rank(p: &Value) -> u8 {
        match sd(p, "/status/phase") {
            "Pending" => 0,
            "Unknown" => 1,
            "Running" => 2,
            _ => 3,
        }
    }
    pods.sort_by(|a, b| {
        let assigned = |p: &Value| !sd(p, "/spec/nodeName").is_empty();
        let ready = |p: &Value| ready_since(p).is_some();
        let restarts = |p: &Value| -> i64 {
            arr(p, "/status/containerStatuses")
                .iter()
                .map(|c| int(c, "/restartCount").unwrap_or(0))
                .max()
                .unwrap_or(0)
        };
        assigned(a)
            .cmp(&assigned(b))
            .then(phase_rank(a).cmp(&phase_rank(b)))
            .then(ready(a).cmp(&ready(b)))
            // Ready for a shorter time first.
            .then(ready_since(b).cmp(&ready_since(a)))
            // More restarts first.
            .then(restarts(b).cmp(&restarts(a)))
            // Newer first.
            .then(sd(b, "/metadata/creationTimestamp").cmp(sd(a, "/metadata/creationTimestamp")))
            .then(name(b).cmp(name(a)))
    });
}

fn replicasets() -> ResourceKey {
    keys::replicasets()
}

/// Reconciles one ReplicaSet.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, rs_name: &str) {
    let Ok(rs) = ctx.store.get(&replicasets(), ns, rs_name) else {
        return;
    };
    let Ok(selector) = LabelSelector::from_object(rs.pointer("/spec/selector")) else {
        return;
    };
    let mut owned = claim_pods(ctx, &rs, "apps/v1", "ReplicaSet", &selector);
    let now = ctx.now();
    let want = int(&rs, "/spec/replicas").unwrap_or(1).max(0);
    let mut failure: Option<String> = None;
    if !is_deleting(&rs) {
        let active: Vec<Arc<Value>> = owned.iter().filter(|p| is_active(p)).cloned().collect();
        let diff = active.len() as i64 - want;
        if diff < 0 {
            let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
            for _ in 0..(-diff).min(500) {
                let pod = pod_from_template(
                    &template,
                    Some(&format!("{rs_name}-")),
                    None,
                    owner_ref(&rs, "apps/v1", "ReplicaSet"),
                );
                match ctx.create(&keys::pods(), ns, pod) {
                    Ok(created) => {
                        ctx.event(
                            &rs,
                            false,
                            "SuccessfulCreate",
                            &format!("Created pod: {}", name(&created)),
                            "replicaset-controller",
                            None,
                            None,
                        );
                        owned.push(Arc::new(created));
                    }
                    Err(e) => {
                        let msg = format!("Error creating: {e}");
                        ctx.event(
                            &rs,
                            true,
                            "FailedCreate",
                            &msg,
                            "replicaset-controller",
                            None,
                            None,
                        );
                        failure = Some(e);
                        break;
                    }
                }
            }
        } else if diff > 0 {
            let mut victims = active.clone();
            deletion_order(&mut victims);
            for p in victims.iter().take(diff as usize) {
                if ctx.delete_pod(p).is_ok() {
                    ctx.event(
                        &rs,
                        false,
                        "SuccessfulDelete",
                        &format!("Deleted pod: {}", name(p)),
                        "replicaset-controller",
                        None,
                        None,
                    );
                }
            }
        }
    }
    // Status from the pods as they are now.
    let (pods, _) = ctx.store.list(&keys::pods(), Some(ns));
    let uid = util::uid(&rs).to_string();
    let mine: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| controlled_by(p, &uid) && is_active(p))
        .collect();
    let min_ready = int(&rs, "/spec/minReadySeconds").unwrap_or(0);
    let template_labels = rs
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let fully = mine
        .iter()
        .filter(|p| {
            template_labels
                .iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let ready = mine.iter().filter(|p| ready_since(p).is_some()).count();
    let available = mine
        .iter()
        .filter(|p| is_available(p, min_ready, now))
        .count();
    // Wake up when a ready pod becomes available.
    if min_ready > 0 {
        for p in &mine {
            if let Some(t) = ready_since(p)
                && let Ok(at) = t.checked_add(SignedDuration::from_secs(min_ready))
                && at > now
            {
                ctx.enqueue_at(Work::ReplicaSet(ns.to_string(), rs_name.to_string()), at);
            }
        }
    }
    let generation = int(&rs, "/metadata/generation").unwrap_or(1);
    let now_str = ctx.now_str();
    let _ = ctx.store.modify(&replicasets(), ns, rs_name, |o| {
        let mut status = json!({"replicas": mine.len(), "observedGeneration": generation});
        if fully > 0 {
            status["fullyLabeledReplicas"] = json!(fully);
        }
        if ready > 0 {
            status["readyReplicas"] = json!(ready);
        }
        if available > 0 {
            status["availableReplicas"] = json!(available);
        }
        let mut conds: Vec<Value> = arr(o, "/status/conditions").to_vec();
        match &failure {
            Some(msg) => {
                let reason = "FailedCreate";
                util::set_condition(
                    &mut conds,
                    json!({"type": "ReplicaFailure", "status": "True", "reason": reason, "message": msg}),
                    &now_str,
                );
            }
            None => conds.retain(|c| sd(c, "/type") != "ReplicaFailure"),
        }
        if !conds.is_empty() {
            status["conditions"] = json!(conds);
        }
        o["status"] = status;
        Ok(())
    });
}
