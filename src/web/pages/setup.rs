//! The Continue Setup link from the approval email: a single-use token that leads to the
//! credentials step (through sign-in if needed). Used, expired or forged links get a friendly
//! page, and used or expired ones a "send a new link" button.
use crate::web::input::QueryParams;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Layout, PageError, flash, render, see_other};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::integrations::{self, Actor};
use crate::store::setup_tokens::{self, TokenProblem};
use crate::store::users::Role;
use crate::web::ApiError;
use crate::web::auth;
use crate::web::csrf::CsrfForm;

const CREDENTIALS: &str = "/settings/integrations/servicetitan/credentials";

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup/continue", web::get().to(continue_setup))
        .route("/setup/resend", web::post().to(resend));
}

#[derive(Template)]
#[template(path = "setup/landing.html")]
struct Landing<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    resend_token: Option<String>,
}

fn landing(
    session: &Session,
    status: StatusCode,
    heading: &str,
    message: &str,
    resend_token: Option<String>,
) -> HttpResponse {
    render(
        status,
        &Landing {
            layout: Layout::new(session),
            heading,
            message,
            resend_token,
        },
    )
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn continue_setup(
    session: Session,
    state: web::Data<AppState>,
    q: QueryParams<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.token.clone().unwrap_or_default();
    let redeemed = setup_tokens::redeem(state.store.db(), &token)
        .await
        .map_err(ApiError::from)?;
    let integration_id = match redeemed {
        Ok(id) => id,
        Err(TokenProblem::Unknown) => {
            return Ok(landing(
                &session,
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "The link may have been copied incompletely. Sign in to see where your integration stands, or ask for a new link from the page you reach after signing in.",
                None,
            ));
        }
        Err(TokenProblem::Used { .. }) => {
            return Ok(landing(
                &session,
                StatusCode::GONE,
                "This link was already used",
                "Each Continue Setup link works once. If you still need to connect your credentials, we can email a new link to your account's admins.",
                Some(token),
            ));
        }
        Err(TokenProblem::Expired { .. }) => {
            return Ok(landing(
                &session,
                StatusCode::GONE,
                "This link has expired",
                "Continue Setup links expire after 7 days. We can email a new link to your account's admins.",
                Some(token),
            ));
        }
    };
    let row = integrations::get(state.store.db(), integration_id)
        .await
        .map_err(ApiError::from)?;
    match auth::current_user(&session) {
        Some(u) if u.role == Role::PartnerAdmin && u.partner_id == Some(row.partner_id) => {
            flash(
                &session,
                true,
                "Welcome back: connect your ServiceTitan credentials.",
            );
            Ok(see_other(CREDENTIALS))
        }
        Some(_) => Ok(landing(
            &session,
            StatusCode::FORBIDDEN,
            "This link is for another account",
            "Sign out, then open the link again and sign in as an admin of the partner it was sent to.",
            None,
        )),
        None => {
            auth::remember_continue(&session, row.id);
            flash(
                &session,
                true,
                "Sign in to continue setting up ServiceTitan.",
            );
            Ok(see_other(&format!("/signin?next={CREDENTIALS}")))
        }
    }
}

#[derive(Deserialize)]
struct ResendForm {
    token: String,
}

async fn resend(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<ResendForm>,
) -> Result<HttpResponse, PageError> {
    let Some(tok) = setup_tokens::find(state.store.db(), &form.0.token)
        .await
        .map_err(ApiError::from)?
    else {
        return Ok(landing(
            &session,
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "We cannot send a new link for it. Sign in to see where your integration stands.",
            None,
        ));
    };
    let row = integrations::get(state.store.db(), tok.integration_id)
        .await
        .map_err(ApiError::from)?;
    let actor = Actor {
        user_id: None,
        label: "partner:expired-link".into(),
    };
    match flows::resend_link(&state, &actor, &row)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(landing(
            &session,
            StatusCode::OK,
            "A new link is on its way",
            "We emailed a fresh Continue Setup link to your account's admins. It works once and expires in 7 days.",
            None,
        )),
        Err(ApiError::Conflict { .. }) => Ok(landing(
            &session,
            StatusCode::CONFLICT,
            "No new link needed",
            "This integration is past the credentials step. Sign in to see where it stands.",
            None,
        )),
        Err(e) => Err(e.into()),
    }
}
