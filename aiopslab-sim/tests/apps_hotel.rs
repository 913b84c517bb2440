//! Hotel Reservation in the virtual cluster: deployed as AIOpsLab deploys it, the logs of the
//! real services, and faults that act on MongoDB's users (revoke_auth,
//! storage_user_unregistered) showing and healing through state alone.

mod apps_support;

use aiopslab_sim::apps::flow::{EntryRequest, SpanKind, simulate};
use aiopslab_sim::apps::net::{ConnectError, connect};
use apps_support::*;

const NS: &str = "test-hotel-reservation";

const DEPLOYMENTS: [&str; 19] = [
    "consul",
    "frontend",
    "geo",
    "jaeger",
    "memcached-profile",
    "memcached-rate",
    "memcached-reserve",
    "mongodb-geo",
    "mongodb-profile",
    "mongodb-rate",
    "mongodb-recommendation",
    "mongodb-reservation",
    "mongodb-user",
    "profile",
    "rate",
    "recommendation",
    "reservation",
    "search",
    "user",
];

fn hotels() -> EntryRequest {
    EntryRequest::get(
        "http://localhost:5000/hotels?inDate=2015-04-09&outDate=2015-04-10&lat=38.0235&lon=-122.095",
    )
}

fn recommendations() -> EntryRequest {
    EntryRequest::get("http://localhost:5000/recommendations?require=rate&lat=38.0235&lon=-122.095")
}

/// The lines of `text` contain `expected` in this order (other lines may come between).
fn assert_in_order(text: &str, expected: &[&str]) {
    let mut lines = text.lines();
    for e in expected {
        assert!(
            lines.any(|l| l.contains(e)),
            "missing (in order) {e:?} in:\n{text}"
        );
    }
}

#[tokio::test]
async fn deploys_like_aiopslab_and_logs_like_the_services() {
    let sim = Sim::new(11);
    let d = sim.deploy("hotel-reservation").await;
    assert_eq!(d.namespace, NS);

    // 19 deployments, all 1/1, named and labelled as kompose writes them.
    let (deps, _) = sim.store.list(&deployments(), Some(NS));
    let mut names: Vec<&str> = deps
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, DEPLOYMENTS);
    for d in deps.iter() {
        let name = d["metadata"]["name"].as_str().unwrap();
        assert_eq!(d["status"]["readyReplicas"], 1, "{name}");
        assert_eq!(d["metadata"]["labels"]["io.kompose.service"], name);
        assert!(
            d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string(),
            "{name}: applied with kubectl"
        );
    }
    let (svcs, _) = sim.store.list(&services(), Some(NS));
    assert_eq!(svcs.len(), 20);
    assert_profiles_match(&sim, "hotel-reservation");

    // Containers, images, commands and ports.
    let geo = sim.pod(NS, "geo");
    let pod = sim.pod_json(NS, &geo);
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["name"], "hotel-reserv-geo");
    assert_eq!(c["image"], "yinfangchen/hotelreservation:latest");
    assert_eq!(c["command"][0], "geo");
    assert_eq!(c["ports"][0]["containerPort"], 8083);
    assert_eq!(pod["metadata"]["labels"]["io.kompose.service"], "geo");
    assert!(pod["metadata"]["labels"]["pod-template-hash"].is_string());
    assert_eq!(ctr_status(&pod)["ready"], true);
    assert_eq!(ctr_status(&pod)["restartCount"], 0);

    // The Go services print their startup sequence.
    let logs = sim.logs(NS, &geo).await;
    assert!(
        logs.starts_with("{\"level\":\"info\",\"time\":\"2026-09-15T12:3"),
        "{logs}"
    );
    assert_in_order(
        &logs,
        &[
            "\"message\":\"TLS disabled.\"",
            "INF cmd/geo/main.go:23 > Reading config...",
            "INF cmd/geo/main.go:36 > Read database URL: mongodb-geo:27017",
            "INF cmd/geo/main.go:37 > Initializing DB connection...",
            "INF cmd/geo/db.go:29 > New session successfull...",
            "INF cmd/geo/db.go:31 > Generating test data...",
            "INF cmd/geo/main.go:40 > Successfull",
            "INF cmd/geo/main.go:45 > Read target port: 8083",
            "INF tracing/tracer.go:26 > Jaeger client: adjusted sample ratio 1.000000",
            "INF cmd/geo/main.go:79 > Starting server...",
            "INF registry/registry.go:91 > Trying to register service [ name: srv-geo, id: ",
            "INF services/geo/server.go:110 > Successfully registered in consul",
        ],
    );
    let ip = pod["status"]["podIP"].as_str().unwrap();
    assert!(logs.contains(&format!("address: {ip}:8083 ]")), "{logs}");
    let frontend = sim.logs(NS, &sim.pod(NS, "frontend")).await;
    assert_in_order(
        &frontend,
        &[
            "INF cmd/frontend/main.go:39 > Read target port: 5000",
            "INF services/frontend/server.go:140 > srv-search.",
            "INF services/frontend/server.go:140 > srv-reservation.",
            "INF services/frontend/server.go:65 > Successfull",
            "INF services/frontend/server.go:87 > Serving http",
        ],
    );
    let reservation = sim.logs(NS, &sim.pod(NS, "reservation")).await;
    assert!(
        !reservation.contains("Generating test data"),
        "{reservation}"
    );

    // MongoDB: the init script ran once on the fresh volume, then mongod started with --auth.
    let mongo = sim.logs(NS, &sim.pod(NS, "mongodb-geo")).await;
    assert_in_order(
        &mongo,
        &[
            "/usr/local/bin/docker-entrypoint.sh: running /docker-entrypoint-initdb.d/k8s-geo-mongo.sh",
            "Waiting for MongoDB to start...",
            "Creating admin user...",
            "Successfully added user: {",
            "Granting readWrite role to admin on geo-db database...",
            "Initialization script completed",
            "\"msg\":\"MongoDB starting\"",
            "\"options\":{\"net\":{\"bindIp\":\"*\"},\"security\":{\"authorization\":\"enabled\"}}",
            "\"msg\":\"Waiting for connections\",\"attr\":{\"port\":27017,\"ssl\":\"off\"}",
        ],
    );
    let (_, main) = mongo
        .split_once("MongoDB init process complete; ready for start up.")
        .expect("the init finished");
    assert!(!main.contains("Access control is not enabled"), "{main}");
    let profile_db = sim.logs(NS, &sim.pod(NS, "mongodb-profile")).await;
    assert!(profile_db.contains("Access control is not enabled"));
    assert!(
        profile_db.contains("\"host\":\"profile-db\""),
        "hostname from the pod spec"
    );
    assert_eq!(sim.logs(NS, &sim.pod(NS, "memcached-rate")).await, "");

    // Requests succeed and produce the documented trace.
    let out = simulate(
        &sim.store,
        "hotel-reservation",
        &hotels(),
        1,
        sim.clock_now(),
    );
    assert_eq!(out.status, Some(200), "{out:?}");
    assert!(out.sampled, "JAEGER_SAMPLE_RATIO=1 samples everything");
    let trace = out.trace.expect("trace");
    assert_eq!(trace.service, "frontend");
    assert_eq!(trace.operation, "HTTP GET /hotels");
    assert_eq!(trace.kind, SpanKind::Server);
    let ops: Vec<(String, String)> = trace
        .flatten()
        .iter()
        .map(|s| (s.service.clone(), s.operation.clone()))
        .collect();
    for (svc, op) in [
        ("frontend", "/search.Search/Nearby"),
        ("search", "/search.Search/Nearby"),
        ("search", "/geo.Geo/Nearby"),
        ("geo", "/geo.Geo/Nearby"),
        ("rate", "/rate.Rate/GetRates"),
        ("rate", "memcached_get_multi_rate"),
        ("reservation", "/reservation.Reservation/CheckAvailability"),
        ("profile", "/profile.Profile/GetProfiles"),
        ("profile", "memcached_get_profile"),
    ] {
        assert!(
            ops.contains(&(svc.to_string(), op.to_string())),
            "{svc} {op} missing from {ops:?}"
        );
    }
    assert!(trace.flatten().iter().all(|s| !s.error));
    let bad = simulate(
        &sim.store,
        "hotel-reservation",
        &EntryRequest::get("/hotels?lat=1&lon=2"),
        1,
        sim.clock_now(),
    );
    assert_eq!(bad.status, Some(400));
    assert_eq!(bad.body, "Please specify inDate/outDate params\n");
}

#[tokio::test]
async fn revoked_role_crash_loops_geo_and_regrant_recovers() {
    let sim = Sim::new(12);
    sim.deploy("hotel-reservation").await;
    let mongo = sim.pod(NS, "mongodb-geo");

    // AIOpsLab's injector: run the ConfigMap script in the mongo pod, then delete geo's pod.
    let revoke = sim
        .exec(
            NS,
            &mongo,
            &["/bin/bash", "/scripts/revoke-admin-geo-mongo.sh"],
        )
        .await;
    let text = out(&revoke);
    assert_eq!(revoke.exit_code, 0, "{text}");
    assert_in_order(
        &text,
        &[
            "Downgrading admin user privileges...",
            "MongoDB shell version v4.4.6",
            "connecting to: mongodb://127.0.0.1:27017/admin?authSource=admin&compressors=disabled&gssapiServiceName=mongodb",
            "MongoDB server version: 4.4.6",
            "Privileges downgraded",
        ],
    );
    let old_geo = sim.pod(NS, "geo");
    sim.delete_pod(NS, &old_geo).await;
    sim.advance(90).await;
    let geo = sim.pod(NS, "geo");
    assert_ne!(geo, old_geo);
    let pod = sim.pod_json(NS, &geo);
    let st = ctr_status(&pod);
    assert!(st["restartCount"].as_i64().unwrap() >= 2, "{st}");
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 1, "{st}");
    assert_eq!(st["ready"], false);
    let logs = sim.previous_logs(NS, &geo).await;
    assert!(
        logs.trim_end().ends_with(
            "FTL cmd/geo/db.go:35 > not authorized on geo-db to execute command { count: \"geo\", query: { hotelId: \"1\" }, $db: \"geo-db\" }"
        ),
        "{logs}"
    );
    assert!(logs.contains("INF cmd/geo/db.go:29 > New session successfull..."));
    // Requests that need geo fail at the front end; recommendations do not need it.
    let out1 = simulate(
        &sim.store,
        "hotel-reservation",
        &hotels(),
        2,
        sim.clock_now(),
    );
    assert_eq!(out1.status, Some(500), "{out1:?}");
    assert!(
        out1.body.starts_with("rpc error: code = Unavailable"),
        "{}",
        out1.body
    );
    let trace = out1.trace.expect("trace");
    assert!(trace.error);
    assert!(trace.find("/geo.Geo/Nearby").is_some_and(|s| s.error));
    let rec = simulate(
        &sim.store,
        "hotel-reservation",
        &recommendations(),
        2,
        sim.clock_now(),
    );
    assert_eq!(rec.status, Some(200), "{rec:?}");

    // The mitigation script and a new pod: geo runs again.
    let fix = sim
        .exec(
            NS,
            &mongo,
            &["/bin/bash", "/scripts/revoke-mitigate-admin-geo-mongo.sh"],
        )
        .await;
    assert!(
        out(&fix).contains("Privilege restored successfully"),
        "{}",
        out(&fix)
    );
    sim.delete_pod(NS, &geo).await;
    sim.advance(30).await;
    let geo = sim.pod(NS, "geo");
    let pod = sim.pod_json(NS, &geo);
    assert_eq!(ctr_status(&pod)["ready"], true, "{}", ctr_status(&pod));
    assert_eq!(ctr_status(&pod)["restartCount"], 0);
    assert!(
        sim.logs(NS, &geo)
            .await
            .contains("Successfully registered in consul")
    );
    let ok = simulate(
        &sim.store,
        "hotel-reservation",
        &hotels(),
        3,
        sim.clock_now(),
    );
    assert_eq!(ok.status, Some(200), "{ok:?}");
}

#[tokio::test]
async fn dropped_user_panics_geo_and_recreating_it_recovers() {
    let sim = Sim::new(13);
    sim.deploy("hotel-reservation").await;
    let mongo = sim.pod(NS, "mongodb-geo");
    let drop = sim
        .exec(NS, &mongo, &["/bin/bash", "/scripts/remove-admin-mongo.sh"])
        .await;
    assert_in_order(
        &out(&drop),
        &[
            "Removing admin user...",
            "true",
            "Admin user removed successfully",
        ],
    );
    // The user is gone: the shell cannot log in as admin any more.
    let login = sim
        .exec(
            NS,
            &mongo,
            &[
                "mongo",
                "admin",
                "-u",
                "admin",
                "-p",
                "admin",
                "--authenticationDatabase",
                "admin",
                "--eval",
                "db.getUsers()",
            ],
        )
        .await;
    assert_eq!(login.exit_code, 1);
    assert!(
        out(&login)
            .contains("Error: Authentication failed. :\nconnect@src/mongo/shell/mongo.js:374:17"),
        "{}",
        out(&login)
    );

    let old = sim.pod(NS, "geo");
    sim.delete_pod(NS, &old).await;
    sim.advance(60).await;
    let geo = sim.pod(NS, "geo");
    let pod = sim.pod_json(NS, &geo);
    let st = ctr_status(&pod);
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 2, "{st}");
    let logs = sim.previous_logs(NS, &geo).await;
    assert_in_order(
        &logs,
        &[
            "INF cmd/geo/main.go:37 > Initializing DB connection...",
            "PNC cmd/geo/db.go:26 > server returned error on SASL authentication step: Authentication failed.",
            "panic: server returned error on SASL authentication step: Authentication failed.",
            "goroutine 1 [running]:",
            "/go/src/github.com/harlow/go-micro-services/cmd/geo/db.go:26 +0x167",
        ],
    );
    assert!(!logs.contains("New session successfull"));

    let fix = sim
        .exec(
            NS,
            &mongo,
            &["/bin/bash", "/scripts/remove-mitigate-admin-geo-mongo.sh"],
        )
        .await;
    assert_in_order(
        &out(&fix),
        &[
            "Recreating admin user...",
            "Successfully added user:",
            "Admin user recreated",
            "Privileges restored successfully",
        ],
    );
    sim.delete_pod(NS, &geo).await;
    sim.advance(30).await;
    let geo = sim.pod(NS, "geo");
    assert_eq!(ctr_status(&sim.pod_json(NS, &geo))["ready"], true);
}

#[tokio::test]
async fn mongo_state_persists_on_the_claim_and_the_shell_enforces_roles() {
    let sim = Sim::new(14);
    sim.deploy("hotel-reservation").await;
    let mongo = sim.pod(NS, "mongodb-rate");
    // Without credentials, an auth-enabled mongod refuses user management.
    let anon = sim
        .exec(
            NS,
            &mongo,
            &[
                "mongo",
                "admin",
                "--quiet",
                "--eval",
                "db.createUser({user: 'x', pwd: 'y', roles: []})",
            ],
        )
        .await;
    assert_ne!(anon.exit_code, 0);
    assert!(out(&anon).contains("uncaught exception: Error: couldn't add user: command createUser requires authentication :"), "{}", out(&anon));
    // root may read the users; the roles are the init script's.
    let users = sim
        .exec(
            NS,
            &mongo,
            &[
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
                "db.getUser('admin').roles",
            ],
        )
        .await;
    let text = out(&users);
    assert!(
        text.contains("\"role\" : \"readWrite\"") && text.contains("\"db\" : \"rate-db\""),
        "{text}"
    );
    // A user that lacks the privilege gets MongoDB's error.
    sim.exec(
        NS,
        &mongo,
        &[
            "mongo",
            "admin",
            "-u",
            "root",
            "-p",
            "root",
            "--authenticationDatabase",
            "admin",
            "--eval",
            "db.createUser({user: 'reader', pwd: 'r', roles: [{role: 'read', db: 'rate-db'}]})",
        ],
    )
    .await;
    let denied = sim
        .exec(
            NS,
            &mongo,
            &[
                "mongo",
                "rate-db",
                "-u",
                "reader",
                "-p",
                "r",
                "--authenticationDatabase",
                "admin",
                "--quiet",
                "--eval",
                "db.inventory.insert({hotelId: '99'})",
            ],
        )
        .await;
    assert!(
        out(&denied).starts_with("WriteCommandError({")
            && out(&denied).contains(
                r#"not authorized on rate-db to execute command { insert: \"inventory\""#
            ),
        "{}",
        out(&denied)
    );
    let count = sim
        .exec(
            NS,
            &mongo,
            &[
                "mongo",
                "rate-db",
                "-u",
                "reader",
                "-p",
                "r",
                "--authenticationDatabase",
                "admin",
                "--quiet",
                "--eval",
                "db.inventory.count()",
            ],
        )
        .await;
    assert_eq!(
        out(&count).trim(),
        "27",
        "rate seeded 27 inventory documents"
    );
    // Revoke, then replace the mongo pod: the claim keeps the data, the init does not re-run.
    sim.exec(
        NS,
        &mongo,
        &["/bin/bash", "/scripts/revoke-admin-rate-mongo.sh"],
    )
    .await;
    sim.delete_pod(NS, &mongo).await;
    sim.advance(40).await;
    let mongo2 = sim.pod(NS, "mongodb-rate");
    assert_ne!(mongo, mongo2);
    let logs = sim.logs(NS, &mongo2).await;
    assert!(!logs.contains("docker-entrypoint.sh: running"), "{logs}");
    let roles = sim
        .exec(
            NS,
            &mongo2,
            &[
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
                "db.getUser('admin').roles",
            ],
        )
        .await;
    assert!(
        !out(&roles).contains("rate-db"),
        "the revoke survived: {}",
        out(&roles)
    );
}

#[tokio::test]
async fn connect_follows_dns_services_and_endpoints() {
    let sim = Sim::new(15);
    sim.deploy("hotel-reservation").await;
    let t = connect(&sim.store, NS, "geo", 8083).expect("geo:8083");
    assert_eq!(t.service.as_ref().unwrap().name, "geo");
    assert!(t.pod.name.starts_with("geo-"));
    assert_eq!(t.container.as_deref(), Some("hotel-reserv-geo"));
    for host in [
        "geo.test-hotel-reservation",
        "geo.test-hotel-reservation.svc.cluster.local",
    ] {
        assert!(connect(&sim.store, "default", host, 8083).is_ok(), "{host}");
    }
    assert!(matches!(
        connect(&sim.store, "default", "geo", 8083),
        Err(ConnectError::NxDomain { .. })
    ));
    // A port the Service does not have: nothing answers.
    assert!(matches!(
        connect(&sim.store, NS, "mongodb-geo", 27777),
        Err(ConnectError::Timeout { .. })
    ));
    // Pod IPs can be dialled directly; a port nothing listens on is refused.
    let ip = t.pod.ip.clone();
    assert!(connect(&sim.store, NS, &ip, 8083).is_ok());
    assert!(matches!(
        connect(&sim.store, NS, &ip, 9999),
        Err(ConnectError::Refused { .. })
    ));
}

trait Now {
    fn clock_now(&self) -> jiff::Timestamp;
}

impl Now for Sim {
    fn clock_now(&self) -> jiff::Timestamp {
        self.store.clock().now()
    }
}

#[tokio::test]
async fn wrong_database_port_in_the_image_times_out_then_panics() {
    let sim = Sim::new(16);
    sim.deploy("hotel-reservation").await;
    let old = sim.pod(NS, "geo");
    // AIOpsLab's misconfig_app: the container's image becomes yinfangchen/geo:app3.
    sim.store
        .modify(&deployments(), NS, "geo", |o| {
            o["spec"]["template"]["spec"]["containers"][0]["image"] =
                serde_json::json!("yinfangchen/geo:app3");
            Ok(())
        })
        .unwrap();
    sim.advance(40).await;
    let pods = sim.pods_of(NS, "geo");
    let new = pods
        .iter()
        .find(|p| p["spec"]["containers"][0]["image"] == "yinfangchen/geo:app3")
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .expect("a pod of the new template");
    assert_ne!(new, old);
    let logs = sim.previous_logs(NS, &new).await;
    assert_in_order(
        &logs,
        &[
            "INF cmd/geo/main.go:36 > Read database URL: mongodb-geo:27777",
            "INF cmd/geo/main.go:37 > Initializing DB connection...",
            "PNC cmd/geo/db.go:26 > no reachable servers",
            "panic: no reachable servers",
        ],
    );
    // The panic comes ~10 s after the dial started (mgo's timeout).
    let st = &sim.pod_json(NS, &new)["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(st["exitCode"], 2, "{st}");
    let started: jiff::Timestamp = st["startedAt"].as_str().unwrap().parse().unwrap();
    let finished: jiff::Timestamp = st["finishedAt"].as_str().unwrap().parse().unwrap();
    let took = finished.duration_since(started).as_secs();
    assert!((10..=11).contains(&took), "{took} s");
}

#[tokio::test]
async fn network_chaos_hook_reaches_requests() {
    use aiopslab_sim::apps::World;
    use aiopslab_sim::apps::net::{NetEffect, NetworkChaos, Peer, PodRef};
    use std::sync::Arc;
    struct Partition;
    impl NetworkChaos for Partition {
        fn effect(&self, _: &Peer, to: &PodRef, _: u16, _: jiff::Timestamp) -> NetEffect {
            NetEffect {
                partition: to.labels.get("io.kompose.service").map(String::as_str) == Some("user"),
                ..NetEffect::default()
            }
        }
    }
    let sim = Sim::new(17);
    sim.deploy("hotel-reservation").await;
    let login = EntryRequest::post("/user?username=Cornell_1&password=1111111111", "");
    let ok = simulate(&sim.store, "hotel-reservation", &login, 1, sim.clock_now());
    assert_eq!(ok.status, Some(200), "{ok:?}");
    assert_eq!(ok.body, "{\"message\": \"Login successfully!\"}");
    World::of(&sim.store).set_network_chaos(Some(Arc::new(Partition)));
    let cut = simulate(&sim.store, "hotel-reservation", &login, 1, sim.clock_now());
    assert_eq!(cut.status, Some(500), "{cut:?}");
    assert!(cut.body.contains("i/o timeout"), "{}", cut.body);
    assert!(matches!(
        connect(&sim.store, NS, "user", 8086),
        Err(ConnectError::Timeout { .. })
    ));
    // Other services are untouched.
    assert_eq!(
        simulate(
            &sim.store,
            "hotel-reservation",
            &hotels(),
            1,
            sim.clock_now()
        )
        .status,
        Some(200)
    );
    World::of(&sim.store).set_network_chaos(None);
    assert_eq!(
        simulate(&sim.store, "hotel-reservation", &login, 1, sim.clock_now()).status,
        Some(200)
    );
}
