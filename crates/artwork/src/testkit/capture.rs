//! The second, independent quality set (issue 15): forms that the project does not draw itself.
//!
//! Nothing here uses the crate's renderer, font or rasteriser. A form is written as a PDF by hand
//! (vector print, corner marks, Base-14 Helvetica text, stamps as vector drawings in another
//! design than [`crate::render`]), and rasterised by poppler's `pdftoppm` — a real printing path,
//! with its own anti-aliasing and font engine. The PDF has three pages, one per layer: the
//! printed form, the stamps and the ballpoint signature. The layers are then combined as inks
//! combine on paper (they multiply), with an ink texture (grain, dry patches, pad pressure), and
//! the sheet is either "scanned" (300, 200 or 150 dpi, a small tilt) or "photographed" in
//! simulation: a 12 MP frame, the page tilted up to 20° in perspective, barrel distortion, an
//! illumination gradient and vignette, a shadow band, motion blur, sensor noise and JPEG at
//! quality 60-90. The truth is the stamp layer's coverage outside dry gaps, warped by exactly the
//! same geometry and sampled the same way as the picture (bilinear), then held to one half.
//!
//! [`plan`] makes the PDF; the caller rasterises it ([`rasterise`] runs `pdftoppm`; it is the one
//! place in the testkit that spawns a process, and only tests and benches call it); [`shoot`]
//! turns the rasterised layers into the capture and its truth.

use image::ImageEncoder;
use image::codecs::jpeg::{JpegEncoder, PixelDensity};

use std::time::Duration;

use super::Rng;

/// How the sheet reaches the extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// A flatbed scan at this resolution (150, 200 or 300 dpi), JPEG with the density recorded.
    Scan(u32),
    /// A 12 MP phone photo (4000 × 3000, portrait), no resolution recorded.
    Photo,
}

impl Capture {
    /// A short label for tables.
    pub fn label(self) -> String {
        match self {
            Capture::Scan(d) => format!("scan {d} dpi"),
            Capture::Photo => "photo 12 MP".into(),
        }
    }
}

/// The ink the stamps are pressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InkKind {
    /// Fresh red pad.
    Red,
    /// Dry, faded red pad (about RGB 230,125,135 at full coverage).
    RedFaded,
    /// Blue practice-seal ink (about RGB 54,67,181).
    Blue,
    /// Faded blue.
    BlueFaded,
    /// Purple ink.
    Purple,
    /// Faded purple.
    PurpleFaded,
}

impl InkKind {
    /// Every ink, in table order.
    pub const ALL: [InkKind; 6] = [
        InkKind::Red,
        InkKind::RedFaded,
        InkKind::Blue,
        InkKind::BlueFaded,
        InkKind::Purple,
        InkKind::PurpleFaded,
    ];
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            InkKind::Red => "red",
            InkKind::RedFaded => "red faded",
            InkKind::Blue => "blue",
            InkKind::BlueFaded => "blue faded",
            InkKind::Purple => "purple",
            InkKind::PurpleFaded => "purple faded",
        }
    }
    /// The ink's colour at full coverage on white paper, RGB.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            InkKind::Red => [205, 38, 52],
            InkKind::RedFaded => [230, 125, 135],
            InkKind::Blue => [54, 67, 181],
            InkKind::BlueFaded => [120, 130, 205],
            InkKind::Purple => [122, 48, 150],
            InkKind::PurpleFaded => [170, 120, 190],
        }
    }
    /// The ink family the platform names for it (what `ExtractOptions::ink` is given).
    pub fn family(self) -> crate::SealInk {
        match self {
            InkKind::Red | InkKind::RedFaded => crate::SealInk::Red,
            InkKind::Blue | InkKind::BlueFaded => crate::SealInk::Blue,
            InkKind::Purple | InkKind::PurpleFaded => crate::SealInk::Purple,
        }
    }
    fn faded(self) -> bool {
        matches!(
            self,
            InkKind::RedFaded | InkKind::BlueFaded | InkKind::PurpleFaded
        )
    }
}

/// What crosses the stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Nothing: the stamp is on blank paper in its box.
    None,
    /// A ballpoint signature (black or blue) through the stamp.
    Signature,
    /// Lines of printed text under the stamp.
    Print,
}

impl Crossing {
    /// Every crossing, in table order.
    pub const ALL: [Crossing; 3] = [Crossing::None, Crossing::Signature, Crossing::Print];
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Crossing::None => "clear",
            Crossing::Signature => "signature",
            Crossing::Print => "print",
        }
    }
}

/// One capture to make.
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    /// Scan or photo.
    pub capture: Capture,
    /// Stamp ink.
    pub ink: InkKind,
    /// What crosses the stamps.
    pub crossing: Crossing,
    /// Two stamps pressed over each other in one box (instead of one stamp per box).
    pub overlap: bool,
}

/// The conditions of the set, in a fixed order: every capture × ink × crossing, no overlaps.
pub fn conditions() -> Vec<Condition> {
    let mut out = Vec::new();
    for capture in [
        Capture::Scan(300),
        Capture::Photo,
        Capture::Scan(200),
        Capture::Scan(150),
    ] {
        for ink in InkKind::ALL {
            for crossing in Crossing::ALL {
                out.push(Condition {
                    capture,
                    ink,
                    crossing,
                    overlap: false,
                });
            }
        }
    }
    out
}

/// The PDF of one form and what it holds.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Three pages: print, stamps, signature. Black on white; coverage is darkness.
    pub pdf: Vec<u8>,
    /// The resolution to rasterise at.
    pub dpi: u32,
    /// How many stamps are on the stamp page.
    pub stamps: usize,
    /// Stamp centres, mm on the page (y down).
    pub centres_mm: Vec<(f32, f32)>,
    /// Stamp sizes (width, height before rotation), mm, in the order of `centres_mm`.
    pub sizes_mm: Vec<(f32, f32)>,
    /// Which stamps are round, in the same order.
    pub round: Vec<bool>,
    /// Each stamp's outline, in the order drawn.
    pub outlines: Vec<Outline>,
    condition: Condition,
    seed: u64,
}

/// A finished capture and its truth.
#[derive(Debug, Clone)]
pub struct Shot {
    /// The capture, JPEG.
    pub jpeg: Vec<u8>,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// 1 where stamp ink is, row-major.
    pub truth: Vec<u8>,
    /// 1 where the stamp's design is (coverage at least one half), dry gaps included: what a
    /// pad with even ink would have left.
    pub design: Vec<u8>,
    /// How many stamps.
    pub stamps: usize,
    /// JPEG quality used.
    pub quality: u8,
    /// A photo's sheet corners on the frame, px (top-left, top-right, bottom-right, bottom-left
    /// of the page), through the same perspective and lens; `None` for a scan.
    pub page_corners: Option<Corners>,
}

/// A4 portrait, mm.
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const PT_PER_MM: f32 = 72.0 / 25.4;

/// Writes the form of `seed` under `cond` as a three-page PDF.
pub fn plan(seed: u64, cond: Condition) -> Plan {
    let mut rng = Rng::new(seed ^ 0xC0FF_EE15);
    let mut print = Content::default();
    let mut stamps = Content::default();
    let mut sig = Content::default();

    // Corner marks: the L-shaped registration marks a printed 印模采集表 carries.
    for (x, y, sx, sy) in [
        (10.0, 10.0, 1.0, 1.0),
        (200.0, 10.0, -1.0, 1.0),
        (10.0, 287.0, 1.0, -1.0),
        (200.0, 287.0, -1.0, -1.0),
    ] {
        print.rect(x, y, 12.0 * sx, 1.2 * sy);
        print.rect(x, y, 1.2 * sx, 12.0 * sy);
    }
    print.fill();
    print.text(
        "Helvetica-Bold",
        "SEAL SPECIMEN COLLECTION FORM",
        40.0,
        28.0,
        7.0,
        0.0,
    );
    // The table of the applicant's details.
    let labels = [
        "Unit name",
        "Credit code",
        "Legal representative",
        "Agent and phone",
        "Seal name",
        "Seal code",
    ];
    for (k, label) in labels.iter().enumerate() {
        let y = 40.0 + k as f32 * 11.0;
        print.text("Helvetica", label, 22.0, y + 7.5, 3.6, 0.0);
        let filler: String = (0..8 + rng.below(14))
            .map(|_| char::from(b'A' + rng.below(26) as u8))
            .collect();
        print.text("Helvetica", &filler, 72.0, y + 7.5, 3.6, 0.0);
    }
    for k in 0..=labels.len() {
        let y = 40.0 + k as f32 * 11.0;
        print.line(20.0, y, 190.0, y, 0.3);
    }
    for x in [20.0, 68.0, 190.0] {
        print.line(x, 40.0, x, 40.0 + labels.len() as f32 * 11.0, 0.3);
    }
    print.text(
        "Helvetica-Bold",
        "Impressions (stamp inside the boxes)",
        22.0,
        122.0,
        4.5,
        0.0,
    );

    // Two boxes side by side, each with one stamp (or, with `overlap`, one box with two).
    let boxes = [(22.0f32, 130.0f32), (110.0, 130.0)];
    for &(bx, by) in &boxes {
        print.rect(bx, by, 78.0, 78.0);
        print.stroke(0.35);
    }
    let mut centres = Vec::new();
    let (mut sizes, mut round) = (Vec::new(), Vec::new());
    let mut outlines = Vec::new();
    let count = if cond.overlap { 2 } else { boxes.len() };
    for k in 0..count {
        let (bx, by) = if cond.overlap { boxes[0] } else { boxes[k] };
        let style = match cond.ink {
            InkKind::Blue | InkKind::BlueFaded if k == 0 => StampStyle::Frame,
            _ => [
                StampStyle::Round,
                StampStyle::Round,
                StampStyle::Oval,
                StampStyle::Square,
            ][rng.below(4)],
        };
        let (sw, sh) = style.size(&mut rng);
        let slack_x = (78.0 - sw - 6.0).max(0.0);
        let slack_y = (78.0 - sh - 6.0).max(0.0);
        let (mut cx, mut cy) = (
            bx + 3.0 + sw / 2.0 + rng.range(0.0, slack_x),
            by + 3.0 + sh / 2.0 + rng.range(0.0, slack_y),
        );
        if cond.overlap {
            // The second stamp pressed half over the first.
            cx = bx + 39.0 + if k == 0 { -11.0 } else { 11.0 };
            cy = by + 39.0 + rng.range(-6.0, 6.0);
        }
        let angle = rng.range(-12.0, 12.0);
        style.draw(&mut stamps, &mut rng, cx, cy, sw, sh, angle);
        centres.push((cx, cy));
        sizes.push((sw, sh));
        round.push(matches!(style, StampStyle::Round));
        outlines.push(Outline {
            centre_mm: (cx, cy),
            size_mm: (sw, sh),
            angle_deg: angle,
            elliptic: !matches!(style, StampStyle::Square),
        });
        if cond.crossing == Crossing::Print {
            // Lines of print the stamp is pressed over: the date line and a caption.
            for (dy, size) in [(-4.0, 4.0), (5.0, 3.6), (sh / 2.0 - 3.0, 4.0)] {
                let words = ["Stamp", "Date 2026 11 30", "Signature of applicant", "Seal"];
                let text = words[rng.below(words.len())];
                print.text(
                    "Helvetica",
                    text,
                    cx - sw / 2.0 + rng.range(-4.0, 6.0),
                    cy + dy,
                    size,
                    0.0,
                );
            }
        }
        if cond.crossing == Crossing::Signature && (k == 0 || rng.below(2) == 0) {
            signature(&mut sig, &mut rng, cx, cy, sw);
        }
    }
    if cond.crossing == Crossing::Signature && sig.ops.is_empty() {
        signature(&mut sig, &mut rng, centres[0].0, centres[0].1, 40.0);
    }
    let dpi = match cond.capture {
        Capture::Scan(d) => d,
        Capture::Photo => 300,
    };
    Plan {
        pdf: write_pdf(&[print, stamps, sig]),
        dpi,
        stamps: count,
        centres_mm: centres,
        sizes_mm: sizes,
        round,
        outlines,
        condition: cond,
        seed,
    }
}

/// A ballpoint signature through (cx, cy): a few connected loops and a long flourish.
fn signature(c: &mut Content, rng: &mut Rng, cx: f32, cy: f32, span: f32) {
    let x0 = cx - span * 0.7;
    let mut pts = Vec::new();
    let n = 14 + rng.below(8);
    let amp = rng.range(3.0, 7.0);
    for k in 0..n {
        let t = k as f32 / (n - 1) as f32;
        let x = x0 + t * span * 1.4 + rng.range(-2.0, 2.0);
        let y = cy + rng.range(-4.0, 4.0) + amp * (t * 9.0 + rng.range(0.0, 1.0)).sin();
        pts.push((x, y));
    }
    c.ops.push(format!("{:.3} {:.3} m", pts[0].0, pts[0].1));
    for w in pts.windows(2) {
        let ((ax, ay), (bx, by)) = (w[0], w[1]);
        let lift = rng.range(-6.0, 6.0);
        c.ops.push(format!(
            "{:.3} {:.3} {:.3} {:.3} {:.3} {:.3} c",
            ax + (bx - ax) / 3.0,
            ay + lift,
            ax + 2.0 * (bx - ax) / 3.0,
            by - lift,
            bx,
            by
        ));
    }
    c.ops
        .push(format!("{:.3} w 1 J 1 j S", rng.range(0.35, 0.6)));
}

#[derive(Debug, Clone, Copy)]
enum StampStyle {
    Round,
    Oval,
    Square,
    Frame,
}

impl StampStyle {
    fn size(self, rng: &mut Rng) -> (f32, f32) {
        match self {
            StampStyle::Round => {
                let d = [38.0, 40.0, 42.0][rng.below(3)];
                (d, d)
            }
            StampStyle::Oval => (40.0, 30.0),
            StampStyle::Square => {
                let s = [20.0, 22.0][rng.below(2)];
                (s, s)
            }
            StampStyle::Frame => (50.0, 36.0),
        }
    }

    /// Draws the stamp centred at (cx, cy), rotated `angle` degrees clockwise, in mm.
    #[allow(clippy::too_many_arguments)]
    fn draw(self, c: &mut Content, rng: &mut Rng, cx: f32, cy: f32, w: f32, h: f32, angle: f32) {
        let (s, co) = angle.to_radians().sin_cos();
        c.ops.push(format!(
            "q {co:.5} {s:.5} {:.5} {co:.5} {cx:.3} {cy:.3} cm",
            -s
        ));
        let word = |rng: &mut Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'A' + rng.below(26) as u8))
                .collect()
        };
        match self {
            StampStyle::Round => {
                let r = w / 2.0;
                let rim = rng.range(0.9, 1.3);
                c.ellipse(0.0, 0.0, r, r);
                c.ellipse(0.0, 0.0, r - rim, r - rim);
                c.ops.push("f*".into());
                star(c, 0.0, 0.0, 6.5);
                let n = 12 + rng.below(6);
                let name = word(rng, n);
                c.arc_text(&name, r - rim - 4.2, 5.2, 230.0, true);
                let title = word(rng, 5);
                c.centred_text(&title, 0.0, 12.5, 4.2);
                if rng.below(2) == 0 {
                    let code: String = (0..13)
                        .map(|_| char::from(b'0' + rng.below(10) as u8))
                        .collect();
                    c.arc_text(&code, r - rim - 2.0, 2.0, 60.0, false);
                }
            }
            StampStyle::Oval => {
                let (rx, ry) = (w / 2.0, h / 2.0);
                c.ellipse(0.0, 0.0, rx, ry);
                c.ellipse(0.0, 0.0, rx - 1.0, ry - 1.0);
                c.ops.push("f*".into());
                let n = 10 + rng.below(4);
                let name = word(rng, n);
                c.oval_text(&name, rx - 4.0, ry - 4.0, 4.0, 220.0);
                let code: String = (0..18)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect();
                c.centred_text(&code, 0.0, 1.5, 2.6);
                c.centred_text("INVOICE", 0.0, 9.0, 4.0);
            }
            StampStyle::Square => {
                let half = w / 2.0;
                c.rect(-half, -half, w, w);
                c.rect(-half + 1.0, -half + 1.0, w - 2.0, w - 2.0);
                c.ops.push("f*".into());
                let g = (w - 4.0) / 2.0;
                let letters = word(rng, 4);
                for (k, ch) in letters.chars().enumerate() {
                    let (col, row) = (1 - k / 2, k % 2);
                    let x = -half + 2.0 + col as f32 * g + g / 2.0;
                    let y = -half + 2.0 + row as f32 * g + g * 0.5;
                    c.centred_text(&ch.to_string(), x, y + g * 0.36, g * 0.95);
                }
            }
            StampStyle::Frame => {
                let (rx, ry) = (w / 2.0, h / 2.0);
                c.ellipse(0.0, 0.0, rx, ry);
                c.ellipse(0.0, 0.0, rx - 0.6, ry - 0.6);
                c.ops.push("f*".into());
                c.ellipse(0.0, 0.0, 18.0, 11.0);
                c.ellipse(0.0, 0.0, 17.7, 10.7);
                c.ops.push("f*".into());
                let heading = word(rng, 16);
                c.oval_text(&heading, rx - 3.3, ry - 3.3, 3.0, 250.0);
                c.centred_text(&word(rng, 3), 0.0, -2.0, 4.0);
                let number: String = (0..12)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect();
                c.centred_text(&number, 0.0, 3.5, 3.0);
                c.centred_text(&word(rng, 6), 0.0, 8.0, 2.5);
            }
        }
        c.ops.push("Q".into());
    }
}

fn star(c: &mut Content, cx: f32, cy: f32, r: f32) {
    for k in 0..10 {
        let rr = if k % 2 == 0 { r } else { r * 0.382 };
        let a = (-90.0 + 36.0 * k as f32).to_radians();
        let op = if k == 0 { "m" } else { "l" };
        c.ops.push(format!(
            "{:.3} {:.3} {op}",
            cx + rr * a.cos(),
            cy + rr * a.sin()
        ));
    }
    c.ops.push("h f".into());
}

/// A page's content, in mm with y down (the page's transform is added when written).
#[derive(Default)]
struct Content {
    ops: Vec<String>,
}

impl Content {
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.ops.push(format!("{x:.3} {y:.3} {w:.3} {h:.3} re"));
    }
    fn fill(&mut self) {
        self.ops.push("f".into());
    }
    fn stroke(&mut self, width: f32) {
        self.ops.push(format!("{width:.3} w S"));
    }
    fn line(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, width: f32) {
        self.ops.push(format!(
            "{x0:.3} {y0:.3} m {x1:.3} {y1:.3} l {width:.3} w S"
        ));
    }
    /// An ellipse as four Bézier quarters (a subpath; fill it with the caller's rule).
    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32) {
        const K: f32 = 0.552_284_8;
        let (kx, ky) = (rx * K, ry * K);
        self.ops.push(format!("{:.3} {:.3} m", cx + rx, cy));
        for (a, b, e) in [
            ((cx + rx, cy + ky), (cx + kx, cy + ry), (cx, cy + ry)),
            ((cx - kx, cy + ry), (cx - rx, cy + ky), (cx - rx, cy)),
            ((cx - rx, cy - ky), (cx - kx, cy - ry), (cx, cy - ry)),
            ((cx + kx, cy - ry), (cx + rx, cy - ky), (cx + rx, cy)),
        ] {
            self.ops.push(format!(
                "{:.3} {:.3} {:.3} {:.3} {:.3} {:.3} c",
                a.0, a.1, b.0, b.1, e.0, e.1
            ));
        }
    }
    /// One glyph of Helvetica-Bold, `size` mm, its centre at (x, y), turned `deg` clockwise.
    fn glyph(&mut self, ch: char, x: f32, y: f32, size: f32, deg: f32) {
        let (s, c) = deg.to_radians().sin_cos();
        // Text space has y up; the page is y down, so the text matrix flips y back.
        let (hw, hh) = (0.34 * size, 0.36 * size);
        let ox = x - hw * c - hh * s;
        let oy = y - hw * s + hh * c;
        self.ops.push(format!(
            "BT /F1 1 Tf {:.4} {:.4} {:.4} {:.4} {ox:.3} {oy:.3} Tm ({}) Tj ET",
            size * c,
            size * s,
            size * s,
            -size * c,
            escape(ch)
        ));
    }
    /// Text along the top (or, `top == false`, the bottom) of a circle of radius `r`.
    fn arc_text(&mut self, text: &str, r: f32, size: f32, span: f32, top: bool) {
        let n = text.chars().count() as f32;
        for (k, ch) in text.chars().enumerate() {
            let step = (k as f32 + 0.5) * span / n;
            if top {
                let phi = (-90.0 - span / 2.0 + step).to_radians();
                self.glyph(
                    ch,
                    r * phi.cos(),
                    r * phi.sin(),
                    size,
                    phi.to_degrees() + 90.0,
                );
            } else {
                let phi = (90.0 + span / 2.0 - step).to_radians();
                self.glyph(
                    ch,
                    r * phi.cos(),
                    r * phi.sin(),
                    size,
                    phi.to_degrees() - 90.0,
                );
            }
        }
    }
    /// Text along the top of an ellipse, upright to its normal.
    fn oval_text(&mut self, text: &str, rx: f32, ry: f32, size: f32, span: f32) {
        let n = text.chars().count() as f32;
        for (k, ch) in text.chars().enumerate() {
            let t = (-90.0 - span / 2.0 + (k as f32 + 0.5) * span / n).to_radians();
            let (x, y) = (rx * t.cos(), ry * t.sin());
            let normal = (y / (ry * ry)).atan2(x / (rx * rx)).to_degrees();
            self.glyph(ch, x, y, size, normal + 90.0);
        }
    }
    /// A horizontal line of glyphs centred at x, its middle at y.
    fn centred_text(&mut self, text: &str, x: f32, y: f32, size: f32) {
        let adv = 0.72 * size;
        let n = text.chars().count() as f32;
        for (k, ch) in text.chars().enumerate() {
            let gx = x - adv * n / 2.0 + adv * (k as f32 + 0.5);
            self.glyph(ch, gx, y, size, 0.0);
        }
    }
    /// A left-aligned line of text in a Base-14 font, baseline at y, turned `deg`.
    fn text(&mut self, font: &str, text: &str, x: f32, y: f32, size: f32, deg: f32) {
        let f = if font == "Helvetica-Bold" { "F1" } else { "F2" };
        let (s, c) = deg.to_radians().sin_cos();
        let body: String = text.chars().map(escape).collect();
        self.ops.push(format!(
            "BT /{f} 1 Tf {:.4} {:.4} {:.4} {:.4} {x:.3} {y:.3} Tm ({body}) Tj ET",
            size * c,
            size * s,
            size * s,
            -size * c
        ));
    }
}

fn escape(ch: char) -> String {
    match ch {
        '(' | ')' | '\\' => format!("\\{ch}"),
        c if c.is_ascii() => c.to_string(),
        _ => "?".into(),
    }
}

/// A minimal PDF: one page per content, A4, the two Helvetica fonts.
fn write_pdf(pages: &[Content]) -> Vec<u8> {
    let mut objs: Vec<String> = Vec::new();
    let n = pages.len();
    // 1 catalog, 2 pages, 3 F1, 4 F2, then (page, content) pairs.
    objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..n).map(|k| format!("{} 0 R", 5 + 2 * k)).collect();
    objs.push(format!(
        "<< /Type /Pages /Count {n} /Kids [{}] >>",
        kids.join(" ")
    ));
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>".into());
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (k, page) in pages.iter().enumerate() {
        objs.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {:.3} {:.3}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
            PAGE_W * PT_PER_MM,
            PAGE_H * PT_PER_MM,
            6 + 2 * k
        ));
        // mm, y down: scale by pt/mm and flip about the page height.
        let body = format!(
            "{s:.6} 0 0 {:.6} 0 {:.3} cm 0 g 0 G\n{}\n",
            -PT_PER_MM,
            PAGE_H * PT_PER_MM,
            page.ops.join("\n"),
            s = PT_PER_MM
        );
        objs.push(format!(
            "<< /Length {} >>\nstream\n{body}endstream",
            body.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (k, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", k + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A rasterised layer: 8-bit grey, 255 = white paper.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Width, px.
    pub w: usize,
    /// Height, px.
    pub h: usize,
    /// Grey values, row-major.
    pub v: Vec<u8>,
}

/// Parses one binary PGM (P5, maxval 255), as `pdftoppm -gray` writes.
pub fn parse_pgm(bytes: &[u8]) -> Option<Layer> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'#') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..i]).ok()?.to_string());
    }
    if fields[0] != "P5" || fields[3] != "255" {
        return None;
    }
    let (w, h): (usize, usize) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    let data = bytes.get(i + 1..i + 1 + w * h)?;
    Some(Layer {
        w,
        h,
        v: data.to_vec(),
    })
}

/// Rasterises the plan with poppler's `pdftoppm` (grey, anti-aliased) into its three layers.
/// Spawns a process and uses a temporary folder: for tests and benches only.
pub fn rasterise(plan: &Plan) -> Result<[Layer; 3], String> {
    // A folder per call: tests running at once may rasterise the same seed.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "sealdesk-capture-{}-{:x}-{}-{n}",
        std::process::id(),
        plan.seed,
        plan.dpi
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let pdf = dir.join("form.pdf");
    std::fs::write(&pdf, &plan.pdf).map_err(|e| e.to_string())?;
    let status = std::process::Command::new("pdftoppm")
        .args(["-gray", "-aa", "yes", "-aaVector", "yes", "-r"])
        .arg(plan.dpi.to_string())
        .arg(&pdf)
        .arg(dir.join("layer"))
        .status()
        .map_err(|e| format!("pdftoppm (Debian poppler-utils) not runnable: {e}"))?;
    if !status.success() {
        return Err(format!("pdftoppm failed: {status}"));
    }
    let read = |k: usize| -> Result<Layer, String> {
        let bytes = std::fs::read(dir.join(format!("layer-{k}.pgm"))).map_err(|e| e.to_string())?;
        parse_pgm(&bytes).ok_or_else(|| "bad PGM from pdftoppm".to_string())
    };
    let layers = [read(1)?, read(2)?, read(3)?];
    let _ = std::fs::remove_dir_all(&dir);
    Ok(layers)
}

/// Smooth value noise in 0..1 with cells of `cell` px.
fn value_noise(rng: &mut Rng, w: usize, h: usize, cell: f32) -> impl Fn(f32, f32) -> f32 + use<> {
    let gw = (w as f32 / cell) as usize + 2;
    let gh = (h as f32 / cell) as usize + 2;
    let grid: Vec<f32> = (0..gw * gh).map(|_| rng.range(0.0, 1.0)).collect();
    move |x: f32, y: f32| {
        let (fx, fy) = ((x / cell).max(0.0), (y / cell).max(0.0));
        let (x0, y0) = ((fx as usize).min(gw - 2), (fy as usize).min(gh - 2));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let (tx, ty) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let g = |xx: usize, yy: usize| grid[yy * gw + xx];
        let a = g(x0, y0) + (g(x0 + 1, y0) - g(x0, y0)) * tx;
        let b = g(x0, y0 + 1) + (g(x0 + 1, y0 + 1) - g(x0, y0 + 1)) * tx;
        a + (b - a) * ty
    }
}

/// Combines the layers into a sheet of paper (RGB, 0..1 per channel) and its truth planes (the
/// stamp layer's coverage outside dry gaps, and with them), at the plan's dpi.
fn sheet(
    plan: &Plan,
    layers: &[Layer; 3],
    rng: &mut Rng,
) -> (Vec<[f32; 3]>, Vec<[f32; 2]>, usize, usize) {
    let [print, stamp, sig] = layers;
    let (w, h) = (print.w, print.h);
    let px_per_mm = plan.dpi as f32 / 25.4;
    let ink = plan.condition.ink;
    let faded = ink.faded();
    let ink_t = ink.rgb().map(|c| f32::from(c) / 255.0);
    let paper = [
        rng.range(0.93, 0.98),
        rng.range(0.92, 0.97),
        rng.range(0.86, 0.94),
    ];
    let pen: [f32; 3] = if rng.below(2) == 0 {
        [0.16, 0.16, 0.2]
    } else {
        [0.18, 0.24, 0.62]
    };
    // Ink texture: fine grain (~0.15 mm) and pad pressure (~4 mm); a dry pad leaves gaps.
    let grain = value_noise(rng, w, h, (0.15 * px_per_mm).max(1.0));
    let pressure = value_noise(rng, w, h, 4.0 * px_per_mm);
    let fibre = value_noise(rng, w, h, (0.4 * px_per_mm).max(1.0));
    let mut rgb = vec![[0f32; 3]; w * h];
    let mut truth = vec![[0f32; 2]; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (fx, fy) = (x as f32, y as f32);
            let c = 1.0 - f32::from(stamp.v[i]) / 255.0;
            let mut t = 1.0;
            if c > 0.0 {
                let g = grain(fx, fy);
                let p = pressure(fx, fy);
                t = 0.8 + 0.2 * g;
                // Dry gaps where the pad pressure is low and the grain misses.
                let gap = if faded { 0.62 } else { 0.8 };
                if p * 0.7 + g * 0.3 > gap {
                    t *= 0.15;
                }
                t *= 0.85 + 0.15 * p;
            }
            let d = c * t;
            // The stamp layer's coverage outside dry gaps (the truth once warped and held to one
            // half), and with them (the design).
            truth[i] = [if t >= 0.5 { c } else { 0.0 }, c];
            let pr = 1.0 - f32::from(print.v[i]) / 255.0;
            let sg = 1.0 - f32::from(sig.v[i]) / 255.0;
            let tex = 0.97 + 0.03 * fibre(fx, fy);
            let mut px = [0f32; 3];
            for ch in 0..3 {
                let seal = 1.0 - d * (1.0 - ink_t[ch]);
                let printed = 1.0 - pr * (1.0 - 0.1);
                let pen_t = 1.0 - sg * (1.0 - pen[ch]);
                px[ch] = paper[ch] * tex * seal * printed * pen_t;
            }
            rgb[i] = px;
        }
    }
    (rgb, truth, w, h)
}

/// Turns the rasterised layers into the capture the condition asks for, with its truth.
pub fn shoot(plan: &Plan, layers: &[Layer; 3]) -> Shot {
    shoot_labelled(plan, layers, false).0
}

/// Like [`shoot`], with where each stamp's outline lies on the capture: bit `k` of a pixel is set
/// when stamp `k`'s outline (see [`Plan::outlines`]) covers it, through the same geometry as the
/// truth. (The capture and its truth are the same bytes as [`shoot`] makes.)
pub fn shoot_with_outlines(plan: &Plan, layers: &[Layer; 3]) -> (Shot, Vec<u8>) {
    shoot_labelled(plan, layers, true)
}

fn shoot_labelled(plan: &Plan, layers: &[Layer; 3], outlines: bool) -> (Shot, Vec<u8>) {
    let mut rng = Rng::new(plan.seed.wrapping_mul(31) ^ 0x5407);
    let (sheet_rgb, sheet_truth, sw, sh) = sheet(plan, layers, &mut rng);
    let px_per_mm = plan.dpi as f32 / 25.4;
    // Which outlines cover a sheet point (bit k for stamp k, six at most): carried through the
    // warp beside the truth, at the same (unblurred) point.
    let label = |x: f32, y: f32| -> u8 {
        if !outlines {
            return 0;
        }
        plan.outlines
            .iter()
            .take(6)
            .enumerate()
            .filter(|(_, o)| o.contains(x / px_per_mm, y / px_per_mm))
            .fold(0, |m, (k, _)| m | 1 << k)
    };
    shoot_sheet(plan, &sheet_rgb, &sheet_truth, sw, sh, &label, &mut rng)
}

/// The truth, the design and the outline labels packed by [`warp`] (bits 0, 1 and 2-7).
fn unpack(v: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        v.iter().map(|&b| b & 1).collect(),
        v.iter().map(|&b| (b >> 1) & 1).collect(),
        v.iter().map(|&b| b >> 2).collect(),
    )
}

/// One stamp's outline on the page: an ellipse (round, oval, frame) or a square.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outline {
    /// Centre, mm on the page (y down).
    pub centre_mm: (f32, f32),
    /// Width and height before rotation, mm.
    pub size_mm: (f32, f32),
    /// Rotation, degrees clockwise.
    pub angle_deg: f32,
    /// An ellipse (round, oval and frame stamps); `false` for a square.
    pub elliptic: bool,
}

impl Outline {
    /// Whether the point (mm on the page) is inside the outline.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        let (dx, dy) = (x - self.centre_mm.0, y - self.centre_mm.1);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        let (hw, hh) = (self.size_mm.0 / 2.0, self.size_mm.1 / 2.0);
        if self.elliptic {
            (u / hw).powi(2) + (v / hh).powi(2) <= 1.0
        } else {
            u.abs() <= hw && v.abs() <= hh
        }
    }

    /// Area, mm².
    pub fn area_mm2(&self) -> f32 {
        let (w, h) = self.size_mm;
        if self.elliptic {
            std::f32::consts::FRAC_PI_4 * w * h
        } else {
            w * h
        }
    }
}

fn shoot_sheet(
    plan: &Plan,
    sheet_rgb: &[[f32; 3]],
    sheet_truth: &[[f32; 2]],
    sw: usize,
    sh: usize,
    label: &dyn Fn(f32, f32) -> u8,
    rng: &mut Rng,
) -> (Shot, Vec<u8>) {
    let quality = 60 + rng.below(31) as u8;
    match plan.condition.capture {
        Capture::Scan(dpi) => {
            // A flatbed: the sheet a little tilted, light even, a touch of sensor noise.
            let deg = rng.range(-2.0, 2.0);
            let (s, c) = deg.to_radians().sin_cos();
            let (cx, cy) = (sw as f32 / 2.0, sh as f32 / 2.0);
            let map = |x: f32, y: f32| {
                let (dx, dy) = (x - cx, y - cy);
                (dx * c + dy * s + cx, -dx * s + dy * c + cy)
            };
            let (rgb, truth) = warp(
                sheet_rgb,
                sheet_truth,
                sw,
                sh,
                sw,
                sh,
                &map,
                1,
                (0.0, 0.0),
                rng,
                &|_, _| 1.0,
                label,
            );
            let (truth, design, labels) = unpack(&truth);
            let jpeg = encode(&rgb, sw, sh, quality, Some(dpi));
            (
                Shot {
                    jpeg,
                    width: sw as u32,
                    height: sh as u32,
                    design,
                    truth,
                    stamps: plan.stamps,
                    quality,
                    page_corners: None,
                },
                labels,
            )
        }
        Capture::Photo => {
            let (fw, fh) = (3000usize, 4000usize);
            // Camera: the page tilted about both axes (up to 20° in all), turned a little in the
            // frame, filling about 85 % of it.
            let tilt = rng.range(8.0, 20.0).to_radians();
            let dir = rng.range(0.0, std::f32::consts::TAU);
            let (ax, ay) = (tilt * dir.cos(), tilt * dir.sin());
            let roll = rng.range(-6.0, 6.0).to_radians();
            let focal = 1.1 * fh as f32;
            let scale = 0.84 * fh as f32 / sh as f32;
            // Page point (sheet px, centred) → 3-D → frame. Inverted numerically below by solving
            // the homography: frame → page.
            let hmat = homography(
                ax, ay, roll, focal, scale, sw as f32, sh as f32, fw as f32, fh as f32,
            );
            let inv = invert3(&hmat);
            let k1 = rng.range(0.02, 0.07);
            let (fcx, fcy) = (fw as f32 / 2.0, fh as f32 / 2.0);
            let norm = fcx.hypot(fcy);
            let map = move |x: f32, y: f32| {
                // Barrel distortion: the lens moved a frame point outwards; undo it to find where
                // the ideal (pinhole) image had it.
                let (dx, dy) = ((x - fcx) / norm, (y - fcy) / norm);
                let r2 = dx * dx + dy * dy;
                let f = 1.0 + k1 * r2;
                let (ux, uy) = (fcx + dx * f * norm, fcy + dy * f * norm);
                let z = inv[6] * ux + inv[7] * uy + inv[8];
                (
                    (inv[0] * ux + inv[1] * uy + inv[2]) / z,
                    (inv[3] * ux + inv[4] * uy + inv[5]) / z,
                )
            };
            // Light: a gradient across the frame, vignette, and a soft shadow band (a hand or
            // the phone) of 25-45 % darkening.
            let gdir = rng.range(0.0, std::f32::consts::TAU);
            let (gx, gy) = (gdir.cos(), gdir.sin());
            let gain = rng.range(0.25, 0.45);
            let sdir = rng.range(0.0, std::f32::consts::TAU);
            let (nx, ny) = (sdir.cos(), sdir.sin());
            let s_off = rng.range(-0.3, 0.3) * fh as f32;
            let s_width = rng.range(0.08, 0.2) * fh as f32;
            let s_depth = rng.range(0.25, 0.45);
            let light = move |x: f32, y: f32| {
                let (dx, dy) = ((x - fcx) / norm, (y - fcy) / norm);
                let grad = 1.0 - gain * (0.5 + 0.5 * (dx * gx + dy * gy) * 1.4).clamp(0.0, 1.0);
                let vig = 1.0 - 0.25 * (dx * dx + dy * dy);
                let d = (x - fcx) * nx + (y - fcy) * ny - s_off;
                let band = 1.0 - s_depth * (0.5 - 0.5 * (d.abs() / s_width - 1.0).clamp(-1.0, 1.0));
                grad * vig * band
            };
            let blur_len = rng.range(1.0, 5.0);
            let blur_dir = rng.range(0.0, std::f32::consts::PI);
            let taps = (blur_len.ceil() as usize).max(1) + 1;
            let (rgb, truth) = warp(
                sheet_rgb,
                sheet_truth,
                sw,
                sh,
                fw,
                fh,
                &map,
                taps,
                (blur_len * blur_dir.cos(), blur_len * blur_dir.sin()),
                rng,
                &light,
                label,
            );
            let (truth, design, labels) = unpack(&truth);
            let jpeg = encode(&rgb, fw, fh, quality, None);
            // The sheet's edges are where `warp` stops sampling it: half a pixel in.
            let (ex, ey) = (sw as f32 - 0.5, sh as f32 - 0.5);
            let page_corners = [(0.5, 0.5), (ex, 0.5), (ex, ey), (0.5, ey)].map(|(u, v)| {
                let z = hmat[6] * u + hmat[7] * v + hmat[8];
                let (ux, uy) = (
                    (hmat[0] * u + hmat[1] * v + hmat[2]) / z,
                    (hmat[3] * u + hmat[4] * v + hmat[5]) / z,
                );
                // The lens's inverse, as in `map`: solve r (1 + k1 r²) = r_ideal by bisection.
                let (dx, dy) = ((ux - fcx) / norm, (uy - fcy) / norm);
                let ru = dx.hypot(dy);
                let (mut lo, mut hi) = (0f32, ru);
                for _ in 0..40 {
                    let mid = (lo + hi) / 2.0;
                    if mid * (1.0 + k1 * mid * mid) < ru {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                let s = if ru > 0.0 { lo / ru } else { 1.0 };
                (fcx + dx * s * norm, fcy + dy * s * norm)
            });
            (
                Shot {
                    jpeg,
                    width: fw as u32,
                    height: fh as u32,
                    design,
                    truth,
                    stamps: plan.stamps,
                    quality,
                    page_corners: Some(page_corners),
                },
                labels,
            )
        }
    }
}

/// The page-to-frame homography (row-major 3 × 3) for a sheet of `sw` × `sh` px tilted by `ax`
/// and `ay` radians about its horizontal and vertical axes, rolled by `roll`, scaled by `scale`
/// at distance `focal`, centred in a `fw` × `fh` frame.
#[allow(clippy::too_many_arguments)]
fn homography(
    ax: f32,
    ay: f32,
    roll: f32,
    focal: f32,
    scale: f32,
    sw: f32,
    sh: f32,
    fw: f32,
    fh: f32,
) -> [f32; 9] {
    let (sx, cx) = ax.sin_cos();
    let (sy, cy) = ay.sin_cos();
    let (sr, cr) = roll.sin_cos();
    // R = Rz(roll) · Ry(ay) · Rx(ax)
    let rx = [1.0, 0.0, 0.0, 0.0, cx, -sx, 0.0, sx, cx];
    let ry = [cy, 0.0, sy, 0.0, 1.0, 0.0, -sy, 0.0, cy];
    let rz = [cr, -sr, 0.0, sr, cr, 0.0, 0.0, 0.0, 1.0];
    let r = mul3(&rz, &mul3(&ry, &rx));
    // Page point p = (u - sw/2, v - sh/2, 0) · scale; camera point = R p + (0, 0, focal);
    // frame = focal · (X / Z, Y / Z) + centre. As a matrix on (u, v, 1):
    let t = [
        scale,
        0.0,
        -scale * sw / 2.0,
        0.0,
        scale,
        -scale * sh / 2.0,
        0.0,
        0.0,
        1.0,
    ];
    // Columns of R for x and y, plus the translation (0, 0, focal).
    let m = [r[0], r[1], 0.0, r[3], r[4], 0.0, r[6], r[7], focal];
    let k = [
        focal,
        0.0,
        fw / 2.0 * 1.0,
        0.0,
        focal,
        fh / 2.0,
        0.0,
        0.0,
        1.0,
    ];
    mul3(&k, &mul3(&m, &t))
}

fn mul3(a: &[f32; 9], b: &[f32; 9]) -> [f32; 9] {
    let mut o = [0f32; 9];
    for r in 0..3 {
        for c in 0..3 {
            o[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
        }
    }
    o
}

fn invert3(m: &[f32; 9]) -> [f32; 9] {
    let [a, b, c, d, e, f, g, h, i] = m.map(f64::from);
    let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
    let inv = [
        (e * i - f * h) / det,
        (c * h - b * i) / det,
        (b * f - c * e) / det,
        (f * g - d * i) / det,
        (a * i - c * g) / det,
        (c * d - a * f) / det,
        (d * h - e * g) / det,
        (b * g - a * h) / det,
        (a * e - b * d) / det,
    ];
    inv.map(|v| v as f32)
}

/// Resamples the sheet into the capture frame through `map` (frame px → sheet px), averaging
/// `taps` samples along `blur` (motion), times `light`, plus noise; the truth follows the same
/// map: the coverage at the unblurred point, sampled as the picture is, held to one half.
#[allow(clippy::too_many_arguments)]
fn warp(
    src: &[[f32; 3]],
    truth: &[[f32; 2]],
    sw: usize,
    sh: usize,
    fw: usize,
    fh: usize,
    map: &dyn Fn(f32, f32) -> (f32, f32),
    taps: usize,
    blur: (f32, f32),
    rng: &mut Rng,
    light: &dyn Fn(f32, f32) -> f32,
    label: &dyn Fn(f32, f32) -> u8,
) -> (Vec<u8>, Vec<u8>) {
    let table = [0.32f32, 0.3, 0.27]; // what lies around the sheet (a desk)
    let sample = |x: f32, y: f32| -> [f32; 3] {
        let (x, y) = (x - 0.5, y - 0.5);
        if !(x >= 0.0 && y >= 0.0 && x < (sw - 1) as f32 && y < (sh - 1) as f32) {
            return table;
        }
        let (x0, y0) = (x as usize, y as usize);
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let i = y0 * sw + x0;
        let (a, b, c, d) = (src[i], src[i + 1], src[i + sw], src[i + sw + 1]);
        [0, 1, 2].map(|k| {
            let top = a[k] + (b[k] - a[k]) * tx;
            let bot = c[k] + (d[k] - c[k]) * tx;
            top + (bot - top) * ty
        })
    };
    let mut rgb = vec![0u8; fw * fh * 3];
    let mut out_truth = vec![0u8; fw * fh];
    let mut state = rng.next_u64();
    for y in 0..fh {
        for x in 0..fw {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut acc = [0f32; 3];
            for t in 0..taps {
                let k = if taps == 1 {
                    0.0
                } else {
                    t as f32 / (taps - 1) as f32 - 0.5
                };
                let (sx, sy) = map(fx + k * blur.0, fy + k * blur.1);
                let s = sample(sx, sy);
                for c in 0..3 {
                    acc[c] += s[c];
                }
            }
            let (sx, sy) = map(fx, fy);
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < sw && (sy as usize) < sh {
                // The coverage, sampled as the picture is (bilinear), then held to one half: bit
                // 0 the truth, bit 1 the design. Sampling a mask held to one half before the
                // warp instead would add the nearest pixel's jaggies, which no capture shows.
                let [t, d] = sample2(truth, sw, sh, sx, sy);
                out_truth[y * fw + x] =
                    u8::from(t >= 0.5) | u8::from(d >= 0.5) << 1 | label(sx, sy) << 2;
            }
            let l = light(fx, fy);
            // Cheap sensor noise (xorshift), about ±2 levels.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0;
            for c in 0..3 {
                let v = acc[c] / taps as f32 * l * 255.0 + noise;
                rgb[(y * fw + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    (rgb, out_truth)
}

/// Bilinear sample of a two-plane layer at (`x`, `y`) px, pixel centres at half-integers, held
/// at the edge.
fn sample2(v: &[[f32; 2]], w: usize, h: usize, x: f32, y: f32) -> [f32; 2] {
    let (x, y) = (
        (x - 0.5).clamp(0.0, (w - 1) as f32),
        (y - 0.5).clamp(0.0, (h - 1) as f32),
    );
    let (x0, y0) = (
        (x as usize).min(w.saturating_sub(2)),
        (y as usize).min(h.saturating_sub(2)),
    );
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let i = y0 * w + x0;
    let (a, b, c, d) = (v[i], v[i + 1], v[i + w], v[i + w + 1]);
    [0, 1].map(|k| {
        let top = a[k] + (b[k] - a[k]) * tx;
        let bot = c[k] + (d[k] - c[k]) * tx;
        top + (bot - top) * ty
    })
}

fn encode(rgb: &[u8], w: usize, h: usize, quality: u8, dpi: Option<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(d) = dpi {
        enc.set_pixel_density(PixelDensity::dpi(d as u16));
    }
    enc.write_image(rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .expect("in-memory JPEG");
    out
}

/// A page's four corners on a capture, px: top-left, top-right, bottom-right, bottom-left.
pub type Corners = [(f32, f32); 4];

/// The sheet the extractor locates on a capture (corners on the capture, px, top-left first,
/// clockwise), and the time locating it took (decoding not counted): wall-clock, and the CPU time
/// of this thread when the system tells it (see [`thread_cpu`]).
pub fn located_page(
    input: &[u8],
) -> Result<(Option<Corners>, Duration, Option<Duration>), crate::Error> {
    let page = crate::decode::decode_page(input)?;
    let (t, cpu) = (std::time::Instant::now(), thread_cpu());
    let sheet = crate::extract::locate_page(&page);
    let took = t.elapsed();
    let cpu = thread_cpu().zip(cpu).map(|(b, a)| b.saturating_sub(a));
    Ok((sheet.map(|s| s.corners), took, cpu))
}

/// CPU time the calling thread has run so far (Linux: `/proc/thread-self/schedstat`), for timing
/// on a busy machine, where wall-clock time counts the waits for a core; `None` elsewhere.
pub fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// What [`crate::extract`] gave before page location: every impression measured in the capture's
/// own coordinates, sized from the recorded resolution or the A4 guess (the frame's long side
/// taken as 297 mm). For comparisons.
pub fn extract_in_frame(
    input: &[u8],
    opts: &crate::ExtractOptions,
) -> Result<Vec<crate::Impression>, crate::Error> {
    let page = crate::decode::decode_page(input)?;
    crate::extract::find(&page, opts.ink)?
        .iter()
        .map(|f| crate::extract::finish_found(f, &page, opts))
        .collect()
}

/// How well one stamp of a form was cut out (see [`score_stamps`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StampScore {
    /// Which impression was matched to the stamp (the one whose box centre is nearest).
    pub impression: usize,
    /// Distance between the impression's box centre and the stamp outline's, mm.
    pub centre_off_mm: f64,
    /// Largest relative difference between the impression's box and the outline's box, width or
    /// height (0.03 is 3 %).
    pub size_off: f64,
    /// IoU of the impression's mask against the stamp's own ink, both taken outside the other
    /// stamps' outlines (where a picture can only hold this stamp's ink).
    pub iou: f64,
}

/// Extracts the impressions of a capture made by [`shoot_with_outlines`] and scores each stamp
/// against them ([`score_stamps`]).
pub fn extract_and_score(
    plan: &Plan,
    shot: &Shot,
    outline: &[u8],
    opts: &crate::ExtractOptions,
) -> Result<(Vec<crate::Impression>, Vec<StampScore>), crate::Error> {
    let found = crate::extract(&shot.jpeg, opts)?;
    let masks = super::impression_masks_with(&shot.jpeg, opts)?;
    let boxes: Vec<_> = found
        .iter()
        .map(|i| (i.x, i.y, i.width, i.height))
        .collect();
    let scores = score_stamps(plan, shot, outline, &boxes, &masks);
    Ok((found, scores))
}

/// Scores each stamp of a capture made by [`shoot_with_outlines`] against the impressions found
/// on it: their boxes on the page (x, y, width, height, px) and page-frame masks, in the same
/// order. One score per stamp, in the plan's order; empty when nothing was found.
pub fn score_stamps(
    plan: &Plan,
    shot: &Shot,
    outline: &[u8],
    boxes: &[(u32, u32, u32, u32)],
    masks: &[Vec<u8>],
) -> Vec<StampScore> {
    if boxes.is_empty() || boxes.len() != masks.len() {
        return Vec::new();
    }
    let w = shot.width as usize;
    let all = outline.iter().fold(0u8, |s, &l| s | l);
    plan.outlines
        .iter()
        .enumerate()
        .take(6)
        .map(|(k, o)| {
            let mine = 1u8 << k;
            let others = all & !mine;
            // The stamp's box and scale on the capture, from its outline.
            let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0usize);
            for (i, &l) in outline.iter().enumerate() {
                if l & mine != 0 {
                    let (x, y) = (i % w, i / w);
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                    n += 1;
                }
            }
            let px_per_mm = (n as f64 / f64::from(o.area_mm2())).sqrt().max(1e-9);
            let (cx, cy) = ((x0 + x1 + 1) as f64 / 2.0, (y0 + y1 + 1) as f64 / 2.0);
            let (bw, bh) = (
                (x1 + 1).saturating_sub(x0) as f64,
                (y1 + 1).saturating_sub(y0) as f64,
            );
            let off = |&(x, y, iw, ih): &(u32, u32, u32, u32)| {
                (f64::from(x) + f64::from(iw) / 2.0 - cx)
                    .hypot(f64::from(y) + f64::from(ih) / 2.0 - cy)
            };
            let (j, b) = boxes
                .iter()
                .enumerate()
                .min_by(|a, b| off(a.1).total_cmp(&off(b.1)))
                .expect("not empty");
            let size_off = (f64::from(b.2) / bw - 1.0)
                .abs()
                .max((f64::from(b.3) / bh - 1.0).abs());
            let (mut inter, mut union) = (0u64, 0u64);
            for ((&m, &t), &l) in masks[j].iter().zip(&shot.truth).zip(outline) {
                if l & others == 0 {
                    let t = t * u8::from(l & mine != 0);
                    inter += u64::from(m & t);
                    union += u64::from(m | t);
                }
            }
            StampScore {
                impression: j,
                centre_off_mm: off(b) / px_per_mm,
                size_off,
                iou: if union == 0 {
                    1.0
                } else {
                    inter as f64 / union as f64
                },
            }
        })
        .collect()
}
