//! Pages anyone may see: the home page with the four services, the guide, and the demo SMS outbox.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sealdesk_domain::{HolderKind, SealKind, Service};
use sealdesk_store::OutboxSms;

use crate::AppState;
use crate::view::{Layout, Nav, PageResult, render};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/help", get(help))
        .route("/ukey-check", get(ukey_check))
        .route("/seals/status", get(seal_status))
        .route("/downloads/sealdesk-agent", get(agent_download))
}

/// The agent's program, as the platform's operator provides it (`serve --agent-download FILE`), read from disk a
/// piece at a time so that many downloads at once hold little memory; 404 when none is provided.
async fn agent_download(State(s): State<AppState>) -> Result<Response, crate::error::PageError> {
    use tokio::io::AsyncReadExt;
    let path = s
        .agent_download
        .clone()
        .ok_or(sealdesk_app::AppError::NotFound)?;
    let file = tokio::fs::File::open(&*path).await.map_err(|e| {
        tracing::error!(error = %e, path = %path.display(), "agent download");
        sealdesk_app::AppError::NotFound
    })?;
    let size = file.metadata().await.map(|m| m.len()).ok();
    let name = if path.extension().is_some_and(|e| e == "exe") {
        "sealdesk-agent.exe"
    } else {
        "sealdesk-agent"
    };
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut r = (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response();
    if let Some(n) = size {
        r.headers_mut()
            .insert(axum::http::header::CONTENT_LENGTH, n.into());
    }
    Ok(r)
}

/// The SMS outbox page, mounted only with `--demo`.
pub(crate) fn demo_routes() -> Router<AppState> {
    Router::new().route("/demo/outbox", get(outbox))
}

#[derive(Template)]
#[template(path = "public/home.html")]
struct Home {
    l: Layout,
    /// (code, label, hint) of each service.
    services: Vec<(&'static str, &'static str, &'static str)>,
    enterprise_kinds: String,
    person_kinds: String,
    agent_url: std::sync::Arc<str>,
    agent_download: bool,
}

fn kinds(h: HolderKind) -> String {
    SealKind::for_holder(h)
        .map(SealKind::label)
        .collect::<Vec<_>>()
        .join("、")
}

async fn home(State(s): State<AppState>) -> Response {
    let services = Service::ALL
        .iter()
        .map(|s| {
            let hint = match s {
                Service::New => "首次办理电子印章",
                Service::Renewal => "印章到期后延长有效期",
                Service::Reissue => "Ukey 丢失后重新办理",
                Service::Change => "更换印章印模",
            };
            (s.code(), s.label(), hint)
        })
        .collect();
    render(&Home {
        l: Layout::new("在线印章办理", Nav::Visitor),
        services,
        enterprise_kinds: kinds(HolderKind::Enterprise),
        person_kinds: kinds(HolderKind::Person),
        agent_url: s.agent_url.clone(),
        agent_download: s.agent_download.is_some(),
    })
}

#[derive(Template)]
#[template(path = "public/ukey_check.html")]
struct UkeyCheck {
    l: Layout,
    agent_url: std::sync::Arc<str>,
    agent_download: bool,
}

/// 证书环境检测: the page's script asks the agent whether it runs, sees a key and reads its certificate.
async fn ukey_check(State(s): State<AppState>) -> Response {
    render(&UkeyCheck {
        l: Layout::new("证书环境检测", Nav::Visitor),
        agent_url: s.agent_url.clone(),
        agent_download: s.agent_download.is_some(),
    })
}

#[derive(Template)]
#[template(path = "public/seal_status.html")]
struct SealStatusPage {
    l: Layout,
    es_id: String,
    found: Option<sealdesk_app::SealStatusView>,
}

#[derive(serde::Deserialize, Default)]
struct StatusQuery {
    #[serde(default)]
    es_id: String,
}

/// 印章状态查询, for relying parties (no sign-in): a seal by its esID.
async fn seal_status(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<StatusQuery>,
) -> PageResult {
    let es_id = q.es_id.trim().to_owned();
    let found = if es_id.is_empty() {
        None
    } else {
        match s.app.seal_status(&es_id).await {
            Ok(v) => Some(v),
            Err(sealdesk_app::AppError::NotFound) => None,
            Err(e) => return Err(e.into()),
        }
    };
    Ok(render(&SealStatusPage {
        l: Layout::new("印章状态查询", Nav::Visitor),
        es_id,
        found,
    }))
}

#[derive(Template)]
#[template(path = "public/help.html")]
struct Help {
    l: Layout,
}

async fn help() -> Response {
    render(&Help {
        l: Layout::new("办理指南", Nav::Visitor),
    })
}

#[derive(Template)]
#[template(path = "public/outbox.html")]
struct Outbox {
    l: Layout,
    msgs: Vec<OutboxSms>,
}

async fn outbox(State(s): State<AppState>) -> PageResult {
    let msgs = s.app.demo_outbox(None).await?;
    Ok(render(&Outbox {
        l: Layout::new("短信发件箱（演示）", Nav::Visitor),
        msgs,
    }))
}
