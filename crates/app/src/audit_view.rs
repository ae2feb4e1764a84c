//! 审计日志 for the console: the log filtered and paged, with people named, for the super-administrator only
//! (operators see an order's trail on the order).

use std::collections::HashMap;

use sealdesk_domain::AuditRecord;
use sealdesk_store::AuditFilter;

use crate::{App, AppError, Principal, Who};

/// A page of the audit log and the mobile numbers of the applicants it names, by applicant id.
pub struct AuditPage {
    /// The entries, newest first.
    pub entries: Vec<AuditRecord>,
    /// Entries matching in all.
    pub total: i64,
    /// Applicant id → mobile number (masked by the page), for the entries' `applicant:<id>` actors.
    pub mobiles: HashMap<i64, String>,
}

impl App {
    /// The audit log as `filter` selects it. Only a super-administrator may read it.
    pub async fn audit_log(&self, who: &Who, filter: AuditFilter) -> Result<AuditPage, AppError> {
        match &who.principal {
            p if p.may(sealdesk_domain::Role::Auditor) => {}
            Principal::Operator { .. } => {
                return Err(AppError::Forbidden(
                    "只有审计员或超级管理员可以查看审计日志".into(),
                ));
            }
            _ => return Err(AppError::Unauthenticated),
        }
        let (entries, total) = self.store.audit_page(&filter).await?;
        let mut ids: Vec<i64> = entries
            .iter()
            .filter_map(|e| e.actor.strip_prefix("applicant:")?.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mobiles = self
            .store
            .applicant_mobiles(&ids)
            .await?
            .into_iter()
            .collect();
        Ok(AuditPage {
            entries,
            total,
            mobiles,
        })
    }
}
