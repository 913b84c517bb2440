//! Content negotiation: which representation the client asked for in `Accept`.
//!
//! The server speaks JSON (and YAML on request). Protobuf is not served: clients always list
//! JSON after it (`application/vnd.kubernetes.protobuf, application/json` or `*/*`), so they
//! get JSON. A client that accepts nothing the server speaks gets `406 Not Acceptable`.

use super::status::ApiError;

/// The representation of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The object or list as JSON.
    Json,
    /// The object or list as YAML.
    Yaml,
    /// A `meta.k8s.io` `Table` (`v1` or `v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` (`v1` or `v1beta1`), for single objects.
    PartialObjectMetadata(&'static str),
    /// `PartialObjectMetadataList` (`v1` or `v1beta1`), for lists.
    PartialObjectMetadataList(&'static str),
    /// Aggregated discovery (`apidiscovery.k8s.io` `v2` or `v2beta1`).
    AggregatedDiscovery(&'static str),
}

impl Output {
    /// The `Content-Type` of a response in this representation.
    pub fn content_type(self) -> String {
        match self {
            Output::Json => "application/json".into(),
            Output::Yaml => "application/yaml".into(),
            Output::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
            Output::PartialObjectMetadata(v) => {
                format!("application/json;as=PartialObjectMetadata;v={v};g=meta.k8s.io")
            }
            Output::PartialObjectMetadataList(v) => {
                format!("application/json;as=PartialObjectMetadataList;v={v};g=meta.k8s.io")
            }
            Output::AggregatedDiscovery(v) => {
                format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList")
            }
        }
    }
}

/// One media range of an `Accept` header.
#[derive(Debug, Default)]
struct MediaRange<'a> {
    mime: &'a str,
    as_: Option<&'a str>,
    g: Option<&'a str>,
    v: Option<&'a str>,
}

fn ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .map(|r| {
            let mut parts = r.split(';').map(str::trim);
            let mut m = MediaRange {
                mime: parts.next().unwrap_or(""),
                ..Default::default()
            };
            for p in parts {
                match p.split_once('=') {
                    Some(("as", v)) => m.as_ = Some(v),
                    Some(("g", v)) => m.g = Some(v),
                    Some(("v", v)) => m.v = Some(v),
                    _ => {}
                }
            }
            m
        })
        .collect()
}

fn meta_version(v: Option<&str>) -> Option<&'static str> {
    match v {
        Some("v1") => Some("v1"),
        Some("v1beta1") => Some("v1beta1"),
        _ => None,
    }
}

/// The representation for an object or list response, from the `Accept` header.
///
/// `list` says whether the response is a list (for `PartialObjectMetadataList`).
///
/// ```
/// use aiopslab_sim::api::negotiate::{negotiate, Output};
/// let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
/// assert_eq!(negotiate(Some(kubectl_get), true).unwrap(), Output::Table("v1"));
/// assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, */*"), false).unwrap(), Output::Json);
/// assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), false).is_err());
/// ```
pub fn negotiate(accept: Option<&str>, list: bool) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for r in ranges(accept) {
        match r.mime {
            "application/json" | "application/*" | "*/*" | "application/json-seq" => {
                match (r.as_, r.g) {
                    (None, _) => return Ok(Output::Json),
                    (Some("Table"), Some("meta.k8s.io")) => {
                        if let Some(v) = meta_version(r.v) {
                            return Ok(Output::Table(v));
                        }
                    }
                    (Some("PartialObjectMetadata"), Some("meta.k8s.io")) if !list => {
                        if let Some(v) = meta_version(r.v) {
                            return Ok(Output::PartialObjectMetadata(v));
                        }
                    }
                    (Some("PartialObjectMetadataList"), Some("meta.k8s.io")) if list => {
                        if let Some(v) = meta_version(r.v) {
                            return Ok(Output::PartialObjectMetadataList(v));
                        }
                    }
                    _ => {}
                }
            }
            "application/yaml" | "text/yaml" if r.as_.is_none() => return Ok(Output::Yaml),
            _ => {}
        }
    }
    Err(not_acceptable())
}

/// The representation of a discovery document (`/api`, `/apis`): aggregated when asked for.
pub fn negotiate_discovery(accept: Option<&str>) -> Output {
    let Some(accept) = accept else {
        return Output::Json;
    };
    for r in ranges(accept) {
        if r.mime == "application/json"
            && r.g == Some("apidiscovery.k8s.io")
            && r.as_ == Some("APIGroupDiscoveryList")
        {
            match r.v {
                Some("v2") => return Output::AggregatedDiscovery("v2"),
                Some("v2beta1") => return Output::AggregatedDiscovery("v2beta1"),
                _ => {}
            }
        }
        if r.as_.is_none() && matches!(r.mime, "application/json" | "*/*" | "application/*") {
            return Output::Json;
        }
    }
    Output::Json
}

/// 406 with the real server's message.
pub fn not_acceptable() -> ApiError {
    ApiError::new(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml",
    )
}

/// The media type of a request body, without parameters, lower-cased.
pub fn body_media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_first_acceptable() {
        assert_eq!(
            negotiate(
                Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"),
                true
            )
            .unwrap(),
            Output::PartialObjectMetadataList("v1")
        );
        assert_eq!(
            negotiate(
                Some("application/json;as=Table;v=v9;g=meta.k8s.io,application/yaml"),
                true
            )
            .unwrap(),
            Output::Yaml
        );
        assert_eq!(negotiate(None, false).unwrap(), Output::Json);
        assert_eq!(negotiate(Some("text/html"), false).unwrap_err().code, 406);
    }

    #[test]
    fn discovery_formats() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate_discovery(Some(kubectl)),
            Output::AggregatedDiscovery("v2")
        );
        assert_eq!(
            negotiate_discovery(Some("application/json, */*")),
            Output::Json
        );
        assert!(
            Output::AggregatedDiscovery("v2")
                .content_type()
                .contains("as=APIGroupDiscoveryList")
        );
    }
}
