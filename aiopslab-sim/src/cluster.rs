//! Starting and stopping a virtual cluster, and its kubeconfig files.
//!
//! [`VirtualCluster::start`] binds an HTTPS listener on 127.0.0.1 (HTTPS because kubectl sends
//! bearer tokens only over TLS; see [`crate::api::tls`]), fills the store with a
//! kind-like cluster (nodes `kind-control-plane`, `kind-worker`, ... and the system
//! namespaces), starts the controllers and serves the API. It writes two kubeconfigs: the
//! admin's (context `aiopslab`) and the agent's (context `aiopslab-agent`, restricted as
//! [`crate::auth`] describes). Nothing sleeps: the cluster is ready when `start` returns.
//!
//! ```no_run
//! use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};
//! # async fn demo() -> Result<(), aiopslab_sim::cluster::SimError> {
//! let dir = std::env::temp_dir().join("my-cluster");
//! let cluster = VirtualCluster::start(ClusterConfig::new(&dir)).await?;
//! println!("export KUBECONFIG={}", cluster.admin_kubeconfig_path().display());
//! // kubectl get nodes ...
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```

use crate::api::{self, ApiState};
use crate::auth::{Authenticator, Identity, Policy};
use crate::clock::{ManualClock, SharedClock, WallClock};
use crate::controllers::{self, Handle, Options, Topology};
use crate::runtime::PodRuntime;
use crate::store::Store;
use crate::telemetry::derive::{ClusterTelemetry, DeriveConfig};
use crate::telemetry::{TelemetryServers, TelemetryUrls};
use rand::Rng;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listener could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The serving certificates could not be made.
    #[error("cannot make the API server's certificates: {0}")]
    Tls(String),
    /// A kubeconfig file could not be written.
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How to start a virtual cluster.
#[derive(Clone)]
pub struct ClusterConfig {
    /// Seed of everything random (names, uids, behaviour).
    pub seed: u64,
    /// Number of worker nodes (`kind-worker`, `kind-worker2`, ...).
    pub workers: usize,
    /// The clock; the wall clock by default. Use [`ClusterConfig::with_manual_clock`] for a
    /// manual one (the controllers then only move when it is advanced).
    pub clock: SharedClock,
    /// The manual clock, when [`ClusterConfig::with_manual_clock`] set one.
    pub manual_clock: Option<ManualClock>,
    /// The port to listen on; `None` or `Some(0)` picks a free one.
    pub port: Option<u16>,
    /// Where the kubeconfig files are written (created when missing).
    pub kubeconfig_dir: PathBuf,
    /// Namespaces hidden from the agent (the orchestrator's).
    pub hidden_namespaces: Vec<String>,
    /// API groups hidden from the agent (fault objects).
    pub hidden_groups: Vec<String>,
    /// Whether to run the controllers (scheduler, kubelet, deployments, ...). Without them
    /// objects are only stored.
    pub controllers: bool,
    /// Options of the controllers (image catalogue, time scale). `None`: the defaults, with
    /// the application images ([`crate::apps::catalog`]) and the wrk2 client in the catalogue.
    pub controller_options: Option<Options>,
    /// The admin's bearer token; random when `None`.
    pub admin_token: Option<String>,
    /// The agent's bearer token; random when `None`.
    pub agent_token: Option<String>,
    /// Whether to serve telemetry (Prometheus, Jaeger and Elasticsearch APIs on loopback,
    /// derived from the cluster's state). On by default.
    pub telemetry: bool,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("seed", &self.seed)
            .field("workers", &self.workers)
            .field("manual_clock", &self.manual_clock.is_some())
            .field("port", &self.port)
            .field("kubeconfig_dir", &self.kubeconfig_dir)
            .field("hidden_namespaces", &self.hidden_namespaces)
            .field("hidden_groups", &self.hidden_groups)
            .field("controllers", &self.controllers)
            .finish()
    }
}

impl Default for ClusterConfig {
    /// The defaults, with kubeconfigs in a fresh directory under the system's temp dir
    /// (`aiopslab-sim-<pid>-<n>`).
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ClusterConfig::new(
            std::env::temp_dir().join(format!("aiopslab-sim-{}-{n}", std::process::id())),
        )
    }
}

impl ClusterConfig {
    /// The defaults (seed 0, two workers, wall clock, any port, controllers on), writing the
    /// kubeconfigs into `kubeconfig_dir`.
    pub fn new(kubeconfig_dir: impl AsRef<Path>) -> Self {
        let policy = Policy::default();
        ClusterConfig {
            seed: 0,
            workers: 2,
            clock: Arc::new(WallClock),
            manual_clock: None,
            port: None,
            kubeconfig_dir: kubeconfig_dir.as_ref().to_path_buf(),
            hidden_namespaces: policy.hidden_namespaces,
            hidden_groups: policy.hidden_groups,
            controllers: true,
            controller_options: None,
            admin_token: None,
            agent_token: None,
            telemetry: true,
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Uses a manual clock for the store and the controllers.
    pub fn with_manual_clock(mut self, clock: ManualClock) -> Self {
        self.clock = Arc::new(clock.clone());
        self.manual_clock = Some(clock);
        self
    }

    /// Turns the telemetry endpoints on or off.
    pub fn with_telemetry(mut self, on: bool) -> Self {
        self.telemetry = on;
        self
    }

    /// Turns the controllers on or off.
    pub fn with_controllers(mut self, on: bool) -> Self {
        self.controllers = on;
        self
    }
}

/// A running virtual cluster. Dropping it stops the server and the controllers.
pub struct VirtualCluster {
    addr: SocketAddr,
    store: Arc<Store>,
    state: ApiState,
    admin_kubeconfig: PathBuf,
    agent_kubeconfig: PathBuf,
    admin_token: String,
    agent_token: String,
    controllers: Option<Handle>,
    telemetry: Option<(ClusterTelemetry, TelemetryServers)>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for VirtualCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCluster")
            .field("addr", &self.addr)
            .field("admin_kubeconfig", &self.admin_kubeconfig)
            .finish()
    }
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}.{hex}")
}

/// The controllers' default options: `base` with every image the virtual cluster knows in its
/// catalogue (the built-in ones, the applications' and the wrk2 client).
fn default_options(base: Options) -> Options {
    let mut catalog = crate::apps::catalog();
    crate::workload::register(&mut catalog);
    base.with_catalog(catalog)
}

/// A kubeconfig with one cluster (trusting `ca_pem`), one token user and one context.
pub fn kubeconfig_yaml(
    server: &str,
    ca_pem: &str,
    context: &str,
    user: &str,
    token: &str,
) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {context}\n\
         contexts:\n\
         - context:\n    cluster: {context}\n    namespace: default\n    user: {user}\n  name: {context}\n\
         current-context: {context}\n\
         preferences: {{}}\n\
         users:\n\
         - name: {user}\n  user:\n    token: {token}\n"
    )
}

fn write_file(path: &Path, text: &str) -> Result<(), SimError> {
    let err = |source| SimError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

impl VirtualCluster {
    /// Starts a cluster: binds, bootstraps, starts the controllers, serves.
    pub async fn start(config: ClusterConfig) -> Result<VirtualCluster, SimError> {
        let port = config.port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| SimError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { port, source })?;
        let tls = api::tls::serving_tls().map_err(SimError::Tls)?;
        let store = Arc::new(Store::new(config.seed, config.clock.clone()));
        controllers::bootstrap(
            &store,
            &Topology {
                workers: config.workers,
                ..Topology::default()
            },
        );

        let admin_token = config
            .admin_token
            .clone()
            .unwrap_or_else(|| random_token("admin"));
        let agent_token = config
            .agent_token
            .clone()
            .unwrap_or_else(|| random_token("agent"));
        let mut auth = Authenticator::new();
        auth.insert(admin_token.clone(), Identity::admin());
        auth.insert(agent_token.clone(), Identity::agent());
        let policy = Policy {
            hidden_namespaces: config.hidden_namespaces.clone(),
            hidden_groups: config.hidden_groups.clone(),
        };
        let state = ApiState::new(store.clone(), auth, policy, addr.to_string());

        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(api::sync_crds(store.clone())));
        let controllers = if config.controllers {
            let options = match (&config.controller_options, &config.manual_clock) {
                (Some(o), _) => o.clone(),
                (None, Some(clock)) => default_options(Options::manual(clock.clone())),
                (None, None) => default_options(Options::default()),
            };
            let handle = controllers::start(store.clone(), options);
            state.set_runtime(handle.runtime());
            state.set_metrics(Arc::new(handle.metrics()));
            Some(handle)
        } else {
            None
        };

        let server = format!("https://{addr}");
        // The agent's kubeconfig names the same server as `localhost`, so that kubectl keeps
        // its discovery cache (which is per host) apart from the admin's: the agent must not
        // see the admin's hidden groups through a shared cache.
        let agent_server = format!("https://localhost:{}", addr.port());
        let admin_kubeconfig = config.kubeconfig_dir.join("admin.kubeconfig");
        let agent_kubeconfig = config.kubeconfig_dir.join("agent.kubeconfig");
        write_file(
            &admin_kubeconfig,
            &kubeconfig_yaml(
                &server,
                &tls.ca_pem,
                "aiopslab",
                "aiopslab-admin",
                &admin_token,
            ),
        )?;
        write_file(
            &agent_kubeconfig,
            &kubeconfig_yaml(
                &agent_server,
                &tls.ca_pem,
                "aiopslab-agent",
                "aiopslab-agent",
                &agent_token,
            ),
        )?;

        let app = api::router(state.clone());
        tasks.push(tokio::spawn(api::tls::serve(
            listener,
            app,
            tls.config.clone(),
        )));
        let telemetry = if config.telemetry {
            let derived = ClusterTelemetry::for_cluster(
                store.clone(),
                controllers.as_ref(),
                DeriveConfig::new(config.seed),
            );
            let servers = TelemetryServers::start(derived.sources(), config.clock.clone())
                .await
                .map_err(|source| SimError::Bind { port: 0, source })?;
            Some((derived, servers))
        } else {
            None
        };
        Ok(VirtualCluster {
            addr,
            store,
            state,
            admin_kubeconfig,
            agent_kubeconfig,
            admin_token,
            agent_token,
            controllers,
            telemetry,
            tasks,
        })
    }

    /// The listening address (`127.0.0.1:PORT`).
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The API server URL (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The PEM certificate of the CA that signed the server's certificate.
    pub fn ca_pem(&self) -> String {
        api::tls::serving_tls()
            .map(|t| t.ca_pem)
            .unwrap_or_default()
    }

    /// The admin's kubeconfig (context `aiopslab`).
    pub fn admin_kubeconfig_path(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The agent's kubeconfig (context `aiopslab-agent`).
    pub fn agent_kubeconfig_path(&self) -> &Path {
        &self.agent_kubeconfig
    }

    /// The admin's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The agent's bearer token.
    pub fn agent_token(&self) -> &str {
        &self.agent_token
    }

    /// The object store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The running controllers (to settle them or advance a manual clock), if started.
    pub fn controllers(&self) -> Option<&Handle> {
        self.controllers.as_ref()
    }

    /// The URLs of the Prometheus, Jaeger and Elasticsearch endpoints, when telemetry is on.
    pub fn telemetry_urls(&self) -> Option<TelemetryUrls> {
        self.telemetry.as_ref().map(|(_, servers)| servers.urls())
    }

    /// The derived telemetry (timeline, request log, sources), when telemetry is on.
    pub fn telemetry(&self) -> Option<&ClusterTelemetry> {
        self.telemetry.as_ref().map(|(derived, _)| derived)
    }

    /// Replaces the runtime behind `pods/log` and `pods/exec`.
    pub fn set_runtime(&self, runtime: Arc<dyn PodRuntime>) {
        self.state.set_runtime(runtime);
    }

    /// Replaces the source of `metrics.k8s.io` numbers.
    pub fn set_metrics(&self, metrics: Arc<dyn api::metrics::MetricsSource>) {
        self.state.set_metrics(metrics);
    }

    /// Stops the server and the controllers and waits for them to end.
    pub async fn shutdown(mut self) {
        if let Some((_, servers)) = self.telemetry.take() {
            servers.stop().await;
        }
        self.stop();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }

    fn stop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(mut c) = self.controllers.take() {
            c.stop();
        }
    }
}

impl Drop for VirtualCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_server_context_and_token() {
        let y = kubeconfig_yaml(
            "https://127.0.0.1:1",
            "PEM",
            "aiopslab",
            "aiopslab-admin",
            "t",
        );
        assert!(y.contains("    server: https://127.0.0.1:1\n"));
        assert!(y.contains("    certificate-authority-data: UEVN\n"));
        assert!(y.contains("current-context: aiopslab\n"));
        assert!(y.contains("    token: t\n"));
    }
}
