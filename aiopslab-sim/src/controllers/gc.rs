//! The garbage collector: dependents of a removed owner are deleted (background propagation);
//! an owner marked with the `foregroundDeletion` finalizer waits for its dependents to go; an
//! owner marked with `orphan` releases its dependents first. Also the pod GC for pods left on
//! a node that no longer exists.

use super::manager::Ctx;
use super::util::{arr, is_deleting, keys, name, namespace, sd, uid};
use crate::resources::ResourceKey;
use serde_json::{Value, json};
use std::sync::Arc;

/// Every stored collection a dependent may live in (namespaced ones in `ns`, or all when the
/// owner is cluster-scoped), except events.
fn dependents_of(ctx: &Ctx, owner_uid: &str, ns: &str) -> Vec<(ResourceKey, Arc<Value>)> {
    let types: Vec<(ResourceKey, bool)> = ctx
        .store
        .catalogue()
        .types()
        .iter()
        .filter(|t| t.plural != "events" && t.verbs.iter().any(|v| v == "delete"))
        .map(|t| (t.key(), t.namespaced))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (key, namespaced) in types {
        if !seen.insert(key.clone()) {
            continue;
        }
        let scope = if namespaced && !ns.is_empty() {
            Some(ns)
        } else {
            None
        };
        let (items, _) = ctx.store.list(&key, scope);
        for item in items {
            if arr(&item, "/metadata/ownerReferences")
                .iter()
                .any(|r| sd(r, "/uid") == owner_uid)
            {
                out.push((key.clone(), item));
            }
        }
    }
    out
}

/// Whether an owner reference points at an object that still exists.
fn owner_exists(ctx: &Ctx, dependent_ns: &str, r: &Value) -> bool {
    let found = ctx
        .store
        .catalogue()
        .by_kind(sd(r, "/apiVersion"), sd(r, "/kind"))
        .map(|t| (t.key(), t.namespaced));
    let Some((key, namespaced)) = found else {
        return false;
    };
    let ns = if namespaced { dependent_ns } else { "" };
    ctx.store
        .get_arc(&key, ns, sd(r, "/name"))
        .is_ok_and(|o| uid(&o) == sd(r, "/uid"))
}

fn delete_dependent(ctx: &mut Ctx, key: &ResourceKey, obj: &Value, foreground: bool) {
    if is_deleting(obj) {
        return;
    }
    if foreground {
        let has_dependents = !dependents_of(ctx, uid(obj), namespace(obj)).is_empty();
        if has_dependents {
            let _ = ctx.store.modify(key, namespace(obj), name(obj), |o| {
                let meta = super::util::obj_mut(o, "metadata");
                let fins = meta.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(f) = fins.as_array_mut()
                    && !f.iter().any(|x| x == "foregroundDeletion")
                {
                    f.push(json!("foregroundDeletion"));
                }
                Ok(())
            });
        }
    }
    if key.group.is_empty() && key.plural == "pods" {
        let _ = ctx.delete_pod(obj);
    } else {
        let _ = ctx
            .store
            .delete(key, namespace(obj), name(obj), None, None, None);
    }
}

/// The owner with this uid is gone: delete dependents that have no other live owner, and drop
/// the dangling reference from the others.
pub(crate) fn collect_orphans(ctx: &mut Ctx, owner_uid: &str, ns: &str) {
    for (key, dep) in dependents_of(ctx, owner_uid, ns) {
        let dep_ns = namespace(&dep).to_string();
        let others: Vec<Value> = arr(&dep, "/metadata/ownerReferences")
            .iter()
            .filter(|r| sd(r, "/uid") != owner_uid)
            .cloned()
            .collect();
        let live_others = others.iter().any(|r| owner_exists(ctx, &dep_ns, r));
        if live_others {
            let _ = ctx.store.modify(&key, &dep_ns, name(&dep), |o| {
                o["metadata"]["ownerReferences"] = json!(others);
                Ok(())
            });
        } else {
            delete_dependent(ctx, &key, &dep, false);
        }
    }
}

/// Handles the `orphan` and `foregroundDeletion` finalizers of an object being deleted.
pub(crate) fn finalize(ctx: &mut Ctx, key: &ResourceKey, ns: &str, obj_name: &str) {
    let Ok(obj) = ctx.store.get(key, ns, obj_name) else {
        return;
    };
    if !is_deleting(&obj) {
        return;
    }
    let fins: Vec<String> = arr(&obj, "/metadata/finalizers")
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    let owner_uid = uid(&obj).to_string();
    let dep_ns = if ctx
        .store
        .catalogue()
        .by_key(key)
        .is_some_and(|t| t.namespaced)
    {
        ns.to_string()
    } else {
        String::new()
    };
    if fins.iter().any(|f| f == "orphan") {
        for (dkey, dep) in dependents_of(ctx, &owner_uid, &dep_ns) {
            let _ = ctx.store.modify(&dkey, namespace(&dep), name(&dep), |o| {
                if let Some(refs) = o
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| sd(r, "/uid") != owner_uid);
                }
                Ok(())
            });
        }
        remove_finalizer(ctx, key, ns, obj_name, "orphan");
        return;
    }
    if fins.iter().any(|f| f == "foregroundDeletion") {
        let deps = dependents_of(ctx, &owner_uid, &dep_ns);
        if deps.is_empty() {
            remove_finalizer(ctx, key, ns, obj_name, "foregroundDeletion");
            return;
        }
        for (dkey, dep) in deps {
            delete_dependent(ctx, &dkey, &dep, true);
        }
    }
}

fn remove_finalizer(ctx: &mut Ctx, key: &ResourceKey, ns: &str, obj_name: &str, finalizer: &str) {
    let _ = ctx.store.modify(key, ns, obj_name, |o| {
        if let Some(f) = o
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            f.retain(|x| x != finalizer);
        }
        Ok(())
    });
}

/// Pods bound to a node that was removed are deleted at once (the pod GC).
pub(crate) fn node_gone(ctx: &mut Ctx, node: &str) {
    if ctx.store.get_arc(&keys::nodes(), "", node).is_ok() {
        return;
    }
    let (pods, _) = ctx.store.list(&keys::pods(), None);
    for p in pods.iter().filter(|p| sd(p, "/spec/nodeName") == node) {
        let _ = ctx.store.remove(&keys::pods(), namespace(p), name(p));
    }
}
