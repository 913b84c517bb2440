//! The cAdvisor series a kubelet exposes (`/metrics/cadvisor`), as AIOpsLab's Prometheus
//! scrapes them (job `kubernetes-cadvisor`), computed from the timeline.
//!
//! For each pod with a cgroup there are three kinds of series, as on a kind node with
//! containerd and the systemd cgroup driver:
//!
//! - the pod cgroup: no `container`, `image` or `name` label, `id` the pod slice
//!   (`/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod<uid>.slice`);
//!   it lives as long as the pod and sums everything in it; the network series (`interface`
//!   `eth0`) are on this one;
//! - the sandbox (pause container): `image` `registry.k8s.io/pause:3.10`, `name` the sandbox id;
//! - each container run: `container`, `image` (as the runtime reports it), `name` the
//!   container id and `id` `<pod slice>/cri-containerd-<container id>.scope`.
//!
//! A restart is a new container id, so it starts new series from zero while the old ones stop;
//! summed over `id`/`name` (`sum without (id, name)`) the counter resets, as on a real node.
//! Every series also has `namespace`, `pod`, `instance` (the node name: Prometheus' node role
//! sets it), `job="kubernetes-cadvisor"` and the node's labels relabelled as the AIOpsLab chart
//! does (`kubernetes_io_hostname`, `beta_kubernetes_io_arch`, ...).
//!
//! Per node there are also `up` (1 while the node exists), `machine_cpu_cores` and
//! `machine_memory_bytes` (its capacity), with `instance`, `job` and the node's labels.
//!
//! Values come from the kubelet's usage model (the one `kubectl top` reports): working set equals
//! `kubectl top` at the scrape instants, and CPU seconds are its integral. The other values
//! (page cache, threads, file system and background network traffic) are fixed shares or rates
//! drawn per container from the seed.

use super::baseline::{PodView, RunView};
use super::hash::{hex64, keyed, unit_range};
use super::timeline::{NodeRec, PodRec};
use super::usage::{self, Checkpoints};
use crate::controllers::behavior::Usage;
use crate::telemetry::Labels;
use crate::telemetry::metrics::MetricKind;

/// The pause image of kind 1.32 nodes.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// The device the file-system series name.
pub const DEVICE: &str = "/dev/sda";
/// The scrape job AIOpsLab's Prometheus chart uses for cAdvisor.
pub const JOB: &str = "kubernetes-cadvisor";
/// The pod network interface.
pub const INTERFACE: &str = "eth0";

/// The sandbox's own use.
const PAUSE_USAGE: Usage = Usage {
    cpu_millicores: 0.05,
    memory_bytes: 290_816,
};
/// The CFS period (100 ms).
const CFS_PERIOD_US: f64 = 100_000.0;
/// A node's file system size, for `container_fs_limit_bytes`.
const FS_LIMIT: f64 = 107_374_182_400.0;

/// Which series a metric exists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Pod cgroup, sandbox and containers.
    All,
    /// Containers only.
    Containers,
    /// The pod cgroup only.
    Pod,
    /// Containers and pod cgroups with a CPU limit.
    CpuLimited,
}

/// An extra label a metric carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// None.
    None,
    /// `interface="eth0"`.
    Interface,
    /// `device="/dev/sda"`.
    Device,
}

/// What a metric measures (selects the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Cpu,
    CpuUser,
    CpuSystem,
    CfsPeriods,
    CfsThrottledPeriods,
    CfsThrottledSeconds,
    Zero,
    MemUsage,
    MemWorkingSet,
    MemRss,
    MemCache,
    MemMapped,
    MemMax,
    SpecCpuPeriod,
    SpecCpuQuota,
    SpecCpuShares,
    SpecMemLimit,
    SpecMemReservation,
    Threads,
    NetRxBytes,
    NetTxBytes,
    NetRxPackets,
    NetTxPackets,
    FsReadsBytes,
    FsWritesBytes,
    FsReads,
    FsWrites,
    FsUsage,
    FsLimit,
    LastSeen,
    StartTime,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// The metric name.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Which series carry it.
    pub scope: Scope,
    /// Its extra label.
    pub extra: Extra,
    value: Value,
}

const fn def(
    name: &'static str,
    kind: MetricKind,
    scope: Scope,
    extra: Extra,
    value: Value,
) -> Def {
    Def {
        name,
        kind,
        scope,
        extra,
        value,
    }
}

use Extra as E;
use MetricKind::{Counter as C, Gauge as G};
use Scope as S;

/// Every cAdvisor metric served, AIOpsLab's 25 (with `container_threads_max` and
/// `container_network_receive_errors_total` as the two names they really are) and the other
/// `container_*` series a kubelet exposes that fault diagnosis uses.
pub const CATALOGUE: &[Def] = &[
    def(
        "container_cpu_usage_seconds_total",
        C,
        S::All,
        E::None,
        Value::Cpu,
    ),
    def(
        "container_cpu_user_seconds_total",
        C,
        S::All,
        E::None,
        Value::CpuUser,
    ),
    def(
        "container_cpu_system_seconds_total",
        C,
        S::All,
        E::None,
        Value::CpuSystem,
    ),
    def(
        "container_cpu_cfs_periods_total",
        C,
        S::CpuLimited,
        E::None,
        Value::CfsPeriods,
    ),
    def(
        "container_cpu_cfs_throttled_periods_total",
        C,
        S::CpuLimited,
        E::None,
        Value::CfsThrottledPeriods,
    ),
    def(
        "container_cpu_cfs_throttled_seconds_total",
        C,
        S::CpuLimited,
        E::None,
        Value::CfsThrottledSeconds,
    ),
    def(
        "container_cpu_load_average_10s",
        G,
        S::All,
        E::None,
        Value::Zero,
    ),
    def(
        "container_memory_cache",
        G,
        S::All,
        E::None,
        Value::MemCache,
    ),
    def(
        "container_memory_usage_bytes",
        G,
        S::All,
        E::None,
        Value::MemUsage,
    ),
    def(
        "container_memory_working_set_bytes",
        G,
        S::All,
        E::None,
        Value::MemWorkingSet,
    ),
    def("container_memory_rss", G, S::All, E::None, Value::MemRss),
    def(
        "container_memory_mapped_file",
        G,
        S::All,
        E::None,
        Value::MemMapped,
    ),
    def(
        "container_memory_max_usage_bytes",
        G,
        S::All,
        E::None,
        Value::MemMax,
    ),
    def("container_memory_swap", G, S::All, E::None, Value::Zero),
    def("container_memory_failcnt", C, S::All, E::None, Value::Zero),
    def(
        "container_spec_cpu_period",
        G,
        S::All,
        E::None,
        Value::SpecCpuPeriod,
    ),
    def(
        "container_spec_cpu_quota",
        G,
        S::CpuLimited,
        E::None,
        Value::SpecCpuQuota,
    ),
    def(
        "container_spec_cpu_shares",
        G,
        S::All,
        E::None,
        Value::SpecCpuShares,
    ),
    def(
        "container_spec_memory_limit_bytes",
        G,
        S::All,
        E::None,
        Value::SpecMemLimit,
    ),
    def(
        "container_spec_memory_reservation_limit_bytes",
        G,
        S::All,
        E::None,
        Value::SpecMemReservation,
    ),
    def(
        "container_spec_memory_swap_limit_bytes",
        G,
        S::All,
        E::None,
        Value::SpecMemLimit,
    ),
    def("container_threads", G, S::All, E::None, Value::Threads),
    def("container_threads_max", G, S::All, E::None, Value::Zero),
    def(
        "container_network_receive_bytes_total",
        C,
        S::Pod,
        E::Interface,
        Value::NetRxBytes,
    ),
    def(
        "container_network_transmit_bytes_total",
        C,
        S::Pod,
        E::Interface,
        Value::NetTxBytes,
    ),
    def(
        "container_network_receive_packets_total",
        C,
        S::Pod,
        E::Interface,
        Value::NetRxPackets,
    ),
    def(
        "container_network_transmit_packets_total",
        C,
        S::Pod,
        E::Interface,
        Value::NetTxPackets,
    ),
    def(
        "container_network_receive_errors_total",
        C,
        S::Pod,
        E::Interface,
        Value::Zero,
    ),
    def(
        "container_network_transmit_errors_total",
        C,
        S::Pod,
        E::Interface,
        Value::Zero,
    ),
    def(
        "container_network_receive_packets_dropped_total",
        C,
        S::Pod,
        E::Interface,
        Value::Zero,
    ),
    def(
        "container_network_transmit_packets_dropped_total",
        C,
        S::Pod,
        E::Interface,
        Value::Zero,
    ),
    def(
        "container_fs_reads_bytes_total",
        C,
        S::Containers,
        E::Device,
        Value::FsReadsBytes,
    ),
    def(
        "container_fs_writes_bytes_total",
        C,
        S::Containers,
        E::Device,
        Value::FsWritesBytes,
    ),
    def(
        "container_fs_reads_total",
        C,
        S::Containers,
        E::Device,
        Value::FsReads,
    ),
    def(
        "container_fs_writes_total",
        C,
        S::Containers,
        E::Device,
        Value::FsWrites,
    ),
    def(
        "container_fs_usage_bytes",
        G,
        S::Containers,
        E::Device,
        Value::FsUsage,
    ),
    def(
        "container_fs_limit_bytes",
        G,
        S::Containers,
        E::Device,
        Value::FsLimit,
    ),
    def(
        "container_oom_events_total",
        C,
        S::Containers,
        E::None,
        Value::Zero,
    ),
    def("container_last_seen", G, S::All, E::None, Value::LastSeen),
    def(
        "container_start_time_seconds",
        G,
        S::All,
        E::None,
        Value::StartTime,
    ),
];

/// Network traffic of a pod caused by requests, cumulative at given instants.
pub trait PodTraffic {
    /// Cumulative `(rx bytes, tx bytes, rx packets, tx packets)` of requests handled or made by
    /// the pod, at each instant of `times` (sorted).
    fn cumulative(&self, pod: &PodRec, times: &[i64]) -> Vec<[f64; 4]>;
}

/// No request traffic.
pub struct NoTraffic;

impl PodTraffic for NoTraffic {
    fn cumulative(&self, _pod: &PodRec, times: &[i64]) -> Vec<[f64; 4]> {
        vec![[0.0; 4]; times.len()]
    }
}

/// One series owner: the pod cgroup, the sandbox, or a container run.
#[derive(Debug, Clone, Copy)]
pub enum Target<'v, 'a> {
    /// The pod cgroup.
    Pod(&'v PodView<'a>),
    /// The pause container.
    Pause(&'v PodView<'a>),
    /// A container run.
    Run(&'v PodView<'a>, &'v RunView<'a>),
}

impl<'v, 'a> Target<'v, 'a> {
    /// The pod view it belongs to.
    pub fn view(&self) -> &'v PodView<'a> {
        match self {
            Target::Pod(v) | Target::Pause(v) | Target::Run(v, _) => v,
        }
    }

    /// Its lifetime `(start, end)`.
    pub fn life(&self) -> (i64, Option<i64>) {
        match self {
            Target::Pod(v) | Target::Pause(v) => (v.start_ms, v.end_ms),
            Target::Run(_, r) => (r.start_ms, r.end_ms),
        }
    }

    /// Whether `def` exists on this target.
    pub fn carries(&self, d: &Def) -> bool {
        match (d.scope, self) {
            (Scope::All, _) => true,
            (Scope::Containers, Target::Run(..)) => true,
            (Scope::Pod, Target::Pod(_)) => true,
            (Scope::CpuLimited, Target::Run(v, r)) => v
                .pod
                .container(&r.run.container)
                .is_some_and(|c| c.cpu_limit_m > 0),
            (Scope::CpuLimited, Target::Pod(v)) => pod_cpu_limit_m(v.pod) > 0,
            _ => false,
        }
    }
}

fn pod_cpu_limit_m(p: &PodRec) -> i64 {
    let regular: Vec<_> = p.containers.iter().filter(|c| !c.init).collect();
    if regular.is_empty() || regular.iter().any(|c| c.cpu_limit_m == 0) {
        0
    } else {
        regular.iter().map(|c| c.cpu_limit_m).sum()
    }
}

fn qos_class(p: &PodRec) -> String {
    if !p.qos.is_empty() {
        return p.qos.clone();
    }
    let cs = &p.containers;
    if cs.iter().all(|c| {
        c.cpu_request_m == 0 && c.cpu_limit_m == 0 && c.memory_limit == 0 && c.memory_request == 0
    }) {
        "BestEffort".into()
    } else if cs.iter().all(|c| {
        c.cpu_limit_m > 0
            && c.memory_limit > 0
            && (c.cpu_request_m == 0 || c.cpu_request_m == c.cpu_limit_m)
            && (c.memory_request == 0 || c.memory_request == c.memory_limit)
    }) {
        "Guaranteed".into()
    } else {
        "Burstable".into()
    }
}

/// The pod's cgroup path under the systemd driver.
pub fn pod_cgroup(p: &PodRec) -> String {
    let uid = p.uid.replace('-', "_");
    match qos_class(p).as_str() {
        "Guaranteed" => {
            format!("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod{uid}.slice")
        }
        q => {
            let q = q.to_ascii_lowercase();
            format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-{q}.slice/kubelet-kubepods-{q}-pod{uid}.slice"
            )
        }
    }
}

/// The sandbox (pause container) id of a pod.
pub fn sandbox_id(seed: u64, p: &PodRec) -> String {
    hex64(seed, &format!("sandbox/{}", p.uid))
}

/// A Prometheus label name from a Kubernetes label key (`kubernetes.io/arch` ->
/// `kubernetes_io_arch`).
pub fn sanitize(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The labels of a target, without `__name__` and extras.
pub fn base_labels(seed: u64, t: &Target<'_, '_>, node: Option<&NodeRec>) -> Vec<(String, String)> {
    let v = t.view();
    let p = v.pod;
    let mut out: Vec<(String, String)> = Vec::with_capacity(16);
    if let Some(n) = node {
        for (k, val) in &n.labels {
            out.push((sanitize(k), val.clone()));
        }
    }
    let slice = pod_cgroup(p);
    match t {
        Target::Pod(_) => out.push(("id".into(), slice)),
        Target::Pause(_) => {
            let sid = sandbox_id(seed, p);
            out.push(("id".into(), format!("{slice}/cri-containerd-{sid}.scope")));
            out.push(("image".into(), PAUSE_IMAGE.into()));
            out.push(("name".into(), sid));
        }
        Target::Run(_, r) => {
            out.push(("container".into(), r.run.container.clone()));
            out.push((
                "id".into(),
                format!("{slice}/cri-containerd-{}.scope", r.run.id),
            ));
            out.push(("image".into(), r.run.image.clone()));
            out.push(("name".into(), r.run.id.clone()));
        }
    }
    out.push(("instance".into(), p.node.clone()));
    out.push(("job".into(), JOB.into()));
    out.push(("namespace".into(), p.namespace.clone()));
    out.push(("pod".into(), p.name.clone()));
    out
}

/// The full label set of `def` on a target with base labels `base`.
pub fn labels_for(base: &[(String, String)], d: &Def) -> Labels {
    let mut pairs: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push((crate::telemetry::METRIC_NAME, d.name));
    match d.extra {
        Extra::None => {}
        Extra::Interface => pairs.push(("interface", INTERFACE)),
        Extra::Device => pairs.push(("device", DEVICE)),
    }
    Labels::new(pairs)
}

/// Every value of a target at its scrape instants.
#[derive(Debug, Default)]
pub struct Values {
    /// The scrape instants, Unix ms.
    pub times: Vec<i64>,
    cpu: Vec<f64>,
    ws: Vec<f64>,
    peak: Vec<f64>,
    net: Vec<[f64; 4]>,
    user_share: f64,
    cache_share: f64,
    threads: f64,
    shares: f64,
    quota_cores: f64,
    mem_limit: f64,
    mem_request: f64,
    fs_read_start: f64,
    fs_read_rate: f64,
    fs_write_rate: f64,
    fs_usage: f64,
    start_s: f64,
    starts: Vec<f64>,
}

/// Scrape instants (multiples of `interval`) inside `[lo, hi]`.
pub fn scrape_times(lo: i64, hi: i64, interval: i64) -> Vec<i64> {
    if hi < lo || interval <= 0 {
        return Vec::new();
    }
    let first = lo.div_euclid(interval) * interval;
    let first = if first < lo { first + interval } else { first };
    (0..)
        .map(|k| first + k * interval)
        .take_while(|t| *t <= hi)
        .collect()
}

fn usage_key(p: &PodRec, container: &str) -> String {
    format!("{}/{}", p.uid, container)
}

/// CPU seconds and working set of one run at `times` (each clamped to the run's life).
fn run_series(
    p: &PodRec,
    r: &RunView<'_>,
    times: &[i64],
    cps: &Checkpoints,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let key = usage_key(p, &r.run.container);
    let segs: &[(i64, Usage)] = &r.run.usage;
    let first = times.first().map_or(r.start_ms, |t| match r.end_ms {
        Some(e) => (*t).min(e),
        None => *t,
    });
    let mut integ = cps.integrator(&key, segs, r.start_ms, first);
    let mut cpu = Vec::with_capacity(times.len());
    let mut ws = Vec::with_capacity(times.len());
    let mut peak = Vec::with_capacity(times.len());
    for &t in times {
        let live = t >= r.start_ms && r.end_ms.is_none_or(|e| t <= e);
        let upto = match r.end_ms {
            Some(e) => t.min(e),
            None => t,
        };
        if upto >= r.start_ms {
            integ.advance_to(upto);
        }
        cpu.push(if upto >= r.start_ms {
            integ.cpu_seconds
        } else {
            0.0
        });
        if live {
            let u = usage::usage_at(segs, t);
            ws.push(usage::memory_bytes(&u, &key, t) as f64);
            peak.push(integ.peak_memory as f64);
        } else {
            ws.push(0.0);
            peak.push(0.0);
        }
    }
    (cpu, ws, peak)
}

fn pause_series(p: &PodRec, start: i64, times: &[i64], cps: &Checkpoints) -> (Vec<f64>, Vec<f64>) {
    let key = usage_key(p, "POD");
    let segs = [(start, PAUSE_USAGE)];
    let first = times.first().copied().unwrap_or(start);
    let mut integ = cps.integrator(&key, &segs, start, first);
    let mut cpu = Vec::with_capacity(times.len());
    let mut ws = Vec::with_capacity(times.len());
    for &t in times {
        integ.advance_to(t);
        cpu.push(integ.cpu_seconds);
        ws.push(usage::memory_bytes(&PAUSE_USAGE, &key, t) as f64);
    }
    (cpu, ws)
}

fn draw(seed: u64, key: &str, what: &str, lo: f64, hi: f64) -> f64 {
    unit_range(seed, &format!("{key}#{what}"), lo, hi)
}

/// Computes a target's values at the scrape instants inside `[lo, hi]` and its lifetime.
pub(crate) fn compute(
    seed: u64,
    t: &Target<'_, '_>,
    lo: i64,
    hi: i64,
    interval: i64,
    traffic: &dyn PodTraffic,
    cps: &Checkpoints,
) -> Values {
    let (start, end) = t.life();
    let times = scrape_times(lo.max(start), end.map_or(hi, |e| e.min(hi)), interval);
    let v = t.view();
    let p = v.pod;
    let mut out = Values {
        times,
        start_s: start as f64 / 1000.0,
        ..Values::default()
    };
    if out.times.is_empty() {
        return out;
    }
    let n = out.times.len();
    match t {
        Target::Run(_, r) => {
            let (cpu, ws, peak) = run_series(p, r, &out.times, cps);
            out.cpu = cpu;
            out.ws = ws;
            out.peak = peak;
            let key = usage_key(p, &r.run.container);
            out.user_share = draw(seed, &key, "user", 0.55, 0.85);
            out.cache_share = draw(seed, &key, "cache", 0.05, 0.35);
            out.threads = (2 + keyed(seed, &format!("{key}#threads")) % 40) as f64;
            let spec = p.container(&r.run.container);
            let req = spec.map_or(0, |c| c.cpu_request_m);
            let lim = spec.map_or(0, |c| c.cpu_limit_m);
            out.shares = shares(if req > 0 { req } else { lim });
            out.quota_cores = lim as f64 / 1000.0;
            out.mem_limit = spec.map_or(0, |c| c.memory_limit) as f64;
            out.mem_request = spec.map_or(0, |c| c.memory_request) as f64;
            let id_key = format!("{key}/{}", r.run.id);
            out.fs_read_start = (draw(seed, &id_key, "fsread0", 64.0, 8192.0)).round() * 1024.0;
            out.fs_read_rate = draw(seed, &key, "fsread", 0.0, 256.0);
            out.fs_write_rate = draw(seed, &key, "fswrite", 0.0, 2048.0);
            out.fs_usage = 4096.0 * (2 + keyed(seed, &format!("{key}#fsuse")) % 512) as f64;
        }
        Target::Pause(_) => {
            let (cpu, ws) = pause_series(p, v.start_ms, &out.times, cps);
            out.peak = ws.clone();
            out.cpu = cpu;
            out.ws = ws;
            out.user_share = 0.5;
            out.cache_share = 0.0;
            out.threads = 1.0;
            out.shares = 2.0;
        }
        Target::Pod(_) => {
            let (mut cpu, mut ws) = pause_series(p, v.start_ms, &out.times, cps);
            let mut peak = ws.clone();
            let mut threads = 1.0;
            let mut cache = 0.0;
            for r in &v.runs {
                let (c, w, pk) = run_series(p, r, &out.times, cps);
                for i in 0..n {
                    cpu[i] += c[i];
                    ws[i] += w[i];
                    peak[i] += pk[i];
                }
                let key = usage_key(p, &r.run.container);
                threads += (2 + keyed(seed, &format!("{key}#threads")) % 40) as f64
                    / v.runs.len().max(1) as f64;
                cache += draw(seed, &key, "cache", 0.05, 0.35);
            }
            out.cpu = cpu;
            out.ws = ws;
            out.peak = peak;
            out.user_share = 0.7;
            out.cache_share = if v.runs.is_empty() {
                0.0
            } else {
                cache / v.runs.len() as f64
            };
            out.threads = threads.round();
            let regular: Vec<_> = p.containers.iter().filter(|c| !c.init).collect();
            // A limit without a request implies an equal request.
            let req: i64 = regular
                .iter()
                .map(|c| {
                    if c.cpu_request_m > 0 {
                        c.cpu_request_m
                    } else {
                        c.cpu_limit_m
                    }
                })
                .sum();
            out.shares = shares(req);
            out.quota_cores = pod_cpu_limit_m(p) as f64 / 1000.0;
            out.mem_limit = if regular.iter().all(|c| c.memory_limit > 0) && !regular.is_empty() {
                regular.iter().map(|c| c.memory_limit).sum::<i64>() as f64
            } else {
                0.0
            };
            out.net = traffic.cumulative(p, &out.times);
            let bg_rx = draw(seed, &p.uid, "rx", 90.0, 400.0);
            let bg_tx = draw(seed, &p.uid, "tx", 60.0, 300.0);
            for (i, t) in out.times.iter().enumerate() {
                let secs = (t - v.start_ms).max(0) as f64 / 1000.0;
                let n = &mut out.net[i];
                n[0] += (bg_rx * secs).floor();
                n[1] += (bg_tx * secs).floor();
                n[2] += (bg_rx * secs / 180.0).floor();
                n[3] += (bg_tx * secs / 160.0).floor();
            }
        }
    }
    out.starts = vec![out.start_s; n];
    out
}

fn shares(millicores: i64) -> f64 {
    if millicores <= 0 {
        2.0
    } else {
        ((millicores * 1024) / 1000).max(2) as f64
    }
}

/// The samples of `def` from computed values.
pub fn samples(d: &Def, v: &Values, start_ms: i64) -> Vec<(i64, f64)> {
    let n = v.times.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = v.times[i];
        let secs = (t - start_ms).max(0) as f64 / 1000.0;
        let cpu = v.cpu.get(i).copied().unwrap_or(0.0);
        let ws = v.ws.get(i).copied().unwrap_or(0.0);
        let cache = (ws * v.cache_share).floor();
        let inactive = (cache * 0.6).floor();
        let periods = (secs * 1e6 / CFS_PERIOD_US).floor();
        let util = if v.quota_cores > 0.0 && secs > 0.0 {
            cpu / (secs * v.quota_cores)
        } else {
            0.0
        };
        let throttle = ((util - 0.6) / 0.4).clamp(0.0, 1.0) * 0.5;
        let net = v.net.get(i).copied().unwrap_or([0.0; 4]);
        let value = match d.value {
            Value::Cpu => cpu,
            Value::CpuUser => (cpu * v.user_share * 100.0).floor() / 100.0,
            Value::CpuSystem => (cpu * (1.0 - v.user_share) * 100.0).floor() / 100.0,
            Value::CfsPeriods => periods,
            Value::CfsThrottledPeriods => (periods * throttle).floor(),
            Value::CfsThrottledSeconds => (periods * throttle).floor() * 0.02,
            Value::Zero => 0.0,
            Value::MemUsage => ws + inactive,
            Value::MemWorkingSet => ws,
            Value::MemRss => (ws - (cache - inactive)).max(0.0).floor(),
            Value::MemCache => cache,
            Value::MemMapped => (cache * 0.25).floor(),
            Value::MemMax => {
                let peak = v.peak.get(i).copied().unwrap_or(ws);
                peak.max(ws) + inactive
            }
            Value::SpecCpuPeriod => CFS_PERIOD_US,
            Value::SpecCpuQuota => (v.quota_cores * CFS_PERIOD_US).round(),
            Value::SpecCpuShares => v.shares,
            Value::SpecMemLimit => v.mem_limit,
            Value::SpecMemReservation => v.mem_request,
            Value::Threads => v.threads,
            Value::NetRxBytes => net[0],
            Value::NetTxBytes => net[1],
            Value::NetRxPackets => net[2],
            Value::NetTxPackets => net[3],
            Value::FsReadsBytes => v.fs_read_start + (v.fs_read_rate * secs).floor(),
            Value::FsWritesBytes => (v.fs_write_rate * secs).floor(),
            Value::FsReads => ((v.fs_read_start + v.fs_read_rate * secs) / 4096.0).floor(),
            Value::FsWrites => (v.fs_write_rate * secs / 4096.0).floor(),
            Value::FsUsage => v.fs_usage,
            Value::FsLimit => FS_LIMIT,
            Value::LastSeen => (t / 1000) as f64,
            Value::StartTime => v.starts.get(i).copied().unwrap_or(v.start_s),
        };
        out.push((t, value));
    }
    out
}

/// The label names every cAdvisor series may carry, for quick pre-filtering.
pub fn is_cadvisor_name(name: &str) -> bool {
    CATALOGUE.iter().any(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_instants_are_aligned() {
        assert_eq!(
            scrape_times(1, 46_000, 15_000),
            vec![15_000, 30_000, 45_000]
        );
        assert_eq!(scrape_times(15_000, 15_000, 15_000), vec![15_000]);
        assert!(scrape_times(16_000, 29_999, 15_000).is_empty());
        assert_eq!(scrape_times(-20_000, 0, 15_000), vec![-15_000, 0]);
    }

    #[test]
    fn names_are_unique_and_label_keys_sanitized() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|d| d.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        assert_eq!(
            sanitize("beta.kubernetes.io/arch"),
            "beta_kubernetes_io_arch"
        );
        assert_eq!(
            sanitize("node-role.kubernetes.io/control-plane"),
            "node_role_kubernetes_io_control_plane"
        );
    }

    #[test]
    fn aiopslab_metric_list_is_served() {
        for m in [
            "container_cpu_usage_seconds_total",
            "container_cpu_user_seconds_total",
            "container_cpu_system_seconds_total",
            "container_cpu_cfs_throttled_seconds_total",
            "container_cpu_cfs_throttled_periods_total",
            "container_cpu_cfs_periods_total",
            "container_cpu_load_average_10s",
            "container_memory_cache",
            "container_memory_usage_bytes",
            "container_memory_working_set_bytes",
            "container_memory_rss",
            "container_memory_mapped_file",
            "container_spec_cpu_period",
            "container_spec_cpu_quota",
            "container_spec_memory_limit_bytes",
            "container_spec_cpu_shares",
            "container_threads",
            "container_threads_max",
            "container_network_receive_errors_total",
            "container_network_receive_packets_dropped_total",
            "container_network_receive_packets_total",
            "container_network_receive_bytes_total",
            "container_network_transmit_bytes_total",
            "container_network_transmit_errors_total",
            "container_network_transmit_packets_dropped_total",
            "container_network_transmit_packets_total",
        ] {
            assert!(is_cadvisor_name(m), "{m}");
        }
    }
}
