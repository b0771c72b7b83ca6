//! Effects of inbound ServiceTitan changes on our side. Each runs inside the transaction that
//! also records the change as seen and saves the stream's cursor.
//!
//! - a job (or appointment) at a member's location with open alerts queues its reminders;
//! - an invoice item of an eligible pricebook service records the Comfort Credit redemption
//!   in the ledger once per item (the unique source key), and queues the balance write;
//! - a customer membership's status is copied to the member;
//! - a location edit updates our service location; a location deleted in ServiceTitan is
//!   unlinked (and never created again);
//! - a call-centre booking that became a job is followed to that job.
//!
//! [`apply_batch`] takes a whole export batch: one statement records which changes are new,
//! one query per batch finds the bookings and linked locations the jobs touch, and only records
//! that concern us cost more.
use std::collections::{BTreeSet, HashMap};

use crate::store::task_kind::TaskKind;
use sea_orm::ConnectionTrait;

use crate::domain::credits::{
    CreditSource, InvoiceItem, credit_for_invoice_item, dollars_to_cents,
};
use crate::domain::reminders::JobStatus;
use crate::servicetitan::{Appointment, Booking, CustomerMembership, Invoice, Job, Location};
use crate::store::activity::NewActivity;
use crate::store::members::AddressEdit;
use crate::store::{StoreResult, ledger, links, members, reminders};

/// What an inbound effect needs to know about its integration.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Integration.
    pub integration_id: i64,
    /// Its partner (ledger source keys are unique per partner).
    pub partner_id: i64,
    /// Eligible pricebook service IDs.
    pub eligible: Vec<i64>,
}

/// One inbound record of any stream.
#[derive(Debug, Clone)]
pub enum Record {
    /// A job.
    Job(Job),
    /// An appointment.
    Appointment(Appointment),
    /// An invoice with its items.
    Invoice(Invoice),
    /// A customer membership.
    Membership(CustomerMembership),
    /// A location.
    Location(Location),
    /// A call-centre booking.
    Booking(Booking),
}

/// One inbound change: the record and whether it is still active (exports serve inactive and
/// deleted records with `active: false`).
#[derive(Debug, Clone)]
pub struct Change {
    /// The record.
    pub record: Record,
    /// `false` once deactivated or deleted in ServiceTitan.
    pub active: bool,
}

impl Record {
    /// ServiceTitan ID.
    pub fn id(&self) -> i64 {
        match self {
            Record::Job(r) => r.id,
            Record::Appointment(r) => r.id,
            Record::Invoice(r) => r.id,
            Record::Membership(r) => r.id,
            Record::Location(r) => r.id,
            Record::Booking(r) => r.id,
        }
    }

    /// `modifiedOn` as an RFC 3339 string (empty when absent) for deduplication.
    pub fn modified_on(&self) -> String {
        let m = match self {
            Record::Job(r) => r.modified_on,
            Record::Appointment(r) => r.modified_on,
            Record::Invoice(r) => r.modified_on,
            Record::Membership(r) => r.modified_on,
            Record::Location(r) => r.modified_on,
            Record::Booking(r) => r.modified_on,
        };
        m.map(|t| t.to_rfc3339()).unwrap_or_default()
    }
}

async fn queue_reminders_if_open<C: ConnectionTrait>(
    db: &C,
    s: &Scope,
    location_id: i64,
) -> StoreResult<bool> {
    if !reminders::open_at(db, location_id).await?.is_empty() {
        TaskKind::JobReminders { location_id }
            .enqueue(db, s.integration_id)
            .await?;
        return Ok(true);
    }
    Ok(false)
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Records in the batch.
    pub read: usize,
    /// Records not seen before (ID + `modifiedOn`), whose effects were applied.
    pub applied: usize,
}

/// The activity-log row of an inbound effect at one of our locations.
async fn at_location<C: ConnectionTrait>(
    db: &C,
    kind: &'static str,
    st_id: i64,
    location_id: i64,
) -> StoreResult<NewActivity> {
    let row = NewActivity::inbound(kind, Some(st_id)).location(Some(location_id));
    Ok(match members::location(db, location_id).await? {
        Some(l) => row.member(l.member_id),
        None => row,
    })
}

/// Applies a batch of one stream: records already seen (same ID and `modifiedOn`) are skipped,
/// the rest applied once. Runs inside the transaction that also saves the stream's cursor.
pub async fn apply_batch<C: ConnectionTrait>(
    db: &C,
    s: &Scope,
    stream: &str,
    changes: &[Change],
) -> StoreResult<(BatchOutcome, Vec<NewActivity>)> {
    let keys: Vec<(i64, String)> = changes
        .iter()
        .map(|c| (c.record.id(), c.record.modified_on()))
        .collect();
    let mut fresh =
        crate::store::cursors::mark_seen_batch(db, s.integration_id, stream, &keys).await?;
    // A batch may carry one record twice; apply the first occurrence of each version only.
    let new: Vec<&Change> = changes
        .iter()
        .zip(&keys)
        .filter(|(_, k)| fresh.remove(*k))
        .map(|(c, _)| c)
        .collect();
    let applied = new.len();
    let jobs: Vec<(&Job, bool)> = new
        .iter()
        .filter_map(|c| match &c.record {
            Record::Job(j) => Some((j, c.active)),
            _ => None,
        })
        .collect();
    let mut effects = Vec::new();
    if jobs.len() == new.len() {
        effects = apply_jobs(db, s, &jobs).await?;
    } else {
        for c in new {
            effects.extend(apply(db, s, c).await?);
        }
    }
    Ok((
        BatchOutcome {
            read: changes.len(),
            applied,
        },
        effects,
    ))
}

/// Jobs in bulk: one query for their bookings, one for their locations' links, then effects
/// only where there is a booking or a member location with open alerts.
async fn apply_jobs<C: ConnectionTrait>(
    db: &C,
    s: &Scope,
    jobs: &[(&Job, bool)],
) -> StoreResult<Vec<NewActivity>> {
    let ids: Vec<i64> = jobs.iter().map(|(j, _)| j.id).collect();
    let mut bookings: HashMap<i64, crate::store::bookings::Booking> =
        crate::store::bookings::by_st_jobs(db, s.partner_id, &ids)
            .await?
            .into_iter()
            .filter_map(|b| b.st_job_id.map(|j| (j, b)))
            .collect();
    let st_locs: Vec<i64> = jobs
        .iter()
        .map(|(j, _)| j.location_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let linked = links::local_ids(db, s.integration_id, links::kind::LOCATION, &st_locs).await?;
    let mut remind = BTreeSet::new();
    let mut effects = Vec::new();
    for (j, active) in jobs {
        // A deleted job is as good as cancelled: no booking waits on it, no reminders.
        let status = if *active {
            j.job_status.as_str()
        } else {
            "Canceled"
        };
        if let Some(b) = bookings.remove(&j.id) {
            crate::store::bookings::apply_to(db, b, Some(status), None).await?;
        }
        if *active
            && is_upcoming(j)
            && let Some(loc) = linked.get(&j.location_id)
            && remind.insert(*loc)
        {
            effects.push((j.id, *loc, j.job_status.clone()));
        }
    }
    let mut rows = Vec::new();
    for (job_id, loc, status) in effects {
        if queue_reminders_if_open(db, s, loc).await? {
            rows.push(
                at_location(db, "reminders_queued", job_id, loc)
                    .await?
                    .field("job status", None::<String>, Some(status)),
            );
        }
    }
    Ok(rows)
}

fn is_upcoming(j: &Job) -> bool {
    j.job_status
        .parse::<JobStatus>()
        .is_ok_and(JobStatus::is_upcoming)
}

/// Applies one change's effects; returns what it did, for the activity log.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    s: &Scope,
    change: &Change,
) -> StoreResult<Vec<NewActivity>> {
    let iid = s.integration_id;
    let active = change.active;
    let mut effects = Vec::new();
    match &change.record {
        Record::Job(j) => {
            // A deleted job is as good as cancelled: no booking waits on it, no reminders.
            let status = if active {
                j.job_status.as_str()
            } else {
                "Canceled"
            };
            crate::store::bookings::apply_job_status(db, iid, j.id, Some(status), None).await?;
            if active
                && is_upcoming(j)
                && let Some(loc) =
                    links::local_id(db, iid, links::kind::LOCATION, j.location_id).await?
                && queue_reminders_if_open(db, s, loc).await?
            {
                effects.push(at_location(db, "reminders_queued", j.id, loc).await?.field(
                    "job status",
                    None::<String>,
                    Some(j.job_status.clone()),
                ));
            }
        }
        Record::Appointment(_) if !active => {}
        Record::Appointment(a) => {
            let window = a.arrival_window_start.zip(a.arrival_window_end);
            let window =
                window.map(|(start, end)| crate::domain::booking::ArrivalWindow { start, end });
            crate::store::bookings::apply_job_status(db, iid, a.job_id, None, window).await?;
            if let Some(member) =
                links::local_id(db, iid, links::kind::CUSTOMER, a.customer_id).await?
            {
                for loc in members::locations_of(db, member).await? {
                    if queue_reminders_if_open(db, s, loc.id).await? {
                        effects.push(
                            NewActivity::inbound("reminders_queued", Some(a.job_id))
                                .member(member)
                                .location(Some(loc.id)),
                        );
                    }
                }
            }
        }
        Record::Invoice(inv) => {
            let Some(st_loc) = inv.location.as_ref().map(|l| l.id) else {
                return Ok(effects);
            };
            let Some(loc) = links::local_id(db, iid, links::kind::LOCATION, st_loc).await? else {
                return Ok(effects);
            };
            let mut changed = false;
            for item in &inv.items {
                let Some(total_cents) = dollars_to_cents(item.total) else {
                    continue;
                };
                let di = InvoiceItem {
                    id: item.id,
                    sku_id: Some(item.sku_id).filter(|id| *id != 0),
                    item_type: item.kind.clone(),
                    total_cents,
                    sku_name: item.sku_name.clone(),
                };
                if let Some(d) = credit_for_invoice_item(inv.id, &di, |id| s.eligible.contains(&id))
                {
                    let amount = d.amount;
                    let (_, new) = ledger::append(
                        db,
                        &ledger::NewEntry {
                            partner_id: s.partner_id,
                            location_id: loc,
                            amount: d.amount,
                            reason: d.reason,
                            source_key: d.source.dedupe_key(),
                        },
                    )
                    .await?;
                    if new {
                        effects.push(
                            at_location(db, "credit_redemption", inv.id, loc)
                                .await?
                                .field("credits", None::<String>, Some(amount.to_string())),
                        );
                    }
                    changed |= new;
                }
            }
            if changed {
                TaskKind::CreditBalance { location_id: loc }
                    .enqueue(db, iid)
                    .await?;
            }
        }
        Record::Membership(m) => {
            let member = match links::local_id(db, iid, links::kind::MEMBERSHIP, m.id).await? {
                Some(id) => Some(id),
                None => links::local_id(db, iid, links::kind::CUSTOMER, m.customer_id).await?,
            };
            if let Some(member) = member {
                let status = if active { m.status.as_str() } else { "Deleted" };
                let before = members::get(db, member)
                    .await?
                    .and_then(|x| x.membership_status);
                if before.as_deref() != Some(status) {
                    members::set_membership_status(db, member, status).await?;
                    effects.push(
                        NewActivity::inbound("membership_status", Some(m.id))
                            .member(member)
                            .field("status", before, Some(status.to_owned())),
                    );
                }
            }
        }
        Record::Location(l) if !active => {
            for loc in links::move_kind(
                db,
                iid,
                links::kind::LOCATION,
                l.id,
                links::kind::LOCATION_DELETED,
            )
            .await?
            {
                tracing::info!(
                    integration_id = iid,
                    location_id = loc,
                    st_location_id = l.id,
                    "location deleted in ServiceTitan: unlinked"
                );
                effects.push(at_location(db, "location_deleted", l.id, loc).await?);
            }
        }
        Record::Booking(b) => {
            let Some(job_id) = b.job_id.filter(|j| *j != 0) else {
                return Ok(effects);
            };
            for ours in crate::store::bookings::by_st_bookings(db, s.partner_id, &[b.id]).await? {
                crate::store::bookings::follow_to_job(db, &ours, job_id).await?;
            }
        }
        Record::Location(l) => {
            if let (Some(loc), Some(a)) = (
                links::local_id(db, iid, links::kind::LOCATION, l.id).await?,
                l.address.as_ref(),
            ) {
                let edit = AddressEdit {
                    name: l.name.clone(),
                    street: a.street.clone(),
                    unit: a.unit.clone(),
                    city: a.city.clone(),
                    state: a.state.clone(),
                    zip: a.zip.clone(),
                };
                // Only a real change is an effect (our own writes come back unchanged).
                if members::apply_location_edit(db, loc, &edit).await? {
                    effects.push(at_location(db, "location_edit", l.id, loc).await?.field(
                        "street",
                        None::<String>,
                        Some(a.street.clone()),
                    ));
                }
            }
        }
    }
    Ok(effects)
}

/// The ledger source key an invoice item would use (for tests and the ops console).
pub fn invoice_item_source(invoice_id: i64, item_id: i64) -> String {
    CreditSource::InvoiceItem {
        invoice_id,
        item_id,
    }
    .dedupe_key()
}
