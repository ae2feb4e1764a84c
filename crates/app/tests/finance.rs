//! Finance on SQLite and PostgreSQL: 对公转账 paid by importing the bank statement (exactly once, with every line
//! that cannot be matched explained), refunds of transfers recorded by serial, 对账日报, 作废重开 of an invoice,
//! and the invoice e-mail delivered with its PDF through an SMTP relay (the payments testkit's local relay).

use std::sync::Arc;

use sealdesk_adapters::blobs::LocalDir;
use sealdesk_adapters::keys;
use sealdesk_app::*;
use sealdesk_domain::*;
use sealdesk_payments::bank::bank_reference;
use sealdesk_payments::mail::{SmtpConfig, SmtpMailer};
use sealdesk_payments::testkit::smtp::{SmtpFake, part};
use sealdesk_store::{Invoice, Store};

struct Env {
    app: App,
    _tmp: tempfile::TempDir,
}

fn account() -> BankAccount {
    BankAccount {
        payee: "某某数字认证有限公司".into(),
        bank: "中国工商银行南昌分行营业部".into(),
        account: "1502 2010 0901 2345 678".into(),
    }
}

fn env(store: Store) -> Env {
    sealdesk_adapters::install_tls_provider();
    let tmp = tempfile::tempdir().unwrap();
    let ca = keys::demo_ca(tmp.path()).unwrap();
    let maker = keys::seal_maker(tmp.path(), &ca).unwrap();
    let app = App::new(
        store,
        Arc::new(LocalDir::new(tmp.path().join("blobs"))),
        AppConfig {
            data_dir: tmp.path().into(),
            public_url: "https://seal.example.com".into(),
            payment_channels: vec!["bank".into()],
            bank_account: Some(account()),
            ..Default::default()
        },
        maker,
        vec![ca.cert],
        None,
    );
    Env { app, _tmp: tmp }
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("db.sqlite").display());
    (Store::connect(&url, 1).await.unwrap(), tmp)
}

macro_rules! on_both {
    ($sqlite:ident, $postgres:ident, $body:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let (store, _dir) = sqlite().await;
            $body(store).await;
        }
        #[tokio::test]
        async fn $postgres() {
            let (store, drop_db) =
                sealdesk_store::testing::fresh_postgres(stringify!($postgres)).await;
            $body(store).await;
            drop_db.await;
        }
    };
}

async fn order_in(store: &Store, mobile: &str, state: OrderState) -> (Order, Who) {
    let o = sealdesk_store::testing::order_in(store, "testFIN", mobile, state).await;
    let who = Who {
        principal: Principal::Applicant { id: o.applicant_id },
        ip: "127.0.0.1".into(),
    };
    (o, who)
}

fn finance() -> Who {
    Who {
        principal: Principal::Operator {
            id: 1,
            name: "finance".into(),
            is_admin: true,
            roles: Roles::NONE,
        },
        ip: "10.0.0.8".into(),
    }
}

fn reviewer() -> Who {
    Who {
        principal: Principal::Operator {
            id: 2,
            name: "reviewer".into(),
            is_admin: false,
            roles: Roles::only(Role::Reviewer),
        },
        ip: "10.0.0.9".into(),
    }
}

async fn bank_transfer_paid_by_statement(store: Store) {
    let e = env(store.clone());
    let app = &e.app;
    let (order, alice) = order_in(&store, "13800138000", OrderState::PendingPayment).await;
    let (late, bob) = order_in(&store, "13900139000", OrderState::PendingPayment).await;

    // 去付款 by 对公转账: the platform's cashier page, with the account and the payment's reference.
    let (payment, url) = app.start_payment(&alice, order.id, "bank").await.unwrap();
    assert_eq!(url, format!("/orders/{}/payments/{}", order.id, payment.id));
    let co = app
        .payment_checkout(&alice, order.id, payment.id)
        .await
        .unwrap();
    let transfer = co.bank.unwrap();
    assert_eq!(transfer.account, account());
    assert_eq!(transfer.reference, bank_reference(payment.id));
    // Asking again gives the same payment and reference; another applicant cannot see it.
    assert_eq!(
        app.start_payment(&alice, order.id, "bank")
            .await
            .unwrap()
            .0
            .id,
        payment.id
    );
    assert!(matches!(
        app.payment_checkout(&bob, order.id, payment.id).await,
        Err(AppError::NotFound)
    ));
    let (late_payment, _) = app.start_payment(&bob, late.id, "bank").await.unwrap();
    let late_ref = bank_reference(late_payment.id);
    // Bob's order is cancelled before his money arrives.
    let mut tx = store.begin().await.unwrap();
    let mut cancelled = tx.order(late.id).await.unwrap();
    cancelled.state = OrderState::Cancelled;
    cancelled.version += 1;
    tx.update_order(&cancelled).await.unwrap();
    tx.commit().await.unwrap();

    let r = transfer.reference;
    let statement = format!(
        "\u{feff}交易日期,流水号,对方户名,贷方金额,摘要\n\
         2026-11-30,B001,北筑设计研究院有限公司,\"8,000.00\",电子印章 {r}\n\
         2026-11-30,B002,某公司,80.00,没有参考号\n\
         2026-11-30,B003,本行,-5.00,手续费\n\
         2026-11-30,B004,某公司,80.00,{}\n\
         2026-11-30,B005,某公司,80.00,{late_ref}\n",
        bank_reference(123)
    );
    let report = app
        .import_bank_statement(&finance(), statement.as_bytes())
        .await
        .unwrap();
    assert!(report.matched.is_empty());
    let issues: Vec<(usize, &str, &str)> = report
        .issues
        .iter()
        .map(|i| (i.line, i.serial.as_str(), i.reason.as_str()))
        .collect();
    let cancelled_no = late.order_no.clone();
    assert_eq!(
        issues,
        vec![
            (
                2,
                "B001",
                "到账金额 8000.00 元与应付金额 80.00 元不符，未入账"
            ),
            (3, "B002", "附言中没有有效的转账参考号"),
            (5, "B004", "参考号不对应任何对公转账订单"),
            (
                6,
                "B005",
                format!("订单 {cancelled_no} 状态为「已取消」，款项已入账并列入待退款").as_str()
            ),
        ]
    );
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::PendingPayment
    );

    // The corrected statement pays the order, once.
    let fixed = statement.replace("\"8,000.00\"", "80.00");
    let report = app
        .import_bank_statement(&finance(), fixed.as_bytes())
        .await
        .unwrap();
    assert_eq!(report.matched, vec![(2, order.order_no.clone())]);
    assert_eq!(store.order(order.id).await.unwrap().state, OrderState::Paid);
    let p = store.payment(payment.id).await.unwrap();
    assert_eq!(
        (p.state.as_str(), p.gateway_txn.as_deref()),
        ("paid", Some("B001"))
    );
    let again = app
        .import_bank_statement(&finance(), fixed.as_bytes())
        .await
        .unwrap();
    assert!(again.matched.is_empty());
    assert_eq!(again.already, vec![2, 6]);
    // The same reference on a second credit is money paid twice: named for finance, not recorded.
    let twice = format!("流水号,金额,附言\nB009,80.00,{r}\n");
    let report = app
        .import_bank_statement(&finance(), twice.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        report.issues[0].reason,
        "该参考号已由流水 B001 付清，本笔为重复转账，请核对后退回付款账户"
    );

    // Refunds of transfers are recorded with the serial of the transfer that returned the money.
    let due = app.refunds_due(&finance()).await.unwrap();
    assert_eq!(
        due.iter().map(|p| p.id).collect::<Vec<_>>(),
        [late_payment.id]
    );
    match app.refund_payment(&finance(), late_payment.id).await {
        Err(AppError::Conflict(m)) => assert_eq!(
            m,
            "对公转账的款项没有原路退款：请通过银行退回付款账户后登记退款流水号"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        app.record_bank_refund(&finance(), late_payment.id, " ")
            .await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        app.record_bank_refund(&reviewer(), late_payment.id, "R1")
            .await,
        Err(AppError::Forbidden(_))
    ));
    let refunded = app
        .record_bank_refund(&finance(), late_payment.id, "OUT-77")
        .await
        .unwrap();
    assert_eq!(
        (refunded.state.as_str(), refunded.refund_txn.as_deref()),
        ("refunded", Some("OUT-77"))
    );
    assert!(matches!(
        app.record_bank_refund(&finance(), late_payment.id, "OUT-78")
            .await,
        Err(AppError::Conflict(_))
    ));

    // Only administrators import; a file without the needed columns is a clear error.
    assert!(matches!(
        app.import_bank_statement(&alice, fixed.as_bytes()).await,
        Err(AppError::Forbidden(_))
    ));
    match app.import_bank_statement(&finance(), b"a,b\n1,2").await {
        Err(AppError::BadInput(m)) => assert_eq!(
            m,
            "银行流水缺少必需的列：金额（或贷方金额、收入金额）、附言（或摘要、用途、备注）、流水号"
        ),
        other => panic!("{other:?}"),
    }

    // 对账日报 of today: two transfers received, one refunded.
    let today = Timestamp(app.now()).beijing_date();
    let day = app.finance_day(&finance(), &today).await.unwrap();
    let bank = day.channels.iter().find(|c| c.channel == "bank").unwrap();
    assert_eq!(
        (
            bank.paid_count,
            bank.paid,
            bank.refunded_count,
            bank.refunded
        ),
        (2, Fen(16_000), 1, Fen(8_000))
    );
    assert_eq!(day.net, Fen(8_000));
    assert_eq!(
        day.refund_due,
        Fen(0),
        "refunded the same day: nothing left to refund"
    );
    assert_eq!(day.payments.len(), 2);
    let yesterday = Timestamp(app.now() - 86_400).beijing_date();
    let quiet = app.finance_day(&finance(), &yesterday).await.unwrap();
    assert!(quiet.payments.is_empty());
    assert!(matches!(
        app.finance_day(&reviewer(), &today).await,
        Err(AppError::Forbidden(_))
    ));
    match app.finance_day(&finance(), "30/11/2026").await {
        Err(AppError::BadInput(m)) => assert_eq!(m, "日期应为 YYYY-MM-DD：30/11/2026"),
        other => panic!("{other:?}"),
    }
    let audit = store.audit_entries(None).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "bank_statement_imported")
            .count(),
        4
    );
}
on_both!(
    bank_transfer_sqlite,
    bank_transfer_postgres,
    bank_transfer_paid_by_statement
);

async fn reissue_and_mail(store: Store) {
    let e = env(store.clone());
    let app = &e.app;
    let (order, alice) = order_in(&store, "13700137000", OrderState::Completed).await;
    // The invoice the completion issued (written as the completion writes it).
    let first = Invoice {
        id: store.next_id(),
        order_id: order.id,
        number: "20261130000000000001".into(),
        body: serde_json::json!({"number": "20261130000000000001", "date": "2026-11-30", "order_no": order.order_no,
            "buyer": {"kind": "企业", "title": "北筑设计", "taxpayer_id": "91110108551385082Q", "mobile": "13700137000", "email": ""},
            "items": [{"name": "技术服务费", "quantity": 1, "amount_fen": 8000}], "total_fen": 8000}).to_string(),
        created_at: sealdesk_store::now_text(),
        ..Invoice::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_invoice(&first).await.unwrap();
    tx.commit().await.unwrap();

    let buyer = InvoiceInfo {
        kind: InvoiceKind::Enterprise,
        title: "北筑设计研究院有限公司".into(),
        taxpayer_id: "91110108551385082Q".into(),
        mobile: "13700137000".into(),
        email: "caiwu@beizhu.example.com".into(),
        ..InvoiceInfo::default()
    };
    match app
        .reissue_invoice(&finance(), order.id, first.id, "  ", &buyer)
        .await
    {
        Err(AppError::Invalid(errs)) => assert_eq!(errs[0].message, "请填写作废原因"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        app.reissue_invoice(&alice, order.id, first.id, "名称有误", &buyer)
            .await,
        Err(AppError::Forbidden(_))
    ));
    let new = app
        .reissue_invoice(&finance(), order.id, first.id, "购买方名称有误", &buyer)
        .await
        .unwrap();
    assert_ne!(new.number, first.number);
    assert_eq!(new.replaces, Some(first.id));
    let body: serde_json::Value = serde_json::from_str(&new.body).unwrap();
    assert_eq!(body["buyer"]["title"], "北筑设计研究院有限公司");
    assert_eq!(
        (body["total_fen"].as_i64(), body["replaces"].as_str()),
        (Some(8000), Some("20261130000000000001"))
    );
    // The voided one stays, with its reason; the order's invoice is the new one.
    let all = app.invoices_of(&alice, order.id).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].void_reason.as_deref(), Some("购买方名称有误"));
    assert!(all[0].voided_at.is_some() && all[1].voided_at.is_none());
    assert_eq!(store.invoice(order.id).await.unwrap().unwrap().id, new.id);
    // A stale page re-issuing the voided invoice again is refused, nothing changes.
    match app
        .reissue_invoice(&finance(), order.id, first.id, "购买方名称有误", &buyer)
        .await
    {
        Err(AppError::Conflict(m)) => assert_eq!(
            m,
            "该发票已被作废（可能已有同事重开），请刷新页面后查看当前发票"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.invoices_of(&alice, order.id).await.unwrap().len(), 2);
    let day = app
        .finance_day(&finance(), &Timestamp(app.now()).beijing_date())
        .await
        .unwrap();
    assert_eq!(day.invoices.len(), 2);
    assert_eq!(
        day.invoiced,
        Fen(8_000),
        "the voided invoice does not count"
    );

    // The e-mail queued with the new invoice leaves through the relay with the invoice PDF attached.
    let mails = store.mail_deliveries(10).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        (mails[0].to_addr.as_str(), mails[0].status.as_str()),
        ("caiwu@beizhu.example.com", "pending")
    );
    let fake = SmtpFake::new("invoice@seal.example.com", "s3cret");
    let port = fake.start().await;
    let vars = [
        ("SEALDESK_SMTP_HOST", "127.0.0.1".to_owned()),
        ("SEALDESK_SMTP_PORT", port.to_string()),
        ("SEALDESK_SMTP_SECURITY", "none".to_owned()),
        ("SEALDESK_SMTP_USER", "invoice@seal.example.com".to_owned()),
        ("SEALDESK_SMTP_PASSWORD", "s3cret".to_owned()),
        ("SEALDESK_MAIL_FROM", "invoice@seal.example.com".to_owned()),
    ];
    let get = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
    let mailer = SmtpMailer::new(&SmtpConfig::from_lookup(&get).unwrap().unwrap()).unwrap();
    let sender = app.mail_sender(Arc::new(mailer), RetryPolicy::default());
    let round = sender.run_once().await.unwrap();
    assert_eq!(
        round,
        SendRound {
            sent: 1,
            retried: 0,
            failed: 0
        }
    );
    assert_eq!(
        sender.run_once().await.unwrap(),
        SendRound::default(),
        "sent once"
    );
    let got = fake.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["caiwu@beizhu.example.com"]);
    let pdf = part(&got[0].data, "application/pdf").unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(store.mail_deliveries(10).await.unwrap()[0].status, "sent");
}
on_both!(reissue_sqlite, reissue_postgres, reissue_and_mail);
