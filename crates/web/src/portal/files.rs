//! An order's files: uploads in and out, the made seals (`.esl` and picture), the printable 印模采集表 and the
//! electronic invoice.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use sealdesk_app::AppError;
use sealdesk_domain::{Order, SealKind};

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Layout, Nav, PageResult, oid, redirect_with, render};

pub(super) async fn upload(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    mp: Multipart,
) -> PageResult {
    let id = oid(&id)?;
    let (csrf, kind, name, bytes) = crate::api::read_upload_with_csrf(mp).await?;
    c.check_csrf(&csrf)?;
    let back = format!("/orders/{id}");
    match s.app.add_upload(&c.who, id, kind, &name, bytes).await {
        Ok(out) if !out.problems.is_empty() => Ok(redirect_with(
            &back,
            "err",
            &format!("已上传，但{}", out.problems.join("；")),
        )),
        Ok(out) => Ok(match out.impressions {
            Some(Ok(0)) => redirect_with(
                &back,
                "err",
                "已上传，但未在印模采集表中找到红色印章，请确认已清晰加盖印章后重新扫描上传",
            ),
            Some(Ok(n)) => redirect_with(
                &back,
                "ok",
                &format!("{}已上传，识别到 {n} 枚印章", kind.label()),
            ),
            _ => redirect_with(&back, "ok", &format!("{}已上传", kind.label())),
        }),
        Err(AppError::Invalid(e)) => Ok(redirect_with(&back, "err", &e[0].message)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn upload_file(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let (meta, bytes) = s.app.upload_bytes(&c.who, oid(&id)?).await?;
    Ok(crate::api::attachment(
        &meta.content_type,
        &meta.file_name,
        bytes,
    ))
}

async fn made_seal(
    s: &AppState,
    c: &PageCaller,
    id: &str,
    seq: i32,
) -> Result<sealdesk_app::MadeSeal, crate::error::PageError> {
    let seals = s.app.seals(&c.who, oid(id)?).await?;
    Ok(seals
        .into_iter()
        .find(|m| m.seq == seq)
        .ok_or(AppError::NotFound)?)
}

pub(super) async fn seal_file(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, seq)): Path<(String, i32)>,
) -> PageResult {
    let m = made_seal(&s, &c, &id, seq).await?;
    Ok(crate::api::attachment(
        "application/octet-stream",
        &format!("{}.esl", m.es_id),
        m.der,
    ))
}

pub(super) async fn seal_picture(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, seq)): Path<(String, i32)>,
) -> PageResult {
    let m = made_seal(&s, &c, &id, seq).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        m.picture_png,
    )
        .into_response())
}

/// 印模采集表: a printable form, filled in from the order, with one true-size box per seal to stamp.
#[derive(Template)]
#[template(path = "portal/impression_form.html")]
struct ImpressionForm {
    l: Layout,
    o: Order,
    units: Vec<(SealKind, String)>,
}

pub(super) async fn impression_form(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let units = v.order.form_units();
    Ok(render(&ImpressionForm {
        l: Layout::new("印模采集表", Nav::Visitor),
        o: v.order,
        units,
    }))
}

/// 印模采集表 as the PDF drawn from the order (QR code, corner marks, one true-size box per seal), for the order's
/// applicant or its operators.
pub(super) async fn impression_form_pdf(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let (name, pdf) = s.app.impression_form_pdf(&c.who, oid(&id)?).await?;
    Ok(crate::api::attachment("application/pdf", &name, pdf))
}

/// One seal's cut-out from the order's 印模采集表 (PNG, shown at true size by the order pages), for the order's
/// applicant or its operators.
pub(super) async fn cutout(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, index)): Path<(String, String)>,
) -> PageResult {
    let index: usize = index.parse().map_err(|_| AppError::NotFound)?;
    let png = s.app.cutout_png(&c.who, oid(&id)?, index).await?;
    Ok(crate::view::private_png(png))
}

/// 电子发票, shown from the issued invoice's JSON body.
#[derive(Template)]
#[template(path = "portal/invoice.html")]
struct InvoicePage {
    l: Layout,
    body: serde_json::Value,
    order_id: i64,
}

impl InvoicePage {
    /// The text at a JSON pointer of the invoice, "" when absent.
    fn t(&self, pointer: &str) -> &str {
        self.body
            .pointer(pointer)
            .and_then(|x| x.as_str())
            .unwrap_or("")
    }

    /// 发票种类 (invoices issued before 专票 existed are 普票).
    fn form(&self) -> &'static str {
        serde_json::from_value::<sealdesk_domain::InvoiceForm>(self.body["buyer"]["form"].clone())
            .unwrap_or_default()
            .label()
    }
}

pub(super) async fn invoice(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let inv = v.invoice.ok_or(AppError::NotFound)?;
    Ok(render(&InvoicePage {
        l: Layout::new("电子发票", Nav::of(&c)),
        body: serde_json::from_str(&inv.body).unwrap_or_default(),
        order_id: v.order.id,
    }))
}

/// 电子发票 as a PDF download (CJK font embedded), for the order's applicant or its operators.
pub(super) async fn invoice_pdf(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let (number, pdf) = s.app.invoice_pdf(&c.who, oid(&id)?).await?;
    Ok(crate::api::attachment(
        "application/pdf",
        &format!("invoice-{number}.pdf"),
        pdf,
    ))
}
