//! End-to-end test of `aiopslab cluster up`: start the binary, read the kubeconfig paths it
//! prints, drive the real `kubectl` against it with both kubeconfigs, then stop it with SIGINT
//! (Ctrl-C) and check it exits cleanly.
//!
//! Compiled as the `cluster_up` integration test of `aiopslab-cli` (see `cli.rs` for why).
//! No ambient kubeconfig is ever used: every child runs without KUBECONFIG and
//! KUBERNETES_SERVICE_*, with HOME and the kubectl cache in a temporary folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A command with the ambient cluster configuration removed and HOME in `home`.
fn clean(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("KUBECONFIG")
        .env("HOME", home)
        .env("KUBECACHEDIR", home.join("kube-cache"))
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KUBERNETES_SERVICE_") {
            command.env_remove(&key);
        }
    }
    command
}

/// Kills the cluster process if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl(home: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    clean("kubectl", home)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs (install it with `apt-get install kubectl`)")
}

#[test]
fn cluster_up_serves_kubectl_and_stops_on_ctrl_c() {
    let home = tempfile::tempdir().unwrap();
    let admin = home.path().join("config").join("admin.yaml");
    let started = Instant::now();
    let child = clean(env!("CARGO_BIN_EXE_aiopslab"), home.path())
        .args(["cluster", "up", "--seed", "3", "--kubeconfig"])
        .arg(&admin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aiopslab binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();

    // Read what it prints until the export line.
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("export KUBECONFIG=");
        printed.push(line);
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no export line: {printed:?}"
        );
    }
    let text = printed.join("\n");
    assert!(text.contains("Virtual cluster ready in"), "{text}");
    assert!(
        text.contains(&format!("export KUBECONFIG={}", admin.display())),
        "{text}"
    );
    let agent: PathBuf = home.path().join("config").join("admin-agent.yaml");
    assert!(
        text.contains(&format!("Agent kubeconfig:  {}", agent.display())),
        "{text}"
    );
    assert!(admin.exists() && agent.exists());

    // The admin sees a kind-like cluster.
    let nodes = kubectl(home.path(), &admin, &["get", "nodes", "-o", "name"]);
    assert!(nodes.status.success(), "{nodes:?}");
    let nodes = String::from_utf8_lossy(&nodes.stdout);
    assert!(nodes.contains("node/kind-control-plane") && nodes.contains("node/kind-worker"));

    // The agent is refused fault objects, and can-i says so truthfully.
    let can_i = kubectl(
        home.path(),
        &agent,
        &[
            "auth",
            "can-i",
            "create",
            "podchaos.chaos-mesh.org",
            "-n",
            "default",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "no");
    let can_i = kubectl(
        home.path(),
        &agent,
        &["auth", "can-i", "list", "pods", "-n", "default"],
    );
    assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "yes");

    // Ctrl-C stops it cleanly.
    let pid = running.0.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            assert!(status.success(), "exit status after Ctrl-C: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cluster up did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The server is gone.
    let after = kubectl(
        home.path(),
        &admin,
        &["get", "nodes", "--request-timeout=2s"],
    );
    assert!(!after.status.success());
}
