//! The agent's HTTP API as a browser page meets it, over the soft token: origins, private-network preflight,
//! Host checks, pairing, the PIN counter, writes and signed read-back; and the binary's own flags.

mod common;

use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use sealdesk_adapters::token::SoftToken;
use sealdesk_agent::Agent;
use sealdesk_agent::server::{self, Config};
use sealdesk_agent::soft::SoftBackend;
use serde_json::{Value, json};

const PORTAL: &str = "https://seal.example.cn";
const OTHER_PORTAL: &str = "http://127.0.0.1:8080";
const EVIL: &str = "https://evil.example.com";

struct Running {
    base: String,
    platform: Platform,
    token_dir: std::path::PathBuf,
    serial: String,
    cert: sealdesk_pki::Cert,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let platform = Platform::new();
    let token_dir = platform.dir.path().join("ukeys");
    let t = SoftToken::init(
        &token_dir.join("a"),
        PIN,
        &platform.ca,
        "enterprise",
        "北筑设计研究院有限公司",
    )
    .unwrap();
    SoftToken::init(&token_dir.join("b"), PIN, &platform.ca, "person", "张三").unwrap();
    let agent = Arc::new(Agent::new(
        Arc::new(SoftBackend::new(&token_dir)),
        vec![platform.maker.cert.clone()],
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(
        listener,
        agent,
        Config {
            origins: vec![PORTAL.into(), OTHER_PORTAL.into()],
            port,
        },
        async {
            let _ = rx.await;
        },
    ));
    Running {
        base: format!("http://127.0.0.1:{port}"),
        serial: t.serial().to_owned(),
        cert: t.cert().clone(),
        platform,
        token_dir,
        client: http_client(),
        _stop: tx,
    }
}

impl Running {
    async fn pair(&self, origin: &str) -> String {
        let r = self
            .client
            .post(format!("{}/v1/pair", self.base))
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["session"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        origin: &str,
        session: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Origin", origin)
            .header("X-Agent-Session", session);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn only_the_platform_origins_get_through_preflight_pairing_and_the_api() {
    let a = start().await;
    // Chrome's Private Network Access preflight from the portal is answered, with CORS for that origin only.
    let r = a
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/v1/keys", a.base))
        .header("Origin", PORTAL)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "x-agent-session")
        .header("Access-Control-Request-Private-Network", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], PORTAL);
    assert_eq!(h["access-control-allow-private-network"], "true");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-agent-session")
    );
    // Any other page: refused, and no CORS header lets the browser show it anything.
    for method in [reqwest::Method::OPTIONS, reqwest::Method::GET] {
        let r = a
            .client
            .request(method, format!("{}/v1/status", a.base))
            .header("Origin", EVIL)
            .header("Access-Control-Request-Private-Network", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(
            r.headers()
                .get("access-control-allow-private-network")
                .is_none()
        );
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "origin");
    }
    let r = a
        .client
        .post(format!("{}/v1/pair", a.base))
        .header("Origin", EVIL)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // No Origin at all (not a browser page): the status answers, pairing does not.
    let r = a
        .client
        .get(format!("{}/v1/status", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["keys"], 2);
    assert_eq!(st["can_write"], true);
    let r = a
        .client
        .post(format!("{}/v1/pair", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A DNS name rebound to 127.0.0.1 does not reach it.
    let r = a
        .client
        .get(format!("{}/v1/status", a.base))
        .header("Host", "attacker.example:17820")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "host");

    // Key routes need a pairing made by the same origin.
    let (s, v) = a
        .call(reqwest::Method::GET, "/v1/keys", PORTAL, "", None)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("not_paired"))
    );
    let session = a.pair(PORTAL).await;
    let (s, v) = a
        .call(reqwest::Method::GET, "/v1/keys", PORTAL, &session, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let labels: Vec<&str> = keys
        .iter()
        .map(|k| k["holder_label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"企业锁") && labels.contains(&"个人锁"),
        "{labels:?}"
    );
    let ours = keys
        .iter()
        .find(|k| k["serial"] == a.serial.as_str())
        .unwrap();
    assert_eq!(ours["cert"]["algorithm"], "SM2");
    assert_eq!(ours["pin"]["tries_left"], 6);
    let (s, _) = a
        .call(
            reqwest::Method::GET,
            "/v1/keys",
            OTHER_PORTAL,
            &session,
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a session is bound to its origin"
    );
    let (s, _) = a
        .call(reqwest::Method::GET, "/v1/keys", PORTAL, "0123abcd", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pin_challenge_write_and_read_back_through_http() {
    let a = start().await;
    let session = a.pair(PORTAL).await;
    let key = format!("/v1/keys/{}", a.serial);
    let post = reqwest::Method::POST;

    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/pin"),
            PORTAL,
            &session,
            Some(json!({"pin": "00000000"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "wrong_pin");
    assert_eq!(v["tries_left"], 5);
    assert_eq!(v["message"], "PIN 错误，还可尝试 5 次");
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/pin"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN})),
        )
        .await;
    assert_eq!((s, v["tries_left"].as_u64()), (StatusCode::OK, Some(6)));

    let challenge = "sealdesk-signin:5b1f0c2e9a7d4e3f";
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/sign"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN, "challenge": challenge})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(a.cert.verify_signature(
        challenge.as_bytes(),
        &b64d(v["signature"].as_str().unwrap())
    ));

    use base64::Engine;
    let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let seal = a.platform.seal("SD500101", a.cert.der(), "");
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/seals"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN, "seals": [enc(&seal)]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let sig = b64d(v["receipts"][0]["signature"].as_str().unwrap());
    assert!(a.cert.verify_signature(&seal, &sig), "signed read-back");
    let (s, v) = a
        .call(
            reqwest::Method::GET,
            &format!("{key}/seals"),
            PORTAL,
            &session,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["seals"][0]["es_id"], "SD500101");
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/seals/readback"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN, "es_ids": ["SD500101"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(a.cert.verify_signature(
        &seal,
        &b64d(v["receipts"][0]["signature"].as_str().unwrap())
    ));

    // A seal for the other key is refused with the reason, and nothing changes.
    let other = SoftToken::open(&a.token_dir.join("b")).unwrap();
    let theirs = a.platform.seal("SD500102", other.cert().der(), "");
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/seals"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN, "seals": [enc(&theirs)]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["code"], "seal_rejected");
    assert_eq!(
        v["message"],
        "印章 SD500102 不能写入：印章未绑定此证书 UKey 的证书"
    );
    assert_eq!(
        SoftToken::open(&a.token_dir.join("a"))
            .unwrap()
            .seals()
            .unwrap()
            .len(),
        1
    );
    let (s, v) = a
        .call(
            post.clone(),
            &format!("{key}/seals"),
            PORTAL,
            &session,
            Some(json!({"pin": PIN, "seals": ["%%%"]})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, v) = a
        .call(
            reqwest::Method::GET,
            "/v1/keys/NOPE/seals",
            PORTAL,
            &session,
            None,
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_key"))
    );
}

#[tokio::test]
async fn the_openapi_file_describes_every_route_and_every_route_answers() {
    let a = start().await;
    let doc: Value = serde_json::from_str(server::OPENAPI).unwrap();
    let session = a.pair(PORTAL).await;
    let mut n = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{serial}", &a.serial);
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == reqwest::Method::POST)
                .then(|| json!({"pin": PIN, "challenge": "x".repeat(20)}));
            let (s, _) = a.call(m, &concrete, PORTAL, &session, body).await;
            assert!(
                s != StatusCode::NOT_FOUND && s != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {s}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 9, "documented operations");
    let r = a
        .client
        .get(format!("{}/v1/openapi.json", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), server::OPENAPI);
}

#[test]
fn the_binary_listens_on_loopback_only_for_the_given_origins() {
    let bin = env!("CARGO_BIN_EXE_sealdesk-agent");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&[
        "--listen",
        "0.0.0.0:17999",
        "--allow-origin",
        PORTAL,
        "--soft-token",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback address only"));
    let out = run(&[
        "--allow-origin",
        "https://seal.example.cn/portal",
        "--soft-token",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("不带路径"));
    let out = run(&["--allow-origin", PORTAL]);
    assert!(!out.status.success(), "a token backend is required");
    let out = run(&[
        "--allow-origin",
        PORTAL,
        "--soft-token",
        "x",
        "--pkcs11-module",
        "y",
    ]);
    assert!(!out.status.success(), "one backend at a time");
}

/// The real binary against SoftHSM2: the token is provisioned in a child process, then the agent serves it.
#[test]
fn the_binary_serves_a_softhsm_token_to_the_portal() {
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm_conf(dir.path());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "provision_for_the_binary_test",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("SEALDESK_SOFTHSM_CHILD", "1")
        .env("SEALDESK_TEST_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let serial = std::fs::read_to_string(dir.path().join("serial")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sealdesk-agent"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--allow-origin",
            PORTAL,
            "--pkcs11-module",
            module(),
            "--maker-cert",
            dir.path().join("maker.pem").to_str().unwrap(),
        ])
        .env("SOFTHSM2_CONF", &conf)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let c = http_client();
            let session: Value = c
                .post(format!("{base}/v1/pair"))
                .header("Origin", PORTAL)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let session = session["session"].as_str().unwrap();
            let keys: Value = c
                .get(format!("{base}/v1/keys"))
                .header("Origin", PORTAL)
                .header("X-Agent-Session", session)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(keys["keys"][0]["serial"], serial.as_str());
            assert_eq!(keys["keys"][0]["cert"]["algorithm"], "ECDSA P-256");
            let seal = std::fs::read(dir.path().join("seal.esl")).unwrap();
            use base64::Engine;
            let r = c
                .post(format!("{base}/v1/keys/{serial}/seals"))
                .header("Origin", PORTAL)
                .header("X-Agent-Session", session)
                .json(&json!({"pin": PIN, "seals": [base64::engine::general_purpose::STANDARD.encode(&seal)]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = r.json().await.unwrap();
            let cert = sealdesk_pki::Cert::from_der(&b64d(keys["keys"][0]["cert"]["der_base64"].as_str().unwrap())).unwrap();
            assert!(cert.verify_signature(&seal, &b64d(v["receipts"][0]["signature"].as_str().unwrap())));
        })
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// Child half of the test above: provisions a token and leaves the serial, the maker certificate and a seal
/// bound to the token's certificate in the test directory.
#[test]
#[ignore = "run by the_binary_serves_a_softhsm_token_to_the_portal in a process of its own"]
fn provision_for_the_binary_test() {
    let dir = std::path::PathBuf::from(std::env::var_os("SEALDESK_TEST_DIR").unwrap());
    let platform = Platform::new();
    let ctx = cryptoki::context::Pkcs11::new(module()).unwrap();
    ctx.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ))
    .unwrap();
    let (serial, cert) = provision(&ctx, "UKEY-BIN", &platform.ca, "C=CN,OU=个人,CN=张三");
    std::fs::write(dir.join("serial"), &serial).unwrap();
    std::fs::write(dir.join("maker.pem"), platform.maker.cert.to_pem()).unwrap();
    std::fs::write(
        dir.join("seal.esl"),
        platform.seal("SD600101", cert.der(), ""),
    )
    .unwrap();
    ctx.finalize().unwrap();
}
