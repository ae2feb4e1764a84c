//! Where uploaded files live. A local directory by default; an S3-compatible store in production (issue: production
//! scale) implements the same trait.

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
        // Keys are made by the platform, but a key that could climb out of the root must never reach the disk.
        let ok = !key.is_empty()
            && key
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        if !ok {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad blob key {key:?}"),
            ));
        }
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
        s.delete("uploads/1/2").await.unwrap();
        assert!(s.get("uploads/1/2").await.is_err());
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a//b", "中文"] {
            assert!(s.put(bad, vec![]).await.is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
