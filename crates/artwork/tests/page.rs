//! Page location and rectification (issue 15, item 2): on a phone photo the sheet is found by its
//! edges and each impression is measured on the flat page, so a round seal comes out round and its
//! size in mm is the page's, not a guess from the frame. Scans, rendered seals and photos without
//! a sheet in them are left as they were. Needs Debian `poppler-utils` for the photos.

use sealdesk_artwork::testkit::capture::{
    self, Capture, Condition, Crossing, InkKind, extract_in_frame, located_page,
};
use sealdesk_artwork::testkit::{Printed, print_pdf, warp_onto};
use sealdesk_artwork::{
    BoxReading, BoxShape, BoxSpec, ExtractOptions, FormReading, FormSpec, Impression,
    RenderRequest, Style, extract, layout, read_form, render, render_form_pdf,
};

/// Same seeds as `tests/captures.rs` and the bench: capture k of condition c uses
/// `CAPTURE_SEED + 1000 c + k`.
const CAPTURE_SEED: u64 = 0x5EA1_CA00;

fn shot(
    cap: Capture,
    ink: InkKind,
    crossing: Crossing,
    k: u64,
) -> (Condition, capture::Plan, capture::Shot) {
    let (c, cond) = capture::conditions()
        .into_iter()
        .enumerate()
        .find(|(_, d)| d.capture == cap && d.ink == ink && d.crossing == crossing)
        .expect("condition in the set");
    let plan = capture::plan(CAPTURE_SEED + 1000 * c as u64 + k, cond);
    let layers = capture::rasterise(&plan)
        .expect("pdftoppm (Debian poppler-utils) must be installed: run scripts/test.sh");
    let s = capture::shoot(&plan, &layers);
    (cond, plan, s)
}

/// The picture's size, px.
fn png_size(png: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(png).expect("png");
    (img.width(), img.height())
}

/// Impressions matched to the plan's stamps by their left-to-right order (the two boxes are side
/// by side on the page, and a photo is never turned more than a few degrees).
fn by_stamp<'a>(plan: &capture::Plan, found: &'a [Impression]) -> Vec<(usize, &'a Impression)> {
    let mut imps: Vec<&Impression> = found.iter().collect();
    imps.sort_by_key(|i| i.x + i.width / 2);
    let mut stamps: Vec<usize> = (0..plan.stamps).collect();
    stamps.sort_by(|&a, &b| plan.centres_mm[a].0.total_cmp(&plan.centres_mm[b].0));
    stamps.into_iter().zip(imps).collect()
}

/// Relative error of a measured size against the true one.
fn err(got: f32, want: f32) -> f32 {
    (got - want).abs() / want
}

#[test]
fn photos_are_measured_on_the_flat_page() {
    let list = [
        (InkKind::Red, Crossing::None, 0),
        (InkKind::Red, Crossing::Signature, 0),
        (InkKind::RedFaded, Crossing::Print, 0),
        (InkKind::Purple, Crossing::None, 0),
        (InkKind::Red, Crossing::None, 1),
        (InkKind::Blue, Crossing::Print, 1),
        (InkKind::RedFaded, Crossing::None, 1),
        (InkKind::Purple, Crossing::Signature, 1),
    ];
    let (mut round_before, mut round_after) = (Vec::new(), Vec::new());
    let mut corner_worst = 0f32;
    let mut rounds = 0;
    println!(
        "| photo | stamp | true mm | before: mm | before: picture w/h | after: mm | after: picture w/h |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (ink, crossing, k) in list {
        let (cond, plan, s) = shot(Capture::Photo, ink, crossing, k);
        let name = format!("{} / {} #{k}", ink.label(), crossing.label());
        let (corners, took, _) = located_page(&s.jpeg).expect("decodes");
        let corners = corners.unwrap_or_else(|| panic!("{name}: no page located"));
        let truth = s.page_corners.expect("a photo has its page corners");
        let off = corners
            .iter()
            .zip(truth)
            .map(|(c, t)| (c.0 - t.0).hypot(c.1 - t.1))
            .fold(0f32, f32::max);
        println!("{name}: page corners within {off:.2} px of the truth, located in {took:.2?}");
        corner_worst = corner_worst.max(off);
        let opts = ExtractOptions {
            ink: Some(cond.ink.family()),
            ..ExtractOptions::default()
        };
        let after = extract(&s.jpeg, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let before = extract_in_frame(&s.jpeg, &opts).expect("extracts");
        assert_eq!(after.len(), plan.stamps, "{name}: impression count");
        assert_eq!(before.len(), after.len());
        for ((i, a), (_, b)) in by_stamp(&plan, &after)
            .into_iter()
            .zip(by_stamp(&plan, &before))
        {
            // Impressions are still placed in capture pixels.
            assert_eq!((a.x, a.y, a.width, a.height), (b.x, b.y, b.width, b.height));
            let (tw, th) = plan.sizes_mm[i];
            let (aw, ah) = png_size(&a.png);
            let (bw, bh) = png_size(&b.png);
            let shape = if plan.round[i] { "round" } else { "other" };
            println!(
                "| {name} | {i} {shape} | {tw:.0} × {th:.0} | {:.1} × {:.1} | {:.3} | {:.1} × {:.1} | {:.3} |",
                b.width_mm,
                b.height_mm,
                bw as f32 / bh as f32,
                a.width_mm,
                a.height_mm,
                aw as f32 / ah as f32
            );
            if plan.round[i] {
                rounds += 1;
                let worst = |w: f32, h: f32, pw: u32, ph: u32| {
                    err(w, tw)
                        .max(err(h, th))
                        .max((pw as f32 / ph as f32 - 1.0).abs())
                };
                round_before.push(worst(b.width_mm, b.height_mm, bw, bh));
                round_after.push(worst(a.width_mm, a.height_mm, aw, ah));
                assert!(
                    err(a.width_mm, tw) <= 0.03 && err(a.height_mm, th) <= 0.03,
                    "{name}: stamp {i} measured {} × {} mm, true {tw} × {th}",
                    a.width_mm,
                    a.height_mm
                );
                assert!(
                    (aw as f32 / ah as f32 - 1.0).abs() <= 0.03,
                    "{name}: stamp {i} picture {aw} × {ah} is not round"
                );
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let max = |v: &[f32]| v.iter().copied().fold(0f32, f32::max);
    println!(
        "round stamps: {rounds}; worst of size and roundness error, mean / worst: before {:.1} % / {:.1} %, after {:.1} % / {:.1} %; page corners worst {corner_worst:.2} px",
        100.0 * mean(&round_before),
        100.0 * max(&round_before),
        100.0 * mean(&round_after),
        100.0 * max(&round_after),
    );
    assert!(rounds >= 4, "too few round stamps in the sample: {rounds}");
    assert!(corner_worst <= 4.0, "page corners off by {corner_worst} px");
}

#[test]
fn scans_and_rendered_seals_are_left_as_they_were() {
    let (cond, _, s) = shot(Capture::Scan(300), InkKind::Red, Crossing::Signature, 0);
    let opts = ExtractOptions {
        ink: Some(cond.ink.family()),
        ..ExtractOptions::default()
    };
    assert_eq!(located_page(&s.jpeg).expect("decodes").0, None, "scan");
    assert_eq!(
        extract(&s.jpeg, &opts).expect("extracts"),
        extract_in_frame(&s.jpeg, &opts).expect("extracts"),
        "scan"
    );
    let mut req = RenderRequest::new(Style::Round, "南昌星辰科技有限公司");
    req.title = Some("合同专用章".into());
    let png = render(&req).expect("renders");
    assert_eq!(located_page(&png).expect("decodes").0, None, "rendered");
    let opts = ExtractOptions::default();
    assert_eq!(
        extract(&png, &opts).expect("extracts"),
        extract_in_frame(&png, &opts).expect("extracts"),
        "rendered"
    );
}

fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(img)
        .expect("jpeg");
    out
}

#[test]
fn photos_without_a_sheet_find_none() {
    // A seal photographed close up: paper fills the frame (no resolution recorded).
    let mut req = RenderRequest::new(Style::Round, "南昌星辰科技有限公司");
    req.title = Some("合同专用章".into());
    let seal = image::load_from_memory(&render(&req).expect("renders"))
        .expect("png")
        .into_rgba8();
    let (w, h) = (1500u32, 2000u32);
    let (ox, oy) = (
        (w - seal.width()) as i64 / 2,
        (h - seal.height()) as i64 / 2,
    );
    let mut state = 0x2468_ace1u32;
    let close_up = image::RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 7) as f32 - 3.0;
        let light = 0.8 + 0.2 * x as f32 / w as f32;
        let (sx, sy) = (x as i64 - ox, y as i64 - oy);
        let a = if (0..seal.width() as i64).contains(&sx) && (0..seal.height() as i64).contains(&sy)
        {
            f32::from(seal.get_pixel(sx as u32, sy as u32)[3]) / 255.0
        } else {
            0.0
        };
        let px = [230.0, 20.0, 40.0].map(|ink: f32| (244.0 * (1.0 - a) + ink * a + noise) * light);
        image::Rgb(px.map(|v| v.clamp(0.0, 255.0) as u8))
    });
    let bytes = jpeg(&close_up);
    assert_eq!(located_page(&bytes).expect("decodes").0, None, "close-up");
    let opts = ExtractOptions::default();
    assert_eq!(
        extract(&bytes, &opts).expect("extracts"),
        extract_in_frame(&bytes, &opts).expect("extracts")
    );
    // A dark, noisy picture with no sheet at all.
    let mut state = 0x1357_9bdfu32;
    let dark = image::RgbImage::from_fn(1200, 1600, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let v = (30 + (state % 60) as i32 + ((x / 90 + y / 70) % 3) as i32 * 25) as u8;
        image::Rgb([v, v.saturating_sub(5), v / 2 + 40])
    });
    let bytes = jpeg(&dark);
    assert_eq!(located_page(&bytes).expect("decodes").0, None, "dark");
    // Whatever it finds, it does not panic, and it is what it was before.
    assert_eq!(
        extract(&bytes, &opts).ok(),
        extract_in_frame(&bytes, &opts).ok()
    );
}

/// The project's own form, printed at 300 dpi, a round 42 mm seal in its first box, and the
/// sheet photographed in perspective on a desk of colour `desk` (2400 × 3200), after `cover` has
/// painted over parts of it (mm rectangles: left, top, right, bottom).
fn photographed_form(
    order_no: &str,
    cover: &[(f32, f32, f32, f32)],
    desk: [u8; 3],
) -> (FormSpec, Vec<u8>) {
    let spec = FormSpec {
        order_no: order_no.into(),
        holder: "南昌星辰科技有限公司".into(),
        // One round seal of 42 mm, its name left off the label.
        boxes: vec![BoxSpec {
            shape: BoxShape::Round,
            ink: None,
            width_mm: 42.0,
            height_mm: 42.0,
            seal_name: String::new(),
            kind_label: "企业公章".into(),
        }],
    };
    let pdf = render_form_pdf(&spec).expect("form");
    let mut sheet: Printed = print_pdf(&pdf, 1, 300).expect("pdftoppm prints the form");
    let mut req = RenderRequest::new(Style::Round, "南昌星辰科技有限公司");
    req.title = Some("公章".into());
    let c = layout(&spec)[0].boxes[0].centre();
    sheet
        .press(&render(&req).expect("renders"), (c.0 + 1.0, c.1 - 0.5))
        .expect("pressed");
    let ppm = sheet.dpi / 25.4;
    for &(l, t, r, b) in cover {
        for y in (t * ppm) as usize..(b * ppm) as usize {
            for x in (l * ppm) as usize..(r * ppm) as usize {
                sheet.rgb[(y * sheet.width + x) * 3..][..3].copy_from_slice(&[205, 160, 140]);
            }
        }
    }
    // A camera 35 cm above the sheet (focal length 3000 px), the sheet tilted 15° and 6° about
    // its axes and rolled 3°; light falling off towards the bottom.
    let (ow, oh) = (2400u32, 3200u32);
    let (ax, ay, az) = (15f32.to_radians(), 6f32.to_radians(), (-3f32).to_radians());
    let project = |x: f32, y: f32| {
        let (y1, z1) = (y * ax.cos(), y * ax.sin());
        let (x2, z2) = (x * ay.cos() + z1 * ay.sin(), -x * ay.sin() + z1 * ay.cos());
        let (x3, y3) = (x2 * az.cos() - y1 * az.sin(), x2 * az.sin() + y1 * az.cos());
        let z = z2 + 350.0;
        (1200.0 + 3000.0 * x3 / z, 1600.0 + 3000.0 * y3 / z)
    };
    let quad = [
        project(-105.0, -148.5),
        project(105.0, -148.5),
        project(105.0, 148.5),
        project(-105.0, 148.5),
    ];
    let rgb = warp_onto(
        &sheet.rgb,
        (sheet.width, sheet.height),
        quad,
        (ow as usize, oh as usize),
        desk,
    );
    let img = image::RgbImage::from_fn(ow, oh, |x, y| {
        let light = 1.0 - 0.25 * y as f32 / oh as f32;
        let i = (y * ow + x) as usize * 3;
        image::Rgb([0, 1, 2].map(|c| (f32::from(rgb[i + c]) * light) as u8))
    });
    (spec, jpeg(&img))
}

/// A blue-grey desk, darker than the paper.
const DESK: [u8; 3] = [80, 84, 90];
/// A thumb over the form's QR code.
const QR_COVERED: &[(f32, f32, f32, f32)] = &[(163.0, 17.0, 195.0, 49.0)];

/// A thumb over one corner mark: the form is still read box by box, the page found by its edges.
#[test]
fn a_form_with_a_covered_mark_is_read_by_its_edges() {
    let (spec, bytes) = photographed_form("SD20261201000051", &[(5.0, 5.0, 19.0, 19.0)], DESK);
    let reading = read_form(&bytes, &spec, &ExtractOptions::default()).expect("reads");
    let FormReading::Located { boxes, outside, .. } = reading else {
        panic!("not located: {reading:?}");
    };
    assert!(outside.is_empty());
    let BoxReading::Found(seal) = &boxes[0].1 else {
        panic!("box 0: {:?}", boxes[0].1);
    };
    println!("covered mark: {} × {} mm", seal.width_mm, seal.height_mm);
    assert!(err(seal.width_mm, 42.0) <= 0.03 && err(seal.height_mm, 42.0) <= 0.03);
}

/// The QR code covered: no box assignment, but the impressions are still measured on the page
/// the edges give, not guessed from the frame.
#[test]
fn an_unreadable_form_falls_back_to_the_located_page() {
    let (spec, bytes) = photographed_form("SD20261201000052", QR_COVERED, DESK);
    let reading = read_form(&bytes, &spec, &ExtractOptions::default()).expect("reads");
    let FormReading::Unlocated { impressions } = reading else {
        panic!("located without its QR code: {reading:?}");
    };
    assert_eq!(impressions.len(), 1);
    let seal = &impressions[0];
    let before = extract_in_frame(&bytes, &ExtractOptions::default()).expect("extracts");
    let (w, h) = png_size(&seal.png);
    println!(
        "QR covered: {} × {} mm, picture {w} × {h} (in the frame: {} × {} mm)",
        seal.width_mm, seal.height_mm, before[0].width_mm, before[0].height_mm
    );
    assert!(err(seal.width_mm, 42.0) <= 0.03 && err(seal.height_mm, 42.0) <= 0.03);
    assert!((w as f32 / h as f32 - 1.0).abs() <= 0.03);
}

/// On a white desk the sheet's edges do not show; the project form's four corner marks still give
/// the page, and the fallback without a QR code measures on it.
#[test]
fn on_a_white_desk_the_form_marks_give_the_page() {
    let (spec, bytes) = photographed_form("SD20261201000053", QR_COVERED, [238, 238, 236]);
    let (corners, _, _) = located_page(&bytes).expect("decodes");
    assert!(corners.is_some(), "no page from the marks");
    let FormReading::Unlocated { impressions } =
        read_form(&bytes, &spec, &ExtractOptions::default()).expect("reads")
    else {
        panic!("located without its QR code");
    };
    assert_eq!(impressions.len(), 1);
    let seal = &impressions[0];
    println!("white desk: {} × {} mm", seal.width_mm, seal.height_mm);
    assert!(err(seal.width_mm, 42.0) <= 0.03 && err(seal.height_mm, 42.0) <= 0.03);
}
