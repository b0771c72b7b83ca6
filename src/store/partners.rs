//! Partners: the contractors' companies that own one ServiceTitan integration each.
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};

use super::entities::partner;
use super::{StoreError, StoreResult};

/// Creates a partner.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    name: &str,
    slug: &str,
) -> StoreResult<partner::Model> {
    Ok(partner::ActiveModel {
        name: Set(name.to_owned()),
        slug: Set(slug.to_owned()),
        api_token_hash: Set(None),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The partner with `id`.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<partner::Model> {
    partner::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("partner"))
}

/// Every partner, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<partner::Model>> {
    Ok(partner::Entity::find()
        .order_by_asc(partner::Column::Id)
        .all(db)
        .await?)
}

/// The partner with `slug`, if any.
pub async fn find_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> StoreResult<Option<partner::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(partner::Entity::find()
        .filter(partner::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// Issues a new platform API bearer token for the partner, replacing any earlier one. Only its
/// SHA-256 is stored; the token is returned once to be handed to the platform.
pub async fn rotate_api_token<C: ConnectionTrait>(db: &C, partner_id: i64) -> StoreResult<String> {
    let row = get(db, partner_id).await?;
    let token = format!("tbp_{}", crate::crypto::random_token());
    let mut active: partner::ActiveModel = row.into();
    active.api_token_hash = Set(Some(crate::crypto::sha256_hex(&token)));
    active.update(db).await?;
    Ok(token)
}
