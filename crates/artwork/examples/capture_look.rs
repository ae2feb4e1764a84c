//! Writes captures of the independent set with their truth and the extractor's mask, for looking
//! at: `cargo run -p sealdesk-artwork --features testkit --example capture_look -- DIR FILTER [REPEATS]`.
//! Each capture gives `cC-K.jpg` and `cC-K.diff.png` (green: found and true; red: missed; blue:
//! found but not true), and prints its IoU.

use sealdesk_artwork::testkit::capture::{self, InkKind};
use sealdesk_artwork::testkit::{iou, page_mask_with};
use sealdesk_artwork::{ExtractOptions, SealInk};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().expect("DIR"));
    let filter = args.get(1).cloned().unwrap_or_default();
    let repeats: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    std::fs::create_dir_all(&dir).expect("dir");
    for (c, cond) in capture::conditions().into_iter().enumerate() {
        let name = format!(
            "{} / {} / {}",
            cond.capture.label(),
            cond.ink.label(),
            cond.crossing.label()
        );
        if !name.contains(filter.as_str()) {
            continue;
        }
        for k in 0..repeats {
            let plan = capture::plan(0x5EA1_CA00 + 1000 * c as u64 + k, cond);
            let layers = capture::rasterise(&plan).expect("pdftoppm");
            let shot = capture::shoot(&plan, &layers);
            let opts = ExtractOptions {
                ink: Some(match cond.ink {
                    InkKind::Red | InkKind::RedFaded => SealInk::Red,
                    InkKind::Blue | InkKind::BlueFaded => SealInk::Blue,
                    _ => SealInk::Purple,
                }),
                ..ExtractOptions::default()
            };
            std::fs::write(dir.join(format!("c{c}-{k}.jpg")), &shot.jpeg).expect("write");
            match page_mask_with(&shot.jpeg, &opts) {
                Ok((w, h, mask, found)) => {
                    let s = iou(&mask, &shot.truth);
                    let fp = mask
                        .iter()
                        .zip(&shot.truth)
                        .filter(|(m, t)| **m == 1 && **t == 0)
                        .count();
                    let fneg = mask
                        .iter()
                        .zip(&shot.truth)
                        .filter(|(m, t)| **m == 0 && **t == 1)
                        .count();
                    let tp = mask
                        .iter()
                        .zip(&shot.truth)
                        .filter(|(m, t)| **m == 1 && **t == 1)
                        .count();
                    println!(
                        "c{c}-{k} {name}: IoU {s:.4} found {found}/{} tp {tp} fp {fp} fn {fneg}",
                        shot.stamps
                    );
                    let mut img = image::RgbImage::new(w, h);
                    for (i, p) in img.pixels_mut().enumerate() {
                        *p = image::Rgb(match (mask[i], shot.truth[i]) {
                            (1, 1) => [0, 160, 0],
                            (0, 1) => [255, 0, 0],
                            (1, 0) => [0, 0, 255],
                            _ => [255, 255, 255],
                        });
                    }
                    img.save(dir.join(format!("c{c}-{k}.diff.png")))
                        .expect("save");
                }
                Err(e) => println!("c{c}-{k} {name}: {e}"),
            }
        }
    }
}
