//! The wrk2 workload of AIOpsLab-rs, as AIOpsLab runs it and through the Kubernetes API only,
//! so it runs unchanged on the virtual cluster and on a real one.
//!
//! - [`Wrk2`]: the parameters (`rate`, [`Distribution`], connections, duration, threads,
//!   latency) with AIOpsLab's defaults, and wrk2's exact argv;
//! - [`configmap`] / [`job`]: the ConfigMap `wrk2-payload-script` and the Job `wrk2-job`
//!   (namespace `default`) as typed objects; [`Script`] is the Lua file they carry;
//! - [`Target`]: the URL (frontend Service ClusterIP, port and path per app);
//! - [`Wrk2::start`], [`Wrk2Job::wait`], [`Wrk2::run`]: replace the old Job (Foreground delete,
//!   watched until gone), create the new one, wait for it with a time limit;
//! - [`Wrk2Report::parse`]: the report in the pod's log.
//!
//! ```no_run
//! use aiopslab_k8s::{Cluster, ClusterTarget};
//! use aiopslab_workload::{Script, Target, Wrk2};
//! # async fn demo() -> aiopslab_workload::Result<()> {
//! let cluster = Cluster::connect(&ClusterTarget::new("/tmp/kube/admin.kubeconfig")).await?;
//! let app = aiopslab_metadata::app("hotel-reservation").unwrap();
//! let url = Target::for_app(app).resolve(&cluster).await?;
//! let done = Wrk2::problem_default().run(&cluster, &Script::for_app(app), &url).await?;
//! println!("{} requests, p99 {:?} ms", done.report.requests, done.report.latency_at(99.0));
//! # Ok(()) }
//! ```

pub mod error;
pub mod params;
pub mod render;
pub mod report;
pub mod run;
pub mod url;

pub use error::{Result, WorkloadError};
pub use params::{Distribution, Wrk2};
pub use render::{
    CONFIGMAP_NAME, CONTAINER_NAME, IMAGE, JOB_NAME, NAMESPACE, Script, VOLUME_NAME, configmap, job,
};
pub use report::{
    Calibration, HistogramSummary, Percentile, SocketErrors, SpectrumRow, ThreadStat, Wrk2Report,
};
pub use run::{DELETE_LIMIT, Finished, Wrk2Job, delete_job};
pub use url::Target;
