//! 扫描件加密存储: a [`BlobStore`] that seals what it stores with SM4-GCM (`sealdesk_domain::at_rest`) over any
//! other one, so that the ID-card, licence and 印模采集表 scans on disk or in a bucket are ciphertext.
//!
//! Each blob is sealed under the ring's current key with a fresh random nonce and its key as the associated
//! data: a sealed blob copied under another key does not open. Blobs stored before sealing existed (no magic
//! header) are returned as they are, and [`reseal_all`] (`sealdesk keys reencrypt`) rewrites them. Which keys are
//! sealed is the caller's choice ([`SealedBlobs::new`] takes a predicate): `serve` seals the uploads.

use std::sync::Arc;

use sealdesk_domain::at_rest::{DataKeys, NONCE_LEN};

use crate::blobs::{BlobStore, BoxFuture};

/// Decides which blob keys are sealed.
pub type Selector = fn(&str) -> bool;

/// The keys of uploaded files (`uploads/<order>/<upload>`), as `sealdesk-app` names them.
pub fn is_upload(key: &str) -> bool {
    key.starts_with("uploads/")
}

/// A blob store that seals the blobs of the keys `select` picks, in `inner`.
pub struct SealedBlobs {
    inner: Arc<dyn BlobStore>,
    keys: Arc<DataKeys>,
    select: Selector,
}

impl SealedBlobs {
    /// Seals the blobs `select` picks with `keys` (current key first) in `inner`.
    pub fn new(inner: Arc<dyn BlobStore>, keys: Arc<DataKeys>, select: Selector) -> SealedBlobs {
        SealedBlobs {
            inner,
            keys,
            select,
        }
    }
}

/// The associated data of a blob: its key in the store.
fn place(key: &str) -> String {
    format!("blob:{key}")
}

fn nonce() -> [u8; NONCE_LEN] {
    crate::random_bytes::<NONCE_LEN>()
}

fn open_error(key: &str, e: sealdesk_domain::at_rest::OpenError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("blob {key}: {e}"))
}

impl BlobStore for SealedBlobs {
    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>> {
        let data = if (self.select)(key) {
            self.keys.seal_blob(&place(key), &data, nonce())
        } else {
            data
        };
        self.inner.put(key, data)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>> {
        Box::pin(async move {
            let stored = self.inner.get(key).await?;
            // Every key is opened when sealed, picked or not: what was sealed once stays readable if the
            // selection changes.
            self.keys
                .open_blob(&place(key), stored)
                .map_err(|e| open_error(key, e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        self.inner.delete(key)
    }

    fn list(&self) -> BoxFuture<'_, std::io::Result<Vec<String>>> {
        self.inner.list()
    }
}

/// What [`reseal_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resealed {
    /// Blobs sealed anew under the current key (plain ones and ones under an older key).
    pub resealed: usize,
    /// Blobs already sealed under the current key, or not picked.
    pub unchanged: usize,
}

/// Seals every picked blob of `raw` that is plain or sealed under an older key anew under the current key.
/// Idempotent; a blob is rewritten atomically by the store's `put`, so an interrupted run leaves each blob
/// whole, old or new, and running it again finishes.
pub async fn reseal_all(
    raw: &dyn BlobStore,
    keys: &DataKeys,
    select: Selector,
) -> std::io::Result<Resealed> {
    let mut r = Resealed::default();
    for key in raw.list().await? {
        if !select(&key) {
            r.unchanged += 1;
            continue;
        }
        let stored = raw.get(&key).await?;
        if !keys.blob_is_stale(&stored) {
            r.unchanged += 1;
            continue;
        }
        let plain = keys
            .open_blob(&place(&key), stored)
            .map_err(|e| open_error(&key, e))?;
        raw.put(&key, keys.seal_blob(&place(&key), &plain, nonce()))
            .await?;
        r.resealed += 1;
    }
    Ok(r)
}
