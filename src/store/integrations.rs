//! Integrations and their audit log. Every state change goes through [`apply`], which runs the
//! domain transition, updates the row under an optimistic `version` check and records the move
//! in `integration_events`, all on the connection (usually a transaction) it is given.
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::entities::{integration, integration_event};
use super::{StoreError, StoreResult};
use crate::domain::catalog::Catalog;
use crate::domain::onboarding::{Event, IntegrationState, TransitionError, transition};

/// Who caused a state change, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user, if a person acted.
    pub user_id: Option<i64>,
    /// e.g. `ops:ana@titanbridge.local`, `partner:bob@acme.example`, `system`.
    pub label: String,
}

impl Actor {
    /// A signed-in user acting in `role` (`ops` or `partner`).
    pub fn user(role: &str, user_id: i64, email: &str) -> Actor {
        Actor {
            user_id: Some(user_id),
            label: format!("{role}:{email}"),
        }
    }

    /// The service itself (workers, automatic steps).
    pub fn system() -> Actor {
        Actor {
            user_id: None,
            label: "system".to_owned(),
        }
    }
}

/// Column changes made together with a transition.
#[derive(Debug, Default, Clone)]
pub struct Patch {
    /// Sets `tenant_id`.
    pub tenant_id: Option<i64>,
    /// Sets `client_id` and the sealed `client_secret_enc`.
    pub credentials: Option<(String, String)>,
    /// Clears the stored credentials.
    pub clear_credentials: bool,
    /// Sets `last_error` (`Some(None)` clears it).
    pub last_error: Option<Option<String>>,
}

/// Why a state change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The state machine forbids the move.
    #[error(transparent)]
    Illegal(#[from] TransitionError),
    /// Someone else changed the integration since it was read.
    #[error("the integration was changed by someone else meanwhile; reload and try again")]
    Stale,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ApplyError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApplyError::Store(StoreError::from(e))
    }
}

/// The current state of a row.
pub fn state_of(row: &integration::Model) -> StoreResult<IntegrationState> {
    row.state
        .parse()
        .map_err(|e: crate::domain::onboarding::UnknownState| StoreError::Conflict(e.to_string()))
}

/// Applies `event` to `current` (as read, with its `version`): the one way state changes.
/// Returns the updated row. Run it inside the transaction that makes related changes (tokens,
/// outbox) so they commit together.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    current: &integration::Model,
    event: &Event,
    actor: &Actor,
    patch: Patch,
) -> Result<integration::Model, ApplyError> {
    let from = state_of(current)?;
    let to = transition(from, event)?;
    let now = Utc::now();
    let reason = event.reason().map(|r| r.as_str().to_owned());
    let mut update = integration::Entity::update_many()
        .col_expr(integration::Column::State, Expr::value(to.as_str()))
        .col_expr(
            integration::Column::Version,
            Expr::col(integration::Column::Version).add(1),
        )
        .col_expr(integration::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            integration::Column::StateReason,
            Expr::value(reason.clone()),
        );
    if matches!(event, Event::SubmitTenant) {
        update = update.col_expr(integration::Column::SubmittedAt, Expr::value(Some(now)));
    }
    if let Some(tenant) = patch.tenant_id {
        update = update.col_expr(integration::Column::TenantId, Expr::value(Some(tenant)));
    }
    if let Some((client_id, sealed)) = patch.credentials {
        update = update
            .col_expr(integration::Column::ClientId, Expr::value(Some(client_id)))
            .col_expr(
                integration::Column::ClientSecretEnc,
                Expr::value(Some(sealed)),
            );
    } else if patch.clear_credentials {
        update = update
            .col_expr(integration::Column::ClientId, Expr::value(None::<String>))
            .col_expr(
                integration::Column::ClientSecretEnc,
                Expr::value(None::<String>),
            );
    }
    if let Some(err) = patch.last_error {
        update = update.col_expr(integration::Column::LastError, Expr::value(err));
    }
    let result = update
        .filter(integration::Column::Id.eq(current.id))
        .filter(integration::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApplyError::Stale);
    }
    integration_event::ActiveModel {
        integration_id: Set(current.id),
        actor_user_id: Set(actor.user_id),
        actor: Set(actor.label.clone()),
        event: Set(event.kind().as_str().to_owned()),
        from_state: Set(from.as_str().to_owned()),
        to_state: Set(to.as_str().to_owned()),
        reason: Set(reason),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(
        integration_id = current.id,
        event = event.kind().as_str(),
        from = from.as_str(),
        to = to.as_str(),
        actor = %actor.label,
        "integration state changed"
    );
    Ok(get(db, current.id).await?)
}

/// [`apply`] in a transaction of its own.
pub async fn apply_one(
    db: &DatabaseConnection,
    current: &integration::Model,
    event: &Event,
    actor: &Actor,
    patch: Patch,
) -> Result<integration::Model, ApplyError> {
    let txn = db.begin().await?;
    let row = apply(&txn, current, event, actor, patch).await?;
    txn.commit().await?;
    Ok(row)
}

/// The integration with `id`.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<integration::Model> {
    find(db, id)
        .await?
        .ok_or(StoreError::NotFound("integration"))
}

/// The integration with `id`, if there is one.
pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<integration::Model>> {
    Ok(integration::Entity::find_by_id(id).one(db).await?)
}

/// The integrations with these IDs (one query; the worker reads a claimed batch's rows at once).
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> StoreResult<Vec<integration::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(integration::Entity::find()
        .filter(integration::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// The integration with `id` if it belongs to `partner_id`; another partner's is "not found".
pub async fn get_owned<C: ConnectionTrait>(
    db: &C,
    id: i64,
    partner_id: i64,
) -> StoreResult<integration::Model> {
    integration::Entity::find_by_id(id)
        .filter(integration::Column::PartnerId.eq(partner_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("integration"))
}

/// The partner's integration, if it has one.
pub async fn for_partner<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
) -> StoreResult<Option<integration::Model>> {
    Ok(integration::Entity::find()
        .filter(integration::Column::PartnerId.eq(partner_id))
        .one(db)
        .await?)
}

/// The partner's integration, created in `not_connected` on first use.
pub async fn ensure_for_partner<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    environment: &str,
) -> StoreResult<integration::Model> {
    if let Some(row) = for_partner(db, partner_id).await? {
        return Ok(row);
    }
    let now = Utc::now();
    let inserted = integration::ActiveModel {
        partner_id: Set(partner_id),
        tenant_id: Set(None),
        environment: Set(environment.to_owned()),
        state: Set(IntegrationState::NotConnected.as_str().to_owned()),
        capacity_enabled: Set(false),
        backfill_total: Set(0),
        backfill_done: Set(0),
        version: Set(0),
        auth_failures: Set(0),
        scope_refusals: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => Ok(row),
        // Two first requests raced: the unique partner_id kept one row; use it.
        Err(e) => for_partner(db, partner_id)
            .await?
            .ok_or(StoreError::from(e)),
    }
}

/// Integrations in `state` (every one when `None`), oldest submission first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    state: Option<IntegrationState>,
) -> StoreResult<Vec<integration::Model>> {
    let mut q = integration::Entity::find();
    if let Some(s) = state {
        q = q.filter(integration::Column::State.eq(s.as_str()));
    }
    Ok(q.order_by_asc(integration::Column::SubmittedAt)
        .order_by_asc(integration::Column::Id)
        .all(db)
        .await?)
}

/// The audit log of one integration, oldest first.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
) -> StoreResult<Vec<integration_event::Model>> {
    Ok(integration_event::Entity::find()
        .filter(integration_event::Column::IntegrationId.eq(integration_id))
        .order_by_asc(integration_event::Column::Id)
        .all(db)
        .await?)
}

/// What still has to be mapped before the integration can go live, in words a partner
/// understands (noun phrases such as `Membership type for plan "Basic"`), in wizard order;
/// empty when nothing is missing. The rules are [`crate::domain::mapping::missing_items`]
/// over the stored rows (see [`super::mappings`]).
pub async fn missing_mapping_items<C: ConnectionTrait>(
    db: &C,
    integration: &integration::Model,
    catalog: &Catalog,
) -> StoreResult<Vec<String>> {
    let rows = super::mappings::rows(db, integration.id).await?;
    let current = super::mappings::current(integration, &rows);
    Ok(crate::domain::mapping::missing_items(catalog, &current)
        .iter()
        .map(super::mappings::missing_label)
        .collect())
}

/// Records an action that does not change the state (e.g. "resend setup link") in the audit log.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    row: &integration::Model,
    actor: &Actor,
    action: &str,
    note: Option<String>,
) -> StoreResult<()> {
    integration_event::ActiveModel {
        integration_id: Set(row.id),
        actor_user_id: Set(actor.user_id),
        actor: Set(actor.label.clone()),
        event: Set(action.to_owned()),
        from_state: Set(row.state.clone()),
        to_state: Set(row.state.clone()),
        reason: Set(note),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Stores the booking provider tag bookings are created under (found unambiguously, or chosen).
pub async fn set_booking_provider<C: ConnectionTrait>(
    db: &C,
    id: i64,
    provider_id: i64,
    provider_name: &str,
) -> StoreResult<()> {
    integration::Entity::update_many()
        .col_expr(
            integration::Column::BookingProviderId,
            Expr::value(provider_id),
        )
        .col_expr(
            integration::Column::BookingProviderName,
            Expr::value(provider_name.to_owned()),
        )
        .filter(integration::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
