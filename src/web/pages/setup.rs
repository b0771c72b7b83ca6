//! The Continue Setup link from the approval email. Opening the link (a GET, which mail
//! scanners also do) only shows a page with a Continue button; the single-use token is used by
//! that button's POST. Used, expired or forged links get a friendly page: used or expired ones
//! a "send a new link" button, and a signed-in admin of the partner a "Continue setup" link.
//! Sending a new link redirects to a confirmation page, so reloading it sends nothing.
use crate::web::input::QueryParams;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Layout, PageError, flash, render, see_other};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::entities::integration;
use crate::store::integrations::{self, Actor};
use crate::store::setup_tokens::{self, TokenProblem};
use crate::store::users::Role;
use crate::web::ApiError;
use crate::web::auth::{self, SessionUser};
use crate::web::csrf::CsrfForm;

const CREDENTIALS: &str = "/settings/integrations/servicetitan/credentials";
const SETTINGS: &str = "/settings/integrations/servicetitan";
const SENT: &str = "/setup/link-sent";

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup/continue", web::get().to(show_link))
        .route("/setup/continue", web::post().to(use_link))
        .route("/setup/resend", web::post().to(resend))
        .route(SENT, web::get().to(link_sent));
}

#[derive(Template)]
#[template(path = "setup/landing.html")]
struct Landing<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    /// A usable link: the Continue button posts it.
    continue_token: Option<String>,
    /// A used or expired link: the "send a new link" button posts it.
    resend_token: Option<String>,
    /// Where a signed-in admin of the partner continues without a link.
    continue_href: Option<&'static str>,
}

impl<'a> Landing<'a> {
    fn new(session: &Session, heading: &'a str, message: &'a str) -> Self {
        Landing {
            layout: Layout::new(session),
            heading,
            message,
            continue_token: None,
            resend_token: None,
            continue_href: None,
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Whether the signed-in user is an admin of the integration's partner.
fn is_own(user: Option<&SessionUser>, row: &integration::Model) -> bool {
    user.is_some_and(|u| u.role == Role::PartnerAdmin && u.partner_id == Some(row.partner_id))
}

/// Where an admin of the partner goes on with setup.
fn next_step(row: &integration::Model) -> &'static str {
    match integrations::state_of(row) {
        Ok(crate::domain::onboarding::IntegrationState::Approved) => CREDENTIALS,
        _ => SETTINGS,
    }
}

/// A used, expired or forged link.
async fn problem_page(
    session: &Session,
    state: &AppState,
    token: String,
    problem: TokenProblem,
) -> Result<HttpResponse, PageError> {
    let (status, heading, message, integration_id) = match problem {
        TokenProblem::Unknown => (
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "The link may have been copied incompletely. Sign in to see where your integration stands, or ask for a new link from the page you reach after signing in.",
            None,
        ),
        TokenProblem::Used { integration_id } => (
            StatusCode::GONE,
            "This link was already used",
            "Each Continue Setup link works once. If you still need to connect your credentials, we can email a new link to your account's admins.",
            Some(integration_id),
        ),
        TokenProblem::Expired { integration_id } => (
            StatusCode::GONE,
            "This link has expired",
            "Continue Setup links expire after 7 days. We can email a new link to your account's admins.",
            Some(integration_id),
        ),
    };
    let mut page = Landing::new(session, heading, message);
    if let Some(id) = integration_id {
        page.resend_token = Some(token);
        let row = integrations::get(state.store.db(), id)
            .await
            .map_err(ApiError::from)?;
        if is_own(page.layout.user.as_ref(), &row) {
            page.continue_href = Some(next_step(&row));
        }
    }
    Ok(render(status, &page))
}

/// GET: shows where the link leads and a Continue button; the token stays unused.
async fn show_link(
    session: Session,
    state: web::Data<AppState>,
    q: QueryParams<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.token.clone().unwrap_or_default();
    let checked = setup_tokens::check(state.store.db(), &token)
        .await
        .map_err(ApiError::from)?;
    let integration_id = match checked {
        Ok(id) => id,
        Err(p) => return problem_page(&session, &state, token, p).await,
    };
    let row = integrations::get(state.store.db(), integration_id)
        .await
        .map_err(ApiError::from)?;
    let user = auth::current_user(&session);
    if user.is_some() && !is_own(user.as_ref(), &row) {
        return Ok(render(
            StatusCode::FORBIDDEN,
            &Landing::new(
                &session,
                "This link is for another account",
                "Sign out, then open the link again and sign in as an admin of the partner it was sent to.",
            ),
        ));
    }
    let message = if user.is_some() {
        "Your tenant was approved. Press Continue to connect your ServiceTitan credentials."
    } else {
        "Your tenant was approved. Press Continue, sign in, and connect your ServiceTitan credentials."
    };
    let mut page = Landing::new(&session, "Continue setting up ServiceTitan", message);
    page.continue_token = Some(token);
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

/// POST (the Continue button): uses the token once, then the credentials step (through
/// sign-in when signed out).
async fn use_link(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let token = form.0.token;
    let redeemed = setup_tokens::redeem(state.store.db(), &token)
        .await
        .map_err(ApiError::from)?;
    let integration_id = match redeemed {
        Ok(id) => id,
        Err(p) => return problem_page(&session, &state, token, p).await,
    };
    let row = integrations::get(state.store.db(), integration_id)
        .await
        .map_err(ApiError::from)?;
    let user = auth::current_user(&session);
    if is_own(user.as_ref(), &row) {
        flash(
            &session,
            true,
            "Welcome back: connect your ServiceTitan credentials.",
        );
        return Ok(see_other(CREDENTIALS));
    }
    if user.is_some() {
        return Ok(render(
            StatusCode::FORBIDDEN,
            &Landing::new(
                &session,
                "This link is for another account",
                "Sign out, then open the link again and sign in as an admin of the partner it was sent to.",
            ),
        ));
    }
    auth::remember_continue(&session, row.id);
    flash(
        &session,
        true,
        "Sign in to continue setting up ServiceTitan.",
    );
    Ok(see_other(&format!("/signin?next={CREDENTIALS}")))
}

async fn resend(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let Some(tok) = setup_tokens::find(state.store.db(), &form.0.token)
        .await
        .map_err(ApiError::from)?
    else {
        return Ok(render(
            StatusCode::NOT_FOUND,
            &Landing::new(
                &session,
                "This link is not valid",
                "We cannot send a new link for it. Sign in to see where your integration stands.",
            ),
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
        // POST/redirect/GET: reloading the confirmation sends nothing.
        Ok(_) => Ok(see_other(SENT)),
        Err(ApiError::Conflict { .. }) => {
            let mut page = Landing::new(
                &session,
                "No new link needed",
                "This integration is past the credentials step. Sign in to see where it stands.",
            );
            if is_own(page.layout.user.as_ref(), &row) {
                page.continue_href = Some(SETTINGS);
            }
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(e) => Err(e.into()),
    }
}

async fn link_sent(session: Session) -> HttpResponse {
    render(
        StatusCode::OK,
        &Landing::new(
            &session,
            "A new link is on its way",
            "We emailed a fresh Continue Setup link to your account's admins. It works once and expires in 7 days.",
        ),
    )
}
