//! Capacity-aware booking into ServiceTitan.
//!
//! A booking is recorded as `pending` under the partner's Idempotency-Key together with a
//! deferred queue task, then attempted at once ([`submit`]): with real-time capacity on, the
//! chosen slot is re-checked and the job created (mapped business unit and job type, the
//! member's linked customer and location, the partner tag and campaign, our booking ID in
//! `externalData`); with capacity off, or when the tenant refuses the job, a call-centre
//! booking is created instead. If ServiceTitan does not answer within [`BOUNDED_WAIT`], the API
//! answers "pending" and the attempt goes on in the background (at most [`ATTEMPT_CAP`]); the
//! queue task ([`TaskKind::Booking`]) finishes whatever is left, looking the job up by `externalData`
//! before any create.
//!
//! Two bookings for one slot are serialized in-process (one lock per tenant and slot) and the
//! slot's capacity is re-read under that lock just before the create, so the last open slot
//! goes to exactly one of them. Across processes, the re-check alone narrows the race.
mod error;
pub mod flow;

use std::time::Duration;

use sea_orm::ConnectionTrait;

pub use crate::locks::KeyedLocks;
pub use error::BookingError;
pub use flow::{Attempted, Mode};

use crate::domain::booking::Slot;
use crate::state::AppState;
use crate::store::bookings::{self, Booking};
use crate::store::task_kind::TaskKind;
use crate::store::tasks::Enqueued;
use crate::store::{StoreResult, now_ms};

/// How long the API waits for ServiceTitan before answering "pending".
pub const BOUNDED_WAIT: Duration = Duration::from_secs(5);
/// The longest an API-started attempt may run in the background.
pub const ATTEMPT_CAP: Duration = Duration::from_secs(20);
/// When the queue task of a new booking is due if the API attempt is still running (after
/// [`ATTEMPT_CAP`], so the two never overlap).
pub const TASK_DEFER: Duration = Duration::from_secs(30);
/// Alternatives offered with a 409.
pub const MAX_ALTERNATIVES: usize = 3;
/// `externalData` key holding our booking ID on jobs.
pub const EXTERNAL_KEY: &str = "titanbridgeBookingId";

/// A booking-path tenant client for an integration: the process-wide client (shared tokens and
/// per-tenant limiter) with a short retry budget, so a capacity read survives a 429. A job or
/// booking create is never repeated blindly by the client (only a 429, which ServiceTitan did not
/// process, is); the booking's own retry first looks it up by `externalData` or `externalId`.
pub fn client(
    state: &AppState,
    integration: &crate::store::platform::Integration,
) -> Result<crate::servicetitan::TenantClient, BookingError> {
    state
        .tenant_client(integration)
        .map(|c| c.with_max_retries(2))
        .map_err(|e| BookingError::Permanent(e.to_string()))
}

/// The queue dedupe key (and lock key) of a booking.
pub fn task_key(booking_id: i64) -> String {
    TaskKind::Booking { booking_id }.dedupe_key()
}

/// Queues the attempt that finishes `booking_id`, due at `run_after_ms`.
pub async fn enqueue_task<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    booking_id: i64,
    run_after_ms: i64,
) -> StoreResult<Enqueued> {
    TaskKind::Booking { booking_id }
        .enqueue_at(db, integration_id, run_after_ms)
        .await
}

/// The default task due time for a new booking.
pub fn deferred_ms() -> i64 {
    now_ms() + TASK_DEFER.as_millis() as i64
}

/// What the API answers after at most [`BOUNDED_WAIT`].
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Finished (scheduled, requested or failed): the row.
    Finished(Booking),
    /// The slot is full; the booking is marked failed; open slots nearby.
    SlotTaken(Booking, Vec<Slot>),
    /// Still pending: the queue (or the background attempt) will finish it.
    Pending(Booking),
}

/// Attempts a freshly recorded booking, answering within [`BOUNDED_WAIT`].
pub async fn submit(state: &AppState, booking_id: i64) -> Result<Submitted, BookingError> {
    let bg_state = state.clone();
    let handle = tokio::spawn(async move {
        let r = tokio::time::timeout(
            ATTEMPT_CAP,
            flow::attempt(&bg_state, booking_id, Mode::Interactive),
        )
        .await
        .unwrap_or_else(|_| {
            Err(BookingError::Unavailable(
                "ServiceTitan did not answer in time".into(),
            ))
        });
        settle(&bg_state, booking_id, &r).await;
        r
    });
    let outcome = tokio::time::timeout(BOUNDED_WAIT, handle).await;
    let db = state.store.db();
    let row = bookings::get(db, booking_id)
        .await?
        .ok_or_else(|| BookingError::Permanent(format!("booking {booking_id} vanished")))?;
    Ok(match outcome {
        Ok(Ok(Ok(Attempted::SlotTaken(alts)))) => Submitted::SlotTaken(row, alts),
        _ if row.status == bookings::status::PENDING => Submitted::Pending(row),
        _ => Submitted::Finished(row),
    })
}

/// After the API's attempt: retire the queue task when done, or make it due now on failure.
async fn settle(state: &AppState, booking_id: i64, r: &Result<Attempted, BookingError>) {
    let db = state.store.db();
    let key = task_key(booking_id);
    let res = match r {
        Ok(_) => crate::store::tasks::retire_task(db, &key).await,
        Err(e) => {
            tracing::info!(booking_id, error = %e, "booking left pending for the queue");
            let noted = match e {
                BookingError::Permanent(reason) => bookings::finish(
                    db,
                    booking_id,
                    &bookings::Outcome::Failed {
                        reason: reason.clone(),
                    },
                )
                .await
                .map(|_| ()),
                other => bookings::note_error(db, booking_id, &other.to_string()).await,
            };
            match noted {
                Ok(()) => crate::store::tasks::expedite_task(db, &key).await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = res {
        tracing::warn!(booking_id, error = %e, "could not update the booking's queue task");
    }
}

/// Labels of a trade and condition (the codes when unknown).
pub fn labels(state: &AppState, trade: &str, condition: &str) -> (String, String) {
    let t = state.catalog.trade(trade);
    let c = t.and_then(|t| t.condition(condition));
    (
        t.map_or_else(|| trade.to_owned(), |t| t.label.clone()),
        c.map_or_else(|| condition.to_owned(), |c| c.label.clone()),
    )
}
