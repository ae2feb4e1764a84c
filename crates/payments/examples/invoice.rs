//! Writes a sample invoice PDF: `cargo run -p sealdesk-payments --example invoice -- out.pdf`.

use sealdesk_domain::Fen;
use sealdesk_payments::invoice::{
    InvoiceDoc, InvoiceLine, InvoiceType, Party, invoice_number, render_pdf,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "invoice.pdf".into());
    let doc = InvoiceDoc {
        kind: InvoiceType::General,
        number: invoice_number(2026, 36, 1, 1),
        date: "2026年01月05日".into(),
        buyer: Party {
            name: "北筑设计研究院有限公司".into(),
            taxpayer_id: "91110108551385082Q".into(),
            ..Party::default()
        },
        seller: Party {
            name: "金格科技股份有限公司".into(),
            taxpayer_id: "911100007000000001".into(),
            address_phone: "南昌市红谷滩区 0791-82221588".into(),
            bank_account: "中国银行南昌分行 1234567890".into(),
        },
        lines: vec![InvoiceLine::service_fee(Fen(16_000), 1, 6)],
        remark: "订单编号 KG-testCSQY-987305922600767488".into(),
        issuer: "系统".into(),
    };
    std::fs::write(&out, render_pdf(&doc)?)?;
    println!("{out}");
    Ok(())
}
