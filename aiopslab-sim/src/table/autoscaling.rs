//! The HorizontalPodAutoscaler printer (`autoscaling/v2`): NAME, REFERENCE, TARGETS, MINPODS,
//! MAXPODS, REPLICAS, AGE, with the real server's TARGETS text (`cpu: 12%/50%`,
//! `cpu: <unknown>/80%`, `500m/1k (avg)`, at most two metrics then `+ N more...`).

use super::duration::since;
use super::json::{arr_at, at, created, int_at, name, opt_int, str_at};
use super::quantity::Quantity;
use super::{Column, ColumnsFn, Printer, Row, RowFn, descriptions as d};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The printer for an autoscaling kind.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let (columns, row): (ColumnsFn, RowFn) = match (group, kind) {
        ("autoscaling", "HorizontalPodAutoscaler") => (hpa_columns, hpa_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

fn hpa_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Reference", "string", d::HPA_SCALE_TARGET_REF),
        Column::new("Targets", "string", d::HPA_METRICS),
        Column::new("MinPods", "string", d::HPA_MIN_REPLICAS),
        Column::new("MaxPods", "string", d::HPA_MAX_REPLICAS),
        Column::new("Replicas", "string", d::HPA_CURRENT_REPLICAS),
        Column::age(),
    ]
}

fn hpa_row(hpa: &Value, now: Timestamp) -> Row {
    let reference = format!(
        "{}/{}",
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        str_at(hpa, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = opt_int(hpa, &["spec", "minReplicas"])
        .map(|n| n.to_string())
        .unwrap_or_else(|| "<unset>".to_string());
    Row::new(vec![
        json!(name(hpa)),
        json!(reference),
        json!(targets(
            arr_at(hpa, &["spec", "metrics"]),
            arr_at(hpa, &["status", "currentMetrics"])
        )),
        json!(min_pods),
        json!(int_at(hpa, &["spec", "maxReplicas"])),
        json!(int_at(hpa, &["status", "currentReplicas"])),
        json!(since(now, created(hpa))),
    ])
}

/// A quantity as the server prints it (canonical), or the raw text if it is not one.
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => Quantity::parse(s)
            .map(|q| q.to_string())
            .unwrap_or_else(|| s.clone()),
        Some(Value::Number(n)) => Quantity::parse(&n.to_string())
            .map(|q| q.to_string())
            .unwrap_or_else(|| n.to_string()),
        _ => "0".to_string(),
    }
}

/// The TARGETS cell: `formatHPAMetrics` of the real printer.
fn targets(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 2;
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let text = match spec.get("type").and_then(Value::as_str).unwrap_or("") {
            "External" => value_target(spec, status, "external"),
            "Object" => value_target(spec, status, "object"),
            "Pods" => {
                let current = status
                    .and_then(|s| s.get("pods"))
                    .map(|p| quantity(at(p, &["current", "averageValue"])))
                    .unwrap_or_else(|| "<unknown>".to_string());
                format!(
                    "{current}/{}",
                    quantity(at(spec, &["pods", "target", "averageValue"]))
                )
            }
            "Resource" => resource_target(spec, status, "resource"),
            "ContainerResource" => resource_target(spec, status, "containerResource"),
            _ => "<unknown type>".to_string(),
        };
        list.push(text);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

/// External and Object metrics: a value, or an average value marked `(avg)`.
fn value_target(spec: &Value, status: Option<&Value>, field: &str) -> String {
    let target = at(spec, &[field, "target"]);
    let current = status.and_then(|s| s.get(field));
    if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
        let current = current
            .and_then(|c| at(c, &["current", "averageValue"]))
            .map(|v| quantity(Some(v)))
            .unwrap_or_else(|| "<unknown>".to_string());
        format!("{current}/{} (avg)", quantity(Some(avg)))
    } else {
        let current = current
            .map(|c| quantity(at(c, &["current", "value"])))
            .unwrap_or_else(|| "<unknown>".to_string());
        format!(
            "{current}/{}",
            quantity(target.and_then(|t| t.get("value")))
        )
    }
}

/// Resource and ContainerResource metrics: `cpu: 12%/50%` or `memory: 100Mi/200Mi`.
fn resource_target(spec: &Value, status: Option<&Value>, field: &str) -> String {
    let resource = str_at(spec, &[field, "name"]);
    let target = at(spec, &[field, "target"]);
    let current = status.and_then(|s| s.get(field));
    if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
        let current = current
            .map(|c| quantity(at(c, &["current", "averageValue"])))
            .unwrap_or_else(|| "<unknown>".to_string());
        format!("{resource}: {current}/{}", quantity(Some(avg)))
    } else {
        let current = current
            .and_then(|c| opt_int(c, &["current", "averageUtilization"]))
            .map(|u| format!("{u}%"))
            .unwrap_or_else(|| "<unknown>".to_string());
        let target = target
            .and_then(|t| opt_int(t, &["averageUtilization"]))
            .map(|u| format!("{u}%"))
            .unwrap_or_else(|| "<auto>".to_string());
        format!("{resource}: {current}/{target}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    fn hpa(metrics: serde_json::Value, current: serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "creationTimestamp": ago(90)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, "metrics": metrics},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": current}
        })
    }

    #[test]
    fn columns_are_the_real_ones() {
        assert_eq!(
            column_names("autoscaling", "HorizontalPodAutoscaler"),
            [
                "Name",
                "Reference",
                "Targets",
                "MinPods",
                "MaxPods",
                "Replicas",
                "Age"
            ]
        );
    }

    #[test]
    fn cpu_utilization_with_and_without_a_measurement() {
        let cpu = json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}]);
        assert_cells(
            "autoscaling",
            "HorizontalPodAutoscaler",
            hpa(cpu.clone(), json!(null)),
            json!([
                "web",
                "Deployment/web",
                "cpu: <unknown>/50%",
                "1",
                5,
                2,
                "90s"
            ]),
        );
        let measured = json!([{"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": 12, "averageValue": "3m"}}}]);
        assert_eq!(
            cells("autoscaling", "HorizontalPodAutoscaler", hpa(cpu, measured))[2],
            "cpu: 12%/50%"
        );
    }

    #[test]
    fn values_averages_and_more() {
        let metrics = json!([
            {"type": "Resource", "resource": {"name": "memory",
                "target": {"type": "AverageValue", "averageValue": "1024Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "rps"},
                "target": {"type": "AverageValue", "averageValue": "1000m"}}},
            {"type": "Object", "object": {"metric": {"name": "hits"},
                "describedObject": {"kind": "Service", "name": "web"},
                "target": {"type": "Value", "value": "2k"}}},
            {"type": "External", "external": {"metric": {"name": "queue"},
                "target": {"type": "AverageValue", "averageValue": "30"}}}
        ]);
        let current = json!([
            {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "512Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "500m"}}}
        ]);
        assert_eq!(
            cells(
                "autoscaling",
                "HorizontalPodAutoscaler",
                hpa(metrics.clone(), current)
            )[2],
            "memory: 512Mi/1Gi, 500m/1 + 2 more..."
        );
        let two = json!([metrics[2].clone(), metrics[3].clone()]);
        assert_eq!(
            cells(
                "autoscaling",
                "HorizontalPodAutoscaler",
                hpa(two, json!([]))
            )[2],
            "<unknown>/2k, <unknown>/30 (avg)"
        );
        let mut unset = hpa(json!([]), json!([]));
        unset["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("minReplicas");
        let row = cells("autoscaling", "HorizontalPodAutoscaler", unset);
        assert_eq!(
            (row[2].clone(), row[3].clone()),
            (json!("<none>"), json!("<unset>"))
        );
    }
}
