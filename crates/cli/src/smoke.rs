//! `sealdesk smoke`: one whole 新办 through the public JSON API, as a client would drive it, ending with the
//! seals on the soft token. Operators run it after a deployment; CI runs it against both databases.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use reqwest::{Client, Method, Response};
use sealdesk_adapters::token::SoftToken;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct SmokeArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    server: String,
    /// The soft token directory to write the seals to.
    #[arg(long)]
    token: PathBuf,
    /// The token's PIN.
    #[arg(long)]
    pin: String,
    /// An operator who may approve orders of the project, as NAME:PASSWORD.
    #[arg(long)]
    operator: String,
    /// Where to copy the seals written onto the token.
    #[arg(long)]
    out: PathBuf,
    /// The project code to order for (default: the first the applicant may use).
    #[arg(long)]
    project: Option<String>,
    /// The applicant's mobile number (default: a fresh test number). Its SMS code is read from the demo outbox.
    #[arg(long)]
    mobile: Option<String>,
    /// A scan of a stamped 印模采集表 with two seals (JPG, PNG or PDF), uploaded as every document of the order,
    /// e.g. crates/artwork/tests/forms/form-1.jpg.
    #[arg(long)]
    form: PathBuf,
}

struct Api {
    http: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        json_of(resp, &format!("{method} {path}")).await
    }
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }
    fn as_(&self, token: &str) -> Api {
        Api {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.to_owned()),
        }
    }
}

async fn json_of(resp: Response, what: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{what}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

fn s<'a>(v: &'a Value, k: &str) -> anyhow::Result<&'a str> {
    v[k].as_str()
        .ok_or_else(|| anyhow!("response has no {k}: {v}"))
}

pub async fn run(a: SmokeArgs) -> anyhow::Result<ExitCode> {
    let base = a.server.trim_end_matches('/').to_owned();
    let form = std::fs::read(&a.form)
        .with_context(|| format!("reading the stamped form {}", a.form.display()))?;
    let form_name = a
        .form
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "form.jpg".into());
    let http = Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let anon = Api {
        http: http.clone(),
        base: base.clone(),
        token: None,
    };
    let step = |n: &str| println!("✓ {n}");

    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .context("server unreachable")?;
    ensure!(
        health.status().is_success(),
        "GET /healthz: {}",
        health.status()
    );
    step("server healthy");

    let mut token = SoftToken::open(&a.token)
        .with_context(|| format!("open the soft token {}", a.token.display()))?;
    let cert_pem = token.cert().to_pem();
    let holder_name = token
        .cert()
        .common_name()
        .unwrap_or_else(|| "演示企业有限公司".into());
    token.unlock(&a.pin).context("the token refused the PIN")?;
    step(&format!("token {} unlocked", token.serial()));

    // 申请人登录
    let mobile = a.mobile.clone().unwrap_or_else(|| {
        // A fresh number per run: the clock's milliseconds are as good as any.
        let n = sealdesk_domain::Clock::now_ms(&sealdesk_domain::SystemClock);
        format!("139{:08}", n.rem_euclid(100_000_000))
    });
    anon.post("/auth/sms-code", json!({"mobile": mobile}))
        .await?;
    let outbox = anon
        .get(&format!("/demo/outbox?mobile={mobile}"))
        .await
        .context("reading the SMS code needs a server in demo mode (--demo)")?;
    let text = outbox[0]["text"]
        .as_str()
        .ok_or_else(|| anyhow!("no SMS for {mobile} in the outbox"))?;
    let code: String = text
        .split("验证码为")
        .nth(1)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    ensure!(code.len() == 6, "no code in the SMS: {text}");
    let signed = anon
        .post("/auth/applicant", json!({"mobile": mobile, "code": code}))
        .await?;
    let me = anon.as_(s(&signed, "token")?);
    step(&format!("applicant {mobile} signed in with the SMS code"));

    // 申请
    let projects = me.get("/projects").await?;
    let project = match &a.project {
        Some(p) => p.clone(),
        None => projects[0]["code"]
            .as_str()
            .ok_or_else(|| anyhow!("the server has no project"))?
            .to_owned(),
    };
    let order = me
        .post(
            "/orders",
            json!({
                "project": project,
                "service": "new",
                "holder": {
                    "kind": "enterprise",
                    "applicant_name": "李四",
                    "id_number": "11010519491231002X",
                    "mobile": mobile,
                    "enterprise_name": holder_name,
                    "enterprise_phone": "0791-82221588",
                    "credit_code": "91110108551385082Q",
                    "address": "北京市西城区南礼士路62号"
                },
                "seals": [{"kind": "official_seal", "count": 1}, {"kind": "qualification_seal", "count": 1, "name": format!("{holder_name}资质专用章")}],
                "months": 12
            }),
        )
        .await?;
    let id = s(&order, "id")?.to_owned();
    ensure!(
        order["total_fen"] == 16_000,
        "expected 160.00 元 for 2 seals × 1 year, got {}",
        order["total_fen"]
    );
    step(&format!(
        "order {} created, 160.00 元",
        s(&order, "order_no")?
    ));

    for kind in ["id_front", "id_back", "licence", "impression_form"] {
        let part = reqwest::multipart::Part::bytes(form.clone()).file_name(form_name.clone());
        let mp = reqwest::multipart::Form::new()
            .text("kind", kind)
            .part("file", part);
        let resp = http
            .post(format!("{base}/api/v1/orders/{id}/uploads"))
            .bearer_auth(me.token.as_deref().unwrap_or(""))
            .multipart(mp)
            .send()
            .await?;
        let up = json_of(resp, &format!("upload {kind}")).await?;
        if kind == "impression_form" {
            ensure!(
                up["impressions"].as_u64().unwrap_or(0) > 0,
                "the server found no impression on the form: {up}"
            );
        }
    }
    step("scans and the stamped 印模采集表 uploaded");
    let o = me.post(&format!("/orders/{id}/submit"), json!({})).await?;
    ensure!(
        o["state"] == "pending_review",
        "after submit: {}",
        o["state"]
    );
    step("submitted for review");

    // 审核
    let (name, password) = a
        .operator
        .split_once(':')
        .ok_or_else(|| anyhow!("--operator must be NAME:PASSWORD"))?;
    let op_session = anon
        .post(
            "/auth/operator",
            json!({"name": name, "password": password}),
        )
        .await?;
    let op = anon.as_(s(&op_session, "token")?);
    let o = op.post(&format!("/orders/{id}/approve"), json!({})).await?;
    ensure!(
        o["state"] == "pending_payment",
        "after approve: {}",
        o["state"]
    );
    step(&format!("approved by operator {name}"));

    // 支付
    me.post(&format!("/orders/{id}/invoice"), json!({"kind": "enterprise", "title": holder_name, "taxpayer_id": "91110108551385082Q", "mobile": mobile, "email": ""})).await?;
    let pay = me
        .post(
            &format!("/orders/{id}/payments"),
            json!({"channel": "sandbox"}),
        )
        .await?;
    let o = me
        .post(
            &format!("/sandbox/payments/{}/pay", s(&pay, "payment_id")?),
            json!({}),
        )
        .await?;
    ensure!(o["state"] == "paid", "after payment: {}", o["state"]);
    step("paid at the sandbox cashier (signed notification verified)");

    // 授权 + 制章: the key signs the server's fresh challenge; the key serial comes from its certificate.
    let ch = me
        .post(&format!("/orders/{id}/authorize/challenge"), json!({}))
        .await?;
    let sig = token
        .sign_challenge(&a.pin, s(&ch, "challenge")?.as_bytes())
        .context("the token refused to sign the challenge")?;
    let o = me
        .post(
            &format!("/orders/{id}/authorize"),
            json!({"cert_pem": cert_pem, "nonce": s(&ch, "nonce")?, "signature": base64::engine::general_purpose::STANDARD.encode(sig)}),
        )
        .await?;
    ensure!(o["state"] == "made", "after authorize: {}", o["state"]);
    step("authorised for the project; seals made");

    // 写入
    let seals = me.get(&format!("/orders/{id}/seals")).await?;
    let seals = seals.as_array().ok_or_else(|| anyhow!("seals: {seals}"))?;
    ensure!(seals.len() == 2, "expected 2 seals, got {}", seals.len());
    let mut receipts = Vec::new();
    for seal in seals {
        let der = base64::engine::general_purpose::STANDARD.decode(s(seal, "der_b64")?)?;
        let es_id = s(seal, "es_id")?;
        let sig = token.write_seal(&a.pin, es_id, &der)?;
        receipts.push(json!({"es_id": es_id, "signature": base64::engine::general_purpose::STANDARD.encode(sig)}));
    }
    let o = me
        .post(
            &format!("/orders/{id}/written"),
            json!({"receipts": receipts}),
        )
        .await?;
    ensure!(o["state"] == "completed", "after writing: {}", o["state"]);
    step("seals written onto the token; order completed and invoiced");

    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    let on_token = SoftToken::open(&a.token)?.seals()?;
    let mut copied = 0;
    for seal in seals {
        let file = format!("{}.esl", s(seal, "es_id")?);
        let (_, der) = on_token
            .iter()
            .find(|(n, _)| *n == file)
            .ok_or_else(|| anyhow!("{file} is not on the token"))?;
        std::fs::write(a.out.join(&file), der)?;
        copied += 1;
    }
    std::fs::write(
        a.out.join("maker.pem"),
        http.get(format!("{base}/api/v1/maker-certificate"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    step(&format!("{copied} seals copied to {}", a.out.display()));
    println!("smoke test passed: order {}", s(&o, "order_no")?);
    Ok(ExitCode::SUCCESS)
}
