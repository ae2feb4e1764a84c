//! The bad captures of issue 15, each with a clear result: a photo with no form in it, a stamp cut
//! off by the photo's edge, a screenshot of a seal, a 200 MP image, an animated PNG and a CMYK
//! JPEG. (The EXIF-rotated photo is in `decode.rs`'s unit tests; corrupt files in `inputs.rs`.)

use sealdesk_artwork::{Error, ExtractOptions, RenderRequest, Style, Warning, extract, render};

fn png_rgb(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn jpeg(img: &image::RgbImage, q: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
        .encode_image(img)
        .expect("jpeg");
    out
}

/// A rendered seal laid on a page of `bg` at (x, y), with paper noise if `noisy`.
fn page_with_seal(w: u32, h: u32, x: i64, y: i64, noisy: bool) -> image::RgbImage {
    let mut req = RenderRequest::new(Style::Round, "南昌星辰科技有限公司");
    req.title = Some("合同专用章".into());
    let seal = image::load_from_memory(&render(&req).expect("renders"))
        .expect("png")
        .into_rgba8();
    let mut state = 0x1234_5678u32;
    image::RgbImage::from_fn(w, h, |px, py| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = if noisy { (state % 7) as f32 - 3.0 } else { 0.0 };
        let paper = [246.0 + noise, 244.0 + noise, 236.0 + noise];
        let (sx, sy) = (px as i64 - x, py as i64 - y);
        let a = if (0..seal.width() as i64).contains(&sx) && (0..seal.height() as i64).contains(&sy)
        {
            let p = seal.get_pixel(sx as u32, sy as u32);
            f32::from(p[3]) / 255.0 * if noisy { 0.9 } else { 1.0 }
        } else {
            0.0
        };
        let ink = [205.0, 30.0, 45.0];
        image::Rgb([0, 1, 2].map(|c| (paper[c] * (1.0 - a) + ink[c] * a).clamp(0.0, 255.0) as u8))
    })
}

#[test]
fn a_photo_with_no_form_is_no_impression() {
    // A desk: wood-brown gradient with grain, a grey phone, a black pen; no seal ink.
    let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
        let grain = ((x as f32 * 0.05 + (y as f32 * 0.013).sin() * 6.0).sin() * 12.0) as i32;
        let mut c = [150 + grain, 110 + grain, 70 + grain / 2];
        if (300..700).contains(&x) && (200..1000).contains(&y) {
            c = [60, 62, 66];
        }
        if (900..1400).contains(&x) && (600..612).contains(&y) {
            c = [20, 20, 25];
        }
        image::Rgb(c.map(|v| v.clamp(0, 255) as u8))
    });
    let r = extract(&jpeg(&img, 80), &ExtractOptions::default());
    assert!(matches!(r, Err(Error::NoImpression)), "{r:?}");
}

#[test]
fn a_stamp_cut_off_by_the_edge_is_flagged() {
    // 42 mm = 496 px; a third of it beyond the right edge.
    let img = page_with_seal(1200, 900, 1200 - 330, 200, true);
    let found = extract(&jpeg(&img, 85), &ExtractOptions::default()).expect("extracts");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].warnings, vec![Warning::CutOffAtEdge]);
    // The same stamp whole on the page: no warning.
    let img = page_with_seal(1200, 900, 300, 200, true);
    let found = extract(&jpeg(&img, 85), &ExtractOptions::default()).expect("extracts");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].warnings, vec![]);
}

#[test]
fn a_screenshot_of_a_seal_is_flagged_as_a_copy() {
    let img = page_with_seal(1000, 800, 250, 150, false);
    let found = extract(&png_rgb(&img), &ExtractOptions::default()).expect("extracts");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].warnings, vec![Warning::MaybeDigitalCopy]);
    // A scanned sample form has paper texture: no warning.
    let scan = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/forms/form-1.jpg"
    ))
    .expect("sample");
    for imp in extract(&scan, &ExtractOptions::default()).expect("extracts") {
        assert_eq!(imp.warnings, vec![]);
    }
    assert_eq!(
        Warning::MaybeDigitalCopy.to_string(),
        "图片没有纸张纹理，可能是印章的电子复制件而非纸面盖章 (no paper texture: this may be a digital copy, not a stamp on paper)"
    );
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    png.extend_from_slice(&body);
    png.extend_from_slice(&crc.sum().to_be_bytes());
}

#[test]
fn a_200_megapixel_image_is_refused_from_its_header() {
    // Only a header and an empty IDAT: nothing is decoded.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[]);
    chunk(&mut png, b"IEND", &[]);
    match extract(&png, &ExtractOptions::default()) {
        Err(Error::TooLarge {
            width: 20_000,
            height: 10_000,
            limit_mp: 50,
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn an_animated_png_is_refused() {
    let still = png_rgb(&page_with_seal(800, 700, 150, 100, true));
    // Insert an acTL chunk (2 frames, loop forever) right after IHDR: now it is an APNG.
    let mut apng = still[..33].to_vec();
    let mut actl = 2u32.to_be_bytes().to_vec();
    actl.extend_from_slice(&0u32.to_be_bytes());
    chunk(&mut apng, b"acTL", &actl);
    apng.extend_from_slice(&still[33..]);
    let r = extract(&apng, &ExtractOptions::default());
    assert!(matches!(r, Err(Error::Animated)), "{r:?}");
    assert_eq!(
        Error::Animated.to_string(),
        "这是动画图片，请上传盖章页的扫描件或照片 (an animated PNG is not a scan or photo)"
    );
    // The still picture itself is fine.
    assert_eq!(
        extract(&still, &ExtractOptions::default())
            .expect("extracts")
            .len(),
        1
    );
}

/// `tests/forms/cmyk-form-0.jpg` is sample form 0 at 150 dpi converted to CMYK by ImageMagick
/// (`convert form-0.jpg -resize 50% -density 150 -colorspace CMYK -quality 85`): an Adobe CMYK
/// JPEG as print shops send. It reads like the RGB original.
#[test]
fn a_cmyk_jpeg_reads_like_rgb() {
    let cmyk = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/forms/cmyk-form-0.jpg"
    ))
    .expect("fixture");
    let found = extract(&cmyk, &ExtractOptions::default()).expect("extracts");
    assert_eq!(found.len(), 1);
    assert!(
        (found[0].width_mm - 42.0).abs() < 1.5,
        "{} mm",
        found[0].width_mm
    );
    assert_eq!(found[0].ink, sealdesk_artwork::SealInk::Red);
}
