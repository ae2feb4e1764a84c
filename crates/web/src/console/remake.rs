//! 重新制章 in the console: a 制章员 uploads the newly stamped 印模采集表 of a made order, sees its cut-outs on
//! the order page, ticks the seals to remake and gives the reason. Each step answers on the order page.

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::routing::post;
use sealdesk_app::AppError;
use sealdesk_domain::UploadKind;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Fields, PageResult, field_messages, oid, redirect_with};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/orders/{id}/remake/form",
            post(upload_form).layer(axum::extract::DefaultBodyLimit::max(
                crate::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/admin/orders/{id}/remake", post(remake))
}

fn back(id: i64) -> String {
    format!("/admin/orders/{id}")
}

/// The new 印模采集表: kept as the order's form (its cut-outs then show on the page), or the reason it was not.
async fn upload_form(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    mp: Multipart,
) -> PageResult {
    let id = oid(&id)?;
    let (csrf, kind, name, bytes) = crate::api::read_upload_with_csrf(mp).await?;
    c.check_csrf(&csrf)?;
    if kind != UploadKind::ImpressionForm {
        return Ok(redirect_with(
            &back(id),
            "err",
            "重新制章只需上传印模采集表",
        ));
    }
    Ok(
        match s.app.add_remake_form(&c.who, id, &name, bytes).await {
            Ok(out) if !out.problems.is_empty() => redirect_with(
                &back(id),
                "err",
                &format!("已上传，但{}", out.problems.join("；")),
            ),
            Ok(_) => redirect_with(
                &back(id),
                "ok",
                "新的印模采集表已上传：请核对下面的印章图片，勾选要重新制作的印章",
            ),
            Err(AppError::Invalid(e)) => redirect_with(&back(id), "err", &field_messages(&e)),
            Err(AppError::Conflict(m)) => redirect_with(&back(id), "err", &m),
            Err(e) => return Err(e.into()),
        },
    )
}

/// 重新制章 of the ticked seals (`seal`, by esID) with the `reason` given.
async fn remake(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let chosen: Vec<String> =
        f.0.iter()
            .filter(|(k, _)| k == "seal")
            .map(|(_, v)| v.clone())
            .collect();
    Ok(
        match s
            .app
            .remake_seals(&c.who, id, &chosen, f.get("reason"))
            .await
        {
            Ok(_) => redirect_with(
                &back(id),
                "ok",
                &format!(
                    "已重新制作 {} 枚印章，原印章已注销；已短信通知申请人将新印章写入证书锁",
                    chosen.len()
                ),
            ),
            Err(AppError::Invalid(e)) => redirect_with(&back(id), "err", &field_messages(&e)),
            Err(AppError::Conflict(m)) => redirect_with(&back(id), "err", &m),
            Err(e) => return Err(e.into()),
        },
    )
}
