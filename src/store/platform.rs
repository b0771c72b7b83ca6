//! What the platform API and the sync engine read about partners and integrations: the
//! partner behind a bearer token, its integration, idempotent API responses, backfill progress.
use crate::domain::onboarding::IntegrationState;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::StoreResult;
use super::entities::{eligible_service, integration, partner};
use super::tasks::stmt;

/// A partner row.
pub type Partner = partner::Model;
/// An integration row.
pub type Integration = integration::Model;

/// The partner whose API token hashes to `token_hash` (SHA-256 hex).
pub async fn partner_by_token_hash<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> StoreResult<Option<Partner>> {
    Ok(partner::Entity::find()
        .filter(partner::Column::ApiTokenHash.eq(token_hash))
        .one(db)
        .await?)
}

/// Every integration in state `active`.
pub async fn active_integrations<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<Integration>> {
    Ok(integration::Entity::find()
        .filter(integration::Column::State.eq(IntegrationState::Active.as_str()))
        .order_by_asc(integration::Column::Id)
        .all(db)
        .await?)
}

/// Every integration, by ID.
pub async fn all_integrations<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<Integration>> {
    Ok(integration::Entity::find()
        .order_by_asc(integration::Column::Id)
        .all(db)
        .await?)
}

/// The eligible pricebook service IDs of an integration.
pub async fn eligible_service_ids<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
) -> StoreResult<Vec<i64>> {
    Ok(eligible_service::Entity::find()
        .filter(eligible_service::Column::IntegrationId.eq(integration_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.service_id)
        .collect())
}

/// Records backfill progress (`done` of `total` records) shown as a percentage.
pub async fn set_backfill_progress<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    total: i64,
    done: i64,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE integrations SET backfill_total = $1, backfill_done = $2 WHERE id = $3",
        vec![total.into(), done.into(), integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// Adds to the backfill counters (each stream's pages add what they read).
pub async fn add_backfill_progress<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    add_total: i64,
    add_done: i64,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE integrations SET backfill_total = CASE WHEN backfill_total + $1 < backfill_done + $2 \
         THEN backfill_done + $2 ELSE backfill_total + $1 END, backfill_done = backfill_done + $2 \
         WHERE id = $3",
        vec![add_total.into(), add_done.into(), integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// Records a successful sync exchange (and clears the integration's last error).
pub async fn touch_last_sync<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE integrations SET last_sync_at = $1 WHERE id = $2",
        vec![chrono::Utc::now().into(), integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// [`touch_last_sync`] for several integrations in one statement.
pub async fn touch_last_sync_many<C: ConnectionTrait>(
    db: &C,
    integration_ids: &[i64],
) -> StoreResult<()> {
    if integration_ids.is_empty() {
        return Ok(());
    }
    let b = db.get_database_backend();
    let list = (0..integration_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values: Vec<sea_orm::Value> = vec![chrono::Utc::now().into()];
    values.extend(integration_ids.iter().map(|id| sea_orm::Value::from(*id)));
    db.execute_raw(stmt(
        b,
        &format!("UPDATE integrations SET last_sync_at = $1 WHERE id IN ({list})"),
        values,
    ))
    .await?;
    Ok(())
}

/// The membership type mapped to a plan code, if any.
pub async fn plan_mapping<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    plan_code: &str,
) -> StoreResult<Option<super::entities::plan_mapping::Model>> {
    use super::entities::plan_mapping;
    Ok(plan_mapping::Entity::find()
        .filter(plan_mapping::Column::IntegrationId.eq(integration_id))
        .filter(plan_mapping::Column::PlanCode.eq(plan_code))
        .one(db)
        .await?)
}
