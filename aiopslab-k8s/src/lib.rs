//! Cluster access for AIOpsLab-rs.
//!
//! This crate will own everything that talks to a Kubernetes API server through `kube`:
//! connecting with an explicitly named kubeconfig context (never an ambient one), applying
//! manifests with server-side apply, waiting for readiness with watches that fail fast with the
//! reason, pod logs and exec, namespaces, the agent's restricted credentials, and Helm by
//! shelling out. It works the same against the virtual cluster of `aiopslab-sim` and a real one.
