//! Partners: the contractors' companies that own one ServiceTitan integration each.
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};

use super::entities::partner;
use super::{Store, StoreError, StoreResult};

/// Creates a partner.
pub async fn create(store: &Store, name: &str, slug: &str) -> StoreResult<partner::Model> {
    Ok(partner::ActiveModel {
        name: Set(name.to_owned()),
        slug: Set(slug.to_owned()),
        api_token_hash: Set(None),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(store.db())
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
pub async fn list(store: &Store) -> StoreResult<Vec<partner::Model>> {
    Ok(partner::Entity::find()
        .order_by_asc(partner::Column::Id)
        .all(store.db())
        .await?)
}
