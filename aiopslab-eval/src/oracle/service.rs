//! A Service port's `targetPort` equals an expected value.

use super::{Oracle, get};
use crate::error::OracleError;
use crate::verdict::Verdict;
use aiopslab_k8s::Cluster;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Which port of a Service to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// The port at this position of `spec.ports` (AIOpsLab looks at the first, `0`).
    Index(usize),
    /// The port with this `name`.
    Name(String),
}

/// A Service port's `targetPort` equals `expected` (an unset `targetPort` means the port
/// number itself, as Kubernetes defaults it). AIOpsLab's target-port problems check the
/// first port against the integer `9090`; a named target port is compared as a name.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTargetPort {
    namespace: String,
    service: String,
    port: PortRef,
    expected: IntOrString,
}

fn show_target(t: &IntOrString) -> String {
    match t {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => format!("{s:?}"),
    }
}

impl ServiceTargetPort {
    /// The first port of `service` must target port number `expected`.
    ///
    /// ```
    /// use aiopslab_eval::oracle::ServiceTargetPort;
    /// let check = ServiceTargetPort::new("test-social-network", "user-service", 9090);
    /// ```
    pub fn new(namespace: impl Into<String>, service: impl Into<String>, expected: i32) -> Self {
        ServiceTargetPort {
            namespace: namespace.into(),
            service: service.into(),
            port: PortRef::Index(0),
            expected: IntOrString::Int(expected),
        }
    }

    /// Looks at another port.
    pub fn port(mut self, port: PortRef) -> Self {
        self.port = port;
        self
    }

    /// Expects a named target port (or any [`IntOrString`]).
    pub fn expecting(mut self, expected: IntOrString) -> Self {
        self.expected = expected;
        self
    }

    /// Judges a Service (or its absence) as the check does.
    pub fn judge(&self, service: Option<&Service>) -> Verdict {
        let name = &self.service;
        let Some(svc) = service else {
            return Verdict::fail(format!(
                "service {name} does not exist in namespace {}",
                self.namespace
            ));
        };
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_deref())
            .unwrap_or(&[]);
        let found = match &self.port {
            PortRef::Index(i) => ports.get(*i),
            PortRef::Name(n) => ports.iter().find(|p| p.name.as_deref() == Some(n.as_str())),
        };
        let which = match &self.port {
            PortRef::Index(i) => format!("port #{i}"),
            PortRef::Name(n) => format!("port {n:?}"),
        };
        let Some(port) = found else {
            return Verdict::fail(format!(
                "service {name} has no {which} (it has {} ports)",
                ports.len()
            ));
        };
        let actual = port
            .target_port
            .clone()
            .unwrap_or(IntOrString::Int(port.port));
        let want = show_target(&self.expected);
        if actual == self.expected {
            Verdict::pass(format!(
                "service {name} {which} ({}) targets {want}",
                port.port
            ))
        } else {
            Verdict::fail(format!(
                "service {name} {which} ({}) targets {}, expected {want}",
                port.port,
                show_target(&actual)
            ))
        }
    }
}

#[async_trait::async_trait]
impl Oracle for ServiceTargetPort {
    fn describe(&self) -> String {
        format!(
            "service {}/{} targets port {}",
            self.namespace,
            self.service,
            show_target(&self.expected)
        )
    }

    async fn check(&self, cluster: &Cluster) -> Result<Verdict, OracleError> {
        let svc: Option<Service> = get(cluster, &self.namespace, &self.service).await?;
        Ok(self.judge(svc.as_ref()))
    }
}
