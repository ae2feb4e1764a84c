//! 在线手写签字: the signature pad page of an order with 手写签字 seals. The pad's script records the strokes
//! (pointer events: mouse, finger, stylus) into a hidden field; the server draws the seal picture from them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealdesk_app::AppError;
use sealdesk_domain::SealKind;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Fields, Layout, Nav, PageResult, oid, redirect_with, render_with};

#[derive(Template)]
#[template(path = "portal/signature.html")]
struct SignaturePage<'a> {
    l: Layout,
    csrf: &'a str,
    order_id: i64,
    order_no: String,
    /// `宽 5.0 cm × 高 2.5 cm`: the registered size the picture is drawn at.
    size: String,
    /// The signature drawn so far, shown at true size: (width, height) in CSS px.
    current: Option<(u32, u32)>,
    err: Option<String>,
}

async fn page(s: &AppState, c: &PageCaller, id: i64, err: Option<String>) -> PageResult {
    let v = s.app.order_view(&c.who, id).await?;
    let (w, h) = v
        .order
        .authorization
        .size_mm(SealKind::HandwrittenSignature);
    let status = if err.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_with(
        status,
        &SignaturePage {
            l: Layout::new("在线手写签字", Nav::of(c)),
            csrf: &c.csrf,
            order_id: v.order.id,
            order_no: v.order.order_no.clone(),
            size: format!("宽 {} × 高 {}", crate::view::cm(w), crate::view::cm(h)),
            current: crate::view::pad_signature_px(&v.order),
            err,
        },
    ))
}

pub(super) async fn show(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    page(&s, &c, oid(&id)?, None).await
}

pub(super) async fn save(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    match s
        .app
        .draw_signature(&c.who, id, f.get("signature").as_bytes())
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/orders/{id}"),
            "ok",
            "手写签字已保存",
        )),
        // The pad is shown again with the reason, to sign once more.
        Err(AppError::Invalid(e)) => page(&s, &c, id, Some(crate::view::joined_messages(&e))).await,
        Err(AppError::Conflict(m)) => Ok(redirect_with(&format!("/orders/{id}"), "err", &m)),
        Err(e) => Err(e.into()),
    }
}

/// The signature drawn, PNG.
pub(super) async fn png(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let png = s.app.pad_signature_png(&c.who, oid(&id)?).await?;
    Ok(crate::view::private_png(png))
}
