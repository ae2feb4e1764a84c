//! The HTTP surface's guarantees: scoping, CSRF and cross-site refusal, 409 for illegal transitions, upload
//! hygiene, error format, headers, static files, and an OpenAPI document that names every route and describes
//! what each really returns.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn orders_are_scoped_and_illegal_transitions_are_409_and_change_nothing() {
    let s = common::start().await;
    let http = common::http();
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
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::draft_order(&http, &s.url, &alice, "13800138000").await;
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
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "refused from its Content-Length, before the body is read"
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
    let http = common::http();
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
    let http = common::http();
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
    // A code that is surely wrong: the real one, with its first digit changed.
    let real = common::sms_code(&http, &s.url, "13800138000").await;
    let wrong = format!(
        "{}{}",
        if real.starts_with('1') { '2' } else { '1' },
        &real[1..]
    );
    for _ in 0..5 {
        let r = post(
            "/auth/applicant",
            json!({"mobile": "13800138000", "code": wrong}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The sixth try on this code is refused as too many, even with the right code.
    let r = post(
        "/auth/applicant",
        json!({"mobile": "13800138000", "code": real}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "验证码错误次数过多，请重新获取"
    );
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
    let http = common::http();
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
            let concrete = path
                .replace("{id}", "1")
                .replace("{channel}", "sandbox")
                .replace("{es_id}", "SD1");
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
    let http = common::http_builder()
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

/// The schema the document gives for `method path` answering `status` (or its `4XX`), with the document's
/// components beside it so that its `$ref`s resolve.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    let responses = &op["responses"];
    let r = if responses[status.to_string()].is_object() {
        &responses[status.to_string()]
    } else {
        &responses[format!("{}XX", status / 100)]
    };
    let mut schema = r["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema in {r}"
    );
    schema["components"] = doc["components"].clone();
    schema
}

/// Sends a request and checks that what comes back is what the document says it is.
struct Checked<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    doc: &'a Value,
    checked: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Checked<'_> {
    async fn call(
        &self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self.http.request(m, format!("{}/api/v1{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let value: Value = r.json().await.unwrap();
        self.check(method, template, status, &value);
        (status, value)
    }

    /// As `call`, with a body that is not JSON (a bank statement's CSV).
    async fn call_body(
        &self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self
            .http
            .request(m, format!("{}/api/v1{path}", self.url))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let value: Value = r.json().await.unwrap();
        self.check(method, template, status, &value);
        (status, value)
    }

    fn check(&self, method: &str, template: &str, status: u16, value: &Value) {
        let schema = response_schema(self.doc, method, template, status);
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{method} {template}: the schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status} does not match its schema: {errors:?}\n{value}"
        );
        self.checked
            .borrow_mut()
            .insert(format!("{method} {template}"));
    }
}

#[tokio::test]
async fn every_api_route_is_documented_and_real_responses_match_their_schemas() {
    // Routes come from annotated handlers only: no hand-added route in the API modules, and one documented
    // operation per handler the router collects.
    let src = [
        include_str!("../src/api.rs"),
        include_str!("../src/api_finance.rs"),
    ]
    .concat();
    assert!(
        !src.contains(".route("),
        "an API route added past the document"
    );
    let handlers: usize = src
        .split("routes!(")
        .skip(1)
        .map(|s| {
            s.split(')')
                .next()
                .unwrap()
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .count()
        })
        .sum();
    let doc = serde_json::to_value(sealdesk_web::openapi_document()).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        operations, handlers,
        "every handler is one documented operation"
    );
    assert_eq!(src.matches("#[utoipa::path(").count(), handlers);

    let s = common::start().await;
    let http = common::http();
    let served: Value = http
        .get(format!("{}/api/v1/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc, "the served document is the generated one");
    let c = Checked {
        http: &http,
        url: &s.url,
        doc: &doc,
        checked: Default::default(),
    };
    let j = |v: Value| Some(v);

    // Sign-in, both kinds.
    c.call(
        "post",
        "/auth/sms-code",
        "/auth/sms-code",
        None,
        j(json!({"mobile": "13800138000"})),
    )
    .await;
    let (_, outbox) = c
        .call(
            "get",
            "/demo/outbox",
            "/demo/outbox?mobile=13800138000",
            None,
            None,
        )
        .await;
    let code: String = outbox[0]["text"]
        .as_str()
        .unwrap()
        .split("验证码为")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let (st, bad) = c
        .call(
            "post",
            "/auth/applicant",
            "/auth/applicant",
            None,
            j(json!({"mobile": "13800138000", "code": "000000"})),
        )
        .await;
    assert_eq!((st, bad["code"].as_str()), (401, Some("bad_credentials")));
    let (_, me) = c
        .call(
            "post",
            "/auth/applicant",
            "/auth/applicant",
            None,
            j(json!({"mobile": "13800138000", "code": code})),
        )
        .await;
    let me = me["token"].as_str().unwrap().to_owned();
    let (_, op) = c
        .call(
            "post",
            "/auth/operator",
            "/auth/operator",
            None,
            j(json!({"name": "admin", "password": "sealdesk-demo"})),
        )
        .await;
    let op = op["token"].as_str().unwrap().to_owned();
    let (me, op) = (Some(me.as_str()), Some(op.as_str()));

    // The order, start to finish, with a refusal of each kind on the way.
    c.call("get", "/projects", "/projects", me, None).await;
    let mut body = common::order_body("13800138000");
    body["holder"]["credit_code"] = json!("913617481036174810");
    let (st, invalid) = c.call("post", "/orders", "/orders", me, j(body)).await;
    assert_eq!(
        (st, invalid["fields"][0]["field"].as_str()),
        (422, Some("holder.credit_code"))
    );
    let (st, o) = c
        .call(
            "post",
            "/orders",
            "/orders",
            me,
            j(common::order_body("13800138000")),
        )
        .await;
    assert_eq!(st, 201);
    let id = o["id"].as_str().unwrap().to_owned();
    let p = |tail: &str| format!("/orders/{id}{tail}");
    let (st, _) = c.call("get", "/orders/{id}", "/orders/999", me, None).await;
    assert_eq!(st, 404);
    let mut form = common::order_body("13800138000");
    form.as_object_mut().unwrap().remove("project");
    form["months"] = json!(24);
    c.call("put", "/orders/{id}", &p(""), me, j(form)).await;
    let scan =
        sealdesk_artwork::testkit::generate(11, sealdesk_artwork::testkit::FormSpec::A4_150).jpeg;
    for (st, body) in common::upload_all(&s, &http, me.unwrap(), &id, &scan, "scan.jpg").await {
        c.check("post", "/orders/{id}/uploads", st, &body);
        assert_eq!(st, 201);
    }
    // No 手写签字 among the order's seals: nothing to draw.
    let (st, body) = c
        .call(
            "post",
            "/orders/{id}/signature",
            &p("/signature"),
            me,
            j(json!({"version": 1, "width": 600.0, "height": 240.0, "strokes": [
                {"pointer": "mouse", "points": [[10.0, 10.0, 0.5, 0.0], [90.0, 60.0, 0.5, 50.0]]}
            ]})),
        )
        .await;
    assert_eq!(
        (st, body["message"].as_str()),
        (409, Some("本订单没有手写签字印章"))
    );
    // The order's own form, read by its QR code and boxes: there is nothing for 印模确认 to say.
    let (st, body) = c
        .call(
            "post",
            "/orders/{id}/cutouts/confirm",
            &p("/cutouts/confirm"),
            me,
            j(json!({"seal_of": [1, 0]})),
        )
        .await;
    assert_eq!(
        (st, body["message"].as_str()),
        (
            409,
            Some("此印模采集表无需确认：每枚印章的图片取自它自己的方框")
        )
    );
    let (st, _) = c
        .call("post", "/orders/{id}/approve", &p("/approve"), op, None)
        .await;
    assert_eq!(st, 409, "a draft cannot be approved");
    c.call("post", "/orders/{id}/submit", &p("/submit"), me, None)
        .await;
    // 在线客服: the applicant asks, the operator answers (an SMS goes out), an empty message is refused.
    let (st, asked) = c
        .call(
            "post",
            "/orders/{id}/messages",
            &p("/messages"),
            me,
            j(json!({"body": "请问多久能审核完？"})),
        )
        .await;
    assert_eq!((st, asked["from"].as_str()), (201, Some("applicant")));
    let (st, answer) = c
        .call(
            "post",
            "/orders/{id}/messages",
            &p("/messages"),
            op,
            j(json!({"body": "1-2 个工作日内审核完毕。"})),
        )
        .await;
    assert_eq!((st, answer["from"].as_str()), (201, Some("operator")));
    let (st, bad) = c
        .call(
            "post",
            "/orders/{id}/messages",
            &p("/messages"),
            me,
            j(json!({"body": "  "})),
        )
        .await;
    assert_eq!(
        (st, bad["fields"][0]["message"].as_str()),
        (422, Some("留言应为 1 到 500 个字"))
    );
    let (st, thread) = c
        .call("get", "/orders/{id}/messages", &p("/messages"), me, None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(thread["service_hours"], "工作日 9:00–17:00");
    assert_eq!(
        thread["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["请问多久能审核完？", "1-2 个工作日内审核完毕。"]
    );
    c.call(
        "post",
        "/orders/{id}/reject",
        &p("/reject"),
        op,
        j(json!({"comment": "营业执照不清晰"})),
    )
    .await;
    c.call("post", "/orders/{id}/submit", &p("/submit"), me, None)
        .await;
    c.call("post", "/orders/{id}/approve", &p("/approve"), op, None)
        .await;
    c.call("post", "/orders/{id}/invoice", &p("/invoice"), me,
        j(json!({"kind": "enterprise", "title": "北筑设计研究院有限公司", "taxpayer_id": "91110108551385082Q", "mobile": "13800138000", "email": ""}))).await;
    let (st, pay) = c
        .call(
            "post",
            "/orders/{id}/payments",
            &p("/payments"),
            me,
            j(json!({"channel": "sandbox"})),
        )
        .await;
    assert_eq!(st, 201);
    c.call(
        "post",
        "/sandbox/payments/{id}/pay",
        &format!(
            "/sandbox/payments/{}/pay",
            pay["payment_id"].as_str().unwrap()
        ),
        me,
        None,
    )
    .await;
    let mut token = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    let (_, challenge) = c
        .call(
            "post",
            "/orders/{id}/authorize/challenge",
            &p("/authorize/challenge"),
            me,
            None,
        )
        .await;
    let (st, o) = c
        .call(
            "post",
            "/orders/{id}/authorize",
            &p("/authorize"),
            me,
            j(common::challenge_answer(&mut token, &challenge)),
        )
        .await;
    assert_eq!((st, o["state"].as_str()), (200, Some("made")), "{o}");
    c.call("post", "/orders/{id}/make", &p("/make"), me, None)
        .await; // 409: already made
    let (_, seals) = c
        .call("get", "/orders/{id}/seals", &p("/seals"), me, None)
        .await;
    let (st, replaces) = c
        .call("get", "/orders/{id}/replaces", &p("/replaces"), me, None)
        .await;
    assert_eq!(
        (st, replaces),
        (200, json!({"es_ids": []})),
        "a 新办 replaces nothing"
    );
    let receipts = common::receipts(&mut token, &seals);
    c.call(
        "post",
        "/orders/{id}/written",
        &p("/written"),
        me,
        j(json!({"receipts": receipts})),
    )
    .await;
    // 印章状态 and the maker's revoked list, for anyone.
    let es_id = seals[0]["es_id"].as_str().unwrap();
    let (st, v) = c
        .call(
            "get",
            "/seals/{es_id}/status",
            &format!("/seals/{es_id}/status"),
            None,
            None,
        )
        .await;
    assert_eq!((st, v["status_label"].as_str()), (200, Some("有效")), "{v}");
    let (st, _) = c
        .call(
            "get",
            "/seals/{es_id}/status",
            "/seals/SD-NONE/status",
            None,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (_, list) = c
        .call("get", "/seals/revoked", "/seals/revoked", None, None)
        .await;
    assert_eq!(list["format"], "sealdesk-revoked-seals/1");

    // 证书登录 with the key bound at 授权: a signature over another text is refused, the right one signs in.
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let (_, ch) = c
        .call(
            "post",
            "/auth/ukey/challenge",
            "/auth/ukey/challenge",
            None,
            None,
        )
        .await;
    let wrong = token.sign_challenge("12345678", b"something else").unwrap();
    let (st, bad) = c
        .call(
            "post",
            "/auth/ukey",
            "/auth/ukey",
            None,
            j(json!({"cert_der_b64": b64(token.cert().der()), "nonce": ch["nonce"], "signature": b64(&wrong)})),
        )
        .await;
    assert_eq!(
        (st, bad["code"].as_str()),
        (401, Some("bad_credentials")),
        "{bad}"
    );
    let (_, ch) = c
        .call(
            "post",
            "/auth/ukey/challenge",
            "/auth/ukey/challenge",
            None,
            None,
        )
        .await;
    let sig = token
        .sign_challenge("12345678", ch["challenge"].as_str().unwrap().as_bytes())
        .unwrap();
    let (st, cert_session) = c
        .call(
            "post",
            "/auth/ukey",
            "/auth/ukey",
            None,
            j(json!({"cert_der_b64": b64(token.cert().der()), "nonce": ch["nonce"], "signature": b64(&sig)})),
        )
        .await;
    assert_eq!(st, 200, "{cert_session}");
    let (st, mine) = c
        .call(
            "get",
            "/orders",
            "/orders",
            cert_session["token"].as_str(),
            None,
        )
        .await;
    assert_eq!(
        (st, mine["total"].as_i64()),
        (200, Some(1)),
        "the holder's account"
    );
    let (_, inv) = c
        .call("get", "/orders/{id}/invoice", &p("/invoice"), me, None)
        .await;
    // Two seals for two years at 80 yuan a seal a year.
    assert_eq!(inv["total_capitals"], "叁佰贰拾元整");
    let (_, detail) = c.call("get", "/orders/{id}", &p(""), me, None).await;
    assert_eq!(detail["state"], "completed");
    // 读取证书锁: the key's certificate finds the completed order whose seals are on it.
    let (st, found) = c
        .call(
            "post",
            "/ukey/orders",
            "/ukey/orders",
            me,
            j(json!({"cert_der_b64": b64(token.cert().der())})),
        )
        .await;
    assert_eq!(
        (
            st,
            found["orders"][0]["id"].as_str(),
            &found["orders"][0]["cert_changed"],
            &found["expired"]
        ),
        (200, Some(id.as_str()), &json!(false), &Value::Null),
        "{found}"
    );
    // 重新制章 is a 制章员's: neither the applicant nor a reviewer may.
    let es0 = seals[0]["es_id"].as_str().unwrap().to_owned();
    for who in [me, op] {
        let (st, body) = c
            .call(
                "post",
                "/orders/{id}/remake",
                &p("/remake"),
                who,
                j(json!({"es_ids": [es0], "reason": "印模不清晰"})),
            )
            .await;
        assert_eq!(
            (st, body["message"].as_str()),
            (403, Some("只有制章员可以重新制章")),
            "{body}"
        );
    }
    c.call("get", "/orders", "/orders?state=completed", op, None)
        .await;
    c.call("get", "/orders/{id}/audit", &p("/audit"), op, None)
        .await;
    c.call("get", "/finance/refunds", "/finance/refunds", op, None)
        .await;
    // Only administrators refund (the refund itself: crates/app/tests/money.rs).
    let refund = format!("/finance/refunds/{}", pay["payment_id"].as_str().unwrap());
    for who in [op, me] {
        let (st, body) = c
            .call("post", "/finance/refunds/{id}", &refund, who, None)
            .await;
        assert_eq!(
            (st, body["message"].as_str()),
            (403, Some("只有财务人员可以退款"))
        );
    }
    // Finance: the day's report, the order's invoices, a re-issue, a statement import, a bank refund refused.
    let caiwu = s
        .app
        .ensure_operator_with_roles(
            "caiwu",
            "finance-password-1",
            false,
            sealdesk_domain::Roles::only(sealdesk_domain::Role::Finance),
        )
        .await
        .unwrap();
    let group = s.store.group_by_name("A组").await.unwrap();
    s.store.add_to_group(group.id, caiwu).await.unwrap();
    let (_, fin) = c
        .call(
            "post",
            "/auth/operator",
            "/auth/operator",
            None,
            j(json!({"name": "caiwu", "password": "finance-password-1"})),
        )
        .await;
    let fin = fin["token"].as_str().unwrap().to_owned();
    let fin = Some(fin.as_str());
    let today = sealdesk_domain::Timestamp(s.app.now()).beijing_date();
    let (st, day) = c
        .call(
            "get",
            "/finance/daily",
            &format!("/finance/daily?date={today}"),
            fin,
            None,
        )
        .await;
    assert_eq!(st, 200, "{day}");
    let (st, invoices) = c
        .call("get", "/orders/{id}/invoices", &p("/invoices"), fin, None)
        .await;
    assert_eq!(st, 200, "{invoices}");
    assert_eq!(invoices.as_array().unwrap().len(), 1, "{invoices}");
    let first = invoices[0]["id"].as_str().unwrap().to_owned();
    let (st, again) = c
        .call(
            "post",
            "/orders/{id}/invoices/{invoice_id}/reissue",
            &p(&format!("/invoices/{first}/reissue")),
            fin,
            j(json!({"reason": "抬头有误", "buyer": {"kind": "enterprise", "title": "北筑设计研究院有限公司", "taxpayer_id": "91110108551385082Q", "mobile": "13800138000", "email": ""}})),
        )
        .await;
    assert_eq!(
        (st, again["replaces"].as_str()),
        (200, invoices[0]["number"].as_str()),
        "{again}"
    );
    let (st, report) = c
        .call_body(
            "post",
            "/finance/bank-statements",
            "/finance/bank-statements",
            fin,
            "text/csv",
            "流水号,金额,附言\nB001,320.00,货款\n",
        )
        .await;
    assert_eq!(
        (st, report["issues"][0]["serial"].as_str()),
        (200, Some("B001")),
        "{report}"
    );
    let (st, body) = c
        .call(
            "post",
            "/finance/refunds/{id}/bank",
            &format!("{refund}/bank"),
            fin,
            j(json!({"bank_serial": "R001"})),
        )
        .await;
    assert_eq!(
        (st, body["message"].as_str()),
        (409, Some("该笔款项不是对公转账，请原路退款"))
    );
    c.call("post", "/orders/{id}/cancel", &p("/cancel"), me, None)
        .await; // 409: paid for
    c.call("post", "/auth/sign-out", "/auth/sign-out", me, None)
        .await;
    let (st, _) = c.call("get", "/orders", "/orders", me, None).await;
    assert_eq!(st, 401, "signed out");

    // Every JSON operation was exercised and checked; the rest answer files or the gateway's plain text.
    let checked = c.checked.borrow();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let success_json = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(code, r)| {
                    code.starts_with('2') && r["content"]["application/json"].is_object()
                });
            if success_json {
                assert!(
                    checked.contains(&format!("{method} {path}")),
                    "{method} {path} was not checked against its schema"
                );
            }
        }
    }
}

#[tokio::test]
async fn pages_use_hashed_static_files_and_no_inline_code() {
    let s = common::start().await;
    let http = common::http();
    let home = http.get(&s.url).send().await.unwrap();
    assert_eq!(
        home.headers()["content-security-policy"].to_str().unwrap(),
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self' http://127.0.0.1:17820; form-action 'self'; frame-ancestors 'none'"
    );
    let html = home.text().await.unwrap();
    assert!(!html.contains(" style="), "no inline style");
    assert!(!html.contains("<style"), "no style element");
    let refs: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/static/"))
        .collect();
    assert_eq!(refs.len(), 2, "one stylesheet and one script: {refs:?}");
    for r in &refs {
        assert!(
            r.strip_prefix("/static/app.")
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .len()
                == 16,
            "{r} carries a hash"
        );
        let resp = http.get(format!("{}{r}", s.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{r}");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            ct.starts_with(if r.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            }),
            "{ct}"
        );
        assert!(!resp.bytes().await.unwrap().is_empty());
    }
    for stale in [
        "/static/app.css",
        "/static/app.0000000000000000.css",
        "/static/../Cargo.toml",
    ] {
        let r = http.get(format!("{}{stale}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{stale}");
    }
    let src = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")).unwrap();
    let mut templates = Vec::new();
    fn walk(d: std::fs::ReadDir, out: &mut Vec<std::path::PathBuf>) {
        for e in d.flatten() {
            if e.path().is_dir() {
                walk(std::fs::read_dir(e.path()).unwrap(), out);
            } else {
                out.push(e.path());
            }
        }
    }
    walk(src, &mut templates);
    assert!(templates.len() > 15);
    for t in templates {
        let text = std::fs::read_to_string(&t).unwrap();
        for bad in [
            " style=",
            "<style",
            "<script>",
            " onclick=",
            " onchange=",
            "|safe",
        ] {
            assert!(!text.contains(bad), "{} holds {bad:?}", t.display());
        }
    }
}

/// Without `--demo` the sandbox cashier, its API and the SMS outbox do not exist: 404 for every method, and
/// the order page says payment is not open instead of offering channels.
#[tokio::test]
async fn production_mode_mounts_no_sandbox_and_no_outbox() {
    let s = common::start_with(false, Vec::new()).await;
    let http = common::http();
    for path in [
        "/sandbox/cashier/1",
        "/demo/outbox",
        "/api/v1/sandbox/payments/1/pay",
        "/api/v1/demo/outbox",
    ] {
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let r = http
                .request(
                    reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                    format!("{}{path}", s.url),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m} {path}");
        }
    }
    let r = http
        .post(format!("{}/api/v1/payments/sandbox/notify", s.url))
        .body("out_trade_no=1&trade_status=TRADE_SUCCESS")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no sandbox verifier either"
    );

    // An order awaiting payment: the page offers no channel and says payment is not open.
    let applicant = s.app.send_login_code("13800138000", "127.0.0.1").await;
    applicant.unwrap();
    let code = common::code_in(&s.store.outbox(Some("13800138000"), 1).await.unwrap()[0].text);
    let si = s
        .app
        .sign_in_with_code("13800138000", &code, "127.0.0.1")
        .await
        .unwrap();
    let alice = sealdesk_app::Who {
        principal: si.principal.clone(),
        ip: "-".into(),
    };
    let form: sealdesk_domain::OrderForm =
        serde_json::from_value(common::order_body("13800138000")).unwrap();
    let order = s.app.create_order(&alice, "testCSQY", &form).await.unwrap();
    let scan = sealdesk_artwork::testkit::generate(7, sealdesk_artwork::testkit::FormSpec::A4_150);
    let (_, pdf) = s.app.impression_form_pdf(&alice, order.id).await.unwrap();
    let form_scan = common::stamp_form(&order, &pdf);
    for kind in sealdesk_domain::UploadKind::ALL {
        let bytes = if kind == sealdesk_domain::UploadKind::ImpressionForm {
            form_scan.clone()
        } else {
            scan.jpeg.clone()
        };
        s.app
            .add_upload(&alice, order.id, kind, "scan.jpg", bytes)
            .await
            .unwrap();
    }
    s.app.submit(&alice, order.id).await.unwrap();
    let op = s
        .app
        .sign_in_operator("admin", "sealdesk-demo", "127.0.0.1")
        .await
        .unwrap();
    let admin = sealdesk_app::Who {
        principal: op.principal,
        ip: "-".into(),
    };
    s.app.approve(&admin, order.id).await.unwrap();
    let page = http
        .get(format!("{}/orders/{}", s.url, order.id))
        .header("cookie", format!("sd_session={}", si.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("支付尚未开通"), "{page}");
    assert!(!page.contains("name=\"channel\""), "no channel is offered");
    assert!(!page.contains("尚未开通，请使用"));
}

/// Operators' cookies are SameSite=Strict; logging out is a POST that needs the session's CSRF token.
#[tokio::test]
async fn operator_cookies_are_strict_and_logout_needs_the_csrf_token() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/admin/login", s.url))
        .form(&[("name", "admin"), ("password", "sealdesk-demo")])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(format!("{}/admin/orders", s.url))
        .header("cookie", &token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = http
        .post(format!("{}/logout", s.url))
        .header("cookie", &token)
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        http.get(format!("{}/admin/orders", s.url))
            .header("cookie", &token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "still signed in"
    );
    let r = http
        .post(format!("{}/logout", s.url))
        .header("cookie", &token)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = http
        .get(format!("{}/api/v1/orders", s.url))
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the session is gone");
}

/// Behind a trusted proxy the client is the one X-Forwarded-For names (for the audit log and the limits);
/// from anyone else the header is ignored.
#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    for (trusted, want) in [
        (vec!["127.0.0.1/32".parse().unwrap()], "198.51.100.23"),
        (vec![], "127.0.0.1"),
    ] {
        let s = common::start_with(true, trusted).await;
        let http = common::http();
        let r = http
            .post(format!("{}/api/v1/auth/operator", s.url))
            .header("x-forwarded-for", "198.51.100.23")
            .json(&json!({"name": "admin", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let log = s.store.audit_entries(None).await.unwrap();
        let failed = log.iter().find(|e| e.action == "sign_in_failed").unwrap();
        assert_eq!(failed.ip, want);
    }
}

/// At most `UPLOADS_AT_ONCE` upload bodies are received at once: with every place taken, an upload through the
/// API or a page is answered 429 with the message, keeps nothing, and goes through once a place is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_bound_are_told_to_come_back_and_keep_nothing() {
    let s = common::start().await;
    let http = common::http();
    let (alice, csrf) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    // A real 70×50 PNG: a scan the server takes, small enough to arrive whole before the answer.
    let mut png = Vec::new();
    image::RgbImage::from_pixel(70, 50, image::Rgb([250, 250, 250]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let form = |csrf: Option<&str>| {
        let part = reqwest::multipart::Part::bytes(png.clone()).file_name("front.png");
        let f = reqwest::multipart::Form::new()
            .text("kind", "id_front")
            .part("file", part);
        match csrf {
            Some(c) => f.text("_csrf", c.to_owned()),
            None => f,
        }
    };
    let api = format!("{}/api/v1/orders/{id}/uploads", s.url);
    let upload = || {
        http.post(&api)
            .bearer_auth(&alice)
            .multipart(form(None))
            .send()
    };

    let mut places = Vec::new();
    for _ in 0..sealdesk_app::UPLOADS_AT_ONCE {
        places.push(s.app.upload_ticket().await.unwrap());
    }
    let r = upload().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["message"], "系统正在处理较多文件，请稍后再上传");
    let r = http
        .post(format!("{}/orders/{id}/uploads", s.url))
        .header("cookie", format!("sd_session={alice}"))
        .multipart(form(Some(&csrf)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("系统正在处理较多文件，请稍后再上传")
    );
    assert!(
        s.store
            .uploads(id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    // A request that is not an upload does not wait for a place.
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    places.pop();
    let r = upload().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.store.uploads(id.parse().unwrap()).await.unwrap().len(), 1);
}

/// 订单管理's list through the API: `q` finds any part of an order number, a name or a mobile number, filters
/// combine, an operator sees only the projects of their groups, and `export.csv` gives the same rows as CSV
/// (BOM, the seed's columns, streamed in batches however many rows match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_found_by_any_part_and_exported_within_the_callers_scope() {
    let s = common::start().await;
    let http = common::http();
    common::foreign_project(&s.store).await;
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let create =
        |project: &'static str, name: &'static str, ent: &'static str, mobile: &'static str| {
            let mut body = common::order_body(mobile);
            body["project"] = json!(project);
            body["holder"]["applicant_name"] = json!(name);
            body["holder"]["enterprise_name"] = json!(ent);
            let (http, url, alice) = (http.clone(), s.url.clone(), alice.clone());
            async move {
                let r = http
                    .post(format!("{url}/api/v1/orders"))
                    .bearer_auth(&alice)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
                let o: Value = r.json().await.unwrap();
                (
                    o["id"].as_str().unwrap().to_owned(),
                    o["order_no"].as_str().unwrap().to_owned(),
                )
            }
        };
    let (first, first_no) = create(
        "testCSQY",
        "王小明",
        "北筑设计研究院有限公司",
        "13911112222",
    )
    .await;
    let (second, _) = create("testCSQY", "李四", "赣江建设有限公司", "13800138000").await;
    let (foreign, _) = create("otherP", "赵六", "赣江建设有限公司", "13700001111").await;
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let outsider = common::operator(&http, &s.url, "outsider", "outsider-pass").await;

    let list = |token: &str, query: &str| {
        let req = http
            .get(format!("{}/api/v1/orders?{query}", s.url))
            .bearer_auth(token);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let tail = &first_no[first_no.len() - 5..];
    for (query, want) in [
        (format!("q={tail}"), vec![first.clone()]),
        (format!("q={first_no}"), vec![first.clone()]),
        ("q=%E5%B0%8F%E6%98%8E".to_owned(), vec![first.clone()]), // 小明
        ("q=1111222".to_owned(), vec![first.clone()]),
        ("q=%E8%B5%A3%E6%B1%9F".to_owned(), vec![second.clone()]), // 赣江: the foreign one is out of scope
        (
            "q=&service=new&paid=unpaid".to_owned(),
            vec![second.clone(), first.clone()],
        ),
        ("state=pending_review".to_owned(), vec![]),
        ("q=%25".to_owned(), vec![]),
    ] {
        let (st, page) = list(&admin, &query).await;
        assert_eq!(st, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), want, "{query}");
        assert_eq!(page["total"], want.len(), "{query}");
    }
    // Another group's project is not a filter the operator can name; the applicant sees all of her own.
    let (st, e) = list(&admin, "project=otherP").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["message"], "未知的项目：otherP");
    let (_, page) = list(&alice, "q=%E8%B5%A3%E6%B1%9F").await;
    assert_eq!(ids(&page), vec![foreign.clone(), second.clone()]);
    let (st, e) = list(&admin, "sort=price").await;
    assert_eq!(
        (st, e["message"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("未知的排序：price"))
    );

    // Enough rows for several batches of the export.
    let base = s.store.order(first.parse().unwrap()).await.unwrap();
    let extra: Vec<sealdesk_domain::Order> = (0..1_203)
        .map(|_| {
            let mut o = base.clone();
            o.id = s.store.next_id();
            o.order_no = sealdesk_domain::OrderNo::new("testCSQY", o.id).to_string();
            o
        })
        .collect();
    s.store.bulk_load(&[], &extra, &[]).await.unwrap();
    let export = |token: &str, query: &str| {
        let req = http
            .get(format!("{}/api/v1/orders/export.csv?{query}", s.url))
            .bearer_auth(token);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
            assert!(r.headers().get("content-length").is_none(), "streamed");
            r.text().await.unwrap()
        }
    };
    let csv = export(&admin, "").await;
    assert!(
        csv.starts_with('\u{feff}'),
        "a BOM, so that Excel reads UTF-8"
    );
    let lines: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .split_terminator("\r\n")
        .collect();
    assert_eq!(
        lines[0],
        "订单编号,项目名称,业务类型,申办人,企业,清单,支付状态,费用(元),开票状态,订单时间,更新时间,完成时间,审核状态"
    );
    assert_eq!(lines.len(), 1 + 2 + 1_203);
    assert!(!csv.contains("另一授权单位") && !csv.contains("赵六"));
    let newest = extra.last().unwrap();
    assert!(lines[1].starts_with(&format!("{},南昌市城建档案馆,新办,王小明,北筑设计研究院有限公司,企业公章×1、企业资质印章×1,未支付,160.00,未申请,", newest.order_no)), "{}", lines[1]);
    assert!(lines[1].ends_with(",,草稿"), "{}", lines[1]);
    let mut numbers: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 1_205, "every order once");
    // The export takes the list's filters.
    let csv = export(&admin, "q=%E6%9D%8E%E5%9B%9B").await; // 李四
    assert_eq!(csv.split_terminator("\r\n").count(), 2);
    // An operator without groups exports the header only.
    let csv = export(&outsider, "").await;
    assert_eq!(csv.split_terminator("\r\n").count(), 1);
}

/// 审核 on the console's order page: a rejection without 审核意见, or a decision a colleague already took, shows
/// the same order page with the reason (and what was typed) and changes nothing; the 操作记录 names people by
/// role and name, actions in Chinese, and keeps the 审核意见.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_review_stays_on_the_order_page_and_the_trail_reads_in_chinese() {
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
    let cookie = format!("sd_session={}", signed["token"].as_str().unwrap());
    let csrf = signed["csrf"].as_str().unwrap().to_owned();
    let decide = |what: &str, comment: &str| {
        http.post(format!("{}/admin/orders/{id}/{what}", s.url))
            .header("cookie", &cookie)
            .form(&[("_csrf", csrf.as_str()), ("comment", comment)])
            .send()
    };
    let state = || async { s.store.order(id.parse().unwrap()).await.unwrap().state };

    let r = decide("reject", "   ").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("请填写审核意见，告诉申请人需要修改什么"),
        "{page}"
    );
    assert!(
        page.contains(r#"id="reject""#),
        "the 审核 form is still there"
    );
    assert_eq!(state().await, sealdesk_domain::OrderState::PendingReview);

    let r = decide("reject", "营业执照不清晰 <b>").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(state().await, sealdesk_domain::OrderState::Rejected);

    // A page opened before the rejection, approving now.
    let r = decide("approve", "").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    let refused = sealdesk_domain::TransitionError {
        from: sealdesk_domain::OrderState::Rejected,
        event: "审核通过",
        actor: sealdesk_domain::Actor::Operator,
    };
    assert!(page.contains(&refused.to_string()), "{page}");
    assert_eq!(state().await, sealdesk_domain::OrderState::Rejected);

    let page = common::get_text(&http, &format!("{}/admin/orders/{id}", s.url), &cookie).await;
    let trail = &page[page.find("操作记录").unwrap()..];
    for shown in [
        "申请人 李四",
        "暂存订单",
        "上传材料",
        "提交审核",
        "管理员 admin",
        "审核不通过",
        "待审核 → 审核不通过",
        "营业执照不清晰 &#60;b&#62;",
    ] {
        assert!(trail.contains(shown), "{shown} in:\n{trail}");
    }
    assert!(
        !trail.contains("applicant:") && !trail.contains(">submit<"),
        "{trail}"
    );
}

/// The 待审核 queue counts the 1-2 working-day promise in 工作日 (holidays and make-up Saturdays from the
/// calendar data): the longest waiting first, overdue and due today marked, a year without data said as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_shows_due_dates_in_working_days() {
    let s = common::start_on_monday_after_national_day().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    let base = s.store.order(id.parse().unwrap()).await.unwrap();
    let submitted =
        |at: &str| common::waiting_copy(&s.store, &base, ("testCSQY", base.project_id), at);
    // Made in an order the queue must not follow: it sorts by submission.
    let orders = [
        submitted("2026-10-12T01:00:00Z"), // today: due 10-14
        submitted("2026-09-30T03:00:00Z"), // due 10-09 (after National Day): 2 working days late
        submitted("2026-10-09T01:00:00Z"), // due 10-12, today
        submitted("2026-12-31T02:00:00Z"), // due in 2027, which the data does not cover
    ];
    s.store.bulk_load(&[], &orders, &[]).await.unwrap();
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    let rows: Vec<&str> = page.split("<tr>").skip(2).collect();
    let expect = [
        (
            &orders[1],
            "due-late",
            "已超期 2 个工作日（应于 2026-10-09）",
        ),
        (&orders[2], "due-today", "今日到期"),
        (&orders[0], "due-ok", "2026-10-14 前（剩 2 个工作日）"),
        (
            &orders[3],
            "due-unknown",
            "没有 2027 年的节假日数据（已有 2025、2026），请先补充该年的节假日安排",
        ),
    ];
    assert_eq!(rows.len(), expect.len(), "{page}");
    for (row, (o, class, text)) in rows.iter().zip(expect) {
        assert!(
            row.contains(&o.order_no),
            "{} expected in {row}",
            o.order_no
        );
        assert!(
            row.contains(&format!("<td class=\"{class}\">{text}</td>")),
            "{row}"
        );
    }
}

/// The platform counts due dates in the holiday file it is given (`serve --holidays FILE`): with next year's
/// schedule added, an order submitted on New Year's Eve is due after the holiday instead of "no data".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_counts_in_the_holiday_file_the_platform_is_given() {
    let clock = sealdesk_domain::ManualClock::at(sealdesk_domain::Timestamp::from_utc(
        2026, 12, 31, 6, 0, 0,
    ));
    let file = format!(
        "{}\nyear 2027\noff 2027-01-01 元旦\n",
        include_str!("../../domain/data/holidays-cn.txt")
    );
    let calendar = sealdesk_domain::WorkCalendar::parse(&file).unwrap();
    let s = common::start_cfg(
        true,
        Vec::new(),
        String::new(),
        std::sync::Arc::new(clock),
        |cfg| {
            cfg.calendar = Some(std::sync::Arc::new(calendar));
        },
    )
    .await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    let base = s.store.order(id.parse().unwrap()).await.unwrap();
    let order = common::waiting_copy(
        &s.store,
        &base,
        ("testCSQY", base.project_id),
        "2026-12-31T02:00:00Z",
    );
    s.store.bulk_load(&[], &[order.clone()], &[]).await.unwrap();
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    let page = common::get_text(
        &http,
        &format!("{}/admin/orders", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    let row = page
        .split("<tr>")
        .find(|r| r.contains(&order.order_no))
        .unwrap();
    // 2027-01-01 is off: the two working days are Monday 01-04 and Tuesday 01-05.
    assert!(
        row.contains("<td class=\"due-ok\">2027-01-05 前（剩 2 个工作日）</td>"),
        "{row}"
    );
}

/// 审计日志: only a super-administrator reads the whole log; it filters by order and action, names people (a
/// masked mobile number for an applicant), checks the chain on request and exports the filter as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_super_administrator_reads_filters_checks_and_exports_the_audit_log() {
    let s = common::start().await;
    let http = common::http();
    s.app
        .ensure_operator("root", "root-password-1", true)
        .await
        .unwrap();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let id = common::submitted_order(&s, &http, &alice, "13800138000", 7).await;
    let other = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    let order_no = s.store.order(id.parse().unwrap()).await.unwrap().order_no;
    let root = format!(
        "sd_session={}",
        common::operator(&http, &s.url, "root", "root-password-1").await
    );
    let admin = format!(
        "sd_session={}",
        common::operator(&http, &s.url, "admin", "sealdesk-demo").await
    );
    let get = |path: &str, cookie: &str| {
        http.get(format!("{}{path}", s.url))
            .header("cookie", cookie.to_owned())
            .send()
    };

    let r = get("/admin/audit", &admin).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("只有审计员或超级管理员可以查看审计日志")
    );

    let rows = |page: &str| page.matches("<tr><td>").count();
    let page = common::get_text(
        &http,
        &format!("{}/admin/audit?action=submit", s.url),
        &root,
    )
    .await;
    assert_eq!(rows(&page), 1, "{page}");
    assert!(page.contains("<td>申请人 138****8000</td>"), "{page}");
    assert!(
        page.contains("<td>提交审核</td><td>草稿 → 待审核</td>"),
        "{page}"
    );
    assert!(!page.contains("13800138000"), "the mobile number is masked");
    let page = common::get_text(
        &http,
        &format!("{}/admin/audit?order={order_no}", s.url),
        &root,
    )
    .await;
    assert_eq!(rows(&page), 6, "create, 4 uploads, submit: {page}");
    assert!(
        !page.contains(&format!(">{other}<")),
        "another order's entries stay out"
    );

    let all = s.store.audit_entries(None).await.unwrap().len();
    let page = common::get_text(&http, &format!("{}/admin/audit?verify=1", s.url), &root).await;
    assert!(
        page.contains(&format!("审计链完整：共 {all} 条记录，逐条校验通过")),
        "{page}"
    );

    let r = get("/admin/audit?action=drop_table", &root).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("未知的操作：drop_table"));

    let csv = common::get_text(
        &http,
        &format!("{}/admin/audit/export.csv?action=upload", s.url),
        &root,
    )
    .await;
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "\u{feff}序号,时间,操作人,来源IP,订单ID,操作,状态变化,详情,哈希"
    );
    assert_eq!(lines.len(), 1 + 4, "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(&format!(",{id},上传材料,"))),
        "{csv}"
    );
    let r = get("/admin/audit/export.csv", &admin).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no file for a refused export"
    );
}

/// 统计: over the operator's projects only, the 待审核 queue against the working-day promise, decisions of the
/// last 30 days with the median wait and the rejection reasons, orders by state and by project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_the_operators_projects() {
    let s = common::start_on_monday_after_national_day().await;
    let http = common::http();
    let foreign = common::foreign_project(&s.store).await;
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let mut decided = Vec::new();
    for seed in 1..=3 {
        decided.push(common::submitted_order(&s, &http, &alice, "13800138000", seed).await);
    }
    let base = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    let base = s.store.order(base.parse().unwrap()).await.unwrap();
    let here = ("testCSQY", base.project_id);
    let waiting = |at: &str, project| common::waiting_copy(&s.store, &base, project, at);
    s.store
        .bulk_load(
            &[],
            &[
                waiting("2026-09-30T03:00:00Z", here),                // overdue
                waiting("2026-10-09T01:00:00Z", here),                // due today
                waiting("2026-09-01T01:00:00Z", ("otherP", foreign)), // overdue, not this operator's
            ],
            &[],
        )
        .await
        .unwrap();
    let admin = common::operator(&http, &s.url, "admin", "sealdesk-demo").await;
    for (id, (what, comment)) in decided.iter().zip([
        ("reject", "营业执照不清晰"),
        ("reject", "营业执照不清晰"),
        ("approve", ""),
    ]) {
        let r = http
            .post(format!("{}/api/v1/orders/{id}/{what}", s.url))
            .bearer_auth(&admin)
            .json(&json!({"comment": comment}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
    let page = common::get_text(
        &http,
        &format!("{}/admin/dashboard", s.url),
        &format!("sd_session={admin}"),
    )
    .await;
    for shown in [
        ">已超期 1</a>",
        ">今日到期 1</span>",
        r#"<strong id="decisions">3</strong>"#,
        // The decisions came within seconds of the submissions.
        r#"<strong id="median">不到 1 小时</strong>"#,
        "<tr><td>营业执照不清晰</td><td>2</td></tr>",
        ">草稿</a></td><td>1</td>",
        ">待审核</a></td><td>2</td>",
        ">审核不通过</a></td><td>2</td>",
        ">待支付</a></td><td>1</td>",
        "<tr><td>南昌市城建档案馆</td><td>6</td><td>2</td></tr>",
    ] {
        assert!(page.contains(shown), "{shown} in:\n{page}");
    }
    assert!(
        !page.contains("另一授权单位"),
        "another group's project stays out"
    );
}

/// Someone else's order is "not found" for an operator of another group and for another applicant, through the
/// API and the pages alike, and every such attempt is in the audit log with who tried, from where, and which order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaching_for_another_scopes_order_is_not_found_and_logged() {
    let s = common::start().await;
    let http = common::http();
    let (alice, _) = common::applicant(&http, &s.url, "13800138000").await;
    let (mallory, _) = common::applicant(&http, &s.url, "13900139000").await;
    let id = common::draft_order(&http, &s.url, &alice, "13800138000").await;
    let outsider = common::operator(&http, &s.url, "outsider", "outsider-pass").await;
    let refusals = || async {
        s.store
            .audit_entries(None)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "access_refused")
            .map(|e| (e.actor, e.detail))
            .collect::<Vec<_>>()
    };
    assert!(refusals().await.is_empty());
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/admin/orders/{id}", s.url))
        .header("cookie", format!("sd_session={outsider}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mallory_id = s.store.applicant_for_mobile("13900139000").await.unwrap();
    let detail = format!(r#"{{"order_id":"{id}"}}"#);
    assert_eq!(
        refusals().await,
        vec![
            ("operator:outsider".to_owned(), detail.clone()),
            ("operator:outsider".to_owned(), detail.clone()),
            (format!("applicant:{mallory_id}"), detail),
        ]
    );
    // The owner is not refused.
    let r = http
        .get(format!("{}/api/v1/orders/{id}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(refusals().await.len(), 3);
}

/// 补办 revokes the seals it replaces: the status API and the public page say 已注销 with time and reason, the
/// maker-signed list names them, and `sealdesk seal verify --revoked` fails the old seal and passes the new.
#[tokio::test]
async fn a_reissue_revokes_the_seals_it_replaces() {
    let s = common::start().await;
    let http = common::http();
    common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let first = common::paid_order(&s, &who, "new", None).await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, first, &mut key).await;
    let old = s.app.seals(&who, first).await.unwrap();
    assert_eq!(old.len(), 2);
    let status = |es_id: String| {
        let http = http.clone();
        let url = s.url.clone();
        async move {
            let r = http
                .get(format!("{url}/api/v1/seals/{es_id}/status"))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, v) = status(old[0].es_id.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["status"].as_str(), v["status_label"].as_str()),
        (Some("valid"), Some("有效"))
    );
    assert!(v["revoked_at"].is_null());
    let (st, v) = status("SD-NEVER-MADE".into()).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    // The key is lost: 补办 with a new key of the same holder.
    let ca = sealdesk_adapters::keys::demo_ca(s.tmp.path()).unwrap();
    let mut new_key = sealdesk_adapters::token::SoftToken::init_with_id(
        &s.tmp.path().join("ukey-2"),
        "12345678",
        &ca,
        "enterprise",
        "北筑设计研究院有限公司",
        Some("91110108551385082Q"),
    )
    .unwrap();
    let second = common::paid_order(&s, &who, "reissue", Some(first)).await;
    common::authorize_and_write(&s, &who, second, &mut new_key).await;
    let new = s.app.seals(&who, second).await.unwrap();
    for m in &old {
        let (st, v) = status(m.es_id.clone()).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["status"], "revoked", "{v}");
        assert_eq!(v["status_label"], "已注销");
        assert_eq!(v["revoke_reason"], "补办");
        assert!(v["revoked_at"].as_str().unwrap().ends_with('Z'), "{v}");
    }
    for m in &new {
        assert_eq!(status(m.es_id.clone()).await.1["status"], "valid");
    }
    let revoked_audit = s
        .app
        .order_audit(&who, second)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "seal_revoked")
        .count();
    assert_eq!(revoked_audit, 2, "one audit entry per revoked seal");

    // The public page.
    let page = http
        .get(format!("{}/seals/status?es_id={}", s.url, old[0].es_id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已注销") && page.contains("补办"), "{page}");
    let page = http
        .get(format!("{}/seals/status?es_id=%3Cscript%3E", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("本平台没有制作过印章编码为 &#60;script&#62; 的印章")
            && !page.contains("<script>"),
        "{page}"
    );

    // The maker-signed list, checked as `sealdesk seal verify --revoked FILE --trust CA` checks it.
    let r = http
        .get(format!("{}/api/v1/seals/revoked", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("revoked-seals.json")
    );
    let list = r.bytes().await.unwrap();
    let maker = sealdesk_pki::Cert::from_pem(&s.app.maker_certificate_pem()).unwrap();
    let opened = sealdesk_ses::open_revocation_list(&list, maker.der()).unwrap();
    let mut listed: Vec<&str> = opened.revoked.iter().map(|r| r.es_id.as_str()).collect();
    listed.sort();
    let mut want: Vec<&str> = old.iter().map(|m| m.es_id.as_str()).collect();
    want.sort();
    assert_eq!(listed, want);
    let dir = s.tmp.path();
    std::fs::write(dir.join("revoked.json"), &list).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert.to_pem()).unwrap();
    let verify = |seal: &[u8]| {
        std::fs::write(dir.join("seal.esl"), seal).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = sealdesk_ses_cli::run_with(
            sealdesk_ses_cli::SealCommand::Verify {
                file: dir.join("seal.esl"),
                trust: vec![dir.join("ca.pem")],
                no_chain: false,
                at: None,
                revoked: Some(dir.join("revoked.json")),
                json: false,
            },
            &mut sealdesk_ses_cli::Io {
                out: &mut out,
                err: &mut err,
            },
        );
        (code, String::from_utf8_lossy(&out).into_owned())
    };
    let (code, report) = verify(&old[0].der);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("seal.revocation"), "{report}");
    let (code, report) = verify(&new[0].der);
    assert_eq!(code, 0, "{report}");
}

/// 证书登录 refuses what is not a live answer of a bound holder's trusted key, each with its reason: a holder
/// never bound at 授权, a used challenge, a key from another CA, and garbage posted to the page.
#[tokio::test]
async fn ukey_sign_in_needs_a_trusted_bound_key_and_a_fresh_challenge() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let s = common::start().await;
    let http = common::http();
    let answer = |token: &mut sealdesk_adapters::token::SoftToken, ch: &Value| {
        let sig = token
            .sign_challenge("12345678", ch["challenge"].as_str().unwrap().as_bytes())
            .unwrap();
        json!({"cert_der_b64": b64(token.cert().der()), "nonce": ch["nonce"], "signature": b64(&sig)})
    };
    let challenge = || async {
        http.post(format!("{}/api/v1/auth/ukey/challenge", s.url))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let url = s.url.clone();
    let sign_in = |body: Value| {
        let url = url.clone();
        async move {
            let r = common::http()
                .post(format!("{url}/api/v1/auth/ukey"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    let ch = challenge().await;
    assert!(
        ch["challenge"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b)),
        "the agent signs printable ASCII only: {ch}"
    );
    let body = answer(&mut key, &ch);
    let (st, e) = sign_in(body.clone()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("尚未在本平台办理过电子印章"),
        "{e}"
    );
    let (st, e) = sign_in(body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        e["message"].as_str().unwrap().contains("登录挑战已失效"),
        "{e}"
    );

    let other_ca = sealdesk_adapters::keys::demo_ca(&s.tmp.path().join("other")).unwrap();
    let mut stranger = sealdesk_adapters::token::SoftToken::init_with_id(
        &s.tmp.path().join("ukey-other"),
        "12345678",
        &other_ca,
        "enterprise",
        "北筑设计研究院有限公司",
        Some("91110108551385082Q"),
    )
    .unwrap();
    let ch = challenge().await;
    let (st, e) = sign_in(answer(&mut stranger, &ch)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("不是受信任的 CA 签发的"),
        "{e}"
    );

    let page = http
        .post(format!("{}/login/ukey", s.url))
        .form(&[("cert_der_b64", "***"), ("nonce", "x"), ("signature", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.headers().get("set-cookie").is_none());
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("证书内容不是有效的 base64")
    );
}

/// 变更 replaces the earlier order's seals on the same key: they are 已注销 for 变更, the new ones 有效.
#[tokio::test]
async fn a_change_revokes_the_earlier_orders_seals() {
    let s = common::start().await;
    let http = common::http();
    common::applicant(&http, &s.url, "13800138000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    let first = common::paid_order(&s, &who, "new", None).await;
    common::authorize_and_write(&s, &who, first, &mut key).await;
    let second = common::paid_order(&s, &who, "change", Some(first)).await;
    common::authorize_and_write(&s, &who, second, &mut key).await;
    for m in s.app.seals(&who, first).await.unwrap() {
        let v = s.app.seal_status(&m.es_id).await.unwrap();
        assert_eq!(v.status.label(), "已注销");
        assert_eq!(v.revoke_reason.as_deref(), Some("变更"));
    }
    for m in s.app.seals(&who, second).await.unwrap() {
        assert_eq!(
            s.app.seal_status(&m.es_id).await.unwrap().status.label(),
            "有效"
        );
    }
}

/// `--agent-url` takes an origin only: nothing a CSP or an attribute could read as more.
#[test]
fn the_agent_url_is_an_origin() {
    assert_eq!(
        sealdesk_web::agent_origin("http://127.0.0.1:17820/").unwrap(),
        "http://127.0.0.1:17820"
    );
    assert_eq!(
        sealdesk_web::agent_origin("https://[::1]:9000").unwrap(),
        "https://[::1]:9000"
    );
    for bad in [
        "127.0.0.1:17820",
        "http://127.0.0.1:17820/v1",
        "http://a; script-src *",
        "http://a\"b",
        "http://",
    ] {
        assert!(sealdesk_web::agent_origin(bad).is_err(), "{bad}");
    }
}

/// 短信发送记录: operators see each message's delivery state with the number masked; visitors do not.
#[tokio::test]
async fn operators_see_sms_delivery_status() {
    let s = common::start().await;
    let http = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/api/v1/auth/sms-code", s.url))
        .json(&json!({"mobile": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = http
        .get(format!("{}/admin/sms", s.url))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::OK, "not for visitors");
    let r = http
        .post(format!("{}/admin/login", s.url))
        .form(&[("name", "admin"), ("password", "sealdesk-demo")])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie.split(';').next().unwrap().to_owned();
    let r = http
        .get(format!("{}/admin/sms", s.url))
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    for want in [
        "<h1>短信发送记录</h1>",
        "138****8000",
        "login_code",
        "<td class=\"sms-status\">待发送</td>",
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    assert!(!page.contains("13800138000"), "the number is masked");
}

/// 下载证书助手: the home page links the agent's program when the platform provides one (`--agent-download`), and
/// the download gives it whole as an attachment; without one there is no link and the address is not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_offers_the_agent_when_the_platform_provides_it() {
    let s = common::start().await;
    let http = common::http();
    let home = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(!home(s.url.clone()).await.contains(r#"id="agent-download""#));
    let r = http
        .get(format!("{}/downloads/sealdesk-agent", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The same platform started with the program to offer: larger than one read, so it comes in pieces.
    let program: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = s.tmp.path().join("sealdesk-agent");
    std::fs::write(&file, &program).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sealdesk_web::serve_with(
        listener,
        s.app.clone(),
        sealdesk_web::WebConfig {
            agent_download: Some(file),
            ..Default::default()
        },
        std::future::pending(),
    ));
    assert!(
        home(url.clone()).await.contains(
            r#"<a id="agent-download" href="/downloads/sealdesk-agent">下载证书助手</a>"#
        )
    );
    let r = http
        .get(format!("{url}/downloads/sealdesk-agent"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"sealdesk-agent\""
    );
    assert_eq!(r.headers()["content-length"], "300000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), program.as_slice());
}

/// 电子发票 as a PDF: once the order is complete its applicant downloads it from the invoice page; it is a real PDF
/// whose text (read back with poppler's `pdftotext`) carries the buyer, the 技术服务费 line, the tax and the total in
/// 大写; nobody else gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_completed_orders_invoice_downloads_as_a_pdf() {
    let s = common::start().await;
    let http = common::http();
    let (token, _) = common::applicant(&http, &s.url, "13800138000").await;
    let (mallory, _) = common::applicant(&http, &s.url, "13900139000").await;
    let who = common::applicant_who(&s, "13800138000").await;
    let id = common::paid_order(&s, &who, "new", None).await;
    let url = format!("{}/orders/{id}/invoice.pdf", s.url);
    let r = http
        .get(&url)
        .header("cookie", format!("sd_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no invoice before completion"
    );
    let mut key = sealdesk_adapters::token::SoftToken::open(&s.token_dir).unwrap();
    common::authorize_and_write(&s, &who, id, &mut key).await;
    let order = s.store.order(id).await.unwrap();
    assert_eq!(order.state, sealdesk_domain::OrderState::Completed);

    let page = common::get_text(
        &http,
        &format!("{}/orders/{id}/invoice", s.url),
        &format!("sd_session={token}"),
    )
    .await;
    assert!(
        page.contains(&format!(
            r#"<a class="button" id="invoice-pdf" href="/orders/{id}/invoice.pdf">"#
        )),
        "{page}"
    );
    let r = http
        .get(&url)
        .header("cookie", format!("sd_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let file = s.tmp.path().join("invoice.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/test.sh)");
    let text = String::from_utf8(out.stdout).unwrap();
    let total = order.total;
    for want in [
        "电子发票（普通发票）".to_owned(),
        "*信息技术服务*技术服务费".to_owned(),
        "北筑设计研究院有限公司".to_owned(),
        "价税合计（大写）".to_owned(),
        total.capitals(),
        format!("￥{}", total.yuan_string()),
        "6%".to_owned(),
        format!("订单编号 {}", order.order_no),
    ] {
        assert!(text.contains(&want), "{want} missing from:\n{text}");
    }
    let r = http
        .get(&url)
        .header("cookie", format!("sd_session={mallory}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
