//! Tolerant readers for the JSON objects the printers look at, and the small formatting helpers
//! the real printers share (labels, label selectors, container lists).
//!
//! A missing or mistyped field reads as Go's zero value (empty string, 0, false, empty list),
//! which is what the real printers see for an unset field after decoding.

use serde_json::{Map, Value};

/// The value at `path` (object keys), if every step exists.
pub(super) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// The string at `path`, or `""`.
pub(super) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// The string at `path`, if it is one.
pub(super) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// The integer at `path`, if it is a number (fractions are truncated).
pub(super) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(as_int)
}

/// The integer at `path`, or 0.
pub(super) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// A JSON number as an integer (fractions truncated, as Go's int64(float64) does).
pub(super) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// The boolean at `path`, if it is one.
pub(super) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub(super) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at `path`, if it is one.
pub(super) fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

/// The number of entries of the object or array at `path` (0 when absent).
pub(super) fn len_at(v: &Value, path: &[&str]) -> usize {
    match at(v, path) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// `metadata.name`.
pub(super) fn name(v: &Value) -> &str {
    str_at(v, &["metadata", "name"])
}

/// `metadata.creationTimestamp`.
pub(super) fn created(v: &Value) -> Option<&Value> {
    at(v, &["metadata", "creationTimestamp"])
}

/// Whether `metadata.deletionTimestamp` is set.
pub(super) fn is_deleting(v: &Value) -> bool {
    matches!(at(v, &["metadata", "deletionTimestamp"]), Some(t) if !t.is_null())
}

/// An integer JSON cell.
pub(super) fn int_cell(n: i64) -> Value {
    Value::from(n)
}

/// A label map as `a=1,b=2` (sorted by key), `<none>` when empty: Go's `labels.FormatLabels`.
pub(super) fn format_labels(map: Option<&Value>) -> String {
    let text = label_pairs(map);
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// A label map as sorted `k=v` pairs joined by commas, empty when there are none.
fn label_pairs(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object) else {
        return String::new();
    };
    let mut pairs: Vec<(&str, String)> = map
        .iter()
        .map(|(k, v)| (k.as_str(), scalar_text(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A scalar JSON value as text (strings without quotes).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A `metav1.LabelSelector` rendered as Go's `LabelSelectorAsSelector(sel).String()`:
/// requirements sorted by key, `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
/// A missing or empty selector renders as `""`; an unknown operator is an error.
pub(super) fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", scalar_text(v))));
        }
    }
    for expr in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<String> = arr_at(expr, &["values"]).iter().map(scalar_text).collect();
        values.sort();
        values.dedup();
        let text = match str_at(expr, &["operator"]) {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), text));
    }
    // Go sorts the requirements by key only; keep insertion order among equal keys.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(","))
}

/// Go's `metav1.FormatLabelSelector`: the selector text, `<none>` when empty, `<error>` when bad.
pub(super) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// The comma-joined container names and images of a pod template: `layoutContainerCells`.
pub(super) fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// Go's `fmt` rendering of a boolean pointer as printed by the server: `True`, `False`, `<unset>`.
pub(super) fn bool_ptr_text(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// An int-or-string (`intstr.IntOrString`) as text: `3` or `50%`.
pub(super) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(_) => as_int(v).unwrap_or(0).to_string(),
        _ => String::new(),
    }
}

/// A resource quantity as text; a missing quantity is Go's zero `Quantity`, `0`.
pub(super) fn quantity_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// A workload's pod template containers: `spec.template.spec.containers`.
pub(super) fn template_containers(v: &Value) -> &[Value] {
    arr_at(v, &["spec", "template", "spec", "containers"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_sorted_and_none_when_empty() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn selectors_render_like_go() {
        let sel = json!({
            "matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"}
            ]
        });
        assert_eq!(
            selector_string(Some(&sel)).unwrap(),
            "app=web,!canary,env in (dev,prod),team,tier=front,zone notin (b)"
        );
        assert_eq!(selector_string(None).unwrap(), "");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})
            )),
            "<error>"
        );
    }

    #[test]
    fn containers_are_laid_out_on_one_line() {
        let cs = [
            json!({"name": "app", "image": "nginx:1"}),
            json!({"name": "side", "image": "envoy"}),
        ];
        assert_eq!(
            layout_containers(&cs),
            ("app,side".to_string(), "nginx:1,envoy".to_string())
        );
        assert_eq!(layout_containers(&[]), (String::new(), String::new()));
    }

    #[test]
    fn mistyped_fields_read_as_zero_values() {
        let v = json!({"spec": {"replicas": "three", "x": 2.9}});
        assert_eq!(int_at(&v, &["spec", "replicas"]), 0);
        assert_eq!(int_at(&v, &["spec", "x"]), 2);
        assert_eq!(str_at(&v, &["spec", "missing", "deeper"]), "");
        assert!(arr_at(&v, &["spec"]).is_empty());
    }
}
