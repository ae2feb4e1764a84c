//! `sealdesk artwork …`: extract seal impressions from scans and render standard seals.
//!
//! The file I/O and the argument parsing live here; the work is done by `sealdesk-artwork`.
//! The `sealdesk` binary wires [`ArtworkCommand`] in as `sealdesk artwork <command>` and exits
//! with the code [`run`] returns: 0 on success, 1 when no impression was found or the input or
//! request is bad, 2 when an output cannot be written.

use std::path::{Path, PathBuf};

use sealdesk_artwork::{
    Error, ExtractOptions, InkLook, PaperSignatureOptions, PenInk, RenderRequest, SealInk,
    SignatureArt, SignatureOptions, SignaturePad, Style,
};

/// The `sealdesk artwork` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ArtworkCommand {
    /// Cut the seal impressions out of a scan (JPG, PNG or PDF) into transparent PNGs.
    Extract {
        /// The scan to read.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the first impression (reading order).
        #[arg(long)]
        output: PathBuf,
        /// Physical size of the seal, mm: `42` or `40x30`. Default: measured on an A4 page.
        #[arg(long, value_parser = parse_size)]
        size_mm: Option<(f32, f32)>,
        /// Output resolution.
        #[arg(long, default_value_t = 300)]
        dpi: u32,
        /// Also write every impression to DIR as impression-1.png, impression-2.png, …
        #[arg(long, value_name = "DIR")]
        all_to: Option<PathBuf>,
        /// The ink: its expected colour (`red`, `blue`, `purple`; default: red, else purple,
        /// else blue) and/or its look (`flat`, the default: one clean seal colour; `natural`: the
        /// ink's own colour and texture). Repeat or comma-separate: `--ink blue --ink natural`,
        /// `--ink blue,natural`.
        #[arg(long, value_name = "red|blue|purple|natural|flat", value_parser = parse_ink, value_delimiter = ',', action = clap::ArgAction::Append)]
        ink: Vec<InkChoice>,
    },
    /// Make a 手写签字 picture at its registered size, from the signature pad's JSON or from a
    /// scan or photo of a signature on paper.
    Signature {
        /// The signature pad's JSON (see `signature-pad.js`).
        #[arg(long, conflicts_with = "input", required_unless_present = "input")]
        pad: Option<PathBuf>,
        /// A scan or photo of a signature on paper (JPG, PNG or PDF).
        #[arg(long)]
        input: Option<PathBuf>,
        /// The ink of a signature on paper: any, black or blue.
        #[arg(long, value_parser = parse_pen, default_value = "any")]
        pen: PenInk,
        /// Registered size, mm: `40x20`. Default 40x20.
        #[arg(long, value_parser = parse_size)]
        size_mm: Option<(f32, f32)>,
        /// Output resolution.
        #[arg(long, default_value_t = 300)]
        dpi: u32,
        /// The PNG to write.
        #[arg(long)]
        output: PathBuf,
        /// Also write the SVG here.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Draw a standard seal as a transparent PNG.
    Render {
        /// round, oval, square or frame.
        #[arg(long, value_parser = parse_style)]
        style: Style,
        /// Organisation name (round, oval) or person's name (square, frame).
        #[arg(long)]
        name: String,
        /// Seal name below the star (合同专用章 …), suffix of a square seal (印, 之印), or frame heading.
        #[arg(long)]
        title: Option<String>,
        /// 13-digit seal code (round), taxpayer number (oval) or registration number (frame).
        #[arg(long)]
        code: Option<String>,
        /// Physical size, mm: `42` or `40x30`. Default: the style's standard size.
        #[arg(long, value_parser = parse_size)]
        size_mm: Option<(f32, f32)>,
        /// Output resolution.
        #[arg(long, default_value_t = 300)]
        dpi: u32,
        /// The PNG to write.
        #[arg(long)]
        output: PathBuf,
    },
}

/// Runs one subcommand, printing what it did or why it failed, and returns the exit code.
pub fn run(cmd: ArtworkCommand) -> i32 {
    match cmd {
        ArtworkCommand::Extract {
            input,
            output,
            size_mm,
            dpi,
            all_to,
            ink,
        } => match ink_options(&ink) {
            Ok((colour, look)) => extract(
                &input,
                &output,
                ExtractOptions {
                    size_mm,
                    dpi,
                    ink: colour,
                    look,
                },
                all_to.as_deref(),
            ),
            Err(msg) => {
                eprintln!("错误 (error): {msg}");
                1
            }
        },
        ArtworkCommand::Signature {
            pad,
            input,
            pen,
            size_mm,
            dpi,
            output,
            svg,
        } => {
            let picture = SignatureOptions {
                size_mm: size_mm.unwrap_or(SignatureOptions::default().size_mm),
                dpi,
                ..SignatureOptions::default()
            };
            let Some(path) = pad.as_ref().or(input.as_ref()) else {
                eprintln!("错误 (error): --pad 或 --input 必须给出一个 (give --pad or --input)");
                return 1;
            };
            let bytes = match read_bounded(path) {
                Ok(b) => b,
                Err(msg) => {
                    eprintln!("错误 (error): {}: {msg}", path.display());
                    return 1;
                }
            };
            let made: Result<SignatureArt, Error> = if pad.is_some() {
                SignaturePad::from_json(&bytes)
                    .and_then(|p| sealdesk_artwork::render_signature(&p, &picture))
            } else {
                sealdesk_artwork::extract_signature(
                    &bytes,
                    &PaperSignatureOptions { ink: pen, picture },
                )
            };
            match made {
                Ok(art) => {
                    if write(&output, &art.png).is_err()
                        || svg
                            .as_ref()
                            .is_some_and(|p| write(p, art.svg.as_bytes()).is_err())
                    {
                        return 2;
                    }
                    println!(
                        "已生成签字图片 (signature written): {} ({}x{} px)",
                        output.display(),
                        art.width,
                        art.height
                    );
                    0
                }
                Err(e) => fail(&e),
            }
        }
        ArtworkCommand::Render {
            style,
            name,
            title,
            code,
            size_mm,
            dpi,
            output,
        } => {
            let req = RenderRequest {
                style,
                name,
                title,
                code,
                size_mm,
                dpi,
            };
            match sealdesk_artwork::render(&req) {
                Ok(png) => write(&output, &png).map_or(2, |()| {
                    println!("已生成印章 (seal rendered): {}", output.display());
                    0
                }),
                Err(e) => fail(&e),
            }
        }
    }
}

fn extract(input: &Path, output: &Path, opts: ExtractOptions, all_to: Option<&Path>) -> i32 {
    let bytes = match read_bounded(input) {
        Ok(b) => b,
        Err(msg) => {
            eprintln!("错误 (error): {}: {msg}", input.display());
            return 1;
        }
    };
    let found = match sealdesk_artwork::extract(&bytes, &opts) {
        Ok(found) => found,
        Err(e) => return fail(&e),
    };
    let Some(first) = found.first() else {
        return fail(&Error::NoImpression);
    };
    if write(output, &first.png).is_err() {
        return 2;
    }
    if let Some(dir) = all_to {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("错误 (error): cannot create {}: {e}", dir.display());
            return 2;
        }
        for (k, imp) in found.iter().enumerate() {
            if write(&dir.join(format!("impression-{}.png", k + 1)), &imp.png).is_err() {
                return 2;
            }
        }
    }
    println!(
        "找到 {} 枚印章 (found {} impression(s)):",
        found.len(),
        found.len()
    );
    if all_to.is_none() && found.len() > 1 {
        println!(
            "  {} 只保存了第 1 枚；用 --all-to DIR 保存全部 (only the first was written; --all-to DIR writes all)",
            output.display()
        );
    }
    for (k, imp) in found.iter().enumerate() {
        println!(
            "  {}: x={} y={} {}x{} px on the page, {:.1}x{:.1} mm, {:?} ink",
            k + 1,
            imp.x,
            imp.y,
            imp.width,
            imp.height,
            imp.width_mm,
            imp.height_mm,
            imp.ink
        );
        for w in &imp.warnings {
            println!("     注意 (warning): {w}");
        }
    }
    0
}

/// Reads the input, refusing files the library would refuse anyway before loading them whole.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > sealdesk_artwork::MAX_INPUT_BYTES as u64 {
        return Err(Error::FileTooLarge {
            size: meta.len() as usize,
            limit: sealdesk_artwork::MAX_INPUT_BYTES,
        }
        .to_string());
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ()> {
    std::fs::write(path, bytes)
        .map_err(|e| eprintln!("错误 (error): cannot write {}: {e}", path.display()))
}

fn fail(e: &Error) -> i32 {
    eprintln!("错误 (error): {e}");
    1
}

/// One value of `--ink`: the colour to look for, or the look of the picture. One flag carries
/// both because the issue that introduced them spells both as `--ink`; they never clash, as no
/// colour is called `flat` or `natural`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InkChoice {
    /// `red`, `blue`, `purple`.
    Colour(SealInk),
    /// `flat`, `natural`.
    Look(InkLook),
}

fn parse_ink(s: &str) -> Result<InkChoice, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "red" => Ok(InkChoice::Colour(SealInk::Red)),
        "blue" => Ok(InkChoice::Colour(SealInk::Blue)),
        "purple" => Ok(InkChoice::Colour(SealInk::Purple)),
        "flat" => Ok(InkChoice::Look(InkLook::Flat)),
        "natural" => Ok(InkChoice::Look(InkLook::Natural)),
        _ => Err(format!(
            "unknown ink {s:?}; use red, blue or purple (colour) and/or natural or flat (look)"
        )),
    }
}

/// At most one colour and one look.
fn ink_options(choices: &[InkChoice]) -> Result<(Option<SealInk>, InkLook), String> {
    let (mut colour, mut look) = (None, None);
    for c in choices {
        match *c {
            InkChoice::Colour(k) if colour.is_some_and(|o| o != k) => {
                return Err("--ink 只能指定一种颜色 (give one ink colour)".into());
            }
            InkChoice::Colour(k) => colour = Some(k),
            InkChoice::Look(l) if look.is_some_and(|o| o != l) => {
                return Err(
                    "--ink 只能指定 natural 或 flat 之一 (give natural or flat, not both)".into(),
                );
            }
            InkChoice::Look(l) => look = Some(l),
        }
    }
    Ok((colour, look.unwrap_or_default()))
}

fn parse_pen(s: &str) -> Result<PenInk, String> {
    match s.to_ascii_lowercase().as_str() {
        "any" => Ok(PenInk::Any),
        "black" => Ok(PenInk::Black),
        "blue" => Ok(PenInk::Blue),
        _ => Err(format!("unknown pen ink {s:?}; use any, black or blue")),
    }
}

fn parse_style(s: &str) -> Result<Style, String> {
    match s.to_ascii_lowercase().as_str() {
        "round" => Ok(Style::Round),
        "oval" => Ok(Style::Oval),
        "square" => Ok(Style::Square),
        "frame" => Ok(Style::Frame),
        _ => Err(format!(
            "unknown style {s:?}; use round, oval, square or frame"
        )),
    }
}

/// `42` → (42, 42); `40x30` → (40, 30) (`×` and `X` accepted too).
fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let parts: Vec<&str> = s.split(['x', 'X', '×']).collect();
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .map_err(|_| format!("bad size {s:?}; use W or WxH in mm"))
    };
    let (w, h) = match parts.as_slice() {
        [w] => (num(w)?, num(w)?),
        [w, h] => (num(w)?, num(h)?),
        _ => return Err(format!("bad size {s:?}; use W or WxH in mm")),
    };
    if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
        return Err(format!("bad size {s:?}; sizes are positive mm"));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("42"), Ok((42.0, 42.0)));
        assert_eq!(parse_size("40x30"), Ok((40.0, 30.0)));
        assert_eq!(parse_size("40×30"), Ok((40.0, 30.0)));
        assert!(parse_size("40x").is_err());
        assert!(parse_size("-4").is_err());
        assert!(parse_size("1x2x3").is_err());
    }

    #[test]
    fn ink_takes_a_colour_and_a_look() {
        let parse = |v: &[&str]| {
            let c: Result<Vec<InkChoice>, String> = v.iter().map(|s| parse_ink(s)).collect();
            ink_options(&c?)
        };
        assert_eq!(parse(&[]), Ok((None, InkLook::Flat)));
        assert_eq!(parse(&["blue"]), Ok((Some(SealInk::Blue), InkLook::Flat)));
        assert_eq!(parse(&["natural"]), Ok((None, InkLook::Natural)));
        assert_eq!(
            parse(&["Purple", "natural"]),
            Ok((Some(SealInk::Purple), InkLook::Natural))
        );
        assert_eq!(
            parse(&["red", "blue"]),
            Err("--ink 只能指定一种颜色 (give one ink colour)".into())
        );
        assert!(parse(&["flat", "natural"]).is_err());
        assert_eq!(
            parse_ink("green"),
            Err("unknown ink \"green\"; use red, blue or purple (colour) and/or natural or flat (look)".into())
        );
    }
}
