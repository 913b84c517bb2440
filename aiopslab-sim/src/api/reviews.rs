//! What the caller may do and who it is: `SelfSubjectAccessReview` (`kubectl auth can-i`),
//! `SelfSubjectRulesReview` (`kubectl auth can-i --list`) and `SelfSubjectReview`
//! (`kubectl auth whoami`). Answers come from the same [`crate::auth::Policy`] (or, for a
//! ServiceAccount token, the same RBAC evaluation) that guards every request, so they are
//! truthful.

use super::context::Ctx;
use super::objects::{check_type, decode_body};
use super::rbac;
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult};
use crate::auth::{Attributes, Role};
use crate::resources::ResourceType;
use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

/// `POST` of one of the review kinds.
pub(crate) fn handle(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    if ctx.method != Method::POST || rp.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut review = decode_body(ctx, &rtype.kind)?;
    check_type(rtype, &mut review)?;
    if let Some(map) = review.as_object_mut() {
        map.insert("metadata".into(), json!({"creationTimestamp": null}));
    }
    let status = match rtype.kind.as_str() {
        "SelfSubjectAccessReview" => access(ctx, &review),
        "SelfSubjectRulesReview" => rules(ctx, &review),
        "SelfSubjectReview" => json!({"userInfo": ctx.user.user_info()}),
        _ => return Err(ApiError::no_route()),
    };
    review["status"] = status;
    Ok(ctx.json(201, &review))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn access(ctx: &Ctx, review: &Value) -> Value {
    if ctx.user.role == Role::ServiceAccount {
        return rbac_access(ctx, review);
    }
    let policy = ctx.state.policy();
    if let Some(ra) = review.pointer("/spec/resourceAttributes") {
        let group = text(ra, "group");
        let namespace = text(ra, "namespace");
        let name = text(ra, "name");
        let attrs = Attributes {
            verb: text(ra, "verb"),
            group,
            resource: text(ra, "resource"),
            subresource: text(ra, "subresource"),
            namespace: (!namespace.is_empty()).then_some(namespace),
            name: (!name.is_empty()).then_some(name),
        };
        // A wildcard group covers the hidden ones, which the agent may not touch; so does a
        // resource kubectl could not resolve and sends qualified (`podchaos.chaos-mesh.org`).
        let resource = text(ra, "resource");
        let qualified_hidden = group.is_empty()
            && resource
                .split_once('.')
                .is_some_and(|(_, g)| policy.hides_group(&ctx.user, g));
        let wildcard_denied = !ctx.user.is_admin() && (group == "*" || qualified_hidden);
        let allowed = !wildcard_denied && policy.authorize(&ctx.user, &attrs).is_ok();
        return decision(ctx, allowed);
    }
    if review.pointer("/spec/nonResourceAttributes").is_some() {
        let path = review
            .pointer("/spec/nonResourceAttributes/path")
            .and_then(Value::as_str)
            .unwrap_or("");
        let verb = review
            .pointer("/spec/nonResourceAttributes/verb")
            .and_then(Value::as_str)
            .unwrap_or("");
        let readable = verb == "get"
            && [
                "/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi",
            ]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        let allowed = ctx.user.is_admin() || readable;
        return decision(ctx, allowed);
    }
    json!({"allowed": false, "evaluationError": "spec.resourceAttributes or spec.nonResourceAttributes is required"})
}

/// An access review for a ServiceAccount token: what RBAC decides, with its reason.
fn rbac_access(ctx: &Ctx, review: &Value) -> Value {
    let store = ctx.store();
    let reason = if let Some(ra) = review.pointer("/spec/resourceAttributes") {
        let namespace = text(ra, "namespace");
        let name = text(ra, "name");
        let attrs = Attributes {
            verb: text(ra, "verb"),
            group: text(ra, "group"),
            resource: text(ra, "resource"),
            subresource: text(ra, "subresource"),
            namespace: (!namespace.is_empty()).then_some(namespace),
            name: (!name.is_empty()).then_some(name),
        };
        rbac::authorize(store, &ctx.user, &attrs).ok()
    } else if let Some(nra) = review.pointer("/spec/nonResourceAttributes") {
        rbac::authorize_non_resource(store, &ctx.user, text(nra, "verb"), text(nra, "path"))
    } else {
        return json!({"allowed": false, "evaluationError": "spec.resourceAttributes or spec.nonResourceAttributes is required"});
    };
    match reason {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false}),
    }
}

/// The status of an access review; the admin is allowed by its privileged group (no reason),
/// the agent by its role binding.
fn decision(ctx: &Ctx, allowed: bool) -> Value {
    match (allowed, ctx.user.is_admin()) {
        (false, _) => json!({"allowed": false}),
        (true, true) => json!({"allowed": true}),
        (true, false) => {
            json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"aiopslab-agent\" of ClusterRole \"aiopslab-agent\" to ServiceAccount \"agent/aiopslab\""})
        }
    }
}

fn rules(ctx: &Ctx, review: &Value) -> Value {
    let namespace = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut groups = vec![String::new()];
    groups.extend(ctx.store().catalogue().groups().into_iter().map(|(g, _)| g));
    if ctx.user.role == Role::ServiceAccount {
        let (resource_rules, non_resource_rules) =
            rbac::rules_review(ctx.store(), &ctx.user, namespace);
        return json!({
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": false,
        });
    }
    let policy = ctx.state.policy();
    json!({
        "resourceRules": policy.resource_rules(&ctx.user, namespace, &groups),
        "nonResourceRules": policy.non_resource_rules(&ctx.user),
        "incomplete": false,
    })
}
