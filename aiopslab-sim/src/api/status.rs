//! `Status` errors: the one place where every failure becomes the response a real API server
//! sends (HTTP code, `reason`, `message`, `details`).

use crate::resources::ResourceKey;
use crate::runtime::RuntimeError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One field error of an `Invalid` status (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: String,
    /// The message without the field path.
    pub message: String,
    /// The field path (`metadata.name`).
    pub field: String,
}

/// A failed request, rendered as a `meta/v1 Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The machine-readable reason (`NotFound`, `Conflict`, ...).
    pub reason: String,
    /// The human-readable message kubectl prints.
    pub message: String,
    /// `details` (boxed: errors travel in every `Result` of the handlers).
    pub details: Box<Details>,
}

/// The `details` of a `Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the plural resource for most reasons, the Kind for `Invalid`).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds`.
    pub retry_after: Option<i64>,
}

/// The result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A status with code, reason and message and no details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: Box::default(),
        }
    }

    /// Sets `details.name`, `details.group` and `details.kind`.
    pub fn with_details(mut self, name: &str, group: &str, kind: &str) -> Self {
        self.details.name = Some(name.to_string());
        self.details.group = (!group.is_empty()).then(|| group.to_string());
        self.details.kind = Some(kind.to_string());
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 404 NotFound for a named object of `resource`.
    pub fn not_found(resource: &ResourceKey, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{resource} \"{name}\" not found")).with_details(
            name,
            &resource.group,
            &resource.plural,
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 409 Conflict with the real optimistic-concurrency message.
    pub fn conflict(resource: &ResourceKey, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {why}"),
        )
        .with_details(name, &resource.group, &resource.plural)
    }

    /// 403 Forbidden about `resource`/`name`.
    pub fn forbidden(resource: &ResourceKey, name: &str, message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message).with_details(name, &resource.group, &resource.plural)
    }

    /// 415 UnsupportedMediaType listing what is accepted.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 422 Invalid: `Kind.group "name" is invalid: field: message`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let parts: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = match parts.len() {
            0 => String::new(),
            1 => parts[0].clone(),
            _ => format!("[{}]", parts.join(", ")),
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {summary}"),
        )
        .with_details(name, group, kind);
        e.details.causes = causes;
        e
    }

    /// 500 InternalError: `Internal error occurred: ...`.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        );
        e.details.causes = vec![Cause {
            reason: String::new(),
            message: message.to_string(),
            field: String::new(),
        }];
        e
    }

    /// 410 Expired.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let d = &self.details;
        let mut details = Map::new();
        if let Some(n) = &d.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &d.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &d.kind {
            details.insert("kind".into(), json!(k));
        }
        if !d.causes.is_empty() {
            let causes: Vec<Value> = d
                .causes
                .iter()
                .map(|c| {
                    let mut m = Map::new();
                    if !c.reason.is_empty() {
                        m.insert("reason".into(), json!(c.reason));
                    }
                    m.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        m.insert("field".into(), json!(c.field));
                    }
                    Value::Object(m)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = d.retry_after {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), json!("Failure"));
        status.insert("message".into(), json!(self.message));
        status.insert("reason".into(), json!(self.reason));
        let no_details = d.name.is_none() && d.kind.is_none() && d.causes.is_empty();
        if !no_details || self.reason == "NotFound" {
            status.insert("details".into(), Value::Object(details));
        }
        status.insert("code".into(), json!(self.code));
        Value::Object(status)
    }

    /// Rebuilds an error from a `Status` object another module produced (admission, patch).
    pub fn from_status_value(code: u16, status: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let details = status.get("details");
        let mut e = Self::new(
            code,
            &text(status.get("reason")).unwrap_or_else(|| "InternalError".into()),
            text(status.get("message")).unwrap_or_default(),
        );
        if let Some(d) = details {
            e.details.name = text(d.get("name"));
            e.details.group = text(d.get("group")).filter(|g| !g.is_empty());
            e.details.kind = text(d.get("kind"));
            e.details.causes = d
                .get("causes")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| Cause {
                            reason: text(c.get("reason")).unwrap_or_default(),
                            message: text(c.get("message")).unwrap_or_default(),
                            field: text(c.get("field")).unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            e.details.retry_after = d.get("retryAfterSeconds").and_then(Value::as_i64);
        }
        e
    }

    /// Maps a store error on `resource` to the real status.
    pub fn from_store(err: StoreError, kind: &str) -> Self {
        match err {
            StoreError::NotFound { resource, name } => Self::not_found(&resource, &name),
            StoreError::AlreadyExists { resource, name } => Self::new(
                409,
                "AlreadyExists",
                format!("{resource} \"{name}\" already exists"),
            )
            .with_details(&name, &resource.group, &resource.plural),
            StoreError::Conflict { resource, name } => Self::conflict(
                &resource,
                &name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ),
            StoreError::Gone { requested, oldest } => {
                Self::expired(format!("too old resource version: {requested} ({oldest})"))
            }
            StoreError::Invalid(message) => {
                let _ = kind;
                Self::bad_request(message)
            }
        }
    }

    /// Maps a pod runtime error (logs, exec).
    pub fn from_runtime(err: RuntimeError) -> Self {
        match err {
            RuntimeError::BadRequest(m) => Self::bad_request(m),
            RuntimeError::NotFound(m) => Self::new(404, "NotFound", m),
            RuntimeError::Internal(m) => Self::internal(m),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut resp = (code, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(r) = self.details.retry_after
            && let Ok(v) = HeaderValue::from_str(&r.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// A `Status` of success, as returned by some deletes and by bindings/evictions.
pub fn success_status(code: u16, details: Option<Value>) -> Value {
    let mut status = Map::new();
    status.insert("kind".into(), json!("Status"));
    status.insert("apiVersion".into(), json!("v1"));
    status.insert("metadata".into(), json!({}));
    status.insert("status".into(), json!("Success"));
    if let Some(d) = details {
        status.insert("details".into(), d);
    }
    status.insert("code".into(), json!(code));
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_has_real_shape() {
        let e = ApiError::not_found(&ResourceKey::new("apps", "deployments"), "geo");
        assert_eq!(
            e.to_status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "deployments.apps \"geo\" not found", "reason": "NotFound",
                "details": {"name": "geo", "group": "apps", "kind": "deployments"}, "code": 404})
        );
        assert_eq!(ApiError::no_route().to_status()["details"], json!({}));
    }

    #[test]
    fn invalid_joins_causes() {
        let c = |f: &str| Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: f.into(),
        };
        let one = ApiError::invalid("Service", "", "x", vec![c("spec.ports")]);
        assert_eq!(
            one.message,
            "Service \"x\" is invalid: spec.ports: Required value"
        );
        let two = ApiError::invalid("Deployment", "apps", "x", vec![c("a"), c("b")]);
        assert_eq!(
            two.message,
            "Deployment.apps \"x\" is invalid: [a: Required value, b: Required value]"
        );
        assert_eq!(two.to_status()["details"]["kind"], "Deployment");
    }
}
