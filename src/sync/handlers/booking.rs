//! Finishes a pending booking (kind [`crate::booking::TASK_KIND`]): looks the job up by our
//! booking ID first, then books it (see [`crate::booking::flow`]). A booking that cannot be
//! made is recorded as failed (readable through the API) rather than left as a dead task.
use crate::booking::{self, BookingError, Mode};
use crate::store::tasks::Task;
use crate::sync::error::HandlerError;

use super::Run;

#[derive(serde::Deserialize)]
struct Payload {
    booking_id: i64,
}

pub(super) async fn run(job: &Run<'_>, task: &Task) -> Result<(), HandlerError> {
    let p: Payload = super::payload(task)?;
    let state = &job.ctx.state;
    match booking::flow::attempt(state, p.booking_id, Mode::Queued).await {
        Ok(_) => Ok(()),
        Err(BookingError::Permanent(reason)) => {
            let outcome = crate::store::bookings::Outcome::Failed {
                reason: reason.clone(),
            };
            crate::store::bookings::finish(state.store.db(), p.booking_id, &outcome).await?;
            tracing::warn!(booking_id = p.booking_id, %reason, "booking failed");
            Ok(())
        }
        Err(e) => {
            crate::store::bookings::note_error(state.store.db(), p.booking_id, &e.to_string())
                .await?;
            Err(HandlerError::retry(e.to_string()))
        }
    }
}
