//! Step 6 of the pipeline: where the sheet of paper is on a photo, so that impressions are
//! measured on the flat page rather than in the capture's own perspective.
//!
//! A phone photo shows the sheet as a bright quadrilateral on a darker surround, in perspective
//! and bent a little by the lens (barrel distortion curves straight edges). The sheet is found by
//! its edges: every few rows and columns are walked in from the frame's edge to the first step
//! up from a clearly darker surround onto paper (a ratio, so an uneven light or a shadow band
//! does not matter), that step is placed to a fraction of a pixel at full resolution,
//! and a straight line is fitted to each side robustly (RANSAC, then least squares). The lens is
//! the usual one-parameter radial model about the frame's centre; its strength is the one that
//! makes the four sides straightest (the plumb-line method), so corners and the page's interior
//! are placed without the lens's bend. The four lines meet in the page's corners; the page is A4,
//! portrait or landscape as the sides' true proportions say.
//!
//! Failing that, the four corner marks of the project's own 印模采集表 ([`crate::form`]) give the
//! page when they are found. A capture whose page fills the frame (a scan, a crop, a rendered
//! seal) has no surround: nothing is found and the extractor works as before.
//!
//! Only a believable page is accepted: four well-supported, convex sides, corners inside the
//! frame, a fair share of the frame, and an A4-like proportion once the perspective is undone.

use super::{Found, estimate_skew};
use crate::decode::Page;
use crate::form::{Homography, MARK_CENTRES, PAGE_H_MM, PAGE_W_MM, find_marks};
use crate::raster::Plane;

/// The sheet of paper located on a capture.
#[derive(Debug, Clone)]
pub(crate) struct Sheet {
    /// The page's size, mm: A4 portrait (210 × 297) or landscape (297 × 210).
    pub size_mm: (f32, f32),
    /// Its corners on the capture, px (top-left, top-right, bottom-right, bottom-left as the
    /// capture shows them).
    pub corners: [(f32, f32); 4],
    /// Page mm → capture px as a pinhole camera would have shown it.
    to_ideal: Homography,
    /// The inverse.
    from_ideal: Homography,
    lens: Lens,
}

impl Sheet {
    /// Where page point (`x`, `y`) mm is on the capture, px.
    pub(crate) fn to_capture(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.to_ideal.apply(x, y);
        self.lens.distort(u, v)
    }

    /// Where capture point (`x`, `y`) px is on the page, mm.
    pub(crate) fn to_page(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.lens.undistort(x, y);
        self.from_ideal.apply(u, v)
    }

    /// The impression as it is on the flat page: its coverage (and, with `colour`, its
    /// natural-colour planes) resampled onto a page-aligned grid at the capture's own resolution
    /// there, and its skew measured anew on the page. Returns it with the grid's px per mm; `None`
    /// when the mapping is degenerate there.
    pub(crate) fn flatten(&self, f: &Found, colour: bool) -> Option<(Found, f32)> {
        let a = &f.alpha;
        let (x0, y0) = (f.x as f64, f.y as f64);
        let (bw, bh) = (a.w as f64, a.h as f64);
        // The box's outline on the page.
        let (mut mx0, mut my0, mut mx1, mut my1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for k in 0..=16 {
            let t = k as f64 / 16.0;
            for (x, y) in [
                (x0 + t * bw, y0),
                (x0 + t * bw, y0 + bh),
                (x0, y0 + t * bh),
                (x0 + bw, y0 + t * bh),
            ] {
                let (u, v) = self.to_page(x, y);
                mx0 = mx0.min(u);
                mx1 = mx1.max(u);
                my0 = my0.min(v);
                my1 = my1.max(v);
            }
        }
        // The capture's px per page mm at the impression (area scale of the map there).
        let (cx, cy) = ((mx0 + mx1) / 2.0, (my0 + my1) / 2.0);
        let o = self.to_capture(cx, cy);
        let ex = self.to_capture(cx + 1.0, cy);
        let ey = self.to_capture(cx, cy + 1.0);
        let det = ((ex.0 - o.0) * (ey.1 - o.1) - (ex.1 - o.1) * (ey.0 - o.0)).abs();
        let ppm = det.sqrt();
        if !(ppm.is_finite() && ppm > 0.5 && mx1 > mx0 && my1 > my0) {
            return None;
        }
        let w = ((mx1 - mx0) * ppm).ceil() as usize;
        let h = ((my1 - my0) * ppm).ceil() as usize;
        // Never more than twice the box's own pixels (a guard against a wild map).
        if w == 0 || h == 0 || w.checked_mul(h).is_none_or(|n| n > 2 * a.w * a.h + 64) {
            return None;
        }
        // Where each grid pixel's centre is in the box's plane: mapped exactly every `NODE` px,
        // bilinear between (the map is smooth: well under 0.01 px off over a cell).
        const NODE: usize = 8;
        let (nw, nh) = (w / NODE + 2, h / NODE + 2);
        let nodes: Vec<(f64, f64)> = (0..nw * nh)
            .map(|i| {
                let (u, v) = (((i % nw) * NODE) as f64, ((i / nw) * NODE) as f64);
                let (x, y) = self.to_capture(mx0 + u / ppm, my0 + v / ppm);
                (x - x0, y - y0)
            })
            .collect();
        let mut src = Vec::with_capacity(w * h);
        for v in 0..h {
            let fv = (v as f64 + 0.5) / NODE as f64;
            let (r, tv) = (fv as usize, fv.fract());
            for u in 0..w {
                let fu = (u as f64 + 0.5) / NODE as f64;
                let (c, tu) = (fu as usize, fu.fract());
                let at = |dc: usize, dr: usize| nodes[(r + dr) * nw + c + dc];
                let (p00, p10, p01, p11) = (at(0, 0), at(1, 0), at(0, 1), at(1, 1));
                let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
                let x = lerp(lerp(p00.0, p10.0, tu), lerp(p01.0, p11.0, tu), tv);
                let y = lerp(lerp(p00.1, p10.1, tu), lerp(p01.1, p11.1, tu), tv);
                src.push((x as f32, y as f32));
            }
        }
        let resample = |p: &Plane| Plane {
            w,
            h,
            v: src.iter().map(|&(x, y)| p.sample(x, y)).collect(),
        };
        let alpha = resample(a);
        let colour = if colour {
            [
                resample(&f.colour[0]),
                resample(&f.colour[1]),
                resample(&f.colour[2]),
            ]
        } else {
            [Plane::new(0, 0), Plane::new(0, 0), Plane::new(0, 0)]
        };
        let skew_deg = estimate_skew(&alpha);
        Some((
            Found {
                x: f.x,
                y: f.y,
                alpha,
                skew_deg: Some(skew_deg),
                ink: f.ink,
                digital: f.digital,
                colour,
                overlap: f.overlap,
            },
            ppm as f32,
        ))
    }
}

/// Finds the sheet on a capture by its edges, else by the project form's corner marks; `None`
/// when neither gives a believable A4 page. (`extract` does not ask for a scan, whose resolution
/// is recorded.)
pub(crate) fn locate(page: &Page) -> Option<Sheet> {
    by_edges(page).or_else(|| by_marks(page))
}

/// The one-parameter radial lens model about the frame's centre: capture point p was at
/// c + (p − c)(1 + k r²) in the pinhole image, r = |p − c| / `norm` (half the frame's diagonal).
/// k > 0 is barrel distortion.
#[derive(Debug, Clone, Copy)]
struct Lens {
    cx: f64,
    cy: f64,
    norm: f64,
    k: f64,
}

impl Lens {
    fn for_frame(w: usize, h: usize, k: f64) -> Lens {
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        Lens {
            cx,
            cy,
            norm: cx.hypot(cy).max(1.0),
            k,
        }
    }

    /// Capture px → pinhole px.
    fn undistort(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = ((x - self.cx) / self.norm, (y - self.cy) / self.norm);
        let f = 1.0 + self.k * (dx * dx + dy * dy);
        (self.cx + dx * f * self.norm, self.cy + dy * f * self.norm)
    }

    /// Pinhole px → capture px (Newton's method on the radius).
    fn distort(&self, u: f64, v: f64) -> (f64, f64) {
        let (dx, dy) = ((u - self.cx) / self.norm, (v - self.cy) / self.norm);
        let ru = dx.hypot(dy);
        if self.k == 0.0 || ru < 1e-12 {
            return (u, v);
        }
        let mut r = ru;
        for _ in 0..8 {
            let slope = 1.0 + 3.0 * self.k * r * r;
            if slope < 0.1 {
                break;
            }
            let step = (r + self.k * r * r * r - ru) / slope;
            r -= step;
            if step.abs() < 1e-9 {
                break;
            }
        }
        let s = r / ru;
        (self.cx + dx * s * self.norm, self.cy + dy * s * self.norm)
    }
}

/// A straight line a·x + b·y + c = 0 with a² + b² = 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    a: f64,
    b: f64,
    c: f64,
}

impl Line {
    fn through(p: (f64, f64), q: (f64, f64)) -> Option<Line> {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let n = dx.hypot(dy);
        if n < 1e-9 {
            return None;
        }
        let (a, b) = (-dy / n, dx / n);
        Some(Line {
            a,
            b,
            c: -(a * p.0 + b * p.1),
        })
    }

    /// The total-least-squares line through the points, with its sum of squared distances.
    fn fit(pts: &[(f64, f64)]) -> Option<(Line, f64)> {
        if pts.len() < 2 {
            return None;
        }
        let (mx, my) = super::centroid(pts);
        let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
        for &(x, y) in pts {
            let (dx, dy) = (x - mx, y - my);
            xx += dx * dx;
            yy += dy * dy;
            xy += dx * dy;
        }
        // Direction of the largest spread; the normal is across it.
        let theta = 0.5 * (2.0 * xy).atan2(xx - yy);
        let (s, c) = theta.sin_cos();
        let line = Line {
            a: -s,
            b: c,
            c: s * mx - c * my,
        };
        let ss = pts.iter().map(|&p| line.dist(p).powi(2)).sum();
        Some((line, ss))
    }

    fn dist(&self, (x, y): (f64, f64)) -> f64 {
        (self.a * x + self.b * y + self.c).abs()
    }

    fn meet(&self, o: &Line) -> Option<(f64, f64)> {
        let det = self.a * o.b - self.b * o.a;
        if det.abs() < 1e-9 {
            return None;
        }
        Some((
            (self.b * o.c - o.b * self.c) / det,
            (o.a * self.c - self.a * o.c) / det,
        ))
    }

    /// Position of a point along the line.
    fn along(&self, (x, y): (f64, f64)) -> f64 {
        -self.b * x + self.a * y
    }
}

/// The line most points lie within `tol` of (RANSAC over deterministic pairs, then refitted to
/// its inliers), and the inliers' indices.
fn ransac(pts: &[(f64, f64)], tol: f64) -> Option<(Line, Vec<usize>)> {
    let n = pts.len();
    if n < 8 {
        return None;
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 33) as usize % n
    };
    let count = |l: &Line| pts.iter().filter(|&&p| l.dist(p) <= tol).count();
    let mut best: Option<(Line, usize)> = None;
    for _ in 0..32 {
        let (i, j) = (next(), next());
        let Some(l) = Line::through(pts[i], pts[j]) else {
            continue;
        };
        let k = count(&l);
        if best.is_none_or(|(_, b)| k > b) {
            best = Some((l, k));
        }
    }
    let (mut line, _) = best?;
    for _ in 0..2 {
        let inl: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|&p| line.dist(p) <= tol)
            .collect();
        line = Line::fit(&inl)?.0;
    }
    let idx = (0..n).filter(|&i| line.dist(pts[i]) <= tol).collect();
    Some((line, idx))
}

/// Luma of one pixel, 0..255 scale.
#[inline]
fn luma(rgb: &[u8], i: usize) -> f32 {
    let p = &rgb[i * 3..i * 3 + 3];
    (f32::from(p[0]) + 2.0 * f32::from(p[1]) + f32::from(p[2])) / 4.0
}

/// Looks for the first step from a clearly darker surround up onto paper along a line, fed one
/// sample at a time from the frame's edge inwards. Everything before the step must be darker than
/// the paper beyond by a good margin, so print on a page that fills the frame never counts.
#[derive(Default)]
struct Rise {
    v: Vec<f32>,
    /// The brightest pair of samples so far, before the one tested.
    before: f32,
    /// The index where the step starts, once found.
    at: Option<usize>,
}

impl Rise {
    /// Takes the next sample; true once the step is found (further samples are ignored).
    fn push(&mut self, x: f32) -> bool {
        if self.at.is_some() {
            return true;
        }
        self.v.push(x);
        // Sample i is tested with two before it and three after it.
        let Some(i) = self.v.len().checked_sub(4).filter(|&i| i >= 3) else {
            return false;
        };
        let v = &self.v;
        let out = (v[i - 2] + v[i - 1]) / 2.0;
        self.before = self.before.max(out);
        let inn = (v[i + 1] + v[i + 2]) / 2.0;
        let low_in = v[i + 1].min(v[i + 2]).min(v[i + 3]);
        if inn >= 40.0
            && inn >= 1.6 * out + 12.0
            && low_in >= 1.4 * out
            && self.before <= 0.75 * inn
        {
            self.at = Some(i);
        }
        self.at.is_some()
    }
}

/// The edge of a step up along a full-resolution line, placed where the light crosses halfway
/// between the levels either side: `at(k)` is the mean luma `k` pixels along, `len` of them.
/// Returns the fractional position.
fn place_rise(at: &dyn Fn(usize) -> f32, len: usize, side: usize) -> Option<f64> {
    if len < 2 * side + 3 {
        return None;
    }
    let raw: Vec<f32> = (0..len).map(at).collect();
    let lo = raw[..side].iter().sum::<f32>() / side as f32;
    let hi = raw[len - side..].iter().sum::<f32>() / side as f32;
    if hi < lo * 1.3 + 8.0 {
        return None;
    }
    let mid = (lo + hi) / 2.0;
    let sm: Vec<f32> = (0..len)
        .map(|k| (raw[k.saturating_sub(1)] + raw[k] + raw[(k + 1).min(len - 1)]) / 3.0)
        .collect();
    let k = (1..len).find(|&k| sm[k] >= mid && sm[k - 1] < mid)?;
    let t = (mid - sm[k - 1]) / (sm[k] - sm[k - 1]).max(1e-3);
    Some(k as f64 - 1.0 + f64::from(t))
}

/// Candidate points of the page's four sides (left, top, right, bottom), capture px, from every
/// few rows and columns walked in from each edge of the frame (every few pixels, only as far as
/// the first rise), each placed at full resolution.
fn edge_points(page: &Page) -> [Vec<(f64, f64)>; 4] {
    let (w, h) = (page.width as usize, page.height as usize);
    let s = (w.max(h) / 500).max(1);
    let (gw, gh) = (w / s, h / s);
    let rgb = &page.rgb;
    // Mean luma of three pixels across the line, at (x, y) on a row or column.
    let across_row = |x: usize, y: usize| {
        let (a, b) = (y.saturating_sub(1), (y + 1).min(h - 1));
        (luma(rgb, a * w + x) + luma(rgb, y * w + x) + luma(rgb, b * w + x)) / 3.0
    };
    let across_col = |x: usize, y: usize| {
        let (a, b) = (x.saturating_sub(1), (x + 1).min(w - 1));
        (luma(rgb, y * w + a) + luma(rgb, y * w + x) + luma(rgb, y * w + b)) / 3.0
    };
    // Full-resolution window: from sample i−3 to sample i+4 in the walking direction.
    let span = 7 * s + 1;
    // Sample i from the near edge, walking forwards, or from the far edge, walking back.
    let near = |i: usize| i * s + s / 2;
    let far = |n: usize, i: usize| (n - 1 - i) * s + s / 2;
    let mut sides: [Vec<(f64, f64)>; 4] = Default::default();
    for gy in 0..gh {
        let y = near(gy);
        // Left side: walking right; right side: walking left.
        let mut rise = Rise::default();
        if let Some(i) = (0..gw)
            .find(|&i| rise.push(luma(rgb, y * w + near(i))))
            .and(rise.at)
        {
            let x0 = near(i - 3);
            if x0 + span <= w
                && let Some(t) = place_rise(&|k| across_row(x0 + k, y), span, s)
            {
                sides[0].push((x0 as f64 + t + 0.5, y as f64 + 0.5));
            }
        }
        let mut rise = Rise::default();
        if let Some(i) = (0..gw)
            .find(|&i| rise.push(luma(rgb, y * w + far(gw, i))))
            .and(rise.at)
        {
            let start = far(gw, i - 3);
            if start + 1 >= span
                && let Some(t) = place_rise(&|k| across_row(start - k, y), span, s)
            {
                sides[2].push((start as f64 - t + 0.5, y as f64 + 0.5));
            }
        }
    }
    // Top side walking down, bottom side walking up: every column at once, a row at a time (the
    // image is stored by rows), until each column has met the page.
    for (side, row_at) in [(1usize, false), (3, true)] {
        let mut rises: Vec<Rise> = (0..gw).map(|_| Rise::default()).collect();
        let mut open = gw;
        for i in 0..gh {
            let y = if row_at { far(gh, i) } else { near(i) };
            for (gx, rise) in rises.iter_mut().enumerate() {
                if rise.at.is_none() && rise.push(luma(rgb, y * w + near(gx))) {
                    open -= 1;
                }
            }
            if open == 0 {
                break;
            }
        }
        for (gx, rise) in rises.iter().enumerate() {
            let (Some(i), x) = (rise.at, near(gx)) else {
                continue;
            };
            if side == 1 {
                let y0 = near(i - 3);
                if y0 + span <= h
                    && let Some(t) = place_rise(&|k| across_col(x, y0 + k), span, s)
                {
                    sides[1].push((x as f64 + 0.5, y0 as f64 + t + 0.5));
                }
            } else {
                let start = far(gh, i - 3);
                if start + 1 >= span
                    && let Some(t) = place_rise(&|k| across_col(x, start - k), span, s)
                {
                    sides[3].push((x as f64 + 0.5, start as f64 - t + 0.5));
                }
            }
        }
    }
    sides
}

/// A side's line and the indices of the points on it.
type SideFit = (Line, Vec<usize>);

/// Robust lines through the four sides' points (left, top, right, bottom) once `lens` is undone,
/// each with its inliers within `tol` px.
fn fit_sides(sides: &[Vec<(f64, f64)>; 4], lens: &Lens, tol: f64) -> Option<[SideFit; 4]> {
    let mut out: [Option<SideFit>; 4] = Default::default();
    for (o, pts) in out.iter_mut().zip(sides) {
        let und: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| lens.undistort(x, y)).collect();
        *o = Some(ransac(&und, tol)?);
    }
    let [a, b, c, d] = out;
    Some([a?, b?, c?, d?])
}

/// How crooked the sides' inliers are under lens strength `k`: the sum of squared distances
/// from each side's own best line.
fn crookedness(sides: &[Vec<(f64, f64)>; 4], inliers: &[Vec<usize>; 4], lens: &Lens) -> f64 {
    sides
        .iter()
        .zip(inliers)
        .map(|(pts, idx)| {
            let und: Vec<(f64, f64)> = idx
                .iter()
                .map(|&i| lens.undistort(pts[i].0, pts[i].1))
                .collect();
            Line::fit(&und).map_or(f64::MAX, |(_, ss)| ss)
        })
        .sum()
}

/// The page by its edges against a darker surround.
fn by_edges(page: &Page) -> Option<Sheet> {
    let (w, h) = (page.width as usize, page.height as usize);
    if w < 200 || h < 200 {
        return None;
    }
    let sides = edge_points(page);
    if sides.iter().any(|s| s.len() < 20) {
        return None;
    }
    // The lens strength: coarse steps by the number of points on four straight lines (none
    // first, on a tie), then the straightest (the crookedness is about quadratic in k).
    let mut best: Option<(f64, usize, [Vec<usize>; 4])> = None;
    for step in [0, 1, -1, 2, -2, 3, 4, 5] {
        let k = f64::from(step) * 0.03;
        let Some(fits) = fit_sides(&sides, &Lens::for_frame(w, h, k), 6.0) else {
            continue;
        };
        let n: usize = fits.iter().map(|f| f.1.len()).sum();
        if best.as_ref().is_none_or(|b| n > b.1) {
            best = Some((k, n, fits.map(|f| f.1)));
        }
    }
    let (_, _, inliers) = best?;
    let (mut lo, mut hi) = (-0.08, 0.2);
    let cost = |k: f64| crookedness(&sides, &inliers, &Lens::for_frame(w, h, k));
    let g = 0.618_033_988_749_895;
    for _ in 0..28 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if cost(a) < cost(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    let lens = Lens::for_frame(w, h, (lo + hi) / 2.0);
    let fits = fit_sides(&sides, &lens, 3.0)?;
    let lines = fits.clone().map(|f| f.0);
    let [l, t, r, b] = lines;
    let ideal = [t.meet(&l)?, t.meet(&r)?, b.meet(&r)?, b.meet(&l)?];
    // Each side must have been seen along most of its length, by enough points, and fit
    // its line closely.
    for (side, (line, idx)) in fits.iter().enumerate() {
        let (p, q) = match side {
            0 => (ideal[0], ideal[3]),
            1 => (ideal[0], ideal[1]),
            2 => (ideal[1], ideal[2]),
            _ => (ideal[3], ideal[2]),
        };
        let length = (q.0 - p.0).hypot(q.1 - p.1);
        let und: Vec<(f64, f64)> = idx
            .iter()
            .map(|&i| lens.undistort(sides[side][i].0, sides[side][i].1))
            .collect();
        let pos: Vec<f64> = und.iter().map(|&p| line.along(p)).collect();
        let reach = pos.iter().copied().fold(f64::MIN, f64::max)
            - pos.iter().copied().fold(f64::MAX, f64::min);
        let rms = (Line::fit(&und)?.1 / und.len() as f64).sqrt();
        if und.len() < 30 || reach < 0.6 * length || rms > 2.0 {
            return None;
        }
    }
    let corners = ideal.map(|(x, y)| lens.distort(x, y));
    sheet_from(ideal, corners, lens, (w, h))
}

/// The page from the project form's four corner marks (no lens model: the marks sit just inside
/// the corners, where the bend is what the homography sees).
fn by_marks(page: &Page) -> Option<Sheet> {
    let (w, h) = (page.width as usize, page.height as usize);
    let marks = find_marks(page)?;
    let lens = Lens::for_frame(w, h, 0.0);
    let to_ideal = Homography::from_points(&MARK_CENTRES, &marks)?;
    let corner_mm = [
        (0.0, 0.0),
        (f64::from(PAGE_W_MM), 0.0),
        (f64::from(PAGE_W_MM), f64::from(PAGE_H_MM)),
        (0.0, f64::from(PAGE_H_MM)),
    ];
    let ideal = corner_mm.map(|(x, y)| to_ideal.apply(x, y));
    let sheet = sheet_from(ideal, ideal, lens, (w, h))?;
    // The marks say which way up and which size the page is: a portrait A4.
    (sheet.size_mm == (PAGE_W_MM, PAGE_H_MM)).then_some(sheet)
}

/// The A4 page whose corners are at `ideal` (pinhole px) and `corners` (capture px), if it is a
/// believable one: convex with no sharp corner, inside the frame, a fair share of it, and of A4
/// proportions once the perspective is undone.
fn sheet_from(
    ideal: [(f64, f64); 4],
    corners: [(f64, f64); 4],
    lens: Lens,
    (w, h): (usize, usize),
) -> Option<Sheet> {
    let (fw, fh) = (w as f64, h as f64);
    if corners
        .iter()
        .chain(&ideal)
        .any(|&(x, y)| !x.is_finite() || !y.is_finite())
    {
        return None;
    }
    if corners
        .iter()
        .any(|&(x, y)| x < -0.01 * fw || y < -0.01 * fh || x > 1.01 * fw || y > 1.01 * fh)
    {
        return None;
    }
    // Clockwise on screen, every corner between 45° and 135°.
    for i in 0..4 {
        let (p, q, r) = (ideal[i], ideal[(i + 1) % 4], ideal[(i + 2) % 4]);
        let (e1, e2) = ((q.0 - p.0, q.1 - p.1), (r.0 - q.0, r.1 - q.1));
        let cross = e1.0 * e2.1 - e1.1 * e2.0;
        let (n1, n2) = (e1.0.hypot(e1.1), e2.0.hypot(e2.1));
        if n1 < 1.0 || n2 < 1.0 || cross / (n1 * n2) < (45f64).to_radians().sin() {
            return None;
        }
    }
    let area = |c: &[(f64, f64); 4]| {
        (0..4)
            .map(|i| c[i].0 * c[(i + 1) % 4].1 - c[(i + 1) % 4].0 * c[i].1)
            .sum::<f64>()
            / 2.0
    };
    let share = area(&corners) / (fw * fh);
    if !(0.2..=1.0).contains(&share) {
        return None;
    }
    let ratio = true_aspect(&ideal, &lens, fw.max(fh))?;
    let long = ratio.max(1.0 / ratio);
    if !(1.25..=1.6).contains(&long) {
        return None;
    }
    let size_mm = if ratio < 1.0 {
        (PAGE_W_MM, PAGE_H_MM)
    } else {
        (PAGE_H_MM, PAGE_W_MM)
    };
    let mm = [
        (0.0, 0.0),
        (size_mm.0, 0.0),
        (size_mm.0, size_mm.1),
        (0.0, size_mm.1),
    ];
    let px = ideal.map(|(x, y)| (x as f32, y as f32));
    Some(Sheet {
        size_mm,
        corners: corners.map(|(x, y)| (x as f32, y as f32)),
        to_ideal: Homography::from_points(&mm, &px)?,
        from_ideal: Homography::from_points(&px, &mm)?,
        lens,
    })
}

/// Width over height of the rectangle the quadrilateral (pinhole px, clockwise from top-left)
/// shows in perspective. The camera's focal length comes from the two vanishing points (the
/// sides of a rectangle are at right angles); when the view is too square-on for that, a phone's
/// usual focal length (about the frame's long side) is taken.
fn true_aspect(q: &[(f64, f64); 4], lens: &Lens, long_side: f64) -> Option<f64> {
    let c: [(f32, f32); 4] = q.map(|(x, y)| ((x - lens.cx) as f32, (y - lens.cy) as f32));
    let unit = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
    let m = Homography::from_points(&unit, &c)?.0;
    // Columns: image of the x axis (m0, m3, m6) and of the y axis (m1, m4, m7).
    let f2 = -(m[0] * m[1] + m[3] * m[4]) / (m[6] * m[7]);
    let plausible = (0.3 * long_side).powi(2)..(5.0 * long_side).powi(2);
    let f2 = if f2.is_finite() && plausible.contains(&f2) {
        f2
    } else {
        long_side * long_side
    };
    let x = (m[0] * m[0] / f2 + m[3] * m[3] / f2 + m[6] * m[6]).sqrt();
    let y = (m[1] * m[1] / f2 + m[4] * m[4] / f2 + m[7] * m[7]).sqrt();
    let r = x / y;
    (r.is_finite() && r > 0.0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_fit_and_intersection() {
        // y = 0.5 x + 10 and x = 300, sampled with small noise.
        let pts: Vec<(f64, f64)> = (0..50)
            .map(|i| {
                let x = i as f64 * 7.0;
                (x, 0.5 * x + 10.0 + if i % 2 == 0 { 0.2 } else { -0.2 })
            })
            .collect();
        let (l, ss) = Line::fit(&pts).unwrap();
        assert!(ss / 50.0 < 0.05, "{ss}");
        let v = Line::through((300.0, 0.0), (300.0, 50.0)).unwrap();
        let (x, y) = l.meet(&v).unwrap();
        assert!(
            (x - 300.0).abs() < 1e-6 && (y - 160.0).abs() < 0.3,
            "{x} {y}"
        );
        // Parallel lines do not meet.
        let p = Line::through((0.0, 1.0), (10.0, 6.0)).unwrap();
        let q = Line::through((0.0, 3.0), (10.0, 8.0)).unwrap();
        assert!(p.meet(&q).is_none());
    }

    #[test]
    fn ransac_ignores_outliers() {
        let mut pts: Vec<(f64, f64)> = (0..60)
            .map(|i| (100.0 + i as f64 * 0.3, i as f64 * 10.0))
            .collect();
        // A third of the points elsewhere (another side met near a corner, print).
        pts.extend((0..30).map(|i| (i as f64 * 12.0, 5.0 + (i % 7) as f64 * 40.0)));
        let (l, idx) = ransac(&pts, 2.0).unwrap();
        assert!(idx.len() >= 60 && idx.len() < 64, "{}", idx.len());
        assert!(l.dist((100.0, 0.0)) < 0.5 && l.dist((117.7, 590.0)) < 0.5);
    }

    #[test]
    fn lens_round_trips() {
        for k in [-0.05, 0.0, 0.04, 0.12] {
            let lens = Lens::for_frame(3000, 4000, k);
            for (x, y) in [
                (0.0, 0.0),
                (2999.0, 10.0),
                (1500.0, 2000.0),
                (400.0, 3900.0),
            ] {
                let (u, v) = lens.undistort(x, y);
                let (x2, y2) = lens.distort(u, v);
                assert!(
                    (x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6,
                    "{k} {x} {y}"
                );
            }
        }
    }

    #[test]
    fn aspect_of_a_square_on_rectangle() {
        let lens = Lens::for_frame(1000, 1400, 0.0);
        let q = [
            (200.0, 200.0),
            (800.0, 200.0),
            (800.0, 1048.5),
            (200.0, 1048.5),
        ];
        let r = true_aspect(&q, &lens, 1400.0).unwrap();
        assert!((r - 600.0 / 848.5).abs() < 1e-3, "{r}");
    }

    /// A dark frame with a bright quadrilateral (a sheet seen at an angle), and a few dark
    /// lines of print on it.
    fn photo(w: usize, h: usize, quad: [(f64, f64); 4]) -> Page {
        let mut rgb = vec![0u8; w * h * 3];
        let inside = |x: f64, y: f64| {
            (0..4).all(|i| {
                let (p, q) = (quad[i], quad[(i + 1) % 4]);
                (q.0 - p.0) * (y - p.1) - (q.1 - p.1) * (x - p.0) >= 0.0
            })
        };
        for y in 0..h {
            for x in 0..w {
                // 4 × 4 supersampling for an anti-aliased edge.
                let mut n = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let (fx, fy) = (
                            x as f64 + (sx as f64 + 0.5) / 4.0,
                            y as f64 + (sy as f64 + 0.5) / 4.0,
                        );
                        n += usize::from(inside(fx, fy));
                    }
                }
                let light = 0.7 + 0.3 * x as f64 / w as f64;
                let paper = if y % 97 < 3
                    && inside(x as f64 - 40.0, y as f64)
                    && inside(x as f64 + 40.0, y as f64)
                {
                    40.0
                } else {
                    235.0
                };
                let v = (70.0 + (paper - 70.0) * n as f64 / 16.0) * light;
                rgb[(y * w + x) * 3..][..3].fill(v as u8);
            }
        }
        Page {
            width: w as u32,
            height: h as u32,
            rgb,
            dpi: None,
        }
    }

    #[test]
    fn finds_a_sheet_in_perspective() {
        let quad = [
            (180.0, 150.0),
            (760.0, 190.0),
            (800.0, 1020.0),
            (120.0, 1000.0),
        ];
        let page = photo(900, 1200, quad);
        let sheet = locate(&page).expect("found");
        assert_eq!(sheet.size_mm, (210.0, 297.0));
        for (c, q) in sheet.corners.iter().zip(quad) {
            let d = (f64::from(c.0) - q.0).hypot(f64::from(c.1) - q.1);
            assert!(d < 1.5, "{c:?} {q:?}");
        }
        // The page maps back onto itself.
        let (x, y) = sheet.to_capture(0.0, 0.0);
        assert!((x - 180.0).abs() < 1.5 && (y - 150.0).abs() < 1.5);
        let (u, v) = sheet.to_page(x, y);
        assert!(u.abs() < 1e-6 && v.abs() < 1e-6);
    }

    #[test]
    fn a_sheet_on_its_side_is_landscape() {
        let quad = [
            (80.0, 200.0),
            (1120.0, 240.0),
            (1100.0, 960.0),
            (100.0, 940.0),
        ];
        let sheet = locate(&photo(1200, 1100, quad)).expect("found");
        assert_eq!(sheet.size_mm, (297.0, 210.0));
        let (x, y) = sheet.to_capture(297.0, 210.0);
        assert!(
            (x - 1100.0).abs() < 1.5 && (y - 960.0).abs() < 1.5,
            "{x} {y}"
        );
    }

    #[test]
    fn no_sheet_without_a_surround() {
        // The page fills the frame.
        let full = photo(
            600,
            800,
            [(-5.0, -5.0), (605.0, -5.0), (605.0, 805.0), (-5.0, 805.0)],
        );
        assert!(locate(&full).is_none());
        // A square, not an A4 sheet.
        let square = photo(
            900,
            1200,
            [
                (150.0, 300.0),
                (750.0, 300.0),
                (750.0, 900.0),
                (150.0, 900.0),
            ],
        );
        assert!(locate(&square).is_none());
        // Noise.
        let mut state = 7u32;
        let rgb = (0..600 * 800 * 3)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        let noise = Page {
            width: 600,
            height: 800,
            rgb,
            dpi: None,
        };
        assert!(locate(&noise).is_none());
    }
}
