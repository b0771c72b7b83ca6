//! The internal approval console: the queue, every integration with its audit log, the mail
//! outbox, and the approve / reject / suspend / resume / resend actions (each audited).
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::sync_view::{self, SyncCard, SyncCell};
use super::{Layout, PageError, flash, render, require, see_other};
use crate::domain::onboarding::{Event, EventKind, IntegrationState};
use crate::services::onboarding as flows;
use crate::state::AppState;
use crate::store::users::Role;
use crate::store::{integrations, outbox, tasks};
use crate::web::ApiError;
use crate::web::api::onboarding::{EmailView, IntegrationView, view};
use crate::web::auth::SessionUser;
use crate::web::csrf::{CsrfForm, NoFields};

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ops", web::get().to(console))
        .route("/ops/integrations/{id}", web::get().to(detail))
        .route("/ops/integrations/{id}/approve", web::post().to(approve))
        .route("/ops/integrations/{id}/reject", web::post().to(reject))
        .route("/ops/integrations/{id}/suspend", web::post().to(suspend))
        .route("/ops/integrations/{id}/resume", web::post().to(resume))
        .route(
            "/ops/integrations/{id}/resend-setup-link",
            web::post().to(resend),
        )
        .route(
            "/ops/integrations/{id}/tasks/{task_id}/retry",
            web::post().to(retry_task),
        )
        .route("/ops/emails/{id}/retry", web::post().to(retry_email));
}

#[derive(Template)]
#[template(path = "ops/console.html")]
struct ConsolePage {
    layout: Layout,
    pending: Vec<IntegrationView>,
    all: Vec<ConsoleRow>,
    emails: Vec<EmailView>,
    /// Current sync alerts, shown first (disconnections at the top).
    alerts: Vec<crate::sync::health::Alert>,
}

/// One integration in the console list with its sync column.
struct ConsoleRow {
    i: IntegrationView,
    sync: SyncCell,
}

#[derive(Template)]
#[template(path = "ops/integration.html")]
struct DetailPage {
    layout: Layout,
    view: IntegrationView,
    emails: Vec<EmailView>,
    can_approve: bool,
    can_reject: bool,
    can_suspend: bool,
    can_resume: bool,
    can_resend: bool,
    sync: SyncCard,
}

fn ops(session: &Session, here: &str) -> Result<SessionUser, PageError> {
    require(session, Role::Ops, here)
}

async fn console(session: Session, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    ops(&session, "/ops")?;
    let mut pending = Vec::new();
    let mut all = Vec::new();
    let rows = integrations::list(state.store.db(), None)
        .await
        .map_err(ApiError::from)?;
    let mut cells = sync_view::cells(&state, &rows)
        .await
        .map_err(ApiError::from)?;
    for row in rows {
        let sync = cells.remove(&row.id).unwrap_or_default();
        let v = view(&state, row).await?;
        if v.state == IntegrationState::PendingApproval.as_str() {
            pending.push(v.clone());
        }
        all.push(ConsoleRow { i: v, sync });
    }
    let emails = outbox::recent(state.store.db(), 20)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(EmailView::from)
        .collect();
    let alerts = crate::sync::health::alerts(&state)
        .await
        .map_err(ApiError::from)?;
    Ok(render(
        StatusCode::OK,
        &ConsolePage {
            layout: Layout::new(&session),
            pending,
            all,
            emails,
            alerts,
        },
    ))
}

async fn detail(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    ops(&session, &format!("/ops/integrations/{id}"))?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let st = integrations::state_of(&row).map_err(ApiError::from)?;
    let allowed = crate::domain::onboarding::allowed_events(st);
    let emails = outbox::for_integration(state.store.db(), row.id)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(EmailView::from)
        .collect();
    let sync = SyncCard::load(&state, &row).await.map_err(ApiError::from)?;
    let v = view(&state, row).await?;
    Ok(render(
        StatusCode::OK,
        &DetailPage {
            layout: Layout::new(&session),
            view: v,
            emails,
            can_approve: allowed.contains(&EventKind::Approve),
            can_reject: allowed.contains(&EventKind::Reject),
            can_suspend: allowed.contains(&EventKind::Suspend),
            can_resume: allowed.contains(&EventKind::Resume),
            can_resend: st == IntegrationState::Approved,
            sync,
        },
    ))
}

fn back(session: &Session, id: i64, r: Result<(), ApiError>, ok: &str) -> HttpResponse {
    match r {
        Ok(()) => flash(session, true, ok),
        Err(ApiError::Validation(f)) => flash(
            session,
            false,
            f.iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(e) => flash(session, false, e.to_string()),
    }
    see_other(&format!("/ops/integrations/{id}"))
}

async fn approve(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let r = flows::approve(&state, &user.actor(), &row)
        .await
        .map_err(ApiError::from)
        .map(|_| ());
    Ok(back(
        &session,
        *id,
        r,
        "Approved; the partner's admins are being emailed a Continue Setup link.",
    ))
}

#[derive(Deserialize)]
struct ReasonForm {
    reason: String,
}

async fn reject(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    f: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let r = flows::reject(&state, &user.actor(), &row, &f.0.reason)
        .await
        .map_err(ApiError::from)
        .map(|_| ());
    Ok(back(
        &session,
        *id,
        r,
        "Rejected; the partner was told why.",
    ))
}

async fn suspend(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    f: CsrfForm<ReasonForm>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let r = flows::suspend(&state, &user.actor(), &row, &f.0.reason)
        .await
        .map_err(ApiError::from)
        .map(|_| ());
    Ok(back(&session, *id, r, "Suspended; sync is stopped."))
}

async fn resume(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let r = flows::simple(state.store.db(), &row, Event::Resume, &user.actor())
        .await
        .map_err(ApiError::from)
        .map(|_| ());
    Ok(back(&session, *id, r, "Resumed; sync runs again."))
}

async fn resend(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let row = integrations::get(state.store.db(), *id)
        .await
        .map_err(ApiError::from)?;
    let r = flows::resend_link(&state, &user.actor(), &row)
        .await
        .map_err(ApiError::from)
        .map(|_| ());
    Ok(back(
        &session,
        *id,
        r,
        "A new Continue Setup link is on its way.",
    ))
}

/// Path of the dead-task retry form.
#[derive(Deserialize)]
struct TaskPath {
    id: i64,
    task_id: i64,
}

/// The Sync card's Retry button: puts a dead task of this integration back in the queue.
async fn retry_task(
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<TaskPath>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let user = ops(&session, "/ops")?;
    let TaskPath { id, task_id } = path.into_inner();
    let db = state.store.db();
    let task = tasks::get(db, task_id)
        .await
        .map_err(ApiError::from)?
        .filter(|t| t.integration_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("task {task_id}")))?;
    let r = match tasks::retry_dead(db, task_id)
        .await
        .map_err(ApiError::from)?
    {
        true => {
            tracing::info!(task_id, integration_id = id, by = %user.email, "dead task retried");
            Ok(())
        }
        false => Err(ApiError::Conflict {
            message: format!("task {task_id} is {} and cannot be retried", task.state),
            allowed: vec![],
        }),
    };
    Ok(back(
        &session,
        id,
        r,
        &format!("Task {task_id} is queued again."),
    ))
}

async fn retry_email(
    session: Session,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _f: CsrfForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    ops(&session, "/ops")?;
    let r = outbox::retry_now(state.store.db(), *id).await;
    state.outbox.wake();
    match r {
        Ok(()) => flash(&session, true, "The email will be tried again now."),
        Err(e) => flash(&session, false, ApiError::from(e).to_string()),
    }
    Ok(see_other("/ops"))
}
