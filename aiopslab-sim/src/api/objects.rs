//! Helpers on request bodies and objects shared by the verb handlers: decoding, type checks,
//! list envelopes and the Table / PartialObjectMetadata representations.

use super::context::{Ctx, bytes_response};
use super::negotiate::{Output, body_media_type};
use super::status::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::table::{IncludeObject, PrinterColumn, TableOptions, set_list_metadata, to_table};
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A string field of `metadata`.
pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The `metadata` map of an object, created when missing.
pub(crate) fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
}

/// Decodes a request body (JSON, or YAML when the content type says so) into an object.
///
/// `what` names the expected kind in the error (`Pod`, `DeleteOptions`).
pub(crate) fn decode_body(ctx: &Ctx, what: &str) -> ApiResult<Value> {
    let media = body_media_type(ctx.header(header::CONTENT_TYPE));
    decode_as(&ctx.body, &media, what)
}

/// Decodes `body` of media type `media`.
pub(crate) fn decode_as(body: &[u8], media: &str, what: &str) -> ApiResult<Value> {
    let value: Value = match media {
        "application/json" | "" | "*/*" | "text/plain" => {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!(
                    "couldn't get version/kind; json parse error: {}",
                    json_error_text(&e)
                ))
            })?
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8 YAML"))?;
            serde_saphyr::from_str(text).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?
        }
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(body).map_err(|e| {
            ApiError::bad_request(format!("unable to decode the protobuf body: {e}"))
        })?,
        _ => {
            return Err(ApiError::unsupported_media_type(&[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ]));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request must be a {what} object, not {}",
            json_type(&value)
        )));
    }
    Ok(value)
}

/// A serde_json error worded like Go's decoder where it is easy (`invalid character ...`).
fn json_error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of JSON input".to_string(),
        _ => text,
    }
}

/// The JSON type name of a value, for messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks (and fills in) `apiVersion` and `kind` of a body written to `rtype`.
pub(crate) fn check_type(rtype: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    let expected = rtype.api_version();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !api_version.is_empty() && api_version != expected {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    if !kind.is_empty() && kind != rtype.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rtype.kind
        )));
    }
    if let Some(map) = obj.as_object_mut() {
        // Keep apiVersion and kind first, as the real server serializes them.
        let rest = std::mem::take(map);
        map.insert("apiVersion".into(), json!(expected));
        map.insert("kind".into(), json!(rtype.kind));
        for (k, v) in rest {
            if k != "apiVersion" && k != "kind" {
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

/// `PodList`, `DeploymentList`.
pub(crate) fn list_kind(rtype: &ResourceType) -> String {
    format!("{}List", rtype.kind)
}

/// The metadata of a list response.
pub(crate) fn list_metadata(rv: u64, cont: Option<&str>, remaining: Option<usize>) -> Value {
    let mut m = Map::new();
    m.insert("resourceVersion".into(), json!(rv.to_string()));
    if let Some(c) = cont {
        m.insert("continue".into(), json!(c));
    }
    if let Some(r) = remaining {
        m.insert("remainingItemCount".into(), json!(r));
    }
    Value::Object(m)
}

/// Encodes a JSON list envelope around already-stored items without copying them.
pub(crate) fn encode_list(
    kind: &str,
    api_version: &str,
    metadata: &Value,
    items: &[Arc<Value>],
) -> Bytes {
    let mut out = Vec::with_capacity(256 + items.len() * 1024);
    out.extend_from_slice(b"{\"kind\":");
    write_json(&mut out, &json!(kind));
    out.extend_from_slice(b",\"apiVersion\":");
    write_json(&mut out, &json!(api_version));
    out.extend_from_slice(b",\"metadata\":");
    write_json(&mut out, metadata);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(&mut out, item);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

fn write_json(out: &mut Vec<u8>, v: &Value) {
    // Writing a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// A `PartialObjectMetadata` of an object.
pub(crate) fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The printer columns of a custom resource type.
fn printer_columns(rtype: &ResourceType) -> Option<Vec<PrinterColumn>> {
    rtype.printer_columns.as_ref().map(|cols| {
        cols.iter()
            .filter_map(|c| serde_json::from_value(c.clone()).ok())
            .collect()
    })
}

/// Builds the `Table` of `objects` as the real server does for `kubectl get`.
pub(crate) fn table(
    ctx: &Ctx,
    rtype: &ResourceType,
    objects: &[Value],
    list_meta: &Value,
    version: &str,
) -> ApiResult<Value> {
    let include: IncludeObject = ctx
        .query
        .get("includeObject")
        .unwrap_or("")
        .parse()
        .map_err(|e: crate::table::UnknownIncludeObject| ApiError::bad_request(e.to_string()))?;
    let opts = TableOptions {
        now: ctx.store().clock().now(),
        include_object: include,
    };
    let columns = printer_columns(rtype);
    let mut t = to_table(
        &rtype.group,
        &rtype.kind,
        objects,
        &opts,
        if rtype.custom {
            columns.as_deref()
        } else {
            None
        },
    );
    set_list_metadata(&mut t, list_meta);
    if version != "v1" {
        t["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    }
    Ok(t)
}

/// Renders one object for a read (GET): JSON, YAML, a one-row Table or its metadata.
pub(crate) fn render_object(
    ctx: &Ctx,
    rtype: &ResourceType,
    obj: &Value,
    output: Output,
    code: u16,
) -> ApiResult<Response> {
    match output {
        Output::Table(v) => {
            let rv = json!({"resourceVersion": meta_str(obj, "resourceVersion").unwrap_or("")});
            let t = table(ctx, rtype, std::slice::from_ref(obj), &rv, v)?;
            Ok(super::context::respond(code, &t, output))
        }
        Output::PartialObjectMetadata(v) => Ok(super::context::respond(
            code,
            &partial_metadata(obj, v),
            output,
        )),
        Output::PartialObjectMetadataList(_) => Err(super::negotiate::not_acceptable()),
        Output::Json | Output::AggregatedDiscovery(_) => Ok(bytes_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
            Bytes::from(serde_json::to_vec(obj).unwrap_or_default()),
            "application/json",
        )),
        Output::Yaml => Ok(super::context::respond(code, obj, output)),
    }
}

/// Renders a write's result (JSON or YAML only).
pub(crate) fn render_written(ctx: &Ctx, obj: &Value, code: u16) -> Response {
    let output = match super::negotiate::negotiate(ctx.header(header::ACCEPT), false) {
        Ok(Output::Yaml) => Output::Yaml,
        _ => Output::Json,
    };
    super::context::respond(code, obj, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Catalogue;

    #[test]
    fn type_checks() {
        let cat = Catalogue::default();
        let pods = cat.by_plural("", "v1", "pods").unwrap();
        let mut ok = json!({"metadata": {"name": "p"}});
        check_type(pods, &mut ok).unwrap();
        assert_eq!(ok["apiVersion"], "v1");
        assert_eq!(ok["kind"], "Pod");
        let mut wrong = json!({"apiVersion": "apps/v1", "kind": "Pod"});
        assert_eq!(
            check_type(pods, &mut wrong).unwrap_err().message,
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
    }

    #[test]
    fn list_envelope() {
        let items = vec![Arc::new(json!({"a": 1}))];
        let bytes = encode_list("PodList", "v1", &list_metadata(7, None, None), &items);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        assert_eq!(v["items"][0]["a"], 1);
    }

    #[test]
    fn bodies() {
        assert!(decode_as(b"{", "application/json", "Pod").is_err());
        assert_eq!(
            decode_as(b"[]", "application/json", "Pod")
                .unwrap_err()
                .code,
            400
        );
        let y = decode_as(b"metadata:\n  name: x\n", "application/yaml", "Pod").unwrap();
        assert_eq!(y["metadata"]["name"], "x");
        assert_eq!(
            decode_as(b"x", "application/vnd.kubernetes.protobuf", "Pod")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(decode_as(b"x", "text/html", "Pod").unwrap_err().code, 415);
    }
}
