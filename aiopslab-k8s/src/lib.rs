//! Cluster access for AIOpsLab-rs, the same against the virtual cluster of `aiopslab-sim`
//! and a real one: everything goes through the Kubernetes API with a kubeconfig.
//!
//! - [`Cluster::connect`] with an explicit [`ClusterTarget`] (a kubeconfig file and
//!   optionally a context; never an ambient one), a capped retry policy and time limits.
//! - Manifests: [`manifest`] reads multi-document YAML; [`Cluster::apply_path`] /
//!   [`Cluster::apply_yaml`] server-side apply them in order, with kinds resolved by cached
//!   discovery.
//! - Waits: [`Cluster::wait_namespace_ready`], [`Cluster::wait_deployment_ready`],
//!   [`Cluster::wait_job_complete`], [`Cluster::wait_for_condition`], watch based, failing
//!   fast with a [`Problem`] (image pull, crash loop with log lines, scheduling, claims).
//! - Pods and objects: [`Cluster::list_pods`], [`Cluster::logs`], [`Cluster::exec`],
//!   [`Cluster::delete_pods`], [`Cluster::rollout_restart`], [`Cluster::scale`], typed
//!   [`Cluster::get`] / [`Cluster::merge_patch`] / [`Cluster::replace`] / ..., namespaces.
//! - The agent's restricted credentials on real clusters: [`Cluster::grant_agent_access`],
//!   [`Cluster::create_agent_credentials`], [`Cluster::revoke_agent_access`].
//!
//! ```no_run
//! use aiopslab_k8s::{ApplyOptions, Cluster, ClusterTarget, WaitOptions};
//! use std::time::Duration;
//! # async fn demo() -> aiopslab_k8s::Result<()> {
//! let cluster = Cluster::connect(&ClusterTarget::new("/tmp/kube/admin.kubeconfig")).await?;
//! cluster
//!     .apply_path("app.yaml".as_ref(), &ApplyOptions::into_namespace("demo"))
//!     .await?;
//! cluster
//!     .wait_namespace_ready("demo", WaitOptions::new(Duration::from_secs(120)))
//!     .await?;
//! # Ok(()) }
//! ```

pub mod apply;
pub mod connect;
pub mod credentials;
pub mod diagnose;
pub mod error;
pub mod manifest;
pub mod namespaces;
pub mod objects;
pub mod pods;
pub mod tls;
pub mod wait;

pub use apply::{AppliedObject, ApplyOptions};
pub use connect::{Cluster, ClusterTarget, FIELD_MANAGER, RUN_LABEL, ServerInfo};
pub use credentials::{AGENT_ROLE, AgentAccessSpec, AgentGrant, default_agent_rules};
pub use diagnose::Problem;
pub use error::{K8sError, Result};
pub use manifest::{ManifestObject, parse_manifests, read_manifests};
pub use objects::ScaleKind;
pub use pods::{ExecOptions, ExecOutput, LogOptions};
pub use tls::install_crypto_provider;
pub use wait::{Progress, WaitOptions};
