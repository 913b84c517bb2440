//! The container behaviour of `deathstarbench/wrk2-client`.
//!
//! A run parses wrk2's argv, reads the Lua script from its mounted file, resolves the URL
//! once (as wrk2 does at start) and then simulates the load step by step while the
//! container runs: every [`STEP_SECS`] of simulated time the kubelet asks again
//! ([`ContainerBehavior::recheck`]) and the requests of the past step are sent against the
//! cluster as it is at that moment. When the requested duration is over, the report is
//! printed and the container exits 0. Everything wrk2 prints on stdout appears at exit (stdio
//! is block-buffered on a pipe); stderr lines (a script that cannot be opened) at once.
//!
//! The report describes the requested duration (`10.00s`) whatever the controllers' time
//! scale: offsets are simulated seconds.

use super::args::{self, WrkArgs};
use super::load::Load;
use super::report::render;
use super::script::{HttpRequest, Mix};
use super::sink::{Delivery, NetworkSink, Outcome, RequestSink, Resolved, resolve};
use crate::controllers::behavior::{ContainerBehavior, ImageInfo, RunPlan, StartContext};
use crate::controllers::script_plan;
use crate::controllers::util::{keys, sd};
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The image (any tag).
pub const IMAGE: &str = "deathstarbench/wrk2-client";

/// Simulated seconds between two looks at the cluster during a run.
pub const STEP_SECS: f64 = 0.5;

/// Compressed size of the image.
const IMAGE_BYTES: u64 = 143_000_000;

/// The behaviour of `deathstarbench/wrk2-client`.
pub struct Wrk2Client {
    sinks: Vec<Arc<dyn RequestSink>>,
}

impl std::fmt::Debug for Wrk2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrk2Client")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Default for Wrk2Client {
    fn default() -> Self {
        Wrk2Client::new()
    }
}

impl Wrk2Client {
    /// The default chain of sinks: the applications' request flow, then [`NetworkSink`].
    pub fn new() -> Self {
        Wrk2Client::with_sinks(super::default_sinks())
    }

    /// A behaviour that offers every request to `sinks` in order (a [`NetworkSink`] is
    /// appended, so that every request gets an answer).
    pub fn with_sinks(mut sinks: Vec<Arc<dyn RequestSink>>) -> Self {
        sinks.push(Arc::new(NetworkSink));
        Wrk2Client { sinks }
    }

    fn deliver(&self, d: &Delivery<'_>) -> Outcome {
        self.sinks
            .iter()
            .find_map(|s| s.deliver(d))
            .unwrap_or(Outcome::Refused)
    }
}

/// One run in progress.
struct Run {
    namespace: String,
    pod: String,
    uid: String,
    client_ip: String,
    /// The address wrk2 resolved at start, and the port.
    ip: String,
    port: u16,
    started: Timestamp,
    scale: f64,
    /// `-v` prints a version line before everything else.
    version: bool,
    load: Load,
}

/// The runs of one cluster, keyed by pod uid, container and restart count.
#[derive(Default)]
struct Runs {
    map: Mutex<HashMap<String, Run>>,
}

fn run_key(ctx: &StartContext<'_>) -> String {
    format!(
        "{}/{}/{}",
        sd(ctx.pod, "/metadata/uid"),
        ctx.container_name,
        ctx.restart_count
    )
}

/// FNV-1a over the parts: the seed of a run, from what the cluster's seed decided (the
/// pod's uid and name).
fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn running(recheck_secs: f64, rate: u64) -> RunPlan {
    RunPlan::forever()
        .using(2.0 + rate as f64 * 0.05, 9 * 1024 * 1024)
        .recheck_in(recheck_secs.max(0.001))
}

fn refuse(lines: Vec<String>) -> RunPlan {
    RunPlan::exits(0.0, 1)
        .logs(lines)
        .using(1.0, 2 * 1024 * 1024)
}

/// Drops runs whose pod is gone (deleted before the run ended).
fn prune(store: &Store, runs: &mut HashMap<String, Run>) {
    runs.retain(|_, r| {
        store
            .get(&keys::pods(), &r.namespace, &r.pod)
            .is_ok_and(|p| sd(&p, "/metadata/uid") == r.uid)
    });
}

impl Wrk2Client {
    fn begin(&self, ctx: &StartContext<'_>, args: WrkArgs) -> RunPlan {
        let Some(url) = args.urls.first().cloned() else {
            return refuse(args::usage());
        };
        let target = match resolve(ctx.store, ctx.namespace, &url.host, url.port) {
            Ok(t) => t,
            Err(e) => {
                return refuse(vec![format!(
                    "unable to connect to {}:{} Name or service not known",
                    e.host, url.port
                )]);
            }
        };
        let ip = match &target {
            Resolved::Service { cluster_ip, .. } => cluster_ip.clone(),
            _ => url.host.clone(),
        };
        let mut stderr = Vec::new();
        let script = match &args.script {
            Some(path) => match ctx.files.get(path) {
                Some(text) => Some(text.as_str()),
                None => {
                    // wrk2 loads the script once per URL and once per thread, and says so
                    // each time; then it runs without it.
                    let line = format!("{path}: cannot open {path}: No such file or directory");
                    stderr = vec![line; 1 + args.threads as usize];
                    None
                }
            },
            None => None,
        };
        let mix = Mix::recognise(script, ctx.env, &url);
        let seed = seed_of(&[
            sd(ctx.pod, "/metadata/uid"),
            ctx.pod_name,
            ctx.container_name,
            &ctx.restart_count.to_string(),
        ]);
        let load = Load::new(&args, mix, seed);
        let duration_secs = load.duration_us() as f64 / 1e6;
        let run = Run {
            namespace: ctx.namespace.to_string(),
            pod: ctx.pod_name.to_string(),
            uid: sd(ctx.pod, "/metadata/uid").to_string(),
            client_ip: ctx.pod_ip.to_string(),
            ip,
            port: url.port,
            started: ctx.now,
            scale: ctx.time_scale,
            version: args.version,
            load,
        };
        let runs = ctx.store.extension::<Runs>();
        let mut map = runs.map.lock().unwrap_or_else(|e| e.into_inner());
        prune(ctx.store, &mut map);
        map.insert(run_key(ctx), run);
        running(STEP_SECS.min(duration_secs), args.rate).logs(stderr)
    }

    fn step(&self, ctx: &StartContext<'_>, elapsed: SignedDuration) -> Option<RunPlan> {
        let runs = ctx.store.extension::<Runs>();
        let mut map = runs.map.lock().unwrap_or_else(|e| e.into_inner());
        let key = run_key(ctx);
        let Some(run) = map.get_mut(&key) else {
            // Cannot happen while the store lives; end the run rather than let it hang.
            let mut plan = RunPlan::exits(elapsed.as_secs_f64() + 0.001, 1);
            if let Some(exit) = plan.exit.as_mut() {
                exit.last_words = vec!["wrk2: the simulated run's state was lost".into()];
            }
            return Some(plan);
        };
        let elapsed_us = (elapsed.as_nanos().max(0) / 1000) as u64;
        let target =
            resolve(ctx.store, &run.namespace, &run.ip, run.port).unwrap_or(Resolved::Nothing {
                ip: run.ip.clone(),
                port: run.port,
            });
        let duration_us = run.load.duration_us();
        let (started, scale) = (run.started, run.scale);
        let (namespace, client_ip) = (run.namespace.clone(), run.client_ip.clone());
        let store = ctx.store;
        let mut send = |request: &HttpRequest, at_us: u64, seed: u64| {
            let offset = SignedDuration::from_nanos((at_us as f64 * 1000.0 * scale) as i64);
            let d = Delivery {
                store,
                target: &target,
                request,
                client_namespace: &namespace,
                client_ip: &client_ip,
                at: started.checked_add(offset).unwrap_or(started),
                seed,
            };
            self.deliver(&d)
        };
        // Within a millisecond of the end counts as the end (clock rounding).
        if elapsed_us + 1000 < duration_us {
            run.load.advance(elapsed_us, &mut send);
            let left = (duration_us - elapsed_us) as f64 / 1e6;
            return Some(running(STEP_SECS.min(left), 0).using(cpu_of(&run.load), 9 * 1024 * 1024));
        }
        run.load.finish(&mut send);
        let report = run.load.report();
        let mut lines = Vec::new();
        if run.version {
            lines.push("wrk 4.0.0 [epoll] Copyright (C) 2012 Will Glozer".to_string());
        }
        lines.extend(render(&report));
        map.remove(&key);
        let exit_secs = (report.runtime_us as f64 / 1e6).max(elapsed.as_secs_f64()) + 0.001;
        let mut plan = RunPlan::exits(exit_secs, 0).using(1.0, 9 * 1024 * 1024);
        if let Some(exit) = plan.exit.as_mut() {
            exit.last_words = lines;
        }
        Some(plan)
    }
}

/// CPU of a running wrk2: a little per request per second.
fn cpu_of(load: &Load) -> f64 {
    let secs = (load.now as f64 / 1e6).max(0.001);
    2.0 + load.sent() as f64 / secs * 0.05
}

impl ContainerBehavior for Wrk2Client {
    fn info(&self) -> ImageInfo {
        ImageInfo::debian(IMAGE_BYTES)
            .with_binaries(&["wrk"])
            .with_default_args(&["wrk"])
    }

    fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
        let program = ctx.argv.first().map(String::as_str).unwrap_or_default();
        if program.rsplit('/').next() != Some("wrk") {
            return script_plan(ctx, &self.info());
        }
        match args::parse(&ctx.argv) {
            Ok(a) => self.begin(ctx, a),
            Err(refusal) => refuse(refusal.lines),
        }
    }

    fn recheck(
        &self,
        ctx: &StartContext<'_>,
        elapsed: SignedDuration,
        _current: &RunPlan,
    ) -> Option<RunPlan> {
        self.step(ctx, elapsed)
    }
}
