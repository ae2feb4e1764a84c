//! 个人信息加密存储的密钥: the SM4 data keys and the blind-index key from the configuration or the data
//! directory, and `sealdesk keys reencrypt`, which seals every personal value and upload under the current key.
//!
//! Configuration wins: `SEALDESK_DATA_KEYS` (`kid:32-hex,kid:32-hex`, the first is current) with
//! `SEALDESK_INDEX_KEY` (hex, at least 32 bytes). Without them `serve` keeps `pki/data-keys` and `pki/index-key`
//! in the data directory, created once, 0600 from their first byte like the other keys there, and carried by
//! `sealdesk backup`. Several instances must be given the same keys (the store checks, see
//! `Store::confirm_data_keys`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sealdesk_store::{DataKeys, IndexKey, PiiKeys};
use zeroize::Zeroizing;

/// The file of the data-key ring in the data directory (one line, the `SEALDESK_DATA_KEYS` syntax).
const DATA_KEYS_FILE: &str = "pki/data-keys";
/// The file of the blind-index key in the data directory (hex).
const INDEX_KEY_FILE: &str = "pki/index-key";

/// Where the personal-data keys come from; shared by `serve` and `keys reencrypt`.
#[derive(clap::Args, Clone, Default)]
pub struct PiiArgs {
    /// The SM4 keys personal data is sealed with: `kid:32-hex-digits`, comma-separated, the first one current
    /// (older ones only read until `sealdesk keys reencrypt` has run). Default: the data directory's
    /// `pki/data-keys`, created on first start.
    #[arg(long, env = "SEALDESK_DATA_KEYS", hide_env_values = true)]
    pub data_keys: Option<String>,
    /// The blind-index key (HMAC-SM3, hex, at least 32 bytes) that mobile numbers are looked up by. Default: the
    /// data directory's `pki/index-key`, created on first start.
    #[arg(long, env = "SEALDESK_INDEX_KEY", hide_env_values = true)]
    pub index_key: Option<String>,
}

/// The two key texts: the ring's spec and the index key's hex.
struct KeyTexts {
    data: Zeroizing<String>,
    index: Zeroizing<String>,
    /// Where they were read from, for the start-up banner.
    source: String,
}

fn read_secret(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

/// The key texts from the configuration, or the data directory's files, made when `create` and absent.
fn texts(a: &PiiArgs, data_dir: &Path, create: bool) -> anyhow::Result<KeyTexts> {
    match (&a.data_keys, &a.index_key) {
        (Some(d), Some(i)) => {
            return Ok(KeyTexts {
                data: Zeroizing::new(d.clone()),
                index: Zeroizing::new(i.clone()),
                source: "SEALDESK_DATA_KEYS, SEALDESK_INDEX_KEY".into(),
            });
        }
        (Some(_), None) | (None, Some(_)) => anyhow::bail!(
            "give both SEALDESK_DATA_KEYS and SEALDESK_INDEX_KEY, or neither (then the data directory's key files are used)"
        ),
        (None, None) => {}
    }
    let (dp, ip): (PathBuf, PathBuf) =
        (data_dir.join(DATA_KEYS_FILE), data_dir.join(INDEX_KEY_FILE));
    if !dp.exists() && !ip.exists() {
        anyhow::ensure!(
            create,
            "no personal-data keys: set SEALDESK_DATA_KEYS and SEALDESK_INDEX_KEY, or run `sealdesk serve` once with this data directory (it creates {} and {})",
            dp.display(),
            ip.display()
        );
        let data = Zeroizing::new(format!(
            "k1:{}",
            hex::encode(sealdesk_adapters::random_bytes::<16>())
        ));
        let index = Zeroizing::new(hex::encode(sealdesk_adapters::random_bytes::<32>()));
        sealdesk_adapters::write_private(&dp, format!("{}\n", *data).as_bytes())
            .with_context(|| format!("write {}", dp.display()))?;
        sealdesk_adapters::write_private(&ip, format!("{}\n", *index).as_bytes())
            .with_context(|| format!("write {}", ip.display()))?;
    }
    Ok(KeyTexts {
        data: read_secret(&dp)?,
        index: read_secret(&ip)?,
        source: format!("{}, {}", dp.display(), ip.display()),
    })
}

/// The loaded keys: the store's and a second copy of the ring for the blob layer (keys are not cloneable, so
/// that a copy is never made by accident).
pub struct Loaded {
    pub store: PiiKeys,
    pub blobs: Arc<DataKeys>,
    pub source: String,
}

/// Loads the personal-data keys (creating the data directory's files when `create` and there are none).
pub fn load(a: &PiiArgs, data_dir: &Path, create: bool) -> anyhow::Result<Loaded> {
    let t = texts(a, data_dir, create)?;
    let ring =
        || DataKeys::parse(&t.data).context("the data keys (SEALDESK_DATA_KEYS or pki/data-keys)");
    let index = IndexKey::from_hex(&t.index)
        .context("the index key (SEALDESK_INDEX_KEY or pki/index-key)")?;
    Ok(Loaded {
        store: PiiKeys::new(ring()?, index),
        blobs: Arc::new(ring()?),
        source: t.source,
    })
}

/// `sealdesk keys …`.
#[derive(clap::Subcommand)]
pub enum KeysCmd {
    /// Seal every personal value (ID numbers, mobile numbers) and every upload that is still in clear or sealed
    /// under an older key anew under the current key, and fill the lookup columns of rows from before sealing.
    /// Safe while servers run; running it again changes nothing. Then older keys can be dropped.
    Reencrypt {
        #[command(flatten)]
        data: crate::DataArgs,
        #[command(flatten)]
        blobs: crate::BlobArgs,
        #[command(flatten)]
        keys: PiiArgs,
    },
}

pub async fn run(cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCmd::Reencrypt { data, blobs, keys } => {
            let loaded = load(&keys, &data.data_dir, false)?;
            let current = loaded.store.data().current().kid().to_owned();
            let store = data.open_existing().await?.with_data_keys(loaded.store);
            store.confirm_data_keys().await?;
            let rows = store.reencrypt_personal_data().await?;
            store.close().await;
            let raw = blobs.open(&data.data_dir).context("blob store")?;
            let files = sealdesk_adapters::sealed_blobs::reseal_all(
                raw.as_ref(),
                &loaded.blobs,
                sealdesk_adapters::sealed_blobs::is_upload,
            )
            .await
            .context("reseal the uploads")?;
            println!(
                "sealed under data key {current}: {} orders, {} applicants, {} SMS messages, {} invoices, {} uploads rewritten; {} uploads and other blobs unchanged{}",
                rows.orders,
                rows.applicants,
                rows.sms,
                rows.invoices,
                files.resealed,
                files.unchanged,
                if rows.raced > 0 {
                    format!(
                        "; {} rows changed meanwhile by a server (run again to check them)",
                        rows.raced
                    )
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
