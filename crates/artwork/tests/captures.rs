//! The independent capture set of issue 15, a smaller sample (the full set is
//! `benches/captures.rs`): forms printed through poppler's `pdftoppm` with textured ink, scanned
//! at 300/200/150 dpi or photographed in simulation (12 MP, perspective up to 20°, barrel
//! distortion, light gradient, shadow band, motion blur, JPEG 60-90), red, blue and purple ink,
//! fresh and faded, clear or crossed by a signature or print. The expected ink colour is given,
//! as the platform gives it. Needs Debian `poppler-utils` (scripts/test.sh installs it).
//!
//! **The goals are not met on this set** (mean IoU ≥ 0.95 and worst ≥ 0.90 at 300 dpi and
//! on photos, ≥ 0.92 at 150 dpi; see docs/benchmarks.md for the full set), except the worst at
//! 300 dpi on this sample, which the test asserts. The other bars are regression floors a little
//! under what the extractor reaches today, so that a change that makes it worse fails; every stamp
//! must still be found. Raise them as the extractor improves.

use sealdesk_artwork::testkit::capture::{self, Capture, Condition, Crossing, InkKind};
use sealdesk_artwork::testkit::{iou, page_mask_with};
use sealdesk_artwork::{ExtractOptions, SealInk, Warning, extract};

/// Same seeds as the bench: capture k of condition c uses `CAPTURE_SEED + 1000 c + k`.
const CAPTURE_SEED: u64 = 0x5EA1_CA00;

fn colour(ink: InkKind) -> SealInk {
    match ink {
        InkKind::Red | InkKind::RedFaded => SealInk::Red,
        InkKind::Blue | InkKind::BlueFaded => SealInk::Blue,
        InkKind::Purple | InkKind::PurpleFaded => SealInk::Purple,
    }
}

/// The capture of condition `(capture, ink, crossing)` of the bench's set, repeat 0.
fn shot(cap: Capture, ink: InkKind, crossing: Crossing) -> (Condition, capture::Shot) {
    let (c, cond) = capture::conditions()
        .into_iter()
        .enumerate()
        .find(|(_, d)| d.capture == cap && d.ink == ink && d.crossing == crossing)
        .expect("condition in the set");
    let plan = capture::plan(CAPTURE_SEED + 1000 * c as u64, cond);
    let layers = capture::rasterise(&plan)
        .expect("pdftoppm (Debian poppler-utils) must be installed: run scripts/test.sh");
    (cond, capture::shoot(&plan, &layers))
}

fn score(cond: &Condition, shot: &capture::Shot) -> (f64, usize) {
    let opts = ExtractOptions {
        ink: Some(colour(cond.ink)),
        ..ExtractOptions::default()
    };
    let (_, _, mask, found) =
        page_mask_with(&shot.jpeg, &opts).unwrap_or_else(|e| panic!("{cond:?}: {e}"));
    (iou(&mask, &shot.truth), found)
}

/// Scores a list of conditions: every one must find both stamps; returns the IoUs.
fn run(list: &[(Capture, InkKind, Crossing)]) -> Vec<f64> {
    list.iter()
        .map(|&(cap, ink, crossing)| {
            let (cond, s) = shot(cap, ink, crossing);
            let (v, found) = score(&cond, &s);
            println!(
                "{} / {} / {}: IoU {v:.4}, {found} of {} stamps, q{}",
                cap.label(),
                ink.label(),
                crossing.label(),
                s.stamps,
                s.quality
            );
            assert_eq!(found, s.stamps, "{cond:?}: impression count");
            v
        })
        .collect()
}

fn summary(name: &str, v: &[f64]) -> (f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let worst = v.iter().copied().fold(1.0, f64::min);
    println!("{name}: mean {mean:.4}, worst {worst:.4} over {}", v.len());
    (mean, worst)
}

#[test]
fn scans_at_300_dpi() {
    let v = run(&[
        (Capture::Scan(300), InkKind::Red, Crossing::Signature),
        (Capture::Scan(300), InkKind::Blue, Crossing::Signature),
        (Capture::Scan(300), InkKind::PurpleFaded, Crossing::Print),
        (Capture::Scan(300), InkKind::RedFaded, Crossing::None),
    ]);
    let (mean, worst) = summary("300 dpi", &v);
    // Goal 0.95 / 0.90; today about 0.92 / 0.91 (a blue ballpoint over a blue seal was 0.83
    // before its strokes were told from the seal's ink, and is still the worst).
    assert!(mean >= 0.91, "mean {mean:.4}");
    assert!(worst >= 0.90, "worst {worst:.4}");
}

#[test]
fn phone_photos() {
    let v = run(&[
        (Capture::Photo, InkKind::RedFaded, Crossing::Print),
        (Capture::Photo, InkKind::Blue, Crossing::None),
        (Capture::Photo, InkKind::Red, Crossing::Signature),
    ]);
    let (mean, worst) = summary("photos", &v);
    // Goal 0.95 / 0.90; today about 0.91 / 0.89 (0.90 / 0.87 before the paper light was taken
    // per block).
    assert!(mean >= 0.90, "mean {mean:.4}");
    assert!(worst >= 0.88, "worst {worst:.4}");
}

#[test]
fn scans_at_200_and_150_dpi() {
    let v = run(&[
        (Capture::Scan(200), InkKind::BlueFaded, Crossing::Signature),
        (Capture::Scan(150), InkKind::Red, Crossing::Signature),
        (Capture::Scan(150), InkKind::Blue, Crossing::Print),
        (Capture::Scan(150), InkKind::Purple, Crossing::None),
    ]);
    let (mean, _) = summary("150-200 dpi", &v);
    // Goal 0.92 at 150 dpi; today about 0.90 over these.
    assert!(mean >= 0.89, "mean {mean:.4}");
}

/// Two stamps pressed over each other: not split, but reported.
#[test]
fn overlapping_stamps_are_reported() {
    let cond = Condition {
        capture: Capture::Scan(300),
        ink: InkKind::Red,
        crossing: Crossing::None,
        overlap: true,
    };
    let plan = capture::plan(CAPTURE_SEED + 999_000, cond);
    let layers = capture::rasterise(&plan).expect("pdftoppm");
    let s = capture::shoot(&plan, &layers);
    let found = extract(&s.jpeg, &ExtractOptions::default()).expect("extracts");
    assert_eq!(found.len(), 1, "the pair comes back as one picture");
    assert_eq!(found[0].warnings, vec![Warning::MaybeOverlapping]);
}
