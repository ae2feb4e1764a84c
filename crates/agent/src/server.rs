//! The agent's HTTP API under `/v1` (described in `openapi.json`, served at `/v1/openapi.json`).
//!
//! Who may talk to it, checked on every request before any route runs:
//! * the `Host` header must name the loopback address and port the agent listens on, so that a web page
//!   cannot reach it through a DNS name rebound to 127.0.0.1;
//! * a request carrying an `Origin` must come from a configured platform origin — anything else gets 403
//!   and no CORS headers, so the browser shows the page nothing; preflights (`OPTIONS`) are answered only for
//!   those origins, including Chrome's Private Network Access (`Access-Control-Allow-Private-Network`);
//! * every route but `/v1/status`, `/v1/openapi.json` and `/v1/pair` needs the `X-Agent-Session` token that
//!   `POST /v1/pair` gave to that same origin: each page load pairs for itself, and a token is worth nothing
//!   to another origin. Tokens expire after 30 idle minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::{Agent, AgentError};

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

const SESSION_HEADER: &str = "x-agent-session";
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
const MAX_SESSIONS: usize = 64;
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// What the server is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Platform origins allowed to use the agent, e.g. `https://seal.example.cn` (scheme, host, port; no path).
    pub origins: Vec<String>,
    /// The port the agent listens on (for the Host check).
    pub port: u16,
}

struct Paired {
    origin: String,
    last: Instant,
}

struct Shared {
    agent: Arc<Agent>,
    config: Config,
    hosts: Vec<String>,
    // SM3 of the token → pairing; only hashes are kept.
    sessions: Mutex<HashMap<String, Paired>>,
}

/// Normalises a configured origin: `scheme://host[:port]`, lower case, no trailing slash; refuses paths.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("{s}: 来源应以 https:// 或 http:// 开头"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("{s}: 来源只能是 协议://主机[:端口]，不带路径"));
    }
    Ok(t)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status = match &self {
            AgentError::NoSuchKey(_) | AgentError::NoCert(_) => StatusCode::NOT_FOUND,
            AgentError::WrongPin { .. } => StatusCode::UNAUTHORIZED,
            AgentError::Locked => StatusCode::LOCKED,
            AgentError::BadPin | AgentError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AgentError::Removed => StatusCode::SERVICE_UNAVAILABLE,
            AgentError::Busy => StatusCode::CONFLICT,
            AgentError::SealRejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AgentError::NoMakerCert => StatusCode::PRECONDITION_FAILED,
            AgentError::Token(_) => StatusCode::BAD_GATEWAY,
        };
        let mut body = json!({"code": self.code(), "message": self.to_string()});
        match &self {
            AgentError::WrongPin { left } => body["tries_left"] = json!(left),
            AgentError::Locked => body["tries_left"] = json!(0),
            _ => {}
        }
        (status, Json(body)).into_response()
    }
}

/// The router, with the origin, host and pairing checks around every route.
pub fn router(agent: Arc<Agent>, config: Config) -> axum::Router {
    let hosts = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .map(|h| format!("{h}:{}", config.port))
        .collect();
    let shared = Arc::new(Shared {
        agent,
        config,
        hosts,
        sessions: Mutex::new(HashMap::new()),
    });
    axum::Router::new()
        .route("/v1/status", get(status))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/pair", post(pair))
        .route("/v1/keys", get(keys))
        .route("/v1/keys/{serial}/pin", post(verify_pin))
        .route("/v1/keys/{serial}/sign", post(sign))
        .route("/v1/keys/{serial}/seals", get(seals).post(write))
        .route("/v1/keys/{serial}/seals/readback", post(readback))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    agent: Arc<Agent>,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(agent, config))
        .with_graceful_shutdown(shutdown)
        .await
}

fn header_str<'a>(h: &'a HeaderMap, name: impl header::AsHeaderName) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn token_hash(token: &str) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(token.as_bytes()))
}

fn cors(resp: &mut Response, origin: &str) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
}

async fn guard(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = header_str(headers, header::HOST).unwrap_or("");
    if !s.hosts.iter().any(|h| h == host) {
        return error(
            StatusCode::FORBIDDEN,
            "host",
            "证书助手只接受发往本机地址的请求",
        );
    }
    let origin = header_str(headers, header::ORIGIN).map(str::to_ascii_lowercase);
    let allowed = origin
        .as_ref()
        .filter(|o| s.config.origins.iter().any(|a| a == *o))
        .cloned();
    if origin.is_some() && allowed.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            "origin",
            "此网页不是证书助手所服务的平台，请求被拒绝",
        );
    }
    if req.method() == Method::OPTIONS {
        let Some(origin) = allowed else {
            return error(StatusCode::FORBIDDEN, "origin", "缺少来源");
        };
        let mut resp = StatusCode::NO_CONTENT.into_response();
        cors(&mut resp, &origin);
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, x-agent-session"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        if header_str(req.headers(), "access-control-request-private-network") == Some("true") {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
        return resp;
    }
    let path = req.uri().path();
    let open = matches!(path, "/v1/status" | "/v1/openapi.json");
    if path == "/v1/pair" && allowed.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            "origin",
            "只有平台网页可以与证书助手配对",
        );
    }
    if !open && path != "/v1/pair" {
        let token = header_str(req.headers(), SESSION_HEADER).unwrap_or("");
        let ok = allowed.as_ref().is_some_and(|o| {
            let mut sessions = s.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions.retain(|_, p| p.last.elapsed() < SESSION_IDLE);
            match sessions.get_mut(&token_hash(token)) {
                Some(p) if &p.origin == o => {
                    p.last = Instant::now();
                    true
                }
                _ => false,
            }
        });
        if !ok {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "not_paired",
                "页面尚未与证书助手配对，请刷新页面",
            );
            if let Some(o) = &allowed {
                cors(&mut resp, o);
            }
            return resp;
        }
    }
    let mut resp = next.run(req).await;
    if let Some(o) = &allowed {
        cors(&mut resp, o);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Runs a blocking token call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, AgentError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AgentError::Token(e.to_string()))?
}

async fn status(State(s): State<Arc<Shared>>) -> Response {
    let agent = s.agent.clone();
    let keys = blocking(move || agent.keys()).await;
    let (count, problem) = match &keys {
        Ok(k) => (k.len(), None),
        Err(e) => (0, Some(e.to_string())),
    };
    Json(json!({
        "agent": "sealdesk-agent",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": s.agent.describe(),
        "can_write": s.agent.can_write(),
        "keys": count,
        "problem": problem,
    }))
    .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn pair(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(origin) = header_str(&headers, header::ORIGIN).map(str::to_ascii_lowercase) else {
        return error(StatusCode::FORBIDDEN, "origin", "缺少来源");
    };
    let token = hex::encode(sealdesk_adapters::random_bytes::<32>());
    let mut sessions = s.sessions.lock().unwrap_or_else(|p| p.into_inner());
    sessions.retain(|_, p| p.last.elapsed() < SESSION_IDLE);
    if sessions.len() >= MAX_SESSIONS
        && let Some(oldest) = sessions
            .iter()
            .min_by_key(|(_, p)| p.last)
            .map(|(k, _)| k.clone())
    {
        sessions.remove(&oldest);
    }
    sessions.insert(
        token_hash(&token),
        Paired {
            origin,
            last: Instant::now(),
        },
    );
    Json(json!({"session": token, "idle_timeout_secs": SESSION_IDLE.as_secs()})).into_response()
}

async fn keys(State(s): State<Arc<Shared>>) -> Result<Response, AgentError> {
    let agent = s.agent.clone();
    let keys = blocking(move || agent.keys()).await?;
    Ok(Json(json!({"keys": keys})).into_response())
}

#[derive(Deserialize)]
struct PinBody {
    pin: Zeroizing<String>,
}

async fn verify_pin(
    State(s): State<Arc<Shared>>,
    Path(serial): Path<String>,
    Json(b): Json<PinBody>,
) -> Result<Response, AgentError> {
    let agent = s.agent.clone();
    let st = blocking(move || agent.verify_pin(&serial, &b.pin)).await?;
    Ok(Json(json!({"ok": true, "tries_left": st.tries_left})).into_response())
}

#[derive(Deserialize)]
struct SignBody {
    pin: Zeroizing<String>,
    challenge: String,
}

async fn sign(
    State(s): State<Arc<Shared>>,
    Path(serial): Path<String>,
    Json(b): Json<SignBody>,
) -> Result<Response, AgentError> {
    let agent = s.agent.clone();
    let r = blocking(move || agent.sign_challenge(&serial, &b.pin, &b.challenge)).await?;
    Ok(Json(r).into_response())
}

async fn seals(
    State(s): State<Arc<Shared>>,
    Path(serial): Path<String>,
) -> Result<Response, AgentError> {
    let agent = s.agent.clone();
    let list = blocking(move || agent.seals(&serial)).await?;
    Ok(Json(json!({"seals": list})).into_response())
}

#[derive(Deserialize)]
struct WriteBody {
    pin: Zeroizing<String>,
    /// Seals to write, DER in base64.
    #[serde(default)]
    seals: Vec<String>,
    /// esIDs to remove.
    #[serde(default)]
    delete: Vec<String>,
}

async fn write(
    State(s): State<Arc<Shared>>,
    Path(serial): Path<String>,
    Json(b): Json<WriteBody>,
) -> Result<Response, AgentError> {
    let ders = b
        .seals
        .iter()
        .enumerate()
        .map(|(i, t)| {
            base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .map_err(|_| AgentError::BadRequest(format!("第 {} 个印章不是 base64", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let agent = s.agent.clone();
    let out = blocking(move || agent.write(&serial, &b.pin, &ders, &b.delete)).await?;
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct ReadbackBody {
    pin: Zeroizing<String>,
    es_ids: Option<Vec<String>>,
}

async fn readback(
    State(s): State<Arc<Shared>>,
    Path(serial): Path<String>,
    Json(b): Json<ReadbackBody>,
) -> Result<Response, AgentError> {
    let agent = s.agent.clone();
    let r = blocking(move || agent.read_back(&serial, &b.pin, b.es_ids.as_deref())).await?;
    Ok(Json(json!({"receipts": r})).into_response())
}
