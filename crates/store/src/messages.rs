//! 在线客服: the message thread of each order (migration 0025).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreTx};

/// One message of an order's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMessage {
    /// Id (time-ordered).
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Written by an operator (客服), else by the applicant.
    pub from_operator: bool,
    /// Who wrote it, as the audit log names them (`applicant:ID`, `operator:NAME`).
    pub author: String,
    /// The text.
    pub body: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// A thread waiting for an answer: its last message (from the applicant) and the order's number and project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingThread {
    /// The last message.
    pub last: OrderMessage,
    /// 订单编号.
    pub order_no: String,
    /// The order's project.
    pub project_id: i64,
}

fn message_from_row(r: &AnyRow) -> Result<OrderMessage> {
    Ok(OrderMessage {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        from_operator: crate::records::flag(r, "from_operator")?,
        author: r.try_get("author")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// An order's thread, oldest first.
    pub async fn messages(&self, order_id: i64) -> Result<Vec<OrderMessage>> {
        sqlx::query(
            "SELECT id, order_id, from_operator, author, body, created_at FROM order_messages WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(message_from_row)
        .collect()
    }

    /// Threads whose last message is the applicant's, newest first (at most `limit`).
    pub async fn waiting_threads(&self, limit: i64) -> Result<Vec<WaitingThread>> {
        sqlx::query(
            "SELECT m.id, m.order_id, m.from_operator, m.author, m.body, m.created_at, o.order_no, o.project_id
             FROM order_messages m JOIN orders o ON o.id = m.order_id
             WHERE m.from_operator = 0
               AND m.id = (SELECT MAX(x.id) FROM order_messages x WHERE x.order_id = m.order_id)
             ORDER BY m.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(WaitingThread {
                last: message_from_row(r)?,
                order_no: r.try_get("order_no")?,
                project_id: r.try_get("project_id")?,
            })
        })
        .collect()
    }
}

impl StoreTx {
    /// Adds a message to its order's thread.
    pub async fn insert_message(&mut self, m: &OrderMessage) -> Result<()> {
        sqlx::query(
            "INSERT INTO order_messages (id, order_id, from_operator, author, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m.id)
        .bind(m.order_id)
        .bind(i16::from(m.from_operator))
        .bind(&m.author)
        .bind(&m.body)
        .bind(&m.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
