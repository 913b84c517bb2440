//! Tables for kinds without a built-in printer: custom resources (the CRD's
//! `additionalPrinterColumns`) and the few built-in kinds served with the default convertor.

use super::descriptions as d;
use super::duration::{human_duration, parse_time};
use super::json::{created, name};
use super::jsonpath::JsonPath;
use super::{Column, Row};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One `additionalPrinterColumns` entry of a CustomResourceDefinition version.
///
/// It deserializes from the CRD's own JSON:
///
/// ```
/// use aiopslab_sim::table::PrinterColumn;
/// let col: PrinterColumn = serde_json::from_value(serde_json::json!(
///     {"name": "Action", "type": "string", "jsonPath": ".spec.action"})).unwrap();
/// assert_eq!(col.priority, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrinterColumn {
    /// The column header (kubectl upper-cases it).
    pub name: String,
    /// The OpenAPI type of the cells: `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub ty: String,
    /// An optional OpenAPI format (`name`, `int32`, ...).
    #[serde(default)]
    pub format: String,
    /// A human-readable description; the server makes one up from the path when empty.
    #[serde(default)]
    pub description: String,
    /// 0 for a normal column, 1 or more for `-o wide` only.
    #[serde(default)]
    pub priority: i64,
    /// The simple JSONPath, relative to the object, that gives the cell.
    pub json_path: String,
}

impl PrinterColumn {
    /// The printer columns a CRD declares for its served `version`
    /// (`spec.versions[name == version].additionalPrinterColumns`); entries that are not
    /// valid column objects are skipped. Empty when the version declares none.
    ///
    /// ```
    /// use aiopslab_sim::table::PrinterColumn;
    /// let crd = serde_json::json!({"spec": {"versions": [{"name": "v1alpha1",
    ///     "additionalPrinterColumns": [{"name": "Age", "type": "date",
    ///                                   "jsonPath": ".metadata.creationTimestamp"}]}]}});
    /// assert_eq!(PrinterColumn::for_version(&crd, "v1alpha1").len(), 1);
    /// assert!(PrinterColumn::for_version(&crd, "v2").is_empty());
    /// ```
    pub fn for_version(crd: &Value, version: &str) -> Vec<PrinterColumn> {
        crd.pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|versions| {
                versions
                    .iter()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
            })
            .and_then(|v| v.get("additionalPrinterColumns"))
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| serde_json::from_value(c.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The columns the server falls back to when a CRD declares none: a creation-time `Age`.
fn default_crd_columns() -> Vec<PrinterColumn> {
    vec![PrinterColumn {
        name: "Age".to_string(),
        ty: "date".to_string(),
        format: String::new(),
        description: d::META_CREATION.to_string(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".to_string(),
    }]
}

/// The table of custom resources: `Name`, then the declared columns in their order.
pub(super) fn crd_table(
    declared: &[PrinterColumn],
    objects: &[Value],
    now: Timestamp,
) -> (Vec<Column>, Vec<Row>) {
    let defaults;
    let declared = if declared.is_empty() {
        defaults = default_crd_columns();
        &defaults[..]
    } else {
        declared
    };
    let mut columns = vec![Column::name()];
    let mut paths = Vec::new();
    for col in declared {
        // Like the server, stop at the first column whose path does not parse.
        let Ok(path) = JsonPath::parse(&col.json_path) else {
            break;
        };
        let description = if col.description.is_empty() {
            format!(
                "Custom resource definition column (in JSONPath format): {}",
                col.json_path
            )
        } else {
            col.description.clone()
        };
        columns.push(Column {
            name: col.name.clone(),
            ty: col.ty.clone(),
            format: col.format.clone(),
            description,
            priority: col.priority,
        });
        paths.push((path, col.ty.as_str()));
    }
    let rows = objects
        .iter()
        .map(|obj| {
            let mut cells = vec![json!(name(obj))];
            for (path, ty) in &paths {
                cells.push(match path.find(obj).first() {
                    Some(value) => cell_for(ty, value, now),
                    None => Value::Null,
                });
            }
            Row::new(cells)
        })
        .collect();
    (columns, rows)
}

/// A cell from the first value a column's path found, typed as the column says.
fn cell_for(ty: &str, value: &Value, now: Timestamp) -> Value {
    match (ty, value) {
        (_, Value::Null) => Value::Null,
        // String columns print whatever they find: scalars as text, the rest as JSON.
        ("string", Value::String(s)) => Value::from(s.as_str()),
        ("string", Value::Number(n)) => Value::from(go_number_text(n)),
        ("string", Value::Bool(b)) => Value::from(b.to_string()),
        ("string", other) => Value::from(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Value::from)
            .unwrap_or(Value::Null),
        ("number", Value::Number(n)) => go_number(n),
        ("boolean", Value::Bool(b)) => Value::from(*b),
        ("date", Value::String(s)) => {
            if s.is_empty() || s == "null" {
                Value::from("<unknown>")
            } else {
                match parse_time(s) {
                    Some(t) => Value::from(human_duration(now.duration_since(t))),
                    None => Value::from("<invalid>"),
                }
            }
        }
        _ => Value::Null,
    }
}

/// A JSON number as Go's `fmt` prints an `int64` or `float64`.
fn go_number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        // Go's %v switches to an exponent with a sign and at least two digits: 1e+21.
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => text,
        }
    } else {
        format!("{f}")
    }
}

/// A number cell: integral values stay integers, as Go encodes a whole `float64`.
fn go_number(n: &serde_json::Number) -> Value {
    if n.is_i64() || n.is_u64() {
        return Value::Number(n.clone());
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

/// The default convertor's table: `Name` and `Created At` (an RFC 3339 time).
pub(super) fn default_table(objects: &[Value]) -> (Vec<Column>, Vec<Row>) {
    let columns = vec![
        Column::name(),
        Column::new("Created At", "date", d::META_CREATION),
    ];
    let rows = objects
        .iter()
        .map(|obj| {
            let created_at = created(obj)
                .and_then(Value::as_str)
                .and_then(parse_time)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
            Row::new(vec![json!(name(obj)), json!(created_at)])
        })
        .collect();
    (columns, rows)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{TableOptions, to_table};
    use super::*;

    fn chaos() -> Value {
        json!({
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos",
            "metadata": {"name": "pod-kill", "namespace": "test-hotel-reservation",
                         "creationTimestamp": ago(150)},
            "spec": {"action": "pod-kill", "mode": "one", "duration": "100s", "replicas": 2,
                     "ratio": 0.5, "paused": false, "selector": {"labelSelectors": {"app": "geo"}}},
            "status": {"conditions": [{"type": "AllInjected", "status": "True"},
                                      {"type": "Paused", "status": "False"}],
                       "experiment": {"startTime": ago(140)}}
        })
    }

    fn col(name: &str, ty: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.to_string(),
            ty: ty.to_string(),
            json_path: path.to_string(),
            ..PrinterColumn::default()
        }
    }

    fn crd_cells(cols: &[PrinterColumn], obj: Value) -> (Vec<String>, Vec<Value>) {
        let t = to_table(
            "chaos-mesh.org",
            "PodChaos",
            &[obj],
            &TableOptions::new(now()),
            Some(cols),
        );
        let names = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        (names, t["rows"][0]["cells"].as_array().unwrap().clone())
    }

    #[test]
    fn crd_without_columns_gets_name_and_age() {
        for cols in [None, Some(&[][..])] {
            let t = to_table(
                "chaos-mesh.org",
                "PodChaos",
                &[chaos()],
                &TableOptions::new(now()),
                cols,
            );
            let defs = t["columnDefinitions"].as_array().unwrap();
            assert_eq!(defs.len(), 2);
            assert_eq!(defs[0]["format"], "name");
            assert_eq!(defs[1]["name"], "Age");
            assert_eq!(defs[1]["type"], "date");
            assert_eq!(t["rows"][0]["cells"], json!(["pod-kill", "2m30s"]));
        }
    }

    #[test]
    fn declared_columns_follow_name_in_order_and_age_is_not_added() {
        let cols = [
            col("Action", "string", ".spec.action"),
            col("Duration", "string", ".spec.duration"),
        ];
        let (names, cells) = crd_cells(&cols, chaos());
        assert_eq!(names, ["Name", "Action", "Duration"]);
        assert_eq!(cells, [json!("pod-kill"), json!("pod-kill"), json!("100s")]);
    }

    #[test]
    fn a_declared_age_column_is_an_ordinary_column() {
        let cols = [
            col("Age", "date", ".metadata.creationTimestamp"),
            col("Action", "string", ".spec.action"),
        ];
        let (names, cells) = crd_cells(&cols, chaos());
        assert_eq!(names, ["Name", "Age", "Action"]);
        assert_eq!(
            cells,
            [json!("pod-kill"), json!("2m30s"), json!("pod-kill")]
        );
    }

    #[test]
    fn typed_cells() {
        let cols = [
            col("Replicas", "integer", ".spec.replicas"),
            col("Ratio", "number", ".spec.ratio"),
            col("Paused", "boolean", ".spec.paused"),
            col(
                "Injected",
                "string",
                ".status.conditions[?(@.type==\"AllInjected\")].status",
            ),
            col("Started", "date", ".status.experiment.startTime"),
            col("Selector", "string", ".spec.selector"),
            col("Missing", "string", ".spec.nothing"),
            col("Mistyped", "integer", ".spec.action"),
            col("RatioText", "string", ".spec.ratio"),
            col("BadDate", "date", ".spec.action"),
            col("FirstOfMany", "string", ".status.conditions[*].type"),
        ];
        let (_, cells) = crd_cells(&cols, chaos());
        assert_eq!(
            cells,
            [
                json!("pod-kill"),
                json!(2),
                json!(0.5),
                json!(false),
                json!("True"),
                json!("2m20s"),
                json!("{\"labelSelectors\":{\"app\":\"geo\"}}"),
                Value::Null,
                Value::Null,
                json!("0.5"),
                json!("<invalid>"),
                json!("AllInjected"),
            ]
        );
    }

    #[test]
    fn column_metadata_is_copied() {
        let mut c = col("Mode", "string", ".spec.mode");
        c.priority = 1;
        c.format = "byte".to_string();
        let plain = col("Action", "string", ".spec.action");
        let mut described = col("Duration", "string", ".spec.duration");
        described.description = "How long".to_string();
        let t = to_table(
            "chaos-mesh.org",
            "PodChaos",
            &[chaos()],
            &TableOptions::new(now()),
            Some(&[c, plain, described]),
        );
        let defs = &t["columnDefinitions"];
        assert_eq!(
            defs[1],
            json!({"name": "Mode", "type": "string", "format": "byte",
                   "description": "Custom resource definition column (in JSONPath format): .spec.mode",
                   "priority": 1})
        );
        assert_eq!(defs[3]["description"], "How long");
    }

    #[test]
    fn an_unparsable_path_ends_the_column_list() {
        let cols = [
            col("Action", "string", ".spec.action"),
            col("Bad", "string", ".spec[1:2]"),
            col("Mode", "string", ".spec.mode"),
        ];
        let (names, cells) = crd_cells(&cols, chaos());
        assert_eq!(names, ["Name", "Action"]);
        assert_eq!(cells.len(), 2);
    }

    #[test]
    fn printer_columns_come_from_the_crd() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1alpha1", "additionalPrinterColumns": [
                {"name": "action", "type": "string", "jsonPath": ".spec.action"},
                {"name": "duration", "type": "string", "jsonPath": ".spec.duration", "priority": 1},
                {"bogus": true}
            ]}
        ]}});
        let cols = PrinterColumn::for_version(&crd, "v1alpha1");
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[1].priority, 1);
        assert_eq!(cols[1].json_path, ".spec.duration");
    }

    #[test]
    fn builtins_without_printers_show_created_at() {
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("", "LimitRange"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            assert_eq!(column_names(group, kind), ["Name", "Created At"]);
            let obj =
                json!({"metadata": {"name": "x", "creationTimestamp": "2026-02-03T04:05:06Z"}});
            assert_eq!(
                cells(group, kind, obj),
                [json!("x"), json!("2026-02-03T04:05:06Z")]
            );
        }
        let t = table_of(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            json!({"metadata": {"name": "y"}}),
        );
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"][1], "0001-01-01T00:00:00Z");
    }

    #[test]
    fn go_number_formatting() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        assert_eq!(go_number_text(&n(json!(3))), "3");
        assert_eq!(go_number_text(&n(json!(1.5))), "1.5");
        assert_eq!(go_number_text(&n(json!(1e21))), "1e+21");
        assert_eq!(go_number_text(&n(json!(0.00001))), "1e-05");
        assert_eq!(go_number(&n(json!(2.0))), json!(2));
        assert_eq!(go_number(&n(json!(2.25))), json!(2.25));
    }
}
