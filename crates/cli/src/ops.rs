//! Operations commands: moving blobs between stores, backup and restore.

use std::process::ExitCode;

use anyhow::Context;

/// `sealdesk blobs …`.
#[derive(clap::Subcommand)]
pub enum BlobsCmd {
    /// Copy every blob that TO lacks from FROM (a directory or s3://BUCKET[/PREFIX]); safe to run again after an
    /// interruption. Switch `serve --blobs` to TO afterwards.
    Copy {
        /// Source store.
        from: String,
        /// Target store.
        to: String,
        /// The endpoint of an S3-compatible server, for whichever side is `s3://`.
        #[arg(long, env = "SEALDESK_S3_ENDPOINT")]
        s3_endpoint: Option<String>,
    },
}

pub async fn blobs(cmd: BlobsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BlobsCmd::Copy {
            from,
            to,
            s3_endpoint,
        } => {
            let ep = s3_endpoint.as_deref();
            let src = sealdesk_adapters::blobs::open(&from, ep).with_context(|| from.clone())?;
            let dst = sealdesk_adapters::blobs::open(&to, ep).with_context(|| to.clone())?;
            let r = sealdesk_adapters::blobs::copy_all(src.as_ref(), dst.as_ref())
                .await
                .with_context(|| format!("copy {from} → {to}"))?;
            println!(
                "copied {} blobs ({} bytes); {} already there",
                r.copied, r.bytes, r.present
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `sealdesk backup`.
#[derive(clap::Args)]
pub struct BackupArgs {
    /// The backup directory to create (must not exist or be empty).
    #[arg(long)]
    out: std::path::PathBuf,
    #[command(flatten)]
    data: crate::DataArgs,
    #[command(flatten)]
    blobs: crate::BlobArgs,
}

/// `sealdesk restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup directory made by `sealdesk backup`.
    #[arg(long)]
    from: std::path::PathBuf,
    #[command(flatten)]
    data: crate::DataArgs,
    #[command(flatten)]
    blobs: crate::BlobArgs,
}

/// The file a backup describes itself in.
const MANIFEST: &str = "manifest.json";
const SQLITE_FILE: &str = "sealdesk.db";
const PG_FILE: &str = "postgres.dump";

/// Files under `dir` (recursively), as paths relative to it, sorted.
fn files_under(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        };
        for e in entries {
            let e = e?;
            if e.file_type()?.is_dir() {
                todo.push(e.path());
            } else if let Ok(rel) = e.path().strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn sm3_file(path: &std::path::Path) -> anyhow::Result<String> {
    Ok(sealdesk_adapters::sm3_hex(
        &std::fs::read(path).with_context(|| format!("read {}", path.display()))?,
    ))
}

fn run_tool(cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .with_context(|| format!("run {name} (install the PostgreSQL client tools)"))?;
    anyhow::ensure!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Database first, then blobs, then keys. Blobs are immutable and durable before the row naming them commits,
/// so every blob the database snapshot names exists when the blob copy starts: the backup is consistent while
/// the platform keeps running (blobs newer than the snapshot are copied too and are harmless).
pub async fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    let out = &a.out;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        anyhow::bail!("{} is not empty", out.display());
    }
    let url = a.data.url();
    let store = a.data.open_existing().await?;
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let backend = store.backend();
    let db_file = match backend {
        sealdesk_store::Backend::Sqlite => {
            store.snapshot_sqlite(&out.join(SQLITE_FILE)).await?;
            SQLITE_FILE
        }
        sealdesk_store::Backend::Postgres => {
            // pg_dump takes one snapshot transaction: a consistent point in time of every table.
            run_tool(
                std::process::Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--file"])
                    .arg(out.join(PG_FILE))
                    .arg(&url),
            )?;
            PG_FILE
        }
    };
    let stats = store.stats().await?;
    store.close().await;
    let blobs = a.blobs.open(&a.data.data_dir).context("blob store")?;
    let copied = sealdesk_adapters::blobs::copy_all(
        blobs.as_ref(),
        &sealdesk_adapters::blobs::LocalDir::new(out.join("blobs")),
    )
    .await
    .context("copy blobs")?;
    let pki = a.data.data_dir.join("pki");
    let mut files = serde_json::Map::new();
    files.insert(db_file.into(), sm3_file(&out.join(db_file))?.into());
    for rel in files_under(&pki)? {
        let to = out.join("pki").join(&rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::copy(pki.join(&rel), &to).with_context(|| format!("copy {}", rel.display()))?;
        files.insert(format!("pki/{}", rel.display()), sm3_file(&to)?.into());
    }
    let manifest = serde_json::json!({
        "format": 1,
        "backend": match backend { sealdesk_store::Backend::Sqlite => "sqlite", sealdesk_store::Backend::Postgres => "postgres" },
        "database": db_file,
        "orders": stats.orders_by_state.iter().map(|(_, n)| n).sum::<i64>(),
        "audit_entries": stats.audit_entries,
        "blobs": copied.copied,
        "files": files,
    });
    sealdesk_adapters::write_atomic(
        &out.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    println!(
        "backup written to {}: database ({}), {} blobs ({} bytes), {} key files; {} audit entries",
        out.display(),
        manifest["backend"].as_str().unwrap_or(""),
        copied.copied,
        copied.bytes,
        files.len() - 1,
        stats.audit_entries
    );
    Ok(ExitCode::SUCCESS)
}

/// Into a blank database and a data directory without keys: a restore never overwrites a running platform.
/// Every file is checked against the manifest's SM3 before anything is written, and the audit chain after.
pub async fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let from = &a.from;
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(from.join(MANIFEST))
            .with_context(|| format!("read {}/{MANIFEST}", from.display()))?,
    )
    .context("manifest")?;
    anyhow::ensure!(
        manifest["format"] == 1,
        "unknown backup format {}",
        manifest["format"]
    );
    let files = manifest["files"]
        .as_object()
        .context("manifest has no file list")?;
    for (rel, sum) in files {
        anyhow::ensure!(
            sm3_file(&from.join(rel))? == sum.as_str().unwrap_or(""),
            "{rel} in the backup is damaged (SM3 differs from the manifest)"
        );
    }
    let url = a.data.url();
    anyhow::ensure!(
        sealdesk_store::database_is_blank(&url).await?,
        "the database {} is not empty: restore only into a new database",
        sealdesk_store::redact_url(&url)
    );
    let pki = a.data.data_dir.join("pki");
    anyhow::ensure!(
        files_under(&pki)?.is_empty(),
        "{} already holds keys: restore into a new data directory",
        pki.display()
    );
    let backend = manifest["backend"].as_str().unwrap_or("");
    match (backend, url.starts_with("sqlite:")) {
        ("sqlite", true) => {
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Some(p) = std::path::Path::new(&path).parent() {
                std::fs::create_dir_all(p)?;
            }
            let bytes = std::fs::read(from.join(SQLITE_FILE))?;
            sealdesk_adapters::write_atomic(std::path::Path::new(&path), &bytes)?;
        }
        ("postgres", false) => run_tool(
            std::process::Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(&url)
                .arg(from.join(PG_FILE)),
        )?,
        (b, _) => anyhow::bail!(
            "the backup holds a {b} database but the target is {}: move between backends with the export tools, not restore",
            sealdesk_store::redact_url(&url)
        ),
    }
    // Keys (the maker's, the personal-data keys) are secrets: 0600 from the first byte, as where they came from.
    for rel in files.keys().filter(|k| k.starts_with("pki/")) {
        let to = a.data.data_dir.join(rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)?;
        }
        sealdesk_adapters::write_private(&to, &std::fs::read(from.join(rel))?)?;
    }
    let blobs = a.blobs.open(&a.data.data_dir).context("blob store")?;
    let copied = sealdesk_adapters::blobs::copy_all(
        &sealdesk_adapters::blobs::LocalDir::new(from.join("blobs")),
        blobs.as_ref(),
    )
    .await
    .context("copy blobs")?;
    let store = sealdesk_store::Store::connect(&url, 0)
        .await
        .context("open the restored database")?;
    let verdict = store.verify_audit().await?;
    store.close().await;
    match verdict {
        Ok(n) => {
            println!(
                "restored into {}: {} blobs, audit chain intact: {n} entries",
                sealdesk_store::redact_url(&url),
                copied.copied + copied.present
            );
            Ok(ExitCode::SUCCESS)
        }
        Err((seq, why)) => {
            println!("restored, but the audit chain is BROKEN at entry {seq}: {why}");
            Ok(ExitCode::from(1))
        }
    }
}
