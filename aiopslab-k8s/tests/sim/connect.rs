//! Connecting: explicit kubeconfig and context, clear errors within seconds.

use crate::common::{Sim, isolate};
use aiopslab_k8s::{Cluster, ClusterTarget, K8sError};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_through_the_kubeconfig_and_reports_the_version() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    assert_eq!(cluster.context(), "aiopslab", "the file's current-context");
    assert_eq!(cluster.server_url(), sim.kubeconfig_value("server"));
    assert_eq!(cluster.default_namespace(), "default");
    let version = cluster.server_version();
    assert_eq!(version.major, "1");
    assert!(version.git_version.starts_with("v1."), "{version:?}");

    // A named context that exists, and a namespace override.
    let named = Cluster::connect(
        &ClusterTarget::new(sim.kubeconfig())
            .with_context("aiopslab")
            .with_namespace("kube-system"),
    )
    .await
    .expect("named context");
    assert_eq!(named.default_namespace(), "kube-system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_context_is_named_with_the_ones_available() {
    let sim = Sim::start().await;
    let err = Cluster::connect(&ClusterTarget::new(sim.kubeconfig()).with_context("kind-prod"))
        .await
        .expect_err("no such context");
    assert!(matches!(err, K8sError::UnknownContext { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("\"kind-prod\""), "{text}");
    assert!(text.contains("it has: aiopslab"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_a_kubeconfig_error() {
    isolate();
    let err = Cluster::connect(&ClusterTarget::new("/nonexistent/aiopslab.kubeconfig"))
        .await
        .expect_err("no file");
    assert!(matches!(err, K8sError::Kubeconfig { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/aiopslab.kubeconfig"));
}

/// A copy of the admin kubeconfig with `from` replaced by `to`.
fn edited_kubeconfig(sim: &Sim, name: &str, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(sim.kubeconfig()).expect("read kubeconfig");
    assert!(text.contains(from), "{from} in the kubeconfig");
    let path = sim.dir.path().join(name);
    std::fs::write(&path, text.replace(from, to)).expect("write kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_named_within_seconds() {
    let sim = Sim::start().await;
    // A port that nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("https://127.0.0.1:{port}");
    let path = edited_kubeconfig(
        &sim,
        "closed.kubeconfig",
        &sim.kubeconfig_value("server"),
        &url,
    );
    let started = Instant::now();
    let err = Cluster::connect(&ClusterTarget::new(&path))
        .await
        .expect_err("nothing listens");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, K8sError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("Check that the cluster is running"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_an_error_not_a_hang() {
    let sim = Sim::start().await;
    // Accepts connections and never says a word (not even the TLS handshake).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let url = format!("https://127.0.0.1:{port}");
    let path = edited_kubeconfig(
        &sim,
        "silent.kubeconfig",
        &sim.kubeconfig_value("server"),
        &url,
    );
    let started = Instant::now();
    let err = Cluster::connect(
        &ClusterTarget::new(&path)
            .with_connect_timeout(Duration::from_secs(1), Duration::from_millis(1500)),
    )
    .await
    .expect_err("silent server");
    let took = started.elapsed();
    holder.abort();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(matches!(err, K8sError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("no answer within 1 s"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_tls_error() {
    let sim = Sim::start().await;
    let text = std::fs::read_to_string(sim.kubeconfig()).expect("read");
    let without_ca: String = text
        .lines()
        .filter(|l| !l.contains("certificate-authority-data"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = sim.dir.path().join("no-ca.kubeconfig");
    std::fs::write(&path, without_ca).expect("write");
    let err = Cluster::connect(&ClusterTarget::new(&path))
        .await
        .expect_err("the sim's CA is not trusted");
    assert!(matches!(err, K8sError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("certificate-authority"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_credentials() {
    let sim = Sim::start().await;
    let token = sim.kubeconfig_value("token");
    let path = edited_kubeconfig(&sim, "bad-token.kubeconfig", &token, "not-a-token");
    let err = Cluster::connect(&ClusterTarget::new(&path))
        .await
        .expect_err("bad token");
    assert!(
        matches!(err, K8sError::Unauthorized { code: 401, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_503_answers_are_capped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    isolate();
    let dir = tempfile::tempdir().expect("temp dir");
    // A plain-HTTP server that answers every request with 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                            )
                            .await;
                    }
                }
            });
        }
    });
    let path = dir.path().join("busy.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: busy\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: busy\n  context:\n    cluster: busy\n    user: u\ncurrent-context: busy\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .expect("write");
    let started = Instant::now();
    let err = Cluster::connect(
        &ClusterTarget::new(&path)
            .with_connect_timeout(Duration::from_secs(3), Duration::from_secs(20)),
    )
    .await
    .expect_err("always 503");
    let took = started.elapsed();
    server.abort();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        4,
        "one try and three retries"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(err.status_code(), Some(503), "{err}");
    assert!(
        err.to_string().contains("check the API server's health"),
        "{err}"
    );
}
