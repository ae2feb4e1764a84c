//! The one error type of the crate, worded for operators: every variant says what was wrong and where.

/// Why a seal, signature, certificate or OFD package could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input holds no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// The input is larger than the crate accepts (seals over 10 MB are refused).
    #[error("the input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The DER structure is broken at the named field.
    #[error("malformed {field}: {why}")]
    Malformed {
        /// Which field (path in the ASN.1 structure) was being read.
        field: &'static str,
        /// What was wrong with it.
        why: &'static str,
    },
    /// The bytes are well-formed DER but not a seal or seal signature of any known version.
    #[error("not an electronic seal or seal signature: {0}")]
    NotSes(String),
    /// An algorithm (signature, hash or key) this crate does not implement.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A certificate could not be read or used.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A key could not be read, or does not match its certificate.
    #[error("key: {0}")]
    Key(String),
    /// A signature value does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The request to make a seal is not acceptable.
    #[error("invalid seal request: {0}")]
    InvalidRequest(String),
    /// An OFD package (zip + XML) could not be read.
    #[error("OFD package: {0}")]
    Ofd(String),
}

pub(crate) fn malformed(field: &'static str, why: &'static str) -> Error {
    Error::Malformed { field, why }
}
