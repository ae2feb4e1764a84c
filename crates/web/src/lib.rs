//! SealDesk's web face: the applicant portal and the operator console as plain server-rendered zh-CN pages,
//! and the JSON API under `/api/v1` (described at `/api/v1/openapi.json`).
//!
//! Pages live by area — `public` (home, guide), `portal` (applicants), `console` (operators), `cashier` (the
//! sandbox cashier) — and are askama templates under `templates/`, escaped by default; styles and the one
//! script are static files under hashed names (`assets`), so the CSP allows no inline code. The API's router
//! and its OpenAPI document come from the same annotated handlers (`api`, `schema`, `openapi`).
//!
//! Handlers are thin: they parse, call one `sealdesk_app` use case with the caller taken from the session, and
//! render. Sessions are cookies holding a random token (pages) or the same token as a bearer (API); every
//! form carries the session's CSRF token and every unsafe request from another site is refused.
#![deny(missing_docs)]

mod api;
mod api_finance;
mod assets;
mod cashier;
mod console;
mod error;
mod gate;
pub mod metrics;
mod openapi;
mod order_query;
mod portal;
mod public;
mod schema;
mod session;
mod view;

pub use openapi::document as openapi_document;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use sealdesk_app::App;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body outside uploads.
const BODY_LIMIT: usize = 64 * 1024;
/// Largest upload request: a file just under 5 MB plus the multipart framing.
pub(crate) const UPLOAD_BODY_LIMIT: usize = 5 * 1024 * 1024 + 64 * 1024;

/// How long one request may take before it is answered 503 and its work dropped (uploads included).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub use session::Cidr;

/// Settings of the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`). From any other peer the
    /// header is ignored: the client address (for the audit log and sign-in limits) is the peer's.
    pub trusted_proxies: Vec<Cidr>,
    /// Where the portal's pages find the UKey agent (`--agent-url`; [`DEFAULT_AGENT_URL`] when empty): the
    /// pages' script talks to it, and the CSP's `connect-src` allows it and nothing else beside the platform.
    pub agent_url: String,
    /// The agent's program for applicants to download from the home page (`--agent-download`), if the operator
    /// of the platform provides one.
    pub agent_download: Option<std::path::PathBuf>,
}

/// The UKey agent's address on the applicant's computer, as `sealdesk-agent` listens by default.
pub const DEFAULT_AGENT_URL: &str = "http://127.0.0.1:17820";

/// Checks an agent address: `http(s)://host[:port]`, no path, nothing a CSP or an HTML attribute would read
/// differently. Returns it without a trailing slash.
pub fn agent_origin(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
        .ok_or_else(|| format!("{s:?}: the agent URL starts with http:// or https://"))?;
    if rest.is_empty()
        || !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return Err(format!(
            "{s:?}: the agent URL is scheme://host[:port], without a path"
        ));
    }
    Ok(t.to_owned())
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    /// Whether cookies get the `Secure` flag (the platform is served over https).
    pub secure_cookies: bool,
    /// Proxies trusted to name the client.
    pub trusted_proxies: std::sync::Arc<Vec<Cidr>>,
    /// The UKey agent's origin, for the pages that use it.
    pub agent_url: std::sync::Arc<str>,
    /// The agent's program offered at `/downloads/sealdesk-agent`, if any.
    pub agent_download: Option<std::sync::Arc<std::path::Path>>,
}

/// The whole HTTP surface, trusting no proxy.
pub fn router(app: App) -> Router {
    router_with(app, WebConfig::default())
}

/// The whole HTTP surface. The demo pages and API (sandbox cashier, SMS outbox) exist only in demo mode: without
/// it their paths answer 404 to every method.
pub fn router_with(app: App, web: WebConfig) -> Router {
    let secure_cookies = app.config().public_url.starts_with("https://");
    let demo = app.config().demo;
    let agent_url = agent_origin(&web.agent_url).unwrap_or_else(|_| DEFAULT_AGENT_URL.into());
    let csp = HeaderValue::from_str(&format!(
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self' {agent_url}; form-action 'self'; frame-ancestors 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let state = AppState {
        app,
        secure_cookies,
        trusted_proxies: std::sync::Arc::new(web.trusted_proxies),
        agent_url: agent_url.into(),
        agent_download: web.agent_download.map(|p| p.into()),
    };
    let mut pages = Router::new()
        .merge(public::routes())
        .merge(portal::routes())
        .merge(console::routes());
    if demo {
        pages = pages.merge(public::demo_routes()).merge(cashier::routes());
    }
    let gate = axum::middleware::from_fn_with_state(state.clone(), gate::uploads);
    Router::new()
        .merge(pages)
        .nest("/api/v1", openapi::api_router(demo))
        .route("/healthz", axum::routing::get(api::healthz))
        .route("/static/{file}", axum::routing::get(assets::serve))
        // Innermost: an upload takes one of its few places only after the cross-site, size and time checks that
        // wrap this layer have let it through.
        .layer(gate)
        .layer(axum::middleware::from_fn(session::refuse_cross_site))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A body announced larger than any route takes is refused from its Content-Length, before a byte of it
        // is read; a chunked one is cut off at the same size.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            UPLOAD_BODY_LIMIT,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, trusting no proxy.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, WebConfig::default(), shutdown).await
}

/// Serves `app` on `listener` with `web` settings until `shutdown` resolves.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: App,
    web: WebConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router_with(app, web).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
