//! `get` and `list`: one object, or a collection with selectors and `limit`/`continue` paging.

use super::context::{Ctx, bytes_response, respond};
use super::negotiate::{Output, negotiate};
use super::objects::{
    encode_list, list_kind, list_metadata, meta_str, partial_metadata, render_object, table,
};
use super::request::ResourcePath;
use super::status::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::sync::Arc;

/// Reads one object by name, hiding what the caller may not see.
pub(crate) fn fetch(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Arc<Value>> {
    let name = rp.name.as_deref().unwrap_or("");
    let ns = object_namespace(rtype, rp);
    let obj = ctx.store().get_arc(&rtype.key(), ns, name)?;
    if !ctx
        .state
        .policy()
        .visible(&ctx.user, &rtype.group, &rtype.plural, &obj)
    {
        return Err(ApiError::not_found(&rtype.key(), name));
    }
    Ok(obj)
}

/// The namespace an object of `rtype` lives in for this path (`""` when cluster-scoped).
pub(crate) fn object_namespace<'a>(rtype: &ResourceType, rp: &'a ResourcePath) -> &'a str {
    if rtype.namespaced {
        rp.namespace.as_deref().unwrap_or("")
    } else {
        ""
    }
}

/// `GET .../{name}`.
pub(crate) fn get(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    let output = negotiate(ctx.header(header::ACCEPT), false)?;
    let obj = fetch(ctx, rtype, rp)?;
    render_object(ctx, rtype, &obj, output, 200)
}

/// The filters of a list or watch request.
pub(crate) struct Filters {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filters {
    /// Parses `labelSelector` and `fieldSelector`.
    pub fn parse(ctx: &Ctx, rtype: &ResourceType) -> ApiResult<Self> {
        let labels = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(
            ctx.query.get("fieldSelector").unwrap_or(""),
            &rtype.group,
            &rtype.plural,
        )
        .map_err(ApiError::bad_request)?;
        Ok(Filters { labels, fields })
    }

    /// Whether an object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches_object(obj))
            && (self.fields.is_empty() || self.fields.matches(obj))
    }

    /// Whether no selector was given.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

/// A continue token: the key after which the next page starts.
fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{ns}/{name}\u{0}")});
    STANDARD.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    let bad = |why: &str| {
        ApiError::bad_request(format!(
            "continue key is not valid: {why}: the provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
        ))
    };
    let raw = STANDARD
        .decode(token)
        .map_err(|_| bad("illegal base64 data"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("invalid JSON"))?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing start key"))?;
    let start = start.trim_end_matches('\u{0}');
    let (ns, name) = start.split_once('/').unwrap_or(("", start));
    Ok((ns.to_string(), name.to_string()))
}

/// The objects of a list request after selectors, visibility and paging.
pub(crate) struct Page {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub cont: Option<String>,
    pub remaining: Option<usize>,
}

/// Lists what the caller may see in `namespace` (all namespaces when `None`).
pub(crate) fn collect(
    ctx: &Ctx,
    rtype: &ResourceType,
    namespace: Option<&str>,
    filters: &Filters,
    paged: bool,
) -> ApiResult<Page> {
    let namespace = if rtype.namespaced { namespace } else { None };
    let (all, rv) = ctx.store().list(&rtype.key(), namespace);
    let policy = ctx.state.policy();
    let start = match ctx.query.non_empty("continue").filter(|_| paged) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let limit = if paged {
        ctx.query
            .int("limit")
            .map_err(ApiError::bad_request)?
            .filter(|l| *l > 0)
            .map(|l| l as usize)
    } else {
        None
    };
    let mut items = Vec::new();
    let mut remaining = 0usize;
    let mut cont = None;
    for obj in all {
        if let Some((sns, sname)) = &start {
            let ns = meta_str(&obj, "namespace").unwrap_or("");
            let name = meta_str(&obj, "name").unwrap_or("");
            if (ns, name) <= (sns.as_str(), sname.as_str()) {
                continue;
            }
        }
        if !filters.matches(&obj) || !policy.visible(&ctx.user, &rtype.group, &rtype.plural, &obj) {
            continue;
        }
        match limit {
            Some(l) if items.len() >= l => {
                if cont.is_none()
                    && let Some(last) = items.last()
                {
                    let last: &Arc<Value> = last;
                    cont = Some(encode_continue(
                        rv,
                        meta_str(last, "namespace").unwrap_or(""),
                        meta_str(last, "name").unwrap_or(""),
                    ));
                }
                remaining += 1;
            }
            _ => items.push(obj),
        }
    }
    let remaining = (cont.is_some() && filters.is_empty()).then_some(remaining);
    Ok(Page {
        items,
        resource_version: rv,
        cont,
        remaining,
    })
}

/// Checks `resourceVersion` / `resourceVersionMatch` of a list: the store serves the latest
/// state, which satisfies "any" and "not older than"; an exact older version is gone.
fn check_list_version(ctx: &Ctx, current: u64) -> ApiResult<()> {
    let rv = ctx.query.non_empty("resourceVersion");
    let matching = ctx.query.non_empty("resourceVersionMatch");
    match (matching, rv) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            vec![super::status::Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
                field: "resourceVersionMatch".into(),
            }],
        )),
        (Some("NotOlderThan"), Some(_)) => Ok(()),
        (Some("Exact"), Some(v)) => match v.parse::<u64>() {
            Ok(n) if n == current => Ok(()),
            Ok(n) if n > current => Err(ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {n}, current: {current}"),
            )),
            Ok(n) => Err(ApiError::expired(format!(
                "too old resource version: {n} ({current})"
            ))),
            Err(_) => Err(ApiError::bad_request(format!("invalid resource version {v:?}"))),
        },
        (Some(other), _) => Err(ApiError::bad_request(format!(
            "unsupported resourceVersionMatch {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

/// `GET` on a collection.
pub(crate) fn list(ctx: &Ctx, rtype: &ResourceType, rp: &ResourcePath) -> ApiResult<Response> {
    let output = negotiate(ctx.header(header::ACCEPT), true)?;
    let filters = Filters::parse(ctx, rtype)?;
    let page = collect(ctx, rtype, rp.namespace.as_deref(), &filters, true)?;
    check_list_version(ctx, page.resource_version)?;
    let meta = list_metadata(page.resource_version, page.cont.as_deref(), page.remaining);
    match output {
        Output::Json => Ok(bytes_response(
            StatusCode::OK,
            encode_list(&list_kind(rtype), &rtype.api_version(), &meta, &page.items),
            "application/json",
        )),
        Output::Table(v) => {
            let objects: Vec<Value> = page.items.iter().map(|o| (**o).clone()).collect();
            let t = table(ctx, rtype, &objects, &meta, v)?;
            Ok(respond(200, &t, output))
        }
        Output::PartialObjectMetadataList(v) => {
            let items: Vec<Value> = page.items.iter().map(|o| partial_metadata(o, v)).collect();
            let doc = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": format!("meta.k8s.io/{v}"),
                "metadata": meta,
                "items": items,
            });
            Ok(respond(200, &doc, output))
        }
        Output::Yaml => {
            let items: Vec<Value> = page.items.iter().map(|o| (**o).clone()).collect();
            let doc = json!({
                "apiVersion": rtype.api_version(),
                "items": items,
                "kind": list_kind(rtype),
                "metadata": meta,
            });
            Ok(respond(200, &doc, output))
        }
        Output::PartialObjectMetadata(_) | Output::AggregatedDiscovery(_) => {
            Err(super::negotiate::not_acceptable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(9, "ns", "b");
        assert_eq!(decode_continue(&t).unwrap(), ("ns".into(), "b".into()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
