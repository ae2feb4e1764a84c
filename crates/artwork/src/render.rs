//! Vector drawings of standard seals, rasterised at any dpi.
//!
//! Every seal is laid out in millimetres around its centre (x right, y down), following the
//! conventions in `shared/reference/standards.md` §5: a template holds the numbers for the standard
//! size and is scaled when another size is asked for. Glyphs come from the embedded font and are
//! placed one by one, which is what the seal rules need (arc span and squeeze chosen per character
//! count, never a text-on-path engine that drops what does not fit).

use std::f32::consts::PI;

use tiny_skia::{FillRule, Mask, Path, PathBuilder, Stroke, Transform};

use crate::template::{FrameTemplate, OvalTemplate, RoundTemplate, SquareTemplate, Templates};
use crate::{Error, font, raster};

/// The kind of seal to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Round enterprise seal: rim, five-pointed star, name arced along the top, seal name below the
    /// star, optional 13-digit seal code along the bottom arc. 42 mm by default.
    Round,
    /// Oval seal (the 发票专用章 layout): name along the top, code (e.g. the taxpayer number) on the
    /// centre line, seal name below. 40 × 30 mm by default.
    Oval,
    /// Square personal seal (法定代表人章): 2 × 2 characters read in columns right to left, or 3
    /// characters with the surname in a tall right column. 20 × 20 mm by default.
    Square,
    /// Professional-registration seal frame (注册建造师执业印章): two concentric ovals, the title
    /// along the band, holder name and registration number inside. 50 × 36 mm, dark blue.
    Frame,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRequest {
    /// The kind of seal.
    pub style: Style,
    /// Organisation name (round, oval), holder name (square, frame).
    pub name: String,
    /// Seal name such as 合同专用章 (round, oval); the suffix after the name for square seals
    /// (default 之印 for 2-character names, 印 for 3; `Some("")` for none); the heading of a frame.
    pub title: Option<String>,
    /// 13-digit seal code (round), taxpayer number (oval), registration number (frame).
    pub code: Option<String>,
    /// Physical size in mm (width, height); `None` for the style's standard size.
    pub size_mm: Option<(f32, f32)>,
    /// Output resolution, dots per inch (72 to 2400).
    pub dpi: u32,
}

impl RenderRequest {
    /// A request for `style` with `name`, the standard size and 300 dpi.
    pub fn new(style: Style, name: impl Into<String>) -> Self {
        Self {
            style,
            name: name.into(),
            title: None,
            code: None,
            size_mm: None,
            dpi: 300,
        }
    }
}

/// Draws the seal and returns it as an RGBA PNG with a transparent background, with the standard
/// templates ([`Templates::default`]).
pub fn render(req: &RenderRequest) -> Result<Vec<u8>, Error> {
    render_with(req, &Templates::default())
}

/// Draws the seal with the given templates (other sizes, rim widths, spans or colours).
pub fn render_with(req: &RenderRequest, templates: &Templates) -> Result<Vec<u8>, Error> {
    let drawing = layout_with(req, templates)?;
    let (w, h) = drawing.pixel_size(req.dpi);
    raster::check_output_size(w as usize, h as usize)?;
    let px_per_mm = req.dpi as f32 / 25.4;
    let to_px =
        Transform::from_translate(w as f32 / 2.0, h as f32 / 2.0).pre_scale(px_per_mm, px_per_mm);
    let alpha = drawing.rasterise(w, h, to_px)?;
    raster::encode_png(&alpha, w, h, drawing.colour, req.dpi)
}

/// A seal laid out in mm around its centre: filled outlines in one ink.
pub(crate) struct Drawing {
    pub width_mm: f32,
    pub height_mm: f32,
    pub colour: [u8; 3],
    pub paths: Vec<Path>,
}

impl Drawing {
    fn new(width_mm: f32, height_mm: f32, colour: [u8; 3], paths: Vec<Path>) -> Self {
        Self {
            width_mm,
            height_mm,
            colour,
            paths,
        }
    }

    /// The raster size at `dpi`, at least 1 × 1.
    pub fn pixel_size(&self, dpi: u32) -> (u32, u32) {
        let px = |mm: f32| ((mm * dpi as f32 / 25.4).round() as u32).max(1);
        (px(self.width_mm), px(self.height_mm))
    }

    /// Coverage (0-255) of the drawing on a `w` × `h` raster, with `to_px` mapping mm to pixels.
    pub fn rasterise(&self, w: u32, h: u32, to_px: Transform) -> Result<Vec<u8>, Error> {
        let mut mask = Mask::new(w, h)
            .ok_or_else(|| Error::InvalidRequest(format!("bad raster size {w}x{h}")))?;
        for p in &self.paths {
            mask.fill_path(p, FillRule::Winding, true, to_px);
        }
        Ok(mask.data().to_vec())
    }
}

/// Largest seal side accepted, mm, and the dpi range; together they bound the raster at
/// 150 mm × 2400 dpi ≈ 14 000 px a side, under the crate's pixel budget.
const MAX_SIDE_MM: f32 = 150.0;
const DPI_RANGE: std::ops::RangeInclusive<u32> = 72..=2400;

/// Lays out the seal in mm with the standard templates; validates the request.
#[cfg(feature = "testkit")]
pub(crate) fn layout(req: &RenderRequest) -> Result<Drawing, Error> {
    layout_with(req, &Templates::default())
}

fn layout_with(req: &RenderRequest, t: &Templates) -> Result<Drawing, Error> {
    if !DPI_RANGE.contains(&req.dpi) {
        return Err(Error::InvalidRequest(format!(
            "dpi {} outside 72-2400",
            req.dpi
        )));
    }
    let name: String = req.name.chars().filter(|c| !c.is_whitespace()).collect();
    if name.is_empty() {
        return Err(Error::InvalidRequest("名称为空 (empty name)".into()));
    }
    font::check_text(&name)?;
    if let Some(t) = &req.title {
        font::check_text(t)?;
    }
    if let Some(c) = &req.code {
        font::check_text(c)?;
    }
    // Checked whether the size comes from the request or from a (caller-supplied) template.
    let (w, h) = req.size_mm.unwrap_or(match req.style {
        Style::Round => (t.round.diameter_mm, t.round.diameter_mm),
        Style::Oval => (t.oval.width_mm, t.oval.height_mm),
        Style::Square => (t.square.side_mm, t.square.side_mm),
        Style::Frame => (t.frame.width_mm, t.frame.height_mm),
    });
    if !(5.0..=MAX_SIDE_MM).contains(&w) || !(5.0..=MAX_SIDE_MM).contains(&h) {
        return Err(Error::InvalidRequest(format!(
            "size {w}x{h} mm outside 5-{MAX_SIDE_MM} mm"
        )));
    }
    let title = req
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let code = req.code.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let text = Text {
        name: &name,
        title,
        code,
    };
    match req.style {
        Style::Round => {
            if let Some(c) = code
                && !(c.len() == 13 && c.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(Error::InvalidRequest(format!(
                    "印章编码须为13位数字 (seal code must be 13 digits): {c}"
                )));
            }
            if (w - h).abs() > 0.01 {
                return Err(Error::InvalidRequest(
                    "a round seal needs equal width and height".into(),
                ));
            }
            Ok(round(&t.round, w, &text))
        }
        Style::Oval => Ok(oval(&t.oval, w, h, &text)),
        Style::Square => square(&t.square, w, h, &name, req.title.as_deref()),
        Style::Frame => Ok(frame(&t.frame, w, h, &text)),
    }
}

/// The round enterprise seal: the template scaled to diameter `d`.
fn round(t: &RoundTemplate, d: f32, text: &Text<'_>) -> Drawing {
    let Text { name, title, code } = *text;
    let s = d / t.diameter_mm;
    let r = d / 2.0;
    let rim = t.rim_mm * s;
    let mut paths = Vec::new();
    paths.extend(ellipse_ring(r - rim / 2.0, r - rim / 2.0, rim));
    let star_r = t.star_radius_mm * s;
    paths.extend(star(star_r, star_r * t.star_inner_ratio));
    let name_h = t.name_height_mm * s;
    let rc = r - rim - t.name_gap_mm * s - name_h / 2.0;
    let (min_deg, max_deg) = t.name_span_deg;
    let span = arc_text(
        &mut paths,
        name,
        rc,
        rc,
        name_h,
        Arc::Top { min_deg, max_deg },
        t.name_squeeze,
    );
    if let Some(title) = title {
        let h = t.title_height_mm * s;
        // The top edge sits below the star's lower points.
        let y = t.title_top_mm * s + h / 2.0;
        let half_chord = (rc * rc - (y + h / 2.0) * (y + h / 2.0)).max(0.0).sqrt();
        // A long name's arc comes down beside the seal name: keep clear of its last glyphs.
        let arc_end_x = rc * (span / 2.0).sin().abs();
        let room = if span / 2.0 > PI / 2.0 {
            arc_end_x - 0.6 * name_h
        } else {
            half_chord - s
        };
        line_text(
            &mut paths,
            title,
            0.0,
            y,
            h,
            t.title_squeeze,
            2.0 * room.min(half_chord - s),
        );
    }
    if let Some(c) = code {
        let h = t.code_height_mm * s;
        let rc = r - rim - t.code_inset_mm * s;
        let _ = arc_text(
            &mut paths,
            c,
            rc,
            rc,
            h,
            Arc::Bottom {
                span_deg: t.code_span_deg,
            },
            0.6,
        );
    }
    Drawing::new(d, d, t.colour, paths)
}

/// The oval seal: the template scaled per axis to `w` × `h`.
fn oval(t: &OvalTemplate, w: f32, h: f32, text: &Text<'_>) -> Drawing {
    let Text { name, title, code } = *text;
    let (sx, sy) = (w / t.width_mm, h / t.height_mm);
    let s = sx.min(sy);
    let rim = t.rim_mm * s;
    let (a, b) = (w / 2.0, h / 2.0);
    let mut paths = Vec::new();
    paths.extend(ellipse_ring(a - rim / 2.0, b - rim / 2.0, rim));
    let name_h = t.name_height_mm * s;
    let inset = rim + t.name_gap_mm * s + name_h / 2.0;
    let (min_deg, max_deg) = t.name_span_deg;
    let _ = arc_text(
        &mut paths,
        name,
        a - inset,
        b - inset,
        name_h,
        Arc::Top { min_deg, max_deg },
        t.name_squeeze,
    );
    if let Some(c) = code {
        // Digits take 0.55 em in `line_text`, so this squeeze gives the template's digit width.
        let ch = t.code_height_mm * s;
        let squeeze = t.code_digit_width_mm * s / (0.55 * ch);
        line_text(&mut paths, c, 0.0, 0.0, ch, squeeze, t.code_width_mm * sx);
    }
    if let Some(title) = title {
        let th = t.title_height_mm * s;
        let squeeze = t.title_char_width_mm / t.title_height_mm;
        line_text(
            &mut paths,
            title,
            0.0,
            t.title_top_mm * sy + th / 2.0,
            th,
            squeeze,
            2.0 * (a - inset) * 0.8,
        );
    }
    Drawing::new(w, h, t.colour, paths)
}

/// The square personal seal: rim and the characters in columns read right to left.
fn square(
    t: &SquareTemplate,
    w: f32,
    h: f32,
    name: &str,
    suffix: Option<&str>,
) -> Result<Drawing, Error> {
    let n = name.chars().count();
    let suffix = match suffix {
        Some(s) => s.trim().to_string(),
        None if n == 2 => "之印".to_string(),
        None if n == 3 => "印".to_string(),
        None => String::new(),
    };
    let text: Vec<char> = name.chars().chain(suffix.chars()).collect();
    if !(2..=6).contains(&text.len()) {
        return Err(Error::InvalidRequest(format!(
            "方章需2至6个字 (a square seal holds 2-6 characters, got {})",
            text.len()
        )));
    }
    let s = w.min(h) / t.side_mm;
    let rim = t.rim_mm * s;
    let pad = t.padding_mm * s;
    let mut paths = Vec::new();
    let mut pb = PathBuilder::new();
    if let Some(rect) = tiny_skia::Rect::from_ltrb(
        -w / 2.0 + rim / 2.0,
        -h / 2.0 + rim / 2.0,
        w / 2.0 - rim / 2.0,
        h / 2.0 - rim / 2.0,
    ) {
        pb.push_rect(rect);
    }
    if let Some(p) = pb.finish() {
        paths.extend(stroked(&p, rim));
    }
    // Columns of two, right to left; an odd count gives the first (surname) column one tall glyph.
    let cols = if text.len() == 2 {
        2
    } else {
        text.len().div_ceil(2)
    };
    let inner_w = w - 2.0 * (rim + pad);
    let inner_h = h - 2.0 * (rim + pad);
    let col_w = inner_w / cols as f32;
    let mut chars = text.iter();
    for col in 0..cols {
        let cx = w / 2.0 - rim - pad - col_w * (col as f32 + 0.5);
        let rows = if text.len() == 2 || (text.len() % 2 == 1 && col == 0) {
            1
        } else {
            2
        };
        let row_h = inner_h / rows as f32;
        for row in 0..rows {
            let Some(&c) = chars.next() else { break };
            let cy = -h / 2.0 + rim + pad + row_h * (row as f32 + 0.5);
            // Fill the cell: height from the row, width from the column.
            let gh = row_h * 0.98;
            place_glyph(&mut paths, c, cx, cy, 0.0, gh, (col_w * 0.98 / gh).min(1.6));
        }
    }
    Ok(Drawing::new(w, h, t.colour, paths))
}

/// The professional-registration frame: outer and inner ovals, heading along the band, name and
/// number inside.
fn frame(t: &FrameTemplate, w: f32, h: f32, text: &Text<'_>) -> Drawing {
    let Text { name, title, code } = *text;
    let (sx, sy) = (w / t.width_mm, h / t.height_mm);
    let s = sx.min(sy);
    let (a, b) = (w / 2.0, h / 2.0);
    let (ia, ib) = (t.inner_width_mm / 2.0 * sx, t.inner_height_mm / 2.0 * sy);
    let mut paths = Vec::new();
    let outer = t.outer_line_mm * s;
    paths.extend(ellipse_ring(a - outer / 2.0, b - outer / 2.0, outer));
    paths.extend(ellipse_ring(ia, ib, t.inner_line_mm * s));
    let heading = title.unwrap_or(&t.heading);
    let (ra, rb) = ((a + ia) / 2.0, (b + ib) / 2.0);
    let band = Arc::Top {
        min_deg: 200.0,
        max_deg: 250.0,
    };
    let _ = arc_text(
        &mut paths,
        heading,
        ra,
        rb,
        t.heading_height_mm * s,
        band,
        0.75,
    );
    let name_y = if code.is_some() { -2.8 * sy } else { 0.0 };
    line_text(
        &mut paths,
        name,
        0.0,
        name_y,
        t.name_height_mm * s,
        1.0,
        2.0 * ia * 0.85,
    );
    if let Some(c) = code {
        line_text(
            &mut paths,
            c,
            0.0,
            4.2 * sy,
            t.code_height_mm * s,
            0.7,
            2.0 * ia * 0.8,
        );
    }
    Drawing::new(w, h, t.colour, paths)
}

/// The texts of a seal, trimmed: the name, and the optional title and code.
#[derive(Clone, Copy)]
struct Text<'a> {
    name: &'a str,
    title: Option<&'a str>,
    code: Option<&'a str>,
}

/// Where along an ellipse a line of characters runs.
enum Arc {
    /// Clockwise along the top, centred on it, over a span chosen from the text length.
    Top { min_deg: f32, max_deg: f32 },
    /// Left to right along the bottom, upright, over a fixed span.
    Bottom { span_deg: f32 },
}

/// Places `text` with glyph centres on the ellipse of semi-axes `a`, `b`, each glyph's up pointing
/// outward (top) or to the centre (bottom), spaced evenly along the arc length. Returns the span
/// used, radians.
fn arc_text(
    paths: &mut Vec<Path>,
    text: &str,
    a: f32,
    b: f32,
    h: f32,
    arc: Arc,
    squeeze: f32,
) -> f32 {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    if n == 0 || a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    let mean_r = (a + b) / 2.0;
    let (span, top) = match arc {
        Arc::Top { min_deg, max_deg } => {
            let wanted = n as f32 * (h * squeeze + 0.6 * h / 6.5) / mean_r;
            (
                wanted.clamp(min_deg.to_radians(), max_deg.to_radians()),
                true,
            )
        }
        Arc::Bottom { span_deg } => (span_deg.to_radians(), false),
    };
    // Ends as polar angles (math convention, y up); top runs clockwise, bottom counter-clockwise.
    let (phi0, phi1) = if top {
        (PI / 2.0 + span / 2.0, PI / 2.0 - span / 2.0)
    } else {
        (1.5 * PI - span / 2.0, 1.5 * PI + span / 2.0)
    };
    // Polar angle → ellipse parameter, unwrapped to follow phi monotonically.
    let param = |phi: f32| {
        let t = (a * phi.sin()).atan2(b * phi.cos());
        t + 2.0 * PI * ((phi - t) / (2.0 * PI)).round()
    };
    let (t0, t1) = (param(phi0), param(phi1));
    const STEPS: usize = 720;
    let mut cum = Vec::with_capacity(STEPS + 1);
    cum.push(0.0f32);
    let point = |t: f32| (a * t.cos(), b * t.sin());
    let mut prev = point(t0);
    for i in 1..=STEPS {
        let p = point(t0 + (t1 - t0) * i as f32 / STEPS as f32);
        let last = cum[i - 1];
        cum.push(last + ((p.0 - prev.0).powi(2) + (p.1 - prev.1).powi(2)).sqrt());
        prev = p;
    }
    let length = cum[STEPS];
    // Never let neighbouring glyphs overlap: squeeze the width, keep the height (seal convention).
    let squeeze = squeeze.min(0.92 * length / n as f32 / h);
    for (k, &c) in chars.iter().enumerate() {
        let target = length * (k as f32 + 0.5) / n as f32;
        let i = cum.partition_point(|&l| l < target).min(STEPS);
        let t = t0 + (t1 - t0) * i as f32 / STEPS as f32;
        let (x, y_up) = point(t);
        let normal = (a * t.sin()).atan2(b * t.cos());
        let rot_deg = if top {
            90.0 - normal.to_degrees()
        } else {
            -(normal.to_degrees() + 90.0)
        };
        place_glyph(paths, c, x, -y_up, rot_deg, h, squeeze);
    }
    span
}

/// Places `text` horizontally, centred on (`cx`, `cy`), squeezed further to fit `max_width`.
pub(crate) fn line_text(
    paths: &mut Vec<Path>,
    text: &str,
    cx: f32,
    cy: f32,
    h: f32,
    squeeze: f32,
    max_width: f32,
) {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return;
    }
    // Latin characters and digits take half the width of a hanzi.
    let widths: Vec<f32> = chars
        .iter()
        .map(|c| if c.is_ascii() { 0.55 } else { 1.0 })
        .collect();
    let units: f32 = widths.iter().sum::<f32>() + 0.08 * (chars.len() - 1) as f32;
    let squeeze = squeeze.min(max_width.max(h) / (units * h));
    let total = units * h * squeeze;
    let mut x = cx - total / 2.0;
    for (c, wu) in chars.iter().zip(&widths) {
        let cw = wu * h * squeeze;
        place_glyph(paths, *c, x + cw / 2.0, cy, 0.0, h, squeeze);
        x += cw + 0.08 * h * squeeze;
    }
}

/// Adds glyph `c`, em box `h` high and `squeeze` × `h` wide, centred on (`cx`, `cy`) and rotated
/// clockwise by `rot_deg`. Characters were checked against the font before layout.
fn place_glyph(
    paths: &mut Vec<Path>,
    c: char,
    cx: f32,
    cy: f32,
    rot_deg: f32,
    h: f32,
    squeeze: f32,
) {
    let Ok(g) = font::glyph(c) else { return };
    let Some(path) = g.path.clone() else { return };
    let t = Transform::from_translate(cx, cy)
        .pre_rotate(rot_deg)
        .pre_concat(font::centred_glyph_transform(&g, h, squeeze));
    if let Some(p) = path.transform(t) {
        paths.push(p);
    }
}

/// A ring of line width `width` centred on the ellipse with semi-axes `a`, `b`.
fn ellipse_ring(a: f32, b: f32, width: f32) -> Option<Path> {
    let rect = tiny_skia::Rect::from_ltrb(-a, -b, a, b)?;
    let p = PathBuilder::from_oval(rect)?;
    stroked(&p, width)
}

/// The outline of `p` stroked with `width`, as a fillable path (so one coverage mask holds all).
fn stroked(p: &Path, width: f32) -> Option<Path> {
    let stroke = Stroke {
        width,
        ..Stroke::default()
    };
    // res_scale: the drawing is in mm and rasterised at up to ~100 px/mm.
    p.stroke(&stroke, 100.0)
}

/// The five-pointed star centred on the origin, one point straight up.
fn star(outer: f32, inner: f32) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for i in 0..10 {
        let r = if i % 2 == 0 { outer } else { inner };
        let ang = (90.0 + 36.0 * i as f32).to_radians();
        let (x, y) = (r * ang.cos(), -r * ang.sin());
        if i == 0 {
            pb.move_to(x, y)
        } else {
            pb.line_to(x, y)
        }
    }
    pb.close();
    pb.finish()
}
