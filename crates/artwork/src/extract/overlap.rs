//! Two stamps pressed over each other (or side by side, touching) come out of the grouping step
//! as one impression: their ink is one connected shape. An impression larger than one seal is
//! looked at for two rims here, and cut in two when both are clearly there.
//!
//! The rim candidates are the outer ink boundary: the first ink met walking in from the box edge
//! on 720 rays from the box centre. For two overlapping round or oval stamps that boundary is the
//! outer arc of each rim (about two thirds of each circumference). Ellipses are fitted to it by
//! RANSAC: five points spread along a random stretch of the boundary give a conic
//! ([`super::fit_conic`]), the one most points lie on wins and is refined by least squares on its
//! inliers; its points are taken out and the second rim is found the same way. Two rims are
//! accepted only when each is a seal's size, neither lies inside the other, together they account
//! for most of the boundary and almost all the ink, and each has ink along most of its
//! circumference outside the other rim. Then pixels inside rim A only go to A, inside B only to
//! B, and the lens inside both to both.
//!
//! When no two rims are found (square stamps, a smear), the impression stays one picture, marked
//! [`Overlap::Unsplit`] unless a single ellipse explains its outline (one large round or oval
//! seal) or it could be one square seal (about as wide as high, with a convex outline).

use super::{Found, estimate_skew, first_ink_on_rays, fit_conic, ink_box};
use crate::raster::Plane;

/// What the overlap check made of an impression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Overlap {
    /// One stamp (or one of two stamps that touched without overlapping, separated).
    #[default]
    None,
    /// One of two overlapping stamps, separated: the part shared with the other stamp holds ink
    /// of both.
    Shared,
    /// Too large or too irregular for one seal, and not separable: probably two stamps.
    Unsplit,
}

/// Ink wider or taller than this on the page (mm) is looked at for two stamps: round seals are
/// at most 45 mm, and a single larger one (an oval up to 50 mm, the 50 × 36 frame, a 58 mm
/// 合同专用章) is recognised by its outline being one ellipse.
const CHECK_MM: f32 = 45.0;
/// A rim's semi-axes on the page, mm: from the smallest round seal to the largest, with room for
/// the A4 guess of a photo's scale, which can be 20 % off.
const SEMI_AXIS_MM: (f64, f64) = (7.0, 36.0);

/// Looks at one impression for two stamps; returns it unchanged, marked [`Overlap::Unsplit`], or
/// as the two stamps it holds, in reading order. `px_per_mm` is the page's scale (recorded, or
/// the A4 guess); `page` its width and height, px.
pub(super) fn separate(mut f: Found, px_per_mm: f32, page: (usize, usize)) -> Vec<Found> {
    let a = &f.alpha;
    let side_mm = a.w.max(a.h) as f32 / px_per_mm;
    // Ink running into the edge of the picture has lost part of its outline (it is marked as
    // cut off when the picture is made): nothing to judge by.
    let cut = f.x == 0 || f.y == 0 || f.x + a.w >= page.0 || f.y + a.h >= page.1;
    if side_mm <= CHECK_MM || cut {
        return vec![f];
    }
    match find_rims(a, f64::from(px_per_mm)) {
        Rims::Two(r) => {
            if let Some(parts) = split(&f, &r, f64::from(px_per_mm)) {
                return parts;
            }
            f.overlap = Overlap::Unsplit;
        }
        // One ellipse: one round or oval seal, however large (a close-up photo of a seal has no
        // scale; with a recorded one, ink over 60 mm is marked when the picture is made).
        Rims::One => {}
        Rims::Irregular => {
            if !one_shape(a) {
                f.overlap = Overlap::Unsplit;
            }
        }
    }
    vec![f]
}

/// Whether the ink's outline could be one seal of another shape (a square, which has no rim to
/// fit an ellipse to): its box about as wide as high, and the outline convex (its area at least
/// 93 % of its convex hull's; two stamps pressed over each other leave notches where their rims
/// meet).
fn one_shape(a: &Plane) -> bool {
    let (w, h) = (a.w as f64, a.h as f64);
    if w.max(h) > 1.25 * w.min(h) {
        return false;
    }
    let pts = outline(a);
    if pts.len() < 360 {
        return false;
    }
    let area = |p: &[(f64, f64)]| {
        let n = p.len();
        (0..n)
            .map(|i| {
                let (a, b) = (p[i], p[(i + 1) % n]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum::<f64>()
            .abs()
            / 2.0
    };
    area(&pts) >= 0.93 * area(&convex_hull(&pts))
}

/// The convex hull of the points, in order (Andrew's monotone chain).
fn convex_hull(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut p = pts.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(p.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        for &q in &p {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
        if pass == 0 {
            p.reverse();
        }
    }
    hull
}

/// An ellipse in plane pixels: `(p − c)ᵀ M (p − c) = 1` on the rim, `M = [[m0, m1/2], [m1/2, m2]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rim {
    pub cx: f64,
    pub cy: f64,
    m: [f64; 3],
}

impl Rim {
    /// Least-squares ellipse through the points ([`super::fit_conic`], centred on their centroid
    /// and scaled to about ±1, so a rim through the box centre still fits); `None` when the conic
    /// is not an ellipse.
    pub fn fit(pts: &[(f64, f64)]) -> Option<Rim> {
        if pts.len() < 5 {
            return None;
        }
        let n = pts.len() as f64;
        let (ox, oy) = super::centroid(pts);
        let s = (pts
            .iter()
            .map(|p| (p.0 - ox).powi(2) + (p.1 - oy).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        if s < 1.0 {
            return None;
        }
        let q: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| ((p.0 - ox) / s, (p.1 - oy) / s))
            .collect();
        let [qa, qb, qc, qd, qe] = fit_conic(&q)?;
        let det = 4.0 * qa * qc - qb * qb;
        if det <= 1e-12 || qa <= 0.0 {
            return None;
        }
        // Centre where the gradient vanishes; the value there is half of (D, E)·centre.
        let x0 = (qb * qe - 2.0 * qc * qd) / det;
        let y0 = (qb * qd - 2.0 * qa * qe) / det;
        let k = 1.0 - (qd * x0 + qe * y0) / 2.0;
        if k <= 1e-9 {
            return None;
        }
        let scale = k * s * s;
        Some(Rim {
            cx: ox + s * x0,
            cy: oy + s * y0,
            m: [qa / scale, qb / scale, qc / scale],
        })
    }

    /// `(p − c)ᵀ M (p − c)`: below 1 inside, 1 on the rim.
    pub fn level(&self, x: f64, y: f64) -> f64 {
        let (u, v) = (x - self.cx, y - self.cy);
        self.m[0] * u * u + self.m[1] * u * v + self.m[2] * v * v
    }

    /// Distance from the point to the rim along the ray from the centre, px.
    pub fn radial_distance(&self, x: f64, y: f64) -> f64 {
        let l = self.level(x, y);
        if l <= 1e-12 {
            return f64::MAX;
        }
        let (u, v) = (x - self.cx, y - self.cy);
        (u * u + v * v).sqrt() * (1.0 - 1.0 / l.sqrt()).abs()
    }

    /// Semi-major and semi-minor axes, px, and the angle of the major axis, radians.
    pub fn axes(&self) -> (f64, f64, f64) {
        let [a, b, c] = self.m;
        let mean = (a + c) / 2.0;
        let spread = (((a - c) / 2.0).powi(2) + (b / 2.0).powi(2)).sqrt();
        let (lo, hi) = (mean - spread, mean + spread);
        if lo <= 0.0 {
            return (f64::INFINITY, 1.0 / hi.max(1e-12).sqrt(), 0.0);
        }
        let angle = 0.5 * b.atan2(a - c) + std::f64::consts::FRAC_PI_2;
        (1.0 / lo.sqrt(), 1.0 / hi.sqrt(), angle)
    }

    /// The rim point at parameter `t` (radians).
    fn point(&self, t: f64) -> (f64, f64) {
        let (ra, rb, phi) = self.axes();
        let (s, c) = phi.sin_cos();
        let (st, ct) = t.sin_cos();
        (
            self.cx + ra * ct * c - rb * st * s,
            self.cy + ra * ct * s + rb * st * c,
        )
    }

    /// Whether the point is inside the rim widened to `slack` (see [`Rim::slack`]).
    fn holds(&self, x: f64, y: f64, slack: f64) -> bool {
        self.level(x, y) <= slack
    }

    /// The `level` below which a point is inside the rim widened by 1.5 px and 1 % (its
    /// anti-aliased edge).
    fn slack(&self) -> f64 {
        let (ra, rb, _) = self.axes();
        (1.0 + 0.01 + 1.5 / ((ra + rb) / 2.0)).powi(2)
    }

    /// Whether both semi-axes are within `(lo, hi)` px, and the ellipse is no flatter than 2:1.
    fn sized(&self, (lo, hi): (f64, f64)) -> bool {
        let (ra, rb, _) = self.axes();
        ra.is_finite() && rb >= lo && ra <= hi && rb >= 0.5 * ra
    }
}

/// What the outline of an impression is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Rims {
    /// One ellipse explains the outline: one round or oval seal.
    One,
    /// Two rims, each with ink along most of it.
    Two([Rim; 2]),
    /// Neither: square stamps, a smear, or rims too broken to trust.
    Irregular,
}

/// The outer ink boundary: the first pixel with coverage ≥ ½ walking in from the box edge on 720
/// rays from the box centre, at the pixel's centre.
fn outline(a: &Plane) -> Vec<(f64, f64)> {
    first_ink_on_rays(a, 720)
        .into_iter()
        .map(|(x, y)| (x.floor() + 0.5, y.floor() + 0.5))
        .collect()
}

/// A small deterministic generator (xorshift), so a page always splits the same way.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// The ellipse most of `pts` lie on (within `tol` px), refined by least squares on its inliers,
/// with its inlier count; only ellipses with semi-axes within `semi` px are considered.
///
/// The points are in ray order, so one rim's points are a run: each sample takes five points
/// spread along a random stretch of an eighth to half of the outline, which is far likelier to
/// hit a single rim than five points drawn anywhere.
fn ransac(pts: &[(f64, f64)], tol: f64, semi: (f64, f64)) -> Option<(Rim, usize)> {
    let n = pts.len();
    if n < 40 {
        return None;
    }
    let inliers = |r: &Rim| {
        pts.iter()
            .filter(|p| r.radial_distance(p.0, p.1) <= tol)
            .count()
    };
    // Samples are scored on every third point (the best is counted on all of them).
    let scored: Vec<(f64, f64)> = pts.iter().copied().step_by(3).collect();
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let mut best: Option<(Rim, usize)> = None;
    for _ in 0..400 {
        let start = rng.below(n);
        let span = n / 8 + rng.below(n * 3 / 8);
        let sample: Vec<(f64, f64)> = (0..5)
            .map(|k| pts[(start + k * span / 4 + rng.below(span / 8 + 1)) % n])
            .collect();
        let Some(r) = Rim::fit(&sample) else {
            continue;
        };
        if !r.sized(semi) {
            continue;
        }
        let count = scored
            .iter()
            .filter(|p| r.radial_distance(p.0, p.1) <= tol)
            .count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((r, count));
        }
    }
    let rim = best?.0;
    let mut count = inliers(&rim);
    let mut rim = rim;
    // Refine on the inliers (a wider band, then the tolerance), keeping a fit only if it is
    // still seal-sized and holds at least as many points.
    for band in [2.0, 1.5, 1.0] {
        let near: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|p| rim.radial_distance(p.0, p.1) <= band * tol)
            .collect();
        if let Some(r) = Rim::fit(&near).filter(|r| r.sized(semi)) {
            let c = inliers(&r);
            if c >= count {
                rim = r;
                count = c;
            }
        }
    }
    Some((rim, count))
}

/// Share of the rim, outside `other`, with ink on it: on 360 points of the rim, whether any
/// pixel with coverage ≥ ½ lies from `tol` outside the rim to `band` inside it (the rim's
/// stroke). Returns (points outside `other`, share of those inked).
fn support(a: &Plane, rim: &Rim, other: &Rim, tol: f64, band: f64) -> (usize, f64) {
    let inked = |x: f64, y: f64| {
        x >= 0.0
            && y >= 0.0
            && (x as usize) < a.w
            && (y as usize) < a.h
            && a.v[y as usize * a.w + x as usize] >= 0.5
    };
    let (mut outside, mut hit) = (0usize, 0usize);
    for k in 0..360 {
        let (x, y) = rim.point(f64::from(k).to_radians());
        // Points inside the other rim (or on its stroke) are the other stamp's business.
        if other.level(x, y).sqrt() <= 1.0 + tol / other.axes().1 {
            continue;
        }
        outside += 1;
        let (dx, dy) = (rim.cx - x, rim.cy - y);
        let len = dx.hypot(dy).max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let mut d = -tol;
        while d <= band {
            if inked(x + ux * d - 0.5, y + uy * d - 0.5) {
                hit += 1;
                break;
            }
            d += 1.0;
        }
    }
    (
        outside,
        if outside == 0 {
            0.0
        } else {
            hit as f64 / outside as f64
        },
    )
}

/// Looks for one or two rims in the impression's outline (see the module comment).
pub(super) fn find_rims(a: &Plane, px_per_mm: f64) -> Rims {
    // Not the points on the box's own edge (within 3 px: the box holds the faint edge around the
    // ink): where a rim only touches it they are a few, where a stamp is cut off by the edge of
    // the picture they are the cut, not a rim.
    let (w, h) = (a.w as f64, a.h as f64);
    let pts: Vec<(f64, f64)> = outline(a)
        .into_iter()
        .filter(|p| p.0 > 3.0 && p.1 > 3.0 && p.0 < w - 3.0 && p.1 < h - 3.0)
        .collect();
    if pts.len() < 360 {
        return Rims::Irregular;
    }
    let n = pts.len();
    let tol = (0.4 * px_per_mm).max(2.0);
    // One ellipse of any size explains the outline: one seal (a close-up photo has no scale to
    // judge its size by). Half the rays or more meet it, and nearly all the others meet ink inside
    // it (through a dry gap in the rim, on to the text); a second stamp's rim would lie outside.
    if let Some((r, count)) = ransac(&pts, tol, (0.0, f64::INFINITY)) {
        let within = pts
            .iter()
            .filter(|p| r.level(p.0, p.1) < 1.0 || r.radial_distance(p.0, p.1) <= tol)
            .count();
        if count * 2 >= n && within * 100 >= n * 95 {
            return Rims::One;
        }
    }
    let semi = (SEMI_AXIS_MM.0 * px_per_mm, SEMI_AXIS_MM.1 * px_per_mm);
    let Some((first, count)) = ransac(&pts, tol, semi) else {
        return Rims::Irregular;
    };
    let rest: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|p| first.radial_distance(p.0, p.1) > 2.0 * tol)
        .collect();
    let Some((second, count2)) = ransac(&rest, tol, semi) else {
        return Rims::Irregular;
    };
    // Each rim a good part of the outline, and the two together nearly all of it.
    let either = pts
        .iter()
        .filter(|p| {
            first.radial_distance(p.0, p.1) <= 2.0 * tol
                || second.radial_distance(p.0, p.1) <= 2.0 * tol
        })
        .count();
    if count * 5 < n || count2 * 5 < n || either * 100 < n * 85 {
        return Rims::Irregular;
    }
    // Ink along most of each rim outside the other, and a good part of each outside the other
    // (so neither is nested in the other, like a frame's inner oval).
    let band = 1.5 * px_per_mm + tol;
    for (r, o) in [(&first, &second), (&second, &first)] {
        let (outside, share) = support(a, r, o, tol, band);
        if outside < 108 || share < 0.75 {
            return Rims::Irregular;
        }
    }
    // Almost all the ink inside one rim or the other: nothing a third stamp or a smear left.
    let (s1, s2) = (first.slack(), second.slack());
    let (mut ink, mut held) = (0usize, 0usize);
    for y in 0..a.h {
        for x in 0..a.w {
            if a.v[y * a.w + x] >= 0.5 {
                ink += 1;
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                held += usize::from(first.holds(px, py, s1) || second.holds(px, py, s2));
            }
        }
    }
    if held * 100 < ink * 97 {
        return Rims::Irregular;
    }
    Rims::Two([first, second])
}

/// Cuts the impression along the two rims: each keeps the ink inside its own (widened) rim, the
/// lens inside both going to both. `None` if either part would be empty.
fn split(f: &Found, rims: &[Rim; 2], px_per_mm: f64) -> Option<Vec<Found>> {
    let a = &f.alpha;
    let slack = [rims[0].slack(), rims[1].slack()];
    // Which pixels each (widened) rim holds; the rims overlap (rather than touch) when the lens
    // inside both is over 4 mm².
    let mut holds = [vec![false; a.w * a.h], vec![false; a.w * a.h]];
    let mut lens = 0usize;
    for y in 0..a.h {
        for x in 0..a.w {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let level = [rims[0].level(px, py), rims[1].level(px, py)];
            for k in 0..2 {
                holds[k][y * a.w + x] = level[k] <= slack[k];
            }
            lens += usize::from(level[0] <= 1.0 && level[1] <= 1.0);
        }
    }
    let shared = lens as f64 > 4.0 * px_per_mm * px_per_mm;
    let mut parts = Vec::with_capacity(2);
    for held in &holds {
        let keep = |p: &Plane| {
            let mut out = p.clone();
            for (v, &h) in out.v.iter_mut().zip(held) {
                if !h {
                    *v = 0.0;
                }
            }
            out
        };
        let alpha = keep(a);
        let (x0, y0, x1, y1) = ink_box(&alpha)?;
        let crop = |p: &Plane| p.crop(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        let alpha = crop(&alpha);
        let colour = [
            crop(&keep(&f.colour[0])),
            crop(&keep(&f.colour[1])),
            crop(&keep(&f.colour[2])),
        ];
        parts.push(Found {
            x: f.x + x0,
            y: f.y + y0,
            skew_deg: f.skew_deg.map(|_| estimate_skew(&alpha)),
            alpha,
            ink: f.ink,
            digital: f.digital,
            colour,
            overlap: if shared {
                Overlap::Shared
            } else {
                Overlap::None
            },
        });
    }
    // Reading order: the upper one first unless the two share a row, then the left one.
    let centre = |p: &Found| {
        (
            p.x as f64 + p.alpha.w as f64 / 2.0,
            p.y as f64 + p.alpha.h as f64 / 2.0,
        )
    };
    let (c0, c1) = (centre(&parts[0]), centre(&parts[1]));
    let row = parts[0].alpha.h.min(parts[1].alpha.h) as f64 / 2.0;
    let second_first = if (c0.1 - c1.1).abs() > row {
        c1.1 < c0.1
    } else {
        c1.0 < c0.0
    };
    if second_first {
        parts.swap(0, 1);
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws the ring between the ellipse (cx, cy, rx, ry, angle) and one `width` px inside it.
    fn ring(p: &mut Plane, (cx, cy): (f64, f64), (rx, ry): (f64, f64), deg: f64, width: f64) {
        let (s, c) = deg.to_radians().sin_cos();
        for y in 0..p.h {
            for x in 0..p.w {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
                let outer = (u / rx).powi(2) + (v / ry).powi(2) <= 1.0;
                let inner = (u / (rx - width)).powi(2) + (v / (ry - width)).powi(2) <= 1.0;
                if outer && !inner {
                    p.v[y * p.w + x] = 1.0;
                }
            }
        }
    }

    /// A filled disc, for the star and text inside a ring.
    fn blob(p: &mut Plane, (cx, cy): (f64, f64), r: f64) {
        for y in 0..p.h {
            for x in 0..p.w {
                if (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy) <= r {
                    p.v[y * p.w + x] = 1.0;
                }
            }
        }
    }

    fn separate_at(f: Found, px_per_mm: f32) -> Vec<Found> {
        separate(f, px_per_mm, (10_000, 10_000))
    }

    fn found(alpha: Plane) -> Found {
        let colour = [alpha.clone(), alpha.clone(), alpha.clone()];
        Found {
            x: 100,
            y: 50,
            alpha,
            skew_deg: Some(0.0),
            ink: super::super::Ink::Red,
            digital: false,
            colour,
            overlap: Overlap::None,
        }
    }

    #[test]
    fn an_ellipse_is_recovered_from_an_arc_of_its_points() {
        let (cx, cy, ra, rb, phi) = (300.0f64, 220.0, 180.0, 120.0, 0.3f64);
        let (s, c) = phi.sin_cos();
        // Two thirds of the rim, as the outer arc of an overlapped stamp is.
        let pts: Vec<(f64, f64)> = (0..240)
            .map(|k| {
                let t = f64::from(k).to_radians();
                (
                    cx + ra * t.cos() * c - rb * t.sin() * s,
                    cy + ra * t.cos() * s + rb * t.sin() * c,
                )
            })
            .collect();
        let r = Rim::fit(&pts).expect("an ellipse");
        let (a, b, angle) = r.axes();
        assert!(
            (r.cx - cx).abs() < 1e-6 && (r.cy - cy).abs() < 1e-6,
            "{r:?}"
        );
        assert!((a - ra).abs() < 1e-6 && (b - rb).abs() < 1e-6, "{a} {b}");
        let turn = (angle - phi).rem_euclid(std::f64::consts::PI);
        assert!(turn.min(std::f64::consts::PI - turn) < 1e-6, "{angle}");
        // The rim passes through the points, and the centre is inside.
        assert!(r.radial_distance(pts[17].0, pts[17].1) < 1e-6);
        assert!(r.level(cx, cy) < 1e-9);
        let p = r.point(1.0);
        assert!((r.level(p.0, p.1) - 1.0).abs() < 1e-9);
        // A line of points is no ellipse.
        let line: Vec<(f64, f64)> = (0..50)
            .map(|k| (f64::from(k), 2.0 * f64::from(k)))
            .collect();
        assert!(Rim::fit(&line).is_none());
    }

    /// Two 40 mm round stamps 22 mm apart at 10 px/mm, with a star in each: two rims found where
    /// they were drawn, and the ink split with the lens going to both.
    #[test]
    fn two_overlapping_rings_are_found_and_split() {
        let ppm = 10.0;
        let mut a = Plane::new(640, 460);
        let (ca, cb) = ((210.0, 220.0), (430.0, 250.0));
        ring(&mut a, ca, (200.0, 200.0), 0.0, 11.0);
        ring(&mut a, cb, (200.0, 180.0), 10.0, 11.0);
        blob(&mut a, ca, 30.0);
        blob(&mut a, cb, 30.0);
        let Rims::Two(r) = find_rims(&a, ppm) else {
            panic!("two rims expected, got {:?}", find_rims(&a, ppm));
        };
        let mut got = [(r[0].cx, r[0].cy), (r[1].cx, r[1].cy)];
        got.sort_by(|p, q| p.0.total_cmp(&q.0));
        for (g, w) in got.iter().zip([ca, cb]) {
            assert!((g.0 - w.0).hypot(g.1 - w.1) < 3.0, "{got:?}");
        }
        let parts = separate_at(found(a), ppm as f32);
        assert_eq!(parts.len(), 2);
        for (p, c) in parts.iter().zip([ca, cb]) {
            assert_eq!(p.overlap, Overlap::Shared);
            let centre = (
                (p.x - 100) as f64 + p.alpha.w as f64 / 2.0,
                (p.y - 50) as f64 + p.alpha.h as f64 / 2.0,
            );
            // Within 0.6 mm: the other rim's stroke, where it crosses this one, widens the box
            // by a few pixels.
            assert!((centre.0 - c.0).hypot(centre.1 - c.1) < 6.0, "{centre:?}");
        }
        assert!(
            (parts[0].alpha.w as i64 - 400).abs() <= 10,
            "{}",
            parts[0].alpha.w
        );
    }

    /// Two rings that only touch: split, without the shared-part mark.
    #[test]
    fn touching_rings_are_split_without_a_shared_part() {
        let mut a = Plane::new(860, 440);
        ring(&mut a, (220.0, 220.0), (210.0, 210.0), 0.0, 11.0);
        ring(&mut a, (640.0, 220.0), (210.0, 210.0), 0.0, 11.0);
        let parts = separate_at(found(a), 10.0);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.overlap == Overlap::None));
        assert!(parts[0].x < parts[1].x);
    }

    /// One large oval with an inner oval (the 50 × 36 frame) is one seal, and so is a ring of
    /// 70 mm or a large square (a close-up photo has no scale); two overlapping squares cannot be
    /// split and are marked.
    #[test]
    fn one_seal_and_shapes_without_two_rims() {
        let mut frame = Plane::new(520, 380);
        ring(&mut frame, (260.0, 190.0), (250.0, 180.0), 0.0, 6.0);
        ring(&mut frame, (260.0, 190.0), (180.0, 110.0), 0.0, 3.0);
        assert_eq!(find_rims(&frame, 10.0), Rims::One);
        let parts = separate_at(found(frame), 10.0);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].overlap, Overlap::None);

        let mut big = Plane::new(720, 720);
        ring(&mut big, (360.0, 360.0), (350.0, 350.0), 0.0, 12.0);
        let parts = separate_at(found(big), 10.0);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].overlap, Overlap::None);

        let mut square = Plane::new(520, 520);
        for y in 10..510 {
            for x in 10..510 {
                if !(22..498).contains(&x) || !(22..498).contains(&y) {
                    square.v[y * 520 + x] = 1.0;
                }
            }
        }
        let parts = separate_at(found(square), 10.0);
        assert_eq!(parts[0].overlap, Overlap::None);

        let mut squares = Plane::new(700, 480);
        for (x0, y0) in [(10usize, 10usize), (250, 150)] {
            for y in y0..y0 + 320 {
                for x in x0..x0 + 320 {
                    let edge = x < x0 + 12 || x >= x0 + 308 || y < y0 + 12 || y >= y0 + 308;
                    if edge {
                        squares.v[y * 700 + x] = 1.0;
                    }
                }
            }
        }
        let parts = separate_at(found(squares), 10.0);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].overlap, Overlap::Unsplit);
    }
}
