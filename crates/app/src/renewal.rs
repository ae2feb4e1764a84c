//! 续期, 补办 and 变更: an order that makes again the seals of an earlier one. Its seals are those of the earlier
//! order that still stand (same kinds, names and pictures), or the ones the applicant chose of them, so a 续期
//! asks for no 印模采集表 and a 补办 for one only if new pictures are wanted; a 变更 of chosen seals has one box
//! per chosen seal on its form and replaces only those. For a 续期 the certificate on the holder's key must still
//! be valid, since the seals are renewed onto it, and this is said before any payment.

use sealdesk_domain::{ChosenSeal, KeyBinding, Order, SealLine, Service, Timestamp};
use sealdesk_store::SealRecord;

use crate::{App, AppError};

/// Why a renewal cannot go ahead while the key's certificate has expired: the seed's order of things.
pub fn certificate_expired_message(not_after: i64) -> String {
    format!(
        "证书锁中的证书已于 {} 过期：请先办理证书续期（更新证书锁中的证书），再续期印章",
        Timestamp(not_after).beijing_date()
    )
}

/// A completed order whose standing seals belong on the key read (see [`App::key_orders`]).
#[derive(Debug, Clone)]
pub struct KeyOrder {
    /// The order.
    pub order: Order,
    /// Its seals that still stand.
    pub seals: Vec<crate::MadeSeal>,
    /// The certificate serial the order was bound to.
    pub bound_serial: String,
    /// The key now holds another certificate of the same holder (renewed since the seals were made).
    pub cert_changed: bool,
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

    /// 读取证书锁 at the start of a 续期, 变更 or 补办: the caller's completed orders whose seals still stand and
    /// belong on the key with this certificate, newest first. An order bound to this very certificate comes
    /// first; one bound to an earlier certificate of the same holder (renewed since) is listed with
    /// `cert_changed`, since its seals will be remade with the new certificate.
    pub async fn key_orders(
        &self,
        who: &crate::Who,
        cert_der: &[u8],
    ) -> Result<Vec<KeyOrder>, AppError> {
        let applicant = Self::applicant_id(who)?;
        let cert = sealdesk_pki::Cert::from_der(cert_der).map_err(|_| {
            AppError::field("cert", "读取到的证书无法解析，请确认插入的是数字证书 UKey")
        })?;
        let serial = cert.serial_hex().to_uppercase();
        let (done, _) = self
            .store
            .list_orders(&sealdesk_store::OrderFilter {
                applicant_id: Some(applicant),
                states: vec![sealdesk_domain::OrderState::Completed],
                limit: 200,
                ..Default::default()
            })
            .await?;
        let mut out = Vec::new();
        for order in done {
            let Some(bound) = &order.key else { continue };
            let same = bound.serial.eq_ignore_ascii_case(&serial);
            if !same && crate::orders::cert_names_holder(&cert, &order.holder).is_err() {
                continue;
            }
            let seals: Vec<crate::MadeSeal> = self
                .standing_seals(order.id)
                .await?
                .into_iter()
                .map(crate::orders::to_made)
                .collect();
            if seals.is_empty() {
                continue;
            }
            out.push(KeyOrder {
                bound_serial: bound.serial.clone(),
                cert_changed: !same,
                order,
                seals,
            });
        }
        out.sort_by_key(|k| (k.cert_changed, std::cmp::Reverse(k.order.id)));
        Ok(out)
    }

    /// The seed's "renew the certificate first" when the certificate read from a key has expired.
    pub fn certificate_expired(&self, cert_der: &[u8]) -> Option<String> {
        let cert = sealdesk_pki::Cert::from_der(cert_der).ok()?;
        let (_, not_after) = cert.validity();
        (not_after < self.now()).then(|| certificate_expired_message(not_after))
    }

    /// For a 续期 or 变更: the serial of the certificate the earlier order's seals were made with and of the one
    /// this order is (or will be) bound to, when they differ: the page says the seals are remade with the new
    /// certificate.
    pub async fn certificate_change(
        &self,
        who: &crate::Who,
        id: i64,
    ) -> Result<Option<(String, String)>, AppError> {
        let order = self.visible_order(who, id).await?;
        if !matches!(order.service, Service::Renewal | Service::Change) {
            return Ok(None);
        }
        let (Some(prev), Some(now)) = (order.previous_order, &order.key) else {
            return Ok(None);
        };
        let prev = self.store.order(prev).await?;
        Ok(prev
            .key
            .filter(|k| !k.serial.eq_ignore_ascii_case(&now.serial))
            .map(|k| (k.serial, now.serial.clone())))
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

    /// The earlier order's standing seals an order takes over: those chosen, in the order chosen, or all of
    /// them when none are. A chosen seal that is not one of them (another order's, or revoked since) is refused
    /// by its esID.
    async fn taken_over(
        &self,
        service: Service,
        previous: i64,
        chosen: &[ChosenSeal],
    ) -> Result<Vec<SealRecord>, AppError> {
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
        let picked: Vec<SealRecord> = if chosen.is_empty() {
            seals
        } else {
            chosen
                .iter()
                .map(|c| {
                    seals
                        .iter()
                        .find(|s| s.es_id == c.es_id)
                        .cloned()
                        .ok_or_else(|| {
                            AppError::field(
                                "chosen_seals",
                                format!(
                                    "印章 {} 不是原订单的有效印章（可能已被注销），请重新选择",
                                    c.es_id
                                ),
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        };
        // Seals of one kind and name become one line of the new order, and its units come in line order:
        // grouping them here keeps seal *i* of the new order on taken-over seal *i*.
        let mut grouped: Vec<SealRecord> = Vec::with_capacity(picked.len());
        for s in picked {
            match grouped
                .iter()
                .rposition(|g| g.kind == s.kind && g.name == s.name)
            {
                Some(i) => grouped.insert(i + 1, s),
                None => grouped.push(s),
            }
        }
        Ok(grouped)
    }

    /// The seal lines of an order that takes over seals of `previous` (see [`takes_over`]), so that seal *i* of
    /// the new order is taken-over seal *i*: seals of one kind and name share a line, as the earlier order listed
    /// them; a 变更 gives a seal its new name if one was typed (names are only typed for a 变更). Refused when nothing
    /// stands to take over, or, for a 续期, when the key's certificate has expired.
    pub(crate) async fn taken_over_lines(
        &self,
        service: Service,
        previous: i64,
        chosen: &[ChosenSeal],
        key_now: Option<&KeyBinding>,
    ) -> Result<Vec<SealLine>, AppError> {
        let prev = self.store.order(previous).await?;
        // A 补办 goes onto a new key; only a 续期 needs the key's certificate: as read from the key when the
        // renewal started there, else the one the earlier order was bound to.
        if service == Service::Renewal {
            self.check_renewable_certificate(key_now.or(prev.key.as_ref()))?;
        }
        let seals = self.taken_over(service, previous, chosen).await?;
        let mut lines: Vec<SealLine> = Vec::new();
        for s in seals {
            let name = chosen
                .iter()
                .find(|c| c.es_id == s.es_id && !c.name.is_empty())
                .map_or(s.name, |c| c.name.clone());
            match lines.last_mut() {
                Some(l) if l.kind == s.kind && l.name == name => l.count += 1,
                _ => lines.push(SealLine {
                    kind: s.kind,
                    count: 1,
                    name,
                }),
            }
        }
        Ok(lines)
    }

    /// A renewal goes onto the key: its certificate must not have expired.
    fn check_renewable_certificate(&self, key: Option<&KeyBinding>) -> Result<(), AppError> {
        let Some(key) = key else {
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
        let seals = self
            .taken_over(order.service, prev, &order.chosen_seals)
            .await
            .map_err(|e| match e {
                AppError::Invalid(f) => AppError::Conflict(format!(
                    "{}：请重新办理{}",
                    f.first().map(|f| f.message.as_str()).unwrap_or(""),
                    order.service.label()
                )),
                other => other,
            })?;
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

/// The earlier order whose seals an order takes over, if any: a 续期, a 补办 onto a new key, and a 变更 of
/// chosen seals (a 变更 that chose none lists its seals itself).
pub(crate) fn takes_over(
    service: Option<Service>,
    previous: Option<i64>,
    chosen: &[ChosenSeal],
) -> Option<(Service, i64)> {
    match (service, previous) {
        (Some(s @ (Service::Renewal | Service::Reissue)), Some(p)) => Some((s, p)),
        (Some(Service::Change), Some(p)) if !chosen.is_empty() => Some((Service::Change, p)),
        _ => None,
    }
}

/// The esIDs of the earlier seals an order replaces: the chosen ones, or every one of the earlier order's.
pub(crate) fn replaced_of(order: &Order, earlier: Vec<SealRecord>) -> Vec<String> {
    earlier
        .into_iter()
        .filter(|s| {
            order.chosen_seals.is_empty() || order.chosen_seals.iter().any(|c| c.es_id == s.es_id)
        })
        .map(|s| s.es_id)
        .collect()
}
