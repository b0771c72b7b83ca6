//! Bookings made through the platform API: one row per (partner, Idempotency-Key), its state
//! (`pending` → `scheduled` | `requested` | `failed`; then `rescheduled`, `cancelled`,
//! `completed` as ServiceTitan reports), and the ServiceTitan job or booking it became.
//!
//! A pending booking leaves `pending` exactly once ([`finish`] only updates pending rows), so
//! the API's inline attempt and the queue's retry cannot both record an outcome.
use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::entities::{booking, integration, job_type_mapping};

use super::StoreResult;
use crate::domain::booking::{ArrivalWindow, Slot};

/// A booking row.
pub type Booking = booking::Model;

pub use crate::domain::booking::status;

/// A booking to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBooking {
    /// Partner.
    pub partner_id: i64,
    /// Our service location ID.
    pub location_id: i64,
    /// The client's Idempotency-Key.
    pub idempotency_key: String,
    /// Trade code.
    pub trade: String,
    /// Condition code.
    pub condition: String,
    /// Homeowner's summary.
    pub summary: String,
    /// The chosen slot (absent for a call-centre request without a preferred time).
    pub slot: Option<Slot>,
}

impl NewBooking {
    /// Whether `b` was recorded from the same request (same location, service, text and slot).
    pub fn same_request(&self, b: &Booking) -> bool {
        self.location_id == b.location_id
            && self.trade == b.trade
            && self.condition == b.condition
            && self.summary == b.summary
            && self.slot.map(|s| s.start) == b.slot_start
            && self.slot.map(|s| s.end) == b.slot_end
    }
}

/// Inserts a pending booking, or finds the one already stored under the same key.
/// Returns the row and whether this call created it.
pub async fn insert_or_get<C: ConnectionTrait>(
    db: &C,
    new: &NewBooking,
) -> StoreResult<(Booking, bool)> {
    let now = Utc::now();
    let window = new.slot.map(ArrivalWindow::for_slot);
    let row = booking::ActiveModel {
        partner_id: Set(new.partner_id),
        location_id: Set(new.location_id),
        idempotency_key: Set(new.idempotency_key.clone()),
        trade: Set(new.trade.clone()),
        condition: Set(new.condition.clone()),
        summary: Set(new.summary.clone()),
        slot_start: Set(new.slot.map(|s| s.start)),
        slot_end: Set(new.slot.map(|s| s.end)),
        arrival_window_start: Set(window.map(|w| w.start)),
        arrival_window_end: Set(window.map(|w| w.end)),
        status: Set(status::PENDING.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let inserted = booking::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([booking::Column::PartnerId, booking::Column::IdempotencyKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let stored = by_key(db, new.partner_id, &new.idempotency_key)
        .await?
        .ok_or(super::StoreError::NotFound("booking"))?;
    Ok((stored, inserted == 1))
}

/// The booking a partner stored under an Idempotency-Key.
pub async fn by_key<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    key: &str,
) -> StoreResult<Option<Booking>> {
    Ok(booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(partner_id))
        .filter(booking::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// One booking.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<Booking>> {
    Ok(booking::Entity::find_by_id(id).one(db).await?)
}

/// One booking, only if it belongs to `partner_id`.
pub async fn of_partner<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    id: i64,
) -> StoreResult<Option<Booking>> {
    Ok(get(db, id).await?.filter(|b| b.partner_id == partner_id))
}

/// How a pending booking ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A job in the slot; the confirmed arrival window.
    Scheduled {
        /// ServiceTitan job ID.
        job_id: i64,
        /// Confirmed arrival window.
        window: ArrivalWindow,
    },
    /// A call-centre booking.
    Requested {
        /// ServiceTitan booking ID (unknown when an earlier attempt's create was found as a
        /// duplicate without its ID).
        booking_id: Option<i64>,
    },
    /// Not booked.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Records the outcome of a pending booking. `false` when it was no longer pending (another
/// attempt recorded first; keep that outcome).
pub async fn finish<C: ConnectionTrait>(db: &C, id: i64, outcome: &Outcome) -> StoreResult<bool> {
    let mut q = booking::Entity::update_many()
        .col_expr(booking::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::Status.eq(status::PENDING));
    q = match outcome {
        Outcome::Scheduled { job_id, window } => q
            .col_expr(booking::Column::Status, Expr::value(status::SCHEDULED))
            .col_expr(booking::Column::StJobId, Expr::value(*job_id))
            .col_expr(
                booking::Column::ArrivalWindowStart,
                Expr::value(window.start),
            )
            .col_expr(booking::Column::ArrivalWindowEnd, Expr::value(window.end))
            .col_expr(
                booking::Column::LastError,
                Expr::value(Option::<String>::None),
            ),
        Outcome::Requested { booking_id } => q
            .col_expr(booking::Column::Status, Expr::value(status::REQUESTED))
            .col_expr(booking::Column::StBookingId, Expr::value(*booking_id)),
        Outcome::Failed { reason } => q
            .col_expr(booking::Column::Status, Expr::value(status::FAILED))
            .col_expr(booking::Column::LastError, Expr::value(reason.clone())),
    };
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// Notes why the last attempt of a pending booking did not finish (shown by `GET`).
pub async fn note_error<C: ConnectionTrait>(db: &C, id: i64, reason: &str) -> StoreResult<()> {
    let reason: String = reason.chars().take(1000).collect();
    booking::Entity::update_many()
        .col_expr(booking::Column::LastError, Expr::value(reason))
        .col_expr(booking::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(booking::Column::Id.eq(id))
        .filter(booking::Column::Status.eq(status::PENDING))
        .exec(db)
        .await?;
    Ok(())
}

/// The (business unit, job type) a partner mapped a trade and condition to.
pub async fn job_type_mapping<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    trade: &str,
    condition: &str,
) -> StoreResult<Option<(i64, i64)>> {
    Ok(job_type_mapping::Entity::find()
        .filter(job_type_mapping::Column::IntegrationId.eq(integration_id))
        .filter(job_type_mapping::Column::Trade.eq(trade))
        .filter(job_type_mapping::Column::Condition.eq(condition))
        .one(db)
        .await?
        .map(|m| (m.business_unit_id, m.job_type_id)))
}

/// Applies a change the jobs/appointments pollers saw to the booking that created job
/// `st_job_id` (if any): `Completed` → completed, `Canceled` → cancelled, and an appointment
/// window different from ours → rescheduled with the new window. Returns the booking's status
/// after the change, or `None` when no booking made that job.
pub async fn apply_job_status<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    st_job_id: i64,
    job_status: Option<&str>,
    window: Option<ArrivalWindow>,
) -> StoreResult<Option<String>> {
    let Some(integ) = integration::Entity::find_by_id(integration_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(b) = booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(integ.partner_id))
        .filter(booking::Column::StJobId.eq(st_job_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    apply_to(db, b, job_status, window).await.map(Some)
}

/// The partner's bookings that became one of these ServiceTitan jobs (one query per batch).
pub async fn by_st_jobs<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    st_job_ids: &[i64],
) -> StoreResult<Vec<Booking>> {
    if st_job_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(partner_id))
        .filter(booking::Column::StJobId.is_in(st_job_ids.iter().copied()))
        .all(db)
        .await?)
}

/// The partner's call-centre bookings with one of these ServiceTitan booking IDs.
pub async fn by_st_bookings<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    st_booking_ids: &[i64],
) -> StoreResult<Vec<Booking>> {
    if st_booking_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(booking::Entity::find()
        .filter(booking::Column::PartnerId.eq(partner_id))
        .filter(booking::Column::StBookingId.is_in(st_booking_ids.iter().copied()))
        .all(db)
        .await?)
}

/// A call-centre booking became a job in ServiceTitan: remember the job (its status then flows
/// back like any booked job's) and mark the booking scheduled. `true` when it changed.
pub async fn follow_to_job<C: ConnectionTrait>(
    db: &C,
    b: &Booking,
    st_job_id: i64,
) -> StoreResult<bool> {
    if b.st_job_id == Some(st_job_id) {
        return Ok(false);
    }
    booking::Entity::update_many()
        .col_expr(booking::Column::StJobId, Expr::value(st_job_id))
        .col_expr(booking::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(booking::Column::Id.eq(b.id))
        .exec(db)
        .await?;
    // Only a request becomes scheduled: a status the jobs stream set meanwhile stands.
    booking::Entity::update_many()
        .col_expr(booking::Column::Status, Expr::value(status::SCHEDULED))
        .filter(booking::Column::Id.eq(b.id))
        .filter(booking::Column::Status.eq(status::REQUESTED))
        .exec(db)
        .await?;
    tracing::info!(
        booking_id = b.id,
        st_job_id,
        "call-centre booking followed to its job"
    );
    Ok(true)
}

/// Applies a job's status (or an appointment's window) to its booking; returns the status.
///
/// The jobs and appointments streams are read by separate tasks, so two of these can race for
/// one booking: the update is a compare-and-set on the status it decided from, and a lost race
/// decides again from what the winner wrote (a cancellation is never overwritten by a
/// reschedule read before it).
pub async fn apply_to<C: ConnectionTrait>(
    db: &C,
    mut b: Booking,
    job_status: Option<&str>,
    window: Option<ArrivalWindow>,
) -> StoreResult<String> {
    let st_job_id = b.st_job_id.unwrap_or_default();
    // Each lost race means another writer moved the booking on; a few rounds settle it.
    for _ in 0..8 {
        let current = window_of(&b);
        let Some(change) =
            crate::domain::booking::after_job_change(&b.status, current, job_status, window)
        else {
            return Ok(b.status);
        };
        let mut q = booking::Entity::update_many()
            .col_expr(booking::Column::Status, Expr::value(change.status))
            .col_expr(booking::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(booking::Column::Id.eq(b.id))
            .filter(booking::Column::Status.eq(b.status.clone()));
        if let Some(w) = change.window {
            q = q
                .col_expr(booking::Column::ArrivalWindowStart, Expr::value(w.start))
                .col_expr(booking::Column::ArrivalWindowEnd, Expr::value(w.end));
        }
        if q.exec(db).await?.rows_affected == 1 {
            tracing::info!(booking_id = b.id, st_job_id, from = %b.status, to = %change.status, "booking status from ServiceTitan");
            return Ok(change.status.to_owned());
        }
        // Another stream changed the booking meanwhile: decide again from its row.
        match booking::Entity::find_by_id(b.id).one(db).await? {
            Some(fresh) => b = fresh,
            None => return Ok(change.status.to_owned()),
        }
    }
    tracing::warn!(
        booking_id = b.id,
        st_job_id,
        "booking kept changing under a ServiceTitan update; left as it is"
    );
    Ok(b.status)
}

/// The slot of a booking, when it has one.
pub fn slot_of(b: &Booking) -> Option<Slot> {
    match (b.slot_start, b.slot_end) {
        (Some(start), Some(end)) => Some(Slot { start, end }),
        _ => None,
    }
}

/// The arrival window of a booking, when it has one.
pub fn window_of(b: &Booking) -> Option<ArrivalWindow> {
    match (b.arrival_window_start, b.arrival_window_end) {
        (Some(start), Some(end)) => Some(ArrivalWindow { start, end }),
        _ => None,
    }
}
