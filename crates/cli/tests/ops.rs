//! Operations: the metrics listener and request ids on a running server, and `backup` taken while it runs then
//! `restore`d into a new database and data directory, which serves the same orders, files and sessions with an
//! intact audit chain; on SQLite and PostgreSQL.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{free_port, get, order_body, post, run, sign_in, start, upload};
use serde_json::json;

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A signed-in applicant with one order holding one upload: (token, order id, upload id).
async fn one_order(
    http: &reqwest::Client,
    base: &str,
    mobile: &str,
    scan: &[u8],
) -> (String, String, String) {
    let token = sign_in(http, base, mobile).await;
    let o = post(
        http,
        format!("{base}/api/v1/orders"),
        Some(&token),
        order_body(mobile, 1),
    )
    .await
    .unwrap();
    let id = o["id"].as_str().unwrap().to_owned();
    let up = upload(http, base, &token, &id, "id_front", scan.to_vec())
        .await
        .unwrap();
    (token, id, up["id"].as_str().unwrap().to_owned())
}

fn backup_and_restore(extra_from: &[&str], extra_to: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    sealdesk_adapters::install_tls_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let scan = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../artwork/tests/forms/form-1.jpg"
    ))
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, bak) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("bak"),
    );
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--demo", "--metrics-listen", &metrics_addr];
    args.extend_from_slice(extra_from);
    let (server, base) = start(&src, &args);
    let (token, order, up) = rt.block_on(one_order(&http, &base, "13900002001", &scan));

    // Request ids: a proxy's id is kept, otherwise one is made.
    let r = rt
        .block_on(async {
            http.get(format!("{base}/healthz"))
                .header("x-request-id", "proxy-42")
                .send()
                .await
        })
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "proxy-42");
    let r = rt
        .block_on(async {
            http.get(format!("{base}/healthz"))
                .header("x-request-id", "bad id <script>")
                .send()
                .await
        })
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.len() > 8 && made != "bad id <script>", "{made}");
    // Metrics: on their own listener, not on the public one.
    let text = rt
        .block_on(async {
            http.get(format!("http://{metrics_addr}/metrics"))
                .send()
                .await?
                .text()
                .await
        })
        .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/orders",status="201"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"sealdesk_orders{state="draft"} 1"#),
        "{text}"
    );
    assert!(text.contains("sealdesk_seals_made 0"), "{text}");
    assert!(text.contains("sealdesk_database_up 1"), "{text}");
    let public = rt
        .block_on(async { http.get(format!("{base}/metrics")).send().await })
        .unwrap();
    assert_eq!(
        public.status(),
        404,
        "metrics must not be on the public port"
    );

    // Backup while the server runs.
    let mut b = vec![
        "backup",
        "--out",
        bak.to_str().unwrap(),
        "--data-dir",
        src.to_str().unwrap(),
    ];
    b.extend_from_slice(extra_from);
    let said = ok(&run(&b));
    assert!(said.contains("1 blobs"), "{said}");
    // The scan is sealed on disk (SM4-GCM, 个人信息加密存储) and the backup carries the keys that open it.
    let stored = std::fs::read_dir(src.join("blobs/uploads"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with(b"SDSM4G1\n"));
    assert!(
        !stored[0]
            .windows(64)
            .any(|w| w == &scan[scan.len() / 2..][..64])
    );
    for key in ["pki/data-keys", "pki/index-key"] {
        assert_eq!(
            std::fs::read(src.join(key)).unwrap(),
            std::fs::read(bak.join(key)).unwrap()
        );
    }
    drop(server);
    // A second backup into the same directory is refused rather than mixing two points in time.
    let again = run(&b);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("{} is not empty", bak.display())),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let mut r = vec![
        "restore",
        "--from",
        bak.to_str().unwrap(),
        "--data-dir",
        dst.to_str().unwrap(),
    ];
    r.extend_from_slice(extra_to);
    let said = ok(&run(&r));
    assert!(said.contains("audit chain intact"), "{said}");
    // Restoring over the restored platform is refused.
    let again = run(&r);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The restored platform has the same order, file and session, and the same keys (secret ones 0600).
    for key in ["pki/demo-ca.pem", "pki/data-keys", "pki/index-key"] {
        assert_eq!(
            std::fs::read(src.join(key)).unwrap(),
            std::fs::read(dst.join(key)).unwrap()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dst.join("pki/data-keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut args = vec!["--demo"];
    args.extend_from_slice(extra_to);
    let (_server, base) = start(&dst, &args);
    rt.block_on(async {
        let o = get(&http, format!("{base}/api/v1/orders/{order}"), &token).await;
        assert_eq!(o.status(), 200);
        let f = get(&http, format!("{base}/api/v1/uploads/{up}"), &token).await;
        assert_eq!(f.status(), 200);
        assert_eq!(f.bytes().await.unwrap().as_ref(), scan.as_slice());
        // And it takes new work.
        post(
            &http,
            format!("{base}/api/v1/orders/{order}/cancel"),
            Some(&token),
            json!({}),
        )
        .await
        .unwrap();
    });
}

fn damaged_backup_is_refused(bak: &Path, dst: &Path) {
    let db = std::fs::read_dir(bak)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "db" || e == "dump"))
        .unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let out = run(&[
        "restore",
        "--from",
        bak.to_str().unwrap(),
        "--data-dir",
        dst.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_request_ids_backup_and_restore_on_sqlite() {
    backup_and_restore(&[], &[]);
}

#[test]
fn backup_and_restore_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, drop_a) = rt.block_on(sealdesk_store::testing::fresh_postgres_url("bak_a"));
    let (b, drop_b) = rt.block_on(sealdesk_store::testing::fresh_postgres_url("bak_b"));
    backup_and_restore(&["--database-url", &a], &["--database-url", &b]);
    rt.block_on(drop_a);
    rt.block_on(drop_b);
}

/// A command that reads a platform, pointed at a directory that holds none, says so instead of creating an
/// empty database and reporting on it.
#[test]
fn reading_commands_refuse_a_data_dir_without_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let bak = tmp.path().join("bak");
    for args in [
        vec!["audit", "verify", "--data-dir", missing.to_str().unwrap()],
        vec![
            "backup",
            "--out",
            bak.to_str().unwrap(),
            "--data-dir",
            missing.to_str().unwrap(),
        ],
    ] {
        let out = run(&args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "no SealDesk database at {}",
                missing.join("sealdesk.db").display()
            )),
            "{err}"
        );
        assert!(!missing.exists() && !bak.exists(), "nothing is created");
    }
}

#[test]
fn a_damaged_backup_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, bak, dst) = (
        tmp.path().join("a"),
        tmp.path().join("bak"),
        tmp.path().join("b"),
    );
    ok(&run(&[
        "project",
        "add",
        "--code",
        "P1",
        "--name",
        "项目",
        "--data-dir",
        src.to_str().unwrap(),
    ]));
    ok(&run(&[
        "backup",
        "--out",
        bak.to_str().unwrap(),
        "--data-dir",
        src.to_str().unwrap(),
    ]));
    damaged_backup_is_refused(&bak, &dst);
    assert!(!dst.join("sealdesk.db").exists());
}
