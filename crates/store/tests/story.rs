//! The store's conformance story, run against SQLite (a temporary file) and PostgreSQL (a fresh database on the
//! server named by `SEALDESK_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`). A PostgreSQL
//! that cannot be reached fails the test: the production path is not optional.

use sealdesk_domain::*;
use sealdesk_store::testing::with_each_backend;
use sealdesk_store::*;

fn order(store: &Store, project: &Project, applicant: i64) -> Order {
    let id = store.next_id();
    Order {
        id,
        order_no: OrderNo::new(&project.code, id).to_string(),
        project_id: project.id,
        applicant_id: applicant,
        service: Service::New,
        state: OrderState::Draft,
        holder: Holder {
            kind: Some(HolderKind::Enterprise),
            enterprise_name: "北筑设计研究院有限公司".into(),
            ..Default::default()
        },
        seals: vec![SealLine {
            kind: SealKind::OfficialSeal,
            count: 1,
            name: "北筑设计研究院有限公司".into(),
        }],
        authorization: Authorization::default(),
        total: Fen(8000),
        review_comment: String::new(),
        review_reasons: Vec::new(),
        invoice: None,
        key: None,
        previous_order: None,
        chosen_seals: Vec::new(),
        confirmed_cutouts: None,
        pad_signature: None,
        bid_opening: None,
        version: 1,
        created_at: now_text(),
        updated_at: now_text(),
    }
}

fn audit(
    order: &Order,
    action: &str,
    before: Option<OrderState>,
    after: Option<OrderState>,
) -> AuditDraft {
    AuditDraft {
        actor: "applicant:1".into(),
        ip: "127.0.0.1".into(),
        order_id: Some(order.id),
        action: action.into(),
        before_state: before,
        after_state: after,
        detail: "{}".into(),
    }
}

#[tokio::test]
async fn orders_change_only_with_their_audit_entry_and_never_over_a_newer_version() {
    with_each_backend("orders", |store| async move {
        let p = store
            .create_project("testCSQY", "测试证书项目", Fen(8000), None)
            .await
            .unwrap();
        let a = store.applicant_for_mobile("13800138000").await.unwrap();
        assert_eq!(store.applicant_for_mobile("13800138000").await.unwrap(), a);
        let mut o = order(&store, &p, a);

        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&o).await.unwrap();
        tx.append_audit(audit(&o, "create", None, Some(OrderState::Draft)))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // A transaction dropped without commit leaves nothing behind.
        {
            let mut tx = store.begin().await.unwrap();
            let mut changed = o.clone();
            changed.state = OrderState::PendingReview;
            changed.version += 1;
            tx.update_order(&changed).await.unwrap();
            tx.append_audit(audit(
                &o,
                "submit",
                Some(OrderState::Draft),
                Some(OrderState::PendingReview),
            ))
            .await
            .unwrap();
        }
        assert_eq!(store.order(o.id).await.unwrap().state, OrderState::Draft);
        assert_eq!(store.audit_entries(None).await.unwrap().len(), 1);

        o.state = OrderState::PendingReview;
        o.version += 1;
        let mut tx = store.begin().await.unwrap();
        tx.update_order(&o).await.unwrap();
        tx.append_audit(audit(
            &o,
            "submit",
            Some(OrderState::Draft),
            Some(OrderState::PendingReview),
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();

        // A writer holding the old version is refused and changes nothing.
        let mut stale = o.clone();
        stale.state = OrderState::Cancelled;
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            tx.update_order(&stale).await,
            Err(StoreError::Conflict(_))
        ));
        drop(tx);

        let back = store.order_by_no(&o.order_no).await.unwrap();
        assert_eq!(back, o);
        assert_eq!(store.verify_audit().await.unwrap(), Ok(2));
        let trail = store.audit_entries(Some(o.id)).await.unwrap();
        assert_eq!(
            trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["create", "submit"]
        );

        // Order numbers are unique.
        let mut dup = order(&store, &p, a);
        dup.order_no = o.order_no.clone();
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            tx.insert_order(&dup).await,
            Err(StoreError::Conflict(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_refuses_edits_and_concurrent_appenders_keep_one_chain() {
    with_each_backend("audit", |store| async move {
        let mut handles = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for j in 0..5 {
                    let mut tx = store.begin().await.unwrap();
                    tx.append_audit(AuditDraft {
                        actor: format!("operator:{i}"),
                        ip: "-".into(),
                        action: format!("test-{j}"),
                        detail: "{}".into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(store.verify_audit().await.unwrap(), Ok(40));
        sealdesk_store::testing::assert_audit_is_append_only(&store).await;
    })
    .await;
}

#[tokio::test]
async fn listing_is_scoped_by_applicant_project_and_state() {
    with_each_backend("listing", |store| async move {
        let g = store.create_group("A组").await.unwrap();
        let p1 = store
            .create_project("P1", "项目一", Fen(8000), Some(g.id))
            .await
            .unwrap();
        let p2 = store
            .create_project("P2", "项目二", Fen(6000), None)
            .await
            .unwrap();
        let a = store.applicant_for_mobile("13800138000").await.unwrap();
        let b = store.applicant_for_mobile("13900139000").await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for i in 0..7 {
            let mut o = order(
                &store,
                if i % 2 == 0 { &p1 } else { &p2 },
                if i < 5 { a } else { b },
            );
            if i == 3 {
                o.state = OrderState::PendingReview;
            }
            tx.insert_order(&o).await.unwrap();
        }
        tx.commit().await.unwrap();
        let f = |applicant_id, project_ids, states: Vec<OrderState>| OrderFilter {
            applicant_id,
            project_ids,
            states,
            limit: 3,
            ..Default::default()
        };
        let (page, total) = store.list_orders(&f(Some(a), None, vec![])).await.unwrap();
        assert_eq!((page.len(), total), (3, 5));
        assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        assert!(page.iter().all(|o| o.applicant_id == a));
        // The total is the same whether the page is full, short (the last page gives it without a count) or
        // past the end.
        for (offset, rows) in [(0, 3), (2, 3), (3, 2), (4, 1), (5, 0), (9, 0)] {
            let (page, total) = store
                .list_orders(&OrderFilter {
                    offset,
                    ..f(Some(a), None, vec![])
                })
                .await
                .unwrap();
            assert_eq!((page.len(), total), (rows, 5), "offset {offset}");
        }
        let (page, total) = store
            .list_orders(&OrderFilter {
                limit: 10,
                ..f(Some(a), None, vec![])
            })
            .await
            .unwrap();
        assert_eq!((page.len(), total), (5, 5));
        let (_, total) = store
            .list_orders(&f(None, Some(vec![p1.id]), vec![]))
            .await
            .unwrap();
        assert_eq!(total, 4);
        let (_, total) = store
            .list_orders(&f(None, Some(vec![]), vec![]))
            .await
            .unwrap();
        assert_eq!(total, 0);
        let (page, total) = store
            .list_orders(&f(None, None, vec![OrderState::PendingReview]))
            .await
            .unwrap();
        assert_eq!((total, page[0].project_id), (1, p2.id));

        let op = store.create_operator("li", "hash", false).await.unwrap();
        assert!(store.operator_project_ids(&op).await.unwrap().is_empty());
        store.add_to_group(g.id, op.id).await.unwrap();
        store.add_to_group(g.id, op.id).await.unwrap();
        assert_eq!(store.operator_project_ids(&op).await.unwrap(), vec![p1.id]);
        let admin = store.create_operator("admin", "hash", true).await.unwrap();
        assert_eq!(store.operator_project_ids(&admin).await.unwrap().len(), 2);
        assert!(store.operator_by_name("admin").await.unwrap().is_admin);
        assert!(matches!(
            store.operator_by_name("nobody").await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn sessions_codes_outbox_payments_and_seals() {
    with_each_backend("misc", |store| async move {
        let s = Session {
            token_hash: "h".into(),
            kind: "applicant".into(),
            subject_id: 7,
            csrf: "c".into(),
            expires_at: 2_000,
        };
        store.create_session(&s).await.unwrap();
        assert_eq!(store.session("h", 1_000).await.unwrap(), s);
        assert!(matches!(
            store.session("h", 3_000).await,
            Err(StoreError::NotFound)
        ));
        store.delete_session("h").await.unwrap();
        assert!(store.session("h", 1_000).await.is_err());

        let c = SmsCode {
            mobile: "13800138000".into(),
            code_hash: "x".into(),
            expires_at: 500,
            attempts: 0,
            sent_at: 200,
        };
        store.put_sms_code(&c).await.unwrap();
        assert_eq!(
            store
                .take_sms_attempt("13800138000")
                .await
                .unwrap()
                .attempts,
            1
        );
        assert_eq!(
            store
                .take_sms_attempt("13800138000")
                .await
                .unwrap()
                .attempts,
            2
        );
        store.put_sms_code(&c).await.unwrap();
        assert_eq!(
            store
                .take_sms_attempt("13800138000")
                .await
                .unwrap()
                .attempts,
            1
        );
        store.purge_expired(600).await.unwrap();
        assert!(store.take_sms_attempt("13800138000").await.is_err());

        store
            .push_sms("13800138000", "t", "[金格科技] 你好")
            .await
            .unwrap();
        store.push_sms("13900139000", "t", "other").await.unwrap();
        let mine = store.outbox(Some("13800138000"), 10).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].text, "[金格科技] 你好");

        let p = store
            .create_project("P", "项目", Fen(8000), None)
            .await
            .unwrap();
        let a = store.applicant_for_mobile("13800138000").await.unwrap();
        let o = order(&store, &p, a);
        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&o).await.unwrap();
        tx.commit().await.unwrap();
        let pay = store
            .open_payment(store.next_id(), o.id, "sandbox", Fen(8000))
            .await
            .unwrap();
        let again = store
            .open_payment(store.next_id(), o.id, "sandbox", Fen(8000))
            .await
            .unwrap();
        assert_eq!(again.id, pay.id, "a second 去付款 reuses the open payment");
        let mut tx = store.begin().await.unwrap();
        assert!(tx.mark_payment_paid(pay.id, "T1", false).await.unwrap());
        assert!(
            !tx.mark_payment_paid(pay.id, "T2", true).await.unwrap(),
            "a repeated notification changes nothing"
        );
        tx.commit().await.unwrap();
        assert_eq!(
            store.payment(pay.id).await.unwrap().gateway_txn.as_deref(),
            Some("T1")
        );

        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00, 0xff];
        let seal = |seq: i32| SealRecord {
            id: store.next_id(),
            order_id: o.id,
            seq,
            es_id: format!("ES{seq}-{}", o.id),
            kind: SealKind::OfficialSeal,
            name: "公章".into(),
            der: der.clone(),
            picture_png: vec![0x89, b'P'],
            valid_start: now_text(),
            valid_end: now_text(),
            token_serial: "TOKEN-1".into(),
            revoked: false,
            created_at: now_text(),
        };
        let mut tx = store.begin().await.unwrap();
        for seq in 1..=2 {
            tx.insert_seal(&seal(seq)).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(store.seals(o.id).await.unwrap()[1].der, der);
        assert_eq!(store.seals_on_token("TOKEN-1").await.unwrap().len(), 2);
        let first = format!("ES1-{}", o.id);
        let live = store.seal_standing(&first).await.unwrap().unwrap();
        assert_eq!((live.revoked, live.revoked_at), (false, None));
        assert_eq!(store.seal_standing("ES-NONE").await.unwrap(), None);
        // 变更 revokes the seals of the order it replaces, with when and why; a second time finds none.
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.revoke_order_seals(o.id, "变更").await.unwrap(),
            vec![first.clone(), format!("ES2-{}", o.id)]
        );
        assert!(
            tx.revoke_order_seals(o.id, "变更")
                .await
                .unwrap()
                .is_empty()
        );
        tx.commit().await.unwrap();
        let gone = store.seal_standing(&first).await.unwrap().unwrap();
        assert!(gone.revoked);
        assert_eq!(gone.revoke_reason.as_deref(), Some("变更"));
        assert!(gone.revoked_at.is_some());
        assert_eq!(store.revoked_seals().await.unwrap().len(), 2);

        // 补办 revokes what is live on the lost key, of this holder only, with when and why.
        let mut tx = store.begin().await.unwrap();
        tx.insert_seal(&seal(3)).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.revoke_seals_on_token("TOKEN-1", a + 1).await.unwrap(),
            0,
            "another holder's 补办 revokes nothing here"
        );
        assert_eq!(
            tx.revoke_token_seals("TOKEN-1", a, "补办").await.unwrap(),
            vec![format!("ES3-{}", o.id)],
            "the seals 变更 revoked are not revoked again"
        );
        assert_eq!(tx.revoke_seals_on_token("TOKEN-1", a).await.unwrap(), 0);
        tx.commit().await.unwrap();
        let third = store
            .seal_standing(&format!("ES3-{}", o.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (third.revoked, third.revoke_reason.as_deref()),
            (true, Some("补办"))
        );
        assert_eq!(
            store
                .seal_standing(&first)
                .await
                .unwrap()
                .unwrap()
                .revoke_reason
                .as_deref(),
            Some("变更"),
            "a revoked seal keeps its first reason"
        );
        assert_eq!(store.revoked_seals().await.unwrap().len(), 3);
        assert!(store.seals_on_token("TOKEN-1").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_limits_are_shared_and_atomic() {
    with_each_backend("limits", |store| async move {
        // Counters: one atomic upsert per event, seen by every instance (here: every clone of the pool).
        let other = store.clone();
        let bumps = (0..20).map(|i| {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            async move {
                s.bump_counter("code_mobile_hour", "13800138000", 7)
                    .await
                    .unwrap()
            }
        });
        let mut seen: Vec<i64> = futures_join(bumps).await;
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=20).collect::<Vec<_>>(),
            "no count is lost or repeated"
        );
        assert_eq!(
            store
                .counter("code_mobile_hour", "13800138000", 7)
                .await
                .unwrap(),
            20
        );
        assert_eq!(
            store
                .counter("code_mobile_hour", "13800138000", 8)
                .await
                .unwrap(),
            0
        );

        // Operator attempts: 20 at once from one address get the numbers 1..20, so that only the first five
        // may be evaluated; another address is not affected.
        let now = 1_800_000_000;
        let tries = (0..20).map(|_| {
            let s = store.clone();
            async move {
                s.reserve_login_attempt("admin", "10.0.0.9", now, 5, 900)
                    .await
                    .unwrap()
            }
        });
        let mut n: Vec<i64> = futures_join(tries).await;
        n.sort_unstable();
        assert_eq!(n, (1..=20).collect::<Vec<_>>());
        assert_eq!(
            store
                .login_locked_until("admin", "10.0.0.9", 5, 900)
                .await
                .unwrap(),
            Some(now + 900)
        );
        assert_eq!(
            store
                .login_locked_until("admin", "10.0.0.1", 5, 900)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .reserve_login_attempt("admin", "10.0.0.1", now, 5, 900)
                .await
                .unwrap(),
            1
        );
        // Attempts while locked do not move the end of the lock-out; after it the run starts again.
        store
            .reserve_login_attempt("admin", "10.0.0.9", now + 300, 5, 900)
            .await
            .unwrap();
        assert_eq!(
            store
                .login_locked_until("admin", "10.0.0.9", 5, 900)
                .await
                .unwrap(),
            Some(now + 900)
        );
        assert_eq!(
            store
                .reserve_login_attempt("admin", "10.0.0.9", now + 901, 5, 900)
                .await
                .unwrap(),
            1
        );
        store
            .clear_login_failures("admin", "10.0.0.9")
            .await
            .unwrap();
        assert_eq!(
            store
                .login_locked_until("admin", "10.0.0.9", 5, 900)
                .await
                .unwrap(),
            None
        );

        // Challenges: answered once, and only with the nonce issued.
        store.put_challenge(42, "n1", now + 300).await.unwrap();
        store.put_challenge(42, "n2", now + 300).await.unwrap();
        assert!(matches!(
            store.take_challenge(42, "n1").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.take_challenge(42, "n2").await.unwrap(), now + 300);
        assert!(matches!(
            store.take_challenge(42, "n2").await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

/// Runs futures as concurrent tasks and collects their outputs in order.
async fn futures_join<F>(fs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_verify_never_raises_a_false_alarm_beside_writers() {
    with_each_backend("auditloop", |store| async move {
        let store = store
            .with_audit_key(b"an audit key of thirty-two bytes".to_vec())
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let (s, stop) = (store.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let mut tx = s.begin().await.unwrap();
                        tx.append_audit(AuditDraft {
                            actor: format!("writer:{w}"),
                            ip: "-".into(),
                            action: "test".into(),
                            detail: format!("{{\"n\":{n}}}"),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                        tx.commit().await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        // At least 40 verifications, and on until the writers' entries show: on a loaded machine 40 verifications
        // of the empty log can finish before the first commit's fsync does.
        let started = std::time::Instant::now();
        let mut last = 0;
        let mut rounds = 0;
        while rounds < 40 || last == 0 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no writer's entry showed within 60 s"
            );
            rounds += 1;
            let n = store
                .verify_audit()
                .await
                .unwrap()
                .unwrap_or_else(|(seq, why)| panic!("false alarm at {seq}: {why}"));
            assert!(n >= last, "the log never shrinks");
            last = n;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut written = 0;
        for w in writers {
            written += w.await.unwrap();
        }
        assert!(
            written > 0 && last > 0,
            "the writers wrote while verify ran"
        );
        assert!(store.verify_audit().await.unwrap().unwrap() >= last);
    })
    .await;
}

/// The production server's PostgreSQL role has no DDL rights and may only append to the audit log: it works
/// (the store does not try to migrate an up-to-date database), and it cannot edit, delete or un-trigger audit
/// entries even by hand.
#[tokio::test]
async fn the_server_role_cannot_rewrite_the_audit_log() {
    let (url, drop_db) = sealdesk_store::testing::fresh_postgres_url("role").await;
    let owner = Store::connect(&url, 1).await.unwrap();
    let role = format!("sd_app_{}", std::process::id());
    let app_url = sealdesk_store::testing::restricted_role_url(&url, &role).await;
    let app = Store::connect(&app_url, 2).await.unwrap();
    for _ in 0..2 {
        let mut tx = app.begin().await.unwrap();
        tx.append_audit(AuditDraft {
            actor: "platform".into(),
            ip: "-".into(),
            action: "test".into(),
            detail: "{}".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(app.verify_audit().await.unwrap(), Ok(2));
    for sql in [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_no_update ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "CREATE TABLE t (x INT)",
    ] {
        let err = sealdesk_store::testing::try_sql(&app, sql)
            .await
            .unwrap_err();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{sql}: {err}"
        );
    }
    assert_eq!(owner.verify_audit().await.unwrap(), Ok(2));
    app.close().await;
    owner.close().await;
    drop_db.await;
}

#[test]
fn urls_are_redacted() {
    assert_eq!(
        redact_url("postgres://u:secret@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
}

#[tokio::test]
async fn list_queries_and_order_number_search_are_served_by_indexes() {
    with_each_backend("plans", |store| async move {
        let g = store.create_group("压测组").await.unwrap();
        let mut projects = Vec::new();
        for i in 0..8 {
            projects.push(
                store
                    .create_project(&format!("PL{i}"), "单位", Fen(8000), Some(g.id))
                    .await
                    .unwrap(),
            );
        }
        let states = [
            OrderState::Draft,
            OrderState::PendingReview,
            OrderState::PendingPayment,
            OrderState::Paid,
            OrderState::Completed,
            OrderState::Completed,
            OrderState::Completed,
            OrderState::Completed,
        ];
        // 2 000 applicants × 10 orders over 8 projects: enough rows that a scan would cost more than an index.
        let (mut applicants, mut orders) = (Vec::new(), Vec::new());
        for a in 0..2_000usize {
            let id = store.next_id();
            applicants.push((id, format!("171{a:08}")));
            for k in 0..10 {
                let mut o = order(&store, &projects[(a * 10 + k) % 8], id);
                o.state = states[(a + k) % 8];
                orders.push(o);
            }
        }
        store.bulk_load(&applicants, &orders, &[]).await.unwrap();
        store.analyze().await.unwrap();

        let probe = &orders[12_345];
        let prefix = &probe.order_no[..probe.order_no.len() - 2];
        let filters = [
            (
                "applicant list",
                OrderFilter {
                    applicant_id: Some(applicants[777].0),
                    limit: 20,
                    ..Default::default()
                },
            ),
            (
                "operator review queue",
                OrderFilter {
                    project_ids: Some(projects[..3].iter().map(|p| p.id).collect()),
                    states: vec![OrderState::PendingReview],
                    oldest_first: true,
                    limit: 20,
                    offset: 40,
                    ..Default::default()
                },
            ),
            (
                "operator review queue, longest waiting first (the console's default)",
                OrderFilter {
                    project_ids: Some(projects[..3].iter().map(|p| p.id).collect()),
                    states: vec![OrderState::PendingReview],
                    sort_by: SortKey::Updated,
                    oldest_first: true,
                    limit: 20,
                    offset: 40,
                    ..Default::default()
                },
            ),
            (
                "operator state tab, newest first (the API's default)",
                OrderFilter {
                    project_ids: Some(projects[..5].iter().map(|p| p.id).collect()),
                    states: vec![OrderState::Completed],
                    limit: 20,
                    offset: 80,
                    ..Default::default()
                },
            ),
            (
                "order number search",
                OrderFilter {
                    project_ids: Some(projects.iter().map(|p| p.id).collect()),
                    order_no_prefix: Some(prefix.to_owned()),
                    limit: 20,
                    ..Default::default()
                },
            ),
        ];
        for (what, f) in &filters {
            let plan = store.explain_list(f).await.unwrap().join("\n");
            match store.backend() {
                Backend::Sqlite => assert!(
                    !plan.lines().any(|l| l.trim() == "SCAN orders"),
                    "{what} scans the table on SQLite:\n{plan}"
                ),
                Backend::Postgres => assert!(
                    !plan.contains("Seq Scan on orders"),
                    "{what} scans the table on PostgreSQL:\n{plan}"
                ),
            }
            // The operator's lists read their page in list order from an index instead of sorting every
            // matching row (the order-number search sorts its handful of matches).
            if what.starts_with("operator") {
                match store.backend() {
                    Backend::Sqlite => {
                        assert!(!plan.contains("TEMP B-TREE"), "{what} sorts:\n{plan}")
                    }
                    Backend::Postgres => assert!(!plan.contains("Sort"), "{what} sorts:\n{plan}"),
                }
            }
        }
        // On PostgreSQL, a search for any part of the text goes through the trigram index (SQLite scans the
        // one narrow column).
        if store.backend() == Backend::Postgres {
            let tail = &probe.order_no[probe.order_no.len() - 6..];
            let f = OrderFilter {
                search: Some(tail.to_owned()),
                limit: 20,
                ..Default::default()
            };
            let plan = store.explain_list(&f).await.unwrap().join("\n");
            assert!(plan.contains("orders_search_trgm"), "{plan}");
        }
        // The count stops past ORDER_COUNT_CAP; below it, it is exact.
        let all = OrderFilter {
            limit: 20,
            ..Default::default()
        };
        assert_eq!(
            store.list_orders(&all).await.unwrap().1,
            ORDER_COUNT_CAP + 1
        );
        let (page, n) = store.list_orders(&filters[0].1).await.unwrap();
        assert_eq!((page.len(), n), (10, 10));
        let (_, n) = store.list_orders(&filters[1].1).await.unwrap();
        assert_eq!(
            n as usize,
            orders
                .iter()
                .filter(|o| o.state == OrderState::PendingReview
                    && projects[..3].iter().any(|p| p.id == o.project_id))
                .count()
        );
        // The search finds what LIKE 'prefix%' would, and no more.
        let (found, n) = store.list_orders(&filters[4].1).await.unwrap();
        let expected = orders
            .iter()
            .filter(|o| o.order_no.starts_with(prefix))
            .count();
        assert_eq!(n as usize, expected);
        assert!(found.iter().any(|o| o.id == probe.id));
        let none = OrderFilter {
            order_no_prefix: Some("KG-中".into()),
            limit: 20,
            ..Default::default()
        };
        assert_eq!(store.list_orders(&none).await.unwrap().1, 0);
        let s = store.stats().await.unwrap();
        assert_eq!(
            s.orders_by_state.iter().map(|(_, n)| n).sum::<i64>(),
            20_000
        );
        assert_eq!(
            s.orders_by_state
                .iter()
                .find(|(st, _)| st == "completed")
                .map(|x| x.1),
            Some(10_000)
        );
    })
    .await;
}

/// The migration files of one dialect, in the order they apply.
fn migration_files(dialect: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
}

/// Runs only the migrations `files` on the database at `url`, as an older release left it (`dir` holds their
/// copies).
async fn migrate_to(url: &str, files: &[std::path::PathBuf], dir: &std::path::Path) {
    let only = dir.join("migrations");
    std::fs::create_dir_all(&only).unwrap();
    for f in files {
        std::fs::copy(f, only.join(f.file_name().unwrap())).unwrap();
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
    pool.close().await;
}

/// The versions recorded as applied in the database at `url`, ascending.
async fn applied_versions(url: &str) -> Vec<i64> {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| sqlx::Row::try_get::<i64, _>(r, "version").unwrap())
        .collect()
}

/// The version a migration file carries (its number before the first `_`).
fn version(file: &std::path::Path) -> i64 {
    let name = file.file_name().unwrap().to_str().unwrap();
    name.split('_').next().unwrap().parse().unwrap()
}

/// Opening the store at `url` applied every migration, and its queries on the newest columns (seal status) work.
async fn store_brings_up_to_date(url: &str, files: &[std::path::PathBuf]) {
    let store = Store::connect(url, 1).await.unwrap();
    assert_eq!(store.seal_standing("ES-NONE").await.unwrap(), None);
    assert!(store.revoked_seals().await.unwrap().is_empty());
    let (orders, n) = store.list_orders(&OrderFilter::default()).await.unwrap();
    assert_eq!((orders.len(), n), (0, 0));
    store.close().await;
    assert_eq!(
        applied_versions(url).await,
        files.iter().map(|f| version(f)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_database_lacking_any_migration_is_brought_up_to_date() {
    let sqlite = migration_files("sqlite");
    let postgres = migration_files("postgres");
    let names = |fs: &[std::path::PathBuf]| {
        fs.iter()
            .map(|f| f.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&sqlite),
        names(&postgres),
        "the dialects keep in step"
    );
    assert!(sqlite.len() >= 3, "{sqlite:?}");
    // What older releases left: the first k migrations. And, since branches land in any order, a database that
    // has every migration but one (after the first, which makes the tables): the missing one must still run.
    // Except a migration that a later one builds on (alters or indexes a table it creates): that later one was
    // written after it had landed, so no database lacks the one and has the other.
    let created = |f: &std::path::PathBuf| -> Vec<String> {
        let sql = std::fs::read_to_string(f).unwrap();
        sql.split("CREATE TABLE ")
            .skip(1)
            .filter_map(|rest| {
                let rest = rest.trim_start_matches("IF NOT EXISTS ");
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .map(str::to_owned)
            })
            .collect()
    };
    let mut cases: Vec<Vec<usize>> = (1..sqlite.len()).map(|k| (0..k).collect()).collect();
    for missing in 1..sqlite.len() - 1 {
        let tables = created(&sqlite[missing]);
        let built_on = sqlite[missing + 1..].iter().any(|later| {
            let sql = std::fs::read_to_string(later).unwrap();
            tables.iter().any(|t| sql.contains(t.as_str()))
        });
        if !built_on {
            cases.push((0..sqlite.len()).filter(|&i| i != missing).collect());
        }
    }
    for (n, case) in cases.iter().enumerate() {
        let pick =
            |fs: &[std::path::PathBuf]| case.iter().map(|&i| fs[i].clone()).collect::<Vec<_>>();
        let dir =
            std::env::temp_dir().join(format!("sealdesk-store-{}-upgrade-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        migrate_to(
            &format!("sqlite://{}?mode=rwc", db.display()),
            &pick(&sqlite),
            &dir.join("sqlite"),
        )
        .await;
        store_brings_up_to_date(&format!("sqlite://{}", db.display()), &sqlite).await;

        let tag = format!("upgrade{n}");
        let (url, drop_db) = sealdesk_store::testing::fresh_postgres_url(&tag).await;
        migrate_to(&url, &pick(&postgres), &dir.join("postgres")).await;
        store_brings_up_to_date(&url, &postgres).await;
        drop_db.await;
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// `/healthz`'s ping has a connection of its own: it answers while every connection of the pool is held by a
/// transaction, where a ping through the pool would wait out the acquire timeout and fail. (PostgreSQL only:
/// on SQLite a second open transaction waits for the first's write lock, so the pool cannot be filled so.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_while_every_pooled_connection_is_taken() {
    let (pg, drop_db) = sealdesk_store::testing::fresh_postgres("pingfull").await;
    let mut held = Vec::new();
    for _ in 0..pg.max_connections() {
        held.push(pg.begin().await.unwrap());
    }
    assert_eq!(held.len(), 16);
    pg.ping().await.unwrap();
    drop(held);
    pg.close().await;
    drop_db.await;
}

/// The console's search finds an order by any part of its number, the applicant's or enterprise's name, the credit
/// code (any case) or the mobile number, written by bulk load, insert and update alike; `%` and `_` are literal;
/// the column filters and sorts combine with it; an export walks the list by id.
#[tokio::test]
async fn search_finds_any_part_and_the_filters_combine() {
    with_each_backend("search", |store| async move {
        let p = store
            .create_project("SRCH", "搜索单位", Fen(8000), None)
            .await
            .unwrap();
        let people = [
            (
                "张三",
                "北筑设计研究院有限公司",
                "91110108551385082Q",
                "13800138000",
            ),
            (
                "李四",
                "南昌城建档案馆",
                "12360100491012345X",
                "13912345678",
            ),
            (
                "王五_%",
                "赣江建设有限公司",
                "91360100MA35ABCDE1",
                "17700001111",
            ),
        ];
        let mut applicants = Vec::new();
        let mut orders = Vec::new();
        for (i, (name, ent, code, mobile)) in people.iter().enumerate() {
            let a = store.next_id();
            applicants.push((a, mobile.to_string()));
            let mut o = order(&store, &p, a);
            o.holder.applicant_name = name.to_string();
            o.holder.enterprise_name = ent.to_string();
            o.holder.credit_code = code.to_string();
            o.holder.mobile = mobile.to_string();
            o.total = Fen(8000 * (i as i64 + 1));
            o.service = if i == 1 {
                Service::Renewal
            } else {
                Service::New
            };
            orders.push(o);
        }
        store.bulk_load(&applicants, &orders, &[]).await.unwrap();
        let find = |q: &str| OrderFilter {
            search: Some(q.to_owned()),
            limit: 50,
            ..Default::default()
        };
        let ids = |found: &[Order]| found.iter().map(|o| o.id).collect::<Vec<_>>();
        // Orders made together share the start of their numbers (their ids differ in the low digits, more of
        // them when the clock ticked between two): a middle part of that shared start finds them all, a tail one.
        let no = &orders[1].order_no;
        // The shortest tail of at least 4 characters that no other order's number contains: ids made together
        // may repeat digits (…553, …555, …557 all contain "5555" at the end of …55557), so a fixed 4 is not enough.
        let tail = (4..=no.len())
            .map(|n| &no[no.len() - n..])
            .find(|t| {
                orders
                    .iter()
                    .filter(|o| o.id != orders[1].id)
                    .all(|o| !o.order_no.contains(t))
            })
            .unwrap();
        let shared = orders
            .iter()
            .skip(1)
            .fold(orders[0].order_no.len(), |n, o| {
                orders[0]
                    .order_no
                    .bytes()
                    .zip(o.order_no.bytes())
                    .take(n)
                    .take_while(|(a, b)| a == b)
                    .count()
            });
        let middle = orders[0].order_no[3..shared].to_ascii_lowercase();
        assert!(middle.len() > 8, "{middle}");
        for (q, want) in [
            (tail, vec![orders[1].id]),
            (&middle, vec![orders[2].id, orders[1].id, orders[0].id]),
            ("城建", vec![orders[1].id]),
            ("三", vec![orders[0].id]),
            ("ma35abcde", vec![orders[2].id]),
            ("  551385082q ", vec![orders[0].id]),
            ("12345678", vec![orders[1].id]),
            ("_%", vec![orders[2].id]),
            ("%", vec![orders[2].id]),
            ("有限公司\n赣", vec![]),
            ("不存在", vec![]),
        ] {
            let (found, n) = store.list_orders(&find(q)).await.unwrap();
            assert_eq!(
                (ids(&found), n as usize),
                (want.clone(), want.len()),
                "{q:?}"
            );
        }
        // Blank searches filter nothing; newest first by default.
        let (all, n) = store.list_orders(&find(" ")).await.unwrap();
        assert_eq!(n, 3);
        assert_eq!(ids(&all), vec![orders[2].id, orders[1].id, orders[0].id]);

        // Insert and update keep the column up to date.
        let a = store.applicant_for_mobile("13600000000").await.unwrap();
        let mut fresh = order(&store, &p, a);
        fresh.holder.applicant_name = "赵六".into();
        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&fresh).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            ids(&store.list_orders(&find("赵六")).await.unwrap().0),
            vec![fresh.id]
        );
        let mut changed = fresh.clone();
        changed.holder.applicant_name = "钱七".into();
        changed.version += 1;
        let mut tx = store.begin().await.unwrap();
        tx.update_order(&changed).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.list_orders(&find("赵六")).await.unwrap().1, 0);
        assert_eq!(
            ids(&store.list_orders(&find("钱七")).await.unwrap().0),
            vec![fresh.id]
        );

        // Filters and sorts combine with the search.
        let f = OrderFilter {
            search: Some("有限公司".into()),
            services: vec![Service::New],
            sort_by: SortKey::Total,
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(&store.list_orders(&f).await.unwrap().0),
            vec![orders[2].id, fresh.id, orders[0].id],
            "by 费用 descending, ties newest first"
        );
        let f = OrderFilter {
            services: vec![Service::Renewal],
            ..f
        };
        assert_eq!(store.list_orders(&f).await.unwrap().1, 0);
        let later = OrderFilter {
            created_from: Some("2999-01-01T00:00:00Z".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(store.list_orders(&later).await.unwrap().1, 0);
        let earlier = OrderFilter {
            created_before: Some("2999-01-01T00:00:00Z".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(store.list_orders(&earlier).await.unwrap().1, 4);
        // An export's batches: by id, each below the last one seen.
        let mut seen = Vec::new();
        let mut below = None;
        loop {
            let (batch, _) = store
                .list_orders(&OrderFilter {
                    id_below: below,
                    limit: 2,
                    ..Default::default()
                })
                .await
                .unwrap();
            let Some(last) = batch.last() else { break };
            below = Some(last.id);
            seen.extend(ids(&batch));
        }
        assert_eq!(
            seen,
            vec![fresh.id, orders[2].id, orders[1].id, orders[0].id]
        );
    })
    .await;
}

/// 审核预检 results belong to one submission: a resubmission resets them, and a late run for the earlier
/// submission writes nothing.
#[tokio::test]
async fn prechecks_belong_to_the_submission_they_were_run_for() {
    with_each_backend("prechecks", |store| async move {
        let o = sealdesk_store::testing::order_in(
            &store,
            "PC",
            "13800138000",
            OrderState::PendingReview,
        )
        .await;
        assert_eq!(store.prechecks(o.id).await.unwrap(), None);
        store.reset_prechecks(o.id, 2).await.unwrap();
        let due = store.prechecks(o.id).await.unwrap().unwrap();
        assert_eq!(
            (due.submitted_version, due.results, due.checked_at),
            (2, None, None)
        );
        let first = vec![Precheck::new(
            "licence_ocr_credit_code",
            Outcome::Fail,
            "证件识别企业证件号为91360100MA35L0N2TX，与最终填写的不符",
        )];
        assert!(
            store
                .put_prechecks(o.id, 2, &first, "2026-12-01T00:00:00Z")
                .await
                .unwrap()
        );
        let got = store.prechecks(o.id).await.unwrap().unwrap();
        assert_eq!(got.results, Some(first.clone()));
        assert_eq!(got.checked_at.as_deref(), Some("2026-12-01T00:00:00Z"));

        // Resubmitted at version 5: the old results go, and the run for version 2 cannot bring them back.
        store.reset_prechecks(o.id, 5).await.unwrap();
        assert_eq!(store.prechecks(o.id).await.unwrap().unwrap().results, None);
        assert!(
            !store
                .put_prechecks(o.id, 2, &first, "2026-12-01T00:01:00Z")
                .await
                .unwrap()
        );
        assert_eq!(store.prechecks(o.id).await.unwrap().unwrap().results, None);
        let second = vec![Precheck::new(
            "duplicate_orders",
            Outcome::Pass,
            "没有同一持有人的其他未完成订单",
        )];
        assert!(
            store
                .put_prechecks(o.id, 5, &second, "2026-12-01T00:02:00Z")
                .await
                .unwrap()
        );
        assert_eq!(
            store.prechecks(o.id).await.unwrap().unwrap().results,
            Some(second)
        );
    })
    .await;
}

/// The 审核预检 queue: of workers claiming at once, each due submission goes to exactly one; a claim holds until
/// its lease runs out, then another worker takes it over; checks stored or a resubmission take it off or put
/// it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_precheck_queue_hands_each_submission_to_one_worker() {
    with_each_backend("precheck_queue", |store| async move {
        let mut due = Vec::new();
        for (i, mobile) in ["13800138001", "13800138002", "13800138003", "13800138004"]
            .into_iter()
            .enumerate()
        {
            let o = sealdesk_store::testing::order_in(
                &store,
                &format!("Q{i}"),
                mobile,
                OrderState::PendingReview,
            )
            .await;
            store.reset_prechecks(o.id, 7).await.unwrap();
            due.push((o.id, 7));
        }
        due.sort_unstable();
        assert_eq!(store.stats().await.unwrap().prechecks_due, 4);

        // Eight workers claim one at a time until nothing is left.
        let now = 1_000_000;
        let won = futures_join((0..8).map(|_| {
            let store = store.clone();
            async move {
                let mut mine = Vec::new();
                while let Some(job) = store.claim_due_prechecks(now, 300, 1).await.unwrap().pop() {
                    mine.push(job);
                }
                mine
            }
        }))
        .await;
        let mut all: Vec<(i64, i64)> = won.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, due, "each due submission claimed exactly once");

        // Held until the lease runs out, then offered again (the worker died).
        assert!(
            store
                .claim_due_prechecks(now + 299, 300, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.claim_due_prechecks(now + 300, 300, 10).await.unwrap(),
            due
        );

        // Stored results take a submission off the queue; a resubmission puts it back at once, whatever the
        // lease of the run before.
        let (first, _) = due[0];
        let done = vec![Precheck::new(
            "duplicate_orders",
            Outcome::Pass,
            "没有同一持有人的其他未完成订单",
        )];
        assert!(
            store
                .put_prechecks(first, 7, &done, "2026-12-01T00:00:00Z")
                .await
                .unwrap()
        );
        assert_eq!(store.stats().await.unwrap().prechecks_due, 3);
        assert!(
            store
                .claim_due_prechecks(now + 600, 300, 10)
                .await
                .unwrap()
                .iter()
                .all(|(id, _)| *id != first)
        );
        store.reset_prechecks(first, 9).await.unwrap();
        assert_eq!(
            store.claim_due_prechecks(now + 601, 300, 10).await.unwrap(),
            vec![(first, 9)]
        );
    })
    .await;
}

/// 在线客服: a thread per order, oldest first; a thread waits for an answer while its last message is the
/// applicant's, newest first.
#[tokio::test]
async fn message_threads_wait_until_an_operator_answers() {
    with_each_backend("messages", |store| async move {
        let a = sealdesk_store::testing::order_in(
            &store,
            "MS",
            "13800138000",
            OrderState::PendingReview,
        )
        .await;
        let b = sealdesk_store::testing::order_in(
            &store,
            "MS",
            "13800138001",
            OrderState::PendingReview,
        )
        .await;
        let say = |order_id: i64, from_operator: bool, body: &str| OrderMessage {
            id: store.next_id(),
            order_id,
            from_operator,
            author: if from_operator {
                "operator:admin".into()
            } else {
                format!("applicant:{order_id}")
            },
            body: body.into(),
            created_at: now_text(),
        };
        let m1 = say(a.id, false, "请问多久能审核完？");
        let m2 = say(b.id, false, "营业执照需要盖章吗？");
        let m3 = say(a.id, true, "1-2 个工作日内审核，请耐心等待。");
        for m in [&m1, &m2, &m3] {
            let mut tx = store.begin().await.unwrap();
            tx.insert_message(m).await.unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(
            store.messages(a.id).await.unwrap(),
            vec![m1.clone(), m3.clone()]
        );
        let waiting = store.waiting_threads(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].last.clone(), waiting[0].order_no.clone()),
            (m2.clone(), b.order_no.clone())
        );
        // The applicant writes again: both wait, the newest first.
        let m4 = say(a.id, false, "好的，谢谢");
        let mut tx = store.begin().await.unwrap();
        tx.insert_message(&m4).await.unwrap();
        tx.commit().await.unwrap();
        let waiting: Vec<i64> = store
            .waiting_threads(10)
            .await
            .unwrap()
            .iter()
            .map(|w| w.last.id)
            .collect();
        assert_eq!(waiting, [m4.id, m2.id]);
    })
    .await;
}
