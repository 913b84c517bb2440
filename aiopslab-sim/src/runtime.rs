//! The seam between the API server and what runs inside pods.
//!
//! The HTTP layer serves `pods/log` and `pods/exec`, but what a container printed and what a
//! command does inside it belong to the kubelet and to the behaviour of each container image.
//! [`PodRuntime`] is that seam: the kubelet implements it for the cluster, and the HTTP layer only
//! calls it. Per-image behaviour (later: per application) plugs in below the kubelet.

use async_trait::async_trait;

/// Options of a log request, as in `GET .../pods/{name}/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Container name; `None` means the pod's only container (an error when it has several).
    pub container: Option<String>,
    /// Logs of the previous (terminated) instance of the container.
    pub previous: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Only lines at or after this RFC 3339 time.
    pub since_time: Option<String>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// At most this many bytes.
    pub limit_bytes: Option<i64>,
}

/// What a command run with `exec` produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Bytes written to standard output.
    pub stdout: Vec<u8>,
    /// Bytes written to standard error.
    pub stderr: Vec<u8>,
    /// The exit code (0 for success).
    pub exit_code: i32,
}

/// Why a runtime request failed; each maps to an HTTP status the real server would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// 400: e.g. `a container name must be specified for pod geo-1, choose one of: [a b]`,
    /// `container "x" in pod "p" is waiting to start: ContainerCreating`,
    /// `previous terminated container "c" in pod "p" not found`.
    #[error("{0}")]
    BadRequest(String),
    /// 404: the pod or container does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 500: anything else.
    #[error("{0}")]
    Internal(String),
}

/// Access to running containers: their logs and commands run inside them.
///
/// Implemented by the kubelet of the virtual cluster; the HTTP layer calls it for
/// `pods/log` and `pods/exec`.
#[async_trait]
pub trait PodRuntime: Send + Sync {
    /// The log text of a container (lines end with `\n`), after applying `options`.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<String, RuntimeError>;

    /// Runs `command` in a container (`None`: the pod's first container) with optional input
    /// on standard input.
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, RuntimeError>;
}
