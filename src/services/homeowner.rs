//! The per-homeowner sync view: for one member of the integration's partner, its ServiceTitan
//! customer and location IDs, membership, Comfort Credit balance here and as last written
//! there, open alerts, notes written and bookings, each with the time of its last sync.
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::domain::credits::format_balance;
use crate::state::AppState;
use crate::store::activity::{self, Activity, Filter};
use crate::store::entities::integration;
use crate::store::{StoreError, homeowner, ledger, links, members, reminders};

use super::ServiceError;
use super::sync_control::ActivityView;

/// A member found by the search box.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberHit {
    /// Our member ID.
    pub id: i64,
    /// The platform's member ID.
    pub external_id: String,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
}

/// One service location of the member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LocationView {
    /// Our location ID.
    pub id: i64,
    /// Name and street.
    pub label: String,
    /// Its ServiceTitan location.
    pub st_location_id: Option<i64>,
    /// Comfort Credit balance in our ledger.
    pub balance_here: String,
    /// The balance as last written to ServiceTitan (from the activity log).
    pub balance_written: Option<String>,
    /// When it was written.
    pub balance_written_at: Option<DateTime<Utc>>,
    /// Open device alerts (kind and since).
    pub open_alerts: Vec<String>,
}

/// A booking of the member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BookingView {
    /// Our booking ID.
    pub id: i64,
    /// Status.
    pub status: String,
    /// ServiceTitan job, when scheduled.
    pub st_job_id: Option<i64>,
    /// ServiceTitan call-centre booking, when requested.
    pub st_booking_id: Option<i64>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Everything the per-homeowner page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HomeownerView {
    /// The member.
    pub member: MemberHit,
    /// Its ServiceTitan customer.
    pub st_customer_id: Option<i64>,
    /// Its ServiceTitan customer membership.
    pub st_membership_id: Option<i64>,
    /// The plan here.
    pub plan_code: Option<String>,
    /// The membership status read back from ServiceTitan.
    pub membership_status: Option<String>,
    /// Locations.
    pub locations: Vec<LocationView>,
    /// Bookings, newest first.
    pub bookings: Vec<BookingView>,
    /// Notes written to jobs (activity rows), newest first.
    pub notes: Vec<ActivityView>,
    /// The member's latest activity, newest first.
    pub activity: Vec<ActivityView>,
    /// The last successful write for this member.
    pub last_sync_at: Option<DateTime<Utc>>,
}

fn hit(m: &members::Member) -> MemberHit {
    MemberHit {
        id: m.id,
        external_id: m.external_id.clone(),
        name: format!("{} {}", m.first_name, m.last_name)
            .trim()
            .to_owned(),
        email: m.email.clone(),
    }
}

/// A time from the log's milliseconds.
pub fn at(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Members of the integration's partner matching `q` (name, email or member ID).
pub async fn search(
    state: &AppState,
    row: &integration::Model,
    q: &str,
) -> Result<Vec<MemberHit>, ServiceError> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    let found = homeowner::search(state.store.db(), row.partner_id, q, 50).await?;
    Ok(found.iter().map(hit).collect())
}

/// The view of member `member_id` (404 when it is not the integration's partner's).
pub async fn view(
    state: &AppState,
    row: &integration::Model,
    member_id: i64,
) -> Result<HomeownerView, ServiceError> {
    let db = state.store.db();
    let iid = row.id;
    let m = members::get(db, member_id)
        .await?
        .filter(|m| m.partner_id == row.partner_id)
        .ok_or(StoreError::NotFound("member"))?;
    let mut locations = Vec::new();
    let locs = members::locations_of(db, m.id).await?;
    for l in &locs {
        let written = last_for_location(state, iid, m.id, l.id, "credit_balance").await?;
        let balance_written = written.as_ref().and_then(|a| {
            let f: serde_json::Value = serde_json::from_str(a.fields.as_deref()?).ok()?;
            f["credit balance"]["after"].as_str().map(str::to_owned)
        });
        locations.push(LocationView {
            id: l.id,
            label: format!("{}: {}", l.name, l.street),
            st_location_id: links::st_id(db, iid, links::kind::LOCATION, l.id).await?,
            balance_here: format_balance(ledger::balance(db, l.id).await?),
            balance_written,
            balance_written_at: written.and_then(|a| at(a.at_ms)),
            open_alerts: reminders::open_at(db, l.id)
                .await?
                .into_iter()
                .map(|r| {
                    format!(
                        "{} since {}",
                        r.alert,
                        r.opened_at.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .collect(),
        });
    }
    let ids: Vec<i64> = locs.iter().map(|l| l.id).collect();
    let bookings = homeowner::bookings_at(db, &ids)
        .await?
        .into_iter()
        .map(|b| BookingView {
            id: b.id,
            status: b.status,
            st_job_id: b.st_job_id,
            st_booking_id: b.st_booking_id,
            updated_at: b.updated_at,
        })
        .collect();
    let of_member = |kind: Option<&str>| Filter {
        member_id: Some(m.id),
        kind: kind.map(str::to_owned),
        ..Filter::default()
    };
    let notes = activity::list(db, iid, &of_member(Some("reminder_note")), 1, 50)
        .await?
        .rows;
    let recent = activity::list(db, iid, &of_member(None), 1, 50).await?.rows;
    let last_sync_at = recent
        .iter()
        .find(|a| a.direction == activity::direction::OUT && a.result == activity::result::OK)
        .and_then(|a| at(a.at_ms));
    Ok(HomeownerView {
        member: hit(&m),
        st_customer_id: links::st_id(db, iid, links::kind::CUSTOMER, m.id).await?,
        st_membership_id: links::st_id(db, iid, links::kind::MEMBERSHIP, m.id).await?,
        plan_code: m.plan_code.clone(),
        membership_status: m.membership_status.clone(),
        locations,
        bookings,
        notes: notes.into_iter().map(ActivityView::from).collect(),
        activity: recent.into_iter().map(ActivityView::from).collect(),
        last_sync_at,
    })
}

async fn last_for_location(
    state: &AppState,
    iid: i64,
    member_id: i64,
    location_id: i64,
    kind: &str,
) -> Result<Option<Activity>, ServiceError> {
    let rows = activity::list(
        state.store.db(),
        iid,
        &Filter {
            member_id: Some(member_id),
            kind: Some(kind.to_owned()),
            result: Some(activity::result::OK.to_owned()),
            ..Filter::default()
        },
        1,
        100,
    )
    .await?;
    Ok(rows
        .rows
        .into_iter()
        .find(|a| a.location_id == Some(location_id)))
}
