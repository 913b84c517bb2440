//! Printers for the remaining built-in groups: RBAC bindings, storage classes, endpoint
//! slices, leases, networking, policy, scheduling and admission webhooks.

use super::descriptions as d;
use super::duration::since;
use super::json::{
    arr_at, at, created, format_label_selector, int_at, int_cell, int_or_string, name, opt_bool,
    opt_int, opt_str, str_at,
};
use super::{Column, ColumnsFn, Printer, Row, RowFn};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The printer for a kind of one of the groups above.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let (columns, row): (ColumnsFn, RowFn) = match (group, kind) {
        ("rbac.authorization.k8s.io", "RoleBinding") => (rolebinding_columns, binding_row),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            (clusterrolebinding_columns, binding_row)
        }
        ("storage.k8s.io", "StorageClass") => (storageclass_columns, storageclass_row),
        ("discovery.k8s.io", "EndpointSlice") => (endpointslice_columns, endpointslice_row),
        ("coordination.k8s.io", "Lease") => (lease_columns, lease_row),
        ("networking.k8s.io", "Ingress") => (ingress_columns, ingress_row),
        ("networking.k8s.io", "IngressClass") => (ingressclass_columns, ingressclass_row),
        ("networking.k8s.io", "NetworkPolicy") => (networkpolicy_columns, networkpolicy_row),
        ("policy", "PodDisruptionBudget") => (pdb_columns, pdb_row),
        ("scheduling.k8s.io", "PriorityClass") => (priorityclass_columns, priorityclass_row),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => (webhook_columns, webhook_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

/// Up to three items and `+ N more...`, or `<unset>` for none: the server's
/// `listWithMoreString`.
fn list_with_more(items: Vec<String>) -> String {
    const MAX: usize = 3;
    let count = items.len();
    if count == 0 {
        return "<unset>".to_string();
    }
    let shown = items[..count.min(MAX)].join(",");
    if count > MAX {
        format!("{shown} + {} more...", count - MAX)
    } else {
        shown
    }
}

// ---------------------------------------------------------------------------------------------
// RBAC

fn binding_columns(what: &str, role_ref: &'static str) -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Role", "string", role_ref),
        Column::age(),
        Column::new("Users", "string", &format!("Users in the {what}")).wide(),
        Column::new("Groups", "string", &format!("Groups in the {what}")).wide(),
        Column::new(
            "ServiceAccounts",
            "string",
            &format!("ServiceAccounts in the {what}"),
        )
        .wide(),
    ]
}

fn rolebinding_columns() -> Vec<Column> {
    binding_columns("roleBinding", d::RB_ROLE_REF)
}

fn clusterrolebinding_columns() -> Vec<Column> {
    binding_columns("clusterRoleBinding", d::CRB_ROLE_REF)
}

fn binding_row(binding: &Value, now: Timestamp) -> Row {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for s in arr_at(binding, &["subjects"]) {
        let subject_name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "ServiceAccount" => {
                service_accounts.push(format!("{}/{subject_name}", str_at(s, &["namespace"])))
            }
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    Row::new(vec![
        json!(name(binding)),
        json!(format!(
            "{}/{}",
            str_at(binding, &["roleRef", "kind"]),
            str_at(binding, &["roleRef", "name"])
        )),
        json!(since(now, created(binding))),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ])
}

// ---------------------------------------------------------------------------------------------
// Storage, discovery, coordination

fn storageclass_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Provisioner", "string", d::SC_PROVISIONER),
        Column::new("ReclaimPolicy", "string", d::SC_RECLAIM),
        Column::new("VolumeBindingMode", "string", d::SC_BINDING_MODE),
        Column::new("AllowVolumeExpansion", "string", d::SC_EXPANSION),
        Column::age(),
    ]
}

/// Whether the class carries the (beta or GA) is-default-class annotation set to `true`.
fn is_default_class(sc: &Value) -> bool {
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| opt_str(sc, &["metadata", "annotations", key]) == Some("true"))
}

fn storageclass_row(sc: &Value, now: Timestamp) -> Row {
    let mut shown_name = name(sc).to_string();
    if is_default_class(sc) {
        shown_name.push_str(" (default)");
    }
    Row::new(vec![
        json!(shown_name),
        json!(str_at(sc, &["provisioner"])),
        json!(opt_str(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        json!(opt_str(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        json!(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        json!(since(now, created(sc))),
    ])
}

fn endpointslice_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("AddressType", "string", d::EPS_ADDRESS_TYPE),
        Column::new("Ports", "string", d::EPS_PORTS),
        Column::new("Endpoints", "string", d::EPS_ENDPOINTS),
        Column::age(),
    ]
}

fn endpointslice_row(slice: &Value, now: Timestamp) -> Row {
    let ports: Vec<String> = arr_at(slice, &["ports"])
        .iter()
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(port_name)) => port_name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(slice, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    Row::new(vec![
        json!(name(slice)),
        json!(str_at(slice, &["addressType"])),
        json!(list_with_more(ports)),
        json!(list_with_more(addresses)),
        json!(since(now, created(slice))),
    ])
}

fn lease_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Holder", "string", d::LEASE_HOLDER),
        Column::age(),
    ]
}

fn lease_row(lease: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(lease)),
        json!(str_at(lease, &["spec", "holderIdentity"])),
        json!(since(now, created(lease))),
    ])
}

// ---------------------------------------------------------------------------------------------
// Networking

fn ingress_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        Column::new(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
        ),
        Column::new(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
        ),
        Column::new("Ports", "string", "Ports of TLS configurations that open"),
        Column::age(),
    ]
}

/// Up to three rule hosts, `*` when no rule names one: the server's `formatHosts`.
fn ingress_hosts(ing: &Value) -> String {
    const MAX: usize = 3;
    let rules = arr_at(ing, &["spec", "rules"]);
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let shown = list.join(",");
    if more {
        format!("{shown} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        shown
    }
}

fn ingress_row(ing: &Value, now: Timestamp) -> Row {
    let mut addresses: Vec<&str> = arr_at(ing, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    Row::new(vec![
        json!(name(ing)),
        json!(opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        json!(ingress_hosts(ing)),
        json!(addresses.join(",")),
        json!(ports),
        json!(since(now, created(ing))),
    ])
}

fn ingressclass_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
        ),
        Column::new(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
        ),
        Column::age(),
    ]
}

fn ingressclass_row(class: &Value, now: Timestamp) -> Row {
    let parameters = match at(class, &["spec", "parameters"]).filter(|p| p.is_object()) {
        Some(p) => {
            let mut text = str_at(p, &["kind"]).to_string();
            if let Some(group) = opt_str(p, &["apiGroup"]) {
                text = format!("{text}.{group}");
            }
            format!("{text}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_string(),
    };
    Row::new(vec![
        json!(name(class)),
        json!(str_at(class, &["spec", "controller"])),
        json!(parameters),
        json!(since(now, created(class))),
    ])
}

fn networkpolicy_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Pod-Selector", "string", d::NETPOL_POD_SELECTOR),
        Column::age(),
    ]
}

fn networkpolicy_row(np: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(np)),
        json!(format_label_selector(at(np, &["spec", "podSelector"]))),
        json!(since(now, created(np))),
    ])
}

// ---------------------------------------------------------------------------------------------
// Policy, scheduling, admission

fn pdb_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
        ),
        Column::new(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
        ),
        Column::new(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        Column::age(),
    ]
}

fn pdb_row(pdb: &Value, now: Timestamp) -> Row {
    let bound = |field: &str| match at(pdb, &["spec", field]).filter(|v| !v.is_null()) {
        Some(v) => int_or_string(v),
        None => "N/A".to_string(),
    };
    Row::new(vec![
        json!(name(pdb)),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        int_cell(int_at(pdb, &["status", "disruptionsAllowed"])),
        json!(since(now, created(pdb))),
    ])
}

fn priorityclass_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Value", "integer", d::PC_VALUE),
        Column::new("Global-Default", "boolean", d::PC_GLOBAL_DEFAULT),
        Column::age(),
        Column::new("PreemptionPolicy", "string", d::PC_PREEMPTION),
    ]
}

fn priorityclass_row(pc: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(pc)),
        int_cell(int_at(pc, &["value"])),
        json!(opt_bool(pc, &["globalDefault"]).unwrap_or(false)),
        json!(since(now, created(pc))),
        json!(str_at(pc, &["preemptionPolicy"])),
    ])
}

fn webhook_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Webhooks",
            "integer",
            "Webhooks indicates the number of webhooks registered in this configuration",
        ),
        Column::age(),
    ]
}

fn webhook_row(config: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(config)),
        int_cell(arr_at(config, &["webhooks"]).len() as i64),
        json!(since(now, created(config))),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    const RBAC: &str = "rbac.authorization.k8s.io";

    #[test]
    fn role_bindings_table() {
        assert_eq!(
            column_names(RBAC, "RoleBinding"),
            [
                "Name",
                "Role",
                "Age",
                "Users*",
                "Groups*",
                "ServiceAccounts*"
            ]
        );
        let rb = json!({
            "metadata": {"name": "agent-read", "creationTimestamp": ago(3600)},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "system:authenticated"},
                {"kind": "ServiceAccount", "name": "agent", "namespace": "aiopslab"},
                {"kind": "Robot", "name": "r2"}
            ]
        });
        assert_cells(
            RBAC,
            "RoleBinding",
            rb.clone(),
            json!([
                "agent-read",
                "ClusterRole/view",
                "60m",
                "alice, bob",
                "system:authenticated",
                "aiopslab/agent"
            ]),
        );
        let t = table_of(RBAC, "ClusterRoleBinding", rb);
        assert_eq!(
            t["columnDefinitions"][3]["description"],
            "Users in the clusterRoleBinding"
        );
    }

    #[test]
    fn storage_classes_table() {
        assert_eq!(
            column_names("storage.k8s.io", "StorageClass"),
            [
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age"
            ]
        );
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": ago(86400 * 30),
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"
        });
        assert_cells(
            "storage.k8s.io",
            "StorageClass",
            sc,
            json!([
                "standard (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                false,
                "30d"
            ]),
        );
        let plain = json!({"metadata": {"name": "fast", "creationTimestamp": ago(10),
                           "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
                           "provisioner": "csi", "allowVolumeExpansion": true});
        assert_cells(
            "storage.k8s.io",
            "StorageClass",
            plain,
            json!(["fast", "csi", "Delete", "Immediate", true, "10s"]),
        );
    }

    #[test]
    fn endpoint_slices_table() {
        let slice = json!({
            "metadata": {"name": "frontend-abcde", "creationTimestamp": ago(50)},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 5000}, {"name": "named"}, {}, {"port": 9}],
            "endpoints": [{"addresses": ["10.244.0.5"]}, {"addresses": ["10.244.0.6", "10.244.0.7"]},
                          {"addresses": ["10.244.0.8"]}]
        });
        assert_cells(
            "discovery.k8s.io",
            "EndpointSlice",
            slice,
            json!([
                "frontend-abcde",
                "IPv4",
                "5000,named,* + 1 more...",
                "10.244.0.5,10.244.0.6,10.244.0.7 + 1 more...",
                "50s"
            ]),
        );
        let empty =
            json!({"metadata": {"name": "e", "creationTimestamp": ago(50)}, "addressType": "IPv4"});
        assert_cells(
            "discovery.k8s.io",
            "EndpointSlice",
            empty,
            json!(["e", "IPv4", "<unset>", "<unset>", "50s"]),
        );
    }

    #[test]
    fn leases_and_webhooks() {
        assert_cells(
            "coordination.k8s.io",
            "Lease",
            json!({"metadata": {"name": "kube-scheduler", "creationTimestamp": ago(7)},
                   "spec": {"holderIdentity": "kind-control-plane_1234"}}),
            json!(["kube-scheduler", "kind-control-plane_1234", "7s"]),
        );
        assert_cells(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            json!({"metadata": {"name": "chaos-mesh-validation", "creationTimestamp": ago(7)},
                   "webhooks": [{}, {}]}),
            json!(["chaos-mesh-validation", 2, "7s"]),
        );
    }

    #[test]
    fn ingresses_table() {
        let ing = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(100)},
            "spec": {"ingressClassName": "nginx",
                     "rules": [{"host": "a.example"}, {}, {"host": "b.example"}, {"host": "c.example"},
                               {"host": "d.example"}],
                     "tls": [{"hosts": ["a.example"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}, {"hostname": "lb"}]}}
        });
        assert_cells(
            "networking.k8s.io",
            "Ingress",
            ing,
            json!([
                "web",
                "nginx",
                "a.example,b.example,c.example + 2 more...",
                "172.18.0.3,lb",
                "80, 443",
                "100s"
            ]),
        );
        let bare = json!({"metadata": {"name": "b", "creationTimestamp": ago(1)}, "spec": {}});
        assert_cells(
            "networking.k8s.io",
            "Ingress",
            bare,
            json!(["b", "<none>", "*", "", "80", "1s"]),
        );
        assert_cells(
            "networking.k8s.io",
            "IngressClass",
            json!({"metadata": {"name": "nginx", "creationTimestamp": ago(1)},
                   "spec": {"controller": "k8s.io/ingress-nginx",
                            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}),
            json!([
                "nginx",
                "k8s.io/ingress-nginx",
                "IngressParameters.k8s.example.com/p",
                "1s"
            ]),
        );
        assert_cells(
            "networking.k8s.io",
            "NetworkPolicy",
            json!({"metadata": {"name": "deny", "creationTimestamp": ago(1)}, "spec": {"podSelector": {}}}),
            json!(["deny", "<none>", "1s"]),
        );
    }

    #[test]
    fn pdbs_and_priority_classes() {
        assert_cells(
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": {"name": "p", "creationTimestamp": ago(1)},
                   "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}),
            json!(["p", "50%", "N/A", 1, "1s"]),
        );
        assert_cells(
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": {"name": "q", "creationTimestamp": ago(1)}, "spec": {"maxUnavailable": 1}}),
            json!(["q", "N/A", "1", 0, "1s"]),
        );
        assert_eq!(
            column_names("scheduling.k8s.io", "PriorityClass"),
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
        );
        assert_cells(
            "scheduling.k8s.io",
            "PriorityClass",
            json!({"metadata": {"name": "system-node-critical", "creationTimestamp": ago(1)},
                   "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"}),
            json!([
                "system-node-critical",
                2000001000,
                false,
                "1s",
                "PreemptLowerPriority"
            ]),
        );
    }
}
