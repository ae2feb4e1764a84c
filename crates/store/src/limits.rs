//! Sign-in limits and one-time challenges, kept in the database so that every instance of the platform sees the
//! same counts: an attacker gains nothing by spreading requests over instances, and a restart forgets nothing.

use sqlx::Row;

use crate::{Result, Store, StoreError};

impl Store {
    /// Adds one to the counter `kind` of `subject` in time bucket `bucket` and returns the new count, in one
    /// atomic upsert.
    pub async fn bump_counter(&self, kind: &str, subject: &str, bucket: i64) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO rate_counters (kind, subject, bucket, n) VALUES ($1, $2, $3, 1)
             ON CONFLICT (kind, subject, bucket) DO UPDATE SET n = rate_counters.n + 1
             RETURNING n",
        )
        .bind(kind)
        .bind(subject)
        .bind(bucket)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The counter `kind` of `subject` in `bucket` (0 when never bumped).
    pub async fn counter(&self, kind: &str, subject: &str, bucket: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT n FROM rate_counters WHERE kind = $1 AND subject = $2 AND bucket = $3",
        )
        .bind(kind)
        .bind(subject)
        .bind(bucket)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("n")).transpose()?.unwrap_or(0))
    }

    /// Counts an operator sign-in attempt for `name` from `ip` *before* its password is checked, and returns the
    /// attempts in the current run including this one. A run older than `window` seconds, or ended by
    /// [`Store::clear_login_failures`], starts again at 1. While a run is at or above `max`, its time is not
    /// moved, so that a lock-out ends `window` seconds after the attempt that reached it.
    pub async fn reserve_login_attempt(
        &self,
        name: &str,
        ip: &str,
        now: i64,
        max: i64,
        window: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO login_failures (name, ip, failures, last_at) VALUES ($1, $2, 1, $3)
             ON CONFLICT (name, ip) DO UPDATE SET
                 failures = CASE WHEN login_failures.last_at <= $4 THEN 1 ELSE login_failures.failures + 1 END,
                 last_at = CASE WHEN login_failures.last_at > $4 AND login_failures.failures >= $5
                                THEN login_failures.last_at ELSE $3 END
             RETURNING failures, last_at",
        )
        .bind(name)
        .bind(ip)
        .bind(now)
        .bind(now - window)
        .bind(max)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("failures")?)
    }

    /// When the lock-out of `name` from `ip` ends (Unix seconds), if it is locked.
    pub async fn login_locked_until(
        &self,
        name: &str,
        ip: &str,
        max: i64,
        window: i64,
    ) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT failures, last_at FROM login_failures WHERE name = $1 AND ip = $2")
                .bind(name)
                .bind(ip)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let (failures, last_at): (i64, i64) = (row.try_get("failures")?, row.try_get("last_at")?);
        Ok((failures >= max).then_some(last_at + window))
    }

    /// A right password ends the run of `name` from `ip`.
    pub async fn clear_login_failures(&self, name: &str, ip: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE name = $1 AND ip = $2")
            .bind(name)
            .bind(ip)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a one-time UKey sign-in challenge, and forgets those expired before `now`.
    pub async fn put_sign_in_challenge(
        &self,
        nonce: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO sign_in_challenges (nonce, expires_at) VALUES ($1, $2)")
            .bind(nonce)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Uses up a sign-in challenge: its expiry, once; `NotFound` if it was never given or already used.
    pub async fn take_sign_in_challenge(&self, nonce: &str) -> Result<i64> {
        let row =
            sqlx::query("DELETE FROM sign_in_challenges WHERE nonce = $1 RETURNING expires_at")
                .bind(nonce)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| r.try_get("expires_at"))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The applicant account a certificate holder (`enterprise:<USCC>` / `person:<ID>`) signs in to, if a key
    /// of that holder was ever bound at 授权.
    pub async fn cert_holder_applicant(&self, holder: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT applicant_id FROM cert_holders WHERE holder = $1")
            .bind(holder)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("applicant_id")).transpose()?)
    }

    /// Stores the live 授权 challenge of an order, replacing an earlier one.
    pub async fn put_challenge(&self, order_id: i64, nonce: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_challenges (order_id, nonce, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (order_id) DO UPDATE SET nonce = $2, expires_at = $3",
        )
        .bind(order_id)
        .bind(nonce)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the challenge of an order if it is `nonce`: it is removed in the same statement, so that it can be
    /// answered once only. Returns its expiry.
    pub async fn take_challenge(&self, order_id: i64, nonce: &str) -> Result<i64> {
        let row = sqlx::query(
            "DELETE FROM auth_challenges WHERE order_id = $1 AND nonce = $2 RETURNING expires_at",
        )
        .bind(order_id)
        .bind(nonce)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("expires_at"))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The live challenge of an order: (nonce, expiry).
    pub async fn challenge(&self, order_id: i64) -> Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT nonce, expires_at FROM auth_challenges WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("nonce")?, r.try_get("expires_at")?)))
            .transpose()
    }

    /// The bytes the current uploads of an order take, leaving out those of kind `except` (the one about to be
    /// replaced), for its storage quota.
    pub async fn upload_bytes_of_order(&self, order_id: i64, except: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total FROM uploads WHERE order_id = $1 AND current = 1 AND kind <> $2",
        )
        .bind(order_id)
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("total")?)
    }

    /// Drops counters and failure runs that no limit looks at any more (older than `before`, Unix seconds).
    pub async fn purge_limits(&self, before: i64) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE last_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM auth_challenges WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        // Buckets are hours or days since the epoch; kinds name their unit as their last word.
        sqlx::query("DELETE FROM rate_counters WHERE (kind LIKE '%hour' AND bucket < $1) OR (kind LIKE '%day' AND bucket < $2)")
            .bind(before / 3600)
            .bind(before / 86_400 - 1)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
