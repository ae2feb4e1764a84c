//! Each adapter against a local fake of its gateway (axum on 127.0.0.1, started by the test). The fakes check
//! what the real gateways document — Alipay's RSA2 over the sorted parameters, WeChat Pay's Authorization header
//! over the exact request, Aliyun's ACS3 canonical request, nonce reuse and clock skew — and sign their answers
//! the way the real ones do, so a mistake on either side fails here.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use sealdesk_domain::Fen;
use sealdesk_payments::alipay::{Alipay, AlipayConfig};
use sealdesk_payments::rsakey::RsaPrivate;
use sealdesk_payments::sms::{
    AliyunConfig, AliyunSms, HttpSms, HttpSmsConfig, SmsError, SmsMessage, SmsProvider,
};
use sealdesk_payments::testkit::{AlipayFake, AliyunFake, WechatFake, WechatMerchant, serve};
use sealdesk_payments::wechat::{Wechat, WechatConfig, platform_cert};
use sealdesk_payments::{
    Checkout, PayError, PayMode, PayRequest, PaymentProvider, RefundRequest, TradeStatus,
};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn testdata(name: &str) -> String {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The merchant's key (Alipay app key, WeChat merchant API key).
fn merchant_key() -> RsaPrivate {
    RsaPrivate::from_pem(&testdata("standards/test_rsa2048_private_pkcs8.pem")).unwrap()
}

/// The gateway's key (Alipay's key, WeChat Pay's platform key).
fn gateway_key() -> RsaPrivate {
    RsaPrivate::from_pem(&testdata("standards/wechatpay_go_testing_key.pem")).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn req(no: &str, fen: i64, mode: PayMode) -> PayRequest {
    PayRequest {
        out_trade_no: no.into(),
        amount: Fen(fen),
        subject: "电子印章申请-技术服务费".into(),
        mode,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Alipay

async fn alipay_pair() -> (Arc<AlipayFake>, Alipay) {
    let fake = AlipayFake::new("2021000000000000", merchant_key().public(), gateway_key());
    let gateway = fake.start().await;
    // The Alipay console shows its public key as bare base64 SPKI: configure it in that form, from a file.
    let dir = tempfile::tempdir().unwrap();
    let pubfile = dir.path().join("alipay_public.txt");
    let bare: String = gateway_public_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    std::fs::write(&pubfile, bare).unwrap();
    let pubfile = pubfile.to_str().unwrap().to_owned();
    let lookup = |name: &str| -> Option<String> {
        Some(match name {
            "SEALDESK_ALIPAY_APP_ID" => "2021000000000000".into(),
            "SEALDESK_ALIPAY_PRIVATE_KEY" => testdata("standards/test_rsa2048_private_pkcs8.pem"),
            "SEALDESK_ALIPAY_PUBLIC_KEY_FILE" => pubfile.clone(),
            "SEALDESK_ALIPAY_NOTIFY_URL" => "https://example.com/pay/alipay/notify".into(),
            "SEALDESK_ALIPAY_RETURN_URL" => "https://example.com/pay/done".into(),
            "SEALDESK_ALIPAY_SELLER_ID" => "2088000000000002".into(),
            "SEALDESK_ALIPAY_GATEWAY" => gateway.clone(),
            _ => return None,
        })
    };
    let cfg = AlipayConfig::from_lookup(&lookup).unwrap().unwrap();
    (fake, Alipay::new(cfg).unwrap())
}

/// The gateway's public key as SPKI PEM, made with the `openssl` command from the private key file.
fn gateway_public_pem() -> String {
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(format!(
            "{}/../../testdata/standards/wechatpay_go_testing_key.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn alipay_qr_pay_notify_query_refund_against_the_fake() {
    let (fake, alipay) = alipay_pair().await;
    let no = "P1000000000000000001";
    // Not created yet: the gateway does not know it.
    assert_eq!(alipay.query(no).await, Ok(None));

    let Checkout::QrCode(qr) = alipay.start(&req(no, 8_000, PayMode::Qr)).await.unwrap() else {
        panic!()
    };
    assert_eq!(qr, format!("https://qr.alipay.com/fake{no}"));
    let t = alipay.query(no).await.unwrap().unwrap();
    assert_eq!((t.status, t.amount), (TradeStatus::Pending, Fen(8_000)));

    let body = fake.pay(no);
    let t = alipay
        .verify_notification(&[], body.as_bytes(), now())
        .unwrap();
    assert_eq!(
        (t.out_trade_no.as_str(), t.amount, &t.status),
        (no, Fen(8_000), &TradeStatus::Paid)
    );
    assert_eq!(t.gateway_txn, format!("2026{no}"));
    assert_eq!(
        alipay.query(no).await.unwrap().unwrap().status,
        TradeStatus::Paid
    );

    let refund = RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: "R1".into(),
        refund: Fen(8_000),
        total: Fen(8_000),
        reason: "订单已取消".into(),
    };
    let r = alipay.refund(&refund).await.unwrap();
    assert_eq!((r.amount, r.done), (Fen(8_000), true));
    assert_eq!(
        alipay.query(no).await.unwrap().unwrap().status,
        TradeStatus::Closed
    );
    // A second refund of a closed trade is the gateway's business error, reported as such.
    assert_eq!(
        alipay.refund(&refund).await,
        Err(PayError::Gateway {
            code: "ACQ.TRADE_STATUS_ERROR".into(),
            message: "交易状态不合法".into()
        })
    );
}

#[tokio::test]
async fn alipay_page_pay_url_is_accepted_by_the_fake_cashier() {
    let (fake, alipay) = alipay_pair().await;
    let Checkout::Redirect(url) = alipay
        .start(&req("P1000000000000000002", 16_000, PayMode::Page))
        .await
        .unwrap()
    else {
        panic!()
    };
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "<html>收银台</html>");
    assert_eq!(
        fake.trades.lock().unwrap()["P1000000000000000002"].amount,
        "160.00"
    );
    // One changed character in the signed URL and the cashier refuses it.
    let forged = url.replace("160.00", "1.00");
    let text = reqwest::get(&forged).await.unwrap().text().await.unwrap();
    assert!(text.contains("isv.invalid-signature"), "{text}");
}

#[tokio::test]
async fn alipay_failures_are_typed_and_nothing_is_trusted() {
    let (fake, alipay) = alipay_pair().await;
    fake.fail_with.store(502, Ordering::SeqCst);
    let e = alipay.query("P1000000000000000003").await.unwrap_err();
    assert_eq!(e, PayError::Transport("HTTP 502".into()));
    assert!(e.is_retryable());
    fake.fail_with.store(0, Ordering::SeqCst);

    *fake.corrupt.lock().unwrap() = true;
    assert_eq!(
        alipay
            .start(&req("P1000000000000000003", 100, PayMode::Qr))
            .await,
        Err(PayError::BadSignature)
    );
    *fake.corrupt.lock().unwrap() = false;

    // Bad requests never leave the process.
    assert!(matches!(
        alipay.start(&req("P1", 100, PayMode::Qr)).await,
        Err(PayError::Invalid(_))
    ));
    assert!(matches!(
        alipay
            .start(&req("P1000000000000000004", 0, PayMode::Qr))
            .await,
        Err(PayError::Invalid(_))
    ));

    // A gateway that does not answer in time.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = silent.accept().await.unwrap();
            held.push(s);
        }
    });
    let mut cfg = alipay.config().clone();
    cfg.gateway = format!("http://{addr}/gateway.do");
    cfg.timeout = Duration::from_millis(300);
    let slow = Alipay::new(cfg).unwrap();
    let e = slow.query("P1000000000000000005").await.unwrap_err();
    assert_eq!(e, PayError::Transport("timed out".into()));
}

// ---------------------------------------------------------------------------------------------------------------
// WeChat Pay

async fn wechat_pair(serial_mode_cert: bool) -> (Arc<WechatFake>, Wechat) {
    let cert = testdata("payments/wechat_platform_cert.pem");
    let (cert_serial, cert_key) = platform_cert(&cert).unwrap();
    assert_eq!(cert_serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    let serial = if serial_mode_cert {
        cert_serial.clone()
    } else {
        "PUB_KEY_ID_0114232134912410000000000000".to_owned()
    };
    let merchant = WechatMerchant {
        mchid: "1230000109".into(),
        appid: "wxd678efh567hg6787".into(),
        mch_serial: "TESTSERIAL0000000000000000000000000000".into(),
        mch_public: merchant_key().public(),
        apiv3: b"0123456789abcdefghijklmnopqrstuv".to_vec(),
    };
    let fake = WechatFake::new(merchant, gateway_key(), &serial);
    let url = fake.start().await;
    let cfg = WechatConfig {
        appid: "wxd678efh567hg6787".into(),
        mchid: "1230000109".into(),
        mch_serial: "TESTSERIAL0000000000000000000000000000".into(),
        mch_key: merchant_key(),
        apiv3_key: zeroize::Zeroizing::new(b"0123456789abcdefghijklmnopqrstuv".to_vec()),
        // Both keys configured, as during WeChat's migration to the public-key mode.
        verify_keys: vec![
            (
                "PUB_KEY_ID_0114232134912410000000000000".into(),
                gateway_key().public(),
            ),
            (cert_serial, cert_key),
        ],
        base_url: url,
        notify_url: "https://example.com/pay/wechat/notify".into(),
        timeout: Duration::from_secs(5),
    };
    (fake, Wechat::new(cfg).unwrap())
}

#[tokio::test]
async fn wechat_native_notify_query_refund_against_the_fake() {
    for cert_mode in [false, true] {
        let (fake, w) = wechat_pair(cert_mode).await;
        let no = "P2000000000000000001";
        assert_eq!(w.query(no).await, Ok(None));
        let Checkout::QrCode(code) = w.start(&req(no, 8_000, PayMode::Qr)).await.unwrap() else {
            panic!()
        };
        assert_eq!(code, format!("weixin://wxpay/bizpayurl?pr={no}"));
        assert_eq!(
            w.query(no).await.unwrap().unwrap().status,
            TradeStatus::Pending
        );

        let (headers, body) = fake.pay(no, now(), "wxd678efh567hg6787");
        let t = w.verify_notification(&headers, &body, now()).unwrap();
        assert_eq!(
            (t.out_trade_no.as_str(), t.amount, t.status),
            (no, Fen(8_000), TradeStatus::Paid)
        );
        assert_eq!(t.gateway_txn, format!("4200{no}"));

        let r = w
            .refund(&RefundRequest {
                out_trade_no: no.into(),
                out_refund_no: "R2".into(),
                refund: Fen(8_000),
                total: Fen(8_000),
                reason: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            (r.amount, r.done, r.gateway_refund.as_str()),
            (Fen(8_000), true, "50000000001")
        );
        assert_eq!(
            w.query(no).await.unwrap().unwrap().status,
            TradeStatus::Refunded
        );
    }
}

#[tokio::test]
async fn wechat_refuses_forged_stale_foreign_and_probe_callbacks() {
    let (fake, w) = wechat_pair(false).await;
    let no = "P2000000000000000002";
    w.start(&req(no, 500, PayMode::Qr)).await.unwrap();
    let (headers, body) = fake.pay(no, now(), "wxd678efh567hg6787");
    assert!(w.verify_notification(&headers, &body, now()).is_ok());

    // Altered body.
    let mut altered = body.clone();
    let at = altered.iter().position(|&b| b == b'1').unwrap();
    altered[at] = b'2';
    assert_eq!(
        w.verify_notification(&headers, &altered, now()),
        Err(PayError::BadSignature)
    );
    // A signature probe: well-formed headers, signature that is not WeChat's.
    let mut probe = headers.clone();
    probe[2].1 = merchant_key().sign_b64(b"probe");
    assert_eq!(
        w.verify_notification(&probe, &body, now()),
        Err(PayError::BadSignature)
    );
    // Replayed six minutes later.
    assert_eq!(
        w.verify_notification(&headers, &body, now() + 360),
        Err(PayError::Stale)
    );
    // Unknown key serial.
    let mut unknown = headers.clone();
    unknown[3].1 = "PUB_KEY_ID_OTHER".into();
    assert!(matches!(
        w.verify_notification(&unknown, &body, now()),
        Err(PayError::Malformed(_))
    ));
    // Correctly signed and encrypted, but for another app.
    let (h2, b2) = fake.pay(no, now(), "wx0000000000000000");
    assert_eq!(
        w.verify_notification(&h2, &b2, now()),
        Err(PayError::ForeignApp("wx0000000000000000".into()))
    );
    // Missing headers.
    assert_eq!(
        w.verify_notification(&[], &body, now()),
        Err(PayError::Malformed("missing wechatpay-timestamp".into()))
    );
}

#[tokio::test]
async fn wechat_gateway_refuses_a_request_signed_with_another_key() {
    let (fake, w) = wechat_pair(false).await;
    let mut cfg = w.config().clone();
    cfg.mch_key = gateway_key();
    let wrong = Wechat::new(cfg).unwrap();
    assert_eq!(
        wrong
            .start(&req("P2000000000000000003", 100, PayMode::Qr))
            .await,
        Err(PayError::Gateway {
            code: "SIGN_ERROR".into(),
            message: "签名错误".into()
        })
    );
    assert!(fake.trades.lock().unwrap().is_empty());
    // A refund of an unpaid order is the gateway's refusal.
    w.start(&req("P2000000000000000004", 100, PayMode::Qr))
        .await
        .unwrap();
    assert_eq!(
        w.refund(&RefundRequest {
            out_trade_no: "P2000000000000000004".into(),
            out_refund_no: "R".into(),
            refund: Fen(100),
            total: Fen(100),
            reason: String::new()
        })
        .await,
        Err(PayError::Gateway {
            code: "INVALID_REQUEST".into(),
            message: "订单未支付".into()
        })
    );
}

// ---------------------------------------------------------------------------------------------------------------
// SMS

fn sms(mobile: &str, template: &str) -> SmsMessage {
    SmsMessage {
        mobile: mobile.into(),
        template: template.into(),
        params: vec![("code".into(), "123456".into())],
        text: "[金格科技] 您的登录验证码为 123456，5 分钟内有效。".into(),
        out_id: "42".into(),
    }
}

#[tokio::test]
async fn aliyun_sms_is_signed_as_the_fake_checks_it() {
    let fake = AliyunFake::new("LTAI5tTestKeyId", "TestSecret0123456789", &["SMS_100001"]);
    let url = fake.start().await;
    let env: HashMap<&str, String> = [
        (
            "SEALDESK_SMS_ALIYUN_ACCESS_KEY_ID",
            "LTAI5tTestKeyId".to_owned(),
        ),
        (
            "SEALDESK_SMS_ALIYUN_ACCESS_KEY_SECRET",
            "TestSecret0123456789".to_owned(),
        ),
        ("SEALDESK_SMS_ALIYUN_SIGN_NAME", "金格科技".to_owned()),
        (
            "SEALDESK_SMS_ALIYUN_TEMPLATES",
            "login_code=SMS_100001, submitted=SMS_100002".to_owned(),
        ),
        ("SEALDESK_SMS_ALIYUN_ENDPOINT", url.clone()),
    ]
    .into();
    let lookup = |n: &str| env.get(n).cloned();
    let aliyun = AliyunSms::new(AliyunConfig::from_lookup(&lookup).unwrap().unwrap()).unwrap();

    let r = aliyun
        .send(&sms("13800138000", "login_code"))
        .await
        .unwrap();
    assert_eq!(r.gateway_id, "900619746936498440^0");
    let sent = fake.sent.lock().unwrap()[0].clone();
    assert_eq!(sent["SignName"], "金格科技");
    assert_eq!(sent["TemplateParam"], r#"{"code":"123456"}"#);
    assert_eq!(sent["OutId"], "42");
    // Two sends use two nonces (the fake refuses a reused one).
    aliyun
        .send(&sms("13800138000", "login_code"))
        .await
        .unwrap();

    // The gateway's permanent refusals are not retried; its failures are.
    let e = aliyun
        .send(&sms("1380013800", "login_code"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        SmsError::Refused {
            code: "isv.MOBILE_NUMBER_ILLEGAL".into(),
            message: "非法手机号".into()
        }
    );
    assert!(!e.is_retryable());
    let e = aliyun
        .send(&sms("13800138000", "submitted"))
        .await
        .unwrap_err();
    assert!(matches!(e, SmsError::Refused { ref code, .. } if code == "isv.SMS_TEMPLATE_ILLEGAL"));
    assert_eq!(
        aliyun
            .send(&sms("13800138000", "nothing"))
            .await
            .unwrap_err(),
        SmsError::Config("no Aliyun template for nothing".into())
    );
    fake.fail_with.store(503, Ordering::SeqCst);
    let e = aliyun
        .send(&sms("13800138000", "login_code"))
        .await
        .unwrap_err();
    assert_eq!(e, SmsError::Transient("HTTP 503".into()));
    assert!(e.is_retryable());
    fake.fail_with.store(0, Ordering::SeqCst);

    // A wrong secret is refused by the gateway's own check.
    let env2: HashMap<&str, String> = env
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if k.ends_with("SECRET") {
                    "wrong".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let lookup2 = |n: &str| env2.get(n).cloned();
    let bad = AliyunSms::new(AliyunConfig::from_lookup(&lookup2).unwrap().unwrap()).unwrap();
    assert!(
        matches!(bad.send(&sms("13800138000", "login_code")).await, Err(SmsError::Refused { code, .. }) if code == "SignatureDoesNotMatch")
    );
    assert_eq!(fake.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_generic_http_provider_signs_its_body() {
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let secret = "shared-secret";
    let g = got.clone();
    let app = Router::new().route(
        "/sms",
        post(move |headers: HeaderMap, body: Bytes| {
            let g = g.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let ts: i64 = h("x-sealdesk-timestamp").parse().unwrap_or(0);
                let want = sealdesk_payments::sms::http_signature(
                    secret,
                    ts,
                    &h("x-sealdesk-nonce"),
                    &body,
                );
                use subtle::ConstantTimeEq;
                if (now() - ts).abs() > 300
                    || !bool::from(want.as_bytes().ct_eq(h("x-sealdesk-signature").as_bytes()))
                {
                    return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
                }
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                if v["mobile"] == "13900000000" {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
                }
                g.lock().unwrap().push(v);
                (StatusCode::OK, r#"{"id":"H-1"}"#).into_response()
            }
        }),
    );
    let url = serve(app).await;
    let env: HashMap<&str, String> = [
        ("SEALDESK_SMS_HTTP_URL", format!("{url}/sms")),
        ("SEALDESK_SMS_HTTP_SECRET", secret.to_owned()),
    ]
    .into();
    let lookup = |n: &str| env.get(n).cloned();
    let p = HttpSms::new(HttpSmsConfig::from_lookup(&lookup).unwrap().unwrap()).unwrap();
    assert_eq!(
        p.send(&sms("13800138000", "login_code"))
            .await
            .unwrap()
            .gateway_id,
        "H-1"
    );
    assert_eq!(
        got.lock().unwrap()[0]["text"],
        "[金格科技] 您的登录验证码为 123456，5 分钟内有效。"
    );
    assert_eq!(
        p.send(&sms("13900000000", "login_code")).await,
        Err(SmsError::Transient("HTTP 500".into()))
    );
    let env2: HashMap<&str, String> = [
        ("SEALDESK_SMS_HTTP_URL", format!("{url}/sms")),
        ("SEALDESK_SMS_HTTP_SECRET", "other".to_owned()),
    ]
    .into();
    let lookup2 = |n: &str| env2.get(n).cloned();
    let wrong = HttpSms::new(HttpSmsConfig::from_lookup(&lookup2).unwrap().unwrap()).unwrap();
    assert_eq!(
        wrong.send(&sms("13800138000", "login_code")).await,
        Err(SmsError::Refused {
            code: "401".into(),
            message: "bad signature".into()
        })
    );
}

#[test]
fn half_configured_channels_are_configuration_errors() {
    let none = |_: &str| None;
    assert!(AlipayConfig::from_lookup(&none).unwrap().is_none());
    assert!(WechatConfig::from_lookup(&none).unwrap().is_none());
    assert!(AliyunConfig::from_lookup(&none).unwrap().is_none());
    let half = |n: &str| (n == "SEALDESK_WECHAT_MCHID").then(|| "1230000109".to_owned());
    assert!(matches!(
        WechatConfig::from_lookup(&half),
        Err(PayError::Config(_))
    ));
    let bad_key = |n: &str| match n {
        "SEALDESK_ALIPAY_APP_ID" => Some("2021".to_owned()),
        "SEALDESK_ALIPAY_PRIVATE_KEY" => {
            Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".to_owned())
        }
        _ => None,
    };
    assert!(
        matches!(AlipayConfig::from_lookup(&bad_key), Err(PayError::Config(m)) if m.starts_with("SEALDESK_ALIPAY_PRIVATE_KEY"))
    );
}
