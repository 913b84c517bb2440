//! Hotel Reservation: the kompose manifests and AIOpsLab's MongoDB script ConfigMaps.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

use crate::access::*;
use crate::load::*;

// ------------------------------------------------------------------------------------------
// Hotel Reservation
// ------------------------------------------------------------------------------------------

/// Go services: (deployment, port).
pub(crate) const HR_GO: [(&str, i32); 8] = [
    ("frontend", 5000),
    ("search", 8082),
    ("geo", 8083),
    ("profile", 8081),
    ("rate", 8084),
    ("recommendation", 8085),
    ("user", 8086),
    ("reservation", 8087),
];
pub(crate) const HR_MONGO: [&str; 6] = [
    "geo",
    "profile",
    "rate",
    "recommendation",
    "reservation",
    "user",
];
/// memcached deployments and their container names.
pub(crate) const HR_MEMCACHED: [(&str, &str); 3] = [
    ("memcached-profile", "hotel-reserv-profile-mmc"),
    ("memcached-rate", "hotel-reserv-rate-mmc"),
    ("memcached-reserve", "hotel-reserv-reservation-mmc"),
];
pub(crate) const KOMPOSE_CMD: (&str, &str) = ("kompose.cmd", "kompose convert");
pub(crate) const KOMPOSE_VERSION: (&str, &str) = ("kompose.version", "1.22.0 (955b78124)");

pub(crate) fn hr_deployment_names() -> BTreeSet<String> {
    let mut all: BTreeSet<String> = HR_GO.iter().map(|(n, _)| n.to_string()).collect();
    all.extend(HR_MONGO.iter().map(|x| format!("mongodb-{x}")));
    all.extend(HR_MEMCACHED.iter().map(|(n, _)| n.to_string()));
    all.extend(["consul".to_string(), "jaeger".to_string()]);
    all
}

#[test]
fn hotel_reservation_has_the_kompose_objects() {
    let app = hotel();
    assert_eq!(app.deployments.len(), 19);
    assert_eq!(app.services.len(), 20);
    assert_eq!(app.pvcs.len(), 6);
    assert_eq!(app.config_maps.len(), 4);
    assert!(
        app.secrets.is_empty() && app.pvs.is_empty(),
        "no Secrets or PVs in the kompose manifests"
    );

    let deployments = names(&app.deployments, |d| name_of(&d.metadata));
    assert_eq!(deployments, hr_deployment_names());
    let mut expected_services = deployments.clone();
    expected_services.insert("jaeger-out".into());
    assert_eq!(
        names(&app.services, |s| name_of(&s.metadata)),
        expected_services
    );
    assert_eq!(
        names(&app.pvcs, |p| name_of(&p.metadata)),
        HR_MONGO.iter().map(|x| format!("{x}-pvc")).collect()
    );
    assert_eq!(
        names(&app.config_maps, |c| name_of(&c.metadata)),
        strings(&[
            "mongo-rate-script",
            "mongo-geo-script",
            "failure-admin-rate",
            "failure-admin-geo"
        ])
    );
    for pvc in &app.pvcs {
        let spec = pvc
            .spec
            .as_ref()
            .unwrap_or_else(|| panic!("pvc without spec"));
        assert_eq!(
            spec.access_modes.clone().unwrap_or_default(),
            vec!["ReadWriteOnce".to_string()]
        );
        let storage = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"));
        assert_eq!(storage.map(|q| q.0.as_str()), Some("1Gi"));
        assert!(
            spec.storage_class_name.is_none(),
            "PVCs use the cluster's default class"
        );
    }
}

#[test]
fn hotel_reservation_follows_kompose_conventions() {
    let app = hotel();
    for d in &app.deployments {
        let name = name_of(&d.metadata);
        let label = map(&[("io.kompose.service", name)]);
        assert_eq!(labels(&d.metadata), label, "{name}: deployment labels");
        assert_eq!(
            annotations(&d.metadata),
            map(&[KOMPOSE_CMD, KOMPOSE_VERSION]),
            "{name}: annotations"
        );
        let spec = d.spec.as_ref().unwrap_or_else(|| panic!("{name}: no spec"));
        assert_eq!(spec.replicas, Some(1), "{name}: replicas");
        assert_eq!(
            spec.selector.match_labels.clone().unwrap_or_default(),
            label,
            "{name}: selector"
        );
        assert_eq!(pod_labels(d), label, "{name}: pod template labels");
        let pod_annotations = template(d)
            .metadata
            .as_ref()
            .map(annotations)
            .unwrap_or_default();
        assert_eq!(
            pod_annotations.get("kompose.cmd").map(String::as_str),
            Some("kompose convert")
        );
        assert_eq!(
            pod_annotations
                .get("sidecar.istio.io/statsInclusionRegexps")
                .map(String::as_str),
            Some("http.*")
        );
        let strategy = spec.strategy.as_ref().and_then(|s| s.type_.as_deref());
        let expected = if name.starts_with("mongodb-") {
            Some("Recreate")
        } else {
            None
        };
        assert_eq!(strategy, expected, "{name}: strategy");
        let restart = pod_spec(d).restart_policy.as_deref();
        assert_eq!(
            restart,
            if name == "mongodb-rate" {
                None
            } else {
                Some("Always")
            },
            "{name}: restartPolicy"
        );
        for c in &pod_spec(d).containers {
            assert_eq!(
                c.image_pull_policy.as_deref(),
                Some("IfNotPresent"),
                "{name}: imagePullPolicy"
            );
            let resources = c
                .resources
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no resources"));
            let cpu = |m: &Option<
                BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| { m.as_ref().and_then(|m| m.get("cpu")).map(|q| q.0.clone()) };
            assert_eq!(
                cpu(&resources.requests).as_deref(),
                Some("100m"),
                "{name}: cpu request"
            );
            assert_eq!(
                cpu(&resources.limits).as_deref(),
                Some("1000m"),
                "{name}: cpu limit"
            );
            assert!(
                c.readiness_probe.is_none() && c.liveness_probe.is_none(),
                "{name}: no probes"
            );
        }
    }
}

#[test]
fn hotel_reservation_go_services_run_one_image_by_command() {
    let app = hotel();
    for (name, port) in HR_GO {
        let c = only_container(deployment(&app, name));
        assert_eq!(c.name, format!("hotel-reserv-{name}"));
        assert_eq!(
            c.image.as_deref(),
            Some("yinfangchen/hotelreservation:latest"),
            "{name}: image"
        );
        assert_eq!(
            c.command.clone().unwrap_or_default(),
            vec![name.to_string()],
            "{name}: command"
        );
        assert!(c.args.is_none(), "{name}: no args");
        assert_eq!(
            container_ports(c),
            vec![(port, "TCP".to_string())],
            "{name}: ports"
        );
        assert_eq!(
            env(c),
            vec![("JAEGER_SAMPLE_RATIO".to_string(), "1".to_string())],
            "{name}: env"
        );
        let svc_ports = ports(service(&app, name));
        assert_eq!(svc_ports.len(), 1);
        assert_eq!(
            svc_ports[0].name.as_deref(),
            Some(port.to_string().as_str()),
            "{name}: port name"
        );
        assert_eq!(svc_ports[0].port, port);
        assert_eq!(svc_ports[0].target_port, Some(IntOrString::Int(port)));
    }
}

#[test]
fn hotel_reservation_databases_caches_and_infrastructure() {
    let app = hotel();
    for x in HR_MONGO {
        let name = format!("mongodb-{x}");
        let d = deployment(&app, &name);
        let c = only_container(d);
        assert_eq!(c.name, format!("hotel-reserv-{x}-mongo"));
        assert_eq!(c.image.as_deref(), Some("mongo:4.4.6"));
        assert!(c.command.is_none());
        assert_eq!(container_ports(c), vec![(27017, "TCP".to_string())]);
        let auth = x == "geo" || x == "rate";
        let mut expected_mounts = vec![(x.to_string(), "/data/db".to_string(), None, false)];
        if auth {
            assert_eq!(
                c.args.clone().unwrap_or_default(),
                vec!["--auth".to_string()],
                "{name}: --auth"
            );
            assert!(pod_spec(d).hostname.is_none(), "{name}: no hostname");
            expected_mounts.push((
                "init-script".into(),
                "/docker-entrypoint-initdb.d".into(),
                None,
                false,
            ));
            expected_mounts.push(("failure-script".into(), "/scripts".into(), None, false));
            let volumes = pod_spec(d).volumes.clone().unwrap_or_default();
            let cm_of = |v: &str| {
                volumes
                    .iter()
                    .find(|vol| vol.name == v)
                    .and_then(|vol| vol.config_map.as_ref())
                    .map(|c| c.name.clone())
            };
            assert_eq!(cm_of("init-script"), Some(format!("mongo-{x}-script")));
            assert_eq!(cm_of("failure-script"), Some(format!("failure-admin-{x}")));
        } else {
            assert!(c.args.is_none(), "{name}: no --auth");
            assert_eq!(
                pod_spec(d).hostname.clone(),
                Some(format!("{x}-db")),
                "{name}: hostname"
            );
        }
        assert_eq!(mounts(c), expected_mounts, "{name}: volume mounts");
        let claim = pod_spec(d)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == x)
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .map(|p| p.claim_name.clone());
        assert_eq!(claim, Some(format!("{x}-pvc")), "{name}: data volume");
        let svc = &ports(service(&app, &name))[0];
        assert_eq!(
            (svc.name.as_deref(), svc.port),
            (Some(name.as_str()), 27017),
            "{name}: service port"
        );
    }

    for (name, container) in HR_MEMCACHED {
        let c = only_container(deployment(&app, name));
        assert_eq!(c.name, container);
        assert_eq!(c.image.as_deref(), Some("memcached"));
        assert_eq!(container_ports(c), vec![(11211, "TCP".to_string())]);
        assert_eq!(
            env(c),
            vec![
                ("MEMCACHED_CACHE_SIZE".into(), "128".into()),
                ("MEMCACHED_THREADS".into(), "2".into())
            ]
        );
        let svc = &ports(service(&app, name))[0];
        assert_eq!((svc.name.as_deref(), svc.port), (Some(name), 11211));
    }

    let consul = only_container(deployment(&app, "consul"));
    assert_eq!(
        (consul.name.as_str(), consul.image.as_deref()),
        ("consul", Some("hashicorp/consul:latest"))
    );
    assert!(
        consul.command.is_none() && consul.args.is_none(),
        "consul runs the image default"
    );
    let consul_svc: Vec<(i32, Option<IntOrString>, Option<String>)> =
        ports(service(&app, "consul"))
            .iter()
            .map(|p| (p.port, p.target_port.clone(), p.protocol.clone()))
            .collect();
    assert_eq!(
        consul_svc[3],
        (8600, Some(IntOrString::Int(53)), Some("UDP".into())),
        "consul DNS port"
    );

    let jaeger = only_container(deployment(&app, "jaeger"));
    assert_eq!(jaeger.name, "hotel-reserv-jaeger");
    assert_eq!(
        jaeger.image.as_deref(),
        Some("jaegertracing/all-in-one:1.57")
    );
    let jaeger_ports: Vec<i32> = ports(service(&app, "jaeger"))
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(
        jaeger_ports,
        vec![14269, 5778, 14268, 14267, 16686, 5775, 6831, 6832],
        "order as observed"
    );

    let out = service(&app, "jaeger-out");
    let spec = out
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("jaeger-out: no spec"));
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(
        labels(&out.metadata),
        map(&[("io.kompose.service", "jaeger")])
    );
    assert!(
        out.metadata.annotations.is_none(),
        "jaeger-out has no kompose annotations"
    );
    assert_eq!(ports(out).len(), 1);
    assert_eq!(
        (ports(out)[0].port, ports(out)[0].node_port),
        (16686, None),
        "node port is allocated"
    );

    for svc in app
        .services
        .iter()
        .filter(|s| name_of(&s.metadata) != "jaeger-out")
    {
        let name = name_of(&svc.metadata);
        let label = map(&[("io.kompose.service", name)]);
        assert_eq!(labels(&svc.metadata), label, "{name}: service labels");
        assert_eq!(
            annotations(&svc.metadata),
            map(&[KOMPOSE_CMD, KOMPOSE_VERSION]),
            "{name}: annotations"
        );
        let spec = svc
            .spec
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no spec"));
        assert_eq!(
            spec.selector.clone().unwrap_or_default(),
            label,
            "{name}: selector"
        );
        assert!(
            spec.type_.is_none() || spec.type_.as_deref() == Some("ClusterIP"),
            "{name}: ClusterIP"
        );
    }
}

#[test]
fn hotel_reservation_mongo_scripts_do_what_the_faults_expect() {
    let app = hotel();
    for x in ["geo", "rate"] {
        let db = "'$TARGET_DB'";
        let init = data(config_map(&app, &format!("mongo-{x}-script")));
        assert_eq!(
            init.keys().cloned().collect::<Vec<_>>(),
            vec![format!("k8s-{x}-mongo.sh")]
        );
        let script = &init[&format!("k8s-{x}-mongo.sh")];
        for needle in [
            format!("TARGET_DB=\"{x}-db\""),
            "echo \"Waiting for MongoDB to start...\"".to_string(),
            "echo \"Creating admin user...\"".to_string(),
            "echo \"Creating root user...\"".to_string(),
            "db.createUser({user: '$ADMIN_USER', pwd: '$ADMIN_PWD', roles: [{role: 'userAdminAnyDatabase', db: 'admin'}]})".to_string(),
            "db.createUser({user: '$ROOT_USER', pwd: '$ROOT_PWD', roles: [{role: 'userAdminAnyDatabase', db: 'admin'}]})".to_string(),
            format!("db.grantRolesToUser('$ADMIN_USER', [{{role: '$READ_WRITE_ROLE', db: {db}}}])"),
            format!("db.grantRolesToUser('$ROOT_USER', [{{role: '$READ_WRITE_ROLE', db: {db}}}])"),
            "echo \"Initialization script completed\"".to_string(),
        ] {
            assert!(script.contains(&needle), "k8s-{x}-mongo.sh lacks {needle:?}");
        }

        let failure = data(config_map(&app, &format!("failure-admin-{x}")));
        let keys: BTreeSet<String> = failure.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                format!("revoke-admin-{x}-mongo.sh"),
                format!("revoke-mitigate-admin-{x}-mongo.sh"),
                "remove-admin-mongo.sh".to_string(),
                format!("remove-mitigate-admin-{x}-mongo.sh"),
            ]
            .into_iter()
            .collect()
        );
        let has = |key: &str, needles: &[String]| {
            for needle in needles {
                assert!(
                    failure[key].contains(needle.as_str()),
                    "{key} lacks {needle:?}"
                );
            }
        };
        let target = format!("TARGET_DB=\"{x}-db\"");
        has(
            &format!("revoke-admin-{x}-mongo.sh"),
            &[
                target.clone(),
                "-u \"$ADMIN_USER\" -p \"$ADMIN_PWD\"".into(),
                format!("db.revokeRolesFromUser('$ADMIN_USER', [{{role: 'readWrite', db: {db}}}])"),
                "echo \"Downgrading admin user privileges...\"".into(),
                "echo \"Privileges downgraded\"".into(),
            ],
        );
        has(
            &format!("revoke-mitigate-admin-{x}-mongo.sh"),
            &[
                target.clone(),
                format!(
                    "db.grantRolesToUser('$ADMIN_USER', [{{role: '$READ_WRITE_ROLE', db: {db}}}])"
                ),
                "echo \"Privilege restored successfully\"".into(),
            ],
        );
        has(
            "remove-admin-mongo.sh",
            &[
                "-u \"$ROOT_USER\" -p \"$ROOT_PWD\"".into(),
                "db.dropUser('$REMOVED_USER')".into(),
                "REMOVED_USER=\"admin\"".into(),
                "echo \"Admin user removed successfully\"".into(),
            ],
        );
        has(&format!("remove-mitigate-admin-{x}-mongo.sh"), &[
            target,
            "-u \"$ROOT_USER\" -p \"$ROOT_PWD\"".into(),
            "db.createUser({user: '$ADMIN_USER', pwd: '$ADMIN_PWD', roles: [{role: 'userAdminAnyDatabase', db: 'admin'}]})".into(),
            format!("db.grantRolesToUser('$ADMIN_USER', [{{role: '$READ_WRITE_ROLE', db: {db}}}])"),
            "echo \"Privileges restored successfully\"".into(),
        ]);
        for (key, text) in &failure {
            assert!(
                text.starts_with("#!/bin/bash\n"),
                "{key}: run with /bin/bash"
            );
        }
    }
    assert_eq!(
        data(config_map(&app, "failure-admin-geo"))["remove-admin-mongo.sh"],
        data(config_map(&app, "failure-admin-rate"))["remove-admin-mongo.sh"],
        "remove-admin-mongo.sh is one file in both ConfigMaps"
    );
}
