//! Loading: YAML streams read like kubectl reads them, each document checked by a typed
//! k8s-openapi round trip, filed by kind.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------

/// The `metadata/` folder of the workspace.
pub(crate) fn metadata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("metadata")
}

/// One application's manifests, typed, plus its `app.json`.
#[derive(Default)]
pub(crate) struct App {
    pub(crate) name: String,
    /// File names under `manifests/`, sorted.
    pub(crate) files: Vec<String>,
    /// (file, document index) of every object, in file order.
    pub(crate) origins: Vec<(String, usize)>,
    pub(crate) deployments: Vec<Deployment>,
    pub(crate) services: Vec<Service>,
    pub(crate) config_maps: Vec<ConfigMap>,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) pvcs: Vec<PersistentVolumeClaim>,
    pub(crate) pvs: Vec<PersistentVolume>,
    /// Raw documents as parsed from YAML (nulls included).
    pub(crate) raw: Vec<Value>,
    pub(crate) meta: Value,
}

/// Parses every document of a YAML stream the way kubectl reads manifests.
pub(crate) fn parse_yaml_stream(text: &str) -> Result<Vec<Value>, String> {
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Removes `key: null` entries (e.g. kompose's `creationTimestamp: null`): they mean "absent".
pub(crate) fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// The first place where `typed` (the round-tripped object) differs from `original`.
pub(crate) fn first_difference(path: &str, original: &Value, typed: &Value) -> Option<String> {
    match (original, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, av) in a {
                let here = format!("{path}.{key}");
                match b.get(key) {
                    None => {
                        return Some(format!(
                            "`{here}` is not a field of the Kubernetes schema (misspelt or unknown?)"
                        ));
                    }
                    Some(bv) => {
                        if let Some(diff) = first_difference(&here, av, bv) {
                            return Some(diff);
                        }
                    }
                }
            }
            b.keys().find(|key| !a.contains_key(*key)).map(|key| {
                format!("`{path}.{key}` appeared in the typed object but is not in the file")
            })
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!(
                    "`{path}` has {} items in the file but {} typed",
                    a.len(),
                    b.len()
                ));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (av, bv))| first_difference(&format!("{path}[{i}]"), av, bv))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!(
            "`{path}` is {a} in the file but {b} after the typed round trip"
        )),
    }
}

/// Deserialises `doc` into `T`, serialises it again and compares it with the document.
pub(crate) fn round_trip<T: Serialize + DeserializeOwned>(doc: &Value) -> Result<T, String> {
    let typed: T =
        serde_json::from_value(doc.clone()).map_err(|e| format!("does not deserialise: {e}"))?;
    let again = serde_json::to_value(&typed).map_err(|e| format!("does not serialise: {e}"))?;
    match first_difference("", &without_nulls(doc), &again) {
        None => Ok(typed),
        Some(diff) => Err(diff),
    }
}

/// Checks one document and files it into `app` by kind.
pub(crate) fn add_document(app: &mut App, doc: &Value) -> Result<(), String> {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("no apiVersion")?;
    let kind = doc.get("kind").and_then(Value::as_str).ok_or("no kind")?;
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or("no metadata.name")?;
    let context = |e: String| format!("{kind} {name}: {e}");
    match (api_version, kind) {
        ("apps/v1", "Deployment") => app.deployments.push(round_trip(doc).map_err(context)?),
        ("v1", "Service") => app.services.push(round_trip(doc).map_err(context)?),
        ("v1", "ConfigMap") => app.config_maps.push(round_trip(doc).map_err(context)?),
        ("v1", "Secret") => app.secrets.push(round_trip(doc).map_err(context)?),
        ("v1", "PersistentVolumeClaim") => app.pvcs.push(round_trip(doc).map_err(context)?),
        ("v1", "PersistentVolume") => app.pvs.push(round_trip(doc).map_err(context)?),
        _ => {
            return Err(format!(
                "{api_version}/{kind} {name}: kind not expected in metadata/"
            ));
        }
    }
    Ok(())
}

/// Loads `metadata/<name>/`; every problem in every file is reported at once.
pub(crate) fn load_app(name: &str) -> Result<App, String> {
    let dir = metadata_dir().join(name);
    let mut app = App {
        name: name.to_string(),
        ..App::default()
    };
    let meta_text = fs::read_to_string(dir.join("app.json"))
        .map_err(|e| format!("{name}/app.json: cannot read: {e}"))?;
    app.meta = serde_json::from_str(&meta_text).map_err(|e| format!("{name}/app.json: {e}"))?;

    let manifests = dir.join("manifests");
    let entries = fs::read_dir(&manifests).map_err(|e| format!("{}: {e}", manifests.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".yaml") {
            return Err(format!(
                "{name}/manifests/{file}: only .yaml files belong here"
            ));
        }
        app.files.push(file);
    }
    app.files.sort();

    let mut problems = Vec::new();
    for file in app.files.clone() {
        let where_ = format!("{name}/manifests/{file}");
        let text =
            fs::read_to_string(manifests.join(&file)).map_err(|e| format!("{where_}: {e}"))?;
        let docs = match parse_yaml_stream(&text) {
            Ok(docs) => docs,
            Err(e) => {
                problems.push(format!("{where_}: not valid YAML: {e}"));
                continue;
            }
        };
        if docs.is_empty() {
            problems.push(format!("{where_}: no documents"));
        }
        for (index, doc) in docs.iter().enumerate() {
            match add_document(&mut app, doc) {
                Ok(()) => {
                    app.origins.push((file.clone(), index));
                    app.raw.push(doc.clone());
                }
                Err(e) => problems.push(format!("{where_} document {index}: {e}")),
            }
        }
    }
    if problems.is_empty() {
        Ok(app)
    } else {
        Err(problems.join("\n"))
    }
}

pub(crate) fn hotel() -> App {
    load_app("hotel-reservation").unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn social() -> App {
    load_app("social-network").unwrap_or_else(|e| panic!("{e}"))
}

// ------------------------------------------------------------------------------------------
// The checker itself
// ------------------------------------------------------------------------------------------

#[test]
fn every_manifest_is_a_typed_kubernetes_object_without_unknown_fields() {
    for name in ["hotel-reservation", "social-network"] {
        let app = load_app(name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!app.files.is_empty(), "{name}: no manifests");
        assert_eq!(app.origins.len(), app.raw.len());
    }
}

#[test]
fn round_trip_rejects_misspelt_fields_and_wrong_types() {
    let misspelt = parse_yaml_stream(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n      targetPrt: 80\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = round_trip::<Service>(&misspelt[0])
        .err()
        .unwrap_or_default();
    assert!(err.contains("spec.ports[0].targetPrt"), "unexpected: {err}");

    let wrong_type = parse_yaml_stream(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  selector: {}\n  template:\n    spec:\n      containers:\n        - name: c\n          env:\n            - name: A\n              value: 1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = round_trip::<Deployment>(&wrong_type[0])
        .err()
        .unwrap_or_default();
    assert!(err.contains("does not deserialise"), "unexpected: {err}");

    let wrong_kind = parse_yaml_stream("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(round_trip::<Secret>(&wrong_kind[0]).is_err());

    let fine = parse_yaml_stream(
        "apiVersion: v1\nkind: Service\nmetadata:\n  creationTimestamp: null\n  name: x\nspec:\n  ports:\n    - port: 80\n      targetPort: http\nstatus:\n  loadBalancer: {}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(round_trip::<Service>(&fine[0]).is_ok());
}

#[test]
fn yaml_is_read_like_kubectl_reads_it() {
    let docs =
        parse_yaml_stream("---\na: 0644\n---\n---\nb: yes\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.len(), 2, "empty documents are skipped");
    assert_eq!(docs[0]["a"], 420, "YAML 1.1 octal");
    assert_eq!(docs[1]["b"], true, "YAML 1.1 boolean");
}
