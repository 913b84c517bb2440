//! The scheduler: filters nodes as kube-scheduler's default plugins do (unschedulable nodes,
//! taints and tolerations, node selector and required node affinity, host ports, resource fit,
//! volume node affinity), scores the feasible ones (least allocated, spreading replicas of the
//! same owner), binds, and reports failures with kube-scheduler's wording:
//! `0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`

use super::manager::{Ctx, Work};
use super::util::{arr, bytes, cpu_millis, fmt_time, int, is_deleting, keys, name, s, sd};
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Whether a failure can be fixed by preempting pods (resources, ports) or not (taints,
/// affinity, unschedulable nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resolvable,
    Unresolvable,
}

/// Requested CPU (millicores) and memory (bytes) of a pod.
pub(crate) fn pod_requests(pod: &Value) -> (i64, i64) {
    let sum = |list: &str| -> (i64, i64) {
        arr(pod, list).iter().fold((0, 0), |(c, m), ctr| {
            (
                c + ctr
                    .pointer("/resources/requests/cpu")
                    .map(cpu_millis)
                    .unwrap_or(0),
                m + ctr
                    .pointer("/resources/requests/memory")
                    .map(bytes)
                    .unwrap_or(0),
            )
        })
    };
    let (mut cpu, mut mem) = sum("/spec/containers");
    for ctr in arr(pod, "/spec/initContainers") {
        cpu = cpu.max(
            ctr.pointer("/resources/requests/cpu")
                .map(cpu_millis)
                .unwrap_or(0),
        );
        mem = mem.max(
            ctr.pointer("/resources/requests/memory")
                .map(bytes)
                .unwrap_or(0),
        );
    }
    if let Some(o) = pod.pointer("/spec/overhead") {
        cpu += o.get("cpu").map(cpu_millis).unwrap_or(0);
        mem += o.get("memory").map(bytes).unwrap_or(0);
    }
    (cpu, mem)
}

fn tolerates(tolerations: &[Value], taint: &Value) -> bool {
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

fn expr_matches(expr: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = arr(expr, "/values")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match sd(expr, "/operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if sd(expr, "/operator") == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// nodeSelector and required node affinity.
pub(crate) fn matches_node(pod: &Value, node: &Value) -> bool {
    let label = |k: &str| {
        node.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    if let Some(sel) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object) {
        for (k, v) in sel {
            if label(k) != v.as_str() {
                return false;
            }
        }
    }
    let terms = arr(
        pod,
        "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    );
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|term| {
        let exprs = arr(term, "/matchExpressions");
        let fields = arr(term, "/matchFields");
        if exprs.is_empty() && fields.is_empty() {
            return false;
        }
        exprs.iter().all(|e| expr_matches(e, label(sd(e, "/key"))))
            && fields.iter().all(|f| {
                let v = match sd(f, "/key") {
                    "metadata.name" => Some(name(node)),
                    _ => None,
                };
                expr_matches(f, v)
            })
    })
}

fn host_ports(pod: &Value) -> Vec<(i64, String)> {
    arr(pod, "/spec/containers")
        .iter()
        .flat_map(|c| arr(c, "/ports").iter())
        .filter_map(|p| {
            let hp = int(p, "/hostPort")?;
            (hp > 0).then(|| (hp, s(p, "/protocol").unwrap_or("TCP").to_string()))
        })
        .collect()
}

/// What is already placed on each node.
struct NodeLoad {
    cpu: i64,
    mem: i64,
    pods: i64,
    ports: Vec<(i64, String)>,
    owners: BTreeMap<String, i64>,
}

fn owner_uid(pod: &Value) -> Option<String> {
    super::util::controller_ref(pod).map(|r| sd(r, "/uid").to_string())
}

fn loads(all_pods: &[Arc<Value>]) -> BTreeMap<String, NodeLoad> {
    let mut out: BTreeMap<String, NodeLoad> = BTreeMap::new();
    for p in all_pods {
        let node = sd(p, "/spec/nodeName");
        if node.is_empty() || matches!(sd(p, "/status/phase"), "Succeeded" | "Failed") {
            continue;
        }
        let load = out.entry(node.to_string()).or_insert(NodeLoad {
            cpu: 0,
            mem: 0,
            pods: 0,
            ports: vec![],
            owners: BTreeMap::new(),
        });
        let (c, m) = pod_requests(p);
        load.cpu += c;
        load.mem += m;
        load.pods += 1;
        load.ports.extend(host_ports(p));
        if let Some(o) = owner_uid(p) {
            *load.owners.entry(o).or_default() += 1;
        }
    }
    out
}

/// Scheduler state kept between attempts.
#[derive(Default)]
pub(crate) struct SchedulerState {
    /// The last FailedScheduling message and when it was recorded, per pod.
    last_failure: BTreeMap<(String, String), (String, jiff::Timestamp)>,
}

/// Tries to place one pod.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, pod_name: &str) {
    let key = (ns.to_string(), pod_name.to_string());
    let Ok(pod) = ctx.store.get(&keys::pods(), ns, pod_name) else {
        ctx.unschedulable.remove(&key);
        ctx.scheduler.last_failure.remove(&key);
        return;
    };
    if !sd(&pod, "/spec/nodeName").is_empty() || is_deleting(&pod) {
        ctx.unschedulable.remove(&key);
        ctx.scheduler.last_failure.remove(&key);
        return;
    }
    if s(&pod, "/spec/schedulerName").unwrap_or("default-scheduler") != "default-scheduler" {
        return;
    }
    let now = ctx.now();
    let now_str = fmt_time(now);
    if !arr(&pod, "/spec/schedulingGates").is_empty() {
        set_scheduled(
            ctx,
            &pod,
            "False",
            Some("SchedulingGated"),
            Some("Scheduling is blocked due to non-empty scheduling gates"),
            &now_str,
        );
        return;
    }
    let (nodes, _) = ctx.store.list(&keys::nodes(), None);
    let n = nodes.len();
    // Pre-filter: the pod's claims.
    let mut prefilter: Option<String> = None;
    let mut unbound_wffc: Vec<String> = Vec::new();
    let mut volume_affinity: Vec<Value> = Vec::new();
    for v in arr(&pod, "/spec/volumes") {
        let claim = sd(v, "/persistentVolumeClaim/claimName");
        if claim.is_empty() {
            continue;
        }
        match ctx.store.get_arc(&keys::pvcs(), ns, claim) {
            Err(_) => {
                prefilter = Some(format!("persistentvolumeclaim {claim:?} not found"));
                break;
            }
            Ok(pvc) if is_deleting(&pvc) => {
                prefilter = Some(format!("persistentvolumeclaim {claim:?} is being deleted"));
                break;
            }
            Ok(pvc) => {
                let volume = sd(&pvc, "/spec/volumeName");
                if !volume.is_empty() {
                    if let Ok(pv) = ctx.store.get_arc(&keys::pvs(), "", volume)
                        && let Some(a) = pv.pointer("/spec/nodeAffinity")
                    {
                        volume_affinity.push(a.clone());
                    }
                    continue;
                }
                let class = sd(&pvc, "/spec/storageClassName");
                let wffc = ctx
                    .store
                    .get_arc(&keys::storageclasses(), "", class)
                    .is_ok_and(|c| sd(&c, "/volumeBindingMode") == "WaitForFirstConsumer");
                if wffc {
                    unbound_wffc.push(claim.to_string());
                } else {
                    prefilter = Some("pod has unbound immediate PersistentVolumeClaims".into());
                    break;
                }
            }
        }
    }
    let message = if n == 0 {
        Some("no nodes available to schedule pods".to_string())
    } else {
        prefilter.map(|pf| {
            format!(
                "0/{n} nodes are available: {pf}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
            )
        })
    };
    let (all_pods, _) = ctx.store.list(&keys::pods(), None);
    let loads = loads(&all_pods);
    let tolerations = arr(&pod, "/spec/tolerations").to_vec();
    let (want_cpu, want_mem) = pod_requests(&pod);
    let my_ports = host_ports(&pod);
    let my_owner = owner_uid(&pod);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut preempt: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Option<(i64, String)> = None;
    if message.is_none() {
        for node in &nodes {
            let node_name = name(node).to_string();
            let mut fails: Vec<(String, Kind)> = Vec::new();
            let unschedulable =
                node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
            let taints = arr(node, "/spec/taints");
            if unschedulable
                && !tolerates(
                    &tolerations,
                    &json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
                )
            {
                fails.push(("node(s) were unschedulable".into(), Kind::Unresolvable));
            } else if let Some(t) = taints.iter().find(|t| {
                matches!(sd(t, "/effect"), "NoSchedule" | "NoExecute")
                    && !tolerates(&tolerations, t)
            }) {
                fails.push((
                    format!(
                        "node(s) had untolerated taint {{{}: {}}}",
                        sd(t, "/key"),
                        sd(t, "/value")
                    ),
                    Kind::Unresolvable,
                ));
            } else if !matches_node(&pod, node) {
                fails.push((
                    "node(s) didn't match Pod's node affinity/selector".into(),
                    Kind::Unresolvable,
                ));
            } else {
                let load = loads.get(&node_name);
                let used_ports = load.map(|l| l.ports.clone()).unwrap_or_default();
                if my_ports.iter().any(|p| used_ports.contains(p)) {
                    fails.push((
                        "node(s) didn't have free ports for the requested pod ports".into(),
                        Kind::Resolvable,
                    ));
                } else {
                    let alloc = |r: &str| node.pointer(&format!("/status/allocatable/{r}"));
                    let cap_cpu = alloc("cpu").map(cpu_millis).unwrap_or(0);
                    let cap_mem = alloc("memory").map(bytes).unwrap_or(0);
                    let cap_pods = alloc("pods")
                        .map(|q| super::util::parse_quantity(q).unwrap_or(110.0) as i64)
                        .unwrap_or(110);
                    let (used_cpu, used_mem, used_pods) =
                        load.map(|l| (l.cpu, l.mem, l.pods)).unwrap_or((0, 0, 0));
                    if used_pods + 1 > cap_pods {
                        fails.push(("Too many pods".into(), Kind::Resolvable));
                    }
                    if want_cpu > 0 && used_cpu + want_cpu > cap_cpu {
                        fails.push(("Insufficient cpu".into(), Kind::Resolvable));
                    }
                    if want_mem > 0 && used_mem + want_mem > cap_mem {
                        fails.push(("Insufficient memory".into(), Kind::Resolvable));
                    }
                    if fails.is_empty()
                        && !volume_affinity.iter().all(|a| {
                            let fake = json!({"spec": {"affinity": {"nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": a.get("required").cloned().unwrap_or(json!({}))
                            }}}});
                            matches_node(&fake, node)
                        })
                    {
                        fails.push((
                            "node(s) had volume node affinity conflict".into(),
                            Kind::Unresolvable,
                        ));
                    }
                    if fails.is_empty() {
                        // Score: least allocated, then spreading of the same owner.
                        let free = |cap: i64, used: i64, want: i64| -> i64 {
                            if cap <= 0 {
                                0
                            } else {
                                ((cap - used - want).max(0) * 100) / cap
                            }
                        };
                        let mut score = (free(cap_cpu, used_cpu, want_cpu)
                            + free(cap_mem, used_mem, want_mem))
                            / 2;
                        if let (Some(o), Some(l)) = (&my_owner, load) {
                            score -= 20 * l.owners.get(o).copied().unwrap_or(0);
                        }
                        if best.as_ref().is_none_or(|(b, _)| score > *b) {
                            best = Some((score, node_name.clone()));
                        }
                    }
                }
            }
            let worst = fails.iter().any(|(_, k)| *k == Kind::Unresolvable);
            for (reason, _) in &fails {
                *reasons.entry(reason.clone()).or_default() += 1;
            }
            if !fails.is_empty() {
                let key = if worst {
                    "Preemption is not helpful for scheduling"
                } else {
                    "No preemption victims found for incoming pod"
                };
                *preempt.entry(key).or_default() += 1;
            }
        }
    }
    if let Some((_, node)) = best.filter(|_| message.is_none()) {
        bind(ctx, &pod, &node, &unbound_wffc, &now_str);
        return;
    }
    let message = message.unwrap_or_else(|| {
        let mut parts: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
        parts.sort();
        let mut p: Vec<String> = preempt.iter().map(|(r, c)| format!("{c} {r}")).collect();
        p.sort();
        format!(
            "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {}.",
            parts.join(", "),
            p.join(", ")
        )
    });
    ctx.unschedulable.insert(key.clone());
    let emit = match ctx.scheduler.last_failure.get(&key) {
        Some((m, at)) => {
            m != &message
                || at
                    .checked_add(ctx.scaled(SignedDuration::from_mins(5)))
                    .is_ok_and(|t| t <= now)
        }
        None => true,
    };
    if emit {
        ctx.event(
            &pod,
            true,
            "FailedScheduling",
            &message,
            "default-scheduler",
            None,
            None,
        );
        ctx.scheduler
            .last_failure
            .insert(key.clone(), (message.clone(), now));
    }
    set_scheduled(
        ctx,
        &pod,
        "False",
        Some("Unschedulable"),
        Some(&message),
        &now_str,
    );
    // Unschedulable pods are retried at least every five minutes.
    let retry = ctx.after(SignedDuration::from_mins(5));
    ctx.enqueue_at(Work::Schedule(ns.to_string(), pod_name.to_string()), retry);
}

fn set_scheduled(
    ctx: &mut Ctx,
    pod: &Value,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: &str,
) {
    let mut cond = json!({"lastProbeTime": null, "status": status, "type": "PodScheduled"});
    if let Some(r) = reason {
        cond["reason"] = json!(r);
    }
    if let Some(m) = message {
        cond["message"] = json!(m);
    }
    let uid = super::util::uid(pod).to_string();
    let _ = ctx
        .store
        .modify(&keys::pods(), super::util::namespace(pod), name(pod), |o| {
            if super::util::uid(o) != uid {
                return Ok(());
            }
            let mut conds: Vec<Value> = arr(o, "/status/conditions").to_vec();
            super::util::set_condition(&mut conds, cond.clone(), now);
            let status = super::util::obj_mut(o, "status");
            status.insert("conditions".into(), json!(conds));
            status
                .entry("phase".to_string())
                .or_insert(json!("Pending"));
            Ok(())
        });
}

fn bind(ctx: &mut Ctx, pod: &Value, node: &str, claims: &[String], now: &str) {
    let ns = super::util::namespace(pod).to_string();
    for claim in claims {
        let _ = ctx.store.modify(&keys::pvcs(), &ns, claim, |o| {
            let meta = super::util::obj_mut(o, "metadata");
            let ann = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(a) = ann.as_object_mut() {
                a.insert("volume.kubernetes.io/selected-node".into(), json!(node));
            }
            Ok(())
        });
    }
    let uid = super::util::uid(pod).to_string();
    let bound = ctx.store.modify(&keys::pods(), &ns, name(pod), |o| {
        if super::util::uid(o) != uid || !sd(o, "/spec/nodeName").is_empty() {
            return Ok(());
        }
        o["spec"]["nodeName"] = json!(node);
        let mut conds: Vec<Value> = arr(o, "/status/conditions")
            .iter()
            .filter(|c| sd(c, "/type") != "PodScheduled")
            .cloned()
            .collect();
        conds.push(json!({"lastProbeTime": null, "lastTransitionTime": now, "status": "True", "type": "PodScheduled"}));
        let status = super::util::obj_mut(o, "status");
        status.insert("conditions".into(), json!(conds));
        status
            .entry("phase".to_string())
            .or_insert(json!("Pending"));
        Ok(())
    });
    if bound.is_ok() {
        let key = (ns.clone(), name(pod).to_string());
        ctx.unschedulable.remove(&key);
        ctx.scheduler.last_failure.remove(&key);
        ctx.event(
            pod,
            false,
            "Scheduled",
            &format!("Successfully assigned {ns}/{} to {node}", name(pod)),
            "default-scheduler",
            None,
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_match_taints() {
        let taint = json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"});
        assert!(!tolerates(&[], &taint));
        assert!(tolerates(&[json!({"operator": "Exists"})], &taint));
        assert!(tolerates(
            &[json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})],
            &taint
        ));
        assert!(!tolerates(
            &[json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoExecute"})],
            &taint
        ));
    }

    #[test]
    fn affinity_terms() {
        let node =
            json!({"metadata": {"name": "kind-worker", "labels": {"disk": "ssd", "zone": "3"}}});
        let pod = |aff: Value| json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": aff}}}}});
        assert!(matches_node(
            &pod(
                json!([{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}])
            ),
            &node
        ));
        assert!(!matches_node(
            &pod(
                json!([{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}])
            ),
            &node
        ));
        assert!(matches_node(
            &pod(
                json!([{"matchExpressions": [{"key": "zone", "operator": "Gt", "values": ["2"]}]}])
            ),
            &node
        ));
        assert!(matches_node(
            &pod(
                json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["kind-worker"]}]}])
            ),
            &node
        ));
        let sel = json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "extra-node"}}});
        assert!(!matches_node(&sel, &node));
    }
}
