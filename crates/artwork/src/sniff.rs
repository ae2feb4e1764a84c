//! The one place that tells what a file is from its bytes: JPEG, PNG or PDF, and an image's pixel size read
//! from its header (by the `image` crate's decoders, without decoding a pixel). Uploads are judged with it
//! before they are kept; pages are decoded with it before anything is allocated.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (the 8-byte signature).
    Png,
    /// PDF (`%PDF-` within the first kilobyte: some scanners prepend a little junk, and readers accept it).
    Pdf,
}

impl FileKind {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Pdf => "application/pdf",
        }
    }

    pub(crate) fn image_format(self) -> Option<ImageFormat> {
        match self {
            FileKind::Jpeg => Some(ImageFormat::Jpeg),
            FileKind::Png => Some(ImageFormat::Png),
            FileKind::Pdf => None,
        }
    }
}

/// The kind of a file by its first bytes, or `None` for anything else.
pub fn file_kind(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileKind::Png)
    } else if bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        Some(FileKind::Pdf)
    } else {
        None
    }
}

/// The width and height an image's header declares, or why they cannot be read.
pub fn image_size(bytes: &[u8], kind: FileKind) -> Result<(u32, u32), crate::Error> {
    let format = kind.image_format().ok_or(crate::Error::UnsupportedFormat)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // Only the header is read; the caller judges the size, so a huge one must come back as a size.
    reader.no_limits();
    reader
        .into_dimensions()
        .map_err(|e| crate::Error::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(w, h)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn kinds_and_sizes_come_from_the_bytes() {
        let p = png(30, 20);
        assert_eq!(file_kind(&p), Some(FileKind::Png));
        assert_eq!(image_size(&p, FileKind::Png).unwrap(), (30, 20));
        let mut j = Vec::new();
        image::RgbImage::new(7, 9)
            .write_to(&mut Cursor::new(&mut j), ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(file_kind(&j), Some(FileKind::Jpeg));
        assert_eq!(image_size(&j, FileKind::Jpeg).unwrap(), (7, 9));
        assert_eq!(file_kind(b"junk\n%PDF-1.7\n"), Some(FileKind::Pdf));
        assert!(matches!(
            image_size(b"%PDF-1.7", FileKind::Pdf),
            Err(crate::Error::UnsupportedFormat)
        ));
        assert_eq!(file_kind(b"MZ\x90\0"), None);
        assert_eq!(file_kind(b""), None);
        assert!(matches!(
            image_size(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2], FileKind::Jpeg),
            Err(crate::Error::Corrupt(_))
        ));
        assert!(
            image_size(&p[..20], FileKind::Png).is_err(),
            "truncated header"
        );
    }
}
