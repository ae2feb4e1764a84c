//! 续期 and 补办: an order that makes again the seals of an earlier one. Its seals are those of the earlier order
//! that still stand (same kinds, names and pictures), so a 续期 asks for no 印模采集表 and a 补办 for one only if
//! new pictures are wanted. For a 续期 the certificate on the holder's key must still be valid, since the seals
//! are renewed onto it, and this is said before any payment.

use sealdesk_domain::{Order, SealLine, Service, Timestamp};
use sealdesk_store::SealRecord;

use crate::{App, AppError};

/// Why a renewal cannot go ahead while the key's certificate has expired: the seed's order of things.
pub fn certificate_expired_message(not_after: i64) -> String {
    format!(
        "证书锁中的证书已于 {} 过期：请先办理证书续期（更新证书锁中的证书），再续期印章",
        Timestamp(not_after).beijing_date()
    )
}

impl App {
    /// The seals a 续期 of the caller's order `previous` would renew (those still standing), for the form.
    pub async fn renewable_seals(
        &self,
        who: &crate::Who,
        previous: i64,
    ) -> Result<Vec<crate::MadeSeal>, AppError> {
        self.visible_order(who, previous).await?;
        Ok(self
            .standing_seals(previous)
            .await?
            .into_iter()
            .map(crate::orders::to_made)
            .collect())
    }

    /// The earlier order's seals that still stand (not revoked), in the order they were made.
    pub(crate) async fn standing_seals(&self, previous: i64) -> Result<Vec<SealRecord>, AppError> {
        let mut seals: Vec<SealRecord> = self
            .store
            .seals(previous)
            .await?
            .into_iter()
            .filter(|s| !s.revoked)
            .collect();
        seals.sort_by_key(|s| s.seq);
        Ok(seals)
    }

    /// The seal lines of a renewal of `previous`: one line per kind, in the order the seals were made (a kind's
    /// seals share its line, as they did when the earlier order listed them), so that seal *i* of the renewal is
    /// the earlier order's seal *i*. Refused when nothing stands to renew, or when the key's certificate has
    /// expired.
    pub(crate) async fn renewal_lines(
        &self,
        service: Service,
        previous: i64,
    ) -> Result<Vec<SealLine>, AppError> {
        let prev = self.store.order(previous).await?;
        // A 补办 goes onto a new key; only a 续期 needs the old key's certificate.
        if service == Service::Renewal {
            self.check_renewable_certificate(&prev)?;
        }
        let seals = self.standing_seals(previous).await?;
        if seals.is_empty() {
            return Err(AppError::field(
                "previous_order",
                format!(
                    "原订单已没有有效的印章可以{}（印章已被注销），请办理新办",
                    service.label()
                ),
            ));
        }
        let mut lines: Vec<SealLine> = Vec::new();
        for s in seals {
            match lines.iter_mut().find(|l| l.kind == s.kind) {
                Some(l) => l.count += 1,
                None => lines.push(SealLine {
                    kind: s.kind,
                    count: 1,
                    name: s.name,
                }),
            }
        }
        Ok(lines)
    }

    /// A renewal goes onto the key bound by the earlier order: its certificate must not have expired.
    fn check_renewable_certificate(&self, prev: &Order) -> Result<(), AppError> {
        let Some(key) = &prev.key else {
            return Ok(());
        };
        let Some(cert) = hex::decode(&key.cert_der_hex)
            .ok()
            .and_then(|d| sealdesk_pki::Cert::from_der(&d).ok())
        else {
            return Ok(());
        };
        let (_, not_after) = cert.validity();
        if not_after < self.now() {
            return Err(AppError::field(
                "previous_order",
                certificate_expired_message(not_after),
            ));
        }
        Ok(())
    }

    /// The pictures of a renewal's seals: each earlier seal's own picture and size, in order.
    pub(crate) async fn renewal_pictures(
        &self,
        order: &Order,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, i64, i64)>, AppError> {
        let prev = order
            .previous_order
            .ok_or_else(|| AppError::Internal("renewal without its earlier order".into()))?;
        let seals = self.standing_seals(prev).await?;
        if seals.len() != n {
            return Err(AppError::Conflict(format!(
                "原订单现有 {} 枚有效印章，本续期订单为 {n} 枚（期间有印章被注销），请重新办理续期",
                seals.len()
            )));
        }
        seals
            .into_iter()
            .map(|s| match sealdesk_ses::parse(&s.der) {
                Ok(sealdesk_ses::Parsed::Seal(p)) => {
                    Ok((s.picture_png, p.picture.width_mm, p.picture.height_mm))
                }
                _ => Err(AppError::Internal(format!(
                    "stored seal {} does not parse",
                    s.es_id
                ))),
            })
            .collect()
    }
}

/// The earlier order whose seals `service` takes over (续期, and 补办 onto a new key), if any.
pub(crate) fn renews(service: Option<Service>, previous: Option<i64>) -> Option<(Service, i64)> {
    match service {
        Some(s @ (Service::Renewal | Service::Reissue)) => previous.map(|p| (s, p)),
        _ => None,
    }
}
