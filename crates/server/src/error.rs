//! The one error type of the HTTP layer and its JSON shape.
//!
//! Every error the API can return is a variant of [`ApiError`]; [`ErrorCode`] is the single table
//! of machine-readable codes and their statuses. The body is
//! `{"detail": {"status": "<code>", "message": "<human text>"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Every error code the API returns, with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    Validation,
    InvalidAudio,
    TargetNotAllowed,
    AudioUrlFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::Validation,
        ErrorCode::InvalidAudio,
        ErrorCode::TargetNotAllowed,
        ErrorCode::AudioUrlFailed,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Validation => "validation_error",
            ErrorCode::InvalidAudio => "invalid_audio",
            ErrorCode::TargetNotAllowed => "target_not_allowed",
            ErrorCode::AudioUrlFailed => "audio_url_failed",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidAudio
            | ErrorCode::TargetNotAllowed
            | ErrorCode::AudioUrlFailed => StatusCode::BAD_REQUEST,
            ErrorCode::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A form field of a compatible API has a value that API does not accept (422).
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// The upload is not usable audio; `reason` is the audio crate's code (`empty_audio`, …).
    #[error("{message}")]
    InvalidAudio {
        reason: &'static str,
        message: String,
    },
    /// An outbound URL (a webhook target) the SSRF guard refuses.
    #[error(transparent)]
    TargetNotAllowed(#[from] crate::targets::TargetError),
    /// The audio URL of a job could not be fetched (unreachable, non-2xx, timed out, redirect
    /// loop); the detail's `reason` says which.
    #[error(transparent)]
    AudioUrl(crate::audio_url::FetchError),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    Unavailable(String),
    /// Answered with a generic message; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Validation { .. } => ErrorCode::Validation,
            ApiError::InvalidAudio { .. } => ErrorCode::InvalidAudio,
            ApiError::TargetNotAllowed(_) => ErrorCode::TargetNotAllowed,
            ApiError::AudioUrl(_) => ErrorCode::AudioUrlFailed,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }
}

/// A failed download is the client's URL at fault, except a local write failure; an oversize
/// body is the same 413 as an oversize upload, a refused target the same error as for webhooks.
impl From<crate::audio_url::FetchError> for ApiError {
    fn from(error: crate::audio_url::FetchError) -> Self {
        use crate::audio_url::FetchError;
        match error {
            FetchError::Io(error) => ApiError::internal(error),
            FetchError::Refused(target) => ApiError::TargetNotAllowed(target),
            error @ FetchError::TooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
            other => ApiError::AudioUrl(other),
        }
    }
}

impl From<dalston_store::StoreError> for ApiError {
    fn from(error: dalston_store::StoreError) -> Self {
        ApiError::internal(error)
    }
}

impl From<dalston_orchestrator::OrchestratorError> for ApiError {
    fn from(error: dalston_orchestrator::OrchestratorError) -> Self {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = match &self {
            ApiError::Internal(error) => {
                tracing::error!(error = ?error, "request failed");
                "internal error; see the server log".to_owned()
            }
            other => other.to_string(),
        };
        let mut detail = serde_json::json!({ "status": code.name(), "message": message });
        match &self {
            ApiError::InvalidAudio { reason, .. } => {
                detail["reason"] = serde_json::Value::from(*reason);
            }
            ApiError::AudioUrl(error) => {
                detail["reason"] = serde_json::Value::from(error.reason());
            }
            _ => {}
        }
        let mut response =
            (code.status(), Json(serde_json::json!({ "detail": detail }))).into_response();
        if let ApiError::Unauthorized(_) = self {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_errors_are_4xx_or_5xx() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert!(
            ErrorCode::ALL
                .iter()
                .all(|code| code.status().is_client_error() || code.status().is_server_error())
        );
    }
}
