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

/// 二次审核: a super-administrator asks a second approval for 企业公章 in the project (console page); the first
/// approval (API) leaves the order 待审核 with "已初审，待复核（初审：admin）", the same reviewer cannot approve it
/// again (API and console), another reviewer's approval (console) completes it, and both are in the trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_approval_comes_from_another_reviewer() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 7).await;
    s.app
        .ensure_operator("root", "root-password-1", true)
        .await
        .unwrap();
    let second = s
        .app
        .ensure_operator("wangwu", "wangwu-password-1", false)
        .await
        .unwrap();
    let group = s.store.group_by_name("A组").await.unwrap();
    s.store.add_to_group(group.id, second).await.unwrap();
    let (admin, admin_csrf) =
        common::operator_session(&http, &s.url, "admin", "sealdesk-demo").await;
    let (root, root_csrf) =
        common::operator_session(&http, &s.url, "root", "root-password-1").await;
    let (wangwu, wangwu_csrf) =
        common::operator_session(&http, &s.url, "wangwu", "wangwu-password-1").await;

    // Only a super-administrator sets it, on the projects page.
    let set = |cookie: String, csrf: String| {
        let http = http.clone();
        let url = s.url.clone();
        async move {
            http.post(format!("{url}/admin/projects/testCSQY/second-approval"))
                .header("cookie", cookie)
                .form(&[("_csrf", csrf.as_str()), ("kind", "official_seal")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        set(format!("sd_session={admin}"), admin_csrf.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        set(format!("sd_session={root}"), root_csrf.clone()).await,
        StatusCode::SEE_OTHER
    );
    let projects = common::get_text(
        &http,
        &format!("{}/admin/projects", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    assert!(projects.contains("<td>企业公章</td></tr>"), "{projects}");
    let p = s.store.project_by_code("testCSQY").await.unwrap();
    assert_eq!(p.second_approval, [sealdesk_domain::SealKind::OfficialSeal]);

    // The first approval: still 待审核, and the page says by whom.
    let approve = |token: String| {
        let http = http.clone();
        let url = s.url.clone();
        let id = id.clone();
        async move {
            let r = http
                .post(format!("{url}/api/v1/orders/{id}/approve"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, body) = approve(admin.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "pending_review");
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders/{id}", s.url),
        &format!("sd_session={wangwu}"),
    )
    .await;
    assert!(
        page.contains(
            "<p class=\"review-stage\" id=\"review-stage\">已初审，待复核（初审：admin）</p>"
        ),
        "{page}"
    );

    // The same reviewer again: refused, nothing changes (API and console page).
    let (st, body) = approve(admin.clone()).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["message"], "复核须由另一位审核员完成");
    let r = http
        .post(format!("{}/admin/orders/{id}/approve", s.url))
        .header("cookie", format!("sd_session={admin}"))
        .form(&[("_csrf", admin_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<p class=\"error\" id=\"review-error\">复核须由另一位审核员完成</p>"),
        "{page}"
    );
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingReview);

    // Another reviewer completes it on the console.
    let r = http
        .post(format!("{}/admin/orders/{id}/approve", s.url))
        .header("cookie", format!("sd_session={wangwu}"))
        .form(&[("_csrf", wangwu_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let order = s.store.order(id.parse().unwrap()).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::PendingPayment);
    let trail: Vec<(String, String)> = s
        .store
        .audit_entries(Some(order.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action.starts_with("approve"))
        .map(|a| (a.actor, a.action))
        .collect();
    assert_eq!(
        trail,
        [
            ("operator:admin".to_owned(), "approve_first".to_owned()),
            ("operator:wangwu".to_owned(), "approve".to_owned())
        ]
    );
}
