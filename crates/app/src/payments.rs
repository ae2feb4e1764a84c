//! 支付: opening a payment at a gateway, the gateways' signed notifications, reconciliation of payments whose
//! notification never came, and refunds through the gateway that took the money.
//!
//! Every channel — the demo sandbox, 支付宝, 微信支付 — is a [`PaymentProvider`], and every way money is learnt
//! of (a notification, a reconciliation query) ends in [`App::record_trade`]: the trade must name one of our
//! payments on that channel, for exactly the amount the server asked (the order's total), from our app id (the
//! provider checks it with the signature). Recording is a conditional update of the payment in the same
//! transaction as the order's change and its audit entry, so any number of copies of one notification, at once
//! or one after another, record one payment. Money for an order that can no longer take it is recorded and
//! flagged for refund, never dropped.

use std::sync::Arc;

use sealdesk_domain::{Actor, Event, Order, OrderState, Timestamp};
use sealdesk_payments::{
    Checkout, NotifyReply, PayError, PayMode, PayRequest, PaymentProvider, RefundRequest, Trade,
    TradeStatus,
};
use sealdesk_store::{AuditDraft, Payment};

use crate::orders::random_payment_id;
use crate::{App, AppError, Principal, Who};

/// What the gateways are told is bought.
pub const PAYMENT_SUBJECT: &str = "电子印章申请-技术服务费";

/// What one reconciliation round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Payments the gateway said were paid, recorded now.
    pub settled: u32,
    /// Payments the gateway does not know or has not been paid for yet.
    pub open: u32,
    /// Payments whose gateway could not be asked (tried again next round).
    pub failed: u32,
}

/// The cashier of one payment at a real gateway, for the order's owner.
#[derive(Debug, Clone)]
pub struct PaymentCheckout {
    /// The payment.
    pub payment: Payment,
    /// Its order's number.
    pub order_no: String,
    /// The channel's name on pages.
    pub label: &'static str,
    /// What to show as a QR code, for QR channels (微信支付 Native, 支付宝 当面付).
    pub qr: Option<String>,
    /// The account and reference, for 对公转账.
    pub bank: Option<crate::BankTransfer>,
}

fn refused(e: &PayError) -> AppError {
    AppError::BadInput(format!("支付通知无效：{e}"))
}

fn gateway_down(e: &PayError) -> AppError {
    if e.is_retryable() {
        AppError::Internal(format!("payment gateway: {e}"))
    } else {
        AppError::Conflict(format!("支付渠道拒绝了请求：{e}"))
    }
}

/// How long a payment the reconciliation job claimed is left to the instance that claimed it (its round).
pub const RECONCILE_LEASE_SECS: i64 = 60;

impl App {
    /// Adds real payment channels (Alipay, WeChat Pay) beside the sandbox, if any. Each is offered only if
    /// [`crate::AppConfig::payment_channels`] names it.
    pub fn with_payment_providers(mut self, providers: Vec<Arc<dyn PaymentProvider>>) -> App {
        let mut all = (*self.providers).clone();
        all.extend(providers);
        self.providers = Arc::new(all);
        self
    }

    fn provider(&self, channel: &str) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers
            .iter()
            .find(|p| p.channel().code() == channel)
    }

    /// 去付款: opens a payment on `channel` (one open payment per order and channel, reused while its amount
    /// holds) and returns it with where the applicant goes: the gateway's cashier page (支付宝), the platform's QR
    /// page (微信支付), or the sandbox cashier (demo).
    pub async fn start_payment(
        &self,
        who: &Who,
        id: i64,
        channel: &str,
    ) -> Result<(Payment, String), AppError> {
        let order = self.own_order(who, id).await?;
        if order.state != OrderState::PendingPayment {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，无需支付",
                order.state.label()
            )));
        }
        if order.invoice.is_none() {
            return Err(AppError::field("invoice", "请先确认发票信息"));
        }
        if channel == "bank"
            && self.cfg.bank_account.is_some()
            && self.cfg.payment_channels.iter().any(|c| c == channel)
        {
            let p = self.open_bank_transfer(order.id, order.total).await?;
            let url = format!("/orders/{}/payments/{}", order.id, p.id);
            return Ok((p, url));
        }
        let provider = match self.provider(channel) {
            Some(p) if self.cfg.payment_channels.iter().any(|c| c == channel) => p,
            _ => {
                return Err(AppError::BadInput(
                    if self.cfg.payment_channels.is_empty() {
                        "支付尚未开通，请稍后再来付款".into()
                    } else {
                        "不支持的支付方式".into()
                    },
                ));
            }
        };
        let mut p = self
            .store
            .open_payment(random_payment_id(), order.id, channel, order.total)
            .await?;
        let checkout = match &p.checkout {
            Some(c) => c.clone(),
            None => {
                let req = PayRequest {
                    out_trade_no: p.id.to_string(),
                    amount: p.amount,
                    subject: PAYMENT_SUBJECT.into(),
                    mode: if channel == "wechat" {
                        PayMode::Qr
                    } else {
                        PayMode::Page
                    },
                };
                let c = match provider.start(&req).await {
                    Ok(Checkout::Redirect(url)) => url,
                    Ok(Checkout::QrCode(text)) => format!("qr:{text}"),
                    Err(e) => {
                        tracing::warn!(channel, payment = p.id, error = %e, "payment not opened at the gateway");
                        return Err(gateway_down(&e));
                    }
                };
                self.store.set_payment_checkout(p.id, &c).await?;
                p.checkout = Some(c.clone());
                c
            }
        };
        let url = if checkout.starts_with("qr:") {
            format!("/orders/{}/payments/{}", order.id, p.id)
        } else {
            checkout
        };
        Ok((p, url))
    }

    /// The cashier of a payment at a real gateway (the QR page), for the owner of its order only.
    pub async fn payment_checkout(
        &self,
        who: &Who,
        order_id: i64,
        payment_id: i64,
    ) -> Result<PaymentCheckout, AppError> {
        let order = self.own_order(who, order_id).await?;
        let payment = self.store.payment(payment_id).await?;
        if payment.order_id != order.id || payment.channel == "sandbox" {
            return Err(AppError::NotFound);
        }
        let qr = payment
            .checkout
            .as_deref()
            .and_then(|c| c.strip_prefix("qr:"))
            .map(str::to_owned);
        Ok(PaymentCheckout {
            label: crate::channel_label(&payment.channel),
            bank: self.bank_transfer_of(&payment),
            payment,
            order_no: order.order_no,
            qr,
        })
    }

    /// The sandbox cashier's view of a payment, for the owner of its order only: the amount and the order
    /// number.
    pub async fn sandbox_payment(
        &self,
        who: &Who,
        payment_id: i64,
    ) -> Result<(Payment, String), AppError> {
        if self.sandbox.is_none() {
            return Err(AppError::NotFound);
        }
        let p = self.store.payment(payment_id).await?;
        if p.channel != "sandbox" {
            return Err(AppError::NotFound);
        }
        let o = self.own_order(who, p.order_id).await?;
        Ok((p, o.order_no))
    }

    /// The sandbox gateway takes the money and notifies the platform, signed, through the same path a real
    /// gateway's notification takes. Demo mode only, and only the order's owner pays.
    pub async fn sandbox_pay(&self, who: &Who, payment_id: i64) -> Result<Order, AppError> {
        let (p, _) = self.sandbox_payment(who, payment_id).await?;
        let gw = self.sandbox.as_ref().ok_or(AppError::NotFound)?;
        let txn = format!("SBX{}", self.store.next_id());
        let body = gw.notify_body(p.id, p.amount, &txn, &Timestamp(self.now()).beijing());
        self.payment_notified("sandbox", body.as_bytes(), &who.ip)
            .await
    }

    /// Payments whose money came after their order was cancelled (or paid twice): what finance must refund.
    /// Administrators only.
    pub async fn refunds_due(&self, who: &Who) -> Result<Vec<Payment>, AppError> {
        self.finance_only(who, "只有财务人员可以查看待退款记录")?;
        Ok(self.store.payments_due_refund().await?)
    }

    /// Refuses a caller who may not act for finance (财务 role or super-administrator).
    pub(crate) fn finance_only(&self, who: &Who, why: &str) -> Result<(), AppError> {
        if who.principal.may(sealdesk_domain::Role::Finance) {
            Ok(())
        } else {
            Err(AppError::Forbidden(why.into()))
        }
    }

    /// A gateway's payment notification without headers (Alipay and the sandbox sign the body alone).
    pub async fn payment_notified(
        &self,
        channel: &str,
        body: &[u8],
        ip: &str,
    ) -> Result<Order, AppError> {
        self.payment_notified_with(channel, &[], body, ip).await
    }

    /// A gateway's payment notification: headers (lower-case names) and the raw body as received. Only one
    /// signed by the channel's gateway for our app id moves anything; see [`App::record_trade`]. Refusals are
    /// logged with their reason.
    pub async fn payment_notified_with(
        &self,
        channel: &str,
        headers: &[(String, String)],
        body: &[u8],
        ip: &str,
    ) -> Result<Order, AppError> {
        let provider = self.provider(channel).ok_or(AppError::NotFound)?;
        let trade = provider
            .verify_notification(headers, body, self.now())
            .map_err(|e| {
                tracing::warn!(channel, ip, error = %e, "payment notification refused");
                refused(&e)
            })?;
        let who = Who {
            principal: Principal::Gateway(channel.into()),
            ip: ip.into(),
        };
        self.record_trade(channel, &trade, &who).await
    }

    /// What the gateway of `channel` expects as the answer to a notification; `None` for an unknown channel.
    pub fn notification_reply(&self, channel: &str, accepted: bool) -> Option<NotifyReply> {
        self.provider(channel)
            .map(|p| p.notification_reply(accepted))
    }

    /// Records what a gateway said about one of our payments. A trade that is not (yet) paid changes nothing; a
    /// paid one must name a payment of this channel and carry exactly its amount, which is the order's total.
    pub(crate) async fn record_trade(
        &self,
        channel: &str,
        trade: &Trade,
        who: &Who,
    ) -> Result<Order, AppError> {
        let refuse = |why: &str| {
            tracing::warn!(channel, out_trade_no = %trade.out_trade_no, gateway_txn = %trade.gateway_txn,
                amount_fen = trade.amount.0, ip = %who.ip, "payment notification refused: {why}");
            AppError::BadInput(format!("支付通知无效：{why}"))
        };
        let payment_id: i64 = trade
            .out_trade_no
            .parse()
            .map_err(|_| refuse("unknown out_trade_no"))?;
        let payment = match self.store.payment(payment_id).await {
            Ok(p) if p.channel == channel => p,
            Ok(_) | Err(sealdesk_store::StoreError::NotFound) => {
                refuse("unknown payment");
                return Err(AppError::NotFound);
            }
            Err(e) => return Err(e.into()),
        };
        if payment.amount != trade.amount {
            return Err(refuse("amount differs from the payment's"));
        }
        // A repeated notification of a recorded payment: nothing to do (and no transaction to wait for).
        if payment.gateway_txn.is_some() || trade.status != TradeStatus::Paid {
            if payment.state == "refunded" {
                tracing::warn!(
                    channel,
                    payment = payment.id,
                    "notification for a refunded payment: kept refunded"
                );
            }
            return Ok(self.store.order(payment.order_id).await?);
        }
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(payment.order_id).await?;
        if order.total != trade.amount {
            return Err(refuse("amount differs from the order's total"));
        }
        // Money that comes for an order that can no longer take it (cancelled meanwhile, or already paid
        // through another payment) is recorded and flagged for refund, never dropped.
        let refund_due = order.state != OrderState::PendingPayment;
        if !tx
            .mark_payment_paid(payment.id, &trade.gateway_txn, refund_due)
            .await?
        {
            return Ok(order);
        }
        let detail = serde_json::json!({"payment_id": payment.id.to_string(), "gateway_txn": trade.gateway_txn, "amount_fen": trade.amount.0, "channel": channel});
        if refund_due {
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(order.id),
                action: "payment_refund_due".into(),
                detail: detail.to_string(),
                ..Default::default()
            })
            .await?;
            tx.commit().await?;
            tracing::warn!(
                order = order.id,
                payment = payment.id,
                "payment for an order that cannot take it: flagged for refund"
            );
            return Ok(order);
        }
        self.apply(
            &mut tx,
            who,
            &mut order,
            Actor::PaymentGateway,
            &Event::PaymentConfirmed,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Reconciliation (a scheduled job): asks the gateways about payments opened between `max_age_secs` and
    /// `min_age_secs` ago that no notification has settled, and records those the gateway says were paid, exactly
    /// as their notification would have. Each payment is claimed for [`RECONCILE_LEASE_SECS`] first, so however
    /// many instances run the job, one asks about it, at most once in that time.
    pub async fn reconcile_payments(
        &self,
        min_age_secs: i64,
        max_age_secs: i64,
    ) -> Result<Reconciled, AppError> {
        let channels: Vec<String> = self
            .providers
            .iter()
            .map(|p| p.channel().code().to_owned())
            .filter(|c| c != "sandbox")
            .collect();
        let now = self.now();
        let unsettled = self
            .store
            .claim_unsettled_payments(
                &channels,
                &Timestamp(now - max_age_secs).rfc3339(),
                &Timestamp(now - min_age_secs).rfc3339(),
                now,
                RECONCILE_LEASE_SECS,
                200,
            )
            .await?;
        let mut r = Reconciled::default();
        for p in unsettled {
            let Some(provider) = self.provider(&p.channel) else {
                continue;
            };
            match provider.query(&p.id.to_string()).await {
                Ok(Some(trade)) if trade.status == TradeStatus::Paid => {
                    let who = Who {
                        principal: Principal::Gateway(p.channel.clone()),
                        ip: "reconciliation".into(),
                    };
                    match self.record_trade(&p.channel, &trade, &who).await {
                        Ok(_) => r.settled += 1,
                        Err(e) => {
                            tracing::warn!(payment = p.id, error = %e, "reconciliation could not record a payment");
                            r.failed += 1;
                        }
                    }
                }
                Ok(_) => r.open += 1,
                Err(e) => {
                    tracing::warn!(payment = p.id, channel = %p.channel, error = %e, "reconciliation query failed");
                    r.failed += 1;
                }
            }
        }
        Ok(r)
    }

    /// 退款: gives a payment flagged for refund back through the gateway that took it, and records the refund
    /// with its audit entry. Administrators only; a refunded payment is not refunded twice (the gateway sees the
    /// same refund number, and the payment row changes once).
    pub async fn refund_payment(&self, who: &Who, payment_id: i64) -> Result<Payment, AppError> {
        self.finance_only(who, "只有财务人员可以退款")?;
        let p = self.store.payment(payment_id).await?;
        if p.state != "paid" || !p.refund_due {
            return Err(AppError::Conflict("该笔款项无需退款".into()));
        }
        if p.channel == "bank" {
            return Err(AppError::Conflict(
                "对公转账的款项没有原路退款：请通过银行退回付款账户后登记退款流水号".into(),
            ));
        }
        let provider = self.provider(&p.channel).ok_or_else(|| {
            AppError::Conflict(format!("支付渠道「{}」未配置，无法原路退款", p.channel))
        })?;
        let req = RefundRequest {
            out_trade_no: p.id.to_string(),
            out_refund_no: format!("R{}", p.id),
            refund: p.amount,
            total: p.amount,
            reason: "订单已取消，原路退款".into(),
        };
        let result = provider.refund(&req).await.map_err(|e| {
            tracing::warn!(payment = p.id, error = %e, "refund failed at the gateway");
            gateway_down(&e)
        })?;
        let mut tx = self.store.begin().await?;
        if tx
            .mark_payment_refunded(p.id, &result.gateway_refund)
            .await?
        {
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(p.order_id),
                action: "payment_refunded".into(),
                detail: serde_json::json!({"payment_id": p.id.to_string(), "refund_txn": result.gateway_refund, "amount_fen": result.amount.0, "done": result.done}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        tx.commit().await?;
        Ok(self.store.payment(p.id).await?)
    }
}
