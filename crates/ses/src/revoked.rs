//! The seal maker's list of revoked seals (已注销的印章): which esIDs it no longer stands behind, signed by
//! the same maker key that signed the seals, so that a relying party who holds a seal can check it offline.
//!
//! The file is JSON: `{"format": "sealdesk-revoked-seals/1", "payload": "<JSON text>", "signature":
//! "<base64 DER SM2 signature over the payload's UTF-8 bytes>", "signer": "<base64 DER maker certificate>"}`.
//! The payload is kept as text so that the signed bytes are exactly the bytes stored, never re-encoded.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::cert::parse_certificate;
use crate::error::Error;
use crate::seal::Seal;
use crate::sm;
use crate::verify::Check;

/// The format name in every list.
pub const REVOCATION_FORMAT: &str = "sealdesk-revoked-seals/1";

/// One revoked seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedSeal {
    /// The seal's esID.
    pub es_id: String,
    /// When it was revoked, RFC 3339.
    pub revoked_at: String,
    /// Why, in words (e.g. 补办, 变更).
    pub reason: String,
}

/// What the maker signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// The maker certificate's subject, for people reading the file.
    pub issuer: String,
    /// When the list was made, RFC 3339.
    pub issued_at: String,
    /// Every revoked seal.
    pub revoked: Vec<RevokedSeal>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    payload: String,
    signature: String,
    signer: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Signs `list` with the maker key whose certificate is `maker_cert_der`; returns the file's bytes.
pub fn sign_revocation_list(
    list: &RevocationList,
    maker_cert_der: &[u8],
    maker_key: &sm2::dsa::SigningKey,
) -> Result<Vec<u8>, Error> {
    let payload = serde_json::to_string(list).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let signature = sm::sign_der(maker_key, payload.as_bytes())?;
    let env = Envelope {
        format: REVOCATION_FORMAT.into(),
        payload,
        signature: b64().encode(signature),
        signer: b64().encode(maker_cert_der),
    };
    serde_json::to_vec_pretty(&env).map_err(|e| Error::InvalidRequest(e.to_string()))
}

/// Reads a list and checks that the maker of `maker_cert_der` signed it.
pub fn open_revocation_list(bytes: &[u8], maker_cert_der: &[u8]) -> Result<RevocationList, Error> {
    if bytes.len() > crate::MAX_INPUT {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: crate::MAX_INPUT,
        });
    }
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| Error::NotSes(format!("not a revocation list: {e}")))?;
    if env.format != REVOCATION_FORMAT {
        return Err(Error::NotSes(format!(
            "revocation list format {:?}, expected {REVOCATION_FORMAT}",
            env.format
        )));
    }
    let key = parse_certificate(maker_cert_der)?.sm2_key()?;
    let sig = b64()
        .decode(env.signature.trim())
        .map_err(|_| Error::NotSes("the list's signature is not base64".into()))?;
    let (sig, _) = sm::decode_signature(&sig)?;
    if !sm::verify(&key, env.payload.as_bytes(), &sig) {
        return Err(Error::BadSignature);
    }
    serde_json::from_str(&env.payload)
        .map_err(|e| Error::NotSes(format!("the list's payload cannot be read: {e}")))
}

/// The `seal.revocation` check of `seal` against a list file: failed when the seal is listed or the list is
/// not its maker's, passed when the maker's list does not name it.
pub fn revocation_check(seal: &Seal, list: &[u8]) -> Check {
    match open_revocation_list(list, &seal.maker_cert) {
        Err(Error::BadSignature) => Check::new(
            "seal.revocation",
            Some(false),
            "the revocation list is not signed by this seal's maker, so it cannot vouch for the seal",
        ),
        Err(e) => Check::new(
            "seal.revocation",
            Some(false),
            format!("the revocation list cannot be used: {e}"),
        ),
        Ok(l) => match l.revoked.iter().find(|r| r.es_id == seal.es_id) {
            Some(r) => Check::new(
                "seal.revocation",
                Some(false),
                format!(
                    "the seal was revoked at {} ({}), according to its maker's list of {}",
                    r.revoked_at, r.reason, l.issued_at
                ),
            ),
            None => Check::new(
                "seal.revocation",
                Some(true),
                format!(
                    "the seal is not on its maker's revocation list of {} ({} seal(s) revoked)",
                    l.issued_at,
                    l.revoked.len()
                ),
            ),
        },
    }
}
