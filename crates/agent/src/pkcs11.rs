//! PKCS#11 backend through `cryptoki`: every token in every slot of the module is a key.
//!
//! What lives on the token, all as `CKO_DATA` objects of application `SealDesk` (public, so that seals can be
//! listed without the PIN; writing needs the PIN because the agent logs in first):
//! * `seal:{esID}` — a seal, its DER in `CKA_VALUE`;
//! * `pending:{tx}:{esID}` — a seal staged by write `tx`, not yet live;
//! * `commit:{tx}` — write `tx`'s plan (esIDs put and deleted); its creation is the moment the write happens;
//! * `pin-tries` — wrong PINs left, for tokens that do not count by themselves (SoftHSM2).
//!
//! A write stages every new seal, creates the commit record, then swaps (destroys the old `seal:` object,
//! relabels the pending one) and removes the record. Before any read or write the agent finishes a write
//! whose commit record exists and destroys pending objects of one whose record does not: a token pulled out at
//! any step shows the old seals or the new ones, never a mixture.
//!
//! The key is the token's first private key that may sign. SoftHSM2 has no SM2 mechanism, so its keys are
//! ECDSA P-256 (`CKM_ECDSA` over a SHA-256 digest made here); a token with SM2 keys needs a vendor mechanism or
//! the SKF backend.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sealdesk_pki::{Cert, PublicKey};
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::backend::{Backend, Change, KeyInfo, MAX_PIN_TRIES, Pin, PinStatus, StoredSeal};

const APP: &[u8] = b"SealDesk";
const PIN_TRIES: &str = "pin-tries";

/// What a write changes, kept in its commit record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    put: Vec<String>,
    delete: Vec<String>,
}

/// Fault drills: a key pulled out after a number of changes, or a slow key.
#[derive(Debug, Default)]
struct Faults {
    /// Changes (object creations, deletions, relabels) allowed before the key "is pulled out".
    remove_after: Option<u64>,
    changes: u64,
    removed: bool,
    delay: Duration,
}

/// Tokens behind one PKCS#11 module.
pub struct Pkcs11Backend {
    ctx: Pkcs11,
    module: PathBuf,
    // One conversation with the module at a time: PKCS#11 login state is shared by every session of the
    // application, so two overlapping logins would let one skip the other's PIN check.
    op: Mutex<()>,
    faults: Mutex<Faults>,
}

impl std::fmt::Debug for Pkcs11Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Backend({})", self.module.display())
    }
}

fn ck(e: CkError) -> AgentError {
    match e {
        CkError::Pkcs11(
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceError,
            _,
        ) => AgentError::Removed,
        CkError::LibraryLoading(e) => AgentError::Token(format!("无法加载 PKCS#11 模块: {e}")),
        other => AgentError::Token(format!("PKCS#11: {other}")),
    }
}

fn label_of(s: &Session, h: ObjectHandle) -> Result<String, AgentError> {
    for a in s.get_attributes(h, &[AttributeType::Label]).map_err(ck)? {
        if let Attribute::Label(l) = a {
            return Ok(String::from_utf8_lossy(&l).into_owned());
        }
    }
    Ok(String::new())
}

fn value_of(s: &Session, h: ObjectHandle) -> Result<Vec<u8>, AgentError> {
    for a in s.get_attributes(h, &[AttributeType::Value]).map_err(ck)? {
        if let Attribute::Value(v) = a {
            return Ok(v);
        }
    }
    Err(AgentError::Token("对象没有数据".into()))
}

fn data_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Application(APP.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// Our data objects on the token: (handle, label).
fn our_objects(s: &Session) -> Result<Vec<(ObjectHandle, String)>, AgentError> {
    let handles = s
        .find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Application(APP.to_vec()),
        ])
        .map_err(ck)?;
    handles
        .into_iter()
        .map(|h| Ok((h, label_of(s, h)?)))
        .collect()
}

impl Pkcs11Backend {
    /// Loads and initialises the module at `path` (e.g. `/usr/lib/softhsm/libsofthsm2.so`, a vendor's
    /// `.dll`/`.dylib`/`.so`).
    pub fn open(path: &Path) -> Result<Pkcs11Backend, AgentError> {
        let ctx = Pkcs11::new(path).map_err(ck)?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(ck(e)),
        }
        Ok(Self::with_context(ctx, path))
    }

    /// Serves an already initialised module context (tests that provision the token first share theirs).
    pub fn with_context(ctx: Pkcs11, module: &Path) -> Pkcs11Backend {
        Pkcs11Backend {
            ctx,
            module: module.into(),
            op: Mutex::new(()),
            faults: Mutex::new(Faults::default()),
        }
    }

    /// Drill: after `n` more changes to any token the key counts as pulled out, and every call fails with
    /// [`AgentError::Removed`] until [`Pkcs11Backend::reinsert`].
    pub fn simulate_removal_after(&self, n: u64) {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        f.remove_after = Some(n);
        f.changes = 0;
    }

    /// Drill: the key is back.
    pub fn reinsert(&self) {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *f = Faults {
            delay: f.delay,
            ..Faults::default()
        };
    }

    /// Drill: every change takes `d` longer, as on a slow key (to make two writers overlap in tests).
    pub fn slow_changes(&self, d: Duration) {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).delay = d;
    }

    fn present(&self) -> Result<(), AgentError> {
        if self
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .removed
        {
            Err(AgentError::Removed)
        } else {
            Ok(())
        }
    }

    /// Every change to a token goes through here, where the drills act.
    fn change<T>(&self, f: impl FnOnce() -> Result<T, CkError>) -> Result<T, AgentError> {
        let delay = {
            let mut fl = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            if fl.removed {
                return Err(AgentError::Removed);
            }
            if let Some(n) = fl.remove_after
                && fl.changes >= n
            {
                fl.removed = true;
                return Err(AgentError::Removed);
            }
            fl.changes += 1;
            fl.delay
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        f().map_err(ck)
    }

    fn slot(&self, serial: &str) -> Result<Slot, AgentError> {
        self.present()?;
        for slot in self.ctx.get_slots_with_token().map_err(ck)? {
            let info = self.ctx.get_token_info(slot).map_err(ck)?;
            if info.serial_number().trim() == serial {
                return Ok(slot);
            }
        }
        Err(AgentError::NoSuchKey(serial.into()))
    }

    fn session(&self, serial: &str) -> Result<(Slot, Session), AgentError> {
        let slot = self.slot(serial)?;
        let s = self.ctx.open_rw_session(slot).map_err(ck)?;
        Ok((slot, s))
    }

    fn read_cert(&self, s: &Session) -> Result<Cert, String> {
        let handles = s
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
            ])
            .map_err(|e| format!("读取证书失败: {e}"))?;
        let mut last = "密钥上没有证书".to_owned();
        for h in handles {
            match value_of(s, h).map(|der| Cert::from_der(&der)) {
                Ok(Ok(c)) => return Ok(c),
                Ok(Err(e)) => last = format!("证书无法解析: {e}"),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// The PIN counter: ours on the token, lowered by what the token's own flags say.
    fn pin_status(&self, slot: Slot, s: &Session) -> Result<PinStatus, AgentError> {
        let info = self.ctx.get_token_info(slot).map_err(ck)?;
        if info.user_pin_locked() {
            return Ok(PinStatus::left(0));
        }
        // Several counter objects exist only if a change was interrupted; the lowest count is the safe reading.
        let mut left = MAX_PIN_TRIES;
        for h in s.find_objects(&data_template(PIN_TRIES)).map_err(ck)? {
            let n = String::from_utf8_lossy(&value_of(s, h)?)
                .trim()
                .parse()
                .unwrap_or(0);
            left = left.min(n);
        }
        if info.user_pin_final_try() {
            left = left.min(1);
        }
        Ok(PinStatus::left(left.min(MAX_PIN_TRIES)))
    }

    /// Writes the counter: a new object first, then the old ones go (tokens may refuse to change a data
    /// object's value in place, and a crash in between leaves the lower count in force).
    fn set_tries(&self, s: &Session, left: u32) -> Result<(), AgentError> {
        let old = s.find_objects(&data_template(PIN_TRIES)).map_err(ck)?;
        let mut t = data_template(PIN_TRIES);
        t.extend([
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Value(left.to_string().into_bytes()),
        ]);
        self.change(|| s.create_object(&t))?;
        for h in old {
            self.change(|| s.destroy_object(h))?;
        }
        Ok(())
    }

    fn login(&self, slot: Slot, s: &Session, pin: &Pin) -> Result<PinStatus, AgentError> {
        let status = self.pin_status(slot, s)?;
        if status.locked {
            return Err(AgentError::Locked);
        }
        if !(4..=64).contains(&pin.chars().count()) {
            return Err(AgentError::BadPin);
        }
        // A login left over from elsewhere in this process would let C_Login skip the PIN check.
        let _ = s.logout();
        match s.login(UserType::User, Some(&AuthPin::new(pin.as_str().into()))) {
            Ok(()) => {
                if status.tries_left < MAX_PIN_TRIES {
                    self.set_tries(s, MAX_PIN_TRIES)?;
                }
                Ok(PinStatus::left(MAX_PIN_TRIES))
            }
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let left = status.tries_left.saturating_sub(1);
                self.set_tries(s, left)?;
                if left == 0 {
                    Err(AgentError::Locked)
                } else {
                    Err(AgentError::WrongPin { left })
                }
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(AgentError::Locked),
            Err(CkError::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => {
                Err(AgentError::BadPin)
            }
            Err(e) => Err(ck(e)),
        }
    }

    fn find(&self, s: &Session, label: &str) -> Result<Vec<ObjectHandle>, AgentError> {
        s.find_objects(&data_template(label)).map_err(ck)
    }

    /// Makes write `tx` whole: each staged seal replaces the live one of its esID, each deletion is done.
    /// Idempotent, so it may run again after being interrupted itself.
    fn roll_forward(&self, s: &Session, tx: &str, plan: &Plan) -> Result<(), AgentError> {
        for es in &plan.put {
            let staged = self.find(s, &format!("pending:{tx}:{es}"))?;
            let Some(&new) = staged.first() else {
                continue; // already swapped in
            };
            for h in self.find(s, &format!("seal:{es}"))? {
                self.change(|| s.destroy_object(h))?;
            }
            let live = format!("seal:{es}").into_bytes();
            self.change(|| s.update_attributes(new, &[Attribute::Label(live)]))?;
        }
        for es in plan.delete.iter().filter(|e| !plan.put.contains(e)) {
            for h in self.find(s, &format!("seal:{es}"))? {
                self.change(|| s.destroy_object(h))?;
            }
        }
        Ok(())
    }

    /// Finishes committed writes and drops staged seals of writes that never committed.
    fn recover(&self, s: &Session) -> Result<(), AgentError> {
        let objects = our_objects(s)?;
        if !objects
            .iter()
            .any(|(_, l)| l.starts_with("pending:") || l.starts_with("commit:"))
        {
            return Ok(());
        }
        for (h, label) in &objects {
            if let Some(tx) = label.strip_prefix("commit:") {
                let plan: Plan = serde_json::from_slice(&value_of(s, *h)?)
                    .map_err(|e| AgentError::Token(format!("写入记录损坏: {e}")))?;
                self.roll_forward(s, tx, &plan)?;
                self.change(|| s.destroy_object(*h))?;
            }
        }
        for (h, label) in our_objects(s)? {
            if label.starts_with("pending:") {
                self.change(|| s.destroy_object(h))?;
            }
        }
        Ok(())
    }

    fn private_key(&self, s: &Session) -> Result<ObjectHandle, AgentError> {
        s.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Sign(true),
        ])
        .map_err(ck)?
        .first()
        .copied()
        .ok_or_else(|| AgentError::Token("密钥上没有可签名的私钥".into()))
    }

    fn sign_in(&self, s: &Session, cert: &Cert, msg: &[u8]) -> Result<Vec<u8>, AgentError> {
        let key = self.private_key(s)?;
        match cert.key() {
            Ok(PublicKey::P256(_)) => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(msg);
                s.sign(&Mechanism::Ecdsa, key, &digest).map_err(ck)
            }
            Ok(PublicKey::Sm2(_)) => Err(AgentError::Token(
                "此密钥为 SM2 密钥，PKCS#11 模块未提供 SM2 签名机制；请使用厂商的 SKF 接口".into(),
            )),
            Err(e) => Err(AgentError::Token(format!("证书中的公钥不受支持: {e}"))),
        }
    }
}

impl Backend for Pkcs11Backend {
    fn describe(&self) -> String {
        format!("pkcs11 {}", self.module.display())
    }

    fn keys(&self) -> Result<Vec<KeyInfo>, AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        self.present()?;
        let mut out = Vec::new();
        for slot in self.ctx.get_slots_with_token().map_err(ck)? {
            let info = self.ctx.get_token_info(slot).map_err(ck)?;
            if !info.token_initialized() {
                continue;
            }
            let s = self.ctx.open_ro_session(slot).map_err(ck)?;
            out.push(KeyInfo::new(
                info.serial_number().trim().to_owned(),
                info.label().trim().to_owned(),
                self.read_cert(&s),
                self.pin_status(slot, &s)?,
            ));
        }
        Ok(out)
    }

    fn cert(&self, serial: &str) -> Result<Cert, AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        let (_, s) = self.session(serial)?;
        self.read_cert(&s).map_err(AgentError::NoCert)
    }

    fn verify_pin(&self, serial: &str, pin: &Pin) -> Result<PinStatus, AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, s) = self.session(serial)?;
        let r = self.login(slot, &s, pin);
        let _ = s.logout();
        r
    }

    fn sign(&self, serial: &str, pin: &Pin, msg: &[u8]) -> Result<Vec<u8>, AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, s) = self.session(serial)?;
        let cert = self.read_cert(&s).map_err(AgentError::NoCert)?;
        self.login(slot, &s, pin)?;
        let r = self.sign_in(&s, &cert, msg);
        let _ = s.logout();
        r
    }

    fn seals(&self, serial: &str) -> Result<Vec<StoredSeal>, AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        let (_, s) = self.session(serial)?;
        self.recover(&s)?;
        let mut out = Vec::new();
        for (h, label) in our_objects(&s)? {
            if let Some(es_id) = label.strip_prefix("seal:") {
                out.push(StoredSeal {
                    es_id: es_id.to_owned(),
                    der: value_of(&s, h)?,
                });
            }
        }
        out.sort_by(|a, b| a.es_id.cmp(&b.es_id));
        Ok(out)
    }

    fn apply(&self, serial: &str, pin: &Pin, changes: &[Change]) -> Result<(), AgentError> {
        let _g = self.op.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, s) = self.session(serial)?;
        self.login(slot, &s, pin)?;
        let r = (|| {
            self.recover(&s)?;
            let tx = hex::encode(sealdesk_adapters::random_bytes::<8>());
            let mut plan = Plan {
                put: Vec::new(),
                delete: Vec::new(),
            };
            for c in changes {
                match c {
                    Change::Put(seal) => {
                        let mut t = data_template(&format!("pending:{tx}:{}", seal.es_id));
                        t.extend([
                            Attribute::Token(true),
                            Attribute::Private(false),
                            Attribute::Modifiable(true),
                            Attribute::Value(seal.der.clone()),
                        ]);
                        if let Err(e) = self.change(|| s.create_object(&t)) {
                            // Not committed: the staged seals go (now if the key is still there, else at the
                            // next read).
                            let _ = self.recover(&s);
                            return Err(e);
                        }
                        plan.put.push(seal.es_id.clone());
                    }
                    Change::Delete(es) => plan.delete.push(es.clone()),
                }
            }
            let record = serde_json::to_vec(&plan).map_err(|e| AgentError::Token(e.to_string()))?;
            let mut t = data_template(&format!("commit:{tx}"));
            t.extend([
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Value(record),
            ]);
            if let Err(e) = self.change(|| s.create_object(&t)) {
                let _ = self.recover(&s);
                return Err(e);
            }
            // Committed: from here on the write happens, now or at the next read.
            self.recover(&s)
        })();
        let _ = s.logout();
        r
    }
}
