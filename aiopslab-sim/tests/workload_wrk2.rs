//! The `deathstarbench/wrk2-client` image in the virtual cluster: AIOpsLab's Job runs an
//! open-loop load against what the URL reaches, as the cluster is at each moment, and prints
//! wrk2's report.

mod workload_support;

use serde_json::json;
use workload_support::{Sim, aiopslab_args, key, number_after, requests, socket_errors};

/// A script wrk2 does not know: every request is a GET of the URL's path.
const PLAIN: &str = "-- nothing special\n";

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn job_against_a_web_server_reports_rate_times_duration() {
    let sim = Sim::new(11).await;
    sim.namespace("web").await;
    sim.nginx("web", 2).await;
    sim.advance(20).await;
    let url = format!("http://{}:80", sim.cluster_ip("web", "web"));
    let argv = aiopslab_args("plain.lua", &url, 10);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    sim.advance(5).await;
    // Running (and Ready, which AIOpsLab waits for) while the test lasts; nothing printed
    // yet: wrk2's stdout is block-buffered.
    let pod = sim.wrk2_pod();
    assert_eq!(pod["status"]["phase"], "Running", "{:#}", pod["status"]);
    assert_eq!(sim.job_status()["ready"], 1);
    assert_eq!(sim.wrk2_log().await, "");
    sim.advance(30).await;
    let status = sim.job_status();
    assert_eq!(status["succeeded"], 1, "{status:#}");
    let pod = sim.wrk2_pod();
    let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(0), Some("Completed"))
    );
    let log = sim.wrk2_log().await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], format!("Running 10s test @ {url}"));
    assert_eq!(lines[1], "  2 threads and 2 connections");
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], "-".repeat(71));
    assert_eq!(lines[5], format!("Test Results @ {url} "));
    assert_eq!(
        lines[6],
        "  Thread Stats   Avg      Stdev     99%   +/- Stdev"
    );
    assert!(lines[7].starts_with("    Latency   "), "{}", lines[7]);
    assert_eq!(
        lines[8],
        "    Req/Sec       -nan      -nan   0.00      0.00%"
    );
    assert_eq!(
        lines[9],
        "  Latency Distribution (HdrHistogram - Recorded Latency)"
    );
    assert!(lines[10].starts_with(" 50.000%  "), "{}", lines[10]);
    assert!(lines[17].starts_with("100.000%  "), "{}", lines[17]);
    assert!(log.contains("\n  Detailed Percentile spectrum:\n       Value   Percentile   TotalCount 1/(1-Percentile)\n\n"));
    assert!(log.contains("#[Buckets =           27, SubBuckets     =         2048]\n"));
    let n = requests(&log);
    assert!((75..=125).contains(&n), "{n} requests:\n{log}");
    assert!(
        log.contains(&format!("  {n} requests in 10.00s, ")),
        "{log}"
    );
    assert_eq!(socket_errors(&log), [0; 4], "{log}");
    assert!(!log.contains("Non-2xx"), "{log}");
    let rps = number_after(&log, "Requests/sec:").unwrap();
    assert!((rps - n as f64 / 10.0).abs() < 0.1, "{rps} {n}");
    assert!(log.ends_with("B\n"), "{log}");
    // nginx answers in well under 2 ms.
    let p99 = log.lines().find(|l| l.starts_with(" 99.000%")).unwrap();
    assert!(p99.ends_with("ms") || p99.ends_with("us"), "{p99}");
}

#[tokio::test]
async fn a_service_without_endpoints_refuses_every_request() {
    let sim = Sim::new(12).await;
    sim.namespace("web").await;
    sim.service("web", "lonely", "nobody", 8080, 8080).await;
    let url = format!("http://{}:8080", sim.cluster_ip("web", "lonely"));
    let argv = aiopslab_args("plain.lua", &url, 10);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    sim.advance(40).await;
    assert_eq!(sim.job_status()["succeeded"], 1);
    let log = sim.wrk2_log().await;
    assert_eq!(requests(&log), 0, "{log}");
    let [connect, read, write, timeout] = socket_errors(&log);
    assert!((75..=125).contains(&connect), "{log}");
    assert_eq!((read, write, timeout), (0, 0, 0));
    assert_eq!(
        log.lines().filter(|l| *l == "reconnect_socket").count() as u64,
        connect
    );
    assert!(
        log.contains("    Latency     -nanus    -nanus   0.00us    0.00%"),
        "{log}"
    );
    assert!(log.contains("  0 requests in 10.00s, 0.00B read"), "{log}");
    assert!(log.contains("Requests/sec:      0.00  \n"), "{log}");
    // An address nothing owns is a closed port too. Without responses, each thread stops at
    // its first timeout check after the end (every 2 s): a 5 s run reports 6.00s.
    let sim = Sim::new(13).await;
    let argv = aiopslab_args("plain.lua", "http://10.96.250.250:5000", 5);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    sim.advance(40).await;
    let log = sim.wrk2_log().await;
    assert!(socket_errors(&log)[0] > 30, "{log}");
    assert!(log.contains("  0 requests in 6.00s, 0.00B read"), "{log}");
}

#[tokio::test]
async fn requests_see_the_cluster_as_it_is_when_they_are_sent() {
    let sim = Sim::new(14).await;
    sim.namespace("web").await;
    sim.nginx("web", 1).await;
    sim.advance(20).await;
    let url = format!("http://{}:80", sim.cluster_ip("web", "web"));
    let argv = aiopslab_args("plain.lua", &url, 10);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    // Wait until the load runs, then take the server away half way through.
    let mut waited = 0;
    while sim.wrk2_pod()["status"]["phase"] != "Running" {
        sim.advance_ms(100).await;
        waited += 1;
        assert!(waited < 600, "wrk2 never started");
    }
    sim.advance(5).await;
    sim.update(key("apps", "deployments"), "web", "web", |d| {
        d["spec"]["replicas"] = json!(0)
    })
    .await;
    sim.advance(30).await;
    let log = sim.wrk2_log().await;
    let ok = requests(&log);
    let refused = socket_errors(&log)[0];
    assert!((30..=70).contains(&ok), "{ok} answered:\n{log}");
    assert!((30..=70).contains(&refused), "{refused} refused:\n{log}");
}

#[tokio::test]
async fn the_report_describes_the_requested_duration_at_any_time_scale() {
    let sim = Sim::with_scale(15, 0.1).await;
    sim.namespace("web").await;
    sim.nginx("web", 1).await;
    sim.advance(5).await;
    let url = format!("http://{}:80", sim.cluster_ip("web", "web"));
    let argv = aiopslab_args("plain.lua", &url, 10);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    // A tenth of the time: 10 simulated seconds pass in one second of clock.
    sim.advance(3).await;
    assert_eq!(sim.job_status()["succeeded"], 1, "{:#}", sim.job_status());
    let log = sim.wrk2_log().await;
    assert!(
        log.starts_with(&format!("Running 10s test @ {url}\n")),
        "{log}"
    );
    let n = requests(&log);
    assert!(
        log.contains(&format!("  {n} requests in 10.00s, ")),
        "{log}"
    );
    assert!((75..=125).contains(&n), "{log}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_report() {
    async fn run(seed: u64) -> String {
        let sim = Sim::new(seed).await;
        sim.namespace("web").await;
        sim.nginx("web", 2).await;
        sim.advance(20).await;
        let url = format!("http://{}:80", sim.cluster_ip("web", "web"));
        let argv = aiopslab_args("plain.lua", &url, 5);
        sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
        sim.advance(40).await;
        sim.wrk2_log().await
    }
    let a = run(21).await;
    // A 5 s run ends with the first response after 5 s (wrk2's stop check runs every 2 s).
    assert!(a.contains(" requests in 5."), "{a}");
    assert_eq!(a, run(21).await);
    assert_ne!(a, run(22).await);
}

#[tokio::test]
async fn bad_command_lines_fail_like_wrk2() {
    let sim = Sim::new(16).await;
    sim.wrk2(
        "plain.lua",
        PLAIN,
        &[
            "wrk",
            "-t",
            "2",
            "-c",
            "2",
            "-d",
            "10s",
            "http://10.96.0.1:80",
        ],
    )
    .await;
    sim.advance(40).await;
    let pod = sim.wrk2_pod();
    assert_eq!(pod["status"]["phase"], "Failed");
    let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 1);
    let log = sim.wrk2_log().await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        "Throughput MUST be specified with the --rate or -R option"
    );
    assert!(lines[1].starts_with("Usage: wrk <options> <url>"), "{log}");
    assert!(sim.job_status()["failed"].as_i64().unwrap_or(0) >= 1);

    // A host name that does not resolve from the pod.
    let sim = Sim::new(17).await;
    let argv = aiopslab_args("plain.lua", "http://nosuch.test-hotel-reservation:5000", 10);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    sim.advance(40).await;
    let log = sim.wrk2_log().await;
    assert_eq!(
        log,
        "unable to connect to nosuch.test-hotel-reservation:5000 Name or service not known\n"
    );
}

#[tokio::test]
async fn a_missing_script_is_reported_and_the_default_request_sent() {
    let sim = Sim::new(18).await;
    sim.namespace("web").await;
    sim.nginx("web", 1).await;
    sim.advance(20).await;
    // Resolved by name from the pod's namespace search path.
    let argv: Vec<String> = aiopslab_args("other.lua", "http://web.web:80", 5);
    sim.wrk2("plain.lua", PLAIN, &args(&argv)).await;
    sim.advance(40).await;
    // The mount names other.lua, which the ConfigMap does not have: the container sees no
    // such file. wrk2 says so once per URL and once per thread, then sends its default GET.
    assert_eq!(sim.wrk2_pod()["status"]["phase"], "Succeeded");
    let log = sim.wrk2_log().await;
    let line = "/scripts/other.lua: cannot open /scripts/other.lua: No such file or directory";
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[..3], [line, line, line], "{log}");
    assert_eq!(lines[3], "Running 5s test @ http://web.web:80", "{log}");
    assert!(requests(&log) > 20, "{log}");
    assert_eq!(socket_errors(&log), [0; 4], "{log}");
}
