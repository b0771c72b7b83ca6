//! The platform API (`/api/v1/platform/…`): our side's events, authenticated with a bearer
//! token per partner (`partners.api_token_hash = sha256_hex(token)`).
//!
//! - `PUT  /members/{member id}`: upsert a member with contact details, service locations and
//!   plan; queues the ServiceTitan link (which queues tags, membership and credit writes).
//! - `POST /locations/{location id}/credits`: append a Comfort Credit ledger entry
//!   (`amount`, `reason`, `idempotency_key` or an `Idempotency-Key` header); a repeated key
//!   returns the first response.
//! - `POST /locations/{location id}/device-events`: `device_id` and `event` (`offline`,
//!   `online`, `battery_low`, `battery_ok`, `filter_due`, `filter_changed`).
//!
//! Every change and the task it causes commit in one transaction. Bad input: 422 naming the
//! field.
use crate::store::task_kind::TaskKind;
use crate::web::input::JsonBody;

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::idempotency::{HeaderKey, replay, respond};
use crate::crypto::sha256_hex;
use crate::domain::credits::CreditSource;
use crate::domain::ids::{Email, IdempotencyKey};
use crate::domain::reminders::{AlertAction, DeviceEvent, alert_action};
use crate::state::AppState;
use crate::store::idempotency::{self, StoredResponse};
use crate::store::members::{self, LocationInput, MemberInput, ServiceLocation};
use crate::store::platform::{self, Partner};
use crate::store::{devices, ledger, reminders};
use crate::web::error::{ApiError, FieldError};

/// Routes under `/api/v1/platform`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/platform")
            .configure(super::booking::configure)
            .route("/members/{member_id}", web::put().to(upsert_member))
            .route(
                "/locations/{location_id}/credits",
                web::post().to(append_credit),
            )
            .route(
                "/locations/{location_id}/device-events",
                web::post().to(device_event),
            ),
    );
}

/// The partner behind the request's bearer token.
pub struct PartnerAuth(pub Partner);

impl FromRequest for PartnerAuth {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req
            .headers()
            .get("Authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(ApiError::Unauthorized);
            };
            if token.is_empty() {
                return Err(ApiError::Unauthorized);
            }
            platform::partner_by_token_hash(state.store.db(), &sha256_hex(&token))
                .await?
                .map(PartnerAuth)
                .ok_or(ApiError::Unauthorized)
        })
    }
}

/// Collects field errors while reading a JSON object.
struct Fields<'a> {
    body: &'a Value,
    prefix: String,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(body: &'a Value, prefix: &str) -> Fields<'a> {
        Fields {
            body,
            prefix: prefix.to_owned(),
            errors: Vec::new(),
        }
    }

    fn err(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError {
            field: format!("{}{field}", self.prefix),
            message: message.to_owned(),
        });
    }

    /// A string field; `required` refuses absent or blank values.
    fn string(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.body.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.err(field, "is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    if required {
                        self.err(field, "must not be blank");
                    }
                    None
                } else if s.chars().count() > max {
                    self.err(field, &format!("must be at most {max} characters"));
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    /// A required integer field.
    fn integer(&mut self, field: &str) -> Option<i64> {
        match self.body.get(field) {
            None | Some(Value::Null) => {
                self.err(field, "is required");
                None
            }
            Some(v) => match v.as_i64() {
                Some(n) => Some(n),
                None => {
                    self.err(field, "must be a whole number");
                    None
                }
            },
        }
    }
}

fn path_id(field: &str, raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 100 {
        return Err(ApiError::field(field, "must be 1 to 100 characters"));
    }
    Ok(id.to_owned())
}

fn parse_member(
    state: &AppState,
    external_id: String,
    body: &Value,
) -> Result<MemberInput, ApiError> {
    if !body.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let mut f = Fields::new(body, "");
    let first_name = f.string("first_name", true, 100);
    let last_name = f.string("last_name", true, 100);
    let email = f.string("email", false, 254);
    if let Some(e) = &email
        && let Err(err) = Email::parse(e)
    {
        f.err("email", &err.to_string());
    }
    let phone = f.string("phone", false, 40);
    let plan_code = f.string("plan_code", false, 64);
    if let Some(code) = &plan_code
        && state.catalog.plan(code).is_none()
    {
        let known: Vec<&str> = state
            .catalog
            .plans()
            .iter()
            .map(|p| p.code.as_str())
            .collect();
        f.err(
            "plan_code",
            &format!("unknown plan '{code}' (known: {})", known.join(", ")),
        );
    }
    let mut locations = Vec::new();
    let mut errors = std::mem::take(&mut f.errors);
    match body.get("locations") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let mut lf = Fields::new(item, &format!("locations[{i}]."));
                if !item.is_object() {
                    lf.err("", "must be an object");
                }
                let loc = LocationInput {
                    external_id: lf.string("id", true, 100).unwrap_or_default(),
                    name: lf
                        .string("name", false, 100)
                        .unwrap_or_else(|| "Home".into()),
                    street: lf.string("street", true, 200).unwrap_or_default(),
                    unit: lf.string("unit", false, 50),
                    city: lf.string("city", true, 100).unwrap_or_default(),
                    state: lf.string("state", true, 50).unwrap_or_default(),
                    zip: lf.string("zip", true, 20).unwrap_or_default(),
                    country: lf
                        .string("country", false, 50)
                        .unwrap_or_else(|| "USA".into()),
                };
                errors.append(&mut lf.errors);
                locations.push(loc);
            }
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => errors.push(FieldError {
            field: "locations".into(),
            message: "at least one service location is required".into(),
        }),
        Some(_) => errors.push(FieldError {
            field: "locations".into(),
            message: "must be an array".into(),
        }),
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(MemberInput {
        external_id,
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        email,
        phone,
        plan_code,
        locations,
    })
}

fn sync_status(integration: Option<&platform::Integration>) -> &'static str {
    match integration {
        None => "no_integration",
        Some(i) if i.state == crate::domain::onboarding::IntegrationState::Active.as_str() => {
            "queued"
        }
        Some(_) => "waiting_for_activation",
    }
}

async fn upsert_member(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    path: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let external_id = path_id("member_id", &path)?;
    let input = parse_member(&state, external_id, &body)?;
    let partner = auth.0;
    let txn = state.store.begin_write().await?;
    let integration = crate::store::integrations::for_partner(&txn, partner.id).await?;
    let up = members::upsert(&txn, partner.id, &input).await?;
    if let Some(i) = &integration {
        TaskKind::LinkMember {
            member_id: up.member.id,
        }
        .enqueue(&txn, i.id)
        .await?;
    }
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(json!({
        "member_id": up.member.external_id,
        "id": up.member.id,
        "plan_code": up.member.plan_code,
        "membership_status": up.member.membership_status,
        "locations": up.locations.iter().map(|l| json!({"id": l.external_id, "location_id": l.id})).collect::<Vec<_>>(),
        "sync": sync_status(integration.as_ref()),
    })))
}

async fn location_of(
    state: &AppState,
    partner_id: i64,
    raw: &str,
) -> Result<ServiceLocation, ApiError> {
    let id = path_id("location_id", raw)?;
    members::location_by_external(state.store.db(), partner_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("location '{id}'")))
}

async fn append_credit(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    path: web::Path<String>,
    header_key: HeaderKey,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let partner = auth.0;
    let loc = location_of(&state, partner.id, &path).await?;
    let mut f = Fields::new(&body, "");
    let amount = f.integer("amount");
    if amount == Some(0) {
        f.err("amount", "must not be zero");
    }
    if amount.is_some_and(|a| a.abs() > 1_000_000) {
        f.err("amount", "must be between -1000000 and 1000000");
    }
    let reason = f.string("reason", true, 500);
    let key_text = f
        .string("idempotency_key", false, 200)
        .or(header_key.0.clone());
    let key = match key_text.as_deref().map(IdempotencyKey::parse) {
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
            f.err("idempotency_key", &e.to_string());
            None
        }
        None => {
            f.err(
                "idempotency_key",
                "is required (JSON field or Idempotency-Key header)",
            );
            None
        }
    };
    if !f.errors.is_empty() {
        return Err(ApiError::Validation(f.errors));
    }
    let (Some(amount), Some(reason), Some(key)) = (amount, reason, key) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let request_hash = sha256_hex(&format!("credit|{}|{amount}|{reason}", loc.id));
    let api_key = format!("credit:{}", key.as_str());
    let db = state.store.db();
    if let Some(first) = idempotency::stored(db, partner.id, &api_key).await? {
        return replay(first, &request_hash);
    }
    let txn = state.store.begin_write().await?;
    let (entry, _) = ledger::append(
        &txn,
        &ledger::NewEntry {
            partner_id: partner.id,
            location_id: loc.id,
            amount,
            reason,
            source_key: CreditSource::Platform(key).dedupe_key(),
        },
    )
    .await?;
    if let Some(i) = crate::store::integrations::for_partner(&txn, partner.id).await? {
        TaskKind::CreditBalance {
            location_id: loc.id,
        }
        .enqueue(&txn, i.id)
        .await?;
    }
    let balance = ledger::balance(&txn, loc.id).await?;
    let resp = StoredResponse {
        request_hash: request_hash.clone(),
        status: 201,
        body: json!({
            "entry_id": entry.id,
            "location_id": loc.external_id,
            "amount": entry.amount,
            "reason": entry.reason,
            "balance": balance,
        })
        .to_string(),
    };
    let saved = idempotency::save(&txn, partner.id, &api_key, &resp).await?;
    txn.commit().await?;
    if !saved {
        // A concurrent request with the same key won: answer with its response.
        if let Some(first) = idempotency::stored(db, partner.id, &api_key).await? {
            return replay(first, &request_hash);
        }
    }
    Ok(respond(&resp))
}

async fn device_event(
    state: web::Data<AppState>,
    auth: PartnerAuth,
    path: web::Path<String>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let partner = auth.0;
    let loc = location_of(&state, partner.id, &path).await?;
    let mut f = Fields::new(&body, "");
    let device_id = f.string("device_id", true, 100);
    let event_text = f.string("event", true, 40);
    let event = match event_text.as_deref().map(str::parse::<DeviceEvent>) {
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => {
            let known: Vec<&str> = DeviceEvent::ALL.iter().map(|e| e.as_str()).collect();
            f.err("event", &format!("must be one of {}", known.join(", ")));
            None
        }
        None => None,
    };
    if !f.errors.is_empty() {
        return Err(ApiError::Validation(f.errors));
    }
    let (Some(device_id), Some(event)) = (device_id, event) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let (alert, opens) = event.alert();
    let txn = state.store.begin_write().await?;
    devices::record(&txn, loc.id, &device_id, alert, opens).await?;
    let current = reminders::open_of(&txn, loc.id, alert).await?;
    let action = alert_action(event, current.is_some());
    match (action, current) {
        (AlertAction::Open(kind), _) => {
            reminders::open(&txn, loc.id, kind).await?;
            if let Some(i) = crate::store::integrations::for_partner(&txn, partner.id).await? {
                TaskKind::JobReminders {
                    location_id: loc.id,
                }
                .enqueue(&txn, i.id)
                .await?;
            }
        }
        (AlertAction::Resolve(_), Some(open)) => {
            reminders::resolve(&txn, open).await?;
        }
        _ => {}
    }
    let still_open = reminders::open_of(&txn, loc.id, alert).await?.is_some();
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(json!({
        "location_id": loc.external_id,
        "alert": alert.as_str(),
        "open": still_open,
        "changed": !matches!(action, AlertAction::Unchanged(_)),
    })))
}
