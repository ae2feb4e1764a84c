//! Uploads: ID scans, the licence and the stamped 印模采集表. The bytes decide what a file is, never its name;
//! anything else is refused before a byte is kept.

use sealdesk_domain::{AuditRecord, Order, UploadKind};
use sealdesk_store::{AuditDraft, UploadMeta};

use crate::{App, AppError, Who};

/// The seed's limit: files must be smaller than 5 MB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// What the current files of one order may take together: four files (ID scans, licence, impression form),
/// a 300-dpi scan being 1–3 MB. Replaced files are deleted, so this bounds an order's storage for good.
pub const ORDER_QUOTA_BYTES: i64 = 16 * 1024 * 1024;
/// Uploads one applicant may have in processing (sniffing, PDF parsing, impression pre-check) at once.
pub const PROCESSING_PER_APPLICANT: usize = 2;
/// Image and PDF jobs the whole server runs at once: each decodes up to [`MAX_PIXELS`] pixels.
pub(crate) const IMAGE_WORK_AT_ONCE: usize = 2;
/// Upload requests the server receives and processes at once, server-wide. A request's body is read only once
/// it holds one of these places (see [`App::upload_ticket`]), so however many clients send at once, at most
/// this many bodies (each under [`MAX_UPLOAD_BYTES`]) are in memory; 4× the image work, so that a few wait for
/// it with their bytes ready and the rest are told to come back instead of queueing in memory.
pub const UPLOADS_AT_ONCE: usize = 4 * IMAGE_WORK_AT_ONCE;
/// How long an upload request waits for one of the [`UPLOADS_AT_ONCE`] places before it is answered 429.
const UPLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The answer when uploads are at their bound.
const BUSY: &str = "系统正在处理较多文件，请稍后再上传";
/// How long an upload's processing may take before the applicant gets an answer.
const PROCESSING_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);
/// The most bytes a PDF's compressed streams may inflate to (a 300-dpi A4 scan is about 26 MB raw).
const PDF_INFLATE_LIMIT: u64 = 64 * 1024 * 1024;

/// What the bytes are: the artwork crate's sniffer is the one the platform uses.
pub use sealdesk_artwork::FileKind as Sniffed;

/// Largest picture accepted, in pixels: 40 MP (a 300-dpi A3 scan is ~17 MP, a 600-dpi A4 one ~35 MP). Decoding
/// takes 4 bytes a pixel, so this bounds one decode at 160 MB, and [`IMAGE_WORK_AT_ONCE`] bounds them all.
pub const MAX_PIXELS: u64 = 40_000_000;

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
    let Some(kind) = sealdesk_artwork::file_kind(bytes) else {
        return Err(
            "只支持 JPG、PNG 格式的图片（印模采集表另可为 PDF），此文件不是这几种格式".into(),
        );
    };
    if kind == Sniffed::Pdf {
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err("PDF 文件不完整，请重新导出后上传".into());
        }
        return check_pdf(bytes).map(|()| kind);
    }
    match sealdesk_artwork::image_size(bytes, kind) {
        Err(_) => Err("图片文件已损坏，无法读取尺寸，请重新扫描后上传".into()),
        Ok((w, h)) if w == 0 || h == 0 => Err("图片尺寸为 0".into()),
        Ok((w, h)) if u64::from(w) * u64::from(h) > MAX_PIXELS => {
            Err(format!("图片像素过大（{w}×{h}），请以 300dpi 以下扫描"))
        }
        Ok(_) => Ok(kind),
    }
}

/// A PDF is accepted only if it is one: its compressed streams inflate within [`PDF_INFLATE_LIMIT`] (checked
/// before a PDF library sees it, so that a small file cannot expand into gigabytes), and it parses as a PDF
/// document with at least one page — an executable or a web page behind a `%PDF-` header does not.
fn check_pdf(bytes: &[u8]) -> Result<(), String> {
    let bad = || {
        "此文件不是有效的 PDF 文档（无法读取页面），请重新导出 PDF 或改为上传 JPG、PNG 图片"
            .to_owned()
    };
    let mut inflated: u64 = 0;
    let mut rest = bytes;
    while let Some(at) = find(rest, b"stream") {
        let mut body = &rest[at + 6..];
        // `stream` is followed by CRLF or LF; `endstream` would also match `stream`, so skip it.
        if rest[..at].ends_with(b"end") {
            rest = body;
            continue;
        }
        body = body
            .strip_prefix(b"\r\n")
            .or_else(|| body.strip_prefix(b"\n"))
            .unwrap_or(body);
        let end = find(body, b"endstream").unwrap_or(body.len());
        let data = &body[..end];
        // Inflate what is zlib (FlateDecode); anything else is counted as it is.
        let mut z = flate2::read::ZlibDecoder::new(data);
        let mut sink = std::io::sink();
        let left = PDF_INFLATE_LIMIT.saturating_sub(inflated) + 1;
        let n = std::io::copy(&mut std::io::Read::take(&mut z, left), &mut sink)
            .unwrap_or(data.len() as u64);
        inflated += n.max(data.len() as u64);
        if inflated > PDF_INFLATE_LIMIT {
            return Err("PDF 解压后内容过大，请降低扫描分辨率后重新导出".into());
        }
        rest = &body[end..];
    }
    let doc = std::panic::catch_unwind(|| lopdf::Document::load_mem(bytes)).map_err(|_| bad())?;
    match doc {
        Ok(d) if !d.get_pages().is_empty() => Ok(()),
        _ => Err(bad()),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One of the [`UPLOADS_AT_ONCE`] places among the uploads being received: hold it while the body is read and
/// processed; dropping it lets the next request in.
#[derive(Debug)]
pub struct UploadTicket {
    _place: tokio::sync::OwnedSemaphorePermit,
}

/// What happened to an upload.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    /// The stored upload.
    pub meta: UploadMeta,
    /// For a 印模采集表: how many seal impressions the pre-check found (`Some(0)` means none: the form will
    /// not make seals as it is), or why it could not look.
    pub impressions: Option<Result<usize, String>>,
    /// For a 印模采集表: what keeps it from giving every seal its own impression, each problem naming its box
    /// (empty when none). The order cannot be submitted while there are any.
    pub problems: Vec<String>,
}

/// A held processing slot of one applicant.
struct ProcessingSlot {
    map: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    applicant: i64,
}

impl Drop for ProcessingSlot {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.applicant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.applicant);
            }
        }
    }
}

impl App {
    /// A place among the uploads being received, to take *before* reading a request's body. Waits up to 2 s
    /// (`UPLOAD_WAIT`), then answers `RateLimited` ("系统正在处理较多文件，请稍后再上传").
    pub async fn upload_ticket(&self) -> Result<UploadTicket, AppError> {
        tokio::time::timeout(UPLOAD_WAIT, self.receiving.clone().acquire_owned())
            .await
            .map_err(|_| AppError::RateLimited(BUSY.into()))?
            .map(|p| UploadTicket { _place: p })
            .map_err(|e| AppError::Internal(e.to_string()))
    }

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
        // Once submitted, the one thing that may still be replaced is the stamped form, until 制章: the applicant
        // sees each seal's cut-out before it is made and may stamp again (and after 授权, when 制章 could not cut
        // the seals out of it, the order is paid for and must not be stuck on a bad scan).
        let replacing_form =
            kind == UploadKind::ImpressionForm && crate::impression::form_replaceable(order.state);
        if !order.state.editable() && !replacing_form {
            return Err(AppError::Conflict(format!(
                "订单状态为「{}」，不能再修改资料",
                order.state.label()
            )));
        }
        self.store_upload(who, &order, kind, file_name, bytes).await
    }

    /// Checks, reads and keeps an upload for `order` (whoever may add it there has been checked), replacing the
    /// order's earlier file of that kind, audited in the transaction that records it.
    pub(crate) async fn store_upload(
        &self,
        who: &Who,
        order: &Order,
        kind: UploadKind,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadOutcome, AppError> {
        let order_id = order.id;
        let field = format!("uploads.{}", kind.code());
        if bytes.len() >= MAX_UPLOAD_BYTES {
            return Err(AppError::field(
                &field,
                sniff(&bytes).err().unwrap_or_default(),
            ));
        }
        let used = self
            .store
            .upload_bytes_of_order(order_id, kind.code())
            .await?;
        if used + bytes.len() as i64 > ORDER_QUOTA_BYTES {
            return Err(AppError::field(
                &field,
                format!(
                    "此订单的资料已占用 {:.1} MB，上传后将超过 {} MB 的上限，请压缩后再上传",
                    used as f64 / 1_048_576.0,
                    ORDER_QUOTA_BYTES / 1_048_576
                ),
            ));
        }
        let _slot = self.processing_slot(order.applicant_id)?;
        let spec = crate::impression::form_spec(order);
        let (sniffed, reading, bytes) = self.process_upload(kind, bytes, spec.clone()).await?;
        let sniffed = sniffed.map_err(|m| AppError::field(&field, m))?;
        // A form of another order is refused before anything is kept.
        if let Some(Ok(sealdesk_artwork::FormReading::OtherOrder { order_no })) = &reading {
            return Err(AppError::field(
                &field,
                crate::impression::other_order_message(order_no, &order.order_no),
            ));
        }
        let problems = match &reading {
            Some(Ok(r)) => crate::impression::problems(&spec, r),
            _ => Vec::new(),
        };
        let impressions = reading.as_ref().map(|r| {
            r.as_ref().map_err(Clone::clone).map(|r| match r {
                sealdesk_artwork::FormReading::Located { boxes, .. } => boxes
                    .iter()
                    .filter(|(_, b)| matches!(b, sealdesk_artwork::BoxReading::Found(_)))
                    .count(),
                sealdesk_artwork::FormReading::Unlocated { impressions } => impressions.len(),
                sealdesk_artwork::FormReading::OtherOrder { .. } => 0,
            })
        });
        if sniffed == Sniffed::Pdf && !kind.accepts_pdf() {
            return Err(AppError::field(
                &field,
                format!("{}只支持 JPG、PNG 图片", kind.label()),
            ));
        }
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
            created_at: self.now_text(),
        };
        self.blobs
            .put(&blob_key, bytes)
            .await
            .map_err(|e| AppError::Internal(format!("blob put: {e}")))?;
        let written = async {
            let mut tx = self.store.begin().await?;
            let replaced = tx.insert_upload(&meta).await?;
            tx.append_audit(AuditDraft {
                actor: who.principal.audit_name(),
                ip: who.ip.clone(),
                order_id: Some(order_id),
                action: "upload".into(),
                detail: serde_json::json!({"kind": kind.code(), "size": meta.size, "sm3": meta.sm3, "type": meta.content_type, "replaced": replaced.len()}).to_string(),
                ..Default::default()
            })
            .await?;
            tx.commit().await?;
            Ok::<_, sealdesk_store::StoreError>(replaced)
        }
        .await;
        match written {
            Err(e) => {
                // The row is not there, so the blob must not be either.
                let _ = self.blobs.delete(&blob_key).await;
                Err(e.into())
            }
            Ok(replaced) => {
                // The replaced files are no one's any more: their rows stay (the audit log names them by SM3),
                // their bytes go.
                for key in replaced {
                    if let Err(e) = self.blobs.delete(&key).await {
                        tracing::warn!(%key, error = %e, "could not delete a replaced upload");
                    }
                }
                if let Some(reading) = reading {
                    self.remember_reading(&meta.sm3, &spec, reading).await;
                }
                Ok(UploadOutcome {
                    meta,
                    impressions,
                    problems,
                })
            }
        }
    }

    /// One of the applicant's [`PROCESSING_PER_APPLICANT`] processing slots, released when dropped.
    fn processing_slot(&self, applicant: i64) -> Result<ProcessingSlot, AppError> {
        let mut map = self.processing.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(applicant).or_insert(0);
        if *n >= PROCESSING_PER_APPLICANT {
            return Err(AppError::RateLimited(
                "您有文件正在处理，请等上一个文件上传完成后再上传".into(),
            ));
        }
        *n += 1;
        Ok(ProcessingSlot {
            map: self.processing.clone(),
            applicant,
        })
    }

    /// Sniffs (and, for a PDF, parses) the file and pre-checks a 印模采集表, on the blocking pool and at most
    /// [`IMAGE_WORK_AT_ONCE`] jobs at a time server-wide. The applicant gets an answer by
    /// [`PROCESSING_DEADLINE`]; a job past it keeps its slot until it ends, so the bound holds.
    async fn process_upload(
        &self,
        kind: UploadKind,
        bytes: Vec<u8>,
        spec: sealdesk_artwork::FormSpec,
    ) -> Result<
        (
            Result<Sniffed, String>,
            Option<Result<sealdesk_artwork::FormReading, String>>,
            Vec<u8>,
        ),
        AppError,
    > {
        let busy = || AppError::RateLimited(BUSY.into());
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        let permit = tokio::time::timeout_at(deadline, self.image_work.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let job = tokio::task::spawn_blocking(move || {
            let sniffed = sniff(&bytes);
            let impressions = match (&sniffed, kind) {
                (Ok(_), UploadKind::ImpressionForm) => {
                    Some(crate::impression::read(&bytes, &spec).map_err(|e| e.to_string()))
                }
                _ => None,
            };
            drop(permit);
            (sniffed, impressions, bytes)
        });
        match tokio::time::timeout_at(deadline, job).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(AppError::Internal(format!("upload processing: {e}"))),
            Err(_) => Err(AppError::BadInput(
                "文件处理超时，请降低扫描分辨率或压缩后重新上传".into(),
            )),
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
        let encode = |w: u32, h: u32, f: image::ImageFormat| {
            let mut out = Vec::new();
            image::RgbImage::new(w, h)
                .write_to(&mut std::io::Cursor::new(&mut out), f)
                .unwrap();
            out
        };
        let png = encode(100, 80, image::ImageFormat::Png);
        assert_eq!(sniff(&png), Ok(Sniffed::Png));
        // A header that declares 100 000 × 1 000 pixels is refused before anything is decoded.
        let mut huge = png.clone();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&1_000u32.to_be_bytes());
        let crc = crc32(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(sniff(&huge).unwrap_err().contains("像素过大"));
        // (A real PDF with a page is accepted: tests/security.rs.)
        assert!(sniff(b"%PDF-1.4\n...").is_err(), "truncated PDF");
        // An executable or a web page wrapped in a PDF header and trailer is not a PDF.
        let mut exe =
            b"%PDF-1.4\nMZ\x90\0\x03\0\0\0This program cannot be run in DOS mode".to_vec();
        exe.extend_from_slice(b"\n%%EOF\n");
        assert!(sniff(&exe).unwrap_err().contains("不是有效的 PDF"));
        assert!(sniff(b"%PDF-1.7\n<html><script>alert(1)</script></html>\n%%EOF").is_err());
        // A small stream that inflates past the limit is refused before any PDF library sees it.
        let bomb = {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..(PDF_INFLATE_LIMIT >> 20) + 2 {
                z.write_all(&zeros).unwrap();
            }
            let data = z.finish().unwrap();
            let mut b = b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode >>\nstream\n".to_vec();
            b.extend_from_slice(&data);
            b.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
            b
        };
        assert!(bomb.len() < MAX_UPLOAD_BYTES);
        assert!(sniff(&bomb).unwrap_err().contains("解压后内容过大"));
        assert!(sniff(b"MZ\x90\0 this is an exe renamed to .jpg").is_err());
        assert!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2]).is_err(),
            "JPEG without a frame header"
        );
        assert_eq!(
            sniff(&encode(50, 70, image::ImageFormat::Jpeg)),
            Ok(Sniffed::Jpeg)
        );
        assert!(
            sniff(&vec![0xFF; MAX_UPLOAD_BYTES])
                .unwrap_err()
                .contains("小于 5M")
        );
        assert!(sniff(b"").is_err());
    }

    /// The PNG chunk checksum (CRC-32, ISO 3309), so that a doctored header is still a valid chunk.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
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
