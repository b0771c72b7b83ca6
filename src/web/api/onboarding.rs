//! Onboarding over JSON: the partner's integration (looked up by the signed-in partner, so
//! another partner's is a 404) and the ops approval console.
use crate::web::input::{JsonBody, QueryParams};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::onboarding::{Event, IntegrationState, allowed_events};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::entities::{integration, integration_event, outbound_email};
use crate::store::{integrations, outbox, partners};
use crate::web::ApiError;
use crate::web::auth::{OpsUser, PartnerAdmin};

/// Routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/integration", web::get().to(my_integration))
        .route("/integrations/{id}", web::get().to(get_integration))
        .route("/integrations/{id}/tenant", web::post().to(submit_tenant))
        .route(
            "/integrations/{id}/credentials",
            web::post().to(connect_credentials),
        )
        .route("/integrations/{id}/check", web::post().to(check_connection))
        .route(
            "/integrations/{id}/submit",
            web::post().to(submit_integration),
        )
        .route("/integrations/{id}/disconnect", web::post().to(disconnect))
        .route("/integrations/{id}/reconnect", web::post().to(reconnect))
        .route("/ops/integrations", web::get().to(ops_list))
        .route("/ops/integrations/{id}", web::get().to(ops_get))
        .route(
            "/ops/integrations/{id}/approve",
            web::post().to(ops_approve),
        )
        .route("/ops/integrations/{id}/reject", web::post().to(ops_reject))
        .route(
            "/ops/integrations/{id}/suspend",
            web::post().to(ops_suspend),
        )
        .route("/ops/integrations/{id}/resume", web::post().to(ops_resume))
        .route(
            "/ops/integrations/{id}/resend-setup-link",
            web::post().to(ops_resend),
        )
        .route("/ops/emails", web::get().to(ops_emails))
        .route("/ops/emails/{id}/retry", web::post().to(ops_retry_email));
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`ops:…`, `partner:…`, `system`).
    pub actor: String,
    /// The event (`approve`, `reject`, …) or audited action (`resend_setup_link`).
    pub event: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Reason given, if any.
    pub reason: Option<String>,
}

impl From<integration_event::Model> for EventView {
    fn from(e: integration_event::Model) -> Self {
        EventView {
            at: e.created_at,
            actor: e.actor,
            event: e.event,
            from: e.from_state,
            to: e.to_state,
            reason: e.reason,
        }
    }
}

/// An integration as partners and ops see it. The client secret is never included.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrationView {
    /// Integration ID.
    pub id: i64,
    /// Owning partner.
    pub partner_id: i64,
    /// Partner name.
    pub partner_name: String,
    /// ServiceTitan Tenant ID, once submitted.
    pub tenant_id: Option<i64>,
    /// `production`, `integration`, `sandbox` or `custom`.
    pub environment: String,
    /// Onboarding state.
    pub state: String,
    /// Why it was rejected or suspended.
    pub state_reason: Option<String>,
    /// Events the current state allows.
    pub allowed: Vec<String>,
    /// ServiceTitan Client ID, once connected.
    pub client_id: Option<String>,
    /// Whether a client secret is stored (it is never shown).
    pub has_client_secret: bool,
    /// When the tenant was last submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Last successful sync.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Last error needing attention.
    pub last_error: Option<String>,
    /// Audit log, oldest first.
    pub history: Vec<EventView>,
}

/// Builds the view of `row` with its history.
pub async fn view(state: &AppState, row: integration::Model) -> Result<IntegrationView, ApiError> {
    let partner = partners::get(state.store.db(), row.partner_id).await?;
    let history = integrations::events(state.store.db(), row.id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    let allowed = integrations::state_of(&row)
        .map(allowed_events)
        .unwrap_or_default()
        .into_iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    Ok(IntegrationView {
        id: row.id,
        partner_id: row.partner_id,
        partner_name: partner.name,
        tenant_id: row.tenant_id,
        environment: row.environment,
        state: row.state,
        state_reason: row.state_reason,
        allowed,
        client_id: row.client_id,
        has_client_secret: row.client_secret_enc.is_some(),
        submitted_at: row.submitted_at,
        last_sync_at: row.last_sync_at,
        last_error: row.last_error,
        history,
    })
}

async fn respond(state: &AppState, row: integration::Model) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(view(state, row).await?))
}

async fn owned(
    state: &AppState,
    who: &PartnerAdmin,
    id: i64,
) -> Result<integration::Model, ApiError> {
    Ok(integrations::get_owned(state.store.db(), id, who.partner_id).await?)
}

/// The signed-in partner's integration (created in `not_connected` on first use).
#[utoipa::path(get, path = "/api/v1/integration", tag = "partner",
    responses((status = 200, body = IntegrationView), (status = 401), (status = 403)))]
pub async fn my_integration(
    state: web::Data<AppState>,
    who: PartnerAdmin,
) -> Result<HttpResponse, ApiError> {
    let row = flows::partner_integration(&state, who.partner_id).await?;
    respond(&state, row).await
}

/// One of the partner's integrations; another partner's is 404.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "partner",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 404)))]
pub async fn get_integration(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    respond(&state, row).await
}

/// Step 1 request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantRequest {
    /// ServiceTitan Tenant ID (digits).
    pub tenant_id: String,
}

/// Step 1: submit the Tenant ID; the integration moves to `pending_approval`.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/tenant", tag = "partner",
    params(("id" = i64, Path)), request_body = TenantRequest,
    responses((status = 200, body = IntegrationView), (status = 409, description = "Not allowed now; `allowed` names the moves that are"),
              (status = 422, description = "Tenant ID invalid")))]
pub async fn submit_tenant(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<TenantRequest>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let row = flows::submit_tenant(&state, &who.user.actor(), &row, &body.tenant_id).await?;
    respond(&state, row).await
}

/// Step 2 request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CredentialsRequest {
    /// Client ID from ServiceTitan → Integrations → API Application Access.
    pub client_id: String,
    /// Client Secret; stored encrypted and never shown again.
    #[schema(value_type = String, format = Password)]
    pub client_secret: SecretString,
}

/// Step 2: verify and store the credentials.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/credentials", tag = "partner",
    params(("id" = i64, Path)), request_body = CredentialsRequest,
    responses((status = 200, body = IntegrationView), (status = 409), (status = 422, description = "Rejected by ServiceTitan"),
              (status = 502, description = "ServiceTitan unreachable")))]
pub async fn connect_credentials(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
    body: JsonBody<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let body = body.into_inner();
    let row = flows::connect_credentials(
        &state,
        &who.user.actor(),
        &row,
        &body.client_id,
        body.client_secret,
    )
    .await?;
    respond(&state, row).await
}

/// Re-checks the stored credentials; refused credentials move the integration to
/// `disconnected`.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/check", tag = "partner",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 409)))]
pub async fn check_connection(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let row = flows::check_connection(&state, &who.user.actor(), &row).await?;
    respond(&state, row).await
}

/// "Submit integration": completes mappings (when nothing is missing) and goes live.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/submit", tag = "partner",
    params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationView), (status = 409), (status = 422, description = "Mappings missing")))]
pub async fn submit_integration(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let row = flows::submit_integration(&state, &who.user.actor(), &row).await?;
    respond(&state, row).await
}

/// Removes the stored credentials (sync stops).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/disconnect", tag = "partner",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 409)))]
pub async fn disconnect(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let row = flows::simple(state.store.db(), &row, Event::Disconnect, &who.user.actor()).await?;
    respond(&state, row).await
}

/// Starts connecting credentials again after a disconnect.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/reconnect", tag = "partner",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 409)))]
pub async fn reconnect(
    state: web::Data<AppState>,
    who: PartnerAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, &who, *id).await?;
    let row = flows::simple(state.store.db(), &row, Event::Reconnect, &who.user.actor()).await?;
    respond(&state, row).await
}

/// Filter for the ops list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only integrations in this state (e.g. `pending_approval`).
    pub state: Option<String>,
}

/// Ops: integrations, oldest submission first.
#[utoipa::path(get, path = "/api/v1/ops/integrations", tag = "ops", params(ListQuery),
    responses((status = 200, body = [IntegrationView]), (status = 403)))]
pub async fn ops_list(
    state: web::Data<AppState>,
    _ops: OpsUser,
    q: QueryParams<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<IntegrationState>()
                .map_err(|e| ApiError::field("state", e.to_string()))?,
        ),
    };
    let mut out = Vec::new();
    for row in integrations::list(state.store.db(), filter).await? {
        out.push(view(&state, row).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Ops: one integration with its audit log.
#[utoipa::path(get, path = "/api/v1/ops/integrations/{id}", tag = "ops",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 403), (status = 404)))]
pub async fn ops_get(
    state: web::Data<AppState>,
    _ops: OpsUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    respond(&state, row).await
}

/// Ops: approve; the partner's admins get a Continue Setup email.
#[utoipa::path(post, path = "/api/v1/ops/integrations/{id}/approve", tag = "ops",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 403), (status = 409)))]
pub async fn ops_approve(
    state: web::Data<AppState>,
    ops: OpsUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    let row = flows::approve(&state, &ops.0.actor(), &row).await?;
    respond(&state, row).await
}

/// A reason for reject or suspend.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    /// Shown to the partner.
    pub reason: String,
}

/// Ops: reject with a reason (emailed to the partner).
#[utoipa::path(post, path = "/api/v1/ops/integrations/{id}/reject", tag = "ops",
    params(("id" = i64, Path)), request_body = ReasonRequest,
    responses((status = 200, body = IntegrationView), (status = 403), (status = 409), (status = 422)))]
pub async fn ops_reject(
    state: web::Data<AppState>,
    ops: OpsUser,
    id: web::Path<i64>,
    body: JsonBody<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    let row = flows::reject(&state, &ops.0.actor(), &row, &body.reason).await?;
    respond(&state, row).await
}

/// Ops: suspend an active integration.
#[utoipa::path(post, path = "/api/v1/ops/integrations/{id}/suspend", tag = "ops",
    params(("id" = i64, Path)), request_body = ReasonRequest,
    responses((status = 200, body = IntegrationView), (status = 403), (status = 409), (status = 422)))]
pub async fn ops_suspend(
    state: web::Data<AppState>,
    ops: OpsUser,
    id: web::Path<i64>,
    body: JsonBody<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    let row = flows::suspend(&state, &ops.0.actor(), &row, &body.reason).await?;
    respond(&state, row).await
}

/// Ops: resume a suspended integration.
#[utoipa::path(post, path = "/api/v1/ops/integrations/{id}/resume", tag = "ops",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 403), (status = 409)))]
pub async fn ops_resume(
    state: web::Data<AppState>,
    ops: OpsUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    let row = flows::simple(state.store.db(), &row, Event::Resume, &ops.0.actor()).await?;
    respond(&state, row).await
}

/// Ops: send a fresh Continue Setup link (while approved).
#[utoipa::path(post, path = "/api/v1/ops/integrations/{id}/resend-setup-link", tag = "ops",
    params(("id" = i64, Path)), responses((status = 200, body = IntegrationView), (status = 403), (status = 409)))]
pub async fn ops_resend(
    state: web::Data<AppState>,
    ops: OpsUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = integrations::get(state.store.db(), *id).await?;
    flows::resend_link(&state, &ops.0.actor(), &row).await?;
    respond(&state, row).await
}

/// An outgoing email as ops see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailView {
    /// Outbox ID.
    pub id: i64,
    /// Integration it is about.
    pub integration_id: Option<i64>,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Last failure.
    pub last_error: Option<String>,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// Delivered at.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<outbound_email::Model> for EmailView {
    fn from(m: outbound_email::Model) -> Self {
        EmailView {
            id: m.id,
            integration_id: m.integration_id,
            to: m.to_address,
            subject: m.subject,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// Ops: the mail outbox, newest first (bodies are not shown: they hold setup links).
#[utoipa::path(get, path = "/api/v1/ops/emails", tag = "ops",
    responses((status = 200, body = [EmailView]), (status = 403)))]
pub async fn ops_emails(
    state: web::Data<AppState>,
    _ops: OpsUser,
) -> Result<HttpResponse, ApiError> {
    let rows = outbox::recent(state.store.db(), 200).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(EmailView::from).collect::<Vec<_>>()))
}

/// Ops: try an unsent email again now.
#[utoipa::path(post, path = "/api/v1/ops/emails/{id}/retry", tag = "ops",
    params(("id" = i64, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn ops_retry_email(
    state: web::Data<AppState>,
    _ops: OpsUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    outbox::retry_now(state.store.db(), *id).await?;
    state.outbox.wake();
    Ok(HttpResponse::NoContent().finish())
}
