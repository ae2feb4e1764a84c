//! Blue ballpoint over a blue seal: finding the pen strokes by their darkness.
//!
//! A blue seal and a blue ballpoint signature share a hue, so the colour gate keeps both. They
//! differ in how much red and green light they let through: pad ink is spread thin on the paper
//! and textured, so even fresh pad ink passes far more than a ballpoint line, which is laid down
//! at full strength everywhere. Among the pixels of the seal's hue, the ink's own red + green
//! pass therefore has one mode for a clean seal and two for a signed one, the pen's at well under
//! two thirds of the seal's. Where the pen runs over seal ink, the two inks multiply and the pixel
//! is far darker than either alone: those pixels are the seal's (the stamp is under the pen).
//! Only runs of pen-dark pixels that reach well past the seal are taken for strokes (a signature
//! runs on beyond the stamp it crosses), so that the densest patches of the pad's own ink, which
//! never leave the seal, are not. When the test finds nothing the seal is left as it was.

/// Histogram bins of the red + green pass, 0..2 (paper is about 2).
const BINS: usize = 64;
/// A pen mode must be at most this share of the seal's red + green pass.
const PEN_RATIO: f32 = 0.62;
/// How deep the dip between two modes must go, as a share of the smaller one.
const VALLEY: f32 = 0.8;
/// Pen over seal ink: darker than this share of the pen's own pass. Inks multiply, so a pen over
/// seal ink passes the seal's share of the pen's light: under 0.6 even for a faded pad, and a pen
/// line alone is never that much darker than its own typical shade.
const UNDER_PEN_RATIO: f32 = 0.75;
/// A run of pen-dark pixels reaching this far (mm) past the seal is a signature.
const MIN_STROKE_MM: f32 = 3.0;

/// The pixels of blue ballpoint strokes over the box (with their anti-aliased edge), or `None`
/// when the seal's hue shows no separate darker ink. `seed` tells the pixels of the seal's hue.
pub(super) fn ballpoint(
    norm: &[[f32; 3]],
    w: usize,
    h: usize,
    px_per_mm: f32,
    seed: impl Fn(&[f32; 3]) -> bool,
) -> Option<Vec<bool>> {
    let pass = |n: &[f32; 3]| n[0] + n[1];
    let bin = |l: f32| ((l * (BINS as f32 / 2.0)) as usize).min(BINS - 1);
    let mut hist = [0u32; BINS];
    for n in norm.iter().filter(|n| seed(n)) {
        hist[bin(pass(n))] += 1;
    }
    // Smooth over three bins so that grain does not split a mode.
    let smooth: Vec<u32> = (0..BINS)
        .map(|i| hist[i.saturating_sub(1)..(i + 2).min(BINS)].iter().sum())
        .collect();
    let peak = *smooth.iter().max()?;
    if peak < 50 {
        return None;
    }
    // A mode stands apart from bin `from` when the histogram dips between them to under
    // VALLEY of its height (the flat bright tail of a clean seal's anti-aliased edges never does).
    let apart = |i: usize, from: usize| {
        let (lo, hi) = (i.min(from), i.max(from));
        let dip = smooth[lo..=hi].iter().min().copied().unwrap_or(0);
        dip as f32 <= VALLEY * smooth[i] as f32
    };
    let top = (0..BINS).max_by_key(|&i| smooth[i])?;
    // The seal is the highest mode, unless a brighter one of at least a quarter of its count
    // stands apart from it: then the highest was the pen's, over a faded seal.
    let brighter = (top + 1..BINS)
        .filter(|&i| smooth[i] * 4 >= peak && apart(i, top))
        .max_by_key(|&i| smooth[i]);
    let seal_bin = brighter.unwrap_or(top);
    let seal = (seal_bin as f32 + 0.5) * 2.0 / BINS as f32;
    let limit = PEN_RATIO * seal;
    // The pen's mode: the strongest bin clearly darker than the seal, standing apart from it and
    // with a twentieth of its count, not the few darkest pixels of the pad's own texture.
    let limit_bin = bin(limit);
    let pen_bin = (0..limit_bin).max_by_key(|&i| smooth[i])?;
    if smooth[pen_bin] * 20 < smooth[seal_bin] || !apart(pen_bin, seal_bin) {
        return None;
    }
    let pen = (pen_bin as f32 + 0.5) * 2.0 / BINS as f32;
    let under = UNDER_PEN_RATIO * pen;
    // Where the seal is: the middle 96 % of its own ink's positions on each axis (a pen's soft
    // edge has the seal's darkness too, but is a few percent of it at most).
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (i, n) in norm.iter().enumerate() {
        if seed(n) && pass(n) >= limit {
            xs.push(i % w);
            ys.push(i / w);
        }
    }
    if xs.len() < 100 {
        return None;
    }
    let spread = |v: &mut Vec<usize>| {
        let k = v.len() / 50;
        let top = v.len() - 1 - k;
        let lo = *v.select_nth_unstable(k).1;
        let hi = *v.select_nth_unstable(top).1;
        (lo, hi)
    };
    let ((sx0, sx1), (sy0, sy1)) = (spread(&mut xs), spread(&mut ys));
    // Pen-dark runs, with the pen-over-seal pixels that join them across the seal's strokes.
    let dark: Vec<bool> = norm.iter().map(|n| seed(n) && pass(n) < limit).collect();
    // A signature runs on well past the seal on either side; the densest ink of the pad itself
    // never leaves the seal.
    let reach = (MIN_STROKE_MM * px_per_mm) as usize;
    let mut strokes = vec![false; w * h];
    let mut any = false;
    // A thin line blurred by a low resolution fades out of the pen's darkness here and there:
    // bridge one-pixel breaks.
    let joined = super::dilate(&dark, w, h, 1);
    super::for_each_part(&joined, w, h, |part, [x0, y0, x1, y1]| {
        let beyond =
            x0 + reach <= sx0 || x1 >= sx1 + reach || y0 + reach <= sy0 || y1 >= sy1 + reach;
        if beyond {
            any = true;
            for &i in part {
                strokes[i] = dark[i] && pass(&norm[i]) >= under;
            }
        }
    });
    if !any {
        return None;
    }
    // The stroke's soft edge, about 0.15 mm, is pen too; ink much darker than the pen there is the
    // seal under it.
    let edge = ((0.15 * px_per_mm).round() as usize).max(1);
    let mut out = super::dilate(&strokes, w, h, edge);
    for (o, n) in out.iter_mut().zip(norm) {
        if *o && pass(n) < under {
            *o = false;
        }
    }
    Some(out)
}
