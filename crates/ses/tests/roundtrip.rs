//! Round trips (make → verify, make → parse → re-emit identical bytes) and tampering: changing any byte of a
//! signed part must fail verification.

mod common;

use common::*;
use proptest::prelude::*;
use sealdesk_ses::{
    CertDigest, CertList, ExtData, MakeOptions, Parsed, Version, encode_seal, make_seal_with,
    parse, verify_seal,
};

fn seal_of(bytes: &[u8]) -> sealdesk_ses::Seal {
    match parse(bytes).unwrap() {
        Parsed::Seal(s) => s,
        Parsed::Signature(_) => panic!("not a seal"),
    }
}

#[test]
fn made_seal_verifies_with_every_check() {
    let seal = made_seal();
    let r = verify_seal(&seal, &trusted(T0 + 86_400));
    assert!(r.valid, "{r:#?}");
    assert!(r.checks.iter().all(|c| c.ok == Some(true)), "{r:#?}");
    assert_eq!(r.exit_code(), 0);
    let s = seal_of(&seal);
    assert_eq!(s.version, Version::V4);
    assert_eq!(s.header.version, 4);
    assert_eq!(s.property.create_date.text, "20270101000000Z");
    assert_eq!(s.property.cert_list_type, Some(1));
    assert_eq!(s.signed_bytes(), &seal[4..4 + s.signed_bytes().len()]);
    // the maker signature is DER SEQUENCE{r,s} in the BIT STRING
    assert_eq!(s.signed_value[0], 0x30);
    sealdesk_ses::verify_maker_signature(&seal, &key("maker.key").verifying_key().into()).unwrap();
    assert!(
        sealdesk_ses::verify_maker_signature(&seal, &key("signer.key").verifying_key().into())
            .is_err()
    );
}

#[test]
fn made_seal_reemits_identically() {
    let seal = made_seal();
    assert_eq!(encode_seal(&seal_of(&seal)).unwrap(), seal);
}

#[test]
fn v5_with_timestamp_and_digest_list_round_trip() {
    let mut req = request();
    req.cert_list = CertList::Digests(vec![CertDigest {
        kind: "SM3".into(),
        value: sealdesk_ses::sm3(&cert("signer.pem")).to_vec(),
    }]);
    req.ext_datas = vec![
        ExtData {
            oid: "1.2.156.112600.7.1".into(),
            critical: false,
            value: "91310000MA1FL0000X".as_bytes().to_vec(),
        },
        ExtData {
            oid: "1.3.6.1.4.1.99999.1".into(),
            critical: true,
            value: vec![1, 2, 3],
        },
    ];
    let opts = MakeOptions {
        version: Version::V5,
        time_stamp: Some(vec![0x30, 0x00]),
    };
    let seal = make_seal_with(&req, &cert("maker.pem"), &key("maker.key"), &opts).unwrap();
    let s = seal_of(&seal);
    assert_eq!(s.version, Version::V5);
    assert_eq!(s.time_stamp.as_deref(), Some(&[0x30u8, 0x00][..]));
    assert_eq!(s.ext_datas, req.ext_datas);
    assert_eq!(s.property.cert_list, req.cert_list);
    assert_eq!(encode_seal(&s).unwrap(), seal);
    assert!(verify_seal(&seal, &trusted(T0 + 1)).valid);
}

#[test]
fn canonical_vendor_seal_reemits_identically_and_lenient_one_does_not() {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ses/ofdrw_ofdrw/"
    );
    let v4 = std::fs::read(format!("{base}UserV4.esl")).unwrap();
    assert_eq!(
        encode_seal(&seal_of(&v4)).unwrap(),
        v4,
        "ofdrw's UserV4 is canonical DER"
    );
    // HebeiGede writes `critical FALSE` explicitly (not DER): the canonical form differs, which is exactly why
    // verification works on the stored bytes and never re-encodes.
    let gede = std::fs::read(format!("{base}SESealData.DER")).unwrap();
    let again = encode_seal(&seal_of(&gede)).unwrap();
    assert_ne!(again, gede);
    assert_eq!(seal_of(&again).ext_datas, seal_of(&gede).ext_datas);
}

/// Flips every byte of `range` in `seal` and expects verification to fail each time.
fn assert_every_flip_fails(seal: &[u8], range: std::ops::Range<usize>, at: i64) {
    let opts = trusted(at);
    for i in range {
        let mut t = seal.to_vec();
        t[i] ^= 0x01;
        let r = verify_seal(&t, &opts);
        assert!(
            !r.valid,
            "flipping byte {i} of {} still verifies: {r:#?}",
            seal.len()
        );
    }
}

#[test]
fn tampering_any_signed_byte_fails() {
    let seal = made_seal();
    let s = seal_of(&seal);
    let start = 4; // outer SEQUENCE header of a seal between 256 B and 64 KB
    assert_every_flip_fails(&seal, start..start + s.signed_bytes().len(), T0 + 1);
    // and the signature value itself
    let sig_at = seal.len() - s.signed_value.len();
    assert_every_flip_fails(&seal, sig_at..seal.len(), T0 + 1);
}

#[test]
fn tampering_vector_signed_parts_fails() {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ses/ofdrw_ofdrw/"
    );
    // V1: maker certificate and algorithm are signed too, so every byte of the seal before signData counts.
    let v1 = std::fs::read(format!("{base}UserV1.esl")).unwrap();
    let s = seal_of(&v1);
    let at = s.property.valid_start.unix + 1;
    let opts = sealdesk_ses::VerifyOptions {
        trust: vec![],
        at,
        check_chain: false,
    };
    assert!(verify_seal(&v1, &opts).valid);
    let end = v1.len() - s.signed_value.len() - 4;
    for i in (4..end).step_by(97).chain(end - 600..end) {
        let mut t = v1.clone();
        t[i] ^= 0x80;
        assert!(!verify_seal(&t, &opts).valid, "V1 byte {i}");
    }
    // A V4 signature: bytes of TBS_Sign (including the embedded seal) are covered.
    let sv = std::fs::read(format!("{base}SignedValueV4.dat")).unwrap();
    let Parsed::Signature(sig) = parse(&sv).unwrap() else {
        panic!()
    };
    let opts = sealdesk_ses::VerifyOptions {
        trust: vec![],
        at: 0,
        check_chain: false,
    };
    assert!(verify_seal(&sv, &opts).valid);
    let tbs = sig.signed_bytes().len();
    for i in (4..4 + tbs).step_by(131).chain(4 + tbs - 300..4 + tbs) {
        let mut t = sv.clone();
        t[i] ^= 0x04;
        assert!(!verify_seal(&t, &opts).valid, "signature byte {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_request_round_trips(
        name in "\\PC{1,40}",
        es_id in "[A-Za-z0-9]{1,32}",
        vid in "[ -~]{0,20}",
        seal_type in 1i64..100,
        start in 0i64..4_000_000_000,
        span in 1i64..400_000_000,
        w in 1i64..200,
        h in 1i64..200,
        ext in proptest::collection::vec((1u32..1000, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..3),
    ) {
        prop_assume!(!name.trim().is_empty());
        let mut req = request();
        req.name = name;
        req.es_id = es_id;
        req.vid = vid;
        req.seal_type = seal_type;
        req.create_date = start;
        req.valid_start = start;
        req.valid_end = start + span;
        req.picture.width_mm = w;
        req.picture.height_mm = h;
        req.ext_datas = ext.into_iter().map(|(arc, critical, value)| ExtData { oid: format!("1.2.156.{arc}"), critical, value }).collect();
        let seal = sealdesk_ses::make_seal(&req, &cert("maker.pem"), &key("maker.key")).unwrap();
        let s = seal_of(&seal);
        prop_assert_eq!(&s.property.name, &req.name);
        prop_assert_eq!(&s.es_id, &req.es_id);
        prop_assert_eq!(s.property.valid_end.unix, req.valid_end);
        prop_assert_eq!(&s.ext_datas, &req.ext_datas);
        prop_assert_eq!(encode_seal(&s).unwrap(), seal.clone());
        let opts = sealdesk_ses::VerifyOptions { trust: vec![], at: start, check_chain: false };
        let r = verify_seal(&seal, &opts);
        prop_assert_eq!(r.checks[1].ok, Some(true));
    }
}
