//! `Idempotency-Key` on the platform API, in one place: reading the header (optional for
//! ledger entries, required for bookings), answering a stored first response again, and
//! refusing a key reused with a different request.
use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse};

use crate::domain::ids::IdempotencyKey;
use crate::store::idempotency::StoredResponse;
use crate::web::{ApiError, FieldError};

/// The idempotency key from the `Idempotency-Key` header, when sent.
pub(super) struct HeaderKey(pub(super) Option<String>);

impl FromRequest for HeaderKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(HeaderKey(
            req.headers()
                .get("Idempotency-Key")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
        )))
    }
}

/// The required `Idempotency-Key` header, parsed; a missing or bad one is a field error.
pub(super) fn required_key(
    req: &HttpRequest,
    errors: &mut Vec<FieldError>,
) -> Option<IdempotencyKey> {
    let raw = req
        .headers()
        .get("Idempotency-Key")
        .map(|h| h.to_str().unwrap_or("\u{7f}"));
    let message = match raw.map(IdempotencyKey::parse) {
        Some(Ok(k)) => return Some(k),
        Some(Err(e)) => e.to_string(),
        None => "header is required".into(),
    };
    errors.push(FieldError {
        field: "Idempotency-Key".into(),
        message,
    });
    None
}

/// A stored response, answered again.
pub(super) fn respond(r: &StoredResponse) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(r.status).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(r.body.clone())
}

pub(super) fn replay(first: StoredResponse, request_hash: &str) -> Result<HttpResponse, ApiError> {
    if first.request_hash != request_hash {
        return Err(ApiError::field(
            "idempotency_key",
            "was already used with a different request",
        ));
    }
    Ok(respond(&first).map_into_boxed_body()).map(|mut r| {
        r.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("idempotent-replay"),
            actix_web::http::header::HeaderValue::from_static("true"),
        );
        r
    })
}
