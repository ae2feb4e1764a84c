//! Local fakes of the gateways, for tests here and in the crates above (feature `testkit`). Each checks
//! requests the way the real gateway documents it — Alipay's RSA2 over the sorted parameters, WeChat Pay's
//! Authorization header over the exact request, Aliyun's ACS3 canonical request, nonce reuse and clock skew — and
//! signs its answers as the real one does. They are written from the documents, not from the adapters' code, so a
//! mistake on either side shows.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod smtp;

use crate::rsakey::{RsaPrivate, RsaPublic};
use crate::sms::percent_encode;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// Serves `app` on an ephemeral 127.0.0.1 port; returns `http://127.0.0.1:PORT`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn now() -> i64 {
    crate::http::now_unix()
}

// ---- Alipay ----

/// A trade the fake Alipay knows.
#[derive(Clone, Debug)]
pub struct FakeTrade {
    /// `total_amount`.
    pub amount: String,
    /// `trade_status`.
    pub status: &'static str,
    /// `trade_no`.
    pub trade_no: String,
}

/// A fake `gateway.do`.
pub struct AlipayFake {
    app_id: String,
    app_public: RsaPublic,
    key: RsaPrivate,
    /// Trades by `out_trade_no`.
    pub trades: Mutex<HashMap<String, FakeTrade>>,
    /// When non-zero, every call answers this HTTP status.
    pub fail_with: AtomicU16,
    /// Sign answers with the wrong bytes (a tampered answer).
    pub corrupt: Mutex<bool>,
}

impl AlipayFake {
    /// A fake for app `app_id` whose requests `app_public` verifies, answering signed with `key`.
    pub fn new(app_id: &str, app_public: RsaPublic, key: RsaPrivate) -> Arc<AlipayFake> {
        Arc::new(AlipayFake {
            app_id: app_id.into(),
            app_public,
            key,
            trades: Mutex::new(HashMap::new()),
            fail_with: AtomicU16::new(0),
            corrupt: Mutex::new(false),
        })
    }

    /// Serves the fake on 127.0.0.1; returns the gateway URL (`…/gateway.do`).
    pub async fn start(self: &Arc<Self>) -> String {
        let url = serve(
            Router::new()
                .route("/gateway.do", any(alipay_gateway))
                .with_state(self.clone()),
        )
        .await;
        format!("{url}/gateway.do")
    }

    /// Alipay's own rule, written out again here: all but `sign`, non-empty, sorted, raw `k=v&…`.
    fn content(params: &HashMap<String, String>) -> String {
        let mut keys: Vec<&String> = params.keys().filter(|k| *k != "sign").collect();
        keys.sort();
        keys.iter()
            .filter(|k| !params[**k].is_empty())
            .map(|k| format!("{k}={}", params[*k]))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn answer(&self, method: &str, resp: serde_json::Value) -> Response {
        let text = resp.to_string();
        let signed = if *self.corrupt.lock().unwrap() {
            format!("{text} ")
        } else {
            text.clone()
        };
        let sig = self.key.sign_b64(signed.as_bytes());
        let member = format!("{}_response", method.replace('.', "_"));
        (
            [("content-type", "application/json;charset=utf-8")],
            format!(r#"{{"{member}":{text},"sign":"{sig}"}}"#),
        )
            .into_response()
    }

    /// The buyer scans and pays: the trade is paid and the notification Alipay would post is returned.
    pub fn pay(&self, no: &str) -> String {
        let mut trades = self.trades.lock().unwrap();
        let t = trades.get_mut(no).unwrap();
        t.status = "TRADE_SUCCESS";
        let mut p: HashMap<String, String> = [
            ("app_id", self.app_id.as_str()),
            ("out_trade_no", no),
            ("trade_no", &t.trade_no),
            ("total_amount", &t.amount),
            ("trade_status", "TRADE_SUCCESS"),
            ("notify_type", "trade_status_sync"),
            ("notify_time", "2026-01-05 10:01:11"),
            ("seller_id", "2088000000000002"),
            ("subject", "电子印章申请-技术服务费"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sig = self.key.sign_b64(Self::content(&p).as_bytes());
        p.insert("sign".into(), sig);
        p.insert("sign_type".into(), "RSA2".into());
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p)
            .finish()
    }
}

async fn alipay_gateway(
    State(f): State<Arc<AlipayFake>>,
    method: Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let fail = f.fail_with.load(Ordering::SeqCst);
    if fail != 0 {
        return (StatusCode::from_u16(fail).unwrap(), "busy").into_response();
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .chain(form_urlencoded::parse(&body))
    {
        params.insert(k.into_owned(), v.into_owned());
    }
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let unsigned_error = |code: &str, sub: &str| {
        ([("content-type", "application/json")], serde_json::json!({"error_response": {"code": code, "msg": "Invalid Arguments", "sub_code": sub, "sub_msg": "错误"}}).to_string()).into_response()
    };
    if p("app_id") != f.app_id {
        return unsigned_error("40002", "isv.invalid-app-id");
    }
    if p("sign_type") != "RSA2"
        || !f
            .app_public
            .verify_b64(AlipayFake::content(&params).as_bytes(), &p("sign"))
    {
        return unsigned_error("40002", "isv.invalid-signature");
    }
    for (k, v) in [("format", "JSON"), ("charset", "utf-8"), ("version", "1.0")] {
        if p(k) != v {
            return unsigned_error("40002", "isv.invalid-parameter");
        }
    }
    let biz: serde_json::Value = serde_json::from_str(&p("biz_content")).unwrap_or_default();
    let no = biz["out_trade_no"].as_str().unwrap_or("").to_owned();
    let m = p("method");
    let mut trades = f.trades.lock().unwrap();
    match (method, m.as_str()) {
        (Method::GET, "alipay.trade.page.pay") => {
            trades.insert(
                no.clone(),
                FakeTrade {
                    amount: biz["total_amount"].as_str().unwrap().into(),
                    status: "WAIT_BUYER_PAY",
                    trade_no: format!("2026{no}"),
                },
            );
            "<html>收银台</html>".into_response()
        }
        (Method::POST, "alipay.trade.precreate") => {
            trades.insert(
                no.clone(),
                FakeTrade {
                    amount: biz["total_amount"].as_str().unwrap().into(),
                    status: "WAIT_BUYER_PAY",
                    trade_no: format!("2026{no}"),
                },
            );
            drop(trades);
            f.answer(&m, serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": format!("https://qr.alipay.com/fake{no}")}))
        }
        (Method::POST, "alipay.trade.query") => match trades.get(&no).cloned() {
            None => {
                drop(trades);
                f.answer(&m, serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}))
            }
            Some(t) => {
                drop(trades);
                f.answer(&m, serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": t.trade_no, "total_amount": t.amount, "trade_status": t.status}))
            }
        },
        (Method::POST, "alipay.trade.refund") => {
            let paid = trades.get(&no).is_some_and(|t| t.status == "TRADE_SUCCESS");
            if !paid {
                drop(trades);
                return f.answer(&m, serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"}));
            }
            let t = trades.get_mut(&no).unwrap();
            t.status = "TRADE_CLOSED";
            let trade_no = t.trade_no.clone();
            drop(trades);
            f.answer(&m, serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": trade_no, "refund_fee": biz["refund_amount"], "fund_change": "Y"}))
        }
        _ => unsigned_error("40002", "isv.invalid-method"),
    }
}

// ---- WeChat Pay ----

/// A fake WeChat Pay API v3 host.
pub struct WechatFake {
    mchid: String,
    appid: String,
    mch_serial: String,
    mch_public: RsaPublic,
    key: RsaPrivate,
    serial: String,
    apiv3: Vec<u8>,
    /// Trades by `out_trade_no`: (total fen, trade_state, transaction_id).
    pub trades: Mutex<HashMap<String, (i64, &'static str, String)>>,
}

/// Who the fake WeChat Pay serves.
pub struct WechatMerchant {
    /// 商户号.
    pub mchid: String,
    /// appid.
    pub appid: String,
    /// The merchant API certificate serial.
    pub mch_serial: String,
    /// The merchant's public key (verifies requests).
    pub mch_public: RsaPublic,
    /// The APIv3 key.
    pub apiv3: Vec<u8>,
}

impl WechatFake {
    /// A fake for `m` that signs with `key` under `serial` (a `PUB_KEY_ID_…` or a certificate serial).
    pub fn new(m: WechatMerchant, key: RsaPrivate, serial: &str) -> Arc<WechatFake> {
        Arc::new(WechatFake {
            mchid: m.mchid,
            appid: m.appid,
            mch_serial: m.mch_serial,
            mch_public: m.mch_public,
            key,
            serial: serial.into(),
            apiv3: m.apiv3,
            trades: Mutex::new(HashMap::new()),
        })
    }

    /// Serves the fake on 127.0.0.1; returns its base URL.
    pub async fn start(self: &Arc<Self>) -> String {
        serve(Router::new().fallback(wechat_api).with_state(self.clone())).await
    }

    fn signed(&self, status: StatusCode, body: String) -> Response {
        let ts = now().to_string();
        let nonce = "FAKENONCE0123456789";
        let sig = self
            .key
            .sign_b64(format!("{ts}\n{nonce}\n{body}\n").as_bytes());
        (
            status,
            [
                ("content-type", "application/json".to_owned()),
                ("wechatpay-timestamp", ts),
                ("wechatpay-nonce", nonce.to_owned()),
                ("wechatpay-signature", sig),
                ("wechatpay-serial", self.serial.clone()),
                (
                    "wechatpay-signature-type",
                    "WECHATPAY2-SHA256-RSA2048".to_owned(),
                ),
            ],
            body,
        )
            .into_response()
    }

    /// WeChat's check of the Authorization header, over the request exactly as received.
    fn authorized(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some(fields) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
            return false;
        };
        let mut f = HashMap::new();
        for part in fields.split(',') {
            let Some((k, v)) = part.split_once('=') else {
                return false;
            };
            f.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let ts: i64 = get("timestamp").parse().unwrap_or(0);
        if get("mchid") != self.mchid
            || get("serial_no") != self.mch_serial
            || (now() - ts).abs() > 300
        {
            return false;
        }
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut msg = format!("{method}\n{path}\n{ts}\n{}\n", get("nonce_str")).into_bytes();
        msg.extend_from_slice(body);
        msg.push(b'\n');
        self.mch_public.verify_b64(&msg, &get("signature"))
    }

    /// The buyer pays: WeChat's notification, encrypted and signed (`ts` lets a test send a stale one).
    pub fn pay(&self, no: &str, ts: i64, appid: &str) -> (Vec<(String, String)>, Vec<u8>) {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let (total, _, txn) = {
            let mut t = self.trades.lock().unwrap();
            let e = t.get_mut(no).unwrap();
            e.1 = "SUCCESS";
            e.clone()
        };
        let plain = serde_json::json!({"appid": appid, "mchid": self.mchid, "out_trade_no": no, "transaction_id": txn, "trade_state": "SUCCESS", "amount": {"total": total, "payer_total": total, "currency": "CNY"}}).to_string();
        let nonce = "0123456789ab";
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.apiv3).unwrap();
        let n = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::try_from(nonce.as_bytes())
            .unwrap();
        let ct = cipher
            .encrypt(
                &n,
                Payload {
                    msg: plain.as_bytes(),
                    aad: b"transaction",
                },
            )
            .unwrap();
        use base64::Engine;
        let body = serde_json::json!({"id": "EV-1", "create_time": "2026-01-05T10:01:11+08:00", "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功", "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": base64::engine::general_purpose::STANDARD.encode(ct), "associated_data": "transaction", "nonce": nonce}}).to_string();
        let sig = self
            .key
            .sign_b64(format!("{ts}\nCBNONCE\n{body}\n").as_bytes());
        let headers = vec![
            ("wechatpay-timestamp".into(), ts.to_string()),
            ("wechatpay-nonce".into(), "CBNONCE".into()),
            ("wechatpay-signature".into(), sig),
            ("wechatpay-serial".into(), self.serial.clone()),
            (
                "wechatpay-signature-type".into(),
                "WECHATPAY2-SHA256-RSA2048".into(),
            ),
        ];
        (headers, body.into_bytes())
    }
}

async fn wechat_api(
    State(f): State<Arc<WechatFake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !f.authorized(&method, &uri, &headers, &body) {
        return (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"code": "SIGN_ERROR", "message": "签名错误"}).to_string(),
        )
            .into_response();
    }
    let path = uri.path();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if method == Method::POST && path == "/v3/pay/transactions/native" {
        if v["mchid"] != f.mchid.as_str()
            || v["appid"] != f.appid.as_str()
            || v["amount"]["currency"] != "CNY"
        {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":"PARAM_ERROR","message":"参数错误"}"#,
            )
                .into_response();
        }
        let no = v["out_trade_no"].as_str().unwrap().to_owned();
        f.trades.lock().unwrap().insert(
            no.clone(),
            (
                v["amount"]["total"].as_i64().unwrap(),
                "NOTPAY",
                format!("4200{no}"),
            ),
        );
        return f.signed(
            StatusCode::OK,
            serde_json::json!({"code_url": format!("weixin://wxpay/bizpayurl?pr={no}")})
                .to_string(),
        );
    }
    if method == Method::GET
        && let Some(no) = path.strip_prefix("/v3/pay/transactions/out-trade-no/")
    {
        if uri.query() != Some(&format!("mchid={}", f.mchid)) {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":"PARAM_ERROR","message":"mchid"}"#,
            )
                .into_response();
        }
        let t = f.trades.lock().unwrap().get(no).cloned();
        return match t {
            None => f.signed(StatusCode::NOT_FOUND, r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#.into()),
            Some((total, state, txn)) => f.signed(StatusCode::OK, serde_json::json!({"appid": f.appid, "mchid": f.mchid, "out_trade_no": no, "transaction_id": txn, "trade_state": state, "amount": {"total": total, "currency": "CNY"}}).to_string()),
        };
    }
    if method == Method::POST && path == "/v3/refund/domestic/refunds" {
        let no = v["out_trade_no"].as_str().unwrap_or("");
        let mut trades = f.trades.lock().unwrap();
        let Some(t) = trades.get_mut(no).filter(|t| t.1 == "SUCCESS") else {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":"INVALID_REQUEST","message":"订单未支付"}"#,
            )
                .into_response();
        };
        if v["amount"]["total"].as_i64() != Some(t.0) {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"code":"PARAM_ERROR","message":"订单金额不符"}"#,
            )
                .into_response();
        }
        t.1 = "REFUND";
        drop(trades);
        return f.signed(StatusCode::OK, serde_json::json!({"refund_id": "50000000001", "out_refund_no": v["out_refund_no"], "status": "SUCCESS", "amount": {"refund": v["amount"]["refund"], "total": v["amount"]["total"]}}).to_string());
    }
    StatusCode::NOT_FOUND.into_response()
}

// ---- Aliyun SMS ----

/// A fake Dysms endpoint.
pub struct AliyunFake {
    key_id: String,
    secret: String,
    templates: HashSet<String>,
    nonces: Mutex<HashSet<String>>,
    /// The query parameters of every accepted `SendSms`.
    pub sent: Mutex<Vec<HashMap<String, String>>>,
    /// When non-zero, every call answers this HTTP status.
    pub fail_with: AtomicU16,
}

impl AliyunFake {
    /// A fake for AccessKey `key_id`/`secret` knowing `templates` (TemplateCode values).
    pub fn new(key_id: &str, secret: &str, templates: &[&str]) -> Arc<AliyunFake> {
        Arc::new(AliyunFake {
            key_id: key_id.into(),
            secret: secret.into(),
            templates: templates.iter().map(|t| (*t).to_owned()).collect(),
            nonces: Mutex::new(HashSet::new()),
            sent: Mutex::new(Vec::new()),
            fail_with: AtomicU16::new(0),
        })
    }

    /// Serves the fake on 127.0.0.1; returns the endpoint URL.
    pub async fn start(self: &Arc<Self>) -> String {
        serve(
            Router::new()
                .route("/", post(aliyun_api))
                .with_state(self.clone()),
        )
        .await
    }
}

async fn aliyun_api(
    State(f): State<Arc<AliyunFake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fail = f.fail_with.load(Ordering::SeqCst);
    if fail != 0 {
        return (StatusCode::from_u16(fail).unwrap(), "{}").into_response();
    }
    let refuse = |code: &str| {
        (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"Code": code, "Message": code}).to_string(),
        )
            .into_response()
    };
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    // Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…
    let Some(rest) = h("authorization")
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .map(str::to_owned)
    else {
        return refuse("IncompleteSignature");
    };
    let parts: HashMap<&str, &str> = rest.split(',').filter_map(|p| p.split_once('=')).collect();
    if parts.get("Credential") != Some(&f.key_id.as_str()) {
        return refuse("InvalidAccessKeyId.NotFound");
    }
    if h("x-acs-content-sha256") != hex::encode(Sha256::digest(&body)) {
        return refuse("ContentSHA256NotMatched");
    }
    let signed: Vec<&str> = parts
        .get("SignedHeaders")
        .unwrap_or(&"")
        .split(';')
        .collect();
    for must in [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if !signed.contains(&must) {
            return refuse("IncompleteSignature");
        }
    }
    // The canonical request, rebuilt from what arrived: decoded query re-encoded (RFC 3986) and sorted.
    let mut q: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (percent_encode(&k), percent_encode(&v)))
        .collect();
    q.sort();
    let cq = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let ch: String = signed
        .iter()
        .map(|n| format!("{n}:{}\n", h(n).trim()))
        .collect();
    let cr = format!(
        "{method}\n{}\n{cq}\n{ch}\n{}\n{}",
        uri.path(),
        signed.join(";"),
        hex::encode(Sha256::digest(&body))
    );
    let sts = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(cr.as_bytes()))
    );
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(f.secret.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let want = hex::encode(mac.finalize().into_bytes());
    use subtle::ConstantTimeEq;
    if !bool::from(
        want.as_bytes()
            .ct_eq(parts.get("Signature").unwrap_or(&"").as_bytes()),
    ) {
        return refuse("SignatureDoesNotMatch");
    }
    if h("x-acs-action") != "SendSms" || h("x-acs-version") != "2017-05-25" {
        return refuse("InvalidAction");
    }
    // Timestamps more than 15 minutes off, and reused nonces, are refused.
    let Some(ts) = sealdesk_domain::Timestamp::parse_rfc3339(&h("x-acs-date")) else {
        return refuse("InvalidTimeStamp.Format");
    };
    if (now() - ts.0).abs() > 900 {
        return refuse("InvalidTimeStamp.Expired");
    }
    if !f.nonces.lock().unwrap().insert(h("x-acs-signature-nonce")) {
        return refuse("SignatureNonceUsed");
    }
    let params: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    if p("PhoneNumbers").len() != 11 {
        return (
            StatusCode::OK,
            r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"}"#,
        )
            .into_response();
    }
    if !f.templates.contains(&p("TemplateCode"))
        || serde_json::from_str::<serde_json::Value>(&p("TemplateParam")).is_err()
    {
        return (
            StatusCode::OK,
            r#"{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"模板不合法"}"#,
        )
            .into_response();
    }
    f.sent.lock().unwrap().push(params);
    (StatusCode::OK, r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990"}"#).into_response()
}
