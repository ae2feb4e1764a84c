//! Several instances on one PostgreSQL database: two `sealdesk serve` processes share a fresh database and the
//! data directory (blobs, demo keys) and send SMS through the `http` provider to a fake gateway here that counts
//! every message by its outbox id. Orders are driven with requests alternating between the two (sign in on one,
//! act on the other with the same session cookie and CSRF token; create and submit on one, upload and review on
//! the other, pay on either); then every message of the outbox must have reached the gateway exactly once, and a
//! limit or lock-out reached through one instance must hold on the other. One instance runs no 审核预检 workers;
//! the other runs the checks of what was submitted on both.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Server, order_body, start_with_env};
use serde_json::{Value, json};

const SMS_SECRET: &str = "instances-test-secret";
const ORDERS: usize = 20;
const APPLICANTS: usize = 4;

/// What the fake SMS gateway received: every accepted message's body, by our outbox id (`out_id`).
#[derive(Default)]
struct Gateway {
    by_out_id: Mutex<HashMap<String, Vec<Value>>>,
}

async fn receive(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let ts: i64 = h("x-sealdesk-timestamp").parse().unwrap_or(0);
    let want =
        sealdesk_payments::sms::http_signature(SMS_SECRET, ts, &h("x-sealdesk-nonce"), &body);
    if h("x-sealdesk-signature") != want {
        return (StatusCode::UNAUTHORIZED, "{}".into());
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    let out_id = v["out_id"].as_str().unwrap().to_owned();
    let mut m = g.by_out_id.lock().unwrap();
    let n = m.values().map(Vec::len).sum::<usize>();
    m.entry(out_id).or_default().push(v);
    (
        StatusCode::OK,
        json!({ "id": format!("fake-{n}") }).to_string(),
    )
}

/// A session (token and CSRF token) used as a browser would: the cookie, and the CSRF header on writes.
#[derive(Clone)]
struct Session {
    token: String,
    csrf: String,
}

impl Session {
    fn of(v: &Value) -> Session {
        Session {
            token: v["token"].as_str().unwrap().to_owned(),
            csrf: v["csrf"].as_str().unwrap().to_owned(),
        }
    }

    fn cookie(&self) -> String {
        format!("sd_session={}", self.token)
    }
}

/// One API call; (status, JSON body).
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(method, format!("{base}/api/v1{path}"));
    if let Some(s) = s {
        r = r
            .header("cookie", s.cookie())
            .header("x-csrf-token", &s.csrf);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn ok(
    http: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<Value>,
) -> Value {
    let (status, v) = call(http, method, base, path, s, body).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

/// `body` asking for the two seals the stored scan `form-1.jpg` carries (a 公章 and a 资质专用章), so that its
/// impression form (a scan without the order's QR code) has one impression per seal.
fn two_seals(mut body: Value) -> Value {
    body["seals"] =
        json!([{"kind": "official_seal", "count": 1}, {"kind": "qualification_seal", "count": 1}]);
    body
}

/// As [`ok`], for a call that makes something (an order, a payment): 201.
async fn created(
    http: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    s: Option<&Session>,
    body: Option<Value>,
) -> Value {
    let (status, v) = call(http, method, base, path, s, body).await;
    assert_eq!(status, 201, "{path}: {v}");
    v
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    s: &Session,
    id: &str,
    kind: &str,
    bytes: &[u8],
) {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(format!("{kind}.jpg"))
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let resp = http
        .post(format!("{base}/api/v1/orders/{id}/uploads"))
        .header("cookie", s.cookie())
        .header("x-csrf-token", &s.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(status, 201, "upload {kind}: {}", resp.text().await.unwrap());
}

/// Waits until the gateway has a sign-in code for `mobile` beyond the first `seen` ones, and returns it.
async fn code_for(g: &Gateway, mobile: &str, seen: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let codes: Vec<String> = {
            let m = g.by_out_id.lock().unwrap();
            let mut all: Vec<(i64, String)> = m
                .iter()
                .flat_map(|(id, v)| {
                    v.iter()
                        .map(move |b| (id.parse::<i64>().unwrap(), b.clone()))
                })
                .filter(|(_, b)| b["mobile"] == mobile && b["template"] == "login_code")
                .map(|(id, b)| (id, b["text"].as_str().unwrap().to_owned()))
                .collect();
            all.sort();
            all.into_iter().map(|(_, t)| t).collect()
        };
        if codes.len() > seen {
            return codes[seen]
                .split("验证码为")
                .nth(1)
                .unwrap()
                .chars()
                .filter(char::is_ascii_digit)
                .take(6)
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no sign-in code reached the gateway for {mobile}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn two_instances_share_sessions_limits_and_send_each_sms_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    sealdesk_adapters::install_tls_provider();
    let (db_url, drop_db) = rt.block_on(sealdesk_store::testing::fresh_postgres_url("instances"));
    let gateway = Arc::new(Gateway::default());
    let sms_url = rt.block_on(sealdesk_payments::testkit::serve(
        axum::Router::new()
            .route("/sms", post(receive))
            .with_state(gateway.clone()),
    ));
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("SEALDESK_SMS_HTTP_URL", format!("{sms_url}/sms")),
        ("SEALDESK_SMS_HTTP_SECRET", SMS_SECRET.to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = ["--demo", "--sms", "http", "--database-url", &db_url];
    // A first, so that the demo keys and the demo set-up exist once; then B on the same database and directory.
    // Neither is given --instance: each leases its own order-id instance number from the database. A runs no
    // 审核预检 workers: the checks of what is submitted there are B's to run (OCR off the serving instance).
    let args_a: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--precheck-workers", "0"])
        .collect();
    let (a, base_a) = start_with_env(data.path(), &args_a, &env);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http
            .get(format!("{base_a}/healthz"))
            .send()
            .await
            .ok()
            .map(|r| r.status())
            != Some(reqwest::StatusCode::OK)
        {
            assert!(Instant::now() < deadline, "instance A not healthy");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The demo set-up (operator, project) is written by A before it serves.
        ok(
            &http,
            reqwest::Method::POST,
            &base_a,
            "/auth/operator",
            None,
            Some(json!({"name": "admin", "password": "sealdesk-demo"})),
        )
        .await;
    });
    let (b, base_b) = start_with_env(data.path(), &args, &env);
    let bases = [base_a.clone(), base_b.clone()];
    let scan = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../artwork/tests/forms/form-1.jpg"
    ))
    .unwrap();

    rt.block_on(async {
        use reqwest::Method;
        // Sign in on A (the code goes out through whichever instance's sender claims it), act on B.
        let mut applicants = Vec::new();
        for j in 0..APPLICANTS {
            let mobile = format!("1370000{:04}", 2000 + j);
            let sign_in_at = &bases[j % 2];
            ok(&http, Method::POST, sign_in_at, "/auth/sms-code", None, Some(json!({"mobile": mobile}))).await;
            let code = code_for(&gateway, &mobile, 0).await;
            let s = ok(&http, Method::POST, sign_in_at, "/auth/applicant", None, Some(json!({"mobile": mobile, "code": code}))).await;
            applicants.push((mobile, Session::of(&s)));
        }
        // The operator signs in on B and reviews there and on A.
        let op = Session::of(&ok(&http, Method::POST, &base_b, "/auth/operator", None, Some(json!({"name": "admin", "password": "sealdesk-demo"}))).await);

        let mut ids = Vec::new();
        for n in 0..ORDERS {
            let (mobile, s) = &applicants[n % APPLICANTS];
            let (x, y) = (&bases[n % 2], &bases[(n + 1) % 2]);
            let o = created(&http, Method::POST, x, "/orders", Some(s), Some(two_seals(order_body(mobile, n)))).await;
            let id = o["id"].as_str().unwrap().to_owned();
            for kind in ["id_front", "id_back", "licence", "impression_form"] {
                upload(&http, y, s, &id, kind, &scan).await;
            }
            // The stored scan has no QR code: its impressions are confirmed in page order (印模确认).
            ok(&http, Method::POST, x, &format!("/orders/{id}/cutouts/confirm"), Some(s), Some(json!({"seal_of": [0, 1]}))).await;
            let o = ok(&http, Method::POST, x, &format!("/orders/{id}/submit"), Some(s), Some(json!({}))).await;
            assert_eq!(o["state"], "pending_review");
            let o = ok(&http, Method::POST, y, &format!("/orders/{id}/approve"), Some(&op), Some(json!({}))).await;
            assert_eq!(o["state"], "pending_payment");
            ok(&http, Method::POST, x, &format!("/orders/{id}/invoice"), Some(s), Some(json!({"kind": "enterprise", "title": "北筑设计研究院有限公司", "taxpayer_id": "91110108551385082Q", "mobile": mobile, "email": ""}))).await;
            let pay = created(&http, Method::POST, y, &format!("/orders/{id}/payments"), Some(s), Some(json!({"channel": "sandbox"}))).await;
            let pid = pay["payment_id"].as_str().unwrap();
            let o = ok(&http, Method::POST, x, &format!("/sandbox/payments/{pid}/pay"), Some(s), Some(json!({}))).await;
            assert_eq!(o["state"], "paid");
            // Read back through the other instance with the same cookie.
            let o = ok(&http, Method::GET, y, &format!("/orders/{id}"), Some(s), None).await;
            assert_eq!(o["state"], "paid");
            ids.push(id);
        }
        // Ids minted by both instances, all distinct (each leased its own instance number).
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ORDERS);

        // The session's CSRF token lives with the session: a cookie write on B without it is refused there.
        let (mobile, s) = &applicants[0];
        let no_csrf = Session { token: s.token.clone(), csrf: String::new() };
        let (status, v) = call(&http, Method::POST, &base_b, "/orders", Some(&no_csrf), Some(order_body(mobile, 99))).await;
        assert_eq!((status, v["message"].as_str()), (403, Some("缺少或错误的 CSRF 令牌")));

        // The one-code-a-minute limit reached through A holds on B.
        let mobile = "13700009999";
        ok(&http, Method::POST, &base_a, "/auth/sms-code", None, Some(json!({"mobile": mobile}))).await;
        let (status, v) = call(&http, Method::POST, &base_b, "/auth/sms-code", None, Some(json!({"mobile": mobile}))).await;
        let m = v["message"].as_str().unwrap_or_default();
        assert_eq!(status, 429, "{v}");
        assert!(m.starts_with("验证码已发送，请 ") && m.ends_with(" 秒后再试"), "{m}");

        // The operator lock-out reached through A (5 wrong passwords) holds on B, even for the right password.
        for _ in 0..5 {
            let (status, v) = call(&http, Method::POST, &base_a, "/auth/operator", None, Some(json!({"name": "admin", "password": "wrong"}))).await;
            assert_eq!((status, v["message"].as_str()), (401, Some("用户名或密码不正确")));
        }
        let (status, v) = call(&http, Method::POST, &base_b, "/auth/operator", None, Some(json!({"name": "admin", "password": "sealdesk-demo"}))).await;
        assert_eq!((status, v["message"].as_str()), (429, Some("密码错误次数过多，请 15 分钟后再试")));

        // The first order was submitted on A, the second on B; B's workers run the checks of both.
        let read = |f: &str| std::fs::read_to_string(data.path().join(f)).unwrap();
        let store = sealdesk_store::Store::connect(&db_url, 1023)
            .await
            .unwrap()
            .with_data_keys(sealdesk_store::PiiKeys::new(
                sealdesk_store::DataKeys::parse(read("pki/data-keys").trim()).unwrap(),
                sealdesk_store::IndexKey::from_hex(read("pki/index-key").trim()).unwrap(),
            ));
        let deadline = Instant::now() + Duration::from_secs(120);
        for id in &ids[..2] {
            let id: i64 = id.parse().unwrap();
            while store.prechecks(id).await.unwrap().and_then(|p| p.results).is_none() {
                assert!(Instant::now() < deadline, "the checks of order {id} were never run");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }

        // Every message of the outbox reaches the gateway exactly once: wait until the outbox is drained.
        // With the instances' personal-data keys (their data directory's), since the outbox is sealed with them.
        let deadline = Instant::now() + Duration::from_secs(90);
        let outbox = loop {
            let rows = store.sms_deliveries(10_000).await.unwrap();
            if rows.iter().all(|r| r.status != sealdesk_store::SmsStatus::Pending) {
                break rows;
            }
            assert!(Instant::now() < deadline, "the outbox was not drained");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        // Give a duplicate time to show up, if one were on its way.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = gateway.by_out_id.lock().unwrap();
        // Sign-in codes (4 + 1), and for each order at least the messages of its review and payment.
        assert!(outbox.len() >= APPLICANTS + 1 + ORDERS, "only {} messages", outbox.len());
        for r in &outbox {
            assert_eq!(r.status, sealdesk_store::SmsStatus::Sent, "message {} ({}): {:?}", r.id, r.template, r.last_error);
            let sent = got.get(&r.id.to_string()).map_or(0, Vec::len);
            assert_eq!(sent, 1, "message {} ({}) reached the gateway {sent} times", r.id, r.template);
            assert_eq!(got[&r.id.to_string()][0]["text"], r.text.as_str());
        }
        assert_eq!(got.len(), outbox.len(), "the gateway got messages the outbox does not have");
        store.close().await;
    });
    drop::<Server>(a);
    drop::<Server>(b);
    rt.block_on(drop_db);
}
