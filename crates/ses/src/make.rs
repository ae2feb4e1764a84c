//! The seal writer: canonical DER V4 seals (V5 on request), signed with SM2/SM3 by the maker key.

use crate::cert::parse_certificate;
use crate::der;
use crate::error::Error;
use crate::seal::{CertList, ExtData, MAX_INPUT, Picture, Seal, Version};
use crate::sm;
use crate::time;

/// What goes into a new seal. Times are Unix seconds, written as UTC GeneralizedTime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRequest {
    /// esID: unique seal id (IA5String, so ASCII only).
    pub es_id: String,
    /// Seal type: 1 = 单位印章 (organisation), 2 = 个人印章 (person), or a business code.
    pub seal_type: i64,
    /// Seal name (UTF8String).
    pub name: String,
    /// The signers allowed to use the seal: certificates (certListType 1) or their digests (type 2).
    pub cert_list: CertList,
    /// When the seal is made.
    pub create_date: i64,
    /// Start of validity.
    pub valid_start: i64,
    /// End of validity.
    pub valid_end: i64,
    /// Seal image and its printed size in millimetres.
    pub picture: Picture,
    /// Manufacturer id in the header (IA5String).
    pub vid: String,
    /// Optional extensions (omitted from the encoding when empty).
    pub ext_datas: Vec<ExtData>,
}

/// Options for [`make_seal_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeOptions {
    /// [`Version::V4`] (the default) or [`Version::V5`]; V1 is not written.
    pub version: Version,
    /// V5 only: a DER TimeStampToken over the maker signature, written as `[0] BIT STRING`.
    pub time_stamp: Option<Vec<u8>>,
}

impl Default for MakeOptions {
    fn default() -> Self {
        MakeOptions {
            version: Version::V4,
            time_stamp: None,
        }
    }
}

/// Makes a V4 (GB/T 38540-2020) seal: DER of `SESeal`, signed over `DER(SES_SealInfo)`.
pub fn make_seal(
    req: &SealRequest,
    maker_cert_der: &[u8],
    maker_key: &sm2::dsa::SigningKey,
) -> Result<Vec<u8>, Error> {
    make_seal_with(req, maker_cert_der, maker_key, &MakeOptions::default())
}

fn ia5(s: &str, what: &str) -> Result<Vec<u8>, Error> {
    if !s.is_ascii() {
        return Err(Error::InvalidRequest(format!(
            "{what} must be ASCII (IA5String), got {s:?}"
        )));
    }
    Ok(der::tlv(0x16, s.as_bytes()))
}

fn gtime(t: i64, what: &str) -> Result<Vec<u8>, Error> {
    let text = time::format_generalized(t)
        .ok_or_else(|| Error::InvalidRequest(format!("{what} is outside the years 0000-9999")))?;
    Ok(der::tlv(0x18, text.as_bytes()))
}

fn oid(s: &str) -> Result<Vec<u8>, Error> {
    der::oid(s).ok_or_else(|| Error::InvalidRequest(format!("{s:?} is not an object identifier")))
}

/// Encodes the to-be-signed `SES_SealInfo` after checking the request.
fn seal_info(req: &SealRequest, version: i64) -> Result<Vec<u8>, Error> {
    if req.es_id.is_empty() {
        return Err(Error::InvalidRequest("the seal id (esID) is empty".into()));
    }
    if req.name.trim().is_empty() {
        return Err(Error::InvalidRequest("the seal name is empty".into()));
    }
    if req.valid_start >= req.valid_end {
        return Err(Error::InvalidRequest(
            "the validity window ends before it starts".into(),
        ));
    }
    let p = &req.picture;
    if p.data.is_empty() {
        return Err(Error::InvalidRequest("the seal picture is empty".into()));
    }
    if p.kind.eq_ignore_ascii_case("png") && !p.data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(Error::InvalidRequest(
            "the picture is said to be PNG but is not a PNG file".into(),
        ));
    }
    if !(1..=1000).contains(&p.width_mm) || !(1..=1000).contains(&p.height_mm) {
        return Err(Error::InvalidRequest(format!(
            "the picture size {}×{} mm is not plausible (1-1000 mm)",
            p.width_mm, p.height_mm
        )));
    }
    let header = der::seq(&[
        &ia5("ES", "ID")?,
        &der::int(version),
        &ia5(&req.vid, "the vendor id (Vid)")?,
    ]);
    let list = match &req.cert_list {
        CertList::Certs(certs) => {
            if certs.is_empty() {
                return Err(Error::InvalidRequest(
                    "the seal lists no signer certificate".into(),
                ));
            }
            for c in certs {
                parse_certificate(c).map_err(|e| {
                    Error::InvalidRequest(format!("a signer certificate cannot be read: {e}"))
                })?;
            }
            let items: Vec<Vec<u8>> = certs.iter().map(|c| der::octets(c)).collect();
            der::seq(&items.iter().map(Vec::as_slice).collect::<Vec<_>>())
        }
        CertList::Digests(digests) => {
            if digests.is_empty() {
                return Err(Error::InvalidRequest(
                    "the seal lists no signer certificate digest".into(),
                ));
            }
            let mut items = Vec::new();
            for d in digests {
                let printable = d
                    .kind
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
                if !printable || d.kind.is_empty() {
                    return Err(Error::InvalidRequest(format!(
                        "digest type {:?} is not a PrintableString",
                        d.kind
                    )));
                }
                items.push(der::seq(&[
                    &der::tlv(0x13, d.kind.as_bytes()),
                    &der::octets(&d.value),
                ]));
            }
            der::seq(&items.iter().map(Vec::as_slice).collect::<Vec<_>>())
        }
    };
    let property = der::seq(&[
        &der::int(req.seal_type),
        &der::tlv(0x0C, req.name.as_bytes()),
        &der::int(req.cert_list.list_type()),
        &list,
        &gtime(req.create_date, "the creation date")?,
        &gtime(req.valid_start, "the validity start")?,
        &gtime(req.valid_end, "the validity end")?,
    ]);
    let picture = der::seq(&[
        &ia5(&p.kind, "the picture type")?,
        &der::header(0x04, p.data.len()),
        &p.data,
        &der::int(p.width_mm),
        &der::int(p.height_mm),
    ]);
    let mut parts = vec![
        header,
        ia5(&req.es_id, "the seal id (esID)")?,
        property,
        picture,
    ];
    if !req.ext_datas.is_empty() {
        let mut items = Vec::new();
        for e in &req.ext_datas {
            // Canonical DER: critical is DEFAULT FALSE, so it is only written when true.
            let id = oid(&e.oid)?;
            let val = der::octets(&e.value);
            items.push(if e.critical {
                der::seq(&[&id, &der::tlv(0x01, &[0xFF]), &val])
            } else {
                der::seq(&[&id, &val])
            });
        }
        parts.push(der::seq(
            &items.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ));
    }
    Ok(der::seq(
        &parts.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ))
}

/// Makes a seal with options (V5, timestamp).
pub fn make_seal_with(
    req: &SealRequest,
    maker_cert_der: &[u8],
    maker_key: &sm2::dsa::SigningKey,
    opts: &MakeOptions,
) -> Result<Vec<u8>, Error> {
    let version = match opts.version {
        Version::V4 => 4,
        Version::V5 => 5,
        Version::V1 => {
            return Err(Error::InvalidRequest(
                "V1 (GM/T 0031-2014) seals are read but not written".into(),
            ));
        }
    };
    if opts.time_stamp.is_some() && opts.version != Version::V5 {
        return Err(Error::InvalidRequest(
            "a seal timestamp needs the V5 layout".into(),
        ));
    }
    let maker = parse_certificate(maker_cert_der)?;
    let key_point = maker_key.verifying_key().to_sec1_bytes();
    if maker.public_key_point() != &key_point[..] {
        return Err(Error::Key(
            "the maker key does not belong to the maker certificate".into(),
        ));
    }
    let info = seal_info(req, version)?;
    let sig = sm::sign_der(maker_key, &info)?;
    assemble(
        &info,
        maker_cert_der,
        sm::SM2_SM3,
        &sig,
        opts.time_stamp.as_deref(),
    )
}

/// `SESeal` (V4/V5 layout) from its encoded `SES_SealInfo` and the maker's parts.
fn assemble(
    info: &[u8],
    cert: &[u8],
    alg: &str,
    sig: &[u8],
    time_stamp: Option<&[u8]>,
) -> Result<Vec<u8>, Error> {
    let alg = oid(alg)?;
    let cert = der::octets(cert);
    let sig = der::bit_string(sig);
    let ts = time_stamp.map(|ts| der::cons(0xA0, &[&der::bit_string(ts)]));
    let mut parts: Vec<&[u8]> = vec![info, &cert, &alg, &sig];
    if let Some(ts) = &ts {
        parts.push(ts);
    }
    let out = der::seq(&parts);
    if out.len() > MAX_INPUT {
        return Err(Error::TooLarge {
            size: out.len(),
            limit: MAX_INPUT,
        });
    }
    Ok(out)
}

/// Re-encodes a parsed V4/V5 seal as canonical DER, keeping its maker signature as it is.
///
/// For a seal this crate made the result equals the original bytes. Other producers' seals may differ
/// (explicit DEFAULT values, other string types), which is why verification never re-encodes.
pub fn encode_seal(seal: &Seal) -> Result<Vec<u8>, Error> {
    let version = match seal.version {
        Version::V1 => {
            return Err(Error::InvalidRequest(
                "V1 (GM/T 0031-2014) seals are read but not written".into(),
            ));
        }
        Version::V4 | Version::V5 => seal.header.version,
    };
    let p = &seal.property;
    let req = SealRequest {
        es_id: seal.es_id.clone(),
        seal_type: p.seal_type,
        name: p.name.clone(),
        cert_list: p.cert_list.clone(),
        create_date: p.create_date.unix,
        valid_start: p.valid_start.unix,
        valid_end: p.valid_end.unix,
        picture: seal.picture.clone(),
        vid: seal.header.vid.clone(),
        ext_datas: seal.ext_datas.clone(),
    };
    let info = seal_info(&req, version)?;
    assemble(
        &info,
        &seal.maker_cert,
        &seal.sign_alg,
        &seal.signed_value,
        seal.time_stamp.as_deref(),
    )
}
