//! The rows the store hands out, in domain terms.

use sealdesk_domain::{Fen, OrderState, SealKind, Service, UploadKind};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, StoreError};

/// 操作员组: operators who serve some projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Id.
    pub id: i64,
    /// Name, e.g. 「A组」.
    pub name: String,
}

/// 项目 / 授权单位: the organisation seals are authorised for, with its own price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Id.
    pub id: i64,
    /// Short code used in order numbers, e.g. `testCSQY`.
    pub code: String,
    /// Display name, e.g. 「南昌市城建档案馆」.
    pub name: String,
    /// Price per seal per year.
    pub price: Fen,
    /// The group whose operators review its orders.
    pub group_id: Option<i64>,
    /// 二次审核: the seal kinds whose orders need a second reviewer's approval (empty: one approval suffices).
    pub second_approval: Vec<sealdesk_domain::SealKind>,
    /// 联系人与电话 shown to applicants of this project.
    pub contact: String,
    /// The registered true size of each seal kind that differs from its usual one.
    pub seal_sizes: Vec<sealdesk_domain::SealSize>,
    /// 授权转自动开关: a submission whose 审核预检 all pass is approved by the platform, without a reviewer.
    pub auto_approve: bool,
}

impl Project {
    /// The true size (width, height in mm) of `kind` in this project.
    pub fn size_mm(&self, kind: sealdesk_domain::SealKind) -> (u16, u16) {
        sealdesk_domain::SealSize::of(&self.seal_sizes, kind)
    }
}

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Id.
    pub id: i64,
    /// Sign-in name.
    pub name: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Sees every project and manages groups.
    pub is_admin: bool,
    /// What the operator may do besides seeing their groups' orders (a super-administrator may do everything).
    pub roles: sealdesk_domain::Roles,
}

/// What a list of orders is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// 订单时间 (the id, which grows with time).
    #[default]
    Created,
    /// 更新时间.
    Updated,
    /// 费用.
    Total,
}

/// The most matching orders [`crate::Store::list_orders`] counts: when more match it says `ORDER_COUNT_CAP + 1`,
/// which lists show as "more than" (`共 10000+ 条`, the API's `total_more`).
pub const ORDER_COUNT_CAP: i64 = 10_000;

/// What orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this applicant's.
    pub applicant_id: Option<i64>,
    /// Only these projects' (an operator's scope); `Some(vec![])` matches nothing.
    pub project_ids: Option<Vec<i64>>,
    /// Only in these states (any if empty).
    pub states: Vec<OrderState>,
    /// Order number starting with.
    pub order_no_prefix: Option<String>,
    /// Any part of the order number, the applicant's name, the enterprise's name, the credit code or the mobile
    /// number (ASCII letters without regard to case); blank matches every order.
    pub search: Option<String>,
    /// Only these services (any if empty).
    pub services: Vec<Service>,
    /// Created at or after this RFC 3339 UTC time.
    pub created_from: Option<String>,
    /// Created before this RFC 3339 UTC time.
    pub created_before: Option<String>,
    /// Only orders whose id is below this: the next batch of an export that walks the list by id.
    pub id_below: Option<i64>,
    /// What the rows are ordered by (ties by id).
    pub sort_by: SortKey,
    /// Ascending (oldest first for the review queue) instead of descending.
    pub oldest_first: bool,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// A stored upload's metadata; the bytes are in the blob store under `blob_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMeta {
    /// Id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Which document.
    pub kind: UploadKind,
    /// The name the applicant's file had (shown only, never used as a path).
    pub file_name: String,
    /// The type found by sniffing the bytes.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SM3 of the bytes, hex.
    pub sm3: String,
    /// Key in the blob store.
    pub blob_key: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A made electronic seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRecord {
    /// Id.
    pub id: i64,
    /// The order that made it.
    pub order_id: i64,
    /// 1-based position within the order (印章1, 印章2 …).
    pub seq: i32,
    /// The seal's esID.
    pub es_id: String,
    /// 印模类型.
    pub kind: SealKind,
    /// 印章名称.
    pub name: String,
    /// The GB/T 38540 SESeal, DER.
    pub der: Vec<u8>,
    /// The picture inside it.
    pub picture_png: Vec<u8>,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// 密钥序列号 of the key it is bound to.
    pub token_serial: String,
    /// Revoked by a 补办.
    pub revoked: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// A made seal's standing, as relying parties ask for it (印章状态).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStanding {
    /// The seal's esID.
    pub es_id: String,
    /// The order that made it.
    pub order_id: i64,
    /// 印模类型.
    pub kind: SealKind,
    /// 印章名称.
    pub name: String,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// Revoked (已注销).
    pub revoked: bool,
    /// When, RFC 3339 (seals revoked before this was recorded have none).
    pub revoked_at: Option<String>,
    /// Why (补办, 变更).
    pub revoke_reason: Option<String>,
}

/// A payment attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payment {
    /// Id, also the merchant order number sent to the gateway.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// `sandbox`, `alipay`, `wechat`.
    pub channel: String,
    /// Amount asked.
    pub amount: Fen,
    /// `pending` or `paid`.
    pub state: String,
    /// The gateway's transaction id.
    pub gateway_txn: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub paid_at: Option<String>,
    /// The money arrived for an order that was cancelled meanwhile: finance must refund it.
    pub refund_due: bool,
    /// Where the applicant pays at a real gateway: the cashier page URL or the QR code's text.
    pub checkout: Option<String>,
    /// The gateway's refund id, once refunded through it.
    pub refund_txn: Option<String>,
    /// RFC 3339, once refunded.
    pub refunded_at: Option<String>,
}

/// An issued electronic invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invoice {
    /// Id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// 发票号码.
    pub number: String,
    /// The invoice's fields, JSON.
    pub body: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once voided (作废).
    pub voided_at: Option<String>,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// The voided invoice this one was issued in place of.
    pub replaces: Option<i64>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SM3 of the cookie token (the token itself is never stored).
    pub token_hash: String,
    /// `applicant` or `operator`.
    pub kind: String,
    /// The applicant's or operator's id.
    pub subject_id: i64,
    /// The CSRF token forms must echo.
    pub csrf: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A pending SMS sign-in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCode {
    /// The number.
    pub mobile: String,
    /// SM3 of the code.
    pub code_hash: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Tries so far.
    pub attempts: i32,
    /// Unix seconds.
    pub sent_at: i64,
}

/// A message in the SMS outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSms {
    /// Id.
    pub id: i64,
    /// To.
    pub mobile: String,
    /// Template name, e.g. `review_approved`.
    pub template: String,
    /// The full text.
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
}

/// What to append to the audit log; the store adds the time, sequence and hashes.
#[derive(Debug, Clone, Default)]
pub struct AuditDraft {
    /// Who.
    pub actor: String,
    /// From where.
    pub ip: String,
    /// The order, if any.
    pub order_id: Option<i64>,
    /// What.
    pub action: String,
    /// State before.
    pub before_state: Option<OrderState>,
    /// State after.
    pub after_state: Option<OrderState>,
    /// Detail, JSON.
    pub detail: String,
}

pub(crate) fn project_from_row(r: &AnyRow) -> Result<Project> {
    Ok(Project {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        price: Fen(r.try_get("price_fen_per_seal_year")?),
        group_id: r.try_get("group_id")?,
        second_approval: r
            .try_get::<String, _>("second_approval_kinds")?
            .split(',')
            .filter_map(sealdesk_domain::SealKind::from_code)
            .collect(),
        contact: r.try_get("contact")?,
        seal_sizes: crate::projects::parse_sizes(&r.try_get::<String, _>("seal_sizes")?),
        auto_approve: flag(r, "auto_approve")?,
    })
}

pub(crate) fn operator_from_row(r: &AnyRow) -> Result<Operator> {
    Ok(Operator {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        is_admin: flag(r, "is_admin")?,
        // An unknown code (written by a newer release) grants nothing rather than failing the sign-in.
        roles: r
            .try_get::<String, _>("roles")
            .ok()
            .and_then(|t| sealdesk_domain::Roles::parse(&t).ok())
            .unwrap_or_default(),
    })
}

/// SMALLINT on PostgreSQL and INTEGER on SQLite come back as different widths through `Any`.
pub(crate) fn flag(r: &AnyRow, col: &str) -> Result<bool> {
    int(r, col).map(|v| v != 0)
}

fn int(r: &AnyRow, col: &str) -> Result<i64> {
    if let Ok(v) = r.try_get::<i64, _>(col) {
        return Ok(v);
    }
    if let Ok(v) = r.try_get::<i32, _>(col) {
        return Ok(i64::from(v));
    }
    Ok(i64::from(r.try_get::<i16, _>(col)?))
}

pub(crate) fn upload_from_row(r: &AnyRow) -> Result<UploadMeta> {
    let kind: String = r.try_get("kind")?;
    Ok(UploadMeta {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        kind: UploadKind::from_code(&kind)
            .ok_or_else(|| StoreError::Other(format!("upload kind {kind}")))?,
        file_name: r.try_get("file_name")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        sm3: r.try_get("sm3")?,
        blob_key: r.try_get("blob_key")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn seal_from_row(r: &AnyRow) -> Result<SealRecord> {
    let kind: String = r.try_get("kind")?;
    Ok(SealRecord {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        seq: int(r, "seq")? as i32,
        es_id: r.try_get("es_id")?,
        kind: SealKind::from_code(&kind)
            .ok_or_else(|| StoreError::Other(format!("seal kind {kind}")))?,
        name: r.try_get("name")?,
        der: r.try_get("der")?,
        picture_png: r.try_get("picture_png")?,
        valid_start: r.try_get("valid_start")?,
        valid_end: r.try_get("valid_end")?,
        token_serial: r.try_get("token_serial")?,
        revoked: flag(r, "revoked")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn standing_from_row(r: &AnyRow) -> Result<SealStanding> {
    let kind: String = r.try_get("kind")?;
    Ok(SealStanding {
        es_id: r.try_get("es_id")?,
        order_id: r.try_get("order_id")?,
        kind: SealKind::from_code(&kind)
            .ok_or_else(|| StoreError::Other(format!("seal kind {kind}")))?,
        name: r.try_get("name")?,
        valid_start: r.try_get("valid_start")?,
        valid_end: r.try_get("valid_end")?,
        revoked: flag(r, "revoked")?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
    })
}

pub(crate) fn payment_from_row(r: &AnyRow) -> Result<Payment> {
    Ok(Payment {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        channel: r.try_get("channel")?,
        amount: Fen(r.try_get("amount_fen")?),
        state: r.try_get("state")?,
        gateway_txn: r.try_get("gateway_txn")?,
        created_at: r.try_get("created_at")?,
        paid_at: r.try_get("paid_at")?,
        refund_due: flag(r, "refund_due")?,
        checkout: r.try_get("checkout")?,
        refund_txn: r.try_get("refund_txn")?,
        refunded_at: r.try_get("refunded_at")?,
    })
}

pub(crate) fn audit_from_row(r: &AnyRow) -> Result<sealdesk_domain::AuditRecord> {
    Ok(sealdesk_domain::AuditRecord {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        ip: r.try_get("ip")?,
        order_id: r.try_get("order_id")?,
        action: r.try_get("action")?,
        before_state: r.try_get("before_state")?,
        after_state: r.try_get("after_state")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        chain: match (
            r.try_get::<Option<i64>, _>("chain_id")?,
            r.try_get::<Option<i64>, _>("chain_seq")?,
        ) {
            (Some(chain_id), Some(pos)) => Some(sealdesk_domain::ChainPos { chain_id, pos }),
            _ => None,
        },
    })
}
