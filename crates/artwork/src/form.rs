//! The per-order 印模采集表 (impression form): one geometry that both draws the form as a PDF and
//! reads a scan or phone photo of it back, box by box.
//!
//! The server never trusts where a stamp *seems* to be for: it recomputes where each box is from the
//! order alone ([`layout`]), finds the four corner marks on the capture (on a photo with a mark
//! covered or cut off, the sheet's edges instead), maps the capture back onto
//! the page (a homography, so a tilted scan and a phone photo in perspective both come out flat),
//! reads the order number from the QR code printed on the page, and takes the impression of seal
//! *i* from box *i* only. An empty box, a box with two stamps and a stamp outside every box are
//! reported, never guessed at. A capture without marks or QR code falls back to [`crate::extract`]
//! on the whole page, without any box assignment (on a photo, still measured on the sheet its
//! edges give).
//!
//! Page coordinates are millimetres from the top-left corner of an A4 sheet, y downwards.

use crate::decode::{Page, decode_page};
use crate::extract::{ExtractOptions, Impression, SealInk, find as find_found, finish_found};
use crate::{Error, extract};

/// A4 width, mm.
pub const PAGE_W_MM: f32 = 210.0;
/// A4 height, mm.
pub const PAGE_H_MM: f32 = 297.0;
/// Side of a corner mark (a solid black square), mm.
pub const MARK_MM: f32 = 8.0;
/// Centres of the four corner marks: top left, top right, bottom right, bottom left.
pub const MARK_CENTRES: [(f32, f32); 4] =
    [(12.0, 12.0), (198.0, 12.0), (198.0, 285.0), (12.0, 285.0)];
/// Where the QR code of the order number is: left, top, side, mm.
pub const QR_MM: (f32, f32, f32) = (166.0, 20.0, 26.0);
/// The space a box's frame leaves around the seal's true size on each side, mm.
pub const FRAME_MARGIN_MM: f32 = 4.0;
/// How far outside its frame a stamp's centre may lie and still count for the box, mm (a stamp
/// pressed a little off the frame is still meant for it).
const CENTRE_SLACK_MM: f32 = 3.0;
/// The area the boxes flow in: left, top, right, bottom, mm.
const BOXES_AREA: (f32, f32, f32, f32) = (18.0, 58.0, 140.0, 272.0);
/// The 填写样例 area beside the boxes: left, top, right, bottom, mm.
const EXAMPLE_AREA: (f32, f32, f32, f32) = (148.0, 58.0, 196.0, 180.0);
/// Height of the labels under a box's frame, mm.
const LABEL_MM: f32 = 11.0;
/// Space between frames, mm.
const GAP_MM: f32 = 6.0;
/// Resolution of the page a capture is mapped back onto.
const RECTIFIED_DPI: f32 = 300.0;

/// The shape of a seal's impression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxShape {
    /// Round (公章 and most enterprise seals).
    Round,
    /// Oval.
    Oval,
    /// Square (法定代表人章).
    Square,
    /// Rectangle (执业印章 frames, 手写签字).
    Rect,
}

/// One seal to stamp: one box on the form.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpec {
    /// The kind as the applicant knows it, e.g. 企业公章.
    pub kind_label: String,
    /// The seal's name (may be empty).
    pub seal_name: String,
    /// The impression's shape.
    pub shape: BoxShape,
    /// True width of the impression, mm.
    pub width_mm: f32,
    /// True height of the impression, mm.
    pub height_mm: f32,
    /// The ink the seal must be stamped in, when the kind requires one (blue for 执业印章).
    pub ink: Option<SealInk>,
}

/// Everything the form shows, all of it derived from the order.
#[derive(Debug, Clone, PartialEq)]
pub struct FormSpec {
    /// 订单编号, printed and in the QR code of every page.
    pub order_no: String,
    /// The applicant or holder line (enterprise or person name).
    pub holder: String,
    /// One box per seal unit, in the order's seal order.
    pub boxes: Vec<BoxSpec>,
}

/// Where one box is on its page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedBox {
    /// Index into [`FormSpec::boxes`] (seal *i*, printed as 第 i+1 枚).
    pub index: usize,
    /// The frame: left, top, width, height, mm (the seal's true size plus [`FRAME_MARGIN_MM`]
    /// on each side; the true-size outline is centred in it).
    pub frame: (f32, f32, f32, f32),
}

impl PlacedBox {
    /// Centre of the frame, mm.
    pub fn centre(&self) -> (f32, f32) {
        let (x, y, w, h) = self.frame;
        (x + w / 2.0, y + h / 2.0)
    }
}

/// One page of the form.
#[derive(Debug, Clone, PartialEq)]
pub struct PageLayout {
    /// Page number, from 1.
    pub page: usize,
    /// Number of pages.
    pub pages: usize,
    /// The boxes on this page.
    pub boxes: Vec<PlacedBox>,
}

/// Where every box goes: row by row in the box area, as many pages as needed (at least one).
/// Deterministic: the same spec always gives the same layout.
pub fn layout(spec: &FormSpec) -> Vec<PageLayout> {
    let (left, top, right, bottom) = BOXES_AREA;
    let mut pages: Vec<Vec<PlacedBox>> = vec![Vec::new()];
    let (mut x, mut y, mut row_h) = (left, top, 0f32);
    for (index, b) in spec.boxes.iter().enumerate() {
        let fw = b.width_mm + 2.0 * FRAME_MARGIN_MM;
        let fh = b.height_mm + 2.0 * FRAME_MARGIN_MM;
        if x > left && x + fw > right {
            x = left;
            y += row_h + GAP_MM;
            row_h = 0.0;
        }
        if y > top && y + fh + LABEL_MM > bottom {
            pages.push(Vec::new());
            x = left;
            y = top;
            row_h = 0.0;
        }
        if let Some(page) = pages.last_mut() {
            page.push(PlacedBox {
                index,
                frame: (x, y, fw, fh),
            });
        }
        x += fw + GAP_MM;
        row_h = row_h.max(fh + LABEL_MM);
    }
    let n = pages.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(i, boxes)| PageLayout {
            page: i + 1,
            pages: n,
            boxes,
        })
        .collect()
}

/// What the QR code of a page says: the order number, the page and the page count.
pub fn qr_text(order_no: &str, page: usize, pages: usize) -> String {
    format!("{order_no}|{page}/{pages}")
}

/// Reads [`qr_text`] back; a code in another shape is taken as an order number alone (page 1 of 1).
fn parse_qr(text: &str) -> (String, usize, usize) {
    if let Some((no, rest)) = text.rsplit_once('|')
        && let Some((p, n)) = rest.split_once('/')
        && let (Ok(p), Ok(n)) = (p.parse::<usize>(), n.parse::<usize>())
    {
        return (no.to_owned(), p, n);
    }
    (text.to_owned(), 1, 1)
}

// ---------------------------------------------------------------------------------------------
// Drawing.
// ---------------------------------------------------------------------------------------------

mod draw {
    use krilla::color::rgb;
    use krilla::geom::{PathBuilder, Point};
    use krilla::paint::{Fill, Stroke};
    use krilla::surface::Surface;
    use krilla::text::{Font, TextDirection};

    /// Points per millimetre.
    pub(super) const PT: f32 = 72.0 / 25.4;

    pub(super) fn font() -> Option<Font> {
        static FONT: std::sync::OnceLock<Option<Font>> = std::sync::OnceLock::new();
        FONT.get_or_init(|| Font::new(crate::font::FONT_BYTES.into(), 0))
            .clone()
    }

    /// A surface that takes millimetres.
    pub(super) struct Sheet<'a, 'b> {
        pub s: &'a mut Surface<'b>,
        pub font: Font,
    }

    /// A closed rectangle, mm.
    fn rect_path(pb: &mut PathBuilder, x: f32, y: f32, w: f32, h: f32) {
        pb.move_to(x * PT, y * PT);
        pb.line_to((x + w) * PT, y * PT);
        pb.line_to((x + w) * PT, (y + h) * PT);
        pb.line_to(x * PT, (y + h) * PT);
        pb.close();
    }

    fn paint(c: u8) -> rgb::Color {
        rgb::Color::new(c, c, c)
    }

    impl Sheet<'_, '_> {
        /// Text with its baseline at (x, y), size in mm, grey level `c`.
        pub fn text(&mut self, x: f32, y: f32, size: f32, t: &str, c: u8) {
            if t.is_empty() {
                return;
            }
            self.s.set_stroke(None);
            self.s.set_fill(Some(Fill {
                paint: paint(c).into(),
                ..Fill::default()
            }));
            self.s.draw_text(
                Point::from_xy(x * PT, y * PT),
                self.font.clone(),
                size * PT,
                t,
                false,
                TextDirection::Auto,
            );
        }

        /// A filled rectangle.
        pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: u8) {
            let mut pb = PathBuilder::new();
            rect_path(&mut pb, x, y, w, h);
            if let Some(p) = pb.finish() {
                self.s.set_stroke(None);
                self.s.set_fill(Some(Fill {
                    paint: paint(c).into(),
                    ..Fill::default()
                }));
                self.s.draw_path(&p);
            }
        }

        /// An outline: a rectangle or, with `ellipse`, the ellipse inscribed in it.
        pub fn outline(
            &mut self,
            x: f32,
            y: f32,
            w: f32,
            h: f32,
            ellipse: bool,
            width: f32,
            c: u8,
        ) {
            let mut pb = PathBuilder::new();
            if ellipse {
                // Four cubic arcs (kappa = 0.5523).
                let (cx, cy, rx, ry) = (
                    (x + w / 2.0) * PT,
                    (y + h / 2.0) * PT,
                    w / 2.0 * PT,
                    h / 2.0 * PT,
                );
                let (kx, ky) = (rx * 0.552_284_8, ry * 0.552_284_8);
                pb.move_to(cx + rx, cy);
                pb.cubic_to(cx + rx, cy + ky, cx + kx, cy + ry, cx, cy + ry);
                pb.cubic_to(cx - kx, cy + ry, cx - rx, cy + ky, cx - rx, cy);
                pb.cubic_to(cx - rx, cy - ky, cx - kx, cy - ry, cx, cy - ry);
                pb.cubic_to(cx + kx, cy - ry, cx + rx, cy - ky, cx + rx, cy);
                pb.close();
            } else {
                rect_path(&mut pb, x, y, w, h);
            }
            if let Some(p) = pb.finish() {
                self.s.set_fill(None);
                self.s.set_stroke(Some(Stroke {
                    paint: paint(c).into(),
                    width: width * PT,
                    ..Stroke::default()
                }));
                self.s.draw_path(&p);
            }
        }
    }
}

/// Draws the form as an A4 PDF (CJK font embedded, subset): on every page the order number as text
/// and as a QR code, the four corner marks, the page's boxes (each labelled with its kind, name and
/// 第 i 枚, its frame around the seal's true-size outline) and the 填写样例.
///
/// Errors: [`Error::InvalidRequest`] for a spec without boxes or a box size outside 5-150 mm;
/// [`Error::MissingGlyph`] for text the embedded font cannot draw.
pub fn render_form_pdf(spec: &FormSpec) -> Result<Vec<u8>, Error> {
    use krilla::Document;
    use krilla::page::PageSettings;

    check_spec(spec)?;
    let font = draw::font().ok_or_else(|| Error::Encode("embedded font unreadable".into()))?;
    let pages = layout(spec);
    let mut document = Document::new();
    for pl in &pages {
        let settings = PageSettings::from_wh(PAGE_W_MM * draw::PT, PAGE_H_MM * draw::PT)
            .ok_or_else(|| Error::Encode("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        {
            let mut s = draw::Sheet {
                s: &mut surface,
                font: font.clone(),
            };
            draw_page(&mut s, spec, pl)?;
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| Error::Encode(format!("pdf: {e:?}")))
}

fn check_spec(spec: &FormSpec) -> Result<(), Error> {
    if spec.boxes.is_empty() {
        return Err(Error::InvalidRequest("no seals on the form".into()));
    }
    if spec.order_no.trim().is_empty() {
        return Err(Error::InvalidRequest("no order number".into()));
    }
    for b in &spec.boxes {
        if !(5.0..=100.0).contains(&b.width_mm) || !(5.0..=100.0).contains(&b.height_mm) {
            return Err(Error::InvalidRequest(format!(
                "box {}x{} mm outside 5-100 mm",
                b.width_mm, b.height_mm
            )));
        }
        crate::font::check_text(&b.kind_label)?;
        crate::font::check_text(&b.seal_name)?;
    }
    crate::font::check_text(&spec.holder)?;
    crate::font::check_text(&spec.order_no)?;
    Ok(())
}

fn draw_page(s: &mut draw::Sheet<'_, '_>, spec: &FormSpec, pl: &PageLayout) -> Result<(), Error> {
    for (cx, cy) in MARK_CENTRES {
        s.fill_rect(cx - MARK_MM / 2.0, cy - MARK_MM / 2.0, MARK_MM, MARK_MM, 0);
    }
    s.text(22.0, 28.0, 7.0, "电子印章印模采集表", 0);
    s.text(22.0, 37.0, 4.2, &format!("订单编号：{}", spec.order_no), 0);
    s.text(
        22.0,
        44.0,
        4.2,
        &format!("申请单位（人）：{}", spec.holder),
        0,
    );
    s.text(
        22.0,
        51.0,
        3.5,
        &format!(
            "第 {} 页 共 {} 页　请在每个框内加盖对应的印章一枚，印章完整、清晰、不出框",
            pl.page, pl.pages
        ),
        60,
    );
    // The QR code, modules as filled squares, with its quiet zone left white.
    let code = qrcode::QrCode::new(qr_text(&spec.order_no, pl.page, pl.pages).as_bytes())
        .map_err(|e| Error::InvalidRequest(format!("qr: {e}")))?;
    let n = code.width();
    let (qx, qy, side) = QR_MM;
    let module = side / n as f32;
    let colors = code.to_colors();
    for y in 0..n {
        let mut x = 0;
        while x < n {
            if colors[y * n + x] == qrcode::Color::Dark {
                let start = x;
                while x < n && colors[y * n + x] == qrcode::Color::Dark {
                    x += 1;
                }
                // A run of dark modules as one rectangle (a hair wider, so no seams show).
                s.fill_rect(
                    qx + start as f32 * module,
                    qy + y as f32 * module,
                    (x - start) as f32 * module + 0.01,
                    module + 0.01,
                    0,
                );
            } else {
                x += 1;
            }
        }
    }
    for pb in &pl.boxes {
        let b = &spec.boxes[pb.index];
        let (x, y, w, h) = pb.frame;
        s.outline(x, y, w, h, false, 0.35, 0);
        // The seal's true size, light grey, centred in the frame.
        let ellipse = matches!(b.shape, BoxShape::Round | BoxShape::Oval);
        s.outline(
            x + FRAME_MARGIN_MM,
            y + FRAME_MARGIN_MM,
            b.width_mm,
            b.height_mm,
            ellipse,
            0.2,
            200,
        );
        s.text(
            x,
            y + h + 4.5,
            3.5,
            &format!("第 {} 枚　{}", pb.index + 1, b.kind_label),
            0,
        );
        let size = format!("{:.0}×{:.0} mm", b.width_mm, b.height_mm);
        let name = if b.seal_name.is_empty() {
            size
        } else {
            format!("{}　{size}", b.seal_name)
        };
        s.text(x, y + h + 9.0, 3.0, &name, 60);
    }
    // 填写样例: grey only (never seal-coloured, so nothing here can be read as a stamp).
    let (ex, ey, er, _) = EXAMPLE_AREA;
    s.text(ex, ey + 4.0, 4.2, "填写样例", 0);
    s.outline(ex, ey + 8.0, er - ex, 44.0, false, 0.35, 120);
    s.outline(ex + 8.0, ey + 12.0, 32.0, 32.0, true, 0.6, 150);
    s.outline(ex + 13.0, ey + 17.0, 22.0, 22.0, true, 0.3, 150);
    let notes = [
        "1. 每个框内盖一枚对应的印章；",
        "2. 印章须完整清晰，不压框、不出框；",
        "3. 不要在框外盖章；",
        "4. 扫描或拍照上传整页，四角的",
        "   黑色定位块和二维码须完整可见；",
        "5. 请勿涂改订单编号和二维码。",
    ];
    for (i, t) in notes.iter().enumerate() {
        s.text(ex, ey + 60.0 + i as f32 * 6.0, 2.8, t, 60);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------------------

/// What one box held.
#[derive(Debug, Clone, PartialEq)]
pub enum BoxReading {
    /// Exactly one impression: the seal's picture.
    Found(Impression),
    /// Nothing stamped in the box.
    Empty,
    /// More than one impression in the box (the count).
    Several(usize),
}

/// What a capture of the form held.
#[derive(Debug, Clone, PartialEq)]
pub enum FormReading {
    /// The page was located by its corner marks and its QR code names this order.
    Located {
        /// The page read, from 1.
        page: usize,
        /// The page count the QR code gives.
        pages: usize,
        /// Every box of that page: its index into [`FormSpec::boxes`] and what it held.
        boxes: Vec<(usize, BoxReading)>,
        /// Impressions whose centre is in no box.
        outside: Vec<Impression>,
    },
    /// The QR code names another order: nothing was cut out.
    OtherOrder {
        /// The order number the QR code gives.
        order_no: String,
    },
    /// No corner marks or no QR code: the impressions [`crate::extract`] finds on the whole page
    /// (reading order, none on a blank or unstamped page), to be assigned by a person.
    Unlocated {
        /// The impressions found.
        impressions: Vec<Impression>,
    },
}

/// Reads a scan or photo (JPEG, PNG, PDF holding the scan) of the form drawn from `spec`.
///
/// `opts` sizes the pictures as in [`crate::extract`]; its `ink` is the hint for boxes whose
/// [`BoxSpec::ink`] is `None`; its `size_mm` is ignored (each impression is measured on the page,
/// whose scale the corner marks fix).
///
/// Errors: format and size errors of the input. A blank or unstamped page is not an error.
pub fn read_form(
    input: &[u8],
    spec: &FormSpec,
    opts: &ExtractOptions,
) -> Result<FormReading, Error> {
    let opts = ExtractOptions {
        size_mm: None,
        ..opts.clone()
    };
    let page = decode_page(input)?;
    let Some((rect, order_no, page_no, pages)) = locate(&page) else {
        return fallback(input, &opts);
    };
    if order_no != spec.order_no {
        return Ok(FormReading::OtherOrder { order_no });
    }
    let layouts = layout(spec);
    let Some(pl) = layouts.get(page_no.saturating_sub(1)) else {
        return Ok(FormReading::Unlocated {
            impressions: Vec::new(),
        });
    };
    let _ = pages;
    let ppm = RECTIFIED_DPI / 25.4;
    // One search of the whole page per ink the page's boxes ask for (usually one).
    let mut inks: Vec<Option<SealInk>> = Vec::new();
    for pb in &pl.boxes {
        let ink = spec.boxes[pb.index].ink.or(opts.ink);
        if !inks.contains(&ink) {
            inks.push(ink);
        }
    }
    let mut per_box: Vec<Vec<Impression>> = vec![Vec::new(); pl.boxes.len()];
    let mut outside: Vec<Impression> = Vec::new();
    let mut seen: Vec<(f32, f32)> = Vec::new();
    for ink in inks {
        let found = match find_found(&rect, ink) {
            Ok(f) => f,
            Err(Error::NoImpression | Error::EmptyPage) => Vec::new(),
            Err(e) => return Err(e),
        };
        for f in &found {
            let imp = finish_found(f, &rect, &opts)?;
            let centre = (
                (imp.x as f32 + imp.width as f32 / 2.0) / ppm,
                (imp.y as f32 + imp.height as f32 / 2.0) / ppm,
            );
            // The same stamp found again in another ink's pass.
            if seen
                .iter()
                .any(|&(x, y)| (x - centre.0).hypot(y - centre.1) < 2.0)
            {
                continue;
            }
            seen.push(centre);
            let slot = pl.boxes.iter().position(|pb| {
                let (x, y, w, h) = pb.frame;
                let inside = |v: f32, lo: f32, len: f32| {
                    v >= lo - CENTRE_SLACK_MM && v <= lo + len + CENTRE_SLACK_MM
                };
                inside(centre.0, x, w) && inside(centre.1, y, h)
            });
            match slot {
                Some(i) if spec.boxes[pl.boxes[i].index].ink.or(opts.ink) == ink => {
                    per_box[i].push(imp)
                }
                // Found in another box's ink pass: that box's own pass decides.
                Some(_) => {}
                None => outside.push(imp),
            }
        }
    }
    let boxes = pl
        .boxes
        .iter()
        .zip(per_box)
        .map(|(pb, mut found)| {
            let reading = match found.len() {
                0 => BoxReading::Empty,
                1 => BoxReading::Found(found.remove(0)),
                n => BoxReading::Several(n),
            };
            (pb.index, reading)
        })
        .collect();
    Ok(FormReading::Located {
        page: page_no,
        pages,
        boxes,
        outside,
    })
}

fn fallback(input: &[u8], opts: &ExtractOptions) -> Result<FormReading, Error> {
    match extract(input, opts) {
        Ok(impressions) => Ok(FormReading::Unlocated { impressions }),
        Err(Error::NoImpression | Error::EmptyPage) => Ok(FormReading::Unlocated {
            impressions: Vec::new(),
        }),
        Err(e) => Err(e),
    }
}

/// Finds the page on the capture: corner marks → homography → the page at [`RECTIFIED_DPI`], then
/// the QR code in its place. Without four marks (one covered by a thumb, or cut off), a photo's
/// sheet found by its edges gives the page instead. Tries the page upright, then upside down.
/// `None` when no page or no QR code is found.
fn locate(page: &Page) -> Option<(Page, String, usize, usize)> {
    let read = |to_capture: &dyn Fn(f64, f64) -> (f64, f64)| {
        let rect = rectify(page, to_capture);
        let (no, p, n) = parse_qr(&read_qr(&rect)?);
        Some((rect, no, p, n))
    };
    if let Some(corners) = find_marks(page) {
        // Upright: top-left, top-right, bottom-right, bottom-left; upside down: the same marks
        // seen from the other end.
        for turn in [0usize, 2] {
            let img: [(f32, f32); 4] = std::array::from_fn(|i| corners[(i + turn) % 4]);
            let h = Homography::from_points(&MARK_CENTRES, &img)?;
            if let Some(found) = read(&|x, y| h.apply(x, y)) {
                return Some(found);
            }
        }
        return None;
    }
    let sheet = crate::extract::locate_page(page)?;
    if sheet.size_mm != (PAGE_W_MM, PAGE_H_MM) {
        return None;
    }
    let (w, h) = (f64::from(PAGE_W_MM), f64::from(PAGE_H_MM));
    read(&|x, y| sheet.to_capture(x, y)).or_else(|| read(&|x, y| sheet.to_capture(w - x, h - y)))
}

/// A projective map of the plane, row-major 3 × 3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Homography(pub [f64; 9]);

impl Homography {
    /// The map taking each `from` point to the `to` point of the same index.
    pub(crate) fn from_points(from: &[(f32, f32); 4], to: &[(f32, f32); 4]) -> Option<Homography> {
        // h8 = 1; eight unknowns, two equations per point.
        let mut a = [[0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = (f64::from(from[i].0), f64::from(from[i].1));
            let (u, v) = (f64::from(to[i].0), f64::from(to[i].1));
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gauss-Jordan with partial pivoting.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
            if a[pivot][col].abs() < 1e-12 {
                return None;
            }
            a.swap(col, pivot);
            let d = a[col][col];
            for k in col..9 {
                a[col][k] /= d;
            }
            for r in 0..8 {
                if r != col {
                    let f = a[r][col];
                    if f != 0.0 {
                        for k in col..9 {
                            a[r][k] -= f * a[col][k];
                        }
                    }
                }
            }
        }
        let h: [f64; 9] = std::array::from_fn(|i| if i == 8 { 1.0 } else { a[i][8] });
        h.iter().all(|v| v.is_finite()).then_some(Homography(h))
    }

    /// Where the map takes (x, y).
    pub(crate) fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let h = &self.0;
        let z = h[6] * x + h[7] * y + h[8];
        (
            (h[0] * x + h[1] * y + h[2]) / z,
            (h[3] * x + h[4] * y + h[5]) / z,
        )
    }
}

/// The page at [`RECTIFIED_DPI`], each pixel sampled (bilinear) where `to_capture` (page mm →
/// capture px) puts it; outside the capture is paper white.
fn rectify(page: &Page, to_capture: &dyn Fn(f64, f64) -> (f64, f64)) -> Page {
    let ppm = f64::from(RECTIFIED_DPI) / 25.4;
    let (w, hh) = (
        (f64::from(PAGE_W_MM) * ppm).round() as usize,
        (f64::from(PAGE_H_MM) * ppm).round() as usize,
    );
    let size = (page.width as usize, page.height as usize);
    let mut rgb = vec![255u8; w * hh * 3];
    for (v, row) in rgb.chunks_exact_mut(w * 3).enumerate() {
        let ym = (v as f64 + 0.5) / ppm;
        for (u, px) in row.chunks_exact_mut(3).enumerate() {
            let (x, y) = to_capture((u as f64 + 0.5) / ppm, ym);
            if let Some(p) = sample_rgb(&page.rgb, size, x, y) {
                px.copy_from_slice(&p);
            }
        }
    }
    Page {
        width: w as u32,
        height: hh as u32,
        rgb,
        dpi: Some(RECTIFIED_DPI),
    }
}

/// The colour at (x, y) (pixel units, 0 at the first pixel's edge) of an RGB image, bilinear;
/// `None` off the image.
pub(crate) fn sample_rgb(src: &[u8], (sw, sh): (usize, usize), x: f64, y: f64) -> Option<[u8; 3]> {
    let (x, y) = (x - 0.5, y - 0.5);
    if !(x >= 0.0 && y >= 0.0 && x < sw.saturating_sub(1) as f64 && y < sh.saturating_sub(1) as f64)
    {
        return None;
    }
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: usize, yy: usize, c: usize| f64::from(src[(yy * sw + xx) * 3 + c]);
    Some(std::array::from_fn(|c| {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
        let bot = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        (top * (1.0 - fy) + bot * fy).round() as u8
    }))
}

/// Decodes the QR code in its place on the rectified page (with a margin for a loose mapping).
fn read_qr(rect: &Page) -> Option<String> {
    let ppm = RECTIFIED_DPI / 25.4;
    let (qx, qy, side) = QR_MM;
    let margin = 6.0;
    let x0 = ((qx - margin) * ppm).max(0.0) as usize;
    let y0 = ((qy - margin) * ppm).max(0.0) as usize;
    let x1 = (((qx + side + margin) * ppm) as usize).min(rect.width as usize);
    let y1 = (((qy + side + margin) * ppm) as usize).min(rect.height as usize);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let w = rect.width as usize;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(x1 - x0, y1 - y0, |x, y| {
        // Darkest channel: black print is dark in every channel, red ink over the code is not.
        let p = &rect.rgb[((y0 + y) * w + x0 + x) * 3..][..3];
        p[0].max(p[1]).max(p[2]) / 2 + p[0].min(p[1]).min(p[2]) / 2
    });
    img.detect_grids()
        .into_iter()
        .find_map(|g| g.decode().ok().map(|(_, text)| text))
}

/// The centres of the four corner marks on the capture (top-left, top-right, bottom-right,
/// bottom-left as the capture shows them), in capture pixels. Found on a copy shrunk to about
/// 1200 px: solid dark squares, much bigger than any other solid dark blob (QR modules, text), not
/// touching the capture's edge, nearest the capture's four corners.
pub(crate) fn find_marks(page: &Page) -> Option<[(f32, f32); 4]> {
    let (w, h) = (page.width as usize, page.height as usize);
    let step = (w.max(h) / 1200).max(1);
    let (sw, sh) = (w / step, h / step);
    if sw < 32 || sh < 32 {
        return None;
    }
    // The darkest channel's maximum per shrunk pixel (a box mean), and the paper level.
    let mut bright = vec![0u8; sw * sh];
    for y in 0..sh {
        for x in 0..sw {
            let mut sum = 0u32;
            for yy in 0..step {
                let row = (y * step + yy) * w;
                for xx in 0..step {
                    let p = &page.rgb[(row + x * step + xx) * 3..][..3];
                    sum += u32::from(p[0].max(p[1]).max(p[2]));
                }
            }
            bright[y * sw + x] = (sum / (step * step) as u32) as u8;
        }
    }
    let mut hist = [0usize; 256];
    for &b in &bright {
        hist[usize::from(b)] += 1;
    }
    let mut acc = 0;
    let mut paper = 255u8;
    for (v, &n) in hist.iter().enumerate().rev() {
        acc += n;
        if acc * 10 >= bright.len() {
            paper = v as u8;
            break;
        }
    }
    let threshold = (f32::from(paper) * 0.45) as u8;
    let dark: Vec<bool> = bright.iter().map(|&b| b < threshold).collect();
    // Solid, squarish components away from the edge.
    struct Blob {
        area: usize,
        cx: f32,
        cy: f32,
    }
    let mut label = vec![false; sw * sh];
    let mut blobs = Vec::new();
    let mut stack = Vec::new();
    for start in 0..sw * sh {
        if !dark[start] || label[start] {
            continue;
        }
        label[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut area, mut sx, mut sy) = (0usize, 0f64, 0f64);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % sw, i / sw);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            area += 1;
            sx += x as f64;
            sy += y as f64;
            let mut push = |j: usize| {
                if dark[j] && !label[j] {
                    label[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < sw {
                push(i + 1);
            }
            if y > 0 {
                push(i - sw);
            }
            if y + 1 < sh {
                push(i + sw);
            }
        }
        let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
        let touches = x0 == 0 || y0 == 0 || x1 + 1 == sw || y1 + 1 == sh;
        let squarish = bw * 3 >= bh * 2 && bh * 3 >= bw * 2;
        if !touches && squarish && area >= 36 && area * 10 >= bw * bh * 7 {
            blobs.push(Blob {
                area,
                cx: ((sx / area as f64) as f32 + 0.5) * step as f32,
                cy: ((sy / area as f64) as f32 + 0.5) * step as f32,
            });
        }
    }
    let biggest = blobs.iter().map(|b| b.area).max()?;
    blobs.retain(|b| b.area * 3 >= biggest);
    if blobs.len() < 4 {
        return None;
    }
    let pick = |key: &dyn Fn(&Blob) -> f32| {
        blobs
            .iter()
            .max_by(|a, b| key(a).total_cmp(&key(b)))
            .map(|b| (b.cx, b.cy))
    };
    let tl = pick(&|b| -(b.cx + b.cy))?;
    let tr = pick(&|b| b.cx - b.cy)?;
    let br = pick(&|b| b.cx + b.cy)?;
    let bl = pick(&|b| b.cy - b.cx)?;
    let pts = [tl, tr, br, bl];
    // Four different marks spanning a believable part of the capture.
    for i in 0..4 {
        for j in i + 1..4 {
            let d = (pts[i].0 - pts[j].0).hypot(pts[i].1 - pts[j].1);
            if d < w.min(h) as f32 * 0.2 {
                return None;
            }
        }
    }
    Some(pts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize) -> FormSpec {
        FormSpec {
            order_no: "SD20261201000001".into(),
            holder: "南昌星辰科技有限公司".into(),
            boxes: (0..n)
                .map(|i| BoxSpec {
                    kind_label: "企业公章".into(),
                    seal_name: format!("公章{i}"),
                    shape: BoxShape::Round,
                    width_mm: 42.0,
                    height_mm: 42.0,
                    ink: None,
                })
                .collect(),
        }
    }

    #[test]
    fn layout_keeps_boxes_apart_and_on_the_page() {
        let pages = layout(&spec(9));
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].boxes.len(), 6);
        assert_eq!(pages[1].boxes.len(), 3);
        assert!(pages.iter().all(|p| p.pages == 2));
        let all: Vec<PlacedBox> = pages.iter().flat_map(|p| p.boxes.clone()).collect();
        assert_eq!(
            all.iter().map(|b| b.index).collect::<Vec<_>>(),
            (0..9).collect::<Vec<_>>()
        );
        for p in &pages {
            for (i, a) in p.boxes.iter().enumerate() {
                let (x, y, w, h) = a.frame;
                assert!(
                    x >= BOXES_AREA.0 && x + w <= BOXES_AREA.2 && y + h + LABEL_MM <= BOXES_AREA.3
                );
                for b in &p.boxes[i + 1..] {
                    let (bx, by, bw, bh) = b.frame;
                    let apart = x + w + GAP_MM <= bx + 1e-3
                        || bx + bw + GAP_MM <= x + 1e-3
                        || y + h + LABEL_MM <= by
                        || by + bh + LABEL_MM <= y;
                    assert!(apart, "{a:?} {b:?}");
                }
            }
        }
        assert_eq!(layout(&spec(9)), pages, "deterministic");
    }

    #[test]
    fn homography_maps_the_four_points() {
        let to = [
            (100.0, 80.0),
            (900.0, 120.0),
            (950.0, 1300.0),
            (60.0, 1250.0),
        ];
        let h = Homography::from_points(&MARK_CENTRES, &to).unwrap();
        for (f, t) in MARK_CENTRES.iter().zip(to) {
            let (x, y) = h.apply(f64::from(f.0), f64::from(f.1));
            assert!((x - f64::from(t.0)).abs() < 1e-6 && (y - f64::from(t.1)).abs() < 1e-6);
        }
    }

    #[test]
    fn qr_text_round_trips() {
        assert_eq!(parse_qr(&qr_text("SD1|x", 2, 3)), ("SD1|x".into(), 2, 3));
        assert_eq!(parse_qr("SD9"), ("SD9".into(), 1, 1));
    }
}
