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

/// An SM2 CA and a seal-maker key and certificate made by the `openssl` command, as a production deployment
/// brings them: (ca.pem, ca.key, maker.pem, maker.key), and an audit key file.
fn openssl_pki(dir: &Path) -> [std::path::PathBuf; 5] {
    std::fs::create_dir_all(dir).unwrap();
    let p = |f: &str| dir.join(f);
    let distid = "distid:1234567812345678";
    let ok = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |x: &Path| x.to_str().unwrap().to_owned();
    for key in ["ca.key", "maker.key"] {
        ok(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:SM2",
            "-out",
            &s(&p(key)),
        ]);
    }
    ok(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &s(&p("ca.key")),
        "-sm3",
        "-sigopt",
        distid,
        "-subj",
        "/C=CN/O=Test/CN=Test SM2 CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        &s(&p("ca.pem")),
    ]);
    ok(&[
        "req",
        "-new",
        "-key",
        &s(&p("maker.key")),
        "-sm3",
        "-sigopt",
        distid,
        "-subj",
        "/C=CN/O=SealDesk/CN=SealDesk Test Maker",
        "-out",
        &s(&p("maker.csr")),
    ]);
    std::fs::write(
        p("ee.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    )
    .unwrap();
    ok(&[
        "x509",
        "-req",
        "-in",
        &s(&p("maker.csr")),
        "-CA",
        &s(&p("ca.pem")),
        "-CAkey",
        &s(&p("ca.key")),
        "-CAcreateserial",
        "-sm3",
        "-sigopt",
        distid,
        "-vfyopt",
        distid,
        "-days",
        "365",
        "-extfile",
        &s(&p("ee.ext")),
        "-out",
        &s(&p("maker.pem")),
    ]);
    let key = Command::new("openssl")
        .args(["rand", "-hex", "32"])
        .output()
        .unwrap();
    std::fs::write(p("audit.key"), key.stdout).unwrap();
    [
        p("ca.pem"),
        p("ca.key"),
        p("maker.pem"),
        p("maker.key"),
        p("audit.key"),
    ]
}

/// The status code of a bodyless request, by hand over TCP.
fn status(listen: &str, method: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(listen).unwrap();
    write!(c, "{method} {path} HTTP/1.1\r\nHost: {listen}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0)
}

fn smoke_and_check(data: &Path, url: &str, token: &Path, trust: &Path) {
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
        "--form",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../artwork/tests/forms/form-1.jpg"
        ),
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
            trust.to_str().unwrap(),
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
    smoke_and_check(
        data,
        &url,
        &data.join("demo-ukey"),
        &data.join("pki/demo-ca.pem"),
    );
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
    // The platform's own maker key and CA, made by openssl; the UKey's certificate from that CA.
    let [ca_pem, ca_key, maker_pem, maker_key, audit_key] = openssl_pki(&data.join("own-pki"));
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
        "--ca-cert",
        ca_pem.to_str().unwrap(),
        "--ca-key",
        ca_key.to_str().unwrap(),
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
    // Roles are given by code; an unknown one is refused with the list of known ones.
    let finance = |roles: &str| {
        Command::new(BIN)
            .args([
                "operator",
                "add",
                "--name",
                "caiwu",
                "--roles",
                roles,
                "--data-dir",
            ])
            .arg(data)
            .args(["--database-url", &db_url])
            .env("SEALDESK_OPERATOR_PASSWORD", "finance-password")
            .output()
            .unwrap()
    };
    let r = finance("finance,boss");
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains(
            "未知的角色：boss（可选：reviewer 审核员、issuer 制章员、finance 财务、auditor 审计员）"
        ),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = finance("auditor,finance");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        String::from_utf8_lossy(&r.stdout).trim(),
        "operator caiwu created (roles: finance,auditor)"
    );
    // The smoke reads its SMS code from the demo outbox and pays at the sandbox cashier, so the server runs with
    // --demo — but with the production flags: its own maker key and certificate, its own trusted CA and a keyed
    // audit chain.
    let (server, url) = start(
        data,
        &[
            "--demo",
            "--database-url",
            &db_url,
            "--maker-key",
            maker_key.to_str().unwrap(),
            "--maker-cert",
            maker_pem.to_str().unwrap(),
            "--trust",
            ca_pem.to_str().unwrap(),
            "--audit-key-file",
            audit_key.to_str().unwrap(),
        ],
    );
    smoke_and_check(data, &url, &token, &ca_pem);
    drop(server);
    let served = std::fs::read_to_string(data.join("out/maker.pem")).unwrap();
    assert_eq!(
        sealdesk_pki::Cert::from_pem(&served).unwrap().der(),
        sealdesk_pki::Cert::from_pem(&std::fs::read_to_string(&maker_pem).unwrap())
            .unwrap()
            .der(),
        "seals are made by the configured maker"
    );
    let verify = |key: Option<&Path>| {
        let mut args = vec![
            "audit",
            "verify",
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &db_url,
        ];
        if let Some(k) = key {
            args.extend_from_slice(&["--audit-key-file", k.to_str().unwrap()]);
        }
        run(&args)
    };
    let audit = verify(Some(&audit_key));
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let unkeyed = verify(None);
    assert_eq!(
        unkeyed.status.code(),
        Some(1),
        "a keyed chain does not verify without its key"
    );
    assert!(String::from_utf8_lossy(&unkeyed.stdout).contains("BROKEN at entry 1"));
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
    smoke_and_check(
        data,
        &url,
        &data.join("demo-ukey"),
        &data.join("pki/demo-ca.pem"),
    );
    drop(server);
    assert!(
        !data.join("blobs").exists(),
        "no upload went to the local directory"
    );
    let bucket = S3Blobs::with_keys(
        "sealdesk-smoke/prod",
        Some(&s3.endpoint),
        Some(testing::KEYS),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys = rt.block_on(bucket.list()).unwrap();
    // The scans, and the seal cut-outs read from the 印模采集表 (kept beside them for the order pages and 制章).
    assert!(
        keys.iter().filter(|k| k.starts_with("uploads/")).count() >= 2
            && keys.iter().any(|k| k.starts_with("cutouts/"))
            && keys
                .iter()
                .all(|k| k.starts_with("uploads/") || k.starts_with("cutouts/")),
        "the smoke's scans and cut-outs are in the bucket: {keys:?}"
    );

    let dir = data.join("moved");
    let copy = Command::new(BIN)
        .args([
            "blobs",
            "copy",
            spec,
            dir.to_str().unwrap(),
            "--s3-endpoint",
            &s3.endpoint,
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
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
        .args([
            "blobs",
            "copy",
            spec,
            dir.to_str().unwrap(),
            "--s3-endpoint",
            &s3.endpoint,
        ])
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

#[test]
fn serve_without_demo_refuses_to_start_without_its_production_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .env_remove("SEALDESK_MAKER_KEY")
        .env_remove("SEALDESK_TRUST")
        .env_remove("SEALDESK_AUDIT_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for flag in [
        "refusing to start without --demo",
        "--maker-key",
        "--maker-cert",
        "--trust",
        "--audit-key-file",
    ] {
        assert!(err.contains(flag), "the message names {flag}: {err}");
    }
    assert!(!data.join("pki/demo-ca.pem").exists(), "no demo CA is made");
    // The sandbox channel is refused outright without --demo.
    let [ca_pem, _, maker_pem, maker_key, audit_key] = openssl_pki(&data.join("own"));
    let flags = [
        "--maker-key",
        maker_key.to_str().unwrap(),
        "--maker-cert",
        maker_pem.to_str().unwrap(),
        "--trust",
        ca_pem.to_str().unwrap(),
        "--audit-key-file",
        audit_key.to_str().unwrap(),
    ];
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--payments",
            "sandbox",
        ])
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--payments sandbox needs --demo"));
    // A maker certificate that is not the maker key's is refused.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .args([
            "--maker-key",
            maker_key.to_str().unwrap(),
            "--maker-cert",
            ca_pem.to_str().unwrap(),
        ])
        .args([
            "--trust",
            ca_pem.to_str().unwrap(),
            "--audit-key-file",
            audit_key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not belong to its key"));

    // With them it starts, without a single demo route and without making a demo CA.
    let (server, url) = start(data, &flags);
    let listen = url.trim_start_matches("http://");
    assert_eq!(status(listen, "GET", "/healthz"), 200);
    for (m, path) in [
        ("GET", "/demo/outbox"),
        ("POST", "/demo/outbox"),
        ("GET", "/sandbox/cashier/1"),
        ("POST", "/sandbox/cashier/1"),
        ("GET", "/api/v1/demo/outbox"),
        ("POST", "/api/v1/sandbox/payments/1/pay"),
        ("DELETE", "/api/v1/sandbox/payments/1/pay"),
    ] {
        assert_eq!(status(listen, m, path), 404, "{m} {path}");
    }
    assert!(!data.join("pki/demo-ca.pem").exists());
    assert!(!data.join("pki/sandbox-gateway.key.pem").exists());
    drop(server);
}

/// `smoke --service`: a 新办, then 续期 and 变更 of the seals it left on the key (the first signing in with the
/// key itself), then 补办 onto a second key. Each run checks its own promise (pictures and names kept, later
/// end, earlier seals revoked); here the keys are checked from outside: what is on each, and that OpenSSL and
/// `sealdesk seal verify` accept every seal the runs wrote out.
#[test]
fn smoke_drives_each_service_on_the_seals_of_the_run_before() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let (server, url) = start(data, &["--demo"]);
    let token = |dir: &Path| {
        let r = run(&[
            "token",
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--pin",
            "12345678",
            "--data-dir",
            data.to_str().unwrap(),
            "--name",
            "北筑设计研究院有限公司",
            "--id-number",
            "91110108551385082Q",
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    let (old_key, new_key) = (data.join("key-a"), data.join("key-b"));
    token(&old_key);
    token(&new_key);
    let run_smoke = |key: &Path, service: &str, extra: &[&str]| {
        let out = data.join(format!("out-{service}"));
        let mut args = vec![
            "smoke",
            "--server",
            &url,
            "--token",
            key.to_str().unwrap(),
            "--pin",
            "12345678",
            "--operator",
            "admin:sealdesk-demo",
            "--out",
            out.to_str().unwrap(),
            "--form",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../artwork/tests/forms/form-1.jpg"
            ),
            "--service",
            service,
        ];
        args.extend_from_slice(extra);
        (run(&args), out)
    };
    let smoke = |service: &str, extra: &[&str]| {
        let (r, out) = run_smoke(&old_key, service, extra);
        let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
        assert!(
            r.status.success(),
            "smoke --service {service} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&r.stderr)
        );
        let mut written: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".esl"))
            .collect();
        written.sort();
        assert_eq!(written.len(), 2, "{service}: {written:?}");
        for name in &written {
            let der = std::fs::read(out.join(name)).unwrap();
            assert!(
                openssl_verifies(data, &der, &out.join("maker.pem")),
                "{service}: OpenSSL rejects {name}"
            );
        }
        (stdout, written)
    };
    let on = |key: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(key.join("seals"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };

    let (_, made) = smoke("new", &["--mobile", "13900007777"]);
    assert_eq!(on(&old_key), made);

    // 续期 signs in with the key (证书登录): the account that bound it is found from its certificate.
    let (stdout, renewed) = smoke("renew", &[]);
    assert!(
        stdout.contains("applicant signed in with the key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the renewed seals keep their pictures and names and end later"),
        "{stdout}"
    );
    assert_eq!(
        on(&old_key),
        renewed,
        "the renewed seals replace the old ones on the key"
    );
    assert!(renewed.iter().all(|n| !made.contains(n)));

    let (stdout, changed) = smoke("change", &["--mobile", "13900007777"]);
    assert!(
        stdout.contains("the changed seals replace the earlier ones, which are revoked (变更)"),
        "{stdout}"
    );
    assert_eq!(on(&old_key), changed);

    let (stdout, reissued) = smoke(
        "reissue",
        &[
            "--mobile",
            "13900007777",
            "--new-token",
            new_key.to_str().unwrap(),
        ],
    );
    assert!(
        stdout.contains(
            "the reissued seals keep their pictures; the lost key's seals are revoked (补办)"
        ),
        "{stdout}"
    );
    assert_eq!(on(&new_key), reissued);

    // A 续期 with nothing left to renew on the key says so before anything is made.
    let empty = data.join("key-c");
    token(&empty);
    let (r, _) = run_smoke(&empty, "renew", &["--mobile", "13900007777"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("no completed order of this applicant has standing seals on the key"),
        "{err}"
    );
    drop(server);
}
