//! Starting the wrk2 Job, waiting for it and reading its report, through the Kubernetes API
//! only (the same on the virtual cluster and a real one).
//!
//! Differences from AIOpsLab's `Wrk.start_workload`, on purpose:
//! - an existing `wrk2-job` is deleted with Foreground propagation and then *watched* until it
//!   is gone (AIOpsLab sleeps 5 s and hopes), and this happens before the ConfigMap is
//!   replaced, so that a still-running old pod never sees the new script;
//! - waiting ends when the Job succeeded (AIOpsLab polls `status.ready` every 5 s and never
//!   looks at `succeeded`, so a pod that finishes between two polls leaves it spinning), fails
//!   with the failed pod's log tail, and has a time limit;
//! - a pod that cannot start (image pull, bad config) fails the wait at once.

use crate::error::{Result, WorkloadError, tail};
use crate::params::Wrk2;
use crate::render::{self, CONTAINER_NAME, JOB_NAME, NAMESPACE, Script};
use crate::report::Wrk2Report;
use aiopslab_k8s::wait::selector_string;
use aiopslab_k8s::{Cluster, K8sError, LogOptions};
use futures::{Stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// How long [`Wrk2::start`] waits for an old Job and its pods to go away.
pub const DELETE_LIMIT: Duration = Duration::from_secs(120);

/// Lines of the pod's log that go into a failure.
const TAIL_LINES: usize = 20;

/// A wrk2 Job that was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrk2Job {
    /// Namespace (`default`).
    pub namespace: String,
    /// Name (`wrk2-job`).
    pub name: String,
    /// The Job's uid (a later Job of the same name is another run).
    pub uid: String,
    /// The label selector of its pods.
    pub pod_selector: String,
    /// The requested duration in seconds.
    pub duration_secs: u64,
}

/// A finished run: the pod, its whole log and the parsed report.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The pod that ran wrk2.
    pub pod: String,
    /// The pod's log.
    pub log: String,
    /// The parsed report.
    pub report: Wrk2Report,
}

fn kube_error(action: impl Into<String>, error: kube::Error) -> WorkloadError {
    let action = action.into();
    WorkloadError::Cluster(match error {
        kube::Error::Api(status) => K8sError::Api {
            action,
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        other => K8sError::Api {
            action,
            code: 0,
            reason: String::new(),
            message: other.to_string(),
        },
    })
}

impl Wrk2 {
    /// Starts the workload: deletes a previous `wrk2-job` (Foreground) and waits until it is
    /// gone, replaces the ConfigMap `wrk2-payload-script` with `script`, and creates the Job
    /// against `url`. Returns without waiting for the run.
    pub async fn start(&self, cluster: &Cluster, script: &Script, url: &str) -> Result<Wrk2Job> {
        self.validate()?;
        if script.name.is_empty() || script.name.contains('/') {
            return Err(WorkloadError::InvalidParameters(format!(
                "the script name {:?} must be a plain file name (it becomes /scripts/<name>)",
                script.name
            )));
        }
        delete_job(cluster, DELETE_LIMIT).await?;
        cluster
            .delete::<ConfigMap>(NAMESPACE, render::CONFIGMAP_NAME)
            .await?;
        cluster
            .create(NAMESPACE, &render::configmap(script))
            .await?;
        let created: Job = cluster
            .create(NAMESPACE, &render::job(self, &script.name, url))
            .await?;
        let uid = created.metadata.uid.clone().unwrap_or_default();
        let selector = created
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(selector_string)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("controller-uid={uid}"));
        Ok(Wrk2Job {
            namespace: NAMESPACE.to_string(),
            name: JOB_NAME.to_string(),
            uid,
            pod_selector: selector,
            duration_secs: self.duration,
        })
    }

    /// [`Wrk2::start`], then [`Wrk2Job::wait`] with [`Wrk2Job::default_limit`].
    pub async fn run(&self, cluster: &Cluster, script: &Script, url: &str) -> Result<Finished> {
        let job = self.start(cluster, script, url).await?;
        job.wait(cluster, job.default_limit()).await
    }
}

/// Deletes `default/wrk2-job` with Foreground propagation and watches until it (and so its
/// pods) are gone. Returns whether there was one.
pub async fn delete_job(cluster: &Cluster, limit: Duration) -> Result<bool> {
    let jobs: Api<Job> = cluster.api(NAMESPACE);
    let action = format!("delete job {NAMESPACE}/{JOB_NAME}");
    let found = within(cluster, &action, jobs.get_opt(JOB_NAME)).await?;
    let Some(old) = found else {
        return Ok(false);
    };
    let uid = old.metadata.uid.clone().unwrap_or_default();
    match within(
        cluster,
        &action,
        jobs.delete(JOB_NAME, &DeleteParams::foreground()),
    )
    .await
    {
        Ok(_) => {}
        Err(WorkloadError::Cluster(e)) if e.is_not_found() => return Ok(true),
        Err(e) => return Err(e),
    }
    let gone = await_condition(jobs, JOB_NAME, conditions::is_deleted(&uid));
    match tokio::time::timeout(limit, gone).await {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => Err(WorkloadError::Cluster(K8sError::Api {
            action: format!("watch job {NAMESPACE}/{JOB_NAME} being deleted"),
            code: 0,
            reason: String::new(),
            message: e.to_string(),
        })),
        Err(_) => Err(WorkloadError::DeleteTimeout {
            namespace: NAMESPACE.into(),
            name: JOB_NAME.into(),
            secs: limit.as_secs(),
        }),
    }
}

/// Runs one API call with the cluster's request time limit.
async fn within<T>(
    cluster: &Cluster,
    action: &str,
    fut: impl Future<Output = std::result::Result<T, kube::Error>>,
) -> Result<T> {
    match tokio::time::timeout(cluster.request_timeout(), fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(kube_error(action, e)),
        Err(_) => Err(WorkloadError::Cluster(K8sError::Timeout {
            action: action.to_string(),
            server: cluster.server_url().to_string(),
            secs: cluster.request_timeout().as_secs(),
        })),
    }
}

/// What the wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// The pod runs (AIOpsLab's `status.ready`) or already finished.
    Started,
    /// The Job succeeded.
    Finished,
}

/// What the watched objects say.
enum Verdict {
    Pending(String),
    Started,
    Succeeded(String),
    /// The Job counts a finished pod that the pod watch has not shown yet.
    Stale,
    Failed {
        pod: Option<String>,
        reason: String,
    },
}

impl Wrk2Job {
    /// The default time limit of [`Wrk2Job::wait`]: the run's duration plus two minutes for
    /// scheduling and the image pull on a real cluster.
    pub fn default_limit(&self) -> Duration {
        Duration::from_secs(self.duration_secs.saturating_add(120))
    }

    /// Waits until the wrk2 pod is running (what AIOpsLab's `start_workload` waits for), or
    /// has already finished. Fails like [`Wrk2Job::wait`] when the pod fails.
    pub async fn wait_started(&self, cluster: &Cluster, limit: Duration) -> Result<()> {
        self.watch(cluster, limit, Goal::Started).await.map(|_| ())
    }

    /// Waits until the Job succeeded and returns the pod's log and parsed report. A failed pod
    /// (non-zero exit), a pod that cannot start, or the Job's `Failed` condition is an error
    /// with the pod's last log lines; so is running out of `limit`.
    pub async fn wait(&self, cluster: &Cluster, limit: Duration) -> Result<Finished> {
        let pod = self
            .watch(cluster, limit, Goal::Finished)
            .await?
            .unwrap_or_default();
        let log = self.log(cluster, &pod).await?;
        let report = Wrk2Report::parse(&log)?;
        Ok(Finished { pod, log, report })
    }

    async fn log(&self, cluster: &Cluster, pod: &str) -> Result<String> {
        let options = LogOptions {
            container: Some(CONTAINER_NAME.into()),
            ..LogOptions::default()
        };
        Ok(cluster.logs(&self.namespace, pod, &options).await?)
    }

    async fn watch(
        &self,
        cluster: &Cluster,
        limit: Duration,
        goal: Goal,
    ) -> Result<Option<String>> {
        let deadline = Instant::now() + limit;
        let jobs: Api<Job> = cluster.api(&self.namespace);
        let pods: Api<Pod> = cluster.api(&self.namespace);
        let mut job_events = boxed(watcher(
            jobs,
            watcher::Config::default().fields(&format!("metadata.name={}", self.name)),
        ));
        let mut pod_events = boxed(watcher(
            pods,
            watcher::Config::default().labels(&self.pod_selector),
        ));
        let mut job: Option<Job> = None;
        let mut pod_map: BTreeMap<String, Pod> = BTreeMap::new();
        let mut last_state = String::from("the Job was not seen yet");
        loop {
            tokio::select! {
                ev = job_events.next() => match ev {
                    Some(Ok(watcher::Event::Apply(j) | watcher::Event::InitApply(j))) => {
                        // The name is fixed: another uid means ours was replaced.
                        if j.metadata.uid.as_deref() != Some(self.uid.as_str()) {
                            return Err(self.deleted());
                        }
                        job = Some(j);
                    }
                    Some(Ok(watcher::Event::Delete(j))) => {
                        if j.metadata.uid.as_deref() == Some(self.uid.as_str()) {
                            return Err(self.deleted());
                        }
                    }
                    Some(Ok(watcher::Event::InitDone)) => {
                        if job.is_none() {
                            return Err(self.deleted());
                        }
                    }
                    Some(Ok(watcher::Event::Init)) => {}
                    Some(Err(e)) => return Err(self.watch_failed("job", e)),
                    None => return Err(self.watch_failed("job", "the stream ended")),
                },
                ev = pod_events.next() => match ev {
                    Some(Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p))) => {
                        pod_map.insert(p.metadata.name.clone().unwrap_or_default(), p);
                    }
                    Some(Ok(watcher::Event::Delete(p))) => {
                        pod_map.remove(p.metadata.name.as_deref().unwrap_or_default());
                    }
                    Some(Ok(watcher::Event::Init)) => pod_map.clear(),
                    Some(Ok(watcher::Event::InitDone)) => {}
                    Some(Err(e)) => return Err(self.watch_failed("pods", e)),
                    None => return Err(self.watch_failed("pods", "the stream ended")),
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(WorkloadError::WaitTimeout {
                        namespace: self.namespace.clone(),
                        name: self.name.clone(),
                        secs: limit.as_secs(),
                        state: last_state,
                    });
                }
            }
            let Some(j) = &job else { continue };
            let mut verdict = judge(j, &pod_map, false);
            if matches!(verdict, Verdict::Stale) {
                let listed = cluster
                    .list_pods(&self.namespace, &self.pod_selector)
                    .await?;
                pod_map = listed
                    .into_iter()
                    .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
                    .collect();
                verdict = judge(j, &pod_map, true);
            }
            match verdict {
                Verdict::Stale => {}
                Verdict::Pending(state) => last_state = state,
                Verdict::Started if goal == Goal::Started => return Ok(None),
                Verdict::Started => last_state = "wrk2 is running".into(),
                Verdict::Succeeded(pod) => return Ok(Some(pod)),
                Verdict::Failed { pod, reason } => {
                    let log_tail = match &pod {
                        Some(p) => self
                            .log(cluster, p)
                            .await
                            .map(|l| tail(&l, TAIL_LINES))
                            .unwrap_or_default(),
                        None => vec![],
                    };
                    return Err(WorkloadError::JobFailed {
                        namespace: self.namespace.clone(),
                        name: self.name.clone(),
                        reason,
                        log_tail,
                    });
                }
            }
        }
    }

    fn deleted(&self) -> WorkloadError {
        WorkloadError::JobDeleted {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    fn watch_failed(&self, what: &str, e: impl std::fmt::Display) -> WorkloadError {
        WorkloadError::Cluster(K8sError::Api {
            action: format!("watch {what} of job {}/{}", self.namespace, self.name),
            code: 0,
            reason: String::new(),
            message: e.to_string(),
        })
    }
}

type BoxedEvents<K> =
    Pin<Box<dyn Stream<Item = std::result::Result<watcher::Event<K>, watcher::Error>> + Send>>;

fn boxed<K: Send + 'static>(
    s: impl Stream<Item = std::result::Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> BoxedEvents<K> {
    Box::pin(s)
}

/// Waiting reasons of a container that will not start by itself.
const STUCK: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Judges the Job and its pods. The two watches are separate streams, so the Job can count a
/// finished pod before the pod watch shows it finished: then, unless `fresh` (the pods were
/// just listed), the verdict is [`Verdict::Stale`].
fn judge(job: &Job, pods: &BTreeMap<String, Pod>, fresh: bool) -> Verdict {
    let status = job.status.clone().unwrap_or_default();
    let failed_pod = pods
        .iter()
        .find(|(_, p)| phase(p) == "Failed")
        .map(|(n, p)| (n.clone(), p));
    if let Some((name, pod)) = &failed_pod {
        return Verdict::Failed {
            pod: Some(name.clone()),
            reason: format!("pod {name} {}", termination(pod)),
        };
    }
    if let Some(c) = status.conditions.as_ref().and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "Failed" && c.status == "True")
    }) {
        return Verdict::Failed {
            pod: None,
            reason: format!(
                "{}: {}",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ),
        };
    }
    let counted = status.failed.unwrap_or(0) > 0 || status.succeeded.unwrap_or(0) > 0;
    let seen = pods
        .values()
        .any(|p| matches!(phase(p), "Succeeded" | "Failed"));
    if counted && !seen && !fresh {
        return Verdict::Stale;
    }
    if status.failed.unwrap_or(0) > 0 {
        return Verdict::Failed {
            pod: pods.keys().next().cloned(),
            reason: format!("{} pod(s) failed", status.failed.unwrap_or(0)),
        };
    }
    if let Some((name, _)) = pods.iter().find(|(_, p)| phase(p) == "Succeeded") {
        return Verdict::Succeeded(name.clone());
    }
    if status.succeeded.unwrap_or(0) > 0 {
        // The pod is gone from our view (deleted after finishing); its log went with it.
        return Verdict::Failed {
            pod: None,
            reason: "the Job succeeded but its pod was deleted before its log could be read".into(),
        };
    }
    for (name, pod) in pods {
        for cs in pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                let reason = w.reason.clone().unwrap_or_default();
                if STUCK.contains(&reason.as_str()) {
                    return Verdict::Failed {
                        pod: None,
                        reason: format!(
                            "pod {name} cannot start: {reason}: {}",
                            w.message.clone().unwrap_or_default()
                        ),
                    };
                }
            }
        }
        if phase(pod) == "Running" {
            return Verdict::Started;
        }
    }
    let describe: Vec<String> = pods
        .iter()
        .map(|(n, p)| format!("pod {n}: {}", pod_state(p)))
        .collect();
    Verdict::Pending(format!(
        "{} active, {} succeeded, {} failed{}{}",
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0),
        status.failed.unwrap_or(0),
        if describe.is_empty() {
            "; no pod yet"
        } else {
            "; "
        },
        describe.join(", ")
    ))
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn pod_state(pod: &Pod) -> String {
    let waiting = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    match waiting {
        Some(r) => format!("{} ({r})", phase(pod)),
        None => phase(pod).to_string(),
    }
}

fn termination(pod: &Pod) -> String {
    let term = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER_NAME).or(cs.first()))
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref());
    match term {
        Some(t) => {
            let mut s = format!("exited with code {}", t.exit_code);
            if let Some(r) = t.reason.as_deref().filter(|r| !r.is_empty()) {
                s.push_str(&format!(" ({r})"));
            }
            if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
                s.push_str(&format!(": {m}"));
            }
            s
        }
        None => {
            let reason = pod
                .status
                .as_ref()
                .and_then(|s| s.reason.clone())
                .unwrap_or_else(|| "unknown reason".into());
            format!("failed ({reason})")
        }
    }
}
