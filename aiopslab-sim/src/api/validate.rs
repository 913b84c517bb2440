//! Field validation against the kind's schema (`fieldValidation=Strict|Warn|Ignore`), and the
//! name rules of custom resources (built-in kinds get theirs from admission).
//!
//! As on the real server, fields the schema does not declare are dropped; with `Strict`
//! (kubectl's default) the request is refused instead, with `Warn` (the API default) each
//! dropped field is reported in a `Warning` header.

use super::context::Ctx;
use super::objects::meta_str;
use super::openapi;
use super::status::{ApiError, ApiResult, Cause};
use crate::resources::ResourceType;
use serde_json::Value;

/// How unknown fields are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ignore,
    Warn,
    Strict,
}

fn mode(ctx: &Ctx) -> ApiResult<Mode> {
    match ctx.query.get("fieldValidation").unwrap_or("") {
        "" | "Warn" => Ok(Mode::Warn),
        "Ignore" => Ok(Mode::Ignore),
        "Strict" => Ok(Mode::Strict),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported: {other}"
        ))),
    }
}

/// Drops the fields `obj` has that its schema does not declare, and reports them as the mode
/// asks: an error (`Strict`), warnings (`Warn`) or nothing (`Ignore`).
pub(crate) fn fields(ctx: &Ctx, rtype: &ResourceType, obj: &mut Value) -> ApiResult<Vec<String>> {
    let mode = mode(ctx)?;
    let Some(schema) = openapi::schema_for(ctx.store(), rtype) else {
        return Ok(Vec::new());
    };
    let mut unknown = Vec::new();
    let mut path = String::new();
    walk(&schema, obj, &mut path, &mut unknown, 0);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match mode {
        Mode::Strict => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            texts.join(", "),
            kind = rtype.kind,
            version = rtype.version,
        ))),
        Mode::Warn => Ok(texts),
        Mode::Ignore => Ok(Vec::new()),
    }
}

/// The parts of a schema node the walk looks at, found in one pass over its keys (cheaper
/// than looking each up).
#[derive(Default)]
struct Facets<'a> {
    reference: Option<&'a str>,
    properties: Option<&'a serde_json::Map<String, Value>>,
    /// Whether the node has a `properties` key at all (even one that is not an object).
    has_properties: bool,
    all_of: Option<&'a Vec<Value>>,
    additional: Option<&'a Value>,
    items: Option<&'a Value>,
    /// `x-kubernetes-preserve-unknown-fields: true` or `x-kubernetes-int-or-string`.
    open: bool,
}

impl<'a> Facets<'a> {
    fn of(schema: &'a Value) -> Self {
        let mut f = Facets::default();
        let Some(map) = schema.as_object() else {
            return f;
        };
        for (key, value) in map {
            match key.as_str() {
                "$ref" => f.reference = value.as_str(),
                "properties" => {
                    f.has_properties = true;
                    f.properties = value.as_object();
                }
                "allOf" => f.all_of = value.as_array(),
                "additionalProperties" => f.additional = Some(value).filter(|v| v.is_object()),
                "items" => f.items = Some(value),
                "x-kubernetes-preserve-unknown-fields" => {
                    f.open |= *value == Value::Bool(true);
                }
                "x-kubernetes-int-or-string" => f.open = true,
                _ => {}
            }
        }
        f
    }
}

/// Follows `$ref` and single-element `allOf` wrappers to the schema that describes a value,
/// and returns its facets.
fn resolve(mut schema: &Value) -> Facets<'_> {
    let defs = &openapi::builtins().definitions;
    let mut facets = Facets::of(schema);
    for _ in 0..16 {
        if let Some(name) = facets.reference.and_then(|r| r.rsplit('/').next()) {
            match defs.get(name) {
                Some(d) => schema = d,
                None => return facets,
            }
        } else if !facets.has_properties
            && let Some(all) = facets.all_of
            && all.len() == 1
        {
            schema = &all[0];
        } else {
            return facets;
        }
        facets = Facets::of(schema);
    }
    facets
}

fn walk(
    schema: &Value,
    value: &mut Value,
    path: &mut String,
    unknown: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    let facets = resolve(schema);
    if facets.open {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = facets.properties {
                let mut drop = Vec::new();
                for (k, v) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    match props.get(k) {
                        Some(sub) => walk(sub, v, path, unknown, depth + 1),
                        None => {
                            unknown.push(path.clone());
                            drop.push(k.clone());
                        }
                    }
                    path.truncate(len);
                }
                for k in drop {
                    map.remove(&k);
                }
            } else if let Some(sub) = facets.additional {
                for (k, v) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(sub, v, path, unknown, depth + 1);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = facets.items {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(sub, item, path, unknown, depth + 1);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// Whether `name` is a DNS-1123 subdomain.
pub(crate) fn is_subdomain(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The name rules of custom resources (DNS-1123 subdomain); built-in kinds are checked by
/// admission.
pub(crate) fn name(rtype: &ResourceType, obj: &Value) -> ApiResult<()> {
    if !rtype.custom {
        return Ok(());
    }
    let name = meta_str(obj, "name").unwrap_or("");
    let cause = if name.is_empty() {
        if meta_str(obj, "generateName").is_some_and(|g| !g.is_empty()) {
            return Ok(());
        }
        Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        }
    } else if is_subdomain(name) {
        return Ok(());
    } else {
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {name:?}: {DNS1123_SUBDOMAIN}"),
            field: "metadata.name".into(),
        }
    };
    Err(ApiError::invalid(
        &rtype.kind,
        &rtype.group,
        name,
        vec![cause],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unknown_in(kind_def: &str, mut v: Value) -> (Vec<String>, Value) {
        let schema = openapi::builtins().definitions[kind_def].clone();
        let mut unknown = Vec::new();
        walk(&schema, &mut v, &mut String::new(), &mut unknown, 0);
        (unknown, v)
    }

    #[test]
    fn finds_and_drops_unknown_fields() {
        let (unknown, pruned) = unknown_in(
            "io.k8s.api.apps.v1.Deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "x", "labels": {"a": "b"}, "bogus": 1},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "c", "image": "i", "imagee": "typo",
                     "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80}]}]}}}}),
        );
        assert_eq!(
            unknown,
            vec!["metadata.bogus", "spec.template.spec.containers[0].imagee"]
        );
        assert!(pruned["metadata"].get("bogus").is_none());
        assert_eq!(
            pruned["spec"]["template"]["spec"]["containers"][0]["image"],
            "i"
        );
        assert_eq!(pruned["metadata"]["labels"]["a"], "b");
    }

    #[test]
    fn maps_and_int_or_string_are_open() {
        let (unknown, _) = unknown_in(
            "io.k8s.api.core.v1.Service",
            json!({"spec": {"selector": {"anything": "goes"},
                "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn custom_names() {
        let mut cat = crate::resources::Catalogue::default();
        cat.add_crd(
            &json!({"spec": {"group": "chaos-mesh.org", "scope": "Namespaced",
            "names": {"kind": "PodChaos", "plural": "podchaos"},
            "versions": [{"name": "v1alpha1", "served": true}]}}),
        )
        .unwrap();
        let t = cat
            .by_plural("chaos-mesh.org", "v1alpha1", "podchaos")
            .unwrap();
        assert!(name(t, &json!({"metadata": {"name": "kill-1"}})).is_ok());
        let e = name(t, &json!({"metadata": {"name": "Kill_1"}})).unwrap_err();
        assert!(
            e.message
                .starts_with("PodChaos.chaos-mesh.org \"Kill_1\" is invalid: metadata.name")
        );
        assert!(!is_subdomain("a..b") && is_subdomain("a.b-c"));
    }
}
