//! 审核不通过 with coded reasons: picked on the console's review form, shown to the applicant beside the field or
//! upload each concerns, counted by reason on the dashboard, and their texts edited by a super-administrator.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const CREDIT: &str = "证件识别企业证件号与填写的统一社会信用代码不符，请核对后修改";
const LICENCE: &str = "营业执照扫描件不清晰或不完整，请重新上传";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coded_reasons_reach_the_fields_they_concern() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 5).await;
    let signed: Value = http
        .post(format!("{}/api/v1/auth/operator", s.url))
        .json(&json!({"name": "admin", "password": "sealdesk-demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed["token"].as_str().unwrap().to_owned();
    let cookie = format!("sd_session={token}");
    let csrf = signed["csrf"].as_str().unwrap().to_owned();

    // A code that is not in the catalogue is refused, and nothing changes.
    let r = http
        .post(format!("{}/api/v1/orders/{id}/reject", s.url))
        .bearer_auth(&token)
        .json(&json!({"reasons": ["no_such_reason"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("未知的不通过原因：no_such_reason")
    );

    // The review form lists the catalogue; two reasons and no comment reject the order.
    let page = common::get_text(&http, &format!("{}/admin/orders/{id}", s.url), &cookie).await;
    assert!(
        page.contains(&format!("value=\"credit_code_mismatch\"> {CREDIT}")),
        "{page}"
    );
    let r = http
        .post(format!("{}/admin/orders/{id}/reject", s.url))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("reason", "credit_code_mismatch"),
            ("reason", "licence_unclear"),
            ("comment", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::Rejected);
    assert_eq!(
        order
            .review_reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["credit_code_mismatch", "licence_unclear"]
    );
    assert_eq!(order.review_comment, format!("{CREDIT}；{LICENCE}"));

    // The applicant's form shows the credit-code reason beside that field, the order page the licence's.
    let alice_cookie = format!("sd_session={alice}");
    let form = common::get_text(&http, &format!("{}/orders/{id}/edit", s.url), &alice_cookie).await;
    let at = form
        .find("id=\"credit_code\"")
        .expect("the credit code field");
    let row = &form[at..at + form[at..].find("</div>").unwrap()];
    assert!(
        row.contains(&format!("<span class=\"error\">{CREDIT}</span>")),
        "{row}"
    );
    let page = common::get_text(&http, &format!("{}/orders/{id}", s.url), &alice_cookie).await;
    assert!(
        page.contains(&format!("<span class=\"error reason\">{LICENCE}</span>")),
        "{page}"
    );

    // The dashboard counts rejections by reason.
    let dash = common::get_text(&http, &format!("{}/admin/dashboard", s.url), &cookie).await;
    assert!(
        dash.contains(&format!("<tr><td>{CREDIT}</td><td>1</td></tr>")),
        "{dash}"
    );

    // Only a super-administrator edits the texts; later rejections use the new text, this one keeps its own.
    let r = http
        .post(format!("{}/admin/reject-reasons/licence_unclear", s.url))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("text", "营业执照需加盖公章后重新扫描上传"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    s.app
        .ensure_operator("root", "root-password-1", true)
        .await
        .unwrap();
    let root: Value = http
        .post(format!("{}/api/v1/auth/operator", s.url))
        .json(&json!({"name": "root", "password": "root-password-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root_cookie = format!("sd_session={}", root["token"].as_str().unwrap());
    let r = http
        .post(format!("{}/admin/reject-reasons/licence_unclear", s.url))
        .header("cookie", &root_cookie)
        .form(&[
            ("_csrf", root["csrf"].as_str().unwrap()),
            ("text", "营业执照需加盖公章后重新扫描上传"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = common::get_text(&http, &format!("{}/admin/reject-reasons", s.url), &cookie).await;
    assert!(
        list.contains("营业执照需加盖公章后重新扫描上传") && !list.contains(LICENCE),
        "{list}"
    );
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.review_reasons[1].text, LICENCE);
}
