//! `pods/log` and `pods/exec` served from the kubelet's records.

use super::shell::{Machine, Setup};
use super::{Ctr, Instance, Shared, Stage, env};
use crate::controllers::behavior::{
    ContainerBehavior, ExecContext, ExecFallback, ImageInfo, Resolution,
};
use crate::controllers::util::{fmt_time, fmt_time_nanos, keys, sd};
use crate::runtime::{ExecOutput, LogOptions, PodRuntime, RuntimeError};
use crate::store::Store;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// At most this many periodic lines are generated per request.
const MAX_PERIODIC: i64 = 10_000;

/// What a command runs against.
pub(crate) struct ExecSetup<'a> {
    pub behavior: &'a Arc<dyn ContainerBehavior>,
    pub fallback: Option<Arc<dyn ExecFallback>>,
    pub info: &'a ImageInfo,
    pub store: &'a Store,
    pub namespace: &'a str,
    pub pod_name: &'a str,
    pub container_name: &'a str,
    pub image: &'a str,
    pub env: Vec<(String, String)>,
    pub files: BTreeMap<String, String>,
    pub hostname: String,
    pub now: Timestamp,
    pub pid1: String,
}

/// The runtime's error for a program the image does not have, as `kubectl exec` prints it.
fn oci_error(program: &str) -> String {
    format!(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: {program:?}: executable file not found in $PATH: unknown\r\n"
    )
}

/// Runs `argv` in a container: the image's own commands first, then its shell and utilities.
/// Returns the output and the container's files afterwards. A program the image does not
/// have fails as the runtime reports it (the OCI error, exit code 126).
pub(crate) fn exec_in(
    setup: ExecSetup<'_>,
    argv: &[String],
    stdin: Option<&[u8]>,
) -> (ExecOutput, BTreeMap<String, String>) {
    let env_map: BTreeMap<String, String> = setup.env.iter().cloned().collect();
    let direct = {
        let ectx = ExecContext {
            store: setup.store,
            namespace: setup.namespace,
            pod_name: setup.pod_name,
            container_name: setup.container_name,
            image: setup.image,
            env: &env_map,
            stdin,
            now: setup.now,
            files: &setup.files,
        };
        let program = argv.first().map(String::as_str).unwrap_or_default();
        setup.behavior.exec(&ectx, argv).or_else(|| {
            setup
                .fallback
                .as_ref()
                .filter(|_| setup.info.has_executable(program))
                .and_then(|f| f.exec(&ectx, argv))
        })
    };
    if let Some(out) = direct {
        return (out, setup.files);
    }
    let program = argv.first().cloned().unwrap_or_default();
    if !setup.info.has_executable(&program) {
        return (
            ExecOutput {
                stdout: Vec::new(),
                stderr: oci_error(&program).into_bytes(),
                exit_code: 126,
            },
            setup.files,
        );
    }
    let behavior = setup.behavior.clone();
    let fallback = setup.fallback.clone();
    let hook_info = setup.info.clone();
    let store = setup.store;
    let (ns, pod, cname, image, now) = (
        setup.namespace,
        setup.pod_name,
        setup.container_name,
        setup.image,
        setup.now,
    );
    let hook_files = setup.files.clone();
    let hook = move |argv: &[String], env: &BTreeMap<String, String>, input: Option<&[u8]>| {
        let ectx = ExecContext {
            store,
            namespace: ns,
            pod_name: pod,
            container_name: cname,
            image,
            env,
            stdin: input.filter(|i| !i.is_empty()),
            now,
            files: &hook_files,
        };
        behavior.exec(&ectx, argv).or_else(|| {
            let program = argv.first().map(String::as_str).unwrap_or_default();
            fallback
                .as_ref()
                .filter(|_| hook_info.has_executable(program))
                .and_then(|f| f.exec(&ectx, argv))
        })
    };
    let mut machine = Machine::new(Setup {
        env: setup.env,
        files: setup.files,
        kind: setup
            .info
            .shell
            .unwrap_or(crate::controllers::behavior::ShellKind::Dash),
        utilities: setup.info.utilities,
        executables: setup.info.binaries.clone(),
        hostname: setup.hostname,
        start: setup.now,
        horizon: SignedDuration::from_mins(10),
        hook: Some(&hook),
        pid1: setup.pid1,
    });
    let input = stdin
        .map(|b| String::from_utf8_lossy(b).to_string())
        .unwrap_or_default();
    let out = machine.run_exec(argv, &input);
    (out, machine.files)
}

/// Runs a probe's command (exec probes) at `now`, with no store access to app state beyond
/// files: the run's files as they are now, including what `kubectl exec` wrote or deleted.
pub(crate) fn probe_command(
    store: &Store,
    behavior: &Arc<dyn ContainerBehavior>,
    info: &ImageInfo,
    inst: &Instance,
    argv: &[String],
    now: Timestamp,
) -> ExecOutput {
    let mut files = inst.files.clone();
    for (path, content) in &inst.overlay {
        match content {
            Some(c) => {
                files.insert(path.clone(), c.clone());
            }
            None => {
                files.remove(path);
            }
        }
    }
    let setup = ExecSetup {
        behavior,
        fallback: None,
        info,
        store,
        namespace: "",
        pod_name: "",
        container_name: "",
        image: "",
        env: vec![],
        files,
        hostname: String::new(),
        now,
        pid1: inst.argv.join(" "),
    };
    exec_in(setup, argv, None).0
}

/// The files of a running instance: what it started with, refreshed volumes, and `exec` writes.
fn current_files(
    store: &Store,
    pod: &Value,
    c: &Ctr,
    inst: &Instance,
    info: &ImageInfo,
) -> BTreeMap<String, String> {
    let mut files = info.files.clone();
    files.extend(inst.files.clone());
    files.extend(env::container_files(store, pod, &c.spec));
    for (path, content) in &inst.overlay {
        match content {
            Some(c) => {
                files.insert(path.clone(), c.clone());
            }
            None => {
                files.remove(path);
            }
        }
    }
    files
}

fn render(text: &str, t: Timestamp) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let z = t.to_zoned(TimeZone::UTC);
    text.replace("{ts}", &fmt_time_nanos(t))
        .replace("{time}", &fmt_time(t))
        .replace("{nginx_time}", &z.strftime("%Y/%m/%d %H:%M:%S").to_string())
        .replace("{klog_time}", &z.strftime("%m%d %H:%M:%S%.6f").to_string())
        .replace(
            "{boost_time}",
            &z.strftime("%Y-%b-%d %H:%M:%S%.6f").to_string(),
        )
        .replace("{ctime}", &z.strftime("%a %b %e %H:%M:%S %Y").to_string())
        .replace(
            "{mongo_time}",
            &z.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
        )
        .replace(
            "{redis_time}",
            &z.strftime("%d %b %Y %H:%M:%S%.3f").to_string(),
        )
        .replace("{epoch}", &z.strftime("%s%.6f").to_string())
}

/// The lines an instance has printed by `now`, with their times.
pub(crate) fn instance_lines(inst: &Instance, now: Timestamp) -> Vec<(Timestamp, String)> {
    let limit = match inst.ended_at() {
        Some(e) => e.min(now),
        None => now,
    };
    let mut lines: Vec<(Timestamp, String)> = Vec::new();
    for l in &inst.plan.logs {
        if l.text.starts_with('\u{0}') {
            continue;
        }
        let at = inst.at(l.offset);
        if at <= limit {
            lines.push((at, render(&l.text, at)));
        }
    }
    if let Some(p) = &inst.plan.periodic
        && !p.lines.is_empty()
    {
        let first = inst.at(p.first);
        let every = inst.at(p.every).duration_since(inst.started);
        if first <= limit && every.as_nanos() > 0 {
            let span = limit.duration_since(first).as_nanos();
            let total = (span / every.as_nanos()) as i64 + 1;
            let skip = (total - MAX_PERIODIC).max(0);
            for k in skip..total {
                let at = first
                    .checked_add(SignedDuration::from_nanos(
                        (every.as_nanos() * k as i128) as i64,
                    ))
                    .unwrap_or(first);
                if p.cycle {
                    let line = &p.lines[(k as usize) % p.lines.len()];
                    lines.push((at, render(line, at)));
                } else {
                    for line in &p.lines {
                        lines.push((at, render(line, at)));
                    }
                }
            }
        }
    }
    if let (Some(end), Some(exit)) = (inst.ended_at(), &inst.plan.exit)
        && end <= now
        && inst
            .end
            .as_ref()
            .is_some_and(|(_, t)| t.reason == "Completed" || t.reason == "Error")
    {
        for w in &exit.last_words {
            lines.push((end, render(w, end)));
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    lines
}

fn apply_options(lines: Vec<(Timestamp, String)>, now: Timestamp, options: &LogOptions) -> String {
    let since = options
        .since_seconds
        .and_then(|s| now.checked_sub(SignedDuration::from_secs(s)).ok())
        .or_else(|| options.since_time.as_deref().and_then(|t| t.parse().ok()));
    let mut lines: Vec<(Timestamp, String)> = lines
        .into_iter()
        .filter(|(t, _)| since.is_none_or(|s| *t >= s))
        .collect();
    if let Some(n) = options.tail_lines.filter(|n| *n >= 0) {
        let n = n as usize;
        if lines.len() > n {
            lines.drain(..lines.len() - n);
        }
    }
    let mut out = String::new();
    for (t, text) in lines {
        if options.timestamps {
            out.push_str(&fmt_time_nanos(t));
            out.push(' ');
        }
        out.push_str(&text);
        out.push('\n');
    }
    if let Some(limit) = options.limit_bytes.filter(|l| *l >= 0) {
        let limit = limit as usize;
        if out.len() > limit {
            let mut cut = limit;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
    }
    out
}

fn waiting_reason(c: &Ctr) -> String {
    match &c.stage {
        Stage::PullFailed { .. } | Stage::NeverPull(_) => "trying and failing to pull image".into(),
        Stage::ConfigError { .. } => "CreateContainerConfigError".into(),
        Stage::CrashBackOff { .. } => "CrashLoopBackOff".into(),
        _ => "ContainerCreating".into(),
    }
}

fn pick_container<'a>(
    pod: &'a Value,
    pod_name: &str,
    wanted: Option<&'a str>,
) -> Result<String, RuntimeError> {
    let names = |list: &str| -> Vec<String> {
        crate::controllers::util::arr(pod, list)
            .iter()
            .map(|c| sd(c, "/name").to_string())
            .collect()
    };
    let regular = names("/spec/containers");
    let init = names("/spec/initContainers");
    match wanted {
        Some(w) => {
            if regular.iter().chain(&init).any(|n| n == w) {
                Ok(w.to_string())
            } else {
                Err(RuntimeError::BadRequest(format!(
                    "container {w} is not valid for pod {pod_name}"
                )))
            }
        }
        None if regular.len() == 1 => Ok(regular[0].clone()),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                regular.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(RuntimeError::BadRequest(msg))
        }
    }
}

impl Shared {
    fn pod(&self, ns: &str, name: &str) -> Result<Value, RuntimeError> {
        self.store
            .get(&keys::pods(), ns, name)
            .map_err(|_| RuntimeError::NotFound(format!("pods {name:?} not found")))
    }
}

#[async_trait]
impl PodRuntime for Shared {
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<String, RuntimeError> {
        let podobj = self.pod(namespace, pod)?;
        let cname = pick_container(&podobj, pod, options.container.as_deref())?;
        let now = self.store.clock().now();
        let state = self.lock();
        let waiting_err = |reason: &str| {
            RuntimeError::BadRequest(format!(
                "container {cname:?} in pod {pod:?} is waiting to start: {reason}"
            ))
        };
        let Some(rec) = state
            .pods
            .get(&(namespace.to_string(), pod.to_string()))
            .filter(|r| r.uid == sd(&podobj, "/metadata/uid"))
        else {
            return Err(waiting_err("ContainerCreating"));
        };
        let Some(c) = rec.ctr(&cname) else {
            return Err(waiting_err("ContainerCreating"));
        };
        let by_id = |id: &str| -> Option<&Instance> {
            [c.current.as_ref(), c.previous.as_ref()]
                .into_iter()
                .flatten()
                .find(|i| i.id == id)
        };
        let inst = if options.previous {
            let last = c.last_term.as_ref().map(|t| t.container_id.clone());
            let running_now = matches!(c.stage, Stage::Running);
            let id = if running_now {
                c.previous
                    .as_ref()
                    .and_then(|p| p.end.as_ref())
                    .map(|(_, t)| t.container_id.clone())
            } else {
                last
            };
            match id.as_deref().and_then(by_id) {
                Some(i) => i,
                None => {
                    return Err(RuntimeError::BadRequest(format!(
                        "previous terminated container {cname:?} in pod {pod:?} not found"
                    )));
                }
            }
        } else {
            match (&c.stage, &c.current) {
                (Stage::Running, Some(i)) => i,
                (Stage::CrashBackOff { .. } | Stage::Done, Some(i)) => i,
                (_, Some(i)) if c.last_term.is_some() => i,
                _ => return Err(waiting_err(&waiting_reason(c))),
            }
        };
        if inst
            .end
            .as_ref()
            .is_some_and(|(_, t)| t.reason == "StartError")
            && inst.ended
        {
            return Ok(String::new());
        }
        Ok(apply_options(instance_lines(inst, now), now, options))
    }

    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, RuntimeError> {
        let podobj = self.pod(namespace, pod)?;
        if sd(&podobj, "/spec/nodeName").is_empty() {
            return Err(RuntimeError::BadRequest(format!(
                "pod {pod} does not have a host assigned"
            )));
        }
        let phase = sd(&podobj, "/status/phase");
        if matches!(phase, "Succeeded" | "Failed") {
            return Err(RuntimeError::BadRequest(format!(
                "cannot exec into a container in a completed pod; current phase is {phase}"
            )));
        }
        let cname = match container {
            Some(c) => pick_container(&podobj, pod, Some(c))?,
            None => crate::controllers::util::arr(&podobj, "/spec/containers")
                .first()
                .map(|c| sd(c, "/name").to_string())
                .ok_or_else(|| RuntimeError::BadRequest(format!("pod {pod} has no containers")))?,
        };
        if command.is_empty() {
            return Err(RuntimeError::BadRequest(
                "you must specify at least one command for the container".into(),
            ));
        }
        let now = self.store.clock().now();
        let mut state = self.lock();
        let not_running = || RuntimeError::BadRequest(format!("container not found ({cname:?})"));
        let rec = state
            .pods
            .get_mut(&(namespace.to_string(), pod.to_string()))
            .filter(|r| r.uid == sd(&podobj, "/metadata/uid"))
            .ok_or_else(not_running)?;
        let hostname = env::pod_hostname(&podobj);
        let ctr_index = rec
            .ctrs
            .iter()
            .position(|c| c.name == cname)
            .ok_or_else(not_running)?;
        let c = &rec.ctrs[ctr_index];
        let running = matches!(c.stage, Stage::Running)
            && c.current.as_ref().is_some_and(|i| {
                !i.ended && i.end.as_ref().is_none_or(|(_, t)| t.reason != "StartError")
            });
        if !running {
            return Err(not_running());
        }
        let Resolution::Found(behavior) = self.catalog.resolve(&c.image) else {
            return Err(not_running());
        };
        let info = behavior.info();
        let Some(inst) = c.current.as_ref() else {
            return Err(not_running());
        };
        let mut pod_view = podobj.clone();
        if let Some(ip) = &rec.ip {
            pod_view["status"]["podIP"] = Value::String(ip.clone());
        }
        let env_list = env::container_env(&self.store, &pod_view, &c.spec, &[]).unwrap_or_default();
        let files = current_files(&self.store, &pod_view, c, inst, &info);
        let image = c.image.clone();
        let pid1 = inst.argv.join(" ");
        let before = files.clone();
        let setup = ExecSetup {
            behavior: &behavior,
            fallback: self.catalog.exec_fallback(),
            info: &info,
            store: &self.store,
            namespace,
            pod_name: pod,
            container_name: &cname,
            image: &image,
            env: env_list,
            files,
            hostname,
            now,
            pid1,
        };
        let (out, after) = exec_in(setup, command, stdin);
        // Keep what the command wrote for later commands in this run.
        if let Some(inst) = rec.ctrs[ctr_index].current.as_mut() {
            for (path, content) in &after {
                if before.get(path) != Some(content) {
                    inst.overlay.insert(path.clone(), Some(content.clone()));
                }
            }
            for path in before.keys() {
                if !after.contains_key(path) {
                    inst.overlay.insert(path.clone(), None);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_filter_lines() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let lines: Vec<(Timestamp, String)> = (0..5)
            .map(|i| {
                (
                    t0.checked_add(SignedDuration::from_secs(i * 10)).unwrap(),
                    format!("line {i}"),
                )
            })
            .collect();
        let now = t0.checked_add(SignedDuration::from_secs(60)).unwrap();
        let tail = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(apply_options(lines.clone(), now, &tail), "line 3\nline 4\n");
        let since = LogOptions {
            since_seconds: Some(25),
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            apply_options(lines, now, &since),
            "2026-01-01T00:00:40.000000000Z line 4\n"
        );
    }
}
