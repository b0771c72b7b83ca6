//! Continue-setup tokens: random, stored only as SHA-256, expiring, single use.
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::StoreResult;
use super::entities::setup_token;
use crate::crypto;

/// How long a Continue Setup link works by default.
pub const DEFAULT_TTL: Duration = Duration::days(7);

/// Why a token cannot be used. The integration is known for used and expired tokens (so a
/// new link can be sent), never for forged ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No such token.
    Unknown,
    /// Already used once.
    Used { integration_id: i64 },
    /// Past its expiry.
    Expired { integration_id: i64 },
}

/// Issues a token for `integration_id`; returns the plain token (for the email link only).
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    ttl: Duration,
) -> StoreResult<String> {
    let token = crypto::random_token();
    let now = Utc::now();
    setup_token::ActiveModel {
        integration_id: Set(integration_id),
        token_hash: Set(crypto::sha256_hex(&token)),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Uses `token` once: the integration it belongs to, or why it cannot be used. The "mark
/// used" update is conditional, so two clicks racing still let only one through.
pub async fn redeem<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> StoreResult<Result<i64, TokenProblem>> {
    let hash = crypto::sha256_hex(token.trim());
    let now = Utc::now();
    let updated = setup_token::Entity::update_many()
        .col_expr(setup_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(setup_token::Column::TokenHash.eq(hash.as_str()))
        .filter(setup_token::Column::UsedAt.is_null())
        .filter(setup_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    let row = find(db, token).await?;
    Ok(match row {
        None => Err(TokenProblem::Unknown),
        Some(row) if updated.rows_affected == 1 => Ok(row.integration_id),
        Some(row) if row.expires_at <= now && row.used_at.is_none_or(|u| u > row.expires_at) => {
            Err(TokenProblem::Expired {
                integration_id: row.integration_id,
            })
        }
        Some(row) => Err(TokenProblem::Used {
            integration_id: row.integration_id,
        }),
    })
}

/// Whether `token` could be used now, without using it (the Continue Setup page shows a
/// Continue button for a usable link; a mail scanner's GET must not burn it).
pub async fn check<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> StoreResult<Result<i64, TokenProblem>> {
    let now = Utc::now();
    Ok(match find(db, token).await? {
        None => Err(TokenProblem::Unknown),
        Some(row) if row.used_at.is_some() => Err(TokenProblem::Used {
            integration_id: row.integration_id,
        }),
        Some(row) if row.expires_at <= now => Err(TokenProblem::Expired {
            integration_id: row.integration_id,
        }),
        Some(row) => Ok(row.integration_id),
    })
}

/// Marks every unused token of `integration_id` used (its Tenant ID was withdrawn: a link
/// sent for the old approval must not lead on).
pub async fn revoke_all<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<u64> {
    let r = setup_token::Entity::update_many()
        .col_expr(setup_token::Column::UsedAt, Expr::value(Some(Utc::now())))
        .filter(setup_token::Column::IntegrationId.eq(integration_id))
        .filter(setup_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

/// Looks a token up without using it.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> StoreResult<Option<setup_token::Model>> {
    Ok(setup_token::Entity::find()
        .filter(setup_token::Column::TokenHash.eq(crypto::sha256_hex(token.trim())))
        .one(db)
        .await?)
}

/// Moves a token's expiry (tests and ops tooling).
pub async fn set_expiry<C: ConnectionTrait>(
    db: &C,
    token: &str,
    expires_at: chrono::DateTime<Utc>,
) -> StoreResult<()> {
    setup_token::Entity::update_many()
        .col_expr(setup_token::Column::ExpiresAt, Expr::value(expires_at))
        .filter(setup_token::Column::TokenHash.eq(crypto::sha256_hex(token.trim())))
        .exec(db)
        .await?;
    Ok(())
}
