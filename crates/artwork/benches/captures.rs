//! The independent capture set of issue 15: forms printed through poppler (`pdftoppm`) with
//! textured ink, scanned at 300, 200 and 150 dpi or photographed in simulation (12 MP,
//! perspective up to 20°, barrel distortion, light gradient, shadow band, motion blur, JPEG
//! 60-90), for every ink (red, blue, purple; fresh and faded) and crossing (clear, ballpoint
//! signature, printed text). Prints IoU by condition beside ImageMagick's colour-key pipeline
//! (`benches/imagemagick.sh`, given the true ink colour) and time per capture (wall, and the
//! thread's own CPU time, which a machine shared with builds does not inflate), all in one run.
//!
//! `cargo bench -p sealdesk-artwork --bench captures [-- REPEATS] [--only TEXT] [--dump DIR] [--no-im]`
//!
//! Then the overlap forms (two stamps pressed over each other in one box; `--only overlap` for
//! them alone): how many were separated, and each separated stamp's IoU outside the other.
//!
//! REPEATS (default 2) forms per condition, each with its own seed. Both sides on one core.
//! Needs Debian `poppler-utils`; ImageMagick (`imagemagick`) is optional.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;
use support::imagemagick_mask;

use sealdesk_artwork::testkit::capture::{self, Condition, InkKind};
use sealdesk_artwork::testkit::{iou, page_mask_with};
use sealdesk_artwork::{ExtractOptions, SealInk, Warning, extract};

/// Seed of the capture set (capture k of condition c uses `CAPTURE_SEED + 1000 c + k`).
const CAPTURE_SEED: u64 = 0x5EA1_CA00;
const REPEATS: usize = 3;

#[derive(Default)]
struct Row {
    ours: Vec<f64>,
    guessed: Vec<f64>,
    im: Vec<f64>,
    ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    wrong_count: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2);
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let only = opt("--only");
    let dump = opt("--dump");
    let dir = std::env::temp_dir().join(format!("sealdesk-captures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/imagemagick.sh");
    let have_im = !args.iter().any(|a| a == "--no-im")
        && Path::new(&std::env::var("CONVERT").unwrap_or("/usr/bin/convert-im6.q16".into()))
            .exists();

    let mut rows: BTreeMap<(String, &str, &str), Row> = BTreeMap::new();
    // Photos: page location alone, and the whole extract with and without it, ms.
    let (mut locate_ms, mut before_ms, mut after_ms, mut located) = (vec![], vec![], vec![], 0);
    for (c, cond) in capture::conditions().into_iter().enumerate() {
        let key = (
            cond.capture.label(),
            cond.ink.label(),
            cond.crossing.label(),
        );
        let name = format!("{} / {} / {}", key.0, key.1, key.2);
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        for k in 0..repeats {
            let seed = CAPTURE_SEED + 1000 * c as u64 + k as u64;
            let plan = capture::plan(seed, cond);
            let layers =
                capture::rasterise(&plan).expect("pdftoppm (apt-get install poppler-utils)");
            let shot = capture::shoot(&plan, &layers);
            let opts = given(&cond);
            let mut cpu: Vec<u64> = Vec::with_capacity(REPEATS);
            let mut times: Vec<Duration> = (0..REPEATS)
                .map(|_| {
                    let c = thread_cpu_ns();
                    let t = Instant::now();
                    let _ = extract(&shot.jpeg, &opts);
                    let wall = t.elapsed();
                    cpu.push(thread_cpu_ns().saturating_sub(c));
                    wall
                })
                .collect();
            times.sort();
            cpu.sort();
            let (ours, found) = score(&shot, &opts);
            let (guessed, _) = score(&shot, &ExtractOptions::default());
            let row = rows.entry(key.clone()).or_default();
            row.ours.push(ours);
            row.guessed.push(guessed);
            row.ms.push(times[REPEATS / 2].as_secs_f64() * 1000.0);
            row.cpu_ms.push(cpu[REPEATS / 2] as f64 / 1e6);
            if found != shot.stamps {
                row.wrong_count += 1;
            }
            let path = dir.join(format!("c{c}-{k}.jpg"));
            std::fs::write(&path, &shot.jpeg).expect("write capture");
            if let Some(d) = &dump {
                std::fs::create_dir_all(d).expect("dump dir");
                std::fs::write(Path::new(d).join(format!("c{c}-{k}.jpg")), &shot.jpeg)
                    .expect("dump");
                let t: Vec<u8> = shot.truth.iter().map(|&v| v * 255).collect();
                image::save_buffer(
                    Path::new(d).join(format!("c{c}-{k}.truth.png")),
                    &t,
                    shot.width,
                    shot.height,
                    image::ColorType::L8,
                )
                .expect("dump truth");
            }
            let mut im_line = String::new();
            if have_im {
                let out = dir.join(format!("c{c}-{k}.im.png"));
                let [r, g, b] = cond.ink.rgb();
                // The best of two fuzz settings, with the true ink colour: ImageMagick's best case.
                let best = ["25%", "35%"]
                    .iter()
                    .map(|fuzz| {
                        let ok = Command::new(&script)
                            .arg(&path)
                            .arg(&out)
                            .env("IM_RED", format!("rgb({r},{g},{b})"))
                            .env("IM_FUZZ_RED", fuzz)
                            .status()
                            .is_ok_and(|s| s.success());
                        if ok {
                            iou(
                                &imagemagick_mask(&out, shot.width, shot.height),
                                &shot.truth,
                            )
                        } else {
                            0.0
                        }
                    })
                    .fold(0.0f64, f64::max);
                row.im.push(best);
                im_line = format!(", ImageMagick IoU {best:.4}");
            }
            eprintln!(
                "{name} #{k}: IoU {ours:.4} (colour guessed {guessed:.4}), {found}/{} stamps, {:.0} ms ({:.0} ms CPU), q{}{im_line}",
                shot.stamps,
                times[REPEATS / 2].as_secs_f64() * 1000.0,
                cpu[REPEATS / 2] as f64 / 1e6,
                shot.quality
            );
            if cond.capture == capture::Capture::Photo {
                // Medians of wall-clock and of this thread's CPU time (the machine may be busy).
                let median = |f: &dyn Fn() -> (Duration, Option<Duration>)| {
                    let mut t: Vec<(Duration, Option<Duration>)> =
                        (0..REPEATS).map(|_| f()).collect();
                    let mid = |v: &mut Vec<f64>| {
                        v.sort_by(f64::total_cmp);
                        v[v.len() / 2]
                    };
                    let mut wall: Vec<f64> = t.iter().map(|p| p.0.as_secs_f64() * 1000.0).collect();
                    let mut cpu: Vec<f64> = t
                        .iter_mut()
                        .filter_map(|p| p.1)
                        .map(|d| d.as_secs_f64() * 1000.0)
                        .collect();
                    (
                        mid(&mut wall),
                        if cpu.is_empty() {
                            f64::NAN
                        } else {
                            mid(&mut cpu)
                        },
                    )
                };
                let page = capture::located_page(&shot.jpeg).expect("decodes").0;
                let loc = median(&|| {
                    capture::located_page(&shot.jpeg).map_or((Duration::ZERO, None), |r| (r.1, r.2))
                });
                let run = |f: &dyn Fn()| {
                    let (t, c) = (Instant::now(), capture::thread_cpu());
                    f();
                    (
                        t.elapsed(),
                        capture::thread_cpu()
                            .zip(c)
                            .map(|(b, a)| b.saturating_sub(a)),
                    )
                };
                let before =
                    median(&|| run(&|| drop(capture::extract_in_frame(&shot.jpeg, &opts))));
                let after = median(&|| run(&|| drop(extract(&shot.jpeg, &opts))));
                located += usize::from(page.is_some());
                eprintln!(
                    "{name} #{k}: page {} in {:.1} ms (CPU {:.1}); extract {:.0} ms (CPU {:.0}), {:.0} ms (CPU {:.0}) without page location",
                    if page.is_some() {
                        "located"
                    } else {
                        "not found"
                    },
                    loc.0,
                    loc.1,
                    after.0,
                    after.1,
                    before.0,
                    before.1
                );
                locate_ms.push(loc);
                before_ms.push(before);
                after_ms.push(after);
            }
        }
    }
    println!(
        "| capture | ink | crossing | forms | IoU mean | IoU worst | colour guessed: mean | ImageMagick mean | IM worst | right count | ms median |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let worst = |v: &[f64]| v.iter().copied().fold(1.0f64, f64::min);
    let median = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).copied().unwrap_or(0.0)
    };
    let mut by_capture: BTreeMap<String, Row> = BTreeMap::new();
    for ((cap, ink, cross), r) in &rows {
        let im = if r.im.is_empty() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            (
                format!("{:.4}", mean(&r.im)),
                format!("{:.4}", worst(&r.im)),
            )
        };
        println!(
            "| {cap} | {ink} | {cross} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {}/{} | {:.0} |",
            r.ours.len(),
            mean(&r.ours),
            worst(&r.ours),
            mean(&r.guessed),
            im.0,
            im.1,
            r.ours.len() - r.wrong_count,
            r.ours.len(),
            median(&r.ms)
        );
        let all = by_capture.entry(cap.clone()).or_default();
        all.ours.extend(&r.ours);
        all.guessed.extend(&r.guessed);
        all.im.extend(&r.im);
        all.ms.extend(&r.ms);
        all.cpu_ms.extend(&r.cpu_ms);
        all.wrong_count += r.wrong_count;
    }
    println!();
    println!(
        "| capture | forms | IoU mean | IoU worst | colour guessed: mean | ImageMagick mean | IM worst | right count | ms median | ms worst | CPU ms median | CPU ms worst |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (cap, r) in &by_capture {
        // Without ImageMagick (`--no-im`) there is nothing to average.
        let (im_mean, im_worst) = if r.im.is_empty() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            (
                format!("{:.4}", mean(&r.im)),
                format!("{:.4}", worst(&r.im)),
            )
        };
        println!(
            "| {cap} | {} | {:.4} | {:.4} | {:.4} | {im_mean} | {im_worst} | {}/{} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.ours.len(),
            mean(&r.ours),
            worst(&r.ours),
            mean(&r.guessed),
            r.ours.len() - r.wrong_count,
            r.ours.len(),
            median(&r.ms),
            r.ms.iter().copied().fold(0.0, f64::max),
            median(&r.cpu_ms),
            r.cpu_ms.iter().copied().fold(0.0, f64::max)
        );
    }
    if !locate_ms.is_empty() {
        let stats = |v: &[(f64, f64)], cpu: bool| {
            let v: Vec<f64> = v.iter().map(|p| if cpu { p.1 } else { p.0 }).collect();
            (median(&v), v.iter().copied().fold(0.0, f64::max))
        };
        println!();
        for (what, cpu) in [("wall-clock", false), ("CPU time of the thread", true)] {
            let (l, b, a) = (
                stats(&locate_ms, cpu),
                stats(&before_ms, cpu),
                stats(&after_ms, cpu),
            );
            println!(
                "photos, {what}: page located on {located} of {}; page location median {:.1} ms, worst {:.1} ms; extract median {:.0} ms (worst {:.0}) with page location, {:.0} ms (worst {:.0}) without",
                locate_ms.len(),
                l.0,
                l.1,
                a.0,
                a.1,
                b.0,
                b.1
            );
        }
    }
    overlaps(repeats, only.as_deref());
    std::fs::remove_dir_all(&dir).ok();
}

/// Forms with two stamps pressed over each other in one box (scans at 300 dpi and photos, red,
/// blue and purple ink), REPEATS each: how many were separated into two pictures marked
/// `OverlapShared`, how many came back as one picture marked `MaybeOverlapping`, and each
/// separated stamp's IoU against its own ink outside the other stamp.
fn overlaps(repeats: usize, only: Option<&str>) {
    println!();
    println!(
        "| overlap form | forms | both rims round/oval | separated | one marked picture | other | per-stamp IoU mean | worst | centre off mm, worst | size off, worst | ms median |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let caps = [capture::Capture::Scan(300), capture::Capture::Photo];
    let inks = [InkKind::Red, InkKind::Blue, InkKind::Purple];
    for (j, (cap, ink)) in caps
        .iter()
        .flat_map(|c| inks.iter().map(move |i| (*c, *i)))
        .enumerate()
    {
        let name = format!("overlap / {} / {}", cap.label(), ink.label());
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let cond = Condition {
            capture: cap,
            ink,
            crossing: capture::Crossing::None,
            overlap: true,
        };
        let (mut round, mut split, mut marked, mut other) = (0, 0, 0, 0);
        let (mut ious, mut centre, mut size, mut ms) = (Vec::new(), 0f64, 0f64, Vec::new());
        for k in 0..repeats {
            let plan = capture::plan(CAPTURE_SEED + 2_000_000 + 1000 * j as u64 + k as u64, cond);
            let layers = capture::rasterise(&plan).expect("pdftoppm");
            let (shot, outline) = capture::shoot_with_outlines(&plan, &layers);
            let opts = given(&cond);
            ms.push(median_ms(&shot.jpeg, &opts));
            let (found, scores) =
                capture::extract_and_score(&plan, &shot, &outline, &opts).unwrap_or_default();
            let elliptic = plan.outlines.iter().all(|o| o.elliptic);
            round += usize::from(elliptic);
            let shared =
                |i: &sealdesk_artwork::Impression| i.warnings.contains(&Warning::OverlapShared);
            let verdict = if found.len() == 2 && found.iter().all(shared) {
                split += 1;
                for s in &scores {
                    ious.push(s.iou);
                    centre = centre.max(s.centre_off_mm);
                    size = size.max(s.size_off);
                }
                format!("separated, {scores:?}")
            } else if found.len() == 1 && found[0].warnings.contains(&Warning::MaybeOverlapping) {
                marked += 1;
                "one marked picture".to_string()
            } else {
                other += 1;
                format!(
                    "{} pictures, {:?}",
                    found.len(),
                    found.iter().map(|i| i.warnings.clone()).collect::<Vec<_>>()
                )
            };
            eprintln!(
                "{name} #{k}: outlines {:?}, {verdict}, {:.0} ms",
                plan.outlines
                    .iter()
                    .map(|o| (o.size_mm, o.elliptic))
                    .collect::<Vec<_>>(),
                ms[k]
            );
        }
        // Nothing separated: no per-stamp figures.
        let figures = if ious.is_empty() {
            "n/a | n/a | n/a | n/a".to_string()
        } else {
            format!(
                "{:.4} | {:.4} | {centre:.2} | {:.1} %",
                ious.iter().sum::<f64>() / ious.len() as f64,
                ious.iter().copied().fold(1.0f64, f64::min),
                size * 100.0
            )
        };
        ms.sort_by(f64::total_cmp);
        println!(
            "| {} / {} | {repeats} | {round} | {split} | {marked} | {other} | {figures} | {:.0} |",
            cap.label(),
            ink.label(),
            ms.get(ms.len() / 2).copied().unwrap_or(0.0)
        );
    }
}

/// The median time of a whole `extract` over REPEATS runs, ms.
fn median_ms(jpeg: &[u8], opts: &ExtractOptions) -> f64 {
    let mut times: Vec<Duration> = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            let _ = extract(jpeg, opts);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[REPEATS / 2].as_secs_f64() * 1000.0
}

/// The options the platform passes: the colour the seal kind requires.
fn given(cond: &Condition) -> ExtractOptions {
    ExtractOptions {
        ink: Some(match cond.ink {
            InkKind::Red | InkKind::RedFaded => SealInk::Red,
            InkKind::Blue | InkKind::BlueFaded => SealInk::Blue,
            InkKind::Purple | InkKind::PurpleFaded => SealInk::Purple,
        }),
        ..ExtractOptions::default()
    }
}

/// IoU against the truth and the number of impressions (0 when extraction fails).
fn score(shot: &capture::Shot, opts: &ExtractOptions) -> (f64, usize) {
    match page_mask_with(&shot.jpeg, opts) {
        Ok((_, _, mask, found)) => (iou(&mask, &shot.truth), found),
        Err(_) => (0.0, 0),
    }
}

/// The thread's CPU time so far, ns (0 where the system does not tell).
fn thread_cpu_ns() -> u64 {
    capture::thread_cpu().map_or(0, |d| d.as_nanos() as u64)
}
