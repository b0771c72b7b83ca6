//! External links: which ServiceTitan record stands for which of ours, per integration.
//!
//! Kinds: `customer` (local ID = member ID), `location` (service location ID), `membership`
//! (member ID). A link is written right after the ServiceTitan record is found or created, so a
//! retry reads the link instead of creating again.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;
use super::entities::external_link;
use super::tasks::stmt;

/// Link kinds.
pub mod kind {
    /// Member ↔ ServiceTitan customer.
    pub const CUSTOMER: &str = "customer";
    /// Service location ↔ ServiceTitan location.
    pub const LOCATION: &str = "location";
    /// Member ↔ ServiceTitan customer membership.
    pub const MEMBERSHIP: &str = "membership";
}

/// The ServiceTitan ID linked to our `local_id`, if any.
pub async fn st_id<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
    local_id: i64,
) -> StoreResult<Option<i64>> {
    Ok(external_link::Entity::find()
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(kind))
        .filter(external_link::Column::LocalId.eq(local_id.to_string()))
        .one(db)
        .await?
        .map(|l| l.st_id))
}

/// Our ID linked to a ServiceTitan ID, if any.
pub async fn local_id<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
    st_id: i64,
) -> StoreResult<Option<i64>> {
    Ok(external_link::Entity::find()
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(kind))
        .filter(external_link::Column::StId.eq(st_id))
        .one(db)
        .await?
        .and_then(|l| l.local_id.parse().ok()))
}

/// Stores a link; an existing link for the same local record wins. Returns the linked ST ID.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
    local_id: i64,
    st_id: i64,
) -> StoreResult<i64> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "INSERT INTO external_links (integration_id, kind, local_id, st_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        vec![
            integration_id.into(),
            kind.to_owned().into(),
            local_id.to_string().into(),
            st_id.into(),
            chrono::Utc::now().into(),
        ],
    ))
    .await?;
    Ok(self::st_id(db, integration_id, kind, local_id)
        .await?
        .unwrap_or(st_id))
}

/// Every link of one kind for an integration, as (local ID, ST ID).
pub async fn all_of_kind<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
) -> StoreResult<Vec<(i64, i64)>> {
    Ok(external_link::Entity::find()
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(kind))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|l| l.local_id.parse().ok().map(|id| (id, l.st_id)))
        .collect())
}

/// Points an existing link at a new ServiceTitan ID (or creates it).
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
    local_id: i64,
    st_id: i64,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "DELETE FROM external_links WHERE integration_id = $1 AND kind = $2 AND local_id = $3",
        vec![
            integration_id.into(),
            kind.to_owned().into(),
            local_id.to_string().into(),
        ],
    ))
    .await?;
    put(db, integration_id, kind, local_id, st_id).await?;
    Ok(())
}
