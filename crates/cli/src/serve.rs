//! `sealdesk serve`: wires the store, blob store, keys and gateways into the web server.

use std::path::PathBuf;

use anyhow::Context;
use sealdesk_adapters::{keys, pay::SandboxGateway, token::SoftToken};
use sealdesk_app::{App, AppConfig};
use sealdesk_store::Store;

use crate::{BlobArgs, DataArgs};

mod channels;

/// The demo operator's password: demo mode only, printed at start.
const DEMO_PASSWORD: &str = "sealdesk-demo";
/// The demo soft token's PIN.
const DEMO_PIN: &str = "12345678";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Demo mode: a demo project, the operator admin / sealdesk-demo, a soft token, the demo CA, the sandbox
    /// payment channel and cashier, and the SMS outbox readable at /demo/outbox. Without it none of these exist
    /// and the production flags (--maker-key, --maker-cert, --trust, --audit-key-file) are required.
    #[arg(long)]
    demo: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SEALDESK_LISTEN")]
    listen: String,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    blobs: BlobArgs,
    /// Serve Prometheus metrics at http://ADDR/metrics (a separate listener, not exposed through the proxy).
    #[arg(long, env = "SEALDESK_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// This instance's number (0-1023) in the order ids it mints; several instances on one database need
    /// different numbers. Without it the server leases a number no running instance holds from the database
    /// (renewed while it runs), so N instances need no numbering by hand.
    #[arg(long, env = "SEALDESK_INSTANCE")]
    instance: Option<u16>,
    /// The platform's public address, used in SMS texts and to decide on secure cookies.
    #[arg(long, env = "SEALDESK_PUBLIC_URL")]
    public_url: Option<String>,
    /// The seal maker's private key (SM2, PEM: PKCS#8 or SEC1 as `openssl` writes them). Required without
    /// --demo; with --demo the default is one created in the data directory.
    #[arg(long, requires = "maker_cert", env = "SEALDESK_MAKER_KEY")]
    maker_key: Option<PathBuf>,
    /// The seal maker's certificate (PEM).
    #[arg(long, requires = "maker_key", env = "SEALDESK_MAKER_CERT")]
    maker_cert: Option<PathBuf>,
    /// A CA certificate (PEM) whose UKey certificates are accepted at 授权; repeatable. Required without --demo;
    /// with --demo the data directory's demo CA is trusted too.
    #[arg(long, env = "SEALDESK_TRUST", value_delimiter = ',')]
    trust: Vec<PathBuf>,
    /// Payment channels offered to applicants, comma-separated, in order: `alipay` (SEALDESK_ALIPAY_*),
    /// `wechat` (SEALDESK_WECHAT_*), `bank` (对公转账 to the account in SEALDESK_BANK_PAYEE, _NAME, _ACCOUNT; finance
    /// imports the statement), and `sandbox`, which needs --demo (and is the default with it). None: the
    /// server starts, logs that payment is not open, and tells applicants so.
    #[arg(long, env = "SEALDESK_PAYMENTS", value_delimiter = ',')]
    payments: Vec<String>,
    /// How SMS leave the platform: `outbox` (the default) keeps them in the database's outbox (only --demo makes
    /// it readable, at /demo/outbox); `aliyun` (SEALDESK_SMS_ALIYUN_*) and `http` (SEALDESK_SMS_HTTP_*) send
    /// them from it with a worker that retries with backoff.
    #[arg(long, env = "SEALDESK_SMS", default_value = "outbox")]
    sms: String,
    /// A file holding the audit chain's HMAC-SM3 key (at least 32 bytes; `openssl rand -hex 32 > FILE`).
    /// Required without --demo; `sealdesk audit verify` needs the same file.
    #[arg(long, env = "SEALDESK_AUDIT_KEY_FILE")]
    audit_key_file: Option<PathBuf>,
    /// 个人信息加密存储: the SM4 data keys and the blind-index key (created in the data directory when not given).
    #[command(flatten)]
    pii: crate::keys::PiiArgs,
    /// A reverse proxy (address or block, e.g. 10.0.0.0/8) whose X-Forwarded-For names the client; repeatable.
    #[arg(long, env = "SEALDESK_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<String>,
    /// Where the portal's pages reach the UKey agent (sealdesk-agent) on the applicant's computer; the CSP's
    /// connect-src allows this origin.
    #[arg(long, env = "SEALDESK_AGENT_URL", default_value = sealdesk_web::DEFAULT_AGENT_URL)]
    agent_url: String,
    /// The UKey agent's program (a file) that the home page offers for download at /downloads/sealdesk-agent.
    #[arg(long, env = "SEALDESK_AGENT_DOWNLOAD")]
    agent_download: Option<PathBuf>,
    /// 工作日: review due dates count in the holidays and 调休 of this file (the format of
    /// `crates/domain/data/holidays-cn.txt`) instead of the built-in one, so that an administrator adds next year's
    /// schedule when it is announced without a new release.
    #[command(flatten)]
    holidays: crate::calendar::Source,
    /// The SMS signature (the bracketed name that starts each message).
    #[arg(long, default_value = "金格科技", env = "SEALDESK_SMS_SIGNATURE")]
    sms_signature: String,
    /// 审核预检 workers in this instance (each runs one submission's checks, OCR included, at a time). 0 leaves
    /// the checks to other instances of the same database: request-serving instances then spend no CPU on OCR.
    #[arg(long, default_value_t = sealdesk_app::DEFAULT_PRECHECK_WORKERS, env = "SEALDESK_PRECHECK_WORKERS")]
    precheck_workers: usize,
}

/// Reads an audit key file: hex (as `openssl rand -hex 32` writes it) or raw bytes, at least 32 bytes.
pub fn read_audit_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let raw = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("read the audit key {}", path.display()))?,
    );
    let text = String::from_utf8_lossy(&raw);
    let key = match hex_decode(text.trim()) {
        Some(k) => k,
        None => raw.to_vec(),
    };
    anyhow::ensure!(
        key.len() >= 32,
        "the audit key {} is {} bytes: it must be at least 32 (make one with `openssl rand -hex 32`)",
        path.display(),
        key.len()
    );
    Ok(key)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What production mode refuses to start without, with the flag that supplies it.
fn production_gaps(a: &ServeArgs) -> Vec<&'static str> {
    let mut gaps = Vec::new();
    if a.maker_key.is_none() || a.maker_cert.is_none() {
        gaps.push(
            "--maker-key KEY.pem --maker-cert CERT.pem (the seal maker's own key and certificate)",
        );
    }
    if a.trust.is_empty() {
        gaps.push("--trust CA.pem (the CA whose UKey certificates are accepted at 授权)");
    }
    if a.audit_key_file.is_none() {
        gaps.push("--audit-key-file FILE (the audit chain's key: `openssl rand -hex 32 > FILE`)");
    }
    gaps
}

pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
    let gaps = if a.demo {
        Vec::new()
    } else {
        production_gaps(&a)
    };
    anyhow::ensure!(
        gaps.is_empty(),
        "refusing to start without --demo: production mode needs\n  {}\n(or add --demo for a demonstration with the demo CA, the sandbox cashier and the readable SMS outbox)",
        gaps.join("\n  ")
    );
    let channels: Vec<String> = if a.payments.is_empty() && a.demo {
        vec!["sandbox".into()]
    } else {
        a.payments
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect()
    };
    for c in &channels {
        match c.as_str() {
            "sandbox" if a.demo => {}
            "sandbox" => anyhow::bail!(
                "--payments sandbox needs --demo: the sandbox cashier marks orders paid without money"
            ),
            "alipay" | "wechat" | "bank" => {}
            other => anyhow::bail!(
                "--payments {other}: no such payment channel (available: alipay, wechat, bank; sandbox with --demo)"
            ),
        }
    }
    anyhow::ensure!(
        matches!(a.sms.as_str(), "outbox" | "aliyun" | "http"),
        "--sms {}: unknown SMS sender (available: outbox, aliyun, http)",
        a.sms
    );
    let trusted_proxies = a
        .trusted_proxy
        .iter()
        .map(|c| c.parse::<sealdesk_web::Cidr>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("--trusted-proxy")?;
    let agent_url = sealdesk_web::agent_origin(&a.agent_url)
        .map_err(anyhow::Error::msg)
        .context("--agent-url")?;
    let data_dir = a.data.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let url = a.data.url();
    let mut store = Store::connect(&url, a.instance.unwrap_or(0))
        .await
        .with_context(|| format!("open the database {}", sealdesk_store::redact_url(&url)))?;
    let instance = match a.instance {
        Some(n) => n,
        None => {
            let n = lease_instance(&store).await?;
            store = store.with_instance(n);
            n
        }
    };
    // Personal data and uploads are sealed in every mode: the keys come from the configuration or, made once,
    // from the data directory beside the other keys.
    let pii = crate::keys::load(&a.pii, &data_dir, true).context("personal-data keys")?;
    let pii_source = pii.source.clone();
    let current_kid = pii.store.data().current().kid().to_owned();
    store = store.with_data_keys(pii.store);
    store
        .confirm_data_keys()
        .await
        .context("personal-data keys")?;
    let blobs: std::sync::Arc<dyn sealdesk_adapters::blobs::BlobStore> =
        std::sync::Arc::new(sealdesk_adapters::sealed_blobs::SealedBlobs::new(
            a.blobs.open(&data_dir).context("blob store")?,
            pii.blobs,
            sealdesk_adapters::sealed_blobs::is_upload,
        ));
    if let Some(p) = &a.audit_key_file {
        store = store
            .with_audit_key(read_audit_key(p)?)
            .context("audit key")?;
    }
    // The demo CA exists only in demo mode: production never creates or trusts it by itself.
    let ca = if a.demo {
        Some(keys::demo_ca(&data_dir).context("demo CA")?)
    } else {
        None
    };
    let maker = match (&a.maker_key, &a.maker_cert, &ca) {
        (Some(k), Some(c), _) => keys::identity_from_files(k, c).context("seal maker key")?,
        (_, _, Some(ca)) => keys::seal_maker(&data_dir, ca).context("seal maker")?,
        _ => anyhow::bail!("--maker-key and --maker-cert are required without --demo"),
    };
    anyhow::ensure!(
        maker.cert.public_key().map(|p| p.to_sec1_bytes()).ok()
            == Some(maker.key.public().to_sec1_bytes()),
        "the seal maker's certificate does not belong to its key (--maker-cert is not for --maker-key)"
    );
    let mut trust = Vec::new();
    for p in &a.trust {
        let pem = std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
        trust.push(
            sealdesk_pki::Cert::from_pem(&pem)
                .with_context(|| format!("certificate {}", p.display()))?,
        );
    }
    if let Some(ca) = &ca {
        trust.push(ca.cert.clone());
    }
    let gateway = if channels.iter().any(|c| c == "sandbox") {
        Some(SandboxGateway::new(
            keys::sandbox_gateway_key(&data_dir).context("sandbox gateway key")?,
        ))
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let public_url = a
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let providers = channels::payment_providers(&channels, &public_url)?;
    let sms_provider = channels::sms_provider(&a.sms)?;
    let cfg = AppConfig {
        demo: a.demo,
        payment_channels: channels.clone(),
        sms_signature: a.sms_signature.clone(),
        public_url: public_url.clone(),
        data_dir: data_dir.clone(),
        bank_account: channels::bank_account(&channels)?,
        invoice_seller: channels::invoice_seller(),
        calendar: Some(std::sync::Arc::new(a.holidays.calendar()?)),
        precheck_workers: a.precheck_workers,
        ..Default::default()
    };
    let app = App::new(store.clone(), blobs, cfg, maker, trust, gateway)
        .with_payment_providers(providers);

    println!("SealDesk 电子印章在线办理平台");
    println!("  listening on   {public_url}");
    println!("  database       {}", sealdesk_store::redact_url(&url));
    println!("  data directory {}", data_dir.display());
    println!("  blob store     {}", a.blobs.spec(&data_dir));
    println!("  personal data  sealed with SM4-GCM under key {current_kid} (keys: {pii_source})");
    println!(
        "  instance       {instance}{}",
        if a.instance.is_some() {
            ""
        } else {
            " (leased)"
        }
    );
    if a.demo {
        let token_dir = match &ca {
            Some(ca) => demo_setup(&app, &store, &data_dir, ca).await?,
            None => anyhow::bail!("demo mode without its CA"),
        };
        println!();
        println!("Demo mode:");
        println!(
            "  applicant portal  {public_url}/login   (any mobile number; the SMS code is at {public_url}/demo/outbox)"
        );
        println!("  operator console  {public_url}/admin/login   (admin / {DEMO_PASSWORD})");
        println!(
            "  soft UKey token   {}   (PIN {DEMO_PIN}; its certificate is {}/cert.pem)",
            token_dir.display(),
            token_dir.display()
        );
        println!(
            "  smoke test        sealdesk smoke --server {public_url} --token {} --pin {DEMO_PIN} --operator admin:{DEMO_PASSWORD} --out seals-out",
            token_dir.display()
        );
    }
    println!("  seal-maker certificate: {public_url}/api/v1/maker-certificate");
    if channels.is_empty() {
        println!(
            "  payment        not open: no payment channel is configured (--payments); applicants are told so"
        );
        tracing::warn!("no payment channel configured: applicants cannot pay yet");
    } else {
        println!("  payment        {}", channels.join(", "));
    }
    match &sms_provider {
        Some(p) => {
            println!(
                "  SMS            {} (sender worker, retries with backoff)",
                p.name()
            );
            let sender = app.sms_sender(p.clone(), sealdesk_app::RetryPolicy::default());
            tokio::spawn(sender.run(channels::SMS_POLL, shutdown()));
        }
        None => {
            println!("  SMS            outbox only");
            if !a.demo {
                tracing::warn!(
                    "--sms outbox without --demo: messages stay in the outbox, applicants cannot sign in"
                );
            }
        }
    }
    match channels::mailer()? {
        Some(m) => {
            println!("  invoice e-mail SMTP relay (sender worker, retries with backoff)");
            let sender = app.mail_sender(m, sealdesk_app::RetryPolicy::default());
            tokio::spawn(sender.run(channels::SMS_POLL, shutdown()));
        }
        None => println!(
            "  invoice e-mail not sent: no SMTP relay (SEALDESK_SMTP_HOST); invoices stay downloadable"
        ),
    }
    tokio::spawn(channels::background_jobs(app.clone()));
    tokio::spawn(channels::backfill_holder_index(store.clone()));
    // Checks a stopped instance left due are taken up now, not at the next submission.
    app.start_precheck_workers();
    println!(
        "  审核预检       {}",
        match a.precheck_workers {
            0 => "no workers here: other instances run the checks".to_owned(),
            n => format!(
                "{n} workers (OCR at most {} at once)",
                sealdesk_adapters::ocr::OCR_AT_ONCE
            ),
        }
    );
    println!(
        "  audit chain    {}",
        if store.audit_keyed() {
            "keyed (HMAC-SM3)"
        } else {
            "unkeyed (demo)"
        }
    );
    if let Some(m) = &a.metrics_listen {
        let ml = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("listen on {m} (metrics)"))?;
        println!("  metrics        http://{}/metrics", ml.local_addr()?);
        sealdesk_web::metrics::install();
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = sealdesk_web::metrics::serve(ml, app, shutdown()).await {
                tracing::error!(error = %e, "metrics listener");
            }
        });
    }

    let purge = store.clone();
    let purge_app = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = purge.purge_expired(purge_app.now()).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
        }
    });
    sealdesk_web::serve_with(
        listener,
        app,
        sealdesk_web::WebConfig {
            trusted_proxies,
            agent_url,
            agent_download: a.agent_download.clone(),
        },
        shutdown(),
    )
    .await
    .context("serve")?;
    store.close().await;
    Ok(())
}

async fn demo_setup(
    app: &App,
    store: &Store,
    data_dir: &std::path::Path,
    ca: &keys::Identity,
) -> anyhow::Result<PathBuf> {
    let group = match store.group_by_name("A组").await {
        Ok(g) => g,
        Err(_) => store.create_group("A组").await?,
    };
    if store.project_by_code("testCSQY").await.is_err() {
        store
            .create_project(
                "testCSQY",
                "南昌市城建档案馆",
                sealdesk_domain::DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
                Some(group.id),
            )
            .await?;
    }
    let admin = app.ensure_operator("admin", DEMO_PASSWORD, true).await?;
    store.add_to_group(group.id, admin).await?;
    let token_dir = data_dir.join("demo-ukey");
    if !token_dir.join("token.json").exists() {
        SoftToken::init(
            &token_dir,
            DEMO_PIN,
            ca,
            "enterprise",
            "北筑设计研究院有限公司",
        )
        .context("demo soft token")?;
    }
    Ok(token_dir)
}

/// How long a leased instance number stays this process's without renewal, and how often it is renewed.
const INSTANCE_LEASE_SECS: i64 = 60;
const INSTANCE_RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Leases an order-id instance number from the database and keeps it renewed. If a renewal finds the number
/// taken (this process stalled past the lease and another instance took it), the process exits: two instances
/// minting with one number could make the same order id.
async fn lease_instance(store: &Store) -> anyhow::Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    let holder = format!(
        "pid {} {:016x}",
        std::process::id(),
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    );
    let unix = || sealdesk_domain::Clock::now(&sealdesk_domain::SystemClock).0;
    let n = store
        .lease_instance_number(&holder, unix(), INSTANCE_LEASE_SECS)
        .await
        .context("lease an instance number")?
        .context("all 1024 instance numbers are held by running instances")?;
    let store = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INSTANCE_RENEW_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.renew_instance_number(n, &holder, unix()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(
                        instance = n,
                        "instance number taken by another instance: stopping"
                    );
                    std::process::exit(1);
                }
                Err(e) => tracing::warn!(error = %e, "renewing the instance number failed"),
            }
        }
    });
    Ok(n)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
