//! SealDesk's use cases: sign-in, the order's way from 申请 to 制章, and everything an applicant or operator
//! may do to it.
//!
//! Every use case takes the caller ([`Who`]) explicitly and checks, here and only here, that the caller may act:
//! applicants see only their own orders and files, operators only the projects of their groups. Every state
//! change goes through [`sealdesk_domain::OrderState::apply`] and is written with its audit entry (and its SMS,
//! through the outbox) in one transaction.
#![deny(missing_docs)]

mod audit_view;
mod auth;
mod bank;
mod dashboard;
mod delivery;
mod error;
mod finance;
mod impression;
mod invoice_pdf;
mod mail;
mod messages;
mod orders;
mod payments;
mod pending_payment;
mod prechecks;
mod remake;
pub use prechecks::{AUTO_APPROVE_RULE, DEFAULT_PRECHECK_WORKERS, PRECHECK_LEASE_SECS};
pub use remake::remakeable;
mod reminders;
mod renewal;
pub use renewal::{KeyOrder, certificate_expired_message};
mod review;
mod seal_status;
mod signature;
pub use signature::SIGNATURE_PAD_JS;
mod sms;
mod ukey;
mod uploads;

use std::path::PathBuf;
use std::sync::Arc;

use sealdesk_adapters::blobs::BlobStore;
use sealdesk_adapters::keys::Identity;
use sealdesk_adapters::pay::SandboxGateway;
use sealdesk_domain::{Clock, SystemClock, Timestamp};
use sealdesk_payments::PaymentProvider;
use sealdesk_store::Store;

pub use audit_view::{AuditPage, CHECKPOINT_EVERY, checkpoint_signed_by, write_audit_checkpoint};
pub use auth::{
    CODES_PER_ADDRESS_HOUR, CODES_PER_DAY, CODES_PER_HOUR, OPERATOR_LOCKOUT, OPERATOR_MAX_FAILURES,
    WRONG_CODES_PER_ADDRESS_DAY, WRONG_CODES_PER_DAY, hash_password,
};
pub use auth::{Principal, SignedIn};
pub use bank::{BankAccount, BankTransfer, StatementIssue, StatementReport};
pub use dashboard::{DASHBOARD_DAYS, Dashboard, ProjectLine};
pub use delivery::{RetryPolicy, SendRound, SmsSender};
pub use error::AppError;
pub use finance::{ChannelDay, FinanceDay, invoice_buyer};
pub use impression::{
    Cutout, Cutouts, UNCONFIRMED_MESSAGE, form_replaceable, form_spec, kind_box,
    other_order_message, pictures, problems,
};
pub use mail::MailSender;
pub use orders::{AuthChallenge, MadeSeal, OrderView, WriteReceipt, decode_signature};
pub use payments::{PAYMENT_SUBJECT, PaymentCheckout, RECONCILE_LEASE_SECS, Reconciled};
pub use reminders::{REMINDER_DAYS, reminder_text};
pub use seal_status::SealStatusView;
/// The largest bank statement an import reads.
pub use sealdesk_payments::bank::MAX_STATEMENT_BYTES;
pub use ukey::{
    CERT_CHALLENGES_PER_ADDRESS_HOUR, SignInChallenge, bound_certificate, cert_holder_key,
};
pub use uploads::{
    MAX_PIXELS, MAX_UPLOAD_BYTES, ORDER_QUOTA_BYTES, PROCESSING_PER_APPLICANT, Sniffed,
    UPLOADS_AT_ONCE, UploadOutcome, UploadTicket, sniff,
};

/// Who is calling, and from where.
#[derive(Debug, Clone)]
pub struct Who {
    /// The signed-in principal, or the platform itself.
    pub principal: Principal,
    /// Client address, for the audit log.
    pub ip: String,
}

/// Settings of the application layer.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Demo mode: the SMS outbox is readable by anyone and the demo accounts exist.
    pub demo: bool,
    /// The payment channels applicants may choose, in the order offered (`sandbox` only in demo mode). Empty:
    /// payment is not open yet, and applicants are told so.
    pub payment_channels: Vec<String>,
    /// The SMS signature, the bracketed name that starts every message (the seed's texts use 金格科技).
    pub sms_signature: String,
    /// What the SMS call the platform, and where it is.
    pub platform_name: String,
    /// The public URL of the platform, put into SMS texts.
    pub public_url: String,
    /// Where files of the data directory live (tokens' CA, keys).
    pub data_dir: PathBuf,
    /// Where the application reads the time: the system's, or a `ManualClock` a test moves.
    pub clock: Arc<dyn Clock>,
    /// The platform's account for 对公转账 (channel `bank`), if that channel is offered.
    pub bank_account: Option<BankAccount>,
    /// 销售方 as printed on the electronic invoice (the name defaults to `platform_name`).
    pub invoice_seller: InvoiceSeller,
    /// 工作日: the calendar review due dates are counted in (the embedded data unless `serve --holidays FILE`
    /// gives an administrator's file); `None` only if the embedded data were broken, and then every due date
    /// is said to be unknown rather than guessed.
    pub calendar: Option<Arc<sealdesk_domain::WorkCalendar>>,
    /// 在线客服's service hours, shown beside each order's message thread.
    pub service_hours: String,
    /// Workers that run the 审核预检 queue in this process (`serve --precheck-workers`); 0 leaves the checks
    /// (and their OCR) to other instances that share the database.
    pub precheck_workers: usize,
}

/// 销售方: the platform's operator as its invoices print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceSeller {
    /// 名称; empty: `platform_name`.
    pub name: String,
    /// 统一社会信用代码/纳税人识别号.
    pub taxpayer_id: String,
    /// 地址、电话.
    pub address_phone: String,
    /// 开户行及账号.
    pub bank_account: String,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            demo: false,
            payment_channels: Vec::new(),
            sms_signature: "金格科技".into(),
            platform_name: "CA 电子印章自助办理平台".into(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            clock: Arc::new(SystemClock),
            bank_account: None,
            invoice_seller: InvoiceSeller::default(),
            calendar: sealdesk_domain::WorkCalendar::china().ok().map(Arc::new),
            service_hours: "工作日 9:00–17:00".into(),
            precheck_workers: prechecks::DEFAULT_PRECHECK_WORKERS,
        }
    }
}

/// The application: the store, the blob store, the platform's keys and the payment gateways.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Store,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) cfg: Arc<AppConfig>,
    pub(crate) maker: Arc<Identity>,
    pub(crate) trust: Arc<Vec<sealdesk_pki::Cert>>,
    /// The sandbox gateway: demo mode only.
    pub(crate) sandbox: Option<Arc<SandboxGateway>>,
    /// The payment channels' gateways (the sandbox's platform side among them in demo mode).
    pub(crate) providers: Arc<Vec<Arc<dyn PaymentProvider>>>,
    /// Password hashing, bounded (see `auth::HASHING_AT_ONCE`).
    pub(crate) hashing: auth::Hashing,
    /// Places for upload requests whose bodies are being received (see [`UPLOADS_AT_ONCE`]).
    pub(crate) receiving: Arc<tokio::sync::Semaphore>,
    /// Slots for image and PDF work on uploads (see `uploads::IMAGE_WORK_AT_ONCE`).
    pub(crate) image_work: Arc<tokio::sync::Semaphore>,
    /// Uploads in processing per applicant (see [`PROCESSING_PER_APPLICANT`]).
    pub(crate) processing: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    /// Tesseract for the 审核预检 of scans (bounded and timed out in the adapter).
    pub(crate) ocr: Arc<sealdesk_adapters::ocr::Ocr>,
    /// The 审核预检 workers of this process: started once, woken by each submission.
    pub(crate) precheck_queue: Arc<prechecks::Queue>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl App {
    /// Wires the application. `trust` holds the CAs whose UKey certificates are accepted at 授权; `sandbox` is
    /// the demo payment gateway (`None` in production, where the sandbox channel does not exist).
    pub fn new(
        store: Store,
        blobs: Arc<dyn BlobStore>,
        cfg: AppConfig,
        maker: Identity,
        trust: Vec<sealdesk_pki::Cert>,
        sandbox: Option<SandboxGateway>,
    ) -> App {
        let providers: Vec<Arc<dyn PaymentProvider>> = sandbox
            .iter()
            .map(|g| Arc::new(g.verifier()) as Arc<dyn PaymentProvider>)
            .collect();
        App {
            store,
            blobs,
            cfg: Arc::new(cfg),
            maker: Arc::new(maker),
            trust: Arc::new(trust),
            sandbox: sandbox.map(Arc::new),
            providers: Arc::new(providers),
            hashing: auth::Hashing::for_server(),
            receiving: Arc::new(tokio::sync::Semaphore::new(uploads::UPLOADS_AT_ONCE)),
            image_work: Arc::new(tokio::sync::Semaphore::new(uploads::IMAGE_WORK_AT_ONCE)),
            processing: Arc::default(),
            ocr: Arc::new(sealdesk_adapters::ocr::Ocr::default()),
            precheck_queue: Arc::default(),
        }
    }

    /// The store, for wiring and read-only views.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &AppConfig {
        &self.cfg
    }

    /// Now, in Unix seconds, by the configured clock.
    pub fn now(&self) -> i64 {
        self.cfg.clock.now().0
    }

    /// Now as stored: RFC 3339, UTC.
    pub(crate) fn now_text(&self) -> String {
        Timestamp(self.now()).rfc3339()
    }

    /// The seal maker's certificate, published for relying parties.
    pub fn maker_certificate_pem(&self) -> String {
        self.maker.cert.to_pem()
    }

    /// The trust anchors' certificates (PEM), for verifying seals this platform made.
    pub fn trust_pems(&self) -> Vec<String> {
        self.trust.iter().map(|c| c.to_pem()).collect()
    }

    /// The 工作日 calendar review due dates are counted in.
    pub fn work_calendar(&self) -> Option<&sealdesk_domain::WorkCalendar> {
        self.cfg.calendar.as_deref()
    }

    /// The payment channels offered, with their Chinese names, in order; empty when payment is not open yet.
    pub fn payment_channels(&self) -> Vec<(String, &'static str)> {
        self.cfg
            .payment_channels
            .iter()
            .map(|c| (c.clone(), channel_label(c)))
            .collect()
    }

    /// Checks the audit chain: the number of entries, or the first broken one and why.
    pub async fn verify_audit(&self) -> Result<Result<u64, (i64, String)>, AppError> {
        Ok(self.store.verify_audit().await?)
    }
}

/// What the payment page calls a channel.
pub fn channel_label(channel: &str) -> &'static str {
    match channel {
        "sandbox" => "沙箱支付（演示）",
        "alipay" => "支付宝支付",
        "wechat" => "微信支付",
        "bank" => "对公转账",
        _ => "其他支付方式",
    }
}

/// The DER of the first certificate in a PEM text, with a Chinese error for the form.
pub fn cert_der_from_pem(pem: &str) -> Result<Vec<u8>, AppError> {
    sealdesk_pki::Cert::from_pem(pem)
        .map(|c| c.der().to_vec())
        .map_err(|_| {
            AppError::field(
                "cert",
                "证书内容无法识别：应为 PEM 格式（-----BEGIN CERTIFICATE-----）",
            )
        })
}
