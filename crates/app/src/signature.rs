//! 在线手写签字: a person's 手写签字 drawn on the portal's signature pad (pointer events: mouse, finger, stylus)
//! instead of written in its box of the 印模采集表. The pad's strokes are checked and smoothed into a transparent
//! picture at the seal kind's registered size by `sealdesk-artwork`; every 手写签字 seal of the order carries it,
//! and the 印模采集表 then has boxes for the other seals only (none at all when there are none).

use sealdesk_domain::{Order, PadSignature, SealKind};

use crate::{App, AppError, Who};

/// The signature pad's script (no dependencies; the pages load it as a static file).
pub const SIGNATURE_PAD_JS: &str = sealdesk_artwork::SIGNATURE_PAD_JS;

impl App {
    /// Keeps the signature drawn on the pad (`pad_json`, the pad's JSON contract) as the picture of the order's
    /// 手写签字 seals: only the order's applicant, only for an order with such a seal, and until 制章 (like the
    /// 印模采集表). A new drawing replaces the last; each is audited with its SM3.
    pub async fn draw_signature(
        &self,
        who: &Who,
        id: i64,
        pad_json: &[u8],
    ) -> Result<Order, AppError> {
        let mut order = self.own_order(who, id).await?;
        if !order.signs_on_pad() {
            return Err(AppError::Conflict("本订单没有手写签字印章".into()));
        }
        if !crate::impression::form_replaceable(order.state) {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能再修改手写签字",
                order.state.label()
            )));
        }
        // The pad's field is empty until something is drawn.
        if pad_json.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::field("signature", "签名为空，请先签字"));
        }
        let pad = sealdesk_artwork::SignaturePad::from_json(pad_json)
            .map_err(|e| AppError::field("signature", pad_message(&e)))?;
        let (w, h) = order.authorization.size_mm(SealKind::HandwrittenSignature);
        let opts = sealdesk_artwork::SignatureOptions {
            size_mm: (f32::from(w), f32::from(h)),
            // The artwork crate's blue-black pen ink.
            ..Default::default()
        };
        let permit = self.image_permit().await?;
        let art = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            sealdesk_artwork::render_signature(&pad, &opts)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::field("signature", pad_message(&e)))?;
        let sm3 = sealdesk_adapters::sm3_hex(&art.png);
        let blob_key = format!("signatures/{}/{}.png", order.id, &sm3[..32]);
        self.blobs
            .put(&blob_key, art.png)
            .await
            .map_err(|e| AppError::Internal(format!("blob put: {e}")))?;
        let old = order.pad_signature.replace(PadSignature {
            blob_key,
            sm3: sm3.clone(),
            width_mm: i64::from(w),
            height_mm: i64::from(h),
        });
        // The form's boxes no longer include the 手写签字: a 印模确认 given for the old boxes says nothing now.
        order.confirmed_cutouts = None;
        let detail = serde_json::json!({"sm3": sm3, "size_mm": [w, h]});
        self.save_edit(who, &mut order, "signature_drawn", detail)
            .await?;
        // The drawing replaced is no one's any more (the audit log names it by SM3).
        let kept = order.pad_signature.as_ref().map(|p| p.blob_key.clone());
        if let Some(old) = old.filter(|o| Some(&o.blob_key) != kept.as_ref()) {
            let _ = self.blobs.delete(&old.blob_key).await;
        }
        Ok(order)
    }

    /// The picture of the signature drawn on the pad, for the order's applicant or an operator who serves it.
    pub async fn pad_signature_png(&self, who: &Who, id: i64) -> Result<Vec<u8>, AppError> {
        let order = self.visible_order(who, id).await?;
        let sig = order.pad_signature.ok_or(AppError::NotFound)?;
        self.blobs
            .get(&sig.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))
    }

    /// The drawn signature as a seal picture (PNG, width and height in mm), if the order has one.
    pub(crate) async fn pad_picture(
        &self,
        order: &Order,
    ) -> Result<Option<crate::impression::Picture>, AppError> {
        let Some(sig) = &order.pad_signature else {
            return Ok(None);
        };
        let png = self
            .blobs
            .get(&sig.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))?;
        Ok(Some((png, sig.width_mm, sig.height_mm)))
    }
}

/// The artwork crate's message for a refused drawing, in Chinese only (its messages carry an English gloss in
/// brackets, for logs): 「签名为空，请先签字」, 「签名数据无效」.
fn pad_message(e: &sealdesk_artwork::Error) -> String {
    let text = match e {
        sealdesk_artwork::Error::InvalidRequest(m) => m.clone(),
        other => other.to_string(),
    };
    text.split(" (").next().unwrap_or(&text).trim().to_owned()
}
