//! Seal artwork for SealDesk (印模): cut seal impressions out of scans and phone photos, and render
//! standard seals, ready to go into an electronic seal (`SES_ESPictrueInfo`, sized in millimetres).
//!
//! Bytes in, images out: the crate does no file I/O.
//!
//! * [`extract`] finds every seal impression on a scanned 印模采集表 (JPEG, PNG or a PDF holding
//!   the scan), separates it from printed text, table lines, signatures and paper texture, and returns
//!   each one, in reading order, as a transparent RGBA PNG in uniform seal red, de-skewed and scaled to
//!   its physical size at the requested dpi. Red ink is looked for first; a page without red is
//!   searched for purple, then blue seals (those pictures keep their ink's colour).
//! * [`render`] draws the standard seals (round enterprise seal, oval seal, square personal seal,
//!   professional-registration frame) as vector drawings with the embedded Noto Serif CJK SC subset,
//!   rasterised at any dpi.
//!
//! ```
//! use sealdesk_artwork::{ExtractOptions, RenderRequest, Style, extract, render};
//!
//! let mut req = RenderRequest::new(Style::Round, "南昌星辰科技有限公司");
//! req.title = Some("合同专用章".into());
//! let png = render(&req)?; // 42 mm at 300 dpi: 496 × 496 px, transparent, seal red
//!
//! // The drawing is also a (very clean) scan: extract finds the one impression, and reads its
//! // size from the resolution the PNG records.
//! let found = extract(&png, &ExtractOptions::default())?;
//! assert_eq!(found.len(), 1);
//! assert!((found[0].width_mm - 42.0).abs() < 0.5);
//! # Ok::<(), sealdesk_artwork::Error>(())
//! ```
//!
//! Untrusted input never panics: files over [`MAX_INPUT_BYTES`] or images over [`MAX_PIXELS`]
//! (checked from the header, before decoding) are refused with an [`Error`].
#![deny(missing_docs)]

mod decode;
mod error;
mod extract;
mod font;
pub mod form;
mod raster;
mod render;
mod signature;
mod sniff;
mod template;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use decode::{MAX_INPUT_BYTES, MAX_PIXELS};
pub use error::Error;
pub use extract::{ExtractOptions, Impression, InkLook, SealInk, Warning, extract};
pub use form::{
    BoxReading, BoxShape, BoxSpec, FormReading, FormSpec, PageLayout, PlacedBox, layout, read_form,
    render_form_pdf,
};
pub use render::{RenderRequest, Style, render, render_with};
pub use signature::{
    MAX_POINTS, MAX_STROKES, PadStroke, PaperSignatureOptions, PenInk, SIGNATURE_PAD_JS,
    SignatureArt, SignatureOptions, SignaturePad, extract_signature, render_signature,
};
pub use sniff::{FileKind, file_kind, image_size};
pub use template::{FrameTemplate, OvalTemplate, RoundTemplate, SquareTemplate, Templates};

/// The uniform seal red every extracted impression is painted in (close to `#E60012`).
pub const SEAL_RED: [u8; 3] = [0xE6, 0x00, 0x12];
