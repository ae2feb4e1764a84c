//! Renewal reminders (续期提醒): an SMS 90, 30, 7 and 1 days before an order's seals stop being valid, and the
//! day after, each with the link to 续期. They stop once a renewal of the order is paid. Each reminder is claimed
//! in the `reminders_sent` ledger in the same transaction as its outbox message, so it goes out once even when
//! several instances run the job at the same moment.

use sealdesk_domain::{Order, OrderState, Timestamp};
use sealdesk_store::OrderFilter;

use crate::{App, AppError};

/// Days before the last valid day on which a reminder goes out; `-1` is the day after.
pub const REMINDER_DAYS: [i64; 5] = [90, 30, 7, 1, -1];

const DAY: i64 = 86_400;
const CST: i64 = 8 * 3600;

/// The Beijing calendar day number of `t`.
fn beijing_day(t: i64) -> i64 {
    (t + CST).div_euclid(DAY)
}

/// The reminder text, in the words of the seed's other messages.
pub fn reminder_text(
    sig: &str,
    platform: &str,
    link: &str,
    order_no: &str,
    end: &str,
    days: i64,
) -> String {
    let head = format!("[{sig}] 尊敬的客户，您好！您订单号为【{order_no}】的电子印章");
    let tail = "本条短信无需回复，感谢您的合作，谢谢！";
    if days < 0 {
        format!("{head}授权已于 {end} 到期，请尽快登录 {platform}（{link}）办理续期，{tail}")
    } else {
        format!(
            "{head}授权将于 {end} 到期（还有 {days} 天），请登录 {platform}（{link}）办理续期，{tail}"
        )
    }
}

impl App {
    /// Sends the reminders due on the Beijing day of now. Returns how many this call wrote to the outbox.
    pub async fn send_reminders(&self) -> Result<u32, AppError> {
        let today = beijing_day(self.now());
        // Seals ending from the start of yesterday (Beijing) to the end of today + 90.
        let from = Timestamp((today - 1) * DAY - CST).rfc3339();
        let to = Timestamp((today + 92) * DAY - CST).rfc3339();
        let mut sent = 0;
        for (order_id, ends) in self.store.seal_ends_between(&from, &to).await? {
            let Some(end) = Timestamp::parse_rfc3339(&ends) else {
                continue;
            };
            // A seal valid to 2027-01-05T00:00+08:00 is last usable on the 4th: count to its last day.
            let last = Timestamp(end.0 - 1);
            let days = beijing_day(last.0) - today;
            if !REMINDER_DAYS.contains(&days) {
                continue;
            }
            let key = format!("seal-end:{order_id}:{days}");
            if self.store.reminder_sent(&key).await? {
                continue;
            }
            let order = self.store.order(order_id).await?;
            if order.state != OrderState::Completed || self.renewed(&order).await? {
                continue;
            }
            let link = format!(
                "{}/orders/new?service=renewal",
                self.cfg.public_url.trim_end_matches('/')
            );
            let end_text = last.beijing_date();
            let text = reminder_text(
                &self.cfg.sms_signature,
                &self.cfg.platform_name,
                &link,
                &order.order_no,
                &end_text,
                days,
            );
            let template = if days < 0 {
                "renewal_overdue"
            } else {
                "renewal_reminder"
            };
            let days_text = days.max(0).to_string();
            let mut tx = self.store.begin().await?;
            let sms_id = self.store.next_id();
            if !tx.claim_reminder(&key, sms_id).await? {
                // Another instance sent it a moment ago.
                continue;
            }
            tx.push_sms_with(
                sms_id,
                &order.holder.mobile,
                template,
                &text,
                &[
                    ("order_no", &order.order_no),
                    ("end", &end_text),
                    ("days", &days_text),
                ],
            )
            .await?;
            tx.commit().await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Whether a renewal of `order` has been paid (or gone further).
    async fn renewed(&self, order: &Order) -> Result<bool, AppError> {
        let (orders, _) = self
            .store
            .list_orders(&OrderFilter {
                applicant_id: Some(order.applicant_id),
                states: vec![
                    OrderState::Paid,
                    OrderState::Authorized,
                    OrderState::Made,
                    OrderState::Completed,
                ],
                limit: 1000,
                ..OrderFilter::default()
            })
            .await?;
        Ok(orders.iter().any(|o| o.previous_order == Some(order.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_days_turn_at_midnight_beijing() {
        // 2026-01-04T16:00:00Z is 2026-01-05 00:00 in Beijing.
        let t = Timestamp::from_utc(2026, 1, 4, 16, 0, 0).0;
        assert_eq!(beijing_day(t), beijing_day(t - 1) + 1);
    }
}
