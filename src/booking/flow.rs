//! One attempt at a pending booking: the job in the chosen slot, or the call-centre request.
//!
//! ServiceTitan calls on the happy path (capacity on, member already linked): one capacity
//! read (the re-check, whose wider window also yields the alternatives for a 409) and one job
//! create. An attempt after a failure first looks the job up by our booking ID in
//! `externalData`, so a create that reached ServiceTitan but whose answer was lost is found, not
//! repeated.
use crate::store::task_kind::TaskKind;
use std::time::Duration;

use chrono::Utc;

use super::{BookingError, EXTERNAL_KEY, MAX_ALTERNATIVES};
use crate::capacity::{CapacityQuery, future_open, read_fresh, tenant_key};
use crate::domain::booking::{ArrivalWindow, Slot, nearest, plan_appointment};
use crate::domain::mapping::CapacityMode;
use crate::servicetitan::{
    Address, Contact, ExternalData, JobAppointmentInput, ListQuery, NewBooking, NewJob,
    TenantClient,
};
use crate::state::AppState;
use crate::store::bookings::{self, Booking, Outcome, status};
use crate::store::platform::Integration;
use crate::store::{links, members, reminders};

/// How long an interactive attempt waits for a missing customer/location link.
const LINK_WAIT: Duration = Duration::from_secs(3);

/// Who is attempting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The API request that created the booking (first attempt; a taken slot is a 409).
    Interactive,
    /// The durable queue (a retry: look the job up first; a taken slot becomes a request).
    Queued,
}

/// What an attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// The booking is no longer pending: read its row.
    Done,
    /// The slot is full now; the booking is marked failed; these slots are open instead.
    SlotTaken(Vec<Slot>),
}

struct Ctx<'a> {
    state: &'a AppState,
    integration: Integration,
    client: TenantClient,
    booking: Booking,
    mode: Mode,
}

/// The lock key of a slot in a tenant.
fn slot_key(client: &TenantClient, slot: Slot) -> String {
    format!(
        "slot|{}|{}|{}",
        tenant_key(client),
        slot.start.timestamp(),
        slot.end.timestamp()
    )
}

/// Runs one attempt at booking `booking_id`.
pub async fn attempt(
    state: &AppState,
    booking_id: i64,
    mode: Mode,
) -> Result<Attempted, BookingError> {
    let _held = state.booking.locks.lock(&super::task_key(booking_id)).await;
    let db = state.store.db();
    let Some(booking) = bookings::get(db, booking_id).await? else {
        return Err(BookingError::Permanent(format!(
            "booking {booking_id} not found"
        )));
    };
    if booking.status != status::PENDING {
        return Ok(Attempted::Done);
    }
    let integration = crate::store::integrations::for_partner(db, booking.partner_id)
        .await?
        .ok_or_else(|| BookingError::Permanent("the partner has no integration".into()))?;
    if integration.state != crate::domain::onboarding::IntegrationState::Active.as_str() {
        return Err(BookingError::NotReady(format!(
            "integration is {}",
            integration.state
        )));
    }
    // Issue 16: a paused integration writes nothing; the queue task finishes it after resume.
    if integration.sync_paused_at.is_some() {
        return Err(BookingError::NotReady("sync is paused".into()));
    }
    let client = super::client(state, &integration)?;
    let ctx = Ctx {
        state,
        integration,
        client,
        booking,
        mode,
    };
    if mode == Mode::Queued
        && let Some(job_id) = find_job(&ctx).await?
    {
        tracing::info!(
            booking_id,
            job_id,
            "found the job an earlier attempt created"
        );
        return scheduled(&ctx, job_id).await;
    }
    let mapping = bookings::job_type_mapping(
        db,
        ctx.integration.id,
        &ctx.booking.trade,
        &ctx.booking.condition,
    )
    .await?;
    let slot = bookings::slot_of(&ctx.booking);
    let (Some((bu, jt)), Some(campaign), Some(slot), true) = (
        mapping,
        ctx.integration.campaign_id,
        slot,
        ctx.integration.capacity_enabled,
    ) else {
        return request(&ctx, mapping, "real-time capacity scheduling is off").await;
    };
    let (customer_id, location_id) = linked(&ctx).await?;
    let mode_name = ctx.integration.capacity_mode.as_deref().unwrap_or("");
    let q = CapacityQuery {
        business_unit_id: bu,
        job_type_id: jt,
        skill_based: mode_name
            .parse::<CapacityMode>()
            .is_ok_and(CapacityMode::skill_based),
    };
    let _slot_held = state.booking.locks.lock(&slot_key(&ctx.client, slot)).await;
    if let Err(alternatives) = recheck(&ctx, q, slot).await? {
        return match mode {
            Mode::Interactive => {
                let finished = Outcome::Failed {
                    reason: "slot taken: the slot filled before the job could be booked".into(),
                };
                bookings::finish(db, booking_id, &finished).await?;
                Ok(Attempted::SlotTaken(alternatives))
            }
            Mode::Queued => {
                request(
                    &ctx,
                    mapping,
                    "the chosen slot filled while ServiceTitan was unavailable",
                )
                .await
            }
        };
    }
    let body = new_job(&ctx, customer_id, location_id, bu, jt, campaign, slot);
    match ctx.client.create_job(&body).await {
        Ok(job) => {
            ctx.state.booking.cache.invalidate(&tenant_key(&ctx.client));
            scheduled(&ctx, job.id).await
        }
        Err(e) if e.is_retryable() => Err(BookingError::Unavailable(e.to_string())),
        Err(e) => {
            tracing::warn!(booking_id, error = %e, "ServiceTitan refused the job; sending a booking request");
            request(
                &ctx,
                mapping,
                &format!("ServiceTitan refused the job ({e})"),
            )
            .await
        }
    }
}

/// The job an earlier attempt created for this booking, found by `externalData`.
async fn find_job(ctx: &Ctx<'_>) -> Result<Option<i64>, BookingError> {
    let id = ctx.booking.id.to_string();
    let q = ListQuery::new()
        .external_data(ctx.client.application_guid(), EXTERNAL_KEY, &[&id])
        .page_size(5);
    let page = ctx.client.jobs_page(&q, 1).await?;
    Ok(page
        .data
        .iter()
        .find(|j| j.external(EXTERNAL_KEY) == Some(id.as_str()))
        .map(|j| j.id))
}

/// The member's ServiceTitan customer and location; queues the link when missing and (for the
/// API request) waits briefly for it.
async fn linked(ctx: &Ctx<'_>) -> Result<(i64, i64), BookingError> {
    let db = ctx.state.store.db();
    let iid = ctx.integration.id;
    let loc = members::location(db, ctx.booking.location_id)
        .await?
        .ok_or_else(|| BookingError::Permanent("service location deleted".into()))?;
    let read = || async {
        let c = links::st_id(db, iid, links::kind::CUSTOMER, loc.member_id).await?;
        let l = links::st_id(db, iid, links::kind::LOCATION, loc.id).await?;
        Ok::<_, BookingError>(c.zip(l))
    };
    if let Some(ids) = read().await? {
        return Ok(ids);
    }
    TaskKind::LinkMember {
        member_id: loc.member_id,
    }
    .enqueue(db, iid)
    .await?;
    if ctx.mode == Mode::Interactive {
        let until = tokio::time::Instant::now() + LINK_WAIT;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(ids) = read().await? {
                return Ok(ids);
            }
        }
    }
    Err(BookingError::NotReady(
        "linking the member's customer and location in ServiceTitan".into(),
    ))
}

/// Re-reads capacity around the slot: `Ok(Ok)` when it is still open, `Ok(Err(alternatives))`
/// when it is full. One call: the window covers the slot's day and the next three.
async fn recheck(
    ctx: &Ctx<'_>,
    q: CapacityQuery,
    slot: Slot,
) -> Result<Result<(), Vec<Slot>>, BookingError> {
    let now = Utc::now();
    let day = slot
        .start
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(slot.start);
    let from = day.max(now.min(slot.start));
    let to = (day + chrono::Duration::days(4)).max(slot.end);
    let rows = read_fresh(&ctx.client, q, from, to).await?;
    let open = future_open(&rows, now);
    if open.contains(&slot) {
        return Ok(Ok(()));
    }
    Ok(Err(nearest(&open, slot.start, MAX_ALTERNATIVES)))
}

fn new_job(
    ctx: &Ctx<'_>,
    customer_id: i64,
    location_id: i64,
    business_unit_id: i64,
    job_type_id: i64,
    campaign_id: i64,
    slot: Slot,
) -> NewJob {
    let plan = plan_appointment(slot, None);
    let b = &ctx.booking;
    NewJob {
        customer_id,
        location_id,
        business_unit_id,
        job_type_id,
        priority: "Normal".into(),
        campaign_id,
        appointments: vec![JobAppointmentInput {
            start: plan.start,
            end: plan.end,
            arrival_window_start: Some(plan.arrival_window.start),
            arrival_window_end: Some(plan.arrival_window.end),
            technician_ids: Vec::new(),
        }],
        summary: Some(summary_text(ctx, None)),
        tag_type_ids: ctx.integration.tag_type_id.into_iter().collect(),
        custom_fields: Vec::new(),
        external_data: Some(ExternalData::single(
            ctx.client.application_guid(),
            EXTERNAL_KEY,
            &b.id.to_string(),
        )),
    }
}

/// The text ServiceTitan shows: partner tag, service, the homeowner's words, our reference.
fn summary_text(ctx: &Ctx<'_>, note: Option<&str>) -> String {
    let b = &ctx.booking;
    let (trade, condition) = super::labels(ctx.state, &b.trade, &b.condition);
    let mut s = String::new();
    if let Some(tag) = &ctx.integration.tag_type_name {
        s.push_str(&format!("[{tag}] "));
    }
    s.push_str(&format!("{trade}: {condition}. {}", b.summary));
    if let Some(slot) = bookings::slot_of(b) {
        s.push_str(&format!(
            "\nRequested arrival: {} to {} (UTC)",
            slot.start.format("%Y-%m-%d %H:%M"),
            slot.end.format("%H:%M")
        ));
    }
    if let Some(n) = note {
        s.push_str(&format!("\nNote: {n}"));
    }
    s.push_str(&format!("\n[booking:{}]", b.id));
    s
}

/// Records a booking write in the activity log and as the integration's last sync (failures
/// are logged, never turned into a failed booking).
async fn log_write(ctx: &Ctx<'_>, kind: &'static str, st_id: i64) {
    use crate::store::activity::{self, NewActivity};
    let db = ctx.state.store.db();
    let iid = ctx.integration.id;
    let b = &ctx.booking;
    let written = async {
        if ctx.state.settings.sync.activity_log {
            let mut row = NewActivity::wrote(kind, Some(st_id))
                .location(Some(b.location_id))
                .field("booking", None::<String>, Some(b.id.to_string()));
            if let Some(l) = members::location(db, b.location_id).await? {
                row = row.member(l.member_id);
            }
            activity::record(db, iid, None, 0, vec![row]).await?;
        }
        crate::store::platform::touch_last_sync(db, iid).await
    };
    if let Err(e) = written.await {
        tracing::warn!(booking_id = b.id, error = %e, "could not record the booking write");
    }
}

/// Records the job, and queues the location's reminders so they attach to it.
async fn scheduled(ctx: &Ctx<'_>, job_id: i64) -> Result<Attempted, BookingError> {
    let db = ctx.state.store.db();
    let window = bookings::window_of(&ctx.booking)
        .or_else(|| bookings::slot_of(&ctx.booking).map(ArrivalWindow::for_slot));
    let Some(window) = window else {
        return Err(BookingError::Permanent(
            "scheduled booking has no slot".into(),
        ));
    };
    bookings::finish(db, ctx.booking.id, &Outcome::Scheduled { job_id, window }).await?;
    log_write(ctx, "job", job_id).await;
    if !reminders::open_at(db, ctx.booking.location_id)
        .await?
        .is_empty()
    {
        TaskKind::JobReminders {
            location_id: ctx.booking.location_id,
        }
        .enqueue(db, ctx.integration.id)
        .await?;
    }
    tracing::info!(booking_id = ctx.booking.id, job_id, "booking scheduled");
    Ok(Attempted::Done)
}

/// The booking provider tag bookings are created under: the one stored for the integration, or,
/// when none is stored yet, the tenant's only active booking provider tag (then stored). `Err`
/// holds the reason a booking cannot be requested.
async fn booking_provider(ctx: &Ctx<'_>) -> Result<Result<i64, String>, BookingError> {
    if let Some(id) = ctx.integration.booking_provider_id {
        return Ok(Ok(id));
    }
    use futures::TryStreamExt;
    let tags: Vec<crate::servicetitan::BookingProviderTag> = ctx
        .client
        .booking_provider_tags(ListQuery::new())
        .try_collect()
        .await
        .map_err(|e| BookingError::Unavailable(e.to_string()))?;
    let active: Vec<_> = tags.into_iter().filter(|t| t.active).collect();
    match active.as_slice() {
        [one] => {
            crate::store::integrations::set_booking_provider(
                ctx.state.store.db(),
                ctx.integration.id,
                one.id,
                &one.tag_name,
            )
            .await?;
            Ok(Ok(one.id))
        }
        [] => Ok(Err(
            "the tenant has no booking provider tag (Settings → Integrations → \
                      Booking Provider Tags in ServiceTitan)"
                .to_owned(),
        )),
        _ => Ok(Err(
            "the tenant has several booking provider tags: choose the one for \
                     titanbridge (PUT /api/v1/integrations/{id}/mappings/booking-provider)"
                .to_owned(),
        )),
    }
}

/// Hands the booking to the partner's call centre as a ServiceTitan booking (under the
/// integration's booking provider tag, `externalId` = our booking ID, tag name in the summary).
async fn request(
    ctx: &Ctx<'_>,
    mapping: Option<(i64, i64)>,
    why: &str,
) -> Result<Attempted, BookingError> {
    let db = ctx.state.store.db();
    let b = &ctx.booking;
    let provider = match booking_provider(ctx).await? {
        Ok(id) => id,
        Err(reason) => {
            bookings::finish(db, b.id, &Outcome::Failed { reason }).await?;
            return Ok(Attempted::Done);
        }
    };
    let loc = members::location(db, b.location_id)
        .await?
        .ok_or_else(|| BookingError::Permanent("service location deleted".into()))?;
    let member = members::get(db, loc.member_id)
        .await?
        .ok_or_else(|| BookingError::Permanent("member deleted".into()))?;
    let linked = links::st_id(db, ctx.integration.id, links::kind::CUSTOMER, member.id)
        .await?
        .is_some();
    let contacts = [
        member.phone.as_deref().map(|p| Contact::new("Phone", p)),
        member.email.as_deref().map(|e| Contact::new("Email", e)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let body = NewBooking {
        source: ctx
            .integration
            .tag_type_name
            .clone()
            .unwrap_or_else(|| "titanbridge".into()),
        name: format!("{} {}", member.first_name, member.last_name)
            .trim()
            .to_owned(),
        summary: summary_text(ctx, Some(why)),
        address: Address {
            street: loc.street.clone(),
            unit: loc.unit.clone(),
            city: loc.city.clone(),
            state: loc.state.clone(),
            zip: loc.zip.clone(),
            country: loc.country.clone(),
        },
        contacts,
        customer_type: "Residential".into(),
        start: bookings::slot_of(b).map(|s| s.start),
        is_first_time_client: !linked,
        external_id: b.id.to_string(),
        campaign_id: ctx.integration.campaign_id,
        business_unit_id: mapping.map(|m| m.0),
        job_type_id: mapping.map(|m| m.1),
        priority: Some("Normal".into()),
        is_send_confirmation_email: false,
    };
    // ServiceTitan accepts a second booking with the same externalId: an earlier attempt whose
    // answer was lost may have created it, so look for it first.
    let earlier = ctx
        .client
        .provider_bookings_by_external_id(provider, &body.external_id)
        .await
        .map_err(|e| BookingError::Unavailable(e.to_string()))?
        .into_iter()
        .find(|x| x.external_id.as_deref() == Some(body.external_id.as_str()));
    let created = match earlier {
        Some(found) => Ok(found),
        None => ctx.client.create_booking(provider, &body).await,
    };
    let booking_id = match created {
        Ok(created) => Some(created.id),
        Err(e) if e.is_retryable() => return Err(BookingError::Unavailable(e.to_string())),
        Err(e) => {
            let reason = format!("ServiceTitan refused the booking request: {e}");
            bookings::finish(db, b.id, &Outcome::Failed { reason }).await?;
            return Ok(Attempted::Done);
        }
    };
    bookings::finish(db, b.id, &Outcome::Requested { booking_id }).await?;
    if let Some(id) = booking_id {
        log_write(ctx, "booking", id).await;
    }
    tracing::info!(booking_id = b.id, st_booking_id = ?booking_id, why, "booking requested from the call centre");
    Ok(Attempted::Done)
}
