//! Connecting to a cluster named explicitly by a kubeconfig file and a context.
//!
//! Nothing here reads `KUBECONFIG`, `~/.kube/config` or the in-cluster service account
//! environment (`KUBERNETES_SERVICE_*`) by itself: the caller passes the file, and either a
//! context name or nothing (the file's own `current-context`). The client gets a capped retry
//! policy (kube's default would retry 429/503/504 fifteen times with back-offs up to 1000 s), a
//! short connect timeout, and every helper call a request time limit, so that an unreachable
//! or hanging server is an error within seconds, not a hang.
//!
//! ```no_run
//! use aiopslab_k8s::{Cluster, ClusterTarget};
//! # async fn demo() -> aiopslab_k8s::Result<()> {
//! let target = ClusterTarget::new("/tmp/cluster/admin.kubeconfig").with_context("aiopslab");
//! let cluster = Cluster::connect(&target).await?;
//! println!("connected to {} ({})", cluster.server_url(), cluster.server_version().git_version);
//! # Ok(()) }
//! ```

use crate::error::{K8sError, Result, error_chain};
use kube::client::ClientBuilder;
use kube::client::retry::RetryPolicy;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config, Discovery};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tower::buffer::BufferLayer;
use tower::retry::RetryLayer;

/// The label every object created for a run carries, so that cleanup can find it:
/// `aiopslab.dev/run=<run id>`.
pub const RUN_LABEL: &str = "aiopslab.dev/run";

/// The field manager of every server-side apply and patch made by this crate.
pub const FIELD_MANAGER: &str = "aiopslab";

/// Which cluster to talk to: a kubeconfig file and optionally a context in it.
///
/// Without a context the file's `current-context` is used: the file itself is the explicit
/// choice. Use [`ClusterTarget::user_kubeconfig_path`] only when a person asked for their own
/// kubeconfig, and then name the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    /// The kubeconfig file.
    pub kubeconfig: PathBuf,
    /// The context; `None`: the file's `current-context`.
    pub context: Option<String>,
    /// Overrides the context's default namespace.
    pub namespace: Option<String>,
    /// Time limit for opening a TCP connection (default 3 s).
    pub connect_timeout: Duration,
    /// Time limit for the first request made by [`Cluster::connect`] (default 5 s).
    pub probe_timeout: Duration,
    /// Time limit for each request made by this crate's helpers (default 30 s).
    pub request_timeout: Duration,
    /// How often a 429/503/504 answer is retried (default 3; back-off 0.2 s to 2 s).
    pub max_retries: u32,
}

impl ClusterTarget {
    /// The cluster of `kubeconfig`'s current context, with the default time limits.
    pub fn new(kubeconfig: impl Into<PathBuf>) -> Self {
        ClusterTarget {
            kubeconfig: kubeconfig.into(),
            context: None,
            namespace: None,
            connect_timeout: Duration::from_secs(3),
            probe_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
        }
    }

    /// Uses the context named `context`.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Uses `namespace` as the default namespace instead of the context's.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the connect and probe time limits.
    pub fn with_connect_timeout(mut self, connect: Duration, probe: Duration) -> Self {
        self.connect_timeout = connect;
        self.probe_timeout = probe;
        self
    }

    /// Sets the time limit of each helper request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how often 429/503/504 answers are retried.
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The kubeconfig a person's kubectl would use: the first entry of `KUBECONFIG`, else
    /// `~/.kube/config`. Call this only when the user asked for their own cluster (and then
    /// name the context); nothing in this crate calls it.
    pub fn user_kubeconfig_path() -> Option<PathBuf> {
        if let Some(paths) = std::env::var_os("KUBECONFIG")
            && let Some(first) = std::env::split_paths(&paths).find(|p| !p.as_os_str().is_empty())
        {
            return Some(first);
        }
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".kube").join("config"))
    }
}

/// The API server's version (`/version`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    /// Major version (`1`).
    pub major: String,
    /// Minor version (`33`).
    pub minor: String,
    /// Full version (`v1.33.1`).
    pub git_version: String,
    /// Platform (`linux/amd64`).
    pub platform: String,
}

struct Info {
    kubeconfig: PathBuf,
    context: String,
    server: String,
    default_namespace: String,
    version: ServerInfo,
    request_timeout: Duration,
    /// The kubeconfig's cluster entry (for writing derived kubeconfigs).
    cluster_entry: kube::config::Cluster,
}

/// A connected cluster: a kube [`Client`] plus what this crate needs to address it.
/// Cheap to clone; clones share the discovery cache.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    info: Arc<Info>,
    pub(crate) discovery: Arc<tokio::sync::Mutex<Option<Arc<Discovery>>>>,
    run_id: Option<String>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.info.server)
            .field("context", &self.info.context)
            .field("kubeconfig", &self.info.kubeconfig)
            .field("run_id", &self.run_id)
            .finish()
    }
}

fn kubeconfig_error(path: &Path, error: &KubeconfigError) -> K8sError {
    K8sError::Kubeconfig {
        path: path.to_path_buf(),
        message: error_chain(error),
    }
}

/// The context to use, checked against the file.
fn choose_context(path: &Path, file: &Kubeconfig, wanted: Option<&str>) -> Result<String> {
    let available: Vec<String> = file.contexts.iter().map(|c| c.name.clone()).collect();
    match wanted {
        Some(name) => {
            if available.iter().any(|c| c == name) {
                Ok(name.to_string())
            } else {
                Err(K8sError::UnknownContext {
                    path: path.to_path_buf(),
                    context: name.to_string(),
                    available,
                })
            }
        }
        None => match file.current_context.as_deref().filter(|c| !c.is_empty()) {
            Some(name) if available.iter().any(|c| c == name) => Ok(name.to_string()),
            Some(name) => Err(K8sError::UnknownContext {
                path: path.to_path_buf(),
                context: name.to_string(),
                available,
            }),
            None => Err(K8sError::NoContext {
                path: path.to_path_buf(),
                available,
            }),
        },
    }
}

/// Turns a failed first request into the error that says what to check.
fn probe_error(
    error: kube::Error,
    path: &Path,
    server: &str,
    context: &str,
    connect_timeout: Duration,
) -> K8sError {
    match &error {
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => {
            K8sError::Unauthorized {
                server: server.to_string(),
                context: context.to_string(),
                code: status.code,
                message: status.message.clone(),
            }
        }
        kube::Error::Api(_) => K8sError::api(format!("GET {server}/version"), error),
        kube::Error::Auth(_) => K8sError::Kubeconfig {
            path: path.to_path_buf(),
            message: format!(
                "the credentials of context {context:?} could not be obtained: {}",
                error_chain(&error)
            ),
        },
        _ => {
            let message = error_chain(&error);
            let lower = message.to_lowercase();
            if lower.contains("deadline has elapsed") {
                return K8sError::Unreachable {
                    server: server.to_string(),
                    context: context.to_string(),
                    message: format!(
                        "no answer within {} s (the connect timeout: TCP connect and TLS handshake)",
                        secs(connect_timeout)
                    ),
                };
            }
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
            {
                K8sError::Tls {
                    server: server.to_string(),
                    context: context.to_string(),
                    message,
                }
            } else {
                K8sError::Unreachable {
                    server: server.to_string(),
                    context: context.to_string(),
                    message,
                }
            }
        }
    }
}

impl Cluster {
    /// Reads the kubeconfig, builds a client for the chosen context, and asks the server for
    /// its version. Fails within about [`ClusterTarget::probe_timeout`] when the server cannot
    /// be reached, naming the server URL.
    ///
    /// The client's request buffer runs as a task on the Tokio runtime that calls `connect`:
    /// use the `Cluster` on that runtime.
    pub async fn connect(target: &ClusterTarget) -> Result<Cluster> {
        crate::tls::install_crypto_provider();
        let path = &target.kubeconfig;
        if !path.is_file() {
            return Err(K8sError::Kubeconfig {
                path: path.clone(),
                message: "no such file".into(),
            });
        }
        let file = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(path, &e))?;
        let context = choose_context(path, &file, target.context.as_deref())?;
        let cluster_entry = file
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.as_ref())
            .and_then(|ctx| file.clusters.iter().find(|c| c.name == ctx.cluster))
            .and_then(|c| c.cluster.clone())
            .unwrap_or_default();
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = Config::from_custom_kubeconfig(file, &options)
            .await
            .map_err(|e| kubeconfig_error(path, &e))?;
        config.default_retry = false;
        config.connect_timeout = Some(target.connect_timeout);
        if let Some(ns) = &target.namespace {
            config.default_namespace = ns.clone();
        }
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let default_namespace = config.default_namespace.clone();
        let client =
            build_client(config, target.max_retries).map_err(|message| K8sError::Kubeconfig {
                path: path.clone(),
                message,
            })?;

        let version =
            match tokio::time::timeout(target.probe_timeout, client.apiserver_version()).await {
                Ok(Ok(v)) => ServerInfo {
                    major: v.major,
                    minor: v.minor,
                    git_version: v.git_version,
                    platform: v.platform,
                },
                Ok(Err(e)) => {
                    return Err(probe_error(
                        e,
                        path,
                        &server,
                        &context,
                        target.connect_timeout,
                    ));
                }
                Err(_) => {
                    return Err(K8sError::Unreachable {
                        server,
                        context,
                        message: format!("no answer within {} s", secs(target.probe_timeout)),
                    });
                }
            };
        tracing::debug!(%server, %context, version = %version.git_version, "connected");
        Ok(Cluster {
            client,
            info: Arc::new(Info {
                kubeconfig: path.clone(),
                context,
                server,
                default_namespace,
                version,
                request_timeout: target.request_timeout,
                cluster_entry,
            }),
            discovery: Arc::new(tokio::sync::Mutex::new(None)),
            run_id: None,
        })
    }

    /// The same cluster, labelling what it creates with `aiopslab.dev/run=<run_id>`.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Cluster {
        self.run_id = Some(run_id.into());
        self
    }

    /// The run id set with [`Cluster::with_run_id`].
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The labels every created object gets: `aiopslab.dev/run=<id>` when a run id is set.
    pub fn run_labels(&self) -> BTreeMap<String, String> {
        self.run_id
            .iter()
            .map(|id| (RUN_LABEL.to_string(), id.clone()))
            .collect()
    }

    /// The kube client (for calls this crate has no helper for).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The API server URL (`https://127.0.0.1:6443`).
    pub fn server_url(&self) -> &str {
        &self.info.server
    }

    /// The context in use.
    pub fn context(&self) -> &str {
        &self.info.context
    }

    /// The kubeconfig file this cluster was reached through.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.info.kubeconfig
    }

    /// The default namespace (the context's, or the target's override).
    pub fn default_namespace(&self) -> &str {
        &self.info.default_namespace
    }

    /// The server version, as reported when connecting.
    pub fn server_version(&self) -> &ServerInfo {
        &self.info.version
    }

    /// The time limit of one helper request.
    pub fn request_timeout(&self) -> Duration {
        self.info.request_timeout
    }

    /// The kubeconfig's cluster entry (server, CA) of the context in use.
    pub(crate) fn cluster_entry(&self) -> &kube::config::Cluster {
        &self.info.cluster_entry
    }

    /// Runs one API call with the request time limit, naming `action` in errors.
    pub(crate) async fn call<T>(
        &self,
        action: impl Into<String>,
        fut: impl Future<Output = std::result::Result<T, kube::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.info.request_timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(K8sError::api(action, e)),
            Err(_) => Err(K8sError::Timeout {
                action: action.into(),
                server: self.info.server.clone(),
                secs: self.info.request_timeout.as_secs(),
            }),
        }
    }
}

/// Seconds as people write them: `3`, `1.5`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A client with a capped retry policy in front of kube's default stack.
fn build_client(config: Config, max_retries: u32) -> std::result::Result<Client, String> {
    let policy = RetryPolicy::new(
        Duration::from_millis(200),
        Duration::from_secs(2),
        max_retries,
        false,
    )
    .map_err(|e| e.to_string())?;
    let builder = ClientBuilder::try_from(config).map_err(|e| error_chain(&e))?;
    Ok(builder
        .with_layer(&BufferLayer::new(256))
        .with_layer(&RetryLayer::new(policy))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(current: Option<&str>) -> Kubeconfig {
        let yaml = format!(
            "apiVersion: v1\nkind: Config\n{}contexts:\n- name: a\n  context:\n    cluster: c\n- name: b\n  context:\n    cluster: c\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n",
            current
                .map(|c| format!("current-context: {c}\n"))
                .unwrap_or_default()
        );
        Kubeconfig::from_yaml(&yaml).expect("kubeconfig")
    }

    #[test]
    fn context_is_named_or_the_files_current_one() {
        let p = Path::new("/k");
        assert_eq!(choose_context(p, &file(Some("b")), None).unwrap(), "b");
        assert_eq!(choose_context(p, &file(Some("b")), Some("a")).unwrap(), "a");
        let err = choose_context(p, &file(None), None).unwrap_err();
        assert!(matches!(err, K8sError::NoContext { .. }), "{err}");
        let err = choose_context(p, &file(Some("a")), Some("prod")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the kubeconfig /k has no context named \"prod\"; it has: a, b. Name one of these"
        );
    }

    #[test]
    fn target_defaults() {
        let target = ClusterTarget::new("/k").with_context("a");
        assert_eq!(target.context.as_deref(), Some("a"));
        assert_eq!(target.max_retries, 3);
    }
}
