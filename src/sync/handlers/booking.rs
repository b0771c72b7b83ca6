//! Finishes a pending booking (task kind `booking`): looks the job up by our
//! booking ID first, then books it (see [`crate::booking::flow`]). A booking that cannot be
//! made is recorded as failed (readable through the API) rather than left as a dead task.
use crate::booking::{self, BookingError, Mode};
use crate::sync::error::HandlerError;

use super::Run;

pub(super) async fn run(job: &Run<'_>, booking_id: i64) -> Result<(), HandlerError> {
    let state = &job.ctx.state;
    match booking::flow::attempt(state, booking_id, Mode::Queued).await {
        Ok(_) => Ok(()),
        Err(BookingError::Permanent(reason)) => {
            let outcome = crate::store::bookings::Outcome::Failed {
                reason: reason.clone(),
            };
            crate::store::bookings::finish(state.store.db(), booking_id, &outcome).await?;
            tracing::warn!(booking_id = booking_id, %reason, "booking failed");
            Ok(())
        }
        Err(e) => {
            crate::store::bookings::note_error(state.store.db(), booking_id, &e.to_string())
                .await?;
            Err(HandlerError::retry(e.to_string()))
        }
    }
}
