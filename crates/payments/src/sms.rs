//! SMS providers: Aliyun Dysms `SendSms` (2017-05-25) signed with ACS3-HMAC-SHA256, and a generic HTTP provider
//! for an in-house or third-party gateway, signed with HMAC-SHA256 under a shared secret. The outbox-only
//! provider (demo) needs no code here: it is the outbox itself.
//!
//! Errors say whether to try again ([`SmsError::is_retryable`]): Aliyun's `SendSms` is not idempotent, so only
//! failures where nothing was accepted (transport, 5xx, flow control) are retried by the sender worker.

use crate::http::{self, Answer};
use crate::{BoxFuture, Lookup, PayError, any_set, setting};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;
use zeroize::Zeroizing;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// 11-digit mainland mobile.
    pub mobile: String,
    /// Our template name (`login_code`, `submitted`, `review_approved`, `renewal_reminder`, …).
    pub template: String,
    /// The template's variables, in order (`code`, `order_no`, …).
    pub params: Vec<(String, String)>,
    /// The whole text as the outbox holds it (what a text-based gateway sends).
    pub text: String,
    /// Our outbox id, passed as `OutId` so that delivery receipts can be matched.
    pub out_id: String,
}

/// A gateway's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    /// The gateway's id for the message (Aliyun `BizId`).
    pub gateway_id: String,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Not configured for this message (e.g. no template code for its template).
    #[error("configuration: {0}")]
    Config(String),
    /// The gateway refused it for good (bad number, template, sign name): retrying sends nothing.
    #[error("refused: {code} {message}")]
    Refused {
        /// Gateway code.
        code: String,
        /// Gateway message.
        message: String,
    },
    /// Not delivered to the gateway, or the gateway asked us to slow down: try again later.
    #[error("try again: {0}")]
    Transient(String),
}

impl SmsError {
    /// Whether the sender worker should try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SmsError::Transient(_))
    }
}

/// An SMS gateway.
pub trait SmsProvider: Send + Sync {
    /// A short name for logs and the operators' delivery view (`aliyun`, `http`).
    fn name(&self) -> &'static str;
    /// Hands one message to the gateway.
    fn send<'a>(&'a self, msg: &'a SmsMessage) -> BoxFuture<'a, Result<SmsReceipt, SmsError>>;
}

/// RFC 3986 percent-encoding as Aliyun POP wants it: only `A–Z a–z 0–9 - _ . ~` stay.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sorted_query(params: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The V2 (RPC, HMAC-SHA1) signature: `base64(HMAC-SHA1(secret + "&", METHOD&%2F&enc(sorted query)))`.
pub fn pop_v2_signature(method: &str, params: &[(String, String)], secret: &str) -> String {
    let sts = format!("{method}&%2F&{}", percent_encode(&sorted_query(params)));
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(format!("{secret}&").as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(sts.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// What ACS3 signs, and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3 {
    /// The canonical request.
    pub canonical_request: String,
    /// `host;x-acs-…`, sorted.
    pub signed_headers: String,
    /// Hex HMAC-SHA256.
    pub signature: String,
}

/// The V3 signature `ACS3-HMAC-SHA256`. `headers` are (lower-case name, value) and must include `host` and the
/// `x-acs-*` headers; `x-acs-content-sha256` is computed here from `body` and added to them.
pub fn acs3_sign(
    method: &str,
    uri: &str,
    query: &[(String, String)],
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    secret: &str,
) -> Acs3 {
    let body_hash = hex::encode(Sha256::digest(body));
    headers.retain(|(k, _)| k != "x-acs-content-sha256");
    headers.push(("x-acs-content-sha256".into(), body_hash.clone()));
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| k == "host" || k == "content-type" || k.starts_with("x-acs-"))
        .collect();
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{method}\n{uri}\n{}\n{canonical_headers}\n{signed_headers}\n{body_hash}",
        sorted_query(query)
    );
    let sts = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(sts.as_bytes());
    Acs3 {
        canonical_request,
        signed_headers,
        signature: hex::encode(mac.finalize().into_bytes()),
    }
}

/// Aliyun Dysms settings.
#[derive(Clone)]
pub struct AliyunConfig {
    /// AccessKey ID.
    pub access_key_id: String,
    /// AccessKey secret.
    pub access_key_secret: Zeroizing<String>,
    /// 签名名称, approved in the console (without 【】).
    pub sign_name: String,
    /// Our template name → Aliyun `TemplateCode`.
    pub templates: Vec<(String, String)>,
    /// Endpoint (`https://dysmsapi.aliyuncs.com`, or a local fake in tests).
    pub endpoint: String,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for AliyunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliyunConfig")
            .field("access_key_id", &self.access_key_id)
            .field("sign_name", &self.sign_name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AliyunConfig {
    /// Reads `SEALDESK_SMS_ALIYUN_*`: `ACCESS_KEY_ID`, `ACCESS_KEY_SECRET` (or `_FILE`), `SIGN_NAME`,
    /// `TEMPLATES` (`login_code=SMS_1,submitted=SMS_2,…`), optional `ENDPOINT`. `Ok(None)` when none is set.
    pub fn from_lookup(get: Lookup<'_>) -> Result<Option<AliyunConfig>, PayError> {
        const P: &str = "SEALDESK_SMS_ALIYUN_";
        if !any_set(
            get,
            &[
                "SEALDESK_SMS_ALIYUN_ACCESS_KEY_ID",
                "SEALDESK_SMS_ALIYUN_ACCESS_KEY_SECRET",
            ],
        ) {
            return Ok(None);
        }
        let s = |n: &str| setting(get, &format!("{P}{n}"));
        let mut templates = Vec::new();
        for pair in s("TEMPLATES")?
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (ours, code) = pair.split_once('=').ok_or_else(|| {
                PayError::Config(format!("{P}TEMPLATES: {pair:?} is not name=SMS_code"))
            })?;
            templates.push((ours.trim().to_owned(), code.trim().to_owned()));
        }
        Ok(Some(AliyunConfig {
            access_key_id: s("ACCESS_KEY_ID")?,
            access_key_secret: Zeroizing::new(s("ACCESS_KEY_SECRET")?),
            sign_name: s("SIGN_NAME")?,
            templates,
            endpoint: get("SEALDESK_SMS_ALIYUN_ENDPOINT")
                .unwrap_or_else(|| "https://dysmsapi.aliyuncs.com".into()),
            timeout: Duration::from_secs(10),
        }))
    }
}

/// The Aliyun provider.
pub struct AliyunSms {
    cfg: AliyunConfig,
    client: reqwest::Client,
}

impl AliyunSms {
    /// A provider for `cfg`.
    pub fn new(cfg: AliyunConfig) -> Result<AliyunSms, PayError> {
        let client = http::client(cfg.timeout).map_err(PayError::Config)?;
        Ok(AliyunSms { cfg, client })
    }

    /// The query parameters of `SendSms` for `msg`.
    pub fn send_params(&self, msg: &SmsMessage) -> Result<Vec<(String, String)>, SmsError> {
        let code = self
            .cfg
            .templates
            .iter()
            .find(|(ours, _)| *ours == msg.template)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| SmsError::Config(format!("no Aliyun template for {}", msg.template)))?;
        let vars: serde_json::Map<String, serde_json::Value> = msg
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut p = vec![
            ("PhoneNumbers".to_owned(), msg.mobile.clone()),
            ("SignName".to_owned(), self.cfg.sign_name.clone()),
            ("TemplateCode".to_owned(), code),
            (
                "TemplateParam".to_owned(),
                serde_json::Value::Object(vars).to_string(),
            ),
        ];
        if !msg.out_id.is_empty() {
            p.push(("OutId".to_owned(), msg.out_id.clone()));
        }
        Ok(p)
    }
}

fn host_of(url: &str) -> Result<String, SmsError> {
    let u =
        reqwest::Url::parse(url).map_err(|e| SmsError::Config(format!("endpoint {url}: {e}")))?;
    let host = u
        .host_str()
        .ok_or_else(|| SmsError::Config(format!("endpoint {url} has no host")))?;
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

fn transient_or(answer: &Answer) -> Option<SmsError> {
    (answer.status >= 500 || answer.status == 429)
        .then(|| SmsError::Transient(format!("HTTP {}", answer.status)))
}

impl SmsProvider for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> BoxFuture<'a, Result<SmsReceipt, SmsError>> {
        Box::pin(async move {
            let query = self.send_params(msg)?;
            let mut headers = vec![
                ("host".to_owned(), host_of(&self.cfg.endpoint)?),
                ("x-acs-action".to_owned(), "SendSms".to_owned()),
                ("x-acs-version".to_owned(), "2017-05-25".to_owned()),
                (
                    "x-acs-date".to_owned(),
                    sealdesk_domain::Timestamp(http::now_unix()).rfc3339(),
                ),
                ("x-acs-signature-nonce".to_owned(), http::nonce()),
            ];
            let sig = acs3_sign(
                "POST",
                "/",
                &query,
                &mut headers,
                b"",
                &self.cfg.access_key_secret,
            );
            let url = format!(
                "{}/?{}",
                self.cfg.endpoint.trim_end_matches('/'),
                sorted_query(&query)
            );
            let mut req = self.client.post(url).header(
                "authorization",
                format!(
                    "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={}",
                    self.cfg.access_key_id, sig.signed_headers, sig.signature
                ),
            );
            // reqwest sets Host itself from the URL, which is the value signed above.
            for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                req = req.header(k, v);
            }
            let answer = http::send(req).await.map_err(SmsError::Transient)?;
            if let Some(e) = transient_or(&answer) {
                return Err(e);
            }
            let v: serde_json::Value = serde_json::from_slice(&answer.body)
                .map_err(|_| SmsError::Transient(format!("HTTP {}: not JSON", answer.status)))?;
            let code = v["Code"].as_str().unwrap_or("").to_owned();
            if code == "OK" {
                return Ok(SmsReceipt {
                    gateway_id: v["BizId"].as_str().unwrap_or("").to_owned(),
                });
            }
            let message = v["Message"].as_str().unwrap_or("").to_owned();
            // Flow control refuses this minute, not this message.
            if code.starts_with("Throttling") || code == "isv.BUSINESS_LIMIT_CONTROL" {
                return Err(SmsError::Transient(format!("{code} {message}")));
            }
            Err(SmsError::Refused { code, message })
        })
    }
}

/// Settings of the generic HTTP provider.
#[derive(Clone)]
pub struct HttpSmsConfig {
    /// Where to POST.
    pub url: String,
    /// The shared HMAC secret.
    pub secret: Zeroizing<String>,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

impl HttpSmsConfig {
    /// Reads `SEALDESK_SMS_HTTP_URL` and `SEALDESK_SMS_HTTP_SECRET` (or `_FILE`). `Ok(None)` when unset.
    pub fn from_lookup(get: Lookup<'_>) -> Result<Option<HttpSmsConfig>, PayError> {
        if !any_set(get, &["SEALDESK_SMS_HTTP_URL"]) {
            return Ok(None);
        }
        Ok(Some(HttpSmsConfig {
            url: setting(get, "SEALDESK_SMS_HTTP_URL")?,
            secret: Zeroizing::new(setting(get, "SEALDESK_SMS_HTTP_SECRET")?),
            timeout: Duration::from_secs(10),
        }))
    }
}

/// The generic HTTP provider's signature: hex HMAC-SHA256 under the shared secret of `TS\nNONCE\nBODY\n`, sent as
/// `X-Sealdesk-Signature` beside `X-Sealdesk-Timestamp` and `X-Sealdesk-Nonce`. The body is JSON
/// `{"mobile","template","params":{…},"text","out_id"}`; any 2xx is acceptance, `{"id":…}` optional.
pub fn http_signature(secret: &str, ts: i64, nonce: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{ts}\n{nonce}\n").as_bytes());
    mac.update(body);
    mac.update(b"\n");
    hex::encode(mac.finalize().into_bytes())
}

/// The generic HTTP provider.
pub struct HttpSms {
    cfg: HttpSmsConfig,
    client: reqwest::Client,
}

impl HttpSms {
    /// A provider for `cfg`.
    pub fn new(cfg: HttpSmsConfig) -> Result<HttpSms, PayError> {
        let client = http::client(cfg.timeout).map_err(PayError::Config)?;
        Ok(HttpSms { cfg, client })
    }
}

impl SmsProvider for HttpSms {
    fn name(&self) -> &'static str {
        "http"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> BoxFuture<'a, Result<SmsReceipt, SmsError>> {
        Box::pin(async move {
            let params: serde_json::Map<String, serde_json::Value> = msg
                .params
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let body = serde_json::json!({
                "mobile": msg.mobile, "template": msg.template, "params": params,
                "text": msg.text, "out_id": msg.out_id,
            })
            .to_string();
            let ts = http::now_unix();
            let nonce = http::nonce();
            let sig = http_signature(&self.cfg.secret, ts, &nonce, body.as_bytes());
            let req = self
                .client
                .post(&self.cfg.url)
                .header("content-type", "application/json")
                .header("x-sealdesk-timestamp", ts.to_string())
                .header("x-sealdesk-nonce", nonce)
                .header("x-sealdesk-signature", sig)
                .body(body);
            let answer = http::send(req).await.map_err(SmsError::Transient)?;
            if let Some(e) = transient_or(&answer) {
                return Err(e);
            }
            if !(200..300).contains(&answer.status) {
                return Err(SmsError::Refused {
                    code: answer.status.to_string(),
                    message: String::from_utf8_lossy(&answer.body)
                        .chars()
                        .take(200)
                        .collect(),
                });
            }
            let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            Ok(SmsReceipt {
                gateway_id: v["id"].as_str().unwrap_or("").to_owned(),
            })
        })
    }
}
