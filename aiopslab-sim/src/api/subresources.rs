//! Subresources: `status`, `scale` (as `autoscaling/v1 Scale`), `binding`, `eviction`,
//! `finalize`, `log` and `token` (see the `tokens` module); `exec` and `attach` are WebSocket upgrades handled before the body is
//! read (see the `exec` module).

use super::context::Ctx;
use super::crd;
use super::delete::{DeleteOptions, delete_one};
use super::logs;
use super::objects::{decode_body, meta_str, render_written};
use super::read::{self, fetch, object_namespace};
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult, success_status};
use super::write::{self, guarded_update, manager_of};
use crate::patch::{self, Gvk, PatchKind};
use crate::resources::{ResourceKey, ResourceType};
use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};

/// Dispatches a request on a subresource.
pub(crate) async fn handle(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
    sub: &str,
    verb: &str,
) -> ApiResult<Response> {
    if rp.name.is_none() {
        return Err(ApiError::no_route());
    }
    match (sub, verb) {
        ("status", "get") => read::get(ctx, rtype, rp),
        ("status", "update") => write::update(ctx, rtype, rp, Some("status")),
        ("status", "patch") => write::patch(ctx, rtype, rp, Some("status")),
        ("finalize", "update") => write::update(ctx, rtype, rp, Some("finalize")),
        ("scale", "get" | "update" | "patch") => scale(ctx, rtype, rp, verb),
        ("binding", "create") => binding(ctx, rp, rp.name.as_deref()),
        ("eviction", "create") => eviction(ctx, rtype, rp),
        ("log", "get") => logs::logs(ctx, rtype, rp).await,
        ("token", "create") if rtype.group.is_empty() && rtype.plural == "serviceaccounts" => {
            super::tokens::create_token(ctx, rtype, rp)
        }
        ("portforward" | "proxy" | "attach" | "ephemeralcontainers" | "resize", _) => {
            Err(ApiError::bad_request(format!(
                "the virtual cluster does not serve {}/{sub}; reach services from inside a pod with kubectl exec instead",
                rtype.plural
            )))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Formats a `metav1.LabelSelector` as a selector string (`app=geo,tier in (a,b)`).
pub(crate) fn format_selector(selector: Option<&Value>) -> String {
    let Some(sel) = selector else {
        return String::new();
    };
    let mut parts = Vec::new();
    let labels = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .or_else(|| {
            // ReplicationController selectors are plain maps.
            sel.as_object()
                .filter(|m| !m.contains_key("matchExpressions"))
        });
    if let Some(ml) = labels {
        let mut pairs: Vec<(&String, &Value)> = ml.iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in pairs {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let mut values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            values.sort_unstable();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

/// Where a kind keeps its replica counts and selector (JSON pointers).
struct ScalePaths {
    spec: String,
    status: String,
    selector: Option<String>,
    /// Whether the selector is a `metav1.LabelSelector` (else already a string).
    structured_selector: bool,
}

fn scale_paths(ctx: &Ctx, rtype: &ResourceType) -> ApiResult<ScalePaths> {
    if rtype.custom {
        let crd = crd::definition_of(ctx.store(), rtype).ok_or_else(ApiError::no_route)?;
        let (spec, status, selector) =
            crd::scale_paths(&crd, &rtype.version).ok_or_else(ApiError::no_route)?;
        return Ok(ScalePaths {
            spec: crd::dotted_to_pointer(&spec),
            status: crd::dotted_to_pointer(&status),
            selector: selector.map(|s| crd::dotted_to_pointer(&s)),
            structured_selector: false,
        });
    }
    Ok(ScalePaths {
        spec: "/spec/replicas".into(),
        status: "/status/replicas".into(),
        selector: Some("/spec/selector".into()),
        structured_selector: true,
    })
}

fn to_scale(obj: &Value, paths: &ScalePaths) -> Value {
    let replicas = obj
        .pointer(&paths.spec)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_replicas = obj
        .pointer(&paths.status)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let selector = match &paths.selector {
        Some(p) if paths.structured_selector => format_selector(obj.pointer(p)),
        Some(p) => obj
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        None => String::new(),
    };
    let mut meta = serde_json::Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = obj.pointer(&format!("/metadata/{f}")) {
            meta.insert(f.into(), v.clone());
        }
    }
    let mut status = json!({"replicas": status_replicas});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": replicas},
        "status": status,
    })
}

/// `GET`, `PUT` and `PATCH` on `.../scale`.
fn scale(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath, verb: &str) -> ApiResult<Response> {
    let paths = scale_paths(ctx, rtype)?;
    let current = fetch(ctx, rtype, rp)?;
    if verb == "get" {
        return Ok(render_written(ctx, &to_scale(&current, &paths), 200));
    }
    let name = rp.name.clone().unwrap_or_default();
    let ns = object_namespace(rtype, rp).to_string();
    let dry_run = ctx.dry_run()?;
    let scale_gvk = Gvk::new("autoscaling", "v1", "Scale");
    let patch_kind = if verb == "patch" {
        let ct = ctx.header(header::CONTENT_TYPE).unwrap_or("");
        Some(PatchKind::from_request(
            ct,
            ctx.field_manager(),
            None,
            &scale_gvk,
        )?)
    } else {
        None
    };
    let sent = if verb == "update" {
        Some(decode_body(ctx, "Scale")?)
    } else {
        None
    };
    let manager = manager_of(ctx);
    let updated = guarded_update(ctx, rtype, &ns, &name, dry_run, |current| {
        let old_scale = to_scale(current, &paths);
        let new_scale = match (&sent, &patch_kind) {
            (Some(body), _) => {
                let wanted = meta_str(body, "resourceVersion").filter(|r| !r.is_empty());
                if wanted.is_some_and(|w| Some(w) != meta_str(current, "resourceVersion")) {
                    return Err(ApiError::conflict(
                        &rtype.key(),
                        &name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ));
                }
                body.clone()
            }
            (None, Some(kind)) => patch::apply_patch(
                Some(&old_scale),
                kind,
                &ctx.body,
                &scale_gvk,
                &ctx.store().now_rfc3339(),
            )?,
            (None, None) => old_scale.clone(),
        };
        let replicas = match new_scale.pointer("/spec/replicas") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_i64().filter(|r| *r >= 0).ok_or_else(|| {
                ApiError::invalid(
                    "Scale",
                    "autoscaling",
                    &name,
                    vec![super::status::Cause {
                        reason: "FieldValueInvalid".into(),
                        message: format!("Invalid value: {v}: must be greater than or equal to 0"),
                        field: "spec.replicas".into(),
                    }],
                )
            })?,
        };
        let mut next = current.clone();
        crd::set_pointer(&mut next, &paths.spec, json!(replicas));
        crate::admission::admit(
            ctx.store(),
            rtype,
            crate::admission::Operation::Update,
            &mut next,
            Some(current),
        )?;
        patch::record_update(
            Some(current),
            &mut next,
            &write::gvk_of(rtype).with_subresource("scale"),
            &manager,
            &ctx.store().now_rfc3339(),
        );
        Ok(next)
    })?;
    Ok(render_written(ctx, &to_scale(&updated, &paths), 200))
}

/// `POST .../bindings` or `.../pods/{name}/binding`: assigns a pod to a node.
pub(crate) fn binding(ctx: &Ctx, rp: &ResourcePath, pod: Option<&str>) -> ApiResult<Response> {
    let body = decode_body(ctx, "Binding")?;
    let ns = rp.namespace.clone().unwrap_or_default();
    let name = match (pod, meta_str(&body, "name")) {
        (Some(url), Some(b)) if !b.is_empty() && b != url => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({b}) does not match the name on the URL ({url})"
            )));
        }
        (Some(url), _) => url.to_string(),
        (None, Some(b)) if !b.is_empty() => b.to_string(),
        _ => {
            return Err(ApiError::invalid(
                "Binding",
                "",
                "",
                vec![super::status::Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: name or generateName is required".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
    };
    let node = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "Binding",
            "",
            &name,
            vec![super::status::Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        ));
    }
    let pods = ResourceKey::new("", "pods");
    let binding_key = ResourceKey::new("", "pods/binding");
    if ctx.dry_run()? {
        ctx.store().get_arc(&pods, &ns, &name)?;
        return Ok(ctx.json(201, &success_status(201, None)));
    }
    ctx.store()
        .modify(&pods, &ns, &name, |p| {
            let assigned = p
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !assigned.is_empty() {
                return Err(crate::store::StoreError::Invalid(format!(
                    "pod {name} is already assigned to node {assigned:?}"
                )));
            }
            if p.pointer("/metadata/deletionTimestamp").is_some() {
                return Err(crate::store::StoreError::Invalid(format!(
                    "pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            if let Some(spec) = p.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("nodeName".into(), json!(node));
            }
            Ok(())
        })
        .map_err(|e| match e {
            crate::store::StoreError::Invalid(why) => ApiError::conflict(&binding_key, &name, &why),
            other => other.into(),
        })?;
    Ok(ctx.json(201, &success_status(201, None)))
}

/// `POST .../pods/{name}/eviction`: deletes the pod gracefully. PodDisruptionBudgets are not
/// consulted (no controller computes their status in the virtual cluster).
fn eviction(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    let body = decode_body(ctx, "Eviction")?;
    let name = rp.name.clone().unwrap_or_default();
    if let Some(b) = meta_str(&body, "name").filter(|b| !b.is_empty())
        && b != name
    {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {b}"
        )));
    }
    fetch(ctx, rtype, rp)?;
    let mut opts = DeleteOptions {
        dry_run: ctx.dry_run()?,
        ..Default::default()
    };
    if let Some(d) = body.get("deleteOptions") {
        opts.grace_seconds = d.get("gracePeriodSeconds").and_then(Value::as_i64);
        opts.precondition_uid = d
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        if d.get("dryRun")
            .is_some_and(|v| v.to_string().contains("All"))
        {
            opts.dry_run = true;
        }
    }
    let ns = object_namespace(rtype, rp).to_string();
    delete_one(ctx, rtype, &ns, &name, &opts)?;
    Ok(ctx.json(201, &success_status(201, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_format_like_kubernetes() {
        let sel = json!({"matchLabels": {"tier": "web", "app": "geo"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]});
        assert_eq!(
            format_selector(Some(&sel)),
            "app=geo,tier=web,env in (a,b),!canary"
        );
        assert_eq!(format_selector(Some(&json!({"app": "x"}))), "app=x");
        assert_eq!(format_selector(None), "");
    }

    #[test]
    fn scale_of_a_deployment() {
        let d = json!({"metadata": {"name": "geo", "namespace": "ns", "resourceVersion": "5"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "geo"}}},
            "status": {"replicas": 2}});
        let paths = ScalePaths {
            spec: "/spec/replicas".into(),
            status: "/status/replicas".into(),
            selector: Some("/spec/selector".into()),
            structured_selector: true,
        };
        let s = to_scale(&d, &paths);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"], json!({"replicas": 2, "selector": "app=geo"}));
        assert_eq!(s["metadata"]["resourceVersion"], "5");
    }
}
