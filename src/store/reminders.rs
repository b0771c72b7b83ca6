//! Alert episodes (reminders) per location and the job notes written for them.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use crate::domain::reminders::AlertKind;

use super::StoreResult;
use super::entities::{reminder, reminder_note};
use super::tasks::stmt;

/// An alert episode.
pub type Reminder = reminder::Model;

/// The open episode of `alert` at a location, if any.
pub async fn open_of<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    alert: AlertKind,
) -> StoreResult<Option<Reminder>> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::LocationId.eq(location_id))
        .filter(reminder::Column::Alert.eq(alert.as_str()))
        .filter(reminder::Column::ResolvedAt.is_null())
        .one(db)
        .await?)
}

/// Every open episode at a location, oldest first.
pub async fn open_at<C: ConnectionTrait>(db: &C, location_id: i64) -> StoreResult<Vec<Reminder>> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::LocationId.eq(location_id))
        .filter(reminder::Column::ResolvedAt.is_null())
        .order_by_asc(reminder::Column::Id)
        .all(db)
        .await?)
}

/// Opens an episode.
pub async fn open<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    alert: AlertKind,
) -> StoreResult<Reminder> {
    Ok(reminder::ActiveModel {
        location_id: Set(location_id),
        alert: Set(alert.as_str().to_owned()),
        opened_at: Set(Utc::now()),
        resolved_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Resolves an episode.
pub async fn resolve<C: ConnectionTrait>(db: &C, r: Reminder) -> StoreResult<Reminder> {
    let mut am = r.into_active_model();
    am.resolved_at = Set(Some(Utc::now()));
    Ok(am.update(db).await?)
}

/// Whether a note for (episode, job) is recorded as written.
pub async fn note_written<C: ConnectionTrait>(
    db: &C,
    reminder_id: i64,
    st_job_id: i64,
) -> StoreResult<bool> {
    Ok(reminder_note::Entity::find()
        .filter(reminder_note::Column::ReminderId.eq(reminder_id))
        .filter(reminder_note::Column::StJobId.eq(st_job_id))
        .one(db)
        .await?
        .is_some())
}

/// Records a note as written (idempotent).
pub async fn record_note<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    reminder_id: i64,
    st_job_id: i64,
    marker: &str,
) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "INSERT INTO reminder_notes (integration_id, reminder_id, st_job_id, marker, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        vec![
            integration_id.into(),
            reminder_id.into(),
            st_job_id.into(),
            marker.to_owned().into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    Ok(())
}
