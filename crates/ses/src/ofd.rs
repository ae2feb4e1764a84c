//! OFD packages (GB/T 33190): find every signature through OFD.xml → Signatures.xml → Signature.xml, check the
//! References digests and dataHash = SM3(Signature.xml), and verify each seal signature. Works on the package
//! bytes in memory; files are never rewritten, because re-serialised XML breaks the digests.

use std::io::Read;

use base64::Engine;

use crate::error::Error;
use crate::seal::{self, Parsed};
use crate::sm;
use crate::tlv;
use crate::verify::{
    Check, Kind, Report, SignatureReport, VerifyOptions, signature_checks, signature_format_words,
};

/// Largest OFD package read (the seals inside are still limited to 10 MB each).
const MAX_PACKAGE: usize = 256 * 1024 * 1024;
/// Largest single member read from the package.
const MAX_MEMBER: u64 = 64 * 1024 * 1024;
/// Total bytes decompressed per package, against zip bombs.
const MAX_TOTAL: u64 = 512 * 1024 * 1024;
const MAX_MEMBERS: usize = 100_000;

/// One `<Reference>` of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfdReference {
    /// `FileRef` as written.
    pub file: String,
    /// `None` when the file is missing from the package; otherwise whether its digest matches `CheckValue`.
    pub matches: Option<bool>,
}

/// One signature listed in an OFD package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfdSignature {
    /// `Signature@ID`.
    pub id: String,
    /// `Signature@Type`: `Seal` (also when absent) or `Sign`.
    pub kind: String,
    /// Package path of Signature.xml.
    pub signature_xml_path: String,
    /// The exact bytes of Signature.xml (empty if it is missing).
    pub signature_xml: Vec<u8>,
    /// Package path of the signed value.
    pub signed_value_path: String,
    /// The signed value (SignedValue.dat), empty if missing.
    pub signed_value: Vec<u8>,
    /// `References@CheckMethod`.
    pub check_method: String,
    /// The references with their digest verdicts (`None` for all when the method is not supported).
    pub references: Vec<OfdReference>,
    /// Why this signature's files could not be read, if they could not.
    pub problem: Option<String>,
}

/// Whether `bytes` look like an OFD package (a zip file).
pub fn is_ofd(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

struct Package<'a> {
    zip: zip::ZipArchive<std::io::Cursor<&'a [u8]>>,
    budget: u64,
}

/// Joins and normalises a package path (`/` is the package root; `.` and `..` are resolved).
fn resolve(base_dir: &str, path: &str) -> String {
    let path = path.trim().replace('\\', "/");
    let joined = if path.starts_with('/') {
        path
    } else {
        format!("{base_dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

impl Package<'_> {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
        let mut f = self
            .zip
            .by_name(path)
            .map_err(|_| format!("{path} is missing from the package"))?;
        let limit = MAX_MEMBER.min(self.budget);
        let mut out = Vec::new();
        (&mut f)
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("{path} cannot be unpacked: {e}"))?;
        if out.len() as u64 > limit {
            return Err(format!("{path} is too large to unpack"));
        }
        self.budget = self.budget.saturating_sub(out.len() as u64);
        Ok(out)
    }

    fn exists(&self, path: &str) -> bool {
        self.zip.index_for_name(path).is_some()
    }
}

fn xml_text(bytes: &[u8]) -> Result<&str, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 XML".to_string())?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

fn xml<'a>(bytes: &'a [u8], what: &str) -> Result<roxmltree::Document<'a>, String> {
    let text = xml_text(bytes).map_err(|e| format!("{what}: {e}"))?;
    roxmltree::Document::parse(text).map_err(|e| format!("{what} is not well-formed XML: {e}"))
}

fn elements<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    local: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == local)
}

fn child_text(node: roxmltree::Node<'_, '_>, local: &str) -> Option<String> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == local)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
}

/// Lists every signature in an OFD package, with its files and reference digests checked.
pub fn read_ofd(bytes: &[u8]) -> Result<Vec<OfdSignature>, Error> {
    if bytes.len() > MAX_PACKAGE {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: MAX_PACKAGE,
        });
    }
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::Ofd(format!("not a readable zip package: {e}")))?;
    if zip.len() > MAX_MEMBERS {
        return Err(Error::Ofd(format!(
            "the package has {} files, too many",
            zip.len()
        )));
    }
    let mut pkg = Package {
        zip,
        budget: MAX_TOTAL,
    };
    let ofd_xml = pkg.read("OFD.xml").map_err(Error::Ofd)?;
    let lists: Vec<String> = {
        let doc = xml(&ofd_xml, "OFD.xml").map_err(Error::Ofd)?;
        elements(&doc, "Signatures")
            .filter_map(|n| n.text())
            .map(|t| resolve("", t))
            .collect()
    };
    let mut out = Vec::new();
    for list in lists {
        let data = pkg.read(&list).map_err(Error::Ofd)?;
        let entries: Vec<(String, String, String)> = {
            let doc = xml(&data, &list).map_err(Error::Ofd)?;
            elements(&doc, "Signature")
                .map(|n| {
                    let id = n.attribute("ID").unwrap_or("").to_string();
                    let kind = n.attribute("Type").unwrap_or("Seal").to_string();
                    (
                        id,
                        kind,
                        resolve(dir_of(&list), n.attribute("BaseLoc").unwrap_or("")),
                    )
                })
                .collect()
        };
        for (id, kind, path) in entries {
            out.push(read_signature(&mut pkg, id, kind, path));
        }
    }
    Ok(out)
}

fn read_signature(pkg: &mut Package<'_>, id: String, kind: String, path: String) -> OfdSignature {
    let mut sig = OfdSignature {
        id,
        kind,
        signature_xml_path: path.clone(),
        signature_xml: Vec::new(),
        signed_value_path: String::new(),
        signed_value: Vec::new(),
        check_method: String::new(),
        references: Vec::new(),
        problem: None,
    };
    let xml_bytes = match pkg.read(&path) {
        Ok(b) => b,
        Err(e) => {
            sig.problem = Some(e);
            return sig;
        }
    };
    // (CheckMethod, SignedValue path, [(FileRef, CheckValue)])
    type Parts = (String, String, Vec<(String, String)>);
    let parsed = (|| -> Result<Parts, String> {
        let doc = xml(&xml_bytes, &path)?;
        let refs_node = elements(&doc, "References").next();
        let method = refs_node
            .and_then(|n| n.attribute("CheckMethod"))
            .unwrap_or("")
            .trim()
            .to_string();
        let refs = elements(&doc, "Reference")
            .map(|r| {
                (
                    r.attribute("FileRef").unwrap_or("").to_string(),
                    child_text(r, "CheckValue").unwrap_or_default(),
                )
            })
            .collect();
        let value = elements(&doc, "SignedValue")
            .find_map(|n| n.text())
            .map(str::trim)
            .unwrap_or("")
            .to_string();
        Ok((method, value, refs))
    })();
    let (method, value, refs) = match parsed {
        Ok(x) => x,
        Err(e) => {
            sig.problem = Some(e);
            sig.signature_xml = xml_bytes;
            return sig;
        }
    };
    let dir = dir_of(&path).to_string();
    sig.check_method = method;
    let sm3_method = is_sm3(&sig.check_method);
    for (file, check) in refs {
        let target = locate(pkg, &dir, &file);
        let matches = match pkg.read(&target) {
            Err(_) => None,
            Ok(content) if sm3_method => {
                let expected = base64::engine::general_purpose::STANDARD
                    .decode(check.split_whitespace().collect::<String>())
                    .unwrap_or_default();
                Some(expected == sm::sm3(&content))
            }
            Ok(_) => None,
        };
        sig.references.push(OfdReference { file, matches });
    }
    sig.signed_value_path = locate(pkg, &dir, &value);
    match pkg.read(&sig.signed_value_path) {
        Ok(v) => sig.signed_value = v,
        Err(e) => sig.problem = Some(e),
    }
    sig.signature_xml = xml_bytes;
    sig
}

/// A referenced path: absolute from the package root, else relative to Signature.xml, else to the root.
fn locate(pkg: &Package<'_>, dir: &str, file: &str) -> String {
    let rel = resolve(dir, file);
    if file.trim().starts_with('/') || pkg.exists(&rel) {
        rel
    } else {
        resolve("", file)
    }
}

fn is_sm3(method: &str) -> bool {
    // Seen as "SM3", "1.2.156.10197.1.401" and "1.2.156.10197.1.401.2" (the last with plain SM3 digests).
    method.eq_ignore_ascii_case("sm3")
        || method.starts_with("1.2.156.10197.1.401")
        || method.is_empty()
}

/// Verifies every signature in an OFD package and reports each.
pub fn verify_ofd(bytes: &[u8], opts: &VerifyOptions) -> Report {
    let sigs = match read_ofd(bytes) {
        Ok(s) => s,
        Err(e) => {
            return Report::new(
                Kind::Ofd,
                vec![Check::new(
                    "format",
                    Some(false),
                    format!("the OFD package cannot be read: {e}"),
                )],
                Vec::new(),
            );
        }
    };
    if sigs.is_empty() {
        return Report::new(
            Kind::Ofd,
            vec![Check::new(
                "format",
                Some(false),
                "the OFD package holds no signatures",
            )],
            Vec::new(),
        );
    }
    let format = Check::new(
        "format",
        Some(true),
        format!("OFD package with {} signature(s)", sigs.len()),
    );
    let entries = sigs.iter().map(|s| verify_one(s, opts)).collect();
    Report::new(Kind::Ofd, vec![format], entries)
}

fn references_check(s: &OfdSignature) -> Check {
    const NAME: &str = "ofd.references";
    if !is_sm3(&s.check_method) {
        return Check::new(
            NAME,
            None,
            format!(
                "digest method {:?} is not supported; the protected files were not checked",
                s.check_method
            ),
        );
    }
    if s.references.is_empty() {
        return Check::new(
            NAME,
            Some(false),
            "the signature protects no files (no References)",
        );
    }
    let changed: Vec<&str> = s
        .references
        .iter()
        .filter(|r| r.matches == Some(false))
        .map(|r| r.file.as_str())
        .collect();
    let missing: Vec<&str> = s
        .references
        .iter()
        .filter(|r| r.matches.is_none())
        .map(|r| r.file.as_str())
        .collect();
    let n = s.references.len();
    if changed.is_empty() && missing.is_empty() {
        Check::new(
            NAME,
            Some(true),
            format!("all {n} protected files are unchanged"),
        )
    } else {
        let mut words = Vec::new();
        if !changed.is_empty() {
            words.push(format!(
                "{} of {n} protected files were changed after signing: {}",
                changed.len(),
                changed.join(", ")
            ));
        }
        if !missing.is_empty() {
            words.push(format!(
                "{} of {n} protected files are missing: {}",
                missing.len(),
                missing.join(", ")
            ));
        }
        Check::new(NAME, Some(false), words.join("; "))
    }
}

/// What a non-SES signed value is: GB/T 35275 SignedData, a bare SM2 signature, or unknown.
fn other_kind(value: &[u8]) -> &'static str {
    let content_type = tlv::read(value, "ContentInfo")
        .ok()
        .and_then(|(t, _)| tlv::read(t.value, "contentType").ok())
        .and_then(|(o, _)| tlv::oid(&o, "contentType").ok());
    match content_type.as_deref() {
        Some("1.2.156.10197.6.1.4.2.2" | "1.2.840.113549.1.7.2") => "gbt35275",
        _ if sm::decode_signature(value).is_ok() => "raw",
        _ => "unknown",
    }
}

fn verify_one(s: &OfdSignature, opts: &VerifyOptions) -> SignatureReport {
    if let Some(p) = &s.problem {
        let mut checks = vec![Check::new(
            "format",
            Some(false),
            format!("the signature's files cannot be read: {p}"),
        )];
        if !s.references.is_empty() {
            checks.push(references_check(s));
        }
        return SignatureReport::new(s.id.clone(), "unknown", checks);
    }
    let refs = references_check(s);
    match seal::parse(&s.signed_value) {
        Ok(Parsed::Signature(sig)) => {
            let trailing = seal::outer(&s.signed_value).map(|(_, t)| t).unwrap_or(0);
            let mut checks = vec![Check::new(
                "format",
                Some(true),
                signature_format_words(&sig, trailing),
            )];
            checks.extend(signature_checks(&sig, opts));
            checks.push(refs);
            let digest = sm::sm3(&s.signature_xml);
            checks.push(if digest[..] == sig.data_hash[..] {
                Check::new(
                    "ofd.data-hash",
                    Some(true),
                    format!("dataHash equals SM3({})", s.signature_xml_path),
                )
            } else {
                Check::new(
                    "ofd.data-hash",
                    Some(false),
                    format!(
                        "dataHash differs from SM3({}): Signature.xml was changed after signing",
                        s.signature_xml_path
                    ),
                )
            });
            SignatureReport::new(s.id.clone(), "ses", checks)
        }
        Ok(Parsed::Seal(_)) => SignatureReport::new(
            s.id.clone(),
            "unknown",
            vec![
                Check::new(
                    "format",
                    Some(false),
                    format!("{} holds a seal, not a signature", s.signed_value_path),
                ),
                refs,
            ],
        ),
        Err(e) => {
            let kind = other_kind(&s.signed_value);
            let words = match kind {
                "gbt35275" => "a GB/T 35275 (PKCS#7 SignedData) digital signature, not a seal signature; its value is not checked".to_string(),
                "raw" => "a bare SM2 signature value, not a seal signature; it is not checked".to_string(),
                _ if s.kind.eq_ignore_ascii_case("sign") => format!("an unrecognised digital signature ({e}); it is not checked"),
                _ => return SignatureReport::new(s.id.clone(), "unknown", vec![Check::new("format", Some(false), format!("{} cannot be read as a seal signature: {e}", s.signed_value_path)), refs]),
            };
            SignatureReport::new(
                s.id.clone(),
                kind,
                vec![
                    Check::new("format", None, words),
                    Check::new("signature.value", None, "not a seal signature; not checked"),
                    refs,
                ],
            )
        }
    }
}
