//! Readiness waits built on watches, failing fast with the reason.
//!
//! A wait keeps watch caches (kube-runtime reflectors) of the pods, workloads, claims and
//! events it concerns and judges them after every change (see [`crate::diagnose`]): it ends
//! as soon as everything is ready, or as soon as something shows that it never will
//! (an image that cannot be pulled, a crash loop, an unschedulable pod, a claim that cannot
//! be provisioned, a failed Job), or at the time limit with the list of what was still
//! pending. Nothing polls the API; progress is reported through a callback.
//!
//! ```no_run
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> aiopslab_k8s::Result<()> {
//! use aiopslab_k8s::WaitOptions;
//! use std::time::Duration;
//! let done = cluster
//!     .wait_namespace_ready(
//!         "test-hotel-reservation",
//!         WaitOptions::new(Duration::from_secs(300)).on_progress(|p| eprintln!("{p}")),
//!     )
//!     .await?;
//! println!("{done}");
//! # Ok(()) }
//! ```

use crate::connect::Cluster;
use crate::diagnose::{
    PodVerdict, Problem, WorkloadVerdict, judge_daemonset, judge_deployment, judge_job, judge_pod,
    judge_statefulset,
};
use crate::error::{K8sError, Result};
use crate::manifest::split_api_version;
use crate::pods::LogOptions;
use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::core::{DynamicObject, GroupVersionKind, Resource};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How far a wait has got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Pods that are Ready.
    pub pods_ready: usize,
    /// Pods counted (finished, terminating and replaced pods are not).
    pub pods_total: usize,
    /// Workloads (Deployments, StatefulSets, DaemonSets, Jobs) that are done.
    pub workloads_ready: usize,
    /// Workloads counted.
    pub workloads_total: usize,
    /// What is not ready yet, with why (`pod geo-1: ContainerCreating`).
    pub waiting_for: Vec<String>,
}

impl Progress {
    /// Whether nothing is left to wait for.
    pub fn is_ready(&self) -> bool {
        self.waiting_for.is_empty()
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pods ready {}/{}, workloads ready {}/{}",
            self.pods_ready, self.pods_total, self.workloads_ready, self.workloads_total
        )?;
        if !self.waiting_for.is_empty() {
            write!(f, "; waiting for: {}", self.waiting_for.join(", "))?;
        }
        Ok(())
    }
}

/// A progress callback.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// The time limit and progress callback of a wait.
pub struct WaitOptions {
    /// The time limit.
    pub timeout: Duration,
    /// How many log lines of a crash-looping container go into the error (default 20).
    pub log_lines: i64,
    /// How long a pod must have been Ready before it counts (default 0.5 s), so that a
    /// container that crashes right after starting is caught; zero disables. Pods that were
    /// Ready long before the wait began count at once.
    pub settle: Duration,
    on_progress: Option<ProgressFn>,
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("log_lines", &self.log_lines)
            .field("settle", &self.settle)
            .field("on_progress", &self.on_progress.is_some())
            .finish()
    }
}

impl WaitOptions {
    /// Waits at most `timeout`, without a progress callback.
    pub fn new(timeout: Duration) -> Self {
        WaitOptions {
            timeout,
            log_lines: 20,
            settle: Duration::from_millis(500),
            on_progress: None,
        }
    }

    /// Sets how long a pod must have been Ready before it counts.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Calls `f` whenever the progress changes (and once at the end).
    pub fn on_progress(mut self, f: impl FnMut(&Progress) + Send + 'static) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }

    fn report(&mut self, progress: &Progress) {
        if let Some(f) = self.on_progress.as_mut() {
            f(progress);
        }
    }
}

/// What a wait covers.
#[derive(Debug, Clone)]
enum Scope {
    Namespace,
    Deployment(String),
    Job(String),
}

impl Scope {
    fn describe(&self, ns: &str) -> String {
        match self {
            Scope::Namespace => format!("namespace {ns} to be ready"),
            Scope::Deployment(name) => format!("deployment {ns}/{name} to be rolled out"),
            Scope::Job(name) => format!("job {ns}/{name} to complete"),
        }
    }
}

/// One item of a merged watch stream.
enum Signal {
    Synced(usize),
    Changed,
    Failed(usize, watcher::Error),
}

fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    source: usize,
) -> (Store<K>, BoxStream<'static, Signal>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff())
        .map(move |event| match event {
            Ok(watcher::Event::InitDone) => Signal::Synced(source),
            Ok(_) => Signal::Changed,
            Err(e) => Signal::Failed(source, e),
        })
        .boxed();
    (reader, stream)
}

/// Whether a watch error will not go away by retrying (no rights, no such resource).
fn fatal_code(error: &watcher::Error) -> Option<u16> {
    let code = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return None,
    };
    matches!(code, 401 | 403 | 404).then_some(code)
}

/// A label selector as a string (`app=geo,tier in (a,b)`).
pub fn selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other} ({values})", e.key),
        });
    }
    parts.join(",")
}

/// When each Ready pod (by uid) was first seen Ready, to require [`WaitOptions::settle`].
struct Settle {
    window: Duration,
    since: HashMap<String, Instant>,
    first: bool,
}

impl Settle {
    /// Records a Ready pod; returns when it counts as settled.
    fn ready(&mut self, pod: &Pod, seen: &mut HashSet<String>) -> Instant {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        seen.insert(uid.clone());
        let now = Instant::now();
        let first = self.first;
        let window = self.window;
        let since = *self.since.entry(uid).or_insert_with(|| {
            // Ready long before the wait began (the timestamps have second precision).
            let long_ago = first
                && ready_transition(pod).is_some_and(|t| {
                    jiff::Timestamp::now().duration_since(t).as_secs_f64()
                        >= window.as_secs_f64() + 1.0
                });
            if long_ago {
                now.checked_sub(window).unwrap_or(now)
            } else {
                now
            }
        });
        since + window
    }

    /// Forgets pods that are no longer Ready.
    fn keep(&mut self, seen: &HashSet<String>) {
        self.since.retain(|uid, _| seen.contains(uid));
        self.first = false;
    }
}

fn ready_transition(pod: &Pod) -> Option<jiff::Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// The watch caches of one wait.
struct Caches {
    pods: Store<Pod>,
    events: Store<Event>,
    claims: Store<PersistentVolumeClaim>,
    deployments: Option<Store<Deployment>>,
    statefulsets: Option<Store<StatefulSet>>,
    daemonsets: Option<Store<DaemonSet>>,
    jobs: Option<Store<Job>>,
}

enum Outcome {
    Ready(Progress),
    Waiting(Progress),
    Problem(Problem),
}

fn sorted<K: Resource>(items: Vec<Arc<K>>) -> Vec<Arc<K>> {
    let mut items = items;
    items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
    items
}

impl Caches {
    /// Judges everything; with `settle`, also returns when to judge again for pods that
    /// are Ready but not for long enough.
    fn evaluate(
        &self,
        scope: &Scope,
        mut settle: Option<&mut Settle>,
    ) -> (Outcome, Option<Instant>) {
        let events = self.events.state();
        let events: Vec<&Event> = events.iter().map(|e| e.as_ref()).collect();
        let claims = self.claims.state();
        let claims: Vec<&PersistentVolumeClaim> = claims.iter().map(|c| c.as_ref()).collect();
        let mut progress = Progress::default();
        let mut seen = HashSet::new();
        let mut recheck: Option<Instant> = None;
        let now = Instant::now();

        let mut workloads: Vec<WorkloadVerdict> = Vec::new();
        if let Some(store) = &self.deployments {
            workloads.extend(sorted(store.state()).iter().map(|d| judge_deployment(d)));
        }
        if let Some(store) = &self.statefulsets {
            workloads.extend(sorted(store.state()).iter().map(|s| judge_statefulset(s)));
        }
        if let Some(store) = &self.daemonsets {
            workloads.extend(sorted(store.state()).iter().map(|d| judge_daemonset(d)));
        }
        if let Some(store) = &self.jobs {
            workloads.extend(sorted(store.state()).iter().map(|j| judge_job(j)));
        }
        match scope {
            Scope::Deployment(name) if self.deployments.as_ref().is_some_and(|s| s.is_empty()) => {
                workloads.push(WorkloadVerdict::Waiting(format!(
                    "deployment {name}: not found"
                )));
            }
            Scope::Job(name) if self.jobs.as_ref().is_some_and(|s| s.is_empty()) => {
                workloads.push(WorkloadVerdict::Waiting(format!("job {name}: not found")));
            }
            _ => {}
        }

        // Pod problems first: they carry the most precise reason.
        for pod in sorted(self.pods.state()) {
            match judge_pod(&pod, &events, &claims) {
                PodVerdict::Problem(p) => return (Outcome::Problem(p), None),
                PodVerdict::Ignore => {}
                PodVerdict::Ready => {
                    progress.pods_total += 1;
                    let settled_at = settle.as_mut().map(|s| s.ready(&pod, &mut seen));
                    match settled_at {
                        Some(at) if at > now => {
                            recheck = Some(recheck.map_or(at, |r| r.min(at)));
                            progress.waiting_for.push(format!(
                                "pod {}: Ready only just now",
                                pod.metadata.name.as_deref().unwrap_or_default()
                            ));
                        }
                        _ => progress.pods_ready += 1,
                    }
                }
                PodVerdict::Waiting(why) => {
                    progress.pods_total += 1;
                    // A Job's pods need not be Ready; the Job's condition decides.
                    if !matches!(scope, Scope::Job(_)) {
                        progress.waiting_for.push(why);
                    }
                }
            }
        }
        if let Some(s) = settle {
            s.keep(&seen);
        }
        for w in workloads {
            progress.workloads_total += 1;
            match w {
                WorkloadVerdict::Ready => progress.workloads_ready += 1,
                WorkloadVerdict::Waiting(why) => progress.waiting_for.push(why),
                WorkloadVerdict::Problem(p) => return (Outcome::Problem(p), None),
            }
        }
        if progress.is_ready() {
            (Outcome::Ready(progress), None)
        } else {
            (Outcome::Waiting(progress), recheck)
        }
    }
}

impl Cluster {
    /// Waits until every Deployment, StatefulSet and DaemonSet of the namespace is rolled
    /// out and available and every pod is Ready (finished pods and pods being replaced are
    /// not counted). An empty namespace is ready at once; a missing one is an error.
    pub async fn wait_namespace_ready(
        &self,
        namespace: &str,
        options: WaitOptions,
    ) -> Result<Progress> {
        self.wait_scope(namespace, Scope::Namespace, options)
            .await
            .map(|(p, _)| p)
    }

    /// Waits until a Deployment is rolled out (its latest generation observed, every
    /// replica updated and available) and its pods are Ready. Use after
    /// [`Cluster::rollout_restart`] or a template change.
    pub async fn wait_deployment_ready(
        &self,
        namespace: &str,
        name: &str,
        options: WaitOptions,
    ) -> Result<Progress> {
        self.wait_scope(namespace, Scope::Deployment(name.to_string()), options)
            .await
            .map(|(p, _)| p)
    }

    /// Waits until a Job has the `Complete` condition, failing fast when it has `Failed` or
    /// one of its pods cannot run (image, scheduling, claims). Returns the finished Job.
    pub async fn wait_job_complete(
        &self,
        namespace: &str,
        name: &str,
        options: WaitOptions,
    ) -> Result<Job> {
        let (_, job) = self
            .wait_scope(namespace, Scope::Job(name.to_string()), options)
            .await?;
        job.ok_or_else(|| K8sError::Api {
            action: format!("wait for job {namespace}/{name}"),
            code: 404,
            reason: "NotFound".into(),
            message: format!("job {name} disappeared while being waited for"),
        })
    }

    async fn wait_scope(
        &self,
        namespace: &str,
        scope: Scope,
        mut options: WaitOptions,
    ) -> Result<(Progress, Option<Job>)> {
        let deadline = tokio::time::Instant::now() + options.timeout;
        let what = scope.describe(namespace);
        let pod_selector = match &scope {
            Scope::Namespace => {
                // An empty list of a namespace that does not exist would look ready.
                if !self.namespace_exists(namespace).await? {
                    return Err(K8sError::Api {
                        action: format!("wait for {what}"),
                        code: 404,
                        reason: "NotFound".into(),
                        message: format!("namespace {namespace} does not exist"),
                    });
                }
                None
            }
            Scope::Deployment(name) => {
                let d: Deployment = self.get(namespace, name).await?;
                let selector = d
                    .spec
                    .as_ref()
                    .map(|s| selector_string(&s.selector))
                    .unwrap_or_default();
                if selector.is_empty() {
                    return Err(K8sError::InvalidArgument(format!(
                        "deployment {namespace}/{name} has an empty selector"
                    )));
                }
                Some(selector)
            }
            Scope::Job(name) => Some(format!("job-name={name}")),
        };
        let by_name =
            |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut streams = Vec::new();
        let mut pod_config = watcher::Config::default();
        if let Some(sel) = &pod_selector {
            pod_config = pod_config.labels(sel);
        }
        let (pods, s) = watch::<Pod>(self.api(namespace), pod_config, streams.len());
        streams.push(s);
        let (events, s) = watch::<Event>(
            self.api(namespace),
            watcher::Config::default(),
            streams.len(),
        );
        streams.push(s);
        let (claims, s) = watch::<PersistentVolumeClaim>(
            self.api(namespace),
            watcher::Config::default(),
            streams.len(),
        );
        streams.push(s);
        let mut caches = Caches {
            pods,
            events,
            claims,
            deployments: None,
            statefulsets: None,
            daemonsets: None,
            jobs: None,
        };
        match &scope {
            Scope::Namespace => {
                let (d, s) = watch::<Deployment>(
                    self.api(namespace),
                    watcher::Config::default(),
                    streams.len(),
                );
                streams.push(s);
                let (st, s) = watch::<StatefulSet>(
                    self.api(namespace),
                    watcher::Config::default(),
                    streams.len(),
                );
                streams.push(s);
                let (ds, s) = watch::<DaemonSet>(
                    self.api(namespace),
                    watcher::Config::default(),
                    streams.len(),
                );
                streams.push(s);
                caches.deployments = Some(d);
                caches.statefulsets = Some(st);
                caches.daemonsets = Some(ds);
            }
            Scope::Deployment(name) => {
                let (d, s) = watch::<Deployment>(self.api(namespace), by_name(name), streams.len());
                streams.push(s);
                caches.deployments = Some(d);
            }
            Scope::Job(name) => {
                let (j, s) = watch::<Job>(self.api(namespace), by_name(name), streams.len());
                streams.push(s);
                caches.jobs = Some(j);
            }
        }
        let names = ["pods", "events", "persistentvolumeclaims"];
        let source_name = |i: usize| -> String {
            names
                .get(i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "workloads".into())
        };
        let mut synced = vec![false; streams.len()];
        let mut merged = futures::stream::select_all(streams).ready_chunks(256);
        let mut last: Option<Progress> = None;
        // A Job's pods need not be Ready, so there is nothing to settle.
        let mut settle =
            (!options.settle.is_zero() && !matches!(scope, Scope::Job(_))).then(|| Settle {
                window: options.settle,
                since: HashMap::new(),
                first: true,
            });
        let mut recheck: Option<Instant> = None;
        loop {
            let wake = recheck.unwrap_or(deadline).min(deadline);
            let batch = tokio::select! {
                batch = merged.next() => batch,
                _ = tokio::time::sleep_until(wake), if recheck.is_some() && wake < deadline => Some(Vec::new()),
                _ = tokio::time::sleep_until(deadline) => {
                    let waiting_for = if synced.iter().all(|s| *s) {
                        match caches.evaluate(&scope, settle.as_mut()).0 {
                            Outcome::Waiting(p) | Outcome::Ready(p) => p.waiting_for,
                            Outcome::Problem(p) => vec![p.to_string()],
                        }
                    } else {
                        vec!["the first list of the watched objects (is the API server slow?)".into()]
                    };
                    return Err(K8sError::WaitTimeout {
                        what,
                        secs: options.timeout.as_secs(),
                        waiting_for,
                    });
                }
            };
            let Some(batch) = batch else {
                return Err(K8sError::Watch {
                    action: format!("wait for {what}"),
                    code: 0,
                    message: "the watch streams ended".into(),
                });
            };
            for signal in batch {
                match signal {
                    Signal::Synced(i) => synced[i] = true,
                    Signal::Changed => {}
                    Signal::Failed(i, error) => {
                        if let Some(code) = fatal_code(&error) {
                            return Err(K8sError::Watch {
                                action: format!(
                                    "watch {} in namespace {namespace}",
                                    source_name(i)
                                ),
                                code,
                                message: error.to_string(),
                            });
                        }
                        tracing::warn!(%error, namespace, "watch error; retrying");
                    }
                }
            }
            if !synced.iter().all(|s| *s) {
                continue;
            }
            let (outcome, again) = caches.evaluate(&scope, settle.as_mut());
            recheck = again;
            match outcome {
                Outcome::Ready(progress) => {
                    options.report(&progress);
                    let job = caches
                        .jobs
                        .as_ref()
                        .and_then(|s| s.state().into_iter().next())
                        .map(|j| (*j).clone());
                    return Ok((progress, job));
                }
                Outcome::Waiting(progress) => {
                    if last.as_ref() != Some(&progress) {
                        options.report(&progress);
                        last = Some(progress);
                    }
                }
                Outcome::Problem(problem) => {
                    let problem = self.enrich(namespace, problem, options.log_lines).await;
                    return Err(K8sError::NotReady {
                        namespace: namespace.to_string(),
                        problem: Box::new(problem),
                    });
                }
            }
        }
    }

    /// Adds what a problem needs from outside the caches: a crash loop's last log lines.
    async fn enrich(&self, namespace: &str, problem: Problem, lines: i64) -> Problem {
        let Problem::CrashLoop {
            pod,
            container,
            restarts,
            exit_code,
            last_reason,
            logs: _,
        } = problem
        else {
            return problem;
        };
        let mut options = LogOptions {
            container: Some(container.clone()),
            tail_lines: Some(lines),
            previous: true,
            ..LogOptions::default()
        };
        let mut text = self
            .logs(namespace, &pod, &options)
            .await
            .unwrap_or_default();
        if text.trim().is_empty() {
            options.previous = false;
            text = self
                .logs(namespace, &pod, &options)
                .await
                .unwrap_or_default();
        }
        let all: Vec<String> = text.lines().map(str::to_string).collect();
        let skip = all.len().saturating_sub(lines.max(0) as usize);
        Problem::CrashLoop {
            pod,
            container,
            restarts,
            exit_code,
            last_reason,
            logs: all.into_iter().skip(skip).collect(),
        }
    }

    /// Waits until an object's `status.conditions` has `condition` with status `True`
    /// (`kubectl wait --for=condition=...`). `namespace` is `None` for cluster-scoped kinds.
    /// Returns the object.
    pub async fn wait_for_condition(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        condition: &str,
        timeout: Duration,
    ) -> Result<DynamicObject> {
        let (group, version) = split_api_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let Some((resource, _)) = self.resolve_kind(&gvk).await? else {
            return Err(K8sError::InvalidArgument(format!(
                "the cluster serves no kind {kind} in {api_version}"
            )));
        };
        let api = self.dynamic_api(&resource, namespace);
        let what = match namespace {
            Some(ns) => format!("{kind} {ns}/{name} to have condition {condition}=True"),
            None => format!("{kind} {name} to have condition {condition}=True"),
        };
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut current: Option<DynamicObject> = None;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = tokio::time::sleep_until(deadline) => {
                    let waiting_for = vec![match &current {
                        Some(obj) => format!("{kind} {name}: conditions {}", conditions_text(obj)),
                        None => format!("{kind} {name}: it does not exist"),
                    }];
                    return Err(K8sError::WaitTimeout { what, secs: timeout.as_secs(), waiting_for });
                }
            };
            match item {
                Some(Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj))) => {
                    if has_condition(&obj, condition) {
                        return Ok(obj);
                    }
                    current = Some(obj);
                }
                Some(Ok(watcher::Event::Delete(_))) => current = None,
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    if let Some(code) = fatal_code(&error) {
                        return Err(K8sError::Watch {
                            action: format!("watch {kind} {name}"),
                            code,
                            message: error.to_string(),
                        });
                    }
                }
                None => {
                    return Err(K8sError::Watch {
                        action: format!("wait for {what}"),
                        code: 0,
                        message: "the watch stream ended".into(),
                    });
                }
            }
        }
    }
}

fn has_condition(obj: &DynamicObject, condition: &str) -> bool {
    obj.data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c["type"].as_str() == Some(condition) && c["status"].as_str() == Some("True")
            })
        })
}

fn conditions_text(obj: &DynamicObject) -> String {
    let list: Vec<String> = obj
        .data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut s = format!(
                        "{}={}",
                        c["type"].as_str().unwrap_or("?"),
                        c["status"].as_str().unwrap_or("?")
                    );
                    if let Some(m) = c["message"].as_str().filter(|m| !m.is_empty()) {
                        s.push_str(&format!(" ({m})"));
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        "none yet".into()
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_print_like_kubectl() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "geo"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(selector_string(&sel), "app=geo,tier in (a,b),!canary");
    }

    #[test]
    fn progress_display() {
        let p = Progress {
            pods_ready: 1,
            pods_total: 2,
            workloads_ready: 0,
            workloads_total: 1,
            waiting_for: vec!["pod b: ContainerCreating".into()],
        };
        assert_eq!(
            p.to_string(),
            "pods ready 1/2, workloads ready 0/1; waiting for: pod b: ContainerCreating"
        );
    }

    #[test]
    fn conditions_are_read_from_status() {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "X", "metadata": {"name": "x"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "message": "not yet"}]}
        }))
        .unwrap();
        assert!(!has_condition(&obj, "Ready"));
        assert_eq!(conditions_text(&obj), "Ready=False (not yet)");
    }
}
