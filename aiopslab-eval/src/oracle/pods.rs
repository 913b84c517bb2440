//! Every pod of a namespace healthy.
//!
//! AIOpsLab's "every container OK" check fails a container that waits in
//! `CrashLoopBackOff`, that terminated with a reason other than `Completed`, or that is not
//! ready; but it skips (or crashes on) pods that have no container statuses, so a pod that
//! is Pending forever passes. Here a pod is healthy when all its containers are running and
//! ready; anything else fails with the reason: Pending (with the scheduler's message),
//! waiting (`CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `ContainerCreating`...),
//! terminated with an error, running but not ready, or a failed pod. Pods being deleted and
//! pods that completed their work (phase `Succeeded`) are not judged.

use super::Oracle;
use crate::error::OracleError;
use crate::text::truncate;
use crate::verdict::Verdict;
use aiopslab_k8s::Cluster;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// The longest kubelet or scheduler message kept in a reason, in characters.
const MAX_MESSAGE: usize = 200;

/// How one pod is judged.
enum PodHealth {
    Healthy,
    Skipped,
    Unhealthy(String),
}

fn message_suffix(message: Option<&String>) -> String {
    match message.map(|m| m.trim()).filter(|m| !m.is_empty()) {
        Some(m) => format!(": {}", truncate(m, MAX_MESSAGE)),
        None => String::new(),
    }
}

/// Why a container is not healthy, if it is not. `init` says whether it is an init
/// container (which must have completed instead of running).
fn container_problem(status: &ContainerStatus, init: bool) -> Option<String> {
    let label = if init { "init container" } else { "container" };
    let name = &status.name;
    let state = status.state.as_ref();
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or("unknown reason");
        if init && reason == "PodInitializing" {
            return None;
        }
        let restarts = if status.restart_count > 0 {
            let n = status.restart_count;
            format!(" after {n} {}", if n == 1 { "restart" } else { "restarts" })
        } else {
            String::new()
        };
        return Some(format!(
            "{label} {name} is waiting ({reason}{restarts}){}",
            message_suffix(waiting.message.as_ref())
        ));
    }
    if let Some(done) = state.and_then(|s| s.terminated.as_ref()) {
        let reason = done.reason.as_deref().unwrap_or("");
        if reason == "Completed" || (init && done.exit_code == 0) {
            // A finished init container did its job; a finished main container is judged
            // by readiness below (a Completed main container is not ready).
            if init {
                return None;
            }
        } else {
            let reason = if reason.is_empty() {
                "no reason"
            } else {
                reason
            };
            return Some(format!(
                "{label} {name} terminated ({reason}, exit code {}){}",
                done.exit_code,
                message_suffix(done.message.as_ref())
            ));
        }
    }
    if init {
        // Running init containers have not finished yet.
        return state
            .and_then(|s| s.running.as_ref())
            .map(|_| format!("{label} {name} is still running"));
    }
    if !status.ready {
        let what = if state.and_then(|s| s.running.as_ref()).is_some() {
            "is running but not ready"
        } else if state.and_then(|s| s.terminated.as_ref()).is_some() {
            "has completed and is not running"
        } else {
            "is not ready"
        };
        return Some(format!("{label} {name} {what}"));
    }
    None
}

fn judge(pod: &Pod) -> PodHealth {
    let name = pod.metadata.name.as_deref().unwrap_or("<unnamed>");
    if pod.metadata.deletion_timestamp.is_some() {
        return PodHealth::Skipped;
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match phase {
        "Succeeded" => return PodHealth::Skipped,
        "Failed" => {
            let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("Failed");
            return PodHealth::Unhealthy(format!(
                "pod {name} has failed ({reason}){}",
                message_suffix(status.and_then(|s| s.message.as_ref()))
            ));
        }
        _ => {}
    }
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    for init in status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[])
    {
        if let Some(problem) = container_problem(init, true) {
            return PodHealth::Unhealthy(format!("pod {name}: {problem}"));
        }
    }
    if statuses.is_empty() {
        // Pending without containers: say why from the PodScheduled condition.
        let scheduled = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[])
            .iter()
            .find(|c| c.type_ == "PodScheduled");
        let why = match scheduled {
            Some(c) if c.status == "False" => format!(
                "not scheduled ({}){}",
                c.reason.as_deref().unwrap_or("no reason"),
                message_suffix(c.message.as_ref())
            ),
            Some(_) => "scheduled, but no container has started".to_string(),
            None => "not scheduled yet".to_string(),
        };
        return PodHealth::Unhealthy(format!("pod {name} is {phase}: {why}"));
    }
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    for container in containers {
        match statuses.iter().find(|s| s.name == container.name) {
            None => {
                return PodHealth::Unhealthy(format!(
                    "pod {name}: container {} has no status yet",
                    container.name
                ));
            }
            Some(s) => {
                if let Some(problem) = container_problem(s, false) {
                    return PodHealth::Unhealthy(format!("pod {name}: {problem}"));
                }
            }
        }
    }
    // Statuses of containers the spec does not list (should not happen) are judged too.
    for s in statuses {
        if !containers.iter().any(|c| c.name == s.name)
            && let Some(problem) = container_problem(s, false)
        {
            return PodHealth::Unhealthy(format!("pod {name}: {problem}"));
        }
    }
    PodHealth::Healthy
}

/// Why a pod is not healthy, in one line, or `None` when it is healthy or not judged
/// (being deleted, or `Succeeded`).
///
/// ```
/// use aiopslab_eval::oracle::pod_problem;
/// use k8s_openapi::api::core::v1::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "user-1"},
///     "spec": {"containers": [{"name": "user", "image": "x"}]},
///     "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
///         "reason": "Unschedulable", "message": "0/3 nodes are available"}]}
/// })).unwrap();
/// assert_eq!(
///     pod_problem(&pod).unwrap(),
///     "pod user-1 is Pending: not scheduled (Unschedulable): 0/3 nodes are available"
/// );
/// ```
pub fn pod_problem(pod: &Pod) -> Option<String> {
    match judge(pod) {
        PodHealth::Unhealthy(why) => Some(why),
        PodHealth::Healthy | PodHealth::Skipped => None,
    }
}

/// Judges a set of pods: the first unhealthy one (by name) fails the check.
pub(crate) fn judge_pods(namespace: &str, selector: Option<&str>, pods: &[Pod]) -> Verdict {
    let mut pods: Vec<&Pod> = pods.iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut healthy = 0usize;
    let mut problems = Vec::new();
    for pod in pods {
        match judge(pod) {
            PodHealth::Healthy => healthy += 1,
            PodHealth::Skipped => {}
            PodHealth::Unhealthy(why) => problems.push(why),
        }
    }
    let scope = match selector {
        Some(sel) => format!("namespace {namespace} matching {sel}"),
        None => format!("namespace {namespace}"),
    };
    match problems.len() {
        0 if healthy == 0 => Verdict::pass(format!("no pods to judge in {scope}")),
        0 => Verdict::pass(format!(
            "all {healthy} pods in {scope} are running and ready"
        )),
        1 => Verdict::fail(problems.remove(0)),
        n => Verdict::fail(format!(
            "{} (and {} more unhealthy pods in {scope})",
            problems.remove(0),
            n - 1
        )),
    }
}

/// Every pod of a namespace (optionally only those matching a label selector) is running
/// and ready. See the module docs for what counts as unhealthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodsHealthy {
    namespace: String,
    selector: Option<String>,
}

impl PodsHealthy {
    /// Every pod of `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        PodsHealthy {
            namespace: namespace.into(),
            selector: None,
        }
    }

    /// Only the pods matching a label selector (`app=geo`).
    pub fn matching(mut self, selector: impl Into<String>) -> Self {
        self.selector = Some(selector.into());
        self
    }
}

#[async_trait::async_trait]
impl Oracle for PodsHealthy {
    fn describe(&self) -> String {
        match &self.selector {
            Some(sel) => format!("pods in {} matching {sel} are healthy", self.namespace),
            None => format!("every pod in {} is healthy", self.namespace),
        }
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        let selector = self.selector.as_deref().unwrap_or("");
        let pods = cluster
            .list_pods(&self.namespace, selector)
            .await
            .map_err(|e| {
                OracleError::cluster(format!("list pods in namespace {}", self.namespace), e)
            })?;
        Ok(judge_pods(&self.namespace, self.selector.as_deref(), &pods))
    }
}
