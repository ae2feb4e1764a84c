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
            .seal_units()
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

/// The outcome of a reading (or of a scan that could not be read).
fn outcome_of(spec: &FormSpec, reading: Result<FormReading, String>) -> FormOutcome {
    let reading = reading.map_err(|e| vec![format!("无法读取印模采集表：{e}")])?;
    let wrong = problems(spec, &reading);
    if !wrong.is_empty() {
        return Err(wrong);
    }
    pictures(spec, reading).map_err(|m| vec![m])
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
}

impl App {
    /// The pictures the order's current 印模采集表 gives, one per seal in form order, or the problems that prevent
    /// it (`Some(Err(..))`, each naming its box); `None` when no form is uploaded. The outcome is kept in the
    /// blob store under the SM3 of the form and of the order's boxes (the upload itself leaves it there), so that
    /// page views and 制章 read a scan once; a reading holds an image-work permit.
    pub(crate) async fn form_pictures(
        &self,
        order: &Order,
    ) -> Result<Option<FormOutcome>, AppError> {
        let Some((form, spec)) = self.current_form(order).await? else {
            return Ok(None);
        };
        let cache = cache_key(&form.sm3, &spec);
        if let Some(known) = self.cached_outcome(&cache).await {
            return Ok(Some(known));
        }
        let bytes = self
            .blobs
            .get(&form.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))?;
        let permit = self.image_permit().await?;
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            outcome_of(&spec, read(&bytes, &spec).map_err(|e| e.to_string()))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        self.keep_outcome(&cache, &outcome).await;
        Ok(Some(outcome))
    }

    /// One of the server-wide image-work permits (reading scans, drawing forms).
    async fn image_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
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
        let outcome = outcome_of(spec, reading);
        self.keep_outcome(&cache_key(form_sm3, spec), &outcome)
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

    /// A failed write costs only a later re-read.
    async fn keep_outcome(&self, cache: &str, outcome: &FormOutcome) {
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
                let sizes: Vec<String> = pics.iter().map(|(_, w, h)| format!("{w}x{h}")).collect();
                let _ = self
                    .blobs
                    .put(&format!("{cache}/sizes"), sizes.join(",").into_bytes())
                    .await;
            }
        }
    }

    async fn cached_outcome(&self, cache: &str) -> Option<FormOutcome> {
        if let Ok(text) = self.blobs.get(&format!("{cache}/problems")).await {
            let text = String::from_utf8(text).ok()?;
            return Some(Err(text.lines().map(str::to_owned).collect()));
        }
        let sizes = self.blobs.get(&format!("{cache}/sizes")).await.ok()?;
        let sizes = String::from_utf8(sizes).ok()?;
        let mut out = Vec::new();
        for (i, wh) in sizes.split(',').enumerate() {
            let (w, h) = wh.split_once('x')?;
            let png = self.blobs.get(&format!("{cache}/{i}.png")).await.ok()?;
            out.push((png, w.parse().ok()?, h.parse().ok()?));
        }
        Some(Ok(out))
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
        let Some(outcome) = self.cached_outcome(&cache_key(&form.sm3, &spec)).await else {
            let app = self.clone();
            tokio::spawn(async move {
                if let Err(e) = app.form_pictures(&order).await {
                    tracing::warn!(order = order.id, error = %e, "could not read the 印模采集表");
                }
            });
            return Ok(Cutouts::Pending);
        };
        Ok(match outcome {
            Err(problems) => Cutouts::Problems(problems),
            Ok(pics) => Cutouts::Found(
                order
                    .seal_units()
                    .into_iter()
                    .zip(pics)
                    .map(|((kind, name), (_, w, h))| Cutout {
                        kind,
                        name,
                        width_mm: w as f32,
                        height_mm: h as f32,
                    })
                    .collect(),
            ),
        })
    }

    /// The PNG of seal `index`'s cut-out (see [`App::cutouts`]).
    pub async fn cutout_png(&self, who: &Who, id: i64, index: usize) -> Result<Vec<u8>, AppError> {
        let order = self.visible_order(who, id).await?;
        match self.form_pictures(&order).await? {
            Some(Ok(mut pics)) if index < pics.len() => Ok(pics.swap_remove(index).0),
            _ => Err(AppError::NotFound),
        }
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
