//! Who is calling: sessions from the `sd_session` cookie (pages) or a bearer token (API), CSRF checks, and the
//! refusal of cross-site writes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealdesk_app::{AppError, Principal, SignedIn, Who};

use crate::AppState;
use crate::error::{ApiError, PageError};

/// The session cookie's name.
pub const COOKIE: &str = "sd_session";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "-".into())
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(s: &SignedIn, secure: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let max_age = (s.expires_at - now).max(0);
    format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        s.token,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Constant-time equality for tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses state-changing requests that a browser marks as coming from another site. Same-site requests,
/// and non-browser clients (which send neither header), pass.
pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let h = req.headers();
        let cross = h
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site");
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let foreign_origin = h
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| {
                o != "null" && o.split_once("://").map(|(_, rest)| rest) != Some(host)
            });
        if cross || foreign_origin {
            return (StatusCode::FORBIDDEN, "跨站请求已被拒绝").into_response();
        }
    }
    next.run(req).await
}

/// An API caller: a bearer token, or the session cookie plus the `X-CSRF-Token` header on writes.
pub struct ApiCaller(pub Who);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let (token, from_cookie) = match bearer {
            Some(t) => (t, false),
            None => (
                cookie(&parts.headers, COOKIE).ok_or(AppError::Unauthenticated)?,
                true,
            ),
        };
        let (principal, csrf) = state.app.session(&token).await?;
        if from_cookie && !matches!(parts.method, Method::GET | Method::HEAD) {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(given, &csrf) {
                return Err(AppError::Forbidden("缺少或错误的 CSRF 令牌".into()).into());
            }
        }
        Ok(ApiCaller(Who {
            principal,
            ip: client_ip(parts),
        }))
    }
}

/// A page visitor with a session: who, and the CSRF token the page's forms must carry.
pub struct PageCaller {
    /// Who.
    pub who: Who,
    /// The session's CSRF token.
    pub csrf: String,
}

impl PageCaller {
    /// Refuses a form whose `_csrf` is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if same(given, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::Forbidden("页面已过期，请刷新后重试".into()).into())
        }
    }

    /// The operator's name, or refusal for an applicant.
    pub fn operator_name(&self) -> Result<String, PageError> {
        match &self.who.principal {
            Principal::Operator { name, .. } => Ok(name.clone()),
            _ => {
                Err(AppError::Forbidden("此页面仅供管理员使用，请使用管理员账号登录".into()).into())
            }
        }
    }
}

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, COOKIE).ok_or(AppError::Unauthenticated)?;
        let (principal, csrf) = state.app.session(&token).await?;
        Ok(PageCaller {
            who: Who {
                principal,
                ip: client_ip(parts),
            },
            csrf,
        })
    }
}

/// The client address of a request with no session (sign-in, gateway callbacks).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The raw session token of a request, if any (for sign-out).
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}
