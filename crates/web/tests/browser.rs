//! The applicant's 新办 in headless Chromium, through the pages only: sign in with the SMS code, fill the
//! form (and see a Chinese error for a wrong credit code), upload the scans and the stamped form, submit, get
//! approved, confirm the invoice, pay at the sandbox cashier, authorise with the UKey certificate and see the
//! seals made. Needs Debian's chromium and chromium-driver (the test script installs them).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

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
    for kind in ["id_front", "id_back", "licence", "impression_form"] {
        c.find(Locator::Id(&format!("file_{kind}")))
            .await
            .unwrap()
            .send_keys(scan.to_str().unwrap())
            .await
            .unwrap();
        click(&c, &format!("form:has(#file_{kind}) button")).await;
        wait_text(&c, "已上传").await;
    }
    wait_text(&c, &format!("识别到 {} 枚印章", form.seals.len())).await;
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
    click(&c, "#confirm-invoice").await;
    wait_text(&c, "去付款").await;
    click(&c, "#pay").await;
    wait_text(&c, "¥160.00").await;
    click(&c, "#sandbox-pay").await;
    wait_text(&c, "支付成功").await;

    // 授权 with the UKey's certificate and its signature over the page's fresh challenge; then the seals are
    // made.
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
    fill(&c, "receipts", &receipts.join("\n")).await;
    click(&c, "#written").await;
    wait_text(&c, "办理完成").await;
    click(&c, "a[href$='/invoice']").await;
    let invoice = wait_text(&c, "价税合计").await;
    assert!(invoice.contains("壹佰陆拾元整"), "{invoice}");
    c.close().await.unwrap();
}
