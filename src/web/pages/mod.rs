//! Server-rendered pages: sign-in, the partner settings wizard, the continue-setup landing
//! and the ops approval console. Forms post back and redirect (POST/redirect/GET) with a
//! one-time flash message; every form carries the session's CSRF token.
pub mod kept;
pub mod mappings;
pub mod ops;
pub mod partner;
pub mod setup;
pub mod signin;
pub mod sync_log;
pub mod sync_view;
pub mod words;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{self, SessionUser};
use crate::store::users::Role;

/// Mounts every page route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/static/app.css", web::get().to(stylesheet))
        .route("/static/app.js", web::get().to(script))
        .configure(signin::configure)
        .configure(partner::configure)
        .configure(mappings::configure)
        .configure(setup::configure)
        .configure(sync_log::configure)
        .configure(ops::configure);
}

/// A one-time message shown at the top of the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: String,
    /// The message.
    pub text: String,
}

const FLASH_KEY: &str = "flash";

/// What a page says when ServiceTitan does not answer (outage, timeout, 5xx).
pub const UNREACHABLE: &str = "ServiceTitan is unreachable right now, so nothing was saved there. Nothing you typed is lost: it is back in the form. Try again in a minute.";

/// Stores a message for the next page.
pub fn flash(session: &Session, ok: bool, text: impl Into<String>) {
    // The flash rides in the session cookie (4 KB at most), and a refusal can quote what was
    // typed: keep it short so the cookie always fits.
    let text = crate::web::input::truncate(&text.into(), FLASH_MAX_CHARS);
    let _ = session.insert(
        FLASH_KEY,
        Flash {
            kind: if ok { "ok" } else { "error" }.into(),
            text,
        },
    );
}

/// Longest flash message kept in the session cookie.
const FLASH_MAX_CHARS: usize = 600;

/// What every page's layout shows.
pub struct Layout {
    /// The signed-in user.
    pub user: Option<SessionUser>,
    /// Whether that user is ops.
    pub is_ops: bool,
    /// The CSRF token for forms.
    pub csrf: String,
    /// A message from the previous action.
    pub flash: Option<Flash>,
    /// Rendered without the session (error pages): who is signed in is unknown, so the
    /// header offers "Home" rather than "Sign in".
    pub plain: bool,
}

impl Layout {
    /// The layout for this session (takes the flash message).
    pub fn new(session: &Session) -> Layout {
        let user = auth::current_user(session);
        Layout {
            is_ops: user.as_ref().is_some_and(|u| u.role == Role::Ops),
            user,
            csrf: auth::csrf_token(session),
            flash: session.remove_as::<Flash>(FLASH_KEY).and_then(Result::ok),
            plain: false,
        }
    }
}

/// Renders a template as an HTML response.
pub fn render(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().body("page could not be rendered")
        }
    }
}

/// A 303 redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    retry: bool,
}

/// A plain error page (no session needed).
pub fn error_page(status: StatusCode, heading: &str, message: &str) -> HttpResponse {
    error_page_with(status, heading, message, false)
}

/// An error page, with a "Try again" link (reloads the page) when `retry`.
pub fn error_page_with(
    status: StatusCode,
    heading: &str,
    message: &str,
    retry: bool,
) -> HttpResponse {
    let layout = Layout {
        user: None,
        is_ops: false,
        csrf: String::new(),
        flash: None,
        plain: true,
    };
    render(
        status,
        &ErrorPage {
            layout,
            heading,
            message,
            retry,
        },
    )
}

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in: go to the sign-in page, then come back.
    #[error("sign in required")]
    SignIn {
        /// Where to return after signing in.
        next: String,
    },
    /// Signed in with the wrong role.
    #[error("{0}")]
    Forbidden(String),
    /// Anything else, shown with its status and message.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::services::ServiceError> for PageError {
    fn from(e: crate::services::ServiceError) -> Self {
        PageError::Api(e.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn { next } => see_other(&format!(
                "/signin?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            )),
            PageError::Forbidden(msg) => error_page(StatusCode::FORBIDDEN, "Not allowed", msg),
            PageError::Api(ApiError::Internal(detail)) => {
                tracing::error!(error = %detail, "internal error");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The problem was logged. Try again in a moment.",
                )
            }
            PageError::Api(e @ ApiError::DatabaseUnavailable { detail, .. }) => {
                tracing::warn!(error = %detail, "database unavailable; answered 503");
                let mut resp = error_page_with(
                    e.status_code(),
                    "Temporarily unavailable",
                    "The database is unreachable right now. Nothing you saved before is lost; \
                     try again in a few seconds.",
                    true,
                );
                if let Some(secs) = e.retry_after_secs() {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
                }
                resp
            }
            PageError::Api(ApiError::Upstream(detail)) => {
                tracing::warn!(error = %detail, "ServiceTitan unreachable while showing a page");
                let mut resp = error_page_with(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceTitan is unreachable",
                    "We could not read your ServiceTitan lists just now. Nothing you saved is lost; try again in a minute.",
                    true,
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(30));
                resp
            }
            PageError::Api(e) => error_page(e.status_code(), "Cannot do that", &e.to_string()),
        }
    }
}

/// The signed-in user with `role`, or a redirect to sign in / a 403 page.
pub fn require(session: &Session, role: Role, here: &str) -> Result<SessionUser, PageError> {
    let user = auth::current_user(session).ok_or_else(|| PageError::SignIn {
        next: here.to_owned(),
    })?;
    if user.role != role {
        return Err(PageError::Forbidden(match role {
            Role::Ops => "This page is for titanbridge operations staff only.".into(),
            Role::PartnerAdmin => "This page is for partner admins only.".into(),
        }));
    }
    Ok(user)
}

/// Where a user starts.
pub fn home_for(user: &SessionUser) -> &'static str {
    match user.role {
        Role::Ops => "/ops",
        Role::PartnerAdmin => "/settings/integrations/servicetitan",
    }
}

async fn root(session: Session) -> HttpResponse {
    match auth::current_user(&session) {
        Some(u) => see_other(home_for(&u)),
        None => see_other("/signin"),
    }
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../static/app.js"))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../static/app.css"))
}
