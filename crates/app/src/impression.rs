//! The order's 印模采集表: the PDF drawn from the order, and what a stamped copy of it says, box by box.
//!
//! The boxes are recomputed from the order alone ([`form_spec`]), so seal *i* always takes the impression stamped
//! in box *i*; a form of another order, an empty box, a box with two stamps or a stamp outside every box is named.

use sealdesk_artwork::{BoxReading, BoxShape, BoxSpec, FormReading, FormSpec, SealInk};
use sealdesk_domain::{Order, SealKind, UploadKind};

use crate::{App, AppError, Who};

/// A seal's picture: PNG, width and height in mm.
pub(crate) type Picture = (Vec<u8>, i64, i64);

/// The impression's shape, usual true size (mm) and required ink of a kind: 42 mm round for company seals, 20 mm
/// square for 法人章, the 50 × 36 mm frame of 执业印章 (blue ink), 50 × 25 mm for a 手写签字. An order's own
/// sizes (the project's registered ones) are in [`sealdesk_domain::Authorization::size_mm`].
pub fn kind_box(kind: SealKind) -> (BoxShape, f32, f32, Option<SealInk>) {
    let (w, h) = kind.usual_size_mm();
    let (shape, ink) = match kind {
        SealKind::OfficialSeal
        | SealKind::QualificationSeal
        | SealKind::DynamicInputSeal
        | SealKind::EnterpriseOther => (BoxShape::Round, None),
        SealKind::LegalRepresentative | SealKind::PersonalOther => (BoxShape::Square, None),
        SealKind::RegisteredConstructor
        | SealKind::RegisteredSupervisor
        | SealKind::CostEngineer
        | SealKind::CostClerk => (BoxShape::Rect, Some(SealInk::Blue)),
        SealKind::HandwrittenSignature => (BoxShape::Rect, None),
    };
    (shape, f32::from(w), f32::from(h), ink)
}

/// The form of an order: one box per seal unit, in [`Order::seal_units`] order, each at the order's registered
/// size of its kind (a round kind registered with a width other than its height is an oval seal, so its box is
/// oval).
pub fn form_spec(order: &Order) -> FormSpec {
    FormSpec {
        order_no: order.order_no.clone(),
        holder: order.holder.display_name().to_owned(),
        boxes: order
            .form_units()
            .into_iter()
            .map(|(kind, name)| {
                let (shape, _, _, ink) = kind_box(kind);
                let (w, h) = order.authorization.size_mm(kind);
                let shape = if shape == BoxShape::Round && w != h {
                    BoxShape::Oval
                } else {
                    shape
                };
                let (width_mm, height_mm) = (f32::from(w), f32::from(h));
                BoxSpec {
                    kind_label: kind.label().to_owned(),
                    seal_name: name,
                    shape,
                    width_mm,
                    height_mm,
                    ink,
                }
            })
            .collect(),
    }
}

/// The answer to a form of another order.
pub fn other_order_message(other: &str, this: &str) -> String {
    format!("此印模采集表属于订单 {other}，不是本订单 {this}，请下载本订单的印模采集表")
}

/// `第 2 枚（企业资质印章）`.
fn box_name(spec: &FormSpec, i: usize) -> String {
    format!("第 {} 枚（{}）", i + 1, spec.boxes[i].kind_label)
}

/// What is wrong with a reading, each problem naming its box; empty when every seal has its impression.
pub fn problems(spec: &FormSpec, reading: &FormReading) -> Vec<String> {
    match reading {
        FormReading::OtherOrder { order_no } => {
            vec![other_order_message(order_no, &spec.order_no)]
        }
        FormReading::Unlocated { impressions } if impressions.is_empty() => {
            vec!["印模采集表上没有找到印章，请在本订单的印模采集表各框内盖章后重新扫描上传".into()]
        }
        FormReading::Unlocated { impressions } if impressions.len() != spec.boxes.len() => {
            vec![format!(
                "印模采集表上找到 {} 枚印章，本订单需要 {} 枚，请使用本订单的印模采集表（带二维码）每框盖一枚",
                impressions.len(),
                spec.boxes.len()
            )]
        }
        FormReading::Unlocated { .. } => Vec::new(),
        FormReading::Located { boxes, outside, .. } => {
            let mut out = Vec::new();
            for i in 0..spec.boxes.len() {
                match boxes.iter().find(|(b, _)| *b == i).map(|(_, r)| r) {
                    Some(BoxReading::Found(_)) => {}
                    Some(BoxReading::Several(n)) => {
                        out.push(format!("{}框内有 {n} 枚印章", box_name(spec, i)))
                    }
                    Some(BoxReading::Empty) | None => {
                        out.push(format!("{}框内未找到印章", box_name(spec, i)))
                    }
                }
            }
            if !outside.is_empty() {
                out.push(format!("有 {} 枚印章盖在框外", outside.len()));
            }
            out
        }
    }
}

/// The picture of each seal: the impression of its own box. Refused, naming the boxes, while any problem remains.
/// A form without QR code (read by the whole-page search) gives its impressions in reading order only when there
/// is exactly one per seal.
pub fn pictures(spec: &FormSpec, reading: FormReading) -> Result<Vec<Picture>, String> {
    let wrong = problems(spec, &reading);
    if !wrong.is_empty() {
        return Err(wrong.join("；"));
    }
    let to_picture = |i: sealdesk_artwork::Impression| {
        (
            i.png,
            i.width_mm.round().max(1.0) as i64,
            i.height_mm.round().max(1.0) as i64,
        )
    };
    match reading {
        FormReading::Unlocated { impressions } => {
            Ok(impressions.into_iter().map(to_picture).collect())
        }
        FormReading::Located { mut boxes, .. } => (0..spec.boxes.len())
            .map(|i| {
                let at = boxes.iter().position(|(b, _)| *b == i);
                match at.map(|k| boxes.swap_remove(k).1) {
                    Some(BoxReading::Found(imp)) => Ok(to_picture(imp)),
                    _ => Err(format!("{}框内未找到印章", box_name(spec, i))),
                }
            })
            .collect(),
        FormReading::OtherOrder { order_no } => Err(other_order_message(&order_no, &spec.order_no)),
    }
}

/// Reads a stamped form against the order's spec (CPU work: call on the blocking pool).
pub(crate) fn read(bytes: &[u8], spec: &FormSpec) -> Result<FormReading, sealdesk_artwork::Error> {
    sealdesk_artwork::read_form(bytes, spec, &sealdesk_artwork::ExtractOptions::default())
}

/// What a stamped form gives: each seal's picture, or the problems that prevent it.
pub(crate) type FormOutcome = Result<Vec<Picture>, Vec<String>>;

/// Where the outcome of reading form `form_sm3` against `spec` is kept.
fn cache_key(form_sm3: &str, spec: &FormSpec) -> String {
    format!(
        "cutouts/{}",
        &sealdesk_adapters::sm3_hex(format!("{form_sm3}{spec:?}").as_bytes())[..32]
    )
}

/// The outcome of a reading (or of a scan that could not be read), and whether it was read without the form's
/// QR code and boxes (so in reading order, to be confirmed).
fn outcome_of(spec: &FormSpec, reading: Result<FormReading, String>) -> (FormOutcome, bool) {
    let unlocated = matches!(reading, Ok(FormReading::Unlocated { .. }));
    let outcome = (|| {
        let reading = reading.map_err(|e| vec![format!("无法读取印模采集表：{e}")])?;
        let wrong = problems(spec, &reading);
        if !wrong.is_empty() {
            return Err(wrong);
        }
        pictures(spec, reading).map_err(|m| vec![m])
    })();
    (outcome, unlocated)
}

/// Whether the order's 印模采集表 may still be replaced (and its 印模确认 given): while the applicant edits the
/// order, and after approval until 制章 (a replacement after approval is audited like any upload, and the seals
/// are made from the form current at 制章).
pub fn form_replaceable(state: sealdesk_domain::OrderState) -> bool {
    use sealdesk_domain::OrderState as S;
    state.editable() || matches!(state, S::PendingPayment | S::Paid | S::Authorized)
}

/// Why a form read without its QR code gives no pictures until the applicant says which impression is which seal.
pub const UNCONFIRMED_MESSAGE: &str = "印模采集表上没有可识别的二维码，无法确定每枚印模属于哪枚印章：请在订单页的「印章图片」中确认每枚印模对应的印章，或下载本订单的印模采集表盖章后重新上传";

/// Whether impressions read in page order need the applicant's 印模确认: when the order's seals are not all
/// alike (same kind and name), the page order says nothing about which is which.
fn needs_confirmation(unlocated: bool, order: &Order) -> bool {
    unlocated && order.form_units().windows(2).any(|w| w[0] != w[1])
}

/// The pictures in seal order as the applicant confirmed them for this scan; `None` if they have not (or did for
/// another scan, or for other seals).
fn arranged(order: &Order, form_sm3: &str, pics: &[Picture]) -> Option<Vec<Picture>> {
    let c = order.confirmed_cutouts.as_ref()?;
    if c.form_sm3 != form_sm3 || c.pick.len() != pics.len() {
        return None;
    }
    let mut seen = vec![false; pics.len()];
    c.pick
        .iter()
        .map(|&j| {
            let first = !std::mem::replace(seen.get_mut(j)?, true);
            first.then(|| pics[j].clone())
        })
        .collect()
}

/// One seal's cut-out as the order's 印模采集表 gives it, before 制章: which seal, and its true size.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutout {
    /// Seal kind.
    pub kind: SealKind,
    /// 印章名称.
    pub name: String,
    /// Measured width of the impression (mm).
    pub width_mm: f32,
    /// Measured height of the impression (mm).
    pub height_mm: f32,
}

/// What the current 印模采集表 gives for each seal: the cut-outs, or why it gives none (each problem naming its
/// box); `NoForm` before one is uploaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Cutouts {
    /// No 印模采集表 uploaded (or the service needs none).
    NoForm,
    /// One per seal, in form order.
    Found(Vec<Cutout>),
    /// The form cannot give the seals' pictures yet.
    Problems(Vec<String>),
    /// The form is being read: ask again in a moment.
    Pending,
    /// The form was read without its QR code: the impressions found, in page order (their measured sizes, mm),
    /// wait for the applicant to say which seal each one is (see [`App::confirm_cutouts`]); `seals` are the
    /// order's seals to choose from.
    Unconfirmed {
        /// (width, height) of each impression found, mm.
        found: Vec<(f32, f32)>,
        /// The order's seals, in form order.
        seals: Vec<(SealKind, String)>,
    },
}

impl App {
    /// The pictures the order's current 印模采集表 gives, one per seal in form order, or the problems that prevent
    /// it (`Some(Err(..))`, each naming its box); `None` when no form is uploaded. The outcome is kept in the
    /// blob store under the SM3 of the form and of the order's boxes (the upload itself leaves it there), so that
    /// page views and 制章 read a scan once; a reading holds an image-work permit.
    ///
    /// A form read without its QR code gives its impressions in the order the applicant confirmed; until then it
    /// gives [`UNCONFIRMED_MESSAGE`] (unless there is one seal only).
    pub(crate) async fn form_pictures(
        &self,
        order: &Order,
    ) -> Result<Option<FormOutcome>, AppError> {
        let Some((outcome, unlocated, sm3)) = self.read_pictures(order).await? else {
            return Ok(None);
        };
        Ok(Some(match outcome {
            Ok(pics) if needs_confirmation(unlocated, order) => {
                arranged(order, &sm3, &pics).ok_or_else(|| vec![UNCONFIRMED_MESSAGE.to_owned()])
            }
            other => other,
        }))
    }

    /// The current form's outcome as read (impressions in page order when it had no QR code), whether it had
    /// none, and the form's SM3.
    async fn read_pictures(
        &self,
        order: &Order,
    ) -> Result<Option<(FormOutcome, bool, String)>, AppError> {
        let Some((form, spec)) = self.current_form(order).await? else {
            return Ok(None);
        };
        let cache = cache_key(&form.sm3, &spec);
        if let Some((known, unlocated)) = self.cached_outcome(&cache).await {
            return Ok(Some((known, unlocated, form.sm3)));
        }
        let bytes = self
            .blobs
            .get(&form.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))?;
        let permit = self.image_permit().await?;
        let (outcome, unlocated) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            outcome_of(&spec, read(&bytes, &spec).map_err(|e| e.to_string()))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        self.keep_outcome(&cache, &outcome, unlocated).await;
        Ok(Some((outcome, unlocated, form.sm3)))
    }

    /// One of the server-wide image-work permits (reading scans, drawing forms).
    pub(crate) async fn image_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.image_work
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Keeps what the upload of a form read, so that no page has to read it again.
    pub(crate) async fn remember_reading(
        &self,
        form_sm3: &str,
        spec: &FormSpec,
        reading: Result<FormReading, String>,
    ) {
        let (outcome, unlocated) = outcome_of(spec, reading);
        self.keep_outcome(&cache_key(form_sm3, spec), &outcome, unlocated)
            .await;
    }

    async fn current_form(
        &self,
        order: &Order,
    ) -> Result<Option<(sealdesk_store::UploadMeta, FormSpec)>, AppError> {
        let uploads = self.store.uploads(order.id).await?;
        Ok(uploads
            .into_iter()
            .find(|u| u.kind == UploadKind::ImpressionForm)
            .map(|u| (u, form_spec(order))))
    }

    /// A failed write costs only a later re-read. `sizes` is written last: a reading is known once it is there.
    async fn keep_outcome(&self, cache: &str, outcome: &FormOutcome, unlocated: bool) {
        match outcome {
            Err(problems) => {
                let _ = self
                    .blobs
                    .put(
                        &format!("{cache}/problems"),
                        problems.join("\n").into_bytes(),
                    )
                    .await;
            }
            Ok(pics) => {
                for (i, (png, _, _)) in pics.iter().enumerate() {
                    if self
                        .blobs
                        .put(&format!("{cache}/{i}.png"), png.clone())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if unlocated
                    && self
                        .blobs
                        .put(&format!("{cache}/unlocated"), b"1".to_vec())
                        .await
                        .is_err()
                {
                    return;
                }
                let sizes: Vec<String> = pics.iter().map(|(_, w, h)| format!("{w}x{h}")).collect();
                let _ = self
                    .blobs
                    .put(&format!("{cache}/sizes"), sizes.join(",").into_bytes())
                    .await;
            }
        }
    }

    async fn cached_outcome(&self, cache: &str) -> Option<(FormOutcome, bool)> {
        if let Ok(text) = self.blobs.get(&format!("{cache}/problems")).await {
            let text = String::from_utf8(text).ok()?;
            return Some((Err(text.lines().map(str::to_owned).collect()), false));
        }
        let sizes = self.blobs.get(&format!("{cache}/sizes")).await.ok()?;
        let sizes = String::from_utf8(sizes).ok()?;
        let mut out = Vec::new();
        for (i, wh) in sizes.split(',').enumerate() {
            let (w, h) = wh.split_once('x')?;
            let png = self.blobs.get(&format!("{cache}/{i}.png")).await.ok()?;
            out.push((png, w.parse().ok()?, h.parse().ok()?));
        }
        let unlocated = self.blobs.get(&format!("{cache}/unlocated")).await.is_ok();
        Some((Ok(out), unlocated))
    }

    /// Each seal's cut-out from the current 印模采集表 (applicant who owns the order, or an operator who serves
    /// it), for showing beside its kind at true size before 制章. A page never waits for a scan to be read: a form
    /// not read yet is `Pending`, and is read in the background.
    pub async fn cutouts(&self, who: &Who, id: i64) -> Result<Cutouts, AppError> {
        let order = self.visible_order(who, id).await?;
        if !order.service.needs_impression() {
            return Ok(Cutouts::NoForm);
        }
        let Some((form, spec)) = self.current_form(&order).await? else {
            return Ok(Cutouts::NoForm);
        };
        let Some((outcome, unlocated)) = self.cached_outcome(&cache_key(&form.sm3, &spec)).await
        else {
            let app = self.clone();
            tokio::spawn(async move {
                if let Err(e) = app.form_pictures(&order).await {
                    tracing::warn!(order = order.id, error = %e, "could not read the 印模采集表");
                }
            });
            return Ok(Cutouts::Pending);
        };
        let units = order.form_units();
        let pics = match outcome {
            Err(problems) => return Ok(Cutouts::Problems(problems)),
            Ok(pics) if needs_confirmation(unlocated, &order) => {
                match arranged(&order, &form.sm3, &pics) {
                    Some(p) => p,
                    None => {
                        return Ok(Cutouts::Unconfirmed {
                            found: pics
                                .iter()
                                .map(|(_, w, h)| (*w as f32, *h as f32))
                                .collect(),
                            seals: units,
                        });
                    }
                }
            }
            Ok(pics) => pics,
        };
        Ok(Cutouts::Found(
            units
                .into_iter()
                .zip(pics)
                .map(|((kind, name), (_, w, h))| Cutout {
                    kind,
                    name,
                    width_mm: w as f32,
                    height_mm: h as f32,
                })
                .collect(),
        ))
    }

    /// The PNG of seal `index`'s cut-out (see [`App::cutouts`]); while a form read without its QR code waits for
    /// the applicant's 印模确认, the `index`-th impression found, in page order.
    pub async fn cutout_png(&self, who: &Who, id: i64, index: usize) -> Result<Vec<u8>, AppError> {
        let order = self.visible_order(who, id).await?;
        let Some((Ok(raw), unlocated, sm3)) = self.read_pictures(&order).await? else {
            return Err(AppError::NotFound);
        };
        let mut pics = if needs_confirmation(unlocated, &order) {
            arranged(&order, &sm3, &raw).unwrap_or(raw)
        } else {
            raw
        };
        if index < pics.len() {
            Ok(pics.swap_remove(index).0)
        } else {
            Err(AppError::NotFound)
        }
    }

    /// 印模确认: the applicant says which seal each impression of a form read without its QR code is
    /// (`seal_of[j]`: the seal, in form order, that impression *j* in page order belongs to). Each seal once; only
    /// while the order can be edited; kept for this scan only, and audited.
    pub async fn confirm_cutouts(
        &self,
        who: &Who,
        id: i64,
        seal_of: &[usize],
    ) -> Result<Order, AppError> {
        let mut order = self.own_order(who, id).await?;
        if !form_replaceable(order.state) {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能再确认印模",
                order.state.label()
            )));
        }
        let field = format!("uploads.{}", UploadKind::ImpressionForm.code());
        let Some((outcome, unlocated, sm3)) = self.read_pictures(&order).await? else {
            return Err(AppError::field(&field, "请先上传盖章后的印模采集表"));
        };
        // A form read with problems (too few impressions, none) is answered by them, not by a confirmation.
        outcome.map_err(|p| AppError::field(&field, p.join("；")))?;
        if !needs_confirmation(unlocated, &order) {
            return Err(AppError::Conflict(
                "此印模采集表无需确认：每枚印章的图片取自它自己的方框".into(),
            ));
        }
        let confirmed =
            sealdesk_domain::ConfirmedCutouts::from_choice(&sm3, seal_of, order.form_units().len())
                .map_err(|m| AppError::field("cutouts", m))?;
        let detail = serde_json::json!({"form_sm3": sm3, "pick": confirmed.pick});
        order.confirmed_cutouts = Some(confirmed);
        self.save_edit(who, &mut order, "confirm_cutouts", detail)
            .await?;
        Ok(order)
    }

    /// 印模采集表 as a PDF drawn from the order (its number, QR code and one true-size box per seal), for the
    /// applicant who owns it or an operator who may see it: (file name, bytes).
    pub async fn impression_form_pdf(
        &self,
        who: &Who,
        id: i64,
    ) -> Result<(String, Vec<u8>), AppError> {
        let order = self.visible_order(who, id).await?;
        let spec = form_spec(&order);
        // Drawing the QR code and embedding the font is image work like any other: bounded the same way.
        let permit = self.image_permit().await?;
        let pdf = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            sealdesk_artwork::render_form_pdf(&spec)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Conflict(format!("无法生成印模采集表：{e}")))?;
        Ok((format!("impression-form-{}.pdf", order.order_no), pdf))
    }

    /// The problems of the order's current 印模采集表, each naming its box (empty when none, or when no form is
    /// uploaded yet: the missing upload is reported on its own).
    pub async fn impression_problems(&self, order: &Order) -> Result<Vec<String>, AppError> {
        Ok(match self.form_pictures(order).await? {
            Some(Err(problems)) => problems,
            _ => Vec::new(),
        })
    }
}
