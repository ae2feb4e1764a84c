//! The one error type of the use cases: each variant is something a caller can act on.

use sealdesk_domain::{FieldError, TransitionError};
use sealdesk_store::StoreError;

/// Why a use case did not happen. Messages are Chinese: they reach applicants and operators as they are.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in, or the session expired.
    #[error("请先登录")]
    Unauthenticated,
    /// Wrong credentials or code.
    #[error("{0}")]
    BadCredentials(String),
    /// No such thing — or not the caller's to see, which looks the same on purpose.
    #[error("未找到该记录")]
    NotFound,
    /// Signed in, but this is not the caller's to do.
    #[error("{0}")]
    Forbidden(String),
    /// Fields are wrong; each says why.
    #[error("填写的信息有误")]
    Invalid(Vec<FieldError>),
    /// The order is not in a state that allows this, or changed meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// Too many tries; wait.
    #[error("{0}")]
    RateLimited(String),
    /// A bad file or request body.
    #[error("{0}")]
    BadInput(String),
    /// A bug or an outage; details are in the log, not in the message.
    #[error("系统繁忙，请稍后再试")]
    Internal(String),
}

impl AppError {
    /// A single-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(m) => AppError::Conflict(format!("操作冲突：{m}")),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<TransitionError> for AppError {
    fn from(e: TransitionError) -> Self {
        AppError::Conflict(e.to_string())
    }
}
