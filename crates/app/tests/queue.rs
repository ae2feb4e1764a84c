//! The 审核预检 queue through the use cases: a submission's checks wait for a worker (none runs in an instance
//! configured with `precheck_workers = 0`); a worker that claimed them and died holds them only until its
//! lease runs out, and then any worker runs them, once.

mod common;

use std::sync::Arc;

use common::*;
use sealdesk_app::*;
use sealdesk_domain::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_wait_for_a_worker_and_a_dead_workers_claim_is_taken_over() {
    on_each_backend("precheck_queue", |store| async move {
        let start = Timestamp::parse_rfc3339("2027-01-15T08:00:00Z").unwrap();
        let clock = ManualClock::at(start);
        let e = env_with_config(store.clone(), Arc::new(clock.clone()), |c| {
            c.precheck_workers = 0
        })
        .await;
        let app = &e.app;
        project_and_reviewer(app, &store).await;
        let me = sign_in(app, "13800138000").await;
        let order = submitted_order(app, &me, &form()).await;
        assert_eq!(order.state, OrderState::PendingReview);

        // Nothing in this instance runs them.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let waiting = store.prechecks(order.id).await.unwrap().unwrap();
        assert_eq!(
            (waiting.submitted_version, waiting.results),
            (order.version, None)
        );
        assert_eq!(store.stats().await.unwrap().prechecks_due, 1);

        // Another instance's worker claims them and dies before it stores anything.
        assert_eq!(
            store
                .claim_due_prechecks(app.now(), PRECHECK_LEASE_SECS, 5)
                .await
                .unwrap(),
            vec![(order.id, order.version)]
        );
        assert!(!app.run_next_precheck().await.unwrap(), "the claim holds");
        clock.advance(PRECHECK_LEASE_SECS - 1);
        assert!(
            !app.run_next_precheck().await.unwrap(),
            "the claim still holds"
        );

        // Its lease runs out: the next worker runs them.
        clock.advance(1);
        assert!(app.run_next_precheck().await.unwrap());
        let done = store.prechecks(order.id).await.unwrap().unwrap();
        let results = done.results.expect("the checks were stored");
        assert!(
            results.iter().any(|p| p.check == "duplicate_orders"),
            "{results:?}"
        );
        assert_eq!(
            done.checked_at,
            Some(Timestamp(start.0 + PRECHECK_LEASE_SECS).rfc3339())
        );
        assert_eq!(store.stats().await.unwrap().prechecks_due, 0);
        assert!(!app.run_next_precheck().await.unwrap(), "nothing left");
    })
    .await;
}
