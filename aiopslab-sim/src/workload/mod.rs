//! The wrk2 workload inside the virtual cluster: the behaviour of the
//! `deathstarbench/wrk2-client` image that AIOpsLab's `wrk2-job` runs.
//!
//! A wrk2 container parses its command line like DeathStarBench's wrk2 ([`args`]), reads the
//! Lua script mounted from the `wrk2-payload-script` ConfigMap and recognises the request mix
//! ([`script`]), runs an open-loop load at the given rate and distribution over the duration
//! ([`load`]), sends every request against the cluster as it is at that moment ([`sink`]:
//! the applications' request flow ([`flow_sink`]), or the objects alone), and prints wrk2's report ([`report`],
//! with HdrHistogram's numbers from [`hdr`]) before exiting 0. The run is deterministic for a
//! given pod (its uid and name come from the cluster's seed) and cluster history.
//!
//! Wire it into a catalogue with [`register`]:
//!
//! ```
//! use aiopslab_sim::controllers::behavior::Catalog;
//! let mut catalog = Catalog::builtin();
//! aiopslab_sim::workload::register(&mut catalog);
//! assert!(catalog.resolve("deathstarbench/wrk2-client:latest").is_found());
//! ```

pub mod args;
pub mod behavior;
pub mod flow_sink;
pub mod hdr;
pub mod load;
pub mod report;
pub mod script;
pub mod sink;

pub use behavior::{IMAGE, STEP_SECS, Wrk2Client};
pub use flow_sink::FlowSink;
pub use sink::{Delivery, NetworkSink, Outcome, RequestSink, Resolved};

use crate::controllers::behavior::Catalog;
use std::sync::Arc;

/// Registers `deathstarbench/wrk2-client` (every tag) with the default sinks.
pub fn register(catalog: &mut Catalog) {
    catalog.register(IMAGE, Arc::new(Wrk2Client::new()));
}

/// The sinks every wrk2 run asks before [`NetworkSink`]: the applications' request flow.
pub(crate) fn default_sinks() -> Vec<Arc<dyn RequestSink>> {
    vec![Arc::new(FlowSink)]
}
