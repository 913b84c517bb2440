//! The URL wrk2 is pointed at: the ClusterIP of the app's frontend Service, its port and the
//! app's path, read through the API as AIOpsLab does.
//!
//! AIOpsLab quirk: the Social Network no-op problem passes the bare `http://<ip>:8080`
//! instead of `http://<ip>:8080/wrk2-api/post/compose`. It makes no difference to the
//! traffic, because both AIOpsLab scripts write an absolute URI on `localhost` in every
//! request line and wrk2 uses the command-line URL only for the host and port. We keep the
//! app's path by default and offer [`Target::bare`] for callers that reproduce that problem's
//! Job arguments byte for byte.

use crate::error::{Result, WorkloadError};
use aiopslab_k8s::Cluster;
use aiopslab_metadata::App;
use k8s_openapi::api::core::v1::Service;

/// Which Service, port and path the workload targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub service: String,
    /// The Service port.
    pub port: u16,
    /// Appended to `http://<ip>:<port>` (empty or starting with `/`).
    pub path: String,
}

impl Target {
    /// The frontend of `app` (Hotel Reservation: `frontend:5000`; Social Network:
    /// `nginx-thrift:8080/wrk2-api/post/compose`).
    ///
    /// ```
    /// let sn = aiopslab_metadata::app("social-network").unwrap();
    /// let t = aiopslab_workload::Target::for_app(sn);
    /// assert_eq!(t.url("10.96.0.30"), "http://10.96.0.30:8080/wrk2-api/post/compose");
    /// assert_eq!(t.bare().url("10.96.0.30"), "http://10.96.0.30:8080");
    /// ```
    pub fn for_app(app: &App) -> Self {
        Target {
            namespace: app.namespace.to_string(),
            service: app.frontend.0.to_string(),
            port: app.frontend.1,
            path: app.workload.url_path.to_string(),
        }
    }

    /// The same Service without the path (AIOpsLab's Social Network no-op problem).
    pub fn bare(mut self) -> Self {
        self.path.clear();
        self
    }

    /// The URL for a given ClusterIP.
    pub fn url(&self, cluster_ip: &str) -> String {
        let host = if cluster_ip.contains(':') {
            format!("[{cluster_ip}]")
        } else {
            cluster_ip.to_string()
        };
        format!("http://{host}:{}{}", self.port, self.path)
    }

    /// Reads the Service's ClusterIP and forms the URL.
    pub async fn resolve(&self, cluster: &Cluster) -> Result<String> {
        let svc: Option<Service> = cluster.get_opt(&self.namespace, &self.service).await?;
        let Some(svc) = svc else {
            return Err(WorkloadError::Target(format!(
                "there is no Service {}/{}; deploy the application first",
                self.namespace, self.service
            )));
        };
        let ip = svc
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.clone())
            .unwrap_or_default();
        if ip.is_empty() || ip == "None" {
            return Err(WorkloadError::Target(format!(
                "Service {}/{} has no ClusterIP (headless or ExternalName); wrk2 needs a ClusterIP",
                self.namespace, self.service
            )));
        }
        Ok(self.url(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotel_url_has_no_path() {
        let hr = aiopslab_metadata::app("hotel-reservation").unwrap();
        let t = Target::for_app(hr);
        assert_eq!(t.service, "frontend");
        assert_eq!(t.namespace, "test-hotel-reservation");
        assert_eq!(t.url("10.96.1.2"), "http://10.96.1.2:5000");
        assert_eq!(t.url("fd00::1"), "http://[fd00::1]:5000");
    }
}
