//! What a reviewer needs beyond the order page: the full ID number, shown only on request and recorded each time,
//! since it is the personal datum that lists and pages mask.

use sealdesk_store::AuditDraft;

use crate::{App, AppError, Principal, Who};

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

/// 二次审核: who approved first, read from the order's audit trail since its latest submission (a rejection
/// and resubmission start the review over).
impl App {
    /// The audit name (`operator:NAME`) of the first approval of the current submission, if any.
    pub(crate) async fn first_approver(&self, order_id: i64) -> Result<Option<String>, AppError> {
        let trail = self.store.audit_entries(Some(order_id)).await?;
        let since = trail
            .iter()
            .rposition(|a| a.action == "submit")
            .map_or(0, |i| i + 1);
        Ok(trail
            .get(since..)
            .unwrap_or_default()
            .iter()
            .rev()
            .find(|a| a.action == "approve_first")
            .map(|a| a.actor.clone()))
    }

    /// What the review page says of an order approved once and waiting for its second approval:
    /// "已初审，待复核（初审：NAME）"; `None` otherwise.
    pub async fn review_stage(&self, who: &Who, order_id: i64) -> Result<Option<String>, AppError> {
        let order = self.visible_order(who, order_id).await?;
        if order.state != sealdesk_domain::OrderState::PendingReview {
            return Ok(None);
        }
        Ok(self.first_approver(order_id).await?.map(|actor| {
            let name = actor.strip_prefix("operator:").unwrap_or(&actor);
            format!("已初审，待复核（初审：{name}）")
        }))
    }

    /// Sets the seal kinds whose orders in project `code` need a second approval. Super-administrators only;
    /// audited.
    pub async fn set_second_approval(
        &self,
        who: &Who,
        code: &str,
        kinds: &[sealdesk_domain::SealKind],
    ) -> Result<(), AppError> {
        if !matches!(who.principal, Principal::Operator { is_admin: true, .. }) {
            return Err(AppError::Forbidden("只有超级管理员可以设置二次审核".into()));
        }
        let project = self.store.project_by_code(code).await?;
        self.store.set_second_approval(project.id, kinds).await?;
        let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
        self.audit_event(
            &who.principal.audit_name(),
            &who.ip,
            "second_approval_set",
            serde_json::json!({"project": code, "kinds": codes}),
        )
        .await
    }

    /// A project's contact, registered seal sizes and 授权转自动开关 (super-administrators only). New orders take
    /// the sizes from then on; orders already created keep the ones their printed 印模采集表 was drawn with.
    pub async fn set_project_settings(
        &self,
        who: &Who,
        code: &str,
        contact: &str,
        sizes: &[sealdesk_domain::SealSize],
        auto_approve: bool,
    ) -> Result<(), AppError> {
        if !matches!(who.principal, Principal::Operator { is_admin: true, .. }) {
            return Err(AppError::Forbidden("只有超级管理员可以设置项目".into()));
        }
        let contact = contact.trim();
        if contact.chars().count() > 100 {
            return Err(AppError::field("contact", "联系人与电话不能超过 100 个字"));
        }
        let project = self.store.project_by_code(code).await?;
        self.store
            .set_project_settings(project.id, contact, sizes, auto_approve)
            .await?;
        let sizes: Vec<String> = sizes
            .iter()
            .map(sealdesk_domain::SealSize::to_string)
            .collect();
        self.audit_event(
            &who.principal.audit_name(),
            &who.ip,
            "project_settings_set",
            serde_json::json!({"project": code, "contact": contact, "sizes": sizes, "auto_approve": auto_approve}),
        )
        .await
    }
}
