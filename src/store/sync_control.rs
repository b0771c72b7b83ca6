//! The sync switches and health counters kept on an integration: pause/resume, when the last
//! inbound page was read, consecutive credential refusals, when ops were last alerted.
use chrono::Utc;
use sea_orm::ConnectionTrait;

use super::StoreResult;
use super::tasks::stmt;

/// Pauses sync (`false` when it already was paused).
pub async fn pause<C: ConnectionTrait>(db: &C, integration_id: i64, by: &str) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE integrations SET sync_paused_at = $1, sync_paused_by = $2 \
             WHERE id = $3 AND sync_paused_at IS NULL",
            vec![
                Utc::now().into(),
                by.to_owned().into(),
                integration_id.into(),
            ],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Resumes sync (`false` when it was not paused).
pub async fn resume<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE integrations SET sync_paused_at = NULL, sync_paused_by = NULL \
             WHERE id = $1 AND sync_paused_at IS NOT NULL",
            vec![integration_id.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Records that an inbound page was read.
pub async fn touch_inbound<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE integrations SET last_inbound_at = $1 WHERE id = $2",
        vec![Utc::now().into(), integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// What ServiceTitan refused. Counted apart: a missing scope fails only the calls to its
/// module, so the successes of every other call must not reset its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The credentials or the token (every call fails).
    Credentials,
    /// A scope the app needs (403 on one module's calls).
    Scope,
}

/// The column that counts refusals of `refusal`'s kind.
fn refusal_column(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Credentials => "auth_failures",
        Refusal::Scope => "scope_refusals",
    }
}

/// Counts one more refusal of this kind; returns the count since the last reset. Only an
/// active integration counts: a task still in flight when the integration was disconnected
/// must not leave a count behind for the reconnect (0 is returned).
pub async fn refused<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    refusal: Refusal,
) -> StoreResult<i32> {
    let b = db.get_database_backend();
    let col = refusal_column(refusal);
    let row = db
        .query_one_raw(stmt(
            b,
            &format!(
                "UPDATE integrations SET {col} = {col} + 1 \
                 WHERE id = $1 AND state = 'active' RETURNING {col}"
            ),
            vec![integration_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i32>(0)?,
        None => 0,
    })
}

/// Resets the count of refusals of this kind: ServiceTitan accepted what it refused (a no-op
/// when already zero).
pub async fn accepted<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    refusal: Refusal,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    let col = refusal_column(refusal);
    db.execute_raw(stmt(
        b,
        &format!("UPDATE integrations SET {col} = 0 WHERE id = $1 AND {col} <> 0"),
        vec![integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// Resets both refusal counts (the integration was disconnected: the reconnect starts clean).
pub async fn refusals_cleared<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE integrations SET auth_failures = 0, scope_refusals = 0 WHERE id = $1",
        vec![integration_id.into()],
    ))
    .await?;
    Ok(())
}

/// Claims the right to alert ops about `integration_id` now: `true` (and the time recorded)
/// when no alert went out in the last `every_ms`. Atomic, so two workers send one alert.
pub async fn claim_ops_alert<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    every_ms: i64,
) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let now = Utc::now();
    let since = now - chrono::Duration::milliseconds(every_ms);
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE integrations SET ops_alert_at = $1 WHERE id = $2 \
             AND (ops_alert_at IS NULL OR ops_alert_at < $3)",
            vec![now.into(), integration_id.into(), since.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}
