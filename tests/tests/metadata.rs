//! Guards the application definitions under `metadata/` (see `metadata/README.md`).
//!
//! Every manifest document is parsed with serde-saphyr (YAML 1.1 octals, like kubectl), turned
//! into the typed k8s-openapi object for its kind, serialised again and compared with the file:
//! k8s-openapi ignores unknown fields, so a misspelt field shows up as a field that the round
//! trip lost. Then the facts from `shared/apps/*.yaml` that the simulator, the fault injectors
//! and the agents rely on are checked: object counts and names, label conventions, container
//! names, images and commands, Service target ports, volume references, the ConfigMap scripts,
//! the `app.json` keys and the wrk2 scripts.
//!
//! Run with `cargo test -p aiopslab-tests --test metadata`. The modules live in `metadata/` next to
//! this file (it is a crate root, so they are named with `#[path]`).

#[path = "metadata/access.rs"]
mod access;
#[path = "metadata/common.rs"]
mod common;
#[path = "metadata/hotel.rs"]
mod hotel;
#[path = "metadata/load.rs"]
mod load;
#[path = "metadata/social.rs"]
mod social;
