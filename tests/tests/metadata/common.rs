//! Facts shared by both applications: namespaces, Service target ports, volume references,
//! `app.json` and the wrk2 scripts.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::access::*;
use crate::load::*;

// ------------------------------------------------------------------------------------------
// Facts shared by both applications
// ------------------------------------------------------------------------------------------

#[test]
fn manifests_carry_no_namespace() {
    for app in [hotel(), social()] {
        for (doc, (file, index)) in app.raw.iter().zip(&app.origins) {
            assert!(
                doc.pointer("/metadata/namespace").is_none(),
                "{}/{file} document {index}: the manifests are applied with -n; drop metadata.namespace",
                app.name
            );
        }
    }
}

/// Services whose numeric targetPort is not declared by the pods, as in the real chart.
pub(crate) const UNDECLARED_TARGET_PORTS: &[(&str, &str, i32)] =
    &[("social-network", "media-frontend", 8080)];

#[test]
fn service_target_ports_reach_declared_container_ports() {
    for app in [hotel(), social()] {
        for svc in &app.services {
            let name = name_of(&svc.metadata);
            let selector = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .unwrap_or_default();
            assert!(
                !selector.is_empty(),
                "{}: service {name} has no selector",
                app.name
            );
            let pods: Vec<&Deployment> = app
                .deployments
                .iter()
                .filter(|d| {
                    let labels = pod_labels(d);
                    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
                .collect();
            assert!(
                !pods.is_empty(),
                "{}: service {name} selects no pod template",
                app.name
            );
            for port in ports(svc) {
                let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
                let target = port
                    .target_port
                    .clone()
                    .unwrap_or(IntOrString::Int(port.port));
                let reached = pods.iter().flat_map(|d| &pod_spec(d).containers).any(|c| {
                    c.ports.iter().flatten().any(|cp| {
                        cp.protocol.clone().unwrap_or_else(|| "TCP".into()) == protocol
                            && match &target {
                                IntOrString::Int(n) => cp.container_port == *n,
                                IntOrString::String(s) => cp.name.as_deref() == Some(s.as_str()),
                            }
                    })
                });
                let exception = matches!(target, IntOrString::Int(n)
                    if UNDECLARED_TARGET_PORTS.contains(&(app.name.as_str(), name, n)));
                assert!(
                    reached != exception,
                    "{}: service {name} port {} -> {target:?}/{protocol}: {}",
                    app.name,
                    port.port,
                    if exception {
                        "listed as undeclared but now declared; update UNDECLARED_TARGET_PORTS"
                    } else {
                        "no selected container declares it"
                    }
                );
            }
        }
    }
}

#[test]
fn volumes_refer_to_objects_of_the_app() {
    for app in [hotel(), social()] {
        let config_maps: BTreeMap<String, BTreeMap<String, String>> = app
            .config_maps
            .iter()
            .map(|c| (name_of(&c.metadata).to_string(), data(c)))
            .collect();
        let secrets = names(&app.secrets, |s| name_of(&s.metadata));
        let claims = names(&app.pvcs, |p| name_of(&p.metadata));
        for d in &app.deployments {
            let dname = name_of(&d.metadata);
            let spec = pod_spec(d);
            let volumes = spec.volumes.clone().unwrap_or_default();
            for v in &volumes {
                if let Some(cm) = &v.config_map {
                    assert!(
                        config_maps.contains_key(&cm.name),
                        "{}: {dname} needs configmap {}",
                        app.name,
                        cm.name
                    );
                }
                if let Some(secret) = &v.secret {
                    let wanted = secret.secret_name.clone().unwrap_or_default();
                    assert!(
                        secrets.contains(&wanted),
                        "{}: {dname} needs secret {wanted}",
                        app.name
                    );
                }
                if let Some(pvc) = &v.persistent_volume_claim {
                    assert!(
                        claims.contains(&pvc.claim_name),
                        "{}: {dname} needs pvc {}",
                        app.name,
                        pvc.claim_name
                    );
                }
            }
            for c in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                for (vol, path, sub_path, _) in mounts(c) {
                    let volume = volumes.iter().find(|v| v.name == vol).unwrap_or_else(|| {
                        panic!(
                            "{}: {dname}/{} mounts undeclared volume {vol}",
                            app.name, c.name
                        )
                    });
                    if let (Some(key), Some(cm)) = (&sub_path, &volume.config_map) {
                        let keys = &config_maps[&cm.name];
                        assert!(
                            keys.contains_key(key),
                            "{}: {dname} mounts {path} from missing key {}/{key}",
                            app.name,
                            cm.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn app_json_has_the_keys_the_orchestrator_reads() {
    for app in [hotel(), social()] {
        let meta = &app.meta;
        for key in ["Name", "Namespace", "Desc"] {
            assert!(
                meta[key].as_str().is_some_and(|s| !s.is_empty()),
                "{}: app.json {key}",
                app.name
            );
        }
        let operations = meta["Supported Operations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !operations.is_empty() && operations.iter().all(Value::is_string),
            "{}: Supported Operations",
            app.name
        );
        for key in ["release_name", "chart_path", "namespace"] {
            assert!(
                meta["Helm Config"][key].is_string(),
                "{}: Helm Config.{key}",
                app.name
            );
        }

        let frontend = meta["Frontend"]["service"].as_str().unwrap_or_default();
        let port = meta["Frontend"]["port"].as_i64().unwrap_or_default();
        assert!(
            ports(service(&app, frontend))
                .iter()
                .any(|p| i64::from(p.port) == port),
            "{}: Frontend {frontend}:{port} is not a service port",
            app.name
        );

        let listed: Vec<String> = ["pre_deploy", "manifests"]
            .iter()
            .flat_map(|k| meta["Deploy"][k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            listed.len(),
            "{}: a manifest is listed twice in Deploy",
            app.name
        );
        let on_disk: Vec<String> = app.files.iter().map(|f| format!("manifests/{f}")).collect();
        assert_eq!(
            sorted, on_disk,
            "{}: Deploy.pre_deploy + Deploy.manifests must list every manifest file",
            app.name
        );
        assert!(
            meta["Deploy"]["method"].is_string(),
            "{}: Deploy.method",
            app.name
        );

        let script = meta["Workload"]["script"].as_str().unwrap_or_default();
        let file = meta["Workload"]["file"].as_str().unwrap_or_default();
        assert!(
            file.ends_with(&format!("/{script}")),
            "{}: Workload.file {file} is not {script}",
            app.name
        );
        assert!(
            metadata_dir().join(&app.name).join(file).is_file(),
            "{}: {file} missing",
            app.name
        );
        assert!(
            meta["Workload"]["url_path"].is_string(),
            "{}: Workload.url_path",
            app.name
        );

        let profiles: BTreeSet<String> = meta["Profiles"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            profiles,
            names(&app.deployments, |d| name_of(&d.metadata)),
            "{}: Profiles keys",
            app.name
        );
    }

    let hr = hotel();
    assert_eq!(hr.meta["Name"], "Hotel Reservation");
    assert_eq!(hr.meta["Namespace"], "test-hotel-reservation");
    assert_eq!(
        hr.meta["Frontend"],
        serde_json::json!({"service": "frontend", "port": 5000})
    );
    assert_eq!(hr.meta["Deploy"]["method"], "kubectl");
    assert_eq!(hr.meta["Workload"]["script"], "mixed-workload_type_1.lua");
    assert_eq!(hr.meta["Workload"]["url_path"], "");
    assert_eq!(hr.meta["Profiles"]["geo"], "hotelreservation/geo");
    assert_eq!(hr.meta["Profiles"]["mongodb-rate"], "mongo-4.4.6-auth");

    let sn = social();
    assert_eq!(sn.meta["Name"], "Social Network");
    assert_eq!(sn.meta["Namespace"], "test-social-network");
    assert_eq!(
        sn.meta["Frontend"],
        serde_json::json!({"service": "nginx-thrift", "port": 8080})
    );
    assert_eq!(sn.meta["Deploy"]["method"], "helm");
    assert_eq!(sn.meta["Helm Config"]["release_name"], "social-network");
    assert_eq!(sn.meta["Workload"]["script"], "compose-post.lua");
    assert_eq!(sn.meta["Workload"]["url_path"], "/wrk2-api/post/compose");
    assert_eq!(sn.meta["Profiles"]["user-service"], "sn/user-service");
}

#[test]
fn wrk2_scripts_implement_the_request_mix() {
    let dir = metadata_dir().join("workloads");
    let read =
        |f: &str| fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("workloads/{f}: {e}"));

    let hotel = read("mixed-workload_type_1.lua");
    for needle in [
        "function request()",
        "http://localhost:5000",
        "/hotels?inDate=2015-04-",
        "/recommendations?require=",
        "/user?username=",
        "/reservation?inDate=2015-04-",
        "&lat=nil&lon=nil",
        "&number=1",
        "local SEARCH_SHARE = 0.6",
        "local RECOMMEND_SHARE = 0.39",
        "local USER_SHARE = 0.005",
        "\"dis\"",
        "\"rate\"",
        "\"price\"",
        "\"Cornell_\"",
    ] {
        assert!(
            hotel.contains(needle),
            "mixed-workload_type_1.lua lacks {needle:?}"
        );
    }

    let social = read("compose-post.lua");
    for needle in [
        "function request()",
        "\"http://localhost:8080/wrk2-api/post/compose\"",
        "os.getenv(\"max_user_index\")) or 962",
        "application/x-www-form-urlencoded",
        "\"username=username_\"",
        "\"&user_id=\"",
        "\"&text=\"",
        "\"&media_ids=[\"",
        "\"&media_types=[\"",
        "\"&post_type=0\"",
        "\" @username_\"",
        "\" http://\"",
        "'\"png\"'",
    ] {
        assert!(social.contains(needle), "compose-post.lua lacks {needle:?}");
    }
}
