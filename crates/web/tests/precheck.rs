//! 审核预检 through the server: a licence scan the test draws (the artwork crate's CJK font, laid out with krilla
//! and printed to pixels by poppler's `pdftoppm`) is read by Tesseract after submission, and the reviewer sees the
//! result in the API's order detail and on the console's order page: the seed's mismatch text for a licence
//! whose credit code differs from the typed one, "无法核验" for a blank scan, and a pass for a matching one.

mod common;

use serde_json::Value;

/// The typed code of `common::order_body`.
const TYPED: &str = "91110108551385082Q";
const NAME: &str = "北筑设计研究院有限公司";

static FONT: &[u8] = include_bytes!("../../artwork/fonts/NotoSerifSC-Bold-GB2312.otf");

/// A valid 统一社会信用代码 other than the typed one: its check character found by the validator.
fn other_code() -> String {
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|c| format!("91360100MA35L0N2T{c}"))
        .find(|s| sealdesk_domain::validate::credit_code(s).is_ok())
        .unwrap()
}

/// A licence-like page: title, the credit code and the name in large dark type on white, as a PNG at 200 dpi.
fn licence_png(code: &str, name: &str) -> Vec<u8> {
    card_png(&[
        (50.0, 28.0, "营业执照".to_owned()),
        (110.0, 22.0, "统一社会信用代码".to_owned()),
        (150.0, 26.0, code.to_owned()),
        (215.0, 22.0, format!("名称 {name}")),
    ])
}

/// An ID card's portrait side as the OCR sees it: the name and the number in large dark type, PNG at 200 dpi.
fn id_card_png(name: &str, number: &str) -> Vec<u8> {
    card_png(&[
        (60.0, 26.0, format!("姓名 {name}")),
        (130.0, 22.0, "公民身份号码".to_owned()),
        (185.0, 26.0, number.to_owned()),
    ])
}

/// Lines of (baseline y, size, text) drawn with the CJK font on a 600 × 260 pt page, printed to PNG by poppler.
fn card_png(lines: &[(f32, f32, String)]) -> Vec<u8> {
    use krilla::Document;
    use krilla::geom::Point;
    use krilla::page::PageSettings;
    use krilla::text::{Font, TextDirection};
    let font = Font::new(FONT.to_vec().into(), 0).unwrap();
    let mut doc = Document::new();
    let mut page = doc.start_page_with(PageSettings::from_wh(600.0, 260.0).unwrap());
    let mut surface = page.surface();
    for (y, size, text) in lines {
        surface.draw_text(
            Point::from_xy(40.0, *y),
            font.clone(),
            *size,
            text,
            false,
            TextDirection::Auto,
        );
    }
    surface.finish();
    page.finish();
    let pdf = doc.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("l.pdf"), pdf).unwrap();
    let st = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "200", "-singlefile", "l.pdf", "l"])
        .current_dir(dir.path())
        .status()
        .expect("pdftoppm (poppler-utils) is installed by scripts/test.sh");
    assert!(st.success());
    std::fs::read(dir.path().join("l.png")).unwrap()
}

/// A white page with nothing on it.
fn blank_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(1200, 520, image::Rgb([255, 255, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A submitted 新办 of `token` whose licence upload is `licence` (the other documents: a generated form scan).
async fn submitted_with_licence(
    s: &common::TestServer,
    http: &reqwest::Client,
    token: &str,
    licence: &[u8],
) -> String {
    let scan =
        sealdesk_artwork::testkit::generate(3, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    submitted_with(s, http, token, &scan, licence).await
}

/// A submitted 新办 of `token` with `id_front` as the ID card's portrait side and `licence` as the licence.
async fn submitted_with(
    s: &common::TestServer,
    http: &reqwest::Client,
    token: &str,
    id_front: &[u8],
    licence: &[u8],
) -> String {
    let url = &s.url;
    let id = common::draft_order(http, url, token, "13800138000").await;
    let scan =
        sealdesk_artwork::testkit::generate(3, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    let form_scan = common::stamped_form(s, http, token, &id).await;
    for (kind, bytes, name) in [
        ("id_front", id_front, "id.png"),
        ("id_back", &scan[..], "id2.jpg"),
        ("licence", licence, "licence.png"),
        ("impression_form", &form_scan[..], "form.jpg"),
    ] {
        let form = reqwest::multipart::Form::new().text("kind", kind).part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name),
        );
        let r = http
            .post(format!("{url}/api/v1/orders/{id}/uploads"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{kind}: {}", r.text().await.unwrap());
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

/// The operator's view of one check: (outcome, detail).
fn check(detail: &Value, name: &str) -> (String, String) {
    let c = detail["prechecks"]
        .as_array()
        .unwrap_or_else(|| panic!("no prechecks in {detail}"))
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} in {detail}"));
    (
        c["outcome"].as_str().unwrap().to_owned(),
        c["detail"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocr_of_the_licence_catches_a_different_credit_code_and_never_passes_a_blank_scan() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let other = other_code();
    assert_ne!(other, TYPED);

    let get = |id: String| {
        let http = http.clone();
        let url = s.url.clone();
        let token = admin.clone();
        async move {
            let r = http
                .get(format!("{url}/api/v1/orders/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };

    // A licence showing another enterprise's code: the seed's rejection text, exactly.
    let wrong = submitted_with_licence(&s, &http, &alice, &licence_png(&other, NAME)).await;
    let detail = get(wrong.clone()).await;
    assert_eq!(
        check(&detail, "licence_ocr_credit_code"),
        (
            "fail".to_owned(),
            format!("证件识别企业证件号为{other}，与最终填写的不符")
        )
    );
    // The typed code's own check digit is right, and no key has been read yet.
    assert_eq!(check(&detail, "credit_code_digits").0, "pass");
    assert_eq!(
        check(&detail, "cert_credit_code"),
        ("unknown".to_owned(), "尚未读取 UKey 证书".to_owned())
    );
    // The applicant does not see the machine's checks.
    let mine: Value = http
        .get(format!("{}/api/v1/orders/{wrong}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.get("prechecks").is_none(), "{mine}");
    // The console's order page shows it too, as 不通过.
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders/{wrong}", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    assert!(
        page.contains(&format!(
            "<tr class=\"precheck-fail\" data-check=\"licence_ocr_credit_code\"><td>营业执照识别：统一社会信用代码</td><td class=\"outcome\">不通过</td><td class=\"detail\">证件识别企业证件号为{other}，与最终填写的不符</td></tr>"
        )),
        "{page}"
    );

    // A blank scan: could not check, never passed; the earlier order of the same enterprise is named.
    let blank = submitted_with_licence(&s, &http, &alice, &blank_png()).await;
    let detail = get(blank).await;
    assert_eq!(
        check(&detail, "licence_ocr_credit_code"),
        (
            "unknown".to_owned(),
            "未能从营业执照扫描件中识别出统一社会信用代码".to_owned()
        )
    );
    assert_eq!(
        check(&detail, "licence_ocr_name"),
        (
            "unknown".to_owned(),
            "未能从营业执照扫描件中识别出文字".to_owned()
        )
    );
    let wrong_no = s
        .store
        .order(wrong.parse().unwrap())
        .await
        .unwrap()
        .order_no;
    let (outcome, why) = check(&detail, "duplicate_orders");
    assert_eq!(outcome, "fail");
    assert!(why.contains(&format!("{wrong_no}（待审核）")), "{why}");

    // The enterprise's own licence passes.
    let right = submitted_with_licence(&s, &http, &alice, &licence_png(TYPED, NAME)).await;
    let detail = get(right).await;
    assert_eq!(
        check(&detail, "licence_ocr_credit_code"),
        ("pass".to_owned(), format!("识别为 {TYPED}，与填写的一致"))
    );
    assert_eq!(check(&detail, "licence_ocr_name").0, "pass", "{detail}");
}

/// The order once its pre-checks are stored (the background run after submission), and the checks.
async fn checked(
    s: &common::TestServer,
    id: &str,
) -> (sealdesk_domain::Order, Vec<sealdesk_domain::Precheck>) {
    let id: i64 = id.parse().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Some(results) = s.store.prechecks(id).await.unwrap().and_then(|p| p.results) {
            // The approval, when due, commits right after the results.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            return (s.store.order(id).await.unwrap(), results);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pre-checks never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// 授权转自动: with the project's switch on, a submission whose licence names another code stays with the
/// reviewers; the holder's matching documents (licence and ID card read by OCR, two red stamps on the order's
/// form) are approved by the platform, and the trail says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_approves_by_itself_only_what_every_check_passed() {
    let s = common::start().await;
    let http = common::http();
    let p = s.store.project_by_code("testCSQY").await.unwrap();
    s.store
        .set_project_settings(p.id, "", &[], true)
        .await
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let card = id_card_png("李四", "11010519491231002X");

    let wrong = submitted_with(&s, &http, &alice, &card, &licence_png(&other_code(), NAME)).await;
    let (order, results) = checked(&s, &wrong).await;
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingReview);
    let failed: Vec<&str> = results
        .iter()
        .filter(|p| p.outcome == sealdesk_domain::Outcome::Fail)
        .map(|p| p.check.as_str())
        .collect();
    assert_eq!(failed, ["licence_ocr_credit_code"], "{results:?}");
    // Out of the way, so that the next one is not a duplicate open order.
    let r = http
        .post(format!("{}/api/v1/orders/{wrong}/cancel", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let right = submitted_with(&s, &http, &alice, &card, &licence_png(TYPED, NAME)).await;
    let (order, results) = checked(&s, &right).await;
    let not_passed: Vec<(&str, &str)> = results
        .iter()
        .filter(|p| p.outcome != sealdesk_domain::Outcome::Pass)
        .map(|p| (p.check.as_str(), p.detail.as_str()))
        .collect();
    assert_eq!(
        not_passed,
        [
            ("cert_credit_code", "尚未读取 UKey 证书"),
            ("cert_enterprise_name", "尚未读取 UKey 证书")
        ],
        "{results:?}"
    );
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingPayment);
    let approvals: Vec<(String, String)> = s
        .store
        .audit_entries(Some(order.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "approve")
        .map(|a| (a.actor, a.detail))
        .collect();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0].0, "platform");
    assert!(
        approvals[0].1.contains(sealdesk_app::AUTO_APPROVE_RULE),
        "{approvals:?}"
    );
    // The applicant got the approval SMS as from a reviewer.
    let sms = s.store.outbox(Some("13800138000"), 20).await.unwrap();
    assert!(
        sms.iter().any(|m| m.template == "review_approved"),
        "{:?}",
        sms.iter().map(|m| &m.template).collect::<Vec<_>>()
    );
}
