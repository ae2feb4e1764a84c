//! The OpenAPI 3.1 description of `/api/v1`, generated: [`base`] holds what is not an operation (title,
//! servers, the two ways to send a session), and `utoipa_axum`'s router adds one operation per handler from its
//! `#[utoipa::path]` and the request and response types of [`crate::schema`]. A route cannot be added without
//! its description, and a body cannot change without its schema.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SealDesk API",
        description = "电子印章在线办理平台 API. Ids are strings; money is integer fen. Sessions: `Authorization: Bearer <token>` from /auth/*, or the sd_session cookie with X-CSRF-Token on writes."
    ),
    components(schemas(crate::schema::ErrorBody))
)]
struct Base;

/// The document without operations: info, server, security schemes.
pub(crate) fn base() -> Document {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.servers = Some(vec![Server::new("/api/v1")]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::session::COOKIE))),
    );
    doc
}

/// The API router with `GET /openapi.json` serving the document built from it; the demo-only operations are
/// routed, and so documented, only in demo mode.
pub(crate) fn api_router(demo: bool) -> Router<AppState> {
    let (router, doc) = crate::api::routes(demo).split_for_parts();
    let doc = Arc::new(doc);
    router.route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
}

/// The document of a demo server (every operation), for tests and tools that want it without a server.
pub fn document() -> Document {
    crate::api::routes(true).split_for_parts().1
}
