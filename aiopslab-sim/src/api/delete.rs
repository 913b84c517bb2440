//! `delete` and `deletecollection`, with `DeleteOptions` (grace period, propagation policy,
//! preconditions, dry run) from the body or the query.
//!
//! Propagation: `Foreground` adds the `foregroundDeletion` finalizer and `Orphan` the `orphan`
//! finalizer before marking the object; the garbage collector (a controller) deletes or orphans
//! the dependents and removes the finalizer. `Background` (the default) deletes the object at
//! once and leaves the dependents to the garbage collector. Pods are deleted gracefully
//! (`spec.terminationGracePeriodSeconds`, 30 by default) unless they never ran on a node or
//! have finished; the kubelet removes them.

use super::context::Ctx;
use super::crd;
use super::objects::{list_kind, meta_str, render_object, render_written};
use super::read::{Filters, collect, fetch, object_namespace};
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult, success_status};
use crate::resources::ResourceType;
use axum::response::Response;
use serde_json::{Value, json};

/// What a delete request asks for.
#[derive(Debug, Default, Clone)]
pub(crate) struct DeleteOptions {
    pub grace_seconds: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads the options from the body (a `DeleteOptions` object) and the query.
    pub fn parse(ctx: &Ctx) -> ApiResult<Self> {
        let mut o = DeleteOptions {
            dry_run: ctx.dry_run()?,
            ..Default::default()
        };
        if !ctx.body.iter().all(u8::is_ascii_whitespace) {
            let body: Value = serde_json::from_slice(&ctx.body).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
            })?;
            o.grace_seconds = body.get("gracePeriodSeconds").and_then(Value::as_i64);
            o.propagation = body
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string);
            if o.propagation.is_none() {
                o.propagation = match body.get("orphanDependents").and_then(Value::as_bool) {
                    Some(true) => Some("Orphan".into()),
                    Some(false) => Some("Background".into()),
                    None => None,
                };
            }
            o.precondition_uid = body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.precondition_rv = body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(dr) = body.get("dryRun").and_then(Value::as_array) {
                for v in dr {
                    match v.as_str() {
                        Some("All") => o.dry_run = true,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "Invalid dry run value: {:?}: supported values: \"All\"",
                                other.unwrap_or("")
                            )));
                        }
                    }
                }
            }
        }
        if let Some(g) = ctx
            .query
            .int("gracePeriodSeconds")
            .map_err(ApiError::bad_request)?
        {
            o.grace_seconds = Some(g);
        }
        if let Some(p) = ctx.query.non_empty("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if o.propagation.is_none()
            && let Some(orphan) = ctx.query.non_empty("orphanDependents")
        {
            o.propagation = Some(
                if orphan == "true" {
                    "Orphan"
                } else {
                    "Background"
                }
                .into(),
            );
        }
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                vec![super::status::Cause {
                    reason: "FieldValueNotSupported".into(),
                    message: format!(
                        "Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    ),
                    field: "propagationPolicy".into(),
                }],
            ));
        }
        if o.grace_seconds.is_some_and(|g| g < 0) {
            o.grace_seconds = Some(0);
        }
        Ok(o)
    }
}

/// The grace period a delete of `obj` gets: only pods that may still be running get one.
fn grace_period(rtype: &ResourceType, obj: &Value, asked: Option<i64>) -> i64 {
    if !(rtype.group.is_empty() && rtype.plural == "pods") {
        return 0;
    }
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    let scheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !scheduled || matches!(phase, "Succeeded" | "Failed") {
        return 0;
    }
    asked.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

/// Kinds whose delete answers with the deleted object rather than a `Status`.
fn returns_deleted_object(rtype: &ResourceType) -> bool {
    rtype.group.is_empty() && matches!(rtype.plural.as_str(), "pods" | "services" | "namespaces")
}

/// Deletes one object; returns the object left behind (when kept) and the last state.
pub(crate) fn delete_one(
    ctx: &Ctx,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<(Option<Value>, Value)> {
    let key = rtype.key();
    let current = ctx.store().get_arc(&key, ns, name)?;
    let meta = |f: &str| meta_str(&current, f).map(str::to_string);
    if opts
        .precondition_uid
        .as_ref()
        .is_some_and(|u| Some(u) != meta("uid").as_ref())
    {
        return Err(ApiError::conflict(
            &key,
            name,
            &format!(
                "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                opts.precondition_uid.as_deref().unwrap_or(""),
                meta("uid").unwrap_or_default()
            ),
        ));
    }
    if opts
        .precondition_rv
        .as_ref()
        .is_some_and(|r| Some(r) != meta("resourceVersion").as_ref())
    {
        return Err(ApiError::conflict(
            &key,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {}",
                opts.precondition_rv.as_deref().unwrap_or(""),
                meta("resourceVersion").unwrap_or_default()
            ),
        ));
    }
    let grace = grace_period(rtype, &current, opts.grace_seconds);
    if opts.dry_run {
        return Ok((Some((*current).clone()), (*current).clone()));
    }
    if crd::is_crd(rtype) {
        crd::unregister(ctx.store(), &current);
    }
    let finalizer = match opts.propagation.as_deref() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        _ => None,
    };
    if let Some(f) = finalizer
        && current.pointer("/metadata/deletionTimestamp").is_none()
    {
        ctx.store().modify(&key, ns, name, |obj| {
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                let list = meta.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(items) = list.as_array_mut()
                    && !items.iter().any(|x| x == f)
                {
                    items.push(json!(f));
                }
            }
            Ok(())
        })?;
    }
    let last = ctx.store().delete(
        &key,
        ns,
        name,
        Some(grace),
        opts.precondition_uid.as_deref(),
        None,
    )?;
    let kept = ctx.store().get(&key, ns, name).ok();
    Ok((kept, last))
}

/// `DELETE .../{name}`.
pub(crate) fn delete(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    let opts = DeleteOptions::parse(ctx)?;
    let name = rp.name.clone().unwrap_or_default();
    let ns = object_namespace(rtype, rp).to_string();
    // Hidden objects are as absent for deletes as for reads.
    fetch(ctx, rtype, rp)?;
    let (kept, last) = delete_one(ctx, rtype, &ns, &name, &opts)?;
    match kept {
        Some(obj) => {
            let code = if opts.propagation.as_deref() == Some("Foreground") {
                202
            } else {
                200
            };
            render_object(ctx, rtype, &obj, super::negotiate::Output::Json, code)
        }
        None if returns_deleted_object(rtype) => Ok(render_written(ctx, &last, 200)),
        None => {
            let mut details = json!({"name": name, "kind": rtype.plural});
            if !rtype.group.is_empty() {
                details["group"] = json!(rtype.group);
            }
            if let Some(uid) = meta_str(&last, "uid") {
                details["uid"] = json!(uid);
            }
            Ok(ctx.json(200, &success_status(200, Some(details))))
        }
    }
}

/// `DELETE` on a collection, with selectors: answers the list of what was deleted.
pub(crate) fn delete_collection(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
) -> ApiResult<Response> {
    let opts = DeleteOptions::parse(ctx)?;
    let filters = Filters::parse(ctx, rtype)?;
    let page = collect(ctx, rtype, rp.namespace.as_deref(), &filters, false)?;
    let mut deleted = Vec::new();
    for obj in page.items {
        let ns = meta_str(&obj, "namespace").unwrap_or("").to_string();
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        match delete_one(ctx, rtype, &ns, &name, &opts) {
            Ok((kept, last)) => deleted.push(kept.unwrap_or(last)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let doc = json!({
        "kind": list_kind(rtype),
        "apiVersion": rtype.api_version(),
        "metadata": {"resourceVersion": ctx.store().resource_version().to_string()},
        "items": deleted,
    });
    Ok(ctx.json(200, &doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Catalogue;

    #[test]
    fn pods_get_grace_only_when_running() {
        let cat = Catalogue::default();
        let pods = cat.by_plural("", "v1", "pods").unwrap();
        let cms = cat.by_plural("", "v1", "configmaps").unwrap();
        let running = json!({"spec": {"nodeName": "kind-worker", "terminationGracePeriodSeconds": 10},
                             "status": {"phase": "Running"}});
        assert_eq!(grace_period(pods, &running, None), 10);
        assert_eq!(grace_period(pods, &running, Some(0)), 0);
        assert_eq!(grace_period(pods, &json!({"spec": {}}), None), 0);
        let done = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(grace_period(pods, &done, Some(30)), 0);
        assert_eq!(grace_period(cms, &running, Some(30)), 0);
    }
}
