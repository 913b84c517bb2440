//! Defaults for Namespaces, Secrets, PersistentVolumeClaims, PersistentVolumes and
//! HorizontalPodAutoscalers.

use super::Operation;
use super::field::FieldError;
use crate::controllers::util::{arr, default_field, keys, obj_mut, s, sd};
use crate::store::Store;
use serde_json::{Value, json};

/// Namespaces: the `kubernetes` finalizer, phase Active and the `kubernetes.io/metadata.name`
/// label the server adds.
pub(super) fn namespace(obj: &mut Value) {
    let name = sd(obj, "/metadata/name").to_string();
    let meta = obj_mut(obj, "metadata");
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    let spec = obj_mut(obj, "spec");
    default_field(spec, "finalizers", json!(["kubernetes"]));
    let status = obj_mut(obj, "status");
    default_field(status, "phase", json!("Active"));
}

/// Standard base64 with padding, as Secret `data` is written.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Decodes standard base64 (padding optional); `None` for invalid input.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Secrets: type Opaque, and `stringData` merged into `data`.
pub(super) fn secret(obj: &mut Value, errors: &mut Vec<FieldError>) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    default_field(m, "type", json!("Opaque"));
    if let Some(Value::Object(string_data)) = m.remove("stringData") {
        let data = m.entry("data").or_insert_with(|| json!({}));
        if let Some(data) = data.as_object_mut() {
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                data.insert(k, json!(base64_encode(text.as_bytes())));
            }
        }
    }
    if let Some(data) = m.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            if v.as_str().and_then(base64_decode).is_none() {
                errors.push(FieldError::invalid(
                    &format!("data[{k}]"),
                    format!("{v}"),
                    "illegal base64 data",
                ));
            }
        }
    }
}

/// The default StorageClass (annotated `storageclass.kubernetes.io/is-default-class`).
pub(crate) fn default_storage_class(store: &Store) -> Option<String> {
    let (classes, _) = store.list(&keys::storageclasses(), None);
    classes
        .iter()
        .find(|c| {
            s(
                c,
                "/metadata/annotations/storageclass.kubernetes.io~1is-default-class",
            ) == Some("true")
        })
        .map(|c| sd(c, "/metadata/name").to_string())
}

/// PersistentVolumeClaims: defaults, the default StorageClass, the protection finalizer.
pub(super) fn pvc(
    store: &Store,
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    if op == Operation::Create {
        let has_class = obj.pointer("/spec/storageClassName").is_some();
        if !has_class && let Some(class) = default_storage_class(store) {
            obj_mut(obj, "spec").insert("storageClassName".into(), json!(class));
        }
        let meta = obj_mut(obj, "metadata");
        let fins = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(f) = fins.as_array_mut()
            && !f.iter().any(|x| x == "kubernetes.io/pvc-protection")
        {
            f.push(json!("kubernetes.io/pvc-protection"));
        }
        let status = obj_mut(obj, "status");
        default_field(status, "phase", json!("Pending"));
    }
    let spec = obj_mut(obj, "spec");
    default_field(spec, "volumeMode", json!("Filesystem"));
    let spec = Value::Object(spec.clone());
    if arr(&spec, "/accessModes").is_empty() {
        errors.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    if spec.pointer("/resources/requests/storage").is_none() {
        errors.push(FieldError::required("spec.resources[storage]", ""));
    }
    if op == Operation::Update
        && let Some(old) = old
    {
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("resources");
                m.remove("volumeName");
                m.remove("volumeAttributesClassName");
            }
            v
        };
        let old_spec = old.get("spec").cloned().unwrap_or(json!({}));
        let volume_changed = sd(&old_spec, "/volumeName") != sd(&spec, "/volumeName")
            && !sd(&old_spec, "/volumeName").is_empty();
        if strip(&old_spec) != strip(&spec) || volume_changed {
            errors.push(FieldError::forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
    }
}

/// PersistentVolumes: reclaim policy, volume mode, the protection finalizer, phase Pending.
pub(super) fn pv(op: Operation, obj: &mut Value) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    default_field(spec, "volumeMode", json!("Filesystem"));
    if op == Operation::Create {
        let meta = obj_mut(obj, "metadata");
        let fins = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(f) = fins.as_array_mut()
            && !f.iter().any(|x| x == "kubernetes.io/pv-protection")
        {
            f.push(json!("kubernetes.io/pv-protection"));
        }
        let status = obj_mut(obj, "status");
        default_field(status, "phase", json!("Pending"));
    }
}

/// HorizontalPodAutoscalers (`autoscaling/v2` defaults): `minReplicas` 1, and without metrics
/// the default target of 80% average CPU utilization.
pub(super) fn horizontal_pod_autoscaler(obj: &mut Value) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "minReplicas", json!(1));
    let no_metrics = spec
        .get("metrics")
        .is_none_or(|m| m.is_null() || m.as_array().is_some_and(Vec::is_empty));
    if no_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for text in ["", "a", "ab", "abc", "admin:secret\n"] {
            let enc = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&enc).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"admin"), "YWRtaW4=");
        assert!(base64_decode("!!").is_none());
    }
}
