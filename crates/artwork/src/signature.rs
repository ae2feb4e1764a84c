//! 手写签字: a handwritten signature, from a signature pad or from paper, made into the picture of a
//! personal signature seal at its registered size.
//!
//! **From the pad.** The browser pad (`web/signature-pad.js`, served as [`SIGNATURE_PAD_JS`])
//! records pointer events — mouse, finger or stylus — as strokes of points with pressure and time,
//! and posts them as JSON ([`SignaturePad::from_json`], the contract is documented there).
//! [`render_signature`] smooths each stroke (a centripetal Catmull-Rom curve through the points,
//! resampled every ~0.1 mm), gives each sample a width from the pen's pressure (or, for a mouse,
//! which reports none, from its speed: fast strokes are thinner, as with ink), trims the drawing
//! to its ink, fits it into the registered size and draws it as a transparent PNG and as an SVG
//! of filled outlines — the same geometry for both.
//!
//! **From paper.** [`extract_signature`] finds dark (black or blue) ink on a scan or photo of a
//! signature, against the local paper white, drops printed rules and specks, and returns the
//! signature trimmed and fitted the same way.

use serde::Deserialize;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Transform};

use crate::Error;
use crate::raster::encode_rgba_png;

/// The browser side of the signature pad: a dependency-free script that turns a `<canvas>` into a
/// pad and produces the JSON [`SignaturePad::from_json`] reads.
pub const SIGNATURE_PAD_JS: &str = include_str!("../web/signature-pad.js");

/// Most strokes, points per stroke and points in all accepted from a pad: a long signature has a
/// few dozen strokes and a few thousand points; these bound memory and time for hostile input.
pub const MAX_STROKES: usize = 200;
/// See [`MAX_STROKES`].
pub const MAX_POINTS: usize = 20_000;

/// What the pad posts (JSON). `width`/`height` are the pad's size in CSS px; points are in the
/// same units, origin top-left.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignaturePad {
    /// Contract version; 1.
    pub version: u32,
    /// Pad width, CSS px.
    pub width: f32,
    /// Pad height, CSS px.
    pub height: f32,
    /// Strokes in the order drawn.
    pub strokes: Vec<PadStroke>,
}

/// One pen-down … pen-up.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadStroke {
    /// `mouse`, `touch` or `pen` (the PointerEvent's `pointerType`).
    pub pointer: String,
    /// Points as `[x, y, pressure, t]`: CSS px, pressure 0..1 as reported (a mouse reports 0.5
    /// while pressed), ms since the first point of the signature.
    pub points: Vec<[f32; 4]>,
}

impl SignaturePad {
    /// Parses and checks the pad's JSON: version 1, a sane pad size, finite coordinates inside
    /// the pad (with a little slack), pressure 0..1, time not going backwards within a stroke,
    /// and at most [`MAX_STROKES`] strokes and [`MAX_POINTS`] points.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > 2 << 20 {
            return Err(Error::InvalidRequest(
                "签名数据过大 (signature data over 2 MiB)".into(),
            ));
        }
        let pad: SignaturePad = serde_json::from_slice(bytes).map_err(|e| {
            Error::InvalidRequest(format!("签名数据格式错误 (bad signature JSON): {e}"))
        })?;
        pad.check()?;
        Ok(pad)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |m: &str| {
            Err(Error::InvalidRequest(format!(
                "签名数据无效 (invalid signature): {m}"
            )))
        };
        if self.version != 1 {
            return bad("version must be 1");
        }
        if !(self.width.is_finite() && self.height.is_finite())
            || !(50.0..=10_000.0).contains(&self.width)
            || !(20.0..=10_000.0).contains(&self.height)
        {
            return bad("pad size out of range");
        }
        if self.strokes.len() > MAX_STROKES {
            return bad("too many strokes");
        }
        if self.strokes.iter().map(|s| s.points.len()).sum::<usize>() > MAX_POINTS {
            return bad("too many points");
        }
        let slack = 0.1 * self.width.max(self.height);
        for s in &self.strokes {
            if !matches!(s.pointer.as_str(), "mouse" | "touch" | "pen") {
                return bad("pointer must be mouse, touch or pen");
            }
            let mut last_t = f32::MIN;
            for p in &s.points {
                if !p.iter().all(|v| v.is_finite()) {
                    return bad("non-finite number");
                }
                if p[0] < -slack
                    || p[0] > self.width + slack
                    || p[1] < -slack
                    || p[1] > self.height + slack
                {
                    return bad("point outside the pad");
                }
                if !(0.0..=1.0).contains(&p[2]) {
                    return bad("pressure outside 0..1");
                }
                if p[3] < last_t {
                    return bad("time goes backwards");
                }
                last_t = p[3];
            }
        }
        if self.strokes.iter().all(|s| s.points.is_empty()) {
            return Err(Error::InvalidRequest(
                "签名为空，请先签字 (the signature is empty)".into(),
            ));
        }
        Ok(())
    }
}

/// How to draw the signature picture.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureOptions {
    /// The registered size, mm (width, height): the picture has exactly this size and the
    /// signature is fitted inside, centred, keeping its proportions. Default 40 × 20 mm.
    pub size_mm: (f32, f32),
    /// Output resolution (default 300; 72 to 1200).
    pub dpi: u32,
    /// Nominal pen width, mm at the registered size (default 0.6).
    pub pen_mm: f32,
    /// Ink colour (default a blue-black).
    pub colour: [u8; 3],
}

impl Default for SignatureOptions {
    fn default() -> Self {
        Self {
            size_mm: (40.0, 20.0),
            dpi: 300,
            pen_mm: 0.6,
            colour: [0x1A, 0x1F, 0x3A],
        }
    }
}

/// The picture of a signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureArt {
    /// Transparent RGBA PNG at the registered size and the requested dpi (`pHYs` set).
    pub png: Vec<u8>,
    /// The same drawing as SVG (filled outlines, `width`/`height` in mm).
    pub svg: String,
    /// Pixel size of the PNG.
    pub width: u32,
    /// Pixel size of the PNG.
    pub height: u32,
}

/// One sample of the smoothed stroke: position (pad px) and half width (pad px).
#[derive(Debug, Clone, Copy)]
struct Sample {
    x: f32,
    y: f32,
    r: f32,
}

/// Draws the pad's strokes as the signature picture.
pub fn render_signature(
    pad: &SignaturePad,
    opts: &SignatureOptions,
) -> Result<SignatureArt, Error> {
    pad.check()?;
    check_options(opts)?;
    // The drawing's extent in pad px, to fit it into the registered size.
    let pts = pad.strokes.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in pts {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    let px_per_mm = opts.dpi as f32 / 25.4;
    let (out_w, out_h) = (
        (opts.size_mm.0 * px_per_mm).round().max(1.0) as u32,
        (opts.size_mm.1 * px_per_mm).round().max(1.0) as u32,
    );
    crate::raster::check_output_size(out_w as usize, out_h as usize)?;
    // Fit with a margin of one pen width; a dot (all points equal) gets a nominal extent.
    let pen_px_out = opts.pen_mm * px_per_mm;
    let (dw, dh) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
    let room_w = (out_w as f32 - 3.0 * pen_px_out).max(1.0);
    let room_h = (out_h as f32 - 3.0 * pen_px_out).max(1.0);
    let scale = (room_w / dw).min(room_h / dh);
    let (ox, oy) = (
        (out_w as f32 - dw * scale) / 2.0 - x0 * scale,
        (out_h as f32 - dh * scale) / 2.0 - y0 * scale,
    );
    // Pen width in pad px, so that it is `pen_mm` at the registered size.
    let pen_pad = pen_px_out / scale;
    let step = (0.1 * px_per_mm / scale).max(0.05);
    let strokes: Vec<Vec<Sample>> = pad
        .strokes
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| smooth(s, pen_pad, step))
        .collect();
    let outline = outline_path(&strokes);

    // PNG: the outline in output px.
    let mut pixmap = Pixmap::new(out_w, out_h).ok_or_else(|| Error::Encode("pixmap".into()))?;
    let mut pb = PathBuilder::new();
    for sub in &outline {
        for (k, &(x, y)) in sub.iter().enumerate() {
            let (px, py) = (x * scale + ox, y * scale + oy);
            if k == 0 {
                pb.move_to(px, py);
            } else {
                pb.line_to(px, py);
            }
        }
        pb.close();
    }
    if let Some(path) = pb.finish() {
        let mut paint = Paint::default();
        let [r, g, b] = opts.colour;
        paint.set_color_rgba8(r, g, b, 255);
        paint.anti_alias = true;
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    // tiny-skia keeps premultiplied colour; the seal has one ink, so write it back straight.
    let mut rgba = Vec::with_capacity((out_w * out_h * 4) as usize);
    for p in pixmap.pixels() {
        let a = p.alpha();
        if a == 0 {
            rgba.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            rgba.extend_from_slice(&[opts.colour[0], opts.colour[1], opts.colour[2], a]);
        }
    }
    let png = encode_rgba_png(&rgba, out_w, out_h, opts.dpi)?;

    // SVG: the same outline in mm.
    let mm = |v: f32| v / px_per_mm;
    let mut d = String::new();
    for sub in &outline {
        for (k, &(x, y)) in sub.iter().enumerate() {
            let (px, py) = (mm(x * scale + ox), mm(y * scale + oy));
            d.push_str(&format!(
                "{}{px:.2} {py:.2}",
                if k == 0 { "M" } else { "L" }
            ));
        }
        d.push('Z');
    }
    let [r, g, b] = opts.colour;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\"><path fill=\"#{r:02x}{g:02x}{b:02x}\" fill-rule=\"nonzero\" d=\"{d}\"/></svg>\n",
        w = opts.size_mm.0,
        h = opts.size_mm.1
    );
    Ok(SignatureArt {
        png,
        svg,
        width: out_w,
        height: out_h,
    })
}

fn check_options(opts: &SignatureOptions) -> Result<(), Error> {
    let (w, h) = opts.size_mm;
    if !(10.0..=150.0).contains(&w) || !(5.0..=150.0).contains(&h) {
        return Err(Error::InvalidRequest(format!(
            "size {w}x{h} mm outside 10-150 x 5-150 mm"
        )));
    }
    if !(72..=1200).contains(&opts.dpi) {
        return Err(Error::InvalidRequest(format!(
            "dpi {} outside 72-1200",
            opts.dpi
        )));
    }
    if !(0.1..=3.0).contains(&opts.pen_mm) {
        return Err(Error::InvalidRequest(format!(
            "pen width {} mm outside 0.1-3 mm",
            opts.pen_mm
        )));
    }
    Ok(())
}

/// The stroke as samples every `step` pad px along a centripetal Catmull-Rom curve, each with a
/// half width from pressure (pen, touch) or speed (mouse).
fn smooth(s: &PadStroke, pen: f32, step: f32) -> Vec<Sample> {
    // Points closer than a fifth of the pen width add only jitter.
    let mut pts: Vec<[f32; 4]> = Vec::with_capacity(s.points.len());
    for p in &s.points {
        if pts
            .last()
            .is_none_or(|q: &[f32; 4]| (p[0] - q[0]).hypot(p[1] - q[1]) >= pen * 0.2)
        {
            pts.push(*p);
        }
    }
    // Browsers report 0.5 while pressed (0 on release) for hardware without pressure; any other
    // value from a pen or finger is real pressure.
    let varies = s.pointer != "mouse"
        && s.points
            .iter()
            .any(|p| p[2] > 0.0 && (p[2] - 0.5).abs() > 0.01);
    // Width factor per point: pressure 0..1 → 0.45..1.45 of the pen; without pressure (a mouse,
    // most fingers) → from speed: 0.1 px/ms and below full, thinner up to 1.5 px/ms.
    let factor = |k: usize| -> f32 {
        let p = pts[k];
        if varies {
            0.45 + p[2]
        } else if k == 0 {
            1.0
        } else {
            let q = pts[k - 1];
            let v = (p[0] - q[0]).hypot(p[1] - q[1]) / (p[3] - q[3]).max(1.0);
            (1.15 - 0.35 * ((v - 0.1) / 1.4).clamp(0.0, 1.0)).clamp(0.6, 1.15)
        }
    };
    let mut widths: Vec<f32> = (0..pts.len()).map(factor).collect();
    // Widths change smoothly (a pen does not jump), so average over neighbours.
    if widths.len() > 2 {
        let w0 = widths.clone();
        for k in 1..w0.len() - 1 {
            widths[k] = (w0[k - 1] + 2.0 * w0[k] + w0[k + 1]) / 4.0;
        }
    }
    let half = |k: usize| widths[k] * pen / 2.0;
    if pts.len() == 1 {
        return vec![Sample {
            x: pts[0][0],
            y: pts[0][1],
            r: half(0),
        }];
    }
    let mut out = Vec::new();
    let n = pts.len();
    for k in 0..n - 1 {
        let p0 = pts[k.saturating_sub(1)];
        let (p1, p2) = (pts[k], pts[k + 1]);
        let p3 = pts[(k + 2).min(n - 1)];
        let len = (p2[0] - p1[0]).hypot(p2[1] - p1[1]);
        let steps = ((len / step).ceil() as usize).clamp(1, 400);
        for j in 0..steps {
            let t = j as f32 / steps as f32;
            let (x, y) = catmull_rom(p0, p1, p2, p3, t);
            out.push(Sample {
                x,
                y,
                r: half(k) + (half(k + 1) - half(k)) * t,
            });
        }
    }
    out.push(Sample {
        x: pts[n - 1][0],
        y: pts[n - 1][1],
        r: half(n - 1),
    });
    out
}

/// Centripetal Catmull-Rom (α = ½) between p1 and p2: no cusps or loops inside a segment.
fn catmull_rom(p0: [f32; 4], p1: [f32; 4], p2: [f32; 4], p3: [f32; 4], t: f32) -> (f32, f32) {
    let knot = |a: [f32; 4], b: [f32; 4]| (a[0] - b[0]).hypot(a[1] - b[1]).sqrt().max(1e-3);
    let (t0, t1) = (0.0, knot(p0, p1));
    let t2 = t1 + knot(p1, p2);
    let t3 = t2 + knot(p2, p3);
    let u = t1 + (t2 - t1) * t;
    let lerp = |a: (f32, f32), b: (f32, f32), ta: f32, tb: f32| {
        let w = (u - ta) / (tb - ta);
        (a.0 + (b.0 - a.0) * w, a.1 + (b.1 - a.1) * w)
    };
    let (q0, q1, q2, q3) = (
        (p0[0], p0[1]),
        (p1[0], p1[1]),
        (p2[0], p2[1]),
        (p3[0], p3[1]),
    );
    let a1 = lerp(q0, q1, t0, t1);
    let a2 = lerp(q1, q2, t1, t2);
    let a3 = lerp(q2, q3, t2, t3);
    let b1 = lerp(a1, a2, t0, t2);
    let b2 = lerp(a2, a3, t1, t3);
    lerp(b1, b2, t1, t2)
}

/// The filled outline of the strokes: polygons all wound the same way, so that a nonzero fill
/// gives their union. Each stroke is a ribbon of its samples' widths, split where it turns
/// sharply (a fold would wind the other way), plus a disc at each end and at each split.
fn outline_path(strokes: &[Vec<Sample>]) -> Vec<Vec<(f32, f32)>> {
    let mut subs = Vec::new();
    for s in strokes {
        let disc = |c: Sample| -> Vec<(f32, f32)> {
            let n = 16;
            (0..n)
                .map(|k| {
                    let a = k as f32 * std::f32::consts::TAU / n as f32;
                    (c.x + c.r * a.cos(), c.y + c.r * a.sin())
                })
                .collect()
        };
        if let Some(&first) = s.first() {
            subs.push(disc(first));
        }
        if let Some(&last) = s.last() {
            subs.push(disc(last));
        }
        let mut run: Vec<Sample> = Vec::new();
        let flush = |run: &mut Vec<Sample>, subs: &mut Vec<Vec<(f32, f32)>>| {
            if run.len() >= 2 {
                subs.push(ribbon(run));
            }
            run.clear();
        };
        for (k, &p) in s.iter().enumerate() {
            run.push(p);
            if k > 0 && k + 1 < s.len() {
                let (a, b) = (s[k - 1], s[k + 1]);
                let (ux, uy) = (p.x - a.x, p.y - a.y);
                let (vx, vy) = (b.x - p.x, b.y - p.y);
                let cos = (ux * vx + uy * vy) / ((ux.hypot(uy) * vx.hypot(vy)).max(1e-6));
                if cos < 0.5 {
                    flush(&mut run, &mut subs);
                    subs.push(disc(p));
                    run.push(p);
                }
            }
        }
        flush(&mut run, &mut subs);
    }
    // Discs are drawn counter-clockwise (y down: clockwise on screen); make every polygon the
    // same way round.
    for sub in &mut subs {
        if signed_area(sub) < 0.0 {
            sub.reverse();
        }
    }
    subs
}

fn ribbon(run: &[Sample]) -> Vec<(f32, f32)> {
    let n = run.len();
    let normal = |k: usize| {
        let (a, b) = (run[k.saturating_sub(1)], run[(k + 1).min(n - 1)]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let l = dx.hypot(dy).max(1e-6);
        (-dy / l, dx / l)
    };
    let mut left = Vec::with_capacity(n);
    let mut right = Vec::with_capacity(n);
    for (k, s) in run.iter().enumerate() {
        let (nx, ny) = normal(k);
        left.push((s.x + nx * s.r, s.y + ny * s.r));
        right.push((s.x - nx * s.r, s.y - ny * s.r));
    }
    right.reverse();
    left.extend(right);
    left
}

fn signed_area(p: &[(f32, f32)]) -> f32 {
    let mut a = 0.0;
    for k in 0..p.len() {
        let (x0, y0) = p[k];
        let (x1, y1) = p[(k + 1) % p.len()];
        a += x0 * y1 - x1 * y0;
    }
    a / 2.0
}

/// The ink of a signature on paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PenInk {
    /// Whatever is darkest on the page: black or blue ballpoint, gel or fountain pen.
    #[default]
    Any,
    /// Black ink only (blue marks, such as a blue seal, are left out).
    Black,
    /// Blue ink only (black print is left out).
    Blue,
}

/// How to cut a signature off paper.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperSignatureOptions {
    /// Which ink the signature is in.
    pub ink: PenInk,
    /// Registered size, resolution and colour of the picture (the pen width is not used: the
    /// strokes keep the width they have on paper).
    pub picture: SignatureOptions,
}

impl Default for PaperSignatureOptions {
    fn default() -> Self {
        Self {
            ink: PenInk::Any,
            picture: SignatureOptions::default(),
        }
    }
}

/// Cuts a signature written on paper (black or blue ink) out of a scan or photo of it, as a
/// transparent PNG at the registered size. Printed rules (long straight lines, such as the line
/// one signs on) and specks are dropped. Errors: [`Error::NoImpression`] when no handwriting is
/// found, and the format and size errors of [`crate::extract`].
pub fn extract_signature(
    input: &[u8],
    opts: &PaperSignatureOptions,
) -> Result<SignatureArt, Error> {
    check_options(&opts.picture)?;
    let page = crate::decode::decode_page(input)?;
    let (w, h, cov) = crate::extract::pen_coverage(&page, opts.ink)?;
    // Keep handwriting: drop components that are specks or long thin straight lines.
    let px_per_mm = page.dpi.map_or(w.max(h) as f32 / 120.0, |d| d / 25.4);
    let keep = crate::extract::handwriting(&cov, w, h, px_per_mm);
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if keep[y * w + x] > 0.0 {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x1 < x0 {
        return Err(Error::NoImpression);
    }
    let px_per_mm_out = opts.picture.dpi as f32 / 25.4;
    let (out_w, out_h) = (
        (opts.picture.size_mm.0 * px_per_mm_out).round().max(1.0) as usize,
        (opts.picture.size_mm.1 * px_per_mm_out).round().max(1.0) as usize,
    );
    crate::raster::check_output_size(out_w, out_h)?;
    let (dw, dh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
    let margin = 0.05 * out_w.min(out_h) as f32;
    let scale = ((out_w as f32 - 2.0 * margin) / dw).min((out_h as f32 - 2.0 * margin) / dh);
    let (ox, oy) = (
        (out_w as f32 - dw * scale) / 2.0,
        (out_h as f32 - dh * scale) / 2.0,
    );
    let mut plane = crate::raster::Plane::new(x1 - x0 + 1, y1 - y0 + 1);
    for y in y0..=y1 {
        let row = &keep[y * w + x0..=y * w + x1];
        plane.v[(y - y0) * plane.w..(y - y0 + 1) * plane.w].copy_from_slice(row);
    }
    let factor = ((1.0 / scale).floor() as usize).max(1);
    let src = plane.shrink(factor);
    let inv = 1.0 / factor as f32;
    let [r, g, b] = opts.picture.colour;
    let mut rgba = vec![0u8; out_w * out_h * 4];
    for v in 0..out_h {
        for u in 0..out_w {
            let sx = (u as f32 + 0.5 - ox) / scale;
            let sy = (v as f32 + 0.5 - oy) / scale;
            let a = src.sample(sx * inv, sy * inv);
            let a8 = (a * 255.0).round().clamp(0.0, 255.0) as u8;
            if a8 > 0 {
                rgba[(v * out_w + u) * 4..][..4].copy_from_slice(&[r, g, b, a8]);
            }
        }
    }
    let png = encode_rgba_png(&rgba, out_w as u32, out_h as u32, opts.picture.dpi)?;
    // The SVG embeds the PNG: a scanned signature has no vector form.
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\"><image width=\"{w}\" height=\"{h}\" href=\"data:image/png;base64,{}\"/></svg>\n",
        base64(&png),
        w = opts.picture.size_mm.0,
        h = opts.picture.size_mm.1
    );
    Ok(SignatureArt {
        png,
        svg,
        width: out_w as u32,
        height: out_h as u32,
    })
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}
