//! End-to-end tests of AIOpsLab-rs live in `tests/tests/`; this library is empty.
//!
//! They drive the `aiopslab` binary and the real `kubectl` against the virtual cluster, and never
//! use an ambient kubeconfig or a real cluster.
