//! Field errors worded like `k8s.io/apimachinery/pkg/util/validation/field`, and name checks.

use crate::controllers::util::sd;
use crate::resources::ResourceType;
use serde_json::Value;
use std::fmt;

/// The kind of a field error (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Invalid value: <value>: <detail>`.
    Invalid,
    /// `Required value` (with an optional detail).
    Required,
    /// `Forbidden: <detail>`.
    Forbidden,
    /// `Unsupported value: <value>: supported values: ...`.
    NotSupported,
    /// `Duplicate value: <value>`.
    Duplicate,
}

impl FieldErrorKind {
    /// The `StatusCause.reason` of this kind.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
        }
    }
}

/// One validation error on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// The field path (`spec.template.metadata.labels`).
    pub field: String,
    /// The offending value as Go's `%#v` prints it (`"x"`, `3`, `map[string]string{...}`).
    pub value: String,
    /// The explanation.
    pub detail: String,
}

impl FieldError {
    /// An `Invalid value` error.
    pub fn invalid(field: &str, value: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Invalid,
            field: field.into(),
            value: value.into(),
            detail: detail.into(),
        }
    }

    /// A `Required value` error.
    pub fn required(field: &str, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Required,
            field: field.into(),
            value: String::new(),
            detail: detail.into(),
        }
    }

    /// A `Forbidden` error.
    pub fn forbidden(field: &str, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            value: String::new(),
            detail: detail.into(),
        }
    }

    /// An `Unsupported value` error listing the supported values.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldError {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: format!("{value:?}"),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }

    /// A `Duplicate value` error.
    pub fn duplicate(field: &str, value: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Duplicate,
            field: field.into(),
            value: value.into(),
            detail: String::new(),
        }
    }

    /// The error without its field path (`StatusCause.message`).
    pub fn body(&self) -> String {
        match self.kind {
            FieldErrorKind::Invalid => {
                if self.detail.is_empty() {
                    format!("Invalid value: {}", self.value)
                } else {
                    format!("Invalid value: {}: {}", self.value, self.detail)
                }
            }
            FieldErrorKind::Required => {
                if self.detail.is_empty() {
                    "Required value".to_string()
                } else {
                    format!("Required value: {}", self.detail)
                }
            }
            FieldErrorKind::Forbidden => format!("Forbidden: {}", self.detail),
            FieldErrorKind::NotSupported => {
                format!("Unsupported value: {}: {}", self.value, self.detail)
            }
            FieldErrorKind::Duplicate => format!("Duplicate value: {}", self.value),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str, first_alpha: bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && (if first_alpha {
            b[0].is_ascii_lowercase()
        } else {
            b[0].is_ascii_alphanumeric()
        })
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|part| is_label(part, false))
}

/// Checks `metadata.name` the way each kind's validation does.
pub(super) fn validate_name(rtype: &ResourceType, obj: &Value, errors: &mut Vec<FieldError>) {
    let name = sd(obj, "/metadata/name");
    if name.is_empty() {
        if sd(obj, "/metadata/generateName").is_empty() {
            errors.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
        return;
    }
    let (ok, rule) = match (rtype.group.as_str(), rtype.kind.as_str()) {
        ("", "Service") => (is_label(name, true), DNS1035_LABEL),
        ("", "Namespace") => (is_label(name, false), DNS1123_LABEL),
        ("apps", "StatefulSet") | ("apps", "Deployment") | ("apps", "DaemonSet") => {
            (is_subdomain(name), DNS1123_SUBDOMAIN)
        }
        _ => (is_subdomain(name), DNS1123_SUBDOMAIN),
    };
    if !ok {
        errors.push(FieldError::invalid(
            "metadata.name",
            format!("{name:?}"),
            rule,
        ));
    }
}

/// Checks a label map's keys and values (`metadata.labels`).
pub(super) fn validate_labels(field: &str, labels: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(map) = labels.and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        let value = v.as_str().unwrap_or_default();
        let ok_value = value.is_empty()
            || (value.len() <= 63
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && value.starts_with(|c: char| c.is_ascii_alphanumeric())
                && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
        if !ok_value {
            errors.push(FieldError::invalid(
                field,
                format!("{value:?}"),
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ));
        }
        let key_name = k.rsplit('/').next().unwrap_or_default();
        let ok_key = !key_name.is_empty()
            && key_name.len() <= 63
            && key_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && key_name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key_name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok_key {
            errors.push(FieldError::invalid(
                field,
                format!("{k:?}"),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_field_package() {
        let e = FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0");
        assert_eq!(
            e.to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::required("spec.selector", "").to_string(),
            "spec.selector: Required value"
        );
        assert_eq!(
            FieldError::not_supported("spec.restartPolicy", "Never", &["Always"]).to_string(),
            "spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
        );
    }

    #[test]
    fn names() {
        assert!(is_label("geo-1", true));
        assert!(!is_label("1geo", true));
        assert!(is_subdomain("a.b-c"));
        assert!(!is_subdomain("A"));
        assert!(!is_subdomain("a_"));
    }
}
