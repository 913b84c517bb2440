//! Readiness and liveness probes run on their own timers while a container runs, as the real
//! kubelet's prober does: exec probes see files written by earlier `kubectl exec` commands,
//! TCP and HTTP probes see the ports the run listens on now, and a pod becomes Ready or
//! NotReady (or is restarted) when that changes.

mod controllers_support;

use aiopslab_sim::clock::Clock;
use aiopslab_sim::controllers::behavior::{
    Catalog, ContainerBehavior, ImageInfo, RunPlan, StartContext,
};
use controllers_support::Sim;
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::sync::Arc;

fn pod(name: &str, container: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [container]}})
}

fn ready(sim: &Sim, name: &str) -> bool {
    let p = sim.get("", "pods", "test", name).expect("pod");
    let cs = p["status"]["containerStatuses"][0]["ready"] == true;
    let cond = p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert_eq!(cs, cond, "container and pod readiness agree");
    cs
}

fn restarts(sim: &Sim, name: &str) -> i64 {
    sim.get("", "pods", "test", name).expect("pod")["status"]["containerStatuses"][0]
        ["restartCount"]
        .as_i64()
        .unwrap_or(-1)
}

async fn exec(sim: &Sim, pod: &str, argv: &[&str]) -> i32 {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    sim.handle
        .runtime()
        .exec("test", pod, None, &argv, None)
        .await
        .expect("exec runs")
        .exit_code
}

#[tokio::test]
async fn exec_readiness_follows_files_written_by_exec() {
    let sim = Sim::new(31).await;
    sim.apply(pod(
        "tools",
        json!({"name": "tools", "image": "busybox", "command": ["sleep", "3600"],
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]},
                "periodSeconds": 5, "failureThreshold": 2}}),
    ))
    .await;
    sim.advance(12).await;
    assert!(!ready(&sim, "tools"), "no file, not ready");
    let unhealthy = sim
        .events("test", "tools")
        .into_iter()
        .find(|e| e.0 == "Unhealthy")
        .expect("the failing probe is reported");
    assert!(
        unhealthy.1.starts_with("Readiness probe failed: cat: ")
            && unhealthy.1.contains("/tmp/ready")
            && unhealthy.1.ends_with("No such file or directory"),
        "the command's own error: {unhealthy:?}"
    );
    assert!(unhealthy.2 >= 2, "reported at each probe: {unhealthy:?}");

    assert_eq!(exec(&sim, "tools", &["touch", "/tmp/ready"]).await, 0);
    sim.advance(5).await;
    assert!(ready(&sim, "tools"), "the next probe finds the file");

    assert_eq!(exec(&sim, "tools", &["rm", "/tmp/ready"]).await, 0);
    sim.advance(5).await;
    assert!(
        ready(&sim, "tools"),
        "one failure is below failureThreshold"
    );
    sim.advance(5).await;
    assert!(!ready(&sim, "tools"), "two failures in a row: NotReady");
    assert_eq!(restarts(&sim, "tools"), 0, "readiness never restarts");

    // `test -f` works the same way, through `sh -c`.
    sim.apply(pod(
        "flag",
        json!({"name": "flag", "image": "busybox", "command": ["sleep", "3600"],
            "readinessProbe": {"exec": {"command": ["sh", "-c", "test -f /tmp/ok"]},
                "periodSeconds": 2}}),
    ))
    .await;
    sim.advance(5).await;
    assert!(!ready(&sim, "flag"));
    exec(&sim, "flag", &["sh", "-c", "echo yes > /tmp/ok"]).await;
    sim.advance(2).await;
    assert!(ready(&sim, "flag"));
}

#[tokio::test]
async fn exec_liveness_restarts_the_container_when_the_file_goes() {
    let sim = Sim::new(32).await;
    sim.apply(pod(
        "live",
        json!({"name": "live", "image": "busybox", "command": ["sleep", "3600"],
            "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                "initialDelaySeconds": 10, "periodSeconds": 5, "failureThreshold": 2}}),
    ))
    .await;
    sim.advance(3).await;
    exec(&sim, "live", &["touch", "/tmp/healthy"]).await;
    sim.advance(60).await;
    assert_eq!(restarts(&sim, "live"), 0, "healthy while the file is there");
    exec(&sim, "live", &["rm", "/tmp/healthy"]).await;
    sim.advance(5).await;
    assert_eq!(
        restarts(&sim, "live"),
        0,
        "one failure is below failureThreshold"
    );
    sim.advance(6).await;
    assert_eq!(
        restarts(&sim, "live"),
        1,
        "two failures: killed and restarted"
    );
    let events = sim.events("test", "live");
    assert!(
        events.iter().any(|e| e.0 == "Killing"
            && e.1 == "Container live failed liveness probe, will be restarted"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.0 == "Unhealthy"
            && e.1.starts_with("Liveness probe failed: cat: ")
            && e.1.contains("/tmp/healthy")),
        "{events:?}"
    );
    // The new run has no file (a fresh container), so it fails again after the delay and is
    // restarted after the 10 s crash back-off.
    sim.advance(10 + 5 + 10 + 1).await;
    assert_eq!(restarts(&sim, "live"), 2);
}

/// A server that opens its port `opens` seconds after it starts, and closes it again
/// `closes` seconds after it starts (it re-decides on each recheck).
struct LateServer {
    opens: f64,
    closes: f64,
}

impl LateServer {
    fn plan_at(&self, elapsed: f64) -> RunPlan {
        let open = elapsed >= self.opens && elapsed < self.closes;
        let plan = RunPlan::forever().listening(if open { &[8080] } else { &[] });
        if elapsed < self.closes {
            let next = if elapsed < self.opens {
                self.opens
            } else {
                self.closes
            };
            plan.recheck_in(next - elapsed)
        } else {
            plan
        }
    }
}

impl ContainerBehavior for LateServer {
    fn info(&self) -> ImageInfo {
        ImageInfo::distroless(10_000_000).with_entrypoint(&["/server"])
    }

    fn start(&self, _ctx: &StartContext<'_>) -> RunPlan {
        self.plan_at(0.0)
    }

    fn recheck(
        &self,
        _ctx: &StartContext<'_>,
        elapsed: SignedDuration,
        _current: &RunPlan,
    ) -> Option<RunPlan> {
        Some(self.plan_at(elapsed.as_secs_f64()))
    }
}

#[tokio::test]
async fn tcp_and_http_probes_follow_the_ports_the_run_listens_on() {
    let sim = Sim::with_options(33, |o| {
        let mut catalog = Catalog::builtin();
        catalog.register(
            "example/late",
            Arc::new(LateServer {
                opens: 20.0,
                closes: 60.0,
            }),
        );
        o.with_catalog(catalog).with_time_scale(0.5)
    })
    .await;
    for (name, probe) in [
        (
            "tcp",
            json!({"tcpSocket": {"port": 8080}, "periodSeconds": 4}),
        ),
        (
            "http",
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 4}),
        ),
    ] {
        sim.apply(pod(
            name,
            json!({"name": "server", "image": "example/late:1", "readinessProbe": probe}),
        ))
        .await;
    }
    // Simulated seconds run at half speed: the port opens 10 clock seconds after the start.
    sim.advance(2).await;
    let started: jiff::Timestamp =
        sim.get("", "pods", "test", "tcp").expect("pod")["status"]["containerStatuses"][0]["state"]
            ["running"]["startedAt"]
            .as_str()
            .expect("running")
            .parse()
            .expect("time");
    let since_start = |secs: i64| {
        let target = started + SignedDuration::from_secs(secs);
        target.duration_since(sim.clock.now()).as_secs().max(0)
    };
    sim.advance(since_start(8)).await;
    assert!(!ready(&sim, "tcp") && !ready(&sim, "http"));
    let ip = sim.get("", "pods", "test", "http").expect("pod")["status"]["podIP"]
        .as_str()
        .expect("ip")
        .to_string();
    assert!(
        sim.events("test", "http").iter().any(|e| e.0 == "Unhealthy"
            && e.1
                == format!(
                    "Readiness probe failed: Get \"http://{ip}:8080/healthz\": dial tcp {ip}:8080: connect: connection refused"
                )),
        "{:?}",
        sim.events("test", "http")
    );
    sim.advance(since_start(14)).await;
    assert!(
        ready(&sim, "tcp") && ready(&sim, "http"),
        "the port is open"
    );
    // It closes 30 clock seconds after the start; three failures (2 s apart) later, NotReady.
    sim.advance(since_start(32)).await;
    assert!(ready(&sim, "tcp"), "not yet past failureThreshold");
    sim.advance(since_start(39)).await;
    assert!(
        !ready(&sim, "tcp") && !ready(&sim, "http"),
        "closed: NotReady"
    );
}

#[tokio::test]
async fn steady_probes_do_not_keep_a_wall_clock_cluster_busy() {
    use aiopslab_sim::clock::WallClock;
    use aiopslab_sim::controllers::{self, Options, Topology};
    use aiopslab_sim::store::Store;
    let store = Arc::new(Store::new(1, Arc::new(WallClock)));
    controllers::bootstrap(&store, &Topology::default());
    let handle = controllers::start(store.clone(), Options::default().with_time_scale(0.05));
    let begin = std::time::Instant::now();
    handle
        .run_until_quiet(std::time::Duration::from_secs(10))
        .await;
    assert!(
        begin.elapsed() < std::time::Duration::from_secs(5),
        "CoreDNS's probes keep running, but they only repeat themselves: {:?}",
        begin.elapsed()
    );
    let coredns = store
        .get(
            &aiopslab_sim::resources::ResourceKey::new("apps", "deployments"),
            "kube-system",
            "coredns",
        )
        .expect("coredns");
    assert_eq!(
        coredns["status"]["readyReplicas"], 2,
        "ready through its probe"
    );
    // And the probes do go on: a timer stays armed.
    assert!(handle.next_timer().await.is_some());
}
