//! The context of one request and the helpers every handler uses to answer.

use super::ApiState;
use super::negotiate::Output;
use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::auth::Identity;
use crate::store::Store;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

/// One authenticated request with its body read.
pub(crate) struct Ctx {
    pub state: ApiState,
    pub user: Identity,
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Query,
    pub body: Bytes,
}

impl Ctx {
    /// The object store.
    pub fn store(&self) -> &Store {
        self.state.store()
    }

    /// A request header as text.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A JSON response.
    pub fn json(&self, code: u16, value: &Value) -> Response {
        respond(code, value, Output::Json)
    }

    /// A 200 response in a given representation.
    pub fn json_as(&self, output: Output, value: &Value) -> Response {
        respond(200, value, output)
    }

    /// Whether the request is a dry run (`dryRun=All`); other values are refused as the real
    /// server refuses them.
    pub fn dry_run(&self) -> ApiResult<bool> {
        let values = self.query.all("dryRun");
        if values.is_empty() {
            return Ok(false);
        }
        for v in &values {
            if *v != "All" {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: {v:?}: supported values: \"All\""
                )));
            }
        }
        Ok(true)
    }

    /// The `fieldManager` query parameter.
    pub fn field_manager(&self) -> Option<&str> {
        self.query.non_empty("fieldManager")
    }
}

/// A response with `value` rendered as `output` (JSON unless YAML was asked for).
pub(crate) fn respond(code: u16, value: &Value, output: Output) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    let (body, content_type) = match output {
        Output::Yaml => match serde_saphyr::to_string(value) {
            Ok(text) => (Bytes::from(text), "application/yaml".to_string()),
            Err(e) => return ApiError::internal(format!("encoding YAML: {e}")).into_response(),
        },
        other => (
            Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            other.content_type(),
        ),
    };
    bytes_response(status, body, &content_type)
}

/// A response from already-encoded bytes.
pub(crate) fn bytes_response(status: StatusCode, body: Bytes, content_type: &str) -> Response {
    let mut resp = (status, body).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}
