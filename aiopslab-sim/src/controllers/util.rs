//! Small helpers shared by the controllers and admission: JSON access, owner references,
//! conditions, quantities and the resource keys the control loops use.

use crate::resources::ResourceKey;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

/// The string at a JSON pointer, if present.
pub(crate) fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// The string at a JSON pointer, or `""`.
pub(crate) fn sd<'a>(v: &'a Value, ptr: &str) -> &'a str {
    s(v, ptr).unwrap_or_default()
}

/// The integer at a JSON pointer, if present.
pub(crate) fn int(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64)
}

/// The array at a JSON pointer, or an empty slice.
pub(crate) fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `metadata.name`.
pub(crate) fn name(v: &Value) -> &str {
    sd(v, "/metadata/name")
}

/// `metadata.namespace`.
pub(crate) fn namespace(v: &Value) -> &str {
    sd(v, "/metadata/namespace")
}

/// `metadata.uid`.
pub(crate) fn uid(v: &Value) -> &str {
    sd(v, "/metadata/uid")
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// A mutable object at `key` inside `map`, created (or replaced when not an object) as needed.
pub(crate) fn obj_mut<'a>(map: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !map.is_object() {
        *map = json!({});
    }
    let Value::Object(m) = map else {
        unreachable!("just made an object")
    };
    let entry = m.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    match entry {
        Value::Object(o) => o,
        _ => unreachable!("just made an object"),
    }
}

/// Sets `map[key] = value` when the key is absent or null.
pub(crate) fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// The controller owner reference of an object (`controller: true`), if any.
pub(crate) fn controller_ref(v: &Value) -> Option<&Value> {
    arr(v, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// Whether `v` is controlled by the object with this uid.
pub(crate) fn controlled_by(v: &Value, owner_uid: &str) -> bool {
    controller_ref(v).is_some_and(|r| sd(r, "/uid") == owner_uid)
}

/// An owner reference to `owner` as a controller would write it.
pub(crate) fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Parses a Kubernetes timestamp.
pub(crate) fn parse_time(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// Formats a timestamp as Kubernetes does (whole seconds).
pub(crate) fn fmt_time(t: Timestamp) -> String {
    crate::store::format_time(t)
}

/// Formats a timestamp with nanoseconds (log lines, `RFC3339Nano`).
pub(crate) fn fmt_time_nanos(t: Timestamp) -> String {
    let secs = crate::store::format_time(t);
    let nanos = t.subsec_nanosecond();
    match secs.strip_suffix('Z') {
        Some(base) => format!("{base}.{nanos:09}Z"),
        None => secs,
    }
}

/// A duration given in (possibly fractional) seconds.
pub(crate) fn secs_f(s: f64) -> SignedDuration {
    SignedDuration::from_nanos((s * 1e9) as i64)
}

/// Sets a status condition: replaces the one of the same type (keeping `lastTransitionTime`
/// when the status does not change) or appends it. Returns whether anything changed.
pub(crate) fn set_condition(conditions: &mut Vec<Value>, mut cond: Value, now: &str) -> bool {
    let ty = sd(&cond, "/type").to_string();
    let status = sd(&cond, "/status").to_string();
    if let Some(existing) = conditions.iter_mut().find(|c| sd(c, "/type") == ty) {
        let same_status = sd(existing, "/status") == status;
        let same = same_status
            && existing.get("reason") == cond.get("reason")
            && existing.get("message") == cond.get("message");
        if same {
            return false;
        }
        if let Some(m) = cond.as_object_mut() {
            let transition = if same_status {
                existing
                    .get("lastTransitionTime")
                    .cloned()
                    .unwrap_or(json!(now))
            } else {
                json!(now)
            };
            m.insert("lastTransitionTime".into(), transition);
            if m.contains_key("lastUpdateTime") {
                m.insert("lastUpdateTime".into(), json!(now));
            }
        }
        *existing = cond;
        true
    } else {
        if let Some(m) = cond.as_object_mut() {
            m.insert("lastTransitionTime".into(), json!(now));
            if m.contains_key("lastUpdateTime") {
                m.insert("lastUpdateTime".into(), json!(now));
            }
        }
        conditions.push(cond);
        true
    }
}

/// Parses a Kubernetes quantity (`100m`, `1.5`, `128Mi`, `1G`, `1e3`) into base units.
///
/// Returns `None` for text that is not a quantity.
pub(crate) fn parse_quantity(q: &Value) -> Option<f64> {
    if let Some(n) = q.as_f64() {
        return Some(n);
    }
    let text = q.as_str()?.trim();
    if text.is_empty() {
        return None;
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let base: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        s if s.starts_with('e') || s.starts_with('E') => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(base * factor)
}

/// CPU in millicores from a quantity (rounded up, as the scheduler does).
pub(crate) fn cpu_millis(q: &Value) -> i64 {
    parse_quantity(q)
        .map(|c| (c * 1000.0).ceil() as i64)
        .unwrap_or(0)
}

/// Memory (or any byte quantity) in bytes.
pub(crate) fn bytes(q: &Value) -> i64 {
    parse_quantity(q).map(|b| b.ceil() as i64).unwrap_or(0)
}

/// Resolves an int-or-percent (`maxSurge: 25%`, `maxUnavailable: 1`) against `total`.
pub(crate) fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool, default: i64) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(s)) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) => {
                let exact = p * total;
                if round_up {
                    (exact + 99) / 100
                } else {
                    exact / 100
                }
            }
            None => s.parse().unwrap_or(default),
        },
        _ => default,
    }
}

/// A deterministic 64-bit FNV-1a hash.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A deterministic 32-bit FNV-1a hash.
pub(crate) fn fnv32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A deterministic 64-hex-digit digest of `text` (for image ids and config hashes).
pub(crate) fn hex_digest(text: &str) -> String {
    (0..4u8)
        .map(|i| {
            let mut input = vec![i];
            input.extend_from_slice(text.as_bytes());
            format!("{:016x}", fnv64(&input))
        })
        .collect()
}

/// JSON with object keys sorted, so that equal objects serialize to equal text.
pub(crate) fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&m[k.as_str()], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// A copy without `null` members (the API server drops them when it decodes into its types,
/// so `creationTimestamp: null` from a typed client equals no `creationTimestamp`).
pub(crate) fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), without_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Kubernetes' `rand.SafeEncodeString`: maps each byte onto the no-vowel alphabet.
pub(crate) fn safe_encode(text: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    text.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The hash controllers use to name ReplicaSets and revisions (`pod-template-hash`).
pub(crate) fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut text = canonical_json(&without_nulls(template));
    if let Some(c) = collision_count.filter(|c| *c > 0) {
        text.push_str(&c.to_string());
    }
    safe_encode(&fnv32(text.as_bytes()).to_string())
}

/// Go's `%#v` rendering of a string map, as validation messages print it.
pub(crate) fn go_string_map(map: Option<&Value>) -> String {
    match map.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{:?}:{:?}", k, v.as_str().unwrap_or_default()))
                .collect();
            format!("map[string]string{{{}}}", inner.join(", "))
        }
    }
}

/// The collection keys the controllers use.
pub(crate) mod keys {
    use super::ResourceKey;

    /// `pods`.
    pub fn pods() -> ResourceKey {
        ResourceKey::new("", "pods")
    }
    /// `nodes`.
    pub fn nodes() -> ResourceKey {
        ResourceKey::new("", "nodes")
    }
    /// `namespaces`.
    pub fn namespaces() -> ResourceKey {
        ResourceKey::new("", "namespaces")
    }
    /// `services`.
    pub fn services() -> ResourceKey {
        ResourceKey::new("", "services")
    }
    /// `endpoints`.
    pub fn endpoints() -> ResourceKey {
        ResourceKey::new("", "endpoints")
    }
    /// `endpointslices.discovery.k8s.io`.
    pub fn endpointslices() -> ResourceKey {
        ResourceKey::new("discovery.k8s.io", "endpointslices")
    }
    /// `events`.
    pub fn events() -> ResourceKey {
        ResourceKey::new("", "events")
    }
    /// `configmaps`.
    pub fn configmaps() -> ResourceKey {
        ResourceKey::new("", "configmaps")
    }
    /// `secrets`.
    pub fn secrets() -> ResourceKey {
        ResourceKey::new("", "secrets")
    }
    /// `serviceaccounts`.
    pub fn serviceaccounts() -> ResourceKey {
        ResourceKey::new("", "serviceaccounts")
    }
    /// `persistentvolumeclaims`.
    pub fn pvcs() -> ResourceKey {
        ResourceKey::new("", "persistentvolumeclaims")
    }
    /// `persistentvolumes`.
    pub fn pvs() -> ResourceKey {
        ResourceKey::new("", "persistentvolumes")
    }
    /// `storageclasses.storage.k8s.io`.
    pub fn storageclasses() -> ResourceKey {
        ResourceKey::new("storage.k8s.io", "storageclasses")
    }
    /// `deployments.apps`.
    pub fn deployments() -> ResourceKey {
        ResourceKey::new("apps", "deployments")
    }
    /// `replicasets.apps`.
    pub fn replicasets() -> ResourceKey {
        ResourceKey::new("apps", "replicasets")
    }
    /// `statefulsets.apps`.
    pub fn statefulsets() -> ResourceKey {
        ResourceKey::new("apps", "statefulsets")
    }
    /// `daemonsets.apps`.
    pub fn daemonsets() -> ResourceKey {
        ResourceKey::new("apps", "daemonsets")
    }
    /// `controllerrevisions.apps`.
    pub fn controllerrevisions() -> ResourceKey {
        ResourceKey::new("apps", "controllerrevisions")
    }
    /// `jobs.batch`.
    pub fn jobs() -> ResourceKey {
        ResourceKey::new("batch", "jobs")
    }
    /// `cronjobs.batch`.
    pub fn cronjobs() -> ResourceKey {
        ResourceKey::new("batch", "cronjobs")
    }
    /// `leases.coordination.k8s.io`.
    pub fn leases() -> ResourceKey {
        ResourceKey::new("coordination.k8s.io", "leases")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis(&json!("100m")), 100);
        assert_eq!(cpu_millis(&json!("1.5")), 1500);
        assert_eq!(cpu_millis(&json!(2)), 2000);
        assert_eq!(bytes(&json!("128Mi")), 128 * 1024 * 1024);
        assert_eq!(bytes(&json!("1G")), 1_000_000_000);
        assert_eq!(bytes(&json!("1e3")), 1000);
        assert_eq!(parse_quantity(&json!("12x")), None);
    }

    #[test]
    fn percents_round_like_kubernetes() {
        assert_eq!(int_or_percent(Some(&json!("25%")), 3, true, 0), 1);
        assert_eq!(int_or_percent(Some(&json!("25%")), 3, false, 0), 0);
        assert_eq!(int_or_percent(Some(&json!(2)), 3, false, 0), 2);
        assert_eq!(int_or_percent(None, 3, false, 7), 7);
    }

    #[test]
    fn hashes_are_stable_and_key_order_free() {
        let a = json!({"b": 1, "a": {"y": 2, "x": [1, 2]}});
        let b = json!({"a": {"x": [1, 2], "y": 2}, "b": 1});
        assert_eq!(template_hash(&a, None), template_hash(&b, None));
        assert_ne!(template_hash(&a, None), template_hash(&a, Some(1)));
        assert!(
            template_hash(&a, None)
                .chars()
                .all(|c| "456789bcdf".contains(c))
        );
    }

    #[test]
    fn go_map_rendering() {
        assert_eq!(
            go_string_map(Some(&json!({"b": "2", "a": "1"}))),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
    }
}
