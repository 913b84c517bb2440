//! Errors of the patch functions, each mapping to the HTTP status and `Status` reason the real
//! API server answers with.

use serde_json::{Map, Value, json};

/// One entry of a `Status`'s `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    /// The machine-readable cause (`FieldManagerConflict`, `FieldValueRequired`, ...); the JSON
    /// key is `reason`.
    pub reason: String,
    /// A human-readable description of the cause.
    pub message: String,
    /// The field the cause is about (`.spec.replicas`, `fieldManager`, ...), or empty.
    pub field: String,
}

impl StatusCause {
    fn to_json(&self) -> Value {
        let mut cause = Map::new();
        if !self.reason.is_empty() {
            cause.insert("reason".into(), Value::String(self.reason.clone()));
        }
        if !self.message.is_empty() {
            cause.insert("message".into(), Value::String(self.message.clone()));
        }
        if !self.field.is_empty() {
            cause.insert("field".into(), Value::String(self.field.clone()));
        }
        Value::Object(cause)
    }
}

/// Why a patch could not be applied.
///
/// Each variant corresponds to one status the real API server answers with; [`code`],
/// [`reason`] and [`to_status`] give what the HTTP layer sends back.
///
/// [`code`]: PatchError::code
/// [`reason`]: PatchError::reason
/// [`to_status`]: PatchError::to_status
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 400 `BadRequest`: the patch body cannot be decoded or is malformed (bad JSON or YAML, a
    /// bad directive, a list item without its merge key, a wrong `apiVersion` in an apply).
    #[error("{message}")]
    BadRequest {
        /// The `Status` message.
        message: String,
    },
    /// 415 `UnsupportedMediaType`: the patch type is not accepted for this kind (a strategic
    /// merge patch on a custom resource, or an unknown content type).
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {}",
        accepted.join(", ")
    )]
    UnsupportedMediaType {
        /// The media types the kind does accept, in the server's order.
        accepted: Vec<String>,
    },
    /// 409 `Conflict`: server-side apply would change fields other managers own.
    #[error("{message}")]
    Conflict {
        /// The `Status` message (`Apply failed with 1 conflict: ...`).
        message: String,
        /// One cause per conflicting field.
        causes: Vec<StatusCause>,
    },
    /// 422 `Invalid`: the patch is well formed but cannot be applied to this object (a JSON
    /// patch `test` that fails, a path that does not exist, missing `fieldManager`).
    #[error("{message}{}", detail_suffix(message, causes))]
    Invalid {
        /// The `Status` message.
        message: String,
        /// `details.group`, `details.kind` and `details.name`, when the server fills them in.
        group: String,
        /// See `group`.
        kind: String,
        /// See `group`.
        name: String,
        /// What exactly was wrong.
        causes: Vec<StatusCause>,
    },
    /// 413 `RequestEntityTooLarge`: a JSON patch with more operations than the server allows.
    #[error("{message}")]
    RequestEntityTooLarge {
        /// The `Status` message.
        message: String,
    },
}

/// The causes a message does not already spell out, for `Display` (logs and tests).
fn detail_suffix(message: &str, causes: &[StatusCause]) -> String {
    causes
        .iter()
        .filter(|cause| !message.contains(&cause.message))
        .map(|cause| {
            if cause.field.is_empty() {
                format!(": {}", cause.message)
            } else {
                format!(": {}: {}", cause.field, cause.message)
            }
        })
        .collect()
}

impl PatchError {
    /// A 400 `BadRequest` with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        PatchError::BadRequest {
            message: message.into(),
        }
    }

    /// A 422 `Invalid` the way the API server reports a patch that does not apply: the generic
    /// message "the server rejected our request due to an error in our request" (what
    /// `kubectl` prints after "The request is invalid: "), with `detail` as a cause on the
    /// field `patch` so that the reason is not lost.
    pub fn patch_rejected(detail: impl Into<String>) -> Self {
        PatchError::Invalid {
            message: "the server rejected our request due to an error in our request".into(),
            group: String::new(),
            kind: String::new(),
            name: String::new(),
            causes: vec![StatusCause {
                reason: "FieldValueInvalid".into(),
                message: detail.into(),
                field: "patch".into(),
            }],
        }
    }

    /// A 415 listing the accepted media types.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        PatchError::UnsupportedMediaType {
            accepted: accepted.iter().map(|media| media.to_string()).collect(),
        }
    }

    /// The HTTP status code: 400, 409, 413, 415 or 422.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest { .. } => 400,
            PatchError::Conflict { .. } => 409,
            PatchError::RequestEntityTooLarge { .. } => 413,
            PatchError::UnsupportedMediaType { .. } => 415,
            PatchError::Invalid { .. } => 422,
        }
    }

    /// The `Status` reason: `BadRequest`, `Conflict`, `RequestEntityTooLarge`,
    /// `UnsupportedMediaType` or `Invalid`.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest { .. } => "BadRequest",
            PatchError::Conflict { .. } => "Conflict",
            PatchError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            PatchError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            PatchError::Invalid { .. } => "Invalid",
        }
    }

    /// The `Status` message, as the real server words it (without the causes).
    pub fn message(&self) -> String {
        match self {
            PatchError::BadRequest { message }
            | PatchError::Conflict { message, .. }
            | PatchError::Invalid { message, .. }
            | PatchError::RequestEntityTooLarge { message } => message.clone(),
            PatchError::UnsupportedMediaType { .. } => self.to_string(),
        }
    }

    /// The `details.causes` entries (empty for most errors).
    pub fn causes(&self) -> &[StatusCause] {
        match self {
            PatchError::Conflict { causes, .. } | PatchError::Invalid { causes, .. } => causes,
            _ => &[],
        }
    }

    /// The full `Status` object to send as the response body.
    ///
    /// ```
    /// use aiopslab_sim::patch::PatchError;
    /// let status = PatchError::bad_request("invalid JSON document").to_status();
    /// assert_eq!(status["kind"], "Status");
    /// assert_eq!(status["code"], 400);
    /// assert_eq!(status["reason"], "BadRequest");
    /// ```
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": self.reason(),
        });
        let mut details = Map::new();
        if let PatchError::Invalid {
            group, kind, name, ..
        } = self
        {
            if !name.is_empty() {
                details.insert("name".into(), Value::String(name.clone()));
            }
            if !group.is_empty() {
                details.insert("group".into(), Value::String(group.clone()));
            }
            if !kind.is_empty() {
                details.insert("kind".into(), Value::String(kind.clone()));
            }
        }
        if !self.causes().is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(self.causes().iter().map(StatusCause::to_json).collect()),
            );
        }
        if let Some(object) = status.as_object_mut() {
            if !details.is_empty() {
                object.insert("details".into(), Value::Object(details));
            }
            object.insert("code".into(), Value::from(self.code()));
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_reasons() {
        let cases = [
            (PatchError::bad_request("x"), 400, "BadRequest"),
            (
                PatchError::unsupported_media_type(&["application/json-patch+json"]),
                415,
                "UnsupportedMediaType",
            ),
            (
                PatchError::Conflict {
                    message: "x".into(),
                    causes: vec![],
                },
                409,
                "Conflict",
            ),
            (PatchError::patch_rejected("x"), 422, "Invalid"),
            (
                PatchError::RequestEntityTooLarge {
                    message: "x".into(),
                },
                413,
                "RequestEntityTooLarge",
            ),
        ];
        for (error, code, reason) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.reason(), reason);
            assert_eq!(error.to_status()["code"], code);
            assert_eq!(error.to_status()["reason"], reason);
        }
    }

    #[test]
    fn unsupported_media_type_message_matches_the_server() {
        let error = PatchError::unsupported_media_type(&[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ]);
        assert_eq!(
            error.message(),
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml"
        );
    }

    #[test]
    fn rejected_patch_keeps_the_detail_as_a_cause() {
        let error = PatchError::patch_rejected("testing value /spec/replicas failed");
        let status = error.to_status();
        assert_eq!(
            status["message"],
            "the server rejected our request due to an error in our request"
        );
        assert_eq!(
            status["details"]["causes"][0]["message"],
            "testing value /spec/replicas failed"
        );
        assert_eq!(status["details"]["causes"][0]["field"], "patch");
        assert!(
            error
                .to_string()
                .ends_with("patch: testing value /spec/replicas failed")
        );
    }
}
