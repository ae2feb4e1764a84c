//! Audit appends per second under 64 concurrent writers, on SQLite and on PostgreSQL.
//!
//! Anchor, same run, same database and writers: `Store::push_sms`, one INSERT in its own transaction, measured
//! before and after the audit workloads. Each writer appends entries as the application does: its own transaction per entry (`Store::begin`,
//! `StoreTx::append_audit`, commit). Two workloads: order events (writer `w` writes about its own order, so
//! writers touch different orders) and platform events (no order: sign-ins, operator administration). At the end
//! the whole log is verified (`Store::verify_audit`), so a fast but broken chain cannot pass.
//!
//! Run: `cargo bench -p sealdesk-store --bench audit` (PostgreSQL at `SEALDESK_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; `AUDIT_BENCH_SECS`, default 10, per workload and backend).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sealdesk_store::{AuditDraft, Store};

const WRITERS: usize = 64;

fn draft(order_id: Option<i64>, n: u64) -> AuditDraft {
    AuditDraft {
        actor: "applicant:1".into(),
        ip: "127.0.0.1".into(),
        order_id,
        action: if order_id.is_some() {
            "update"
        } else {
            "sign_in"
        }
        .into(),
        before_state: None,
        after_state: None,
        detail: format!("{{\"n\":{n}}}"),
    }
}

/// What each writer does in a loop.
#[derive(Clone, Copy)]
enum Work {
    /// The anchor: one INSERT into the SMS outbox in its own transaction (`Store::push_sms`), no audit.
    Anchor,
    /// Audit entries about the writer's own order.
    Orders,
    /// Audit entries about no order.
    Platform,
}

/// Runs 64 writers for `secs`; returns transactions per second.
async fn run(store: &Store, secs: u64, work: Work) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let order = matches!(work, Work::Orders).then_some(1_000 + w as i64);
                let mut n = 0;
                while Instant::now() < deadline {
                    if let Work::Anchor = work {
                        store
                            .push_sms("13800138000", "bench", "anchor")
                            .await
                            .expect("anchor");
                    } else {
                        let mut tx = store.begin().await.expect("begin");
                        tx.append_audit(draft(order, n)).await.expect("append");
                        tx.commit().await.expect("commit");
                    }
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn bench(name: &str, store: Store, secs: u64) {
    let mut anchor = 0.0;
    for (label, work) in [
        ("anchor (insert)", Work::Anchor),
        ("order events", Work::Orders),
        ("platform events", Work::Platform),
        ("anchor again", Work::Anchor),
    ] {
        let rate = run(&store, secs, work).await;
        if let Work::Anchor = work {
            anchor = if anchor == 0.0 {
                rate
            } else {
                (anchor + rate) / 2.0
            };
            println!("{name:<10} {label:<16} {WRITERS} writers, {secs} s: {rate:>8.0} tx/s");
        } else {
            println!(
                "{name:<10} {label:<16} {WRITERS} writers, {secs} s: {rate:>8.0} appends/s ({:.2} of the anchor so far)",
                rate / anchor
            );
        }
    }
    let t = Instant::now();
    match store.verify_audit().await.expect("verify") {
        Ok(n) => println!(
            "{name:<10} verified {n} entries in {:.2} s",
            t.elapsed().as_secs_f64()
        ),
        Err((seq, why)) => panic!("{name}: the chain is broken at {seq}: {why}"),
    }
}

fn main() {
    let secs = std::env::var("AUDIT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("sealdesk-audit-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
        let store = Store::connect(&url, 1).await.expect("sqlite");
        bench("sqlite", store.clone(), secs).await;
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);

        let (store, drop_db) = sealdesk_store::testing::fresh_postgres("audit_bench").await;
        bench("postgresql", store.clone(), secs).await;
        store.close().await;
        drop_db.await;
    });
}
