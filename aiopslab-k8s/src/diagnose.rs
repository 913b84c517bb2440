//! Why something is not ready: pure judgements over pods, workloads, claims and events.
//!
//! The readiness waits in [`crate::wait`] keep watch caches of these objects and ask the
//! functions here, after every change, whether everything is ready, what is still pending,
//! and whether something can never become ready without a change (a [`Problem`]), in which
//! case the wait stops at once with the reason instead of running into its time limit.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, PersistentVolumeClaim, Pod};
use std::fmt;

/// A reason why a wait can never succeed without someone changing something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A container's image cannot be pulled (`ErrImagePull`, `ImagePullBackOff`, ...).
    ImagePull {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// The image reference.
        image: String,
        /// The waiting reason.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// A container keeps crashing (`CrashLoopBackOff`).
    CrashLoop {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// Restarts so far.
        restarts: i32,
        /// Exit code of the last run, when known.
        exit_code: Option<i32>,
        /// Why the last run ended (`Error`, `OOMKilled`, ...), when known.
        last_reason: Option<String>,
        /// The last log lines of the crashed run.
        logs: Vec<String>,
    },
    /// The scheduler cannot place a pod on any node.
    Unschedulable {
        /// The pod.
        pod: String,
        /// The scheduler's message (`0/3 nodes are available: ...`).
        message: String,
    },
    /// A PersistentVolumeClaim stays Pending with warnings.
    ClaimPending {
        /// The claim.
        claim: String,
        /// A pod that needs it, if any.
        pod: Option<String>,
        /// The claim's events, oldest first (`Warning ProvisioningFailed: ...`).
        events: Vec<String>,
    },
    /// A pod that nothing will replace has failed.
    PodFailed {
        /// The pod.
        pod: String,
        /// The pod's reason.
        reason: String,
        /// The pod's message.
        message: String,
    },
    /// A controller reports that it cannot make progress (`ReplicaFailure`,
    /// `ProgressDeadlineExceeded`).
    WorkloadFailed {
        /// `Deployment`, `StatefulSet`, ...
        kind: String,
        /// The object's name.
        name: String,
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// A Job has failed.
    JobFailed {
        /// The Job.
        job: String,
        /// The `Failed` condition's reason (`BackoffLimitExceeded`, ...).
        reason: String,
        /// The condition's message.
        message: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ImagePull {
                pod,
                container,
                image,
                reason,
                message,
            } => write!(
                f,
                "pod {pod}: container {container} cannot pull image {image:?} ({reason}): {message}. Check the image name and tag, that the registry is reachable, and the pull secret"
            ),
            Problem::CrashLoop {
                pod,
                container,
                restarts,
                exit_code,
                last_reason,
                logs,
            } => {
                write!(
                    f,
                    "pod {pod}: container {container} keeps crashing (CrashLoopBackOff, {restarts} restarts"
                )?;
                if let Some(code) = exit_code {
                    write!(f, ", last exit code {code}")?;
                }
                if let Some(reason) = last_reason {
                    write!(f, ", {reason}")?;
                }
                write!(f, ")")?;
                if logs.is_empty() {
                    write!(f, "; it printed no log lines")?;
                } else {
                    write!(f, "; its last log lines:")?;
                    for line in logs {
                        write!(f, "\n    {line}")?;
                    }
                }
                write!(
                    f,
                    "\nFix the container's command, configuration or dependencies"
                )
            }
            Problem::Unschedulable { pod, message } => write!(
                f,
                "pod {pod} cannot be scheduled: {message}. Check its nodeSelector, affinity, tolerations and resource requests against the nodes"
            ),
            Problem::ClaimPending { claim, pod, events } => {
                write!(f, "PersistentVolumeClaim {claim} stays Pending")?;
                if let Some(pod) = pod {
                    write!(f, " (needed by pod {pod})")?;
                }
                write!(
                    f,
                    ": {}. Check its storage class and that a provisioner or a matching PersistentVolume exists",
                    events.join("; ")
                )
            }
            Problem::PodFailed {
                pod,
                reason,
                message,
            } => write!(f, "pod {pod} failed ({reason}): {message}"),
            Problem::WorkloadFailed {
                kind,
                name,
                reason,
                message,
            } => write!(f, "{kind} {name}: {reason}: {message}"),
            Problem::JobFailed {
                job,
                reason,
                message,
            } => write!(
                f,
                "job {job} failed ({reason}): {message}. Check the logs of its pods"
            ),
        }
    }
}

/// What a pod means for a readiness wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PodVerdict {
    /// Ready.
    Ready,
    /// Not counted: finished, terminating, or failed and replaced by its controller.
    Ignore,
    /// Not ready yet, with why.
    Waiting(String),
    /// Will not become ready.
    Problem(Problem),
}

/// Waiting reasons of a container that mean the image cannot be pulled.
const PULL_FAILURES: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// The events about one object, oldest first. Events naming another uid (an earlier object
/// of the same name) are left out.
fn events_about<'a>(
    events: &'a [&'a Event],
    kind: &str,
    name: &str,
    uid: Option<&str>,
) -> Vec<&'a Event> {
    let mut found: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some(kind)
                && o.name.as_deref() == Some(name)
                && (uid.is_none() || o.uid.is_none() || o.uid.as_deref() == uid)
        })
        .collect();
    found.sort_by_key(|e| event_time(e));
    found
}

/// When an event last happened (for ordering).
fn event_time(e: &Event) -> Option<jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn latest_message(events: &[&Event], reason: &str) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|e| e.reason.as_deref() == Some(reason))
        .and_then(|e| e.message.clone())
}

fn condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// The image a container was created from: the spec's reference (what the user wrote).
fn spec_image(pod: &Pod, container: &str) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .and_then(|c| c.image.clone())
}

fn container_problem(pod: &Pod, status: &ContainerStatus, events: &[&Event]) -> Option<Problem> {
    let pod_name = name_of(&pod.metadata);
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.clone().unwrap_or_default();
    if PULL_FAILURES.contains(&reason.as_str()) {
        let image = spec_image(pod, &status.name).unwrap_or_else(|| status.image.clone());
        let message = waiting
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| latest_message(events, "Failed"))
            .unwrap_or_else(|| "no message from the kubelet".into());
        return Some(Problem::ImagePull {
            pod: pod_name,
            container: status.name.clone(),
            image,
            reason,
            message,
        });
    }
    if reason == "CrashLoopBackOff" {
        let last = status
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref());
        return Some(Problem::CrashLoop {
            pod: pod_name,
            container: status.name.clone(),
            restarts: status.restart_count,
            exit_code: last.map(|t| t.exit_code),
            last_reason: last.and_then(|t| t.reason.clone()),
            logs: Vec::new(),
        });
    }
    None
}

fn owned_by_controller(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true))
}

/// Claims named by the pod's volumes.
pub(crate) fn pod_claims(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .map(|vols| {
            vols.iter()
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Judges one pod. `events` are the namespace's events; `claims` its PVCs.
pub(crate) fn judge_pod(
    pod: &Pod,
    events: &[&Event],
    claims: &[&PersistentVolumeClaim],
) -> PodVerdict {
    let name = name_of(&pod.metadata);
    if pod.metadata.deletion_timestamp.is_some() {
        return PodVerdict::Ignore;
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match phase {
        "Succeeded" => return PodVerdict::Ignore,
        "Failed" => {
            if owned_by_controller(pod) {
                return PodVerdict::Ignore;
            }
            return PodVerdict::Problem(Problem::PodFailed {
                pod: name,
                reason: status.and_then(|s| s.reason.clone()).unwrap_or_default(),
                message: status.and_then(|s| s.message.clone()).unwrap_or_default(),
            });
        }
        _ => {}
    }
    let pod_events = events_about(events, "Pod", &name, pod.metadata.uid.as_deref());
    if let Some(s) = status {
        for cs in s
            .init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
        {
            if let Some(problem) = container_problem(pod, cs, &pod_events) {
                return PodVerdict::Problem(problem);
            }
        }
    }
    if condition(pod, "Ready").is_some_and(|c| c.status == "True") {
        return PodVerdict::Ready;
    }
    // A claim that cannot be bound or provisioned keeps the pod from starting.
    for claim in pod_claims(pod) {
        if let Some(pvc) = claims
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(&claim))
            && let Some(problem) = judge_claim(pvc, events, Some(&name))
        {
            return PodVerdict::Problem(problem);
        }
    }
    if let Some(sched) = condition(pod, "PodScheduled").filter(|c| c.status == "False")
        && sched.reason.as_deref() == Some("Unschedulable")
    {
        // An unbound claim is the cause, not the nodes: wait for it (the claim's own
        // warnings were judged above). A missing claim is left to the scheduler's message.
        for claim in pod_claims(pod) {
            let Some(pvc) = claims
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(&claim))
            else {
                continue;
            };
            if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
                return PodVerdict::Waiting(format!(
                    "pod {name}: waiting for PersistentVolumeClaim {claim} to be bound"
                ));
            }
        }
        // A cluster autoscaler adding a node will fix it.
        if pod_events
            .iter()
            .any(|e| e.reason.as_deref() == Some("TriggeredScaleUp"))
        {
            return PodVerdict::Waiting(format!("pod {name}: waiting for a new node"));
        }
        let message = latest_message(&pod_events, "FailedScheduling")
            .or_else(|| sched.message.clone())
            .unwrap_or_else(|| "no node fits".into());
        return PodVerdict::Problem(Problem::Unschedulable { pod: name, message });
    }
    PodVerdict::Waiting(format!("pod {name}: {}", pod_wait_reason(pod)))
}

/// A short phrase for why a pod is not ready (`ContainerCreating`, `Running, not ready`).
fn pod_wait_reason(pod: &Pod) -> String {
    let Some(status) = pod.status.as_ref() else {
        return "Pending".into();
    };
    if condition(pod, "PodScheduled").is_none_or(|c| c.status != "True") {
        return "not scheduled yet".into();
    }
    for cs in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_else(|| "Waiting".into());
            return match w.message.as_deref().filter(|m| !m.is_empty()) {
                Some(m) => format!("{reason} ({}: {m})", cs.name),
                None => reason,
            };
        }
    }
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    let unready: Vec<&str> = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    if unready.is_empty() {
        phase
    } else {
        format!("{phase}, not ready: {}", unready.join(", "))
    }
}

/// A Pending claim whose latest event is a warning (`ProvisioningFailed`, `FailedBinding`).
pub(crate) fn judge_claim(
    pvc: &PersistentVolumeClaim,
    events: &[&Event],
    pod: Option<&str>,
) -> Option<Problem> {
    if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Pending") {
        return None;
    }
    let name = name_of(&pvc.metadata);
    let about = events_about(
        events,
        "PersistentVolumeClaim",
        &name,
        pvc.metadata.uid.as_deref(),
    );
    let latest = about.last()?;
    if latest.type_.as_deref() != Some("Warning") {
        return None;
    }
    Some(Problem::ClaimPending {
        claim: name,
        pod: pod.map(str::to_string),
        events: about
            .iter()
            .map(|e| {
                format!(
                    "{} {}: {}",
                    e.type_.as_deref().unwrap_or("Normal"),
                    e.reason.as_deref().unwrap_or(""),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .collect(),
    })
}

/// What a workload means for a readiness wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WorkloadVerdict {
    /// Rolled out and available.
    Ready,
    /// Not yet, with why.
    Waiting(String),
    /// Will not get there.
    Problem(Problem),
}

fn observed(generation: Option<i64>, observed: Option<i64>) -> bool {
    match (generation, observed) {
        (Some(g), Some(o)) => o >= g,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Judges a Deployment: the latest generation observed, every replica updated and available,
/// no old replicas left.
pub(crate) fn judge_deployment(d: &Deployment) -> WorkloadVerdict {
    let name = name_of(&d.metadata);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = d.status.as_ref() else {
        return WorkloadVerdict::Waiting(format!("deployment {name}: no status yet"));
    };
    for c in status.conditions.iter().flatten() {
        let failed = (c.type_ == "ReplicaFailure" && c.status == "True")
            || (c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
        if failed {
            return WorkloadVerdict::Problem(Problem::WorkloadFailed {
                kind: "Deployment".into(),
                name,
                reason: c.reason.clone().unwrap_or_else(|| c.type_.clone()),
                message: c.message.clone().unwrap_or_default(),
            });
        }
    }
    if !observed(d.metadata.generation, status.observed_generation) {
        return WorkloadVerdict::Waiting(format!("deployment {name}: rollout not observed yet"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if updated == want && available == want && total == want {
        WorkloadVerdict::Ready
    } else {
        WorkloadVerdict::Waiting(format!(
            "deployment {name}: {available}/{want} available, {updated} updated, {total} total"
        ))
    }
}

/// Judges a StatefulSet: every replica ready and on the current revision.
pub(crate) fn judge_statefulset(s: &StatefulSet) -> WorkloadVerdict {
    let name = name_of(&s.metadata);
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = s.status.as_ref() else {
        return WorkloadVerdict::Waiting(format!("statefulset {name}: no status yet"));
    };
    if !observed(s.metadata.generation, status.observed_generation) {
        return WorkloadVerdict::Waiting(format!("statefulset {name}: not observed yet"));
    }
    let ready = status.ready_replicas.unwrap_or(0);
    let rolling = status.update_revision.is_some()
        && status.current_revision.is_some()
        && status.update_revision != status.current_revision;
    if ready == want && status.replicas == want && !rolling {
        WorkloadVerdict::Ready
    } else {
        WorkloadVerdict::Waiting(format!("statefulset {name}: {ready}/{want} ready"))
    }
}

/// Judges a DaemonSet: a ready pod on every node it should run on.
pub(crate) fn judge_daemonset(d: &DaemonSet) -> WorkloadVerdict {
    let name = name_of(&d.metadata);
    let Some(status) = d.status.as_ref() else {
        return WorkloadVerdict::Waiting(format!("daemonset {name}: no status yet"));
    };
    if !observed(d.metadata.generation, status.observed_generation) {
        return WorkloadVerdict::Waiting(format!("daemonset {name}: not observed yet"));
    }
    let want = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(want);
    if status.number_ready == want && updated == want {
        WorkloadVerdict::Ready
    } else {
        WorkloadVerdict::Waiting(format!(
            "daemonset {name}: {}/{want} ready",
            status.number_ready
        ))
    }
}

/// Judges a Job: `Complete` is ready, `Failed` is a problem.
pub(crate) fn judge_job(job: &Job) -> WorkloadVerdict {
    let name = name_of(&job.metadata);
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .cloned()
        .unwrap_or_default();
    for c in &conditions {
        if c.status != "True" {
            continue;
        }
        if c.type_ == "Complete" {
            return WorkloadVerdict::Ready;
        }
        if c.type_ == "Failed" {
            return WorkloadVerdict::Problem(Problem::JobFailed {
                job: name,
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            });
        }
    }
    let s = job.status.as_ref();
    WorkloadVerdict::Waiting(format!(
        "job {name}: {} active, {} succeeded, {} failed",
        s.and_then(|s| s.active).unwrap_or(0),
        s.and_then(|s| s.succeeded).unwrap_or(0),
        s.and_then(|s| s.failed).unwrap_or(0)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    fn event(kind: &str, name: &str, ty: &str, reason: &str, message: &str, at: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.{at}")},
            "involvedObject": {"kind": kind, "name": name},
            "type": ty, "reason": reason, "message": message,
            "lastTimestamp": at
        }))
        .expect("event")
    }

    #[test]
    fn image_pull_names_the_spec_image_and_message() {
        let p = pod(json!({
            "metadata": {"name": "web-1"},
            "spec": {"containers": [{"name": "web", "image": "doesnotexist/nope:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "web", "image": "docker.io/doesnotexist/nope:1", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
            }]}
        }));
        match judge_pod(&p, &[], &[]) {
            PodVerdict::Problem(Problem::ImagePull {
                image,
                reason,
                message,
                ..
            }) => {
                assert_eq!(image, "doesnotexist/nope:1");
                assert_eq!(reason, "ImagePullBackOff");
                assert_eq!(message, "Back-off pulling image");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unschedulable_prefers_the_latest_scheduler_event() {
        let p = pod(json!({
            "metadata": {"name": "geo-1"},
            "spec": {"containers": [{"name": "geo", "image": "x"}]},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "from the condition"
            }]}
        }));
        let old = event(
            "Pod",
            "geo-1",
            "Warning",
            "FailedScheduling",
            "old",
            "2026-01-01T00:00:00Z",
        );
        let new = event(
            "Pod",
            "geo-1",
            "Warning",
            "FailedScheduling",
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
            "2026-01-01T00:01:00Z",
        );
        let verdict = judge_pod(&p, &[&new, &old], &[]);
        assert_eq!(
            verdict,
            PodVerdict::Problem(Problem::Unschedulable {
                pod: "geo-1".into(),
                message:
                    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
                        .into()
            })
        );
        // Without events the condition's message is used.
        assert!(matches!(
            judge_pod(&p, &[], &[]),
            PodVerdict::Problem(Problem::Unschedulable { message, .. }) if message == "from the condition"
        ));
    }

    #[test]
    fn pending_claim_with_a_warning_is_the_cause() {
        let p = pod(json!({
            "metadata": {"name": "db-1"},
            "spec": {"containers": [{"name": "db", "image": "x"}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "pod has unbound immediate PersistentVolumeClaims"
            }]}
        }));
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data"}, "status": {"phase": "Pending"}
        }))
        .expect("pvc");
        let ev = event(
            "PersistentVolumeClaim",
            "data",
            "Warning",
            "ProvisioningFailed",
            "storageclass.storage.k8s.io \"fast\" not found",
            "2026-01-01T00:00:00Z",
        );
        match judge_pod(&p, &[&ev], &[&pvc]) {
            PodVerdict::Problem(Problem::ClaimPending { claim, pod, events }) => {
                assert_eq!(claim, "data");
                assert_eq!(pod.as_deref(), Some("db-1"));
                assert_eq!(
                    events,
                    vec![
                        "Warning ProvisioningFailed: storageclass.storage.k8s.io \"fast\" not found"
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        // A normal event (WaitForFirstConsumer) is only waiting.
        let normal = event(
            "PersistentVolumeClaim",
            "data",
            "Normal",
            "WaitForFirstConsumer",
            "waiting",
            "2026-01-01T00:00:00Z",
        );
        assert!(matches!(
            judge_pod(&p, &[&normal], &[&pvc]),
            PodVerdict::Waiting(_)
        ));
    }

    #[test]
    fn finished_terminating_and_replaced_pods_are_not_counted() {
        let done = pod(json!({"metadata": {"name": "a"}, "status": {"phase": "Succeeded"}}));
        assert_eq!(judge_pod(&done, &[], &[]), PodVerdict::Ignore);
        let owned_failed = pod(json!({
            "metadata": {"name": "b", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]},
            "status": {"phase": "Failed", "reason": "Evicted"}
        }));
        assert_eq!(judge_pod(&owned_failed, &[], &[]), PodVerdict::Ignore);
        let bare_failed = pod(json!({
            "metadata": {"name": "c"},
            "status": {"phase": "Failed", "reason": "Evicted", "message": "low on memory"}
        }));
        assert!(matches!(
            judge_pod(&bare_failed, &[], &[]),
            PodVerdict::Problem(Problem::PodFailed { .. })
        ));
    }

    #[test]
    fn deployment_needs_every_replica_updated_and_available() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "geo", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}
        }))
        .expect("deployment");
        assert!(matches!(judge_deployment(&d), WorkloadVerdict::Waiting(_)));
        let mut done = d.clone();
        if let Some(s) = done.status.as_mut() {
            s.replicas = Some(2);
        }
        assert_eq!(judge_deployment(&done), WorkloadVerdict::Ready);
    }

    #[test]
    fn crash_loop_display_lists_the_log_lines() {
        let p = Problem::CrashLoop {
            pod: "c-1".into(),
            container: "c".into(),
            restarts: 3,
            exit_code: Some(1),
            last_reason: Some("Error".into()),
            logs: vec!["starting up".into(), "panic: boom".into()],
        };
        assert_eq!(
            p.to_string(),
            "pod c-1: container c keeps crashing (CrashLoopBackOff, 3 restarts, last exit code 1, Error); its last log lines:\n    starting up\n    panic: boom\nFix the container's command, configuration or dependencies"
        );
    }
}
