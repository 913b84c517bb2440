//! `serviceaccounts/token` (the TokenRequest API, `authentication.k8s.io/v1`) and the
//! authentication of the tokens it issues.
//!
//! A token is bound to its ServiceAccount (and, when the request names one, to a Pod, Secret
//! or Node): it authenticates as `system:serviceaccount:<namespace>:<name>` with the groups
//! `system:serviceaccounts`, `system:serviceaccounts:<namespace>` and `system:authenticated`,
//! and what it may do is decided by RBAC over the stored objects (see [`super::rbac`]). It
//! stops working when it expires (by the cluster's clock), when its ServiceAccount or bound
//! object is deleted (or recreated: the uid must match) and when its audiences do not include
//! the API server's. As on a real cluster, the token has the shape of a JWT whose claims can be
//! read (`iss`, `sub`, `aud`, `exp`, `kubernetes.io`); its signature part is random and the
//! server recognises the token by looking it up, not by verifying a signature.

use super::context::Ctx;
use super::objects::{check_type, decode_body};
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult, Cause};
use crate::auth::Identity;
use crate::resources::{ResourceKey, ResourceType};
use crate::store::{Store, format_time};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The API server's audience and the tokens' issuer, as kind configures them.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
/// The lifetime of a token whose request names none (one hour, the real default).
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest lifetime the real server accepts (ten minutes).
const MIN_EXPIRATION_SECONDS: i64 = 600;
/// The longest lifetime the real server's validation accepts (2^32 seconds).
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// An object a token is bound to, which must keep existing with the same uid.
#[derive(Debug, Clone)]
struct BoundObject {
    resource: ResourceKey,
    namespace: String,
    name: String,
    uid: String,
}

/// What the server remembers of one issued token.
#[derive(Debug, Clone)]
struct Issued {
    namespace: String,
    service_account: String,
    service_account_uid: String,
    audiences: Vec<String>,
    expires: jiff::Timestamp,
    bound: Option<BoundObject>,
}

/// The tokens issued in one cluster (kept on the store, see [`Store::extension`]).
#[derive(Debug, Default)]
pub struct IssuedTokens {
    tokens: Mutex<HashMap<String, Issued>>,
}

/// The identity of an `Authorization: Bearer <token>` header carrying an issued token that is
/// still valid, if any.
pub fn authenticate(store: &Store, authorization: Option<&str>) -> Option<Identity> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let issued = store
        .extension::<IssuedTokens>()
        .tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(token.trim())
        .cloned()?;
    if store.clock().now() >= issued.expires || !issued.audiences.iter().any(|a| a == API_AUDIENCE)
    {
        return None;
    }
    let still_there = |resource: &ResourceKey, ns: &str, name: &str, uid: &str| {
        store.get_arc(resource, ns, name).is_ok_and(|obj| {
            obj.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid)
                && obj.pointer("/metadata/deletionTimestamp").is_none()
        })
    };
    let sa_key = ResourceKey::new("", "serviceaccounts");
    if !still_there(
        &sa_key,
        &issued.namespace,
        &issued.service_account,
        &issued.service_account_uid,
    ) {
        return None;
    }
    if let Some(b) = &issued.bound
        && !still_there(&b.resource, &b.namespace, &b.name, &b.uid)
    {
        return None;
    }
    Some(Identity::service_account(
        &issued.namespace,
        &issued.service_account,
    ))
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "TokenRequest",
        "authentication.k8s.io",
        name,
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

/// The object a request binds its token to, checked against the store.
fn bound_object(store: &Store, namespace: &str, reference: &Value) -> ApiResult<BoundObject> {
    let text = |k: &str| reference.get(k).and_then(Value::as_str).unwrap_or("");
    let (kind, api_version, name) = (text("kind"), text("apiVersion"), text("name"));
    let (plural, scoped_ns) = match (api_version, kind) {
        ("v1", "Pod") => ("pods", namespace),
        ("v1", "Secret") => ("secrets", namespace),
        ("v1", "Node") => ("nodes", ""),
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {api_version}, Kind={kind}; bind it to a v1 Pod, Secret or Node"
            )));
        }
    };
    let resource = ResourceKey::new("", plural);
    let obj = store
        .get_arc(&resource, scoped_ns, name)
        .map_err(|_| ApiError::not_found(&resource, name))?;
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let wanted = text("uid");
    if !wanted.is_empty() && wanted != uid {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    Ok(BoundObject {
        resource,
        namespace: scoped_ns.to_string(),
        name: name.to_string(),
        uid,
    })
}

/// A JWT-shaped token carrying the real claims, with a random signature part.
fn mint(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": "aiopslab-sim"});
    let signature: [u8; 32] = rand::rng().random();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// `POST .../serviceaccounts/<name>/token`: issues a token for the ServiceAccount.
pub(crate) fn create_token(
    ctx: &Ctx,
    rtype: &ResourceType,
    rp: &ResourcePath,
) -> ApiResult<Response> {
    let (Some(namespace), Some(name)) = (rp.namespace.as_deref(), rp.name.as_deref()) else {
        return Err(ApiError::no_route());
    };
    let mut request = decode_body(ctx, "TokenRequest")?;
    let token_type = ResourceType {
        group: "authentication.k8s.io".into(),
        version: "v1".into(),
        kind: "TokenRequest".into(),
        ..rtype.clone()
    };
    check_type(&token_type, &mut request)?;
    let store = ctx.store();
    let sa = store
        .get_arc(&rtype.key(), namespace, name)
        .map_err(|_| ApiError::not_found(&rtype.key(), name))?;
    let sa_uid = sa
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();

    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            invalid(
                name,
                "spec.expirationSeconds",
                format!("Invalid value: {v}: must be a whole number of seconds"),
            )
        })?,
    };
    if seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!("Invalid value: {seconds}: may not specify a duration less than 10 minutes"),
        ));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![API_AUDIENCE.to_string()]);
    let bound_ref = spec
        .get("boundObjectRef")
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    let bound = bound_ref
        .map(|r| bound_object(store, namespace, r))
        .transpose()?;

    let now = store.clock().now();
    let expires = now
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .map_err(|e| ApiError::internal(format!("the token's expiry is out of range: {e}")))?;
    let mut scope = json!({
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": sa_uid},
    });
    if let Some(b) = &bound {
        let key = match b.resource.plural.as_str() {
            "pods" => "pod",
            "secrets" => "secret",
            _ => "node",
        };
        scope[key] = json!({"name": b.name, "uid": b.uid});
    }
    let claims = json!({
        "aud": audiences,
        "exp": expires.as_second(),
        "iat": now.as_second(),
        "iss": API_AUDIENCE,
        "jti": store.new_uid(),
        "kubernetes.io": scope,
        "nbf": now.as_second(),
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    let token = mint(&claims);
    if !ctx.dry_run()? {
        store
            .extension::<IssuedTokens>()
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                Issued {
                    namespace: namespace.to_string(),
                    service_account: name.to_string(),
                    service_account_uid: sa_uid,
                    audiences: audiences.clone(),
                    expires,
                    bound,
                },
            );
    }
    let answer = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": {
            "audiences": audiences,
            "expirationSeconds": seconds,
            "boundObjectRef": bound_ref.cloned().unwrap_or(Value::Null),
        },
        "status": {"token": token, "expirationTimestamp": format_time(expires)},
    });
    Ok(ctx.json(201, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn tokens_expire_and_follow_their_service_account() {
        let clock = ManualClock::at("2026-01-01T00:00:00Z".parse().expect("time"));
        let store = Store::new(1, Arc::new(clock.clone()));
        let sas = ResourceKey::new("", "serviceaccounts");
        let sa = store
            .create(&sas, "app", json!({"metadata": {"name": "bot"}}))
            .expect("sa");
        let issue = |audiences: Vec<String>| {
            let token = format!("t{}", audiences.len());
            store
                .extension::<IssuedTokens>()
                .tokens
                .lock()
                .expect("lock")
                .insert(
                    token.clone(),
                    Issued {
                        namespace: "app".into(),
                        service_account: "bot".into(),
                        service_account_uid: sa["metadata"]["uid"].as_str().unwrap().into(),
                        audiences,
                        expires: "2026-01-01T01:00:00Z".parse().expect("time"),
                        bound: None,
                    },
                );
            format!("Bearer {token}")
        };
        let good = issue(vec![API_AUDIENCE.into()]);
        let who = authenticate(&store, Some(&good)).expect("valid");
        assert_eq!(who.username, "system:serviceaccount:app:bot");
        let elsewhere = issue(vec!["vault".into(), "other".into()]);
        assert!(authenticate(&store, Some(&elsewhere)).is_none());
        assert!(authenticate(&store, Some("Bearer unknown")).is_none());
        clock.advance(jiff::SignedDuration::from_secs(3600));
        assert!(authenticate(&store, Some(&good)).is_none(), "expired");
        clock.advance(jiff::SignedDuration::from_secs(-60));
        assert!(authenticate(&store, Some(&good)).is_some());
        store
            .delete(&sas, "app", "bot", None, None, None)
            .expect("delete");
        store
            .create(&sas, "app", json!({"metadata": {"name": "bot"}}))
            .expect("recreated");
        assert!(
            authenticate(&store, Some(&good)).is_none(),
            "a recreated ServiceAccount does not revive old tokens"
        );
    }

    #[test]
    fn minted_tokens_carry_readable_claims() {
        let token = mint(&json!({"sub": "system:serviceaccount:a:b"}));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64"))
                .expect("json");
        assert_eq!(claims["sub"], "system:serviceaccount:a:b");
        assert_ne!(token, mint(&json!({"sub": "system:serviceaccount:a:b"})));
    }
}
