//! The onboarding operations behind both the pages and the JSON API: each checks its input,
//! applies one audited state change (with its email, in the same transaction) and says what
//! went wrong in words a person can act on.

use crate::domain::limits;
use sea_orm::TransactionTrait;
use secrecy::SecretString;

use super::verify::{self, VerifyFailure};
use super::{FieldError, ServiceError};
use crate::domain::ids::TenantId;
use crate::domain::onboarding::{Event, EventKind, IntegrationState, Reason, transition};
use crate::mail::messages;
use crate::state::AppState;
use crate::store::entities::integration;
use crate::store::integrations::{self, Actor, ApplyError, Patch};
use crate::store::{outbox, partners, setup_tokens, users};

/// Maps a refused state change to the API's error: 409 naming the allowed moves.
pub fn apply_error(e: ApplyError) -> ServiceError {
    match e {
        ApplyError::Illegal(t) => ServiceError::Conflict {
            message: t.to_string(),
            allowed: t.allowed.iter().map(|k| k.as_str().to_owned()).collect(),
        },
        ApplyError::Stale => ServiceError::Conflict {
            message: ApplyError::Stale.to_string(),
            allowed: vec![],
        },
        ApplyError::Store(s) => s.into(),
    }
}

fn db_error(e: sea_orm::DbErr) -> ServiceError {
    crate::store::StoreError::from(e).into()
}

/// Refuses early (before slow work) when the state does not allow `event`.
fn check_allowed(row: &integration::Model, event: &Event) -> Result<(), ServiceError> {
    let from = integrations::state_of(row)?;
    transition(from, event)
        .map(|_| ())
        .map_err(|e| apply_error(e.into()))
}

/// The partner's integration, created on first use.
pub async fn partner_integration(
    state: &AppState,
    partner_id: i64,
) -> Result<integration::Model, ServiceError> {
    Ok(integrations::ensure_for_partner(
        state.store.db(),
        partner_id,
        &state.settings.servicetitan.environment,
    )
    .await?)
}

/// Step 1: the partner submits a Tenant ID; the request is queued for ops review at once.
pub async fn submit_tenant(
    state: &AppState,
    user: &Actor,
    row: &integration::Model,
    tenant_text: &str,
) -> Result<integration::Model, ServiceError> {
    let tenant = TenantId::parse(tenant_text)
        .map_err(|e| ServiceError::field("tenant_id", e.to_string()))?;
    let txn = state.store.db().begin().await.map_err(db_error)?;
    let patch = Patch {
        tenant_id: Some(tenant.get()),
        clear_credentials: true,
        ..Patch::default()
    };
    let actor = user.clone();
    let submitted = integrations::apply(&txn, row, &Event::SubmitTenant, &actor, patch)
        .await
        .map_err(apply_error)?;
    let queued = integrations::apply(
        &txn,
        &submitted,
        &Event::QueueForReview,
        &Actor::system(),
        Patch::default(),
    )
    .await
    .map_err(apply_error)?;
    txn.commit().await.map_err(db_error)?;
    Ok(queued)
}

/// The partner withdraws a submitted or approved Tenant ID (to correct it): back to step 1,
/// audited, stored credentials cleared and outstanding Continue Setup links revoked. The
/// corrected Tenant ID then goes to review again like a first submission.
pub async fn withdraw_tenant(
    state: &AppState,
    user: &Actor,
    row: &integration::Model,
) -> Result<integration::Model, ServiceError> {
    let txn = state.store.db().begin().await.map_err(db_error)?;
    let patch = Patch {
        clear_credentials: true,
        ..Patch::default()
    };
    let withdrawn = integrations::apply(&txn, row, &Event::Withdraw, user, patch)
        .await
        .map_err(apply_error)?;
    setup_tokens::revoke_all(&txn, row.id).await?;
    txn.commit().await.map_err(db_error)?;
    Ok(withdrawn)
}

fn continue_link(state: &AppState, token: &str) -> String {
    format!(
        "{}/setup/continue?token={token}",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// The partner settings page URL (for emails).
pub fn settings_url(state: &AppState) -> String {
    format!(
        "{}/settings/integrations/servicetitan",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// Issues a Continue Setup token and queues one email per partner admin, on `txn`.
async fn queue_setup_link<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    txn: &C,
    row: &integration::Model,
) -> Result<usize, ServiceError> {
    let token = setup_tokens::issue(txn, row.id, setup_tokens::DEFAULT_TTL).await?;
    let link = continue_link(state, &token);
    let partner = partners::get(txn, row.partner_id).await?;
    let admins = users::partner_admins(txn, row.partner_id).await?;
    if admins.is_empty() {
        tracing::warn!(integration_id = row.id, "partner has no admins to email");
    }
    for admin in &admins {
        let mail = messages::approved(
            row.id,
            &admin.email,
            &partner.name,
            row.tenant_id.unwrap_or_default(),
            &link,
            setup_tokens::DEFAULT_TTL.num_days(),
        );
        outbox::enqueue(txn, &state.secrets, mail).await?;
    }
    Ok(admins.len())
}

/// Ops approve: state change, setup token and email commit together; the email is sent later
/// (and retried), so an unreachable mail server never loses the approval.
pub async fn approve(
    state: &AppState,
    ops: &Actor,
    row: &integration::Model,
) -> Result<integration::Model, ServiceError> {
    let txn = state.store.db().begin().await.map_err(db_error)?;
    let approved = integrations::apply(&txn, row, &Event::Approve, ops, Patch::default())
        .await
        .map_err(apply_error)?;
    queue_setup_link(state, &txn, &approved).await?;
    txn.commit().await.map_err(db_error)?;
    state.outbox.wake();
    Ok(approved)
}

fn reason(text: &str) -> Result<Reason, ServiceError> {
    Reason::parse(text).map_err(|e| ServiceError::field("reason", e.to_string()))
}

/// Ops reject with a reason the partner sees (on the page and by email).
pub async fn reject(
    state: &AppState,
    ops: &Actor,
    row: &integration::Model,
    reason_text: &str,
) -> Result<integration::Model, ServiceError> {
    let reason = reason(reason_text)?;
    let txn = state.store.db().begin().await.map_err(db_error)?;
    let event = Event::Reject {
        reason: reason.clone(),
    };
    let rejected = integrations::apply(&txn, row, &event, ops, Patch::default())
        .await
        .map_err(apply_error)?;
    let partner = partners::get(&txn, row.partner_id).await?;
    for admin in users::partner_admins(&txn, row.partner_id).await? {
        let mail = messages::rejected(
            row.id,
            &admin.email,
            &partner.name,
            row.tenant_id.unwrap_or_default(),
            reason.as_str(),
            &settings_url(state),
        );
        outbox::enqueue(&txn, &state.secrets, mail).await?;
    }
    txn.commit().await.map_err(db_error)?;
    state.outbox.wake();
    Ok(rejected)
}

/// Ops suspend an active integration (sync stops).
pub async fn suspend(
    state: &AppState,
    ops: &Actor,
    row: &integration::Model,
    reason_text: &str,
) -> Result<integration::Model, ServiceError> {
    let event = Event::Suspend {
        reason: reason(reason_text)?,
    };
    integrations::apply_one(state.store.db(), row, &event, ops, Patch::default())
        .await
        .map_err(apply_error)
}

/// Applies a data-less event as `actor`.
pub async fn simple(
    db: &sea_orm::DatabaseConnection,
    row: &integration::Model,
    event: Event,
    actor: &Actor,
) -> Result<integration::Model, ServiceError> {
    let patch = Patch {
        clear_credentials: event.kind() == EventKind::Disconnect,
        ..Patch::default()
    };
    integrations::apply_one(db, row, &event, actor, patch)
        .await
        .map_err(apply_error)
}

/// Sends a fresh Continue Setup link (ops, or a partner holding a used/expired link). Only
/// while the integration waits for credentials.
pub async fn resend_link(
    state: &AppState,
    actor: &Actor,
    row: &integration::Model,
) -> Result<usize, ServiceError> {
    if integrations::state_of(row)? != IntegrationState::Approved {
        return Err(ServiceError::Conflict {
            message: format!(
                "a setup link is only sent while the integration is approved and waiting for credentials (it is {})",
                row.state
            ),
            allowed: vec![],
        });
    }
    let txn = state.store.db().begin().await.map_err(db_error)?;
    let sent = queue_setup_link(state, &txn, row).await?;
    integrations::audit(&txn, row, actor, "resend_setup_link", None).await?;
    txn.commit().await.map_err(db_error)?;
    state.outbox.wake();
    Ok(sent)
}

/// A verification failure as the API reports it.
pub fn verify_error(e: VerifyFailure) -> ServiceError {
    match e {
        VerifyFailure::Unreachable | VerifyFailure::Other(_) => {
            ServiceError::Upstream(e.to_string())
        }
        other => ServiceError::Validation(vec![FieldError {
            field: "credentials".into(),
            message: other.to_string(),
        }]),
    }
}

/// Step 2: verify the Client ID and Secret against the tenant; on success store the secret
/// sealed and move to `credentials_connected`.
pub async fn connect_credentials(
    state: &AppState,
    user: &Actor,
    row: &integration::Model,
    client_id: &str,
    secret: SecretString,
) -> Result<integration::Model, ServiceError> {
    check_allowed(row, &Event::ConnectCredentials)?;
    let client_id = client_id.trim();
    let mut errors = Vec::new();
    if client_id.is_empty() {
        errors.push(FieldError {
            field: "client_id".into(),
            message: "Client ID is required".into(),
        });
    } else if client_id.chars().count() > limits::CLIENT_ID_MAX_CHARS {
        errors.push(FieldError {
            field: "client_id".into(),
            message: format!(
                "Client ID may be at most {} characters",
                limits::CLIENT_ID_MAX_CHARS
            ),
        });
    }
    let secret_text = secrecy::ExposeSecret::expose_secret(&secret).trim();
    if secret_text.is_empty() {
        errors.push(FieldError {
            field: "client_secret".into(),
            message: "Client Secret is required".into(),
        });
    } else if secret_text.chars().count() > limits::CLIENT_SECRET_MAX_CHARS {
        errors.push(FieldError {
            field: "client_secret".into(),
            message: format!(
                "Client Secret may be at most {} characters",
                limits::CLIENT_SECRET_MAX_CHARS
            ),
        });
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let tenant = row
        .tenant_id
        .ok_or_else(|| ServiceError::Internal(format!("integration {} has no tenant", row.id)))?;
    if let Err(e) = verify::verify(
        &state.settings,
        &state.st,
        &row.environment,
        tenant,
        client_id,
        &secret,
    )
    .await
    {
        tracing::info!(integration_id = row.id, tenant, failure = ?e, "credentials not verified");
        return Err(verify_error(e));
    }
    let sealed = state
        .secrets
        .seal(&secret)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let patch = Patch {
        credentials: Some((client_id.to_owned(), sealed)),
        last_error: Some(None),
        ..Patch::default()
    };
    integrations::apply_one(
        state.store.db(),
        row,
        &Event::ConnectCredentials,
        user,
        patch,
    )
    .await
    .map_err(apply_error)
}

/// Re-checks the stored credentials; if ServiceTitan refuses them the integration moves to
/// `disconnected` (`credentials_failed`) with the reason kept as its last error.
pub async fn check_connection(
    state: &AppState,
    user: &Actor,
    row: &integration::Model,
) -> Result<integration::Model, ServiceError> {
    check_allowed(row, &Event::credentials_failed(""))?;
    let (Some(tenant), Some(client_id), Some(sealed)) = (
        row.tenant_id,
        row.client_id.as_deref(),
        row.client_secret_enc.as_deref(),
    ) else {
        return Err(ServiceError::Internal(format!(
            "integration {} has no stored credentials",
            row.id
        )));
    };
    let secret = state
        .secrets
        .open(sealed)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    match verify::verify(
        &state.settings,
        &state.st,
        &row.environment,
        tenant,
        client_id,
        &secret,
    )
    .await
    {
        Ok(()) => Ok(row.clone()),
        Err(e @ (VerifyFailure::InvalidCredentials | VerifyFailure::NotConnected(_))) => {
            let patch = Patch {
                last_error: Some(Some(e.to_string())),
                ..Patch::default()
            };
            integrations::apply_one(
                state.store.db(),
                row,
                &Event::credentials_failed(&e.to_string()),
                user,
                patch,
            )
            .await
            .map_err(apply_error)
        }
        Err(e) => Err(verify_error(e)),
    }
}

/// "Submit integration": mappings complete (when nothing is missing) and go live.
pub async fn submit_integration(
    state: &AppState,
    user: &Actor,
    row: &integration::Model,
) -> Result<integration::Model, ServiceError> {
    let actor = user.clone();
    if integrations::state_of(row)? == IntegrationState::CredentialsConnected {
        let missing =
            integrations::missing_mapping_items(state.store.db(), row, &state.catalog).await?;
        if !missing.is_empty() {
            return Err(ServiceError::Validation(
                missing
                    .into_iter()
                    .map(|m| FieldError {
                        field: "mappings".into(),
                        message: format!("{m} is not mapped yet"),
                    })
                    .collect(),
            ));
        }
        let txn = state.store.db().begin().await.map_err(db_error)?;
        let complete = integrations::apply(
            &txn,
            row,
            &Event::CompleteMappings,
            &actor,
            Patch::default(),
        )
        .await
        .map_err(apply_error)?;
        let active =
            integrations::apply(&txn, &complete, &Event::Activate, &actor, Patch::default())
                .await
                .map_err(apply_error)?;
        // The first full sync: every member enrolled so far goes out; the worker starts the
        // inbound backfill for every active integration.
        crate::store::tasks::enqueue_all_members(&txn, active.id, active.partner_id).await?;
        txn.commit().await.map_err(db_error)?;
        return Ok(active);
    }
    let active = simple(state.store.db(), row, Event::Activate, &actor).await?;
    crate::store::tasks::enqueue_all_members(state.store.db(), active.id, active.partner_id)
        .await?;
    Ok(active)
}
