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
    /// Service location whose ServiceTitan location was deleted there: unlinked, and never
    /// created again.
    pub const LOCATION_DELETED: &str = "location_deleted";
}

/// Our IDs linked to these ServiceTitan IDs (ST ID → local ID), in one query.
pub async fn local_ids<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    kind: &str,
    st_ids: &[i64],
) -> StoreResult<std::collections::HashMap<i64, i64>> {
    if st_ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(external_link::Entity::find()
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(kind))
        .filter(external_link::Column::StId.is_in(st_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|l| l.local_id.parse().ok().map(|local| (l.st_id, local)))
        .collect())
}

/// Moves the links of ServiceTitan record `st_id` from `from` to `to` (a location deleted in
/// ServiceTitan becomes [`kind::LOCATION_DELETED`]). Returns the local IDs moved.
pub async fn move_kind<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    from: &str,
    st_id: i64,
    to: &str,
) -> StoreResult<Vec<i64>> {
    let rows = external_link::Entity::find()
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(from))
        .filter(external_link::Column::StId.eq(st_id))
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    external_link::Entity::update_many()
        .col_expr(
            external_link::Column::Kind,
            sea_orm::sea_query::Expr::value(to.to_owned()),
        )
        .filter(external_link::Column::IntegrationId.eq(integration_id))
        .filter(external_link::Column::Kind.eq(from))
        .filter(external_link::Column::StId.eq(st_id))
        .exec(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|l| l.local_id.parse().ok())
        .collect())
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
