//! `pods/exec` over WebSocket, with the `v5.channel.k8s.io` and `v4.channel.k8s.io`
//! sub-protocols that kubectl 1.32 and kube-rs offer.
//!
//! Each binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (a
//! `Status` JSON: `Success`, or `Failure` with reason `NonZeroExitCode` and the exit code as
//! the `ExitCode` cause, so kubectl exits with that code), 4 resize; in v5, `[255, 0]` closes
//! stdin. Commands run to completion through [`crate::runtime::PodRuntime::exec`]: without
//! stdin the command runs before the upgrade, so failures (no such container, pod not running)
//! come back as plain HTTP errors as a kubelet's do; with stdin, the input is collected until
//! the client closes it (v5), or until it pauses for half a second (v4, which has no close
//! signal). Interactive sessions (`-it` shells) therefore only see their input once it ends.
//!
//! SPDY upgrades (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`) are refused with a `400` that
//! says so.

use super::ApiState;
use super::read::object_namespace;
use super::request::{Query, ResourcePath};
use super::status::{ApiError, ApiResult};
use crate::auth::{Attributes, Identity};
use crate::runtime::ExecOutput;
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header, request::Parts};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use std::time::Duration;

const V5: &str = "v5.channel.k8s.io";
const V4: &str = "v4.channel.k8s.io";
/// How long a v4 client's stdin may pause before it counts as finished.
const V4_STDIN_IDLE: Duration = Duration::from_millis(500);

/// What the client asked to run.
#[derive(Debug, Clone)]
struct ExecRequest {
    ns: String,
    pod: String,
    container: Option<String>,
    command: Vec<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, needle: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(needle))
}

/// Handles `GET|POST .../pods/{name}/exec` (and `attach`, which is refused).
pub(crate) async fn handle(
    state: ApiState,
    user: Identity,
    rp: ResourcePath,
    query: Query,
    mut parts: Parts,
) -> ApiResult<Response> {
    let rtype = state
        .store()
        .catalogue()
        .by_plural(&rp.group, &rp.version, &rp.plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    let (Some(ns), Some(name)) = (rp.namespace.clone(), rp.name.clone()) else {
        return Err(ApiError::no_route());
    };
    let sub = rp.subresource.clone().unwrap_or_default();
    let attrs = Attributes {
        verb: "create",
        group: "",
        resource: "pods",
        subresource: &sub,
        namespace: Some(&ns),
        name: Some(&name),
    };
    super::authorize(&state, &user, &attrs)
        .map_err(|m| ApiError::forbidden(&rtype.key(), &name, m))?;
    let pods = rtype.key();
    let pod = state
        .store()
        .get_arc(&pods, object_namespace(&rtype, &rp), &name)
        .map_err(|_| ApiError::not_found(&pods, &name))?;
    if !state.policy().visible(&user, "", "pods", &pod) {
        return Err(ApiError::not_found(&pods, &name));
    }
    if sub == "attach" {
        return Err(ApiError::bad_request(
            "the virtual cluster does not support attach; use kubectl logs or kubectl exec",
        ));
    }
    let command: Vec<String> = query.all("command").iter().map(|s| s.to_string()).collect();
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let req = ExecRequest {
        ns: ns.clone(),
        pod: name.clone(),
        container: query.non_empty("container").map(str::to_string),
        command,
        stdin: query.flag("stdin"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
    };
    if !(req.stdin || req.stdout || req.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least one of stdin, stdout, stderr",
        ));
    }
    check_pod(&pod, &req)?;
    let runtime = state.runtime().ok_or_else(|| {
        ApiError::internal("the kubelet of the virtual cluster is not running (no pod runtime)")
    })?;
    // A client falls back to SPDY when the WebSocket upgrade fails; it must then see the
    // same error, so SPDY is refused only once the request itself is known to be good.
    let spdy = header_has(&parts.headers, header::UPGRADE, "spdy");
    if spdy && !req.stdin {
        runtime
            .exec(
                &req.ns,
                &req.pod,
                req.container.as_deref(),
                &req.command,
                None,
            )
            .await
            .map_err(ApiError::from_runtime)?;
    }
    if spdy {
        return Err(ApiError::bad_request(
            "the virtual cluster serves exec over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io), not SPDY; unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false",
        ));
    }
    if !header_has(&parts.headers, header::UPGRADE, "websocket") {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let offered: Vec<String> = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    let version = if offered.iter().any(|p| p == V5) {
        V5
    } else if offered.iter().any(|p| p == V4) {
        V4
    } else {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade: none of the requested sub-protocols {offered:?} are supported; supported: [{V5} {V4}]"
        )));
    };
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("unable to upgrade connection: {e}")))?
        .protocols([version]);
    // Without stdin, run now, so that failures are plain HTTP errors.
    let early = if req.stdin {
        None
    } else {
        Some(
            runtime
                .exec(
                    &req.ns,
                    &req.pod,
                    req.container.as_deref(),
                    &req.command,
                    None,
                )
                .await
                .map_err(ApiError::from_runtime)?,
        )
    };
    Ok(upgrade.on_upgrade(move |socket| async move {
        session(socket, req, version, early, runtime).await;
    }))
}

/// Refuses what a kubelet refuses before it upgrades the connection.
fn check_pod(pod: &Value, req: &ExecRequest) -> ApiResult<()> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    if let Some(c) = &req.container {
        let known = ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
            .flatten()
            .any(|x| x.get("name").and_then(Value::as_str) == Some(c.as_str()));
        if !known {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {}",
                req.pod
            )));
        }
    }
    Ok(())
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(channel);
    out.extend_from_slice(data);
    Message::Binary(Bytes::from(out))
}

/// The error-channel status of a finished command.
fn exit_status(req: &ExecRequest, code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            req.command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
    })
}

/// Collects stdin until the client closes it.
async fn read_stdin(socket: &mut WebSocket, version: &str) -> Option<Vec<u8>> {
    let mut input = Vec::new();
    loop {
        let next = if version == V4 && !input.is_empty() {
            match tokio::time::timeout(V4_STDIN_IDLE, socket.recv()).await {
                Ok(m) => m,
                Err(_) => return Some(input),
            }
        } else {
            socket.recv().await
        };
        match next {
            Some(Ok(Message::Binary(data))) => match data.first() {
                Some(0) => input.extend_from_slice(&data[1..]),
                Some(255) if data.get(1) == Some(&0) => return Some(input),
                _ => {}
            },
            Some(Ok(Message::Text(t))) => {
                // Some clients send text frames; treat them like binary ones.
                let b = t.as_bytes();
                if b.first() == Some(&b'0') {
                    input.extend_from_slice(&b[1..]);
                }
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn session(
    mut socket: WebSocket,
    req: ExecRequest,
    version: &'static str,
    early: Option<ExecOutput>,
    runtime: std::sync::Arc<dyn crate::runtime::PodRuntime>,
) {
    let result = match early {
        Some(out) => Ok(out),
        None => {
            let Some(input) = read_stdin(&mut socket, version).await else {
                return;
            };
            runtime
                .exec(
                    &req.ns,
                    &req.pod,
                    req.container.as_deref(),
                    &req.command,
                    Some(&input),
                )
                .await
        }
    };
    let status = match result {
        Ok(out) => {
            if req.stdout && !out.stdout.is_empty() {
                let _ = socket.send(frame(1, &out.stdout)).await;
            }
            if !out.stderr.is_empty() {
                if req.tty && req.stdout {
                    let _ = socket.send(frame(1, &out.stderr)).await;
                } else if req.stderr {
                    let _ = socket.send(frame(2, &out.stderr)).await;
                }
            }
            exit_status(&req, out.exit_code)
        }
        Err(e) => {
            let api = ApiError::from_runtime(e);
            json!({"metadata": {}, "status": "Failure", "message": api.message,
                   "reason": api.reason, "code": api.code})
        }
    };
    let _ = socket.send(frame(3, status.to_string().as_bytes())).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    // Drain until the client acknowledges the close, so that it reads everything.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ExecRequest {
        ExecRequest {
            ns: "ns".into(),
            pod: "p".into(),
            container: Some("app".into()),
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            stdin: false,
            stdout: true,
            stderr: true,
            tty: false,
        }
    }

    #[test]
    fn non_zero_exit_is_a_failure_with_the_code() {
        let s = exit_status(&req(), 3);
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "ExitCode", "message": "3"})
        );
        assert_eq!(exit_status(&req(), 0)["status"], "Success");
    }

    #[test]
    fn pods_are_checked_before_upgrading() {
        let pod =
            json!({"spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Running"}});
        assert!(check_pod(&pod, &req()).is_ok());
        let mut other = req();
        other.container = Some("db".into());
        assert_eq!(
            check_pod(&pod, &other).unwrap_err().message,
            "container db is not valid for pod p"
        );
        let done =
            json!({"spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Succeeded"}});
        assert!(check_pod(&done, &req()).is_err());
    }
}
