//! 个人信息加密存储: ID and mobile numbers sealed with SM4-GCM in `orders.body`, `applicants` and the SMS outbox
//! (with the messages' texts, which carry sign-in codes), pending sign-in codes kept under the number's blind
//! index, each found by its blind index, read back, refused when tampered with, and resealed under a new key (rows from before sealing
//! included) — on SQLite and on PostgreSQL. The raw rows are read with SQL behind the store's back.

use sealdesk_domain::*;
use sealdesk_store::*;

const ID_NUMBER: &str = "110101199003077777";
const MOBILE: &str = "15800001123";
const INVOICE_MOBILE: &str = "13700002244";
/// A sign-in code, as the outbox message that carries it.
const CODE: &str = "864209";
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

/// The electronic invoice of order `o`, its buyer reachable at [`INVOICE_MOBILE`] and an e-mail, issued through the
/// store.
async fn issue_invoice(store: &Store, o: &Order) -> Invoice {
    let i = Invoice {
        id: store.next_id(),
        order_id: o.id,
        number: format!("20261201{:012}", o.id.rem_euclid(1_000_000_000_000)),
        body: serde_json::json!({
            "number": "x", "buyer": {"kind": "个人", "title": "张三", "mobile": INVOICE_MOBILE,
                                     "email": "zhangsan1990030@example.com"},
            "total_fen": 8000
        })
        .to_string(),
        created_at: now_text(),
        ..Invoice::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_invoice(&i).await.unwrap();
    tx.commit().await.unwrap();
    i
}

/// Two invoice bodies say the same (sealing re-serialises the JSON).
fn same_body(a: &str, b: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(a).unwrap()
        == serde_json::from_str::<serde_json::Value>(b).unwrap()
}

/// A pending sign-in code for `mobile`.
fn code_for(mobile: &str) -> SmsCode {
    SmsCode {
        mobile: mobile.into(),
        code_hash: "sm3-of-the-code".into(),
        expires_at: i64::MAX / 2,
        attempts: 0,
        sent_at: 1,
    }
}

/// The sign-in message carrying [`CODE`] to `mobile`, put into the outbox.
async fn code_message(store: &Store, mobile: &str) -> OutboxSms {
    store
        .push_sms_with(
            mobile,
            "login_code",
            &format!("[金格科技] 您的登录验证码为 {CODE}，5 分钟内有效。"),
            &[("code", CODE)],
        )
        .await
        .unwrap()
}

/// No row of the tables that hold personal data shows an ID number or a mobile number, or a long part of one.
async fn assert_no_plaintext(url: &str) {
    for sql in [
        "SELECT body, search_text, mobile_index FROM orders",
        "SELECT mobile, mobile_index FROM applicants",
        "SELECT mobile, template, text, params, mobile_index FROM sms_outbox",
        "SELECT mobile, code_hash FROM sms_codes",
        "SELECT body FROM invoices",
        "SELECT to_addr FROM mail_outbox",
    ] {
        for row in raw(url, sql).await {
            for secret in [
                ID_NUMBER,
                MOBILE,
                INVOICE_MOBILE,
                "0000112",
                "1990030",
                CODE,
            ] {
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

        // The invoice's buyer contact is sealed; the invoice reads back whole.
        let inv = issue_invoice(&store, &o).await;
        let back = store.invoice(o.id).await.unwrap().unwrap();
        assert!(same_body(&back.body, &inv.body), "{}", back.body);
        assert!(raw(&url, "SELECT body FROM invoices").await[0].contains("sm4gcm:k2:"));
        assert!(!raw(&url, "SELECT body FROM invoices").await[0].contains("example.com"));
        // So is the address it is mailed to, which the sender reads back.
        let mut tx = store.begin().await.unwrap();
        tx.queue_mail(
            store.next_id(),
            &MailDraft {
                to_addr: "zhangsan1990030@example.com".into(),
                subject: "电子发票".into(),
                body: "您的电子发票已开具".into(),
                invoice_id: Some(inv.id),
                order_id: Some(o.id),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let mails = store.mail_deliveries(10).await.unwrap();
        assert_eq!(mails[0].to_addr, "zhangsan1990030@example.com");
        assert!(raw(&url, "SELECT to_addr FROM mail_outbox").await[0].starts_with("sm4gcm:k2:"));

        // The sign-in code and its message: kept and read back by the number, which the tables do not hold.
        store.put_sms_code(&code_for(MOBILE)).await.unwrap();
        assert!(store.sms_code_sent_at(MOBILE).await.unwrap().is_some());
        assert!(
            store
                .sms_code_sent_at("15800001124")
                .await
                .unwrap()
                .is_none()
        );
        let taken = store.take_sms_attempt(MOBILE).await.unwrap();
        assert_eq!((taken.mobile.as_str(), taken.attempts), (MOBILE, 1));
        let sent = code_message(&store, MOBILE).await;
        let mine = store.outbox(Some(MOBILE), 10).await.unwrap();
        assert_eq!(mine, vec![sent.clone()]);
        assert!(
            store
                .outbox(Some("15800001124"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let queued = store.sms_delivery(sent.id).await.unwrap();
        assert_eq!(
            (queued.mobile.as_str(), queued.text.as_str()),
            (MOBILE, sent.text.as_str()),
            "the sender reads the number and text it sends"
        );
        assert!(queued.params.contains(CODE), "{}", queued.params);
        assert_no_plaintext(&url).await;
        store.delete_sms_code(MOBILE).await.unwrap();
        assert!(store.sms_code_sent_at(MOBILE).await.unwrap().is_none());

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
        let legacy_sms = code_message(&legacy, MOBILE).await;
        let legacy_invoice = issue_invoice(&legacy, &lo).await;
        legacy.close().await;
        assert!(raw(&url, "SELECT body FROM orders").await[0].contains(ID_NUMBER));
        // Then under the first key.
        let old = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(OLD));
        let oa = old.applicant_for_mobile("13900003333").await.unwrap();
        let oo = insert_order(&old, oa, "13900003333").await;
        let old_sms = code_message(&old, "13900003333").await;
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

        // A number's messages: the one in clear by the number, the sealed one by the index.
        assert_eq!(
            ring.outbox(Some(MOBILE), 10).await.unwrap(),
            vec![legacy_sms.clone()]
        );
        assert_eq!(
            ring.outbox(Some("13900003333"), 10).await.unwrap(),
            vec![old_sms.clone()]
        );
        assert_eq!(
            ring.reencrypt_personal_data().await.unwrap(),
            Reencrypted {
                orders: 2,
                applicants: 2,
                sms: 2,
                invoices: 1,
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
        assert_eq!(
            new.outbox(Some(MOBILE), 10).await.unwrap(),
            vec![legacy_sms]
        );
        let inv = new.invoice(lo.id).await.unwrap().unwrap();
        assert!(same_body(&inv.body, &legacy_invoice.body), "{}", inv.body);
        assert_eq!(
            new.outbox(Some("13900003333"), 10).await.unwrap(),
            vec![old_sms]
        );
        for row in raw(&url, "SELECT mobile, text, params FROM sms_outbox").await {
            assert!(
                !row.contains("sm4gcm:k1:") && row.contains("sm4gcm:k2:"),
                "{row}"
            );
        }
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

/// An order of `holder` in the test project, version 1.
fn holder_order(p: &Project, store: &Store, applicant: i64, holder: Holder) -> Order {
    let mut o = insert_order_value(p, store.next_id(), applicant);
    o.holder = holder;
    o
}

fn person(id_number: &str) -> Holder {
    Holder {
        kind: Some(HolderKind::Person),
        applicant_name: "李四".into(),
        id_number: id_number.into(),
        ..Default::default()
    }
}

fn enterprise(credit_code: &str) -> Holder {
    Holder {
        kind: Some(HolderKind::Enterprise),
        applicant_name: "李四".into(),
        // The legal representative's number: a person's key, not the enterprise's.
        id_number: "11010519491231002X".into(),
        enterprise_name: "南昌华建筑设计有限公司".into(),
        credit_code: credit_code.into(),
        ..Default::default()
    }
}

async fn put(store: &Store, o: &Order) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_order(o).await.unwrap();
    tx.commit().await.unwrap();
}

async fn holder_ids(store: &Store, o: &Order) -> Vec<i64> {
    store
        .holder_orders(o)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect()
}

/// The 审核预检's duplicate check finds a holder's other orders by `orders.holder_index`: the credit code or
/// the ID number as the check normalises them, newest first, bounded, kept by every update, blind (no number in
/// the column), filled by `keys reencrypt` for rows written before it, and served by its index.
#[tokio::test]
async fn holder_orders_are_found_by_the_blind_holder_index() {
    each_url("holder", |url| async move {
        // Without keys (tools, tests of other crates): plain SM3, still never the number.
        let plain = Store::connect(&url, 1).await.unwrap();
        let p = project(&plain).await;
        let ap = plain.applicant_for_mobile("13600006666").await.unwrap();
        let legacy = holder_order(&p, &plain, ap, person("11010519491231002X"));
        put(&plain, &legacy).await;
        plain.close().await;
        let row = raw(&url, "SELECT holder_index FROM orders").await;
        assert!(row[0].starts_with("sm3:") && row[0].len() == 68, "{row:?}");

        let store = Store::connect(&url, 2)
            .await
            .unwrap()
            .with_data_keys(keys(NEW));
        let a = holder_order(&p, &store, ap, person("11010519491231002X"));
        let b = holder_order(&p, &store, ap, person(" 11010519491231002x "));
        let c = holder_order(&p, &store, ap, person("11010519491231002X"));
        let other = holder_order(&p, &store, ap, person("110101199003077777"));
        let e1 = holder_order(&p, &store, ap, enterprise("91110108551385082Q"));
        let e2 = holder_order(&p, &store, ap, enterprise("9111 0108 5513 8508 2q"));
        let bad_code = holder_order(&p, &store, ap, enterprise("91110108551385082A"));
        let no_kind = holder_order(
            &p,
            &store,
            ap,
            Holder {
                kind: None,
                ..person("11010519491231002X")
            },
        );
        for o in [&a, &b, &c, &other, &e1, &e2, &bad_code, &no_kind] {
            put(&store, o).await;
        }
        // Newest first, the order itself left out; the row the keyless store wrote has another index.
        assert_eq!(holder_ids(&store, &a).await, vec![c.id, b.id]);
        assert_eq!(holder_ids(&store, &c).await, vec![b.id, a.id]);
        assert_eq!(holder_ids(&store, &other).await, Vec::<i64>::new());
        // The enterprise is its credit code, whatever case and spacing; its representative's number is not it.
        assert_eq!(holder_ids(&store, &e1).await, vec![e2.id]);
        assert_eq!(holder_ids(&store, &bad_code).await, Vec::<i64>::new());
        assert_eq!(holder_ids(&store, &no_kind).await, Vec::<i64>::new());
        let rows = raw(&url, "SELECT holder_index FROM orders ORDER BY id").await;
        assert_eq!(rows[1].len(), 64, "{rows:?}");
        assert_eq!(
            rows[7], "",
            "an enterprise with an invalid code has no holder key"
        );
        assert_eq!(
            rows[8], "",
            "an order without a holder kind has no holder key"
        );
        assert_no_plaintext(&url).await;
        for row in raw(&url, "SELECT holder_index FROM orders").await {
            assert!(!row.contains("1101051949"), "{row}");
        }

        // An update moves the order to its new holder.
        let mut moved = b.clone();
        moved.holder.id_number = "110101199003077777".into();
        moved.version += 1;
        let mut tx = store.begin().await.unwrap();
        tx.update_order(&moved).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(holder_ids(&store, &a).await, vec![c.id]);
        assert_eq!(holder_ids(&store, &other).await, vec![moved.id]);

        // Rows from before migration 0028 (NULL) are filled in the background, the keyless row by `keys reencrypt`.
        exec(
            &url,
            &format!("UPDATE orders SET holder_index = NULL WHERE id = {}", c.id),
        )
        .await;
        assert_eq!(holder_ids(&store, &a).await, Vec::<i64>::new());
        // What `serve` runs at start fills the cleared row, in batches, and leaves the others alone.
        let (mut after, mut filled) = (i64::MIN, 0);
        while let (n, Some(last)) = store.backfill_holder_index(after, 1).await.unwrap() {
            filled += n;
            after = last;
        }
        assert_eq!(filled, 1);
        assert_eq!(holder_ids(&store, &a).await, vec![c.id]);
        // A second pass finds only orders without a holder to index, and fills nothing.
        assert_eq!(
            store
                .backfill_holder_index(i64::MIN, 10_000)
                .await
                .unwrap()
                .0,
            0
        );
        assert_eq!(
            store.reencrypt_personal_data().await.unwrap(),
            Reencrypted {
                // The keyless row (in clear besides, its index the unkeyed one); the applicant the keyless
                // store made.
                orders: 1,
                applicants: 1,
                sms: 0,
                invoices: 0,
                raced: 0
            }
        );
        assert_eq!(holder_ids(&store, &a).await, vec![c.id, legacy.id]);
        assert_eq!(
            store.reencrypt_personal_data().await.unwrap(),
            Reencrypted::default()
        );

        // At most HOLDER_ORDERS_MAX, the newest, read from the index rather than the table.
        let mut many = Vec::new();
        for i in 0..5_000usize {
            many.push(holder_order(
                &p,
                &store,
                ap,
                person(&format!("36010219900{:06}X", i % 2_500)),
            ));
        }
        store.bulk_load(&[], &many, &[]).await.unwrap();
        store.analyze().await.unwrap();
        let probe = &many[4_999];
        assert_eq!(holder_ids(&store, probe).await, vec![many[2_499].id]);
        let mut same = Vec::new();
        for _ in 0..(HOLDER_ORDERS_MAX as usize + 5) {
            same.push(holder_order(&p, &store, ap, person("11010519491231002X")));
        }
        store.bulk_load(&[], &same, &[]).await.unwrap();
        let newest: Vec<i64> = same
            .iter()
            .rev()
            .take(HOLDER_ORDERS_MAX as usize)
            .map(|o| o.id)
            .collect();
        assert_eq!(holder_ids(&store, &a).await, newest);
        let plan = store.explain_holder_orders(probe).await.unwrap().join("\n");
        match store.backend() {
            Backend::Sqlite => assert!(
                plan.contains("USING INDEX orders_holder_index") && !plan.contains("TEMP B-TREE"),
                "{plan}"
            ),
            // PostgreSQL may sort the few rows a bitmap scan of the index found; it never scans the table.
            Backend::Postgres => assert!(
                plan.contains("orders_holder_index") && !plan.contains("Seq Scan"),
                "{plan}"
            ),
        }
        assert_eq!(
            store.explain_holder_orders(&no_kind).await.unwrap(),
            Vec::<String>::new()
        );
        store.close().await;
    })
    .await;
}
