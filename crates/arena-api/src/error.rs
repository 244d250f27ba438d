//! The one error type of the HTTP layer and its JSON shape.
//!
//! Every error leaves as `{"error": {"code": "...", "message": "..."}}`.
//! Client mistakes get a 4xx with a sentence for a person; server faults get
//! a 500 whose body says nothing about the cause — the cause is logged once
//! here, with the request's span, and never sent to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use arena_storage::{BattleConflict, StorageError};

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (bad JSON syntax, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Unknown id or route.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A state conflict, with its own code (e.g. `already_voted`).
    #[error("{message}")]
    Conflict {
        /// snake_case code.
        code: &'static str,
        /// Sentence for a person.
        message: String,
    },
    /// The body exceeds the size limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// Well-formed but invalid input.
    #[error("{0}")]
    Validation(String),
    /// Too many requests; retry after this many seconds.
    #[error("too many requests: try again in {0} seconds")]
    TooManyRequests(u64),
    /// The database is unreachable or overloaded.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] StorageError),
    /// The request took too long to answer.
    #[error("the request took too long; please try again")]
    Timeout,
    /// A server fault; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Validation(_) => "validation_failed",
            ApiError::TooManyRequests(_) => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A validation error for one field.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Validation(message.into())
    }

    /// Wraps any server-side failure.
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound(what) => ApiError::NotFound(what),
            StorageError::DuplicateName(name) => ApiError::Conflict {
                code: "duplicate_name",
                message: format!("a model named {name:?} already exists"),
            },
            StorageError::Battle(conflict) => battle_conflict(conflict),
            error @ StorageError::Unavailable(_) => ApiError::Unavailable(error),
            other => ApiError::internal(other),
        }
    }
}

/// The contract's 409 codes for battles.
pub fn battle_conflict(conflict: BattleConflict) -> ApiError {
    let (code, message) = match conflict {
        BattleConflict::AlreadyVoted => ("already_voted", "this battle already has a vote"),
        BattleConflict::NotReady => ("not_ready", "the answers are still being generated"),
        BattleConflict::Failed => (
            "battle_failed",
            "an answer failed, so this battle cannot be voted",
        ),
        BattleConflict::Expired => ("battle_expired", "this battle expired; start a new one"),
    };
    ApiError::Conflict {
        code,
        message: message.to_owned(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(source) => {
                tracing::error!(error = %source, source = ?source.source(), "request failed")
            }
            ApiError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
