//! 手写签字: the pad's strokes made into the seal picture (PNG and SVG at the registered size), the
//! pad's JSON contract and its refusals, the browser pad itself in headless Chromium, and a
//! signature cut off paper.

use sealdesk_artwork::{
    Error, PaperSignatureOptions, PenInk, SIGNATURE_PAD_JS, SignatureOptions, SignaturePad,
    extract_signature, render_signature,
};

/// A signature as a stylus would give it: three strokes, pressure rising and falling.
fn pad_json(pointer: &str) -> String {
    let mut strokes = Vec::new();
    let mut t = 0.0f32;
    for s in 0..3 {
        let mut pts = Vec::new();
        for k in 0..60 {
            let u = k as f32 / 59.0;
            let x = 60.0 + s as f32 * 150.0 + u * 140.0;
            let y = 120.0 + 50.0 * (u * 9.0 + s as f32).sin() - 30.0 * u;
            let p = if pointer == "mouse" {
                0.5
            } else {
                0.2 + 0.7 * (u * 3.1).sin().abs()
            };
            pts.push(format!("[{x:.1},{y:.1},{p:.3},{t:.1}]"));
            t += 8.0;
        }
        t += 200.0;
        strokes.push(format!(
            r#"{{"pointer":"{pointer}","points":[{}]}}"#,
            pts.join(",")
        ));
    }
    format!(
        r#"{{"version":1,"width":600,"height":240,"strokes":[{}]}}"#,
        strokes.join(",")
    )
}

fn rgba(png: &[u8]) -> image::RgbaImage {
    image::load_from_memory(png).expect("PNG").into_rgba8()
}

#[test]
fn pad_strokes_become_the_picture_at_the_registered_size() {
    let pad = SignaturePad::from_json(pad_json("pen").as_bytes()).expect("valid pad JSON");
    let opts = SignatureOptions {
        size_mm: (40.0, 20.0),
        dpi: 300,
        ..SignatureOptions::default()
    };
    let art = render_signature(&pad, &opts).expect("renders");
    // 40 × 20 mm at 300 dpi.
    assert_eq!((art.width, art.height), (472, 236));
    let img = rgba(&art.png);
    assert_eq!(img.dimensions(), (472, 236));
    // Transparent background, ink in the given colour, and the drawing fitted: ink reaches
    // within a few pen widths of the left and right edges (the signature is wider than tall).
    assert_eq!(img.get_pixel(0, 0)[3], 0);
    let inked: Vec<(u32, u32)> = img
        .enumerate_pixels()
        .filter(|(_, _, p)| p[3] >= 128)
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(inked.len() > 2000, "{} inked px", inked.len());
    let (xmin, xmax) = (
        inked.iter().map(|p| p.0).min().expect("ink"),
        inked.iter().map(|p| p.0).max().expect("ink"),
    );
    assert!(xmin < 30 && xmax > 442, "ink spans {xmin}..{xmax}");
    for (x, y) in inked.iter().take(50) {
        let p = img.get_pixel(*x, *y);
        assert_eq!([p[0], p[1], p[2]], opts.colour);
    }
    // The PNG records its resolution, so its size in mm is known.
    assert!(art.png.windows(4).any(|w| w == b"pHYs"));
    // The SVG has the registered size in mm and one filled outline.
    assert!(art.svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40mm\" height=\"20mm\" viewBox=\"0 0 40 20\">"));
    assert_eq!(art.svg.matches("<path").count(), 1);
    assert!(art.svg.contains("fill=\"#1a1f3a\""));
}

#[test]
fn pressure_sets_the_width() {
    // The same path with light and with heavy pressure: heavy draws more ink.
    let line = |p: f32| {
        let pts: Vec<String> = (0..50)
            .map(|k| format!("[{},{},{p},{}]", 50 + k * 10, 120, k * 10))
            .collect();
        format!(
            r#"{{"version":1,"width":600,"height":240,"strokes":[{{"pointer":"pen","points":[{}]}},{{"pointer":"pen","points":[[50,60,{p},600],[550,60,{p},1200]]}}]}}"#,
            pts.join(",")
        )
    };
    let ink = |json: String| {
        let pad = SignaturePad::from_json(json.as_bytes()).expect("valid");
        let art = render_signature(&pad, &SignatureOptions::default()).expect("renders");
        rgba(&art.png)
            .pixels()
            .map(|p| u64::from(p[3]))
            .sum::<u64>()
    };
    let (light, heavy) = (ink(line(0.1)), ink(line(0.9)));
    assert!(
        heavy as f64 > 1.8 * light as f64,
        "light {light}, heavy {heavy}"
    );
}

#[test]
fn a_mouse_signature_is_drawn_too() {
    let pad = SignaturePad::from_json(pad_json("mouse").as_bytes()).expect("valid");
    let art = render_signature(&pad, &SignatureOptions::default()).expect("renders");
    assert!(rgba(&art.png).pixels().filter(|p| p[3] >= 128).count() > 1500);
}

#[test]
fn bad_pad_data_is_refused_with_a_reason() {
    let invalid = |json: &str| match SignaturePad::from_json(json.as_bytes()) {
        Err(Error::InvalidRequest(m)) => m,
        other => panic!("{json}: expected InvalidRequest, got {other:?}"),
    };
    assert_eq!(
        invalid(r#"{"version":1,"width":600,"height":240,"strokes":[]}"#),
        "签名为空，请先签字 (the signature is empty)"
    );
    assert_eq!(
        invalid(r#"{"version":2,"width":600,"height":240,"strokes":[]}"#),
        "签名数据无效 (invalid signature): version must be 1"
    );
    assert_eq!(
        invalid(
            r#"{"version":1,"width":600,"height":240,"strokes":[{"pointer":"pen","points":[[10,10,1.5,0]]}]}"#
        ),
        "签名数据无效 (invalid signature): pressure outside 0..1"
    );
    assert_eq!(
        invalid(
            r#"{"version":1,"width":600,"height":240,"strokes":[{"pointer":"pen","points":[[10,10,0.5,5],[12,10,0.5,4]]}]}"#
        ),
        "签名数据无效 (invalid signature): time goes backwards"
    );
    assert_eq!(
        invalid(
            r#"{"version":1,"width":600,"height":240,"strokes":[{"pointer":"pen","points":[[9000,10,0.5,5]]}]}"#
        ),
        "签名数据无效 (invalid signature): point outside the pad"
    );
    assert_eq!(
        invalid(
            r#"{"version":1,"width":600,"height":240,"strokes":[{"pointer":"laser","points":[[1,1,0.5,5]]}]}"#
        ),
        "签名数据无效 (invalid signature): pointer must be mouse, touch or pen"
    );
    assert!(invalid("not json").starts_with("签名数据格式错误 (bad signature JSON)"));
    assert!(
        invalid(r#"{"version":1,"width":600,"height":240,"strokes":[],"extra":1}"#)
            .starts_with("签名数据格式错误 (bad signature JSON): unknown field `extra`")
    );
    // Too many points: refused before any drawing.
    let many: Vec<String> = (0..20_001)
        .map(|k| format!("[{},{},0.5,{k}]", k % 500, k % 200))
        .collect();
    let json = format!(
        r#"{{"version":1,"width":600,"height":240,"strokes":[{{"pointer":"pen","points":[{}]}}]}}"#,
        many.join(",")
    );
    assert_eq!(
        invalid(&json),
        "签名数据无效 (invalid signature): too many points"
    );
    // A single dot is a (tiny) signature, not a crash.
    let dot = SignaturePad::from_json(
        br#"{"version":1,"width":600,"height":240,"strokes":[{"pointer":"touch","points":[[300,120,0.4,0]]}]}"#,
    )
    .expect("valid");
    assert!(render_signature(&dot, &SignatureOptions::default()).is_ok());
}

/// The browser pad in headless Chromium: pointer events (pen with pressure, then a mouse stroke)
/// on the canvas fill the hidden input with the contract's JSON, which becomes the 手写签字
/// picture. Needs Debian's chromium (installed by scripts/test.sh).
#[test]
fn browser_pad_produces_the_signature_seal() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromium (Debian package chromium) must be installed: run scripts/test.sh");
    let dir = std::env::temp_dir().join(format!("sealdesk-pad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let page = dir.join("pad.html");
    let driver = r#"
document.addEventListener("DOMContentLoaded", function () {
  var c = document.querySelector("canvas");
  var r = c.getBoundingClientRect();
  function ev(type, x, y, p, kind) {
    c.dispatchEvent(new PointerEvent(type, { bubbles: true, cancelable: true, pointerId: kind === "pen" ? 2 : 1,
      pointerType: kind, clientX: r.left + x, clientY: r.top + y, pressure: p }));
  }
  ev("pointerdown", 40, 150, 0.2, "pen");
  for (var k = 1; k <= 40; k++) {
    ev("pointermove", 40 + k * 8, 150 - 60 * Math.sin(k / 6), 0.2 + 0.6 * Math.sin(k / 13), "pen");
  }
  ev("pointerup", 360, 120, 0.0, "pen");
  ev("pointerdown", 380, 60, 0.5, "mouse");
  for (var j = 1; j <= 20; j++) { ev("pointermove", 380 + j * 9, 60 + j * 6, 0.5, "mouse"); }
  ev("pointerup", 560, 180, 0.0, "mouse");
  document.getElementById("out").textContent = document.querySelector("[data-signature-output]").value;
});
"#;
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"></head><body>
<div data-signature-pad><canvas width="600" height="240" style="width:600px;height:240px"></canvas>
<input type="hidden" data-signature-output></div>
<pre id="out"></pre>
<script src="signature-pad.js"></script>
<script>{driver}</script></body></html>"#
    );
    std::fs::write(&page, html).expect("write page");
    // Served as a file beside the page, as the portal serves it beside its pages.
    std::fs::write(dir.join("signature-pad.js"), SIGNATURE_PAD_JS).expect("write script");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_default()
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    std::fs::remove_dir_all(&dir).ok();
    let pad = SignaturePad::from_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("pad JSON {json:?}: {e}"));
    assert_eq!((pad.width, pad.height), (600.0, 240.0));
    assert_eq!(pad.strokes.len(), 2);
    assert_eq!(pad.strokes[0].pointer, "pen");
    assert_eq!(pad.strokes[1].pointer, "mouse");
    assert!(pad.strokes[0].points.len() >= 40);
    // The pen's pressure came through.
    let pressures: Vec<f32> = pad.strokes[0].points.iter().map(|p| p[2]).collect();
    assert!(pressures.iter().any(|&p| p > 0.6) && pressures.iter().any(|&p| p < 0.3));
    let art = render_signature(&pad, &SignatureOptions::default()).expect("renders");
    assert_eq!((art.width, art.height), (472, 236));
    assert!(rgba(&art.png).pixels().filter(|p| p[3] >= 128).count() > 1500);
}

/// A signature on paper: drawn here with tiny-skia strokes on a tinted, noisy page with a printed
/// signing line, in black or blue ballpoint, saved as JPEG. The cut-out, fitted back to the
/// page's scale, must cover the strokes (IoU against the drawn strokes) and leave the line out.
#[test]
fn signature_on_paper_is_cut_out_without_the_printed_line() {
    for (k, pen) in [[30u8, 30, 40], [25, 45, 160]].into_iter().enumerate() {
        let (w, h) = (900u32, 420u32); // 76 × 36 mm at 300 dpi
        let mut strokes = tiny_skia::PathBuilder::new();
        strokes.move_to(120.0, 260.0);
        strokes.cubic_to(200.0, 80.0, 260.0, 340.0, 330.0, 180.0);
        strokes.cubic_to(380.0, 90.0, 430.0, 300.0, 520.0, 200.0);
        strokes.move_to(540.0, 150.0);
        strokes.cubic_to(600.0, 320.0, 700.0, 100.0, 780.0, 240.0);
        let path = strokes.finish().expect("path");
        let mut mask = tiny_skia::Mask::new(w, h).expect("mask");
        let stroke = tiny_skia::Stroke {
            width: 6.0,
            line_cap: tiny_skia::LineCap::Round,
            ..tiny_skia::Stroke::default()
        };
        mask.fill_path(
            &path.stroke(&stroke, 1.0).expect("outline"),
            tiny_skia::FillRule::Winding,
            true,
            tiny_skia::Transform::identity(),
        );
        let cov = mask.data();
        let mut img = image::RgbImage::new(w, h);
        let mut seed = 0x5151_u32 + k as u32;
        for (x, y, px) in img.enumerate_pixels_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 9) as f32 - 4.0;
            let light = 1.0 - 0.15 * x as f32 / w as f32;
            let paper = [244.0, 240.0, 228.0];
            // The printed signing line under the signature.
            let line = (300..304).contains(&y) && (60..860).contains(&x);
            let c = f32::from(cov[(y * w + x) as usize]) / 255.0;
            for ch in 0..3 {
                let mut v = paper[ch] * light;
                if line {
                    v *= 0.12;
                }
                v *= 1.0 - c * (1.0 - f32::from(pen[ch]) / 255.0);
                px[ch] = (v + noise).clamp(0.0, 255.0) as u8;
            }
        }
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80);
        enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(300));
        enc.encode_image(&img).expect("jpeg");

        let truth: Vec<(u32, u32)> = (0..w * h)
            .filter(|&i| cov[i as usize] >= 128)
            .map(|i| (i % w, i / w))
            .collect();
        let (x0, x1) = (
            truth.iter().map(|p| p.0).min().unwrap(),
            truth.iter().map(|p| p.0).max().unwrap(),
        );
        let (y0, y1) = (
            truth.iter().map(|p| p.1).min().unwrap(),
            truth.iter().map(|p| p.1).max().unwrap(),
        );
        let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
        let opts = PaperSignatureOptions::default();
        let art = extract_signature(&jpeg, &opts).expect("signature found");
        let got = rgba(&art.png);
        // Compare shapes: the cut-out's ink box against the strokes' box, and ink coverage.
        let ink: Vec<(u32, u32)> = got
            .enumerate_pixels()
            .filter(|(_, _, p)| p[3] >= 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        let gw =
            ink.iter().map(|p| p.0).max().unwrap() - ink.iter().map(|p| p.0).min().unwrap() + 1;
        let gh =
            ink.iter().map(|p| p.1).max().unwrap() - ink.iter().map(|p| p.1).min().unwrap() + 1;
        let aspect = |a: u32, b: u32| a as f64 / b as f64;
        assert!(
            (aspect(gw, gh) / aspect(bw, bh) - 1.0).abs() < 0.06,
            "pen {k}: ink box {gw}x{gh} against drawn {bw}x{bh}: the printed line was kept or strokes lost"
        );
        let ratio = ink.len() as f64 / truth.len() as f64 * (f64::from(bw) / f64::from(gw)).powi(2);
        assert!(
            (0.8..1.25).contains(&ratio),
            "pen {k}: ink area ratio {ratio:.3}"
        );

        // Black only: the blue signature is not there.
        let black_only = PaperSignatureOptions {
            ink: PenInk::Black,
            ..opts.clone()
        };
        let r = extract_signature(&jpeg, &black_only);
        if k == 1 {
            assert!(
                matches!(r, Err(Error::NoImpression)),
                "blue pen, black asked: {r:?}"
            );
        } else {
            assert!(r.is_ok());
        }
    }
    // A blank page is not a signature.
    let blank = image::RgbImage::from_pixel(600, 300, image::Rgb([240, 240, 235]));
    let mut png = Vec::new();
    blank
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    assert!(matches!(
        extract_signature(&png, &PaperSignatureOptions::default()),
        Err(Error::EmptyPage)
    ));
}
