//! Turning untrusted bytes into an RGB page: format sniffing, size limits checked from the header
//! before any pixel is decoded, and the page image pulled out of a PDF.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::Error;
use crate::sniff::FileKind;

/// The largest image accepted, in pixels (50 megapixels). Anything bigger is refused before decoding,
/// which bounds memory to a few hundred MB even for a hostile file.
pub const MAX_PIXELS: u64 = 50_000_000;

/// The largest input file accepted, in bytes (64 MiB).
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// A decoded page: 8-bit RGB, row-major, no padding.
pub(crate) struct Page {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    /// Scan resolution recorded in the file (JFIF density, PNG `pHYs`, or image size against the
    /// PDF page), when it is a believable scanner setting.
    pub dpi: Option<f32>,
}

/// Resolutions a scanner writes. 72 and 96 are left out: they are what cameras and screenshots
/// write whatever the real scale, so they say nothing about the paper.
fn believable_dpi(dpi: f32) -> Option<f32> {
    ((100.0..=1200.0).contains(&dpi)).then_some(dpi)
}

/// The JFIF density of a JPEG (APP0 right after SOI), in dpi.
fn jfif_dpi(jpeg: &[u8]) -> Option<f32> {
    let app0 = jpeg.get(2..18)?;
    if app0[0..2] != [0xFF, 0xE0] || &app0[4..9] != b"JFIF\0" {
        return None;
    }
    let x = f32::from(u16::from_be_bytes([app0[12], app0[13]]));
    match app0[11] {
        1 => believable_dpi(x),
        2 => believable_dpi(x * 2.54),
        _ => None,
    }
}

/// The `pHYs` density of a PNG (pixels per metre), in dpi, searched before the image data.
fn png_dpi(png: &[u8]) -> Option<f32> {
    let body = png_chunk_before_data(png, b"pHYs")?.get(..9)?;
    let per_metre = u32::from_be_bytes(body[0..4].try_into().ok()?) as f32;
    if body[8] == 1 {
        believable_dpi(per_metre * 0.0254)
    } else {
        None
    }
}

/// The body of the first chunk of this kind before the image data of a PNG, if any.
fn png_chunk_before_data<'a>(png: &'a [u8], wanted: &[u8; 4]) -> Option<&'a [u8]> {
    let mut i = 8;
    while i + 8 <= png.len() {
        let len = u32::from_be_bytes(png[i..i + 4].try_into().ok()?) as usize;
        let kind = &png[i + 4..i + 8];
        if kind == b"IDAT" {
            return None;
        }
        if kind == wanted {
            return png.get(i + 8..(i + 8).checked_add(len)?);
        }
        i = i.checked_add(12 + len)?;
    }
    None
}

/// PDFs with more pages than this are not application forms; refuse rather than walk them all.
const MAX_PDF_PAGES: usize = 50;

/// Decodes JPEG, PNG or PDF bytes into an RGB page.
pub(crate) fn decode_page(input: &[u8]) -> Result<Page, Error> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(Error::FileTooLarge {
            size: input.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    match crate::sniff::file_kind(input) {
        Some(FileKind::Jpeg) => decode_raster(input, FileKind::Jpeg),
        Some(FileKind::Png) => {
            if png_chunk_before_data(input, b"acTL").is_some() {
                return Err(Error::Animated);
            }
            decode_raster(input, FileKind::Png)
        }
        Some(FileKind::Pdf) => decode_pdf(input),
        None => Err(Error::UnsupportedFormat),
    }
}

fn check_dimensions(width: u32, height: u32) -> Result<(), Error> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::TooLarge {
            width,
            height,
            limit_mp: (MAX_PIXELS / 1_000_000) as u32,
        });
    }
    if width < 16 || height < 16 {
        return Err(Error::EmptyPage);
    }
    Ok(())
}

fn decode_raster(input: &[u8], kind: FileKind) -> Result<Page, Error> {
    let (width, height) = crate::sniff::image_size(input, kind)?;
    let format = kind.image_format().ok_or(Error::UnsupportedFormat)?;
    check_dimensions(width, height)?;

    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    // The decoder enforces the same budget itself, in case the header lied about the size.
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| Error::Corrupt(e.to_string());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // Phone photos are stored sideways with an EXIF orientation; turn the page upright first, or
    // every seal would come out a quarter-turn off (de-skew only corrects a few degrees).
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());

    let dpi = match format {
        ImageFormat::Png => png_dpi(input),
        _ => jfif_dpi(input),
    };
    let rgb = if img.color().has_alpha() {
        // Transparent areas of a PNG are paper, whatever colour their hidden RGB says.
        let rgba = img.into_rgba8();
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for p in rgba.pixels() {
            let a = u32::from(p[3]);
            for c in 0..3 {
                rgb.push(((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8);
            }
        }
        rgb
    } else {
        img.into_rgb8().into_raw()
    };
    Ok(Page {
        width,
        height,
        rgb,
        dpi,
    })
}

/// Takes the largest image of the first page that has one. A scanned form is a PDF page that is one
/// full-page picture; JPEG (`DCTDecode`) streams are decoded as JPEG, Flate streams of 8-bit RGB or
/// grey samples are read directly.
fn decode_pdf(input: &[u8]) -> Result<Page, Error> {
    // lopdf is a large parser of hostile input; a panic inside it must not take the caller down.
    let doc = std::panic::catch_unwind(|| lopdf::Document::load_mem(input))
        .map_err(|_| Error::Corrupt("PDF parser failed".into()))?
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(Error::NoPdfImage("no pages".into()));
    }
    let mut last_problem = String::from("no image on any page");
    for (_, page_id) in pages.into_iter().take(MAX_PDF_PAGES) {
        let Ok(images) = doc.get_page_images(page_id) else {
            continue;
        };
        let Some(img) = images
            .iter()
            .max_by_key(|i| i.width.max(0) as u64 * i.height.max(0) as u64)
        else {
            continue;
        };
        match pdf_image_to_page(img) {
            Ok(mut page) => {
                // A scanned page is one picture filling the page: its pixels over the page's
                // width in points give the scan resolution.
                if let Some(width_pt) = media_box_width(&doc, page_id) {
                    page.dpi = believable_dpi(page.width as f32 / (width_pt / 72.0)).or(page.dpi);
                }
                return Ok(page);
            }
            // A bomb is refused outright, not skipped in favour of a later page.
            Err(e @ Error::TooLarge { .. }) => return Err(e),
            Err(e) => last_problem = e.to_string(),
        }
    }
    Err(Error::NoPdfImage(last_problem))
}

fn pdf_image_to_page(img: &lopdf::xobject::PdfImage<'_>) -> Result<Page, Error> {
    let (width, height) = (u32::try_from(img.width), u32::try_from(img.height));
    let (Ok(width), Ok(height)) = (width, height) else {
        return Err(Error::Corrupt("negative PDF image size".into()));
    };
    check_dimensions(width, height)?;
    let filters = img.filters.clone().unwrap_or_default();
    if filters.iter().any(|f| f == "DCTDecode") {
        return decode_raster(img.content, FileKind::Jpeg);
    }
    let samples: Vec<u8> = if filters.is_empty() {
        img.content.to_vec()
    } else if filters.len() == 1 && filters[0] == "FlateDecode" {
        inflate_bounded(img.content, width as usize * height as usize * 3)?
    } else {
        return Err(Error::NoPdfImage(format!(
            "unsupported image filter {filters:?}"
        )));
    };
    if img.bits_per_component.unwrap_or(8) != 8 {
        return Err(Error::NoPdfImage(
            "only 8-bit PDF images are supported".into(),
        ));
    }
    let n = width as usize * height as usize;
    let space = img.color_space.as_deref().unwrap_or("DeviceRGB");
    let rgb = match space {
        "DeviceRGB" | "CalRGB" if samples.len() >= n * 3 => samples[..n * 3].to_vec(),
        "DeviceGray" | "CalGray" if samples.len() >= n => {
            samples[..n].iter().flat_map(|&g| [g, g, g]).collect()
        }
        _ => {
            return Err(Error::NoPdfImage(format!(
                "unsupported colour space {space}"
            )));
        }
    };
    Ok(Page {
        width,
        height,
        rgb,
        dpi: None,
    })
}

/// The width of a PDF page in points, from its `MediaBox` (own or inherited from the page tree).
fn media_box_width(doc: &lopdf::Document, page_id: lopdf::ObjectId) -> Option<f32> {
    let mut dict = doc.get_dictionary(page_id).ok()?;
    // Bounded walk up the page tree; a cycle in a hostile file must not loop forever.
    for _ in 0..32 {
        if let Ok(lopdf::Object::Array(b)) = dict.get(b"MediaBox")
            && b.len() == 4
        {
            let num = |o: &lopdf::Object| {
                o.as_float()
                    .ok()
                    .or_else(|| o.as_i64().ok().map(|v| v as f32))
            };
            let width = (num(&b[2])? - num(&b[0])?).abs();
            return (width > 1.0).then_some(width);
        }
        let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
        dict = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// Inflates a zlib stream but stops at `limit` bytes, so a Flate bomb cannot exhaust memory.
fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|e| Error::Corrupt(format!("PDF image stream: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_bytes() {
        assert!(matches!(
            decode_page(b"hello world, not an image"),
            Err(Error::UnsupportedFormat)
        ));
        assert!(matches!(decode_page(b""), Err(Error::UnsupportedFormat)));
    }

    #[test]
    fn refuses_bomb_from_header_alone() {
        // A PNG header announcing 10000 x 10000 px with no pixel data: must be refused by size, not
        // by a failed decode, so nothing is allocated.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = 10_000u32.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&10_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        // A few bytes of zlib; a real bomb would inflate to 300 MB here.
        chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        chunk(&mut png, b"IEND", &[]);
        match decode_page(&png) {
            Err(Error::TooLarge {
                width: 10_000,
                height: 10_000,
                ..
            }) => {}
            other => panic!("expected TooLarge, got {:?}", other.err()),
        }
    }

    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn scan_resolution_is_read_and_camera_defaults_ignored() {
        use image::ImageEncoder;
        let jpeg_at = |dpi: u16| {
            let mut out = Vec::new();
            let mut enc = image::codecs::jpeg::JpegEncoder::new(&mut out);
            enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(dpi));
            enc.write_image(
                &[200u8; 32 * 32 * 3],
                32,
                32,
                image::ExtendedColorType::Rgb8,
            )
            .expect("encodes");
            out
        };
        assert_eq!(
            decode_page(&jpeg_at(300)).expect("decodes").dpi,
            Some(300.0)
        );
        assert_eq!(decode_page(&jpeg_at(72)).expect("decodes").dpi, None);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = 32u32.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&32u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        // 11811 px per metre = 300 dpi.
        let mut phys = 11_811u32.to_be_bytes().to_vec();
        phys.extend_from_slice(&11_811u32.to_be_bytes());
        phys.push(1);
        chunk(&mut png, b"pHYs", &phys);
        assert!((png_dpi(&png).expect("pHYs read") - 300.0).abs() < 0.1);
    }

    #[test]
    fn rendered_seals_record_their_resolution() {
        let mut req = crate::RenderRequest::new(crate::Style::Square, "张三");
        req.dpi = 600;
        let png = crate::render(&req).expect("renders");
        assert!((png_dpi(&png).expect("pHYs written") - 600.0).abs() < 0.1);
        // Still a valid PNG for a strict decoder (CRCs are checked).
        assert_eq!(decode_page(&png).expect("decodes").width, 472);
    }

    #[test]
    fn exif_orientation_turns_the_page_upright() {
        use image::ImageEncoder;
        // A 40 × 20 JPEG, red on its left half, stored with EXIF orientation 6 (turn 90°
        // clockwise to view).
        let pixels: Vec<u8> = (0..20 * 40)
            .flat_map(|i| {
                if i % 40 < 20 {
                    [220, 30, 40]
                } else {
                    [250, 250, 250]
                }
            })
            .collect();
        let exif = [
            0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x01, 0x12, 0x00, 0x03,
            0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        enc.set_exif_metadata(exif.to_vec()).expect("EXIF accepted");
        enc.write_image(&pixels, 40, 20, image::ExtendedColorType::Rgb8)
            .expect("encodes");
        let page = decode_page(&jpeg).expect("decodes");
        assert_eq!((page.width, page.height), (20, 40));
        // Turned clockwise, the red left half is now the top half.
        let at = |x: usize, y: usize| page.rgb[(y * 20 + x) * 3];
        assert!(at(10, 5) > 180 && page.rgb[(5 * 20 + 10) * 3 + 1] < 90);
        assert!(page.rgb[(35 * 20 + 10) * 3 + 1] > 200);
    }

    #[test]
    fn truncated_jpeg_is_an_error_not_a_panic() {
        assert!(decode_page(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).is_err());
    }
}
