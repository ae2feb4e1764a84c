//! What the JSON API sends and takes, as types: the handlers return these, and the OpenAPI document is derived
//! from the same types (`utoipa::ToSchema`), so the two cannot drift apart. Ids are strings (64-bit ids do not
//! fit a JavaScript number); money is integer fen.

use base64::Engine;
use sealdesk_app::{MadeSeal, OrderView, UploadOutcome};
use sealdesk_domain::{
    AuditRecord, Authorization, FieldError, Holder, InvoiceInfo, Order, OrderForm, OrderState,
    SealKind, SealLine, Service, UploadKind,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An error: `code` for programs, `message` in Chinese for people, `fields` for a refused form.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthenticated`, `bad_credentials`, `not_found`, `forbidden`, `invalid`, `bad_input`, `conflict`,
    /// `rate_limited` or `internal`.
    pub code: &'static str,
    /// What went wrong, in Chinese.
    pub message: String,
    /// Each field's problem, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
}

/// `{"sent": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    /// Always true.
    pub sent: bool,
}

/// `{"signed_out": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    /// Always true.
    pub signed_out: bool,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The bearer token (shown once).
    pub token: String,
    /// The CSRF token cookie-authenticated writes must send as `X-CSRF-Token`.
    pub csrf: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl From<sealdesk_app::SignedIn> for Session {
    fn from(s: sealdesk_app::SignedIn) -> Self {
        Session {
            token: s.token,
            csrf: s.csrf,
            expires_at: s.expires_at,
        }
    }
}

/// One SMS of the demo outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    /// To.
    pub mobile: String,
    /// Template name, e.g. `login_code`.
    pub template: String,
    /// The full text.
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A project (授权单位) the caller may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectEntry {
    /// Id.
    pub id: String,
    /// Code, e.g. `testCSQY`.
    pub code: String,
    /// Name, e.g. 南昌市城建档案馆.
    pub name: String,
    /// Price per seal per year, fen.
    pub price_fen_per_seal_year: i64,
    /// 联系人与电话.
    pub contact: String,
    /// The true size of every seal kind in this project (registered or usual), mm.
    pub seal_sizes: Vec<sealdesk_domain::SealSize>,
}

/// The key bound at 授权.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyEntry {
    /// 密钥序列号.
    pub serial: String,
    /// The key certificate's subject.
    pub subject: String,
}

/// An order (订单).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBody {
    /// Id.
    pub id: String,
    /// 订单编号.
    pub order_no: String,
    /// The project.
    pub project_id: String,
    /// The applicant.
    pub applicant_id: String,
    /// 业务属性.
    pub service: Service,
    /// 业务属性, in Chinese.
    pub service_label: &'static str,
    /// 印章办理状态.
    pub state: OrderState,
    /// 印章办理状态, in Chinese.
    pub state_label: &'static str,
    /// Who the seals are for.
    pub holder: Holder,
    /// What seals.
    pub seals: Vec<SealLine>,
    /// For how long and for whom.
    pub authorization: Authorization,
    /// 订单金额, fen (the same as `total_fen`).
    pub total: i64,
    /// 订单金额, fen.
    pub total_fen: i64,
    /// 订单金额, yuan with two decimals.
    pub total_yuan: String,
    /// The last 审核意见.
    pub review_comment: String,
    /// The coded reasons of the last rejection, each with the field or upload it concerns.
    pub review_reasons: Vec<sealdesk_domain::ReviewReason>,
    /// 申请开票 details, once confirmed.
    pub invoice: Option<InvoiceInfo>,
    /// The key bound at 授权.
    pub key: Option<KeyEntry>,
    /// For 续期 / 变更 / 补办: the order whose seals this one continues.
    pub previous_order: Option<String>,
    /// For 续期 / 变更: the earlier order's seals chosen (empty: all of them).
    pub chosen_seals: Vec<sealdesk_domain::ChosenSeal>,
    /// Bumped on every change.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&Order> for OrderBody {
    fn from(o: &Order) -> Self {
        OrderBody {
            id: o.id.to_string(),
            order_no: o.order_no.clone(),
            project_id: o.project_id.to_string(),
            applicant_id: o.applicant_id.to_string(),
            service: o.service,
            service_label: o.service.label(),
            state: o.state,
            state_label: o.state.label(),
            holder: o.holder.clone(),
            seals: o.seals.clone(),
            authorization: o.authorization.clone(),
            total: o.total.0,
            total_fen: o.total.0,
            total_yuan: o.total.yuan_string(),
            review_comment: o.review_comment.clone(),
            review_reasons: o.review_reasons.clone(),
            invoice: o.invoice.clone(),
            key: o.key.as_ref().map(|k| KeyEntry {
                serial: k.serial.clone(),
                subject: k.subject.clone(),
            }),
            previous_order: o.previous_order.map(|p| p.to_string()),
            chosen_seals: o.chosen_seals.clone(),
            version: o.version,
            created_at: o.created_at.clone(),
            updated_at: o.updated_at.clone(),
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Orders matching, in all; counted up to 10 000 (`total_more` says when more match).
    pub total: i64,
    /// More orders match than `total`: the count stopped at 10 000.
    pub total_more: bool,
    /// This page (1-based).
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// The orders.
    pub orders: Vec<OrderBody>,
}

/// The project of an order, by code and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectRef {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// An uploaded document.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadEntry {
    /// Id (download at `/uploads/{id}`).
    pub id: String,
    /// Which document.
    pub kind: UploadKind,
    /// The applicant's file name.
    pub file_name: String,
    /// The type found by sniffing the bytes.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SM3 of the bytes, hex.
    pub sm3: String,
}

/// A made seal, without its bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealRef {
    /// 印章1, 印章2 …
    pub seq: i32,
    /// esID.
    pub es_id: String,
    /// 印章名称.
    pub name: String,
    /// 印模类型.
    pub kind: SealKind,
}

/// One order with what belongs to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: OrderBody,
    /// Its project.
    pub project: ProjectRef,
    /// Current uploads.
    pub uploads: Vec<UploadEntry>,
    /// Uploads still needed before it can be submitted.
    pub missing_uploads: Vec<UploadKind>,
    /// Seals made (the requested ones are `seals`, from the order itself; one key for both made a draft's
    /// detail lose its seal lines).
    pub made_seals: Vec<SealRef>,
    /// The electronic invoice's number, once issued.
    pub invoice_number: Option<String>,
    /// 审核预检 results, for operators only (absent for applicants; empty before the first submission).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prechecks: Option<Vec<sealdesk_domain::Precheck>>,
}

impl From<OrderView> for OrderDetail {
    fn from(v: OrderView) -> Self {
        OrderDetail {
            order: OrderBody::from(&v.order),
            project: ProjectRef {
                code: v.project.code,
                name: v.project.name,
            },
            uploads: v
                .uploads
                .into_iter()
                .map(|u| UploadEntry {
                    id: u.id.to_string(),
                    kind: u.kind,
                    file_name: u.file_name,
                    content_type: u.content_type,
                    size: u.size,
                    sm3: u.sm3,
                })
                .collect(),
            missing_uploads: v.missing_uploads,
            made_seals: v
                .seals
                .iter()
                .map(|m| SealRef {
                    seq: m.seq,
                    es_id: m.es_id.clone(),
                    name: m.name.clone(),
                    kind: m.kind,
                })
                .collect(),
            invoice_number: v.invoice.map(|i| i.number),
            prechecks: None,
        }
    }
}

/// `POST /orders`: the project and the form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateOrder {
    /// Project code.
    pub project: String,
    /// The form.
    #[serde(flatten)]
    pub form: OrderForm,
}

/// A multipart upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Only describes the multipart body for the document.
pub struct UploadForm {
    /// Which document: `id_front`, `id_back`, `licence`, `impression_form`.
    pub kind: UploadKind,
    /// The file: JPG or PNG (PDF too for the impression form), under 5 MB.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// What became of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResult {
    /// Id.
    pub id: String,
    /// Which document.
    pub kind: UploadKind,
    /// The type found by sniffing the bytes.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SM3, hex.
    pub sm3: String,
    /// For an impression form: how many seal impressions were found.
    pub impressions: Option<u64>,
    /// For an impression form that will not make seals as it is: why.
    pub warning: Option<String>,
}

impl From<&UploadOutcome> for UploadResult {
    fn from(u: &UploadOutcome) -> Self {
        UploadResult {
            id: u.meta.id.to_string(),
            kind: u.meta.kind,
            content_type: u.meta.content_type.clone(),
            size: u.meta.size,
            sm3: u.meta.sm3.clone(),
            impressions: match &u.impressions {
                Some(Ok(n)) => Some(*n as u64),
                _ => None,
            },
            warning: match &u.impressions {
                Some(Ok(0)) => {
                    Some("未在印模采集表中找到红色印章，请确认已清晰加盖印章后重新扫描上传".into())
                }
                Some(Err(e)) => Some(format!("印模识别失败：{e}")),
                _ => None,
            },
        }
    }
}

/// `POST /orders/{id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    /// 审核意见 (may be empty when reasons are given).
    #[serde(default)]
    pub comment: String,
    /// Codes of coded reasons from `GET /reject-reasons`.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// `POST /orders/{id}/messages`: a message in the order's thread (在线客服).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostMessage {
    /// The text, 1–500 characters.
    pub body: String,
}

/// One message of an order's thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEntry {
    /// Id.
    pub id: String,
    /// `applicant` or `operator` (客服).
    pub from: String,
    /// The text.
    pub body: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<sealdesk_store::OrderMessage> for MessageEntry {
    fn from(m: sealdesk_store::OrderMessage) -> Self {
        MessageEntry {
            id: m.id.to_string(),
            from: if m.from_operator {
                "operator"
            } else {
                "applicant"
            }
            .into(),
            body: m.body,
            created_at: m.created_at,
        }
    }
}

/// An order's thread with the service hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageThread {
    /// 服务时间, e.g. 工作日 9:00–17:00.
    pub service_hours: String,
    /// Oldest first.
    pub messages: Vec<MessageEntry>,
}

/// `POST /orders/{id}/payments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PayRequest {
    /// `sandbox`, `alipay` or `wechat`.
    pub channel: String,
}

/// A started payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStarted {
    /// Id, also the merchant order number at the gateway.
    pub payment_id: String,
    /// Amount, fen.
    pub amount_fen: i64,
    /// The channel.
    pub channel: String,
    /// Where to send the payer.
    pub cashier_url: String,
}

/// `POST /orders/{id}/authorize`: the UKey's certificate (PEM, or DER in base64) and its signature over the
/// challenge of `POST /orders/{id}/authorize/challenge`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AuthorizeRequest {
    /// The certificate, PEM.
    #[serde(default)]
    pub cert_pem: String,
    /// The certificate, DER in base64 (when no PEM is given).
    #[serde(default)]
    pub cert_der_b64: String,
    /// The challenge's nonce.
    pub nonce: String,
    /// Signature over the challenge bytes (base64 or hex; DER or raw r‖s).
    pub signature: String,
}

/// A one-time challenge for the UKey to sign at 授权.
#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    /// Names the challenge when the signature comes back.
    pub nonce: String,
    /// The text to sign.
    pub challenge: String,
    /// The same bytes, base64.
    pub challenge_b64: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A payment whose money must go back.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundDue {
    /// Payment id.
    pub payment_id: String,
    /// The order.
    pub order_id: String,
    /// The channel.
    pub channel: String,
    /// Amount, fen.
    pub amount_fen: i64,
    /// The gateway's transaction id.
    pub gateway_txn: Option<String>,
    /// RFC 3339.
    pub paid_at: Option<String>,
    /// `paid` (still to refund) or `refunded`.
    pub state: String,
    /// The gateway's refund id, once refunded.
    pub refund_txn: Option<String>,
}

impl From<&sealdesk_store::Payment> for RefundDue {
    fn from(p: &sealdesk_store::Payment) -> Self {
        RefundDue {
            payment_id: p.id.to_string(),
            order_id: p.order_id.to_string(),
            channel: p.channel.clone(),
            amount_fen: p.amount.0,
            gateway_txn: p.gateway_txn.clone(),
            paid_at: p.paid_at.clone(),
            state: p.state.clone(),
            refund_txn: p.refund_txn.clone(),
        }
    }
}

/// The seals an order's seals replace on the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplacedSeals {
    /// Their esIDs (empty for a 新办 or a 补办).
    pub es_ids: Vec<String>,
}

/// 在线手写签字: what the signature pad records (its JSON contract, version 1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PadDrawing {
    /// Contract version: 1.
    pub version: u32,
    /// Pad width, CSS px.
    pub width: f32,
    /// Pad height, CSS px.
    pub height: f32,
    /// Strokes in the order drawn.
    pub strokes: Vec<PadDrawingStroke>,
}

/// One pen-down … pen-up on the pad.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PadDrawingStroke {
    /// `mouse`, `touch` or `pen`.
    pub pointer: String,
    /// Points `[x, y, pressure 0..1, ms since the first point]`, CSS px from the pad's top-left corner.
    pub points: Vec<[f32; 4]>,
}

/// 印模确认 of a 印模采集表 read without its QR code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmCutouts {
    /// For each impression found, in page order (as `GET /orders/{id}/cutouts/{i}` serves them), the index of the
    /// order's seal (in the order of its seal lines, each line's count expanded) it belongs to; each seal once.
    pub seal_of: Vec<usize>,
}

/// 重新制章 (制章员): the order's standing seals to remake from its current 印模采集表, and why.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RemakeSeals {
    /// esIDs of the seals to remake (each is revoked once its replacement is made).
    pub es_ids: Vec<String>,
    /// 原因, kept in the audit log.
    pub reason: String,
}

/// 读取证书锁: the certificate the UKey agent read from the key.
#[derive(Debug, Deserialize, ToSchema)]
pub struct KeyCertificate {
    /// The certificate, DER in base64 (the agent's `cert.der_base64`).
    pub cert_der_b64: String,
}

/// What the platform knows of the key read: the caller's completed orders whose seals belong on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOrders {
    /// Set when the key's certificate has expired: a 续期 must wait for the certificate's renewal (the seed's
    /// order of things).
    pub expired: Option<String>,
    /// Newest first; orders bound to this very certificate before those of an earlier one.
    pub orders: Vec<KeyOrderEntry>,
}

/// One completed order with standing seals for the key read.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOrderEntry {
    /// Order id.
    pub id: String,
    /// 订单号.
    pub order_no: String,
    /// 业务类型 of that order, in Chinese.
    pub service_label: &'static str,
    /// 授权单位.
    pub unit: String,
    /// 授权类型.
    pub kind: String,
    /// 印章授权开始时间 (earliest start of its standing seals), RFC 3339.
    pub valid_start: String,
    /// 印章授权截止时间 (latest end), RFC 3339.
    pub valid_end: String,
    /// The certificate serial the seals were made with.
    pub bound_serial: String,
    /// The key holds another certificate of the holder now (the seals are remade with it).
    pub cert_changed: bool,
    /// Its standing seals.
    pub seals: Vec<KeySealEntry>,
}

/// A standing seal of a [`KeyOrderEntry`].
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySealEntry {
    /// esID.
    pub es_id: String,
    /// 印章名称.
    pub name: String,
    /// 印模类型, in Chinese.
    pub kind_label: &'static str,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
}

impl From<&sealdesk_app::KeyOrder> for KeyOrderEntry {
    fn from(k: &sealdesk_app::KeyOrder) -> Self {
        let start = k
            .seals
            .iter()
            .map(|m| m.valid_start.clone())
            .min()
            .unwrap_or_default();
        let end = k
            .seals
            .iter()
            .map(|m| m.valid_end.clone())
            .max()
            .unwrap_or_default();
        KeyOrderEntry {
            id: k.order.id.to_string(),
            order_no: k.order.order_no.clone(),
            service_label: k.order.service.label(),
            unit: k.order.authorization.unit.clone(),
            kind: k.order.authorization.kind.clone(),
            valid_start: start,
            valid_end: end,
            bound_serial: k.bound_serial.clone(),
            cert_changed: k.cert_changed,
            seals: k
                .seals
                .iter()
                .map(|m| KeySealEntry {
                    es_id: m.es_id.clone(),
                    name: m.name.clone(),
                    kind_label: m.kind.label(),
                    valid_start: m.valid_start.clone(),
                    valid_end: m.valid_end.clone(),
                })
                .collect(),
        }
    }
}

/// A made seal with its bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealFile {
    /// 印章1, 印章2 …
    pub seq: i32,
    /// esID.
    pub es_id: String,
    /// 印章名称.
    pub name: String,
    /// 印模类型.
    pub kind: SealKind,
    /// 印模类型, in Chinese.
    pub kind_label: &'static str,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// The SESeal, DER, base64.
    pub der_b64: String,
    /// The seal picture, PNG, base64.
    pub picture_png_b64: String,
}

impl From<&MadeSeal> for SealFile {
    fn from(m: &MadeSeal) -> Self {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        SealFile {
            seq: m.seq,
            es_id: m.es_id.clone(),
            name: m.name.clone(),
            kind: m.kind,
            kind_label: m.kind.label(),
            valid_start: m.valid_start.clone(),
            valid_end: m.valid_end.clone(),
            der_b64: b64(&m.der),
            picture_png_b64: b64(&m.picture_png),
        }
    }
}

/// One write receipt: the key's signature over a written seal.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Receipt {
    /// esID.
    pub es_id: String,
    /// SM2 signature by the key over the seal's DER, base64 (DER or raw r‖s).
    pub signature: String,
}

/// `POST /orders/{id}/written`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WrittenRequest {
    /// One per seal.
    pub receipts: Vec<Receipt>,
}

/// The electronic invoice (电子发票) as issued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceDoc {
    /// 发票号码.
    pub number: String,
    /// 开票日期, Beijing date.
    pub date: String,
    /// 订单编号.
    pub order_no: String,
    /// 业务类型, in Chinese.
    pub service: String,
    /// 购买方.
    pub buyer: InvoiceBuyer,
    /// Lines.
    pub items: Vec<InvoiceItem>,
    /// 价税合计, fen.
    pub total_fen: i64,
    /// 价税合计, yuan.
    pub total_yuan: String,
    /// 价税合计（大写）.
    pub total_capitals: String,
}

/// 购买方 of an invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceBuyer {
    /// 发票类型, in Chinese.
    pub kind: String,
    /// 名称.
    pub title: String,
    /// 纳税人识别号.
    pub taxpayer_id: String,
    /// 手机号.
    pub mobile: String,
    /// 邮箱.
    pub email: String,
    /// 发票种类 (absent on invoices issued before 专票 existed: 普票).
    #[serde(default)]
    pub form: sealdesk_domain::InvoiceForm,
    /// 地址.
    #[serde(default)]
    pub address: String,
    /// 电话.
    #[serde(default)]
    pub phone: String,
    /// 开户银行.
    #[serde(default)]
    pub bank: String,
    /// 银行账号.
    #[serde(default)]
    pub account: String,
}

/// One line of an invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceItem {
    /// 项目名称.
    pub name: String,
    /// What was bought.
    pub detail: String,
    /// Quantity.
    pub quantity: i64,
    /// Amount, fen.
    pub amount_fen: i64,
}

/// One entry of an order's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence in the whole log.
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    /// Who.
    pub actor: String,
    /// From where.
    pub ip: String,
    /// What.
    pub action: String,
    /// State before.
    pub before_state: Option<String>,
    /// State after.
    pub after_state: Option<String>,
    /// Details, as recorded.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The entry's hash (SM3, hex), chaining it to the one before.
    pub hash: String,
}

impl From<&AuditRecord> for AuditEntry {
    fn from(e: &AuditRecord) -> Self {
        AuditEntry {
            seq: e.seq,
            at: e.at.clone(),
            actor: e.actor.clone(),
            ip: e.ip.clone(),
            action: e.action.clone(),
            before_state: e.before_state.clone(),
            after_state: e.after_state.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
            hash: e.hash.clone(),
        }
    }
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Why not, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// 印章状态: what the platform says about a seal it made, for relying parties.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealStatusBody {
    /// esID.
    pub es_id: String,
    /// 印章名称.
    pub name: String,
    /// 印模类型.
    pub kind: SealKind,
    /// `valid`, `revoked` or `expired`.
    pub status: &'static str,
    /// 有效, 已注销 or 已过期.
    pub status_label: &'static str,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// When it was revoked, RFC 3339.
    pub revoked_at: Option<String>,
    /// Why it was revoked (补办, 变更).
    pub revoke_reason: Option<String>,
}

impl From<sealdesk_app::SealStatusView> for SealStatusBody {
    fn from(v: sealdesk_app::SealStatusView) -> Self {
        SealStatusBody {
            es_id: v.es_id,
            name: v.name,
            kind: v.kind,
            status: v.status.code(),
            status_label: v.status.label(),
            valid_start: v.valid_start,
            valid_end: v.valid_end,
            revoked_at: v.revoked_at,
            revoke_reason: v.revoke_reason,
        }
    }
}

/// `POST /auth/ukey`: the UKey's certificate and its signature over the challenge of
/// `POST /auth/ukey/challenge` (证书登录).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UkeySignIn {
    /// The certificate, DER in base64, as the agent reads it.
    pub cert_der_b64: String,
    /// The challenge's nonce.
    pub nonce: String,
    /// Signature over the challenge bytes (base64 or hex; DER or raw r‖s).
    pub signature: String,
}

/// The maker's signed list of revoked seals (`sealdesk-revoked-seals/1`): `payload` is the signed JSON text
/// (`{issuer, issued_at, revoked: [{es_id, revoked_at, reason}]}`), kept as text so that it verifies as
/// stored. `sealdesk seal verify --revoked FILE` checks it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationFile {
    /// `sealdesk-revoked-seals/1`.
    pub format: String,
    /// The signed JSON text.
    pub payload: String,
    /// The maker's SM2 signature over `payload`'s UTF-8 bytes, DER in base64.
    pub signature: String,
    /// The maker certificate, DER in base64.
    pub signer: String,
}
