//! Social Network: the Helm release's objects as installed, and the mongodb-tls Secret.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::access::*;
use crate::load::*;

// ------------------------------------------------------------------------------------------
// Social Network
// ------------------------------------------------------------------------------------------

/// Thrift services: (deployment, binary).
pub(crate) const SN_CPP: [(&str, &str); 11] = [
    ("compose-post-service", "ComposePostService"),
    ("home-timeline-service", "HomeTimelineService"),
    ("media-service", "MediaService"),
    ("post-storage-service", "PostStorageService"),
    ("social-graph-service", "SocialGraphService"),
    ("text-service", "TextService"),
    ("unique-id-service", "UniqueIdService"),
    ("url-shorten-service", "UrlShortenService"),
    ("user-mention-service", "UserMentionService"),
    ("user-service", "UserService"),
    ("user-timeline-service", "UserTimelineService"),
];
pub(crate) const SN_MONGO: [&str; 6] = [
    "media-mongodb",
    "post-storage-mongodb",
    "social-graph-mongodb",
    "url-shorten-mongodb",
    "user-mongodb",
    "user-timeline-mongodb",
];
pub(crate) const SN_REDIS: [&str; 3] = [
    "home-timeline-redis",
    "social-graph-redis",
    "user-timeline-redis",
];
pub(crate) const SN_MEMCACHED: [&str; 4] = [
    "media-memcached",
    "post-storage-memcached",
    "url-shorten-memcached",
    "user-memcached",
];
pub(crate) const SN_CONFIG: &str = "/social-network-microservices/config/";

pub(crate) fn sn_names() -> BTreeSet<String> {
    let mut all: BTreeSet<String> = SN_CPP.iter().map(|(n, _)| n.to_string()).collect();
    for n in SN_MONGO
        .iter()
        .chain(&SN_REDIS)
        .chain(&SN_MEMCACHED)
        .chain(&["jaeger", "nginx-thrift", "media-frontend"])
    {
        all.insert(n.to_string());
    }
    all
}

pub(crate) fn helm_annotations() -> BTreeMap<String, String> {
    map(&[
        ("meta.helm.sh/release-name", "social-network"),
        ("meta.helm.sh/release-namespace", "test-social-network"),
    ])
}

pub(crate) fn config_mounts(
    name: &str,
    keys: &[&str],
) -> Vec<(String, String, Option<String>, bool)> {
    keys.iter()
        .map(|k| {
            (
                format!("{name}-config"),
                format!("{SN_CONFIG}{k}"),
                Some(k.to_string()),
                false,
            )
        })
        .collect()
}

#[test]
fn social_network_has_the_helm_release_objects() {
    let app = social();
    assert_eq!(app.deployments.len(), 27);
    assert_eq!(app.services.len(), 27);
    assert_eq!(app.config_maps.len(), 27);
    assert_eq!(app.secrets.len(), 1);
    assert!(
        app.pvcs.is_empty() && app.pvs.is_empty(),
        "no persistence in the social network"
    );
    assert_eq!(
        names(&app.deployments, |d| name_of(&d.metadata)),
        sn_names()
    );
    assert_eq!(names(&app.services, |s| name_of(&s.metadata)), sn_names());
    assert_eq!(
        names(&app.config_maps, |c| name_of(&c.metadata)),
        sn_names()
    );
    assert_eq!(name_of(&app.secrets[0].metadata), "mongodb-tls");
}

#[test]
fn social_network_follows_the_chart_conventions() {
    let app = social();
    let managed = ("app.kubernetes.io/managed-by", "Helm");
    for d in &app.deployments {
        let name = name_of(&d.metadata);
        assert_eq!(
            labels(&d.metadata),
            map(&[("service", name), managed]),
            "{name}: deployment labels"
        );
        assert_eq!(
            annotations(&d.metadata),
            helm_annotations(),
            "{name}: deployment annotations"
        );
        let spec = d.spec.as_ref().unwrap_or_else(|| panic!("{name}: no spec"));
        assert_eq!(spec.replicas, Some(1));
        assert!(spec.strategy.is_none(), "{name}: default strategy");
        assert_eq!(
            spec.selector.match_labels.clone().unwrap_or_default(),
            map(&[("service", name)])
        );
        assert_eq!(
            pod_labels(d),
            map(&[("app", name), ("service", name)]),
            "{name}: pod labels"
        );
        let pod = pod_spec(d);
        assert_eq!(pod.hostname.as_deref(), Some(name), "{name}: hostname");
        assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
        let c = only_container(d);
        assert_eq!(c.name, name, "{name}: container name");
        assert!(
            c.image
                .as_deref()
                .is_some_and(|i| i.starts_with("docker.io/")),
            "{name}: registry prefix"
        );
        for c in pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
        {
            assert_eq!(
                c.image_pull_policy.as_deref(),
                Some("IfNotPresent"),
                "{name}/{}",
                c.name
            );
            assert!(c.resources.is_none(), "{name}: no resources");
        }
    }
    for s in &app.services {
        let name = name_of(&s.metadata);
        assert_eq!(
            labels(&s.metadata),
            map(&[managed]),
            "{name}: service labels"
        );
        assert_eq!(
            annotations(&s.metadata),
            helm_annotations(),
            "{name}: service annotations"
        );
        let spec = s.spec.as_ref().unwrap_or_else(|| panic!("{name}: no spec"));
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"), "{name}: type");
        assert_eq!(
            spec.selector.clone().unwrap_or_default(),
            map(&[("service", name)]),
            "{name}: selector"
        );
        for p in ports(s) {
            assert_eq!(
                p.name.clone(),
                Some(p.port.to_string()),
                "{name}: port name is the port number"
            );
        }
    }
    for c in &app.config_maps {
        let name = name_of(&c.metadata);
        assert_eq!(
            labels(&c.metadata),
            map(&[("socialnetwork/service", name), managed]),
            "{name}: configmap labels"
        );
        assert_eq!(annotations(&c.metadata), helm_annotations());
    }
    let secret = &app.secrets[0];
    assert!(
        secret.metadata.labels.is_none() && secret.metadata.annotations.is_none(),
        "mongodb-tls is not Helm's"
    );
}

#[test]
fn social_network_thrift_services_listen_on_9090() {
    let app = social();
    for (name, binary) in SN_CPP {
        let c = only_container(deployment(&app, name));
        assert_eq!(
            c.image.as_deref(),
            Some("docker.io/deathstarbench/social-network-microservices:latest")
        );
        assert_eq!(
            c.command.clone().unwrap_or_default(),
            vec![binary.to_string()],
            "{name}: command"
        );
        assert!(c.args.is_none());
        assert_eq!(container_ports(c), vec![(9090, "TCP".to_string())]);
        assert_eq!(
            mounts(c),
            config_mounts(name, &["jaeger-config.yml", "service-config.json"]),
            "{name}: mounts"
        );
        let p = ports(service(&app, name));
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].port, p[0].target_port.clone()),
            (9090, Some(IntOrString::Int(9090))),
            "{name}"
        );
    }
    // AIOpsLab's k8s_target_port-misconfig faults patch ports[0].targetPort 9090 -> 9999 on these.
    for name in ["user-service", "text-service", "post-storage-service"] {
        let p = &ports(service(&app, name))[0];
        assert_eq!(
            p.target_port,
            Some(IntOrString::Int(9090)),
            "{name}: targetPort must be the integer 9090"
        );
    }
}

#[test]
fn social_network_stores_frontends_and_jaeger() {
    let app = social();
    for name in SN_MONGO {
        let c = only_container(deployment(&app, name));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/mongo:4.4.6"));
        assert!(c.command.is_none());
        assert_eq!(
            c.args.clone().unwrap_or_default(),
            vec!["--config".to_string(), format!("{SN_CONFIG}mongod.conf")]
        );
        assert_eq!(container_ports(c), vec![(27017, "TCP".to_string())]);
        let mut expected = config_mounts(name, &["mongod.conf"]);
        if name == "url-shorten-mongodb" {
            expected.push(("tls-cert".into(), "/etc/tls".into(), None, true));
        }
        assert_eq!(
            mounts(c),
            expected,
            "{name}: mounts (only url-shorten-mongodb has the TLS secret)"
        );
    }
    for name in SN_REDIS {
        let c = only_container(deployment(&app, name));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/redis:6.2.4"));
        assert_eq!(
            c.args.clone().unwrap_or_default(),
            vec![format!("{SN_CONFIG}redis.conf")]
        );
        assert_eq!(container_ports(c), vec![(6379, "TCP".to_string())]);
        assert_eq!(mounts(c), config_mounts(name, &["redis.conf"]));
    }
    for name in SN_MEMCACHED {
        let c = only_container(deployment(&app, name));
        assert_eq!(
            c.image.as_deref(),
            Some("docker.io/library/memcached:1.6.7")
        );
        assert!(c.command.is_none() && c.args.is_none());
        assert_eq!(container_ports(c), vec![(11211, "TCP".to_string())]);
    }

    let jaeger = only_container(deployment(&app, "jaeger"));
    assert_eq!(
        jaeger.image.as_deref(),
        Some("docker.io/jaegertracing/all-in-one:1.57")
    );
    assert_eq!(
        env(jaeger),
        vec![("COLLECTOR_ZIPKIN_HTTP_PORT".to_string(), "9411".to_string())]
    );
    let jaeger_svc: Vec<(i32, String)> = ports(service(&app, "jaeger"))
        .iter()
        .map(|p| (p.port, p.protocol.clone().unwrap_or_else(|| "TCP".into())))
        .collect();
    let expected: Vec<(i32, String)> = [
        (5775, "UDP"),
        (6831, "UDP"),
        (6832, "UDP"),
        (5778, "TCP"),
        (16686, "TCP"),
        (14268, "TCP"),
        (9411, "TCP"),
    ]
    .iter()
    .map(|(p, pr)| (*p, pr.to_string()))
    .collect();
    assert_eq!(
        jaeger_svc, expected,
        "jaeger ports[0] must be 5775/UDP (AIOpsLab reads ports[0].nodePort)"
    );
    assert_eq!(container_ports(jaeger), expected);

    let nginx_d = deployment(&app, "nginx-thrift");
    let nginx = only_container(nginx_d);
    assert_eq!(
        nginx.image.as_deref(),
        Some("docker.io/yg397/openresty-thrift:xenial")
    );
    assert_eq!(container_ports(nginx), vec![(8080, "TCP".to_string())]);
    assert_eq!(
        env(nginx),
        vec![(
            "fqdn_suffix".to_string(),
            ".test-social-network.svc.cluster.local".to_string()
        )]
    );
    let init = pod_spec(nginx_d)
        .init_containers
        .clone()
        .unwrap_or_default();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, "alpine-container");
    assert_eq!(
        init[0].image.as_deref(),
        Some("docker.io/alpine/git:latest")
    );
    let clone = init[0].args.clone().unwrap_or_default().join(" ");
    assert!(
        clone
            .contains("git clone https://github.com/delimitrou/DeathStarBench.git /DeathStarBench")
    );

    let media = only_container(deployment(&app, "media-frontend"));
    assert_eq!(
        media.image.as_deref(),
        Some("docker.io/yg397/media-frontend:xenial")
    );
    assert_eq!(container_ports(media), vec![(8081, "TCP".to_string())]);
    let media_svc = &ports(service(&app, "media-frontend"))[0];
    assert_eq!(
        (media_svc.port, media_svc.target_port.clone()),
        (8081, Some(IntOrString::Int(8080)))
    );
}

#[test]
fn social_network_config_maps_hold_the_rendered_configs() {
    let app = social();
    let keys =
        |name: &str| -> BTreeSet<String> { data(config_map(&app, name)).keys().cloned().collect() };
    for name in SN_CPP
        .iter()
        .map(|(n, _)| *n)
        .chain(SN_MEMCACHED)
        .chain(["jaeger"])
    {
        assert_eq!(
            keys(name),
            strings(&["jaeger-config.yml", "service-config.json"]),
            "{name}"
        );
    }
    for name in SN_MONGO {
        assert_eq!(keys(name), strings(&["mongod.conf"]), "{name}");
        assert_eq!(
            data(config_map(&app, name))["mongod.conf"],
            "net:\n  tls:\n    mode: disabled\n",
            "{name}"
        );
    }
    for name in SN_REDIS {
        assert_eq!(keys(name), strings(&["redis.conf"]), "{name}");
        assert!(data(config_map(&app, name))["redis.conf"].contains("port 6379\ntls-port 0\n"));
    }
    assert_eq!(
        keys("nginx-thrift"),
        strings(&["jaeger-config.json", "nginx.conf"])
    );
    assert_eq!(
        keys("media-frontend"),
        strings(&["jaeger-config.yml", "nginx.conf", "service-config.json"])
    );

    let jaeger_yml =
        parse_yaml_stream(&data(config_map(&app, "user-service"))["jaeger-config.yml"])
            .unwrap_or_else(|e| panic!("jaeger-config.yml: {e}"));
    assert_eq!(
        jaeger_yml[0]["reporter"]["localAgentHostPort"],
        "jaeger:6831"
    );
    assert_eq!(jaeger_yml[0]["sampler"]["param"], 0.01);

    let nginx = data(config_map(&app, "nginx-thrift"));
    let tracer: Value =
        serde_json::from_str(&nginx["jaeger-config.json"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tracer["service_name"], "nginx-web-server");
    assert_eq!(tracer["sampler"]["param"], 0.01);
    for needle in [
        "listen 8080 reuseport;",
        "location /wrk2-api/post/compose {",
        "resolver kube-dns.kube-system.svc.cluster.local",
        "env fqdn_suffix;",
    ] {
        assert!(
            nginx["nginx.conf"].contains(needle),
            "nginx-thrift nginx.conf lacks {needle:?}"
        );
    }

    // service-config.json is the same everywhere and points every entry that has a Service at it.
    let config_text = data(config_map(&app, "compose-post-service"))["service-config.json"].clone();
    let config: Value =
        serde_json::from_str(&config_text).unwrap_or_else(|e| panic!("service-config.json: {e}"));
    assert_eq!(config["secret"], "secret");
    assert_eq!(config["ssl"]["enabled"], false);
    let entries = config.as_object().cloned().unwrap_or_default();
    let mut pointed = BTreeSet::new();
    for (key, entry) in &entries {
        let Some(addr) = entry["addr"].as_str() else {
            continue;
        };
        assert_eq!(entry["connections"], 512, "{key}");
        if let Some(svc) = app.services.iter().find(|s| name_of(&s.metadata) == addr) {
            let port = entry["port"].as_i64().unwrap_or_default();
            assert!(
                ports(svc).iter().any(|p| i64::from(p.port) == port),
                "{key}: {addr}:{port} is not a service port"
            );
            pointed.insert(addr.to_string());
        }
    }
    let mut expected = sn_names();
    expected.remove("nginx-thrift");
    expected.remove("jaeger");
    assert_eq!(
        pointed, expected,
        "every service except nginx-thrift and jaeger is in service-config.json"
    );
    for cm in &app.config_maps {
        if let Some(text) = data(cm).get("service-config.json") {
            assert_eq!(
                *text,
                config_text,
                "{}: service-config.json differs",
                name_of(&cm.metadata)
            );
        }
    }
}

#[test]
fn social_network_mongodb_tls_secret_matches_the_shipped_files() {
    let app = social();
    let secret = &app.secrets[0];
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let secret_data = secret.data.clone().unwrap_or_default();
    assert_eq!(
        secret_data.keys().cloned().collect::<BTreeSet<_>>(),
        strings(&["ca.crt", "tls.pem"])
    );
    let tls_dir = metadata_dir().join("social-network").join("tls");
    for key in ["ca.crt", "tls.pem"] {
        let file = fs::read(tls_dir.join(key)).unwrap_or_else(|e| panic!("tls/{key}: {e}"));
        assert_eq!(
            secret_data[key].0, file,
            "{key} in the Secret differs from tls/{key}"
        );
    }
    let pem = String::from_utf8(secret_data["tls.pem"].0.clone()).unwrap_or_default();
    assert!(
        pem.contains("-----BEGIN CERTIFICATE-----") && pem.contains("-----BEGIN PRIVATE KEY-----")
    );
    let ca = String::from_utf8(secret_data["ca.crt"].0.clone()).unwrap_or_default();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));

    let d = deployment(&app, "url-shorten-mongodb");
    let tls_volume = pod_spec(d)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "tls-cert")
        .cloned();
    let secret_name = tls_volume
        .and_then(|v| v.secret)
        .and_then(|s| s.secret_name);
    assert_eq!(secret_name.as_deref(), Some("mongodb-tls"));
    assert_eq!(
        app.meta["Helm Values"]["url-shorten-mongodb.tls.mode"],
        "disabled"
    );
}
