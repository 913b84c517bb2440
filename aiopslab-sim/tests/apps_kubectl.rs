//! The apps through the real kubectl: a default virtual cluster (wall clock, app images in
//! the catalogue), Hotel Reservation deployed, AIOpsLab's revoke script run with
//! `kubectl exec`, and the crash that follows seen with `kubectl get` and `kubectl logs`.

mod common;

use aiopslab_sim::apps::deploy::{deploy_and_wait, wait_ready};
use common::TestCluster;
use jiff::SignedDuration;

const NS: &str = "test-hotel-reservation";

fn pod_of(listing: &str, deployment: &str) -> String {
    listing
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .find(|n| {
            n.strip_prefix(&format!("{deployment}-"))
                .is_some_and(|rest| rest.matches('-').count() == 1)
        })
        .unwrap_or_else(|| panic!("no pod of {deployment} in\n{listing}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_the_app_and_runs_the_fault_scripts() {
    let tc = TestCluster::start().await;
    deploy_and_wait(&tc.cluster, "hotel-reservation")
        .await
        .expect("hotel reservation becomes ready");
    let handle = tc.cluster.controllers().expect("controllers");
    // Let the services finish their startup (cluster time runs 10x faster than real time).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let deploys = tc.kubectl(&["get", "deployments", "-n", NS]).await.ok();
    assert_eq!(deploys.lines().count(), 20, "{deploys}");
    assert!(
        deploys.lines().skip(1).all(|l| l.contains(" 1/1 ")),
        "{deploys}"
    );

    let pods = tc.kubectl(&["get", "pods", "-n", NS]).await.ok();
    let mongo = pod_of(&pods, "mongodb-geo");
    let geo = pod_of(&pods, "geo");
    let logs = tc.kubectl(&["logs", "-n", NS, &geo]).await.ok();
    assert!(logs.contains("Successfully registered in consul"), "{logs}");

    let revoke = tc
        .kubectl(&[
            "exec",
            "-n",
            NS,
            &mongo,
            "--",
            "/bin/bash",
            "/scripts/revoke-admin-geo-mongo.sh",
        ])
        .await
        .ok();
    assert!(
        revoke.starts_with("Downgrading admin user privileges...\nMongoDB shell version v4.4.6\n"),
        "{revoke}"
    );
    assert!(revoke.ends_with("Privileges downgraded\n"), "{revoke}");

    tc.kubectl(&["delete", "pod", "-n", NS, &geo, "--wait=false"])
        .await
        .ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        handle.settle().await;
        let pods = tc.kubectl(&["get", "pods", "-n", NS]).await.ok();
        let line = pods
            .lines()
            .find(|l| l.starts_with("geo-") && !l.starts_with(&geo))
            .unwrap_or_default()
            .to_string();
        if line.contains("CrashLoopBackOff") {
            let new = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let prev = tc
                .kubectl(&["logs", "-n", NS, &new, "--previous"])
                .await
                .ok();
            assert!(
                prev.contains("FTL cmd/geo/db.go:35 > not authorized on geo-db to execute command"),
                "{prev}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no crash loop: {pods}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    wait_ready(
        handle,
        tc.cluster.store(),
        "default",
        SignedDuration::from_secs(1),
    )
    .await
    .expect_err("default has no deployments");
}
