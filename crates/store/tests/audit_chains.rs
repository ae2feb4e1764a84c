//! The audit log as one chain per order plus chain 0 for platform events (issue 13): concurrent writers on
//! different orders, checkpoints over every chain's head, the legacy single chain of an older database kept
//! verifiable, and each kind of tampering — an edited entry, a deleted one, a chain's tail cut off with or without
//! its head row — named exactly by `verify_audit`. On SQLite and on PostgreSQL.

use sealdesk_domain::*;
use sealdesk_store::testing::{drop_audit_triggers, run_sql, with_each_backend};
use sealdesk_store::*;

fn draft(order_id: Option<i64>, n: usize) -> AuditDraft {
    AuditDraft {
        actor: "applicant:1".into(),
        ip: "127.0.0.1".into(),
        order_id,
        action: "edit".into(),
        detail: format!("{{\"n\":{n}}}"),
        ..Default::default()
    }
}

const ORDERS: [i64; 3] = [7_001, 7_002, 7_003];

/// Three orders with three entries each and two platform events, written by concurrent writers.
async fn fill(store: &Store) {
    let mut tasks = Vec::new();
    for (w, order) in ORDERS.iter().map(|o| Some(*o)).chain([None]).enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let n = if order.is_some() { 3 } else { 2 };
            for i in 0..n {
                let mut tx = store.begin().await.unwrap();
                tx.append_audit(draft(order, w * 10 + i)).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The global number of entry `pos` of `chain`.
async fn seq_of(store: &Store, chain: i64, pos: i64) -> i64 {
    store
        .audit_entries(if chain == 0 { None } else { Some(chain) })
        .await
        .unwrap()
        .into_iter()
        .find(|r| {
            r.chain
                == Some(ChainPos {
                    chain_id: chain,
                    pos,
                })
        })
        .unwrap()
        .seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_order_has_its_chain_and_an_edit_or_a_deletion_is_named() {
    with_each_backend("chains_edit", |store| async move {
        fill(&store).await;
        assert_eq!(store.verify_audit().await.unwrap(), Ok(11));
        let trail = store.audit_entries(Some(ORDERS[1])).await.unwrap();
        assert_eq!(
            trail.iter().map(|r| r.chain.unwrap()).collect::<Vec<_>>(),
            (1..=3)
                .map(|pos| ChainPos {
                    chain_id: ORDERS[1],
                    pos
                })
                .collect::<Vec<_>>()
        );
        // Every chain starts from the legacy chain's head (genesis in a new database).
        assert_eq!(trail[0].prev_hash, GENESIS_HASH);
        assert_eq!(trail[1].prev_hash, trail[0].hash);
        // The log stays append-only.
        assert_eq!(
            run_sql(&store, "DELETE FROM audit_log")
                .await
                .map_err(|e| e.contains("append-only")),
            Err(true)
        );
        drop_audit_triggers(&store).await;

        // An edited entry: its chain, its place, and the entry's number.
        let edited = seq_of(&store, ORDERS[1], 2).await;
        assert_eq!(
            run_sql(
                &store,
                &format!("UPDATE audit_log SET detail = '{{\"n\":99}}' WHERE seq = {edited}")
            )
            .await,
            Ok(1)
        );
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err((
                edited,
                format!(
                    "chain {} entry 2: hash does not match the entry's contents: it was altered",
                    ORDERS[1]
                )
            ))
        );
    })
    .await;
    with_each_backend("chains_delete", |store| async move {
        fill(&store).await;
        drop_audit_triggers(&store).await;
        // A deleted entry in the middle of a chain: the entry after it is where the gap shows.
        let (gone, next) = (
            seq_of(&store, ORDERS[0], 2).await,
            seq_of(&store, ORDERS[0], 3).await,
        );
        assert_eq!(
            run_sql(&store, &format!("DELETE FROM audit_log WHERE seq = {gone}")).await,
            Ok(1)
        );
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err((
                next,
                format!("chain {}: expected entry 2: an entry is missing", ORDERS[0])
            ))
        );
    })
    .await;
    with_each_backend("chains_platform", |store| async move {
        fill(&store).await;
        drop_audit_triggers(&store).await;
        // Platform events (chain 0) are proven like any order's.
        let edited = seq_of(&store, 0, 1).await;
        assert_eq!(
            run_sql(
                &store,
                &format!("UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = {edited}")
            )
            .await,
            Ok(1)
        );
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err((
                edited,
                "chain 0 entry 1: hash does not match the entry's contents: it was altered".into()
            ))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_tail_shows_against_the_head_and_against_a_checkpoint() {
    with_each_backend("chains_tail", |store| async move {
        fill(&store).await;
        let c = store.audit_heads().await.unwrap();
        assert_eq!(c.heads.len(), 4);
        assert_eq!(c.heads.iter().map(|h| h.seq).sum::<i64>(), 11);
        assert_eq!(store.audit_appends_since_checkpoint().await.unwrap(), 11);
        let id = store.add_audit_checkpoint(&c, "c2lnbmF0dXJl").await.unwrap();
        assert_eq!(store.audit_appends_since_checkpoint().await.unwrap(), 0);
        assert_eq!(
            store.audit_checkpoints().await.unwrap(),
            vec![(id, c.text(), "c2lnbmF0dXJl".to_owned())]
        );
        assert_eq!(store.verify_audit().await.unwrap(), Ok(11));
        // Checkpoints are append-only too.
        assert_eq!(
            run_sql(&store, "DELETE FROM audit_checkpoints").await.map_err(|e| e.contains("append-only")),
            Err(true)
        );
        drop_audit_triggers(&store).await;

        // The last entry of a chain deleted, its head row left: the head says more than remain.
        let chain = ORDERS[2];
        let (second, last) = (seq_of(&store, chain, 2).await, seq_of(&store, chain, 3).await);
        assert_eq!(run_sql(&store, &format!("DELETE FROM audit_log WHERE seq = {last}")).await, Ok(1));
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err((second, format!("chain {chain}: its head says 3 entries but 2 remain: entries were removed")))
        );
        // The head row rewound to match: every chain is consistent again, but the signed checkpoint still names
        // the entry that was cut off.
        let hash = store
            .audit_entries(Some(chain))
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.seq == second)
            .unwrap()
            .hash;
        assert_eq!(
            run_sql(&store, &format!("UPDATE audit_chains SET seq = 2, hash = '{hash}' WHERE chain_id = {chain}")).await,
            Ok(1)
        );
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err((0, format!("checkpoint {id}: chain {chain} entry 3 is not there as signed: entries were removed or altered")))
        );
    })
    .await;
}

/// The migration files of `dialect` numbered below `below`, as an older release applied them.
fn migrations_below(dialect: &str, below: i64) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.ends_with(".sql")
                && name.split('_').next().unwrap().parse::<i64>().unwrap() < below
        })
        .collect();
    files.sort();
    files
}

/// A database as the release before per-order chains left it: its migrations, and `n` entries of the single
/// chain written as that release wrote them (no chain, `audit_head` moved on with each).
async fn legacy_database(url: &str, dialect: &str, dir: &std::path::Path, n: i64) {
    let only = dir.join(format!("migrations-{dialect}"));
    std::fs::create_dir_all(&only).unwrap();
    for f in migrations_below(dialect, 22) {
        std::fs::copy(&f, only.join(f.file_name().unwrap())).unwrap();
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(only.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=n {
        let mut r = AuditRecord {
            seq,
            at: "2026-11-30T08:00:00Z".into(),
            actor: "operator:admin".into(),
            ip: "127.0.0.1".into(),
            order_id: Some(6_000 + seq),
            action: "approve".into(),
            before_state: Some("pending_review".into()),
            after_state: Some("pending_payment".into()),
            detail: "{}".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
            chain: None,
        };
        r.hash = r.compute_hash();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, ip, order_id, action, before_state, after_state, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.seq)
        .bind(&r.at)
        .bind(&r.actor)
        .bind(&r.ip)
        .bind(r.order_id)
        .bind(&r.action)
        .bind(&r.before_state)
        .bind(&r.after_state)
        .bind(&r.detail)
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&r.hash)
            .execute(&pool)
            .await
            .unwrap();
        prev = r.hash.clone();
    }
    pool.close().await;
}

/// After the migration, a log written as one chain by an older release verifies as before, new entries go to
/// per-order chains numbered after it that start from its last hash, and an edit of an old entry is still found
/// at its number.
async fn legacy_is_kept(store: Store) {
    assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
    let legacy_head = store.audit_entries(None).await.unwrap()[3].hash.clone();
    fill(&store).await;
    assert_eq!(store.verify_audit().await.unwrap(), Ok(15));
    let all = store.audit_entries(None).await.unwrap();
    assert_eq!(all.iter().filter(|r| r.chain.is_none()).count(), 4);
    assert!(all.iter().filter(|r| r.chain.is_some()).all(|r| r.seq > 4));
    for r in all.iter().filter(|r| r.chain.is_some_and(|c| c.pos == 1)) {
        assert_eq!(r.prev_hash, legacy_head);
    }
    assert_eq!(store.audit_heads().await.unwrap().legacy, (4, legacy_head));
    drop_audit_triggers(&store).await;
    assert_eq!(
        run_sql(
            &store,
            "UPDATE audit_log SET actor = 'operator:mallory' WHERE seq = 3"
        )
        .await,
        Ok(1)
    );
    assert_eq!(
        store.verify_audit().await.unwrap(),
        Err((
            3,
            "hash does not match the entry's contents: it was altered".into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_single_chain_is_kept_and_the_per_order_chains_follow_it() {
    let dir = std::env::temp_dir().join(format!("sealdesk-chains-{}-legacy", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("t.db");
    legacy_database(
        &format!("sqlite://{}?mode=rwc", db.display()),
        "sqlite",
        &dir,
        4,
    )
    .await;
    let store = Store::connect(&format!("sqlite://{}", db.display()), 1)
        .await
        .unwrap();
    legacy_is_kept(store.clone()).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();

    let (url, drop_db) = sealdesk_store::testing::fresh_postgres_url("chains_legacy").await;
    let dir =
        std::env::temp_dir().join(format!("sealdesk-chains-{}-legacy-pg", std::process::id()));
    legacy_database(&url, "postgres", &dir, 4).await;
    let store = Store::connect(&url, 1).await.unwrap();
    legacy_is_kept(store.clone()).await;
    store.close().await;
    drop_db.await;
    std::fs::remove_dir_all(&dir).ok();
}
