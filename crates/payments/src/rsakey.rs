//! SHA256withRSA (PKCS#1 v1.5) keys as the gateways hand them out: Alipay's RSA2 and WeChat Pay's
//! WECHATPAY2-SHA256-RSA2048 are the same primitive. PKCS#1 v1.5 signing is deterministic, so the published
//! vectors pin our output byte for byte.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::Sha256;
use x509_cert::der::{DecodePem, Encode};

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key: {0}")]
pub struct KeyError(pub String);

/// A merchant's private key (Alipay 应用私钥, WeChat Pay `apiclient_key.pem`).
#[derive(Clone)]
pub struct RsaPrivate(SigningKey<Sha256>);

impl std::fmt::Debug for RsaPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivate(..)")
    }
}

impl RsaPrivate {
    /// Reads a PEM key: PKCS#8 (`PRIVATE KEY`, what the WeChat Pay tool writes) or PKCS#1 (`RSA PRIVATE KEY`),
    /// or the bare base64 PKCS#8 body the Alipay key tool prints.
    pub fn from_pem(text: &str) -> Result<RsaPrivate, KeyError> {
        let t = text.trim();
        let key = if t.contains("BEGIN RSA PRIVATE KEY") {
            rsa::PrivateKey::from_pkcs1_pem(t).map_err(|e| KeyError(e.to_string()))?
        } else if t.contains("-----BEGIN") {
            rsa::PrivateKey::from_pkcs8_pem(t).map_err(|e| KeyError(e.to_string()))?
        } else {
            let der = B64
                .decode(t.split_whitespace().collect::<String>())
                .map_err(|_| KeyError("neither PEM nor base64".into()))?;
            rsa::PrivateKey::from_pkcs8_der(&der)
                .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
                .map_err(|e| KeyError(e.to_string()))?
        };
        Ok(RsaPrivate(SigningKey::new(key)))
    }

    /// SHA256withRSA over `msg`, base64.
    pub fn sign_b64(&self, msg: &[u8]) -> String {
        B64.encode(self.0.sign(msg).to_bytes())
    }

    /// The matching public key.
    pub fn public(&self) -> RsaPublic {
        use rsa::signature::Keypair;
        RsaPublic(self.0.verifying_key())
    }
}

/// A gateway's public key (支付宝公钥, 微信支付公钥 or the key inside a 平台证书).
#[derive(Clone, Debug)]
pub struct RsaPublic(VerifyingKey<Sha256>);

impl RsaPublic {
    /// Reads `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), a `CERTIFICATE` (its subject key), or the bare
    /// base64 SPKI the Alipay console shows.
    pub fn from_pem(text: &str) -> Result<RsaPublic, KeyError> {
        let t = text.trim();
        let key = if t.contains("BEGIN CERTIFICATE") {
            let (_, spki) = cert_serial_and_spki(t)?;
            rsa::PublicKey::from_public_key_der(&spki).map_err(|e| KeyError(e.to_string()))?
        } else if t.contains("BEGIN RSA PUBLIC KEY") {
            rsa::PublicKey::from_pkcs1_pem(t).map_err(|e| KeyError(e.to_string()))?
        } else if t.contains("-----BEGIN") {
            rsa::PublicKey::from_public_key_pem(t).map_err(|e| KeyError(e.to_string()))?
        } else {
            let der = B64
                .decode(t.split_whitespace().collect::<String>())
                .map_err(|_| KeyError("neither PEM nor base64".into()))?;
            rsa::PublicKey::from_public_key_der(&der).map_err(|e| KeyError(e.to_string()))?
        };
        Ok(RsaPublic(VerifyingKey::new(key)))
    }

    /// Whether `sig_b64` is a SHA256withRSA signature of `msg` by this key. Malformed base64 is simply `false`.
    pub fn verify_b64(&self, msg: &[u8], sig_b64: &str) -> bool {
        let Ok(raw) = B64.decode(sig_b64.trim()) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(raw.as_slice()) else {
            return false;
        };
        self.0.verify(msg, &sig).is_ok()
    }
}

/// A certificate's serial (upper-case hex, the form WeChat Pay puts in `Wechatpay-Serial`) and its subject
/// public key info, DER.
pub fn cert_serial_and_spki(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes())
        .map_err(|e| KeyError(format!("certificate: {e}")))?;
    let tbs = cert.tbs_certificate();
    let serial = hex::encode_upper(tbs.serial_number().as_bytes());
    let spki = tbs
        .subject_public_key_info()
        .to_der()
        .map_err(|e| KeyError(e.to_string()))?;
    Ok((serial, spki))
}
