//! The embedded CJK font and glyph outlines as tiny-skia paths.
//!
//! The font is a GB2312 + ASCII subset of Noto Serif CJK SC Bold (SIL OFL 1.1, see
//! `fonts/README.md`), embedded so a seal renders the same on every machine.

use std::sync::OnceLock;

use tiny_skia::{Path, PathBuilder, Transform};
use ttf_parser::{Face, OutlineBuilder};

use crate::Error;

pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../fonts/NotoSerifSC-Bold-GB2312.otf");

/// The parsed font, once per process; parsing only reads table offsets.
fn face() -> Option<&'static Face<'static>> {
    static FACE: OnceLock<Option<Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| Face::parse(FONT_BYTES, 0).ok())
        .as_ref()
}

/// A glyph outline in font units (y up) with the metrics needed to place it.
pub(crate) struct Glyph {
    /// The outline, font units, y up; `None` for blank glyphs such as the space.
    pub path: Option<Path>,
    /// Horizontal advance, font units.
    pub advance: f32,
}

/// Font units per em (1000 for Noto CJK).
pub(crate) fn units_per_em() -> f32 {
    face().map_or(1000.0, |f| f32::from(f.units_per_em()))
}

/// The vertical centre of the ideographic em box, font units. Noto CJK puts the ideographic box
/// from -120 to 880, so hanzi are centred at 380; digits sit near it too.
pub(crate) const EM_CENTRE_Y: f32 = 380.0;

/// Looks up the outline of `c`.
pub(crate) fn glyph(c: char) -> Result<Glyph, Error> {
    let face = face().ok_or(Error::MissingGlyph(c))?;
    let id = face.glyph_index(c).ok_or(Error::MissingGlyph(c))?;
    let advance = f32::from(face.glyph_hor_advance(id).unwrap_or(face.units_per_em()));
    let mut builder = Builder(PathBuilder::new());
    let path = face
        .outline_glyph(id, &mut builder)
        .and_then(|_| builder.0.finish());
    if path.is_none() && !c.is_whitespace() {
        return Err(Error::MissingGlyph(c));
    }
    Ok(Glyph { path, advance })
}

/// Checks that every character of `text` can be drawn, before any drawing starts.
pub(crate) fn check_text(text: &str) -> Result<(), Error> {
    text.chars().try_for_each(|c| glyph(c).map(|_| ()))
}

/// The transform that maps a glyph's font units into a box of height `height` (same unit as the
/// caller's drawing, usually mm), horizontally squeezed by `squeeze`, centred on the origin,
/// with y pointing down as in the raster.
pub(crate) fn centred_glyph_transform(g: &Glyph, height: f32, squeeze: f32) -> Transform {
    let k = height / units_per_em();
    Transform::from_scale(k * squeeze, -k).pre_translate(-g.advance / 2.0, -EM_CENTRE_Y)
}

struct Builder(PathBuilder);

impl OutlineBuilder for Builder {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_covers_seal_text() {
        for c in "有限公司合同专用章财务法定代表人之印0123456789()（）".chars()
        {
            assert!(glyph(c).is_ok(), "missing {c}");
        }
        assert!(matches!(glyph('😀'), Err(Error::MissingGlyph('😀'))));
        assert_eq!(units_per_em(), 1000.0);
    }
}
