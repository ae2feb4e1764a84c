//! SESeal and SES_Signature in the three layouts (V1 = GM/T 0031-2014, V4 = GB/T 38540-2020,
//! V5 = GM/T 0031-2025), and the parser that tells them apart by shape.
//!
//! The layout is chosen by the element count of the outer SEQUENCE (2 = V1, 4 or 5 = V4/V5) and only then by
//! the header version, because the V1 version number is unreliable in the field. Every signed part is kept as
//! the exact bytes from the file ([`Seal::signed_bytes`], [`SesSignature::signed_bytes`]) so that verification
//! never depends on re-encoding.

use serde::Serialize;

use crate::error::{Error, malformed};
use crate::time::{self, Time};
use crate::tlv::{self, Seq, Tlv};

/// Largest input the crate reads: seals and signatures over 10 MB are refused.
pub const MAX_INPUT: usize = 10 * 1024 * 1024;

/// Which standard's layout a seal or signature follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// GM/T 0031-2014 (`SESeal = {sealInfo, signInfo}`).
    V1,
    /// GB/T 38540-2020 (`SESeal = {sealInfo, cert, signAlgID, signedValue}`).
    V4,
    /// GM/T 0031-2025: the V4 layout with header version 5 and an optional seal timestamp.
    V5,
}

impl Version {
    /// The standard that defines this layout, e.g. `GB/T 38540-2020`.
    pub fn standard(self) -> &'static str {
        match self {
            Version::V1 => "GM/T 0031-2014",
            Version::V4 => "GB/T 38540-2020",
            Version::V5 => "GM/T 0031-2025",
        }
    }
}

/// `SES_Header`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Always `ES` in conforming seals.
    pub id: String,
    /// The version number the producer wrote (not used to pick the layout).
    pub version: i64,
    /// Manufacturer (vendor) id.
    pub vid: String,
}

/// A certificate digest in a type-2 certificate list (`CertDigestObj`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertDigest {
    /// The digest algorithm's name, e.g. `SM3` (PrintableString, no fixed vocabulary).
    pub kind: String,
    /// Digest of the signer's DER certificate.
    #[serde(serialize_with = "crate::hex_ser")]
    pub value: Vec<u8>,
}

/// The signers allowed to use the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CertList {
    /// certListType 1: DER certificates.
    Certs(#[serde(serialize_with = "crate::hex_vec_ser")] Vec<Vec<u8>>),
    /// certListType 2: digests of DER certificates.
    Digests(Vec<CertDigest>),
}

impl CertList {
    /// The certListType number that goes with this list.
    pub fn list_type(&self) -> i64 {
        match self {
            CertList::Certs(_) => 1,
            CertList::Digests(_) => 2,
        }
    }
}

/// `SES_ESPictrueInfo`: the seal image and its printed size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Picture {
    /// Image type as written, e.g. `PNG`, `png`, `GIF`, `ofd`.
    pub kind: String,
    /// Image bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Display width in millimetres.
    pub width_mm: i64,
    /// Display height in millimetres.
    pub height_mm: i64,
}

/// One `ExtData` extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtData {
    /// extnID.
    pub oid: String,
    /// critical (DEFAULT FALSE).
    pub critical: bool,
    /// extnValue.
    #[serde(serialize_with = "crate::hex_ser")]
    pub value: Vec<u8>,
}

/// `SES_ESPropertyInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    /// Seal type (1 organisation, 2 person in GM/T 0031; business-defined in GB/T 38540).
    pub seal_type: i64,
    /// Seal name.
    pub name: String,
    /// certListType as written (absent in V1).
    pub cert_list_type: Option<i64>,
    /// Allowed signers.
    pub cert_list: CertList,
    /// When the seal was made.
    pub create_date: Time,
    /// Start of the validity window.
    pub valid_start: Time,
    /// End of the validity window.
    pub valid_end: Time,
}

/// An electronic seal (`SESeal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seal {
    /// Layout, detected by shape.
    pub version: Version,
    /// `SES_Header`.
    pub header: Header,
    /// Unique seal id.
    pub es_id: String,
    /// Properties (type, name, signers, validity).
    pub property: Property,
    /// Seal image.
    pub picture: Picture,
    /// Extensions of `SES_SealInfo` (unreadable items are skipped).
    pub ext_datas: Vec<ExtData>,
    /// The seal maker's certificate (DER).
    #[serde(skip)]
    pub maker_cert: Vec<u8>,
    /// Signature algorithm OID of the maker signature.
    pub sign_alg: String,
    /// The maker signature as stored (DER `SEQUENCE{r,s}` or raw `r||s`).
    #[serde(serialize_with = "crate::hex_ser")]
    pub signed_value: Vec<u8>,
    /// V5 seal timestamp token, if any (not verified by this crate).
    #[serde(skip)]
    pub time_stamp: Option<Vec<u8>>,
    #[serde(skip)]
    signed: Signed,
    #[serde(skip)]
    der: Vec<u8>,
}

/// Where the maker-signed bytes are: a range of the seal's own encoding (V4/V5), or built (V1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signed {
    Range(usize, usize),
    Built(Vec<u8>),
}

impl Seal {
    /// The exact bytes the maker signed: `SES_SealInfo` as stored (V4/V5), or
    /// `SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}` built from the stored elements (V1).
    pub fn signed_bytes(&self) -> &[u8] {
        match &self.signed {
            Signed::Range(from, to) => self.der.get(*from..*to).unwrap_or_default(),
            Signed::Built(bytes) => bytes,
        }
    }

    /// The seal's own encoding as found in the input (without trailing bytes).
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// A seal signature (`SES_Signature`) over a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SesSignature {
    /// Layout, detected by shape.
    pub version: Version,
    /// `TBS_Sign.version` as written.
    pub tbs_version: i64,
    /// The embedded seal.
    pub seal: Seal,
    /// `timeInfo` as text (V4: GeneralizedTime; V1: usually free text in a BIT STRING).
    pub time_info: String,
    /// `timeInfo` as Unix seconds when it could be read; it is claimed by the signer, not trusted.
    pub signing_time: Option<i64>,
    /// Hash of the signed original (OFD: SM3 of Signature.xml).
    #[serde(serialize_with = "crate::hex_ser")]
    pub data_hash: Vec<u8>,
    /// Attributes of the original; in OFD the path of Signature.xml.
    pub property_info: String,
    /// `TBS_Sign.extDatas` (V4/V5).
    pub ext_datas: Vec<ExtData>,
    /// The signer's certificate (DER).
    #[serde(skip)]
    pub signer_cert: Vec<u8>,
    /// Signature algorithm OID.
    pub sign_alg: String,
    /// The signature value as stored (DER or raw `r||s`).
    #[serde(serialize_with = "crate::hex_ser")]
    pub signature: Vec<u8>,
    /// Timestamp token over the signature, if any (not verified by this crate).
    #[serde(skip)]
    pub time_stamp: Option<Vec<u8>>,
    #[serde(skip)]
    signed_bytes: Vec<u8>,
}

impl SesSignature {
    /// The exact `TBS_Sign` bytes the signer signed, as stored.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }
}

/// What [`parse`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// An electronic seal.
    Seal(Seal),
    /// A seal signature.
    Signature(SesSignature),
}

/// Checks size limits and returns the outer element and the number of bytes after it.
pub(crate) fn outer(bytes: &[u8]) -> Result<(Tlv<'_>, usize), Error> {
    if bytes.is_empty() {
        return Err(Error::Empty);
    }
    if bytes.len() > MAX_INPUT {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: MAX_INPUT,
        });
    }
    let (tlv, rest) = tlv::read(bytes, "outer structure")?;
    if tlv.tag != tlv::SEQUENCE {
        return Err(Error::NotSes(
            "it does not start with a DER SEQUENCE".into(),
        ));
    }
    Ok((tlv, rest.len()))
}

/// Reads a seal or a seal signature of any version. Bytes after the outer element are ignored, as real
/// readers do; nothing is re-encoded.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Error> {
    let (top, _trailing) = outer(bytes)?;
    let first = Seq::of(&top, "outer structure")?.next("first element")?;
    if first.tag != tlv::SEQUENCE {
        return Err(Error::NotSes("its first element is not a SEQUENCE".into()));
    }
    match Seq::new(first.value).peek_tag() {
        Some(tlv::INTEGER) => Ok(Parsed::Signature(parse_signature(&top)?)),
        Some(tlv::SEQUENCE) => Ok(Parsed::Seal(parse_seal(&top)?)),
        _ => Err(Error::NotSes(
            "it is neither SESeal (SealInfo, …) nor SES_Signature (TBS_Sign, …)".into(),
        )),
    }
}

pub(crate) fn parse_seal(top: &Tlv<'_>) -> Result<Seal, Error> {
    let mut seq = Seq::of(top, "SESeal")?;
    let n = seq.count("SESeal")?;
    let info_tlv = seq.next("SES_SealInfo")?;
    let v1 = match n {
        2 => true,
        4 | 5 => false,
        _ => {
            return Err(Error::NotSes(format!(
                "a SESeal has 2 (V1) or 4-5 (V4/V5) elements, this one has {n}"
            )));
        }
    };
    let info = parse_seal_info(&info_tlv)?;
    let (cert_tlv, alg_tlv, sig_tlv, time_stamp);
    if v1 {
        let sign_info = seq.next("SES_SignInfo")?;
        let mut si = Seq::of(&sign_info, "SES_SignInfo")?;
        cert_tlv = si.next("SES_SignInfo.cert")?;
        alg_tlv = si.next("SES_SignInfo.signatureAlgorithm")?;
        sig_tlv = si.next("SES_SignInfo.signData")?;
        time_stamp = None;
    } else {
        cert_tlv = seq.next("SESeal.cert")?;
        alg_tlv = seq.next("SESeal.signAlgID")?;
        sig_tlv = seq.next("SESeal.signedValue")?;
        time_stamp = if seq.is_empty() {
            None
        } else {
            Some(time_stamp_of(&seq.next("SESeal.timeStamp")?)?)
        };
    }
    let maker_cert = cert_bytes(&cert_tlv, "maker certificate")?;
    let sign_alg = tlv::oid(&alg_tlv, "seal signature algorithm")?;
    let signed_value = tlv::bytes(&sig_tlv, "seal signature value")?.to_vec();
    let signed = if v1 {
        // GM/T 0031-2014 §6.1: the maker signs SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}, built here
        // from the three elements exactly as stored.
        Signed::Built(crate::der::seq(&[info_tlv.raw, cert_tlv.raw, alg_tlv.raw]))
    } else {
        // SES_SealInfo as stored: its place inside the seal's encoding, so it is not copied twice
        let from = (info_tlv.raw.as_ptr() as usize).saturating_sub(top.raw.as_ptr() as usize);
        Signed::Range(from, from + info_tlv.raw.len())
    };
    let version = if v1 {
        Version::V1
    } else if info.header.version >= 5 {
        Version::V5
    } else {
        Version::V4
    };
    Ok(Seal {
        version,
        header: info.header,
        es_id: info.es_id,
        property: info.property,
        picture: info.picture,
        ext_datas: info.ext_datas,
        maker_cert,
        sign_alg,
        signed_value,
        time_stamp,
        signed,
        der: top.raw.to_vec(),
    })
}

/// A certificate field: an OCTET STRING holding DER (the standard), or the certificate SEQUENCE itself.
fn cert_bytes(t: &Tlv<'_>, field: &'static str) -> Result<Vec<u8>, Error> {
    match t.tag {
        tlv::SEQUENCE => Ok(t.raw.to_vec()),
        _ => Ok(tlv::bytes(t, field)?.to_vec()),
    }
}

/// A `[0]` timestamp: EXPLICIT around a BIT/OCTET STRING as the standard has it, or IMPLICIT contents.
fn time_stamp_of(t: &Tlv<'_>) -> Result<Vec<u8>, Error> {
    match t.tag {
        tlv::CONTEXT_0 => match tlv::read(t.value, "timeStamp") {
            Ok((inner, _)) if matches!(inner.tag, tlv::BIT_STRING | tlv::OCTET_STRING) => {
                Ok(tlv::bytes(&inner, "timeStamp")?.to_vec())
            }
            _ => Ok(t.value.to_vec()),
        },
        0x80 => Ok(t.value.to_vec()),
        _ => Err(malformed("timeStamp", "is not tagged [0]")),
    }
}

struct SealInfo {
    header: Header,
    es_id: String,
    property: Property,
    picture: Picture,
    ext_datas: Vec<ExtData>,
}

fn parse_seal_info(t: &Tlv<'_>) -> Result<SealInfo, Error> {
    let mut seq = Seq::of(t, "SES_SealInfo")?;
    let header_tlv = seq.next("SES_Header")?;
    let mut h = Seq::of(&header_tlv, "SES_Header")?;
    let header = Header {
        id: tlv::text(&h.next("header.ID")?, "header.ID")?,
        version: tlv::int(&h.next("header.version")?, "header.version")?,
        vid: tlv::text(&h.next("header.Vid")?, "header.Vid")?,
    };
    let es_id = tlv::text(&seq.next("esID")?, "esID")?;
    let property = parse_property(&seq.next("SES_ESPropertyInfo")?)?;
    let pic_tlv = seq.next("SES_ESPictrueInfo")?;
    let mut p = Seq::of(&pic_tlv, "SES_ESPictrueInfo")?;
    let picture = Picture {
        kind: tlv::text(&p.next("picture.type")?, "picture.type")?,
        data: tlv::bytes(&p.next("picture.data")?, "picture.data")?.to_vec(),
        width_mm: tlv::int(&p.next("picture.width")?, "picture.width")?,
        height_mm: tlv::int(&p.next("picture.height")?, "picture.height")?,
    };
    let ext_datas = if seq.is_empty() {
        Vec::new()
    } else {
        ext_datas(&seq.next("extDatas")?)
    };
    Ok(SealInfo {
        header,
        es_id,
        property,
        picture,
        ext_datas,
    })
}

fn parse_property(t: &Tlv<'_>) -> Result<Property, Error> {
    let mut seq = Seq::of(t, "SES_ESPropertyInfo")?;
    let seal_type = tlv::int(&seq.next("property.type")?, "property.type")?;
    let name = tlv::text(&seq.next("property.name")?, "property.name")?;
    // V4 adds certListType (an INTEGER) before certList; V1 goes straight to the list.
    let cert_list_type = if seq.peek_tag() == Some(tlv::INTEGER) {
        Some(tlv::int(
            &seq.next("property.certListType")?,
            "property.certListType",
        )?)
    } else {
        None
    };
    let cert_list = parse_cert_list(&seq.next("property.certList")?, cert_list_type)?;
    let mut times = [
        Time {
            unix: 0,
            text: String::new(),
        },
        Time {
            unix: 0,
            text: String::new(),
        },
        Time {
            unix: 0,
            text: String::new(),
        },
    ];
    for (slot, field) in times.iter_mut().zip([
        "property.createDate",
        "property.validStart",
        "property.validEnd",
    ]) {
        *slot = asn1_time(&seq.next(field)?, field)?;
    }
    let [create_date, valid_start, valid_end] = times;
    Ok(Property {
        seal_type,
        name,
        cert_list_type,
        cert_list,
        create_date,
        valid_start,
        valid_end,
    })
}

/// UTCTime or GeneralizedTime (V1 producers use both).
pub(crate) fn asn1_time(t: &Tlv<'_>, field: &'static str) -> Result<Time, Error> {
    let unix = match t.tag {
        tlv::UTC_TIME => time::parse_utc(t.value),
        tlv::GENERALIZED_TIME => time::parse_generalized(t.value),
        _ => return Err(malformed(field, "is not a UTCTime or GeneralizedTime")),
    };
    let unix = unix.ok_or_else(|| malformed(field, "is not a valid date and time"))?;
    Ok(Time {
        unix,
        text: String::from_utf8_lossy(t.value).into_owned(),
    })
}

fn parse_cert_list(t: &Tlv<'_>, list_type: Option<i64>) -> Result<CertList, Error> {
    let mut seq = Seq::of(t, "property.certList")?;
    // The CHOICE is untagged: certListType picks the branch; without it (V1) the elements' shape does.
    let digests = match list_type {
        Some(2) => true,
        Some(_) => false,
        None => {
            seq.peek_tag() == Some(tlv::SEQUENCE) && {
                let mut probe = Seq::new(t.value);
                let first = probe.next("property.certList")?;
                Seq::new(first.value)
                    .peek_tag()
                    .is_some_and(|tag| tag != tlv::SEQUENCE)
            }
        }
    };
    if digests {
        let mut out = Vec::new();
        while !seq.is_empty() {
            let item = seq.next("certDigestList item")?;
            let mut d = Seq::of(&item, "CertDigestObj")?;
            let kind = tlv::text(&d.next("CertDigestObj.type")?, "CertDigestObj.type")?;
            let value =
                tlv::bytes(&d.next("CertDigestObj.value")?, "CertDigestObj.value")?.to_vec();
            out.push(CertDigest { kind, value });
        }
        Ok(CertList::Digests(out))
    } else {
        let mut out = Vec::new();
        while !seq.is_empty() {
            let item = seq.next("certList item")?;
            // GM/T 0031-2014 also prints `certID ::= IA5String`, and dms360 writes such ids ("1"): they name no
            // certificate, so they are skipped and no signer can match them.
            if tlv::text(&item, "certList item").is_err() {
                out.push(cert_bytes(&item, "certList item")?);
            }
        }
        Ok(CertList::Certs(out))
    }
}

/// `ExtensionDatas` leniently: untagged, wrapped in an OCTET STRING, or context-tagged; unreadable items are
/// skipped (as ofdrw does) because extensions are informative and covered by the signature anyway.
fn ext_datas(t: &Tlv<'_>) -> Vec<ExtData> {
    let list: &[u8] = match t.tag {
        tlv::SEQUENCE => t.value,
        tlv::OCTET_STRING => match tlv::read(t.value, "extDatas") {
            Ok((inner, _)) if inner.tag == tlv::SEQUENCE => inner.value,
            _ => return Vec::new(),
        },
        tag if tag & 0xE0 == 0xA0 => match tlv::read(t.value, "extDatas") {
            // EXPLICIT [n] around the SEQUENCE OF, or IMPLICIT (the items directly).
            Ok((inner, rest))
                if inner.tag == tlv::SEQUENCE
                    && rest.is_empty()
                    && !looks_like_ext_data(&inner) =>
            {
                inner.value
            }
            _ => t.value,
        },
        _ => return Vec::new(),
    };
    let mut seq = Seq::new(list);
    let mut out = Vec::new();
    while let Ok(item) = seq.next("ExtData") {
        if let Some(e) = ext_data(&item) {
            out.push(e);
        }
    }
    out
}

fn looks_like_ext_data(t: &Tlv<'_>) -> bool {
    Seq::new(t.value).peek_tag() == Some(tlv::OID)
}

fn ext_data(t: &Tlv<'_>) -> Option<ExtData> {
    let mut s = Seq::of(t, "ExtData").ok()?;
    let oid = tlv::oid(&s.next("extnID").ok()?, "extnID").ok()?;
    let mut next = s.next("extnValue").ok()?;
    let mut critical = false;
    if next.tag == tlv::BOOLEAN {
        // Explicit DEFAULT FALSE is what every real file has; accept it.
        critical = next.value.first().is_some_and(|&b| b != 0);
        next = s.next("extnValue").ok()?;
    }
    let value = tlv::bytes(&next, "extnValue").ok()?.to_vec();
    Some(ExtData {
        oid,
        critical,
        value,
    })
}

pub(crate) fn parse_signature(top: &Tlv<'_>) -> Result<SesSignature, Error> {
    let mut seq = Seq::of(top, "SES_Signature")?;
    let n = seq.count("SES_Signature")?;
    let v1 = match n {
        2 => true,
        4 | 5 => false,
        _ => {
            return Err(Error::NotSes(format!(
                "a SES_Signature has 2 (V1) or 4-5 (V4/V5) elements, this one has {n}"
            )));
        }
    };
    let tbs = seq.next("TBS_Sign")?;
    let mut t = Seq::of(&tbs, "TBS_Sign")?;
    let tbs_version = tlv::int(&t.next("TBS_Sign.version")?, "TBS_Sign.version")?;
    let seal_tlv = t.next("TBS_Sign.eseal")?;
    let seal = parse_seal(&seal_tlv)?;
    let (time_info, signing_time) = time_info(&t.next("TBS_Sign.timeInfo")?)?;
    let data_hash = tlv::bytes(&t.next("TBS_Sign.dataHash")?, "TBS_Sign.dataHash")?.to_vec();
    let property_info = tlv::text(&t.next("TBS_Sign.propertyInfo")?, "TBS_Sign.propertyInfo")?;
    let (signer_cert, sign_alg, signature, time_stamp, ext);
    if v1 {
        signer_cert = cert_bytes(&t.next("TBS_Sign.cert")?, "signer certificate")?;
        sign_alg = tlv::oid(
            &t.next("TBS_Sign.signatureAlgorithm")?,
            "signature algorithm",
        )?;
        signature = tlv::bytes(&seq.next("SES_Signature.signature")?, "signature value")?.to_vec();
        time_stamp = None;
        ext = Vec::new();
    } else {
        ext = if t.is_empty() {
            Vec::new()
        } else {
            ext_datas(&t.next("TBS_Sign.extDatas")?)
        };
        signer_cert = cert_bytes(&seq.next("SES_Signature.cert")?, "signer certificate")?;
        sign_alg = tlv::oid(
            &seq.next("SES_Signature.signatureAlgID")?,
            "signature algorithm",
        )?;
        signature = tlv::bytes(&seq.next("SES_Signature.signature")?, "signature value")?.to_vec();
        time_stamp = if seq.is_empty() {
            None
        } else {
            Some(time_stamp_of(&seq.next("SES_Signature.timeStamp")?)?)
        };
    }
    let version = if v1 {
        Version::V1
    } else if tbs_version >= 5 || seal.version == Version::V5 {
        Version::V5
    } else {
        Version::V4
    };
    Ok(SesSignature {
        version,
        tbs_version,
        seal,
        time_info,
        signing_time,
        data_hash,
        property_info,
        ext_datas: ext,
        signer_cert,
        sign_alg,
        signature,
        time_stamp,
        signed_bytes: tbs.raw.to_vec(),
    })
}

/// `timeInfo`: GeneralizedTime in V4; in V1 a BIT STRING of free text such as `2020-01-25T07:31:56.377Z`
/// or `2020-04-22 10:18:07`.
fn time_info(t: &Tlv<'_>) -> Result<(String, Option<i64>), Error> {
    match t.tag {
        tlv::UTC_TIME | tlv::GENERALIZED_TIME => {
            let tm = asn1_time(t, "TBS_Sign.timeInfo")?;
            Ok((tm.text, Some(tm.unix)))
        }
        _ => {
            let raw = tlv::bytes(t, "TBS_Sign.timeInfo")?;
            let text = String::from_utf8_lossy(raw).into_owned();
            let unix =
                time::parse_rfc3339(&text).or_else(|| time::parse_generalized(text.as_bytes()));
            Ok((text, unix))
        }
    }
}
