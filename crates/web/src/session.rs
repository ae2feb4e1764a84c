//! Who is calling: sessions from the `sd_session` cookie (pages) or a bearer token (API), CSRF checks, and the
//! refusal of cross-site writes.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealdesk_app::{AppError, Principal, SignedIn, Who};
use subtle::ConstantTimeEq;

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

/// An address block such as `10.0.0.0/8` or `::1/128` (a bare address is a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an address block such as 10.0.0.0/8 or 127.0.0.1");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in the block (IPv4-mapped IPv6 addresses count as their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (a, b, width) = match (ip, self.net) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(u32::from(a)), u128::from(u32::from(b)), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let host_bits = u32::from(width - self.prefix);
        (a ^ b).checked_shr(host_bits).unwrap_or(0) == 0
    }
}

/// The client's address: the peer's, or — when the peer is a trusted proxy — the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is ignored, so that no
/// client can choose the address its sign-in limits and audit entries are counted under.
pub(crate) fn client_ip_of(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[Cidr]) -> String {
    let Some(peer) = peer else {
        return "-".into();
    };
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !trusted.iter().any(|c| c.contains(**a)))
        .or(forwarded.first())
        .unwrap_or(&peer)
        .to_string()
}

fn client_ip(parts: &Parts, state: &AppState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_ip_of(&parts.headers, peer, &state.trusted_proxies)
}

/// The `Set-Cookie` value that starts a session; `now` by the application's clock, which set its expiry.
pub fn session_cookie(s: &SignedIn, secure: bool, now: i64) -> String {
    let max_age = (s.expires_at - now).max(0);
    // An operator's session never rides along on a request another site starts, not even a top-level link.
    let same_site = match s.principal {
        Principal::Operator { .. } => "Strict",
        _ => "Lax",
    };
    format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{}",
        s.token,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Constant-time equality for tokens (`subtle`; only the length may show).
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
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
            ip: client_ip(parts, state),
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
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A portal page asked for without a session signs in first and then comes back to it (a 新办 link stays a
        // 新办); the console has its own sign-in.
        let refused = |e: AppError| {
            use axum::response::IntoResponse;
            let page = parts.uri.path();
            if matches!(e, AppError::Unauthenticated)
                && parts.method == axum::http::Method::GET
                && !page.starts_with("/admin")
            {
                let back = parts.uri.path_and_query().map_or(page, |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
                return axum::response::Redirect::to(&format!("/login?next={next}"))
                    .into_response();
            }
            PageError(e).into_response()
        };
        let token = cookie(&parts.headers, COOKIE)
            .ok_or(AppError::Unauthenticated)
            .map_err(refused)?;
        let (principal, csrf) = state.app.session(&token).await.map_err(refused)?;
        Ok(PageCaller {
            who: Who {
                principal,
                ip: client_ip(parts, state),
            },
            csrf,
        })
    }
}

/// The client address of a request with no session (sign-in, gateway callbacks).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.7, 10.1.2.3".parse().unwrap());
        let proxy = Some("10.9.9.9".parse().unwrap());
        assert_eq!(client_ip_of(&h, proxy, &trusted), "203.0.113.7");
        // A client that sends the header itself, not through the proxy, is counted under its own address.
        let stranger = Some("198.51.100.1".parse().unwrap());
        assert_eq!(client_ip_of(&h, stranger, &trusted), "198.51.100.1");
        // A client cannot hide behind a spoofed first entry: the right-most untrusted address counts.
        h.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9".parse().unwrap());
        assert_eq!(client_ip_of(&h, proxy, &trusted), "203.0.113.9");
        assert_eq!(client_ip_of(&HeaderMap::new(), proxy, &trusted), "10.9.9.9");
        assert_eq!(
            client_ip_of(&h, Some("::1".parse().unwrap()), &trusted),
            "203.0.113.9"
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err() && "x".parse::<Cidr>().is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one: Cidr = "192.168.1.0/24".parse().unwrap();
        assert!(one.contains("192.168.1.200".parse().unwrap()));
        assert!(!one.contains("192.168.2.1".parse().unwrap()));
        assert!(one.contains("::ffff:192.168.1.5".parse().unwrap()));
    }
}

/// The raw session token of a request, if any (for sign-out).
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}
