//! The platform API's idempotency keys: the first response to a partner's key is stored, and a
//! repeat of the same request gets it back (bookings keep their key on the booking row, see
//! `store::bookings`, since the booking itself is the stored result).
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;
use super::entities::api_idempotency;
use super::tasks::stmt;

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
pub async fn stored<C: ConnectionTrait>(
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
pub async fn save<C: ConnectionTrait>(
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
