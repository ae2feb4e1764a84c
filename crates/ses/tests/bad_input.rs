//! Bad input gets a clear report and never a panic or a hang: truncated, oversized, deeply nested, wrong tags,
//! unknown algorithms, expired, untrusted or misused certificates.

mod common;

use common::*;
use sealdesk_ses::{Error, MAX_INPUT, VerifyOptions, make_seal, parse, verify_ofd, verify_seal};

fn format_detail(bytes: &[u8]) -> String {
    let r = verify_seal(bytes, &trusted(T0));
    assert_eq!(r.exit_code(), 2, "{r:#?}");
    r.checks[0].detail.clone()
}

#[test]
fn truncated_at_every_length_is_refused() {
    let seal = made_seal();
    for n in 0..seal.len() {
        let r = verify_seal(&seal[..n], &trusted(T0));
        assert_eq!(r.exit_code(), 2, "prefix of {n} bytes");
        assert!(!r.valid);
    }
    assert!(format_detail(&seal[..seal.len() / 2]).contains("truncated"));
    assert_eq!(parse(&[]), Err(Error::Empty));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let mut big = vec![0x30, 0x84, 0x00, 0xA0, 0x00, 0x01];
    big.resize(MAX_INPUT + 1, 0);
    assert!(matches!(parse(&big), Err(Error::TooLarge { .. })));
    assert!(format_detail(&big).contains("over the limit"));
}

#[test]
fn deep_nesting_and_huge_lengths_do_not_hurt() {
    // 100 000 nested SEQUENCEs: the parser follows the schema, so it never recurses into them.
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        deep.extend_from_slice(&[0x30, 0x80]);
    }
    assert!(format_detail(&deep).contains("indefinite length"));
    let mut nested = vec![0x30, 0x00];
    for _ in 0..2_000 {
        let len = nested.len();
        let mut outer = vec![0x30, 0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        outer.extend_from_slice(&nested);
        nested = outer;
    }
    let _ = format_detail(&nested);
    // a length claiming 4 GB
    assert!(format_detail(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x30]).contains("truncated"));
    assert!(format_detail(&[0x30, 0x85, 1, 0, 0, 0, 0]).contains("longer than 4 bytes"));
}

#[test]
fn wrong_tags_are_named() {
    let seal = made_seal();
    // the header's ID IA5String (tag 0x16) turned into an INTEGER
    let pos = seal
        .windows(4)
        .position(|w| w == [0x16, 0x02, b'E', b'S'])
        .unwrap();
    let mut t = seal.clone();
    t[pos] = 0x02;
    assert!(format_detail(&t).contains("header.ID"));
    let mut t = seal.clone();
    t[0] = 0x31;
    assert!(format_detail(&t).contains("does not start with a DER SEQUENCE"));
    assert!(
        format_detail(&[0x30, 0x03, 0x02, 0x01, 0x05]).contains("first element is not a SEQUENCE")
    );
}

#[test]
fn unknown_algorithm_is_reported() {
    let seal = made_seal();
    let oid = [0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75];
    let pos = seal.windows(oid.len()).rposition(|w| w == oid).unwrap();
    let mut t = seal.clone();
    t[pos + 9] = 0x76; // 1.2.156.10197.1.502 (SM2 with SHA-1)
    let r = verify_seal(&t, &trusted(T0));
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.checks[1].ok, Some(false));
    assert!(
        r.checks[1]
            .detail
            .contains("1.2.156.10197.1.502, which is not supported"),
        "{}",
        r.checks[1].detail
    );
}

#[test]
fn certificate_problems_are_told_apart() {
    let seal = made_seal();
    // trusted and valid
    assert_eq!(verify_seal(&seal, &trusted(T0)).exit_code(), 0);
    // expired (the fixtures end in 2048) and the seal too
    let r = verify_seal(&seal, &trusted(2_600_000_000));
    assert_eq!(r.checks[2].ok, Some(false));
    assert!(r.checks[2].detail.contains("had expired"));
    assert!(r.checks[3].detail.contains("the seal had expired"));
    // untrusted: another CA
    let r = verify_seal(
        &seal,
        &VerifyOptions {
            trust: vec![cert("other-ca.pem")],
            at: T0,
            check_chain: true,
        },
    );
    assert_eq!(r.exit_code(), 1);
    assert!(
        r.checks[2].detail.contains("not among the trust anchors"),
        "{}",
        r.checks[2].detail
    );
    // no anchors or chain off: not checked, not failed
    for opts in [
        VerifyOptions {
            trust: vec![],
            at: T0,
            check_chain: true,
        },
        VerifyOptions {
            trust: vec![cert("other-ca.pem")],
            at: T0,
            check_chain: false,
        },
    ] {
        let r = verify_seal(&seal, &opts);
        assert_eq!(r.checks[2].ok, None);
        assert!(r.checks[2].detail.contains("chain was not checked"));
        assert_eq!(r.exit_code(), 0);
    }
    // the maker certificate itself given as the anchor
    assert_eq!(
        verify_seal(
            &seal,
            &VerifyOptions {
                trust: vec![cert("maker.pem")],
                at: T0,
                check_chain: true
            }
        )
        .exit_code(),
        0
    );
    // key usage is read as the certificate states it
    let ku = sealdesk_ses::parse_certificate(&cert("nosign.pem"))
        .unwrap()
        .key_usage;
    assert_eq!(ku, Some(vec!["keyEncipherment"]));
}

#[test]
fn maker_key_must_match_its_certificate() {
    let e = make_seal(&request(), &cert("maker.pem"), &key("signer.key")).unwrap_err();
    assert!(matches!(e, Error::Key(_)), "{e}");
}

#[test]
fn bad_requests_are_refused_with_reasons() {
    let mut r = request();
    r.picture.data = b"GIF89a".to_vec();
    assert!(
        make_seal(&r, &cert("maker.pem"), &key("maker.key"))
            .unwrap_err()
            .to_string()
            .contains("not a PNG")
    );
    let mut r = request();
    r.valid_end = r.valid_start - 1;
    assert!(
        make_seal(&r, &cert("maker.pem"), &key("maker.key"))
            .unwrap_err()
            .to_string()
            .contains("ends before it starts")
    );
    let mut r = request();
    r.es_id = "印章".into();
    assert!(
        make_seal(&r, &cert("maker.pem"), &key("maker.key"))
            .unwrap_err()
            .to_string()
            .contains("ASCII")
    );
    let mut r = request();
    r.picture.data = vec![0x89; MAX_INPUT];
    r.picture.data[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    assert!(matches!(
        make_seal(&r, &cert("maker.pem"), &key("maker.key")),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn broken_ofd_packages_are_unreadable_not_panics() {
    let opts = trusted(T0);
    for bad in [
        &b"PK\x03\x04"[..],
        b"PK\x03\x04garbage-garbage-garbage",
        b"not a zip",
    ] {
        let r = verify_ofd(bad, &opts);
        assert_eq!(r.exit_code(), 2);
        assert!(r.checks[0].detail.contains("cannot be read"));
    }
    // a truncated real package
    let ofd = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ses/ofdrw_ofdrw/1.ofd"
    ))
    .unwrap();
    for n in (0..ofd.len()).step_by(997) {
        let _ = verify_ofd(&ofd[..n], &opts);
    }
}
