//! Social Network in the virtual cluster: deployed as `helm install` leaves it, the C++
//! services' logs, and faults on Services, replicas and MongoDB's TLS mode that show and heal
//! through state alone.

mod apps_support;

use aiopslab_sim::apps::flow::{EntryRequest, RequestOutcome, simulate};
use aiopslab_sim::apps::net::{ConnectError, connect};
use aiopslab_sim::resources::ResourceKey;
use apps_support::*;
use serde_json::json;

const NS: &str = "test-social-network";

fn compose(i: u64) -> EntryRequest {
    let mut r = EntryRequest::post(
        "http://localhost:8080/wrk2-api/post/compose",
        &format!(
            "username=username_{i}&user_id={i}&text=hello%20%40username_3%20http%3A%2F%2Fexample.com%2Fabc&media_ids=[\"123456789012345678\"]&media_types=[\"png\"]&post_type=0"
        ),
    );
    r.client_ip = Some("10.244.1.183".into());
    r
}

fn run(sim: &Sim, seed: u64) -> RequestOutcome {
    simulate(
        &sim.store,
        "social-network",
        &compose(seed),
        seed,
        sim.store.clock().now(),
    )
}

/// Logs the flow emitted for a container, joined.
fn flow_logs(o: &RequestOutcome, pod_prefix: &str) -> String {
    o.logs
        .iter()
        .filter(|l| l.pod.starts_with(pod_prefix))
        .map(|l| l.line.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn patch_target_port(sim: &Sim, svc: &str, port: i64) {
    sim.store
        .modify(&services(), NS, svc, |o| {
            o["spec"]["ports"][0]["targetPort"] = json!(port);
            Ok(())
        })
        .expect("patch service");
    sim.handle.settle().await;
}

async fn scale(sim: &Sim, deployment: &str, replicas: i64) {
    sim.store
        .modify(&deployments(), NS, deployment, |o| {
            o["spec"]["replicas"] = json!(replicas);
            Ok(())
        })
        .expect("scale");
    sim.advance(40).await;
}

#[tokio::test]
async fn deploys_like_helm_and_serves_compose_post() {
    let sim = Sim::new(21);
    let d = sim.deploy("social-network").await;
    assert_eq!(d.namespace, NS);
    let (deps, _) = sim.store.list(&deployments(), Some(NS));
    assert_eq!(deps.len(), 27);
    for dep in deps.iter() {
        let name = dep["metadata"]["name"].as_str().unwrap();
        assert_eq!(dep["status"]["readyReplicas"], 1, "{name}");
        assert_eq!(dep["metadata"]["labels"]["service"], name);
        assert_eq!(
            dep["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
        assert!(
            dep["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_null()
        );
        let pods = sim.pods_of(NS, name);
        assert_eq!(pods.len(), 1, "{name}");
        assert_eq!(pods[0]["metadata"]["labels"]["app"], name);
        assert_eq!(pods[0]["spec"]["containers"][0]["name"], name);
        assert_eq!(ctr_status(&pods[0])["restartCount"], 0, "{name}");
    }
    let (svcs, _) = sim.store.list(&services(), Some(NS));
    assert_eq!(svcs.len(), 27);
    assert_profiles_match(&sim, "social-network");
    let (cms, _) = sim
        .store
        .list(&ResourceKey::new("", "configmaps"), Some(NS));
    assert_eq!(cms.len(), 28, "27 charts' ConfigMaps + kube-root-ca.crt");
    let (secrets, _) = sim.store.list(&ResourceKey::new("", "secrets"), Some(NS));
    let mut secret_names: Vec<&str> = secrets
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    secret_names.sort();
    assert_eq!(
        secret_names,
        ["mongodb-tls", "sh.helm.release.v1.social-network.v1"]
    );

    // Logs as the services print them.
    let compose_logs = sim.logs(NS, &sim.pod(NS, "compose-post-service")).await;
    assert!(
        regex::Regex::new(r"^\[2026-Sep-15 12:3\d:\d\d\.\d{6}\] <info>: \(ComposePostService\.cpp:110:main\) Starting the compose-post-service server \.\.\.\n$")
            .unwrap()
            .is_match(&compose_logs),
        "{compose_logs}"
    );
    let user_logs = sim.logs(NS, &sim.pod(NS, "user-service")).await;
    assert!(regex::Regex::new(r"<info>: \(UserHandler\.h:932:GetMachineId\) MAC address = ([0-9a-f]{2}:){5}[0-9a-f]{2}\n").unwrap().is_match(&user_logs), "{user_logs}");
    assert!(
        regex::Regex::new(r"<info>: \(UserService\.cpp:63:main\) machine_id = [0-9a-f]{3}\n")
            .unwrap()
            .is_match(&user_logs),
        "{user_logs}"
    );
    assert!(
        user_logs
            .trim_end()
            .ends_with("(UserService.cpp:94:main) Starting the user-service server ..."),
        "{user_logs}"
    );
    assert_eq!(
        sim.logs(NS, &sim.pod(NS, "nginx-thrift")).await,
        "",
        "access_log off"
    );
    let mongo = sim.logs(NS, &sim.pod(NS, "url-shorten-mongodb")).await;
    assert!(mongo.contains("\"options\":{\"config\":\"/social-network-microservices/config/mongod.conf\",\"net\":{\"bindIp\":\"*\",\"tls\":{\"mode\":\"disabled\"}}}"), "{mongo}");
    assert!(mongo.contains("\"host\":\"url-shorten-mongodb\""));
    assert!(mongo.contains("\"ssl\":\"off\""));
    let redis = sim.logs(NS, &sim.pod(NS, "home-timeline-redis")).await;
    assert!(redis.contains("* Ready to accept connections"), "{redis}");

    // A post goes through the whole call graph.
    let out = run(&sim, 1);
    assert_eq!(out.status, Some(200), "{out:?}");
    assert_eq!(out.body, "Successfully upload post");
    let trace = out.trace.as_ref().expect("trace");
    assert_eq!(trace.service, "nginx-web-server");
    assert_eq!(trace.operation, "/wrk2-api/post/compose");
    assert_eq!(trace.children[0].operation, "/wrk2-api/post/compose");
    for (svc, op) in [
        ("nginx-web-server", "compose_post_client"),
        ("compose-post-service", "compose_post_server"),
        ("compose-post-service", "compose_text_client"),
        ("text-service", "compose_text_server"),
        ("url-shorten-service", "url_mongo_insert_client"),
        (
            "user-mention-service",
            "compose_user_mentions_memcached_get_client",
        ),
        ("user-service", "compose_creator_server"),
        ("media-service", "compose_media_server"),
        ("unique-id-service", "compose_unique_id_server"),
        ("post-storage-service", "post_storage_mongo_insert_client"),
        (
            "user-timeline-service",
            "write_user_timeline_redis_update_client",
        ),
        ("home-timeline-service", "get_followers_client"),
        ("social-graph-service", "get_followers_server"),
    ] {
        assert!(
            trace
                .flatten()
                .iter()
                .any(|s| s.service == svc && s.operation == op),
            "{svc} {op}"
        );
    }
    assert!(
        trace
            .tags
            .contains(&("http.status_code".into(), "200".into()))
    );
    // nginx samples 1% (jaeger-config.json in its ConfigMap).
    let sampled = (0..400).filter(|i| run(&sim, 1000 + i).sampled).count();
    assert!(sampled < 20, "{sampled} of 400 sampled");
    let missing = simulate(
        &sim.store,
        "social-network",
        &EntryRequest::post("/wrk2-api/post/compose", "username=u"),
        1,
        sim.store.clock().now(),
    );
    assert_eq!(missing.status, Some(400));
    assert_eq!(missing.body, "Incomplete arguments");
}

#[tokio::test]
async fn target_port_misconfig_refuses_and_propagates_then_recovers() {
    let sim = Sim::new(22);
    sim.deploy("social-network").await;
    assert!(connect(&sim.store, NS, "user-service", 9090).is_ok());

    patch_target_port(&sim, "user-service", 9999).await;
    let eps = sim
        .store
        .get(&ResourceKey::new("", "endpoints"), NS, "user-service")
        .unwrap();
    assert_eq!(eps["subsets"][0]["ports"][0]["port"], 9999);
    let err = connect(&sim.store, NS, "user-service", 9090).unwrap_err();
    assert!(
        matches!(err, ConnectError::Refused { port: 9090, .. }),
        "{err:?}"
    );
    let ip = sim.store.get(&services(), NS, "user-service").unwrap()["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        err.to_string(),
        format!("dial tcp {ip}:9090: connect: connection refused")
    );
    // Pods stay Running with no restarts.
    let pod = sim.pod_json(NS, &sim.pod(NS, "user-service"));
    assert_eq!(ctr_status(&pod)["ready"], true);

    let out = run(&sim, 5);
    assert_eq!(out.status, Some(500), "{out:?}");
    assert_eq!(
        out.body,
        "compost_post failure: connect() failed: Connection refused"
    );
    let cp = flow_logs(&out, "compose-post-service");
    assert!(
        regex::Regex::new(r"Thrift: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d 2026 TSocket::open\(\) connect\(\) <Host: user-service Port: 9090>: Connection refused")
            .unwrap()
            .is_match(&cp),
        "{cp}"
    );
    assert!(
        cp.contains("<error>: (ClientPool.h:114:Pop) Failed to connect user-service-client"),
        "{cp}"
    );
    let nginx = flow_logs(&out, "nginx-thrift");
    assert!(
        nginx.contains(&format!(
            "[lua] compose.lua:62: ComposePost(): compost_post failure: connect() failed: Connection refused, client: 10.244.1.183, server: localhost, request: \"POST http://localhost:8080/wrk2-api/post/compose HTTP/1.1\", host: \"{}:8080\"",
            sim.store.get(&services(), NS, "nginx-thrift").unwrap()["spec"]["clusterIP"].as_str().unwrap()
        )),
        "{nginx}"
    );
    let trace = out.trace.as_ref().unwrap();
    assert!(
        trace.error && trace.children[0].error,
        "both nginx spans carry error"
    );
    assert!(
        trace
            .tags
            .contains(&("http.status_code".into(), "500".into()))
    );
    assert!(
        trace.find("compose_creator_server").is_none(),
        "user-service was never reached"
    );
    assert!(
        trace.find("compose_post_server").is_some_and(|s| !s.error),
        "C++ spans carry no status"
    );

    patch_target_port(&sim, "user-service", 9090).await;
    assert!(connect(&sim.store, NS, "user-service", 9090).is_ok());
    assert_eq!(run(&sim, 6).status, Some(200));
}

#[tokio::test]
async fn scaled_to_zero_has_no_endpoints_and_callers_fail() {
    let sim = Sim::new(23);
    sim.deploy("social-network").await;
    scale(&sim, "user-service", 0).await;
    assert!(sim.pods_of(NS, "user-service").is_empty());
    assert!(matches!(
        connect(&sim.store, NS, "user-service", 9090),
        Err(ConnectError::Refused { .. })
    ));
    let out = run(&sim, 3);
    assert_eq!(out.status, Some(500));
    assert_eq!(
        out.body,
        "compost_post failure: connect() failed: Connection refused"
    );
    scale(&sim, "user-service", 1).await;
    assert_eq!(run(&sim, 4).status, Some(200));
}

#[tokio::test]
async fn require_tls_blocks_url_shorten_until_mongo_is_fixed() {
    let sim = Sim::new(24);
    sim.deploy("social-network").await;
    let cms = ResourceKey::new("", "configmaps");
    // The auth_miss_mongodb upgrade: requireTLS in mongod.conf, mongo restarted, and the
    // url-shorten-service pod deleted.
    sim.store
        .modify(&cms, NS, "url-shorten-mongodb", |o| {
            o["data"]["mongod.conf"] = json!(
                "net:\n  tls:\n    mode: requireTLS\n    certificateKeyFile: /etc/tls/tls.pem\n"
            );
            Ok(())
        })
        .unwrap();
    let old_mongo = sim.pod(NS, "url-shorten-mongodb");
    sim.delete_pod(NS, &old_mongo).await;
    let old_svc = sim.pod(NS, "url-shorten-service");
    sim.delete_pod(NS, &old_svc).await;
    sim.advance(60).await;
    let mongo = sim.pod(NS, "url-shorten-mongodb");
    let mlogs = sim.logs(NS, &mongo).await;
    assert!(
        mlogs.contains(
            "\"tls\":{\"certificateKeyFile\":\"/etc/tls/tls.pem\",\"mode\":\"requireTLS\"}"
        ),
        "{mlogs}"
    );
    assert!(mlogs.contains("\"ssl\":\"on\""), "{mlogs}");
    let svc = sim.pod(NS, "url-shorten-service");
    let pod = sim.pod_json(NS, &svc);
    assert_eq!(
        ctr_status(&pod)["ready"],
        true,
        "Running 1/1 while it waits"
    );
    assert_eq!(ctr_status(&pod)["restartCount"], 0);
    let logs = sim.logs(NS, &svc).await;
    assert!(logs.contains("<error>: (utils_mongodb.h:76:CreateIndex) Error in createIndexes: No suitable servers found: `serverSelectionTimeoutMS` expired: [connection closed calling ismaster on 'url-shorten-mongodb:27017']"), "{logs}");
    assert!(logs.contains(
        "<error>: (UrlShortenService.cpp:65:main) Failed to create mongodb index, try again"
    ));
    assert!(
        !logs.contains("Starting the url-shorten-service server"),
        "{logs}"
    );
    assert!(
        logs.matches("Failed to create mongodb index").count() > 10,
        "retries every ~1.3 s"
    );
    // It never listens: text-service cannot reach it and the post fails.
    let out = run(&sim, 9);
    assert_eq!(out.status, Some(500), "{out:?}");
    let text = flow_logs(&out, "text-service");
    assert!(
        text.contains("(ClientPool.h:114:Pop) Failed to connect url-shorten-service"),
        "{text}"
    );
    assert!(
        text.contains(
            "(TextHandler.h:138:ComposeText) Failed to get shortened urls from url-shorten-service"
        ),
        "{text}"
    );
    let cp = flow_logs(&out, "compose-post-service");
    assert!(cp.contains("(ComposePostHandler.h:174:_ComposeTextHelper) Failed to send compose-text to text-service"), "{cp}");

    // Fix the state any way (here: the config back and mongo restarted, the service left
    // alone): the waiting service gets through on its own.
    sim.store
        .modify(&cms, NS, "url-shorten-mongodb", |o| {
            o["data"]["mongod.conf"] = json!("net:\n  tls:\n    mode: disabled\n");
            Ok(())
        })
        .unwrap();
    sim.delete_pod(NS, &mongo).await;
    sim.advance(30).await;
    let logs = sim.logs(NS, &svc).await;
    assert!(
        logs.trim_end().ends_with(
            "(UrlShortenService.cpp:81:main) Starting the url-shorten-service server..."
        ),
        "{logs}"
    );
    assert_eq!(run(&sim, 10).status, Some(200));
}

#[tokio::test]
async fn same_seed_same_cluster_same_outcomes() {
    async fn once() -> (Vec<String>, String, Vec<(Option<u16>, i64, bool)>) {
        let sim = Sim::new(31);
        sim.deploy("social-network").await;
        let (pods, _) = sim.store.list(&pods(), Some(NS));
        let names: Vec<String> = pods
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        let logs = sim.logs(NS, &sim.pod(NS, "user-service")).await;
        let outs = (0..50)
            .map(|i| {
                let o = run(&sim, i);
                (o.status, o.latency.as_micros() as i64, o.sampled)
            })
            .collect();
        (names, logs, outs)
    }
    let a = once().await;
    let b = once().await;
    assert_eq!(a, b);
    // Different seeds give different requests.
    let lat: std::collections::BTreeSet<i64> = a.2.iter().map(|o| o.1).collect();
    assert!(lat.len() > 40, "latencies vary with the seed");
}
