//! 微信支付 API v3: Native QR orders, query, refund, and the payment notification.
//!
//! Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,timestamp=…,serial_no=…,
//! signature=…`, the signature being SHA256withRSA (merchant API key) over `METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n`.
//! Answers and notifications are verified over `TS\nNONCE\nBODY\n` with the key `Wechatpay-Serial` names: the
//! 微信支付公钥 (`PUB_KEY_ID_…`) or a platform certificate; both may be configured at once while a merchant
//! migrates. A timestamp five minutes or more from ours is refused. The notification's `resource` is AES-GCM under
//! the APIv3 key.

use crate::http::{self, Answer};
use crate::rsakey::{RsaPrivate, RsaPublic, cert_serial_and_spki};
use crate::{
    BoxFuture, Channel, Checkout, Lookup, NotifyReply, PayError, PayRequest, PaymentProvider,
    RefundRequest, RefundResult, Trade, TradeStatus, any_set, setting,
};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sealdesk_domain::Fen;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use zeroize::Zeroizing;

/// The production API host.
pub const BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// The signature scheme name, in requests and in `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// How far a signed timestamp may be from ours (the SDK's `FiveMinute`).
pub const MAX_SKEW_SECS: i64 = 300;

const MAX_NOTIFY: usize = 64 * 1024;

/// One WeChat Pay merchant.
#[derive(Clone)]
pub struct WechatConfig {
    /// The `appid` the merchant is bound to.
    pub appid: String,
    /// 商户号.
    pub mchid: String,
    /// The serial of the merchant API certificate (`serial_no`).
    pub mch_serial: String,
    /// The merchant API private key (`apiclient_key.pem`).
    pub mch_key: RsaPrivate,
    /// The APIv3 key (32 ASCII bytes).
    pub apiv3_key: Zeroizing<Vec<u8>>,
    /// Keys that sign WeChat's answers and callbacks, by the serial `Wechatpay-Serial` carries:
    /// `PUB_KEY_ID_…` for the 微信支付公钥, the certificate serial for platform certificates.
    pub verify_keys: Vec<(String, RsaPublic)>,
    /// API host (production, or a local fake in tests).
    pub base_url: String,
    /// Where WeChat posts notifications (HTTPS, no query).
    pub notify_url: String,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatConfig")
            .field("appid", &self.appid)
            .field("mchid", &self.mchid)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl WechatConfig {
    /// Reads `SEALDESK_WECHAT_*`: `APPID`, `MCHID`, `MCH_SERIAL`, `PRIVATE_KEY` (or `_FILE`), `APIV3_KEY` (or
    /// `_FILE`), `NOTIFY_URL`, and at least one of `PUBLIC_KEY_ID` + `PUBLIC_KEY` (or `_FILE`) and
    /// `PLATFORM_CERT_FILES` (comma-separated PEM paths); optional `BASE_URL`. `Ok(None)` when none is set.
    pub fn from_lookup(get: Lookup<'_>) -> Result<Option<WechatConfig>, PayError> {
        const P: &str = "SEALDESK_WECHAT_";
        if !any_set(
            get,
            &["SEALDESK_WECHAT_MCHID", "SEALDESK_WECHAT_PRIVATE_KEY"],
        ) {
            return Ok(None);
        }
        let s = |n: &str| setting(get, &format!("{P}{n}"));
        let mut verify_keys = Vec::new();
        if let Some(id) = get("SEALDESK_WECHAT_PUBLIC_KEY_ID") {
            let pem = s("PUBLIC_KEY")?;
            let key = RsaPublic::from_pem(&pem)
                .map_err(|e| PayError::Config(format!("{P}PUBLIC_KEY: {e}")))?;
            verify_keys.push((id, key));
        }
        for path in get("SEALDESK_WECHAT_PLATFORM_CERT_FILES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| PayError::Config(format!("{P}PLATFORM_CERT_FILES {path}: {e}")))?;
            verify_keys.push(platform_cert(&pem)?);
        }
        if verify_keys.is_empty() {
            return Err(PayError::Config(format!(
                "{P}PUBLIC_KEY_ID/{P}PUBLIC_KEY or {P}PLATFORM_CERT_FILES is needed to verify WeChat Pay"
            )));
        }
        let apiv3 = Zeroizing::new(s("APIV3_KEY")?.into_bytes());
        if apiv3.len() != 32 {
            return Err(PayError::Config(format!(
                "{P}APIV3_KEY must be 32 characters"
            )));
        }
        Ok(Some(WechatConfig {
            appid: s("APPID")?,
            mchid: s("MCHID")?,
            mch_serial: s("MCH_SERIAL")?,
            mch_key: RsaPrivate::from_pem(&s("PRIVATE_KEY")?)
                .map_err(|e| PayError::Config(format!("{P}PRIVATE_KEY: {e}")))?,
            apiv3_key: apiv3,
            verify_keys,
            base_url: get("SEALDESK_WECHAT_BASE_URL").unwrap_or_else(|| BASE_URL.into()),
            notify_url: s("NOTIFY_URL")?,
            timeout: Duration::from_secs(10),
        }))
    }
}

/// A platform certificate as a verification key, under its serial.
pub fn platform_cert(pem: &str) -> Result<(String, RsaPublic), PayError> {
    let (serial, _) = cert_serial_and_spki(pem).map_err(|e| PayError::Config(e.to_string()))?;
    let key = RsaPublic::from_pem(pem).map_err(|e| PayError::Config(e.to_string()))?;
    Ok((serial, key))
}

/// The request message: `METHOD\nURL\nTS\nNONCE\nBODY\n` (URL = path and query, no host).
pub fn request_message(method: &str, url: &str, ts: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{url}\n{ts}\n{nonce}\n{body}\n")
}

/// The answer/callback message: `TS\nNONCE\nBODY\n`.
pub fn response_message(ts: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 64);
    m.extend_from_slice(ts.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// Decrypts an `AEAD_AES_256_GCM` resource: key = APIv3 key, IV = `nonce`, AAD = `associated_data`, input =
/// base64 ciphertext with the 16-byte tag at its end. A 16-byte key selects AES-128-GCM (the SDK's own test key).
pub fn decrypt_resource(
    key: &[u8],
    nonce: &str,
    aad: &str,
    ciphertext_b64: &str,
) -> Result<Zeroizing<Vec<u8>>, PayError> {
    let ct = B64
        .decode(ciphertext_b64)
        .map_err(|_| PayError::Malformed("ciphertext is not base64".into()))?;
    let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::try_from(nonce.as_bytes())
        .map_err(|_| PayError::Malformed("nonce must be 12 bytes".into()))?;
    let payload = Payload {
        msg: &ct,
        aad: aad.as_bytes(),
    };
    let plain = match key.len() {
        32 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .map_err(|_| PayError::Config("APIv3 key".into()))?
            .decrypt(&nonce, payload),
        16 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .map_err(|_| PayError::Config("APIv3 key".into()))?
            .decrypt(&nonce, payload),
        _ => return Err(PayError::Config("APIv3 key must be 32 bytes".into())),
    };
    plain
        .map(Zeroizing::new)
        .map_err(|_| PayError::BadSignature)
}

#[derive(Serialize)]
struct Amount {
    total: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct NativeBody<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    notify_url: &'a str,
    amount: Amount,
}

#[derive(Serialize)]
struct RefundAmount {
    refund: i64,
    total: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct RefundBody<'a> {
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    amount: RefundAmount,
}

/// The transaction as WeChat describes it (notification plaintext and query answer).
#[derive(Deserialize)]
struct Transaction {
    appid: String,
    mchid: String,
    out_trade_no: String,
    #[serde(default)]
    transaction_id: String,
    trade_state: String,
    #[serde(default)]
    amount: Option<TxAmount>,
}

#[derive(Deserialize)]
struct TxAmount {
    total: i64,
}

#[derive(Deserialize)]
struct Notification {
    event_type: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
}

/// The WeChat Pay adapter.
pub struct Wechat {
    cfg: WechatConfig,
    client: reqwest::Client,
}

impl Wechat {
    /// An adapter for `cfg`.
    pub fn new(cfg: WechatConfig) -> Result<Wechat, PayError> {
        let client = http::client(cfg.timeout).map_err(PayError::Config)?;
        Ok(Wechat { cfg, client })
    }

    /// The configuration.
    pub fn config(&self) -> &WechatConfig {
        &self.cfg
    }

    /// The JSON body of a Native order, exactly as sent (and signed).
    pub fn native_body(&self, req: &PayRequest) -> Result<String, PayError> {
        serde_json::to_string(&NativeBody {
            appid: &self.cfg.appid,
            mchid: &self.cfg.mchid,
            description: &req.subject,
            out_trade_no: &req.out_trade_no,
            notify_url: &self.cfg.notify_url,
            amount: Amount {
                total: req.amount.0,
                currency: "CNY",
            },
        })
        .map_err(|e| PayError::Invalid(e.to_string()))
    }

    /// The `Authorization` header value for a request.
    pub fn authorization(
        &self,
        method: &str,
        url: &str,
        body: &str,
        ts: i64,
        nonce: &str,
    ) -> String {
        let sig = self
            .cfg
            .mch_key
            .sign_b64(request_message(method, url, ts, nonce, body).as_bytes());
        format!(
            r#"{SCHEME} mchid="{}",nonce_str="{nonce}",timestamp="{ts}",serial_no="{}",signature="{sig}""#,
            self.cfg.mchid, self.cfg.mch_serial
        )
    }

    /// Checks `Wechatpay-*` signature headers over `body` at `now`.
    pub fn verify_signed(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<(), PayError> {
        let h = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| PayError::Malformed(format!("missing {n}")))
        };
        if let Ok(t) = h("wechatpay-signature-type")
            && t != SCHEME
        {
            return Err(PayError::Malformed(format!("signature type {t}")));
        }
        let ts_text = h("wechatpay-timestamp")?;
        let ts: i64 = ts_text
            .parse()
            .map_err(|_| PayError::Malformed("Wechatpay-Timestamp".into()))?;
        if (now - ts).abs() >= MAX_SKEW_SECS {
            return Err(PayError::Stale);
        }
        let serial = h("wechatpay-serial")?;
        let key = self
            .cfg
            .verify_keys
            .iter()
            .find(|(s, _)| s == serial)
            .map(|(_, k)| k)
            .ok_or_else(|| PayError::Malformed(format!("unknown Wechatpay-Serial {serial}")))?;
        let msg = response_message(ts_text, h("wechatpay-nonce")?, body);
        if !key.verify_b64(&msg, h("wechatpay-signature")?) {
            return Err(PayError::BadSignature);
        }
        Ok(())
    }

    /// Verifies and decrypts a payment notification.
    pub fn verify_notify(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<Trade, PayError> {
        if body.len() > MAX_NOTIFY {
            return Err(PayError::Malformed("body too large".into()));
        }
        self.verify_signed(headers, body, now)?;
        let n: Notification = serde_json::from_slice(body)
            .map_err(|e| PayError::Malformed(format!("notification: {e}")))?;
        if !n.event_type.starts_with("TRANSACTION.") {
            return Err(PayError::Malformed(format!("event_type {}", n.event_type)));
        }
        if n.resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(PayError::Malformed(format!(
                "algorithm {}",
                n.resource.algorithm
            )));
        }
        let plain = decrypt_resource(
            &self.cfg.apiv3_key,
            &n.resource.nonce,
            &n.resource.associated_data,
            &n.resource.ciphertext,
        )?;
        let tx: Transaction = serde_json::from_slice(&plain)
            .map_err(|e| PayError::Malformed(format!("transaction: {e}")))?;
        self.trade(tx)
    }

    fn trade(&self, tx: Transaction) -> Result<Trade, PayError> {
        if tx.mchid != self.cfg.mchid {
            return Err(PayError::ForeignApp(format!("mchid {}", tx.mchid)));
        }
        if tx.appid != self.cfg.appid {
            return Err(PayError::ForeignApp(tx.appid));
        }
        let status = match tx.trade_state.as_str() {
            "SUCCESS" => TradeStatus::Paid,
            "NOTPAY" | "USERPAYING" => TradeStatus::Pending,
            "CLOSED" | "REVOKED" | "PAYERROR" => TradeStatus::Closed,
            "REFUND" => TradeStatus::Refunded,
            other => return Err(PayError::Malformed(format!("trade_state {other}"))),
        };
        Ok(Trade {
            channel: Channel::Wechat,
            out_trade_no: tx.out_trade_no,
            gateway_txn: tx.transaction_id,
            // An unpaid trade may come without an amount; a paid one never does.
            amount: match (tx.amount, &status) {
                (Some(a), _) => Fen(a.total),
                (None, TradeStatus::Paid) => return Err(PayError::Malformed("amount".into())),
                (None, _) => Fen(0),
            },
            app_id: tx.appid,
            status,
        })
    }

    /// Sends a signed request; `body` empty for GET. Verifies the answer's signature when it is a success.
    async fn call(&self, method: &str, url: &str, body: String) -> Result<Answer, PayError> {
        let ts = http::now_unix();
        let nonce = http::nonce();
        let auth = self.authorization(method, url, &body, ts, &nonce);
        let full = format!("{}{url}", self.cfg.base_url);
        let req = match method {
            "GET" => self.client.get(full),
            _ => self
                .client
                .post(full)
                .header("content-type", "application/json")
                .body(body),
        }
        .header("accept", "application/json")
        .header("authorization", auth);
        let answer = http::send(req).await.map_err(PayError::Transport)?;
        if answer.status >= 500 {
            return Err(PayError::Transport(format!("HTTP {}", answer.status)));
        }
        if (200..300).contains(&answer.status) {
            self.verify_signed(&answer.headers, &answer.body, http::now_unix())?;
        }
        Ok(answer)
    }

    fn refused(answer: &Answer) -> PayError {
        let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        PayError::Gateway {
            code: v["code"].as_str().unwrap_or("").to_owned(),
            message: v["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {}", answer.status)),
        }
    }
}

impl PaymentProvider for Wechat {
    fn channel(&self) -> Channel {
        Channel::Wechat
    }

    fn app_id(&self) -> &str {
        &self.cfg.appid
    }

    fn start<'a>(&'a self, req: &'a PayRequest) -> BoxFuture<'a, Result<Checkout, PayError>> {
        Box::pin(async move {
            req.check()?;
            // WeChat has no cashier page for desktop browsers: page or QR, the applicant scans a Native code.
            let body = self.native_body(req)?;
            let answer = self
                .call("POST", "/v3/pay/transactions/native", body)
                .await?;
            if answer.status != 200 {
                return Err(Self::refused(&answer));
            }
            let v: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|_| PayError::Malformed("native answer".into()))?;
            v["code_url"]
                .as_str()
                .map(|s| Checkout::QrCode(s.to_owned()))
                .ok_or_else(|| PayError::Malformed("native answer without code_url".into()))
        })
    }

    fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now_unix: i64,
    ) -> Result<Trade, PayError> {
        self.verify_notify(headers, body, now_unix)
    }

    fn notification_reply(&self, accepted: bool) -> NotifyReply {
        if accepted {
            NotifyReply {
                status: 204,
                content_type: "",
                body: "",
            }
        } else {
            NotifyReply {
                status: 500,
                content_type: "application/json",
                body: r#"{"code":"FAIL","message":"失败"}"#,
            }
        }
    }

    fn query<'a>(
        &'a self,
        out_trade_no: &'a str,
    ) -> BoxFuture<'a, Result<Option<Trade>, PayError>> {
        Box::pin(async move {
            if !out_trade_no
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(PayError::Invalid(format!("out_trade_no {out_trade_no:?}")));
            }
            let url = format!(
                "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                self.cfg.mchid
            );
            let answer = self.call("GET", &url, String::new()).await?;
            if answer.status == 404 {
                return Ok(None);
            }
            if answer.status != 200 {
                return Err(Self::refused(&answer));
            }
            let tx: Transaction = serde_json::from_slice(&answer.body)
                .map_err(|e| PayError::Malformed(format!("query answer: {e}")))?;
            if tx.out_trade_no != out_trade_no {
                return Err(PayError::Malformed("query answered another trade".into()));
            }
            self.trade(tx).map(Some)
        })
    }

    fn refund<'a>(
        &'a self,
        req: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundResult, PayError>> {
        Box::pin(async move {
            req.check()?;
            let body = serde_json::to_string(&RefundBody {
                out_trade_no: &req.out_trade_no,
                out_refund_no: &req.out_refund_no,
                reason: &req.reason,
                amount: RefundAmount {
                    refund: req.refund.0,
                    total: req.total.0,
                    currency: "CNY",
                },
            })
            .map_err(|e| PayError::Invalid(e.to_string()))?;
            let answer = self
                .call("POST", "/v3/refund/domestic/refunds", body)
                .await?;
            if answer.status != 200 {
                return Err(Self::refused(&answer));
            }
            let v: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|_| PayError::Malformed("refund answer".into()))?;
            let status = v["status"].as_str().unwrap_or("");
            if status == "CLOSED" || status == "ABNORMAL" {
                return Err(PayError::Gateway {
                    code: status.to_owned(),
                    message: "退款关闭或异常".into(),
                });
            }
            Ok(RefundResult {
                gateway_refund: v["refund_id"].as_str().unwrap_or("").to_owned(),
                amount: Fen(v["amount"]["refund"]
                    .as_i64()
                    .ok_or_else(|| PayError::Malformed("refund amount".into()))?),
                done: status == "SUCCESS",
            })
        })
    }
}
