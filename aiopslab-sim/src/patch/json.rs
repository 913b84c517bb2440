//! JSON patch (RFC 6902) and JSON merge patch (RFC 7396), via the `json-patch` crate.

use super::error::PatchError;
use json_patch::{PatchErrorKind, PatchOperation};
use serde_json::Value;

/// The most operations the API server accepts in one JSON patch.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Parses `body` as JSON, answering 400 with the server's wording when it is not.
pub(crate) fn decode_json(body: &[u8]) -> Result<Value, PatchError> {
    serde_json::from_slice(body)
        .map_err(|error| PatchError::bad_request(format!("error decoding patch: {error}")))
}

/// The name Go's `encoding/json` gives a JSON value's type in "cannot unmarshal" messages.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies a JSON patch (`application/json-patch+json`) to a copy of `live`.
///
/// The body must be a JSON array of operations (400 otherwise). An operation that does not apply
/// (a failed `test`, a path that does not exist) answers 422 like the real server, with the
/// operation that failed in the cause.
pub(crate) fn apply_json_patch(live: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let decoded = decode_json(body)?;
    let Value::Array(raw_ops) = decoded else {
        return Err(PatchError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_type_name(&decoded)
        )));
    };
    if raw_ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::RequestEntityTooLarge {
            message: format!(
                "Request entity too large: The allowed maximum operations in a JSON patch is \
                 {MAX_JSON_PATCH_OPERATIONS}, got {}",
                raw_ops.len()
            ),
        });
    }
    let mut ops = Vec::with_capacity(raw_ops.len());
    for raw in raw_ops {
        if !raw.is_object() {
            return Err(PatchError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_type_name(&raw)
            )));
        }
        let op_name = raw
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let op: PatchOperation = serde_json::from_value(raw).map_err(|error| {
            if matches!(
                op_name.as_str(),
                "add" | "remove" | "replace" | "move" | "copy" | "test"
            ) {
                PatchError::patch_rejected(format!("invalid {op_name} operation: {error}"))
            } else {
                PatchError::patch_rejected(format!("Unexpected kind: {op_name}"))
            }
        })?;
        ops.push(op);
    }

    let mut doc = live.clone();
    for op in &ops {
        // One operation at a time on our own copy: the error then names the operation, and
        // `patch_unsafe` never needs to undo anything.
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(op))
            .map_err(|error| PatchError::patch_rejected(describe(op, &error.kind)))?;
    }
    Ok(doc)
}

/// Words a failed operation the way Go's `evanphx/json-patch` (used by the API server) does.
fn describe(op: &PatchOperation, kind: &PatchErrorKind) -> String {
    let path = op.path().to_string();
    match (op, kind) {
        (PatchOperation::Test(_), _) | (_, PatchErrorKind::TestFailed) => {
            format!("testing value {path} failed: test failed")
        }
        (PatchOperation::Move(mv), PatchErrorKind::CannotMoveInsideItself) => {
            format!(
                "move operation does not apply: cannot move {} into its own child {path}",
                mv.from
            )
        }
        (PatchOperation::Move(mv), PatchErrorKind::InvalidFromPointer) => format!(
            "move operation does not apply: doc is missing from path: \"{}\": missing value",
            mv.from
        ),
        (PatchOperation::Copy(cp), PatchErrorKind::InvalidFromPointer) => format!(
            "copy operation does not apply: doc is missing from path: \"{}\": missing value",
            cp.from
        ),
        (PatchOperation::Add(_), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Remove(_), _) => {
            format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            )
        }
        (PatchOperation::Replace(_), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (PatchOperation::Move(_), _) => {
            format!("move operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Copy(_), _) => {
            format!("copy operation does not apply: doc is missing path: \"{path}\": missing value")
        }
    }
}

/// Applies a JSON merge patch (`application/merge-patch+json`) to a copy of `live`: objects merge
/// key by key, `null` deletes a key, everything else (lists included) replaces.
///
/// The body must be a JSON object, as the server requires for a patch of an object.
pub(crate) fn apply_merge_patch(live: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch = decode_json(body)?;
    if !patch.is_object() {
        return Err(PatchError::bad_request("Invalid JSON Patch"));
    }
    let mut doc = live.clone();
    json_patch::merge(&mut doc, &patch);
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.25"}
            ]}}}
        })
    }

    #[test]
    fn json_patch_table() {
        let cases: Vec<(&str, Value, Result<Value, u16>)> = vec![
            (
                "replace replicas",
                json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
                Ok(json!(3)),
            ),
            (
                "test then replace",
                json!([
                    {"op": "test", "path": "/spec/replicas", "value": 1},
                    {"op": "replace", "path": "/spec/replicas", "value": 5}
                ]),
                Ok(json!(5)),
            ),
            (
                "failed test",
                json!([
                    {"op": "test", "path": "/spec/replicas", "value": 2},
                    {"op": "replace", "path": "/spec/replicas", "value": 5}
                ]),
                Err(422),
            ),
            (
                "remove missing",
                json!([{"op": "remove", "path": "/spec/paused"}]),
                Err(422),
            ),
            (
                "replace missing",
                json!([{"op": "replace", "path": "/spec/nothing/here", "value": 1}]),
                Err(422),
            ),
            (
                "unknown op",
                json!([{"op": "frobnicate", "path": "/a"}]),
                Err(422),
            ),
            ("not a list", json!({"op": "add"}), Err(400)),
            ("list of strings", json!(["add"]), Err(400)),
        ];
        for (name, patch, want) in cases {
            let body = serde_json::to_vec(&patch).expect("serialises");
            let got = apply_json_patch(&deployment(), &body);
            match (got, want) {
                (Ok(doc), Ok(replicas)) => assert_eq!(doc["spec"]["replicas"], replicas, "{name}"),
                (Err(error), Err(code)) => assert_eq!(error.code(), code, "{name}: {error}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn failed_test_says_which_path() {
        let body = br#"[{"op":"test","path":"/spec/replicas","value":9}]"#;
        let error = apply_json_patch(&deployment(), body).expect_err("the test fails");
        assert_eq!(
            error.message(),
            "the server rejected our request due to an error in our request"
        );
        assert_eq!(
            error.causes()[0].message,
            "testing value /spec/replicas failed: test failed"
        );
    }

    #[test]
    fn json_patch_never_touches_the_input_on_failure() {
        let live = deployment();
        let body = br#"[{"op":"replace","path":"/spec/replicas","value":7},
                        {"op":"remove","path":"/nope"}]"#;
        assert!(apply_json_patch(&live, body).is_err());
        assert_eq!(live, deployment());
    }

    #[test]
    fn json_patch_escapes_and_arrays() {
        let live = json!({"metadata": {"annotations": {"a/b": "1"}}, "list": [1, 2]});
        let body = br#"[{"op":"remove","path":"/metadata/annotations/a~1b"},
                        {"op":"add","path":"/list/-","value":3},
                        {"op":"move","from":"/list/0","path":"/first"}]"#;
        let doc = apply_json_patch(&live, body).expect("applies");
        assert_eq!(
            doc,
            json!({"metadata": {"annotations": {}}, "list": [2, 3], "first": 1})
        );
    }

    #[test]
    fn bad_json_is_a_bad_request() {
        let error = apply_json_patch(&deployment(), b"[{").expect_err("bad json");
        assert_eq!(error.code(), 400);
        assert!(error.message().starts_with("error decoding patch: "));
        let error = apply_merge_patch(&deployment(), b"{").expect_err("bad json");
        assert_eq!(error.code(), 400);
    }

    #[test]
    fn merge_patch_table() {
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "null deletes a label",
                json!({"metadata": {"labels": {"tier": null}}}),
                json!({"app": "web"}),
            ),
            (
                "adds a label",
                json!({"metadata": {"labels": {"team": "a"}}}),
                json!({"app": "web", "tier": "front", "team": "a"}),
            ),
            ("no-op", json!({}), json!({"app": "web", "tier": "front"})),
        ];
        for (name, patch, labels) in cases {
            let body = serde_json::to_vec(&patch).expect("serialises");
            let doc = apply_merge_patch(&deployment(), &body).expect(name);
            assert_eq!(doc["metadata"]["labels"], labels, "{name}");
        }
    }

    #[test]
    fn merge_patch_replaces_lists_whole() {
        let body =
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#;
        let doc = apply_merge_patch(&deployment(), body).expect("applies");
        assert_eq!(
            doc["spec"]["template"]["spec"]["containers"],
            json!([{"name": "side", "image": "busybox"}])
        );
    }

    #[test]
    fn merge_patch_must_be_an_object() {
        for body in [&b"[1]"[..], b"null", b"3"] {
            let error = apply_merge_patch(&deployment(), body).expect_err("not an object");
            assert_eq!(error.code(), 400);
            assert_eq!(error.message(), "Invalid JSON Patch");
        }
    }
}
