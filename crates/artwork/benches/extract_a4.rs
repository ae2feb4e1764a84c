//! Extraction speed and quality on full A4 scans at 300 dpi (2480 × 3508 JPEG), against the same
//! job done by ImageMagick (`benches/imagemagick.sh`) on the same files in the same run.
//!
//! `cargo bench -p sealdesk-artwork --bench extract_a4 [-- FORMS]`
//!
//! Both sides run on one core: the extractor is single-threaded, ImageMagick is limited with
//! `MAGICK_THREAD_LIMIT=1`. Timings for the extractor are the median of `REPEATS` runs per form
//! (decode, find, de-skew, scale, PNG encode: the whole public `extract` call); ImageMagick's the
//! median of `IM_REPEATS` runs, wall clock, process start included (a few ms of its ~0.4 s). IoU is the ink
//! mask in page coordinates against the generator's truth. Prints a Markdown table.

use std::path::Path;

mod support;
use std::process::Command;
use std::time::{Duration, Instant};
use support::imagemagick_mask;

use sealdesk_artwork::testkit::{FormSpec, generate, iou, page_mask};
use sealdesk_artwork::{ExtractOptions, extract};

/// Seed of the benchmark forms (form k uses `BENCH_SEED + k`).
const BENCH_SEED: u64 = 0x5EA1_BE00;
const REPEATS: usize = 5;
const IM_REPEATS: usize = 3;

fn main() {
    let forms: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("sealdesk-artwork-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/imagemagick.sh");
    let have_im =
        Path::new(&std::env::var("CONVERT").unwrap_or("/usr/bin/convert-im6.q16".into())).exists();

    println!(
        "| form | seals | JPEG q | extract ms (median of {REPEATS}) | of which JPEG decode | IoU | ImageMagick ms (median of {IM_REPEATS}) | IM IoU | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut ours_all, mut im_all) = (Vec::new(), Vec::new());
    let (mut iou_ours, mut iou_im) = (Vec::new(), Vec::new());
    for k in 0..forms {
        let form = generate(BENCH_SEED + k, FormSpec::A4_300);
        assert_eq!((form.width, form.height), (2480, 3508));
        let path = dir.join(format!("form-{k}.jpg"));
        std::fs::write(&path, &form.jpeg).expect("write form");

        let mut times: Vec<Duration> = (0..REPEATS)
            .map(|_| {
                let t = Instant::now();
                let found = extract(&form.jpeg, &ExtractOptions::default()).expect("extracts");
                let d = t.elapsed();
                assert_eq!(found.len(), form.seals.len(), "form {k}: impression count");
                d
            })
            .collect();
        times.sort();
        let ours = times[REPEATS / 2];
        let mut decode: Vec<Duration> = (0..REPEATS)
            .map(|_| {
                let t = Instant::now();
                let img = image::load_from_memory_with_format(&form.jpeg, image::ImageFormat::Jpeg)
                    .expect("decodes");
                let d = t.elapsed();
                assert_eq!(img.width(), form.width);
                d
            })
            .collect();
        decode.sort();
        let decode = decode[REPEATS / 2];
        let (_, _, mask, _) = page_mask(&form.jpeg).expect("extracts");
        let ours_iou = iou(&mask, &form.truth);

        let (im_ms, im_iou) = if have_im {
            let out = dir.join(format!("form-{k}.im.png"));
            let mut runs: Vec<Duration> = (0..IM_REPEATS)
                .map(|_| {
                    let t = Instant::now();
                    let status = Command::new(&script)
                        .arg(&path)
                        .arg(&out)
                        .status()
                        .expect("runs ImageMagick");
                    let d = t.elapsed();
                    assert!(status.success(), "ImageMagick failed on form {k}");
                    d
                })
                .collect();
            runs.sort();
            let d = runs[IM_REPEATS / 2];
            let im_mask = imagemagick_mask(&out, form.width, form.height);
            im_all.push(d);
            iou_im.push(iou(&im_mask, &form.truth));
            (
                format!("{:.0}", ms(d)),
                format!("{:.4}", iou_im[iou_im.len() - 1]),
            )
        } else {
            ("n/a".into(), "n/a".into())
        };
        let ratio = im_all
            .last()
            .map_or("n/a".into(), |d| format!("{:.1}×", ms(*d) / ms(ours)));
        println!(
            "| {k} | {} | {} | {:.1} | {:.1} | {ours_iou:.4} | {im_ms} | {im_iou} | {ratio} |",
            form.seals.len(),
            form.quality,
            ms(ours),
            ms(decode)
        );
        ours_all.push(ours);
        iou_ours.push(ours_iou);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v.get(v.len() / 2).map_or(0.0, |d| ms(*d))
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let worst = |v: &[f64]| v.iter().copied().fold(1.0f64, f64::min);
    let (o, i) = (median(&mut ours_all), median(&mut im_all));
    println!();
    println!(
        "extractor: median {o:.1} ms per form, IoU mean {:.4} worst {:.4}",
        mean(&iou_ours),
        worst(&iou_ours)
    );
    if have_im {
        println!(
            "ImageMagick: median {i:.0} ms per form, IoU mean {:.4} worst {:.4}",
            mean(&iou_im),
            worst(&iou_im)
        );
        println!(
            "speed ratio (ImageMagick / extractor, medians): {:.1}×",
            i / o
        );
    } else {
        println!("ImageMagick not found (apt-get install imagemagick); comparison skipped");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
