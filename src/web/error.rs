//! The one mapping from errors to HTTP responses for the JSON API.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;
use crate::web::input::truncate;

pub use crate::services::FieldError;
use crate::services::ServiceError;

/// Every error a JSON endpoint can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String },
    #[error("invalid input: {}", summarize(.0))]
    Validation(Vec<FieldError>),
    /// The body was sent with a content type other than JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("sign in required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        allowed: Vec<String>,
    },
    #[error("too many requests; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("ServiceTitan: {0}")]
    Upstream(String),
    /// The database did not answer; the detail is logged, the client is told to retry.
    #[error("the database is unreachable; try again in {retry_after_secs} s")]
    DatabaseUnavailable {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("internal error (request logged)")]
    Internal(String),
}

/// Longest field name or message echoed back (and logged): a field's message may quote the
/// caller's value, which can be a megabyte long.
const FIELD_TEXT_MAX: usize = 500;

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                truncate(&e.field, FIELD_TEXT_MAX),
                truncate(&e.message, FIELD_TEXT_MAX)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// Seconds for the `Retry-After` header, when the client should simply try again.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::DatabaseUnavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Validation(_) => "validation",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Upstream(_) => "upstream",
            ApiError::DatabaseUnavailable { .. } => "database_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<&'a [String]>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::DatabaseUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            ApiError::DatabaseUnavailable { detail, .. } => {
                tracing::warn!(error = %detail, "database unavailable; answered 503");
            }
            _ => {}
        }
        let shortened: Vec<FieldError>;
        let body = Body {
            error: Inner {
                code: self.code(),
                message: truncate(&self.to_string(), 2000),
                fields: match self {
                    ApiError::Validation(f) => {
                        shortened = f
                            .iter()
                            .map(|e| FieldError {
                                field: truncate(&e.field, FIELD_TEXT_MAX),
                                message: truncate(&e.message, FIELD_TEXT_MAX),
                            })
                            .collect();
                        Some(&shortened)
                    }
                    _ => None,
                },
                allowed: match self {
                    ApiError::Conflict { allowed, .. } => Some(allowed),
                    _ => None,
                },
            },
        };
        let mut resp = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after_secs() {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        resp.json(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what.to_owned()),
            StoreError::Conflict(msg) => ApiError::Conflict {
                message: msg,
                allowed: vec![],
            },
            StoreError::Unavailable(detail) => ApiError::DatabaseUnavailable {
                detail,
                retry_after_secs: DATABASE_RETRY_AFTER_SECS,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(fields) => ApiError::Validation(fields),
            ServiceError::Conflict { message, allowed } => ApiError::Conflict { message, allowed },
            ServiceError::Upstream(m) => ApiError::Upstream(m),
            ServiceError::Store(s) => s.into(),
            ServiceError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// `Retry-After` while the database is unreachable: a restarted PostgreSQL is usually back
/// within a second or two, and the pool reconnects on the next call.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// A path segment of the wrong shape (`/integrations/abc`): a JSON 404 naming the path.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|_err, req| {
        ApiError::NotFound(format!(
            "'{}'",
            truncate(req.path(), crate::web::input::QUOTE_MAX)
        ))
        .into()
    })
}

/// Size limit for raw payloads (the JSON extractor is [`crate::web::input::JsonBody`]).
pub fn payload_config() -> actix_web::web::PayloadConfig {
    actix_web::web::PayloadConfig::new(crate::web::input::MAX_JSON_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_answers_503_with_retry_after() {
        let e = ApiError::from(StoreError::Unavailable("connection refused".into()));
        let resp = e.error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers().get("Retry-After").unwrap(),
            &DATABASE_RETRY_AFTER_SECS.to_string()
        );
        assert!(e.to_string().contains("database is unreachable"), "{e}");
        assert!(
            !e.to_string().contains("refused"),
            "detail stays in the log: {e}"
        );
    }
}
