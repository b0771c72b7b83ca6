//! Settings → Integrations → ServiceTitan: the partner's onboarding wizard and status panel.
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::kept::Kept;
use super::sync_view::PartnerSync;
use super::words;
use super::{Layout, PageError, flash, render, require, see_other};
use crate::domain::onboarding::{Event, IntegrationState};
use crate::services::mappings::{self as maps, MappingsView, ReminderPreview};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::integrations;
use crate::store::users::Role;
use crate::web::ApiError;
use crate::web::api::onboarding::{IntegrationView, view};
use crate::web::auth::SessionUser;
use crate::web::csrf::{CsrfForm, NoFields};

const PAGE: &str = "/settings/integrations/servicetitan";
const CREDENTIALS: &str = "/settings/integrations/servicetitan/credentials";
const REVIEW: &str = "/settings/integrations/servicetitan/review";

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PAGE, web::get().to(show))
        .route(CREDENTIALS, web::get().to(show_credentials))
        .route(CREDENTIALS, web::post().to(post_credentials))
        .route(
            "/settings/integrations/servicetitan/tenant",
            web::post().to(post_tenant),
        )
        .route(
            "/settings/integrations/servicetitan/submit",
            web::post().to(post_submit),
        )
        .route(
            "/settings/integrations/servicetitan/check",
            web::post().to(post_check),
        )
        .route(
            "/settings/integrations/servicetitan/disconnect",
            web::post().to(post_disconnect),
        )
        .route(
            "/settings/integrations/servicetitan/reconnect",
            web::post().to(post_reconnect),
        )
        .route(
            "/settings/integrations/servicetitan/withdraw",
            web::post().to(post_withdraw),
        )
        .route(REVIEW, web::get().to(show_review));
}

/// One step of the wizard's progress bar.
pub struct Step {
    /// 1-based.
    pub number: usize,
    /// Title.
    pub title: &'static str,
    /// `done`, `current` or `todo`.
    pub status: &'static str,
}

fn steps(state: IntegrationState) -> Vec<Step> {
    use IntegrationState as S;
    let current = match state {
        S::NotConnected | S::Rejected => 1,
        S::TenantSubmitted | S::PendingApproval => 2,
        S::Approved | S::Disconnected => 3,
        S::CredentialsConnected => 4,
        S::MappingsComplete => 5,
        S::Active | S::Suspended => 6,
    };
    [
        "Tenant ID",
        "Approval",
        "Credentials",
        "Mappings",
        "Go live",
    ]
    .into_iter()
    .enumerate()
    .map(|(i, title)| Step {
        number: i + 1,
        title,
        status: match (i + 1).cmp(&current) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal => "current",
            std::cmp::Ordering::Greater => "todo",
        },
    })
    .collect()
}

#[derive(Template)]
#[template(path = "partner/integration.html")]
struct IntegrationPage {
    layout: Layout,
    view: IntegrationView,
    steps: Vec<Step>,
    state_label: &'static str,
    missing: Vec<String>,
    sync: PartnerSync,
    kept: Kept,
}

impl IntegrationPage {
    fn event_name(&self, e: &str) -> String {
        words::event_name(e)
    }
    fn transition(&self, from: &str, to: &str) -> String {
        words::transition_text(from, to)
    }
}

#[derive(Template)]
#[template(path = "partner/credentials.html")]
struct CredentialsPage {
    layout: Layout,
    view: IntegrationView,
    steps: Vec<Step>,
    kept: Kept,
}

#[derive(Template)]
#[template(path = "partner/review.html")]
struct ReviewPage {
    layout: Layout,
    steps: Vec<Step>,
    maps: MappingsView,
    reminders: Vec<ReminderPreview>,
    can_submit: bool,
}

async fn load(
    state: &AppState,
    session: &Session,
    here: &str,
) -> Result<(SessionUser, crate::store::entities::integration::Model), PageError> {
    let user = require(session, Role::PartnerAdmin, here)?;
    let partner_id = user
        .partner_id
        .ok_or_else(|| PageError::Forbidden("This user belongs to no partner.".into()))?;
    let row = flows::partner_integration(state, partner_id).await?;
    Ok((user, row))
}

async fn show(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let (_, row) = load(&state, &session, PAGE).await?;
    let st = integrations::state_of(&row).map_err(ApiError::from)?;
    let missing = if matches!(st, IntegrationState::CredentialsConnected) {
        integrations::missing_mapping_items(state.store.db(), &row, &state.catalog)
            .await
            .map_err(ApiError::from)?
    } else {
        vec![]
    };
    let sync = PartnerSync::load(&state, &row)
        .await
        .map_err(ApiError::from)?;
    let view = view(&state, row).await?;
    Ok(render(
        StatusCode::OK,
        &IntegrationPage {
            layout: Layout::new(&session),
            view,
            steps: steps(st),
            state_label: words::state_label(st),
            missing,
            sync,
            kept: Kept::take(&session, PAGE),
        },
    ))
}

/// Step 5: everything that will be written, before going live.
async fn show_review(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (_, row) = load(&state, &session, REVIEW).await?;
    let st = integrations::state_of(&row).map_err(ApiError::from)?;
    if !matches!(
        st,
        IntegrationState::CredentialsConnected
            | IntegrationState::MappingsComplete
            | IntegrationState::Active
    ) {
        return Ok(see_other(PAGE));
    }
    let maps = maps::view(&state, &state.catalog, &row).await?;
    let can_submit = maps.missing.is_empty() && st != IntegrationState::Active;
    Ok(render(
        StatusCode::OK,
        &ReviewPage {
            layout: Layout::new(&session),
            steps: steps(st),
            reminders: maps::reminder_previews(&state.catalog),
            maps,
            can_submit,
        },
    ))
}

async fn show_credentials(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (_, row) = load(&state, &session, CREDENTIALS).await?;
    let st = integrations::state_of(&row).map_err(ApiError::from)?;
    if st != IntegrationState::Approved {
        return Ok(see_other(PAGE));
    }
    let view = view(&state, row).await?;
    Ok(render(
        StatusCode::OK,
        &CredentialsPage {
            layout: Layout::new(&session),
            view,
            steps: steps(st),
            kept: Kept::take(&session, CREDENTIALS),
        },
    ))
}

/// Flashes the outcome and returns to `back` (on error) or the main page (on success).
fn outcome<T>(
    session: &Session,
    result: Result<T, ApiError>,
    ok: &str,
    back: &str,
) -> HttpResponse {
    outcome_keeping(session, result, ok, back, &[])
}

/// Like [`outcome`], and on a refusal keeps `typed` (never secrets) and each field's error for
/// the form at `back`.
fn outcome_keeping<T>(
    session: &Session,
    result: Result<T, ApiError>,
    ok: &str,
    back: &str,
    typed: &[(&str, &str)],
) -> HttpResponse {
    let keep = |errors: &[crate::web::error::FieldError]| {
        Kept::keep(session, back, typed.iter().copied(), errors);
    };
    match result {
        Ok(_) => {
            flash(session, true, ok);
            see_other(PAGE)
        }
        Err(ApiError::Internal(detail)) => {
            tracing::error!(error = %detail, "internal error");
            flash(
                session,
                false,
                "Something went wrong; the problem was logged. Try again.",
            );
            see_other(back)
        }
        Err(ApiError::Validation(fields)) => {
            keep(&fields);
            let text = format!(
                "Not saved: {}",
                fields
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            flash(session, false, text);
            see_other(back)
        }
        Err(ApiError::Upstream(msg)) => {
            keep(&[]);
            tracing::info!(error = %msg, "ServiceTitan unreachable during a form");
            flash(session, false, super::UNREACHABLE);
            see_other(back)
        }
        Err(e) => {
            keep(&[]);
            flash(session, false, e.to_string());
            see_other(back)
        }
    }
}

#[derive(Deserialize)]
struct TenantForm {
    tenant_id: String,
}

async fn post_tenant(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<TenantForm>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    let typed = form.0.tenant_id;
    let r = flows::submit_tenant(&state, &user.actor(), &row, &typed)
        .await
        .map_err(ApiError::from);
    Ok(outcome_keeping(
        &session,
        r,
        "Submitted for approval.",
        PAGE,
        &[("tenant_id", typed.as_str())],
    ))
}

#[derive(Deserialize)]
struct CredentialsForm {
    client_id: String,
    client_secret: String,
}

async fn post_credentials(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<CredentialsForm>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, CREDENTIALS).await?;
    let form = form.0;
    let secret = SecretString::from(form.client_secret.clone());
    let r = flows::connect_credentials(&state, &user.actor(), &row, &form.client_id, secret)
        .await
        .map_err(ApiError::from);
    Ok(outcome_keeping(
        &session,
        r,
        "ServiceTitan accepted the credentials. Next: mappings.",
        CREDENTIALS,
        &[("client_id", form.client_id.as_str())],
    ))
}

#[derive(Deserialize)]
struct SubmitForm {
    /// Set by the review page's form: going live is only offered after the review.
    #[serde(default)]
    reviewed: String,
}

async fn post_submit(
    session: Session,
    state: web::Data<AppState>,
    form: CsrfForm<SubmitForm>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    if form.0.reviewed != "yes" {
        flash(
            &session,
            false,
            "Check what will be written to ServiceTitan, then go live from this review.",
        );
        return Ok(see_other(REVIEW));
    }
    let r = flows::submit_integration(&state, &user.actor(), &row)
        .await
        .map_err(ApiError::from);
    Ok(outcome(&session, r, "Your integration is live.", REVIEW))
}

async fn post_check(
    session: Session,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    let r = flows::check_connection(&state, &user.actor(), &row)
        .await
        .map_err(ApiError::from);
    let ok = match &r {
        Ok(after) if after.state == row.state => "ServiceTitan accepted the stored credentials.",
        _ => "ServiceTitan refused the stored credentials; reconnect them.",
    };
    Ok(outcome(&session, r, ok, PAGE))
}

async fn post_disconnect(
    session: Session,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    let r = flows::simple(state.store.db(), &row, Event::Disconnect, &user.actor())
        .await
        .map_err(ApiError::from);
    Ok(outcome(
        &session,
        r,
        "Disconnected; the credentials were removed.",
        PAGE,
    ))
}

async fn post_reconnect(
    session: Session,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    let r = flows::simple(state.store.db(), &row, Event::Reconnect, &user.actor())
        .await
        .map_err(ApiError::from);
    Ok(outcome(
        &session,
        r,
        "Enter your credentials again to reconnect.",
        PAGE,
    ))
}

async fn post_withdraw(
    session: Session,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (user, row) = load(&state, &session, PAGE).await?;
    let r = flows::withdraw_tenant(&state, &user.actor(), &row)
        .await
        .map_err(ApiError::from);
    Ok(outcome(
        &session,
        r,
        "Tenant ID withdrawn. Correct it and submit it again; our team reviews it like a new request.",
        PAGE,
    ))
}
