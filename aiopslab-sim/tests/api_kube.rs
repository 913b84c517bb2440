//! kube-rs against the virtual cluster: typed CRUD, dynamic objects of a CRD, discovery,
//! watchers, conditions, errors, and byte-identical answers for the same seed and clock.

mod common;

use common::TestCluster;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, conditions, wait::await_condition, watcher};
use kube::{Client, Config, config::KubeConfigOptions, config::Kubeconfig};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

async fn client_for(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "geo"}},
        "data": {"a": "1"}
    }))
    .expect("configmap")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_configmap_crud() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = cms
        .create(&PostParams::default(), &cm("geo"))
        .await
        .expect("create");
    let rv = created.metadata.resource_version.clone().expect("rv");
    assert!(created.metadata.uid.is_some());
    let fetched = cms.get("geo").await.expect("get");
    assert_eq!(
        fetched
            .data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("1")
    );

    let listed = cms
        .list(&ListParams::default().labels("app=geo"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    assert!(
        cms.list(&ListParams::default().labels("app=other"))
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let patched = cms
        .patch(
            "geo",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.data.as_ref().map(|d| d.len()), Some(2));

    // A replace with the stale resourceVersion conflicts.
    let mut stale = fetched.clone();
    stale.metadata.resource_version = Some(rv);
    let err = cms
        .replace("geo", &PostParams::default(), &stale)
        .await
        .expect_err("conflict");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.is_conflict()),
        "{err}"
    );

    let applied = cms
        .patch(
            "applied",
            &PatchParams::apply("aiopslab").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "applied"}, "data": {"x": "y"}})),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        applied.metadata.managed_fields.expect("managed")[0]
            .manager
            .as_deref(),
        Some("aiopslab")
    );

    let missing = cms.get("nope").await.expect_err("missing");
    assert!(
        matches!(&missing, kube::Error::Api(s) if s.is_not_found()),
        "{missing}"
    );
    let invalid = cms
        .create(&PostParams::default(), &cm("Bad_Name"))
        .await
        .expect_err("invalid");
    assert!(
        matches!(&invalid, kube::Error::Api(s) if s.is_invalid()),
        "{invalid}"
    );

    let deleted = cms
        .delete("geo", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_right(), "a ConfigMap delete answers a Status");
    assert!(cms.get_opt("geo").await.expect("get_opt").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_podchaos_after_its_crd() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(
        serde_json::to_value(serde_saphyr_yaml(include_str!("data/podchaos-crd.yaml")))
            .expect("json"),
    )
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let established = tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            crds.clone(),
            "podchaos.chaos-mesh.org",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("in time")
    .expect("condition");
    assert!(established.is_some());

    let gvk = GroupVersionKind::gvk("chaos-mesh.org", "v1alpha1", "PodChaos");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "podchaos");
    let chaos: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut obj = DynamicObject::new("kill", &ar);
    obj.data = json!({"spec": {"action": "pod-kill", "mode": "one"}});
    chaos
        .create(&PostParams::default(), &obj)
        .await
        .expect("create chaos");
    let list = chaos.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].data["spec"]["action"], "pod-kill");

    // Aggregated discovery resolves the kind with its real plural.
    let discovery = kube::Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let (found, caps) = discovery.resolve_gvk(&gvk).expect("PodChaos discovered");
    assert_eq!(found.plural, "podchaos");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    // The agent neither discovers nor reads it.
    let agent = client_for(t.cluster.agent_kubeconfig_path()).await;
    let agent_discovery = kube::Discovery::new(agent.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    assert!(agent_discovery.resolve_gvk(&gvk).is_none());
    let agent_chaos: Api<DynamicObject> = Api::namespaced_with(agent, "default", &ar);
    let refused = agent_chaos
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.is_forbidden()),
        "{refused}"
    );

    let uid = list.items[0].metadata.uid.clone().expect("uid");
    chaos
        .delete("kill", &DeleteParams::default())
        .await
        .expect("delete");
    let gone = tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(chaos.clone(), "kill", conditions::is_deleted(&uid)),
    )
    .await
    .expect("in time");
    assert!(gone.is_ok());
}

/// YAML to JSON through serde-saphyr (what kube-rs uses for kubeconfigs).
fn serde_saphyr_yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("yaml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_creates_updates_and_deletes() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let stream = watcher(cms.clone(), watcher::Config::default().labels("app=geo"))
        .touched_objects()
        .map_ok(|cm| cm.metadata.name.unwrap_or_default());
    let collected = tokio::spawn(async move {
        stream
            .take(3)
            .try_collect::<Vec<_>>()
            .await
            .expect("watch events")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cms.create(&PostParams::default(), &cm("w1"))
        .await
        .expect("create");
    cms.create(&PostParams::default(), &cm("w2"))
        .await
        .expect("create");
    // Not matching the selector: never seen.
    let mut other = cm("other");
    other.metadata.labels = None;
    cms.create(&PostParams::default(), &other)
        .await
        .expect("create");
    cms.delete("w1", &DeleteParams::default())
        .await
        .expect("delete");
    let names = tokio::time::timeout(Duration::from_secs(10), collected)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(names, vec!["w1", "w2", "w1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_namespaces_are_forbidden_for_the_agent() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let admin = client_for(t.cluster.admin_kubeconfig_path()).await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "aiopslab-system"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
    let agent = client_for(t.cluster.agent_kubeconfig_path()).await;
    let hidden: Api<ConfigMap> = Api::namespaced(agent.clone(), "aiopslab-system");
    let err = hidden
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                "configmaps is forbidden: User \"system:serviceaccount:aiopslab:agent\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"aiopslab-system\""
            );
        }
        other => panic!("unexpected {other}"),
    }
    let visible: Vec<String> = Api::<Namespace>::all(agent)
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(visible.contains(&"default".to_string()));
    assert!(!visible.contains(&"aiopslab-system".to_string()));
}

/// The same seed, clock and requests give byte-identical answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_clock_same_bytes() {
    async fn run() -> Vec<String> {
        let clock =
            aiopslab_sim::clock::ManualClock::at("2026-01-01T00:00:00Z".parse().expect("time"));
        let t = TestCluster::start_with(|c| {
            c.with_seed(42)
                .with_manual_clock(clock.clone())
                .with_controllers(false)
        })
        .await;
        let client = client_for(t.cluster.admin_kubeconfig_path()).await;
        let mut out = Vec::new();
        let requests: Vec<http::Request<Vec<u8>>> = vec![
            post(
                "/api/v1/namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "geo"}}),
            ),
            post(
                "/api/v1/namespaces/geo/configmaps",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cfg-"}, "data": {"a": "1"}}),
            ),
            post(
                "/apis/apps/v1/namespaces/geo/deployments",
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
            ),
            get("/api/v1/namespaces/geo/configmaps", None),
            get(
                "/apis/apps/v1/namespaces/geo/deployments",
                Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
            ),
            get("/apis/apps/v1/namespaces/geo/deployments/web", None),
        ];
        for req in requests {
            out.push(client.request_text(req).await.expect("request"));
            clock.advance(jiff::SignedDuration::from_secs(7));
        }
        out
    }
    let a = run().await;
    let b = run().await;
    assert_eq!(a.len(), 6);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert!(a[1].contains("\"name\":\"cfg-"), "{}", a[1]);
    assert!(a[4].contains("\"kind\":\"Table\""), "{}", a[4]);
}

fn post(path: &str, body: serde_json::Value) -> http::Request<Vec<u8>> {
    http::Request::post(path)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .expect("request")
}

fn get(path: &str, accept: Option<&str>) -> http::Request<Vec<u8>> {
    let mut r = http::Request::get(path);
    if let Some(a) = accept {
        r = r.header("Accept", a);
    }
    r.body(Vec::new()).expect("request")
}

/// With the controllers running on a manual clock, the same seed and requests (each followed
/// by letting the controllers settle) give the same pods, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_on_a_manual_clock_are_deterministic() {
    async fn run() -> Vec<String> {
        let clock =
            aiopslab_sim::clock::ManualClock::at("2026-01-01T00:00:00Z".parse().expect("time"));
        let t = TestCluster::start_with(|c| c.with_seed(7).with_manual_clock(clock.clone())).await;
        let client = client_for(t.cluster.admin_kubeconfig_path()).await;
        let handle = t.cluster.controllers().expect("controllers run");
        handle.settle().await;
        let mut out = Vec::new();
        let deploy = post(
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}),
        );
        out.push(client.request_text(deploy).await.expect("create"));
        handle.advance(jiff::SignedDuration::from_secs(60)).await;
        for req in [
            get("/api/v1/namespaces/default/pods", None),
            get(
                "/api/v1/namespaces/default/pods",
                Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
            ),
            get("/apis/apps/v1/namespaces/default/replicasets", None),
            get("/api/v1/namespaces/default/events", None),
        ] {
            out.push(client.request_text(req).await.expect("request"));
        }
        out
    }
    let a = run().await;
    let b = run().await;
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    let pods: serde_json::Value = serde_json::from_str(&a[1]).expect("pod list");
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert!(
        items.iter().all(|p| p["status"]["phase"] == "Running"),
        "{}",
        a[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_scale_paging_and_dry_runs() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
        "status": {"replicas": 99}
    }))
    .expect("deployment");
    let created = deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    assert!(created.status.is_none(), "status is not set on create");

    // The status subresource changes only the status...
    let st = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"replicas": 5}, "status": {"replicas": 2, "readyReplicas": 1}}),
            ),
        )
        .await
        .expect("status patch");
    assert_eq!(st.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(st.status.as_ref().and_then(|s| s.ready_replicas), Some(1));
    // ... and the main resource keeps it.
    let main = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 7}})),
        )
        .await
        .expect("patch");
    assert_eq!(main.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(main.status.as_ref().and_then(|s| s.ready_replicas), Some(1));

    // Scale, as kubectl scale and autoscalers use it.
    let scale = deploys.get_scale("web").await.expect("scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        scale.status.as_ref().and_then(|s| s.selector.clone()),
        Some("app=web".into())
    );
    let scaled = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("scale patch");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(
        deploys
            .get("web")
            .await
            .expect("get")
            .spec
            .and_then(|s| s.replicas),
        Some(4)
    );

    // Paging with limit and continue.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        cms.create(&PostParams::default(), &cm(&format!("page-{i}")))
            .await
            .expect("create");
    }
    let first = cms
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().expect("continue token");
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(
        second
            .items
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect::<Vec<_>>(),
        vec!["page-2", "page-3"]
    );

    // Dry runs store nothing.
    cms.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &cm("ghost"),
    )
    .await
    .expect("dry-run create");
    assert!(cms.get_opt("ghost").await.expect("get").is_none());
    cms.delete(
        "page-0",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("dry-run delete");
    assert!(cms.get_opt("page-0").await.expect("get").is_some());

    // Binding and eviction.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    let binding = http::Request::post("/api/v1/namespaces/default/pods/p/binding")
        .header("Content-Type", "application/json")
        .body(
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "kind-worker"}}))
            .expect("json"),
        )
        .expect("request");
    client.request_text(binding).await.expect("bind");
    assert_eq!(
        pods.get("p")
            .await
            .expect("pod")
            .spec
            .and_then(|s| s.node_name),
        Some("kind-worker".into())
    );
    pods.evict("p", &kube::api::EvictParams::default())
        .await
        .expect("evict");
    let evicted = pods.get_opt("p").await.expect("get");
    assert!(
        evicted.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
        "an evicted pod is deleted (gracefully)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_stops_answering() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.list(&ListParams::default()).await.expect("served");
    let TestCluster { cluster, dir: _dir } = t;
    cluster.shutdown().await;
    let after = tokio::time::timeout(Duration::from_secs(10), cms.list(&ListParams::default()))
        .await
        .expect("fails fast");
    assert!(
        after.is_err(),
        "a kept-alive connection must not outlive the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_watch_sends_initial_events_then_changes() {
    let t = TestCluster::start_with(|c| c.with_controllers(false)).await;
    let client = client_for(t.cluster.admin_kubeconfig_path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("before"))
        .await
        .expect("create");
    let stream = watcher(cms.clone(), watcher::Config::default().streaming_lists())
        .default_backoff()
        .applied_objects()
        .map_ok(|cm| cm.metadata.name.unwrap_or_default());
    let collected = tokio::spawn(async move {
        stream
            .take(2)
            .try_collect::<Vec<_>>()
            .await
            .expect("events")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cms.create(&PostParams::default(), &cm("after"))
        .await
        .expect("create");
    let names = tokio::time::timeout(Duration::from_secs(10), collected)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(names, vec!["before", "after"]);
}
