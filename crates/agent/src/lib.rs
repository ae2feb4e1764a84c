//! `sealdesk-agent`: the small local program (证书助手) through which the SealDesk portal reaches the applicant's
//! certificate UKey — list the inserted keys, check the PIN with the key's retry counter, sign the platform's
//! challenges (UKey sign-in, proof of possession at 授权), write seals onto the key all or nothing and read
//! them back signed.
//!
//! * [`backend`] — the token interface ([`Backend`]) with the PKCS#11 ([`pkcs11`]) and soft-token ([`soft`])
//!   implementations; an SKF (GM/T 0016) backend fits the same trait.
//! * [`Agent`] — the operations, with the checks the agent makes itself: a seal is written only if the
//!   platform's maker certificate signed it and the key's certificate is in its certList; one write per key at
//!   a time; challenges are printable text, so a challenge signature can never pass for a seal receipt.
//! * [`server`] — the HTTP API under `/v1` on 127.0.0.1, answering only the configured platform origins
//!   (CORS and Private Network Access preflights), Host-checked against DNS rebinding, with per-page pairing.
//!
//! **Invariants:** listens on loopback only; no request from an origin that is not configured is served; the
//! PIN is never stored, logged or returned; a write leaves the key with its old seals or its new ones.
#![deny(missing_docs)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine;
use sealdesk_pki::Cert;
use serde::Serialize;

pub mod backend;
pub mod pkcs11;
pub mod server;
pub mod soft;

pub use backend::{Backend, Change, KeyInfo, Pin, PinStatus, StoredSeal};

/// The agent's default port.
pub const DEFAULT_PORT: u16 = 17820;

/// Most seals one write may carry.
pub const MAX_SEALS_PER_WRITE: usize = 32;

/// What can go wrong, each with the message the page shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// No inserted key has this serial.
    #[error("未找到序列号为 {0} 的证书 UKey，请确认已插入")]
    NoSuchKey(String),
    /// The key holds no readable certificate.
    #[error("{0}")]
    NoCert(String),
    /// Wrong PIN; `left` tries remain.
    #[error("PIN 错误，还可尝试 {left} 次")]
    WrongPin {
        /// Tries left before the key locks.
        left: u32,
    },
    /// The key is locked.
    #[error("PIN 已锁定，请联系客服解锁")]
    Locked,
    /// A PIN of impossible length.
    #[error("PIN 长度不正确")]
    BadPin,
    /// The key went away during the operation.
    #[error("证书 UKey 已被拔出，操作未完成；重新插入后密钥上的印章保持操作前的状态，请重试")]
    Removed,
    /// Another write to the same key is under way.
    #[error("另一个页面正在向此证书 UKey 写入印章，请等它完成后再试")]
    Busy,
    /// A seal the agent will not write.
    #[error("印章 {es_id} 不能写入：{reason}")]
    SealRejected {
        /// The seal's esID (or its position when unreadable).
        es_id: String,
        /// Why.
        reason: String,
    },
    /// The agent was started without the platform's maker certificate.
    #[error("证书助手未配置平台的制章者证书（--maker-cert），不能写入印章")]
    NoMakerCert,
    /// A malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// The token or its module failed.
    #[error("证书 UKey 操作失败：{0}")]
    Token(String),
}

impl AgentError {
    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::NoSuchKey(_) => "no_such_key",
            AgentError::NoCert(_) => "no_cert",
            AgentError::WrongPin { .. } => "wrong_pin",
            AgentError::Locked => "pin_locked",
            AgentError::BadPin => "bad_pin",
            AgentError::Removed => "key_removed",
            AgentError::Busy => "busy",
            AgentError::SealRejected { .. } => "seal_rejected",
            AgentError::NoMakerCert => "no_maker_cert",
            AgentError::BadRequest(_) => "bad_request",
            AgentError::Token(_) => "token",
        }
    }
}

/// A challenge signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignedChallenge {
    /// The challenge as signed (its UTF-8 bytes, nothing added).
    pub challenge: String,
    /// The signature, base64 (SM2: DER; ECDSA P-256: raw r‖s).
    pub signature: String,
    /// `SM2` or `ECDSA P-256`.
    pub algorithm: String,
    /// The key's certificate, DER in base64.
    pub cert: String,
}

/// A seal on a key, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct SealSummary {
    /// esID.
    pub es_id: String,
    /// 印章名称 (empty when the stored bytes are not a readable seal).
    pub name: String,
    /// End of validity, as the seal states it.
    pub valid_end: String,
    /// SM3 of the stored DER, hex.
    pub sm3: String,
    /// Size in bytes.
    pub bytes: usize,
}

/// The key's signature over a seal read back from it: the platform completes an order only on these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// esID.
    pub es_id: String,
    /// SM3 of the DER read back, hex.
    pub sm3: String,
    /// The key's signature over the DER read back, base64.
    pub signature: String,
}

/// What a write did.
#[derive(Debug, Clone, Serialize)]
pub struct WriteOutcome {
    /// esIDs written (new or replaced).
    pub written: Vec<String>,
    /// esIDs removed.
    pub deleted: Vec<String>,
    /// Signed read-back of every seal written.
    pub receipts: Vec<Receipt>,
}

/// The operations, over one backend.
pub struct Agent {
    backend: Arc<dyn Backend>,
    makers: Vec<Cert>,
    writing: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Agent({})", self.backend.describe())
    }
}

/// Marks a key as being written; unmarks it when dropped.
struct Writing<'a> {
    set: &'a Mutex<HashSet<String>>,
    serial: String,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.serial);
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sm3_hex(b: &[u8]) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(b))
}

impl Agent {
    /// An agent over `backend` that writes only seals signed by one of `makers` (the platform's maker
    /// certificates).
    pub fn new(backend: Arc<dyn Backend>, makers: Vec<Cert>) -> Agent {
        Agent {
            backend,
            makers,
            writing: Mutex::new(HashSet::new()),
        }
    }

    /// The backend, described.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Whether the agent can write seals (it knows the platform's maker certificate).
    pub fn can_write(&self) -> bool {
        !self.makers.is_empty()
    }

    /// The inserted keys.
    pub fn keys(&self) -> Result<Vec<KeyInfo>, AgentError> {
        self.backend.keys()
    }

    /// Checks the PIN.
    pub fn verify_pin(&self, serial: &str, pin: &Pin) -> Result<PinStatus, AgentError> {
        self.backend.verify_pin(serial, pin)
    }

    /// Signs the platform's challenge: printable ASCII, 16 to 512 characters, signed exactly as given. A
    /// seal is DER, whose second byte is never printable for a seal's size, so no challenge can be a seal and
    /// no challenge signature can pass for a write receipt.
    pub fn sign_challenge(
        &self,
        serial: &str,
        pin: &Pin,
        challenge: &str,
    ) -> Result<SignedChallenge, AgentError> {
        if !(16..=512).contains(&challenge.len())
            || !challenge.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(AgentError::BadRequest(
                "挑战值应为 16–512 个可打印 ASCII 字符".into(),
            ));
        }
        let cert = self.backend.cert(serial)?;
        let sig = self.backend.sign(serial, pin, challenge.as_bytes())?;
        Ok(SignedChallenge {
            challenge: challenge.into(),
            signature: b64(&sig),
            algorithm: cert
                .key()
                .map(|k| k.algorithm().to_owned())
                .unwrap_or_default(),
            cert: b64(cert.der()),
        })
    }

    /// The seals on a key.
    pub fn seals(&self, serial: &str) -> Result<Vec<SealSummary>, AgentError> {
        Ok(self
            .backend
            .seals(serial)?
            .into_iter()
            .map(|s| {
                let (name, valid_end) = match sealdesk_ses::parse(&s.der) {
                    Ok(sealdesk_ses::Parsed::Seal(p)) => {
                        (p.property.name, p.property.valid_end.text)
                    }
                    _ => (String::new(), String::new()),
                };
                SealSummary {
                    es_id: s.es_id,
                    name,
                    valid_end,
                    sm3: sm3_hex(&s.der),
                    bytes: s.der.len(),
                }
            })
            .collect())
    }

    /// Why `der` may not go onto a key holding `cert`, or its esID.
    fn check_seal(&self, der: &[u8], cert: &Cert, n: usize) -> Result<String, AgentError> {
        let reject = |es_id: &str, reason: &str| AgentError::SealRejected {
            es_id: es_id.into(),
            reason: reason.into(),
        };
        let seal = match sealdesk_ses::parse(der) {
            Ok(sealdesk_ses::Parsed::Seal(s)) => s,
            _ => return Err(reject(&format!("#{n}"), "不是电子印章文件")),
        };
        let by_maker = self.makers.iter().any(|m| {
            m.public_key()
                .ok()
                .and_then(|vk| sm2::PublicKey::from_sec1_bytes(&vk.to_sec1_bytes()).ok())
                .is_some_and(|pk| sealdesk_ses::verify_maker_signature(der, &pk).is_ok())
        });
        if !by_maker {
            return Err(reject(
                &seal.es_id,
                "不是本平台制作的印章（制章者签名不符）",
            ));
        }
        let bound = match &seal.property.cert_list {
            sealdesk_ses::CertList::Certs(list) => list.iter().any(|c| c == cert.der()),
            sealdesk_ses::CertList::Digests(list) => {
                let digest = sealdesk_ses::sm3(cert.der());
                list.iter()
                    .any(|d| d.kind.eq_ignore_ascii_case("sm3") && d.value == digest)
            }
        };
        if !bound {
            return Err(reject(&seal.es_id, "印章未绑定此证书 UKey 的证书"));
        }
        Ok(seal.es_id)
    }

    /// Writes `seals` (DER; replacing seals of the same esID) and removes `delete`, all or nothing, after
    /// checking every seal; then reads the written seals back and has the key sign each.
    pub fn write(
        &self,
        serial: &str,
        pin: &Pin,
        seals: &[Vec<u8>],
        delete: &[String],
    ) -> Result<WriteOutcome, AgentError> {
        if seals.is_empty() && delete.is_empty() {
            return Err(AgentError::BadRequest("没有要写入或删除的印章".into()));
        }
        if seals.len() + delete.len() > MAX_SEALS_PER_WRITE {
            return Err(AgentError::BadRequest(format!(
                "一次最多写入 {MAX_SEALS_PER_WRITE} 个印章"
            )));
        }
        if !seals.is_empty() && !self.can_write() {
            return Err(AgentError::NoMakerCert);
        }
        let _writing = {
            let mut set = self.writing.lock().unwrap_or_else(|p| p.into_inner());
            if !set.insert(serial.to_owned()) {
                return Err(AgentError::Busy);
            }
            Writing {
                set: &self.writing,
                serial: serial.to_owned(),
            }
        };
        let cert = self.backend.cert(serial)?;
        let mut changes = Vec::new();
        let mut written = Vec::new();
        for (i, der) in seals.iter().enumerate() {
            let es_id = self.check_seal(der, &cert, i + 1)?;
            if written.contains(&es_id) {
                return Err(AgentError::BadRequest(format!("印章 {es_id} 重复")));
            }
            written.push(es_id.clone());
            changes.push(Change::Put(StoredSeal {
                es_id,
                der: der.clone(),
            }));
        }
        if !delete.is_empty() {
            let present: Vec<String> = self
                .backend
                .seals(serial)?
                .into_iter()
                .map(|s| s.es_id)
                .collect();
            for es in delete {
                if !present.contains(es) {
                    return Err(AgentError::BadRequest(format!("密钥上没有印章 {es}")));
                }
                changes.push(Change::Delete(es.clone()));
            }
        }
        self.backend.apply(serial, pin, &changes)?;
        let receipts = self.read_back(serial, pin, Some(&written))?;
        for (r, der) in receipts.iter().zip(seals) {
            if r.sm3 != sm3_hex(der) {
                return Err(AgentError::Token(format!(
                    "印章 {} 读回的内容与写入的不一致",
                    r.es_id
                )));
            }
        }
        Ok(WriteOutcome {
            written,
            deleted: delete.to_vec(),
            receipts,
        })
    }

    /// Reads seals back from the key (those in `only`, in that order, or all) and has the key sign each
    /// one's DER as read: the receipts the platform checks before it completes an order.
    pub fn read_back(
        &self,
        serial: &str,
        pin: &Pin,
        only: Option<&[String]>,
    ) -> Result<Vec<Receipt>, AgentError> {
        let on_key = self.backend.seals(serial)?;
        let chosen: Vec<&StoredSeal> = match only {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    on_key
                        .iter()
                        .find(|s| &s.es_id == id)
                        .ok_or_else(|| AgentError::Token(format!("印章 {id} 未在密钥上找到")))
                })
                .collect::<Result<_, _>>()?,
            None => on_key.iter().collect(),
        };
        chosen
            .into_iter()
            .map(|s| {
                Ok(Receipt {
                    es_id: s.es_id.clone(),
                    sm3: sm3_hex(&s.der),
                    signature: b64(&self.backend.sign(serial, pin, &s.der)?),
                })
            })
            .collect()
    }
}
