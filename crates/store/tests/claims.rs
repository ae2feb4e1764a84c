//! Background work shared by several instances: concurrent claimers (as on several instances, each with its own
//! pool) take every due SMS and every unsettled payment exactly once, and order-id instance numbers are leased
//! to one holder at a time. On SQLite and on PostgreSQL (where the claims pick rows `FOR UPDATE SKIP LOCKED`).

use std::collections::HashMap;

use sealdesk_domain::*;
use sealdesk_store::testing::with_each_backend;

const MESSAGES: usize = 120;
const CLAIMERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_take_each_message_and_payment_once() {
    with_each_backend("claims", |store| async move {
        for i in 0..MESSAGES {
            store
                .push_sms("13800138000", "bench", &format!("m{i}"))
                .await
                .unwrap();
        }
        let now = Clock::now(&SystemClock).0 + 10;
        let tasks: Vec<_> = (0..CLAIMERS)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let batch = store.claim_due_sms(now, 120, 7).await.unwrap();
                        if batch.is_empty() {
                            return got;
                        }
                        got.extend(batch.into_iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for t in tasks {
            for id in t.await.unwrap() {
                *seen.entry(id).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), MESSAGES, "every message claimed");
        assert!(
            seen.values().all(|&n| n == 1),
            "a message claimed twice: {seen:?}"
        );
        // Leased: nothing is due again until the lease runs out, then all is.
        assert!(
            store
                .claim_due_sms(now + 119, 120, 500)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .claim_due_sms(now + 120, 120, 500)
                .await
                .unwrap()
                .len(),
            MESSAGES
        );

        // Unsettled payments to reconcile: one claimer each per lease.
        let order = sealdesk_store::testing::order_in(
            &store,
            "testCSQY",
            "13900139000",
            OrderState::PendingPayment,
        )
        .await;
        for i in 0..10 {
            store
                .open_payment(9_000 + i, order.id, &format!("alipay{i}"), Fen(8_000))
                .await
                .unwrap();
        }
        let channels: Vec<String> = (0..10).map(|i| format!("alipay{i}")).collect();
        let (since, before) = ("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z");
        let claimers: Vec<_> = (0..CLAIMERS)
            .map(|_| {
                let (store, channels) = (store.clone(), channels.clone());
                tokio::spawn(async move {
                    store
                        .claim_unsettled_payments(&channels, since, before, now, 60, 3)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut claims = Vec::new();
        for c in claimers {
            claims.push(c.await.unwrap());
        }
        let mut ids: Vec<i64> = claims.into_iter().flatten().map(|p| p.id).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "a payment claimed twice");
        assert!(
            store
                .claim_unsettled_payments(&channels, since, before, now + 59, 60, 100)
                .await
                .unwrap()
                .len()
                == 10 - n
        );
        assert_eq!(
            store
                .claim_unsettled_payments(&channels, since, before, now + 60, 60, 100)
                .await
                .unwrap()
                .len(),
            10
        );

        // Instance numbers: one holder each while leased; a stale lease is taken over.
        assert_eq!(
            store.lease_instance_number("a", now, 60).await.unwrap(),
            Some(0)
        );
        assert_eq!(
            store.lease_instance_number("b", now, 60).await.unwrap(),
            Some(1)
        );
        assert!(store.renew_instance_number(0, "a", now + 30).await.unwrap());
        assert!(!store.renew_instance_number(1, "a", now + 30).await.unwrap());
        // b stopped renewing at `now`; 60 s later its number is free for c, and b's renewal then fails.
        assert_eq!(
            store
                .lease_instance_number("c", now + 61, 60)
                .await
                .unwrap(),
            Some(1)
        );
        assert!(!store.renew_instance_number(1, "b", now + 62).await.unwrap());
    })
    .await;
}
