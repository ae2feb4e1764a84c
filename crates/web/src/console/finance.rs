//! 财务 in the console: 对账日报 (a day's money by channel against the invoices, with its CSV), 导入银行流水 for
//! 对公转账, 待退款 (through the gateway, or recorded with the bank's serial for a transfer), and an order's
//! invoices with 作废重开.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::routing::{get, post};
use sealdesk_app::{AppError, FinanceDay, StatementReport};
use sealdesk_domain::{Fen, Timestamp};
use sealdesk_store::{Invoice, Payment};
use serde::Deserialize;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Fields, Layout, Nav, PageResult, beijing, oid, redirect_with, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/finance", get(page))
        .route(
            "/admin/finance/bank-statement",
            post(import).layer(axum::extract::DefaultBodyLimit::max(
                sealdesk_app::MAX_STATEMENT_BYTES + 64 * 1024,
            )),
        )
        .route("/admin/finance/refunds/{id}", post(refund))
        .route("/admin/orders/{id}/invoices", get(invoices))
        .route("/admin/orders/{id}/invoices/{iid}/reissue", post(reissue))
}

/// `?date=YYYY-MM-DD` (Beijing), today when absent; `ok` / `err` messages after a redirect.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DayQuery {
    date: Option<String>,
    ok: Option<String>,
    err: Option<String>,
}

#[derive(Template)]
#[template(path = "console/finance.html")]
struct Page {
    l: Layout,
    csrf: String,
    day: FinanceDay,
    refunds: Vec<Payment>,
    report: Option<StatementReport>,
    ok: Option<String>,
    err: Option<String>,
}

impl Page {
    fn yuan(&self, f: &Fen) -> String {
        f.yuan_string()
    }
    fn when(&self, at: &Option<String>) -> String {
        at.as_deref().map(beijing).unwrap_or_default()
    }
    fn total(&self, i: &Invoice) -> String {
        invoice_total(i).yuan_string()
    }
    fn created(&self, i: &Invoice) -> String {
        beijing(&i.created_at)
    }
    fn label(&self, channel: &str) -> &'static str {
        sealdesk_app::channel_label(channel)
    }
}

fn invoice_total(i: &Invoice) -> Fen {
    serde_json::from_str::<serde_json::Value>(&i.body)
        .ok()
        .and_then(|b| b["total_fen"].as_i64())
        .map(Fen)
        .unwrap_or(Fen(0))
}

fn today(s: &AppState) -> String {
    Timestamp(s.app.now()).beijing_date()
}

async fn show(
    s: &AppState,
    c: &PageCaller,
    date: &str,
    report: Option<StatementReport>,
    ok: Option<String>,
    err: Option<String>,
) -> PageResult {
    c.operator_name()?;
    let day = s.app.finance_day(&c.who, date).await?;
    let refunds = s
        .app
        .refunds_due(&c.who)
        .await?
        .into_iter()
        .filter(|p| p.state == "paid")
        .collect();
    Ok(render(&Page {
        l: Layout::new("财务对账", Nav::of(c)),
        csrf: c.csrf.clone(),
        day,
        refunds,
        report,
        ok,
        err,
    }))
}

async fn page(State(s): State<AppState>, c: PageCaller, Query(q): Query<DayQuery>) -> PageResult {
    let date = q
        .date
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| today(&s));
    match show(&s, &c, date.trim(), None, q.ok, q.err.clone()).await {
        Err(e) if matches!(e.0, AppError::BadInput(_)) => {
            let msg = e.0.to_string();
            show(&s, &c, &today(&s), None, None, Some(msg)).await
        }
        r => r,
    }
}

/// 导入银行流水: a multipart form with `_csrf` and `file` (the statement as CSV); the page shows what matched.
async fn import(State(s): State<AppState>, c: PageCaller, mut mp: Multipart) -> PageResult {
    c.operator_name()?;
    let (mut csrf, mut file) = (String::new(), None);
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::BadInput(format!("上传内容无效：{e}")))?
    {
        match field.name() {
            Some("_csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| AppError::BadInput(e.to_string()))?
            }
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|_| AppError::BadInput("银行流水文件超过 4 MB".into()))?,
                )
            }
            _ => {}
        }
    }
    c.check_csrf(&csrf)?;
    let date = today(&s);
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return show(
            &s,
            &c,
            &date,
            None,
            None,
            Some("请选择要导入的银行流水文件（CSV）".into()),
        )
        .await;
    };
    match s.app.import_bank_statement(&c.who, &bytes).await {
        Ok(r) => {
            let ok = format!(
                "导入完成：入账 {} 笔，此前已入账 {} 笔，需人工处理 {} 笔",
                r.matched.len(),
                r.already.len(),
                r.issues.len()
            );
            show(&s, &c, &date, Some(r), Some(ok), None).await
        }
        Err(AppError::BadInput(m)) => show(&s, &c, &date, None, None, Some(m)).await,
        Err(e) => Err(e.into()),
    }
}

/// 退款: through the gateway that took the money, or, for a bank transfer, recorded with the serial of the
/// transfer that sent it back (`bank_serial`).
async fn refund(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let serial = f.get("bank_serial");
    let done = if f.0.iter().any(|(k, _)| k == "bank_serial") {
        s.app.record_bank_refund(&c.who, id, serial).await
    } else {
        s.app.refund_payment(&c.who, id).await
    };
    match done {
        Ok(p) => Ok(redirect_with(
            "/admin/finance",
            "ok",
            &format!(
                "已退款 {} 元（退款单号 {}）",
                p.amount.yuan_string(),
                p.refund_txn.unwrap_or_default()
            ),
        )),
        Err(AppError::Conflict(m)) | Err(AppError::BadInput(m)) => {
            Ok(redirect_with("/admin/finance", "err", &m))
        }
        Err(AppError::Invalid(errs)) => Ok(redirect_with(
            "/admin/finance",
            "err",
            &crate::view::field_messages(&errs),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "console/invoices.html")]
struct InvoicesPage {
    l: Layout,
    csrf: String,
    order_id: i64,
    order_no: String,
    invoices: Vec<Invoice>,
    ok: Option<String>,
    err: Option<String>,
}

impl InvoicesPage {
    fn total(&self, i: &Invoice) -> String {
        invoice_total(i).yuan_string()
    }
    fn when(&self, at: &Option<String>) -> String {
        at.as_deref().map(beijing).unwrap_or_default()
    }
    fn created(&self, i: &Invoice) -> String {
        beijing(&i.created_at)
    }
    /// A buyer field of the invoice's body.
    fn buyer(&self, i: &Invoice, key: &str) -> String {
        serde_json::from_str::<serde_json::Value>(&i.body)
            .ok()
            .and_then(|b| b["buyer"][key].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
    /// The buyer details of `i`, to correct in a re-issue.
    fn fields(&self, i: &Invoice) -> crate::view::InvoiceFields {
        crate::view::InvoiceFields::of(sealdesk_app::invoice_buyer(&i.body))
    }
    fn replaced_number(&self, i: &Invoice) -> String {
        i.replaces
            .and_then(|r| self.invoices.iter().find(|x| x.id == r))
            .map(|x| x.number.clone())
            .unwrap_or_default()
    }
}

async fn invoices(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<DayQuery>,
) -> PageResult {
    c.operator_name()?;
    let id = oid(&id)?;
    let view = s.app.order_view(&c.who, id).await?;
    let invoices = s.app.invoices_of(&c.who, id).await?;
    Ok(render(&InvoicesPage {
        l: Layout::new(format!("发票 · 订单 {}", view.order.order_no), Nav::of(&c)),
        csrf: c.csrf.clone(),
        order_id: id,
        order_no: view.order.order_no,
        invoices,
        ok: q.ok,
        err: q.err,
    }))
}

/// 作废重开: void the current invoice with a reason and issue one with the corrected buyer details.
async fn reissue(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, iid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let (id, iid) = (oid(&id)?, oid(&iid)?);
    let buyer = crate::view::invoice_from_fields(&f);
    let back = format!("/admin/orders/{id}/invoices");
    match s
        .app
        .reissue_invoice(&c.who, id, iid, f.get("reason"), &buyer)
        .await
    {
        Ok(new) => Ok(redirect_with(
            &back,
            "ok",
            &format!("已作废原发票并重开，新发票号码 {}", new.number),
        )),
        Err(AppError::Conflict(m)) | Err(AppError::BadInput(m)) => {
            Ok(redirect_with(&back, "err", &m))
        }
        Err(AppError::Invalid(errs)) => Ok(redirect_with(
            &back,
            "err",
            &errs
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("；"),
        )),
        Err(e) => Err(e.into()),
    }
}
