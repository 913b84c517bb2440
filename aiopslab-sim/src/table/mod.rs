//! Server-side `Table` output (`meta.k8s.io/v1`), with the columns the real API server prints.
//!
//! `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`; the server
//! answers with column definitions and one row of cells per object. This module turns stored
//! objects (the JSON a real API server returns) into that `Table`, as pure functions: the
//! caller gives the current time, so the same input always gives the same bytes.
//!
//! What the real server does, and this module copies:
//! - built-in kinds use the printers of `pkg/printers/internalversion` (Pod's READY / STATUS /
//!   RESTARTS logic, Service ports, Node roles, ...), always generated "wide": the `-o wide`
//!   columns have `priority: 1` and kubectl hides them unless asked;
//! - kinds without a printer (Role, ClusterRole, LimitRange, CustomResourceDefinition) get
//!   `NAME` and `CREATED AT` (an RFC 3339 time);
//! - custom resources get `NAME` followed by the CRD's `additionalPrinterColumns` in their
//!   order, or `NAME` and `AGE` when the CRD declares none (the server never adds an `Age`
//!   column of its own next to declared columns);
//! - each row carries the object's metadata as a `PartialObjectMetadata` (the default), the
//!   whole object, or nothing, as `includeObject` asks.
//!
//! ```
//! use aiopslab_sim::table::{to_table, TableOptions};
//! use serde_json::json;
//! let now = "2026-01-01T00:05:00Z".parse().unwrap();
//! let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "cfg", "creationTimestamp": "2026-01-01T00:00:00Z"},
//!     "data": {"a": "1"}});
//! let table = to_table("", "ConfigMap", &[cm], &TableOptions::new(now), None);
//! assert_eq!(table["rows"][0]["cells"], json!(["cfg", 1, "5m"]));
//! ```

mod apps;
mod autoscaling;
mod batch;
mod cluster;
mod core;
mod custom;
mod descriptions;
mod duration;
mod json;
mod jsonpath;
mod pod;
pub mod quantity;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::fmt;
use std::str::FromStr;

pub use custom::PrinterColumn;
pub use duration::{age, human_duration, short_human_duration};

/// What each table row carries besides its cells (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object: the row has only cells.
    None,
    /// The object's metadata as a `meta.k8s.io/v1` `PartialObjectMetadata` (kubectl's default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

/// The error for an `includeObject` value the server does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownIncludeObject(pub String);

impl fmt::Display for UnknownIncludeObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The real server's wording (a 400 Bad Request).
        write!(f, "unrecognized includeObject value: {:?}", self.0)
    }
}

impl std::error::Error for UnknownIncludeObject {}

impl FromStr for IncludeObject {
    type Err = UnknownIncludeObject;

    /// Parses the query parameter: `None`, `Metadata` (also the empty string) or `Object`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "None" => Ok(IncludeObject::None),
            "Metadata" | "" => Ok(IncludeObject::Metadata),
            "Object" => Ok(IncludeObject::Object),
            other => Err(UnknownIncludeObject(other.to_string())),
        }
    }
}

/// How to build a table: the instant ages are measured from, and what rows carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TableOptions {
    /// "Now" for every AGE, LAST SEEN and DURATION cell.
    pub now: Timestamp,
    /// What each row carries besides its cells.
    pub include_object: IncludeObject,
}

impl TableOptions {
    /// Options at `now` with the default `includeObject` (metadata only).
    pub fn new(now: Timestamp) -> Self {
        TableOptions {
            now,
            include_object: IncludeObject::default(),
        }
    }
}

/// One column definition, as the server sends it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Column {
    name: String,
    ty: String,
    format: String,
    description: String,
    priority: i64,
}

impl Column {
    /// A priority-0 column without a format.
    fn new(name: &str, ty: &str, description: &str) -> Self {
        Column {
            name: name.to_string(),
            ty: ty.to_string(),
            format: String::new(),
            description: description.to_string(),
            priority: 0,
        }
    }

    /// The `Name` column every printer starts with (`format: name`).
    fn name() -> Self {
        Column::new("Name", "string", descriptions::META_NAME).format("name")
    }

    /// The `Age` column of the built-in printers.
    fn age() -> Self {
        Column::new("Age", "string", descriptions::META_CREATION)
    }

    /// Sets the format.
    fn format(mut self, format: &str) -> Self {
        self.format = format.to_string();
        self
    }

    /// Marks the column as an `-o wide` extra (priority 1).
    fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.ty,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// One row: its cells and, for finished pods, its row conditions.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Row {
    cells: Vec<Value>,
    conditions: Vec<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Self {
        Row {
            cells,
            conditions: Vec::new(),
        }
    }
}

/// A printer's column list.
type ColumnsFn = fn() -> Vec<Column>;

/// How a printer turns one object into one row, given "now".
type RowFn = fn(&Value, Timestamp) -> Row;

/// A built-in printer: its columns and how one object becomes one row.
struct Printer {
    columns: ColumnsFn,
    row: RowFn,
}

/// The printer the real server uses for `group`/`kind`, if it has one.
fn builtin_printer(group: &str, kind: &str) -> Option<Printer> {
    core::printer(group, kind)
        .or_else(|| apps::printer(group, kind))
        .or_else(|| batch::printer(group, kind))
        .or_else(|| autoscaling::printer(group, kind))
        .or_else(|| cluster::printer(group, kind))
}

/// Built-in kinds the server serves without a printer: they get `NAME` and `CREATED AT`.
fn uses_default_convertor(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole")
            | ("", "LimitRange")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// The API group without a version or the `core` alias: `apps/v1` is `apps`, `core` is `""`.
fn normalize_group(group: &str) -> &str {
    let group = group.split('/').next().unwrap_or("");
    if group == "core" || group == "v1" {
        ""
    } else {
        group
    }
}

/// Builds the `meta.k8s.io/v1` `Table` the real API server returns for `objects` of
/// `group`/`kind` (group `""` or `"core"` for the core API).
///
/// `crd_printer_columns` are the `additionalPrinterColumns` of the custom resource's served
/// version (see [`PrinterColumn::for_version`]); they are ignored for built-in kinds. A custom
/// resource without columns (`None` or empty) gets `NAME` and `AGE`.
///
/// The table's `metadata` is empty; copy the list's `resourceVersion` and `continue` into it
/// with [`set_list_metadata`].
pub fn to_table(
    group: &str,
    kind: &str,
    objects: &[Value],
    opts: &TableOptions,
    crd_printer_columns: Option<&[PrinterColumn]>,
) -> Value {
    let group = normalize_group(group);
    let now = opts.now;
    let (columns, rows): (Vec<Column>, Vec<Row>) =
        if let Some(printer) = builtin_printer(group, kind) {
            (
                (printer.columns)(),
                objects.iter().map(|o| (printer.row)(o, now)).collect(),
            )
        } else if uses_default_convertor(group, kind) {
            custom::default_table(objects)
        } else {
            custom::crd_table(crd_printer_columns.unwrap_or(&[]), objects, now)
        };

    let rows: Vec<Value> = rows
        .into_iter()
        .zip(objects)
        .map(|(row, object)| row_json(row, object, opts.include_object))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// Copies `resourceVersion`, `continue` and `remainingItemCount` from a list's (or, for a
/// single GET, the object's) `metadata` into the table's `metadata`, as the server does.
///
/// ```
/// use aiopslab_sim::table::{set_list_metadata, to_table, TableOptions};
/// use serde_json::json;
/// let mut table = to_table("", "Pod", &[], &TableOptions::new(jiff::Timestamp::UNIX_EPOCH), None);
/// set_list_metadata(&mut table, &json!({"resourceVersion": "42"}));
/// assert_eq!(table["metadata"], json!({"resourceVersion": "42"}));
/// ```
pub fn set_list_metadata(table: &mut Value, list_metadata: &Value) {
    let mut meta = Map::new();
    for key in ["resourceVersion", "continue"] {
        if let Some(v) = list_metadata.get(key).and_then(Value::as_str)
            && !v.is_empty()
        {
            meta.insert(key.to_string(), Value::from(v));
        }
    }
    if let Some(n) = list_metadata
        .get("remainingItemCount")
        .filter(|v| v.is_number())
    {
        meta.insert("remainingItemCount".to_string(), n.clone());
    }
    if let Some(t) = table.as_object_mut() {
        t.insert("metadata".to_string(), Value::Object(meta));
    }
}

/// One row as JSON, with the object `includeObject` asks for.
fn row_json(row: Row, object: &Value, include: IncludeObject) -> Value {
    let mut out = Map::new();
    out.insert("cells".to_string(), Value::Array(row.cells));
    if !row.conditions.is_empty() {
        out.insert("conditions".to_string(), Value::Array(row.conditions));
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            out.insert(
                "object".to_string(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                }),
            );
        }
        IncludeObject::Object => {
            out.insert("object".to_string(), object.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers the printer tests share.

    use super::*;

    /// The fixed "now" of the tests.
    pub(crate) fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().expect("valid test time")
    }

    /// An RFC 3339 time `secs` seconds before [`now`].
    pub(crate) fn ago(secs: i64) -> String {
        now()
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .expect("in range")
            .to_string()
    }

    /// The table for one object at [`now`].
    pub(crate) fn table_of(group: &str, kind: &str, object: Value) -> Value {
        to_table(group, kind, &[object], &TableOptions::new(now()), None)
    }

    /// The cells of the only row of the table for `object`.
    pub(crate) fn cells(group: &str, kind: &str, object: Value) -> Vec<Value> {
        let table = table_of(group, kind, object);
        table["rows"][0]["cells"]
            .as_array()
            .cloned()
            .expect("a row with cells")
    }

    /// The column names of the table for `group`/`kind`, with `*` marking wide columns.
    pub(crate) fn column_names(group: &str, kind: &str) -> Vec<String> {
        let table = to_table(group, kind, &[], &TableOptions::new(now()), None);
        table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default().to_string();
                if c["priority"] == 1 {
                    format!("{name}*")
                } else {
                    name
                }
            })
            .collect()
    }

    /// Asserts the cells, column by column, with the column name in the failure message.
    pub(crate) fn assert_cells(group: &str, kind: &str, object: Value, want: Value) {
        let got = cells(group, kind, object);
        let want = want
            .as_array()
            .cloned()
            .expect("expected cells as an array");
        let names = column_names(group, kind);
        assert_eq!(got.len(), names.len(), "one cell per column: {got:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{kind} column {}", names[i]);
        }
        assert_eq!(got.len(), want.len(), "cell count");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1",
                         "resourceVersion": "7", "labels": {"app": "web"},
                         "creationTimestamp": ago(300)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Pending"}
        })
    }

    #[test]
    fn table_envelope_matches_the_server() {
        let t = table_of("", "Pod", pod());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({}));
        let name = &t["columnDefinitions"][0];
        assert_eq!(name["name"], "Name");
        assert_eq!(name["type"], "string");
        assert_eq!(name["format"], "name");
        assert_eq!(name["priority"], 0);
        assert!(
            name["description"]
                .as_str()
                .unwrap()
                .starts_with("Name must be unique within a namespace.")
        );
        // Every definition has all five keys, as Go serializes them.
        for c in t["columnDefinitions"].as_array().unwrap() {
            let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["name", "type", "format", "description", "priority"]);
        }
    }

    #[test]
    fn include_object_metadata_is_the_default() {
        let t = table_of("", "Pod", pod());
        let obj = &t["rows"][0]["object"];
        assert_eq!(obj["kind"], "PartialObjectMetadata");
        assert_eq!(obj["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(obj["metadata"], pod()["metadata"]);
        assert!(obj.get("spec").is_none());
    }

    #[test]
    fn include_object_none_and_object() {
        let mut opts = TableOptions::new(now());
        opts.include_object = IncludeObject::None;
        let t = to_table("", "Pod", &[pod()], &opts, None);
        assert!(t["rows"][0].get("object").is_none());
        assert_eq!(t["rows"][0]["cells"][0], "web-0");

        opts.include_object = IncludeObject::Object;
        let t = to_table("core", "Pod", &[pod()], &opts, None);
        assert_eq!(t["rows"][0]["object"], pod());
    }

    #[test]
    fn include_object_parses_the_query_parameter() {
        assert_eq!("None".parse(), Ok(IncludeObject::None));
        assert_eq!("".parse(), Ok(IncludeObject::Metadata));
        assert_eq!("Metadata".parse(), Ok(IncludeObject::Metadata));
        assert_eq!("Object".parse(), Ok(IncludeObject::Object));
        let err = "object".parse::<IncludeObject>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unrecognized includeObject value: \"object\""
        );
    }

    #[test]
    fn empty_list_has_columns_and_no_rows() {
        let t = to_table("apps", "Deployment", &[], &TableOptions::new(now()), None);
        assert_eq!(t["rows"], json!([]));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn list_metadata_is_copied() {
        let mut t = table_of("", "Pod", pod());
        set_list_metadata(
            &mut t,
            &json!({"resourceVersion": "99", "continue": "abc", "remainingItemCount": 3, "selfLink": "x"}),
        );
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "99", "continue": "abc", "remainingItemCount": 3})
        );
        set_list_metadata(&mut t, &json!({"continue": ""}));
        assert_eq!(t["metadata"], json!({}));
    }

    #[test]
    fn groups_are_normalized() {
        assert_eq!(normalize_group("apps/v1"), "apps");
        assert_eq!(normalize_group("core"), "");
        assert_eq!(normalize_group("v1"), "");
        let a = column_names("apps/v1", "Deployment");
        assert_eq!(a[0], "Name");
        assert_eq!(a[1], "Ready");
    }

    #[test]
    fn rows_keep_the_input_order() {
        let mut a = pod();
        a["metadata"]["name"] = json!("b");
        let mut b = pod();
        b["metadata"]["name"] = json!("a");
        let t = to_table("", "Pod", &[a, b], &TableOptions::new(now()), None);
        assert_eq!(t["rows"][0]["cells"][0], "b");
        assert_eq!(t["rows"][1]["cells"][0], "a");
    }

    #[test]
    fn garbage_objects_do_not_panic() {
        let junk = [
            json!(null),
            json!(3),
            json!("pod"),
            json!({"metadata": 5, "spec": [], "status": "x"}),
        ];
        let opts = TableOptions::new(now());
        for (group, kind) in [
            ("", "Pod"),
            ("", "Service"),
            ("", "Node"),
            ("", "Event"),
            ("", "Endpoints"),
            ("", "PersistentVolume"),
            ("", "PersistentVolumeClaim"),
            ("", "ResourceQuota"),
            ("apps", "Deployment"),
            ("apps", "DaemonSet"),
            ("apps", "ControllerRevision"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("discovery.k8s.io", "EndpointSlice"),
            ("storage.k8s.io", "StorageClass"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("rbac.authorization.k8s.io", "Role"),
            ("networking.k8s.io", "Ingress"),
            ("chaos-mesh.org", "PodChaos"),
        ] {
            let t = to_table(group, kind, &junk, &opts, None);
            let ncols = t["columnDefinitions"].as_array().unwrap().len();
            for row in t["rows"].as_array().unwrap() {
                assert_eq!(row["cells"].as_array().unwrap().len(), ncols, "{kind}");
            }
        }
    }
}
