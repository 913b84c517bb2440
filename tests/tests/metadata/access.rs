//! Small accessors over the typed objects; they panic with the object's name when a fact the
//! tests rely on is missing.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PodSpec, PodTemplateSpec, Service, ServicePort,
};
use std::collections::{BTreeMap, BTreeSet};

use crate::load::App;

// ------------------------------------------------------------------------------------------
// Accessors
// ------------------------------------------------------------------------------------------

pub(crate) fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

pub(crate) fn labels(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

pub(crate) fn annotations(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> BTreeMap<String, String> {
    meta.annotations.clone().unwrap_or_default()
}

pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn template(d: &Deployment) -> &PodTemplateSpec {
    let spec = d
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("deployment {} has no spec", name_of(&d.metadata)));
    &spec.template
}

pub(crate) fn pod_spec(d: &Deployment) -> &PodSpec {
    template(d)
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("deployment {} has no pod spec", name_of(&d.metadata)))
}

pub(crate) fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    template(d)
        .metadata
        .as_ref()
        .map(labels)
        .unwrap_or_default()
}

pub(crate) fn only_container(d: &Deployment) -> &Container {
    let containers = &pod_spec(d).containers;
    assert_eq!(
        containers.len(),
        1,
        "deployment {} should have one container",
        name_of(&d.metadata)
    );
    &containers[0]
}

pub(crate) fn deployment<'a>(app: &'a App, name: &str) -> &'a Deployment {
    app.deployments
        .iter()
        .find(|d| name_of(&d.metadata) == name)
        .unwrap_or_else(|| panic!("{}: no deployment {name}", app.name))
}

pub(crate) fn service<'a>(app: &'a App, name: &str) -> &'a Service {
    app.services
        .iter()
        .find(|s| name_of(&s.metadata) == name)
        .unwrap_or_else(|| panic!("{}: no service {name}", app.name))
}

pub(crate) fn config_map<'a>(app: &'a App, name: &str) -> &'a ConfigMap {
    app.config_maps
        .iter()
        .find(|c| name_of(&c.metadata) == name)
        .unwrap_or_else(|| panic!("{}: no configmap {name}", app.name))
}

pub(crate) fn ports(s: &Service) -> &[ServicePort] {
    s.spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or(&[])
}

pub(crate) fn container_ports(c: &Container) -> Vec<(i32, String)> {
    c.ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.container_port,
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect()
}

pub(crate) fn mounts(c: &Container) -> Vec<(String, String, Option<String>, bool)> {
    c.volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.name.clone(),
                m.mount_path.clone(),
                m.sub_path.clone(),
                m.read_only.unwrap_or(false),
            )
        })
        .collect()
}

pub(crate) fn env(c: &Container) -> Vec<(String, String)> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

pub(crate) fn names<T>(items: &[T], meta: impl Fn(&T) -> &str) -> BTreeSet<String> {
    items.iter().map(|i| meta(i).to_string()).collect()
}

pub(crate) fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}
