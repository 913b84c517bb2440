//! A cluster to poke at by hand: `cargo test -p aiopslab-sim --test api_manual -- --ignored --nocapture`
//! prints the kubeconfig and serves for `AIOPSLAB_SIM_SERVE_SECS` seconds (default 600).

use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "serves a cluster for manual use"]
async fn serve_for_manual_use() {
    let dir = std::env::temp_dir().join("aiopslab-sim-manual");
    let cluster = VirtualCluster::start(ClusterConfig::new(&dir))
        .await
        .expect("starts");
    println!(
        "export KUBECONFIG={}",
        cluster.admin_kubeconfig_path().display()
    );
    println!("agent: {}", cluster.agent_kubeconfig_path().display());
    let secs = std::env::var("AIOPSLAB_SIM_SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
}
