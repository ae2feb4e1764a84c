//! Writes sample forms with their truth, or evaluates the extractor on a generated set.
//!
//! `cargo run --release -p sealdesk-artwork --features testkit --example make_forms -- write DIR`
//! writes the checked-in sample forms (`tests/forms/`): `form-N.jpg`, `form-N.truth.png` (the ink
//! mask) and `form-N.txt` (seal count, styles, angles).
//! `… -- eval N DPI HEIGHT_MM [SEED]` prints the IoU and count of N generated forms.
//! `… -- angles N` prints the de-skew error per style over the first N forms of the quality set.
//! `… -- boxes SEED` prints one form's truth and what the extractor found (`BLUE=1`: blue seals).

use std::time::Instant;

use sealdesk_artwork::testkit::{FormSpec, generate, iou, page_mask, skews};

/// Seeds of the checked-in sample forms.
const SAMPLE_SEEDS: [u64; 4] = [0x5EA1_0001, 0x5EA1_0002, 0x5EA1_0003, 0x5EA1_0004];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") => {
            let dir = std::path::PathBuf::from(args.get(1).ok_or("write DIR")?);
            std::fs::create_dir_all(&dir)?;
            for (k, seed) in SAMPLE_SEEDS.iter().enumerate() {
                let form = generate(*seed, FormSpec::HALF_A4_300);
                std::fs::write(dir.join(format!("form-{k}.jpg")), &form.jpeg)?;
                let truth: Vec<u8> = form.truth.iter().map(|&v| v * 255).collect();
                image::save_buffer(
                    dir.join(format!("form-{k}.truth.png")),
                    &truth,
                    form.width,
                    form.height,
                    image::ExtendedColorType::L8,
                )?;
                let mut txt = format!("seed {seed:#x}\nimpressions {}\n", form.seals.len());
                for s in &form.seals {
                    txt += &format!(
                        "{:?} centre {:.0},{:.0} angle {:.2} size {:?}\n",
                        s.style, s.centre.0, s.centre.1, s.angle_deg, s.size_mm
                    );
                }
                std::fs::write(dir.join(format!("form-{k}.txt")), txt)?;
            }
        }
        Some("eval") => {
            let n: u64 = args.get(1).map_or(Ok(10), |s| s.parse())?;
            let dpi: f32 = args.get(2).map_or(Ok(300.0), |s| s.parse())?;
            let height_mm: f32 = args.get(3).map_or(Ok(148.0), |s| s.parse())?;
            let base: u64 = args.get(4).map_or(Ok(0x5EA1_D000), |s| s.parse())?;
            let spec = FormSpec {
                width_mm: 210.0,
                height_mm,
                dpi,
            };
            let (mut sum, mut worst, mut miss) = (0.0, 1.0f64, 0);
            for i in 0..n {
                let t = Instant::now();
                let form = if std::env::var_os("BLUE").is_some() {
                    sealdesk_artwork::testkit::generate_blue(base + i, spec)
                } else {
                    generate(base + i, spec)
                };
                let gen_ms = t.elapsed().as_millis();
                let t = Instant::now();
                let (score, found) = match page_mask(&form.jpeg) {
                    Ok((_, _, mask, found)) => {
                        let fp = mask
                            .iter()
                            .zip(&form.truth)
                            .filter(|(m, t)| **m == 1 && **t == 0)
                            .count();
                        let fneg = mask
                            .iter()
                            .zip(&form.truth)
                            .filter(|(m, t)| **m == 0 && **t == 1)
                            .count();
                        let tp = mask
                            .iter()
                            .zip(&form.truth)
                            .filter(|(m, t)| **m == 1 && **t == 1)
                            .count();
                        print!("tp {tp} fp {fp} fn {fneg} ");
                        if let Ok(dir) = std::env::var("DUMP") {
                            let vis: Vec<u8> = mask
                                .iter()
                                .zip(&form.truth)
                                .flat_map(|(m, t)| match (m, t) {
                                    (1, 1) => [200, 200, 200],
                                    (1, 0) => [255, 0, 0],
                                    (0, 1) => [0, 0, 255],
                                    _ => [255, 255, 255],
                                })
                                .collect();
                            image::save_buffer(
                                format!("{dir}/err-{i}.png"),
                                &vis,
                                form.width,
                                form.height,
                                image::ExtendedColorType::Rgb8,
                            )?;
                            std::fs::write(format!("{dir}/form-{i}.jpg"), &form.jpeg)?;
                        }
                        (iou(&mask, &form.truth), found)
                    }
                    Err(e) => {
                        println!("form {i}: {e}");
                        (0.0, 0)
                    }
                };
                let ms = t.elapsed().as_millis();
                let angles: Vec<String> = form
                    .seals
                    .iter()
                    .map(|s| format!("{:.2}", s.angle_deg))
                    .collect();
                let got: Vec<String> = skews(&form.jpeg)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| format!("{a:.2}"))
                    .collect();
                println!(
                    "form {i}: iou {score:.4} seals {} found {found} q{} gen {gen_ms} ms extract {ms} ms angles {angles:?} measured {got:?} {:?}",
                    form.seals.len(),
                    form.quality,
                    form.seals.iter().map(|s| s.style).collect::<Vec<_>>()
                );
                sum += score;
                worst = worst.min(score);
                miss += usize::from(found != form.seals.len());
            }
            println!(
                "mean {:.4} worst {:.4} count errors {miss}/{n}",
                sum / n as f64,
                worst
            );
        }
        Some("boxes") => {
            let seed: u64 = args.get(1).ok_or("boxes SEED")?.parse()?;
            let form = if std::env::var_os("BLUE").is_some() {
                sealdesk_artwork::testkit::generate_blue(seed, FormSpec::HALF_A4_300)
            } else {
                generate(seed, FormSpec::HALF_A4_300)
            };
            for s in &form.seals {
                println!(
                    "truth {:?} centre {:?} size {:?} angle {:.2}",
                    s.style, s.centre, s.size_mm, s.angle_deg
                );
            }
            for i in
                sealdesk_artwork::extract(&form.jpeg, &sealdesk_artwork::ExtractOptions::default())?
            {
                println!(
                    "found x {} y {} w {} h {} mm {:.1}x{:.1}",
                    i.x, i.y, i.width, i.height, i.width_mm, i.height_mm
                );
            }
            println!("skews {:?}", skews(&form.jpeg)?);
            // Beside the other outputs of this example: the working directory, not a path of one machine.
            std::fs::write("boxes.jpg", &form.jpeg)?;
            println!("wrote boxes.jpg");
        }
        Some("angles") => {
            // De-skew accuracy: measured skew against the truth, per seal, matched by position.
            let n: u64 = args.get(1).map_or(Ok(50), |s| s.parse())?;
            let mut errs: Vec<(f32, String)> = Vec::new();
            for i in 0..n {
                let form = generate(0x5EA1_D000 + i, FormSpec::HALF_A4_300);
                let found = sealdesk_artwork::extract(
                    &form.jpeg,
                    &sealdesk_artwork::ExtractOptions::default(),
                )?;
                let measured = skews(&form.jpeg)?;
                for s in &form.seals {
                    let (x, y) = (s.centre.0 as u32, s.centre.1 as u32);
                    if let Some(k) = found.iter().position(|f| {
                        (f.x..f.x + f.width).contains(&x) && (f.y..f.y + f.height).contains(&y)
                    }) {
                        errs.push(((measured[k] - s.angle_deg).abs(), format!("{:?}", s.style)));
                    }
                }
            }
            for style in ["Round", "Oval", "Square", "Frame"] {
                let mut e: Vec<f32> = errs
                    .iter()
                    .filter(|(_, s)| s == style)
                    .map(|(e, _)| *e)
                    .collect();
                e.sort_by(f32::total_cmp);
                let mean = e.iter().sum::<f32>() / e.len().max(1) as f32;
                println!(
                    "{style}: {} seals, mean |error| {mean:.2}°, median {:.2}°, max {:.2}°",
                    e.len(),
                    e.get(e.len() / 2).copied().unwrap_or(0.0),
                    e.last().copied().unwrap_or(0.0)
                );
            }
        }
        _ => {
            return Err(
                "usage: make_forms write DIR | eval N DPI HEIGHT_MM [SEED] | angles N | boxes SEED"
                    .into(),
            );
        }
    }
    Ok(())
}
