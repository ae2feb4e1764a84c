//! 在线客服: the thread on the applicant's and the console's order pages with the service hours, the operators'
//! list of threads waiting for an answer, the SMS when 客服 answers, and the scoping of orders (an operator
//! outside the order's groups gets 404, logged); and the way back to the page an applicant asked for before
//! signing in.

mod common;

use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_waits_for_an_answer_and_the_answer_reaches_the_applicant_by_sms() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (alice, alice_csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 9).await;
    let order_no = s.store.order(id.parse().unwrap()).await.unwrap().order_no;
    let alice_cookie = format!("sd_session={alice}");
    let (admin, admin_csrf) =
        common::operator_session(&http, &s.url, "admin", "sealdesk-demo").await;
    let admin_cookie = format!("sd_session={admin}");

    // The applicant's page shows the service hours and the form; an empty message is refused there.
    let page = common::get_text(&http, &format!("{}/orders/{id}", s.url), &alice_cookie).await;
    assert!(page.contains("服务时间：工作日 9:00–17:00。"), "{page}");
    assert!(
        page.contains(&format!("action=\"/orders/{id}/messages\"")),
        "{page}"
    );
    let post = |path: String, cookie: String, csrf: String, body: &'static str| {
        let http = http.clone();
        async move {
            http.post(path)
                .header("cookie", cookie)
                .form(&[("_csrf", csrf.as_str()), ("body", body)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(
        format!("{}/orders/{id}/messages", s.url),
        alice_cookie.clone(),
        alice_csrf.clone(),
        " ",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!(
            "/orders/{id}?err=%E7%95%99%E8%A8%80%E5%BA%94%E4%B8%BA+1+%E5%88%B0+500+%E4%B8%AA%E5%AD%97"
        )
    );
    let r = post(
        format!("{}/orders/{id}/messages", s.url),
        alice_cookie.clone(),
        alice_csrf.clone(),
        "营业执照需要盖章吗？",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/orders/{id}#messages"));

    // It waits on /admin/messages (linked from the console's header).
    let waiting =
        common::get_text(&http, &format!("{}/admin/messages", s.url), &admin_cookie).await;
    assert!(
        waiting.contains("<a href=\"/admin/messages\">客服留言</a>"),
        "{waiting}"
    );
    assert!(
        waiting.contains(&format!(
            "<a href=\"/admin/orders/{id}#messages\">{order_no}</a>"
        )),
        "{waiting}"
    );
    assert!(waiting.contains("营业执照需要盖章吗？"), "{waiting}");

    // An operator outside the order's groups: 404 on the page and in the API, and the attempt is logged.
    let outsider = common::operator(&http, &s.url, "outsider", "outsider-pass").await;
    let r = http
        .get(format!("{}/admin/orders/{id}", s.url))
        .header("cookie", format!("sd_session={outsider}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/api/v1/orders/{id}/messages", s.url))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let refused = s
        .store
        .audit_entries(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "access_refused" && a.actor == "operator:outsider")
        .count();
    assert_eq!(refused, 2);
    let other = common::operator(&http, &s.url, "outsider", "outsider-pass").await;
    let none = common::get_text(
        &http,
        &format!("{}/admin/messages", s.url),
        &format!("sd_session={other}"),
    )
    .await;
    assert!(none.contains("没有待回复的留言。"), "{none}");

    // 客服 answers on the console's order page: the applicant gets the SMS, the thread waits no more.
    let r = post(
        format!("{}/admin/orders/{id}/messages", s.url),
        admin_cookie.clone(),
        admin_csrf.clone(),
        "需要加盖企业公章后扫描上传。",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/admin/orders/{id}#messages")
    );
    let sms = s.store.outbox(Some("13800138000"), 1).await.unwrap();
    assert_eq!(
        sms[0].text,
        format!(
            "[金格科技] 尊敬的客户，您好！您订单号为【{order_no}】的订单，客服已回复您的留言，请登录 CA 电子印章自助办理平台（{}）查看，本条短信无需回复，感谢您的合作，谢谢！",
            s.url
        )
    );
    let waiting =
        common::get_text(&http, &format!("{}/admin/messages", s.url), &admin_cookie).await;
    assert!(waiting.contains("没有待回复的留言。"), "{waiting}");
    let page = common::get_text(&http, &format!("{}/orders/{id}", s.url), &alice_cookie).await;
    let q = page.find("营业执照需要盖章吗？").expect("the question");
    let a = page
        .find("需要加盖企业公章后扫描上传。")
        .expect("the answer");
    assert!(q < a);
    assert!(
        page.contains("<li class=\"from-operator\"><span class=\"who\">客服</span>"),
        "{page}"
    );
    let console = common::get_text(
        &http,
        &format!("{}/admin/orders/{id}", s.url),
        &admin_cookie,
    )
    .await;
    assert!(
        console.contains(&format!("action=\"/admin/orders/{id}/messages\"")),
        "{console}"
    );
    assert!(
        console.contains("需要加盖企业公章后扫描上传。"),
        "{console}"
    );
}

/// Signing in from a link returns to it: a 新办 link opened without a session goes to the sign-in page, which
/// keeps where to return through the SMS code and the sign-in, and then to the 新办 form; a `next` that would leave
/// the portal (another site, the console) ends in 我的订单 instead.
#[tokio::test]
async fn signing_in_from_a_link_returns_to_it() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    let r = http
        .get(format!("{}/orders/new?service=new", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Forders%2Fnew%3Fservice%3Dnew");
    let page = http
        .get(format!("{}{}", s.url, location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches(r#"<input type="hidden" name="next" value="/orders/new?service=new">"#)
            .count(),
        3,
        "the code, the sign-in and the 证书登录 forms carry it"
    );
    let sign_in = |mobile: &'static str, next: &'static str| {
        let (http, url) = (http.clone(), s.url.clone());
        async move {
            let sent = http
                .post(format!("{url}/login/code"))
                .form(&[("mobile", mobile), ("next", next)])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(sent.contains("验证码已发送"), "{sent}");
            let code = common::sms_code(&http, &url, mobile).await;
            http.post(format!("{url}/login"))
                .form(&[("mobile", mobile), ("code", code.as_str()), ("next", next)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = sign_in("13800138000", "/orders/new?service=new").await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/orders/new?service=new");
    for (mobile, away) in [
        ("13800138001", "//evil.example/orders"),
        ("13800138002", "https://evil.example/"),
        ("13800138003", "/admin/orders"),
    ] {
        let r = sign_in(mobile, away).await;
        assert_eq!(location(&r), "/orders", "{away}");
    }
}
