//! Telemetry of the virtual cluster: sources, a PromQL engine and the HTTP endpoints a real
//! cluster's Prometheus, Jaeger and Elasticsearch would offer.
//!
//! Data comes from three seams, each asked for a time window and computing lazily:
//! [`MetricSource`] (series of samples), [`TraceSource`] (Jaeger-style traces) and [`LogSource`]
//! (logstash-style documents). In-memory and composite implementations serve tests and merging.
//! The servers read only these traits:
//!
//! - [`prometheus`]: the Prometheus HTTP API (`/api/v1/query`, `query_range`, `series`,
//!   `labels`, `label/<name>/values`, `status/buildinfo`, `-/healthy`, `-/ready`) over the
//!   [`promql`] engine, plus the `/metrics` text exposition ([`exposition`]);
//! - [`jaeger`]: the Jaeger query API (`/api/services`, `/api/operations`, `/api/traces`, ...);
//! - [`elastic`]: the Elasticsearch search API over daily `logstash-YYYY.MM.DD` indices;
//! - [`server`]: starts them on loopback ports and reports their URLs.
//!
//! Responses are deterministic: the same source data gives byte-identical bodies.

pub mod derive;
pub mod elastic;
pub mod exposition;
mod http;
pub mod jaeger;
pub mod labels;
pub mod logs;
pub mod metrics;
pub mod prometheus;
pub mod promql;
pub mod server;
pub mod traces;
pub mod window;

pub use labels::{Label, LabelMatcher, Labels, METRIC_NAME, MatchKind};
pub use logs::{CompositeLogs, ContainerRef, InMemoryLogs, LogDocument, LogSource};
pub use metrics::{CompositeMetrics, InMemoryMetrics, MetricKind, MetricSource, Sample, Series};
pub use server::{ServerHandle, TelemetryServers, TelemetrySources, TelemetryUrls};
pub use traces::{
    CompositeTraces, InMemoryTraces, Operation, Process, RefType, Span, SpanLog, SpanRef, Tag,
    TagValue, Trace, TraceSource,
};
pub use window::TimeWindow;
