//! 财务: the daily reconciliation report (the day's money by channel against the invoices issued), invoices voided
//! and re-issued (作废重开) with corrected buyer details, and the invoice e-mail queued with the invoice.

use sealdesk_domain::{Fen, InvoiceInfo, Order, Timestamp};
use sealdesk_store::{AuditDraft, Invoice, MailDraft, Payment, StoreTx};

use crate::{App, AppError, Who};

/// The day's figures of one payment channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelDay {
    /// `alipay`, `wechat`, `bank`, `sandbox`.
    pub channel: String,
    /// Its name on pages.
    pub label: &'static str,
    /// Payments received that day.
    pub paid_count: u32,
    /// Their sum.
    pub paid: Fen,
    /// Refunds made that day.
    pub refunded_count: u32,
    /// Their sum.
    pub refunded: Fen,
}

/// 对账日报: one Beijing day of money and invoices, for finance.
#[derive(Debug, Clone, Default)]
pub struct FinanceDay {
    /// `YYYY-MM-DD`, Beijing time.
    pub date: String,
    /// Per channel, in the order channels are offered, then any others.
    pub channels: Vec<ChannelDay>,
    /// Every payment paid or refunded that day, with its order number.
    pub payments: Vec<(Payment, String)>,
    /// Every invoice issued or voided that day, with its order number.
    pub invoices: Vec<(Invoice, String)>,
    /// Received minus refunded that day.
    pub net: Fen,
    /// Sum of the invoices issued that day and still current.
    pub invoiced: Fen,
    /// Money received that day for orders that could not take it and not refunded yet.
    pub refund_due: Fen,
}

/// The total an invoice's body states.
fn invoice_total(i: &Invoice) -> Fen {
    serde_json::from_str::<serde_json::Value>(&i.body)
        .ok()
        .and_then(|b| b["total_fen"].as_i64())
        .map(Fen)
        .unwrap_or(Fen(0))
}

/// Whether `at` (RFC 3339) falls in `[from, to)`.
fn within(at: &Option<String>, from: &str, to: &str) -> bool {
    at.as_deref().is_some_and(|t| t >= from && t < to)
}

/// A void reason finance must give, trimmed; at most 200 characters.
fn void_reason(reason: &str) -> Result<String, AppError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(AppError::field("reason", "请填写作废原因"));
    }
    if r.chars().count() > 200 {
        return Err(AppError::field("reason", "作废原因不能超过 200 个字"));
    }
    Ok(r.to_owned())
}

impl App {
    /// 对账日报 for the Beijing day `date` (`YYYY-MM-DD`). Administrators only.
    pub async fn finance_day(&self, who: &Who, date: &str) -> Result<FinanceDay, AppError> {
        self.finance_only(who, "只有财务人员可以查看对账日报")?;
        let start = Timestamp::beijing_midnight(date)
            .ok_or_else(|| AppError::BadInput(format!("日期应为 YYYY-MM-DD：{date}")))?;
        let (from, to) = (start.rfc3339(), Timestamp(start.0 + 86_400).rfc3339());
        let payments = self.store.payments_moved_between(&from, &to).await?;
        let invoices = self.store.invoices_between(&from, &to).await?;
        let mut day = FinanceDay {
            date: start.beijing_date(),
            channels: self
                .cfg
                .payment_channels
                .iter()
                .map(|c| ChannelDay {
                    channel: c.clone(),
                    label: crate::channel_label(c),
                    ..ChannelDay::default()
                })
                .collect(),
            ..FinanceDay::default()
        };
        for (p, _) in &payments {
            let i = match day.channels.iter().position(|c| c.channel == p.channel) {
                Some(i) => i,
                None => {
                    day.channels.push(ChannelDay {
                        channel: p.channel.clone(),
                        label: crate::channel_label(&p.channel),
                        ..ChannelDay::default()
                    });
                    day.channels.len() - 1
                }
            };
            let c = &mut day.channels[i];
            if within(&p.paid_at, &from, &to) {
                c.paid_count += 1;
                c.paid = Fen(c.paid.0 + p.amount.0);
                day.net = Fen(day.net.0 + p.amount.0);
                if p.refund_due {
                    day.refund_due = Fen(day.refund_due.0 + p.amount.0);
                }
            }
            if within(&p.refunded_at, &from, &to) {
                c.refunded_count += 1;
                c.refunded = Fen(c.refunded.0 + p.amount.0);
                day.net = Fen(day.net.0 - p.amount.0);
            }
        }
        day.invoiced = Fen(invoices
            .iter()
            .filter(|(i, _)| i.voided_at.is_none() && i.created_at.as_str() >= from.as_str())
            .map(|(i, _)| invoice_total(i).0)
            .sum());
        day.payments = payments;
        day.invoices = invoices;
        Ok(day)
    }

    /// Every invoice of an order, current and voided, for whoever may see the order.
    pub async fn invoices_of(&self, who: &Who, order_id: i64) -> Result<Vec<Invoice>, AppError> {
        self.visible_order(who, order_id).await?;
        Ok(self.store.invoices_of(order_id).await?)
    }

    /// 作废重开: voids the order's current invoice with a reason and issues one in its place with the buyer details
    /// given (corrected title, taxpayer number, e-mail…), same lines and total, a new number and today's date,
    /// e-mailed when it has an address. Administrators only; one transaction, so an order is never left without
    /// its invoice, and a colleague who re-issued first makes this one a conflict.
    pub async fn reissue_invoice(
        &self,
        who: &Who,
        order_id: i64,
        invoice_id: i64,
        reason: &str,
        buyer: &InvoiceInfo,
    ) -> Result<Invoice, AppError> {
        self.finance_only(who, "只有财务人员可以作废和重开发票")?;
        let reason = void_reason(reason)?;
        let buyer = buyer.validate().map_err(AppError::Invalid)?;
        let order = self.visible_order(who, order_id).await?;
        let old = self.store.invoice_by_id(invoice_id).await?;
        if old.order_id != order.id {
            return Err(AppError::NotFound);
        }
        let mut body: serde_json::Value = serde_json::from_str(&old.body)
            .map_err(|e| AppError::Internal(format!("invoice body: {e}")))?;
        let id = self.store.next_id();
        let date = Timestamp(self.now());
        let number = format!(
            "{}{:012}",
            date.beijing_yyyymmdd(),
            id.rem_euclid(1_000_000_000_000)
        );
        body["number"] = number.clone().into();
        body["date"] = date.beijing_date().into();
        body["buyer"] = buyer_json(&buyer);
        body["replaces"] = old.number.clone().into();
        let new = Invoice {
            id,
            order_id: order.id,
            number,
            body: body.to_string(),
            created_at: self.now_text(),
            replaces: Some(old.id),
            ..Invoice::default()
        };
        let mut tx = self.store.begin().await?;
        if !tx.void_invoice(old.id, &reason, &self.now_text()).await? {
            return Err(AppError::Conflict(
                "该发票已被作废（可能已有同事重开），请刷新页面后查看当前发票".into(),
            ));
        }
        tx.insert_invoice(&new).await?;
        self.queue_invoice_mail(&mut tx, &order, &new, &buyer.email)
            .await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: "invoice_reissued".into(),
            detail:
                serde_json::json!({"voided": old.number, "reason": reason, "issued": new.number})
                    .to_string(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Queues the invoice e-mail in the transaction that issues the invoice, when the buyer gave an address.
    pub(crate) async fn queue_invoice_mail(
        &self,
        tx: &mut StoreTx,
        order: &Order,
        invoice: &Invoice,
        email: &str,
    ) -> Result<(), AppError> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(());
        }
        let m = MailDraft {
            to_addr: email.to_owned(),
            subject: format!("电子发票 {}（订单 {}）", invoice.number, order.order_no),
            body: format!(
                "您好：\n\n您在{}办理的订单 {} 已开具电子发票，发票号码 {}，PDF 文件见附件。\n也可登录平台在订单页面下载：{}/orders/{}\n\n此邮件由系统自动发送，请勿回复。\n",
                self.cfg.platform_name,
                order.order_no,
                invoice.number,
                self.cfg.public_url.trim_end_matches('/'),
                order.id
            ),
            invoice_id: Some(invoice.id),
            order_id: Some(order.id),
        };
        tx.queue_mail(self.store.next_id(), &m).await?;
        Ok(())
    }
}

/// The buyer block an issued invoice's body keeps: the details as confirmed, with the 发票类型 as its label (as
/// the first invoices stored it) and the 发票种类 as its code.
pub(crate) fn buyer_json(b: &InvoiceInfo) -> serde_json::Value {
    serde_json::json!({
        "kind": b.kind.label(), "form": b.form, "title": b.title, "taxpayer_id": b.taxpayer_id,
        "mobile": b.mobile, "email": b.email, "address": b.address, "phone": b.phone, "bank": b.bank,
        "account": b.account,
    })
}

/// The buyer details of an issued invoice's body (see [`buyer_json`]); an invoice stored before 专票 and the
/// optional fields existed reads as a 普票 without them.
pub fn invoice_buyer(body: &str) -> InvoiceInfo {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let b = &v["buyer"];
    let text = |k: &str| b[k].as_str().unwrap_or("").to_owned();
    let kind = [
        sealdesk_domain::InvoiceKind::Enterprise,
        sealdesk_domain::InvoiceKind::Institution,
        sealdesk_domain::InvoiceKind::Personal,
    ]
    .into_iter()
    .find(|k| k.label() == b["kind"].as_str().unwrap_or(""))
    .unwrap_or_default();
    InvoiceInfo {
        kind,
        form: serde_json::from_value(b["form"].clone()).unwrap_or_default(),
        title: text("title"),
        taxpayer_id: text("taxpayer_id"),
        mobile: text("mobile"),
        email: text("email"),
        address: text("address"),
        phone: text("phone"),
        bank: text("bank"),
        account: text("account"),
    }
}
