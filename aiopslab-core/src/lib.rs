//! Core contracts of AIOpsLab-rs.
//!
//! This crate holds everything an episode needs that does not touch a cluster:
//!
//! - [`task`]: the four task kinds (detection, localization, analysis, mitigation);
//! - [`problem`]: problem ids and catalogue entries;
//! - [`actions`]: the actions agents may call, with their parameters and documentation;
//! - [`prompts`]: the task descriptions and instructions agents receive;
//! - [`parser`]: the response parser that turns an agent's text into one action call;
//! - [`session`]: the session record and its JSON file;
//! - [`agent`]: the [`agent::Agent`] trait every agent implements;
//! - [`orchestrator`]: the loop that drives an agent against an environment;
//! - [`error`]: the crate's error type.
//!
//! Cluster access, faults and scoring live in the crates above this one and plug into the
//! orchestrator through the [`orchestrator::Environment`] trait.

pub mod actions;
pub mod agent;
pub mod error;
pub mod orchestrator;
pub mod parser;
pub mod problem;
pub mod prompts;
pub mod session;
pub mod task;

pub use error::Error;
