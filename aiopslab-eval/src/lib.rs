//! Scoring for AIOpsLab-rs, compatible with AIOpsLab.
//!
//! - [`score`]: pure functions from a submitted solution (the `serde_json::Value` the
//!   orchestrator captures) and the expected answer to a score with a one-line reason, and
//!   from a score and the episode's [`EpisodeStats`] to a result map with AIOpsLab's keys in
//!   AIOpsLab's order ([`score::evaluate`] does both for an orchestrator `Evaluation`).
//! - [`tokens`]: `cl100k_base` token counts as AIOpsLab computes them, or the agent's own
//!   usage when it reported it.
//! - [`oracle`]: mitigation checks of the live cluster, judged after it settles.
//! - [`aggregate`]: accuracy per task and mean time, steps and tokens over many results.
//!
//! ```
//! use aiopslab_core::problem::{ExpectedAnswer, LocalizationAnswer};
//! use aiopslab_eval::{score::score, EpisodeStats};
//! use serde_json::json;
//! use std::collections::BTreeMap;
//!
//! let expected = ExpectedAnswer::Localization(LocalizationAnswer {
//!     services: vec!["mongodb-geo".into()],
//!     aliases: BTreeMap::from([("mongodb-geo".into(), vec!["geo".into()])]),
//! });
//! let s = score(&expected, &json!(["geo"]), None);
//! assert!(s.success());
//! let results = s.to_results(&EpisodeStats::new(&[], &[], 10.0));
//! assert_eq!(results["Localization Accuracy"], json!(100.0));
//! assert_eq!(results["reason"], json!(r#"submitted ["geo"]; expected ["mongodb-geo"] (or "geo"): exact match (100.0)"#));
//! ```

#![warn(missing_docs)]

pub mod aggregate;
pub mod error;
pub mod oracle;
pub mod score;
pub mod stats;
pub mod text;
pub mod tokens;
pub mod verdict;

pub use error::OracleError;
pub use stats::EpisodeStats;
pub use tokens::{TokenCounts, TokenSource, count_tokens};
pub use verdict::Verdict;
