//! OpenAPI documents: `/openapi/v3` (the index and one document per group-version) and
//! `/openapi/v2` (JSON only).
//!
//! The schemas of built-in kinds come from k8s-openapi's `schemars` implementations, which carry
//! the real field descriptions, so `kubectl explain pod.spec.containers` prints the real docs.
//! Custom resources use the `openAPIV3Schema` of their CRD. As on a real server, each kind's
//! schema carries `x-kubernetes-group-version-kind`, and each path operation too; the `PATCH`
//! operations list the `fieldValidation` parameter, which is how kubectl 1.32 decides to let
//! the server validate fields (`kubectl apply` then sends `fieldValidation=Strict`).
//!
//! Two things differ from a real server, on purpose:
//! - the `PATCH` operations do not list `application/strategic-merge-patch+json`: the schemas
//!   lack the `x-kubernetes-patch-merge-key` extensions, and a client that computed a strategic
//!   merge patch from them would replace lists instead of merging them. kubectl then computes
//!   its patch from its compiled-in types, which is what it does for every built-in kind anyway;
//! - `/openapi/v2` carries the definitions in its JSON form only; its protobuf form (what
//!   kubectl asks for) is an empty document, so kubectl falls back to its compiled-in types for
//!   client-side apply patches and leaves the validation of `kind: List` items to the server
//!   (only `kubectl explain --output=plaintext-openapiv2` finds nothing).

use super::context::{Ctx, bytes_response};
use super::status::{ApiError, ApiResult};
use crate::auth::{Identity, Policy};
use crate::resources::{Catalogue, ResourceType};
use crate::store::Store;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

const REF_V3: &str = "#/components/schemas/";
const REF_V2: &str = "#/definitions/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The schemas of the built-in kinds.
pub(crate) struct Builtins {
    /// Every definition, in OpenAPI v3 form (`#/components/schemas/...` references).
    pub definitions: Map<String, Value>,
    /// (group, version, kind) → definition name.
    pub kinds: BTreeMap<(String, String, String), String>,
}

static BUILTINS: OnceLock<Builtins> = OnceLock::new();

/// The built-in schemas, generated once per process.
pub(crate) fn builtins() -> &'static Builtins {
    BUILTINS.get_or_init(generate_builtins)
}

fn generate_builtins() -> Builtins {
    use k8s_openapi::api;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    let mut generator = SchemaSettings::openapi3()
        .with(|s| {
            s.transforms.clear();
            s.meta_schema = None;
        })
        .into_generator();
    let mut kinds = BTreeMap::new();
    macro_rules! kinds {
        ($($g:literal $v:literal $k:literal => $t:ty;)*) => {$(
            let schema = generator.subschema_for::<$t>();
            if let Some(name) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_V3))
            {
                kinds.insert(($g.to_string(), $v.to_string(), $k.to_string()), name.to_string());
            }
        )*};
    }
    kinds! {
        "" "v1" "Binding" => api::core::v1::Binding;
        "" "v1" "ConfigMap" => api::core::v1::ConfigMap;
        "" "v1" "Endpoints" => api::core::v1::Endpoints;
        "" "v1" "Event" => api::core::v1::Event;
        "" "v1" "LimitRange" => api::core::v1::LimitRange;
        "" "v1" "Namespace" => api::core::v1::Namespace;
        "" "v1" "Node" => api::core::v1::Node;
        "" "v1" "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim;
        "" "v1" "PersistentVolume" => api::core::v1::PersistentVolume;
        "" "v1" "Pod" => api::core::v1::Pod;
        "" "v1" "PodTemplate" => api::core::v1::PodTemplate;
        "" "v1" "ReplicationController" => api::core::v1::ReplicationController;
        "" "v1" "ResourceQuota" => api::core::v1::ResourceQuota;
        "" "v1" "Secret" => api::core::v1::Secret;
        "" "v1" "ServiceAccount" => api::core::v1::ServiceAccount;
        "" "v1" "Service" => api::core::v1::Service;
        "apps" "v1" "ControllerRevision" => api::apps::v1::ControllerRevision;
        "apps" "v1" "DaemonSet" => api::apps::v1::DaemonSet;
        "apps" "v1" "Deployment" => api::apps::v1::Deployment;
        "apps" "v1" "ReplicaSet" => api::apps::v1::ReplicaSet;
        "apps" "v1" "StatefulSet" => api::apps::v1::StatefulSet;
        "batch" "v1" "CronJob" => api::batch::v1::CronJob;
        "batch" "v1" "Job" => api::batch::v1::Job;
        "discovery.k8s.io" "v1" "EndpointSlice" => api::discovery::v1::EndpointSlice;
        "storage.k8s.io" "v1" "StorageClass" => api::storage::v1::StorageClass;
        "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding;
        "rbac.authorization.k8s.io" "v1" "ClusterRole" => api::rbac::v1::ClusterRole;
        "rbac.authorization.k8s.io" "v1" "RoleBinding" => api::rbac::v1::RoleBinding;
        "rbac.authorization.k8s.io" "v1" "Role" => api::rbac::v1::Role;
        "apiextensions.k8s.io" "v1" "CustomResourceDefinition" => apiext::CustomResourceDefinition;
        "coordination.k8s.io" "v1" "Lease" => api::coordination::v1::Lease;
        "events.k8s.io" "v1" "Event" => api::events::v1::Event;
        "authorization.k8s.io" "v1" "SelfSubjectAccessReview" => api::authorization::v1::SelfSubjectAccessReview;
        "authorization.k8s.io" "v1" "SelfSubjectRulesReview" => api::authorization::v1::SelfSubjectRulesReview;
        "authentication.k8s.io" "v1" "SelfSubjectReview" => api::authentication::v1::SelfSubjectReview;
        "networking.k8s.io" "v1" "Ingress" => api::networking::v1::Ingress;
        "networking.k8s.io" "v1" "IngressClass" => api::networking::v1::IngressClass;
        "networking.k8s.io" "v1" "NetworkPolicy" => api::networking::v1::NetworkPolicy;
        "policy" "v1" "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget;
        "policy" "v1" "Eviction" => api::policy::v1::Eviction;
        "autoscaling" "v2" "HorizontalPodAutoscaler" => api::autoscaling::v2::HorizontalPodAutoscaler;
        "autoscaling" "v1" "Scale" => api::autoscaling::v1::Scale;
        "scheduling.k8s.io" "v1" "PriorityClass" => api::scheduling::v1::PriorityClass;
        "meta.k8s.io" "v1" "Status" => meta::Status;
        "meta.k8s.io" "v1" "DeleteOptions" => meta::DeleteOptions;
        "meta.k8s.io" "v1" "Patch" => meta::Patch;
    }
    let mut definitions = generator.take_definitions(false);
    for def in definitions.values_mut() {
        allof_refs(def);
    }
    for ((g, v, k), name) in &kinds {
        if g == "meta.k8s.io" {
            continue;
        }
        if let Some(def) = definitions.get_mut(name).and_then(Value::as_object_mut) {
            def.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": g, "kind": k, "version": v}]),
            );
        }
    }
    Builtins { definitions, kinds }
}

/// Rewrites `{"$ref": r, "description": d}` (a reference with siblings, which OpenAPI 3.0
/// ignores) into `{"allOf": [{"$ref": r}], "description": d}`, as the real server publishes it.
/// `v` is a schema; the maps of `properties` hold schemas but are not schemas themselves (a
/// property may be called `$ref`, as in `JSONSchemaProps`).
fn allof_refs(v: &mut Value) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(allof_refs);
        }
        return;
    };
    if map.len() > 1
        && map.get("$ref").is_some_and(Value::is_string)
        && let Some(r) = map.remove("$ref")
    {
        map.insert("allOf".into(), json!([{"$ref": r}]));
    }
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                if let Value::Object(props) = child {
                    props.values_mut().for_each(allof_refs);
                }
            }
            "items" | "additionalProperties" | "not" | "allOf" | "oneOf" | "anyOf" => {
                allof_refs(child)
            }
            _ => {}
        }
    }
}

/// Collects the definition names `v` refers to.
fn refs_in(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix(prefix)
            {
                out.push(name.to_string());
            }
            for child in map.values() {
                refs_in(child, prefix, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs_in(i, prefix, out)),
        _ => {}
    }
}

/// The definitions reachable from `roots`.
fn closure(defs: &Map<String, Value>, roots: &[String]) -> Map<String, Value> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.to_vec();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            refs_in(def, REF_V3, &mut todo);
        }
    }
    seen.into_iter()
        .filter_map(|n| defs.get(&n).map(|d| (n, d.clone())))
        .collect()
}

/// The definition name of a custom kind (`org.chaos-mesh.v1alpha1.PodChaos`).
fn custom_definition_name(rtype: &ResourceType) -> String {
    let reversed: Vec<&str> = rtype.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), rtype.version, rtype.kind)
}

/// The schema of a custom kind, from its CRD, shaped as the real server publishes it.
fn custom_schema(store: &Store, rtype: &ResourceType) -> Value {
    let mut schema = super::crd::definition_of(store, rtype)
        .and_then(|crd| super::crd::version_schema(&crd, &rtype.version).cloned())
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(map) = schema.as_object_mut() {
        let props = map
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(props) = props {
            props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
            props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
            props.insert("metadata".into(), json!({"allOf": [{"$ref": format!("{REF_V3}{OBJECT_META}")}], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
        }
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": rtype.group, "kind": rtype.kind, "version": rtype.version}]),
        );
    }
    schema
}

/// The definition name (and, for custom kinds, the schema) of a served type.
fn type_schema(store: &Store, rtype: &ResourceType) -> Option<(String, Option<Value>)> {
    if rtype.custom {
        return Some((
            custom_definition_name(rtype),
            Some(custom_schema(store, rtype)),
        ));
    }
    builtins()
        .kinds
        .get(&(
            rtype.group.clone(),
            rtype.version.clone(),
            rtype.kind.clone(),
        ))
        .map(|n| (n.clone(), None))
}

fn param(name: &str, location: &str, description: &str) -> Value {
    json!({"name": name, "in": location, "description": description,
           "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        param(
            "dryRun",
            "query",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        param(
            "fieldManager",
            "query",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "query",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
    ]
}

/// One operation of a path, with its GVK and response schema.
fn operation(action: &str, gvk: &Value, reference: Option<&str>, id: String) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    let content = |r: Option<&str>| match r {
        Some(r) => json!({"application/json": {"schema": {"$ref": format!("{REF_V3}{r}")}},
                          "application/yaml": {"schema": {"$ref": format!("{REF_V3}{r}")}}}),
        None => json!({"application/json": {"schema": {"type": "object"}}}),
    };
    let mut params = Vec::new();
    match action {
        "patch" => {
            params = write_params();
            params.push(json!({"name": "force", "in": "query", "description": "Force is going to \"force\" Apply requests.", "schema": {"type": "boolean", "uniqueItems": true}}));
            let patch_schema = json!({"schema": {"$ref": format!("{REF_V3}io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}});
            op.insert(
                "requestBody".into(),
                json!({"content": {
                    "application/apply-patch+yaml": patch_schema,
                    "application/json-patch+json": patch_schema,
                    "application/merge-patch+json": patch_schema,
                }, "required": true}),
            );
        }
        "post" | "put" => {
            params = write_params();
            op.insert(
                "requestBody".into(),
                json!({"content": content(reference), "required": true}),
            );
        }
        _ => {}
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    op.insert(
        "responses".into(),
        json!({"200": {"description": "OK", "content": content(reference)},
               "401": {"description": "Unauthorized"}}),
    );
    op.insert(
        "x-kubernetes-action".into(),
        json!(match action {
            "post" => "post",
            "put" => "put",
            other => other,
        }),
    );
    op.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
    Value::Object(op)
}

/// The paths of one type.
fn type_paths(rtype: &ResourceType, def: Option<&str>, paths: &mut Map<String, Value>) {
    let prefix = if rtype.group.is_empty() {
        format!("/api/{}", rtype.version)
    } else {
        format!("/apis/{}/{}", rtype.group, rtype.version)
    };
    let gvk = json!({"group": rtype.group, "kind": rtype.kind, "version": rtype.version});
    let id = format!("{}{}", rtype.plural, rtype.kind);
    let collection = if rtype.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", rtype.plural)
    } else {
        format!("{prefix}/{}", rtype.plural)
    };
    let has = |v: &str| rtype.verbs.iter().any(|x| x == v);
    let mut coll = Map::new();
    if has("list") {
        coll.insert(
            "get".into(),
            operation("list", &gvk, def, format!("list{id}")),
        );
    }
    if has("create") {
        coll.insert(
            "post".into(),
            operation("post", &gvk, def, format!("create{id}")),
        );
    }
    if has("deletecollection") {
        coll.insert(
            "delete".into(),
            operation(
                "deletecollection",
                &gvk,
                None,
                format!("deletecollection{id}"),
            ),
        );
    }
    if !coll.is_empty() {
        paths.insert(collection.clone(), Value::Object(coll));
    }
    let mut item = Map::new();
    for (verb, method, action) in [
        ("get", "get", "get"),
        ("update", "put", "put"),
        ("patch", "patch", "patch"),
        ("delete", "delete", "delete"),
    ] {
        if has(verb) {
            item.insert(
                method.into(),
                operation(action, &gvk, def, format!("{verb}{id}")),
            );
        }
    }
    if !item.is_empty() {
        paths.insert(format!("{collection}/{{name}}"), Value::Object(item));
    }
    if rtype.namespaced && has("list") {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation("list", &gvk, def, format!("list{id}ForAllNamespaces")),
        );
        paths.insert(format!("{prefix}/{}", rtype.plural), Value::Object(all));
    }
    for sub in &rtype.subresources {
        let (sub_gvk, sub_def) = match sub.as_str() {
            "status" => (gvk.clone(), def.map(str::to_string)),
            "scale" => (
                json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
                Some("io.k8s.api.autoscaling.v1.Scale".to_string()),
            ),
            _ => continue,
        };
        let mut ops = Map::new();
        for (method, action) in [("get", "get"), ("put", "put"), ("patch", "patch")] {
            ops.insert(
                method.into(),
                operation(
                    action,
                    &sub_gvk,
                    sub_def.as_deref(),
                    format!("{method}{id}{sub}"),
                ),
            );
        }
        paths.insert(format!("{collection}/{{name}}/{sub}"), Value::Object(ops));
    }
}

/// The OpenAPI v3 document of one group-version, or `None` when it is not served to `who`.
pub(crate) fn v3_document(
    store: &Store,
    cat: &Catalogue,
    policy: &Policy,
    who: &Identity,
    group: &str,
    version: &str,
) -> Option<Value> {
    if policy.hides_group(who, group) {
        return None;
    }
    let types: Vec<&ResourceType> = cat
        .types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let b = builtins();
    let mut paths = Map::new();
    let mut roots = vec![
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string(),
    ];
    let mut custom = Map::new();
    for t in &types {
        let schema = type_schema(store, t);
        let def = schema.as_ref().map(|(n, _)| n.clone());
        if let Some((name, own)) = schema {
            match own {
                Some(s) => {
                    refs_in(&s, REF_V3, &mut roots);
                    custom.insert(name, s);
                }
                None => roots.push(name),
            }
        }
        if t.has_subresource("scale") {
            roots.push("io.k8s.api.autoscaling.v1.Scale".into());
        }
        type_paths(t, def.as_deref(), &mut paths);
    }
    let mut schemas = closure(&b.definitions, &roots);
    schemas.extend(custom);
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::discovery::SERVER_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// Documents cached by content hash, so the index's hashes stay stable and cheap.
type DocCache = Mutex<BTreeMap<(String, String), (u64, Arc<(Bytes, String)>)>>;
static DOCS: OnceLock<DocCache> = OnceLock::new();

/// FNV-1a, for document hashes.
fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A fingerprint of what a group-version document is made of (its types and CRD specs).
fn fingerprint(store: &Store, cat: &Catalogue, group: &str, version: &str) -> u64 {
    let mut text = String::new();
    for t in cat
        .types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        text.push_str(&t.plural);
        text.push('|');
        if let Some(crd) = super::crd::definition_of(store, t) {
            text.push_str(&crd.get("spec").map(Value::to_string).unwrap_or_default());
        }
    }
    fnv64(text.as_bytes())
}

/// The encoded document of a group-version and its hash.
fn cached_document(
    store: &Store,
    cat: &Catalogue,
    policy: &Policy,
    who: &Identity,
    group: &str,
    version: &str,
) -> Option<Arc<(Bytes, String)>> {
    if policy.hides_group(who, group) {
        return None;
    }
    let fp = fingerprint(store, cat, group, version);
    let cache = DOCS.get_or_init(Default::default);
    let key = (group.to_string(), version.to_string());
    if let Some((f, doc)) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && *f == fp
    {
        return Some(doc.clone());
    }
    let doc = v3_document(store, cat, policy, who, group, version)?;
    let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let hash = format!("{:016X}{:016X}", fnv64(&bytes), fp);
    let entry = Arc::new((bytes, hash));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, (fp, entry.clone()));
    Some(entry)
}

fn wants_json(ctx: &Ctx) -> bool {
    match ctx.header(header::ACCEPT) {
        None => true,
        Some(a) => a.split(',').any(|r| {
            let mime = r.split(';').next().unwrap_or("").trim();
            matches!(mime, "application/json" | "*/*" | "application/*" | "")
        }),
    }
}

fn json_bytes(body: Bytes) -> Response {
    bytes_response(StatusCode::OK, body, "application/json")
}

/// `GET /openapi/v3`: the index of group-version documents with their hashes.
pub(crate) fn serve_v3_root(ctx: &Ctx) -> ApiResult<Response> {
    if !wants_json(ctx) {
        return Err(super::negotiate::not_acceptable());
    }
    let store = ctx.store();
    let cat = store.catalogue().clone();
    let mut gvs: Vec<(String, String)> = vec![(String::new(), "v1".to_string())];
    for (g, vs) in cat.groups() {
        for v in vs {
            gvs.push((g.clone(), v));
        }
    }
    let mut paths = Map::new();
    for (g, v) in gvs {
        let Some(doc) = cached_document(store, &cat, ctx.state.policy(), &ctx.user, &g, &v) else {
            continue;
        };
        let path = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", doc.1)}),
        );
    }
    Ok(ctx.json(200, &json!({"paths": paths})))
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub(crate) fn serve_v3(ctx: &Ctx, group: &str, version: &str) -> ApiResult<Response> {
    if !wants_json(ctx) {
        return Err(super::negotiate::not_acceptable());
    }
    let store = ctx.store();
    let cat = store.catalogue().clone();
    let doc = cached_document(store, &cat, ctx.state.policy(), &ctx.user, group, version)
        .ok_or_else(ApiError::no_route)?;
    let mut resp = json_bytes(doc.0.clone());
    if ctx.query.get("hash") == Some(doc.1.as_str())
        && let Ok(v) = "public, immutable".parse()
    {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(resp)
}

static V2: OnceLock<Bytes> = OnceLock::new();

/// Rewrites v3 references and `allOf` wrappers into swagger 2.0 form.
fn to_v2(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(all)) = map.get("allOf")
                && all.len() == 1
                && let Some(r) = all[0].get("$ref").cloned()
            {
                map.remove("allOf");
                map.insert("$ref".into(), r);
            }
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(REF_V3)
            {
                *r = format!("{REF_V2}{name}");
            }
            map.values_mut().for_each(to_v2);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v2),
        _ => {}
    }
}

/// What the protobuf form of `/openapi/v2` is sent as (the real server's choice: the media
/// type clients ask for has an `@`, which Go's MIME parser refuses in a `Content-Type`).
const V2_PROTOBUF: &str = "application/octet-stream";

/// The protobuf form of `/openapi/v2` (gnostic's `openapi.v2.Document`): the header only,
/// `swagger`, `info`, and empty `paths` and `definitions`.
///
/// kubectl reads it in two places: to validate documents the OpenAPI v3 check does not cover
/// (`kind: List`), where a kind without a definition is left to the server's own validation
/// (`fieldValidation=Strict`); and to compute client-side apply patches, where a kind without a
/// definition makes it use its compiled-in types, which carry the patch strategies and merge
/// keys these schemas lack.
fn v2_protobuf() -> Bytes {
    fn field(out: &mut Vec<u8>, number: u8, payload: &[u8]) {
        out.push((number << 3) | 2);
        let mut n = payload.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(payload);
    }
    let mut info = Vec::new();
    field(&mut info, 1, b"Kubernetes");
    field(&mut info, 2, super::discovery::SERVER_VERSION.as_bytes());
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    field(&mut doc, 8, &[]);
    field(&mut doc, 9, &[]);
    Bytes::from(doc)
}

/// `GET /openapi/v2`: swagger 2.0 as JSON (built-in kinds), or its protobuf header (see
/// [`v2_protobuf`]) for clients that ask for protobuf only.
pub(crate) fn serve_v2(ctx: &Ctx) -> ApiResult<Response> {
    if !wants_json(ctx) {
        let accept = ctx.header(header::ACCEPT).unwrap_or("");
        if accept.contains("application/com.github.proto-openapi.spec.v2") {
            return Ok(bytes_response(StatusCode::OK, v2_protobuf(), V2_PROTOBUF));
        }
        return Err(super::negotiate::not_acceptable());
    }
    let body = V2.get_or_init(|| {
        let b = builtins();
        let mut defs = b.definitions.clone();
        for d in defs.values_mut() {
            to_v2(d);
        }
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": super::discovery::SERVER_VERSION},
            "paths": {},
            "definitions": defs,
        });
        Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
    });
    Ok(json_bytes(body.clone()))
}

/// The schema of a served type (references point into [`builtins`]), for field validation.
pub(crate) fn schema_for(store: &Store, rtype: &ResourceType) -> Option<Cow<'static, Value>> {
    if !rtype.custom {
        let name = builtins().kinds.get(&(
            rtype.group.clone(),
            rtype.version.clone(),
            rtype.kind.clone(),
        ))?;
        return builtins().definitions.get(name).map(Cow::Borrowed);
    }
    Some(Cow::Owned(custom_schema(store, rtype)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::WallClock;

    #[test]
    fn builtin_schemas_have_descriptions_and_gvk() {
        let b = builtins();
        let pod = &b.definitions["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert_eq!(
            pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        let spec = &b.definitions["io.k8s.api.core.v1.PodSpec"];
        assert!(
            spec["properties"]["containers"]["description"]
                .as_str()
                .unwrap()
                .starts_with("List of containers")
        );
    }

    #[test]
    fn group_version_document_has_patch_with_field_validation() {
        let store = Store::new(1, Arc::new(WallClock));
        let cat = store.catalogue().clone();
        let doc = v3_document(
            &store,
            &cat,
            &Policy::default(),
            &Identity::admin(),
            "apps",
            "v1",
        )
        .unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"].is_object());
        assert!(doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
    }
}
