//! Pod defaulting (`SetDefaults_Pod`, `SetDefaults_PodSpec`, container defaults), the pod
//! admission plugins (ServiceAccount, DefaultTolerationSeconds, Priority) and pod validation,
//! including the rule that an existing pod's spec may only change in a few places.

use super::field::{FieldError, validate_labels};
use super::{AdmissionError, Operation};
use crate::controllers::util::{arr, cpu_millis, default_field, keys, obj_mut, s, sd};
use crate::store::Store;
use serde_json::{Map, Value, json};

/// Where the service account token volume is mounted.
pub(crate) const SA_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Priority of the built-in priority classes.
fn priority_of(class: &str) -> Option<i64> {
    match class {
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    }
}

/// The pull policy the API server picks when none is given: `Always` for `:latest` or no tag.
pub(crate) fn default_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_probe(probe: &mut Value) {
    let Some(p) = probe.as_object_mut() else {
        return;
    };
    default_field(p, "timeoutSeconds", json!(1));
    default_field(p, "periodSeconds", json!(10));
    default_field(p, "successThreshold", json!(1));
    default_field(p, "failureThreshold", json!(3));
    if let Some(get) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_field(get, "scheme", json!("HTTP"));
    }
}

fn default_container(c: &mut Value, host_network: bool) {
    let Some(m) = c.as_object_mut() else {
        return;
    };
    let image = m
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    default_field(m, "imagePullPolicy", json!(default_pull_policy(&image)));
    default_field(m, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(m, "terminationMessagePolicy", json!("File"));
    default_field(m, "resources", json!({}));
    if let Some(res) = m.get_mut("resources").and_then(Value::as_object_mut) {
        // Requests default to limits for every resource that only has a limit.
        if let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() {
            let requests = res.entry("requests").or_insert_with(|| json!({}));
            if let Some(req) = requests.as_object_mut() {
                for (k, v) in limits {
                    req.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(ports) = m.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default_field(p, "protocol", json!("TCP"));
            if host_network && let Some(cp) = p.get("containerPort").cloned() {
                default_field(p, "hostPort", cp);
            }
        }
    }
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if let Some(p) = m.get_mut(probe) {
            default_probe(p);
        }
    }
    if let Some(env) = m.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut() {
            if let Some(fr) = e
                .pointer_mut("/valueFrom/fieldRef")
                .and_then(Value::as_object_mut)
            {
                default_field(fr, "apiVersion", json!("v1"));
            }
        }
    }
}

fn default_volume(v: &mut Value) {
    let Some(m) = v.as_object_mut() else {
        return;
    };
    for (kind, mode) in [
        ("configMap", true),
        ("secret", true),
        ("downwardAPI", true),
        ("projected", true),
    ] {
        if let Some(src) = m.get_mut(kind).and_then(Value::as_object_mut)
            && mode
        {
            default_field(src, "defaultMode", json!(420));
            if let Some(items) = src.get_mut("items").and_then(Value::as_array_mut) {
                for item in items {
                    if let Some(fr) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                        default_field(fr, "apiVersion", json!("v1"));
                    }
                }
            }
        }
    }
    if m.get("emptyDir").is_some_and(Value::is_null) {
        m.insert("emptyDir".into(), json!({}));
    }
    if let Some(hp) = m.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(hp, "type", json!(""));
    }
}

/// `SetDefaults_PodSpec` and the container defaults: what a pod template gets.
pub(crate) fn default_pod_spec(spec: &mut Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    default_field(m, "restartPolicy", json!("Always"));
    default_field(m, "terminationGracePeriodSeconds", json!(30));
    default_field(m, "dnsPolicy", json!("ClusterFirst"));
    default_field(m, "securityContext", json!({}));
    default_field(m, "schedulerName", json!("default-scheduler"));
    if let Some(sa) = m.get("serviceAccount").cloned()
        && m.get("serviceAccountName").is_none_or(Value::is_null)
    {
        m.insert("serviceAccountName".into(), sa);
    }
    let host_network = m.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        if let Some(cs) = m.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                default_container(c, host_network);
            }
        }
    }
    if let Some(vols) = m.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols {
            default_volume(v);
        }
    }
}

/// The pod's QoS class from its containers' requests and limits.
pub(crate) fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = arr(spec, "/containers")
        .iter()
        .chain(arr(spec, "/initContainers"))
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        let relevant = |m: Option<&Map<String, Value>>| {
            m.map(|m| {
                m.iter()
                    .filter(|(k, _)| *k == "cpu" || *k == "memory")
                    .count()
            })
            .unwrap_or(0)
        };
        if relevant(req) > 0 || relevant(lim) > 0 {
            any = true;
        }
        for r in ["cpu", "memory"] {
            let l = lim.and_then(|m| m.get(r));
            let q = req.and_then(|m| m.get(r));
            match (l, q) {
                (Some(l), Some(q)) if quantity_eq(r, l, q) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn quantity_eq(resource: &str, a: &Value, b: &Value) -> bool {
    if resource == "cpu" {
        cpu_millis(a) == cpu_millis(b)
    } else {
        crate::controllers::util::bytes(a) == crate::controllers::util::bytes(b)
    }
}

fn tolerates(tolerations: &[Value], key: &str, effect: &str) -> bool {
    tolerations.iter().any(|t| {
        let k = sd(t, "/key");
        let e = sd(t, "/effect");
        let op = s(t, "/operator").unwrap_or("Equal");
        (k == key || (k.is_empty() && op == "Exists")) && (e.is_empty() || e == effect)
    })
}

/// Admission for pods: defaults, the admission plugins on create, validation.
pub(super) fn admit_pod(
    store: &Store,
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Result<(), AdmissionError> {
    let spec = obj_mut(obj, "spec");
    let mut spec_value = Value::Object(std::mem::take(spec));
    default_pod_spec(&mut spec_value);
    if let Value::Object(m) = spec_value {
        *obj_mut(obj, "spec") = m;
    }
    default_field(obj_mut(obj, "spec"), "enableServiceLinks", json!(true));
    validate_labels("metadata.labels", obj.pointer("/metadata/labels"), errors);
    match (op, old) {
        (Operation::Update, Some(old)) => {
            validate_update(obj, old, errors);
            Ok(())
        }
        _ => {
            validate_spec(obj, errors);
            if errors.is_empty() {
                admission_plugins(store, obj)
            } else {
                Ok(())
            }
        }
    }
}

fn validate_spec(obj: &Value, errors: &mut Vec<FieldError>) {
    let containers = arr(obj, "/spec/containers");
    if containers.is_empty() {
        errors.push(FieldError::required("spec.containers", ""));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (list, items) in [
        ("spec.containers", containers),
        ("spec.initContainers", arr(obj, "/spec/initContainers")),
    ] {
        for (i, c) in items.iter().enumerate() {
            let name = sd(c, "/name");
            if name.is_empty() {
                errors.push(FieldError::required(&format!("{list}[{i}].name"), ""));
            } else if !seen.insert(name.to_string()) {
                errors.push(FieldError::duplicate(
                    &format!("{list}[{i}].name"),
                    format!("{name:?}"),
                ));
            }
            if sd(c, "/image").is_empty() {
                errors.push(FieldError::required(&format!("{list}[{i}].image"), ""));
            }
            for (j, p) in arr(c, "/ports").iter().enumerate() {
                let port = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    errors.push(FieldError::invalid(
                        &format!("{list}[{i}].ports[{j}].containerPort"),
                        port.to_string(),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
    }
    let policy = sd(obj, "/spec/restartPolicy");
    if !["Always", "OnFailure", "Never"].contains(&policy) {
        errors.push(FieldError::not_supported(
            "spec.restartPolicy",
            policy,
            &["Always", "OnFailure", "Never"],
        ));
    }
}

/// The real server's rule: only images, activeDeadlineSeconds, added tolerations and a
/// terminationGracePeriodSeconds fix may change in an existing pod's spec.
fn validate_update(obj: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    let (Some(new_spec), Some(old_spec)) = (obj.get("spec"), old.get("spec")) else {
        return;
    };
    if arr(new_spec, "/containers").len() != arr(old_spec, "/containers").len()
        || arr(new_spec, "/initContainers").len() != arr(old_spec, "/initContainers").len()
    {
        errors.push(FieldError::forbidden(
            "spec.containers",
            "pod updates may not add or remove containers",
        ));
        return;
    }
    let mut mungled = old_spec.clone();
    for list in ["containers", "initContainers"] {
        let new_images: Vec<Value> = arr(new_spec, &format!("/{list}"))
            .iter()
            .map(|c| c.get("image").cloned().unwrap_or(Value::Null))
            .collect();
        if let Some(cs) = mungled.get_mut(list).and_then(Value::as_array_mut) {
            for (c, image) in cs.iter_mut().zip(new_images) {
                c["image"] = image;
            }
        }
    }
    let Some(m) = mungled.as_object_mut() else {
        return;
    };
    match new_spec.get("activeDeadlineSeconds") {
        Some(v) => m.insert("activeDeadlineSeconds".into(), v.clone()),
        None => m.remove("activeDeadlineSeconds"),
    };
    // Tolerations may only be added to.
    let old_tols = arr(old_spec, "/tolerations");
    let new_tols = arr(new_spec, "/tolerations");
    if old_tols.iter().all(|t| new_tols.contains(t)) {
        match new_spec.get("tolerations") {
            Some(v) => m.insert("tolerations".into(), v.clone()),
            None => m.remove("tolerations"),
        };
    }
    let old_grace = old_spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0)
        && new_spec
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            == Some(1)
    {
        m.insert("terminationGracePeriodSeconds".into(), json!(1));
    }
    if mungled == *new_spec {
        return;
    }
    let mut diff = String::from("\n  core.PodSpec{\n");
    let empty = Map::new();
    let old_map = mungled.as_object().unwrap_or(&empty);
    let new_map = new_spec.as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    fields.sort();
    fields.dedup();
    for f in fields {
        let (a, b) = (old_map.get(f), new_map.get(f));
        if a == b {
            continue;
        }
        let go_name = go_field_name(f);
        if let Some(a) = a {
            diff.push_str(&format!("- \t{go_name}: {a},\n"));
        }
        if let Some(b) = b {
            diff.push_str(&format!("+ \t{go_name}: {b},\n"));
        }
    }
    diff.push_str("  }\n");
    errors.push(FieldError::forbidden(
        "spec",
        format!(
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative){diff}"
        ),
    ));
}

fn go_field_name(json_name: &str) -> String {
    let mut c = json_name.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// ServiceAccount, DefaultTolerationSeconds and Priority plugins, and the initial status.
fn admission_plugins(store: &Store, obj: &mut Value) -> Result<(), AdmissionError> {
    let ns = sd(obj, "/metadata/namespace").to_string();
    let name = sd(obj, "/metadata/name").to_string();
    let spec = obj_mut(obj, "spec");
    // ServiceAccount.
    let sa_name = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    spec.insert("serviceAccountName".into(), json!(sa_name));
    spec.insert("serviceAccount".into(), json!(sa_name));
    let sa = store.get_arc(&keys::serviceaccounts(), &ns, &sa_name).ok();
    if sa.is_none() && sa_name != "default" && !ns.is_empty() {
        let pods = store
            .catalogue()
            .by_kind("v1", "Pod")
            .cloned()
            .ok_or_else(|| AdmissionError::bad_request("pods are not served"))?;
        return Err(AdmissionError::forbidden(
            &pods,
            &name,
            &format!(
                "error looking up service account {ns}/{sa_name}: serviceaccount {sa_name:?} not found"
            ),
        ));
    }
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            sa.as_ref()
                .and_then(|sa| sa.get("automountServiceAccountToken"))
                .and_then(Value::as_bool)
        })
        .unwrap_or(true);
    if automount {
        let has_mount = |c: &Value| {
            arr(c, "/volumeMounts")
                .iter()
                .any(|m| sd(m, "/mountPath") == SA_MOUNT_PATH)
        };
        let volume_name = format!("kube-api-access-{}", store.random_suffix(5));
        let mut mounted = false;
        for list in ["containers", "initContainers"] {
            if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in cs.iter_mut() {
                    if has_mount(c) {
                        continue;
                    }
                    mounted = true;
                    let Some(cm) = c.as_object_mut() else {
                        continue;
                    };
                    let mounts = cm.entry("volumeMounts").or_insert_with(|| json!([]));
                    if let Some(mounts) = mounts.as_array_mut() {
                        mounts.push(json!({
                            "mountPath": SA_MOUNT_PATH, "name": volume_name, "readOnly": true
                        }));
                    }
                }
            }
        }
        if mounted {
            let vols = spec.entry("volumes").or_insert_with(|| json!([]));
            if let Some(vols) = vols.as_array_mut() {
                vols.push(json!({
                    "name": volume_name,
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
                        ]
                    }
                }));
            }
        }
    }
    // DefaultTolerationSeconds.
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(t) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            if !tolerates(t, key, "NoExecute") {
                t.push(json!({
                    "effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300
                }));
            }
        }
    }
    // Priority.
    let priority = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .and_then(priority_of)
        .unwrap_or(0);
    default_field(spec, "priority", json!(priority));
    default_field(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    let qos = qos_class(&Value::Object(spec.clone()));
    let status = obj_mut(obj, "status");
    default_field(status, "phase", json!("Pending"));
    status.insert("qosClass".into(), json!(qos));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("busybox@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"containers": [{"name": "a"}]})),
            "BestEffort"
        );
        let g = json!({"containers": [{"resources": {
            "limits": {"cpu": "100m", "memory": "64Mi"}, "requests": {"cpu": "0.1", "memory": "64Mi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
