//! A write that changes nothing is a no-op, as on a real API server: the resourceVersion
//! stays, the managedFields timestamps stay, and no watch event is sent. Checked through every
//! write path a client uses: `kubectl apply --server-side`, kube-rs `Patch::Apply`,
//! client-side `kubectl apply`, PUT, merge/strategic/JSON patches and the status subresource.

mod common;

use aiopslab_sim::clock::ManualClock;
use common::TestCluster;
use jiff::SignedDuration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Config, config::KubeConfigOptions, config::Kubeconfig};
use serde_json::{Value, json};

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
  annotations: {team: a}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        args: ["--port", "80"]
        env:
        - {name: A, value: "1"}
        ports:
        - containerPort: 80
          protocol: TCP
        resources:
          requests: {cpu: 100m, memory: 64Mi}
      - name: sidecar
        image: busybox
"#;

async fn start() -> (TestCluster, ManualClock) {
    let clock = ManualClock::at("2026-01-01T00:00:00Z".parse().expect("time"));
    let c = clock.clone();
    let t =
        TestCluster::start_with(move |cfg| cfg.with_manual_clock(c).with_controllers(false)).await;
    (t, clock)
}

async fn client(t: &TestCluster) -> Client {
    let kc = Kubeconfig::read_from(t.cluster.admin_kubeconfig_path()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// The stored object's resourceVersion and managedFields.
fn version_and_fields(t: &TestCluster, group: &str, plural: &str, name: &str) -> (Value, Value) {
    let key = aiopslab_sim::resources::ResourceKey::new(group, plural);
    let obj = t
        .cluster
        .store()
        .get(&key, "default", name)
        .expect("stored");
    (
        obj["metadata"]["resourceVersion"].clone(),
        obj["metadata"]["managedFields"].clone(),
    )
}

/// Advances the clock, runs `write`, and checks that neither the store's resource version
/// nor the object (its resourceVersion and managedFields) moved.
async fn assert_noop<F, Fut>(
    t: &TestCluster,
    clock: &ManualClock,
    what: &str,
    group: &str,
    plural: &str,
    name: &str,
    write: F,
) where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    clock.advance(SignedDuration::from_secs(120));
    let before = version_and_fields(t, group, plural, name);
    let store_rv = t.cluster.store().resource_version();
    write().await;
    let after = version_and_fields(t, group, plural, name);
    assert_eq!(
        before.0, after.0,
        "{what}: the resourceVersion moved on a no-op write"
    );
    assert_eq!(
        before.1, after.1,
        "{what}: managedFields changed on a no-op write"
    );
    assert_eq!(
        t.cluster.store().resource_version(),
        store_rv,
        "{what}: the store wrote (and sent a watch event) for a no-op"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_twice_is_a_noop() {
    let (t, clock) = start().await;
    t.kubectl_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT)
        .await
        .ok();
    assert_noop(
        &t,
        &clock,
        "apply --server-side",
        "apps",
        "deployments",
        "web",
        || async {
            let out = t
                .kubectl_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT)
                .await
                .ok();
            assert_eq!(out, "deployment.apps/web serverside-applied\n");
        },
    )
    .await;
    // A real change still moves both, with the new time on the manager's entry.
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3");
    let before = version_and_fields(&t, "apps", "deployments", "web");
    t.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &changed)
        .await
        .ok();
    let after = version_and_fields(&t, "apps", "deployments", "web");
    assert_ne!(before.0, after.0);
    assert_eq!(after.1[0]["time"], "2026-01-01T00:02:00Z", "{}", after.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_patch_apply_twice_is_a_noop() {
    let (t, clock) = start().await;
    let client = client(&t).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let body: Value = serde_saphyr::from_str(DEPLOYMENT).expect("yaml");
    let params = PatchParams::apply("aiopslab").force();
    deployments
        .patch("web", &params, &Patch::Apply(&body))
        .await
        .expect("first apply");
    assert_noop(
        &t,
        &clock,
        "Patch::Apply",
        "apps",
        "deployments",
        "web",
        || async {
            let again = deployments
                .patch("web", &params, &Patch::Apply(&body))
                .await
                .expect("second apply");
            assert_eq!(
                again.metadata.managed_fields.expect("managed")[0]
                    .time
                    .as_ref()
                    .map(|t| t.0.to_string()),
                Some("2026-01-01T00:00:00Z".to_string())
            );
        },
    )
    .await;
    // The same for a ConfigMap applied by two managers sharing a field.
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shared"}, "data": {"a": "1"}});
    for manager in ["one", "two"] {
        cms.patch("shared", &PatchParams::apply(manager), &Patch::Apply(&cm))
            .await
            .expect("apply");
    }
    for manager in ["one", "two"] {
        assert_noop(&t, &clock, manager, "", "configmaps", "shared", || async {
            cms.patch("shared", &PatchParams::apply(manager), &Patch::Apply(&cm))
                .await
                .expect("apply");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_of_an_unchanged_manifest_is_a_noop() {
    let (t, clock) = start().await;
    t.kubectl_stdin(&["apply", "-f", "-"], DEPLOYMENT)
        .await
        .ok();
    assert_noop(
        &t,
        &clock,
        "kubectl apply",
        "apps",
        "deployments",
        "web",
        || async {
            let out = t
                .kubectl_stdin(&["apply", "-f", "-"], DEPLOYMENT)
                .await
                .ok();
            assert_eq!(out, "deployment.apps/web unchanged\n");
        },
    )
    .await;
    // Even when kubectl sends a patch: a label set to the value it already has.
    assert_noop(
        &t,
        &clock,
        "kubectl label",
        "apps",
        "deployments",
        "web",
        || async {
            t.kubectl(&["label", "deployment", "web", "app=web", "--overwrite"])
                .await
                .ok();
        },
    )
    .await;
    assert_noop(
        &t,
        &clock,
        "kubectl patch",
        "apps",
        "deployments",
        "web",
        || async {
            t.kubectl(&[
                "patch",
                "deployment",
                "web",
                "-p",
                r#"{"spec":{"replicas":2}}"#,
            ])
            .await
            .ok();
            t.kubectl(&[
                "patch",
                "deployment",
                "web",
                "--type=merge",
                "-p",
                r#"{"metadata":{"annotations":{"team":"a"}}}"#,
            ])
            .await
            .ok();
            t.kubectl(&[
                "patch",
                "deployment",
                "web",
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
            ])
            .await
            .ok();
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_status_writes_of_the_same_object_are_noops() {
    let (t, clock) = start().await;
    let client = client(&t).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let body: Deployment = serde_saphyr::from_str(DEPLOYMENT).expect("yaml");
    deployments
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    assert_noop(&t, &clock, "PUT", "apps", "deployments", "web", || async {
        let current = deployments.get("web").await.expect("get");
        deployments
            .replace("web", &PostParams::default(), &current)
            .await
            .expect("replace");
    })
    .await;
    // A status write sets something once, then the same again is a no-op.
    let status = json!({"status": {"observedGeneration": 1, "replicas": 0}});
    deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
    assert_noop(
        &t,
        &clock,
        "status patch",
        "apps",
        "deployments",
        "web",
        || async {
            deployments
                .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
                .await
                .expect("status");
            let current = deployments.get_status("web").await.expect("get");
            deployments
                .replace_status("web", &PostParams::default(), &current)
                .await
                .expect("status put");
        },
    )
    .await;
    // Server-side apply of the status by a controller, twice.
    let apply_status = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "status": {"replicas": 0, "observedGeneration": 1}});
    let params = PatchParams::apply("status-writer").force();
    let applied = deployments
        .patch_status("web", &params, &Patch::Apply(&apply_status))
        .await
        .expect("apply status");
    // The apply through the status subresource is recorded as such.
    let entry = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.manager.as_deref() == Some("status-writer"))
        .expect("the status apply has its managedFields entry");
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_noop(
        &t,
        &clock,
        "status apply",
        "apps",
        "deployments",
        "web",
        || async {
            deployments
                .patch_status("web", &params, &Patch::Apply(&apply_status))
                .await
                .expect("apply status");
        },
    )
    .await;
}
