//! A real server on a free port, with a demo project, an operator and a soft token, for the web tests.
#![allow(dead_code)]

use std::sync::Arc;

use sealdesk_adapters::{blobs::LocalDir, keys, pay::SandboxGateway, token::SoftToken};
use sealdesk_app::{App, AppConfig};
use sealdesk_store::Store;

/// An HTTP client for the tests (after installing the TLS provider every reqwest client here needs).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("http client")
}

/// A client builder, after installing the TLS provider.
pub fn http_builder() -> reqwest::ClientBuilder {
    sealdesk_adapters::install_tls_provider();
    reqwest::Client::builder()
}

pub struct TestServer {
    pub url: String,
    pub app: App,
    pub store: Store,
    pub token_dir: std::path::PathBuf,
    pub tmp: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A demo-mode server: the sandbox cashier and the readable SMS outbox exist.
pub async fn start() -> TestServer {
    start_with(true, Vec::new()).await
}

/// A server in demo mode or not, trusting the given proxies. Without demo mode there is no sandbox gateway and
/// no payment channel.
pub async fn start_with(demo: bool, trusted_proxies: Vec<sealdesk_web::Cidr>) -> TestServer {
    start_full(
        demo,
        trusted_proxies,
        String::new(),
        Arc::new(sealdesk_domain::SystemClock),
    )
    .await
}

/// A server whose application reads the time from `clock`.
pub async fn start_with_clock(
    demo: bool,
    trusted_proxies: Vec<sealdesk_web::Cidr>,
    clock: Arc<dyn sealdesk_domain::Clock>,
) -> TestServer {
    start_full(demo, trusted_proxies, String::new(), clock).await
}

/// A demo server that also offers 对公转账 (`bank`) to an account of 中国工商银行南昌分行营业部.
pub async fn start_bank() -> TestServer {
    start_cfg(
        true,
        Vec::new(),
        String::new(),
        Arc::new(sealdesk_domain::SystemClock),
        |cfg| {
            cfg.payment_channels.push("bank".into());
            cfg.bank_account = Some(sealdesk_app::BankAccount {
                payee: "某某数字认证有限公司".into(),
                bank: "中国工商银行南昌分行营业部".into(),
                account: "1502 2010 0901 2345 678".into(),
            });
        },
    )
    .await
}

/// A server whose pages look for the UKey agent at `agent_url` ("" for the default address) and whose
/// application reads the time from `clock`.
pub async fn start_full(
    demo: bool,
    trusted_proxies: Vec<sealdesk_web::Cidr>,
    agent_url: String,
    clock: Arc<dyn sealdesk_domain::Clock>,
) -> TestServer {
    start_cfg(demo, trusted_proxies, agent_url, clock, |_| {}).await
}

/// [`start_full`] with the application's settings adjusted by `tweak` before it starts.
pub async fn start_cfg(
    demo: bool,
    trusted_proxies: Vec<sealdesk_web::Cidr>,
    agent_url: String,
    clock: Arc<dyn sealdesk_domain::Clock>,
    tweak: impl FnOnce(&mut AppConfig),
) -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", tmp.path().join("t.db").display()),
        3,
    )
    .await
    .unwrap();
    let ca = keys::demo_ca(tmp.path()).unwrap();
    let maker = keys::seal_maker(tmp.path(), &ca).unwrap();
    let gw = SandboxGateway::new(keys::sandbox_gateway_key(tmp.path()).unwrap());
    let token_dir = tmp.path().join("ukey");
    // An enterprise's UKey certificate carries its unified social credit code, which is what 授权 binds to.
    SoftToken::init_with_id(
        &token_dir,
        "12345678",
        &ca,
        "enterprise",
        "北筑设计研究院有限公司",
        Some("91110108551385082Q"),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = AppConfig {
        demo,
        payment_channels: if demo {
            vec!["sandbox".into()]
        } else {
            Vec::new()
        },
        data_dir: tmp.path().into(),
        public_url: url.clone(),
        clock,
        ..Default::default()
    };
    tweak(&mut cfg);
    let app = App::new(
        store.clone(),
        Arc::new(LocalDir::new(tmp.path().join("blobs"))),
        cfg,
        maker,
        vec![ca.cert],
        demo.then_some(gw),
    );
    let group = store.create_group("A组").await.unwrap();
    store
        .create_project(
            "testCSQY",
            "南昌市城建档案馆",
            sealdesk_domain::DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
            Some(group.id),
        )
        .await
        .unwrap();
    let op = app
        .ensure_operator("admin", "sealdesk-demo", false)
        .await
        .unwrap();
    store.add_to_group(group.id, op).await.unwrap();
    app.ensure_operator("outsider", "outsider-pass", false)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        sealdesk_web::serve_with(
            listener,
            served,
            sealdesk_web::WebConfig {
                trusted_proxies,
                agent_url,
                ..Default::default()
            },
            async {
                let _ = rx.await;
            },
        )
        .await
        .unwrap();
    });
    TestServer {
        url,
        app,
        store,
        token_dir,
        tmp,
        _shutdown: tx,
    }
}

/// Signs an applicant in through the API and returns (token, csrf).
pub async fn applicant(http: &reqwest::Client, url: &str, mobile: &str) -> (String, String) {
    let r = http
        .post(format!("{url}/api/v1/auth/sms-code"))
        .json(&serde_json::json!({"mobile": mobile}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let code = sms_code(http, url, mobile).await;
    let s: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/applicant"))
        .json(&serde_json::json!({"mobile": mobile, "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        s["token"].as_str().unwrap().to_owned(),
        s["csrf"].as_str().unwrap().to_owned(),
    )
}

/// The newest sign-in code sent to `mobile`, read from the demo outbox.
pub async fn sms_code(http: &reqwest::Client, url: &str, mobile: &str) -> String {
    let outbox: serde_json::Value = http
        .get(format!("{url}/api/v1/demo/outbox?mobile={mobile}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    code_in(outbox[0]["text"].as_str().unwrap())
}

/// The six digits after 验证码为 in an SMS text.
pub fn code_in(text: &str) -> String {
    text.split("验证码为")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect()
}

pub async fn operator(http: &reqwest::Client, url: &str, name: &str, password: &str) -> String {
    operator_session(http, url, name, password).await.0
}

/// An operator's session token and its CSRF token (for console forms sent with `sd_session=<token>`).
pub async fn operator_session(
    http: &reqwest::Client,
    url: &str,
    name: &str,
    password: &str,
) -> (String, String) {
    let s: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/operator"))
        .json(&serde_json::json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        s["token"].as_str().unwrap().to_owned(),
        s["csrf"].as_str().unwrap().to_owned(),
    )
}

/// Creates a draft order through the API (the holder's mobile being `mobile`) and returns its id.
pub async fn draft_order(http: &reqwest::Client, url: &str, token: &str, mobile: &str) -> String {
    let order: serde_json::Value = http
        .post(format!("{url}/api/v1/orders"))
        .bearer_auth(token)
        .json(&order_body(mobile))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    order["id"].as_str().unwrap().to_owned()
}

pub fn order_body(mobile: &str) -> serde_json::Value {
    serde_json::json!({
        "project": "testCSQY",
        "service": "new",
        "holder": {"kind": "enterprise", "applicant_name": "李四", "id_number": "11010519491231002X", "mobile": mobile,
                   "enterprise_name": "北筑设计研究院有限公司", "enterprise_phone": "0791-82221588",
                   "credit_code": "91110108551385082Q", "address": "北京市西城区南礼士路62号"},
        "seals": [{"kind": "official_seal", "count": 1}, {"kind": "qualification_seal", "count": 1}],
        "months": 12
    })
}

/// Uploads `scan` through the API as every document a 新办 needs, answering each response's (status, body).
pub async fn upload_all(
    s: &TestServer,
    http: &reqwest::Client,
    token: &str,
    order_id: &str,
    scan: &[u8],
    file_name: &str,
) -> Vec<(u16, serde_json::Value)> {
    let url = &s.url;
    let mut out = Vec::new();
    let form_scan = stamped_form(s, http, token, order_id).await;
    for kind in ["id_front", "id_back", "licence", "impression_form"] {
        let bytes = if kind == "impression_form" {
            form_scan.clone()
        } else {
            scan.to_vec()
        };
        let form = reqwest::multipart::Form::new().text("kind", kind).part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
        let r = http
            .post(format!("{url}/api/v1/orders/{order_id}/uploads"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        out.push((r.status().as_u16(), r.json().await.unwrap()));
    }
    out
}

/// The order's own 印模采集表 as the server draws it (`/orders/{id}/impression-form.pdf`), printed at 300 dpi
/// through `pdftoppm` and stamped with one seal of the box's shape in each box: what an applicant scans and
/// uploads.
pub async fn stamped_form(
    s: &TestServer,
    http: &reqwest::Client,
    token: &str,
    order_id: &str,
) -> Vec<u8> {
    let r = http
        .get(format!("{}/orders/{order_id}/impression-form.pdf", s.url))
        .header("cookie", format!("sd_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the order's form downloads");
    let pdf = r.bytes().await.unwrap();
    let order = s.store.order(order_id.parse().unwrap()).await.unwrap();
    stamp_form(&order, &pdf)
}

/// `pdf`, the 印模采集表 of `order`, printed at 300 dpi through `pdftoppm` and stamped with one seal of the box's
/// shape in each box, as a JPEG.
pub fn stamp_form(order: &sealdesk_domain::Order, pdf: &[u8]) -> Vec<u8> {
    use sealdesk_artwork::{BoxShape, RenderRequest, Style};
    let spec = sealdesk_app::form_spec(order);
    let pages = sealdesk_artwork::layout(&spec);
    assert_eq!(pages.len(), 1, "the tests' orders fit one page");
    let mut sheet =
        sealdesk_artwork::testkit::print_pdf(pdf, 1, 300).expect("pdftoppm prints the form");
    for (b, at) in spec.boxes.iter().zip(&pages[0].boxes) {
        let style = match b.shape {
            BoxShape::Round => Style::Round,
            BoxShape::Oval => Style::Oval,
            BoxShape::Square => Style::Square,
            BoxShape::Rect => Style::Frame,
        };
        let mut req = RenderRequest::new(style, order.holder.display_name());
        req.title = Some(b.seal_name.clone());
        let stamp = sealdesk_artwork::render(&req).unwrap();
        sheet.press(&stamp, at.centre()).unwrap();
    }
    sheet.jpeg()
}

/// What `sealdesk token write` gives back for the seals of `GET /orders/{id}/seals`: the receipts to post.
pub fn receipts(token: &mut SoftToken, seals: &serde_json::Value) -> Vec<serde_json::Value> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    seals
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let es_id = m["es_id"].as_str().unwrap();
            let der = b64.decode(m["der_b64"].as_str().unwrap()).unwrap();
            let sig = token.write_seal("12345678", es_id, &der).unwrap();
            serde_json::json!({"es_id": es_id, "signature": b64.encode(sig)})
        })
        .collect()
}

/// The body of `POST /orders/{id}/authorize` for a challenge from `POST /orders/{id}/authorize/challenge`: the
/// token's certificate and its signature over the challenge, as the UKey gives them.
pub fn challenge_answer(token: &mut SoftToken, challenge: &serde_json::Value) -> serde_json::Value {
    use base64::Engine;
    let sig = token
        .sign_challenge(
            "12345678",
            challenge["challenge"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
    serde_json::json!({
        "cert_pem": token.cert().to_pem(),
        "nonce": challenge["nonce"],
        "signature": base64::engine::general_purpose::STANDARD.encode(sig),
    })
}

/// The body of `GET url` sent with the session cookie `cookie` (`sd_session=…`), as a page or a download.
pub async fn get_text(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A 新办 order of the applicant `token`, with every upload (a generated form scan, `seed`) and submitted: 待审核.
pub async fn submitted_order(
    s: &TestServer,
    http: &reqwest::Client,
    token: &str,
    mobile: &str,
    seed: u64,
) -> String {
    let url = &s.url;
    let id = draft_order(http, url, token, mobile).await;
    let scan =
        sealdesk_artwork::testkit::generate(seed, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    for (st, body) in upload_all(s, http, token, &id, &scan, "scan.jpg").await {
        assert_eq!(st, 201, "{body}");
    }
    let r = http
        .post(format!("{url}/api/v1/orders/{id}/submit"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    id
}

/// Another group, B组, with a project of its own, `otherP` 另一授权单位, which the `admin` operator (A组) does not
/// serve; its id.
pub async fn foreign_project(store: &Store) -> i64 {
    let other = store.create_group("B组").await.unwrap();
    store
        .create_project(
            "otherP",
            "另一授权单位",
            sealdesk_domain::Fen(8000),
            Some(other.id),
        )
        .await
        .unwrap()
        .id
}

/// A copy of `base` under a new id in the project (`code`, `id`), waiting for 审核 since `at`: to fill a queue
/// with orders submitted at chosen times.
pub fn waiting_copy(
    store: &Store,
    base: &sealdesk_domain::Order,
    project: (&str, i64),
    at: &str,
) -> sealdesk_domain::Order {
    let mut o = base.clone();
    o.id = store.next_id();
    o.order_no = sealdesk_domain::OrderNo::new(project.0, o.id).to_string();
    o.project_id = project.1;
    o.state = sealdesk_domain::OrderState::PendingReview;
    o.updated_at = at.to_owned();
    o
}

/// The applicant with `mobile`, as a caller of the use cases.
pub async fn applicant_who(s: &TestServer, mobile: &str) -> sealdesk_app::Who {
    sealdesk_app::Who {
        principal: sealdesk_app::Principal::Applicant {
            id: s.store.applicant_for_mobile(mobile).await.unwrap(),
        },
        ip: "127.0.0.1".into(),
    }
}

/// The demo operator `admin`, signed in, as the use cases take it.
pub async fn demo_admin(s: &TestServer) -> sealdesk_app::Who {
    let op = s
        .app
        .sign_in_operator("admin", "sealdesk-demo", "127.0.0.1")
        .await
        .unwrap();
    sealdesk_app::Who {
        principal: op.principal,
        ip: "127.0.0.1".into(),
    }
}

/// Takes an order of `mobile`'s applicant (a 新办, or `service` replacing `previous`) from draft to 已支付
/// through the use cases (upload, submit, approve, invoice, sandbox payment); returns its id.
pub async fn paid_order(
    s: &TestServer,
    who: &sealdesk_app::Who,
    service: &str,
    previous: Option<i64>,
) -> i64 {
    use sealdesk_domain::UploadKind;
    let mobile = "13800138000";
    let mut body = order_body(mobile);
    body.as_object_mut().unwrap().remove("project");
    body["service"] = serde_json::json!(service);
    if let Some(p) = previous {
        body["previous_order"] = serde_json::json!(p);
    }
    let form: sealdesk_domain::OrderForm = serde_json::from_value(body).unwrap();
    let o = s.app.create_order(who, "testCSQY", &form).await.unwrap();
    let scan =
        sealdesk_artwork::testkit::generate(11, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    for kind in [
        UploadKind::IdFront,
        UploadKind::IdBack,
        UploadKind::Licence,
        UploadKind::ImpressionForm,
    ] {
        s.app
            .add_upload(who, o.id, kind, "scan.jpg", scan.clone())
            .await
            .unwrap();
    }
    // The generated scan has no QR code: its two impressions are confirmed in page order (a Conflict says the
    // order's seals are all alike, so that there is nothing to confirm).
    match s.app.confirm_cutouts(who, o.id, &[0, 1]).await {
        Ok(_) | Err(sealdesk_app::AppError::Conflict(_)) => {}
        Err(e) => panic!("印模确认: {e:?}"),
    }
    s.app.submit(who, o.id).await.unwrap();
    s.app.approve(&demo_admin(s).await, o.id).await.unwrap();
    let invoice: sealdesk_domain::InvoiceInfo = serde_json::from_value(serde_json::json!({
        "kind": "enterprise", "title": "北筑设计研究院有限公司", "taxpayer_id": "91110108551385082Q",
        "mobile": mobile, "email": ""
    }))
    .unwrap();
    s.app.confirm_invoice(who, o.id, &invoice).await.unwrap();
    let (p, _) = s.app.start_payment(who, o.id, "sandbox").await.unwrap();
    s.app.sandbox_pay(who, p.id).await.unwrap();
    o.id
}

/// 授权 with `token` (certificate and its signature over a fresh challenge) and 写入 with its receipts, through
/// the use cases: the order ends 已完成.
pub async fn authorize_and_write(
    s: &TestServer,
    who: &sealdesk_app::Who,
    id: i64,
    token: &mut SoftToken,
) {
    let ch = s.app.authorize_challenge(who, id).await.unwrap();
    let sig = token
        .sign_challenge("12345678", ch.text.as_bytes())
        .unwrap();
    let o = s
        .app
        .authorize(who, id, token.cert().der(), &ch.nonce, &sig)
        .await
        .unwrap();
    assert_eq!(o.state, sealdesk_domain::OrderState::Made);
    let receipts: Vec<sealdesk_app::WriteReceipt> = s
        .app
        .seals(who, id)
        .await
        .unwrap()
        .iter()
        .map(|m| sealdesk_app::WriteReceipt {
            es_id: m.es_id.clone(),
            signature: token.write_seal("12345678", &m.es_id, &m.der).unwrap(),
        })
        .collect();
    let o = s.app.confirm_written(who, id, &receipts).await.unwrap();
    assert_eq!(o.state, sealdesk_domain::OrderState::Completed);
}

/// A demo server whose clock stands at Monday 2026-10-12, 10:00 in Beijing: two days after the make-up working
/// Saturday 2026-10-10 that follows the National Day holiday, for tests that count working days.
pub async fn start_on_monday_after_national_day() -> TestServer {
    let clock = sealdesk_domain::ManualClock::at(sealdesk_domain::Timestamp::from_utc(
        2026, 10, 12, 2, 0, 0,
    ));
    start_with_clock(true, Vec::new(), Arc::new(clock)).await
}
