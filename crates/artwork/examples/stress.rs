//! Throws odd synthetic pictures at extract (diagnostic, not committed): no panic allowed.
use image::{ImageEncoder, codecs::jpeg::JpegEncoder, codecs::png::PngEncoder};
fn main() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut n = 0;
    for round in 0..400 {
        let w = 16 + (rnd() % 900) as u32;
        let h = 16 + (rnd() % 900) as u32;
        let kind = rnd() % 6;
        let mut px = vec![0u8; (w * h * 3) as usize];
        // A bright quadrilateral on a dark ground, partly off-frame, with red blobs; or noise.
        let q: Vec<(f32, f32)> = (0..4)
            .map(|_| {
                (
                    (rnd() % (w as u64 * 2)) as f32 - w as f32 / 2.0,
                    (rnd() % (h as u64 * 2)) as f32 - h as f32 / 2.0,
                )
            })
            .collect();
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 3) as usize;
                let v = match kind {
                    0 => [
                        (rnd() % 256) as u8,
                        (rnd() % 256) as u8,
                        (rnd() % 256) as u8,
                    ],
                    1 => {
                        let inside = q.iter().zip(q.iter().cycle().skip(1)).all(|(a, b)| {
                            (b.0 - a.0) * (y as f32 - a.1) - (b.1 - a.1) * (x as f32 - a.0) >= 0.0
                        });
                        if inside {
                            [240, 238, 230]
                        } else {
                            [60, 55, 50]
                        }
                    }
                    2 => {
                        let d = ((x as f32 - w as f32 / 2.0).hypot(y as f32 - h as f32 / 2.0)
                            - w.min(h) as f32 / 3.0)
                            .abs();
                        if d < 3.0 {
                            [200, 30, 40]
                        } else {
                            [245, 245, 240]
                        }
                    }
                    3 => [((x * 255) / w) as u8, ((y * 255) / h) as u8, 128],
                    4 => {
                        if (x / 7 + y / 5) % 2 == 0 {
                            [20, 20, 20]
                        } else {
                            [250, 250, 250]
                        }
                    }
                    _ => {
                        let d = ((x as f32 - w as f32 / 3.0).hypot(y as f32 - h as f32 / 2.0)
                            - w.min(h) as f32 / 4.0)
                            .abs();
                        let d2 = ((x as f32 - w as f32 * 0.55).hypot(y as f32 - h as f32 / 2.0)
                            - w.min(h) as f32 / 4.0)
                            .abs();
                        if d < 2.5 || d2 < 2.5 {
                            [50, 60, 180]
                        } else {
                            [60, 55, 50]
                        }
                    }
                };
                px[i..i + 3].copy_from_slice(&v);
            }
        }
        let mut out = Vec::new();
        if round % 2 == 0 {
            PngEncoder::new(&mut out)
                .write_image(&px, w, h, image::ExtendedColorType::Rgb8)
                .unwrap();
        } else {
            JpegEncoder::new_with_quality(&mut out, 70)
                .write_image(&px, w, h, image::ExtendedColorType::Rgb8)
                .unwrap();
        }
        for ink in [
            None,
            Some(sealdesk_artwork::SealInk::Red),
            Some(sealdesk_artwork::SealInk::Blue),
        ] {
            let opts = sealdesk_artwork::ExtractOptions {
                ink,
                ..Default::default()
            };
            let r = std::panic::catch_unwind(|| sealdesk_artwork::extract(&out, &opts));
            if r.is_err() {
                println!("PANIC round {round} kind {kind} {w}x{h}");
            }
            n += 1;
        }
    }
    println!("{n} runs");
}
