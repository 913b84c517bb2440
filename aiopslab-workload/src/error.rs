//! The error type of this crate: each variant says what went wrong and what to do.

use aiopslab_k8s::K8sError;

/// Shorthand for `Result<T, WorkloadError>`.
pub type Result<T, E = WorkloadError> = std::result::Result<T, E>;

/// Everything that can go wrong while running the wrk2 workload.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The parameters are ones wrk2 refuses.
    #[error("invalid wrk2 parameters: {0}")]
    InvalidParameters(String),
    /// The target Service or its ClusterIP could not be found.
    #[error("cannot resolve the workload URL: {0}")]
    Target(String),
    /// A call to the cluster failed.
    #[error(transparent)]
    Cluster(#[from] K8sError),
    /// The old Job did not go away in time.
    #[error(
        "the previous Job {namespace}/{name} was still being deleted after {secs} s; its pods may be stuck terminating (check `kubectl get pods -n {namespace} -l job-name={name}`)"
    )]
    DeleteTimeout {
        /// Namespace.
        namespace: String,
        /// Job name.
        name: String,
        /// The limit in seconds.
        secs: u64,
    },
    /// The Job did not finish within the time limit.
    #[error(
        "the wrk2 Job {namespace}/{name} did not finish within {secs} s ({state}); check its pod with `kubectl describe pods -n {namespace} -l job-name={name}` or raise the time limit"
    )]
    WaitTimeout {
        /// Namespace.
        namespace: String,
        /// Job name.
        name: String,
        /// The limit in seconds.
        secs: u64,
        /// What the Job and its pod were doing.
        state: String,
    },
    /// The wrk2 pod failed (or could not start).
    #[error(
        "the wrk2 Job {namespace}/{name} failed: {reason}{}",
        tail_text(log_tail)
    )]
    JobFailed {
        /// Namespace.
        namespace: String,
        /// Job name.
        name: String,
        /// Why, with the pod and exit code where known.
        reason: String,
        /// The last lines of the pod's log.
        log_tail: Vec<String>,
    },
    /// The Job disappeared while it was being waited for.
    #[error(
        "the wrk2 Job {namespace}/{name} was deleted while it was being waited for (someone else started a new workload?)"
    )]
    JobDeleted {
        /// Namespace.
        namespace: String,
        /// Job name.
        name: String,
    },
    /// The log of a finished run is not a wrk2 report.
    #[error("the wrk2 log is not a report: {message}{}", tail_text(log_tail))]
    Report {
        /// What was missing or malformed.
        message: String,
        /// The last lines of the log.
        log_tail: Vec<String>,
    },
}

fn tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        "; the pod printed nothing".to_string()
    } else {
        format!("; last log lines:\n{}", lines.join("\n"))
    }
}

/// The last `n` lines of `log`.
pub(crate) fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_names_reason_and_tail() {
        let e = WorkloadError::JobFailed {
            namespace: "default".into(),
            name: "wrk2-job".into(),
            reason: "pod wrk2-job-abcde exited with code 1".into(),
            log_tail: tail("a\nb\nc\n", 2),
        };
        let text = e.to_string();
        assert!(
            text.ends_with("exited with code 1; last log lines:\nb\nc"),
            "{text}"
        );
        let empty = WorkloadError::Report {
            message: "no summary".into(),
            log_tail: vec![],
        };
        assert!(empty.to_string().ends_with("the pod printed nothing"));
    }
}
