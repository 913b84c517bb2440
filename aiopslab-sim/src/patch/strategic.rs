//! Strategic merge patch (`application/strategic-merge-patch+json`), following apimachinery's
//! `strategicpatch.StrategicMergeMapPatch` as the API server calls it (merging the parallel
//! deletion lists and ignoring unmatched nulls).
//!
//! - Objects merge key by key; `null` deletes a key.
//! - Lists with a patch merge key ([`schema`](super::schema)) merge item by item on that key;
//!   primitive lists with the merge strategy (`finalizers`, `podCIDRs`) merge as sets; every
//!   other list is replaced.
//! - Directives: `$patch: replace | delete` in an object; `$patch: delete | replace` as a list
//!   item; `$retainKeys: [..]`; `$deleteFromPrimitiveList/<field>: [..]`;
//!   `$setElementOrder/<field>: [..]`.
//! - Item order follows apimachinery: items named in the patch (or in `$setElementOrder`) keep the
//!   patch's order and are interleaved with the items only the server had, which keep theirs.
//!   A new item the patch does not place relative to existing ones comes first, as with the
//!   real server.
//!
//! Where this differs from Go: a value the patch adds for a field the object does not have yet
//! is itself run through the merge (against nothing), so directives and `null`s inside it are
//! resolved instead of being stored and later dropped by Go's typed decoding; keys that start
//! with `$` and are no directive are dropped (Go keeps them until typed decoding drops them);
//! errors Go reports as a bare `error` (HTTP 500) are reported as 400 here.

use super::error::PatchError;
use super::json::decode_json;
use super::schema::{FieldMeta, ListKind, Ty, field};
use serde_json::{Map, Value};
use std::cmp::Ordering;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_PREFIX: &str = "$deleteFromPrimitiveList";
const ORDER_PREFIX: &str = "$setElementOrder";

type Obj = Map<String, Value>;
type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch to a copy of `live`, using the schema `ty` of its kind.
pub(crate) fn apply_strategic_merge_patch(live: &Value, body: &[u8], ty: Ty) -> Result<Value> {
    let patch = decode_json(body)?;
    let Value::Object(patch) = patch else {
        return Err(PatchError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            super::json::json_type_name(&patch)
        )));
    };
    let original = match live {
        Value::Object(map) => map.clone(),
        _ => Obj::new(),
    };
    merge_map(original, patch, ty).map(Value::Object)
}

// ---------------------------------------------------------------------------------------------
// Errors, worded as apimachinery's mergepatch package words them.

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::bad_request(format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(item)
    ))
}

fn bad_patch_type(directive: &Value, map: &Obj) -> PatchError {
    PatchError::bad_request(format!(
        "unknown patch type: {} in map: {}",
        go_format(directive),
        go_format_map(map)
    ))
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    let actual = match actual {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    };
    PatchError::bad_request(format!("expected a {expected}, but received a {actual}"))
}

fn primitive_list_format() -> PatchError {
    PatchError::bad_request("invalid patch format of primitive list")
}

fn retain_keys_format() -> PatchError {
    PatchError::bad_request("invalid patch format of retainKeys")
}

fn element_order_format() -> PatchError {
    PatchError::bad_request("invalid patch format of setElementOrder list")
}

/// Formats a value like Go's `%v` does for decoded JSON (`map[k:v]`, `[a b]`, `<nil>`), so that
/// messages read like the real server's.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => go_format_map(map),
    }
}

fn go_format_map(map: &Obj) -> String {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let inner: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{k}:{}", go_format(v)))
        .collect();
    format!("map[{}]", inner.join(" "))
}

// ---------------------------------------------------------------------------------------------
// Value helpers.

/// Equality of merge-key values and primitive list items: JSON equality, except that numbers
/// compare by value (`80` equals `80.0`), as Go's decoded `float64`s do.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

/// The value an item is ordered and matched by: its merge key for objects, itself otherwise.
fn sort_key<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        None => Some(item),
        Some(key) => item.as_object().and_then(|map| map.get(key)),
    }
}

fn same_item(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match (sort_key(a, key), sort_key(b, key)) {
        (Some(x), Some(y)) => scalar_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

fn index_in(order: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    order
        .iter()
        .position(|candidate| same_item(candidate, item, key))
}

fn is_directive_delete(item: &Value) -> bool {
    item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

fn has_directive(item: &Value) -> bool {
    item.as_object()
        .is_some_and(|map| map.contains_key(DIRECTIVE))
}

/// Splits `$prefix/field` into `field`.
fn extract_key<'a>(key: &'a str, prefix: &str, error: fn() -> PatchError) -> Result<&'a str> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest),
        _ => Err(error()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    Null,
    Bool,
    Number,
    String,
    Object,
    List,
}

/// The common kind of the items of `lists` (`None` when they are all empty). Lists of lists are
/// refused as the server refuses them, and so are lists mixing kinds.
fn element_kind(lists: &[&[Value]]) -> Result<Option<ElementKind>> {
    let mut kind = None;
    for list in lists {
        for item in list.iter() {
            let this = match item {
                Value::Null => ElementKind::Null,
                Value::Bool(_) => ElementKind::Bool,
                Value::Number(_) => ElementKind::Number,
                Value::String(_) => ElementKind::String,
                Value::Object(_) => ElementKind::Object,
                Value::Array(_) => ElementKind::List,
            };
            match kind {
                None if this == ElementKind::List => {
                    return Err(PatchError::patch_rejected(
                        "lists of lists are not supported",
                    ));
                }
                None => kind = Some(this),
                Some(previous) if previous != this => {
                    let lists: Vec<Value> = lists
                        .iter()
                        .map(|list| Value::Array(list.to_vec()))
                        .collect();
                    return Err(PatchError::bad_request(format!(
                        "list element types are not identical: {}",
                        go_format(&Value::Array(lists))
                    )));
                }
                Some(_) => {}
            }
        }
    }
    Ok(kind)
}

/// Removes what a replaced (atomic) value must not keep: directive keys and `null`s, which the
/// server's typed decoding would drop.
fn sanitize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k, sanitize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(sanitize).collect()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The merge.

/// Merges `patch` into `original` (an object of type `ty`).
fn merge_map(mut original: Obj, mut patch: Obj, ty: Ty) -> Result<Obj> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                merge_map(Obj::new(), patch, ty)
            }
            Some("delete") => Ok(Obj::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_element_orders(&mut original, &mut patch, ty)?;

    for (key, patch_value) in patch {
        let (name, delete_list) = if key.starts_with(DELETE_PREFIX) {
            let name = extract_key(&key, DELETE_PREFIX, primitive_list_format)?.to_string();
            if !patch_value.is_array() {
                return Err(primitive_list_format());
            }
            (name, true)
        } else if key.starts_with('$') {
            // Not a directive this server knows; Go's typed decoding would drop it too.
            continue;
        } else {
            (key, false)
        };
        if patch_value.is_null() {
            original.shift_remove(&name);
            continue;
        }
        let meta = field(ty, &name);
        match original.get_mut(&name) {
            None => {
                if !delete_list {
                    let value = fresh_value(patch_value, meta)?;
                    original.insert(name, value);
                }
            }
            Some(slot) => {
                let current = slot.take();
                *slot = merge_value(current, patch_value, meta, delete_list)?;
            }
        }
    }
    Ok(original)
}

/// Merges a patch value into an existing value of the same field.
fn merge_value(current: Value, patch: Value, meta: FieldMeta, delete_list: bool) -> Result<Value> {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) => {
            merge_map(current, patch, meta.ty).map(Value::Object)
        }
        (Value::Array(current), Value::Array(patch)) => {
            merge_list(current, patch, meta, delete_list).map(Value::Array)
        }
        // A deletion list for a field that is not a list: nothing to delete from.
        (current, _) if delete_list => Ok(current),
        (_, patch) => fresh_value(patch, meta),
    }
}

/// The value a patch sets for a field the object does not have (or has with another type).
fn fresh_value(patch: Value, meta: FieldMeta) -> Result<Value> {
    match patch {
        Value::Object(patch) => merge_map(Obj::new(), patch, meta.ty).map(Value::Object),
        Value::Array(patch) => merge_list(Vec::new(), patch, meta, false).map(Value::Array),
        other => Ok(other),
    }
}

/// A list item the patch adds: merged against nothing, so nested directives are resolved.
fn fresh_item(item: Value, ty: Ty) -> Result<Value> {
    match item {
        Value::Object(map) => merge_map(Obj::new(), map, ty).map(Value::Object),
        other => Ok(sanitize(other)),
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
    delete_list: bool,
) -> Result<Vec<Value>> {
    match meta.list {
        // Deletion lists only make sense for merged primitive lists; elsewhere they are ignored.
        ListKind::Atomic if delete_list => Ok(original),
        ListKind::Atomic => Ok(patch.into_iter().map(sanitize).collect()),
        ListKind::Merge(key) => merge_slice(original, patch, meta.ty, key, delete_list),
    }
}

/// Merges two lists of a field with the merge strategy.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem_ty: Ty,
    merge_key: Option<&'static str>,
    delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    if kind != Some(ElementKind::Object) {
        // A set of primitives.
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|item| !patch.iter().any(|gone| scalar_eq(gone, item)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for item in original.iter().chain(patch.iter()) {
            if !merged.iter().any(|seen| scalar_eq(seen, item)) {
                merged.push(item.clone());
            }
        }
        let (patch_items, server_only) = partition(merged, &patch, None)?;
        return normalize_element_order(patch_items, server_only, &patch, &original, None);
    }

    let Some(key) = merge_key else {
        return Err(PatchError::bad_request(
            "cannot merge lists without merge key for type map",
        ));
    };
    let (original, patch) = split_special_items(original, patch, key, elem_ty)?;
    let server_order = original.clone();
    let merged = merge_items(original, &patch, key, elem_ty)?;
    let (patch_items, server_only) = partition(merged, &patch, Some(key))?;
    normalize_element_order(patch_items, server_only, &patch, &server_order, Some(key))
}

/// Applies the `$patch` items of a keyed list: deletes the items named by `$patch: delete`, and
/// for `$patch: replace` makes the rest of the patch the whole list. Returns the new original
/// and the patch without directive items.
fn split_special_items(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    elem_ty: Ty,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(map) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &item));
        };
        let Some(directive) = map.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(doomed) = map.get(key) else {
                    return Err(no_merge_key(&item, key));
                };
                original.retain(|candidate| {
                    !sort_key(candidate, Some(key)).is_some_and(|value| scalar_eq(value, doomed))
                });
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::bad_request(
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            _ => return Err(bad_patch_type(directive, map)),
        }
    }
    if replace {
        let replacement = plain
            .into_iter()
            .map(|item| fresh_item(item, elem_ty))
            .collect::<Result<Vec<_>>>()?;
        return Ok((replacement, Vec::new()));
    }
    Ok((original, plain))
}

/// Merges each patch item into the original item with the same key, or appends it.
fn merge_items(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    elem_ty: Ty,
) -> Result<Vec<Value>> {
    for item in patch {
        let Some(map) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", item));
        };
        let Some(wanted) = map.get(key) else {
            return Err(no_merge_key(item, key));
        };
        let found = original.iter().position(|candidate| {
            sort_key(candidate, Some(key)).is_some_and(|value| scalar_eq(value, wanted))
        });
        match found {
            Some(index) => {
                let current = match original[index].take() {
                    Value::Object(current) => current,
                    other => return Err(bad_arg_type("map[string]interface {}", &other)),
                };
                original[index] = Value::Object(merge_map(current, map.clone(), elem_ty)?);
            }
            None => original.push(fresh_item(item.clone(), elem_ty)?),
        }
    }
    Ok(original)
}

/// Splits `merged` into the items present in `by` and the others (both in `merged`'s order).
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut present = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        if let Some(key) = key
            && sort_key(&item, Some(key)).is_none()
        {
            return Err(no_merge_key(&item, key));
        }
        if index_in(by, &item, key).is_some() {
            present.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((present, others))
}

/// Orders the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleaves them (apimachinery's `normalizeElementOrder`).
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, key)?;
    let server_only = normalize_slice_order(server_only, server_order, key)?;
    Ok(merge_sorted(server_only, patch_items, server_order, key))
}

fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>> {
    let (mut keep, doomed): (Vec<Value>, Vec<Value>) = match key {
        Some(key) => {
            for item in to_sort.iter().chain(order.iter()) {
                if !item.is_object() {
                    return Err(bad_arg_type("map[string]interface {}", item));
                }
                if sort_key(item, Some(key)).is_none() {
                    return Err(no_merge_key(item, key));
                }
            }
            to_sort
                .into_iter()
                .partition(|item| !is_directive_delete(item))
        }
        None => (to_sort, Vec::new()),
    };
    // Stable: items the order does not mention keep their relative place at the end.
    keep.sort_by_cached_key(|item| index_in(order, item, key).unwrap_or(usize::MAX));
    keep.extend(doomed);
    Ok(keep)
}

/// Inserts the server-only items (`left`) among the patch items (`right`): a server-only item
/// goes first only when both are on the server and it came first there.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_in(server_order, l, key),
                    index_in(server_order, r, key),
                ) {
                    (Some(li), Some(ri)) => li.cmp(&ri) == Ordering::Less,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(item) = next {
            out.push(item);
        }
    }
    out
}

/// `$retainKeys`: clears the keys of `original` the list does not name, after checking that the
/// patch only sets keys it names.
fn apply_retain_keys(original: &mut Obj, patch: &mut Obj) -> Result<()> {
    let Some(list) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(list) = list else {
        return Err(retain_keys_format());
    };
    let retained = |name: &str| list.iter().any(|item| item.as_str() == Some(name));
    for (key, value) in patch.iter() {
        if value.is_null() || key.starts_with(DELETE_PREFIX) || key.starts_with(ORDER_PREFIX) {
            continue;
        }
        if !retained(key) {
            return Err(retain_keys_format());
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's list (if the patch has one) and orders the
/// result as the directive says, keeping items only the server has where they were.
fn merge_element_orders(original: &mut Obj, patch: &mut Obj, ty: Ty) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type("[]interface {}", &order));
        };
        let name = extract_key(&key, ORDER_PREFIX, element_order_format)?.to_string();
        let original_list = match original.get(&name) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
        };
        let patch_list = match patch.shift_remove(&name) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(bad_arg_type("[]interface {}", &other)),
        };
        let meta = field(ty, &name);
        let merge_key = match meta.list {
            ListKind::Merge(key) => key,
            ListKind::Atomic => None,
        };
        let kind = element_kind(&[
            original_list.as_deref().unwrap_or_default(),
            patch_list.as_deref().unwrap_or_default(),
        ])?;
        // Items are matched by merge key only when they are objects with one.
        let key = if kind == Some(ElementKind::Object) {
            merge_key
        } else {
            None
        };
        validate_order(patch_list.as_deref().unwrap_or_default(), &order, key)?;
        let server_order = original_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(current), None) => current,
            (None, Some(patch)) => merge_list(Vec::new(), patch, meta, false)?,
            (Some(current), Some(patch)) => merge_list(current, patch, meta, false)?,
            (None, None) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, key)?;
        let ordered =
            normalize_element_order(patch_items, server_only, &order, &server_order, key)?;
        match original.get_mut(&name) {
            Some(slot) => *slot = Value::Array(ordered),
            None => {
                original.insert(name, Value::Array(ordered));
            }
        }
    }
    Ok(())
}

/// Checks that the patch list's items appear in the `$setElementOrder` list in the same relative
/// order (deletions aside).
fn validate_order(patch_list: &[Value], order: &[Value], key: Option<&str>) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = match key {
        Some(_) => {
            for item in patch_list {
                if !item.is_object() {
                    return Err(bad_arg_type("map[string]interface {}", item));
                }
            }
            patch_list
                .iter()
                .filter(|item| !is_directive_delete(item))
                .collect()
        }
        None => patch_list.iter().collect(),
    };
    let (mut in_patch, mut in_order) = (0, 0);
    while in_patch < items.len() && in_order < order.len() {
        if has_directive(items[in_patch]) {
            in_patch += 1;
            continue;
        }
        if let Some(key) = key {
            for item in [items[in_patch], &order[in_order]] {
                if sort_key(item, Some(key)).is_none() {
                    return Err(no_merge_key(item, key));
                }
            }
        }
        if same_item(items[in_patch], &order[in_order], key) {
            in_patch += 1;
        }
        in_order += 1;
    }
    if in_patch < items.len() && in_order >= order.len() {
        return Err(PatchError::bad_request(format!(
            "The order in patch list:\n{}\n doesn't match {ORDER_PREFIX} list:\n{}\n",
            go_format(&Value::Array(patch_list.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::schema::root_type;
    use super::*;
    use serde_json::json;

    fn smp(group: &str, kind: &str, live: &Value, patch: Value) -> Result<Value> {
        let ty = root_type(group, kind).expect("built-in kind");
        let body = serde_json::to_vec(&patch).expect("serialises");
        apply_strategic_merge_patch(live, &body, ty)
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"app": "web", "tier": "front"},
                "finalizers": ["a.example.com/x", "b.example.com/y"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u-1"}]
            },
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.25",
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                            },
                            {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                        "tolerations": [{"key": "k", "operator": "Exists"}]
                    }
                }
            },
            "status": {"conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "True"}
            ]}
        })
    }

    fn containers(doc: &Value) -> &Value {
        &doc["spec"]["template"]["spec"]["containers"]
    }

    fn names(list: &Value) -> Vec<String> {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| item["name"].as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn set_image_merges_the_container_by_name() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.26"}
        ]}}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        let list = containers(&doc);
        assert_eq!(names(list), ["web", "sidecar"]);
        assert_eq!(list[0]["image"], "nginx:1.26");
        assert_eq!(
            list[0]["env"],
            deployment()["spec"]["template"]["spec"]["containers"][0]["env"]
        );
        assert_eq!(
            list[1],
            deployment()["spec"]["template"]["spec"]["containers"][1]
        );
        // Everything else is untouched.
        assert_eq!(doc["metadata"], deployment()["metadata"]);
        assert_eq!(
            doc["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "k", "operator": "Exists"}])
        );
    }

    #[test]
    fn table_of_container_list_patches() {
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "delete a container",
                json!([{"name": "sidecar", "$patch": "delete"}]),
                vec!["web"],
            ),
            (
                "delete a missing container is a no-op",
                json!([{"name": "ghost", "$patch": "delete"}]),
                vec!["web", "sidecar"],
            ),
            (
                "a new container comes first, as on the real server",
                json!([{"name": "debug", "image": "alpine"}]),
                vec!["debug", "web", "sidecar"],
            ),
            (
                "a new container after a named one follows it",
                json!([{"name": "sidecar", "image": "busybox:2"}, {"name": "debug", "image": "alpine"}]),
                vec!["web", "sidecar", "debug"],
            ),
            (
                "replace the whole list",
                json!([{"name": "only", "image": "x"}, {"$patch": "replace"}]),
                vec!["only"],
            ),
            (
                "patch order wins among patched items",
                json!([{"name": "sidecar", "image": "b"}, {"name": "web", "image": "w"}]),
                vec!["sidecar", "web"],
            ),
        ];
        for (name, list, want) in cases {
            let patch = json!({"spec": {"template": {"spec": {"containers": list}}}});
            let doc = smp("apps", "Deployment", &deployment(), patch).expect(name);
            assert_eq!(names(containers(&doc)), want, "{name}");
        }
    }

    #[test]
    fn env_merges_by_name_and_null_deletes() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "web",
            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
        }]}}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            containers(&doc)[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );

        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "web",
            "env": [{"name": "A", "$patch": "delete"}]
        }]}}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            containers(&doc)[0]["env"],
            json!([{"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn service_port_merges_by_port() {
        let live = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"ports": [
                {"name": "mongo", "port": 27017, "targetPort": 27017, "protocol": "TCP"},
                {"name": "metrics", "port": 9216, "targetPort": 9216, "protocol": "TCP"}
            ], "selector": {"app": "db"}}
        });
        let patch = json!({"spec": {"ports": [{"port": 27017, "targetPort": 27018}]}});
        let doc = smp("", "Service", &live, patch).expect("applies");
        assert_eq!(
            doc["spec"]["ports"],
            json!([
                {"name": "mongo", "port": 27017, "targetPort": 27018, "protocol": "TCP"},
                {"name": "metrics", "port": 9216, "targetPort": 9216, "protocol": "TCP"}
            ])
        );
        assert_eq!(doc["spec"]["selector"], json!({"app": "db"}));
    }

    #[test]
    fn set_element_order_reorders_as_kubectl_asks() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "nginx:1.27"}]
        }}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(names(containers(&doc)), ["sidecar", "web"]);
        assert_eq!(containers(&doc)[1]["image"], "nginx:1.27");

        // kubectl apply: a new container placed between existing ones.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "mid"}, {"name": "sidecar"}],
            "containers": [{"name": "mid", "image": "m"}]
        }}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(names(containers(&doc)), ["web", "mid", "sidecar"]);

        // Order of a merged primitive list.
        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["b.example.com/y", "a.example.com/x"]
        }});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            doc["metadata"]["finalizers"],
            json!(["b.example.com/y", "a.example.com/x"])
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "web", "image": "a"}, {"name": "sidecar", "image": "b"}]
        }}}});
        let error = smp("apps", "Deployment", &deployment(), patch).expect_err("mismatch");
        assert_eq!(error.code(), 400);
        assert!(
            error
                .message()
                .contains("doesn't match $setElementOrder list"),
            "{error}"
        );
    }

    #[test]
    fn kubectl_client_side_apply_patches() {
        // Removing a container, as `kubectl apply` computes it.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"$patch": "delete", "name": "sidecar"}]
        }}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(names(containers(&doc)), ["web"]);

        // Changing an env var and the strategy type in one go.
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                    "containers": [{
                        "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                        "env": [{"name": "A", "value": "10"}],
                        "name": "web"
                    }]
                }}
            }
        });
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            containers(&doc)[0]["env"],
            json!([{"name": "B", "value": "2"}, {"name": "A", "value": "10"}])
        );
        assert_eq!(names(containers(&doc)), ["web", "sidecar"]);
        assert_eq!(
            doc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
    }

    #[test]
    fn retain_keys_clears_other_keys() {
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["spec"]["strategy"], json!({"type": "Recreate"}));

        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}});
        let error = smp("apps", "Deployment", &deployment(), patch).expect_err("not retained");
        assert_eq!(error.message(), "invalid patch format of retainKeys");

        // A volume switching its source, as kubectl sends it.
        let patch = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}}
        ]}}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            doc["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "data", "configMap": {"name": "cfg"}}])
        );
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let patch = json!({"metadata": {"labels": {"tier": null, "team": "sre"}, "annotations": {"x": null}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            doc["metadata"]["labels"],
            json!({"app": "web", "team": "sre"})
        );
        // A null for a key that was never there leaves nothing behind.
        assert_eq!(doc["metadata"]["annotations"], json!({}));

        let patch = json!({"spec": {"strategy": {"rollingUpdate": null}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["spec"]["strategy"], json!({"type": "RollingUpdate"}));
    }

    #[test]
    fn map_directives() {
        let patch = json!({"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["spec"]["strategy"], json!({"type": "Recreate"}));

        let patch = json!({"spec": {"strategy": {"$patch": "delete"}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["spec"]["strategy"], json!({}));

        let patch = json!({"spec": {"strategy": {"$patch": "frob"}}});
        let error = smp("apps", "Deployment", &deployment(), patch).expect_err("bad directive");
        assert_eq!(error.code(), 400);
        assert!(
            error
                .message()
                .starts_with("unknown patch type: frob in map: "),
            "{error}"
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "add one",
                json!({"metadata": {"finalizers": ["c.example.com/z"]}}),
                json!(["c.example.com/z", "a.example.com/x", "b.example.com/y"]),
            ),
            (
                "add a duplicate",
                json!({"metadata": {"finalizers": ["a.example.com/x"]}}),
                json!(["a.example.com/x", "b.example.com/y"]),
            ),
            (
                "delete one",
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]}}),
                json!(["b.example.com/y"]),
            ),
            (
                "replace with null then nothing",
                json!({"metadata": {"finalizers": null}}),
                Value::Null,
            ),
        ];
        for (name, patch, want) in cases {
            let doc = smp("apps", "Deployment", &deployment(), patch).expect(name);
            assert_eq!(doc["metadata"]["finalizers"], want, "{name}");
        }
        // kubectl apply dropping one finalizer and reordering the rest.
        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["b.example.com/y"],
            "$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]
        }});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(doc["metadata"]["finalizers"], json!(["b.example.com/y"]));
        let bad = json!({"metadata": {"$deleteFromPrimitiveList": ["x"]}});
        let error = smp("apps", "Deployment", &deployment(), bad).expect_err("no field name");
        assert_eq!(error.message(), "invalid patch format of primitive list");
    }

    #[test]
    fn owner_references_merge_by_uid_and_conditions_by_type() {
        let patch = json!({
            "metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Y", "name": "p", "uid": "u-2"}]},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]}
        });
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        let uids: Vec<&str> = doc["metadata"]["ownerReferences"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|o| o["uid"].as_str())
            .collect();
        assert_eq!(uids, ["u-2", "u-1"]);
        assert_eq!(
            doc["status"]["conditions"],
            json!([
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                {"type": "Progressing", "status": "True"}
            ])
        );
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced() {
        let patch = json!({"spec": {"template": {"spec": {
            "tolerations": [{"key": "other", "operator": "Exists", "$patch": "delete"}],
            "containers": [{"name": "sidecar", "args": ["sleep", "2d"]}]
        }}}});
        let doc = smp("apps", "Deployment", &deployment(), patch).expect("applies");
        assert_eq!(
            doc["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "other", "operator": "Exists"}])
        );
        assert_eq!(containers(&doc)[1]["args"], json!(["sleep", "2d"]));
        let node =
            json!({"kind": "Node", "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}});
        let doc = smp(
            "",
            "Node",
            &node,
            json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}),
        )
        .expect("applies");
        assert_eq!(
            doc["spec"]["taints"],
            json!([{"key": "b", "effect": "NoExecute"}])
        );
    }

    #[test]
    fn nested_keyed_lists_in_every_workload() {
        let job_template = |containers: Value| json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": containers}}}}}});
        let live = job_template(json!([{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]));
        let doc = smp(
            "batch",
            "CronJob",
            &live,
            job_template(json!([{"name": "b", "image": "2"}])),
        )
        .expect("applies");
        assert_eq!(
            doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
        );
        for (group, kind) in [
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("", "ReplicationController"),
        ] {
            let live = json!({"spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": "1"}, {"name": "j", "image": "1"}]}}}});
            let patch = json!({"spec": {"template": {"spec": {"initContainers": [{"name": "j", "image": "2"}]}}}});
            let doc = smp(group, kind, &live, patch).expect(kind);
            assert_eq!(
                doc["spec"]["template"]["spec"]["initContainers"],
                json!([{"name": "i", "image": "1"}, {"name": "j", "image": "2"}]),
                "{kind}"
            );
        }
        let pod = json!({"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "a", "mountPath": "/a"}]}]}});
        let patch = json!({"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "b", "mountPath": "/a", "readOnly": true}]}]}});
        let doc = smp("", "Pod", &pod, patch).expect("applies");
        assert_eq!(
            doc["spec"]["containers"][0]["volumeMounts"],
            json!([{"name": "b", "mountPath": "/a", "readOnly": true}])
        );
    }

    #[test]
    fn service_account_secrets_merge_and_config_maps_are_plain() {
        let sa = json!({"kind": "ServiceAccount", "secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "p"}]});
        let doc = smp(
            "",
            "ServiceAccount",
            &sa,
            json!({"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "q"}]}),
        )
        .expect("applies");
        assert_eq!(doc["secrets"], json!([{"name": "b"}, {"name": "a"}]));
        assert_eq!(doc["imagePullSecrets"], json!([{"name": "q"}]));

        let cm = json!({"kind": "ConfigMap", "data": {"a": "1", "b": "2"}});
        let doc =
            smp("", "ConfigMap", &cm, json!({"data": {"b": null, "c": "3"}})).expect("applies");
        assert_eq!(doc["data"], json!({"a": "1", "c": "3"}));
    }

    #[test]
    fn errors_worded_like_apimachinery() {
        let cases: Vec<(&str, Value, u16, &str)> = vec![
            (
                "item without merge key",
                json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}}),
                400,
                "map: map[image:nginx] does not contain declared merge key: name",
            ),
            (
                "$patch: merge in a list",
                json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}),
                400,
                "merging lists cannot yet be specified in the patch",
            ),
            (
                "delete without key",
                json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}),
                400,
                "map: map[$patch:delete] does not contain declared merge key: name",
            ),
            (
                "mixed list",
                json!({"metadata": {"finalizers": [1]}}),
                400,
                "list element types are not identical: [[a.example.com/x b.example.com/y] [1]]",
            ),
        ];
        for (name, patch, code, message) in cases {
            let error = smp("apps", "Deployment", &deployment(), patch).expect_err(name);
            assert_eq!(error.code(), code, "{name}: {error}");
            assert_eq!(error.message(), message, "{name}");
        }
        let error = smp(
            "apps",
            "Deployment",
            &json!({}),
            json!({"metadata": {"finalizers": [["a"]]}}),
        )
        .expect_err("list of lists");
        assert_eq!(error.code(), 422);
        assert_eq!(
            error.causes()[0].message,
            "lists of lists are not supported"
        );
        let error = apply_strategic_merge_patch(&deployment(), b"[1]", Ty::Any).expect_err("array");
        assert_eq!(
            error.message(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn new_values_have_their_directives_resolved() {
        let live = json!({"spec": {"template": {"spec": {}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}, {"name": "F", "$patch": "delete"}], "resources": null}
        ]}}}});
        let doc = smp("apps", "Deployment", &live, patch).expect("applies");
        assert_eq!(
            containers(&doc),
            &json!([{"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]}])
        );
    }

    #[test]
    fn the_input_is_left_alone() {
        let live = deployment();
        let patch = json!({"spec": {"replicas": 5}});
        let doc = smp("apps", "Deployment", &live, patch).expect("applies");
        assert_eq!(doc["spec"]["replicas"], 5);
        assert_eq!(live, deployment());
    }
}
