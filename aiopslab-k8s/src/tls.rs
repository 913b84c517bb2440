//! The process-wide rustls crypto provider.
//!
//! The workspace compiles rustls with `ring` only. rustls picks a provider by itself only when
//! exactly one is compiled in, so a stray dependency that enables `aws-lc-rs` would make every
//! TLS client panic. Installing `ring` explicitly as the process default avoids that.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs `ring` as the process-wide rustls crypto provider, once. Safe to call from every
/// place that builds a TLS client; a provider installed earlier by someone else is kept.
///
/// ```
/// aiopslab_k8s::install_crypto_provider();
/// aiopslab_k8s::install_crypto_provider(); // idempotent
/// assert!(rustls::crypto::CryptoProvider::get_default().is_some());
/// ```
pub fn install_crypto_provider() {
    INSTALL.call_once(|| {
        // An error means another provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
