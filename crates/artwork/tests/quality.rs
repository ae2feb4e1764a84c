//! The quality measure of issue 4: on generated forms with known truth (printed text, table lines,
//! a signature across a seal, paper texture, uneven light, blur, JPEG 60-90, rotation up to 5°),
//! the extractor's ink mask must reach an IoU of at least 0.95 on average and 0.9 at worst, and
//! find the right number of impressions on every form. Also run on the checked-in sample forms.

use sealdesk_artwork::testkit::{FormSpec, SealTruth, generate, iou, page_mask};
use sealdesk_artwork::{ExtractOptions, Impression, RenderRequest, extract, render};

/// The seed of the quality set: form k uses `QUALITY_SEED + k`. Changing it changes the set; the
/// figures in docs/benchmarks.md are for this one.
const QUALITY_SEED: u64 = 0x5EA1_D000;
const FORMS: u64 = 50;

/// Scores forms `range` of the set: (mean IoU, worst IoU, forms with a wrong count).
fn score(range: std::ops::Range<u64>) -> (f64, f64, Vec<u64>) {
    let (mut sum, mut worst, mut wrong) = (0.0, 1.0f64, Vec::new());
    for k in range.clone() {
        let form = generate(QUALITY_SEED + k, FormSpec::HALF_A4_300);
        let (w, h, mask, found) = page_mask(&form.jpeg).unwrap_or_else(|e| panic!("form {k}: {e}"));
        assert_eq!((w, h), (form.width, form.height));
        let s = iou(&mask, &form.truth);
        println!(
            "form {k}: IoU {s:.4}, {found} of {} impressions, JPEG q{}",
            form.seals.len(),
            form.quality
        );
        sum += s;
        worst = worst.min(s);
        if found != form.seals.len() {
            wrong.push(k);
        }
    }
    (sum / (range.end - range.start) as f64, worst, wrong)
}

fn check_half(range: std::ops::Range<u64>) {
    let (mean, worst, wrong) = score(range.clone());
    println!("forms {range:?}: mean IoU {mean:.4}, worst {worst:.4}, wrong counts {wrong:?}");
    assert!(mean >= 0.95, "mean IoU {mean:.4} below 0.95");
    assert!(worst >= 0.90, "worst IoU {worst:.4} below 0.90");
    assert!(
        wrong.is_empty(),
        "wrong impression count on forms {wrong:?}"
    );
}

// The 50 forms are split in two so the test harness scores them on two threads; each half must
// meet the bar, hence the whole set does.
#[test]
fn quality_set_first_half() {
    // Every character the generator draws is in the embedded font (a missing one would be
    // silently skipped, and the forms would be easier than they look).
    assert!(sealdesk_artwork::testkit::font_covers_generator_text());
    check_half(0..FORMS / 2);
}

#[test]
fn quality_set_second_half() {
    check_half(FORMS / 2..FORMS);
}

/// The checked-in sample forms (made by `examples/make_forms.rs write`): same bar.
#[test]
fn sample_forms_meet_the_bar() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/forms");
    let mut scores = Vec::new();
    for k in 0.. {
        let Ok(jpeg) = std::fs::read(dir.join(format!("form-{k}.jpg"))) else {
            break;
        };
        let truth_img = image::open(dir.join(format!("form-{k}.truth.png")))
            .expect("truth mask")
            .into_luma8();
        let truth: Vec<u8> = truth_img.pixels().map(|p| u8::from(p[0] >= 128)).collect();
        let meta = std::fs::read_to_string(dir.join(format!("form-{k}.txt"))).expect("truth text");
        let expected: usize = meta
            .lines()
            .find_map(|l| l.strip_prefix("impressions "))
            .and_then(|n| n.parse().ok())
            .expect("count line");
        let (_, _, mask, found) = page_mask(&jpeg).expect("extracts");
        assert_eq!(found, expected, "sample form {k}");
        let s = iou(&mask, &truth);
        println!("sample form {k}: IoU {s:.4}");
        assert!(s >= 0.90, "sample form {k}: IoU {s:.4}");
        scores.push(s);
        // The public entry point agrees on the count.
        assert_eq!(
            extract(&jpeg, &ExtractOptions::default())
                .expect("extracts")
                .len(),
            expected
        );
    }
    assert!(scores.len() >= 3, "sample forms missing");
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    assert!(mean >= 0.95, "sample mean IoU {mean:.4}");
}

/// The impression whose page box holds the seal's centre.
fn at_seal<'a>(found: &'a [Impression], seal: &SealTruth) -> &'a Impression {
    let (x, y) = (seal.centre.0 as u32, seal.centre.1 as u32);
    found
        .iter()
        .find(|i| (i.x..i.x + i.width).contains(&x) && (i.y..i.y + i.height).contains(&y))
        .expect("an impression at each seal")
}

/// End to end through the public API: each extracted picture, de-skewed and scaled to the seal's
/// true size, lines up with the same seal drawn straight by `render`.
#[test]
fn extracted_pictures_line_up_with_the_drawn_seal() {
    let mut checked = 0;
    for k in 0..4u64 {
        let form = generate(QUALITY_SEED + 1000 + k, FormSpec::HALF_A4_300);
        for seal in &form.seals {
            // With no size given, the size comes from the scan's recorded resolution.
            let measured = extract(&form.jpeg, &ExtractOptions::default()).expect("extracts");
            let m = at_seal(&measured, seal);
            assert!(
                (m.width_mm - seal.size_mm.0).abs() < 1.0
                    && (m.height_mm - seal.size_mm.1).abs() < 1.0,
                "{:?}: measured {}x{} mm, drawn {:?}",
                seal.style,
                m.width_mm,
                m.height_mm,
                seal.size_mm
            );
            let opts = ExtractOptions {
                size_mm: Some(seal.size_mm),
                dpi: 300,
                ..ExtractOptions::default()
            };
            let found = extract(&form.jpeg, &opts).expect("extracts");
            let imp = at_seal(&found, seal);
            let got = image::load_from_memory(&imp.png).expect("PNG").into_rgba8();
            let want = image::load_from_memory(
                &render(&RenderRequest {
                    dpi: 300,
                    ..seal.request.clone()
                })
                .expect("renders"),
            )
            .expect("PNG")
            .into_rgba8();
            assert_eq!(got.dimensions(), want.dimensions());
            if let Ok(dir) = std::env::var("ARTWORK_DUMP") {
                got.save(format!("{dir}/got-{k}-{:?}.png", seal.style))
                    .expect("dump");
                want.save(format!("{dir}/want-{k}-{:?}.png", seal.style))
                    .expect("dump");
            }
            let a: Vec<u8> = got.pixels().map(|p| u8::from(p[3] >= 128)).collect();
            let b: Vec<u8> = want.pixels().map(|p| u8::from(p[3] >= 128)).collect();
            let s = iou(&a, &b);
            println!(
                "form {k} {:?}: picture IoU against the drawing {s:.4}",
                seal.style
            );
            // Two resamplings (stamp on the scan, picture off it) and the residual de-skew error
            // cost thin strokes up to a pixel of edge, hence a lower bar than on the page.
            assert!(s >= 0.8, "{:?} picture IoU {s:.4}", seal.style);
            checked += 1;
        }
    }
    assert!(checked >= 4);
}

/// Blue seals (registered-constructor seals are dark blue) on a page without red: found, with
/// the right count and a good mask, and painted blue.
#[test]
fn blue_seals_are_found_when_there_is_no_red() {
    let mut sum = 0.0;
    let n = 6;
    for k in 0..n {
        let form = sealdesk_artwork::testkit::generate_blue(
            QUALITY_SEED + 2000 + k,
            FormSpec::HALF_A4_300,
        );
        let (_, _, mask, found) =
            page_mask(&form.jpeg).unwrap_or_else(|e| panic!("blue form {k}: {e}"));
        let s = iou(&mask, &form.truth);
        println!("blue form {k}: IoU {s:.4}, {found} of {}", form.seals.len());
        assert_eq!(found, form.seals.len(), "blue form {k}");
        assert!(s >= 0.9, "blue form {k}: IoU {s:.4}");
        sum += s;
        let pictures = extract(&form.jpeg, &ExtractOptions::default()).expect("extracts");
        let img = image::load_from_memory(&pictures[0].png)
            .expect("PNG")
            .into_rgba8();
        let ink = img.pixels().find(|p| p[3] == 255).expect("ink");
        assert!(ink[2] > ink[0], "painted blue, got {ink:?}");
    }
    assert!(sum / n as f64 >= 0.95);
}

/// De-skew: the measured skew of every impression on ten forms is within half a degree of the
/// truth (page rotation plus the stamp's own), whatever the style.
#[test]
fn skew_is_measured_to_half_a_degree() {
    let mut worst = 0.0f32;
    for k in 0..10 {
        let form = generate(QUALITY_SEED + 3000 + k, FormSpec::HALF_A4_300);
        let found = extract(&form.jpeg, &ExtractOptions::default()).expect("extracts");
        let skews = sealdesk_artwork::testkit::skews(&form.jpeg).expect("extracts");
        assert_eq!(found.len(), skews.len());
        for seal in &form.seals {
            let imp = at_seal(&found, seal);
            let k = found
                .iter()
                .position(|f| std::ptr::eq(f, imp))
                .expect("same list");
            let err = (skews[k] - seal.angle_deg).abs();
            assert!(
                err < 0.5,
                "{:?}: measured {:.2}°, true {:.2}°",
                seal.style,
                skews[k],
                seal.angle_deg
            );
            worst = worst.max(err);
        }
    }
    println!("worst skew error {worst:.2}°");
}

/// The A4 150-dpi forms other crates' tests upload (app flow, web pages and API, the smoke run):
/// every seal is still found, so their flows see the impressions they expect.
#[test]
fn forms_used_by_other_crates_still_extract() {
    for seed in [0x5ea1, 0x5ea2, 11, 7, 0x5ea1_d35c] {
        let form = generate(seed, FormSpec::A4_150);
        let found = extract(&form.jpeg, &ExtractOptions::default()).expect("extracts");
        assert_eq!(found.len(), form.seals.len(), "seed {seed:#x}");
    }
}
