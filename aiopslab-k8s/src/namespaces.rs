//! Namespaces: exists, create when missing, delete and wait until gone.

use crate::connect::Cluster;
use crate::error::{K8sError, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::runtime::{conditions, wait::await_condition};
use std::time::Duration;

impl Cluster {
    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.client())
    }

    /// Whether the namespace exists (a terminating one counts).
    pub async fn namespace_exists(&self, name: &str) -> Result<bool> {
        let found = self
            .call(
                format!("get namespace {name}"),
                self.namespaces().get_opt(name),
            )
            .await?;
        Ok(found.is_some())
    }

    /// Creates the namespace (with the run label) unless it exists. Returns whether it was
    /// created.
    pub async fn ensure_namespace(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Err(K8sError::InvalidArgument(
                "a namespace name must not be empty".into(),
            ));
        }
        if self.namespace_exists(name).await? {
            return Ok(false);
        }
        let labels = self.run_labels();
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: (!labels.is_empty()).then_some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match self
            .call(
                format!("create namespace {name}"),
                self.namespaces().create(&PostParams::default(), &ns),
            )
            .await
        {
            Ok(_) => Ok(true),
            // Someone else created it in between.
            Err(e) if e.status_code() == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the namespace and waits (with a watch) until it is gone, at most `timeout`.
    /// Returns `false` when it did not exist. On timeout the error names what keeps it
    /// (the namespace's conditions, such as remaining content or finalizers).
    pub async fn delete_namespace(&self, name: &str, timeout: Duration) -> Result<bool> {
        let api = self.namespaces();
        let Some(ns) = self
            .call(format!("get namespace {name}"), api.get_opt(name))
            .await?
        else {
            return Ok(false);
        };
        let uid = ns.metadata.uid.clone().unwrap_or_default();
        match self
            .call(
                format!("delete namespace {name}"),
                api.delete(name, &DeleteParams::default()),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(true),
            Err(e) => return Err(e),
        }
        let waited = tokio::time::timeout(
            timeout,
            await_condition(api.clone(), name, conditions::is_deleted(&uid)),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(K8sError::Watch {
                action: format!("wait for namespace {name} to be deleted"),
                code: 0,
                message: e.to_string(),
            }),
            Err(_) => {
                let mut waiting_for = Vec::new();
                if let Ok(Some(ns)) = api.get_opt(name).await {
                    for c in ns
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|c| c.status == "True")
                    {
                        waiting_for.push(format!(
                            "{}: {}",
                            c.reason.unwrap_or(c.type_),
                            c.message.unwrap_or_default()
                        ));
                    }
                }
                if waiting_for.is_empty() {
                    waiting_for.push(format!("namespace {name} is still terminating"));
                }
                Err(K8sError::WaitTimeout {
                    what: format!("namespace {name} to be deleted"),
                    secs: timeout.as_secs(),
                    waiting_for,
                })
            }
        }
    }
}
