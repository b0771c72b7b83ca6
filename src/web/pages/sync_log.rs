//! The sync pages, for the partner admin (its own integration, under
//! `/settings/integrations/servicetitan/sync`) and ops (any, under `/ops/integrations/{id}/sync`):
//! the activity log with filters and paging, pause / resume / resync / replay, and the
//! per-homeowner page with its search box.
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Layout, PageError, flash, render, require, see_other};
use crate::services::homeowner::{self, HomeownerView, MemberHit};
use crate::services::sync_control::{self, ActivityView, SyncStatus};
use crate::state::AppState;
use crate::store::activity;
use crate::store::entities::integration;
use crate::store::integrations;
use crate::store::users::Role;
use crate::sync::poll::STREAMS;
use crate::web::ApiError;
use crate::web::api::sync::LogQuery;
use crate::web::auth::SessionUser;
use crate::web::csrf::{CsrfForm, NoFields};

const PARTNER: &str = "/settings/integrations/servicetitan/sync";
const PER_PAGE: u64 = 25;

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PARTNER, web::get().to(partner_log))
        .route(&format!("{PARTNER}/members"), web::get().to(partner_search))
        .route(
            &format!("{PARTNER}/members/{{member}}"),
            web::get().to(partner_member),
        )
        .route(
            &format!("{PARTNER}/{{action}}"),
            web::post().to(partner_action),
        )
        .route(
            &format!("{PARTNER}/replay/{{activity}}"),
            web::post().to(partner_replay),
        )
        .route("/ops/integrations/{id}/sync", web::get().to(ops_log))
        .route(
            "/ops/integrations/{id}/sync/members",
            web::get().to(ops_search),
        )
        .route(
            "/ops/integrations/{id}/sync/members/{member}",
            web::get().to(ops_member),
        )
        .route(
            "/ops/integrations/{id}/sync/{action}",
            web::post().to(ops_action),
        )
        .route(
            "/ops/integrations/{id}/sync/replay/{activity}",
            web::post().to(ops_replay),
        );
}

/// Whose page this is: the user, the integration, and the page's base path.
struct Target {
    user: SessionUser,
    row: integration::Model,
    base: String,
}

async fn partner_target(
    state: &AppState,
    session: &Session,
    here: &str,
) -> Result<Target, PageError> {
    let user = require(session, Role::PartnerAdmin, here)?;
    let partner_id = user
        .partner_id
        .ok_or_else(|| PageError::Forbidden("This user belongs to no partner.".into()))?;
    let row = crate::services::onboarding::partner_integration(state, partner_id).await?;
    Ok(Target {
        user,
        row,
        base: PARTNER.to_owned(),
    })
}

async fn ops_target(
    state: &AppState,
    session: &Session,
    id: i64,
    here: &str,
) -> Result<Target, PageError> {
    let user = require(session, Role::Ops, here)?;
    let row = integrations::get(state.store.db(), id)
        .await
        .map_err(ApiError::from)?;
    Ok(Target {
        user,
        row,
        base: format!("/ops/integrations/{id}/sync"),
    })
}

#[derive(Template)]
#[template(path = "sync/log.html")]
struct LogPage {
    layout: Layout,
    base: String,
    status: SyncStatus,
    rows: Vec<ActivityView>,
    total: u64,
    page: u64,
    pages: u64,
    filter_kind: String,
    filter_result: String,
    filter_member: String,
    /// The filters as a query string (for the paging links).
    query: String,
    streams: Vec<&'static str>,
    kinds: Vec<&'static str>,
}

const KINDS: [&str; 12] = [
    "customer",
    "location",
    "tag",
    "membership",
    "credit_balance",
    "reminder_note",
    "job",
    "booking",
    "reminders_queued",
    "credit_redemption",
    "membership_status",
    "location_edit",
];

async fn log_page(
    state: &AppState,
    session: &Session,
    t: Target,
    q: LogQuery,
) -> Result<HttpResponse, PageError> {
    let page_no = q.page.unwrap_or(1).max(1);
    let page = activity::list(state.store.db(), t.row.id, &q.filter(), page_no, PER_PAGE)
        .await
        .map_err(ApiError::from)?;
    let status = sync_control::status(state, &t.row).await?;
    let mut query = Vec::new();
    let kind = q.kind.clone().unwrap_or_default();
    let result = q.result.clone().unwrap_or_default();
    let member = q.member_id.map(|m| m.to_string()).unwrap_or_default();
    for (k, v) in [("kind", &kind), ("result", &result), ("member_id", &member)] {
        if !v.is_empty() {
            query.push(format!("{k}={v}"));
        }
    }
    Ok(render(
        StatusCode::OK,
        &LogPage {
            layout: Layout::new(session),
            base: t.base,
            status,
            rows: page.rows.into_iter().map(ActivityView::from).collect(),
            total: page.total,
            page: page.page,
            pages: page.total.div_ceil(PER_PAGE).max(1),
            filter_kind: kind,
            filter_result: result,
            filter_member: member,
            query: query.join("&"),
            streams: STREAMS.to_vec(),
            kinds: KINDS.to_vec(),
        },
    ))
}

#[derive(Template)]
#[template(path = "sync/member.html")]
struct MemberPage {
    layout: Layout,
    base: String,
    q: String,
    hits: Vec<MemberHit>,
    view: Option<HomeownerView>,
}

async fn member_page(
    state: &AppState,
    session: &Session,
    t: Target,
    q: Option<String>,
    member: Option<i64>,
) -> Result<HttpResponse, PageError> {
    let q = q.unwrap_or_default();
    let hits = homeowner::search(state, &t.row, &q).await?;
    let view = match member {
        Some(m) => Some(homeowner::view(state, &t.row, m).await?),
        None => None,
    };
    Ok(render(
        StatusCode::OK,
        &MemberPage {
            layout: Layout::new(session),
            base: t.base,
            q,
            hits,
            view,
        },
    ))
}

/// The resync form.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// For `resync`: the stream.
    pub stream: Option<String>,
}

async fn action(
    state: &AppState,
    session: &Session,
    t: Target,
    action: &str,
    form: ActionForm,
) -> Result<HttpResponse, PageError> {
    let actor = t.user.actor();
    let (r, ok) = match action {
        "pause" => (
            sync_control::pause(state, &actor, &t.row).await,
            "Sync paused: changes queue and nothing is written until you resume.".to_owned(),
        ),
        "resume" => (
            sync_control::resume(state, &actor, &t.row).await,
            "Sync resumed.".to_owned(),
        ),
        "resync" => {
            let stream = form.stream.unwrap_or_default();
            (
                sync_control::resync(state, &actor, &t.row, &stream).await,
                format!("Re-reading {stream} from the start."),
            )
        }
        other => return Err(ApiError::NotFound(format!("action {other}")).into()),
    };
    match r {
        Ok(()) => flash(session, true, ok),
        Err(e) => flash(session, false, ApiError::from(e).to_string()),
    }
    Ok(see_other(&t.base))
}

async fn replay(
    state: &AppState,
    session: &Session,
    t: Target,
    activity_id: i64,
) -> Result<HttpResponse, PageError> {
    match sync_control::replay(state, &t.user.actor(), &t.row, activity_id).await {
        Ok(task) => flash(
            session,
            true,
            format!("Replaying: task {task} is queued again."),
        ),
        Err(e) => flash(session, false, ApiError::from(e).to_string()),
    }
    Ok(see_other(&t.base))
}

/// The member search box.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Name, email or member ID.
    pub q: Option<String>,
}

async fn partner_log(
    session: Session,
    state: web::Data<AppState>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, PageError> {
    let t = partner_target(&state, &session, PARTNER).await?;
    log_page(&state, &session, t, q.into_inner()).await
}

async fn partner_search(
    session: Session,
    state: web::Data<AppState>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let t = partner_target(&state, &session, PARTNER).await?;
    member_page(&state, &session, t, q.into_inner().q, None).await
}

async fn partner_member(
    session: Session,
    state: web::Data<AppState>,
    member: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let t = partner_target(&state, &session, PARTNER).await?;
    member_page(&state, &session, t, None, Some(*member)).await
}

async fn partner_action(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<String>,
    f: CsrfForm<ActionForm>,
) -> Result<HttpResponse, PageError> {
    let t = partner_target(&state, &session, PARTNER).await?;
    action(&state, &session, t, &path, f.0).await
}

async fn partner_replay(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let t = partner_target(&state, &session, PARTNER).await?;
    replay(&state, &session, t, *path).await
}

async fn ops_log(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("/ops/integrations/{id}/sync");
    let t = ops_target(&state, &session, *id, &here).await?;
    log_page(&state, &session, t, q.into_inner()).await
}

async fn ops_search(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let here = format!("/ops/integrations/{id}/sync/members");
    let t = ops_target(&state, &session, *id, &here).await?;
    member_page(&state, &session, t, q.into_inner().q, None).await
}

async fn ops_member(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, PageError> {
    let (id, member) = path.into_inner();
    let here = format!("/ops/integrations/{id}/sync/members/{member}");
    let t = ops_target(&state, &session, id, &here).await?;
    member_page(&state, &session, t, None, Some(member)).await
}

async fn ops_action(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    f: CsrfForm<ActionForm>,
) -> Result<HttpResponse, PageError> {
    let (id, what) = path.into_inner();
    let t = ops_target(&state, &session, id, "/ops").await?;
    action(&state, &session, t, &what, f.0).await
}

async fn ops_replay(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let (id, activity) = path.into_inner();
    let t = ops_target(&state, &session, id, "/ops").await?;
    replay(&state, &session, t, activity).await
}
