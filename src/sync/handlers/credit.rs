//! The location's Comfort Credit balance in the mapped location custom field. The balance is
//! read from the ledger when the task runs, so however many changes coalesced into this task,
//! the field converges to the ledger's sum.
use crate::domain::credits::format_balance;
use crate::servicetitan::{CustomFieldValue, LocationPatch};
use crate::store::{ledger, links, members};
use crate::sync::error::HandlerError;
use crate::sync::kinds;

use super::Run;

pub(super) async fn run(job: &Run<'_>, location_id: i64) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    let Some(field) = job.integration.credit_field_type_id else {
        tracing::debug!(
            integration_id = job.integration.id,
            "no credit field mapped"
        );
        return Ok(());
    };
    let Some(st_location) =
        links::st_id(db, job.integration.id, links::kind::LOCATION, location_id).await?
    else {
        let loc = members::location(db, location_id)
            .await?
            .ok_or_else(|| HandlerError::Permanent(format!("location {location_id} not found")))?;
        kinds::enqueue_link(db, job.integration.id, loc.member_id).await?;
        return Err(HandlerError::retry("waiting for the location link"));
    };
    let balance = ledger::balance(db, location_id).await?;
    let patch = LocationPatch {
        custom_fields: Some(vec![CustomFieldValue::new(field, format_balance(balance))]),
        ..LocationPatch::default()
    };
    job.client.patch_location(st_location, &patch).await?;
    tracing::debug!(location_id, balance, "credit balance written");
    Ok(())
}
