//! A production deployment (no `--demo`) with real channels, against local fakes of the gateways: `sealdesk
//! serve --sms aliyun --payments alipay`, configured from the environment (keys from files), signs an applicant
//! in with a code the Aliyun fake delivered, opens a page payment the Alipay fake's cashier accepts, and records
//! the payment from the fake's signed asynchronous notification — once, however often it comes; a forged one is
//! refused. No demo route exists.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sealdesk_domain::OrderState;
use sealdesk_payments::rsakey::RsaPrivate;
use sealdesk_payments::testkit::{AlipayFake, AliyunFake};
use sealdesk_store::Store;
use serde_json::json;

const APP_ID: &str = "2021000000000000";

fn testdata(name: &str) -> String {
    format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn key(name: &str) -> RsaPrivate {
    RsaPrivate::from_pem(&std::fs::read_to_string(testdata(name)).unwrap()).unwrap()
}

/// Waits until `f` gives something, for at most 30 s.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_signs_in_by_aliyun_sms_and_takes_an_alipay_payment() {
    sealdesk_adapters::install_tls_provider();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The platform's own keys, made elsewhere (not the data directory: production never makes them).
    let own = tmp.path().join("own");
    let ca = sealdesk_adapters::keys::demo_ca(&own).unwrap();
    sealdesk_adapters::keys::seal_maker(&own, &ca).unwrap();
    let audit_key = tmp.path().join("audit.key");
    std::fs::write(&audit_key, "ab".repeat(32)).unwrap();
    let pki = |f: &str| own.join("pki").join(f).to_str().unwrap().to_owned();

    // The gateways: Alipay's key is the standards' test key; the merchant's app key is the other test key.
    let alipay = AlipayFake::new(
        APP_ID,
        key("standards/wechatpay_go_testing_key.pem").public(),
        key("standards/test_rsa2048_private_pkcs8.pem"),
    );
    let alipay_url = alipay.start().await;
    let aliyun = AliyunFake::new(
        "LTAI-prod",
        "secret-prod",
        &["SMS_100", "SMS_200", "SMS_300"],
    );
    let aliyun_url = aliyun.start().await;
    let secret_file = tmp.path().join("aliyun.secret");
    std::fs::write(&secret_file, "secret-prod\n").unwrap();

    // Personal data is sealed with keys from the configuration, as in production; the test's own store holds the
    // same keys, so the rows it writes are the server's.
    const DATA_KEYS: &str = "k1:0123456789abcdeffedcba9876543210";
    const INDEX_KEY: &str = "1717171717171717171717171717171717171717171717171717171717171717";
    let store = Store::connect(
        &format!("sqlite://{}", data.join("sealdesk.db").display()),
        7,
    )
    .await
    .unwrap()
    .with_data_keys(sealdesk_store::PiiKeys::new(
        sealdesk_store::DataKeys::parse(DATA_KEYS).unwrap(),
        sealdesk_store::IndexKey::from_hex(INDEX_KEY).unwrap(),
    ));
    let env = [
        ("SEALDESK_DATA_KEYS", DATA_KEYS.to_owned()),
        ("SEALDESK_INDEX_KEY", INDEX_KEY.to_owned()),
        ("SEALDESK_SMS_ALIYUN_ACCESS_KEY_ID", "LTAI-prod".to_owned()),
        (
            "SEALDESK_SMS_ALIYUN_ACCESS_KEY_SECRET_FILE",
            secret_file.to_str().unwrap().to_owned(),
        ),
        ("SEALDESK_SMS_ALIYUN_SIGN_NAME", "金格科技".to_owned()),
        (
            "SEALDESK_SMS_ALIYUN_TEMPLATES",
            "login_code=SMS_100,paid=SMS_200,review_approved=SMS_300".to_owned(),
        ),
        ("SEALDESK_SMS_ALIYUN_ENDPOINT", aliyun_url),
        ("SEALDESK_ALIPAY_APP_ID", APP_ID.to_owned()),
        (
            "SEALDESK_ALIPAY_PRIVATE_KEY_FILE",
            testdata("standards/wechatpay_go_testing_key.pem"),
        ),
        (
            "SEALDESK_ALIPAY_PUBLIC_KEY_FILE",
            testdata("standards/test_rsa2048_public_spki.pem"),
        ),
        ("SEALDESK_ALIPAY_GATEWAY", alipay_url.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (maker_key, maker_cert, trust) = (
        pki("seal-maker.key.pem"),
        pki("seal-maker.pem"),
        pki("demo-ca.pem"),
    );
    let (server, base) = start_with_env(
        &data,
        &[
            "--maker-key",
            &maker_key,
            "--maker-cert",
            &maker_cert,
            "--trust",
            &trust,
            "--audit-key-file",
            audit_key.to_str().unwrap(),
            "--sms",
            "aliyun",
            "--payments",
            "alipay",
        ],
        &env,
    );
    let http = reqwest::Client::new();
    // No demo route.
    for path in ["/api/v1/demo/outbox", "/demo/outbox", "/sandbox/cashier/1"] {
        assert_eq!(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{path}"
        );
    }

    // Sign-in: the code reaches the applicant through Aliyun, signed as Aliyun checks it.
    let mobile = "13800138000";
    post(
        &http,
        format!("{base}/api/v1/auth/sms-code"),
        None,
        json!({"mobile": mobile}),
    )
    .await
    .unwrap();
    let sent = eventually("the code at the Aliyun fake", || {
        aliyun
            .sent
            .lock()
            .unwrap()
            .iter()
            .find(|m| m["PhoneNumbers"] == mobile)
            .cloned()
    })
    .await;
    assert_eq!(
        (sent["TemplateCode"].as_str(), sent["SignName"].as_str()),
        ("SMS_100", "金格科技")
    );
    let param: serde_json::Value = serde_json::from_str(&sent["TemplateParam"]).unwrap();
    let code = param["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    let signed = post(
        &http,
        format!("{base}/api/v1/auth/applicant"),
        None,
        json!({"mobile": mobile, "code": code}),
    )
    .await
    .unwrap();
    let token = signed["token"].as_str().unwrap().to_owned();

    // An approved order of this applicant's, with its invoice confirmed.
    let order =
        sealdesk_store::testing::order_in(&store, "testCSQY", mobile, OrderState::PendingPayment)
            .await;
    let id = order.id;

    // The sandbox is not a channel here; 支付宝 is.
    let refused = post(
        &http,
        format!("{base}/api/v1/orders/{id}/payments"),
        Some(&token),
        json!({"channel": "sandbox"}),
    )
    .await
    .unwrap_err();
    assert!(refused.contains("不支持的支付方式"), "{refused}");
    let started = post(
        &http,
        format!("{base}/api/v1/orders/{id}/payments"),
        Some(&token),
        json!({"channel": "alipay"}),
    )
    .await
    .unwrap();
    assert_eq!(started["amount_fen"], 8_000);
    let cashier = started["cashier_url"].as_str().unwrap();
    assert!(cashier.starts_with(&alipay_url), "{cashier}");
    // The applicant's browser opens the signed page-pay request; the fake cashier checks its RSA2 signature.
    let page = http.get(cashier).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<html>收银台</html>");

    // Until Alipay's notification comes, the order page says the payment is in progress and links back to it.
    let payment_id = started["payment_id"].as_str().unwrap();
    let order_page = || async {
        http.get(format!("{base}/orders/{id}"))
            .header("cookie", format!("sd_session={token}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let waiting = order_page().await;
    assert!(
        waiting.contains("支付处理中：您于")
            && waiting.contains("通过支付宝支付发起了付款")
            && waiting.contains(&format!(
                r#"<a href="/orders/{id}/payments/{payment_id}">继续付款</a>"#
            )),
        "{waiting}"
    );

    // The buyer pays; Alipay notifies, signed. A forged copy first.
    let notify = alipay.pay(payment_id);
    let notify_url = format!("{base}/api/v1/payments/alipay/notify");
    let send = |body: String| {
        http.post(&notify_url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body)
            .send()
    };
    let forged = send(notify.replace("total_amount=80.00", "total_amount=0.01"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 422);
    assert_eq!(forged.text().await.unwrap(), "failure");
    assert_eq!(
        store.order(id).await.unwrap().state,
        OrderState::PendingPayment
    );
    for _ in 0..3 {
        let r = send(notify.clone()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.text().await.unwrap(),
            "success",
            "Alipay stops retrying only on `success`"
        );
    }
    assert_eq!(store.order(id).await.unwrap().state, OrderState::Paid);
    assert!(
        !order_page().await.contains("支付处理中"),
        "settled: no longer in progress"
    );
    let p = store.payment(payment_id.parse().unwrap()).await.unwrap();
    assert_eq!((p.state.as_str(), p.channel.as_str()), ("paid", "alipay"));
    let confirmations = store
        .audit_entries(Some(id))
        .await
        .unwrap()
        .iter()
        .filter(|a| a.action == "payment_confirmed")
        .count();
    assert_eq!(confirmations, 1);
    // The 已支付 SMS goes out through Aliyun too, once.
    eventually("the paid SMS", || {
        let sent = aliyun.sent.lock().unwrap();
        let n = sent
            .iter()
            .filter(|m| m["TemplateCode"] == "SMS_200")
            .count();
        (n > 0).then_some(n)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        aliyun
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["TemplateCode"] == "SMS_200")
            .count(),
        1
    );
    drop(server);
}
