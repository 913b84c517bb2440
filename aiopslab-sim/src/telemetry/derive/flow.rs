//! From the request flow's result ([`crate::apps::flow::RequestOutcome`]) to a
//! [`RecordedRequest`]: the hook the workload (or anything that simulates requests) calls.
//!
//! ```no_run
//! # fn demo(store: &aiopslab_sim::store::Store, at: jiff::Timestamp) {
//! use aiopslab_sim::apps::flow::{EntryRequest, simulate};
//! use aiopslab_sim::telemetry::derive::RequestLog;
//! let out = simulate(store, "hotel-reservation", &EntryRequest::get("/hotels"), 7, at);
//! store.extension::<RequestLog>().record_outcome(&out, at);
//! # }
//! ```
//!
//! The flow's spans become spans with absolute times (the request's send time plus each span's
//! offset); string tags get Jaeger's types (`http.status_code` and `peer.port` integers,
//! `error` a boolean), the request protocol is read from the tags and peers (`http`, `grpc`,
//! `mongodb`, `memcached`, `redis`, else `thrift` between services and `tcp` to other peers),
//! and the lines services printed become request log lines.

use super::requests::{RecordedLog, RecordedRequest, RecordedSpan, RequestLog, SpanKind};
use crate::apps::flow::{self, RequestOutcome};
use crate::telemetry::traces::Tag;
use jiff::{SignedDuration, Timestamp};

fn us(d: SignedDuration) -> i64 {
    (d.as_nanos() / 1000) as i64
}

fn typed_tag(key: &str, value: &str) -> Tag {
    match key {
        "http.status_code" | "peer.port" => match value.parse::<i64>() {
            Ok(i) => Tag::int(key, i),
            Err(_) => Tag::string(key, value),
        },
        "error" => Tag::bool(key, value == "true"),
        _ => Tag::string(key, value),
    }
}

fn tag<'a>(s: &'a flow::Span, key: &str) -> Option<&'a str> {
    s.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn protocol(s: &flow::Span, parent: Option<&flow::Span>) -> String {
    if tag(s, "http.method").is_some() || tag(s, "component") == Some("net/http") {
        return "http".into();
    }
    if tag(s, "component") == Some("gRPC") {
        return "grpc".into();
    }
    let port = tag(s, "peer.port").unwrap_or_default();
    let op = s.operation.to_ascii_lowercase();
    if port.ends_with("27017") || op.contains("mongo") {
        return "mongodb".into();
    }
    if port.ends_with("11211") || op.contains("memcached") || op.contains("mmc") {
        return "memcached".into();
    }
    if port.ends_with("6379") || op.contains("redis") {
        return "redis".into();
    }
    let between_services = match s.kind {
        flow::SpanKind::Server => parent.is_some(),
        flow::SpanKind::Client => s
            .children
            .iter()
            .any(|c| c.kind == flow::SpanKind::Server && c.service != s.service),
    };
    if between_services {
        // A parent that speaks HTTP or gRPC decided above; what is left between traced
        // services is Thrift (Social Network's C++ services).
        match parent.map(|p| protocol(p, None)) {
            Some(p) if p == "grpc" => p,
            _ => "thrift".into(),
        }
    } else {
        "tcp".into()
    }
}

fn walk(
    s: &flow::Span,
    parent: Option<(usize, &flow::Span)>,
    at_us: i64,
    out: &mut Vec<RecordedSpan>,
) {
    let status_code = tag(s, "http.status_code").and_then(|v| v.parse::<i64>().ok());
    let tags: Vec<Tag> = s
        .tags
        .iter()
        .filter(|(k, _)| k != "error" && k != "http.status_code")
        .map(|(k, v)| typed_tag(k, v))
        .collect();
    let peer_service = match s.kind {
        flow::SpanKind::Client => tag(s, "peer.hostname")
            .map(str::to_string)
            .or_else(|| {
                s.children
                    .iter()
                    .find(|c| c.kind == flow::SpanKind::Server)
                    .map(|c| c.service.clone())
            })
            .unwrap_or_default(),
        flow::SpanKind::Server => String::new(),
    };
    let index = out.len();
    out.push(RecordedSpan {
        parent: parent.map(|(i, _)| i),
        service: s.service.clone(),
        operation: s.operation.clone(),
        kind: match s.kind {
            flow::SpanKind::Server => SpanKind::Server,
            flow::SpanKind::Client => SpanKind::Client,
        },
        start_us: at_us + us(s.start),
        duration_us: us(s.duration).max(0),
        namespace: s.namespace.clone(),
        pod: s.pod.clone(),
        pod_ip: s.ip.clone(),
        error: s.error,
        status_code,
        failed: s.error || status_code.is_some_and(|c| c >= 500),
        tags,
        process_tags: Vec::new(),
        logs: Vec::new(),
        peer_service,
        protocol: protocol(s, parent.map(|(_, p)| p)),
        request_bytes: 0,
        response_bytes: 0,
    });
    for c in &s.children {
        walk(c, Some((index, s)), at_us, out);
    }
}

impl RecordedRequest {
    /// The request the flow simulated, sent at `at`.
    pub fn from_outcome(outcome: &RequestOutcome, at: Timestamp) -> RecordedRequest {
        let at_us = at.as_microsecond();
        let mut spans = Vec::new();
        if let Some(root) = &outcome.trace {
            walk(root, None, at_us, &mut spans);
        }
        let logs = outcome
            .logs
            .iter()
            .map(|l| RecordedLog {
                time_ms: (at_us + us(l.offset)).div_euclid(1000),
                namespace: l.namespace.clone(),
                pod: l.pod.clone(),
                container: l.container.clone(),
                message: l.line.clone(),
            })
            .collect();
        RecordedRequest {
            sampled: outcome.sampled,
            spans,
            logs,
        }
    }
}

impl RequestLog {
    /// Records what the request flow simulated for a request sent at `at`.
    pub fn record_outcome(&self, outcome: &RequestOutcome, at: Timestamp) {
        self.record(RecordedRequest::from_outcome(outcome, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(
        service: &str,
        op: &str,
        kind: flow::SpanKind,
        children: Vec<flow::Span>,
    ) -> flow::Span {
        flow::Span {
            service: service.into(),
            operation: op.into(),
            kind,
            namespace: "ns".into(),
            pod: format!("{service}-1"),
            ip: "10.244.1.5".into(),
            start: SignedDuration::from_micros(100),
            duration: SignedDuration::from_micros(900),
            error: false,
            tags: vec![],
            cpu_ms: 0.0,
            children,
        }
    }

    #[test]
    fn flow_spans_become_recorded_spans() {
        let mut db = span("geo", "mongo_geo", flow::SpanKind::Client, vec![]);
        db.tags = vec![
            ("peer.hostname".into(), "mongodb-geo".into()),
            ("peer.port".into(), "27017".into()),
        ];
        let geo = span("geo", "/geo.Geo/Nearby", flow::SpanKind::Server, vec![db]);
        let mut call = span(
            "frontend",
            "/geo.Geo/Nearby",
            flow::SpanKind::Client,
            vec![geo],
        );
        call.tags = vec![
            ("component".into(), "gRPC".into()),
            ("error".into(), "true".into()),
        ];
        call.error = true;
        let mut root = span(
            "frontend",
            "HTTP GET /hotels",
            flow::SpanKind::Server,
            vec![call],
        );
        root.tags = vec![
            ("http.method".into(), "GET".into()),
            ("http.status_code".into(), "500".into()),
        ];
        let out = RequestOutcome {
            status: Some(500),
            body: String::new(),
            error: None,
            latency: SignedDuration::from_millis(2),
            trace: Some(root),
            sampled: true,
            logs: vec![flow::EmittedLog {
                namespace: "ns".into(),
                pod: "frontend-1".into(),
                container: "hotel-reserv-frontend".into(),
                offset: SignedDuration::from_millis(1),
                line: "error".into(),
            }],
            crashes: vec![],
        };
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let r = RecordedRequest::from_outcome(&out, at);
        assert_eq!(r.spans.len(), 4);
        assert_eq!(r.spans[0].status_code, Some(500));
        assert!(r.spans[0].failed && r.spans[0].protocol == "http");
        assert_eq!(r.spans[1].parent, Some(0));
        assert_eq!(r.spans[1].protocol, "grpc");
        assert_eq!(r.spans[1].peer_service, "geo");
        assert!(r.spans[1].error && !r.spans[1].tags.iter().any(|t| t.key == "error"));
        assert_eq!(r.spans[2].protocol, "grpc");
        assert_eq!(r.spans[3].protocol, "mongodb");
        assert_eq!(r.spans[3].peer_service, "mongodb-geo");
        assert!(r.spans[3].tags.contains(&Tag::int("peer.port", 27017)));
        assert_eq!(r.spans[0].start_us, at.as_microsecond() + 100);
        assert_eq!(r.logs[0].time_ms, at.as_millisecond() + 1);
    }
}
