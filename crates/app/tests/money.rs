//! Money and messages on SQLite and PostgreSQL, against the local fakes of the gateways (`sealdesk-payments`'
//! testkit, which check and sign as the real ones do):
//!
//! - a thousand concurrent copies of one signed Alipay notification record one payment, one audit entry, one SMS;
//! - forged, altered, foreign-app, unknown-order and wrong-amount notifications are refused and change nothing;
//!   money for a cancelled order is recorded, flagged, and refunded through the gateway; a payment whose
//!   notification never came is settled by reconciliation;
//! - the SMS sender delivers the outbox through the Aliyun fake with retries and backoff, gives up on refusals,
//!   and two workers never send one message twice;
//! - renewal reminders go out once each, even from two instances at once.

use std::sync::Arc;

use sealdesk_adapters::blobs::LocalDir;
use sealdesk_adapters::keys;
use sealdesk_app::*;
use sealdesk_domain::*;
use sealdesk_payments::alipay::{Alipay, AlipayConfig};
use sealdesk_payments::rsakey::RsaPrivate;
use sealdesk_payments::sms::{AliyunConfig, AliyunSms};
use sealdesk_payments::testkit::{AlipayFake, AliyunFake, WechatFake, WechatMerchant};
use sealdesk_payments::wechat::{Wechat, WechatConfig};
use sealdesk_payments::{PayMode, PayRequest, PaymentProvider};
use sealdesk_store::{Payment, SmsStatus, Store, now_text};

const APP_ID: &str = "2021000000000000";

fn testdata(name: &str) -> String {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The merchant's app key and the gateway's key, as in the payments crate's own tests.
fn merchant_key() -> RsaPrivate {
    RsaPrivate::from_pem(&testdata("standards/test_rsa2048_private_pkcs8.pem")).unwrap()
}
fn gateway_key() -> RsaPrivate {
    RsaPrivate::from_pem(&testdata("standards/wechatpay_go_testing_key.pem")).unwrap()
}

/// An Alipay adapter for app `app_id` talking to `gateway`.
fn alipay(app_id: &str, gateway: &str) -> Alipay {
    Alipay::new(AlipayConfig {
        app_id: app_id.into(),
        gateway: gateway.into(),
        app_key: merchant_key(),
        alipay_key: gateway_key().public(),
        seller_id: None,
        notify_url: "https://seal.example.com/api/v1/payments/alipay/notify".into(),
        return_url: "https://seal.example.com/orders".into(),
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap()
}

struct Env {
    app: App,
    fake: Arc<AlipayFake>,
    clock: ManualClock,
    _tmp: tempfile::TempDir,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn env(store: Store) -> Env {
    sealdesk_adapters::install_tls_provider();
    let tmp = tempfile::tempdir().unwrap();
    let fake = AlipayFake::new(APP_ID, merchant_key().public(), gateway_key());
    let gateway = fake.start().await;
    let alipay = Arc::new(alipay(APP_ID, &gateway));
    let ca = keys::demo_ca(tmp.path()).unwrap();
    let maker = keys::seal_maker(tmp.path(), &ca).unwrap();
    let clock = ManualClock::at(Timestamp(now_unix()));
    let app = App::new(
        store,
        Arc::new(LocalDir::new(tmp.path().join("blobs"))),
        AppConfig {
            data_dir: tmp.path().into(),
            public_url: "https://seal.example.com".into(),
            payment_channels: vec!["alipay".into(), "wechat".into()],
            clock: Arc::new(clock.clone()),
            ..Default::default()
        },
        maker,
        vec![ca.cert],
        None,
    )
    .with_payment_providers(vec![alipay as Arc<dyn PaymentProvider>]);
    Env {
        app,
        fake,
        clock,
        _tmp: tmp,
    }
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("db.sqlite").display());
    (Store::connect(&url, 1).await.unwrap(), tmp)
}

/// Runs `body` on a fresh SQLite database and on a fresh PostgreSQL database.
macro_rules! on_both {
    ($sqlite:ident, $postgres:ident, $body:ident, $flavor:tt) => {
        #[tokio::test $flavor]
        async fn $sqlite() {
            let (store, _dir) = sqlite().await;
            $body(store).await;
        }
        #[tokio::test $flavor]
        async fn $postgres() {
            let (store, drop_db) =
                sealdesk_store::testing::fresh_postgres(stringify!($postgres)).await;
            $body(store).await;
            drop_db.await;
        }
    };
}

/// An order of `mobile`'s in `state` with its invoice details confirmed, and its applicant.
async fn order_in(store: &Store, mobile: &str, state: OrderState) -> (Order, Who) {
    let o = sealdesk_store::testing::order_in(store, "testMONEY", mobile, state).await;
    let who = Who {
        principal: Principal::Applicant { id: o.applicant_id },
        ip: "127.0.0.1".into(),
    };
    (o, who)
}

/// A QR trade for `no` of `fen` opened at the gateway `alipay` talks to.
async fn open_at(alipay: &Alipay, no: &str, fen: i64) {
    alipay
        .start(&PayRequest {
            out_trade_no: no.into(),
            amount: Fen(fen),
            subject: PAYMENT_SUBJECT.into(),
            mode: PayMode::Qr,
        })
        .await
        .unwrap();
}

/// An order of `mobile`'s being paid at 支付宝: the payment opened and its page-pay URL opened at the fake.
async fn paying(e: &Env, store: &Store, mobile: &str) -> (Order, Payment) {
    let (order, who) = order_in(store, mobile, OrderState::PendingPayment).await;
    let (payment, url) = e.app.start_payment(&who, order.id, "alipay").await.unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    (order, payment)
}

async fn audit_count(store: &Store, order: i64, action: &str) -> usize {
    store
        .audit_entries(Some(order))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == action)
        .count()
}

async fn thousand_duplicate_notifications(store: Store) {
    let e = env(store.clone()).await;
    let (order, alice) = order_in(&store, "13800138000", OrderState::PendingPayment).await;
    // 去付款 at 支付宝: the page-pay URL is signed for the gateway; the applicant's browser opens it.
    let (payment, url) = e
        .app
        .start_payment(&alice, order.id, "alipay")
        .await
        .unwrap();
    assert!(url.contains("/gateway.do?"), "{url}");
    assert!(url.contains("method=alipay.trade.page.pay"), "{url}");
    let opened = reqwest::get(&url).await.unwrap();
    assert_eq!(
        opened.status(),
        200,
        "the fake cashier accepts the signed request"
    );
    // Asking again reuses the open payment and its checkout.
    let (again, url2) = e
        .app
        .start_payment(&alice, order.id, "alipay")
        .await
        .unwrap();
    assert_eq!((again.id, url2), (payment.id, url));

    let body = e.fake.pay(&payment.id.to_string());
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let app = e.app.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            app.payment_notified("alipay", body.as_bytes(), "110.75.0.1")
                .await
        }));
    }
    for t in tasks {
        let o = t.await.unwrap().expect("every copy is acknowledged");
        assert_eq!(o.id, order.id);
    }
    let p = store.payment(payment.id).await.unwrap();
    let txn = format!("2026{}", payment.id);
    assert_eq!(
        (p.state.as_str(), p.gateway_txn.as_deref(), p.refund_due),
        ("paid", Some(txn.as_str()), false)
    );
    assert_eq!(store.order(order.id).await.unwrap().state, OrderState::Paid);
    assert_eq!(audit_count(&store, order.id, "payment_confirmed").await, 1);
    let paid_sms = store
        .sms_deliveries(5000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template == "paid")
        .count();
    assert_eq!(paid_sms, 1, "one 已支付 SMS, not a thousand");
    // An altered copy is refused and changes nothing.
    let forged = body.replace(&txn, "2026999");
    assert!(matches!(
        e.app.payment_notified("alipay", forged.as_bytes(), "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m.contains("bad signature")
    ));
    assert_eq!(
        store.payment(payment.id).await.unwrap().gateway_txn,
        Some(txn)
    );
    assert_eq!(
        store.verify_audit().await.unwrap(),
        Ok(store.audit_entries(None).await.unwrap().len() as u64)
    );
}

on_both!(
    thousand_duplicate_notifications_record_one_payment_sqlite,
    thousand_duplicate_notifications_record_one_payment_postgres,
    thousand_duplicate_notifications,
    (flavor = "multi_thread", worker_threads = 4)
);

async fn bad_notifications_refunds_and_reconciliation(store: Store) {
    let e = env(store.clone()).await;
    let (order, payment) = paying(&e, &store, "13800138000").await;
    let alice = Who {
        principal: Principal::Applicant {
            id: order.applicant_id,
        },
        ip: "127.0.0.1".into(),
    };
    let no = payment.id.to_string();

    // A notification signed by the gateway for another merchant's app.
    let foreign_fake = AlipayFake::new("2021009999999999", merchant_key().public(), gateway_key());
    let foreign_gateway = foreign_fake.start().await;
    let other = alipay("2021009999999999", &foreign_gateway);
    open_at(&other, &no, 8_000).await;
    let foreign = foreign_fake.pay(&no);
    assert!(matches!(
        e.app.payment_notified("alipay", foreign.as_bytes(), "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m.contains("foreign app id")
    ));
    // An unknown order: a well-signed notification for a trade we never opened.
    let unknown_fake = AlipayFake::new(APP_ID, merchant_key().public(), gateway_key());
    let unknown_gateway = unknown_fake.start().await;
    let ours_elsewhere = alipay(APP_ID, &unknown_gateway);
    for (no, fen) in [("123456789", 8_000), (no.as_str(), 1)] {
        open_at(&ours_elsewhere, no, fen).await;
    }
    assert!(matches!(
        e.app
            .payment_notified(
                "alipay",
                unknown_fake.pay("123456789").as_bytes(),
                "1.2.3.4"
            )
            .await,
        Err(AppError::NotFound)
    ));
    // Our app, our payment, but one fen: refused.
    assert!(matches!(
        e.app.payment_notified("alipay", unknown_fake.pay(&no).as_bytes(), "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m.contains("amount differs")
    ));
    // A channel that is not configured.
    assert!(matches!(
        e.app.payment_notified("wechat", b"{}", "1.2.3.4").await,
        Err(AppError::NotFound)
    ));
    assert_eq!(
        store.payment(payment.id).await.unwrap().state,
        "pending",
        "nothing was recorded"
    );
    assert_eq!(audit_count(&store, order.id, "payment_confirmed").await, 0);

    // The order is cancelled while the applicant pays: the money is recorded and flagged for refund.
    e.app
        .cancel(
            &Who {
                principal: Principal::Applicant {
                    id: order.applicant_id,
                },
                ip: "127.0.0.1".into(),
            },
            order.id,
        )
        .await
        .unwrap();
    let late = e.fake.pay(&no);
    let o = e
        .app
        .payment_notified("alipay", late.as_bytes(), "110.75.0.1")
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Cancelled);
    let p = store.payment(payment.id).await.unwrap();
    assert_eq!((p.state.as_str(), p.refund_due), ("paid", true));
    assert_eq!(audit_count(&store, order.id, "payment_refund_due").await, 1);

    // Finance refunds it through Alipay; it is recorded once.
    e.app
        .ensure_operator("finance", "correct horse", true)
        .await
        .unwrap();
    let finance = Who {
        principal: e
            .app
            .sign_in_operator("finance", "correct horse", "127.0.0.1")
            .await
            .unwrap()
            .principal,
        ip: "127.0.0.1".into(),
    };
    assert!(matches!(
        e.app.refund_payment(&alice, payment.id).await,
        Err(AppError::Forbidden(_))
    ));
    assert_eq!(e.app.refunds_due(&finance).await.unwrap().len(), 1);
    let r = e.app.refund_payment(&finance, payment.id).await.unwrap();
    assert_eq!(
        (r.state.as_str(), r.refund_txn.as_deref(), r.refund_due),
        ("refunded", Some(format!("2026{no}").as_str()), false)
    );
    assert_eq!(e.fake.trades.lock().unwrap()[&no].status, "TRADE_CLOSED");
    assert!(e.app.refunds_due(&finance).await.unwrap().is_empty());
    assert_eq!(audit_count(&store, order.id, "payment_refunded").await, 1);
    assert!(matches!(
        e.app.refund_payment(&finance, payment.id).await,
        Err(AppError::Conflict(_))
    ));
    // The same notification again, after the refund: acknowledged, and the payment stays refunded.
    e.app
        .payment_notified("alipay", late.as_bytes(), "110.75.0.1")
        .await
        .unwrap();
    assert_eq!(store.payment(payment.id).await.unwrap().state, "refunded");

    // Reconciliation: paid at the gateway, the notification lost.
    let (order2, p2) = paying(&e, &store, "13900139000").await;
    // Too young to ask about: its notification may still be on the way.
    assert_eq!(
        e.app.reconcile_payments(120, 86_400).await.unwrap(),
        Reconciled::default()
    );
    e.clock.advance(300);
    assert_eq!(
        e.app.reconcile_payments(120, 86_400).await.unwrap(),
        Reconciled {
            settled: 0,
            open: 1,
            failed: 0
        },
        "not paid yet at the gateway"
    );
    let _lost = e.fake.pay(&p2.id.to_string());
    // Claimed by the round above for its lease: not asked about again (by any instance) within it.
    assert_eq!(
        e.app.reconcile_payments(120, 86_400).await.unwrap(),
        Reconciled::default()
    );
    e.clock.advance(RECONCILE_LEASE_SECS);
    assert_eq!(
        e.app.reconcile_payments(120, 86_400).await.unwrap(),
        Reconciled {
            settled: 1,
            open: 0,
            failed: 0
        }
    );
    assert_eq!(
        store.order(order2.id).await.unwrap().state,
        OrderState::Paid
    );
    assert_eq!(audit_count(&store, order2.id, "payment_confirmed").await, 1);
    // A gateway that is down: counted, tried again next round, nothing recorded.
    let (order3, _) = paying(&e, &store, "13700137000").await;
    e.clock.advance(300);
    e.fake
        .fail_with
        .store(500, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        e.app.reconcile_payments(120, 86_400).await.unwrap(),
        Reconciled {
            settled: 0,
            open: 0,
            failed: 1
        }
    );
    assert_eq!(
        store.order(order3.id).await.unwrap().state,
        OrderState::PendingPayment
    );
    e.fake
        .fail_with
        .store(0, std::sync::atomic::Ordering::SeqCst);
}

on_both!(
    bad_notifications_refunds_and_reconciliation_sqlite,
    bad_notifications_refunds_and_reconciliation_postgres,
    bad_notifications_refunds_and_reconciliation,
    ()
);

async fn sms_sender_retries_with_backoff(store: Store) {
    let e = env(store.clone()).await;
    let fake = AliyunFake::new("LTAI-test", "secret-test", &["SMS_100", "SMS_200"]);
    let endpoint = fake.start().await;
    let aliyun = Arc::new(
        AliyunSms::new(AliyunConfig {
            access_key_id: "LTAI-test".into(),
            access_key_secret: zeroize::Zeroizing::new("secret-test".into()),
            sign_name: "金格科技".into(),
            templates: vec![
                ("login_code".into(), "SMS_100".into()),
                ("paid".into(), "SMS_200".into()),
            ],
            endpoint,
            timeout: std::time::Duration::from_secs(5),
        })
        .unwrap(),
    );
    let policy = RetryPolicy::default();
    let sender = e.app.sms_sender(aliyun.clone(), policy);
    e.app
        .send_login_code("13800138000", "127.0.0.1")
        .await
        .unwrap();
    // A number the gateway refuses, and a template it has no code for.
    store
        .push_sms_with("1370000", "paid", "x", &[("order_no", "1")])
        .await
        .unwrap();
    store
        .push_sms_with("13600136000", "review_approved", "x", &[])
        .await
        .unwrap();
    fake.fail_with
        .store(500, std::sync::atomic::Ordering::SeqCst);
    // Round 1: the gateway answers 500: each message is tried again later (and the two hopeless ones fail
    // for their own reasons only once the gateway answers).
    let r = sender.run_once().await.unwrap();
    assert_eq!((r.sent, r.retried), (0, 2), "{r:?}");
    assert_eq!(r.failed, 1, "no Aliyun template: given up at once");
    // Not due yet.
    e.clock.advance(29);
    assert_eq!(sender.run_once().await.unwrap(), SendRound::default());
    e.clock.advance(1);
    assert_eq!(
        sender.run_once().await.unwrap(),
        SendRound {
            sent: 0,
            retried: 2,
            failed: 0
        }
    );
    // The second failure doubles the wait to 60 s.
    fake.fail_with.store(0, std::sync::atomic::Ordering::SeqCst);
    e.clock.advance(59);
    assert_eq!(sender.run_once().await.unwrap(), SendRound::default());
    e.clock.advance(1);
    // The code is older than its five minutes? No: 90 s. It goes out; the bad number is refused for good.
    assert_eq!(
        sender.run_once().await.unwrap(),
        SendRound {
            sent: 1,
            retried: 0,
            failed: 1
        }
    );
    e.clock.advance(10_000);
    assert_eq!(sender.run_once().await.unwrap(), SendRound::default());

    let all = store.sms_deliveries(10).await.unwrap();
    let code = all.iter().find(|m| m.mobile == "13800138000").unwrap();
    assert_eq!(
        (code.status, code.attempts, code.provider.as_deref()),
        (SmsStatus::Sent, 3, Some("aliyun"))
    );
    assert_eq!(code.gateway_id.as_deref(), Some("900619746936498440^0"));
    let sent = fake.sent.lock().unwrap()[0].clone();
    assert_eq!(sent["TemplateCode"], "SMS_100");
    assert_eq!(sent["SignName"], "金格科技");
    let digits: String = code
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert_eq!(sent["TemplateParam"], format!(r#"{{"code":"{digits}"}}"#));
    let bad = all.iter().find(|m| m.mobile == "1370000").unwrap();
    assert_eq!((bad.status, bad.attempts), (SmsStatus::Failed, 3));
    assert!(
        bad.last_error
            .as_deref()
            .unwrap()
            .contains("isv.MOBILE_NUMBER_ILLEGAL"),
        "{bad:?}"
    );
    let no_template = all.iter().find(|m| m.mobile == "13600136000").unwrap();
    assert_eq!(no_template.status, SmsStatus::Failed);
    assert_eq!(SmsStatus::Failed.label(), "发送失败");

    // A sign-in code whose five minutes passed while the gateway was down is not sent at all.
    e.app
        .send_login_code("13900139000", "127.0.0.1")
        .await
        .unwrap();
    e.clock.advance(301);
    assert_eq!(
        sender.run_once().await.unwrap(),
        SendRound {
            sent: 0,
            retried: 0,
            failed: 1
        }
    );

    // Two workers racing over 40 messages send each exactly once.
    let before = fake.sent.lock().unwrap().len();
    for i in 0..40 {
        store
            .push_sms_with(&format!("1380000{i:04}"), "paid", "x", &[("order_no", "1")])
            .await
            .unwrap();
    }
    let small = RetryPolicy { batch: 7, ..policy };
    let (a, b) = (
        e.app.sms_sender(aliyun.clone(), small),
        e.app.sms_sender(aliyun, small),
    );
    for _ in 0..8 {
        let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
        ra.unwrap();
        rb.unwrap();
    }
    let mut mobiles: Vec<String> = fake.sent.lock().unwrap()[before..]
        .iter()
        .map(|m| m["PhoneNumbers"].clone())
        .collect();
    assert_eq!(mobiles.len(), 40);
    mobiles.sort();
    mobiles.dedup();
    assert_eq!(mobiles.len(), 40, "a message went out twice");
}

on_both!(
    sms_sender_retries_with_backoff_sqlite,
    sms_sender_retries_with_backoff_postgres,
    sms_sender_retries_with_backoff,
    ()
);

/// A made seal of `order` valid until `end`.
async fn seal_until(store: &Store, order: &Order, end: Timestamp) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_seal(&sealdesk_store::SealRecord {
        id: store.next_id(),
        order_id: order.id,
        seq: 1,
        es_id: format!("ES{}", order.id),
        kind: SealKind::OfficialSeal,
        name: "北筑设计研究院有限公司".into(),
        der: vec![0x30, 0],
        picture_png: vec![0x89],
        valid_start: Timestamp(end.0 - 365 * 86_400).rfc3339(),
        valid_end: end.rfc3339(),
        token_serial: "TOKEN1".into(),
        revoked: false,
        created_at: now_text(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn reminders_once_each(store: Store) {
    // Two instances on one database.
    let (e1, e2) = (env(store.clone()).await, env(store.clone()).await);
    // Seals valid until 2027-01-05 00:00 Beijing: their last day is 2027-01-04.
    let end = Timestamp::from_utc(2027, 1, 4, 16, 0, 0);
    let (order, _) = order_in(&store, "13800138000", OrderState::Completed).await;
    seal_until(&store, &order, end).await;
    let (renewed, _) = order_in(&store, "13900139000", OrderState::Completed).await;
    seal_until(&store, &renewed, end).await;
    let (mut renewal, _) = order_in(&store, "13900139000", OrderState::Paid).await;
    renewal.previous_order = Some(renewed.id);
    renewal.version += 1;
    let mut tx = store.begin().await.unwrap();
    tx.update_order(&renewal).await.unwrap();
    tx.commit().await.unwrap();

    let noon = |days_before: i64| {
        Timestamp(Timestamp::from_utc(2027, 1, 4, 4, 0, 0).0 - days_before * 86_400)
    };
    let mut total = 0;
    for day in (-3..=100).rev() {
        e1.clock.set(noon(day));
        e2.clock.set(Timestamp(noon(day).0 + 60));
        let (a, b) = tokio::join!(e1.app.send_reminders(), e2.app.send_reminders());
        total += a.unwrap() + b.unwrap();
    }
    // 90, 30, 7, 1 days before and the day after, for the order not renewed only.
    assert_eq!(total, 5);
    let sms: Vec<_> = store
        .sms_deliveries(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.template.starts_with("renewal"))
        .collect();
    assert_eq!(sms.len(), 5);
    assert!(sms.iter().all(|m| m.mobile == "13800138000"));
    let texts: Vec<&str> = sms.iter().map(|m| m.text.as_str()).collect();
    assert!(
        texts.contains(&format!("[金格科技] 尊敬的客户，您好！您订单号为【{}】的电子印章授权将于 2027-01-04 到期（还有 90 天），请登录 CA 电子印章自助办理平台（https://seal.example.com/orders/new?service=renewal）办理续期，本条短信无需回复，感谢您的合作，谢谢！", order.order_no).as_str()),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("授权已于 2027-01-04 到期，请尽快登录")),
        "{texts:?}"
    );
    let days: Vec<String> = sms
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.params).unwrap()["days"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(days, ["0", "1", "7", "30", "90"]);
}

on_both!(
    reminders_go_out_once_each_sqlite,
    reminders_go_out_once_each_postgres,
    reminders_once_each,
    ()
);

async fn wechat_native_qr_and_verified_callbacks(store: Store) {
    let e = env(store.clone()).await;
    let (order, alice) = order_in(&store, "13800138000", OrderState::PendingPayment).await;
    // Not configured yet: refused before anything is opened.
    assert!(matches!(
        e.app.start_payment(&alice, order.id, "wechat").await,
        Err(AppError::BadInput(m)) if m == "不支持的支付方式"
    ));
    let apiv3 = b"0123456789abcdefghijklmnopqrstuv".to_vec();
    let fake = WechatFake::new(
        WechatMerchant {
            mchid: "1230000109".into(),
            appid: "wxd678efh567hg6787".into(),
            mch_serial: "TESTSERIAL0000000000000000000000000000".into(),
            mch_public: merchant_key().public(),
            apiv3: apiv3.clone(),
        },
        gateway_key(),
        "PUB_KEY_ID_0114232134912410000000000000",
    );
    let base_url = fake.start().await;
    let wechat = Wechat::new(WechatConfig {
        appid: "wxd678efh567hg6787".into(),
        mchid: "1230000109".into(),
        mch_serial: "TESTSERIAL0000000000000000000000000000".into(),
        mch_key: merchant_key(),
        apiv3_key: zeroize::Zeroizing::new(apiv3),
        verify_keys: vec![(
            "PUB_KEY_ID_0114232134912410000000000000".into(),
            gateway_key().public(),
        )],
        base_url,
        notify_url: "https://seal.example.com/api/v1/payments/wechat/notify".into(),
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap();
    let app = e
        .app
        .clone()
        .with_payment_providers(vec![Arc::new(wechat) as Arc<dyn PaymentProvider>]);
    assert_eq!(
        app.payment_channels(),
        [
            ("alipay".to_owned(), "支付宝支付"),
            ("wechat".to_owned(), "微信支付")
        ]
    );
    // 微信支付 answers a Native order with a QR code, shown on the platform's own cashier page.
    let (p, url) = app.start_payment(&alice, order.id, "wechat").await.unwrap();
    assert_eq!(url, format!("/orders/{}/payments/{}", order.id, p.id));
    let co = app.payment_checkout(&alice, order.id, p.id).await.unwrap();
    assert_eq!(
        (co.qr.as_deref(), co.label),
        (
            Some(format!("weixin://wxpay/bizpayurl?pr={}", p.id).as_str()),
            "微信支付"
        )
    );
    // Someone else's order: not even visible.
    let (_, bob) = order_in(&store, "13900139000", OrderState::PendingPayment).await;
    assert!(matches!(
        app.payment_checkout(&bob, order.id, p.id).await,
        Err(AppError::NotFound)
    ));

    let no = p.id.to_string();
    let now = e.clock.now().0;
    // A callback for another appid, and a replay from ten minutes ago, are refused.
    let (h, b) = fake.pay(&no, now, "wx0000000000000000");
    assert!(matches!(
        app.payment_notified_with("wechat", &h, &b, "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m.contains("foreign app id")
    ));
    let (h, b) = fake.pay(&no, now - 600, "wxd678efh567hg6787");
    assert!(matches!(
        app.payment_notified_with("wechat", &h, &b, "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m.contains("five-minute")
    ));
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::PendingPayment
    );
    let (h, b) = fake.pay(&no, now, "wxd678efh567hg6787");
    for _ in 0..3 {
        let o = app
            .payment_notified_with("wechat", &h, &b, "101.226.0.1")
            .await
            .unwrap();
        assert_eq!(o.state, OrderState::Paid);
    }
    assert_eq!(audit_count(&store, order.id, "payment_confirmed").await, 1);
    let reply = app.notification_reply("wechat", true).unwrap();
    assert_eq!((reply.status, reply.body), (204, ""));
    assert_eq!(app.notification_reply("wechat", false).unwrap().status, 500);
    assert!(app.notification_reply("unionpay", true).is_none());
}

on_both!(
    wechat_native_qr_and_verified_callbacks_sqlite,
    wechat_native_qr_and_verified_callbacks_postgres,
    wechat_native_qr_and_verified_callbacks,
    ()
);
