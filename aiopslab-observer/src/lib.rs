//! Telemetry for AIOpsLab-rs.
//!
//! This crate will own the Prometheus, Jaeger and Elasticsearch clients, time windows, tabular
//! frames, the CSV layouts of AIOpsLab (metrics, traces, logs) and agent-sized summaries used by
//! the `get_metrics`, `get_traces`, `read_metrics`, `read_traces` and `get_logs` actions.
