//! The one HTTP client shape every gateway uses: rustls (ring) with the system's roots, short timeouts, and a cap
//! on what a gateway may send back.

use std::time::Duration;

/// The most we read from a gateway's answer. Real answers are a few KB.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// A client with `timeout` for the whole exchange.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest is built without a bundled crypto provider so that only ring is compiled; install it once per
    // process. A second call (or another provider installed first) is fine: the error only says one exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("sealdesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// A gateway's answer: status, headers (lower-case names) and the body, read up to [`MAX_RESPONSE`].
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Raw body bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `req` and reads the answer. Transport failures (timeouts, refused connections, oversize answers) are
/// `Err` with a message; any HTTP status is an `Ok`.
pub async fn send(req: reqwest::RequestBuilder) -> Result<Answer, String> {
    let mut resp = req.send().await.map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err("answer larger than 256 KiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// 32 random hex characters, upper case: nonces for WeChat Pay and Aliyun.
pub fn nonce() -> String {
    let mut b = [0u8; 16];
    // getrandom fails only where the OS has no random source; a predictable nonce would be worse than stopping.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut b).expect("operating system random source");
    hex::encode_upper(b)
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
