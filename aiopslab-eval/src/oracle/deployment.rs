//! A Deployment's image, command, nodeSelector or replica count equals an expected value.

use super::{Oracle, get};
use crate::error::OracleError;
use crate::verdict::Verdict;
use aiopslab_k8s::Cluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container;
use std::collections::BTreeMap;

/// What a container's `command` must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandExpectation {
    /// Exactly this list.
    Equals(Vec<String>),
    /// A list that contains this element (AIOpsLab's `wrong_bin_usage` check: `profile`).
    Contains(String),
}

/// What a [`DeploymentCheck`] requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentExpectation {
    /// The image of the named container, or of every container when `None`.
    Image {
        /// The container; `None` for every container.
        container: Option<String>,
        /// The image reference.
        image: String,
    },
    /// The command of the named container, or of every container when `None`.
    Command {
        /// The container; `None` for every container.
        container: Option<String>,
        /// What the command must be.
        command: CommandExpectation,
    },
    /// The pod template's `nodeSelector` (empty: none at all).
    NodeSelector(BTreeMap<String, String>),
    /// `spec.replicas` and the available replicas.
    Replicas(i32),
}

/// A Deployment's spec (and, for replicas, its status) matches an expectation.
///
/// ```
/// use aiopslab_eval::oracle::DeploymentCheck;
/// let image = DeploymentCheck::image("test-hotel-reservation", "geo", Some("hotel-reserv-geo"), "yinfangchen/geo:app3");
/// let command = DeploymentCheck::command_contains("test-hotel-reservation", "profile", "profile");
/// let replicas = DeploymentCheck::replicas("test-social-network", "user-service", 1);
/// let pinned = DeploymentCheck::node_selector("test-social-network", "user-service", [("kubernetes.io/hostname", "kind-worker")]);
/// let unpinned = DeploymentCheck::no_node_selector("test-social-network", "user-service");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentCheck {
    namespace: String,
    name: String,
    expect: DeploymentExpectation,
}

fn quoted_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

fn show_selector(sel: &BTreeMap<String, String>) -> String {
    if sel.is_empty() {
        return "none".into();
    }
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl DeploymentCheck {
    /// Any expectation.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        expect: DeploymentExpectation,
    ) -> Self {
        DeploymentCheck {
            namespace: namespace.into(),
            name: name.into(),
            expect,
        }
    }

    /// The image of `container` (every container when `None`) is `image`.
    pub fn image(
        namespace: impl Into<String>,
        name: impl Into<String>,
        container: Option<&str>,
        image: impl Into<String>,
    ) -> Self {
        Self::new(
            namespace,
            name,
            DeploymentExpectation::Image {
                container: container.map(str::to_string),
                image: image.into(),
            },
        )
    }

    /// The command of `container` (every container when `None`) is exactly `command`.
    pub fn command<S: Into<String>>(
        namespace: impl Into<String>,
        name: impl Into<String>,
        container: Option<&str>,
        command: impl IntoIterator<Item = S>,
    ) -> Self {
        Self::new(
            namespace,
            name,
            DeploymentExpectation::Command {
                container: container.map(str::to_string),
                command: CommandExpectation::Equals(command.into_iter().map(Into::into).collect()),
            },
        )
    }

    /// The command of every container contains `element`.
    pub fn command_contains(
        namespace: impl Into<String>,
        name: impl Into<String>,
        element: impl Into<String>,
    ) -> Self {
        Self::new(
            namespace,
            name,
            DeploymentExpectation::Command {
                container: None,
                command: CommandExpectation::Contains(element.into()),
            },
        )
    }

    /// The pod template's nodeSelector is exactly `selector` (empty: no nodeSelector).
    pub fn node_selector<K: Into<String>, V: Into<String>>(
        namespace: impl Into<String>,
        name: impl Into<String>,
        selector: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self::new(
            namespace,
            name,
            DeploymentExpectation::NodeSelector(
                selector
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        )
    }

    /// The pod template has no nodeSelector (or an empty one).
    pub fn no_node_selector(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(
            namespace,
            name,
            DeploymentExpectation::NodeSelector(BTreeMap::new()),
        )
    }

    /// `spec.replicas` is `replicas` and that many replicas are available.
    pub fn replicas(namespace: impl Into<String>, name: impl Into<String>, replicas: i32) -> Self {
        Self::new(namespace, name, DeploymentExpectation::Replicas(replicas))
    }

    /// The containers an expectation about `container` concerns, or why there are none.
    fn containers<'a>(
        &self,
        all: &'a [Container],
        container: Option<&str>,
    ) -> Result<Vec<&'a Container>, String> {
        match container {
            Some(c) => all
                .iter()
                .find(|x| x.name == c)
                .map(|x| vec![x])
                .ok_or_else(|| {
                    format!(
                        "deployment {} has no container {c} (it has: {})",
                        self.name,
                        all.iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            None if all.is_empty() => Err(format!("deployment {} has no containers", self.name)),
            None => Ok(all.iter().collect()),
        }
    }

    /// Judges a Deployment (or its absence) as the check does.
    pub fn judge(&self, deployment: Option<&Deployment>) -> Verdict {
        let name = &self.name;
        let Some(d) = deployment else {
            return Verdict::fail(format!(
                "deployment {name} does not exist in namespace {}",
                self.namespace
            ));
        };
        let pod_spec = d.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        let containers = pod_spec.map(|p| p.containers.as_slice()).unwrap_or(&[]);
        let result: Result<String, String> = match &self.expect {
            DeploymentExpectation::Image { container, image } => self
                .containers(containers, container.as_deref())
                .and_then(|cs| {
                    for c in &cs {
                        let actual = c.image.as_deref().unwrap_or("");
                        if actual != image {
                            return Err(format!(
                                "deployment {name} container {} runs image {actual:?}, expected {image:?}",
                                c.name
                            ));
                        }
                    }
                    Ok(format!("deployment {name} runs image {image:?}"))
                }),
            DeploymentExpectation::Command { container, command } => self
                .containers(containers, container.as_deref())
                .and_then(|cs| {
                    for c in &cs {
                        let actual = c.command.clone().unwrap_or_default();
                        let ok = match command {
                            CommandExpectation::Equals(want) => &actual == want,
                            CommandExpectation::Contains(x) => actual.contains(x),
                        };
                        if !ok {
                            let want = match command {
                                CommandExpectation::Equals(w) => quoted_list(w),
                                CommandExpectation::Contains(x) => format!("a command containing {x:?}"),
                            };
                            return Err(format!(
                                "deployment {name} container {} has command {}, expected {want}",
                                c.name,
                                quoted_list(&actual)
                            ));
                        }
                    }
                    Ok(match command {
                        CommandExpectation::Equals(w) => {
                            format!("deployment {name} has command {}", quoted_list(w))
                        }
                        CommandExpectation::Contains(x) => {
                            format!("deployment {name} has a command containing {x:?}")
                        }
                    })
                }),
            DeploymentExpectation::NodeSelector(want) => {
                let actual = pod_spec
                    .and_then(|p| p.node_selector.clone())
                    .unwrap_or_default();
                if &actual == want {
                    Ok(format!("deployment {name} has nodeSelector {}", show_selector(want)))
                } else {
                    Err(format!(
                        "deployment {name} has nodeSelector {}, expected {}",
                        show_selector(&actual),
                        show_selector(want)
                    ))
                }
            }
            DeploymentExpectation::Replicas(want) => {
                let spec = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let available = d
                    .status
                    .as_ref()
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0);
                if spec != *want {
                    Err(format!("deployment {name} has {spec} replicas, expected {want}"))
                } else if available != *want {
                    Err(format!(
                        "deployment {name} has {available}/{want} replicas available"
                    ))
                } else {
                    Ok(format!("deployment {name} has {want}/{want} replicas available"))
                }
            }
        };
        Verdict::from_result(result)
    }
}

#[async_trait::async_trait]
impl Oracle for DeploymentCheck {
    fn describe(&self) -> String {
        let what = match &self.expect {
            DeploymentExpectation::Image { image, .. } => format!("runs image {image:?}"),
            DeploymentExpectation::Command {
                command: CommandExpectation::Equals(w),
                ..
            } => format!("has command {}", quoted_list(w)),
            DeploymentExpectation::Command {
                command: CommandExpectation::Contains(x),
                ..
            } => format!("has a command containing {x:?}"),
            DeploymentExpectation::NodeSelector(s) => {
                format!("has nodeSelector {}", show_selector(s))
            }
            DeploymentExpectation::Replicas(n) => format!("has {n} available replicas"),
        };
        format!("deployment {}/{} {what}", self.namespace, self.name)
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        let d: Option<Deployment> = get(cluster, &self.namespace, &self.name).await?;
        Ok(self.judge(d.as_ref()))
    }
}
