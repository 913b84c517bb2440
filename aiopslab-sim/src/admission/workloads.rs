//! Defaults and validation for Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and
//! CronJobs (`apps/v1` and `batch/v1` defaulting and validation).

use super::Operation;
use super::field::{FieldError, validate_labels};
use super::pod::default_pod_spec;
use crate::controllers::util::{arr, default_field, go_string_map, obj_mut, sd};
use crate::selector::LabelSelector;
use serde_json::{Map, Value, json};

/// Go's `%#v` of a `metav1.LabelSelector`, as immutability errors print it.
fn go_selector(sel: Option<&Value>) -> String {
    let sel = sel.cloned().unwrap_or(Value::Null);
    let exprs = arr(&sel, "/matchExpressions");
    let exprs_text = if exprs.is_empty() {
        "[]v1.LabelSelectorRequirement(nil)".to_string()
    } else {
        let items: Vec<String> = exprs
            .iter()
            .map(|e| {
                let values: Vec<String> = arr(e, "/values")
                    .iter()
                    .map(|v| format!("{:?}", v.as_str().unwrap_or_default()))
                    .collect();
                format!(
                    "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:[]string{{{}}}}}",
                    sd(e, "/key"),
                    sd(e, "/operator"),
                    values.join(", ")
                )
            })
            .collect();
        format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(sel.get("matchLabels")),
        exprs_text
    )
}

/// Defaults the pod template at `spec.template` (or `ptr`).
fn default_template(obj: &mut Value, ptr: &str) {
    if let Some(spec) = obj.pointer_mut(ptr) {
        default_pod_spec(spec);
    }
}

/// Selector present, non-empty, and matching the template labels (`prefix` = `spec`).
fn validate_selector(spec: &Value, prefix: &str, kind_word: &str, errors: &mut Vec<FieldError>) {
    let template_labels = spec.pointer("/template/metadata/labels");
    validate_labels(
        &format!("{prefix}.template.metadata.labels"),
        template_labels,
        errors,
    );
    let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) else {
        errors.push(FieldError::required(&format!("{prefix}.selector"), ""));
        return;
    };
    let empty = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && arr(selector, "/matchExpressions").is_empty();
    if empty {
        errors.push(FieldError::invalid(
            &format!("{prefix}.selector"),
            go_selector(Some(selector)),
            format!("empty selector is invalid for {kind_word}"),
        ));
        return;
    }
    match LabelSelector::from_object(Some(selector)) {
        Err(e) => errors.push(FieldError::invalid(
            &format!("{prefix}.selector"),
            go_selector(Some(selector)),
            e,
        )),
        Ok(sel) => {
            let empty_map = Map::new();
            let labels = template_labels
                .and_then(Value::as_object)
                .unwrap_or(&empty_map);
            if !sel.matches(labels) {
                errors.push(FieldError::invalid(
                    &format!("{prefix}.template.metadata.labels"),
                    go_string_map(template_labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
}

fn validate_replicas(spec: &Value, errors: &mut Vec<FieldError>) {
    if let Some(r) = spec.get("replicas").and_then(Value::as_i64)
        && r < 0
    {
        errors.push(FieldError::invalid(
            "spec.replicas",
            r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
}

fn validate_template_pod(spec: &Value, prefix: &str, errors: &mut Vec<FieldError>) {
    let containers = arr(spec, "/template/spec/containers");
    if containers.is_empty() {
        errors.push(FieldError::required(
            &format!("{prefix}.template.spec.containers"),
            "",
        ));
    }
    for (i, c) in containers.iter().enumerate() {
        if sd(c, "/name").is_empty() {
            errors.push(FieldError::required(
                &format!("{prefix}.template.spec.containers[{i}].name"),
                "",
            ));
        }
        if sd(c, "/image").is_empty() {
            errors.push(FieldError::required(
                &format!("{prefix}.template.spec.containers[{i}].image"),
                "",
            ));
        }
    }
}

fn validate_always(spec: &Value, errors: &mut Vec<FieldError>) {
    let policy = sd(spec, "/template/spec/restartPolicy");
    if policy != "Always" {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
}

fn selector_immutable(obj: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    if let Some(old) = old
        && old.pointer("/spec/selector") != obj.pointer("/spec/selector")
    {
        errors.push(FieldError::invalid(
            "spec.selector",
            go_selector(obj.pointer("/spec/selector")),
            "field is immutable",
        ));
    }
}

/// Deployments: replicas, strategy, history and deadline defaults; selector rules.
pub(super) fn deployment(obj: &mut Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(st) = strategy.as_object_mut() {
        default_field(st, "type", json!("RollingUpdate"));
        if st.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = st.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                default_field(ru, "maxUnavailable", json!("25%"));
                default_field(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_template(obj, "/spec/template/spec");
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    validate_replicas(&spec, errors);
    validate_selector(&spec, "spec", "deployment", errors);
    validate_template_pod(&spec, "spec", errors);
    validate_always(&spec, errors);
    match sd(&spec, "/strategy/type") {
        "RollingUpdate" => {
            let surge = spec.pointer("/strategy/rollingUpdate/maxSurge");
            let unavailable = spec.pointer("/strategy/rollingUpdate/maxUnavailable");
            let is_zero = |v: Option<&Value>| {
                matches!(v, Some(Value::Number(n)) if n.as_i64() == Some(0))
                    || matches!(v, Some(Value::String(s)) if s == "0%" || s == "0")
            };
            if is_zero(surge) && is_zero(unavailable) {
                errors.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}",
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        "Recreate" => {
            if spec.pointer("/strategy/rollingUpdate").is_some() {
                errors.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            "spec.strategy.type",
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    selector_immutable(obj, old, errors);
}

/// ReplicaSets: replicas default; selector rules.
pub(super) fn replicaset(obj: &mut Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    default_field(obj_mut(obj, "spec"), "replicas", json!(1));
    default_template(obj, "/spec/template/spec");
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    validate_replicas(&spec, errors);
    validate_selector(&spec, "spec", "replicaset", errors);
    validate_template_pod(&spec, "spec", errors);
    validate_always(&spec, errors);
    selector_immutable(obj, old, errors);
}

/// StatefulSets: management policy, update strategy, retention policy, claim templates.
pub(super) fn statefulset(obj: &mut Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "replicas", json!(1));
    default_field(spec, "podManagementPolicy", json!("OrderedReady"));
    default_field(spec, "revisionHistoryLimit", json!(10));
    let us = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if let Some(us) = us.as_object_mut() {
        default_field(us, "type", json!("RollingUpdate"));
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = us.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                default_field(ru, "partition", json!(0));
            }
        }
    }
    default_field(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    );
    if let Some(vcts) = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for t in vcts.iter_mut().filter_map(Value::as_object_mut) {
            default_field(t, "apiVersion", json!("v1"));
            default_field(t, "kind", json!("PersistentVolumeClaim"));
            let tspec = t.entry("spec").or_insert_with(|| json!({}));
            if let Some(ts) = tspec.as_object_mut() {
                default_field(ts, "volumeMode", json!("Filesystem"));
            }
            let status = t.entry("status").or_insert_with(|| json!({}));
            if let Some(st) = status.as_object_mut() {
                default_field(st, "phase", json!("Pending"));
            }
        }
    }
    default_template(obj, "/spec/template/spec");
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    validate_replicas(&spec, errors);
    validate_selector(&spec, "spec", "statefulset", errors);
    validate_template_pod(&spec, "spec", errors);
    validate_always(&spec, errors);
    if let Some(old) = old {
        let strip = |v: &Value| {
            let mut v = v.get("spec").cloned().unwrap_or(json!({}));
            if let Some(m) = v.as_object_mut() {
                for f in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ] {
                    m.remove(f);
                }
            }
            v
        };
        if strip(old) != strip(obj) {
            errors.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

/// DaemonSets: update strategy and history defaults; selector rules.
pub(super) fn daemonset(obj: &mut Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "revisionHistoryLimit", json!(10));
    let us = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if let Some(us) = us.as_object_mut() {
        default_field(us, "type", json!("RollingUpdate"));
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = us.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                default_field(ru, "maxUnavailable", json!(1));
                default_field(ru, "maxSurge", json!(0));
            }
        }
    }
    default_template(obj, "/spec/template/spec");
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    validate_selector(&spec, "spec", "daemonset", errors);
    validate_template_pod(&spec, "spec", errors);
    validate_always(&spec, errors);
    selector_immutable(obj, old, errors);
}

/// The Job spec defaults and checks shared by Jobs and CronJob job templates.
fn default_job_spec(spec: &mut Value, prefix: &str, errors: &mut Vec<FieldError>) {
    let policy_given = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    let completions_set = m.get("completions").is_some_and(|v| !v.is_null());
    let parallelism_set = m.get("parallelism").is_some_and(|v| !v.is_null());
    if !completions_set && !parallelism_set {
        m.insert("completions".into(), json!(1));
    }
    default_field(m, "parallelism", json!(1));
    default_field(m, "backoffLimit", json!(6));
    default_field(m, "completionMode", json!("NonIndexed"));
    default_field(m, "suspend", json!(false));
    default_field(m, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if let Some(tspec) = spec.pointer_mut("/template/spec") {
        default_pod_spec(tspec);
    }
    let field = format!("{prefix}.template.spec.restartPolicy");
    match policy_given.as_deref() {
        None => errors.push(FieldError::required(
            &field,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        Some("OnFailure") | Some("Never") => {}
        Some(other) => errors.push(FieldError::not_supported(
            &field,
            other,
            &["OnFailure", "Never"],
        )),
    }
    validate_template_pod(spec, prefix, errors);
}

/// Jobs: completions, parallelism, backoff defaults; the generated selector and labels.
pub(super) fn job(
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    let name = sd(obj, "/metadata/name").to_string();
    let uid = sd(obj, "/metadata/uid").to_string();
    {
        let spec = obj
            .as_object_mut()
            .map(|m| m.entry("spec").or_insert_with(|| json!({})));
        if let Some(spec) = spec {
            default_job_spec(spec, "spec", errors);
        }
    }
    let manual = obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true);
    if op == Operation::Create && !manual {
        let spec = obj_mut(obj, "spec");
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
        let template = spec.entry("template").or_insert_with(|| json!({}));
        let meta = obj_mut(template, "metadata");
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
            l.insert("batch.kubernetes.io/job-name".into(), json!(name));
            l.insert("controller-uid".into(), json!(uid));
            l.insert("job-name".into(), json!(name));
        }
    }
    if let Some(old) = old {
        selector_immutable(obj, Some(old), errors);
        let template = |v: &Value| v.pointer("/spec/template").cloned();
        let suspended = old.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        if !suspended && template(old) != template(obj) {
            errors.push(FieldError::invalid(
                "spec.template",
                "core.PodTemplateSpec{...}",
                "field is immutable",
            ));
        }
    } else {
        let spec = obj.get("spec").cloned().unwrap_or(json!({}));
        if manual {
            validate_selector(&spec, "spec", "job", errors);
        }
    }
}

/// CronJobs: policy and history defaults, and the job template's defaults.
pub(super) fn cronjob(obj: &mut Value, errors: &mut Vec<FieldError>) {
    let spec = obj_mut(obj, "spec");
    default_field(spec, "concurrencyPolicy", json!("Allow"));
    default_field(spec, "suspend", json!(false));
    default_field(spec, "successfulJobsHistoryLimit", json!(3));
    default_field(spec, "failedJobsHistoryLimit", json!(1));
    if spec
        .get("schedule")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        errors.push(FieldError::required("spec.schedule", ""));
    }
    if let Some(job_spec) = obj.pointer_mut("/spec/jobTemplate/spec") {
        default_job_spec(job_spec, "spec.jobTemplate.spec", errors);
    }
}
