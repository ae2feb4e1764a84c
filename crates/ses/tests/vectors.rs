//! Every file under `testdata/ses/` gives the verdicts `SOURCES.md` records for it, each for the right reason.

use sealdesk_ses::{
    Parsed, Report, VerifyOptions, Version, is_ofd, parse, verify_ofd, verify_seal,
};

fn vector(path: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/ses");
    std::fs::read(format!("{dir}/{path}")).unwrap_or_else(|e| panic!("vector {path}: {e}"))
}

fn opts(at: &str) -> VerifyOptions {
    VerifyOptions {
        trust: Vec::new(),
        at: sealdesk_ses::time::parse_rfc3339(at).unwrap(),
        check_chain: true,
    }
}

fn report(path: &str, at: &str) -> Report {
    let b = vector(path);
    if is_ofd(&b) {
        verify_ofd(&b, &opts(at))
    } else {
        verify_seal(&b, &opts(at))
    }
}

/// The verdict of a named check, at the top (`None`) or in one signature entry.
fn ok(r: &Report, entry: Option<usize>, name: &str) -> Option<bool> {
    let checks = match entry {
        None => &r.checks,
        Some(i) => &r.signatures[i].checks,
    };
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {r:#?}"))
        .ok
}

fn detail(r: &Report, entry: usize, name: &str) -> String {
    r.signatures[entry]
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.detail.clone())
        .unwrap_or_default()
}

#[test]
fn seals_verify_as_recorded() {
    for (file, version, at) in [
        (
            "ofdrw_ofdrw/UserV1.esl",
            Version::V1,
            "2021-01-01T00:00:00Z",
        ),
        (
            "ofdrw_ofdrw/UserV4.esl",
            Version::V4,
            "2021-01-01T00:00:00Z",
        ),
        (
            "ofdrw_ofdrw/UserV5.esl",
            Version::V5,
            "2027-01-01T00:00:00Z",
        ),
        (
            "ofdrw_ofdrw/UserV5_ts.esl",
            Version::V5,
            "2027-01-01T00:00:00Z",
        ),
    ] {
        let r = report(file, at);
        assert_eq!(ok(&r, None, "format"), Some(true), "{file}");
        assert_eq!(ok(&r, None, "seal.signature"), Some(true), "{file}: {r:#?}");
        assert_eq!(ok(&r, None, "seal.validity"), Some(true), "{file}");
        // no trust anchor: the chain is not checked, and that is not a failure
        assert_eq!(
            ok(&r, None, "seal.maker-cert"),
            if version == Version::V5 {
                Some(false)
            } else {
                None
            },
            "{file}"
        );
        match parse(&vector(file)).unwrap() {
            Parsed::Seal(s) => assert_eq!(s.version, version, "{file}"),
            Parsed::Signature(_) => panic!("{file} is a seal"),
        }
    }
    // The V5 seals were made in 2026 with a test certificate that expired in 2022.
    let r = report("ofdrw_ofdrw/UserV5.esl", "2027-01-01T00:00:00Z");
    assert!(
        r.checks[2].detail.contains("had expired"),
        "{}",
        r.checks[2].detail
    );
}

#[test]
fn v1_seal_signs_info_cert_and_algorithm() {
    let Parsed::Seal(s) = parse(&vector("ofdrw_ofdrw/UserV1.esl")).unwrap() else {
        panic!()
    };
    assert_eq!(s.header.version, 1);
    assert_eq!(s.property.cert_list_type, None);
    assert_eq!(s.property.create_date.text, "200422021807Z");
    // the signed bytes are SEQUENCE{info, cert, alg}, longer than the info alone
    assert!(s.signed_bytes().len() > s.maker_cert.len() + 16);
    assert_eq!(s.picture.width_mm, 40);
}

#[test]
fn hebei_gede_seal_is_a_negative_vector() {
    let r = report("ofdrw_ofdrw/SESealData.DER", "2021-01-01T00:00:00Z");
    assert_eq!(ok(&r, None, "format"), Some(true));
    assert_eq!(ok(&r, None, "seal.signature"), Some(false));
    assert!(
        r.checks[1].detail.contains("does not match"),
        "{}",
        r.checks[1].detail
    );
    assert!(!r.valid);
    assert_eq!(r.exit_code(), 1);
    let Parsed::Seal(s) = parse(&vector("ofdrw_ofdrw/SESealData.DER")).unwrap() else {
        panic!()
    };
    assert_eq!(s.ext_datas.len(), 3);
    assert_eq!(s.picture.kind, "GIF");
    assert!(
        matches!(&s.property.cert_list, sealdesk_ses::CertList::Certs(c) if c.len() == 2 && c[0] == c[1])
    );
}

/// The checks every good SES signature passes; chain is not checked without anchors.
fn assert_good_ses(r: &Report, i: usize, what: &str) {
    assert_eq!(r.signatures[i].kind, "ses", "{what}");
    for name in [
        "signature.value",
        "signature.signer-in-certlist",
        "seal.signature",
    ] {
        assert_eq!(ok(r, Some(i), name), Some(true), "{what} {name}: {r:#?}");
    }
}

#[test]
fn standalone_signatures_verify_as_recorded() {
    for file in [
        "ofdrw_ofdrw/SignedValueV4.dat",
        "ofdrw_ofdrw/zsbk.ofd.extracted/Doc_0/Signs/Sign_0/SignedValue.dat",
    ] {
        let r = report(file, "2021-01-01T00:00:00Z");
        assert_eq!(r.kind, sealdesk_ses::Kind::Signature);
        assert_eq!(ok(&r, None, "format"), Some(true), "{file}");
        assert_good_ses(&r, 0, file);
    }
    let r = report("ofdrw_ofdrw/SignedValueV4.dat", "2021-01-01T00:00:00Z");
    assert!(r.valid, "{r:#?}");
    // zsbk: dataHash = SM3(Signature.xml) beside it
    let Parsed::Signature(s) = parse(&vector(
        "ofdrw_ofdrw/zsbk.ofd.extracted/Doc_0/Signs/Sign_0/SignedValue.dat",
    ))
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        s.data_hash,
        sealdesk_ses::sm3(&vector(
            "ofdrw_ofdrw/zsbk.ofd.extracted/Doc_0/Signs/Sign_0/Signature.xml"
        ))
    );
    assert_eq!(s.seal.property.seal_type, 15);
    assert_eq!(s.seal.picture.kind, "png");
    assert_eq!(s.property_info, "/Doc_0/Signs/Sign_0/Signature.xml");
}

#[test]
fn signed_ofds_verify_as_recorded() {
    for (file, refs) in [
        ("ofdrw_ofdrw/1.ofd", 13),
        ("ofdrw_ofdrw/999.ofd", 20),
        ("ofdrw_ofdrw/SignScaleError.ofd", 7),
        ("ofdrw_ofdrw/signedFile.ofd", 13),
        ("ofdrw_ofdrw/SESV4SignDoc.ofd", 5),
    ] {
        let r = report(file, "2021-01-01T00:00:00Z");
        assert_eq!(r.signatures.len(), 1, "{file}");
        assert_good_ses(&r, 0, file);
        assert_eq!(ok(&r, Some(0), "format"), Some(true), "{file}");
        assert_eq!(ok(&r, Some(0), "ofd.references"), Some(true), "{file}");
        assert!(
            detail(&r, 0, "ofd.references").contains(&format!("all {refs} ")),
            "{file}"
        );
        assert_eq!(ok(&r, Some(0), "ofd.data-hash"), Some(true), "{file}");
    }
    // Valid as a whole when nothing is expired at signing time.
    assert!(report("ofdrw_ofdrw/1.ofd", "2021-01-01T00:00:00Z").valid);
}

#[test]
fn keyword_ofd_raw_signature_verifies_but_references_fail() {
    let r = report("ofdrw_ofdrw/keyword.ofd", "2021-01-01T00:00:00Z");
    assert_eq!(r.signatures.len(), 2);
    assert_good_ses(&r, 0, "keyword Sign_1");
    assert!(detail(&r, 0, "signature.value").contains("raw r||s, 64 bytes"));
    assert_eq!(ok(&r, Some(0), "ofd.data-hash"), Some(true));
    assert_eq!(ok(&r, Some(0), "ofd.references"), Some(false));
    assert!(detail(&r, 0, "ofd.references").starts_with("3 of 7 protected files were changed"));
    // Sign_3 is a GB/T 35275 signature: reported as such, not checked.
    assert_eq!(r.signatures[1].kind, "gbt35275");
    assert_eq!(ok(&r, Some(1), "signature.value"), None);
    assert!(!r.valid);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn dms360_v1_ofd_fails_for_the_recorded_reasons() {
    let r = report("ofdrw_ofdrw/n.ofd", "2021-01-01T00:00:00Z");
    assert_eq!(r.signatures.len(), 1);
    assert_eq!(ok(&r, Some(0), "format"), Some(true));
    assert!(detail(&r, 0, "format").starts_with("V1 seal signature"));
    assert_eq!(
        ok(&r, Some(0), "seal.signature"),
        Some(true),
        "V1 seal over SEQUENCE{{info,cert,alg}}"
    );
    assert_eq!(ok(&r, Some(0), "signature.value"), Some(false));
    assert!(detail(&r, 0, "signature.value").contains("digest mode"));
    assert_eq!(ok(&r, Some(0), "signature.signer-in-certlist"), Some(false));
    assert_eq!(ok(&r, Some(0), "ofd.data-hash"), Some(false));
    assert!(detail(&r, 0, "ofd.references").starts_with("6 of 6 protected files were changed"));
}

#[test]
fn non_ses_ofds_are_reported_not_checked() {
    for (file, kind) in [
        ("ofdrw_ofdrw/DigitalSign.ofd", "raw"),
        ("c5soft_ofd.js/26050100800_00001.ofd", "gbt35275"),
    ] {
        let r = report(file, "2021-01-01T00:00:00Z");
        assert_eq!(r.signatures.len(), 1, "{file}");
        assert_eq!(r.signatures[0].kind, kind, "{file}");
        assert_eq!(ok(&r, Some(0), "signature.value"), None, "{file}");
        assert_eq!(ok(&r, Some(0), "ofd.references"), Some(true), "{file}");
        assert!(r.valid, "{file}: nothing failed");
    }
}

#[test]
fn every_vector_is_read_without_error() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/ses");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    let mut n = 0;
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.to_string_lossy().to_string();
            if name.ends_with(".md") || name.ends_with(".xml") {
                continue;
            }
            let b = std::fs::read(&path).unwrap();
            let r = if is_ofd(&b) {
                verify_ofd(&b, &opts("2021-01-01T00:00:00Z"))
            } else {
                verify_seal(&b, &opts("2021-01-01T00:00:00Z"))
            };
            assert!(r.readable(), "{name}: {r:#?}");
            n += 1;
        }
    }
    assert_eq!(n, 16);
}
