//! The workloads of a namespace as they were before the fault, and the check that they are
//! all back.
//!
//! [`Baseline::record`] lists the Deployments and StatefulSets of a namespace with their
//! replica counts; record it after the application is deployed and before the fault is
//! injected. [`BaselineAvailable`] then fails if any of them was deleted, is scaled to
//! another replica count, or has fewer available replicas than recorded.

use super::{Oracle, list};
use crate::error::OracleError;
use crate::verdict::Verdict;
use aiopslab_k8s::Cluster;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a recorded workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WorkloadKind {
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// `deployment` or `statefulset`, as kubectl names them.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineWorkload {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its name.
    pub name: String,
    /// `spec.replicas` when recorded (1 when unset, as Kubernetes defaults it).
    pub replicas: i32,
}

/// The workloads of a namespace before the fault, sorted by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// The namespace.
    pub namespace: String,
    /// Its Deployments and StatefulSets.
    pub workloads: Vec<BaselineWorkload>,
}

fn replicas_of(spec: Option<i32>) -> i32 {
    spec.unwrap_or(1)
}

impl Baseline {
    /// Records the Deployments and StatefulSets of `namespace` as they are now.
    pub async fn record(cluster: &Cluster, namespace: &str) -> Result<Baseline, OracleError> {
        let deployments: Vec<Deployment> = list(cluster, namespace).await?;
        let statefulsets: Vec<StatefulSet> = list(cluster, namespace).await?;
        Ok(Baseline::from_objects(
            namespace,
            &deployments,
            &statefulsets,
        ))
    }

    /// A baseline from listed objects (what [`Baseline::record`] does after listing).
    pub fn from_objects(
        namespace: &str,
        deployments: &[Deployment],
        statefulsets: &[StatefulSet],
    ) -> Baseline {
        let mut workloads: Vec<BaselineWorkload> = deployments
            .iter()
            .map(|d| BaselineWorkload {
                kind: WorkloadKind::Deployment,
                name: d.metadata.name.clone().unwrap_or_default(),
                replicas: replicas_of(d.spec.as_ref().and_then(|s| s.replicas)),
            })
            .chain(statefulsets.iter().map(|s| BaselineWorkload {
                kind: WorkloadKind::StatefulSet,
                name: s.metadata.name.clone().unwrap_or_default(),
                replicas: replicas_of(s.spec.as_ref().and_then(|s| s.replicas)),
            }))
            .filter(|w| !w.name.is_empty())
            .collect();
        workloads.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Baseline {
            namespace: namespace.to_string(),
            workloads,
        }
    }
}

fn plural(n: i32) -> &'static str {
    if n == 1 { "replica" } else { "replicas" }
}

/// Why a recorded Deployment is not back as it was, if it is not.
pub(crate) fn deployment_problem(
    record: &BaselineWorkload,
    found: Option<&Deployment>,
) -> Option<String> {
    let name = &record.name;
    let want = record.replicas;
    let Some(d) = found else {
        return Some(format!(
            "deployment {name} is missing (it had {want} {} before the fault)",
            plural(want)
        ));
    };
    let spec = replicas_of(d.spec.as_ref().and_then(|s| s.replicas));
    if spec != want {
        return Some(format!(
            "deployment {name} is scaled to {spec} {} (it had {want} before the fault)",
            plural(spec)
        ));
    }
    let status = d.status.as_ref();
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    if observed < generation {
        return Some(format!(
            "deployment {name}: the controller has not yet acted on its latest change (generation {generation}, observed {observed})"
        ));
    }
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let updated = status.and_then(|s| s.updated_replicas).unwrap_or(0);
    if available < want {
        return Some(format!(
            "deployment {name} has {available}/{want} {} available",
            plural(want)
        ));
    }
    if updated < want {
        return Some(format!(
            "deployment {name} is still rolling out: {updated}/{want} {} updated",
            plural(want)
        ));
    }
    None
}

/// Why a recorded StatefulSet is not back as it was, if it is not.
pub(crate) fn statefulset_problem(
    record: &BaselineWorkload,
    found: Option<&StatefulSet>,
) -> Option<String> {
    let name = &record.name;
    let want = record.replicas;
    let Some(s) = found else {
        return Some(format!(
            "statefulset {name} is missing (it had {want} {} before the fault)",
            plural(want)
        ));
    };
    let spec = replicas_of(s.spec.as_ref().and_then(|s| s.replicas));
    if spec != want {
        return Some(format!(
            "statefulset {name} is scaled to {spec} {} (it had {want} before the fault)",
            plural(spec)
        ));
    }
    let status = s.status.as_ref();
    let generation = s.metadata.generation.unwrap_or(0);
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    if observed < generation {
        return Some(format!(
            "statefulset {name}: the controller has not yet acted on its latest change (generation {generation}, observed {observed})"
        ));
    }
    let ready = status
        .and_then(|s| s.available_replicas.or(s.ready_replicas))
        .unwrap_or(0);
    if ready < want {
        return Some(format!(
            "statefulset {name} has {ready}/{want} {} available",
            plural(want)
        ));
    }
    None
}

/// Every workload of a [`Baseline`] is present, at its recorded replica count, and fully
/// available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineAvailable {
    baseline: Baseline,
}

impl BaselineAvailable {
    /// The check for `baseline`.
    pub fn new(baseline: Baseline) -> Self {
        BaselineAvailable { baseline }
    }

    /// The baseline checked.
    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// Judges listed objects against the baseline (what [`Oracle::check`] does after
    /// listing).
    pub fn judge(&self, deployments: &[Deployment], statefulsets: &[StatefulSet]) -> Verdict {
        let named = |n: &Option<String>, want: &str| n.as_deref() == Some(want);
        let mut problems = Vec::new();
        for w in &self.baseline.workloads {
            let problem = match w.kind {
                WorkloadKind::Deployment => deployment_problem(
                    w,
                    deployments
                        .iter()
                        .find(|d| named(&d.metadata.name, &w.name)),
                ),
                WorkloadKind::StatefulSet => statefulset_problem(
                    w,
                    statefulsets
                        .iter()
                        .find(|s| named(&s.metadata.name, &w.name)),
                ),
            };
            problems.extend(problem);
        }
        let ns = &self.baseline.namespace;
        let n = self.baseline.workloads.len();
        match problems.len() {
            0 => Verdict::pass(format!(
                "all {n} workloads of the baseline in {ns} are present and available"
            )),
            1 => Verdict::fail(problems.remove(0)),
            more => Verdict::fail(format!(
                "{} (and {} more workloads of the baseline in {ns} are not back)",
                problems.remove(0),
                more - 1
            )),
        }
    }
}

#[async_trait::async_trait]
impl Oracle for BaselineAvailable {
    fn describe(&self) -> String {
        format!(
            "the {} workloads recorded in {} before the fault are available",
            self.baseline.workloads.len(),
            self.baseline.namespace
        )
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        let ns = &self.baseline.namespace;
        let deployments: Vec<Deployment> = list(cluster, ns).await?;
        let statefulsets: Vec<StatefulSet> = list(cluster, ns).await?;
        Ok(self.judge(&deployments, &statefulsets))
    }
}
