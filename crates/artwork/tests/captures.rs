//! The independent capture set of issue 15: its whole 300-dpi row and a smaller sample of the
//! rest (the full set is `benches/captures.rs`): forms printed through poppler's `pdftoppm` with textured ink, scanned
//! at 300/200/150 dpi or photographed in simulation (12 MP, perspective up to 20°, barrel
//! distortion, light gradient, shadow band, motion blur, JPEG 60-90), red, blue and purple ink,
//! fresh and faded, clear or crossed by a signature or print. The expected ink colour is given,
//! as the platform gives it. Needs Debian `poppler-utils` (scripts/test.sh installs it).
//!
//! The goals are mean IoU ≥ 0.95 and worst ≥ 0.90 at 300 dpi and on photos, ≥ 0.92 at
//! 150 dpi (docs/benchmarks.md has the full set). The 300-dpi test asserts them. **Photos and
//! 150 dpi do not meet them**: their bars are regression floors a little under what the extractor
//! reaches today, so that a change that makes it worse fails. Every stamp must be found. Raise
//! the floors as the extractor improves.

use sealdesk_artwork::testkit::capture::{self, Capture, Condition, Crossing, InkKind};
use sealdesk_artwork::testkit::{iou, page_mask_with};
use sealdesk_artwork::{ExtractOptions, SealInk};

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
    // Every ink and crossing: the bench's whole 300-dpi row, as the goal is for all of them.
    let all: Vec<_> = InkKind::ALL
        .into_iter()
        .flat_map(|ink| Crossing::ALL.map(|c| (Capture::Scan(300), ink, c)))
        .collect();
    let v = run(&all);
    let (mean, worst) = summary("300 dpi", &v);
    // The goal: about 0.959 / 0.920 today (the worst, a faded blue seal under a black pen).
    assert!(mean >= 0.95, "mean {mean:.4}");
    assert!(worst >= 0.90, "worst {worst:.4}");
}

#[test]
fn phone_photos() {
    let v = run(&[
        (Capture::Photo, InkKind::RedFaded, Crossing::Print),
        (Capture::Photo, InkKind::Blue, Crossing::None),
        (Capture::Photo, InkKind::Red, Crossing::Signature),
        (Capture::Photo, InkKind::BlueFaded, Crossing::Signature),
    ]);
    let (mean, worst) = summary("photos", &v);
    // Goal 0.95 / 0.90, not met: these four reach about 0.924 / 0.873 (the last is the full
    // set's worst photo). Motion blur fills the dry gaps of a faded pad.
    assert!(mean >= 0.92, "mean {mean:.4}");
    assert!(worst >= 0.865, "worst {worst:.4}");
}

#[test]
fn scans_at_150_dpi() {
    let v = run(&[
        (Capture::Scan(150), InkKind::Red, Crossing::Signature),
        (Capture::Scan(150), InkKind::Blue, Crossing::Print),
        (Capture::Scan(150), InkKind::Purple, Crossing::None),
        (Capture::Scan(150), InkKind::RedFaded, Crossing::Print),
        (Capture::Scan(150), InkKind::BlueFaded, Crossing::None),
        (
            Capture::Scan(150),
            InkKind::PurpleFaded,
            Crossing::Signature,
        ),
    ]);
    let (mean, _) = summary("150 dpi", &v);
    // Goal 0.92, not met: these six reach about 0.909 (fresh ink 0.95-0.97, a faded pad's dry
    // speckle 0.84-0.88 at 6 px per mm).
    assert!(mean >= 0.90, "mean {mean:.4}");
}

#[test]
fn scans_at_200_dpi() {
    let v = run(&[(Capture::Scan(200), InkKind::BlueFaded, Crossing::Signature)]);
    let (mean, _) = summary("200 dpi", &v);
    // No goal at 200 dpi; about 0.942 today.
    assert!(mean >= 0.93, "mean {mean:.4}");
}
