//! The `mongo` and `mongosh` shells against one data directory: arguments, access control,
//! the user-management helpers, `runCommand`, interactive input and the shells' output.

use aiopslab_sim::apps::World;
use aiopslab_sim::apps::mongo::shell::{ShellSetup, ShellTarget, run};
use aiopslab_sim::apps::state::TlsMode;
use std::collections::BTreeMap;

struct Fixture {
    world: World,
    files: BTreeMap<String, String>,
    auth: bool,
    tls: TlsMode,
    banner: Vec<String>,
}

impl Fixture {
    fn new(auth: bool) -> Self {
        Fixture {
            world: World::default(),
            files: BTreeMap::from([(
                "/scripts/grant.js".to_string(),
                "db.getSiblingDB('admin').grantRolesToUser('app', [{role: 'readWrite', db: 'shop'}]);\nprint('granted')\n".to_string(),
            )]),
            auth,
            tls: TlsMode::Disabled,
            banner: vec![
                "MongoDB shell version ${shell_version}".into(),
                "connecting to: ${uri}".into(),
                "Implicit session: session { \"id\" : UUID(\"${session}\") }".into(),
                "MongoDB server version: ${version}".into(),
            ],
        }
    }

    fn sh(&self, argv: &[&str], stdin: Option<&str>) -> (i32, String) {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let target = ShellTarget {
            data_key: "pv:test".into(),
            auth: self.auth,
            tls: self.tls,
            localhost: true,
        };
        let resolve = |host: &str, _port: u16| {
            if host == "127.0.0.1" || host == "localhost" {
                Ok(target.clone())
            } else {
                Err("Connection refused".to_string())
            }
        };
        let setup = ShellSetup {
            world: &self.world,
            version: "4.4.6",
            shell_version: "v4.4.6",
            banner: &self.banner,
            files: &self.files,
            stdin,
            resolve: &resolve,
            seed: 1,
        };
        let out = run(&argv, &setup);
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

#[test]
fn localhost_exception_then_access_control() {
    let f = Fixture::new(true);
    // No users yet: the first user may be created in admin without authentication.
    let (code, out) = f.sh(
        &[
            "mongo",
            "admin",
            "--quiet",
            "--eval",
            "db.createUser({user: 'root', pwd: 'root', roles: ['root']})",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "Successfully added user: { \"user\" : \"root\", \"roles\" : [ \"root\" ] }\n"
    );
    // Now it is closed.
    let (code, out) = f.sh(
        &["mongo", "admin", "--quiet", "--eval", "db.getUsers()"],
        None,
    );
    assert_eq!(code, 252, "{out}");
    assert!(out.starts_with("uncaught exception: Error: command usersInfo requires authentication :\n_getErrorWithCode@src/mongo/shell/utils.js:25:13\nDB.prototype.getUsers@"), "{out}");
    assert!(
        out.ends_with("@(shell eval):1:1\nexiting with code -4\n"),
        "{out}"
    );
    // Wrong password.
    let (code, out) = f.sh(
        &[
            "mongo",
            "-u",
            "root",
            "-p",
            "nope",
            "--authenticationDatabase",
            "admin",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "MongoDB shell version v4.4.6\nconnecting to: mongodb://127.0.0.1:27017/?authSource=admin&compressors=disabled&gssapiServiceName=mongodb\nError: Authentication failed. :\nconnect@src/mongo/shell/mongo.js:374:17\n@(connect):2:6\nexception: connect failed\nexiting with code 1\n"
    );
}

#[test]
fn user_management_helpers() {
    let f = Fixture::new(true);
    let root = [
        "mongo",
        "admin",
        "-u",
        "root",
        "-p",
        "root",
        "--authenticationDatabase",
        "admin",
        "--quiet",
        "--eval",
    ];
    let with = |js: &str| {
        let mut a: Vec<&str> = root.to_vec();
        a.push(js);
        f.sh(&a, None)
    };
    f.sh(
        &[
            "mongo",
            "admin",
            "--eval",
            "db.createUser({user: 'root', pwd: 'root', roles: ['root']})",
        ],
        None,
    );
    let (code, out) =
        with("db.createUser({user: 'app', pwd: 'pw', roles: [{role: 'read', db: 'shop'}]})");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("Successfully added user: {\n\t\"user\" : \"app\",\n\t\"roles\" : [\n\t\t{\n\t\t\t\"role\" : \"read\",\n\t\t\t\"db\" : \"shop\"\n\t\t}\n\t]\n}"), "{out}");
    // Duplicate, unknown role, unknown user.
    let (_, out) = with("db.createUser({user: 'app', pwd: 'x', roles: []})");
    assert!(
        out.starts_with(
            "uncaught exception: Error: couldn't add user: User \"app@admin\" already exists :"
        ),
        "{out}"
    );
    let (_, out) = with("db.grantRolesToUser('app', [{role: 'superuser', db: 'shop'}])");
    assert!(
        out.starts_with("uncaught exception: Error: Could not find role: superuser@shop :"),
        "{out}"
    );
    let (_, out) = with("db.grantRolesToUser('ghost', ['readWrite'])");
    assert!(
        out.contains("Could not find user \"ghost\" for db \"admin\""),
        "{out}"
    );
    // Grant, revoke and read back through a script file and runCommand.
    let mut a: Vec<&str> = root[..8].to_vec();
    a.push("/scripts/grant.js");
    let (code, out) = f.sh(&a, None);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "MongoDB shell version v4.4.6\nconnecting to: mongodb://127.0.0.1:27017/admin?authSource=admin&compressors=disabled&gssapiServiceName=mongodb\nImplicit session: session { \"id\" : UUID(\"9e3779b9-7f4a-4c15-aa4c-15d8bcc91fc7\") }\nMongoDB server version: 4.4.6\ngranted\n"
        )
    );
    let (_, out) = with("db.runCommand({usersInfo: 'app'}).users[0].roles");
    assert!(
        out.contains("\"role\" : \"readWrite\"") && out.contains("\"role\" : \"read\""),
        "{out}"
    );
    with("db.revokeRolesFromUser('app', [{role: 'read', db: 'shop'}])");
    let (_, out) = with("db.getUser('app').roles");
    assert!(
        !out.contains("\"read\"") && out.contains("readWrite"),
        "{out}"
    );
    // runCommand returns errors as documents in the legacy shell.
    let (code, out) = with("db.runCommand({frobnicate: 1})");
    assert_eq!(code, 0);
    assert!(
        out.contains("\"errmsg\" : \"no such command: 'frobnicate'\"")
            && out.contains("\"code\" : 59"),
        "{out}"
    );
    // The user's own privileges: read/write on shop, nothing on admin.
    let app = [
        "mongo",
        "shop",
        "-u",
        "app",
        "-p",
        "pw",
        "--authenticationDatabase",
        "admin",
        "--quiet",
        "--eval",
    ];
    let (_, out) = f.sh(
        &[&app[..], &["db.orders.insert({a: 1}); db.orders.count()"]].concat(),
        None,
    );
    assert_eq!(out, "1\n");
    let (_, out) = f.sh(
        &[&app[..], &["db.getSiblingDB('admin').getUsers()"]].concat(),
        None,
    );
    assert!(
        out.contains("not authorized on admin to execute command { usersInfo: 1.0"),
        "{out}"
    );
    assert_eq!(with("db.dropUser('app')").1, "true\n");
    assert_eq!(with("db.dropUser('app')").1, "false\n");
}

#[test]
fn interactive_input_and_mongosh() {
    let f = Fixture::new(false);
    let (code, out) = f.sh(
        &["mongo", "--quiet"],
        Some("use shop\ndb.createUser({\n  user: 'u',\n  pwd: 'p',\n  roles: []\n})\nshow users\ndb.auth('u', 'p')\ndb.auth('u', 'bad')\n"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("switched to db shop\nSuccessfully added user: { \"user\" : \"u\", \"roles\" : [ ] }\n{\n\t\"_id\" : \"shop.u\""), "{out}");
    assert!(
        out.ends_with("1\nError: Authentication failed.\n0\nbye\n"),
        "{out}"
    );
    let (code, out) = f.sh(
        &["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1})"],
        None,
    );
    assert_eq!((code, out.as_str()), (0, "{ ok: 1 }\n"));
    let (code, out) = f.sh(&["mongosh", "admin", "-u", "x", "-p", "y", "--quiet"], None);
    assert_eq!(code, 1);
    assert_eq!(out, "MongoServerError: Authentication failed.\n");
    let (code, out) = f.sh(
        &["mongo", "--quiet", "--eval", "db.createUser({user: }"],
        None,
    );
    assert_eq!(code, 252);
    assert!(
        out.starts_with("uncaught exception: SyntaxError: "),
        "{out}"
    );
    let (code, out) = f.sh(&["mongo", "--host", "elsewhere", "--quiet"], None);
    assert_eq!(code, 1);
    assert!(
        out.contains("couldn't connect to server elsewhere:27017"),
        "{out}"
    );
    let (code, out) = f.sh(&["mongo", "--bogus"], None);
    assert_eq!(code, 2);
    assert!(out.contains("unrecognised option '--bogus'"), "{out}");
}

#[test]
fn require_tls_refuses_plain_clients() {
    let mut f = Fixture::new(false);
    f.tls = TlsMode::Require;
    let (code, out) = f.sh(&["mongo", "--quiet", "--eval", "1"], None);
    assert_eq!(code, 1);
    assert!(out.contains("Error: network error while attempting to run command 'isMaster' on host '127.0.0.1:27017'"), "{out}");
    let (code, out) = f.sh(&["mongo", "--tls", "--quiet", "--eval", "1"], None);
    assert_eq!((code, out.as_str()), (0, "1\n"));
}
