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

/// A project's settings (projects page): only a super-administrator changes them; a size out of range is named
/// and changes nothing; new orders take the registered sizes (their 印模采集表 boxes and the 授权 step's 宽度/高度),
/// orders created before keep the sizes their printed form was drawn with; the change is in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_seal_sizes_reach_new_orders_only() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    s.app
        .ensure_operator("root", "root-password-1", true)
        .await
        .unwrap();
    let (admin, admin_csrf) =
        common::operator_session(&http, &s.url, "admin", "sealdesk-demo").await;
    let (root, root_csrf) =
        common::operator_session(&http, &s.url, "root", "root-password-1").await;
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let before = common::paid_order(&s, &who, "new", None).await;

    let post = |cookie: String, form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = s.url.clone();
        async move {
            let r = http
                .post(format!("{url}/admin/projects/testCSQY/settings"))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let settings = |csrf: &str, official: &str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("contact", "王老师 0791-88888888".to_owned()),
            ("size_official_seal", official.to_owned()),
            ("size_qualification_seal", "45x30".to_owned()),
            ("auto_approve", "1".to_owned()),
        ]
    };
    let (st, _) = post(format!("sd_session={admin}"), settings(&admin_csrf, "40")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, page) = post(format!("sd_session={root}"), settings(&root_csrf, "40mm")).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("<p class=\"error\" id=\"projects-error\">「企业公章」的尺寸「40mm」应为毫米数，如 42 或 40x30</p>"),
        "{page}"
    );
    let p = s.store.project_by_code("testCSQY").await.unwrap();
    assert_eq!(
        (p.seal_sizes.len(), p.auto_approve, p.contact.as_str()),
        (0, false, "")
    );

    let (st, _) = post(format!("sd_session={root}"), settings(&root_csrf, "42")).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let p = s.store.project_by_code("testCSQY").await.unwrap();
    // 42 is the usual size of a 公章: only the size that differs is registered.
    assert_eq!(
        p.seal_sizes,
        [sealdesk_domain::SealSize {
            kind: sealdesk_domain::SealKind::QualificationSeal,
            width_mm: 45,
            height_mm: 30
        }]
    );
    assert!(p.auto_approve);
    let list = common::get_text(
        &http,
        &format!("{}/admin/projects", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    assert!(
        list.contains("<td class=\"contact\">王老师 0791-88888888</td><td class=\"sizes\">企业资质印章 45×30 mm</td><td class=\"auto-approve\">开</td>"),
        "{list}"
    );
    let logged = s
        .store
        .audit_entries(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "project_settings_set")
        .map(|a| (a.actor, a.detail))
        .collect::<Vec<_>>();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, "operator:root");
    assert!(
        logged[0].1.contains("qualification_seal:45x30"),
        "{logged:?}"
    );

    // The order paid before keeps its sizes; one made now has an oval 45 × 30 box and says so at 授权.
    let after = common::paid_order(&s, &who, "new", None).await;
    let spec = |id: i64| {
        let store = s.store.clone();
        async move { sealdesk_app::form_spec(&store.order(id).await.unwrap()) }
    };
    let old = spec(before).await;
    assert_eq!(
        (old.boxes[1].width_mm, old.boxes[1].height_mm),
        (42.0, 42.0)
    );
    let new = spec(after).await;
    assert_eq!(
        (new.boxes[1].width_mm, new.boxes[1].height_mm),
        (45.0, 30.0)
    );
    assert_eq!(new.boxes[1].shape, sealdesk_artwork::BoxShape::Oval);
    let page = common::get_text(
        &http,
        &format!("{}/orders/{after}", s.url),
        &format!("sd_session={alice}"),
    )
    .await;
    assert!(
        page.contains(
            "<label>印章2：</label>企业资质印章「北筑设计研究院有限公司」 宽度：4.5 cm 高度：3 cm"
        ),
        "{page}"
    );
    let page = common::get_text(
        &http,
        &format!("{}/orders/{before}", s.url),
        &format!("sd_session={alice}"),
    )
    .await;
    assert!(
        page.contains(
            "<label>印章2：</label>企业资质印章「北筑设计研究院有限公司」 宽度：4.2 cm 高度：4.2 cm"
        ),
        "{page}"
    );
}

/// 开标日期: an order whose bid opening is today is marked 加急 in the review queue, one a month away is not, and
/// a date already past is refused on the form with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_bid_opening_marks_the_order_urgent_in_the_queue() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let today = sealdesk_domain::Timestamp(s.app.now()).beijing_date();
    let later = sealdesk_domain::Timestamp(s.app.now() + 30 * 86_400).beijing_date();
    let past = sealdesk_domain::Timestamp(s.app.now() - 2 * 86_400).beijing_date();

    let create = |bid: String| {
        let http = http.clone();
        let url = s.url.clone();
        let token = alice.clone();
        async move {
            let mut body = common::order_body("13800138000");
            body["bid_opening"] = json!(bid);
            let r = http
                .post(format!("{url}/api/v1/orders"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, body) = create(past.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string()
            .contains("开标日期已过，请填写今天或以后的日期，或留空"),
        "{body}"
    );
    let (st, body) = create("2026-02-30".into()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string()
            .contains("开标日期「2026-02-30」应为 YYYY-MM-DD 格式的日期"),
        "{body}"
    );

    let mut ids = Vec::new();
    for bid in [today.clone(), later.clone()] {
        let (st, body) = create(bid).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let scan =
            sealdesk_artwork::testkit::generate(3, sealdesk_artwork::testkit::FormSpec::A4_150)
                .jpeg;
        for (st, body) in common::upload_all(&s, &http, &alice, &id, &scan, "scan.jpg").await {
            assert_eq!(st, 201, "{body}");
        }
        let r = http
            .post(format!("{}/api/v1/orders/{id}/submit", s.url))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(id);
    }
    let (admin, _) = common::operator_session(&http, &s.url, "admin", "sealdesk-demo").await;
    let queue = common::get_text(
        &http,
        &format!("{}/admin/orders", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    let row = |id: &str| {
        let at = queue.find(&format!("href=\"/admin/orders/{id}\"")).unwrap();
        let start = queue[..at].rfind("<tr").unwrap();
        queue[start..at + queue[at..].find("</tr>").unwrap()].to_owned()
    };
    assert!(
        row(&ids[0]).contains(&format!(
            "<span class=\"badge urgent\">加急：开标 {today}</span>"
        )),
        "{}",
        row(&ids[0])
    );
    assert!(!row(&ids[1]).contains("加急"), "{}", row(&ids[1]));
    let order = s.store.order(ids[1].parse().unwrap()).await.unwrap();
    assert_eq!(order.bid_opening.as_deref(), Some(later.as_str()));
}

/// 重新制章 in the console: a reviewer is not offered it; a 制章员 of the project's group uploads the newly stamped
/// 印模采集表 of a completed order and remakes the 资质印章 with a reason. The order page answers each step, the
/// order is back at 已制章, and the applicant's page shows the replaced seal as 已注销 beside the remade one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_remakes_a_seal_in_the_console() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let id = common::paid_order(&s, &who, "new", None).await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, id, &mut key).await;
    let mut old = s.app.seals(&who, id).await.unwrap();
    old.sort_by_key(|m| m.seq);
    let issuer = s
        .app
        .ensure_operator_with_roles(
            "zhaoliu",
            "zhaoliu-password-1",
            false,
            sealdesk_domain::Roles::only(sealdesk_domain::Role::Issuer),
        )
        .await
        .unwrap();
    let group = s.store.group_by_name("A组").await.unwrap();
    s.store.add_to_group(group.id, issuer).await.unwrap();
    let (admin, _) = common::operator_session(&http, &s.url, "admin", "sealdesk-demo").await;
    let (op, csrf) = common::operator_session(&http, &s.url, "zhaoliu", "zhaoliu-password-1").await;
    let page = |cookie: String, path: String| {
        let http = http.clone();
        let url = s.url.clone();
        async move {
            http.get(format!("{url}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let console = format!("/admin/orders/{id}");
    assert!(
        !page(format!("sd_session={admin}"), console.clone())
            .await
            .contains("id=\"remake\"")
    );
    let before = page(format!("sd_session={op}"), console.clone()).await;
    assert!(before.contains("id=\"remake\""), "{before}");

    // The holder stamps the form again; the 制章员 uploads it.
    let pdf = http
        .get(format!("{}/orders/{id}/impression-form.pdf", s.url))
        .header("cookie", format!("sd_session={op}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let order = s.store.order(id).await.unwrap();
    let stamped = common::stamp_form(&order, &pdf);
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .text("kind", "impression_form")
        .part(
            "file",
            reqwest::multipart::Part::bytes(stamped)
                .file_name("again.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let r = http
        .post(format!("{}/admin/orders/{id}/remake/form", s.url))
        .header("cookie", format!("sd_session={op}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{console}?ok=")), "{back}");
    let shown = page(format!("sd_session={op}"), back).await;
    assert!(shown.contains("新的印模采集表已上传"), "{shown}");
    assert!(
        shown.contains("id=\"cutouts\""),
        "the new cut-outs at true size: {shown}"
    );

    let remake = |fields: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = s.url.clone();
        let op = op.clone();
        async move {
            let r = http
                .post(format!("{url}/admin/orders/{id}/remake"))
                .header("cookie", format!("sd_session={op}"))
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            r.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    // No reason: named on the page, nothing made.
    let back = remake(vec![
        ("_csrf", csrf.clone()),
        ("seal", old[1].es_id.clone()),
    ])
    .await;
    let shown = page(format!("sd_session={op}"), back).await;
    assert!(shown.contains("请填写重新制章的原因"), "{shown}");
    assert_eq!(s.app.seals(&who, id).await.unwrap().len(), 2);
    let back = remake(vec![
        ("_csrf", csrf.clone()),
        ("seal", old[1].es_id.clone()),
        ("reason", "原印模不清晰，申请人重新盖章".into()),
    ])
    .await;
    let shown = page(format!("sd_session={op}"), back).await;
    assert!(shown.contains("已重新制作 1 枚印章"), "{shown}");
    assert_eq!(
        s.store.order(id).await.unwrap().state,
        sealdesk_domain::OrderState::Made
    );
    let mine = page(format!("sd_session={alice}"), format!("/orders/{id}")).await;
    let remade = format!("{}R1", old[1].es_id);
    assert!(
        mine.contains(&remade) && mine.contains("已注销") && mine.contains("重新制作"),
        "{mine}"
    );
    assert!(
        mine.contains("写入证书锁"),
        "the applicant writes the remade seal: {mine}"
    );
}
