//! The applicant's 新办 in headless Chromium, through the pages only: sign in with the SMS code, fill the
//! form (and see a Chinese error for a wrong credit code), upload the scans and the stamped form, submit, get
//! approved, confirm the invoice, pay at the sandbox cashier, authorise with the UKey certificate and see the
//! seals made; and the same through the UKey agent (授权, 写入, 证书登录) with no terminal step. Needs Debian's
//! chromium and chromium-driver (the test script installs them).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver (Debian package chromium-driver) must be installed: run scripts/test.sh",
        );
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = tempfile::tempdir().unwrap().keep();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1800",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    (driver, client)
}

async fn fill(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn text(c: &Client) -> String {
    match c.find(Locator::Css("main")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits (clicks return before the next page has loaded) until the page's main text contains `needle`.
async fn wait_text(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = text(c).await;
        if t.contains(needle) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "page never showed {needle:?}; it shows:\n{t}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_applicant_completes_a_new_order_in_the_browser() {
    let s = common::start().await;
    let (_driver, c) = browser().await;
    let u = |p: &str| format!("{}{p}", s.url);

    // 申请人登录 with the code from the demo outbox.
    c.goto(&u("/login")).await.unwrap();
    fill(&c, "mobile", "13800138000").await;
    click(&c, "form[action='/login/code'] button").await;
    wait_text(&c, "验证码已发送").await;
    c.goto(&u("/demo/outbox")).await.unwrap();
    let outbox = text(&c).await;
    let code: String = outbox
        .split("验证码为")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    c.goto(&u("/login")).await.unwrap();
    fill(&c, "mobile", "13800138000").await;
    click(&c, "form[action='/login/code'] button").await; // a second request within a minute is refused politely
    wait_text(&c, "秒后再试").await;
    fill(&c, "code", &code).await;
    click(&c, "#login").await;
    wait_text(&c, "订单金额(元)").await;

    // The form: a wrong credit code is shown in Chinese next to the field, what was typed is kept.
    c.goto(&u("/orders/new?service=new")).await.unwrap();
    for (id, v) in [
        ("applicant_name", "李四"),
        ("id_number", "11010519491231002X"),
        ("mobile", "13800138000"),
        ("enterprise_name", "北筑设计研究院有限公司"),
        ("enterprise_phone", "0791-82221588"),
        ("credit_code", "913617481036174810"),
        ("address", "北京市西城区南礼士路62号"),
    ] {
        fill(&c, id, v).await;
    }
    click(&c, "input[name=seal][value=official_seal]").await;
    click(&c, "input[name=seal][value=qualification_seal]").await;
    click(&c, "#save").await;
    wait_text(&c, "统一社会信用代码校验位不正确").await;
    fill(&c, "credit_code", "91110108551385082Q").await;
    click(&c, "#save").await;
    wait_text(&c, "草稿").await;
    let order_url = c.current_url().await.unwrap();
    let order_id: i64 = order_url
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // 资料上传.
    let form = sealdesk_artwork::testkit::generate(11, sealdesk_artwork::testkit::FormSpec::A4_150);
    let scan = s.tmp.path().join("scan.jpg");
    std::fs::write(&scan, &form.jpeg).unwrap();
    for (kind, label) in [
        ("id_front", "身份证（人像面）"),
        ("id_back", "身份证（国徽面）"),
        ("licence", "统一社会信用代码证"),
        ("impression_form", "印模采集表"),
    ] {
        c.find(Locator::Id(&format!("file_{kind}")))
            .await
            .unwrap()
            .send_keys(scan.to_str().unwrap())
            .await
            .unwrap();
        click(&c, &format!("form:has(#file_{kind}) button")).await;
        // The page after this upload, not the one before it (which already said 已上传 of the earlier one).
        wait_text(&c, &format!("{label}已上传")).await;
    }
    wait_text(&c, &format!("识别到 {} 枚印章", form.seals.len())).await;
    // A scan without the order's QR code: its impressions are listed in page order, and submitting waits for
    // the applicant to say which seal each one is.
    wait_text(&c, "系统按从上到下、从左到右的顺序找到 2 枚印模").await;
    c.find(Locator::XPath("//button[text()='提交']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "无法确定每枚印模属于哪枚印章").await;
    assert_eq!(
        s.store.order(order_id).await.unwrap().state,
        sealdesk_domain::OrderState::Draft
    );
    // Choosing one seal for both impressions is refused by name; the swapped choice is kept.
    c.execute(
        "document.getElementById('seal_0').value = '1'; document.getElementById('seal_1').value = '1';",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#cutouts-confirm-go").await;
    wait_text(
        &c,
        "第 2 枚印章选了两枚印模（第 1 枚和第 2 枚），每枚印章只能对应一枚印模",
    )
    .await;
    c.execute(
        "document.getElementById('seal_0').value = '1'; document.getElementById('seal_1').value = '0';",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#cutouts-confirm-go").await;
    wait_text(&c, "已确认每枚印模对应的印章").await;
    assert_eq!(
        s.store
            .order(order_id)
            .await
            .unwrap()
            .confirmed_cutouts
            .map(|c| c.pick),
        Some(vec![1, 0]),
        "seal 1 is the second impression found, seal 2 the first"
    );
    c.find(Locator::XPath("//button[text()='提交']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "1-2 个工作日内进行审核").await;

    // 审核 by an operator of the project's group.
    let op = s
        .app
        .sign_in_operator("admin", "sealdesk-demo", "127.0.0.1")
        .await
        .unwrap();
    s.app
        .approve(
            &sealdesk_app::Who {
                principal: op.principal,
                ip: "-".into(),
            },
            order_id,
        )
        .await
        .unwrap();

    // 申请开票 and 支付 at the sandbox cashier.
    c.goto(order_url.as_str()).await.unwrap();
    wait_text(&c, "请确认发票信息是否正确").await;
    // The 抬头's label follows the 发票类型, and 纳税人识别号 is required only of an enterprise.
    let labels = |c: &Client| {
        let c = c.clone();
        async move {
            let title = c.find(Locator::Id("invoice-title-label")).await.unwrap();
            let taxpayer = c.find(Locator::Id("invoice-taxpayer-label")).await.unwrap();
            (
                title.text().await.unwrap(),
                taxpayer.attr("class").await.unwrap().unwrap_or_default(),
            )
        }
    };
    assert_eq!(
        labels(&c).await,
        ("企业名称：".to_owned(), "req".to_owned())
    );
    click(&c, "input[name=kind][value=personal]").await;
    assert_eq!(labels(&c).await, ("姓名：".to_owned(), String::new()));
    click(&c, "input[name=kind][value=institution]").await;
    assert_eq!(labels(&c).await.0, "单位名称：");
    click(&c, "input[name=kind][value=enterprise]").await;
    assert_eq!(
        labels(&c).await,
        ("企业名称：".to_owned(), "req".to_owned())
    );
    click(&c, "#confirm-invoice").await;
    wait_text(&c, "去付款").await;
    click(&c, "#pay").await;
    wait_text(&c, "¥160.00").await;
    click(&c, "#sandbox-pay").await;
    wait_text(&c, "支付成功").await;

    // 授权 with the UKey's certificate and its signature over the page's fresh challenge; then the seals are
    // made.
    // Without the agent (none runs here): the documented fallback, folded away under 无法使用证书助手时.
    click(&c, "#ukey-fallback summary").await;
    let mut token = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    let challenge = c
        .find(Locator::Id("challenge"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sig = token
        .sign_challenge("12345678", challenge.trim_end().as_bytes())
        .unwrap();
    fill(&c, "cert_pem", &token.cert().to_pem()).await;
    fill(&c, "signature", &{
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sig)
    })
    .await;
    click(&c, "#authorize").await;
    let page = wait_text(&c, "导入信息").await;
    assert!(page.contains("已制章"), "{page}");
    assert!(page.contains("印章1") && page.contains("印章2"));
    let loaded = c
        .execute(
            "return Array.from(document.querySelectorAll('img.seal-pic')).map(i => i.naturalWidth)",
            vec![],
        )
        .await
        .unwrap();
    let widths: Vec<u64> = loaded
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(widths.len(), 2);
    assert!(
        widths.iter().all(|w| *w > 100),
        "seal pictures render: {widths:?}"
    );
    if let Ok(path) = std::env::var("SEALDESK_SCREENSHOT") {
        std::fs::write(path, c.screenshot().await.unwrap()).unwrap();
    }

    // 写入: what `sealdesk token write` prints for the downloaded files, pasted back; then the invoice.
    let seals = s
        .app
        .seals(
            &sealdesk_app::Who {
                principal: sealdesk_app::Principal::Applicant {
                    id: s.store.order(order_id).await.unwrap().applicant_id,
                },
                ip: "-".into(),
            },
            order_id,
        )
        .await
        .unwrap();
    click(&c, "#ukey-fallback summary").await;
    fill(&c, "receipts", "SD1 not-a-signature").await;
    click(&c, "#written").await;
    wait_text(&c, "写入回执格式不正确").await;
    let receipts: Vec<String> = seals
        .iter()
        .map(|m| {
            use base64::Engine;
            format!(
                "{} {}",
                m.es_id,
                base64::engine::general_purpose::STANDARD
                    .encode(token.write_seal("12345678", &m.es_id, &m.der).unwrap())
            )
        })
        .collect();
    click(&c, "#ukey-fallback summary").await;
    fill(&c, "receipts", &receipts.join("\n")).await;
    click(&c, "#written").await;
    wait_text(&c, "办理完成").await;
    click(&c, "a[href$='/invoice']").await;
    let invoice = wait_text(&c, "价税合计").await;
    assert!(invoice.contains("壹佰陆拾元整"), "{invoice}");
    c.close().await.unwrap();
}

/// Signs the browser in with a session token (from the API) as a cookie.
async fn use_session(c: &Client, base: &str, token: &str) {
    c.goto(base).await.unwrap();
    c.delete_all_cookies().await.unwrap();
    // Through the page rather than WebDriver's cookie command, which this Chromium refuses for a bare IP host.
    // The server reads the cookie header only, so a script-set cookie of the same name is the same session.
    c.execute(
        "document.cookie = 'sd_session=' + arguments[0] + '; path=/';",
        vec![serde_json::json!(token)],
    )
    .await
    .unwrap();
}

/// What a page holds that matters for injection: elements that only markup from a value could have made, and
/// whether `payload` is there, unchanged, as text or as a form field's value (`{{ 7*7 }}` evaluated by a
/// template engine would not be).
async fn inspect(c: &Client, url: &str, payload: &str) -> Value {
    c.goto(url).await.unwrap();
    c.execute(
        r#"const p = arguments[0];
           const foreign = Array.from(document.querySelectorAll('script')).filter(s => !/^\/static\/(app|agent)\.[0-9a-f]{16}\.js$/.test(s.getAttribute('src') || '')).length
             + document.querySelectorAll('[onerror], img[src="x"]').length;
           const values = Array.from(document.querySelectorAll('input, textarea')).filter(e => e.value === p).length;
           return {foreign, asText: document.body.innerText.includes(p), values, title: document.title};"#,
        vec![serde_json::json!(payload)],
    )
    .await
    .unwrap()
}

const PAYLOADS: [&str; 3] = [
    "<script>document.title='XSS'</script>",
    "\"><img src=x onerror=\"document.title='XSS'\">",
    "{{ 7*7 }}",
];

#[tokio::test]
async fn markup_typed_into_an_order_shows_as_text_on_every_page() {
    let s = common::start().await;
    let (_driver, c) = browser().await;
    let http = common::http();
    let u = |p: &str| format!("{}{p}", s.url);
    let (me, _) = common::applicant(&http, &s.url, "13800138000").await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    // The stamped form of the browser test above: two seals, as the order asks.
    let scan =
        sealdesk_artwork::testkit::generate(11, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    let mut token = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();

    for p in PAYLOADS {
        // Every free-text field of the order holds the payload: names, address, seal names, the scans' file
        // names, the 审核意见 and the invoice title.
        let mut body = common::order_body("13800138000");
        for f in ["applicant_name", "enterprise_name", "address"] {
            body["holder"][f] = serde_json::json!(p);
        }
        // A seal name holds at most 40 characters: as much of the payload as fits, still markup.
        let seal_name: String = p.chars().take(40).collect();
        body["seals"] = serde_json::json!([{"kind": "official_seal", "count": 1, "name": seal_name}, {"kind": "qualification_seal", "count": 1, "name": seal_name}]);
        let r = http
            .post(u("/api/v1/orders"))
            .bearer_auth(&me)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let o: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{o}");
        let id = o["id"].as_str().unwrap().to_owned();
        for (st, body) in common::upload_all(&s, &http, &me, &id, &scan, &format!("{p}.jpg")).await
        {
            assert_eq!(st, 201, "{body}");
        }
        let post = |path: String, token: &str, json: Value| {
            let (http, token) = (http.clone(), token.to_owned());
            let url = u(&path);
            async move {
                let r = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    r.status().is_success(),
                    "{path}: {}",
                    r.text().await.unwrap()
                );
            }
        };
        post(
            format!("/api/v1/orders/{id}/submit"),
            &me,
            serde_json::json!({}),
        )
        .await;
        post(
            format!("/api/v1/orders/{id}/reject"),
            &admin,
            serde_json::json!({"comment": p}),
        )
        .await;

        let check = |v: Value, what: &str, as_value: bool| {
            assert_eq!(
                v["foreign"], 0,
                "{what}: markup from the value became elements ({p})"
            );
            assert_ne!(v["title"].as_str().unwrap_or(""), "XSS", "{what}");
            if as_value {
                assert!(
                    v["values"].as_u64().unwrap() > 0,
                    "{what}: the form keeps {p} as its value"
                );
            } else {
                assert_eq!(v["asText"], true, "{what}: {p} shows as text");
            }
        };

        // The applicant's pages: list, detail (with the 审核意见), form, and the print view.
        use_session(&c, &s.url, &me).await;
        check(inspect(&c, &u("/orders"), p).await, "我的订单", false);
        check(
            inspect(&c, &u(&format!("/orders/{id}")), p).await,
            "订单详情",
            false,
        );
        check(
            inspect(&c, &u(&format!("/orders/{id}/edit")), p).await,
            "修改订单",
            true,
        );
        check(
            inspect(&c, &u(&format!("/orders/{id}/impression-form")), p).await,
            "印模采集表",
            false,
        );

        // The operator's: the queue and the order with its audit trail.
        use_session(&c, &s.url, &admin).await;
        check(
            inspect(&c, &u("/admin/orders?state=rejected"), p).await,
            "订单管理",
            false,
        );
        check(
            inspect(&c, &u(&format!("/admin/orders/{id}")), p).await,
            "订单审核",
            false,
        );

        // Resubmitted and approved, the invoice title is proposed back in the payment form, then shown on the
        // invoice once the seals are written.
        post(
            format!("/api/v1/orders/{id}/submit"),
            &me,
            serde_json::json!({}),
        )
        .await;
        post(
            format!("/api/v1/orders/{id}/approve"),
            &admin,
            serde_json::json!({}),
        )
        .await;
        post(
            format!("/api/v1/orders/{id}/invoice"),
            &me,
            serde_json::json!({"kind": "enterprise", "title": p, "taxpayer_id": "91110108551385082Q", "mobile": "13800138000", "email": ""}),
        )
        .await;
        use_session(&c, &s.url, &me).await;
        check(
            inspect(&c, &u(&format!("/orders/{id}")), p).await,
            "申请开票",
            true,
        );
        let pay: Value = http
            .post(u(&format!("/api/v1/orders/{id}/payments")))
            .bearer_auth(&me)
            .json(&serde_json::json!({"channel": "sandbox"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        post(
            format!(
                "/api/v1/sandbox/payments/{}/pay",
                pay["payment_id"].as_str().unwrap()
            ),
            &me,
            serde_json::json!({}),
        )
        .await;
        let challenge: Value = http
            .post(u(&format!("/api/v1/orders/{id}/authorize/challenge")))
            .bearer_auth(&me)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        post(
            format!("/api/v1/orders/{id}/authorize"),
            &me,
            common::challenge_answer(&mut token, &challenge),
        )
        .await;
        let seals: Value = http
            .get(u(&format!("/api/v1/orders/{id}/seals")))
            .bearer_auth(&me)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let receipts = common::receipts(&mut token, &seals);
        post(
            format!("/api/v1/orders/{id}/written"),
            &me,
            serde_json::json!({"receipts": receipts}),
        )
        .await;
        check(
            inspect(&c, &u(&format!("/orders/{id}")), p).await,
            "已完成",
            false,
        );
        check(
            inspect(&c, &u(&format!("/orders/{id}/invoice")), p).await,
            "电子发票",
            false,
        );
        use_session(&c, &s.url, &admin).await;
        check(
            inspect(&c, &u(&format!("/admin/orders/{id}")), p).await,
            "已完成（管理员）",
            false,
        );
    }

    // A refused form comes back with every field as typed, as values, never as markup.
    use_session(
        &c,
        &s.url,
        &common::applicant(&http, &s.url, "13900139000").await.0,
    )
    .await;
    for p in PAYLOADS {
        c.goto(&u("/orders/new?service=new")).await.unwrap();
        for id in [
            "applicant_name",
            "id_number",
            "mobile",
            "enterprise_name",
            "enterprise_phone",
            "credit_code",
            "address",
        ] {
            fill(&c, id, p).await;
        }
        click(&c, "#save").await;
        wait_text(&c, "请修改标红的内容后再保存").await;
        let v = c
            .execute(
                "return {foreign: document.querySelectorAll('[onerror], img[src=\"x\"], script:not([src])').length, \
                         kept: ['applicant_name','id_number','mobile','enterprise_name','enterprise_phone','credit_code','address'].filter(i => document.getElementById(i).value === arguments[0]).length}",
                vec![serde_json::json!(p)],
            )
            .await
            .unwrap();
        assert_eq!(v["foreign"], 0, "{p}");
        assert_eq!(v["kept"], 7, "{p}");
    }
    c.close().await.unwrap();
}

/// The 印模采集表 printed by Chromium to PDF (A4, default scaling): the box to stamp in is the seal's size on
/// paper. The PDF is rasterised by poppler's `pdftoppm` at 254 dpi (10 px/mm) and the box found by its colour.
#[tokio::test]
async fn the_impression_form_prints_at_true_size() {
    let s = common::start().await;
    let (_driver, c) = browser().await;
    let http = common::http();
    let (me, _) = common::applicant(&http, &s.url, "13800138000").await;
    let mut body = common::order_body("13800138000");
    body["seals"] = serde_json::json!([{"kind": "official_seal", "count": 1}]);
    let o: Value = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&me)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    use_session(&c, &s.url, &me).await;
    c.goto(&format!(
        "{}/orders/{}/impression-form",
        s.url,
        o["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    wait_text(&c, "盖章处").await;
    let pdf = c
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let pdf_path = s.tmp.path().join("form.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let png = s.tmp.path().join("form");
    let out = Command::new("pdftoppm")
        .args(["-r", "254", "-png", "-singlefile", "-f", "1", "-l", "1"])
        .arg(&pdf_path)
        .arg(&png)
        .output()
        .expect("pdftoppm (Debian package poppler-utils) must be installed: run scripts/test.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(png.with_extension("png")).unwrap().to_rgb8();
    // The box's dashed border is the only blue on the printed page.
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if i32::from(p[2]) - i32::from(p[0]) > 60 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    assert!(x1 > x0 && y1 > y0, "no stamp box on the printed page");
    let (w_mm, h_mm) = (f64::from(x1 - x0 + 1) / 10.0, f64::from(y1 - y0 + 1) / 10.0);
    let page_mm = f64::from(img.width()) / 10.0;
    assert!((page_mm - 210.0).abs() < 1.0, "A4 page: {page_mm} mm wide");
    assert!(
        (w_mm - 52.0).abs() <= 1.0 && (h_mm - 52.0).abs() <= 1.0,
        "the stamp box prints {w_mm} × {h_mm} mm"
    );
    c.close().await.unwrap();
}

/// 订单管理 in the browser: the operator's list pages by 10 with the seed's pager text, finds an order by a part
/// of its number typed into the search box, changes the page size, and exports what the filter shows.
#[tokio::test]
async fn an_operator_finds_an_order_by_part_of_its_number_and_exports_the_list() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(common::draft_order(&http, &s.url, &alice, "13800138000").await);
    }
    let wanted = s.store.order(ids[4].parse().unwrap()).await.unwrap();
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &admin).await;

    c.goto(&format!("{}/admin/orders?state=", s.url))
        .await
        .unwrap();
    let page = wait_text(&c, "条记录每页").await;
    assert!(
        page.contains("第 1 到 10 条, 共 12 条记录, 10 条记录每页"),
        "{page}"
    );
    assert_eq!(
        c.find_all(Locator::Css("table.orders tr"))
            .await
            .unwrap()
            .len(),
        11
    );

    // Orders made together share the beginning of their numbers: the tail is what tells them apart.
    let tail = &wanted.order_no[wanted.order_no.len() - 6..];
    let q = c.find(Locator::Css("input[name=q]")).await.unwrap();
    q.send_keys(tail).await.unwrap();
    click(&c, "form.filters button").await;
    let page = wait_text(&c, "共 1 条记录").await;
    assert!(page.contains(&wanted.order_no), "{page}");
    assert!(
        page.contains("第 1 到 1 条, 共 1 条记录, 10 条记录每页"),
        "{page}"
    );
    assert_eq!(
        c.find(Locator::Css("input[name=q]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(tail),
        "the search stays in the box"
    );

    // The export link carries the filter: the CSV holds that order only.
    let href = c
        .find(Locator::Css("a.button"))
        .await
        .unwrap()
        .prop("href")
        .await
        .unwrap()
        .unwrap();
    assert!(href.contains(&format!("q={tail}")), "{href}");
    let csv = common::get_text(&http, &href, &format!("sd_session={admin}")).await;
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with(&format!("{},南昌市城建档案馆,新办,李四,", wanted.order_no)),
        "{csv}"
    );

    // A larger page shows them all.
    c.goto(&format!("{}/admin/orders?state=", s.url))
        .await
        .unwrap();
    wait_text(&c, "条记录每页").await;
    c.find(Locator::Css("select[name=per_page] option[value='25']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "form.filters button").await;
    let page = wait_text(&c, "25 条记录每页").await;
    assert!(
        page.contains("第 1 到 12 条, 共 12 条记录, 25 条记录每页"),
        "{page}"
    );
    c.close().await.unwrap();
}

/// 审核对照 in the browser: the reviewer sees each scan inside the page beside the typed values, zooms and turns
/// it, and asks for the full ID number, which is then recorded in the audit log; nobody else gets the previews.
#[tokio::test]
async fn a_reviewer_compares_the_scans_with_the_typed_values() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 9).await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &admin).await;
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "审核对照").await;

    let loaded = c
        .execute(
            "return Array.from(document.querySelectorAll('figure.scan img')).map(i => [i.alt, i.complete && i.naturalWidth > 0]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        loaded,
        serde_json::json!([
            ["身份证（人像面）", true],
            ["身份证（国徽面）", true],
            ["统一社会信用代码证", true],
            ["印模采集表", true]
        ]),
        "every scan shows inside the page"
    );

    // Each seal's cut-out from its own box of the stamped form, beside its kind, at true size: the <img> is as
    // many CSS pixels (96 to the inch) as the impression measures in millimetres, and nothing shrinks it.
    let cut = c
        .execute(
            "return Array.from(document.querySelectorAll('#cutouts tr[data-kind]')).map(r => { const i = r.querySelector('img'); const b = i.getBoundingClientRect(); return [r.dataset.kind, r.cells[2].textContent, Number(i.getAttribute('width')), Math.round(b.width), i.complete && i.naturalWidth > 0]; });",
            vec![],
        )
        .await
        .unwrap();
    let rows = cut.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{cut}");
    for (row, kind) in rows.iter().zip(["official_seal", "qualification_seal"]) {
        assert_eq!(row[0], kind, "{cut}");
        let mm: f64 = row[1]
            .as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (36.0..=44.0).contains(&mm),
            "a stamp in a 42 mm box measures about that: {cut}"
        );
        let px = (mm * 96.0 / 25.4).round();
        assert_eq!(row[2].as_f64().unwrap(), px, "{cut}");
        assert_eq!(row[3].as_f64().unwrap(), px, "shown at its width: {cut}");
        assert_eq!(row[4], true, "the cut-out loads: {cut}");
    }
    click(&c, "figure.scan button[data-act='rotate']").await;
    click(&c, "figure.scan button[data-act='zoom-in']").await;
    let transform = c
        .execute(
            "return document.querySelector('figure.scan img').style.transform;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(transform, "rotate(90deg) scale(1.5)");

    let shown = |c: &Client| {
        let c = c.clone();
        async move {
            c.find(Locator::Id("id-number"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(shown(&c).await, "110105********002X");
    assert!(
        s.store
            .audit_entries(Some(id.parse().unwrap()))
            .await
            .unwrap()
            .iter()
            .all(|e| e.action != "view_id_number")
    );
    click(&c, "#reveal-id").await;
    wait_text(&c, "11010519491231002X").await;
    assert_eq!(shown(&c).await, "11010519491231002X");
    let views: Vec<_> = s
        .store
        .audit_entries(Some(id.parse().unwrap()))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "view_id_number")
        .map(|e| e.actor)
        .collect();
    assert_eq!(views, vec!["operator:admin".to_owned()]);
    c.close().await.unwrap();

    // The previews are the reviewers': the applicant is refused, an operator of no group finds nothing.
    let upload = s.store.uploads(id.parse().unwrap()).await.unwrap()[0].id;
    let preview = format!("{}/admin/uploads/{upload}/preview", s.url);
    let r = http
        .get(&preview)
        .header("cookie", format!("sd_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    let outsider = common::operator(&http, &s.url, "outsider", "outsider-pass").await;
    let r = http
        .get(&preview)
        .header("cookie", format!("sd_session={outsider}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = http
        .get(&preview)
        .header("cookie", format!("sd_session={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["content-disposition"], "inline");

    // The cut-outs are the order's people's: its applicant sees them too, another applicant finds nothing.
    let cutout = format!("{}/orders/{id}/cutouts/1", s.url);
    let r = http
        .get(&cutout)
        .header("cookie", format!("sd_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (bob, _) = common::applicant(&http, &s.url, "13900139000").await;
    let r = http
        .get(&cutout)
        .header("cookie", format!("sd_session={bob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/orders/{id}/cutouts/2", s.url))
        .header("cookie", format!("sd_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        reqwest::StatusCode::NOT_FOUND,
        "two seals: no third"
    );
}

/// 审核不通过 with a coded reason and a comment, all in the browser: the reviewer ticks the reason on the review
/// page, the applicant reads the comment on the order page and the reason beside the field it concerns, saves
/// the corrected form and submits again, and the reviewer approves the resubmission.
#[tokio::test]
async fn a_rejection_with_a_coded_reason_is_corrected_and_approved() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 11).await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let (_driver, c) = browser().await;

    use_session(&c, &s.url, &admin).await;
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "不通过原因").await;
    click(&c, "input[name='reason'][value='credit_code_mismatch']").await;
    fill(&c, "comment", "请按营业执照核对统一社会信用代码").await;
    click(&c, "#reject").await;
    wait_text(&c, "请按营业执照核对统一社会信用代码").await;
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::Rejected);
    assert_eq!(order.review_reasons[0].code, "credit_code_mismatch");
    let reason = order.review_reasons[0].text.clone();

    use_session(&c, &s.url, &alice).await;
    c.goto(&format!("{}/orders/{id}", s.url)).await.unwrap();
    let page = wait_text(&c, "审核意见").await;
    assert!(page.contains("请按营业执照核对统一社会信用代码"), "{page}");
    click(&c, "a[href$='/edit']").await;
    wait_text(&c, "统一社会信用代码").await;
    let beside = c
        .execute(
            "return document.getElementById('credit_code').closest('.row').querySelector('.error').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(beside, serde_json::json!(reason));
    fill(&c, "address", "北京市西城区南礼士路62号院").await;
    click(&c, "#save").await;
    wait_text(&c, "南礼士路62号院").await;
    click(&c, "form[action$='/submit'] button").await;
    wait_text(&c, "待审核").await;
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingReview);
    assert_eq!(order.holder.address, "北京市西城区南礼士路62号院");

    use_session(&c, &s.url, &admin).await;
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "审核对照").await;
    click(&c, "form[action$='/approve'] button").await;
    wait_text(&c, "待支付").await;
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingPayment);
    let trail: Vec<String> = s
        .store
        .audit_entries(Some(order.id))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .filter(|a| ["submit", "reject", "edit", "approve"].contains(&a.as_str()))
        .collect();
    assert_eq!(trail, ["submit", "reject", "edit", "submit", "approve"]);
    c.close().await.unwrap();
}

/// The console in the browser for three operators: a super-administrator sets the project's registered seal size
/// and asks a 二次审核 for 企业公章 on the projects page; the first reviewer's approval leaves the order 待审核
/// and a second click of theirs is refused on the page; another reviewer completes it; an operator of another
/// group neither lists the order nor opens it by its address, and the attempt is logged.
#[tokio::test]
async fn a_second_reviewer_completes_the_approval_and_another_group_never_sees_the_order() {
    let s = common::start().await;
    let http = common::http();
    common::foreign_project(&s.store).await;
    s.app
        .ensure_operator("root", "root-password-1", true)
        .await
        .unwrap();
    let wangwu = s
        .app
        .ensure_operator("wangwu", "wangwu-password-1", false)
        .await
        .unwrap();
    let zhaoliu = s
        .app
        .ensure_operator("zhaoliu", "zhaoliu-password-1", false)
        .await
        .unwrap();
    let a = s.store.group_by_name("A组").await.unwrap();
    let b = s.store.group_by_name("B组").await.unwrap();
    s.store.add_to_group(a.id, wangwu).await.unwrap();
    s.store.add_to_group(b.id, zhaoliu).await.unwrap();
    let root = common::operator(&http, &s.url, "root", "root-password-1").await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let wangwu = common::operator(&http, &s.url, "wangwu", "wangwu-password-1").await;
    let zhaoliu = common::operator(&http, &s.url, "zhaoliu", "zhaoliu-password-1").await;
    let (_driver, c) = browser().await;

    // The projects page: a size that is no size is named, a right one is kept; then the 二次审核.
    use_session(&c, &s.url, &root).await;
    c.goto(&format!("{}/admin/projects", s.url)).await.unwrap();
    wait_text(&c, "需二次审核的印章").await;
    click(&c, "#settings-testCSQY summary").await;
    fill(&c, "size-testCSQY-official_seal", "5").await;
    click(&c, "#save-settings-testCSQY").await;
    wait_text(&c, "「企业公章」的尺寸 5 mm 超出 10–90 mm").await;
    click(&c, "#settings-testCSQY summary").await;
    fill(&c, "size-testCSQY-official_seal", "40").await;
    fill(&c, "contact-testCSQY", "王老师 0791-88888888").await;
    click(&c, "#save-settings-testCSQY").await;
    wait_text(&c, "企业公章 40×40 mm").await;
    click(&c, "#second-approval-testCSQY input[value='official_seal']").await;
    click(&c, "#second-approval-testCSQY button").await;
    wait_text(&c, "项目与操作员组").await;
    let p = s.store.project_by_code("testCSQY").await.unwrap();
    assert_eq!(p.second_approval, [sealdesk_domain::SealKind::OfficialSeal]);
    assert_eq!(p.size_mm(sealdesk_domain::SealKind::OfficialSeal), (40, 40));
    assert_eq!(p.contact, "王老师 0791-88888888");

    // An order made after the change is drawn with the registered size.
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 13).await;
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    let spec = sealdesk_app::form_spec(&order);
    assert_eq!(
        (spec.boxes[0].width_mm, spec.boxes[1].width_mm),
        (40.0, 42.0),
        "企业公章 registered at 40 mm, 企业资质印章 usual"
    );

    // First approval, the same reviewer again, then another reviewer.
    use_session(&c, &s.url, &admin).await;
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "审核对照").await;
    click(&c, "form[action$='/approve'] button").await;
    wait_text(&c, "已初审，待复核（初审：admin）").await;
    click(&c, "form[action$='/approve'] button").await;
    wait_text(&c, "复核须由另一位审核员完成").await;
    assert_eq!(
        s.store.order(order.id).await.unwrap().state,
        sealdesk_domain::OrderState::PendingReview
    );
    use_session(&c, &s.url, &wangwu).await;
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "已初审，待复核（初审：admin）").await;
    click(&c, "form[action$='/approve'] button").await;
    wait_text(&c, "待支付").await;
    assert_eq!(
        s.store.order(order.id).await.unwrap().state,
        sealdesk_domain::OrderState::PendingPayment
    );

    // B组's operator: not in the list (every state), not found by address, and the attempt is in the audit log.
    use_session(&c, &s.url, &zhaoliu).await;
    c.goto(&format!("{}/admin/orders?state=", s.url))
        .await
        .unwrap();
    let list = wait_text(&c, "订单管理").await;
    assert!(!list.contains(&order.order_no), "{list}");
    c.goto(&format!("{}/admin/orders/{id}", s.url))
        .await
        .unwrap();
    wait_text(&c, "未找到该记录").await;
    let refused: Vec<String> = s
        .store
        .audit_entries(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "access_refused" && a.detail.contains(&id))
        .map(|a| a.actor)
        .collect();
    assert_eq!(refused, ["operator:zhaoliu"]);
    c.close().await.unwrap();
}

/// A demo server whose pages may reach a UKey agent on a loopback port (bound here, for [`start_agent`]), and the
/// applicant 13800138000 signed in: the server, an HTTP client, the session token, the applicant as the use cases
/// take it, and the agent's listener.
async fn with_agent_port() -> (
    common::TestServer,
    reqwest::Client,
    String,
    sealdesk_app::Who,
    tokio::net::TcpListener,
) {
    let agent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_url = format!("http://{}", agent_listener.local_addr().unwrap());
    let s = common::start_full(
        true,
        Vec::new(),
        agent_url,
        std::sync::Arc::new(sealdesk_domain::SystemClock),
    )
    .await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    (s, http, token, who, agent_listener)
}

/// The UKey agent, in-process on a real loopback port, serving the soft token to the platform's origin only.
async fn start_agent(
    listener: tokio::net::TcpListener,
    token_dir: &std::path::Path,
    origin: &str,
    maker_pem: &str,
) -> tokio::sync::oneshot::Sender<()> {
    let port = listener.local_addr().unwrap().port();
    let agent = std::sync::Arc::new(sealdesk_agent::Agent::new(
        std::sync::Arc::new(sealdesk_agent::soft::SoftBackend::new(token_dir)),
        vec![sealdesk_pki::Cert::from_pem(maker_pem).unwrap()],
    ));
    let config = sealdesk_agent::server::Config {
        origins: vec![sealdesk_agent::server::parse_origin(origin).unwrap()],
        port,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        sealdesk_agent::server::serve(listener, agent, config, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    tx
}

/// 授权 and 制章 of a paid order through the agent, from the page: the key panel, a wrong PIN (还可尝试 N
/// 次), the right one, the challenge signed, the seals made, written, read back and confirmed — 印章办理完成
/// with no terminal step. Then 证书登录 with the same key.
#[tokio::test]
async fn the_agent_takes_a_paid_order_to_completed_and_signs_in() {
    let agent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_url = format!("http://{}", agent_listener.local_addr().unwrap());
    let s = common::start_full(
        true,
        Vec::new(),
        agent_url.clone(),
        std::sync::Arc::new(sealdesk_domain::SystemClock),
    )
    .await;
    let _agent = start_agent(
        agent_listener,
        &s.token_dir,
        &s.url,
        &s.app.maker_certificate_pem(),
    )
    .await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let id = common::paid_order(&s, &who, "new", None).await;
    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;

    // The page's CSP lets it reach the agent and nothing else.
    let csp = http
        .get(format!("{}/orders/{id}", s.url))
        .header("cookie", format!("sd_session={token}"))
        .send()
        .await
        .unwrap()
        .headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("connect-src 'self' {agent_url};")),
        "{csp}"
    );

    c.goto(&format!("{}/orders/{id}", s.url)).await.unwrap();
    let panel = wait_text(&c, "检测到 1 把证书锁").await;
    let serial = sealdesk_adapters::token::SoftToken::open(&s.token_dir)
        .unwrap()
        .serial()
        .to_owned();
    assert!(
        panel.contains(&serial) && panel.contains("企业锁"),
        "{panel}"
    );
    assert!(
        panel.contains("北筑设计研究院有限公司") && panel.contains("还可尝试 6 次"),
        "{panel}"
    );

    fill(&c, "ukey-pin", "00000000").await;
    click(&c, "#ukey-go").await;
    let refused = wait_text(&c, "锁密码（PIN）错误").await;
    assert!(refused.contains("还可尝试 5 次"), "{refused}");
    assert_eq!(
        s.store.order(id).await.unwrap().state,
        sealdesk_domain::OrderState::Paid,
        "a wrong PIN changes nothing"
    );

    fill(&c, "ukey-pin", "12345678").await;
    click(&c, "#ukey-go").await;
    wait_text(&c, "印章办理完成").await;
    let done = wait_text(&c, "已完成").await;
    assert!(done.contains("印章办理完成"), "{done}");
    let o = s.store.order(id).await.unwrap();
    assert_eq!(o.state, sealdesk_domain::OrderState::Completed);
    let bound = o.key.unwrap();
    assert_eq!(
        bound.cert_der_hex,
        hex::encode(
            sealdesk_adapters::token::SoftToken::open(&s.token_dir)
                .unwrap()
                .cert()
                .der()
        )
    );
    // The seals are on the key, as made.
    let on_key = sealdesk_adapters::token::SoftToken::open(&s.token_dir)
        .unwrap()
        .seals()
        .unwrap();
    let made = s.app.seals(&who, id).await.unwrap();
    assert_eq!(on_key.len(), made.len());

    // 证书环境检测: every check passes with the agent running, the key in and the maker certificate given.
    c.goto(&format!("{}/ukey-check", s.url)).await.unwrap();
    let check = wait_text(&c, "写入印章：通过").await;
    for line in [
        "证书助手：通过",
        "本网站可使用证书助手：通过",
        "证书锁：通过",
        "证书：通过",
        "证书有效期：通过",
        "锁密码：通过",
    ] {
        assert!(check.contains(line), "{line}: {check}");
    }
    assert!(!check.contains("未通过 —"), "{check}");

    // 证书登录: signed out, the same key signs the platform's sign-in challenge.
    c.delete_all_cookies().await.unwrap();
    c.goto(&format!("{}/login", s.url)).await.unwrap();
    wait_text(&c, "检测到 1 把证书锁").await;
    fill(&c, "ukey-login-pin", "12345678").await;
    click(&c, "#ukey-login-go").await;
    let orders = wait_text(&c, "订单金额(元)").await;
    assert!(orders.contains(&o.order_no), "{orders}");
    c.close().await.unwrap();
}

/// 续期 from 我的订单 to the key: the completed order's 续期 opens a form that names it and lists its seals, each
/// ticked to renew (no 印模采集表); with one unticked, the renewal renews the other only. Through the agent the
/// renewed seal takes the place of the earlier one on the key, in one all-or-nothing write, the page says so, the
/// seal not chosen stays, and the new seal carries the picture of the one it renews.
#[tokio::test]
async fn a_renewal_replaces_the_earlier_seals_on_the_key() {
    let agent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_url = format!("http://{}", agent_listener.local_addr().unwrap());
    let s = common::start_full(
        true,
        Vec::new(),
        agent_url.clone(),
        std::sync::Arc::new(sealdesk_domain::SystemClock),
    )
    .await;
    let _agent = start_agent(
        agent_listener,
        &s.token_dir,
        &s.url,
        &s.app.maker_certificate_pem(),
    )
    .await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let first = common::paid_order(&s, &who, "new", None).await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, first, &mut key).await;
    drop(key);
    let on_key = || {
        let mut ids: Vec<String> = sealdesk_adapters::token::SoftToken::open(&s.token_dir)
            .unwrap()
            .seals()
            .unwrap()
            .into_iter()
            .map(|(_, der)| match sealdesk_ses::parse(&der).unwrap() {
                sealdesk_ses::Parsed::Seal(p) => p.es_id,
                _ => panic!("a seal signature where a seal was written"),
            })
            .collect();
        ids.sort();
        ids
    };
    let made = |id: i64| {
        let (app, who) = (s.app.clone(), who.clone());
        async move {
            let mut ids: Vec<String> = app
                .seals(&who, id)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.es_id)
                .collect();
            ids.sort();
            ids
        }
    };
    let old = made(first).await;
    assert_eq!(on_key(), old);

    // 我的订单 → 续期 on the completed order: the form names the earlier order and lists the seals it renews,
    // with their windows, instead of the seal kinds to choose; no 印模采集表 is asked for.
    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders", s.url)).await.unwrap();
    let list = wait_text(&c, "订单金额(元)").await;
    // 印章有效期: the completed order's seals' dates, as a range.
    let today = sealdesk_domain::Timestamp(s.app.now()).beijing_date();
    assert!(list.contains(&format!("{today} 至 ")), "{list}");
    click(&c, &format!("a.renew[href$='previous={first}']")).await;
    let form = wait_text(&c, "续期的印章").await;
    let first_no = s.store.order(first).await.unwrap().order_no;
    assert!(form.contains(&format!("原订单：{first_no}")), "{form}");
    let renewed: Value = c
        .execute(
            "return Array.from(document.querySelectorAll('#renew-seals tr')).slice(1).map(r => [r.cells[0].querySelector('input').checked, r.cells[1].textContent, r.cells[2].textContent]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        renewed,
        serde_json::json!([
            [true, "企业公章", "北筑设计研究院有限公司"],
            [true, "企业资质印章", "北筑设计研究院有限公司"]
        ])
    );
    // Nothing ticked is named on the page; then the 公章 alone is renewed.
    let boxes = c
        .find_all(fantoccini::Locator::Css("#renew-seals input[name=chosen]"))
        .await
        .unwrap();
    for b in &boxes {
        b.click().await.unwrap();
    }
    click(&c, "#save").await;
    wait_text(&c, "请至少勾选一枚要续期的印章").await;
    click(&c, &format!("#chosen-{}", old[0])).await;
    click(&c, "#save").await;
    wait_text(&c, "印章办理状态").await;
    let renewal: i64 = c
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = s.store.order(renewal).await.unwrap();
    assert_eq!(
        (r.service, r.previous_order),
        (sealdesk_domain::Service::Renewal, Some(first))
    );
    assert!(
        !r.required_uploads()
            .contains(&sealdesk_domain::UploadKind::ImpressionForm)
    );
    assert_eq!(r.seals.len(), 1);
    assert_eq!(r.seals[0].kind, sealdesk_domain::SealKind::OfficialSeal);
    assert_eq!(r.total, sealdesk_domain::Fen(8_000));
    let invoice = s.store.order(first).await.unwrap().invoice.unwrap();
    to_paid(&s, &who, renewal, scans_for(&r), &invoice).await;

    c.goto(&format!("{}/orders/{renewal}", s.url))
        .await
        .unwrap();
    wait_text(&c, "检测到 1 把证书锁").await;
    fill(&c, "ukey-pin", "12345678").await;
    click(&c, "#ukey-go").await;
    let done = wait_text(&c, "印章办理完成").await;
    assert!(done.contains("将替换证书锁上原有的 1 枚印章"), "{done}");
    let new = made(renewal).await;
    assert_eq!(new.len(), 1);
    let mut want = vec![new[0].clone(), old[1].clone()];
    want.sort();
    assert_eq!(
        on_key(),
        want,
        "the renewed 公章 gave way, the 资质印章 stays"
    );
    // The renewed seal carries the picture of the seal it renews.
    let pictures = |id: i64| {
        let (app, who) = (s.app.clone(), who.clone());
        async move {
            let mut seals = app.seals(&who, id).await.unwrap();
            seals.sort_by_key(|m| m.seq);
            seals.into_iter().map(|m| m.picture_png).collect::<Vec<_>>()
        }
    };
    assert!(pictures(renewal).await[..] == pictures(first).await[..1]);
    assert_eq!(
        s.store.order(renewal).await.unwrap().state,
        sealdesk_domain::OrderState::Completed
    );
    c.close().await.unwrap();
}

/// On a 390 px phone the order list and the order page fit the screen: no page-wide sideways scroll, and no
/// table cell squeezed to a character or two a line (tables scroll inside their own box instead).
#[tokio::test]
async fn the_order_pages_fit_a_phone() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 5).await;
    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &alice).await;
    c.set_window_size(390, 844).await.unwrap();
    for path in ["/orders".to_owned(), format!("/orders/{id}")] {
        c.goto(&format!("{}{path}", s.url)).await.unwrap();
        let fit = c
            .execute(
                r#"const width = document.documentElement.clientWidth;
                   const squeezed = Array.from(document.querySelectorAll('main td, main th'))
                     .filter(cell => cell.innerText.trim().length > 3)
                     .filter(cell => cell.getBoundingClientRect().width < 2.5 * parseFloat(getComputedStyle(cell).fontSize))
                     .map(cell => cell.innerText.trim());
                   return {width, page: document.documentElement.scrollWidth, squeezed,
                           cells: document.querySelectorAll('main td').length};"#,
                vec![],
            )
            .await
            .unwrap();
        let width = fit["width"].as_i64().unwrap();
        assert!(width <= 420, "{path}: the window is a phone's: {fit}");
        assert!(
            fit["cells"].as_i64().unwrap() > 3,
            "{path}: a table is there: {fit}"
        );
        assert!(
            fit["page"].as_i64().unwrap() <= width,
            "{path}: the page scrolls sideways: {fit}"
        );
        assert_eq!(fit["squeezed"], serde_json::json!([]), "{path}: {fit}");
    }
    c.close().await.unwrap();
}

/// 在线手写签字 in the browser, for a personal key: a person's order of a 注册建造师 执业印章 and a 手写签字. On the
/// pad page, saving before signing is refused by its reason; the applicant signs with a pen (pointer events), the
/// order page shows the signature at its registered size (50 × 25 mm), the 印模采集表 keeps the 执业印章's box only,
/// and the 手写签字 seal written onto the person's key carries the drawing.
#[tokio::test]
async fn a_handwritten_signature_drawn_on_the_pad_becomes_the_seal() {
    use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, PenActions, PointerAction};
    let s = common::start().await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let mut body = common::order_body("13800138000");
    body.as_object_mut().unwrap().remove("project");
    body["holder"]["kind"] = serde_json::json!("person");
    body["seals"] = serde_json::json!([{"kind": "registered_constructor", "count": 1}, {"kind": "handwritten_signature", "count": 1}]);
    let form: sealdesk_domain::OrderForm = serde_json::from_value(body).unwrap();
    let o = s.app.create_order(&who, "testCSQY", &form).await.unwrap();

    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders/{}", s.url, o.id)).await.unwrap();
    wait_text(&c, "手写签字印章可在这里在线签名").await;
    click(&c, "#signature-link").await;
    wait_text(&c, "请在下面的签字区内").await;
    click(&c, "#signature-save").await;
    wait_text(&c, "签名为空，请先签字").await;
    let canvas = c.find(Locator::Id("signature-canvas")).await.unwrap();
    let ms = std::time::Duration::from_millis(80);
    let pen = PenActions::new("pen".into())
        .then(PointerAction::MoveToElement {
            element: canvas.clone(),
            duration: None,
            x: -150.0,
            y: 20.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(ms),
            x: 60.0,
            y: -50.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(ms),
            x: 70.0,
            y: 60.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(ms),
            x: 90.0,
            y: -40.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(pen).await.unwrap();
    let drawn: Value = c
        .execute(
            "return JSON.parse(document.querySelector('[data-signature-output]').value);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(drawn["strokes"][0]["pointer"], "pen", "{drawn}");
    assert!(
        drawn["strokes"][0]["points"].as_array().unwrap().len() >= 3,
        "{drawn}"
    );
    click(&c, "#signature-save").await;
    wait_text(&c, "手写签字已保存").await;
    let order = s.store.order(o.id).await.unwrap();
    let sig = order.pad_signature.clone().unwrap();
    assert_eq!((sig.width_mm, sig.height_mm), (50, 25));
    // Shown at true size (96 CSS px per inch), and it loads.
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = c
            .execute(
                "const i = document.getElementById('signature-current'); return [+i.getAttribute('width'), +i.getAttribute('height'), i.complete && i.naturalWidth > 0];",
                vec![],
            )
            .await
            .unwrap();
        if shown[2] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(shown, serde_json::json!([189, 94, true]));
    let spec = sealdesk_app::form_spec(&order);
    assert_eq!(
        spec.boxes
            .iter()
            .map(|b| b.kind_label.as_str())
            .collect::<Vec<_>>(),
        ["注册建造师"],
        "the form keeps the 执业印章's box only"
    );

    // The rest of the way through the use cases: the stamped form, review, payment, and a personal key.
    let uploads = with_stamped_form(&s, &http, &token, o.id).await;
    to_paid(&s, &who, o.id, uploads, &person_invoice()).await;
    let mut key =
        sealdesk_adapters::token::SoftToken::open(&person_key(&s, "ukey-person")).unwrap();
    common::authorize_and_write(&s, &who, o.id, &mut key).await;
    let seals = s.app.seals(&who, o.id).await.unwrap();
    let handwritten = seals
        .iter()
        .find(|m| m.kind == sealdesk_domain::SealKind::HandwrittenSignature)
        .unwrap();
    assert!(
        handwritten.picture_png == s.app.pad_signature_png(&who, o.id).await.unwrap(),
        "the 手写签字 seal carries the drawing"
    );
    let on_key = key.seals().unwrap();
    assert_eq!(on_key.len(), 2, "both seals are on the person's key");
    c.close().await.unwrap();
}

/// 变更 of one seal in the browser: from 我的订单 the completed order's 变更 lists its seals with a box to tick and
/// a new name to type; with the 资质印章 unticked and the 公章 renamed, the order has one seal and its 印模采集表
/// one box; once the new 公章 is on the key the old 公章 is revoked (变更) and the 资质印章 stays valid.
#[tokio::test]
async fn a_change_of_one_chosen_seal_replaces_only_that_seal() {
    let s = common::start().await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let first = common::paid_order(&s, &who, "new", None).await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, first, &mut key).await;
    let mut old = s.app.seals(&who, first).await.unwrap();
    old.sort_by_key(|m| m.seq);

    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders", s.url)).await.unwrap();
    wait_text(&c, "订单金额(元)").await;
    click(&c, &format!("a.change[href$='previous={first}']")).await;
    let page = wait_text(&c, "变更的印章").await;
    assert!(page.contains("新印章名称"), "{page}");
    click(&c, &format!("#chosen-{}", old[1].es_id)).await;
    fill(
        &c,
        &format!("rename-{}", old[0].es_id),
        "北筑设计研究院（集团）有限公司",
    )
    .await;
    click(&c, "#save").await;
    wait_text(&c, "印章办理状态").await;
    let change: i64 = c
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let o = s.store.order(change).await.unwrap();
    assert_eq!(o.service, sealdesk_domain::Service::Change);
    assert_eq!(
        o.seals,
        [sealdesk_domain::SealLine {
            kind: sealdesk_domain::SealKind::OfficialSeal,
            count: 1,
            name: "北筑设计研究院（集团）有限公司".into()
        }]
    );
    assert_eq!(o.total, sealdesk_domain::Fen(8_000));
    assert_eq!(
        sealdesk_app::form_spec(&o).boxes.len(),
        1,
        "one box, for the 公章"
    );

    let uploads = with_stamped_form(&s, &http, &token, change).await;
    let invoice = s.store.order(first).await.unwrap().invoice.unwrap();
    to_paid(&s, &who, change, uploads, &invoice).await;
    common::authorize_and_write(&s, &who, change, &mut key).await;
    let status = |es_id: String| {
        let app = s.app.clone();
        async move { app.seal_status(&es_id).await.unwrap().status.label() }
    };
    assert_eq!(status(old[0].es_id.clone()).await, "已注销");
    assert_eq!(status(old[1].es_id.clone()).await, "有效");
    let new = s.app.seals(&who, change).await.unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].name, "北筑设计研究院（集团）有限公司");
    assert_eq!(status(new[0].es_id.clone()).await, "有效");
    c.close().await.unwrap();
}

/// The id at the end of the page's path (`/orders/123`).
async fn order_id_in_url(c: &Client) -> i64 {
    c.current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A completed 新办, through the use cases: for an enterprise, a 公章 and a 资质印章 on the server's soft token; for
/// a person, a 注册建造师 seal (blue 执业印章, stamped in its box) on a person's soft token made under
/// `person-keys/`. Returns the order and the directory of the key holding its seals.
async fn completed_order(
    s: &common::TestServer,
    http: &reqwest::Client,
    token: &str,
    who: &sealdesk_app::Who,
    person: bool,
) -> (i64, std::path::PathBuf) {
    if !person {
        let id = common::paid_order(s, who, "new", None).await;
        let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
        common::authorize_and_write(s, who, id, &mut key).await;
        return (id, s.token_dir.clone());
    }
    let mut body = common::order_body("13800138000");
    body.as_object_mut().unwrap().remove("project");
    body["holder"]["kind"] = serde_json::json!("person");
    body["seals"] = serde_json::json!([{"kind": "registered_constructor", "count": 1}]);
    let form: sealdesk_domain::OrderForm = serde_json::from_value(body).unwrap();
    let id = s.app.create_order(who, "testCSQY", &form).await.unwrap().id;
    let uploads = with_stamped_form(s, http, token, id).await;
    to_paid(s, who, id, uploads, &person_invoice()).await;
    let dir = person_key(s, "ukey-person");
    let mut key = sealdesk_adapters::token::SoftToken::open(&dir).unwrap();
    common::authorize_and_write(s, who, id, &mut key).await;
    (id, dir)
}

/// What a draft needs uploaded when its 印模采集表 is one: the scans, and the order's own form stamped in each box.
async fn with_stamped_form(
    s: &common::TestServer,
    http: &reqwest::Client,
    token: &str,
    id: i64,
) -> Vec<(sealdesk_domain::UploadKind, Vec<u8>)> {
    let order = s.store.order(id).await.unwrap();
    let mut uploads = scans_for(&order);
    for u in uploads.iter_mut() {
        if u.0 == sealdesk_domain::UploadKind::ImpressionForm {
            u.1 = common::stamped_form(s, http, token, &id.to_string()).await;
        }
    }
    uploads
}

/// A test kit scan for the ID and licence slots.
fn scan() -> Vec<u8> {
    sealdesk_artwork::testkit::generate(11, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg
}

/// A new soft token of the person 李四 (with her ID number in the certificate) at `person-keys/<name>`.
fn person_key(s: &common::TestServer, name: &str) -> std::path::PathBuf {
    let dir = s.tmp.path().join("person-keys").join(name);
    sealdesk_adapters::token::SoftToken::init_with_id(
        &dir,
        "12345678",
        &sealdesk_adapters::keys::demo_ca(s.tmp.path()).unwrap(),
        "person",
        "李四",
        Some("11010519491231002X"),
    )
    .unwrap();
    dir
}

/// 李四's personal invoice details.
fn person_invoice() -> sealdesk_domain::InvoiceInfo {
    serde_json::from_value(serde_json::json!({
        "kind": "personal", "title": "李四", "taxpayer_id": "", "mobile": "13800138000", "email": ""
    }))
    .unwrap()
}

/// A draft of the applicant's taken through the use cases to 已支付: `uploads` added, submitted, approved by the
/// demo operator, `invoice` confirmed and paid at the sandbox cashier.
async fn to_paid(
    s: &common::TestServer,
    who: &sealdesk_app::Who,
    id: i64,
    uploads: Vec<(sealdesk_domain::UploadKind, Vec<u8>)>,
    invoice: &sealdesk_domain::InvoiceInfo,
) {
    for (kind, bytes) in uploads {
        s.app
            .add_upload(who, id, kind, "scan.jpg", bytes)
            .await
            .unwrap();
    }
    s.app.submit(who, id).await.unwrap();
    s.app
        .approve(&common::demo_admin(s).await, id)
        .await
        .unwrap();
    s.app.confirm_invoice(who, id, invoice).await.unwrap();
    let (p, _) = s.app.start_payment(who, id, "sandbox").await.unwrap();
    s.app.sandbox_pay(who, p.id).await.unwrap();
}

/// The scans a draft still needs, each the test kit's scan.
fn scans_for(order: &sealdesk_domain::Order) -> Vec<(sealdesk_domain::UploadKind, Vec<u8>)> {
    order
        .required_uploads()
        .into_iter()
        .map(|k| (k, scan()))
        .collect()
}

/// The esIDs of the seals on the soft token in `dir`.
fn seals_on_key(dir: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = sealdesk_adapters::token::SoftToken::open(dir)
        .unwrap()
        .seals()
        .unwrap()
        .into_iter()
        .map(|(_, der)| match sealdesk_ses::parse(&der).unwrap() {
            sealdesk_ses::Parsed::Seal(p) => p.es_id,
            _ => panic!("a seal signature where a seal was written"),
        })
        .collect();
    ids.sort();
    ids
}

/// 续期 for a personal key (a 注册建造师's blue 执业印章) begins where the seed begins it: 插入需要续期的证书锁，点击获取.
/// The start page lists the key with the seed's UKEY信息 (证书序列号, 证书有效开始/截止时间, 证书主题); 获取 finds the
/// completed order whose seal is on the key, with its 授权单位, 授权类型 and 印章授权开始/截止时间; 下一步 opens the
/// renewal form of that order, and the draft keeps the certificate read from the key. Through the agent the
/// renewed seal takes the place of the earlier one on the key, with its picture, and the order page shows the
/// seed's UKEY信息.
#[tokio::test]
async fn a_personal_renewal_starts_from_reading_the_key() {
    let (s, http, token, who, agent_listener) = with_agent_port().await;
    let (first, key_dir) = completed_order(&s, &http, &token, &who, true).await;
    let old = s.app.seals(&who, first).await.unwrap();
    assert_eq!(old.len(), 1);
    let cert_serial = sealdesk_adapters::token::SoftToken::open(&key_dir)
        .unwrap()
        .cert()
        .serial_hex();
    let _agent = start_agent(
        agent_listener,
        &key_dir,
        &s.url,
        &s.app.maker_certificate_pem(),
    )
    .await;

    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders", s.url)).await.unwrap();
    wait_text(&c, "订单金额(元)").await;
    click(&c, "a[href='/orders/new?service=renewal']").await;
    // The UKEY信息 lists are a grid of label and value: compare them without the line breaks between.
    let panel = wait_text(&c, "检测到 1 把证书锁").await.replace('\n', "");
    for want in [
        format!("证书序列号：{cert_serial}"),
        "证书有效开始时间：".to_owned(),
        "证书有效截止时间：".to_owned(),
        "证书主题：".to_owned(),
        "个人锁".to_owned(),
    ] {
        assert!(panel.contains(&want), "{want}: {panel}");
    }
    click(&c, "#ukey-start-go").await;
    let found = wait_text(&c, "下一步：续期这些印章")
        .await
        .replace('\n', "");
    let first_no = s.store.order(first).await.unwrap().order_no;
    let (start, end) = s.app.seal_window(&who, first).await.unwrap().unwrap();
    let day = |t: &str| {
        sealdesk_domain::Timestamp::parse_rfc3339(t)
            .unwrap()
            .beijing_date()
    };
    for want in [
        format!("订单 {first_no}（新办）"),
        "授权单位：南昌市城建档案馆".to_owned(),
        "授权类型：期限".to_owned(),
        format!("印章授权开始时间：{}", day(&start)),
        format!("印章授权截止时间：{}", day(&end)),
        "注册建造师".to_owned(),
    ] {
        assert!(found.contains(&want), "{want}: {found}");
    }
    assert!(!found.contains("证书已更换"), "{found}");
    click(&c, &format!("#key-next-{first}")).await;
    let form = wait_text(&c, "续期的印章").await;
    assert!(form.contains(&format!("原订单：{first_no}")), "{form}");
    click(&c, "#save").await;
    wait_text(&c, "印章办理状态").await;
    let renewal = order_id_in_url(&c).await;
    let r = s.store.order(renewal).await.unwrap();
    assert_eq!(
        (r.service, r.previous_order),
        (sealdesk_domain::Service::Renewal, Some(first))
    );
    assert_eq!(
        r.key.as_ref().map(|k| k.serial.clone()),
        Some(cert_serial.to_uppercase()),
        "the draft keeps the certificate read from the key"
    );
    to_paid(&s, &who, renewal, scans_for(&r), &person_invoice()).await;

    c.goto(&format!("{}/orders/{renewal}", s.url))
        .await
        .unwrap();
    wait_text(&c, "检测到 1 把证书锁").await;
    fill(&c, "ukey-pin", "12345678").await;
    click(&c, "#ukey-go").await;
    let done = wait_text(&c, "印章办理完成").await;
    assert!(done.contains("将替换证书锁上原有的 1 枚印章"), "{done}");
    let page = wait_text(&c, "UKEY信息").await.replace('\n', "");
    for want in [
        format!("证书序列号：{cert_serial}"),
        "授权单位：南昌市城建档案馆".to_owned(),
        "印章授权截止时间：".to_owned(),
    ] {
        assert!(page.contains(&want), "{want}: {page}");
    }
    let new = s.app.seals(&who, renewal).await.unwrap();
    assert_eq!(new.len(), 1);
    assert!(new[0].picture_png == old[0].picture_png, "the same picture");
    assert!(new[0].valid_end > old[0].valid_end);
    assert_eq!(
        seals_on_key(&key_dir),
        vec![new[0].es_id.clone()],
        "the renewed seal took the earlier one's place"
    );
    c.close().await.unwrap();
}

/// 补办 in the browser, for `person` or an enterprise: the key is lost, so 补办 starts from the completed order (no
/// key to read); the form is that order's, and through the agent serving the new key 授权 and 写入 put the seals,
/// with their pictures, onto the new key, while the seals of the lost key are revoked.
async fn reissue_walk(person: bool) {
    let (s, http, token, who, agent_listener) = with_agent_port().await;
    let (first, _lost) = completed_order(&s, &http, &token, &who, person).await;
    let mut old = s.app.seals(&who, first).await.unwrap();
    old.sort_by_key(|m| m.seq);
    // The new key, of the same holder, is the only one the agent sees.
    let new_dir = if person {
        person_key(&s, "ukey-new")
    } else {
        let dir = s.tmp.path().join("new-keys").join("ukey-new");
        sealdesk_adapters::token::SoftToken::init_with_id(
            &dir,
            "12345678",
            &sealdesk_adapters::keys::demo_ca(s.tmp.path()).unwrap(),
            "enterprise",
            "北筑设计研究院有限公司",
            Some("91110108551385082Q"),
        )
        .unwrap();
        dir
    };
    let new_key = sealdesk_adapters::token::SoftToken::open(&new_dir).unwrap();
    let _agent = start_agent(
        agent_listener,
        &new_dir,
        &s.url,
        &s.app.maker_certificate_pem(),
    )
    .await;

    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders", s.url)).await.unwrap();
    wait_text(&c, "订单金额(元)").await;
    click(&c, "a[href='/orders/new?service=reissue']").await;
    let start = wait_text(&c, "选择原订单").await;
    assert!(start.contains("证书锁丢失后"), "{start}");
    click(&c, &format!("#start-{first}")).await;
    let form = wait_text(&c, "原订单：").await;
    let first_no = s.store.order(first).await.unwrap().order_no;
    assert!(form.contains(&first_no), "{form}");
    click(&c, "#save").await;
    wait_text(&c, "印章办理状态").await;
    let reissue = order_id_in_url(&c).await;
    let r = s.store.order(reissue).await.unwrap();
    assert_eq!(
        (r.service, r.previous_order),
        (sealdesk_domain::Service::Reissue, Some(first))
    );
    assert!(
        !r.required_uploads()
            .contains(&sealdesk_domain::UploadKind::ImpressionForm),
        "a 补办 keeps the pictures unless new ones are uploaded"
    );
    let invoice = s.store.order(first).await.unwrap().invoice.unwrap();
    to_paid(&s, &who, reissue, scans_for(&r), &invoice).await;

    c.goto(&format!("{}/orders/{reissue}", s.url))
        .await
        .unwrap();
    let panel = wait_text(&c, "检测到 1 把证书锁").await;
    assert!(panel.contains(new_key.serial()), "{panel}");
    fill(&c, "ukey-pin", "12345678").await;
    click(&c, "#ukey-go").await;
    wait_text(&c, "印章办理完成").await;
    let done = wait_text(&c, "已完成").await;
    assert!(done.contains("UKEY信息"), "{done}");
    let r = s.store.order(reissue).await.unwrap();
    assert_eq!(r.state, sealdesk_domain::OrderState::Completed);
    assert_eq!(
        r.key.unwrap().serial,
        new_key.cert().serial_hex().to_uppercase()
    );
    let mut new = s.app.seals(&who, reissue).await.unwrap();
    new.sort_by_key(|m| m.seq);
    assert_eq!(new.len(), old.len());
    for (o, n) in old.iter().zip(&new) {
        assert!(
            n.picture_png == o.picture_png,
            "{}: the same picture",
            n.es_id
        );
        assert_eq!(
            s.app.seal_status(&o.es_id).await.unwrap().status.label(),
            "已注销",
            "{} of the lost key",
            o.es_id
        );
    }
    let mut want: Vec<String> = new.iter().map(|m| m.es_id.clone()).collect();
    want.sort();
    assert_eq!(seals_on_key(&new_dir), want);
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_enterprise_reissue_moves_the_seals_onto_a_new_key_in_the_browser() {
    reissue_walk(false).await;
}

#[tokio::test]
async fn a_personal_reissue_moves_the_seal_onto_a_new_key_in_the_browser() {
    reissue_walk(true).await;
}

/// 变更 for a person in the browser: the completed order's 变更 lists the 注册建造师 seal; renamed, its 印模采集表 has
/// one box, stamped with the new seal; through the agent the new seal replaces the old one on the key, and the
/// old one is revoked once the new one is written. The new seal's picture is the impression of its own box.
#[tokio::test]
async fn a_personal_change_replaces_the_seal_with_its_new_impression() {
    let (s, http, token, who, agent_listener) = with_agent_port().await;
    let (first, key_dir) = completed_order(&s, &http, &token, &who, true).await;
    let old = s.app.seals(&who, first).await.unwrap();
    let _agent = start_agent(
        agent_listener,
        &key_dir,
        &s.url,
        &s.app.maker_certificate_pem(),
    )
    .await;

    let (_driver, c) = browser().await;
    use_session(&c, &s.url, &token).await;
    c.goto(&format!("{}/orders", s.url)).await.unwrap();
    wait_text(&c, "订单金额(元)").await;
    click(&c, &format!("a.change[href$='previous={first}']")).await;
    wait_text(&c, "变更的印章").await;
    fill(
        &c,
        &format!("rename-{}", old[0].es_id),
        "李四（一级注册建造师）",
    )
    .await;
    click(&c, "#save").await;
    wait_text(&c, "印章办理状态").await;
    let change = order_id_in_url(&c).await;
    let o = s.store.order(change).await.unwrap();
    assert_eq!(o.service, sealdesk_domain::Service::Change);
    assert_eq!(o.seals[0].name, "李四（一级注册建造师）");
    let uploads = with_stamped_form(&s, &http, &token, change).await;
    to_paid(&s, &who, change, uploads, &person_invoice()).await;

    c.goto(&format!("{}/orders/{change}", s.url)).await.unwrap();
    wait_text(&c, "检测到 1 把证书锁").await;
    fill(&c, "ukey-pin", "12345678").await;
    click(&c, "#ukey-go").await;
    let done = wait_text(&c, "印章办理完成").await;
    assert!(done.contains("将替换证书锁上原有的 1 枚印章"), "{done}");
    wait_text(&c, "已完成").await;
    let new = s.app.seals(&who, change).await.unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].name, "李四（一级注册建造师）");
    assert!(
        new[0].picture_png != old[0].picture_png,
        "the new impression"
    );
    // The picture is the cut-out of the change order's own box.
    assert!(
        new[0].picture_png
            == s.app
                .cutout_png(&who, change, 0)
                .await
                .expect("the form's cut-out stays readable"),
        "the seal carries the impression stamped in its box"
    );
    assert_eq!(
        s.app
            .seal_status(&old[0].es_id)
            .await
            .unwrap()
            .status
            .label(),
        "已注销"
    );
    assert_eq!(seals_on_key(&key_dir), vec![new[0].es_id.clone()]);
    c.close().await.unwrap();
}
