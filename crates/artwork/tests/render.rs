//! Rendering: every style draws, at the right pixel size, with transparent background and ink where
//! the template puts it; bad requests are errors.

use sealdesk_artwork::{Error, RenderRequest, Style, render};

fn decode(png: &[u8]) -> image::RgbaImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("valid PNG")
        .into_rgba8()
}

fn alpha_at(img: &image::RgbaImage, x_mm: f32, y_mm: f32, dpi: f32) -> u8 {
    let k = dpi / 25.4;
    img.get_pixel(
        ((x_mm * k) as u32).min(img.width() - 1),
        ((y_mm * k) as u32).min(img.height() - 1),
    )[3]
}

fn request(style: Style, name: &str) -> RenderRequest {
    RenderRequest::new(style, name)
}

#[test]
fn round_seal_geometry() {
    let mut req = request(Style::Round, "南昌市红谷滩新区星辰科技有限公司");
    req.title = Some("合同专用章".into());
    req.code = Some("3601020012345".into());
    let png = render(&req).expect("renders");
    if let Ok(dir) = std::env::var("ARTWORK_DUMP") {
        std::fs::write(format!("{dir}/round-raw.png"), &png).expect("dump");
    }
    let img = decode(&png);
    // 42 mm at 300 dpi.
    assert_eq!((img.width(), img.height()), (496, 496));
    if let Ok(dir) = std::env::var("ARTWORK_DUMP") {
        img.save(format!("{dir}/round.png")).expect("dump");
    }
    // Rim at 0.6 mm from the edge on the horizontal centre line, both sides; corners transparent.
    assert!(alpha_at(&img, 0.6, 21.0, 300.0) > 200);
    assert!(alpha_at(&img, 41.4, 21.0, 300.0) > 200);
    assert_eq!(alpha_at(&img, 0.3, 0.3, 300.0), 0);
    // Star: centre solid, tip 6.5 mm above the centre inked, 7.5 mm above clear.
    assert!(alpha_at(&img, 21.0, 21.0, 300.0) > 200);
    assert!(alpha_at(&img, 21.0, 21.0 - 6.5, 300.0) > 100);
    // Every ink pixel is seal red.
    assert!(
        img.pixels()
            .filter(|p| p[3] > 0)
            .all(|p| [p[0], p[1], p[2]] == sealdesk_artwork::SEAL_RED)
    );
    // Ink share: a rim, star and text, not a filled disc nor an empty ring.
    let inked = img.pixels().filter(|p| p[3] >= 128).count() as f64 / (496.0 * 496.0);
    assert!((0.12..0.45).contains(&inked), "ink share {inked}");
}

#[test]
fn every_style_renders_at_its_size_and_dpi() {
    for (style, name, size, px) in [
        (Style::Round, "测试有限公司", None, (496, 496)),
        (Style::Oval, "测试有限公司", None, (472, 354)),
        (Style::Square, "张三", None, (236, 236)),
        (Style::Square, "王小明", Some((18.0, 18.0)), (213, 213)),
        (Style::Frame, "李四", None, (591, 425)),
    ] {
        let mut req = request(style, name);
        req.size_mm = size;
        let img = decode(&render(&req).expect("renders"));
        assert_eq!((img.width(), img.height()), px, "{style:?}");
        if let Ok(dir) = std::env::var("ARTWORK_DUMP") {
            img.save(format!("{dir}/{style:?}-{name}.png"))
                .expect("dump");
        }
        let inked = img.pixels().filter(|p| p[3] >= 128).count();
        assert!(inked > 2000, "{style:?} has ink");
        // Transparent outside the ink: the four corners of the round and oval ones; the square's
        // rim runs through its corners.
        for (x, y) in [
            (0, 0),
            (img.width() - 1, 0),
            (0, img.height() - 1),
            (img.width() - 1, img.height() - 1),
        ] {
            let a = img.get_pixel(x, y)[3];
            if style == Style::Square {
                assert!(a > 0, "square corner");
            } else {
                assert_eq!(a, 0, "{style:?} corner");
            }
        }
    }
    // Same seal at 600 dpi is twice the size.
    let mut req = request(Style::Round, "测试有限公司");
    req.dpi = 600;
    let img = decode(&render(&req).expect("renders"));
    assert_eq!(img.width(), 992);
}

#[test]
fn bad_requests_are_errors() {
    let mut req = request(Style::Round, "  ");
    assert!(matches!(render(&req), Err(Error::InvalidRequest(_))));
    req.name = "测试公司".into();
    req.code = Some("12345".into());
    assert!(matches!(render(&req), Err(Error::InvalidRequest(_))));
    req.code = None;
    req.dpi = 10;
    assert!(matches!(render(&req), Err(Error::InvalidRequest(_))));
    req.dpi = 300;
    req.size_mm = Some((1000.0, 1000.0));
    assert!(matches!(render(&req), Err(Error::InvalidRequest(_))));
    req.size_mm = None;
    req.name = "测试𠀀公司".into();
    assert!(matches!(render(&req), Err(Error::MissingGlyph('𠀀'))));
    // 150 mm at 2400 dpi would be 200 MP: refused, not allocated.
    let mut huge = request(Style::Round, "测试公司");
    huge.size_mm = Some((150.0, 150.0));
    huge.dpi = 2400;
    assert!(matches!(render(&huge), Err(Error::InvalidRequest(_))));
    let long = request(Style::Square, "一二三四五六七");
    assert!(matches!(render(&long), Err(Error::InvalidRequest(_))));
}

#[test]
fn templates_are_configurable() {
    use sealdesk_artwork::{Templates, render_with};
    let req = request(Style::Round, "测试科技有限公司");
    let mut wide = Templates::default();
    wide.round.rim_mm = 2.5;
    wide.round.colour = [0x1B, 0x3A, 0x8C];
    let standard = decode(&render(&req).expect("renders"));
    let custom = decode(&render_with(&req, &wide).expect("renders"));
    assert_eq!(standard.dimensions(), custom.dimensions());
    // 2 mm in from the edge: inside the 2.5 mm rim, outside the standard 1.2 mm one.
    assert!(alpha_at(&custom, 2.0, 21.0, 300.0) > 200);
    assert_eq!(alpha_at(&standard, 2.0, 21.0, 300.0), 0);
    let ink = custom.pixels().find(|p| p[3] == 255).expect("ink");
    assert_eq!([ink[0], ink[1], ink[2]], [0x1B, 0x3A, 0x8C]);
    // A 38 mm template size is the default size; an absurd one is refused, not drawn.
    let mut small = Templates::default();
    small.round.diameter_mm = 38.0;
    assert_eq!(
        decode(&render_with(&req, &small).expect("renders")).width(),
        449
    );
    small.round.diameter_mm = f32::NAN;
    assert!(matches!(
        render_with(&req, &small),
        Err(Error::InvalidRequest(_))
    ));
}

/// The rules people check an official round seal against (standards §5.2): a five-pointed star in
/// the centre with one point straight up; the name on an arc centred on the top spanning 200-270°;
/// the 13-digit code, where used, on the bottom arc within about 60°, and nothing there without it;
/// and the 专用章 sizes: 合同 42 mm, 财务 38 mm round or 22 mm square, 发票 40 × 30 mm.
#[test]
fn official_round_seal_follows_the_rules() {
    let mut req = request(Style::Round, "南昌市红谷滩新区星辰科技有限公司");
    req.title = Some("合同专用章".into());
    req.code = Some("3601020012345".into());
    let with_code = decode(&render(&req).expect("renders"));
    req.code = None;
    let without = decode(&render(&req).expect("renders"));
    let k = 300.0 / 25.4;
    // Ink at radius r mm, angle θ degrees clockwise from straight up.
    let ink = |img: &image::RgbaImage, r: f32, deg: f32| {
        let (s, c) = deg.to_radians().sin_cos();
        let (x, y) = (21.0 + r * s, 21.0 - r * c);
        img.get_pixel((x * k) as u32, (y * k) as u32)[3] >= 128
    };
    // Ink anywhere across an annulus at this angle.
    let ring = |img: &image::RgbaImage, r0: f32, r1: f32, deg: f32| {
        (0..20).any(|j| ink(img, r0 + (r1 - r0) * j as f32 / 19.0, deg))
    };
    // Star: the five points (0°, 72°, …) inked at 5 mm, the gaps between them clear.
    for p in 0..5 {
        let at = 72.0 * p as f32;
        assert!(ink(&without, 5.0, at), "star point at {at}°");
        assert!(!ink(&without, 5.0, at + 36.0), "star gap at {}°", at + 36.0);
    }
    // Name arc (radius 13-16.5 mm): present from -100° to +100° (a span of at least 200°),
    // absent at the bottom (150-210°), so the arc is centred on the top.
    let inked_angles: Vec<i32> = (-180..180)
        .filter(|&d| ring(&without, 13.0, 16.5, d as f32))
        .collect();
    assert!(
        inked_angles.contains(&-100) || inked_angles.iter().any(|&d| (-104..=-96).contains(&d))
    );
    assert!(inked_angles.iter().any(|&d| (96..=104).contains(&d)));
    // (The seal name's outer corners reach this annulus near ±140°, so the check starts at 150°.)
    assert!(
        inked_angles.iter().all(|&d| d.abs() < 150),
        "name arc reaches the bottom"
    );
    // Code arc (radius 17.3-19.3 mm, inside the rim): ink within ±35° of the bottom only with a
    // code, none there without; and none of it beyond ±35°.
    // (From 130° to 230°: the ends of the name arc reach this radius near ±120°.)
    let code_angles: Vec<i32> = (130..230)
        .filter(|&d| ring(&with_code, 17.2, 19.2, d as f32))
        .collect();
    assert!(
        code_angles.iter().any(|&d| (170..=190).contains(&d)),
        "code at the bottom"
    );
    assert!(
        code_angles.iter().all(|&d| (140..=220).contains(&d)),
        "code span {code_angles:?}"
    );
    assert!(
        (150..=210).all(|d| !ring(&without, 17.2, 19.2, d as f32)),
        "no code, no digits"
    );
    // The 专用章 sizes.
    for (style, title, size, px) in [
        (Style::Round, "合同专用章", Some((42.0, 42.0)), (496, 496)),
        (Style::Round, "财务专用章", Some((38.0, 38.0)), (449, 449)),
        (Style::Oval, "发票专用章", None, (472, 354)),
    ] {
        let mut r = request(style, "测试有限公司");
        r.title = Some(title.into());
        r.size_mm = size;
        let img = decode(&render(&r).expect("renders"));
        assert_eq!((img.width(), img.height()), px, "{title}");
    }
    let mut square = request(Style::Square, "张三");
    square.size_mm = Some((22.0, 22.0));
    assert_eq!(
        decode(&render(&square).expect("renders")).dimensions(),
        (260, 260)
    );
}
