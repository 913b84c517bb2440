//! The two objects AIOpsLab creates for a workload, as typed Kubernetes objects: the
//! ConfigMap `wrk2-payload-script` with the Lua script and the Job `wrk2-job`.

use crate::params::Wrk2;
use aiopslab_metadata::App;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The namespace AIOpsLab always runs the workload in.
pub const NAMESPACE: &str = "default";
/// The ConfigMap holding the script.
pub const CONFIGMAP_NAME: &str = "wrk2-payload-script";
/// The Job.
pub const JOB_NAME: &str = "wrk2-job";
/// The Job's only container.
pub const CONTAINER_NAME: &str = "wrk2";
/// The image.
pub const IMAGE: &str = "deathstarbench/wrk2-client:latest";
/// The volume that mounts the script.
pub const VOLUME_NAME: &str = "wrk2-scripts";

/// A wrk2 Lua script: its file name (the ConfigMap key and the name under `/scripts`) and
/// text.
///
/// ```
/// let app = aiopslab_metadata::app("social-network").unwrap();
/// let script = aiopslab_workload::Script::for_app(app);
/// assert_eq!(script.name, "compose-post.lua");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The file name (`mixed-workload_type_1.lua`).
    pub name: String,
    /// The Lua text.
    pub text: String,
}

impl Script {
    /// A script named `name` with `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Script {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The script AIOpsLab runs against `app` (embedded in `aiopslab-metadata`).
    pub fn for_app(app: &App) -> Self {
        Script::new(app.workload.script, app.workload.text)
    }
}

/// The ConfigMap `wrk2-payload-script` in `default`: one key, the script's file name.
pub fn configmap(script: &Script) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(CONFIGMAP_NAME.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(script.name.clone(), script.text.clone())])),
        ..ConfigMap::default()
    }
}

/// The Job `wrk2-job` in `default` as AIOpsLab renders its template: `restartPolicy: Never`,
/// one container `wrk2` of `deathstarbench/wrk2-client:latest` with only `args` (the image has
/// no entrypoint), and the script mounted from the ConfigMap at `/scripts/<script>` with
/// `subPath: <script>`. No backoff limit is set (the API server's default, 6, applies).
///
/// ```
/// use aiopslab_workload::{job, Wrk2};
/// let j = job(&Wrk2::problem_default(), "compose-post.lua", "http://10.96.0.9:8080");
/// let pod = j.spec.unwrap().template.spec.unwrap();
/// let mount = &pod.containers[0].volume_mounts.as_ref().unwrap()[0];
/// assert_eq!(mount.mount_path, "/scripts/compose-post.lua");
/// assert_eq!(mount.sub_path.as_deref(), Some("compose-post.lua"));
/// ```
pub fn job(wrk: &Wrk2, script_name: &str, url: &str) -> Job {
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(IMAGE.into()),
        args: Some(wrk.args(script_name, url)),
        volume_mounts: Some(vec![VolumeMount {
            name: VOLUME_NAME.into(),
            mount_path: format!("/scripts/{script_name}"),
            sub_path: Some(script_name.to_string()),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(JOB_NAME.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: VOLUME_NAME.into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: CONFIGMAP_NAME.into(),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configmap_has_one_key_named_after_the_script() {
        let app = aiopslab_metadata::app("hotel-reservation").unwrap();
        let cm = configmap(&Script::for_app(app));
        assert_eq!(cm.metadata.name.as_deref(), Some("wrk2-payload-script"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("default"));
        let data = cm.data.unwrap();
        assert_eq!(data.len(), 1);
        assert!(data["mixed-workload_type_1.lua"].contains("/recommendations?require="));
    }

    #[test]
    fn job_is_aiopslabs_template() {
        let wrk = Wrk2::problem_default();
        let j = job(
            &wrk,
            "compose-post.lua",
            "http://10.96.3.4:8080/wrk2-api/post/compose",
        );
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(
            v,
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "wrk2-job", "namespace": "default"},
                "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "wrk2",
                        "image": "deathstarbench/wrk2-client:latest",
                        "args": ["wrk", "-D", "exp", "-t", "2", "-c", "2", "-d", "10s", "-L",
                                 "-s", "/scripts/compose-post.lua",
                                 "http://10.96.3.4:8080/wrk2-api/post/compose",
                                 "-R", "10", "--latency"],
                        "volumeMounts": [{"name": "wrk2-scripts",
                                          "mountPath": "/scripts/compose-post.lua",
                                          "subPath": "compose-post.lua"}]
                    }],
                    "volumes": [{"name": "wrk2-scripts",
                                 "configMap": {"name": "wrk2-payload-script"}}]
                }}}
            })
        );
    }
}
