//! Namespaces: the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap in every
//! namespace (the serviceaccount and root-ca-cert-publisher controllers), and namespace
//! deletion (the namespace controller): delete everything inside, wait for finalizers, then
//! remove the `kubernetes` finalizer so that the namespace goes away.

use super::manager::Ctx;
use super::util::{arr, is_deleting, keys, name, sd, set_condition};
use crate::admission::base64_encode;
use crate::resources::ResourceKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The cluster's (fake, deterministic) CA certificate.
pub(crate) fn ca_bundle() -> String {
    let mut der = Vec::new();
    for i in 0..12 {
        der.extend_from_slice(super::util::hex_digest(&format!("kind-ca-{i}")).as_bytes());
    }
    let body = base64_encode(&der[..720]);
    let mut pem = String::from(
        "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIJ0nmGZ1v4VswDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE\n",
    );
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Reconciles one namespace.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str) {
    let Ok(obj) = ctx.store.get(&keys::namespaces(), "", ns) else {
        return;
    };
    if is_deleting(&obj) {
        finalize(ctx, &obj);
        return;
    }
    if ctx
        .store
        .get_arc(&keys::serviceaccounts(), ns, "default")
        .is_err()
    {
        let _ = ctx.create(
            &keys::serviceaccounts(),
            ns,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        );
    }
    if ctx
        .store
        .get_arc(&keys::configmaps(), ns, "kube-root-ca.crt")
        .is_err()
    {
        let _ = ctx.create(
            &keys::configmaps(),
            ns,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {
                    "name": "kube-root-ca.crt",
                    "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."},
                },
                "data": {"ca.crt": ca_bundle()},
            }),
        );
    }
}

/// Deletes the content of a terminating namespace and finalizes it when empty.
fn finalize(ctx: &mut Ctx, ns_obj: &Value) {
    let ns = name(ns_obj).to_string();
    let types: Vec<(ResourceKey, bool)> = ctx
        .store
        .catalogue()
        .types()
        .iter()
        .filter(|t| t.namespaced && t.verbs.iter().any(|v| v == "delete"))
        .map(|t| (t.key(), t.plural == "events"))
        .collect();
    let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_keys = std::collections::BTreeSet::new();
    for (key, is_event) in &types {
        if !seen_keys.insert(key.clone()) || *is_event {
            continue;
        }
        let (items, _) = ctx.store.list(key, Some(&ns));
        for item in items {
            let plural = if key.group.is_empty() {
                key.plural.clone()
            } else {
                format!("{}.{}", key.plural, key.group)
            };
            *remaining.entry(plural).or_default() += 1;
            for f in arr(&item, "/metadata/finalizers") {
                if let Some(f) = f.as_str() {
                    *finalizers.entry(f.to_string()).or_default() += 1;
                }
            }
            if is_deleting(&item) {
                continue;
            }
            if key.group.is_empty() && key.plural == "pods" {
                let _ = ctx.delete_pod(&item);
            } else {
                let _ = ctx.store.delete(key, &ns, name(&item), None, None, None);
            }
        }
    }
    // Recount after the deletes (objects without finalizers went at once).
    remaining.clear();
    for (key, is_event) in &types {
        if *is_event {
            continue;
        }
        let (items, _) = ctx.store.list(key, Some(&ns));
        if !items.is_empty() {
            let plural = if key.group.is_empty() {
                key.plural.clone()
            } else {
                format!("{}.{}", key.plural, key.group)
            };
            *remaining.entry(plural).or_default() += items.len();
        }
    }
    let now = ctx.now_str();
    let (content, content_reason, content_msg) = if remaining.is_empty() {
        (
            "False",
            "ContentRemoved",
            "All content successfully removed".to_string(),
        )
    } else {
        let kinds: Vec<String> = remaining
            .iter()
            .map(|(k, n)| format!("{k} has {n} resource instances"))
            .collect();
        (
            "True",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", kinds.join(", ")),
        )
    };
    let (fin, fin_reason, fin_msg) = if finalizers.is_empty() || remaining.is_empty() {
        (
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        )
    } else {
        let list: Vec<String> = finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        (
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                list.join(", ")
            ),
        )
    };
    let conditions = [
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        ),
        (
            "NamespaceContentRemaining",
            content,
            content_reason,
            content_msg,
        ),
        ("NamespaceFinalizersRemaining", fin, fin_reason, fin_msg),
    ];
    let done = remaining.is_empty();
    let _ = ctx.store.modify(&keys::namespaces(), "", &ns, |o| {
        let mut conds: Vec<Value> = arr(o, "/status/conditions").to_vec();
        for (ty, status, reason, message) in &conditions {
            set_condition(
                &mut conds,
                json!({"type": ty, "status": status, "reason": reason, "message": message}),
                &now,
            );
        }
        if !o.get("status").is_some_and(Value::is_object) {
            o["status"] = json!({});
        }
        o["status"]["conditions"] = json!(conds);
        o["status"]["phase"] = json!("Terminating");
        Ok(())
    });
    if !done {
        return;
    }
    // Events go last, then the finalizer.
    let (events, _) = ctx.store.list(&keys::events(), Some(&ns));
    for e in events {
        let _ = ctx
            .store
            .remove(&keys::events(), &ns, sd(&e, "/metadata/name"));
    }
    let _ = ctx.store.modify(&keys::namespaces(), "", &ns, |o| {
        if let Some(f) = o
            .pointer_mut("/spec/finalizers")
            .and_then(Value::as_array_mut)
        {
            f.retain(|x| x != "kubernetes");
        }
        Ok(())
    });
}
