//! The invoice e-mail sender worker: claims due e-mails from the mail outbox (queued in the transaction that
//! issued the invoice), draws the invoice's PDF at send time, and hands both to the configured [`Mailer`].
//! Retries and backoff follow the SMS sender's [`RetryPolicy`]; refusals are marked failed with the relay's reason.

use std::sync::Arc;

use sealdesk_domain::{Clock, Fen};
use sealdesk_payments::mail::{MailError, Mailer, OutgoingMail};
use sealdesk_store::MailDelivery;

use crate::{App, AppError, Principal, RetryPolicy, SendRound, Who};

/// The worker.
#[derive(Clone)]
pub struct MailSender {
    app: App,
    mailer: Arc<dyn Mailer>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl App {
    /// 邮件发送记录: the newest e-mails with their delivery state, for operators.
    pub async fn mail_deliveries(
        &self,
        who: &Who,
        limit: i64,
    ) -> Result<Vec<MailDelivery>, AppError> {
        match who.principal {
            Principal::Operator { .. } => Ok(self.store.mail_deliveries(limit).await?),
            _ => Err(AppError::Forbidden("只有管理员可以查看邮件发送记录".into())),
        }
    }

    /// The e-mail sender worker for this platform's mail outbox, sending through `mailer`.
    pub fn mail_sender(&self, mailer: Arc<dyn Mailer>, policy: RetryPolicy) -> MailSender {
        MailSender {
            app: self.clone(),
            mailer,
            policy,
            clock: self.cfg.clock.clone(),
        }
    }
}

impl MailSender {
    async fn outgoing(&self, d: &MailDelivery) -> Result<OutgoingMail, AppError> {
        let attachment = match d.invoice_id {
            Some(id) => {
                let inv = self.app.store.invoice_by_id(id).await?;
                let (number, pdf) = self.app.render_invoice(&inv, Fen(0)).await?;
                Some((
                    format!("电子发票-{number}.pdf"),
                    "application/pdf".to_owned(),
                    pdf,
                ))
            }
            None => None,
        };
        Ok(OutgoingMail {
            to: d.to_addr.clone(),
            subject: d.subject.clone(),
            text: d.body.clone(),
            attachment,
        })
    }

    /// Sends what is due now.
    pub async fn run_once(&self) -> Result<SendRound, AppError> {
        let now = self.clock.now().0;
        let mut round = SendRound::default();
        let store = &self.app.store;
        let due = store
            .claim_due_mail(now, self.policy.lease_secs, self.policy.batch)
            .await?;
        for d in due {
            let result = match self.outgoing(&d).await {
                Ok(m) => self.mailer.send(&m).await,
                Err(e) => Err(MailError::Unavailable(e.to_string())),
            };
            match result {
                Ok(()) => {
                    store.mail_sent(d.id).await?;
                    round.sent += 1;
                }
                Err(e) => {
                    let attempts = d.attempts + 1;
                    let retry = e.is_retryable() && attempts < self.policy.max_attempts;
                    tracing::warn!(mail = d.id, attempts, error = %e, retry, "invoice e-mail not sent");
                    store
                        .mail_failed(
                            d.id,
                            now + self.policy.delay(attempts),
                            &e.to_string(),
                            !retry,
                        )
                        .await?;
                    if retry {
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
        crate::delivery::rounds("mail sender", every, stop, || self.run_once()).await;
    }
}
