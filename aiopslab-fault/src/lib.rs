//! Fault injectors for AIOpsLab-rs.
//!
//! This crate will own the fault injectors, grouped as in AIOpsLab: symptom faults as Chaos Mesh
//! objects, virtualization faults (Service targetPort, scale to zero, non-existent node, wrong
//! binary, redeploy without volumes), application faults (MongoDB auth, image, TLS), OTel feature
//! flags, operator, OS and hardware faults, and the no-op. Every inject has a recover; both are
//! idempotent and act only through the Kubernetes API.
