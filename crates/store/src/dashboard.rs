//! The counts behind the console's 统计 page, for a set of projects (an operator's scope) or all of them.

use sqlx::{AssertSqlSafe, Row};

use crate::{Arg, Result, Store};

/// `project_id IN (…)` for `projects` (nothing for all), its arguments starting at `$first`.
fn scope(projects: Option<&[i64]>, column: &str, first: usize) -> (String, Vec<Arg>) {
    match projects {
        None => ("1 = 1".to_owned(), Vec::new()),
        Some([]) => ("1 = 0".to_owned(), Vec::new()),
        Some(ids) => (
            format!(
                "{column} IN ({})",
                (first..first + ids.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ids.iter().map(|id| Arg::I(*id)).collect(),
        ),
    }
}

impl Store {
    /// Orders by (project id, state code, count).
    pub async fn order_counts(&self, projects: Option<&[i64]>) -> Result<Vec<(i64, String, i64)>> {
        let (cond, args) = scope(projects, "project_id", 1);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT project_id, state, COUNT(*) AS n FROM orders WHERE {cond} GROUP BY project_id, state"
        )));
        for a in &args {
            q = a.bind(q);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("project_id")?,
                    r.try_get("state")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    /// When each order now waiting for 审核 was submitted (its last update).
    pub async fn pending_review_since(&self, projects: Option<&[i64]>) -> Result<Vec<String>> {
        let (cond, args) = scope(projects, "project_id", 1);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT updated_at FROM orders WHERE state = 'pending_review' AND {cond}"
        )));
        for a in &args {
            q = a.bind(q);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("updated_at")?))
            .collect()
    }

    /// The submit, approve and reject entries since `since` (RFC 3339) of the projects' orders, in log order:
    /// (order id, action, at, detail).
    pub async fn review_entries(
        &self,
        projects: Option<&[i64]>,
        since: &str,
    ) -> Result<Vec<(i64, String, String, String)>> {
        let (cond, args) = scope(projects, "o.project_id", 2);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT a.order_id, a.action, a.at, a.detail FROM audit_log a JOIN orders o ON o.id = a.order_id \
             WHERE a.action IN ('submit', 'approve', 'reject') AND a.at >= $1 AND {cond} ORDER BY a.seq"
        )))
        .bind(since);
        for a in &args {
            q = a.bind(q);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("order_id")?,
                    r.try_get("action")?,
                    r.try_get("at")?,
                    r.try_get("detail")?,
                ))
            })
            .collect()
    }
}
