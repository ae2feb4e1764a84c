//! `sealdesk seal …`: inspect, verify and make seal files from the command line.
//!
//! This is the I/O layer over `sealdesk-ses`: it reads files, PEM/DER keys and certificates (as OpenSSL writes
//! them), prints reports, and turns them into exit codes (0 all checks passed, 1 a check failed, 2 unreadable).

use std::path::{Path, PathBuf};

use base64::Engine;
use sealdesk_ses::{
    self as ses, CertList, Check, Parsed, Picture, Report, SealRequest, VerifyOptions,
};

mod inspect;

/// Where a command writes: standard output and standard error, or buffers in tests.
pub struct Io<'a> {
    /// Normal output (reports, inspection).
    pub out: &'a mut dyn std::io::Write,
    /// Error messages.
    pub err: &'a mut dyn std::io::Write,
}

/// `writeln!` to the output stream; a closed pipe is not an error worth a panic.
macro_rules! say {
    ($io:expr, $($arg:tt)*) => {{
        let _ = writeln!($io.out, $($arg)*);
    }};
}
pub(crate) use say;

/// The `sealdesk seal` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SealCommand {
    /// Show what a seal, signature or OFD file holds: version, fields, certificates.
    Inspect {
        /// The file to read (.esl seal, .dat signature, .ofd package).
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify a seal, a seal signature, or every signature in an OFD package.
    ///
    /// Exit code 0 when every check passes, 1 when the file is well formed but a check fails, 2 when it
    /// cannot be read.
    Verify {
        /// The file to verify.
        file: PathBuf,
        /// A trust anchor certificate (PEM or DER; may hold several); repeatable.
        #[arg(long = "trust", value_name = "CERT.pem")]
        trust: Vec<PathBuf>,
        /// Do not check certificate chains (reported as not checked).
        #[arg(long)]
        no_chain: bool,
        /// Check seal validity at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// The seal maker's signed list of revoked seals (downloaded from the platform): a seal on it, or a
        /// list not signed by the seal's maker, fails the `seal.revocation` check.
        #[arg(long, value_name = "FILE")]
        revoked: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make a V4 (GB/T 38540-2020) seal signed by the maker key.
    Make {
        /// What goes into the seal.
        #[command(flatten)]
        args: MakeArgs,
        /// Where to write the seal (DER).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Runs one subcommand and returns the process exit code.
pub fn run(cmd: SealCommand) -> i32 {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    run_with(
        cmd,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
    )
}

/// Runs one subcommand writing to `io`; returns the exit code (0 ok, 1 a check failed, 2 unreadable or error).
pub fn run_with(cmd: SealCommand, io: &mut Io<'_>) -> i32 {
    match cmd {
        SealCommand::Inspect { file, json } => inspect::run(io, &file, json),
        SealCommand::Verify {
            file,
            trust,
            no_chain,
            at,
            revoked,
            json,
        } => verify(
            io,
            &file,
            &trust,
            no_chain,
            at.as_deref(),
            revoked.as_deref(),
            json,
        ),
        SealCommand::Make { args, out } => match make(&args) {
            Ok(bytes) => match std::fs::write(&out, &bytes) {
                Ok(()) => {
                    say!(
                        io,
                        "wrote a V4 seal of {} bytes to {}",
                        bytes.len(),
                        out.display()
                    );
                    0
                }
                Err(e) => fail(io, &format!("cannot write {}: {e}", out.display())),
            },
            Err(e) => fail(io, &e),
        },
    }
}

pub(crate) fn fail(io: &mut Io<'_>, msg: &str) -> i32 {
    let _ = writeln!(io.err, "error: {msg}");
    2
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // OFD packages may be larger than a seal; the library applies the 10 MB limit to seals itself.
    if meta.len() > 256 * 1024 * 1024 {
        return Err(format!(
            "{} is {} bytes, too large to read",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Now, Unix seconds (on the workspace's one date-time library; this tool sits beside the platform, not on it).
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Every PEM block labelled `label` in `data`, or `data` itself when it is not PEM (then taken as DER).
fn pem_blocks(data: &[u8], label: &str) -> Result<Vec<Vec<u8>>, String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(vec![data.to_vec()]);
    };
    if !text.contains("-----BEGIN ") {
        return Ok(vec![data.to_vec()]);
    }
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let after = &rest[i + begin.len()..];
        let j = after
            .find(&end)
            .ok_or_else(|| format!("a PEM block {label} has no END line"))?;
        let b64: String = after[..j]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.split_whitespace())
            .collect();
        out.push(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("a PEM block {label} is not valid base64: {e}"))?,
        );
        rest = &after[j + end.len()..];
    }
    if out.is_empty() {
        return Err(format!("no PEM block {label} found"));
    }
    Ok(out)
}

/// Certificates from a PEM (one or more) or DER file.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let data = read(path)?;
    let certs = pem_blocks(&data, "CERTIFICATE").map_err(|e| format!("{}: {e}", path.display()))?;
    for c in &certs {
        ses::parse_certificate(c).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(certs)
}

/// An SM2 private key as OpenSSL writes it: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), PEM or DER.
pub(crate) fn read_key(path: &Path) -> Result<sm2::dsa::SigningKey, String> {
    use sm2::pkcs8::DecodePrivateKey;
    let data = read(path)?;
    let text = std::str::from_utf8(&data).unwrap_or("");
    let secret = if text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(format!(
            "{}: the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN.pem)",
            path.display()
        ));
    } else if text.contains("-----BEGIN PRIVATE KEY-----") {
        sm2::SecretKey::from_pkcs8_pem(text)
            .map_err(|e| format!("{}: not an SM2 PKCS#8 key: {e}", path.display()))?
    } else if let Some(label) = ["EC PRIVATE KEY", "SM2 PRIVATE KEY"]
        .into_iter()
        .find(|l| text.contains(&format!("-----BEGIN {l}-----")))
    {
        // SEC1; OpenSSL 3.0's `openssl ec` labels SM2 keys "SM2 PRIVATE KEY".
        let der = pem_blocks(&data, label)?
            .into_iter()
            .next()
            .unwrap_or_default();
        sm2::SecretKey::from_sec1_der(&der)
            .map_err(|e| format!("{}: not an SM2 EC key: {e}", path.display()))?
    } else {
        sm2::SecretKey::from_pkcs8_der(&data)
            .or_else(|_| sm2::SecretKey::from_sec1_der(&data))
            .map_err(|_| {
                format!(
                    "{}: not an SM2 private key in PKCS#8 or SEC1 form",
                    path.display()
                )
            })?
    };
    sm2::dsa::SigningKey::new(ses::DIST_ID, &secret)
        .map_err(|e| format!("{}: unusable SM2 key: {e}", path.display()))
}

fn verify(
    io: &mut Io<'_>,
    file: &Path,
    trust: &[PathBuf],
    no_chain: bool,
    at: Option<&str>,
    revoked: Option<&Path>,
    json: bool,
) -> i32 {
    let data = match read(file) {
        Ok(d) => d,
        Err(e) => return fail(io, &e),
    };
    let mut anchors = Vec::new();
    for t in trust {
        match read_certs(t) {
            Ok(c) => anchors.extend(c),
            Err(e) => return fail(io, &format!("trust anchor {e}")),
        }
    }
    let at = match at {
        None => now(),
        Some(s) => match ses::time::parse_rfc3339(s) {
            Some(t) => t,
            None => {
                return fail(
                    io,
                    &format!("--at {s:?} is not an RFC 3339 time such as 2026-11-27T09:44:00Z"),
                );
            }
        },
    };
    let opts = VerifyOptions {
        trust: anchors,
        at,
        check_chain: !no_chain,
    };
    let revoked = match revoked.map(read).transpose() {
        Ok(r) => r,
        Err(e) => return fail(io, &format!("revocation list {e}")),
    };
    let mut report = if ses::is_ofd(&data) {
        ses::verify_ofd(&data, &opts)
    } else {
        ses::verify_seal(&data, &opts)
    };
    if let Some(list) = revoked {
        add_revocation_check(&mut report, &data, &list);
    }
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => say!(io, "{s}"),
            Err(e) => return fail(io, &format!("cannot print the report: {e}")),
        }
    } else {
        print_report(io, file, &report);
    }
    report.exit_code()
}

/// Adds `seal.revocation` to a seal's checks, or to a seal signature's (for the seal it carries).
fn add_revocation_check(report: &mut Report, data: &[u8], list: &[u8]) {
    let check = match ses::parse(data) {
        Ok(Parsed::Seal(s)) => ses::revocation_check(&s, list),
        Ok(Parsed::Signature(sig)) => ses::revocation_check(&sig.seal, list),
        Err(_) => {
            if report.kind == ses::Kind::Ofd {
                report.checks.push(Check {
                    name: "seal.revocation",
                    ok: None,
                    detail:
                        "not checked inside OFD packages: check the seal file itself with --revoked"
                            .into(),
                });
            }
            return;
        }
    };
    let failed = check.ok == Some(false);
    match report.signatures.first_mut() {
        Some(sig) if report.kind == ses::Kind::Signature => {
            sig.valid &= !failed;
            sig.checks.push(check);
        }
        _ => report.checks.push(check),
    }
    report.valid &= !failed;
}

fn mark(c: &Check) -> &'static str {
    match c.ok {
        Some(true) => "ok  ",
        Some(false) => "FAIL",
        None => "--  ",
    }
}

fn verdict(valid: bool, checks: &[Check]) -> String {
    let skipped = checks.iter().filter(|c| c.ok.is_none()).count();
    match (valid, skipped) {
        (false, _) => "NOT VALID".into(),
        (true, 0) => "VALID".into(),
        (true, n) => format!("VALID ({n} check(s) not done, marked --)"),
    }
}

fn print_report(io: &mut Io<'_>, file: &Path, r: &Report) {
    let kind = serde_json::to_value(r.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    say!(
        io,
        "{}: {kind}: {}",
        file.display(),
        verdict(r.valid, &r.checks)
    );
    for c in &r.checks {
        say!(io, "  [{}] {}: {}", mark(c), c.name, c.detail);
    }
    for s in &r.signatures {
        say!(
            io,
            "signature {} ({}): {}",
            s.id,
            s.kind,
            verdict(s.valid, &s.checks)
        );
        for c in &s.checks {
            say!(io, "  [{}] {}: {}", mark(c), c.name, c.detail);
        }
    }
    if !r.readable() {
        say!(
            io,
            "the file could not be read as a seal, seal signature or OFD package"
        );
    }
}

/// The fields of `sealdesk seal make`.
#[derive(Debug, clap::Args)]
pub struct MakeArgs {
    /// The seal image (PNG).
    #[arg(long, value_name = "PNG")]
    picture: PathBuf,
    /// Seal name, e.g. 某某有限公司合同专用章.
    #[arg(long)]
    name: String,
    /// Seal type: 1 organisation (单位印章), 2 person (个人印章), or a business code.
    #[arg(long = "type", value_name = "N")]
    seal_type: i64,
    /// Certificate of a signer allowed to use the seal (PEM or DER); repeatable.
    #[arg(long, value_name = "CERT.pem", required = true)]
    signer_cert: Vec<PathBuf>,
    /// The seal maker's certificate (PEM or DER).
    #[arg(long, value_name = "CERT.pem")]
    maker_cert: PathBuf,
    /// The seal maker's SM2 private key (PKCS#8 or SEC1, PEM or DER, unencrypted).
    #[arg(long, value_name = "KEY.pem")]
    maker_key: PathBuf,
    /// Start of validity (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    valid_from: Option<String>,
    /// End of validity (RFC 3339); default the earliest expiry of the signer and maker certificates.
    #[arg(long, value_name = "RFC3339")]
    valid_to: Option<String>,
    /// Printed size of the picture in millimetres, `WIDTHxHEIGHT`; default from the PNG's resolution, else 40x40.
    #[arg(long, value_name = "WxH")]
    size_mm: Option<String>,
    /// Seal id (esID, ASCII); default derived from the seal's contents.
    #[arg(long)]
    es_id: Option<String>,
    /// Vendor id written in the header.
    #[arg(long, default_value = "SealDesk")]
    vid: String,
}

fn time_arg(flag: &str, v: Option<&str>) -> Result<Option<i64>, String> {
    v.map(|s| {
        ses::time::parse_rfc3339(s).ok_or_else(|| {
            format!("{flag} {s:?} is not an RFC 3339 time such as 2026-11-27T09:44:00Z")
        })
    })
    .transpose()
}

/// Printed size from the PNG's pHYs chunk (pixels per metre), if it has one.
fn png_size_mm(png: &[u8]) -> Option<(i64, i64)> {
    let w = u32::from_be_bytes(png.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(png.get(20..24)?.try_into().ok()?);
    let mut pos = 8usize;
    while let Some(len_bytes) = png.get(pos..pos + 4) {
        let len = u32::from_be_bytes(len_bytes.try_into().ok()?) as usize;
        let kind = png.get(pos + 4..pos + 8)?;
        if kind == b"pHYs" {
            let d = png.get(pos + 8..pos + 17)?;
            let ppm_x = u32::from_be_bytes(d.get(0..4)?.try_into().ok()?);
            let ppm_y = u32::from_be_bytes(d.get(4..8)?.try_into().ok()?);
            if d.get(8) != Some(&1) || ppm_x == 0 || ppm_y == 0 {
                return None;
            }
            let mm = |px: u32, ppm: u32| {
                ((f64::from(px) * 1000.0 / f64::from(ppm)).round() as i64).max(1)
            };
            return Some((mm(w, ppm_x), mm(h, ppm_y)));
        }
        if kind == b"IDAT" {
            return None;
        }
        pos = pos.checked_add(12)?.checked_add(len)?;
    }
    None
}

fn make(a: &MakeArgs) -> Result<Vec<u8>, String> {
    let picture = read(&a.picture)?;
    if !picture.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("{} is not a PNG image", a.picture.display()));
    }
    let (width_mm, height_mm) = match &a.size_mm {
        Some(s) => {
            let (w, h) = s
                .split_once(['x', 'X', '×'])
                .ok_or_else(|| format!("--size-mm {s:?} should look like 40x40"))?;
            let parse = |v: &str| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("--size-mm {s:?} should look like 40x40"))
            };
            (parse(w)?, parse(h)?)
        }
        None => png_size_mm(&picture).unwrap_or((40, 40)),
    };
    let mut signers = Vec::new();
    for p in &a.signer_cert {
        signers.extend(read_certs(p)?);
    }
    let maker_cert = read_certs(&a.maker_cert)?
        .into_iter()
        .next()
        .ok_or("no maker certificate")?;
    let key = read_key(&a.maker_key)?;
    let created = now();
    let valid_start = time_arg("--valid-from", a.valid_from.as_deref())?.unwrap_or(created);
    let valid_end = match time_arg("--valid-to", a.valid_to.as_deref())? {
        Some(t) => t,
        None => signers
            .iter()
            .chain(std::iter::once(&maker_cert))
            .filter_map(|c| ses::parse_certificate(c).ok())
            .map(|c| c.not_after)
            .min()
            .ok_or("cannot tell when the certificates expire; give --valid-to")?,
    };
    let es_id = match &a.es_id {
        Some(id) => id.clone(),
        None => {
            // Unique enough without a registry: the digest of what makes this seal, including the time.
            let mut seed = Vec::new();
            seed.extend_from_slice(a.name.as_bytes());
            seed.extend_from_slice(&created.to_be_bytes());
            seed.extend_from_slice(&maker_cert);
            signers.iter().for_each(|c| seed.extend_from_slice(c));
            ses::sm3(&seed)
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    };
    let req = SealRequest {
        es_id,
        seal_type: a.seal_type,
        name: a.name.clone(),
        cert_list: CertList::Certs(signers),
        create_date: created,
        valid_start,
        valid_end,
        picture: Picture {
            kind: "PNG".into(),
            data: picture,
            width_mm,
            height_mm,
        },
        vid: a.vid.clone(),
        ext_datas: Vec::new(),
    };
    ses::make_seal(&req, &maker_cert, &key).map_err(|e| e.to_string())
}

/// Text form of a parsed file, shared by `inspect`.
pub(crate) fn version_words(p: &Parsed) -> String {
    match p {
        Parsed::Seal(s) => format!("seal, {:?} ({})", s.version, s.version.standard()),
        Parsed::Signature(s) => {
            format!("seal signature, {:?} ({})", s.version, s.version.standard())
        }
    }
}
