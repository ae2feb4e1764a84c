//! The finance pages and API: 作废重开 of a completed order's invoice from the console (the voided one kept, the
//! new one downloadable), 对账日报 as a page and as CSV, and 导入银行流水 paying an order by 对公转账 from the
//! applicant's cashier page with its reference.

mod common;

use reqwest::StatusCode;
use serde_json::Value;

fn csrf_in(page: &str) -> String {
    let at = page
        .find("name=\"_csrf\" value=\"")
        .expect("a form with the CSRF token")
        + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_reissues_an_invoice_and_reads_the_day() {
    let s = common::start().await;
    let http = common::http();
    s.app
        .ensure_operator("caiwu", "caiwu-password-1", true)
        .await
        .unwrap();
    common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let id = common::paid_order(&s, &who, "new", None).await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, id, &mut key).await;
    let first = s.store.invoice(id).await.unwrap().unwrap();

    let caiwu = common::operator(&http, &s.url, "caiwu", "caiwu-password-1").await;
    let cookie = format!("sd_session={caiwu}");
    // A reviewer (not super-administrator) cannot re-issue.
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let body = serde_json::json!({"reason": "名称有误", "buyer": {"kind": "enterprise", "title": "北筑设计研究院有限公司（更正）",
        "taxpayer_id": "91110108551385082Q", "mobile": "13800138000", "email": ""}});
    let r = http
        .post(format!(
            "{}/api/v1/orders/{id}/invoices/{}/reissue",
            s.url, first.id
        ))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "只有财务人员可以作废和重开发票"
    );

    // 作废重开 from the console page: the form carries the session's CSRF token.
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders/{id}/invoices", s.url),
        &cookie,
    )
    .await;
    assert!(page.contains(&first.number), "{page}");
    let csrf = csrf_in(&page);
    let r = http
        .post(format!(
            "{}/admin/orders/{id}/invoices/{}/reissue",
            s.url, first.id
        ))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "enterprise"),
            ("title", "北筑设计研究院有限公司（更正）"),
            ("taxpayer_id", "91110108551385082Q"),
            ("mobile", "13800138000"),
            ("email", ""),
            ("reason", "购买方名称有误"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "followed to the invoices page");
    let page = r.text().await.unwrap();
    let current = s.store.invoice(id).await.unwrap().unwrap();
    assert_ne!(current.id, first.id);
    assert!(
        page.contains(&format!(
            "已作废原发票并重开，新发票号码 {}",
            current.number
        )),
        "{page}"
    );
    assert!(page.contains("购买方名称有误"));
    let list: Value = http
        .get(format!("{}/api/v1/orders/{id}/invoices", s.url))
        .bearer_auth(&caiwu)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["replaces"], first.number.as_str());
    assert_eq!(list[1]["buyer"], "北筑设计研究院有限公司（更正）");
    // The applicant's download is the new invoice.
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let pdf = http
        .get(format!("{}/orders/{id}/invoice.pdf", s.url))
        .header("cookie", format!("sd_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    // 对账日报: the sandbox payment and both invoices of today, as JSON, CSV and page.
    let today = sealdesk_domain::Timestamp(s.app.now()).beijing_date();
    let day: Value = http
        .get(format!("{}/api/v1/finance/daily?date={today}", s.url))
        .bearer_auth(&caiwu)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(day["channels"][0]["channel"], "sandbox");
    assert_eq!(day["channels"][0]["paid_count"], 1);
    assert_eq!(day["net_fen"], day["channels"][0]["paid_fen"]);
    assert_eq!(
        day["invoiced_fen"], day["net_fen"],
        "the voided invoice does not count"
    );
    assert_eq!(day["invoices"].as_array().unwrap().len(), 2);
    let csv = http
        .get(format!("{}/api/v1/finance/daily.csv?date={today}", s.url))
        .bearer_auth(&caiwu)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}类别,订单编号,支付方式"), "{csv}");
    let order_no = s.store.order(id).await.unwrap().order_no;
    assert!(
        csv.contains(&format!("收款,{order_no},沙箱支付（演示）,")),
        "{csv}"
    );
    assert!(csv.contains(&format!("作废,{order_no},,-")), "{csv}");
    let page = common::get_text(
        &http,
        &format!("{}/admin/finance?date={today}", s.url),
        &cookie,
    )
    .await;
    assert!(
        page.contains(&order_no) && page.contains("对账日报"),
        "{page}"
    );
    let r = http
        .get(format!("{}/admin/finance", s.url))
        .header("cookie", format!("sd_session={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_transfer_is_paid_by_the_imported_statement() {
    let s = common::start_bank().await;
    let http = common::http();
    s.app
        .ensure_operator("caiwu", "caiwu-password-1", true)
        .await
        .unwrap();
    let (alice, alice_csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 5).await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let r = http
        .post(format!("{}/api/v1/orders/{id}/approve", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{}/api/v1/orders/{id}/invoice", s.url))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"kind": "enterprise", "title": "北筑设计研究院有限公司", "taxpayer_id": "91110108551385082Q", "mobile": "13800138000", "email": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // 去付款 by 对公转账 on the order page: the cashier shows the account and the reference.
    let cookie = format!("sd_session={alice}");
    let r = http
        .post(format!("{}/orders/{id}/pay", s.url))
        .header("cookie", &cookie)
        .form(&[("_csrf", alice_csrf.as_str()), ("channel", "bank")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cashier = r.text().await.unwrap();
    assert!(cashier.contains("中国工商银行南昌分行营业部"), "{cashier}");
    let tag = "<strong id=\"bank-reference\">";
    let at = cashier.find(tag).unwrap() + tag.len();
    let reference = cashier[at..].split('<').next().unwrap().to_owned();
    assert!(reference.starts_with("SD"), "{reference}");
    let order_page = common::get_text(&http, &format!("{}/orders/{id}", s.url), &cookie).await;
    assert!(order_page.contains("等待到账"), "{order_page}");

    // Finance imports the statement on the console page.
    let caiwu = common::operator(&http, &s.url, "caiwu", "caiwu-password-1").await;
    let fin_cookie = format!("sd_session={caiwu}");
    let page = common::get_text(&http, &format!("{}/admin/finance", s.url), &fin_cookie).await;
    let csrf = csrf_in(&page);
    let statement = format!(
        "交易日期,流水号,对方户名,贷方金额,摘要\n2026-11-30,B001,北筑设计研究院有限公司,160.00,{reference}\n2026-11-30,B002,某公司,80.00,货款\n"
    );
    let form = reqwest::multipart::Form::new().text("_csrf", csrf).part(
        "file",
        reqwest::multipart::Part::bytes(statement.into_bytes()).file_name("statement.csv"),
    );
    let r = http
        .post(format!("{}/admin/finance/bank-statement", s.url))
        .header("cookie", &fin_cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report = r.text().await.unwrap();
    assert!(
        report.contains("导入完成：入账 1 笔，此前已入账 0 笔，需人工处理 1 笔"),
        "{report}"
    );
    assert!(
        report.contains("流水 B002：附言中没有有效的转账参考号"),
        "{report}"
    );
    let order: Value = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["state"], "paid");
}

/// Roles decide what an operator may do: a reviewer reviews, finance sees the money, an auditor reads the audit
/// log; each refusal names the role, and the header shows only the links the roles open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_what_an_operator_may_do() {
    use sealdesk_domain::{Role, Roles};
    let s = common::start().await;
    let http = common::http();
    s.app
        .ensure_operator_with_roles(
            "shenji",
            "auditor-password-1",
            false,
            Roles::only(Role::Auditor),
        )
        .await
        .unwrap();
    s.app
        .ensure_operator_with_roles(
            "caiwu",
            "finance-password-1",
            false,
            Roles::only(Role::Finance),
        )
        .await
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 3).await;
    let today = sealdesk_domain::Timestamp(s.app.now()).beijing_date();
    let reviewer = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let auditor = common::operator(&http, &s.url, "shenji", "auditor-password-1").await;
    let finance = common::operator(&http, &s.url, "caiwu", "finance-password-1").await;

    let status_of = |r: reqwest::Response| async move {
        let st = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (st, body["message"].as_str().unwrap_or("").to_owned())
    };
    for (token, who) in [(&auditor, "auditor"), (&finance, "finance")] {
        let r = http
            .post(format!("{}/api/v1/orders/{id}/approve", s.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            status_of(r).await,
            (403, "只有审核员可以办理此操作".to_owned()),
            "{who}"
        );
    }
    for (token, who) in [(&auditor, "auditor"), (&reviewer, "reviewer")] {
        let r = http
            .get(format!("{}/api/v1/finance/daily?date={today}", s.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            status_of(r).await,
            (403, "只有财务人员可以查看对账日报".to_owned()),
            "{who}"
        );
    }
    let r = http
        .get(format!("{}/api/v1/finance/daily?date={today}", s.url))
        .bearer_auth(&finance)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for (token, who) in [(&finance, "finance"), (&reviewer, "reviewer")] {
        let r = http
            .get(format!("{}/admin/audit", s.url))
            .header("cookie", format!("sd_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("只有审计员或超级管理员可以查看审计日志")
        );
    }
    let page = common::get_text(
        &http,
        &format!("{}/admin/audit", s.url),
        &format!("sd_session={auditor}"),
    )
    .await;
    assert!(
        page.contains("href=\"/admin/audit\"") && !page.contains("href=\"/admin/finance\""),
        "{page}"
    );
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders", s.url),
        &format!("sd_session={reviewer}"),
    )
    .await;
    assert!(
        !page.contains("href=\"/admin/audit\"") && !page.contains("href=\"/admin/finance\""),
        "{page}"
    );
    // The reviewer reviews.
    let r = http
        .post(format!("{}/api/v1/orders/{id}/approve", s.url))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// 申请开票 as the seed's dialog: the hint about Chinese, 发票种类, 展开非必填信息; a 专票 without its bank is refused on
/// the same page with what was typed kept; the confirmed 专票 prints as 增值税专用发票 with the buyer's address and
/// bank and the configured seller block, and the invoice page says which kind it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_special_invoice_needs_every_buyer_field_and_prints_them() {
    let s = common::start_cfg(
        true,
        Vec::new(),
        String::new(),
        std::sync::Arc::new(sealdesk_domain::SystemClock),
        |cfg| {
            cfg.invoice_seller = sealdesk_app::InvoiceSeller {
                name: "某某数字认证有限公司".into(),
                taxpayer_id: "91360100705521234K".into(),
                address_phone: "南昌市高新区火炬大街 1 号 0791-86661234".into(),
                bank_account: "中国银行南昌分行 1900 0000 1234".into(),
            };
        },
    )
    .await;
    let http = common::http();
    let (alice, csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 7).await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let r = http
        .post(format!("{}/api/v1/orders/{id}/approve", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = format!("sd_session={alice}");
    let oid: i64 = id.parse().unwrap();
    let page = common::get_text(&http, &format!("{}/orders/{id}", s.url), &cookie).await;
    for want in [
        "开具发票应当使用中文。国外企业或者用户请联系管理员开具形式发票。",
        "<summary>展开非必填信息</summary>",
        "增值税专用发票",
        r#"data-personal="姓名">企业名称："#,
    ] {
        assert!(page.contains(want), "{want} missing from:\n{page}");
    }
    let mut form = vec![
        ("_csrf", csrf.as_str()),
        ("kind", "enterprise"),
        ("form", "special"),
        ("title", "北筑设计研究院有限公司"),
        ("taxpayer_id", "91110108551385082Q"),
        ("mobile", "13800138000"),
        ("address", "北京市海淀区学院路 1 号"),
        ("phone", "010-62345678"),
        ("bank", ""),
        ("account", "0200 0012 3456 789"),
        ("email", ""),
    ];
    let r = http
        .post(format!("{}/orders/{id}/invoice", s.url))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = r.text().await.unwrap();
    assert!(
        refused.contains("开具增值税专用发票须填写开户银行"),
        "{refused}"
    );
    assert!(
        refused.contains(r#"value="北京市海淀区学院路 1 号""#)
            && refused.contains(r#"<details id="invoice-optional" open>"#)
            && refused.contains(r#"value="special" checked"#),
        "what was typed stays: {refused}"
    );
    assert_eq!(
        s.store.order(oid).await.unwrap().invoice,
        None,
        "nothing kept"
    );
    form[8] = ("bank", "中国工商银行北京学院路支行");
    let r = http
        .post(format!("{}/orders/{id}/invoice", s.url))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let confirmed = s.store.order(oid).await.unwrap().invoice.unwrap();
    assert_eq!(
        (confirmed.form, confirmed.bank.as_str()),
        (
            sealdesk_domain::InvoiceForm::Special,
            "中国工商银行北京学院路支行"
        )
    );

    let who = common::applicant_who(&s, "13800138000").await;
    let (p, _) = s.app.start_payment(&who, oid, "sandbox").await.unwrap();
    s.app.sandbox_pay(&who, p.id).await.unwrap();
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, oid, &mut key).await;
    let page = common::get_text(&http, &format!("{}/orders/{id}/invoice", s.url), &cookie).await;
    assert!(
        page.contains(r#"<td id="invoice-form">增值税专用发票</td>"#),
        "{page}"
    );
    let pdf = http
        .get(format!("{}/orders/{id}/invoice.pdf", s.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = s.tmp.path().join("special.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/test.sh)");
    // pdftotext breaks long lines where the PDF wraps them; compare without white space.
    let text: String = String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for want in [
        "电子发票（增值税专用发票）",
        "北京市海淀区学院路1号010-62345678",
        "中国工商银行北京学院路支行020000123456789",
        "某某数字认证有限公司",
        "91360100705521234K",
        "中国银行南昌分行190000001234",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}
