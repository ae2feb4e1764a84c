//! The soft token (`sealdesk-adapters`' directory UKey) as a backend: `--soft-token DIR` where DIR is one token
//! or a directory whose sub-directories are tokens (several keys "inserted").

use std::path::{Path, PathBuf};

use sealdesk_adapters::token::{SoftToken, TokenError};
use sealdesk_pki::Cert;

use crate::AgentError;
use crate::backend::{Backend, Change, KeyInfo, Pin, PinStatus, StoredSeal};

/// Soft tokens under a directory.
#[derive(Debug)]
pub struct SoftBackend {
    root: PathBuf,
}

impl From<TokenError> for AgentError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::WrongPin { left } => AgentError::WrongPin { left },
            TokenError::Locked => AgentError::Locked,
            TokenError::BadPin => AgentError::BadPin,
            other => AgentError::Token(other.to_string()),
        }
    }
}

impl SoftBackend {
    /// Serves the token(s) under `root`.
    pub fn new(root: &Path) -> SoftBackend {
        SoftBackend { root: root.into() }
    }

    fn dirs(&self) -> Vec<PathBuf> {
        if self.root.join("token.json").is_file() {
            return vec![self.root.clone()];
        }
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("token.json").is_file())
            .collect();
        out.sort();
        out
    }

    fn open(&self, serial: &str) -> Result<SoftToken, AgentError> {
        for d in self.dirs() {
            if let Ok(t) = SoftToken::open(&d)
                && t.serial() == serial
            {
                return Ok(t);
            }
        }
        Err(AgentError::NoSuchKey(serial.into()))
    }
}

impl Backend for SoftBackend {
    fn describe(&self) -> String {
        format!("soft-token {}", self.root.display())
    }

    fn keys(&self) -> Result<Vec<KeyInfo>, AgentError> {
        Ok(self
            .dirs()
            .iter()
            .filter_map(|d| SoftToken::open(d).ok())
            .map(|t| {
                KeyInfo::new(
                    t.serial().into(),
                    t.label().into(),
                    Ok(t.cert().clone()),
                    PinStatus::left(t.tries_left()),
                )
            })
            .collect())
    }

    fn cert(&self, serial: &str) -> Result<Cert, AgentError> {
        Ok(self.open(serial)?.cert().clone())
    }

    fn verify_pin(&self, serial: &str, pin: &Pin) -> Result<PinStatus, AgentError> {
        let mut t = self.open(serial)?;
        t.unlock(pin)?;
        Ok(PinStatus::left(t.tries_left()))
    }

    fn sign(&self, serial: &str, pin: &Pin, msg: &[u8]) -> Result<Vec<u8>, AgentError> {
        Ok(self.open(serial)?.sign(pin, msg)?)
    }

    fn seals(&self, serial: &str) -> Result<Vec<StoredSeal>, AgentError> {
        let t = self.open(serial)?;
        let mut out: Vec<StoredSeal> = t
            .seals()?
            .into_iter()
            .map(|(_, der)| {
                let es_id = match sealdesk_ses::parse(&der) {
                    Ok(sealdesk_ses::Parsed::Seal(s)) => s.es_id,
                    _ => String::new(),
                };
                StoredSeal { es_id, der }
            })
            .collect();
        out.sort_by(|a, b| a.es_id.cmp(&b.es_id));
        Ok(out)
    }

    fn apply(&self, serial: &str, pin: &Pin, changes: &[Change]) -> Result<(), AgentError> {
        let mut t = self.open(serial)?;
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for c in changes {
            match c {
                Change::Put(s) => puts.push((s.es_id.clone(), s.der.clone())),
                Change::Delete(id) => deletes.push(id.clone()),
            }
        }
        Ok(t.apply_seals(pin, &puts, &deletes)?)
    }
}
