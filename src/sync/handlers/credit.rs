//! The location's Comfort Credit balance in the mapped location custom field. The balance is
//! read from the ledger when the task runs, so however many changes coalesced into this task,
//! the field converges to the ledger's sum.
//!
//! ServiceTitan's location PATCH replaces the whole `customFields` list, so the write is a
//! read-merge-write that changes our field alone and keeps every other value exactly. The
//! ledger is summed before anything is read. The location is read, the merged list built, and
//! the location read once more just before the write: if a contractor changed it in between,
//! the merge is rebuilt from that fresh read. The PATCH answer (the location as written) is
//! checked to carry our value and every other value we kept. What remains is the single round
//! trip between the last read and the write, which no client can close: ServiceTitan offers no
//! conditional write.
use crate::domain::credits::format_balance;
use crate::servicetitan::{LocationPatch, merged_custom_fields};
use crate::store::activity::NewActivity;
use crate::store::task_kind::TaskKind;
use crate::store::{ledger, links, members};
use crate::sync::error::HandlerError;

use super::Run;

/// Merges after which a location that keeps changing under us is retried later.
const MAX_WRITES: usize = 3;

pub(super) async fn run(job: &Run<'_>, location_id: i64) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    let Some(field) = job.integration.credit_field_type_id else {
        tracing::debug!(
            integration_id = job.integration.id,
            "no credit field mapped"
        );
        return Ok(());
    };
    let (balance, st_location) =
        ledger::balance_and_st_location(db, job.integration.id, location_id).await?;
    let Some(st_location) = st_location else {
        if links::st_id(
            db,
            job.integration.id,
            links::kind::LOCATION_DELETED,
            location_id,
        )
        .await?
        .is_some()
        {
            tracing::info!(
                location_id,
                "location deleted in ServiceTitan; no credit write"
            );
            return Ok(());
        }
        let loc = members::location(db, location_id)
            .await?
            .ok_or_else(|| HandlerError::Permanent(format!("location {location_id} not found")))?;
        TaskKind::LinkMember {
            member_id: loc.member_id,
        }
        .enqueue(db, job.integration.id)
        .await?;
        return Err(HandlerError::retry("waiting for the location link"));
    };
    let wanted = format_balance(balance);
    let mut current = job.client.location(st_location).await?;
    for _ in 0..MAX_WRITES {
        if current.custom_field(field) == Some(wanted.as_str()) {
            tracing::debug!(location_id, balance = %wanted, "credit balance in place");
            return Ok(());
        }
        let merged = merged_custom_fields(&current.custom_fields, field, &wanted);
        let fresh = job.client.location(st_location).await?;
        if fresh.custom_fields != current.custom_fields || fresh.modified_on != current.modified_on
        {
            tracing::info!(
                location_id,
                "location changed while we merged; merging again"
            );
            current = fresh;
            continue;
        }
        let patch = LocationPatch {
            custom_fields: Some(merged.clone()),
            ..LocationPatch::default()
        };
        let written = job.client.patch_location(st_location, &patch).await?;
        job.wrote(
            NewActivity::wrote("credit_balance", Some(st_location))
                .location(Some(location_id))
                .field(
                    "credit balance",
                    current.custom_field(field).map(str::to_owned),
                    Some(wanted.clone()),
                ),
        );
        let kept = merged
            .iter()
            .all(|f| written.custom_field(f.type_id) == Some(f.value.as_str()));
        if kept {
            tracing::debug!(location_id, balance = %wanted, "credit balance written");
            return Ok(());
        }
        current = written;
    }
    Err(HandlerError::retry(format!(
        "the custom fields of location {st_location} kept changing under us ({MAX_WRITES} tries)"
    )))
}
