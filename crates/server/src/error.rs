//! The one error shape of the API: `{"error": {"code", "message", "field"}}`. Internal
//! failures are logged with their cause and answered with a generic message.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use issuing::IssuingError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    pub fn field(
        status: StatusCode,
        code: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self { status, code, message: message.into(), field: Some(field.to_owned()) }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what} not found"))
    }
}

impl From<IssuingError> for ApiError {
    fn from(e: IssuingError) -> Self {
        match e {
            // Well-formed JSON whose values break a rule: 422, naming the field.
            IssuingError::Invalid(f) => {
                Self::field(StatusCode::UNPROCESSABLE_ENTITY, f.code, &f.field, f.message)
            }
            IssuingError::NotFound(what) => Self::not_found(what),
            IssuingError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", why),
            IssuingError::Unauthenticated(why) => {
                Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why)
            }
            IssuingError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            IssuingError::IdempotencyMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                IssuingError::IdempotencyMismatch.to_string(),
            ),
            IssuingError::Unavailable(what) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "DEPENDENCY_UNAVAILABLE",
                format!("{what} is unavailable; retry shortly"),
            ),
            IssuingError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // A dependency is down or slow: the request did not take effect; say when to retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a 503 tells the caller to wait before retrying, in seconds.
const RETRY_AFTER_SECS: &str = "1";

impl ApiError {
    /// A dependency did not answer in time: retry shortly (503, `Retry-After`).
    pub fn deadline_passed() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DEPENDENCY_UNAVAILABLE",
            "the request did not finish within its deadline; retry shortly",
        )
    }
}
