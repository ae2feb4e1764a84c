//! The SMS sender worker: takes due messages from the outbox (written in the same transaction as their event),
//! hands each to the configured [`SmsProvider`], and records the outcome on the outbox row. Failures that may
//! pass (timeouts, 5xx, flow control) are tried again with exponential backoff; refusals and messages out of
//! attempts are marked failed, which operators see as 发送失败 with the gateway's reason. A sign-in code older
//! than its validity is not sent. In demo mode no worker runs: the outbox is the provider.

use std::sync::Arc;

use sealdesk_domain::{Clock, Timestamp};
use sealdesk_payments::sms::{SmsMessage, SmsProvider};
use sealdesk_store::{SmsDelivery, Store};

use crate::{App, AppError, Principal, Who};

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up.
    pub max_attempts: i64,
    /// Delay after the first failure, seconds; doubled after each further one.
    pub first_delay_secs: i64,
    /// The longest delay, seconds.
    pub max_delay_secs: i64,
    /// How long a claimed message is reserved for one worker, seconds.
    pub lease_secs: i64,
    /// Messages per round.
    pub batch: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            first_delay_secs: 30,
            max_delay_secs: 3600,
            lease_secs: 120,
            batch: 50,
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts (1-based).
    pub fn delay(&self, attempts: i64) -> i64 {
        let doublings = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
        self.first_delay_secs
            .saturating_mul(1i64 << doublings)
            .min(self.max_delay_secs)
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendRound {
    /// Accepted by the gateway.
    pub sent: u32,
    /// Failed for now, scheduled again.
    pub retried: u32,
    /// Given up.
    pub failed: u32,
}

/// The worker.
#[derive(Clone)]
pub struct SmsSender {
    store: Store,
    provider: Arc<dyn SmsProvider>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
}

fn message(d: &SmsDelivery) -> SmsMessage {
    let params = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&d.params)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            (k, v)
        })
        .collect();
    SmsMessage {
        mobile: d.mobile.clone(),
        template: d.template.clone(),
        params,
        text: d.text.clone(),
        out_id: d.id.to_string(),
    }
}

impl App {
    /// 短信发送记录: the newest messages with their delivery state, for operators.
    pub async fn sms_deliveries(
        &self,
        who: &Who,
        limit: i64,
    ) -> Result<Vec<SmsDelivery>, AppError> {
        match who.principal {
            Principal::Operator { .. } => Ok(self.store.sms_deliveries(limit).await?),
            _ => Err(AppError::Forbidden("只有管理员可以查看短信发送记录".into())),
        }
    }

    /// The SMS sender worker for this platform's outbox, sending through `provider`.
    pub fn sms_sender(&self, provider: Arc<dyn SmsProvider>, policy: RetryPolicy) -> SmsSender {
        SmsSender {
            store: self.store.clone(),
            provider,
            policy,
            clock: self.cfg.clock.clone(),
        }
    }
}

impl SmsSender {
    /// Sends what is due now.
    pub async fn run_once(&self) -> Result<SendRound, AppError> {
        let now = self.clock.now().0;
        let mut round = SendRound::default();
        let due = self
            .store
            .claim_due_sms(now, self.policy.lease_secs, self.policy.batch)
            .await?;
        for d in due {
            let written = Timestamp::parse_rfc3339(&d.created_at).map_or(now, |t| t.0);
            if d.template == "login_code" && now - written > crate::auth::CODE_TTL {
                self.store
                    .sms_attempt_failed(d.id, "验证码已过期，未发送", None)
                    .await?;
                round.failed += 1;
                continue;
            }
            match self.provider.send(&message(&d)).await {
                Ok(receipt) => {
                    self.store
                        .sms_sent(d.id, self.provider.name(), &receipt.gateway_id)
                        .await?;
                    round.sent += 1;
                }
                Err(e) => {
                    let attempts = d.attempts + 1;
                    let retry = (e.is_retryable() && attempts < self.policy.max_attempts)
                        .then(|| now + self.policy.delay(attempts));
                    tracing::warn!(sms = d.id, attempts, error = %e, retry = retry.is_some(), "SMS not sent");
                    self.store
                        .sms_attempt_failed(d.id, &e.to_string(), retry)
                        .await?;
                    if retry.is_some() {
                        round.retried += 1;
                    } else {
                        round.failed += 1;
                    }
                }
            }
        }
        Ok(round)
    }

    /// Runs a round every `every` until `stop` resolves.
    pub async fn run(
        self,
        every: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        rounds("SMS sender", every, stop, || self.run_once()).await;
    }
}

/// Runs `round` every `every` until `stop` resolves; a failed round is logged (as `what`) and the next one comes
/// on time, so that a database or provider outage delays work but never ends the worker.
pub(crate) async fn rounds<T, Fut>(
    what: &str,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
    mut round: impl FnMut() -> Fut,
) where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {
                if let Err(e) = round().await {
                    tracing::error!(error = %e, "{what} round failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(
            (1..=9).map(|a| p.delay(a)).collect::<Vec<_>>(),
            [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
        );
    }
}
