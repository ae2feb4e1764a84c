//! The `sealdesk seal` commands end to end: arguments parsed by clap exactly as the `sealdesk` binary does, keys and
//! certificates made by the `openssl` command, exit codes and the JSON report shape.

use std::process::Command;

use clap::Parser;
use sealdesk_ses_cli::{Io, SealCommand, run_with};
use serde_json::Value;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: SealCommand,
}

/// Runs `sealdesk seal ARGS…`; returns (exit code, stdout, stderr).
fn seal(args: &[&str]) -> (i32, String, String) {
    let cli = Cli::try_parse_from(std::iter::once("seal").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(
        cli.cmd,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn vector(path: &str) -> String {
    format!("{}/../../testdata/ses/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    format!("{}/../ses/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is needed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn check<'a>(checks: &'a Value, name: &str) -> &'a Value {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {checks}"))
}

/// Keys and certificate the way an operator makes them with OpenSSL, then make → verify through the CLI.
#[test]
fn make_then_verify_with_openssl_made_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:SM2",
        "-out",
        &path("maker.key"),
    ]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &path("maker.key"),
        "-sm3",
        "-utf8",
        "-subj",
        "/C=CN/O=测试制章/CN=maker",
        "-days",
        "400",
        "-out",
        &path("maker.pem"),
    ]);
    let (code, out, err) = seal(&[
        "make",
        "--picture",
        &fixture("seal.png"),
        "--name",
        "测试有限公司合同专用章",
        "--type",
        "1",
        "--signer-cert",
        &fixture("signer.pem"),
        "--maker-cert",
        &path("maker.pem"),
        "--maker-key",
        &path("maker.key"),
        "--valid-to",
        "2027-06-30T00:00:00+08:00",
        "--out",
        &path("seal.esl"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("wrote a V4 seal"));

    let (code, out, _) = seal(&[
        "verify",
        &path("seal.esl"),
        "--trust",
        &path("maker.pem"),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let r = json(&out);
    assert_eq!(r["valid"], true);
    assert_eq!(r["kind"], "seal");
    assert_eq!(r["signatures"], Value::Array(vec![]));
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "format",
            "seal.signature",
            "seal.maker-cert",
            "seal.validity"
        ]
    );
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true && c["detail"].is_string())
    );

    // without anchors, or with --no-chain: chain not checked (null), still exit 0
    let other = fixture("other-ca.pem");
    let sealfile = path("seal.esl");
    for extra in [vec![], vec!["--no-chain", "--trust", other.as_str()]] {
        let mut args = vec!["verify", sealfile.as_str(), "--json"];
        args.extend(extra);
        let (code, out, _) = seal(&args);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            check(&json(&out)["checks"], "seal.maker-cert")["ok"],
            Value::Null
        );
    }
    // an unrelated anchor: exit 1
    let (code, out, _) = seal(&[
        "verify",
        &path("seal.esl"),
        "--trust",
        &fixture("other-ca.pem"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[FAIL] seal.maker-cert") && out.contains("not among the trust anchors"),
        "{out}"
    );
    // after the seal ends: exit 1, said in words
    let (code, out, _) = seal(&["verify", &path("seal.esl"), "--at", "2027-07-01T00:00:00Z"]);
    assert_eq!(code, 1);
    assert!(out.contains("the seal had expired"), "{out}");

    // inspect shows what it is
    let (code, out, _) = seal(&["inspect", &path("seal.esl")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("seal, V4 (GB/T 38540-2020)")
            && out.contains("测试有限公司合同专用章")
            && out.contains("40×40 mm"),
        "{out}"
    );
    let (code, out, _) = seal(&["inspect", &path("seal.esl"), "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(
        v["seal"]["property"]["valid_end"]["text"],
        "20270629160000Z"
    );
    assert_eq!(
        v["seal"]["maker_cert"]["subject"],
        "C=CN, O=测试制章, CN=maker"
    );

    // a flipped byte in the signed part: exit 1 (or 2 if the structure broke)
    let mut bytes = std::fs::read(path("seal.esl")).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"\x89PNG\r\n\x1a\n")
        .unwrap()
        + 20;
    bytes[at] ^= 0x10;
    std::fs::write(path("tampered.esl"), &bytes).unwrap();
    let (code, out, _) = seal(&["verify", &path("tampered.esl")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[FAIL] seal.signature"), "{out}");
}

#[test]
fn unreadable_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.esl");
    std::fs::write(&junk, b"\x30\x82\x10\x00 not a seal").unwrap();
    let (code, out, _) = seal(&["verify", junk.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2);
    let r = json(&out);
    assert_eq!(r["valid"], false);
    assert_eq!(check(&r["checks"], "format")["ok"], false);
    let (code, _, err) = seal(&["verify", dir.path().join("missing.esl").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, err) = seal(&["inspect", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("truncated"), "{err}");
    let (code, _, err) = seal(&[
        "verify",
        &vector("ofdrw_ofdrw/UserV4.esl"),
        "--at",
        "yesterday",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("RFC 3339"));
}

#[test]
fn vectors_through_the_cli() {
    // a good tax-invoice OFD, checked at its signing time for the seals (signatures use their own signing time)
    let (code, out, _) = seal(&[
        "verify",
        &vector("ofdrw_ofdrw/1.ofd"),
        "--json",
        "--at",
        "2021-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{out}");
    let r = json(&out);
    assert_eq!(r["kind"], "ofd");
    assert_eq!(r["signatures"][0]["id"], "2");
    assert_eq!(r["signatures"][0]["kind"], "ses");
    for name in [
        "signature.value",
        "signature.signer-in-certlist",
        "seal.signature",
        "ofd.references",
        "ofd.data-hash",
    ] {
        assert_eq!(
            check(&r["signatures"][0]["checks"], name)["ok"],
            true,
            "{name}"
        );
    }
    // keyword.ofd: edited after signing (exit 1), and its GB/T 35275 signature says so in `kind`
    let (code, out, _) = seal(&["verify", &vector("ofdrw_ofdrw/keyword.ofd"), "--json"]);
    assert_eq!(code, 1);
    let r = json(&out);
    assert_eq!(r["signatures"][1]["kind"], "gbt35275");
    assert_eq!(
        check(&r["signatures"][0]["checks"], "ofd.references")["ok"],
        false
    );
    // the HebeiGede seal fails its maker signature
    let (code, out, _) = seal(&["verify", &vector("ofdrw_ofdrw/SESealData.DER")]);
    assert_eq!(code, 1);
    assert!(out.contains("[FAIL] seal.signature"));
    // a standalone signature has its checks in one entry
    let (code, out, _) = seal(&["verify", &vector("ofdrw_ofdrw/SignedValueV4.dat"), "--json"]);
    assert_eq!(code, 0, "{out}");
    let r = json(&out);
    assert_eq!(r["kind"], "signature");
    assert_eq!(
        check(&r["signatures"][0]["checks"], "signature.value")["ok"],
        true
    );
    // inspect reads every kind
    for f in [
        "ofdrw_ofdrw/UserV1.esl",
        "ofdrw_ofdrw/UserV5_ts.esl",
        "ofdrw_ofdrw/n.ofd",
        "c5soft_ofd.js/26050100800_00001.ofd",
    ] {
        let (code, out, err) = seal(&["inspect", &vector(f)]);
        assert_eq!(code, 0, "{f}: {err}");
        assert!(!out.is_empty());
        let (code, out, _) = seal(&["inspect", &vector(f), "--json"]);
        assert_eq!(code, 0);
        json(&out);
    }
}

#[test]
fn sec1_and_der_keys_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    openssl(&[
        "pkey",
        "-in",
        &fixture("maker.key"),
        "-outform",
        "DER",
        "-out",
        &path("maker.sec1.der"),
    ]);
    openssl(&[
        "ec",
        "-in",
        &fixture("maker.key"),
        "-out",
        &path("maker.ec.pem"),
    ]);
    for key in [path("maker.sec1.der"), path("maker.ec.pem")] {
        let (code, out, err) = seal(&[
            "make",
            "--picture",
            &fixture("seal.png"),
            "--name",
            "key form test",
            "--type",
            "2",
            "--signer-cert",
            &fixture("signer.pem"),
            "--maker-cert",
            &fixture("maker.pem"),
            "--maker-key",
            &key,
            "--size-mm",
            "38x38",
            "--out",
            &path("s.esl"),
        ]);
        assert_eq!(code, 0, "{key}: {out}{err}");
        let (code, out, _) = seal(&["verify", &path("s.esl"), "--trust", &fixture("ca.pem")]);
        assert_eq!(code, 0, "{out}");
    }
    // the wrong key for the certificate is refused
    let (code, _, err) = seal(&[
        "make",
        "--picture",
        &fixture("seal.png"),
        "--name",
        "x",
        "--type",
        "1",
        "--signer-cert",
        &fixture("signer.pem"),
        "--maker-cert",
        &fixture("maker.pem"),
        "--maker-key",
        &fixture("signer.key"),
        "--out",
        &path("x.esl"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("does not belong to the maker certificate"),
        "{err}"
    );
}

/// `seal verify --revoked`: the maker's signed list of revoked esIDs fails a listed seal, passes an unlisted
/// one, and counts for nothing when another maker signed it or it was changed.
#[test]
fn verify_checks_the_makers_signed_revocation_list() {
    use sm2::pkcs8::DecodePrivateKey;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    for who in ["maker", "other"] {
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:SM2",
            "-out",
            &path(&format!("{who}.key")),
        ]);
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &path(&format!("{who}.key")),
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-utf8",
            "-subj",
            "/C=CN/O=测试制章/CN=maker",
            "-days",
            "400",
            "-out",
            &path(&format!("{who}.pem")),
        ]);
    }
    for id in ["ES-REVOKED-1", "ES-LIVE-2"] {
        let (code, out, err) = seal(&[
            "make",
            "--picture",
            &fixture("seal.png"),
            "--name",
            "测试有限公司合同专用章",
            "--type",
            "1",
            "--es-id",
            id,
            "--signer-cert",
            &fixture("signer.pem"),
            "--maker-cert",
            &path("maker.pem"),
            "--maker-key",
            &path("maker.key"),
            "--valid-to",
            "2027-06-30T00:00:00+08:00",
            "--out",
            &path(&format!("{id}.esl")),
        ]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let list = sealdesk_ses::RevocationList {
        issuer: "CN=maker".into(),
        issued_at: "2026-11-30T12:00:00Z".into(),
        revoked: vec![sealdesk_ses::RevokedSeal {
            es_id: "ES-REVOKED-1".into(),
            revoked_at: "2026-11-30T11:00:00Z".into(),
            reason: "补办".into(),
        }],
    };
    let sign_as = |who: &str| {
        let pem = std::fs::read_to_string(path(&format!("{who}.key"))).unwrap();
        let key = sm2::dsa::SigningKey::new(
            sealdesk_ses::DIST_ID,
            &sm2::SecretKey::from_pkcs8_pem(&pem).unwrap(),
        )
        .unwrap();
        let cert = std::fs::read_to_string(path(&format!("{who}.pem"))).unwrap();
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            cert.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
        sealdesk_ses::sign_revocation_list(&list, &der, &key).unwrap()
    };
    std::fs::write(path("revoked.json"), sign_as("maker")).unwrap();
    std::fs::write(path("foreign.json"), sign_as("other")).unwrap();
    let text = String::from_utf8(sign_as("maker")).unwrap();
    std::fs::write(
        path("changed.json"),
        text.replace("ES-REVOKED-1", "ES-REVOKED-9"),
    )
    .unwrap();

    let verify = |seal_file: &str, list: &str| {
        let (code, out, _) = seal(&[
            "verify",
            &path(seal_file),
            "--no-chain",
            "--revoked",
            &path(list),
            "--json",
        ]);
        let r = json(&out);
        (
            code,
            r["valid"].clone(),
            check(&r["checks"], "seal.revocation").clone(),
        )
    };
    let (code, valid, c) = verify("ES-REVOKED-1.esl", "revoked.json");
    assert_eq!(
        (code, valid, c["ok"].clone()),
        (1, Value::Bool(false), Value::Bool(false))
    );
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("revoked at 2026-11-30T11:00:00Z (补办)"),
        "{c}"
    );
    let (code, _, c) = verify("ES-LIVE-2.esl", "revoked.json");
    assert_eq!((code, c["ok"].clone()), (0, Value::Bool(true)));
    for bad in ["foreign.json", "changed.json"] {
        let (code, _, c) = verify("ES-LIVE-2.esl", bad);
        assert_eq!((code, c["ok"].clone()), (1, Value::Bool(false)), "{bad}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("not signed by this seal's maker"),
            "{bad}: {c}"
        );
    }
    let (code, _, err) = seal(&[
        "verify",
        &path("ES-LIVE-2.esl"),
        "--revoked",
        &path("missing.json"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("revocation list cannot read"), "{err}");
}
