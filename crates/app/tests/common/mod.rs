//! What the app's integration tests share: an application wired on a store with a soft token, sign-in as the
//! SMS code arrives, 授权 as the UKey does it, an order form, and matchers for exact errors.
#![allow(dead_code)]

use std::sync::Arc;

use sealdesk_adapters::{blobs::LocalDir, keys, pay::SandboxGateway, token::SoftToken};
use sealdesk_app::*;
use sealdesk_domain::*;
use sealdesk_store::Store;

pub struct Env {
    pub app: App,
    pub token_dir: std::path::PathBuf,
    pub ca: keys::Identity,
    pub tmp: tempfile::TempDir,
}

pub async fn env(store: Store) -> Env {
    env_with_clock(store, Arc::new(SystemClock)).await
}

/// The same, reading the time from `clock`.
pub async fn env_with_clock(store: Store, clock: Arc<dyn Clock>) -> Env {
    env_with_config(store, clock, |_| {}).await
}

/// The same, with `tune` applied to the application's configuration.
pub async fn env_with_config(
    store: Store,
    clock: Arc<dyn Clock>,
    tune: impl FnOnce(&mut AppConfig),
) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let ca = keys::demo_ca(tmp.path()).unwrap();
    let maker = keys::seal_maker(tmp.path(), &ca).unwrap();
    let gw = SandboxGateway::new(keys::sandbox_gateway_key(tmp.path()).unwrap());
    let token_dir = tmp.path().join("ukey");
    SoftToken::init(
        &token_dir,
        "12345678",
        &ca,
        "enterprise",
        "北筑设计研究院有限公司",
    )
    .unwrap();
    let mut cfg = AppConfig {
        demo: true,
        payment_channels: vec!["sandbox".into()],
        data_dir: tmp.path().into(),
        clock,
        ..Default::default()
    };
    tune(&mut cfg);
    let app = App::new(
        store,
        Arc::new(LocalDir::new(tmp.path().join("blobs"))),
        cfg,
        maker,
        vec![ca.cert.clone()],
        Some(gw),
    );
    Env {
        app,
        token_dir,
        ca,
        tmp,
    }
}

pub fn who(p: Principal) -> Who {
    Who {
        principal: p,
        ip: "127.0.0.1".into(),
    }
}

/// 授权 as the UKey does it: a fresh challenge from the platform, signed by the token's key.
pub async fn authorize_with(
    app: &App,
    who: &Who,
    id: i64,
    token: &mut SoftToken,
) -> Result<Order, AppError> {
    let ch = app.authorize_challenge(who, id).await?;
    let sig = token
        .sign_challenge("12345678", ch.text.as_bytes())
        .unwrap();
    app.authorize(who, id, token.cert().der(), &ch.nonce, &sig)
        .await
}

pub fn bad_credentials(r: Result<SignedIn, AppError>, want: &str) -> bool {
    matches!(r, Err(AppError::BadCredentials(m)) if m == want)
}

pub fn invalid_field(r: &AppError, field: &str, contains: &str) -> bool {
    matches!(r, AppError::Invalid(errs) if errs.iter().any(|e| e.field == field && e.message.contains(contains)))
}

pub async fn sign_in(app: &App, mobile: &str) -> Who {
    app.send_login_code(mobile, "127.0.0.1").await.unwrap();
    let sms = app.demo_outbox(Some(mobile)).await.unwrap();
    let code: String = sms[0]
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert!(
        code == "000000"
            || bad_credentials(
                app.sign_in_with_code(mobile, "000000", "127.0.0.1").await,
                "验证码不正确"
            )
    );
    let s = app
        .sign_in_with_code(mobile, &code, "127.0.0.1")
        .await
        .unwrap();
    who(s.principal)
}

pub fn form() -> OrderForm {
    OrderForm {
        service: Some(Service::New),
        holder: Holder {
            kind: Some(HolderKind::Enterprise),
            applicant_name: "李四".into(),
            id_number: "11010519491231002X".into(),
            mobile: "13800138000".into(),
            enterprise_name: "北筑设计研究院有限公司".into(),
            enterprise_phone: "0791-82221588".into(),
            credit_code: "91110108551385082Q".into(),
            address: "北京市西城区南礼士路62号".into(),
        },
        seals: vec![
            SealLine {
                kind: SealKind::OfficialSeal,
                count: 1,
                name: String::new(),
            },
            SealLine {
                kind: SealKind::QualificationSeal,
                count: 1,
                name: "北筑设计研究院有限公司资质专用章".into(),
            },
        ],
        months: 12,
        previous_order: None,
        chosen_seals: Vec::new(),
        bid_opening: None,
    }
}

/// A real one-page PDF, written by lopdf.
pub fn one_page_pdf() -> Vec<u8> {
    use lopdf::{Document, Object, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1},
        ),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A store on each backend in turn: a SQLite file, then a fresh PostgreSQL database.
pub async fn on_each_backend<F, Fut>(tag: &str, f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    f(sqlite.clone()).await;
    sqlite.close().await;
    let (pg, drop_db) = sealdesk_store::testing::fresh_postgres(tag).await;
    f(pg.clone()).await;
    pg.close().await;
    drop_db.await;
}

/// The project `testCSQY` served by group A组 with the operator `reviewer` in it; returns the operator.
pub async fn project_and_reviewer(app: &App, store: &Store) -> Who {
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
    let id = app
        .ensure_operator("reviewer", "correct horse", true)
        .await
        .unwrap();
    store.add_to_group(group.id, id).await.unwrap();
    who(app
        .sign_in_operator("reviewer", "correct horse", "127.0.0.1")
        .await
        .unwrap()
        .principal)
}

/// An order of `form` filed with scans from the test kit and submitted (待审核).
pub async fn submitted_order(app: &App, applicant: &Who, form: &OrderForm) -> Order {
    let order = app.create_order(applicant, "testCSQY", form).await.unwrap();
    let stamped =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150);
    for kind in UploadKind::ALL {
        let bytes = match kind {
            UploadKind::ImpressionForm => stamped_form(app, applicant, &order).await,
            _ => stamped.jpeg.clone(),
        };
        app.add_upload(applicant, order.id, kind, "scan.jpg", bytes)
            .await
            .unwrap();
    }
    app.submit(applicant, order.id).await.unwrap()
}

/// An order of `form` taken through 申请, 审核 and 确认发票 to 待支付, with scans from the test kit.
pub async fn approved_order(app: &App, applicant: &Who, reviewer: &Who, form: &OrderForm) -> Order {
    let order = submitted_order(app, applicant, form).await;
    app.approve(reviewer, order.id).await.unwrap();
    let invoice = personal_invoice();
    app.confirm_invoice(applicant, order.id, &invoice)
        .await
        .unwrap()
}

/// [`approved_order`], then paid at the sandbox cashier.
pub async fn paid_order(app: &App, applicant: &Who, reviewer: &Who, form: &OrderForm) -> Order {
    let order = approved_order(app, applicant, reviewer, form).await;
    let (payment, _) = app
        .start_payment(applicant, order.id, "sandbox")
        .await
        .unwrap();
    app.sandbox_pay(applicant, payment.id).await.unwrap()
}

/// A stamp the tests press: `style` with the holder's name and `title`, at its standard size.
fn stamp(style: sealdesk_artwork::Style, title: &str) -> Vec<u8> {
    let mut req = sealdesk_artwork::RenderRequest::new(style, "北筑设计研究院有限公司");
    req.title = Some(title.into());
    sealdesk_artwork::render(&req).unwrap()
}

/// The 企业公章 the tests press: round, 42 mm.
pub fn official_stamp() -> Vec<u8> {
    stamp(sealdesk_artwork::Style::Round, "公章")
}

/// The 资质专用章 the tests press: oval, 40 × 30 mm.
pub fn qualification_stamp() -> Vec<u8> {
    stamp(sealdesk_artwork::Style::Oval, "资质专用章")
}

/// Where box `i` of the order's 印模采集表 is, mm.
pub fn box_centre(order: &Order, i: usize) -> (f32, f32) {
    sealdesk_artwork::layout(&form_spec(order))[0].boxes[i].centre()
}

/// The order's own 印模采集表 as the server draws it, printed at 300 dpi through `pdftoppm` (unstamped).
pub async fn printed_form(
    app: &App,
    who: &Who,
    order: &Order,
) -> sealdesk_artwork::testkit::Printed {
    let (name, pdf) = app.impression_form_pdf(who, order.id).await.unwrap();
    assert!(name.ends_with(".pdf") && pdf.starts_with(b"%PDF-"));
    sealdesk_artwork::testkit::print_pdf(&pdf, 1, 300).expect("pdftoppm prints the form")
}

/// The order's form (of [`form`]: a 企业公章 and a 企业资质印章) stamped as it should be, each seal in its box,
/// scanned as a 300-dpi JPEG.
pub async fn stamped_form(app: &App, who: &Who, order: &Order) -> Vec<u8> {
    let mut sheet = printed_form(app, who, order).await;
    sheet
        .press(&official_stamp(), box_centre(order, 0))
        .unwrap();
    sheet
        .press(&qualification_stamp(), box_centre(order, 1))
        .unwrap();
    sheet.jpeg()
}

/// A submitted draft taken through 审核通过, 确认发票, the sandbox payment and 授权 with the env's soft token to
/// 已制章: the made order.
pub async fn submitted_to_made(
    e: &Env,
    store: &Store,
    applicant: &Who,
    reviewer: &Who,
    id: i64,
) -> Order {
    let app = &e.app;
    app.submit(applicant, id).await.unwrap();
    app.approve(reviewer, id).await.unwrap();
    let invoice = personal_invoice();
    app.confirm_invoice(applicant, id, &invoice).await.unwrap();
    let (payment, _) = app.start_payment(applicant, id, "sandbox").await.unwrap();
    app.sandbox_pay(applicant, payment.id).await.unwrap();
    let mut token = SoftToken::open(&e.token_dir).unwrap();
    authorize_with(app, applicant, id, &mut token)
        .await
        .unwrap();
    if store.order(id).await.unwrap().state == OrderState::Authorized {
        app.make_seals(applicant, id).await.unwrap();
    }
    store.order(id).await.unwrap()
}

/// 申请开票 as a person (李四).
pub fn personal_invoice() -> InvoiceInfo {
    InvoiceInfo {
        kind: InvoiceKind::Personal,
        title: "李四".into(),
        taxpayer_id: String::new(),
        mobile: "13800138000".into(),
        email: String::new(),
        ..InvoiceInfo::default()
    }
}
