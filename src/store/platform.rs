//! What the platform API and the sync engine read about partners and integrations: the
//! partner behind a bearer token, its integration, idempotent API responses, backfill progress.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::StoreResult;
use super::entities::{api_idempotency, eligible_service, integration, partner};
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

/// A partner's integration (at most one per partner).
pub async fn integration_of_partner<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
) -> StoreResult<Option<Integration>> {
    Ok(integration::Entity::find()
        .filter(integration::Column::PartnerId.eq(partner_id))
        .one(db)
        .await?)
}

/// One integration.
pub async fn integration<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<Integration>> {
    Ok(integration::Entity::find_by_id(id).one(db).await?)
}

/// Every integration in state `active`.
pub async fn active_integrations<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<Integration>> {
    Ok(integration::Entity::find()
        .filter(integration::Column::State.eq("active"))
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

/// A stored first response to an idempotent API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Hash of the request that produced it.
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// The stored response for a partner's idempotency key, if any.
pub async fn idempotent_response<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    key: &str,
) -> StoreResult<Option<StoredResponse>> {
    Ok(api_idempotency::Entity::find()
        .filter(api_idempotency::Column::PartnerId.eq(partner_id))
        .filter(api_idempotency::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
        .map(|r| StoredResponse {
            request_hash: r.request_hash,
            status: u16::try_from(r.status).unwrap_or(200),
            body: r.body,
        }))
}

/// Stores the first response for a key; `false` when one was already stored (keep that one).
pub async fn save_idempotent_response<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    key: &str,
    resp: &StoredResponse,
) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "INSERT INTO api_idempotency (partner_id, idempotency_key, request_hash, status, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            vec![
                partner_id.into(),
                key.to_owned().into(),
                resp.request_hash.clone().into(),
                i32::from(resp.status).into(),
                resp.body.clone().into(),
                chrono::Utc::now().into(),
            ],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
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
