//! The S3 blob store against a real S3-protocol server (moto, started here): put, get, list, delete, prefixes
//! that keep tenants apart, missing blobs as `NotFound`, and the same trait object the platform uses.

use sealdesk_adapters::blobs::{BlobStore, CopyReport, LocalDir, copy_all};
use sealdesk_adapters::s3::S3Blobs;
use sealdesk_adapters::s3::testing::{KEYS, S3Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blobs_put_get_list_delete_on_a_real_s3_server() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("sealdesk-test");
    let a =
        S3Blobs::with_keys("sealdesk-test/tenant-a", Some(&server.endpoint), Some(KEYS)).unwrap();
    let b =
        S3Blobs::with_keys("sealdesk-test/tenant-b", Some(&server.endpoint), Some(KEYS)).unwrap();
    let whole = S3Blobs::with_keys("sealdesk-test", Some(&server.endpoint), Some(KEYS)).unwrap();

    // A 500 KB scan-sized blob and a small one, through the trait object as the app holds it.
    let big: Vec<u8> = (0..500 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let store: &dyn BlobStore = &a;
    store.put("uploads/1/10", big.clone()).await.unwrap();
    store.put("uploads/1/11", b"small".to_vec()).await.unwrap();
    b.put("uploads/1/10", b"other tenant".to_vec())
        .await
        .unwrap();

    assert_eq!(store.get("uploads/1/10").await.unwrap(), big);
    assert_eq!(b.get("uploads/1/10").await.unwrap(), b"other tenant");
    assert_eq!(
        store.list().await.unwrap(),
        ["uploads/1/10", "uploads/1/11"]
    );
    assert_eq!(
        whole.list().await.unwrap(),
        [
            "tenant-a/uploads/1/10",
            "tenant-a/uploads/1/11",
            "tenant-b/uploads/1/10"
        ]
    );

    let missing = store.get("uploads/9/9").await.unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound, "{missing}");
    store.delete("uploads/1/11").await.unwrap();
    store.delete("uploads/1/11").await.unwrap(); // deleting twice is not an error (clean-up paths retry)
    assert_eq!(
        store.get("uploads/1/11").await.unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    let bad = store.put("../escape", vec![1]).await.unwrap_err();
    assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput);

    // A bucket that does not exist is an error, not an empty store.
    let nowhere = S3Blobs::with_keys("no-such-bucket", Some(&server.endpoint), Some(KEYS)).unwrap();
    assert!(nowhere.put("uploads/1/1", vec![1]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_all_moves_a_directory_into_a_bucket_and_resumes_without_rewriting() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.create_bucket("copy-target");
    let dir = tempfile::tempdir().unwrap();
    let local = LocalDir::new(dir.path());
    for (k, v) in [
        ("uploads/5/1", b"one".to_vec()),
        ("uploads/6/2", vec![0u8; 70_000]),
    ] {
        local.put(k, v).await.unwrap();
    }
    let s3 = S3Blobs::with_keys("copy-target", Some(&server.endpoint), Some(KEYS)).unwrap();
    // As if an earlier copy had stopped after the first blob.
    s3.put("uploads/5/1", b"one".to_vec()).await.unwrap();
    let r = copy_all(&local, &s3).await.unwrap();
    assert_eq!(
        r,
        CopyReport {
            copied: 1,
            present: 1,
            bytes: 70_000
        }
    );
    assert_eq!(s3.list().await.unwrap(), local.list().await.unwrap());
    assert_eq!(s3.get("uploads/6/2").await.unwrap(), vec![0u8; 70_000]);
    // And back out of the bucket into an empty directory.
    let back_dir = tempfile::tempdir().unwrap();
    let back = LocalDir::new(back_dir.path());
    assert_eq!(copy_all(&s3, &back).await.unwrap().copied, 2);
    assert_eq!(back.get("uploads/5/1").await.unwrap(), b"one");
}
