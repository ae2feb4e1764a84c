//! One error type per surface: [`ApiError`] answers JSON, [`PageError`] a Chinese error page. Both wrap the
//! use cases' [`AppError`], so a status code is chosen in one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sealdesk_app::AppError;

pub(crate) fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthenticated | AppError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Invalid(_) | AppError::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn code(e: &AppError) -> &'static str {
    match e {
        AppError::Unauthenticated => "unauthenticated",
        AppError::BadCredentials(_) => "bad_credentials",
        AppError::NotFound => "not_found",
        AppError::Forbidden(_) => "forbidden",
        AppError::Invalid(_) => "invalid",
        AppError::BadInput(_) => "bad_input",
        AppError::Conflict(_) => "conflict",
        AppError::RateLimited(_) => "rate_limited",
        AppError::Internal(_) => "internal",
    }
}

/// An error answered as `{"code", "message", "fields"?}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self.0 {
            tracing::error!(%detail, "internal error");
        }
        let mut body = serde_json::json!({"code": code(&self.0), "message": self.0.to_string()});
        if let AppError::Invalid(fields) = &self.0 {
            body["fields"] = serde_json::to_value(fields).unwrap_or_default();
        }
        (status(&self.0), Json(body)).into_response()
    }
}

/// An error answered as a page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self.0 {
            AppError::Unauthenticated => return Redirect::to("/login").into_response(),
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        let mut msg = crate::html::esc(&self.0.to_string());
        if let AppError::Invalid(fields) = &self.0 {
            msg.push_str("<ul>");
            for f in fields {
                msg.push_str(&format!("<li>{}</li>", crate::html::esc(&f.message)));
            }
            msg.push_str("</ul>");
        }
        let body = format!(
            "<div class=\"flash err\">{msg}</div><p><a class=\"button secondary\" href=\"/orders\">我的订单</a> <a class=\"button\" href=\"/\">首页</a></p>"
        );
        (status(&self.0), crate::html::page("出错了", None, &body)).into_response()
    }
}
