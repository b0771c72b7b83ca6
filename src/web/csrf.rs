//! Cross-site request forgery protection: a synchronizer token kept in the (encrypted) session,
//! sent back as the `csrf_token` field of every form and as the `X-CSRF-Token` header of every
//! unsafe JSON request made with the session cookie. A mismatch is a 403 with a clear message.
use actix_session::{Session, SessionExt};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::auth::current_user;
use super::input::parse_form;

/// Name of the header JSON clients send.
pub const HEADER: &str = "X-CSRF-Token";

/// The token was missing or wrong.
#[derive(Debug, thiserror::Error)]
#[error(
    "This form was not sent from a page of this site, or the page is out of date. Reload the page and try again."
)]
pub struct CsrfRejected;

impl ResponseError for CsrfRejected {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
    fn error_response(&self) -> HttpResponse {
        super::pages::error_page(StatusCode::FORBIDDEN, "Request refused", &self.to_string())
    }
}

/// Constant-time comparison of the provided token with the session's.
pub fn matches(session: &Session, provided: Option<&str>) -> bool {
    let Ok(Some(expected)) = session.get::<String>("csrf") else {
        return false;
    };
    let Some(provided) = provided else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), provided.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware for the JSON API: an unsafe request made with a signed-in session must carry
/// `X-CSRF-Token`. Requests without a signed-in session pass (the handler answers 401).
pub async fn require_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_safe(req.method()) {
        let session = req.get_session();
        if current_user(&session).is_some() {
            let provided = req
                .headers()
                .get(HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if !matches(&session, provided.as_deref()) {
                tracing::warn!(path = req.path(), "CSRF header missing or wrong");
                let err = ApiError::Forbidden(format!(
                    "missing or wrong {HEADER} header: send the csrf_token from GET /api/v1/session"
                ));
                return Ok(req.into_response(err.error_response()));
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[derive(Deserialize)]
struct WithToken<T> {
    /// Taken out here so that a flattened map of fields does not see it.
    #[serde(rename = "csrf_token")]
    _csrf_token: Option<String>,
    #[serde(flatten)]
    inner: T,
}

/// A form whose token did not match, sent from a page of this site: the input is kept and the
/// user is sent back to the form (through sign-in when the session expired) instead of losing it.
#[derive(Debug, thiserror::Error)]
#[error("form token out of date")]
pub struct StaleForm {
    /// Where to go: the sign-in page (with `next`) or the form's page.
    location: String,
}

impl ResponseError for StaleForm {
    fn status_code(&self) -> StatusCode {
        StatusCode::SEE_OTHER
    }
    fn error_response(&self) -> HttpResponse {
        super::pages::see_other(&self.location)
    }
}

/// The page (path and query) a form was sent from, when the `Referer` names this site.
fn same_site_referer(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    };
    if host != req.connection_info().host() {
        return None;
    }
    let mut back = url.path().to_owned();
    if let Some(q) = url.query() {
        back.push('?');
        back.push_str(q);
    }
    Some(back)
}

/// Keeps a refused form's input (secrets dropped) and says where to go instead of a dead end.
fn keep_stale_form(req: &HttpRequest, session: &Session, body: &[u8]) -> Option<StaleForm> {
    let back = same_site_referer(req)?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let signed_in = current_user(session).is_some();
    if back.starts_with("/signin") {
        super::pages::flash(
            session,
            false,
            "The sign-in page was open too long. Sign in again.",
        );
        return Some(StaleForm { location: back });
    }
    super::pages::kept::Kept::keep(
        session,
        &back,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &[],
    );
    let location = if signed_in {
        super::pages::flash(
            session,
            false,
            "This page was out of date, so nothing was saved. What you typed is back in the form: check it and send it again.",
        );
        back
    } else {
        super::pages::flash(
            session,
            false,
            "Your session expired, so nothing was saved. Sign in again and we bring you back to the form with what you typed.",
        );
        format!(
            "/signin?next={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        )
    };
    Some(StaleForm { location })
}

/// A form body whose `csrf_token` field matched the session. Use it for every page form.
/// A mismatch from a page of this site (an expired session, an old tab) keeps the input and
/// leads back to the form; any other mismatch is a 403.
pub struct CsrfForm<T>(pub T);

/// Largest form body accepted.
const MAX_FORM_BYTES: usize = 256 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req.content_type() == "application/x-www-form-urlencoded";
        let bytes = web::Bytes::from_request(req, payload);
        let session = req.get_session();
        let req = req.clone();
        Box::pin(async move {
            let refuse = |e: ApiError| -> actix_web::Error { FormRejected(e).into() };
            if !is_form {
                return Err(refuse(ApiError::UnsupportedMediaType(
                    "the form was not sent as application/x-www-form-urlencoded".into(),
                )));
            }
            let bytes = bytes.await?;
            if bytes.len() > MAX_FORM_BYTES {
                return Err(refuse(ApiError::PayloadTooLarge(format!(
                    "the form is larger than {} KiB",
                    MAX_FORM_BYTES / 1024
                ))));
            }
            // The token first: a forged form learns nothing about the fields.
            let token: TokenOnly = parse_form(&bytes).unwrap_or_default();
            if !matches(&session, token.csrf_token.as_deref()) {
                tracing::warn!(path = req.path(), "CSRF form token missing or wrong");
                // From a page of this site (an expired session, an old tab): keep the input.
                if let Some(stale) = keep_stale_form(&req, &session, &bytes) {
                    return Err(stale.into());
                }
                return Err(CsrfRejected.into());
            }
            let form: WithToken<T> = parse_form(&bytes).map_err(refuse)?;
            Ok(CsrfForm(form.inner))
        })
    }
}

#[derive(Default, Deserialize)]
struct TokenOnly {
    csrf_token: Option<String>,
}

/// A form field the page's handler cannot read: shown as a page naming the field.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct FormRejected(ApiError);

impl ResponseError for FormRejected {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }
    fn error_response(&self) -> HttpResponse {
        super::pages::error_page(self.status_code(), "Cannot do that", &self.0.to_string())
    }
}

/// A form with no fields but the token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}
