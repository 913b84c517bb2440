//! What containers do: the per-image behaviour seam and the built-in catalogue.
//!
//! The kubelet asks a [`Catalog`] what an image is (does the registry have it, how big is it,
//! does it have a shell) and, each time a container starts, asks the image's
//! [`ContainerBehavior`] for a [`RunPlan`]: the log lines it prints, whether and when it exits
//! (and with which code), how much CPU and memory it uses, when it becomes ready, how it reacts
//! to SIGTERM. `kubectl exec` goes to [`ContainerBehavior::exec`] first; commands the behaviour
//! does not handle run in the kubelet's small POSIX shell with the image's utilities.
//!
//! Applications register their own behaviours (keyed by image; they can look at the command,
//! arguments and environment in the [`StartContext`]):
//!
//! ```
//! use aiopslab_sim::controllers::behavior::{Catalog, ContainerBehavior, RunPlan, StartContext, ImageInfo};
//! use std::sync::Arc;
//!
//! struct Geo;
//! impl ContainerBehavior for Geo {
//!     fn info(&self) -> ImageInfo { ImageInfo::distroless(40_000_000) }
//!     fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
//!         RunPlan::forever().log(0.0, format!("geo starting on {}", ctx.pod_ip))
//!     }
//! }
//! let mut catalog = Catalog::builtin();
//! catalog.register("yinfangchen/hotelreservation", Arc::new(Geo));
//! assert!(catalog.resolve("yinfangchen/hotelreservation:latest").is_found());
//! assert!(!catalog.resolve("yinfangchen/other:latest").is_found());
//! ```

use crate::runtime::ExecOutput;
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::util::secs_f;

/// The flavour of `/bin/sh` in an image; it decides how "command not found" is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    /// Debian/Ubuntu `dash`: `sh: 1: foo: not found`.
    Dash,
    /// BusyBox / Alpine `ash`: `sh: foo: not found`.
    Ash,
    /// `bash`: `bash: line 1: foo: command not found`.
    Bash,
}

/// What the registry and the container runtime know about an image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    /// Compressed size, shown in the `Pulled` event and used for the pull time.
    pub size_bytes: u64,
    /// The image's `/bin/sh`, if it has one.
    pub shell: Option<ShellKind>,
    /// Whether the usual utilities (`ls`, `cat`, `env`, `grep`, ...) exist in the image.
    pub utilities: bool,
    /// Extra executables in the image, beyond the shell and utilities (the entrypoint binary,
    /// `nginx`, `mongo`, ...). A container whose command names something missing fails to start
    /// with the runtime's `executable file not found in $PATH` error.
    pub binaries: Vec<String>,
    /// The entrypoint used when the container spec has no `command` (argv\[0\] first).
    pub entrypoint: Vec<String>,
    /// The default arguments when the container spec has neither `command` nor `args`.
    pub default_args: Vec<String>,
    /// Files baked into the image (path → content), visible to `cat` and `ls` in `exec`.
    pub files: BTreeMap<String, String>,
}

impl ImageInfo {
    /// A Debian-based image (dash + bash and coreutils) of `size_bytes`.
    pub fn debian(size_bytes: u64) -> Self {
        ImageInfo {
            size_bytes,
            shell: Some(ShellKind::Dash),
            utilities: true,
            binaries: vec!["bash".into()],
            entrypoint: vec![],
            default_args: vec![],
            files: os_release("debian"),
        }
    }

    /// A BusyBox- or Alpine-based image (ash and busybox applets).
    pub fn busybox(size_bytes: u64) -> Self {
        ImageInfo {
            size_bytes,
            shell: Some(ShellKind::Ash),
            utilities: true,
            binaries: vec![],
            entrypoint: vec![],
            default_args: vec!["sh".into()],
            files: os_release("alpine"),
        }
    }

    /// A distroless image: no shell, no utilities, only its own binaries.
    pub fn distroless(size_bytes: u64) -> Self {
        ImageInfo {
            size_bytes,
            shell: None,
            utilities: false,
            binaries: vec![],
            entrypoint: vec![],
            default_args: vec![],
            files: BTreeMap::new(),
        }
    }

    /// Adds executables.
    pub fn with_binaries(mut self, names: &[&str]) -> Self {
        self.binaries.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Sets the entrypoint (its first element is also added to the binaries).
    pub fn with_entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = argv.iter().map(|s| s.to_string()).collect();
        if let Some(first) = argv.first() {
            self.binaries.push(first.to_string());
        }
        self
    }

    /// Sets the default arguments (the image's `CMD`).
    pub fn with_default_args(mut self, argv: &[&str]) -> Self {
        self.default_args = argv.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds a file to the image.
    pub fn with_file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.to_string(), content.to_string());
        self
    }

    /// Whether `program` (a name or path) can be executed in this image.
    pub fn has_executable(&self, program: &str) -> bool {
        let base = program.rsplit('/').next().unwrap_or(program);
        if self.binaries.iter().any(|b| b == program || b == base) {
            return true;
        }
        if self.shell.is_some() && matches!(base, "sh") {
            return true;
        }
        if self.shell == Some(ShellKind::Bash) && base == "bash" {
            return true;
        }
        self.utilities && super::kubelet::shell::has_utility(base, self.shell)
    }
}

fn os_release(flavour: &str) -> BTreeMap<String, String> {
    let text = match flavour {
        "alpine" => {
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.21.3\nPRETTY_NAME=\"Alpine Linux v3.21\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
        }
        _ => {
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n"
        }
    };
    BTreeMap::from([("/etc/os-release".to_string(), text.to_string())])
}

/// Everything a behaviour may look at when its container starts.
pub struct StartContext<'a> {
    /// The cluster's objects (to read ConfigMaps, Secrets, Services, ...).
    pub store: &'a Store,
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod_name: &'a str,
    /// The whole pod object.
    pub pod: &'a Value,
    /// The container's spec.
    pub container: &'a Value,
    /// The container's name.
    pub container_name: &'a str,
    /// The image as written in the spec.
    pub image: &'a str,
    /// The effective argv: command (or the image entrypoint) followed by args.
    pub argv: Vec<String>,
    /// The container's environment, resolved (`env`, `envFrom`, service links).
    pub env: &'a BTreeMap<String, String>,
    /// The node the pod runs on.
    pub node: &'a str,
    /// The pod's IP.
    pub pod_ip: &'a str,
    /// How many times this container has restarted before this start.
    pub restart_count: i64,
    /// When the container starts.
    pub now: Timestamp,
    /// The container's memory limit in bytes, if any.
    pub memory_limit: Option<u64>,
    /// Files the container sees from its volumes (path → content).
    pub files: &'a BTreeMap<String, String>,
    /// Clock time per simulated second of a plan's offsets (the controllers' time scale):
    /// an offset `o` happens at `now + o * time_scale`.
    pub time_scale: f64,
}

/// Everything a behaviour may look at when `kubectl exec` runs a command in its container.
pub struct ExecContext<'a> {
    /// The cluster's objects.
    pub store: &'a Store,
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod_name: &'a str,
    /// The container's name.
    pub container_name: &'a str,
    /// The image as written in the spec.
    pub image: &'a str,
    /// The environment of the command.
    pub env: &'a BTreeMap<String, String>,
    /// Standard input, if any.
    pub stdin: Option<&'a [u8]>,
    /// The current time.
    pub now: Timestamp,
    /// Files the container sees (volumes and files written by earlier commands).
    pub files: &'a BTreeMap<String, String>,
}

/// One log line, `offset` after the container started. The text may contain `{ts}` (RFC 3339
/// with nanoseconds), `{time}` (`2026-01-01T00:00:00Z`), `{nginx_time}` (`2026/01/01 00:00:00`),
/// `{klog_time}` (`0101 00:00:00.000000`), `{boost_time}` (`2026-Jan-01 00:00:00.000000`),
/// `{ctime}` (`Thu Jan  1 00:00:00 2026`), `{mongo_time}` (`2026-01-01T00:00:00.000+00:00`),
/// `{redis_time}` (`01 Jan 2026 00:00:00.000`) and `{epoch}` (`1767225600.000000`), replaced by
/// the line's time when it is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When the line is printed, relative to the start.
    pub offset: SignedDuration,
    /// The text, without a trailing newline.
    pub text: String,
}

/// Lines printed again and again while the container runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodicLogs {
    /// Offset of the first repetition.
    pub first: SignedDuration,
    /// Time between repetitions.
    pub every: SignedDuration,
    /// The lines printed at each repetition (cycled one per repetition when `cycle` is set).
    pub lines: Vec<String>,
    /// Print one line per repetition, cycling through `lines`, instead of all of them.
    pub cycle: bool,
}

/// How the container ends on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitPlan {
    /// Time from start to exit.
    pub after: SignedDuration,
    /// The exit code (0: `Completed`, otherwise `Error`).
    pub code: i32,
    /// Lines printed just before exiting.
    pub last_words: Vec<String>,
    /// The termination message (the container's `terminated.message`), if any.
    pub message: Option<String>,
}

/// How the container reacts to SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopBehavior {
    /// Handles SIGTERM: exits this long after it, with exit code 0.
    Graceful(SignedDuration),
    /// Dies of SIGTERM at once (no handler): exit code 143.
    Dies,
    /// Ignores SIGTERM (a shell or `sleep` as PID 1): killed at the end of the grace period
    /// with exit code 137.
    IgnoresSigterm,
}

/// CPU and memory a container uses while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU in millicores.
    pub cpu_millicores: f64,
    /// Resident memory in bytes. More than the container's limit means an OOM kill.
    pub memory_bytes: u64,
}

/// What one run of a container does.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// Lines printed at given offsets.
    pub logs: Vec<LogLine>,
    /// Lines printed periodically while running.
    pub periodic: Option<PeriodicLogs>,
    /// `None`: runs until stopped.
    pub exit: Option<ExitPlan>,
    /// Steady CPU and memory use.
    pub usage: Usage,
    /// How long after start the container answers its readiness probe.
    pub ready_after: SignedDuration,
    /// Ports that accept connections (`None`: every probe succeeds). A probe on another port
    /// fails with `connect: connection refused`.
    pub listening: Option<Vec<u16>>,
    /// Whether liveness probes succeed (false: the kubelet kills and restarts the container).
    pub live: bool,
    /// Reaction to SIGTERM.
    pub stop: StopBehavior,
    /// Ask the behaviour again ([`ContainerBehavior::recheck`]) this long after the plan was
    /// made, while the run lasts: for a process that waits on something outside it (a
    /// database that is not up yet) and changes course when that changes.
    pub recheck: Option<SignedDuration>,
}

impl RunPlan {
    /// A container that runs until it is stopped, uses little, and dies of SIGTERM.
    pub fn forever() -> Self {
        RunPlan {
            logs: vec![],
            periodic: None,
            exit: None,
            usage: Usage {
                cpu_millicores: 1.0,
                memory_bytes: 8 * 1024 * 1024,
            },
            ready_after: SignedDuration::ZERO,
            listening: None,
            live: true,
            stop: StopBehavior::Dies,
            recheck: None,
        }
    }

    /// A container that exits with `code` after `after_secs` seconds.
    pub fn exits(after_secs: f64, code: i32) -> Self {
        RunPlan {
            exit: Some(ExitPlan {
                after: secs_f(after_secs),
                code,
                last_words: vec![],
                message: None,
            }),
            ..RunPlan::forever()
        }
    }

    /// Adds a log line `at_secs` after start.
    pub fn log(mut self, at_secs: f64, text: impl Into<String>) -> Self {
        self.logs.push(LogLine {
            offset: secs_f(at_secs),
            text: text.into(),
        });
        self
    }

    /// Adds lines printed at start.
    pub fn logs<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for l in lines {
            self.logs.push(LogLine {
                offset: SignedDuration::ZERO,
                text: l.into(),
            });
        }
        self
    }

    /// Prints `lines` every `every_secs` seconds, one per repetition in turn.
    pub fn every(mut self, every_secs: f64, lines: &[&str]) -> Self {
        self.periodic = Some(PeriodicLogs {
            first: secs_f(every_secs),
            every: secs_f(every_secs.max(0.001)),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            cycle: true,
        });
        self
    }

    /// Sets CPU (millicores) and memory (bytes) use.
    pub fn using(mut self, cpu_millicores: f64, memory_bytes: u64) -> Self {
        self.usage = Usage {
            cpu_millicores,
            memory_bytes,
        };
        self
    }

    /// Becomes ready `secs` after start.
    pub fn ready_after(mut self, secs: f64) -> Self {
        self.ready_after = secs_f(secs);
        self
    }

    /// Only these ports accept connections.
    pub fn listening(mut self, ports: &[u16]) -> Self {
        self.listening = Some(ports.to_vec());
        self
    }

    /// Handles SIGTERM and exits cleanly `secs` after it.
    pub fn graceful(mut self, secs: f64) -> Self {
        self.stop = StopBehavior::Graceful(secs_f(secs));
        self
    }

    /// Ignores SIGTERM.
    pub fn ignores_sigterm(mut self) -> Self {
        self.stop = StopBehavior::IgnoresSigterm;
        self
    }

    /// Asks [`ContainerBehavior::recheck`] again `secs` seconds from now.
    pub fn recheck_in(mut self, secs: f64) -> Self {
        self.recheck = Some(secs_f(secs));
        self
    }
}

/// The behaviour of one image (or family of images).
pub trait ContainerBehavior: Send + Sync {
    /// What the image contains.
    fn info(&self) -> ImageInfo;

    /// What a new run of the container does.
    fn start(&self, ctx: &StartContext<'_>) -> RunPlan;

    /// Runs `argv` in the container, for commands this image implements itself (a database
    /// shell, an application CLI). `None` leaves the command to the kubelet's shell and
    /// utilities (`sh -c`, `echo`, `cat`, `env`, `ls`, ...).
    fn exec(&self, _ctx: &ExecContext<'_>, _argv: &[String]) -> Option<ExecOutput> {
        None
    }

    /// Called while a run lasts, when its plan's [`RunPlan::recheck`] delay has passed:
    /// `elapsed` is the simulated time since the run started (`ctx.now` is the clock time).
    /// Returning a plan replaces the rest of the current one: its log lines after `elapsed`
    /// (offsets still count from the start), periodic lines, exit, usage, listening ports and
    /// next recheck; what was printed before stays. `None` keeps the current plan and asks
    /// again after the same delay.
    fn recheck(
        &self,
        _ctx: &StartContext<'_>,
        _elapsed: SignedDuration,
        _current: &RunPlan,
    ) -> Option<RunPlan> {
        None
    }
}

/// Commands that behave the same in every image that has them (`curl`, `wget`, `nslookup`
/// answered by a network model, for instance). Consulted when the image's own behaviour does
/// not handle a command and the image has the program.
pub trait ExecFallback: Send + Sync {
    /// Runs `argv`, or `None` to leave it to the shell and its utilities.
    fn exec(&self, ctx: &ExecContext<'_>, argv: &[String]) -> Option<ExecOutput>;
}

/// A normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io`, `registry.k8s.io`).
    pub registry: String,
    /// Repository path (`library/nginx`, `coredns/coredns`).
    pub repository: String,
    /// Tag (`latest` when none is given and there is no digest).
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `nginx`, `nginx:1.25`, `registry.k8s.io/pause:3.10`, `repo@sha256:...` the way
    /// containerd normalizes them.
    ///
    /// ```
    /// use aiopslab_sim::controllers::behavior::ImageRef;
    /// let r = ImageRef::parse("nginx");
    /// assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
    /// assert_eq!(ImageRef::parse("registry.k8s.io/pause:3.10").repository, "pause");
    /// ```
    pub fn parse(image: &str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t.to_string())),
            _ => (rest, None),
        };
        let mut parts: Vec<&str> = path.split('/').collect();
        let registry = if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            parts.remove(0).to_string()
        } else {
            "docker.io".to_string()
        };
        let mut repository = parts.join("/");
        if registry == "docker.io" && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The answer of the registry for an image.
#[derive(Clone)]
pub enum Resolution {
    /// The image exists.
    Found(Arc<dyn ContainerBehavior>),
    /// The repository exists but not this tag (`... not found`).
    UnknownTag,
    /// No such repository (`pull access denied, repository does not exist ...`).
    UnknownRepository,
}

impl Resolution {
    /// Whether the image exists.
    pub fn is_found(&self) -> bool {
        matches!(self, Resolution::Found(_))
    }
}

struct Entry {
    name: String,
    tag: Option<String>,
    behavior: Arc<dyn ContainerBehavior>,
}

/// The "registry": which images exist and what they do. Later registrations win.
pub struct Catalog {
    entries: Vec<Entry>,
    fallback: Option<Arc<dyn ExecFallback>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .entries
            .iter()
            .map(|e| match &e.tag {
                Some(t) => format!("{}:{t}", e.name),
                None => e.name.clone(),
            })
            .collect();
        f.debug_struct("Catalog").field("images", &names).finish()
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::builtin()
    }
}

impl Catalog {
    /// A registry with no images.
    pub fn empty() -> Self {
        Catalog {
            entries: vec![],
            fallback: None,
        }
    }

    /// Sets the commands every image shares (see [`ExecFallback`]).
    pub fn set_exec_fallback(&mut self, fallback: Arc<dyn ExecFallback>) {
        self.fallback = Some(fallback);
    }

    /// The shared commands, if set.
    pub fn exec_fallback(&self) -> Option<Arc<dyn ExecFallback>> {
        self.fallback.clone()
    }

    /// The built-in images: busybox, alpine, nginx, the kind system images and the test images
    /// `aiopslab/crash` (exits 1 after a second) and `aiopslab/oom` / `polinux/stress`
    /// (allocate memory until the limit kills them).
    pub fn builtin() -> Self {
        let mut c = Catalog::empty();
        super::images::register_builtins(&mut c);
        c
    }

    /// Registers a behaviour for `image`: with a tag (`nginx:1.25`) only that tag, without
    /// (`nginx`) every tag.
    pub fn register(&mut self, image: &str, behavior: Arc<dyn ContainerBehavior>) {
        let has_tag = image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':') || last.contains('@'));
        let r = ImageRef::parse(image);
        self.entries.push(Entry {
            name: r.name(),
            tag: if has_tag { r.tag.or(r.digest) } else { None },
            behavior,
        });
    }

    /// What the registry says about `image`.
    pub fn resolve(&self, image: &str) -> Resolution {
        let r = ImageRef::parse(image);
        let name = r.name();
        let mut repo_known = false;
        for e in self.entries.iter().rev() {
            if e.name != name {
                continue;
            }
            repo_known = true;
            match &e.tag {
                None => return Resolution::Found(e.behavior.clone()),
                Some(t) if Some(t) == r.tag.as_ref() || Some(t) == r.digest.as_ref() => {
                    return Resolution::Found(e.behavior.clone());
                }
                Some(_) => {}
            }
        }
        if repo_known {
            Resolution::UnknownTag
        } else {
            Resolution::UnknownRepository
        }
    }
}
