//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! Since 1.32 kubectl's typed clients send protobuf bodies (`kubectl create configmap`,
//! `create deployment`, `auth can-i`, `auth whoami`, `drain`, ...) and a client does not fall
//! back to JSON when a server refuses one. The server therefore reads them: the envelope
//! (`k8s\0` + `runtime.Unknown` with the type's apiVersion and kind) and the object, decoded
//! field by field with the field numbers of [`schema.txt`](schema.txt), which `gen_schema.py`
//! extracts from the descriptors kubectl itself embeds. The result is the JSON a client would
//! have sent. Responses are always JSON (clients accept it).
//!
//! Go marshals non-pointer fields even when they are empty; decoded zero scalars are therefore
//! dropped, except for the pointer fields whose zero means something (`replicas: 0`,
//! `automountServiceAccountToken: false`, ...).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The magic prefix of a Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\x00";

/// What a field holds.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String,
    Bytes,
    Bool,
    Int,
    Sint,
    Double,
    Float,
    Time,
    MicroTime,
    Duration,
    Quantity,
    IntOrString,
    RawJson,
    Message(String),
    Map(Box<Kind>),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: Kind,
    repeated: bool,
}

type Schema = HashMap<String, HashMap<u64, Field>>;

static SCHEMA: OnceLock<Schema> = OnceLock::new();

fn parse_kind(text: &str) -> Kind {
    if let Some(inner) = text.strip_prefix("map:") {
        return Kind::Map(Box::new(parse_kind(inner)));
    }
    if let Some(m) = text.strip_prefix("msg:") {
        return Kind::Message(m.to_string());
    }
    match text {
        "string" => Kind::String,
        "bytes" => Kind::Bytes,
        "bool" => Kind::Bool,
        "sint" => Kind::Sint,
        "double" => Kind::Double,
        "float" => Kind::Float,
        "time" => Kind::Time,
        "microtime" => Kind::MicroTime,
        "duration" => Kind::Duration,
        "quantity" => Kind::Quantity,
        "intorstring" => Kind::IntOrString,
        "rawjson" => Kind::RawJson,
        _ => Kind::Int,
    }
}

fn schema() -> &'static Schema {
    SCHEMA.get_or_init(|| {
        let mut out: Schema = HashMap::new();
        let mut current: Option<String> = None;
        for line in include_str!("schema.txt").lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["M", name] => {
                    current = Some(name.to_string());
                    out.entry(name.to_string()).or_default();
                }
                ["F", name, number, kind, repeated] => {
                    if let (Some(msg), Ok(n)) = (&current, number.parse::<u64>()) {
                        out.entry(msg.clone()).or_default().insert(
                            n,
                            Field {
                                name: name.to_string(),
                                kind: parse_kind(kind),
                                repeated: *repeated == "1",
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        out
    })
}

/// Fields embedded in Go (`json:",inline"`): their members appear in the parent's JSON.
fn is_inline(message: &str, field: &str) -> bool {
    matches!(
        (message, field),
        (_, "localObjectReference")
            | ("api.core.v1.EphemeralContainer", "ephemeralContainerCommon")
            | ("api.core.v1.PersistentVolumeSpec", "persistentVolumeSource")
            | ("api.core.v1.Volume", "volumeSource")
            | ("api.core.v1.Probe", "handler")
            | ("api.networking.v1.IngressRule", "ingressRuleValue")
    )
}

/// Pointer fields whose zero value means something and must survive decoding.
fn keeps_zero(field: &str) -> bool {
    matches!(
        field,
        "replicas"
            | "parallelism"
            | "completions"
            | "backoffLimit"
            | "backoffLimitPerIndex"
            | "maxFailedIndexes"
            | "activeDeadlineSeconds"
            | "ttlSecondsAfterFinished"
            | "startingDeadlineSeconds"
            | "successfulJobsHistoryLimit"
            | "failedJobsHistoryLimit"
            | "revisionHistoryLimit"
            | "progressDeadlineSeconds"
            | "terminationGracePeriodSeconds"
            | "gracePeriodSeconds"
            | "runAsUser"
            | "runAsGroup"
            | "fsGroup"
            | "runAsNonRoot"
            | "privileged"
            | "allowPrivilegeEscalation"
            | "readOnlyRootFilesystem"
            | "automountServiceAccountToken"
            | "enableServiceLinks"
            | "shareProcessNamespace"
            | "hostUsers"
            | "setHostnameAsFQDN"
            | "immutable"
            | "optional"
            | "suspend"
            | "minReplicas"
            | "expirationSeconds"
            | "orphanDependents"
            | "allocateLoadBalancerNodePorts"
            | "manualSelector"
            | "allowed"
            | "denied"
            | "incomplete"
            | "ready"
            | "serving"
            | "terminating"
    )
}

/// The protobuf message of a kind, from its apiVersion and kind.
fn message_for(api_version: &str, kind: &str) -> String {
    if kind == "DeleteOptions" {
        return "apimachinery.pkg.apis.meta.v1.DeleteOptions".into();
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let package = match group {
        "" => "core",
        "rbac.authorization.k8s.io" => "rbac",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("api.{package}.{version}.{kind}")
}

/// A cursor over protobuf bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// One field as read from the wire.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut result: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or("truncated varint in protobuf body")?;
            self.pos += 1;
            result |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(result);
            }
        }
        Err("varint too long in protobuf body".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field in protobuf body")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), String> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Wire::Fixed64(u64::from_le_bytes(b.try_into().map_err(|_| "bad fixed64")?))
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Wire::Fixed32(u32::from_le_bytes(b.try_into().map_err(|_| "bad fixed32")?))
            }
            w => return Err(format!("unsupported protobuf wire type {w}")),
        };
        Ok((key >> 3, value))
    }
}

/// Decodes a whole protobuf request body into the JSON object it stands for.
///
/// ```
/// # // A ConfigMap {metadata: {name: "cfg"}, data: {a: "1"}} as kubectl 1.32 sends it.
/// let mut obj = Vec::new();
/// obj.extend_from_slice(&[0x0a, 0x05, 0x0a, 0x03]); obj.extend_from_slice(b"cfg");
/// obj.extend_from_slice(&[0x12, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'1']);
/// let mut unknown = vec![0x0a, 0x0f, 0x0a, 0x02, b'v', b'1', 0x12, 0x09];
/// unknown.extend_from_slice(b"ConfigMap");
/// unknown.push(0x12); unknown.push(obj.len() as u8); unknown.extend_from_slice(&obj);
/// let mut body = b"k8s\x00".to_vec(); body.extend_from_slice(&unknown);
/// let v = aiopslab_sim::api::protobuf::decode(&body).unwrap();
/// assert_eq!(v, serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "cfg"}, "data": {"a": "1"}}));
/// ```
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("the protobuf body does not start with the Kubernetes magic number")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut r = Reader::new(rest);
    while !r.done() {
        match r.field()? {
            (1, Wire::Bytes(type_meta)) => {
                let mut t = Reader::new(type_meta);
                while !t.done() {
                    match t.field()? {
                        (1, Wire::Bytes(v)) => api_version = String::from_utf8_lossy(v).into(),
                        (2, Wire::Bytes(v)) => kind = String::from_utf8_lossy(v).into(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(v)) => raw = v,
            _ => {}
        }
    }
    if kind.is_empty() {
        return Err("the protobuf body names no kind".into());
    }
    let message = message_for(&api_version, &kind);
    if !schema().contains_key(&message) {
        return Err(format!(
            "the virtual cluster cannot decode {kind} ({api_version}) from protobuf; send JSON"
        ));
    }
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!(kind));
    if let Value::Object(fields) = decode_message(&message, raw, 0)? {
        out.extend(fields);
    }
    Ok(Value::Object(out))
}

fn decode_message(message: &str, buf: &[u8], depth: usize) -> Result<Value, String> {
    if depth > 64 {
        return Err("protobuf body nested too deeply".into());
    }
    let fields = schema()
        .get(message)
        .ok_or_else(|| format!("unknown protobuf message {message}"))?;
    let mut out = Map::new();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (number, wire) = r.field()?;
        let Some(field) = fields.get(&number) else {
            continue;
        };
        if let Kind::Map(value_kind) = &field.kind {
            let Wire::Bytes(entry) = wire else { continue };
            let (k, v) = decode_entry(entry, value_kind, depth)?;
            let map = out
                .entry(field.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = map.as_object_mut() {
                m.insert(k, v);
            }
            continue;
        }
        // Packed repeated scalars.
        if field.repeated
            && matches!(field.kind, Kind::Int | Kind::Sint | Kind::Bool)
            && let Wire::Bytes(packed) = wire
        {
            let mut p = Reader::new(packed);
            while !p.done() {
                let v = scalar(&field.kind, Wire::Varint(p.varint()?))?;
                push(&mut out, &field.name, v);
            }
            continue;
        }
        let value = decode_value(&field.kind, wire, depth)?;
        if field.repeated {
            push(&mut out, &field.name, value);
        } else if let (Kind::Message(_), true, Value::Object(inner)) =
            (&field.kind, is_inline(message, &field.name), &value)
        {
            for (k, v) in inner {
                out.insert(k.clone(), v.clone());
            }
        } else if (!is_empty_scalar(&value) || keeps_zero(&field.name)) && !value.is_null() {
            out.insert(field.name.clone(), value);
        }
    }
    Ok(Value::Object(out))
}

fn push(out: &mut Map<String, Value>, name: &str, v: Value) {
    let list = out
        .entry(name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(a) = list.as_array_mut() {
        a.push(v);
    }
}

fn is_empty_scalar(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn decode_entry(buf: &[u8], value_kind: &Kind, depth: usize) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = match value_kind {
        Kind::Message(_) => json!({}),
        Kind::Quantity | Kind::String | Kind::Bytes => json!(""),
        _ => Value::Null,
    };
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.field()? {
            (1, Wire::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (2, w) => value = decode_value(value_kind, w, depth)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn decode_value(kind: &Kind, wire: Wire<'_>, depth: usize) -> Result<Value, String> {
    match (kind, wire) {
        (Kind::Message(m), Wire::Bytes(b)) => decode_message(m, b, depth + 1),
        (Kind::String, Wire::Bytes(b)) => Ok(json!(String::from_utf8_lossy(b))),
        (Kind::Bytes, Wire::Bytes(b)) => Ok(json!(STANDARD.encode(b))),
        (Kind::RawJson, Wire::Bytes(b)) => {
            // FieldsV1 / RawExtension: field 1 holds raw JSON.
            let mut r = Reader::new(b);
            let mut out = Value::Null;
            while !r.done() {
                if let (1, Wire::Bytes(raw)) = r.field()? {
                    out = serde_json::from_slice(raw).unwrap_or(Value::Null);
                }
            }
            Ok(out)
        }
        (Kind::Quantity, Wire::Bytes(b)) => {
            let mut r = Reader::new(b);
            let mut out = String::new();
            while !r.done() {
                if let (1, Wire::Bytes(s)) = r.field()? {
                    out = String::from_utf8_lossy(s).into_owned();
                }
            }
            Ok(json!(out))
        }
        (Kind::IntOrString, Wire::Bytes(b)) => {
            let mut r = Reader::new(b);
            let (mut ty, mut int, mut text) = (0u64, 0i64, String::new());
            while !r.done() {
                match r.field()? {
                    (1, Wire::Varint(v)) => ty = v,
                    (2, Wire::Varint(v)) => int = v as i64 as i32 as i64,
                    (3, Wire::Bytes(s)) => text = String::from_utf8_lossy(s).into_owned(),
                    _ => {}
                }
            }
            Ok(if ty == 1 { json!(text) } else { json!(int) })
        }
        (Kind::Time | Kind::MicroTime, Wire::Bytes(b)) => {
            let mut r = Reader::new(b);
            let (mut secs, mut nanos) = (0i64, 0i64);
            while !r.done() {
                match r.field()? {
                    (1, Wire::Varint(v)) => secs = v as i64,
                    (2, Wire::Varint(v)) => nanos = v as i64,
                    _ => {}
                }
            }
            if secs == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            let t = jiff::Timestamp::new(secs, nanos as i32).map_err(|e| e.to_string())?;
            Ok(json!(if matches!(kind, Kind::MicroTime) {
                t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
            } else {
                crate::store::format_time(t)
            }))
        }
        (Kind::Duration, Wire::Bytes(b)) => {
            let mut r = Reader::new(b);
            let mut nanos = 0i64;
            while !r.done() {
                if let (1, Wire::Varint(v)) = r.field()? {
                    nanos = v as i64;
                }
            }
            Ok(json!(go_duration(nanos)))
        }
        (Kind::Double, Wire::Fixed64(v)) => Ok(json!(f64::from_bits(v))),
        (Kind::Float, Wire::Fixed32(v)) => Ok(json!(f64::from(f32::from_bits(v)))),
        (k, w @ Wire::Varint(_)) => scalar(k, w),
        (k, _) => Err(format!("protobuf field does not match its schema ({k:?})")),
    }
}

fn scalar(kind: &Kind, wire: Wire<'_>) -> Result<Value, String> {
    let Wire::Varint(v) = wire else {
        return Err("expected a varint".into());
    };
    Ok(match kind {
        Kind::Bool => json!(v != 0),
        Kind::Sint => json!(((v >> 1) as i64) ^ -((v & 1) as i64)),
        _ => json!(v as i64),
    })
}

/// Formats nanoseconds as Go's `time.Duration.String` does (`1h2m3s`, `1.5s`, `0s`).
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let mut n = nanos.unsigned_abs();
    let mut out = String::new();
    if n < 1_000_000_000 {
        let (unit, div) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&trim_fraction(n, div));
        out.push_str(unit);
    } else {
        let h = n / 3_600_000_000_000;
        n %= 3_600_000_000_000;
        let m = n / 60_000_000_000;
        n %= 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&trim_fraction(n, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn trim_fraction(n: u64, div: u64) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(n: u64, data: &[u8], out: &mut Vec<u8>) {
        varint(n << 3 | 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }

    fn int_field(n: u64, v: u64, out: &mut Vec<u8>) {
        varint(n << 3, out);
        varint(v, out);
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut tm = Vec::new();
        bytes_field(1, api_version.as_bytes(), &mut tm);
        bytes_field(2, kind.as_bytes(), &mut tm);
        let mut u = Vec::new();
        bytes_field(1, &tm, &mut u);
        bytes_field(2, raw, &mut u);
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u);
        body
    }

    #[test]
    fn deployment_with_replicas_and_container() {
        // metadata {name: web, namespace: "" (empty, as Go sends it)}
        let mut meta = Vec::new();
        bytes_field(1, b"web", &mut meta);
        bytes_field(3, b"", &mut meta);
        // container {name: web, image: nginx}
        let mut c = Vec::new();
        bytes_field(1, b"web", &mut c);
        bytes_field(2, b"nginx", &mut c);
        let mut pod_spec = Vec::new();
        bytes_field(2, &c, &mut pod_spec);
        let mut tmpl = Vec::new();
        bytes_field(2, &pod_spec, &mut tmpl);
        let mut spec = Vec::new();
        int_field(1, 0, &mut spec); // replicas: 0 (a pointer: kept)
        bytes_field(3, &tmpl, &mut spec);
        let mut d = Vec::new();
        bytes_field(1, &meta, &mut d);
        bytes_field(2, &spec, &mut d);
        let v = decode(&envelope("apps/v1", "Deployment", &d)).unwrap();
        assert_eq!(v["metadata"], json!({"name": "web"}));
        assert_eq!(v["spec"]["replicas"], 0);
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "nginx"}])
        );
    }

    #[test]
    fn access_review_and_inline_fields() {
        let mut ra = Vec::new();
        bytes_field(1, b"default", &mut ra);
        bytes_field(2, b"list", &mut ra);
        bytes_field(5, b"pods", &mut ra);
        let mut spec = Vec::new();
        bytes_field(1, &ra, &mut spec);
        let mut review = Vec::new();
        bytes_field(2, &spec, &mut review);
        let v = decode(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &review,
        ))
        .unwrap();
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "default", "verb": "list", "resource": "pods"})
        );
        // ConfigMapKeySelector inlines LocalObjectReference: {name, key}.
        let mut lor = Vec::new();
        bytes_field(1, b"cfg", &mut lor);
        let mut sel = Vec::new();
        bytes_field(1, &lor, &mut sel);
        bytes_field(2, b"k", &mut sel);
        let got = decode_message("api.core.v1.ConfigMapKeySelector", &sel, 0).unwrap();
        assert_eq!(got, json!({"name": "cfg", "key": "k"}));
    }

    #[test]
    fn refuses_garbage_cleanly() {
        assert!(decode(b"{}").is_err());
        assert!(decode(b"k8s\x00\xff").is_err());
        assert!(decode(&envelope("v1", "Nope", b"")).is_err());
        let truncated = envelope("v1", "ConfigMap", &[0x0a, 0x10, 0x0a]);
        assert!(decode(&truncated).is_err());
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(2_000_000), "2ms");
    }
}
