//! Mitigation oracles: checks of the live cluster, run after it settles.
//!
//! An [`Oracle`] looks at the cluster through [`aiopslab_k8s::Cluster`] and returns a
//! [`Verdict`]: pass or fail with a one-line reason. [`judge`] first waits for the
//! namespace to [`settle`] (controllers converged, crash-loop back-offs played out, then a
//! quiet period without changes, all within a time limit) and then runs the oracle, so an
//! agent that fixed the cause is not failed because a pod has not restarted yet.
//!
//! Reusable checks:
//! - [`PodsHealthy`]: every pod of a namespace running and ready (Pending pods fail, unlike
//!   AIOpsLab's checks, which skip pods without container statuses);
//! - [`BaselineAvailable`]: every Deployment and StatefulSet of a [`Baseline`] recorded
//!   before the fault is present, at its recorded replica count and fully available;
//! - [`ServiceTargetPort`]: a Service port's `targetPort`;
//! - [`DeploymentCheck`]: a Deployment's image, command, nodeSelector or replicas;
//! - [`AllOf`]: all of several checks, reporting the first failure.
//!
//! ```no_run
//! use aiopslab_eval::oracle::{judge, AllOf, BaselineAvailable, Baseline, PodsHealthy, ServiceTargetPort, SettleOptions};
//! # async fn demo(cluster: aiopslab_k8s::Cluster) -> Result<(), aiopslab_eval::OracleError> {
//! let ns = "test-social-network";
//! let baseline = Baseline::record(&cluster, ns).await?; // before the fault
//! // ... fault, agent ...
//! let oracle = AllOf::new()
//!     .and(ServiceTargetPort::new(ns, "user-service", 9090))
//!     .and(PodsHealthy::new(ns))
//!     .and(BaselineAvailable::new(baseline));
//! let judgement = judge(&cluster, ns, &oracle, &SettleOptions::default()).await?;
//! println!("{}", judgement.verdict);
//! # Ok(()) }
//! ```

mod baseline;
mod deployment;
mod pods;
mod service;
mod settle;

pub use baseline::{Baseline, BaselineAvailable, BaselineWorkload, WorkloadKind};
pub use deployment::{CommandExpectation, DeploymentCheck, DeploymentExpectation};
pub use pods::{PodsHealthy, pod_problem};
pub use service::{PortRef, ServiceTargetPort};
pub use settle::{SettleOptions, SettleReport, settle};

use crate::error::OracleError;
use crate::verdict::Verdict;
use aiopslab_k8s::Cluster;
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use kube::api::ListParams;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A check of the live cluster that decides whether a mitigation worked.
///
/// Implementations return `Ok(Verdict)` for any state of the cluster (a missing object is a
/// failed verdict, not an error) and `Err` only when the cluster cannot be asked.
#[async_trait::async_trait]
pub trait Oracle: Send + Sync {
    /// What the check requires, in a few words (`service user-service targetPort is 9090`).
    fn describe(&self) -> String;

    /// Judges the cluster as it is now.
    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError>;
}

#[async_trait::async_trait]
impl<O: Oracle + ?Sized> Oracle for Box<O> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        (**self).check(cluster).await
    }
}

#[async_trait::async_trait]
impl<O: Oracle + ?Sized> Oracle for Arc<O> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        (**self).check(cluster).await
    }
}

/// All of several checks, run in order; fails with the first failing check's reason.
///
/// An empty `AllOf` passes (there is nothing to violate).
#[derive(Default)]
pub struct AllOf {
    checks: Vec<Box<dyn Oracle>>,
}

impl AllOf {
    /// No checks yet.
    pub fn new() -> Self {
        AllOf::default()
    }

    /// Adds a check at the end.
    pub fn and(mut self, check: impl Oracle + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// Adds a boxed check at the end.
    pub fn push(&mut self, check: Box<dyn Oracle>) {
        self.checks.push(check);
    }

    /// The number of checks.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }
}

impl FromIterator<Box<dyn Oracle>> for AllOf {
    fn from_iter<T: IntoIterator<Item = Box<dyn Oracle>>>(iter: T) -> Self {
        AllOf {
            checks: iter.into_iter().collect(),
        }
    }
}

#[async_trait::async_trait]
impl Oracle for AllOf {
    fn describe(&self) -> String {
        if self.checks.is_empty() {
            return "nothing".into();
        }
        self.checks
            .iter()
            .map(|c| c.describe())
            .collect::<Vec<_>>()
            .join(" and ")
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        let mut passed = Vec::new();
        for check in &self.checks {
            let verdict = check.check(cluster).await?;
            if !verdict.passed {
                return Ok(verdict);
            }
            passed.push(verdict.reason);
        }
        Ok(match passed.len() {
            0 => Verdict::pass("no checks to run"),
            1 => Verdict::pass(passed.remove(0)),
            n => Verdict::pass(format!("all {n} checks passed: {}", passed.join("; "))),
        })
    }
}

/// An oracle's verdict and how the cluster settled before it was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The verdict. When the cluster did not settle in time the reason says so.
    pub verdict: Verdict,
    /// How settling went.
    pub settle: SettleReport,
}

/// Waits for `namespace` to settle, then runs `oracle`.
///
/// A cluster that does not settle within the time limit is judged anyway, as it is then,
/// and the verdict's reason ends with what was still moving.
pub async fn judge(
    cluster: &Cluster,
    namespace: &str,
    oracle: &(dyn Oracle + '_),
    options: &SettleOptions,
) -> Result<Judgement, OracleError> {
    let report = settle(cluster, namespace, options).await?;
    let mut verdict = oracle.check(cluster).await?;
    if !report.settled {
        verdict.reason = format!(
            "{} (judged before the cluster settled: {})",
            verdict.reason,
            report.summary()
        );
    }
    Ok(Judgement {
        verdict,
        settle: report,
    })
}

/// Lists every object of kind `K` in `namespace`, within the cluster's request time limit.
pub(crate) async fn list<K>(cluster: &Cluster, namespace: &str) -> Result<Vec<K>, OracleError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let action = format!(
        "list {}s in namespace {namespace}",
        K::kind(&()).to_lowercase()
    );
    let limit = cluster.request_timeout();
    match tokio::time::timeout(
        limit,
        cluster.api::<K>(namespace).list(&ListParams::default()),
    )
    .await
    {
        Ok(Ok(list)) => Ok(list.items),
        Ok(Err(source)) => Err(OracleError::Api { action, source }),
        Err(_) => Err(OracleError::Timeout {
            action,
            secs: limit.as_secs(),
        }),
    }
}

/// Gets one object of kind `K`, `None` when it does not exist.
pub(crate) async fn get<K>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, OracleError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    cluster.get_opt::<K>(namespace, name).await.map_err(|e| {
        OracleError::cluster(
            format!("get {} {namespace}/{name}", K::kind(&()).to_lowercase()),
            e,
        )
    })
}
