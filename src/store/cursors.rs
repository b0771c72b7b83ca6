//! Inbound poll cursors (per integration and stream: the export feed's `continueFrom` token,
//! or a page-list pass's watermark and progress), backfill counters, and the record of inbound
//! changes already applied (ID + `modifiedOn`).
use std::collections::HashSet;

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
    /// Progress inside the current page-list pass (JSON written by the poller), if under way.
    pub continue_from: Option<String>,
    /// The export feed's `continueFrom` token after the last committed batch.
    pub feed_token: Option<String>,
}

/// A stream's backfill counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Stream name.
    pub stream: String,
    /// Records read since the pass started.
    pub read: i64,
    /// Records whose effects were applied (new ID + `modifiedOn`).
    pub applied: i64,
    /// Estimated records in the stream (0: unknown).
    pub total: i64,
    /// When the backfill pass started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the stream last caught up (`None`: backfill not finished).
    pub caught_up_at: Option<DateTime<Utc>>,
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
            feed_token: c.feed_token,
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
        "INSERT INTO sync_cursors (integration_id, stream, watermark, continue_from, feed_token, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (integration_id, stream) DO UPDATE \
         SET watermark = excluded.watermark, continue_from = excluded.continue_from, \
         feed_token = excluded.feed_token, updated_at = excluded.updated_at",
        vec![
            integration_id.into(),
            stream.to_owned().into(),
            cursor.watermark.into(),
            cursor.continue_from.clone().into(),
            cursor.feed_token.clone().into(),
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

/// Records a batch's changes as applied and returns those that were new (ID, modifiedOn): one
/// statement per 500 records.
pub async fn mark_seen_batch<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    changes: &[(i64, String)],
) -> StoreResult<HashSet<(i64, String)>> {
    let b = db.get_database_backend();
    let mut fresh = HashSet::new();
    for chunk in changes.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO inbound_seen (integration_id, stream, st_id, modified_on) VALUES ",
        );
        let mut values: Vec<sea_orm::Value> = vec![integration_id.into(), stream.to_owned().into()];
        let mut unique = HashSet::new();
        for (id, modified) in chunk {
            if !unique.insert((*id, modified.as_str())) {
                continue;
            }
            if values.len() > 2 {
                sql.push_str(", ");
            }
            let n = values.len();
            sql.push_str(&format!("($1, $2, ${}, ${})", n + 1, n + 2));
            values.push((*id).into());
            values.push(modified.clone().into());
        }
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING st_id, modified_on");
        for row in db.query_all_raw(stmt(b, &sql, values)).await? {
            let id: i64 = row.try_get("", "st_id")?;
            let modified: String = row.try_get("", "modified_on")?;
            fresh.insert((id, modified));
        }
    }
    Ok(fresh)
}

/// Adds a batch to a stream's backfill counters (inside the batch's transaction).
pub async fn add_progress<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    read: i64,
    applied: i64,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE sync_cursors SET records_read = records_read + $1, \
         records_applied = records_applied + $2 WHERE integration_id = $3 AND stream = $4",
        vec![
            read.into(),
            applied.into(),
            integration_id.into(),
            stream.to_owned().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Starts a stream's backfill pass: counters to zero, the estimated total, the start time.
pub async fn start_pass<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    total: i64,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "INSERT INTO sync_cursors (integration_id, stream, records_read, records_applied, \
         records_total, pass_started_at, updated_at) VALUES ($1, $2, 0, 0, $3, $4, $4) \
         ON CONFLICT (integration_id, stream) DO UPDATE SET records_read = 0, \
         records_applied = 0, records_total = excluded.records_total, \
         pass_started_at = excluded.pass_started_at, updated_at = excluded.updated_at",
        vec![
            integration_id.into(),
            stream.to_owned().into(),
            total.into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Every stream's counters of an integration.
pub async fn progress<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
) -> StoreResult<Vec<Progress>> {
    Ok(sync_cursor::Entity::find()
        .filter(sync_cursor::Column::IntegrationId.eq(integration_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| Progress {
            stream: c.stream,
            read: c.records_read,
            applied: c.records_applied,
            total: c.records_total,
            started_at: c.pass_started_at,
            caught_up_at: c.watermark,
        })
        .collect())
}

/// Forgets a stream's position and what it applied, so the next poll reads it again from the
/// start of the feed (a resync). Effects are idempotent, so re-reading never doubles anything.
pub async fn reset_stream<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    for table in ["sync_cursors", "inbound_seen"] {
        db.execute_raw(stmt(
            b,
            &format!("DELETE FROM {table} WHERE integration_id = $1 AND stream = $2"),
            vec![integration_id.into(), stream.to_owned().into()],
        ))
        .await?;
    }
    Ok(())
}
