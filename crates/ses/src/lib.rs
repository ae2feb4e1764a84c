//! GB/T 38540 / GM/T 0031 electronic seals (电子印章) and seal signatures: types, parsing, making and
//! verification with SM2/SM3, and OFD signature checks. Pure library: no file, network or console I/O.
//!
//! * [`parse`] reads V1 (GM/T 0031-2014), V4 (GB/T 38540-2020) and V5 (GM/T 0031-2025) seals and signatures,
//!   telling the layouts apart by shape, and keeps the exact signed bytes.
//! * [`make_seal`] writes a canonical DER V4 seal signed by the maker key ([`make_seal_with`] for V5).
//! * [`verify_seal`] and [`verify_ofd`] check every step and return a [`Report`] with stable check names.
//! * [`sign_revocation_list`] / [`revocation_check`]: the maker's signed list of revoked esIDs.
//!
//! SM2 always uses the distinguishing id `1234567812345678` ([`DIST_ID`]).
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod cert;
mod der;
mod error;
mod fast;
mod make;
mod ofd;
mod revoked;
mod seal;
mod sm;
pub mod time;
mod tlv;
mod verify;

pub use crate::time::Time;
pub use cert::{CertInfo, parse_certificate};
pub use error::Error;
pub use make::{MakeOptions, SealRequest, encode_seal, make_seal, make_seal_with};
pub use ofd::{OfdReference, OfdSignature, is_ofd, read_ofd, verify_ofd};
pub use revoked::{
    REVOCATION_FORMAT, RevocationList, RevokedSeal, open_revocation_list, revocation_check,
    sign_revocation_list,
};
pub use seal::{
    CertDigest, CertList, ExtData, Header, MAX_INPUT, Parsed, Picture, Property, Seal,
    SesSignature, Version, parse,
};
pub use sm::{DIST_ID, SM2_SM3};
pub use verify::{
    Check, Kind, Report, SignatureReport, VerifyOptions, verify_maker_signature, verify_seal,
};

/// SM3 digest of `data` (as used for certificate digests and OFD references).
pub fn sm3(data: &[u8]) -> [u8; 32] {
    sm::sm3(data)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hex_ser<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

pub(crate) fn hex_vec_ser<S: serde::Serializer>(
    items: &[Vec<u8>],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(|b| hex(b)))
}
