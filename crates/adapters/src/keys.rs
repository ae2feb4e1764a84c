//! The platform's keys on disk: the demo CA that issues soft-token certificates, and the seal maker's key and
//! certificate that sign every seal. Created on first use under `<data-dir>/pki/`.
//!
//! In demo mode the CA and maker keys sit unencrypted in files readable only by their owner; a production
//! deployment points `maker_key`/`maker_cert` at material from its real CA (and, later, an HSM).

use std::path::{Path, PathBuf};

use sealdesk_pki::{Cert, CertSpec, KeyPair, Usage, issue, self_signed};
use zeroize::Zeroizing;

/// Errors reading or creating key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Key or certificate content is bad.
    #[error("{0}")]
    Pki(#[from] sealdesk_pki::Error),
}

fn read(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| KeyError::Io {
            path: path.into(),
            source,
        })
}

fn write_private(path: &Path, text: &str) -> Result<(), KeyError> {
    crate::write_private(path, text.as_bytes()).map_err(|source| KeyError::Io {
        path: path.into(),
        source,
    })
}

fn now() -> i64 {
    sealdesk_domain::Clock::now(&sealdesk_domain::SystemClock).0
}

/// A key with its certificate.
#[derive(Debug)]
pub struct Identity {
    /// The private key.
    pub key: KeyPair,
    /// Its certificate.
    pub cert: Cert,
}

/// Loads `name.key.pem` + `name.pem` from `dir`, or creates them with `make`.
fn load_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> Result<Identity, KeyError>,
) -> Result<Identity, KeyError> {
    let (kp, cp) = (
        dir.join(format!("{name}.key.pem")),
        dir.join(format!("{name}.pem")),
    );
    if kp.exists() && cp.exists() {
        return Ok(Identity {
            key: KeyPair::from_pem(&read(&kp)?)?,
            cert: Cert::from_pem(&read(&cp)?)?,
        });
    }
    let id = make()?;
    write_private(&kp, &id.key.to_pkcs8_pem()?)?;
    crate::write_atomic(&cp, id.cert.to_pem().as_bytes())
        .map_err(|source| KeyError::Io { path: cp, source })?;
    Ok(id)
}

/// The demo CA of a data directory: the trust anchor for soft tokens and for the demo seal maker.
pub fn demo_ca(data_dir: &Path) -> Result<Identity, KeyError> {
    load_or_create(&data_dir.join("pki"), "demo-ca", || {
        let key = KeyPair::generate()?;
        let spec = CertSpec::new(
            "C=CN,O=SealDesk,OU=Demo,CN=SealDesk 演示 CA",
            Usage::Ca,
            now() - 3600,
            20 * 365 * 86_400,
        );
        let cert = self_signed(&spec, &key)?;
        Ok(Identity { key, cert })
    })
}

/// The seal maker (制章者) of a data directory, issued by the demo CA unless files are already there.
pub fn seal_maker(data_dir: &Path, ca: &Identity) -> Result<Identity, KeyError> {
    load_or_create(&data_dir.join("pki"), "seal-maker", || {
        let key = KeyPair::generate()?;
        let spec = CertSpec::new(
            "C=CN,O=SealDesk,OU=电子印章制作,CN=SealDesk 电子印章制作者",
            Usage::Signing,
            now() - 3600,
            10 * 365 * 86_400,
        );
        let cert = issue(&spec, key.public(), &ca.key, &ca.cert)?;
        Ok(Identity { key, cert })
    })
}

/// Loads a key and certificate from explicit paths (production configuration).
pub fn identity_from_files(key_path: &Path, cert_path: &Path) -> Result<Identity, KeyError> {
    Ok(Identity {
        key: KeyPair::from_pem(&read(key_path)?)?,
        cert: Cert::from_pem(&read(cert_path)?)?,
    })
}

/// The sandbox payment gateway's own key (the platform trusts its public half).
pub fn sandbox_gateway_key(data_dir: &Path) -> Result<KeyPair, KeyError> {
    let path = data_dir.join("pki").join("sandbox-gateway.key.pem");
    if path.exists() {
        return Ok(KeyPair::from_pem(&read(&path)?)?);
    }
    let key = KeyPair::generate()?;
    write_private(&path, &key.to_pkcs8_pem()?)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let ca = demo_ca(dir.path()).unwrap();
        let maker = seal_maker(dir.path(), &ca).unwrap();
        assert!(maker.cert.verify_issued_by(&ca.cert));
        let again = demo_ca(dir.path()).unwrap();
        assert_eq!(again.cert.der(), ca.cert.der());
        assert_eq!(
            seal_maker(dir.path(), &again).unwrap().cert.der(),
            maker.cert.der()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("pki/demo-ca.key.pem"))
                .unwrap()
                .permissions()
                .mode();
            for f in ["demo-ca.key.pem", "seal-maker.key.pem"] {
                let mode = std::fs::metadata(dir.path().join("pki").join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f} is readable by its owner only");
            }
            assert_eq!(mode & 0o777, 0o600);
            sandbox_gateway_key(dir.path()).unwrap();
            let mode = std::fs::metadata(dir.path().join("pki/sandbox-gateway.key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
