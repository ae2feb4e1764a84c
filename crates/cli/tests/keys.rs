//! `sealdesk keys reencrypt`: a platform from before sealing (order, applicant and upload in clear) is sealed under
//! the configured key, a second run changes nothing, and the keyed store reads everything back.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sealdesk");
const DATA_KEYS: &str = "k1:0123456789abcdeffedcba9876543210";
const INDEX_KEY: &str = "1717171717171717171717171717171717171717171717171717171717171717";

fn reencrypt(dir: &std::path::Path, keys: bool) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(["keys", "reencrypt", "--data-dir", dir.to_str().unwrap()])
        .env_remove("SEALDESK_DATA_KEYS")
        .env_remove("SEALDESK_INDEX_KEY");
    if keys {
        c.env("SEALDESK_DATA_KEYS", DATA_KEYS)
            .env("SEALDESK_INDEX_KEY", INDEX_KEY);
    }
    c.output().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reencrypt_seals_a_platform_from_before_sealing_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let url = format!("sqlite://{}", dir.join("sealdesk.db").display());
    // The platform as an older release left it: everything in clear.
    let order = rt.block_on(async {
        let store = sealdesk_store::Store::connect(&url, 1).await.unwrap();
        let o = sealdesk_store::testing::order_in(
            &store,
            "KEYS",
            "15800001123",
            sealdesk_domain::OrderState::Draft,
        )
        .await;
        store.close().await;
        o
    });
    let blob = dir.join("blobs/uploads/1/2");
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"%PDF-1.7 SCAN-MARKER").unwrap();

    // Without keys there is nothing to seal with: it says where they come from.
    let out = reencrypt(dir, false);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no personal-data keys: set SEALDESK_DATA_KEYS and SEALDESK_INDEX_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        stdout(&reencrypt(dir, true)).trim(),
        "sealed under data key k1: 1 orders, 1 applicants, 0 SMS messages, 0 invoices, 1 uploads rewritten; 0 uploads and other blobs unchanged"
    );
    assert_eq!(
        stdout(&reencrypt(dir, true)).trim(),
        "sealed under data key k1: 0 orders, 0 applicants, 0 SMS messages, 0 invoices, 0 uploads rewritten; 1 uploads and other blobs unchanged"
    );
    let sealed = std::fs::read(&blob).unwrap();
    assert!(sealed.starts_with(b"SDSM4G1\n"));
    assert!(!sealed.windows(12).any(|w| w == b"SCAN-MARKER"));

    rt.block_on(async {
        let keys = sealdesk_store::PiiKeys::new(
            sealdesk_store::DataKeys::parse(DATA_KEYS).unwrap(),
            sealdesk_store::IndexKey::from_hex(INDEX_KEY).unwrap(),
        );
        let store = sealdesk_store::Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys);
        assert_eq!(store.order(order.id).await.unwrap(), order);
        assert_eq!(
            store.applicant_for_mobile("15800001123").await.unwrap(),
            order.applicant_id
        );
        assert_eq!(
            store.applicant_mobile(order.applicant_id).await.unwrap(),
            "15800001123"
        );
        store.close().await;
    });
}
