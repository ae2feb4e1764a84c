//! Reading the audit log the way the console's 审计日志 page does: filtered by order, actor, action and time,
//! newest first, a page at a time (the chain itself is proven by [`Store::verify_audit`]).

use sealdesk_domain::AuditRecord;
use sqlx::{AssertSqlSafe, Row};

use crate::records::audit_from_row;
use crate::{Arg, Result, Store};

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this order's.
    pub order_id: Option<i64>,
    /// Only this actor's, as the log names it (`operator:admin`, `applicant:<id>`, …).
    pub actor: Option<String>,
    /// Only this action (`submit`, `reject`, `sign_in_failed`, …).
    pub action: Option<String>,
    /// At or after this RFC 3339 UTC time.
    pub from: Option<String>,
    /// Before this RFC 3339 UTC time.
    pub before: Option<String>,
    /// Only entries with a sequence number below this: the next batch of an export.
    pub seq_below: Option<i64>,
    /// Page size (1-1000).
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

impl Store {
    /// The entries `f` selects, newest first, and how many match in all.
    pub async fn audit_page(&self, f: &AuditFilter) -> Result<(Vec<AuditRecord>, i64)> {
        let mut conds = Vec::new();
        let mut args = Vec::new();
        let mut cond = |sql: &str, a: Arg| {
            args.push(a);
            conds.push(sql.replace('?', &format!("${}", args.len())));
        };
        if let Some(id) = f.order_id {
            cond("order_id = ?", Arg::I(id));
        }
        if let Some(a) = &f.actor {
            cond("actor = ?", Arg::S(a.clone()));
        }
        if let Some(a) = &f.action {
            cond("action = ?", Arg::S(a.clone()));
        }
        if let Some(t) = &f.from {
            cond("at >= ?", Arg::S(t.clone()));
        }
        if let Some(t) = &f.before {
            cond("at < ?", Arg::S(t.clone()));
        }
        if let Some(s) = f.seq_below {
            cond("seq < ?", Arg::I(s));
        }
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM audit_log {where_}"
        )));
        for a in &args {
            q = a.bind(q);
        }
        let total: i64 = q.fetch_one(&self.pool).await?.try_get("n")?;
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT seq, at, actor, ip, order_id, action, before_state, after_state, detail, prev_hash, hash, chain_id, chain_seq \
             FROM audit_log {where_} ORDER BY seq DESC LIMIT {} OFFSET {}",
            f.limit.clamp(1, 1000),
            f.offset.max(0)
        )));
        for a in &args {
            q = a.bind(q);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok((
            rows.iter().map(audit_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    /// The mobile numbers of the applicants `ids` (those that exist), to name them in the log.
    pub async fn applicant_mobiles(&self, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ph: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, mobile FROM applicants WHERE id IN ({})",
            ph.join(", ")
        )));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let stored: String = r.try_get("mobile")?;
                let mobile = crate::pii::open_text(
                    self.pii.as_deref(),
                    &crate::pii::applicant_place(id),
                    &stored,
                )?;
                Ok((id, mobile))
            })
            .collect()
    }
}
