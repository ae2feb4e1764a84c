//! The finance part of `/api/v1`: 对账日报 (JSON and CSV), 对公转账 statement import and refunds recorded by
//! serial, and an order's invoices with 作废重开. Administrators only (the application checks).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use sealdesk_app::{FinanceDay, StatementReport};
use sealdesk_domain::InvoiceInfo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::api::ApiJson;
use crate::error::ApiError;
use crate::schema::{ErrorBody, RefundDue};
use crate::session::ApiCaller;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    api.routes(
        routes!(import_statement).layer(axum::extract::DefaultBodyLimit::max(
            sealdesk_app::MAX_STATEMENT_BYTES,
        )),
    )
    .routes(routes!(bank_refund))
    .routes(routes!(daily))
    .routes(routes!(daily_csv))
    .routes(routes!(order_invoices))
    .routes(routes!(reissue))
}

fn id(s: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| ApiError(sealdesk_app::AppError::NotFound))
}

/// A statement line that paid an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchedLine {
    /// 1-based line number.
    pub line: usize,
    /// The order it paid.
    pub order_no: String,
}

/// A statement line that needs a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementIssueBody {
    /// 1-based line number.
    pub line: usize,
    /// The bank's serial, if any.
    pub serial: String,
    /// Why (Chinese).
    pub reason: String,
}

/// What a statement import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementReportBody {
    /// Lines recorded now.
    pub matched: Vec<MatchedLine>,
    /// Lines recorded by an earlier import.
    pub already: Vec<usize>,
    /// Lines not recorded, with the reason.
    pub issues: Vec<StatementIssueBody>,
}

impl From<StatementReport> for StatementReportBody {
    fn from(r: StatementReport) -> Self {
        StatementReportBody {
            matched: r
                .matched
                .into_iter()
                .map(|(line, order_no)| MatchedLine { line, order_no })
                .collect(),
            already: r.already,
            issues: r
                .issues
                .into_iter()
                .map(|i| StatementIssueBody {
                    line: i.line,
                    serial: i.serial,
                    reason: i.reason,
                })
                .collect(),
        }
    }
}

/// 导入银行流水: the platform account's statement as CSV (UTF-8, header with 流水号, 金额/贷方金额 and 附言/摘要
/// columns); every credit whose 附言 holds a payment's reference and whose amount is that payment's is recorded.
#[utoipa::path(post, path = "/finance/bank-statements", tag = "payments",
    request_body(content = String, content_type = "text/csv"), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = StatementReportBody), (status = "4XX", body = ErrorBody)))]
async fn import_statement(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    body: axum::body::Bytes,
) -> ApiResult<StatementReportBody> {
    Ok(Json(s.app.import_bank_statement(&who, &body).await?.into()))
}

/// The serial of the bank transfer that sent the money back.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BankRefundForm {
    /// 退款转账的银行流水号.
    pub bank_serial: String,
}

/// 退款 of a bank transfer, recorded with the serial of the transfer that returned it.
#[utoipa::path(post, path = "/finance/refunds/{id}/bank", tag = "payments", params(("id" = String, Path, description = "Payment id")),
    request_body = BankRefundForm, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = RefundDue), (status = "4XX", body = ErrorBody)))]
async fn bank_refund(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(pid): Path<String>,
    ApiJson(f): ApiJson<BankRefundForm>,
) -> ApiResult<RefundDue> {
    let p = s
        .app
        .record_bank_refund(&who, id(&pid)?, &f.bank_serial)
        .await?;
    Ok(Json(RefundDue::from(&p)))
}

/// The day asked for.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DayParam {
    /// `YYYY-MM-DD`, Beijing time.
    pub date: String,
}

/// One channel's day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelDayBody {
    /// Channel code.
    pub channel: String,
    /// Its name.
    pub label: String,
    /// Payments received.
    pub paid_count: u32,
    /// Received, fen.
    pub paid_fen: i64,
    /// Refunds made.
    pub refunded_count: u32,
    /// Refunded, fen.
    pub refunded_fen: i64,
}

/// A payment that moved that day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayPayment {
    /// Payment id.
    pub payment_id: String,
    /// Order number.
    pub order_no: String,
    /// Channel code.
    pub channel: String,
    /// Amount, fen.
    pub amount_fen: i64,
    /// RFC 3339.
    pub paid_at: Option<String>,
    /// The gateway's transaction number or the bank's serial.
    pub gateway_txn: Option<String>,
    /// RFC 3339.
    pub refunded_at: Option<String>,
    /// The refund's number.
    pub refund_txn: Option<String>,
    /// Money for an order that could not take it.
    pub refund_due: bool,
}

/// An invoice issued or voided that day.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceRecord {
    /// Invoice id.
    pub id: String,
    /// Order id.
    pub order_id: String,
    /// Order number.
    pub order_no: String,
    /// 发票号码.
    pub number: String,
    /// Total, fen.
    pub total_fen: i64,
    /// 购买方名称.
    pub buyer: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once voided.
    pub voided_at: Option<String>,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// The number of the invoice it replaced.
    pub replaces: Option<String>,
}

fn invoice_record(
    i: &sealdesk_store::Invoice,
    order_no: &str,
    replaced: Option<String>,
) -> InvoiceRecord {
    let body: serde_json::Value = serde_json::from_str(&i.body).unwrap_or_default();
    InvoiceRecord {
        id: i.id.to_string(),
        order_id: i.order_id.to_string(),
        order_no: order_no.to_owned(),
        number: i.number.clone(),
        total_fen: body["total_fen"].as_i64().unwrap_or(0),
        buyer: body["buyer"]["title"].as_str().unwrap_or("").to_owned(),
        created_at: i.created_at.clone(),
        voided_at: i.voided_at.clone(),
        void_reason: i.void_reason.clone(),
        replaces: replaced,
    }
}

/// 对账日报.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinanceDayBody {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Per channel.
    pub channels: Vec<ChannelDayBody>,
    /// Received minus refunded, fen.
    pub net_fen: i64,
    /// Invoices issued that day and still current, fen.
    pub invoiced_fen: i64,
    /// Received that day for orders that could not take it, fen.
    pub refund_due_fen: i64,
    /// Payments that moved.
    pub payments: Vec<DayPayment>,
    /// Invoices issued or voided.
    pub invoices: Vec<InvoiceRecord>,
}

impl From<FinanceDay> for FinanceDayBody {
    fn from(d: FinanceDay) -> Self {
        FinanceDayBody {
            date: d.date,
            channels: d
                .channels
                .into_iter()
                .map(|c| ChannelDayBody {
                    channel: c.channel,
                    label: c.label.into(),
                    paid_count: c.paid_count,
                    paid_fen: c.paid.0,
                    refunded_count: c.refunded_count,
                    refunded_fen: c.refunded.0,
                })
                .collect(),
            net_fen: d.net.0,
            invoiced_fen: d.invoiced.0,
            refund_due_fen: d.refund_due.0,
            payments: d
                .payments
                .into_iter()
                .map(|(p, order_no)| DayPayment {
                    payment_id: p.id.to_string(),
                    order_no,
                    channel: p.channel,
                    amount_fen: p.amount.0,
                    paid_at: p.paid_at,
                    gateway_txn: p.gateway_txn,
                    refunded_at: p.refunded_at,
                    refund_txn: p.refund_txn,
                    refund_due: p.refund_due,
                })
                .collect(),
            invoices: d
                .invoices
                .iter()
                .map(|(i, no)| invoice_record(i, no, None))
                .collect(),
        }
    }
}

/// 对账日报 of one day (JSON).
#[utoipa::path(get, path = "/finance/daily", tag = "payments", params(DayParam),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = FinanceDayBody), (status = "4XX", body = ErrorBody)))]
async fn daily(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(q): Query<DayParam>,
) -> ApiResult<FinanceDayBody> {
    Ok(Json(s.app.finance_day(&who, q.date.trim()).await?.into()))
}

/// The CSV columns of the daily report: one row per payment movement, then one per invoice.
const DAILY_COLUMNS: [&str; 8] = [
    "类别",
    "订单编号",
    "支付方式",
    "金额（元）",
    "时间",
    "交易号/发票号",
    "退款单号",
    "备注",
];

/// 对账日报 of one day as CSV (UTF-8 with BOM): every receipt, refund and invoice of the day, then the totals.
#[utoipa::path(get, path = "/finance/daily.csv", tag = "payments", params(DayParam),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = "4XX", body = ErrorBody)))]
async fn daily_csv(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(q): Query<DayParam>,
) -> Result<Response, ApiError> {
    use crate::order_query::row;
    let d = s.app.finance_day(&who, q.date.trim()).await?;
    let when = |t: &Option<String>| t.as_deref().map(crate::view::beijing).unwrap_or_default();
    let mut out = String::new();
    for (p, no) in &d.payments {
        let label = sealdesk_app::channel_label(&p.channel);
        if when(&p.paid_at).starts_with(&d.date) {
            let note = if p.refund_due { "待退款" } else { "" };
            row(
                &mut out,
                &[
                    "收款",
                    no,
                    label,
                    &p.amount.yuan_string(),
                    &when(&p.paid_at),
                    p.gateway_txn.as_deref().unwrap_or(""),
                    "",
                    note,
                ],
            );
        }
        if when(&p.refunded_at).starts_with(&d.date) {
            row(
                &mut out,
                &[
                    "退款",
                    no,
                    label,
                    &format!("-{}", p.amount.yuan_string()),
                    &when(&p.refunded_at),
                    p.gateway_txn.as_deref().unwrap_or(""),
                    p.refund_txn.as_deref().unwrap_or(""),
                    "",
                ],
            );
        }
    }
    for (i, no) in &d.invoices {
        let r = invoice_record(i, no, None);
        let total = sealdesk_domain::Fen(r.total_fen).yuan_string();
        if crate::view::beijing(&i.created_at).starts_with(&d.date) {
            row(
                &mut out,
                &[
                    "开票",
                    no,
                    "",
                    &total,
                    &crate::view::beijing(&i.created_at),
                    &i.number,
                    "",
                    &r.buyer,
                ],
            );
        }
        if when(&i.voided_at).starts_with(&d.date) {
            row(
                &mut out,
                &[
                    "作废",
                    no,
                    "",
                    &format!("-{total}"),
                    &when(&i.voided_at),
                    &i.number,
                    "",
                    i.void_reason.as_deref().unwrap_or(""),
                ],
            );
        }
    }
    for c in &d.channels {
        row(
            &mut out,
            &[
                "合计",
                "",
                c.label,
                &c.paid.yuan_string(),
                "",
                &format!("收款 {} 笔", c.paid_count),
                &format!(
                    "退款 {} 笔 {} 元",
                    c.refunded_count,
                    c.refunded.yuan_string()
                ),
                "",
            ],
        );
    }
    row(
        &mut out,
        &["净收款", "", "", &d.net.yuan_string(), "", "", "", ""],
    );
    row(
        &mut out,
        &[
            "开票合计",
            "",
            "",
            &d.invoiced.yuan_string(),
            "",
            "",
            "",
            "",
        ],
    );
    Ok(crate::order_query::csv_download(
        &format!("finance-{}.csv", d.date),
        &DAILY_COLUMNS,
        Some(out),
        |text: Option<String>| async move { text.map(|t| (t, None)) },
    ))
}

/// Every invoice of an order, current and voided.
#[utoipa::path(get, path = "/orders/{id}/invoices", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<InvoiceRecord>), (status = "4XX", body = ErrorBody)))]
async fn order_invoices(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<Vec<InvoiceRecord>> {
    let oid = id(&oid)?;
    let view = s.app.order_view(&who, oid).await?;
    let all = s.app.invoices_of(&who, oid).await?;
    Ok(Json(
        all.iter()
            .map(|i| {
                let replaced = i
                    .replaces
                    .and_then(|r| all.iter().find(|x| x.id == r))
                    .map(|x| x.number.clone());
                invoice_record(i, &view.order.order_no, replaced)
            })
            .collect(),
    ))
}

/// 作废重开: the reason, and the buyer details of the invoice issued in the voided one's place.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReissueForm {
    /// 作废原因.
    pub reason: String,
    /// The corrected buyer details.
    pub buyer: InvoiceInfo,
}

/// 作废重开: void the order's current invoice and issue one in its place (administrators).
#[utoipa::path(post, path = "/orders/{id}/invoices/{invoice_id}/reissue", tag = "orders",
    params(("id" = String, Path, description = "Order id"), ("invoice_id" = String, Path, description = "The current invoice's id")),
    request_body = ReissueForm, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = InvoiceRecord), (status = "4XX", body = ErrorBody)))]
async fn reissue(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path((oid, iid)): Path<(String, String)>,
    ApiJson(f): ApiJson<ReissueForm>,
) -> ApiResult<InvoiceRecord> {
    let (oid, iid) = (id(&oid)?, id(&iid)?);
    let new = s
        .app
        .reissue_invoice(&who, oid, iid, &f.reason, &f.buyer)
        .await?;
    let view = s.app.order_view(&who, oid).await?;
    let old = s
        .app
        .invoices_of(&who, oid)
        .await?
        .into_iter()
        .find(|x| x.id == iid)
        .map(|x| x.number);
    Ok(Json(invoice_record(&new, &view.order.order_no, old)))
}
