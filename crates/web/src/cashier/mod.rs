//! The sandbox cashier (沙箱收银台): where the demo gateway's payer pays, signed in as the order's applicant.
//! Paying makes the gateway send its signed notification, exactly as a real gateway would. Mounted only with
//! `--demo`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use sealdesk_store::Payment;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Fields, Layout, Nav, PageResult, oid, redirect_with, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sandbox/cashier/{id}", get(cashier).post(pay))
}

#[derive(Template)]
#[template(path = "cashier/cashier.html")]
struct Cashier {
    l: Layout,
    p: Payment,
    order_no: String,
    csrf: String,
}

async fn cashier(State(s): State<AppState>, c: PageCaller, Path(id): Path<String>) -> PageResult {
    let (p, order_no) = s.app.sandbox_payment(&c.who, oid(&id)?).await?;
    Ok(render(&Cashier {
        l: Layout::new("沙箱收银台", Nav::Visitor),
        p,
        order_no,
        csrf: c.csrf,
    }))
}

async fn pay(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    c.check_csrf(Fields::parse(&body).get("_csrf"))?;
    let o = s.app.sandbox_pay(&c.who, oid(&id)?).await?;
    Ok(redirect_with(
        &format!("/orders/{}", o.id),
        "ok",
        "支付成功",
    ))
}
