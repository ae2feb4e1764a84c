//! 申请人登录: a mobile number, an SMS code, a session cookie.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sealdesk_app::AppError;

use crate::AppState;
use crate::session::{ClientIp, PageCaller, clear_cookie, session_cookie};
use crate::view::{Fields, Layout, Nav, PageResult, render_with};

#[derive(Template)]
#[template(path = "portal/login.html")]
struct Login<'a> {
    l: Layout,
    mobile: &'a str,
    ok: Option<&'a str>,
    err: Option<&'a str>,
    demo: bool,
    /// Where the 证书登录 script finds the UKey agent.
    agent_url: &'a str,
    /// The page to go on to once signed in (`next`), when it is one of ours.
    next: &'a str,
}

/// The page a sign-in goes on to: `next` when it is a page of the portal (a path of this site, not the
/// console's or the sign-in's own, nothing another site could be reached by), else 我的订单.
pub(crate) fn next_page(next: &str) -> &str {
    let ours = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/admin")
        && !next.starts_with("/login")
        && next.len() <= 512
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    if ours { next } else { "/orders" }
}

fn login_page(
    s: &AppState,
    status: StatusCode,
    mobile: &str,
    next: &str,
    ok: Option<&str>,
    err: Option<&str>,
) -> Response {
    render_with(
        status,
        &Login {
            l: Layout::new("申请人登录", Nav::Visitor),
            mobile,
            ok,
            err,
            demo: s.app.config().demo,
            agent_url: &s.agent_url,
            next: next_page(next),
        },
    )
}

#[derive(serde::Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

pub(super) async fn page(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    login_page(
        &s,
        StatusCode::OK,
        "",
        q.next.as_deref().unwrap_or(""),
        None,
        None,
    )
}

/// 证书登录: the form the UKey script fills with the key's certificate and its signature over a sign-in
/// challenge (`POST /api/v1/auth/ukey/challenge`).
pub(super) async fn sign_in_ukey(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let answer = crate::api::ukey_answer(f.get("cert_der_b64"), f.get("signature"));
    let result = match answer {
        Ok((der, sig)) => {
            s.app
                .sign_in_with_cert(&der, f.get("nonce"), &sig, &ip)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(si) => signed_in(&s, &si, next_page(f.get("next"))),
        Err(e) => login_page(
            &s,
            crate::error::status(&e),
            "",
            f.get("next"),
            None,
            Some(&e.to_string()),
        ),
    }
}

pub(super) async fn send_code(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let mobile = f.get("mobile");
    match s.app.send_login_code(mobile, &ip).await {
        Ok(()) => login_page(
            &s,
            StatusCode::OK,
            mobile,
            f.get("next"),
            Some("验证码已发送，5 分钟内有效"),
            None,
        ),
        Err(AppError::Invalid(e)) => login_page(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            mobile,
            f.get("next"),
            None,
            Some(&e[0].message),
        ),
        Err(e) => login_page(
            &s,
            crate::error::status(&e),
            mobile,
            f.get("next"),
            None,
            Some(&e.to_string()),
        ),
    }
}

pub(super) async fn sign_in(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    match s
        .app
        .sign_in_with_code(f.get("mobile"), f.get("code"), &ip)
        .await
    {
        Ok(si) => signed_in(&s, &si, next_page(f.get("next"))),
        Err(e) => login_page(
            &s,
            crate::error::status(&e),
            f.get("mobile"),
            f.get("next"),
            None,
            Some(&e.to_string()),
        ),
    }
}

/// Starts the session in the browser and goes on to `to`.
pub(crate) fn signed_in(s: &AppState, si: &sealdesk_app::SignedIn, to: &str) -> Response {
    (
        [(
            header::SET_COOKIE,
            session_cookie(si, s.secure_cookies, s.app.now()),
        )],
        Redirect::to(to),
    )
        .into_response()
}

/// 退出: a POST with the session's CSRF token, so that another site cannot sign anyone out.
pub(super) async fn sign_out(
    State(s): State<AppState>,
    c: PageCaller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult {
    c.check_csrf(Fields::parse(&body).get("_csrf"))?;
    if let Some(t) = crate::session::token_of(&headers) {
        s.app.sign_out(&t).await?;
    }
    Ok(([(header::SET_COOKIE, clear_cookie())], Redirect::to("/")).into_response())
}
