//! Inputs: PDF scans (JPEG and Flate images), and bad input of every kind — not an image, a
//! decompression bomb, truncated and corrupted files, a blank page, a page without red — must give
//! a clear error, never a panic.

use lopdf::{Document, Object, Stream, dictionary};
use sealdesk_artwork::{Error, ExtractOptions, extract};

fn sample(k: usize) -> (Vec<u8>, usize) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/forms");
    let jpeg = std::fs::read(dir.join(format!("form-{k}.jpg"))).expect("sample form");
    let meta = std::fs::read_to_string(dir.join(format!("form-{k}.txt"))).expect("truth");
    let n = meta
        .lines()
        .find_map(|l| l.strip_prefix("impressions "))
        .and_then(|n| n.parse().ok())
        .expect("count");
    (jpeg, n)
}

/// A one-page PDF whose page is one image XObject scanned at `dpi`, as a scanner writes it.
fn pdf_with_image(
    width: u32,
    height: u32,
    dpi: f32,
    filter: Option<&str>,
    colour: &str,
    data: Vec<u8>,
) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut image = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => i64::from(width),
        "Height" => i64::from(height),
        "ColorSpace" => Object::Name(colour.as_bytes().to_vec()),
        "BitsPerComponent" => 8,
    };
    if let Some(f) = filter {
        image.set("Filter", Object::Name(f.as_bytes().to_vec()));
    }
    let image_id = doc.add_object(Stream::new(image, data));
    let content = format!("q {width} 0 0 {height} 0 0 cm /Im0 Do Q");
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(width as f32 * 72.0 / dpi), Object::Real(height as f32 * 72.0 / dpi)],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        "Contents" => content_id,
    });
    one_page_pdf(doc, pages_id, page_id)
}

/// Adds the page tree and catalogue around `page_id` and writes the PDF.
fn one_page_pdf(mut doc: Document, pages_id: lopdf::ObjectId, page_id: lopdf::ObjectId) -> Vec<u8> {
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("PDF written");
    out
}

#[test]
fn pdf_with_a_jpeg_scan_gives_the_same_impressions() {
    let (jpeg, n) = sample(0);
    let img = image::load_from_memory(&jpeg).expect("decodes");
    let pdf = pdf_with_image(
        img.width(),
        img.height(),
        300.0,
        Some("DCTDecode"),
        "DeviceRGB",
        jpeg.clone(),
    );
    let from_pdf = extract(&pdf, &ExtractOptions::default()).expect("extracts from PDF");
    let from_jpeg = extract(&jpeg, &ExtractOptions::default()).expect("extracts from JPEG");
    assert_eq!(from_pdf.len(), n);
    assert_eq!(from_pdf, from_jpeg);
}

#[test]
fn pdf_with_a_flate_scan_works() {
    let (jpeg, n) = sample(1);
    let img = image::load_from_memory(&jpeg).expect("decodes").into_rgb8();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut z, img.as_raw()).expect("compresses");
    let pdf = pdf_with_image(
        img.width(),
        img.height(),
        300.0,
        Some("FlateDecode"),
        "DeviceRGB",
        z.finish().expect("compresses"),
    );
    let found = extract(&pdf, &ExtractOptions::default()).expect("extracts from PDF");
    assert_eq!(found.len(), n);
    // Raw samples carry no resolution; the page size does, so the sizes agree with the JPEG's.
    let from_jpeg = extract(&jpeg, &ExtractOptions::default()).expect("extracts from JPEG");
    for (a, b) in found.iter().zip(&from_jpeg) {
        assert!(
            (a.width_mm - b.width_mm).abs() < 0.3,
            "{} vs {}",
            a.width_mm,
            b.width_mm
        );
    }
}

#[test]
fn pdf_without_an_image_or_broken_is_an_error() {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id });
    let pdf = one_page_pdf(doc, pages_id, page_id);
    assert!(matches!(
        extract(&pdf, &ExtractOptions::default()),
        Err(Error::NoPdfImage(_))
    ));
    assert!(extract(b"%PDF-1.4\n garbage", &ExtractOptions::default()).is_err());
    // A Flate image whose stream claims a huge size is refused by dimensions before inflating.
    let bomb = pdf_with_image(
        20_000,
        20_000,
        300.0,
        Some("FlateDecode"),
        "DeviceRGB",
        vec![0x78, 0x9C, 0x03, 0x00],
    );
    assert!(matches!(
        extract(&bomb, &ExtractOptions::default()),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn not_an_image_is_refused() {
    for bytes in [&b""[..], b"GIF89a....", b"hello", &[0u8; 100]] {
        let err = extract(bytes, &ExtractOptions::default()).expect_err("refused");
        assert!(matches!(err, Error::UnsupportedFormat), "{err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn jpeg_bomb_is_refused_from_its_header() {
    // A real small JPEG whose frame header is patched to claim 60000 × 60000 px.
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode(
            &[255u8; 16 * 16 * 3],
            16,
            16,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encodes");
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline SOF");
    jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    match extract(&jpeg, &ExtractOptions::default()) {
        Err(Error::TooLarge {
            width: 60_000,
            height: 60_000,
            ..
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

fn png_of(w: u32, h: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(pixel(x, y)));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encodes");
    out.into_inner()
}

#[test]
fn blank_and_seal_free_pages_are_clear_errors() {
    let blank = png_of(1240, 1754, |_, _| [246, 244, 238]);
    assert!(matches!(
        extract(&blank, &ExtractOptions::default()),
        Err(Error::EmptyPage)
    ));
    let tiny = png_of(8, 8, |_, _| [255, 0, 0]);
    assert!(matches!(
        extract(&tiny, &ExtractOptions::default()),
        Err(Error::EmptyPage)
    ));
    // Black print and a blue ballpoint scrawl, no red: no impression.
    let page = png_of(1240, 1754, |x, y| {
        if (y % 60 < 3 && x > 100 && x < 1140) || (x % 97 < 4 && y % 60 < 30) {
            [25, 25, 28]
        } else if (x as i64 - 600 - ((y as f64 / 9.0).sin() * 40.0) as i64).abs() < 3 && y > 900 {
            [40, 50, 140]
        } else {
            [245, 243, 236]
        }
    });
    let err = extract(&page, &ExtractOptions::default()).expect_err("no seal");
    assert!(matches!(err, Error::NoImpression), "{err}");
    assert!(err.to_string().contains("未在图片中找到"));
}

#[test]
fn bad_options_are_refused() {
    let (jpeg, _) = sample(0);
    for opts in [
        ExtractOptions {
            size_mm: None,
            dpi: 0,
            ..ExtractOptions::default()
        },
        ExtractOptions {
            size_mm: Some((0.0, 40.0)),
            dpi: 300,
            ..ExtractOptions::default()
        },
        ExtractOptions {
            size_mm: Some((f32::NAN, 40.0)),
            dpi: 300,
            ..ExtractOptions::default()
        },
        ExtractOptions {
            size_mm: Some((1e9, 40.0)),
            dpi: 300,
            ..ExtractOptions::default()
        },
        // 150 mm at 2400 dpi: a 200 MP picture, refused rather than allocated.
        ExtractOptions {
            size_mm: Some((150.0, 150.0)),
            dpi: 2400,
            ..ExtractOptions::default()
        },
    ] {
        assert!(
            matches!(extract(&jpeg, &opts), Err(Error::InvalidRequest(_))),
            "{opts:?}"
        );
    }
}

/// Truncations and byte corruptions of a real scan: any result but a panic.
#[test]
fn corrupted_scans_never_panic() {
    let (jpeg, _) = sample(2);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes = (0, 0);
    for round in 0..40 {
        let mut bytes = jpeg.clone();
        if round % 4 == 0 {
            bytes.truncate((next() % jpeg.len() as u64) as usize);
        } else {
            for _ in 0..(1 + next() % 16) {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
        }
        match extract(&bytes, &ExtractOptions::default()) {
            Ok(_) => outcomes.0 += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                outcomes.1 += 1;
            }
        }
    }
    assert_eq!(outcomes.0 + outcomes.1, 40);
}

/// Red print that is not a seal (a red heading, a red rule across the page) is not an impression.
#[test]
fn red_print_is_not_a_seal() {
    let (jpeg, n) = sample(3);
    let mut page = image::load_from_memory(&jpeg).expect("decodes").into_rgb8();
    let red = image::Rgb([200u8, 30, 40]);
    // A "heading": 7 blocky red glyphs, 9 mm high, 60 mm wide, near the top; and a 1 mm rule.
    let mm = 300.0 / 25.4;
    for k in 0..7 {
        let x0 = (20.0 * mm) as u32 + k * (8.5 * mm) as u32;
        for y in (6.0 * mm) as u32..(15.0 * mm) as u32 {
            for x in x0..x0 + (7.0 * mm) as u32 {
                let (dx, dy) = (x - x0, y - (6.0 * mm) as u32);
                // Strokes: a frame and a cross in each glyph cell.
                let stroke = (10..20).contains(&dx)
                    || (10..20).contains(&dy)
                    || dx.abs_diff(40) < 6
                    || dy.abs_diff(50) < 6;
                if stroke {
                    page.put_pixel(x, y, red);
                }
            }
        }
    }
    for x in (10.0 * mm) as u32..(200.0 * mm) as u32 {
        for y in (18.0 * mm) as u32..(19.0 * mm) as u32 {
            page.put_pixel(x, y, red);
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    page.write_to(&mut png, image::ImageFormat::Png)
        .expect("encodes");
    let found = extract(png.get_ref(), &ExtractOptions::default()).expect("extracts");
    assert_eq!(
        found.len(),
        n,
        "{:?}",
        found
            .iter()
            .map(|f| (f.x, f.y, f.width, f.height))
            .collect::<Vec<_>>()
    );
}
