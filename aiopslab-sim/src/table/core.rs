//! Printers for the core (`v1`) kinds other than Pod, and for `events.k8s.io` events.

use super::descriptions as d;
use super::duration::{since, time_of};
use super::json::{
    arr_at, at, created, format_labels, int_at, int_cell, is_deleting, layout_containers, len_at,
    name, obj_at, opt_int, opt_str, quantity_text, str_at,
};
use super::{Column, ColumnsFn, Printer, Row, RowFn, pod};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The printer for a core kind (or an `events.k8s.io` Event).
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let (columns, row): (ColumnsFn, RowFn) = match (group, kind) {
        ("", "Pod") => (pod::columns, pod::row),
        ("", "Service") => (service_columns, service_row),
        ("", "Endpoints") => (endpoints_columns, endpoints_row),
        ("", "Namespace") => (namespace_columns, namespace_row),
        ("", "Node") => (node_columns, node_row),
        ("", "ConfigMap") => (configmap_columns, configmap_row),
        ("", "Secret") => (secret_columns, secret_row),
        ("", "ServiceAccount") => (serviceaccount_columns, serviceaccount_row),
        ("", "Event") => (event_columns, event_row),
        ("events.k8s.io", "Event") => (event_columns, events_v1_row),
        ("", "PersistentVolume") => (pv_columns, pv_row),
        ("", "PersistentVolumeClaim") => (pvc_columns, pvc_row),
        ("", "ReplicationController") => (rc_columns, rc_row),
        ("", "ResourceQuota") => (quota_columns, quota_row),
        ("", "PodTemplate") => (podtemplate_columns, podtemplate_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

/// `<none>` for an empty string.
fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Service

fn service_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Type", "string", d::SVC_TYPE),
        Column::new("Cluster-IP", "string", d::SVC_CLUSTER_IP),
        Column::new("External-IP", "string", d::SVC_EXTERNAL_IPS),
        Column::new("Port(s)", "string", d::SVC_PORTS),
        Column::age(),
        Column::new("Selector", "string", d::SVC_SELECTOR).wide(),
    ]
}

/// The service's load-balancer addresses: IPs or host names, sorted and de-duplicated.
fn load_balancer_addresses(svc: &Value) -> Vec<String> {
    let mut out: Vec<String> = arr_at(svc, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn service_external_ip(svc: &Value, ty: &str) -> String {
    let external: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match ty {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_addresses(svc);
            if !external.is_empty() {
                let mut all = lb;
                all.extend(external.iter().map(|s| s.to_string()));
                all.join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

fn service_row(svc: &Value, now: Timestamp) -> Row {
    // The server defaults an unset type to ClusterIP and an unset protocol to TCP.
    let ty = opt_str(svc, &["spec", "type"])
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP");
    let cluster_ip = arr_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| str_at(svc, &["spec", "clusterIP"]));
    let ports: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = opt_str(p, &["protocol"])
                .filter(|s| !s.is_empty())
                .unwrap_or("TCP");
            let node_port = int_at(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    Row::new(vec![
        json!(name(svc)),
        json!(ty),
        json!(or_none(cluster_ip)),
        json!(service_external_ip(svc, ty)),
        json!(or_none(&ports.join(","))),
        json!(since(now, created(svc))),
        json!(format_labels(at(svc, &["spec", "selector"]))),
    ])
}

// ---------------------------------------------------------------------------------------------
// Endpoints

fn endpoints_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Endpoints", "string", d::EP_SUBSETS),
        Column::age(),
    ]
}

/// `host:port`, with IPv6 addresses in brackets (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Up to three `ip:port` endpoints and `+ N more...`: the server's `formatEndpoints`.
fn format_endpoints(ep: &Value) -> String {
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services without ports list bare IPs.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(MAX))
    } else {
        ret
    }
}

fn endpoints_row(ep: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(ep)),
        json!(format_endpoints(ep)),
        json!(since(now, created(ep))),
    ])
}

// ---------------------------------------------------------------------------------------------
// Namespace, ConfigMap, Secret, ServiceAccount

fn namespace_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the namespace"),
        Column::age(),
    ]
}

fn namespace_row(ns: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(ns)),
        json!(str_at(ns, &["status", "phase"])),
        json!(since(now, created(ns))),
    ])
}

fn configmap_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Data", "string", d::CM_DATA),
        Column::age(),
    ]
}

fn configmap_row(cm: &Value, now: Timestamp) -> Row {
    let count = len_at(cm, &["data"]) + len_at(cm, &["binaryData"]);
    Row::new(vec![
        json!(name(cm)),
        int_cell(count as i64),
        json!(since(now, created(cm))),
    ])
}

fn secret_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Type", "string", d::SECRET_TYPE),
        Column::new("Data", "string", d::SECRET_DATA),
        Column::age(),
    ]
}

fn secret_row(secret: &Value, now: Timestamp) -> Row {
    // The server defaults an unset type to Opaque.
    let ty = opt_str(secret, &["type"])
        .filter(|t| !t.is_empty())
        .unwrap_or("Opaque");
    Row::new(vec![
        json!(name(secret)),
        json!(ty),
        int_cell(len_at(secret, &["data"]) as i64),
        json!(since(now, created(secret))),
    ])
}

fn serviceaccount_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Secrets", "string", d::SA_SECRETS),
        Column::age(),
    ]
}

fn serviceaccount_row(sa: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(sa)),
        int_cell(len_at(sa, &["secrets"]) as i64),
        json!(since(now, created(sa))),
    ])
}

// ---------------------------------------------------------------------------------------------
// Node

fn node_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the node"),
        Column::new("Roles", "string", "The roles of the node"),
        Column::age(),
        Column::new("Version", "string", d::NODE_KUBELET_VERSION),
        Column::new("Internal-IP", "string", d::NODE_ADDRESSES).wide(),
        Column::new("External-IP", "string", d::NODE_ADDRESSES).wide(),
        Column::new("OS-Image", "string", d::NODE_OS_IMAGE).wide(),
        Column::new("Kernel-Version", "string", d::NODE_KERNEL).wide(),
        Column::new("Container-Runtime", "string", d::NODE_RUNTIME).wide(),
    ]
}

/// Roles from `node-role.kubernetes.io/<role>` labels and the `kubernetes.io/role` label.
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = obj_at(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    or_none(&roles.join(","))
}

fn node_address(node: &Value, ty: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == ty)
        .map(|a| str_at(a, &["address"]).to_string())
        .unwrap_or_else(|| "<none>".to_string())
}

fn node_row(node: &Value, now: Timestamp) -> Row {
    // The last Ready condition wins, as in the server's condition map.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let info = |field: &str| {
        let v = str_at(node, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    Row::new(vec![
        json!(name(node)),
        json!(status.join(",")),
        json!(node_roles(node)),
        json!(since(now, created(node))),
        json!(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(node_address(node, "InternalIP")),
        json!(node_address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ])
}

// ---------------------------------------------------------------------------------------------
// Event

fn event_columns() -> Vec<Column> {
    vec![
        Column::new("Last Seen", "string", d::EVENT_LAST_TS),
        Column::new("Type", "string", d::EVENT_TYPE),
        Column::new("Reason", "string", d::EVENT_REASON),
        Column::new("Object", "string", d::EVENT_INVOLVED),
        Column::new("Subobject", "string", d::EVENT_FIELD_PATH).wide(),
        Column::new("Source", "string", d::EVENT_SOURCE).wide(),
        Column::new("Message", "string", d::EVENT_MESSAGE),
        Column::new("First Seen", "string", d::EVENT_FIRST_TS).wide(),
        Column::new("Count", "string", d::EVENT_COUNT).wide(),
        Column::name().wide(),
    ]
}

/// The fields of an event the printer reads, whichever API version it came from.
struct EventView<'a> {
    name: &'a str,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    event_time: Option<Timestamp>,
    count: i64,
    series: Option<(i64, Option<Timestamp>)>,
    ty: &'a str,
    reason: &'a str,
    involved: Option<&'a Value>,
    component: &'a str,
    host: &'a str,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    message: &'a str,
}

fn event_cells(e: &EventView<'_>, now: Timestamp) -> Row {
    let age_of = |t: Option<Timestamp>| super::duration::since_time(now, t);
    let first = if e.first.is_some() {
        age_of(e.first)
    } else {
        age_of(e.event_time)
    };
    let mut last = if e.last.is_some() {
        age_of(e.last)
    } else {
        first.clone()
    };
    let mut count = e.count;
    if let Some((series_count, observed)) = e.series {
        last = age_of(observed);
        count = series_count;
    } else if count == 0 {
        // Singleton events of the new API have no count.
        count = 1;
    }
    let kind = e.involved.map(|o| str_at(o, &["kind"])).unwrap_or("");
    let involved_name = e.involved.map(|o| str_at(o, &["name"])).unwrap_or("");
    let target = if involved_name.is_empty() {
        kind.to_lowercase()
    } else {
        format!("{}/{involved_name}", kind.to_lowercase())
    };
    let component = if e.component.is_empty() {
        e.reporting_controller
    } else {
        e.component
    };
    let instance = if e.host.is_empty() {
        e.reporting_instance
    } else {
        e.host
    };
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::new(vec![
        json!(last),
        json!(e.ty),
        json!(e.reason),
        json!(target),
        json!(e.involved.map(|o| str_at(o, &["fieldPath"])).unwrap_or("")),
        json!(source),
        json!(e.message.trim()),
        json!(first),
        int_cell(count),
        json!(e.name),
    ])
}

fn series_of(ev: &Value, count_key: &str, time_key: &str) -> Option<(i64, Option<Timestamp>)> {
    at(ev, &["series"])
        .filter(|s| s.is_object())
        .map(|s| (int_at(s, &[count_key]), time_of(s.get(time_key))))
}

/// A core `v1` Event.
fn event_row(ev: &Value, now: Timestamp) -> Row {
    let view = EventView {
        name: name(ev),
        first: time_of(ev.get("firstTimestamp")),
        last: time_of(ev.get("lastTimestamp")),
        event_time: time_of(ev.get("eventTime")),
        count: int_at(ev, &["count"]),
        series: series_of(ev, "count", "lastObservedTime"),
        ty: str_at(ev, &["type"]),
        reason: str_at(ev, &["reason"]),
        involved: ev.get("involvedObject"),
        component: str_at(ev, &["source", "component"]),
        host: str_at(ev, &["source", "host"]),
        reporting_controller: str_at(ev, &["reportingComponent"]),
        reporting_instance: str_at(ev, &["reportingInstance"]),
        message: str_at(ev, &["message"]),
    };
    event_cells(&view, now)
}

/// An `events.k8s.io/v1` Event, read through its field names (`note`, `regarding`, ...).
fn events_v1_row(ev: &Value, now: Timestamp) -> Row {
    let view = EventView {
        name: name(ev),
        first: time_of(ev.get("deprecatedFirstTimestamp")),
        last: time_of(ev.get("deprecatedLastTimestamp")),
        event_time: time_of(ev.get("eventTime")),
        count: int_at(ev, &["deprecatedCount"]),
        series: series_of(ev, "count", "lastObservedTime"),
        ty: str_at(ev, &["type"]),
        reason: str_at(ev, &["reason"]),
        involved: ev.get("regarding"),
        component: str_at(ev, &["deprecatedSource", "component"]),
        host: str_at(ev, &["deprecatedSource", "host"]),
        reporting_controller: str_at(ev, &["reportingController"]),
        reporting_instance: str_at(ev, &["reportingInstance"]),
        message: str_at(ev, &["note"]),
    };
    event_cells(&view, now)
}

// ---------------------------------------------------------------------------------------------
// PersistentVolume, PersistentVolumeClaim

/// Access modes as `RWO,ROX,RWX,RWOP`, always in that order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class: the beta annotation first, then `spec.storageClassName`.
fn storage_class(v: &Value) -> &str {
    opt_str(
        v,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .unwrap_or_else(|| str_at(v, &["spec", "storageClassName"]))
}

fn unset_or(v: Option<&str>) -> String {
    v.map(str::to_string)
        .unwrap_or_else(|| "<unset>".to_string())
}

fn pv_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Capacity", "string", d::PV_CAPACITY),
        Column::new("Access Modes", "string", d::PV_ACCESS_MODES),
        Column::new("Reclaim Policy", "string", d::PV_RECLAIM),
        Column::new("Status", "string", d::PV_PHASE),
        Column::new("Claim", "string", d::PV_CLAIM),
        Column::new("StorageClass", "string", "StorageClass of the pv"),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
        ),
        Column::new("Reason", "string", d::PV_REASON),
        Column::age(),
        Column::new("VolumeMode", "string", d::PV_VOLUME_MODE).wide(),
    ]
}

fn pv_row(pv: &Value, now: Timestamp) -> Row {
    let claim = match at(pv, &["spec", "claimRef"]).filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if is_deleting(pv) {
        "Terminating"
    } else {
        str_at(pv, &["status", "phase"])
    };
    Row::new(vec![
        json!(name(pv)),
        json!(quantity_text(at(pv, &["spec", "capacity", "storage"]))),
        json!(access_modes(arr_at(pv, &["spec", "accessModes"]))),
        json!(str_at(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(storage_class(pv)),
        json!(unset_or(opt_str(
            pv,
            &["spec", "volumeAttributesClassName"]
        ))),
        json!(str_at(pv, &["status", "reason"])),
        json!(since(now, created(pv))),
        json!(unset_or(opt_str(pv, &["spec", "volumeMode"]))),
    ])
}

fn pvc_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", d::PVC_PHASE),
        Column::new("Volume", "string", d::PVC_VOLUME_NAME),
        Column::new("Capacity", "string", d::PVC_CAPACITY),
        Column::new("Access Modes", "string", d::PVC_ACCESS_MODES),
        Column::new("StorageClass", "string", "StorageClass of the pvc"),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
        ),
        Column::age(),
        Column::new("VolumeMode", "string", d::PVC_VOLUME_MODE).wide(),
    ]
}

fn pvc_row(pvc: &Value, now: Timestamp) -> Row {
    let phase = if is_deleting(pvc) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    // Capacity and access modes are shown only once the claim is bound to a volume.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_text(at(pvc, &["status", "capacity", "storage"])),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    Row::new(vec![
        json!(name(pvc)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(pvc)),
        json!(unset_or(opt_str(
            pvc,
            &["spec", "volumeAttributesClassName"]
        ))),
        json!(since(now, created(pvc))),
        json!(unset_or(opt_str(pvc, &["spec", "volumeMode"]))),
    ])
}

// ---------------------------------------------------------------------------------------------
// ReplicationController, ResourceQuota, PodTemplate

fn rc_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Desired", "integer", d::RC_SPEC_REPLICAS),
        Column::new("Current", "integer", d::RC_STATUS_REPLICAS),
        Column::new("Ready", "integer", d::RC_READY_REPLICAS),
        Column::age(),
        Column::new(
            "Containers",
            "string",
            "Names of each container in the template.",
        )
        .wide(),
        Column::new(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        )
        .wide(),
        Column::new("Selector", "string", d::RC_SELECTOR).wide(),
    ]
}

fn rc_row(rc: &Value, now: Timestamp) -> Row {
    let (names, images) =
        layout_containers(arr_at(rc, &["spec", "template", "spec", "containers"]));
    Row::new(vec![
        json!(name(rc)),
        int_cell(opt_int(rc, &["spec", "replicas"]).unwrap_or(1)),
        int_cell(int_at(rc, &["status", "replicas"])),
        int_cell(int_at(rc, &["status", "readyReplicas"])),
        json!(since(now, created(rc))),
        json!(names),
        json!(images),
        json!(format_labels(at(rc, &["spec", "selector"]))),
    ])
}

fn quota_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::new(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        Column::age(),
    ]
}

fn quota_row(quota: &Value, now: Timestamp) -> Row {
    let mut resources: Vec<&String> = obj_at(quota, &["status", "hard"])
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let mut requests: Vec<String> = Vec::new();
    let mut limits: Vec<String> = Vec::new();
    for r in resources {
        // Quantities print canonically (`1000m` is `1`); a missing used value is zero.
        let canonical = |v: Option<&Value>| {
            let text = quantity_text(v);
            super::quantity::canonical(&text).unwrap_or(text)
        };
        let used = canonical(at(quota, &["status", "used", r]));
        let hard = canonical(at(quota, &["status", "hard", r]));
        let text = format!("{r}: {used}/{hard}");
        let mut pieces = r.split('.');
        if pieces.next() == Some("limits") && pieces.next().is_some() {
            limits.push(text);
        } else {
            requests.push(text);
        }
    }
    Row::new(vec![
        json!(name(quota)),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        json!(since(now, created(quota))),
    ])
}

fn podtemplate_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Containers",
            "string",
            "Names of each container in the template.",
        ),
        Column::new(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        ),
        Column::new("Pod Labels", "string", "The labels for the pod template."),
    ]
}

fn podtemplate_row(pt: &Value, _now: Timestamp) -> Row {
    let (names, images) = layout_containers(arr_at(pt, &["template", "spec", "containers"]));
    Row::new(vec![
        json!(name(pt)),
        json!(names),
        json!(images),
        json!(format_labels(at(pt, &["template", "metadata", "labels"]))),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{Value, json};

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "shop", "creationTimestamp": ago(3 * 86400 + 7200)})
    }

    #[test]
    fn service_columns_match_the_server() {
        assert_eq!(
            column_names("", "Service"),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector*"
            ]
        );
    }

    #[test]
    fn services_table() {
        let cases = [
            (
                json!({"metadata": meta("frontend"), "spec": {"type": "ClusterIP",
                    "clusterIP": "10.96.12.4", "clusterIPs": ["10.96.12.4"],
                    "ports": [{"port": 5000, "protocol": "TCP", "targetPort": 5000}],
                    "selector": {"io.kompose.service": "frontend"}}}),
                json!([
                    "frontend",
                    "ClusterIP",
                    "10.96.12.4",
                    "<none>",
                    "5000/TCP",
                    "3d2h",
                    "io.kompose.service=frontend"
                ]),
            ),
            (
                json!({"metadata": meta("jaeger"), "spec": {"type": "NodePort",
                    "clusterIP": "10.96.0.20",
                    "ports": [{"port": 16686, "nodePort": 30001, "protocol": "TCP"},
                              {"port": 6831, "protocol": "UDP"}]}}),
                json!([
                    "jaeger",
                    "NodePort",
                    "10.96.0.20",
                    "<none>",
                    "16686:30001/TCP,6831/UDP",
                    "3d2h",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer",
                    "clusterIPs": ["10.96.0.30"], "ports": [{"port": 80, "nodePort": 31000}]}}),
                json!([
                    "lb",
                    "LoadBalancer",
                    "10.96.0.30",
                    "<pending>",
                    "80:31000/TCP",
                    "3d2h",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("lb2"), "spec": {"type": "LoadBalancer",
                    "clusterIPs": ["10.96.0.31"], "externalIPs": ["1.2.3.4"], "ports": [{"port": 443}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.9"}, {"hostname": "lb.example"},
                                                           {"ip": "172.18.0.9"}]}}}),
                json!([
                    "lb2",
                    "LoadBalancer",
                    "10.96.0.31",
                    "172.18.0.9,lb.example,1.2.3.4",
                    "443/TCP",
                    "3d2h",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("db"), "spec": {"clusterIP": "None", "clusterIPs": ["None"],
                    "ports": [{"port": 27017}]}}),
                json!([
                    "db",
                    "ClusterIP",
                    "None",
                    "<none>",
                    "27017/TCP",
                    "3d2h",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("ext"), "spec": {"type": "ExternalName",
                    "externalName": "db.example.com"}}),
                json!([
                    "ext",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "3d2h",
                    "<none>"
                ]),
            ),
            (
                json!({"metadata": meta("ips"), "spec": {"clusterIP": "10.96.0.40",
                    "externalIPs": ["5.6.7.8", "5.6.7.9"], "ports": [{"port": 80}]}}),
                json!([
                    "ips",
                    "ClusterIP",
                    "10.96.0.40",
                    "5.6.7.8,5.6.7.9",
                    "80/TCP",
                    "3d2h",
                    "<none>"
                ]),
            ),
        ];
        for (svc, want) in cases {
            assert_cells("", "Service", svc, want);
        }
    }

    #[test]
    fn endpoints_table() {
        let cases = [
            (json!({"metadata": meta("e")}), "<none>"),
            (
                json!({"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                       "ports": [{"port": 8080}]}]}),
                "10.0.0.1:8080,10.0.0.2:8080",
            ),
            (
                json!({"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                       "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}]}),
                "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
            ),
            (
                json!({"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}),
                "10.0.0.1",
            ),
            (
                json!({"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
                "[fd00::1]:80",
            ),
            (
                json!({"metadata": meta("e"), "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
                "",
            ),
        ];
        for (ep, want) in cases {
            assert_cells("", "Endpoints", ep, json!(["e", want, "3d2h"]));
        }
    }

    #[test]
    fn small_core_kinds() {
        assert_cells(
            "",
            "Namespace",
            json!({"metadata": meta("test-hotel-reservation"), "status": {"phase": "Active"}}),
            json!(["test-hotel-reservation", "Active", "3d2h"]),
        );
        assert_cells(
            "",
            "ConfigMap",
            json!({"metadata": meta("mongo-rate-script"), "data": {"a.sh": "x", "b.sh": "y"},
                   "binaryData": {"c": "AAAA"}}),
            json!(["mongo-rate-script", 3, "3d2h"]),
        );
        assert_cells(
            "",
            "Secret",
            json!({"metadata": meta("tls"), "type": "kubernetes.io/tls",
                   "data": {"tls.crt": "", "tls.key": ""}}),
            json!(["tls", "kubernetes.io/tls", 2, "3d2h"]),
        );
        assert_cells(
            "",
            "Secret",
            json!({"metadata": meta("plain")}),
            json!(["plain", "Opaque", 0, "3d2h"]),
        );
        assert_cells(
            "",
            "ServiceAccount",
            json!({"metadata": meta("default")}),
            json!(["default", 0, "3d2h"]),
        );
        assert_eq!(column_names("", "Secret"), ["Name", "Type", "Data", "Age"]);
        assert_eq!(column_names("", "Namespace"), ["Name", "Status", "Age"]);
    }

    #[test]
    fn nodes_table() {
        assert_eq!(
            column_names("", "Node"),
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP*",
                "External-IP*",
                "OS-Image*",
                "Kernel-Version*",
                "Container-Runtime*"
            ]
        );
        let node = json!({
            "metadata": {"name": "kind-control-plane", "creationTimestamp": ago(86400 * 10),
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "kubernetes.io/role": "master", "kubernetes.io/hostname": "x"}},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                                     {"type": "Hostname", "address": "kind-control-plane"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://1.7.24"}}
        });
        assert_cells(
            "",
            "Node",
            node.clone(),
            json!([
                "kind-control-plane",
                "Ready",
                "control-plane,master",
                "10d",
                "v1.32.0",
                "172.18.0.2",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.8.0",
                "containerd://1.7.24"
            ]),
        );
        let mut cordoned = node.clone();
        cordoned["spec"] = json!({"unschedulable": true});
        assert_eq!(cells("", "Node", cordoned)[1], "Ready,SchedulingDisabled");
        let mut down = node.clone();
        down["status"]["conditions"] = json!([{"type": "Ready", "status": "Unknown"}]);
        assert_eq!(cells("", "Node", down)[1], "NotReady");
        let bare = json!({"metadata": {"name": "n", "creationTimestamp": ago(5)}, "spec": {"unschedulable": true}});
        assert_cells(
            "",
            "Node",
            bare,
            json!([
                "n",
                "Unknown,SchedulingDisabled",
                "<none>",
                "5s",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        );
    }

    #[test]
    fn event_columns_match_the_server() {
        assert_eq!(
            column_names("", "Event"),
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject*",
                "Source*",
                "Message",
                "First Seen*",
                "Count*",
                "Name*"
            ]
        );
        let t = table_of("", "Event", json!({}));
        let name = &t["columnDefinitions"][9];
        assert_eq!(name["format"], "name");
    }

    #[test]
    fn events_table() {
        let warning = json!({
            "metadata": {"name": "web.17a", "namespace": "shop", "creationTimestamp": ago(600)},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "shop",
                               "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning",
            "message": "Back-off restarting failed container app\n",
            "source": {"component": "kubelet", "host": "kind-worker"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 12
        });
        assert_cells(
            "",
            "Event",
            warning,
            json!([
                "30s",
                "Warning",
                "BackOff",
                "pod/web",
                "spec.containers{app}",
                "kubelet, kind-worker",
                "Back-off restarting failed container app",
                "10m",
                12,
                "web.17a"
            ]),
        );
        // New-style event: eventTime only, reporting controller, no count.
        let new_style = json!({
            "metadata": {"name": "d.1", "creationTimestamp": ago(200)},
            "involvedObject": {"kind": "Deployment", "name": "d"},
            "reason": "ScalingReplicaSet", "type": "Normal", "message": "Scaled up",
            "eventTime": "2026-03-01T11:56:40.000000Z",
            "reportingComponent": "deployment-controller", "reportingInstance": ""
        });
        assert_cells(
            "",
            "Event",
            new_style,
            json!([
                "3m20s",
                "Normal",
                "ScalingReplicaSet",
                "deployment/d",
                "",
                "deployment-controller",
                "Scaled up",
                "3m20s",
                1,
                "d.1"
            ]),
        );
        // A series overrides last seen and count; no timestamps at all is <unknown>.
        let series = json!({
            "metadata": {"name": "s"},
            "involvedObject": {"kind": "Node"},
            "series": {"count": 7, "lastObservedTime": ago(65)}
        });
        let c = cells("", "Event", series);
        assert_eq!(c[0], "65s");
        assert_eq!(c[3], "node");
        assert_eq!(c[7], "<unknown>");
        assert_eq!(c[8], 7);
    }

    #[test]
    fn events_k8s_io_events_use_the_same_columns() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "creationTimestamp": ago(100)},
            "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "note": "Started container app", "reason": "Started", "type": "Normal",
            "reportingController": "kubelet", "reportingInstance": "kind-worker",
            "deprecatedFirstTimestamp": ago(100), "deprecatedLastTimestamp": ago(40),
            "deprecatedCount": 2
        });
        assert_cells(
            "events.k8s.io",
            "Event",
            ev,
            json!([
                "40s",
                "Normal",
                "Started",
                "pod/web",
                "spec.containers{app}",
                "kubelet, kind-worker",
                "Started container app",
                "100s",
                2,
                "web.1"
            ]),
        );
    }

    #[test]
    fn persistent_volumes_table() {
        assert_eq!(
            column_names("", "PersistentVolume"),
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "VolumeMode*"
            ]
        );
        let pv = json!({
            "metadata": {"name": "geo-pv", "creationTimestamp": ago(7200)},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "geo-storage",
                     "claimRef": {"namespace": "test-hotel-reservation", "name": "geo-pvc"},
                     "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}
        });
        assert_cells(
            "",
            "PersistentVolume",
            pv.clone(),
            json!([
                "geo-pv",
                "1Gi",
                "RWO,RWX",
                "Retain",
                "Bound",
                "test-hotel-reservation/geo-pvc",
                "geo-storage",
                "<unset>",
                "",
                "120m",
                "Filesystem"
            ]),
        );
        let mut gone = pv;
        gone["metadata"]["deletionTimestamp"] = json!(ago(1));
        gone["metadata"]["annotations"] =
            json!({"volume.beta.kubernetes.io/storage-class": "beta"});
        let c = cells("", "PersistentVolume", gone);
        assert_eq!(c[4], "Terminating");
        assert_eq!(c[6], "beta");
    }

    #[test]
    fn persistent_volume_claims_table() {
        let pending = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(20)},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}},
                     "storageClassName": "standard"},
            "status": {"phase": "Pending"}
        });
        assert_cells(
            "",
            "PersistentVolumeClaim",
            pending,
            json!([
                "data", "Pending", "", "", "", "standard", "<unset>", "20s", "<unset>"
            ]),
        );
        let bound = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(20)},
            "spec": {"volumeName": "pvc-123", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOncePod"]}
        });
        assert_cells(
            "",
            "PersistentVolumeClaim",
            bound,
            json!([
                "data",
                "Bound",
                "pvc-123",
                "5Gi",
                "RWOP",
                "",
                "<unset>",
                "20s",
                "Filesystem"
            ]),
        );
    }

    #[test]
    fn replication_controllers_quotas_and_templates() {
        assert_cells(
            "",
            "ReplicationController",
            json!({"metadata": meta("rc"), "spec": {"selector": {"app": "x"},
                   "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
                   "status": {"replicas": 1}}),
            json!(["rc", 1, 1, 0, "3d2h", "c", "i", "app=x"]),
        );
        assert_cells(
            "",
            "ResourceQuota",
            json!({"metadata": meta("q"), "status": {
                "hard": {"requests.cpu": "2", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "4"},
                "used": {"requests.cpu": "500m", "limits.memory": "1Gi", "pods": "3"}}}),
            json!([
                "q",
                "pods: 3/10, requests.cpu: 500m/2",
                "limits.cpu: 0/4, limits.memory: 1Gi/2Gi",
                "3d2h"
            ]),
        );
        // Quantities print canonically, as Quantity.String() does.
        assert_eq!(
            cells(
                "",
                "ResourceQuota",
                json!({"metadata": meta("q"), "status": {
                    "hard": {"cpu": "1000m", "memory": "1024Mi"},
                    "used": {"cpu": "0.1", "memory": "512Mi"}}}),
            )[1],
            "cpu: 100m/1, memory: 512Mi/1Gi"
        );
        assert_cells(
            "",
            "PodTemplate",
            json!({"metadata": meta("pt"), "template": {"metadata": {"labels": {"a": "b"}},
                   "spec": {"containers": [{"name": "c", "image": "i"}]}}}),
            json!(["pt", "c", "i", "a=b"]),
        );
    }
}
