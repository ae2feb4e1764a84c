//! `sealdesk`: the one binary. Runs the platform, manages soft tokens, projects and operators, checks the audit
//! chain, reseals personal data under a new key, drives an end-to-end smoke test, and gives the seal-format and artwork tools a command line.

mod bench;
mod calendar;
mod keys;
mod malloc;
mod ops;
mod serve;
mod smoke;

use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sealdesk", version, about = "电子印章在线办理平台 SealDesk")]
struct Cli {
    /// Log lines as text, or as JSON objects (one a line, with the request id of each request's lines) for a
    /// log collector.
    #[arg(long, global = true, default_value = "text", env = "SEALDESK_LOG_FORMAT", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the data lives; shared by the commands that open the store.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// The data directory: SQLite file, uploads, keys.
    #[arg(long, default_value = "data", env = "SEALDESK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A database URL (`postgres://…` or `sqlite://…`); default: the SQLite file in the data directory.
    #[arg(long, env = "SEALDESK_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataArgs {
    /// The database URL in force.
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("sealdesk.db").display()))
    }

    /// Opens the store, creating the data directory first: for the commands that set a platform up (`serve`,
    /// `project add`, `operator add`), where a new directory is the normal start.
    pub async fn create_and_open(&self, instance: u16) -> anyhow::Result<sealdesk_store::Store> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("create {}", self.data_dir.display()))?;
        self.connect(instance).await
    }

    /// Opens the store of an existing platform: for the commands that read one (`audit verify`, `backup`), where
    /// a missing SQLite file is a wrong `--data-dir`, not a platform to create.
    pub async fn open_existing(&self) -> anyhow::Result<sealdesk_store::Store> {
        if self.database_url.is_none() {
            let file = self.data_dir.join("sealdesk.db");
            anyhow::ensure!(
                file.is_file(),
                "no SealDesk database at {} (check --data-dir or --database-url)",
                file.display()
            );
        }
        self.connect(0).await
    }

    async fn connect(&self, instance: u16) -> anyhow::Result<sealdesk_store::Store> {
        let url = self.url();
        sealdesk_store::Store::connect(&url, instance)
            .await
            .with_context(|| format!("open the database {}", sealdesk_store::redact_url(&url)))
    }
}

/// Where uploaded files live; shared by `serve`, `backup` and `restore`.
#[derive(clap::Args, Clone)]
pub struct BlobArgs {
    /// The blob store: a directory, or `s3://BUCKET[/PREFIX]` (credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION). Default: `blobs` in the data directory.
    #[arg(long, env = "SEALDESK_BLOBS")]
    pub blobs: Option<String>,
    /// The endpoint of an S3-compatible server (MinIO, Ceph RGW, …), e.g. `http://127.0.0.1:9000`; addressed
    /// path-style. Without it, `s3://` means AWS S3.
    #[arg(long, env = "SEALDESK_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
}

impl BlobArgs {
    /// The `--blobs` value in force.
    pub fn spec(&self, data_dir: &std::path::Path) -> String {
        self.blobs
            .clone()
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string())
    }

    /// Opens the blob store in force.
    pub fn open(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<std::sync::Arc<dyn sealdesk_adapters::blobs::BlobStore>> {
        Ok(sealdesk_adapters::blobs::open(
            &self.spec(data_dir),
            self.s3_endpoint.as_deref(),
        )?)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the platform.
    Serve(Box<serve::ServeArgs>),
    /// Soft UKey tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Drive one whole 新办 through the public API against a running server.
    Smoke(smoke::SmokeArgs),
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Projects (授权单位).
    Project {
        #[command(subcommand)]
        cmd: ProjectCmd,
    },
    /// Operators and their groups.
    Operator {
        #[command(subcommand)]
        cmd: OperatorCmd,
    },
    /// The blob store (uploaded files).
    Blobs {
        #[command(subcommand)]
        cmd: ops::BlobsCmd,
    },
    /// 工作日: the working-day calendar (public holidays and 调休) that review due dates are counted in.
    Calendar {
        #[command(subcommand)]
        cmd: calendar::CalendarCmd,
    },
    /// Fill a database with synthetic orders and measure the HTTP API under load (see docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// The bench's ceiling: a bare axum endpoint (used by `bench`).
    #[command(hide = true)]
    BenchBare(bench::BareArgs),
    /// 个人信息加密存储: the keys personal data and uploads are sealed with (SM4).
    Keys {
        #[command(subcommand)]
        cmd: keys::KeysCmd,
    },
    /// Back up the database, the blobs and the platform's keys into a directory, consistently, while running.
    Backup(ops::BackupArgs),
    /// Restore a backup into a new database and data directory.
    Restore(ops::RestoreArgs),
    /// Inspect, verify and make GB/T 38540 / GM/T 0031 seal files.
    Seal {
        #[command(subcommand)]
        cmd: sealdesk_ses_cli::SealCommand,
    },
    /// Extract impressions from scans and render standard seals.
    Artwork {
        #[command(subcommand)]
        cmd: sealdesk_artwork_cli::ArtworkCommand,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a soft token: an SM2 key under the PIN and a certificate from the data directory's demo CA.
    Init {
        /// The token directory to create.
        #[arg(long)]
        dir: PathBuf,
        /// The PIN (6-16 characters).
        #[arg(long)]
        pin: String,
        /// The data directory whose demo CA issues the certificate.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Whose key: enterprise or person.
        #[arg(long, default_value = "enterprise", value_parser = ["enterprise", "person"])]
        holder: String,
        /// The holder's name, put in the certificate.
        #[arg(long, default_value = "演示企业有限公司")]
        name: String,
        /// The holder's ID number (a person) or credit code (an enterprise), put in the certificate's subject.
        #[arg(long)]
        id_number: Option<String>,
        /// Issue the certificate from this CA (PEM) instead of the data directory's demo CA; needs --ca-key.
        #[arg(long, requires = "ca_key")]
        ca_cert: Option<PathBuf>,
        /// The issuing CA's private key (PEM, as `openssl` writes it).
        #[arg(long, requires = "ca_cert")]
        ca_key: Option<PathBuf>,
    },
    /// Sign a 授权 challenge with the token's key (the PIN is required) and print the signature in base64.
    Sign {
        /// The token directory.
        #[arg(long)]
        dir: PathBuf,
        /// The token's PIN.
        #[arg(long)]
        pin: String,
        /// The challenge text, as the order page shows it.
        #[arg(long, conflicts_with = "challenge_file")]
        challenge: Option<String>,
        /// A file holding the challenge text.
        #[arg(long)]
        challenge_file: Option<PathBuf>,
    },
    /// Write downloaded seal files (.esl) onto a token and print the write receipt the order page asks for.
    Write {
        /// The token directory.
        #[arg(long)]
        dir: PathBuf,
        /// The token's PIN.
        #[arg(long)]
        pin: String,
        /// The seal files, as downloaded from the order page.
        #[arg(required = true)]
        seals: Vec<PathBuf>,
    },
    /// Show a token's serial, certificate and seals.
    Show {
        /// The token directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the whole audit log, in one consistent snapshot.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// The audit key file the server runs with (a keyed chain verifies only with its key).
        #[arg(long, env = "SEALDESK_AUDIT_KEY_FILE")]
        audit_key_file: Option<PathBuf>,
        /// The seal maker's certificate, which checkpoints are signed with (default: the data directory's,
        /// `pki/seal-maker.pem`, as demo mode and first start create it).
        #[arg(long, env = "SEALDESK_MAKER_CERT")]
        maker_cert: Option<PathBuf>,
    },
    /// Sign the heads of every audit chain with the seal maker's key and store the checkpoint (the server does
    /// this itself every 1,000 entries).
    Checkpoint {
        #[command(flatten)]
        data: DataArgs,
        /// The seal maker's private key (default: the data directory's, `pki/seal-maker.key.pem`).
        #[arg(long, requires = "maker_cert", env = "SEALDESK_MAKER_KEY")]
        maker_key: Option<PathBuf>,
        /// The seal maker's certificate (default: `pki/seal-maker.pem` in the data directory).
        #[arg(long, requires = "maker_key", env = "SEALDESK_MAKER_CERT")]
        maker_cert: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ProjectCmd {
    /// Add a project.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Short code used in order numbers (letters and digits).
        #[arg(long)]
        code: String,
        /// 授权单位 name.
        #[arg(long)]
        name: String,
        /// Price per seal per year, in fen.
        #[arg(long, default_value_t = 8000)]
        price_fen: i64,
        /// The operator group that reviews its orders (created if missing).
        #[arg(long)]
        group: Option<String>,
    },
}

#[derive(Subcommand)]
enum OperatorCmd {
    /// Add an operator (the password is read from SEALDESK_OPERATOR_PASSWORD, or --password).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Sign-in name.
        #[arg(long)]
        name: String,
        /// Password.
        #[arg(long, env = "SEALDESK_OPERATOR_PASSWORD", hide_env_values = true)]
        password: String,
        /// Super-administrator: sees every project and has every role.
        #[arg(long)]
        admin: bool,
        /// Roles, comma-separated: reviewer (审核员), issuer (制章员), finance (财务), auditor (审计员).
        #[arg(long, default_value = "reviewer")]
        roles: String,
        /// Group to join (created if missing).
        #[arg(long)]
        group: Option<String>,
    },
}

fn main() -> ExitCode {
    sealdesk_adapters::install_tls_provider();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Seal { cmd } => return exit(sealdesk_ses_cli::run(cmd)),
        Cmd::Artwork { cmd } => return exit(sealdesk_artwork_cli::run(cmd)),
        _ => {}
    }
    // Before anything else runs: a long-lived server under load needs it, one-shot commands do not.
    let malloc_warning = match cli.cmd {
        Cmd::Serve(_) => malloc::tune_or_reexec(),
        _ => None,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        logs.json()
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        logs.init();
    }
    if let Some(w) = malloc_warning {
        tracing::warn!("{w}");
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli.cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn group_id(store: &sealdesk_store::Store, name: &str) -> anyhow::Result<i64> {
    Ok(match store.group_by_name(name).await {
        Ok(g) => g.id,
        Err(sealdesk_store::StoreError::NotFound) => store.create_group(name).await?.id,
        Err(e) => return Err(e.into()),
    })
}

async fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    match cmd {
        Cmd::Serve(args) => serve::run(*args).await.map(|()| ExitCode::SUCCESS),
        Cmd::Smoke(args) => smoke::run(args).await,
        Cmd::Blobs { cmd } => ops::blobs(cmd).await,
        Cmd::Backup(args) => ops::backup(args).await,
        Cmd::Bench(args) => bench::run(args).await,
        Cmd::BenchBare(args) => bench::bare(args).await,
        Cmd::Restore(args) => ops::restore(args).await,
        Cmd::Keys { cmd } => keys::run(cmd).await,
        Cmd::Token {
            cmd:
                TokenCmd::Init {
                    dir,
                    pin,
                    data_dir,
                    holder,
                    name,
                    id_number,
                    ca_cert,
                    ca_key,
                },
        } => {
            let ca = match (&ca_key, &ca_cert) {
                (Some(k), Some(c)) => {
                    sealdesk_adapters::keys::identity_from_files(k, c).context("issuing CA")?
                }
                _ => sealdesk_adapters::keys::demo_ca(&data_dir).context("demo CA")?,
            };
            let t = sealdesk_adapters::token::SoftToken::init_with_id(
                &dir,
                &pin,
                &ca,
                &holder,
                &name,
                id_number.as_deref(),
            )?;
            println!("soft token created in {}", dir.display());
            println!("  密钥序列号 (serial): {}", t.serial());
            println!("  certificate: {}", t.cert().subject());
            println!("  issued by:   {}", t.cert().issuer());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Token {
            cmd: TokenCmd::Write { dir, pin, seals },
        } => {
            use base64::Engine;
            let mut t = sealdesk_adapters::token::SoftToken::open(&dir)?;
            let mut lines = Vec::new();
            for path in &seals {
                let der =
                    std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
                let es_id = match sealdesk_ses::parse(&der) {
                    Ok(sealdesk_ses::Parsed::Seal(s)) => s.es_id,
                    _ => anyhow::bail!("{} is not an electronic seal file", path.display()),
                };
                let sig = t.write_seal(&pin, &es_id, &der)?;
                lines.push(format!(
                    "{es_id} {}",
                    base64::engine::general_purpose::STANDARD.encode(sig)
                ));
                eprintln!("written: {es_id}");
            }
            println!("{}", lines.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Token {
            cmd:
                TokenCmd::Sign {
                    dir,
                    pin,
                    challenge,
                    challenge_file,
                },
        } => {
            use base64::Engine;
            let text = match (challenge, challenge_file) {
                (Some(t), _) => t,
                (None, Some(p)) => {
                    std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?
                }
                (None, None) => anyhow::bail!("give --challenge TEXT or --challenge-file FILE"),
            };
            let mut t = sealdesk_adapters::token::SoftToken::open(&dir)?;
            let sig = t.sign_challenge(&pin, text.trim_end_matches(['\r', '\n']).as_bytes())?;
            println!("{}", base64::engine::general_purpose::STANDARD.encode(sig));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Token {
            cmd: TokenCmd::Show { dir },
        } => {
            let t = sealdesk_adapters::token::SoftToken::open(&dir)?;
            let (nb, na) = t.cert().validity();
            println!("serial:      {}", t.serial());
            println!("holder:      {}", t.holder());
            println!("subject:     {}", t.cert().subject());
            println!("issuer:      {}", t.cert().issuer());
            println!(
                "valid:       {} — {}",
                sealdesk_domain::Timestamp(nb).beijing(),
                sealdesk_domain::Timestamp(na).beijing()
            );
            for (name, der) in t.seals()? {
                println!("seal:        {name} ({} bytes)", der.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Calendar { cmd } => calendar::run(cmd),
        Cmd::Audit {
            cmd:
                AuditCmd::Checkpoint {
                    data,
                    maker_key,
                    maker_cert,
                },
        } => {
            let store = data.open_existing().await?;
            let pki = data.data_dir.join("pki");
            let key = maker_key.unwrap_or_else(|| pki.join("seal-maker.key.pem"));
            let cert = maker_cert.unwrap_or_else(|| pki.join("seal-maker.pem"));
            let maker =
                sealdesk_adapters::keys::identity_from_files(&key, &cert).with_context(|| {
                    format!(
                        "the seal maker's key {} and certificate {}",
                        key.display(),
                        cert.display()
                    )
                })?;
            let id = sealdesk_app::write_audit_checkpoint(&store, &maker).await?;
            println!("audit checkpoint {id} signed by the seal maker");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Audit {
            cmd:
                AuditCmd::Verify {
                    data,
                    audit_key_file,
                    maker_cert,
                },
        } => {
            let mut store = data.open_existing().await?;
            if let Some(p) = &audit_key_file {
                store = store.with_audit_key(serve::read_audit_key(p)?)?;
            }
            match store.verify_audit().await? {
                Ok(n) => {
                    let checkpoints = store.audit_checkpoints().await?;
                    if !checkpoints.is_empty() {
                        let path =
                            maker_cert.unwrap_or_else(|| data.data_dir.join("pki/seal-maker.pem"));
                        let pem = std::fs::read_to_string(&path).with_context(|| {
                            format!("the seal maker's certificate {} (--maker-cert), to check the audit checkpoints", path.display())
                        })?;
                        let cert = sealdesk_pki::Cert::from_pem(&pem)
                            .with_context(|| format!("certificate {}", path.display()))?;
                        for (id, text, sig) in &checkpoints {
                            if !sealdesk_app::checkpoint_signed_by(text, sig, &cert) {
                                println!(
                                    "audit chain BROKEN at checkpoint {id}: its signature is not the seal maker's"
                                );
                                return Ok(ExitCode::from(1));
                            }
                        }
                    }
                    println!(
                        "audit chain intact: {n} entries, {} checkpoints signed by the seal maker",
                        checkpoints.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err((seq, why)) => {
                    println!("audit chain BROKEN at entry {seq}: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Cmd::Project {
            cmd:
                ProjectCmd::Add {
                    data,
                    code,
                    name,
                    price_fen,
                    group,
                },
        } => {
            let store = data.create_and_open(0).await?;
            anyhow::ensure!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric()),
                "--code must be letters and digits"
            );
            let gid = match group {
                Some(g) => Some(group_id(&store, &g).await?),
                None => None,
            };
            let p = store
                .create_project(&code, &name, sealdesk_domain::Fen(price_fen), gid)
                .await?;
            println!("project {} ({}) created", p.code, p.name);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Operator {
            cmd:
                OperatorCmd::Add {
                    data,
                    name,
                    password,
                    admin,
                    roles,
                    group,
                },
        } => {
            let roles = sealdesk_domain::Roles::parse(&roles).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(
                password.chars().count() >= 10,
                "the password must have at least 10 characters"
            );
            let store = data.create_and_open(0).await?;
            let op = store
                .create_operator_with_roles(
                    &name,
                    &sealdesk_app::hash_password(&password)?,
                    admin,
                    roles,
                )
                .await?;
            if let Some(g) = group {
                store
                    .add_to_group(group_id(&store, &g).await?, op.id)
                    .await?;
            }
            println!(
                "operator {} created{} (roles: {})",
                op.name,
                if admin { " (admin)" } else { "" },
                if admin {
                    "all".to_owned()
                } else {
                    roles.codes()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Seal { .. } | Cmd::Artwork { .. } => Ok(ExitCode::SUCCESS),
    }
}
