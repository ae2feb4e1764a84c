//! Finding seal impressions on a scanned page and cutting each out as a clean transparent picture.
//!
//! The pipeline, and why each step is there:
//! 1. **Paper white, per region.** Phone photos and scans are unevenly lit, so every colour test is
//!    made against the local paper colour (a bright percentile per block, spread and smoothed), not
//!    against fixed RGB values.
//! 2. **Seeds on a subsampled grid.** Seal ink is the only thing on a form that is clearly redder
//!    than it is green or blue (purple and blue seals are looked for only on a page without red,
//!    and must show a closed rim, since blue ballpoint has their colour). Testing every second
//!    pixel of every second row finds the impressions at a quarter of the cost; the
//!    full-resolution work is then done only inside them.
//! 3. **Grouping.** Inked cells are joined into components; components inside another one's box
//!    (the star and the seal name inside the rim) or next to it within a seal's size (a rim cut by
//!    a signature) are merged. Specks under 8 mm, anything over 100 mm, lines of print (more than
//!    3:1) and shapes without a rim around them are dropped. The survivors, in reading order, are
//!    the impressions.
//! 4. **Ink coverage at full resolution.** Inside each impression, coverage comes from how much
//!    light the pixel absorbs against how much the ink's full strength does, in luma alone (a JPEG
//!    keeps luma at full resolution; any one channel mixes in chroma stored at half, which smears
//!    stroke edges), gated by redness (half-resolution chroma in a JPEG). Where black print or a signature crosses the ink, inks
//!    multiply: seal ink underneath still lets far more red than green through, so the red/green
//!    log ratio, scaled by the seal ink's own, recovers the seal under the print. A blue
//!    ballpoint signature over a blue seal passes the seal's colour but is far darker than pad ink:
//!    its strokes are found by that darkness and by running on past the seal (`pen`), and are
//!    neither kept nor used to sample the seal's colour.
//! 5. **Two stamps over each other** (`overlap`). Ink larger than one seal (over 45 mm on the
//!    page's scale) is looked at for two rims: ellipses fitted by RANSAC to its outer boundary,
//!    accepted only when each has ink along most of its circumference outside the other. Then
//!    ink inside one rim only goes to that stamp and the lens inside both to both, each picture
//!    marked [`Warning::OverlapShared`] (stamps that only touch are split without a mark). Found
//!    no two rims, ink too large or too irregular for one seal stays one picture marked
//!    [`Warning::MaybeOverlapping`].
//! 6. **The sheet on a photo** (`page`). A capture without a recorded resolution may be a photo of
//!    the sheet lying on a desk, in perspective and bent by the lens. The sheet's four edges against
//!    the darker surround (or the project form's corner marks) give a map from the capture onto the
//!    flat A4 page; each impression's coverage is resampled through it, so a round seal comes out
//!    round and its size is measured on the page, not guessed from the frame. Found impressions
//!    and their coverage stay in capture coordinates; only the pictures are made on the page. A
//!    scan, a crop or a page filling the frame has no surround and goes on as before.
//! 7. **De-skew, crop, scale.** The angle that makes the ink's row and column profiles sharpest
//!    (horizontal strokes, the seal name, a square rim) is the skew; the coverage plane is rotated
//!    back, cropped to the ink and resampled to the physical size at the requested dpi.

use crate::decode::{Page, decode_page};
use crate::raster::{Plane, encode_png, encode_rgba_png};
use crate::{Error, SEAL_RED};

mod overlap;
mod page;
mod pen;

use overlap::Overlap;
pub(crate) use page::locate as locate_page;

/// How to size the extracted pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractOptions {
    /// Physical size of the seal in mm (width, height). `None`: measured on the page, at the
    /// resolution the scan records (JPEG JFIF density, PNG `pHYs`, image against PDF page size;
    /// 72 and 96 dpi are ignored as camera defaults); on a photo whose sheet is located, on the
    /// flat A4 page; or else taking the page to be an A4 form (long side 297 mm), as the 印模采集表
    /// is.
    pub size_mm: Option<(f32, f32)>,
    /// Output resolution in dots per inch (default 300; 72 to 2400 accepted).
    pub dpi: u32,
    /// The ink colour the seal must have, when the caller knows it (the platform passes the
    /// colour the seal kind requires: red for company seals, blue for 执业印章). `None`: red is
    /// looked for first, then purple, then blue (those two only with a closed rim, since ballpoint
    /// shares their colour).
    pub ink: Option<SealInk>,
    /// How the picture's ink looks: one flat seal colour (default), or the ink's own colour and
    /// texture as captured.
    pub look: InkLook,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            size_mm: None,
            dpi: 300,
            ink: None,
            look: InkLook::Flat,
        }
    }
}

/// The colour family of a seal's ink (印油颜色).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealInk {
    /// Red (almost every seal).
    Red,
    /// Blue (执业印章 of registered professions, practice seals).
    Blue,
    /// Purple.
    Purple,
}

/// How an extracted picture's ink looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InkLook {
    /// Uniform seal colour with anti-aliased alpha: clean, what an electronic seal usually shows.
    #[default]
    Flat,
    /// The ink's own colour and texture, unmixed from the paper: alpha is the coverage, colour is
    /// what the ink looked like there (lit evenly).
    Natural,
}

/// One seal impression cut out of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Impression {
    /// RGBA PNG: transparent background, ink in [`SEAL_RED`](crate::SEAL_RED) (dark blue or
    /// purple for seals in those inks) with its anti-aliased edges as alpha, de-skewed, cropped to
    /// the ink and scaled to the physical size.
    pub png: Vec<u8>,
    /// Left edge of the impression on the source page, px.
    pub x: u32,
    /// Top edge of the impression on the source page, px.
    pub y: u32,
    /// Width of the impression on the source page, px.
    pub width: u32,
    /// Height of the impression on the source page, px.
    pub height: u32,
    /// Physical width, mm (given, or measured on the page; see [`ExtractOptions::size_mm`]).
    pub width_mm: f32,
    /// Physical height, mm.
    pub height_mm: f32,
    /// The ink family the impression was found in.
    pub ink: SealInk,
    /// Doubts about the impression the applicant or operator should see (empty when none).
    pub warnings: Vec<Warning>,
}

/// Something about an impression that may make it unfit, though a picture was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The ink runs into the edge of the picture: the stamp is probably cut off.
    CutOffAtEdge,
    /// No paper texture and perfectly even ink: a screenshot or digital copy of a seal, not a
    /// stamp on paper.
    MaybeDigitalCopy,
    /// Larger or less regular than any standard seal: probably two stamps pressed over each
    /// other, which could not be separated (no two round or oval rims were found) and are returned
    /// as one picture.
    MaybeOverlapping,
    /// One of two stamps pressed over each other, separated along their rims: the part inside
    /// both rims is in both pictures, so it may hold strokes of the other stamp.
    OverlapShared,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Warning::CutOffAtEdge => {
                "印章被图片边缘截断，请重新拍摄完整印章 (the stamp is cut off by the edge of the picture)"
            }
            Warning::MaybeDigitalCopy => {
                "图片没有纸张纹理，可能是印章的电子复制件而非纸面盖章 (no paper texture: this may be a digital copy, not a stamp on paper)"
            }
            Warning::MaybeOverlapping => {
                "印迹大于标准印章或形状不规则，可能是两枚印章重叠，无法分开，请勿重叠重新盖章 (larger or less regular than any standard seal: probably two overlapping stamps, which cannot be separated; please stamp again without overlapping)"
            }
            Warning::OverlapShared => {
                "两枚印章重叠，已按印章边框分开，重叠部分可能含有另一枚印章的笔画；如需清晰印模，请勿重叠重新盖章 (two stamps overlapped and were separated along their rims; the shared part may hold strokes of the other stamp: stamp again without overlapping for a clean picture)"
            }
        })
    }
}

/// Finds every seal impression in a JPEG, PNG or PDF scan, in reading order (rows top to bottom,
/// left to right within a row).
///
/// Errors: [`Error::NoImpression`] when the page has no seal ink; [`Error::EmptyPage`] for a blank
/// page; format and size errors for bad input. Never panics on any input.
pub fn extract(input: &[u8], opts: &ExtractOptions) -> Result<Vec<Impression>, Error> {
    check_options(opts)?;
    let page = decode_page(input)?;
    // A capture with a recorded resolution is a scan: flat and to scale already.
    let sheet = page.dpi.is_none().then(|| page::locate(&page)).flatten();
    // On a located sheet each picture's skew is measured on the flat page, not in the frame.
    let found = find_with(&page, opts.ink, sheet.is_none())?;
    let px_per_mm = page_px_per_mm(&page);
    let size = (page.width as usize, page.height as usize);
    found
        .iter()
        .map(|f| finish(f, size, px_per_mm, page.dpi.is_some(), opts, sheet.as_ref()))
        .collect()
}

fn check_options(opts: &ExtractOptions) -> Result<(), Error> {
    if !(72..=2400).contains(&opts.dpi) {
        return Err(Error::InvalidRequest(format!(
            "dpi {} outside 72-2400",
            opts.dpi
        )));
    }
    if let Some((w, h)) = opts.size_mm
        && (!(5.0..=150.0).contains(&w) || !(5.0..=150.0).contains(&h))
    {
        return Err(Error::InvalidRequest(format!(
            "size {w}x{h} mm outside 5-150 mm"
        )));
    }
    // A given size fixes the output: refuse an impossible one before decoding anything.
    if let Some((w, h)) = opts.size_mm {
        let px = |mm: f32| (mm * opts.dpi as f32 / 25.4).round() as usize;
        crate::raster::check_output_size(px(w), px(h))?;
    }
    Ok(())
}

/// Sizes one impression found on `page` (as [`extract`] does), for the form reader.
pub(crate) fn finish_found(
    f: &Found,
    page: &Page,
    opts: &ExtractOptions,
) -> Result<Impression, Error> {
    check_options(opts)?;
    let size = (page.width as usize, page.height as usize);
    finish(
        f,
        size,
        page_px_per_mm(page),
        page.dpi.is_some(),
        opts,
        None,
    )
}

/// The page's scale: the resolution the scanner recorded, else an A4 form (long side 297 mm).
fn page_px_per_mm(page: &Page) -> f32 {
    page.dpi
        .map_or(page.width.max(page.height) as f32 / 297.0, |dpi| dpi / 25.4)
}

/// An impression found on the page, before sizing.
pub(crate) struct Found {
    /// Bounding box of the coverage plane on the page, px.
    pub x: usize,
    pub y: usize,
    /// Ink coverage 0..1 over the box.
    pub alpha: Plane,
    /// Skew of the impression on the page, degrees, clockwise as seen on screen; `None` when not
    /// measured in the frame (a picture made on the located sheet measures it there).
    pub skew_deg: Option<f32>,
    /// The ink family, which sets the picture's colour.
    pub ink: Ink,
    /// No paper texture around the ink and perfectly even ink (see [`Warning::MaybeDigitalCopy`]).
    pub digital: bool,
    /// The ink's own colour per pixel, premultiplied by the coverage (red, green, blue planes
    /// over the same box), for [`InkLook::Natural`].
    pub colour: [Plane; 3],
    /// Whether this is one of two overlapping stamps, or may be two that could not be split.
    pub overlap: Overlap,
}

/// How far an ink's own colour must stand out (see [`Ink::score`]) to seed an impression.
const SEED_SCORE: f32 = 0.2;
/// The same when the caller named the ink: no other family can be mistaken for it, so faded
/// ink (a dry purple pad stands out by about 0.2) still seeds.
const SEED_SCORE_GIVEN: f32 = 0.12;

/// The ink families seals are stamped in, tried in this order: red first (almost every seal);
/// purple and blue only on a page without red, and only for shapes with a closed rim, since blue
/// ballpoint signatures share the colour of blue seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    Red,
    Purple,
    Blue,
}

impl Ink {
    const ALL: [Ink; 3] = [Ink::Red, Ink::Purple, Ink::Blue];

    /// How much more light of this ink's own colour passes than of the others (paper-relative
    /// channels); positive only for this ink family.
    #[inline]
    fn score(self, n: &[f32; 3]) -> f32 {
        match self {
            Ink::Red => n[0] - n[1].max(n[2]),
            Ink::Purple => n[0].min(n[2]) - n[1],
            Ink::Blue => n[2] - n[0].max(n[1]),
        }
    }

    /// The channel(s) the ink lets through: light for ink, dark for black print over it.
    #[inline]
    fn pass(self, n: &[f32; 3]) -> f32 {
        match self {
            Ink::Red => n[0],
            Ink::Purple => n[0].min(n[2]),
            Ink::Blue => n[2],
        }
    }

    /// A seed pixel: clearly this ink, and not so dark that it is print.
    #[inline]
    fn seeds(self, n: &[f32; 3], min_score: f32) -> bool {
        self.score(n) >= min_score && self.pass(n) > if self == Ink::Blue { 0.25 } else { 0.45 }
    }

    /// The uniform colour the picture is painted in.
    fn colour(self) -> [u8; 3] {
        match self {
            Ink::Red => SEAL_RED,
            Ink::Purple => [0x6A, 0x1B, 0x9A],
            Ink::Blue => [0x1B, 0x3A, 0x8C],
        }
    }
}

/// Steps 1-5: the impressions on the page, with their coverage planes, in reading order.
pub(crate) fn find(page: &Page, want: Option<SealInk>) -> Result<Vec<Found>, Error> {
    find_with(page, want, true)
}

/// [`find`], measuring each impression's skew in the capture's frame only when `skew` is set.
fn find_with(page: &Page, want: Option<SealInk>, skew: bool) -> Result<Vec<Found>, Error> {
    let white = WhiteMap::estimate(page);
    if is_blank(page, &white) {
        return Err(Error::EmptyPage);
    }
    let families: &[Ink] = match want {
        None => &Ink::ALL,
        Some(SealInk::Red) => &[Ink::Red],
        Some(SealInk::Blue) => &[Ink::Blue],
        Some(SealInk::Purple) => &[Ink::Purple],
    };
    for &ink in families {
        let found = find_ink(page, &white, ink, want.is_some(), skew);
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Err(Error::NoImpression)
}

/// A page with (almost) nothing on it is a blank scan, not a form without a seal.
fn is_blank(page: &Page, white: &WhiteMap) -> bool {
    let (w, h) = (page.width as usize, page.height as usize);
    // Every fourth pixel of every fourth row; a page is blank when under one in 20 000 of them is
    // marked. A form passes that count within its first lines of print: stop there.
    let sampled = h.div_ceil(4) * (w / 4);
    let mut marked = 0usize;
    for y in (0..h).step_by(4) {
        let row = &page.rgb[y * w * 3..(y + 1) * w * 3];
        let block_row = &white.inv[(y / white.block) * white.gw..][..white.gw];
        for (x, px) in row.chunks_exact(12).enumerate() {
            let inv = block_row[x * 4 / white.block];
            let n = normalise(px, &inv);
            marked += usize::from(n[0].min(n[1]).min(n[2]) < 0.75);
        }
        if marked * 20_000 >= sampled {
            return false;
        }
    }
    true
}

/// The impressions in one ink family.
fn find_ink(page: &Page, white: &WhiteMap, ink: Ink, given: bool, skew: bool) -> Vec<Found> {
    let min_score = if given { SEED_SCORE_GIVEN } else { SEED_SCORE };
    let px_per_mm = page_px_per_mm(page);
    // Cells of about 1.3 mm at 300 dpi; at least 4 px so a tiny page still has a grid.
    let cell = ((px_per_mm * 1.3) as usize).max(4);
    let (w, h) = (page.width as usize, page.height as usize);
    let (cw, ch) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut seeds = vec![0u32; cw * ch];
    // Every second pixel of every second row, against its block's paper colour (no interpolation:
    // seeds only feed cell counts, so a step between blocks does not matter, and this pass touches
    // the whole page).
    for y in (0..h).step_by(2) {
        let row = &page.rgb[y * w * 3..(y + 1) * w * 3];
        let block_row = &white.inv[(y / white.block) * white.gw..][..white.gw];
        let paper_row = &white.paper[(y / white.block) * white.gw..][..white.gw];
        let seed_row = &mut seeds[(y / cell) * cw..][..cw];
        for (x, px) in row.chunks_exact(6).enumerate() {
            let x = x * 2;
            if !paper_row[x / white.block] {
                continue;
            }
            let inv = block_row[x / white.block];
            let n = normalise(px, &inv);
            if ink.seeds(&n, min_score) {
                seed_row[x / cell] += 1;
            }
        }
    }
    // A cell counts when a few percent of its sampled pixels are red: isolated JPEG colour noise
    // never gets there, a stroke crossing the cell always does.
    let per_cell = (cell * cell / 4) as u32;
    let inked: Vec<bool> = seeds.iter().map(|&n| n * 25 >= per_cell).collect();
    let mut boxes = components(&inked, cw, ch, 2);
    // The largest seals in use are about 58 mm (some 合同专用章); leave a little for skew.
    merge_parts(&mut boxes, (62.0 * px_per_mm / cell as f32) as usize);
    // A seal is at least ~8 mm across; anything smaller is a red tick or a speck. Anything over
    // 100 mm is not a seal either (a red photo, a red page border), and is not worth the memory
    // of a full-resolution look.
    let min_cells = ((8.0 * px_per_mm / cell as f32) as usize).max(3);
    // (Only with a recorded resolution: without one, the page may be a photo of just the seal.)
    let max_cells = match page.dpi {
        Some(_) => (100.0 * px_per_mm / cell as f32) as usize,
        None => usize::MAX,
    };
    // Seals are round, oval or square: a box more than three times as wide as high (or the
    // reverse) is a line of red print.
    boxes.retain(|b| {
        let (bw, bh) = (b.w(), b.h());
        let sized = (min_cells..=max_cells).contains(&bw) && (min_cells..=max_cells).contains(&bh);
        sized && b.cells >= 12 && bw <= 3 * bh && bh <= 3 * bw
    });
    sort_reading_order(&mut boxes);
    let mut found = Vec::with_capacity(boxes.len());
    for b in &boxes {
        let margin = cell;
        let x0 = (b.x0 * cell).saturating_sub(margin);
        let y0 = (b.y0 * cell).saturating_sub(margin);
        let x1 = ((b.x1 + 1) * cell + margin).min(w);
        let y1 = ((b.y1 + 1) * cell + margin).min(h);
        if let Some(f) = coverage(page, white, ink, min_score, (x0, y0, x1, y1), skew)
            // A colour the caller asked for is a seal's by definition, so blue and purple need
            // no more rim than red does.
            && has_closed_rim(&f.alpha, if ink == Ink::Red || given { 0.67 } else { 0.9 })
        {
            // Two stamps pressed over each other are one shape so far: cut them apart.
            found.extend(overlap::separate(f, px_per_mm, (w, h)));
        }
    }
    found
}

/// Luma as a JPEG stores it (BT.601 weights), of paper-relative channels: the one quantity a JPEG
/// keeps at full resolution.
#[inline]
fn video_luma(n: &[f32; 3]) -> f32 {
    0.299 * n[0] + 0.587 * n[1] + 0.114 * n[2]
}

/// Pixel colour divided by the local paper colour, per channel, 0..~1.2.
#[inline]
fn normalise(px: &[u8], white: &[f32; 3]) -> [f32; 3] {
    [
        f32::from(px[0]) * white[0],
        f32::from(px[1]) * white[1],
        f32::from(px[2]) * white[2],
    ]
}

/// A block's brightest tenth is its own paper when at least this share of the brightest nearby
/// block's luma; darker, the block is taken to be under ink.
const OWN_PAPER: f32 = 0.8;

/// The local paper colour, on a grid of blocks, as reciprocals (so normalising is a multiply).
struct WhiteMap {
    block: usize,
    gw: usize,
    gh: usize,
    inv: Vec<[f32; 3]>,
    /// Whether the block's bright colour can be paper: roughly neutral and not dark. A desk, a
    /// wall or a phone around the sheet in a photo is not, and nothing on it is a stamp.
    paper: Vec<bool>,
}

impl WhiteMap {
    fn estimate(page: &Page) -> Self {
        let (w, h) = (page.width as usize, page.height as usize);
        let block = (w.min(h) / 80).clamp(8, 64);
        let (gw, gh) = (w.div_ceil(block), h.div_ceil(block));
        let mut bright = vec![[255f32; 3]; gw * gh];
        // Per block: a luma histogram with the colour sums of each bin, from every third pixel of
        // every third row (light varies slowly), in one pass.
        let mut hist = vec![(0u32, [0u32; 3]); 256];
        for by in 0..gh {
            for bx in 0..gw {
                hist.fill((0, [0; 3]));
                let (xa, xb) = (bx * block, ((bx + 1) * block).min(w));
                let (ya, yb) = (by * block, ((by + 1) * block).min(h));
                let mut n = 0u32;
                for y in (ya..yb).step_by(3) {
                    for p in page.rgb[(y * w + xa) * 3..(y * w + xb) * 3]
                        .chunks_exact(3)
                        .step_by(3)
                    {
                        let bin = &mut hist[luma(p) as usize];
                        bin.0 += 1;
                        for (acc, &v) in bin.1.iter_mut().zip(p) {
                            *acc += u32::from(v);
                        }
                        n += 1;
                    }
                }
                // The brightest tenth of the block is paper unless the block is all ink.
                let (mut count, mut sum) = (0u32, [0u32; 3]);
                for (c, s) in hist.iter().rev() {
                    count += c;
                    for k in 0..3 {
                        sum[k] += s[k];
                    }
                    if count * 10 >= n {
                        break;
                    }
                }
                if count > 0 {
                    bright[by * gw + bx] = sum.map(|s| s as f32 / count as f32);
                }
            }
        }
        // Blocks wholly covered by ink (a solid star, a thick rim) must borrow the paper of their
        // neighbours: the brightest block within 3 blocks. Only those, though: a block whose own
        // bright part is near its neighbours' is paper, and keeps its own light, since a shadow's
        // edge or a lamp's fall-off in a photo darkens the paper by several percent within 3
        // blocks, and paper read as that much too dark turns into faint ink around every stroke.
        let spread = max_filter_blocks(&bright, gw, gh, 3);
        let lum = |c: &[f32; 3]| c[0] + 2.0 * c[1] + c[2];
        let own: Vec<[f32; 3]> = bright
            .iter()
            .zip(&spread)
            .map(|(b, s)| if lum(b) >= OWN_PAPER * lum(s) { *b } else { *s })
            .collect();
        let smooth = box_blocks(&own, gw, gh, 2);
        let inv = smooth
            .iter()
            .map(|c| c.map(|v| 1.0 / v.max(24.0)))
            .collect();
        let paper = smooth
            .iter()
            .map(|c| {
                let (lo, hi) = (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2]));
                hi >= 80.0 && lo >= 0.7 * hi
            })
            .collect();
        Self {
            block,
            gw,
            gh,
            inv,
            paper,
        }
    }

    /// Reciprocal paper colour for pixels `x0..x0 + out.len()` of row `y`, bilinear between
    /// block centres.
    fn row(&self, y: usize, x0: usize, out: &mut [[f32; 3]]) {
        let fy = ((y as f32 + 0.5) / self.block as f32 - 0.5).clamp(0.0, (self.gh - 1) as f32);
        let y0 = fy as usize;
        let y1 = (y0 + 1).min(self.gh - 1);
        let ty = fy - y0 as f32;
        let col: Vec<[f32; 3]> = (0..self.gw)
            .map(|bx| {
                let (a, b) = (self.inv[y0 * self.gw + bx], self.inv[y1 * self.gw + bx]);
                [0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * ty)
            })
            .collect();
        let inv_block = 1.0 / self.block as f32;
        for (x, o) in (x0..).zip(out.iter_mut()) {
            let fx = ((x as f32 + 0.5) * inv_block - 0.5).clamp(0.0, (self.gw - 1) as f32);
            let x0 = fx as usize;
            let x1 = (x0 + 1).min(self.gw - 1);
            let tx = fx - x0 as f32;
            let (a, b) = (col[x0], col[x1]);
            *o = [
                a[0] + (b[0] - a[0]) * tx,
                a[1] + (b[1] - a[1]) * tx,
                a[2] + (b[2] - a[2]) * tx,
            ];
        }
    }
}

#[inline]
fn luma(p: &[u8]) -> u32 {
    (u32::from(p[0]) + 2 * u32::from(p[1]) + u32::from(p[2])) / 4
}

fn max_filter_blocks(v: &[[f32; 3]], w: usize, h: usize, r: usize) -> Vec<[f32; 3]> {
    let mut out = vec![[0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut best = [0f32; 3];
            let mut best_l = -1.0;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    let c = v[yy * w + xx];
                    let l = c[0] + 2.0 * c[1] + c[2];
                    // Keep the whole colour of the brightest block so the paper tint stays right.
                    if l > best_l {
                        best_l = l;
                        best = c;
                    }
                }
            }
            out[y * w + x] = best;
        }
    }
    out
}

fn box_blocks(v: &[[f32; 3]], w: usize, h: usize, r: usize) -> Vec<[f32; 3]> {
    let mut out = vec![[0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = [0f32; 3];
            let mut n = 0.0;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    let c = v[yy * w + xx];
                    s = [s[0] + c[0], s[1] + c[1], s[2] + c[2]];
                    n += 1.0;
                }
            }
            out[y * w + x] = s.map(|c| c / n);
        }
    }
    out
}

/// A group of inked cells.
#[derive(Debug, Clone, Copy)]
struct CellBox {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    cells: usize,
}

impl CellBox {
    fn w(&self) -> usize {
        self.x1 - self.x0 + 1
    }
    fn h(&self) -> usize {
        self.y1 - self.y0 + 1
    }
    fn union(&self, o: &CellBox) -> CellBox {
        CellBox {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
            cells: self.cells + o.cells,
        }
    }
    /// Cells between the two boxes (0 when they touch or overlap).
    fn gap(&self, o: &CellBox) -> usize {
        let dx =
            o.x0.saturating_sub(self.x1)
                .max(self.x0.saturating_sub(o.x1));
        let dy =
            o.y0.saturating_sub(self.y1)
                .max(self.y0.saturating_sub(o.y1));
        dx.max(dy).saturating_sub(1)
    }
    fn overlap_area(&self, o: &CellBox) -> usize {
        let w = (self.x1.min(o.x1) + 1).saturating_sub(self.x0.max(o.x0));
        let h = (self.y1.min(o.y1) + 1).saturating_sub(self.y0.max(o.y0));
        w * h
    }
}

/// Connected components of inked cells, joining cells up to `gap` cells apart.
fn components(inked: &[bool], w: usize, h: usize, gap: usize) -> Vec<CellBox> {
    let mut label = vec![u32::MAX; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !inked[start] || label[start] != u32::MAX {
            continue;
        }
        let id = out.len() as u32;
        label[start] = id;
        stack.push(start);
        let mut b = CellBox {
            x0: start % w,
            y0: start / w,
            x1: start % w,
            y1: start / w,
            cells: 0,
        };
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            b.x0 = b.x0.min(x);
            b.x1 = b.x1.max(x);
            b.y0 = b.y0.min(y);
            b.y1 = b.y1.max(y);
            b.cells += 1;
            for yy in y.saturating_sub(gap)..(y + gap + 1).min(h) {
                for xx in x.saturating_sub(gap)..(x + gap + 1).min(w) {
                    let j = yy * w + xx;
                    if inked[j] && label[j] == u32::MAX {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(b);
    }
    out
}

/// Merges the parts of one seal until stable: boxes that mostly lie inside another (the star and
/// the seal name inside the rim), and neighbouring boxes that together are no bigger than a seal
/// can be (a rim cut in two by a signature or by print). `max_cells` is that largest seal side.
fn merge_parts(boxes: &mut Vec<CellBox>, max_cells: usize) {
    loop {
        let mut merged = false;
        'outer: for i in 0..boxes.len() {
            for j in 0..boxes.len() {
                if i == j {
                    continue;
                }
                let (a, b) = (boxes[i], boxes[j]);
                let small = (a.w() * a.h()).min(b.w() * b.h());
                let joined = a.union(&b);
                let near = a.gap(&b) <= 2 && joined.w() <= max_cells && joined.h() <= max_cells;
                if a.overlap_area(&b) * 10 >= small * 6 || near {
                    boxes[i] = a.union(&b);
                    boxes.swap_remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            return;
        }
    }
}

/// Rows top to bottom (boxes whose vertical extents overlap share a row), left to right in a row.
fn sort_reading_order(boxes: &mut [CellBox]) {
    boxes.sort_by_key(|b| b.y0);
    let mut row = 0usize;
    let mut row_bottom = 0usize;
    let mut keyed: Vec<(usize, usize, CellBox)> = Vec::with_capacity(boxes.len());
    for (i, b) in boxes.iter().enumerate() {
        let centre = (b.y0 + b.y1) / 2;
        if i > 0 && centre > row_bottom {
            row += 1;
        }
        if i == 0 || centre > row_bottom {
            row_bottom = b.y1;
        } else {
            row_bottom = row_bottom.max(b.y1);
        }
        keyed.push((row, b.x0, *b));
    }
    keyed.sort_by_key(|k| (k.0, k.1));
    for (slot, k) in boxes.iter_mut().zip(keyed) {
        *slot = k.2;
    }
}

/// Step 4: ink coverage over one impression's box, trimmed to the ink.
fn coverage(
    page: &Page,
    white: &WhiteMap,
    ink_family: Ink,
    min_score: f32,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    skew: bool,
) -> Option<Found> {
    let (w, h) = (x1 - x0, y1 - y0);
    let pw = page.width as usize;
    let mut norm = vec![[0f32; 3]; w * h];
    let mut row_white = vec![[0f32; 3]; w];
    for y in 0..h {
        white.row(y0 + y, x0, &mut row_white);
        for x in 0..w {
            let i = ((y0 + y) * pw + x0 + x) * 3;
            norm[y * w + x] = normalise(&page.rgb[i..i + 3], &row_white[x]);
        }
    }
    // A blue ballpoint signature has the hue of a blue seal: its strokes are neither the seal nor
    // a sample of the seal's colour.
    let pen = if ink_family == Ink::Blue {
        pen::ballpoint(&norm, w, h, page_px_per_mm(page), |n| {
            ink_family.seeds(n, min_score)
        })
    } else {
        None
    };
    let is_pen = |i: usize| pen.as_ref().is_some_and(|p| p[i]);
    // The ink's own colour, from the pixels that clearly have it.
    let mut reds: Vec<[f32; 3]> = norm
        .iter()
        .enumerate()
        .filter(|&(i, n)| ink_family.seeds(n, min_score) && !is_pen(i))
        .map(|(_, n)| *n)
        .collect();
    if reds.len() < 20 {
        return None;
    }
    // Order only as far as needed: the 5 % and 30 % ranks by redness, most red first.
    let by_redness =
        |a: &[f32; 3], b: &[f32; 3]| ink_family.score(b).total_cmp(&ink_family.score(a));
    let (lo, hi) = (reds.len() / 20, reds.len() * 3 / 10);
    reds.select_nth_unstable_by(hi, by_redness);
    reds[..hi].select_nth_unstable_by(lo, by_redness);
    // The ink's full strength: the most saturated quarter of the red pixels, skipping the top
    // twentieth (JPEG overshoot at stroke edges).
    let top = &reds[lo..hi];
    let ink = top
        .iter()
        .fold([0f32; 3], |s, c| [s[0] + c[0], s[1] + c[1], s[2] + c[2]])
        .map(|v| v / top.len() as f32);
    let ink_score = ink_family.score(&ink);
    let ink_absorbs = (1.0 - video_luma(&ink)).max(0.1);
    let ink_pass = ink_family.pass(&ink);
    let ink_log_rg = (ink_pass.max(0.05) / ink[1].max(0.05)).ln().max(0.3);

    // Coverage from luma absorption; redness gate; dark-overprint flags.
    let mut a = Plane::new(w, h);
    let mut mask = vec![false; w * h];
    let mut dark = vec![false; w * h];
    let mut under_print = vec![0f32; w * h];
    for (i, n) in norm.iter().enumerate() {
        if is_pen(i) {
            continue;
        }
        let cov = ((1.0 - video_luma(n)) / ink_absorbs).clamp(0.0, 1.0);
        let pass = ink_family.pass(n);
        // What the passing channel should read if this pixel were only seal ink over paper.
        let expected = 1.0 - cov * (1.0 - ink_pass);
        if pass < expected - 0.3 && pass < 0.6 {
            // Black print or a signature over the pixel. Inks multiply, so seal ink underneath
            // still passes its own colour far better than green: the log ratio of the two,
            // against the seal ink's own, estimates the seal coverage under the print.
            dark[i] = true;
            under_print[i] = (pass.max(0.01) / n[1].max(0.01)).ln();
        } else if ink_family.score(n) >= 0.25 * ink_score {
            a.v[i] = cov;
            mask[i] = cov >= 0.5;
        }
    }
    // Print is not quite neutral: black ballpoint is a little blue, enough to read as a faded blue
    // seal under it. Most dark pixels are print beside the seal's strokes, not over them, so a
    // low rank of their ratios is the print's own, which ink under it adds to.
    let mut ratios: Vec<f32> = (0..w * h)
        .filter(|&i| dark[i])
        .map(|i| under_print[i])
        .collect();
    let own = if ratios.len() >= 20 {
        let k = ratios.len() * 3 / 10;
        ratios.select_nth_unstable_by(k, f32::total_cmp).1.max(0.0)
    } else {
        0.0
    };
    for i in 0..w * h {
        if dark[i] {
            under_print[i] = (under_print[i] - own) / ink_log_rg;
        }
    }
    // Ink under print only counts where it continues visible seal ink: grow the mask into the
    // print pixels that read as red-under-print. Print elsewhere that merely looks warm (JPEG
    // colour bleeding into a caption near the seal) stays out.
    let mut stack: Vec<usize> = (0..w * h).filter(|&i| mask[i]).collect();
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let j = ny * w + nx;
                if !mask[j] && under_print[j] >= 0.5 {
                    mask[j] = true;
                    a.v[j] = under_print[j].min(1.0);
                    stack.push(j);
                }
            }
        }
    }
    drop_specks(&mut mask, &mut a.v, w, h, 10);
    // Pinholes left where print edges blur into seal strokes: dark pixels inside a one-pixel
    // closing of the ink mask. (Wider closings bridge the gaps between seal characters under
    // print; the red/green ratio above already recovers most ink under print.)
    let closed = close(&mask, w, h, 1);
    for i in 0..w * h {
        if dark[i] && closed[i] && !mask[i] {
            a.v[i] = 1.0;
            mask[i] = true;
        }
    }
    // Anti-aliased edges survive only next to the ink; paper texture elsewhere is dropped, and
    // coverage is stretched so that 0.2 → 0 and 0.8 → 1 (the 0.5 boundary stays where it was).
    let near = dilate(&mask, w, h, 1);
    for (v, &keep) in a.v.iter_mut().zip(&near) {
        *v = if keep {
            ((*v - 0.2) / 0.6).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
    // Trim to the ink.
    let (mut bx0, mut by0, mut bx1, mut by1) = (w, h, 0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if a.v[y * w + x] > 0.0 {
                bx0 = bx0.min(x);
                bx1 = bx1.max(x);
                by0 = by0.min(y);
                by1 = by1.max(y);
            }
        }
    }
    if bx1 < bx0 || by1 < by0 {
        return None;
    }
    // The ink's own colour, unmixed from the paper: the colour that, laid at this coverage on
    // white, gives what the camera saw. Under print the ink cannot be seen, so it gets the ink's
    // typical colour.
    let mut colour = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
    for (i, n) in norm.iter().enumerate() {
        let al = a.v[i];
        if al <= 0.0 {
            continue;
        }
        for c in 0..3 {
            let own = if dark[i] {
                ink[c]
            } else {
                (1.0 - (1.0 - n[c]) / al).clamp(0.0, 1.0)
            };
            colour[c].v[i] = own * al;
        }
    }
    let (tw, th) = (bx1 - bx0 + 1, by1 - by0 + 1);
    let trim = |p: &Plane| p.crop(bx0, by0, tw, th);
    let mut trimmed = trim(&a);
    let digital = looks_digital(&norm, &a.v, &mask, w);
    let mut colour = [trim(&colour[0]), trim(&colour[1]), trim(&colour[2])];
    // Round and oval seals end at their rim: whatever lies outside it (the tails of a signature
    // in the seal's own colour, print the stamp was pressed over) is not the seal.
    if let Some(outside) = outside_rim(&trimmed) {
        for (i, out) in outside.iter().enumerate() {
            if *out {
                trimmed.v[i] = 0.0;
                for c in &mut colour {
                    c.v[i] = 0.0;
                }
            }
        }
        let (x0, y0, x1, y1) = ink_box(&trimmed)?;
        let crop = |p: &Plane| p.crop(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        trimmed = crop(&trimmed);
        colour = [crop(&colour[0]), crop(&colour[1]), crop(&colour[2])];
        bx0 += x0;
        by0 += y0;
    }
    let skew_deg = skew.then(|| estimate_skew(&trimmed));
    let _ = (bx1, by1);
    Some(Found {
        ink: ink_family,
        x: x0 + bx0,
        y: y0 + by0,
        alpha: trimmed,
        skew_deg,
        colour,
        digital,
        overlap: Overlap::None,
    })
}

/// The box of the pixels with any ink, if there are any.
fn ink_box(p: &Plane) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (p.w, p.h, 0, 0);
    for y in 0..p.h {
        for x in 0..p.w {
            if p.v[y * p.w + x] > 0.0 {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    (x1 >= x0 && y1 >= y0).then_some((x0, y0, x1, y1))
}

/// For a seal whose outline is an ellipse (round and oval seals, the frame), the pixels outside
/// its rim; `None` for other outlines (squares), or when no rim can be fitted.
///
/// The rim is the first ink met walking in from the box edge on 360 rays. An ellipse (conic) is
/// fitted to those points by least squares, three times, each time dropping the points far
/// from the last fit: rays that met a signature's tail before the rim land outside it, rays
/// through a dry gap in the rim land inside, and both are dropped. If most points lie on the
/// fitted ellipse within about 1 % of its size, it is the rim.
fn outside_rim(a: &Plane) -> Option<Vec<bool>> {
    let (w, h) = (a.w as f64, a.h as f64);
    if a.w < 24 || a.h < 24 {
        return None;
    }
    let (cx, cy) = (w / 2.0, h / 2.0);
    let s = w.max(h) / 2.0;
    // Centred and scaled to about ±1 for a well-conditioned fit.
    let pts: Vec<(f64, f64)> = first_ink_on_rays(a, 360)
        .into_iter()
        .map(|(x, y)| ((x - cx) / s, (y - cy) / s))
        .collect();
    if pts.len() < 200 {
        return None;
    }
    let mut inliers = pts.clone();
    let mut conic = fit_conic(&inliers)?;
    for _ in 0..3 {
        let mut dev: Vec<f64> = pts
            .iter()
            .map(|&p| (eval_conic(&conic, p) - 1.0).abs())
            .collect();
        let mut sorted = dev.clone();
        sorted.sort_by(f64::total_cmp);
        let tol = (3.0 * sorted[sorted.len() / 2]).max(0.02);
        inliers = pts
            .iter()
            .zip(dev.iter_mut())
            .filter(|(_, d)| **d <= tol)
            .map(|(p, _)| *p)
            .collect();
        if inliers.len() < 6 {
            return None;
        }
        conic = fit_conic(&inliers)?;
    }
    let [qa, qb, qc, _, _] = conic;
    let mut dev: Vec<f64> = inliers
        .iter()
        .map(|&p| (eval_conic(&conic, p) - 1.0).abs())
        .collect();
    dev.sort_by(f64::total_cmp);
    // An ellipse (not a hyperbola or parabola), most rays on it, and a tight fit: the conic's
    // value 1 ± 0.02 is the rim ± 1 % of its radius.
    let is_ellipse = qb * qb - 4.0 * qa * qc < 0.0 && qa > 0.0;
    if !is_ellipse || inliers.len() * 10 < pts.len() * 7 || dev[dev.len() / 2] > 0.01 {
        return None;
    }
    // Outside: beyond the rim by more than 1.5 px and 1 % (the conic grows about twice as fast
    // as the radius).
    let margin = 1.0 + 2.0 * (0.01 + 1.5 / s);
    let mut out = vec![false; a.w * a.h];
    for y in 0..a.h {
        for x in 0..a.w {
            let p = ((x as f64 + 0.5 - cx) / s, (y as f64 + 0.5 - cy) / s);
            out[y * a.w + x] = eval_conic(&conic, p) > margin;
        }
    }
    Some(out)
}

/// The first point with coverage ≥ ½ walking in from the box edge, 1 px at a time, on `rays`
/// rays evenly spread around the box centre (none for a ray that meets no ink).
fn first_ink_on_rays(a: &Plane, rays: u32) -> Vec<(f64, f64)> {
    let (w, h) = (a.w as f64, a.h as f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let reach = (cx * cx + cy * cy).sqrt();
    let mut pts = Vec::with_capacity(rays as usize);
    for k in 0..rays {
        let (sn, cs) = (f64::from(k) * std::f64::consts::TAU / f64::from(rays)).sin_cos();
        let mut r = reach;
        while r > 0.0 {
            let (x, y) = (cx + r * cs, cy + r * sn);
            if x >= 0.0 && y >= 0.0 && x < w && y < h && a.v[y as usize * a.w + x as usize] >= 0.5 {
                pts.push((x, y));
                break;
            }
            r -= 1.0;
        }
    }
    pts
}

/// `A x² + B xy + C y² + D x + E y` for the conic `[A, B, C, D, E]` (the rim is where it is 1).
fn eval_conic(q: &[f64; 5], (x, y): (f64, f64)) -> f64 {
    q[0] * x * x + q[1] * x * y + q[2] * y * y + q[3] * x + q[4] * y
}

/// Least-squares conic through the points (value 1 on the curve): the 5 × 5 normal equations,
/// solved by Gaussian elimination with partial pivoting.
fn fit_conic(pts: &[(f64, f64)]) -> Option<[f64; 5]> {
    let mut m = [[0f64; 6]; 5];
    for &(x, y) in pts {
        let row = [x * x, x * y, y * y, x, y];
        for i in 0..5 {
            for j in 0..5 {
                m[i][j] += row[i] * row[j];
            }
            m[i][5] += row[i];
        }
    }
    for col in 0..5 {
        let pivot = (col..5).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        for r in 0..5 {
            if r != col {
                let f = m[r][col] / m[col][col];
                for c in col..6 {
                    m[r][c] -= f * m[col][c];
                }
            }
        }
    }
    Some([0, 1, 2, 3, 4].map(|i| m[i][5] / m[i][i]))
}

/// A screenshot has paper of one exact colour and ink of one exact colour; a scan or photo has
/// paper texture, sensor noise and uneven ink. Spread (standard deviation of luma, 0..1) under
/// half a grey level on the paper and under one level in the solid ink means "not paper".
fn looks_digital(norm: &[[f32; 3]], alpha: &[f32], mask: &[bool], width: usize) -> bool {
    let spread = |pick: &dyn Fn(usize) -> bool| {
        let (mut n, mut s, mut s2) = (0f64, 0f64, 0f64);
        for (i, c) in norm.iter().enumerate() {
            if pick(i) {
                let l = f64::from(c[0] + 2.0 * c[1] + c[2]) / 4.0;
                n += 1.0;
                s += l;
                s2 += l * l;
            }
        }
        if n < 200.0 {
            return None;
        }
        Some(((s2 / n - (s / n) * (s / n)).max(0.0)).sqrt())
    };
    // Paper well away from the ink, and ink well inside its strokes: no anti-aliased edges.
    let (w, h) = (width, norm.len() / width.max(1));
    let near = dilate(mask, w, h, 2);
    let solid = morph(mask, w, h, 1, false);
    let paper = spread(&|i| !near[i]);
    let ink = spread(&|i| solid[i] && alpha[i] >= 1.0);
    matches!((paper, ink), (Some(p), Some(k)) if p < 0.5 / 255.0 && k < 1.0 / 255.0)
}

/// Calls `f` with each 8-connected part of the mask (its pixel indices and its box x0, y0, x1,
/// y1).
fn for_each_part(mask: &[bool], w: usize, h: usize, mut f: impl FnMut(&[usize], [usize; 4])) {
    let mut seen = vec![false; w * h];
    let mut part = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || seen[start] {
            continue;
        }
        part.clear();
        seen[start] = true;
        stack.push(start);
        let mut bbox = [w, h, 0, 0];
        while let Some(i) = stack.pop() {
            part.push(i);
            let (x, y) = (i % w, i / w);
            bbox = [
                bbox[0].min(x),
                bbox[1].min(y),
                bbox[2].max(x),
                bbox[3].max(y),
            ];
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        f(&part, bbox);
    }
}

/// Clears 8-connected parts of the mask smaller than `min_area` pixels (JPEG colour specks),
/// so they neither show in the picture nor stretch its crop.
fn drop_specks(mask: &mut [bool], alpha: &mut [f32], w: usize, h: usize, min_area: usize) {
    let mut small = Vec::new();
    for_each_part(mask, w, h, |part, _| {
        if part.len() < min_area {
            small.extend_from_slice(part);
        }
    });
    for i in small {
        mask[i] = false;
        alpha[i] = 0.0;
    }
}

/// Separable square max filter of radius `r` on a boolean mask.
fn dilate(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    morph(m, w, h, r, true)
}

/// Closing (dilate, then erode) with a square of radius `r`.
fn close(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let d = morph(m, w, h, r, true);
    morph(&d, w, h, r, false)
}

/// Square dilation (`grow`) or erosion of radius `r`, separably, with running counts (O(1) per
/// pixel whatever the radius). Outside the plane counts as background.
fn morph(m: &[bool], w: usize, h: usize, r: usize, grow: bool) -> Vec<bool> {
    // A pixel is set when its window holds any set pixel (dilation) or is all set (erosion; a
    // window reaching outside the plane is never all set).
    let keep = |count: usize| if grow { count > 0 } else { count == 2 * r + 1 };
    let mut rows = vec![false; w * h];
    for (src, out) in m.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        let mut count: usize = src[..r.min(w)].iter().map(|&b| usize::from(b)).sum();
        for i in 0..w {
            if i + r < w {
                count += usize::from(src[i + r]);
            }
            if i > r {
                count -= usize::from(src[i - r - 1]);
            }
            out[i] = keep(count);
        }
    }
    // Columns: a running count per column, swept down the rows (row-wise memory access).
    let mut counts = vec![0usize; w];
    for y in 0..r.min(h) {
        for (c, &b) in counts.iter_mut().zip(&rows[y * w..(y + 1) * w]) {
            *c += usize::from(b);
        }
    }
    let mut out = vec![false; w * h];
    for y in 0..h {
        if y + r < h {
            for (c, &b) in counts.iter_mut().zip(&rows[(y + r) * w..(y + r + 1) * w]) {
                *c += usize::from(b);
            }
        }
        if y > r {
            for (c, &b) in counts.iter_mut().zip(&rows[(y - r - 1) * w..(y - r) * w]) {
                *c -= usize::from(b);
            }
        }
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&counts) {
            *o = keep(c);
        }
    }
    out
}

/// Whether the impression has a rim around it (every standard seal does; a signature or a line of
/// red print does not): walking in from the box edge on 360 rays, at least the share `closed` of
/// them meets ink in the outer part. Red asks for two thirds, so a stamp inked unevenly still
/// counts; blue and purple for nine tenths, as ballpoint has their colour.
fn has_closed_rim(a: &Plane, closed: f32) -> bool {
    let (cx, cy) = (a.w as f32 / 2.0, a.h as f32 / 2.0);
    let mut hits = 0;
    for k in 0..360 {
        let (s, c) = (k as f32).to_radians().sin_cos();
        // Distance from the centre to the box edge along this ray.
        let edge = (cx / c.abs().max(1e-6)).min(cy / s.abs().max(1e-6));
        let mut r = edge - 0.5;
        while r > 0.6 * edge {
            let (x, y) = ((cx + r * c) as usize, (cy + r * s) as usize);
            if x < a.w && y < a.h && a.v[y * a.w + x] >= 0.5 {
                hits += 1;
                break;
            }
            r -= 1.0;
        }
    }
    hits as f32 >= 360.0 * closed
}

/// Largest skew corrected, degrees. Forms are scanned roughly straight and seals stamped roughly
/// upright; beyond this the "skew" is more likely a seal design than an error.
const MAX_SKEW_DEG: f32 = 8.0;

/// The skew of an impression, degrees clockwise, from the most reliable cue it has:
/// an oval's axes, a round seal's star, or the sharpness of row and column profiles (square rims,
/// horizontal text).
fn estimate_skew(a: &Plane) -> f32 {
    if let Some(deg) = axis_skew(a) {
        return deg;
    }
    if let Some(deg) = star_skew(a) {
        return deg;
    }
    profile_skew(a)
}

/// An elongated impression (oval, frame): the angle of its major axis from the horizontal.
///
/// Measured on the outer rim only (the first ink met walking in from outside, on 720 rays), so
/// text inside and print-crossing fills cannot tilt it.
fn axis_skew(a: &Plane) -> Option<f32> {
    let (cx, cy) = (a.w as f32 / 2.0, a.h as f32 / 2.0);
    let reach = (cx * cx + cy * cy).sqrt();
    let mut rim = Vec::with_capacity(720);
    for k in 0..720 {
        let (s, c) = (k as f32 * std::f32::consts::PI / 360.0).sin_cos();
        let mut r = reach;
        while r > 0.0 {
            let (x, y) = (cx + r * c, cy + r * s);
            if x >= 0.0
                && y >= 0.0
                && (x as usize) < a.w
                && (y as usize) < a.h
                && a.v[y as usize * a.w + x as usize] >= 0.5
            {
                rim.push((f64::from(x), f64::from(y)));
                break;
            }
            r -= 1.0;
        }
    }
    if rim.len() < 360 {
        return None;
    }
    let (mx, my) = centroid(&rim);
    let (mut xx, mut yy, mut xy) = (0f64, 0f64, 0f64);
    for &(x, y) in &rim {
        let (dx, dy) = (x - mx, y - my);
        xx += dx * dx;
        yy += dy * dy;
        xy += dx * dy;
    }
    let half_diff = (xx - yy) / 2.0;
    let spread = (half_diff * half_diff + xy * xy).sqrt();
    let mean = (xx + yy) / 2.0;
    // Eigenvalue ratio above 1.3: clearly elongated (a 40 × 30 oval gives ~1.8; a circle or a
    // square, 1).
    if (mean + spread) < 1.3 * (mean - spread) {
        return None;
    }
    let deg = (0.5 * (2.0 * xy).atan2(xx - yy)).to_degrees() as f32;
    (deg.abs() <= MAX_SKEW_DEG).then_some(deg)
}

fn centroid(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len().max(1) as f64;
    pts.iter()
        .fold((0.0, 0.0), |s, p| (s.0 + p.0 / n, s.1 + p.1 / n))
}

/// A round seal's five-pointed star: the blob covering the centre, if it has clear five-fold
/// symmetry; the phase of its fifth angular moment gives the angle of its top point.
fn star_skew(a: &Plane) -> Option<f32> {
    let (w, h) = (a.w, a.h);
    let inked = |i: usize| a.v[i] >= 0.5;
    // The star covers the seal centre; search a small window around it for a seed pixel.
    let (cx, cy) = (w / 2, h / 2);
    let r = (w.min(h) / 30).max(1);
    let seed = (cy.saturating_sub(r)..(cy + r).min(h))
        .flat_map(|y| (cx.saturating_sub(r)..(cx + r).min(w)).map(move |x| y * w + x))
        .find(|&i| inked(i))?;
    // Flood the blob, but give up if it reaches far from the centre (then it is not a star but
    // text or a rim touching the middle).
    let limit = w.min(h) / 3;
    let mut seen = vec![false; w * h];
    let mut stack = vec![seed];
    seen[seed] = true;
    let mut pts = Vec::new();
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        if x.abs_diff(cx) > limit || y.abs_diff(cy) > limit {
            return None;
        }
        pts.push((x as f64, y as f64));
        for (nx, ny) in [
            (x.wrapping_sub(1), y),
            (x + 1, y),
            (x, y.wrapping_sub(1)),
            (x, y + 1),
        ] {
            if nx < w && ny < h && !seen[ny * w + nx] && inked(ny * w + nx) {
                seen[ny * w + nx] = true;
                stack.push(ny * w + nx);
            }
        }
    }
    if pts.len() < 200 {
        return None;
    }
    let (mx, my) = centroid(&pts);
    let (mut re, mut im, mut norm) = (0f64, 0f64, 0f64);
    for &(x, y) in &pts {
        let (dx, dy) = (x - mx, y - my);
        let rr = (dx * dx + dy * dy).sqrt();
        let phi = dy.atan2(dx);
        re += rr * (5.0 * phi).cos();
        im += rr * (5.0 * phi).sin();
        norm += rr;
    }
    // A filled star scores ~0.2 here; a disc or a blob of text near 0.
    if (re * re + im * im).sqrt() < 0.08 * norm {
        return None;
    }
    // Top point straight up (screen angle −90°) gives phase −450° ≡ −90°; a clockwise turn by
    // α moves it to −90° + 5α.
    let phase = im.atan2(re).to_degrees() + 90.0;
    let wrapped = (phase + 180.0).rem_euclid(360.0) - 180.0;
    let deg = (wrapped / 5.0) as f32;
    (deg.abs() <= MAX_SKEW_DEG).then_some(deg)
}

/// The skew that makes the ink's row and column projections sharpest, degrees within ±6.
fn profile_skew(a: &Plane) -> f32 {
    // Up to ~40 000 ink points, evenly thinned, relative to the centre.
    let total = a.v.iter().filter(|&&v| v >= 0.5).count();
    let step = (total / 40_000).max(1);
    let (cx, cy) = (a.w as f32 / 2.0, a.h as f32 / 2.0);
    let pts: Vec<(f32, f32)> =
        a.v.iter()
            .enumerate()
            .filter(|(_, v)| **v >= 0.5)
            .step_by(step)
            .map(|(i, _)| ((i % a.w) as f32 - cx, (i / a.w) as f32 - cy))
            .collect();
    if pts.len() < 50 {
        return 0.0;
    }
    let half = (a.w.max(a.h) as f32 * 0.75) as usize + 2;
    let mut rows = vec![0u32; 2 * half + 1];
    let mut cols = vec![0u32; 2 * half + 1];
    let mut energy = |deg: f32| {
        let (s, c) = deg.to_radians().sin_cos();
        rows.fill(0);
        cols.fill(0);
        for &(x, y) in &pts {
            // Rotating the points by -deg undoes a clockwise skew of deg.
            let xr = x * c + y * s;
            let yr = -x * s + y * c;
            cols[(xr + half as f32) as usize] += 1;
            rows[(yr + half as f32) as usize] += 1;
        }
        rows.iter()
            .chain(cols.iter())
            .map(|&v| u64::from(v) * u64::from(v))
            .sum::<u64>()
    };
    let mut best = 0.0f32;
    for (span, step) in [(6.0f32, 0.5f32), (0.5, 0.1), (0.1, 0.02)] {
        let centre = best;
        let mut best_e = 0u64;
        let n = (2.0 * span / step).round() as i32;
        for k in 0..=n {
            let deg = centre - span + k as f32 * step;
            let e = energy(deg);
            if e > best_e {
                best_e = e;
                best = deg;
            }
        }
    }
    best
}

/// Step 7: de-skew, crop and scale one impression, and encode it. With the `sheet` located, the
/// impression is first mapped onto the flat page and measured there.
fn finish(
    f: &Found,
    page: (usize, usize),
    page_px_per_mm: f32,
    dpi_known: bool,
    opts: &ExtractOptions,
    sheet: Option<&page::Sheet>,
) -> Result<Impression, Error> {
    let flat = sheet.and_then(|s| s.flatten(f, opts.look == InkLook::Natural));
    // On the page: its own scale, measured, not guessed.
    let (g, page_px_per_mm, dpi_known) = match &flat {
        Some((g, ppm)) => (g, *ppm, true),
        None => (f, page_px_per_mm, dpi_known),
    };
    let a = &g.alpha;
    let skew_deg = g.skew_deg.unwrap_or_else(|| estimate_skew(&g.alpha));
    let (s, c) = skew_deg.to_radians().sin_cos();
    let (cx, cy) = (a.w as f32 / 2.0, a.h as f32 / 2.0);
    // The ink's extent once rotated upright.
    let (mut ux0, mut uy0, mut ux1, mut uy1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (i, &v) in a.v.iter().enumerate() {
        if v > 0.0 {
            let (x, y) = ((i % a.w) as f32 + 0.5 - cx, (i / a.w) as f32 + 0.5 - cy);
            let (xr, yr) = (x * c + y * s, -x * s + y * c);
            ux0 = ux0.min(xr - 0.5);
            ux1 = ux1.max(xr + 0.5);
            uy0 = uy0.min(yr - 0.5);
            uy1 = uy1.max(yr + 0.5);
        }
    }
    if ux1 <= ux0 {
        return Err(Error::NoImpression);
    }
    let (src_w, src_h) = (ux1 - ux0, uy1 - uy0);
    let (width_mm, height_mm) = opts
        .size_mm
        .unwrap_or((src_w / page_px_per_mm, src_h / page_px_per_mm));
    let px_per_mm = opts.dpi as f32 / 25.4;
    let out_w = ((width_mm * px_per_mm).round() as usize).max(1);
    let out_h = ((height_mm * px_per_mm).round() as usize).max(1);
    crate::raster::check_output_size(out_w, out_h)?;
    // Source pixels per output pixel; shrink first when it is large so bilinear does not alias.
    let (kx, ky) = (src_w / out_w as f32, src_h / out_h as f32);
    let factor = (kx.min(ky).floor() as usize).max(1);
    let inv = 1.0 / factor as f32;
    // Output pixel centre → upright coordinates → page (rotated back) → plane.
    let resample = |plane: &Plane| {
        let src = plane.shrink(factor);
        let mut out = vec![0f32; out_w * out_h];
        for v in 0..out_h {
            for u in 0..out_w {
                let xr = ux0 + (u as f32 + 0.5) * kx;
                let yr = uy0 + (v as f32 + 0.5) * ky;
                let x = xr * c - yr * s + cx;
                let y = xr * s + yr * c + cy;
                out[v * out_w + u] = src.sample(x * inv, y * inv);
            }
        }
        out
    };
    let to_u8 = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    let alpha = resample(a);
    let png = match opts.look {
        InkLook::Flat => {
            let out: Vec<u8> = alpha.iter().map(|&v| to_u8(v)).collect();
            encode_png(&out, out_w as u32, out_h as u32, f.ink.colour(), opts.dpi)?
        }
        InkLook::Natural => {
            let planes = [
                resample(&g.colour[0]),
                resample(&g.colour[1]),
                resample(&g.colour[2]),
            ];
            let mut rgba = Vec::with_capacity(out_w * out_h * 4);
            for (i, &al) in alpha.iter().enumerate() {
                let a8 = to_u8(al);
                if a8 == 0 {
                    rgba.extend_from_slice(&[0, 0, 0, 0]);
                } else {
                    // Resampled premultiplied, so edges do not pick up the paper's colour.
                    let un = |p: &Vec<f32>| to_u8(p[i] / al.max(1e-3));
                    rgba.extend_from_slice(&[un(&planes[0]), un(&planes[1]), un(&planes[2]), a8]);
                }
            }
            encode_rgba_png(&rgba, out_w as u32, out_h as u32, opts.dpi)?
        }
    };
    let (src_w_mm, src_h_mm) = (src_w / page_px_per_mm, src_h / page_px_per_mm);
    let mut warnings = Vec::new();
    // Ink along a stretch of the picture's edge (over a sixth of the side): the frame cut the
    // stamp. A rim merely touching the edge, as in a tight crop, meets it over a few pixels.
    // (On the capture as found: the frame's edge is there.)
    let a = &f.alpha;
    let inked = |i: usize| a.v[i] >= 0.5;
    // The stretch of the edge the ink meets, first to last inked pixel.
    let span = |it: &mut dyn Iterator<Item = (usize, usize)>| {
        let hits: Vec<usize> = it.filter(|&(_, i)| inked(i)).map(|(k, _)| k).collect();
        hits.last().map_or(0, |l| l - hits[0] + 1)
    };
    let column = |x: usize| span(&mut (0..a.h).map(|y| (y, y * a.w + x)));
    let row = |y: usize| span(&mut (0..a.w).map(|x| (x, y * a.w + x)));
    let cut = (f.x == 0 && column(0) * 6 > a.h)
        || (f.x + a.w >= page.0 && column(a.w - 1) * 6 > a.h)
        || (f.y == 0 && row(0) * 6 > a.w)
        || (f.y + a.h >= page.1 && row(a.h - 1) * 6 > a.w);
    if cut {
        warnings.push(Warning::CutOffAtEdge);
    }
    if f.digital {
        warnings.push(Warning::MaybeDigitalCopy);
    }
    // The largest seals in use are 58 mm (some 合同专用章) and the 50 × 36 mm frame; ink wider or
    // taller than 60 mm on the page is more than one stamp. (Measured on the page, not from the
    // size the caller gave.)
    // Only with a recorded resolution: a photo's scale is a guess.
    if dpi_known && src_w_mm.max(src_h_mm) > 60.0 {
        warnings.push(Warning::MaybeOverlapping);
    }
    match f.overlap {
        Overlap::Shared => warnings.push(Warning::OverlapShared),
        Overlap::Unsplit if !warnings.contains(&Warning::MaybeOverlapping) => {
            warnings.push(Warning::MaybeOverlapping)
        }
        _ => {}
    }
    Ok(Impression {
        png,
        x: f.x as u32,
        y: f.y as u32,
        width: a.w as u32,
        height: a.h as u32,
        width_mm,
        height_mm,
        ink: match f.ink {
            Ink::Red => SealInk::Red,
            Ink::Purple => SealInk::Purple,
            Ink::Blue => SealInk::Blue,
        },
        warnings,
    })
}

/// Pen ink coverage (0..1) over the whole page, against the local paper white, for
/// [`crate::extract_signature`]: dark ink, black or blue as asked; seal red is never pen ink.
pub(crate) fn pen_coverage(
    page: &Page,
    ink: crate::PenInk,
) -> Result<(usize, usize, Vec<f32>), Error> {
    let white = WhiteMap::estimate(page);
    if is_blank(page, &white) {
        return Err(Error::EmptyPage);
    }
    let (w, h) = (page.width as usize, page.height as usize);
    let mut cov = vec![0f32; w * h];
    let mut row_white = vec![[0f32; 3]; w];
    for y in 0..h {
        white.row(y, 0, &mut row_white);
        for x in 0..w {
            let i = y * w + x;
            let n = normalise(&page.rgb[i * 3..i * 3 + 3], &row_white[x]);
            let blue = n[2] - n[0].max(n[1]);
            let red = n[0] - n[1].max(n[2]);
            let wanted = match ink {
                crate::PenInk::Any => true,
                crate::PenInk::Black => blue < 0.12,
                crate::PenInk::Blue => blue >= 0.12,
            };
            if red > 0.15 || !wanted {
                continue;
            }
            // Ballpoint absorbs at least the red and green light strongly; what passes least
            // says how much ink covers the pixel.
            let dark = 1.0 - n[0].min(n[1]).min(n[2]);
            cov[i] = ((dark - 0.2) / 0.4).clamp(0.0, 1.0);
        }
    }
    Ok((w, h, cov))
}

/// Keeps handwriting in a coverage plane: drops specks (under 0.3 mm²) and printed rules (a
/// component over 25 mm long and under 1.2 mm thick), and paper texture away from the strokes.
pub(crate) fn handwriting(cov: &[f32], w: usize, h: usize, px_per_mm: f32) -> Vec<f32> {
    let mut mask: Vec<bool> = cov.iter().map(|&c| c >= 0.5).collect();
    let min_area = ((0.3 * px_per_mm * px_per_mm) as usize).max(4);
    let (long, thin) = (25.0 * px_per_mm, 1.2 * px_per_mm);
    let mut dropped = Vec::new();
    for_each_part(&mask, w, h, |part, [x0, y0, x1, y1]| {
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        let rule = bw.max(bh) > long && bw.min(bh) < thin;
        if part.len() < min_area || rule {
            dropped.extend_from_slice(part);
        }
    });
    for i in dropped {
        mask[i] = false;
    }
    let near = dilate(&mask, w, h, 1);
    cov.iter()
        .zip(&near)
        .map(|(&c, &k)| {
            if k {
                ((c - 0.2) / 0.6).clamp(0.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running-count morphology against the definition, on a small irregular mask.
    #[test]
    fn morphology_matches_the_definition() {
        let (w, h) = (13, 9);
        let m: Vec<bool> = (0..w * h).map(|i| (i * 7919 + i / 5) % 11 < 4).collect();
        for r in 1..3 {
            for grow in [true, false] {
                let got = morph(&m, w, h, r, grow);
                for y in 0..h {
                    for x in 0..w {
                        let mut any = false;
                        let mut all = true;
                        for yy in y as isize - r as isize..=y as isize + r as isize {
                            for xx in x as isize - r as isize..=x as isize + r as isize {
                                let inside =
                                    (0..w as isize).contains(&xx) && (0..h as isize).contains(&yy);
                                let v = inside && m[yy as usize * w + xx as usize];
                                any |= v;
                                all &= v;
                            }
                        }
                        assert_eq!(
                            got[y * w + x],
                            if grow { any } else { all },
                            "r {r} grow {grow} at {x},{y}"
                        );
                    }
                }
            }
        }
    }
}
