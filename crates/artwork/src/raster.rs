//! Small raster helpers shared by rendering and extraction: single-ink PNG output and
//! bilinear resampling of a coverage plane.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use crate::Error;

/// Encodes a coverage plane as an RGBA PNG: every pixel has the ink colour, alpha is the coverage.
/// A single ink is what a seal is, and it keeps anti-aliased edges exact. The PNG records `dpi`
/// (`pHYs`), so whoever reads it knows its size in millimetres.
pub(crate) fn encode_png(
    alpha: &[u8],
    w: u32,
    h: u32,
    colour: [u8; 3],
    dpi: u32,
) -> Result<Vec<u8>, Error> {
    let mut rgba = Vec::with_capacity(alpha.len() * 4);
    for &a in alpha {
        // Fully transparent pixels get zero colour too, which compresses better and is what
        // "fully transparent background" means to most consumers.
        if a == 0 {
            rgba.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            rgba.extend_from_slice(&[colour[0], colour[1], colour[2], a]);
        }
    }
    encode_rgba_png(&rgba, w, h, dpi)
}

/// Encodes RGBA pixels as a PNG recording `dpi`.
pub(crate) fn encode_rgba_png(rgba: &[u8], w: u32, h: u32, dpi: u32) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(rgba, w, h, image::ExtendedColorType::Rgba8)
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(with_phys(out, dpi))
}

/// Refuses output pictures over the crate's pixel budget (a 150 mm seal at 2400 dpi would be
/// 200 MP): the caller asked for a dpi too high for the size.
pub(crate) fn check_output_size(w: usize, h: usize) -> Result<(), Error> {
    if (w as u64) * (h as u64) > crate::MAX_PIXELS {
        return Err(Error::InvalidRequest(format!(
            "输出图片过大 {w}×{h} 像素，请降低 dpi (output {w}x{h} px is too large; lower the dpi)"
        )));
    }
    Ok(())
}

/// Inserts a `pHYs` chunk (pixels per metre) right after `IHDR`, which is where the PNG
/// specification wants it: before any image data.
fn with_phys(png: Vec<u8>, dpi: u32) -> Vec<u8> {
    // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC).
    const AFTER_IHDR: usize = 8 + 25;
    if png.len() < AFTER_IHDR || &png[12..16] != b"IHDR" {
        return png;
    }
    let per_metre = (f64::from(dpi) / 0.0254).round() as u32;
    let mut body = b"pHYs".to_vec();
    body.extend_from_slice(&per_metre.to_be_bytes());
    body.extend_from_slice(&per_metre.to_be_bytes());
    body.push(1); // unit: metre
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    let mut out = Vec::with_capacity(png.len() + 21);
    out.extend_from_slice(&png[..AFTER_IHDR]);
    out.extend_from_slice(&9u32.to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

/// A single-channel plane of `f32` values, row-major.
#[derive(Clone)]
pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub v: Vec<f32>,
}

impl Plane {
    pub fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            v: vec![0.0; w * h],
        }
    }

    /// The `w` × `h` window whose top-left pixel is (`x0`, `y0`); it must lie inside the plane.
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Plane {
        let mut t = Plane::new(w, h);
        for y in 0..h {
            let src = (y0 + y) * self.w + x0;
            t.v[y * w..(y + 1) * w].copy_from_slice(&self.v[src..src + w]);
        }
        t
    }

    /// Bilinear sample at (`x`, `y`) in pixel-centre coordinates; 0 outside.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (dx, dy) = (fx - x0, fy - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let at = |x: isize, y: isize| {
            if x < 0 || y < 0 || x >= self.w as isize || y >= self.h as isize {
                0.0
            } else {
                self.v[y as usize * self.w + x as usize]
            }
        };
        let top = at(x0, y0) * (1.0 - dx) + at(x0 + 1, y0) * dx;
        let bottom = at(x0, y0 + 1) * (1.0 - dx) + at(x0 + 1, y0 + 1) * dx;
        top * (1.0 - dy) + bottom * dy
    }

    /// Box-filters the plane down by an integer `factor` (to avoid aliasing before a big shrink);
    /// a factor of 1 borrows the plane as it is.
    pub fn shrink(&self, factor: usize) -> std::borrow::Cow<'_, Plane> {
        if factor <= 1 {
            return std::borrow::Cow::Borrowed(self);
        }
        let (w, h) = (self.w.div_ceil(factor), self.h.div_ceil(factor));
        let mut out = Plane::new(w, h);
        let mut count = vec![0u32; w * h];
        for y in 0..self.h {
            for x in 0..self.w {
                let i = (y / factor) * w + x / factor;
                out.v[i] += self.v[y * self.w + x];
                count[i] += 1;
            }
        }
        for (v, c) in out.v.iter_mut().zip(&count) {
            *v /= (*c).max(1) as f32;
        }
        std::borrow::Cow::Owned(out)
    }
}
