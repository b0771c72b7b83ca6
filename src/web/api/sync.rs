//! Sync you can see and steer, as JSON under `/api/v1/integrations/{id}/sync`: status (last
//! write, last inbound page, pause, alerts), the activity log (paged, filtered by kind, member,
//! result and time), the per-homeowner view and its search, and the pause / resume / resync /
//! replay actions. A partner admin sees only its own integration (another's is a 404); ops see
//! any. Unsafe methods need `X-CSRF-Token`.
use actix_session::Session;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::services::sync_control::{self, ActivityView};
use crate::services::{Actor, homeowner};
use crate::state::AppState;
use crate::store::activity::{self, Filter};
use crate::store::entities::integration;
use crate::store::integrations;
use crate::store::users::Role;
use crate::web::ApiError;
use crate::web::auth::{self, SessionUser};

/// Routes under `/api/v1/integrations/{id}/sync` (register before the `/api/v1` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/integrations/{id}/sync")
            .wrap(from_fn(crate::web::csrf::require_header))
            .route("", web::get().to(status))
            .route("/activity", web::get().to(log))
            .route("/activity/{activity_id}/replay", web::post().to(replay))
            .route("/members", web::get().to(search))
            .route("/members/{member_id}", web::get().to(member))
            .route("/pause", web::post().to(pause))
            .route("/resume", web::post().to(resume))
            .route("/resync", web::post().to(resync)),
    );
}

/// The integration `id` if the signed-in user may see it: ops any, a partner admin its own
/// (another partner's answers 404, as if it did not exist).
pub async fn allowed(
    state: &AppState,
    user: &SessionUser,
    id: i64,
) -> Result<integration::Model, ApiError> {
    let row = integrations::find(state.store.db(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("integration {id}")))?;
    match user.role {
        Role::Ops => Ok(row),
        Role::PartnerAdmin if user.partner_id == Some(row.partner_id) => Ok(row),
        Role::PartnerAdmin => Err(ApiError::NotFound(format!("integration {id}"))),
    }
}

/// The acting user as the audit log records them.
pub fn actor(user: &SessionUser) -> Actor {
    Actor::user(user.role.as_str(), user.user_id, &user.email)
}

async fn signed_in(
    session: &Session,
    state: &AppState,
    id: i64,
) -> Result<(SessionUser, integration::Model), ApiError> {
    let user = auth::current_user(session).ok_or(ApiError::Unauthorized)?;
    let row = allowed(state, &user, id).await?;
    Ok((user, row))
}

/// Filters and paging of the log.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this member (our ID; an empty form field means any).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub member_id: Option<i64>,
    /// `ok`, `retry` or `failed`.
    pub result: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1-based page.
    pub page: Option<u64>,
    /// Rows per page (at most 500; default 50).
    pub per_page: Option<u64>,
}

/// An optional number from a query string where an empty value (an empty form field) is none.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl LogQuery {
    /// The store filter (empty strings mean "any").
    pub fn filter(&self) -> Filter {
        let some = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        Filter {
            kind: some(&self.kind),
            member_id: self.member_id,
            result: some(&self.result),
            from_ms: self.from.map(|t| t.timestamp_millis()),
            to_ms: self.to.map(|t| t.timestamp_millis()),
        }
    }
}

async fn status(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (_, row) = signed_in(&session, &state, *path).await?;
    Ok(HttpResponse::Ok().json(sync_control::status(&state, &row).await?))
}

async fn log(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, row) = signed_in(&session, &state, *path).await?;
    let page = activity::list(
        state.store.db(),
        row.id,
        &q.filter(),
        q.page.unwrap_or(1),
        q.per_page.unwrap_or(50),
    )
    .await?;
    let rows: Vec<ActivityView> = page.rows.into_iter().map(ActivityView::from).collect();
    Ok(HttpResponse::Ok().json(json!({
        "activity": rows,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    })))
}

/// The search box.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Name, email or member ID (or part of one).
    pub q: Option<String>,
}

async fn search(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, row) = signed_in(&session, &state, *path).await?;
    let hits = homeowner::search(&state, &row, q.q.as_deref().unwrap_or_default()).await?;
    Ok(HttpResponse::Ok().json(json!({ "members": hits })))
}

async fn member(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, member_id) = path.into_inner();
    let (_, row) = signed_in(&session, &state, id).await?;
    Ok(HttpResponse::Ok().json(homeowner::view(&state, &row, member_id).await?))
}

async fn pause(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (user, row) = signed_in(&session, &state, *path).await?;
    sync_control::pause(&state, &actor(&user), &row).await?;
    Ok(HttpResponse::Ok().json(json!({ "paused": true })))
}

async fn resume(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (user, row) = signed_in(&session, &state, *path).await?;
    sync_control::resume(&state, &actor(&user), &row).await?;
    Ok(HttpResponse::Ok().json(json!({ "paused": false })))
}

/// Which stream to re-read.
#[derive(Debug, Deserialize)]
pub struct ResyncBody {
    /// `jobs`, `appointments`, `invoices`, `memberships` or `locations`.
    pub stream: String,
}

async fn resync(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<ResyncBody>,
) -> Result<HttpResponse, ApiError> {
    let (user, row) = signed_in(&session, &state, *path).await?;
    sync_control::resync(&state, &actor(&user), &row, &body.stream).await?;
    Ok(HttpResponse::Accepted().json(json!({ "stream": body.stream, "queued": true })))
}

async fn replay(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, activity_id) = path.into_inner();
    let (user, row) = signed_in(&session, &state, id).await?;
    let task_id = sync_control::replay(&state, &actor(&user), &row, activity_id).await?;
    Ok(HttpResponse::Accepted().json(json!({ "task_id": task_id, "state": "pending" })))
}
