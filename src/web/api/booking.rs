//! Booking endpoints of the platform API (under `/api/v1/platform`, partner bearer token):
//!
//! - `GET  /locations/{location id}/availability?trade=&condition=&from=&to=`: open slots
//!   (start, end, arrival window) from ServiceTitan's capacity for the mapped business unit and
//!   job type (`from`/`to`: dates or RFC 3339 times; default the next 7 days; at most 31 days).
//!   Dates are days on the tenant's calendar (its offset comes from the capacity answer), and
//!   each slot also carries `local_start`/`local_end` on the tenant's wall clock.
//!   With capacity scheduling off: `mode = "request"` and no slots.
//! - `POST /locations/{location id}/bookings` with an `Idempotency-Key` header and
//!   `{"trade","condition","summary","slot":{"start","end"}}` (`slot` optional when capacity is
//!   off: a preferred time). 201 scheduled/requested, 202 pending (ServiceTitan slow or down;
//!   finished by the queue), 409 `slot_taken` with `alternatives`, 422 naming the field, 502
//!   `booking_failed` when ServiceTitan refused both the job and the booking request. The
//!   same key again answers with the same booking (200, `Idempotent-Replay: true`).
//! - `GET  /bookings/{booking id}`: the booking's current state.
use crate::web::input::{JsonBody, QUOTE_MAX, QueryParams, truncate};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::booking::{self, BookingError, Submitted};
use crate::capacity::{CapacityQuery, open_in_range};
use crate::domain::booking::{ArrivalWindow, Slot};
use crate::domain::limits;
use crate::domain::mapping::CapacityMode;
use crate::state::AppState;
use crate::store::bookings::{self, Booking, NewBooking};
use crate::store::members::{self, ServiceLocation};
use crate::store::platform::Integration;
use crate::web::api::platform::PartnerAuth;
use crate::web::error::{ApiError, FieldError};

fn bound(e: limits::OutOfBounds) -> FieldError {
    FieldError {
        field: e.field.to_owned(),
        message: e.message,
    }
}

/// Registers the booking routes inside the platform scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/locations/{location_id}/availability",
        web::get().to(availability),
    )
    .route("/locations/{location_id}/bookings", web::post().to(book))
    .route("/bookings/{booking_id}", web::get().to(get_booking));
}

fn slot_json(s: Slot) -> Value {
    let w = ArrivalWindow::for_slot(s);
    json!({"start": s.start, "end": s.end, "arrival_window": {"start": w.start, "end": w.end}})
}

/// A slot with its times also on the tenant's wall clock, once the tenant's offset is known.
fn local_slot_json(s: Slot, offset: Option<i32>) -> Value {
    let mut v = slot_json(s);
    if let Some(o) = offset {
        v["local_start"] = json!(crate::domain::booking::tenant_wall_clock(s.start, o));
        v["local_end"] = json!(crate::domain::booking::tenant_wall_clock(s.end, o));
    }
    v
}

/// `YYYY-MM-DD` (a day on the tenant's calendar), not a time.
fn date_only(raw: &Option<String>) -> Option<chrono::NaiveDate> {
    NaiveDate::parse_from_str(raw.as_deref()?.trim(), "%Y-%m-%d").ok()
}

fn booking_json(b: &Booking, location_external_id: &str) -> Value {
    json!({
        "booking_id": b.id,
        "status": b.status,
        "location_id": location_external_id,
        "trade": b.trade,
        "condition": b.condition,
        "summary": b.summary,
        "slot": bookings::slot_of(b).map(|s| json!({"start": s.start, "end": s.end})),
        "arrival_window": bookings::window_of(b).map(|w| json!({"start": w.start, "end": w.end})),
        "servicetitan_job_id": b.st_job_id,
        "servicetitan_booking_id": b.st_booking_id,
        "last_error": b.last_error,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
    })
}

async fn location(
    state: &AppState,
    partner_id: i64,
    raw: &str,
) -> Result<ServiceLocation, ApiError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 100 {
        return Err(ApiError::field(
            "location_id",
            "must be 1 to 100 characters",
        ));
    }
    members::location_by_external(state.store.db(), partner_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("location '{id}'")))
}

async fn active_integration(state: &AppState, partner_id: i64) -> Result<Integration, ApiError> {
    match crate::store::integrations::for_partner(state.store.db(), partner_id).await? {
        Some(i) if i.state == crate::domain::onboarding::IntegrationState::Active.as_str() => Ok(i),
        Some(i) => Err(ApiError::Conflict {
            message: format!(
                "the ServiceTitan integration is {}; bookings open once it is active",
                i.state
            ),
            allowed: vec![],
        }),
        None => Err(ApiError::Conflict {
            message: "this partner has no ServiceTitan integration".into(),
            allowed: vec![],
        }),
    }
}

/// Checks trade and condition against the catalogue.
fn check_service(state: &AppState, trade: &str, condition: &str, errors: &mut Vec<FieldError>) {
    let cat = &state.catalog;
    let err = |field: &str, message: String| FieldError {
        field: field.into(),
        message,
    };
    match cat.trade(trade) {
        None if !trade.is_empty() => {
            let known: Vec<&str> = cat.trades().iter().map(|t| t.code.as_str()).collect();
            errors.push(err(
                "trade",
                format!(
                    "unknown trade '{}' (known: {})",
                    truncate(trade, QUOTE_MAX),
                    known.join(", ")
                ),
            ));
        }
        Some(t) if !condition.is_empty() && t.condition(condition).is_none() => {
            let known: Vec<&str> = t.conditions.iter().map(|c| c.code.as_str()).collect();
            errors.push(err(
                "condition",
                format!(
                    "unknown condition '{}' for trade '{trade}' (known: {})",
                    truncate(condition, QUOTE_MAX),
                    known.join(", ")
                ),
            ));
        }
        _ => {}
    }
}

fn required(v: &Option<String>, field: &str, errors: &mut Vec<FieldError>) -> String {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => {
            errors.push(FieldError {
                field: field.into(),
                message: "is required".into(),
            });
            String::new()
        }
    }
}

/// A date (`2025-06-02`, midnight UTC) or an RFC 3339 time.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

/// Refuses (trade, condition) when the contractor marked it not offered (422 on `condition`).
async fn check_offered(
    state: &AppState,
    partner: &crate::store::platform::Partner,
    integ: &Integration,
    trade: &str,
    condition: &str,
) -> Result<(), ApiError> {
    let pairs = crate::store::mappings::not_offered_pairs(state.store.db(), integ.id).await?;
    crate::domain::mapping::check_offered(&state.catalog, &pairs, &partner.name, trade, condition)
        .map_err(|e| ApiError::field("condition", e.to_string()))
}

fn mapping_error(trade: &str, condition: &str) -> ApiError {
    ApiError::field(
        "condition",
        format!(
            "'{trade}/{condition}' is not mapped to a ServiceTitan business unit and job type by this partner"
        ),
    )
}

fn upstream(e: BookingError) -> ApiError {
    match e {
        BookingError::Store(s) => ApiError::from(s),
        BookingError::Permanent(m) => ApiError::Upstream(m),
        other => ApiError::Upstream(other.to_string()),
    }
}

/// Query of the availability endpoint.
#[derive(Debug, Deserialize)]
struct AvailabilityQuery {
    trade: Option<String>,
    condition: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn availability(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    path: web::Path<String>,
    query: QueryParams<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let partner = auth.0;
    let mut errors = Vec::new();
    let trade = required(&query.trade, "trade", &mut errors);
    let condition = required(&query.condition, "condition", &mut errors);
    check_service(&state, &trade, &condition, &mut errors);
    let now = Utc::now();
    let mut time = |field: &str, raw: &Option<String>, default: DateTime<Utc>| match raw {
        None => Some(default),
        Some(s) => {
            let t = parse_time(s);
            if t.is_none() {
                errors.push(FieldError {
                    field: field.into(),
                    message: "must be a date (YYYY-MM-DD) or an RFC 3339 time".into(),
                });
            }
            t
        }
    };
    let from = time("from", &query.from, now);
    let to = from.and_then(|f| time("to", &query.to, f + Duration::days(7)));
    if let (Some(f), Some(t)) = (from, to)
        && let Err(e) = limits::availability_window(f, t, now)
    {
        errors.push(bound(e));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::Internal("validated range missing".into()));
    };
    let loc = location(&state, partner.id, &path).await?;
    let integ = active_integration(&state, partner.id).await?;
    check_offered(&state, &partner, &integ, &trade, &condition).await?;
    let base = json!({"location_id": loc.external_id, "trade": trade, "condition": condition,
                      "from": from, "to": to});
    if !integ.capacity_enabled {
        let mut body = base;
        body["mode"] = json!("request");
        body["slots"] = json!([]);
        return Ok(HttpResponse::Ok().json(body));
    }
    let db = state.store.db();
    let (bu, jt) = bookings::job_type_mapping(db, integ.id, &trade, &condition)
        .await?
        .ok_or_else(|| mapping_error(&trade, &condition))?;
    let mode = integ
        .capacity_mode
        .as_deref()
        .and_then(|m| m.parse::<CapacityMode>().ok())
        .unwrap_or(CapacityMode::BusinessUnit);
    let q = CapacityQuery {
        business_unit_id: bu,
        job_type_id: jt,
        skill_based: mode.skill_based(),
    };
    let client = crate::booking::client(&state, &integ).map_err(upstream)?;
    // Dates are days on the tenant's calendar: from its midnight to its midnight. Until a
    // capacity answer has shown the tenant's offset, read 14 hours either side (every offset
    // there is) and keep what falls inside once the answer shows it.
    let tenant = crate::capacity::tenant_key(&client);
    let cache = &state.booking.cache;
    let (from_day, to_day) = (date_only(&query.from), date_only(&query.to));
    let bounds = |offset: Option<i32>| {
        let lo = match (from_day, offset) {
            (Some(d), Some(o)) => crate::domain::booking::tenant_midnight(d, o),
            (Some(_), None) => from - Duration::hours(14),
            _ => from,
        };
        let hi = match (to_day, offset) {
            (Some(d), Some(o)) => crate::domain::booking::tenant_midnight(d, o),
            (Some(_), None) => to + Duration::hours(14),
            _ => to,
        };
        (lo, hi)
    };
    let (lo, hi) = bounds(cache.utc_offset(&tenant));
    // The capacity range starts on the hour, so repeated requests share a cache entry.
    let start = lo.max(now);
    let start = start
        .date_naive()
        .and_hms_opt(start.hour(), 0, 0)
        .map_or(start, |t| t.and_utc());
    let (slots, cached) = open_in_range(cache, &client, q, start, hi, now)
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    let offset = cache.utc_offset(&tenant);
    let (lo, hi) = bounds(offset);
    let slots = slots.into_iter().filter(|s| s.start >= lo && s.start < hi);
    let mut body = base;
    body["mode"] = json!("capacity");
    body["capacity_mode"] = json!(mode.as_str());
    body["cached"] = json!(cached);
    body["utc_offset_minutes"] = json!(offset);
    body["slots"] = Value::Array(slots.map(|s| local_slot_json(s, offset)).collect());
    Ok(HttpResponse::Ok().json(body))
}

/// Body of the book endpoint.
#[derive(Debug, Deserialize)]
struct BookBody {
    trade: Option<String>,
    condition: Option<String>,
    summary: Option<String>,
    slot: Option<SlotBody>,
}

#[derive(Debug, Deserialize)]
struct SlotBody {
    start: Option<String>,
    end: Option<String>,
}

fn parse_slot(slot: Option<&SlotBody>, errors: &mut Vec<FieldError>) -> Option<Slot> {
    let s = slot?;
    let mut one = |field: &str, v: &Option<String>| {
        let t = v
            .as_deref()
            .and_then(|x| DateTime::parse_from_rfc3339(x.trim()).ok());
        if t.is_none() {
            errors.push(FieldError {
                field: format!("slot.{field}"),
                message: "is required as an RFC 3339 time".into(),
            });
        }
        t.map(|t| t.with_timezone(&Utc))
    };
    let start = one("start", &s.start);
    let end = one("end", &s.end);
    let (start, end) = (start?, end?);
    if let Err(e) = limits::booking_slot(start, end, Utc::now()) {
        errors.push(bound(e));
        return None;
    }
    Some(Slot { start, end })
}

fn respond(b: &Booking, loc: &ServiceLocation, status: StatusCode, replay: bool) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    if replay {
        r.insert_header(("Idempotent-Replay", "true"));
    }
    r.json(booking_json(b, &loc.external_id))
}

fn status_for(b: &Booking, replay: bool) -> StatusCode {
    match b.status.as_str() {
        bookings::status::PENDING => StatusCode::ACCEPTED,
        _ if replay => StatusCode::OK,
        _ => StatusCode::CREATED,
    }
}

fn slot_taken(b: &Booking, loc: &ServiceLocation, alternatives: Vec<Slot>) -> HttpResponse {
    HttpResponse::Conflict().json(json!({
        "error": {
            "code": "slot_taken",
            "message": "the chosen slot is no longer available; choose another",
            "alternatives": alternatives.into_iter().map(slot_json).collect::<Vec<_>>(),
        },
        "booking": booking_json(b, &loc.external_id),
    }))
}

/// Answers a repeated Idempotency-Key with the booking it made (waiting briefly while that
/// booking's first attempt is still running).
async fn replay(
    state: &AppState,
    b: Booking,
    loc: &ServiceLocation,
) -> Result<HttpResponse, ApiError> {
    let mut b = b;
    if b.status == bookings::status::PENDING {
        let key = booking::task_key(b.id);
        drop(
            state
                .booking
                .locks
                .lock_within(&key, booking::BOUNDED_WAIT)
                .await,
        );
        b = bookings::get(state.store.db(), b.id)
            .await?
            .ok_or_else(|| ApiError::NotFound("booking".into()))?;
    }
    Ok(respond(&b, loc, status_for(&b, true), true))
}

async fn book(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    req: HttpRequest,
    path: web::Path<String>,
    body: JsonBody<BookBody>,
) -> Result<HttpResponse, ApiError> {
    let partner = auth.0;
    let mut errors = Vec::new();
    let key = super::idempotency::required_key(&req, &mut errors);
    let trade = required(&body.trade, "trade", &mut errors);
    let condition = required(&body.condition, "condition", &mut errors);
    check_service(&state, &trade, &condition, &mut errors);
    let summary = required(&body.summary, "summary", &mut errors);
    if let Err(e) = limits::text("summary", &summary, limits::SUMMARY_MAX_CHARS) {
        errors.push(bound(e));
    }
    let slot = parse_slot(body.slot.as_ref(), &mut errors);
    let slot_errors = errors.iter().any(|e| e.field.starts_with("slot"));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let Some(key) = key else {
        return Err(ApiError::Internal("validated key missing".into()));
    };
    let loc = location(&state, partner.id, &path).await?;
    let new = NewBooking {
        partner_id: partner.id,
        location_id: loc.id,
        idempotency_key: key.as_str().to_owned(),
        trade,
        condition,
        summary,
        slot,
    };
    let db = state.store.db();
    if let Some(existing) = bookings::by_key(db, partner.id, key.as_str()).await? {
        if !new.same_request(&existing) {
            return Err(ApiError::field(
                "Idempotency-Key",
                "was already used with a different request",
            ));
        }
        return replay(&state, existing, &loc).await;
    }
    let integ = active_integration(&state, partner.id).await?;
    check_offered(&state, &partner, &integ, &new.trade, &new.condition).await?;
    if integ.capacity_enabled {
        if slot.is_none() && !slot_errors {
            return Err(ApiError::field(
                "slot",
                "is required: choose one of the open slots from availability",
            ));
        }
        if bookings::job_type_mapping(db, integ.id, &new.trade, &new.condition)
            .await?
            .is_none()
        {
            return Err(mapping_error(&new.trade, &new.condition));
        }
    }
    let txn = state.store.begin_write().await?;
    let (row, created) = bookings::insert_or_get(&txn, &new).await?;
    if created {
        booking::enqueue_task(&txn, integ.id, row.id, booking::deferred_ms()).await?;
    }
    txn.commit().await?;
    if !created {
        if !new.same_request(&row) {
            return Err(ApiError::field(
                "Idempotency-Key",
                "was already used with a different request",
            ));
        }
        return replay(&state, row, &loc).await;
    }
    tracing::info!(
        booking_id = row.id,
        partner_id = partner.id,
        "booking accepted"
    );
    match booking::submit(&state, row.id).await.map_err(upstream)? {
        Submitted::SlotTaken(b, alternatives) => Ok(slot_taken(&b, &loc, alternatives)),
        Submitted::Finished(b) if b.status == bookings::status::FAILED => {
            Ok(HttpResponse::BadGateway().json(json!({
                "error": {
                    "code": "booking_failed",
                    "message": b.last_error.clone().unwrap_or_else(|| "ServiceTitan refused the booking".into()),
                },
                "booking": booking_json(&b, &loc.external_id),
            })))
        }
        Submitted::Finished(b) | Submitted::Pending(b) => {
            Ok(respond(&b, &loc, status_for(&b, false), false))
        }
    }
}

async fn get_booking(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = path
        .trim()
        .parse()
        .map_err(|_| ApiError::field("booking_id", "must be a whole number"))?;
    let db = state.store.db();
    let b = bookings::of_partner(db, auth.0.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("booking {id}")))?;
    let loc = members::location(db, b.location_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("location".into()))?;
    Ok(respond(&b, &loc, StatusCode::OK, false))
}
