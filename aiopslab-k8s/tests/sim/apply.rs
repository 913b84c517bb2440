//! Applying manifests: order, namespaces, idempotence, labels, CRDs and clear errors.

use crate::common::Sim;
use aiopslab_k8s::{ApplyOptions, K8sError, RUN_LABEL, WaitOptions, parse_manifests};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use std::time::Duration;

/// A small app, written out of order on purpose: the namespace comes last.
pub const APP: &str = r#"# The web app.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        volumeMounts:
        - {name: config, mountPath: /etc/web}
      volumes:
      - name: config
        configMap:
          name: web-config
          defaultMode: 0644
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  creationTimestamp: null
data:
  greeting: hello
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_a_multi_document_app_waits_ready_and_applies_again() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await.with_run_id("run-1");
    let options = ApplyOptions {
        namespace: Some("demo".into()),
        ..ApplyOptions::default()
    };
    let applied = cluster
        .apply_yaml("app.yaml", APP, &options)
        .await
        .expect("apply");
    let order: Vec<String> = applied.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        order,
        vec![
            "Namespace demo",
            "ConfigMap demo/web-config",
            "Service demo/web",
            "Deployment demo/web"
        ]
    );

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let progress = cluster
        .wait_namespace_ready(
            "demo",
            WaitOptions::new(Duration::from_secs(60)).on_progress({
                let seen = seen.clone();
                move |p| seen.lock().unwrap().push(p.to_string())
            }),
        )
        .await
        .expect("ready");
    assert_eq!((progress.pods_ready, progress.pods_total), (2, 2));
    assert_eq!((progress.workloads_ready, progress.workloads_total), (1, 1));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.last().map(String::as_str),
        Some("pods ready 2/2, workloads ready 1/1"),
        "{seen:?}"
    );

    // Defaults like kubectl (0644 is 420), the run label on every object.
    let d: Deployment = cluster.get("demo", "web").await.expect("deployment");
    let mode = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()[0]
        .config_map
        .as_ref()
        .unwrap()
        .default_mode;
    assert_eq!(mode, Some(420));
    assert_eq!(
        d.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_LABEL))
            .map(String::as_str),
        Some("run-1")
    );
    let generation = d.metadata.generation;
    let cm: ConfigMap = cluster.get("demo", "web-config").await.expect("configmap");
    let svc: Service = cluster.get("demo", "web").await.expect("service");

    // Again: nothing changes.
    let again = cluster
        .apply_yaml("app.yaml", APP, &options)
        .await
        .expect("apply again");
    assert_eq!(again, applied);
    let d2: Deployment = cluster.get("demo", "web").await.expect("deployment");
    assert_eq!(d2.metadata.generation, generation, "no new rollout");
    let cm2: ConfigMap = cluster.get("demo", "web-config").await.expect("configmap");
    assert_eq!(cm2.data, cm.data);
    let svc2: Service = cluster.get("demo", "web").await.expect("service");
    assert_eq!(
        svc2.spec.as_ref().and_then(|s| s.cluster_ip.clone()),
        svc.spec.as_ref().and_then(|s| s.cluster_ip.clone()),
        "the service keeps its ClusterIP"
    );
    cluster
        .wait_namespace_ready("demo", WaitOptions::new(Duration::from_secs(30)))
        .await
        .expect("still ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_names_the_missing_crd_and_applies_nothing() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: chaos\n---\napiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata:\n  name: kill\nspec:\n  action: pod-kill\n";
    let err = cluster
        .apply_yaml("faults.yaml", text, &ApplyOptions::default())
        .await
        .expect_err("no CRD");
    assert!(matches!(err, K8sError::UnknownKind { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("faults.yaml, document 2 (line 6), PodChaos kill:"),
        "{msg}"
    );
    assert!(
        msg.contains("no CustomResourceDefinition of group chaos-mesh.org is installed"),
        "{msg}"
    );
    assert!(
        !cluster.namespace_exists("chaos").await.expect("get"),
        "checked before applying"
    );

    // A misspelt built-in kind is called a spelling problem.
    let err = cluster
        .apply_yaml(
            "typo.yaml",
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: x\n",
            &ApplyOptions::default(),
        )
        .await
        .expect_err("typo");
    assert!(err.to_string().contains("check the spelling"), "{err}");
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_objects_apply_in_one_batch_and_delete_again() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    // The custom object comes first in the text; the CRD is applied and established first.
    let text = format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n---\n{CRD}"
    );
    let applied = cluster
        .apply_yaml("widgets.yaml", &text, &ApplyOptions::into_namespace("shop"))
        .await
        .expect("apply");
    assert_eq!(applied[0].kind, "CustomResourceDefinition");
    assert_eq!(applied[1].to_string(), "Widget shop/w1");
    let ready = cluster
        .wait_for_condition(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "widgets.example.com",
            "Established",
            Duration::from_secs(10),
        )
        .await
        .expect("established");
    assert_eq!(ready.metadata.name.as_deref(), Some("widgets.example.com"));

    let objects = parse_manifests("widgets.yaml", &text).expect("parse");
    let widget_only: Vec<_> = objects
        .iter()
        .filter(|o| o.gvk.kind == "Widget")
        .cloned()
        .collect();
    let deleted = cluster
        .delete_objects(widget_only.clone(), &ApplyOptions::into_namespace("shop"))
        .await
        .expect("delete");
    assert_eq!(deleted.len(), 1);
    let again = cluster
        .delete_objects(widget_only, &ApplyOptions::into_namespace("shop"))
        .await
        .expect("delete again");
    assert!(again.is_empty(), "already gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_manifests_say_where_and_what() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let dir = sim.dir.path().join("manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
    )
    .unwrap();
    let err = cluster
        .apply_path(&dir, &ApplyOptions::default())
        .await
        .expect_err("no name");
    assert_eq!(
        err.to_string(),
        format!(
            "{}, document 2 (line 6), ConfigMap: `metadata.name` is missing or empty",
            file.display()
        )
    );

    // A namespace in the manifest that disagrees with the target.
    let err = cluster
        .apply_yaml(
            "ns.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: other\n",
            &ApplyOptions::into_namespace("mine"),
        )
        .await
        .expect_err("mismatch");
    assert!(
        err.to_string().contains("remove metadata.namespace"),
        "{err}"
    );

    // The server's refusal names the object.
    let err = cluster
        .apply_yaml(
            "bad.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 99999\n",
            &ApplyOptions::default(),
        )
        .await
        .expect_err("invalid port");
    assert!(matches!(err, K8sError::Apply { code: 422, .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("bad.yaml, document 1 (line 1), Service s: the API server refused"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_manifests_apply_into_their_namespaces() {
    let sim = Sim::start().await;
    let cluster = sim.connect().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../metadata");
    for (app, ns) in [
        ("hotel-reservation", "test-hotel-reservation"),
        ("social-network", "test-social-network"),
    ] {
        let dir = root.join(app).join("manifests");
        let parsed = aiopslab_k8s::read_manifests(&dir).expect("manifests parse");
        let applied = cluster
            .apply_path(&dir, &ApplyOptions::into_namespace(ns))
            .await
            .unwrap_or_else(|e| panic!("{app}: {e}"));
        assert_eq!(applied.len(), parsed.len(), "{app}");
        assert!(applied.iter().any(|a| a.kind == "Deployment"), "{app}");
        assert!(
            applied
                .iter()
                .all(|a| a.namespace.as_deref().is_none_or(|n| n == ns)),
            "{app}"
        );
    }
}
