//! 支付处理中: what the order page says while a payment opened at a real gateway waits for its notification.

use sealdesk_store::Payment;

use crate::{App, AppError, Who};

impl App {
    /// The order's payments opened at a real gateway (not the demo sandbox) and not yet settled, for the order's
    /// applicant or operators; oldest first.
    pub async fn pending_payments(
        &self,
        who: &Who,
        order_id: i64,
    ) -> Result<Vec<Payment>, AppError> {
        self.visible_order(who, order_id).await?;
        Ok(self
            .store
            .open_payments_of(order_id)
            .await?
            .into_iter()
            .filter(|p| p.channel != "sandbox")
            .collect())
    }
}
