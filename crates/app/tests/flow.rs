//! The whole 新办 through the use cases, on SQLite and on PostgreSQL: a real soft token, a generated stamped
//! 印模采集表, real SM2 seals; and the refusals that keep applicants and operators to their own.

mod common;

use common::*;
use sealdesk_adapters::token::SoftToken;
use sealdesk_app::*;
use sealdesk_domain::*;
use sealdesk_store::{OrderFilter, Store};

async fn story(store: Store) {
    let e = env(store.clone()).await;
    let app = &e.app;
    let group = store.create_group("A组").await.unwrap();
    let project = store
        .create_project(
            "testCSQY",
            "南昌市城建档案馆",
            DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
            Some(group.id),
        )
        .await
        .unwrap();
    store
        .create_project("other", "别的项目", Fen(1), None)
        .await
        .unwrap();
    app.ensure_operator("reviewer", "correct horse", false)
        .await
        .unwrap();
    let op_id = store.operator_by_name("reviewer").await.unwrap().id;
    store.add_to_group(group.id, op_id).await.unwrap();
    app.ensure_operator("outsider", "battery staple", false)
        .await
        .unwrap();

    let alice = sign_in(app, "13800138000").await;
    let mallory = sign_in(app, "13900139000").await;
    assert!(bad_credentials(
        app.sign_in_operator("reviewer", "wrong", "127.0.0.1").await,
        "用户名或密码不正确"
    ));
    assert!(bad_credentials(
        app.sign_in_operator("nobody", "wrong", "127.0.0.1").await,
        "用户名或密码不正确"
    ));
    let reviewer = who(app
        .sign_in_operator("reviewer", "correct horse", "127.0.0.1")
        .await
        .unwrap()
        .principal);
    let outsider = who(app
        .sign_in_operator("outsider", "battery staple", "127.0.0.1")
        .await
        .unwrap()
        .principal);

    // 申请: a draft, priced by the server at 80 元 × 2 seals × 1 year.
    let order = app.create_order(&alice, "testCSQY", &form()).await.unwrap();
    assert_eq!(order.total, Fen(16_000));
    assert_eq!(order.state, OrderState::Draft);
    assert!(order.order_no.starts_with("KG-testCSQY-"));

    // Submitting without the files names each missing one.
    let Err(AppError::Invalid(errs)) = app.submit(&alice, order.id).await else {
        panic!("submitted without uploads")
    };
    assert_eq!(errs.len(), 4, "{errs:?}");

    let stamped =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150);
    for kind in [UploadKind::IdFront, UploadKind::IdBack, UploadKind::Licence] {
        app.add_upload(&alice, order.id, kind, "scan.jpg", stamped.jpeg.clone())
            .await
            .unwrap();
    }
    // A file that is not what its name says is refused and nothing is kept.
    assert!(matches!(
        app.add_upload(
            &alice,
            order.id,
            UploadKind::IdFront,
            "x.jpg",
            b"MZ not an image".to_vec()
        )
        .await,
        Err(AppError::Invalid(_))
    ));
    let err = app
        .add_upload(
            &alice,
            order.id,
            UploadKind::IdFront,
            "x.pdf",
            one_page_pdf(),
        )
        .await
        .unwrap_err();
    assert!(
        invalid_field(&err, "uploads.id_front", "只支持 JPG、PNG 图片"),
        "PDF only for the impression form: {err:?}"
    );
    let up = app
        .add_upload(
            &alice,
            order.id,
            UploadKind::ImpressionForm,
            "印模采集表.jpg",
            stamped_form(app, &alice, &order).await,
        )
        .await
        .unwrap();
    assert_eq!(up.impressions.unwrap(), Ok(2));
    assert!(up.problems.is_empty(), "{:?}", up.problems);
    assert_eq!(store.uploads(order.id).await.unwrap().len(), 4);

    // Mallory sees nothing of Alice's, not even that it exists.
    assert!(matches!(
        app.order_view(&mallory, order.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.upload_bytes(&mallory, up.meta.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        app.submit(&mallory, order.id).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(
        app.list_orders(
            &mallory,
            OrderFilter {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .1,
        0
    );

    let order = app.submit(&alice, order.id).await.unwrap();
    assert_eq!(order.state, OrderState::PendingReview);
    assert!(
        matches!(app.update_order(&alice, order.id, &form()).await,
            Err(AppError::Conflict(m)) if m == "订单状态为「待审核」，不能再修改"),
        "no edits while under review"
    );

    // 审核: an operator outside the project's group cannot see or act; the right one rejects, then approves.
    assert!(matches!(
        app.approve(&outsider, order.id).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(
        app.list_orders(
            &outsider,
            OrderFilter {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .1,
        0
    );
    assert!(matches!(
        app.approve(&alice, order.id).await,
        Err(AppError::Forbidden(_))
    ));
    assert!(invalid_field(
        &app.reject(&reviewer, order.id, "  ").await.unwrap_err(),
        "comment",
        "请填写审核意见"
    ));
    let order = app
        .reject(&reviewer, order.id, "证件识别企业证件号与填写的不符")
        .await
        .unwrap();
    assert_eq!(order.state, OrderState::Rejected);
    let sms = app.demo_outbox(Some("13800138000")).await.unwrap();
    assert!(
        sms[0].text.contains("申请资料未通过审核"),
        "{}",
        sms[0].text
    );
    app.update_order(&alice, order.id, &form()).await.unwrap();
    app.submit(&alice, order.id).await.unwrap();
    let order = app.approve(&reviewer, order.id).await.unwrap();
    assert_eq!(order.state, OrderState::PendingPayment);
    assert!(
        matches!(
            app.approve(&reviewer, order.id).await,
            Err(AppError::Conflict(_))
        ),
        "approving twice is refused"
    );
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::PendingPayment
    );

    // 支付: invoice details first; a forged notification moves nothing; the sandbox cashier's signed one does.
    assert!(invalid_field(
        &app.start_payment(&alice, order.id, "sandbox")
            .await
            .unwrap_err(),
        "invoice",
        "请先确认发票信息"
    ));
    let invoice = InvoiceInfo {
        kind: InvoiceKind::Enterprise,
        title: "北筑设计研究院有限公司".into(),
        taxpayer_id: "91110108551385082Q".into(),
        mobile: "13800138000".into(),
        email: String::new(),
        ..InvoiceInfo::default()
    };
    app.confirm_invoice(&alice, order.id, &invoice)
        .await
        .unwrap();
    let (payment, url) = app
        .start_payment(&alice, order.id, "sandbox")
        .await
        .unwrap();
    assert_eq!(payment.amount, Fen(16_000));
    assert!(url.ends_with(&payment.id.to_string()));
    let forged = format!(
        "out_trade_no={}&trade_no=X&total_amount=160.00&trade_status=TRADE_SUCCESS&sign_type=SM2&sign=AAAA",
        payment.id
    );
    assert!(matches!(
        app.payment_notified("sandbox", forged.as_bytes(), "1.2.3.4").await,
        Err(AppError::BadInput(m)) if m == "支付通知无效：bad signature"
    ));
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::PendingPayment
    );
    let order = app.sandbox_pay(&alice, payment.id).await.unwrap();
    assert_eq!(order.state, OrderState::Paid);
    let again = app.sandbox_pay(&alice, payment.id).await.unwrap();
    assert_eq!(
        again.version, order.version,
        "a repeated notification changes nothing"
    );

    // 授权 + 制章 with the soft token's certificate.
    let mut token = SoftToken::open(&e.token_dir).unwrap();
    let foreign_ca = sealdesk_pki::KeyPair::generate().unwrap();
    let foreign = sealdesk_pki::self_signed(
        &sealdesk_pki::CertSpec::new("C=CN,CN=假证书", sealdesk_pki::Usage::Ca, 0, 4_000_000_000),
        &foreign_ca,
    )
    .unwrap();
    let ch = app.authorize_challenge(&alice, order.id).await.unwrap();
    let err = app
        .authorize(&alice, order.id, foreign.der(), &ch.nonce, &[0; 64])
        .await
        .unwrap_err();
    assert!(
        invalid_field(&err, "cert", "不是受信任的 CA 签发的"),
        "{err:?}"
    );
    let order = authorize_with(app, &alice, order.id, &mut token)
        .await
        .unwrap();
    assert_eq!(
        order.key.as_ref().unwrap().serial,
        token.cert().serial_hex().to_uppercase(),
        "the key serial is the certificate's, not typed"
    );
    assert_eq!(order.state, OrderState::Made);
    let seals = app.seals(&alice, order.id).await.unwrap();
    assert_eq!(seals.len(), 2);
    let trust = [app.trust_pems()[0].clone()];
    for s in &seals {
        let report = sealdesk_ses::verify_seal(
            &s.der,
            &sealdesk_ses::VerifyOptions {
                trust: trust
                    .iter()
                    .map(|p| sealdesk_pki::Cert::from_pem(p).unwrap().der().to_vec())
                    .collect(),
                at: sealdesk_domain::Timestamp::parse_rfc3339(&s.valid_start)
                    .unwrap()
                    .0
                    + 60,
                check_chain: true,
            },
        );
        assert!(report.valid, "{:?}", report.checks);
        let Ok(sealdesk_ses::Parsed::Seal(parsed)) = sealdesk_ses::parse(&s.der) else {
            panic!("not a seal")
        };
        assert_eq!(
            parsed.property.cert_list,
            sealdesk_ses::CertList::Certs(vec![token.cert().der().to_vec()])
        );
    }
    assert_eq!(seals[1].name, "北筑设计研究院有限公司资质专用章");

    // 写入: a receipt from another key is refused; the token's own completes the order and issues the invoice.
    let other = sealdesk_pki::KeyPair::generate().unwrap();
    let bad: Vec<WriteReceipt> = seals
        .iter()
        .map(|s| WriteReceipt {
            es_id: s.es_id.clone(),
            signature: other.sign(&s.der),
        })
        .collect();
    assert!(invalid_field(
        &app.confirm_written(&alice, order.id, &bad)
            .await
            .unwrap_err(),
        "receipts",
        "未确认写入到授权的证书锁"
    ));
    let receipts: Vec<WriteReceipt> = seals
        .iter()
        .map(|s| WriteReceipt {
            es_id: s.es_id.clone(),
            signature: token.write_seal("12345678", &s.es_id, &s.der).unwrap(),
        })
        .collect();
    let order = app
        .confirm_written(&alice, order.id, &receipts)
        .await
        .unwrap();
    assert_eq!(order.state, OrderState::Completed);
    let view = app.order_view(&reviewer, order.id).await.unwrap();
    let inv: serde_json::Value = serde_json::from_str(&view.invoice.unwrap().body).unwrap();
    assert_eq!(inv["total_capitals"], "壹佰陆拾元整");
    assert_eq!(token.seals().unwrap().len(), 2);

    // Every step is in the audit chain, which verifies.
    let trail: Vec<String> = app
        .order_audit(&alice, order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for step in [
        "create",
        "upload",
        "submit",
        "reject",
        "edit",
        "approve",
        "invoice_info",
        "payment_confirmed",
        "authorize",
        "seal_issued",
        "make",
        "confirm_written",
    ] {
        assert!(
            trail.iter().any(|a| a == step),
            "{step} missing from {trail:?}"
        );
    }
    assert!(matches!(app.verify_audit().await.unwrap(), Ok(n) if n as usize >= trail.len()));
    let texts: Vec<String> = app
        .demo_outbox(Some("13800138000"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(texts.iter().any(|t| t.contains("申请资料已审核通过")));
    assert!(texts.iter().any(|t| t.contains("电子发票已开具")));
    let _ = project;
}

#[tokio::test]
async fn new_order_from_application_to_seal_on_the_key_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    story(store).await;
}

#[tokio::test]
async fn new_order_from_application_to_seal_on_the_key_postgres() {
    let (store, drop_db) = sealdesk_store::testing::fresh_postgres("appflow").await;
    story(store.clone()).await;
    store.close().await;
    drop_db.await;
}

/// A stamped form without a readable seal passes review by mistake: after 授权 the order is paid for, so the
/// applicant may replace just that form and retry 制章, and nothing else.
#[tokio::test]
async fn an_unstamped_form_cannot_be_submitted_and_the_stamped_one_makes_the_seals() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    let e = env(store.clone()).await;
    let app = &e.app;
    let group = store.create_group("A组").await.unwrap();
    store
        .create_project(
            "testCSQY",
            "南昌市城建档案馆",
            DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
            Some(group.id),
        )
        .await
        .unwrap();
    app.ensure_operator("reviewer", "correct horse", false)
        .await
        .unwrap();
    store
        .add_to_group(
            group.id,
            store.operator_by_name("reviewer").await.unwrap().id,
        )
        .await
        .unwrap();
    let alice = sign_in(app, "13800138000").await;
    let reviewer = who(app
        .sign_in_operator("reviewer", "correct horse", "127.0.0.1")
        .await
        .unwrap()
        .principal);

    let order = app.create_order(&alice, "testCSQY", &form()).await.unwrap();
    let stamped =
        sealdesk_artwork::testkit::generate(0x5ea2, sealdesk_artwork::testkit::FormSpec::A4_150);
    for kind in [UploadKind::IdFront, UploadKind::IdBack, UploadKind::Licence] {
        app.add_upload(&alice, order.id, kind, "scan.jpg", stamped.jpeg.clone())
            .await
            .unwrap();
    }
    // A page with no ink at all: a valid scan, but no seal on it.
    let white = white_jpeg(&stamped.jpeg);
    let up = app
        .add_upload(
            &alice,
            order.id,
            UploadKind::ImpressionForm,
            "form.jpg",
            white,
        )
        .await
        .unwrap();
    assert_eq!(
        up.impressions.unwrap(),
        Ok(0),
        "the pre-check warns: no seal on the form"
    );
    // An unstamped form cannot go to review: nothing could make the seals from it.
    let err = app.submit(&alice, order.id).await.unwrap_err();
    assert!(
        invalid_field(
            &err,
            "uploads.impression_form",
            "印模采集表上没有找到印章，请在本订单的印模采集表各框内盖章后重新扫描上传"
        ),
        "{err:?}"
    );
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::Draft
    );
    app.add_upload(
        &alice,
        order.id,
        UploadKind::ImpressionForm,
        "form2.jpg",
        stamped_form(app, &alice, &order).await,
    )
    .await
    .unwrap();
    let made = submitted_to_made(&e, &store, &alice, &reviewer, order.id).await;
    assert_eq!(made.state, OrderState::Made);
    assert_eq!(store.seals(order.id).await.unwrap().len(), 2);
}

/// The same scan with every pixel turned white: a readable JPEG of the same size with no ink.
fn white_jpeg(jpeg: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(jpeg).unwrap();
    let white = image::RgbImage::from_pixel(img.width(), img.height(), image::Rgb([250, 250, 250]));
    let mut out = std::io::Cursor::new(Vec::new());
    white.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The application reads one clock, which a test sets: codes expire after 5 minutes, a second code may be asked
/// for after a minute, sessions end after 12 hours, and what is stored carries the clock's time.
#[tokio::test]
async fn the_clock_a_test_sets_decides_expiry_and_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    store
        .create_project(
            "testCSQY",
            "南昌市城建档案馆",
            DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
            None,
        )
        .await
        .unwrap();
    let start = Timestamp::parse_rfc3339("2027-01-15T08:00:00Z").unwrap();
    let clock = ManualClock::at(start);
    let e = env_with_clock(store, std::sync::Arc::new(clock.clone())).await;
    let app = &e.app;
    let mobile = "13800138000";
    app.send_login_code(mobile, "127.0.0.1").await.unwrap();
    clock.advance(30);
    assert!(
        matches!(app.send_login_code(mobile, "127.0.0.1").await, Err(AppError::RateLimited(m)) if m == "验证码已发送，请 30 秒后再试")
    );
    let code: String = app.demo_outbox(Some(mobile)).await.unwrap()[0]
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    clock.advance(300 - 30);
    assert!(
        matches!(app.sign_in_with_code(mobile, &code, "127.0.0.1").await, Err(AppError::BadCredentials(m)) if m == "验证码已过期，请重新获取")
    );
    let me = sign_in(app, mobile).await;
    let s = app.sign_in_with_code(mobile, "x", "127.0.0.1").await;
    assert!(s.is_err(), "the code was used");
    let o = app.create_order(&me, "testCSQY", &form()).await.unwrap();
    assert_eq!(o.created_at, "2027-01-15T08:05:00Z");
    // Sessions: the one just made is good until 12 hours later.
    app.send_login_code("13900139000", "127.0.0.1")
        .await
        .unwrap();
    let code: String = app.demo_outbox(Some("13900139000")).await.unwrap()[0]
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let si = app
        .sign_in_with_code("13900139000", &code, "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(si.expires_at, start.0 + 300 + 12 * 3600);
    clock.advance(12 * 3600 - 1);
    assert!(app.session(&si.token).await.is_ok());
    clock.advance(1);
    assert!(matches!(
        app.session(&si.token).await,
        Err(AppError::Unauthenticated)
    ));
}

/// 续期 through the use cases: the renewal takes the earlier order's standing seals (seals typed on the form are
/// ignored), needs no 印模采集表, and makes each new seal with the earlier seal's own picture, kind and name and a
/// later end of validity; once the key's certificate has expired, a renewal is refused before any payment, with
/// the reason and what to do first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_makes_the_same_seals_again_without_a_form() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = ManualClock::at(Timestamp(now));
    let e = env_with_clock(store.clone(), std::sync::Arc::new(clock.clone())).await;
    let app = &e.app;
    let reviewer = project_and_reviewer(app, &store).await;
    let alice = sign_in(app, "13800138000").await;
    let mut token = SoftToken::open(&e.token_dir).unwrap();
    let first = paid_order(app, &alice, &reviewer, &form()).await;
    let first = authorize_with(app, &alice, first.id, &mut token)
        .await
        .unwrap();
    assert_eq!(first.state, OrderState::Made);
    write_and_confirm(app, &alice, first.id, &mut token).await;
    clock.advance(86_400);

    let mut renewal = form();
    renewal.service = Some(Service::Renewal);
    renewal.previous_order = Some(first.id);
    renewal.seals = vec![SealLine {
        kind: SealKind::EnterpriseOther,
        count: 3,
        name: "别的章".into(),
    }];
    let r = app
        .create_order(&alice, "testCSQY", &renewal)
        .await
        .unwrap();
    assert_eq!(
        r.seals, first.seals,
        "the earlier order's seals, not the typed ones"
    );
    assert_eq!(r.total, first.total);
    let scan =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150)
            .jpeg;
    for kind in [UploadKind::IdFront, UploadKind::IdBack, UploadKind::Licence] {
        app.add_upload(&alice, r.id, kind, "scan.jpg", scan.clone())
            .await
            .unwrap();
    }
    app.submit(&alice, r.id).await.unwrap();
    app.approve(&reviewer, r.id).await.unwrap();
    app.confirm_invoice(&alice, r.id, &personal_invoice())
        .await
        .unwrap();
    let (payment, _) = app.start_payment(&alice, r.id, "sandbox").await.unwrap();
    app.sandbox_pay(&alice, payment.id).await.unwrap();
    let made = authorize_with(app, &alice, r.id, &mut token).await.unwrap();
    assert_eq!(made.state, OrderState::Made);
    let old = app.seals(&alice, first.id).await.unwrap();
    let new = app.seals(&alice, r.id).await.unwrap();
    assert_eq!(new.len(), 2);
    for (o, n) in old.iter().zip(&new) {
        assert_eq!((n.kind, &n.name), (o.kind, &o.name));
        assert!(
            n.picture_png == o.picture_png,
            "{}: the same picture",
            n.es_id
        );
        assert!(n.valid_end > o.valid_end, "{} ends later", n.es_id);
        assert_ne!(n.es_id, o.es_id);
    }

    // The key's certificate has expired: refused on creating, and a draft made before is refused on submitting,
    // before any payment.
    let draft = app
        .create_order(&alice, "testCSQY", &renewal)
        .await
        .unwrap();
    let (_, not_after) = token.cert().validity();
    clock.set(Timestamp(not_after + 86_400));
    let want = certificate_expired_message(not_after);
    assert!(want.contains("请先办理证书续期"), "{want}");
    let err = app
        .create_order(&alice, "testCSQY", &renewal)
        .await
        .unwrap_err();
    assert!(invalid_field(&err, "previous_order", &want), "{err:?}");
    let err = app.submit(&alice, draft.id).await.unwrap_err();
    assert!(invalid_field(&err, "previous_order", &want), "{err:?}");
    assert_eq!(
        store.order(draft.id).await.unwrap().state,
        OrderState::Draft
    );
    // Read from the key, the expired certificate is refused the same way, and lists the orders it may renew.
    let old_cert = token.cert().der().to_vec();
    let err = app
        .create_order_from_key(&alice, "testCSQY", &renewal, &old_cert)
        .await
        .unwrap_err();
    assert!(invalid_field(&err, "previous_order", &want), "{err:?}");
    assert_eq!(app.certificate_expired(&old_cert), Some(want.clone()));
    let listed = app.key_orders(&alice, &old_cert).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.order.id == first.id && !k.cert_changed),
        "bound to this very certificate"
    );

    // The holder renews the certificate first (the seed's order of things): the key now holds a new one of the
    // same holder, and the renewal started from the key goes ahead, says so, and binds the new certificate.
    let renewed_key = sealdesk_pki::KeyPair::generate().unwrap();
    let spec = sealdesk_pki::CertSpec::new(
        "C=CN,O=北筑设计研究院有限公司,CN=北筑设计研究院有限公司",
        sealdesk_pki::Usage::Signing,
        not_after,
        365 * 86_400,
    );
    let renewed = sealdesk_pki::issue(&spec, renewed_key.public(), &e.ca.key, &e.ca.cert).unwrap();
    assert!(app.certificate_expired(renewed.der()).is_none());
    let listed = app.key_orders(&alice, renewed.der()).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.order.id == first.id && k.cert_changed),
        "the earlier order is found by its holder, flagged as made with the earlier certificate"
    );
    let from_key = app
        .create_order_from_key(&alice, "testCSQY", &renewal, renewed.der())
        .await
        .unwrap();
    assert_eq!(
        from_key.key.as_ref().map(|k| k.serial.clone()),
        Some(renewed.serial_hex().to_uppercase())
    );
    assert_eq!(
        app.certificate_change(&alice, from_key.id).await.unwrap(),
        Some((
            token.cert().serial_hex().to_uppercase(),
            renewed.serial_hex().to_uppercase()
        ))
    );
    // Another holder's certificate does not start a renewal of this holder's seals.
    let stranger = sealdesk_pki::issue(
        &sealdesk_pki::CertSpec::new(
            "C=CN,O=别的公司,CN=别的公司",
            sealdesk_pki::Usage::Signing,
            not_after,
            365 * 86_400,
        ),
        renewed_key.public(),
        &e.ca.key,
        &e.ca.cert,
    )
    .unwrap();
    assert!(
        app.key_orders(&alice, stranger.der())
            .await
            .unwrap()
            .is_empty()
    );
    let err = app
        .create_order_from_key(&alice, "testCSQY", &renewal, stranger.der())
        .await
        .unwrap_err();
    assert!(
        invalid_field(&err, "cert", "证书持有人与订单不符"),
        "{err:?}"
    );
}

/// 补办 through the use cases: the key is lost, so the seals of the earlier order are made again onto a new key
/// (a second soft token of the same holder) with their own pictures when no new 印模采集表 is uploaded, and the
/// earlier seals are revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reissue_moves_the_seals_to_a_new_key_with_their_pictures() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    let e = env(store.clone()).await;
    let app = &e.app;
    let reviewer = project_and_reviewer(app, &store).await;
    let alice = sign_in(app, "13800138000").await;
    let mut lost = SoftToken::open(&e.token_dir).unwrap();
    let first = paid_order(app, &alice, &reviewer, &form()).await;
    let first = authorize_with(app, &alice, first.id, &mut lost)
        .await
        .unwrap();
    let mut new_key = SoftToken::init(
        &e.tmp.path().join("ukey-2"),
        "12345678",
        &e.ca,
        "enterprise",
        "北筑设计研究院有限公司",
    )
    .unwrap();
    assert_ne!(new_key.cert().serial_hex(), lost.cert().serial_hex());

    let mut reissue = form();
    reissue.service = Some(Service::Reissue);
    reissue.previous_order = Some(first.id);
    reissue.seals.clear();
    let r = app
        .create_order(&alice, "testCSQY", &reissue)
        .await
        .unwrap();
    assert_eq!(r.seals, first.seals);
    assert!(r.keeps_pictures());
    assert!(!r.required_uploads().contains(&UploadKind::ImpressionForm));
    let scan =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150)
            .jpeg;
    for kind in r.required_uploads() {
        app.add_upload(&alice, r.id, kind, "scan.jpg", scan.clone())
            .await
            .unwrap();
    }
    app.submit(&alice, r.id).await.unwrap();
    app.approve(&reviewer, r.id).await.unwrap();
    app.confirm_invoice(&alice, r.id, &personal_invoice())
        .await
        .unwrap();
    let (payment, _) = app.start_payment(&alice, r.id, "sandbox").await.unwrap();
    app.sandbox_pay(&alice, payment.id).await.unwrap();
    let made = authorize_with(app, &alice, r.id, &mut new_key)
        .await
        .unwrap();
    assert_eq!(made.state, OrderState::Made);
    assert_eq!(
        made.key.unwrap().serial,
        new_key.cert().serial_hex().to_uppercase()
    );
    let old = app.seals(&alice, first.id).await.unwrap();
    let new = app.seals(&alice, r.id).await.unwrap();
    assert_eq!(new.len(), old.len());
    for (o, n) in old.iter().zip(&new) {
        assert_eq!((n.kind, &n.name), (o.kind, &o.name));
        assert!(
            n.picture_png == o.picture_png,
            "{}: the same picture",
            n.es_id
        );
        let standing = store.seal_standing(&o.es_id).await.unwrap().unwrap();
        assert!(standing.revoked_at.is_some(), "{} revoked", o.es_id);
    }
}

/// A fresh SQLite store with the app on it, the administrator `reviewer`, alice signed in, and alice's order of
/// [`form`] taken to 已完成 with the env's soft token.
struct Completed {
    _tmp: tempfile::TempDir,
    store: Store,
    e: Env,
    reviewer: Who,
    alice: Who,
    token: SoftToken,
    order: Order,
}

async fn completed() -> Completed {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    let e = env(store.clone()).await;
    let app = &e.app;
    let reviewer = project_and_reviewer(app, &store).await;
    let alice = sign_in(app, "13800138000").await;
    let mut token = SoftToken::open(&e.token_dir).unwrap();
    let order = paid_order(app, &alice, &reviewer, &form()).await;
    authorize_with(app, &alice, order.id, &mut token)
        .await
        .unwrap();
    let order = write_and_confirm(app, &alice, order.id, &mut token).await;
    Completed {
        _tmp: tmp,
        store,
        e,
        reviewer,
        alice,
        token,
        order,
    }
}

/// Writes an order's made seals onto `token` and confirms them with the key's receipts.
async fn write_and_confirm(app: &App, who: &Who, id: i64, token: &mut SoftToken) -> Order {
    // What the agent writes: the seals that stand (a seal 重新制章 replaced is not written).
    let receipts: Vec<WriteReceipt> = app
        .seals(who, id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| !m.revoked)
        .map(|m| WriteReceipt {
            signature: token.write_seal("12345678", &m.es_id, &m.der).unwrap(),
            es_id: m.es_id,
        })
        .collect();
    app.confirm_written(who, id, &receipts).await.unwrap()
}

/// An order that acts on some of an earlier order's seals, from creation to 已制章: scans (and the stamped form
/// when it needs one) uploaded, submitted, approved, paid and authorised with `token`.
async fn chosen_to_made(
    e: &Env,
    who: &Who,
    reviewer: &Who,
    form: &OrderForm,
    token: &mut SoftToken,
    stamp: Option<Vec<u8>>,
) -> Order {
    let app = &e.app;
    let o = app.create_order(who, "testCSQY", form).await.unwrap();
    let scan =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150)
            .jpeg;
    for kind in o.required_uploads() {
        let bytes = match (kind, &stamp) {
            (UploadKind::ImpressionForm, Some(png)) => {
                let mut sheet = printed_form(app, who, &o).await;
                sheet.press(png, box_centre(&o, 0)).unwrap();
                sheet.jpeg()
            }
            _ => scan.clone(),
        };
        app.add_upload(who, o.id, kind, "scan.jpg", bytes)
            .await
            .unwrap();
    }
    app.submit(who, o.id).await.unwrap();
    app.approve(reviewer, o.id).await.unwrap();
    app.confirm_invoice(who, o.id, &personal_invoice())
        .await
        .unwrap();
    let (payment, _) = app.start_payment(who, o.id, "sandbox").await.unwrap();
    app.sandbox_pay(who, payment.id).await.unwrap();
    let made = authorize_with(app, who, o.id, token).await.unwrap();
    assert_eq!(made.state, OrderState::Made);
    made
}

/// 续期 and 变更 of chosen seals: the applicant picks which of the earlier order's seals the order acts on. A
/// renewal of the second seal only costs one seal and renews that seal's picture and name; a 变更 of the first
/// seal under a new name has one box on its form, makes the new seal from the impression stamped there, and, once
/// it is on the key, revokes that seal only. A seal that is not one of the earlier order's standing seals is
/// refused by its esID, and one already replaced cannot be chosen again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_and_change_act_only_on_the_chosen_seals() {
    let Completed {
        _tmp,
        store,
        e,
        reviewer,
        alice,
        mut token,
        order: first,
    } = completed().await;
    let app = &e.app;
    let old = app.seals(&alice, first.id).await.unwrap();
    assert_eq!(old.len(), 2);
    let pick = |es_id: &str, name: &str| ChosenSeal {
        es_id: es_id.into(),
        name: name.into(),
    };

    // 续期 of the 资质专用章 only.
    let mut renewal = form();
    renewal.service = Some(Service::Renewal);
    renewal.previous_order = Some(first.id);
    renewal.chosen_seals = vec![pick("SD999901", "")];
    let err = app
        .create_order(&alice, "testCSQY", &renewal)
        .await
        .unwrap_err();
    assert!(
        invalid_field(
            &err,
            "chosen_seals",
            "印章 SD999901 不是原订单的有效印章（可能已被注销），请重新选择"
        ),
        "{err:?}"
    );
    renewal.chosen_seals = vec![pick(&old[1].es_id, "改名无效")];
    let draft = app
        .create_order(&alice, "testCSQY", &renewal)
        .await
        .unwrap();
    assert_eq!(
        draft.seals,
        vec![SealLine {
            kind: old[1].kind,
            count: 1,
            name: old[1].name.clone()
        }],
        "a renewal renews the chosen seal as it was (names are typed only for a 变更)"
    );
    assert_eq!(draft.total, Fen(8_000));
    assert_eq!(draft.chosen_seals, vec![pick(&old[1].es_id, "")]);
    app.cancel(&alice, draft.id).await.unwrap();
    // Validity is kept to the second: made within the same second as the first seals, the renewal would end at
    // the same second too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let renewed = chosen_to_made(&e, &alice, &reviewer, &renewal, &mut token, None).await;
    let new = app.seals(&alice, renewed.id).await.unwrap();
    assert_eq!(new.len(), 1);
    assert!(new[0].picture_png == old[1].picture_png);
    assert!(new[0].valid_end > old[1].valid_end);
    assert_eq!(
        app.replaced_seals(&alice, renewed.id).await.unwrap(),
        vec![old[1].es_id.clone()]
    );
    write_and_confirm(app, &alice, renewed.id, &mut token).await;
    for m in &old {
        assert!(
            store
                .seal_standing(&m.es_id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none(),
            "a renewal revokes nothing: {}",
            m.es_id
        );
    }

    // 变更 of the 公章 under a new name, from a new impression in the one box of its form.
    let mut change = form();
    change.service = Some(Service::Change);
    change.previous_order = Some(first.id);
    change.chosen_seals = vec![pick(&old[0].es_id, "北筑设计研究院（集团）有限公司")];
    let changed = chosen_to_made(
        &e,
        &alice,
        &reviewer,
        &change,
        &mut token,
        Some(official_stamp()),
    )
    .await;
    assert_eq!(
        changed.seals,
        vec![SealLine {
            kind: SealKind::OfficialSeal,
            count: 1,
            name: "北筑设计研究院（集团）有限公司".into()
        }]
    );
    assert_eq!(changed.total, Fen(8_000));
    let made = app.seals(&alice, changed.id).await.unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].name, "北筑设计研究院（集团）有限公司");
    let iou =
        sealdesk_artwork::testkit::picture_iou(&made[0].picture_png, &official_stamp()).unwrap();
    assert!(
        iou > 0.85,
        "the new seal carries the stamp from its box: IoU {iou}"
    );
    let standing = |es_id: String| {
        let store = store.clone();
        async move {
            store
                .seal_standing(&es_id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        }
    };
    assert!(
        standing(old[0].es_id.clone()).await,
        "the replaced seal stands until its replacement is on the key"
    );
    assert_eq!(
        app.replaced_seals(&alice, changed.id).await.unwrap(),
        vec![old[0].es_id.clone()]
    );
    write_and_confirm(app, &alice, changed.id, &mut token).await;
    assert!(!standing(old[0].es_id.clone()).await, "the 公章 is revoked");
    assert!(
        standing(old[1].es_id.clone()).await,
        "the 资质专用章 is not"
    );
    let err = app
        .create_order(&alice, "testCSQY", &change)
        .await
        .unwrap_err();
    assert!(
        invalid_field(
            &err,
            "chosen_seals",
            &format!(
                "印章 {} 不是原订单的有效印章（可能已被注销），请重新选择",
                old[0].es_id
            )
        ),
        "{err:?}"
    );
}

/// The 注册建造师 执业印章 the personal test presses: the blue frame, 50 × 36 mm.
fn constructor_stamp() -> Vec<u8> {
    let mut req = sealdesk_artwork::RenderRequest::new(sealdesk_artwork::Style::Frame, "李四");
    req.code = Some("赣136060812345".into());
    sealdesk_artwork::render(&req).unwrap()
}

/// Strokes as the pad posts them: a short two-stroke signature drawn with a pen.
fn pad_json() -> String {
    serde_json::json!({"version": 1, "width": 600.0, "height": 240.0, "strokes": [
        {"pointer": "pen", "points": [[40.0, 150.0, 0.3, 0.0], [120.0, 90.0, 0.6, 40.0], [200.0, 160.0, 0.8, 80.0], [300.0, 100.0, 0.5, 120.0]]},
        {"pointer": "pen", "points": [[350.0, 80.0, 0.4, 300.0], [420.0, 170.0, 0.7, 340.0], [520.0, 120.0, 0.5, 380.0]]}
    ]})
    .to_string()
}

/// 在线手写签字 for a personal key: a person orders a 注册建造师 执业印章 and a 手写签字. The signature drawn on the
/// pad becomes the 手写签字 seal's picture at its registered size (50 × 25 mm), so the 印模采集表 keeps one box, for
/// the blue 执业印章; an empty drawing is refused by its reason, another applicant learns nothing, and once the
/// seals are made the signature is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_drawn_on_the_pad_is_the_picture_of_the_handwritten_seal() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    let e = env(store.clone()).await;
    let app = &e.app;
    let reviewer = project_and_reviewer(app, &store).await;
    let alice = sign_in(app, "13800138000").await;
    let mut f = form();
    f.holder.kind = Some(HolderKind::Person);
    f.seals = vec![
        SealLine {
            kind: SealKind::RegisteredConstructor,
            count: 1,
            name: String::new(),
        },
        SealLine {
            kind: SealKind::HandwrittenSignature,
            count: 1,
            name: String::new(),
        },
    ];
    let o = app.create_order(&alice, "testCSQY", &f).await.unwrap();
    assert!(o.signs_on_pad());
    assert_eq!(
        form_spec(&o).boxes.len(),
        2,
        "before drawing, both are stamped or signed on paper"
    );

    let empty = r#"{"version":1,"width":600,"height":240,"strokes":[]}"#;
    let err = app
        .draw_signature(&alice, o.id, empty.as_bytes())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid(f) if f.len() == 1 && f[0].field == "signature" && f[0].message == "签名为空，请先签字"),
        "{err:?}"
    );
    let mallory = sign_in(app, "13900139000").await;
    assert!(matches!(
        app.draw_signature(&mallory, o.id, pad_json().as_bytes())
            .await,
        Err(AppError::NotFound)
    ));
    let drawn = app
        .draw_signature(&alice, o.id, pad_json().as_bytes())
        .await
        .unwrap();
    let sig = drawn.pad_signature.clone().unwrap();
    assert_eq!((sig.width_mm, sig.height_mm), (50, 25));
    let spec = form_spec(&drawn);
    assert_eq!(
        spec.boxes.len(),
        1,
        "the form keeps the 执业印章's box only"
    );
    assert_eq!(spec.boxes[0].kind_label, "注册建造师");
    let png = app.pad_signature_png(&alice, o.id).await.unwrap();
    let img = image::load_from_memory(&png).unwrap().into_rgba8();
    assert_eq!(
        (img.width(), img.height()),
        (591, 295),
        "50 × 25 mm at 300 dpi"
    );
    assert!(img.pixels().any(|p| p[3] > 128), "ink on the picture");

    let scan =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150)
            .jpeg;
    for kind in [UploadKind::IdFront, UploadKind::IdBack] {
        app.add_upload(&alice, o.id, kind, "id.jpg", scan.clone())
            .await
            .unwrap();
    }
    let mut sheet = printed_form(app, &alice, &drawn).await;
    sheet
        .press(&constructor_stamp(), box_centre(&drawn, 0))
        .unwrap();
    app.add_upload(
        &alice,
        o.id,
        UploadKind::ImpressionForm,
        "form.jpg",
        sheet.jpeg(),
    )
    .await
    .unwrap();
    app.submit(&alice, o.id).await.unwrap();
    app.approve(&reviewer, o.id).await.unwrap();
    app.confirm_invoice(&alice, o.id, &personal_invoice())
        .await
        .unwrap();
    let (payment, _) = app.start_payment(&alice, o.id, "sandbox").await.unwrap();
    app.sandbox_pay(&alice, payment.id).await.unwrap();
    // A personal key: the certificate names 李四 and the ID number.
    let mut key = SoftToken::init_with_id(
        &e.tmp.path().join("ukey-person"),
        "12345678",
        &e.ca,
        "person",
        "李四",
        Some("11010519491231002X"),
    )
    .unwrap();
    let made = authorize_with(app, &alice, o.id, &mut key).await.unwrap();
    assert_eq!(made.state, OrderState::Made);
    let mut seals = store.seals(o.id).await.unwrap();
    seals.sort_by_key(|s| s.seq);
    assert_eq!(
        seals.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [
            SealKind::RegisteredConstructor,
            SealKind::HandwrittenSignature
        ]
    );
    assert!(
        seals[1].picture_png == png,
        "the 手写签字 seal carries the drawing"
    );
    let iou = sealdesk_artwork::testkit::picture_iou(&seals[0].picture_png, &constructor_stamp())
        .unwrap();
    assert!(
        iou >= 0.85,
        "the 执业印章 carries the stamp from its box: IoU {iou}"
    );
    match sealdesk_ses::parse(&seals[1].der).unwrap() {
        sealdesk_ses::Parsed::Seal(p) => {
            assert_eq!((p.picture.width_mm, p.picture.height_mm), (50, 25))
        }
        _ => panic!("a seal"),
    }
    let err = app
        .draw_signature(&alice, o.id, pad_json().as_bytes())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m == "订单状态为「已制章」，不能再修改手写签字"),
        "{err:?}"
    );
}

/// 重新制章: after 已完成 a 制章员 remakes one seal from a newly stamped form; the new seal has a fresh esID, the
/// same kind, name and end of validity and the new impression; the old one is revoked, the order goes back to
/// 已制章 for the applicant to write it, and completes again without a second invoice.
#[tokio::test]
async fn an_issuer_remakes_a_seal_from_a_new_form_and_the_old_one_is_revoked() {
    let Completed {
        _tmp,
        store,
        e,
        reviewer: admin,
        alice,
        mut token,
        order,
    } = completed().await;
    let app = &e.app;
    let first_invoice = store.invoice(order.id).await.unwrap().unwrap();
    let old = app.seals(&alice, order.id).await.unwrap();
    let target = old[1].es_id.clone();

    // Only a 制章员 (or an administrator) remakes seals; a reviewer is told so, an applicant too.
    let clerk_id = app
        .ensure_operator("clerk", "correct horse", false)
        .await
        .unwrap();
    store
        .set_operator_roles(clerk_id, Roles::only(Role::Reviewer))
        .await
        .unwrap();
    let clerk = who(app
        .sign_in_operator("clerk", "correct horse", "127.0.0.1")
        .await
        .unwrap()
        .principal);
    for caller in [&clerk, &alice] {
        let err = app
            .remake_seals(
                caller,
                order.id,
                std::slice::from_ref(&target),
                "印模不清晰",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppError::Forbidden(m) if m == "只有制章员可以重新制章"),
            "{err:?}"
        );
    }
    // Without a reason, or from the form the seals were made from, nothing is made.
    let err = app
        .remake_seals(&admin, order.id, std::slice::from_ref(&target), "  ")
        .await
        .unwrap_err();
    assert!(
        invalid_field(&err, "reason", "请填写重新制章的原因"),
        "{err:?}"
    );
    let err = app
        .remake_seals(
            &admin,
            order.id,
            std::slice::from_ref(&target),
            "印模不清晰",
        )
        .await
        .unwrap_err();
    assert!(
        invalid_field(
            &err,
            "seals",
            &format!("印章 {target} 的新印模与原印章的图片相同：请先上传重新盖章的印模采集表")
        ),
        "{err:?}"
    );

    // The holder stamps the order's form again, the 资质专用章 now with its full title.
    let mut sheet = printed_form(app, &admin, &order).await;
    sheet
        .press(&official_stamp(), box_centre(&order, 0))
        .unwrap();
    let mut again = sealdesk_artwork::RenderRequest::new(
        sealdesk_artwork::Style::Oval,
        "北筑设计研究院有限公司",
    );
    again.title = Some("企业资质印章".into());
    let again = sealdesk_artwork::render(&again).unwrap();
    sheet.press(&again, box_centre(&order, 1)).unwrap();
    let out = app
        .add_remake_form(&admin, order.id, "again.jpg", sheet.jpeg())
        .await
        .unwrap();
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let err = app
        .remake_seals(&admin, order.id, &["SD1".to_owned()], "印模不清晰")
        .await
        .unwrap_err();
    assert!(
        invalid_field(
            &err,
            "seals",
            "印章 SD1 不是本订单的有效印章（可能已被注销），请刷新页面后重新选择"
        ),
        "{err:?}"
    );
    let made = app
        .remake_seals(
            &admin,
            order.id,
            std::slice::from_ref(&target),
            "原印模不清晰，申请人重新盖章",
        )
        .await
        .unwrap();
    assert_eq!(made.state, OrderState::Made);

    let now = app.seals(&alice, order.id).await.unwrap();
    assert_eq!(now.len(), 3);
    let kept = now.iter().find(|m| m.es_id == old[0].es_id).unwrap();
    assert!(
        !kept.revoked && kept.der == old[0].der,
        "the seal not chosen stays as it was"
    );
    assert!(now.iter().find(|m| m.es_id == target).unwrap().revoked);
    let remade = now
        .iter()
        .find(|m| m.es_id == format!("{target}R1"))
        .expect("the remade seal has a fresh esID naming its place");
    assert_eq!(remade.seq, 1002);
    assert_eq!((remade.kind, &remade.name), (old[1].kind, &old[1].name));
    assert_eq!(remade.valid_end, old[1].valid_end);
    assert!(!remade.revoked && remade.picture_png != old[1].picture_png);
    let Ok(sealdesk_ses::Parsed::Seal(parsed)) = sealdesk_ses::parse(&remade.der) else {
        panic!("the remade seal parses as a seal");
    };
    assert_eq!(parsed.es_id, remade.es_id);
    assert_eq!(
        parsed.picture.data, remade.picture_png,
        "the seal carries the new impression"
    );
    let standing = store.seal_standing(&target).await.unwrap().unwrap();
    assert_eq!(standing.revoke_reason.as_deref(), Some("重新制章"));
    assert_eq!(
        app.replaced_seals(&alice, order.id).await.unwrap(),
        vec![target.clone()],
        "the key gives up the replaced seal in the same write"
    );
    let sms = app.demo_outbox(Some("13800138000")).await.unwrap();
    assert!(
        sms.iter()
            .any(|m| m.text.contains("电子印章已按新的印模重新制作")),
        "{:?}",
        sms.iter().map(|m| &m.text).collect::<Vec<_>>()
    );

    // Written again, the order completes with the invoice it had.
    let done = write_and_confirm(app, &alice, order.id, &mut token).await;
    assert_eq!(done.state, OrderState::Completed);
    assert_eq!(
        store.invoice(order.id).await.unwrap().unwrap().number,
        first_invoice.number
    );
    let trail: Vec<String> = app
        .order_audit(&admin, order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        trail.iter().filter(|a| *a == "remake").count(),
        1,
        "{trail:?}"
    );
    assert_eq!(
        trail.iter().filter(|a| *a == "confirm_written").count(),
        2,
        "{trail:?}"
    );
    assert!(matches!(app.verify_audit().await.unwrap(), Ok(_)));
}
