//! The token interface every backend implements: PKCS#11 today, the soft token for demos and tests, and an SKF
//! (GM/T 0016) backend for Chinese UKeys whose vendors ship only an SKF library.
//!
//! The trait is deliberately small and synchronous: a UKey is a slow serial device, each call is one short
//! conversation with it, and the agent runs calls on a blocking thread and never two writes to one key at once.

use sealdesk_pki::Cert;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::AgentError;

/// Wrong PINs in a row before a key locks, where the token does not count by itself (SoftHSM2 does not;
/// real UKeys do and report it through their flags, which the agent respects as well).
pub const MAX_PIN_TRIES: u32 = sealdesk_adapters::token::MAX_PIN_TRIES;

/// A PIN as typed on the page; wiped from memory when dropped.
pub type Pin = Zeroizing<String>;

/// 锁类型: whom the key's certificate was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Holder {
    /// 企业锁: an enterprise (organisation) certificate.
    Enterprise,
    /// 个人锁: a person's certificate.
    Person,
}

impl Holder {
    /// The label pages show.
    pub fn label(self) -> &'static str {
        match self {
            Holder::Enterprise => "企业锁",
            Holder::Person => "个人锁",
        }
    }

    /// Tells an enterprise certificate from a person's by its subject: persons' certificates carry `OU=个人`
    /// or no organisation at all.
    pub fn of_subject(subject: &str) -> Holder {
        let parts: Vec<&str> = subject.split(',').map(str::trim).collect();
        if parts.contains(&"OU=个人") || !parts.iter().any(|p| p.starts_with("O=")) {
            Holder::Person
        } else {
            Holder::Enterprise
        }
    }
}

/// The certificate on a key, as the UKey panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// Issuer, RFC 4514 style.
    pub issuer: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Not before, RFC 3339.
    pub not_before: String,
    /// Not after, RFC 3339.
    pub not_after: String,
    /// `SM2` or `ECDSA P-256`.
    pub algorithm: String,
    /// The certificate, DER in base64 (what the platform checks at 授权 and sign-in).
    pub der_base64: String,
}

impl CertSummary {
    /// Summarises a certificate.
    pub fn of(cert: &Cert) -> CertSummary {
        use base64::Engine;
        let (nb, na) = cert.validity();
        CertSummary {
            subject: cert.subject(),
            issuer: cert.issuer(),
            serial: cert.serial_hex(),
            not_before: sealdesk_ses::time::format_rfc3339(nb),
            not_after: sealdesk_ses::time::format_rfc3339(na),
            algorithm: cert
                .key()
                .map(|k| k.algorithm().to_owned())
                .unwrap_or_else(|e| format!("不支持的密钥: {e}")),
            der_base64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
        }
    }
}

/// One inserted key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// 密钥序列号, as the token reports it.
    pub serial: String,
    /// The token's label.
    pub label: String,
    /// 企业锁 / 个人锁, from the certificate (`None` without one).
    pub holder: Option<Holder>,
    /// The holder kind's Chinese label.
    pub holder_label: Option<&'static str>,
    /// The certificate, if the key holds a readable one.
    pub cert: Option<CertSummary>,
    /// Why the certificate could not be read, when it could not.
    pub cert_problem: Option<String>,
    /// The PIN counter.
    pub pin: PinStatus,
}

impl KeyInfo {
    /// Describes a key from what its backend read.
    pub fn new(
        serial: String,
        label: String,
        cert: Result<Cert, String>,
        pin: PinStatus,
    ) -> KeyInfo {
        let (cert, cert_problem) = match cert {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        let holder = cert.as_ref().map(|c| Holder::of_subject(&c.subject()));
        KeyInfo {
            serial,
            label,
            holder,
            holder_label: holder.map(Holder::label),
            cert: cert.as_ref().map(CertSummary::of),
            cert_problem,
            pin,
        }
    }
}

/// A key's PIN counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PinStatus {
    /// Wrong PINs still allowed (还可尝试 N 次); 0 when locked.
    pub tries_left: u32,
    /// The key refuses every PIN until it is unlocked.
    pub locked: bool,
}

impl PinStatus {
    /// A counter with `tries_left` tries.
    pub fn left(tries_left: u32) -> PinStatus {
        PinStatus {
            tries_left,
            locked: tries_left == 0,
        }
    }
}

/// A seal as it sits on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSeal {
    /// The seal's esID (the name it is stored under).
    pub es_id: String,
    /// The SESeal, DER.
    pub der: Vec<u8>,
}

/// One change of a write; a write is a list of them, applied all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Store this seal under its esID, replacing one of the same esID.
    Put(StoredSeal),
    /// Remove the seal with this esID.
    Delete(String),
}

/// A kind of token the agent can drive.
pub trait Backend: Send + Sync + 'static {
    /// What this backend is, for the status page (`soft-token DIR`, `pkcs11 PATH`).
    fn describe(&self) -> String;

    /// The keys present now, with their certificates.
    fn keys(&self) -> Result<Vec<KeyInfo>, AgentError>;

    /// The certificate on key `serial`.
    fn cert(&self, serial: &str) -> Result<Cert, AgentError>;

    /// Checks `pin`, counting a wrong one ([`AgentError::WrongPin`] with the tries left, then
    /// [`AgentError::Locked`]).
    fn verify_pin(&self, serial: &str, pin: &Pin) -> Result<PinStatus, AgentError>;

    /// The key signs `msg` in its own algorithm (SM2 with SM3, or ECDSA P-256 with SHA-256), after the PIN.
    fn sign(&self, serial: &str, pin: &Pin, msg: &[u8]) -> Result<Vec<u8>, AgentError>;

    /// The seals on key `serial`, sorted by esID.
    fn seals(&self, serial: &str) -> Result<Vec<StoredSeal>, AgentError>;

    /// Applies `changes` after the PIN, all or nothing: whatever happens part way (an error, the key pulled out,
    /// the agent killed), the key shows either its old seals or the new ones, once it is next read.
    fn apply(&self, serial: &str, pin: &Pin, changes: &[Change]) -> Result<(), AgentError>;
}
