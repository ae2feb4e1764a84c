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
        let body = crate::schema::ErrorBody {
            code: code(&self.0),
            message: self.0.to_string(),
            fields: match &self.0 {
                AppError::Invalid(fields) => Some(fields.clone()),
                _ => None,
            },
        };
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

/// The error page.
#[derive(askama::Template)]
#[template(path = "public/error.html")]
struct ErrorPage {
    l: crate::view::Layout,
    message: String,
    details: Vec<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self.0 {
            AppError::Unauthenticated => return Redirect::to("/login").into_response(),
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        let details = match &self.0 {
            AppError::Invalid(fields) => fields.iter().map(|f| f.message.clone()).collect(),
            _ => Vec::new(),
        };
        let page = ErrorPage {
            l: crate::view::Layout::new("出错了", crate::view::Nav::Visitor),
            message: self.0.to_string(),
            details,
        };
        crate::view::render_with(status(&self.0), &page)
    }
}
