//! 个人信息加密存储: ID and mobile numbers sealed with SM4-GCM in `orders.body` and `applicants`, found by their
//! blind index, read back, refused when tampered with, and resealed under a new key (rows from before sealing
//! included) — on SQLite and on PostgreSQL. The raw rows are read with SQL behind the store's back.

use sealdesk_domain::*;
use sealdesk_store::*;

const ID_NUMBER: &str = "110101199003077777";
const MOBILE: &str = "15800001123";
const INVOICE_MOBILE: &str = "13700002244";
const OLD: &str = "k1:0123456789abcdeffedcba9876543210";
const NEW: &str = "k2:00112233445566778899aabbccddeeff";

fn keys(ring: &str) -> PiiKeys {
    PiiKeys::new(
        DataKeys::parse(ring).unwrap(),
        IndexKey::new(vec![0x17; 32]).unwrap(),
    )
}

/// Runs `f` with the URL of a new SQLite file, then of a fresh PostgreSQL database.
async fn each_url<F, Fut>(name: &str, f: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("sealdesk-pii-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    f(format!("sqlite://{}?mode=rwc", dir.join("t.db").display())).await;
    std::fs::remove_dir_all(&dir).ok();
    let (url, drop_db) = sealdesk_store::testing::fresh_postgres_url(name).await;
    f(url).await;
    drop_db.await;
}

/// Every text column of every row `sql` selects, as one string per row (NULL as empty).
async fn raw(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Row;
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .unwrap()
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

async fn exec(url: &str, sql: &str) {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn project(store: &Store) -> Project {
    match store.project_by_code("PII").await {
        Ok(p) => p,
        Err(_) => store
            .create_project("PII", "南昌市城建档案馆", Fen(8000), None)
            .await
            .unwrap(),
    }
}

/// An order of a person with an ID number, a mobile and an invoice mobile, inserted through the store.
async fn insert_order(store: &Store, applicant: i64, mobile: &str) -> Order {
    let p = project(store).await;
    let id = store.next_id();
    let o = Order {
        id,
        order_no: OrderNo::new(&p.code, id).to_string(),
        project_id: p.id,
        applicant_id: applicant,
        service: Service::New,
        state: OrderState::Draft,
        holder: Holder {
            kind: Some(HolderKind::Person),
            applicant_name: "张三".into(),
            id_number: ID_NUMBER.into(),
            mobile: mobile.into(),
            ..Default::default()
        },
        seals: vec![SealLine {
            kind: SealKind::LegalRepresentative,
            count: 1,
            name: "张三".into(),
        }],
        authorization: Authorization::default(),
        total: Fen(8000),
        review_comment: String::new(),
        review_reasons: Vec::new(),
        invoice: Some(InvoiceInfo {
            kind: InvoiceKind::Personal,
            title: "张三".into(),
            mobile: INVOICE_MOBILE.into(),
            ..InvoiceInfo::default()
        }),
        key: None,
        previous_order: None,
        chosen_seals: Vec::new(),
        confirmed_cutouts: None,
        pad_signature: None,
        bid_opening: None,
        version: 1,
        created_at: now_text(),
        updated_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_order(&o).await.unwrap();
    tx.commit().await.unwrap();
    o
}

fn search(q: &str) -> OrderFilter {
    OrderFilter {
        search: Some(q.into()),
        limit: 50,
        ..Default::default()
    }
}

async fn found(store: &Store, q: &str) -> Vec<i64> {
    store
        .list_orders(&search(q))
        .await
        .unwrap()
        .0
        .iter()
        .map(|o| o.id)
        .collect()
}

/// No row of the tables that hold personal data shows an ID number or a mobile number, or a long part of one.
async fn assert_no_plaintext(url: &str) {
    for sql in [
        "SELECT body, search_text, mobile_index FROM orders",
        "SELECT mobile, mobile_index FROM applicants",
    ] {
        for row in raw(url, sql).await {
            for secret in [ID_NUMBER, MOBILE, INVOICE_MOBILE, "0000112", "1990030"] {
                assert!(!row.contains(secret), "{secret} in {sql}: {row}");
            }
        }
    }
}

#[tokio::test]
async fn personal_data_is_sealed_at_rest_and_reads_back() {
    each_url("sealed", |url| async move {
        let store = Store::connect(&url, 1)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        assert!(store.data_keyed());
        store.confirm_data_keys().await.unwrap();
        let a = store.applicant_for_mobile(MOBILE).await.unwrap();
        // Sign-in finds the same account by the number, however it is written.
        assert_eq!(store.applicant_for_mobile(MOBILE).await.unwrap(), a);
        assert_eq!(
            store
                .applicant_for_mobile("+86 158 0000 1123")
                .await
                .unwrap(),
            a
        );
        assert_ne!(store.applicant_for_mobile("15800001124").await.unwrap(), a);
        assert_eq!(store.applicant_mobile(a).await.unwrap(), MOBILE);
        assert_eq!(
            store.applicant_mobiles(&[a]).await.unwrap(),
            vec![(a, MOBILE.to_owned())]
        );

        let o = insert_order(&store, a, MOBILE).await;
        assert_eq!(store.order(o.id).await.unwrap(), o);
        assert_eq!(store.order_by_no(&o.order_no).await.unwrap(), o);
        let mut changed = o.clone();
        changed.holder.applicant_name = "张三丰".into();
        changed.version += 1;
        let mut tx = store.begin().await.unwrap();
        tx.update_order(&changed).await.unwrap();
        assert_eq!(tx.order(o.id).await.unwrap(), changed);
        tx.commit().await.unwrap();
        assert_eq!(store.order(o.id).await.unwrap(), changed);

        let rows = raw(&url, "SELECT body FROM orders").await;
        assert!(
            rows[0].contains("\"id_number\":\"sm4gcm:k2:"),
            "{}",
            rows[0]
        );
        assert!(raw(&url, "SELECT mobile FROM applicants").await[0].starts_with("sm4gcm:k2:"));
        assert_no_plaintext(&url).await;

        // The console's search: a whole mobile number finds the order, a part of one no longer does; the other
        // fields are searched as before.
        assert_eq!(found(&store, MOBILE).await, vec![o.id]);
        assert_eq!(found(&store, " 158-0000-1123 ").await, vec![o.id]);
        assert_eq!(found(&store, "00001123").await, Vec::<i64>::new());
        assert_eq!(found(&store, "15800001124").await, Vec::<i64>::new());
        assert_eq!(found(&store, "张三丰").await, vec![o.id]);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn altered_moved_and_unknown_key_values_are_typed_errors() {
    each_url("tamper", |url| async move {
        let store = Store::connect(&url, 1)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        let a = store.applicant_for_mobile(MOBILE).await.unwrap();
        let o = insert_order(&store, a, MOBILE).await;
        let b = store.applicant_for_mobile("13900001111").await.unwrap();

        // Someone with the database in hand moves B's sealed mobile onto A's row: it does not open as A's.
        let other = raw(&url, &format!("SELECT mobile FROM applicants WHERE id = {b}")).await;
        exec(&url, &format!("DELETE FROM applicants WHERE id = {b}")).await;
        exec(
            &url,
            &format!("UPDATE applicants SET mobile = '{}' WHERE id = {a}", other[0]),
        )
        .await;
        assert!(matches!(
            store.applicant_mobile(a).await,
            Err(StoreError::Pii(OpenError::Tampered))
        ));

        // The sealed mobile moved into the ID number's place of the same order: refused too.
        let body = raw(&url, &format!("SELECT body FROM orders WHERE id = {}", o.id)).await[0].clone();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mobile_sealed = v["holder"]["mobile"].as_str().unwrap();
        let id_sealed = v["holder"]["id_number"].as_str().unwrap();
        let moved = body.replace(id_sealed, mobile_sealed);
        exec(
            &url,
            &format!("UPDATE orders SET body = '{moved}' WHERE id = {}", o.id),
        )
        .await;
        let e = store.order(o.id).await.unwrap_err();
        assert!(matches!(e, StoreError::Pii(OpenError::Tampered)), "{e}");
        assert_eq!(
            e.to_string(),
            "personal data: sealed value failed authentication (altered, or moved from another place)"
        );

        // A store without the key names the key it lacks; one without any key too.
        let c = store.applicant_for_mobile("13900002222").await.unwrap();
        let stranger = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(OLD));
        assert!(matches!(
            stranger.applicant_mobile(c).await,
            Err(StoreError::Pii(OpenError::UnknownKey(k))) if k == "k2"
        ));
        let keyless = Store::connect(&url, 3).await.unwrap();
        assert!(matches!(
            keyless.applicant_mobile(c).await,
            Err(StoreError::Pii(OpenError::UnknownKey(k))) if k == "k2"
        ));
        for s in [store, stranger, keyless] {
            s.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn rows_in_clear_and_under_an_old_key_are_resealed_under_the_new_one() {
    each_url("rotate", |url| async move {
        // Before sealing existed: an applicant and an order written in clear.
        let legacy = Store::connect(&url, 1).await.unwrap();
        let la = legacy.applicant_for_mobile(MOBILE).await.unwrap();
        let lo = insert_order(&legacy, la, MOBILE).await;
        legacy.close().await;
        assert!(raw(&url, "SELECT body FROM orders").await[0].contains(ID_NUMBER));
        // Then under the first key.
        let old = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(OLD));
        let oa = old.applicant_for_mobile("13900003333").await.unwrap();
        let oo = insert_order(&old, oa, "13900003333").await;
        old.close().await;

        // The new key is current, the old one still reads.
        let ring = Store::connect(&url, 3)
            .await
            .unwrap()
            .with_data_keys(keys(&format!("{NEW},{OLD}")));
        assert_eq!(ring.order(lo.id).await.unwrap(), lo);
        assert_eq!(ring.order(oo.id).await.unwrap(), oo);
        assert_eq!(ring.applicant_mobile(oa).await.unwrap(), "13900003333");
        // Search by a whole mobile finds the order in clear (its search text) and the sealed one (its index).
        assert_eq!(found(&ring, MOBILE).await, vec![lo.id]);
        assert_eq!(found(&ring, "13900003333").await, vec![oo.id]);

        assert_eq!(
            ring.reencrypt_personal_data().await.unwrap(),
            Reencrypted {
                orders: 2,
                applicants: 2,
                raced: 0
            }
        );
        assert_eq!(
            ring.reencrypt_personal_data().await.unwrap(),
            Reencrypted::default(),
            "a second run has nothing to do"
        );
        assert_no_plaintext(&url).await;
        for row in raw(&url, "SELECT mobile FROM applicants").await {
            assert!(row.starts_with("sm4gcm:k2:"), "{row}");
        }
        for row in raw(&url, "SELECT body FROM orders").await {
            assert!(
                !row.contains("sm4gcm:k1:") && row.contains("sm4gcm:k2:"),
                "{row}"
            );
        }
        ring.close().await;

        // The old key can go: everything reads under the new one alone, and sign-in finds both accounts.
        let new = Store::connect(&url, 4)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        assert_eq!(new.order(lo.id).await.unwrap(), lo);
        assert_eq!(new.order(oo.id).await.unwrap(), oo);
        assert_eq!(new.applicant_for_mobile(MOBILE).await.unwrap(), la);
        assert_eq!(new.applicant_for_mobile("13900003333").await.unwrap(), oa);
        assert_eq!(found(&new, MOBILE).await, vec![lo.id]);
        new.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_legacy_applicant_signs_in_to_the_same_account_and_is_sealed_on_the_way() {
    each_url("legacy", |url| async move {
        let legacy = Store::connect(&url, 1).await.unwrap();
        let la = legacy.applicant_for_mobile(MOBILE).await.unwrap();
        legacy.close().await;
        let store = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        assert_eq!(store.applicant_for_mobile(MOBILE).await.unwrap(), la);
        let row = raw(&url, "SELECT mobile, mobile_index FROM applicants").await;
        assert_eq!(row.len(), 1);
        assert!(
            row[0].starts_with("sm4gcm:k2:") && !row[0].contains(MOBILE),
            "{}",
            row[0]
        );
        assert_eq!(store.applicant_for_mobile(MOBILE).await.unwrap(), la);
        assert_eq!(store.applicant_mobile(la).await.unwrap(), MOBILE);
        assert_eq!(
            store.reencrypt_personal_data().await.unwrap(),
            Reencrypted::default()
        );
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_instance_with_other_keys_is_refused() {
    each_url("keycheck", |url| async move {
        let first = Store::connect(&url, 1)
            .await
            .unwrap()
            .with_data_keys(keys(OLD));
        first.confirm_data_keys().await.unwrap();
        first.confirm_data_keys().await.unwrap();
        first.close().await;
        // Rotation: a new key beside the old one is fine.
        let rotated = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(&format!("{NEW},{OLD}")));
        rotated.confirm_data_keys().await.unwrap();
        rotated.close().await;
        // Another key under an id already used, or another index key: refused, naming which.
        let other_data = Store::connect(&url, 3)
            .await
            .unwrap()
            .with_data_keys(keys("k1:ffffffffffffffffffffffffffffffff"));
        assert_eq!(
            other_data.confirm_data_keys().await.unwrap_err().to_string(),
            "database error: the data key k1 is not the one this database was written with: every instance needs the same keys"
        );
        other_data.close().await;
        let other_index = Store::connect(&url, 4).await.unwrap().with_data_keys(PiiKeys::new(
            DataKeys::parse(OLD).unwrap(),
            IndexKey::new(vec![0x18; 32]).unwrap(),
        ));
        assert_eq!(
            other_index.confirm_data_keys().await.unwrap_err().to_string(),
            "database error: the index key (SEALDESK_INDEX_KEY) is not the one this database was written with: every instance needs the same keys"
        );
        other_index.close().await;
    })
    .await;
}

/// Bulk loading (the bench's fill) seals as the use cases do.
#[tokio::test]
async fn bulk_load_seals_too() {
    each_url("bulk", |url| async move {
        let store = Store::connect(&url, 1)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        let a = store.next_id();
        let p = project(&store).await;
        let id = store.next_id();
        let mut o = insert_order_value(&p, id, a);
        o.holder.mobile = MOBILE.into();
        store
            .bulk_load(&[(a, MOBILE.to_owned())], std::slice::from_ref(&o), &[])
            .await
            .unwrap();
        assert_no_plaintext(&url).await;
        assert_eq!(store.order(o.id).await.unwrap(), o);
        assert_eq!(store.applicant_for_mobile(MOBILE).await.unwrap(), a);
        assert_eq!(found(&store, MOBILE).await, vec![o.id]);
        store.close().await;
    })
    .await;
}

fn insert_order_value(p: &Project, id: i64, applicant: i64) -> Order {
    Order {
        id,
        order_no: OrderNo::new(&p.code, id).to_string(),
        project_id: p.id,
        applicant_id: applicant,
        service: Service::New,
        state: OrderState::Draft,
        holder: Holder {
            kind: Some(HolderKind::Person),
            applicant_name: "李四".into(),
            id_number: ID_NUMBER.into(),
            ..Default::default()
        },
        seals: vec![],
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
