//! The Deployment controller: ReplicaSets named `<deployment>-<pod-template-hash>`, rolling
//! updates within maxSurge / maxUnavailable, Recreate, revisions (so that `kubectl rollout
//! history` and `undo` work), pause, history cleanup, and the status and conditions that
//! `kubectl rollout status` reads.

use super::manager::{Ctx, Work};
use super::util::{
    self, arr, controlled_by, controller_ref, fmt_time, int, int_or_percent, is_deleting, keys,
    name, owner_ref, parse_time, sd, template_hash,
};
use crate::selector::LabelSelector;
use jiff::SignedDuration;
use serde_json::{Map, Value, json};

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH: &str = "pod-template-hash";
const COMPONENT: &str = "deployment-controller";

/// Annotations a ReplicaSet does not inherit from its Deployment.
const SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

fn annotation(obj: &Value, key: &str) -> Option<String> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn revision(rs: &Value) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(rs: &Value) -> i64 {
    int(rs, "/spec/replicas").unwrap_or(0)
}

fn status_int(rs: &Value, field: &str) -> i64 {
    int(rs, &format!("/status/{field}")).unwrap_or(0)
}

/// The template without the `pod-template-hash` label.
fn strip_hash(template: &Value) -> Value {
    let mut t = util::without_nulls(template);
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH);
    }
    t
}

/// (maxSurge, maxUnavailable) resolved against the desired replicas.
fn fenceposts(d: &Value, desired: i64) -> (i64, i64) {
    if sd(d, "/spec/strategy/type") == "Recreate" {
        return (0, 0);
    }
    let surge = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        desired,
        true,
        0,
    );
    let mut unavailable = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        desired,
        false,
        0,
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn max_unavailable(d: &Value, desired: i64) -> i64 {
    if sd(d, "/spec/strategy/type") == "Recreate" || desired == 0 {
        return 0;
    }
    fenceposts(d, desired).1.min(desired)
}

/// `SetDeploymentCondition`: same status and reason leaves it alone; otherwise the condition
/// is replaced (moving to the end), keeping the transition time when the status is unchanged.
fn set_condition(
    conds: &mut Vec<Value>,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) {
    let current = conds.iter().find(|c| sd(c, "/type") == ty).cloned();
    if let Some(c) = &current
        && sd(c, "/status") == status
        && sd(c, "/reason") == reason
    {
        return;
    }
    let transition = match &current {
        Some(c) if sd(c, "/status") == status => {
            c.get("lastTransitionTime").cloned().unwrap_or(json!(now))
        }
        _ => json!(now),
    };
    conds.retain(|c| sd(c, "/type") != ty);
    conds.push(json!({
        "lastTransitionTime": transition,
        "lastUpdateTime": now,
        "message": message,
        "reason": reason,
        "status": status,
        "type": ty,
    }));
}

struct Sync<'a> {
    ctx: &'a mut Ctx,
    d: Value,
    ns: String,
    name: String,
}

impl Sync<'_> {
    fn event(&mut self, warning: bool, reason: &str, message: &str) {
        let d = self.d.clone();
        self.ctx
            .event(&d, warning, reason, message, COMPONENT, None, None);
    }

    /// Scales a ReplicaSet and records `ScalingReplicaSet`.
    fn scale(&mut self, rs: &mut Value, to: i64) {
        let from = replicas(rs);
        let desired = replicas(&self.d);
        let (surge, _) = fenceposts(&self.d, desired);
        let updated = self
            .ctx
            .store
            .modify(&keys::replicasets(), &self.ns, name(rs), |o| {
                o["spec"]["replicas"] = json!(to);
                let meta = util::obj_mut(o, "metadata");
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(a) = ann.as_object_mut() {
                    a.insert(DESIRED.into(), json!(desired.to_string()));
                    a.insert(MAX_REPLICAS.into(), json!((desired + surge).to_string()));
                }
                Ok(())
            });
        if let Ok(u) = updated {
            *rs = u;
        }
        if from != to {
            let direction = if to > from { "up" } else { "down" };
            let msg = format!(
                "Scaled {direction} replica set {} from {from} to {to}",
                name(rs)
            );
            self.event(false, "ScalingReplicaSet", &msg);
        }
    }
}

/// Reconciles one Deployment.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, dname: &str) {
    let Ok(d) = ctx.store.get(&keys::deployments(), ns, dname) else {
        return;
    };
    let Ok(selector) = LabelSelector::from_object(d.pointer("/spec/selector")) else {
        return;
    };
    if selector.is_empty() {
        return;
    }
    let mut sync = Sync {
        ctx,
        d,
        ns: ns.to_string(),
        name: dname.to_string(),
    };
    let mut rss = claim_replicasets(&mut sync, &selector);
    if is_deleting(&sync.d) {
        write_status(&mut sync, &rss, None);
        return;
    }
    let paused = sync.d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let template = strip_hash(sync.d.pointer("/spec/template").unwrap_or(&Value::Null));
    let new_index = rss.iter().position(|rs| {
        strip_hash(rs.pointer("/spec/template").unwrap_or(&Value::Null)) == template
    });
    let desired = replicas(&sync.d);
    if paused {
        // Scale only; no rollout.
        let active = new_index.or_else(|| {
            rss.iter()
                .enumerate()
                .filter(|(_, r)| replicas(r) > 0)
                .max_by_key(|(_, r)| revision(r))
                .map(|(i, _)| i)
        });
        if let Some(i) = active {
            let others: i64 = rss
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, r)| replicas(r))
                .sum();
            if others == 0 && replicas(&rss[i]) != desired {
                let mut rs = rss[i].clone();
                sync.scale(&mut rs, desired);
                rss[i] = rs;
            }
        }
        let new_rs = new_index.map(|i| rss[i].clone());
        write_status(&mut sync, &rss, new_rs.as_ref());
        return;
    }
    let recreate = sd(&sync.d, "/spec/strategy/type") == "Recreate";
    let new_index = if recreate {
        recreate_rollout(&mut sync, &mut rss, new_index)
    } else {
        rolling_rollout(&mut sync, &mut rss, new_index)
    };
    let new_rs = new_index.map(|i| rss[i].clone());
    write_status(&mut sync, &rss, new_rs.as_ref());
    cleanup(&mut sync, &rss, new_index);
}

/// Adopts orphan ReplicaSets that match, releases owned ones that do not; returns the owned.
fn claim_replicasets(sync: &mut Sync<'_>, selector: &LabelSelector) -> Vec<Value> {
    let uid = util::uid(&sync.d).to_string();
    let (all, _) = sync.ctx.store.list(&keys::replicasets(), Some(&sync.ns));
    let mut owned = Vec::new();
    for rs in all {
        let mine = controlled_by(&rs, &uid);
        let matches = selector.matches_object(&rs);
        if mine && matches {
            owned.push((*rs).clone());
        } else if mine && !is_deleting(&sync.d) {
            let _ = sync
                .ctx
                .store
                .modify(&keys::replicasets(), &sync.ns, name(&rs), |o| {
                    if let Some(refs) = o
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| sd(r, "/uid") != uid);
                    }
                    Ok(())
                });
        } else if matches
            && controller_ref(&rs).is_none()
            && !is_deleting(&rs)
            && !is_deleting(&sync.d)
        {
            let reference = owner_ref(&sync.d, "apps/v1", "Deployment");
            if let Ok(a) = sync
                .ctx
                .store
                .modify(&keys::replicasets(), &sync.ns, name(&rs), |o| {
                    let meta = util::obj_mut(o, "metadata");
                    let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
                    if let Some(r) = refs.as_array_mut() {
                        r.push(reference.clone());
                    }
                    Ok(())
                })
            {
                owned.push(a);
            }
        }
    }
    owned.sort_by(|a, b| {
        sd(a, "/metadata/creationTimestamp")
            .cmp(sd(b, "/metadata/creationTimestamp"))
            .then(name(a).cmp(name(b)))
    });
    owned
}

fn max_old_revision(rss: &[Value], except: Option<usize>) -> i64 {
    rss.iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .map(|(_, r)| revision(r))
        .max()
        .unwrap_or(0)
}

fn deployment_annotations(d: &Value) -> Map<String, Value> {
    d.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !SKIPPED_ANNOTATIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Finds or creates the ReplicaSet of the current template; returns its index.
fn ensure_new_rs(
    sync: &mut Sync<'_>,
    rss: &mut Vec<Value>,
    existing: Option<usize>,
    initial: i64,
) -> Option<usize> {
    let desired = replicas(&sync.d);
    let (surge, _) = fenceposts(&sync.d, desired);
    let now = sync.ctx.now_str();
    if let Some(i) = existing {
        // Bring its annotations up to date (a rollback gives an old ReplicaSet a new revision).
        let max_old = max_old_revision(rss, Some(i));
        let own = revision(&rss[i]);
        let inherited = deployment_annotations(&sync.d);
        let new_revision = if own <= max_old { max_old + 1 } else { own };
        let rs_name = name(&rss[i]).to_string();
        if let Ok(u) = sync
            .ctx
            .store
            .modify(&keys::replicasets(), &sync.ns, &rs_name, |o| {
                let meta = util::obj_mut(o, "metadata");
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(a) = ann.as_object_mut() {
                    for (k, v) in &inherited {
                        a.insert(k.clone(), v.clone());
                    }
                    if new_revision != own {
                        if own > 0 {
                            let history = a
                                .get(REVISION_HISTORY)
                                .and_then(Value::as_str)
                                .map(|h| format!("{h},{own}"))
                                .unwrap_or_else(|| own.to_string());
                            a.insert(REVISION_HISTORY.into(), json!(history));
                        }
                        a.insert(REVISION.into(), json!(new_revision.to_string()));
                    }
                    a.entry(DESIRED.to_string())
                        .or_insert(json!(desired.to_string()));
                    a.entry(MAX_REPLICAS.to_string())
                        .or_insert(json!((desired + surge).to_string()));
                }
                Ok(())
            })
        {
            rss[i] = u;
        }
        set_deployment_revision(sync, new_revision);
        let has_progressing = arr(&sync.d, "/status/conditions")
            .iter()
            .any(|c| sd(c, "/type") == "Progressing");
        if !has_progressing {
            let msg = format!("Found new replica set {:?}", rs_name);
            update_conditions(sync, |conds| {
                set_condition(
                    conds,
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    &msg,
                    &now,
                )
            });
        }
        return Some(i);
    }
    // Create it.
    let template = strip_hash(sync.d.pointer("/spec/template").unwrap_or(&Value::Null));
    let mut collisions = int(&sync.d, "/status/collisionCount").unwrap_or(0);
    let new_revision = max_old_revision(rss, None) + 1;
    for _ in 0..10 {
        let hash = template_hash(&template, Some(collisions));
        let rs_name = format!("{}-{hash}", sync.name);
        let mut tmpl = template.clone();
        let meta = util::obj_mut(&mut tmpl, "metadata");
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        labels[HASH] = json!(hash);
        let mut rs_labels = tmpl
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        rs_labels[HASH] = json!(hash);
        let mut selector = sync
            .d
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or(json!({}));
        let ml = util::obj_mut(&mut selector, "matchLabels");
        ml.insert(HASH.into(), json!(hash));
        let mut annotations = deployment_annotations(&sync.d);
        annotations.insert(DESIRED.into(), json!(desired.to_string()));
        annotations.insert(MAX_REPLICAS.into(), json!((desired + surge).to_string()));
        annotations.insert(REVISION.into(), json!(new_revision.to_string()));
        let mut spec = json!({"replicas": initial, "selector": selector, "template": tmpl});
        if let Some(m) = sync.d.pointer("/spec/minReadySeconds") {
            spec["minReadySeconds"] = m.clone();
        }
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "labels": rs_labels,
                "annotations": annotations,
                "ownerReferences": [owner_ref(&sync.d, "apps/v1", "Deployment")],
            },
            "spec": spec,
        });
        match sync.ctx.create(&keys::replicasets(), &sync.ns, rs) {
            Ok(created) => {
                if initial > 0 {
                    let msg = format!("Scaled up replica set {rs_name} from 0 to {initial}");
                    sync.event(false, "ScalingReplicaSet", &msg);
                }
                set_deployment_revision(sync, new_revision);
                let msg = format!("Created new replica set {rs_name:?}");
                update_conditions(sync, |conds| {
                    set_condition(
                        conds,
                        "Progressing",
                        "True",
                        "NewReplicaSetCreated",
                        &msg,
                        &now,
                    )
                });
                rss.push(created);
                return Some(rss.len() - 1);
            }
            Err(e) if e.contains("already exists") => {
                // A ReplicaSet of that name with another template: a hash collision.
                collisions += 1;
                let c = collisions;
                let _ = sync
                    .ctx
                    .store
                    .modify(&keys::deployments(), &sync.ns, &sync.name, |o| {
                        util::obj_mut(o, "status").insert("collisionCount".into(), json!(c));
                        Ok(())
                    });
            }
            Err(e) => {
                let msg = format!("Failed to create new replica set {rs_name:?}: {e}");
                sync.event(true, "FailedCreate", &msg);
                update_conditions(sync, |conds| {
                    set_condition(
                        conds,
                        "ReplicaFailure",
                        "True",
                        "FailedRSCreate",
                        &msg,
                        &now,
                    )
                });
                return None;
            }
        }
    }
    None
}

fn set_deployment_revision(sync: &mut Sync<'_>, revision: i64) {
    if annotation(&sync.d, REVISION).as_deref() == Some(revision.to_string().as_str()) {
        return;
    }
    if let Ok(u) = sync
        .ctx
        .store
        .modify(&keys::deployments(), &sync.ns, &sync.name, |o| {
            let meta = util::obj_mut(o, "metadata");
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(a) = ann.as_object_mut() {
                a.insert(REVISION.into(), json!(revision.to_string()));
            }
            Ok(())
        })
    {
        sync.d = u;
    }
}

fn update_conditions(sync: &mut Sync<'_>, f: impl FnOnce(&mut Vec<Value>)) {
    let mut conds: Vec<Value> = arr(&sync.d, "/status/conditions").to_vec();
    f(&mut conds);
    if let Ok(u) = sync
        .ctx
        .store
        .modify(&keys::deployments(), &sync.ns, &sync.name, |o| {
            util::obj_mut(o, "status").insert("conditions".into(), json!(conds));
            Ok(())
        })
    {
        sync.d = u;
    }
}

#[allow(clippy::needless_range_loop)]
/// The rolling update: scale the new ReplicaSet up within maxSurge and the old ones down
/// within maxUnavailable.
fn rolling_rollout(
    sync: &mut Sync<'_>,
    rss: &mut Vec<Value>,
    existing: Option<usize>,
) -> Option<usize> {
    let desired = replicas(&sync.d);
    let (surge, _) = fenceposts(&sync.d, desired);
    let new_index = match existing {
        Some(i) => ensure_new_rs(sync, rss, Some(i), 0),
        None => {
            let current: i64 = rss.iter().map(replicas).sum();
            let max_total = desired + surge;
            let initial = if current >= max_total {
                0
            } else {
                (max_total - current).min(desired)
            };
            ensure_new_rs(sync, rss, None, initial)
        }
    }?;
    // Scale up the new one.
    let new_replicas = replicas(&rss[new_index]);
    if new_replicas > desired {
        let mut rs = rss[new_index].clone();
        sync.scale(&mut rs, desired);
        rss[new_index] = rs;
    } else if new_replicas < desired {
        let current: i64 = rss.iter().map(replicas).sum();
        let max_total = desired + surge;
        if current < max_total {
            let up = (max_total - current).min(desired - new_replicas);
            let mut rs = rss[new_index].clone();
            sync.scale(&mut rs, new_replicas + up);
            rss[new_index] = rs;
        }
    }
    // Scale down the old ones.
    let old_total: i64 = rss
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != new_index)
        .map(|(_, r)| replicas(r))
        .sum();
    if old_total == 0 {
        return Some(new_index);
    }
    let all: i64 = rss.iter().map(replicas).sum();
    let min_available = desired - max_unavailable(&sync.d, desired);
    let new_unavailable =
        replicas(&rss[new_index]) - status_int(&rss[new_index], "availableReplicas");
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Some(new_index);
    }
    // First the unhealthy replicas of old ReplicaSets.
    let mut cleaned = 0;
    for i in 0..rss.len() {
        if i == new_index || replicas(&rss[i]) == 0 || cleaned >= max_scaled_down {
            continue;
        }
        let unhealthy = replicas(&rss[i]) - status_int(&rss[i], "availableReplicas");
        if unhealthy <= 0 {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(unhealthy);
        let target = replicas(&rss[i]) - down;
        let mut rs = rss[i].clone();
        sync.scale(&mut rs, target);
        rss[i] = rs;
        cleaned += down;
    }
    // Then available ones, keeping minAvailable.
    let available: i64 = rss.iter().map(|r| status_int(r, "availableReplicas")).sum();
    if available <= min_available {
        return Some(new_index);
    }
    let total_down = available - min_available;
    let mut done = 0;
    for i in 0..rss.len() {
        if i == new_index || done >= total_down || replicas(&rss[i]) == 0 {
            continue;
        }
        let down = replicas(&rss[i]).min(total_down - done);
        let target = replicas(&rss[i]) - down;
        let mut rs = rss[i].clone();
        sync.scale(&mut rs, target);
        rss[i] = rs;
        done += down;
    }
    Some(new_index)
}

#[allow(clippy::needless_range_loop)]
/// Recreate: old ReplicaSets to zero, wait for their pods to go, then the new one.
fn recreate_rollout(
    sync: &mut Sync<'_>,
    rss: &mut Vec<Value>,
    existing: Option<usize>,
) -> Option<usize> {
    let mut scaled_down = false;
    for i in 0..rss.len() {
        if Some(i) == existing || replicas(&rss[i]) == 0 {
            continue;
        }
        let mut rs = rss[i].clone();
        sync.scale(&mut rs, 0);
        rss[i] = rs;
        scaled_down = true;
    }
    if scaled_down {
        return existing;
    }
    // Old pods must be gone before the new ones start.
    let (pods, _) = sync.ctx.store.list(&keys::pods(), Some(&sync.ns));
    let old_uids: Vec<String> = rss
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != existing)
        .map(|(_, r)| util::uid(r).to_string())
        .collect();
    let old_running = pods.iter().any(|p| {
        old_uids.iter().any(|u| controlled_by(p, u))
            && !matches!(sd(p, "/status/phase"), "Succeeded" | "Failed")
    });
    if old_running {
        return existing;
    }
    let desired = replicas(&sync.d);
    let index = ensure_new_rs(sync, rss, existing, desired)?;
    if replicas(&rss[index]) != desired {
        let mut rs = rss[index].clone();
        sync.scale(&mut rs, desired);
        rss[index] = rs;
    }
    Some(index)
}

/// Computes and writes the status, with the Available and Progressing conditions.
fn write_status(sync: &mut Sync<'_>, rss: &[Value], new_rs: Option<&Value>) {
    let desired = replicas(&sync.d);
    let available: i64 = rss.iter().map(|r| status_int(r, "availableReplicas")).sum();
    let total_spec: i64 = rss.iter().map(replicas).sum();
    let actual: i64 = rss.iter().map(|r| status_int(r, "replicas")).sum();
    let ready: i64 = rss.iter().map(|r| status_int(r, "readyReplicas")).sum();
    let updated = new_rs.map(|r| status_int(r, "replicas")).unwrap_or(0);
    let unavailable = (total_spec - available).max(0);
    let generation = int(&sync.d, "/metadata/generation").unwrap_or(1);
    let now = sync.ctx.now();
    let now_str = fmt_time(now);
    let old = sync.d.get("status").cloned().unwrap_or(json!({}));
    let mut conds: Vec<Value> = arr(&old, "/conditions").to_vec();
    if available >= desired - max_unavailable(&sync.d, desired) {
        set_condition(
            &mut conds,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &now_str,
        );
    } else {
        set_condition(
            &mut conds,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now_str,
        );
    }
    let paused = sync.d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let progressing = conds
        .iter()
        .find(|c| sd(c, "/type") == "Progressing")
        .cloned();
    if paused {
        set_condition(
            &mut conds,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            &now_str,
        );
    } else if progressing
        .as_ref()
        .is_some_and(|c| sd(c, "/reason") == "DeploymentPaused")
    {
        set_condition(
            &mut conds,
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
            &now_str,
        );
    } else {
        let complete_already = actual == updated
            && progressing
                .as_ref()
                .is_some_and(|c| sd(c, "/reason") == "NewReplicaSetAvailable");
        let deadline = int(&sync.d, "/spec/progressDeadlineSeconds");
        if deadline.is_some() && !complete_already {
            let rs_name = new_rs.map(name).unwrap_or_default().to_string();
            let complete = updated == desired
                && actual == desired
                && available == desired
                && generation >= int(&sync.d, "/metadata/generation").unwrap_or(1);
            let old_old = status_int(&sync.d, "replicas") - status_int(&sync.d, "updatedReplicas");
            let progressed = updated > status_int(&sync.d, "updatedReplicas")
                || (actual - updated) < old_old
                || ready > status_int(&sync.d, "readyReplicas")
                || available > status_int(&sync.d, "availableReplicas");
            if complete {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet {rs_name:?} has successfully progressed."),
                    &now_str,
                );
            } else if progressed && new_rs.is_some() {
                let transition = progressing
                    .as_ref()
                    .filter(|c| sd(c, "/status") == "True")
                    .and_then(|c| c.get("lastTransitionTime").cloned())
                    .unwrap_or(json!(now_str));
                conds.retain(|c| sd(c, "/type") != "Progressing");
                conds.push(json!({
                    "lastTransitionTime": transition,
                    "lastUpdateTime": now_str,
                    "message": format!("ReplicaSet {rs_name:?} is progressing."),
                    "reason": "ReplicaSetUpdated",
                    "status": "True",
                    "type": "Progressing",
                }));
            } else if let (Some(c), Some(secs)) = (&progressing, deadline)
                && sd(c, "/reason") != "NewReplicaSetAvailable"
                && sd(c, "/reason") != "ProgressDeadlineExceeded"
                && let Some(last) = parse_time(c.get("lastUpdateTime"))
                && let Ok(limit) = last.checked_add(SignedDuration::from_secs(secs))
            {
                if limit < now {
                    set_condition(
                        &mut conds,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet {rs_name:?} has timed out progressing."),
                        &now_str,
                    );
                } else {
                    let at = limit
                        .checked_add(SignedDuration::from_secs(1))
                        .unwrap_or(limit);
                    sync.ctx
                        .enqueue_at(Work::Deployment(sync.ns.clone(), sync.name.clone()), at);
                }
            }
        }
    }
    let mut status = json!({"observedGeneration": generation, "replicas": actual});
    if updated > 0 {
        status["updatedReplicas"] = json!(updated);
    }
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
    }
    if available > 0 {
        status["availableReplicas"] = json!(available);
    }
    if unavailable > 0 {
        status["unavailableReplicas"] = json!(unavailable);
    }
    if let Some(c) = old.get("collisionCount") {
        status["collisionCount"] = c.clone();
    }
    if !conds.is_empty() {
        status["conditions"] = json!(conds);
    }
    if let Ok(u) = sync
        .ctx
        .store
        .modify(&keys::deployments(), &sync.ns, &sync.name, |o| {
            o["status"] = status.clone();
            Ok(())
        })
    {
        sync.d = u;
    }
}

/// Deletes old, empty ReplicaSets beyond `revisionHistoryLimit` once the rollout is complete.
fn cleanup(sync: &mut Sync<'_>, rss: &[Value], new_index: Option<usize>) {
    let limit = int(&sync.d, "/spec/revisionHistoryLimit").unwrap_or(10);
    let complete = arr(&sync.d, "/status/conditions")
        .iter()
        .any(|c| sd(c, "/type") == "Progressing" && sd(c, "/reason") == "NewReplicaSetAvailable");
    if !complete {
        return;
    }
    let mut cleanable: Vec<&Value> = rss
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            Some(*i) != new_index
                && replicas(r) == 0
                && status_int(r, "replicas") == 0
                && !is_deleting(r)
        })
        .map(|(_, r)| r)
        .collect();
    if cleanable.len() as i64 <= limit {
        return;
    }
    cleanable.sort_by_key(|r| revision(r));
    let extra = cleanable.len() - limit.max(0) as usize;
    for r in cleanable.into_iter().take(extra) {
        let _ = sync
            .ctx
            .store
            .delete(&keys::replicasets(), &sync.ns, name(r), None, None, None);
    }
}
