//! 支付宝 open platform (`gateway.do`): 电脑网站支付 `alipay.trade.page.pay`, 当面付 `alipay.trade.precreate`,
//! `alipay.trade.query`, `alipay.trade.refund`, and the asynchronous notification.
//!
//! Signing (RSA2): every request parameter except `sign`, empty values dropped, `sign_type` kept, sorted by key,
//! joined as raw `k=v` with `&`, SHA256withRSA with the app private key, base64. Synchronous answers are verified
//! over the exact text of their `…_response` member; notifications over their sorted parameters without `sign`
//! and `sign_type`, with the Alipay public key (never the app's own).

use crate::http::{self, Answer};
use crate::rsakey::{RsaPrivate, RsaPublic};
use crate::{
    BoxFuture, Channel, Checkout, Lookup, NotifyForm, NotifyReply, PayError, PayMode, PayRequest,
    PaymentProvider, RefundRequest, RefundResult, Trade, TradeStatus, any_set, setting,
};
use sealdesk_domain::{Fen, Timestamp};
use serde::Serialize;
use std::time::Duration;

/// The production gateway.
pub const GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// A notification body larger than this is refused unread (real ones are about 1 KB).
const MAX_NOTIFY: usize = 16 * 1024;

/// One Alipay merchant app.
#[derive(Debug, Clone)]
pub struct AlipayConfig {
    /// `app_id`.
    pub app_id: String,
    /// The gateway URL (production, sandbox, or a local fake in tests).
    pub gateway: String,
    /// 应用私钥.
    pub app_key: RsaPrivate,
    /// 支付宝公钥.
    pub alipay_key: RsaPublic,
    /// The merchant's PID; when set, notifications naming another `seller_id` are refused.
    pub seller_id: Option<String>,
    /// Where Alipay posts notifications.
    pub notify_url: String,
    /// Where page pay returns the browser.
    pub return_url: String,
    /// Whole-exchange timeout.
    pub timeout: Duration,
}

impl AlipayConfig {
    /// Reads `SEALDESK_ALIPAY_*`: `APP_ID`, `PRIVATE_KEY` (or `PRIVATE_KEY_FILE`), `PUBLIC_KEY` (or
    /// `PUBLIC_KEY_FILE`, the Alipay public key), `NOTIFY_URL`, `RETURN_URL`, optional `GATEWAY` and `SELLER_ID`.
    /// `Ok(None)` when none is set (the channel is simply off).
    pub fn from_lookup(get: Lookup<'_>) -> Result<Option<AlipayConfig>, PayError> {
        const P: &str = "SEALDESK_ALIPAY_";
        if !any_set(
            get,
            &["SEALDESK_ALIPAY_APP_ID", "SEALDESK_ALIPAY_PRIVATE_KEY"],
        ) {
            return Ok(None);
        }
        let s = |n: &str| setting(get, &format!("{P}{n}"));
        fn key_err(n: &'static str) -> impl Fn(crate::rsakey::KeyError) -> PayError {
            move |e| PayError::Config(format!("{P}{n}: {e}"))
        }
        Ok(Some(AlipayConfig {
            app_id: s("APP_ID")?,
            gateway: get("SEALDESK_ALIPAY_GATEWAY").unwrap_or_else(|| GATEWAY.into()),
            app_key: RsaPrivate::from_pem(&s("PRIVATE_KEY")?).map_err(key_err("PRIVATE_KEY"))?,
            alipay_key: RsaPublic::from_pem(&s("PUBLIC_KEY")?).map_err(key_err("PUBLIC_KEY"))?,
            seller_id: get("SEALDESK_ALIPAY_SELLER_ID"),
            notify_url: s("NOTIFY_URL")?,
            return_url: s("RETURN_URL")?,
            timeout: Duration::from_secs(10),
        }))
    }
}

/// The string Alipay signs for a request: all parameters but `sign`, non-empty, sorted, raw `k=v&…`.
pub fn request_signing_content(params: &[(String, String)]) -> String {
    sorted_content(params, &["sign"])
}

/// The string Alipay signed in a notification: all parameters but `sign` and `sign_type`, sorted.
pub fn notify_signing_content(params: &[(String, String)]) -> String {
    sorted_content(params, &["sign", "sign_type"])
}

fn sorted_content(params: &[(String, String)], skip: &[&str]) -> String {
    let mut p: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_empty())
        .collect();
    p.sort();
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The exact text of the top-level member `key`'s object value in `json`, as the gateway sent it (Alipay signs
/// those bytes; re-serialising would change them). `None` if absent or not an object.
pub fn raw_member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let b = json.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // Walk the top-level object; at depth 1 a string followed by ':' is a member name.
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_end(b, i)?;
                if depth == 1 && &json[i + 1..end] == key {
                    let mut j = end + 1;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b.get(j) == Some(&b':') {
                        j += 1;
                        while j < b.len() && b[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        if b.get(j) != Some(&b'{') {
                            return None;
                        }
                        let close = object_end(b, j)?;
                        return Some(&json[j..=close]);
                    }
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Index of the quote closing the string that opens at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Index of the brace closing the object that opens at `start`.
fn object_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Serialize)]
struct PayBiz<'a> {
    out_trade_no: &'a str,
    total_amount: String,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<&'static str>,
}

#[derive(Serialize)]
struct QueryBiz<'a> {
    out_trade_no: &'a str,
}

#[derive(Serialize)]
struct RefundBiz<'a> {
    out_trade_no: &'a str,
    refund_amount: String,
    out_request_no: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    refund_reason: &'a str,
}

/// The Alipay adapter.
pub struct Alipay {
    cfg: AlipayConfig,
    client: reqwest::Client,
}

impl Alipay {
    /// An adapter for `cfg`.
    pub fn new(cfg: AlipayConfig) -> Result<Alipay, PayError> {
        let client = http::client(cfg.timeout).map_err(PayError::Config)?;
        Ok(Alipay { cfg, client })
    }

    /// The configuration.
    pub fn config(&self) -> &AlipayConfig {
        &self.cfg
    }

    /// Every parameter of a call to `method`, signed, at `timestamp` (Beijing time `yyyy-MM-dd HH:mm:ss`).
    pub fn signed_params(
        &self,
        method: &str,
        biz_content: &str,
        timestamp: &str,
    ) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("app_id", self.cfg.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", timestamp),
            ("version", "1.0"),
            ("biz_content", biz_content),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if method == "alipay.trade.page.pay" || method == "alipay.trade.precreate" {
            p.push(("notify_url".into(), self.cfg.notify_url.clone()));
        }
        if method == "alipay.trade.page.pay" {
            p.push(("return_url".into(), self.cfg.return_url.clone()));
        }
        let sign = self
            .cfg
            .app_key
            .sign_b64(request_signing_content(&p).as_bytes());
        p.push(("sign".into(), sign));
        p
    }

    /// The cashier URL for 电脑网站支付: the gateway with every signed parameter URL-encoded, for a GET redirect.
    pub fn page_pay_url(&self, req: &PayRequest, timestamp: &str) -> Result<String, PayError> {
        let biz = biz_json(&PayBiz {
            out_trade_no: &req.out_trade_no,
            total_amount: req.amount.yuan_string(),
            subject: &req.subject,
            product_code: Some("FAST_INSTANT_TRADE_PAY"),
        })?;
        let params = self.signed_params("alipay.trade.page.pay", &biz, timestamp);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Ok(format!("{}?{query}", self.cfg.gateway))
    }

    /// Calls `method` and returns its verified `…_response` object.
    async fn call(&self, method: &str, biz: &str) -> Result<serde_json::Value, PayError> {
        let params = self.signed_params(method, biz, &Timestamp(http::now_unix()).beijing());
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let req = self
            .client
            .post(&self.cfg.gateway)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(body);
        let answer = http::send(req).await.map_err(PayError::Transport)?;
        self.read_response(method, &answer)
    }

    /// Verifies and unpacks a synchronous answer to `method`.
    pub fn read_response(
        &self,
        method: &str,
        answer: &Answer,
    ) -> Result<serde_json::Value, PayError> {
        if answer.status >= 500 {
            return Err(PayError::Transport(format!("HTTP {}", answer.status)));
        }
        let text = std::str::from_utf8(&answer.body)
            .map_err(|_| PayError::Malformed("answer is not UTF-8".into()))?;
        let whole: serde_json::Value = serde_json::from_str(text).map_err(|_| {
            PayError::Malformed(format!("answer is not JSON (HTTP {})", answer.status))
        })?;
        let member = format!("{}_response", method.replace('.', "_"));
        let Some(raw) = raw_member(text, &member) else {
            // Gateway-level errors (bad app id, bad signature) come back unsigned as `error_response`.
            let e = &whole["error_response"];
            return Err(PayError::Gateway {
                code: field(e, "sub_code")
                    .or_else(|| field(e, "code"))
                    .unwrap_or_default(),
                message: field(e, "sub_msg")
                    .or_else(|| field(e, "msg"))
                    .unwrap_or_default(),
            });
        };
        let sign = whole["sign"]
            .as_str()
            .ok_or_else(|| PayError::Malformed("answer has no sign".into()))?;
        if !self.cfg.alipay_key.verify_b64(raw.as_bytes(), sign) {
            return Err(PayError::BadSignature);
        }
        let resp: serde_json::Value =
            serde_json::from_str(raw).map_err(|_| PayError::Malformed(member.clone()))?;
        if resp != whole[&member] {
            return Err(PayError::Malformed(format!("{member} appears twice")));
        }
        if field(&resp, "code").as_deref() != Some("10000") {
            return Err(PayError::Gateway {
                code: field(&resp, "sub_code")
                    .or_else(|| field(&resp, "code"))
                    .unwrap_or_default(),
                message: field(&resp, "sub_msg")
                    .or_else(|| field(&resp, "msg"))
                    .unwrap_or_default(),
            });
        }
        Ok(resp)
    }

    /// Verifies an asynchronous notification (the form-encoded POST body) and returns the trade it reports.
    pub fn verify_notify(&self, body: &[u8]) -> Result<Trade, PayError> {
        let form = NotifyForm::parse(body, MAX_NOTIFY)?;
        let params = form.params();
        let get = |k: &str| form.get(k);
        if get("sign_type")? != "RSA2" {
            return Err(PayError::Malformed("sign_type must be RSA2".into()));
        }
        let content = notify_signing_content(params);
        if !self
            .cfg
            .alipay_key
            .verify_b64(content.as_bytes(), get("sign")?)
        {
            return Err(PayError::BadSignature);
        }
        let app_id = get("app_id")?;
        if app_id != self.cfg.app_id {
            return Err(PayError::ForeignApp(app_id.into()));
        }
        if let Some(seller) = &self.cfg.seller_id
            && get("seller_id")? != seller
        {
            return Err(PayError::ForeignApp(format!(
                "seller {}",
                get("seller_id")?
            )));
        }
        Ok(Trade {
            channel: Channel::Alipay,
            out_trade_no: get("out_trade_no")?.to_owned(),
            gateway_txn: get("trade_no")?.to_owned(),
            amount: Fen::parse_yuan(get("total_amount")?)
                .ok_or_else(|| PayError::Malformed("total_amount".into()))?,
            app_id: app_id.to_owned(),
            status: status(get("trade_status")?)?,
        })
    }
}

fn biz_json<T: Serialize>(biz: &T) -> Result<String, PayError> {
    serde_json::to_string(biz).map_err(|e| PayError::Invalid(e.to_string()))
}

fn field(v: &serde_json::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_owned)
}

/// The answer to an Alipay-style notification: Alipay stops retrying only on the exact 7-byte body `success`.
pub fn reply(accepted: bool) -> NotifyReply {
    NotifyReply {
        status: 200,
        content_type: "text/plain",
        body: if accepted { "success" } else { "failure" },
    }
}

/// An Alipay-style `trade_status` (the sandbox uses the same words).
pub fn status(s: &str) -> Result<TradeStatus, PayError> {
    Ok(match s {
        "WAIT_BUYER_PAY" => TradeStatus::Pending,
        "TRADE_SUCCESS" | "TRADE_FINISHED" => TradeStatus::Paid,
        "TRADE_CLOSED" => TradeStatus::Closed,
        other => return Err(PayError::Malformed(format!("trade_status {other}"))),
    })
}

impl PaymentProvider for Alipay {
    fn channel(&self) -> Channel {
        Channel::Alipay
    }

    fn app_id(&self) -> &str {
        &self.cfg.app_id
    }

    fn start<'a>(&'a self, req: &'a PayRequest) -> BoxFuture<'a, Result<Checkout, PayError>> {
        Box::pin(async move {
            req.check()?;
            match req.mode {
                PayMode::Page => Ok(Checkout::Redirect(
                    self.page_pay_url(req, &Timestamp(http::now_unix()).beijing())?,
                )),
                PayMode::Qr => {
                    let biz = biz_json(&PayBiz {
                        out_trade_no: &req.out_trade_no,
                        total_amount: req.amount.yuan_string(),
                        subject: &req.subject,
                        product_code: None,
                    })?;
                    let resp = self.call("alipay.trade.precreate", &biz).await?;
                    if field(&resp, "out_trade_no").as_deref() != Some(req.out_trade_no.as_str()) {
                        return Err(PayError::Malformed(
                            "precreate answered another trade".into(),
                        ));
                    }
                    field(&resp, "qr_code")
                        .map(Checkout::QrCode)
                        .ok_or_else(|| PayError::Malformed("precreate without qr_code".into()))
                }
            }
        })
    }

    fn verify_notification(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        _now_unix: i64,
    ) -> Result<Trade, PayError> {
        self.verify_notify(body)
    }

    fn notification_reply(&self, accepted: bool) -> NotifyReply {
        reply(accepted)
    }

    fn query<'a>(
        &'a self,
        out_trade_no: &'a str,
    ) -> BoxFuture<'a, Result<Option<Trade>, PayError>> {
        Box::pin(async move {
            let biz = biz_json(&QueryBiz { out_trade_no })?;
            let resp = match self.call("alipay.trade.query", &biz).await {
                Err(PayError::Gateway { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => {
                    return Ok(None);
                }
                r => r?,
            };
            if field(&resp, "out_trade_no").as_deref() != Some(out_trade_no) {
                return Err(PayError::Malformed("query answered another trade".into()));
            }
            Ok(Some(Trade {
                channel: Channel::Alipay,
                out_trade_no: out_trade_no.to_owned(),
                gateway_txn: field(&resp, "trade_no").unwrap_or_default(),
                amount: field(&resp, "total_amount")
                    .and_then(|a| Fen::parse_yuan(&a))
                    .ok_or_else(|| PayError::Malformed("total_amount".into()))?,
                app_id: self.cfg.app_id.clone(),
                status: status(&field(&resp, "trade_status").unwrap_or_default())?,
            }))
        })
    }

    fn refund<'a>(
        &'a self,
        req: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundResult, PayError>> {
        Box::pin(async move {
            req.check()?;
            let biz = biz_json(&RefundBiz {
                out_trade_no: &req.out_trade_no,
                refund_amount: req.refund.yuan_string(),
                out_request_no: &req.out_refund_no,
                refund_reason: &req.reason,
            })?;
            let resp = self.call("alipay.trade.refund", &biz).await?;
            Ok(RefundResult {
                gateway_refund: field(&resp, "trade_no").unwrap_or_default(),
                amount: field(&resp, "refund_fee")
                    .and_then(|a| Fen::parse_yuan(&a))
                    .ok_or_else(|| PayError::Malformed("refund_fee".into()))?,
                done: true,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_members_are_cut_exactly() {
        let t = r#"{"a_response":{"code":"10000","s":"x}\"{","n":{"k":[1,{"z":2}]}},"sign":"abc"}"#;
        assert_eq!(
            raw_member(t, "a_response"),
            Some(r#"{"code":"10000","s":"x}\"{","n":{"k":[1,{"z":2}]}}"#)
        );
        assert_eq!(raw_member(t, "sign"), None);
        assert_eq!(raw_member(t, "k"), None);
        assert_eq!(
            raw_member(r#"{"x":"a_response","a_response" : {}}"#, "a_response"),
            Some("{}")
        );
        assert_eq!(raw_member(r#"{"a_response":{"#, "a_response"), None);
    }
}
