//! 扫描件加密存储: uploads sealed with SM4-GCM in the blob store, legacy plain blobs read and resealed.

use std::sync::Arc;

use sealdesk_adapters::blobs::{BlobStore, LocalDir};
use sealdesk_adapters::sealed_blobs::{Resealed, SealedBlobs, is_upload, reseal_all};
use sealdesk_domain::at_rest::{BLOB_MAGIC, DataKeys};

const OLD: &str = "k1:0123456789abcdeffedcba9876543210";
const NEW: &str = "k2:00112233445566778899aabbccddeeff";

fn scan() -> Vec<u8> {
    let mut s = b"\x89PNG\r\n\x1a\n".to_vec();
    s.extend_from_slice("居民身份证 ID-SCAN-MARKER 110101199003077777".as_bytes());
    s.extend(std::iter::repeat_n(0x42, 4096));
    s
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_upload_is_ciphertext_on_disk_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let raw: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path()));
    let keys = Arc::new(DataKeys::parse(NEW).unwrap());
    let sealed = SealedBlobs::new(raw.clone(), keys, is_upload);
    sealed.put("uploads/7/8", scan()).await.unwrap();
    let on_disk = std::fs::read(dir.path().join("uploads/7/8")).unwrap();
    assert!(on_disk.starts_with(BLOB_MAGIC));
    assert!(!contains(&on_disk, b"ID-SCAN-MARKER"));
    assert!(!contains(&on_disk, b"110101199003077777"));
    assert_eq!(sealed.get("uploads/7/8").await.unwrap(), scan());
    assert_eq!(sealed.list().await.unwrap(), ["uploads/7/8"]);

    // A blob moved to another key does not open; an altered one neither; both are errors, not panics.
    std::fs::create_dir_all(dir.path().join("uploads/7")).unwrap();
    std::fs::write(dir.path().join("uploads/7/9"), &on_disk).unwrap();
    let e = sealed.get("uploads/7/9").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        e.to_string(),
        "blob uploads/7/9: sealed value failed authentication (altered, or moved from another place)"
    );
    let mut bad = on_disk.clone();
    let n = bad.len();
    bad[n - 100] ^= 1;
    std::fs::write(dir.path().join("uploads/7/8"), &bad).unwrap();
    assert_eq!(
        sealed.get("uploads/7/8").await.unwrap_err().kind(),
        std::io::ErrorKind::InvalidData
    );

    // Keys the selector does not pick are stored as given.
    sealed
        .put("exports/x.csv", b"plain".to_vec())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("exports/x.csv")).unwrap(),
        b"plain"
    );
    sealed.delete("exports/x.csv").await.unwrap();
    assert!(!dir.path().join("exports/x.csv").exists());
}

#[tokio::test]
async fn legacy_and_old_key_blobs_read_and_are_resealed_once() {
    let dir = tempfile::tempdir().unwrap();
    let raw: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path()));
    // Before sealing: a plain scan. Then one sealed under the old key.
    raw.put("uploads/1/1", scan()).await.unwrap();
    SealedBlobs::new(
        raw.clone(),
        Arc::new(DataKeys::parse(OLD).unwrap()),
        is_upload,
    )
    .put("uploads/1/2", b"%PDF-1.7 licence LICENCE-MARKER".to_vec())
    .await
    .unwrap();
    raw.put("other/readme", b"not an upload".to_vec())
        .await
        .unwrap();

    let ring = Arc::new(DataKeys::parse(&format!("{NEW},{OLD}")).unwrap());
    let sealed = SealedBlobs::new(raw.clone(), ring.clone(), is_upload);
    assert_eq!(sealed.get("uploads/1/1").await.unwrap(), scan());
    assert_eq!(
        sealed.get("uploads/1/2").await.unwrap(),
        b"%PDF-1.7 licence LICENCE-MARKER"
    );

    assert_eq!(
        reseal_all(raw.as_ref(), &ring, is_upload).await.unwrap(),
        Resealed {
            resealed: 2,
            unchanged: 1
        }
    );
    assert_eq!(
        reseal_all(raw.as_ref(), &ring, is_upload).await.unwrap(),
        Resealed {
            resealed: 0,
            unchanged: 3
        }
    );
    let first = std::fs::read(dir.path().join("uploads/1/1")).unwrap();
    assert!(first.starts_with(BLOB_MAGIC) && !contains(&first, b"ID-SCAN-MARKER"));
    // Now the old key can go.
    let only_new = SealedBlobs::new(
        raw.clone(),
        Arc::new(DataKeys::parse(NEW).unwrap()),
        is_upload,
    );
    assert_eq!(only_new.get("uploads/1/1").await.unwrap(), scan());
    assert_eq!(
        only_new.get("uploads/1/2").await.unwrap(),
        b"%PDF-1.7 licence LICENCE-MARKER"
    );
    assert_eq!(
        std::fs::read(dir.path().join("other/readme")).unwrap(),
        b"not an upload"
    );
}
