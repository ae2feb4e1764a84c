//! The `artwork` subcommands end to end: parse real argument lists with clap, run them on the
//! checked-in sample forms, and check exit codes and the files written.

use clap::Parser;
use sealdesk_artwork_cli::{ArtworkCommand, run};

/// Stands in for the `sealdesk` binary, which mounts the same enum under `sealdesk artwork`.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: ArtworkCommand,
}

fn run_args(args: &[&str]) -> i32 {
    let cli = Cli::try_parse_from(std::iter::once("artwork").chain(args.iter().copied()))
        .expect("arguments parse");
    run(cli.cmd)
}

fn sample(name: &str) -> String {
    format!(
        "{}/../artwork/tests/forms/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn tmp_dir(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sealdesk-artwork-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let img = image::open(path).expect("a PNG was written");
    (img.width(), img.height())
}

#[test]
fn extract_writes_one_png_per_impression() {
    let dir = tmp_dir("extract");
    let out = dir.join("first.png");
    let all = dir.join("all");
    let code = run_args(&[
        "extract",
        "--input",
        &sample("form-0.jpg"),
        "--output",
        out.to_str().expect("utf-8"),
        "--dpi",
        "300",
        "--all-to",
        all.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0);
    let truth = std::fs::read_to_string(sample("form-0.txt")).expect("truth");
    let expected: usize = truth
        .lines()
        .find_map(|l| l.strip_prefix("impressions "))
        .and_then(|n| n.parse().ok())
        .expect("count");
    let written = std::fs::read_dir(&all).expect("dir").count();
    assert_eq!(written, expected);
    assert!(png_size(&out).0 > 100);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn extract_with_size_scales_to_it() {
    let dir = tmp_dir("size");
    let out = dir.join("seal.png");
    let code = run_args(&[
        "extract",
        "--input",
        &sample("form-1.jpg"),
        "--output",
        out.to_str().expect("utf-8"),
        "--size-mm",
        "40x30",
        "--dpi",
        "600",
    ]);
    assert_eq!(code, 0);
    // 40 × 30 mm at 600 dpi.
    assert_eq!(png_size(&out), (945, 709));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn extract_fails_cleanly_without_a_seal_or_with_garbage() {
    let dir = tmp_dir("fail");
    let out = dir.join("x.png");
    // A blue seal drawn on its own is found (blue ink is accepted when there is no red) …
    let page = dir.join("blue.png");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let render = [
        "render",
        "--style",
        "frame",
        "--name",
        "李四",
        "--output",
        &path(&page),
    ];
    assert_eq!(run_args(&render), 0);
    assert_eq!(
        run_args(&["extract", "--input", &path(&page), "--output", &path(&out)]),
        0
    );
    std::fs::remove_file(&out).expect("written");
    // … the same drawing in black print is not a seal.
    let drawing = image::open(&page).expect("PNG").into_rgba8();
    let black = image::RgbImage::from_fn(drawing.width(), drawing.height(), |x, y| {
        let a = u16::from(drawing.get_pixel(x, y)[3]);
        let v = (250 - a * 230 / 255) as u8;
        image::Rgb([v, v, v])
    });
    let print = dir.join("print.png");
    black.save(&print).expect("saved");
    assert_eq!(
        run_args(&["extract", "--input", &path(&print), "--output", &path(&out)]),
        1
    );
    let junk = dir.join("junk.jpg");
    std::fs::write(&junk, b"this is not an image").expect("write");
    assert_eq!(
        run_args(&[
            "extract",
            "--input",
            junk.to_str().expect("utf-8"),
            "--output",
            out.to_str().expect("utf-8")
        ]),
        1
    );
    assert_eq!(
        run_args(&[
            "extract",
            "--input",
            dir.join("missing.jpg").to_str().expect("utf-8"),
            "--output",
            out.to_str().expect("utf-8")
        ]),
        1
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn render_every_style() {
    let dir = tmp_dir("render");
    for (style, name, extra, size) in [
        (
            "round",
            "测试科技有限公司",
            vec!["--title", "合同专用章", "--code", "3601020012345"],
            (496, 496),
        ),
        (
            "oval",
            "测试科技有限公司",
            vec![
                "--title",
                "发票专用章",
                "--code",
                "91360100MA35XXXX0X",
                "--size-mm",
                "40x30",
            ],
            (472, 354),
        ),
        ("square", "张三", vec![], (236, 236)),
        (
            "frame",
            "李四",
            vec!["--code", "赣136000700001(00)"],
            (591, 425),
        ),
    ] {
        let out = dir.join(format!("{style}.png"));
        let mut args = vec![
            "render",
            "--style",
            style,
            "--name",
            name,
            "--output",
            out.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        assert_eq!(run_args(&args), 0, "{style}");
        assert_eq!(png_size(&out), size, "{style}");
    }
    let out = dir.join("bad.png");
    assert_eq!(
        run_args(&[
            "render",
            "--style",
            "round",
            "--name",
            "测试",
            "--code",
            "12",
            "--output",
            out.to_str().expect("utf-8")
        ]),
        1
    );
    assert!(
        Cli::try_parse_from([
            "artwork", "render", "--style", "hexagon", "--name", "x", "--output", "y.png"
        ])
        .is_err()
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `--ink`: the colour to look for and the look of the picture, in one flag or two.
#[test]
fn ink_chooses_the_colour_and_the_look() {
    let dir = tmp_dir("ink");
    let out = dir.join("natural.png");
    let code = run_args(&[
        "extract",
        "--input",
        &sample("form-0.jpg"),
        "--output",
        out.to_str().expect("utf-8"),
        "--ink",
        "red",
        "--ink",
        "natural",
    ]);
    assert_eq!(code, 0);
    let img = image::open(&out).expect("PNG").into_rgba8();
    // The ink's own colours, not one flat red.
    let colours: std::collections::BTreeSet<[u8; 3]> = img
        .pixels()
        .filter(|p| p[3] == 255)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert!(colours.len() > 50, "{} distinct ink colours", colours.len());
    // Flat (the default): one colour.
    let flat = dir.join("flat.png");
    assert_eq!(
        run_args(&[
            "extract",
            "--input",
            &sample("form-0.jpg"),
            "--output",
            flat.to_str().expect("utf-8"),
            "--ink",
            "red,flat",
        ]),
        0
    );
    let img = image::open(&flat).expect("PNG").into_rgba8();
    assert!(
        img.pixels()
            .filter(|p| p[3] > 0)
            .all(|p| [p[0], p[1], p[2]] == [0xE6, 0x00, 0x12])
    );
    // The sample form has no blue seal: asked for blue, nothing is found (exit 1).
    let none = dir.join("none.png");
    assert_eq!(
        run_args(&[
            "extract",
            "--input",
            &sample("form-0.jpg"),
            "--output",
            none.to_str().expect("utf-8"),
            "--ink",
            "blue",
        ]),
        1
    );
    assert!(!none.exists());
    // Two colours are refused before anything is read.
    assert_eq!(
        run_args(&[
            "extract",
            "--input",
            &sample("form-0.jpg"),
            "--output",
            none.to_str().expect("utf-8"),
            "--ink",
            "blue,red",
        ]),
        1
    );
    assert!(
        Cli::try_parse_from([
            "artwork", "extract", "--input", "a", "--output", "b", "--ink", "green"
        ])
        .is_err()
    );
}

/// `signature --pad`: the pad's JSON becomes the 手写签字 picture, PNG and SVG.
#[test]
fn signature_from_the_pad_json() {
    let dir = tmp_dir("signature");
    let json = dir.join("pad.json");
    let pts: Vec<String> = (0..80)
        .map(|k| {
            format!(
                "[{},{:.1},{:.2},{}]",
                40 + k * 6,
                120.0 + 40.0 * (k as f32 / 7.0).sin(),
                0.3 + 0.5 * (k as f32 / 25.0).sin().abs(),
                k * 9
            )
        })
        .collect();
    std::fs::write(
        &json,
        format!(r#"{{"version":1,"width":600,"height":240,"strokes":[{{"pointer":"pen","points":[{}]}}]}}"#, pts.join(",")),
    )
    .expect("write json");
    let (png, svg) = (dir.join("sig.png"), dir.join("sig.svg"));
    let code = run_args(&[
        "signature",
        "--pad",
        json.to_str().expect("utf-8"),
        "--size-mm",
        "30x15",
        "--output",
        png.to_str().expect("utf-8"),
        "--svg",
        svg.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(png_size(&png), (354, 177));
    assert!(
        std::fs::read_to_string(&svg)
            .expect("svg")
            .contains("width=\"30mm\" height=\"15mm\"")
    );
    // Bad JSON: exit 1, nothing written.
    std::fs::write(&json, "{}").expect("write");
    let bad = dir.join("bad.png");
    assert_eq!(
        run_args(&[
            "signature",
            "--pad",
            json.to_str().expect("utf-8"),
            "--output",
            bad.to_str().expect("utf-8")
        ]),
        1
    );
    assert!(!bad.exists());
}
