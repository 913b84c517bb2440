//! The applications AIOpsLab-rs deploys, as data embedded in the binary.
//!
//! Every file under `metadata/<app>/` is compiled in with `include_str!`, so the virtual cluster,
//! the deployer of a real cluster and the tests read the same bytes without touching the disk:
//!
//! - `app.json`: AIOpsLab's metadata of the app plus our deploy, workload and profile keys;
//! - `manifests/*.yaml`: the Kubernetes objects, split into what AIOpsLab creates before the
//!   deploy ([`App::pre_deploy`]) and the rest in the order they are applied ([`App::manifests`]);
//! - `profiles.yaml`: the behaviour profiles (what each container image does), interpreted by the
//!   virtual cluster's application engine (images shared by several apps are in
//!   [`common_profiles`]);
//! - the wrk2 script of the app's workload.
//!
//! This crate has no dependencies and does not parse anything: it is an index of texts.
//!
//! ```
//! let hotel = aiopslab_metadata::app("hotel-reservation").unwrap();
//! assert_eq!(hotel.namespace, "test-hotel-reservation");
//! assert_eq!(hotel.manifests[0].path, "manifests/consul.yaml");
//! assert!(hotel.app_json.contains("\"Name\": \"Hotel Reservation\""));
//! assert!(hotel.profiles.contains("yinfangchen/hotelreservation"));
//! ```

/// One file of an application, with its path relative to the app's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct File {
    /// Path relative to `metadata/<app>/` (`manifests/geo.yaml`).
    pub path: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// The wrk2 workload of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The script's file name as mounted from the `wrk2-payload-script` ConfigMap.
    pub script: &'static str,
    /// The Lua script.
    pub text: &'static str,
    /// What is appended to `http://<frontend ClusterIP>:<port>` to form wrk2's URL.
    pub url_path: &'static str,
}

/// One application: its metadata, manifests, behaviour profiles and workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App {
    /// The folder name and key (`hotel-reservation`, `social-network`).
    pub key: &'static str,
    /// AIOpsLab's `Name` (`Hotel Reservation`).
    pub name: &'static str,
    /// The namespace AIOpsLab deploys into.
    pub namespace: &'static str,
    /// The Service the workload targets and its port.
    pub frontend: (&'static str, u16),
    /// `app.json`.
    pub app_json: &'static str,
    /// How AIOpsLab deploys it: `kubectl` (apply the files in order) or `helm` (objects ordered
    /// by kind across files, see [`App::kind_order`]).
    pub method: &'static str,
    /// For `helm`: the kinds in install order; empty for `kubectl`.
    pub kind_order: &'static [&'static str],
    /// Objects AIOpsLab creates (create-or-replace) before the deploy.
    pub pre_deploy: &'static [File],
    /// The manifests, in apply order.
    pub manifests: &'static [File],
    /// `profiles.yaml`: behaviour profiles keyed by image and command.
    pub profiles: &'static str,
    /// The wrk2 workload.
    pub workload: Workload,
}

impl App {
    /// A file of this app by its path relative to the app folder (`manifests/geo.yaml`,
    /// `app.json`, `profiles.yaml`).
    pub fn file(&self, path: &str) -> Option<&'static str> {
        match path {
            "app.json" => Some(self.app_json),
            "profiles.yaml" => Some(self.profiles),
            _ => self
                .pre_deploy
                .iter()
                .chain(self.manifests)
                .find(|f| f.path == path)
                .map(|f| f.text),
        }
    }
}

macro_rules! file {
    ($app:literal, $path:literal) => {
        File {
            path: $path,
            text: include_str!(concat!("../", $app, "/", $path)),
        }
    };
}

static HOTEL_PRE: &[File] = &[file!(
    "hotel-reservation",
    "manifests/aiopslab-configmaps.yaml"
)];

static HOTEL_MANIFESTS: &[File] = &[
    file!("hotel-reservation", "manifests/consul.yaml"),
    file!("hotel-reservation", "manifests/frontend.yaml"),
    file!("hotel-reservation", "manifests/geo.yaml"),
    file!("hotel-reservation", "manifests/jaeger.yaml"),
    file!("hotel-reservation", "manifests/profile.yaml"),
    file!("hotel-reservation", "manifests/rate.yaml"),
    file!("hotel-reservation", "manifests/reccomend.yaml"),
    file!("hotel-reservation", "manifests/reserve.yaml"),
    file!("hotel-reservation", "manifests/search.yaml"),
    file!("hotel-reservation", "manifests/user.yaml"),
];

static SOCIAL_PRE: &[File] = &[file!("social-network", "manifests/mongodb-tls-secret.yaml")];

static SOCIAL_MANIFESTS: &[File] = &[
    file!("social-network", "manifests/compose-post-service.yaml"),
    file!("social-network", "manifests/home-timeline-redis.yaml"),
    file!("social-network", "manifests/home-timeline-service.yaml"),
    file!("social-network", "manifests/jaeger.yaml"),
    file!("social-network", "manifests/media-frontend.yaml"),
    file!("social-network", "manifests/media-memcached.yaml"),
    file!("social-network", "manifests/media-mongodb.yaml"),
    file!("social-network", "manifests/media-service.yaml"),
    file!("social-network", "manifests/nginx-thrift.yaml"),
    file!("social-network", "manifests/post-storage-memcached.yaml"),
    file!("social-network", "manifests/post-storage-mongodb.yaml"),
    file!("social-network", "manifests/post-storage-service.yaml"),
    file!("social-network", "manifests/social-graph-mongodb.yaml"),
    file!("social-network", "manifests/social-graph-redis.yaml"),
    file!("social-network", "manifests/social-graph-service.yaml"),
    file!("social-network", "manifests/text-service.yaml"),
    file!("social-network", "manifests/unique-id-service.yaml"),
    file!("social-network", "manifests/url-shorten-memcached.yaml"),
    file!("social-network", "manifests/url-shorten-mongodb.yaml"),
    file!("social-network", "manifests/url-shorten-service.yaml"),
    file!("social-network", "manifests/user-memcached.yaml"),
    file!("social-network", "manifests/user-mention-service.yaml"),
    file!("social-network", "manifests/user-mongodb.yaml"),
    file!("social-network", "manifests/user-service.yaml"),
    file!("social-network", "manifests/user-timeline-mongodb.yaml"),
    file!("social-network", "manifests/user-timeline-redis.yaml"),
    file!("social-network", "manifests/user-timeline-service.yaml"),
];

static APPS: &[App] = &[
    App {
        key: "hotel-reservation",
        name: "Hotel Reservation",
        namespace: "test-hotel-reservation",
        frontend: ("frontend", 5000),
        app_json: include_str!("../hotel-reservation/app.json"),
        method: "kubectl",
        kind_order: &[],
        pre_deploy: HOTEL_PRE,
        manifests: HOTEL_MANIFESTS,
        profiles: include_str!("../hotel-reservation/profiles.yaml"),
        workload: Workload {
            script: "mixed-workload_type_1.lua",
            text: include_str!("../workloads/mixed-workload_type_1.lua"),
            url_path: "",
        },
    },
    App {
        key: "social-network",
        name: "Social Network",
        namespace: "test-social-network",
        frontend: ("nginx-thrift", 8080),
        app_json: include_str!("../social-network/app.json"),
        method: "helm",
        kind_order: &["ConfigMap", "Service", "Deployment"],
        pre_deploy: SOCIAL_PRE,
        manifests: SOCIAL_MANIFESTS,
        profiles: include_str!("../social-network/profiles.yaml"),
        workload: Workload {
            script: "compose-post.lua",
            text: include_str!("../workloads/compose-post.lua"),
            url_path: "/wrk2-api/post/compose",
        },
    },
];

/// Behaviour profiles of images several applications share (MongoDB, memcached, redis, Jaeger,
/// Consul, the git init container): `metadata/common/profiles.yaml`.
pub fn common_profiles() -> &'static str {
    include_str!("../common/profiles.yaml")
}

/// Every application, Hotel Reservation first.
pub fn apps() -> &'static [App] {
    APPS
}

/// An application by key (`hotel-reservation`), AIOpsLab name (`Hotel Reservation`) or
/// namespace (`test-hotel-reservation`).
pub fn app(key: &str) -> Option<&'static App> {
    APPS.iter()
        .find(|a| a.key == key || a.name == key || a.namespace == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of `needle` in `haystack`, or a message naming what is missing.
    fn position(haystack: &str, needle: &str, what: &str) -> usize {
        haystack
            .find(needle)
            .unwrap_or_else(|| panic!("{what}: {needle} is not in app.json"))
    }

    #[test]
    fn order_matches_app_json() {
        for app in apps() {
            let mut last = 0;
            for f in app.pre_deploy.iter().chain(app.manifests) {
                let at = position(app.app_json, &format!("\"{}\"", f.path), app.key);
                assert!(
                    at >= last,
                    "{}: {} is out of app.json's order",
                    app.key,
                    f.path
                );
                last = at;
            }
            assert!(
                app.app_json
                    .contains(&format!("\"Namespace\": \"{}\"", app.namespace))
            );
            assert!(
                app.app_json
                    .contains(&format!("\"service\": \"{}\"", app.frontend.0))
            );
            assert!(
                app.app_json
                    .contains(&format!("\"script\": \"{}\"", app.workload.script))
            );
            assert!(
                app.app_json
                    .contains(&format!("\"method\": \"{}\"", app.method))
            );
        }
    }

    #[test]
    fn every_manifest_is_listed_once() {
        for app in apps() {
            let listed = app.app_json.matches("\"manifests/").count();
            assert_eq!(
                listed,
                app.pre_deploy.len() + app.manifests.len(),
                "{}",
                app.key
            );
        }
    }

    #[test]
    fn lookup_by_key_name_and_namespace() {
        assert_eq!(app("Social Network").map(|a| a.key), Some("social-network"));
        assert_eq!(
            app("test-social-network").map(|a| a.key),
            Some("social-network")
        );
        assert!(app("astronomy-shop").is_none());
        let sn = app("social-network").unwrap();
        assert!(
            sn.file("manifests/user-service.yaml")
                .unwrap()
                .contains("UserService")
        );
        assert!(sn.file("manifests/nope.yaml").is_none());
        assert_eq!(sn.file("profiles.yaml"), Some(sn.profiles));
    }
}
