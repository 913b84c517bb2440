//! aiopslab-k8s against the virtual cluster of aiopslab-sim, started in-process and reached
//! only through the kubeconfig files it writes (one test binary, one cluster per test).

mod apply;
mod common;
mod connect;
mod credentials;
mod pods;
mod wait;
