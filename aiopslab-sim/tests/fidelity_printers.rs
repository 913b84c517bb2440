//! `kubectl get` of HorizontalPodAutoscalers and ResourceQuotas prints what a v1.33 API server
//! prints: the HPA columns with their TARGETS text, and quota usage kept by the ResourceQuota
//! controller in the real `cpu: 100m/1` form.

mod common;

use common::TestCluster;
use std::time::Duration;

fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `kubectl get` until `want` shows up (the controllers work in the background), or the
/// last output.
async fn get_until(t: &TestCluster, args: &[&str], want: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = squash(&t.kubectl(args).await.ok());
        if last.contains(want) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: defaults
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn horizontal_pod_autoscalers_print_their_targets() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    t.kubectl(&["create", "deployment", "web", "--image=nginx:1.25"])
        .await
        .ok();
    assert_eq!(
        t.kubectl(&[
            "autoscale",
            "deployment",
            "web",
            "--cpu-percent=50",
            "--min=2",
            "--max=5"
        ])
        .await
        .ok(),
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    );
    t.kubectl_stdin(&["apply", "-f", "-"], HPA).await.ok();
    let table = squash(&t.kubectl(&["get", "hpa"]).await.ok());
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE")
    );
    let rows: Vec<&str> = lines.collect();
    // Without metrics the server defaults to 80% CPU and one replica at least.
    assert!(
        rows[0].starts_with("defaults Deployment/web cpu: <unknown>/80% 1 4 0 "),
        "{table}"
    );
    assert!(
        rows[1].starts_with("web Deployment/web cpu: <unknown>/50% 2 5 0 "),
        "{table}"
    );
    // What the autoscaler measured shows next to the target.
    t.kubectl(&[
        "patch",
        "hpa",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"currentReplicas":2,"desiredReplicas":2,"currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":12,"averageValue":"3m"}}}]}}"#,
    ])
    .await
    .ok();
    let row = squash(&t.kubectl(&["get", "hpa", "web", "--no-headers"]).await.ok());
    assert!(
        row.starts_with("web Deployment/web cpu: 12%/50% 2 5 2 "),
        "{row}"
    );
}

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: limited
spec:
  containers:
  - name: app
    image: nginx:1.25
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 500m, memory: 128Mi}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_quotas_print_their_usage() {
    let t = TestCluster::start().await;
    t.kubectl(&["create", "namespace", "limited"]).await.ok();
    t.kubectl(&[
        "create",
        "quota",
        "compute",
        "-n",
        "limited",
        "--hard=cpu=1000m,memory=1Gi,pods=10,limits.cpu=2,limits.memory=2048Mi,configmaps=5",
    ])
    .await
    .ok();
    // Nothing used yet: zero of each, and the hard limits in canonical form (1000m is 1).
    let empty = get_until(&t, &["get", "quota", "-n", "limited"], "cpu: 0/1").await;
    assert_eq!(
        empty.lines().next(),
        Some("NAME REQUEST LIMIT AGE"),
        "the v1.33 server puts AGE last: {empty}"
    );
    assert!(
        empty.contains("compute configmaps: 1/5, cpu: 0/1, memory: 0/1Gi, pods: 0/10 limits.cpu: 0/2, limits.memory: 0/2Gi "),
        "{empty}"
    );
    t.kubectl_stdin(&["apply", "-f", "-"], POD).await.ok();
    let used = get_until(&t, &["get", "quota", "-n", "limited"], "pods: 1/10").await;
    assert!(
        used.contains("compute configmaps: 1/5, cpu: 100m/1, memory: 64Mi/1Gi, pods: 1/10 limits.cpu: 500m/2, limits.memory: 128Mi/2Gi "),
        "{used}"
    );
    let described = t
        .kubectl(&["describe", "quota", "compute", "-n", "limited"])
        .await
        .ok();
    assert!(squash(&described).contains("cpu 100m 1"), "{described}");
    // The pod going away gives its share back.
    t.kubectl(&[
        "delete",
        "pod",
        "app",
        "-n",
        "limited",
        "--grace-period=0",
        "--force",
    ])
    .await;
    let freed = get_until(&t, &["get", "quota", "-n", "limited"], "pods: 0/10").await;
    assert!(freed.contains("cpu: 0/1"), "{freed}");
}
