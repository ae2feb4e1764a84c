//! SM2/SM3 interoperate with OpenSSL 3 both ways, checked against the `openssl` command: keys and certificates
//! in OpenSSL's PEM and DER forms, signatures made by either side verified by the other. OpenSSL 3.0 uses an empty
//! SM2 id by default, so every call passes `distid:1234567812345678` except where the default is what is tested.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use sealdesk_ses::{Parsed, VerifyOptions, make_seal, parse, verify_seal};

const DISTID: &str = "distid:1234567812345678";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sealdesk-ses-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs openssl; returns (success, stdout+stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is needed for interop tests");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The same seal with another maker signature value in its BIT STRING.
fn with_signature(seal: &[u8], sig: &[u8]) -> Vec<u8> {
    let Parsed::Seal(s) = parse(seal).unwrap() else {
        panic!()
    };
    let old = tlv(0x03, &[&[0u8][..], &s.signed_value].concat());
    // the outer header is 30 82 xx xx for seals between 256 B and 64 KB, like the fixtures
    assert_eq!(seal[1], 0x82);
    let body = &seal[4..seal.len() - old.len()];
    let mut content = body.to_vec();
    content.extend(tlv(0x03, &[&[0u8][..], sig].concat()));
    tlv(0x30, &content)
}

#[test]
fn rust_signatures_verify_in_openssl() {
    let dir = TempDir::new("r2o");
    let seal = made_seal();
    let Parsed::Seal(s) = parse(&seal).unwrap() else {
        panic!()
    };
    std::fs::write(dir.path("info.der"), s.signed_bytes()).unwrap();
    std::fs::write(dir.path("sig.der"), &s.signed_value).unwrap();
    let maker = format!("{}/tests/data/maker.pem", env!("CARGO_MANIFEST_DIR"));
    let (ok, out) = openssl(&[
        "x509",
        "-in",
        &maker,
        "-pubkey",
        "-noout",
        "-out",
        &dir.path("pub.pem"),
    ]);
    assert!(ok, "{out}");
    let (pub_pem, sig_der, info_der) = (
        dir.path("pub.pem"),
        dir.path("sig.der"),
        dir.path("info.der"),
    );
    let verify = |distid: Option<&str>| {
        let mut args = vec!["dgst", "-sm3", "-verify", &pub_pem, "-signature", &sig_der];
        if let Some(d) = distid {
            args.extend(["-sigopt", d]);
        }
        args.push(&info_der);
        openssl(&args)
    };
    let (ok, out) = verify(Some(DISTID));
    assert!(ok && out.contains("Verified OK"), "{out}");
    // negative control: OpenSSL's default (empty) id does not match the seal id
    let (ok, _) = verify(None);
    assert!(!ok, "an empty distid must not verify a seal signature");
}

#[test]
fn openssl_signatures_verify_in_rust() {
    let dir = TempDir::new("o2r");
    let seal = made_seal();
    let Parsed::Seal(s) = parse(&seal).unwrap() else {
        panic!()
    };
    std::fs::write(dir.path("info.der"), s.signed_bytes()).unwrap();
    let key = format!("{}/tests/data/maker.key", env!("CARGO_MANIFEST_DIR"));
    let opts = VerifyOptions {
        trust: vec![cert("ca.pem")],
        at: T0,
        check_chain: true,
    };
    for round in 0..3 {
        let sig = dir.path(&format!("sig{round}.der"));
        let (ok, out) = openssl(&[
            "dgst",
            "-sm3",
            "-sign",
            &key,
            "-sigopt",
            DISTID,
            "-out",
            &sig,
            &dir.path("info.der"),
        ]);
        assert!(ok, "{out}");
        let sig = std::fs::read(&sig).unwrap();
        assert_eq!(sig[0], 0x30, "OpenSSL writes DER SEQUENCE{{r,s}}");
        let spliced = with_signature(&seal, &sig);
        let r = verify_seal(&spliced, &opts);
        assert!(r.valid, "{r:#?}");
        assert!(r.checks[1].detail.contains(&format!("{} bytes", sig.len())));
    }
    // negative control: OpenSSL signing with its default empty id does not verify as a seal signature
    let sig = dir.path("sig-default.der");
    let (ok, out) = openssl(&[
        "dgst",
        "-sm3",
        "-sign",
        &key,
        "-out",
        &sig,
        &dir.path("info.der"),
    ]);
    assert!(ok, "{out}");
    let r = verify_seal(&with_signature(&seal, &std::fs::read(&sig).unwrap()), &opts);
    assert_eq!(r.checks[1].ok, Some(false));
}

/// Keys and certificates straight from `openssl genpkey` and `openssl req -x509 -sm3` (no distid, as operators make
/// them), in PEM and in DER, make seals that verify against that certificate as anchor.
#[test]
fn openssl_made_keys_and_certificates_work_in_pem_and_der() {
    use sm2::pkcs8::DecodePrivateKey;
    let dir = TempDir::new("keys");
    let key_pem = dir.path("k.pem");
    let (ok, out) = openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:SM2",
        "-out",
        &key_pem,
    ]);
    assert!(ok, "{out}");
    let cert_pem = dir.path("c.pem");
    let (ok, out) = openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &key_pem,
        "-sm3",
        "-subj",
        "/CN=OpenSSL maker",
        "-days",
        "3650",
        "-out",
        &cert_pem,
    ]);
    assert!(ok, "{out}");
    // OpenSSL 3.0 writes SEC1 ("traditional") DER from `pkey`, PKCS#8 DER from `pkcs8 -topk8`.
    let (ok, out) = openssl(&[
        "pkey",
        "-in",
        &key_pem,
        "-outform",
        "DER",
        "-out",
        &dir.path("k.sec1.der"),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &key_pem,
        "-outform",
        "DER",
        "-out",
        &dir.path("k.der"),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&[
        "x509",
        "-in",
        &cert_pem,
        "-outform",
        "DER",
        "-out",
        &dir.path("c.der"),
    ]);
    assert!(ok, "{out}");
    let cert_der = std::fs::read(dir.path("c.der")).unwrap();
    let from_pem =
        sm2::SecretKey::from_pkcs8_pem(&std::fs::read_to_string(&key_pem).unwrap()).unwrap();
    let from_der =
        sm2::SecretKey::from_pkcs8_der(&std::fs::read(dir.path("k.der")).unwrap()).unwrap();
    let from_sec1 =
        sm2::SecretKey::from_sec1_der(&std::fs::read(dir.path("k.sec1.der")).unwrap()).unwrap();
    assert_eq!(from_pem.to_bytes(), from_der.to_bytes());
    assert_eq!(from_pem.to_bytes(), from_sec1.to_bytes());
    let key = sm2::dsa::SigningKey::new(sealdesk_ses::DIST_ID, &from_der).unwrap();
    let mut req = request();
    req.cert_list = sealdesk_ses::CertList::Certs(vec![cert_der.clone()]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    req.create_date = now;
    req.valid_start = now - 60;
    req.valid_end = now + 86_400;
    let seal = make_seal(&req, &cert_der, &key).unwrap();
    let r = verify_seal(
        &seal,
        &VerifyOptions {
            trust: vec![cert_der.clone()],
            at: now,
            check_chain: true,
        },
    );
    assert!(
        r.valid && r.checks.iter().all(|c| c.ok == Some(true)),
        "{r:#?}"
    );
    // the chain check verifies OpenSSL's certificate signature itself (made with the empty default id)
    let info = sealdesk_ses::parse_certificate(&cert_der).unwrap();
    assert_eq!(info.signature_algorithm, sealdesk_ses::SM2_SM3);
    let ca = cert("ca.pem");
    let r = verify_seal(
        &seal,
        &VerifyOptions {
            trust: vec![ca],
            at: now,
            check_chain: true,
        },
    );
    assert_eq!(
        r.checks[2].ok,
        Some(false),
        "a different anchor must not vouch for it"
    );
    // and OpenSSL verifies the Rust-made seal signature with the public key from its own certificate
    let Parsed::Seal(s) = parse(&seal).unwrap() else {
        panic!()
    };
    std::fs::write(dir.path("info.der"), s.signed_bytes()).unwrap();
    std::fs::write(dir.path("sig.der"), &s.signed_value).unwrap();
    let (ok, out) = openssl(&[
        "x509",
        "-in",
        &cert_pem,
        "-pubkey",
        "-noout",
        "-out",
        &dir.path("pub.pem"),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&[
        "pkeyutl",
        "-verify",
        "-rawin",
        "-digest",
        "sm3",
        "-pubin",
        "-inkey",
        &dir.path("pub.pem"),
        "-pkeyopt",
        DISTID,
        "-in",
        &dir.path("info.der"),
        "-sigfile",
        &dir.path("sig.der"),
    ]);
    assert!(
        ok && out.contains("Signature Verified Successfully"),
        "{out}"
    );
}

#[test]
fn test_root_ca_chain_agrees_with_openssl() {
    // OpenSSL says the fixtures chain; so must we.
    let data = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let (ok, out) = openssl(&[
        "verify",
        "-vfyopt",
        DISTID,
        "-CAfile",
        &format!("{data}/ca.pem"),
        &format!("{data}/maker.pem"),
    ]);
    assert!(ok, "{out}");
    let r = verify_seal(&made_seal(), &trusted(T0));
    assert_eq!(r.checks[2].ok, Some(true), "{r:#?}");
    assert!(r.checks[2].detail.contains("SealDesk Test Root CA"));
}
