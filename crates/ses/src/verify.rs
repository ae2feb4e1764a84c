//! Verification of seals and seal signatures, step by step as GB/T 38540 orders them, with a report an
//! operator can read: each check has a stable name, a verdict (passed, failed, or not checked) and a reason.

use serde::Serialize;

use crate::cert::{CertInfo, parse_certificate, window};
use crate::error::Error;
use crate::seal::{self, CertList, Parsed, Seal, SesSignature};
use crate::sm;
use crate::time::format_rfc3339;

/// What to verify against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// Trust anchors (DER certificates): a certificate is trusted when one of these is it or signed it.
    pub trust: Vec<Vec<u8>>,
    /// The time to check seals against, Unix seconds. Signatures are checked at their signing time.
    pub at: i64,
    /// Whether to check certificate chains; without anchors the chain is reported as not checked.
    pub check_chain: bool,
}

/// What kind of file a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An electronic seal (`SESeal`).
    Seal,
    /// A seal signature (`SES_Signature`).
    Signature,
    /// An OFD package holding signatures.
    Ofd,
}

/// One verification step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name: `format`, `seal.signature`, `seal.maker-cert`, `seal.validity`, `signature.value`,
    /// `signature.signer-cert`, `signature.signer-in-certlist`, `ofd.references`, `ofd.data-hash`.
    pub name: &'static str,
    /// `Some(true)` passed, `Some(false)` failed, `None` not checked.
    pub ok: Option<bool>,
    /// Why, in words.
    pub detail: String,
}

impl Check {
    pub(crate) fn new(name: &'static str, ok: Option<bool>, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok,
            detail: detail.into(),
        }
    }
}

/// The checks of one signature (and of the seal embedded in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// The signature's id (OFD `Signature@ID`; `signature` for a standalone file).
    pub id: String,
    /// `ses` for a seal signature; `gbt35275`, `raw` or `unknown` for other OFD signatures, which are not checked.
    pub kind: String,
    /// True when no check failed.
    pub valid: bool,
    /// The steps.
    pub checks: Vec<Check>,
}

/// The result of verifying a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True when no check failed anywhere (checks that were not done do not count as failures).
    pub valid: bool,
    /// What the file is.
    pub kind: Kind,
    /// Checks of the file itself (for a seal, all of them).
    pub checks: Vec<Check>,
    /// One entry per signature.
    pub signatures: Vec<SignatureReport>,
}

fn no_failure(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok != Some(false))
}

impl Report {
    pub(crate) fn new(kind: Kind, checks: Vec<Check>, signatures: Vec<SignatureReport>) -> Self {
        let valid = no_failure(&checks) && signatures.iter().all(|s| s.valid);
        Report {
            valid,
            kind,
            checks,
            signatures,
        }
    }

    /// Whether the file could be read at all (its top-level `format` check did not fail).
    pub fn readable(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.name != "format" || c.ok != Some(false))
    }

    /// Process exit code: 0 every check passed, 1 well-formed but a check failed, 2 unreadable.
    pub fn exit_code(&self) -> i32 {
        if !self.readable() {
            2
        } else if !self.valid {
            1
        } else {
            0
        }
    }
}

impl SignatureReport {
    pub(crate) fn new(id: String, kind: &str, checks: Vec<Check>) -> Self {
        SignatureReport {
            id,
            kind: kind.to_string(),
            valid: no_failure(&checks),
            checks,
        }
    }
}

/// Verifies a seal or a seal signature (DER, any version). A seal's checks go in `checks`; a signature's, with its
/// embedded seal's, in one entry of `signatures`.
pub fn verify_seal(bytes: &[u8], opts: &VerifyOptions) -> Report {
    let trailing = seal::outer(bytes).map(|(_, t)| t).unwrap_or(0);
    match seal::parse(bytes) {
        Err(e) => {
            let kind = if looks_like_signature(bytes) {
                Kind::Signature
            } else {
                Kind::Seal
            };
            Report::new(
                kind,
                vec![Check::new(
                    "format",
                    Some(false),
                    format!("the file cannot be read: {e}"),
                )],
                Vec::new(),
            )
        }
        Ok(Parsed::Seal(s)) => {
            let mut checks = vec![Check::new(
                "format",
                Some(true),
                seal_format_words(&s, trailing),
            )];
            checks.extend(seal_checks(&s, opts, opts.at, "at the verification time"));
            Report::new(Kind::Seal, checks, Vec::new())
        }
        Ok(Parsed::Signature(sig)) => {
            let format = Check::new("format", Some(true), signature_format_words(&sig, trailing));
            let entry =
                SignatureReport::new("signature".into(), "ses", signature_checks(&sig, opts));
            Report::new(Kind::Signature, vec![format], vec![entry])
        }
    }
}

fn looks_like_signature(bytes: &[u8]) -> bool {
    seal::outer(bytes)
        .ok()
        .and_then(|(t, _)| crate::tlv::read(t.value, "x").ok())
        .and_then(|(first, _)| first.value.first().copied())
        == Some(crate::tlv::INTEGER)
}

pub(crate) fn seal_format_words(s: &Seal, trailing: usize) -> String {
    let mut w = format!(
        "{:?} seal ({}): \"{}\", esID {}, vendor {}, type {}",
        s.version,
        s.version.standard(),
        s.property.name,
        s.es_id,
        s.header.vid,
        s.property.seal_type
    );
    if s.time_stamp.is_some() {
        w.push_str("; carries a seal timestamp (not checked)");
    }
    if trailing > 0 {
        w.push_str(&format!(
            "; {trailing} extra bytes after the seal were ignored"
        ));
    }
    w
}

pub(crate) fn signature_format_words(s: &SesSignature, trailing: usize) -> String {
    let mut w = format!(
        "{:?} seal signature ({}) with seal \"{}\", signed {}",
        s.version,
        s.version.standard(),
        s.seal.property.name,
        s.time_info
    );
    if s.time_stamp.is_some() {
        w.push_str("; carries a timestamp (not checked)");
    }
    if trailing > 0 {
        w.push_str(&format!(
            "; {trailing} extra bytes after the signature were ignored"
        ));
    }
    w
}

/// Verifies `signed` against `signature` made with the key of `cert_der`; returns the verdict and words.
fn signature_step(
    role: &str,
    cert: &Result<CertInfo, Error>,
    alg: &str,
    signed: &[u8],
    value: &[u8],
    over: &str,
) -> (bool, String, Option<(CertInfo, sm2::dsa::Signature)>) {
    if alg != sm::SM2_SM3 {
        return (
            false,
            format!(
                "the {role} signature uses algorithm {alg}, which is not supported (only SM2 with SM3, {})",
                sm::SM2_SM3
            ),
            None,
        );
    }
    let cert = match cert {
        Ok(c) => c,
        Err(e) => {
            return (
                false,
                format!(
                    "the {role} certificate cannot be read ({e}), so the signature cannot be checked"
                ),
                None,
            );
        }
    };
    let key = match cert.sm2_key() {
        Ok(k) => k,
        Err(e) => {
            return (
                false,
                format!("the {role} certificate's key cannot be used: {e}"),
                None,
            );
        }
    };
    let (sig, form) = match sm::decode_signature(value) {
        Ok(x) => x,
        Err(e) => {
            return (
                false,
                format!("the {role} signature value cannot be read: {e}"),
                None,
            );
        }
    };
    if sm::verify(&key, signed, &sig) {
        (
            true,
            format!(
                "the {role} signature is correct (SM2/SM3, {}, over {over})",
                form.describe(value.len())
            ),
            None,
        )
    } else {
        (
            false,
            format!(
                "the {role} signature does not match: {over} was changed after signing, or it was signed with another key ({})",
                form.describe(value.len())
            ),
            Some((cert.clone(), sig)),
        )
    }
}

/// The three checks of a seal: maker signature, maker certificate, validity window at `at`.
pub(crate) fn seal_checks(s: &Seal, opts: &VerifyOptions, at: i64, when: &str) -> Vec<Check> {
    let over = if s.version == seal::Version::V1 {
        "SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}"
    } else {
        "SES_SealInfo"
    };
    // parsed once for both steps
    let maker = parse_certificate(&s.maker_cert);
    let (ok, detail, _) = signature_step(
        "seal maker",
        &maker,
        &s.sign_alg,
        s.signed_bytes(),
        &s.signed_value,
        over,
    );
    let sig = Check::new("seal.signature", Some(ok), detail);
    let cert = cert_check(
        "seal.maker-cert",
        "seal maker",
        (&s.maker_cert, &maker),
        opts,
        at,
        when,
    );
    let p = &s.property;
    let validity = if p.valid_start.unix > p.valid_end.unix {
        Check::new(
            "seal.validity",
            Some(false),
            format!(
                "the seal's validity window ends ({}) before it starts ({})",
                p.valid_end.text, p.valid_start.text
            ),
        )
    } else if at < p.valid_start.unix {
        Check::new(
            "seal.validity",
            Some(false),
            format!(
                "the seal is not yet valid {when} {}: it is valid {}",
                format_rfc3339(at),
                window(p.valid_start.unix, p.valid_end.unix)
            ),
        )
    } else if at > p.valid_end.unix {
        Check::new(
            "seal.validity",
            Some(false),
            format!(
                "the seal had expired {when} {}: it was valid {}",
                format_rfc3339(at),
                window(p.valid_start.unix, p.valid_end.unix)
            ),
        )
    } else {
        Check::new(
            "seal.validity",
            Some(true),
            format!(
                "the seal is valid {when} {} (valid {})",
                format_rfc3339(at),
                window(p.valid_start.unix, p.valid_end.unix)
            ),
        )
    };
    vec![sig, cert, validity]
}

/// Certificate step: readable, SM2, valid at `at`, key usage allows signing, and (if asked) chains to an anchor.
fn cert_check(
    name: &'static str,
    role: &str,
    (der, parsed): (&[u8], &Result<CertInfo, Error>),
    opts: &VerifyOptions,
    at: i64,
    when: &str,
) -> Check {
    let c = match parsed {
        Ok(c) => c,
        Err(e) => {
            return Check::new(
                name,
                Some(false),
                format!("the {role} certificate cannot be read: {e}"),
            );
        }
    };
    let who = format!("the {role} certificate \"{}\"", c.subject);
    if at < c.not_before || at > c.not_after {
        let state = if at < c.not_before {
            "is not yet valid"
        } else {
            "had expired"
        };
        return Check::new(
            name,
            Some(false),
            format!(
                "{who} {state} {when} {} (valid {})",
                format_rfc3339(at),
                window(c.not_before, c.not_after)
            ),
        );
    }
    if !c.may_sign() {
        let ku = c.key_usage.clone().unwrap_or_default().join(", ");
        return Check::new(
            name,
            Some(false),
            format!("{who} may not be used for signatures (key usage: {ku})"),
        );
    }
    let base = format!("{who} is valid {when} {} and may sign", format_rfc3339(at));
    if !opts.check_chain {
        return Check::new(
            name,
            None,
            format!("{base}; its chain was not checked (chain checking is off)"),
        );
    }
    if opts.trust.is_empty() {
        return Check::new(
            name,
            None,
            format!("{base}; its chain was not checked (no trust anchor was given)"),
        );
    }
    match chain(c, der, &opts.trust, at) {
        Ok(words) => Check::new(name, Some(true), format!("{base}; {words}")),
        Err(words) => Check::new(name, Some(false), format!("{who}: {words}")),
    }
}

/// One-step chain: the certificate is an anchor, or an anchor (valid at `at`, allowed to sign certificates) signed it.
fn chain(c: &CertInfo, der: &[u8], trust: &[Vec<u8>], at: i64) -> Result<String, String> {
    if trust.iter().any(|t| t.as_slice() == der) {
        return Ok("it is itself a trust anchor".into());
    }
    let mut reasons = Vec::new();
    for anchor in trust.iter().filter_map(|t| parse_certificate(t).ok()) {
        if anchor.subject_raw != c.issuer_raw {
            continue;
        }
        match c.signed_by(&anchor) {
            Ok(true) => {
                if at < anchor.not_before || at > anchor.not_after {
                    reasons.push(format!(
                        "its issuer \"{}\" is trusted but not valid at {} (valid {})",
                        anchor.subject,
                        format_rfc3339(at),
                        window(anchor.not_before, anchor.not_after)
                    ));
                } else if anchor.is_ca == Some(false) || !anchor.may_sign_certs() {
                    reasons.push(format!(
                        "its issuer \"{}\" is not allowed to issue certificates",
                        anchor.subject
                    ));
                } else {
                    return Ok(format!("issued by the trust anchor \"{}\"", anchor.subject));
                }
            }
            Ok(false) => reasons.push(format!(
                "the trust anchor \"{}\" has its issuer's name but did not sign it",
                anchor.subject
            )),
            Err(e) => reasons.push(format!(
                "its signature by \"{}\" cannot be checked: {e}",
                anchor.subject
            )),
        }
    }
    if reasons.is_empty() {
        Err(format!(
            "it was issued by \"{}\", which is not among the trust anchors given",
            c.issuer
        ))
    } else {
        Err(reasons.join("; "))
    }
}

/// The checks of a seal signature: value, signer certificate, signer listed in the seal, then the seal itself,
/// all at the signing time the signature claims (or `opts.at` when it has none that can be read).
pub(crate) fn signature_checks(s: &SesSignature, opts: &VerifyOptions) -> Vec<Check> {
    let (at, when) = match s.signing_time {
        Some(t) => (t, "at the claimed signing time"),
        None => (opts.at, "at the verification time"),
    };
    let signer = parse_certificate(&s.signer_cert);
    let (ok, mut detail, failed) = signature_step(
        "document",
        &signer,
        &s.sign_alg,
        s.signed_bytes(),
        &s.signature,
        "TBS_Sign",
    );
    if let Some((cert, sig)) = failed
        && let Ok(key) = cert.sm2_key()
        && sm::verify_digest_mode(&key, &s.data_hash, &sig)
    {
        detail = "the document signature does not follow the standard: it was made over dataHash directly as the digest (a vendor's \"digest mode\"), not over TBS_Sign, so TBS_Sign is not protected".into();
    }
    let mut checks = vec![Check::new("signature.value", Some(ok), detail)];
    checks.push(cert_check(
        "signature.signer-cert",
        "signer",
        (&s.signer_cert, &signer),
        opts,
        at,
        when,
    ));
    checks.push(signer_listed(s));
    checks.extend(seal_checks(&s.seal, opts, at, when));
    checks
}

fn signer_listed(s: &SesSignature) -> Check {
    const NAME: &str = "signature.signer-in-certlist";
    match &s.seal.property.cert_list {
        CertList::Certs(certs) if certs.is_empty() => Check::new(
            NAME,
            Some(false),
            "the seal lists no signer certificates, so nobody is allowed to use it",
        ),
        CertList::Certs(certs) => {
            if certs.iter().any(|c| c == &s.signer_cert) {
                Check::new(
                    NAME,
                    Some(true),
                    format!(
                        "the signer certificate is one of the {} certificate(s) the seal allows",
                        certs.len()
                    ),
                )
            } else {
                Check::new(
                    NAME,
                    Some(false),
                    "the signer certificate is not among the certificates the seal allows: someone not entitled to this seal signed",
                )
            }
        }
        CertList::Digests(digests) => {
            let sm3 = sm::sm3(&s.signer_cert);
            let usable: Vec<_> = digests
                .iter()
                .filter(|d| {
                    d.kind.eq_ignore_ascii_case("sm3")
                        || d.kind.starts_with("1.2.156.10197.1.401")
                        || d.value.len() == 32
                })
                .collect();
            if usable.iter().any(|d| d.value == sm3) {
                Check::new(
                    NAME,
                    Some(true),
                    "the SM3 digest of the signer certificate is listed in the seal",
                )
            } else if usable.is_empty() {
                let kinds: Vec<&str> = digests.iter().map(|d| d.kind.as_str()).collect();
                Check::new(
                    NAME,
                    Some(false),
                    format!(
                        "the seal lists certificate digests of types {kinds:?}, which cannot be checked (only SM3 is supported)"
                    ),
                )
            } else {
                Check::new(
                    NAME,
                    Some(false),
                    "the signer certificate's SM3 digest is not listed in the seal: someone not entitled to this seal signed",
                )
            }
        }
    }
}

/// Checks only the maker signature of a seal against a known maker public key (e.g. the platform's own).
pub fn verify_maker_signature(seal_der: &[u8], maker_key: &sm2::PublicKey) -> Result<(), Error> {
    let seal = match seal::parse(seal_der)? {
        Parsed::Seal(s) => s,
        Parsed::Signature(_) => {
            return Err(Error::NotSes("this is a seal signature, not a seal".into()));
        }
    };
    if seal.sign_alg != sm::SM2_SM3 {
        return Err(Error::UnsupportedAlgorithm(seal.sign_alg));
    }
    let key = sm2::dsa::VerifyingKey::new(sm::DIST_ID, *maker_key)
        .map_err(|_| Error::Key("unusable SM2 public key".into()))?;
    let (sig, _) = sm::decode_signature(&seal.signed_value)?;
    if sm::verify(&key, seal.signed_bytes(), &sig) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}
