//! Shared helpers of the API tests: a virtual cluster in a temp dir and the real kubectl.

#![allow(dead_code)]

use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The real kubectl the tests drive.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// A running cluster with its temp dir (kubeconfigs, HOME and kubectl cache).
pub struct TestCluster {
    pub cluster: VirtualCluster,
    pub dir: tempfile::TempDir,
}

/// The output of one kubectl run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless kubectl succeeded.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "kubectl failed: {}\n{}",
            self.stderr, self.stdout
        );
        self.stdout
    }
}

impl TestCluster {
    /// Starts a cluster with `config` adjusted to write into a fresh temp dir.
    pub async fn start_with(f: impl FnOnce(ClusterConfig) -> ClusterConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = f(ClusterConfig::new(dir.path().join("kube")));
        let cluster = VirtualCluster::start(config).await.expect("cluster starts");
        TestCluster { cluster, dir }
    }

    /// Starts a cluster with the defaults.
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs kubectl with the admin kubeconfig.
    pub async fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_as(self.cluster.admin_kubeconfig_path(), args, None)
            .await
    }

    /// Runs kubectl with the agent kubeconfig.
    pub async fn agent(&self, args: &[&str]) -> Run {
        self.kubectl_as(self.cluster.agent_kubeconfig_path(), args, None)
            .await
    }

    /// Runs kubectl with the admin kubeconfig and `stdin` as standard input.
    pub async fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.kubectl_as(self.cluster.admin_kubeconfig_path(), args, Some(stdin))
            .await
    }

    /// Runs kubectl with `kubeconfig`, no ambient configuration, a private HOME and cache.
    pub async fn kubectl_as(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_binary(KUBECTL, kubeconfig, args, stdin).await
    }

    /// Runs a given kubectl binary with the admin kubeconfig.
    pub async fn kubectl_binary(&self, binary: &str, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_binary(binary, self.cluster.admin_kubeconfig_path(), args, stdin)
            .await
    }

    async fn run_binary(
        &self,
        binary: &str,
        kubeconfig: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Run {
        let home = self.home();
        std::fs::create_dir_all(&home).expect("home");
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("KUBECACHEDIR", home.join("cache"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finishes within a minute")
            .expect("kubectl output");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
