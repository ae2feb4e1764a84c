//! What the binary's integration tests share: starting `sealdesk serve` on a free port and running commands.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_sealdesk");

/// A running server, killed (SIGKILL) on drop.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn start(dir: &Path, extra: &[&str]) -> (Server, String) {
    start_with_env(dir, extra, &[])
}

/// Starts `serve` on a free port with the data directory `dir`, waits until it accepts connections.
pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Server, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let child = Command::new(BIN)
        .args(&args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, url)
}

pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

pub async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value, String> {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

pub async fn get(http: &reqwest::Client, url: String, token: &str) -> reqwest::Response {
    http.get(url).bearer_auth(token).send().await.unwrap()
}

pub async fn sign_in(http: &reqwest::Client, base: &str, mobile: &str) -> String {
    post(
        http,
        format!("{base}/api/v1/auth/sms-code"),
        None,
        json!({"mobile": mobile}),
    )
    .await
    .unwrap();
    let outbox: Value = http
        .get(format!("{base}/api/v1/demo/outbox?mobile={mobile}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = outbox[0]["text"].as_str().unwrap();
    let code: String = text
        .split("验证码为")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let s = post(
        http,
        format!("{base}/api/v1/auth/applicant"),
        None,
        json!({"mobile": mobile, "code": code}),
    )
    .await
    .unwrap();
    s["token"].as_str().unwrap().to_owned()
}

pub fn order_body(mobile: &str, n: usize) -> Value {
    json!({
        "project": "testCSQY",
        "service": "new",
        "holder": {
            "kind": "enterprise",
            "applicant_name": "李四",
            "id_number": "11010519491231002X",
            "mobile": mobile,
            "enterprise_name": format!("北筑设计研究院第{n}分公司"),
            "enterprise_phone": "0791-82221588",
            "credit_code": "91110108551385082Q",
            "address": "北京市西城区南礼士路62号"
        },
        "seals": [{"kind": "official_seal", "count": 1}],
        "months": 12
    })
}

/// Uploads `bytes` as the order's document `kind` (a JPEG); the reply's JSON on success.
pub async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    order_id: &str,
    kind: &str,
    bytes: Vec<u8>,
) -> Result<Value, String> {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(format!("{kind}.jpg"))
        .mime_str("image/jpeg")
        .map_err(|e| e.to_string())?;
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part("file", part);
    let resp = http
        .post(format!("{base}/api/v1/orders/{order_id}/uploads"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
