use super::*;
use crate::clock::ManualClock;
use crate::resources::ResourceKey;
use serde_json::json;
use std::sync::Arc;

fn store() -> Store {
    let s = Store::new(
        1,
        Arc::new(ManualClock::at("2026-01-01T00:00:00Z".parse().unwrap())),
    );
    for ns in ["default", "gone"] {
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let t = rtype(&s, "v1", "Namespace");
        admit(&s, &t, Operation::Create, &mut obj, None).unwrap();
        s.create(&ResourceKey::new("", "namespaces"), "", obj)
            .unwrap();
    }
    s
}

fn rtype(s: &Store, api: &str, kind: &str) -> ResourceType {
    s.catalogue().by_kind(api, kind).unwrap().clone()
}

fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}})
}

#[test]
fn pods_get_the_real_defaults() {
    let s = store();
    let mut p = pod();
    admit(&s, &rtype(&s, "v1", "Pod"), Operation::Create, &mut p, None).unwrap();
    let spec = &p["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
    assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 300);
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["resources"], json!({}));
    assert_eq!(
        c["volumeMounts"][0]["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    let vol = spec["volumes"][0]["name"].as_str().unwrap();
    assert!(vol.starts_with("kube-api-access-"));
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    assert_eq!(p["metadata"]["uid"].as_str().unwrap().len(), 36);
}

#[test]
fn pod_spec_updates_are_forbidden_except_images() {
    let s = store();
    let t = rtype(&s, "v1", "Pod");
    let mut old = pod();
    admit(&s, &t, Operation::Create, &mut old, None).unwrap();
    let mut image_change = old.clone();
    image_change["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    admit(&s, &t, Operation::Update, &mut image_change, Some(&old)).unwrap();
    let mut bad = old.clone();
    bad["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let err = admit(&s, &t, Operation::Update, &mut bad, Some(&old)).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.starts_with("Pod \"web\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
        "{}",
        err.message
    );
    assert_eq!(err.to_status()["details"]["causes"][0]["field"], "spec");
}

#[test]
fn deployment_selector_must_match_template() {
    let s = store();
    let t = rtype(&s, "apps/v1", "Deployment");
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "geo", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "geo"}},
                 "template": {"metadata": {"labels": {"app": "other"}},
                              "spec": {"containers": [{"name": "geo", "image": "geo:1"}]}}}});
    let err = admit(&s, &t, Operation::Create, &mut d, None).unwrap_err();
    assert_eq!(
        err.message,
        "Deployment.apps \"geo\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
    );
    d["spec"]["template"]["metadata"]["labels"]["app"] = json!("geo");
    admit(&s, &t, Operation::Create, &mut d, None).unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    // The selector is immutable.
    let old = d.clone();
    d["spec"]["selector"] = json!({"matchLabels": {"app": "geo2"}});
    d["spec"]["template"]["metadata"]["labels"]["app"] = json!("geo2");
    let err = admit(&s, &t, Operation::Update, &mut d, Some(&old)).unwrap_err();
    assert!(
        err.message.contains("spec.selector: Invalid value"),
        "{}",
        err.message
    );
    assert!(
        err.message.ends_with("field is immutable"),
        "{}",
        err.message
    );
}

#[test]
fn services_get_addresses_and_keep_them() {
    let s = store();
    let t = rtype(&s, "v1", "Service");
    let mut svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "geo", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "geo"}, "ports": [{"port": 8083}]}});
    admit(&s, &t, Operation::Create, &mut svc, None).unwrap();
    let spec = &svc["spec"];
    let ip = spec["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert_eq!(spec["ports"][0]["targetPort"], 8083);
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    let np = spec["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np));
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["externalTrafficPolicy"], "Cluster");
    // An update without clusterIP keeps it; a different one is refused.
    let old = svc.clone();
    let mut replace = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "geo", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "geo"}, "ports": [{"port": 8083, "targetPort": 9999}]}});
    admit(&s, &t, Operation::Update, &mut replace, Some(&old)).unwrap();
    assert_eq!(replace["spec"]["clusterIP"], ip.as_str());
    assert_eq!(replace["spec"]["ports"][0]["nodePort"], np);
    let mut changed = old.clone();
    changed["spec"]["clusterIP"] = json!("10.96.7.7");
    let err = admit(&s, &t, Operation::Update, &mut changed, Some(&old)).unwrap_err();
    assert_eq!(
        err.message,
        "Service \"geo\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.7.7\"}: may not change once set"
    );
}

#[test]
fn same_seed_same_cluster_ips() {
    let run = || {
        let s = store();
        let t = rtype(&s, "v1", "Service");
        let mut svc = json!({"metadata": {"name": "a", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}});
        admit(&s, &t, Operation::Create, &mut svc, None).unwrap();
        svc["spec"]["clusterIP"].clone()
    };
    assert_eq!(run(), run());
}

#[test]
fn terminating_and_missing_namespaces_refuse_content() {
    let s = store();
    let key = ResourceKey::new("", "namespaces");
    s.delete(&key, "", "gone", None, None, None).unwrap();
    let ns = s.get(&key, "", "gone").unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");
    let t = rtype(&s, "v1", "ConfigMap");
    let mut cm = json!({"metadata": {"name": "cfg", "namespace": "gone"}});
    let err = admit(&s, &t, Operation::Create, &mut cm, None).unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "configmaps \"cfg\" is forbidden: unable to create new content in namespace gone because it is being terminated"
    );
    let mut cm = json!({"metadata": {"name": "cfg", "namespace": "nope"}});
    let err = admit(&s, &t, Operation::Create, &mut cm, None).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );
}

#[test]
fn namespaces_secrets_and_jobs() {
    let s = store();
    let mut ns = json!({"metadata": {"name": "app"}});
    admit(
        &s,
        &rtype(&s, "v1", "Namespace"),
        Operation::Create,
        &mut ns,
        None,
    )
    .unwrap();
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "app"
    );
    let mut secret =
        json!({"metadata": {"name": "s", "namespace": "default"}, "stringData": {"user": "admin"}});
    admit(
        &s,
        &rtype(&s, "v1", "Secret"),
        Operation::Create,
        &mut secret,
        None,
    )
    .unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["user"], "YWRtaW4=");
    assert!(secret.get("stringData").is_none());
    let jt = rtype(&s, "batch/v1", "Job");
    let mut job = json!({"metadata": {"name": "pi", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "busybox"}]}}}});
    let err = admit(&s, &jt, Operation::Create, &mut job, None).unwrap_err();
    assert_eq!(
        err.message,
        "Job.batch \"pi\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    job["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    admit(&s, &jt, Operation::Create, &mut job, None).unwrap();
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["job-name"],
        "pi"
    );
    assert_eq!(job["spec"]["backoffLimit"], 6);
    assert_eq!(job["spec"]["completions"], 1);
}

#[test]
fn status_object_for_the_http_layer() {
    let err = AdmissionError::not_found("namespaces", "x");
    let st = err.to_status();
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["code"], 404);
    assert_eq!(st["reason"], "NotFound");
}
