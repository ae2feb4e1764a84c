//! Uploads: ID scans, the licence and the stamped 印模采集表. The bytes decide what a file is, never its name;
//! anything else is refused before a byte is kept.

use sealdesk_domain::{AuditRecord, UploadKind};
use sealdesk_store::{AuditDraft, UploadMeta, now_text};

use crate::{App, AppError, Who};

/// The seed's limit: files must be smaller than 5 MB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// PDF.
    Pdf,
}

impl Sniffed {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Png => "image/png",
            Sniffed::Pdf => "application/pdf",
        }
    }
}

/// Largest picture accepted, in pixels (a 300-dpi A3 scan is ~17 MP).
const MAX_PIXELS: u64 = 50_000_000;

fn be16(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])))
}

fn be32(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ])))
}

/// Image dimensions from the header, without decoding.
fn jpeg_dims(b: &[u8]) -> Option<(u64, u64)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = be16(b, i + 2)? as usize;
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            return Some((be16(b, i + 7)?, be16(b, i + 5)?));
        }
        i += 2 + len;
    }
    None
}

/// Identifies a file by its bytes and checks it is whole enough to use. Errors are in Chinese, for the form.
pub fn sniff(bytes: &[u8]) -> Result<Sniffed, String> {
    if bytes.is_empty() {
        return Err("文件是空的".into());
    }
    if bytes.len() >= MAX_UPLOAD_BYTES {
        return Err(format!(
            "文件大小需小于 5M（此文件 {:.1} MB）",
            bytes.len() as f64 / 1_048_576.0
        ));
    }
    let (kind, dims) = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (Sniffed::Jpeg, jpeg_dims(bytes))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let ok = bytes.get(12..16) == Some(b"IHDR");
        (
            Sniffed::Png,
            if ok {
                be32(bytes, 16).zip(be32(bytes, 20))
            } else {
                None
            },
        )
    } else if bytes.starts_with(b"%PDF-") {
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err("PDF 文件不完整，请重新导出后上传".into());
        }
        return Ok(Sniffed::Pdf);
    } else {
        return Err(
            "只支持 JPG、PNG 格式的图片（印模采集表另可为 PDF），此文件不是这几种格式".into(),
        );
    };
    match dims {
        None => Err("图片文件已损坏，无法读取尺寸，请重新扫描后上传".into()),
        Some((w, h)) if w == 0 || h == 0 => Err("图片尺寸为 0".into()),
        Some((w, h)) if w * h > MAX_PIXELS => {
            Err(format!("图片像素过大（{w}×{h}），请以 300dpi 以下扫描"))
        }
        Some(_) => Ok(kind),
    }
}

/// What happened to an upload.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    /// The stored upload.
    pub meta: UploadMeta,
    /// For a 印模采集表: how many seal impressions the pre-check found (`Some(0)` means none: the form will
    /// not make seals as it is), or why it could not look.
    pub impressions: Option<Result<usize, String>>,
}

impl App {
    /// Stores an upload for an order the applicant may still edit.
    pub async fn add_upload(
        &self,
        who: &Who,
        order_id: i64,
        kind: UploadKind,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadOutcome, AppError> {
        let order = self.own_order(who, order_id).await?;
        // After 授权 the one thing that may still be replaced is the stamped form, when 制章 could not cut the
        // seals out of it: the order is paid for, so it must not be stuck on a bad scan.
        let replacing_form = kind == UploadKind::ImpressionForm
            && order.state == sealdesk_domain::OrderState::Authorized;
        if !order.state.editable() && !replacing_form {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能再修改资料",
                order.state.label()
            )));
        }
        let sniffed =
            sniff(&bytes).map_err(|m| AppError::field(&format!("uploads.{}", kind.code()), m))?;
        if sniffed == Sniffed::Pdf && !kind.accepts_pdf() {
            return Err(AppError::field(
                &format!("uploads.{}", kind.code()),
                format!("{}只支持 JPG、PNG 图片", kind.label()),
            ));
        }
        let impressions = if kind == UploadKind::ImpressionForm {
            Some(self.precheck_impressions(bytes.clone()).await)
        } else {
            None
        };
        let id = self.store.next_id();
        let blob_key = format!("uploads/{order_id}/{id}");
        let name: String = file_name
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        let meta = UploadMeta {
            id,
            order_id,
            kind,
            file_name: if name.trim().is_empty() {
                kind.label().into()
            } else {
                name
            },
            content_type: sniffed.mime().into(),
            size: bytes.len() as i64,
            sm3: sealdesk_adapters::sm3_hex(&bytes),
            blob_key: blob_key.clone(),
            created_at: now_text(),
        };
        self.blobs
            .put(&blob_key, bytes)
            .await
            .map_err(|e| AppError::Internal(format!("blob put: {e}")))?;
        let written = async {
            let mut tx = self.store.begin().await?;
            tx.insert_upload(&meta).await?;
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(order_id),
                action: "upload".into(),
                detail: serde_json::json!({"kind": kind.code(), "size": meta.size, "sm3": meta.sm3, "type": meta.content_type}).to_string(),
                ..Default::default()
            })
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            // The row is not there, so the blob must not be either.
            let _ = self.blobs.delete(&blob_key).await;
            return Err(e.into());
        }
        Ok(UploadOutcome { meta, impressions })
    }

    async fn precheck_impressions(&self, bytes: Vec<u8>) -> Result<usize, String> {
        let job = tokio::task::spawn_blocking(move || {
            sealdesk_artwork::extract(&bytes, &sealdesk_artwork::ExtractOptions::default())
        });
        match tokio::time::timeout(std::time::Duration::from_secs(20), job).await {
            Ok(Ok(Ok(found))) => Ok(found.len()),
            Ok(Ok(Err(
                sealdesk_artwork::Error::NoImpression | sealdesk_artwork::Error::EmptyPage,
            ))) => Ok(0),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(e)) => Err(format!("internal: {e}")),
            Err(_) => Err("识别超时".into()),
        }
    }

    /// An upload's bytes, for its owner or an operator who serves its project.
    pub async fn upload_bytes(
        &self,
        who: &Who,
        upload_id: i64,
    ) -> Result<(UploadMeta, Vec<u8>), AppError> {
        let meta = self.store.upload(upload_id).await?;
        self.visible_order(who, meta.order_id).await?;
        let bytes = self
            .blobs
            .get(&meta.blob_key)
            .await
            .map_err(|e| AppError::Internal(format!("blob get: {e}")))?;
        Ok((meta, bytes))
    }

    /// The audit trail of an order, for whoever may see the order.
    pub async fn order_audit(
        &self,
        who: &Who,
        order_id: i64,
    ) -> Result<Vec<AuditRecord>, AppError> {
        self.visible_order(who, order_id).await?;
        Ok(self.store.audit_entries(Some(order_id)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_judged_by_their_bytes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&100u32.to_be_bytes());
        png.extend_from_slice(&80u32.to_be_bytes());
        assert_eq!(sniff(&png), Ok(Sniffed::Png));
        let mut huge = png.clone();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&1_000u32.to_be_bytes());
        assert!(sniff(&huge).unwrap_err().contains("像素过大"));
        assert_eq!(sniff(b"%PDF-1.4\n...\n%%EOF\n"), Ok(Sniffed::Pdf));
        assert!(sniff(b"%PDF-1.4\n...").is_err(), "truncated PDF");
        assert!(sniff(b"MZ\x90\0 this is an exe renamed to .jpg").is_err());
        assert!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2]).is_err(),
            "JPEG without a frame header"
        );
        let mut jpeg = vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 50, 0, 70, 3,
        ];
        jpeg.extend_from_slice(&[0; 8]);
        assert_eq!(sniff(&jpeg), Ok(Sniffed::Jpeg));
        assert!(
            sniff(&vec![0xFF; MAX_UPLOAD_BYTES])
                .unwrap_err()
                .contains("小于 5M")
        );
        assert!(sniff(b"").is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        /// Any bytes, including ones that start like a JPEG, PNG or PDF, get an answer and never a panic.
        #[test]
        fn sniff_never_panics(prefix in prop_oneof![Just(vec![0xFFu8, 0xD8, 0xFF]), Just(b"\x89PNG\r\n\x1a\n".to_vec()), Just(b"%PDF-".to_vec()), Just(vec![])],
                              rest in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut b = prefix;
            b.extend(rest);
            let _ = super::super::sniff(&b);
        }
    }
}
