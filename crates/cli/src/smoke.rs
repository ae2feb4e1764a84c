//! `sealdesk smoke`: one whole order through the public JSON API, as a client would drive it, ending with the
//! seals on the soft token. `--service new` (the default) is a 新办; `renew` (续期) and `change` (变更) act on
//! the seals an earlier run left on `--token`; `reissue` (补办) moves them onto a second token, `--new-token`.
//! Operators run it after a deployment; CI runs it against both databases.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
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
    /// A scan of a stamped 印模采集表 with two seals (JPG, PNG or PDF), uploaded as the ID and licence scans
    /// and, for `new` and `change`, as the 印模采集表, e.g. crates/artwork/tests/forms/form-1.jpg.
    #[arg(long)]
    form: PathBuf,
    /// Which service to drive: new (新办), renew (续期) or change (变更) of the seals on --token, or reissue
    /// (补办) of them onto --new-token.
    #[arg(long, value_enum, default_value_t = SmokeService::New)]
    service: SmokeService,
    /// 补办: the new key's soft token directory (same PIN), which receives the reissued seals.
    #[arg(long, required_if_eq("service", "reissue"))]
    new_token: Option<PathBuf>,
}

/// The service `sealdesk smoke` drives.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmokeService {
    /// 新办.
    New,
    /// 续期 of the seals on --token.
    Renew,
    /// 变更 of the seals on --token, from the new impressions on --form.
    Change,
    /// 补办: the seals on --token (the lost key) reissued onto --new-token.
    Reissue,
}

impl SmokeService {
    /// The service's code in the API (`Service::code`).
    fn code(self) -> &'static str {
        use sealdesk_domain::Service;
        match self {
            SmokeService::New => Service::New,
            SmokeService::Renew => Service::Renewal,
            SmokeService::Change => Service::Change,
            SmokeService::Reissue => Service::Reissue,
        }
        .code()
    }
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
    token.unlock(&a.pin).context("the token refused the PIN")?;
    step(&format!("token {} unlocked", token.serial()));
    // The key the seals go onto: the same one, or for a 补办 the new one.
    let mut target = match &a.new_token {
        Some(dir) if a.service == SmokeService::Reissue => {
            let mut t = SoftToken::open(dir)
                .with_context(|| format!("open the new soft token {}", dir.display()))?;
            t.unlock(&a.pin).context("the new token refused the PIN")?;
            ensure!(
                t.serial() != token.serial(),
                "--new-token is the same key as --token"
            );
            step(&format!("new token {} unlocked", t.serial()));
            Some(t)
        }
        _ => None,
    };

    let (me, mobile) = sign_in(&anon, &a, &mut token).await?;

    // 申请: a 新办 of two seals, or an order acting on the seals an earlier order left on the token.
    let earlier = match a.service {
        SmokeService::New => None,
        _ => Some(earlier_order(&me, &token).await?),
    };
    let order = match &earlier {
        None => {
            let holder_name = token
                .cert()
                .common_name()
                .unwrap_or_else(|| "演示企业有限公司".into());
            let projects = me.get("/projects").await?;
            let project = match &a.project {
                Some(p) => p.clone(),
                None => projects[0]["code"]
                    .as_str()
                    .ok_or_else(|| anyhow!("the server has no project"))?
                    .to_owned(),
            };
            me.post(
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
            .await?
        }
        Some(e) => {
            // 变更 renames the last seal it changes, so that the change shows on the key.
            let chosen: Vec<Value> = e
                .seals
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if a.service == SmokeService::Change && i + 1 == e.seals.len() {
                        json!({"es_id": s.es_id, "name": format!("{}（变更）", s.name)})
                    } else {
                        json!({"es_id": s.es_id})
                    }
                })
                .collect();
            me.post(
                "/orders",
                json!({
                    "project": e.project,
                    "service": a.service.code(),
                    "holder": e.holder,
                    "previous_order": e.id.parse::<i64>()?,
                    "chosen_seals": chosen,
                    "months": 12
                }),
            )
            .await?
        }
    };
    let id = s(&order, "id")?.to_owned();
    let n_seals = earlier.as_ref().map_or(2, |e| e.seals.len());
    ensure!(
        order["total_fen"] == 8_000 * n_seals as i64,
        "expected {n_seals} × 80.00 元 for {n_seals} seals × 1 year, got {}",
        order["total_fen"]
    );
    step(&format!(
        "{} order {} created for {n_seals} seals, {} 元",
        s(&order, "service_label")?,
        s(&order, "order_no")?,
        s(&order, "total_yuan")?
    ));

    let with_form = matches!(a.service, SmokeService::New | SmokeService::Change);
    let mut kinds = vec!["id_front", "id_back"];
    if order["holder"]["kind"] == "enterprise" {
        kinds.push("licence");
    }
    if with_form {
        kinds.push("impression_form");
    }
    for kind in kinds {
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
    if with_form {
        // A scan without the order's QR code (as `--form` is) gives its impressions in page order: 印模确认
        // takes them in that order. A 409 says there is nothing to confirm (the form's boxes say which is which,
        // or the seals are all alike).
        let confirm = http
            .post(format!("{base}/api/v1/orders/{id}/cutouts/confirm"))
            .bearer_auth(me.token.as_deref().unwrap_or(""))
            .json(&json!({"seal_of": (0..n_seals).collect::<Vec<_>>()}))
            .send()
            .await?;
        if confirm.status() != reqwest::StatusCode::CONFLICT {
            json_of(confirm, "印模确认").await?;
            step("印模确认: each impression found taken for the seal in its place on the page");
        }
    }
    step(if with_form {
        "scans and the stamped 印模采集表 uploaded"
    } else {
        "scans uploaded (the seals keep their pictures: no 印模采集表)"
    });
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
    let holder = &order["holder"];
    let title = match holder["kind"].as_str() {
        Some("person") => &holder["applicant_name"],
        _ => &holder["enterprise_name"],
    };
    me.post(&format!("/orders/{id}/invoice"), json!({"kind": holder["kind"], "title": title, "taxpayer_id": holder["credit_code"], "mobile": holder["mobile"], "email": ""})).await?;
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
    let key = target.as_mut().unwrap_or(&mut token);
    let ch = me
        .post(&format!("/orders/{id}/authorize/challenge"), json!({}))
        .await?;
    let sig = key
        .sign_challenge(&a.pin, s(&ch, "challenge")?.as_bytes())
        .context("the token refused to sign the challenge")?;
    let o = me
        .post(
            &format!("/orders/{id}/authorize"),
            json!({"cert_pem": key.cert().to_pem(), "nonce": s(&ch, "nonce")?, "signature": B64.encode(sig)}),
        )
        .await?;
    ensure!(o["state"] == "made", "after authorize: {}", o["state"]);
    step(&format!(
        "authorised for the project on key {}; seals made",
        key.serial()
    ));

    // 写入: the new seals and, for 续期 and 变更, the removal of those they replace, in one write.
    let seals = me.get(&format!("/orders/{id}/seals")).await?;
    let seals: Vec<Seal> = seals
        .as_array()
        .ok_or_else(|| anyhow!("seals: {seals}"))?
        .iter()
        .map(Seal::of)
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        seals.len() == n_seals,
        "expected {n_seals} seals, got {}",
        seals.len()
    );
    let replaced = me.get(&format!("/orders/{id}/replaces")).await?;
    let replaced: Vec<String> = replaced["es_ids"]
        .as_array()
        .ok_or_else(|| anyhow!("replaces: {replaced}"))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let puts: Vec<(String, Vec<u8>)> = seals
        .iter()
        .map(|m| (m.es_id.clone(), m.der.clone()))
        .collect();
    key.apply_seals(&a.pin, &puts, &replaced)
        .context("writing the seals onto the token")?;
    let mut receipts = Vec::new();
    for m in &seals {
        let sig = key.sign(&a.pin, &m.der)?;
        receipts.push(json!({"es_id": m.es_id, "signature": B64.encode(sig)}));
    }
    let o = me
        .post(
            &format!("/orders/{id}/written"),
            json!({"receipts": receipts}),
        )
        .await?;
    ensure!(o["state"] == "completed", "after writing: {}", o["state"]);
    step("seals written onto the token; order completed and invoiced");

    if let Some(e) = &earlier {
        check_taken_over(&anon, a.service, e, &seals, &replaced).await?;
    }

    let on_token = SoftToken::open(&key_dir(&a))?.seals()?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    let mut copied = 0;
    for m in &seals {
        let file = format!("{}.esl", m.es_id);
        let (_, der) = on_token
            .iter()
            .find(|(n, _)| *n == file)
            .ok_or_else(|| anyhow!("{file} is not on the token"))?;
        std::fs::write(a.out.join(&file), der)?;
        copied += 1;
    }
    for gone in &replaced {
        ensure!(
            !on_token.iter().any(|(n, _)| *n == format!("{gone}.esl")),
            "the replaced seal {gone} is still on the token"
        );
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

fn step(n: &str) {
    println!("✓ {n}");
}

/// The directory of the key the seals were written to.
fn key_dir(a: &SmokeArgs) -> PathBuf {
    match (&a.new_token, a.service) {
        (Some(d), SmokeService::Reissue) => d.clone(),
        _ => a.token.clone(),
    }
}

/// Signs the applicant in: with the SMS code sent to `--mobile` (a fresh number for a 新办 without one), or,
/// for a service acting on an earlier run's seals without `--mobile`, with the key (证书登录), which finds the
/// account that bound it. Returns the session and the mobile number the order gives.
async fn sign_in(
    anon: &Api,
    a: &SmokeArgs,
    token: &mut SoftToken,
) -> anyhow::Result<(Api, String)> {
    if a.mobile.is_none() && a.service != SmokeService::New {
        let ch = anon.post("/auth/ukey/challenge", json!({})).await?;
        let sig = token.sign_challenge(&a.pin, s(&ch, "challenge")?.as_bytes())?;
        let signed = anon
            .post(
                "/auth/ukey",
                json!({"cert_der_b64": B64.encode(token.cert().der()), "nonce": s(&ch, "nonce")?, "signature": B64.encode(sig)}),
            )
            .await
            .context("证书登录 failed: give --mobile, the number the earlier run signed in with (it prints it)")?;
        let me = anon.as_(s(&signed, "token")?);
        step(&format!(
            "applicant signed in with the key {}",
            token.serial()
        ));
        return Ok((me, String::new()));
    }
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
    Ok((me, mobile))
}

/// A seal as the API hands it out.
struct Seal {
    es_id: String,
    name: String,
    valid_end: String,
    picture_png_b64: String,
    der: Vec<u8>,
}

impl Seal {
    fn of(v: &Value) -> anyhow::Result<Seal> {
        Ok(Seal {
            es_id: s(v, "es_id")?.to_owned(),
            name: s(v, "name")?.to_owned(),
            valid_end: s(v, "valid_end")?.to_owned(),
            picture_png_b64: s(v, "picture_png_b64")?.to_owned(),
            der: B64.decode(s(v, "der_b64")?)?,
        })
    }
}

/// The applicant's completed order whose seals are on the key, newest first, with those seals.
struct Earlier {
    id: String,
    project: String,
    holder: Value,
    seals: Vec<Seal>,
}

/// Finds, among the applicant's completed orders bound to `token`, the newest whose standing seals are on it.
async fn earlier_order(me: &Api, token: &SoftToken) -> anyhow::Result<Earlier> {
    let on_token: Vec<String> = token.seals()?.into_iter().map(|(n, _)| n).collect();
    // An order names the key it was bound to by its certificate's serial, as 授权 read it.
    let bound = token.cert().serial_hex().to_uppercase();
    let page = me.get("/orders?state=completed&per_page=100").await?;
    for o in page["orders"].as_array().into_iter().flatten() {
        if o["key"]["serial"].as_str().map(str::to_uppercase) != Some(bound.clone()) {
            continue;
        }
        let id = s(o, "id")?;
        let mut seals = Vec::new();
        for v in me
            .get(&format!("/orders/{id}/seals"))
            .await?
            .as_array()
            .into_iter()
            .flatten()
        {
            let m = Seal::of(v)?;
            let standing =
                me.get(&format!("/seals/{}/status", m.es_id)).await?["status"] == "valid";
            if standing && on_token.contains(&format!("{}.esl", m.es_id)) {
                seals.push(m);
            }
        }
        if seals.is_empty() {
            continue;
        }
        let detail = me.get(&format!("/orders/{id}")).await?;
        step(&format!(
            "earlier order {} found: {} of its seals are on the key",
            s(o, "order_no")?,
            seals.len()
        ));
        return Ok(Earlier {
            id: id.to_owned(),
            project: s(&detail["project"], "code")?.to_owned(),
            holder: detail["holder"].clone(),
            seals,
        });
    }
    bail!(
        "no completed order of this applicant has standing seals on the key {}: run `sealdesk smoke` (--service new) with it first",
        token.serial()
    )
}

/// What each service promises of the seals it took over: a 续期 keeps picture and name and ends later; a 变更
/// and a 补办 revoke the earlier seals (a 补办 keeps their pictures).
async fn check_taken_over(
    anon: &Api,
    service: SmokeService,
    e: &Earlier,
    seals: &[Seal],
    replaced: &[String],
) -> anyhow::Result<()> {
    for (old, new) in e.seals.iter().zip(seals) {
        match service {
            SmokeService::Renew => {
                ensure!(
                    new.picture_png_b64 == old.picture_png_b64 && new.name == old.name,
                    "the renewed seal {} does not keep the picture and name of {}",
                    new.es_id,
                    old.es_id
                );
                ensure!(
                    new.valid_end > old.valid_end,
                    "the renewed seal {} ends {}, not after {} ({})",
                    new.es_id,
                    new.valid_end,
                    old.es_id,
                    old.valid_end
                );
            }
            SmokeService::Reissue => ensure!(
                new.picture_png_b64 == old.picture_png_b64 && new.name == old.name,
                "the reissued seal {} does not keep the picture and name of {}",
                new.es_id,
                old.es_id
            ),
            _ => {}
        }
        let status = anon.get(&format!("/seals/{}/status", old.es_id)).await?;
        let revoked = status["status"] == "revoked";
        ensure!(
            revoked == (service != SmokeService::Renew),
            "the earlier seal {} is {} after the {}",
            old.es_id,
            status["status_label"],
            service.code()
        );
    }
    if service != SmokeService::Reissue {
        ensure!(
            e.seals.iter().all(|m| replaced.contains(&m.es_id)),
            "the earlier seals are not all replaced on the key: {replaced:?}"
        );
    }
    step(match service {
        SmokeService::Renew => "the renewed seals keep their pictures and names and end later",
        SmokeService::Change => {
            "the changed seals replace the earlier ones, which are revoked (变更)"
        }
        _ => "the reissued seals keep their pictures; the lost key's seals are revoked (补办)",
    });
    Ok(())
}
