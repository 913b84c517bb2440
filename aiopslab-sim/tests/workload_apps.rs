//! wrk2 against the applications: every request goes through the request flow, so a healthy
//! app answers everything and a broken one shows in the report.

mod workload_support;

use workload_support::{Sim, aiopslab_args, number_after, requests, socket_errors};

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn script(app: &str) -> (&'static str, &'static str) {
    let w = aiopslab_metadata::app(app).unwrap().workload;
    (w.script, w.text)
}

async fn run(sim: &Sim, app: &str, url: &str) -> String {
    let (name, text) = script(app);
    let argv = aiopslab_args(name, url, 10);
    sim.wrk2(name, text, &args(&argv)).await;
    sim.advance(40).await;
    assert_eq!(sim.job_status()["succeeded"], 1, "{:#}", sim.job_status());
    sim.wrk2_log().await
}

#[tokio::test]
async fn hotel_reservation_answers_the_mixed_workload() {
    let sim = Sim::new(31).await;
    let ns = sim.deploy("hotel-reservation").await;
    let url = format!("http://{}:5000", sim.cluster_ip(&ns, "frontend"));
    let log = run(&sim, "hotel-reservation", &url).await;
    let n = requests(&log);
    assert!((75..=125).contains(&n), "{n}:\n{log}");
    assert_eq!(socket_errors(&log), [0; 4], "{log}");
    assert!(!log.contains("Non-2xx"), "{log}");
    // The frontend's answers are JSON documents, not nginx's welcome page.
    let read = log.lines().find(|l| l.contains(" requests in ")).unwrap();
    assert!(read.contains("KB read"), "{read}");
    let p50 = log.lines().find(|l| l.starts_with(" 50.000%")).unwrap();
    assert!(p50.ends_with("ms") || p50.ends_with("us"), "{p50}");
    // Every request reached telemetry (traces, service logs, request metrics).
    let recorded = sim
        .store
        .extension::<aiopslab_sim::telemetry::derive::RequestLog>()
        .recorded();
    assert!(
        recorded >= n && recorded <= n + 4,
        "{recorded} recorded, {n} answered"
    );
}

#[tokio::test]
async fn hotel_reservation_without_geo_fails_searches() {
    let sim = Sim::new(32).await;
    let ns = sim.deploy("hotel-reservation").await;
    sim.scale(&ns, "geo", 0).await;
    sim.advance(30).await;
    let url = format!("http://{}:5000", sim.cluster_ip(&ns, "frontend"));
    let log = run(&sim, "hotel-reservation", &url).await;
    let n = requests(&log) as f64;
    let failed = number_after(&log, "Non-2xx or 3xx responses:").unwrap_or(0.0);
    // Searches (60%) need geo; recommendations, logins and reservations do not.
    assert!(
        failed / n > 0.4 && failed / n < 0.8,
        "{failed} of {n}:\n{log}"
    );
}

#[tokio::test]
async fn social_network_composes_posts_until_a_target_port_breaks() {
    let sim = Sim::new(33).await;
    let ns = sim.deploy("social-network").await;
    let ip = sim.cluster_ip(&ns, "nginx-thrift");
    let url = format!("http://{ip}:8080/wrk2-api/post/compose");
    let log = run(&sim, "social-network", &url).await;
    assert!(
        log.starts_with(&format!("Running 10s test @ {url}\n")),
        "{log}"
    );
    assert!(requests(&log) > 70, "{log}");
    assert_eq!(socket_errors(&log), [0; 4], "{log}");
    assert!(!log.contains("Non-2xx"), "{log}");

    let sim = Sim::new(34).await;
    let ns = sim.deploy("social-network").await;
    sim.update(
        workload_support::key("", "services"),
        &ns,
        "user-service",
        |s| s["spec"]["ports"][0]["targetPort"] = serde_json::json!(9999),
    )
    .await;
    let url = format!(
        "http://{}:8080/wrk2-api/post/compose",
        sim.cluster_ip(&ns, "nginx-thrift")
    );
    let log = run(&sim, "social-network", &url).await;
    let n = requests(&log) as f64;
    let failed = number_after(&log, "Non-2xx or 3xx responses:").unwrap_or(0.0);
    assert!(n > 70.0 && failed == n, "{failed} of {n}:\n{log}");
}
