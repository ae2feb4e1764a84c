//! What a reviewer needs beyond the order page: the full ID number, shown only on request and recorded each time,
//! since it is the personal datum that lists and pages mask.

use sealdesk_store::AuditDraft;

use crate::{App, AppError, Who};

impl App {
    /// The order holder's full ID number for an operator who serves the order, with an audit entry
    /// (`view_id_number`) saying who saw it, when and from where.
    pub async fn reveal_id_number(&self, who: &Who, order_id: i64) -> Result<String, AppError> {
        if !who.principal.may(sealdesk_domain::Role::Reviewer) {
            return Err(AppError::Forbidden("只有审核员可以查看完整证件号".into()));
        }
        let order = self.visible_order(who, order_id).await?;
        let mut tx = self.store.begin().await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: "view_id_number".into(),
            detail: "{}".into(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(order.holder.id_number)
    }
}
