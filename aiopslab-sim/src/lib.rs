//! The AIOpsLab-rs virtual cluster.
//!
//! An in-process Kubernetes API server on 127.0.0.1 that the real `kubectl` and `kube` clients
//! use as they would a small kind cluster, with controllers like the real ones. Later layers add
//! the applications' behaviour and telemetry on top.
//!
//! Module map:
//! - [`clock`]: the wall clock or a manual clock for tests;
//! - [`resources`]: the catalogue of served kinds (group, version, plural, scope, short names);
//! - [`store`]: objects, resource versions and watch events;
//! - [`selector`]: label and field selectors;
//! - [`patch`]: JSON patch, merge patch, strategic merge patch and server-side apply;
//! - [`table`]: server-side `Table` output with the real API server's columns;
//! - [`runtime`]: the seam to what runs in pods (logs and exec), implemented by the kubelet;
//! - [`admission`]: defaults and validation applied to every write (ClusterIP allocation, pod defaults);
//! - [`api`]: the HTTP layer (discovery, verbs, subresources, status errors);
//! - [`auth`]: tokens, the admin and agent identities and their permissions;
//! - [`controllers`]: deployment, replica set, scheduler, kubelet and the other control loops;
//! - [`apps`]: the applications' behaviour (profiles as data), internal state, networking,
//!   request flow and deployment;
//! - [`cluster`]: starting and stopping a virtual cluster and writing its kubeconfigs;
//! - [`telemetry`]: metric, trace and log sources and the Prometheus, Jaeger and Elasticsearch endpoints;
//! - [`workload`]: the `deathstarbench/wrk2-client` image: wrk2's open-loop load and its report.

pub mod admission;
pub mod api;
pub mod apps;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod controllers;
pub mod patch;
pub mod resources;
pub mod runtime;
pub mod selector;
pub mod store;
pub mod table;
pub mod telemetry;
pub mod workload;
