//! The AIOpsLab problem catalogue, as data, with AIOpsLab's exact problem ids.
//!
//! The catalogue lives in `problems/catalogue.yaml`: one entry per problem id, in the order of
//! AIOpsLab's registry (89 ids), each with its application, task kind, fault, expected answer,
//! workload and whether this implementation can run it yet. The file is embedded in the crate
//! and parsed once, on first use of [`registry()`].
//!
//! ```
//! use aiopslab_core::problem::{DetectionAnswer, ExpectedAnswer};
//!
//! let registry = aiopslab_problems::registry();
//! assert_eq!(registry.ids().next(), Some("k8s_target_port-misconfig-detection-1"));
//!
//! let noop = registry.get("noop_detection_hotel_reservation-1").unwrap();
//! assert_eq!(noop.expected, ExpectedAnswer::Detection(DetectionAnswer::No));
//! ```

mod catalogue;
mod error;
mod registry;
mod suggest;

pub use error::{CatalogueError, UnknownApp, UnknownProblem};
pub use registry::{AppCounts, CatalogueApp, Registry};

use std::sync::OnceLock;

/// The catalogue file, embedded at build time.
pub const CATALOGUE_YAML: &str = include_str!("../catalogue.yaml");

/// The registry built from the embedded catalogue, parsed and checked once.
///
/// The embedded file is fixed at build time and checked by this crate's tests, so it always
/// loads; a broken edit to it fails those tests (and panics here with the reason).
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| match Registry::from_yaml(CATALOGUE_YAML) {
        Ok(registry) => registry,
        Err(err) => panic!("the embedded problems/catalogue.yaml is broken: {err}"),
    })
}
