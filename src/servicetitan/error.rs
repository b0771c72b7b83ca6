//! Errors from ServiceTitan calls.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// What went wrong talking to ServiceTitan. Messages are meant for people.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The token endpoint refused the Client ID / Client Secret (`invalid_client`).
    #[error(
        "ServiceTitan rejected the Client ID or Client Secret; check them in Settings → Integrations → API Application Access"
    )]
    InvalidCredentials,
    /// HTTP 401 even after one token refresh (bad App Key, revoked access, expired token).
    #[error("ServiceTitan refused the access token or App Key (401): {0}")]
    Unauthorized(String),
    /// HTTP 403: the client is not granted this tenant or API scope.
    #[error("ServiceTitan denied access (403): {0}")]
    Forbidden(String),
    /// HTTP 404: unknown tenant or record.
    #[error("ServiceTitan could not find it (404): {0}")]
    NotFound(String),
    /// HTTP 429 after retries ran out.
    #[error("ServiceTitan rate limit reached (429){}", retry_after_text(.retry_after))]
    RateLimited {
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Any other error status, with ServiceTitan's error body.
    #[error("ServiceTitan returned {status}: {title}{}", errors_text(.errors))]
    Api {
        /// HTTP status.
        status: u16,
        /// The error body's `title` (or the status text).
        title: String,
        /// The error body's `errors`: field name to messages.
        errors: BTreeMap<String, Vec<String>>,
    },
    /// Network failure or timeout: ServiceTitan could not be reached.
    #[error("could not reach ServiceTitan: {0}")]
    Unreachable(String),
    /// The response did not have the expected shape.
    #[error("unexpected response from ServiceTitan: {0}")]
    Decode(String),
}

fn retry_after_text(d: &Option<Duration>) -> String {
    d.map(|d| format!("; retry after {} s", d.as_secs_f64()))
        .unwrap_or_default()
}

fn errors_text(errors: &BTreeMap<String, Vec<String>>) -> String {
    errors
        .iter()
        .map(|(field, msgs)| format!("; {field}: {}", msgs.join(", ")))
        .collect()
}

impl Error {
    /// Whether the same request may succeed if sent again later (429, 408, 5xx, network).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unreachable(_) => true,
            Self::Api { status, .. } => *status == 408 || *status >= 500,
            _ => false,
        }
    }

    /// The HTTP status behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InvalidCredentials => Some(400),
            Self::Unauthorized(_) => Some(401),
            Self::Forbidden(_) => Some(403),
            Self::NotFound(_) => Some(404),
            Self::RateLimited { .. } => Some(429),
            Self::Api { status, .. } => Some(*status),
            Self::Unreachable(_) | Self::Decode(_) => None,
        }
    }

    /// Builds the error for a non-success API response from its status, body and `Retry-After`.
    pub(crate) fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let parsed: Option<ProblemBody> = serde_json::from_slice(body).ok();
        let (title, errors) = match parsed {
            Some(p) => (
                p.title
                    .or(p.message)
                    .or(p.error_description)
                    .or(p.error)
                    .unwrap_or_else(|| status_text(status)),
                p.errors.unwrap_or_default(),
            ),
            None => (status_text(status), BTreeMap::new()),
        };
        match status {
            401 => Self::Unauthorized(title),
            403 => Self::Forbidden(title),
            404 => Self::NotFound(title),
            429 => Self::RateLimited { retry_after },
            _ => Self::Api {
                status,
                title,
                errors,
            },
        }
    }
}

fn status_text(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_owned()
}

/// ServiceTitan's RFC 7807-style error body (and the OAuth error shape).
#[derive(Debug, Deserialize)]
struct ProblemBody {
    title: Option<String>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    errors: Option<BTreeMap<String, Vec<String>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_title_and_errors_surface() {
        let body = br#"{"type":"x","title":"One or more validation errors occurred.","status":400,
            "traceId":"t","errors":{"Name":["The Name field is required."]}}"#;
        let err = Error::from_response(400, body, None);
        let text = err.to_string();
        assert!(
            text.contains("One or more validation errors occurred."),
            "{text}"
        );
        assert!(text.contains("Name: The Name field is required."), "{text}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn statuses_map_to_variants_and_retryability() {
        assert!(matches!(
            Error::from_response(403, b"", None),
            Error::Forbidden(_)
        ));
        assert!(matches!(
            Error::from_response(404, b"{}", None),
            Error::NotFound(_)
        ));
        let limited = Error::from_response(429, b"", Some(Duration::from_secs(2)));
        assert!(limited.is_retryable());
        assert!(limited.to_string().contains("retry after 2 s"));
        assert!(Error::from_response(503, b"oops", None).is_retryable());
        assert!(Error::from_response(408, b"", None).is_retryable());
        assert!(!Error::from_response(409, b"", None).is_retryable());
        assert!(!Error::Unauthorized("x".into()).is_retryable());
    }
}
