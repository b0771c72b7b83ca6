//! The mail outbox: messages are written in the same transaction as the change that causes
//! them and delivered later by `mail::delivery`, so a mail-server outage loses nothing.
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use secrecy::{ExposeSecret, SecretString};

use super::entities::outbound_email;
use super::{StoreError, StoreResult, now_ms};
use crate::crypto::SecretBox;

/// Waiting to be sent (or retried).
pub const PENDING: &str = "pending";
/// Delivered to the transport.
pub const SENT: &str = "sent";
/// Gave up after too many attempts (ops may retry).
pub const DEAD: &str = "dead";

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// The integration it is about, if any.
    pub integration_id: Option<i64>,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Marks a body stored sealed (AES-256-GCM with the secrets key).
const SEALED: &str = "sealed:";

/// Queues a message for delivery as soon as possible. Its bodies are stored sealed with
/// `secrets`: a Continue Setup link is a live credential, and a database read must not yield it.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    email: NewEmail,
) -> StoreResult<i64> {
    let seal = |body: String| -> StoreResult<String> {
        secrets
            .seal(&SecretString::from(body))
            .map(|s| format!("{SEALED}{s}"))
            .map_err(|e| StoreError::Crypto(e.to_string()))
    };
    let row = outbound_email::ActiveModel {
        integration_id: Set(email.integration_id),
        to_address: Set(email.to),
        subject: Set(email.subject),
        body_text: Set(seal(email.text)?),
        body_html: Set(seal(email.html)?),
        state: Set(PENDING.to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_ms: Set(now_ms()),
        created_at: Set(Utc::now()),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// A stored body in clear text (bodies queued before sealing existed are returned as they are).
pub fn open_body(secrets: &SecretBox, stored: &str) -> StoreResult<String> {
    match stored.strip_prefix(SEALED) {
        Some(sealed) => secrets
            .open(sealed)
            .map(|s| s.expose_secret().to_owned())
            .map_err(|e| StoreError::Crypto(e.to_string())),
        None => Ok(stored.to_owned()),
    }
}

/// Pending messages whose next attempt is due, oldest first.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    now_ms: i64,
    limit: u64,
) -> StoreResult<Vec<outbound_email::Model>> {
    Ok(outbound_email::Entity::find()
        .filter(outbound_email::Column::State.eq(PENDING))
        .filter(outbound_email::Column::NextAttemptMs.lte(now_ms))
        .order_by_asc(outbound_email::Column::NextAttemptMs)
        .order_by_asc(outbound_email::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Claims a due message for one sender: pushes its next attempt to `lease_until_ms` only if
/// nobody else did first. `false` means another sender has it.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    row: &outbound_email::Model,
    lease_until_ms: i64,
) -> StoreResult<bool> {
    let res = outbound_email::Entity::update_many()
        .col_expr(
            outbound_email::Column::NextAttemptMs,
            Expr::value(lease_until_ms),
        )
        .col_expr(
            outbound_email::Column::Attempts,
            Expr::col(outbound_email::Column::Attempts).add(1),
        )
        .filter(outbound_email::Column::Id.eq(row.id))
        .filter(outbound_email::Column::State.eq(PENDING))
        .filter(outbound_email::Column::NextAttemptMs.eq(row.next_attempt_ms))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a successful delivery.
pub async fn mark_sent<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<()> {
    outbound_email::Entity::update_many()
        .col_expr(outbound_email::Column::State, Expr::value(SENT))
        .col_expr(
            outbound_email::Column::SentAt,
            Expr::value(Some(Utc::now())),
        )
        .col_expr(
            outbound_email::Column::LastError,
            Expr::value(None::<String>),
        )
        .filter(outbound_email::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: retry at `next_attempt_ms`, or give up (`dead`).
pub async fn mark_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    error: &str,
    next_attempt_ms: i64,
    dead: bool,
) -> StoreResult<()> {
    outbound_email::Entity::update_many()
        .col_expr(
            outbound_email::Column::State,
            Expr::value(if dead { DEAD } else { PENDING }),
        )
        .col_expr(
            outbound_email::Column::LastError,
            Expr::value(Some(error.to_owned())),
        )
        .col_expr(
            outbound_email::Column::NextAttemptMs,
            Expr::value(next_attempt_ms),
        )
        .filter(outbound_email::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes a pending or dead message due now (the ops "retry" button).
pub async fn retry_now<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<()> {
    let res = outbound_email::Entity::update_many()
        .col_expr(outbound_email::Column::State, Expr::value(PENDING))
        .col_expr(outbound_email::Column::NextAttemptMs, Expr::value(now_ms()))
        .filter(outbound_email::Column::Id.eq(id))
        .filter(outbound_email::Column::State.ne(SENT))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound("unsent email"));
    }
    Ok(())
}

/// The most recent messages, newest first (the ops console's mail panel).
pub async fn recent<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> StoreResult<Vec<outbound_email::Model>> {
    Ok(outbound_email::Entity::find()
        .order_by_desc(outbound_email::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The messages about one integration, newest first.
pub async fn for_integration<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
) -> StoreResult<Vec<outbound_email::Model>> {
    Ok(outbound_email::Entity::find()
        .filter(outbound_email::Column::IntegrationId.eq(integration_id))
        .order_by_desc(outbound_email::Column::Id)
        .all(db)
        .await?)
}
