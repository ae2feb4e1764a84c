//! SealDesk's adapters to the outside world that are not the database: the blob store for uploads (a local
//! directory or an S3-compatible bucket), the platform's keys and demo CA on disk, payment gateways, and the
//! soft UKey token.
//!
//! Each module is a small trait or type with a real implementation; nothing here knows about orders' workflow
//! (that is `sealdesk-app`) or SQL (that is `sealdesk-store`).
#![deny(missing_docs)]

pub mod blobs;
pub mod keys;
pub mod ocr;
pub mod pay;
pub mod s3;
pub mod sealed_blobs;
pub mod token;

/// Installs ring as the process's TLS provider. reqwest is built without a bundled provider (feature
/// unification makes every reqwest client in the workspace need one), so each process that makes HTTP clients
/// calls this first; a second call finds it installed, which is fine.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // getrandom fails only where the OS has no random source at all; continuing with zeros would be worse.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut b).expect("operating system random source");
    b
}

/// SM3 of `data`, lower-case hex.
pub fn sm3_hex(data: &[u8]) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(data))
}

/// Writes a file atomically and durably: to a temporary name beside it, fsynced, renamed over, then the directory
/// fsynced. A crash leaves the old file or the new one, never half of one; and once this returns, the file
/// survives a power cut, so a database row naming it may commit (uploads rely on that order).
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// [`write_atomic`] for secrets: the file is created readable by its owner only (0600) from its first byte, never
/// written wider and narrowed afterwards.
pub fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, data, 0o600)
}

fn write_atomic_mode(path: &std::path::Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    // Directories made here (uploads/<order>/) must themselves be durable entries of their parents.
    let mut made = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty() && !d.exists() {
        made.push(d.to_path_buf());
        d = d.parent().unwrap_or(std::path::Path::new(""));
    }
    std::fs::create_dir_all(dir)?;
    for m in made.iter().rev() {
        if let Some(parent) = m.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        hex::encode(random_bytes::<6>())
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Makes a directory's entries (a rename, a new file) durable. Directories cannot be opened for fsync on every
/// platform; there the rename is as durable as the OS makes it.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
