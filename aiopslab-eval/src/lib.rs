//! Scoring for AIOpsLab-rs.
//!
//! This crate will own AIOpsLab-compatible scoring of detection, localization, analysis and
//! mitigation, mitigation oracles that judge the settled live cluster, the LLM-as-judge,
//! token and cost accounting, and aggregation into reports.
