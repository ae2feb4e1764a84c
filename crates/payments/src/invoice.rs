//! The electronic invoice (电子发票): the tax split of a tax-inclusive price, the 20-digit 数电票 number, and the
//! built-in invoice provider that draws the invoice as an A4 PDF with the CJK font embedded (subset by krilla).
//!
//! The font is the artwork crate's vendored Noto Serif SC subset (GB2312 coverage, SIL OFL; see
//! `crates/artwork/fonts/README.md`), included from that folder rather than copied: names outside GB2312 would
//! show as blanks, which [`InvoiceDoc::uncovered`] reports before anything is issued.

use crate::BoxFuture;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use sealdesk_domain::Fen;
use std::sync::OnceLock;

static FONT_BYTES: &[u8] = include_bytes!("../../artwork/fonts/NotoSerifSC-Bold-GB2312.otf");

/// Splits a tax-inclusive price into 金额 (excluding tax, rounded half-up to the fen) and 税额 (the rest), so
/// that 金额 + 税额 is exactly the price paid.
pub fn split_tax(total: Fen, rate_percent: u32) -> (Fen, Fen) {
    let r = i128::from(rate_percent);
    let p = i128::from(total.0);
    // round(p * 100 / (100 + r)) half-up, in integers: floor((200p + 100 + r) / (2 (100 + r))).
    let excl = (200 * p + 100 + r).div_euclid(2 * (100 + r));
    let excl = i64::try_from(excl).unwrap_or(i64::MAX);
    (Fen(excl), Fen(total.0 - excl))
}

/// A 数电票 number: 2-digit year, 2-digit tax region, 1-digit issuing channel, 15-digit sequence (20 digits).
pub fn invoice_number(year: u32, region: u32, channel: u32, seq: u64) -> String {
    format!(
        "{:02}{:02}{}{:015}",
        year % 100,
        region % 100,
        channel % 10,
        seq % 1_000_000_000_000_000
    )
}

/// 普票 or 专票.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceType {
    /// 电子发票（普通发票）.
    General,
    /// 电子发票（增值税专用发票）.
    Special,
}

impl InvoiceType {
    /// The title on the invoice.
    pub fn title(self) -> &'static str {
        match self {
            InvoiceType::General => "电子发票（普通发票）",
            InvoiceType::Special => "电子发票（增值税专用发票）",
        }
    }
}

/// 购买方 or 销售方.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    /// 名称.
    pub name: String,
    /// 统一社会信用代码/纳税人识别号 (may be empty for a person).
    pub taxpayer_id: String,
    /// 地址、电话 (optional on 普票).
    pub address_phone: String,
    /// 开户行及账号 (optional on 普票).
    pub bank_account: String,
}

/// One line of goods or services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// 项目名称, `*税收分类简称*名称`.
    pub item: String,
    /// 单位.
    pub unit: String,
    /// 数量.
    pub quantity: u32,
    /// 金额 (excluding tax).
    pub amount: Fen,
    /// 税率, percent.
    pub rate_percent: u32,
    /// 税额.
    pub tax: Fen,
}

impl InvoiceLine {
    /// The 技术服务费 line for a tax-inclusive `total`, `quantity` units, at `rate_percent`.
    pub fn service_fee(total: Fen, quantity: u32, rate_percent: u32) -> InvoiceLine {
        let (amount, tax) = split_tax(total, rate_percent);
        InvoiceLine {
            item: "*信息技术服务*技术服务费".into(),
            unit: "次".into(),
            quantity: quantity.max(1),
            amount,
            rate_percent,
            tax,
        }
    }

    /// 单价 (excluding tax), as shown: 金额 / 数量 to the fen (金额 is what counts).
    pub fn unit_price(&self) -> Fen {
        let q = i64::from(self.quantity.max(1));
        Fen((self.amount.0 * 2 + q) / (2 * q))
    }
}

/// Everything printed on one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDoc {
    /// 普票 / 专票.
    pub kind: InvoiceType,
    /// 发票号码 (20 digits).
    pub number: String,
    /// 开票日期 (`2026年01月05日`).
    pub date: String,
    /// 购买方.
    pub buyer: Party,
    /// 销售方.
    pub seller: Party,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// 备注 (e.g. the order number).
    pub remark: String,
    /// 开票人.
    pub issuer: String,
}

impl InvoiceDoc {
    /// 合计金额 (excluding tax).
    pub fn amount(&self) -> Fen {
        Fen(self.lines.iter().map(|l| l.amount.0).sum())
    }
    /// 合计税额.
    pub fn tax(&self) -> Fen {
        Fen(self.lines.iter().map(|l| l.tax.0).sum())
    }
    /// 价税合计.
    pub fn total(&self) -> Fen {
        Fen(self.amount().0 + self.tax().0)
    }

    /// Characters of the document the embedded font cannot draw (they would print as blanks).
    pub fn uncovered(&self) -> Vec<char> {
        let Ok(face) = ttf_parser::Face::parse(FONT_BYTES, 0) else {
            return Vec::new();
        };
        let mut all: Vec<char> = self
            .texts()
            .iter()
            .flat_map(|s| s.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
            .filter(|&c| face.glyph_index(c).is_none())
            .collect()
    }

    fn texts(&self) -> Vec<String> {
        let mut t = vec![
            self.buyer.name.clone(),
            self.buyer.taxpayer_id.clone(),
            self.buyer.address_phone.clone(),
            self.buyer.bank_account.clone(),
            self.seller.name.clone(),
            self.seller.taxpayer_id.clone(),
            self.seller.address_phone.clone(),
            self.seller.bank_account.clone(),
            self.remark.clone(),
            self.issuer.clone(),
        ];
        t.extend(self.lines.iter().map(|l| l.item.clone() + &l.unit));
        t
    }
}

fn font() -> Option<Font> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    FONT.get_or_init(|| Font::new(FONT_BYTES.into(), 0)).clone()
}

/// Why no PDF came out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// The embedded font could not be read (a broken build).
    #[error("embedded font unreadable")]
    Font,
    /// The document has characters the font cannot draw.
    #[error("characters outside the invoice font: {0}")]
    Uncovered(String),
    /// krilla refused to write the PDF.
    #[error("pdf: {0}")]
    Pdf(String),
    /// The document is not complete.
    #[error("incomplete invoice: {0}")]
    Incomplete(&'static str),
}

/// Yuan with two decimals, as amounts print on invoices.
fn money(f: Fen) -> String {
    f.yuan_string()
}

/// The advance of `s` at `size` in the embedded font, to centre and right-align.
fn width(s: &str, size: f32) -> f32 {
    static FACE: OnceLock<Option<ttf_parser::Face<'static>>> = OnceLock::new();
    let Some(face) = FACE.get_or_init(|| ttf_parser::Face::parse(FONT_BYTES, 0).ok()) else {
        return s.chars().count() as f32 * size;
    };
    let em = f32::from(face.units_per_em());
    s.chars()
        .map(|c| {
            face.glyph_index(c)
                .and_then(|g| face.glyph_hor_advance(g))
                .map_or(em, f32::from)
        })
        .sum::<f32>()
        * size
        / em
}

struct Pen<'a, 'b> {
    s: &'a mut krilla::surface::Surface<'b>,
    font: Font,
}

const BROWN: (u8, u8, u8) = (139, 69, 19);

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, t: &str, color: (u8, u8, u8)) {
        if t.is_empty() {
            return;
        }
        self.s.set_stroke(None);
        self.s.set_fill(Some(Fill {
            paint: rgb::Color::new(color.0, color.1, color.2).into(),
            ..Fill::default()
        }));
        self.s.draw_text(
            Point::from_xy(x, y),
            self.font.clone(),
            size,
            t,
            false,
            TextDirection::Auto,
        );
    }
    fn right(&mut self, x: f32, y: f32, size: f32, t: &str) {
        self.text(x - width(t, size), y, size, t, (0, 0, 0));
    }
    fn centre(&mut self, x: f32, y: f32, size: f32, t: &str, color: (u8, u8, u8)) {
        self.text(x - width(t, size) / 2.0, y, size, t, color);
    }
    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(x1, y1);
        pb.line_to(x2, y2);
        if let Some(p) = pb.finish() {
            self.s.set_fill(None);
            self.s.set_stroke(Some(Stroke {
                paint: rgb::Color::new(BROWN.0, BROWN.1, BROWN.2).into(),
                width: 0.8,
                ..Stroke::default()
            }));
            self.s.draw_path(&p);
        }
    }
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.line(x, y, x + w, y);
        self.line(x + w, y, x + w, y + h);
        self.line(x + w, y + h, x, y + h);
        self.line(x, y + h, x, y);
    }
}

/// Draws `doc` as a one-page A4 PDF.
pub fn render_pdf(doc: &InvoiceDoc) -> Result<Vec<u8>, InvoiceError> {
    if doc.lines.is_empty() {
        return Err(InvoiceError::Incomplete("no lines"));
    }
    if doc.buyer.name.trim().is_empty() || doc.seller.name.trim().is_empty() {
        return Err(InvoiceError::Incomplete("buyer or seller name"));
    }
    let missing = doc.uncovered();
    if !missing.is_empty() {
        return Err(InvoiceError::Uncovered(missing.into_iter().collect()));
    }
    let font = font().ok_or(InvoiceError::Font)?;
    let mut document = Document::new();
    let settings =
        PageSettings::from_wh(595.0, 842.0).ok_or(InvoiceError::Pdf("page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    {
        let mut p = Pen {
            s: &mut surface,
            font,
        };
        let (left, right) = (40.0f32, 555.0f32);
        p.centre(297.5, 70.0, 20.0, doc.kind.title(), BROWN);
        p.line(200.0, 80.0, 395.0, 80.0);
        p.line(200.0, 83.0, 395.0, 83.0);
        p.text(
            405.0,
            60.0,
            8.0,
            &format!("发票号码：{}", doc.number),
            (0, 0, 0),
        );
        p.text(
            405.0,
            76.0,
            8.0,
            &format!("开票日期：{}", doc.date),
            (0, 0, 0),
        );

        // 购买方 | 销售方
        let top = 100.0;
        p.rect(left, top, right - left, 92.0);
        p.line(297.5, top, 297.5, top + 92.0);
        for (x, title, party) in [
            (left, "购买方信息", &doc.buyer),
            (297.5, "销售方信息", &doc.seller),
        ] {
            p.text(x + 8.0, top + 16.0, 9.5, title, BROWN);
            let rows = [
                ("名称：", party.name.as_str()),
                (
                    "统一社会信用代码/纳税人识别号：",
                    party.taxpayer_id.as_str(),
                ),
                ("地址、电话：", party.address_phone.as_str()),
                ("开户行及账号：", party.bank_account.as_str()),
            ];
            for (i, (label, value)) in rows.iter().enumerate() {
                let y = top + 34.0 + 15.0 * i as f32;
                p.text(x + 8.0, y, 8.0, label, BROWN);
                p.text(x + 8.0 + width(label, 8.0), y, 8.0, value, (0, 0, 0));
            }
        }

        // The lines table.
        let t = top + 92.0;
        let cols = [left, 195.0, 255.0, 290.0, 325.0, 385.0, 450.0, 495.0, right];
        let heads = [
            "项目名称",
            "规格型号",
            "单位",
            "数量",
            "单价",
            "金额",
            "税率/征收率",
            "税额",
        ];
        let h = 22.0 + 18.0 * doc.lines.len() as f32 + 20.0;
        p.rect(left, t, right - left, h);
        for (i, head) in heads.iter().enumerate() {
            p.centre((cols[i] + cols[i + 1]) / 2.0, t + 15.0, 8.5, head, BROWN);
        }
        for (n, l) in doc.lines.iter().enumerate() {
            let y = t + 36.0 + 18.0 * n as f32;
            p.text(cols[0] + 6.0, y, 8.5, &l.item, (0, 0, 0));
            p.centre((cols[2] + cols[3]) / 2.0, y, 8.5, &l.unit, (0, 0, 0));
            p.right(cols[4] - 6.0, y, 8.5, &l.quantity.to_string());
            p.right(cols[5] - 6.0, y, 8.5, &money(l.unit_price()));
            p.right(cols[6] - 6.0, y, 8.5, &money(l.amount));
            p.centre(
                (cols[6] + cols[7]) / 2.0,
                y,
                8.5,
                &format!("{}%", l.rate_percent),
                (0, 0, 0),
            );
            p.right(cols[8] - 6.0, y, 8.5, &money(l.tax));
        }
        let ty = t + h - 7.0;
        p.centre((cols[0] + cols[1]) / 2.0, ty, 9.0, "合　　计", BROWN);
        p.right(
            cols[6] - 6.0,
            ty,
            8.5,
            &format!("￥{}", money(doc.amount())),
        );
        p.right(cols[8] - 6.0, ty, 8.5, &format!("￥{}", money(doc.tax())));

        // 价税合计
        let s = t + h;
        p.rect(left, s, right - left, 26.0);
        p.line(cols[1], s, cols[1], s + 26.0);
        p.centre(
            (cols[0] + cols[1]) / 2.0,
            s + 17.0,
            9.0,
            "价税合计（大写）",
            BROWN,
        );
        p.text(
            cols[1] + 10.0,
            s + 17.0,
            10.0,
            &doc.total().capitals(),
            (0, 0, 0),
        );
        p.text(410.0, s + 17.0, 9.0, "（小写）", BROWN);
        p.text(
            455.0,
            s + 17.0,
            10.0,
            &format!("￥{}", money(doc.total())),
            (0, 0, 0),
        );

        // 备注
        let r = s + 26.0;
        p.rect(left, r, right - left, 50.0);
        p.line(cols[1] - 120.0, r, cols[1] - 120.0, r + 50.0);
        p.centre(left + 17.5, r + 29.0, 9.0, "备注", BROWN);
        p.text(cols[1] - 110.0, r + 29.0, 8.5, &doc.remark, (0, 0, 0));
        p.text(
            left,
            r + 72.0,
            9.0,
            &format!("开票人：{}", doc.issuer),
            BROWN,
        );
    }
    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| InvoiceError::Pdf(format!("{e:?}")))
}

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    /// 发票号码.
    pub number: String,
    /// The PDF.
    pub pdf: Vec<u8>,
}

/// Who issues invoices: the built-in PDF below, or a tax-bureau / SaaS connection later.
pub trait InvoiceProvider: Send + Sync {
    /// A short name (`builtin`).
    fn name(&self) -> &'static str;
    /// Issues `doc`.
    fn issue<'a>(
        &'a self,
        doc: &'a InvoiceDoc,
    ) -> BoxFuture<'a, Result<IssuedInvoice, InvoiceError>>;
}

/// The built-in provider: renders the PDF on a blocking thread (layout and font subsetting are CPU work).
pub struct BuiltinPdf;

impl InvoiceProvider for BuiltinPdf {
    fn name(&self) -> &'static str {
        "builtin"
    }
    fn issue<'a>(
        &'a self,
        doc: &'a InvoiceDoc,
    ) -> BoxFuture<'a, Result<IssuedInvoice, InvoiceError>> {
        let doc = doc.clone();
        Box::pin(async move {
            let number = doc.number.clone();
            let pdf = tokio::task::spawn_blocking(move || render_pdf(&doc))
                .await
                .map_err(|e| InvoiceError::Pdf(e.to_string()))??;
            Ok(IssuedInvoice { number, pdf })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of standards §8.1: tax-inclusive price → 金额, 税额 at 6 %.
    #[test]
    fn tax_split_matches_the_reference_table() {
        for (p, excl, tax) in [
            (8_000, 7_547, 453),
            (31_800, 30_000, 1_800),
            (100_000, 94_340, 5_660),
            (9_999, 9_433, 566),
        ] {
            assert_eq!(split_tax(Fen(p), 6), (Fen(excl), Fen(tax)), "{p}");
        }
        assert_eq!(split_tax(Fen(10_100), 1), (Fen(10_000), Fen(100)));
    }

    #[test]
    fn invoice_numbers_have_twenty_digits() {
        assert_eq!(invoice_number(2026, 36, 1, 42), "26361000000000000042");
        assert_eq!(invoice_number(2026, 36, 1, 42).len(), 20);
    }
}
