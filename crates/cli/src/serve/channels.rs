//! The real payment and SMS channels of `serve`, configured from the environment (`SEALDESK_ALIPAY_*`,
//! `SEALDESK_WECHAT_*`, `SEALDESK_SMS_ALIYUN_*`, `SEALDESK_SMS_HTTP_*`, each secret also as `*_FILE`), and the
//! background jobs that go with them: reconciliation of payments whose notification never came, and the renewal
//! reminders.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sealdesk_app::App;
use sealdesk_payments::alipay::{Alipay, AlipayConfig};
use sealdesk_payments::sms::{AliyunConfig, AliyunSms, HttpSms, HttpSmsConfig, SmsProvider};
use sealdesk_payments::wechat::{Wechat, WechatConfig};
use sealdesk_payments::{PaymentProvider, env_lookup};

/// How often the SMS sender looks at the outbox.
pub const SMS_POLL: Duration = Duration::from_secs(2);
/// How often reconciliation runs.
const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// A payment is asked about when its notification is this late…
const RECONCILE_MIN_AGE: i64 = 120;
/// …until it is this old.
const RECONCILE_MAX_AGE: i64 = 2 * 86_400;
/// How often the reminder job runs (each reminder goes out once; the job only finds them).
const REMINDERS_EVERY: Duration = Duration::from_secs(3600);

/// The environment, with the notification and return addresses defaulting to this platform's routes.
fn lookup(public_url: &str) -> impl Fn(&str) -> Option<String> {
    let base = public_url.trim_end_matches('/').to_owned();
    move |name: &str| {
        env_lookup(name).or_else(|| match name {
            "SEALDESK_ALIPAY_NOTIFY_URL" => Some(format!("{base}/api/v1/payments/alipay/notify")),
            "SEALDESK_ALIPAY_RETURN_URL" => Some(format!("{base}/orders")),
            "SEALDESK_WECHAT_NOTIFY_URL" => Some(format!("{base}/api/v1/payments/wechat/notify")),
            _ => None,
        })
    }
}

/// The adapters of the real channels named in `--payments`; each must be configured completely.
pub fn payment_providers(
    channels: &[String],
    public_url: &str,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    let get = lookup(public_url);
    let mut out: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    for c in channels {
        match c.as_str() {
            "alipay" => {
                let cfg = AlipayConfig::from_lookup(&get)
                    .context("--payments alipay")?
                    .context("--payments alipay needs SEALDESK_ALIPAY_APP_ID, SEALDESK_ALIPAY_PRIVATE_KEY(_FILE) and SEALDESK_ALIPAY_PUBLIC_KEY(_FILE)")?;
                out.push(Arc::new(Alipay::new(cfg).context("Alipay")?));
            }
            "wechat" => {
                let cfg = WechatConfig::from_lookup(&get)
                    .context("--payments wechat")?
                    .context("--payments wechat needs SEALDESK_WECHAT_APPID, _MCHID, _MCH_SERIAL, _PRIVATE_KEY(_FILE), _APIV3_KEY(_FILE) and _PUBLIC_KEY_ID/_PUBLIC_KEY or _PLATFORM_CERT_FILES")?;
                out.push(Arc::new(Wechat::new(cfg).context("WeChat Pay")?));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The platform's account for 对公转账, when `--payments` names `bank`: all three settings are needed, since a
/// reference without an account to send the money to helps nobody.
pub fn bank_account(channels: &[String]) -> anyhow::Result<Option<sealdesk_app::BankAccount>> {
    if !channels.iter().any(|c| c == "bank") {
        return Ok(None);
    }
    let get = |n: &str| {
        env_lookup(n)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match (
        get("SEALDESK_BANK_PAYEE"),
        get("SEALDESK_BANK_NAME"),
        get("SEALDESK_BANK_ACCOUNT"),
    ) {
        (Some(payee), Some(bank), Some(account)) => Ok(Some(sealdesk_app::BankAccount {
            payee,
            bank,
            account,
        })),
        _ => anyhow::bail!(
            "--payments bank needs SEALDESK_BANK_PAYEE (收款单位), SEALDESK_BANK_NAME (开户银行) and SEALDESK_BANK_ACCOUNT (银行账号)"
        ),
    }
}

/// 销售方 of the electronic invoices from `SEALDESK_SELLER_NAME`, `_TAXPAYER_ID`, `_ADDRESS_PHONE` and
/// `_BANK_ACCOUNT` (each optional; the name defaults to the platform's).
pub fn invoice_seller() -> sealdesk_app::InvoiceSeller {
    let get = |n: &str| {
        env_lookup(n)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    sealdesk_app::InvoiceSeller {
        name: get("SEALDESK_SELLER_NAME"),
        taxpayer_id: get("SEALDESK_SELLER_TAXPAYER_ID"),
        address_phone: get("SEALDESK_SELLER_ADDRESS_PHONE"),
        bank_account: get("SEALDESK_SELLER_BANK_ACCOUNT"),
    }
}

/// The SMTP relay for invoice e-mails, if `SEALDESK_SMTP_HOST` names one.
pub fn mailer() -> anyhow::Result<Option<Arc<dyn sealdesk_payments::mail::Mailer>>> {
    use sealdesk_payments::mail::{SmtpConfig, SmtpMailer};
    let get = |n: &str| env_lookup(n);
    match SmtpConfig::from_lookup(&get).map_err(anyhow::Error::msg)? {
        Some(cfg) => Ok(Some(Arc::new(
            SmtpMailer::new(&cfg).map_err(anyhow::Error::msg)?,
        ))),
        None => Ok(None),
    }
}

/// The SMS gateway `--sms` names; `None` for `outbox`.
pub fn sms_provider(kind: &str) -> anyhow::Result<Option<Arc<dyn SmsProvider>>> {
    let get = |n: &str| env_lookup(n);
    Ok(match kind {
        "aliyun" => {
            let cfg = AliyunConfig::from_lookup(&get)
                .context("--sms aliyun")?
                .context("--sms aliyun needs SEALDESK_SMS_ALIYUN_ACCESS_KEY_ID, _ACCESS_KEY_SECRET(_FILE), _SIGN_NAME and _TEMPLATES")?;
            Some(Arc::new(AliyunSms::new(cfg).context("Aliyun SMS")?))
        }
        "http" => {
            let cfg = HttpSmsConfig::from_lookup(&get)
                .context("--sms http")?
                .context(
                    "--sms http needs SEALDESK_SMS_HTTP_URL and SEALDESK_SMS_HTTP_SECRET(_FILE)",
                )?;
            Some(Arc::new(HttpSms::new(cfg).context("HTTP SMS")?))
        }
        _ => None,
    })
}

/// Fills the holder index of orders from before migration 0028 in the background, a batch at a time with a pause
/// between, so that a large table does not hold up requests; logs what it did.
pub async fn backfill_holder_index(store: sealdesk_store::Store) {
    const BATCH: i64 = 500;
    let (mut after, mut total) = (i64::MIN, 0u64);
    loop {
        match store.backfill_holder_index(after, BATCH).await {
            Ok((filled, Some(last))) => {
                total += filled;
                after = last;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Ok((filled, None)) => {
                total += filled;
                if total > 0 {
                    tracing::info!(orders = total, "holder index filled for older orders");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "filling the holder index of older orders failed");
                return;
            }
        }
    }
}

/// Reconciliation every minute, reminders every hour, an audit checkpoint whenever a minute ends with
/// `CHECKPOINT_EVERY` entries or more since the last, for as long as the process lives.
pub async fn background_jobs(app: App) {
    let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
    let mut remind = tokio::time::interval(REMINDERS_EVERY);
    let mut checkpoint = tokio::time::interval(RECONCILE_EVERY);
    loop {
        tokio::select! {
            _ = checkpoint.tick() => match app.audit_checkpoint_if_due(sealdesk_app::CHECKPOINT_EVERY).await {
                Ok(Some(id)) => tracing::info!(checkpoint = id, "audit checkpoint signed"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "audit checkpoint failed"),
            },
            _ = reconcile.tick() => match app.reconcile_payments(RECONCILE_MIN_AGE, RECONCILE_MAX_AGE).await {
                Ok(r) if r.settled > 0 || r.failed > 0 => {
                    tracing::info!(settled = r.settled, open = r.open, failed = r.failed, "reconciliation");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
            },
            _ = remind.tick() => match app.send_reminders().await {
                Ok(n) if n > 0 => tracing::info!(sent = n, "renewal reminders"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "renewal reminders failed"),
            },
        }
    }
}
