//! The one error type of the crate. Messages are meant for an operator or applicant, so they say
//! what is wrong with the input in plain words (Chinese first, English after).

/// Why an extraction or a rendering failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a JPEG, PNG or PDF.
    #[error("无法识别的文件格式，请上传 JPG、PNG 或 PDF (not a JPEG, PNG or PDF file)")]
    UnsupportedFormat,
    /// An animated PNG: a scan or photo is one still picture.
    #[error("这是动画图片，请上传盖章页的扫描件或照片 (an animated PNG is not a scan or photo)")]
    Animated,
    /// The file claims to be an image or PDF but cannot be read.
    #[error("文件已损坏或无法解码 (corrupt or undecodable file): {0}")]
    Corrupt(String),
    /// The image is larger than the pixel budget; refused before decoding.
    #[error(
        "图片过大：{width}×{height} 像素，超过 {limit_mp} 百万像素上限 (image too large: {width}x{height} px exceeds {limit_mp} MP)"
    )]
    TooLarge {
        /// Width from the file header, px.
        width: u32,
        /// Height from the file header, px.
        height: u32,
        /// The limit, megapixels.
        limit_mp: u32,
    },
    /// The input file is larger than the byte budget.
    #[error("文件过大：{size} 字节，超过 {limit} 字节上限 (file too large)")]
    FileTooLarge {
        /// Size of the input, bytes.
        size: usize,
        /// The limit, bytes.
        limit: usize,
    },
    /// A PDF without an embedded page image we can use.
    #[error("PDF 中没有可用的扫描图像 (the PDF holds no usable scanned image): {0}")]
    NoPdfImage(String),
    /// The page is blank or too small to hold a seal.
    #[error("图片为空白页或尺寸过小 (the page is empty or too small)")]
    EmptyPage,
    /// No seal ink was found on the page.
    #[error("未在图片中找到红色（或蓝色、紫色）印章 (no seal impression found)")]
    NoImpression,
    /// A render request that cannot be drawn (empty name, bad code, size out of range …).
    #[error("印章参数无效 (invalid seal request): {0}")]
    InvalidRequest(String),
    /// A character the embedded font does not have.
    #[error("字库中没有字符“{0}” (the embedded font has no glyph for {0:?})")]
    MissingGlyph(char),
    /// Encoding the output PNG failed (out of memory or similar).
    #[error("PNG 编码失败 (PNG encoding failed): {0}")]
    Encode(String),
}
