//! SealDesk's web face: the applicant portal and the operator console as plain server-rendered zh-CN pages,
//! and the JSON API under `/api/v1` (described at `/api/v1/openapi.json`).
//!
//! Handlers are thin: they parse, call one `sealdesk_app` use case with the caller taken from the session, and
//! render. Sessions are cookies holding a random token (pages) or the same token as a bearer (API); every
//! form carries the session's CSRF token and every unsafe request from another site is refused.
#![deny(missing_docs)]

mod api;
mod error;
mod html;
pub mod metrics;
mod openapi;
mod pages;
mod session;

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

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    /// Whether cookies get the `Secure` flag (the platform is served over https).
    pub secure_cookies: bool,
}

/// The whole HTTP surface.
pub fn router(app: App) -> Router {
    let secure_cookies = app.config().public_url.starts_with("https://");
    let state = AppState {
        app,
        secure_cookies,
    };
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .route("/healthz", axum::routing::get(api::healthz))
        .route("/static/app.css", axum::routing::get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../static/app.css")) }))
        .layer(axum::middleware::from_fn(session::refuse_cross_site))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
