//! The upload gate: a request with a multipart body (an upload, the only body the server takes above 64 KiB)
//! waits for one of the application's upload places before a byte of its body is read, and is answered 429
//! when none frees up in time. So a flood of uploads holds at most `UPLOADS_AT_ONCE` bodies in memory, the
//! others staying in the clients' and the kernel's buffers.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, PageError};

pub(crate) async fn uploads(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..10)
                .is_some_and(|t| t.eq_ignore_ascii_case("multipart/"))
        });
    if !multipart {
        return next.run(req).await;
    }
    match s.app.upload_ticket().await {
        Ok(ticket) => {
            let answer = next.run(req).await;
            drop(ticket);
            answer
        }
        Err(e) if req.uri().path().starts_with("/api/") => ApiError(e).into_response(),
        Err(e) => PageError(e).into_response(),
    }
}
