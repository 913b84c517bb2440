//! Agents for AIOpsLab-rs.
//!
//! This crate will own the OpenAI-compatible chat client with provider presets, the prompt
//! templates of AIOpsLab, and the built-in agents (scripted replay, the rule-based baseline and
//! the human at a terminal). Every agent implements [`aiopslab_core::agent::Agent`].
