//! The workload end to end against the virtual cluster, addressed only through the kubeconfig
//! it writes: render, start, wait, read the report.

use aiopslab_k8s::{ApplyOptions, Cluster, ClusterTarget, WaitOptions};
use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};
use aiopslab_sim::controllers::Options;
use aiopslab_workload::{CONFIGMAP_NAME, JOB_NAME, NAMESPACE, Script, Target, WorkloadError, Wrk2};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use std::time::Duration;

/// A script wrk2 does not recognise: every request is a GET of the URL's path.
fn plain(text: &str) -> Script {
    Script::new("plain.lua", text)
}

struct Env {
    vc: VirtualCluster,
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

/// A virtual cluster (controllers at a tenth of real time) whose catalogue has the
/// application images and wrk2, and a client connected through its admin kubeconfig.
async fn env(seed: u64) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut catalog = aiopslab_sim::apps::catalog();
    aiopslab_sim::workload::register(&mut catalog);
    let mut config = ClusterConfig::new(dir.path().join("kube")).with_seed(seed);
    config.controller_options = Some(Options::default().with_catalog(catalog));
    let vc = VirtualCluster::start(config).await.expect("cluster starts");
    let cluster = Cluster::connect(&ClusterTarget::new(vc.admin_kubeconfig_path()))
        .await
        .expect("connect");
    Env {
        vc,
        cluster,
        _dir: dir,
    }
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: 'nginx:1.27', ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: lonely}
spec:
  selector: {app: nobody}
  ports: [{port: 8080, targetPort: 8080}]
";

async fn web(env: &Env) -> (String, String) {
    env.cluster
        .ensure_namespace("web")
        .await
        .expect("namespace");
    env.cluster
        .apply_yaml("web.yaml", WEB, &ApplyOptions::into_namespace("web"))
        .await
        .expect("apply");
    env.cluster
        .wait_deployment_ready("web", "web", WaitOptions::new(Duration::from_secs(60)))
        .await
        .expect("web ready");
    let target = |service: &str, port| Target {
        namespace: "web".into(),
        service: service.into(),
        port,
        path: String::new(),
    };
    (
        target("web", 80).resolve(&env.cluster).await.expect("url"),
        target("lonely", 8080)
            .resolve(&env.cluster)
            .await
            .expect("url"),
    )
}

#[tokio::test]
async fn runs_against_a_web_server_and_reads_the_report() {
    let env = env(1).await;
    let (url, _) = web(&env).await;
    assert!(
        url.starts_with("http://10.96.") && url.ends_with(":80"),
        "{url}"
    );
    let wrk = Wrk2::problem_default();
    let done = wrk
        .run(&env.cluster, &plain("-- GET /\n"), &url)
        .await
        .expect("run");
    let r = &done.report;
    assert_eq!(r.url, url);
    assert_eq!(r.requested_duration_secs, 10.0);
    assert_eq!((r.threads, r.connections), (2, 2));
    assert!((75..=125).contains(&r.requests), "{}", done.log);
    assert!((r.runtime_secs - 10.0).abs() < 0.05, "{}", r.runtime_secs);
    assert!((r.requests_per_sec - r.requests as f64 / r.runtime_secs).abs() < 0.01);
    assert_eq!(r.errors(), 0, "{}", done.log);
    assert_eq!(r.percentiles.len(), 8);
    let p99 = r.latency_at(99.0).unwrap();
    assert!(p99 > 0.0 && p99 < 5.0, "{p99}");
    assert_eq!(
        r.histogram.unwrap().total_count,
        r.spectrum.last().unwrap().total_count
    );
    assert!(done.pod.starts_with("wrk2-job-"), "{}", done.pod);

    // What was created is AIOpsLab's Job and ConfigMap.
    let job: Job = env.cluster.get(NAMESPACE, JOB_NAME).await.unwrap();
    let spec = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(
        spec.containers[0].args.clone().unwrap(),
        wrk.args("plain.lua", &url)
    );
    let cm: ConfigMap = env.cluster.get(NAMESPACE, CONFIGMAP_NAME).await.unwrap();
    assert_eq!(cm.data.unwrap()["plain.lua"], "-- GET /\n");
}

#[tokio::test]
async fn a_service_without_endpoints_shows_connect_errors() {
    let env = env(2).await;
    let (_, lonely) = web(&env).await;
    let done = Wrk2::problem_default()
        .with_duration(5)
        .run(&env.cluster, &plain("--\n"), &lonely)
        .await
        .expect("run");
    let r = &done.report;
    assert_eq!(r.requests, 0);
    assert!((30..=70).contains(&r.socket_errors.connect), "{}", done.log);
    assert_eq!(r.non_2xx_3xx, 0);
    assert!(r.latency.unwrap().avg.is_nan());
}

#[tokio::test]
async fn hotel_reservation_is_healthy_under_aiopslabs_workload() {
    let env = env(3).await;
    aiopslab_sim::apps::deploy::deploy_and_wait(&env.vc, "hotel-reservation")
        .await
        .expect("deploy");
    let app = aiopslab_metadata::app("hotel-reservation").unwrap();
    let url = Target::for_app(app).resolve(&env.cluster).await.unwrap();
    let done = Wrk2::problem_default()
        .run(&env.cluster, &Script::for_app(app), &url)
        .await
        .expect("run");
    let r = &done.report;
    assert!((75..=125).contains(&r.requests), "{}", done.log);
    assert_eq!(r.errors(), 0, "{}", done.log);
    assert!(
        r.bytes_read > 1000.0 * r.requests as f64 / 10.0,
        "{}",
        done.log
    );
}

#[tokio::test]
async fn starting_again_replaces_the_job_and_the_script() {
    let env = env(4).await;
    let (url, _) = web(&env).await;
    let long = Wrk2::problem_default().with_duration(60);
    let first = long
        .start(&env.cluster, &plain("-- first\n"), &url)
        .await
        .expect("start");
    first
        .wait_started(&env.cluster, Duration::from_secs(30))
        .await
        .expect("running");
    let old_pods: Vec<Pod> = env
        .cluster
        .list_pods(NAMESPACE, &first.pod_selector)
        .await
        .unwrap();
    assert_eq!(old_pods.len(), 1);

    let second = Wrk2::problem_default()
        .with_duration(5)
        .start(&env.cluster, &plain("-- second\n"), &url)
        .await
        .expect("restart");
    assert_ne!(second.uid, first.uid);
    // The old Job was deleted in the foreground: its pod is gone, not just orphaned.
    let left = env
        .cluster
        .list_pods(NAMESPACE, &first.pod_selector)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let cm: ConfigMap = env.cluster.get(NAMESPACE, CONFIGMAP_NAME).await.unwrap();
    assert_eq!(cm.data.unwrap()["plain.lua"], "-- second\n");
    let done = second
        .wait(&env.cluster, second.default_limit())
        .await
        .unwrap();
    assert!(done.report.requests > 30, "{}", done.log);
    // Waiting on the replaced run says so instead of hanging.
    let e = first
        .wait(&env.cluster, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, WorkloadError::JobDeleted { .. }), "{e}");
}

#[tokio::test]
async fn a_failing_job_is_an_error_with_the_log_tail() {
    let env = env(5).await;
    let e = Wrk2::problem_default()
        .run(
            &env.cluster,
            &plain("--\n"),
            "http://no-such-svc.nowhere:8080",
        )
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, WorkloadError::JobFailed { .. }), "{text}");
    assert!(text.contains("exited with code 1 (Error)"), "{text}");
    assert!(
        text.ends_with(
            "last log lines:\nunable to connect to no-such-svc.nowhere:8080 Name or service not known"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn waiting_has_a_time_limit() {
    let env = env(6).await;
    let (url, _) = web(&env).await;
    let job = Wrk2::problem_default()
        .with_duration(600)
        .start(&env.cluster, &plain("--\n"), &url)
        .await
        .unwrap();
    let e = job
        .wait(&env.cluster, Duration::from_millis(1500))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, WorkloadError::WaitTimeout { .. }), "{text}");
    assert!(text.contains("did not finish within 1 s"), "{text}");
    assert!(text.contains("wrk2 is running"), "{text}");
    assert!(
        aiopslab_workload::delete_job(&env.cluster, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !aiopslab_workload::delete_job(&env.cluster, Duration::from_secs(30))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn refused_parameters_never_reach_the_cluster() {
    let env = env(7).await;
    let e = Wrk2::new(0)
        .start(&env.cluster, &plain("--\n"), "http://10.96.0.1:80")
        .await
        .unwrap_err();
    assert!(matches!(e, WorkloadError::InvalidParameters(_)), "{e}");
    let e = Wrk2::new(1)
        .start(
            &env.cluster,
            &Script::new("a/b.lua", "--"),
            "http://10.96.0.1:80",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("plain file name"), "{e}");
    let job: Option<Job> = env.cluster.get_opt(NAMESPACE, JOB_NAME).await.unwrap();
    assert!(job.is_none());
    let missing = Target {
        namespace: "nowhere".into(),
        service: "frontend".into(),
        port: 5000,
        path: String::new(),
    }
    .resolve(&env.cluster)
    .await
    .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("there is no Service nowhere/frontend"),
        "{missing}"
    );
}
