//! A lenient X.509 reader for what seal verification needs: names, validity, SM2 key, key usage, and the
//! raw to-be-signed bytes for chain checks.
//!
//! Real seal certificates break strict parsers (e.g. an `E=` attribute as UTF8String), so this walks the
//! TLVs itself and reads only the fields it uses.

use serde::Serialize;

use crate::error::Error;
use crate::sm;
use crate::time;
use crate::tlv::{self, Seq, Tlv};

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const SM2_CURVE: &str = "1.2.156.10197.1.301";

/// What a certificate says, as far as seals care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject as `C=CN, O=…, CN=…` in encoded order.
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// Serial number in hex.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// Signature algorithm OID of the issuer's signature.
    pub signature_algorithm: String,
    /// Public key algorithm OID (and curve, when it is an EC key).
    pub key_algorithm: String,
    /// The EC curve OID, if any.
    pub curve: Option<String>,
    /// Key usage names, if the extension is present.
    pub key_usage: Option<Vec<&'static str>>,
    /// basicConstraints cA, if the extension is present.
    pub is_ca: Option<bool>,
    #[serde(skip)]
    pub(crate) public_key: Vec<u8>,
    #[serde(skip)]
    pub(crate) key_usage_bits: Option<u16>,
    #[serde(skip)]
    pub(crate) tbs: Vec<u8>,
    #[serde(skip)]
    pub(crate) signature: Vec<u8>,
    #[serde(skip)]
    pub(crate) issuer_raw: Vec<u8>,
    #[serde(skip)]
    pub(crate) subject_raw: Vec<u8>,
}

const KU_NAMES: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

fn cert_err(why: &str) -> Error {
    Error::Certificate(why.to_string())
}

/// Reads a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, Error> {
    let (top, _) = tlv::read(der, "certificate").map_err(|e| Error::Certificate(e.to_string()))?;
    parse_inner(&top).map_err(|e| match e {
        Error::Certificate(_) => e,
        other => Error::Certificate(other.to_string()),
    })
}

fn parse_inner(top: &Tlv<'_>) -> Result<CertInfo, Error> {
    let mut c = Seq::of(top, "certificate")?;
    let tbs = c.next("tbsCertificate")?;
    let sig_alg = c.next("signatureAlgorithm")?;
    let sig_val = c.next("signatureValue")?;
    let signature_algorithm = tlv::oid(
        &Seq::of(&sig_alg, "signatureAlgorithm")?.next("algorithm")?,
        "signatureAlgorithm",
    )?;
    let signature = tlv::bits(&sig_val, "signatureValue")?.to_vec();

    let mut t = Seq::of(&tbs, "tbsCertificate")?;
    if t.peek_tag() == Some(0xA0) {
        t.next("version")?;
    }
    let serial_tlv = t.next("serialNumber")?;
    if serial_tlv.tag != tlv::INTEGER {
        return Err(cert_err("the serial number is not an INTEGER"));
    }
    t.next("signature")?;
    let issuer = t.next("issuer")?;
    let validity = t.next("validity")?;
    let subject = t.next("subject")?;
    let spki = t.next("subjectPublicKeyInfo")?;
    let mut v = Seq::of(&validity, "validity")?;
    let not_before = crate::seal::asn1_time(&v.next("notBefore")?, "notBefore")?.unix;
    let not_after = crate::seal::asn1_time(&v.next("notAfter")?, "notAfter")?.unix;

    let mut k = Seq::of(&spki, "subjectPublicKeyInfo")?;
    let alg = k.next("algorithm")?;
    let mut a = Seq::of(&alg, "algorithm")?;
    let key_algorithm = tlv::oid(&a.next("algorithm")?, "algorithm")?;
    let curve = match a.is_empty() {
        true => None,
        false => {
            let p = a.next("parameters")?;
            if p.tag == tlv::OID {
                Some(tlv::oid(&p, "parameters")?)
            } else {
                None
            }
        }
    };
    let public_key = tlv::bits(&k.next("subjectPublicKey")?, "subjectPublicKey")?.to_vec();

    let mut key_usage_bits = None;
    let mut is_ca = None;
    while !t.is_empty() {
        let item = t.next("extensions")?;
        if item.tag != 0xA3 {
            continue;
        }
        let (exts, _) = tlv::read(item.value, "extensions")?;
        let mut exts = Seq::of(&exts, "extensions")?;
        while !exts.is_empty() {
            let ext = exts.next("extension")?;
            let mut e = Seq::of(&ext, "extension")?;
            let id = tlv::oid(&e.next("extnID")?, "extnID")?;
            let mut val = e.next("extnValue")?;
            if val.tag == tlv::BOOLEAN {
                val = e.next("extnValue")?;
            }
            let inner = tlv::bytes(&val, "extnValue")?;
            match id.as_str() {
                "2.5.29.15" => {
                    let (b, _) = tlv::read(inner, "keyUsage")?;
                    if b.tag == tlv::BIT_STRING {
                        let bytes = b.value.get(1..).unwrap_or_default();
                        let hi = u16::from(bytes.first().copied().unwrap_or(0));
                        let lo = u16::from(bytes.get(1).copied().unwrap_or(0));
                        // bit 0 (digitalSignature) is the most significant bit of the first byte
                        let mut bits = 0u16;
                        for i in 0..9u16 {
                            let set = if i < 8 {
                                hi & (0x80 >> i) != 0
                            } else {
                                lo & 0x80 != 0
                            };
                            if set {
                                bits |= 1 << i;
                            }
                        }
                        key_usage_bits = Some(bits);
                    }
                }
                "2.5.29.19" => {
                    let (b, _) = tlv::read(inner, "basicConstraints")?;
                    let mut s = Seq::of(&b, "basicConstraints")?;
                    let ca = match s.next("cA") {
                        Ok(x) if x.tag == tlv::BOOLEAN => x.value.first().is_some_and(|&v| v != 0),
                        _ => false,
                    };
                    is_ca = Some(ca);
                }
                _ => {}
            }
        }
    }
    let key_usage = key_usage_bits.map(|bits| {
        KU_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    });
    Ok(CertInfo {
        subject: name_text(subject.value),
        issuer: name_text(issuer.value),
        serial: crate::hex(serial_tlv.value),
        not_before,
        not_after,
        signature_algorithm,
        key_algorithm,
        curve,
        key_usage,
        is_ca,
        public_key,
        key_usage_bits,
        tbs: tbs.raw.to_vec(),
        signature,
        issuer_raw: issuer.raw.to_vec(),
        subject_raw: subject.raw.to_vec(),
    })
}

fn attr_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "2.5.4.9" => "street",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.4" => "SN",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// `C=CN, O=…` from the contents of a Name; unreadable parts are shown as `?`.
fn name_text(value: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut rdns = Seq::new(value);
    while let Ok(rdn) = rdns.next("RDN") {
        let mut atvs = Seq::new(rdn.value);
        while let Ok(atv) = atvs.next("attribute") {
            let mut s = Seq::new(atv.value);
            let oid = s
                .next("type")
                .ok()
                .and_then(|t| tlv::oid(&t, "type").ok())
                .unwrap_or_else(|| "?".into());
            let val = s
                .next("value")
                .ok()
                .and_then(|t| tlv::text(&t, "value").ok())
                .unwrap_or_else(|| "?".into());
            let key = attr_name(&oid).map(str::to_string).unwrap_or(oid);
            parts.push(format!("{key}={val}"));
        }
    }
    parts.join(", ")
}

impl CertInfo {
    /// True when the key is SM2 (id-ecPublicKey on sm2p256v1, or the SM2 OID itself).
    pub fn is_sm2(&self) -> bool {
        (self.key_algorithm == ID_EC_PUBLIC_KEY
            && self.curve.as_deref().is_none_or(|c| c == SM2_CURVE))
            || self.key_algorithm == SM2_CURVE
    }

    /// The SM2 verifying key with the seal distinguishing id.
    pub(crate) fn sm2_key(&self) -> Result<sm2::dsa::VerifyingKey, Error> {
        self.sm2_key_with(sm::DIST_ID)
    }

    pub(crate) fn sm2_key_with(&self, distid: &str) -> Result<sm2::dsa::VerifyingKey, Error> {
        if !self.is_sm2() {
            let what = self.curve.as_ref().map_or(self.key_algorithm.clone(), |c| {
                format!("{} on curve {c}", self.key_algorithm)
            });
            return Err(Error::UnsupportedAlgorithm(format!(
                "{what} (only SM2 keys are supported)"
            )));
        }
        sm::verifying_key(&self.public_key, distid)
    }

    /// Whether key usage allows signing (digitalSignature or nonRepudiation); no extension means no limit.
    pub(crate) fn may_sign(&self) -> bool {
        self.key_usage_bits.is_none_or(|b| b & 0b11 != 0)
    }

    pub(crate) fn may_sign_certs(&self) -> bool {
        self.key_usage_bits.is_none_or(|b| b & (1 << 5) != 0)
    }

    pub(crate) fn public_key_point(&self) -> &[u8] {
        &self.public_key
    }

    /// Whether `issuer`'s key made this certificate's signature. OpenSSL 3.0 signs certificates with an
    /// empty SM2 id unless told otherwise, so the empty id is tried after the standard one.
    pub(crate) fn signed_by(&self, issuer: &CertInfo) -> Result<bool, Error> {
        if self.signature_algorithm != sm::SM2_SM3 {
            return Err(Error::UnsupportedAlgorithm(format!(
                "certificate signature algorithm {}",
                self.signature_algorithm
            )));
        }
        let (sig, _) = sm::decode_signature(&self.signature)?;
        for distid in [sm::DIST_ID, ""] {
            if sm::verify(&issuer.sm2_key_with(distid)?, &self.tbs, &sig) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Describes a time span in words for reports.
pub(crate) fn window(from: i64, to: i64) -> String {
    format!(
        "{} to {}",
        time::format_rfc3339(from),
        time::format_rfc3339(to)
    )
}
