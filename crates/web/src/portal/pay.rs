//! The platform's cashier page of a payment at a real gateway (支付宝, 微信支付): the QR code to scan, or the
//! link to the gateway's own cashier page. A link, not a redirect from the pay form: the CSP's `form-action
//! 'self'` would stop a form's redirect to the gateway.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use sealdesk_app::PaymentCheckout;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Layout, Nav, PageResult, oid, render};

#[derive(Template)]
#[template(path = "portal/cashier.html")]
struct Cashier {
    l: Layout,
    c: PaymentCheckout,
    /// The gateway's cashier page, for page-pay channels.
    link: Option<String>,
}

async fn checkout(
    s: &AppState,
    c: &PageCaller,
    id: &str,
    pid: &str,
) -> Result<PaymentCheckout, crate::error::PageError> {
    Ok(s.app.payment_checkout(&c.who, oid(id)?, oid(pid)?).await?)
}

pub(super) async fn cashier(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, pid)): Path<(String, String)>,
) -> PageResult {
    let co = checkout(&s, &c, &id, &pid).await?;
    let link = co
        .payment
        .checkout
        .clone()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Ok(render(&Cashier {
        l: Layout::new(format!("{}付款", co.label), Nav::of(&c)),
        c: co,
        link,
    }))
}

/// The payment's QR code as SVG.
pub(super) async fn qr(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, pid)): Path<(String, String)>,
) -> PageResult {
    let co = checkout(&s, &c, &id, &pid).await?;
    let text = co.qr.ok_or(sealdesk_app::AppError::NotFound)?;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| sealdesk_app::AppError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        svg,
    )
        .into_response())
}
