//! Starting the telemetry endpoints on loopback and reporting their URLs.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use aiopslab_sim::clock::WallClock;
//! use aiopslab_sim::telemetry::{TelemetryServers, TelemetrySources};
//! let servers = TelemetryServers::start(TelemetrySources::empty(), std::sync::Arc::new(WallClock)).await?;
//! println!("{}", servers.urls());
//! servers.stop().await;
//! # Ok(()) }
//! ```

use super::logs::{InMemoryLogs, LogSource};
use super::metrics::{InMemoryMetrics, MetricSource};
use super::traces::{InMemoryTraces, TraceSource};
use super::{elastic, jaeger, prometheus};
use crate::clock::SharedClock;
use axum::Router;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running HTTP server on 127.0.0.1; stopped by [`stop`](Self::stop) or when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Serves `router` on an ephemeral port of 127.0.0.1.
    pub async fn start(router: Router) -> std::io::Result<Self> {
        Self::start_on(router, 0).await
    }

    /// Serves `router` on 127.0.0.1:`port` (0 picks a free port).
    pub async fn start_on(router: Router, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "telemetry server stopped with an error");
            }
        });
        Ok(ServerHandle {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the Prometheus API (and `/metrics`) over `source` on an ephemeral loopback port.
pub async fn start_prometheus(
    source: Arc<dyn MetricSource>,
    clock: SharedClock,
) -> std::io::Result<ServerHandle> {
    ServerHandle::start(prometheus::router(source, clock)).await
}

/// Serves the Jaeger query API over `source` on an ephemeral loopback port.
pub async fn start_jaeger(
    source: Arc<dyn TraceSource>,
    clock: SharedClock,
) -> std::io::Result<ServerHandle> {
    ServerHandle::start(jaeger::router(source, clock)).await
}

/// Serves the Elasticsearch API over `source` on an ephemeral loopback port.
pub async fn start_elasticsearch(
    source: Arc<dyn LogSource>,
    clock: SharedClock,
) -> std::io::Result<ServerHandle> {
    ServerHandle::start(elastic::router(source, clock)).await
}

/// The three sources the telemetry servers read.
#[derive(Clone)]
pub struct TelemetrySources {
    /// Metric series.
    pub metrics: Arc<dyn MetricSource>,
    /// Traces.
    pub traces: Arc<dyn TraceSource>,
    /// Log documents.
    pub logs: Arc<dyn LogSource>,
}

impl TelemetrySources {
    /// Empty in-memory sources.
    pub fn empty() -> Self {
        TelemetrySources {
            metrics: Arc::new(InMemoryMetrics::new()),
            traces: Arc::new(InMemoryTraces::new()),
            logs: Arc::new(InMemoryLogs::new()),
        }
    }
}

/// The URLs of the three endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryUrls {
    /// Prometheus HTTP API base URL.
    pub prometheus: String,
    /// Jaeger query API base URL.
    pub jaeger: String,
    /// Elasticsearch base URL.
    pub elasticsearch: String,
}

impl fmt::Display for TelemetryUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Prometheus:    {}", self.prometheus)?;
        writeln!(f, "Jaeger:        {}", self.jaeger)?;
        write!(f, "Elasticsearch: {}", self.elasticsearch)
    }
}

/// The Prometheus, Jaeger and Elasticsearch endpoints of a virtual cluster.
pub struct TelemetryServers {
    /// Prometheus HTTP API and `/metrics`.
    pub prometheus: ServerHandle,
    /// Jaeger query API.
    pub jaeger: ServerHandle,
    /// Elasticsearch API.
    pub elasticsearch: ServerHandle,
}

impl TelemetryServers {
    /// Starts all three on ephemeral loopback ports.
    pub async fn start(sources: TelemetrySources, clock: SharedClock) -> std::io::Result<Self> {
        Ok(TelemetryServers {
            prometheus: start_prometheus(sources.metrics, clock.clone()).await?,
            jaeger: start_jaeger(sources.traces, clock.clone()).await?,
            elasticsearch: start_elasticsearch(sources.logs, clock).await?,
        })
    }

    /// Their URLs.
    pub fn urls(&self) -> TelemetryUrls {
        TelemetryUrls {
            prometheus: self.prometheus.url(),
            jaeger: self.jaeger.url(),
            elasticsearch: self.elasticsearch.url(),
        }
    }

    /// Stops all three.
    pub async fn stop(self) {
        self.prometheus.stop().await;
        self.jaeger.stop().await;
        self.elasticsearch.stop().await;
    }
}
