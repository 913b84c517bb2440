//! What a request asks for: the route (discovery, OpenAPI, a resource) parsed from the path,
//! as the real server's `RequestInfoFactory` does, and the query parameters.

use percent_encoding::percent_decode_str;

/// A request on a resource (or one of its subresources).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace from the path (`/namespaces/{ns}/...`).
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `log`, ...).
    pub subresource: Option<String>,
    /// Legacy `/watch/` path prefix.
    pub watch_path: bool,
}

/// The parsed route of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz` (and their sub-checks).
    Health(String),
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList {
        /// API group.
        group: String,
        /// API version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3 {
        /// API group.
        group: String,
        /// API version.
        version: String,
    },
    /// A resource request.
    Resource(ResourcePath),
    /// Anything else.
    Unknown,
}

/// Parses a URL path (without the query string).
///
/// ```
/// use aiopslab_sim::api::request::{parse_route, Route};
/// let Route::Resource(r) = parse_route("/apis/apps/v1/namespaces/ns/deployments/geo/scale") else { panic!() };
/// assert_eq!((r.group.as_str(), r.plural.as_str()), ("apps", "deployments"));
/// assert_eq!(r.name.as_deref(), Some("geo"));
/// assert_eq!(r.subresource.as_deref(), Some("scale"));
/// let Route::Resource(ns) = parse_route("/api/v1/namespaces/ns") else { panic!() };
/// assert_eq!((ns.plural.as_str(), ns.name.as_deref()), ("namespaces", Some("ns")));
/// ```
pub fn parse_route(path: &str) -> Route {
    let parts: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["version"] => Route::Version,
        [h, rest @ ..] if matches!(*h, "healthz" | "livez" | "readyz") => {
            let mut name = h.to_string();
            for r in rest {
                name.push('/');
                name.push_str(r);
            }
            Route::Health(name)
        }
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", v] => Route::ResourceList {
            group: String::new(),
            version: v.to_string(),
        },
        ["apis", g, v] => Route::ResourceList {
            group: g.to_string(),
            version: v.to_string(),
        },
        ["openapi", "v2"] | ["swagger.json"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", "api", v] => Route::OpenApiV3 {
            group: String::new(),
            version: v.to_string(),
        },
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3 {
            group: g.to_string(),
            version: v.to_string(),
        },
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::Unknown,
    }
}

fn resource_route(group: &str, version: &str, mut rest: &[&str]) -> Route {
    let mut r = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        ..Default::default()
    };
    if rest.first() == Some(&"watch") {
        r.watch_path = true;
        rest = &rest[1..];
    }
    // `/namespaces/{ns}/...`: a namespaced request, unless it is the namespace itself or one of
    // its subresources (`status`, `finalize`).
    if rest.len() >= 2 && rest[0] == "namespaces" {
        r.namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        } else {
            r.plural = "namespaces".into();
            r.name = Some(rest[1].to_string());
            r.subresource = rest.get(2).map(|s| s.to_string());
            return if rest.len() > 3 {
                Route::Unknown
            } else {
                Route::Resource(r)
            };
        }
    }
    match rest {
        [plural] => r.plural = plural.to_string(),
        [plural, name] => {
            r.plural = plural.to_string();
            r.name = Some(name.to_string());
        }
        [plural, name, sub] => {
            r.plural = plural.to_string();
            r.name = Some(name.to_string());
            r.subresource = Some(sub.to_string());
        }
        _ => return Route::Unknown,
    }
    Route::Resource(r)
}

/// Query parameters, in order, with repeated keys kept (`command=sh&command=-c`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (`a=1&b=x%20y`).
    ///
    /// ```
    /// use aiopslab_sim::api::request::Query;
    /// let q = Query::parse(Some("command=sh&command=-c&labelSelector=app%3Dgeo&watch=1"));
    /// assert_eq!(q.all("command"), vec!["sh", "-c"]);
    /// assert_eq!(q.get("labelSelector"), Some("app=geo"));
    /// assert!(q.flag("watch"));
    /// ```
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` unless it is empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean parameter: `1`, `true`, `True` (and a bare `key`) are true.
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "true" | "True" | "TRUE" | "y" | "yes" | "")
        ) && self.get(key).is_some()
    }

    /// An integer parameter; `Err` carries the real server's message.
    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.non_empty(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax")),
        }
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(parse_route("/version"), Route::Version);
        assert_eq!(parse_route("/api"), Route::CoreVersions);
        assert_eq!(parse_route("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            parse_route("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3 {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        let Route::Resource(w) = parse_route("/api/v1/watch/namespaces/ns/pods/p") else {
            panic!()
        };
        assert!(w.watch_path);
        assert_eq!(w.name.as_deref(), Some("p"));
        let Route::Resource(all) = parse_route("/api/v1/pods") else {
            panic!()
        };
        assert_eq!((all.namespace, all.name), (None, None));
        let Route::Resource(fin) = parse_route("/api/v1/namespaces/ns/finalize") else {
            panic!()
        };
        assert_eq!(fin.subresource.as_deref(), Some("finalize"));
        assert_eq!(fin.namespace.as_deref(), Some("ns"));
        let Route::Resource(nsl) = parse_route("/api/v1/namespaces") else {
            panic!()
        };
        assert_eq!(nsl.plural, "namespaces");
        assert_eq!(parse_route("/api/v1/a/b/c/d"), Route::Unknown);
        assert!(matches!(parse_route("/healthz/ping"), Route::Health(_)));
    }

    #[test]
    fn query_flags_and_ints() {
        let q = Query::parse(Some("watch=true&limit=5&bad=x&follow=false"));
        assert!(q.flag("watch"));
        assert!(!q.flag("follow"));
        assert!(!q.flag("missing"));
        assert_eq!(q.int("limit"), Ok(Some(5)));
        assert!(q.int("bad").is_err());
    }
}
