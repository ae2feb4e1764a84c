//! The store's conformance story, run against SQLite (a temporary file) and PostgreSQL (a fresh database on the
//! server named by `SEALDESK_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`). A PostgreSQL
//! that cannot be reached fails the test: the production path is not optional.

use sealdesk_domain::*;
use sealdesk_store::*;

async fn with_each_backend<F, Fut>(name: &str, f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("sealdesk-store-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Store::connect(&format!("sqlite://{}", dir.join("t.db").display()), 1)
        .await
        .unwrap();
    f(sqlite.clone()).await;
    sqlite.close().await;
    std::fs::remove_dir_all(&dir).ok();

    let (pg, drop_db) = sealdesk_store::testing::fresh_postgres(name).await;
    f(pg.clone()).await;
    pg.close().await;
    drop_db.await;
}

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
        invoice: None,
        key: None,
        previous_order: None,
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
            .create_payment(o.id, "sandbox", Fen(8000))
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(tx.mark_payment_paid(pay.id, "T1").await.unwrap());
        assert!(
            !tx.mark_payment_paid(pay.id, "T2").await.unwrap(),
            "a repeated notification changes nothing"
        );
        tx.commit().await.unwrap();
        assert_eq!(
            store.payment(pay.id).await.unwrap().gateway_txn.as_deref(),
            Some("T1")
        );

        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00, 0xff];
        let mut tx = store.begin().await.unwrap();
        for seq in 1..=2 {
            tx.insert_seal(&SealRecord {
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
            })
            .await
            .unwrap();
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
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.revoke_seals_on_token("TOKEN-1").await.unwrap(),
            0,
            "already revoked"
        );
        tx.commit().await.unwrap();
        assert!(store.seals_on_token("TOKEN-1").await.unwrap().is_empty());
    })
    .await;
}

#[test]
fn urls_are_redacted() {
    assert_eq!(
        redact_url("postgres://u:secret@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
}
