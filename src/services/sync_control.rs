//! Steering an integration's sync, each move audited with its actor: pause and resume, resync
//! a stream from the start, replay one failed write from the activity log.
use crate::state::AppState;
use crate::store::activity;
use crate::store::cursors::{self, Cursor};
use crate::store::entities::integration;
use crate::store::task_kind::TaskKind;
use crate::store::{integrations, platform, sync_control, tasks};
use crate::sync::poll::STREAMS;

use super::{Actor, ServiceError};

fn conflict(message: String) -> ServiceError {
    ServiceError::Conflict {
        message,
        allowed: vec![],
    }
}

/// Pauses sync: platform events keep being accepted and queued, nothing is written to
/// ServiceTitan until [`resume`]. 409 when already paused.
pub async fn pause(
    state: &AppState,
    actor: &Actor,
    row: &integration::Model,
) -> Result<(), ServiceError> {
    let db = state.store.db();
    if !sync_control::pause(db, row.id, &actor.label).await? {
        return Err(conflict("sync is already paused".into()));
    }
    integrations::audit(db, row, actor, "pause_sync", None).await?;
    tracing::info!(integration_id = row.id, by = %actor.label, "sync paused");
    Ok(())
}

/// Resumes a paused sync where it stopped (the queued tasks run). 409 when not paused.
pub async fn resume(
    state: &AppState,
    actor: &Actor,
    row: &integration::Model,
) -> Result<(), ServiceError> {
    let db = state.store.db();
    if !sync_control::resume(db, row.id).await? {
        return Err(conflict("sync is not paused".into()));
    }
    integrations::audit(db, row, actor, "resume_sync", None).await?;
    tracing::info!(integration_id = row.id, by = %actor.label, "sync resumed");
    Ok(())
}

/// Re-reads `stream` from the start: its cursor is reset (the next page is a full pass, whose
/// progress shows as the backfill percentage) and a poll is queued. Records already applied
/// are recognised by ID and `modifiedOn`, so nothing is applied twice.
pub async fn resync(
    state: &AppState,
    actor: &Actor,
    row: &integration::Model,
    stream: &str,
) -> Result<(), ServiceError> {
    if !STREAMS.contains(&stream) {
        return Err(ServiceError::field(
            "stream",
            format!("unknown stream; one of {}", STREAMS.join(", ")),
        ));
    }
    let txn = state.store.begin_write().await?;
    // The one place a stream's cursor is reset (issue 14's cursor reset belongs here).
    cursors::save(&txn, row.id, stream, &Cursor::default()).await?;
    platform::set_backfill_progress(&txn, row.id, 0, 0).await?;
    TaskKind::Poll {
        integration_id: row.id,
        stream: stream.to_owned(),
    }
    .enqueue(&txn, row.id)
    .await?;
    integrations::audit(&txn, row, actor, "resync", Some(format!("stream {stream}"))).await?;
    txn.commit().await?;
    tracing::info!(integration_id = row.id, stream, by = %actor.label, "stream resync queued");
    Ok(())
}

/// Replays the failed write logged as activity `activity_id`: its dead task goes back to the
/// queue with fresh attempts (the handler reads before it writes, so a write that landed after
/// all is found, not repeated). 404 for another integration's row, 409 when it is not a dead
/// write.
pub async fn replay(
    state: &AppState,
    actor: &Actor,
    row: &integration::Model,
    activity_id: i64,
) -> Result<i64, ServiceError> {
    let db = state.store.db();
    let entry = activity::get(db, activity_id)
        .await?
        .filter(|a| a.integration_id == row.id)
        .ok_or(crate::store::StoreError::NotFound("activity"))?;
    let Some(task_id) = entry
        .task_id
        .filter(|_| entry.result == activity::result::FAILED)
    else {
        return Err(conflict(format!(
            "activity {activity_id} is not a failed write (result: {})",
            entry.result
        )));
    };
    if !tasks::retry_dead(db, task_id).await? {
        return Err(conflict(format!(
            "the task of activity {activity_id} is no longer dead (already replayed or retried)"
        )));
    }
    integrations::audit(
        db,
        row,
        actor,
        "replay",
        Some(format!(
            "{} write, activity {activity_id}, task {task_id}",
            entry.kind
        )),
    )
    .await?;
    tracing::info!(integration_id = row.id, activity_id, task_id, by = %actor.label, "failed write replayed");
    Ok(task_id)
}

/// An activity row as the API and the pages show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ActivityView {
    /// Row ID (replay takes it).
    pub id: i64,
    /// `out` (a write to ServiceTitan) or `in` (an effect of something read).
    pub direction: String,
    /// What: customer, location, tag, membership, credit_balance, reminder_note, job, booking;
    /// inbound: reminders_queued, credit_redemption, membership_status, location_edit.
    pub kind: String,
    /// Our member.
    pub member_id: Option<i64>,
    /// Our service location.
    pub location_id: Option<i64>,
    /// The ServiceTitan record.
    pub st_id: Option<i64>,
    /// The task that made it.
    pub task_id: Option<i64>,
    /// `ok`, `retry` or `failed`.
    pub result: String,
    /// The task's attempt.
    pub attempt: i32,
    /// Fields written: `{"name": {"before": …, "after": …}}`.
    #[schema(value_type = Object)]
    pub fields: Option<serde_json::Value>,
    /// The error, when not ok.
    pub error: Option<String>,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl From<activity::Activity> for ActivityView {
    fn from(a: activity::Activity) -> Self {
        ActivityView {
            id: a.id,
            direction: a.direction,
            kind: a.kind,
            member_id: a.member_id,
            location_id: a.location_id,
            st_id: a.st_id,
            task_id: a.task_id,
            result: a.result,
            attempt: a.attempt,
            fields: a
                .fields
                .as_deref()
                .and_then(|f| serde_json::from_str(f).ok()),
            error: a.error,
            at: chrono::DateTime::from_timestamp_millis(a.at_ms).unwrap_or_default(),
        }
    }
}

/// Where an integration's sync stands.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SyncStatus {
    /// Integration.
    pub integration_id: i64,
    /// Onboarding state.
    pub state: String,
    /// The last successful write to ServiceTitan.
    pub last_write_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last inbound page read.
    pub last_inbound_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Paused since.
    pub paused_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Paused by.
    pub paused_by: Option<String>,
    /// Backfill / resync progress in percent.
    pub backfill_percent: u8,
    /// Current alerts.
    pub alerts: Vec<crate::sync::health::Alert>,
}

/// The sync status of `row`.
pub async fn status(
    state: &AppState,
    row: &integration::Model,
) -> Result<SyncStatus, ServiceError> {
    let alerts = crate::sync::health::alerts(state)
        .await?
        .into_iter()
        .filter(|a| a.integration_id == row.id)
        .collect();
    Ok(SyncStatus {
        integration_id: row.id,
        state: row.state.clone(),
        last_write_at: row.last_sync_at,
        last_inbound_at: row.last_inbound_at,
        paused_at: row.sync_paused_at,
        paused_by: row.sync_paused_by.clone(),
        backfill_percent: crate::sync::ops::backfill_percent(row.backfill_total, row.backfill_done),
        alerts,
    })
}
