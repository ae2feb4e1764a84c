//! 在线客服: a message thread on each order between its applicant and the operators serving its project. An
//! operator's answer sends the applicant an SMS (through the outbox, in the transaction that stores the answer);
//! operators see the threads waiting for an answer, newest first.

use sealdesk_store::{AuditDraft, OrderMessage, WaitingThread};

use crate::{App, AppError, Principal, Who, sms};

/// The longest message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 500;

impl App {
    /// The thread of an order its caller may see (its applicant, or an operator of its project), oldest first.
    pub async fn messages(&self, who: &Who, order_id: i64) -> Result<Vec<OrderMessage>, AppError> {
        let order = self.visible_order(who, order_id).await?;
        Ok(self.store.messages(order.id).await?)
    }

    /// Writes in an order's thread. An operator's message is an answer: the applicant gets an SMS.
    pub async fn post_message(
        &self,
        who: &Who,
        order_id: i64,
        body: &str,
    ) -> Result<OrderMessage, AppError> {
        let order = self.visible_order(who, order_id).await?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MESSAGE_MAX_CHARS {
            return Err(AppError::field(
                "body",
                format!("留言应为 1 到 {MESSAGE_MAX_CHARS} 个字"),
            ));
        }
        let from_operator = matches!(who.principal, Principal::Operator { .. });
        let m = OrderMessage {
            id: self.store.next_id(),
            order_id: order.id,
            from_operator,
            author: who.principal.audit_name(),
            body: body.to_owned(),
            created_at: self.now_text(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_message(&m).await?;
        if from_operator {
            let c = &self.cfg;
            let text = sms::message_answered(
                &c.sms_signature,
                &c.platform_name,
                &c.public_url,
                &order.order_no,
            );
            tx.push_sms_with(
                self.store.next_id(),
                &order.holder.mobile,
                "message_answered",
                &text,
                &[("order_no", &order.order_no)],
            )
            .await?;
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(order.id),
                action: "message_answered".into(),
                detail: serde_json::json!({"message_id": m.id.to_string()}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        tx.commit().await?;
        Ok(m)
    }

    /// Threads waiting for an answer (the last message is the applicant's) in the operator's projects, newest
    /// first.
    pub async fn waiting_threads(&self, who: &Who) -> Result<Vec<WaitingThread>, AppError> {
        let Some(scope) = self.operator_scope(who).await? else {
            return Err(AppError::Forbidden("只有操作员可以查看客服留言".into()));
        };
        Ok(self
            .store
            .waiting_threads(500)
            .await?
            .into_iter()
            .filter(|t| scope.contains(&t.project_id))
            .collect())
    }
}
