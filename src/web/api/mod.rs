//! The JSON API under `/api/v1`, described by `/api/v1/openapi.json`. It is used with the
//! session cookie (sign in with `POST /api/v1/session`); unsafe methods need `X-CSRF-Token`.
pub mod booking;
pub mod idempotency;
pub mod mappings;
pub mod onboarding;
pub mod openapi;
pub mod ops_sync;
pub mod platform;
pub mod sync;

use crate::web::input::JsonBody;
use actix_session::Session;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiError;
use super::auth::{self, SessionUser};
use crate::state::AppState;

/// Mounts `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(super::csrf::require_header))
            .route("/openapi.json", web::get().to(openapi::serve))
            .service(
                web::resource("/session")
                    .route(web::get().to(get_session))
                    .route(web::post().to(create_session))
                    .route(web::delete().to(delete_session)),
            )
            .configure(onboarding::configure)
            .configure(mappings::configure),
    );
}

/// The signed-in user and the token to send as `X-CSRF-Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// Who is signed in.
    pub user: SessionUser,
    /// Send as `X-CSRF-Token` on POST/PUT/PATCH/DELETE.
    pub csrf_token: String,
}

/// Sign-in request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInRequest {
    /// Email address.
    pub email: String,
    /// Password.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, description = "Not signed in")))]
pub async fn get_session(session: Session) -> Result<HttpResponse, ApiError> {
    let user = auth::current_user(&session).ok_or(ApiError::Unauthorized)?;
    let csrf_token = auth::csrf_token(&session);
    Ok(HttpResponse::Ok().json(SessionInfo { user, csrf_token }))
}

/// Signs in with email and password (rate limited by email and by IP).
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignInRequest,
    responses((status = 200, body = SessionInfo), (status = 400, description = "Wrong email or password"),
              (status = 429, description = "Too many attempts; see Retry-After")))]
pub async fn create_session(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    limiter: web::Data<crate::web::auth::SignInLimiter>,
    body: JsonBody<SignInRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    let user = auth::authenticate(&state, &limiter, &body.email, &body.password, ip).await?;
    let csrf_token = auth::sign_in(&session, &user)?;
    Ok(HttpResponse::Ok().json(SessionInfo { user, csrf_token }))
}

/// Signs out.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Signed out")))]
pub async fn delete_session(session: Session) -> HttpResponse {
    auth::sign_out(&session);
    HttpResponse::NoContent().finish()
}
