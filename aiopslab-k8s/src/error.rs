//! The error type of this crate: every variant says what went wrong and what to do about it.

use crate::diagnose::Problem;
use std::path::PathBuf;

/// Shorthand for `Result<T, K8sError>`.
pub type Result<T, E = K8sError> = std::result::Result<T, E>;

/// Everything that can go wrong while talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The kubeconfig file could not be read or parsed.
    #[error(
        "cannot load the kubeconfig {path}: {message}. Check that the file exists and is a valid kubeconfig (only the file passed explicitly is read; KUBECONFIG is ignored)"
    )]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The named context is not in the kubeconfig.
    #[error(
        "the kubeconfig {path} has no context named {context:?}; it has: {}. Name one of these",
        list_or_none(available)
    )]
    UnknownContext {
        /// The file.
        path: PathBuf,
        /// The context asked for.
        context: String,
        /// The contexts the file has.
        available: Vec<String>,
    },
    /// No context was named and the file has no `current-context`.
    #[error(
        "the kubeconfig {path} sets no current-context and none was named; name one of: {}",
        list_or_none(available)
    )]
    NoContext {
        /// The file.
        path: PathBuf,
        /// The contexts the file has.
        available: Vec<String>,
    },
    /// The API server could not be reached (refused, DNS, TLS, timeout).
    #[error(
        "cannot reach the Kubernetes API server at {server} (context {context:?}): {message}. Check that the cluster is running, that the server address and port in the kubeconfig are right, and that no firewall, VPN or proxy is in the way"
    )]
    Unreachable {
        /// The server URL from the kubeconfig.
        server: String,
        /// The context used.
        context: String,
        /// The underlying error chain.
        message: String,
    },
    /// The TLS handshake failed (certificate not trusted, wrong host name).
    #[error(
        "TLS with the API server at {server} (context {context:?}) failed: {message}. Check the certificate-authority data of the cluster entry in the kubeconfig and that the server address matches the certificate"
    )]
    Tls {
        /// The server URL.
        server: String,
        /// The context used.
        context: String,
        /// The underlying error chain.
        message: String,
    },
    /// The server refused the credentials.
    #[error(
        "the API server at {server} refused the credentials of context {context:?} ({code}): {message}. The token or certificate may have expired; refresh the kubeconfig"
    )]
    Unauthorized {
        /// The server URL.
        server: String,
        /// The context used.
        context: String,
        /// HTTP status code (401 or 403).
        code: u16,
        /// The server's message.
        message: String,
    },
    /// An API call did not answer within the time limit.
    #[error(
        "{action}: no answer from the API server at {server} within {secs} s. The server may be overloaded or hanging; check its health, or raise the request timeout"
    )]
    Timeout {
        /// What was being done.
        action: String,
        /// The server URL.
        server: String,
        /// The time limit in seconds.
        secs: u64,
    },
    /// The API server refused a request.
    #[error("{action}: {message}{}", api_hint(*code))]
    Api {
        /// What was being done (`get deployment test/geo`).
        action: String,
        /// HTTP status code (0 when no status came back).
        code: u16,
        /// The server's reason (`NotFound`, `Invalid`, ...), when known.
        reason: String,
        /// The server's message or the client error.
        message: String,
    },
    /// A manifest document could not be understood.
    #[error("{location}: {message}")]
    Manifest {
        /// File, document number, line and object (`app.yaml, document 2 (line 14), Deployment geo`).
        location: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A manifest names a kind no API of the cluster serves.
    #[error("{location}: the cluster serves no kind {kind:?} in {api_version:?}. {hint}")]
    UnknownKind {
        /// Where the object came from.
        location: String,
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
        /// What is missing (usually a CRD) and what to install.
        hint: String,
    },
    /// The server refused to apply an object.
    #[error("{location}: the API server refused to apply it: {message}{}", api_hint(*code))]
    Apply {
        /// Where the object came from and which object it is.
        location: String,
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// A readiness wait found a reason why it can never succeed.
    #[error("namespace {namespace}: {problem}")]
    NotReady {
        /// The namespace waited on.
        namespace: String,
        /// The reason.
        problem: Box<Problem>,
    },
    /// A wait ran out of time.
    #[error(
        "timed out after {secs} s waiting for {what}; still waiting for: {}. Inspect them with kubectl describe, or raise the time limit",
        list_or_none(waiting_for)
    )]
    WaitTimeout {
        /// What was waited for.
        what: String,
        /// The limit in seconds.
        secs: u64,
        /// What was not done yet, with the reason where known.
        waiting_for: Vec<String>,
    },
    /// A watch stream failed in a way that retrying will not fix.
    #[error("{action}: the watch failed: {message}{}", api_hint(*code))]
    Watch {
        /// What was being watched.
        action: String,
        /// HTTP status code (0 when none).
        code: u16,
        /// The error.
        message: String,
    },
    /// A command run with exec could not be run or gave no exit status.
    #[error(
        "exec in pod {namespace}/{pod}{}: {message}",
        container_suffix(container)
    )]
    Exec {
        /// The namespace.
        namespace: String,
        /// The pod.
        pod: String,
        /// The container, when one was named.
        container: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A caller passed something unusable (empty name, bad selector, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

fn container_suffix(container: &Option<String>) -> String {
    container
        .as_deref()
        .map(|c| format!(" (container {c})"))
        .unwrap_or_default()
}

/// What to do about an API status code.
fn api_hint(code: u16) -> &'static str {
    match code {
        401 => " (the credentials were not accepted: refresh the kubeconfig)",
        403 => {
            " (the credentials lack the RBAC rights for this: use the admin kubeconfig or grant them)"
        }
        404 => " (it does not exist: check the name and namespace)",
        409 => " (the object changed or exists already: read it again and retry)",
        422 => " (the object is invalid: fix the fields named above)",
        429 => " (the server is rate limiting: retry later)",
        500..=599 => " (the server failed: check the API server's health)",
        _ => "",
    }
}

impl K8sError {
    /// The HTTP status code of an API refusal, if this is one.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            K8sError::Api { code, .. }
            | K8sError::Apply { code, .. }
            | K8sError::Unauthorized { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }

    /// Wraps a kube error with the action that failed.
    pub(crate) fn api(action: impl Into<String>, error: kube::Error) -> K8sError {
        let action = action.into();
        match &error {
            kube::Error::Api(status) => K8sError::Api {
                action,
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            _ => K8sError::Api {
                action,
                code: 0,
                reason: String::new(),
                message: error_chain(&error),
            },
        }
    }
}

/// The error and all its sources, joined with `: ` (without repeats).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = K8sError::UnknownContext {
            path: "/tmp/k".into(),
            context: "prod".into(),
            available: vec!["kind-kind".into(), "aiopslab".into()],
        };
        assert_eq!(
            e.to_string(),
            "the kubeconfig /tmp/k has no context named \"prod\"; it has: kind-kind, aiopslab. Name one of these"
        );
        let e = K8sError::Api {
            action: "get deployment test/geo".into(),
            code: 404,
            reason: "NotFound".into(),
            message: "deployments.apps \"geo\" not found".into(),
        };
        assert!(e.is_not_found());
        assert!(
            e.to_string()
                .ends_with("(it does not exist: check the name and namespace)")
        );
    }

    #[test]
    fn error_chain_skips_repeats() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = K8sError::Io {
            path: "/x".into(),
            source: inner,
        };
        assert_eq!(error_chain(&outer), "/x: refused");
    }
}
