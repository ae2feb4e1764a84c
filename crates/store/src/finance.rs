//! Finance: the day's money for the reconciliation report, invoices that are voided and re-issued, and the
//! invoice e-mail outbox (claimed with a lease by a sender worker, like the SMS outbox).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::records::payment_from_row;
use crate::{Invoice, PAYMENT_COLS, Payment, Result, Store, StoreTx, now_text};

const INVOICE_COLS: &str =
    "id, order_id, number, body, created_at, voided_at, void_reason, replaces";

pub(crate) fn invoice_from_row(r: &AnyRow, pii: Option<&crate::pii::PiiKeys>) -> Result<Invoice> {
    let id: i64 = r.try_get("id")?;
    Ok(Invoice {
        id,
        order_id: r.try_get("order_id")?,
        number: r.try_get("number")?,
        body: crate::pii::open_invoice_body(id, &r.try_get::<String, _>("body")?, pii)?,
        created_at: r.try_get("created_at")?,
        voided_at: r.try_get("voided_at")?,
        void_reason: r.try_get("void_reason")?,
        replaces: r.try_get("replaces")?,
    })
}

/// One invoice e-mail and where its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDelivery {
    /// Id.
    pub id: i64,
    /// The recipient.
    pub to_addr: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// The invoice whose PDF goes with it.
    pub invoice_id: Option<i64>,
    /// Its order.
    pub order_id: Option<i64>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once sent.
    pub sent_at: Option<String>,
}

/// An e-mail to queue.
#[derive(Debug, Clone, Default)]
pub struct MailDraft {
    /// The recipient.
    pub to_addr: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// The invoice whose PDF goes with it.
    pub invoice_id: Option<i64>,
    /// Its order.
    pub order_id: Option<i64>,
}

const MAIL_COLS: &str = "id, to_addr, subject, body, invoice_id, order_id, status, attempts, last_error, created_at, sent_at";

/// An e-mail as the sender and the delivery view need it: its recipient opened.
fn mail_from_row(r: &AnyRow, pii: Option<&crate::pii::PiiKeys>) -> Result<MailDelivery> {
    let id: i64 = r.try_get("id")?;
    Ok(MailDelivery {
        id,
        to_addr: crate::pii::open_text(
            pii,
            &crate::pii::mail_place(id),
            &r.try_get::<String, _>("to_addr")?,
        )?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        invoice_id: r.try_get("invoice_id")?,
        order_id: r.try_get("order_id")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Store {
    /// Payments paid or refunded in `[from, to)` (RFC 3339 UTC), with their order numbers, in time order: the
    /// day's money for finance.
    pub async fn payments_moved_between(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(Payment, String)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLS}, (SELECT o.order_no FROM orders o WHERE o.id = payments.order_id) AS order_no \
             FROM payments WHERE (paid_at >= $1 AND paid_at < $2) OR (state = 'refunded' AND refunded_at >= $1 AND refunded_at < $2) \
             ORDER BY COALESCE(paid_at, refunded_at), id"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((payment_from_row(r)?, r.try_get("order_no")?)))
            .collect()
    }

    /// Invoices issued or voided in `[from, to)`, with their order numbers, oldest first.
    pub async fn invoices_between(&self, from: &str, to: &str) -> Result<Vec<(Invoice, String)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INVOICE_COLS}, (SELECT o.order_no FROM orders o WHERE o.id = invoices.order_id) AS order_no \
             FROM invoices WHERE (created_at >= $1 AND created_at < $2) OR (voided_at >= $1 AND voided_at < $2) \
             ORDER BY created_at, id"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    invoice_from_row(r, self.pii.as_deref())?,
                    r.try_get("order_no")?,
                ))
            })
            .collect()
    }

    /// Every invoice of an order, the current one and those voided, oldest first.
    pub async fn invoices_of(&self, order_id: i64) -> Result<Vec<Invoice>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INVOICE_COLS} FROM invoices WHERE order_id = $1 ORDER BY created_at, id"
        )))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| invoice_from_row(r, self.pii.as_deref()))
            .collect()
    }

    /// One invoice, current or voided.
    pub async fn invoice_by_id(&self, id: i64) -> Result<Invoice> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INVOICE_COLS} FROM invoices WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        invoice_from_row(&row, self.pii.as_deref())
    }

    /// Claims up to `limit` e-mails due at `now` for `lease_secs`: each is returned to exactly one caller.
    pub async fn claim_due_mail(
        &self,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<MailDelivery>> {
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM mail_outbox WHERE status = 'pending' AND next_at <= $1 AND lease_until <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        let mut won = Vec::new();
        for id in ids {
            let claimed = sqlx::query(
                "UPDATE mail_outbox SET lease_until = $1 WHERE id = $2 AND status = 'pending' AND lease_until <= $3",
            )
            .bind(now + lease_secs)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                let r = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {MAIL_COLS} FROM mail_outbox WHERE id = $1"
                )))
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                won.push(mail_from_row(&r, self.pii.as_deref())?);
            }
        }
        Ok(won)
    }

    /// Records that the mail server accepted an e-mail.
    pub async fn mail_sent(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE mail_outbox SET status = 'sent', attempts = attempts + 1, lease_until = 0, sent_at = $1, last_error = NULL WHERE id = $2")
            .bind(now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_at`, or given up (`failed`) when `give_up`.
    pub async fn mail_failed(
        &self,
        id: i64,
        next_at: i64,
        error: &str,
        give_up: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE mail_outbox SET status = $1, attempts = attempts + 1, next_at = $2, lease_until = 0, last_error = $3 WHERE id = $4")
            .bind(if give_up { "failed" } else { "pending" })
            .bind(next_at)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest e-mails with their delivery state (operators' view, tests).
    pub async fn mail_deliveries(&self, limit: i64) -> Result<Vec<MailDelivery>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {MAIL_COLS} FROM mail_outbox ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| mail_from_row(r, self.pii.as_deref()))
        .collect()
    }
}

impl StoreTx {
    /// Voids the order's current invoice `id` (作废) with the reason; `false` if it is not current any more (a
    /// colleague voided it first).
    pub async fn void_invoice(&mut self, id: i64, reason: &str, at: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE invoices SET voided_at = $1, void_reason = $2 WHERE id = $3 AND voided_at IS NULL",
        )
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues an e-mail in this transaction; it leaves only if the transaction commits.
    pub async fn queue_mail(&mut self, id: i64, m: &MailDraft) -> Result<()> {
        let to = match self.pii.as_deref() {
            Some(p) => {
                p.data()
                    .seal_text(&crate::pii::mail_place(id), &m.to_addr, crate::pii::nonce())
            }
            None => m.to_addr.clone(),
        };
        sqlx::query("INSERT INTO mail_outbox (id, to_addr, subject, body, invoice_id, order_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(to)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(m.invoice_id)
            .bind(m.order_id)
            .bind(now_text())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
