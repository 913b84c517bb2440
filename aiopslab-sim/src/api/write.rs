//! `create`, `update` (PUT) and `patch` of objects and of their `status`.
//!
//! Every write goes the same way: decode the body, check that it belongs here (kind, name and
//! namespace against the URL), apply field validation, let [`crate::admission::admit`] default
//! and validate, record the field manager, then store — or, for `dryRun=All`, only answer with
//! what would have been stored. Updates are computed from the current object and stored only if
//! nobody changed it meanwhile (retried otherwise), so a status write never loses a concurrent
//! spec change.

use super::context::Ctx;
use super::crd;
use super::objects::{check_type, decode_body, meta_mut, meta_str, render_written};
use super::read::object_namespace;
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult};
use super::validate;
use crate::admission::{self, AdmissionError, Operation};
use crate::patch::{self, Gvk, PatchError, PatchKind, PatchType};
use crate::resources::ResourceType;
use crate::store::StoreError;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// How many times an update is recomputed when the object changed underneath it.
const UPDATE_RETRIES: usize = 8;

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        ApiError::from_status_value(e.code, &e.to_status())
    }
}

impl From<PatchError> for ApiError {
    fn from(e: PatchError) -> Self {
        ApiError::from_status_value(e.code(), &e.to_status())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from_store(e, "")
    }
}

/// What a write hands back: the object and warnings for the `Warning` header.
pub(crate) struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Adds `Warning: 299 - "..."` headers, as the real server does for dropped unknown fields.
pub(crate) fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::from(w.as_str()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// The field manager of a non-apply write: the `fieldManager` parameter, else the client's
/// user agent up to its first `/` (`kubectl`, `kube`), as the real server derives it.
pub(crate) fn manager_of(ctx: &Ctx) -> String {
    if let Some(m) = ctx.field_manager() {
        return m.to_string();
    }
    ctx.header(header::USER_AGENT)
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// The kind of `rtype` as the patch engine names it.
pub(crate) fn gvk_of(rtype: &ResourceType) -> Gvk<'_> {
    Gvk::new(&rtype.group, &rtype.version, &rtype.kind)
}

/// Checks that the body's namespace fits the URL and fills it in.
fn settle_namespace(rtype: &ResourceType, rp: &ResourcePath, obj: &mut Value) -> ApiResult<()> {
    let url_ns = object_namespace(rtype, rp).to_string();
    let meta = meta_mut(obj).ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if !rtype.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() && ns != url_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), json!(url_ns));
            Ok(())
        }
    }
}

/// Checks that the body's name fits the URL (for PUT) and fills it in.
fn settle_name(url_name: &str, obj: &mut Value) -> ApiResult<()> {
    let meta = meta_mut(obj).ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n != url_name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({url_name})"
        ))),
        _ => {
            meta.insert("name".into(), json!(url_name));
            Ok(())
        }
    }
}

/// Removes what a client may not set on create.
fn strip_server_fields(rtype: &ResourceType, obj: &mut Value) {
    if let Some(meta) = meta_mut(obj) {
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ] {
            meta.remove(f);
        }
    }
    if rtype.has_subresource("status")
        && let Some(map) = obj.as_object_mut()
    {
        map.remove("status");
    }
}

/// Creates `obj` (already decoded) in the store, or previews it for a dry run.
pub(crate) fn create_object(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
    mut obj: Value,
    manager: &str,
) -> ApiResult<Written> {
    check_type(rtype, &mut obj)?;
    settle_namespace(rtype, rp, &mut obj)?;
    if meta_str(&obj, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    strip_server_fields(rtype, &mut obj);
    if crd::is_crd(rtype)
        && let Some(group) = obj.pointer("/spec/group").and_then(Value::as_str)
        && ctx.state.policy().hides_group(&ctx.user, group)
    {
        // The agent may not define kinds in a group it may not use.
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        let attrs = crate::auth::Attributes::resource("create", group, "*", None, None);
        return Err(ApiError::forbidden(
            &rtype.key(),
            &name,
            crate::auth::forbidden_message(&ctx.user, &attrs),
        ));
    }
    let warnings = validate::fields(ctx, rtype, &mut obj)?;
    validate::name(rtype, &obj)?;
    if crd::is_crd(rtype) {
        crd::prepare(ctx.store(), &mut obj, None)?;
    }
    admission::admit(ctx.store(), rtype, Operation::Create, &mut obj, None)?;
    let now = ctx.store().now_rfc3339();
    if obj.pointer("/metadata/managedFields").is_none() {
        patch::record_update(None, &mut obj, &gvk_of(rtype), manager, &now);
    } else {
        // Managed fields the client sent are kept, in the server's form.
        patch::normalize_managed_fields(&mut obj);
    }
    let ns = object_namespace(rtype, rp).to_string();
    if ctx.dry_run()? {
        return Ok(Written {
            object: preview_create(ctx, obj),
            warnings,
        });
    }
    let created = ctx.store().create(&rtype.key(), &ns, obj)?;
    if crd::is_crd(rtype) {
        crd::register(ctx.store(), &created);
    }
    Ok(Written {
        object: created,
        warnings,
    })
}

/// What a dry-run create answers: the object with the fields the server would set.
fn preview_create(ctx: &Ctx, mut obj: Value) -> Value {
    let now = ctx.store().now_rfc3339();
    let generated = meta_str(&obj, "name").is_none_or(str::is_empty).then(|| {
        format!(
            "{}{}",
            meta_str(&obj, "generateName").unwrap_or(""),
            ctx.store().random_suffix(5)
        )
    });
    if let Some(meta) = meta_mut(&mut obj) {
        if let Some(name) = generated {
            meta.insert("name".into(), json!(name));
        }
        meta.insert("creationTimestamp".into(), json!(now));
        meta.entry("uid")
            .or_insert_with(|| json!(ctx.store().new_uid()));
    }
    obj
}

/// `POST` on a collection.
pub(crate) fn create(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    if rp.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let obj = decode_body(ctx, &rtype.kind)?;
    let written = create_object(ctx, rtype, rp, obj, &manager_of(ctx))?;
    Ok(with_warnings(
        render_written(ctx, &written.object, 201),
        &written.warnings,
    ))
}

/// Kinds the real server creates when a PUT names an object that does not exist.
fn creates_on_update(rtype: &ResourceType) -> bool {
    matches!(
        (rtype.group.as_str(), rtype.plural.as_str()),
        ("", "endpoints")
            | ("", "events")
            | ("", "limitranges")
            | ("events.k8s.io", "events")
            | ("coordination.k8s.io", "leases")
            | ("discovery.k8s.io", "endpointslices")
            | ("rbac.authorization.k8s.io", _)
    )
}

/// Stores the result of `compute(current)` unless the object changed meanwhile, retrying then.
///
/// `compute` sees the stored object and returns the object to store; it runs outside the
/// store's lock (admission reads the store). For a dry run the computed object is returned
/// without storing it.
pub(crate) fn guarded_update<F>(
    ctx: &Ctx,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    dry_run: bool,
    mut compute: F,
) -> ApiResult<Arc<Value>>
where
    F: FnMut(&Value) -> ApiResult<Value>,
{
    let key = rtype.key();
    for _ in 0..UPDATE_RETRIES {
        let current = ctx.store().get_arc(&key, ns, name)?;
        let next = compute(&current)?;
        if dry_run {
            return Ok(Arc::new(next));
        }
        let result = ctx.store().modify_arc(&key, ns, name, |stored| {
            // The stored object must still be the one `compute` saw.
            if meta_str(stored, "resourceVersion") != meta_str(&current, "resourceVersion") {
                return Err(StoreError::Conflict {
                    resource: key.clone(),
                    name: name.to_string(),
                });
            }
            Ok(next)
        });
        match result {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other.map_err(ApiError::from),
        }
    }
    Err(ApiError::conflict(
        &key,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    ))
}

/// The client's resourceVersion precondition, checked against the stored object.
fn check_precondition(
    rtype: &ResourceType,
    name: &str,
    wanted: Option<&str>,
    current: &Value,
) -> ApiResult<()> {
    if let Some(w) = wanted.filter(|w| !w.is_empty())
        && Some(w) != meta_str(current, "resourceVersion")
    {
        return Err(ApiError::conflict(
            &rtype.key(),
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    Ok(())
}

/// Combines what a write sent with what it may change: a main-resource write keeps the stored
/// status (for kinds with a status subresource), a status write changes only the status, a
/// `finalize` write only `spec.finalizers`.
pub(crate) fn scope_write(
    rtype: &ResourceType,
    sub: Option<&str>,
    current: &Value,
    mut sent: Value,
) -> Value {
    match sub {
        Some("status") => {
            let mut next = current.clone();
            match sent.get_mut("status").map(std::mem::take) {
                Some(status) => next["status"] = status,
                None => {
                    if let Some(m) = next.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            // Like the real server's `ResetObjectMetaForStatus`, metadata comes from the stored
            // object except managedFields, which the write's field manager has just computed
            // (a server-side apply to status records its own entry there).
            let sent_fields = sent
                .pointer_mut("/metadata/managedFields")
                .map(std::mem::take);
            if let (Some(fields), Some(meta)) = (sent_fields, meta_mut(&mut next)) {
                meta.insert("managedFields".into(), fields);
            }
            next
        }
        Some("finalize") => {
            let mut next = current.clone();
            let finalizers = sent
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("finalizers".into(), finalizers);
            } else {
                next["spec"] = json!({"finalizers": finalizers});
            }
            next
        }
        _ => {
            if rtype.has_subresource("status")
                && let Some(map) = sent.as_object_mut()
            {
                match current.get("status") {
                    Some(s) => {
                        map.insert("status".into(), s.clone());
                    }
                    None => {
                        map.remove("status");
                    }
                }
            }
            sent
        }
    }
}

/// Brings server-owned metadata of `next` back from `current` (a PUT body may omit it).
fn keep_server_metadata(current: &Value, next: &mut Value) {
    let current_meta = current.get("metadata").and_then(Value::as_object);
    let current_field = |f: &str| current_meta.and_then(|m| m.get(f));
    let Some(meta) = meta_mut(next) else { return };
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current_field(f) {
            Some(v) => {
                if meta.get(f) != Some(v) {
                    meta.insert(f.into(), v.clone());
                }
            }
            None => {
                meta.remove(f);
            }
        }
    }
    if let Some(rv) = current_field("resourceVersion")
        && meta.get("resourceVersion") != Some(rv)
    {
        meta.insert("resourceVersion".into(), rv.clone());
    }
}

/// Admits, records the manager of and returns an updated object.
fn finish_update(
    ctx: &Ctx,
    rtype: &ResourceType,
    sub: Option<&str>,
    current: &Value,
    mut next: Value,
    manager: Option<&str>,
) -> ApiResult<Value> {
    keep_server_metadata(current, &mut next);
    if crd::is_crd(rtype) && sub.is_none() {
        crd::prepare(ctx.store(), &mut next, Some(current))?;
    }
    admission::admit(
        ctx.store(),
        rtype,
        Operation::Update,
        &mut next,
        Some(current),
    )?;
    if let Some(manager) = manager {
        let gvk = gvk_of(rtype);
        let gvk = match sub {
            Some(s) => gvk.with_subresource(s),
            None => gvk,
        };
        patch::record_update(
            Some(current),
            &mut next,
            &gvk,
            manager,
            &ctx.store().now_rfc3339(),
        );
    }
    Ok(next)
}

/// `PUT` on an object or on its `status` / `finalize` subresource.
pub(crate) fn update(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
    sub: Option<&str>,
) -> ApiResult<Response> {
    let Some(name) = rp.name.clone() else {
        return Err(ApiError::method_not_allowed());
    };
    let mut obj = decode_body(ctx, &rtype.kind)?;
    check_type(rtype, &mut obj)?;
    settle_name(&name, &mut obj)?;
    settle_namespace(rtype, rp, &mut obj)?;
    let ns = object_namespace(rtype, rp).to_string();
    let dry_run = ctx.dry_run()?;
    let manager = manager_of(ctx);
    let exists = ctx.store().get_arc(&rtype.key(), &ns, &name).is_ok();
    if !exists {
        if sub.is_none() && creates_on_update(rtype) {
            if let Some(meta) = meta_mut(&mut obj) {
                meta.remove("resourceVersion");
            }
            let written = create_object(ctx, rtype, rp, obj, &manager)?;
            return Ok(with_warnings(
                render_written(ctx, &written.object, 201),
                &written.warnings,
            ));
        }
        return Err(ApiError::not_found(&rtype.key(), &name));
    }
    let warnings = if sub.is_none() {
        validate::fields(ctx, rtype, &mut obj)?
    } else {
        Vec::new()
    };
    let wanted_rv = meta_str(&obj, "resourceVersion").map(str::to_string);
    let updated = guarded_update(ctx, rtype, &ns, &name, dry_run, |current| {
        check_precondition(rtype, &name, wanted_rv.as_deref(), current)?;
        if !ctx
            .state
            .policy()
            .visible(&ctx.user, &rtype.group, &rtype.plural, current)
        {
            return Err(ApiError::not_found(&rtype.key(), &name));
        }
        let next = scope_write(rtype, sub, current, obj.clone());
        finish_update(ctx, rtype, sub, current, next, Some(&manager))
    })?;
    if crd::is_crd(rtype) && !dry_run {
        crd::register(ctx.store(), &updated);
    }
    Ok(with_warnings(render_written(ctx, &updated, 200), &warnings))
}

/// `PATCH` on an object or on its `status` subresource (all four patch types; server-side
/// apply creates the object when it does not exist).
pub(crate) fn patch(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
    sub: Option<&str>,
) -> ApiResult<Response> {
    let Some(name) = rp.name.clone() else {
        return Err(ApiError::method_not_allowed());
    };
    let ns = object_namespace(rtype, rp).to_string();
    let gvk = gvk_of(rtype);
    let gvk = match sub {
        Some(s) => gvk.with_subresource(s),
        None => gvk,
    };
    let content_type = ctx.header(header::CONTENT_TYPE).unwrap_or("");
    let force = ctx.query.get("force").map(|_| ctx.query.flag("force"));
    let kind = PatchKind::from_request(content_type, ctx.field_manager(), force, &gvk)?;
    let dry_run = ctx.dry_run()?;
    let manager = match &kind {
        PatchKind::Apply { .. } => None,
        _ => Some(manager_of(ctx)),
    };
    let exists = ctx.store().get_arc(&rtype.key(), &ns, &name).is_ok();
    if !exists {
        if kind.patch_type() != PatchType::Apply || sub.is_some() {
            return Err(ApiError::not_found(&rtype.key(), &name));
        }
        let now = ctx.store().now_rfc3339();
        let mut obj = patch::apply_patch(None, &kind, &ctx.body, &gvk, &now)?;
        if let Some(meta) = meta_mut(&mut obj) {
            meta.insert("name".into(), json!(name));
        }
        let written = create_object(ctx, rtype, rp, obj, &manager_of(ctx))?;
        return Ok(with_warnings(
            render_written(ctx, &written.object, 201),
            &written.warnings,
        ));
    }
    let mut warnings = Vec::new();
    let updated = guarded_update(ctx, rtype, &ns, &name, dry_run, |current| {
        if !ctx
            .state
            .policy()
            .visible(&ctx.user, &rtype.group, &rtype.plural, current)
        {
            return Err(ApiError::not_found(&rtype.key(), &name));
        }
        let now = ctx.store().now_rfc3339();
        let mut patched = patch::apply_patch(Some(current), &kind, &ctx.body, &gvk, &now)?;
        check_type(rtype, &mut patched)?;
        if meta_str(&patched, "name") != Some(name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&patched, "name").unwrap_or("")
            )));
        }
        let wanted_rv = meta_str(&patched, "resourceVersion").map(str::to_string);
        if wanted_rv != meta_str(current, "resourceVersion").map(str::to_string) {
            // A patch may carry a resourceVersion precondition.
            check_precondition(rtype, &name, wanted_rv.as_deref(), current)?;
        }
        if sub.is_none() {
            warnings = validate::fields(ctx, rtype, &mut patched)?;
        }
        let next = scope_write(rtype, sub, current, patched);
        finish_update(ctx, rtype, sub, current, next, manager.as_deref())
    })?;
    if crd::is_crd(rtype) && !dry_run {
        crd::register(ctx.store(), &updated);
    }
    Ok(with_warnings(render_written(ctx, &updated, 200), &warnings))
}
