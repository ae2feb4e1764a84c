//! 重新制章: after 制章 a 制章员 remakes chosen seals of an order from a new 印模采集表 (the applicant stamped it
//! again, the first impression was poor), and the seals they replace are revoked. The order goes back to 已制章
//! until the applicant has written the new seals onto the same key; it is not paid for or invoiced again.
//!
//! A remade seal gets a fresh esID that still says which seal of the order it stands for: seal *u* of order
//! *N* is first made as `SD<N><u>` (seq *u*), its *g*-th remake is `SD<N><u>R<g>` (seq *g*·1000 + *u*).

use sealdesk_domain::{Actor, Event, OrderState, Timestamp, UploadKind};
use sealdesk_store::{AuditDraft, SealRecord};

use crate::orders::NewSeal;
use crate::uploads::UploadOutcome;
use crate::{App, AppError, Who};

/// seq of a seal's *g*-th remake: *g* · `REMADE_SEQ_STEP` + its place among the order's seals.
const REMADE_SEQ_STEP: i32 = 1000;

/// The place (1-based, in form order) among the order's seals that a made seal stands for.
pub(crate) fn unit_of(seq: i32) -> i32 {
    seq % REMADE_SEQ_STEP
}

/// Whether an order has seals that a 制章员 may remake.
pub fn remakeable(state: OrderState) -> bool {
    matches!(state, OrderState::Made | OrderState::Completed)
}

impl App {
    /// The order if the caller is a 制章员 (or administrator) who serves its project.
    async fn issuer_order(&self, who: &Who, id: i64) -> Result<sealdesk_domain::Order, AppError> {
        if !who.principal.may(sealdesk_domain::Role::Issuer) {
            return Err(AppError::Forbidden("只有制章员可以重新制章".into()));
        }
        self.visible_order(who, id).await
    }

    /// The new 印模采集表 a 制章员 remakes seals from, after 制章 (replacing the order's form, audited as any
    /// upload; the seals already made keep their pictures until [`App::remake_seals`]).
    pub async fn add_remake_form(
        &self,
        who: &Who,
        order_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadOutcome, AppError> {
        let order = self.issuer_order(who, order_id).await?;
        if !remakeable(order.state) {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，印章制作前请由申请人更换印模采集表",
                order.state.label()
            )));
        }
        self.store_upload(who, &order, UploadKind::ImpressionForm, file_name, bytes)
            .await
    }

    /// 重新制章: remakes the order's standing seals named by esID from the impressions of their boxes on the
    /// current 印模采集表, with the same kind, name, key and end of validity, and revokes the seals they replace,
    /// all in one transaction with the audit entries and the applicant's SMS. The order returns to 已制章 for the
    /// applicant to write the new seals onto the key (the replaced ones are removed in the same write).
    pub async fn remake_seals(
        &self,
        who: &Who,
        id: i64,
        es_ids: &[String],
        reason: &str,
    ) -> Result<sealdesk_domain::Order, AppError> {
        let order = self.issuer_order(who, id).await?;
        if !remakeable(order.state) {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能重新制章",
                order.state.label()
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::field("reason", "请填写重新制章的原因"));
        }
        if reason.chars().count() > 200 {
            return Err(AppError::field("reason", "重新制章的原因不能超过 200 字"));
        }
        if es_ids.is_empty() {
            return Err(AppError::field("seals", "请至少勾选一枚要重新制作的印章"));
        }
        let key = order
            .key
            .clone()
            .ok_or_else(|| AppError::Internal("made order without key".into()))?;
        let cert_der =
            hex::decode(&key.cert_der_hex).map_err(|e| AppError::Internal(e.to_string()))?;
        let made = self.store.seals(id).await?;
        let mut chosen: Vec<&SealRecord> = Vec::new();
        for es_id in es_ids {
            let es_id = es_id.trim();
            let seal = made
                .iter()
                .find(|s| s.es_id == es_id && !s.revoked)
                .ok_or_else(|| {
                    AppError::field(
                        "seals",
                        format!("印章 {es_id} 不是本订单的有效印章（可能已被注销），请刷新页面后重新选择"),
                    )
                })?;
            if !chosen.iter().any(|c| c.es_id == seal.es_id) {
                chosen.push(seal);
            }
        }
        let units = order.seal_units();
        let pictures = self.seal_pictures(&order, units.len()).await?;
        let now = self.now();
        let mut records = Vec::new();
        for old in &chosen {
            let unit = unit_of(old.seq);
            let place = usize::try_from(unit - 1)
                .ok()
                .filter(|&i| i < units.len())
                .ok_or_else(|| AppError::Internal(format!("seal seq {} has no place", old.seq)))?;
            let picture = pictures[place].clone();
            if picture.0 == old.picture_png {
                return Err(AppError::field(
                    "seals",
                    format!(
                        "印章 {} 的新印模与原印章的图片相同：请先上传重新盖章的印模采集表",
                        old.es_id
                    ),
                ));
            }
            let end = Timestamp::parse_rfc3339(&old.valid_end)
                .ok_or_else(|| AppError::Internal(format!("seal {} end unreadable", old.es_id)))?
                .0;
            if end <= now {
                return Err(AppError::field(
                    "seals",
                    format!("印章 {} 已过有效期，请申请人办理续期", old.es_id),
                ));
            }
            let generation = made
                .iter()
                .filter(|s| unit_of(s.seq) == unit)
                .map(|s| s.seq / REMADE_SEQ_STEP)
                .max()
                .unwrap_or(0)
                + 1;
            let (kind, name) = &units[place];
            records.push((
                old.es_id.clone(),
                self.sign_seal(
                    &order,
                    &key,
                    &cert_der,
                    NewSeal {
                        seq: generation * REMADE_SEQ_STEP + unit,
                        es_id: format!("SD{}{:02}R{}", order.id, unit, generation),
                        kind: *kind,
                        name: name.clone(),
                        picture,
                        valid_start: now,
                        valid_end: end,
                    },
                )?,
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        for (old, r) in &records {
            tx.insert_seal(r).await?;
            tx.append_audit(AuditDraft {
                actor: "platform".into(),
                ip: who.ip.clone(),
                order_id: Some(order.id),
                action: "seal_issued".into(),
                detail: serde_json::json!({"es_id": r.es_id, "kind": r.kind.code(), "name": r.name, "sm3": sealdesk_adapters::sm3_hex(&r.der), "valid_end": r.valid_end, "token_serial": r.token_serial, "remakes": old}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        let old: Vec<String> = records.iter().map(|(o, _)| o.clone()).collect();
        let revoked = tx.revoke_seals(&old, "重新制章").await?;
        if revoked.len() != old.len() {
            // Another change revoked one of them meanwhile: nothing of this remake stays.
            return Err(AppError::Conflict(
                "印章已被注销或已重新制作，请刷新页面后重试".into(),
            ));
        }
        for es_id in &revoked {
            tx.append_audit(AuditDraft {
                actor: "platform".into(),
                ip: who.ip.clone(),
                order_id: Some(order.id),
                action: "seal_revoked".into(),
                detail: serde_json::json!({"es_id": es_id, "reason": "重新制章", "order": order.order_no}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        let pairs: Vec<[&str; 2]> = records
            .iter()
            .map(|(o, r)| [o.as_str(), r.es_id.as_str()])
            .collect();
        let detail = serde_json::json!({"remade": pairs, "reason": reason});
        self.apply(
            &mut tx,
            who,
            &mut order,
            Actor::Operator,
            &Event::Remake,
            detail,
        )
        .await?;
        let c = &self.cfg;
        tx.push_sms_with(
            self.store.next_id(),
            &order.holder.mobile,
            "remade",
            &crate::sms::remade(
                &c.sms_signature,
                &c.platform_name,
                &c.public_url,
                &order.order_no,
            ),
            &[("order_no", &order.order_no)],
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }
}
