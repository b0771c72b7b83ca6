//! People who sign in: partner admins (one partner each) and ops users (no partner).
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use secrecy::SecretString;

use super::entities::user;
use super::{StoreError, StoreResult};
use crate::crypto;

/// What a signed-in user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages their own partner's integration.
    PartnerAdmin,
    /// Internal staff: approval console.
    Ops,
}

impl Role {
    /// The name stored in `users.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PartnerAdmin => "partner_admin",
            Role::Ops => "ops",
        }
    }

    /// Parses a stored role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "partner_admin" => Some(Role::PartnerAdmin),
            "ops" => Some(Role::Ops),
            _ => None,
        }
    }
}

/// A user to create.
pub struct NewUser<'a> {
    /// Required for partner admins, `None` for ops.
    pub partner_id: Option<i64>,
    /// Sign-in email (stored lower-case).
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Role.
    pub role: Role,
    /// Plain password; only its argon2 hash is stored.
    pub password: &'a SecretString,
}

/// Creates a user with an argon2 password hash.
pub async fn create<C: ConnectionTrait>(db: &C, new: NewUser<'_>) -> StoreResult<user::Model> {
    let hash = crypto::hash_password(new.password)
        .map_err(|e| StoreError::Conflict(format!("cannot hash password: {e}")))?;
    Ok(user::ActiveModel {
        partner_id: Set(new.partner_id),
        email: Set(new.email.trim().to_lowercase()),
        name: Set(new.name.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        password_hash: Set(hash),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The user signing in with `email` (case-insensitive).
pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> StoreResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The user with `id`.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

/// The admins of one partner (recipients of onboarding email).
pub async fn partner_admins<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
) -> StoreResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::PartnerId.eq(partner_id))
        .filter(user::Column::Role.eq(Role::PartnerAdmin.as_str()))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}

/// Every ops user (recipients of sync alerts).
pub async fn ops_users<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Ops.as_str()))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}
