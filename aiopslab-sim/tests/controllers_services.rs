//! Endpoints and EndpointSlices follow pods, readiness and target ports.

mod controllers_support;

use controllers_support::{Sim, deployment};
use serde_json::json;

fn service(name: &str, target: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": "web"}},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080, "targetPort": target}]}})
}

#[tokio::test]
async fn endpoints_follow_readiness_and_target_ports() {
    let sim = Sim::new(31).await;
    let mut d = deployment("web", "nginx:1.25", 2);
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = json!({"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 20, "periodSeconds": 5});
    sim.apply(d).await;
    sim.apply(service("web", json!("http"))).await;
    sim.apply(service("web-num", json!(9090))).await;
    sim.apply(service("web-bad-name", json!("nope"))).await;
    sim.advance(5).await;
    // Running but not ready yet.
    let ep = sim.get("", "endpoints", "test", "web").unwrap();
    let sub = &ep["subsets"][0];
    assert!(sub["addresses"].is_null(), "{ep:#}");
    assert_eq!(sub["notReadyAddresses"].as_array().unwrap().len(), 2);
    assert_eq!(
        sub["ports"],
        json!([{"name": "http", "port": 80, "protocol": "TCP"}])
    );
    sim.advance(20).await;
    let ep = sim.get("", "endpoints", "test", "web").unwrap();
    let sub = &ep["subsets"][0];
    let mut ips: Vec<String> = sub["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .collect();
    let mut pod_ips: Vec<String> = sim
        .pods("test", "app=web")
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    ips.sort();
    pod_ips.sort();
    assert_eq!(ips, pod_ips);
    assert!(sub["notReadyAddresses"].is_null());
    assert_eq!(sub["addresses"][0]["targetRef"]["kind"], "Pod");
    assert_eq!(ep["metadata"]["labels"]["app"], "web");
    let num = sim.get("", "endpoints", "test", "web-num").unwrap();
    assert_eq!(num["subsets"][0]["ports"][0]["port"], 9090);
    // A named port no container declares: no endpoints.
    let bad = sim.get("", "endpoints", "test", "web-bad-name").unwrap();
    assert!(bad["subsets"].is_null(), "{bad:#}");
    // The EndpointSlice says the same.
    let slices: Vec<_> = sim
        .list("discovery.k8s.io", "endpointslices", "test")
        .into_iter()
        .filter(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
        .collect();
    assert_eq!(slices.len(), 1);
    let s = &slices[0];
    assert!(s["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(
        s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(s["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(s["addressType"], "IPv4");
    assert_eq!(s["endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(
        s["endpoints"][0]["conditions"],
        json!({"ready": true, "serving": true, "terminating": false})
    );
    // Patching the Service's targetPort moves the endpoints.
    sim.update("", "services", "test", "web", |s| {
        s["spec"]["ports"][0]["targetPort"] = json!(9999)
    })
    .await;
    let ep = sim.get("", "endpoints", "test", "web").unwrap();
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 9999);
    // Scaling to zero empties them; deleting the Service removes them.
    sim.update("apps", "deployments", "test", "web", |d| {
        d["spec"]["replicas"] = json!(0)
    })
    .await;
    sim.advance(5).await;
    assert!(sim.get("", "endpoints", "test", "web").unwrap()["subsets"].is_null());
    sim.store
        .delete(
            &controllers_support::key("", "services"),
            "test",
            "web",
            None,
            None,
            None,
        )
        .unwrap();
    sim.advance(1).await;
    assert!(sim.get("", "endpoints", "test", "web").is_none());
    assert!(
        sim.list("discovery.k8s.io", "endpointslices", "test")
            .iter()
            .all(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] != "web")
    );
}

#[tokio::test]
async fn services_without_selector_keep_their_own_endpoints() {
    let sim = Sim::new(32).await;
    sim.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"}, "spec": {"ports": [{"port": 5432}]}})).await;
    sim.advance(2).await;
    assert!(sim.get("", "endpoints", "test", "ext").is_none());
    sim.apply(json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
                     "subsets": [{"addresses": [{"ip": "192.168.1.5"}], "ports": [{"port": 5432}]}]})).await;
    sim.advance(2).await;
    assert_eq!(
        sim.get("", "endpoints", "test", "ext").unwrap()["subsets"][0]["addresses"][0]["ip"],
        "192.168.1.5"
    );
}
