//! The HTTP layer of the virtual cluster: the part of the Kubernetes API that `kubectl` and
//! kube-rs use, served by axum over HTTPS on loopback.
//!
//! One fallback handler ([`router`]) authenticates the caller (bearer token), parses the path
//! into a [`request::Route`] as the real server's `RequestInfoFactory` does, authorizes it
//! against the [`crate::auth::Policy`] and dispatches:
//! - [`discovery`]: `/version`, `/api`, `/apis`, resource lists, aggregated discovery;
//! - [`openapi`]: `/openapi/v2` and `/openapi/v3` (for `kubectl explain` and `apply`);
//! - `read`, `write`, `delete`, `watch`: the verbs on every kind of the catalogue, including
//!   custom resources as soon as their CRD is stored (`crd`);
//! - `subresources`: `status`, `scale`, `binding`, `eviction`, `finalize`, `log`;
//! - `exec`: `pods/exec` over WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`);
//! - `reviews`: `SelfSubjectAccessReview`, `SelfSubjectRulesReview`, `SelfSubjectReview`;
//! - [`tokens`]: `serviceaccounts/token` (TokenRequest) and the tokens it issues, whose
//!   callers [`rbac`] authorizes against the stored Roles, ClusterRoles and bindings;
//! - [`metrics`]: `metrics.k8s.io` for `kubectl top`;
//! - [`protobuf`]: reading the protobuf bodies kubectl's typed clients send;
//! - [`tls`]: the certificates and the HTTPS accept loop.
//!
//! Every failure is a [`status::ApiError`], rendered as the real `Status` object; the
//! conversions from store, admission, patch and runtime errors live in `status` and `write`.
//!
//! Where the virtual cluster knowingly differs from a real API server:
//! - HTTPS with a generated CA, because kubectl sends bearer tokens only over TLS;
//! - lists and watches are filtered for the agent instead of refused (see [`crate::auth`]);
//! - `pods/attach`, `pods/portforward` and the `proxy` subresources answer `400` saying
//!   they are not served; exec over SPDY is
//!   refused (kubectl uses WebSocket first); an exec's standard input reaches the command
//!   when the client closes it, so interactive shells do not work;
//! - evictions do not consult PodDisruptionBudgets;
//! - a list always reflects the latest state (a `continue` token resumes after the last name
//!   it returned; `resourceVersionMatch=Exact` with an older version answers `410`);
//! - the protobuf form of `/openapi/v2` carries no definitions (see [`openapi`]).

pub mod discovery;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod protobuf;
pub mod rbac;
pub mod request;
pub mod status;
pub mod tokens;

mod context;
mod crd;
mod delete;
mod exec;
mod logs;
mod objects;
mod read;
mod reviews;
mod subresources;
pub mod tls;
mod validate;
mod watch;
mod write;

use crate::auth::{Attributes, Authenticator, Identity, Policy, Role};
use crate::resources::ResourceType;
use crate::runtime::PodRuntime;
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use context::Ctx;
use metrics::MetricsSource;
use negotiate::Output;
use request::{Query, ResourcePath, Route, parse_route};
use status::{ApiError, ApiResult};
use std::sync::{Arc, RwLock};

/// The largest request body the server accepts (the real server's limit: 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Everything the handlers share.
struct Shared {
    store: Arc<Store>,
    auth: Authenticator,
    policy: Policy,
    runtime: RwLock<Option<Arc<dyn PodRuntime>>>,
    metrics: RwLock<Option<Arc<dyn MetricsSource>>>,
    server_address: String,
}

/// The state of the API server: the store, who may call and what they may see, and the
/// kubelet's runtime for logs and exec.
#[derive(Clone)]
pub struct ApiState {
    shared: Arc<Shared>,
}

impl ApiState {
    /// A server over `store` that accepts the tokens of `auth` and applies `policy`.
    ///
    /// `server_address` (`127.0.0.1:PORT`) is what `/api` reports to clients.
    pub fn new(
        store: Arc<Store>,
        auth: Authenticator,
        policy: Policy,
        server_address: impl Into<String>,
    ) -> Self {
        ApiState {
            shared: Arc::new(Shared {
                store,
                auth,
                policy,
                runtime: RwLock::new(None),
                metrics: RwLock::new(None),
                server_address: server_address.into(),
            }),
        }
    }

    /// Sets the runtime that serves `pods/log` and `pods/exec`.
    pub fn set_runtime(&self, runtime: Arc<dyn PodRuntime>) {
        *self
            .shared
            .runtime
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(runtime);
    }

    /// Sets the source of `metrics.k8s.io` usage numbers.
    pub fn set_metrics(&self, metrics: Arc<dyn MetricsSource>) {
        *self
            .shared
            .metrics
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(metrics);
    }

    /// The object store.
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// The visibility policy.
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    fn runtime(&self) -> Option<Arc<dyn PodRuntime>> {
        self.shared
            .runtime
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn metrics(&self) -> Option<Arc<dyn MetricsSource>> {
        self.shared
            .metrics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The axum router of the API server.
pub fn router(state: ApiState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

async fn dispatch(State(state): State<ApiState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let route = parse_route(parts.uri.path());
    if let Route::Health(name) = &route {
        let verbose = Query::parse(parts.uri.query()).get("verbose").is_some();
        return health(name, verbose);
    }
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let user = match state.shared.auth.authenticate(authorization) {
        Some(user) => user.clone(),
        None => match tokens::authenticate(state.store(), authorization) {
            Some(user) => user,
            None => return ApiError::new(401, "Unauthorized", "Unauthorized").into_response(),
        },
    };
    let query = Query::parse(parts.uri.query());
    if let Route::Resource(rp) = &route
        && rp.group.is_empty()
        && rp.plural == "pods"
        && matches!(rp.subresource.as_deref(), Some("exec" | "attach"))
    {
        return exec::handle(state, user, rp.clone(), query, parts)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let ctx = Ctx {
        state,
        user,
        method: parts.method,
        headers: parts.headers,
        query,
        body,
    };
    route_request(&ctx, route)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn read_body(body: Body) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            // axum reports the limit through http-body-util's `LengthLimitError`, whose text
            // is the only thing it exposes.
            let text = format!(
                "{e} {}",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            if text.contains("length limit exceeded") {
                ApiError::new(
                    413,
                    "RequestEntityTooLarge",
                    format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
                )
            } else {
                ApiError::bad_request(format!("unable to read the request body: {e}"))
            }
        })
}

/// `/healthz`, `/livez`, `/readyz` and their individual checks: always healthy, with the
/// `?verbose` listing kubectl prints for `kubectl get --raw /readyz?verbose`.
fn health(name: &str, verbose: bool) -> Response {
    let body = if verbose {
        let check = name.split('/').next().unwrap_or("healthz");
        format!(
            "[+]ping ok\n[+]etcd ok\n[+]poststarthook/start-apiextensions-controllers ok\n{check} check passed\n"
        )
    } else {
        "ok".to_string()
    };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn route_request(ctx: &Ctx, route: Route) -> ApiResult<Response> {
    let state = &ctx.state;
    let policy = &state.shared.policy;
    let get_only = |ctx: &Ctx| {
        if ctx.method == Method::GET || ctx.method == Method::HEAD {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match route {
        Route::Version => {
            get_only(ctx)?;
            Ok(ctx.json(200, &discovery::version()))
        }
        Route::Health(name) => Ok(health(&name, ctx.query.get("verbose").is_some())),
        Route::CoreVersions => {
            get_only(ctx)?;
            let cat = state.store().catalogue();
            match negotiate::negotiate_discovery(ctx.header(header::ACCEPT)) {
                Output::AggregatedDiscovery(v) => {
                    let doc = discovery::aggregated(&cat, policy, &ctx.user, true, v);
                    Ok(ctx.json_as(Output::AggregatedDiscovery(v), &doc))
                }
                _ => Ok(ctx.json(200, &discovery::core_versions(&state.shared.server_address))),
            }
        }
        Route::Groups => {
            get_only(ctx)?;
            let cat = state.store().catalogue();
            match negotiate::negotiate_discovery(ctx.header(header::ACCEPT)) {
                Output::AggregatedDiscovery(v) => {
                    let doc = discovery::aggregated(&cat, policy, &ctx.user, false, v);
                    Ok(ctx.json_as(Output::AggregatedDiscovery(v), &doc))
                }
                _ => Ok(ctx.json(200, &discovery::group_list(&cat, policy, &ctx.user))),
            }
        }
        Route::Group(g) => {
            get_only(ctx)?;
            let cat = state.store().catalogue();
            discovery::group(&cat, policy, &ctx.user, &g)
                .map(|doc| ctx.json(200, &doc))
                .ok_or_else(ApiError::no_route)
        }
        Route::ResourceList { group, version } => {
            get_only(ctx)?;
            let cat = state.store().catalogue();
            discovery::resource_list(&cat, policy, &ctx.user, &group, &version)
                .map(|doc| ctx.json(200, &doc))
                .ok_or_else(ApiError::no_route)
        }
        Route::OpenApiV2 => {
            get_only(ctx)?;
            openapi::serve_v2(ctx)
        }
        Route::OpenApiV3Root => {
            get_only(ctx)?;
            openapi::serve_v3_root(ctx)
        }
        Route::OpenApiV3 { group, version } => {
            get_only(ctx)?;
            openapi::serve_v3(ctx, &group, &version)
        }
        Route::Resource(rp) => resource(ctx, rp).await,
        Route::Unknown => Err(ApiError::no_route()),
    }
}

/// Allows or refuses a resource request: RBAC over the stored objects for a ServiceAccount
/// token, the [`Policy`] for the admin and the agent. The error is the `Forbidden` message.
pub(crate) fn authorize(
    state: &ApiState,
    user: &Identity,
    attrs: &Attributes<'_>,
) -> Result<(), String> {
    match user.role {
        Role::ServiceAccount => rbac::authorize(state.store(), user, attrs).map(|_| ()),
        Role::Admin | Role::Agent => state.policy().authorize(user, attrs),
    }
}

/// The RBAC verb of a resource request.
fn verb_of(method: &Method, rp: &ResourcePath, query: &Query) -> &'static str {
    let watching = rp.watch_path || query.flag("watch");
    match *method {
        Method::GET | Method::HEAD if watching => "watch",
        Method::GET | Method::HEAD if rp.name.is_none() => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if rp.name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    }
}

/// Finds the served type of a resource path, or the real server's 404.
fn resolve_type(ctx: &Ctx, rp: &ResourcePath) -> ApiResult<ResourceType> {
    let cat = ctx.state.store().catalogue();
    let rtype = cat
        .by_plural(&rp.group, &rp.version, &rp.plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    drop(cat);
    let is_namespace = rp.group.is_empty() && rp.plural == "namespaces";
    // A namespaced kind addressed by name needs a namespace; a cluster-scoped kind has none.
    if !is_namespace
        && ((rtype.namespaced && rp.namespace.is_none() && rp.name.is_some())
            || (!rtype.namespaced && rp.namespace.is_some()))
    {
        return Err(ApiError::no_route());
    }
    if let Some(sub) = &rp.subresource
        && !rtype.has_subresource(sub)
    {
        return Err(ApiError::no_route());
    }
    Ok(rtype)
}

async fn resource(ctx: &Ctx, rp: ResourcePath) -> ApiResult<Response> {
    let rtype = resolve_type(ctx, &rp)?;
    let verb = verb_of(&ctx.method, &rp, &ctx.query);
    if verb.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let namespace_attr = if rp.group.is_empty() && rp.plural == "namespaces" {
        rp.name.as_deref()
    } else {
        rp.namespace.as_deref()
    };
    let attrs = Attributes {
        verb,
        group: &rp.group,
        resource: &rp.plural,
        subresource: rp.subresource.as_deref().unwrap_or(""),
        namespace: namespace_attr,
        name: rp.name.as_deref(),
    };
    if let Err(message) = authorize(&ctx.state, &ctx.user, &attrs) {
        return Err(ApiError::forbidden(
            &rtype.key(),
            rp.name.as_deref().unwrap_or(""),
            message,
        ));
    }
    if !rtype.verbs.iter().any(|v| v == verb) && rp.subresource.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    match rtype.group.as_str() {
        "authorization.k8s.io" | "authentication.k8s.io" => {
            return reviews::handle(ctx, &rtype, &rp);
        }
        "metrics.k8s.io" => return metrics::handle(ctx, &rtype, &rp, verb),
        _ => {}
    }
    if rtype.group.is_empty() && rtype.plural == "bindings" {
        return subresources::binding(ctx, &rp, rp.name.as_deref());
    }
    if let Some(sub) = rp.subresource.clone() {
        return subresources::handle(ctx, &rtype, &rp, &sub, verb).await;
    }
    match verb {
        "get" => read::get(ctx, &rtype, &rp),
        "list" => read::list(ctx, &rtype, &rp),
        "watch" => watch::watch(ctx, &rtype, &rp),
        "create" => write::create(ctx, &rtype, &rp),
        "update" => write::update(ctx, &rtype, &rp, None),
        "patch" => write::patch(ctx, &rtype, &rp, None),
        "delete" => delete::delete(ctx, &rtype, &rp),
        "deletecollection" => delete::delete_collection(ctx, &rtype, &rp),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Keeps the served kinds in step with the CustomResourceDefinitions in the store, including
/// those written directly to the store (run it as a task next to the server).
pub async fn sync_crds(store: Arc<Store>) {
    crd::sync_catalogue(store).await;
}
