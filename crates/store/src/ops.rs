//! What operations need from the database: figures for the metrics endpoint (read from the database, so every
//! instance reports the same platform-wide numbers), a consistent SQLite snapshot for backups, and the query
//! plans that prove the list queries use indexes.

use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Result, Store, StoreError};

/// Platform-wide counts for the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Orders per state code (`draft`, `pending_review`, …).
    pub orders_by_state: Vec<(String, i64)>,
    /// Payments confirmed by a gateway's signed notification.
    pub payments_paid: i64,
    /// Seals made (制章), revoked ones included.
    pub seals_made: i64,
    /// SMS messages in the outbox.
    pub sms_outbox: i64,
    /// Audit entries.
    pub audit_entries: i64,
    /// Submissions whose 审核预检 wait for a worker (claimed or not): the queue's depth.
    pub prechecks_due: i64,
}

impl Store {
    /// Platform-wide counts (a handful of aggregate queries; meant for a scrape every few seconds, not per
    /// request).
    pub async fn stats(&self) -> Result<Stats> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut orders_by_state = Vec::with_capacity(rows.len());
        for r in rows {
            orders_by_state.push((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?));
        }
        let count = |sql: &'static str| async move {
            sqlx::query(sql)
                .fetch_one(&self.pool)
                .await
                .and_then(|r| r.try_get::<i64, _>(0))
                .map_err(StoreError::from)
        };
        Ok(Stats {
            orders_by_state,
            payments_paid: count("SELECT COUNT(*) FROM payments WHERE state = 'paid'").await?,
            seals_made: count("SELECT COUNT(*) FROM seals").await?,
            sms_outbox: count("SELECT COUNT(*) FROM sms_outbox").await?,
            audit_entries: count("SELECT COUNT(*) FROM audit_log").await?,
            prechecks_due: count("SELECT COUNT(*) FROM order_prechecks WHERE body IS NULL").await?,
        })
    }

    /// Whether the database holds no orders, operators or audit entries (a restore refuses to overwrite data).
    pub async fn is_empty(&self) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM operators) + (SELECT COUNT(*) FROM audit_log)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? == 0)
    }

    /// Writes a consistent copy of a SQLite database to `path` (`VACUUM INTO`: one read transaction, so the copy
    /// is a single point in time even while the server writes). PostgreSQL is backed up with `pg_dump`.
    pub async fn snapshot_sqlite(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Other("snapshot_sqlite on PostgreSQL".into()));
        }
        let p = path
            .to_str()
            .ok_or_else(|| StoreError::Other(format!("not a UTF-8 path: {}", path.display())))?;
        sqlx::query(AssertSqlSafe(format!(
            "VACUUM INTO '{}'",
            p.replace('\'', "''")
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The database's plan for `sql` with `args` bound (integers or text), one line per step: SQLite's `EXPLAIN
    /// QUERY PLAN` details or PostgreSQL's `EXPLAIN` lines. Tests use it to prove queries are served by indexes.
    pub async fn explain(&self, sql: &str, args: &[PlanArg]) -> Result<Vec<String>> {
        let q = match self.backend {
            Backend::Sqlite => {
                let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
                for a in args {
                    q = match a {
                        PlanArg::Int(i) => q.bind(*i),
                        PlanArg::Text(t) => q.bind(t.clone()),
                    };
                }
                q
            }
            // PostgreSQL plans EXPLAIN's parameters as unknown types; the values are written in as literals
            // (from the highest number down, so that $1 does not match the start of $10).
            Backend::Postgres => {
                let mut text = sql.to_owned();
                for (n, a) in args.iter().enumerate().rev() {
                    let lit = match a {
                        PlanArg::Int(i) => i.to_string(),
                        PlanArg::Text(t) => format!("'{}'", t.replace('\'', "''")),
                    };
                    text = text.replace(&format!("${}", n + 1), &lit);
                }
                sqlx::query(AssertSqlSafe(format!("EXPLAIN {text}")))
            }
        };
        let rows = q.fetch_all(&self.pool).await?;
        let col = match self.backend {
            Backend::Sqlite => 3,
            Backend::Postgres => 0,
        };
        rows.iter()
            .map(|r| r.try_get::<String, _>(col).map_err(StoreError::from))
            .collect()
    }
}

/// A value bound into [`Store::explain`].
#[derive(Debug, Clone)]
pub enum PlanArg {
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
}

/// Whether the database at `url` has no tables yet (connects without running migrations): a restore writes
/// only into a blank database. A SQLite file that does not exist is blank.
pub async fn database_is_blank(url: &str) -> Result<bool> {
    sqlx::any::install_default_drivers();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        return Ok(!std::path::Path::new(path).exists());
    }
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", crate::redact_url(url))))?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&pool)
    .await?
    .try_get(0)?;
    pool.close().await;
    Ok(n == 0)
}

/// Rows per multi-row INSERT in [`Store::bulk_load`]: 14 parameters a row stays far below both databases'
/// limits on bound parameters.
const BULK_ROWS: usize = 400;

impl Store {
    /// Loads synthetic data for load tests in one transaction: applicants (id, mobile), orders and payments,
    /// with multi-row INSERTs. This bypasses the use cases on purpose (no audit entries, no SMS): it makes a
    /// database of realistic size quickly, it does not record business events.
    pub async fn bulk_load(
        &self,
        applicants: &[(i64, String)],
        orders: &[sealdesk_domain::Order],
        payments: &[crate::Payment],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = crate::now_text();
        // Sealed as the use cases would write them, so that a loaded database costs what a real one does.
        let pii = self.pii.as_deref();
        for chunk in applicants.chunks(BULK_ROWS) {
            let sql = values_sql(
                "INSERT INTO applicants (id, mobile, mobile_index, created_at) VALUES ",
                4,
                chunk.len(),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, mobile) in chunk {
                let (stored, index) = match pii {
                    Some(p) => (
                        p.data().seal_text(
                            &crate::pii::applicant_place(*id),
                            mobile,
                            crate::pii::nonce(),
                        ),
                        Some(p.index().mobile(mobile)),
                    ),
                    None => (mobile.clone(), None),
                };
                q = q.bind(*id).bind(stored).bind(index).bind(now.as_str());
            }
            q.execute(&mut *tx.tx).await?;
        }
        for chunk in orders.chunks(BULK_ROWS) {
            let sql = values_sql(
                "INSERT INTO orders (id, order_no, project_id, applicant_id, service, state, total_fen, body, version, created_at, updated_at, search_text, mobile_index, holder_index) VALUES ",
                14,
                chunk.len(),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for o in chunk {
                let body = crate::pii::seal_order_body(o, pii)?;
                q = q
                    .bind(o.id)
                    .bind(o.order_no.as_str())
                    .bind(o.project_id)
                    .bind(o.applicant_id)
                    .bind(o.service.code())
                    .bind(o.state.code())
                    .bind(o.total.0)
                    .bind(body)
                    .bind(o.version)
                    .bind(o.created_at.as_str())
                    .bind(o.updated_at.as_str())
                    .bind(crate::search::text(o, pii))
                    .bind(crate::pii::order_mobile_index(o, pii))
                    .bind(crate::pii::order_holder_index(o, pii));
            }
            q.execute(&mut *tx.tx).await?;
        }
        for chunk in payments.chunks(BULK_ROWS) {
            let sql = values_sql(
                "INSERT INTO payments (id, order_id, channel, amount_fen, state, created_at) VALUES ",
                6,
                chunk.len(),
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                q = q
                    .bind(p.id)
                    .bind(p.order_id)
                    .bind(p.channel.as_str())
                    .bind(p.amount.0)
                    .bind(p.state.as_str())
                    .bind(p.created_at.as_str());
            }
            q.execute(&mut *tx.tx).await?;
        }
        tx.commit().await
    }

    /// Up to `limit` payments still waiting for their gateway's notification (the bench notifies them).
    pub async fn pending_payments(&self, limit: i64) -> Result<Vec<crate::Payment>> {
        let rows = sqlx::query(
            "SELECT id, order_id, channel, amount_fen, created_at FROM payments WHERE state = 'pending' ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::Payment {
                    id: r.try_get(0)?,
                    order_id: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    amount: sealdesk_domain::Fen(r.try_get(3)?),
                    state: "pending".into(),
                    gateway_txn: None,
                    created_at: r.try_get(4)?,
                    ..crate::Payment::default()
                })
            })
            .collect()
    }

    /// Refreshes the planner's statistics after a bulk load, as a DBA would after an import: `ANALYZE`, and on
    /// PostgreSQL `VACUUM (ANALYZE)`, which also marks the loaded pages all-visible, so that counts read the
    /// index alone (an index-only scan) instead of visiting the table row by row until autovacuum has run.
    pub async fn analyze(&self) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "VACUUM (ANALYZE)",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}

/// `prefix` followed by `rows` groups of `cols` numbered placeholders.
fn values_sql(prefix: &str, cols: usize, rows: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + rows * cols * 6);
    s.push_str(prefix);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            n += 1;
            s.push('$');
            s.push_str(&n.to_string());
        }
        s.push(')');
    }
    s
}
