//! 不通过原因: the catalogue of coded rejection reasons, listed for operators and edited by super-administrators.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use sealdesk_app::AppError;
use sealdesk_store::RejectReason;
use serde::Deserialize;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Fields, Layout, Nav, PageResult, redirect_with, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/reject-reasons", get(page))
        .route("/admin/reject-reasons/{code}", post(edit))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Flash {
    pub(super) ok: Option<String>,
    pub(super) err: Option<String>,
}

#[derive(Template)]
#[template(path = "console/reasons.html")]
struct Page {
    l: Layout,
    csrf: String,
    reasons: Vec<RejectReason>,
    can_edit: bool,
    ok: Option<String>,
    err: Option<String>,
}

impl Page {
    /// The form field or upload a reason concerns, in the form's words.
    fn field_label(&self, field: &str) -> &'static str {
        match field {
            "holder.credit_code" => "统一社会信用代码",
            "holder.enterprise_name" => "企业名称",
            "holder.applicant_name" => "申请人姓名",
            "holder.id_number" => "身份证号码",
            "uploads.licence" => "营业执照",
            "uploads.id_front" => "身份证",
            "uploads.impression_form" => "印模采集表",
            "months" => "印章授权期限",
            _ => "订单",
        }
    }
}

async fn page(State(s): State<AppState>, c: PageCaller, Query(q): Query<Flash>) -> PageResult {
    c.operator_name()?;
    let reasons = s.app.reject_reasons(&c.who).await?;
    Ok(render(&Page {
        l: Layout::new("不通过原因", Nav::of(&c)),
        csrf: c.csrf.clone(),
        reasons,
        can_edit: matches!(
            c.who.principal,
            sealdesk_app::Principal::Operator { is_admin: true, .. }
        ),
        ok: q.ok,
        err: q.err,
    }))
}

async fn edit(
    State(s): State<AppState>,
    c: PageCaller,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    match s
        .app
        .set_reject_reason_text(&c.who, &code, f.get("text"))
        .await
    {
        Ok(()) => Ok(redirect_with("/admin/reject-reasons", "ok", "已保存")),
        Err(AppError::Invalid(errs)) => Ok(redirect_with(
            "/admin/reject-reasons",
            "err",
            &crate::view::field_messages(&errs),
        )),
        Err(e) => Err(e.into()),
    }
}
