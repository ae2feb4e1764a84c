//! Synthetic 印模采集表 forms with known truth, for the quality test, the benchmark and the sample
//! forms (feature `testkit`; not part of the product API).
//!
//! A form is drawn as vector layers on a page: paper with texture and uneven light, printed labels
//! and table lines, one to three seals stamped in red ink (random style, text, ink density, a
//! rotation of up to 5°), a handwritten-like signature crossing one seal, then blur and JPEG
//! compression at quality 60-90. The truth is the seal coverage before any degradation: a pixel is
//! seal ink when its coverage is at least one half.

pub mod capture;

use image::ImageEncoder;
use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use tiny_skia::{FillRule, Mask, PathBuilder, Stroke, Transform};

use crate::decode::decode_page;
use crate::extract::find;
use crate::render::{RenderRequest, Style, layout, line_text};
use crate::{Error, font};

/// A small deterministic generator (SplitMix64), so a seed gives the same forms on every machine
/// and every version of every dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The page and resolution of a generated form.
#[derive(Debug, Clone, Copy)]
pub struct FormSpec {
    /// Page width, mm.
    pub width_mm: f32,
    /// Page height, mm.
    pub height_mm: f32,
    /// Scan resolution.
    pub dpi: f32,
}

impl FormSpec {
    /// A full A4 page at 300 dpi (2480 × 3508 px), as the benchmark uses.
    pub const A4_300: FormSpec = FormSpec {
        width_mm: 210.0,
        height_mm: 297.0,
        dpi: 300.0,
    };
    /// An A4 page at 150 dpi (1240 × 1754 px), for the quick quality set.
    pub const A4_150: FormSpec = FormSpec {
        width_mm: 210.0,
        height_mm: 297.0,
        dpi: 150.0,
    };
    /// The lower half of an A4 form (A5 landscape, 210 × 148 mm) at 300 dpi: 2480 × 1748 px, the
    /// quality set's page, half the pixels of a full form with the same seals.
    pub const HALF_A4_300: FormSpec = FormSpec {
        width_mm: 210.0,
        height_mm: 148.0,
        dpi: 300.0,
    };
}

/// What was stamped where.
#[derive(Debug, Clone)]
pub struct SealTruth {
    /// The style drawn.
    pub style: Style,
    /// Centre on the page, px.
    pub centre: (f32, f32),
    /// Rotation on the page, degrees clockwise.
    pub angle_deg: f32,
    /// Physical size, mm.
    pub size_mm: (f32, f32),
    /// The request, to render the same seal again.
    pub request: RenderRequest,
}

/// A generated form and its truth.
#[derive(Debug, Clone)]
pub struct Form {
    /// The scan, JPEG.
    pub jpeg: Vec<u8>,
    /// Page width, px.
    pub width: u32,
    /// Page height, px.
    pub height: u32,
    /// Truth: 1 where a seal's ink covers at least half the pixel, else 0; row-major.
    pub truth: Vec<u8>,
    /// The seals, left to right.
    pub seals: Vec<SealTruth>,
    /// JPEG quality used.
    pub quality: u8,
}

const COMPANIES: &[&str] = &[
    "南昌市红谷滩新区星辰科技有限公司",
    "江西赣江新区云图信息技术有限公司",
    "北京华夏建设工程有限公司",
    "上海浦江贸易发展股份有限公司",
    "深圳市前海明德咨询服务有限公司",
    "杭州西湖文化传媒有限公司",
    "广州白云机电设备制造有限公司",
    "成都锦城物流有限公司",
    "武汉长江水利工程咨询有限公司",
    "九江市庐山旅游开发有限责任公司",
];
const TITLES: &[&str] = &[
    "合同专用章",
    "财务专用章",
    "发票专用章",
    "人事专用章",
    "业务专用章",
];
const PEOPLE: &[&str] = &[
    "张三",
    "李四",
    "王小明",
    "赵建国",
    "陈静",
    "刘德华",
    "周",
    "孙丽华",
];
const LABELS: &[&str] = &[
    "单位名称",
    "统一社会信用代码",
    "法定代表人",
    "经办人及联系电话",
    "印章名称",
    "印章编码",
    "申请日期",
    "备注",
];
const FILLER: &str = "本单位承诺以上所填信息及印模真实有效如有虚假愿承担相应法律责任特此声明";

/// Draws one synthetic form. The same `seed` and `spec` always give the same bytes.
pub fn generate(seed: u64, spec: FormSpec) -> Form {
    generate_in(seed, spec, false)
}

/// Like [`generate`], but every seal is stamped in dark blue ink (as registered-constructor seals
/// are) and the signature is in black: a blue ballpoint over a blue seal cannot be told apart
/// by anyone.
pub fn generate_blue(seed: u64, spec: FormSpec) -> Form {
    generate_in(seed, spec, true)
}

fn generate_in(seed: u64, spec: FormSpec, blue: bool) -> Form {
    let mut rng = Rng::new(seed);
    let px_per_mm = spec.dpi / 25.4;
    let w = (spec.width_mm * px_per_mm).round() as u32;
    let h = (spec.height_mm * px_per_mm).round() as u32;
    let page_angle = rng.range(-4.0, 4.0);
    let (pcx, pcy) = (spec.width_mm / 2.0, spec.height_mm / 2.0);
    // mm on the paper → px on the scan, with the whole sheet slightly rotated on the scanner.
    let to_px = Transform::from_scale(px_per_mm, px_per_mm)
        .pre_translate(pcx, pcy)
        .pre_rotate(page_angle)
        .pre_translate(-pcx, -pcy);

    // Printed layer: title, labelled table rows, filler text.
    let mut print = Vec::new();
    line_text(&mut print, "印模采集表", pcx, 22.0, 8.0, 1.0, 120.0);
    // A half page (the stamping half of the form) keeps three table rows and drops the footer.
    let short = spec.height_mm < 200.0;
    let rows = if short { 3 } else { 8 };
    let (tx0, tx1, ty0, row_h) = (20.0f32, spec.width_mm - 20.0, 35.0f32, 12.0f32);
    let mut lines = PathBuilder::new();
    for r in 0..=rows {
        let y = ty0 + r as f32 * row_h;
        lines.move_to(tx0, y);
        lines.line_to(tx1, y);
    }
    for x in [tx0, tx0 + 45.0, tx1] {
        lines.move_to(x, ty0);
        lines.line_to(x, ty0 + rows as f32 * row_h);
    }
    for (r, label) in LABELS.iter().enumerate().take(rows) {
        let y = ty0 + (r as f32 + 0.5) * row_h;
        line_text(&mut print, label, tx0 + 22.5, y, 4.0, 1.0, 40.0);
        let fill: String = FILLER
            .chars()
            .skip(rng.below(20))
            .take(6 + rng.below(10))
            .collect();
        line_text(
            &mut print,
            &fill,
            (tx0 + 45.0 + tx1) / 2.0,
            y,
            4.0,
            1.0,
            tx1 - tx0 - 55.0,
        );
    }
    let stamp_top = ty0 + rows as f32 * row_h + 8.0;
    line_text(
        &mut print,
        "印模（请在下方框内加盖印章）",
        pcx,
        stamp_top,
        5.0,
        1.0,
        150.0,
    );
    for k in 0..if short { 0 } else { 4 } {
        let y = spec.height_mm - 40.0 + k as f32 * 7.0;
        let fill: String = FILLER
            .chars()
            .skip(rng.below(10))
            .take(20 + rng.below(14))
            .collect();
        line_text(&mut print, &fill, pcx, y, 3.6, 1.0, spec.width_mm - 40.0);
    }
    if let Some(p) = lines.finish().and_then(|p| {
        p.stroke(
            &Stroke {
                width: 0.35,
                ..Stroke::default()
            },
            40.0,
        )
    }) {
        print.push(p);
    }

    // Seals in the stamping area: up to three slots side by side, in two rows for variety.
    let count = 1 + rng.below(3);
    let area_top = stamp_top + 8.0;
    let area_bottom = spec.height_mm - if short { 6.0 } else { 48.0 };
    let mut seals = Vec::with_capacity(count);
    let mut seal_masks = Vec::with_capacity(count);
    let slot_w = (spec.width_mm - 30.0) / count as f32;
    for k in 0..count {
        let style = *rng.pick(&[
            Style::Round,
            Style::Round,
            Style::Round,
            Style::Oval,
            Style::Square,
            Style::Frame,
        ]);
        let mut req = RenderRequest::new(style, *rng.pick(COMPANIES));
        match style {
            Style::Round => {
                req.title = Some(rng.pick(TITLES).to_string());
                if rng.below(2) == 0 {
                    req.code = Some(
                        (0..13)
                            .map(|_| char::from(b'0' + rng.below(10) as u8))
                            .collect(),
                    );
                }
                let d = *rng.pick(&[38.0, 40.0, 42.0]);
                req.size_mm = Some((d, d));
            }
            Style::Oval => {
                req.title = Some("发票专用章".into());
                req.code = Some(format!("91360{:013}", rng.next_u64() % 10_000_000_000_000));
            }
            Style::Square => {
                req.name = rng.pick(PEOPLE).to_string();
                if req.name.chars().count() < 2 {
                    req.name = "周杰".into();
                }
                let s = *rng.pick(&[18.0, 20.0, 22.0]);
                req.size_mm = Some((s, s));
            }
            Style::Frame => {
                req.name = rng.pick(PEOPLE).to_string();
                req.code = Some(format!("赣{:09}(00)", rng.next_u64() % 1_000_000_000));
            }
        }
        let Ok(drawing) = layout(&req) else { continue };
        let room_w = (slot_w - drawing.width_mm - 4.0).max(0.0);
        let cx = 15.0 + slot_w * (k as f32 + 0.5) + rng.range(-room_w / 2.0, room_w / 2.0);
        let room_h = (area_bottom - area_top - drawing.height_mm).max(0.0);
        let cy = area_top + drawing.height_mm / 2.0 + rng.range(0.0, room_h);
        // The form's own captions sit under the seal, as on a real 印模采集表: the stamp is
        // pressed over 盖章 and the date line.
        if rng.below(3) > 0 {
            line_text(
                &mut print,
                "（盖章）",
                cx + rng.range(-4.0, 4.0),
                cy + rng.range(-3.0, 6.0),
                4.2,
                1.0,
                40.0,
            );
            line_text(
                &mut print,
                "年    月    日",
                cx + rng.range(0.0, 8.0),
                cy + drawing.height_mm / 2.0 - rng.range(0.0, 4.0),
                4.0,
                1.0,
                40.0,
            );
        }
        let jitter = rng.range(-1.0, 1.0);
        let t = to_px.pre_translate(cx, cy).pre_rotate(jitter);
        let mask = drawing.rasterise(w, h, t).unwrap_or_default();
        let (px, py) = {
            let mut p = [tiny_skia::Point::from_xy(cx, cy)];
            to_px.map_points(&mut p);
            (p[0].x, p[0].y)
        };
        seals.push(SealTruth {
            style,
            centre: (px, py),
            angle_deg: page_angle + jitter,
            size_mm: (drawing.width_mm, drawing.height_mm),
            request: req,
        });
        let ink = if blue {
            [
                rng.range(0.1, 0.2),
                rng.range(0.2, 0.32),
                rng.range(0.5, 0.65),
            ]
        } else {
            ink_colour(&mut rng)
        };
        seal_masks.push((mask, ink, rng.range(0.8, 0.97)));
    }

    let print_mask = rasterise(&print, w, h, to_px);

    // A signature: a few loose strokes across the first seal, in blue-black or black ballpoint.
    let mut sig = PathBuilder::new();
    if let Some(s) = seals.first() {
        let (sx, sy) = (s.centre.0 / px_per_mm, s.centre.1 / px_per_mm);
        let mut x = sx - rng.range(18.0, 26.0);
        let mut y = sy + rng.range(-6.0, 6.0);
        sig.move_to(x, y);
        for _ in 0..(5 + rng.below(4)) {
            let nx = x + rng.range(4.0, 10.0);
            let ny = y + rng.range(-5.0, 5.0);
            sig.cubic_to(
                x + rng.range(-3.0, 6.0),
                y + rng.range(-9.0, 9.0),
                nx + rng.range(-6.0, 3.0),
                ny + rng.range(-9.0, 9.0),
                nx,
                ny,
            );
            x = nx;
            y = ny;
        }
    }
    let sig_width = rng.range(0.35, 0.7);
    let sig_mask = sig
        .finish()
        .and_then(|p| {
            p.stroke(
                &Stroke {
                    width: sig_width,
                    line_cap: tiny_skia::LineCap::Round,
                    ..Stroke::default()
                },
                40.0,
            )
        })
        .map(|p| rasterise(&[p], w, h, Transform::from_scale(px_per_mm, px_per_mm)))
        .unwrap_or_else(|| vec![0; (w * h) as usize]);
    let sig_ink: [f32; 3] = if rng.below(2) == 0 && !blue {
        [0.15, 0.18, 0.45]
    } else {
        [0.12, 0.12, 0.14]
    };

    // Truth before degradation.
    let mut truth = vec![0u8; (w * h) as usize];
    for (m, _, _) in &seal_masks {
        for (t, &a) in truth.iter_mut().zip(m) {
            if a >= 128 {
                *t = 1;
            }
        }
    }

    // Paper, light, inks.
    let paper = [
        rng.range(0.93, 0.99),
        rng.range(0.91, 0.97),
        rng.range(0.86, 0.95),
    ];
    let light_dir = rng.range(0.0, std::f32::consts::TAU);
    let light_depth = rng.range(0.1, 0.3);
    let vignette = rng.range(0.0, 0.15);
    let print_ink = [0.1, 0.1, 0.11];
    let texture = Noise::new(&mut rng, w, h, 2.0 * px_per_mm);
    let blotches = Noise::new(&mut rng, w, h, 3.0 * px_per_mm);
    let mut grain = Rng::new(rng.next_u64());
    let mut rgb = vec![0f32; (w * h * 3) as usize];
    let (wf, hf) = (w as f32, h as f32);
    let (ldx, ldy) = (light_dir.cos(), light_dir.sin());
    for y in 0..h as usize {
        for x in 0..w as usize {
            let i = y * w as usize + x;
            let (u, v) = (x as f32 / wf - 0.5, y as f32 / hf - 0.5);
            let light =
                1.0 - light_depth * (0.5 + u * ldx + v * ldy) - vignette * (u * u + v * v) * 2.0;
            let tex =
                1.0 + 0.025 * texture.at(x as f32, y as f32) + 0.012 * (grain.range(-1.0, 1.0));
            let mut c = paper.map(|p| p * light * tex);
            multiply(&mut c, print_mask[i], print_ink);
            for (m, ink, density) in &seal_masks {
                if m[i] > 0 {
                    // Ink is laid unevenly by a rubber stamp: a slow blotchiness on the density.
                    let blotch = 0.9 + 0.1 * blotches.at(x as f32, y as f32);
                    let a = f32::from(m[i]) / 255.0 * (density * blotch).min(1.0);
                    for k in 0..3 {
                        c[k] *= 1.0 - a * (1.0 - ink[k]);
                    }
                }
            }
            multiply(&mut c, sig_mask[i], sig_ink);
            rgb[i * 3..i * 3 + 3].copy_from_slice(&c);
        }
    }
    // Optics: a light blur, then quantise.
    let blur = rng.range(0.1, 0.25);
    blur3(&mut rgb, w as usize, h as usize, blur);
    let bytes: Vec<u8> = rgb
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    let quality = 60 + rng.below(31) as u8;
    let mut jpeg = Vec::new();
    // Writing to a Vec cannot fail for a valid buffer size.
    let mut encoder = JpegEncoder::new_with_quality(&mut jpeg, quality);
    // Scanners record their resolution; the extractor reads it for the physical size.
    encoder.set_pixel_density(PixelDensity::dpi(spec.dpi.round() as u16));
    let _ = encoder.write_image(&bytes, w, h, image::ExtendedColorType::Rgb8);
    seals.sort_by(|a, b| a.centre.0.total_cmp(&b.centre.0));
    Form {
        jpeg,
        width: w,
        height: h,
        truth,
        seals,
        quality,
    }
}

/// Subtractive mixing: ink of coverage `a` (0-255) filters the light by its transmittance.
fn multiply(c: &mut [f32; 3], a: u8, ink: [f32; 3]) {
    if a > 0 {
        let a = f32::from(a) / 255.0;
        for k in 0..3 {
            c[k] *= 1.0 - a * (1.0 - ink[k]);
        }
    }
}

/// A stamp-pad red, as transmittance per channel (what fraction of red, green, blue light passes).
fn ink_colour(rng: &mut Rng) -> [f32; 3] {
    [
        rng.range(0.82, 0.95),
        rng.range(0.08, 0.3),
        rng.range(0.12, 0.35),
    ]
}

fn rasterise(paths: &[tiny_skia::Path], w: u32, h: u32, t: Transform) -> Vec<u8> {
    let Some(mut mask) = Mask::new(w, h) else {
        return vec![0; (w * h) as usize];
    };
    for p in paths {
        mask.fill_path(p, FillRule::Winding, true, t);
    }
    mask.data().to_vec()
}

/// Smooth value noise in [-1, 1]: random values on a lattice of `cell` px, smoothstep-interpolated.
/// The lattice is drawn once, so a sample costs four loads.
struct Noise {
    cell: f32,
    gw: usize,
    vals: Vec<f32>,
}

impl Noise {
    fn new(rng: &mut Rng, w: u32, h: u32, cell: f32) -> Self {
        let gw = (w as f32 / cell) as usize + 2;
        let gh = (h as f32 / cell) as usize + 2;
        Self {
            cell,
            gw,
            vals: (0..gw * gh).map(|_| rng.range(-1.0, 1.0)).collect(),
        }
    }

    fn at(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x / self.cell, y / self.cell);
        let (ix, iy) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let v = |x: usize, y: usize| self.vals[y * self.gw + x];
        let top = v(ix, iy) * (1.0 - sx) + v(ix + 1, iy) * sx;
        let bottom = v(ix, iy + 1) * (1.0 - sx) + v(ix + 1, iy + 1) * sx;
        top * (1.0 - sy) + bottom * sy
    }
}

/// A separable [k, 1 − 2k, k] blur over an RGB float plane.
fn blur3(rgb: &mut [f32], w: usize, h: usize, k: f32) {
    let mid = 1.0 - 2.0 * k;
    let mut tmp = rgb.to_vec();
    for y in 0..h {
        for x in 1..w.saturating_sub(1) {
            for c in 0..3 {
                let i = (y * w + x) * 3 + c;
                tmp[i] = k * rgb[i - 3] + mid * rgb[i] + k * rgb[i + 3];
            }
        }
    }
    for y in 1..h.saturating_sub(1) {
        for x in 0..w {
            for c in 0..3 {
                let i = (y * w + x) * 3 + c;
                rgb[i] = k * tmp[i - w * 3] + mid * tmp[i] + k * tmp[i + w * 3];
            }
        }
    }
}

/// The extractor's ink mask in page coordinates (1 where its coverage is at least one half), and
/// the number of impressions it found: what the quality measure compares with the truth.
pub fn page_mask(input: &[u8]) -> Result<(u32, u32, Vec<u8>, usize), Error> {
    page_mask_with(input, &crate::ExtractOptions::default())
}

/// [`page_mask`] with the options that choose the ink.
pub fn page_mask_with(
    input: &[u8],
    opts: &crate::ExtractOptions,
) -> Result<(u32, u32, Vec<u8>, usize), Error> {
    let page = decode_page(input)?;
    let (w, h) = (page.width as usize, page.height as usize);
    let mut mask = vec![0u8; w * h];
    let found = find(&page, opts.ink)?;
    for f in &found {
        for y in 0..f.alpha.h {
            for x in 0..f.alpha.w {
                if f.alpha.v[y * f.alpha.w + x] >= 0.5 && f.y + y < h && f.x + x < w {
                    mask[(f.y + y) * w + f.x + x] = 1;
                }
            }
        }
    }
    Ok((page.width, page.height, mask, found.len()))
}

/// The extractor's coverage (0..1) in page coordinates, the plane [`page_mask_with`] thresholds
/// at one half: for looking at where the mask and the truth part.
pub fn page_alpha_with(input: &[u8], opts: &crate::ExtractOptions) -> Result<Vec<f32>, Error> {
    let page = decode_page(input)?;
    let (w, h) = (page.width as usize, page.height as usize);
    let mut out = vec![0f32; w * h];
    for f in &find(&page, opts.ink)? {
        for y in 0..f.alpha.h {
            for x in 0..f.alpha.w {
                if f.y + y < h && f.x + x < w {
                    out[(f.y + y) * w + f.x + x] = f.alpha.v[y * f.alpha.w + x];
                }
            }
        }
    }
    Ok(out)
}

/// Like [`page_mask_with`], one page-frame mask per impression (in the order [`crate::extract`]
/// returns them), for impressions that share pixels, such as two overlapping stamps separated.
pub fn impression_masks_with(
    input: &[u8],
    opts: &crate::ExtractOptions,
) -> Result<Vec<Vec<u8>>, Error> {
    let page = decode_page(input)?;
    let (w, h) = (page.width as usize, page.height as usize);
    Ok(find(&page, opts.ink)?
        .iter()
        .map(|f| {
            let mut mask = vec![0u8; w * h];
            for y in 0..f.alpha.h.min(h.saturating_sub(f.y)) {
                for x in 0..f.alpha.w.min(w.saturating_sub(f.x)) {
                    mask[(f.y + y) * w + f.x + x] = u8::from(f.alpha.v[y * f.alpha.w + x] >= 0.5);
                }
            }
            mask
        })
        .collect())
}

/// Intersection over union of two 0/1 masks of the same size.
pub fn iou(a: &[u8], b: &[u8]) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        inter += u64::from(x & y);
        union += u64::from(x | y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// The skew the extractor measured for each impression, degrees clockwise, in reading order.
pub fn skews(input: &[u8]) -> Result<Vec<f32>, Error> {
    let page = decode_page(input)?;
    Ok(find(&page, None)?
        .iter()
        .map(|f| f.skew_deg.unwrap_or(0.0))
        .collect())
}

/// Checks the font has every character the generator draws.
pub fn font_covers_generator_text() -> bool {
    COMPANIES
        .iter()
        .chain(TITLES)
        .chain(PEOPLE)
        .chain(LABELS)
        .chain(&[
            FILLER,
            "印模采集表",
            "印模（请在下方框内加盖印章）",
            "（盖章）",
            "年月日",
        ])
        .all(|t| font::check_text(t).is_ok())
}

/// Maps an RGB page (`w` × `h`) onto an `out_w` × `out_h` canvas of `background`, its corners
/// (top-left, top-right, bottom-right, bottom-left) landing on `quad`, sampled bilinearly: a scan
/// turned on the glass, or a phone photo of the sheet in perspective, for the form reader's tests.
pub fn warp_onto(
    rgb: &[u8],
    (w, h): (usize, usize),
    quad: [(f32, f32); 4],
    (out_w, out_h): (usize, usize),
    background: [u8; 3],
) -> Vec<u8> {
    let corners = [
        (0.0, 0.0),
        (w as f32, 0.0),
        (w as f32, h as f32),
        (0.0, h as f32),
    ];
    let mut out = background.repeat(out_w * out_h);
    let Some(m) = crate::form::Homography::from_points(&quad, &corners) else {
        return out;
    };
    for (v, row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        for (u, px) in row.chunks_exact_mut(3).enumerate() {
            let (x, y) = m.apply(u as f64 + 0.5, v as f64 + 0.5);
            if let Some(p) = crate::form::sample_rgb(rgb, (w, h), x, y) {
                px.copy_from_slice(&p);
            }
        }
    }
    out
}

/// A sheet printed at some resolution: RGB, row-major.
#[derive(Debug, Clone)]
pub struct Printed {
    /// 8-bit RGB samples.
    pub rgb: Vec<u8>,
    /// Width, px.
    pub width: usize,
    /// Height, px.
    pub height: usize,
    /// Resolution, dpi.
    pub dpi: f32,
}

/// Prints page `page` (from 1) of a PDF through poppler's `pdftoppm` (colour, anti-aliased) at `dpi`.
pub fn print_pdf(pdf: &[u8], page: usize, dpi: u32) -> Result<Printed, String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sealdesk-print-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("form.pdf");
    std::fs::write(&file, pdf).map_err(|e| e.to_string())?;
    let p = page.to_string();
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-f", &p, "-l", &p, "-singlefile"])
        .arg(&file)
        .arg(dir.join("page"))
        .status()
        .map_err(|e| format!("pdftoppm (Debian poppler-utils) not runnable: {e}"))?;
    let ppm = std::fs::read(dir.join("page.ppm")).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!("pdftoppm failed: {status}"));
    }
    let ppm = ppm?;
    // P6 <w> <h> 255, one whitespace, then the samples.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while ppm.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while ppm.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
            i += 1;
        }
        if start == i {
            return Err("bad PPM from pdftoppm".into());
        }
        fields.push(String::from_utf8_lossy(&ppm[start..i]).into_owned());
    }
    let parse = |s: &str| s.parse::<usize>().map_err(|e| e.to_string());
    let (width, height) = (parse(&fields[1])?, parse(&fields[2])?);
    let rgb = ppm
        .get(i + 1..i + 1 + width * height * 3)
        .ok_or("short PPM from pdftoppm")?
        .to_vec();
    if fields[0] != "P6" {
        return Err("not a P6 PPM".into());
    }
    Ok(Printed {
        rgb,
        width,
        height,
        dpi: dpi as f32,
    })
}

impl Printed {
    /// Presses a stamp (an RGBA PNG at the sheet's resolution, as [`crate::render`] draws it) with its centre
    /// at (x, y) mm: inks multiply with the paper.
    pub fn press(&mut self, stamp_png: &[u8], (x, y): (f32, f32)) -> Result<(), Error> {
        let s = image::load_from_memory(stamp_png)
            .map_err(|e| Error::Corrupt(e.to_string()))?
            .into_rgba8();
        let ppm = self.dpi / 25.4;
        let x0 = (x * ppm - s.width() as f32 / 2.0).round() as i64;
        let y0 = (y * ppm - s.height() as f32 / 2.0).round() as i64;
        for (sx, sy, p) in s.enumerate_pixels() {
            let (px, py) = (x0 + i64::from(sx), y0 + i64::from(sy));
            if px < 0 || py < 0 || px >= self.width as i64 || py >= self.height as i64 {
                continue;
            }
            let a = f32::from(p[3]) / 255.0;
            let i = (py as usize * self.width + px as usize) * 3;
            for c in 0..3 {
                let ink = 1.0 - a + a * f32::from(p[c]) / 255.0;
                self.rgb[i + c] = (f32::from(self.rgb[i + c]) * ink).round() as u8;
            }
        }
        Ok(())
    }

    /// The sheet as a JPEG (quality 88) recording its resolution.
    pub fn jpeg(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88);
        enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(self.dpi as u16));
        let _ = enc.encode(
            &self.rgb,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgb8,
        );
        out
    }
}

/// How well two seal pictures (RGBA PNGs) agree: each cropped to its ink (alpha ≥ ½), the first resized to the
/// second's crop, then the [`iou`] of the two ink masks.
pub fn picture_iou(got_png: &[u8], want_png: &[u8]) -> Result<f64, Error> {
    let load = |b: &[u8]| {
        image::load_from_memory(b)
            .map(|i| i.into_rgba8())
            .map_err(|e| Error::Corrupt(e.to_string()))
    };
    let crop = |img: &image::RgbaImage| {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p[3] >= 128 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
        if x1 < x0 {
            return image::RgbaImage::new(1, 1);
        }
        image::imageops::crop_imm(img, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image()
    };
    let (got, want) = (crop(&load(got_png)?), crop(&load(want_png)?));
    let got = image::imageops::resize(
        &got,
        want.width(),
        want.height(),
        image::imageops::FilterType::Triangle,
    );
    let a: Vec<u8> = got.pixels().map(|p| u8::from(p[3] >= 128)).collect();
    let b: Vec<u8> = want.pixels().map(|p| u8::from(p[3] >= 128)).collect();
    Ok(iou(&a, &b))
}
