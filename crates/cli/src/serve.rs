//! `sealdesk serve`: wires the store, blob store, keys and gateways into the web server.

use std::path::PathBuf;

use anyhow::Context;
use sealdesk_adapters::{keys, pay::SandboxGateway, token::SoftToken};
use sealdesk_app::{App, AppConfig};
use sealdesk_store::Store;

use crate::{BlobArgs, DataArgs};

/// The demo operator's password: demo mode only, printed at start.
const DEMO_PASSWORD: &str = "sealdesk-demo";
/// The demo soft token's PIN.
const DEMO_PIN: &str = "12345678";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Demo mode: a demo project, the operator admin / sealdesk-demo, a soft token, and the SMS outbox readable
    /// at /demo/outbox.
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
    /// This instance's number (0-1023); several instances on one database need different numbers.
    #[arg(long, default_value_t = 0, env = "SEALDESK_INSTANCE")]
    instance: u16,
    /// The platform's public address, used in SMS texts and to decide on secure cookies.
    #[arg(long, env = "SEALDESK_PUBLIC_URL")]
    public_url: Option<String>,
    /// The seal maker's private key (PKCS#8 PEM); default: one created in the data directory.
    #[arg(long, requires = "maker_cert")]
    maker_key: Option<PathBuf>,
    /// The seal maker's certificate (PEM).
    #[arg(long, requires = "maker_key")]
    maker_cert: Option<PathBuf>,
    /// A CA certificate (PEM) whose UKey certificates are accepted; repeatable. Default: the data directory's
    /// demo CA.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// The SMS signature (the bracketed name that starts each message).
    #[arg(long, default_value = "金格科技", env = "SEALDESK_SMS_SIGNATURE")]
    sms_signature: String,
}

pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
    let data_dir = a.data.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let url = a.data.url();
    let store = Store::connect(&url, a.instance)
        .await
        .with_context(|| format!("open the database {}", sealdesk_store::redact_url(&url)))?;
    let blobs = a.blobs.open(&data_dir).context("blob store")?;
    let ca = keys::demo_ca(&data_dir).context("demo CA")?;
    let maker = match (&a.maker_key, &a.maker_cert) {
        (Some(k), Some(c)) => keys::identity_from_files(k, c).context("seal maker key")?,
        _ => keys::seal_maker(&data_dir, &ca).context("seal maker")?,
    };
    let mut trust = Vec::new();
    for p in &a.trust {
        let pem = std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
        trust.push(
            sealdesk_pki::Cert::from_pem(&pem)
                .with_context(|| format!("certificate {}", p.display()))?,
        );
    }
    if trust.is_empty() || a.demo {
        trust.push(ca.cert.clone());
    }
    let gateway =
        SandboxGateway::new(keys::sandbox_gateway_key(&data_dir).context("sandbox gateway key")?);
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let public_url = a
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let cfg = AppConfig {
        demo: a.demo,
        sms_signature: a.sms_signature.clone(),
        public_url: public_url.clone(),
        data_dir: data_dir.clone(),
        ..Default::default()
    };
    let app = App::new(
        store.clone(),
        blobs,
        cfg,
        maker,
        trust,
        gateway,
    );

    println!("SealDesk 电子印章在线办理平台");
    println!("  listening on   {public_url}");
    println!("  database       {}", sealdesk_store::redact_url(&url));
    println!("  data directory {}", data_dir.display());
    println!("  blob store     {}", a.blobs.spec(&data_dir));
    if a.demo {
        let token_dir = demo_setup(&app, &store, &data_dir, &ca).await?;
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
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            if let Err(e) = purge.purge_expired(now).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
        }
    });
    sealdesk_web::serve(listener, app, shutdown())
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
