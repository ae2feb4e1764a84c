//! The HTTP surface's guarantees: scoping, CSRF and cross-site refusal, 409 for illegal transitions, upload
//! hygiene, error format, headers, and an OpenAPI document that names every route.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn orders_are_scoped_and_illegal_transitions_are_409_and_change_nothing() {
    let s = common::start().await;
    let http = reqwest::Client::new();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let (mallory, _) = common::applicant(&http, &s.url, "13900139000").await;
    let r = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&alice)
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["total_fen"], 16000);
    assert_eq!(order["state"], "draft");

    // The price is the server's: a client-sent total is ignored.
    let mut forged = common::order_body("13800138000");
    forged["total"] = json!(1);
    let r: Value = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&alice)
        .json(&forged)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["total_fen"], 16000);

    for path in [
        format!("/api/v1/orders/{id}"),
        format!("/api/v1/orders/{id}/audit"),
        format!("/api/v1/orders/{id}/seals"),
    ] {
        let r = http
            .get(format!("{}{path}", s.url))
            .bearer_auth(&mallory)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let r = http
        .post(format!("{}/api/v1/orders/{id}/approve", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a draft cannot be approved"
    );
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "conflict");
    assert!(e["message"].as_str().unwrap().contains("草稿"));
    let after: Value = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (after["state"].clone(), after["version"].clone()),
        (json!("draft"), order["version"].clone())
    );

    let outsider = common::operator(&http, &s.url, "outsider", "outsider-pass").await;
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "an operator outside the project's groups sees nothing"
    );
    let list: Value = http
        .get(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);

    // Field errors come back per field, in Chinese.
    let mut bad = common::order_body("13800138000");
    bad["holder"]["credit_code"] = json!("913617481036174810");
    bad["holder"]["mobile"] = json!("12345");
    let r = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&alice)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    let fields: Vec<&str> = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["holder.mobile", "holder.credit_code"]);
    let r = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_input");
}

#[tokio::test]
async fn uploads_are_judged_by_bytes_and_size_and_refusals_keep_nothing() {
    let s = common::start().await;
    let http = reqwest::Client::new();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let order: Value = http
        .post(format!("{}/api/v1/orders", s.url))
        .bearer_auth(&alice)
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let send = |kind: &'static str, name: &'static str, bytes: Vec<u8>| {
        let http = http.clone();
        let url = format!("{}/api/v1/orders/{id}/uploads", s.url);
        let alice = alice.clone();
        async move {
            let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
            http.post(url)
                .bearer_auth(alice)
                .multipart(
                    reqwest::multipart::Form::new()
                        .text("kind", kind)
                        .part("file", part),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let r = send(
        "id_front",
        "photo.jpg",
        b"MZ\x90\0 an executable named photo.jpg".to_vec(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json::<Value>().await.unwrap()["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("JPG")
    );
    let mut big = vec![0xFF, 0xD8, 0xFF];
    big.resize(6 * 1024 * 1024, 0);
    let r = send("id_front", "big.jpg", big).await;
    assert!(
        r.status() == StatusCode::PAYLOAD_TOO_LARGE
            || r.status() == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        r.status()
    );
    let r = send("id_front", "x.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "PDF only for the impression form"
    );
    assert!(
        s.store
            .uploads(id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        std::fs::read_dir(s.tmp.path().join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no blob left behind"
    );

    let form = sealdesk_artwork::testkit::generate(7, sealdesk_artwork::testkit::FormSpec::A4_150);
    let r = send("impression_form", "印模采集表.jpg", form.jpeg.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let up: Value = r.json().await.unwrap();
    assert_eq!(up["impressions"], form.seals.len());
    let r = http
        .get(format!(
            "{}/api/v1/uploads/{}",
            s.url,
            up["id"].as_str().unwrap()
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), form.jpeg);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_and_cross_site_writes_are_refused() {
    let s = common::start().await;
    let http = reqwest::Client::new();
    let (token, csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let cookie = format!("sd_session={token}");
    let url = format!("{}/api/v1/orders", s.url);
    let r = http
        .post(&url)
        .header("cookie", &cookie)
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(&url)
        .header("cookie", &cookie)
        .header("x-csrf-token", "0".repeat(32))
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(&url)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "reads need no token");

    let r = http
        .post(&url)
        .bearer_auth(&token)
        .header("origin", "http://evil.example")
        .json(&common::order_body("13800138000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{}/login/code", s.url))
        .header("sec-fetch-site", "cross-site")
        .form(&[("mobile", "13800138000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A page form without the session's token is refused.
    let r = http
        .post(format!("{}/orders/new", s.url))
        .header("cookie", &cookie)
        .form(&[("_csrf", "wrong"), ("project", "testCSQY")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = http
        .post(format!("{}/api/v1/auth/sign-out", s.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_in_refuses_wrong_codes_and_limits_tries() {
    let s = common::start().await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}/api/v1{path}", s.url))
            .json(&body)
            .send()
    };
    assert_eq!(
        post("/auth/sms-code", json!({"mobile": "12345"}))
            .await
            .unwrap()
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post("/auth/sms-code", json!({"mobile": "13800138000"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/auth/sms-code", json!({"mobile": "13800138000"}))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one code a minute"
    );
    for _ in 0..5 {
        let r = post(
            "/auth/applicant",
            json!({"mobile": "13800138000", "code": "000000"}),
        )
        .await
        .unwrap();
        // A one-in-a-million real code of 000000 would sign in; the next try would then fail the same way.
        assert!(r.status() == StatusCode::UNAUTHORIZED || r.status() == 200);
    }
    let r = post(
        "/auth/applicant",
        json!({"mobile": "13800138000", "code": "000000"}),
    )
    .await
    .unwrap();
    assert!(r.status() == StatusCode::TOO_MANY_REQUESTS || r.status() == StatusCode::UNAUTHORIZED);
    let r = post(
        "/auth/operator",
        json!({"name": "admin", "password": "nope"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "用户名或密码不正确"
    );
}

#[tokio::test]
async fn health_headers_maker_certificate_and_openapi() {
    let s = common::start().await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/healthz", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let pem = http
        .get(format!("{}/api/v1/maker-certificate", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let maker = sealdesk_pki::Cert::from_pem(&pem).unwrap();
    assert!(maker.subject().contains("SealDesk"));

    let doc: Value = http
        .get(format!("{}/api/v1/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20);
    // Every documented operation is routed: an unrouted path gives axum's empty 404, a wrong method a 405.
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "1").replace("{channel}", "sandbox");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = http
                .request(m, format!("{}/api/v1{concrete}", s.url))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{method} {path} is not routed"
            );
        }
    }
}

#[tokio::test]
async fn pages_speak_chinese_and_show_field_errors() {
    let s = common::start().await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = http.get(&s.url).send().await.unwrap().text().await.unwrap();
    for label in [
        "新办",
        "续期",
        "补办",
        "变更",
        "80 元/个章/每年",
        "企业公章",
        "手写签字",
    ] {
        assert!(home.contains(label), "{label}");
    }
    let r = http.get(format!("{}/orders", s.url)).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "signed-out visitors are sent to sign in"
    );
    let (token, csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let cookie = format!("sd_session={token}");
    let r = http
        .post(format!("{}/orders/new", s.url))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("project", "testCSQY"),
            ("service", "new"),
            ("holder_kind", "enterprise"),
            ("credit_code", "913617481036174810"),
            ("months", "12"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("统一社会信用代码校验位不正确"), "{page}");
    assert!(
        page.contains("value=\"913617481036174810\""),
        "the form keeps what was typed"
    );
    let r = http
        .get(format!("{}/orders/999", s.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("未找到该记录"));
}
