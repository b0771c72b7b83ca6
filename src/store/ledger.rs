//! The Comfort Credit ledger: append-only entries per location, unique per source.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;
use super::entities::credit_entry;
use super::tasks::stmt;

/// A ledger entry.
pub type Entry = credit_entry::Model;

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Partner (the source key is unique per partner).
    pub partner_id: i64,
    /// Location.
    pub location_id: i64,
    /// Credits; negative for a redemption.
    pub amount: i64,
    /// Human reason.
    pub reason: String,
    /// `platform:<key>` or `st-invoice-item:<invoice>:<item>` (see `domain::credits`).
    pub source_key: String,
}

/// Appends an entry once per source. Returns the stored entry and whether it is new.
pub async fn append<C: ConnectionTrait>(db: &C, e: &NewEntry) -> StoreResult<(Entry, bool)> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "INSERT INTO credit_ledger (partner_id, location_id, amount, reason, source_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            vec![
                e.partner_id.into(),
                e.location_id.into(),
                e.amount.into(),
                e.reason.clone().into(),
                e.source_key.clone().into(),
                chrono::Utc::now().into(),
            ],
        ))
        .await?;
    let stored = credit_entry::Entity::find()
        .filter(credit_entry::Column::PartnerId.eq(e.partner_id))
        .filter(credit_entry::Column::SourceKey.eq(&e.source_key))
        .one(db)
        .await?
        .ok_or(super::StoreError::NotFound("ledger entry"))?;
    Ok((stored, r.rows_affected() == 1))
}

/// The balance of a location: the sum of its entries.
pub async fn balance<C: ConnectionTrait>(db: &C, location_id: i64) -> StoreResult<i64> {
    let b = db.get_database_backend();
    let row = db
        .query_one_raw(stmt(
            b,
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger WHERE location_id = $1",
            vec![location_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}

/// A location's balance and the ServiceTitan location it is linked to under `integration_id`
/// (`None`: not linked), in one statement: the two reads every credit write starts with.
pub async fn balance_and_st_location<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    location_id: i64,
) -> StoreResult<(i64, Option<i64>)> {
    let b = db.get_database_backend();
    let row = db
        .query_one_raw(stmt(
            b,
            "SELECT CAST(COALESCE((SELECT SUM(amount) FROM credit_ledger WHERE location_id = $1), 0) \
             AS BIGINT), (SELECT st_id FROM external_links WHERE integration_id = $2 AND kind = $3 \
             AND local_id = $4 LIMIT 1)",
            vec![
                location_id.into(),
                integration_id.into(),
                super::links::kind::LOCATION.into(),
                location_id.to_string().into(),
            ],
        ))
        .await?;
    Ok(match row {
        Some(r) => (
            r.try_get_by_index::<i64>(0)?,
            r.try_get_by_index::<Option<i64>>(1)?,
        ),
        None => (0, None),
    })
}

/// Every entry of a location, oldest first.
pub async fn entries<C: ConnectionTrait>(db: &C, location_id: i64) -> StoreResult<Vec<Entry>> {
    use sea_orm::QueryOrder;
    Ok(credit_entry::Entity::find()
        .filter(credit_entry::Column::LocationId.eq(location_id))
        .order_by_asc(credit_entry::Column::Id)
        .all(db)
        .await?)
}
