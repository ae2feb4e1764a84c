//! 个人信息加密存储: the SM4-GCM primitive against published vectors and the `openssl` command, and the sealed
//! text and blob formats of `sealdesk_domain::at_rest` (key ring, place binding, typed errors, legacy values).

use sealdesk_domain::at_rest::{
    BLOB_MAGIC, DataKey, DataKeys, IndexKey, KeyError, OpenError, normalise_mobile, sm4_gcm_open,
    sm4_gcm_seal,
};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// GB/T 32907-2016 appendix A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210; and example 2, the
/// same block encrypted 1,000,000 times.
#[test]
fn sm4_block_matches_the_standard_examples() {
    use sm4::cipher::{BlockCipherEncrypt, KeyInit};
    let key = unhex("0123456789abcdeffedcba9876543210");
    let c = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(key.as_slice()).unwrap();
    c.encrypt_block(&mut block);
    assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    for _ in 1..1_000_000 {
        c.encrypt_block(&mut block);
    }
    assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
}

/// RFC 8998 appendix A.1 (SM4-GCM), reproduced independently with OpenSSL 3's SM4-GCM before it was written here.
#[test]
fn sm4_gcm_matches_rfc_8998() {
    let key: [u8; 16] = unhex("0123456789ABCDEFFEDCBA9876543210")
        .try_into()
        .unwrap();
    let nonce: [u8; 12] = unhex("00001234567800000000ABCD").try_into().unwrap();
    let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    let plain = unhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    );
    let sealed = sm4_gcm_seal(&key, &nonce, &aad, &plain);
    assert_eq!(
        hex::encode_upper(&sealed),
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
         83DE3541E4C2B58177E065A9BF7B62EC"
    );
    assert_eq!(sm4_gcm_open(&key, &nonce, &aad, &sealed).unwrap(), plain);
    let mut bad = sealed.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        sm4_gcm_open(&key, &nonce, &aad, &bad),
        Err(OpenError::Tampered)
    );
    assert_eq!(
        sm4_gcm_open(&key, &nonce, b"other place", &sealed),
        Err(OpenError::Tampered)
    );
}

/// GCM's ciphertext is SM4-CTR from the counter block nonce ‖ 00000002: the `openssl` command (which has no GCM
/// in `enc`) computes it from the same key, so the block cipher and the counter layout are checked against a
/// second implementation on a value of our own. A missing `openssl` or one without SM4 fails the test.
#[test]
fn sm4_gcm_ciphertext_is_openssl_sm4_ctr() {
    let key = [0x5au8; 16];
    let nonce = [0x11u8; 12];
    let plain = "身份证号码 110101199003077777 手机 15800001123 — 印模采集表".repeat(3);
    let sealed = sm4_gcm_seal(&key, &nonce, b"orders.1.holder.id_number", plain.as_bytes());
    let mut iv = nonce.to_vec();
    iv.extend_from_slice(&[0, 0, 0, 2]);
    let mut child = std::process::Command::new("openssl")
        .args([
            "enc",
            "-sm4-ctr",
            "-nosalt",
            "-K",
            &hex::encode(key),
            "-iv",
            &hex::encode(&iv),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl command");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), plain.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, sealed[..plain.len()]);
}

fn ring() -> DataKeys {
    DataKeys::parse("k2:00112233445566778899aabbccddeeff, k1:0123456789abcdeffedcba9876543210")
        .unwrap()
}

#[test]
fn a_text_round_trips_and_is_bound_to_its_place() {
    let r = ring();
    let s = r.seal_text("orders.1.holder.mobile", "15800001123", [7; 12]);
    assert!(s.starts_with("sm4gcm:k2:"), "{s}");
    assert!(!s.contains("15800001123"));
    assert_eq!(
        r.open_text("orders.1.holder.mobile", &s).unwrap(),
        "15800001123"
    );
    // The same ciphertext in another row or column does not open.
    assert_eq!(
        r.open_text("orders.2.holder.mobile", &s),
        Err(OpenError::Tampered)
    );
    assert_eq!(
        r.open_text("orders.1.holder.id_number", &s),
        Err(OpenError::Tampered)
    );
    // Fresh nonces make the same value seal differently.
    assert_ne!(
        s,
        r.seal_text("orders.1.holder.mobile", "15800001123", [8; 12])
    );
    assert!(!r.text_is_stale(&s));
}

#[test]
fn tampered_unknown_and_malformed_texts_are_typed_errors() {
    use base64::Engine;
    let r = ring();
    let s = r.seal_text("p", "110101199003077777", [1; 12]);
    let body = s.strip_prefix("sm4gcm:k2:").unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    raw[14] ^= 0x01;
    let flipped = format!(
        "sm4gcm:k2:{}",
        base64::engine::general_purpose::STANDARD.encode(&raw)
    );
    assert_eq!(r.open_text("p", &flipped), Err(OpenError::Tampered));
    assert_eq!(
        r.open_text("p", &format!("sm4gcm:k9:{body}")),
        Err(OpenError::UnknownKey("k9".into()))
    );
    // Another key of the ring does not open it either: the tag fails.
    assert_eq!(
        r.open_text("p", &format!("sm4gcm:k1:{body}")),
        Err(OpenError::Tampered)
    );
    for bad in [
        "sm4gcm:",
        "sm4gcm:k2",
        "sm4gcm:k2:!!",
        "sm4gcm:k2:AAAA",
        "sm4gcm:k/2:AAAA",
    ] {
        assert_eq!(r.open_text("p", bad), Err(OpenError::Malformed), "{bad}");
    }
}

#[test]
fn an_old_key_reads_and_the_value_is_stale_until_resealed() {
    let old = DataKeys::parse("k1:0123456789abcdeffedcba9876543210").unwrap();
    let s = old.seal_text("applicants.5.mobile", "13912345678", [3; 12]);
    let r = ring();
    assert_eq!(
        r.open_text("applicants.5.mobile", &s).unwrap(),
        "13912345678"
    );
    assert!(r.text_is_stale(&s));
    let again = r.seal_text("applicants.5.mobile", "13912345678", [4; 12]);
    assert!(again.starts_with("sm4gcm:k2:"));
    assert!(!r.text_is_stale(&again));
    // Without k1 the old value cannot be read: the key must stay until `keys reencrypt` has run.
    let only_new = DataKeys::parse("k2:00112233445566778899aabbccddeeff").unwrap();
    assert_eq!(
        only_new.open_text("applicants.5.mobile", &s),
        Err(OpenError::UnknownKey("k1".into()))
    );
}

#[test]
fn plain_legacy_values_read_as_they_are_and_are_stale() {
    let r = ring();
    assert_eq!(r.open_text("p", "15800001123").unwrap(), "15800001123");
    assert_eq!(r.open_text("p", "").unwrap(), "");
    assert!(r.text_is_stale("15800001123"));
    assert_eq!(
        r.open_blob("b", b"%PDF-1.7 scan".to_vec()).unwrap(),
        b"%PDF-1.7 scan"
    );
    assert!(r.blob_is_stale(b"%PDF-1.7 scan"));
}

#[test]
fn blobs_round_trip_with_the_magic_and_refuse_tampering() {
    let r = ring();
    let scan = b"\x89PNG\r\n\x1a\n ID-CARD-MARKER 110101199003077777".to_vec();
    let sealed = r.seal_blob("uploads/1/2", &scan, [9; 12]);
    assert!(sealed.starts_with(BLOB_MAGIC));
    assert!(!sealed.windows(14).any(|w| w == b"ID-CARD-MARKER"));
    assert!(!r.blob_is_stale(&sealed));
    assert_eq!(r.open_blob("uploads/1/2", sealed.clone()).unwrap(), scan);
    assert_eq!(
        r.open_blob("uploads/1/3", sealed.clone()),
        Err(OpenError::Tampered)
    );
    let mut bad = sealed.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x80;
    assert_eq!(r.open_blob("uploads/1/2", bad), Err(OpenError::Tampered));
    assert_eq!(
        r.open_blob("uploads/1/2", sealed[..BLOB_MAGIC.len() + 5].to_vec()),
        Err(OpenError::Malformed)
    );
    let other = DataKeys::parse("k7:00000000000000000000000000000000").unwrap();
    assert_eq!(
        other.open_blob("uploads/1/2", sealed),
        Err(OpenError::UnknownKey("k2".into()))
    );
}

#[test]
fn key_configuration_errors_are_exact() {
    assert_eq!(DataKeys::parse(" , ").unwrap_err(), KeyError::Empty);
    assert_eq!(
        DataKeys::parse("k1:00").unwrap_err(),
        KeyError::BadKey("k1".into(), 32)
    );
    assert_eq!(
        DataKeys::parse("0123456789abcdeffedcba9876543210").unwrap_err(),
        KeyError::BadEntry("01234567".into())
    );
    assert_eq!(
        DataKeys::parse("k:1:0123456789abcdeffedcba9876543210").unwrap_err(),
        KeyError::BadKey("k".into(), 32)
    );
    assert_eq!(
        DataKeys::parse("a b:0123456789abcdeffedcba9876543210").unwrap_err(),
        KeyError::BadKeyId("a b".into())
    );
    assert_eq!(
        DataKeys::parse("k1:0123456789abcdeffedcba9876543210,k1:00112233445566778899aabbccddeeff")
            .unwrap_err(),
        KeyError::DuplicateKeyId("k1".into())
    );
    assert_eq!(
        IndexKey::new(vec![1; 31]).unwrap_err(),
        KeyError::ShortIndexKey(31)
    );
    let r = ring();
    assert_eq!(r.kids(), ["k2", "k1"]);
    assert_eq!(r.current().kid(), "k2");
    // Debug output names the key, never its bytes.
    let dbg = format!(
        "{:?}",
        DataKey::from_hex("k1", "0123456789abcdeffedcba9876543210").unwrap()
    );
    assert!(
        dbg.contains("k1") && !dbg.to_lowercase().contains("0123456789abcdef"),
        "{dbg}"
    );
}

#[test]
fn the_blind_index_is_keyed_deterministic_and_normalised() {
    let a = IndexKey::new(vec![1; 32]).unwrap();
    let b = IndexKey::new(vec![2; 32]).unwrap();
    let i = a.mobile("15800001123");
    assert_eq!(i.len(), 64);
    assert!(i.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(i, a.mobile("158 0000 1123"));
    assert_eq!(i, a.mobile("+86 158-0000-1123"));
    assert_ne!(i, b.mobile("15800001123"));
    assert_ne!(i, a.mobile("15800001124"));
    assert_ne!(i, a.index("id_number", "15800001123"));
    assert_eq!(normalise_mobile("+86 15800001123"), "15800001123");
    assert_eq!(normalise_mobile("8615800001123"), "15800001123");
    assert_eq!(normalise_mobile("86123"), "86123");
    assert_eq!(
        IndexKey::from_hex(&"ab".repeat(32)).unwrap().mobile("1"),
        IndexKey::new(vec![0xab; 32]).unwrap().mobile("1")
    );
}
