//! Effects of inbound ServiceTitan changes on our side. Each runs inside the transaction that
//! also records the change as seen and saves the stream's cursor.
//!
//! - a job (or appointment) at a member's location with open alerts queues its reminders;
//! - an invoice item of an eligible pricebook service records the Comfort Credit redemption
//!   in the ledger once per item (the unique source key), and queues the balance write;
//! - a customer membership's status is copied to the member;
//! - a location edit updates our service location.
use crate::store::task_kind::TaskKind;
use sea_orm::ConnectionTrait;

use crate::domain::credits::{
    CreditSource, InvoiceItem, credit_for_invoice_item, dollars_to_cents,
};
use crate::domain::reminders::JobStatus;
use crate::servicetitan::{Appointment, CustomerMembership, Invoice, Job, Location};
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

/// Applies one record's effects; returns what it did, for the activity log.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    s: &Scope,
    record: &Record,
) -> StoreResult<Vec<NewActivity>> {
    let iid = s.integration_id;
    let mut effects = Vec::new();
    match record {
        Record::Job(j) => {
            crate::store::bookings::apply_job_status(db, iid, j.id, Some(&j.job_status), None)
                .await?;
            let upcoming = j
                .job_status
                .parse::<JobStatus>()
                .is_ok_and(JobStatus::is_upcoming);
            if upcoming
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
                let before = members::get(db, member)
                    .await?
                    .and_then(|x| x.membership_status);
                if before.as_deref() != Some(m.status.as_str()) {
                    members::set_membership_status(db, member, &m.status).await?;
                    effects.push(
                        NewActivity::inbound("membership_status", Some(m.id))
                            .member(member)
                            .field("status", before, Some(m.status.clone())),
                    );
                }
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
