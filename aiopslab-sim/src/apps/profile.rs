//! Behaviour profiles as data: the types of `metadata/<app>/profiles.yaml` and the registry of
//! every app's profiles.
//!
//! A profile says what one program in one image does: the ports it listens on, the
//! dependencies it connects to and how it finds them, its startup sequence (log lines and the
//! steps that can fail: dialling a database, touching a collection, registering in Consul), the
//! operations it serves (spans, latency, the calls they make) and how each failure shows. The
//! engine ([`super::engine`]) and the request flow ([`super::flow`]) interpret them; nothing in
//! the code names an application.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Why the profiles could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProfileError {
    /// A file is not valid YAML or does not fit the schema.
    #[error("profiles of {app}: {message}")]
    Parse {
        /// The app (or `common`).
        app: String,
        /// What the parser said.
        message: String,
    },
    /// A reference does not resolve (an image program to an unknown profile, a step to an
    /// unknown dependency, ...).
    #[error("profiles of {app}: {message}")]
    Invalid {
        /// The app (or `common`).
        app: String,
        /// What is wrong and where.
        message: String,
    },
}

/// How a connection or a call failed; profiles map each to messages and reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    /// The name does not resolve.
    Nxdomain,
    /// Connection refused (no endpoints, or nothing listens on the port).
    Refused,
    /// The connection times out (no route, a port the Service does not have, packet loss).
    Timeout,
    /// The server requires TLS and the client speaks plain TCP.
    Tls,
    /// The connection was closed in the middle (the server died).
    Closed,
    /// Authentication failed (unknown user, wrong password).
    Auth,
    /// The client did not authenticate and the server requires it.
    Unauthenticated,
    /// The user lacks the privilege for the operation.
    Unauthorized,
    /// Service discovery has no instance of the callee.
    NoInstances,
    /// The callee answered with an error.
    Remote,
    /// The call took longer than the caller's deadline.
    Deadline,
}

impl FailKind {
    /// The name used in profiles (`refused`, `no_instances`).
    pub fn name(self) -> &'static str {
        match self {
            FailKind::Nxdomain => "nxdomain",
            FailKind::Refused => "refused",
            FailKind::Timeout => "timeout",
            FailKind::Tls => "tls",
            FailKind::Closed => "closed",
            FailKind::Auth => "auth",
            FailKind::Unauthenticated => "unauthenticated",
            FailKind::Unauthorized => "unauthorized",
            FailKind::NoInstances => "no_instances",
            FailKind::Remote => "remote",
            FailKind::Deadline => "deadline",
        }
    }

    /// Whether the server was never reached (`unreachable` in `on_fail` and `retry.on`).
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            FailKind::Nxdomain
                | FailKind::Refused
                | FailKind::Timeout
                | FailKind::Tls
                | FailKind::Closed
                | FailKind::NoInstances
        )
    }

    /// Every kind, for validation.
    pub const ALL: [FailKind; 11] = [
        FailKind::Nxdomain,
        FailKind::Refused,
        FailKind::Timeout,
        FailKind::Tls,
        FailKind::Closed,
        FailKind::Auth,
        FailKind::Unauthenticated,
        FailKind::Unauthorized,
        FailKind::NoInstances,
        FailKind::Remote,
        FailKind::Deadline,
    ];
}

/// One profiles file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// The app key (`hotel-reservation`) or `common`.
    pub app: String,
    /// Client libraries: how each failure reads to the program that uses them.
    #[serde(default)]
    pub clients: BTreeMap<String, Client>,
    /// Named lists of lines (panic trailers) that failure reactions append.
    #[serde(default)]
    pub templates: BTreeMap<String, Vec<String>>,
    /// Images and which profile each of their programs runs.
    #[serde(default)]
    pub images: Vec<ImageDef>,
    /// Profiles by key.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// A client library.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Failure kind → what the caller sees.
    #[serde(default)]
    pub errors: BTreeMap<FailKind, ErrorText>,
    /// How long a connection that gets no answer takes to fail, in milliseconds (10 s when
    /// absent; gRPC fails fast on a backend it already knows is down).
    #[serde(default)]
    pub timeout_ms: Option<f64>,
}

/// What a failure reads like to the caller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorText {
    /// A status code the error carries (gRPC `Unavailable`), if any.
    #[serde(default)]
    pub code: Option<String>,
    /// The error message (a template: `${ip}`, `${port}`, `${host}`, `${error}`, ...).
    pub message: String,
    /// Lines the client library logs in the caller (`${message}` is the message).
    #[serde(default)]
    pub log: Vec<String>,
}

/// The base of an image, deciding its shell and utilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Os {
    /// Debian: dash, bash, coreutils.
    Debian,
    /// Ubuntu: dash, bash, coreutils.
    Ubuntu,
    /// Alpine: busybox ash and applets.
    Alpine,
    /// No shell, no utilities.
    Distroless,
}

/// An image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDef {
    /// The reference as manifests write it (`mongo:4.4.6`); without a tag: every tag.
    pub image: String,
    /// Compressed size in bytes (pull time, `Pulled` event).
    pub size_bytes: u64,
    /// The base.
    pub os: Os,
    /// Executables besides the shell and utilities.
    #[serde(default)]
    pub binaries: Vec<String>,
    /// The image's `ENTRYPOINT`.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// The image's `CMD`.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// The image's working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Files baked into the image.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// An entrypoint script that hands over to the real program (`docker-entrypoint.sh`).
    #[serde(default)]
    pub wrapper: Option<String>,
    /// The program the wrapper runs when its first argument is not a program (`mongod`).
    #[serde(default)]
    pub default_program: Option<String>,
    /// Program (argv\[0\] base name) → profile key.
    pub programs: BTreeMap<String, String>,
}

/// Which engine interprets a profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// A program with a startup sequence and operations.
    #[default]
    Service,
    /// `mongod`: data directory, users and roles, init scripts, TLS, the `mongo` shell.
    Mongod,
}

/// A port number, or a template that yields one (`${config.GeoPort}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec(pub String);

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Int(i) => PortSpec(i.to_string()),
            Raw::Str(s) => PortSpec(s),
        })
    }
}

/// A listening port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// The port.
    pub port: PortSpec,
    /// `TCP` (default) or `UDP`.
    #[serde(default)]
    pub protocol: Option<String>,
}

/// How the tracer samples and tags spans.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracer {
    /// `go` (jaeger-client-go with otgrpc tags), `cpp` (no status tags), `nginx`
    /// (`error` and `http.status_code` on the request spans).
    pub style: String,
    /// Environment variable with the sampling ratio.
    #[serde(default)]
    pub sample_env: Option<String>,
    /// Ratio when the variable is unset or unparsable.
    #[serde(default)]
    pub sample_default: Option<f64>,
    /// Upper bound of the ratio.
    #[serde(default)]
    pub sample_max: Option<f64>,
    /// A JSON file with the sampler configuration.
    #[serde(default)]
    pub sample_file: Option<String>,
    /// Where the ratio is in that file (JSON pointer).
    #[serde(default)]
    pub sample_pointer: Option<String>,
}

/// The program's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute, or relative to the working directory. JSON or YAML.
    pub file: String,
}

/// Resource use.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageDef {
    /// Idle CPU in millicores.
    #[serde(default)]
    pub cpu_m: f64,
    /// Resident memory in MiB.
    #[serde(default)]
    pub memory_mb: f64,
}

/// A dependency of a program.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// `grpc`, `thrift`, `http`, `mongodb`, `memcached`, `redis`, `consul`.
    pub protocol: String,
    /// The client library (key into `clients`).
    pub client: String,
    /// `host:port` (a template over the config and environment).
    #[serde(default)]
    pub address: Option<String>,
    /// Found through service discovery under this name instead.
    #[serde(default)]
    pub consul: Option<String>,
    /// The dependency that is the discovery agent (for `consul`).
    #[serde(default)]
    pub registry: Option<String>,
    /// MongoDB user.
    #[serde(default)]
    pub user: Option<String>,
    /// MongoDB password.
    #[serde(default)]
    pub password: Option<String>,
    /// MongoDB authentication database (default `admin`).
    #[serde(default)]
    pub auth_db: Option<String>,
    /// The database used.
    #[serde(default)]
    pub db: Option<String>,
    /// The client pool's name in logs.
    #[serde(default)]
    pub pool: Option<String>,
    /// Whether the client speaks TLS.
    #[serde(default)]
    pub tls: bool,
}

/// Retrying a failing step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Seconds between attempts.
    pub every: f64,
    /// Give up after this many seconds (then `on_fail` applies); forever when absent.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Which failures are retried: `unreachable` (default), `any`, or kind names.
    #[serde(default)]
    pub on: Option<String>,
}

/// A database step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbStep {
    /// The dependency.
    pub dep: String,
    /// `find`, `insert`, `update`, `remove`, `createIndex`, `seed` (find, and insert when the
    /// collection is empty).
    pub action: String,
    /// The collection.
    pub collection: String,
    /// Documents inserted by `seed`.
    #[serde(default)]
    pub documents: Option<u64>,
    /// The index created by `createIndex`.
    #[serde(default)]
    pub index: Option<String>,
    /// The command as the server echoes it in errors.
    #[serde(default)]
    pub command: Option<String>,
    /// The client span of this operation (in request handling).
    #[serde(default)]
    pub span: Option<String>,
    /// Latency `[mean, sd]` in microseconds.
    #[serde(default)]
    pub latency_us: Option<[f64; 2]>,
}

/// Registration in a service registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterStep {
    /// The registry dependency.
    pub dep: String,
    /// The service name.
    pub name: String,
    /// The port registered.
    pub port: PortSpec,
}

/// What a program does when a step fails.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailAction {
    /// Lines it logs.
    #[serde(default)]
    pub log: Vec<String>,
    /// A named template appended after the lines (a panic trailer).
    #[serde(default)]
    pub template: Option<String>,
    /// Extra variables for the lines and the template.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Exit with this code (startup).
    #[serde(default)]
    pub exit: Option<i32>,
    /// The process crashes with this exit code (request handling).
    #[serde(default)]
    pub crash: Option<i32>,
    /// The error returned to the caller instead of the client's message (a template).
    #[serde(default)]
    pub error: Option<String>,
    /// Carry on as if the step succeeded.
    #[serde(default)]
    pub ignore: bool,
}

/// One step of a startup sequence. Exactly one action (or none: only lines).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Seconds before the step.
    #[serde(default)]
    pub after: f64,
    /// Only when this flag holds (`auth`, `noauth`, `fresh`, `tls`, ...).
    #[serde(default)]
    pub when: Option<String>,
    /// A line to log.
    #[serde(default)]
    pub log: Option<String>,
    /// Several lines to log.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Connect to a dependency (and authenticate, for databases).
    #[serde(default)]
    pub dial: Option<String>,
    /// A database operation.
    #[serde(default)]
    pub db: Option<DbStep>,
    /// Start listening on a port (`0`: every port of `listen`).
    #[serde(default)]
    pub listen: Option<PortSpec>,
    /// Register in a service registry.
    #[serde(default)]
    pub register: Option<RegisterStep>,
    /// Check the TLS configuration (mongod).
    #[serde(default)]
    pub check_tls: bool,
    /// Exit with this code.
    #[serde(default)]
    pub exit: Option<i32>,
    /// Retry a failing action.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Lines logged after each failed attempt while retrying.
    #[serde(default)]
    pub each_failure: Vec<String>,
    /// Reactions by failure: a kind name, `unreachable` or `any`.
    #[serde(default)]
    pub on_fail: BTreeMap<String, FailAction>,
}

/// A remote call made while serving a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStep {
    /// The dependency.
    pub dep: String,
    /// The callee's operation.
    pub op: String,
    /// The client span's name (default: the operation).
    #[serde(default)]
    pub span: Option<String>,
}

/// A cache or key-value operation (memcached, redis).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheStep {
    /// The dependency.
    pub dep: String,
    /// The command (`get_multi`, `set`, `zadd`, ...).
    pub action: String,
    /// The client span, if the program traces it.
    #[serde(default)]
    pub span: Option<String>,
    /// Probability that a read misses.
    #[serde(default)]
    pub miss_ratio: Option<f64>,
    /// Latency `[mean, sd]` in microseconds.
    #[serde(default)]
    pub latency_us: Option<[f64; 2]>,
}

/// One step of an operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpStep {
    /// A remote call.
    #[serde(default)]
    pub call: Option<CallStep>,
    /// A database operation.
    #[serde(default)]
    pub db: Option<DbStep>,
    /// A cache operation.
    #[serde(default)]
    pub cache: Option<CacheStep>,
    /// Steps run concurrently.
    #[serde(default)]
    pub parallel: Vec<OpStep>,
    /// Steps run when a cache read misses.
    #[serde(default)]
    pub on_miss: Vec<OpStep>,
    /// Reactions by failure.
    #[serde(default)]
    pub on_fail: BTreeMap<String, FailAction>,
}

/// An operation a program serves.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// The server span (default: the operation's name).
    #[serde(default)]
    pub span: Option<String>,
    /// Nested server spans, outermost first (instead of `span`).
    #[serde(default)]
    pub spans: Vec<String>,
    /// The program's own time `[mean, sd]` in microseconds.
    #[serde(default)]
    pub latency_us: Option<[f64; 2]>,
    /// CPU per request in milliseconds.
    #[serde(default)]
    pub cpu_ms: f64,
    /// What it does.
    #[serde(default)]
    pub steps: Vec<OpStep>,
}

/// A precondition on request parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// Parameters that must all be present.
    pub params: Vec<String>,
    /// Status when one is missing.
    pub status: u16,
    /// Body when one is missing.
    pub body: String,
    /// Lines logged when one is missing.
    #[serde(default)]
    pub log: Vec<String>,
}

/// An HTTP response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body (a template: `${error}`).
    pub body: String,
    /// Lines logged.
    #[serde(default)]
    pub log: Vec<String>,
}

/// An HTTP route of a front end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The method; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// The path (exact).
    pub path: String,
    /// The operation that serves it.
    pub operation: String,
    /// Parameter checks, in order.
    #[serde(default)]
    pub require: Vec<Require>,
    /// The answer on success.
    pub ok: Response,
    /// The answer when the operation fails.
    #[serde(default)]
    pub error: Option<Response>,
}

/// Data of the `mongod` engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MongodDef {
    /// Server version.
    pub version: String,
    /// The shell's version string (`v4.4.6`).
    pub shell_version: String,
    /// Directory of init scripts run on an empty data directory.
    pub init_dir: String,
    /// Line printed before each init script (`${script}`).
    pub init_running: String,
    /// Lines of the temporary mongod before the init scripts.
    #[serde(default)]
    pub init_before: Vec<String>,
    /// Lines after the init scripts.
    #[serde(default)]
    pub init_after: Vec<String>,
    /// Lines when a TLS file is missing (`${file}`); mongod then exits 1.
    #[serde(default)]
    pub tls_missing_file: Vec<String>,
    /// The shell's banner (`${shell_version}`, `${uri}`, `${session}`, `${version}`).
    #[serde(default)]
    pub shell_banner: Vec<String>,
}

/// A profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The engine.
    #[serde(default)]
    pub engine: Engine,
    /// Other names of this profile (the fact files' keys).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The service name in Jaeger.
    #[serde(default)]
    pub jaeger_service: Option<String>,
    /// Tracing.
    #[serde(default)]
    pub tracer: Option<Tracer>,
    /// The configuration file.
    #[serde(default)]
    pub config: Option<ConfigFile>,
    /// Ports it listens on (once a `listen` step runs, or from the start without one).
    #[serde(default)]
    pub listen: Vec<Listen>,
    /// Resource use.
    #[serde(default)]
    pub usage: UsageDef,
    /// Seconds to exit after SIGTERM; dies at once when absent.
    #[serde(default)]
    pub stop: Option<f64>,
    /// Dependencies by local name.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
    /// The startup sequence.
    #[serde(default)]
    pub startup: Vec<Step>,
    /// Operations by name.
    #[serde(default)]
    pub operations: BTreeMap<String, Operation>,
    /// HTTP routes (front ends).
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Data of the `mongod` engine.
    #[serde(default)]
    pub mongod: Option<MongodDef>,
}

/// Every app's profiles, resolved.
#[derive(Debug)]
pub struct Registry {
    /// Client libraries by name.
    pub clients: BTreeMap<String, Client>,
    /// Templates by name.
    pub templates: BTreeMap<String, Vec<String>>,
    /// Images, in registration order (shared ones first).
    pub images: Vec<ImageDef>,
    /// Profiles by key.
    pub profiles: BTreeMap<String, Arc<Profile>>,
    /// Alias → profile key.
    pub aliases: BTreeMap<String, String>,
}

static REGISTRY: OnceLock<Result<Registry, ProfileError>> = OnceLock::new();

/// The registry of the profiles embedded in `aiopslab-metadata`, parsed once.
pub fn registry() -> Result<&'static Registry, &'static ProfileError> {
    REGISTRY
        .get_or_init(|| {
            let mut texts = vec![("common", aiopslab_metadata::common_profiles())];
            for app in aiopslab_metadata::apps() {
                texts.push((app.key, app.profiles));
            }
            Registry::from_texts(&texts)
        })
        .as_ref()
}

impl Registry {
    /// Parses and checks profile files given as `(app, text)`.
    pub fn from_texts(texts: &[(&str, &str)]) -> Result<Registry, ProfileError> {
        let mut reg = Registry {
            clients: BTreeMap::new(),
            templates: BTreeMap::new(),
            images: Vec::new(),
            profiles: BTreeMap::new(),
            aliases: BTreeMap::new(),
        };
        let mut files = Vec::new();
        for (app, text) in texts {
            let file: ProfileFile =
                serde_saphyr::from_str(text).map_err(|e| ProfileError::Parse {
                    app: app.to_string(),
                    message: e.to_string(),
                })?;
            files.push((app.to_string(), file));
        }
        for (app, file) in files {
            let invalid = |message: String| ProfileError::Invalid {
                app: app.clone(),
                message,
            };
            for (name, client) in file.clients {
                if reg.clients.insert(name.clone(), client).is_some() {
                    return Err(invalid(format!("client {name:?} is defined twice")));
                }
            }
            for (name, lines) in file.templates {
                if reg.templates.insert(name.clone(), lines).is_some() {
                    return Err(invalid(format!("template {name:?} is defined twice")));
                }
            }
            for (key, profile) in file.profiles {
                for alias in &profile.aliases {
                    reg.aliases.insert(alias.clone(), key.clone());
                }
                if reg
                    .profiles
                    .insert(key.clone(), Arc::new(profile))
                    .is_some()
                {
                    return Err(invalid(format!("profile {key:?} is defined twice")));
                }
            }
            reg.images.extend(file.images);
        }
        reg.check()?;
        Ok(reg)
    }

    fn check(&self) -> Result<(), ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            app: "profiles".into(),
            message,
        };
        for image in &self.images {
            for (program, key) in &image.programs {
                if !self.profiles.contains_key(key) {
                    return Err(invalid(format!(
                        "image {}: program {program} runs profile {key:?}, which is not defined",
                        image.image
                    )));
                }
            }
        }
        let on_fail_keys = |map: &BTreeMap<String, FailAction>, at: &str| {
            for (k, action) in map {
                let known =
                    k == "any" || k == "unreachable" || FailKind::ALL.iter().any(|f| f.name() == k);
                if !known {
                    return Err(invalid(format!(
                        "{at}: on_fail key {k:?} is not a failure kind, \"unreachable\" or \"any\""
                    )));
                }
                if let Some(t) = &action.template
                    && !self.templates.contains_key(t)
                {
                    return Err(invalid(format!("{at}: template {t:?} is not defined")));
                }
            }
            Ok(())
        };
        for (key, p) in &self.profiles {
            for (name, dep) in &p.dependencies {
                if !self.clients.contains_key(&dep.client) {
                    return Err(invalid(format!(
                        "profile {key}: dependency {name} uses client {:?}, which is not defined",
                        dep.client
                    )));
                }
                if dep.address.is_none() && dep.consul.is_none() {
                    return Err(invalid(format!(
                        "profile {key}: dependency {name} has neither an address nor a consul name"
                    )));
                }
            }
            let dep_known = |d: &str, at: &str| {
                if p.dependencies.contains_key(d) {
                    Ok(())
                } else {
                    Err(invalid(format!(
                        "profile {key}: {at} uses dependency {d:?}, which is not declared"
                    )))
                }
            };
            for (i, step) in p.startup.iter().enumerate() {
                let at = format!("profile {key}: startup step {}", i + 1);
                let actions = [
                    step.dial.is_some(),
                    step.db.is_some(),
                    step.listen.is_some(),
                    step.register.is_some(),
                    step.check_tls,
                    step.exit.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if actions > 1 {
                    return Err(invalid(format!("{at} has more than one action")));
                }
                if let Some(d) = &step.dial {
                    dep_known(d, &at)?;
                }
                if let Some(d) = &step.db {
                    dep_known(&d.dep, &at)?;
                }
                if let Some(r) = &step.register {
                    dep_known(&r.dep, &at)?;
                }
                on_fail_keys(&step.on_fail, &at)?;
            }
            fn walk<'a>(steps: &'a [OpStep], out: &mut Vec<&'a OpStep>) {
                for s in steps {
                    out.push(s);
                    walk(&s.parallel, out);
                    walk(&s.on_miss, out);
                }
            }
            for (op, operation) in &p.operations {
                let mut all = Vec::new();
                walk(&operation.steps, &mut all);
                let at = format!("profile {key}: operation {op}");
                for s in all {
                    if let Some(c) = &s.call {
                        dep_known(&c.dep, &at)?;
                    }
                    if let Some(d) = &s.db {
                        dep_known(&d.dep, &at)?;
                    }
                    if let Some(c) = &s.cache {
                        dep_known(&c.dep, &at)?;
                    }
                    on_fail_keys(&s.on_fail, &at)?;
                }
            }
            for r in &p.routes {
                if !p.operations.contains_key(&r.operation) {
                    return Err(invalid(format!(
                        "profile {key}: route {} serves operation {:?}, which is not defined",
                        r.path, r.operation
                    )));
                }
            }
            if p.engine == Engine::Mongod && p.mongod.is_none() {
                return Err(invalid(format!(
                    "profile {key}: the mongod engine needs a `mongod` section"
                )));
            }
        }
        Ok(())
    }

    /// A profile by key or alias.
    pub fn profile(&self, key: &str) -> Option<&Arc<Profile>> {
        self.profiles
            .get(key)
            .or_else(|| self.aliases.get(key).and_then(|k| self.profiles.get(k)))
    }

    /// The key of a profile given by key or alias.
    pub fn canonical<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        if self.profiles.contains_key(key) {
            Some(key)
        } else {
            self.aliases.get(key).map(String::as_str)
        }
    }
}

/// The reaction to a failure: the specific kind first, then `unreachable`, then `any`.
pub fn reaction(map: &BTreeMap<String, FailAction>, kind: FailKind) -> Option<&FailAction> {
    map.get(kind.name())
        .or_else(|| {
            if kind.is_unreachable() {
                map.get("unreachable")
            } else {
                None
            }
        })
        .or_else(|| map.get("any"))
}

/// Whether a retry policy retries this failure.
pub fn retries(retry: &Retry, kind: FailKind) -> bool {
    match retry.on.as_deref() {
        None | Some("unreachable") => kind.is_unreachable(),
        Some("any") => true,
        Some(list) => list.split(',').any(|k| k.trim() == kind.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profiles_load() {
        let reg = match registry() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert!(reg.profile("hotelreservation/geo").is_some());
        assert!(reg.profile("sn/mongodb").is_some(), "alias of mongo-4.4.6");
        assert_eq!(reg.canonical("mongo-4.4.6-auth"), Some("mongo-4.4.6"));
    }

    #[test]
    fn bad_references_are_reported() {
        let text =
            "app: x\nimages:\n  - {image: a, size_bytes: 1, os: alpine, programs: {a: nope}}\n";
        let err = Registry::from_texts(&[("x", text)]).unwrap_err();
        assert!(err.to_string().contains("profile \"nope\""), "{err}");
        let text = "app: x\nprofiles:\n  p:\n    startup:\n      - dial: db\n";
        let err = Registry::from_texts(&[("x", text)]).unwrap_err();
        assert!(err.to_string().contains("dependency \"db\""), "{err}");
        let text = "app: x\nprofiles:\n  p:\n    bogus: 1\n";
        assert!(Registry::from_texts(&[("x", text)]).is_err());
    }

    #[test]
    fn reactions_fall_back() {
        let mut map = BTreeMap::new();
        map.insert("unreachable".to_string(), FailAction::default());
        assert!(reaction(&map, FailKind::Refused).is_some());
        assert!(reaction(&map, FailKind::Auth).is_none());
        map.insert(
            "any".to_string(),
            FailAction {
                exit: Some(1),
                ..Default::default()
            },
        );
        assert_eq!(reaction(&map, FailKind::Auth).and_then(|a| a.exit), Some(1));
    }
}
