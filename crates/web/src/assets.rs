//! Styles and scripts as static files under names that carry a hash of their bytes (`/static/app.3f…c1.css`),
//! so that they can be cached for a year and a new build is fetched at once. They are files, not inline
//! `style=`/`<script>`, so that the Content-Security-Policy stays `style-src 'self'; script-src 'self'`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One static file, compiled into the binary.
pub(crate) struct Asset {
    content_type: &'static str,
    bytes: &'static [u8],
    url: &'static LazyLock<String>,
}

impl Asset {
    /// Where pages link it: `/static/<stem>.<hash>.<ext>`.
    pub(crate) fn url(&self) -> &'static str {
        let url: &'static LazyLock<String> = self.url;
        url.as_str()
    }
}

/// FNV-1a, 64 bits: enough to tell two builds' files apart, and computable at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

const CSS_BYTES: &[u8] = include_bytes!("../static/app.css");
const JS_BYTES: &[u8] = include_bytes!("../static/app.js");
const AGENT_JS_BYTES: &[u8] = include_bytes!("../static/agent.js");
const SIGNATURE_PAD_BYTES: &[u8] = sealdesk_app::SIGNATURE_PAD_JS.as_bytes();
const CSS_HASH: u64 = fnv1a(CSS_BYTES);
const SIGNATURE_PAD_HASH: u64 = fnv1a(SIGNATURE_PAD_BYTES);
const JS_HASH: u64 = fnv1a(JS_BYTES);
const AGENT_JS_HASH: u64 = fnv1a(AGENT_JS_BYTES);

/// The stylesheet (screen and print).
pub(crate) static CSS: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    bytes: CSS_BYTES,
    url: &CSS_URL,
};
static CSS_URL: LazyLock<String> = LazyLock::new(|| format!("/static/app.{CSS_HASH:016x}.css"));

/// The script (upload previews); every page works without it.
pub(crate) static JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    bytes: JS_BYTES,
    url: &JS_URL,
};
static JS_URL: LazyLock<String> = LazyLock::new(|| format!("/static/app.{JS_HASH:016x}.js"));

/// The UKey script (证书助手: key panel, PIN, 授权, 写入, 证书登录, 环境检测), only on the pages that use the
/// agent; each of them keeps a documented fallback without it.
pub(crate) static AGENT_JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    bytes: AGENT_JS_BYTES,
    url: &AGENT_JS_URL,
};
static AGENT_JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/agent.{AGENT_JS_HASH:016x}.js"));

/// The 手写签字 pad (pointer events on a canvas), only on the 在线手写签字 page.
pub(crate) static SIGNATURE_PAD_JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    bytes: SIGNATURE_PAD_BYTES,
    url: &SIGNATURE_PAD_URL,
};
static SIGNATURE_PAD_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/signature-pad.{SIGNATURE_PAD_HASH:016x}.js"));

/// `GET /static/{file}`: a file by its hashed name, cached for a year; any other name is 404.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    for a in [&CSS, &JS, &AGENT_JS, &SIGNATURE_PAD_JS] {
        if a.url().strip_prefix("/static/") == Some(file.as_str()) {
            return (
                [
                    (header::CONTENT_TYPE, a.content_type),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                a.bytes,
            )
                .into_response();
        }
    }
    (StatusCode::NOT_FOUND, "未找到该文件").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_of_the_bytes() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(CSS.url().starts_with("/static/app.") && CSS.url().ends_with(".css"));
        assert!(CSS.url().contains(&format!("{:016x}", fnv1a(CSS.bytes))));
        assert!(JS.url().ends_with(".js"));
        assert_ne!(CSS.url(), JS.url());
    }
}
