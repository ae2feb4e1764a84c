//! 审核预检 results (migration 0025): one row per order, reset by each submission and filled once the checks
//! have run for it. A row without results is a job on a queue (migration 0031): workers on any instance claim it
//! for a lease, as the SMS outbox's senders do, so each submission's checks run once even with several
//! instances, and a worker that dies leaves a lease that runs out.

use sealdesk_domain::Precheck;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// The checks of an order's latest submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrechecks {
    /// The order's version right after the submission they belong to.
    pub submitted_version: i64,
    /// The results; `None` while the checks have not run yet.
    pub results: Option<Vec<Precheck>>,
    /// When they ran (RFC 3339 UTC).
    pub checked_at: Option<String>,
}

impl Store {
    /// Marks the checks of `order_id` as due for the submission that left the order at `submitted_version`,
    /// dropping the results of any earlier submission.
    pub async fn reset_prechecks(&self, order_id: i64, submitted_version: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO order_prechecks (order_id, submitted_version, body, checked_at, lease_until) VALUES ($1, $2, NULL, NULL, 0)
             ON CONFLICT (order_id) DO UPDATE SET submitted_version = $2, body = NULL, checked_at = NULL, lease_until = 0",
        )
        .bind(order_id)
        .bind(submitted_version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores the results of the checks run for the submission at `submitted_version`; false (nothing written)
    /// when the order has been submitted again since, so a late run never overwrites newer results.
    pub async fn put_prechecks(
        &self,
        order_id: i64,
        submitted_version: i64,
        results: &[Precheck],
        checked_at: &str,
    ) -> Result<bool> {
        let body = serde_json::to_string(results).map_err(|e| StoreError::Other(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE order_prechecks SET body = $3, checked_at = $4 WHERE order_id = $1 AND submitted_version = $2",
        )
        .bind(order_id)
        .bind(submitted_version)
        .bind(body)
        .bind(checked_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims up to `limit` submissions whose checks are due at `now` (never run, or claimed by a worker whose
    /// lease has run out) for `lease_secs`: each is returned to exactly one caller, as (order id, submitted
    /// version), oldest order first. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so workers
    /// claiming at the same moment take different rows; SQLite's single writer makes the update atomic.
    pub async fn claim_due_prechecks(
        &self,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let mut won = self
            .claim(
                "order_prechecks",
                "order_id",
                "body IS NULL",
                "order_id, submitted_version",
                now,
                lease_secs,
                limit,
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get("order_id")?, r.try_get("submitted_version")?)))
            .collect::<Result<Vec<(i64, i64)>>>()?;
        won.sort_unstable();
        Ok(won)
    }

    /// The checks of an order's latest submission, if it was ever submitted since checks exist.
    pub async fn prechecks(&self, order_id: i64) -> Result<Option<StoredPrechecks>> {
        let Some(row) = sqlx::query(
            "SELECT submitted_version, body, checked_at FROM order_prechecks WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let body: Option<String> = row.try_get("body")?;
        let results = body
            .map(|b| serde_json::from_str(&b).map_err(|e| StoreError::Other(e.to_string())))
            .transpose()?;
        Ok(Some(StoredPrechecks {
            submitted_version: row.try_get("submitted_version")?,
            results,
            checked_at: row.try_get("checked_at")?,
        }))
    }
}
