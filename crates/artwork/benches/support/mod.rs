//! Shared by the benches: reading ImageMagick's trimmed output back onto the page.

use std::path::Path;

/// ImageMagick's trimmed output placed back on the page (IM 6 keeps the offset in a `caNv` chunk,
/// other versions in `oFFs`): 1 where alpha is at least one half.
pub fn imagemagick_mask(path: &Path, w: u32, h: u32) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("ImageMagick output");
    let (ox, oy) = png_offset(&bytes);
    let img = image::load_from_memory(&bytes)
        .expect("ImageMagick PNG")
        .into_rgba8();
    let mut mask = vec![0u8; (w * h) as usize];
    for (x, y, p) in img.enumerate_pixels() {
        let (px, py) = (x as i64 + ox, y as i64 + oy);
        if p[3] >= 128 && (0..w as i64).contains(&px) && (0..h as i64).contains(&py) {
            mask[(py * w as i64 + px) as usize] = 1;
        }
    }
    mask
}

/// The page offset of a trimmed PNG, from its `caNv` (x, y after width, height) or `oFFs` chunk;
/// (0, 0) if absent.
fn png_offset(png: &[u8]) -> (i64, i64) {
    let int = |at: usize| {
        png.get(at..at + 4).map_or(0, |b| {
            i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        })
    };
    let mut i = 8;
    while i + 8 <= png.len() {
        let len = int(i) as usize;
        match &png[i + 4..i + 8] {
            b"caNv" => return (int(i + 16), int(i + 20)),
            b"oFFs" => return (int(i + 8), int(i + 12)),
            _ => {}
        }
        i += 12 + len;
    }
    (0, 0)
}
