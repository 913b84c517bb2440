//! The engine: container behaviours interpreted from the profiles.
//!
//! [`AppImage`] is the [`ContainerBehavior`] of every image a profile file declares. At start it
//! picks the profile of the program the container runs (by argv\[0\], through an entrypoint
//! wrapper), reads the program's configuration from the files the container sees (a ConfigMap
//! mounted by the manifests, or a file baked into the image), resolves its dependencies'
//! addresses, and walks the startup sequence against the cluster's state at each step's moment:
//! a dial goes through [`Routing::connect`](super::net::Routing::connect) and, for MongoDB, checks
//! TLS and the credentials against the data directory; a database step checks the user's
//! privileges. The walk gives the run's plan (log lines with offsets, when it listens, whether
//! and how it exits) and records the run in the apps' state ([`World`]). A step that waits
//! (retrying until a timeout, or forever) asks to be rechecked, so a dependency that comes up
//! later lets the run go on, as the real retry loop would.

use super::mongo::data::MongoData;
use super::mongo::shell::{self, ShellSetup, ShellTarget};
use super::net::{Peer, Routing, split_host_port};
use super::profile::{
    Engine, FailAction, FailKind, ImageDef, Os, Profile, Registry, Step, reaction, retries,
};
use super::state::{ConsulEntry, MongodRun, ResolvedDep, RunInfo, RunKey, TlsMode, World};
use super::template::{Vars, render};
use crate::controllers::behavior::{
    ContainerBehavior, ExecContext, ExitPlan, ImageInfo, LogLine, PeriodicLogs, RunPlan, ShellKind,
    StartContext,
};
use crate::controllers::util::{arr, keys, s, sd, secs_f};
use crate::runtime::ExecOutput;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The behaviour of one image of the profiles.
pub struct AppImage {
    def: ImageDef,
    registry: &'static Registry,
}

impl AppImage {
    /// The behaviour of `def`.
    pub fn new(def: ImageDef, registry: &'static Registry) -> Self {
        AppImage { def, registry }
    }

    /// The profile key the program of `argv` runs, and the program's own arguments.
    pub fn program<'a>(&'a self, argv: &'a [String]) -> Option<(&'a str, &'a [String])> {
        let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
        let mut rest = argv;
        if let (Some(w), Some(first)) = (&self.def.wrapper, rest.first())
            && base(first) == *w
        {
            rest = &rest[1..];
        }
        if let Some(first) = rest.first()
            && let Some(key) = self.def.programs.get(&base(first))
        {
            return Some((key.as_str(), &rest[1..]));
        }
        let default = self.def.default_program.as_ref()?;
        let first_is_flag = rest.first().is_none_or(|a| a.starts_with('-'));
        let wrapped = self
            .def
            .wrapper
            .as_ref()
            .is_some_and(|w| argv.first().is_some_and(|a| base(a) == *w));
        if first_is_flag || wrapped {
            let key = self.def.programs.get(default)?;
            return Some((key.as_str(), rest));
        }
        None
    }

    fn profile(&self, key: &str) -> Option<&Arc<Profile>> {
        self.registry.profile(key)
    }
}

impl ContainerBehavior for AppImage {
    fn info(&self) -> ImageInfo {
        let mut info = match self.def.os {
            Os::Debian | Os::Ubuntu => ImageInfo::debian(self.def.size_bytes),
            Os::Alpine => ImageInfo::busybox(self.def.size_bytes),
            Os::Distroless => ImageInfo::distroless(self.def.size_bytes),
        };
        if self.def.os == Os::Ubuntu {
            info.files.insert(
                "/etc/os-release".into(),
                "NAME=\"Ubuntu\"\nVERSION=\"18.04.5 LTS (Bionic Beaver)\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 18.04.5 LTS\"\nVERSION_ID=\"18.04\"\n".into(),
            );
        }
        let names: Vec<&str> = self.def.binaries.iter().map(String::as_str).collect();
        info = info.with_binaries(&names);
        info.entrypoint = self.def.entrypoint.clone();
        if let Some(first) = self.def.entrypoint.first() {
            info.binaries.push(first.clone());
        }
        info.default_args = self.def.cmd.clone();
        for (path, content) in &self.def.files {
            info.files.insert(path.clone(), content.clone());
        }
        info
    }

    fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
        match self.program(&ctx.argv) {
            Some((key, args)) => match self.profile(key) {
                Some(p) => start_run(self, key, p, args, ctx, None),
                None => RunPlan::forever(),
            },
            None => {
                let info = self.info();
                let first = ctx.argv.first().map(String::as_str).unwrap_or_default();
                let base = first.rsplit('/').next().unwrap_or(first);
                if info.shell.is_some() && matches!(base, "sh" | "bash" | "ash")
                    || crate::controllers::kubelet::shell::is_utility(base)
                {
                    crate::controllers::script_plan(ctx, &info)
                } else {
                    // A binary of the image without a profile: it runs and does nothing visible.
                    RunPlan::forever()
                }
            }
        }
    }

    fn recheck(
        &self,
        ctx: &StartContext<'_>,
        elapsed: SignedDuration,
        current: &RunPlan,
    ) -> Option<RunPlan> {
        let (key, args) = self.program(&ctx.argv)?;
        let profile = self.profile(key)?;
        let world = World::of(ctx.store);
        let run = world.run(&RunKey::new(
            ctx.namespace,
            ctx.pod_name,
            ctx.container_name,
        ))?;
        let blocked = run.blocked?;
        let plan = start_run(
            self,
            key,
            profile,
            args,
            ctx,
            Some(Resume {
                step: blocked.0,
                since: blocked.1,
                elapsed: elapsed.as_secs_f64(),
            }),
        );
        let unchanged = plan.periodic == current.periodic
            && plan.exit == current.exit
            && plan.listening == current.listening;
        if unchanged { None } else { Some(plan) }
    }

    fn exec(&self, ctx: &ExecContext<'_>, argv: &[String]) -> Option<ExecOutput> {
        let first = argv.first()?;
        let base = first.rsplit('/').next().unwrap_or(first);
        if !matches!(base, "mongo" | "mongosh") {
            return None;
        }
        if !self
            .def
            .binaries
            .iter()
            .any(|b| b.rsplit('/').next() == Some(base))
        {
            return None;
        }
        let def = self
            .def
            .programs
            .values()
            .filter_map(|k| self.profile(k))
            .find_map(|p| p.mongod.clone())?;
        Some(run_mongo_shell(ctx, argv, &def))
    }
}

/// Runs the mongo shell for `kubectl exec` in a container.
fn run_mongo_shell(
    ctx: &ExecContext<'_>,
    argv: &[String],
    def: &super::profile::MongodDef,
) -> ExecOutput {
    let world = World::of(ctx.store);
    let key = RunKey::new(ctx.namespace, ctx.pod_name, ctx.container_name);
    let own = world.run(&key);
    let pod_ip = ctx
        .store
        .get_arc(&keys::pods(), ctx.namespace, ctx.pod_name)
        .map(|p| sd(&p, "/status/podIP").to_string())
        .unwrap_or_default();
    let store = ctx.store;
    let now = ctx.now;
    let ns = ctx.namespace.to_string();
    let pod = ctx.pod_name.to_string();
    let resolve = move |host: &str, port: u16| -> Result<ShellTarget, String> {
        let local = matches!(host, "127.0.0.1" | "localhost" | "::1");
        if local {
            return match own.as_ref().and_then(|r| r.mongod.clone()) {
                Some(m) if m.port == port && own.as_ref().is_some_and(|r| r.listens(port, now)) => {
                    Ok(ShellTarget {
                        data_key: m.data_key,
                        auth: m.auth,
                        tls: m.tls,
                        localhost: true,
                    })
                }
                _ => Err("Connection refused".into()),
            };
        }
        let routing = World::of(store).routing(store);
        let target = routing
            .connect(&Peer::pod(&ns, &pod, &pod_ip), host, port, now, &mut |_| 0)
            .map_err(|e| match e.kind() {
                FailKind::Nxdomain => format!("Could not find host matching read preference {{ mode: \"primary\" }} for set {host}"),
                FailKind::Timeout => "Connection timed out".into(),
                _ => "Connection refused".into(),
            })?;
        match target.run.and_then(|r| r.mongod.clone()) {
            Some(m) => Ok(ShellTarget {
                data_key: m.data_key,
                auth: m.auth,
                tls: m.tls,
                localhost: target.pod.name == pod && target.pod.namespace == ns,
            }),
            None => Err("Connection reset by peer".into()),
        }
    };
    let stdin = ctx.stdin.map(|b| String::from_utf8_lossy(b).to_string());
    let setup = ShellSetup {
        world: &world,
        version: &def.version,
        shell_version: &def.shell_version,
        banner: &def.shell_banner,
        files: ctx.files,
        stdin: stdin.as_deref(),
        resolve: &resolve,
        seed: hash(&[ctx.pod_name, &ctx.now.as_nanosecond().to_string()]),
    };
    shell::run(argv, &setup)
}

/// Where a recheck resumes: the step that was waiting, since when, and the time now.
#[derive(Debug, Clone, Copy)]
struct Resume {
    step: usize,
    since: f64,
    elapsed: f64,
}

/// A failure of a step's action.
#[derive(Debug, Clone)]
struct Failure {
    kind: FailKind,
    vars: Vars,
    client: String,
}

/// FNV-1a over parts, for stable ids.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn uuid(seed: u64) -> String {
    let a = seed;
    let b = seed.rotate_left(17).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][(b & 3) as usize],
        &h[17..20],
        &h[20..32]
    )
}

/// Parses a configuration file's text (JSON, else YAML).
fn parse_config(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_saphyr::from_str::<Value>(text).ok())
}

/// The mongod's configuration from its arguments and `--config` file.
struct MongodConf {
    auth: bool,
    tls: TlsMode,
    cert_file: Option<String>,
    ca_file: Option<String>,
    port: u16,
    db_path: String,
    options: Value,
}

fn mongod_conf(args: &[String], files: &BTreeMap<String, String>) -> MongodConf {
    let mut c = MongodConf {
        auth: false,
        tls: TlsMode::Disabled,
        cert_file: None,
        ca_file: None,
        port: 27017,
        db_path: "/data/db".into(),
        options: json!({}),
    };
    let mut opts = serde_json::Map::new();
    let mut net = serde_json::Map::new();
    let mut tls = serde_json::Map::new();
    let mut i = 0;
    let value = |i: &mut usize| -> Option<String> {
        *i += 1;
        args.get(*i).cloned()
    };
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        let take = |i: &mut usize| inline.clone().or_else(|| value(i));
        match flag.as_str() {
            "--auth" => c.auth = true,
            "--noauth" => c.auth = false,
            "--port" => {
                if let Some(p) = take(&mut i).and_then(|p| p.parse().ok()) {
                    c.port = p;
                    net.insert("port".into(), json!(p));
                }
            }
            "--dbpath" => {
                if let Some(p) = take(&mut i) {
                    c.db_path = p;
                }
            }
            "--tlsMode" | "--sslMode" => {
                if let Some(m) = take(&mut i).and_then(|m| TlsMode::parse(&m)) {
                    c.tls = m;
                    tls.insert("mode".into(), json!(m.name()));
                }
            }
            "--tlsCertificateKeyFile" | "--sslPEMKeyFile" => {
                c.cert_file = take(&mut i);
                if let Some(f) = &c.cert_file {
                    tls.insert("certificateKeyFile".into(), json!(f));
                }
            }
            "--tlsCAFile" | "--sslCAFile" => {
                c.ca_file = take(&mut i);
                if let Some(f) = &c.ca_file {
                    tls.insert("CAFile".into(), json!(f));
                }
            }
            "--config" | "-f" => {
                if let Some(path) = take(&mut i) {
                    opts.insert("config".into(), json!(path));
                    if let Some(cfg) = files.get(&path).and_then(|t| parse_config(t)) {
                        let mode = cfg
                            .pointer("/net/tls/mode")
                            .or_else(|| cfg.pointer("/net/ssl/mode"))
                            .and_then(Value::as_str);
                        if let Some(m) = mode.and_then(TlsMode::parse) {
                            c.tls = m;
                            tls.insert("mode".into(), json!(m.name()));
                        }
                        let file = cfg
                            .pointer("/net/tls/certificateKeyFile")
                            .or_else(|| cfg.pointer("/net/ssl/PEMKeyFile"))
                            .and_then(Value::as_str);
                        if let Some(f) = file {
                            c.cert_file = Some(f.to_string());
                            tls.insert("certificateKeyFile".into(), json!(f));
                        }
                        if let Some(f) = cfg.pointer("/net/tls/CAFile").and_then(Value::as_str) {
                            c.ca_file = Some(f.to_string());
                            tls.insert("CAFile".into(), json!(f));
                        }
                        if let Some(p) = cfg
                            .pointer("/net/port")
                            .and_then(Value::as_u64)
                            .and_then(|p| u16::try_from(p).ok())
                        {
                            c.port = p;
                            net.insert("port".into(), json!(p));
                        }
                        if cfg
                            .pointer("/security/authorization")
                            .and_then(Value::as_str)
                            == Some("enabled")
                        {
                            c.auth = true;
                        }
                        if let Some(p) = cfg.pointer("/storage/dbPath").and_then(Value::as_str) {
                            c.db_path = p.to_string();
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut net_out = serde_json::Map::new();
    net_out.insert("bindIp".into(), json!("*"));
    for (k, v) in net {
        net_out.insert(k, v);
    }
    if !tls.is_empty() {
        let mut sorted: Vec<(String, Value)> = tls.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        net_out.insert("tls".into(), Value::Object(sorted.into_iter().collect()));
    }
    opts.insert("net".into(), Value::Object(net_out));
    if c.auth {
        opts.insert("security".into(), json!({"authorization": "enabled"}));
    }
    c.options = Value::Object(opts);
    c
}

/// Where a mongod keeps its data: the PersistentVolume behind a claim, an emptyDir of the pod,
/// a host path, or the container's own writable layer.
fn data_key(ctx: &StartContext<'_>, db_path: &str) -> String {
    let uid = sd(ctx.pod, "/metadata/uid");
    let mounts = arr(ctx.container, "/volumeMounts");
    let best = mounts
        .iter()
        .filter(|m| {
            let mp = sd(m, "/mountPath").trim_end_matches('/');
            db_path == mp || db_path.starts_with(&format!("{mp}/"))
        })
        .max_by_key(|m| sd(m, "/mountPath").len());
    let Some(mount) = best else {
        return format!(
            "layer:{}/{}/{}#{}",
            ctx.namespace, uid, ctx.container_name, ctx.restart_count
        );
    };
    let vname = sd(mount, "/name");
    let vol = arr(ctx.pod, "/spec/volumes")
        .iter()
        .find(|v| sd(v, "/name") == vname);
    match vol {
        Some(v) if v.get("persistentVolumeClaim").is_some() => {
            let claim = sd(v, "/persistentVolumeClaim/claimName");
            match ctx.store.get_arc(&keys::pvcs(), ctx.namespace, claim) {
                Ok(pvc) if !sd(&pvc, "/spec/volumeName").is_empty() => {
                    format!("pv:{}", sd(&pvc, "/spec/volumeName"))
                }
                Ok(pvc) => format!("pvc:{}/{}", ctx.namespace, sd(&pvc, "/metadata/uid")),
                Err(_) => format!("pvc:{}/{claim}", ctx.namespace),
            }
        }
        Some(v) if v.get("hostPath").is_some() => {
            format!("hostpath:{}:{}", ctx.node, sd(v, "/hostPath/path"))
        }
        Some(_) => format!("emptydir:{}/{uid}/{vname}", ctx.namespace),
        None => format!(
            "layer:{}/{}/{}#{}",
            ctx.namespace, uid, ctx.container_name, ctx.restart_count
        ),
    }
}

/// The state of one startup walk.
struct Walk<'a> {
    profile: &'a Profile,
    registry: &'static Registry,
    ctx: &'a StartContext<'a>,
    vars: Vars,
    routing: Arc<Routing>,
    world: Arc<World>,
    start: Timestamp,
    now_elapsed: f64,
    t: f64,
    logs: Vec<LogLine>,
    listen: Vec<(u16, f64)>,
    exit: Option<(f64, i32)>,
    periodic: Option<PeriodicLogs>,
    recheck: Option<f64>,
    blocked: Option<(usize, f64)>,
    flags: BTreeSet<String>,
    deps: BTreeMap<String, ResolvedDep>,
    mongod_conf: Option<MongodConf>,
}

impl<'a> Walk<'a> {
    fn at(&self, offset: f64) -> Timestamp {
        let d = secs_f(offset.max(0.0) * self.ctx.time_scale);
        self.start.checked_add(d).unwrap_or(self.start)
    }

    fn line(&mut self, text: &str, extra: &[&Vars]) {
        let mut scopes: Vec<&Vars> = extra.to_vec();
        scopes.push(&self.vars);
        let rendered = render(text, &scopes);
        self.logs.push(LogLine {
            offset: secs_f(self.t),
            text: rendered,
        });
    }

    fn peer(&self) -> Peer {
        Peer::pod(self.ctx.namespace, self.ctx.pod_name, self.ctx.pod_ip)
    }

    fn client_failure(&self, client: &str, kind: FailKind, vars: Vars) -> Failure {
        Failure {
            kind,
            vars,
            client: client.to_string(),
        }
    }

    /// The message a failure reads as.
    fn message(&self, f: &Failure) -> String {
        let client = self.registry.clients.get(&f.client);
        let text = client
            .and_then(|c| c.errors.get(&f.kind))
            .map(|e| e.message.clone())
            .unwrap_or_else(|| f.kind.name().to_string());
        render(&text, &[&f.vars, &self.vars])
    }

    /// Tries an action of a step at offset `t`.
    fn attempt(&mut self, step: &Step, t: f64, effects: bool) -> Result<(), Failure> {
        let at = self.at(t);
        if let Some(dep) = &step.dial {
            return self.dial(dep, at).map(|_| ());
        }
        if let Some(db) = &step.db {
            return self.db_step(db, at, effects);
        }
        if let Some(reg) = &step.register {
            let target = self.dial(&reg.dep, at)?;
            if effects {
                let port = render(&reg.port.0, &[&self.vars]).parse().unwrap_or(0);
                let name = render(&reg.name, &[&self.vars]);
                if let (Some(rk), Some(run)) = (target.run_key(), target.run.as_ref()) {
                    self.world.consul_register(
                        &run.id(&rk),
                        ConsulEntry {
                            name,
                            id: self.vars.map.get("uuid").cloned().unwrap_or_default(),
                            address: self.ctx.pod_ip.to_string(),
                            port,
                        },
                    );
                }
            }
            return Ok(());
        }
        Ok(())
    }

    /// Connects to a dependency; for MongoDB also checks TLS and authenticates.
    fn dial(&mut self, dep_name: &str, at: Timestamp) -> Result<super::net::Target, Failure> {
        let Some(dep) = self.profile.dependencies.get(dep_name) else {
            return Err(self.client_failure("", FailKind::Nxdomain, Vars::default()));
        };
        let resolved = self.deps.get(dep_name).cloned();
        let (host, port) = match &resolved {
            Some(r) if r.consul.is_none() => (r.host.clone(), r.port),
            _ => (String::new(), 0),
        };
        let mut vars = Vars::of(&[
            ("host", host.clone()),
            ("port", port.to_string()),
            ("db", dep.db.clone().unwrap_or_default()),
        ]);
        if host.is_empty() {
            return Err(self.client_failure(&dep.client, FailKind::Nxdomain, vars));
        }
        let target = match self
            .routing
            .connect(&self.peer(), &host, port, at, &mut |_| 0)
        {
            Ok(t) => t,
            Err(e) => {
                vars.set("ip", e.ip());
                vars.set("error", e.to_string());
                return Err(self.client_failure(&dep.client, e.kind(), vars));
            }
        };
        vars.set("ip", target.dialled_ip());
        if dep.protocol == "mongodb"
            && let Some(m) = target.run.as_ref().and_then(|r| r.mongod.clone())
        {
            if m.tls == TlsMode::Require && !dep.tls {
                return Err(self.client_failure(&dep.client, FailKind::Tls, vars));
            }
            if let Some(user) = &dep.user {
                let auth_db = dep.auth_db.clone().unwrap_or_else(|| "admin".into());
                let pwd = dep.password.clone().unwrap_or_default();
                let data = self.world.mongo(&m.data_key).unwrap_or_default();
                if data.authenticate(&auth_db, user, &pwd).is_err() {
                    return Err(self.client_failure(&dep.client, FailKind::Auth, vars));
                }
            }
        }
        Ok(target)
    }

    fn db_step(
        &mut self,
        db: &super::profile::DbStep,
        at: Timestamp,
        effects: bool,
    ) -> Result<(), Failure> {
        let target = self.dial(&db.dep, at)?;
        let Some(dep) = self.profile.dependencies.get(&db.dep) else {
            return Ok(());
        };
        let Some(m) = target.run.as_ref().and_then(|r| r.mongod.clone()) else {
            return Ok(());
        };
        let dbname = dep.db.clone().unwrap_or_else(|| "test".into());
        let principal = dep.user.as_ref().map(|u| {
            (
                dep.auth_db.clone().unwrap_or_else(|| "admin".into()),
                u.clone(),
            )
        });
        let data = self.world.mongo(&m.data_key).unwrap_or_default();
        let empty = data
            .collection(&dbname, &db.collection)
            .is_none_or(|c| c.docs == 0);
        use super::mongo::data::Action;
        let mut needed = match db.action.as_str() {
            "find" | "count" => vec![Action::Find],
            "insert" => vec![Action::Insert],
            "update" => vec![Action::Update],
            "remove" => vec![Action::Remove],
            "createIndex" => vec![Action::CreateIndex],
            _ => vec![Action::Find],
        };
        if db.action == "seed" && empty {
            needed.push(Action::Insert);
            needed.push(Action::CreateIndex);
        }
        let command = render(db.command.as_deref().unwrap_or("{ }"), &[&self.vars]);
        let command_name = db.action.clone();
        let vars = Vars::of(&[
            ("host", target.dialled_ip().to_string()),
            ("ip", target.dialled_ip().to_string()),
            ("port", target.port.to_string()),
            ("db", dbname.clone()),
            ("command", command),
            ("command_name", command_name),
        ]);
        if m.auth {
            match &principal {
                None => {
                    return Err(self.client_failure(&dep.client, FailKind::Unauthenticated, vars));
                }
                Some((adb, u)) => {
                    if needed
                        .iter()
                        .any(|a| !data.allowed(Some((adb, u)), *a, &dbname))
                    {
                        return Err(self.client_failure(&dep.client, FailKind::Unauthorized, vars));
                    }
                }
            }
        }
        if effects {
            let docs = db.documents.unwrap_or(1);
            let index = db.index.clone();
            let action = db.action.clone();
            let coll = db.collection.clone();
            self.world.with_mongo(&m.data_key, |d: &mut MongoData| {
                let c = d.collection_mut(&dbname, &coll);
                match action.as_str() {
                    "seed" if c.docs == 0 => c.docs = docs,
                    "insert" => c.docs += docs,
                    "createIndex" => {
                        if let Some(i) = index
                            && !c.indexes.contains(&i)
                        {
                            c.indexes.push(i);
                        }
                    }
                    _ => {}
                }
            });
        }
        Ok(())
    }

    /// Applies a failure reaction at the current time. Returns false when the walk stops.
    fn react(&mut self, action: Option<&FailAction>, failure: &Failure) -> bool {
        let Some(action) = action else {
            return true;
        };
        let message = self.message(failure);
        let mut extra = failure.vars.clone();
        extra.set("error", message.clone());
        extra.set("message", message.clone());
        extra.set("message_len_hex", format!("{:#x}", message.len()));
        // What the client library itself prints about the failure.
        let client_lines = self
            .registry
            .clients
            .get(&failure.client)
            .and_then(|c| c.errors.get(&failure.kind))
            .map(|e| e.log.clone())
            .unwrap_or_default();
        for l in &client_lines {
            self.line(l, &[&extra]);
        }
        for (k, v) in &action.vars {
            extra.set(k, v.clone());
        }
        for l in &action.log {
            self.line(l, &[&extra]);
        }
        if let Some(t) = &action.template
            && let Some(lines) = self.registry.templates.get(t)
        {
            for l in lines.clone() {
                self.line(&l, &[&extra]);
            }
        }
        if let Some(code) = action.exit {
            self.exit = Some((self.t + 0.001, code));
            return false;
        }
        true
    }

    /// Walks the startup steps. `resume` replays the steps before the waiting one.
    fn run(&mut self, resume: Option<Resume>) {
        let steps = self.profile.startup.clone();
        for (i, step) in steps.iter().enumerate() {
            self.t += step.after;
            if let Some(flag) = &step.when
                && !self.flags.contains(flag)
            {
                continue;
            }
            let replaying = resume.is_some_and(|r| i < r.step);
            let resuming = resume.filter(|r| r.step == i);
            if let Some(r) = resuming {
                self.t = r.since;
            }
            if let Some(l) = &step.log {
                self.line(l, &[]);
            }
            for l in &step.logs {
                self.line(l, &[]);
            }
            if let Some(p) = &step.listen {
                let port_text = render(&p.0, &[&self.vars]);
                if port_text == "0" {
                    let ports: Vec<u16> = self
                        .profile
                        .listen
                        .iter()
                        .filter(|l| l.protocol.as_deref().unwrap_or("TCP") == "TCP")
                        .filter_map(|l| render(&l.port.0, &[&self.vars]).parse().ok())
                        .collect();
                    for port in ports {
                        self.listen.push((port, self.t));
                    }
                } else if let Ok(port) = port_text.parse() {
                    self.listen.push((port, self.t));
                }
            }
            if let Some(code) = step.exit {
                self.exit = Some((self.t, code));
                return;
            }
            if step.check_tls
                && let Some(conf) = &self.mongod_conf
                && conf.tls != TlsMode::Disabled
            {
                let missing = [conf.cert_file.clone(), conf.ca_file.clone()]
                    .into_iter()
                    .flatten()
                    .find(|f| !self.ctx.files.contains_key(f));
                let no_cert = conf.cert_file.is_none();
                if missing.is_some() || no_cert {
                    let file = missing.unwrap_or_default();
                    let lines = self
                        .profile
                        .mongod
                        .as_ref()
                        .map(|m| m.tls_missing_file.clone())
                        .unwrap_or_default();
                    let extra = Vars::of(&[("file", file)]);
                    for l in lines {
                        self.line(&l, &[&extra]);
                    }
                    self.exit = Some((self.t + 0.001, 1));
                    return;
                }
            }
            let has_action = step.dial.is_some() || step.db.is_some() || step.register.is_some();
            if !has_action || replaying {
                continue;
            }
            let first_try = match resuming {
                Some(r) => r.elapsed.max(self.t),
                None => self.t.max(self.now_elapsed),
            };
            match self.attempt(step, first_try, true) {
                Ok(()) => {
                    if resuming.is_some() {
                        // Just after the recheck: what was printed up to now stays.
                        self.t = first_try + 0.001;
                    }
                }
                Err(failure) => {
                    let retry = step
                        .retry
                        .as_ref()
                        .filter(|r| retries(r, failure.kind) && r.every > 0.0);
                    let Some(retry) = retry else {
                        if !self.react(reaction(&step.on_fail, failure.kind), &failure) {
                            return;
                        }
                        continue;
                    };
                    // Waiting: each failed attempt prints its lines; the walk resumes when a
                    // recheck finds the way clear, or gives up at the timeout.
                    let since = self.t;
                    let message = self.message(&failure);
                    let mut extra = failure.vars.clone();
                    extra.set("error", message);
                    let each: Vec<String> = step
                        .each_failure
                        .iter()
                        .map(|l| render(l, &[&extra, &self.vars]))
                        .collect();
                    self.blocked = Some((i, since));
                    match retry.timeout {
                        Some(timeout) => {
                            let give_up = since + timeout;
                            let mut k = 0.0;
                            while since + k * retry.every < give_up {
                                for l in &each {
                                    self.logs.push(LogLine {
                                        offset: secs_f(since + k * retry.every),
                                        text: l.clone(),
                                    });
                                }
                                k += 1.0;
                            }
                            if first_try + retry.every < give_up {
                                self.recheck = Some(retry.every);
                            }
                            self.t = give_up;
                            self.react(
                                Some(reaction(&step.on_fail, failure.kind).unwrap_or(
                                    &FailAction {
                                        exit: Some(1),
                                        ..FailAction::default()
                                    },
                                )),
                                &failure,
                            );
                            if self.exit.is_none() {
                                self.exit = Some((give_up, 1));
                            }
                        }
                        None => {
                            if !each.is_empty() {
                                self.periodic = Some(PeriodicLogs {
                                    first: secs_f(since + 0.3),
                                    every: secs_f(retry.every),
                                    lines: each,
                                    cycle: false,
                                });
                            }
                            self.recheck = Some(retry.every.max(0.5));
                        }
                    }
                    return;
                }
            }
        }
    }
}

/// Builds the run's variables, configuration and dependencies, walks the startup and records
/// the run.
fn start_run(
    image: &AppImage,
    key: &str,
    profile: &Arc<Profile>,
    args: &[String],
    ctx: &StartContext<'_>,
    resume: Option<Resume>,
) -> RunPlan {
    let registry = image.registry;
    let world = World::of(ctx.store);
    let routing = world.routing(ctx.store);
    let uid = sd(ctx.pod, "/metadata/uid").to_string();
    let seed = hash(&[&uid, ctx.container_name, &ctx.restart_count.to_string()]);
    let mac_seed = hash(&[&uid, "mac"]);
    let mac: Vec<String> = (0..6)
        .map(|i| {
            format!(
                "{:02x}",
                (mac_seed >> (i * 8)) as u8 & if i == 0 { 0xfe } else { 0xff }
            )
        })
        .collect();
    let hostname = s(ctx.pod, "/spec/hostname")
        .filter(|h| !h.is_empty())
        .unwrap_or(ctx.pod_name)
        .to_string();
    let mut vars = Vars::of(&[
        ("pod_ip", ctx.pod_ip.to_string()),
        ("pod_name", ctx.pod_name.to_string()),
        ("hostname", hostname),
        ("namespace", ctx.namespace.to_string()),
        ("node", ctx.node.to_string()),
        ("container", ctx.container_name.to_string()),
        ("uuid", uuid(seed)),
        ("mac", mac.join(":")),
        (
            "machine_id",
            format!("{:03x}", hash(&[&mac.join(":")]) & 0xfff),
        ),
        ("init_pid", format!("{}", 20 + (seed % 40))),
    ]);
    vars.env = Some(Arc::new(ctx.env.clone()));
    // The configuration file, as the container sees it.
    let workdir = s(ctx.container, "/workingDir")
        .map(str::to_string)
        .or_else(|| image.def.workdir.clone())
        .unwrap_or_else(|| "/".into());
    if let Some(cfg) = &profile.config {
        let path = if cfg.file.starts_with('/') {
            cfg.file.clone()
        } else {
            format!("{}/{}", workdir.trim_end_matches('/'), cfg.file)
        };
        if let Some(value) = ctx.files.get(&path).and_then(|t| parse_config(t)) {
            vars.config = Some(Arc::new(value));
        }
    }
    // Sampling.
    let mut sample_ratio = 0.0;
    if let Some(tr) = &profile.tracer {
        if let Some(env) = &tr.sample_env {
            sample_ratio = ctx
                .env
                .get(env)
                .and_then(|v| v.parse::<f64>().ok())
                .or(tr.sample_default)
                .unwrap_or(1.0);
        } else if let (Some(file), Some(ptr)) = (&tr.sample_file, &tr.sample_pointer) {
            sample_ratio = ctx
                .files
                .get(file)
                .and_then(|t| parse_config(t))
                .and_then(|v| v.pointer(ptr).and_then(Value::as_f64))
                .or(tr.sample_default)
                .unwrap_or(1.0);
        } else {
            sample_ratio = tr.sample_default.unwrap_or(1.0);
        }
        if let Some(max) = tr.sample_max {
            sample_ratio = sample_ratio.min(max);
        }
        sample_ratio = sample_ratio.clamp(0.0, 1.0);
    }
    vars.set("sample_ratio", format!("{sample_ratio:.6}"));
    // Dependencies.
    let mut deps = BTreeMap::new();
    for (name, dep) in &profile.dependencies {
        let resolved = match (&dep.address, &dep.consul) {
            (_, Some(consul)) => ResolvedDep {
                host: String::new(),
                port: 0,
                consul: Some(consul.clone()),
            },
            (Some(addr), None) => {
                let text = render(addr, &[&vars]);
                match split_host_port(&text).filter(|(h, _)| !h.contains("${")) {
                    Some((host, port)) => ResolvedDep {
                        host,
                        port,
                        consul: None,
                    },
                    None => ResolvedDep {
                        host: String::new(),
                        port: 0,
                        consul: None,
                    },
                }
            }
            (None, None) => continue,
        };
        deps.insert(name.clone(), resolved);
    }
    let mut flags = BTreeSet::new();
    let mut logs = Vec::new();
    let mut t0 = 0.0;
    let mut mongod = None;
    let mut conf = None;
    let run_key = RunKey::new(ctx.namespace, ctx.pod_name, ctx.container_name);
    if profile.engine == Engine::Mongod {
        let c = mongod_conf(args, ctx.files);
        let dkey = data_key(ctx, &c.db_path);
        let fresh = world.mongo(&dkey).is_none_or(|d| !d.initialized);
        flags.insert(if c.auth { "auth" } else { "noauth" }.to_string());
        if c.tls != TlsMode::Disabled {
            flags.insert("tls".into());
        }
        vars.set("port", c.port.to_string());
        vars.set(
            "ssl",
            if c.tls == TlsMode::Disabled {
                "off"
            } else {
                "on"
            },
        );
        vars.set("options_json", c.options.to_string());
        if fresh {
            flags.insert("fresh".into());
            if resume.is_none() {
                t0 = init_scripts(profile, ctx, &world, &dkey, &vars, &mut logs);
            }
        }
        mongod = Some(MongodRun {
            auth: c.auth,
            tls: c.tls,
            data_key: dkey,
            port: c.port,
        });
        conf = Some(c);
    }
    let start = ctx
        .now
        .checked_sub(secs_f(
            resume.map(|r| r.elapsed).unwrap_or(0.0) * ctx.time_scale,
        ))
        .unwrap_or(ctx.now);
    let mut walk = Walk {
        profile,
        registry,
        ctx,
        vars,
        routing,
        world: world.clone(),
        start,
        now_elapsed: resume.map(|r| r.elapsed).unwrap_or(0.0),
        t: t0,
        logs,
        listen: Vec::new(),
        exit: None,
        periodic: None,
        recheck: None,
        blocked: None,
        flags,
        deps,
        mongod_conf: conf,
    };
    walk.run(resume);
    // A program without a `listen` step listens on its ports from the start.
    if !profile.startup.iter().any(|s| s.listen.is_some()) && walk.blocked.is_none() {
        let ports: Vec<u16> = profile
            .listen
            .iter()
            .filter(|l| l.protocol.as_deref().unwrap_or("TCP") == "TCP")
            .filter_map(|l| render(&l.port.0, &[&walk.vars]).parse().ok())
            .collect();
        for p in ports {
            walk.listen.push((p, 0.0));
        }
    }
    // Record the run.
    let listen: Vec<(u16, Timestamp)> =
        walk.listen.iter().map(|(p, t)| (*p, walk.at(*t))).collect();
    let exits_at = walk.exit.map(|(t, _)| walk.at(t));
    world.set_run(
        run_key,
        RunInfo {
            pod_uid: uid,
            restart_count: ctx.restart_count,
            profile: key.to_string(),
            image: ctx.image.to_string(),
            started: start,
            pod_ip: ctx.pod_ip.to_string(),
            listen,
            deps: walk.deps.clone(),
            sample_ratio,
            exits_at,
            mongod,
            vars: walk.vars.map.clone(),
            blocked: if walk.exit.is_none() {
                walk.blocked
            } else {
                None
            },
        },
    );
    // The plan.
    let mut plan = RunPlan::forever().using(
        profile.usage.cpu_m,
        (profile.usage.memory_mb * 1024.0 * 1024.0) as u64,
    );
    plan.logs = walk.logs;
    plan.periodic = walk.periodic;
    plan.listening = Some(walk.listen.iter().map(|(p, _)| *p).collect());
    plan.ready_after = SignedDuration::ZERO;
    plan.recheck = walk.recheck.map(secs_f);
    if let Some(stop) = profile.stop {
        plan = plan.graceful(stop);
    }
    if let Some((t, code)) = walk.exit {
        plan.exit = Some(ExitPlan {
            after: secs_f(t.max(0.01)),
            code,
            last_words: vec![],
            message: None,
        });
    }
    plan
}

/// Runs the init scripts of a fresh data directory, as the image's entrypoint does with a
/// temporary mongod without access control; returns the time they took.
fn init_scripts(
    profile: &Profile,
    ctx: &StartContext<'_>,
    world: &Arc<World>,
    data_key: &str,
    vars: &Vars,
    logs: &mut Vec<LogLine>,
) -> f64 {
    let Some(def) = &profile.mongod else {
        return 0.0;
    };
    let dir = format!("{}/", def.init_dir.trim_end_matches('/'));
    let scripts: Vec<String> = ctx
        .files
        .keys()
        .filter(|p| {
            p.starts_with(&dir)
                && !p[dir.len()..].contains('/')
                && (p.ends_with(".sh") || p.ends_with(".js"))
        })
        .cloned()
        .collect();
    world.with_mongo(data_key, |d| d.initialized = true);
    if scripts.is_empty() {
        return 0.0;
    }
    let mut t = 0.0;
    let push = |logs: &mut Vec<LogLine>, t: f64, text: String| {
        logs.push(LogLine {
            offset: secs_f(t),
            text,
        })
    };
    for l in &def.init_before {
        push(logs, t, render(l, &[vars]));
    }
    t += 0.5;
    let target = ShellTarget {
        data_key: data_key.to_string(),
        auth: false,
        tls: TlsMode::Disabled,
        localhost: true,
    };
    for path in scripts {
        let running = render(
            &def.init_running,
            &[&Vars::of(&[("script", path.clone())]), vars],
        );
        push(logs, t, running);
        let files: BTreeMap<String, String> = ctx.files.clone();
        let world2 = world.clone();
        let target2 = target.clone();
        let def2 = def.clone();
        let hook = move |argv: &[String],
                         _env: &BTreeMap<String, String>,
                         stdin: Option<&[u8]>|
              -> Option<ExecOutput> {
            let first = argv.first()?;
            let base = first.rsplit('/').next().unwrap_or(first);
            if !matches!(base, "mongo" | "mongosh") {
                return None;
            }
            let stdin = stdin.map(|b| String::from_utf8_lossy(b).to_string());
            let t2 = target2.clone();
            let resolve = move |host: &str, _port: u16| {
                if matches!(host, "127.0.0.1" | "localhost") {
                    Ok(t2.clone())
                } else {
                    Err("Connection refused".to_string())
                }
            };
            let setup = ShellSetup {
                world: &world2,
                version: &def2.version,
                shell_version: &def2.shell_version,
                banner: &def2.shell_banner,
                files: &files,
                stdin: stdin.as_deref(),
                resolve: &resolve,
                seed: hash(&[&argv.join(" ")]),
            };
            Some(shell::run(argv, &setup))
        };
        let env: Vec<(String, String)> = ctx
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut machine = crate::controllers::kubelet::shell::Machine::new(
            crate::controllers::kubelet::shell::Setup {
                env,
                files: ctx.files.clone(),
                kind: ShellKind::Bash,
                utilities: true,
                executables: vec!["bash".into(), "mongo".into(), "mongod".into()],
                hostname: ctx.pod_name.to_string(),
                start: ctx.now,
                horizon: SignedDuration::from_mins(10),
                hook: Some(&hook),
                pid1: "mongod".into(),
            },
        );
        let argv = if path.ends_with(".js") {
            vec!["mongo".to_string(), path.clone()]
        } else {
            vec!["bash".to_string(), path.clone()]
        };
        let _ = machine.run_main(&argv);
        for chunk in &machine.chunks {
            for line in chunk.text.lines() {
                push(logs, t + chunk.at.as_secs_f64(), line.to_string());
            }
        }
        t += machine.elapsed.as_secs_f64() + 0.2;
        push(logs, t, String::new());
    }
    for l in &def.init_after {
        push(logs, t, render(l, &[vars]));
    }
    t + 0.3
}
