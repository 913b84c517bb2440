//! The mitigation oracles against the virtual cluster of aiopslab-sim, started in-process
//! and reached only through its admin kubeconfig with aiopslab-k8s (one cluster per test).

mod common;
mod oracles;
mod settle;
