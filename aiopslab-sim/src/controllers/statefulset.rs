//! The StatefulSet controller: pods `<set>-0 .. <set>-(n-1)` created in order (OrderedReady)
//! or together (Parallel), their PersistentVolumeClaims from `volumeClaimTemplates`, scale
//! down from the highest ordinal, rolling updates from the highest ordinal down to the
//! partition, ControllerRevisions, and the status `kubectl rollout status` reads.

use super::manager::Ctx;
use super::replicaset::{claim_pods, is_active, is_available, pod_from_template, ready_since};
use super::util::{self, arr, int, is_deleting, keys, name, owner_ref, s, sd, template_hash};
use crate::selector::LabelSelector;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const COMPONENT: &str = "statefulset-controller";

/// Ensures a ControllerRevision for `template` exists and is the owner's newest; returns its
/// name.
///
/// As the real StatefulSet and DaemonSet controllers do, a template equal to an older revision
/// (after `kubectl rollout undo`) reuses that revision and gives it the next revision number,
/// so that `kubectl rollout history` lists it last.
pub(crate) fn ensure_revision(
    ctx: &mut Ctx,
    owner: &Value,
    kind: &str,
    template: &Value,
) -> String {
    let ns = util::namespace(owner).to_string();
    let hash = template_hash(template, None);
    let rev_name = format!("{}-{hash}", name(owner));
    let (revs, _) = ctx.store.list(&keys::controllerrevisions(), Some(&ns));
    let owner_uid = util::uid(owner).to_string();
    let max = revs
        .iter()
        .filter(|r| util::controlled_by(r, &owner_uid))
        .filter_map(|r| int(r, "/revision"))
        .max()
        .unwrap_or(0);
    if let Some(existing) = revs.iter().find(|r| name(r) == rev_name) {
        if int(existing, "/revision").is_some_and(|r| r < max) {
            let _ = ctx
                .store
                .modify(&keys::controllerrevisions(), &ns, &rev_name, |r| {
                    r["revision"] = json!(max + 1);
                    Ok(())
                });
        }
        return rev_name;
    }
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    labels["controller.kubernetes.io/hash"] = json!(hash);
    let rev = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": rev_name,
            "labels": labels,
            "ownerReferences": [owner_ref(owner, "apps/v1", kind)],
        },
        "data": revision_data(template),
        "revision": max + 1,
    });
    let _ = ctx.create(&keys::controllerrevisions(), &ns, rev);
    rev_name
}

/// The `data` of a ControllerRevision: `{"spec":{"template":{...,"$patch":"replace"}}}`, the
/// strategic merge patch `kubectl rollout undo` sends back. It is laid out as kubectl's own
/// rendering of the object's template (Go's typed encoding: `metadata.creationTimestamp: null`,
/// keys sorted), because kubectl compares the two byte for byte to report a rollback to the
/// current template as skipped.
pub(crate) fn revision_data(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(map) = template.as_object_mut() {
        let meta = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.entry("creationTimestamp").or_insert(Value::Null);
        }
        map.insert("$patch".into(), json!("replace"));
    }
    sorted_keys(json!({"spec": {"template": template}}))
}

/// `value` with the keys of every object in byte order, as Go encodes a map.
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

fn ordinal(set: &str, pod: &str) -> Option<i64> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

fn running_and_ready(pod: &Value) -> bool {
    sd(pod, "/status/phase") == "Running" && ready_since(pod).is_some() && !is_deleting(pod)
}

/// Reconciles one StatefulSet.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, set_name: &str) {
    let Ok(set) = ctx.store.get(&keys::statefulsets(), ns, set_name) else {
        return;
    };
    let Ok(selector) = LabelSelector::from_object(set.pointer("/spec/selector")) else {
        return;
    };
    let owned = claim_pods(ctx, &set, "apps/v1", "StatefulSet", &selector);
    let template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let update_revision = ensure_revision(ctx, &set, "StatefulSet", &template);
    let replicas = int(&set, "/spec/replicas").unwrap_or(1).max(0);
    let parallel = sd(&set, "/spec/podManagementPolicy") == "Parallel";
    let mut by_ordinal: BTreeMap<i64, Arc<Value>> = BTreeMap::new();
    for p in &owned {
        if let Some(o) = ordinal(set_name, name(p)) {
            by_ordinal.insert(o, p.clone());
        }
    }
    if !is_deleting(&set) {
        sync_pods(
            ctx,
            &set,
            &template,
            &update_revision,
            replicas,
            parallel,
            &by_ordinal,
        );
    }
    write_status(ctx, &set, &update_revision);
}

#[allow(clippy::too_many_arguments)]
fn sync_pods(
    ctx: &mut Ctx,
    set: &Value,
    template: &Value,
    update_revision: &str,
    replicas: i64,
    parallel: bool,
    pods: &BTreeMap<i64, Arc<Value>>,
) {
    let set_name = name(set).to_string();
    let any_terminating = pods.values().any(|p| is_deleting(p));
    for ord in 0..replicas {
        match pods.get(&ord) {
            None => {
                if !parallel
                    && (any_terminating
                        || (0..ord).any(|o| pods.get(&o).is_none_or(|p| !running_and_ready(p))))
                {
                    return;
                }
                create_pod(ctx, set, template, update_revision, ord);
                if !parallel {
                    return;
                }
            }
            Some(p)
                if matches!(sd(p, "/status/phase"), "Failed" | "Succeeded") && !is_deleting(p) =>
            {
                if ctx.delete_pod(p).is_ok() {
                    ctx.event(
                        set,
                        false,
                        "SuccessfulDelete",
                        &format!(
                            "delete Pod {} in StatefulSet {set_name} successful",
                            name(p)
                        ),
                        COMPONENT,
                        None,
                        None,
                    );
                }
                if !parallel {
                    return;
                }
            }
            Some(p) if !parallel && !running_and_ready(p) => return,
            Some(_) => {}
        }
    }
    // Scale down from the highest ordinal.
    let extra: Vec<&Arc<Value>> = pods
        .iter()
        .rev()
        .filter(|(o, p)| **o >= replicas && !is_deleting(p))
        .map(|(_, p)| p)
        .collect();
    if !extra.is_empty() {
        if !parallel && any_terminating {
            return;
        }
        for p in extra {
            if ctx.delete_pod(p).is_ok() {
                ctx.event(
                    set,
                    false,
                    "SuccessfulDelete",
                    &format!(
                        "delete Pod {} in StatefulSet {set_name} successful",
                        name(p)
                    ),
                    COMPONENT,
                    None,
                    None,
                );
            }
            if !parallel {
                return;
            }
        }
    }
    // Rolling update, highest ordinal first, down to the partition.
    if sd(set, "/spec/updateStrategy/type") == "OnDelete" || any_terminating {
        return;
    }
    let all_ready = (0..replicas).all(|o| pods.get(&o).is_some_and(|p| running_and_ready(p)));
    if !all_ready {
        return;
    }
    let partition = int(set, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    for ord in (partition..replicas).rev() {
        if let Some(p) = pods.get(&ord)
            && sd(p, "/metadata/labels/controller-revision-hash") != update_revision
        {
            if ctx.delete_pod(p).is_ok() {
                ctx.event(
                    set,
                    false,
                    "SuccessfulDelete",
                    &format!(
                        "delete Pod {} in StatefulSet {set_name} successful",
                        name(p)
                    ),
                    COMPONENT,
                    None,
                    None,
                );
            }
            return;
        }
    }
}

fn create_pod(ctx: &mut Ctx, set: &Value, template: &Value, revision: &str, ord: i64) {
    let ns = util::namespace(set).to_string();
    let set_name = name(set).to_string();
    let pod_name = format!("{set_name}-{ord}");
    let retain_delete = sd(
        set,
        "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted",
    ) == "Delete";
    let match_labels = set
        .pointer("/spec/selector/matchLabels")
        .cloned()
        .unwrap_or(json!({}));
    let mut claim_volumes = Vec::new();
    for t in arr(set, "/spec/volumeClaimTemplates") {
        let tname = sd(t, "/metadata/name");
        let claim = format!("{tname}-{pod_name}");
        claim_volumes.push(json!({"name": tname, "persistentVolumeClaim": {"claimName": claim}}));
        if ctx.store.get_arc(&keys::pvcs(), &ns, &claim).is_ok() {
            continue;
        }
        let mut meta = json!({"name": claim, "labels": match_labels});
        if retain_delete {
            meta["ownerReferences"] = json!([owner_ref(set, "apps/v1", "StatefulSet")]);
        }
        let pvc = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta,
            "spec": t.get("spec").cloned().unwrap_or(json!({})),
        });
        match ctx.create(&keys::pvcs(), &ns, pvc) {
            Ok(_) => ctx.event(
                set,
                false,
                "SuccessfulCreate",
                &format!("create Claim {claim} Pod {pod_name} in StatefulSet {set_name} success"),
                COMPONENT,
                None,
                None,
            ),
            Err(e) => {
                ctx.event(
                    set,
                    true,
                    "FailedCreate",
                    &format!("create Claim {claim} for Pod {pod_name} in StatefulSet {set_name} failed error: {e}"),
                    COMPONENT,
                    None,
                    None,
                );
                return;
            }
        }
    }
    let mut pod = pod_from_template(
        template,
        None,
        Some(&pod_name),
        owner_ref(set, "apps/v1", "StatefulSet"),
    );
    let mut l = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    l["controller-revision-hash"] = json!(revision);
    l["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
    l["apps.kubernetes.io/pod-index"] = json!(ord.to_string());
    pod["metadata"]["labels"] = l;
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(svc) = s(set, "/spec/serviceName").filter(|s| !s.is_empty()) {
        pod["spec"]["subdomain"] = json!(svc);
    }
    if !claim_volumes.is_empty() {
        let mut vols: Vec<Value> = arr(&pod, "/spec/volumes")
            .iter()
            .filter(|v| !claim_volumes.iter().any(|c| c["name"] == v["name"]))
            .cloned()
            .collect();
        vols.extend(claim_volumes);
        pod["spec"]["volumes"] = json!(vols);
    }
    match ctx.create(&keys::pods(), &ns, pod) {
        Ok(_) => ctx.event(
            set,
            false,
            "SuccessfulCreate",
            &format!("create Pod {pod_name} in StatefulSet {set_name} successful"),
            COMPONENT,
            None,
            None,
        ),
        Err(e) => ctx.event(
            set,
            true,
            "FailedCreate",
            &format!("create Pod {pod_name} in StatefulSet {set_name} failed error: {e}"),
            COMPONENT,
            None,
            None,
        ),
    }
}

fn write_status(ctx: &mut Ctx, set: &Value, update_revision: &str) {
    let ns = util::namespace(set).to_string();
    let set_uid = util::uid(set).to_string();
    let (pods, _) = ctx.store.list(&keys::pods(), Some(&ns));
    let mine: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| util::controlled_by(p, &set_uid) && is_active(p))
        .collect();
    let now = ctx.now();
    let min_ready = int(set, "/spec/minReadySeconds").unwrap_or(0);
    let ready = mine.iter().filter(|p| ready_since(p).is_some()).count();
    let available = mine
        .iter()
        .filter(|p| is_available(p, min_ready, now))
        .count();
    let updated = mine
        .iter()
        .filter(|p| sd(p, "/metadata/labels/controller-revision-hash") == update_revision)
        .count();
    let replicas = int(set, "/spec/replicas").unwrap_or(1);
    let old_current = s(set, "/status/currentRevision")
        .unwrap_or(update_revision)
        .to_string();
    let current_revision = if updated as i64 == replicas && mine.len() as i64 == replicas {
        update_revision.to_string()
    } else {
        old_current
    };
    let current = mine
        .iter()
        .filter(|p| sd(p, "/metadata/labels/controller-revision-hash") == current_revision)
        .count();
    let generation = int(set, "/metadata/generation").unwrap_or(1);
    let _ = ctx
        .store
        .modify(&keys::statefulsets(), &ns, name(set), |o| {
            let mut st = json!({
                "observedGeneration": generation,
                "replicas": mine.len(),
                "currentRevision": current_revision,
                "updateRevision": update_revision,
                "collisionCount": 0,
                "availableReplicas": available,
            });
            if ready > 0 {
                st["readyReplicas"] = json!(ready);
            }
            if current > 0 {
                st["currentReplicas"] = json!(current);
            }
            if updated > 0 {
                st["updatedReplicas"] = json!(updated);
            }
            o["status"] = st;
            Ok(())
        });
}
