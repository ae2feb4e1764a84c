//! Where uploaded files live. A local directory by default; an S3-compatible object store in production
//! ([`crate::s3::S3Blobs`]) implements the same trait. [`open`] picks one from a `--blobs` value.

use std::path::PathBuf;

/// A boxed future, so that [`BlobStore`] can be used as a trait object chosen at start-up.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A store of immutable blobs under ASCII keys such as `uploads/123/456`.
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `data` under `key`, atomically.
    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>>;
    /// The blob under `key`.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>>;
    /// Removes the blob (used only to clean up after a failed transaction).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>>;
    /// Every key in the store, sorted (for `sealdesk blobs copy` and backups; not used on request paths).
    fn list(&self) -> BoxFuture<'_, std::io::Result<Vec<String>>>;
}

/// Refuses keys that could climb out of a root or that an object store would percent-encode: keys are made by
/// the platform, but one that is not plain ASCII segments must never reach a disk or a bucket.
pub fn check_key(key: &str) -> std::io::Result<()> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bad blob key {key:?}"),
        ))
    }
}

/// Why a `--blobs` value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `s3://` without a bucket name, or with an empty prefix segment.
    #[error("bad blob store {0:?}: use a directory or s3://BUCKET[/PREFIX]")]
    BadSpec(String),
    /// The S3 client could not be configured (credentials, endpoint).
    #[error("S3 blob store: {0}")]
    S3(String),
}

/// The blob store named by `spec`: `s3://BUCKET[/PREFIX]` (credentials and region from the `AWS_*` environment
/// variables, `endpoint` for S3-compatible servers such as MinIO), or else a local directory.
pub fn open(
    spec: &str,
    endpoint: Option<&str>,
) -> Result<std::sync::Arc<dyn BlobStore>, OpenError> {
    match spec.strip_prefix("s3://") {
        Some(rest) => Ok(std::sync::Arc::new(crate::s3::S3Blobs::new(
            rest, endpoint,
        )?)),
        None if spec.is_empty() => Err(OpenError::BadSpec(spec.into())),
        None => Ok(std::sync::Arc::new(LocalDir::new(spec))),
    }
}

/// What [`copy_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyReport {
    /// Blobs written to the target.
    pub copied: usize,
    /// Blobs the target had already.
    pub present: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Copies every blob of `from` that `to` lacks (moving a platform from a directory to a bucket, or back).
/// Blobs are immutable and written atomically, so a key already in `to` holds the same bytes: running the copy
/// again after an interruption finishes the job without rewriting what is there.
pub async fn copy_all(from: &dyn BlobStore, to: &dyn BlobStore) -> std::io::Result<CopyReport> {
    let have: std::collections::HashSet<String> = to.list().await?.into_iter().collect();
    let mut r = CopyReport::default();
    for key in from.list().await? {
        if have.contains(&key) {
            r.present += 1;
            continue;
        }
        let data = from.get(&key).await?;
        r.bytes += data.len() as u64;
        to.put(&key, data).await?;
        r.copied += 1;
    }
    Ok(r)
}

/// Blobs as files under a directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Blobs under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

impl BlobStore for LocalDir {
    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            tokio::task::spawn_blocking(move || crate::write_atomic(&path, &data))
                .await
                .map_err(std::io::Error::other)?
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>> {
        Box::pin(async move { tokio::fs::read(self.path(key)?).await })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, std::io::Result<Vec<String>>> {
        let root = self.root.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut keys = Vec::new();
                let mut dirs = vec![root.clone()];
                while let Some(dir) = dirs.pop() {
                    let entries = match std::fs::read_dir(&dir) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        other => other?,
                    };
                    for e in entries {
                        let e = e?;
                        let path = e.path();
                        if e.file_type()?.is_dir() {
                            dirs.push(path);
                        } else if let Ok(rel) = path.strip_prefix(&root) {
                            let key = rel.to_string_lossy().replace('\\', "/");
                            // Temporary files of an interrupted atomic write are not blobs.
                            if check_key(&key).is_ok()
                                && !e.file_name().to_string_lossy().starts_with('.')
                            {
                                keys.push(key);
                            }
                        }
                    }
                }
                keys.sort();
                Ok(keys)
            })
            .await
            .map_err(std::io::Error::other)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete_and_no_escape() {
        let dir = std::env::temp_dir().join(format!("sealdesk-blobs-{}", std::process::id()));
        let s = LocalDir::new(&dir);
        s.put("uploads/1/2", b"abc".to_vec()).await.unwrap();
        assert_eq!(s.get("uploads/1/2").await.unwrap(), b"abc");
        s.put("cutouts/9", b"d".to_vec()).await.unwrap();
        assert_eq!(s.list().await.unwrap(), ["cutouts/9", "uploads/1/2"]);
        s.delete("uploads/1/2").await.unwrap();
        assert!(s.get("uploads/1/2").await.is_err());
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a//b", "中文"] {
            assert!(s.put(bad, vec![]).await.is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
