//! SealDesk's gateways for money and messages, built to each gateway's published signing rules:
//!
//! - [`alipay`]: 支付宝 open platform — 电脑网站支付 (page pay), 当面付 QR (precreate), RSA2 request signing,
//!   async-notify verification, query, refund;
//! - [`wechat`]: 微信支付 API v3 — Native QR, the `WECHATPAY2-SHA256-RSA2048` Authorization header, callback and
//!   response signature verification (platform certificate or 微信支付公钥), AES-256-GCM resource decryption,
//!   query, refund;
//! - [`sms`]: Aliyun Dysms `SendSms` (ACS3-HMAC-SHA256; the V2 HMAC-SHA1 rule too) and a generic signed-HTTP
//!   provider;
//! - [`bank`]: 对公转账 references with a check character and the bank statement (CSV) reader;
//! - [`mail`]: the invoice e-mail through an SMTP relay (TLS or STARTTLS);
//! - [`invoice`]: the built-in electronic invoice (电子发票) as a PDF with an embedded CJK font.
//!
//! Both payment adapters implement [`PaymentProvider`], so the application can hold a list of configured channels
//! and drive each the same way. Keys and ids come from configuration ([`Lookup`]: environment or a map), never
//! from code. Nothing here knows about orders' workflow or SQL; amounts are the server's [`Fen`], never floats.
#![deny(missing_docs)]

pub mod alipay;
pub mod bank;
pub mod http;
pub mod invoice;
pub mod mail;
pub mod rsakey;
pub mod sms;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod wechat;

use sealdesk_domain::Fen;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that [`PaymentProvider`] can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A payment channel (支付方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// 支付宝.
    Alipay,
    /// 微信支付.
    Wechat,
    /// The demo sandbox (demo mode only; `sealdesk_adapters::pay`).
    Sandbox,
    /// 对公转账: no gateway; finance matches the bank statement ([`bank`]).
    Bank,
}

impl Channel {
    /// The stable machine name (`alipay`, `wechat`), as in routes and the payments table.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Alipay => "alipay",
            Channel::Wechat => "wechat",
            Channel::Sandbox => "sandbox",
            Channel::Bank => "bank",
        }
    }
    /// The label on pages.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Alipay => "支付宝",
            Channel::Wechat => "微信支付",
            Channel::Sandbox => "沙箱支付（演示）",
            Channel::Bank => "对公转账",
        }
    }
}

/// How the applicant pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMode {
    /// A redirect to the gateway's cashier page (Alipay 电脑网站支付). WeChat has none and answers with a QR code.
    Page,
    /// A QR code the applicant scans (Alipay 当面付 precreate, WeChat Native).
    Qr,
}

/// What to ask a gateway for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    /// Our payment id, the merchant order number (`out_trade_no`): `[0-9A-Za-z_]`, 6–32 characters so that both
    /// gateways accept it.
    pub out_trade_no: String,
    /// The amount, the server's own.
    pub amount: Fen,
    /// What is bought (订单标题 / description).
    pub subject: String,
    /// Page or QR.
    pub mode: PayMode,
}

impl PayRequest {
    /// Refuses what no gateway would accept, before anything is signed or sent.
    pub fn check(&self) -> Result<(), PayError> {
        let n = &self.out_trade_no;
        if !(6..=32).contains(&n.len())
            || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(PayError::Invalid(format!("out_trade_no {n:?}")));
        }
        // Alipay's range is 0.01 to 100,000,000 元.
        if self.amount.0 < 1 || self.amount.0 > 10_000_000_000 {
            return Err(PayError::Invalid(format!("amount {}", self.amount.0)));
        }
        if self.subject.is_empty()
            || self.subject.chars().count() > 127
            || self.subject.contains(['/', '=', '&'])
        {
            return Err(PayError::Invalid("subject".into()));
        }
        Ok(())
    }
}

/// Where the applicant goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    /// Send the browser here (a signed GET to the gateway).
    Redirect(String),
    /// Show this text as a QR code (`https://qr.alipay.com/…`, `weixin://wxpay/bizpayurl?pr=…`).
    QrCode(String),
}

/// A trade's state at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeStatus {
    /// Created, not paid yet (WAIT_BUYER_PAY, NOTPAY, USERPAYING).
    Pending,
    /// Paid (TRADE_SUCCESS, TRADE_FINISHED, SUCCESS).
    Paid,
    /// Closed unpaid, or fully refunded (TRADE_CLOSED, CLOSED, REVOKED, PAYERROR).
    Closed,
    /// Paid, then refunded (WeChat's REFUND).
    Refunded,
}

/// What a gateway says about one of our trades, from a verified notification or a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// The channel that said it.
    pub channel: Channel,
    /// Our payment id.
    pub out_trade_no: String,
    /// The gateway's transaction number (`trade_no`, `transaction_id`); empty before payment.
    pub gateway_txn: String,
    /// The amount of the trade.
    pub amount: Fen,
    /// The app id the gateway names (Alipay `app_id`, WeChat `appid`), already checked against ours.
    pub app_id: String,
    /// Where the trade stands.
    pub status: TradeStatus,
}

/// A refund to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The payment to refund.
    pub out_trade_no: String,
    /// Our refund number (`out_request_no`, `out_refund_no`): the same number repeats the same refund, never a
    /// second one.
    pub out_refund_no: String,
    /// How much to give back.
    pub refund: Fen,
    /// What was paid (WeChat needs it).
    pub total: Fen,
    /// Why (shown to the payer).
    pub reason: String,
}

impl RefundRequest {
    /// Refuses a refund of nothing or of more than was paid, before anything is signed or sent.
    pub fn check(&self) -> Result<(), PayError> {
        if self.refund.0 < 1 || self.refund > self.total {
            return Err(PayError::Invalid(format!("refund {}", self.refund.0)));
        }
        Ok(())
    }
}

/// A gateway's answer to a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResult {
    /// The gateway's refund id (WeChat `refund_id`; Alipay has none and answers with `trade_no`).
    pub gateway_refund: String,
    /// How much the gateway says it refunded.
    pub amount: Fen,
    /// Whether the money has left (`true`) or the refund is still being processed.
    pub done: bool,
}

/// What to answer the gateway after a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyReply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any body.
    pub content_type: &'static str,
    /// Body.
    pub body: &'static str,
}

/// Why a gateway operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// The configuration is incomplete or a key cannot be read.
    #[error("configuration: {0}")]
    Config(String),
    /// What we were asked to send is not something the gateway accepts.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A notification or answer is not well formed.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The signature does not verify with the gateway's key (forged, altered or a signature probe).
    #[error("bad signature")]
    BadSignature,
    /// The signed timestamp is more than five minutes from ours (a replay, or a clock far off).
    #[error("timestamp outside the five-minute window")]
    Stale,
    /// Signed correctly but for another merchant or app.
    #[error("foreign app id {0}")]
    ForeignApp(String),
    /// The gateway answered and refused.
    #[error("gateway refused: {code} {message}")]
    Gateway {
        /// The gateway's code (`sub_code` for Alipay).
        code: String,
        /// Its message.
        message: String,
    },
    /// The gateway could not be reached or answered 5xx: try again later, nothing happened on our side.
    #[error("gateway unreachable: {0}")]
    Transport(String),
}

impl PayError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PayError::Transport(_))
    }
}

/// One payment gateway, configured for one merchant.
pub trait PaymentProvider: Send + Sync {
    /// Which channel this is.
    fn channel(&self) -> Channel;
    /// The configured app id (notifications for another are refused).
    fn app_id(&self) -> &str;
    /// Opens a trade at the gateway and says where the applicant pays.
    fn start<'a>(&'a self, req: &'a PayRequest) -> BoxFuture<'a, Result<Checkout, PayError>>;
    /// Verifies a notification (headers with lower-case names, raw body) at `now_unix` and returns the trade it
    /// reports. Anything not signed by the gateway for our app is an error.
    fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now_unix: i64,
    ) -> Result<Trade, PayError>;
    /// The answer the gateway expects: `accepted` stops its retries, otherwise it tries again later.
    fn notification_reply(&self, accepted: bool) -> NotifyReply;
    /// Asks the gateway where a trade stands; `None` if it does not know the trade (e.g. a QR never scanned).
    fn query<'a>(&'a self, out_trade_no: &'a str)
    -> BoxFuture<'a, Result<Option<Trade>, PayError>>;
    /// Refunds (part of) a paid trade.
    fn refund<'a>(
        &'a self,
        req: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundResult, PayError>>;
}

/// A form-encoded notification (Alipay's, the sandbox's), parsed once with the checks every such gateway needs:
/// a size cap, and each key at most once — a repeated key could mean one thing to the signature and another to
/// us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyForm(Vec<(String, String)>);

impl NotifyForm {
    /// Parses `body`, refusing one over `max` bytes or with a repeated key.
    pub fn parse(body: &[u8], max: usize) -> Result<NotifyForm, PayError> {
        if body.len() > max {
            return Err(PayError::Malformed("body too large".into()));
        }
        let params: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(PayError::Malformed(format!("repeated {}", w[0])));
        }
        Ok(NotifyForm(params))
    }

    /// A parameter that must be present.
    pub fn get(&self, k: &str) -> Result<&str, PayError> {
        self.0
            .iter()
            .find(|(pk, _)| pk == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| PayError::Malformed(format!("missing {k}")))
    }

    /// Every parameter, as received.
    pub fn params(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Where configuration comes from: a function from a setting's name to its value. [`env_lookup`] reads the
/// process environment; tests pass a map.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads settings from the environment.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A required setting, or a `*_FILE` setting naming a file that holds it (for keys and secrets).
pub(crate) fn setting(get: Lookup<'_>, name: &str) -> Result<String, PayError> {
    if let Some(v) = get(name) {
        return Ok(v);
    }
    let file_var = format!("{name}_FILE");
    match get(&file_var) {
        Some(path) => std::fs::read_to_string(path.trim())
            .map(|s| s.trim().to_owned())
            .map_err(|e| PayError::Config(format!("{file_var}={path}: {e}"))),
        None => Err(PayError::Config(format!(
            "{name} (or {file_var}) is not set"
        ))),
    }
}

/// Whether one setting of a group is present, to tell "not configured" from "half configured".
pub(crate) fn any_set(get: Lookup<'_>, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| get(n).is_some() || get(&format!("{n}_FILE")).is_some())
}
