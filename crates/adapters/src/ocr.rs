//! OCR through the Tesseract command line (Debian's `tesseract-ocr` with `tesseract-ocr-chi-sim`): the image
//! goes in on standard input, the text comes back on standard output. At most [`OCR_AT_ONCE`] run at a time
//! (each is a CPU-bound process) and each is killed after its timeout, so a scan that Tesseract chews on cannot
//! hold the review queue.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// Tesseract processes at once, server-wide.
pub const OCR_AT_ONCE: usize = 2;
/// How long one image may take.
pub const OCR_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a scan could not be read; each says so in Chinese, for the pre-check's "无法核验".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OcrError {
    /// The program is not installed.
    #[error("服务器未安装文字识别程序（tesseract）")]
    Missing,
    /// It ran out of time.
    #[error("文字识别超时（{0} 秒）")]
    Timeout(u64),
    /// It ran and failed.
    #[error("文字识别失败：{0}")]
    Failed(String),
}

/// The Tesseract command line, bounded.
#[derive(Debug, Clone)]
pub struct Ocr {
    program: String,
    languages: String,
    timeout: Duration,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Default for Ocr {
    fn default() -> Self {
        Ocr::new("tesseract", OCR_TIMEOUT)
    }
}

impl Ocr {
    /// `program` (a name looked up on `PATH`, or a path) reading simplified Chinese and English.
    pub fn new(program: &str, timeout: Duration) -> Ocr {
        Ocr {
            program: program.into(),
            languages: "chi_sim+eng".into(),
            timeout,
            slots: Arc::new(tokio::sync::Semaphore::new(OCR_AT_ONCE)),
        }
    }

    /// The text Tesseract reads in `image` (PNG or JPEG bytes), one line of the page per line.
    pub async fn read(&self, image: &[u8]) -> Result<String, OcrError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| OcrError::Failed(e.to_string()))?;
        let mut child = tokio::process::Command::new(&self.program)
            // `--psm 6`: one uniform block of text, which a licence's or an ID card's fields are closest to.
            .args(["stdin", "stdout", "-l", &self.languages, "--psm", "6"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => OcrError::Missing,
                _ => OcrError::Failed(e.to_string()),
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| OcrError::Failed("no stdin".into()))?;
        let bytes = image.to_vec();
        let run = async move {
            // Written while the output is read, so that a large image cannot deadlock on full pipes.
            let feed = async move {
                let r = stdin.write_all(&bytes).await;
                drop(stdin);
                r
            };
            let (fed, out) = tokio::join!(feed, child.wait_with_output());
            (fed, out)
        };
        let (fed, out) = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| OcrError::Timeout(self.timeout.as_secs()))?;
        let out = out.map_err(|e| OcrError::Failed(e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(OcrError::Failed(format!("{} {last}", out.status)));
        }
        fed.map_err(|e| OcrError::Failed(e.to_string()))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_program_is_said_so() {
        let ocr = Ocr::new("/nonexistent/tesseract", OCR_TIMEOUT);
        assert_eq!(ocr.read(b"x").await, Err(OcrError::Missing));
        assert_eq!(
            OcrError::Missing.to_string(),
            "服务器未安装文字识别程序（tesseract）"
        );
    }

    #[tokio::test]
    async fn a_program_past_its_time_is_killed() {
        // A stand-in that takes the image and never answers.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("slow");
        std::fs::write(&script, "#!/bin/sh\ncat >/dev/null\nsleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ocr = Ocr::new(script.to_str().unwrap(), Duration::from_millis(300));
        let t = std::time::Instant::now();
        assert_eq!(ocr.read(b"x").await, Err(OcrError::Timeout(0)));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn garbage_is_a_failure_not_text() {
        match Ocr::default().read(b"not an image").await {
            Err(OcrError::Failed(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
