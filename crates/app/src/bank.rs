//! 对公转账: the applicant transfers from the company's account with the payment's reference in the 附言; finance
//! imports the platform account's statement and each credit that names an open bank-transfer payment with exactly
//! its amount is recorded through the same exactly-once path as a gateway's notification ([`App::record_trade`]).
//! No slip upload: a picture of a slip proves nothing, the statement does. Importing a statement twice, or two
//! statements that overlap, records each credit once (the bank's serial is the payment's transaction number).

use sealdesk_domain::OrderState;
use sealdesk_payments::bank::{Statement, bank_reference, parse_reference, read_statement};
use sealdesk_payments::{Channel, Trade, TradeStatus};
use sealdesk_store::{AuditDraft, Payment};

use crate::orders::random_payment_id;
use crate::{App, AppError, Who};

/// The platform's account that applicants transfer to, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// 收款单位 (account name).
    pub payee: String,
    /// 开户银行.
    pub bank: String,
    /// 银行账号.
    pub account: String,
}

/// What the applicant needs to make the transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankTransfer {
    /// The account to transfer to.
    pub account: BankAccount,
    /// The reference to write in the 附言 (`SD…`).
    pub reference: String,
}

/// A statement line that paid nothing, and why (Chinese, for finance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementIssue {
    /// 1-based line number in the file.
    pub line: usize,
    /// The bank's serial, if the line had one.
    pub serial: String,
    /// Why.
    pub reason: String,
}

/// What importing a statement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementReport {
    /// Lines that paid an order now: (line, order number).
    pub matched: Vec<(usize, String)>,
    /// Lines recorded by an earlier import.
    pub already: Vec<usize>,
    /// Credit lines that could not be matched or that need a person (refund, wrong amount, …).
    pub issues: Vec<StatementIssue>,
}

/// The checkout text of a bank-transfer payment: its reference.
const CHECKOUT_PREFIX: &str = "bank:";

impl App {
    /// Opens (or reuses) the bank-transfer payment of an order that is waiting for payment; the caller has checked
    /// the order and the channel.
    pub(crate) async fn open_bank_transfer(
        &self,
        order_id: i64,
        total: sealdesk_domain::Fen,
    ) -> Result<Payment, AppError> {
        let mut p = self
            .store
            .open_payment(random_payment_id(), order_id, Channel::Bank.code(), total)
            .await?;
        if p.checkout.is_none() {
            let c = format!("{CHECKOUT_PREFIX}{}", bank_reference(p.id));
            self.store.set_payment_checkout(p.id, &c).await?;
            p.checkout = Some(c);
        }
        Ok(p)
    }

    /// The transfer details of a bank-transfer payment.
    pub(crate) fn bank_transfer_of(&self, p: &Payment) -> Option<BankTransfer> {
        let reference = p.checkout.as_deref()?.strip_prefix(CHECKOUT_PREFIX)?;
        Some(BankTransfer {
            account: self.cfg.bank_account.clone()?,
            reference: reference.to_owned(),
        })
    }

    /// Imports the platform account's bank statement (CSV, see [`read_statement`]) and records every credit whose
    /// reference names an open bank-transfer payment with exactly its amount. Administrators only; the import and
    /// what it did are in the audit log.
    pub async fn import_bank_statement(
        &self,
        who: &Who,
        csv: &[u8],
    ) -> Result<StatementReport, AppError> {
        self.finance_only(who, "只有财务人员可以导入银行流水")?;
        let Statement {
            credits,
            unreadable,
        } = read_statement(csv).map_err(|e| AppError::BadInput(e.to_string()))?;
        let mut report = StatementReport {
            issues: unreadable
                .into_iter()
                .map(|u| StatementIssue {
                    line: u.line,
                    serial: String::new(),
                    reason: u.reason,
                })
                .collect(),
            ..StatementReport::default()
        };
        for c in credits {
            let issue = |reason: String| StatementIssue {
                line: c.line,
                serial: c.serial.clone(),
                reason,
            };
            let Some(payment_id) = parse_reference(&c.memo) else {
                report
                    .issues
                    .push(issue("附言中没有有效的转账参考号".into()));
                continue;
            };
            let payment = match self.store.payment(payment_id).await {
                Ok(p) if p.channel == Channel::Bank.code() => p,
                Ok(_) | Err(sealdesk_store::StoreError::NotFound) => {
                    report
                        .issues
                        .push(issue("参考号不对应任何对公转账订单".into()));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match payment.gateway_txn.as_deref() {
                Some(s) if s == c.serial => {
                    report.already.push(c.line);
                    continue;
                }
                Some(s) => {
                    report.issues.push(issue(format!(
                        "该参考号已由流水 {s} 付清，本笔为重复转账，请核对后退回付款账户"
                    )));
                    continue;
                }
                None => {}
            }
            if payment.amount != c.amount {
                report.issues.push(issue(format!(
                    "到账金额 {} 元与应付金额 {} 元不符，未入账",
                    c.amount.yuan_string(),
                    payment.amount.yuan_string()
                )));
                continue;
            }
            let trade = Trade {
                channel: Channel::Bank,
                out_trade_no: payment.id.to_string(),
                gateway_txn: c.serial.clone(),
                amount: c.amount,
                app_id: String::new(),
                status: TradeStatus::Paid,
            };
            let order = self.record_trade(Channel::Bank.code(), &trade, who).await?;
            let recorded = self.store.payment(payment.id).await?;
            if recorded.refund_due {
                report.issues.push(issue(format!(
                    "订单 {} 状态为「{}」，款项已入账并列入待退款",
                    order.order_no,
                    order.state.label()
                )));
            } else if order.state != OrderState::PendingPayment {
                report.matched.push((c.line, order.order_no));
            }
        }
        let mut tx = self.store.begin().await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            action: "bank_statement_imported".into(),
            detail: serde_json::json!({
                "matched": report.matched.len(),
                "already": report.already.len(),
                "issues": report.issues.len(),
            })
            .to_string(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// 退款 of a bank transfer: finance has sent the money back to the paying account through the bank and
    /// records the bank's serial of that outgoing transfer. Administrators only; once per payment.
    pub async fn record_bank_refund(
        &self,
        who: &Who,
        payment_id: i64,
        bank_serial: &str,
    ) -> Result<Payment, AppError> {
        self.finance_only(who, "只有财务人员可以退款")?;
        let bank_serial = bank_serial.trim();
        if bank_serial.is_empty() || bank_serial.len() > 64 {
            return Err(AppError::field(
                "bank_serial",
                "请填写退款转账的银行流水号（不超过 64 个字符）",
            ));
        }
        let p = self.store.payment(payment_id).await?;
        if p.channel != Channel::Bank.code() {
            return Err(AppError::Conflict(
                "该笔款项不是对公转账，请原路退款".into(),
            ));
        }
        if p.state != "paid" || !p.refund_due {
            return Err(AppError::Conflict("该笔款项无需退款".into()));
        }
        let mut tx = self.store.begin().await?;
        if tx.mark_payment_refunded(p.id, bank_serial).await? {
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(p.order_id),
                action: "payment_refunded".into(),
                detail: serde_json::json!({"payment_id": p.id.to_string(), "refund_txn": bank_serial, "amount_fen": p.amount.0, "channel": "bank"}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        tx.commit().await?;
        Ok(self.store.payment(p.id).await?)
    }
}
