//! The applications: their behaviour interpreted from data, their internal state, the
//! network between them, and the request flow.
//!
//! Every symptom is derived from state. Which pods crash and what they print, which requests
//! fail and how, come from the profiles in `metadata/` (what each program does with what it
//! finds) applied to the cluster's objects and the apps' internal state. Nothing here names a
//! fault: an agent that repairs the state by any valid means repairs the symptoms.
//!
//! - [`profile`]: the profile schema and the registry of every app's profiles;
//! - [`engine`]: the container behaviours the kubelet runs ([`catalog`] registers them);
//! - [`state`]: the apps' state attached to the store ([`World`]): runs, MongoDB data
//!   directories, Consul catalogues;
//! - [`mongo`]: MongoDB users and roles and the `mongo` / `mongosh` shells;
//! - [`net`]: [`connect`](net::connect): DNS, Services, kube-proxy, listening ports, the network
//!   chaos hook;
//! - [`flow`]: [`simulate`](flow::simulate): one request through the call graph;
//! - [`deploy`]: [`deploy`](deploy::deploy) and [`wait_ready`](deploy::wait_ready) as AIOpsLab
//!   deploys the apps;
//! - [`template`], [`logfmt`]: `${var}` and time placeholders.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use aiopslab_sim::{apps, cluster::{ClusterConfig, VirtualCluster}};
//! let config = ClusterConfig::new(std::env::temp_dir().join("kc"));
//! let cluster = VirtualCluster::start(config).await?; // app images are in the default catalogue
//! apps::deploy::deploy_and_wait(&cluster, "hotel-reservation").await?;
//! # Ok(()) }
//! ```

pub mod deploy;
pub mod engine;
pub mod flow;
pub mod logfmt;
pub mod mongo;
pub mod net;
pub mod profile;
pub mod state;
pub mod template;

pub use state::World;

use crate::controllers::Options;
use crate::controllers::behavior::Catalog;
use std::sync::Arc;

/// Registers every image of the profiles in `catalog`. When the embedded profiles fail to
/// load (a broken data file), the catalogue is left as it is and the error is returned.
pub fn register(catalog: &mut Catalog) -> Result<(), profile::ProfileError> {
    let registry = profile::registry().map_err(Clone::clone)?;
    for image in &registry.images {
        catalog.register(
            &image.image,
            Arc::new(engine::AppImage::new(image.clone(), registry)),
        );
    }
    Ok(())
}

/// The built-in images plus every application image.
pub fn catalog() -> Catalog {
    let mut c = Catalog::builtin();
    if let Err(e) = register(&mut c) {
        tracing::error!("application profiles not loaded: {e}");
    }
    c
}

/// `base` with the application images in its catalogue.
pub fn controller_options(base: Options) -> Options {
    base.with_catalog(catalog())
}
