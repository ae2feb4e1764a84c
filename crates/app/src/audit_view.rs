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

/// Audit entries between two checkpoints the background job writes (and `sealdesk audit checkpoint` on demand).
pub const CHECKPOINT_EVERY: i64 = 1_000;

impl App {
    /// Signs every audit chain's head (one snapshot) with the seal maker's key and stores the checkpoint; its id.
    pub async fn audit_checkpoint(&self) -> Result<i64, AppError> {
        write_audit_checkpoint(&self.store, &self.maker).await
    }

    /// A checkpoint when at least `every` entries were appended since the last one; its id if one was written.
    pub async fn audit_checkpoint_if_due(&self, every: i64) -> Result<Option<i64>, AppError> {
        if self.store.audit_appends_since_checkpoint().await? < every {
            return Ok(None);
        }
        Ok(Some(self.audit_checkpoint().await?))
    }
}

/// Signs every audit chain's head with `maker`'s key (SM2) and stores the checkpoint; its id.
pub async fn write_audit_checkpoint(
    store: &sealdesk_store::Store,
    maker: &sealdesk_adapters::keys::Identity,
) -> Result<i64, AppError> {
    use base64::Engine;
    let c = store.audit_heads().await?;
    let sig = maker.key.sign(c.text().as_bytes());
    Ok(store
        .add_audit_checkpoint(&c, &base64::engine::general_purpose::STANDARD.encode(sig))
        .await?)
}

/// Whether a stored checkpoint (its text and base64 signature) was signed by the key of `maker`.
pub fn checkpoint_signed_by(text: &str, signature: &str, maker: &sealdesk_pki::Cert) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(signature)
        .is_ok_and(|sig| maker.verify_signature(text.as_bytes(), &sig))
}
