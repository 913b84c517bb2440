//! Sets of field paths, as server-side apply tracks ownership, and their `FieldsV1` encoding.
//!
//! A path is a list of elements: `Field("spec")`, `Key({"name":"nginx"})` (an item of a keyed
//! list), `Value("x")` (an item of a set-like list of primitives) or `Index(0)`. A set holds the
//! paths a manager owns: leaves (scalars, atomic lists, empty objects) and keyed/set list items.
//! Objects themselves are not members, only what they contain, which is the granularity of the
//! real server's apply entries (it additionally marks pointer-typed objects and maps it saw
//! created with `.` in update entries; this implementation does not, which changes nothing about
//! who owns a value).
//!
//! Encoding follows `metav1.FieldsV1`: `{"f:spec":{"f:replicas":{}}}`, list items as
//! `"k:{\"name\":\"nginx\"}"` (with `".": {}` when the item itself is owned and has owned
//! children), set items as `"v:\"x\""`, indexes as `"i:0"`.

use super::schema::{FieldMeta, ListKind, Ty, field};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Element {
    /// A field of an object (struct field or map key).
    Field(String),
    /// An item of a keyed list, by its key as compact JSON (`{"name":"nginx"}`).
    Key(String),
    /// An item of a set of primitives, as compact JSON (`"x"`, `80`).
    Value(String),
    /// An item of a list, by position.
    Index(usize),
}

/// A path from the object's root.
pub(crate) type Path = Vec<Element>;

/// The paths one manager owns.
pub(crate) type FieldSet = BTreeSet<Path>;

/// Renders a path the way the API server does in conflict messages:
/// `.spec.template.spec.containers[name="nginx"].image`, `.metadata.finalizers[="x"]`.
pub(crate) fn display(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        match element {
            Element::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Element::Key(json) => {
                let rendered = match serde_json::from_str::<Map<String, Value>>(json) {
                    Ok(keys) => keys
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    Err(_) => json.clone(),
                };
                out.push('[');
                out.push_str(&rendered);
                out.push(']');
            }
            Element::Value(json) => {
                out.push_str("[=");
                out.push_str(json);
                out.push(']');
            }
            Element::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn element_name(element: &Element) -> String {
    match element {
        Element::Field(name) => format!("f:{name}"),
        Element::Key(json) => format!("k:{json}"),
        Element::Value(json) => format!("v:{json}"),
        Element::Index(index) => format!("i:{index}"),
    }
}

fn parse_element(name: &str) -> Option<Element> {
    let (prefix, rest) = name.split_at_checked(2)?;
    match prefix {
        "f:" => Some(Element::Field(rest.to_string())),
        "k:" => {
            // Re-encode so that equal keys compare equal whatever the spacing.
            let keys: Map<String, Value> = serde_json::from_str(rest).ok()?;
            serde_json::to_string(&keys).ok().map(Element::Key)
        }
        "v:" => {
            let value: Value = serde_json::from_str(rest).ok()?;
            serde_json::to_string(&value).ok().map(Element::Value)
        }
        "i:" => rest.parse().ok().map(Element::Index),
        _ => None,
    }
}

#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn into_json(self) -> Value {
        let mut out = Map::new();
        if self.member && !self.children.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        for (name, child) in self.children {
            out.insert(name, child.into_json());
        }
        Value::Object(out)
    }
}

/// Encodes a set as a `fieldsV1` object.
pub(crate) fn encode(set: &FieldSet) -> Value {
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node.children.entry(element_name(element)).or_default();
        }
        node.member = true;
    }
    root.into_json()
}

/// Decodes a `fieldsV1` object; entries it cannot read are skipped.
pub(crate) fn decode(fields: &Value) -> FieldSet {
    fn walk(node: &Map<String, Value>, prefix: &mut Path, out: &mut FieldSet) {
        for (name, child) in node {
            if name == "." {
                if !prefix.is_empty() {
                    out.insert(prefix.clone());
                }
                continue;
            }
            let Some(element) = parse_element(name) else {
                continue;
            };
            prefix.push(element);
            match child.as_object() {
                Some(grand) if grand.is_empty() => {
                    out.insert(prefix.clone());
                }
                Some(grand) => walk(grand, prefix, out),
                None => {}
            }
            prefix.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Some(root) = fields.as_object() {
        walk(root, &mut Vec::new(), &mut out);
    }
    out
}

/// Whether `a` and `b` are the same JSON value, numbers compared by value.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn item_matches(item: &Value, element: &Element) -> bool {
    match element {
        Element::Key(json) => {
            let Ok(keys) = serde_json::from_str::<Map<String, Value>>(json) else {
                return false;
            };
            let Some(object) = item.as_object() else {
                return false;
            };
            keys.iter()
                .all(|(k, v)| object.get(k).is_some_and(|w| values_equal(v, w)))
        }
        Element::Value(json) => {
            serde_json::from_str::<Value>(json).is_ok_and(|wanted| values_equal(&wanted, item))
        }
        _ => false,
    }
}

fn position(list: &[Value], element: &Element) -> Option<usize> {
    match element {
        Element::Index(index) => (*index < list.len()).then_some(*index),
        Element::Field(_) => None,
        _ => list.iter().position(|item| item_matches(item, element)),
    }
}

/// The value at `path`, if there is one.
pub(crate) fn get<'a>(value: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut current = value;
    for element in path {
        current = match (current, element) {
            (Value::Object(map), Element::Field(name)) => map.get(name)?,
            (Value::Array(list), element) => &list[position(list, element)?],
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the value at `path`; `false` if there was none.
pub(crate) fn remove(value: &mut Value, path: &[Element]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = value;
    for element in parents {
        current = match (current, element) {
            (Value::Object(map), Element::Field(name)) => match map.get_mut(name) {
                Some(next) => next,
                None => return false,
            },
            (Value::Array(list), element) => match position(list, element) {
                Some(index) => &mut list[index],
                None => return false,
            },
            _ => return false,
        };
    }
    match (current, last) {
        (Value::Object(map), Element::Field(name)) => map.shift_remove(name).is_some(),
        (Value::Array(list), element) => match position(list, element) {
            Some(index) => {
                list.remove(index);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The key element of a list item, if the item is an object with a scalar value for `key`.
pub(crate) fn key_element(item: &Value, key: &str) -> Option<Element> {
    let value = item.as_object()?.get(key)?;
    if value.is_object() || value.is_array() || value.is_null() {
        return None;
    }
    let mut keys = Map::new();
    keys.insert(key.to_string(), value.clone());
    serde_json::to_string(&keys).ok().map(Element::Key)
}

/// Whether every item is an object with a distinct scalar `key`, so the list can be owned item
/// by item.
pub(crate) fn is_keyed(items: &[Value], key: &str) -> bool {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .all(|item| key_element(item, key).is_some_and(|element| seen.insert(element)))
}

/// Whether every item is a distinct primitive, so the list can be owned as a set.
pub(crate) fn is_set(items: &[Value]) -> bool {
    let mut seen = BTreeSet::new();
    items.iter().all(|item| {
        !item.is_object()
            && !item.is_array()
            && serde_json::to_string(item).is_ok_and(|json| seen.insert(json))
    })
}

/// Every path `value` (an object of type `ty`) sets.
pub(crate) fn fields_of(value: &Value, ty: Ty) -> FieldSet {
    let mut out = FieldSet::new();
    if let Value::Object(map) = value {
        walk_object(map, ty, &mut Vec::new(), &mut out);
    }
    out
}

/// The fields of `value`, a field described by `meta`, at `prefix` (what [`fields_of`] finds
/// under that path of a whole object).
pub(crate) fn fields_at(value: &Value, meta: FieldMeta, prefix: &mut Path, out: &mut FieldSet) {
    walk_value(value, meta, prefix, out);
}

fn walk_object(map: &Map<String, Value>, ty: Ty, prefix: &mut Path, out: &mut FieldSet) {
    for (name, value) in map {
        prefix.push(Element::Field(name.clone()));
        walk_value(value, field(ty, name), prefix, out);
        prefix.pop();
    }
}

fn walk_value(value: &Value, meta: FieldMeta, prefix: &mut Path, out: &mut FieldSet) {
    match value {
        // A null is an unset field (`creationTimestamp: null` in pod templates): nobody owns it.
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => walk_object(map, meta.ty, prefix, out),
        Value::Array(items) => match meta.list {
            ListKind::Merge(Some(key)) if is_keyed(items, key) => {
                for item in items {
                    let (Some(element), Some(map)) = (key_element(item, key), item.as_object())
                    else {
                        continue;
                    };
                    prefix.push(element);
                    out.insert(prefix.clone());
                    walk_object(map, meta.ty, prefix, out);
                    prefix.pop();
                }
            }
            ListKind::Merge(None) if is_set(items) => {
                for item in items {
                    if let Ok(json) = serde_json::to_string(item) {
                        prefix.push(Element::Value(json));
                        out.insert(prefix.clone());
                        prefix.pop();
                    }
                }
            }
            _ => {
                out.insert(prefix.clone());
            }
        },
        _ => {
            out.insert(prefix.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::root_type;
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> Element {
        Element::Field(name.into())
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}, "finalizers": ["x"], "annotations": null},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}],
                    "tolerations": [{"key": "a"}]
                }}
            }
        })
    }

    #[test]
    fn fields_of_a_deployment_encode_like_the_server() {
        let ty = root_type("apps", "Deployment").expect("built in");
        let set = fields_of(&deployment(), ty);
        assert_eq!(
            encode(&set),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {"f:matchLabels": {"f:app": {}}},
                    "f:template": {"f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80}": {".": {}, "f:containerPort": {}}}
                        }},
                        "f:tolerations": {}
                    }}
                }
            })
        );
        assert_eq!(decode(&encode(&set)), set);
    }

    #[test]
    fn get_and_remove_follow_paths() {
        let mut doc = deployment();
        let image = vec![
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            Element::Key(r#"{"name":"nginx"}"#.into()),
            f("image"),
        ];
        assert_eq!(get(&doc, &image), Some(&json!("nginx")));
        assert_eq!(
            display(&image),
            r#".spec.template.spec.containers[name="nginx"].image"#
        );
        assert!(remove(&mut doc, &image));
        assert!(get(&doc, &image).is_none());
        assert!(!remove(&mut doc, &image));

        let finalizer = vec![
            f("metadata"),
            f("finalizers"),
            Element::Value("\"x\"".into()),
        ];
        assert_eq!(display(&finalizer), r#".metadata.finalizers[="x"]"#);
        assert!(remove(&mut doc, &finalizer));
        assert_eq!(doc["metadata"]["finalizers"], json!([]));
        assert_eq!(display(&[f("a"), Element::Index(3)]), ".a[3]");
    }

    #[test]
    fn decode_skips_garbage() {
        let fields = json!({"f:a": {}, "x:b": {}, "k:not json": {}, "f:c": 3, "i:z": {}, "f:d": {".": {}, "f:e": {}}});
        let set = decode(&fields);
        let want: FieldSet = [vec![f("a")], vec![f("d")], vec![f("d"), f("e")]]
            .into_iter()
            .collect();
        assert_eq!(set, want);
        assert!(decode(&json!("nope")).is_empty());
    }

    #[test]
    fn lists_that_cannot_be_keyed_are_owned_whole() {
        let ty = root_type("", "Pod").expect("built in");
        let pod = json!({"spec": {"containers": [{"image": "no-name"}]}});
        let set = fields_of(&pod, ty);
        assert!(set.contains(&vec![f("spec"), f("containers")]));
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
        assert!(fields_of(&pod, ty).contains(&vec![f("spec"), f("containers")]));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(values_equal(
            &json!({"a": [1, 2.0]}),
            &json!({"a": [1.0, 2]})
        ));
        assert!(!values_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
