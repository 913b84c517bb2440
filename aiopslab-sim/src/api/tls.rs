//! HTTPS for the API server: a self-signed CA, a serving certificate for `127.0.0.1` and
//! `localhost` signed by it, and the accept loop.
//!
//! TLS is not decoration: kubectl (client-go's `clientcmd`) only sends a kubeconfig's bearer
//! token over TLS, so token authentication — and with it the admin/agent split — needs HTTPS,
//! as on a kind cluster. The CA goes into the kubeconfigs (`certificate-authority-data`), so
//! kubectl and kube-rs verify the server as usual. The certificates are made once per process.

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The server's TLS material.
#[derive(Clone)]
pub struct ServingTls {
    /// The CA certificate (PEM) clients trust.
    pub ca_pem: String,
    /// The rustls server configuration (certificate chain and key, HTTP/1.1).
    pub config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServingTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingTls").finish_non_exhaustive()
    }
}

static TLS: OnceLock<Result<ServingTls, String>> = OnceLock::new();

/// The process-wide CA and serving certificate (made on first use).
pub fn serving_tls() -> Result<ServingTls, String> {
    TLS.get_or_init(make_tls).clone()
}

fn make_tls() -> Result<ServingTls, String> {
    let err = |what: &str, e: rcgen::Error| format!("{what}: {e}");
    let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "aiopslab-sim-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| err("CA", e))?;

    let key = KeyPair::generate().map_err(|e| err("server key", e))?;
    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
    ])
    .map_err(|e| err("server", e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let cert = params
        .signed_by(&key, &ca)
        .map_err(|e| err("server certificate", e))?;

    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServingTls {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    })
}

/// Serves `router` over TLS on `listener` until the task is aborted. Each connection is
/// HTTP/1.1 with upgrades (WebSocket exec). Connections belong to the serving task: aborting
/// it closes them too, so a stopped cluster stops answering kept-alive clients.
pub async fn serve(listener: TcpListener, router: Router, tls: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(router);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_ca_and_a_serving_chain() {
        let tls = serving_tls().expect("certificates");
        assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(tls.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
