//! Printers for `apps/v1`: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

use super::descriptions as d;
use super::duration::since;
use super::json::{
    arr_at, at, created, format_label_selector, format_labels, int_at, int_cell, layout_containers,
    name, opt_int, selector_string, str_at, template_containers,
};
use super::{Column, ColumnsFn, Printer, Row, RowFn};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The printer for an `apps` kind.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    if group != "apps" {
        return None;
    }
    let (columns, row): (ColumnsFn, RowFn) = match kind {
        "Deployment" => (deployment_columns, deployment_row),
        "ReplicaSet" => (replicaset_columns, replicaset_row),
        "StatefulSet" => (statefulset_columns, statefulset_row),
        "DaemonSet" => (daemonset_columns, daemonset_row),
        "ControllerRevision" => (revision_columns, revision_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

/// The CONTAINERS and IMAGES wide columns every workload printer has.
pub(super) fn container_columns() -> [Column; 2] {
    [
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
    ]
}

/// `spec.replicas`, which the server defaults to 1.
fn desired_replicas(v: &Value) -> i64 {
    opt_int(v, &["spec", "replicas"]).unwrap_or(1)
}

fn deployment_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::new("Up-to-date", "string", d::DEPLOY_UPDATED),
        Column::new("Available", "string", d::DEPLOY_AVAILABLE),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols.push(Column::new("Selector", "string", d::DEPLOY_SELECTOR).wide());
    cols
}

fn deployment_row(dep: &Value, now: Timestamp) -> Row {
    let (names, images) = layout_containers(template_containers(dep));
    // Unlike the other printers, Deployment shows an empty selector as "".
    let selector = selector_string(at(dep, &["spec", "selector"]))
        .unwrap_or_else(|()| "<invalid>".to_string());
    Row::new(vec![
        json!(name(dep)),
        json!(format!(
            "{}/{}",
            int_at(dep, &["status", "readyReplicas"]),
            desired_replicas(dep)
        )),
        int_cell(int_at(dep, &["status", "updatedReplicas"])),
        int_cell(int_at(dep, &["status", "availableReplicas"])),
        json!(since(now, created(dep))),
        json!(names),
        json!(images),
        json!(selector),
    ])
}

fn replicaset_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Desired", "integer", d::RS_SPEC_REPLICAS),
        Column::new("Current", "integer", d::RS_STATUS_REPLICAS),
        Column::new("Ready", "integer", d::RS_READY_REPLICAS),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols.push(Column::new("Selector", "string", d::RS_SELECTOR).wide());
    cols
}

fn replicaset_row(rs: &Value, now: Timestamp) -> Row {
    let (names, images) = layout_containers(template_containers(rs));
    Row::new(vec![
        json!(name(rs)),
        int_cell(desired_replicas(rs)),
        int_cell(int_at(rs, &["status", "replicas"])),
        int_cell(int_at(rs, &["status", "readyReplicas"])),
        json!(since(now, created(rs))),
        json!(names),
        json!(images),
        json!(format_label_selector(at(rs, &["spec", "selector"]))),
    ])
}

fn statefulset_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols
}

fn statefulset_row(sts: &Value, now: Timestamp) -> Row {
    let (names, images) = layout_containers(template_containers(sts));
    Row::new(vec![
        json!(name(sts)),
        json!(format!(
            "{}/{}",
            int_at(sts, &["status", "readyReplicas"]),
            desired_replicas(sts)
        )),
        json!(since(now, created(sts))),
        json!(names),
        json!(images),
    ])
}

fn daemonset_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Desired", "integer", d::DS_DESIRED),
        Column::new("Current", "integer", d::DS_CURRENT),
        Column::new("Ready", "integer", d::DS_READY),
        Column::new("Up-to-date", "integer", d::DS_UPDATED),
        Column::new("Available", "integer", d::DS_AVAILABLE),
        Column::new("Node Selector", "string", d::POD_NODE_SELECTOR),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols.push(Column::new("Selector", "string", d::DS_SELECTOR).wide());
    cols
}

fn daemonset_row(ds: &Value, now: Timestamp) -> Row {
    let (names, images) = layout_containers(template_containers(ds));
    let status = |field: &str| int_cell(int_at(ds, &["status", field]));
    Row::new(vec![
        json!(name(ds)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        json!(format_labels(at(
            ds,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        json!(since(now, created(ds))),
        json!(names),
        json!(images),
        json!(format_label_selector(at(ds, &["spec", "selector"]))),
    ])
}

fn revision_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Controller", "string", "Controller of the object"),
        Column::new("Revision", "string", d::CR_REVISION),
        Column::age(),
    ]
}

/// The controlling owner as `statefulset.apps/name` (`<none>` without one).
fn controller_name(v: &Value) -> String {
    let Some(owner) = arr_at(v, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
    else {
        return "<none>".to_string();
    };
    let api_version = str_at(owner, &["apiVersion"]);
    // "apps/v1" has group "apps"; "v1" is the core group.
    let group = match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    };
    let kind = str_at(owner, &["kind"]);
    let owner_name = str_at(owner, &["name"]);
    if kind.is_empty() && group.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

fn revision_row(rev: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(name(rev)),
        json!(controller_name(rev)),
        int_cell(int_at(rev, &["revision"])),
        json!(since(now, created(rev))),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{Value, json};

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "geo"}},
               "spec": {"containers": [{"name": "hotel-reserv-geo", "image": "yinfangchen/hotelreservation:latest"},
                                       {"name": "sidecar", "image": "busybox"}]}})
    }

    #[test]
    fn deployments_table() {
        assert_eq!(
            column_names("apps", "Deployment"),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers*",
                "Images*",
                "Selector*"
            ]
        );
        let dep = json!({
            "metadata": {"name": "geo", "creationTimestamp": ago(1800)},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"io.kompose.service": "geo"}},
                     "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_cells(
            "apps",
            "Deployment",
            dep,
            json!([
                "geo",
                "2/3",
                3,
                2,
                "30m",
                "hotel-reserv-geo,sidecar",
                "yinfangchen/hotelreservation:latest,busybox",
                "io.kompose.service=geo"
            ]),
        );
        // A new deployment without status; replicas defaults to 1; no selector prints "".
        let fresh = json!({"metadata": {"name": "n", "creationTimestamp": ago(3)},
                           "spec": {"template": {"spec": {"containers": []}}}});
        assert_cells(
            "apps",
            "Deployment",
            fresh,
            json!(["n", "0/1", 0, 0, "3s", "", "", ""]),
        );
        let scaled_to_zero = json!({"metadata": {"name": "z"}, "spec": {"replicas": 0}});
        assert_eq!(cells("apps", "Deployment", scaled_to_zero)[1], "0/0");
    }

    #[test]
    fn replicasets_table() {
        let rs = json!({
            "metadata": {"name": "geo-6b4b89b5f5", "creationTimestamp": ago(1800)},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "geo", "pod-template-hash": "6b4b89b5f5"}},
                     "template": template()},
            "status": {"replicas": 1, "readyReplicas": 1}
        });
        assert_cells(
            "apps",
            "ReplicaSet",
            rs,
            json!([
                "geo-6b4b89b5f5",
                1,
                1,
                1,
                "30m",
                "hotel-reserv-geo,sidecar",
                "yinfangchen/hotelreservation:latest,busybox",
                "app=geo,pod-template-hash=6b4b89b5f5"
            ]),
        );
        assert_eq!(
            column_names("apps", "ReplicaSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers*",
                "Images*",
                "Selector*"
            ]
        );
    }

    #[test]
    fn statefulsets_table() {
        assert_eq!(
            column_names("apps", "StatefulSet"),
            ["Name", "Ready", "Age", "Containers*", "Images*"]
        );
        let sts = json!({
            "metadata": {"name": "mongo", "creationTimestamp": ago(90000)},
            "spec": {"replicas": 2, "template": template()},
            "status": {"readyReplicas": 1}
        });
        assert_cells(
            "apps",
            "StatefulSet",
            sts,
            json!([
                "mongo",
                "1/2",
                "25h",
                "hotel-reserv-geo,sidecar",
                "yinfangchen/hotelreservation:latest,busybox"
            ]),
        );
    }

    #[test]
    fn daemonsets_table() {
        assert_eq!(
            column_names("apps", "DaemonSet"),
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers*",
                "Images*",
                "Selector*"
            ]
        );
        let ds = json!({
            "metadata": {"name": "kindnet", "creationTimestamp": ago(86400 * 3)},
            "spec": {"selector": {"matchLabels": {"app": "kindnet"}},
                     "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                           "containers": [{"name": "kindnet-cni", "image": "kindnetd:v2"}]}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2}
        });
        assert_cells(
            "apps",
            "DaemonSet",
            ds,
            json!([
                "kindnet",
                3,
                3,
                2,
                3,
                2,
                "kubernetes.io/os=linux",
                "3d",
                "kindnet-cni",
                "kindnetd:v2",
                "app=kindnet"
            ]),
        );
    }

    #[test]
    fn controller_revisions_table() {
        let rev = json!({
            "metadata": {"name": "mongo-7d9f", "creationTimestamp": ago(60),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                              "name": "mongo", "controller": true}]},
            "revision": 2
        });
        assert_cells(
            "apps",
            "ControllerRevision",
            rev,
            json!(["mongo-7d9f", "statefulset.apps/mongo", 2, "60s"]),
        );
        let orphan =
            json!({"metadata": {"name": "r", "creationTimestamp": ago(60)}, "revision": 1});
        assert_eq!(cells("apps", "ControllerRevision", orphan)[1], "<none>");
    }
}
