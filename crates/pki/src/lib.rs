//! SM2 keys and X.509 certificates for SealDesk: the demo CA, the soft token's certificate and the platform's
//! seal-maker certificate.
//!
//! Everything here speaks the forms OpenSSL 3 reads and writes: PKCS#8 PEM keys (optionally encrypted under a
//! PIN with PBES2), PEM/DER certificates signed with SM2-with-SM3 (OID 1.2.156.10197.1.501) and DER-encoded
//! signatures. Every SM2 signature uses the GM/T 0009 default identifier `1234567812345678` ([`DIST_ID`]):
//! OpenSSL 3.0 defaults to an empty one, so interop depends on passing it explicitly everywhere.
//!
//! Holders' certificates may also carry an ECDSA P-256 key: UKeys driven through PKCS#11 without an SM2
//! mechanism (SoftHSM2 among them) sign with ECDSA. [`Cert::key`] reads either kind as a [`PublicKey`] and
//! [`Cert::verify_signature`] checks a signature in the key's own algorithm (SM2 with SM3 and [`DIST_ID`], or ECDSA
//! with SHA-256). The platform's own keys (CA, seal maker) stay SM2; [`Cert::public_key`] still answers SM2 only.
//!
//! ```
//! use sealdesk_pki::{CertSpec, KeyPair, Usage, issue, self_signed};
//! let ca = KeyPair::generate().unwrap();
//! let ca_cert = self_signed(&CertSpec::new("C=CN,O=SealDesk,CN=Demo CA", Usage::Ca, 0, 86_400), &ca).unwrap();
//! let ee = KeyPair::generate().unwrap();
//! let spec = CertSpec::new("C=CN,CN=张三", Usage::Signing, 0, 3_600);
//! let ee_cert = issue(&spec, ee.public(), &ca, &ca_cert).unwrap();
//! assert!(ee_cert.verify_issued_by(&ca_cert));
//! let sig = ee.sign(b"hello");
//! assert!(sealdesk_pki::verify(ee_cert.public_key().as_ref().unwrap(), b"hello", &sig));
//! ```
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

use std::str::FromStr;
use std::time::Duration;

use der::{Decode, Encode, EncodePem, pem::LineEnding};
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use signature::{Keypair, Signer, Verifier};
use sm2::dsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, ObjectIdentifier,
    SubjectPublicKeyInfoOwned,
};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use zeroize::{Zeroize, Zeroizing};

/// The SM2 distinguishing identifier every SealDesk signature uses (GM/T 0009 default).
pub const DIST_ID: &str = "1234567812345678";

/// OID of SM2 signature with SM3 (GM/T 0006).
pub const SM2_WITH_SM3: &str = "1.2.156.10197.1.501";

/// OID of ECDSA with SHA-256 (RFC 5758).
pub const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// OID of an elliptic-curve public key (RFC 5480), the SPKI algorithm of SM2 and P-256 keys alike.
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of the NIST P-256 curve (prime256v1).
const CURVE_P256: &str = "1.2.840.10045.3.1.7";
/// OID of the SM2 curve (sm2p256v1).
const CURVE_SM2: &str = "1.2.156.10197.1.301";

/// Errors of key and certificate handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key could not be read or written.
    #[error("key: {0}")]
    Key(String),
    /// The PIN did not decrypt the key.
    #[error("wrong PIN")]
    WrongPin,
    /// The certificate could not be read or built.
    #[error("certificate: {0}")]
    Cert(String),
}

/// An SM2 key pair bound to [`DIST_ID`]. Every private-key operation goes through the RustCrypto `sm2` crate
/// (RFC 6979 deterministic nonces over SM3); the secret is overwritten when the pair is dropped.
pub struct KeyPair {
    sk: SigningKey,
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        // `sm2::dsa::SigningKey` does not zeroize itself and offers no `&mut` access to its scalar, so the whole
        // key is overwritten in place by the public key pair of d = 1; `black_box` keeps the store from being
        // optimised away as dead.
        if let Ok(one) = SigningKey::from_slice(DIST_ID, &ONE_BE) {
            self.sk = one;
            std::hint::black_box(&self.sk);
        }
    }
}

/// The scalar 1, big-endian: the harmless key a dropped [`KeyPair`] is overwritten with.
const ONE_BE: [u8; 32] = {
    let mut b = [0u8; 32];
    b[31] = 1;
    b
};

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(***)")
    }
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<KeyPair, Error> {
        let secret = <sm2::SecretKey as sm2::elliptic_curve::Generate>::try_generate_from_rng(
            &mut getrandom::SysRng,
        )
        .map_err(|e| Error::Key(format!("random source: {e}")))?;
        Self::from_secret(&secret)
    }

    fn from_secret(secret: &sm2::SecretKey) -> Result<KeyPair, Error> {
        SigningKey::new(DIST_ID, secret)
            .map(|sk| KeyPair { sk })
            .map_err(|e| Error::Key(e.to_string()))
    }

    /// Reads an unencrypted PKCS#8 PEM key (`openssl genpkey -algorithm SM2` writes these).
    pub fn from_pkcs8_pem(pem: &str) -> Result<KeyPair, Error> {
        let secret = sm2::SecretKey::from_pkcs8_pem(pem).map_err(|e| Error::Key(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// Reads an unencrypted key in either form the `openssl` command writes: PKCS#8 (`openssl genpkey`) or SEC1
    /// `EC PRIVATE KEY` (`openssl ecparam -genkey`, possibly after its `EC PARAMETERS` block).
    pub fn from_pem(pem: &str) -> Result<KeyPair, Error> {
        if let Some(block) = pem_block(pem, "PRIVATE KEY") {
            return Self::from_pkcs8_pem(&block);
        }
        // OpenSSL 3 labels SEC1 SM2 keys `SM2 PRIVATE KEY`; the content is the same as `EC PRIVATE KEY`.
        let sec1 = pem_block(pem, "EC PRIVATE KEY").or_else(|| {
            pem_block(pem, "SM2 PRIVATE KEY")
                .map(|b| Zeroizing::new(b.replace("SM2 PRIVATE KEY", "EC PRIVATE KEY")))
        });
        let Some(block) = sec1 else {
            return Err(Error::Key(
                "expected a PRIVATE KEY, EC PRIVATE KEY or SM2 PRIVATE KEY PEM block (an encrypted key needs its PIN)"
                    .into(),
            ));
        };
        let secret =
            sm2::SecretKey::from_sec1_pem(&block).map_err(|e| Error::Key(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// Reads a PKCS#8 key encrypted under `pin` (`openssl pkcs8 -topk8 -v2 aes-256-cbc` writes these).
    pub fn from_encrypted_pem(pem: &str, pin: &str) -> Result<KeyPair, Error> {
        let secret =
            sm2::SecretKey::from_pkcs8_encrypted_pem(pem, pin).map_err(|_| Error::WrongPin)?;
        Self::from_secret(&secret)
    }

    fn secret(&self) -> Result<sm2::SecretKey, Error> {
        let mut bytes: [u8; 32] = self.sk.to_bytes().into();
        let secret = sm2::SecretKey::from_slice(&bytes).map_err(|e| Error::Key(e.to_string()));
        bytes.zeroize();
        secret
    }

    /// The key as unencrypted PKCS#8 PEM (zeroized when dropped).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        self.secret()?
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::Key(e.to_string()))
    }

    /// The key as PKCS#8 PEM encrypted under `pin` (PBES2, scrypt + AES-256-CBC).
    pub fn to_encrypted_pem(&self, pin: &str) -> Result<String, Error> {
        Ok(self
            .secret()?
            .to_pkcs8_encrypted_pem(pin, LineEnding::LF)
            .map_err(|e| Error::Key(e.to_string()))?
            .to_string())
    }

    /// The public half.
    pub fn public(&self) -> &VerifyingKey {
        self.sk.verifying_key()
    }

    /// The RustCrypto signing key, for crates that take one (the seal writer).
    pub fn signing_key(&self) -> &SigningKey {
        &self.sk
    }

    /// SM2-signs `msg` (SM3 with Z over [`DIST_ID`]); the signature is DER `SEQUENCE { r, s }`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.sk.sign(msg);
        sig.to_der().to_vec()
    }
}

/// The PEM block labelled exactly `label` (parameter blocks before it are skipped).
fn pem_block(pem: &str, label: &str) -> Option<Zeroizing<String>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)?;
    let stop = pem.get(start..)?.find(&end)? + start + end.len();
    Some(Zeroizing::new(pem.get(start..stop)?.to_owned()))
}

/// Verifies a DER or raw 64-byte r‖s SM2 signature over `msg`.
pub fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let parsed = if sig.len() == 64 {
        Signature::from_slice(sig)
    } else {
        Signature::from_der(sig)
    };
    parsed.map(|s| key.verify(msg, &s).is_ok()).unwrap_or(false)
}

/// A holder's public key: SM2 (the national algorithm, [`DIST_ID`]) or ECDSA P-256.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// SM2; signatures are SM2 with SM3 over Z(DIST_ID) ‖ message.
    Sm2(VerifyingKey),
    /// NIST P-256; signatures are ECDSA with SHA-256.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// A short name for pages: `SM2` or `ECDSA P-256`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::Sm2(_) => "SM2",
            PublicKey::P256(_) => "ECDSA P-256",
        }
    }

    /// Verifies a DER or raw 64-byte r‖s signature over `msg` in this key's algorithm.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Sm2(k) => verify(k, msg, sig),
            PublicKey::P256(k) => {
                let parsed = if sig.len() == 64 {
                    p256::ecdsa::Signature::from_slice(sig)
                } else {
                    p256::ecdsa::Signature::from_der(sig)
                };
                parsed.map(|s| k.verify(msg, &s).is_ok()).unwrap_or(false)
            }
        }
    }

    /// The SubjectPublicKeyInfo (id-ecPublicKey with the curve's OID), as a certificate carries it.
    pub fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, Error> {
        let (curve, point) = match self {
            PublicKey::Sm2(k) => (CURVE_SM2, k.to_sec1_bytes().to_vec()),
            PublicKey::P256(k) => (CURVE_P256, k.to_sec1_point(false).as_bytes().to_vec()),
        };
        let params = der::Any::encode_from(&ObjectIdentifier::new_unwrap(curve))
            .map_err(|e| Error::Key(e.to_string()))?;
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap(EC_PUBLIC_KEY),
                parameters: Some(params),
            },
            subject_public_key: der::asn1::BitString::from_bytes(&point)
                .map_err(|e| Error::Key(e.to_string()))?,
        })
    }

    /// A P-256 key from its SEC1 point (uncompressed `04 ‖ x ‖ y` or compressed), as a PKCS#11 token's
    /// `CKA_EC_POINT` holds it once unwrapped from its OCTET STRING.
    pub fn p256_from_sec1(point: &[u8]) -> Result<PublicKey, Error> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
            .map(PublicKey::P256)
            .map_err(|_| Error::Key("not a P-256 public key".into()))
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A CA: keyCertSign and cRLSign, basicConstraints CA:true.
    Ca,
    /// An end entity that signs: digitalSignature and nonRepudiation (a UKey, the seal maker).
    Signing,
}

/// What to put in a certificate.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// The subject as an RFC 4514-style string, e.g. `C=CN,O=某公司,CN=张三`.
    pub subject: String,
    /// What it is for.
    pub usage: Usage,
    /// Not before, Unix seconds.
    pub not_before: i64,
    /// Not after, Unix seconds.
    pub not_after: i64,
    /// The serial (positive, at most 20 bytes); random when `None`.
    pub serial: Option<Vec<u8>>,
}

impl CertSpec {
    /// A spec valid from `not_before` for `secs` seconds, with a random serial.
    pub fn new(subject: &str, usage: Usage, not_before: i64, secs: i64) -> CertSpec {
        CertSpec {
            subject: subject.into(),
            usage,
            not_before,
            not_after: not_before + secs,
            serial: None,
        }
    }
}

/// The certificate profile: our own, because none of x509-cert's fits a national-crypto seal platform.
struct Profile {
    subject: Name,
    issuer: Option<Name>,
    usage: Usage,
    issuer_ski: Option<Vec<u8>>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut ext = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let aki_id = match &self.issuer_ski {
            Some(id) => der::asn1::OctetString::new(id.clone())?,
            None => ski.0.clone(),
        };
        ext.push(
            AuthorityKeyIdentifier {
                key_identifier: Some(aki_id),
                ..Default::default()
            }
            .to_extension(tbs.subject(), &ext)?,
        );
        let ca = self.usage == Usage::Ca;
        ext.push(
            BasicConstraints {
                ca,
                path_len_constraint: None,
            }
            .to_extension(tbs.subject(), &ext)?,
        );
        let usage = match self.usage {
            Usage::Ca => KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            Usage::Signing => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        };
        ext.push(KeyUsage(usage).to_extension(tbs.subject(), &ext)?);
        ext.push(ski.to_extension(tbs.subject(), &ext)?);
        Ok(ext)
    }
}

/// Signs certificates with a DER-encoded SM2 signature: x509-cert would otherwise put the raw r‖s form into the
/// BIT STRING, which OpenSSL rejects.
struct DerSigner<'a>(&'a SigningKey);

impl Keypair for DerSigner<'_> {
    type VerifyingKey = VerifyingKey;
    fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key().clone()
    }
}

impl DynSignatureAlgorithmIdentifier for DerSigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap(SM2_WITH_SM3),
            parameters: None,
        })
    }
}

impl Signer<DerSignature> for DerSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        let s: Signature = self.0.try_sign(msg)?;
        Ok(s.to_der())
    }
}

fn time(unix: i64) -> Result<Time, Error> {
    let d = Duration::from_secs(
        u64::try_from(unix).map_err(|_| Error::Cert("time before 1970".into()))?,
    );
    let dt = der::DateTime::from_unix_duration(d).map_err(|e| Error::Cert(e.to_string()))?;
    // RFC 5280: UTCTime through 2049, GeneralizedTime after.
    if dt.year() < 2050 {
        der::asn1::UtcTime::from_date_time(dt)
            .map(Time::UtcTime)
            .map_err(|e| Error::Cert(e.to_string()))
    } else {
        Ok(Time::GeneralTime(
            der::asn1::GeneralizedTime::from_date_time(dt),
        ))
    }
}

/// The spec's serial, or 16 random bytes made positive and kept at full length.
fn serial(spec: &CertSpec) -> Result<SerialNumber, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Cert(e.to_string()))?;
    b[0] = (b[0] & 0x7f) | 0x10;
    SerialNumber::new(spec.serial.as_deref().unwrap_or(&b)).map_err(|e| Error::Cert(e.to_string()))
}

/// Issues a certificate for the SM2 `subject_key`, signed by `issuer_key` whose certificate is `issuer_cert`.
pub fn issue(
    spec: &CertSpec,
    subject_key: &VerifyingKey,
    issuer_key: &KeyPair,
    issuer_cert: &Cert,
) -> Result<Cert, Error> {
    issue_for(
        spec,
        &PublicKey::Sm2(subject_key.clone()),
        issuer_key,
        issuer_cert,
    )
}

/// Issues a certificate for a holder's key of either kind (an ECDSA P-256 key made on a PKCS#11 token, say),
/// signed with SM2 by `issuer_key` whose certificate is `issuer_cert`.
pub fn issue_for(
    spec: &CertSpec,
    subject_key: &PublicKey,
    issuer_key: &KeyPair,
    issuer_cert: &Cert,
) -> Result<Cert, Error> {
    let subject = Name::from_str(&spec.subject)
        .map_err(|e| Error::Cert(format!("subject {}: {e}", spec.subject)))?;
    let serial = serial(spec)?;
    let validity = Validity::new(time(spec.not_before)?, time(spec.not_after)?);
    let spki = subject_key.spki()?;
    let profile = Profile {
        subject,
        issuer: Some(issuer_cert.cert.tbs_certificate().subject().clone()),
        usage: spec.usage,
        issuer_ski: issuer_cert.subject_key_id(),
    };
    let cert = CertificateBuilder::new(profile, serial, validity, spki)
        .and_then(|b| b.build::<_, DerSignature>(&DerSigner(issuer_key.signing_key())))
        .map_err(|e| Error::Cert(e.to_string()))?;
    Cert::from_certificate(cert)
}

/// Issues a self-signed CA certificate for `key`.
pub fn self_signed(spec: &CertSpec, key: &KeyPair) -> Result<Cert, Error> {
    let subject = Name::from_str(&spec.subject)
        .map_err(|e| Error::Cert(format!("subject {}: {e}", spec.subject)))?;
    let serial = serial(spec)?;
    let validity = Validity::new(time(spec.not_before)?, time(spec.not_after)?);
    let spki = SubjectPublicKeyInfoOwned::from_key(key.public())
        .map_err(|e| Error::Cert(e.to_string()))?;
    let profile = Profile {
        subject,
        issuer: None,
        usage: spec.usage,
        issuer_ski: None,
    };
    let cert = CertificateBuilder::new(profile, serial, validity, spki)
        .and_then(|b| b.build::<_, DerSignature>(&DerSigner(key.signing_key())))
        .map_err(|e| Error::Cert(e.to_string()))?;
    Cert::from_certificate(cert)
}

/// A parsed X.509 certificate with its DER kept.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

impl Cert {
    fn from_certificate(cert: Certificate) -> Result<Cert, Error> {
        let der = cert.to_der().map_err(|e| Error::Cert(e.to_string()))?;
        Ok(Cert { der, cert })
    }

    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Cert, Error> {
        let cert = Certificate::from_der(der).map_err(|e| Error::Cert(e.to_string()))?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
        })
    }

    /// Parses the first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Cert, Error> {
        let (label, der) =
            der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| Error::Cert(e.to_string()))?;
        if label != "CERTIFICATE" {
            return Err(Error::Cert(format!(
                "expected a CERTIFICATE PEM block, found {label}"
            )));
        }
        Self::from_der(&der)
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text.
    pub fn to_pem(&self) -> String {
        self.cert.to_pem(LineEnding::LF).unwrap_or_default()
    }

    /// The subject, RFC 4514 style.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The subject Name, DER (what a PKCS#11 certificate object's `CKA_SUBJECT` holds).
    pub fn subject_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// The issuer, RFC 4514 style.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<String> {
        self.cert
            .tbs_certificate()
            .subject()
            .common_name()
            .ok()
            .flatten()
            .map(|cn| cn.value().into_owned())
    }

    /// Every attribute value of the subject as text (CN, O, OU, serialNumber …), for matching a holder.
    pub fn subject_values(&self) -> Vec<String> {
        self.cert
            .tbs_certificate()
            .subject()
            .iter()
            .filter_map(|atv| {
                // RFC 4514 text `TYPE=value` with `\` escapes; only the value is wanted.
                let text = atv.to_string();
                let (_, value) = text.split_once('=')?;
                let mut out = String::new();
                let mut chars = value.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        out.extend(chars.next());
                    } else {
                        out.push(c);
                    }
                }
                Some(out)
            })
            .collect()
    }

    /// Whether basicConstraints marks a CA.
    pub fn is_ca(&self) -> bool {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .is_some_and(|(_, bc)| bc.ca)
    }

    /// Whether the key may make digital signatures: keyUsage present with digitalSignature (a signing key
    /// without a keyUsage extension is not accepted for seals).
    pub fn allows_digital_signature(&self) -> bool {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .ok()
            .flatten()
            .is_some_and(|(_, ku)| ku.digital_signature())
    }

    /// The serial number, lower-case hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// Validity as Unix seconds (not before, not after).
    pub fn validity(&self) -> (i64, i64) {
        let v = self.cert.tbs_certificate().validity();
        let s = |t: &Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        (s(&v.not_before), s(&v.not_after))
    }

    /// The SM2 public key, if the certificate holds one.
    pub fn public_key(&self) -> Result<VerifyingKey, Error> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Cert("public key bit string".into()))?;
        VerifyingKey::from_sec1_bytes(DIST_ID, bytes)
            .map_err(|_| Error::Cert("not an SM2 public key".into()))
    }

    /// The holder's public key, SM2 or ECDSA P-256, told apart by the SPKI's curve.
    pub fn key(&self) -> Result<PublicKey, Error> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid.to_string() != EC_PUBLIC_KEY {
            return Err(Error::Cert(
                "the certificate does not hold an elliptic-curve key (SM2 or ECDSA P-256)".into(),
            ));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .map(|o| o.to_string());
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Cert("public key bit string".into()))?;
        match curve.as_deref() {
            Some(CURVE_P256) => PublicKey::p256_from_sec1(bytes)
                .map_err(|_| Error::Cert("not a valid P-256 public key".into())),
            Some(CURVE_SM2) => VerifyingKey::from_sec1_bytes(DIST_ID, bytes)
                .map(PublicKey::Sm2)
                .map_err(|_| Error::Cert("not a valid SM2 public key".into())),
            other => Err(Error::Cert(format!(
                "unsupported curve {}: only SM2 and ECDSA P-256 keys are accepted",
                other.unwrap_or("(none)")
            ))),
        }
    }

    /// Whether `sig` (DER or raw r‖s) is this certificate's key's signature over `msg`, in the key's algorithm.
    pub fn verify_signature(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key().map(|k| k.verify(msg, sig)).unwrap_or(false)
    }

    fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.cert
            .tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .map(|(_, ski)| ski.0.as_bytes().to_vec())
    }

    /// Whether `issuer`'s key signed this certificate (signature only; validity is the caller's to check):
    /// SM2 with SM3 by an SM2 issuer, or ECDSA with SHA-256 by a P-256 issuer.
    pub fn verify_issued_by(&self, issuer: &Cert) -> bool {
        let Ok(key) = issuer.key() else {
            return false;
        };
        let Ok(tbs) = self.cert.tbs_certificate().to_der() else {
            return false;
        };
        let Some(sig) = self.cert.signature().as_bytes() else {
            return false;
        };
        let alg = self.cert.signature_algorithm().oid.to_string();
        let matches = match key {
            PublicKey::Sm2(_) => alg == SM2_WITH_SM3,
            PublicKey::P256(_) => alg == ECDSA_WITH_SHA256,
        };
        matches && key.verify(&tbs, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sealdesk-pki-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn openssl(args: &[&str]) -> std::process::Output {
        Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command")
    }

    /// `openssl verify` accepts `ee` as issued by `ca` at `at` (files `ca.pem`, `ee.pem` in `d`).
    fn openssl_verifies_chain(d: &std::path::Path, ca: &Cert, ee: &Cert, at: i64) {
        std::fs::write(d.join("ca.pem"), ca.to_pem()).unwrap();
        std::fs::write(d.join("ee.pem"), ee.to_pem()).unwrap();
        let out = openssl(&[
            "verify",
            "-attime",
            &at.to_string(),
            "-vfyopt",
            &format!("distid:{DIST_ID}"),
            "-CAfile",
            d.join("ca.pem").to_str().unwrap(),
            d.join("ee.pem").to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_pin_protects_the_key_and_the_wrong_pin_is_refused() {
        let k = KeyPair::generate().unwrap();
        let pem = k.to_encrypted_pem("123456").unwrap();
        assert!(pem.contains("ENCRYPTED PRIVATE KEY"));
        let back = KeyPair::from_encrypted_pem(&pem, "123456").unwrap();
        assert_eq!(back.public().to_sec1_bytes(), k.public().to_sec1_bytes());
        assert!(matches!(
            KeyPair::from_encrypted_pem(&pem, "654321"),
            Err(Error::WrongPin)
        ));
    }

    #[test]
    fn openssl_verifies_our_certificates_signatures_and_reads_our_keys() {
        let d = tmp("ours");
        let now = 1_790_000_000;
        let ca = KeyPair::generate().unwrap();
        let ca_cert = self_signed(
            &CertSpec::new(
                "C=CN,O=SealDesk,CN=SealDesk 演示 CA",
                Usage::Ca,
                now,
                86_400 * 3650,
            ),
            &ca,
        )
        .unwrap();
        let ee = KeyPair::generate().unwrap();
        let ee_cert = issue(
            &CertSpec::new(
                "C=CN,O=北筑设计研究院有限公司,CN=李四",
                Usage::Signing,
                now,
                86_400,
            ),
            ee.public(),
            &ca,
            &ca_cert,
        )
        .unwrap();
        assert!(ee_cert.verify_issued_by(&ca_cert));
        assert!(!ca_cert.verify_issued_by(&ee_cert));
        assert!(ca_cert.is_ca() && !ee_cert.is_ca());
        assert!(ee_cert.allows_digital_signature() && !ca_cert.allows_digital_signature());
        let values = ee_cert.subject_values();
        assert!(
            values.contains(&"北筑设计研究院有限公司".to_owned())
                && values.contains(&"李四".to_owned())
        );
        openssl_verifies_chain(&d, &ca_cert, &ee_cert, now + 60);

        // A message signed by us verifies with OpenSSL's SM2, given the same distid.
        std::fs::write(d.join("msg"), b"electronic seal").unwrap();
        std::fs::write(d.join("sig"), ee.sign(b"electronic seal")).unwrap();
        std::fs::write(
            d.join("pub.pem"),
            openssl(&[
                "x509",
                "-in",
                d.join("ee.pem").to_str().unwrap(),
                "-pubkey",
                "-noout",
            ])
            .stdout,
        )
        .unwrap();
        let out = openssl(&[
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{DIST_ID}"),
            "-pubin",
            "-inkey",
            d.join("pub.pem").to_str().unwrap(),
            "-in",
            d.join("msg").to_str().unwrap(),
            "-sigfile",
            d.join("sig").to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // OpenSSL reads the PIN-encrypted key and it is the same key.
        std::fs::write(d.join("key.pem"), ee.to_encrypted_pem("8888").unwrap()).unwrap();
        let out = openssl(&[
            "pkey",
            "-in",
            d.join("key.pem").to_str().unwrap(),
            "-passin",
            "pass:8888",
            "-pubout",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(d.join("pub.pem")).unwrap()
        );
        std::fs::remove_dir_all(d).ok();
    }

    #[test]
    fn ecdsa_p256_holders_are_accepted_beside_sm2_and_openssl_agrees() {
        let d = tmp("p256");
        let now = 1_790_000_000;
        let ca = KeyPair::generate().unwrap();
        let ca_cert = self_signed(
            &CertSpec::new("C=CN,O=SealDesk,CN=CA", Usage::Ca, now, 86_400 * 3650),
            &ca,
        )
        .unwrap();
        // A P-256 key as a PKCS#11 token would make it: OpenSSL generates it, we only see the public point.
        let key = d.join("p256.pem");
        assert!(
            openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                key.to_str().unwrap()
            ])
            .status
            .success()
        );
        let pubder = openssl(&[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ])
        .stdout;
        // The last 65 bytes of a P-256 SPKI are the uncompressed point.
        let point = &pubder[pubder.len() - 65..];
        let holder = PublicKey::p256_from_sec1(point).unwrap();
        assert_eq!(holder.algorithm(), "ECDSA P-256");
        let cert = issue_for(
            &CertSpec::new("C=CN,O=某公司,CN=某公司", Usage::Signing, now, 86_400),
            &holder,
            &ca,
            &ca_cert,
        )
        .unwrap();
        assert!(cert.verify_issued_by(&ca_cert));
        assert!(
            cert.public_key().is_err(),
            "the SM2-only accessor keeps its meaning"
        );
        assert!(matches!(cert.key(), Ok(PublicKey::P256(_))));
        openssl_verifies_chain(&d, &ca_cert, &cert, now + 60);
        // OpenSSL's ECDSA signature (DER) verifies under the certificate; a changed message does not.
        std::fs::write(d.join("msg"), b"challenge-123").unwrap();
        let sig = openssl(&[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            d.join("msg").to_str().unwrap(),
        ])
        .stdout;
        assert!(cert.verify_signature(b"challenge-123", &sig));
        assert!(!cert.verify_signature(b"challenge-124", &sig));
        // The raw r‖s form a PKCS#11 token returns is accepted too.
        let raw = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
        assert!(cert.verify_signature(b"challenge-123", &raw));
        // SM2 certificates read through the same door.
        let ee = KeyPair::generate().unwrap();
        let sm2_cert = issue(
            &CertSpec::new("C=CN,CN=张三", Usage::Signing, now, 86_400),
            ee.public(),
            &ca,
            &ca_cert,
        )
        .unwrap();
        assert_eq!(sm2_cert.key().unwrap().algorithm(), "SM2");
        assert!(sm2_cert.verify_signature(b"x", &ee.sign(b"x")));
        assert!(!cert.verify_signature(b"x", &ee.sign(b"x")));
        std::fs::remove_dir_all(d).ok();
    }

    #[test]
    fn we_verify_openssl_signatures_and_read_its_keys() {
        let d = tmp("theirs");
        let key = d.join("k.pem");
        assert!(
            openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:SM2",
                "-out",
                key.to_str().unwrap()
            ])
            .status
            .success()
        );
        std::fs::write(d.join("msg"), b"seal info").unwrap();
        let out = openssl(&[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{DIST_ID}"),
            "-inkey",
            key.to_str().unwrap(),
            "-in",
            d.join("msg").to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let k = KeyPair::from_pkcs8_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
        assert!(verify(k.public(), b"seal info", &out.stdout));
        // `openssl ecparam -genkey` writes PKCS#8 after an SM2 PARAMETERS block, `openssl ec` writes SEC1 labelled
        // SM2 PRIVATE KEY: both must load, as the same key.
        let both = d.join("both.pem");
        assert!(
            openssl(&[
                "ecparam",
                "-name",
                "SM2",
                "-genkey",
                "-out",
                both.to_str().unwrap()
            ])
            .status
            .success()
        );
        let sec1 = d.join("sec1.pem");
        assert!(
            openssl(&[
                "ec",
                "-in",
                both.to_str().unwrap(),
                "-out",
                sec1.to_str().unwrap()
            ])
            .status
            .success()
        );
        let a = KeyPair::from_pem(&std::fs::read_to_string(&both).unwrap()).unwrap();
        let b = KeyPair::from_pem(&std::fs::read_to_string(&sec1).unwrap()).unwrap();
        assert_eq!(a.public().to_sec1_bytes(), b.public().to_sec1_bytes());
        assert!(
            KeyPair::from_pem(&std::fs::read_to_string(&key).unwrap()).is_ok(),
            "plain PKCS#8 from genpkey"
        );
        assert!(matches!(
            KeyPair::from_pem("-----BEGIN CERTIFICATE-----"),
            Err(Error::Key(_))
        ));
        assert!(!verify(k.public(), b"seal inf0", &out.stdout));
        std::fs::remove_dir_all(d).ok();
    }
}
