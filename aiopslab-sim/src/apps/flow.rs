//! The request flow: what one client request does in an application, derived from the state.
//!
//! [`simulate`] follows a request from the client (the wrk2 pod) to the app's front end and
//! down the call graph that the profiles' operations describe. Every hop goes through
//! [`Routing::connect`] (so a Service whose targetPort reaches nothing, a deployment scaled to
//! zero or a pod stuck before listening make it fail exactly where they would), and every
//! database step checks TLS, credentials and privileges against the data directory. Failures
//! become what the profiles say: the caller's client library message, the log lines the
//! services print, the error propagated upstream, the HTTP status at the front end; a handler
//! that panics is reported as a crash for the caller to apply. Latencies come from the
//! profiles' per-operation distributions and the network chaos hook.
//!
//! The result is a trace-like tree of spans (service, operation, start offset, duration, error,
//! tags, pod) plus the log lines emitted, so that telemetry can be derived from it. The same
//! seed and state give the same outcome.
//!
//! ```no_run
//! # fn demo(store: &aiopslab_sim::store::Store) {
//! use aiopslab_sim::apps::flow::{simulate, EntryRequest};
//! let req = EntryRequest::get("/hotels?inDate=2015-04-09&outDate=2015-04-10&lat=38.0235&lon=-122.095");
//! let out = simulate(store, "hotel-reservation", &req, 7, store.clock().now());
//! println!("{:?} {}", out.status, out.body);
//! # }
//! ```

use super::logfmt::render_time;
use super::net::{Peer, Routing, Target};
use super::profile::{
    FailAction, FailKind, OpStep, Operation, Profile, Registry, reaction, registry,
};
use super::state::{RunInfo, RunKey, TlsMode, World};
use super::template::{Vars, render};
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A client request to an app's front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query (`/hotels?inDate=...`), or an absolute URI as wrk2 sends it.
    pub target: String,
    /// A form-encoded body, if any.
    pub body: Option<String>,
    /// The client's namespace (wrk2 runs in `default`).
    pub client_namespace: String,
    /// The client pod's IP, if known (nginx logs it).
    pub client_ip: Option<String>,
}

impl EntryRequest {
    /// A GET from the `default` namespace.
    pub fn get(target: &str) -> Self {
        EntryRequest {
            method: "GET".into(),
            target: target.into(),
            body: None,
            client_namespace: "default".into(),
            client_ip: None,
        }
    }

    /// A POST with a form body from the `default` namespace.
    pub fn post(target: &str, body: &str) -> Self {
        EntryRequest {
            method: "POST".into(),
            target: target.into(),
            body: Some(body.into()),
            client_namespace: "default".into(),
            client_ip: None,
        }
    }

    fn path_and_query(&self) -> (String, String) {
        let t = self.target.as_str();
        let t = match t.find("://") {
            Some(i) => {
                let rest = &t[i + 3..];
                rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
            }
            None => t,
        };
        match t.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (t.to_string(), String::new()),
        }
    }
}

/// The kind of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Serves a request.
    Server,
    /// Calls another service or a store.
    Client,
}

/// One span of the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Jaeger service name.
    pub service: String,
    /// Operation name.
    pub operation: String,
    /// Server or client.
    pub kind: SpanKind,
    /// Namespace of the pod that emitted it.
    pub namespace: String,
    /// The pod (Jaeger's `hostname` process tag).
    pub pod: String,
    /// The pod's IP.
    pub ip: String,
    /// Offset from the request's start.
    pub start: SignedDuration,
    /// Duration.
    pub duration: SignedDuration,
    /// Whether the span carries `error=true`.
    pub error: bool,
    /// Tags (`http.status_code`, `span.kind`, ...).
    pub tags: Vec<(String, String)>,
    /// CPU the pod spent serving this operation, in milliseconds (server spans; the profile's
    /// `cpu_ms`), for resource-use telemetry.
    pub cpu_ms: f64,
    /// Child spans.
    pub children: Vec<Span>,
}

impl Span {
    /// Every span of the tree, depth first.
    pub fn flatten(&self) -> Vec<&Span> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.flatten());
        }
        out
    }

    /// The first span (depth first) with this operation name.
    pub fn find(&self, operation: &str) -> Option<&Span> {
        self.flatten()
            .into_iter()
            .find(|s| s.operation == operation)
    }
}

/// A log line a container printed while serving the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedLog {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Offset from the request's start.
    pub offset: SignedDuration,
    /// The line (time placeholders rendered).
    pub line: String,
}

/// A process that died while serving the request (a Go handler's panic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Its exit code.
    pub exit_code: i32,
}

/// What happened to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOutcome {
    /// The HTTP status, or `None` when the client got no response.
    pub status: Option<u16>,
    /// The response body.
    pub body: String,
    /// Why there was no response (`dial tcp ...: connect: connection refused`).
    pub error: Option<String>,
    /// The client's latency.
    pub latency: SignedDuration,
    /// The trace (absent when the front end was not reached).
    pub trace: Option<Span>,
    /// Whether the tracer samples this request (it reaches Jaeger).
    pub sampled: bool,
    /// Lines printed by the services, in time order.
    pub logs: Vec<EmittedLog>,
    /// Processes that crashed.
    pub crashes: Vec<Crash>,
}

/// An error travelling upstream.
#[derive(Debug, Clone)]
struct CallError {
    kind: FailKind,
    code: Option<String>,
    message: String,
}

/// A service in the flow: a run of a container and its profile.
#[derive(Clone)]
struct Node {
    key: RunKey,
    run: Arc<RunInfo>,
    profile: Arc<Profile>,
}

impl Node {
    fn service(&self) -> String {
        self.profile
            .jaeger_service
            .clone()
            .unwrap_or_else(|| self.key.container.clone())
    }

    fn style(&self) -> &str {
        self.profile
            .tracer
            .as_ref()
            .map(|t| t.style.as_str())
            .unwrap_or("cpp")
    }
}

struct Exec<'a> {
    routing: &'a Routing,
    registry: &'static Registry,
    world: &'a World,
    rng: ChaCha8Rng,
    at: Timestamp,
    params: Vars,
    logs: Vec<EmittedLog>,
    crashes: Vec<Crash>,
}

const TIMEOUT_US: f64 = 10_000_000.0;

fn us(v: f64) -> SignedDuration {
    SignedDuration::from_nanos((v.max(0.0) * 1000.0) as i64)
}

impl Exec<'_> {
    fn sample(&mut self, dist: Option<[f64; 2]>, default: [f64; 2]) -> f64 {
        let [mean, sd] = dist.unwrap_or(default);
        let u1: f64 = self.rng.random::<f64>().max(1e-12);
        let u2: f64 = self.rng.random::<f64>();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mean + sd * z).max(mean * 0.2).max(1.0)
    }

    fn net_rtt(&mut self, target: &Target) -> f64 {
        let base = self.sample(None, [120.0, 30.0]);
        let delay = target.net.delay.as_secs_f64() * 1e6;
        let jitter = target.net.jitter.as_secs_f64() * 1e6;
        let j = if jitter > 0.0 {
            (self.rng.random::<f64>() * 2.0 - 1.0) * jitter
        } else {
            0.0
        };
        base + 2.0 * (delay + j).max(0.0)
    }

    fn emit(&mut self, node: &Node, offset: f64, text: &str, extra: &Vars) {
        let run_vars = Vars {
            map: node.run.vars.clone(),
            ..Vars::default()
        };
        let when = self.at.checked_add(us(offset)).unwrap_or(self.at);
        let line = render_time(&render(text, &[extra, &self.params, &run_vars]), when);
        self.logs.push(EmittedLog {
            namespace: node.key.namespace.clone(),
            pod: node.key.pod.clone(),
            container: node.key.container.clone(),
            offset: us(offset),
            line,
        });
    }

    fn timeout_us(&self, client: &str) -> f64 {
        self.registry
            .clients
            .get(client)
            .and_then(|c| c.timeout_ms)
            .map(|ms| ms * 1000.0)
            .unwrap_or(TIMEOUT_US)
    }

    fn client_error(&self, client: &str, kind: FailKind, vars: &Vars) -> CallError {
        let text = self
            .registry
            .clients
            .get(client)
            .and_then(|c| c.errors.get(&kind));
        match text {
            Some(t) => CallError {
                kind,
                code: t.code.as_ref().map(|c| render(c, &[vars])),
                message: render(&t.message, &[vars]),
            },
            None => CallError {
                kind,
                code: None,
                message: vars
                    .map
                    .get("error")
                    .cloned()
                    .unwrap_or_else(|| kind.name().to_string()),
            },
        }
    }

    /// Lines the client library prints in the caller on a failure.
    fn client_lines(
        &mut self,
        node: &Node,
        client: &str,
        kind: FailKind,
        t: f64,
        vars: &Vars,
        message: &str,
    ) {
        let lines = self
            .registry
            .clients
            .get(client)
            .and_then(|c| c.errors.get(&kind))
            .map(|e| e.log.clone())
            .unwrap_or_default();
        let mut v = vars.clone();
        v.set("message", message);
        for l in lines {
            self.emit(node, t, &l, &v);
        }
    }

    fn peer(node: &Node) -> Peer {
        Peer::pod(&node.key.namespace, &node.key.pod, &node.run.pod_ip)
    }

    fn node_of(&self, target: &Target) -> Option<Node> {
        let key = target.run_key()?;
        let run = target.run.clone()?;
        let profile = self.registry.profile(&run.profile)?.clone();
        Some(Node { key, run, profile })
    }

    /// Connects from `node` to its dependency `dep`, through service discovery when the
    /// dependency is found that way.
    fn connect_dep(&mut self, node: &Node, dep: &str, t: f64) -> Result<Target, (FailKind, Vars)> {
        let resolved = node.run.deps.get(dep).cloned();
        let at = self.at.checked_add(us(t)).unwrap_or(self.at);
        let peer = Self::peer(node);
        let Some(resolved) = resolved else {
            return Err((FailKind::Nxdomain, Vars::of(&[("host", dep.to_string())])));
        };
        if let Some(name) = &resolved.consul {
            let registry_dep = node
                .profile
                .dependencies
                .get(dep)
                .and_then(|d| d.registry.clone())
                .unwrap_or_else(|| "consul".into());
            let catalog = self.catalog_for(node, &registry_dep, at);
            let mut instances = match &catalog {
                Some(c) => self.world.consul_instances(c, name),
                None => Vec::new(),
            };
            let mut vars = Vars::of(&[("service", name.clone())]);
            if instances.is_empty() {
                return Err((FailKind::NoInstances, vars));
            }
            // Round robin over the instances that connect (gRPC only picks READY ones).
            let n = instances.len();
            let first = self.rng.random_range(0..n);
            instances.rotate_left(first);
            let mut last = FailKind::Refused;
            for inst in &instances {
                match self
                    .routing
                    .connect(&peer, &inst.address, inst.port, at, &mut |_| 0)
                {
                    Ok(target) => return Ok(target),
                    Err(e) => {
                        last = e.kind();
                        vars.set("ip", inst.address.clone());
                        vars.set("port", inst.port.to_string());
                        vars.set("error", e.to_string());
                    }
                }
            }
            return Err((last, vars));
        }
        let mut vars = Vars::of(&[
            ("host", resolved.host.clone()),
            ("port", resolved.port.to_string()),
        ]);
        if resolved.host.is_empty() {
            return Err((FailKind::Nxdomain, vars));
        }
        let rng = &mut self.rng;
        match self
            .routing
            .connect(&peer, &resolved.host, resolved.port, at, &mut |n| {
                rng.random_range(0..n)
            }) {
            Ok(target) => {
                if target.net.loss > 0.0 && self.rng.random::<f64>() < target.net.loss {
                    vars.set("ip", target.dialled_ip());
                    return Err((FailKind::Timeout, vars));
                }
                Ok(target)
            }
            Err(e) => {
                vars.set("ip", e.ip());
                vars.set("error", e.to_string());
                Err((e.kind(), vars))
            }
        }
    }

    /// The Consul agent's catalogue a node's discovery reads: the agent it reaches, else the
    /// last one it knew (the resolver keeps its addresses when Consul is down).
    fn catalog_for(&mut self, node: &Node, registry_dep: &str, at: Timestamp) -> Option<String> {
        let resolved = node.run.deps.get(registry_dep)?.clone();
        let peer = Self::peer(node);
        if let Ok(target) =
            self.routing
                .connect(&peer, &resolved.host, resolved.port, at, &mut |_| 0)
            && let (Some(k), Some(r)) = (target.run_key(), target.run.as_ref())
        {
            return Some(r.id(&k));
        }
        self.world
            .runs()
            .into_iter()
            .filter(|(k, r)| k.namespace == node.key.namespace && r.profile == "consul")
            .max_by_key(|(_, r)| r.started)
            .map(|(k, r)| r.id(&k))
    }

    /// Serves `op` in `node` starting at `t0`; returns its server span(s) and the result.
    fn serve(
        &mut self,
        node: &Node,
        op_name: &str,
        t0: f64,
        depth: usize,
    ) -> (Span, Result<(), CallError>, f64) {
        let profile = node.profile.clone();
        let fallback;
        let op = match profile.operations.get(op_name) {
            Some(op) => op,
            None => {
                fallback = Operation {
                    span: Some(op_name.to_string()),
                    ..Operation::default()
                };
                &fallback
            }
        };
        let own = self.sample(op.latency_us, [100.0, 30.0]);
        let mut t = t0 + own / 2.0;
        let mut children = Vec::new();
        let result = if depth > 16 {
            Err(CallError {
                kind: FailKind::Deadline,
                code: None,
                message: "call depth exceeded".into(),
            })
        } else {
            self.steps(node, &op.steps, &mut t, &mut children, depth)
        };
        let end = t + own / 2.0;
        let names: Vec<String> = if op.spans.is_empty() {
            vec![op.span.clone().unwrap_or_else(|| op_name.to_string())]
        } else {
            op.spans.clone()
        };
        let mut span = self.span(
            node,
            names.last().cloned().unwrap_or_default(),
            SpanKind::Server,
            t0,
            end,
            children,
        );
        for name in names.iter().rev().skip(1) {
            span = self.span(node, name.clone(), SpanKind::Server, t0, end, vec![span]);
        }
        span.cpu_ms = op.cpu_ms;
        (span, result, end)
    }

    fn span(
        &self,
        node: &Node,
        operation: String,
        kind: SpanKind,
        start: f64,
        end: f64,
        children: Vec<Span>,
    ) -> Span {
        let mut tags = Vec::new();
        if node.style() == "go" {
            tags.push((
                "span.kind".into(),
                if kind == SpanKind::Server {
                    "server"
                } else {
                    "client"
                }
                .to_string(),
            ));
        }
        Span {
            service: node.service(),
            operation,
            kind,
            namespace: node.key.namespace.clone(),
            pod: node.key.pod.clone(),
            ip: node.run.pod_ip.clone(),
            start: us(start),
            duration: us(end - start),
            error: false,
            tags,
            cpu_ms: 0.0,
            children,
        }
    }

    fn steps(
        &mut self,
        node: &Node,
        steps: &[OpStep],
        t: &mut f64,
        spans: &mut Vec<Span>,
        depth: usize,
    ) -> Result<(), CallError> {
        for step in steps {
            if !step.parallel.is_empty() {
                let start = *t;
                let mut end = start;
                let mut first_err = None;
                for s in &step.parallel {
                    let mut tt = start;
                    let r = self.steps(node, std::slice::from_ref(s), &mut tt, spans, depth);
                    end = end.max(tt);
                    if let Err(e) = r
                        && first_err.is_none()
                    {
                        first_err = Some(e);
                    }
                }
                *t = end;
                if let Some(e) = first_err {
                    return Err(e);
                }
                continue;
            }
            let outcome = self.step(node, step, t, spans, depth);
            if let Err((err, client_reported)) = outcome {
                let action = reaction(&step.on_fail, err.kind).cloned();
                let handled = self.handle_failure(node, action.as_ref(), &err, *t, client_reported);
                match handled {
                    Handled::Continue => continue,
                    Handled::Fail(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    fn handle_failure(
        &mut self,
        node: &Node,
        action: Option<&FailAction>,
        err: &CallError,
        t: f64,
        _client_reported: bool,
    ) -> Handled {
        let mut vars = Vars::of(&[
            ("error", err.message.clone()),
            ("message", err.message.clone()),
            ("message_len_hex", format!("{:#x}", err.message.len())),
            (
                "goroutine",
                format!("{}", 30 + self.rng.random_range(0..400)),
            ),
        ]);
        let Some(action) = action else {
            return Handled::Fail(err.clone());
        };
        for (k, v) in &action.vars {
            vars.set(k, v.clone());
        }
        for l in &action.log {
            self.emit(node, t, l, &vars);
        }
        if let Some(name) = &action.template
            && let Some(lines) = self.registry.templates.get(name).cloned()
        {
            for l in lines {
                self.emit(node, t, &l, &vars);
            }
        }
        if let Some(code) = action.crash {
            self.crashes.push(Crash {
                namespace: node.key.namespace.clone(),
                pod: node.key.pod.clone(),
                container: node.key.container.clone(),
                exit_code: code,
            });
            return Handled::Fail(CallError {
                kind: FailKind::Closed,
                code: None,
                message: "the process crashed".into(),
            });
        }
        if action.ignore {
            return Handled::Continue;
        }
        match &action.error {
            Some(e) => Handled::Fail(CallError {
                kind: err.kind,
                code: err.code.clone(),
                message: render(e, &[&vars, &self.params]),
            }),
            None => Handled::Fail(err.clone()),
        }
    }

    /// One step. The error carries whether the client library already logged it.
    fn step(
        &mut self,
        node: &Node,
        step: &OpStep,
        t: &mut f64,
        spans: &mut Vec<Span>,
        depth: usize,
    ) -> Result<(), (CallError, bool)> {
        if let Some(call) = &step.call {
            let client = node
                .profile
                .dependencies
                .get(&call.dep)
                .map(|d| d.client.clone())
                .unwrap_or_default();
            let pool = node
                .profile
                .dependencies
                .get(&call.dep)
                .and_then(|d| d.pool.clone())
                .unwrap_or_default();
            let span_name = call.span.clone().unwrap_or_else(|| call.op.clone());
            let start = *t;
            match self.connect_dep(node, &call.dep, start) {
                Err((kind, mut vars)) => {
                    vars.set("pool", pool);
                    let took = if kind == FailKind::Timeout {
                        self.timeout_us(&client)
                    } else {
                        self.sample(None, [250.0, 60.0])
                    };
                    let err = self.client_error(&client, kind, &vars);
                    self.client_lines(node, &client, kind, start + took, &vars, &err.message);
                    *t = start + took;
                    let mut s = self.span(node, span_name, SpanKind::Client, start, *t, vec![]);
                    self.tag_client(node, &mut s, Some(&err));
                    spans.push(s);
                    return Err((err, true));
                }
                Ok(target) => {
                    let Some(callee) = self.node_of(&target) else {
                        *t = start + self.sample(None, [200.0, 50.0]);
                        let err = CallError {
                            kind: FailKind::Closed,
                            code: None,
                            message: "EOF".into(),
                        };
                        return Err((err, false));
                    };
                    let rtt = self.net_rtt(&target);
                    let (server, result, end) =
                        self.serve(&callee, &call.op, start + rtt / 2.0, depth + 1);
                    *t = end + rtt / 2.0;
                    let mut server = server;
                    let failed = result.as_ref().err().cloned();
                    self.tag_server(&callee, &mut server, failed.as_ref());
                    let err = failed.map(|e| {
                        let mut v =
                            Vars::of(&[("error", e.message.clone()), ("pool", pool.clone())]);
                        v.set("code", e.code.clone().unwrap_or_else(|| "Unknown".into()));
                        let kind = if e.kind == FailKind::Closed {
                            FailKind::Closed
                        } else {
                            FailKind::Remote
                        };
                        let mut ce = self.client_error(&client, kind, &v);
                        if kind == FailKind::Remote && ce.code.is_none() {
                            ce.code = e.code.clone();
                        }
                        ce
                    });
                    let mut s =
                        self.span(node, span_name, SpanKind::Client, start, *t, vec![server]);
                    self.tag_client(node, &mut s, err.as_ref());
                    spans.push(s);
                    return match err {
                        Some(e) => Err((e, false)),
                        None => Ok(()),
                    };
                }
            }
        }
        if let Some(db) = &step.db {
            let start = *t;
            let took = self.sample(db.latency_us, [500.0, 150.0]);
            let client = node
                .profile
                .dependencies
                .get(&db.dep)
                .map(|d| d.client.clone())
                .unwrap_or_default();
            let result = self.db_op(node, db, start);
            *t = start
                + if matches!(&result, Err(e) if e.kind == FailKind::Timeout) {
                    TIMEOUT_US
                } else {
                    took
                };
            if let Some(name) = &db.span {
                let mut s = self.span(node, name.clone(), SpanKind::Client, start, *t, vec![]);
                self.tag_store(node, &mut s, &db.dep, result.as_ref().err());
                spans.push(s);
            }
            return match result {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = client;
                    Err((e, false))
                }
            };
        }
        if let Some(cache) = &step.cache {
            let start = *t;
            let took = self.sample(cache.latency_us, [300.0, 80.0]);
            let client = node
                .profile
                .dependencies
                .get(&cache.dep)
                .map(|d| d.client.clone())
                .unwrap_or_default();
            let result = match self.connect_dep(node, &cache.dep, start) {
                Ok(_) => Ok(()),
                Err((kind, vars)) => Err(self.client_error(&client, kind, &vars)),
            };
            *t = start
                + if matches!(&result, Err(e) if e.kind == FailKind::Timeout) {
                    2_000_000.0
                } else {
                    took
                };
            if let Some(name) = &cache.span {
                let mut s = self.span(node, name.clone(), SpanKind::Client, start, *t, vec![]);
                self.tag_store(node, &mut s, &cache.dep, result.as_ref().err());
                spans.push(s);
            }
            if let Err(e) = result {
                return Err((e, false));
            }
            let miss = cache.miss_ratio.unwrap_or(0.0);
            if !step.on_miss.is_empty() && miss > 0.0 && self.rng.random::<f64>() < miss {
                return self
                    .steps(node, &step.on_miss, t, spans, 0)
                    .map_err(|e| (e, true));
            }
        }
        Ok(())
    }

    /// A MongoDB operation at request time: reachability, TLS, authentication, privileges.
    fn db_op(&mut self, node: &Node, db: &super::profile::DbStep, t: f64) -> Result<(), CallError> {
        let Some(dep) = node.profile.dependencies.get(&db.dep).cloned() else {
            return Ok(());
        };
        let target = match self.connect_dep(node, &db.dep, t) {
            Ok(t) => t,
            Err((kind, vars)) => return Err(self.client_error(&dep.client, kind, &vars)),
        };
        let Some(m) = target.run.as_ref().and_then(|r| r.mongod.clone()) else {
            return Ok(());
        };
        let dbname = dep.db.clone().unwrap_or_else(|| "test".into());
        let command = render(db.command.as_deref().unwrap_or("{ }"), &[&self.params]);
        let vars = Vars::of(&[
            (
                "host",
                node.run
                    .deps
                    .get(&db.dep)
                    .map(|d| d.host.clone())
                    .unwrap_or_default(),
            ),
            ("ip", target.dialled_ip().to_string()),
            ("port", target.port.to_string()),
            ("db", dbname.clone()),
            ("command", command),
            ("command_name", db.action.clone()),
        ]);
        if m.tls == TlsMode::Require && !dep.tls {
            return Err(self.client_error(&dep.client, FailKind::Tls, &vars));
        }
        let data = self.world.mongo(&m.data_key).unwrap_or_default();
        let principal = dep.user.as_ref().map(|u| {
            (
                dep.auth_db.clone().unwrap_or_else(|| "admin".into()),
                u.clone(),
            )
        });
        if let Some((adb, u)) = &principal
            && data
                .authenticate(adb, u, dep.password.as_deref().unwrap_or_default())
                .is_err()
            && !data.users.contains_key(&(adb.clone(), u.clone()))
        {
            // The session authenticated at start; a dropped user has no privileges left.
            if m.auth {
                return Err(self.client_error(&dep.client, FailKind::Unauthorized, &vars));
            }
        }
        if m.auth {
            use super::mongo::data::Action;
            let action = match db.action.as_str() {
                "insert" | "seed" => Action::Insert,
                "update" => Action::Update,
                "remove" => Action::Remove,
                "createIndex" => Action::CreateIndex,
                _ => Action::Find,
            };
            match &principal {
                None => {
                    return Err(self.client_error(&dep.client, FailKind::Unauthenticated, &vars));
                }
                Some((adb, u)) if !data.allowed(Some((adb, u)), action, &dbname) => {
                    return Err(self.client_error(&dep.client, FailKind::Unauthorized, &vars));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn tag_client(&self, node: &Node, span: &mut Span, err: Option<&CallError>) {
        if node.style() == "go" {
            span.tags.push(("component".into(), "gRPC".into()));
            span.tags.push((
                "response_code".into(),
                err.and_then(|e| e.code.clone()).unwrap_or_else(|| {
                    if err.is_some() {
                        "Unknown".into()
                    } else {
                        "OK".into()
                    }
                }),
            ));
            if err.is_some() {
                span.error = true;
                span.tags.push(("error".into(), "true".into()));
            }
        }
    }

    /// A database or cache span: the peer it talks to, `error` on failure (Go tracer).
    fn tag_store(&self, node: &Node, span: &mut Span, dep: &str, err: Option<&CallError>) {
        if node.style() != "go" {
            return;
        }
        if let Some(d) = node.run.deps.get(dep) {
            span.tags.push(("peer.hostname".into(), d.host.clone()));
            span.tags.push(("peer.port".into(), d.port.to_string()));
        }
        if err.is_some() {
            span.error = true;
            span.tags.push(("error".into(), "true".into()));
        }
    }

    fn tag_server(&self, node: &Node, span: &mut Span, err: Option<&CallError>) {
        if node.style() == "go" {
            span.tags.push(("component".into(), "gRPC".into()));
            let code = err
                .map(|e| e.code.clone().unwrap_or_else(|| "Unknown".into()))
                .unwrap_or_else(|| "OK".into());
            let class = grpc_class(&code);
            span.tags.push(("response_code".into(), code));
            span.tags.push(("response_class".into(), class.into()));
            if class == "5xx" {
                span.error = true;
                span.tags.push(("error".into(), "true".into()));
            }
        }
    }
}

enum Handled {
    Continue,
    Fail(CallError),
}

/// The class opentracing's gRPC interceptors give a status code.
fn grpc_class(code: &str) -> &'static str {
    match code {
        "OK" => "2xx",
        "Canceled" | "InvalidArgument" | "NotFound" | "AlreadyExists" | "PermissionDenied"
        | "Unauthenticated" | "FailedPrecondition" | "OutOfRange" => "4xx",
        _ => "5xx",
    }
}

fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .to_string()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Simulates one request of `app` (`hotel-reservation`, `social-network`, or its namespace)
/// against the state of `store`, at `at`, with randomness from `seed`.
pub fn simulate(
    store: &Store,
    app: &str,
    request: &EntryRequest,
    seed: u64,
    at: Timestamp,
) -> RequestOutcome {
    let (namespace, frontend, port) = match aiopslab_metadata::app(app) {
        Some(a) => (
            a.namespace.to_string(),
            a.frontend.0.to_string(),
            a.frontend.1,
        ),
        None => {
            return no_response(format!(
                "unknown application {app:?}: expected hotel-reservation or social-network"
            ));
        }
    };
    simulate_in(store, &namespace, &frontend, port, request, seed, at)
}

/// Like [`simulate`] for an app deployed in `namespace` with front end `frontend:port`.
pub fn simulate_in(
    store: &Store,
    namespace: &str,
    frontend: &str,
    port: u16,
    request: &EntryRequest,
    seed: u64,
    at: Timestamp,
) -> RequestOutcome {
    let Ok(registry) = registry() else {
        return no_response("the behaviour profiles failed to load".into());
    };
    let world = World::of(store);
    let routing = world.routing(store);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let peer = Peer {
        namespace: request.client_namespace.clone(),
        pod: None,
        ip: request.client_ip.clone(),
    };
    let host = format!("{frontend}.{namespace}");
    let target = match routing.connect(&peer, &host, port, at, &mut |n| rng.random_range(0..n)) {
        Ok(t) => t,
        Err(e) => {
            let mut out = no_response(e.to_string());
            out.latency = if e.kind() == FailKind::Timeout {
                us(TIMEOUT_US)
            } else {
                us(300.0)
            };
            return out;
        }
    };
    let cluster_ip = target.dialled_ip().to_string();
    let Some(run) = target.run.clone() else {
        return no_response("the front end runs no application profile".into());
    };
    let Some(profile) = registry.profile(&run.profile).cloned() else {
        return no_response(format!("unknown profile {}", run.profile));
    };
    let Some(key) = target.run_key() else {
        return no_response("no container".into());
    };
    let node = Node { key, run, profile };
    let (path, query) = request.path_and_query();
    let mut params = parse_form(&query);
    if let Some(b) = &request.body {
        params.extend(parse_form(b));
    }
    let sampled_ratio = node.run.sample_ratio;
    let sampled = sampled_ratio > 0.0 && rng.random::<f64>() < sampled_ratio;
    let mut vars = Vars::default();
    let hotel_id = params
        .get("hotelId")
        .cloned()
        .unwrap_or_else(|| (1 + rng.random_range(0..80)).to_string());
    vars.set("hotel_id", hotel_id.clone());
    vars.set("hotel_ids", hotel_id);
    vars.set(
        "in_date",
        params
            .get("inDate")
            .cloned()
            .unwrap_or_else(|| "2015-04-09".into()),
    );
    vars.set(
        "out_date",
        params
            .get("outDate")
            .cloned()
            .unwrap_or_else(|| "2015-04-10".into()),
    );
    vars.set("req_id", format!("{}", rng.random::<u64>() >> 1));
    vars.set("conn", format!("{}", 1 + rng.random_range(0..2048)));
    vars.set(
        "client_ip",
        request
            .client_ip
            .clone()
            .unwrap_or_else(|| "10.244.1.183".into()),
    );
    vars.set(
        "request_line",
        format!("{} {} HTTP/1.1", request.method, request.target),
    );
    vars.set("host_header", format!("{cluster_ip}:{port}"));
    let mut ex = Exec {
        routing: &routing,
        registry,
        world: &world,
        rng,
        at,
        params: vars,
        logs: Vec::new(),
        crashes: Vec::new(),
    };
    let route = node.profile.routes.iter().find(|r| {
        r.path == path
            && r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
    });
    let Some(route) = route.cloned() else {
        let body = if node.style() == "nginx" {
            "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>openresty/1.15.8.1rc1</center>\r\n</body>\r\n</html>\r\n".to_string()
        } else {
            "404 page not found\n".to_string()
        };
        return RequestOutcome {
            status: Some(404),
            body,
            error: None,
            latency: us(400.0),
            trace: None,
            sampled,
            logs: vec![],
            crashes: vec![],
        };
    };
    for req in &route.require {
        if req
            .params
            .iter()
            .any(|p| params.get(p).is_none_or(|v| v.is_empty()))
        {
            let extra = Vars::default();
            for l in &req.log {
                ex.emit(&node, 200.0, l, &extra);
            }
            return RequestOutcome {
                status: Some(req.status),
                body: req.body.clone(),
                error: None,
                latency: us(500.0),
                trace: None,
                sampled,
                logs: ex.logs,
                crashes: vec![],
            };
        }
    }
    let t0 = ex.sample(None, [150.0, 40.0]) / 2.0;
    let (mut span, result, end) = ex.serve(&node, &route.operation, t0, 0);
    let (status, body) = match &result {
        Ok(()) => (route.ok.status, render(&route.ok.body, &[&ex.params])),
        Err(e) => {
            let resp = route.error.clone().unwrap_or(super::profile::Response {
                status: 500,
                body: "${error}".into(),
                log: vec![],
            });
            let v = Vars::of(&[("error", e.message.clone())]);
            for l in &resp.log {
                ex.emit(&node, end, l, &v);
            }
            (resp.status, render(&resp.body, &[&v, &ex.params]))
        }
    };
    // The front end's request spans carry the HTTP status.
    let style = node.style().to_string();
    let mark = |s: &mut Span| {
        s.tags.push(("http.method".into(), request.method.clone()));
        s.tags.push(("http.status_code".into(), status.to_string()));
        if status >= 500 {
            s.error = true;
            s.tags.push(("error".into(), "true".into()));
        }
    };
    if style == "nginx" {
        mark(&mut span);
        if let Some(loc) = span.children.first_mut()
            && loc.kind == SpanKind::Server
        {
            mark(loc);
        }
    } else {
        mark(&mut span);
        if style == "go" {
            span.tags.push(("component".into(), "net/http".into()));
        }
    }
    let mut logs = ex.logs;
    logs.sort_by_key(|l| l.offset);
    RequestOutcome {
        status: Some(status),
        body,
        error: None,
        latency: us(end + t0),
        trace: Some(span),
        sampled,
        logs,
        crashes: ex.crashes,
    }
}

fn no_response(error: String) -> RequestOutcome {
    RequestOutcome {
        status: None,
        body: String::new(),
        error: Some(error),
        latency: SignedDuration::ZERO,
        trace: None,
        sampled: false,
        logs: Vec::new(),
        crashes: Vec::new(),
    }
}
