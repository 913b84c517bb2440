//! What a container sees: its environment (`env`, `envFrom`, service links) and the files of
//! its volumes (ConfigMaps, Secrets, the service account token, downward API).

use crate::admission::base64_decode as b64;
use crate::controllers::util::{arr, bytes, cpu_millis, keys, s, sd};
use crate::store::Store;
use serde_json::Value;
use std::collections::BTreeMap;

/// The PATH every image gets unless it sets its own.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a container cannot be configured (`CreateContainerConfigError`).
pub(crate) type ConfigError = String;

fn field_value(pod: &Value, path: &str) -> Option<String> {
    let v = match path {
        "metadata.name" => sd(pod, "/metadata/name").to_string(),
        "metadata.namespace" => sd(pod, "/metadata/namespace").to_string(),
        "metadata.uid" => sd(pod, "/metadata/uid").to_string(),
        "spec.nodeName" => sd(pod, "/spec/nodeName").to_string(),
        "spec.serviceAccountName" => sd(pod, "/spec/serviceAccountName").to_string(),
        "status.podIP" => sd(pod, "/status/podIP").to_string(),
        "status.hostIP" => sd(pod, "/status/hostIP").to_string(),
        other => {
            let (map, key) = if let Some(rest) = other.strip_prefix("metadata.labels['") {
                ("labels", rest.trim_end_matches("']"))
            } else if let Some(rest) = other.strip_prefix("metadata.annotations['") {
                ("annotations", rest.trim_end_matches("']"))
            } else {
                return None;
            };
            pod.pointer(&format!("/metadata/{map}"))
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        }
    };
    Some(v)
}

fn resource_value(container: &Value, resource: &str) -> String {
    let (section, name) = resource.split_once('.').unwrap_or(("limits", resource));
    let q = container.pointer(&format!("/resources/{section}/{name}"));
    match (name, q) {
        ("cpu", Some(q)) => (cpu_millis(q).max(1) as f64 / 1000.0).ceil().to_string(),
        ("cpu", None) => "8".to_string(),
        (_, Some(q)) => bytes(q).to_string(),
        (_, None) => "33662017536".to_string(),
    }
}

/// Expands `$(VAR)` references to earlier variables, as the kubelet does.
fn expand_refs(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let name = &after[..j];
                match env.iter().rev().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push_str("$(");
                        out.push_str(name);
                        out.push(')');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn service_env(store: &Store, ns: &str, out: &mut Vec<(String, String)>, with_ns_services: bool) {
    let mut services: Vec<std::sync::Arc<Value>> = Vec::new();
    if let Ok(k) = store.get_arc(&keys::services(), "default", "kubernetes") {
        services.push(k);
    }
    if with_ns_services {
        let (list, _) = store.list(&keys::services(), Some(ns));
        services.extend(
            list.into_iter()
                .filter(|s| !(ns == "default" && sd(s, "/metadata/name") == "kubernetes")),
        );
    }
    for svc in services {
        let ip = sd(&svc, "/spec/clusterIP");
        if ip.is_empty() || ip == "None" {
            continue;
        }
        let prefix = sd(&svc, "/metadata/name")
            .to_ascii_uppercase()
            .replace('-', "_");
        let ports = arr(&svc, "/spec/ports");
        let Some(first) = ports.first() else {
            continue;
        };
        let port0 = first.get("port").and_then(Value::as_i64).unwrap_or(0);
        let proto0 = s(first, "/protocol").unwrap_or("TCP").to_ascii_lowercase();
        out.push((format!("{prefix}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{prefix}_SERVICE_PORT"), port0.to_string()));
        for p in ports {
            if let Some(n) = s(p, "/name").filter(|n| !n.is_empty()) {
                let pn = n.to_ascii_uppercase().replace('-', "_");
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                out.push((format!("{prefix}_SERVICE_PORT_{pn}"), port.to_string()));
            }
        }
        out.push((format!("{prefix}_PORT"), format!("{proto0}://{ip}:{port0}")));
        for p in ports {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = s(p, "/protocol").unwrap_or("TCP");
            let base = format!("{prefix}_PORT_{port}_{proto}");
            out.push((
                base.clone(),
                format!("{}://{ip}:{port}", proto.to_ascii_lowercase()),
            ));
            out.push((format!("{base}_PROTO"), proto.to_ascii_lowercase()));
            out.push((format!("{base}_PORT"), port.to_string()));
            out.push((format!("{base}_ADDR"), ip.to_string()));
        }
    }
}

fn lookup_key(
    store: &Store,
    ns: &str,
    secret: bool,
    source: &Value,
) -> Result<Option<String>, ConfigError> {
    let name = sd(source, "/name");
    let key = sd(source, "/key");
    let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
    let kind = if secret { "secret" } else { "configmap" };
    let coll = if secret {
        keys::secrets()
    } else {
        keys::configmaps()
    };
    match store.get_arc(&coll, ns, name) {
        Err(_) if optional => Ok(None),
        Err(_) => Err(format!("{kind} {name:?} not found")),
        Ok(obj) => {
            let value = if secret {
                s(
                    &obj,
                    &format!("/data/{}", key.replace('~', "~0").replace('/', "~1")),
                )
                .and_then(b64)
                .map(|b| String::from_utf8_lossy(&b).to_string())
            } else {
                s(
                    &obj,
                    &format!("/data/{}", key.replace('~', "~0").replace('/', "~1")),
                )
                .map(str::to_string)
            };
            match value {
                Some(v) => Ok(Some(v)),
                None if optional => Ok(None),
                None => Err(format!("couldn't find key {key} in {kind} {ns}/{name}")),
            }
        }
    }
}

/// The container's environment in the order `env` prints it.
pub(crate) fn container_env(
    store: &Store,
    pod: &Value,
    container: &Value,
    image_env: &[(String, String)],
) -> Result<Vec<(String, String)>, ConfigError> {
    let ns = sd(pod, "/metadata/namespace");
    let hostname = pod_hostname(pod);
    let mut env: Vec<(String, String)> =
        vec![("PATH".into(), PATH.into()), ("HOSTNAME".into(), hostname)];
    for from in arr(container, "/envFrom") {
        let prefix = sd(from, "/prefix");
        let (secret, src) = match (from.get("configMapRef"), from.get("secretRef")) {
            (Some(c), _) => (false, c),
            (_, Some(s)) => (true, s),
            _ => continue,
        };
        let name = sd(src, "/name");
        let optional = src.get("optional").and_then(Value::as_bool) == Some(true);
        let coll = if secret {
            keys::secrets()
        } else {
            keys::configmaps()
        };
        match store.get_arc(&coll, ns, name) {
            Ok(obj) => {
                if let Some(data) = obj.get("data").and_then(Value::as_object) {
                    for (k, v) in data {
                        let v = v.as_str().unwrap_or_default();
                        let value = if secret {
                            b64(v)
                                .map(|b| String::from_utf8_lossy(&b).to_string())
                                .unwrap_or_default()
                        } else {
                            v.to_string()
                        };
                        env.push((format!("{prefix}{k}"), value));
                    }
                }
            }
            Err(_) if optional => {}
            Err(_) => {
                let kind = if secret { "secret" } else { "configmap" };
                return Err(format!("{kind} {name:?} not found"));
            }
        }
    }
    for e in arr(container, "/env") {
        let name = sd(e, "/name").to_string();
        let value = if let Some(v) = e.get("value").and_then(Value::as_str) {
            Some(expand_refs(v, &env))
        } else if let Some(src) = e.pointer("/valueFrom/configMapKeyRef") {
            lookup_key(store, ns, false, src)?
        } else if let Some(src) = e.pointer("/valueFrom/secretKeyRef") {
            lookup_key(store, ns, true, src)?
        } else if let Some(path) = s(e, "/valueFrom/fieldRef/fieldPath") {
            field_value(pod, path)
        } else if let Some(res) = s(e, "/valueFrom/resourceFieldRef/resource") {
            Some(resource_value(container, res))
        } else {
            Some(String::new())
        };
        if let Some(v) = value {
            env.push((name, v));
        }
    }
    let links = pod
        .pointer("/spec/enableServiceLinks")
        .and_then(Value::as_bool)
        != Some(false);
    service_env(store, ns, &mut env, links);
    env.extend(image_env.iter().cloned());
    env.push(("HOME".into(), "/root".into()));
    Ok(env)
}

/// The pod's hostname (`spec.hostname` or the pod name, at most 63 characters).
pub(crate) fn pod_hostname(pod: &Value) -> String {
    let h = s(pod, "/spec/hostname")
        .filter(|h| !h.is_empty())
        .unwrap_or(sd(pod, "/metadata/name"));
    h.chars().take(63).collect()
}

/// A volume that cannot be mounted yet (`FailedMount`).
pub(crate) struct MountError {
    /// The volume's name.
    pub volume: String,
    /// Why.
    pub reason: String,
}

fn key_files(
    data: &serde_json::Map<String, Value>,
    items: &[Value],
    decode: bool,
) -> Vec<(String, String)> {
    let value = |v: &Value| {
        let t = v.as_str().unwrap_or_default();
        if decode {
            b64(t)
                .map(|b| String::from_utf8_lossy(&b).to_string())
                .unwrap_or_default()
        } else {
            t.to_string()
        }
    };
    if items.is_empty() {
        data.iter().map(|(k, v)| (k.clone(), value(v))).collect()
    } else {
        items
            .iter()
            .filter_map(|i| {
                let key = sd(i, "/key");
                data.get(key)
                    .map(|v| (sd(i, "/path").to_string(), value(v)))
            })
            .collect()
    }
}

/// The files of one volume, relative to its mount point.
fn volume_files(
    store: &Store,
    pod: &Value,
    vol: &Value,
) -> Result<Vec<(String, String)>, MountError> {
    let ns = sd(pod, "/metadata/namespace");
    let vname = sd(vol, "/name").to_string();
    let fail = |reason: String| MountError {
        volume: vname.clone(),
        reason,
    };
    if let Some(cm) = vol.get("configMap") {
        let name = sd(cm, "/name");
        return match store.get_arc(&keys::configmaps(), ns, name) {
            Ok(obj) => {
                let empty = serde_json::Map::new();
                let data = obj.get("data").and_then(Value::as_object).unwrap_or(&empty);
                Ok(key_files(data, arr(cm, "/items"), false))
            }
            Err(_) if cm.get("optional").and_then(Value::as_bool) == Some(true) => Ok(vec![]),
            Err(_) => Err(fail(format!("configmap {name:?} not found"))),
        };
    }
    if let Some(sec) = vol.get("secret") {
        let name = sd(sec, "/secretName");
        return match store.get_arc(&keys::secrets(), ns, name) {
            Ok(obj) => {
                let empty = serde_json::Map::new();
                let data = obj.get("data").and_then(Value::as_object).unwrap_or(&empty);
                Ok(key_files(data, arr(sec, "/items"), true))
            }
            Err(_) if sec.get("optional").and_then(Value::as_bool) == Some(true) => Ok(vec![]),
            Err(_) => Err(fail(format!("secret {name:?} not found"))),
        };
    }
    if let Some(proj) = vol.get("projected") {
        let mut files = Vec::new();
        for src in arr(proj, "/sources") {
            if let Some(tok) = src.get("serviceAccountToken") {
                let path = s(tok, "/path").unwrap_or("token");
                files.push((path.to_string(), fake_token(pod)));
            } else if let Some(cm) = src.get("configMap") {
                let name = sd(cm, "/name");
                if let Ok(obj) = store.get_arc(&keys::configmaps(), ns, name) {
                    let empty = serde_json::Map::new();
                    let data = obj.get("data").and_then(Value::as_object).unwrap_or(&empty);
                    files.extend(key_files(data, arr(cm, "/items"), false));
                }
            } else if let Some(sec) = src.get("secret") {
                let name = sd(sec, "/name");
                if let Ok(obj) = store.get_arc(&keys::secrets(), ns, name) {
                    let empty = serde_json::Map::new();
                    let data = obj.get("data").and_then(Value::as_object).unwrap_or(&empty);
                    files.extend(key_files(data, arr(sec, "/items"), true));
                }
            } else if let Some(dapi) = src.get("downwardAPI") {
                files.extend(downward_files(pod, arr(dapi, "/items")));
            }
        }
        return Ok(files);
    }
    if let Some(dapi) = vol.get("downwardAPI") {
        return Ok(downward_files(pod, arr(dapi, "/items")));
    }
    if let Some(pvc) = vol.get("persistentVolumeClaim") {
        let claim = sd(pvc, "/claimName");
        return match store.get_arc(&keys::pvcs(), ns, claim) {
            Ok(c) if sd(&c, "/status/phase") == "Bound" => Ok(vec![]),
            Ok(_) => Err(fail(format!(
                "persistentvolumeclaim {claim:?} is not bound"
            ))),
            Err(_) => Err(fail(format!("persistentvolumeclaim {claim:?} not found"))),
        };
    }
    Ok(vec![])
}

fn downward_files(pod: &Value, items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .filter_map(|i| {
            let path = sd(i, "/path").to_string();
            let field = s(i, "/fieldRef/fieldPath")?;
            let text = match field {
                "metadata.labels" | "metadata.annotations" => {
                    let map = field.trim_start_matches("metadata.");
                    let mut lines: Vec<String> = pod
                        .pointer(&format!("/metadata/{map}"))
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or_default()))
                                .collect()
                        })
                        .unwrap_or_default();
                    lines.sort();
                    lines.join("\n")
                }
                other => field_value(pod, other).unwrap_or_default(),
            };
            Some((path, text))
        })
        .collect()
}

fn fake_token(pod: &Value) -> String {
    use crate::admission::base64_encode as enc;
    let header = enc(br#"{"alg":"RS256","kid":"kind-sa-key"}"#);
    let claims = format!(
        r#"{{"aud":["https://kubernetes.default.svc.cluster.local"],"iss":"https://kubernetes.default.svc.cluster.local","kubernetes.io":{{"namespace":"{}","pod":{{"name":"{}","uid":"{}"}},"serviceaccount":{{"name":"{}"}}}},"sub":"system:serviceaccount:{}:{}"}}"#,
        sd(pod, "/metadata/namespace"),
        sd(pod, "/metadata/name"),
        sd(pod, "/metadata/uid"),
        sd(pod, "/spec/serviceAccountName"),
        sd(pod, "/metadata/namespace"),
        sd(pod, "/spec/serviceAccountName"),
    );
    let payload = enc(claims.as_bytes());
    let sig = crate::controllers::util::hex_digest(sd(pod, "/metadata/uid"));
    format!(
        "{}.{}.{}",
        header.trim_end_matches('='),
        payload.trim_end_matches('='),
        sig
    )
}

/// Checks that every volume of the pod can be mounted.
pub(crate) fn check_volumes(store: &Store, pod: &Value) -> Result<(), MountError> {
    for vol in arr(pod, "/spec/volumes") {
        volume_files(store, pod, vol)?;
    }
    Ok(())
}

/// The files a container sees through its volume mounts (absolute path → content), plus the
/// kubelet-managed `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`.
pub(crate) fn container_files(
    store: &Store,
    pod: &Value,
    container: &Value,
) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let ns = sd(pod, "/metadata/namespace");
    let hostname = pod_hostname(pod);
    files.insert("/etc/hostname".to_string(), format!("{hostname}\n"));
    let ip = sd(pod, "/status/podIP");
    let mut hosts = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    if !ip.is_empty() {
        let sub = sd(pod, "/spec/subdomain");
        if sub.is_empty() {
            hosts.push_str(&format!("{ip}\t{hostname}\n"));
        } else {
            hosts.push_str(&format!(
                "{ip}\t{hostname}.{sub}.{ns}.svc.cluster.local\t{hostname}\n"
            ));
        }
    }
    files.insert("/etc/hosts".to_string(), hosts);
    files.insert(
        "/etc/resolv.conf".to_string(),
        format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
        ),
    );
    let volumes = arr(pod, "/spec/volumes");
    for m in arr(container, "/volumeMounts") {
        let mount = sd(m, "/mountPath").trim_end_matches('/').to_string();
        let vname = sd(m, "/name");
        let Some(vol) = volumes.iter().find(|v| sd(v, "/name") == vname) else {
            continue;
        };
        let Ok(entries) = volume_files(store, pod, vol) else {
            continue;
        };
        match s(m, "/subPath").filter(|p| !p.is_empty()) {
            Some(sub) => {
                if let Some((_, content)) = entries.iter().find(|(p, _)| p == sub) {
                    files.insert(mount.clone(), content.clone());
                }
            }
            None => {
                for (rel, content) in entries {
                    files.insert(format!("{mount}/{rel}"), content);
                }
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand() {
        let env = vec![("A".to_string(), "1".to_string())];
        assert_eq!(expand_refs("x$(A)y$(B)", &env), "x1y$(B)");
    }
}
