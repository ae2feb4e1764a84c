//! The order's 印模采集表: the PDF drawn from the order, and what a stamped copy of it says, box by box.
//!
//! The boxes are recomputed from the order alone ([`form_spec`]), so seal *i* always takes the impression stamped
//! in box *i*; a form of another order, an empty box, a box with two stamps or a stamp outside every box is named.

use sealdesk_artwork::{BoxReading, BoxShape, BoxSpec, FormReading, FormSpec, SealInk};
use sealdesk_domain::{Order, SealKind, UploadKind};

use crate::{App, AppError, Who};

/// A seal's picture: PNG, width and height in mm.
pub(crate) type Picture = (Vec<u8>, i64, i64);

/// The impression's shape, true size (mm) and required ink of a kind. The project registers no sizes, so these
/// are the usual ones: 42 mm round for company seals, 20 mm square for 法人章, the 50 × 36 mm frame of 执业印章
/// (blue ink), 50 × 25 mm for a 手写签字.
pub fn kind_box(kind: SealKind) -> (BoxShape, f32, f32, Option<SealInk>) {
    match kind {
        SealKind::OfficialSeal
        | SealKind::QualificationSeal
        | SealKind::DynamicInputSeal
        | SealKind::EnterpriseOther => (BoxShape::Round, 42.0, 42.0, None),
        SealKind::LegalRepresentative | SealKind::PersonalOther => {
            (BoxShape::Square, 20.0, 20.0, None)
        }
        SealKind::RegisteredConstructor
        | SealKind::RegisteredSupervisor
        | SealKind::CostEngineer
        | SealKind::CostClerk => (BoxShape::Rect, 50.0, 36.0, Some(SealInk::Blue)),
        SealKind::HandwrittenSignature => (BoxShape::Rect, 50.0, 25.0, None),
    }
}

/// The form of an order: one box per seal unit, in [`Order::seal_units`] order.
pub fn form_spec(order: &Order) -> FormSpec {
    FormSpec {
        order_no: order.order_no.clone(),
        holder: order.holder.display_name().to_owned(),
        boxes: order
            .seal_units()
            .into_iter()
            .map(|(kind, name)| {
                let (shape, width_mm, height_mm, ink) = kind_box(kind);
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

impl App {
    /// 印模采集表 as a PDF drawn from the order (its number, QR code and one true-size box per seal), for the
    /// applicant who owns it or an operator who may see it: (file name, bytes).
    pub async fn impression_form_pdf(
        &self,
        who: &Who,
        id: i64,
    ) -> Result<(String, Vec<u8>), AppError> {
        let order = self.visible_order(who, id).await?;
        let spec = form_spec(&order);
        let pdf = tokio::task::spawn_blocking(move || sealdesk_artwork::render_form_pdf(&spec))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Conflict(format!("无法生成印模采集表：{e}")))?;
        Ok((format!("impression-form-{}.pdf", order.order_no), pdf))
    }

    /// The problems of the order's current 印模采集表, each naming its box (empty when none, or when no form is
    /// uploaded yet: the missing upload is reported on its own).
    pub async fn impression_problems(&self, order: &Order) -> Result<Vec<String>, AppError> {
        let uploads = self.store.uploads(order.id).await?;
        let Some(form) = uploads
            .iter()
            .find(|u| u.kind == UploadKind::ImpressionForm)
        else {
            return Ok(Vec::new());
        };
        let bytes = self
            .blobs
            .get(&form.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))?;
        let spec = form_spec(order);
        let permit = self
            .image_work
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match read(&bytes, &spec) {
                Ok(r) => problems(&spec, &r),
                Err(e) => vec![format!("无法读取印模采集表：{e}")],
            }
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }
}
