//! The order's way: 申请 → 审核 → 支付 → 授权 → 制章, and who may take each step.

use base64::Engine;
use sealdesk_domain::{
    Actor, Event, Fen, HolderKind, InvoiceInfo, KeyBinding, Order, OrderForm, OrderNo, OrderState,
    SealKind, Timestamp, UploadKind,
};
use sealdesk_store::{AuditDraft, Invoice, OrderFilter, Project, SealRecord, StoreTx, UploadMeta};

use crate::{App, AppError, Principal, Who, sms};

/// How long a 授权 challenge may be answered, seconds.
const CHALLENGE_TTL: i64 = 600;

/// A fresh challenge for 授权: the applicant's key signs [`AuthChallenge::text`] (its UTF-8 bytes), which names
/// the order and a random nonce, so that a certificate alone — without its private key — binds nothing.
#[derive(Debug, Clone)]
pub struct AuthChallenge {
    /// The nonce, echoed with the answer.
    pub nonce: String,
    /// What the key signs.
    pub text: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// One line of printable ASCII, as the UKey agent signs only such text (so that no challenge can ever be a
/// seal's DER and its signature a write receipt): the order by its number (its id if the number is not ASCII).
fn challenge_text(order: &Order, nonce: &str, expires_at: i64) -> String {
    let name = if order
        .order_no
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        order.order_no.clone()
    } else {
        order.id.to_string()
    };
    format!("SealDesk authorize order={name} nonce={nonce} expires={expires_at}")
}

/// Whether two holders are the same enterprise (by credit code, or name when no code was given) or the same
/// person (by ID number).
fn same_holder(a: &sealdesk_domain::Holder, b: &sealdesk_domain::Holder) -> bool {
    let norm = |s: &str| s.trim().to_uppercase();
    match (a.kind, b.kind) {
        (Some(HolderKind::Enterprise), Some(HolderKind::Enterprise)) => {
            if a.credit_code.trim().is_empty() || b.credit_code.trim().is_empty() {
                !a.enterprise_name.trim().is_empty()
                    && a.enterprise_name.trim() == b.enterprise_name.trim()
            } else {
                norm(&a.credit_code) == norm(&b.credit_code)
            }
        }
        (Some(HolderKind::Person), Some(HolderKind::Person)) => {
            !a.id_number.trim().is_empty() && norm(&a.id_number) == norm(&b.id_number)
        }
        _ => false,
    }
}

/// Whether a UKey certificate names the order's holder: an enterprise by its credit code or its name in the
/// subject, a person by name and ID number. The error names what does not match.
pub(crate) fn cert_names_holder(
    cert: &sealdesk_pki::Cert,
    h: &sealdesk_domain::Holder,
) -> Result<(), AppError> {
    let values = cert.subject_values();
    let has = |want: &str| {
        let want = want.trim().to_uppercase();
        !want.is_empty() && values.iter().any(|v| v.trim().to_uppercase() == want)
    };
    let contains = |want: &str| {
        let want = want.trim().to_uppercase();
        !want.is_empty() && values.iter().any(|v| v.to_uppercase().contains(&want))
    };
    let shown = cert.common_name().unwrap_or_else(|| cert.subject());
    match h.kind {
        Some(HolderKind::Person) => {
            if !has(&h.applicant_name) {
                return Err(AppError::field(
                    "cert",
                    format!(
                        "证书持有人与订单不符：证书为「{shown}」，订单持有人为「{}」",
                        h.applicant_name
                    ),
                ));
            }
            if !contains(&h.id_number) {
                return Err(AppError::field(
                    "cert",
                    format!(
                        "证书持有人与订单不符：证书中没有「{}」的身份证号码",
                        h.applicant_name
                    ),
                ));
            }
            Ok(())
        }
        _ => {
            if has(&h.enterprise_name) || contains(&h.credit_code) {
                Ok(())
            } else {
                Err(AppError::field(
                    "cert",
                    format!(
                        "证书持有人与订单不符：证书为「{shown}」，订单持有人为「{}」（统一社会信用代码 {}）",
                        h.enterprise_name, h.credit_code
                    ),
                ))
            }
        }
    }
}

/// A payment id nobody can guess from the clock: 62 random bits.
pub(crate) fn random_payment_id() -> i64 {
    let b = sealdesk_adapters::random_bytes::<8>();
    (i64::from_be_bytes(b) & 0x3fff_ffff_ffff_ffff) | 0x0100_0000_0000_0000
}

/// An order with what belongs to it, as the order page shows it.
#[derive(Debug, Clone)]
pub struct OrderView {
    /// The order.
    pub order: Order,
    /// Its project (授权单位).
    pub project: Project,
    /// Current uploads.
    pub uploads: Vec<UploadMeta>,
    /// Uploads still needed before it can be submitted.
    pub missing_uploads: Vec<UploadKind>,
    /// Seals made.
    pub seals: Vec<MadeSeal>,
    /// The electronic invoice, once issued.
    pub invoice: Option<Invoice>,
}

/// A made seal, as handed to the applicant's key.
#[derive(Debug, Clone)]
pub struct MadeSeal {
    /// 印章1, 印章2 …
    pub seq: i32,
    /// esID.
    pub es_id: String,
    /// 印模类型.
    pub kind: SealKind,
    /// 印章名称.
    pub name: String,
    /// The SESeal, DER.
    pub der: Vec<u8>,
    /// The seal picture (PNG).
    pub picture_png: Vec<u8>,
    /// RFC 3339.
    pub valid_start: String,
    /// RFC 3339.
    pub valid_end: String,
    /// 已注销: replaced (重新制章, 变更, 补办); kept on the order's page, no longer written onto the key.
    pub revoked: bool,
}

impl MadeSeal {
    /// Which of the order's seals this is (1-based, 印章1, 印章2 …), a remade seal included.
    pub fn place(&self) -> i32 {
        crate::remake::unit_of(self.seq)
    }

    /// Whether it was made by a 重新制章 in place of an earlier seal.
    pub fn is_remade(&self) -> bool {
        self.place() != self.seq
    }
}

/// The key's signature over one written seal: proof that the seal reached the key bound at 授权.
#[derive(Debug, Clone)]
pub struct WriteReceipt {
    /// Which seal.
    pub es_id: String,
    /// SM2 signature (DER or raw r‖s) by the key over the seal's DER bytes.
    pub signature: Vec<u8>,
}

/// What one seal to make is: its place among the order's seals, esID, kind, name, picture (PNG, width and height
/// in mm) and validity (Unix seconds).
pub(crate) struct NewSeal {
    pub seq: i32,
    pub es_id: String,
    pub kind: SealKind,
    pub name: String,
    pub picture: (Vec<u8>, i64, i64),
    pub valid_start: i64,
    pub valid_end: i64,
}

pub(crate) fn to_made(s: SealRecord) -> MadeSeal {
    MadeSeal {
        seq: s.seq,
        es_id: s.es_id,
        kind: s.kind,
        name: s.name,
        der: s.der,
        picture_png: s.picture_png,
        valid_start: s.valid_start,
        valid_end: s.valid_end,
        revoked: s.revoked,
    }
}

impl App {
    pub(crate) fn applicant_id(who: &Who) -> Result<i64, AppError> {
        match who.principal {
            Principal::Applicant { id } => Ok(id),
            _ => Err(AppError::Forbidden("只有申请人本人可以办理此操作".into())),
        }
    }

    /// The order if it is the calling applicant's own. Anyone else gets NotFound, not Forbidden: an order
    /// number must not be confirmed to exist to someone who may not see it.
    pub(crate) async fn own_order(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let me = Self::applicant_id(who)?;
        let o = self.store.order(id).await?;
        if o.applicant_id != me {
            return Err(AppError::NotFound);
        }
        Ok(o)
    }

    pub(crate) async fn operator_scope(&self, who: &Who) -> Result<Option<Vec<i64>>, AppError> {
        match &who.principal {
            Principal::Operator {
                id,
                name,
                is_admin,
                roles,
            } => {
                let op = sealdesk_store::Operator {
                    id: *id,
                    name: name.clone(),
                    password_hash: String::new(),
                    is_admin: *is_admin,
                    roles: *roles,
                };
                Ok(Some(self.store.operator_project_ids(&op).await?))
            }
            _ => Ok(None),
        }
    }

    /// The order if the caller may see it: its applicant, or an operator of a group serving its project.
    pub(crate) async fn visible_order(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let o = self.store.order(id).await?;
        let ok = match &who.principal {
            Principal::Applicant { id } => o.applicant_id == *id,
            Principal::Operator { .. } => self
                .operator_scope(who)
                .await?
                .is_some_and(|p| p.contains(&o.project_id)),
            _ => false,
        };
        if ok {
            return Ok(o);
        }
        // Someone else's order looks like no order at all, and the attempt is kept: an operator reaching past
        // their groups' projects, or an applicant trying order ids, shows in the audit log.
        self.audit_event(
            &who.principal.audit_name(),
            &who.ip,
            "access_refused",
            serde_json::json!({"order_id": id.to_string()}),
        )
        .await?;
        Err(AppError::NotFound)
    }

    async fn operator_order(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        if !who.principal.may(sealdesk_domain::Role::Reviewer) {
            return Err(AppError::Forbidden("只有审核员可以办理此操作".into()));
        }
        self.visible_order(who, id).await
    }

    /// Applies `event` by `actor` to `order` inside `tx`: the state table decides, the version guards against a
    /// concurrent change, the audit entry and the state's SMS are written in the same transaction.
    pub(crate) async fn apply(
        &self,
        tx: &mut StoreTx,
        who: &Who,
        order: &mut Order,
        actor: Actor,
        event: &Event,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let before = order.state;
        let after = before.apply(actor, event)?;
        order.state = after;
        order.version += 1;
        order.updated_at = self.now_text();
        tx.update_order(order).await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: event.code().into(),
            before_state: Some(before),
            after_state: Some(after),
            detail: detail.to_string(),
        })
        .await?;
        let c = &self.cfg;
        if let Some((tpl, text)) = sms::for_state(
            &c.sms_signature,
            &c.platform_name,
            &c.public_url,
            &order.order_no,
            after,
        ) {
            tx.push_sms_with(
                self.store.next_id(),
                &order.holder.mobile,
                tpl,
                &text,
                &[("order_no", &order.order_no)],
            )
            .await?;
        }
        Ok(())
    }

    /// One state change in its own transaction: read the order afresh, let `prepare` set what the event
    /// carries, then [`App::apply`].
    async fn step(
        &self,
        who: &Who,
        id: i64,
        actor: Actor,
        event: &Event,
        detail: serde_json::Value,
        prepare: impl FnOnce(&mut Order),
    ) -> Result<Order, AppError> {
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        prepare(&mut order);
        self.apply(&mut tx, who, &mut order, actor, event, detail)
            .await?;
        tx.commit().await?;
        Ok(order)
    }

    pub(crate) async fn save_edit(
        &self,
        who: &Who,
        order: &mut Order,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        order.version += 1;
        order.updated_at = self.now_text();
        let mut tx = self.store.begin().await?;
        tx.update_order(order).await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: action.into(),
            detail: detail.to_string(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) fn today(&self) -> u32 {
        Timestamp(self.now()).beijing_yyyymmdd()
    }

    /// 暂存待办: creates a draft order for the project with `project_code`. The form may be incomplete but not
    /// malformed; the price is computed here from the project's price.
    pub async fn create_order(
        &self,
        who: &Who,
        project_code: &str,
        form: &OrderForm,
    ) -> Result<Order, AppError> {
        self.create_order_with(who, project_code, form, None).await
    }

    /// [`App::create_order`] for a 续期 or 变更 started from the key (读取证书锁): the certificate the key holds
    /// now is checked (a trusted CA's, naming the holder; for a 续期, not expired: else the seed's "renew the
    /// certificate first", before any payment) and kept on the draft as the key it will be bound to, so a
    /// certificate renewed since the earlier seals were made is the one that counts.
    pub async fn create_order_from_key(
        &self,
        who: &Who,
        project_code: &str,
        form: &OrderForm,
        cert_der: &[u8],
    ) -> Result<Order, AppError> {
        let cert = self.key_certificate(cert_der, form.service)?;
        cert_names_holder(&cert, &form.holder)?;
        let key = KeyBinding {
            serial: cert.serial_hex().to_uppercase(),
            cert_der_hex: hex::encode(cert.der()),
            subject: cert.subject(),
        };
        self.create_order_with(who, project_code, form, Some(key))
            .await
    }

    /// A certificate read from the key at the start of a 续期 or 变更: an expired one is answered with
    /// [`crate::certificate_expired_message`], anything else wrong with it as at 授权.
    pub(crate) fn key_certificate(
        &self,
        cert_der: &[u8],
        service: Option<sealdesk_domain::Service>,
    ) -> Result<sealdesk_pki::Cert, AppError> {
        if let Ok(cert) = sealdesk_pki::Cert::from_der(cert_der) {
            let (_, not_after) = cert.validity();
            if not_after < self.now() && service == Some(sealdesk_domain::Service::Renewal) {
                return Err(AppError::field(
                    "previous_order",
                    crate::certificate_expired_message(not_after),
                ));
            }
        }
        self.holder_cert(cert_der)
    }

    async fn create_order_with(
        &self,
        who: &Who,
        project_code: &str,
        form: &OrderForm,
        key: Option<KeyBinding>,
    ) -> Result<Order, AppError> {
        let applicant = Self::applicant_id(who)?;
        let project = self
            .store
            .project_by_code(project_code)
            .await
            .map_err(|_| AppError::field("project", "请选择授权单位（项目）"))?;
        let mut form = form
            .validate(self.today(), true)
            .map_err(AppError::Invalid)?;
        self.check_previous(applicant, form.previous_order, &form.holder)
            .await?;
        if let Some((service, prev)) =
            crate::renewal::takes_over(form.service, form.previous_order, &form.chosen_seals)
        {
            form.seals = self
                .taken_over_lines(service, prev, &form.chosen_seals, key.as_ref())
                .await?;
        }
        let total = form
            .price(project.price)
            .ok_or_else(|| AppError::field("seals", "数量过大"))?;
        let mut holder = form.holder.clone();
        if holder.mobile.is_empty() {
            holder.mobile = self.store.applicant_mobile(applicant).await?;
        }
        let id = self.store.next_id();
        let order = Order {
            id,
            order_no: OrderNo::new(&project.code, id).to_string(),
            project_id: project.id,
            applicant_id: applicant,
            service: form.service.unwrap_or(sealdesk_domain::Service::New),
            state: OrderState::Draft,
            holder,
            seals: form.seals.clone(),
            authorization: sealdesk_domain::Authorization {
                unit: project.name.clone(),
                kind: "期限".into(),
                months: form.months,
                sizes: project.seal_sizes.clone(),
            },
            total,
            review_comment: String::new(),
            review_reasons: Vec::new(),
            invoice: None,
            key,
            previous_order: form.previous_order,
            chosen_seals: form.chosen_seals.clone(),
            confirmed_cutouts: None,
            pad_signature: None,
            bid_opening: form.bid_opening.clone(),
            version: 1,
            created_at: self.now_text(),
            updated_at: self.now_text(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_order(&order).await?;
        tx.append_audit(AuditDraft {
            actor: who.principal.audit_name(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: "create".into(),
            after_state: Some(OrderState::Draft),
            detail:
                serde_json::json!({"service": order.service.code(), "total_fen": order.total.0})
                    .to_string(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Saves the applicant's edits of a draft or rejected order.
    pub async fn update_order(
        &self,
        who: &Who,
        id: i64,
        form: &OrderForm,
    ) -> Result<Order, AppError> {
        let mut order = self.own_order(who, id).await?;
        if !order.state.editable() {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能再修改",
                order.state.label()
            )));
        }
        let project = self.store.project(order.project_id).await?;
        let mut form = form
            .validate(self.today(), true)
            .map_err(AppError::Invalid)?;
        self.check_previous(order.applicant_id, form.previous_order, &form.holder)
            .await?;
        let service = form.service.or(Some(order.service));
        if let Some((service, prev)) =
            crate::renewal::takes_over(service, form.previous_order, &form.chosen_seals)
        {
            form.seals = self
                .taken_over_lines(service, prev, &form.chosen_seals, order.key.as_ref())
                .await?;
        }
        order.total = form
            .price(project.price)
            .ok_or_else(|| AppError::field("seals", "数量过大"))?;
        if let Some(s) = form.service {
            order.service = s;
        }
        let mobile = order.holder.mobile.clone();
        order.holder = form.holder.clone();
        if order.holder.mobile.is_empty() {
            order.holder.mobile = mobile;
        }
        // A 印模确认 says which impression is which of these seals: other seals need it said again.
        if order.seals != form.seals {
            order.confirmed_cutouts = None;
        }
        order.seals = form.seals;
        order.authorization.months = form.months;
        order.previous_order = form.previous_order;
        order.chosen_seals = form.chosen_seals;
        order.bid_opening = form.bid_opening;
        let detail = serde_json::json!({"total_fen": order.total.0});
        self.save_edit(who, &mut order, "edit", detail).await?;
        Ok(order)
    }

    /// 续期, 补办 and 变更 name an earlier order: it must be the caller's own, for the same holder, and have made
    /// its seals. Anyone else's order is "not found", exactly like one that does not exist.
    async fn check_previous(
        &self,
        applicant: i64,
        previous: Option<i64>,
        holder: &sealdesk_domain::Holder,
    ) -> Result<(), AppError> {
        let Some(prev) = previous else {
            return Ok(());
        };
        let not_found = || AppError::field("previous_order", "未找到该原订单");
        let p = match self.store.order(prev).await {
            Ok(p) if p.applicant_id == applicant => p,
            Ok(_) | Err(sealdesk_store::StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if !same_holder(&p.holder, holder) {
            return Err(AppError::field(
                "previous_order",
                "原订单的持有人与本订单不同：只能续期、补办或变更同一持有人的印章",
            ));
        }
        if !matches!(p.state, OrderState::Made | OrderState::Completed) {
            return Err(AppError::field(
                "previous_order",
                format!("原订单状态为「{}」，尚未制章", p.state.label()),
            ));
        }
        Ok(())
    }

    /// 提交: the form must be complete and every required file uploaded.
    pub async fn submit(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let order = self.own_order(who, id).await?;
        let mut errors = match order.form().validate(self.today(), false) {
            Ok(_) => Vec::new(),
            Err(e) => e,
        };
        // A renewal renews the seals of an earlier order: without one there is nothing to renew, and with an
        // expired certificate nothing can be renewed onto the key; both are said before any payment. A 补办 of
        // an earlier order must still find its seals.
        let takes_over = matches!(
            order.service,
            sealdesk_domain::Service::Renewal | sealdesk_domain::Service::Reissue
        ) || crate::renewal::takes_over(
            Some(order.service),
            order.previous_order,
            &order.chosen_seals,
        )
        .is_some();
        if takes_over {
            match order.previous_order {
                None if order.service == sealdesk_domain::Service::Renewal => {
                    errors.push(sealdesk_domain::FieldError {
                        field: "previous_order".into(),
                        message: "续期须针对已完成的订单：请在「我的订单」中点击该订单的「续期」"
                            .into(),
                    })
                }
                None => {}
                Some(prev) => match self
                    .taken_over_lines(order.service, prev, &order.chosen_seals, order.key.as_ref())
                    .await
                {
                    Ok(_) => {}
                    Err(AppError::Invalid(e)) => errors.extend(e),
                    Err(e) => return Err(e),
                },
            }
        }
        let have: Vec<UploadKind> = self
            .store
            .uploads(id)
            .await?
            .iter()
            .map(|u| u.kind)
            .collect();
        for k in order.missing_uploads(&have) {
            errors.push(sealdesk_domain::FieldError {
                field: format!("uploads.{}", k.code()),
                message: format!("请上传{}", k.label()),
            });
        }
        // The stamped form must give every seal its own impression before the order goes to review.
        if errors.is_empty() {
            for message in self.impression_problems(&order).await? {
                errors.push(sealdesk_domain::FieldError {
                    field: format!("uploads.{}", UploadKind::ImpressionForm.code()),
                    message,
                });
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let order = self
            .step(
                who,
                id,
                Actor::Applicant,
                &Event::Submit,
                serde_json::json!({}),
                |_| (),
            )
            .await?;
        // After the commit: the checks read the order and its files as submitted.
        self.schedule_prechecks(&order).await;
        Ok(order)
    }

    /// 审核通过. When the order's project asks a second approval (二次审核) for one of its seal kinds, the first
    /// approval is recorded (`approve_first`) and the order stays 待审核; a different reviewer's approval then
    /// completes it. The order as it is after the call.
    pub async fn approve(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let mut order = self.operator_order(who, id).await?;
        let project = self.store.project(order.project_id).await?;
        let second = order
            .seals
            .iter()
            .any(|l| project.second_approval.contains(&l.kind));
        if second && order.state == OrderState::PendingReview {
            match self.first_approver(id).await? {
                None => {
                    let name = who.principal.audit_name();
                    self.save_edit(
                        who,
                        &mut order,
                        "approve_first",
                        serde_json::json!({"first_approver": name}),
                    )
                    .await?;
                    return Ok(order);
                }
                Some(first) if first == who.principal.audit_name() => {
                    return Err(AppError::Conflict("复核须由另一位审核员完成".into()));
                }
                Some(_) => {}
            }
        }
        self.step(
            who,
            id,
            Actor::Operator,
            &Event::Approve,
            serde_json::json!({}),
            |_| (),
        )
        .await
    }

    /// 审核不通过, with the comment the applicant will read.
    pub async fn reject(&self, who: &Who, id: i64, comment: &str) -> Result<Order, AppError> {
        self.reject_with(who, id, &[], comment).await
    }

    /// 审核不通过 with coded reasons from the catalogue (each shown to the applicant beside the field it concerns)
    /// and a comment; at least one of the two. The order's 审核意见 reads the reasons' texts, then the comment.
    pub async fn reject_with(
        &self,
        who: &Who,
        id: i64,
        codes: &[String],
        comment: &str,
    ) -> Result<Order, AppError> {
        self.operator_order(who, id).await?;
        let comment = comment.trim();
        if comment.chars().count() > 500 {
            return Err(AppError::field("comment", "审核意见不能超过 500 字"));
        }
        let catalogue = self.store.reject_reasons().await?;
        let mut reasons: Vec<sealdesk_domain::ReviewReason> = Vec::new();
        for code in codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            if reasons.iter().any(|r| r.code == code) {
                continue;
            }
            let r = catalogue
                .iter()
                .find(|r| r.code == code)
                .ok_or_else(|| AppError::field("reasons", &format!("未知的不通过原因：{code}")))?;
            reasons.push(sealdesk_domain::ReviewReason {
                code: r.code.clone(),
                field: r.field.clone(),
                text: r.text.clone(),
            });
        }
        if reasons.is_empty() && comment.is_empty() {
            return Err(AppError::field(
                "comment",
                "请填写审核意见，告诉申请人需要修改什么",
            ));
        }
        let full = reasons
            .iter()
            .map(|r| r.text.as_str())
            .chain((!comment.is_empty()).then_some(comment))
            .collect::<Vec<_>>()
            .join("；");
        let event = Event::Reject {
            comment: full.clone(),
        };
        let detail = serde_json::json!({
            "comment": comment,
            "reasons": reasons.iter().map(|r| r.text.clone()).collect::<Vec<_>>(),
            "reason_codes": reasons.iter().map(|r| r.code.clone()).collect::<Vec<_>>(),
        });
        self.step(who, id, Actor::Operator, &event, detail, |o| {
            o.review_comment = full.clone();
            o.review_reasons = reasons.clone();
        })
        .await
    }

    /// The catalogue of coded rejection reasons, for operators.
    pub async fn reject_reasons(
        &self,
        who: &Who,
    ) -> Result<Vec<sealdesk_store::RejectReason>, AppError> {
        if !matches!(who.principal, Principal::Operator { .. }) {
            return Err(AppError::Forbidden("只有操作员可以查看不通过原因".into()));
        }
        Ok(self.store.reject_reasons().await?)
    }

    /// Changes the text of a coded rejection reason. Super-administrators only; audited.
    pub async fn set_reject_reason_text(
        &self,
        who: &Who,
        code: &str,
        text: &str,
    ) -> Result<(), AppError> {
        if !matches!(who.principal, Principal::Operator { is_admin: true, .. }) {
            return Err(AppError::Forbidden(
                "只有超级管理员可以修改不通过原因".into(),
            ));
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 200 {
            return Err(AppError::field("text", "原因文字应为 1 到 200 个字"));
        }
        self.store
            .set_reject_reason_text(code, text)
            .await
            .map_err(|e| match e {
                sealdesk_store::StoreError::NotFound => AppError::NotFound,
                other => other.into(),
            })?;
        self.audit_event(
            &who.principal.audit_name(),
            &who.ip,
            "reject_reason_edited",
            serde_json::json!({"code": code, "text": text}),
        )
        .await
    }

    /// 取消, by the applicant (before payment) or an operator.
    pub async fn cancel(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let actor = match who.principal {
            Principal::Applicant { .. } => {
                self.own_order(who, id).await?;
                Actor::Applicant
            }
            _ => {
                self.operator_order(who, id).await?;
                Actor::Operator
            }
        };
        self.step(
            who,
            id,
            actor,
            &Event::Cancel,
            serde_json::json!({}),
            |_| (),
        )
        .await
    }

    /// 申请开票: the applicant confirms the invoice details before paying.
    pub async fn confirm_invoice(
        &self,
        who: &Who,
        id: i64,
        info: &InvoiceInfo,
    ) -> Result<Order, AppError> {
        let mut order = self.own_order(who, id).await?;
        if order.state != OrderState::PendingPayment {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能确认发票信息",
                order.state.label()
            )));
        }
        let info = info.validate().map_err(AppError::Invalid)?;
        order.invoice = Some(info);
        self.save_edit(who, &mut order, "invoice_info", serde_json::json!({}))
            .await?;
        Ok(order)
    }

    /// A fresh 授权 challenge for the caller's paid order (replacing any earlier one).
    pub async fn authorize_challenge(&self, who: &Who, id: i64) -> Result<AuthChallenge, AppError> {
        let order = self.own_order(who, id).await?;
        if order.state != OrderState::Paid {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能授权",
                order.state.label()
            )));
        }
        let nonce = hex::encode(sealdesk_adapters::random_bytes::<16>());
        let expires_at = self.now() + CHALLENGE_TTL;
        self.store.put_challenge(id, &nonce, expires_at).await?;
        Ok(AuthChallenge {
            text: challenge_text(&order, &nonce, expires_at),
            nonce,
            expires_at,
        })
    }

    /// 授权: binds the applicant's key to the paid order, then makes the seals. The certificate (read from the
    /// key) must come from a trusted CA, name the order's holder, be a signing end-entity certificate valid now,
    /// and its key must have signed the order's live challenge ([`App::authorize_challenge`]): `signature` over
    /// the challenge text, DER or raw r‖s SM2. The key serial bound is the certificate's serial number — what
    /// the key reports, never a typed field.
    pub async fn authorize(
        &self,
        who: &Who,
        id: i64,
        cert_der: &[u8],
        nonce: &str,
        signature: &[u8],
    ) -> Result<Order, AppError> {
        let order = self.own_order(who, id).await?;
        if order.state != OrderState::Paid {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能授权",
                order.state.label()
            )));
        }
        let cert = self.holder_cert(cert_der)?;
        let t = self.now();
        cert_names_holder(&cert, &order.holder)?;
        let expires_at = match self.store.take_challenge(id, nonce.trim()).await {
            Ok(e) => e,
            Err(sealdesk_store::StoreError::NotFound) => {
                return Err(AppError::field(
                    "signature",
                    "授权挑战已失效，请刷新页面后用证书锁重新签名",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if expires_at < t {
            return Err(AppError::field(
                "signature",
                "授权挑战已过期，请刷新页面后用证书锁重新签名",
            ));
        }
        let text = challenge_text(&order, nonce.trim(), expires_at);
        if !cert.verify_signature(text.as_bytes(), signature) {
            return Err(AppError::field(
                "signature",
                "证书锁签名验证失败：签名不是该证书的私钥对本次授权挑战的签名",
            ));
        }
        let serial = cert.serial_hex().to_uppercase();
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        order.key = Some(KeyBinding {
            serial: serial.clone(),
            cert_der_hex: hex::encode(cert.der()),
            subject: cert.subject(),
        });
        // UKey sign-in with a key of this holder reaches this account from now on.
        let holder = crate::ukey::cert_holder_key(&cert, self.today());
        if let Some(h) = &holder {
            tx.link_cert_holder(h, order.applicant_id).await?;
        }
        let detail = serde_json::json!({"key_serial": serial, "cert_serial": cert.serial_hex(), "subject": cert.subject(), "months": order.authorization.months, "unit": order.authorization.unit, "sign_in_holder": holder});
        self.apply(
            &mut tx,
            who,
            &mut order,
            Actor::Applicant,
            &Event::Authorize,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.make_seals(who, id).await
    }

    /// 制章: cuts each impression out of the 印模采集表, builds one GB/T 38540 seal per seal ordered, signed by
    /// the platform's maker key, with the bound key's certificate in certList and the authorised period as its
    /// validity. Safe to retry: it acts only on an order in 已授权.
    pub async fn make_seals(&self, who: &Who, id: i64) -> Result<Order, AppError> {
        let order = self.visible_order(who, id).await?;
        if order.state != OrderState::Authorized {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能制章",
                order.state.label()
            )));
        }
        let key = order
            .key
            .clone()
            .ok_or_else(|| AppError::Internal("authorised order without key".into()))?;
        let cert_der =
            hex::decode(&key.cert_der_hex).map_err(|e| AppError::Internal(e.to_string()))?;
        let units = order.seal_units();
        // 续期 keeps the earlier seals' pictures; so does a 补办 unless a new 印模采集表 was uploaded. A 变更
        // always takes its pictures from its own form.
        let taken = crate::renewal::takes_over(
            Some(order.service),
            order.previous_order,
            &order.chosen_seals,
        );
        let keeps = match taken {
            Some((sealdesk_domain::Service::Renewal, _)) => true,
            Some((sealdesk_domain::Service::Change, _)) | None => false,
            Some(_) => self
                .store
                .uploads(order.id)
                .await?
                .iter()
                .all(|u| u.kind != UploadKind::ImpressionForm),
        };
        let pictures = if keeps {
            self.renewal_pictures(&order, units.len()).await?
        } else {
            self.seal_pictures(&order, units.len()).await?
        };
        let start = self.now();
        let end = Timestamp(start).add_months(order.authorization.months).0;
        let mut records = Vec::new();
        for (i, ((kind, name), picture)) in units.iter().zip(pictures).enumerate() {
            let seq = i as i32 + 1;
            records.push(self.sign_seal(
                &order,
                &key,
                &cert_der,
                NewSeal {
                    seq,
                    es_id: format!("SD{}{:02}", order.id, seq),
                    kind: *kind,
                    name: name.clone(),
                    picture,
                    valid_start: start,
                    valid_end: end,
                },
            )?);
        }
        let platform = Who {
            principal: Principal::Platform,
            ip: who.ip.clone(),
        };
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        for r in &records {
            tx.insert_seal(r).await?;
            tx.append_audit(AuditDraft {
                actor: "platform".into(),
                ip: who.ip.clone(),
                order_id: Some(order.id),
                action: "seal_issued".into(),
                detail: serde_json::json!({"es_id": r.es_id, "kind": r.kind.code(), "name": r.name, "sm3": sealdesk_adapters::sm3_hex(&r.der), "valid_end": r.valid_end, "token_serial": r.token_serial}).to_string(),
                ..Default::default()
            })
            .await?;
        }
        // 补办 replaces the seals of the earlier order it names (the same applicant's and holder's) and that
        // holder's seals on the lost key: the key is gone, so they are revoked here, audited in the transaction
        // that makes the replacements. A 变更's seals are revoked when the new ones are confirmed on the key.
        let mut revoked: Vec<String> = Vec::new();
        let reason = match order.service {
            sealdesk_domain::Service::Reissue => Some("补办"),
            _ => None,
        };
        if let Some(reason) = reason
            && let Some(prev) = order.previous_order
            && let Ok(p) = tx.order(prev).await
            && p.applicant_id == order.applicant_id
            && same_holder(&p.holder, &order.holder)
        {
            revoked.extend(tx.revoke_order_seals(prev, reason).await?);
            if order.service == sealdesk_domain::Service::Reissue
                && let Some(old) = p.key.filter(|k| k.serial != key.serial)
            {
                revoked.extend(
                    tx.revoke_token_seals(&old.serial, order.applicant_id, reason)
                        .await?,
                );
            }
            audit_revoked(&mut tx, who, &order, prev, reason, &revoked).await?;
        }
        let detail = serde_json::json!({"seals": records.len(), "revoked": revoked, "requested_by": who.principal.audit_name()});
        self.apply(
            &mut tx,
            &platform,
            &mut order,
            Actor::Platform,
            &Event::Make,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Builds and signs one seal for `order`'s bound key (its certificate in certList) with the platform's maker
    /// key, and checks it as a relying party would before anyone can have it.
    pub(crate) fn sign_seal(
        &self,
        order: &Order,
        key: &KeyBinding,
        cert_der: &[u8],
        s: NewSeal,
    ) -> Result<SealRecord, AppError> {
        let seal_type = order
            .holder
            .kind
            .unwrap_or(HolderKind::Enterprise)
            .ses_type();
        let (png, w_mm, h_mm) = s.picture;
        let req = sealdesk_ses::SealRequest {
            es_id: s.es_id.clone(),
            seal_type,
            name: s.name.clone(),
            cert_list: sealdesk_ses::CertList::Certs(vec![cert_der.to_vec()]),
            create_date: s.valid_start,
            valid_start: s.valid_start,
            valid_end: s.valid_end,
            picture: sealdesk_ses::Picture {
                kind: "PNG".into(),
                data: png.clone(),
                width_mm: w_mm,
                height_mm: h_mm,
            },
            vid: "SealDesk".into(),
            ext_datas: Vec::new(),
        };
        let der =
            sealdesk_ses::make_seal(&req, self.maker.cert.der(), self.maker.key.signing_key())
                .map_err(|e| AppError::Internal(format!("make seal: {e}")))?;
        // Never hand out a seal the platform would not itself accept.
        let report = sealdesk_ses::verify_seal(
            &der,
            &sealdesk_ses::VerifyOptions {
                trust: self.trust.iter().map(|c| c.der().to_vec()).collect(),
                at: s.valid_start,
                check_chain: true,
            },
        );
        if !report.valid {
            return Err(AppError::Internal(format!(
                "made seal does not verify: {:?}",
                report.checks
            )));
        }
        Ok(SealRecord {
            id: self.store.next_id(),
            order_id: order.id,
            seq: s.seq,
            es_id: s.es_id,
            kind: s.kind,
            name: s.name,
            der,
            picture_png: png,
            valid_start: Timestamp(s.valid_start).rfc3339(),
            valid_end: Timestamp(s.valid_end).rfc3339(),
            token_serial: key.serial.clone(),
            revoked: false,
            created_at: self.now_text(),
        })
    }

    /// The picture for each of `n` seals: the impression stamped in its own box of the current 印模采集表.
    pub(crate) async fn seal_pictures(
        &self,
        order: &Order,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, i64, i64)>, AppError> {
        let from_form = order.form_units().len();
        let pics = if from_form == 0 {
            Vec::new()
        } else {
            self.form_pictures(order)
                .await?
                .ok_or_else(|| AppError::Conflict("订单没有印模采集表，无法制章".into()))?
                .map_err(|m| {
                    AppError::Conflict(format!(
                        "无法制章：{}。请联系客服重新上传印模采集表",
                        m.join("；")
                    ))
                })?
        };
        if pics.len() != from_form {
            return Err(AppError::Internal(format!(
                "{} pictures for {from_form} seals of the form",
                pics.len()
            )));
        }
        // The 手写签字 seals carry the signature drawn on the pad, the others their boxes' impressions in order.
        let drawn = self.pad_picture(order).await?;
        let mut boxes = pics.into_iter();
        let all: Vec<_> = order
            .seal_units()
            .into_iter()
            .filter_map(|(kind, _)| match &drawn {
                Some(p) if kind == sealdesk_domain::SealKind::HandwrittenSignature => {
                    Some(p.clone())
                }
                _ => boxes.next(),
            })
            .collect();
        if all.len() != n {
            return Err(AppError::Internal(format!(
                "{} pictures for {n} seals",
                all.len()
            )));
        }
        Ok(all)
    }

    /// 印章有效期 of an order's made seals (earliest start, latest end; RFC 3339), for whoever may see the order.
    pub async fn seal_window(
        &self,
        who: &Who,
        id: i64,
    ) -> Result<Option<(String, String)>, AppError> {
        self.visible_order(who, id).await?;
        Ok(self.store.seal_window(id).await?)
    }

    /// The seals of an order, for its applicant (to write them onto the key) or an operator.
    pub async fn seals(&self, who: &Who, id: i64) -> Result<Vec<MadeSeal>, AppError> {
        self.visible_order(who, id).await?;
        Ok(self
            .store
            .seals(id)
            .await?
            .into_iter()
            .map(to_made)
            .collect())
    }

    /// The esIDs of the seals an order's seals take the place of on the key (the page deletes the ones it finds on
    /// the key in the same write): the order's own seals that a 重新制章 replaced and, for a 续期 or 变更, those
    /// made for the earlier order it continues. A 补办's earlier key is gone.
    pub async fn replaced_seals(&self, who: &Who, id: i64) -> Result<Vec<String>, AppError> {
        let order = self.visible_order(who, id).await?;
        let mut replaced: Vec<String> = self
            .store
            .seals(id)
            .await?
            .into_iter()
            .filter(|s| s.revoked)
            .map(|s| s.es_id)
            .collect();
        if let (sealdesk_domain::Service::Renewal | sealdesk_domain::Service::Change, Some(p)) =
            (order.service, order.previous_order)
        {
            replaced.extend(crate::renewal::replaced_of(
                &order,
                self.store.seals(p).await?,
            ));
        }
        Ok(replaced)
    }

    /// 写入完成: every seal's receipt must verify with the bound key; then the order completes and its electronic
    /// invoice is issued, in one transaction.
    pub async fn confirm_written(
        &self,
        who: &Who,
        id: i64,
        receipts: &[WriteReceipt],
    ) -> Result<Order, AppError> {
        let order = self.own_order(who, id).await?;
        if order.state != OrderState::Made {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能确认写入",
                order.state.label()
            )));
        }
        let key = order
            .key
            .clone()
            .ok_or_else(|| AppError::Internal("made order without key".into()))?;
        // SM2 or ECDSA P-256, whichever the bound key signs with.
        let pk = hex::decode(&key.cert_der_hex)
            .ok()
            .and_then(|d| sealdesk_pki::Cert::from_der(&d).ok())
            .and_then(|c| c.key().ok())
            .ok_or_else(|| AppError::Internal("bound certificate unreadable".into()))?;
        // The seals to be on the key: a remade seal's predecessor is not (the page removed it in the same write).
        let seals: Vec<SealRecord> = self
            .store
            .seals(id)
            .await?
            .into_iter()
            .filter(|s| !s.revoked)
            .collect();
        for s in &seals {
            let ok = receipts
                .iter()
                .any(|r| r.es_id == s.es_id && pk.verify(&s.der, &r.signature));
            if !ok {
                return Err(AppError::field(
                    "receipts",
                    format!("印章 {} 未确认写入到授权的证书锁，请重新写入", s.es_id),
                ));
            }
        }
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        // After a 重新制章 the order completes again, but it was paid for and invoiced once.
        let invoice = match self.store.invoice(id).await? {
            Some(earlier) => earlier,
            None => {
                let invoice = self.make_invoice(&order, seals.len())?;
                tx.insert_invoice(&invoice).await?;
                let email = order
                    .invoice
                    .as_ref()
                    .map(|i| i.email.clone())
                    .unwrap_or_default();
                self.queue_invoice_mail(&mut tx, &order, &invoice, &email)
                    .await?;
                invoice
            }
        };
        // 变更: the seals replaced are revoked now that their replacements are on the key.
        let mut revoked = Vec::new();
        if order.service == sealdesk_domain::Service::Change
            && let Some(prev) = order.previous_order
            && let Ok(p) = tx.order(prev).await
            && p.applicant_id == order.applicant_id
            && same_holder(&p.holder, &order.holder)
        {
            let replaced = crate::renewal::replaced_of(&order, self.store.seals(prev).await?);
            revoked = tx.revoke_seals(&replaced, "变更").await?;
            audit_revoked(&mut tx, who, &order, prev, "变更", &revoked).await?;
        }
        let detail = serde_json::json!({"invoice": invoice.number, "seals": seals.len(), "revoked": revoked});
        self.apply(
            &mut tx,
            who,
            &mut order,
            Actor::Applicant,
            &Event::ConfirmWritten,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    fn make_invoice(&self, order: &Order, n_seals: usize) -> Result<Invoice, AppError> {
        let info = order
            .invoice
            .clone()
            .ok_or_else(|| AppError::Internal("completed order without invoice info".into()))?;
        let date = Timestamp(self.now());
        let number = format!(
            "{}{:012}",
            date.beijing_yyyymmdd(),
            order.id.rem_euclid(1_000_000_000_000)
        );
        let qty = n_seals.max(1) as i64;
        let body = serde_json::json!({
            "number": number,
            "date": date.beijing_date(),
            "order_no": order.order_no,
            "service": order.service.label(),
            "buyer": crate::finance::buyer_json(&info),
            "items": [{"name": "技术服务费", "detail": format!("电子印章 {} 个 × {} 个月", qty, order.authorization.months), "quantity": 1, "amount_fen": order.total.0}],
            "total_fen": order.total.0,
            "total_yuan": order.total.yuan_string(),
            "total_capitals": Fen(order.total.0).capitals(),
        });
        Ok(Invoice {
            id: self.store.next_id(),
            order_id: order.id,
            number,
            body: body.to_string(),
            created_at: self.now_text(),
            ..Invoice::default()
        })
    }

    /// Orders the caller may see, filtered: an applicant's own, or an operator's projects'.
    pub async fn list_orders(
        &self,
        who: &Who,
        filter: OrderFilter,
    ) -> Result<(Vec<Order>, i64), AppError> {
        let filter = self.scoped(who, filter).await?;
        Ok(self.store.list_orders(&filter).await?)
    }

    /// One batch of the orders the caller may see, without counting them all: what an export walks through
    /// (`filter.id_below` set to the last id of the batch before).
    pub async fn order_batch(
        &self,
        who: &Who,
        filter: OrderFilter,
    ) -> Result<Vec<Order>, AppError> {
        let filter = self.scoped(who, filter).await?;
        Ok(self.store.order_batch(&filter).await?)
    }

    /// `filter` narrowed to what the caller may see: an applicant's own orders, an operator's projects'.
    async fn scoped(&self, who: &Who, mut filter: OrderFilter) -> Result<OrderFilter, AppError> {
        match &who.principal {
            Principal::Applicant { id } => filter.applicant_id = Some(*id),
            Principal::Operator { .. } => {
                let scope = self.operator_scope(who).await?.unwrap_or_default();
                filter.project_ids = Some(match filter.project_ids.take() {
                    Some(asked) => asked.into_iter().filter(|p| scope.contains(p)).collect(),
                    None => scope,
                });
            }
            _ => return Err(AppError::Unauthenticated),
        }
        Ok(filter)
    }

    /// An order with its uploads, seals and invoice.
    pub async fn order_view(&self, who: &Who, id: i64) -> Result<OrderView, AppError> {
        let order = self.visible_order(who, id).await?;
        let project = self.store.project(order.project_id).await?;
        let uploads = self.store.uploads(id).await?;
        let have: Vec<UploadKind> = uploads.iter().map(|u| u.kind).collect();
        let missing_uploads = order.missing_uploads(&have);
        let seals = self
            .store
            .seals(id)
            .await?
            .into_iter()
            .map(to_made)
            .collect();
        let invoice = self.store.invoice(id).await?;
        Ok(OrderView {
            order,
            project,
            uploads,
            missing_uploads,
            seals,
            invoice,
        })
    }

    /// The projects the caller may file orders for (applicants) or serves (operators).
    pub async fn projects(&self, who: &Who) -> Result<Vec<Project>, AppError> {
        let all = self.store.list_projects().await?;
        Ok(match self.operator_scope(who).await? {
            Some(scope) => all.into_iter().filter(|p| scope.contains(&p.id)).collect(),
            None => all,
        })
    }
}

/// Decodes a base64 or hex signature as clients send it.
pub fn decode_signature(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).ok();
    }
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// One `seal_revoked` entry per seal of the earlier order `prev` that `order` replaced, in the transaction that
/// revoked them.
async fn audit_revoked(
    tx: &mut StoreTx,
    who: &Who,
    order: &Order,
    prev: i64,
    reason: &str,
    revoked: &[String],
) -> Result<(), AppError> {
    for es_id in revoked {
        tx.append_audit(AuditDraft {
            actor: "platform".into(),
            ip: who.ip.clone(),
            order_id: Some(order.id),
            action: "seal_revoked".into(),
            detail: serde_json::json!({"es_id": es_id, "reason": reason, "replaced_by_order": order.order_no, "previous_order": prev.to_string()}).to_string(),
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}
