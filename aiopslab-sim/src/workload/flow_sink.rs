//! The applications' request flow as a sink: a request to a Service whose pods run an
//! application profile goes through [`crate::apps::flow::simulate_in`], which follows it down
//! the call graph against the cluster's state at that moment. Every outcome is recorded in
//! the cluster's [`RequestLog`], so the traces, service logs and request metrics the agent
//! reads come from the workload's own traffic.

use super::sink::{Delivery, Outcome, RequestSink, Resolved};
use crate::apps::flow::{EntryRequest, simulate_in};
use crate::telemetry::derive::RequestLog;

/// Response headers wrk2 reads besides the body (a Go `net/http` or OpenResty status line,
/// `Date`, `Content-Type`, `Content-Length` or chunked framing, `Connection`).
const HEADER_BYTES: u64 = 140;

/// The sink backed by `apps::flow`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowSink;

/// How the flow says that the Service's pod runs no application profile (a plain nginx, for
/// instance): the request is left to the next sink.
const NOT_AN_APP: &str = "runs no application profile";

impl RequestSink for FlowSink {
    fn deliver(&self, d: &Delivery<'_>) -> Option<Outcome> {
        let Resolved::Service {
            namespace,
            name,
            port,
            ..
        } = d.target
        else {
            return None;
        };
        let request = EntryRequest {
            method: d.request.method.clone(),
            target: d.request.target.clone(),
            body: d.request.body.clone(),
            client_namespace: d.client_namespace.to_string(),
            client_ip: (!d.client_ip.is_empty()).then(|| d.client_ip.to_string()),
        };
        let out = simulate_in(d.store, namespace, name, *port, &request, d.seed, d.at);
        let error = out.error.clone().unwrap_or_default();
        if out.status.is_none() && error.contains(NOT_AN_APP) {
            return None;
        }
        d.store.extension::<RequestLog>().record_outcome(&out, d.at);
        if let Some(status) = out.status {
            let latency_us = (out.latency.as_nanos().max(0) / 1000) as u64;
            return Some(Outcome::Response {
                status,
                latency_us: latency_us.max(1),
                bytes: HEADER_BYTES + out.body.len() as u64,
            });
        }
        Some(if error.contains("connection refused") {
            Outcome::Refused
        } else if error.contains("timeout") {
            Outcome::Timeout
        } else {
            Outcome::Reset
        })
    }
}
