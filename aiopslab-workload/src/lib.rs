//! The wrk2 workload of AIOpsLab-rs.
//!
//! This crate will own rendering the `wrk2-job` Job and its `wrk2-payload-script` ConfigMap
//! exactly as AIOpsLab creates them, starting and waiting for the Job with time limits, and
//! parsing the wrk2 report from its log.
