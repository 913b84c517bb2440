//! Service defaulting, ClusterIP and NodePort allocation, and validation.
//!
//! ClusterIPs come from kind's service range 10.96.0.0/16. As in the real allocator, dynamic
//! addresses prefer the upper band (the first 256 addresses are left for static ones such as
//! `kubernetes` at 10.96.0.1 and `kube-dns` at 10.96.0.10); the choice is drawn from the
//! store's seeded generator, so the same seed gives the same addresses.

use super::Operation;
use super::field::{FieldError, validate_labels};
use crate::controllers::util::{arr, default_field, keys, obj_mut, s, sd};
use crate::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The service range of the virtual cluster (kind's default).
pub(crate) const SERVICE_CIDR: &str = "10.96.0.0/16";
const NODE_PORT_MIN: i64 = 30000;
const NODE_PORT_MAX: i64 = 32767;

fn ip_of(offset: u32) -> String {
    format!("10.96.{}.{}", offset >> 8, offset & 0xff)
}

fn offset_of(ip: &str) -> Option<u32> {
    let parts: Vec<u32> = ip
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [10, 96, a, b] if *a < 256 && *b < 256 => Some(a * 256 + b),
        _ => None,
    }
}

fn needs_node_ports(spec: &Value) -> bool {
    matches!(sd(spec, "/type"), "NodePort" | "LoadBalancer")
}

/// Addresses and node ports used by other services.
fn used(store: &Store, this: (&str, &str)) -> (BTreeSet<String>, BTreeSet<i64>) {
    let (services, _) = store.list(&keys::services(), None);
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for svc in services {
        if (sd(&svc, "/metadata/namespace"), sd(&svc, "/metadata/name")) == this {
            continue;
        }
        for ip in arr(&svc, "/spec/clusterIPs") {
            if let Some(ip) = ip.as_str() {
                ips.insert(ip.to_string());
            }
        }
        if let Some(ip) = s(&svc, "/spec/clusterIP") {
            ips.insert(ip.to_string());
        }
        for p in arr(&svc, "/spec/ports") {
            if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
                ports.insert(np);
            }
        }
    }
    (ips, ports)
}

fn allocate_ip(store: &Store, used: &BTreeSet<String>) -> Option<String> {
    // Upper band: 10.96.1.0 .. 10.96.255.254; then the lower band.
    let upper = 256u32..65535;
    let span = upper.end - upper.start;
    let start = (store.random_u64() % u64::from(span)) as u32;
    for i in 0..span {
        let ip = ip_of(upper.start + (start + i) % span);
        if !used.contains(&ip) {
            return Some(ip);
        }
    }
    (1u32..256).map(ip_of).find(|ip| !used.contains(ip))
}

fn allocate_node_port(store: &Store, used: &BTreeSet<i64>) -> Option<i64> {
    let span = NODE_PORT_MAX - NODE_PORT_MIN + 1;
    let start = (store.random_u64() % span as u64) as i64;
    (0..span)
        .map(|i| NODE_PORT_MIN + (start + i) % span)
        .find(|p| !used.contains(p))
}

/// Defaults, allocation and validation for a Service.
pub(super) fn admit_service(
    store: &Store,
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    let this = (
        sd(obj, "/metadata/namespace").to_string(),
        sd(obj, "/metadata/name").to_string(),
    );
    validate_labels("metadata.labels", obj.pointer("/metadata/labels"), errors);
    validate_labels("spec.selector", obj.pointer("/spec/selector"), errors);
    let spec = obj_mut(obj, "spec");
    default_field(spec, "type", json!("ClusterIP"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&ty.as_str()) {
        errors.push(FieldError::not_supported(
            "spec.type",
            &ty,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
        return;
    }
    let external_name = ty == "ExternalName";
    if !external_name {
        default_field(spec, "sessionAffinity", json!("None"));
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        default_field(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // Ports: protocol and targetPort defaults; validation.
    let multiple = spec
        .get("ports")
        .and_then(Value::as_array)
        .is_some_and(|p| p.len() > 1);
    let mut names = BTreeSet::new();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for (i, p) in ports.iter_mut().enumerate() {
            let Some(pm) = p.as_object_mut() else {
                continue;
            };
            default_field(pm, "protocol", json!("TCP"));
            let port = pm.get("port").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&port) {
                errors.push(FieldError::invalid(
                    &format!("spec.ports[{i}].port"),
                    port.to_string(),
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if !external_name {
                default_field(pm, "targetPort", json!(port));
            }
            let name = pm
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if multiple && name.is_empty() {
                errors.push(FieldError::required(&format!("spec.ports[{i}].name"), ""));
            } else if !name.is_empty() && !names.insert(name.clone()) {
                errors.push(FieldError::duplicate(
                    &format!("spec.ports[{i}].name"),
                    format!("{name:?}"),
                ));
            }
            if let Some(tp) = pm.get("targetPort").and_then(Value::as_i64)
                && !(1..=65535).contains(&tp)
            {
                errors.push(FieldError::invalid(
                    &format!("spec.ports[{i}].targetPort"),
                    tp.to_string(),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let has_ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    if !external_name && !headless && !has_ports {
        errors.push(FieldError::required("spec.ports", ""));
    }
    if external_name {
        if sd(&Value::Object(spec.clone()), "/externalName").is_empty() {
            errors.push(FieldError::required("spec.externalName", ""));
        }
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        return;
    }
    default_field(spec, "ipFamilies", json!(["IPv4"]));
    default_field(spec, "ipFamilyPolicy", json!("SingleStack"));

    // Keep what was allocated before when an update leaves it out.
    if op == Operation::Update
        && let Some(old) = old
    {
        let old_ip = s(old, "/spec/clusterIP").unwrap_or_default().to_string();
        let new_ip = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if new_ip.is_empty() && !old_ip.is_empty() {
            spec.insert("clusterIP".into(), json!(old_ip));
            if let Some(ips) = old.pointer("/spec/clusterIPs") {
                spec.insert("clusterIPs".into(), ips.clone());
            }
        } else if !old_ip.is_empty() && new_ip != old_ip {
            errors.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                format!("[]string{{{new_ip:?}}}"),
                "may not change once set",
            ));
            return;
        }
        if needs_node_ports(&Value::Object(spec.clone())) && needs_node_ports(&old["spec"]) {
            let old_ports = arr(old, "/spec/ports").to_vec();
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut() {
                    if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                        continue;
                    }
                    let same = old_ports.iter().find(|o| {
                        o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol")
                    });
                    if let Some(np) = same.and_then(|o| o.get("nodePort")) {
                        p["nodePort"] = np.clone();
                    }
                }
            }
        }
    }
    let (used_ips, used_ports) = used(store, (&this.0, &this.1));
    // ClusterIP.
    let ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let already_ours = old
        .and_then(|o| s(o, "/spec/clusterIP"))
        .is_some_and(|o| o == ip);
    if ip.is_empty() {
        match allocate_ip(store, &used_ips) {
            Some(ip) => {
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            None => errors.push(FieldError::invalid(
                "spec.clusterIPs",
                "[]string(nil)",
                format!("failed to allocate IP: range is full ({SERVICE_CIDR})"),
            )),
        }
    } else if ip == "None" {
        spec.insert("clusterIPs".into(), json!(["None"]));
    } else if !already_ours {
        let list = format!("[]string{{{ip:?}}}");
        if offset_of(&ip).is_none_or(|o| o == 0 || o == 65535) {
            errors.push(FieldError::invalid(
                "spec.clusterIPs",
                list,
                format!(
                    "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
                ),
            ));
        } else if used_ips.contains(&ip) {
            errors.push(FieldError::invalid(
                "spec.clusterIPs",
                list,
                format!("failed to allocate IP {ip}: provided IP is already allocated"),
            ));
        } else {
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    } else {
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    // Node ports.
    let wants_node_ports = matches!(ty.as_str(), "NodePort" | "LoadBalancer")
        && (ty != "LoadBalancer"
            || spec
                .get("allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false));
    let old_node_ports: BTreeSet<i64> = old
        .map(|o| {
            arr(o, "/spec/ports")
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .collect()
        })
        .unwrap_or_default();
    let mut taken = used_ports;
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for (i, p) in ports.iter_mut().enumerate() {
            let Some(pm) = p.as_object_mut() else {
                continue;
            };
            if !wants_node_ports {
                if ty == "ClusterIP" {
                    pm.remove("nodePort");
                }
                continue;
            }
            match pm
                .get("nodePort")
                .and_then(Value::as_i64)
                .filter(|n| *n != 0)
            {
                Some(np) => {
                    if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&np) {
                        errors.push(FieldError::invalid(
                            &format!("spec.ports[{i}].nodePort"),
                            np.to_string(),
                            format!("provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"),
                        ));
                    } else if taken.contains(&np) && !old_node_ports.contains(&np) {
                        errors.push(FieldError::invalid(
                            &format!("spec.ports[{i}].nodePort"),
                            np.to_string(),
                            "provided port is already allocated",
                        ));
                    } else {
                        taken.insert(np);
                    }
                }
                None => {
                    if let Some(np) = allocate_node_port(store, &taken) {
                        taken.insert(np);
                        pm.insert("nodePort".into(), json!(np));
                    }
                }
            }
        }
    }
    let status = obj_mut(obj, "status");
    default_field(status, "loadBalancer", json!({}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_offsets_round_trip() {
        assert_eq!(ip_of(10), "10.96.0.10");
        assert_eq!(offset_of("10.96.1.2"), Some(258));
        assert_eq!(offset_of("10.97.0.1"), None);
    }
}
