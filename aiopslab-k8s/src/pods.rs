//! Pods: list by label, logs, exec with exit codes, delete by selector.
//!
//! ```no_run
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> aiopslab_k8s::Result<()> {
//! use aiopslab_k8s::ExecOptions;
//! let out = cluster.exec("test", "geo-abc", &["sh", "-c", "echo hi"], &ExecOptions::default()).await?;
//! assert_eq!((out.stdout.as_str(), out.exit_code), ("hi\n", 0));
//! # Ok(()) }
//! ```

use crate::connect::Cluster;
use crate::error::{K8sError, Result, error_chain};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Which log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The container; `None`: the pod's only (or default) container.
    pub container: Option<String>,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// The previous (crashed) run of the container.
    pub previous: bool,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
}

/// How to run a command with exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    /// The container; `None`: the pod's default container.
    pub container: Option<String>,
    /// Bytes to write to the command's standard input (then closed).
    pub stdin: Option<Vec<u8>>,
    /// Time limit for the whole command (default 60 s).
    pub timeout: Duration,
    /// At most this many bytes of each output stream are kept (default 4 MiB).
    pub max_output: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            container: None,
            stdin: None,
            timeout: Duration::from_secs(60),
            max_output: 4 * 1024 * 1024,
        }
    }
}

impl ExecOptions {
    /// Runs in `container`.
    pub fn in_container(container: impl Into<String>) -> Self {
        ExecOptions {
            container: Some(container.into()),
            ..ExecOptions::default()
        }
    }
}

/// What a command run with exec printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// The exit code (0 on success).
    pub exit_code: i32,
    /// Whether an output stream was cut at [`ExecOptions::max_output`].
    pub truncated: bool,
}

impl ExecOutput {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// The exit code in an exec `Status`: `Success` is 0; `Failure` with reason
/// `NonZeroExitCode` carries it as the `ExitCode` cause. Any other failure is `Err` with the
/// server's message (for example, the program does not exist).
pub fn exit_code_of(status: &Status) -> std::result::Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|causes| {
                causes
                    .iter()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
            })
            .and_then(|c| c.message.as_deref())
            .and_then(|m| m.trim().parse::<i32>().ok());
        if let Some(code) = code {
            return Ok(code);
        }
    }
    Err(status
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("the command failed ({:?})", status.reason)))
}

/// Reads a stream to its end, keeping at most `cap` bytes.
async fn read_capped(
    stream: Option<impl AsyncRead + Unpin>,
    cap: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let Some(mut stream) = stream else {
        return Ok((Vec::new(), false));
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        if n > room {
            truncated = true;
        }
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    Ok((kept, truncated))
}

impl Cluster {
    /// Pods in `namespace` matching the label selector (`app=geo,tier!=db`; empty: all),
    /// sorted by name.
    pub async fn list_pods(&self, namespace: &str, selector: &str) -> Result<Vec<Pod>> {
        let api: Api<Pod> = self.api(namespace);
        let params = ListParams::default().labels(selector);
        let list = self
            .call(
                format!("list pods in {namespace} with selector {selector:?}"),
                api.list(&params),
            )
            .await?;
        let mut pods = list.items;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods)
    }

    /// A container's log.
    pub async fn logs(&self, namespace: &str, pod: &str, options: &LogOptions) -> Result<String> {
        let api: Api<Pod> = self.api(namespace);
        let params = LogParams {
            container: options.container.clone(),
            tail_lines: options.tail_lines,
            previous: options.previous,
            since_seconds: options.since_seconds,
            timestamps: options.timestamps,
            ..LogParams::default()
        };
        let what = match &options.container {
            Some(c) => format!("read logs of {namespace}/{pod} container {c}"),
            None => format!("read logs of {namespace}/{pod}"),
        };
        self.call(what, api.logs(pod, &params)).await
    }

    /// Runs `command` (no shell: pass `["sh", "-c", "..."]` for one) in a pod's container
    /// and collects its output and exit code. A command that exits non-zero is `Ok` with
    /// that code; a command that cannot be started, or no exit status within the time
    /// limit, is an error.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        command: &[&str],
        options: &ExecOptions,
    ) -> Result<ExecOutput> {
        let fail = |message: String| K8sError::Exec {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: options.container.clone(),
            message,
        };
        if command.is_empty() {
            return Err(fail("no command given".into()));
        }
        let api: Api<Pod> = self.api(namespace);
        let mut params = AttachParams::default()
            .stdin(options.stdin.is_some())
            .stdout(true)
            .stderr(true);
        if let Some(c) = &options.container {
            params = params.container(c.clone());
        }
        let argv: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let run = async {
            let mut process = api.exec(pod, argv, &params).await.map_err(|e| match &e {
                kube::Error::Api(status) => fail(status.message.clone()),
                _ => fail(error_chain(&e)),
            })?;
            if let (Some(input), Some(mut writer)) = (&options.stdin, process.stdin()) {
                writer
                    .write_all(input)
                    .await
                    .map_err(|e| fail(format!("writing standard input: {e}")))?;
                writer
                    .shutdown()
                    .await
                    .map_err(|e| fail(format!("closing standard input: {e}")))?;
            }
            let status = process.take_status();
            let stdout = process.stdout();
            let stderr = process.stderr();
            let (out, err) = tokio::join!(
                read_capped(stdout, options.max_output),
                read_capped(stderr, options.max_output)
            );
            let (out, out_cut) = out.map_err(|e| fail(format!("reading standard output: {e}")))?;
            let (err, err_cut) = err.map_err(|e| fail(format!("reading standard error: {e}")))?;
            let status = match status {
                Some(s) => s.await,
                None => None,
            };
            let _ = process.join().await;
            let Some(status) = status else {
                return Err(fail(
                    "the exec stream ended without an exit status (the connection broke or the server does not send one)"
                        .into(),
                ));
            };
            let exit_code = exit_code_of(&status).map_err(fail)?;
            Ok(ExecOutput {
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
                exit_code,
                truncated: out_cut || err_cut,
            })
        };
        match tokio::time::timeout(options.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(fail(format!(
                "the command did not finish within {} s",
                options.timeout.as_secs_f64()
            ))),
        }
    }

    /// Deletes the pods matching the label selector (`kubectl delete pod -l ...`), without
    /// waiting for them to terminate. Returns the names deleted. An empty selector is
    /// refused (it would delete every pod of the namespace).
    pub async fn delete_pods(&self, namespace: &str, selector: &str) -> Result<Vec<String>> {
        if selector.trim().is_empty() {
            return Err(K8sError::InvalidArgument(format!(
                "refusing to delete every pod of namespace {namespace}: give a label selector"
            )));
        }
        let api: Api<Pod> = self.api(namespace);
        let mut deleted = Vec::new();
        for pod in self.list_pods(namespace, selector).await? {
            let Some(name) = pod.metadata.name else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match self
                .call(
                    format!("delete pod {namespace}/{name}"),
                    api.delete(&name, &DeleteParams::default()),
                )
                .await
            {
                Ok(_) => deleted.push(name),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).expect("status")
    }

    #[test]
    fn exit_codes_come_from_the_status() {
        assert_eq!(exit_code_of(&status(json!({"status": "Success"}))), Ok(0));
        assert_eq!(
            exit_code_of(&status(json!({
                "status": "Failure", "reason": "NonZeroExitCode",
                "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
            }))),
            Ok(3)
        );
        assert_eq!(
            exit_code_of(&status(json!({
                "status": "Failure", "reason": "InternalError",
                "message": "exec: \"nope\": executable file not found in $PATH"
            }))),
            Err("exec: \"nope\": executable file not found in $PATH".to_string())
        );
    }

    #[tokio::test]
    async fn output_is_capped() {
        let data: &[u8] = b"0123456789";
        let (kept, cut) = read_capped(Some(data), 4).await.unwrap();
        assert_eq!((kept.as_slice(), cut), (&b"0123"[..], true));
        let (kept, cut) = read_capped(Some(data), 40).await.unwrap();
        assert_eq!((kept.len(), cut), (10, false));
    }
}
