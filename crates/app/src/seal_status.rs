//! 印章状态 for relying parties: a seal's status by esID, and the maker's signed list of revoked seals. Both
//! are public: an esID is printed in every signature made with the seal, and the list is meant to be copied.

use sealdesk_domain::{SealKind, SealStatus, Timestamp};

use crate::{App, AppError};

/// What the platform says about one seal it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStatusView {
    /// esID.
    pub es_id: String,
    /// 印章名称.
    pub name: String,
    /// 印模类型.
    pub kind: SealKind,
    /// 有效 / 已注销 / 已过期.
    pub status: SealStatus,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// When it was revoked, RFC 3339.
    pub revoked_at: Option<String>,
    /// Why (补办, 变更).
    pub revoke_reason: Option<String>,
}

impl App {
    /// The status of the seal `es_id`; [`AppError::NotFound`] for an esID this platform never made.
    pub async fn seal_status(&self, es_id: &str) -> Result<SealStatusView, AppError> {
        let es_id = es_id.trim();
        if es_id.is_empty() || es_id.len() > 128 {
            return Err(AppError::NotFound);
        }
        let s = self
            .store
            .seal_standing(es_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(SealStatusView {
            status: SealStatus::of(s.revoked, &s.valid_end, self.now()),
            es_id: s.es_id,
            name: s.name,
            kind: s.kind,
            valid_start: s.valid_start,
            valid_end: s.valid_end,
            revoked_at: s.revoked_at,
            revoke_reason: s.revoke_reason,
        })
    }

    /// Every revoked esID, signed by the seal maker's key (`sealdesk seal verify --revoked FILE` checks it).
    pub async fn revocation_list(&self) -> Result<Vec<u8>, AppError> {
        let revoked = self.store.revoked_seals().await?;
        let list = sealdesk_ses::RevocationList {
            issuer: self.maker.cert.subject(),
            issued_at: Timestamp(self.now()).rfc3339(),
            revoked: revoked
                .into_iter()
                .map(|s| sealdesk_ses::RevokedSeal {
                    es_id: s.es_id,
                    revoked_at: s.revoked_at.unwrap_or_default(),
                    reason: s.revoke_reason.unwrap_or_else(|| "补办".into()),
                })
                .collect(),
        };
        sealdesk_ses::sign_revocation_list(
            &list,
            self.maker.cert.der(),
            self.maker.key.signing_key(),
        )
        .map_err(|e| AppError::Internal(format!("revocation list: {e}")))
    }
}
