//! SM2 signatures with SM3 (GB/T 32918.2) as seals use them: the default distinguishing id, DER or raw
//! `r||s` signature values, and the Z pre-hash.

use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

use crate::error::Error;
use crate::fast;
use crate::tlv::{self, Seq};

/// The SM2 user id every seal uses (GM/T 0009 / GB/T 35276 default).
pub const DIST_ID: &str = "1234567812345678";

/// OID of SM2 signature with SM3.
pub const SM2_SM3: &str = "1.2.156.10197.1.501";

/// How a signature value was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigForm {
    /// `SEQUENCE { r INTEGER, s INTEGER }` (GB/T 35276).
    Der,
    /// 64 bytes `r||s` (seen from Koal and 同智伟业).
    Raw,
}

impl SigForm {
    pub(crate) fn describe(self, len: usize) -> String {
        match self {
            SigForm::Der => format!("DER SEQUENCE{{r,s}}, {len} bytes"),
            SigForm::Raw => format!("raw r||s, {len} bytes"),
        }
    }
}

/// One INTEGER of a DER signature as a 32-byte big-endian magnitude.
fn scalar(t: &tlv::Tlv<'_>) -> Option<[u8; 32]> {
    if t.tag != tlv::INTEGER || t.value.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let skip = t.value.iter().take_while(|&&b| b == 0).count();
    let m = t.value.get(skip..)?;
    let mut out = [0u8; 32];
    let start = 32usize.checked_sub(m.len())?;
    out.get_mut(start..)?.copy_from_slice(m);
    Some(out)
}

/// Reads a signature value in either encoding; r and s must be in [1, n-1].
pub(crate) fn decode_signature(bytes: &[u8]) -> Result<(Signature, SigForm), Error> {
    if let Ok((t, rest)) = tlv::read(bytes, "signature")
        && t.tag == tlv::SEQUENCE
        && rest.is_empty()
    {
        let mut s = Seq::new(t.value);
        let r = s.next("signature r").ok().and_then(|x| scalar(&x));
        let sv = s.next("signature s").ok().and_then(|x| scalar(&x));
        if let (Some(r), Some(sv), true) = (r, sv, s.is_empty()) {
            let sig = Signature::from_scalars(r, sv).map_err(|_| Error::Malformed {
                field: "signature",
                why: "r or s is out of range",
            })?;
            return Ok((sig, SigForm::Der));
        }
    }
    if bytes.len() == 64 {
        let sig = Signature::from_slice(bytes).map_err(|_| Error::Malformed {
            field: "signature",
            why: "r or s is out of range",
        })?;
        return Ok((sig, SigForm::Raw));
    }
    Err(Error::Malformed {
        field: "signature",
        why: "is neither DER SEQUENCE{r,s} nor 64 raw bytes",
    })
}

/// A verifying key from an uncompressed (or compressed) SEC1 point, with the given distinguishing id.
pub(crate) fn verifying_key(point: &[u8], distid: &str) -> Result<VerifyingKey, Error> {
    VerifyingKey::from_sec1_bytes(distid, point)
        .map_err(|_| Error::Key("the public key is not a point on the SM2 curve".into()))
}

/// `Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)` for an uncompressed public key.
fn z_value(distid: &str, point: &[u8]) -> Option<[u8; 32]> {
    use sm3::Digest;
    let bits = u16::try_from(distid.len().checked_mul(8)?).ok()?;
    let xy = point.strip_prefix(&[0x04])?;
    let mut h = sm3::Sm3::new();
    h.update(bits.to_be_bytes());
    h.update(distid.as_bytes());
    for c in [
        &fast::A_BYTES,
        &fast::B_BYTES,
        &fast::GX_BYTES,
        &fast::GY_BYTES,
    ] {
        h.update(c);
    }
    h.update(xy);
    Some(h.finalize().into())
}

/// `e = SM3(Z || M)`.
fn message_digest(distid: &str, point: &[u8], msg: &[u8]) -> Option<[u8; 32]> {
    use sm3::Digest;
    let z = z_value(distid, point)?;
    let mut h = sm3::Sm3::new();
    h.update(z);
    h.update(msg);
    Some(h.finalize().into())
}

/// Verifies an SM2/SM3 signature over `msg` with the key's distinguishing id.
pub(crate) fn verify(key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    let point = key.to_sec1_bytes();
    match message_digest(key.distid(), &point, msg) {
        Some(e) => fast::verify_prehash(&point, &e, sig),
        None => false,
    }
}

/// The non-standard "digest mode" some vendors use: the 32-byte hash is signed as e directly (no Z, no message).
pub(crate) fn verify_digest_mode(key: &VerifyingKey, digest: &[u8], sig: &Signature) -> bool {
    digest.len() == 32 && key.verify_prehash(digest, sig).is_ok()
}

/// Signs `msg` and returns the DER `SEQUENCE{r,s}` form. The private key is used only through the RustCrypto
/// `sm2` crate (RFC 6979 deterministic nonce over SM3): no home-made nonce, no hand-written secret arithmetic.
pub(crate) fn sign_der(key: &SigningKey, msg: &[u8]) -> Result<Vec<u8>, Error> {
    use sm2::dsa::signature::Signer;
    let sig: Signature = key
        .try_sign(msg)
        .map_err(|_| Error::Key("SM2 signing failed".into()))?;
    Ok(sig.to_der().as_bytes().to_vec())
}

/// SM3 of `data`.
pub(crate) fn sm3(data: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    sm3::Sm3::digest(data).into()
}
