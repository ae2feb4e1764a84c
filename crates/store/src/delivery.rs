//! Money and messages: the SMS outbox as a delivery queue, the once-only reminder ledger, and the payments that
//! background jobs settle (reconciliation) or give back (refunds).
//!
//! Claiming a message (or a payment to reconcile) is one conditional update (`lease_until <= now`) over rows
//! picked `FOR UPDATE SKIP LOCKED` on PostgreSQL, so of several workers on several instances exactly one wins
//! each message; a worker that dies leaves a lease that simply runs out. Order-id instance numbers are leased
//! here too (`instance_leases`), so that instances never mint the same id.

use sqlx::{AssertSqlSafe, Row};

use crate::records::payment_from_row;
use crate::{PAYMENT_COLS, Payment, Result, Store, StoreTx, now_text};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsStatus {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Accepted by the gateway.
    Sent,
    /// Given up: refused by the gateway, or out of attempts.
    Failed,
}

impl SmsStatus {
    fn code(self) -> &'static str {
        match self {
            SmsStatus::Pending => "pending",
            SmsStatus::Sent => "sent",
            SmsStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> SmsStatus {
        match s {
            "sent" => SmsStatus::Sent,
            "failed" => SmsStatus::Failed,
            _ => SmsStatus::Pending,
        }
    }

    /// The label operators see (发送状态).
    pub fn label(self) -> &'static str {
        match self {
            SmsStatus::Pending => "待发送",
            SmsStatus::Sent => "已发送",
            SmsStatus::Failed => "发送失败",
        }
    }
}

/// A message with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDelivery {
    /// Outbox id.
    pub id: i64,
    /// To.
    pub mobile: String,
    /// Template name.
    pub template: String,
    /// Template variables, a JSON object of strings.
    pub params: String,
    /// Full text.
    pub text: String,
    /// Delivery state.
    pub status: SmsStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (Unix seconds) while pending.
    pub next_at: i64,
    /// The gateway that accepted it.
    pub provider: Option<String>,
    /// The gateway's id for it.
    pub gateway_id: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

const SMS_COLS: &str = "id, mobile, template, params, text, status, attempts, next_at, provider, gateway_id, last_error, created_at";

/// A message as the sender and the delivery view need it: its sealed columns opened.
fn sms_from_row(r: &sqlx::any::AnyRow, pii: Option<&crate::pii::PiiKeys>) -> Result<SmsDelivery> {
    let id: i64 = r.try_get("id")?;
    let open = |field: &str| -> Result<String> {
        crate::pii::open_text(
            pii,
            &crate::pii::sms_place(id, field),
            &r.try_get::<String, _>(field)?,
        )
    };
    Ok(SmsDelivery {
        id,
        mobile: open("mobile")?,
        template: r.try_get("template")?,
        params: open("params")?,
        text: open("text")?,
        status: SmsStatus::parse(&r.try_get::<String, _>("status")?),
        attempts: r.try_get("attempts")?,
        next_at: r.try_get("next_at")?,
        provider: r.try_get("provider")?,
        gateway_id: r.try_get("gateway_id")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Claims up to `limit` messages due at `now` for `lease_secs`: each is returned to exactly one caller.
    ///
    /// One statement: on PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so instances claiming at the
    /// same moment take different rows instead of queueing on each other; on SQLite the single writer makes the
    /// conditional update atomic by itself.
    pub async fn claim_due_sms(
        &self,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<SmsDelivery>> {
        let mut won = self
            .claim(
                "sms_outbox",
                "id",
                "status = 'pending' AND next_at <= $2",
                SMS_COLS,
                now,
                lease_secs,
                limit,
            )
            .await?
            .iter()
            .map(|r| sms_from_row(r, self.pii.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        won.sort_by_key(|d| d.id);
        Ok(won)
    }

    /// Leases up to `limit` rows of `table` that are `due` (a condition that may use `$2`, now) and not held by
    /// a lease at `now`, lowest `key` first, until `now + lease_secs`; returns their `cols`. One statement: on
    /// PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so claimers at the same moment take different
    /// rows; on SQLite, which has no row locks and one writer at a time, the update is atomic by itself.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn claim(
        &self,
        table: &'static str,
        key: &'static str,
        due: &'static str,
        cols: &'static str,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let sql = format!(
            "UPDATE {table} SET lease_until = $1 WHERE {key} IN (SELECT {key} FROM {table} WHERE {due} AND lease_until <= $2 ORDER BY {key} LIMIT $3{}) RETURNING {cols}",
            self.skip_locked()
        );
        Ok(sqlx::query(AssertSqlSafe(sql))
            .bind(now + lease_secs)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The row-locking clause of a claiming subquery: ` FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite
    /// (which has no row locks, and one writer at a time).
    fn skip_locked(&self) -> &'static str {
        match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        }
    }

    /// One message with its delivery state.
    pub async fn sms_delivery(&self, id: i64) -> Result<SmsDelivery> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SMS_COLS} FROM sms_outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        sms_from_row(&r, self.pii.as_deref())
    }

    /// The newest messages with their delivery state, for the operators' view.
    pub async fn sms_deliveries(&self, limit: i64) -> Result<Vec<SmsDelivery>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SMS_COLS} FROM sms_outbox ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| sms_from_row(r, self.pii.as_deref()))
        .collect()
    }

    /// Records the gateway's acceptance of a message.
    pub async fn sms_sent(&self, id: i64, provider: &str, gateway_id: &str) -> Result<()> {
        sqlx::query("UPDATE sms_outbox SET status = 'sent', attempts = attempts + 1, lease_until = 0, provider = $1, gateway_id = $2, last_error = NULL WHERE id = $3")
            .bind(provider)
            .bind(gateway_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up when `None`.
    pub async fn sms_attempt_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let (status, next) = match retry_at {
            Some(t) => (SmsStatus::Pending, t),
            None => (SmsStatus::Failed, 0),
        };
        sqlx::query("UPDATE sms_outbox SET status = $1, attempts = attempts + 1, next_at = $2, lease_until = 0, last_error = $3 WHERE id = $4")
            .bind(status.code())
            .bind(next)
            .bind(error.chars().take(500).collect::<String>())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether reminder `key` was sent.
    pub async fn reminder_sent(&self, key: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM reminders_sent WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Orders whose earliest live (unrevoked) seal ends in `[from, to)` (RFC 3339 UTC texts), with that end.
    pub async fn seal_ends_between(&self, from: &str, to: &str) -> Result<Vec<(i64, String)>> {
        sqlx::query(
            "SELECT order_id, MIN(valid_end) AS ends FROM seals WHERE revoked = 0 GROUP BY order_id HAVING MIN(valid_end) >= $1 AND MIN(valid_end) < $2 ORDER BY order_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("order_id")?, r.try_get("ends")?)))
        .collect()
    }

    /// Records where the applicant pays a payment at its gateway (page URL or QR text).
    pub async fn set_payment_checkout(&self, id: i64, checkout: &str) -> Result<()> {
        sqlx::query("UPDATE payments SET checkout = $1 WHERE id = $2")
            .bind(checkout)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Claims, for `lease_secs` from `now` (Unix seconds), up to `limit` payments on `channels` still waiting for
    /// their notification, created in `[since, before)` (RFC 3339): what the reconciliation job asks the gateways
    /// about. A payment claimed by one instance is not returned to another until the lease runs out, so each is
    /// asked about once a round however many instances run the job (rows picked `FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL).
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_unsettled_payments(
        &self,
        channels: &[String],
        since: &str,
        before: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<Payment>> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..channels.len()).map(|i| format!("${}", i + 6)).collect();
        let sql = format!(
            "UPDATE payments SET reconcile_lease_until = $1 WHERE id IN (SELECT id FROM payments WHERE state IN ('pending', 'superseded') AND created_at >= $2 AND created_at < $3 AND reconcile_lease_until <= $4 AND channel IN ({}) ORDER BY id LIMIT $5{}) RETURNING {PAYMENT_COLS}",
            marks.join(", "),
            self.skip_locked()
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(now + lease_secs)
            .bind(since)
            .bind(before)
            .bind(now)
            .bind(limit);
        for c in channels {
            q = q.bind(c);
        }
        let mut won = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(payment_from_row)
            .collect::<Result<Vec<_>>>()?;
        won.sort_by_key(|p| p.id);
        Ok(won)
    }

    /// Leases an order-id instance number (0-1023) to `holder` for `ttl_secs` from `now` (Unix seconds): the
    /// lowest number that no other holder renewed within the last `ttl_secs`. `None` when all are taken.
    pub async fn lease_instance_number(
        &self,
        holder: &str,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Option<u16>> {
        let taken: Vec<i64> = sqlx::query(
            "SELECT number FROM instance_leases WHERE seen_at > $1 AND holder <> $2 ORDER BY number",
        )
        .bind(now - ttl_secs)
        .bind(holder)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("number"))
        .collect::<std::result::Result<_, _>>()?;
        for n in (0..1024i64).filter(|n| !taken.contains(n)) {
            // Taken only if still free (or stale, or ours) at the moment of writing: two instances starting
            // together cannot both win a number.
            let won = sqlx::query(
                "INSERT INTO instance_leases (number, holder, seen_at) VALUES ($1, $2, $3) ON CONFLICT (number) DO UPDATE SET holder = excluded.holder, seen_at = excluded.seen_at WHERE instance_leases.seen_at <= $4 OR instance_leases.holder = excluded.holder",
            )
            .bind(n)
            .bind(holder)
            .bind(now)
            .bind(now - ttl_secs)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if won {
                return Ok(u16::try_from(n).ok());
            }
        }
        Ok(None)
    }

    /// Renews `holder`'s lease of instance number `number`; `false` if another holder has taken it meanwhile
    /// (this process was stalled past the lease), in which case the caller must stop minting ids with it.
    pub async fn renew_instance_number(&self, number: u16, holder: &str, now: i64) -> Result<bool> {
        Ok(
            sqlx::query(
                "UPDATE instance_leases SET seen_at = $1 WHERE number = $2 AND holder = $3",
            )
            .bind(now)
            .bind(i64::from(number))
            .bind(holder)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1,
        )
    }
}

impl StoreTx {
    /// Claims the reminder `key` for the message `sms_id`: `false` if it was sent before (by anyone), in which
    /// case the caller drops the transaction and sends nothing.
    pub async fn claim_reminder(&mut self, key: &str, sms_id: i64) -> Result<bool> {
        let r = sqlx::query("INSERT INTO reminders_sent (key, sms_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(sms_id)
            .bind(now_text())
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a refund made through the payment's gateway; `false` if it was refunded already (nothing changes).
    pub async fn mark_payment_refunded(
        &mut self,
        payment_id: i64,
        refund_txn: &str,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE payments SET state = 'refunded', refund_txn = $1, refunded_at = $2, refund_due = 0 WHERE id = $3 AND state = 'paid'")
            .bind(refund_txn)
            .bind(now_text())
            .bind(payment_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// One payment, read inside this transaction.
    pub async fn payment(&mut self, id: i64) -> Result<Payment> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        payment_from_row(&row)
    }
}
