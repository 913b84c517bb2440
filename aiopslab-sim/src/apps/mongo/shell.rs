//! The `mongo` (4.4 legacy) and `mongosh` shells as `kubectl exec` runs them.
//!
//! Options: `--eval`, `-u/--username`, `-p/--password`, `--authenticationDatabase`, `--host`,
//! `--port`, `--quiet`, `--tls`/`--ssl`, a database or `host:port/db` or `mongodb://` address,
//! script files, and statements on standard input (with the `use`, `show` and `exit` helpers).
//! The methods AIOpsLab's scripts and an agent need work on the data directory of the mongod
//! reached: `db.createUser`, `db.dropUser`, `db.grantRolesToUser`, `db.revokeRolesFromUser`,
//! `db.updateUser`, `db.changeUserPassword`, `db.getUsers`, `db.getUser`, `db.auth`,
//! `db.getSiblingDB`, `db.runCommand` / `db.adminCommand` (ping, usersInfo, the user commands,
//! connectionStatus, listDatabases, buildInfo, hello), and basic collection methods. Access
//! control is MongoDB's: without authentication only the localhost exception, and each command
//! needs the privileges of the user's roles. Output and errors read as each shell prints them.

use super::data::{Action, MongoData, MongoUser, RoleRef, builtin_role};
use super::js::{Expr, JsVal, num, parse, to_json};
use crate::apps::state::{TlsMode, World};
use crate::apps::template::{Vars, render};
use crate::runtime::ExecOutput;
use std::collections::BTreeMap;

/// The mongod a shell talks to.
#[derive(Debug, Clone)]
pub struct ShellTarget {
    /// The data directory's key in [`World`].
    pub data_key: String,
    /// Whether access control is on.
    pub auth: bool,
    /// The server's TLS mode.
    pub tls: TlsMode,
    /// Whether the connection comes from the same host (the localhost exception).
    pub localhost: bool,
}

/// Everything the shell needs besides its arguments.
pub struct ShellSetup<'a> {
    /// The apps' state.
    pub world: &'a World,
    /// Server version (`4.4.6`).
    pub version: &'a str,
    /// Shell version string (`v4.4.6`).
    pub shell_version: &'a str,
    /// Banner lines.
    pub banner: &'a [String],
    /// The container's files (script arguments).
    pub files: &'a BTreeMap<String, String>,
    /// Standard input.
    pub stdin: Option<&'a str>,
    /// Resolves `host:port` to a mongod, or the reason the connection fails.
    pub resolve: &'a dyn Fn(&str, u16) -> Result<ShellTarget, String>,
    /// A seed for session ids.
    pub seed: u64,
}

#[derive(Debug, Default)]
struct Args {
    eval: Vec<String>,
    user: Option<String>,
    password: Option<String>,
    auth_db: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    quiet: bool,
    tls: bool,
    files: Vec<String>,
    db_given: Option<String>,
    version: bool,
    help: bool,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 1;
    let mut positional = Vec::new();
    let value = |i: &mut usize, name: &str| -> Result<String, String> {
        *i += 1;
        argv.get(*i).cloned().ok_or_else(|| {
            format!(
                "Error parsing command line: the required argument for option '{name}' is missing"
            )
        })
    };
    while i < argv.len() {
        let arg = argv[i].clone();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let take = |i: &mut usize| match &inline {
            Some(v) => Ok(v.clone()),
            None => value(i, &flag),
        };
        match flag.as_str() {
            "--eval" => a.eval.push(take(&mut i)?),
            "-u" | "--username" => a.user = Some(take(&mut i)?),
            "-p" | "--password" => a.password = Some(take(&mut i)?),
            "--authenticationDatabase" => a.auth_db = Some(take(&mut i)?),
            "--host" | "-h" => a.host = Some(take(&mut i)?),
            "--port" => {
                let p = take(&mut i)?;
                a.port = Some(
                    p.parse()
                        .map_err(|_| format!("Error parsing command line: bad port {p}"))?,
                )
            }
            "--quiet" => a.quiet = true,
            "--tls" | "--ssl" => a.tls = true,
            "--tlsCAFile"
            | "--sslCAFile"
            | "--tlsCertificateKeyFile"
            | "--sslPEMKeyFile"
            | "--authenticationMechanism"
            | "--tlsCertificateKeyFilePassword"
            | "--file"
            | "-f" => {
                take(&mut i)?;
            }
            "--norc"
            | "--nodb"
            | "--shell"
            | "--verbose"
            | "-v"
            | "--tlsAllowInvalidCertificates"
            | "--tlsAllowInvalidHostnames"
            | "--sslAllowInvalidCertificates"
            | "--json" => {}
            "--version" => a.version = true,
            "--help" => a.help = true,
            f if f.starts_with("-p") && f.len() > 2 && !f.starts_with("--") => {
                a.password = Some(f[2..].to_string())
            }
            f if f.starts_with("-u") && f.len() > 2 && !f.starts_with("--") => {
                a.user = Some(f[2..].to_string())
            }
            f if f.starts_with('-') => {
                return Err(format!(
                    "Error parsing command line: unrecognised option '{f}'"
                ));
            }
            _ => positional.push(arg),
        }
        i += 1;
    }
    for (n, p) in positional.into_iter().enumerate() {
        if p.ends_with(".js") || n > 0 {
            a.files.push(p);
        } else if let Some(rest) = p.strip_prefix("mongodb://") {
            let (creds, rest) = match rest.rsplit_once('@') {
                Some((c, r)) => (Some(c.to_string()), r.to_string()),
                None => (None, rest.to_string()),
            };
            if let Some(c) = creds {
                let (u, pw) = c.split_once(':').unwrap_or((&c, ""));
                a.user.get_or_insert_with(|| u.to_string());
                if !pw.is_empty() {
                    a.password.get_or_insert_with(|| pw.to_string());
                }
            }
            let (hostport, path) = rest.split_once('/').unwrap_or((&rest, ""));
            let (db, query) = path.split_once('?').unwrap_or((path, ""));
            set_hostport(&mut a, hostport);
            if !db.is_empty() {
                a.db_given = Some(db.to_string());
            }
            for kv in query.split('&') {
                if let Some(v) = kv.strip_prefix("authSource=") {
                    a.auth_db.get_or_insert_with(|| v.to_string());
                }
                if kv == "tls=true" || kv == "ssl=true" {
                    a.tls = true;
                }
            }
        } else if let Some((hostport, db)) = p.split_once('/') {
            set_hostport(&mut a, hostport);
            a.db_given = Some(db.to_string());
        } else if p.contains(':') || p.contains('.') && p.parse::<std::net::Ipv4Addr>().is_ok() {
            set_hostport(&mut a, &p);
        } else {
            a.db_given = Some(p);
        }
    }
    Ok(a)
}

fn set_hostport(a: &mut Args, hostport: &str) {
    match hostport.rsplit_once(':') {
        Some((h, p)) => {
            a.host.get_or_insert_with(|| h.to_string());
            if let Ok(p) = p.parse() {
                a.port.get_or_insert(p);
            }
        }
        None if !hostport.is_empty() => {
            a.host.get_or_insert_with(|| hostport.to_string());
        }
        None => {}
    }
}

/// A server error: code, code name, message.
#[derive(Debug, Clone)]
struct CmdError {
    code: i32,
    code_name: &'static str,
    message: String,
}

fn unauthorized(db: &str, echo: &str) -> CmdError {
    CmdError {
        code: 13,
        code_name: "Unauthorized",
        message: format!("not authorized on {db} to execute command {echo}"),
    }
}

/// Where evaluation stopped.
enum Stop {
    /// An uncaught exception: the text after `uncaught exception: ` and the method for the
    /// stack trace.
    Exception(String, Option<&'static str>),
    /// `quit()` / `exit`.
    Quit(i32),
    /// A syntax error.
    Syntax(String),
}

struct Session<'a> {
    data: &'a mut MongoData,
    target: ShellTarget,
    principal: Option<(String, String)>,
    db: String,
    legacy: bool,
    out: String,
    vars: BTreeMap<String, JsVal>,
    session_id: String,
}

/// Runs `argv` (`mongo ...` or `mongosh ...`).
pub fn run(argv: &[String], setup: &ShellSetup<'_>) -> ExecOutput {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .unwrap_or_default();
    let legacy = program != "mongosh";
    let mut out = String::new();
    let fail = |out: String, code: i32| ExecOutput {
        stdout: out.into_bytes(),
        stderr: Vec::new(),
        exit_code: code,
    };
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            return ExecOutput {
                stdout: Vec::new(),
                stderr: format!("{e}\ntry '{program} --help' for more information\n").into_bytes(),
                exit_code: 2,
            };
        }
    };
    if args.version {
        let v = if legacy {
            format!("MongoDB shell version {}\n", setup.shell_version)
        } else {
            "2.3.1\n".to_string()
        };
        return fail(v, 0);
    }
    if args.help {
        return fail(
            format!(
                "MongoDB shell version {}\nusage: {program} [options] [db address] [file names (ending in .js)]\n",
                setup.shell_version
            ),
            0,
        );
    }
    let host = args.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = args.port.unwrap_or(27017);
    let session = uuid_from(setup.seed);
    let mut query = String::new();
    if let Some(a) = &args.auth_db {
        query.push_str(&format!("authSource={a}&"));
    }
    let uri = if legacy {
        format!(
            "mongodb://{host}:{port}/{}?{query}compressors=disabled&gssapiServiceName=mongodb",
            args.db_given.clone().unwrap_or_default()
        )
    } else {
        format!(
            "mongodb://{host}:{port}/{}?{query}directConnection=true&serverSelectionTimeoutMS=2000&appName=mongosh+2.3.1",
            args.db_given.clone().unwrap_or_default()
        )
    };
    let vars = Vars::of(&[
        ("shell_version", setup.shell_version.to_string()),
        ("uri", uri.clone()),
        ("session", session.clone()),
        ("version", setup.version.to_string()),
    ]);
    if !args.quiet {
        if legacy {
            if let Some(first) = setup.banner.first() {
                out.push_str(&render(first, &[&vars]));
                out.push('\n');
            }
            if let Some(second) = setup.banner.get(1) {
                out.push_str(&render(second, &[&vars]));
                out.push('\n');
            }
        } else {
            out.push_str(&format!(
                "Current Mongosh Log ID:\t{}\nConnecting to:\t\t{uri}\n",
                &session.replace('-', "")[..24]
            ));
        }
    }
    let connect_failed = |out: &mut String, what: &str| {
        if legacy {
            out.push_str(&format!(
                "Error: {what} :\nconnect@src/mongo/shell/mongo.js:374:17\n@(connect):2:6\nexception: connect failed\nexiting with code 1\n"
            ));
        } else {
            out.push_str(&format!("{what}\n"));
        }
    };
    let target = match (setup.resolve)(&host, port) {
        Ok(t) => t,
        Err(reason) => {
            let msg = if legacy {
                format!(
                    "couldn't connect to server {host}:{port}, connection attempt failed: SocketException: Error connecting to {host}:{port} :: caused by :: {reason}"
                )
            } else {
                format!("MongoNetworkError: connect {reason} {host}:{port}")
            };
            connect_failed(&mut out, &msg);
            return fail(out, 1);
        }
    };
    if target.tls == TlsMode::Require && !args.tls {
        let msg = if legacy {
            format!(
                "network error while attempting to run command 'isMaster' on host '{host}:{port}' "
            )
        } else {
            format!("MongoServerSelectionError: connection to {host}:{port} closed")
        };
        connect_failed(&mut out, &msg);
        return fail(out, 1);
    }
    let data_key = target.data_key.clone();
    setup.world.with_mongo(&data_key, |data| {
        let mut s = Session {
            data,
            target,
            principal: None,
            db: args.db_given.clone().unwrap_or_else(|| "test".into()),
            legacy,
            out,
            vars: BTreeMap::new(),
            session_id: session.clone(),
        };
        if let Some(user) = &args.user {
            let auth_db = args
                .auth_db
                .clone()
                .or_else(|| args.db_given.clone())
                .unwrap_or_else(|| "admin".into());
            let pwd = args.password.clone().unwrap_or_default();
            if s.data.authenticate(&auth_db, user, &pwd).is_err() {
                let msg = if legacy {
                    "Authentication failed.".to_string()
                } else {
                    "MongoServerError: Authentication failed.".to_string()
                };
                let mut o = std::mem::take(&mut s.out);
                connect_failed(&mut o, &msg);
                return fail(o, 1);
            }
            s.principal = Some((auth_db, user.clone()));
        }
        if !args.quiet {
            if legacy {
                for line in setup.banner.iter().skip(2) {
                    s.out.push_str(&render(line, &[&vars]));
                    s.out.push('\n');
                }
            } else {
                s.out.push_str(&format!(
                    "Using MongoDB:\t\t{}\nUsing Mongosh:\t\t2.3.1\n\n",
                    setup.version
                ));
            }
        }
        let mut code = 0;
        let interactive = args.eval.is_empty() && args.files.is_empty();
        for e in &args.eval {
            match s.run_script(e, true) {
                Ok(()) => {}
                Err(stop) => {
                    code = s.report(stop, "(shell eval)");
                    return fail(std::mem::take(&mut s.out), code);
                }
            }
        }
        for f in &args.files {
            let path = if f.starts_with('/') {
                f.clone()
            } else {
                format!("/{f}")
            };
            let Some(src) = setup.files.get(&path).or_else(|| setup.files.get(f)) else {
                if legacy {
                    s.out.push_str(&format!(
                        "{{\"t\":{{\"$date\":\"1970-01-01T00:00:00.000Z\"}},\"s\":\"E\",  \"c\":\"-\",        \"id\":22779,   \"ctx\":\"main\",\"msg\":\"file [{f}] doesn't exist\"}}\nfailed to load: {f}\nexiting with code -3\n"
                    ));
                } else {
                    s.out.push_str(&format!("Error: ENOENT: no such file or directory, open '{f}'\n"));
                }
                return fail(std::mem::take(&mut s.out), if legacy { 253 } else { 1 });
            };
            let src = src.clone();
            if let Err(stop) = s.run_script(&src, false) {
                code = s.report(stop, f);
                if legacy && code != 0 {
                    s.out.push_str(&format!("failed to load: {f}\nexiting with code -3\n"));
                    code = 253;
                }
                return fail(std::mem::take(&mut s.out), code);
            }
        }
        if interactive {
            let input = setup.stdin.unwrap_or_default().to_string();
            code = s.interactive(&input);
        }
        fail(std::mem::take(&mut s.out), code)
    })
}

fn uuid_from(seed: u64) -> String {
    let a = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let b = a.rotate_left(29) ^ 0xA5A5_5A5A_0F0F_F0F0;
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl Session<'_> {
    fn report(&mut self, stop: Stop, origin: &str) -> i32 {
        match stop {
            Stop::Quit(c) => c,
            Stop::Syntax(msg) => {
                if self.legacy {
                    self.out.push_str(&format!(
                        "uncaught exception: SyntaxError: {msg} :\n@{origin}:1:1\nexiting with code -4\n"
                    ));
                    252
                } else {
                    self.out.push_str(&format!("SyntaxError: {msg}\n"));
                    1
                }
            }
            Stop::Exception(msg, method) => {
                if self.legacy {
                    self.out.push_str(&format!("uncaught exception: {msg} :\n"));
                    if let Some(m) = method {
                        self.out.push_str(&format!(
                            "_getErrorWithCode@src/mongo/shell/utils.js:25:13\n{m}\n"
                        ));
                    }
                    self.out
                        .push_str(&format!("@{origin}:1:1\nexiting with code -4\n"));
                    252
                } else {
                    self.out.push_str(&format!("{msg}\n"));
                    1
                }
            }
        }
    }

    fn interactive(&mut self, input: &str) -> i32 {
        let mut buffer = String::new();
        for line in input.lines() {
            let t = line.trim();
            if buffer.is_empty() {
                if let Some(db) = t.strip_prefix("use ") {
                    let db = db.trim().trim_end_matches(';').to_string();
                    self.out.push_str(&format!("switched to db {db}\n"));
                    self.db = db;
                    continue;
                }
                if let Some(what) = t.strip_prefix("show ") {
                    if let Err(stop) = self.show(what.trim().trim_end_matches(';')) {
                        self.report(stop, "(shell)");
                    }
                    continue;
                }
                if matches!(t, "exit" | "quit" | "exit;" | "quit;") {
                    break;
                }
            }
            buffer.push_str(line);
            buffer.push('\n');
            match parse(&buffer) {
                Err(_) if !balanced(&buffer) => continue,
                _ => {}
            }
            let src = std::mem::take(&mut buffer);
            match self.run_script(&src, true) {
                Ok(()) => {}
                Err(Stop::Quit(c)) => {
                    return c;
                }
                Err(stop) => {
                    self.report_interactive(stop);
                }
            }
        }
        if self.legacy {
            self.out.push_str("bye\n");
        }
        0
    }

    fn report_interactive(&mut self, stop: Stop) {
        match stop {
            Stop::Exception(msg, method) => {
                if self.legacy {
                    self.out.push_str(&format!("uncaught exception: {msg} :\n"));
                    if let Some(m) = method {
                        self.out.push_str(&format!(
                            "_getErrorWithCode@src/mongo/shell/utils.js:25:13\n{m}\n"
                        ));
                    }
                    self.out.push_str("@(shell):1:1\n");
                } else {
                    self.out.push_str(&format!("{msg}\n"));
                }
            }
            Stop::Syntax(msg) => {
                self.out.push_str(&format!(
                    "uncaught exception: SyntaxError: {msg} :\n@(shell):1:1\n"
                ));
            }
            Stop::Quit(_) => {}
        }
    }

    fn show(&mut self, what: &str) -> Result<(), Stop> {
        match what {
            "dbs" | "databases" => {
                let mut names: Vec<String> = self.data.dbs.keys().cloned().collect();
                for d in ["admin", "config", "local"] {
                    if !names.iter().any(|n| n == d) {
                        names.push(d.to_string());
                    }
                }
                names.sort();
                if self.target.auth {
                    self.require(
                        Action::ListDatabases,
                        "admin",
                        "{ listDatabases: 1.0, nameOnly: false, $db: \"admin\" }",
                        None,
                    )?;
                }
                for n in names {
                    self.out.push_str(&format!("{n:<14}0.000GB\n"));
                }
            }
            "users" => {
                let db = self.db.clone();
                let users = self.users_of(&db, None)?;
                for u in users {
                    self.out.push_str(&to_json(&u, self.legacy));
                    self.out.push('\n');
                }
            }
            "collections" | "tables" => {
                let db = self.db.clone();
                for c in self
                    .data
                    .dbs
                    .get(&db)
                    .map(|d| d.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    self.out.push_str(&format!("{c}\n"));
                }
            }
            "roles" => {
                for r in [
                    "dbAdmin",
                    "dbOwner",
                    "enableSharding",
                    "read",
                    "readWrite",
                    "userAdmin",
                ] {
                    self.out.push_str(&format!("{{\n\t\"role\" : \"{r}\",\n\t\"db\" : \"{}\",\n\t\"isBuiltin\" : true,\n\t\"roles\" : [ ],\n\t\"inheritedRoles\" : [ ]\n}}\n", self.db));
                }
            }
            other => {
                return Err(Stop::Exception(
                    format!("Error: don't know how to show [{other}]"),
                    Some("shellHelper.show@src/mongo/shell/utils.js:1191:11"),
                ));
            }
        }
        Ok(())
    }

    fn run_script(&mut self, src: &str, print_result: bool) -> Result<(), Stop> {
        let stmts = parse(src).map_err(|e| Stop::Syntax(e.0))?;
        let mut last = JsVal::Undefined;
        for st in &stmts {
            last = self.eval(st)?;
            if matches!(st, Expr::Assign(..)) {
                last = JsVal::Undefined;
            }
        }
        if print_result && !matches!(last, JsVal::Undefined) {
            let text = match &last {
                JsVal::Str(s) => s.clone(),
                other => to_json(other, self.legacy),
            };
            self.out.push_str(&text);
            self.out.push('\n');
        }
        Ok(())
    }

    fn eval(&mut self, e: &Expr) -> Result<JsVal, Stop> {
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::Obj(fields) => {
                let mut out = Vec::new();
                for (k, v) in fields {
                    out.push((k.clone(), self.eval(v)?));
                }
                JsVal::Obj(out)
            }
            Expr::Arr(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.eval(i)?);
                }
                JsVal::Arr(out)
            }
            Expr::Var(name) => match name.as_str() {
                "db" => self
                    .vars
                    .get("db")
                    .cloned()
                    .unwrap_or_else(|| JsVal::Db(self.db.clone())),
                "print" | "printjson" | "tojson" | "quit" | "exit" | "ObjectId" | "NumberInt"
                | "NumberLong" | "ISODate" | "UUID" | "sleep" | "version" | "passwordPrompt" => {
                    JsVal::Func(Box::new(JsVal::Undefined), name.clone())
                }
                _ => self.vars.get(name).cloned().ok_or_else(|| {
                    Stop::Exception(format!("ReferenceError: {name} is not defined"), None)
                })?,
            },
            Expr::Assign(name, value) => {
                let v = self.eval(value)?;
                if name == "db"
                    && let JsVal::Db(d) = &v
                {
                    self.db = d.clone();
                }
                self.vars.insert(name.clone(), v.clone());
                v
            }
            Expr::Member(target, name) => {
                let t = self.eval(target)?;
                match t {
                    JsVal::Db(db) => {
                        if is_db_method(name) {
                            JsVal::Func(Box::new(JsVal::Db(db)), name.clone())
                        } else {
                            JsVal::Coll(db, name.clone())
                        }
                    }
                    JsVal::Coll(db, coll) => {
                        if is_coll_method(name) {
                            JsVal::Func(Box::new(JsVal::Coll(db, coll)), name.clone())
                        } else {
                            JsVal::Coll(db, format!("{coll}.{name}"))
                        }
                    }
                    JsVal::Obj(_) => t.get(name).cloned().unwrap_or(JsVal::Undefined),
                    JsVal::Arr(items) if name == "length" => JsVal::Num(items.len() as f64),
                    JsVal::Arr(items) if name.parse::<usize>().is_ok() => name
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| items.get(i).cloned())
                        .unwrap_or(JsVal::Undefined),
                    JsVal::Undefined | JsVal::Null => {
                        return Err(Stop::Exception(
                            format!(
                                "TypeError: {} has no properties",
                                crate::apps::mongo::js::to_json(&t, true)
                            ),
                            None,
                        ));
                    }
                    other => JsVal::Func(Box::new(other), name.clone()),
                }
            }
            Expr::Call(f, args) => {
                let fv = self.eval(f)?;
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a)?);
                }
                match fv {
                    JsVal::Func(recv, name) => self.call(*recv, &name, &vals)?,
                    other => {
                        return Err(Stop::Exception(
                            format!("TypeError: {} is not a function", to_json(&other, true)),
                            None,
                        ));
                    }
                }
            }
        })
    }

    fn print(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn call(&mut self, recv: JsVal, name: &str, args: &[JsVal]) -> Result<JsVal, Stop> {
        match recv {
            JsVal::Db(db) => self.db_method(&db, name, args),
            JsVal::Coll(db, coll) => self.coll_method(&db, &coll, name, args),
            JsVal::Undefined => match name {
                "print" => {
                    let text: Vec<String> = args
                        .iter()
                        .map(|a| match a {
                            JsVal::Str(s) => s.clone(),
                            other => to_json(other, self.legacy),
                        })
                        .collect();
                    self.print(&text.join(" "));
                    Ok(JsVal::Undefined)
                }
                "printjson" => {
                    let text = to_json(args.first().unwrap_or(&JsVal::Undefined), self.legacy);
                    self.print(&text);
                    Ok(JsVal::Undefined)
                }
                "tojson" => Ok(JsVal::Str(to_json(
                    args.first().unwrap_or(&JsVal::Undefined),
                    self.legacy,
                ))),
                "quit" | "exit" => Err(Stop::Quit(
                    args.first()
                        .and_then(|a| {
                            if let JsVal::Num(n) = a {
                                Some(*n as i32)
                            } else {
                                None
                            }
                        })
                        .unwrap_or(0),
                )),
                "version" => Ok(JsVal::Str(self.shell_version_plain())),
                "sleep" => Ok(JsVal::Null),
                _ => Ok(args.first().cloned().unwrap_or(JsVal::Undefined)),
            },
            JsVal::Str(s) => match name {
                "toString" | "valueOf" => Ok(JsVal::Str(s)),
                "toUpperCase" => Ok(JsVal::Str(s.to_uppercase())),
                "toLowerCase" => Ok(JsVal::Str(s.to_lowercase())),
                _ => Err(Stop::Exception(
                    format!("TypeError: \"{s}\".{name} is not a function"),
                    None,
                )),
            },
            other => Err(Stop::Exception(
                format!(
                    "TypeError: {}.{name} is not a function",
                    to_json(&other, self.legacy)
                ),
                None,
            )),
        }
    }

    fn shell_version_plain(&self) -> String {
        "4.4.6".into()
    }

    /// Checks a privilege; errors as the server answers.
    fn require(&self, action: Action, db: &str, echo: &str, cmd: Option<&str>) -> Result<(), Stop> {
        self.check(action, db, echo, cmd)
            .map_err(|e| self.server_error(e, None, ""))
    }

    fn check(
        &self,
        action: Action,
        db: &str,
        echo: &str,
        cmd: Option<&str>,
    ) -> Result<(), CmdError> {
        if !self.target.auth {
            return Ok(());
        }
        match &self.principal {
            None => {
                let exception = self.target.localhost
                    && !self.data.has_users()
                    && action == Action::CreateUser
                    && db == "admin";
                if exception {
                    Ok(())
                } else {
                    Err(CmdError {
                        code: 13,
                        code_name: "Unauthorized",
                        message: format!(
                            "command {} requires authentication",
                            cmd.unwrap_or_else(|| echo_name(echo))
                        ),
                    })
                }
            }
            Some((adb, user)) => {
                if self.data.allowed(Some((adb, user)), action, db) {
                    Ok(())
                } else {
                    Err(unauthorized(db, echo))
                }
            }
        }
    }

    fn server_error(&self, e: CmdError, method: Option<&'static str>, prefix: &str) -> Stop {
        if self.legacy {
            Stop::Exception(format!("Error: {prefix}{}", e.message), method)
        } else {
            Stop::Exception(format!("MongoServerError: {}", e.message), None)
        }
    }

    fn lsid(&self) -> String {
        format!("lsid: {{ id: UUID(\"{}\") }}", self.session_id)
    }

    fn roles_arg(&self, v: Option<&JsVal>, db: &str) -> Result<Vec<RoleRef>, CmdError> {
        let Some(JsVal::Arr(items)) = v else {
            return Err(CmdError {
                code: 2,
                code_name: "BadValue",
                message: "\"roles\" field must be an array".into(),
            });
        };
        let mut out = Vec::new();
        for i in items {
            let r = match i {
                JsVal::Str(role) => RoleRef {
                    role: role.clone(),
                    db: db.to_string(),
                },
                JsVal::Obj(_) => RoleRef {
                    role: i
                        .get("role")
                        .and_then(JsVal::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    db: i
                        .get("db")
                        .and_then(JsVal::as_str)
                        .unwrap_or(db)
                        .to_string(),
                },
                _ => {
                    return Err(CmdError {
                        code: 14,
                        code_name: "TypeMismatch",
                        message: "Role names must be either strings or objects".into(),
                    });
                }
            };
            if !builtin_role(&r.role, &r.db) {
                return Err(CmdError {
                    code: 31,
                    code_name: "RoleNotFound",
                    message: format!("Could not find role: {}@{}", r.role, r.db),
                });
            }
            out.push(r);
        }
        Ok(out)
    }

    fn roles_echo(roles: &[RoleRef]) -> String {
        let items: Vec<String> = roles
            .iter()
            .map(|r| format!("{{ role: \"{}\", db: \"{}\" }}", r.role, r.db))
            .collect();
        if items.is_empty() {
            "[]".into()
        } else {
            format!("[ {} ]", items.join(", "))
        }
    }

    fn user_doc(db: &str, name: &str, u: &MongoUser) -> JsVal {
        JsVal::Obj(vec![
            ("_id".into(), JsVal::Str(format!("{db}.{name}"))),
            ("userId".into(), JsVal::Str(u.uuid.clone())),
            ("user".into(), JsVal::Str(name.to_string())),
            ("db".into(), JsVal::Str(db.to_string())),
            (
                "roles".into(),
                JsVal::Arr(
                    u.roles
                        .iter()
                        .map(|r| {
                            JsVal::Obj(vec![
                                ("role".into(), JsVal::Str(r.role.clone())),
                                ("db".into(), JsVal::Str(r.db.clone())),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "mechanisms".into(),
                JsVal::Arr(vec![
                    JsVal::Str("SCRAM-SHA-1".into()),
                    JsVal::Str("SCRAM-SHA-256".into()),
                ]),
            ),
        ])
    }

    fn users_of(&mut self, db: &str, only: Option<&str>) -> Result<Vec<JsVal>, Stop> {
        let echo = format!(
            "{{ usersInfo: {}, {}, $db: \"{db}\" }}",
            only.map(|u| format!("\"{u}\""))
                .unwrap_or_else(|| "1.0".into()),
            self.lsid()
        );
        self.check(Action::ViewUser, db, &echo, Some("usersInfo"))
            .map_err(|e| {
                self.server_error(
                    e,
                    Some("DB.prototype.getUsers@src/mongo/shell/db.js:1640:15"),
                    "",
                )
            })?;
        Ok(self
            .data
            .users
            .iter()
            .filter(|((d, n), _)| d == db && only.is_none_or(|o| o == n))
            .map(|((d, n), u)| Self::user_doc(d, n, u))
            .collect())
    }

    /// The user commands, shared by the helpers and `runCommand`. Returns the server's reply.
    fn user_command(&mut self, db: &str, cmd: &str, doc: &JsVal) -> Result<JsVal, CmdError> {
        let name = doc
            .get(cmd)
            .and_then(JsVal::as_str)
            .unwrap_or_default()
            .to_string();
        let ok = JsVal::Obj(vec![("ok".into(), JsVal::Num(1.0))]);
        let wc = "writeConcern: { w: \"majority\", wtimeout: 600000.0 }";
        match cmd {
            "createUser" => {
                let roles = self.roles_arg(doc.get("roles"), db)?;
                let echo = format!(
                    "{{ createUser: \"{name}\", pwd: \"xxx\", roles: {}, digestPassword: true, {wc}, {}, $db: \"{db}\" }}",
                    Self::roles_echo(&roles),
                    self.lsid()
                );
                // The localhost exception: the first user may be created in admin, with any
                // roles, without authenticating.
                let exception = self.target.auth
                    && self.principal.is_none()
                    && self.target.localhost
                    && !self.data.has_users()
                    && db == "admin";
                if !exception {
                    self.check(Action::CreateUser, db, &echo, Some("createUser"))?;
                    for r in &roles {
                        self.check(Action::GrantRole, &r.db, &echo, Some("createUser"))?;
                    }
                }
                let key = (db.to_string(), name.clone());
                if self.data.users.contains_key(&key) {
                    return Err(CmdError {
                        code: 51003,
                        code_name: "Location51003",
                        message: format!("User \"{name}@{db}\" already exists"),
                    });
                }
                let pwd = doc
                    .get("pwd")
                    .and_then(JsVal::as_str)
                    .unwrap_or_default()
                    .to_string();
                let uuid = uuid_from(
                    name.bytes()
                        .chain(db.bytes())
                        .fold(self.data.users.len() as u64 + 7, |h, b| {
                            h.wrapping_mul(31).wrapping_add(b as u64)
                        }),
                );
                self.data.users.insert(
                    key,
                    MongoUser {
                        password: pwd,
                        roles,
                        uuid,
                    },
                );
                Ok(ok)
            }
            "dropUser" => {
                let echo = format!(
                    "{{ dropUser: \"{name}\", {wc}, {}, $db: \"{db}\" }}",
                    self.lsid()
                );
                self.check(Action::DropUser, db, &echo, Some("dropUser"))?;
                if self
                    .data
                    .users
                    .remove(&(db.to_string(), name.clone()))
                    .is_none()
                {
                    return Err(CmdError {
                        code: 11,
                        code_name: "UserNotFound",
                        message: format!("User '{name}@{db}' not found"),
                    });
                }
                Ok(ok)
            }
            "grantRolesToUser" | "revokeRolesFromUser" => {
                let roles = self.roles_arg(doc.get("roles"), db)?;
                let echo = format!(
                    "{{ {cmd}: \"{name}\", roles: {}, {wc}, {}, $db: \"{db}\" }}",
                    Self::roles_echo(&roles),
                    self.lsid()
                );
                let action = if cmd == "grantRolesToUser" {
                    Action::GrantRole
                } else {
                    Action::RevokeRole
                };
                for r in &roles {
                    self.check(action, &r.db, &echo, Some(cmd))?;
                }
                let Some(user) = self.data.users.get_mut(&(db.to_string(), name.clone())) else {
                    return Err(CmdError {
                        code: 11,
                        code_name: "UserNotFound",
                        message: format!("Could not find user \"{name}\" for db \"{db}\""),
                    });
                };
                for r in roles {
                    if action == Action::GrantRole {
                        if !user.roles.contains(&r) {
                            user.roles.push(r);
                        }
                    } else {
                        user.roles.retain(|x| *x != r);
                    }
                }
                Ok(ok)
            }
            "updateUser" => {
                let echo = format!(
                    "{{ updateUser: \"{name}\", {wc}, {}, $db: \"{db}\" }}",
                    self.lsid()
                );
                let new_roles = match doc.get("roles") {
                    Some(r) => Some(self.roles_arg(Some(r), db)?),
                    None => None,
                };
                if doc.get("pwd").is_some() {
                    self.check(Action::ChangePassword, db, &echo, Some(cmd))?;
                }
                if let Some(roles) = &new_roles {
                    for r in roles {
                        self.check(Action::GrantRole, &r.db, &echo, Some(cmd))?;
                    }
                }
                let Some(user) = self.data.users.get_mut(&(db.to_string(), name.clone())) else {
                    return Err(CmdError {
                        code: 11,
                        code_name: "UserNotFound",
                        message: format!("Could not find user \"{name}\" for db \"{db}\""),
                    });
                };
                if let Some(p) = doc.get("pwd").and_then(JsVal::as_str) {
                    user.password = p.to_string();
                }
                if let Some(roles) = new_roles {
                    user.roles = roles;
                }
                Ok(ok)
            }
            _ => Err(CmdError {
                code: 59,
                code_name: "CommandNotFound",
                message: format!("no such command: '{cmd}'"),
            }),
        }
    }

    fn reply_error(e: &CmdError) -> JsVal {
        JsVal::Obj(vec![
            ("ok".into(), JsVal::Num(0.0)),
            ("errmsg".into(), JsVal::Str(e.message.clone())),
            ("code".into(), JsVal::Num(e.code as f64)),
            ("codeName".into(), JsVal::Str(e.code_name.to_string())),
        ])
    }

    fn run_command(&mut self, db: &str, doc: &JsVal) -> Result<JsVal, CmdError> {
        let cmd = match doc {
            JsVal::Obj(fields) => fields.first().map(|(k, _)| k.clone()).unwrap_or_default(),
            JsVal::Str(s) => s.clone(),
            _ => String::new(),
        };
        let ok = |fields: Vec<(String, JsVal)>| {
            let mut f = fields;
            f.push(("ok".into(), JsVal::Num(1.0)));
            JsVal::Obj(f)
        };
        match cmd.as_str() {
            "ping" => Ok(ok(vec![])),
            "hello" | "isMaster" | "ismaster" => Ok(ok(vec![
                ("ismaster".into(), JsVal::Bool(true)),
                ("maxWireVersion".into(), JsVal::Num(9.0)),
                ("readOnly".into(), JsVal::Bool(false)),
            ])),
            "buildInfo" | "buildinfo" => {
                Ok(ok(vec![("version".into(), JsVal::Str("4.4.6".into()))]))
            }
            "connectionStatus" => {
                let users: Vec<JsVal> = self
                    .principal
                    .iter()
                    .map(|(d, u)| {
                        JsVal::Obj(vec![
                            ("user".into(), JsVal::Str(u.clone())),
                            ("db".into(), JsVal::Str(d.clone())),
                        ])
                    })
                    .collect();
                let roles: Vec<JsVal> = self
                    .principal
                    .as_ref()
                    .and_then(|(d, u)| self.data.users.get(&(d.clone(), u.clone())))
                    .map(|u| {
                        u.roles
                            .iter()
                            .map(|r| {
                                JsVal::Obj(vec![
                                    ("role".into(), JsVal::Str(r.role.clone())),
                                    ("db".into(), JsVal::Str(r.db.clone())),
                                ])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(ok(vec![(
                    "authInfo".into(),
                    JsVal::Obj(vec![
                        ("authenticatedUsers".into(), JsVal::Arr(users)),
                        ("authenticatedUserRoles".into(), JsVal::Arr(roles)),
                    ]),
                )]))
            }
            "usersInfo" => {
                let only = doc
                    .get("usersInfo")
                    .and_then(JsVal::as_str)
                    .map(str::to_string);
                let echo = format!("{{ usersInfo: 1.0, {}, $db: \"{db}\" }}", self.lsid());
                self.check(Action::ViewUser, db, &echo, Some("usersInfo"))?;
                let users: Vec<JsVal> = self
                    .data
                    .users
                    .iter()
                    .filter(|((d, n), _)| d == db && only.as_deref().is_none_or(|o| o == n))
                    .map(|((d, n), u)| Self::user_doc(d, n, u))
                    .collect();
                Ok(ok(vec![("users".into(), JsVal::Arr(users))]))
            }
            "listDatabases" => {
                let echo = format!("{{ listDatabases: 1.0, {}, $db: \"{db}\" }}", self.lsid());
                self.check(Action::ListDatabases, "admin", &echo, Some("listDatabases"))?;
                let mut names: Vec<String> = self.data.dbs.keys().cloned().collect();
                for d in ["admin", "config", "local"] {
                    if !names.iter().any(|n| n == d) {
                        names.push(d.into());
                    }
                }
                names.sort();
                let dbs = names
                    .into_iter()
                    .map(|n| {
                        JsVal::Obj(vec![
                            ("name".into(), JsVal::Str(n)),
                            ("sizeOnDisk".into(), JsVal::Num(40960.0)),
                            ("empty".into(), JsVal::Bool(false)),
                        ])
                    })
                    .collect();
                Ok(ok(vec![
                    ("databases".into(), JsVal::Arr(dbs)),
                    ("totalSize".into(), JsVal::Num(307200.0)),
                ]))
            }
            "createUser"
            | "dropUser"
            | "grantRolesToUser"
            | "revokeRolesFromUser"
            | "updateUser" => self.user_command(db, &cmd, doc),
            "" => Err(CmdError {
                code: 2,
                code_name: "BadValue",
                message: "runCommand needs a command document".into(),
            }),
            other => Err(CmdError {
                code: 59,
                code_name: "CommandNotFound",
                message: format!("no such command: '{other}'"),
            }),
        }
    }

    fn db_method(&mut self, db: &str, name: &str, args: &[JsVal]) -> Result<JsVal, Stop> {
        let arg_str = |i: usize| args.get(i).and_then(JsVal::as_str).map(str::to_string);
        let legacy = self.legacy;
        match name {
            "getName" => Ok(JsVal::Str(db.to_string())),
            "getSiblingDB" | "getSisterDB" => Ok(JsVal::Db(arg_str(0).unwrap_or_default())),
            "getCollection" => Ok(JsVal::Coll(db.to_string(), arg_str(0).unwrap_or_default())),
            "version" => Ok(JsVal::Str("4.4.6".into())),
            "getMongo" => Ok(JsVal::Str("connection to 127.0.0.1:27017".into())),
            "auth" => {
                let (user, pwd) = match args.first() {
                    Some(JsVal::Obj(_)) => {
                        let d = &args[0];
                        (
                            d.get("user")
                                .and_then(JsVal::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            d.get("pwd")
                                .and_then(JsVal::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        )
                    }
                    _ => (
                        arg_str(0).unwrap_or_default(),
                        arg_str(1).unwrap_or_default(),
                    ),
                };
                if self.data.authenticate(db, &user, &pwd).is_ok() {
                    self.principal = Some((db.to_string(), user));
                    Ok(if legacy {
                        JsVal::Num(1.0)
                    } else {
                        JsVal::Obj(vec![("ok".into(), JsVal::Num(1.0))])
                    })
                } else if legacy {
                    self.print("Error: Authentication failed.");
                    Ok(JsVal::Num(0.0))
                } else {
                    Err(Stop::Exception(
                        "MongoServerError: Authentication failed.".into(),
                        None,
                    ))
                }
            }
            "logout" => {
                self.principal = None;
                Ok(JsVal::Obj(vec![("ok".into(), JsVal::Num(1.0))]))
            }
            "createUser" => {
                let Some(doc @ JsVal::Obj(_)) = args.first() else {
                    return Err(Stop::Exception(
                        "Error: no 'user' field provided to createUser function".into(),
                        Some("DB.prototype.createUser@src/mongo/shell/db.js:1386:11"),
                    ));
                };
                let user = doc
                    .get("user")
                    .and_then(JsVal::as_str)
                    .unwrap_or_default()
                    .to_string();
                let mut cmd = vec![("createUser".to_string(), JsVal::Str(user.clone()))];
                if let JsVal::Obj(fields) = doc {
                    cmd.extend(fields.iter().filter(|(k, _)| k != "user").cloned());
                }
                match self.user_command(db, "createUser", &JsVal::Obj(cmd)) {
                    Ok(reply) => {
                        if legacy {
                            let mut shown = vec![("user".to_string(), JsVal::Str(user))];
                            if let JsVal::Obj(fields) = doc {
                                shown.extend(
                                    fields
                                        .iter()
                                        .filter(|(k, _)| k != "user" && k != "pwd")
                                        .cloned(),
                                );
                            }
                            let text = to_json(&JsVal::Obj(shown), true);
                            self.print(&format!("Successfully added user: {text}"));
                            Ok(JsVal::Undefined)
                        } else {
                            Ok(reply)
                        }
                    }
                    Err(e) => Err(self.server_error(
                        e,
                        Some("DB.prototype.createUser@src/mongo/shell/db.js:1386:11"),
                        "couldn't add user: ",
                    )),
                }
            }
            "dropUser" | "removeUser" => {
                let user = arg_str(0).unwrap_or_default();
                let cmd = JsVal::Obj(vec![("dropUser".into(), JsVal::Str(user))]);
                match self.user_command(db, "dropUser", &cmd) {
                    Ok(reply) => Ok(if legacy { JsVal::Bool(true) } else { reply }),
                    Err(e) if legacy && e.code == 11 => Ok(JsVal::Bool(false)),
                    Err(e) => Err(self.server_error(
                        e,
                        Some("DB.prototype.dropUser@src/mongo/shell/db.js:1503:11"),
                        "",
                    )),
                }
            }
            "grantRolesToUser" | "revokeRolesFromUser" => {
                let user = arg_str(0).unwrap_or_default();
                let cmd = JsVal::Obj(vec![
                    (name.to_string(), JsVal::Str(user)),
                    (
                        "roles".into(),
                        args.get(1).cloned().unwrap_or(JsVal::Undefined),
                    ),
                ]);
                let method: &'static str = if name == "grantRolesToUser" {
                    "DB.prototype.grantRolesToUser@src/mongo/shell/db.js:1556:15"
                } else {
                    "DB.prototype.revokeRolesFromUser@src/mongo/shell/db.js:1570:15"
                };
                match self.user_command(db, name, &cmd) {
                    Ok(reply) => Ok(if legacy { JsVal::Undefined } else { reply }),
                    Err(e) => Err(self.server_error(e, Some(method), "")),
                }
            }
            "updateUser" | "changeUserPassword" => {
                let user = arg_str(0).unwrap_or_default();
                let mut cmd = vec![("updateUser".to_string(), JsVal::Str(user))];
                if name == "changeUserPassword" {
                    cmd.push((
                        "pwd".into(),
                        args.get(1).cloned().unwrap_or(JsVal::Undefined),
                    ));
                } else if let Some(JsVal::Obj(fields)) = args.get(1) {
                    cmd.extend(fields.iter().cloned());
                }
                match self.user_command(db, "updateUser", &JsVal::Obj(cmd)) {
                    Ok(reply) => Ok(if legacy { JsVal::Undefined } else { reply }),
                    Err(e) => Err(self.server_error(
                        e,
                        Some("DB.prototype.updateUser@src/mongo/shell/db.js:1480:15"),
                        "Updating user failed: ",
                    )),
                }
            }
            "getUsers" => {
                let users = self.users_of(db, None)?;
                Ok(if legacy {
                    JsVal::Arr(users)
                } else {
                    JsVal::Obj(vec![
                        ("users".into(), JsVal::Arr(users)),
                        ("ok".into(), JsVal::Num(1.0)),
                    ])
                })
            }
            "getUser" => {
                let user = arg_str(0).unwrap_or_default();
                let users = self.users_of(db, Some(&user))?;
                Ok(users.into_iter().next().unwrap_or(JsVal::Null))
            }
            "runCommand" | "adminCommand" => {
                let target_db = if name == "adminCommand" { "admin" } else { db };
                let doc = match args.first() {
                    Some(JsVal::Str(s)) => JsVal::Obj(vec![(s.clone(), JsVal::Num(1.0))]),
                    Some(d) => d.clone(),
                    None => JsVal::Obj(vec![]),
                };
                match self.run_command(target_db, &doc) {
                    Ok(reply) => Ok(reply),
                    Err(e) if legacy => Ok(Self::reply_error(&e)),
                    Err(e) => Err(self.server_error(e, None, "")),
                }
            }
            "getCollectionNames" => {
                let echo = format!(
                    "{{ listCollections: 1.0, filter: {{}}, nameOnly: true, authorizedCollections: false, {}, $db: \"{db}\" }}",
                    self.lsid()
                );
                self.check(Action::ListCollections, db, &echo, Some("listCollections"))
                    .map_err(|e| self.server_error(e, Some("DB.prototype._getCollectionInfosCommand@src/mongo/shell/db.js:1735:15"), ""))?;
                Ok(JsVal::Arr(
                    self.data
                        .dbs
                        .get(db)
                        .map(|d| d.keys().map(|k| JsVal::Str(k.clone())).collect())
                        .unwrap_or_default(),
                ))
            }
            "dropDatabase" => {
                let echo = format!("{{ dropDatabase: 1.0, {}, $db: \"{db}\" }}", self.lsid());
                match self.check(Action::DropDatabase, db, &echo, Some("dropDatabase")) {
                    Ok(()) => {
                        self.data.dbs.remove(db);
                        Ok(JsVal::Obj(vec![
                            ("dropped".into(), JsVal::Str(db.into())),
                            ("ok".into(), JsVal::Num(1.0)),
                        ]))
                    }
                    Err(e) if legacy => Ok(Self::reply_error(&e)),
                    Err(e) => Err(self.server_error(e, None, "")),
                }
            }
            "getRole" | "getRoles" => Ok(JsVal::Arr(vec![])),
            "stats" => Ok(JsVal::Obj(vec![
                ("db".into(), JsVal::Str(db.into())),
                (
                    "collections".into(),
                    JsVal::Num(self.data.dbs.get(db).map(|d| d.len()).unwrap_or(0) as f64),
                ),
                ("ok".into(), JsVal::Num(1.0)),
            ])),
            other => Err(Stop::Exception(
                format!("TypeError: db.{other} is not a function"),
                None,
            )),
        }
    }

    fn coll_method(
        &mut self,
        db: &str,
        coll: &str,
        name: &str,
        args: &[JsVal],
    ) -> Result<JsVal, Stop> {
        let legacy = self.legacy;
        let (action, echo_cmd) = match name {
            "find" | "findOne" => (Action::Find, format!("find: \"{coll}\", filter: {{}}")),
            "count" | "countDocuments" | "estimatedDocumentCount" => {
                (Action::Find, format!("count: \"{coll}\", query: {{}}"))
            }
            "insert" | "insertOne" | "insertMany" | "save" => {
                (Action::Insert, format!("insert: \"{coll}\", ordered: true"))
            }
            "update" | "updateOne" | "updateMany" | "replaceOne" => {
                (Action::Update, format!("update: \"{coll}\", ordered: true"))
            }
            "remove" | "deleteOne" | "deleteMany" => {
                (Action::Remove, format!("delete: \"{coll}\", ordered: true"))
            }
            "createIndex" | "ensureIndex" => {
                (Action::CreateIndex, format!("createIndexes: \"{coll}\""))
            }
            "getIndexes" => (
                Action::ListCollections,
                format!("listIndexes: \"{coll}\", cursor: {{}}"),
            ),
            "drop" => (Action::DropCollection, format!("drop: \"{coll}\"")),
            other => {
                return Err(Stop::Exception(
                    format!("TypeError: db.{coll}.{other} is not a function"),
                    None,
                ));
            }
        };
        let echo = format!("{{ {echo_cmd}, {}, $db: \"{db}\" }}", self.lsid());
        if let Err(e) = self.check(action, db, &echo, None) {
            return Err(if legacy {
                let reply = to_json(&Self::reply_error(&e), true);
                match name {
                    "find" | "findOne" => Stop::Exception(
                        format!("Error: error: {reply}"),
                        Some(
                            "_getErrorWithCode@src/mongo/shell/utils.js:25:13\nDBCommandCursor@src/mongo/shell/query.js:718:19",
                        ),
                    ),
                    "count" | "countDocuments" => Stop::Exception(
                        format!("Error: count failed: {reply}"),
                        Some("DBQuery.prototype.count@src/mongo/shell/query.js:384:11"),
                    ),
                    _ => return Ok(JsVal::Str(format!("WriteCommandError({reply})"))),
                }
            } else {
                Stop::Exception(format!("MongoServerError: {}", e.message), None)
            });
        }
        let c = self.data.collection(db, coll).cloned().unwrap_or_default();
        match name {
            "count" | "countDocuments" | "estimatedDocumentCount" => Ok(JsVal::Num(c.docs as f64)),
            "find" => {
                let shown = c.docs.min(20);
                for i in 0..shown {
                    let id = format!("{:024x}", (i + 1) * 0x1_0000_0001);
                    if legacy {
                        self.print(&format!("{{ \"_id\" : ObjectId(\"{id}\") }}"));
                    } else {
                        self.print(&format!("{{ _id: ObjectId('{id}') }}"));
                    }
                }
                if c.docs > 20 {
                    self.print("Type \"it\" for more");
                }
                Ok(JsVal::Undefined)
            }
            "findOne" => Ok(if c.docs > 0 {
                JsVal::Obj(vec![("_id".into(), JsVal::Str(format!("{:024x}", 1)))])
            } else {
                JsVal::Null
            }),
            "insert" | "insertOne" | "insertMany" | "save" => {
                let n = match args.first() {
                    Some(JsVal::Arr(items)) => items.len() as u64,
                    Some(_) => 1,
                    None => 0,
                };
                self.data.collection_mut(db, coll).docs += n;
                Ok(if legacy {
                    JsVal::Str(format!(
                        "WriteResult({{ \"nInserted\" : {} }})",
                        num(n as f64)
                    ))
                } else {
                    JsVal::Obj(vec![("acknowledged".into(), JsVal::Bool(true))])
                })
            }
            "remove" | "deleteOne" | "deleteMany" => {
                let entry = self.data.collection_mut(db, coll);
                let n = if name == "deleteOne" {
                    entry.docs.min(1)
                } else {
                    entry.docs
                };
                entry.docs -= n;
                Ok(if legacy {
                    JsVal::Str(format!("WriteResult({{ \"nRemoved\" : {n} }})"))
                } else {
                    JsVal::Obj(vec![
                        ("acknowledged".into(), JsVal::Bool(true)),
                        ("deletedCount".into(), JsVal::Num(n as f64)),
                    ])
                })
            }
            "update" | "updateOne" | "updateMany" | "replaceOne" => Ok(if legacy {
                JsVal::Str(
                    "WriteResult({ \"nMatched\" : 0, \"nUpserted\" : 0, \"nModified\" : 0 })"
                        .into(),
                )
            } else {
                JsVal::Obj(vec![("acknowledged".into(), JsVal::Bool(true))])
            }),
            "createIndex" | "ensureIndex" => {
                let key = match args.first() {
                    Some(JsVal::Obj(fields)) => fields
                        .iter()
                        .map(|(k, v)| format!("{k}_{}", to_json(v, true)))
                        .collect::<Vec<_>>()
                        .join("_"),
                    _ => "index".into(),
                };
                let entry = self.data.collection_mut(db, coll);
                let before = entry.indexes.len() + 1;
                if !entry.indexes.contains(&key) {
                    entry.indexes.push(key);
                }
                let after = entry.indexes.len() + 1;
                Ok(JsVal::Obj(vec![
                    ("createdCollectionAutomatically".into(), JsVal::Bool(false)),
                    ("numIndexesBefore".into(), JsVal::Num(before as f64)),
                    ("numIndexesAfter".into(), JsVal::Num(after as f64)),
                    ("ok".into(), JsVal::Num(1.0)),
                ]))
            }
            "getIndexes" => {
                let mut out = vec![JsVal::Obj(vec![
                    ("v".into(), JsVal::Num(2.0)),
                    (
                        "key".into(),
                        JsVal::Obj(vec![("_id".into(), JsVal::Num(1.0))]),
                    ),
                    ("name".into(), JsVal::Str("_id_".into())),
                ])];
                for i in &c.indexes {
                    out.push(JsVal::Obj(vec![
                        ("v".into(), JsVal::Num(2.0)),
                        ("name".into(), JsVal::Str(i.clone())),
                    ]));
                }
                Ok(JsVal::Arr(out))
            }
            "drop" => {
                let existed = self
                    .data
                    .dbs
                    .get_mut(db)
                    .and_then(|d| d.remove(coll))
                    .is_some();
                Ok(JsVal::Bool(existed))
            }
            _ => Ok(JsVal::Undefined),
        }
    }
}

fn echo_name(echo: &str) -> &str {
    echo.trim_start_matches("{ ")
        .split(':')
        .next()
        .unwrap_or("command")
}

fn balanced(src: &str) -> bool {
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    for c in src.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                _ => {}
            },
        }
    }
    depth <= 0 && quote.is_none()
}

fn is_db_method(name: &str) -> bool {
    matches!(
        name,
        "getName"
            | "getSiblingDB"
            | "getSisterDB"
            | "getCollection"
            | "version"
            | "getMongo"
            | "auth"
            | "logout"
            | "createUser"
            | "dropUser"
            | "removeUser"
            | "grantRolesToUser"
            | "revokeRolesFromUser"
            | "updateUser"
            | "changeUserPassword"
            | "getUsers"
            | "getUser"
            | "runCommand"
            | "adminCommand"
            | "getCollectionNames"
            | "dropDatabase"
            | "getRole"
            | "getRoles"
            | "stats"
    )
}

fn is_coll_method(name: &str) -> bool {
    matches!(
        name,
        "find"
            | "findOne"
            | "count"
            | "countDocuments"
            | "estimatedDocumentCount"
            | "insert"
            | "insertOne"
            | "insertMany"
            | "save"
            | "update"
            | "updateOne"
            | "updateMany"
            | "replaceOne"
            | "remove"
            | "deleteOne"
            | "deleteMany"
            | "createIndex"
            | "ensureIndex"
            | "getIndexes"
            | "drop"
    )
}
