//! Inbound poll cursors (watermark + continuation per integration and stream) and the
//! record of inbound changes already applied.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;
use super::entities::sync_cursor;
use super::tasks::stmt;

/// Where a stream's polling stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Everything modified before this (minus the overlap) has been applied. `None`: never
    /// completed a pass (the next pass is the backfill).
    pub watermark: Option<DateTime<Utc>>,
    /// Progress inside the current pass (JSON written by the poller), if a pass is under way.
    pub continue_from: Option<String>,
}

/// The cursor of a stream (default when never saved).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
) -> StoreResult<Cursor> {
    Ok(sync_cursor::Entity::find()
        .filter(sync_cursor::Column::IntegrationId.eq(integration_id))
        .filter(sync_cursor::Column::Stream.eq(stream))
        .one(db)
        .await?
        .map(|c| Cursor {
            watermark: c.watermark,
            continue_from: c.continue_from,
        })
        .unwrap_or_default())
}

/// Saves a stream's cursor (call inside the transaction that commits the page's effects).
pub async fn save<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    cursor: &Cursor,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "INSERT INTO sync_cursors (integration_id, stream, watermark, continue_from, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integration_id, stream) DO UPDATE SET \
         watermark = excluded.watermark, continue_from = excluded.continue_from, \
         updated_at = excluded.updated_at",
        vec![
            integration_id.into(),
            stream.to_owned().into(),
            cursor.watermark.into(),
            cursor.continue_from.clone().into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records an inbound change as applied; `false` when it was already (same ID and modifiedOn).
pub async fn mark_seen<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    st_id: i64,
    modified_on: &str,
) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "INSERT INTO inbound_seen (integration_id, stream, st_id, modified_on) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            vec![
                integration_id.into(),
                stream.to_owned().into(),
                st_id.into(),
                modified_on.to_owned().into(),
            ],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}
