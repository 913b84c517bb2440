//! The embedded catalogue against AIOpsLab's registry (spec §1.2 and §1.3).

use aiopslab_core::problem::{
    AnalysisAnswer, Deployment, DetectionAnswer, ExpectedAnswer, FaultType, LocalizationAnswer,
    SystemLevel,
};
use aiopslab_core::task::TaskKind;
use aiopslab_problems::{Registry, registry};
use std::collections::{BTreeMap, HashSet};

/// AIOpsLab's 89 problem ids in registry order (spec §1.3).
const AIOPSLAB_IDS: [&str; 89] = [
    "k8s_target_port-misconfig-detection-1",
    "k8s_target_port-misconfig-localization-1",
    "k8s_target_port-misconfig-analysis-1",
    "k8s_target_port-misconfig-mitigation-1",
    "k8s_target_port-misconfig-detection-2",
    "k8s_target_port-misconfig-localization-2",
    "k8s_target_port-misconfig-analysis-2",
    "k8s_target_port-misconfig-mitigation-2",
    "k8s_target_port-misconfig-detection-3",
    "k8s_target_port-misconfig-localization-3",
    "k8s_target_port-misconfig-analysis-3",
    "k8s_target_port-misconfig-mitigation-3",
    "auth_miss_mongodb-detection-1",
    "auth_miss_mongodb-localization-1",
    "auth_miss_mongodb-analysis-1",
    "auth_miss_mongodb-mitigation-1",
    "revoke_auth_mongodb-detection-1",
    "revoke_auth_mongodb-localization-1",
    "revoke_auth_mongodb-analysis-1",
    "revoke_auth_mongodb-mitigation-1",
    "revoke_auth_mongodb-detection-2",
    "revoke_auth_mongodb-localization-2",
    "revoke_auth_mongodb-analysis-2",
    "revoke_auth_mongodb-mitigation-2",
    "user_unregistered_mongodb-detection-1",
    "user_unregistered_mongodb-localization-1",
    "user_unregistered_mongodb-analysis-1",
    "user_unregistered_mongodb-mitigation-1",
    "user_unregistered_mongodb-detection-2",
    "user_unregistered_mongodb-localization-2",
    "user_unregistered_mongodb-analysis-2",
    "user_unregistered_mongodb-mitigation-2",
    "misconfig_app_hotel_res-detection-1",
    "misconfig_app_hotel_res-localization-1",
    "misconfig_app_hotel_res-analysis-1",
    "misconfig_app_hotel_res-mitigation-1",
    "scale_pod_zero_social_net-detection-1",
    "scale_pod_zero_social_net-localization-1",
    "scale_pod_zero_social_net-analysis-1",
    "scale_pod_zero_social_net-mitigation-1",
    "assign_to_non_existent_node_social_net-detection-1",
    "assign_to_non_existent_node_social_net-localization-1",
    "assign_to_non_existent_node_social_net-analysis-1",
    "assign_to_non_existent_node_social_net-mitigation-1",
    "container_kill-detection",
    "container_kill-localization",
    "pod_failure_hotel_res-detection-1",
    "pod_failure_hotel_res-localization-1",
    "pod_kill_hotel_res-detection-1",
    "pod_kill_hotel_res-localization-1",
    "network_loss_hotel_res-detection-1",
    "network_loss_hotel_res-localization-1",
    "network_delay_hotel_res-detection-1",
    "network_delay_hotel_res-localization-1",
    "noop_detection_hotel_reservation-1",
    "noop_detection_social_network-1",
    "noop_detection_astronomy_shop-1",
    "astronomy_shop_ad_service_failure-detection-1",
    "astronomy_shop_ad_service_failure-localization-1",
    "astronomy_shop_ad_service_high_cpu-detection-1",
    "astronomy_shop_ad_service_high_cpu-localization-1",
    "astronomy_shop_ad_service_manual_gc-detection-1",
    "astronomy_shop_ad_service_manual_gc-localization-1",
    "astronomy_shop_cart_service_failure-detection-1",
    "astronomy_shop_cart_service_failure-localization-1",
    "astronomy_shop_image_slow_load-detection-1",
    "astronomy_shop_image_slow_load-localization-1",
    "astronomy_shop_kafka_queue_problems-detection-1",
    "astronomy_shop_kafka_queue_problems-localization-1",
    "astronomy_shop_kafka_queue_problems-mitigation-1",
    "astronomy_shop_loadgenerator_flood_homepage-detection-1",
    "astronomy_shop_loadgenerator_flood_homepage-localization-1",
    "astronomy_shop_payment_service_failure-detection-1",
    "astronomy_shop_payment_service_failure-localization-1",
    "astronomy_shop_payment_service_unreachable-detection-1",
    "astronomy_shop_payment_service_unreachable-localization-1",
    "astronomy_shop_product_catalog_service_failure-detection-1",
    "astronomy_shop_product_catalog_service_failure-localization-1",
    "astronomy_shop_recommendation_service_cache_failure-detection-1",
    "astronomy_shop_recommendation_service_cache_failure-localization-1",
    "redeploy_without_PV-detection-1",
    "redeploy_without_PV-analysis-1",
    "redeploy_without_PV-mitigation-1",
    "wrong_bin_usage-detection-1",
    "wrong_bin_usage-localization-1",
    "wrong_bin_usage-analysis-1",
    "wrong_bin_usage-mitigation-1",
    "flower_node_stop-detection",
    "flower_model_misconfig-detection",
];

fn expected(id: &str) -> &'static ExpectedAnswer {
    &registry().get(id).expect("known id").expected
}

fn localization(services: &[&str], aliases: &[(&str, &str)]) -> ExpectedAnswer {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (service, alias) in aliases {
        map.entry(service.to_string())
            .or_default()
            .push(alias.to_string());
    }
    ExpectedAnswer::Localization(LocalizationAnswer {
        services: services.iter().map(|s| s.to_string()).collect(),
        aliases: map,
    })
}

fn analysis(system_level: SystemLevel, fault_type: FaultType) -> ExpectedAnswer {
    ExpectedAnswer::Analysis(AnalysisAnswer {
        system_level,
        fault_type,
    })
}

#[test]
fn lists_all_89_ids_in_aiopslab_order() {
    let ids: Vec<&str> = registry().ids().collect();
    assert_eq!(ids, AIOPSLAB_IDS);
    assert_eq!(registry().len(), 89);
    assert!(!registry().is_empty());
}

#[test]
fn every_id_is_unique_and_found_by_lookup() {
    let unique: HashSet<&str> = registry().ids().collect();
    assert_eq!(unique.len(), 89);
    for (position, id) in AIOPSLAB_IDS.iter().enumerate() {
        assert!(registry().contains(id));
        let entry = registry().get(id).unwrap();
        assert_eq!(entry.id, *id);
        assert_eq!(registry().entries()[position].id, *id);
    }
}

#[test]
fn counts_per_task_match_aiopslab() {
    let counts: Vec<usize> = TaskKind::ALL
        .iter()
        .map(|kind| registry().count_by_task(*kind))
        .collect();
    assert_eq!(counts, [34, 28, 13, 14]);
    for kind in TaskKind::ALL {
        assert!(registry().by_task(kind).all(|entry| entry.task == kind));
        // AIOpsLab's substring filter agrees with the task filter on these ids.
        let by_substring = registry().problem_ids(Some(kind.as_str()));
        let by_task: Vec<&str> = registry().by_task(kind).map(|e| e.id.as_str()).collect();
        assert_eq!(by_substring, by_task, "{kind}");
        assert_eq!(registry().problem_count(Some(kind.as_str())), by_task.len());
    }
}

#[test]
fn counts_per_app_match_aiopslab() {
    let table: Vec<(String, [usize; 4], usize)> = registry()
        .app_counts()
        .into_iter()
        .map(|row| (row.app.app.class.clone(), row.by_task, row.total()))
        .collect();
    let expected = [
        ("SocialNetwork", [7, 6, 6, 6], 25),
        ("HotelReservation", [13, 11, 7, 7], 38),
        ("AstronomyShop", [12, 11, 0, 1], 24),
        ("Flower", [2, 0, 0, 0], 2),
        ("TrainTicket", [0, 0, 0, 0], 0),
        ("FlightTicket", [0, 0, 0, 0], 0),
        ("TiDBCluster", [0, 0, 0, 0], 0),
    ];
    let expected: Vec<(String, [usize; 4], usize)> = expected
        .iter()
        .map(|(class, counts, total)| (class.to_string(), *counts, *total))
        .collect();
    assert_eq!(table, expected);

    let hotel = registry().find_app("HotelReservation").unwrap();
    assert_eq!(registry().by_app(&hotel.app).count(), 38);
    let row = &registry().app_counts()[1];
    assert_eq!(row.task(TaskKind::Mitigation), 7);
}

#[test]
fn apps_are_found_by_any_reasonable_spelling() {
    for spelling in [
        "hotel-reservation",
        "HotelReservation",
        "Hotel Reservation",
        "test-hotel-reservation",
        "hotel_reservation",
        "HOTEL",
    ] {
        let app = registry().find_app(spelling).unwrap();
        assert_eq!(app.app.class, "HotelReservation", "{spelling}");
    }
    for (spelling, class) in [
        ("social-network", "SocialNetwork"),
        ("Social Network", "SocialNetwork"),
        ("astronomy-shop", "AstronomyShop"),
        ("OpenTelemetry Demo Astronomy Shop", "AstronomyShop"),
        ("flower", "Flower"),
        ("train-ticket", "TrainTicket"),
    ] {
        assert_eq!(registry().find_app(spelling).unwrap().app.class, class);
    }
    let err = registry().find_app("bookstore").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("unknown application `bookstore`"),
        "{message}"
    );
    assert!(message.contains("HotelReservation (test-hotel-reservation)"));
    assert!(registry().find_app("").is_err());
    assert!(registry().find_app(" - ").is_err());
}

#[test]
fn filters_combine_task_and_app() {
    let social = &registry().find_app("social").unwrap().app;
    let ids: Vec<&str> = registry()
        .filter(Some(TaskKind::Mitigation), Some(social))
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "k8s_target_port-misconfig-mitigation-1",
            "k8s_target_port-misconfig-mitigation-2",
            "k8s_target_port-misconfig-mitigation-3",
            "auth_miss_mongodb-mitigation-1",
            "scale_pod_zero_social_net-mitigation-1",
            "assign_to_non_existent_node_social_net-mitigation-1",
        ]
    );
    assert_eq!(registry().filter(None, None).count(), 89);
    let astronomy = &registry().find_app("astronomy").unwrap().app;
    assert_eq!(
        registry()
            .filter(Some(TaskKind::Analysis), Some(astronomy))
            .count(),
        0
    );
}

#[test]
fn unknown_id_error_suggests_closest_ids_and_how_to_list() {
    let err = registry()
        .get("revoke_auth_mongodb-detection-3")
        .unwrap_err();
    assert_eq!(err.id, "revoke_auth_mongodb-detection-3");
    assert_eq!(err.suggestions.len(), 3);
    assert!(
        err.suggestions[..2].contains(&"revoke_auth_mongodb-detection-1".to_string())
            && err.suggestions[..2].contains(&"revoke_auth_mongodb-detection-2".to_string()),
        "{:?}",
        err.suggestions
    );
    let message = err.to_string();
    assert!(message.starts_with("unknown problem id `revoke_auth_mongodb-detection-3`"));
    assert!(message.contains("did you mean `revoke_auth_mongodb-detection-"));
    assert!(message.contains("Run `aiopslab problems` to list all 89 problem ids."));

    // A wrongly-cased id is not found (ids are exact) but the right one comes first.
    let err = registry().get("Container_Kill-Detection").unwrap_err();
    assert_eq!(err.suggestions[0], "container_kill-detection");

    // A fragment suggests ids containing it.
    let err = registry().get("wrong_bin").unwrap_err();
    assert!(
        err.suggestions
            .iter()
            .all(|id| id.starts_with("wrong_bin_usage"))
    );

    assert!(registry().deployment("nope").is_err());
}

#[test]
fn detection_answers_are_yes_except_the_noop_controls() {
    for entry in registry().by_task(TaskKind::Detection) {
        let want = if entry.id.starts_with("noop_detection_") {
            DetectionAnswer::No
        } else {
            DetectionAnswer::Yes
        };
        assert_eq!(
            entry.expected,
            ExpectedAnswer::Detection(want),
            "{}",
            entry.id
        );
    }
    for id in [
        "noop_detection_hotel_reservation-1",
        "noop_detection_social_network-1",
        "noop_detection_astronomy_shop-1",
    ] {
        assert_eq!(
            *expected(id),
            ExpectedAnswer::Detection(DetectionAnswer::No)
        );
    }
}

#[test]
fn localization_answers_sample_every_family() {
    let cases: [(&str, ExpectedAnswer); 12] = [
        (
            "k8s_target_port-misconfig-localization-3",
            localization(&["post-storage-service"], &[]),
        ),
        (
            "auth_miss_mongodb-localization-1",
            localization(&["url-shorten-mongodb"], &[]),
        ),
        (
            "revoke_auth_mongodb-localization-1",
            localization(&["mongodb-geo"], &[("mongodb-geo", "geo")]),
        ),
        (
            "user_unregistered_mongodb-localization-2",
            localization(&["mongodb-rate"], &[("mongodb-rate", "rate")]),
        ),
        (
            "misconfig_app_hotel_res-localization-1",
            localization(&["geo"], &[]),
        ),
        (
            "assign_to_non_existent_node_social_net-localization-1",
            localization(&["user-service"], &[]),
        ),
        ("container_kill-localization", localization(&["geo"], &[])),
        (
            "network_delay_hotel_res-localization-1",
            localization(&["user"], &[]),
        ),
        (
            "astronomy_shop_payment_service_unreachable-localization-1",
            localization(&["checkout"], &[]),
        ),
        (
            "astronomy_shop_image_slow_load-localization-1",
            localization(&["frontend"], &[]),
        ),
        (
            "astronomy_shop_product_catalog_service_failure-localization-1",
            localization(&["product-catalog"], &[]),
        ),
        (
            "wrong_bin_usage-localization-1",
            localization(&["profile"], &[]),
        ),
    ];
    for (id, answer) in cases {
        assert_eq!(*expected(id), answer, "{id}");
    }
    // Only the MongoDB auth families accept an alias.
    let with_aliases: Vec<&str> = registry()
        .by_task(TaskKind::Localization)
        .filter(|e| matches!(&e.expected, ExpectedAnswer::Localization(l) if !l.aliases.is_empty()))
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        with_aliases,
        [
            "revoke_auth_mongodb-localization-1",
            "revoke_auth_mongodb-localization-2",
            "user_unregistered_mongodb-localization-1",
            "user_unregistered_mongodb-localization-2",
        ]
    );
}

#[test]
fn analysis_answers_sample_every_family() {
    use FaultType::*;
    use SystemLevel::*;
    let cases = [
        (
            "k8s_target_port-misconfig-analysis-2",
            Virtualization,
            Misconfiguration,
        ),
        (
            "auth_miss_mongodb-analysis-1",
            Application,
            Misconfiguration,
        ),
        (
            "revoke_auth_mongodb-analysis-2",
            Application,
            AuthenticationIssue,
        ),
        (
            "user_unregistered_mongodb-analysis-1",
            Application,
            NetworkStorageIssue,
        ),
        (
            "misconfig_app_hotel_res-analysis-1",
            Application,
            Misconfiguration,
        ),
        (
            "scale_pod_zero_social_net-analysis-1",
            Virtualization,
            OperationError,
        ),
        (
            "assign_to_non_existent_node_social_net-analysis-1",
            Virtualization,
            DependencyProblem,
        ),
        (
            "redeploy_without_PV-analysis-1",
            Virtualization,
            OperationError,
        ),
        (
            "wrong_bin_usage-analysis-1",
            Application,
            NetworkStorageIssue,
        ),
    ];
    for (id, level, kind) in cases {
        assert_eq!(*expected(id), analysis(level, kind), "{id}");
    }
}

#[test]
fn mitigation_answers_are_empty() {
    let ids: Vec<&str> = registry()
        .by_task(TaskKind::Mitigation)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids.len(), 14);
    assert!(ids.contains(&"astronomy_shop_kafka_queue_problems-mitigation-1"));
    for id in ids {
        assert_eq!(*expected(id), ExpectedAnswer::Mitigation, "{id}");
    }
}

#[test]
fn apps_namespaces_and_deployments() {
    let entry = registry().get("revoke_auth_mongodb-mitigation-2").unwrap();
    assert_eq!(entry.app.name, "Hotel Reservation");
    assert_eq!(entry.app.namespace, "test-hotel-reservation");
    let entry = registry()
        .get("scale_pod_zero_social_net-detection-1")
        .unwrap();
    assert_eq!(entry.app.name, "Social Network");
    assert_eq!(entry.app.namespace, "test-social-network");
    let entry = registry().get("noop_detection_astronomy_shop-1").unwrap();
    assert_eq!(entry.app.class, "AstronomyShop");
    assert_eq!(entry.app.namespace, "astronomy-shop");

    let docker: Vec<&str> = registry()
        .entries()
        .iter()
        .filter(|e| e.deployment == Deployment::Docker)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        docker,
        [
            "flower_node_stop-detection",
            "flower_model_misconfig-detection"
        ]
    );
    assert_eq!(
        registry().deployment("flower_node_stop-detection"),
        Ok(Deployment::Docker)
    );
    assert_eq!(
        registry().deployment("container_kill-detection"),
        Ok(Deployment::K8s)
    );
}

#[test]
fn workloads_follow_aiopslab_parameters() {
    let workload = |id: &str| registry().get(id).unwrap().workload.clone();
    assert!(workload("container_kill-detection").contains("100 req/s"));
    assert!(workload("revoke_auth_mongodb-detection-1").contains("for 5 s"));
    assert!(workload("redeploy_without_PV-mitigation-1").contains("for 5 s"));
    assert!(workload("wrong_bin_usage-detection-1").contains("10 req/s for 10 s"));
    assert!(workload("k8s_target_port-misconfig-detection-1").contains("compose-post.lua"));
    assert!(workload("astronomy_shop_cart_service_failure-detection-1").contains("load-generator"));
    assert!(workload("flower_node_stop-detection").contains("flwr run"));
}

#[test]
fn nothing_is_runnable_yet_and_every_entry_is_consistent() {
    assert_eq!(registry().runnable().count(), 0);
    for entry in registry().entries() {
        assert!(!entry.runnable, "{}", entry.id);
        entry.validate().unwrap();
        assert!(!entry.fault.trim().is_empty());
    }
}

#[test]
fn the_embedded_file_reloads_to_the_same_registry() {
    let again = Registry::from_yaml(aiopslab_problems::CATALOGUE_YAML).unwrap();
    assert_eq!(again.entries(), registry().entries());
}

#[test]
fn entries_serialise_to_json_with_their_answers() {
    let entry = registry()
        .get("revoke_auth_mongodb-localization-1")
        .unwrap();
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(json["id"], "revoke_auth_mongodb-localization-1");
    assert_eq!(json["task"], "localization");
    assert_eq!(json["app"]["namespace"], "test-hotel-reservation");
    assert_eq!(
        json["expected"]["localization"]["aliases"]["mongodb-geo"][0],
        "geo"
    );
    assert_eq!(json["runnable"], false);
    assert_eq!(json["deployment"], "k8s");
}
