//! PersistentVolumeClaims and PersistentVolumes: static binding by class, size and access
//! modes, dynamic provisioning like kind's local-path provisioner (for WaitForFirstConsumer
//! classes, once the scheduler picked a node), reclaim on release, and the pvc/pv protection
//! finalizers.

use super::manager::{Ctx, uses_claim};
use super::replicaset::is_active;
use super::util::{arr, bytes, is_deleting, keys, name, s, sd, uid};
use serde_json::{Value, json};

const COMPONENT: &str = "persistentvolume-controller";

fn remove_finalizer(
    ctx: &mut Ctx,
    key: &crate::resources::ResourceKey,
    ns: &str,
    n: &str,
    f: &str,
) {
    let _ = ctx.store.modify(key, ns, n, |o| {
        if let Some(list) = o
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            list.retain(|x| x != f);
        }
        Ok(())
    });
}

fn access_ok(pv: &Value, pvc: &Value) -> bool {
    let have: Vec<&str> = arr(pv, "/spec/accessModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    arr(pvc, "/spec/accessModes")
        .iter()
        .filter_map(Value::as_str)
        .all(|m| have.contains(&m))
}

fn bind(ctx: &mut Ctx, pvc: &Value, pv_name: &str) {
    let ns = super::util::namespace(pvc).to_string();
    let claim_ref = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "name": name(pvc), "namespace": ns, "uid": uid(pvc),
        "resourceVersion": sd(pvc, "/metadata/resourceVersion"),
    });
    let Ok(pv) = ctx.store.modify(&keys::pvs(), "", pv_name, |o| {
        o["spec"]["claimRef"] = claim_ref.clone();
        o["status"]["phase"] = json!("Bound");
        Ok(())
    }) else {
        return;
    };
    let _ = ctx.store.modify(&keys::pvcs(), &ns, name(pvc), |o| {
        o["spec"]["volumeName"] = json!(pv_name);
        let meta = super::util::obj_mut(o, "metadata");
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = ann.as_object_mut() {
            a.insert("pv.kubernetes.io/bind-completed".into(), json!("yes"));
            a.insert("pv.kubernetes.io/bound-by-controller".into(), json!("yes"));
        }
        let status = super::util::obj_mut(o, "status");
        status.insert("phase".into(), json!("Bound"));
        status.insert(
            "accessModes".into(),
            pv.pointer("/spec/accessModes")
                .cloned()
                .unwrap_or(json!([])),
        );
        status.insert(
            "capacity".into(),
            pv.pointer("/spec/capacity").cloned().unwrap_or(json!({})),
        );
        Ok(())
    });
}

/// Reconciles one claim.
pub(crate) fn reconcile_claim(ctx: &mut Ctx, ns: &str, claim: &str) {
    let Ok(pvc) = ctx.store.get(&keys::pvcs(), ns, claim) else {
        return;
    };
    if is_deleting(&pvc) {
        let (pods, _) = ctx.store.list(&keys::pods(), Some(ns));
        let in_use = pods.iter().any(|p| {
            uses_claim(p, claim)
                && (is_active(p) || !sd(p, "/spec/nodeName").is_empty())
                && !matches!(sd(p, "/status/phase"), "Succeeded" | "Failed")
        });
        if !in_use {
            remove_finalizer(
                ctx,
                &keys::pvcs(),
                ns,
                claim,
                "kubernetes.io/pvc-protection",
            );
        }
        return;
    }
    if !sd(&pvc, "/spec/volumeName").is_empty() {
        return;
    }
    let class_name = s(&pvc, "/spec/storageClassName").unwrap_or("").to_string();
    let class = if class_name.is_empty() {
        None
    } else {
        ctx.store
            .get_arc(&keys::storageclasses(), "", &class_name)
            .ok()
    };
    let wffc = class
        .as_ref()
        .is_some_and(|c| sd(c, "/volumeBindingMode") == "WaitForFirstConsumer");
    let selected = s(
        &pvc,
        "/metadata/annotations/volume.kubernetes.io~1selected-node",
    )
    .map(str::to_string);
    let wanted = pvc
        .pointer("/spec/resources/requests/storage")
        .map(bytes)
        .unwrap_or(0);
    // Static volumes first.
    let (pvs, _) = ctx.store.list(&keys::pvs(), None);
    let mut candidates: Vec<&std::sync::Arc<Value>> = pvs
        .iter()
        .filter(|pv| {
            !is_deleting(pv)
                && s(pv, "/spec/storageClassName").unwrap_or("") == class_name
                && sd(pv, "/status/phase") != "Released"
                && pv.pointer("/spec/capacity/storage").map(bytes).unwrap_or(0) >= wanted
                && access_ok(pv, &pvc)
                && match pv.pointer("/spec/claimRef") {
                    None | Some(Value::Null) => true,
                    Some(r) => sd(r, "/name") == claim && sd(r, "/namespace") == ns,
                }
        })
        .collect();
    candidates.sort_by_key(|pv| pv.pointer("/spec/capacity/storage").map(bytes).unwrap_or(0));
    if let Some(pv) = candidates.first() {
        if wffc && selected.is_none() {
            wait_for_consumer(ctx, &pvc);
            return;
        }
        let pv_name = name(pv).to_string();
        bind(ctx, &pvc, &pv_name);
        return;
    }
    let Some(class) = class else {
        let msg = if class_name.is_empty() {
            "no persistent volumes available for this claim and no storage class is set".to_string()
        } else {
            format!("storageclass.storage.k8s.io {class_name:?} not found")
        };
        let warning = !class_name.is_empty();
        let reason = if warning {
            "ProvisioningFailed"
        } else {
            "FailedBinding"
        };
        ctx.event(&pvc, warning, reason, &msg, COMPONENT, None, None);
        return;
    };
    let provisioner = sd(&class, "/provisioner").to_string();
    if provisioner.is_empty() || provisioner == "kubernetes.io/no-provisioner" {
        if wffc && selected.is_none() {
            wait_for_consumer(ctx, &pvc);
        } else {
            ctx.event(
                &pvc,
                false,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                COMPONENT,
                None,
                None,
            );
        }
        return;
    }
    let node = match selected {
        Some(n) => n,
        None if wffc => {
            wait_for_consumer(ctx, &pvc);
            return;
        }
        None => {
            let (nodes, _) = ctx.store.list(&keys::nodes(), None);
            match nodes
                .iter()
                .find(|n| arr(n, "/spec/taints").is_empty())
                .or(nodes.first())
            {
                Some(n) => name(n).to_string(),
                None => return,
            }
        }
    };
    provision(ctx, &pvc, &class, &provisioner, &node);
}

fn wait_for_consumer(ctx: &mut Ctx, pvc: &Value) {
    ctx.event(
        pvc,
        false,
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
        COMPONENT,
        None,
        None,
    );
}

fn provision(ctx: &mut Ctx, pvc: &Value, class: &Value, provisioner: &str, node: &str) {
    let ns = super::util::namespace(pvc).to_string();
    let claim = name(pvc).to_string();
    let pv_name = format!("pvc-{}", uid(pvc));
    let updated = ctx.store.modify(&keys::pvcs(), &ns, &claim, |o| {
        let meta = super::util::obj_mut(o, "metadata");
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = ann.as_object_mut() {
            a.insert(
                "volume.beta.kubernetes.io/storage-provisioner".into(),
                json!(provisioner),
            );
            a.insert(
                "volume.kubernetes.io/storage-provisioner".into(),
                json!(provisioner),
            );
        }
        Ok(())
    });
    let pvc = updated.unwrap_or_else(|_| pvc.clone());
    ctx.event(
        &pvc,
        false,
        "ExternalProvisioning",
        &format!(
            "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        ),
        COMPONENT,
        None,
        None,
    );
    let source = format!(
        "{provisioner}_local-path-provisioner_{}",
        &uid(class).get(..8).unwrap_or("")
    );
    ctx.event(
        &pvc,
        false,
        "Provisioning",
        &format!("External provisioner is provisioning volume for claim \"{ns}/{claim}\""),
        &source,
        None,
        None,
    );
    let storage = pvc
        .pointer("/spec/resources/requests/storage")
        .cloned()
        .unwrap_or(json!("1Gi"));
    let pv = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name,
            "annotations": {
                "local.path.provisioner/selected-node": node,
                "pv.kubernetes.io/provisioned-by": provisioner,
            },
        },
        "spec": {
            "accessModes": pvc.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
            "capacity": {"storage": storage},
            "hostPath": {"path": format!("/var/local-path-provisioner/{pv_name}_{ns}_{claim}"), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
            ]}]}},
            "persistentVolumeReclaimPolicy": s(class, "/reclaimPolicy").unwrap_or("Delete"),
            "storageClassName": name(class),
            "volumeMode": s(&pvc, "/spec/volumeMode").unwrap_or("Filesystem"),
        },
    });
    if ctx.create(&keys::pvs(), "", pv).is_ok() {
        ctx.event(
            &pvc,
            false,
            "ProvisioningSucceeded",
            &format!("Successfully provisioned volume {pv_name}"),
            &source,
            None,
            None,
        );
    }
    bind(ctx, &pvc, &pv_name);
}

/// Reconciles one volume: phase, release and reclaim, protection.
pub(crate) fn reconcile_volume(ctx: &mut Ctx, pv_name: &str) {
    let Ok(pv) = ctx.store.get(&keys::pvs(), "", pv_name) else {
        return;
    };
    let claim_ref = pv
        .pointer("/spec/claimRef")
        .filter(|c| !c.is_null())
        .cloned();
    let claim = claim_ref.as_ref().and_then(|r| {
        ctx.store
            .get_arc(&keys::pvcs(), sd(r, "/namespace"), sd(r, "/name"))
            .ok()
            .filter(|c| sd(r, "/uid").is_empty() || uid(c) == sd(r, "/uid"))
    });
    let phase = match (&claim_ref, &claim) {
        (None, _) => "Available",
        (Some(_), Some(c)) if sd(c, "/spec/volumeName") == pv_name => "Bound",
        (Some(r), None) if !sd(r, "/uid").is_empty() => "Released",
        _ => "Available",
    };
    if is_deleting(&pv) {
        if phase != "Bound" {
            remove_finalizer(
                ctx,
                &keys::pvs(),
                "",
                pv_name,
                "kubernetes.io/pv-protection",
            );
        }
        return;
    }
    if sd(&pv, "/status/phase") != phase {
        let _ = ctx.store.modify(&keys::pvs(), "", pv_name, |o| {
            o["status"]["phase"] = json!(phase);
            Ok(())
        });
    }
    if phase == "Released" && sd(&pv, "/spec/persistentVolumeReclaimPolicy") == "Delete" {
        let _ = ctx
            .store
            .delete(&keys::pvs(), "", pv_name, None, None, None);
    }
}
