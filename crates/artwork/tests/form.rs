//! The per-order 印模采集表: drawn as a PDF, printed through poppler's `pdftoppm -r 300`, stamped
//! by compositing *different* seals into its boxes at the layout's positions, captured straight,
//! turned on the glass and photographed in perspective, then read back box by box.

use sealdesk_artwork::testkit::{Printed, print_pdf, warp_onto};
use sealdesk_artwork::{
    BoxReading, BoxShape, BoxSpec, ExtractOptions, FormReading, FormSpec, Impression,
    RenderRequest, Style, layout, read_form, render, render_form_pdf,
};

const DPI: f32 = 300.0;

fn spec(order_no: &str) -> FormSpec {
    FormSpec {
        order_no: order_no.into(),
        holder: "南昌星辰科技有限公司".into(),
        boxes: vec![
            BoxSpec {
                kind_label: "企业公章".into(),
                seal_name: "南昌星辰科技有限公司".into(),
                shape: BoxShape::Round,
                width_mm: 42.0,
                height_mm: 42.0,
                ink: None,
            },
            BoxSpec {
                kind_label: "企业资质印章".into(),
                seal_name: "资质专用章".into(),
                shape: BoxShape::Oval,
                width_mm: 40.0,
                height_mm: 30.0,
                ink: None,
            },
        ],
    }
}

fn print(pdf: &[u8]) -> Printed {
    print_pdf(pdf, 1, 300).expect("pdftoppm prints the form")
}

/// A stamp drawn by the renderer: its RGBA picture at 300 dpi.
fn stamp(
    style: Style,
    name: &str,
    title: Option<&str>,
    size: Option<(f32, f32)>,
) -> image::RgbaImage {
    let mut req = RenderRequest::new(style, name);
    req.title = title.map(Into::into);
    req.size_mm = size;
    image::load_from_memory(&render(&req).unwrap())
        .unwrap()
        .into_rgba8()
}

/// Presses `s` onto the sheet with its centre at (x, y) mm.
fn press(sheet: &mut Printed, s: &image::RgbaImage, at: (f32, f32)) {
    let mut png = Vec::new();
    s.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    sheet.press(&png, at).unwrap();
}

fn png(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_raw(w as u32, h as u32, rgb.to_vec())
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn jpeg(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode(rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// The sheet turned by `deg` on a scanner glass with 15 mm of white around it.
fn turned(sheet: &Printed, deg: f32) -> (Vec<u8>, usize, usize) {
    let border = (15.0 * DPI / 25.4) as usize;
    let (ow, oh) = (sheet.width + 2 * border, sheet.height + 2 * border);
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (ow as f32 / 2.0, oh as f32 / 2.0);
    let (hw, hh) = (sheet.width as f32 / 2.0, sheet.height as f32 / 2.0);
    let corner = |x: f32, y: f32| (cx + x * c - y * s, cy + x * s + y * c);
    let quad = [
        corner(-hw, -hh),
        corner(hw, -hh),
        corner(hw, hh),
        corner(-hw, hh),
    ];
    (
        warp_onto(
            &sheet.rgb,
            (sheet.width, sheet.height),
            quad,
            (ow, oh),
            [255, 255, 255],
        ),
        ow,
        oh,
    )
}

/// A phone photo: the sheet in perspective on a grey desk, 2400 × 3200, light falling off to one
/// side.
fn photographed(sheet: &Printed) -> (Vec<u8>, usize, usize) {
    let (ow, oh) = (2400usize, 3200usize);
    let quad = [
        (300.0, 260.0),
        (2130.0, 340.0),
        (2260.0, 3010.0),
        (170.0, 2930.0),
    ];
    let mut rgb = warp_onto(
        &sheet.rgb,
        (sheet.width, sheet.height),
        quad,
        (ow, oh),
        [96, 92, 88],
    );
    for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
        let x = (i % ow) as f32 / ow as f32;
        let light = 0.97 - 0.22 * x;
        for v in px.iter_mut() {
            *v = (f32::from(*v) * light) as u8;
        }
    }
    (rgb, ow, oh)
}

/// The picture against the stamp drawn (see [`sealdesk_artwork::testkit::picture_iou`]).
fn picture_iou(got: &Impression, want: &image::RgbaImage) -> f64 {
    let mut png = Vec::new();
    want.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    sealdesk_artwork::testkit::picture_iou(&got.png, &png).unwrap()
}

fn located(r: FormReading) -> (Vec<(usize, BoxReading)>, Vec<Impression>) {
    match r {
        FormReading::Located {
            page,
            pages,
            boxes,
            outside,
        } => {
            assert_eq!((page, pages), (1, 1));
            (boxes, outside)
        }
        other => panic!("not located: {other:?}"),
    }
}

fn found(b: &BoxReading) -> &Impression {
    match b {
        BoxReading::Found(i) => i,
        other => panic!("box holds {other:?}"),
    }
}

/// Each box's cut-out is the stamp pressed into *that* box, on a straight scan, a scan turned by
/// ±3° and a phone photo in perspective.
#[test]
fn each_box_gives_the_stamp_pressed_into_it() {
    let spec = spec("SD20261201000042");
    let pdf = render_form_pdf(&spec).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = layout(&spec);
    assert_eq!(pages.len(), 1);
    let mut sheet = print(&pdf);
    let round = stamp(Style::Round, "南昌星辰科技有限公司", Some("公章"), None);
    let oval = stamp(
        Style::Oval,
        "南昌星辰科技有限公司",
        Some("资质专用章"),
        Some((40.0, 30.0)),
    );
    // The stamps a little off centre, as hands press them.
    let (c0, c1) = (pages[0].boxes[0].centre(), pages[0].boxes[1].centre());
    press(&mut sheet, &round, (c0.0 + 1.5, c0.1 - 1.0));
    press(&mut sheet, &oval, (c1.0 - 1.0, c1.1 + 1.2));
    let opts = ExtractOptions::default();
    let straight = png(&sheet.rgb, sheet.width, sheet.height);
    let (plus, pw, ph) = turned(&sheet, 3.0);
    let (minus, mw, mh) = turned(&sheet, -3.0);
    let (photo, fw, fh) = photographed(&sheet);
    let captures = [
        ("straight", straight),
        ("turned +3°", jpeg(&plus, pw, ph)),
        ("turned -3°", jpeg(&minus, mw, mh)),
        ("photo", jpeg(&photo, fw, fh)),
    ];
    for (name, bytes) in captures {
        let (boxes, outside) = located(read_form(&bytes, &spec, &opts).unwrap());
        assert!(
            outside.is_empty(),
            "{name}: stamps outside {}",
            outside.len()
        );
        assert_eq!(boxes.iter().map(|b| b.0).collect::<Vec<_>>(), vec![0, 1]);
        let (first, second) = (found(&boxes[0].1), found(&boxes[1].1));
        let own = [picture_iou(first, &round), picture_iou(second, &oval)];
        let other = [picture_iou(first, &oval), picture_iou(second, &round)];
        println!(
            "{name}: own {own:?}, other {other:?}, sizes {}x{} {}x{}",
            first.width_mm, first.height_mm, second.width_mm, second.height_mm
        );
        for v in own {
            assert!(v >= 0.9, "{name}: own IoU {v:.4}");
        }
        for v in other {
            assert!(v < 0.5, "{name}: other IoU {v:.4}");
        }
        assert!(
            (first.width_mm - 42.0).abs() < 1.5,
            "{name}: {} mm",
            first.width_mm
        );
        assert!(
            (second.width_mm - 40.0).abs() < 1.5,
            "{name}: {} mm",
            second.width_mm
        );
    }
}

/// The QR code is read exactly; a form of another order is named, and nothing is cut out of it.
#[test]
fn the_order_number_comes_from_the_qr_code() {
    let ours = spec("SD20261201000042");
    let theirs = spec("SD20261201000777");
    let sheet = print(&render_form_pdf(&theirs).unwrap());
    let bytes = png(&sheet.rgb, sheet.width, sheet.height);
    assert_eq!(
        read_form(&bytes, &ours, &ExtractOptions::default()).unwrap(),
        FormReading::OtherOrder {
            order_no: "SD20261201000777".into()
        }
    );
    // Its own order reads it as located, every box empty (unstamped).
    let (boxes, outside) = located(read_form(&bytes, &theirs, &ExtractOptions::default()).unwrap());
    assert_eq!(boxes, vec![(0, BoxReading::Empty), (1, BoxReading::Empty)]);
    assert!(outside.is_empty());
}

/// An empty box, two stamps in one box and a stamp outside every box are each reported.
#[test]
fn empty_crowded_and_stray_stamps_are_reported() {
    let spec = spec("SD20261201000043");
    let pages = layout(&spec);
    let mut sheet = print(&render_form_pdf(&spec).unwrap());
    let small = stamp(Style::Square, "张三", None, None);
    let (c0, _) = (pages[0].boxes[0].centre(), pages[0].boxes[1].centre());
    // Box 1: two small stamps side by side; box 2: nothing; one stamp low on the page.
    press(&mut sheet, &small, (c0.0 - 14.0, c0.1));
    press(&mut sheet, &small, (c0.0 + 14.0, c0.1));
    let big = stamp(Style::Round, "南昌星辰科技有限公司", Some("公章"), None);
    press(&mut sheet, &big, (80.0, 240.0));
    let bytes = jpeg(&sheet.rgb, sheet.width, sheet.height);
    let (boxes, outside) = located(read_form(&bytes, &spec, &ExtractOptions::default()).unwrap());
    let summary: Vec<String> = boxes
        .iter()
        .map(|(i, b)| match b {
            BoxReading::Found(f) => format!("{i}: found {}x{} mm", f.width_mm, f.height_mm),
            other => format!("{i}: {other:?}"),
        })
        .collect();
    assert_eq!(summary, ["0: Several(2)", "1: Empty"]);
    assert_eq!(outside.len(), 1);
    assert!((outside[0].width_mm - 42.0).abs() < 1.5);
}

/// A blank page has no marks and no impressions; a scan without marks falls back to the whole-page
/// search, with no box assignment.
#[test]
fn blank_pages_and_unmarked_scans() {
    let spec = spec("SD20261201000044");
    let white = vec![250u8; 2480 * 3508 * 3];
    let blank = png(&white, 2480, 3508);
    assert_eq!(
        read_form(&blank, &spec, &ExtractOptions::default()).unwrap(),
        FormReading::Unlocated {
            impressions: vec![]
        }
    );
    let mut page = Printed {
        rgb: white,
        width: 2480,
        height: 3508,
        dpi: 300.0,
    };
    press(
        &mut page,
        &stamp(Style::Round, "南昌星辰科技有限公司", Some("公章"), None),
        (60.0, 100.0),
    );
    match read_form(
        &jpeg(&page.rgb, page.width, page.height),
        &spec,
        &ExtractOptions::default(),
    )
    .unwrap()
    {
        FormReading::Unlocated { impressions } => assert_eq!(impressions.len(), 1),
        other => panic!("{other:?}"),
    }
}
