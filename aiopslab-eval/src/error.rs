//! The error type of this crate.

use aiopslab_k8s::K8sError;

/// Why an oracle could not judge the cluster (as opposed to judging that the mitigation
/// failed, which is a [`crate::Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A request to the cluster failed.
    #[error("cannot {action}: {source}")]
    Cluster {
        /// What was being done (`list pods in namespace geo`).
        action: String,
        /// The cluster error.
        #[source]
        source: K8sError,
    },
    /// A direct API request failed.
    #[error("cannot {action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// A request got no answer in time.
    #[error("cannot {action}: the API server did not answer within {secs} s")]
    Timeout {
        /// What was being done.
        action: String,
        /// The time limit in seconds.
        secs: u64,
    },
    /// A watch failed in a way retrying will not fix (no rights, no such resource).
    #[error(
        "cannot watch {what} (HTTP {code}): {message}. Check that the oracle's credentials may list and watch it"
    )]
    Watch {
        /// What was watched (`pods in namespace geo`).
        what: String,
        /// The HTTP status code (0 when the stream just ended).
        code: u16,
        /// The server's message.
        message: String,
    },
}

impl OracleError {
    /// Wraps a cluster error with what was being done.
    pub fn cluster(action: impl Into<String>, source: K8sError) -> Self {
        OracleError::Cluster {
            action: action.into(),
            source,
        }
    }
}
