//! How fast the order layer writes, on SQLite and on PostgreSQL, against the cheapest write the same store can do.
//!
//! Measured: `App::update_order` (validate the form, read the order, write it with the version check and append
//! the SM3-chained audit entry in one transaction) and a review round (`reject`, a state change with audit entry
//! and SMS, then the order put back under review by one plain store write). Anchor, same run, same database: `Store::push_sms`, one INSERT in its own
//! transaction. The ratio is what the order layer costs over a bare write transaction.
//!
//! Run: `cargo bench -p sealdesk-app --bench orders` (PostgreSQL at `SEALDESK_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::sync::Arc;
use std::time::Instant;

use sealdesk_adapters::{blobs::LocalDir, keys, pay::SandboxGateway};
use sealdesk_app::{App, AppConfig, Principal, Who};
use sealdesk_domain::*;
use sealdesk_store::Store;

const N: usize = 300;

fn form() -> OrderForm {
    OrderForm {
        service: Some(Service::New),
        holder: Holder {
            kind: Some(HolderKind::Enterprise),
            applicant_name: "李四".into(),
            id_number: "11010519491231002X".into(),
            mobile: "13800138000".into(),
            enterprise_name: "北筑设计研究院有限公司".into(),
            enterprise_phone: "0791-82221588".into(),
            credit_code: "91110108551385082Q".into(),
            address: "北京市西城区南礼士路62号".into(),
        },
        seals: vec![SealLine {
            kind: SealKind::OfficialSeal,
            count: 1,
            name: String::new(),
        }],
        months: 12,
        previous_order: None,
        chosen_seals: Vec::new(),
        bid_opening: None,
    }
}

fn per_sec(n: usize, t: Instant) -> f64 {
    n as f64 / t.elapsed().as_secs_f64()
}

async fn run(name: &str, store: Store) {
    let tmp = tempfile::tempdir().unwrap();
    let ca = keys::demo_ca(tmp.path()).unwrap();
    let maker = keys::seal_maker(tmp.path(), &ca).unwrap();
    let gw = SandboxGateway::new(keys::sandbox_gateway_key(tmp.path()).unwrap());
    let app = App::new(
        store.clone(),
        Arc::new(LocalDir::new(tmp.path().join("b"))),
        AppConfig::default(),
        maker,
        vec![ca.cert],
        Some(gw),
    );
    let g = store.create_group("A").await.unwrap();
    store
        .create_project("P", "项目", DEFAULT_PRICE_FEN_PER_SEAL_YEAR, Some(g.id))
        .await
        .unwrap();
    let applicant = Who {
        principal: Principal::Applicant {
            id: store.applicant_for_mobile("13800138000").await.unwrap(),
        },
        ip: "-".into(),
    };
    let op_id = app
        .ensure_operator("op", "op-password", true)
        .await
        .unwrap();
    let operator = Who {
        principal: Principal::Operator {
            id: op_id,
            name: "op".into(),
            is_admin: true,
            roles: sealdesk_domain::Roles::NONE,
        },
        ip: "-".into(),
    };
    let order = app.create_order(&applicant, "P", &form()).await.unwrap();

    // Warm up the pool and the caches.
    for _ in 0..20 {
        store
            .push_sms("13800138000", "bench", "warm")
            .await
            .unwrap();
        app.update_order(&applicant, order.id, &form())
            .await
            .unwrap();
    }
    let t = Instant::now();
    for _ in 0..N {
        store
            .push_sms("13800138000", "bench", "anchor")
            .await
            .unwrap();
    }
    let anchor = per_sec(N, t);
    let t = Instant::now();
    for _ in 0..N {
        app.update_order(&applicant, order.id, &form())
            .await
            .unwrap();
    }
    let edits = per_sec(N, t);

    // The review round needs an order under review without uploads: put it into 待审核 through the store.
    let mut tx = store.begin().await.unwrap();
    let mut o = tx.order(order.id).await.unwrap();
    o.state = OrderState::PendingReview;
    o.version += 1;
    tx.update_order(&o).await.unwrap();
    tx.commit().await.unwrap();
    let rounds = N / 2;
    let t = Instant::now();
    for _ in 0..rounds {
        app.reject(&operator, order.id, "请补充材料").await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let mut o = tx.order(order.id).await.unwrap();
        o.state = OrderState::PendingReview;
        o.version += 1;
        tx.update_order(&o).await.unwrap();
        tx.commit().await.unwrap();
    }
    let rejects = per_sec(rounds, t);
    assert!(app.verify_audit().await.unwrap().is_ok());
    println!(
        "{name:10}  anchor (1-insert tx) {anchor:8.0}/s   order edit {edits:8.0}/s ({:.2}× the anchor's time)   review round {rejects:8.0}/s ({:.2}×)",
        anchor / edits,
        anchor / rejects
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::connect(
            &format!("sqlite://{}", dir.path().join("b.db").display()),
            1,
        )
        .await
        .unwrap();
        run("sqlite", sqlite).await;
        let (pg, drop_db) = sealdesk_store::testing::fresh_postgres("bench").await;
        run("postgres", pg.clone()).await;
        pg.close().await;
        drop_db.await;
    });
}
