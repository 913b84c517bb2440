//! The kubelet of every node: the life cycle of pods and their containers.
//!
//! For each pod bound to a node it keeps a record (containers, their runs, restart counts,
//! back-offs) and walks it through time: sandbox (pod IP), image pulls (`Pulling` / `Pulled`,
//! `ErrImagePull` / `ImagePullBackOff` for images the registry does not have), `Created` /
//! `Started`, readiness, exits, restarts with the real crash back-off (10 s doubling to 5 min),
//! OOM kills, readiness and liveness probes on their own timers (see [`probes`]),
//! run-to-completion pods, and graceful termination. Every change is
//! written to the pod's status as the real kubelet writes it, and what each container does
//! comes from its image's [`ContainerBehavior`](super::behavior::ContainerBehavior).

pub(crate) mod env;
pub(crate) mod probes;
pub(crate) mod runtime;
pub(crate) mod shell;

use super::behavior::{
    Catalog, ImageInfo, ImageRef, Resolution, RunPlan, StartContext, StopBehavior,
};
use super::manager::{Ctx, Work};
use super::util::{
    self, arr, bytes, fmt_time, hex_digest, int, is_deleting, keys, s, sd, secs_f, set_condition,
};
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The kubelet's state, shared between the control loop and `logs` / `exec` requests.
pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(store: Arc<Store>, catalog: Arc<Catalog>) -> Self {
        Shared {
            store,
            catalog,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything the kubelets remember.
#[derive(Default)]
pub(crate) struct State {
    /// Pods by (namespace, name).
    pub pods: BTreeMap<(String, String), PodRecord>,
    /// Images present on each node.
    pub node_images: BTreeMap<String, BTreeSet<String>>,
    /// The last pod IP octet handed out per node.
    last_ip: BTreeMap<String, u32>,
}

/// How a container run ended.
#[derive(Debug, Clone)]
pub(crate) struct Term {
    pub code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub started: Option<Timestamp>,
    pub finished: Timestamp,
    pub container_id: String,
}

impl Term {
    fn json(&self) -> Value {
        let mut t = json!({
            "containerID": format!("containerd://{}", self.container_id),
            "exitCode": self.code,
            "finishedAt": fmt_time(self.finished),
            "reason": self.reason,
            "startedAt": self.started.map(fmt_time).unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        });
        if let Some(m) = &self.message {
            t["message"] = json!(m);
        }
        t
    }
}

/// One run of a container.
pub(crate) struct Instance {
    pub id: String,
    pub started: Timestamp,
    pub plan: RunPlan,
    /// When and how the run ends (planned or already happened).
    pub end: Option<(Timestamp, Term)>,
    pub ended: bool,
    pub ready_at: Option<Timestamp>,
    /// Files written by `exec` (path → content, `None` for deleted).
    pub overlay: BTreeMap<String, Option<String>>,
    /// Multiplier from simulated offsets to clock time (the time scale).
    pub scale: f64,
    /// Files the container saw when it started (volumes and image files).
    pub files: BTreeMap<String, String>,
    pub argv: Vec<String>,
    /// When the behaviour is asked again about this run ([`RunPlan::recheck`]).
    pub recheck_at: Option<Timestamp>,
}

impl Instance {
    /// Clock time of a simulated offset from the start.
    pub(crate) fn at(&self, offset: SignedDuration) -> Timestamp {
        let scaled = SignedDuration::from_nanos((offset.as_nanos() as f64 * self.scale) as i64);
        self.started.checked_add(scaled).unwrap_or(self.started)
    }

    /// When the run ended, if it has.
    pub(crate) fn ended_at(&self) -> Option<Timestamp> {
        if self.ended {
            self.end.as_ref().map(|(t, _)| *t)
        } else {
            None
        }
    }
}

/// Where a container is in its life cycle.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// Not reached yet in the start sequence.
    Idle,
    /// `CreateContainerConfigError`; retried at `retry`.
    ConfigError { message: String, retry: Timestamp },
    /// Pulling; done at `done`.
    Pulling { done: Timestamp, began: Timestamp },
    /// The pull failed: `ErrImagePull` until `show_backoff`, then `ImagePullBackOff` until
    /// `retry`.
    PullFailed {
        message: String,
        show_backoff: Timestamp,
        retry: Timestamp,
        announced: bool,
    },
    /// `ErrImageNeverPull`.
    NeverPull(String),
    /// A run is in progress.
    Running,
    /// Waiting to restart after an exit.
    CrashBackOff {
        until: Timestamp,
        backoff: SignedDuration,
    },
    /// Exited and not restarting.
    Done,
}

/// One container of a pod.
pub(crate) struct Ctr {
    pub name: String,
    pub image: String,
    pub spec: Value,
    pub init: bool,
    pub sidecar: bool,
    pub stage: Stage,
    pub restart_count: i64,
    backoff: SignedDuration,
    pull_backoff: SignedDuration,
    pub last_term: Option<Term>,
    pub current: Option<Instance>,
    pub previous: Option<Instance>,
    pulled: bool,
    ever_started: bool,
    /// The probe workers of the current run.
    probes: Vec<probes::Worker>,
}

/// What the kubelet knows about one pod.
pub(crate) struct PodRecord {
    pub uid: String,
    pub node: String,
    pub ip: Option<String>,
    pub host_ip: String,
    pub start_time: Timestamp,
    sandbox_at: Timestamp,
    sandbox_ready: bool,
    mount_backoff: SignedDuration,
    pub ctrs: Vec<Ctr>,
    /// Index into the start sequence (init containers first) and when it continues.
    cursor: usize,
    cursor_at: Option<Timestamp>,
    terminating: Option<Timestamp>,
    /// The pod's labels, for metrics.
    pub labels: Value,
    pub namespace: String,
    pub name: String,
}

impl PodRecord {
    /// The container named `name`.
    pub(crate) fn ctr(&self, name: &str) -> Option<&Ctr> {
        self.ctrs.iter().find(|c| c.name == name)
    }

    fn n_init(&self) -> usize {
        self.ctrs.iter().filter(|c| c.init).count()
    }
}

/// Go's `time.Duration` text at millisecond precision (`1.603s`, `876ms`, `2m3.5s`).
pub(crate) fn go_duration(d: SignedDuration) -> String {
    let ms = d.as_millis().max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms as f64 / 1000.0;
    if secs < 60.0 {
        let s = format!("{secs:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let m = (secs / 60.0).floor();
    let rest = secs - m * 60.0;
    let r = format!("{rest:.3}");
    let r = r.trim_end_matches('0').trim_end_matches('.');
    if m >= 60.0 {
        let h = (m / 60.0).floor();
        format!("{}h{}m{}s", h, m - h * 60.0, r)
    } else {
        format!("{m}m{r}s")
    }
}

/// The registry's error for an image it does not have, as containerd words it.
fn pull_error(image: &str, res: &Resolution) -> String {
    let r = ImageRef::parse(image);
    let full = r.to_string();
    match res {
        Resolution::UnknownTag => format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
        ),
        _ => format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
        ),
    }
}

fn image_id(image: &str) -> String {
    let r = ImageRef::parse(image);
    format!("{}@sha256:{}", r.name(), hex_digest(&r.to_string()))
}

fn next_backoff(current: SignedDuration) -> SignedDuration {
    if current.is_zero() {
        SignedDuration::from_secs(10)
    } else {
        (current * 2).min(SignedDuration::from_secs(300))
    }
}

fn pod_ref(pod: &Value) -> String {
    format!(
        "{}_{}({})",
        sd(pod, "/metadata/name"),
        sd(pod, "/metadata/namespace"),
        sd(pod, "/metadata/uid")
    )
}

fn restart_policy(pod: &Value, c: &Ctr) -> &'static str {
    if c.sidecar {
        return "Always";
    }
    let p = sd(pod, "/spec/restartPolicy");
    match (c.init, p) {
        (true, "Never") => "Never",
        (true, _) => "OnFailure",
        (false, "Never") => "Never",
        (false, "OnFailure") => "OnFailure",
        _ => "Always",
    }
}

fn new_record(ctx: &Ctx, pod: &Value, node: &Value) -> PodRecord {
    let mut ctrs = Vec::new();
    for (list, init) in [("/spec/initContainers", true), ("/spec/containers", false)] {
        for c in arr(pod, list) {
            ctrs.push(Ctr {
                name: sd(c, "/name").to_string(),
                image: sd(c, "/image").to_string(),
                spec: c.clone(),
                init,
                sidecar: init && sd(c, "/restartPolicy") == "Always",
                stage: Stage::Idle,
                restart_count: 0,
                backoff: SignedDuration::ZERO,
                pull_backoff: SignedDuration::ZERO,
                last_term: None,
                current: None,
                previous: None,
                pulled: false,
                ever_started: false,
                probes: Vec::new(),
            });
        }
    }
    let host_ip = arr(node, "/status/addresses")
        .iter()
        .find(|a| sd(a, "/type") == "InternalIP")
        .map(|a| sd(a, "/address").to_string())
        .unwrap_or_default();
    let now = ctx.now();
    PodRecord {
        uid: util::uid(pod).to_string(),
        node: sd(pod, "/spec/nodeName").to_string(),
        ip: None,
        host_ip,
        start_time: now,
        sandbox_at: ctx.after(secs_f(0.4)),
        sandbox_ready: false,
        mount_backoff: SignedDuration::ZERO,
        ctrs,
        cursor: 0,
        cursor_at: None,
        terminating: None,
        labels: pod
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({})),
        namespace: util::namespace(pod).to_string(),
        name: util::name(pod).to_string(),
    }
}

/// A random container id from the store's generator.
fn container_id(store: &Store) -> String {
    (0..4)
        .map(|_| format!("{:016x}", store.random_u64()))
        .collect()
}

/// Side effects collected while the state lock is held.
#[derive(Default)]
struct Effects {
    events: Vec<(bool, String, String, Option<String>)>,
    next: Option<Timestamp>,
    /// The next periodic probe that only repeats a steady result (see
    /// [`probes::Worker::may_change`]).
    next_background: Option<Timestamp>,
}

impl Effects {
    fn event(&mut self, warning: bool, reason: &str, message: String, field: Option<String>) {
        self.events
            .push((warning, reason.to_string(), message, field));
    }

    fn wake(&mut self, at: Timestamp) {
        self.next = Some(match self.next {
            Some(n) => n.min(at),
            None => at,
        });
    }

    fn wake_background(&mut self, at: Timestamp) {
        self.next_background = Some(match self.next_background {
            Some(n) => n.min(at),
            None => at,
        });
    }
}

fn field_path(c: &Ctr) -> Option<String> {
    Some(if c.init {
        format!("spec.initContainers{{{}}}", c.name)
    } else {
        format!("spec.containers{{{}}}", c.name)
    })
}

/// Reconciles one pod: advances its containers to now and writes its status.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, name: &str) {
    let key = (ns.to_string(), name.to_string());
    let Ok(pod) = ctx.store.get(&keys::pods(), ns, name) else {
        ctx.kubelet.lock().pods.remove(&key);
        return;
    };
    let node_name = sd(&pod, "/spec/nodeName").to_string();
    if node_name.is_empty() {
        if is_deleting(&pod) {
            let _ = ctx.store.remove(&keys::pods(), ns, name);
        }
        return;
    }
    let Ok(node) = ctx.store.get_arc(&keys::nodes(), "", &node_name) else {
        // No kubelet runs there: the pod stays as it is (pod GC removes it).
        return;
    };
    let shared = ctx.kubelet.clone();
    let mut state = shared.lock();
    let fresh = state
        .pods
        .get(&key)
        .is_none_or(|r| r.uid != util::uid(&pod));
    if fresh {
        let finished = matches!(sd(&pod, "/status/phase"), "Succeeded" | "Failed");
        if finished && !is_deleting(&pod) {
            // A pod that finished before this kubelet knew it: nothing to run.
            return;
        }
        let rec = new_record(ctx, &pod, &node);
        state.pods.insert(key.clone(), rec);
    }
    let now = ctx.now();
    let mut fx = Effects::default();
    let mut remove = false;
    {
        let State {
            pods,
            node_images,
            last_ip,
        } = &mut *state;
        let Some(rec) = pods.get_mut(&key) else {
            return;
        };
        // Sandbox: volumes, then the pod IP.
        if !rec.sandbox_ready && rec.terminating.is_none() && rec.sandbox_at <= now {
            match env::check_volumes(&ctx.store, &pod) {
                Err(e) => {
                    fx.event(
                        true,
                        "FailedMount",
                        format!(
                            "MountVolume.SetUp failed for volume {:?} : {}",
                            e.volume, e.reason
                        ),
                        None,
                    );
                    rec.mount_backoff = if rec.mount_backoff.is_zero() {
                        SignedDuration::from_secs(2)
                    } else {
                        (rec.mount_backoff * 2).min(SignedDuration::from_secs(120))
                    };
                    rec.sandbox_at = ctx.after(rec.mount_backoff);
                }
                Ok(()) => {
                    let host_network =
                        pod.pointer("/spec/hostNetwork").and_then(Value::as_bool) == Some(true);
                    let ip = if host_network {
                        Some(rec.host_ip.clone())
                    } else {
                        let used = pods_ips(pods, &node_name);
                        allocate_ip(last_ip, &node, &node_name, &used)
                    };
                    let Some(rec) = pods.get_mut(&key) else {
                        return;
                    };
                    rec.ip = ip;
                    rec.sandbox_ready = true;
                    rec.cursor_at = Some(rec.sandbox_at.max(rec.start_time));
                }
            }
        }
        let Some(rec) = pods.get_mut(&key) else {
            return;
        };
        let images = node_images.entry(node_name.clone()).or_insert_with(|| {
            // What the node reports it has (a kind node image ships with the system images).
            arr(&node, "/status/images")
                .iter()
                .flat_map(|i| arr(i, "/names").iter())
                .filter_map(Value::as_str)
                .filter(|n| !n.contains('@'))
                .map(|n| ImageRef::parse(n).to_string())
                .collect()
        });
        if is_deleting(&pod) {
            remove = terminate(ctx, rec, &pod, now, &mut fx);
        } else {
            apply_spec_changes(ctx, rec, &pod, images, now, &mut fx);
            advance(ctx, rec, &pod, images, now, &mut fx);
        }
        if !rec.sandbox_ready && rec.terminating.is_none() {
            fx.wake(rec.sandbox_at);
        }
    }
    let status = state.pods.get(&key).map(|rec| pod_status(rec, &pod, now));
    if remove {
        state.pods.remove(&key);
    }
    drop(state);
    for (warning, reason, message, field) in fx.events {
        ctx.event(
            &pod,
            warning,
            &reason,
            &message,
            "kubelet",
            Some(&node_name),
            field.as_deref(),
        );
    }
    if let Some(status) = status {
        let uid = util::uid(&pod).to_string();
        let _ = ctx.store.modify(&keys::pods(), ns, name, |p| {
            if util::uid(p) != uid {
                return Ok(());
            }
            merge_status(p, &status, &fmt_time(now));
            Ok(())
        });
    }
    if remove {
        let _ = ctx.store.remove(&keys::pods(), ns, name);
        return;
    }
    if let Some(at) = fx.next {
        ctx.enqueue_at(Work::Pod(ns.to_string(), name.to_string()), at);
    }
    if let Some(at) = fx.next_background {
        ctx.enqueue_background_at(Work::Pod(ns.to_string(), name.to_string()), at);
    }
}

fn pods_ips(pods: &BTreeMap<(String, String), PodRecord>, node: &str) -> BTreeSet<String> {
    pods.values()
        .filter(|p| p.node == node)
        .filter_map(|p| p.ip.clone())
        .collect()
}

fn allocate_ip(
    last_ip: &mut BTreeMap<String, u32>,
    node: &Value,
    node_name: &str,
    used: &BTreeSet<String>,
) -> Option<String> {
    let cidr = sd(node, "/spec/podCIDR");
    let prefix = cidr.strip_suffix(".0/24")?.to_string();
    let last = last_ip.get(node_name).copied().unwrap_or(1);
    for i in 0..253u32 {
        let octet = 2 + (last - 1 + i) % 253;
        let ip = format!("{prefix}.{octet}");
        if !used.contains(&ip) {
            last_ip.insert(node_name.to_string(), octet);
            return Some(ip);
        }
    }
    None
}

/// Starts the container at `cursor` (pull, then create and start).
fn begin(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    idx: usize,
    pod: &Value,
    images: &mut BTreeSet<String>,
    t: Timestamp,
    fx: &mut Effects,
) {
    let c = &mut rec.ctrs[idx];
    let normalized = ImageRef::parse(&c.image).to_string();
    let policy = s(&c.spec, "/imagePullPolicy").unwrap_or("IfNotPresent");
    let present = images.contains(&normalized);
    match policy {
        "Never" if !present => {
            let msg = format!(
                "Container image {:?} is not present with pull policy of Never",
                c.image
            );
            fx.event(true, "ErrImageNeverPull", msg.clone(), field_path(c));
            c.stage = Stage::NeverPull(msg);
        }
        "Always" => {
            fx.event(
                false,
                "Pulling",
                format!("Pulling image {:?}", c.image),
                field_path(c),
            );
            let size = match ctx.opts.catalog.resolve(&c.image) {
                Resolution::Found(b) => b.info().size_bytes,
                _ => 0,
            };
            let took = pull_duration(size, present);
            c.stage = Stage::Pulling {
                done: t.checked_add(ctx.scaled(took)).unwrap_or(t),
                began: t,
            };
        }
        _ if present => {
            fx.event(
                false,
                "Pulled",
                format!("Container image {:?} already present on machine", c.image),
                field_path(c),
            );
            c.pulled = true;
            start_run(ctx, rec, idx, pod, t, fx);
        }
        _ => {
            fx.event(
                false,
                "Pulling",
                format!("Pulling image {:?}", c.image),
                field_path(c),
            );
            let size = match ctx.opts.catalog.resolve(&c.image) {
                Resolution::Found(b) => b.info().size_bytes,
                _ => 0,
            };
            let took = pull_duration(size, false);
            c.stage = Stage::Pulling {
                done: t.checked_add(ctx.scaled(took)).unwrap_or(t),
                began: t,
            };
        }
    }
}

/// How long a pull takes: a round trip, then the layers at about 60 MB/s.
fn pull_duration(size: u64, cached: bool) -> SignedDuration {
    if cached {
        return secs_f(0.45);
    }
    secs_f(0.6 + size as f64 / 60_000_000.0)
}

/// Creates and starts a run of container `idx` at `t`.
fn start_run(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    idx: usize,
    pod: &Value,
    t: Timestamp,
    fx: &mut Effects,
) {
    let store = ctx.store.clone();
    let resolution = ctx.opts.catalog.resolve(&rec.ctrs[idx].image);
    let Resolution::Found(behavior) = resolution else {
        // The image vanished from the registry after the pull: treat as a pull failure.
        let msg = pull_error(&rec.ctrs[idx].image, &resolution);
        let c = &mut rec.ctrs[idx];
        c.stage = Stage::PullFailed {
            message: msg,
            show_backoff: t,
            retry: ctx.after(SignedDuration::from_secs(10)),
            announced: false,
        };
        return;
    };
    let info = behavior.info();
    let spec = rec.ctrs[idx].spec.clone();
    // Status as seen by env/field refs: the pod IP is known now.
    let mut pod_view = pod.clone();
    if let Some(ip) = &rec.ip {
        pod_view["status"]["podIP"] = json!(ip);
    }
    pod_view["status"]["hostIP"] = json!(rec.host_ip);
    let env = match env::container_env(&store, &pod_view, &spec, &[]) {
        Ok(e) => e,
        Err(message) => {
            let c = &mut rec.ctrs[idx];
            fx.event(true, "Failed", format!("Error: {message}"), field_path(c));
            c.stage = Stage::ConfigError {
                message,
                retry: ctx.after(SignedDuration::from_secs(10)),
            };
            return;
        }
    };
    let argv = effective_argv(&spec, &info, &env);
    let id = container_id(&store);
    let c = &mut rec.ctrs[idx];
    if c.ever_started {
        c.restart_count += 1;
    }
    c.ever_started = true;
    fx.event(
        false,
        "Created",
        format!("Created container: {}", c.name),
        field_path(c),
    );
    let program = argv.first().cloned().unwrap_or_default();
    if program.is_empty() || !info.has_executable(&program) {
        let what = if program.is_empty() {
            "no command specified".to_string()
        } else {
            format!("exec: {program:?}: executable file not found in $PATH")
        };
        let message = format!(
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: {what}: unknown"
        );
        fx.event(true, "Failed", format!("Error: {message}"), field_path(c));
        let term = Term {
            code: 128,
            reason: "StartError".into(),
            message: Some(message),
            started: None,
            finished: t,
            container_id: id.clone(),
        };
        let inst = Instance {
            id,
            started: t,
            plan: RunPlan::exits(0.0, 128),
            end: Some((t, term)),
            ended: false,
            ready_at: None,
            overlay: BTreeMap::new(),
            scale: ctx.opts.time_scale,
            files: BTreeMap::new(),
            argv,
            recheck_at: None,
        };
        c.previous = c.current.take();
        c.current = Some(inst);
        c.stage = Stage::Running;
        return;
    }
    fx.event(
        false,
        "Started",
        format!("Started container {}", c.name),
        field_path(c),
    );
    let env_map: BTreeMap<String, String> = env.iter().cloned().collect();
    let mut files = info.files.clone();
    files.extend(env::container_files(&store, &pod_view, &spec));
    let memory_limit = spec
        .pointer("/resources/limits/memory")
        .map(|q| bytes(q).max(0) as u64);
    let scale = if ctx.opts.time_scale.is_finite() && ctx.opts.time_scale > 0.0 {
        ctx.opts.time_scale
    } else {
        1.0
    };
    let plan = {
        let sctx = StartContext {
            store: &store,
            namespace: &rec.namespace,
            pod_name: &rec.name,
            pod: &pod_view,
            container: &spec,
            container_name: &c.name,
            image: &c.image,
            argv: argv.clone(),
            env: &env_map,
            node: &rec.node,
            pod_ip: rec.ip.as_deref().unwrap_or_default(),
            restart_count: c.restart_count,
            now: t,
            memory_limit,
            files: &files,
            time_scale: scale,
        };
        behavior.start(&sctx)
    };
    let recheck_at = plan.recheck.map(|d| inst_at(t, scale, d));
    let mut inst = Instance {
        id: id.clone(),
        started: t,
        plan,
        end: None,
        ended: false,
        ready_at: None,
        overlay: BTreeMap::new(),
        scale,
        files,
        argv,
        recheck_at,
    };
    // How the run ends on its own.
    let mut end: Option<(Timestamp, Term)> = inst.plan.exit.as_ref().map(|e| {
        let at = inst.at(e.after);
        (
            at,
            Term {
                code: e.code,
                reason: if e.code == 0 { "Completed" } else { "Error" }.into(),
                message: e.message.clone(),
                started: Some(t),
                finished: at,
                container_id: id.clone(),
            },
        )
    });
    if let Some(limit) = memory_limit
        && inst.plan.usage.memory_bytes > limit
    {
        let at = inst.at(secs_f(1.5));
        if end.as_ref().is_none_or(|(e, _)| at < *e) {
            end = Some((
                at,
                Term {
                    code: 137,
                    reason: "OOMKilled".into(),
                    message: None,
                    started: Some(t),
                    finished: at,
                    container_id: id.clone(),
                },
            ));
        }
    }
    // Probes run on their own timers from now on; without a readiness probe the container is
    // ready as soon as it runs.
    if spec.get("readinessProbe").is_none() {
        inst.ready_at = Some(t);
    }
    c.probes = probes::Worker::for_container(&spec, t, scale);
    inst.end = end;
    c.previous = c.current.take();
    c.current = Some(inst);
    c.stage = Stage::Running;
}

/// The argv a container runs: `command` (or the image entrypoint) followed by `args` (or the
/// image's default arguments), with `$(VAR)` references expanded.
fn effective_argv(spec: &Value, info: &ImageInfo, env: &[(String, String)]) -> Vec<String> {
    let strings = |ptr: &str| -> Option<Vec<String>> {
        spec.pointer(ptr).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
    };
    let command = strings("/command");
    let args = strings("/args");
    let mut argv = match (&command, &args) {
        (Some(c), Some(a)) => c.iter().chain(a).cloned().collect(),
        (Some(c), None) => c.clone(),
        (None, Some(a)) => info.entrypoint.iter().chain(a).cloned().collect(),
        (None, None) => info
            .entrypoint
            .iter()
            .chain(&info.default_args)
            .cloned()
            .collect::<Vec<_>>(),
    };
    for a in &mut argv {
        if a.contains("$(") {
            let mut out = String::new();
            let mut rest = a.as_str();
            while let Some(i) = rest.find("$(") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                match after.find(')') {
                    Some(j) => {
                        let name = &after[..j];
                        match env.iter().rev().find(|(k, _)| k == name) {
                            Some((_, v)) => out.push_str(v),
                            None => out.push_str(&format!("$({name})")),
                        }
                        rest = &after[j + 1..];
                    }
                    None => {
                        out.push_str(&rest[i..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            *a = out;
        }
    }
    argv
}

/// The earliest pending transition of a container; with `foreground_only`, leaving out the
/// periodic probes that only repeat a steady result.
fn ctr_next(c: &Ctr, foreground_only: bool) -> Option<Timestamp> {
    match &c.stage {
        Stage::ConfigError { retry, .. } => Some(*retry),
        Stage::Pulling { done, .. } => Some(*done),
        Stage::PullFailed {
            show_backoff,
            retry,
            announced,
            ..
        } => Some(if *announced { *retry } else { *show_backoff }),
        Stage::Running => {
            let inst = c.current.as_ref()?;
            let end = inst.end.as_ref().map(|(t, _)| *t);
            // Readiness is set by the probe that finds it, at that moment: never a future
            // transition of its own.
            let probes = c.probes.iter().map(|w| w.next).filter(|_| !inst.ended);
            let recheck = inst.recheck_at.filter(|_| !inst.ended);
            if foreground_only {
                let is_ready = inst.ready_at.is_some();
                let changing = c
                    .probes
                    .iter()
                    .filter(|w| !inst.ended && w.may_change(is_ready))
                    .map(|w| w.next);
                return [end, recheck].into_iter().flatten().chain(changing).min();
            }
            [end, recheck].into_iter().flatten().chain(probes).min()
        }
        Stage::CrashBackOff { until, .. } => Some(*until),
        Stage::Idle | Stage::NeverPull(_) | Stage::Done => None,
    }
}

/// A container whose image was changed in the pod spec is killed and started again with the
/// new image, as the kubelet does when a container's definition changes.
fn apply_spec_changes(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    pod: &Value,
    images: &mut BTreeSet<String>,
    now: Timestamp,
    fx: &mut Effects,
) {
    for i in 0..rec.ctrs.len() {
        let list = if rec.ctrs[i].init {
            "/spec/initContainers"
        } else {
            "/spec/containers"
        };
        let Some(spec) = arr(pod, list)
            .iter()
            .find(|c| sd(c, "/name") == rec.ctrs[i].name)
            .cloned()
        else {
            continue;
        };
        let image = sd(&spec, "/image").to_string();
        if image == rec.ctrs[i].image {
            continue;
        }
        let c = &mut rec.ctrs[i];
        c.image = image;
        c.spec = spec;
        c.pulled = false;
        c.pull_backoff = SignedDuration::ZERO;
        let was_started = c.ever_started;
        let path = field_path(c);
        let cname = c.name.clone();
        match c.stage {
            Stage::Running => {
                if let Some(inst) = c.current.as_mut()
                    && !inst.ended
                {
                    fx.event(
                        false,
                        "Killing",
                        format!("Container {cname} definition changed, will be restarted"),
                        path,
                    );
                    let (code, reason) = match inst.plan.stop {
                        StopBehavior::Graceful(_) => (0, "Completed"),
                        StopBehavior::Dies => (143, "Error"),
                        StopBehavior::IgnoresSigterm => (137, "Error"),
                    };
                    let term = Term {
                        code,
                        reason: reason.into(),
                        message: None,
                        started: Some(inst.started),
                        finished: now,
                        container_id: inst.id.clone(),
                    };
                    inst.end = Some((now, term.clone()));
                    inst.ended = true;
                    c.last_term = Some(term);
                }
            }
            Stage::Done => continue,
            _ => {}
        }
        if !was_started && matches!(c.stage, Stage::Idle) {
            // Not reached yet in the start sequence: it will start with the new image.
            continue;
        }
        c.stage = Stage::Idle;
        begin(ctx, rec, i, pod, images, now, fx);
    }
}

/// Walks the pod's containers forward to `now`.
fn advance(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    pod: &Value,
    images: &mut BTreeSet<String>,
    now: Timestamp,
    fx: &mut Effects,
) {
    let mut guard = 0;
    loop {
        guard += 1;
        if guard > 10_000 {
            break;
        }
        // The earliest due step.
        let mut best: Option<(Timestamp, Option<usize>)> = None;
        if rec.sandbox_ready
            && let Some(at) = rec.cursor_at
            && rec.cursor < rec.ctrs.len()
        {
            best = Some((at, None));
        }
        for (i, c) in rec.ctrs.iter().enumerate() {
            if let Some(t) = ctr_next(c, false)
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, Some(i)));
            }
        }
        let Some((t, which)) = best else {
            break;
        };
        if t > now {
            // Foreground work wakes the pod as usual; probes that only repeat themselves wake
            // it in the background (see `Handle::run_until_quiet`).
            let cursor = (rec.sandbox_ready && rec.cursor < rec.ctrs.len())
                .then_some(rec.cursor_at)
                .flatten();
            let foreground = rec
                .ctrs
                .iter()
                .filter_map(|c| ctr_next(c, true))
                .chain(cursor)
                .min();
            match foreground {
                Some(f) => {
                    fx.wake(f);
                    if t < f {
                        fx.wake_background(t);
                    }
                }
                None => fx.wake_background(t),
            }
            break;
        }
        match which {
            None => {
                let idx = rec.cursor;
                rec.cursor_at = None;
                begin(ctx, rec, idx, pod, images, t, fx);
                continue_sequence(rec, idx, t);
            }
            Some(i) => step_ctr(ctx, rec, i, pod, images, t, fx),
        }
    }
}

/// After container `idx` began: regular containers start one after another (a pull blocks
/// the next); init containers wait for the previous one to complete.
fn continue_sequence(rec: &mut PodRecord, idx: usize, t: Timestamp) {
    let c = &rec.ctrs[idx];
    if c.init && !c.sidecar {
        return;
    }
    rec.cursor = idx + 1;
    if rec.cursor < rec.ctrs.len() {
        let next_at = match &c.stage {
            Stage::Pulling { done, .. } => *done,
            _ => t,
        };
        rec.cursor_at = Some(next_at);
    }
}

fn step_ctr(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    i: usize,
    pod: &Value,
    images: &mut BTreeSet<String>,
    t: Timestamp,
    fx: &mut Effects,
) {
    let stage = rec.ctrs[i].stage.clone();
    match stage {
        Stage::ConfigError { .. } => {
            rec.ctrs[i].stage = Stage::Idle;
            start_run(ctx, rec, i, pod, t, fx);
            after_start(rec, i, t);
        }
        Stage::Pulling { done, began } => {
            let resolution = ctx.opts.catalog.resolve(&rec.ctrs[i].image);
            let c = &mut rec.ctrs[i];
            match &resolution {
                Resolution::Found(b) => {
                    let size = b.info().size_bytes;
                    let took = done.duration_since(began);
                    let took = if ctx.opts.time_scale > 0.0 {
                        SignedDuration::from_nanos(
                            (took.as_nanos() as f64 / ctx.opts.time_scale) as i64,
                        )
                    } else {
                        took
                    };
                    let d = go_duration(took);
                    fx.event(
                        false,
                        "Pulled",
                        format!(
                            "Successfully pulled image {:?} in {d} ({d} including waiting). Image size: {size} bytes.",
                            c.image
                        ),
                        field_path(c),
                    );
                    images.insert(ImageRef::parse(&c.image).to_string());
                    c.pulled = true;
                    c.pull_backoff = SignedDuration::ZERO;
                    start_run(ctx, rec, i, pod, t, fx);
                    after_start(rec, i, t);
                }
                other => {
                    let message = pull_error(&c.image, other);
                    fx.event(
                        true,
                        "Failed",
                        format!("Failed to pull image {:?}: {message}", c.image),
                        field_path(c),
                    );
                    fx.event(true, "Failed", "Error: ErrImagePull".into(), field_path(c));
                    c.pull_backoff = next_backoff(c.pull_backoff);
                    c.stage = Stage::PullFailed {
                        message,
                        show_backoff: t.checked_add(ctx.scaled(secs_f(1.0))).unwrap_or(t),
                        retry: t.checked_add(ctx.scaled(c.pull_backoff)).unwrap_or(t),
                        announced: false,
                    };
                }
            }
        }
        Stage::PullFailed {
            message,
            show_backoff,
            retry,
            announced,
        } => {
            let c = &mut rec.ctrs[i];
            if !announced {
                fx.event(
                    false,
                    "BackOff",
                    format!("Back-off pulling image {:?}", c.image),
                    field_path(c),
                );
                fx.event(
                    true,
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                    field_path(c),
                );
                c.stage = Stage::PullFailed {
                    message,
                    show_backoff,
                    retry,
                    announced: true,
                };
            } else {
                c.stage = Stage::Idle;
                begin(ctx, rec, i, pod, images, t, fx);
            }
        }
        Stage::CrashBackOff { .. } => {
            rec.ctrs[i].stage = Stage::Idle;
            begin(ctx, rec, i, pod, images, t, fx);
            after_start(rec, i, t);
        }
        Stage::Running => {
            let Some(inst) = rec.ctrs[i].current.as_mut() else {
                rec.ctrs[i].stage = Stage::Done;
                return;
            };
            let end_due = inst.end.as_ref().is_some_and(|(e, _)| *e <= t) && !inst.ended;
            if !end_due && !inst.ended && inst.recheck_at.is_some_and(|r| r <= t) {
                inst.recheck_at = None;
                recheck_run(ctx, rec, i, pod, t);
            }
            if !end_due {
                run_probes(ctx, rec, i, t, fx);
            }
            if end_due {
                finish_run(ctx, rec, i, pod, images, t, fx);
            }
        }
        Stage::Idle | Stage::NeverPull(_) | Stage::Done => {}
    }
}

/// Runs the probes of container `i` that are due at `t` and applies what they found:
/// readiness on or off, `Unhealthy` events, a liveness kill.
fn run_probes(ctx: &mut Ctx, rec: &mut PodRecord, i: usize, t: Timestamp, fx: &mut Effects) {
    if rec.ctrs[i].probes.iter().all(|w| w.next > t) {
        return;
    }
    let Resolution::Found(behavior) = ctx.opts.catalog.resolve(&rec.ctrs[i].image) else {
        return;
    };
    let info = behavior.info();
    let ip = rec.ip.clone().unwrap_or_default();
    let store = ctx.store.clone();
    let c = &mut rec.ctrs[i];
    let Ctr {
        probes: workers,
        current,
        ..
    } = c;
    let Some(inst) = current.as_mut() else {
        return;
    };
    let mut found = Vec::new();
    for w in workers.iter_mut().filter(|w| w.next <= t) {
        if inst.ended {
            break;
        }
        let result = match w.kind {
            probes::Kind::Readiness => {
                // A process that has not come up yet does not answer (quietly: it is starting).
                if inst.at(inst.plan.ready_after) > t {
                    w.not_up_yet();
                    continue;
                }
                probes::check(&store, &w.probe, inst, &ip, &behavior, &info, t)
            }
            probes::Kind::Liveness => {
                probes::check(&store, &w.probe, inst, &ip, &behavior, &info, t).and_then(|()| {
                    if inst.plan.live {
                        Ok(())
                    } else {
                        Err(String::new())
                    }
                })
            }
        };
        let result = result.map_err(|m| {
            if m.is_empty() {
                liveness_text(&w.probe, inst, &ip)
            } else {
                m
            }
        });
        let outcome = w.record(result, inst.ready_at.is_some());
        match (w.kind, outcome) {
            (_, probes::Outcome::Quiet) => {}
            (probes::Kind::Readiness, probes::Outcome::BecameReady) => inst.ready_at = Some(t),
            (probes::Kind::Liveness, probes::Outcome::BecameReady) => {}
            (probes::Kind::Readiness, probes::Outcome::Failed { message, flip }) => {
                found.push(format!("Readiness probe failed: {message}"));
                if flip {
                    inst.ready_at = None;
                }
            }
            (probes::Kind::Liveness, probes::Outcome::Failed { message, flip }) => {
                found.push(format!("Liveness probe failed: {message}"));
                if flip && inst.end.as_ref().is_none_or(|(e, _)| *e > t) {
                    let (code, reason) = match inst.plan.stop {
                        StopBehavior::Graceful(_) => (0, "Completed"),
                        StopBehavior::Dies => (143, "Error"),
                        StopBehavior::IgnoresSigterm => (137, "Error"),
                    };
                    inst.end = Some((
                        t,
                        Term {
                            code,
                            reason: reason.into(),
                            message: None,
                            started: Some(inst.started),
                            finished: t,
                            container_id: inst.id.clone(),
                        },
                    ));
                    found.push(String::new());
                }
            }
        }
    }
    let c = &rec.ctrs[i];
    for message in found {
        if message.is_empty() {
            fx.event(
                false,
                "Killing",
                format!(
                    "Container {} failed liveness probe, will be restarted",
                    c.name
                ),
                field_path(c),
            );
            // The killed run probes no more.
            if let Some(ctr) = rec.ctrs.get_mut(i) {
                ctr.probes.clear();
            }
            break;
        }
        fx.event(true, "Unhealthy", message, field_path(c));
    }
}

/// Asks the behaviour of a running container whether its plan changes
/// ([`ContainerBehavior::recheck`]) and applies the answer.
fn recheck_run(ctx: &mut Ctx, rec: &mut PodRecord, i: usize, pod: &Value, t: Timestamp) {
    let store = ctx.store.clone();
    let Resolution::Found(behavior) = ctx.opts.catalog.resolve(&rec.ctrs[i].image) else {
        return;
    };
    let mut pod_view = pod.clone();
    if let Some(ip) = &rec.ip {
        pod_view["status"]["podIP"] = json!(ip);
    }
    pod_view["status"]["hostIP"] = json!(rec.host_ip);
    let c = &rec.ctrs[i];
    let Ok(env) = env::container_env(&store, &pod_view, &c.spec, &[]) else {
        return;
    };
    let env_map: BTreeMap<String, String> = env.into_iter().collect();
    let Some(inst) = c.current.as_ref() else {
        return;
    };
    let elapsed_clock = t.duration_since(inst.started);
    let elapsed = SignedDuration::from_nanos((elapsed_clock.as_nanos() as f64 / inst.scale) as i64);
    let answer = {
        let sctx = StartContext {
            store: &store,
            namespace: &rec.namespace,
            pod_name: &rec.name,
            pod: &pod_view,
            container: &c.spec,
            container_name: &c.name,
            image: &c.image,
            argv: inst.argv.clone(),
            env: &env_map,
            node: &rec.node,
            pod_ip: rec.ip.as_deref().unwrap_or_default(),
            restart_count: c.restart_count,
            now: t,
            memory_limit: c
                .spec
                .pointer("/resources/limits/memory")
                .map(|q| bytes(q).max(0) as u64),
            files: &inst.files,
            time_scale: inst.scale,
        };
        behavior.recheck(&sctx, elapsed, &inst.plan)
    };
    let Some(inst) = rec.ctrs[i].current.as_mut() else {
        return;
    };
    let Some(new) = answer else {
        inst.recheck_at = inst.plan.recheck.map(|d| inst_at(t, inst.scale, d));
        return;
    };
    // What was printed so far stays: the old lines up to now (periodic ones written out),
    // and the kubelet's own probe markers.
    let mut logs: Vec<super::behavior::LogLine> = inst
        .plan
        .logs
        .iter()
        .filter(|l| l.offset <= elapsed || l.text.starts_with('\u{0}'))
        .cloned()
        .collect();
    if let Some(p) = &inst.plan.periodic
        && !p.lines.is_empty()
        && p.every.as_nanos() > 0
    {
        let mut k: i64 = 0;
        let mut at = p.first;
        while at <= elapsed && k < 10_000 {
            if p.cycle {
                let line = &p.lines[(k as usize) % p.lines.len()];
                logs.push(super::behavior::LogLine {
                    offset: at,
                    text: line.clone(),
                });
            } else {
                for line in &p.lines {
                    logs.push(super::behavior::LogLine {
                        offset: at,
                        text: line.clone(),
                    });
                }
            }
            k += 1;
            at = p.first + p.every * (k as i32);
        }
    }
    logs.extend(new.logs.iter().filter(|l| l.offset > elapsed).cloned());
    logs.sort_by_key(|l| l.offset);
    let had_planned_exit = inst.plan.exit.is_some();
    inst.plan = RunPlan { logs, ..new };
    // The probes may find something else now.
    let Some(c) = rec.ctrs.get_mut(i) else {
        return;
    };
    for w in &mut c.probes {
        w.unsettle();
    }
    let Some(inst) = c.current.as_mut() else {
        return;
    };
    inst.recheck_at = inst.plan.recheck.map(|d| inst_at(t, inst.scale, d));
    // The end follows the new plan, unless the old end was not the plan's own (OOM, liveness).
    let keep_old_end = inst
        .end
        .as_ref()
        .is_some_and(|(_, term)| term.reason == "OOMKilled" || !had_planned_exit);
    if !keep_old_end {
        inst.end = inst.plan.exit.as_ref().map(|e| {
            let at = inst_at(inst.started, inst.scale, e.after).max(t);
            (
                at,
                Term {
                    code: e.code,
                    reason: if e.code == 0 { "Completed" } else { "Error" }.into(),
                    message: e.message.clone(),
                    started: Some(inst.started),
                    finished: at,
                    container_id: inst.id.clone(),
                },
            )
        });
    }
}

fn inst_at(started: Timestamp, scale: f64, offset: SignedDuration) -> Timestamp {
    let scaled = SignedDuration::from_nanos((offset.as_nanos() as f64 * scale) as i64);
    started.checked_add(scaled).unwrap_or(started)
}

/// What a failed probe says when the probe itself reached the process (an unhealthy
/// process answering HTTP 500, a port it does not listen on).
fn liveness_text(probe: &Value, inst: &Instance, ip: &str) -> String {
    if let Some(get) = probe.get("httpGet") {
        let port = get.get("port").map(|p| p.to_string()).unwrap_or_default();
        let port = port.trim_matches('"');
        let path = s(get, "/path").unwrap_or("/");
        let refused = inst
            .plan
            .listening
            .as_ref()
            .is_some_and(|l| !l.iter().any(|p| p.to_string() == port));
        if refused {
            return format!(
                "Get \"http://{ip}:{port}{path}\": dial tcp {ip}:{port}: connect: connection refused"
            );
        }
        return "HTTP probe failed with statuscode: 500".into();
    }
    if let Some(tcp) = probe.get("tcpSocket") {
        let port = tcp.get("port").map(|p| p.to_string()).unwrap_or_default();
        return format!(
            "dial tcp {ip}:{}: connect: connection refused",
            port.trim_matches('"')
        );
    }
    "command failed".into()
}

/// Init containers that complete let the sequence continue.
fn after_start(rec: &mut PodRecord, i: usize, t: Timestamp) {
    let c = &rec.ctrs[i];
    if c.sidecar && matches!(c.stage, Stage::Running) && rec.cursor == i {
        rec.cursor = i + 1;
        rec.cursor_at = Some(t);
    }
}

/// A run ended at `t`: record it and decide about a restart.
fn finish_run(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    i: usize,
    pod: &Value,
    images: &mut BTreeSet<String>,
    t: Timestamp,
    fx: &mut Effects,
) {
    let policy = restart_policy(pod, &rec.ctrs[i]);
    let pref = pod_ref(pod);
    let c = &mut rec.ctrs[i];
    let Some(inst) = c.current.as_mut() else {
        return;
    };
    inst.ended = true;
    let Some((_, term)) = inst.end.clone() else {
        return;
    };
    let ran = t.duration_since(inst.started);
    c.last_term = Some(term.clone());
    let restart = match policy {
        "Always" => true,
        "OnFailure" => term.code != 0,
        _ => false,
    };
    if !restart {
        c.stage = Stage::Done;
        if c.init && term.code == 0 && rec.cursor == i {
            rec.cursor = i + 1;
            rec.cursor_at = Some(t);
        }
        return;
    }
    // Crash back-off: the first restart is immediate; a run of 10 minutes resets it.
    let real_ran = if ctx.opts.time_scale > 0.0 {
        SignedDuration::from_nanos((ran.as_nanos() as f64 / ctx.opts.time_scale) as i64)
    } else {
        ran
    };
    if real_ran >= SignedDuration::from_mins(10) {
        c.backoff = SignedDuration::ZERO;
    }
    if c.backoff.is_zero() {
        c.backoff = SignedDuration::from_secs(10);
        c.stage = Stage::Idle;
        begin(ctx, rec, i, pod, images, t, fx);
        after_start(rec, i, t);
        return;
    }
    let wait = c.backoff;
    c.backoff = next_backoff(c.backoff);
    fx.event(
        true,
        "BackOff",
        format!(
            "Back-off restarting failed container {} in pod {pref}",
            c.name
        ),
        field_path(c),
    );
    c.stage = Stage::CrashBackOff {
        until: t.checked_add(ctx.scaled(wait)).unwrap_or(t),
        backoff: wait,
    };
}

/// Graceful termination; returns whether the pod can be removed now.
fn terminate(
    ctx: &mut Ctx,
    rec: &mut PodRecord,
    pod: &Value,
    now: Timestamp,
    fx: &mut Effects,
) -> bool {
    let grace = int(pod, "/metadata/deletionGracePeriodSeconds").unwrap_or(0);
    let deadline = match rec.terminating {
        Some(d) => d,
        None => {
            let d = ctx.after(SignedDuration::from_secs(grace));
            rec.terminating = Some(d);
            for c in rec.ctrs.iter_mut() {
                let running = matches!(c.stage, Stage::Running)
                    && c.current.as_ref().is_some_and(|i| !i.ended);
                if !running {
                    c.stage = Stage::Done;
                    continue;
                }
                fx.event(
                    false,
                    "Killing",
                    format!("Stopping container {}", c.name),
                    field_path(c),
                );
                let Some(inst) = c.current.as_mut() else {
                    continue;
                };
                let (at, code) = match inst.plan.stop {
                    StopBehavior::Graceful(after) => {
                        let at = now.checked_add(ctx.scaled(after)).unwrap_or(now);
                        (at.min(d), 0)
                    }
                    StopBehavior::Dies => (now, 143),
                    StopBehavior::IgnoresSigterm => (d, 137),
                };
                let keep_planned = inst.end.as_ref().is_some_and(|(e, _)| *e < at);
                if !keep_planned {
                    inst.end = Some((
                        at,
                        Term {
                            code,
                            reason: if code == 0 { "Completed" } else { "Error" }.into(),
                            message: None,
                            started: Some(inst.started),
                            finished: at,
                            container_id: inst.id.clone(),
                        },
                    ));
                }
            }
            d
        }
    };
    let mut all_stopped = true;
    for c in rec.ctrs.iter_mut() {
        if !matches!(c.stage, Stage::Running) {
            continue;
        }
        let Some(inst) = c.current.as_mut() else {
            continue;
        };
        if inst.ended {
            c.stage = Stage::Done;
            continue;
        }
        match inst.end.as_ref().map(|(e, _)| *e) {
            Some(e) if e <= now || deadline <= now => {
                inst.ended = true;
                if let Some((_, term)) = &inst.end {
                    c.last_term = Some(term.clone());
                }
                c.stage = Stage::Done;
            }
            Some(e) => {
                all_stopped = false;
                fx.wake(e.min(deadline));
            }
            None => {
                all_stopped = false;
                fx.wake(deadline);
            }
        }
    }
    all_stopped
}

/// Ends the current run of a container now, as `kill` from outside does (Chaos Mesh's
/// container-kill, an OOM from a neighbour): the kubelet then restarts it per the pod's restart
/// policy and back-off.
pub(crate) fn kill(
    ctx: &mut Ctx,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    exit_code: i32,
) -> Result<(), crate::runtime::RuntimeError> {
    use crate::runtime::RuntimeError;
    let now = ctx.now();
    {
        let shared = ctx.kubelet.clone();
        let mut state = shared.lock();
        let rec = state
            .pods
            .get_mut(&(ns.to_string(), pod.to_string()))
            .ok_or_else(|| RuntimeError::NotFound(format!("pods {pod:?} not found")))?;
        let c = match container {
            Some(name) => rec.ctrs.iter_mut().find(|c| c.name == name),
            None => rec.ctrs.iter_mut().find(|c| !c.init),
        }
        .ok_or_else(|| {
            RuntimeError::BadRequest(format!(
                "container {} is not valid for pod {pod}",
                container.unwrap_or_default()
            ))
        })?;
        let running = matches!(c.stage, Stage::Running);
        let Some(inst) = c.current.as_mut().filter(|i| running && !i.ended) else {
            return Err(RuntimeError::BadRequest(format!(
                "container not found ({:?})",
                c.name
            )));
        };
        inst.end = Some((
            now,
            Term {
                code: exit_code,
                reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
                message: None,
                started: Some(inst.started),
                finished: now,
                container_id: inst.id.clone(),
            },
        ));
    }
    reconcile(ctx, ns, pod);
    Ok(())
}

/// The pod phase the kubelet reports.
fn phase(rec: &PodRecord, pod: &Value) -> &'static str {
    let policy = sd(pod, "/spec/restartPolicy");
    let n_init = rec.n_init();
    let inits_done = rec.cursor >= n_init && rec.sandbox_ready;
    if !inits_done {
        let failed_init = rec.ctrs[..n_init].iter().any(|c| {
            matches!(c.stage, Stage::Done) && c.last_term.as_ref().is_some_and(|t| t.code != 0)
        });
        return if failed_init && policy == "Never" {
            "Failed"
        } else {
            "Pending"
        };
    }
    let regular: Vec<&Ctr> = rec.ctrs.iter().filter(|c| !c.init).collect();
    if regular.iter().any(|c| !c.ever_started) {
        return "Pending";
    }
    let running = regular
        .iter()
        .filter(|c| matches!(c.stage, Stage::Running))
        .count();
    if running > 0 {
        return "Running";
    }
    let all_done = regular.iter().all(|c| matches!(c.stage, Stage::Done));
    if !all_done {
        return "Running";
    }
    let all_ok = regular
        .iter()
        .all(|c| c.last_term.as_ref().is_some_and(|t| t.code == 0));
    if rec.terminating.is_some() {
        return if all_ok { "Succeeded" } else { "Failed" };
    }
    match policy {
        "Always" => "Running",
        _ if all_ok => "Succeeded",
        _ => "Failed",
    }
}

fn waiting(reason: &str, message: Option<String>) -> Value {
    let mut w = json!({"reason": reason});
    if let Some(m) = message {
        w["message"] = json!(m);
    }
    json!({"waiting": w})
}

fn ctr_ready(c: &Ctr, now: Timestamp, terminating: bool) -> bool {
    !terminating
        && matches!(c.stage, Stage::Running)
        && c.current
            .as_ref()
            .is_some_and(|i| !i.ended && i.ready_at.is_some_and(|r| r <= now))
}

fn ctr_status(c: &Ctr, rec: &PodRecord, pod: &Value, now: Timestamp, initializing: bool) -> Value {
    let pref = pod_ref(pod);
    let terminating = rec.terminating.is_some();
    let state = match &c.stage {
        Stage::Idle | Stage::Pulling { .. } => {
            if initializing && !c.init {
                waiting("PodInitializing", None)
            } else {
                waiting("ContainerCreating", None)
            }
        }
        Stage::ConfigError { message, .. } => {
            waiting("CreateContainerConfigError", Some(message.clone()))
        }
        Stage::PullFailed {
            message, announced, ..
        } => {
            if *announced {
                waiting(
                    "ImagePullBackOff",
                    Some(format!(
                        "Back-off pulling image {:?}: ErrImagePull: {message}",
                        c.image
                    )),
                )
            } else {
                waiting("ErrImagePull", Some(message.clone()))
            }
        }
        Stage::NeverPull(m) => waiting("ErrImageNeverPull", Some(m.clone())),
        Stage::Running => match c.current.as_ref() {
            Some(i)
                if i.end
                    .as_ref()
                    .is_some_and(|(_, t)| t.reason == "StartError") =>
            {
                waiting("ContainerCreating", None)
            }
            Some(i) => json!({"running": {"startedAt": fmt_time(i.started)}}),
            None => waiting("ContainerCreating", None),
        },
        Stage::CrashBackOff { backoff, .. } => waiting(
            "CrashLoopBackOff",
            Some(format!(
                "back-off {} restarting failed container={} pod={pref}",
                go_duration(*backoff),
                c.name
            )),
        ),
        Stage::Done => match &c.last_term {
            Some(t) => json!({"terminated": t.json()}),
            None => waiting("ContainerCreating", None),
        },
    };
    let last_state = match (&c.stage, &c.last_term) {
        (Stage::Done, _) => c
            .previous
            .as_ref()
            .and_then(|p| p.end.as_ref())
            .filter(|_| c.restart_count > 0)
            .map(|(_, t)| json!({"terminated": t.json()}))
            .unwrap_or(json!({})),
        (_, Some(t)) => json!({"terminated": t.json()}),
        _ => json!({}),
    };
    let pulled = c.pulled || c.ever_started;
    let image = if pulled {
        ImageRef::parse(&c.image).to_string()
    } else {
        c.image.clone()
    };
    let mut st = json!({
        "image": image,
        "imageID": if pulled { image_id(&c.image) } else { String::new() },
        "lastState": last_state,
        "name": c.name,
        "ready": ctr_ready(c, now, terminating),
        "restartCount": c.restart_count,
        "started": matches!(c.stage, Stage::Running) && c.current.as_ref().is_some_and(|i| !i.ended && i.end.as_ref().is_none_or(|(_, t)| t.reason != "StartError")),
        "state": state,
    });
    let id = c
        .current
        .as_ref()
        .map(|i| i.id.clone())
        .or_else(|| c.last_term.as_ref().map(|t| t.container_id.clone()));
    if let Some(id) = id {
        st["containerID"] = json!(format!("containerd://{id}"));
    }
    let mounts: Vec<Value> = arr(&c.spec, "/volumeMounts")
        .iter()
        .map(|m| {
            let mut v = json!({"mountPath": sd(m, "/mountPath"), "name": sd(m, "/name")});
            if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                v["readOnly"] = json!(true);
                v["recursiveReadOnly"] = json!("Disabled");
            }
            v
        })
        .collect();
    if !mounts.is_empty() {
        st["volumeMounts"] = json!(mounts);
    }
    st
}

/// The status fields the kubelet owns.
fn pod_status(rec: &PodRecord, pod: &Value, now: Timestamp) -> Value {
    let phase = phase(rec, pod);
    let n_init = rec.n_init();
    let initializing = n_init > 0 && rec.cursor < n_init;
    let terminating = rec.terminating.is_some();
    let finished = matches!(phase, "Succeeded" | "Failed");
    let mut conditions: Vec<(String, &'static str, Option<&'static str>, Option<String>)> =
        Vec::new();
    conditions.push((
        "PodReadyToStartContainers".into(),
        if rec.sandbox_ready && !finished {
            "True"
        } else {
            "False"
        },
        None,
        None,
    ));
    let incomplete: Vec<&str> = rec.ctrs[..n_init]
        .iter()
        .filter(|c| {
            !(matches!(c.stage, Stage::Done) && c.last_term.as_ref().is_some_and(|t| t.code == 0)
                || (c.sidecar && matches!(c.stage, Stage::Running)))
        })
        .map(|c| c.name.as_str())
        .collect();
    if incomplete.is_empty() {
        conditions.push(("Initialized".into(), "True", None, None));
    } else {
        conditions.push((
            "Initialized".into(),
            "False",
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        ));
    }
    let unready: Vec<&str> = rec
        .ctrs
        .iter()
        .filter(|c| !c.init || c.sidecar)
        .filter(|c| !ctr_ready(c, now, terminating))
        .map(|c| c.name.as_str())
        .collect();
    for ty in ["Ready", "ContainersReady"] {
        if finished {
            conditions.push((ty.into(), "False", Some("PodCompleted"), None));
        } else if unready.is_empty() {
            conditions.push((ty.into(), "True", None, None));
        } else {
            conditions.push((
                ty.into(),
                "False",
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            ));
        }
    }
    let conds: Vec<Value> = conditions
        .into_iter()
        .map(|(ty, status, reason, message)| {
            let mut c = json!({"lastProbeTime": null, "status": status, "type": ty});
            if let Some(r) = reason {
                c["reason"] = json!(r);
            }
            if let Some(m) = message {
                c["message"] = json!(m);
            }
            c
        })
        .collect();
    let statuses: Vec<Value> = rec
        .ctrs
        .iter()
        .filter(|c| !c.init)
        .map(|c| ctr_status(c, rec, pod, now, initializing))
        .collect();
    let init_statuses: Vec<Value> = rec
        .ctrs
        .iter()
        .filter(|c| c.init)
        .map(|c| ctr_status(c, rec, pod, now, false))
        .collect();
    let mut st = json!({
        "phase": phase,
        "conditions": conds,
        "hostIP": rec.host_ip,
        "hostIPs": [{"ip": rec.host_ip}],
        "startTime": fmt_time(rec.start_time),
        "containerStatuses": statuses,
    });
    if !init_statuses.is_empty() {
        st["initContainerStatuses"] = json!(init_statuses);
    }
    if let Some(ip) = &rec.ip {
        st["podIP"] = json!(ip);
        st["podIPs"] = json!([{"ip": ip}]);
    }
    st
}

/// Writes the kubelet's status fields into the pod, keeping the scheduler's condition and
/// transition times of conditions that did not change.
fn merge_status(pod: &mut Value, ours: &Value, now: &str) {
    let existing: Vec<Value> = arr(pod, "/status/conditions").to_vec();
    let mut merged: Vec<Value> = Vec::new();
    for c in arr(ours, "/conditions") {
        let ty = sd(c, "/type");
        if let Some(old) = existing.iter().find(|e| sd(e, "/type") == ty) {
            merged.push(old.clone());
        }
        let mut list = std::mem::take(&mut merged);
        set_condition(&mut list, c.clone(), now);
        merged = list;
    }
    for e in &existing {
        let ty = sd(e, "/type");
        if !merged.iter().any(|m| sd(m, "/type") == ty) {
            merged.push(e.clone());
        }
    }
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    status.insert("conditions".into(), json!(merged));
    for key in [
        "phase",
        "hostIP",
        "hostIPs",
        "startTime",
        "containerStatuses",
        "initContainerStatuses",
        "podIP",
        "podIPs",
    ] {
        match ours.get(key) {
            Some(v) => {
                status.insert(key.into(), v.clone());
            }
            None => {
                status.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(SignedDuration::from_millis(876)), "876ms");
        assert_eq!(go_duration(SignedDuration::from_millis(1603)), "1.603s");
        assert_eq!(go_duration(SignedDuration::from_secs(10)), "10s");
        assert_eq!(go_duration(SignedDuration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(SignedDuration::from_secs(80)), "1m20s");
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let mut b = SignedDuration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..7 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, vec![10, 20, 40, 80, 160, 300, 300]);
    }
}
