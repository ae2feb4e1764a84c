//! The binary end to end: `serve --demo` on SQLite and `serve` on PostgreSQL, `smoke` against each, and the
//! seals it writes checked with OpenSSL (SM2, ID 1234567812345678, over DER(SES_SealInfo)) and with our own
//! `sealdesk seal verify`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, run, start, start_with_env};

/// The raw TLV elements of a DER SEQUENCE's content (definite lengths only, as DER requires).
fn children(der: &[u8]) -> Vec<&[u8]> {
    let (hl, len) = header(der);
    let mut content = &der[hl..hl + len];
    let mut out = Vec::new();
    while !content.is_empty() {
        let (h, l) = header(content);
        out.push(&content[..h + l]);
        content = &content[h + l..];
    }
    out
}

fn header(b: &[u8]) -> (usize, usize) {
    if b[1] < 0x80 {
        return (2, b[1] as usize);
    }
    let n = (b[1] & 0x7f) as usize;
    (
        2 + n,
        b[2..2 + n].iter().fold(0usize, |a, &x| a << 8 | x as usize),
    )
}

fn openssl_verifies(dir: &Path, seal: &[u8], maker_pem: &Path) -> bool {
    let parts = children(seal);
    assert_eq!(
        parts.len(),
        4,
        "V4 SESeal has sealInfo, cert, signAlgID, signedValue"
    );
    let info = parts[0];
    let sig = parts[3];
    assert_eq!(sig[0], 0x03, "signedValue is a BIT STRING");
    let (h, _) = header(sig);
    let sig_der = &sig[h + 1..];
    std::fs::write(dir.join("info.der"), info).unwrap();
    std::fs::write(dir.join("sig.der"), sig_der).unwrap();
    let pubkey = Command::new("openssl")
        .args([
            "x509",
            "-in",
            maker_pem.to_str().unwrap(),
            "-pubkey",
            "-noout",
        ])
        .output()
        .unwrap();
    std::fs::write(dir.join("maker.pub"), pubkey.stdout).unwrap();
    let out = Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-pubin",
            "-inkey",
        ])
        .arg(dir.join("maker.pub"))
        .arg("-in")
        .arg(dir.join("info.der"))
        .arg("-sigfile")
        .arg(dir.join("sig.der"))
        .output()
        .unwrap();
    out.status.success()
}

fn smoke_and_check(data: &Path, url: &str, token: &Path) {
    let out = data.join("out");
    let r = run(&[
        "smoke",
        "--server",
        url,
        "--token",
        token.to_str().unwrap(),
        "--pin",
        "12345678",
        "--operator",
        "admin:sealdesk-demo",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        r.status.success(),
        "smoke failed:\n{}\n{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let token_cert = std::fs::read_to_string(token.join("cert.pem")).unwrap();
    let token_der = sealdesk_pki::Cert::from_pem(&token_cert)
        .unwrap()
        .der()
        .to_vec();
    let mut seals: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "esl"))
        .collect();
    seals.sort();
    assert_eq!(seals.len(), 2);
    for path in &seals {
        let der = std::fs::read(path).unwrap();
        assert!(
            openssl_verifies(data, &der, &out.join("maker.pem")),
            "OpenSSL rejects {}",
            path.display()
        );
        let mut tampered = der.clone();
        let info_len = children(&der)[0].len();
        tampered[info_len / 2] ^= 1;
        assert!(
            !openssl_verifies(data, &tampered, &out.join("maker.pem")),
            "OpenSSL accepts a tampered seal"
        );
        assert!(
            der.windows(token_der.len())
                .any(|w| w == token_der.as_slice()),
            "the token's certificate is in certList"
        );
        let v = run(&[
            "seal",
            "verify",
            path.to_str().unwrap(),
            "--trust",
            data.join("pki/demo-ca.pem").to_str().unwrap(),
            "--json",
        ]);
        assert!(
            v.status.success(),
            "sealdesk seal verify: {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
}

#[test]
fn smoke_passes_against_serve_demo_on_sqlite_and_seals_verify_with_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let (server, url) = start(data, &["--demo"]);
    smoke_and_check(data, &url, &data.join("demo-ukey"));
    drop(server);
    let audit = run(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    assert!(String::from_utf8_lossy(&audit.stdout).contains("audit chain intact"));
}

#[test]
fn smoke_passes_against_a_server_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db_url, drop_db) = rt.block_on(sealdesk_store::testing::fresh_postgres_url("smoke"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let token = data.join("ukey");
    let init = run(&[
        "token",
        "init",
        "--dir",
        token.to_str().unwrap(),
        "--pin",
        "12345678",
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "北筑设计研究院有限公司",
    ]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Production-style set-up: no demo seeding except what operators do by hand, then the smoke with demo
    // outbox access (the smoke reads its SMS code there).
    let add = |args: &[&str]| {
        let mut v = args.to_vec();
        v.extend_from_slice(&[
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db_url,
        ]);
        let r = run(&v);
        assert!(
            r.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    };
    add(&[
        "project",
        "add",
        "--code",
        "PGPROJ",
        "--name",
        "测试证书项目",
        "--group",
        "B组",
    ]);
    let r = Command::new(BIN)
        .args([
            "operator",
            "add",
            "--name",
            "admin",
            "--group",
            "B组",
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db_url,
        ])
        .env("SEALDESK_OPERATOR_PASSWORD", "sealdesk-demo")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (server, url) = start(data, &["--demo", "--database-url", &db_url]);
    smoke_and_check(data, &url, &token);
    drop(server);
    let audit = run(&[
        "audit",
        "verify",
        "--data-dir",
        data.to_str().unwrap(),
        "--database-url",
        &db_url,
    ]);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    rt.block_on(drop_db);
}

#[test]
fn smoke_with_uploads_in_s3_then_blobs_copy_moves_them_to_a_directory() {
    use sealdesk_adapters::blobs::BlobStore;
    use sealdesk_adapters::s3::{S3Blobs, testing};
    let Some(s3) = testing::S3Server::start() else {
        return;
    };
    s3.create_bucket("sealdesk-smoke");
    let env = [
        ("AWS_ACCESS_KEY_ID", testing::KEYS.0),
        ("AWS_SECRET_ACCESS_KEY", testing::KEYS.1),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let spec = "s3://sealdesk-smoke/prod";
    let (server, url) = start_with_env(
        data,
        &["--demo", "--blobs", spec, "--s3-endpoint", &s3.endpoint],
        &env,
    );
    smoke_and_check(data, &url, &data.join("demo-ukey"));
    drop(server);
    assert!(
        !data.join("blobs").exists(),
        "no upload went to the local directory"
    );
    let bucket = S3Blobs::with_keys("sealdesk-smoke/prod", Some(&s3.endpoint), Some(testing::KEYS)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys = rt.block_on(bucket.list()).unwrap();
    assert!(
        keys.len() >= 2 && keys.iter().all(|k| k.starts_with("uploads/")),
        "the smoke's scans are in the bucket: {keys:?}"
    );

    let dir = data.join("moved");
    let copy = Command::new(BIN)
        .args(["blobs", "copy", spec, dir.to_str().unwrap(), "--s3-endpoint", &s3.endpoint])
        .envs(env)
        .output()
        .unwrap();
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    assert_eq!(
        String::from_utf8_lossy(&copy.stdout).split(' ').nth(1),
        Some(keys.len().to_string().as_str()),
        "{}",
        String::from_utf8_lossy(&copy.stdout)
    );
    for k in &keys {
        assert_eq!(
            std::fs::read(dir.join(k)).unwrap(),
            rt.block_on(bucket.get(k)).unwrap()
        );
    }
    // Missing credentials are a clear error at start, not a hang on a metadata service.
    let no_keys = Command::new(BIN)
        .args(["blobs", "copy", spec, dir.to_str().unwrap(), "--s3-endpoint", &s3.endpoint])
        .env_remove("AWS_ACCESS_KEY_ID")
        .output()
        .unwrap();
    assert!(!no_keys.status.success());
    assert!(
        String::from_utf8_lossy(&no_keys.stderr).contains("set AWS_ACCESS_KEY_ID"),
        "{}",
        String::from_utf8_lossy(&no_keys.stderr)
    );
}
