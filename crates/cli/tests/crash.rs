//! Crash safety: the server is killed with SIGKILL again and again while applicants create orders, upload scans
//! and cancel orders through the API; after every restart each order, upload and cancellation that was
//! acknowledged to a client is there, every upload row still has its file (blobs are durable before their row
//! commits), and at the end `sealdesk audit verify` proves the chain. On SQLite and on PostgreSQL.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, get, order_body, post, run, sign_in, start, upload};
use serde_json::{Value, json};

/// Concurrent applicants.
const WORKERS: usize = 6;
/// Kills per backend.
const ROUNDS: usize = 4;

/// What a client was told succeeded.
#[derive(Default, Clone)]
struct Acked {
    order_id: String,
    uploads: Vec<String>,
    cancelled: bool,
}

struct Worker {
    token: String,
    orders: Vec<Acked>,
    /// Orders whose files were already downloaded and compared after an earlier kill.
    files_checked: usize,
}

/// A request that failed because the server was killed under it (connection cut) is expected; the server
/// refusing a well-formed request is a bug the test must show.
fn cut(e: String) {
    assert!(
        !e.starts_with("HTTP 4"),
        "the server refused a valid request: {e}"
    );
}

/// One applicant's loop until the server goes away: create, two uploads, and every other order cancelled.
/// Only what came back with a success status is recorded.
async fn drive(
    http: reqwest::Client,
    base: String,
    mobile: String,
    worker: Arc<Mutex<Worker>>,
    scan: Arc<Vec<u8>>,
) {
    let token = worker.lock().unwrap().token.clone();
    for n in 0.. {
        let Ok(o) = post(
            &http,
            format!("{base}/api/v1/orders"),
            Some(&token),
            order_body(&mobile, n),
        )
        .await
        .map_err(cut) else {
            return;
        };
        let id = o["id"].as_str().unwrap().to_owned();
        let idx = {
            let mut w = worker.lock().unwrap();
            w.orders.push(Acked {
                order_id: id.clone(),
                ..Default::default()
            });
            w.orders.len() - 1
        };
        for kind in ["id_front", "licence"] {
            let Ok(up) = upload(&http, &base, &token, &id, kind, scan.to_vec())
                .await
                .map_err(cut)
            else {
                return;
            };
            let uid = up["id"].as_str().unwrap().to_owned();
            worker.lock().unwrap().orders[idx].uploads.push(uid);
        }
        if n % 2 == 0 {
            if post(
                &http,
                format!("{base}/api/v1/orders/{id}/cancel"),
                Some(&token),
                json!({}),
            )
            .await
            .map_err(cut)
            .is_err()
            {
                return;
            }
            worker.lock().unwrap().orders[idx].cancelled = true;
        }
    }
}

/// Everything acknowledged so far is there and consistent.
async fn check(
    http: &reqwest::Client,
    base: &str,
    workers: &[Arc<Mutex<Worker>>],
    scan: &[u8],
) -> usize {
    let mut checked = 0;
    for w in workers {
        let (token, orders, files_checked) = {
            let w = w.lock().unwrap();
            (w.token.clone(), w.orders.clone(), w.files_checked)
        };
        let total = orders.len();
        for (i, a) in orders.into_iter().enumerate() {
            let resp = get(http, format!("{base}/api/v1/orders/{}", a.order_id), &token).await;
            assert_eq!(
                resp.status(),
                200,
                "acknowledged order {} is gone",
                a.order_id
            );
            let o: Value = resp.json().await.unwrap();
            let state = o["state"].as_str().unwrap();
            if a.cancelled {
                assert_eq!(
                    state, "cancelled",
                    "order {}: acknowledged cancel lost",
                    a.order_id
                );
            } else {
                // A cancel in flight at the kill may or may not have committed; nothing else may have happened.
                assert!(
                    matches!(state, "draft" | "cancelled"),
                    "order {}: state {state}",
                    a.order_id
                );
            }
            let listed: Vec<&str> = o["uploads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap())
                .collect();
            for u in &a.uploads {
                assert!(listed.contains(&u.as_str()), "acknowledged upload {u} lost");
            }
            // Every upload row, acknowledged or not, names a file that is there with the bytes sent. (Files
            // are immutable, so each is downloaded once, after the kill that followed its upload.)
            for u in listed.into_iter().filter(|_| i >= files_checked) {
                let r = get(http, format!("{base}/api/v1/uploads/{u}"), &token).await;
                assert_eq!(r.status(), 200, "upload {u} has a row but no file");
                assert_eq!(
                    r.bytes().await.unwrap().as_ref(),
                    scan,
                    "upload {u} differs"
                );
            }
            checked += 1;
        }
        w.lock().unwrap().files_checked = total;
    }
    checked
}

fn crash_rounds(data: &Path, extra: &[&str]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The binary carries no form generator (testkit is for tests of the artwork crate): a stored scan.
    let scan = Arc::new(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../artwork/tests/forms/form-1.jpg"
        ))
        .unwrap(),
    );
    sealdesk_adapters::install_tls_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut args = vec!["--demo"];
    args.extend_from_slice(extra);
    let (mut server, mut base) = start(data, &args);
    let mobiles: Vec<String> = (0..WORKERS)
        .map(|i| format!("1390000{:04}", 1000 + i))
        .collect();
    let workers: Vec<Arc<Mutex<Worker>>> = mobiles
        .iter()
        .map(|m| {
            let token = rt.block_on(sign_in(&http, &base, m));
            Arc::new(Mutex::new(Worker {
                token,
                orders: Vec::new(),
                files_checked: 0,
            }))
        })
        .collect();
    // A fixed sequence of kill delays, so that a failure can be replayed: early, mid-upload and later kills.
    let delays_ms = [700u64, 1300, 450, 2100];
    let mut before = 0;
    for round in 0..ROUNDS {
        let tasks: Vec<_> = workers
            .iter()
            .zip(&mobiles)
            .map(|(w, m)| {
                rt.spawn(drive(
                    http.clone(),
                    base.clone(),
                    m.clone(),
                    w.clone(),
                    scan.clone(),
                ))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(delays_ms[round % delays_ms.len()]));
        // SIGKILL: no shutdown hook runs, in-flight requests are cut.
        drop(server);
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        (server, base) = start(data, &args);
        let n = rt.block_on(check(&http, &base, &workers, &scan));
        assert!(
            n > before,
            "round {round}: no order was acknowledged before the kill"
        );
        eprintln!("round {round}: {n} acknowledged orders intact after SIGKILL");
        before = n;
    }
    drop::<Server>(server);
}

fn audit_ok(args: &[&str]) {
    let mut v = vec!["audit", "verify"];
    v.extend_from_slice(args);
    let out = run(&v);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit chain intact"));
}

#[test]
fn acknowledged_orders_survive_repeated_sigkill_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    crash_rounds(tmp.path(), &[]);
    audit_ok(&["--data-dir", tmp.path().to_str().unwrap()]);
}

#[test]
fn acknowledged_orders_survive_repeated_sigkill_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db_url, drop_db) = rt.block_on(sealdesk_store::testing::fresh_postgres_url("crash"));
    let tmp = tempfile::tempdir().unwrap();
    crash_rounds(tmp.path(), &["--database-url", &db_url]);
    audit_ok(&[
        "--data-dir",
        tmp.path().to_str().unwrap(),
        "--database-url",
        &db_url,
    ]);
    rt.block_on(drop_db);
}
