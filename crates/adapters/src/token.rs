//! The soft token: a directory that behaves like a UKey, for the demo and the tests, and the reference the
//! PKCS#11 agent (a later issue) serves from.
//!
//! Layout: `token.json` (serial, holder, name, PIN retries left), `key.pem` (the SM2 key, PKCS#8 encrypted
//! under the PIN), `cert.pem` (issued by the demo CA), `seals/*.esl` (the seals written, DER). Like a real key it
//! locks after [`MAX_PIN_TRIES`] wrong PINs in a row.
//!
//! Writing several seals is all-or-nothing ([`SoftToken::apply_seals`]): the new set is staged in `seals.new/`
//! and swapped in by two renames; [`SoftToken::open`] finishes or undoes a swap a crash interrupted, so the
//! token always shows either the old set or the new one.

use std::path::{Path, PathBuf};

use sealdesk_pki::{Cert, CertSpec, KeyPair, Usage, issue};
use serde::{Deserialize, Serialize};

use crate::keys::Identity;

/// Wrong PINs in a row before the token locks.
pub const MAX_PIN_TRIES: u32 = 6;

/// What can go wrong with a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a token directory, or a file in it is unreadable.
    #[error("{0}")]
    Io(String),
    /// The PIN is wrong; `left` tries remain.
    #[error("PIN 错误，还可以尝试 {left} 次")]
    WrongPin {
        /// Tries left before the token locks.
        left: u32,
    },
    /// Too many wrong PINs.
    #[error("PIN 已锁定，请联系客服解锁")]
    Locked,
    /// A PIN that is too short or too long.
    #[error("PIN 应为 6–16 位")]
    BadPin,
    /// Key material error.
    #[error("{0}")]
    Pki(#[from] sealdesk_pki::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    serial: String,
    holder: String,
    name: String,
    pin_tries_left: u32,
}

/// An opened soft token.
#[derive(Debug)]
pub struct SoftToken {
    dir: PathBuf,
    meta: Meta,
    cert: Cert,
}

fn io(path: &Path, e: std::io::Error) -> TokenError {
    TokenError::Io(format!("{}: {e}", path.display()))
}

fn check_pin(pin: &str) -> Result<(), TokenError> {
    if (6..=16).contains(&pin.chars().count()) {
        Ok(())
    } else {
        Err(TokenError::BadPin)
    }
}

impl SoftToken {
    /// Creates a token in `dir` (which must not hold one already): a fresh SM2 key under `pin`, and a certificate
    /// from `ca` for `name` (an enterprise or a person per `holder`).
    pub fn init(
        dir: &Path,
        pin: &str,
        ca: &Identity,
        holder: &str,
        name: &str,
    ) -> Result<SoftToken, TokenError> {
        Self::init_with_id(dir, pin, ca, holder, name, None)
    }

    /// [`SoftToken::init`] with the holder's ID number in the certificate's subject (serialNumber, as a
    /// person's UKey certificate carries it; an enterprise's carries its unified social credit code there).
    pub fn init_with_id(
        dir: &Path,
        pin: &str,
        ca: &Identity,
        holder: &str,
        name: &str,
        id_number: Option<&str>,
    ) -> Result<SoftToken, TokenError> {
        check_pin(pin)?;
        if dir.join("token.json").exists() {
            return Err(TokenError::Io(format!(
                "{} already holds a token",
                dir.display()
            )));
        }
        let serial = hex::encode_upper(crate::random_bytes::<8>());
        let key = KeyPair::generate()?;
        let now = sealdesk_domain::Clock::now(&sealdesk_domain::SystemClock).0;
        let id = id_number
            .filter(|i| !i.is_empty())
            .map(|i| format!(",2.5.4.5={i}"))
            .unwrap_or_default();
        let subject = match holder {
            "person" => format!("C=CN,OU=个人,CN={name}{id}"),
            _ => format!("C=CN,O={name},CN={name}{id}"),
        };
        let mut spec = CertSpec::new(&subject, Usage::Signing, now - 3600, 2 * 365 * 86_400);
        spec.serial = hex::decode(format!("10{serial}")).ok();
        let cert = issue(&spec, key.public(), &ca.key, &ca.cert)?;
        std::fs::create_dir_all(dir.join("seals")).map_err(|e| io(dir, e))?;
        let w = |f: &str, b: &[u8]| {
            crate::write_atomic(&dir.join(f), b).map_err(|e| io(&dir.join(f), e))
        };
        // Encrypted under the PIN, and still nobody else's to read.
        crate::write_private(&dir.join("key.pem"), key.to_encrypted_pem(pin)?.as_bytes())
            .map_err(|e| io(&dir.join("key.pem"), e))?;
        w("cert.pem", cert.to_pem().as_bytes())?;
        let meta = Meta {
            serial,
            holder: holder.into(),
            name: name.into(),
            pin_tries_left: MAX_PIN_TRIES,
        };
        w(
            "token.json",
            &serde_json::to_vec_pretty(&meta).map_err(|e| TokenError::Io(e.to_string()))?,
        )?;
        Ok(SoftToken {
            dir: dir.into(),
            meta,
            cert,
        })
    }

    /// Opens the token in `dir`, finishing or undoing a seal write a crash interrupted.
    pub fn open(dir: &Path) -> Result<SoftToken, TokenError> {
        recover_seals(dir)?;
        let mp = dir.join("token.json");
        let meta: Meta = serde_json::from_slice(&std::fs::read(&mp).map_err(|e| io(&mp, e))?)
            .map_err(|e| TokenError::Io(format!("{}: {e}", mp.display())))?;
        let cp = dir.join("cert.pem");
        let cert = Cert::from_pem(&std::fs::read_to_string(&cp).map_err(|e| io(&cp, e))?)?;
        Ok(SoftToken {
            dir: dir.into(),
            meta,
            cert,
        })
    }

    /// 密钥序列号.
    pub fn serial(&self) -> &str {
        &self.meta.serial
    }

    /// The token's certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// `enterprise` or `person`.
    pub fn holder(&self) -> &str {
        &self.meta.holder
    }

    /// The holder's name the token was made for (its label).
    pub fn label(&self) -> &str {
        &self.meta.name
    }

    /// Wrong PINs still allowed before the token locks (0: locked).
    pub fn tries_left(&self) -> u32 {
        self.meta.pin_tries_left
    }

    /// Signs `msg` with the token's key (SM2 with SM3, DER), the PIN counted as by [`SoftToken::unlock`].
    pub fn sign(&mut self, pin: &str, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        Ok(self.unlock(pin)?.sign(msg))
    }

    /// Writes `puts` (esID, DER; an existing seal of the same esID is replaced) and removes `deletes`, all or
    /// nothing: the new set is built in `seals.new/` beside the old one and swapped in by renames.
    pub fn apply_seals(
        &mut self,
        pin: &str,
        puts: &[(String, Vec<u8>)],
        deletes: &[String],
    ) -> Result<(), TokenError> {
        self.unlock(pin)?;
        let (live, new, old) = seal_dirs(&self.dir);
        let fail = |p: &Path, e: std::io::Error| io(p, e);
        if new.exists() {
            std::fs::remove_dir_all(&new).map_err(|e| fail(&new, e))?;
        }
        std::fs::create_dir_all(&new).map_err(|e| fail(&new, e))?;
        let replaced: Vec<String> = puts
            .iter()
            .map(|(id, _)| seal_file_name(id))
            .chain(deletes.iter().map(|id| seal_file_name(id)))
            .collect();
        let staged = (|| {
            for (name, der) in self.seals()? {
                if !replaced.contains(&name) {
                    std::fs::write(new.join(&name), der).map_err(|e| fail(&new, e))?;
                }
            }
            for (id, der) in puts {
                std::fs::write(new.join(seal_file_name(id)), der).map_err(|e| fail(&new, e))?;
            }
            Ok::<(), TokenError>(())
        })();
        if let Err(e) = staged {
            let _ = std::fs::remove_dir_all(&new);
            return Err(e);
        }
        if live.exists() {
            std::fs::rename(&live, &old).map_err(|e| fail(&live, e))?;
        }
        std::fs::rename(&new, &live).map_err(|e| fail(&new, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| fail(&old, e))?;
        }
        Ok(())
    }

    fn save_meta(&self) -> Result<(), TokenError> {
        let p = self.dir.join("token.json");
        let b = serde_json::to_vec_pretty(&self.meta).map_err(|e| TokenError::Io(e.to_string()))?;
        crate::write_atomic(&p, &b).map_err(|e| io(&p, e))
    }

    /// Unlocks the key with `pin`, counting wrong tries and locking after [`MAX_PIN_TRIES`].
    pub fn unlock(&mut self, pin: &str) -> Result<KeyPair, TokenError> {
        if self.meta.pin_tries_left == 0 {
            return Err(TokenError::Locked);
        }
        let kp = self.dir.join("key.pem");
        let pem = std::fs::read_to_string(&kp).map_err(|e| io(&kp, e))?;
        match KeyPair::from_encrypted_pem(&pem, pin) {
            Ok(k) => {
                if self.meta.pin_tries_left != MAX_PIN_TRIES {
                    self.meta.pin_tries_left = MAX_PIN_TRIES;
                    self.save_meta()?;
                }
                Ok(k)
            }
            Err(sealdesk_pki::Error::WrongPin) => {
                self.meta.pin_tries_left -= 1;
                self.save_meta()?;
                if self.meta.pin_tries_left == 0 {
                    Err(TokenError::Locked)
                } else {
                    Err(TokenError::WrongPin {
                        left: self.meta.pin_tries_left,
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a seal onto the token (the PIN is required, as on a real key) and returns the key's signature over
    /// SM3 of the seal bytes: the receipt the platform checks before it calls the order complete.
    pub fn write_seal(
        &mut self,
        pin: &str,
        es_id: &str,
        der: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        let key = self.unlock(pin)?;
        let p = self.dir.join("seals").join(seal_file_name(es_id));
        crate::write_atomic(&p, der).map_err(|e| io(&p, e))?;
        Ok(key.sign(der))
    }

    /// Signs a challenge with the key (the PIN is required, as on a real key): what 授权 asks of the key to prove
    /// that whoever presents its certificate holds it. SM2 with SM3 and the default ID; DER signature.
    pub fn sign_challenge(&mut self, pin: &str, challenge: &[u8]) -> Result<Vec<u8>, TokenError> {
        Ok(self.unlock(pin)?.sign(challenge))
    }

    /// The seals on the token: (file name, DER).
    pub fn seals(&self) -> Result<Vec<(String, Vec<u8>)>, TokenError> {
        let d = self.dir.join("seals");
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io(&d, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| io(&d, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".esl") {
                out.push((
                    name,
                    std::fs::read(entry.path()).map_err(|e| io(&entry.path(), e))?,
                ));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The file a seal is kept in: its esID with anything but letters, digits, `-` and `_` replaced.
fn seal_file_name(es_id: &str) -> String {
    let safe: String = es_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.esl")
}

/// `seals/`, `seals.new/` (a set being staged), `seals.old/` (the set being replaced).
fn seal_dirs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("seals"),
        dir.join("seals.new"),
        dir.join("seals.old"),
    )
}

/// Brings an interrupted [`SoftToken::apply_seals`] to one end: a staged set is complete only once the live
/// set has been moved aside, so a staged set beside a live one is dropped and one without a live set goes live.
fn recover_seals(dir: &Path) -> Result<(), TokenError> {
    let (live, new, old) = seal_dirs(dir);
    let fail = |p: &Path, e: std::io::Error| io(p, e);
    if new.exists() {
        if live.exists() {
            std::fs::remove_dir_all(&new).map_err(|e| fail(&new, e))?;
        } else {
            std::fs::rename(&new, &live).map_err(|e| fail(&new, e))?;
        }
    }
    if old.exists() {
        if live.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| fail(&old, e))?;
        } else {
            std::fs::rename(&old, &live).map_err(|e| fail(&old, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_its_key_under_the_pin_and_locks_after_too_many_wrong_tries() {
        let data = tempfile::tempdir().unwrap();
        let ca = crate::keys::demo_ca(data.path()).unwrap();
        let dir = data.path().join("ukey");
        let t = SoftToken::init(
            &dir,
            "12345678",
            &ca,
            "enterprise",
            "北筑设计研究院有限公司",
        )
        .unwrap();
        assert!(t.cert().verify_issued_by(&ca.cert));
        assert!(t.cert().subject().contains("北筑设计研究院有限公司"));
        assert!(
            SoftToken::init(&dir, "12345678", &ca, "enterprise", "x").is_err(),
            "no overwrite"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
        }
        let mut signer = SoftToken::open(&dir).unwrap();
        let sig = signer.sign_challenge("12345678", b"challenge").unwrap();
        assert!(sealdesk_pki::verify(
            &t.cert().public_key().unwrap(),
            b"challenge",
            &sig
        ));
        let person = SoftToken::init_with_id(
            &data.path().join("p"),
            "12345678",
            &ca,
            "person",
            "张三",
            Some("11010519491231002X"),
        )
        .unwrap();
        let values = person.cert().subject_values();
        assert!(
            values.contains(&"张三".to_owned())
                && values.contains(&"11010519491231002X".to_owned())
        );
        let mut t = SoftToken::open(&dir).unwrap();
        let sig = t.write_seal("12345678", "ES-1", b"seal").unwrap();
        assert!(sealdesk_pki::verify(
            &t.cert().public_key().unwrap(),
            b"seal",
            &sig
        ));
        assert_eq!(
            t.seals().unwrap(),
            vec![("ES-1.esl".to_owned(), b"seal".to_vec())]
        );
        for left in (1..MAX_PIN_TRIES).rev() {
            assert!(
                matches!(t.unlock("00000000"), Err(TokenError::WrongPin { left: l }) if l == left)
            );
        }
        assert!(matches!(t.unlock("00000000"), Err(TokenError::Locked)));
        assert!(
            matches!(
                SoftToken::open(&dir).unwrap().unlock("12345678"),
                Err(TokenError::Locked)
            ),
            "the lock survives reopening"
        );
        assert!(matches!(
            SoftToken::init(&data.path().join("b"), "123", &ca, "person", "张三"),
            Err(TokenError::BadPin)
        ));
    }

    #[test]
    fn several_seals_are_written_all_or_nothing_and_a_crash_mid_swap_is_undone_or_finished() {
        let data = tempfile::tempdir().unwrap();
        let ca = crate::keys::demo_ca(data.path()).unwrap();
        let dir = data.path().join("ukey");
        let mut t = SoftToken::init(&dir, "12345678", &ca, "person", "张三").unwrap();
        assert_eq!(t.label(), "张三");
        t.apply_seals(
            "12345678",
            &[("A".into(), b"a".to_vec()), ("B".into(), b"b".to_vec())],
            &[],
        )
        .unwrap();
        t.apply_seals(
            "12345678",
            &[("B".into(), b"b2".to_vec()), ("C".into(), b"c".to_vec())],
            &["A".into()],
        )
        .unwrap();
        let after = vec![
            ("B.esl".to_owned(), b"b2".to_vec()),
            ("C.esl".to_owned(), b"c".to_vec()),
        ];
        assert_eq!(t.seals().unwrap(), after);
        t.apply_seals("12345678", &[("D".into(), b"d".to_vec())], &[])
            .unwrap();
        assert!(matches!(
            t.apply_seals("00000000", &[], &["B".into()]),
            Err(TokenError::WrongPin { left: 5 })
        ));
        assert_eq!(t.tries_left(), 5);
        let with_d = {
            let mut v = after.clone();
            v.push(("D.esl".to_owned(), b"d".to_vec()));
            v
        };
        assert_eq!(t.seals().unwrap(), with_d, "a wrong PIN changes nothing");

        // Crash while staging: the staged set is dropped on open.
        let (live, new, old) = seal_dirs(&dir);
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("X.esl"), b"x").unwrap();
        assert_eq!(SoftToken::open(&dir).unwrap().seals().unwrap(), with_d);
        assert!(!new.exists());
        // Crash between the two renames: the complete staged set goes live.
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("Y.esl"), b"y").unwrap();
        std::fs::rename(&live, &old).unwrap();
        assert_eq!(
            SoftToken::open(&dir).unwrap().seals().unwrap(),
            vec![("Y.esl".to_owned(), b"y".to_vec())]
        );
        assert!(!old.exists() && !new.exists());
        // Crash after the swap, before the old set was removed.
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("Z.esl"), b"z").unwrap();
        assert_eq!(
            SoftToken::open(&dir).unwrap().seals().unwrap(),
            vec![("Y.esl".to_owned(), b"y".to_vec())]
        );
        assert!(!old.exists());
    }
}
