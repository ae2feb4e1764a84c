//! The electronic invoice as a PDF (with the CJK font embedded), made from the invoice issued when the order was
//! completed, through the invoice provider (the built-in renderer here; a tax-bureau connection later).

use sealdesk_domain::{Fen, InvoiceForm};
use sealdesk_payments::invoice::{
    BuiltinPdf, InvoiceDoc, InvoiceLine, InvoiceProvider, InvoiceType, Party,
};

use crate::{App, AppError, Who};

/// 增值税 on 技术服务费 (现代服务业), percent.
const TAX_RATE_PERCENT: u32 = 6;

impl App {
    /// The PDF of an order's electronic invoice, and its number, for whoever may see the order. Rendering is CPU
    /// work: it takes one of the image-work places, like decoding a scan.
    pub async fn invoice_pdf(
        &self,
        who: &Who,
        order_id: i64,
    ) -> Result<(String, Vec<u8>), AppError> {
        let view = self.order_view(who, order_id).await?;
        let issued = view.invoice.ok_or(AppError::NotFound)?;
        self.render_invoice(&issued, view.order.total).await
    }

    /// Draws an issued invoice (current or voided) as its PDF; `fallback_total` when the body lacks a total.
    pub(crate) async fn render_invoice(
        &self,
        issued: &sealdesk_store::Invoice,
        fallback_total: Fen,
    ) -> Result<(String, Vec<u8>), AppError> {
        let body: serde_json::Value = serde_json::from_str(&issued.body)
            .map_err(|e| AppError::Internal(format!("invoice body: {e}")))?;
        let text = |p: &str| {
            body.pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let total = Fen(body["total_fen"].as_i64().unwrap_or(fallback_total.0));
        // `2026-01-05` → `2026年01月05日`, as invoices print the date.
        let date = text("/date");
        let date = match (date.get(..4), date.get(5..7), date.get(8..10)) {
            (Some(y), Some(m), Some(d)) => format!("{y}年{m}月{d}日"),
            _ => date,
        };
        let buyer = crate::finance::invoice_buyer(&issued.body);
        let seller = &self.cfg.invoice_seller;
        let doc = InvoiceDoc {
            kind: match buyer.form {
                InvoiceForm::Ordinary => InvoiceType::General,
                InvoiceForm::Special => InvoiceType::Special,
            },
            number: issued.number.clone(),
            date,
            buyer: Party {
                address_phone: buyer.address_phone(),
                bank_account: buyer.bank_account(),
                name: buyer.title,
                taxpayer_id: buyer.taxpayer_id,
            },
            seller: Party {
                name: if seller.name.is_empty() {
                    self.cfg.platform_name.clone()
                } else {
                    seller.name.clone()
                },
                taxpayer_id: seller.taxpayer_id.clone(),
                address_phone: seller.address_phone.clone(),
                bank_account: seller.bank_account.clone(),
            },
            lines: vec![InvoiceLine::service_fee(total, 1, TAX_RATE_PERCENT)],
            remark: format!("订单编号 {}", text("/order_no")),
            issuer: "系统".into(),
        };
        let _place = self
            .image_work
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Internal("image work closed".into()))?;
        let pdf = BuiltinPdf
            .issue(&doc)
            .await
            .map_err(|e| AppError::Internal(format!("invoice pdf: {e}")))?;
        Ok((pdf.number, pdf.pdf))
    }
}
