//! End-to-end tests of AIOpsLab-rs live in `tests/tests/`; this library is empty.
//!
//! They drive the `aiopslab` binary and the real `kubectl` against the virtual cluster, and never
//! use an ambient kubeconfig or a real cluster.
//!
//! Tests that run the `aiopslab` binary (`tests/tests/cli.rs`) are declared as integration tests
//! of `aiopslab-cli` (a `[[test]]` section with a `path` into this folder), because cargo builds a
//! binary and passes its path in `CARGO_BIN_EXE_aiopslab` only to tests of the package that owns
//! it. Run them with `cargo test -p aiopslab-cli --test cli` or `cargo test --workspace`. Tests
//! that do not need the binary are declared in this package's `Cargo.toml` (`autotests = false`).
